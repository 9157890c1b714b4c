//! `/_admin`: what Entra does only in its portal or not at all — bulk seeding, a snapshot of the
//! whole directory, a delta reset — beside the verbs both mocks share (switches, faults, journal,
//! clock, reset: `scenarios::serve::admin`). camelCase JSON, behind its own bearer token.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use scenarios::serve::admin::{self, AdminError, body};
use serde_json::{Value, json};

use crate::routes::project;
use crate::schema::{GROUP, USER};
use crate::seed::Seed;
use crate::state::AppState;

/// The admin router, nested under `/_admin`: the shared verbs (`scenarios::serve::admin`) and what
/// Entra does only in its portal: bulk seeding, the directory's snapshot, a delta reset.
pub fn router(state: AppState) -> Router {
    let own = Router::new()
        .route("/seed", post(seed))
        .route("/directory", get(snapshot))
        .route("/delta/reset", post(delta_reset));
    admin::router(state, own)
}

/// Seeds users, groups with members, applications and assignments in one call, all or nothing.
/// Users get `accountEnabled: true`, a `mailNickname` and a password unless given.
async fn seed(State(state): State<AppState>, bytes: Bytes) -> Result<Json<Value>, AdminError> {
    let request: Seed = body(&bytes)?;
    state.world().seed(request).map(Json).map_err(|err| AdminError::bad_request(err.to_string()))
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

/// Makes every outstanding delta token answer `410 Gone`, as a service-side resync would (§4).
async fn delta_reset(State(state): State<AppState>) -> StatusCode {
    state.world().delta_generation += 1;
    StatusCode::NO_CONTENT
}
