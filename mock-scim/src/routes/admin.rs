//! `/_admin`: what AWS does only in its console, or not at all — tenants and tokens, state,
//! switches, faults, journal, clock, reset. camelCase JSON, behind its own bearer token.

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::Timestamp;
use scenarios::tls::Scheme;
use scenarios::{FaultPlan, FaultState, RawExchange};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::clock::ClockMode;
use crate::state::AppState;
use crate::store::Token;
use crate::switches::{Switches, SwitchesUpdate};

/// An admin API failure: `{"error": "..."}` with a status.
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

fn not_found(message: impl Into<String>) -> AdminError {
    AdminError(StatusCode::NOT_FOUND, message.into())
}

/// Parses an optional JSON body; malformed JSON is a 400 in the admin envelope.
fn body<T: for<'de> Deserialize<'de> + Default>(bytes: &[u8]) -> Result<T, AdminError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|err| bad_request(format!("invalid JSON body: {err}")))
}

/// The admin router, to be nested under `/_admin`.
pub fn router(state: AppState) -> Router {
    let guarded = Router::new()
        .route("/tenants", get(tenants_list).post(tenants_create))
        .route("/tenants/{tenant}", axum::routing::delete(tenants_delete))
        .route("/tenants/{tenant}/tokens", get(tokens_list).post(tokens_create))
        .route("/tenants/{tenant}/tokens/{token}", axum::routing::delete(tokens_revoke))
        .route("/tenants/{tenant}/state", get(tenants_state))
        .route("/switches", get(switches_get).patch(switches_patch).put(switches_put))
        .route("/faults", get(faults_get).put(faults_put).delete(faults_delete))
        .route("/journal", get(journal_get).delete(journal_clear))
        .route("/journal/seq", get(journal_seq))
        .route("/clock", get(clock_get).put(clock_put))
        .route("/clock/advance", post(clock_advance))
        .route("/reset", post(reset))
        .fallback(|| async { not_found("no such admin endpoint") })
        .layer(from_fn_with_state(state.clone(), require_admin));
    Router::new()
        .route("/health", get(health))
        .merge(guarded)
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(state)
}

/// Every admin route but health needs `Authorization: Bearer <admin token>`.
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

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

fn scim_endpoint(scheme: Scheme, headers: &HeaderMap, tenant: &str) -> String {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("127.0.0.1");
    format!("{}://{host}/{tenant}/scim/v2/", scheme.as_str())
}

fn token_json(token: &Token) -> Value {
    json!({ "tokenId": token.id, "createdAt": token.created, "expiresAt": token.expires })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateTenant {
    tenant_id: Option<String>,
}

async fn tenants_create(
    State(state): State<AppState>,
    scheme: Scheme,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Result<Response, AdminError> {
    let request: CreateTenant = body(&bytes)?;
    let (tenant_id, token) =
        state.world().create_tenant(request.tenant_id).map_err(|e| AdminError(StatusCode::CONFLICT, e))?;
    let answer = json!({
        "tenantId": tenant_id,
        "scimEndpoint": scim_endpoint(scheme, &headers, &tenant_id),
        "accessToken": token.secret,
        "tokenId": token.id,
        "expiresAt": token.expires,
    });
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

async fn tenants_list(State(state): State<AppState>, scheme: Scheme, headers: HeaderMap) -> Json<Value> {
    let world = state.world();
    let tenants: Vec<Value> = world
        .tenants
        .iter()
        .map(|(id, t)| {
            json!({
                "tenantId": id,
                "scimEndpoint": scim_endpoint(scheme, &headers, id),
                "users": t.user_count(),
                "groups": t.group_count(),
                "tokens": t.tokens.iter().map(token_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(Value::Array(tenants))
}

async fn tenants_delete(State(state): State<AppState>, Path(tenant): Path<String>) -> Result<StatusCode, AdminError> {
    state
        .world()
        .tenants
        .remove(&tenant)
        .map(|_| StatusCode::NO_CONTENT)
        .ok_or_else(|| not_found(format!("no tenant {tenant}")))
}

async fn tokens_list(State(state): State<AppState>, Path(tenant): Path<String>) -> Result<Json<Value>, AdminError> {
    let world = state.world();
    let t = world.tenants.get(&tenant).ok_or_else(|| not_found(format!("no tenant {tenant}")))?;
    Ok(Json(Value::Array(t.tokens.iter().map(token_json).collect())))
}

async fn tokens_create(State(state): State<AppState>, Path(tenant): Path<String>) -> Result<Response, AdminError> {
    let mut world = state.world();
    if !world.tenants.contains_key(&tenant) {
        return Err(not_found(format!("no tenant {tenant}")));
    }
    let token = world.issue_token(&tenant).map_err(|e| AdminError(StatusCode::CONFLICT, e))?;
    let mut answer = token_json(&token);
    answer["accessToken"] = Value::String(token.secret);
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

async fn tokens_revoke(
    State(state): State<AppState>,
    Path((tenant, token)): Path<(String, String)>,
) -> Result<StatusCode, AdminError> {
    let mut world = state.world();
    let t = world.tenants.get_mut(&tenant).ok_or_else(|| not_found(format!("no tenant {tenant}")))?;
    let before = t.tokens.len();
    t.tokens.retain(|k| k.id != token);
    if t.tokens.len() == before {
        return Err(not_found(format!("no token {token} in tenant {tenant}")));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Users, and groups with their member ids: what the AWS console shows, which SCIM never returns.
async fn tenants_state(State(state): State<AppState>, Path(tenant): Path<String>) -> Result<Json<Value>, AdminError> {
    let world = state.world();
    let t = world.tenants.get(&tenant).ok_or_else(|| not_found(format!("no tenant {tenant}")))?;
    let users: Vec<Value> = t.users().map(|u| u.to_json()).collect();
    let groups: Vec<Value> = t
        .groups_with_members()
        .map(|(g, members)| {
            let mut json = g.to_json();
            json["members"] = json!(members);
            json
        })
        .collect();
    Ok(Json(json!({ "users": users, "groups": groups })))
}

async fn switches_get(State(state): State<AppState>) -> Json<Switches> {
    Json(state.world().switches.clone())
}

async fn switches_patch(State(state): State<AppState>, bytes: axum::body::Bytes) -> Result<Json<Switches>, AdminError> {
    let update: SwitchesUpdate = body(&bytes)?;
    let mut world = state.world();
    world.switches.apply(update).map_err(|problems| bad_request(problems.join("; ")))?;
    Ok(Json(world.switches.clone()))
}

/// Like PATCH, but starting from the defaults.
async fn switches_put(State(state): State<AppState>, bytes: axum::body::Bytes) -> Result<Json<Switches>, AdminError> {
    let update: SwitchesUpdate = body(&bytes)?;
    let mut switches = Switches::default();
    switches.apply(update).map_err(|problems| bad_request(problems.join("; ")))?;
    let mut world = state.world();
    world.switches = switches.clone();
    Ok(Json(switches))
}

async fn faults_get(State(state): State<AppState>) -> Json<FaultPlan> {
    Json(state.world().faults.clone())
}

async fn faults_put(State(state): State<AppState>, bytes: axum::body::Bytes) -> Result<Json<FaultPlan>, AdminError> {
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
#[serde(rename_all = "camelCase")]
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
    // Written straight out, not through a `Value` tree: a journal of 100,000 exchanges is hundreds
    // of megabytes as one.
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

fn clock_json(state: &AppState) -> Json<Value> {
    let world = state.world();
    Json(json!({ "now": world.clock.now(), "mode": world.clock.mode() }))
}

async fn clock_get(State(state): State<AppState>) -> Json<Value> {
    clock_json(&state)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClockSet {
    mode: Option<ClockMode>,
    now: Option<Timestamp>,
}

async fn clock_put(State(state): State<AppState>, bytes: axum::body::Bytes) -> Result<Json<Value>, AdminError> {
    let request: ClockSet = body(&bytes)?;
    {
        let mut world = state.world();
        if let Some(mode) = request.mode {
            world.clock.set_mode(mode);
        }
        if let Some(now) = request.now {
            world.clock.set(now);
        }
    }
    Ok(clock_json(&state))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    by: Option<String>,
}

/// `{"by":"PT40M"}`: an ISO-8601 duration, calendar units (`P1Y`) counted in UTC.
async fn clock_advance(State(state): State<AppState>, bytes: axum::body::Bytes) -> Result<Json<Value>, AdminError> {
    let request: Advance = body(&bytes)?;
    let raw = request.by.ok_or_else(|| bad_request("missing \"by\", an ISO-8601 duration such as \"PT40M\""))?;
    {
        let mut world = state.world();
        let by = scenarios::clock::forward_by(world.clock.now(), &raw)
            .map_err(|err| bad_request(format!("\"by\": {err}")))?;
        world.clock.advance(by);
    }
    Ok(clock_json(&state))
}

async fn reset(State(state): State<AppState>) -> StatusCode {
    state.world().reset();
    StatusCode::NO_CONTENT
}
