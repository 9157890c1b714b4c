//! `/_admin`: the verbs both mocks offer, with the same names, bodies and limits, behind the admin
//! bearer token (health excepted). A mock adds its own routes (tenants and tokens for mock-scim,
//! seeding and the directory for mock-graph) through [`router`]'s `own`.
//!
//! | verb | answer |
//! |---|---|
//! | `GET /health` | `{"status":"ok"}`, no token needed |
//! | `GET /switches` | every switch |
//! | `PATCH /switches` | changes what the body names; `PUT` starts from the defaults |
//! | `GET/PUT/DELETE /faults` | the fault plan; a `PUT` restarts its counters |
//! | `GET /journal?since=N` | the exchanges after `N`, oldest first; `DELETE` forgets them |
//! | `GET /journal/seq` | `{"seq":N}`, the newest exchange's number |
//! | `GET /clock` | `{"now","mode",…}`; `PUT {"mode","now"}` sets it without running what falls due |
//! | `POST /clock/advance` | `{"by":"PT40M"}` or `{"to":instant}`: what falls due on the way runs first |
//! | `POST /reset` | back to the state right after start |

use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::Mock;
use crate::clock::ClockMode;
use crate::fault::FaultPlan;

/// The largest admin body read: bulk seeding sends 100,000 users in one call, far above axum's
/// 2 MiB default.
pub const MAX_ADMIN_BODY_BYTES: usize = 512 * 1024 * 1024;

/// An admin API failure: `{"error": "…"}` with a status.
#[derive(Debug)]
pub struct AdminError(pub StatusCode, pub String);

impl AdminError {
    /// 400, for a body or query the API cannot use.
    pub fn bad_request(message: impl Into<String>) -> AdminError {
        AdminError(StatusCode::BAD_REQUEST, message.into())
    }

    /// 404, for a tenant, token or route that does not exist.
    pub fn not_found(message: impl Into<String>) -> AdminError {
        AdminError(StatusCode::NOT_FOUND, message.into())
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

/// Parses an optional JSON body (empty or blank reads as the default); malformed JSON is a 400.
pub fn body<T: for<'de> Deserialize<'de> + Default>(bytes: &[u8]) -> Result<T, AdminError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|err| AdminError::bad_request(format!("invalid JSON body: {err}")))
}

/// The admin router, to be nested under `/_admin`: the shared verbs and the mock's `own` routes.
pub fn router<M: Mock>(mock: M, own: Router<M>) -> Router {
    let guarded = own
        .route("/switches", get(switches_get::<M>).patch(switches_patch::<M>).put(switches_put::<M>))
        .route("/faults", get(faults_get::<M>).put(faults_put::<M>).delete(faults_delete::<M>))
        .route("/journal", get(journal_get::<M>).delete(journal_clear::<M>))
        .route("/journal/seq", get(journal_seq::<M>))
        .route("/clock", get(clock_get::<M>).put(clock_put::<M>))
        .route("/clock/advance", post(clock_advance::<M>))
        .route("/reset", post(reset::<M>))
        .fallback(|| async { AdminError::not_found("no such admin endpoint") })
        .layer(from_fn_with_state(mock.clone(), require_admin::<M>));
    Router::new()
        .route("/health", get(|| async { Json(json!({ "status": "ok" })) }))
        .merge(guarded)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_ADMIN_BODY_BYTES))
        .with_state(mock)
}

/// Every admin route but health needs `Authorization: Bearer <admin token>`.
async fn require_admin<M: Mock>(State(mock): State<M>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    if presented != Some(mock.admin_token()) {
        return AdminError(StatusCode::UNAUTHORIZED, "admin bearer token missing or wrong".into()).into_response();
    }
    next.run(request).await
}

async fn switches_get<M: Mock>(State(mock): State<M>) -> Json<Value> {
    Json(mock.switches())
}

async fn switches_patch<M: Mock>(State(mock): State<M>, bytes: Bytes) -> Result<Json<Value>, AdminError> {
    let update: Map<String, Value> = body(&bytes)?;
    mock.set_switches(update, false).map(Json).map_err(AdminError::bad_request)
}

async fn switches_put<M: Mock>(State(mock): State<M>, bytes: Bytes) -> Result<Json<Value>, AdminError> {
    let update: Map<String, Value> = body(&bytes)?;
    mock.set_switches(update, true).map(Json).map_err(AdminError::bad_request)
}

async fn faults_get<M: Mock>(State(mock): State<M>) -> Json<FaultPlan> {
    Json(mock.with_core(|core| core.faults().clone()))
}

async fn faults_put<M: Mock>(State(mock): State<M>, bytes: Bytes) -> Result<Json<FaultPlan>, AdminError> {
    let plan: FaultPlan = body(&bytes)?;
    mock.with_core(|core| core.set_faults(plan.clone())).map_err(|err| AdminError::bad_request(err.to_string()))?;
    Ok(Json(plan))
}

async fn faults_delete<M: Mock>(State(mock): State<M>) -> StatusCode {
    mock.with_core(|core| core.clear_faults());
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
struct JournalQuery {
    since: Option<u64>,
}

async fn journal_get<M: Mock>(
    State(mock): State<M>,
    query: Result<Query<JournalQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<impl IntoResponse, AdminError> {
    let Query(query) = query.map_err(|err| AdminError::bad_request(err.body_text()))?;
    let entries = mock.with_core(|core| core.journal.since(query.since.unwrap_or(0)));
    // Written straight out, not through a `Value` tree: a journal of 100,000 exchanges is hundreds
    // of megabytes as one.
    serde_json::to_vec(&entries)
        .map(|body| ([(header::CONTENT_TYPE, "application/json")], body))
        .map_err(|err| AdminError(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()))
}

async fn journal_seq<M: Mock>(State(mock): State<M>) -> Json<Value> {
    Json(json!({ "seq": mock.with_core(|core| core.journal.seq()) }))
}

async fn journal_clear<M: Mock>(State(mock): State<M>) -> StatusCode {
    mock.with_core(|core| core.journal.clear());
    StatusCode::NO_CONTENT
}

fn clock_json<M: Mock>(mock: &M) -> Json<Value> {
    let (now, mode) = mock.with_core(|core| (core.now(), core.clock.mode()));
    let mut answer = Map::new();
    answer.insert("now".into(), json!(now));
    answer.insert("mode".into(), json!(mode));
    answer.extend(mock.clock_details());
    Json(Value::Object(answer))
}

async fn clock_get<M: Mock>(State(mock): State<M>) -> Json<Value> {
    clock_json(&mock)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockSet {
    mode: Option<ClockMode>,
    now: Option<Timestamp>,
}

async fn clock_put<M: Mock>(State(mock): State<M>, bytes: Bytes) -> Result<Json<Value>, AdminError> {
    let request: ClockSet = body(&bytes)?;
    mock.with_core(|core| {
        if let Some(mode) = request.mode {
            core.clock.set_mode(mode);
        }
        if let Some(now) = request.now {
            core.clock.set(now);
        }
    });
    Ok(clock_json(&mock))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    by: Option<String>,
    to: Option<Timestamp>,
}

/// `{"by":"PT40M"}` (an ISO-8601 duration, calendar units counted in UTC) or
/// `{"to":"2026-01-01T00:40:00Z"}` (an instant; one in the past moves nothing).
async fn clock_advance<M: Mock>(State(mock): State<M>, bytes: Bytes) -> Result<Json<Value>, AdminError> {
    let request: Advance = body(&bytes)?;
    let now = mock.with_core(|core| core.now());
    let until = match (request.by, request.to) {
        (Some(raw), None) => {
            let by =
                crate::clock::forward_by(now, &raw).map_err(|err| AdminError::bad_request(format!("\"by\": {err}")))?;
            now.saturating_add(by).unwrap_or(Timestamp::MAX)
        }
        (None, Some(to)) => to.max(now),
        (None, None) => {
            return Err(AdminError::bad_request(
                "missing \"by\", an ISO-8601 duration such as \"PT40M\", or \"to\", an instant",
            ));
        }
        (Some(_), Some(_)) => return Err(AdminError::bad_request("give one of \"by\" and \"to\", not both")),
    };
    mock.advance_to(until).await;
    Ok(clock_json(&mock))
}

async fn reset<M: Mock>(State(mock): State<M>) -> StatusCode {
    mock.reset();
    StatusCode::NO_CONTENT
}
