//! `/_admin`: what Entra does only in its portal or not at all — bulk seeding, a snapshot of the
//! whole directory, switches, faults, journal, clock, delta reset, reset. camelCase JSON, behind its
//! own bearer token, the same shape as mock-scim's.

use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::Timestamp;
use scenarios::{FaultPlan, FaultState, RawExchange};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::routes::project;
use crate::schema::{GROUP, USER};
use crate::seed::Seed;
use crate::state::{AppState, Switches, World};

/// An admin failure: `{"error": "…"}`.
#[derive(Debug)]
pub struct AdminError(StatusCode, String);

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

fn bad_request(message: impl Into<String>) -> AdminError {
    AdminError(StatusCode::BAD_REQUEST, message.into())
}

fn body<T: for<'de> Deserialize<'de> + Default>(bytes: &[u8]) -> Result<T, AdminError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|err| bad_request(format!("invalid JSON body: {err}")))
}

/// The admin router, nested under `/_admin`.
pub fn router(state: AppState) -> Router {
    let guarded = Router::new()
        .route("/seed", post(seed))
        .route("/directory", get(snapshot))
        .route("/switches", get(switches_get).patch(switches_patch).put(switches_put))
        .route("/faults", get(faults_get).put(faults_put).delete(faults_delete))
        .route("/journal", get(journal_get).delete(journal_clear))
        .route("/journal/seq", get(journal_seq))
        .route("/clock", get(clock_get))
        .route("/clock/advance", post(clock_advance))
        .route("/delta/reset", post(delta_reset))
        .route("/reset", post(reset))
        .fallback(|| async { AdminError(StatusCode::NOT_FOUND, "no such admin endpoint".into()) })
        .layer(from_fn_with_state(state.clone(), require_admin));
    // Bulk seeding sends 100,000 users in one call: far above axum's 2 MiB default.
    Router::new()
        .route("/health", get(|| async { Json(json!({ "status": "ok" })) }))
        .merge(guarded)
        .layer(axum::extract::DefaultBodyLimit::max(512 * 1024 * 1024))
        .with_state(state)
}

async fn require_admin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    if presented != Some(state.admin_token()) {
        return AdminError(StatusCode::UNAUTHORIZED, "admin bearer token missing or wrong".into()).into_response();
    }
    next.run(request).await
}

/// Seeds users, groups with members, applications and assignments in one call, all or nothing.
/// Users get `accountEnabled: true`, a `mailNickname` and a password unless given.
async fn seed(State(state): State<AppState>, bytes: Bytes) -> Result<Json<Value>, AdminError> {
    let request: Seed = body(&bytes)?;
    state.world().seed(request).map(Json).map_err(|err| bad_request(err.to_string()))
}

/// The whole directory: users and groups with every property, group member ids, applications,
/// service principals and assignments.
async fn snapshot(State(state): State<AppState>) -> Json<Value> {
    let world = state.world();
    let dir = &world.directory;
    let all = |entity: &'static crate::schema::Entity| entity.properties.iter().map(|p| p.name).collect::<Vec<_>>();
    let user_names = all(&USER);
    let group_names = all(&GROUP);
    let users: Vec<Value> = dir.users.values().map(|u| Value::Object(project(&USER, u, Some(&user_names)))).collect();
    let groups: Vec<Value> = dir
        .groups
        .iter()
        .map(|(key, g)| {
            let mut group = project(&GROUP, g, Some(&group_names));
            let members: Vec<String> = dir.members_of(*key).map(|(kind, k)| dir.object_id(kind, k)).collect();
            group.insert("members".into(), json!(members));
            Value::Object(group)
        })
        .collect();
    Json(json!({
        "users": users,
        "groups": groups,
        "applications": dir.applications.values().collect::<Vec<_>>(),
        "servicePrincipals": dir.service_principals.values().collect::<Vec<_>>(),
        "appRoleAssignments": dir.assignments.values().collect::<Vec<_>>(),
    }))
}

async fn switches_get(State(state): State<AppState>) -> Json<Switches> {
    Json(state.world().switches.clone())
}

async fn switches_patch(State(state): State<AppState>, bytes: Bytes) -> Result<Json<Switches>, AdminError> {
    let update: Map<String, Value> = body(&bytes)?;
    let mut world = state.world();
    let next = world.switches.patched(update).map_err(|err| bad_request(err.to_string()))?;
    world.switches = next.clone();
    Ok(Json(next))
}

/// Every switch at once: the defaults with what the body names (as mock-scim's `PUT`).
async fn switches_put(State(state): State<AppState>, bytes: Bytes) -> Result<Json<Switches>, AdminError> {
    let update: Map<String, Value> = body(&bytes)?;
    let next = Switches::default().patched(update).map_err(|err| bad_request(err.to_string()))?;
    state.world().switches = next.clone();
    Ok(Json(next))
}

async fn faults_get(State(state): State<AppState>) -> Json<FaultPlan> {
    Json(state.world().faults.clone())
}

async fn faults_put(State(state): State<AppState>, bytes: Bytes) -> Result<Json<FaultPlan>, AdminError> {
    let plan: FaultPlan = body(&bytes)?;
    plan.validate().map_err(|err| bad_request(err.to_string()))?;
    let mut world = state.world();
    world.faults = plan.clone();
    world.fault_state = FaultState::default();
    Ok(Json(plan))
}

async fn faults_delete(State(state): State<AppState>) -> StatusCode {
    let mut world = state.world();
    world.faults = FaultPlan::default();
    world.fault_state = FaultState::default();
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
struct JournalQuery {
    since: Option<u64>,
}

async fn journal_get(
    State(state): State<AppState>,
    query: Result<Query<JournalQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<impl IntoResponse, AdminError> {
    let Query(query) = query.map_err(|err| bad_request(err.body_text()))?;
    let since = query.since.unwrap_or(0);
    let entries: Vec<_> = {
        let world = state.world();
        world.journal.iter().filter(|e| e.seq > since).map(RawExchange::to_entry).collect()
    };
    // Written straight out, not through a `Value` tree, as mock-scim's.
    serde_json::to_vec(&entries)
        .map(|body| ([(header::CONTENT_TYPE, "application/json")], body))
        .map_err(|err| AdminError(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()))
}

/// The `seq` of the newest exchange recorded (0 before any): where a later `?since=` starts.
async fn journal_seq(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "seq": state.world().journal_seq }))
}

async fn journal_clear(State(state): State<AppState>) -> StatusCode {
    state.world().journal.clear();
    StatusCode::NO_CONTENT
}

/// The clock, and when the next provisioning cycle falls due (`null` when no job is scheduled): what a
/// driver that keeps another clock on the same timeline (the harness, for AWS's) steps by.
fn clock_json(world: &World) -> Json<Value> {
    let next_cycle = world.provisioning.jobs.values().filter_map(|job| job.next_run).min();
    Json(json!({ "now": world.clock.now(), "mode": world.clock.mode(), "nextCycleAt": next_cycle }))
}

async fn clock_get(State(state): State<AppState>) -> Json<Value> {
    clock_json(&state.world())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    by: Option<String>,
    to: Option<Timestamp>,
}

/// `{"by":"PT40M"}` (an ISO-8601 duration) or `{"to":"2026-01-01T00:40:00Z"}` (an instant; one in the
/// past moves nothing): the cycles due in between run first, each at its own instant.
async fn clock_advance(State(state): State<AppState>, bytes: Bytes) -> Result<Json<Value>, AdminError> {
    let request: Advance = body(&bytes)?;
    let until = {
        let world = state.world();
        let now = world.clock.now();
        match (request.by, request.to) {
            (Some(raw), None) => {
                let by =
                    scenarios::clock::forward_by(now, &raw).map_err(|err| bad_request(format!("\"by\": {err}")))?;
                now.saturating_add(by).unwrap_or(now)
            }
            (None, Some(to)) => to.max(now),
            _ => {
                return Err(bad_request(
                    "give one of \"by\" (an ISO-8601 duration such as \"PT40M\") and \"to\" (an instant)",
                ));
            }
        }
    };
    // Every provisioning cycle that falls due runs, to completion, before the answer.
    crate::provisioning::run_due(&state, until).await;
    Ok(clock_json(&state.world()))
}

/// Makes every outstanding delta token answer `410 Gone`, as a service-side resync would (§4).
async fn delta_reset(State(state): State<AppState>) -> StatusCode {
    state.world().delta_generation += 1;
    StatusCode::NO_CONTENT
}

async fn reset(State(state): State<AppState>) -> StatusCode {
    state.world().reset();
    StatusCode::NO_CONTENT
}
