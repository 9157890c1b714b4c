//! `/_admin`: what Entra does only in its portal or not at all — bulk seeding, a snapshot of the
//! whole directory, a delta reset — beside the verbs both mocks share (switches, faults, journal,
//! clock, reset: `scenarios::serve::admin`). camelCase JSON, behind its own bearer token.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::Timestamp;
use scenarios::MockCore;
use scenarios::serve::Mock;
use scenarios::serve::admin::{self, AdminError, body};
use serde_json::{Map, Value, json};

use crate::routes::project;
use crate::schema::{GROUP, USER};
use crate::seed::Seed;
use crate::state::{AppState, Switches};

/// The admin router, nested under `/_admin`: the shared verbs (`scenarios::serve::admin`) and what
/// Entra does only in its portal: bulk seeding, the directory's snapshot, a delta reset.
pub fn router(state: AppState) -> Router {
    let own = Router::new()
        .route("/seed", post(seed))
        .route("/directory", get(snapshot))
        .route("/delta/reset", post(delta_reset));
    admin::router(state, own)
}

impl Mock for AppState {
    fn admin_token(&self) -> &str {
        AppState::admin_token(self)
    }

    fn with_core<R>(&self, f: impl FnOnce(&mut MockCore) -> R) -> R {
        f(&mut self.world().core)
    }

    fn switches(&self) -> Value {
        json!(self.world().switches)
    }

    fn set_switches(&self, update: Map<String, Value>, from_defaults: bool) -> Result<Value, String> {
        let mut world = self.world();
        let base = if from_defaults { Switches::default() } else { world.switches.clone() };
        let next = base.patched(update).map_err(|err| err.to_string())?;
        world.set_switches(next.clone());
        Ok(json!(next))
    }

    /// Every provisioning cycle that falls due runs, to completion, each at its own instant.
    async fn advance_to(&self, until: Timestamp) {
        crate::provisioning::run_due(self, until).await;
    }

    /// When the next provisioning cycle falls due (`null` when no job is scheduled): what a driver
    /// that keeps another clock on the same timeline (the harness, for AWS's) steps by.
    fn clock_details(&self) -> Map<String, Value> {
        let next_cycle = self.world().provisioning.jobs.values().filter_map(|job| job.next_run).min();
        Map::from_iter([("nextCycleAt".to_owned(), json!(next_cycle))])
    }

    fn reset(&self) {
        self.world().reset();
    }
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
