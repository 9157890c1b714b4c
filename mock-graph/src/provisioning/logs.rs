//! Provisioning logs: one `provisioningObjectSummary` per object per cycle, in the v1.0 shape
//! (entra-provisioning.md §6).

use std::borrow::Cow;

use jiff::Timestamp;
use serde_json::{Value, json};

/// `Azure Active Directory`, the source system's display name (§6.1).
pub const SOURCE_SYSTEM: &str = "Azure Active Directory";

/// Writes the enums below as Graph spells them.
macro_rules! spelled {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// As Graph writes it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

spelled! {
    /// `provisioningAction` (§6.1).
    Action {
        /// An object created in the target.
        Create => "create",
        /// Attributes or references changed in the target.
        Update => "update",
        /// Deleted in the target.
        Delete => "delete",
        /// A deletion held back by the accidental-deletion threshold (§5.3).
        StagedDelete => "stagedDelete",
        /// A user disabled in the target (soft deprovisioning, §4.4).
        Disable => "disable",
        /// Nothing exported: a skip, or a failure before any export.
        Other => "other",
    }
}

spelled! {
    /// `provisioningStatusInfo.status`, and a step's status (§6.1).
    Status {
        /// Done.
        Success => "success",
        /// Done with a warning.
        Warning => "warning",
        /// Failed.
        Failure => "failure",
        /// Nothing to do.
        Skipped => "skipped",
    }
}

spelled! {
    /// `identityType`: what kind of object an entry is about.
    Identity {
        /// A user.
        User => "User",
        /// A group.
        Group => "Group",
    }
}

spelled! {
    /// `provisioningStepType` (§6.1).
    StepKind {
        /// Reading the change from Entra.
        Import => "import",
        /// Evaluating assignments and scoping filters.
        Scoping => "scoping",
        /// Looking for the object in the target.
        Matching => "matching",
        /// Evaluating mappings.
        Processing => "processing",
        /// Resolving references: members, managers.
        ReferenceResolution => "referenceResolution",
        /// Writing to the target.
        Export => "export",
    }
}

spelled! {
    /// `errorCategory` (§6.1).
    Category {
        /// A transient failure: retried.
        Failure => "failure",
        /// The target refused the data, or the source cannot be exported as it is.
        NonServiceFailure => "nonServiceFailure",
        /// Not an error: a skip reason such as `RedundantExport`.
        Success => "success",
    }
}

/// One provisioning step (§6.1). A large cycle keeps one entry per object with four or five
/// steps each, so the constant parts are borrowed, not copied.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// `EntryImportAdd`, `EntrySynchronizationScoping`, …
    pub name: Cow<'static, str>,
    /// What part of the cycle it was.
    pub kind: StepKind,
    /// How it went.
    pub status: Status,
    /// The sentence the portal shows.
    pub description: Cow<'static, str>,
    /// `details.SkipReason`, the only detail the engine writes: `RedundantExport`.
    pub skip_reason: Option<&'static str>,
}

impl Step {
    /// A step without details.
    pub fn new(
        name: impl Into<Cow<'static, str>>,
        kind: StepKind,
        status: Status,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Step { name: name.into(), kind, status, description: description.into(), skip_reason: None }
    }

    /// The step's `details`.
    pub fn details(&self) -> Value {
        match self.skip_reason {
            Some(reason) => json!({ "SkipReason": reason }),
            None => json!({}),
        }
    }
}

/// An error on a log entry (§6.1, `provisioningErrorInfo`).
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Entra's error code, such as `SystemForCrossDomainIdentityManagementBadRequest`.
    pub code: String,
    /// The reason, quoting the target's status and body.
    pub reason: String,
    /// Transient, refused, or no error at all.
    pub category: Category,
}

/// What a cycle records about one object, before ids are given out.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// What was done.
    pub action: Action,
    /// How it went.
    pub status: Status,
    /// A user or a group.
    pub identity_type: Identity,
    /// The Entra object id.
    pub source_id: String,
    /// Its display name (UPN for users).
    pub source_name: String,
    /// The target id, when known.
    pub target_id: String,
    /// The target's display name.
    pub target_name: String,
    /// The steps.
    pub steps: Vec<Step>,
    /// The error, or a skip reason.
    pub error: Option<Failure>,
    /// `{displayName, oldValue, newValue}` of the source attributes.
    pub modified: Vec<(String, Option<String>, Option<String>)>,
}

/// Where entries belong: what every entry of one cycle shares.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// The tenant id.
    pub tenant_id: String,
    /// The job id.
    pub job_id: String,
    /// The cycle id.
    pub cycle_id: String,
    /// The service principal's id and name.
    pub service_principal: (String, String),
    /// The application's id.
    pub application_id: String,
    /// When.
    pub at: Timestamp,
    /// Who: the provisioning service, or a user for on-demand.
    pub initiated_by: Value,
}

/// A recorded log entry: typed, and written out as JSON only when read, since a large cycle
/// records one per object and JSON values cost several times their fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The entry's id.
    pub id: String,
    /// Its `changeId`.
    pub change_id: String,
    /// What it shares with its cycle's other entries.
    pub context: std::sync::Arc<Context>,
    /// The object's part.
    pub draft: Draft,
}

impl Entry {
    /// When it was recorded.
    pub fn at(&self) -> Timestamp {
        self.context.at
    }

    /// The `provisioningObjectSummary` JSON (§6.1, §6.2).
    pub fn to_json(&self) -> Value {
        self.draft.to_json(&self.context, &self.id, &self.change_id)
    }
}

impl Draft {
    /// The `provisioningObjectSummary` JSON (§6.1, §6.2).
    pub fn to_json(&self, ctx: &Context, id: &str, change_id: &str) -> Value {
        let (sp_id, sp_name) = (&ctx.service_principal.0, &ctx.service_principal.1);
        let error = self.error.as_ref().map(|e| {
            json!({"errorCode": e.code, "reason": e.reason, "additionalDetails": null, "errorCategory": e.category.as_str(), "recommendedAction": null})
        });
        json!({
            "id": id,
            "activityDateTime": ctx.at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "tenantId": ctx.tenant_id,
            "jobId": ctx.job_id,
            "cycleId": ctx.cycle_id,
            "changeId": change_id,
            "provisioningAction": self.action.as_str(),
            "durationInMilliseconds": 0,
            "sourceSystem": {"id": "", "displayName": SOURCE_SYSTEM, "details": {}},
            "targetSystem": {"id": "", "displayName": sp_name, "details": {"ApplicationId": ctx.application_id, "ServicePrincipalId": sp_id, "ServicePrincipalDisplayName": sp_name}},
            "initiatedBy": ctx.initiated_by,
            "servicePrincipal": {"id": sp_id, "displayName": sp_name},
            "sourceIdentity": {"id": self.source_id, "displayName": self.source_name, "identityType": self.identity_type.as_str(), "details": {}},
            "targetIdentity": {"id": self.target_id, "displayName": self.target_name, "identityType": self.identity_type.as_str(), "details": {}},
            "provisioningStatusInfo": {"status": self.status.as_str(), "errorInformation": error},
            "provisioningSteps": self.steps.iter().map(|s| json!({
                "name": s.name, "provisioningStepType": s.kind.as_str(), "status": s.status.as_str(), "description": s.description, "details": s.details()
            })).collect::<Vec<_>>(),
            "modifiedProperties": self.modified.iter().map(|(name, old, new)| json!({
                "displayName": name, "oldValue": old, "newValue": new
            })).collect::<Vec<_>>(),
        })
    }
}

/// The system initiator of scheduled cycles (§6.1).
pub fn service_initiator() -> Value {
    json!({"id": "", "displayName": "Azure AD Provisioning Service", "initiatorType": "system"})
}

/// Entra's error code for a target's answer (§6.3): 400 bad request, 409 entry conflict, 429,
/// 5xx, and transport failures.
pub fn error_code(status: Option<u16>) -> (&'static str, Category) {
    match status {
        Some(400) => ("SystemForCrossDomainIdentityManagementBadRequest", Category::NonServiceFailure),
        Some(401) => ("SystemForCrossDomainIdentityManagementUnauthorized", Category::NonServiceFailure),
        Some(403) => ("SystemForCrossDomainIdentityManagementForbidden", Category::NonServiceFailure),
        Some(404) => ("InvalidAnchor", Category::NonServiceFailure),
        Some(409) => ("SystemForCrossDomainIdentityManagementEntryConflict", Category::NonServiceFailure),
        Some(429) => ("TooManyRequests", Category::Failure),
        Some(500) => ("InternalServerError", Category::Failure),
        Some(500..=599) => ("WebExceptionProtocolError", Category::Failure),
        Some(_) => ("SystemForCrossDomainIdentityManagementServiceIncompatible", Category::Failure),
        None => ("Timeout", Category::Failure),
    }
}
