//! `/_admin`: the verbs both mocks offer, with the same names, bodies and limits, behind the admin
//! bearer token (health excepted). A mock adds its own routes (tenants and tokens for mock-scim,
//! seeding and the directory for mock-graph) through [`router`]'s `own`.
//!
//! | verb | answer |
//! |---|---|
//! | `GET /health` | `{"status":"ok"}`, no token needed |
//! | `GET /switches` | every switch, with the journal's caps `journalCapacity` (exchanges, default 100,000) and `journalBytes` (bytes, default 256 MiB, at least 64 KiB) |
//! | `PATCH /switches` | changes what the body names; `PUT` starts from the defaults |
//! | `GET/PUT/DELETE /faults` | the fault plan; a `PUT` restarts its counters |
//! | `GET /journal?since=N[&format=jsonl]` | the exchanges after `N`, oldest first, as a JSON array or (`jsonl`) JSON Lines, one exchange a line; `DELETE` forgets them |
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

use super::{MockState, MockWorld, SwitchSet};
use crate::clock::ClockMode;
use crate::fault::FaultPlan;
use crate::mock_core::{DEFAULT_JOURNAL_BYTES, DEFAULT_JOURNAL_CAPACITY, MockCore};

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
pub fn router<W: MockWorld>(mock: MockState<W>, own: Router<MockState<W>>) -> Router {
    let guarded = own
        .route("/switches", get(switches_get::<W>).patch(switches_patch::<W>).put(switches_put::<W>))
        .route("/faults", get(faults_get::<W>).put(faults_put::<W>).delete(faults_delete::<W>))
        .route("/journal", get(journal_get::<W>).delete(journal_clear::<W>))
        .route("/journal/seq", get(journal_seq::<W>))
        .route("/clock", get(clock_get::<W>).put(clock_put::<W>))
        .route("/clock/advance", post(clock_advance::<W>))
        .route("/reset", post(reset::<W>))
        .fallback(|| async { AdminError::not_found("no such admin endpoint") })
        .layer(from_fn_with_state(mock.clone(), require_admin::<W>));
    Router::new()
        .route("/health", get(|| async { Json(json!({ "status": "ok" })) }))
        .merge(guarded)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_ADMIN_BODY_BYTES))
        .layer(axum::middleware::map_response(enveloped))
        .with_state(mock)
}

/// What axum answers on its own (a 405 on a known path, a body past the limit) in the admin
/// envelope, with axum's text, if any, as the message.
async fn enveloped(response: Response) -> Response {
    if !super::pipeline::is_bare_error(&response) {
        return response;
    }
    let status = response.status();
    let (head, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    let message = if text.is_empty() { status.canonical_reason().unwrap_or("refused").to_owned() } else { text };
    let mut answer = AdminError(status, message).into_response();
    if let Some(allow) = head.headers.get(header::ALLOW) {
        answer.headers_mut().insert(header::ALLOW, allow.clone());
    }
    answer
}

fn with_core<W: MockWorld, R>(mock: &MockState<W>, f: impl FnOnce(&mut MockCore) -> R) -> R {
    f(mock.world().core())
}

/// Every admin route but health needs `Authorization: Bearer <admin token>`.
async fn require_admin<W: MockWorld>(State(mock): State<MockState<W>>, request: Request, next: Next) -> Response {
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

/// The journal's cap on exchanges, kept by the core of either mock.
const JOURNAL_CAPACITY: &str = "journalCapacity";

/// The journal's cap on bytes, kept by the core of either mock.
const JOURNAL_BYTES: &str = "journalBytes";

/// The smallest `journalBytes`: room for one exchange's headers, so that a cap never keeps nothing.
const MIN_JOURNAL_BYTES: usize = 64 * 1024;

/// Every switch, `journalCapacity` and `journalBytes` last.
fn switches_json<W: MockWorld>(world: &mut W) -> Value {
    let (core, switches) = world.parts();
    let mut answer = json!(switches);
    if let Value::Object(map) = &mut answer {
        map.insert(JOURNAL_CAPACITY.to_owned(), json!(core.journal.capacity()));
        map.insert(JOURNAL_BYTES.to_owned(), json!(core.journal.max_bytes()));
    }
    answer
}

/// Changes what `update` names, from the current switches or from the defaults; all or nothing.
fn set_switches<W: MockWorld>(
    mock: &MockState<W>,
    mut update: Map<String, Value>,
    from_defaults: bool,
) -> Result<Json<Value>, AdminError> {
    let capacity = match update.remove(JOURNAL_CAPACITY) {
        None => from_defaults.then_some(DEFAULT_JOURNAL_CAPACITY),
        Some(value) => Some(value.as_u64().and_then(|n| usize::try_from(n).ok()).ok_or_else(|| {
            AdminError::bad_request(format!("{JOURNAL_CAPACITY}: must be a whole number of exchanges, got {value}"))
        })?),
    };
    let max_bytes = match update.remove(JOURNAL_BYTES) {
        None => from_defaults.then_some(DEFAULT_JOURNAL_BYTES),
        Some(value) => {
            Some(value.as_u64().and_then(|n| usize::try_from(n).ok()).filter(|n| *n >= MIN_JOURNAL_BYTES).ok_or_else(
                || {
                    AdminError::bad_request(format!(
                        "{JOURNAL_BYTES}: must be a whole number of bytes, at least {MIN_JOURNAL_BYTES}, got {value}"
                    ))
                },
            )?)
        }
    };
    let mut world = mock.world();
    let (core, switches) = world.parts();
    let base = if from_defaults { W::Switches::default() } else { switches.clone() };
    *switches = base.updated(update).map_err(|err| AdminError::bad_request(err.to_string()))?;
    if let Some(capacity) = capacity {
        core.journal.set_capacity(capacity);
    }
    if let Some(max_bytes) = max_bytes {
        core.journal.set_max_bytes(max_bytes);
    }
    Ok(Json(switches_json(&mut *world)))
}

async fn switches_get<W: MockWorld>(State(mock): State<MockState<W>>) -> Json<Value> {
    Json(switches_json(&mut *mock.world()))
}

async fn switches_patch<W: MockWorld>(
    State(mock): State<MockState<W>>,
    bytes: Bytes,
) -> Result<Json<Value>, AdminError> {
    set_switches(&mock, body(&bytes)?, false)
}

/// Like PATCH, but starting from the defaults.
async fn switches_put<W: MockWorld>(State(mock): State<MockState<W>>, bytes: Bytes) -> Result<Json<Value>, AdminError> {
    set_switches(&mock, body(&bytes)?, true)
}

async fn faults_get<W: MockWorld>(State(mock): State<MockState<W>>) -> Json<FaultPlan> {
    Json(with_core(&mock, |core| core.faults().clone()))
}

async fn faults_put<W: MockWorld>(
    State(mock): State<MockState<W>>,
    bytes: Bytes,
) -> Result<Json<FaultPlan>, AdminError> {
    let plan: FaultPlan = body(&bytes)?;
    with_core(&mock, |core| core.set_faults(plan.clone())).map_err(|err| AdminError::bad_request(err.to_string()))?;
    Ok(Json(plan))
}

async fn faults_delete<W: MockWorld>(State(mock): State<MockState<W>>) -> StatusCode {
    with_core(&mock, |core| core.clear_faults());
    StatusCode::NO_CONTENT
}

/// How many exchanges `GET /journal` parses under one hold of the lock.
const JOURNAL_PAGE: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JournalQuery {
    since: Option<u64>,
    format: Option<JournalFormat>,
}

/// How `GET /journal` writes the exchanges.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum JournalFormat {
    /// One JSON array (the default).
    Json,
    /// JSON Lines: one exchange a line, what `harness replay` and line-oriented tools read.
    Jsonl,
}

async fn journal_get<W: MockWorld>(
    State(mock): State<MockState<W>>,
    query: Result<Query<JournalQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<impl IntoResponse, AdminError> {
    let Query(query) = query.map_err(|err| AdminError::bad_request(err.body_text()))?;
    let failed = |err: serde_json::Error| AdminError(StatusCode::INTERNAL_SERVER_ERROR, err.to_string());
    let jsonl = matches!(query.format, Some(JournalFormat::Jsonl));
    // Written straight out, a page of parsed entries at a time (the lock released between pages),
    // not through one `Value` tree or one list of entries: a full journal is hundreds of megabytes,
    // and holding it parsed as well as written doubled what reading it cost. What was recorded
    // after the read began is left for the next one.
    let mut cursor = query.since.unwrap_or(0);
    let until = with_core(&mock, |core| core.journal.seq());
    let mut body = Vec::new();
    if !jsonl {
        body.push(b'[');
    }
    loop {
        let entries = with_core(&mock, |core| core.journal.page(cursor, until, JOURNAL_PAGE));
        let Some(last) = entries.last() else { break };
        cursor = last.seq;
        for entry in &entries {
            if !jsonl && body.len() > 1 {
                body.push(b',');
            }
            serde_json::to_writer(&mut body, entry).map_err(failed)?;
            if jsonl {
                body.push(b'\n');
            }
        }
    }
    if !jsonl {
        body.push(b']');
    }
    let content_type = if jsonl { "application/x-ndjson" } else { "application/json" };
    Ok(([(header::CONTENT_TYPE, content_type)], body))
}

async fn journal_seq<W: MockWorld>(State(mock): State<MockState<W>>) -> Json<Value> {
    Json(json!({ "seq": with_core(&mock, |core| core.journal.seq()) }))
}

async fn journal_clear<W: MockWorld>(State(mock): State<MockState<W>>) -> StatusCode {
    with_core(&mock, |core| core.journal.clear());
    StatusCode::NO_CONTENT
}

fn clock_json<W: MockWorld>(mock: &MockState<W>) -> Json<Value> {
    let (now, mode) = with_core(mock, |core| (core.now(), core.clock.mode()));
    let mut answer = Map::new();
    answer.insert("now".into(), json!(now));
    answer.insert("mode".into(), json!(mode));
    answer.extend(mock.world().clock_details());
    Json(Value::Object(answer))
}

async fn clock_get<W: MockWorld>(State(mock): State<MockState<W>>) -> Json<Value> {
    clock_json(&mock)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockSet {
    mode: Option<ClockMode>,
    now: Option<Timestamp>,
}

async fn clock_put<W: MockWorld>(State(mock): State<MockState<W>>, bytes: Bytes) -> Result<Json<Value>, AdminError> {
    let request: ClockSet = body(&bytes)?;
    with_core(&mock, |core| {
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
async fn clock_advance<W: MockWorld>(
    State(mock): State<MockState<W>>,
    bytes: Bytes,
) -> Result<Json<Value>, AdminError> {
    let request: Advance = body(&bytes)?;
    let now = with_core(&mock, |core| core.now());
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
    W::advance_to(&mock, until).await;
    Ok(clock_json(&mock))
}

async fn reset<W: MockWorld>(State(mock): State<MockState<W>>) -> StatusCode {
    mock.world().reset();
    StatusCode::NO_CONTENT
}
