//! `/v1.0/users`, `/v1.0/groups`, their members and memberships, a user's manager,
//! `/v1.0/directoryObjects`, and delta (microsoft-graph.md §2.1–§2.3, §4).

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{
    Collection, Source, annotated_object, count_segment, entity_of, expanded_members, json_object, json_response, list,
    next_link, query, single,
};
use crate::delta::{self, DeltaError};
use crate::directory::{Key, ObjectKind};
use crate::error::GraphError;
use crate::middleware::RequestContext;
use crate::schema::{GROUP, GROUP_BODY, SERVICE_PRINCIPAL, UNTYPED_BODY, USER, USER_BODY};
use crate::state::AppState;

const DIRECTORY_OBJECTS: &[&crate::schema::Entity] = &[&USER, &GROUP, &SERVICE_PRINCIPAL];
const USERS: &[&crate::schema::Entity] = &[&USER];
const GROUPS: &[&crate::schema::Entity] = &[&GROUP];

/// `GET /users`.
pub async fn users_list(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, GraphError> {
    let options = query(&uri)?;
    let world = state.world();
    let dir = &world.directory;
    let items = Source::Set(&dir.users, ObjectKind::User);
    let collection = Collection::of(&USER, "users", items).of_kinds(USERS);
    list(&ctx, &headers, uri.path(), &options, collection)
}

/// `GET /users/$count`.
pub async fn users_count(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, GraphError> {
    count_segment(&headers, state.world().directory.users.len())
}

/// `POST /users` → 201 with the default properties (§2.1); `@odata.type` and other annotations
/// are read and dropped.
pub async fn users_create(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    OriginalUri(uri): OriginalUri,
    body: Bytes,
) -> Result<Response, GraphError> {
    let body = annotated_object(&body, &USER_BODY)?;
    let options = query(&uri)?;
    let mut world = state.world();
    within_lengths(&world, &USER, &body)?;
    let id = world.uuid();
    let now = world.core.clock.now();
    let key = world.directory.create_user(id, now, body)?;
    let user = world.directory.users.get(&key).ok_or_else(|| GraphError::not_found(""))?;
    single(&ctx, &options, &USER, user, StatusCode::CREATED)
}

/// Entra's longest values, written through Graph, under switch `propertyLengthLimits`; the admin
/// seed is not held to them, so that a scenario can still reach AWS's own limits.
fn within_lengths(
    world: &crate::state::World,
    entity: &crate::schema::Entity,
    body: &Map<String, Value>,
) -> Result<(), GraphError> {
    if world.switches.property_length_limits { crate::directory::check_lengths(entity, body) } else { Ok(()) }
}

fn user_key(world: &crate::state::World, id: &str) -> Result<Key, GraphError> {
    world.directory.user_key(id).ok_or_else(|| GraphError::not_found(id))
}

/// `GET /users/{id | userPrincipalName}`, with `$expand=manager`: the manager's default properties
/// under `manager`, absent when there is none (user-list-manager.md; `$levels` not supported).
pub async fn users_get(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let options = query(&uri)?;
    let world = state.world();
    let key = user_key(&world, &id)?;
    let user = world.directory.users.get(&key).ok_or_else(|| GraphError::not_found(&id))?;
    let expand_manager = options.expand.as_deref().is_some_and(|e| e.trim().eq_ignore_ascii_case("manager"));
    if !expand_manager {
        return single(&ctx, &options, &USER, user, StatusCode::OK);
    }
    let manager = world.directory.manager_of(key).and_then(|m| world.directory.users.get(&m));
    let select = options.select.as_deref().map(|raw| crate::odata::parse_select(raw, &USER)).transpose()?;
    let fragment = match &select {
        Some(names) => format!("users({})/$entity", names.join(",")),
        None => "users/$entity".to_owned(),
    };
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(super::context(&ctx, &fragment)));
    body.extend(super::project(&USER, user, select.as_deref()));
    if let Some(manager) = manager {
        let mut expanded = Map::new();
        expanded.insert("@odata.type".into(), json!(ObjectKind::User.odata_type()));
        expanded.extend(super::project(&USER, manager, None));
        body.insert("manager".into(), Value::Object(expanded));
    }
    Ok(json_response(StatusCode::OK, Value::Object(body)))
}

/// `GET /users/{id}/manager`: the manager as a directoryObject, with its `@odata.type`; 404
/// `Request_ResourceNotFound` "Resource 'manager' does not exist…" when there is none
/// (user-list-manager.md).
pub async fn users_manager_get(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let options = query(&uri)?;
    let world = state.world();
    let key = user_key(&world, &id)?;
    let manager = world
        .directory
        .manager_of(key)
        .and_then(|m| world.directory.users.get(&m))
        .ok_or_else(crate::directory::no_manager)?;
    let select = options.select.as_deref().map(|raw| crate::odata::parse_select(raw, &USER)).transpose()?;
    let fragment = match &select {
        Some(names) => format!("directoryObjects({})/$entity", names.join(",")),
        None => "directoryObjects/$entity".to_owned(),
    };
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(super::context(&ctx, &fragment)));
    body.insert("@odata.type".into(), json!(ObjectKind::User.odata_type()));
    body.extend(super::project(&USER, manager, select.as_deref()));
    Ok(json_response(StatusCode::OK, Value::Object(body)))
}

/// The `@odata.id` of a `$ref` body, its only property (an SDK's `@odata.type` is dropped); an
/// empty body gets the directory's JSON reader error (msgraph-sdk-powershell#705,
/// msgraph-sdk-java#575).
fn reference_body(body: &Bytes, resource: &str) -> Result<String, GraphError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(GraphError::bad_request(
            "An unexpected 'EndOfInput' node was found when reading from the JSON reader. A 'StartObject' node was expected.",
        ));
    }
    let mut body = json_object(body)?;
    let reference = body.remove("@odata.id");
    crate::odata::accept_annotations(&mut body, &UNTYPED_BODY)?;
    match reference {
        // A reference is an absolute URL (…/directoryObjects/{id}); anything else is refused as
        // malformed, 400, not looked up and found missing, 404 (inferred wording).
        Some(Value::String(reference)) if body.is_empty() && !is_absolute_url(&reference) => {
            Err(GraphError::bad_request(format!("Invalid object identifier '{reference}'.")))
        }
        Some(Value::String(reference)) if body.is_empty() => Ok(reference),
        _ => Err(GraphError::invalid_value("@odata.id", resource)),
    }
}

/// `scheme://host/…`, as every `@odata.id` Graph writes and reads is.
fn is_absolute_url(reference: &str) -> bool {
    reference.split_once("://").is_some_and(|(scheme, rest)| {
        !scheme.is_empty()
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            && rest.split('/').next().is_some_and(|host| !host.is_empty())
    })
}

/// `PUT /users/{id}/manager/$ref` with `{"@odata.id": "…/users/{managerId}"}` (or
/// `…/directoryObjects/{managerId}`) → 204.
pub async fn users_manager_ref_put(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let reference = reference_body(&body, "User")?;
    let mut world = state.world();
    let key = user_key(&world, &id)?;
    world.directory.set_manager(key, &reference)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /users/{id}/manager/$ref` → 204; 404 when there is no manager.
pub async fn users_manager_ref_delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let mut world = state.world();
    let key = user_key(&world, &id)?;
    world.directory.remove_manager(key)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PATCH /users/{id}` → 204.
pub async fn users_update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let body = annotated_object(&body, &USER_BODY)?;
    let mut world = state.world();
    let key = user_key(&world, &id)?;
    within_lengths(&world, &USER, &body)?;
    world.directory.update_user(key, body)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /users/{id}` → 204.
pub async fn users_delete(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, GraphError> {
    let mut world = state.world();
    let key = user_key(&world, &id)?;
    let now = world.core.clock.now();
    world.directory.delete_user(key, now)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /groups`, with `$expand=members` capped (§3.8).
pub async fn groups_list(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, GraphError> {
    let options = query(&uri)?;
    let world = state.world();
    let dir = &world.directory;
    let items = Source::Set(&dir.groups, ObjectKind::Group);
    let collection = Collection::of(&GROUP, "groups", items).of_kinds(GROUPS).expanding(dir, world.switches.expand_cap);
    list(&ctx, &headers, uri.path(), &options, collection)
}

/// `GET /groups/$count`.
pub async fn groups_count(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, GraphError> {
    count_segment(&headers, state.world().directory.groups.len())
}

/// `POST /groups` → 201 (§2.2).
pub async fn groups_create(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    OriginalUri(uri): OriginalUri,
    body: Bytes,
) -> Result<Response, GraphError> {
    let body = annotated_object(&body, &GROUP_BODY)?;
    let options = query(&uri)?;
    let mut world = state.world();
    within_lengths(&world, &GROUP, &body)?;
    let id = world.uuid();
    let now = world.core.clock.now();
    let key = world.directory.create_group(id, now, body)?;
    let group = world.directory.groups.get(&key).ok_or_else(|| GraphError::not_found(""))?;
    single(&ctx, &options, &GROUP, group, StatusCode::CREATED)
}

fn group_key(world: &crate::state::World, id: &str) -> Result<Key, GraphError> {
    world.directory.group_key(id).ok_or_else(|| GraphError::not_found(id))
}

/// `GET /groups/{id}` (with `$expand=members`).
pub async fn groups_get(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let mut options = query(&uri)?;
    let world = state.world();
    let key = group_key(&world, &id)?;
    let group = world.directory.groups.get(&key).ok_or_else(|| GraphError::not_found(&id))?;
    let expand = options.expand.take();
    let response = single(&ctx, &options, &GROUP, group, StatusCode::OK)?;
    match expand.as_deref().map(str::trim) {
        None => Ok(response),
        Some(e) if e.eq_ignore_ascii_case("members") => {
            let mut body = group_body(&ctx, &options, group)?;
            body.insert("members".into(), expanded_members(&world.directory, key, world.switches.expand_cap));
            Ok(json_response(StatusCode::OK, Value::Object(body)))
        }
        // microsoft-graph.md §3.8, §5.2.
        Some(other) => Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "ExpandNotSupported",
            format!("Expand is not allowed for property '{other}' according to the entity schema."),
        )),
    }
}

fn group_body(
    ctx: &RequestContext,
    options: &crate::odata::QueryOptions,
    group: &Map<String, Value>,
) -> Result<Map<String, Value>, GraphError> {
    let select = options.select.as_deref().map(|raw| crate::odata::parse_select(raw, &GROUP)).transpose()?;
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(super::context(ctx, "groups/$entity")));
    body.extend(super::project(&GROUP, group, select.as_deref()));
    Ok(body)
}

/// `PATCH /groups/{id}` → 204, including `members@odata.bind` (§2.3).
pub async fn groups_update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let body = annotated_object(&body, &GROUP_BODY)?;
    let mut world = state.world();
    let key = group_key(&world, &id)?;
    within_lengths(&world, &GROUP, &body)?;
    world.directory.update_group(key, body)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /groups/{id}` → 204.
pub async fn groups_delete(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, GraphError> {
    let mut world = state.world();
    let key = group_key(&world, &id)?;
    world.directory.delete_group(key)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Which relationship of a group or user to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relation {
    Members,
    TransitiveMembers,
    MemberOf,
    TransitiveMemberOf,
}

/// An OData cast segment: `microsoft.graph.user` and friends (§2.3).
fn cast(segment: Option<&str>) -> Result<Option<ObjectKind>, GraphError> {
    match segment {
        None => Ok(None),
        Some(s) if s.eq_ignore_ascii_case("microsoft.graph.user") => Ok(Some(ObjectKind::User)),
        Some(s) if s.eq_ignore_ascii_case("microsoft.graph.group") => Ok(Some(ObjectKind::Group)),
        Some(s) if s.eq_ignore_ascii_case("microsoft.graph.servicePrincipal") => Ok(Some(ObjectKind::ServicePrincipal)),
        Some(s) => Err(GraphError::unknown_segment(s)),
    }
}

/// The objects a relationship reaches, in key order, optionally narrowed by a cast.
fn related(
    world: &crate::state::World,
    owner_is_group: bool,
    id: &str,
    relation: Relation,
    cast: Option<ObjectKind>,
) -> Result<Vec<(ObjectKind, Key)>, GraphError> {
    let dir = &world.directory;
    let key = if owner_is_group { group_key(world, id)? } else { user_key(world, id)? };
    let reached: Vec<(ObjectKind, Key)> = match relation {
        Relation::Members => dir.members_of(key).collect(),
        Relation::TransitiveMembers => dir.transitive_members(key),
        Relation::MemberOf => dir.groups_of(key).map(|g| (ObjectKind::Group, g)).collect(),
        Relation::TransitiveMemberOf => {
            dir.transitive_groups_of(key).into_iter().map(|g| (ObjectKind::Group, g)).collect()
        }
    };
    Ok(reached.into_iter().filter(|(kind, _)| cast.is_none_or(|c| c == *kind)).collect())
}

#[allow(clippy::too_many_arguments)]
fn relation(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    owner_is_group: bool,
    id: &str,
    relation: Relation,
    cast_segment: Option<&str>,
) -> Result<Response, GraphError> {
    let options = query(uri)?;
    let cast = cast(cast_segment)?;
    let world = state.world();
    let dir = &world.directory;
    let items: Vec<_> = related(&world, owner_is_group, id, relation, cast)?
        .into_iter()
        .filter_map(|(kind, k)| dir.object(kind, k).map(|o| (k, kind, o)))
        .collect();
    let (entity, set) = match cast {
        Some(kind) => (entity_of(kind), entity_of(kind).set),
        None => (&USER, "directoryObjects"),
    };
    let collection =
        Collection::of(entity, set, Source::List(items)).of_kinds(DIRECTORY_OBJECTS).typed().relationship();
    list(ctx, headers, uri.path(), &options, collection)
}

macro_rules! relation_handlers {
    ($($name:ident, $cast:ident, $group:expr, $relation:expr;)*) => {$(
        /// A relationship listing (§2.3).
        pub async fn $name(
            State(state): State<AppState>,
            Extension(ctx): Extension<RequestContext>,
            headers: HeaderMap,
            OriginalUri(uri): OriginalUri,
            Path(id): Path<String>,
        ) -> Result<Response, GraphError> {
            relation(&state, &ctx, &headers, &uri, $group, &id, $relation, None)
        }

        /// The same relationship behind an OData cast segment (§2.3).
        pub async fn $cast(
            State(state): State<AppState>,
            Extension(ctx): Extension<RequestContext>,
            headers: HeaderMap,
            OriginalUri(uri): OriginalUri,
            Path((id, segment)): Path<(String, String)>,
        ) -> Result<Response, GraphError> {
            if segment == "$count" {
                let n = related(&state.world(), $group, &id, $relation, None)?.len();
                return count_segment(&headers, n);
            }
            relation(&state, &ctx, &headers, &uri, $group, &id, $relation, Some(&segment))
        }
    )*};
}

relation_handlers! {
    groups_members, groups_members_cast, true, Relation::Members;
    groups_transitive_members, groups_transitive_members_cast, true, Relation::TransitiveMembers;
    groups_member_of, groups_member_of_cast, true, Relation::MemberOf;
    users_member_of, users_member_of_cast, false, Relation::MemberOf;
    users_transitive_member_of, users_transitive_member_of_cast, false, Relation::TransitiveMemberOf;
}

/// `POST /groups/{id}/members/$ref` with `{"@odata.id": "…/directoryObjects/{id}"}` → 204 (§2.3).
/// The reference is the body's only property; other annotations (`@odata.context`, or an
/// `@odata.type` an SDK adds) are dropped.
pub async fn groups_members_add(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let reference = reference_body(&body, "Group")?;
    let mut world = state.world();
    let key = group_key(&world, &id)?;
    world.directory.add_member(key, &reference)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /groups/{id}/members/{memberId}/$ref` → 204 (§2.3).
pub async fn groups_members_remove(
    State(state): State<AppState>,
    Path((id, member)): Path<(String, String)>,
) -> Result<Response, GraphError> {
    let mut world = state.world();
    let key = group_key(&world, &id)?;
    world.directory.remove_member(key, &member)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /groups/{id}/members/$ref?@id=…/directoryObjects/{memberId}` → 204: the same removal,
/// the member named by a reference, as Kiota's `members.ref.delete` sends it (`@id`, or OData's
/// `$id`; §2.3).
pub async fn groups_members_remove_by_reference(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let pairs: Vec<(String, String)> = axum::extract::Query::try_from_uri(&uri).map(|q| q.0).unwrap_or_default();
    let reference = pairs
        .into_iter()
        .find(|(key, _)| key == "@id" || key.eq_ignore_ascii_case("$id"))
        .map(|(_, value)| value)
        // Inferred wording: no source shows this request without its reference.
        .ok_or_else(|| GraphError::bad_request("The '@id' query option is required to remove a reference."))?;
    let mut world = state.world();
    let key = group_key(&world, &id)?;
    let (_, _, member) = world.directory.resolve_reference(&reference)?;
    world.directory.remove_member(key, &member)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /directoryObjects/{id}`: any object, with its `@odata.type`.
pub async fn directory_objects_get(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let world = state.world();
    let (kind, key) = world.directory.lookup(&id).ok_or_else(|| GraphError::not_found(&id))?;
    let object = world.directory.object(kind, key).ok_or_else(|| GraphError::not_found(&id))?;
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(super::context(&ctx, "directoryObjects/$entity")));
    body.insert("@odata.type".into(), json!(kind.odata_type()));
    body.extend(super::project(entity_of(kind), object, None));
    Ok(json_response(StatusCode::OK, Value::Object(body)))
}

/// `GET /users/{id}/appRoleAssignments`, `GET /groups/{id}/appRoleAssignments`,
/// `GET /servicePrincipals/{id}/appRoleAssignments` (§2.4).
pub async fn principal_assignments(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let options = query(&uri)?;
    let world = state.world();
    let dir = &world.directory;
    let key = dir
        .user_key(&id)
        .or_else(|| dir.group_key(&id))
        .or_else(|| dir.service_principal_key(&id))
        .ok_or_else(|| GraphError::not_found(&id))?;
    let items = dir.assignments_of(key).map(|(k, a)| (k, ObjectKind::User, a)).collect();
    super::apps::assignment_list(&ctx, &headers, &uri, &options, items)
}

/// `GET /users/delta` and `/groups/delta` (also as `microsoft.graph.delta`, §4).
pub async fn delta(
    state: &AppState,
    ctx: &RequestContext,
    uri: &axum::http::Uri,
    kind: &'static str,
) -> Result<Response, GraphError> {
    let options = query(uri)?;
    let world = state.world();
    let now = world.core.clock.now();
    let path = uri.path();
    match delta::delta(&world.directory, kind, &options, now, world.delta_generation) {
        Ok(page) => {
            let fragment = match &page.select {
                Some(names) if options.skiptoken.is_none() && options.deltatoken.is_none() => {
                    format!("{kind}({})", names.join(","))
                }
                _ => kind.to_owned(),
            };
            let mut body = Map::new();
            body.insert("@odata.context".into(), json!(super::context(ctx, &fragment)));
            // Later delta URLs carry only the token: every query option lives inside it (§4).
            let bare = crate::odata::QueryOptions::default();
            if let Some(skip) = &page.skiptoken {
                body.insert("@odata.nextLink".into(), json!(next_link(ctx, path, &bare, "$skiptoken", skip)));
            }
            if let Some(delta) = &page.deltatoken {
                body.insert("@odata.deltaLink".into(), json!(next_link(ctx, path, &bare, "$deltatoken", delta)));
            }
            body.insert("value".into(), Value::Array(page.value));
            Ok(json_response(StatusCode::OK, Value::Object(body)))
        }
        Err(DeltaError::Graph(err)) => Err(err),
        Err(DeltaError::Reset) => {
            // 410 Gone with a Location to start over: a URL with an empty $deltatoken (§4).
            Err(GraphError::new(
                StatusCode::GONE,
                "resyncRequired",
                "Resync required. Replace any local cached copy of the resource with the result of a new full round.",
            )
            .with_location(format!("{}{path}?$deltatoken=", ctx.base)))
        }
    }
}

/// `GET /users/delta`.
pub async fn users_delta(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, GraphError> {
    delta(&state, &ctx, &uri, "users").await
}

/// `GET /groups/delta`.
pub async fn groups_delta(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, GraphError> {
    delta(&state, &ctx, &uri, "groups").await
}

/// `GET /directory/deletedItems/microsoft.graph.user`: soft-deleted users.
pub async fn deleted_users_list(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, GraphError> {
    let options = query(&uri)?;
    let world = state.world();
    let items = world.directory.deleted_users.values().map(|(key, user)| (*key, ObjectKind::User, user)).collect();
    let collection = Collection::of(&USER, "users", Source::List(items)).of_kinds(USERS).typed();
    list(&ctx, &headers, uri.path(), &options, collection)
}

/// `GET /directory/deletedItems/{id}` → 200 with the soft-deleted user, typed; 404 for one that is
/// not in deleted items (never deleted, restored, or purged). microsoft-graph.md says nothing of it:
/// the shape follows the restore's answer (inferred; see the README's fidelity table).
pub async fn deleted_items_get(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let world = state.world();
    let (_, user) = world.directory.deleted_users.get(&id).ok_or_else(|| GraphError::not_found(&id))?;
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(super::context(&ctx, "directoryObjects/$entity")));
    body.insert("@odata.type".into(), json!(ObjectKind::User.odata_type()));
    body.extend(super::project(&USER, user, None));
    Ok(json_response(StatusCode::OK, Value::Object(body)))
}

/// `DELETE /directory/deletedItems/{id}` → 204: the permanent delete (entra-provisioning.md §4.4).
pub async fn deleted_items_delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    state.world().directory.purge_user(&id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /directory/deletedItems/{id}/restore` → 200 with the restored object.
pub async fn deleted_items_restore(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let mut world = state.world();
    let relations = world.switches.restore_relations;
    let key = world.directory.restore_user(&id, relations)?;
    let user = world.directory.users.get(&key).ok_or_else(|| GraphError::not_found(&id))?;
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(super::context(&ctx, "directoryObjects/$entity")));
    body.insert("@odata.type".into(), json!(ObjectKind::User.odata_type()));
    body.extend(super::project(&USER, user, None));
    Ok(json_response(StatusCode::OK, Value::Object(body)))
}
