//! The path every non-admin request takes: deleted items past their retention purged, body limit,
//! fault injection, bearer check on `/v1.0`, error rendering, `request-id` / `client-request-id`,
//! OData headers, journal.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use jiff::Timestamp;
use scenarios::{AppliedFault, FaultAction, RawExchange, RequestInfo};

use crate::auth::{GRAPH_APP_ID, check_bearer};
use crate::error::{GraphError, PendingError};
use crate::state::AppState;

/// The largest body the mock reads (inferred).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
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

/// The pipeline, as an axum `from_fn_with_state` middleware.
pub async fn graph(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => Err(GraphError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            "The request body exceeds the maximum size of 1 MiB.",
        )),
        Err(_) => Err(GraphError::unreadable_body()),
    };
    let path = parts.uri.path().to_owned();
    let client_request_id = parts.headers.get(&CLIENT_REQUEST_ID).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (request_id, now, fault, admitted) = {
        let mut world = state.world();
        // Deleted items past their retention are gone before anyone reads or writes the directory.
        world.expire_deleted_users();
        let request_id = world.uuid();
        let now = world.clock.now();
        let plan = std::mem::take(&mut world.faults);
        let fault =
            plan.decide(&mut world.fault_state, &RequestInfo { method: parts.method.as_str(), path: &path, at: now });
        world.faults = plan;
        let admitted = if path.starts_with("/v1.0/") || path == "/v1.0" {
            check_bearer(&world, &parts.headers, now)
        } else {
            Ok(())
        };
        (request_id, now, fault, admitted)
    };
    // `client-request-id` echoes the client's, or equals `request-id` (§3.11, inferred).
    let client_request_id = client_request_id.unwrap_or_else(|| request_id.clone());
    // Kept raw; bodies are parsed and redacted only when the journal is read.
    let recorded_request = RawExchange::new(
        0,
        now,
        0,
        parts.method.as_str(),
        &path,
        parts.uri.query(),
        parts.headers.iter().map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())),
        body.as_ref().map(|b| b.to_vec()).unwrap_or_default(),
        None,
    );
    let host = parts.headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("127.0.0.1").to_owned();

    let mut delay_ms = 0;
    let mut dropped = false;
    let response = match fault.as_ref().map(|f| &f.action) {
        Some(FaultAction::Drop) => {
            dropped = true;
            None
        }
        Some(FaultAction::Timeout { ms }) => {
            delay_ms = *ms;
            tokio::time::sleep(Duration::from_millis(*ms)).await;
            dropped = true;
            None
        }
        Some(FaultAction::Status { status, retry_after, body }) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some(match body {
                Some(body) => (status, axum::Json(body.clone())).into_response(),
                None => GraphError::injected(status, *retry_after).into_response(),
            })
        }
        Some(FaultAction::Latency { ms }) => {
            delay_ms = *ms;
            tokio::time::sleep(Duration::from_millis(*ms)).await;
            None
        }
        None => None,
    };
    let response = match (response, dropped) {
        (Some(response), _) => Some(response),
        (None, true) => None,
        (None, false) => Some(match (admitted, body) {
            (Err(err), _) | (Ok(()), Err(err)) => err.into_response(),
            (Ok(()), Ok(bytes)) => {
                let scheme = scenarios::tls::Scheme::of(&parts.extensions).as_str();
                parts.extensions.insert(RequestContext { base: format!("{scheme}://{host}") });
                next.run(Request::from_parts(parts, Body::from(bytes))).await
            }
        }),
    };
    let Some(response) = response else {
        record(&state, now, delay_ms, recorded_request, fault);
        return dropped_connection();
    };
    let injected_retry = match fault.as_ref().map(|f| &f.action) {
        Some(FaultAction::Status { retry_after, .. }) => *retry_after,
        _ => None,
    };
    let odata = path.starts_with("/v1.0");
    let (head, body) = finish(response, &request_id, &client_request_id, now, injected_retry, odata).into_parts();
    let bytes = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    let recorded = recorded_request.with_response(
        head.status.as_u16(),
        head.headers.iter().map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())),
        bytes.to_vec(),
    );
    record(&state, now, delay_ms, recorded, fault);
    Response::from_parts(head, Body::from(bytes))
}

/// Renders errors, then stamps ids and, on `/v1.0` JSON, Graph's OData content type and version.
fn finish(
    response: Response,
    request_id: &str,
    client_request_id: &str,
    now: Timestamp,
    injected_retry: Option<u64>,
    odata: bool,
) -> Response {
    let pending = response.extensions().get::<PendingError>().cloned();
    let content_type =
        response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let status = response.status();
    let error = match pending {
        Some(PendingError(err)) => Some(err),
        None if (status.is_client_error() || status.is_server_error())
            && !content_type.starts_with("application/json") =>
        {
            Some(if status == StatusCode::METHOD_NOT_ALLOWED {
                GraphError::new(
                    status,
                    "BadRequest",
                    "The request is currently not supported on the targeted entity set",
                )
            } else {
                GraphError::injected(status, None)
            })
        }
        None => None,
    };
    let mut response = match &error {
        Some(err) => (err.status, axum::Json(err.body(request_id, client_request_id, now))).into_response(),
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
        if let Some(seconds) = err.retry_after().or(injected_retry) {
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
    if is_json && odata {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ODATA_JSON));
        headers.insert(ODATA_VERSION.clone(), HeaderValue::from_static("4.0"));
    }
    insert(headers, REQUEST_ID.clone(), request_id);
    insert(headers, CLIENT_REQUEST_ID.clone(), client_request_id);
    response
}

fn insert(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

fn record(state: &AppState, at: Timestamp, delay_ms: u64, mut exchange: RawExchange, fault: Option<AppliedFault>) {
    let mut world = state.world();
    exchange.elapsed_ms = u64::try_from(world.clock.now().duration_since(at).as_millis()).unwrap_or(0) + delay_ms;
    world.journal_seq += 1;
    exchange.seq = world.journal_seq;
    exchange.fault = fault;
    world.journal.push_back(exchange);
    while world.journal.len() > world.switches.journal_capacity {
        world.journal.pop_front();
    }
}

/// A response whose body fails at once: the client sees the connection dropped.
fn dropped_connection() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "fault: connection dropped",
        ))
    });
    Response::new(Body::from_stream(stream))
}
