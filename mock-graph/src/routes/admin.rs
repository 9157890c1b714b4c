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

use crate::apps::AWS_TEMPLATE_ID;
use crate::directory::{Directory, ObjectKind};
use crate::routes::project;
use crate::schema::{GROUP, USER};
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
        .route("/switches", get(switches_get).patch(switches_patch))
        .route("/faults", get(faults_get).put(faults_put).delete(faults_delete))
        .route("/journal", get(journal_get).delete(journal_clear))
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

/// What `POST /_admin/seed` takes.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Seed {
    #[serde(default)]
    users: Vec<Map<String, Value>>,
    #[serde(default)]
    groups: Vec<SeedGroup>,
    #[serde(default)]
    applications: Vec<SeedApplication>,
    #[serde(default)]
    assignments: Vec<SeedAssignment>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SeedGroup {
    display_name: String,
    #[serde(default)]
    mail_nickname: Option<String>,
    #[serde(default)]
    description: Option<String>,
    /// userPrincipalNames, group displayNames or object ids.
    #[serde(default)]
    members: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SeedApplication {
    display_name: String,
    #[serde(default)]
    template_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SeedAssignment {
    /// A userPrincipalName, group displayName or object id.
    principal: String,
    /// The application's displayName or appId.
    application: String,
    /// A role name (`User`, `msiam_access`) or id; the first role when omitted.
    #[serde(default)]
    app_role: Option<String>,
}

/// Resolves a seed reference: UPN, then group displayName, then object id.
fn resolve(dir: &Directory, reference: &str) -> Option<(ObjectKind, u64)> {
    if let Some(key) = dir.user_key(reference) {
        return Some((ObjectKind::User, key));
    }
    if let Some((key, _)) =
        dir.groups.iter().find(|(_, g)| g.get("displayName").and_then(Value::as_str) == Some(reference))
    {
        return Some((ObjectKind::Group, *key));
    }
    dir.lookup(reference)
}

/// Seeds users, groups with members, applications and assignments in one call, all or nothing.
/// Users get `accountEnabled: true`, a `mailNickname` and a password unless given.
async fn seed(State(state): State<AppState>, bytes: Bytes) -> Result<Json<Value>, AdminError> {
    let request: Seed = body(&bytes)?;
    let mut world = state.world();
    // All or nothing without copying the directory: on error, what this call created is undone.
    let mark = world.directory.mark();
    let rng = world.rng.clone();
    let outcome = apply_seed(&mut world, request);
    if outcome.is_err() {
        world.directory.rollback(mark);
        world.rng = rng;
    }
    outcome.map(Json)
}

fn apply_seed(world: &mut World, request: Seed) -> Result<Value, AdminError> {
    let now = world.clock.now();
    let mut users = Map::new();
    for (i, mut user) in request.users.into_iter().enumerate() {
        let upn = user.get("userPrincipalName").and_then(Value::as_str).unwrap_or_default().to_owned();
        let nickname = upn.split('@').next().unwrap_or_default().replace('#', "_");
        user.entry("accountEnabled").or_insert(json!(true));
        user.entry("mailNickname").or_insert(json!(nickname));
        user.entry("passwordProfile")
            .or_insert(json!({ "password": "Seeded-Password-1", "forceChangePasswordNextSignIn": false }));
        user.entry("displayName").or_insert(json!(upn));
        let id = world.uuid();
        world
            .directory
            .create_user(id.clone(), now, user)
            .map_err(|e| bad_request(format!("users[{i}]: {}", e.message)))?;
        users.insert(upn, json!(id));
    }
    let mut groups = Map::new();
    for (i, group) in request.groups.into_iter().enumerate() {
        let nickname = group.mail_nickname.clone().unwrap_or_else(|| {
            let cleaned: String = group.display_name.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
            if cleaned.is_empty() { "group".to_owned() } else { cleaned }
        });
        let mut body = json!({ "displayName": group.display_name, "mailEnabled": false, "mailNickname": nickname, "securityEnabled": true });
        if let Some(description) = group.description {
            body["description"] = json!(description);
        }
        let id = world.uuid();
        let body = body.as_object().cloned().unwrap_or_default();
        let key = world
            .directory
            .create_group(id.clone(), now, body)
            .map_err(|e| bad_request(format!("groups[{i}]: {}", e.message)))?;
        groups.insert(group.display_name.clone(), json!(id));
        for (j, member) in group.members.iter().enumerate() {
            let (kind, member_key) = resolve(&world.directory, member)
                .ok_or_else(|| bad_request(format!("groups[{i}].members[{j}]: no user, group or object {member:?}")))?;
            let member_id = world.directory.object_id(kind, member_key);
            world
                .directory
                .add_member(key, &member_id)
                .map_err(|e| bad_request(format!("groups[{i}].members[{j}]: {}", e.message)))?;
        }
    }
    let mut applications = Map::new();
    for (i, app) in request.applications.into_iter().enumerate() {
        let ids = [world.uuid(), world.uuid(), world.uuid()];
        let tenant_id = world.tenant.id.clone();
        let template = app.template_id.as_deref().unwrap_or(AWS_TEMPLATE_ID);
        let (app_key, sp_key) = world
            .directory
            .instantiate(template, &app.display_name, ids, &tenant_id, now)
            .map_err(|e| bad_request(format!("applications[{i}]: {}", e.message)))?;
        let field = |map: Option<&Map<String, Value>>, name: &str| {
            map.and_then(|m| m.get(name)).cloned().unwrap_or(Value::Null)
        };
        applications.insert(
            app.display_name,
            json!({
                "applicationId": field(world.directory.applications.get(&app_key), "id"),
                "appId": field(world.directory.applications.get(&app_key), "appId"),
                "servicePrincipalId": field(world.directory.service_principals.get(&sp_key), "id"),
            }),
        );
    }
    let mut assignments = Vec::new();
    for (i, assignment) in request.assignments.into_iter().enumerate() {
        let at = |what: &str| bad_request(format!("assignments[{i}]: {what}"));
        let dir = &world.directory;
        let (sp_key, sp) = dir
            .service_principals
            .iter()
            .find(|(_, sp)| {
                sp.get("displayName").and_then(Value::as_str) == Some(assignment.application.as_str())
                    || sp.get("appId").and_then(Value::as_str) == Some(assignment.application.as_str())
            })
            .ok_or_else(|| at(&format!("no application {:?}", assignment.application)))?;
        let roles = sp.get("appRoles").and_then(Value::as_array).cloned().unwrap_or_default();
        let role = match &assignment.app_role {
            Some(wanted) => roles.iter().find(|r| {
                r.get("displayName").and_then(Value::as_str) == Some(wanted)
                    || r.get("id").and_then(Value::as_str) == Some(wanted)
            }),
            None => roles.first(),
        };
        let role_id = role.and_then(|r| r.get("id")).cloned().unwrap_or(json!(crate::apps::DEFAULT_ACCESS_ROLE));
        let (kind, principal) = resolve(dir, &assignment.principal)
            .ok_or_else(|| at(&format!("no principal {:?}", assignment.principal)))?;
        let principal_id = dir.object_id(kind, principal);
        let sp_id = sp.get("id").cloned().unwrap_or(Value::Null);
        let sp_key = *sp_key;
        let body = json!({ "principalId": principal_id, "resourceId": sp_id, "appRoleId": role_id });
        let random = world.bytes16();
        let key = world
            .directory
            .assign(sp_key, body.as_object().unwrap_or(&Map::new()), random, now)
            .map_err(|e| at(&e.message))?;
        assignments
            .push(world.directory.assignments.get(&key).and_then(|a| a.get("id")).cloned().unwrap_or(Value::Null));
    }
    Ok(json!({ "users": users, "groups": groups, "applications": applications, "assignments": assignments }))
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
    let next = world.switches.patched(update).map_err(bad_request)?;
    world.switches = next.clone();
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
) -> Result<Json<Value>, AdminError> {
    let Query(query) = query.map_err(|err| bad_request(err.body_text()))?;
    let since = query.since.unwrap_or(0);
    let world = state.world();
    let entries: Vec<_> = world.journal.iter().filter(|e| e.seq > since).map(RawExchange::to_entry).collect();
    serde_json::to_value(entries)
        .map(Json)
        .map_err(|err| AdminError(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()))
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
