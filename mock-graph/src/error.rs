//! Graph's error envelope, `{"error":{"code","message","innerError":{"date","request-id",
//! "client-request-id"}}}` (microsoft-graph.md §5.1), and the errors this mock answers with.
//!
//! As in mock-scim, a handler's error becomes a response carrying it ([`scenarios::serve::pipeline::pending`]);
//! the middleware renders it with the request's ids and the mock's clock.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use scenarios::serve::BodyRefused;
use serde_json::{Value, json};

/// A refused Graph request.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphError {
    /// HTTP status.
    pub status: StatusCode,
    /// `error.code`, which clients branch on (§5.1).
    pub code: &'static str,
    /// `error.message`.
    pub message: String,
    /// What few errors carry, boxed to keep `Result`s small.
    pub extras: Option<Box<Extras>>,
}

/// Parts of an error only some carry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extras {
    /// `error.details`, such as `ObjectConflict` on a duplicate UPN (§2.1).
    pub details: Option<Value>,
    /// `Retry-After` seconds.
    pub retry_after: Option<u64>,
    /// `Location`, for a delta reset (§4).
    pub location: Option<String>,
}

impl GraphError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        GraphError { status, code, message: message.into(), extras: None }
    }

    /// 400 `Request_BadRequest`, the directory's generic refusal (§5.2).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
    }

    /// 400 `BadRequest "Invalid filter clause"`, for any `$filter` syntax error (§3.1).
    pub fn invalid_filter() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", "Invalid filter clause")
    }

    /// 400 `Request_UnsupportedQuery` (§3.2).
    pub fn unsupported_query(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Request_UnsupportedQuery", message)
    }

    /// 404 `Request_ResourceNotFound` with Graph's wording (§5.2).
    pub fn not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
        )
    }

    /// 400 for a path Graph does not know: `Resource not found for the segment '…'.` (inferred wording
    /// of Graph's OData router).
    pub fn unknown_segment(segment: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", format!("Resource not found for the segment '{segment}'."))
    }

    /// 400 for a body that is not JSON (inferred wording).
    pub fn unreadable_body() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
        )
    }

    /// 400 for a property of the wrong type or value (inferred wording).
    pub fn invalid_value(property: &str, resource: &str) -> Self {
        Self::bad_request(format!("Invalid value specified for property '{property}' of resource '{resource}'."))
    }

    /// 400 for a property the entity does not have (inferred wording).
    pub fn unknown_property(property: &str) -> Self {
        Self::bad_request(format!("Property '{property}' does not exist as a declared property or extension property."))
    }

    /// 400 for an `@odata.type` naming a known type that is neither the expected one nor derived
    /// from it: ODataLib's wording, as Entra's directory answers it (inferred: no reference shows
    /// this for v1.0 users or groups).
    pub fn type_not_assignable(found: &str, expected: &str) -> Self {
        Self::bad_request(format!(
            "A resource with type '{found}' was found, but it is not assignable to the expected type '{expected}'. The type specified in the resource must be equal to either the expected type or a derived type."
        ))
    }

    /// 400 for an `@odata.type` naming a type the model does not have (the directory's answer to an
    /// SDK that sent one, msgraph-beta-sdk-dotnet#87; inferred for the mock's other types).
    pub fn type_unresolved(name: &str) -> Self {
        Self::bad_request(format!(
            "A type named '{name}' could not be resolved by the model. When a model is available, each type name must resolve to a valid type."
        ))
    }

    /// 401 `InvalidAuthenticationToken` (§1.2).
    pub fn unauthenticated(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", message)
    }

    /// 429 `TooManyRequests` (§5.3).
    pub fn throttled(retry_after: Option<u64>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", "Please retry again later.")
            .with_retry_after(retry_after)
    }

    /// Any status injected by a fault, with the code Graph uses for it (§5.2, §5.3; 5xx inferred).
    pub fn injected(status: StatusCode, retry_after: Option<u64>) -> Self {
        let (code, message) = match status.as_u16() {
            429 => ("TooManyRequests", "Please retry again later."),
            401 => ("InvalidAuthenticationToken", "Access token validation failure."),
            403 => ("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
            404 => ("Request_ResourceNotFound", "Resource does not exist."),
            503 | 504 => ("serviceNotAvailable", "The service is temporarily unavailable. Please retry after a delay."),
            // What hyper refuses before the service runs (inferred wording).
            414 => ("BadRequest", "The request URI is too long."),
            431 => ("BadRequest", "The request headers are too large."),
            400..=499 => ("BadRequest", "The request is invalid."),
            _ => ("UnknownError", "An unknown error occurred."),
        };
        Self::new(status, code, message).with_retry_after(retry_after)
    }

    fn extras_mut(&mut self) -> &mut Extras {
        self.extras.get_or_insert_with(Box::default)
    }

    /// The same error with `error.details`.
    pub fn with_details(mut self, details: Value) -> Self {
        self.extras_mut().details = Some(details);
        self
    }

    /// The same error with a `Retry-After`.
    pub fn with_retry_after(mut self, seconds: Option<u64>) -> Self {
        if seconds.is_some() {
            self.extras_mut().retry_after = seconds;
        }
        self
    }

    /// The same error with a `Location`.
    pub fn with_location(mut self, location: String) -> Self {
        self.extras_mut().location = Some(location);
        self
    }

    /// `Retry-After` seconds, if any.
    pub fn retry_after(&self) -> Option<u64> {
        self.extras.as_ref().and_then(|e| e.retry_after)
    }

    /// `Location`, if any.
    pub fn location(&self) -> Option<&str> {
        self.extras.as_ref().and_then(|e| e.location.as_deref())
    }

    /// `error.details`, if any.
    pub fn details(&self) -> Option<&Value> {
        self.extras.as_ref().and_then(|e| e.details.as_ref())
    }

    /// The envelope; `date` is ISO-8601 without zone or fraction (§5.1).
    pub fn body(&self, request_id: &str, client_request_id: &str, now: Timestamp) -> Value {
        let mut error = json!({
            "code": self.code,
            "message": self.message,
            "innerError": {
                "date": now.strftime("%Y-%m-%dT%H:%M:%S").to_string(),
                "request-id": request_id,
                "client-request-id": client_request_id,
            }
        });
        if let Some(details) = self.extras.as_ref().and_then(|e| e.details.as_ref()) {
            error["details"] = details.clone();
        }
        json!({ "error": error })
    }
}

/// A body the pipeline would not take: over its 1 MiB limit, or unreadable.
impl From<BodyRefused> for GraphError {
    fn from(why: BodyRefused) -> GraphError {
        match why {
            BodyRefused::TooLarge => GraphError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                "The request body exceeds the maximum size of 1 MiB.",
            ),
            BodyRefused::Unreadable => GraphError::unreadable_body(),
            // Graph documents no body deadline: 408 in its envelope (inferred).
            BodyRefused::TooSlow => GraphError::new(
                StatusCode::REQUEST_TIMEOUT,
                "RequestTimeout",
                "The request body did not arrive within 60 seconds.",
            ),
        }
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        scenarios::serve::pipeline::pending(self.status, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_carries_code_message_and_inner_error() {
        let now: Timestamp = "2021-05-18T19:03:10.5Z".parse().unwrap();
        let body = GraphError::not_found("abc").body("r1", "c1", now);
        assert_eq!(body["error"]["code"], "Request_ResourceNotFound");
        assert_eq!(body["error"]["innerError"]["date"], "2021-05-18T19:03:10");
        assert_eq!(body["error"]["innerError"]["request-id"], "r1");
        assert_eq!(body["error"]["innerError"]["client-request-id"], "c1");
    }
}
