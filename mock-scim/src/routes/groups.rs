//! `/Groups` and `/Groups/{id}` (aws-scim.md §3).

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::{ListParams, Listing, json_body, json_response};
use crate::error::ScimError;
use crate::filter::{GroupQuery, group_query};
use crate::middleware::ScimContext;
use crate::model::{GroupInList, GroupInput};
use crate::patch;
use crate::state::{AppState, name_key};
use crate::switches::{GroupPut, ListApi};
use crate::validate;

/// `POST /Groups` → 201 without `members` (creategroup.html).
pub async fn groups_create(
    State(state): State<AppState>,
    Extension(ctx): Extension<ScimContext>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let input: GroupInput = json_body(&headers, &body)?;
    let mut world = state.world();
    validate::group(&input, &world.switches)?;
    let name = input.display_name.clone().unwrap_or_default();
    let key = name_key(&ctx.tenant, "group", &name);
    let id = world.resource_id_keyed(&key);
    let now = world.core.now();
    let tenant = world.tenants.get_mut(&ctx.tenant).ok_or_else(ScimError::endpoint_not_found)?;
    let response = json_response(StatusCode::CREATED, tenant.create_group(id, now, input)?);
    world.created_keyed(key);
    Ok(response)
}

/// `GET /Groups/{id}` → 200 without `members` (getgroup.html).
pub async fn groups_get(
    State(state): State<AppState>,
    Extension(ctx): Extension<ScimContext>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ScimError> {
    let world = state.world();
    let group = world.tenants.get(&ctx.tenant).and_then(|t| t.group(&id)).ok_or_else(ScimError::group_not_found)?;
    Ok(json_response(StatusCode::OK, &group))
}

/// `GET /Groups` with AWS's filters and paging; every entry has `"members": []` (listgroups.html).
pub async fn groups_list(
    State(state): State<AppState>,
    Extension(ctx): Extension<ScimContext>,
    uri: Uri,
) -> Result<Response, ScimError> {
    let params = ListParams::from_uri(&uri)?;
    let world = state.world();
    let switches = &world.switches;
    let query = group_query(params.filter.as_deref(), switches.list_api == ListApi::Cursor)?;
    let listing = Listing::new(&params, 'g', switches)?;
    let tenant = world.tenants.get(&ctx.tenant).ok_or_else(ScimError::endpoint_not_found)?;
    let page = tenant.find_groups(&query, listing.after, listing.count, switches)?;
    let resources: Vec<_> = page.keys.iter().filter_map(|k| tenant.group_by_key(*k)).map(GroupInList).collect();
    let filter = (query != GroupQuery::All).then_some(params.filter.as_deref()).flatten();
    Ok(json_response(StatusCode::OK, &listing.body(&page, resources, 'g', filter)))
}

/// `PATCH /Groups/{id}` → 204 (patchgroup.html).
pub async fn groups_patch(
    State(state): State<AppState>,
    Extension(ctx): Extension<ScimContext>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let body: Value = json_body(&headers, &body)?;
    let mut world = state.world();
    if world.tenants.get(&ctx.tenant).and_then(|t| t.group(&id)).is_none() {
        return Err(ScimError::group_not_found());
    }
    let changes = patch::group_changes(&patch::parse(&body)?)?;
    let now = world.core.now();
    let switches = world.switches.clone();
    let tenant = world.tenants.get_mut(&ctx.tenant).ok_or_else(ScimError::endpoint_not_found)?;
    tenant.patch_group(&id, now, &changes, &switches)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PUT /Groups/{id}`: undocumented; refused by default, accepted behind the `groupPut` switch
/// (aws-scim.md §1.3).
pub async fn groups_replace(
    State(state): State<AppState>,
    Extension(ctx): Extension<ScimContext>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let input: GroupInput = json_body(&headers, &body)?;
    let mut world = state.world();
    if world.tenants.get(&ctx.tenant).and_then(|t| t.group(&id)).is_none() {
        return Err(ScimError::group_not_found());
    }
    if world.switches.group_put == GroupPut::Refuse {
        return Err(ScimError::validation("PUT is not supported for groups"));
    }
    validate::group(&input, &world.switches)?;
    let now = world.core.now();
    let tenant = world.tenants.get_mut(&ctx.tenant).ok_or_else(ScimError::endpoint_not_found)?;
    let group = tenant.replace_group(&id, now, input)?;
    Ok(json_response(StatusCode::OK, &group))
}

/// `DELETE /Groups/{id}` → 204 (deletegroup.html).
pub async fn groups_delete(
    State(state): State<AppState>,
    Extension(ctx): Extension<ScimContext>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ScimError> {
    let mut world = state.world();
    let tenant = world.tenants.get_mut(&ctx.tenant).ok_or_else(ScimError::endpoint_not_found)?;
    tenant.delete_group(&id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
