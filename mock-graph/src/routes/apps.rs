//! Application templates, applications, service principals and app role assignments
//! (microsoft-graph.md §2.4–§2.5).

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{Collection, Source, annotated_object, context, json_response, list, project, query, single};
use crate::apps::templates;
use crate::directory::{Key, ObjectKind};
use crate::error::GraphError;
use crate::middleware::RequestContext;
use crate::odata::QueryOptions;
use crate::schema::{
    APP_ROLE_ASSIGNMENT, APP_ROLE_ASSIGNMENT_BODY, APPLICATION, APPLICATION_TEMPLATE, Entity, SERVICE_PRINCIPAL,
    UNTYPED_BODY,
};
use crate::state::AppState;

const ASSIGNMENTS: &[&Entity] = &[&APP_ROLE_ASSIGNMENT];

/// `GET /applicationTemplates` (with `$filter=displayName eq '…'`).
pub async fn templates_list(
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, GraphError> {
    let options = query(&uri)?;
    let all = templates();
    let items = Source::List(all.iter().enumerate().map(|(i, t)| (i as Key + 1, ObjectKind::Application, t)).collect());
    let collection =
        Collection::of(&APPLICATION_TEMPLATE, "applicationTemplates", items).projected_as(&APPLICATION_TEMPLATE);
    list(&ctx, &headers, uri.path(), &options, collection)
}

/// `GET /applicationTemplates/{id}`.
pub async fn templates_get(
    Extension(ctx): Extension<RequestContext>,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let options = query(&uri)?;
    let template = templates()
        .into_iter()
        .find(|t| t.get("id").and_then(Value::as_str) == Some(id.as_str()))
        .ok_or_else(|| GraphError::not_found(&id))?;
    single(&ctx, &options, &APPLICATION_TEMPLATE, &template, StatusCode::OK)
}

/// `POST /applicationTemplates/{id}/instantiate` `{"displayName"}` → 201 applicationServicePrincipal.
pub async fn templates_instantiate(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let body = annotated_object(&body, &UNTYPED_BODY)?;
    if let Some(other) = body.keys().find(|k| *k != "displayName") {
        return Err(GraphError::unknown_property(other));
    }
    let display_name = body
        .get("displayName")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| GraphError::invalid_value("displayName", "ApplicationTemplate"))?
        .to_owned();
    let mut world = state.world();
    let ids = [world.uuid(), world.uuid(), world.uuid()];
    let now = world.core.clock.now();
    let tenant_id = world.tenant.id.clone();
    let (app, sp) = world.directory.instantiate(&id, &display_name, ids, &tenant_id, now)?;
    let dir = &world.directory;
    let body = json!({
        "@odata.context": context(&ctx, "microsoft.graph.applicationServicePrincipal"),
        "application": dir.applications.get(&app),
        "servicePrincipal": dir.service_principals.get(&sp),
    });
    Ok(json_response(StatusCode::CREATED, body))
}

/// `GET /applications`.
pub async fn applications_list(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, GraphError> {
    let options = query(&uri)?;
    let world = state.world();
    let items = Source::Set(&world.directory.applications, ObjectKind::Application);
    let collection = Collection::of(&APPLICATION, "applications", items);
    list(&ctx, &headers, uri.path(), &options, collection)
}

/// `GET /applications/{id}`.
pub async fn applications_get(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let options = query(&uri)?;
    let world = state.world();
    let key = world.directory.application_key(&id).ok_or_else(|| GraphError::not_found(&id))?;
    let app = world.directory.applications.get(&key).ok_or_else(|| GraphError::not_found(&id))?;
    single(&ctx, &options, &APPLICATION, app, StatusCode::OK)
}

/// `DELETE /applications/{id}` → 204, with its service principal.
pub async fn applications_delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let mut world = state.world();
    let key = world.directory.application_key(&id).ok_or_else(|| GraphError::not_found(&id))?;
    world.directory.delete_application(key)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /servicePrincipals` (with `$filter=appId eq '…'`).
pub async fn service_principals_list(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, GraphError> {
    let options = query(&uri)?;
    let world = state.world();
    let items = Source::Set(&world.directory.service_principals, ObjectKind::ServicePrincipal);
    let collection = Collection::of(&SERVICE_PRINCIPAL, "servicePrincipals", items);
    list(&ctx, &headers, uri.path(), &options, collection)
}

fn sp_key(world: &crate::state::World, id: &str) -> Result<Key, GraphError> {
    world.directory.service_principal_key(id).ok_or_else(|| GraphError::not_found(id))
}

/// `GET /servicePrincipals/{id}`.
pub async fn service_principals_get(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let options = query(&uri)?;
    let world = state.world();
    let key = sp_key(&world, &id)?;
    let sp = world.directory.service_principals.get(&key).ok_or_else(|| GraphError::not_found(&id))?;
    single(&ctx, &options, &SERVICE_PRINCIPAL, sp, StatusCode::OK)
}

/// `DELETE /servicePrincipals/{id}` → 204.
pub async fn service_principals_delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let mut world = state.world();
    let key = sp_key(&world, &id)?;
    world.directory.delete_service_principal(key)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Lists assignments under the shared OData rules.
pub fn assignment_list(
    ctx: &RequestContext,
    headers: &HeaderMap,
    uri: &Uri,
    options: &QueryOptions,
    items: Vec<super::Item<'_>>,
) -> Result<Response, GraphError> {
    let collection = Collection::of(&APP_ROLE_ASSIGNMENT, "appRoleAssignments", Source::List(items))
        .of_kinds(ASSIGNMENTS)
        .projected_as(&APP_ROLE_ASSIGNMENT);
    list(ctx, headers, uri.path(), options, collection)
}

/// `GET /servicePrincipals/{id}/appRoleAssignedTo`.
pub async fn assigned_to_list(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let options = query(&uri)?;
    let world = state.world();
    let key = sp_key(&world, &id)?;
    let items = world.directory.assignments_on(key).map(|(k, a)| (k, ObjectKind::User, a)).collect();
    let mut collection = Collection::of(&APP_ROLE_ASSIGNMENT, "", Source::List(items))
        .of_kinds(ASSIGNMENTS)
        .projected_as(&APP_ROLE_ASSIGNMENT);
    let set = format!("servicePrincipals('{id}')/appRoleAssignedTo");
    collection.set = &set;
    list(&ctx, &headers, uri.path(), &options, collection)
}

/// `POST /servicePrincipals/{id}/appRoleAssignedTo` → 201 (§2.4); the SDKs' `@odata.type` is read
/// and dropped.
pub async fn assigned_to_create(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let body = annotated_object(&body, &APP_ROLE_ASSIGNMENT_BODY)?;
    let mut world = state.world();
    let key = sp_key(&world, &id)?;
    let random = world.bytes16();
    let now = world.core.clock.now();
    let assignment = world.directory.assign(key, &body, random, now)?;
    let stored = world.directory.assignments.get(&assignment).ok_or_else(|| GraphError::not_found(&id))?;
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(context(&ctx, &format!("servicePrincipals('{id}')/appRoleAssignedTo/$entity"))),
    );
    out.extend(project(&APP_ROLE_ASSIGNMENT, stored, None));
    Ok(json_response(StatusCode::CREATED, Value::Object(out)))
}

/// `DELETE /servicePrincipals/{id}/appRoleAssignedTo/{assignmentId}` → 204 (inferred status).
pub async fn assigned_to_delete(
    State(state): State<AppState>,
    Path((id, assignment)): Path<(String, String)>,
) -> Result<Response, GraphError> {
    let mut world = state.world();
    let key = sp_key(&world, &id)?;
    let assignment_key =
        world.directory.assignment_key(&assignment).ok_or_else(|| GraphError::not_found(&assignment))?;
    let on_this = world.directory.assignments_on(key).any(|(k, _)| k == assignment_key);
    if !on_this {
        return Err(GraphError::not_found(&assignment));
    }
    world.directory.remove_assignment(assignment_key);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Alternate keys: `servicePrincipals(appId='…')`, `applications(appId='…')`,
/// `users(userPrincipalName='…')` (§2.1, §2.4); everything else under `/v1.0` is an unknown segment.
pub async fn alternate_key_or_unknown(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, GraphError> {
    let path = uri.path().trim_start_matches("/v1.0/");
    let decoded = crate::odata::percent_decode(path);
    let options = query(&uri)?;
    let world = state.world();
    let dir = &world.directory;
    let key_of =
        |prefix: &str| decoded.strip_prefix(prefix).and_then(|rest| rest.strip_suffix("')")).map(str::to_owned);
    if let Some(app_id) = key_of("servicePrincipals(appId='") {
        let key = dir.sp_by_app_id.get(&app_id).ok_or_else(|| GraphError::not_found(&app_id))?;
        let sp = dir.service_principals.get(key).ok_or_else(|| GraphError::not_found(&app_id))?;
        return single(&ctx, &options, &SERVICE_PRINCIPAL, sp, StatusCode::OK);
    }
    if let Some(app_id) = key_of("applications(appId='") {
        let key = dir.app_by_app_id.get(&app_id).ok_or_else(|| GraphError::not_found(&app_id))?;
        let app = dir.applications.get(key).ok_or_else(|| GraphError::not_found(&app_id))?;
        return single(&ctx, &options, &APPLICATION, app, StatusCode::OK);
    }
    if let Some(upn) = key_of("users(userPrincipalName='") {
        let key = dir.user_key(&upn).ok_or_else(|| GraphError::not_found(&upn))?;
        let user = dir.users.get(&key).ok_or_else(|| GraphError::not_found(&upn))?;
        return single(&ctx, &options, &crate::schema::USER, user, StatusCode::OK);
    }
    let first = decoded.split('/').find(|s| !s.is_empty()).unwrap_or("");
    Err(GraphError::unknown_segment(first))
}
