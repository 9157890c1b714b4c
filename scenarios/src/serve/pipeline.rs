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
use crate::fault::{AppliedFault, FaultAction};
use crate::journal::RawExchange;

/// What a mock decides of a request, under one hold of its lock, before the handler runs.
#[derive(Debug)]
pub struct Admission<P: Protocol> {
    /// The mock's clock when the request arrived.
    pub at: Timestamp,
    /// The fault the plan chose.
    pub fault: Option<AppliedFault>,
    /// What the handler learns (inserted as a request extension), or why the request is refused.
    pub outcome: Result<P::Context, P::Error>,
    /// What the response is stamped with: request ids, say.
    pub stamp: P::Stamp,
}

/// Why a request's body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRefused {
    /// It is over the protocol's limit.
    TooLarge,
    /// The connection failed while it was read.
    Unreadable,
}

/// A mock's service surface: what its pipeline does that the other's does not.
pub trait Protocol: MockWorld {
    /// What a handler learns from the pipeline, as a request extension.
    type Context: Clone + Send + Sync + 'static;
    /// The protocol's error, rendered in its own envelope.
    type Error: IntoResponse + Send;
    /// What [`Protocol::finish`] stamps on the response.
    type Stamp: Send + Sync;

    /// The largest body read: 1 MiB (inferred for both mocks: AWS publishes no limit for SCIM, and
    /// Graph's differ by API).
    const MAX_BODY_BYTES: usize = 1024 * 1024;

    /// The answer to a body that is over [`Protocol::MAX_BODY_BYTES`] or could not be read.
    fn refused_body(why: BodyRefused) -> Self::Error;

    /// Under the mock's lock: the request's id, the fault for it
    /// ([`crate::mock_core::MockCore::fault_for`]), and whether it is let in.
    fn admit(&mut self, head: &request::Parts, body: &[u8]) -> Admission<Self>;

    /// The answer to a fault that names a status but no body.
    fn injected(status: StatusCode, retry_after: Option<u64>) -> Response;

    /// Renders errors in the protocol's envelope and stamps the protocol's headers.
    fn finish(state: &MockState<Self>, response: Response, stamp: &Self::Stamp) -> Response;
}

/// The pipeline, as an axum `from_fn_with_state` middleware.
pub async fn pipeline<P: Protocol>(State(mock): State<MockState<P>>, request: Request, next: Next) -> Response {
    let (mut head, body) = request.into_parts();
    let body = match Limited::new(body, P::MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => Err(P::refused_body(BodyRefused::TooLarge)),
        Err(_) => Err(P::refused_body(BodyRefused::Unreadable)),
    };
    let bytes = body.as_ref().map(Bytes::clone).unwrap_or_default();
    let admission = mock.world().admit(&head, &bytes);
    // Kept raw; bodies are parsed and redacted only when the journal is read.
    let exchange = RawExchange::new(
        0,
        admission.at,
        0,
        head.method.as_str(),
        head.uri.path(),
        head.uri.query(),
        header_pairs(&head.headers),
        bytes.to_vec(),
        None,
    );

    let mut delay_ms = 0;
    let mut injected = None;
    let mut dropped = false;
    match admission.fault.as_ref().map(|f| &f.action) {
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
        record(&mock, admission.at, delay_ms, exchange, admission.fault);
        return dropped_connection();
    }
    let response = match (injected, admission.outcome, body) {
        (Some(response), _, _) => response,
        (None, Err(err), _) | (None, Ok(_), Err(err)) => err.into_response(),
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
    record(&mock, admission.at, delay_ms, exchange, admission.fault);
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
