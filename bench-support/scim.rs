//! The SCIM workload: users as a client creates them, a mock-scim store seeded straight in memory,
//! and the three loads measured (filter `GET`, `POST /Users`, `PATCH /Groups/{id}` adding 100 members),
//! each with its responses checked. The loads speak plain SCIM, so they also run against another
//! server (scim2-server in the report).
//!
//! Included by path from the benches of mock-scim and harness (see `common.rs`), next to `load.rs`,
//! which it needs included as `load`.

// Each bench uses its own part of this file.
#![allow(dead_code)]

use std::ops::Range;
use std::sync::Arc;

use axum::body::Bytes;
use mock_scim::MockScim;
use mock_scim::model::{GroupInput, UserInput};
use mock_scim::state::AppState;
use mock_scim::state::World;
use reqwest::Method;
use reqwest::header::HeaderValue;
use scenarios::tls::TlsMode;
use serde_json::{Value, json};

use crate::common::Held;
use crate::load::Load;

/// Members each PATCH adds: AWS's limit per request (aws-scim.md §3.3).
pub const PATCH_MEMBERS: usize = 100;
/// PATCH requests each target group receives, so a target group ends with 1,000 members at every scale.
pub const PATCHES_PER_GROUP: usize = 10;

/// A user as a client creates it: the attributes AWS requires, plus an externalId as Entra sends.
pub fn user_json(prefix: &str, i: usize) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "externalId": format!("ext-{prefix}-{i:06}"),
        "userName": format!("{prefix}-{i}"),
        "displayName": format!("Bench {prefix} {i}"),
        "name": {"givenName": "Bench", "familyName": format!("User{i}")},
        "emails": [{"value": format!("{prefix}-{i}@bench.example"), "type": "work", "primary": true}],
        "active": true
    })
}

pub fn user_input(prefix: &str, i: usize) -> UserInput {
    serde_json::from_value(user_json(prefix, i)).expect("a valid UserInput")
}

pub fn group_input(name: &str, members: &[&str]) -> GroupInput {
    let members: Vec<Value> = members.iter().map(|id| json!({"value": id})).collect();
    serde_json::from_value(json!({"displayName": name, "members": members})).expect("a valid GroupInput")
}

/// Creates a user straight in the store; returns its id.
pub fn seed_user(world: &mut World, tenant_id: &str, input: UserInput) -> String {
    let id = world.uuid();
    let now = world.core.now();
    let switches = world.switches.clone();
    let tenant = world.tenants.get_mut(tenant_id).expect("the tenant");
    tenant.create_user(id.clone(), now, input, &switches).expect("seeding a user");
    id
}

/// Creates a group straight in the store; returns its id.
pub fn seed_group(world: &mut World, tenant_id: &str, input: GroupInput) -> String {
    let id = world.uuid();
    let now = world.core.now();
    let tenant = world.tenants.get_mut(tenant_id).expect("the tenant");
    tenant.create_group(id.clone(), now, input).expect("seeding a group");
    id
}

/// What a scale's seeding produced.
pub struct Seeded {
    /// Ids of users `user-0`, `user-1`, …, in order.
    pub user_ids: Vec<String>,
    /// Empty groups for the PATCH load.
    pub patch_groups: Vec<String>,
}

impl Seeded {
    /// Groups of 10 members seeded beside the users: one per 100 users.
    pub fn member_groups(users: usize) -> usize {
        users / 100
    }
}

/// mock-scim with the default config on loopback, its state held for seeding in memory.
pub async fn start_scim() -> Held<MockScim, AppState> {
    let state = mock_scim::Config::default().into_state();
    let mock = MockScim::start_over(state.clone(), &TlsMode::Off, 0).await.expect("mock-scim starts on loopback");
    Held { mock, state }
}

/// Seeds `users` users (`user-{i}`), `users / 100` groups of 10 members, and `patch_groups` empty
/// groups for the PATCH load, in one lock scope.
pub fn seed_scale(mock: &Held<MockScim, AppState>, users: usize, patch_groups: usize) -> Seeded {
    let tenant_id = mock.tenant_id().to_owned();
    let mut world = mock.state.world();
    let user_ids: Vec<String> = (0..users).map(|i| seed_user(&mut world, &tenant_id, user_input("user", i))).collect();
    for g in 0..Seeded::member_groups(users) {
        let members: Vec<&str> = (0..10).map(|j| user_ids[(g * 10 + j) % users].as_str()).collect();
        seed_group(&mut world, &tenant_id, group_input(&format!("group-{g}"), &members));
    }
    let patch_groups = (0..patch_groups)
        .map(|g| seed_group(&mut world, &tenant_id, group_input(&format!("patch-{g}"), &[])))
        .collect();
    Seeded { user_ids, patch_groups }
}

/// `GET {endpoint}Users?filter=userName eq "{name}"` for each name, each answered with exactly that
/// user (checked on sampled responses).
pub fn filter_load(endpoint: &str, auth: Option<HeaderValue>, names: Vec<String>) -> Arc<Load> {
    let urls = names.iter().map(|name| format!("{endpoint}Users?filter=userName%20eq%20%22{name}%22")).collect();
    Arc::new(Load {
        method: Method::GET,
        urls,
        bodies: Vec::new(),
        auth,
        expect: 200,
        check: Some(Box::new(move |i, body| {
            let body: Value = serde_json::from_slice(body).expect("a JSON list response");
            let expected = &names[i];
            assert_eq!(body["totalResults"], 1, "filter for {expected}: {body}");
            let resources = body["Resources"].as_array().expect("Resources");
            assert_eq!(resources.len(), 1, "filter for {expected}: {body}");
            assert_eq!(resources[0]["userName"], expected.as_str(), "filter for {expected}: {body}");
        })),
    })
}

/// `POST {endpoint}Users` of users `{prefix}-{k}` for `k` in `range`, each answered 201 with that user
/// and an id (checked on sampled responses).
pub fn create_load(endpoint: &str, auth: Option<HeaderValue>, prefix: &'static str, range: Range<usize>) -> Arc<Load> {
    let first = range.start;
    let bodies = range.map(|k| Bytes::from(serde_json::to_vec(&user_json(prefix, k)).expect("json"))).collect();
    Arc::new(Load {
        method: Method::POST,
        urls: vec![format!("{endpoint}Users")],
        bodies,
        auth,
        expect: 201,
        check: Some(Box::new(move |i, body| {
            let body: Value = serde_json::from_slice(body).expect("a JSON user");
            assert_eq!(body["userName"], format!("{prefix}-{}", first + i).as_str(), "{body}");
            assert!(body["id"].is_string(), "{body}");
        })),
    })
}

/// `PATCH {endpoint}Groups/{id}` adding 100 members, for requests `k` in `range`: request `k` adds
/// users [b×100, b×100+100) (shifted per group) to target group k / 10, b = k % 10, so every
/// (group, user) pair is new and each request adds 100 memberships. Answered 204, as AWS does.
pub fn patch_load(endpoint: &str, auth: Option<HeaderValue>, seeded: &Seeded, range: Range<usize>) -> Arc<Load> {
    let users = seeded.user_ids.len();
    let (urls, bodies) = range
        .map(|k| {
            let (g, b) = (k / PATCHES_PER_GROUP, k % PATCHES_PER_GROUP);
            let shift = g * PATCHES_PER_GROUP * PATCH_MEMBERS;
            let members: Vec<Value> = (0..PATCH_MEMBERS)
                .map(|j| json!({"value": seeded.user_ids[(shift + b * PATCH_MEMBERS + j) % users]}))
                .collect();
            let body = json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": members}]
            });
            (
                format!("{endpoint}Groups/{}", seeded.patch_groups[g]),
                Bytes::from(serde_json::to_vec(&body).expect("json")),
            )
        })
        .unzip();
    Arc::new(Load { method: Method::PATCH, urls, bodies, auth, expect: 204, check: None })
}

/// `Authorization: Bearer {token}` for mock-scim's tenant.
pub fn bearer(mock: &MockScim) -> HeaderValue {
    HeaderValue::from_str(&format!("Bearer {}", mock.token())).expect("a header value")
}
