//! What Graph's side of the shared request pipeline (`scenarios::serve::pipeline`) does: deleted
//! items past their retention purged, the bearer check on `/v1.0`, Graph's error envelopes,
//! `request-id` / `client-request-id`, OData headers.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header, request};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use scenarios::serve::pipeline::error_of;
use scenarios::serve::{Admission, Protocol};

use crate::auth::{GRAPH_APP_ID, check_bearer};
use crate::error::GraphError;
use crate::state::{AppState, World};

/// Graph's JSON content type (microsoft-graph.md §3.11).
pub const ODATA_JSON: &str =
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

static REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
static CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");
static ODATA_VERSION: HeaderName = HeaderName::from_static("odata-version");

/// What a handler learns from the middleware.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// `http://host:port`, for absolute nextLinks and deltaLinks built from the request's own host.
    pub base: String,
}

impl Protocol for World {
    type Context = RequestContext;
    type Error = GraphError;
    type Stamp = Stamp;

    fn admit(&mut self, head: &request::Parts, body: &[u8], now: Timestamp) -> Admission<Self> {
        // Deleted items past their retention are gone before anyone reads or writes the directory.
        self.expire_deleted_users();
        let request_id = self.uuid();
        let path = head.uri.path();
        let graph = path.starts_with("/v1.0/") || path == "/v1.0";
        let admitted = if graph { check_bearer(self, &head.headers, now) } else { Ok(()) };
        let admitted = admitted.and_then(|()| if graph { self.json_declared(&head.headers, body) } else { Ok(()) });
        // `client-request-id` echoes the client's, or equals `request-id` (§3.11, inferred).
        let client_request_id = head
            .headers
            .get(&CLIENT_REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| request_id.clone(), str::to_owned);
        let host = head.headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("127.0.0.1");
        let scheme = scenarios::tls::Scheme::of(&head.extensions).as_str();
        let outcome = admitted.map(|()| RequestContext { base: format!("{scheme}://{host}") });
        let stamp = Stamp {
            request_id,
            client_request_id,
            now,
            odata: path.starts_with("/v1.0"),
            oauth: path.ends_with("/oauth2/v2.0/token"),
        };
        Admission { outcome, stamp }
    }

    fn injected(status: StatusCode, retry_after: Option<u64>) -> Response {
        GraphError::injected(status, retry_after).into_response()
    }

    /// Renders errors, then stamps ids and, on `/v1.0` JSON, Graph's OData content type and version.
    fn finish(state: &AppState, response: Response, stamp: &Stamp) -> Response {
        let error = error_of(&response, |status| {
            if status == StatusCode::METHOD_NOT_ALLOWED {
                GraphError::new(
                    status,
                    "BadRequest",
                    "The request is currently not supported on the targeted entity set",
                )
            } else {
                GraphError::injected(status, None)
            }
        });
        let mut response = match &error {
            Some(err) if stamp.oauth => crate::auth::refused_request(&mut state.world(), err.status),
            Some(err) => {
                let body = err.body(&stamp.request_id, &stamp.client_request_id, stamp.now);
                (err.status, axum::Json(body)).into_response()
            }
            None => response,
        };
        let headers = response.headers_mut();
        if let Some(err) = &error {
            if err.status == StatusCode::UNAUTHORIZED {
                let challenge = format!(
                    "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"{GRAPH_APP_ID}\""
                );
                insert(headers, header::WWW_AUTHENTICATE, &challenge);
            }
            if let Some(seconds) = err.retry_after() {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            if let Some(location) = err.location() {
                insert(headers, header::LOCATION, location);
            }
        }
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if is_json && stamp.odata {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ODATA_JSON));
            headers.insert(ODATA_VERSION.clone(), HeaderValue::from_static("4.0"));
        }
        insert(headers, REQUEST_ID.clone(), &stamp.request_id);
        insert(headers, CLIENT_REQUEST_ID.clone(), &stamp.client_request_id);
        response
    }
}

impl World {
    /// A body Graph reads as JSON only when it says it is: none is "Unable to read JSON request
    /// payload…", another type is "Entity only allows writes with a JSON Content-Type header."
    /// (both 400 `BadRequest`; inferred from Graph's answers in microsoft-graph-docs-contrib#6337 and
    /// msgraph-sample-pythondjangoapp#22, the reference is silent). Switch `requireJsonContentType`.
    fn json_declared(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), GraphError> {
        if !self.switches.require_json_content_type || body.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let Some(media) = media_type(headers) else {
            return Err(GraphError::unreadable_body());
        };
        if media.eq_ignore_ascii_case("application/json") {
            Ok(())
        } else {
            Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Entity only allows writes with a JSON Content-Type header.",
            ))
        }
    }
}

/// The request's media type, parameters dropped (`application/json` of
/// `application/json; charset=utf-8`); `None` without a `Content-Type`.
pub(crate) fn media_type(headers: &HeaderMap) -> Option<&str> {
    let declared = headers.get(header::CONTENT_TYPE)?;
    Some(declared.to_str().unwrap_or("").split(';').next().unwrap_or("").trim())
}

/// What the response is stamped with.
#[derive(Debug)]
pub struct Stamp {
    request_id: String,
    client_request_id: String,
    now: Timestamp,
    /// Whether the path is Graph's (`/v1.0`), whose JSON carries OData's content type.
    odata: bool,
    /// Whether it is the token endpoint, whose errors are OAuth's.
    oauth: bool,
}

fn insert(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}
