//! The SCIM error as AWS writes it, and the one error type every SCIM handler returns.
//!
//! Handlers cannot know the request id or the clock, so an error first becomes a response carrying it
//! ([`scenarios::serve::pipeline::pending`]); the request middleware ([`crate::middleware`]) renders
//! the envelope with the request's `exceptionRequestId` and the mock's `timeStamp`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use scenarios::serve::BodyRefused;
use serde_json::json;

use crate::clock::error_timestamp;
use crate::switches::ErrorDetailMode;

/// AWS's catch-all 400 detail, also what Entra's provisioning logs show (aws-scim.md §5.1).
pub const GENERIC_DETAIL: &str = "Request is unparsable, syntactically incorrect, or violates schema.";
/// The captured 409 detail (aws-scim.md §2.7, fixture `CreateUserResponse_Conflict.json`).
pub const DUPLICATE_DETAIL: &str = "Refused to create a new, duplicate resource.";
/// The SCIM error URN, sent under both `schema` and `schemas` (aws-scim.md §5.1).
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// What goes in `detail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    /// Text seen in AWS's HTTP bodies or documented for this status: sent in every mode.
    Fixed(String),
    /// The message AWS records for a validation failure (CloudTrail): sent only when the
    /// `errorDetail` switch is `specific`, the generic detail otherwise.
    Validation(String),
}

/// A refused SCIM request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The `detail` text.
    pub detail: Detail,
    /// `Retry-After` seconds, for throttling.
    pub retry_after: Option<u64>,
}

impl ScimError {
    fn fixed(status: StatusCode, detail: impl Into<String>) -> Self {
        ScimError { status, detail: Detail::Fixed(detail.into()), retry_after: None }
    }

    /// 400 ValidationException whose specific message AWS only logs.
    pub fn validation(message: impl Into<String>) -> Self {
        ScimError { status: StatusCode::BAD_REQUEST, detail: Detail::Validation(message.into()), retry_after: None }
    }

    /// 400 with a detail seen verbatim in AWS's HTTP bodies.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::fixed(StatusCode::BAD_REQUEST, detail)
    }

    /// 400 with the generic detail in every mode.
    pub fn generic() -> Self {
        Self::fixed(StatusCode::BAD_REQUEST, GENERIC_DETAIL)
    }

    /// 409 ConflictException: the captured body (aws-scim.md §2.7).
    pub fn duplicate() -> Self {
        Self::fixed(StatusCode::CONFLICT, DUPLICATE_DETAIL)
    }

    /// 401 UnauthorizedException (aws-scim.md §1.2; the body is inferred, none was captured).
    pub fn unauthorized() -> Self {
        Self::fixed(StatusCode::UNAUTHORIZED, "Authorization header is invalid or missing.")
    }

    /// Unknown tenant: 404 as observed in 2022, or 401 as documented (aws-scim.md §1.2).
    pub fn unknown_tenant(status: u16) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_FOUND);
        Self::fixed(status, "TENANT does not exist.")
    }

    /// 404 for a user id (getuser.html, patchuser.html).
    pub fn user_not_found() -> Self {
        Self::fixed(StatusCode::NOT_FOUND, "Specified user does not exist.")
    }

    /// 404 for a group id (getgroup.html, patchgroup.html).
    pub fn group_not_found() -> Self {
        Self::fixed(StatusCode::NOT_FOUND, "Specified group does not exist.")
    }

    /// 404 for a path AWS does not serve, such as `/Me` or `/Bulk` (aws-scim.md §1.3, status inferred).
    pub fn endpoint_not_found() -> Self {
        Self::fixed(StatusCode::NOT_FOUND, "Specified user or endpoint does not exist.")
    }

    /// 404 for a membership filter naming a user that does not exist (listgroups.html).
    pub fn nonexistent_member() -> Self {
        Self::fixed(StatusCode::NOT_FOUND, "When filter querying with a nonexisting member.")
    }

    /// 405 for a method a path does not serve (inferred).
    pub fn method_not_allowed() -> Self {
        Self::fixed(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed on this endpoint.")
    }

    /// 413 for a body over the 1 MiB the mock accepts (inferred).
    pub fn payload_too_large() -> Self {
        Self::fixed(StatusCode::PAYLOAD_TOO_LARGE, "Request entity is too large.")
    }

    /// 429 ThrottlingException (aws-scim.md §5.3).
    pub fn throttled(retry_after: Option<u64>) -> Self {
        ScimError {
            retry_after,
            ..Self::fixed(StatusCode::TOO_MANY_REQUESTS, "Too many requests exceeded the limits.")
        }
    }

    /// Any status injected by a fault, with the detail AWS's exception table gives it (§5.2).
    pub fn injected(status: StatusCode, retry_after: Option<u64>) -> Self {
        let detail = match status.as_u16() {
            429 => "Too many requests exceeded the limits.",
            401 => "Authorization header is invalid or missing.",
            403 => "Operation is not permitted based on the supplied authorization.",
            404 => "Specified user or endpoint does not exist.",
            409 => DUPLICATE_DETAIL,
            // 414 and 431: what hyper refuses before the service runs (inferred).
            400 | 414 | 431 => GENERIC_DETAIL,
            _ => "The request processing has failed because of an unknown error, exception or failure.",
        };
        ScimError { retry_after, ..Self::fixed(status, detail) }
    }

    /// The `detail` text under the given mode.
    pub fn detail_text(&self, mode: ErrorDetailMode) -> &str {
        match (&self.detail, mode) {
            (Detail::Fixed(text), _) | (Detail::Validation(text), ErrorDetailMode::Specific) => text,
            (Detail::Validation(_), ErrorDetailMode::Generic) => GENERIC_DETAIL,
        }
    }

    /// The envelope, in AWS's field order: `schema, schemas, detail, status, exceptionRequestId,
    /// timeStamp` (aws-scim.md §5.1).
    pub fn body(&self, mode: ErrorDetailMode, request_id: &str, now: Timestamp) -> serde_json::Value {
        json!({
            "schema": [ERROR_URN],
            "schemas": [ERROR_URN],
            "detail": self.detail_text(mode),
            "status": self.status.as_str(),
            "exceptionRequestId": request_id,
            "timeStamp": error_timestamp(now),
        })
    }
}

/// A body the pipeline would not take: over its 1 MiB limit, or unreadable.
impl From<BodyRefused> for ScimError {
    fn from(why: BodyRefused) -> ScimError {
        match why {
            BodyRefused::TooLarge => ScimError::payload_too_large(),
            BodyRefused::Unreadable => ScimError::validation("Invalid JSON from RequestBody"),
            // AWS documents no body deadline: 408 in its envelope (inferred).
            BodyRefused::TooSlow => ScimError::fixed(StatusCode::REQUEST_TIMEOUT, "Request timed out."),
        }
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        scenarios::serve::pipeline::pending(self.status, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_mode_hides_validation_messages_but_not_fixed_ones() {
        let hidden = ScimError::validation("List attribute emails exceeds allowed limit of 1");
        assert_eq!(hidden.detail_text(ErrorDetailMode::Generic), GENERIC_DETAIL);
        assert_eq!(hidden.detail_text(ErrorDetailMode::Specific), "List attribute emails exceeds allowed limit of 1");
        let shown = ScimError::bad_request("Replacing group memberships is not supported.");
        assert_eq!(shown.detail_text(ErrorDetailMode::Generic), "Replacing group memberships is not supported.");
    }

    #[test]
    fn the_envelope_keeps_aws_field_order_and_a_string_status() {
        let now: Timestamp = "2022-03-18T10:57:08.014Z".parse().unwrap();
        let body = ScimError::duplicate().body(ErrorDetailMode::Generic, "81abca44-4ee3-47fa-b4d9-729908ef1dd9", now);
        let keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["schema", "schemas", "detail", "status", "exceptionRequestId", "timeStamp"]);
        assert_eq!(body["status"], "409");
        assert_eq!(body["timeStamp"], "2022-03-18 10:57:08.014");
    }
}
