//! What each entity has: its properties, which come back by default, which can be written, and how
//! each can be filtered (the include table in microsoft-graph.md §3.2).

/// How a filter operator may be used on a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Not supported at all.
    No,
    /// Works by default.
    Default,
    /// Needs `ConsistencyLevel: eventual` and `$count=true` (an advanced query).
    Advanced,
}

use Support::{Advanced as A, Default as D, No as X};

/// The JSON type a writable property takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string (or null).
    String,
    /// A boolean.
    Bool,
    /// A list of strings.
    Strings,
    /// An object.
    Object,
    /// Anything: set by the service, never written by clients.
    ReadOnly,
}

/// One property of an entity.
#[derive(Debug, Clone, Copy)]
pub struct Property {
    /// Its name.
    pub name: &'static str,
    /// Its JSON type when written.
    pub kind: Kind,
    /// Whether a GET without `$select` returns it.
    pub default: bool,
    /// `eq`, `in` (and, in advanced mode, `ne` and `not`).
    pub eq: Support,
    /// `startsWith`.
    pub starts_with: Support,
    /// `endsWith`.
    pub ends_with: Support,
    /// `ge`, `le`, `gt`, `lt`.
    pub range: Support,
    /// `eq null`.
    pub null: Support,
    /// `any(…)` on a multi-valued property.
    pub any: Support,
}

const fn p(
    name: &'static str,
    kind: Kind,
    default: bool,
    eq: Support,
    starts_with: Support,
    null: Support,
) -> Property {
    Property { name, kind, default, eq, starts_with, ends_with: X, range: X, null, any: X }
}

impl Property {
    /// What Graph shows for the property when it was never set: `[]` for lists, `null` otherwise.
    /// Objects are stored without their unset properties (about a third of the memory).
    pub fn absent(&self) -> serde_json::Value {
        if self.kind == Kind::Strings || matches!(self.name, "proxyAddresses" | "onPremisesProvisioningErrors") {
            serde_json::Value::Array(Vec::new())
        } else {
            serde_json::Value::Null
        }
    }
}

/// An entity: its name in messages and `@odata.type`, and its properties in output order.
#[derive(Debug)]
pub struct Entity {
    /// `User`, `Group`, … as Graph names the resource in messages.
    pub resource: &'static str,
    /// `#microsoft.graph.user`, …
    pub odata_type: &'static str,
    /// The entity set in `@odata.context` (`users`, `groups`, …).
    pub set: &'static str,
    /// Properties in the order Graph returns them.
    pub properties: &'static [Property],
}

impl Entity {
    /// A property by exact name, then case-insensitively (Graph property names are case-insensitive
    /// in queries).
    pub fn property(&self, name: &str) -> Option<&'static Property> {
        self.properties
            .iter()
            .find(|p| p.name == name)
            .or_else(|| self.properties.iter().find(|p| p.name.eq_ignore_ascii_case(name)))
    }

    /// Properties a GET returns without `$select`.
    pub fn defaults(&self) -> impl Iterator<Item = &'static Property> {
        self.properties.iter().filter(|p| p.default)
    }
}

use Kind::{Bool as B, Object as O, ReadOnly as R, String as S, Strings as L};

/// `user` (§2.1): defaults are `businessPhones, displayName, givenName, jobTitle, mail, mobilePhone,
/// officeLocation, preferredLanguage, surname, userPrincipalName, id`, in that order.
pub static USER: Entity = Entity {
    resource: "User",
    odata_type: "#microsoft.graph.user",
    set: "users",
    properties: &[
        Property { any: D, ..p("businessPhones", L, true, X, X, X) },
        p("displayName", S, true, D, D, A),
        p("givenName", S, true, D, D, A),
        p("jobTitle", S, true, D, D, A),
        Property { ends_with: A, ..p("mail", S, true, D, D, A) },
        p("mobilePhone", S, true, A, A, A),
        p("officeLocation", S, true, A, A, A),
        p("preferredLanguage", S, true, A, A, A),
        p("surname", S, true, D, D, A),
        Property { ends_with: A, range: D, ..p("userPrincipalName", S, true, D, D, X) },
        p("id", R, true, D, X, X),
        // Set while the user waits in deleted items: a directoryObject property, as on groups (§2.2);
        // for users inferred.
        p("deletedDateTime", R, false, X, X, X),
        p("accountEnabled", B, false, D, X, X),
        p("city", S, false, D, D, A),
        p("companyName", S, false, A, A, A),
        p("country", S, false, D, D, A),
        Property { range: A, ..p("createdDateTime", R, false, A, X, X) },
        p("department", S, false, D, D, A),
        p("employeeId", S, false, D, X, A),
        p("employeeType", S, false, A, X, X),
        p("faxNumber", S, false, A, A, A),
        p("mailNickname", S, false, D, D, A),
        p("onPremisesImmutableId", S, false, D, X, X),
        Property { any: D, ..p("otherMails", L, false, X, X, X) },
        p("postalCode", S, false, A, A, A),
        Property { any: D, ..p("proxyAddresses", R, false, X, X, X) },
        p("state", S, false, D, D, A),
        p("streetAddress", S, false, A, A, A),
        p("usageLocation", S, false, D, D, A),
        p("userType", S, false, D, X, A),
        p("passwordProfile", O, false, X, X, X),
    ],
};

/// `group` (§2.2): every listed property comes back by default.
pub static GROUP: Entity = Entity {
    resource: "Group",
    odata_type: "#microsoft.graph.group",
    set: "groups",
    properties: &[
        p("id", R, true, D, X, X),
        p("deletedDateTime", R, true, X, X, X),
        p("classification", S, true, D, D, X),
        Property { range: A, ..p("createdDateTime", R, true, A, X, X) },
        p("description", S, true, A, A, X),
        p("displayName", S, true, D, D, A),
        p("expirationDateTime", R, true, A, X, X),
        Property { any: D, ..p("groupTypes", L, true, X, X, X) },
        p("isAssignableToRole", B, true, X, X, X),
        p("mail", S, true, D, D, A),
        p("mailEnabled", B, true, D, X, X),
        p("mailNickname", S, true, D, D, A),
        p("membershipRule", S, true, D, D, X),
        p("membershipRuleProcessingState", S, true, X, X, X),
        p("onPremisesDomainName", R, true, X, X, X),
        Property { range: D, ..p("onPremisesLastSyncDateTime", R, true, D, X, X) },
        p("onPremisesNetBiosName", R, true, X, X, X),
        p("onPremisesSamAccountName", R, true, X, X, X),
        p("onPremisesSecurityIdentifier", R, true, X, X, X),
        p("onPremisesSyncEnabled", R, true, D, X, A),
        p("preferredDataLocation", S, true, X, X, X),
        p("preferredLanguage", S, true, A, A, A),
        Property { any: D, ..p("proxyAddresses", R, true, X, X, X) },
        Property { range: D, ..p("renewedDateTime", R, true, D, X, X) },
        p("resourceBehaviorOptions", L, true, X, X, X),
        p("resourceProvisioningOptions", L, true, X, X, X),
        p("securityEnabled", B, true, D, X, X),
        p("securityIdentifier", R, true, X, X, X),
        p("theme", S, true, X, X, X),
        p("visibility", S, true, X, X, X),
        p("onPremisesProvisioningErrors", R, true, X, X, X),
    ],
};

/// `servicePrincipal` (§2.4, §2.5): returned whole.
pub static SERVICE_PRINCIPAL: Entity = Entity {
    resource: "ServicePrincipal",
    odata_type: "#microsoft.graph.servicePrincipal",
    set: "servicePrincipals",
    properties: &[
        p("id", R, true, D, X, X),
        p("deletedDateTime", R, true, X, X, X),
        p("accountEnabled", B, true, D, X, X),
        p("alternativeNames", R, true, X, X, X),
        p("appDisplayName", R, true, X, X, X),
        p("appDescription", R, true, X, X, X),
        p("appId", R, true, D, X, X),
        p("applicationTemplateId", R, true, D, X, X),
        p("appOwnerOrganizationId", R, true, A, X, X),
        p("appRoleAssignmentRequired", B, true, A, X, X),
        p("description", S, true, A, A, X),
        p("displayName", S, true, D, D, A),
        p("homepage", S, true, X, X, X),
        p("loginUrl", S, true, X, X, X),
        p("logoutUrl", S, true, X, X, X),
        p("notes", S, true, X, X, X),
        p("notificationEmailAddresses", L, true, X, X, X),
        p("preferredSingleSignOnMode", S, true, X, X, X),
        p("replyUrls", L, true, X, X, X),
        p("servicePrincipalNames", R, true, X, X, X),
        p("servicePrincipalType", R, true, X, X, X),
        p("tags", L, true, X, X, X),
        p("appRoles", R, true, X, X, X),
        p("oauth2PermissionScopes", R, true, X, X, X),
        p("keyCredentials", R, true, X, X, X),
        p("passwordCredentials", R, true, X, X, X),
    ],
};

/// `application` (§2.5): returned whole.
pub static APPLICATION: Entity = Entity {
    resource: "Application",
    odata_type: "#microsoft.graph.application",
    set: "applications",
    properties: &[
        p("id", R, true, D, X, X),
        p("deletedDateTime", R, true, X, X, X),
        p("appId", R, true, D, X, X),
        p("applicationTemplateId", R, true, D, X, X),
        Property { range: D, ..p("createdDateTime", R, true, D, X, X) },
        p("description", S, true, A, X, X),
        p("displayName", S, true, D, D, X),
        p("groupMembershipClaims", S, true, X, X, X),
        p("identifierUris", L, true, X, X, X),
        p("isFallbackPublicClient", B, true, X, X, X),
        p("publisherDomain", R, true, D, D, X),
        p("signInAudience", S, true, D, X, X),
        p("tags", L, true, X, X, X),
        p("api", R, true, X, X, X),
        p("appRoles", R, true, X, X, X),
        p("info", R, true, X, X, X),
        p("keyCredentials", R, true, X, X, X),
        p("passwordCredentials", R, true, X, X, X),
        p("publicClient", R, true, X, X, X),
        p("requiredResourceAccess", R, true, X, X, X),
        p("web", R, true, X, X, X),
    ],
};

/// `applicationTemplate` (§2.5).
pub static APPLICATION_TEMPLATE: Entity = Entity {
    resource: "ApplicationTemplate",
    odata_type: "#microsoft.graph.applicationTemplate",
    set: "applicationTemplates",
    properties: &[
        p("id", R, true, D, X, X),
        Property { any: D, ..p("categories", R, true, X, X, X) },
        p("description", R, true, X, X, X),
        p("displayName", R, true, D, D, X),
        p("homePageUrl", R, true, X, X, X),
        p("logoUrl", R, true, X, X, X),
        p("publisher", R, true, D, X, X),
        p("supportedProvisioningTypes", R, true, X, X, X),
        p("supportedSingleSignOnModes", R, true, X, X, X),
    ],
};

/// `appRoleAssignment` (§2.4).
pub static APP_ROLE_ASSIGNMENT: Entity = Entity {
    resource: "AppRoleAssignment",
    odata_type: "#microsoft.graph.appRoleAssignment",
    set: "appRoleAssignments",
    properties: &[
        p("id", R, true, D, X, X),
        p("deletedDateTime", R, true, X, X, X),
        p("appRoleId", R, true, D, X, X),
        p("createdDateTime", R, true, X, X, X),
        p("principalDisplayName", R, true, X, X, X),
        p("principalId", R, true, D, X, X),
        p("principalType", R, true, D, X, X),
        p("resourceDisplayName", R, true, X, X, X),
        p("resourceId", R, true, D, X, X),
    ],
};

/// `provisioningObjectSummary` (entra-provisioning.md §6.1): filterable on its ids, action, time and
/// the nested identity and status fields the portal filters on.
pub static PROVISIONING_OBJECT_SUMMARY: Entity = Entity {
    resource: "ProvisioningObjectSummary",
    odata_type: "#microsoft.graph.provisioningObjectSummary",
    set: "auditLogs/provisioning",
    properties: &[
        p("id", R, true, D, X, X),
        Property { range: D, ..p("activityDateTime", R, true, D, X, X) },
        p("tenantId", R, true, D, X, X),
        p("jobId", R, true, D, X, X),
        p("cycleId", R, true, D, X, X),
        p("changeId", R, true, D, X, X),
        p("provisioningAction", R, true, D, X, X),
        p("durationInMilliseconds", R, true, X, X, X),
        p("sourceSystem", R, true, X, X, X),
        p("targetSystem", R, true, X, X, X),
        p("initiatedBy", R, true, X, X, X),
        p("servicePrincipal", R, true, X, X, X),
        p("sourceIdentity", R, true, X, X, X),
        p("targetIdentity", R, true, X, X, X),
        p("provisioningStatusInfo", R, true, X, X, X),
        p("provisioningSteps", R, true, X, X, X),
        p("modifiedProperties", R, true, X, X, X),
        p("sourceIdentity/id", R, false, D, X, X),
        p("sourceIdentity/displayName", R, false, D, D, X),
        p("sourceIdentity/identityType", R, false, D, X, X),
        p("targetIdentity/id", R, false, D, X, X),
        p("targetIdentity/displayName", R, false, D, D, X),
        p("servicePrincipal/id", R, false, D, X, X),
        p("provisioningStatusInfo/status", R, false, D, X, X),
        p("provisioningStatusInfo/errorInformation/errorCode", R, false, D, X, X),
    ],
};

/// A type a request body's `@odata.type` may name, and the type it derives from, as Graph's v1.0
/// metadata declares them (the SDKs' models mirror the hierarchy: `User(DirectoryObject(Entity))`).
#[derive(Debug)]
pub struct ODataType {
    /// `microsoft.graph.user`, without the `#`.
    pub name: &'static str,
    /// The type it derives from.
    pub base: Option<&'static str>,
    /// Served by the directory, whose messages name types `Microsoft.DirectoryServices.User`.
    pub directory: bool,
}

const fn t(name: &'static str, base: Option<&'static str>, directory: bool) -> ODataType {
    ODataType { name, base, directory }
}

const ENTITY: Option<&str> = Some("microsoft.graph.entity");
const DIRECTORY_OBJECT: Option<&str> = Some("microsoft.graph.directoryObject");

/// Every type the mock knows by name: what its routes take, and their bases.
pub static ODATA_TYPES: &[ODataType] = &[
    t("microsoft.graph.entity", None, false),
    t("microsoft.graph.directoryObject", ENTITY, true),
    t("microsoft.graph.user", DIRECTORY_OBJECT, true),
    t("microsoft.graph.group", DIRECTORY_OBJECT, true),
    t("microsoft.graph.servicePrincipal", DIRECTORY_OBJECT, true),
    t("microsoft.graph.application", DIRECTORY_OBJECT, true),
    t("microsoft.graph.appRoleAssignment", DIRECTORY_OBJECT, true),
    t("microsoft.graph.passwordProfile", None, true),
    t("microsoft.graph.synchronizationJob", ENTITY, false),
    t("microsoft.graph.synchronizationSchema", ENTITY, false),
    t("microsoft.graph.synchronizationSchedule", None, false),
    t("microsoft.graph.synchronizationSecretKeyStringValuePair", None, false),
    t("microsoft.graph.synchronizationJobRestartCriteria", None, false),
    t("microsoft.graph.synchronizationJobApplicationParameters", None, false),
    t("microsoft.graph.synchronizationJobSubject", None, false),
    t("microsoft.graph.synchronizationLinkedObjects", None, false),
];

impl ODataType {
    /// A type by name, with or without the `#` (case-insensitive, inferred).
    pub fn named(name: &str) -> Option<&'static ODataType> {
        let name = name.strip_prefix('#').unwrap_or(name);
        ODATA_TYPES.iter().find(|t| t.name.eq_ignore_ascii_case(name))
    }

    /// Whether a value of this type may stand where `expected` is wanted: the same type, or one
    /// derived from it.
    pub fn is_assignable_to(&self, expected: &ODataType) -> bool {
        let mut current = Some(self);
        while let Some(ty) = current {
            if std::ptr::eq(ty, expected) {
                return true;
            }
            current = ty.base.and_then(ODataType::named);
        }
        false
    }

    /// The name messages use: `Microsoft.DirectoryServices.User` for directory types (as Entra's
    /// directory words its errors), `microsoft.graph.synchronizationJob` otherwise.
    pub fn message_name(&self) -> String {
        match self.name.strip_prefix("microsoft.graph.") {
            Some(rest) if self.directory => {
                let mut chars = rest.chars();
                let first = chars.next().map(|c| c.to_ascii_uppercase().to_string()).unwrap_or_default();
                format!("Microsoft.DirectoryServices.{first}{}", chars.as_str())
            }
            _ => self.name.to_owned(),
        }
    }
}

/// An unknown name as the directory quotes it: `#microsoft.graph.pwd` → `Microsoft.DirectoryServices.pwd`
/// (the namespace mapped, the rest as sent, msgraph-beta-sdk-dotnet#87); another namespace stays.
pub fn directory_name(name: &str) -> String {
    let name = name.strip_prefix('#').unwrap_or(name);
    match name.strip_prefix("microsoft.graph.") {
        Some(rest) => format!("Microsoft.DirectoryServices.{rest}"),
        None => name.to_owned(),
    }
}

/// What a written object is, for the annotations it may carry: the type its `@odata.type` must
/// name (or derive from), and the shapes of its nested complex values (for arrays, of each item).
/// Actions' parameter objects have no type (`odata_type: None`).
#[derive(Debug)]
pub struct BodyShape {
    /// The expected type's name.
    pub odata_type: Option<&'static str>,
    /// Nested complex properties and their shapes.
    pub nested: &'static [(&'static str, &'static BodyShape)],
}

const fn shape(odata_type: &'static str) -> BodyShape {
    BodyShape { odata_type: Some(odata_type), nested: &[] }
}

/// `POST`/`PATCH /users` (§2.1).
pub static USER_BODY: BodyShape =
    BodyShape { odata_type: Some("microsoft.graph.user"), nested: &[("passwordProfile", &PASSWORD_PROFILE_BODY)] };
static PASSWORD_PROFILE_BODY: BodyShape = shape("microsoft.graph.passwordProfile");
/// `POST`/`PATCH /groups` (§2.2).
pub static GROUP_BODY: BodyShape = shape("microsoft.graph.group");
/// `POST /servicePrincipals/{id}/appRoleAssignedTo` (§2.4).
pub static APP_ROLE_ASSIGNMENT_BODY: BodyShape = shape("microsoft.graph.appRoleAssignment");
/// Action parameters with nothing typed inside: `instantiate` (§2.5), `$ref` (§2.3), `start`.
pub static UNTYPED_BODY: BodyShape = BodyShape { odata_type: None, nested: &[] };
/// `POST …/synchronization/jobs` (entra-provisioning.md §7).
pub static SYNCHRONIZATION_JOB_BODY: BodyShape = BodyShape {
    odata_type: Some("microsoft.graph.synchronizationJob"),
    nested: &[("schedule", &SYNCHRONIZATION_SCHEDULE_BODY)],
};
static SYNCHRONIZATION_SCHEDULE_BODY: BodyShape = shape("microsoft.graph.synchronizationSchedule");
/// `PUT …/jobs/{jobId}/schema` (entra-provisioning.md §3.3); nested values are kept as sent.
pub static SYNCHRONIZATION_SCHEMA_BODY: BodyShape = shape("microsoft.graph.synchronizationSchema");
static SECRET_PAIR_BODY: BodyShape = shape("microsoft.graph.synchronizationSecretKeyStringValuePair");
/// `PUT …/synchronization/secrets` `{"value": [pairs]}` (entra-provisioning.md §7.4).
pub static SECRETS_BODY: BodyShape = BodyShape { odata_type: None, nested: &[("value", &SECRET_PAIR_BODY)] };
/// `POST …/validateCredentials` (entra-provisioning.md §4.5).
pub static VALIDATE_CREDENTIALS_BODY: BodyShape =
    BodyShape { odata_type: None, nested: &[("credentials", &SECRET_PAIR_BODY)] };
/// `POST …/restart` `{"criteria": {"resetScope"}}` (entra-provisioning.md §7.3).
pub static RESTART_BODY: BodyShape = BodyShape { odata_type: None, nested: &[("criteria", &RESTART_CRITERIA_BODY)] };
static RESTART_CRITERIA_BODY: BodyShape = shape("microsoft.graph.synchronizationJobRestartCriteria");
/// `POST …/provisionOnDemand` `{"parameters": [{"ruleId", "subjects": [{"objectId",
/// "objectTypeName", "links"}]}]}` (entra-provisioning.md §7.5).
pub static PROVISION_ON_DEMAND_BODY: BodyShape =
    BodyShape { odata_type: None, nested: &[("parameters", &APPLICATION_PARAMETERS_BODY)] };
static APPLICATION_PARAMETERS_BODY: BodyShape = BodyShape {
    odata_type: Some("microsoft.graph.synchronizationJobApplicationParameters"),
    nested: &[("subjects", &SUBJECT_BODY)],
};
static SUBJECT_BODY: BodyShape =
    BodyShape { odata_type: Some("microsoft.graph.synchronizationJobSubject"), nested: &[("links", &LINKS_BODY)] };
static LINKS_BODY: BodyShape = BodyShape {
    odata_type: Some("microsoft.graph.synchronizationLinkedObjects"),
    nested: &[("manager", &SUBJECT_BODY), ("members", &SUBJECT_BODY), ("owners", &SUBJECT_BODY)],
};
