//! Discovery endpoints and the ones AWS does not serve (aws-scim.md §1.3, §4.3, §4.4).

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::ScimError;
use crate::model::{ENTERPRISE_URN, GROUP_URN, LIST_URN, USER_URN};
use crate::state::AppState;
use crate::switches::ListApi;

/// `GET /ServiceProviderConfig`: the captured body (`ServiceProviderConfig.json`, §4.3), with
/// `filter.maxResults` 100 under the cursor list API (inferred; the capture predates it).
pub async fn service_provider_config(State(state): State<AppState>) -> Response {
    let max_results = if state.world().switches.list_api == ListApi::Legacy { 50 } else { 100 };
    Json(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://docs.aws.amazon.com/singlesignon/latest/developerguide/what-is-scim.html",
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication scheme using the OAuth Bearer Token Standard",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "documentationUri": "https://docs.aws.amazon.com/singlesignon/latest/developerguide/provision-automatically.html",
            "primary": true
        }],
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": max_results},
        "patch": {"supported": true},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false}
    }))
    .into_response()
}

/// One attribute definition of `/Schemas`, with RFC 7643 §7's characteristics.
#[derive(Debug, Clone, Copy)]
struct Attr {
    name: &'static str,
    /// `string`, `boolean`, `complex` or `reference`.
    kind: &'static str,
    multi_valued: bool,
    required: bool,
    case_exact: bool,
    mutability: &'static str,
    uniqueness: &'static str,
    /// `referenceTypes`, for a `reference`.
    reference_types: &'static [&'static str],
    /// `canonicalValues`, where the RFC lists some.
    canonical_values: &'static [&'static str],
    sub_attributes: &'static [Attr],
}

impl Attr {
    const fn new(name: &'static str, kind: &'static str) -> Attr {
        Attr {
            name,
            kind,
            multi_valued: false,
            required: false,
            case_exact: false,
            mutability: "readWrite",
            uniqueness: "none",
            reference_types: &[],
            canonical_values: &[],
            sub_attributes: &[],
        }
    }

    const fn string(name: &'static str) -> Attr {
        Attr::new(name, "string")
    }

    const fn boolean(name: &'static str) -> Attr {
        Attr::new(name, "boolean")
    }

    const fn reference(name: &'static str, types: &'static [&'static str]) -> Attr {
        Attr { reference_types: types, ..Attr::new(name, "reference") }
    }

    const fn complex(name: &'static str, subs: &'static [Attr]) -> Attr {
        Attr { sub_attributes: subs, ..Attr::new(name, "complex") }
    }

    const fn multi(self) -> Attr {
        Attr { multi_valued: true, ..self }
    }

    const fn required(self) -> Attr {
        Attr { required: true, ..self }
    }

    const fn case_exact(self) -> Attr {
        Attr { case_exact: true, ..self }
    }

    const fn server_unique(self) -> Attr {
        Attr { uniqueness: "server", ..self }
    }

    const fn immutable(self) -> Attr {
        Attr { mutability: "immutable", ..self }
    }

    const fn canonical(self, values: &'static [&'static str]) -> Attr {
        Attr { canonical_values: values, ..self }
    }

    fn to_json(self) -> Value {
        let mut value = json!({
            "name": self.name, "type": self.kind, "multiValued": self.multi_valued, "required": self.required,
            "caseExact": self.case_exact, "mutability": self.mutability, "returned": "default",
            "uniqueness": self.uniqueness
        });
        if !self.reference_types.is_empty() {
            value["referenceTypes"] = json!(self.reference_types);
        }
        if !self.canonical_values.is_empty() {
            value["canonicalValues"] = json!(self.canonical_values);
        }
        if !self.sub_attributes.is_empty() {
            value["subAttributes"] = self.sub_attributes.iter().map(|a| a.to_json()).collect();
        }
        value
    }
}

// `required` marks what AWS refuses a user without, as validate.rs enforces it: "The givenName,
// familyName, userName, and displayName fields are required." (createuser.html, aws-scim.md §2.1).
const USER_ATTRIBUTES: &[Attr] = &[
    // getschema.html's example: required, caseExact false, uniqueness server (aws-scim.md §4.4).
    Attr::string("userName").required().server_unique(),
    Attr::complex(
        "name",
        &[
            Attr::string("formatted"),
            Attr::string("familyName").required(), // aws-scim.md §2.1
            Attr::string("givenName").required(),  // aws-scim.md §2.1
            Attr::string("middleName"),
            Attr::string("honorificPrefix"),
            Attr::string("honorificSuffix"),
        ],
    )
    .required(),
    Attr::string("displayName").required(), // aws-scim.md §2.1
    Attr::string("nickName"),
    Attr::reference("profileUrl", &["external"]),
    Attr::string("title"),
    Attr::string("userType"),
    Attr::string("preferredLanguage"),
    Attr::string("locale"),
    Attr::string("timezone"),
    Attr::boolean("active"),
    // One value, which must be primary; `display` is not supported (aws-scim.md §2.2, §2.4).
    Attr::complex(
        "emails",
        &[Attr::string("value").required(), Attr::string("type"), Attr::boolean("primary").required()],
    )
    .multi(),
    Attr::complex("phoneNumbers", &[Attr::string("value").required(), Attr::string("type")]).multi(),
    Attr::complex(
        "addresses",
        &[
            Attr::string("formatted"),
            Attr::string("streetAddress"),
            Attr::string("locality"),
            Attr::string("region"),
            Attr::string("postalCode"),
            Attr::string("country"),
            Attr::string("type"),
            Attr::boolean("primary"),
        ],
    )
    .multi(),
    // "only value, type, and primary are supported" (createuser.html, aws-scim.md §2.2).
    Attr::complex("roles", &[Attr::string("value"), Attr::string("type"), Attr::boolean("primary")]).multi(),
    Attr::string("externalId").case_exact().server_unique(),
];

// `members` sub-attributes as RFC 7643 §8.7.1 types them, without `display`, which AWS does not
// support (aws-scim.md §3.1). AWS publishes nothing about their types: inferred. `value` is
// required, as the mock refuses a member without one (store.rs; aws-scim.md §3.1).
const GROUP_ATTRIBUTES: &[Attr] = &[
    Attr::string("displayName").required().server_unique(), // creategroup.html, aws-scim.md §3.1, §3.5
    Attr::complex(
        "members",
        &[
            Attr::string("value").required().immutable(),
            Attr::reference("$ref", &["User", "Group"]).immutable(),
            Attr::string("type").immutable().canonical(&["User", "Group"]),
        ],
    )
    .multi(),
    Attr::string("externalId").case_exact().server_unique(),
];

const ENTERPRISE_ATTRIBUTES: &[Attr] = &[
    Attr::string("employeeNumber"),
    Attr::string("costCenter"),
    Attr::string("organization"),
    Attr::string("division"),
    Attr::string("department"),
    // `manager.value` must be at least one character; `displayName` is not supported (aws-scim.md §2.1,
    // §2.2). `$ref` typed as RFC 7643 §8.7.1 does, AWS being silent: inferred.
    Attr::complex("manager", &[Attr::string("value").required(), Attr::reference("$ref", &["User"])]),
];

fn schema(id: &str, name: &str, description: &str, attributes: &[Attr]) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": id,
        "name": name,
        "description": description,
        "attributes": attributes.iter().map(|a| a.to_json()).collect::<Vec<_>>(),
    })
}

fn schemas() -> [Value; 3] {
    [
        schema(USER_URN, "User", "User Account", USER_ATTRIBUTES),
        schema(GROUP_URN, "Group", "Group", GROUP_ATTRIBUTES),
        schema(ENTERPRISE_URN, "EnterpriseUser", "Enterprise User", ENTERPRISE_ATTRIBUTES),
    ]
}

/// `GET /Schemas` (listschemas.html, added 2024-02).
pub async fn schemas_list() -> Response {
    let resources = schemas();
    Json(json!({"totalResults": resources.len(), "itemsPerPage": resources.len(), "startIndex": 1, "schemas": [LIST_URN], "Resources": resources}))
        .into_response()
}

/// `GET /Schemas/{urn}` (getschema.html); 404 for an unknown URN.
pub async fn schemas_get(Path((_, urn)): Path<(String, String)>) -> Result<Response, ScimError> {
    schemas()
        .into_iter()
        .find(|s| s["id"] == urn.as_str())
        .map(|s| Json(s).into_response())
        .ok_or_else(ScimError::endpoint_not_found)
}

/// The two resource types of listresourcetypes.html (aws-scim.md §4.4), `meta.location` as AWS writes it.
fn resource_type_list(tenant: &str) -> [Value; 2] {
    let location = |name: &str| format!("https://scim.us-east-1.amazonaws.com/{tenant}/scim/v2/ResourceTypes/{name}");
    [
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User", "name": "User", "endpoint": "/Users", "description": "User Account",
            "schema": USER_URN,
            // AWS's example marks the extension required, though users without it are accepted
            // (aws-scim.md §2.2); copied as AWS publishes it.
            "schemaExtensions": [{"schema": ENTERPRISE_URN, "required": true}],
            "meta": {"resourceType": "ResourceType", "location": location("User")}
        }),
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "Group", "name": "Group", "endpoint": "/Groups", "description": "Group",
            "schema": GROUP_URN,
            "meta": {"resourceType": "ResourceType", "location": location("Group")}
        }),
    ]
}

/// `GET /ResourceTypes` (listresourcetypes.html): User with the enterprise extension, and Group.
pub async fn resource_types(Path(tenant): Path<String>) -> Response {
    let resources = resource_type_list(&tenant);
    Json(json!({"totalResults": 2, "itemsPerPage": 2, "startIndex": 1, "schemas": [LIST_URN], "Resources": resources}))
        .into_response()
}

/// `GET /ResourceTypes/{name}`: the one resource type, where the list's own `meta.location` points
/// (RFC 7644 §4; AWS documents only the list, aws-scim.md §4.4, so this route is inferred). An
/// unknown name gets the same 404 envelope as an unknown schema URN.
pub async fn resource_types_get(Path((tenant, name)): Path<(String, String)>) -> Result<Response, ScimError> {
    resource_type_list(&tenant)
        .into_iter()
        .find(|r| r["id"] == name.as_str())
        .map(|r| Json(r).into_response())
        .ok_or_else(ScimError::endpoint_not_found)
}

/// `/Me`, `/Bulk`, `/.search` and any other path: "Some SCIM protocol endpoints are not supported,
/// such as /Me, /Bulk, and /Search" (limitations.html); 404 inferred.
pub async fn not_supported() -> ScimError {
    ScimError::endpoint_not_found()
}
