//! The path every service request takes, in both mocks: the body read within a limit, the fault
//! the plan decides, the mock's own admission (tenant, token, rate), the handler, the mock's error
//! rendering and headers, and the journal. A mock says only what is its own through [`Protocol`].

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header, request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use jiff::Timestamp;

use super::{MockState, MockWorld};
use crate::connections::{BodyDeadline, Limits, Refused};
use crate::fault::{AppliedFault, FaultAction};
use crate::journal::{RawExchange, omitted_body};

/// What a mock decides of a request before the handler runs, under the same hold of its lock in
/// which the pipeline read the clock and the fault plan.
#[derive(Debug)]
pub struct Admission<P: Protocol> {
    /// What the handler learns (inserted as a request extension), or why the request is refused.
    pub outcome: Result<P::Context, P::Error>,
    /// What the response is stamped with: request ids, say.
    pub stamp: P::Stamp,
}

/// Marks a response whose body [`Protocol::finish`] renders in the protocol's envelope: handlers
/// know neither the request's id nor the clock, so their errors wait here for the pipeline.
#[derive(Debug, Clone)]
struct Pending<E>(E);

/// A response of `status` carrying `error`, for [`Protocol::finish`] to render ([`error_of`]).
pub fn pending<E: Clone + Send + Sync + 'static>(status: StatusCode, error: E) -> Response {
    let mut response = status.into_response();
    response.extensions_mut().insert(Pending(error));
    response
}

/// The error a response carries: a handler's ([`pending`]), or, for a 4xx or 5xx that is not JSON
/// (one axum or hyper made on its own), `otherwise(status)`; `None` for a response to pass as it is.
pub fn error_of<E: Clone + Send + Sync + 'static>(
    response: &Response,
    otherwise: impl FnOnce(StatusCode) -> E,
) -> Option<E> {
    if let Some(Pending(error)) = response.extensions().get::<Pending<E>>() {
        return Some(error.clone());
    }
    is_bare_error(response).then(|| otherwise(response.status()))
}

/// A 4xx or 5xx whose body is not JSON: one axum or hyper made on its own, to be enveloped.
pub(crate) fn is_bare_error(response: &Response) -> bool {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    (status.is_client_error() || status.is_server_error()) && !is_json
}

/// Why a request's body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRefused {
    /// It is over the protocol's limit.
    TooLarge,
    /// The connection failed while it was read.
    Unreadable,
    /// It did not all arrive within the connection's [`BodyDeadline`].
    TooSlow,
}

/// A mock's service surface: what its pipeline does that the other's does not.
pub trait Protocol: MockWorld {
    /// What a handler learns from the pipeline, as a request extension.
    type Context: Clone + Send + Sync + 'static;
    /// The protocol's error, rendered in its own envelope; made from a [`BodyRefused`] for a body
    /// over [`Protocol::MAX_BODY_BYTES`] or one that could not be read.
    type Error: IntoResponse + Send + From<BodyRefused>;
    /// What [`Protocol::finish`] stamps on the response.
    type Stamp: Send + Sync;

    /// The largest body read: 1 MiB (inferred for both mocks: AWS publishes no limit for SCIM, and
    /// Graph's differ by API).
    const MAX_BODY_BYTES: usize = 1024 * 1024;

    /// Under the mock's lock, `now` being the mock's clock as the request arrived: the request's id,
    /// and whether it is let in. The fault plan has been asked already
    /// ([`crate::mock_core::MockCore::fault_for`]), so a fault never depends on what a mock draws.
    fn admit(&mut self, head: &request::Parts, body: &[u8], now: Timestamp) -> Admission<Self>;

    /// The answer to a fault that names a status but no body.
    fn injected(status: StatusCode, retry_after: Option<u64>) -> Response;

    /// Renders errors in the protocol's envelope and stamps the protocol's headers.
    fn finish(state: &MockState<Self>, response: Response, stamp: &Self::Stamp) -> Response;
}

/// The pipeline, as an axum `from_fn_with_state` middleware.
pub async fn pipeline<P: Protocol>(State(mock): State<MockState<P>>, request: Request, next: Next) -> Response {
    let (mut head, body) = request.into_parts();
    if let Some(&Refused(status)) = head.extensions.get::<Refused>() {
        // hyper's own refusal of a request it could not parse, to render in the envelope.
        let stamp = {
            let mut world = mock.world();
            let now = world.core().now();
            world.admit(&head, &[], now).stamp
        };
        return P::finish(&mock, status.into_response(), &stamp);
    }
    // The connection's deadline (`connections::Limits::body_timeout`); a router served otherwise
    // gets the same default.
    let deadline = head.extensions.get::<BodyDeadline>().map_or(Limits::default().body_timeout, |d| d.0);
    let body: Result<Bytes, P::Error> =
        match tokio::time::timeout(deadline, Limited::new(body, P::MAX_BODY_BYTES).collect()).await {
            Ok(Ok(collected)) => Ok(collected.to_bytes()),
            Ok(Err(err)) if err.downcast_ref::<LengthLimitError>().is_some() => Err(BodyRefused::TooLarge.into()),
            Ok(Err(_)) => Err(BodyRefused::Unreadable.into()),
            Err(_) => Err(BodyRefused::TooSlow.into()),
        };
    let bytes = body.as_ref().map(Bytes::clone).unwrap_or_default();
    let (at, fault, admission) = {
        let mut world = mock.world();
        let at = world.core().now();
        let fault = world.core().fault_for(head.method.as_str(), head.uri.path());
        let admission = world.admit(&head, &bytes, at);
        (at, fault, admission)
    };
    // A refusal is rendered now, so that its status says whether the request was authenticated.
    let outcome = admission.outcome.map_err(IntoResponse::into_response);
    let unauthenticated = outcome.as_ref().is_err_and(|refusal| refusal.status() == StatusCode::UNAUTHORIZED);
    // The body of a request that did not authenticate is not kept: anyone can send one, of any
    // size, as often as they like. Secrets are redacted before the exchange is kept
    // (`RawExchange::new`).
    let kept = if unauthenticated { omitted_body("unauthenticated", bytes.len()) } else { bytes.to_vec() };
    let exchange = RawExchange::new(
        0,
        at,
        0,
        head.method.as_str(),
        head.uri.path(),
        head.uri.query(),
        header_pairs(&head.headers),
        kept,
        None,
    );

    let mut delay_ms = 0;
    let mut injected = None;
    let mut dropped = false;
    match fault.as_ref().map(|f| &f.action) {
        Some(FaultAction::Drop) => dropped = true,
        Some(FaultAction::Timeout { ms }) => {
            delay_ms = *ms;
            tokio::time::sleep(Duration::from_millis(*ms)).await;
            dropped = true;
        }
        Some(FaultAction::Status { status, retry_after, body }) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = match body {
                Some(body) => (status, axum::Json(body.clone())).into_response(),
                None => P::injected(status, *retry_after),
            };
            if let Some(seconds) = retry_after {
                response.extensions_mut().insert(InjectedRetryAfter(*seconds));
            }
            injected = Some(response);
        }
        Some(FaultAction::Latency { ms }) => {
            delay_ms = *ms;
            tokio::time::sleep(Duration::from_millis(*ms)).await;
        }
        None => {}
    }
    if dropped {
        record(&mock, at, delay_ms, exchange, fault);
        return dropped_connection();
    }
    let response = match (injected, outcome, body) {
        (Some(response), _, _) => response,
        (None, Err(refusal), _) => refusal,
        (None, Ok(_), Err(err)) => err.into_response(),
        (None, Ok(context), Ok(bytes)) => {
            head.extensions.insert(context);
            next.run(Request::from_parts(head, Body::from(bytes))).await
        }
    };
    let retry_after = response.extensions().get::<InjectedRetryAfter>().map(|r| r.0);
    let (mut head, body) = P::finish(&mock, response, &admission.stamp).into_parts();
    if let Some(seconds) = retry_after {
        head.headers.entry(header::RETRY_AFTER).or_insert(HeaderValue::from(seconds));
    }
    let bytes = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    let exchange = exchange.with_response(head.status.as_u16(), header_pairs(&head.headers), bytes.to_vec());
    record(&mock, at, delay_ms, exchange, fault);
    Response::from_parts(head, Body::from(bytes))
}

/// The `Retry-After` a fault asked for, carried from the fault's response to the stamped one.
#[derive(Debug, Clone, Copy)]
struct InjectedRetryAfter(u64);

fn header_pairs(headers: &HeaderMap) -> impl Iterator<Item = (String, String)> + '_ {
    headers.iter().map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
}

fn record<W: MockWorld>(
    mock: &MockState<W>,
    at: Timestamp,
    delay_ms: u64,
    mut exchange: RawExchange,
    fault: Option<AppliedFault>,
) {
    let mut world = mock.world();
    let core = world.core();
    exchange.elapsed_ms = u64::try_from(core.now().duration_since(at).as_millis()).unwrap_or(0) + delay_ms;
    exchange.fault = fault;
    core.journal.record(exchange);
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
