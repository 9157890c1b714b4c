//! The path every SCIM request takes before and after its handler: body limit, fault injection,
//! tenant and bearer check, rate limit, error rendering, `x-amzn-RequestId`, journal.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use jiff::Timestamp;
use scenarios::{AppliedFault, FaultAction, RawExchange, RequestInfo};

use crate::error::{PendingError, ScimError};
use crate::state::{AppState, World, uuid_from};

/// The largest body the mock reads (inferred: AWS publishes no limit for SCIM).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What a SCIM handler learns from the middleware.
#[derive(Debug, Clone)]
pub struct ScimContext {
    /// The tenant the path names, already checked.
    pub tenant: String,
}

/// `x-amzn-RequestId`, sent on every response (aws-scim.md §1.4).
static REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");

/// Splits `/{tenant}/scim/v2/...` into the tenant; `None` for any other path.
fn tenant_of(path: &str) -> Option<&str> {
    let mut segments = path.trim_start_matches('/').splitn(4, '/');
    let tenant = segments.next().filter(|t| !t.is_empty())?;
    (segments.next() == Some("scim") && segments.next() == Some("v2")).then_some(tenant)
}

/// `Bearer <token>`, scheme in any case.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Checks tenant, token and rate. Unknown tenant → 404 `TENANT does not exist.` (observed) or 401
/// (documented); missing, wrong, revoked or expired token → 401 (aws-scim.md §1.2).
fn admit(world: &mut World, path: &str, headers: &HeaderMap, now: Timestamp) -> Result<String, ScimError> {
    let tenant_id = tenant_of(path).ok_or_else(ScimError::endpoint_not_found)?;
    let Some(tenant) = world.tenants.get(tenant_id) else {
        return Err(ScimError::unknown_tenant(world.switches.unknown_tenant_status));
    };
    let token = bearer(headers).ok_or_else(ScimError::unauthorized)?;
    if !tenant.tokens.iter().any(|t| t.secret == token && now < t.expires) {
        return Err(ScimError::unauthorized());
    }
    // A burst above the configured rate gets 429 (aws-scim.md §5.3; rate unpublished, counted per
    // second of the mock's clock).
    if let Some(limit) = world.switches.rate_limit_per_second {
        let second = now.as_second();
        let slot = world.rate.entry(tenant_id.to_owned()).or_insert((second, 0));
        if slot.0 != second {
            *slot = (second, 0);
        }
        slot.1 += 1;
        if slot.1 > limit {
            return Err(ScimError::throttled(world.switches.retry_after_seconds));
        }
    }
    Ok(tenant_id.to_owned())
}

/// What was decided under the lock before the handler runs.
struct Admission {
    request_id: String,
    now: Timestamp,
    fault: Option<AppliedFault>,
    outcome: Result<String, ScimError>,
}

/// The SCIM pipeline, as an axum `from_fn_with_state` middleware.
pub async fn scim(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => Err(ScimError::payload_too_large()),
        Err(_) => Err(ScimError::validation("Invalid JSON from RequestBody")),
    };
    let path = parts.uri.path().to_owned();
    let admission = {
        let mut world = state.world();
        let bytes = body.as_ref().map(|b| b.as_ref()).unwrap_or_default();
        let request_id = uuid_from(&mut world.request_draws(parts.method.as_str(), &path, parts.uri.query(), bytes));
        let now = world.clock.now();
        let info = RequestInfo { method: parts.method.as_str(), path: &path, at: now };
        let plan = std::mem::take(&mut world.faults);
        let fault = plan.decide(&mut world.fault_state, &info);
        world.faults = plan;
        let outcome = admit(&mut world, &path, &parts.headers, now);
        Admission { request_id, now, fault, outcome }
    };
    // Kept raw; bodies are parsed and redacted only when the journal is read.
    let recorded_request = RawExchange::new(
        0,
        admission.now,
        0,
        parts.method.as_str(),
        &path,
        parts.uri.query(),
        parts.headers.iter().map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned())),
        body.as_ref().map(|b| b.to_vec()).unwrap_or_default(),
        None,
    );

    let mut delay_ms = 0;
    let mut response = match admission.fault.as_ref().map(|f| &f.action) {
        Some(FaultAction::Drop) => None,
        Some(FaultAction::Timeout { ms }) => {
            delay_ms = *ms;
            tokio::time::sleep(Duration::from_millis(*ms)).await;
            None
        }
        Some(FaultAction::Status { status, retry_after, body }) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some(match body {
                Some(body) => (status, axum::Json(body.clone())).into_response(),
                None => ScimError::injected(status, *retry_after).into_response(),
            })
        }
        Some(FaultAction::Latency { ms }) => {
            delay_ms = *ms;
            tokio::time::sleep(Duration::from_millis(*ms)).await;
            None
        }
        None => None,
    };
    let dropped =
        matches!(admission.fault.as_ref().map(|f| &f.action), Some(FaultAction::Drop | FaultAction::Timeout { .. }));
    if response.is_none() && !dropped {
        response = Some(match (admission.outcome, body) {
            (Err(err), _) | (Ok(_), Err(err)) => err.into_response(),
            (Ok(tenant), Ok(bytes)) => {
                parts.extensions.insert(ScimContext { tenant });
                next.run(Request::from_parts(parts, Body::from(bytes))).await
            }
        });
    }

    let Some(response) = response else {
        record(&state, admission.now, delay_ms, recorded_request, admission.fault);
        return dropped_connection();
    };
    let retry_after = response.extensions().get::<PendingError>().and_then(|e| e.0.retry_after);
    let (mut head, body) = finish(&state, response, &admission.request_id, admission.now).await.into_parts();
    if let Some(seconds) = retry_after.or_else(|| injected_retry_after(admission.fault.as_ref())) {
        head.headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    let bytes = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    let recorded = recorded_request.with_response(
        head.status.as_u16(),
        head.headers.iter().map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned())),
        bytes.to_vec(),
    );
    record(&state, admission.now, delay_ms, recorded, admission.fault);
    Response::from_parts(head, Body::from(bytes))
}

fn injected_retry_after(fault: Option<&AppliedFault>) -> Option<u64> {
    match fault.map(|f| &f.action) {
        Some(FaultAction::Status { retry_after, .. }) => *retry_after,
        _ => None,
    }
}

/// Renders pending errors and any bare error status (an axum 405, say) as AWS envelopes, and stamps
/// the request id and content type on every response.
async fn finish(state: &AppState, response: Response, request_id: &str, now: Timestamp) -> Response {
    let pending = response.extensions().get::<PendingError>().cloned();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let status = response.status();
    let mut response = match pending {
        Some(PendingError(err)) => {
            let mode = state.world().switches.error_detail;
            (err.status, axum::Json(err.body(mode, request_id, now))).into_response()
        }
        None if (status.is_client_error() || status.is_server_error()) && !is_json => {
            let err = if status == StatusCode::METHOD_NOT_ALLOWED {
                ScimError::method_not_allowed()
            } else {
                ScimError::injected(status, None)
            };
            let mode = state.world().switches.error_detail;
            (status, axum::Json(err.body(mode, request_id, now))).into_response()
        }
        None => response,
    };
    let headers = response.headers_mut();
    // AWS answers `application/json`, even on a 204 (deletegroup.html, aws-scim.md §1.4).
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID.clone(), value);
    }
    response
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

/// A response whose body fails at once: hyper closes the connection without completing the
/// exchange, which a client sees as a dropped connection.
fn dropped_connection() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "fault: connection dropped",
        ))
    });
    Response::new(Body::from_stream(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tenant_is_the_segment_before_scim_v2() {
        assert_eq!(tenant_of("/kE3934e0444-9ba8/scim/v2/Users"), Some("kE3934e0444-9ba8"));
        assert_eq!(tenant_of("/t/scim/v2/"), Some("t"));
        assert_eq!(tenant_of("/t/scim/v1/Users"), None);
        assert_eq!(tenant_of("/scim/v2/Users"), None);
    }
}
