//! What SCIM's side of the shared request pipeline (`scenarios::serve::pipeline`) does: the tenant
//! and bearer check, the rate limit, AWS's error envelopes, `x-amzn-RequestId`.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header, request};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use scenarios::serve::pipeline::error_of;
use scenarios::serve::{Admission, Protocol};

use crate::error::ScimError;
use crate::state::{AppState, World, uuid_from};

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

/// What the response is stamped with.
#[derive(Debug)]
pub struct Stamp {
    request_id: String,
    now: Timestamp,
}

impl Protocol for World {
    type Context = ScimContext;
    type Error = ScimError;
    type Stamp = Stamp;

    fn admit(&mut self, head: &request::Parts, body: &[u8], now: Timestamp) -> Admission<Self> {
        let path = head.uri.path();
        let request_id = uuid_from(&mut self.request_draws(head.method.as_str(), path, head.uri.query(), body));
        let outcome = admit(self, path, &head.headers, now).map(|tenant| ScimContext { tenant });
        Admission { outcome, stamp: Stamp { request_id, now } }
    }

    fn injected(status: StatusCode, retry_after: Option<u64>) -> Response {
        ScimError::injected(status, retry_after).into_response()
    }

    /// Renders pending errors and any bare error status (an axum 405, say) as AWS envelopes, and
    /// stamps the request id and content type on every response.
    fn finish(state: &AppState, response: Response, stamp: &Stamp) -> Response {
        let error = error_of(&response, |status| {
            if status == StatusCode::METHOD_NOT_ALLOWED {
                ScimError::method_not_allowed()
            } else {
                ScimError::injected(status, None)
            }
        });
        let mut response = match &error {
            Some(err) => {
                let mode = state.world().switches.error_detail;
                (err.status, axum::Json(err.body(mode, &stamp.request_id, stamp.now))).into_response()
            }
            None => response,
        };
        let headers = response.headers_mut();
        if let Some(seconds) = error.and_then(|err| err.retry_after) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        // AWS answers `application/json`, even on a 204 (deletegroup.html, aws-scim.md §1.4).
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(value) = HeaderValue::from_str(&stamp.request_id) {
            headers.insert(REQUEST_ID.clone(), value);
        }
        response
    }
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
