//! `/Users` and `/Users/{id}` (aws-scim.md §2.6).

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::{ListParams, Listing, json_body, json_response};
use crate::error::ScimError;
use crate::filter::{UserQuery, user_query};
use crate::middleware::ScimContext;
use crate::model::UserInput;
use crate::patch;
use crate::state::{AppState, name_key};
use crate::switches::ListApi;
use crate::validate;

/// `POST /Users` → 201 with the full user (createuser.html).
pub async fn users_create(
    State(state): State<AppState>,
    Extension(ctx): Extension<ScimContext>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let input: UserInput = json_body(&headers, &body)?;
    let mut world = state.world();
    validate::user(&input, &world.switches, true)?;
    let name = input.user_name.clone().unwrap_or_default();
    let key = name_key(&ctx.tenant, "user", &name);
    let id = world.resource_id_keyed(&key);
    let now = world.core.now();
    let switches = world.switches.clone();
    let tenant = world.tenants.get_mut(&ctx.tenant).ok_or_else(ScimError::endpoint_not_found)?;
    let response = json_response(StatusCode::CREATED, tenant.create_user(id, now, input, &switches)?);
    world.created_keyed(key);
    Ok(response)
}

/// `GET /Users/{id}` → 200, or 404 "Specified user does not exist."
pub async fn users_get(
    State(state): State<AppState>,
    Extension(ctx): Extension<ScimContext>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ScimError> {
    let world = state.world();
    let user = world.tenants.get(&ctx.tenant).and_then(|t| t.user(&id)).ok_or_else(ScimError::user_not_found)?;
    Ok(json_response(StatusCode::OK, &user))
}

/// `GET /Users` with AWS's filters and paging (listusers.html).
pub async fn users_list(
    State(state): State<AppState>,
    Extension(ctx): Extension<ScimContext>,
    uri: Uri,
) -> Result<Response, ScimError> {
    let params = ListParams::from_uri(&uri)?;
    let world = state.world();
    let switches = &world.switches;
    let query = user_query(params.filter.as_deref(), switches.list_api == ListApi::Cursor)?;
    let listing = Listing::new(&params, 'u', switches)?;
    let tenant = world.tenants.get(&ctx.tenant).ok_or_else(ScimError::endpoint_not_found)?;
    let page = tenant.find_users(&query, listing.after, listing.count, switches)?;
    let resources: Vec<_> = page.keys.iter().filter_map(|k| tenant.user_by_key(*k)).collect();
    let filter = (query != UserQuery::All).then_some(params.filter.as_deref()).flatten();
    Ok(json_response(StatusCode::OK, &listing.body(&page, resources, 'u', filter)))
}

/// `PUT /Users/{id}` → 200 with the user; same rules as create (putuser.html).
pub async fn users_replace(
    State(state): State<AppState>,
    Extension(ctx): Extension<ScimContext>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let input: UserInput = json_body(&headers, &body)?;
    let mut world = state.world();
    if world.tenants.get(&ctx.tenant).and_then(|t| t.user(&id)).is_none() {
        return Err(ScimError::user_not_found());
    }
    validate::user(&input, &world.switches, true)?;
    let now = world.core.now();
    let switches = world.switches.clone();
    let tenant = world.tenants.get_mut(&ctx.tenant).ok_or_else(ScimError::endpoint_not_found)?;
    let user = tenant.replace_user(&id, now, input, &switches)?;
    Ok(json_response(StatusCode::OK, &user))
}

/// `PATCH /Users/{id}` → 200 with the full user (patchuser.html).
pub async fn users_patch(
    State(state): State<AppState>,
    Extension(ctx): Extension<ScimContext>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let body: Value = json_body(&headers, &body)?;
    let mut world = state.world();
    let current = world.tenants.get(&ctx.tenant).and_then(|t| t.user(&id)).ok_or_else(ScimError::user_not_found)?;
    let operations = patch::parse(&body)?;
    let mut json = current.to_json();
    patch::apply_to_user(&mut json, &operations)?;
    let input: UserInput =
        serde_json::from_value(json).map_err(|err| ScimError::validation(format!("Request violates schema: {err}")))?;
    validate::user(&input, &world.switches, false)?;
    let now = world.core.now();
    let switches = world.switches.clone();
    let tenant = world.tenants.get_mut(&ctx.tenant).ok_or_else(ScimError::endpoint_not_found)?;
    let user = tenant.replace_user(&id, now, input, &switches)?;
    Ok(json_response(StatusCode::OK, &user))
}

/// `DELETE /Users/{id}` → 204 (deleteuser.html).
pub async fn users_delete(
    State(state): State<AppState>,
    Extension(ctx): Extension<ScimContext>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ScimError> {
    let mut world = state.world();
    let tenant = world.tenants.get_mut(&ctx.tenant).ok_or_else(ScimError::endpoint_not_found)?;
    tenant.delete_user(&id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
