//! Provisioning logs: one `provisioningObjectSummary` per object per cycle, in the v1.0 shape
//! (entra-provisioning.md §6).

use jiff::Timestamp;
use serde_json::{Value, json};

/// `Azure Active Directory`, the source system's display name (§6.1).
pub const SOURCE_SYSTEM: &str = "Azure Active Directory";

/// One provisioning step (§6.1).
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// `EntryImportAdd`, `EntrySynchronizationScoping`, …
    pub name: String,
    /// `import`, `scoping`, `matching`, `processing`, `referenceResolution`, `export`.
    pub kind: &'static str,
    /// `success`, `warning`, `failure`, `skipped`.
    pub status: &'static str,
    /// The sentence the portal shows.
    pub description: String,
    /// Extra details.
    pub details: Value,
}

impl Step {
    /// A step without details.
    pub fn new(
        name: impl Into<String>,
        kind: &'static str,
        status: &'static str,
        description: impl Into<String>,
    ) -> Self {
        Step { name: name.into(), kind, status, description: description.into(), details: json!({}) }
    }
}

/// An error on a log entry (§6.1, `provisioningErrorInfo`).
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Entra's error code, such as `SystemForCrossDomainIdentityManagementBadRequest`.
    pub code: String,
    /// The reason, quoting the target's status and body.
    pub reason: String,
    /// `failure` (transient) or `nonServiceFailure` (the target refused the data).
    pub category: &'static str,
}

/// What a cycle records about one object, before ids are given out.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// `create`, `update`, `delete`, `stagedDelete`, `disable`, `other`.
    pub action: &'static str,
    /// `success`, `warning`, `failure`, `skipped`.
    pub status: &'static str,
    /// `User` or `Group`.
    pub identity_type: &'static str,
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
            json!({"errorCode": e.code, "reason": e.reason, "additionalDetails": null, "errorCategory": e.category, "recommendedAction": null})
        });
        json!({
            "id": id,
            "activityDateTime": ctx.at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "tenantId": ctx.tenant_id,
            "jobId": ctx.job_id,
            "cycleId": ctx.cycle_id,
            "changeId": change_id,
            "provisioningAction": self.action,
            "durationInMilliseconds": 0,
            "sourceSystem": {"id": "", "displayName": SOURCE_SYSTEM, "details": {}},
            "targetSystem": {"id": "", "displayName": sp_name, "details": {"ApplicationId": ctx.application_id, "ServicePrincipalId": sp_id, "ServicePrincipalDisplayName": sp_name}},
            "initiatedBy": ctx.initiated_by,
            "servicePrincipal": {"id": sp_id, "displayName": sp_name},
            "sourceIdentity": {"id": self.source_id, "displayName": self.source_name, "identityType": self.identity_type, "details": {}},
            "targetIdentity": {"id": self.target_id, "displayName": self.target_name, "identityType": self.identity_type, "details": {}},
            "provisioningStatusInfo": {"status": self.status, "errorInformation": error},
            "provisioningSteps": self.steps.iter().map(|s| json!({
                "name": s.name, "provisioningStepType": s.kind, "status": s.status, "description": s.description, "details": s.details
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
pub fn error_code(status: Option<u16>) -> (&'static str, &'static str) {
    match status {
        Some(400) => ("SystemForCrossDomainIdentityManagementBadRequest", "nonServiceFailure"),
        Some(401) => ("SystemForCrossDomainIdentityManagementUnauthorized", "nonServiceFailure"),
        Some(403) => ("SystemForCrossDomainIdentityManagementForbidden", "nonServiceFailure"),
        Some(404) => ("InvalidAnchor", "nonServiceFailure"),
        Some(409) => ("SystemForCrossDomainIdentityManagementEntryConflict", "nonServiceFailure"),
        Some(429) => ("TooManyRequests", "failure"),
        Some(500) => ("InternalServerError", "failure"),
        Some(500..=599) => ("WebExceptionProtocolError", "failure"),
        Some(_) => ("SystemForCrossDomainIdentityManagementServiceIncompatible", "failure"),
        None => ("Timeout", "failure"),
    }
}
