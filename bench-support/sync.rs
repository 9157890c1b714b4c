//! Whole provisioning cycles over HTTP: a directory of a given shape seeded into mock-graph, the AWS
//! job pointed at mock-scim and started, cycles run by `POST /_admin/clock/advance`, and what reached
//! mock-scim counted and checked. Also the sequential floor a cycle is judged against.
//!
//! Included by path from the benches of mock-graph and harness (see `common.rs`, which it needs
//! included as `common`).

// Each bench uses its own part of this file.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use mock_graph::MockGraph;
use mock_scim::MockScim;
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use scenarios::tls::TlsMode;
use serde_json::{Value, json};

use crate::common::{ECHO_BYTES, Held, mean_f64, percentile_f64};

/// The tenant's verified domain; seeded UPNs must end in it.
pub const DOMAIN: &str = "contoso.onmicrosoft.com";
/// The gallery app's display name, as seeded.
pub const APP: &str = "AWS IAM Identity Center";
/// Microsoft's estimate for an initial cycle, minutes per object in scope (entra-provisioning.md §8).
pub const MICROSOFT_MINUTES_PER_OBJECT: (f64, f64) = (0.01, 0.08);
/// Users per seed call, and the largest seed body for groups: well under axum's 2 MB body limit.
const SEED_USERS_PER_CALL: usize = 5_000;
const SEED_BYTES_PER_CALL: usize = 1_000_000;

/// A directory and what is assigned: `users` users; `groups` groups of `members` direct members each,
/// member `j` of group `g` being user `(g × members + j) mod users`; every group assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub users: usize,
    pub groups: usize,
    pub members: usize,
}

impl Shape {
    pub fn memberships(self) -> usize {
        self.groups * self.members
    }

    /// Users that are direct members of an assigned group.
    pub fn in_scope_users(self) -> usize {
        self.memberships().min(self.users)
    }

    /// Objects in scope as Microsoft counts them for its estimate: users + groups + memberships.
    pub fn objects(self) -> usize {
        self.in_scope_users() + self.groups + self.memberships()
    }

    pub fn member(self, group: usize, j: usize) -> usize {
        (group * self.members + j) % self.users
    }

    /// Microsoft's estimate of the initial cycle for this scope, in seconds: (fastest, slowest).
    pub fn microsoft_estimate_seconds(self) -> (f64, f64) {
        let (low, high) = MICROSOFT_MINUTES_PER_OBJECT;
        (self.objects() as f64 * low * 60.0, self.objects() as f64 * high * 60.0)
    }

    pub fn describe(self) -> String {
        format!(
            "{} users in the directory, {} groups × {} direct members = {} memberships, all groups assigned ({} users in scope)",
            self.users,
            self.groups,
            self.members,
            self.memberships(),
            self.in_scope_users()
        )
    }
}

pub fn upn(i: usize) -> String {
    format!("user{i:06}@{DOMAIN}")
}

pub fn group_name(g: usize) -> String {
    format!("Group {g:05}")
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/// One client for everything the benchmark itself sends (the engine has its own).
pub struct Api {
    pub http: reqwest::Client,
}

impl Api {
    pub fn new() -> Api {
        Api { http: crate::common::client() }
    }

    /// Sends a request with a bearer and an optional JSON body; returns the status and the parsed body
    /// (`null` when empty or not JSON).
    pub async fn call(&self, method: Method, url: &str, bearer: &str, body: Option<Bytes>) -> (u16, Value) {
        let mut request = self.http.request(method.clone(), url).bearer_auth(bearer);
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, "application/json").body(body);
        }
        let response = request.send().await.unwrap_or_else(|err| panic!("{method} {url}: {err}"));
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap_or_else(|err| panic!("{method} {url}: body: {err}"));
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// Like [`Api::call`], panicking unless the status is the one expected.
    pub async fn expect(&self, method: Method, url: &str, bearer: &str, body: Option<Value>, status: u16) -> Value {
        let body = body.map(|b| Bytes::from(serde_json::to_vec(&b).expect("json")));
        let (got, answer) = self.call(method.clone(), url, bearer, body).await;
        assert_eq!(got, status, "{method} {url} answered {got}: {answer}");
        answer
    }
}

// ---------------------------------------------------------------------------------------------
// The sequential floor a cycle is judged against
// ---------------------------------------------------------------------------------------------

/// Sequential floor latencies, in µs.
#[derive(Debug, Clone, Default)]
pub struct Floor {
    pub get: Vec<f64>,
    pub post: Vec<f64>,
}

impl Floor {
    pub fn extend(&mut self, other: Floor) {
        self.get.extend(other.get);
        self.post.extend(other.post);
    }

    /// Mean µs per request for a mix of `gets` reads and `writes` writes.
    pub fn weighted(&self, gets: usize, writes: usize) -> f64 {
        let total = (gets + writes).max(1) as f64;
        (mean_f64(&self.get) * gets as f64 + mean_f64(&self.post) * writes as f64) / total
    }

    pub fn describe(&self) -> String {
        format!(
            "GET mean {:.0} µs (p50 {:.0}, p99 {:.0}), POST {ECHO_BYTES} B echo mean {:.0} µs (p50 {:.0}, p99 {:.0}), {} + {} requests",
            mean_f64(&self.get),
            percentile_f64(&self.get, 0.5),
            percentile_f64(&self.get, 0.99),
            mean_f64(&self.post),
            percentile_f64(&self.post, 0.5),
            percentile_f64(&self.post, 0.99),
            self.get.len(),
            self.post.len()
        )
    }
}

/// `n` sequential small-JSON GETs and `n` sequential echo POSTs against the floor at `floor`.
pub async fn measure_floor(api: &Api, floor: &str, echo: &Bytes, n: usize) -> Floor {
    let mut out = Floor { get: Vec::with_capacity(n), post: Vec::with_capacity(n) };
    let get_url = format!("{floor}/");
    let echo_url = format!("{floor}/echo");
    for _ in 0..n {
        let sent = Instant::now();
        let response = api.http.get(&get_url).send().await.expect("floor GET");
        assert_eq!(response.status().as_u16(), 200);
        response.bytes().await.expect("floor GET body");
        out.get.push(sent.elapsed().as_secs_f64() * 1e6);
    }
    for _ in 0..n {
        let sent = Instant::now();
        let response =
            api.http.post(&echo_url).header(CONTENT_TYPE, "application/json").body(echo.clone()).send().await;
        let response = response.expect("floor POST");
        assert_eq!(response.status().as_u16(), 200);
        let body = response.bytes().await.expect("floor POST body");
        assert_eq!(body.len(), echo.len());
        out.post.push(sent.elapsed().as_secs_f64() * 1e6);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Setting up a tenant and a job
// ---------------------------------------------------------------------------------------------

/// What seeding created.
pub struct Seeded {
    /// Service principal id of the AWS app.
    pub sp: String,
    /// Graph ids of the users, in seeding order (user `i` is `upn(i)`).
    pub user_ids: Vec<String>,
    /// Seed calls made.
    pub calls: usize,
    pub elapsed: Duration,
}

/// Seeds a shape through `POST /_admin/seed`, in calls kept under the body limit.
pub async fn seed(api: &Api, graph: &MockGraph, shape: Shape) -> Seeded {
    let url = format!("{}/_admin/seed", graph.uri());
    let admin = graph.admin_token().to_owned();
    let started = Instant::now();
    let mut calls = 0;
    let mut user_ids = Vec::with_capacity(shape.users);
    for first in (0..shape.users).step_by(SEED_USERS_PER_CALL) {
        let range = first..(first + SEED_USERS_PER_CALL).min(shape.users);
        let users: Vec<Value> = range
            .clone()
            .map(|i| {
                json!({"userPrincipalName": upn(i), "givenName": format!("Given{i}"), "surname": format!("Sur{i}"),
                    "mail": upn(i), "displayName": format!("User {i}")})
            })
            .collect();
        let answer = api.expect(Method::POST, &url, &admin, Some(json!({ "users": users })), 200).await;
        let ids = answer["users"].as_object().expect("the seed answer maps UPNs to ids");
        for i in range {
            let id = ids.get(&upn(i)).and_then(Value::as_str).unwrap_or_else(|| panic!("no id for {}", upn(i)));
            user_ids.push(id.to_owned());
        }
        calls += 1;
    }
    assert_eq!(user_ids.len(), shape.users, "every user seeded");
    let mut batch = Vec::new();
    let mut batch_bytes = 0;
    let mut seeded_groups = 0;
    for g in 0..shape.groups {
        let members: Vec<String> = (0..shape.members).map(|j| upn(shape.member(g, j))).collect();
        batch_bytes += members.iter().map(|m| m.len() + 3).sum::<usize>() + 64;
        batch.push(json!({"displayName": group_name(g), "members": members}));
        if batch_bytes >= SEED_BYTES_PER_CALL || g + 1 == shape.groups {
            let groups = std::mem::take(&mut batch);
            let answer = api.expect(Method::POST, &url, &admin, Some(json!({ "groups": groups })), 200).await;
            seeded_groups += answer["groups"].as_object().map_or(0, |m| m.len());
            batch_bytes = 0;
            calls += 1;
        }
    }
    assert_eq!(seeded_groups, shape.groups, "every group seeded");
    let assignments: Vec<Value> =
        (0..shape.groups).map(|g| json!({"principal": group_name(g), "application": APP})).collect();
    let answer = api
        .expect(
            Method::POST,
            &url,
            &admin,
            Some(json!({"applications": [{"displayName": APP}], "assignments": assignments})),
            200,
        )
        .await;
    calls += 1;
    assert_eq!(answer["assignments"].as_array().map_or(0, Vec::len), shape.groups, "every group assigned");
    let sp = answer["applications"][APP]["servicePrincipalId"].as_str().expect("the app's service principal id");
    Seeded { sp: sp.to_owned(), user_ids, calls, elapsed: started.elapsed() }
}

/// The graph side of a synchronization job: its URL prefix and a fresh token for each call.
pub struct SyncJob<'a> {
    pub api: &'a Api,
    pub graph: &'a MockGraph,
    pub sp: String,
    pub id: String,
}

impl SyncJob<'_> {
    pub fn url(&self, path: &str) -> String {
        format!("{}/v1.0/servicePrincipals/{}/synchronization{path}", self.graph.uri(), self.sp)
    }

    /// Creates the job, saves mock-scim as its target, starts it.
    pub async fn create<'a>(api: &'a Api, graph: &'a MockGraph, scim: &MockScim, sp: &str) -> SyncJob<'a> {
        let mut job = SyncJob { api, graph, sp: sp.to_owned(), id: String::new() };
        // Tokens live 3599 s of the mock clock: a fresh one for every call.
        let token = graph.access_token().await;
        let created = api
            .expect(Method::POST, &job.url("/jobs"), &token, Some(json!({"templateId": "aWSSingleSignon"})), 201)
            .await;
        job.id = created["id"].as_str().expect("a job id").to_owned();
        let secrets = json!({"value": [
            {"key": "BaseAddress", "value": scim.scim_endpoint()},
            {"key": "SecretToken", "value": scim.token()},
            {"key": "SyncAll", "value": "false"}
        ]});
        let token = graph.access_token().await;
        api.expect(Method::PUT, &job.url("/secrets"), &token, Some(secrets), 204).await;
        let token = graph.access_token().await;
        api.expect(Method::POST, &job.url(&format!("/jobs/{}/start", job.id)), &token, None, 204).await;
        job
    }

    /// The job's `status.lastExecution`.
    pub async fn last_execution(&self) -> Value {
        let token = self.graph.access_token().await;
        let job = self.api.expect(Method::GET, &self.url(&format!("/jobs/{}", self.id)), &token, None, 200).await;
        job["status"]["lastExecution"].clone()
    }

    /// `POST /_admin/clock/advance`, which runs the cycles falling due to completion; timed.
    pub async fn advance(&self, by: &str) -> Duration {
        let url = format!("{}/_admin/clock/advance", self.graph.uri());
        let body = Bytes::from(serde_json::to_vec(&json!({ "by": by })).expect("json"));
        let started = Instant::now();
        let (status, answer) = self.api.call(Method::POST, &url, self.graph.admin_token(), Some(body)).await;
        let elapsed = started.elapsed();
        assert_eq!(status, 200, "clock advance by {by}: {answer}");
        elapsed
    }
}

/// `state …, imported …, exported …` of a `lastExecution`, for a progress line.
pub fn summary_of(execution: &Value) -> String {
    format!(
        "state {}, imported {}, exported {}, exports {}, escrowed {}",
        execution["state"],
        execution["countImported"],
        execution["countExported"],
        execution["countExports"],
        execution["countEscrowed"]
    )
}

// ---------------------------------------------------------------------------------------------
// What reached mock-scim
// ---------------------------------------------------------------------------------------------

/// mock-scim's journal sequence number: every SCIM exchange so far (in-process read).
pub fn journal_seq(scim: &Held<MockScim, mock_scim::state::AppState>) -> u64 {
    scim.state.world().core.journal.seq()
}

/// Both mocks with default configs on loopback, their states held for in-process readings.
pub async fn start_pair() -> (Held<MockGraph, mock_graph::state::AppState>, Held<MockScim, mock_scim::state::AppState>)
{
    let graph_state = mock_graph::Config::default().into_state().expect("the default mock-graph config");
    let graph = MockGraph::start_over(graph_state.clone(), &TlsMode::Off, 0).await.expect("mock-graph starts");
    let scim_state = mock_scim::Config::default().into_state();
    let scim = MockScim::start_over(scim_state.clone(), &TlsMode::Off, 0).await.expect("mock-scim starts");
    (Held { mock: graph, state: graph_state }, Held { mock: scim, state: scim_state })
}

/// SCIM requests in the journal after a sequence number, read through `GET /_admin/journal?since=`.
#[derive(Debug, Default)]
pub struct ScimRequests {
    /// Entries returned.
    pub total: usize,
    pub gets: usize,
    pub writes: usize,
    /// `METHOD /Resource` → count.
    pub by_kind: BTreeMap<String, usize>,
    /// Highest sequence number seen.
    pub last_seq: u64,
}

impl ScimRequests {
    pub fn breakdown(&self) -> String {
        self.by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
    }
}

pub async fn journal_since(api: &Api, scim: &MockScim, since: u64) -> ScimRequests {
    let url = format!("{}/_admin/journal?since={since}", scim.uri());
    let journal = api.expect(Method::GET, &url, scim.admin_token(), None, 200).await;
    let entries = journal.as_array().expect("the journal is a JSON array");
    let mut out = ScimRequests::default();
    for entry in entries {
        let method = entry["request"]["method"].as_str().unwrap_or("?");
        let path = entry["request"]["path"].as_str().unwrap_or("");
        let resource = if path.contains("/Users") {
            "/Users"
        } else if path.contains("/Groups") {
            "/Groups"
        } else {
            path
        };
        let with_id = path.rsplit('/').next().is_some_and(|last| last != "Users" && last != "Groups");
        let kind = format!("{method} {resource}{}", if with_id && method != "GET" { "/{id}" } else { "" });
        *out.by_kind.entry(kind).or_default() += 1;
        out.total += 1;
        if method == "GET" {
            out.gets += 1;
        } else {
            out.writes += 1;
        }
        out.last_seq = out.last_seq.max(entry["seq"].as_u64().unwrap_or(0));
    }
    out
}

/// mock-scim's journal switch.
pub async fn set_journal_capacity(api: &Api, scim: &MockScim, capacity: usize) {
    let url = format!("{}/_admin/switches", scim.uri());
    api.expect(Method::PATCH, &url, scim.admin_token(), Some(json!({ "journalCapacity": capacity })), 200).await;
}

/// Checks mock-scim holds exactly the shape's in-scope users, every group, and every membership.
pub async fn verify_target(api: &Api, scim: &MockScim, shape: Shape) -> String {
    let url = format!("{}/_admin/tenants/{}/state", scim.uri(), scim.tenant_id());
    let state = api.expect(Method::GET, &url, scim.admin_token(), None, 200).await;
    let users = state["users"].as_array().expect("users");
    let groups = state["groups"].as_array().expect("groups");
    let names: HashMap<&str, &str> =
        users.iter().filter_map(|u| Some((u["id"].as_str()?, u["userName"].as_str()?))).collect();
    let expected_users: HashSet<String> =
        (0..shape.groups).flat_map(|g| (0..shape.members).map(move |j| upn(shape.member(g, j)))).collect();
    let got_users: HashSet<String> = names.values().map(|n| n.to_ascii_lowercase()).collect();
    assert_eq!(users.len(), expected_users.len(), "users in mock-scim");
    assert!(got_users == expected_users, "mock-scim's userNames are not the in-scope UPNs");
    let active = users.iter().filter(|u| u["active"] == true).count();
    assert_eq!(active, users.len(), "every provisioned user active");
    assert_eq!(groups.len(), shape.groups, "groups in mock-scim");
    let mut memberships = 0;
    for group in groups {
        let name = group["displayName"].as_str().expect("displayName");
        let g: usize = name.trim_start_matches("Group ").parse().expect("a seeded group name");
        let members: HashSet<String> = group["members"]
            .as_array()
            .expect("members")
            .iter()
            .map(|m| names.get(m.as_str().unwrap_or_default()).map(|n| n.to_ascii_lowercase()).unwrap_or_default())
            .collect();
        let expected: HashSet<String> = (0..shape.members).map(|j| upn(shape.member(g, j))).collect();
        assert!(
            members == expected,
            "{name}: {} members in mock-scim, not the {} expected",
            members.len(),
            shape.members
        );
        memberships += members.len();
    }
    assert_eq!(memberships, shape.memberships(), "memberships in mock-scim");
    format!(
        "verified in mock-scim: {} users (all active), {} groups, each with its {} expected members ({} memberships)",
        users.len(),
        groups.len(),
        shape.members,
        memberships
    )
}
