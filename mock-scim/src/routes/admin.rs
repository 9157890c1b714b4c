//! `/_admin`: what AWS does only in its console, or not at all — tenants and tokens, state,
//! switches, faults, journal, clock, reset. camelCase JSON, behind its own bearer token.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use scenarios::serve::admin::{self, AdminError, body};
use scenarios::tls::Scheme;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::state::AppState;
use crate::store::Token;

/// The admin router, to be nested under `/_admin`: the shared verbs (`scenarios::serve::admin`) and
/// AWS's console: tenants, tokens, state.
pub fn router(state: AppState) -> Router {
    let own = Router::new()
        .route("/tenants", get(tenants_list).post(tenants_create))
        .route("/tenants/{tenant}", axum::routing::delete(tenants_delete))
        .route("/tenants/{tenant}/tokens", get(tokens_list).post(tokens_create))
        .route("/tenants/{tenant}/tokens/{token}", axum::routing::delete(tokens_revoke))
        .route("/tenants/{tenant}/state", get(tenants_state));
    admin::router(state, own)
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
        state.world().create_tenant(request.tenant_id).map_err(|e| AdminError(e.status(), e.to_string()))?;
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
        .ok_or_else(|| AdminError::not_found(format!("no tenant {tenant}")))
}

async fn tokens_list(State(state): State<AppState>, Path(tenant): Path<String>) -> Result<Json<Value>, AdminError> {
    let world = state.world();
    let t = world.tenants.get(&tenant).ok_or_else(|| AdminError::not_found(format!("no tenant {tenant}")))?;
    Ok(Json(Value::Array(t.tokens.iter().map(token_json).collect())))
}

async fn tokens_create(State(state): State<AppState>, Path(tenant): Path<String>) -> Result<Response, AdminError> {
    let mut world = state.world();
    if !world.tenants.contains_key(&tenant) {
        return Err(AdminError::not_found(format!("no tenant {tenant}")));
    }
    let token = world.issue_token(&tenant).map_err(|e| AdminError(e.status(), e.to_string()))?;
    let mut answer = token_json(&token);
    answer["accessToken"] = Value::String(token.secret);
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

async fn tokens_revoke(
    State(state): State<AppState>,
    Path((tenant, token)): Path<(String, String)>,
) -> Result<StatusCode, AdminError> {
    let mut world = state.world();
    let t = world.tenants.get_mut(&tenant).ok_or_else(|| AdminError::not_found(format!("no tenant {tenant}")))?;
    let before = t.tokens.len();
    t.tokens.retain(|k| k.id != token);
    if t.tokens.len() == before {
        return Err(AdminError::not_found(format!("no token {token} in tenant {tenant}")));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Users, and groups with their member ids: what the AWS console shows, which SCIM never returns.
async fn tenants_state(State(state): State<AppState>, Path(tenant): Path<String>) -> Result<Json<Value>, AdminError> {
    let world = state.world();
    let t = world.tenants.get(&tenant).ok_or_else(|| AdminError::not_found(format!("no tenant {tenant}")))?;
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
