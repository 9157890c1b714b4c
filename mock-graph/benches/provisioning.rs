//! Benchmark of the Entra provisioning engine: whole cycles of the AWS IAM Identity Center job
//! against mock-scim over loopback HTTP, both mocks (and the engine, which runs inside mock-graph's
//! `POST /_admin/clock/advance`) in this process.
//!
//! - **Scenario A, initial cycle**: 10,000 users, 1,000 groups of 50 distinct direct members (50,000
//!   memberships), all 1,000 groups assigned to the AWS app, so every user is in scope as a direct
//!   member of an assigned group. One `clock/advance {"by":"PT1M"}` runs the initial cycle and is
//!   timed. The SCIM requests it made are counted in mock-scim's journal, giving time per request,
//!   compared with the sequential loopback floor (a `reqwest` client against an axum hello-world
//!   server in this process: small-JSON `GET` and a ~600-byte `POST` echo, weighted by the cycle's
//!   mix of reads and writes), measured right before and right after the cycle and pooled. Target:
//!   at most 3x the floor. mock-scim's state is then checked to hold every user, group and
//!   membership, and Microsoft's own estimate for the same scope (0.01 to 0.08 minutes per object,
//!   users + groups + memberships, entra-provisioning.md §8) is printed beside ours.
//! - **Scenario B, no-change incremental cycle**: 100,000 users in 100 assigned groups of 1,000
//!   (100,000 memberships). The initial cycle is timed and reported the same way; then five
//!   `clock/advance {"by":"PT40M"}` calls each run one incremental cycle with nothing changed in the
//!   directory. Targets: no write reaches mock-scim, and a cycle takes under 1 s. The first of them
//!   runs right after the initial cycle and is reported apart: in this process it can pay glibc's
//!   deferred consolidation of the millions of small blocks the initial cycle freed (`perf` shows
//!   `malloc_consolidate`), which a real deployment would pay during the 40 idle minutes; the other
//!   four run after the floor has been measured again.
//!   mock-scim's journal is capped at 10,000 exchanges here, so the initial cycle's request count
//!   comes from the journal's sequence number and its writes from the engine's own `countExports`
//!   (scenario A checks the two agree).
//! - **Where the time goes**: while a cycle runs, mock-scim's journal sequence number is sampled, which
//!   splits the cycle into planning (before the first SCIM request), requests, and recording (after
//!   the last), and gives the request rate in each tenth of the requests: a cycle that slows down as
//!   it goes (work per object growing with the objects done) shows as falling rates. mock-scim's own
//!   latency at the same scale (sequential filter `GET`s from this process) is printed beside it.
//! - **Peak memory**: `VmHWM` and `VmRSS` from `/proc/self/status`. Each scenario runs in its own
//!   child process (this binary with `--scenario=a` or `--scenario=b`), so each peak is that
//!   scenario's own. The provisioning log's size is estimated, as it is the largest single consumer.
//!
//! Absolute times depend on the machine; quote ratios to the floor measured in the same run
//! (`shared/reference/performance-anchors.md`). Targets print as PASS/MISS and are never asserted;
//! wrong results (a missing user, group or membership, escrowed objects, a count that does not add
//! up) fail the scenario.
//!
//! `--concurrency=N` sets mock-graph's `exportConcurrency` (1, one request at a time, by default) for
//! both scenarios; `--scenario=a` runs scenario A alone, in this process.
//!
//! ```text
//! cargo bench -p mock-graph --bench provisioning              # full: 10,000 / 100,000 users (~1-2 min)
//! cargo bench -p mock-graph --bench provisioning -- --quick   # smoke: 1,000 / 10,000 users
//! cargo bench -p mock-graph --bench provisioning -- --scenario=a --concurrency=8
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::routing::{get, post};
use axum::{Json, Router};
use mock_graph::MockGraph;
use mock_scim::MockScim;
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// The tenant's verified domain; seeded UPNs must end in it.
const DOMAIN: &str = "contoso.onmicrosoft.com";
/// The gallery app's display name, as seeded.
const APP: &str = "AWS IAM Identity Center";
/// Scenario A's target: engine time per SCIM request at most this many times the floor's.
const RATIO_TARGET: f64 = 3.0;
/// Scenario B's target for the no-change incremental cycle.
const INCREMENTAL_TARGET: Duration = Duration::from_secs(1);
/// Microsoft's estimate for an initial cycle, minutes per object in scope (entra-provisioning.md §8).
const MICROSOFT_MINUTES_PER_OBJECT: (f64, f64) = (0.01, 0.08);
/// Size of the floor's echoed JSON body, as in the performance anchors.
const ECHO_BYTES: usize = 600;
/// Users per seed call, and the largest seed body for groups: well under axum's 2 MB body limit.
const SEED_USERS_PER_CALL: usize = 5_000;
const SEED_BYTES_PER_CALL: usize = 1_000_000;
/// mock-scim's journal capacity in scenario B: the incremental cycle needs only a few entries, and
/// keeping the initial cycle's 200,000 exchanges would dominate the memory measured.
const SCENARIO_B_JOURNAL: usize = 10_000;

/// A directory and what is assigned: `users` users; `groups` groups of `members` direct members each,
/// member `j` of group `g` being user `(g × members + j) mod users`; every group assigned.
#[derive(Debug, Clone, Copy)]
struct Shape {
    users: usize,
    groups: usize,
    members: usize,
}

impl Shape {
    fn memberships(self) -> usize {
        self.groups * self.members
    }

    /// Users that are direct members of an assigned group.
    fn in_scope_users(self) -> usize {
        self.memberships().min(self.users)
    }

    fn member(self, group: usize, j: usize) -> usize {
        (group * self.members + j) % self.users
    }
}

/// Sizes of one run.
#[derive(Debug, Clone, Copy)]
struct Plan {
    a: Shape,
    b: Shape,
    /// Sequential floor requests of each kind, before and after a timed cycle.
    floor_requests: usize,
    floor_warmup: usize,
    /// mock-graph's `exportConcurrency`.
    concurrency: usize,
}

const FULL: Plan = Plan {
    a: Shape { users: 10_000, groups: 1_000, members: 50 },
    b: Shape { users: 100_000, groups: 100, members: 1_000 },
    floor_requests: 2_000,
    floor_warmup: 300,
    concurrency: 1,
};

const QUICK: Plan = Plan {
    a: Shape { users: 1_000, groups: 100, members: 50 },
    b: Shape { users: 10_000, groups: 10, members: 1_000 },
    floor_requests: 300,
    floor_warmup: 100,
    concurrency: 1,
};

fn main() {
    let mut quick = false;
    let mut scenario = None;
    let mut concurrency = 1;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--quick" => quick = true,
            "--scenario=a" => scenario = Some('a'),
            "--scenario=b" => scenario = Some('b'),
            other => match other.strip_prefix("--concurrency=").map(str::parse::<usize>) {
                Some(Ok(n)) if (1..=64).contains(&n) => concurrency = n,
                Some(_) => {
                    eprintln!("--concurrency: from 1 to 64, got {other}");
                    std::process::exit(2);
                }
                // `cargo bench` passes `--bench`; anything else (a name filter, say) does not apply here.
                None => {}
            },
        }
    }
    let plan = Plan { concurrency, ..if quick { QUICK } else { FULL } };
    if let Some(which) = scenario {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
        match which {
            'a' => runtime.block_on(scenario_a(plan)),
            _ => runtime.block_on(scenario_b(plan)),
        }
        return;
    }

    let started = Instant::now();
    println!(
        "provisioning benchmark ({} mode): each scenario in a child process, both mocks and the engine in it",
        if quick { "quick" } else { "full" }
    );
    if quick {
        println!("quick mode: a smoke run at a tenth of the scale; the verdicts mean little");
    }
    let exe = std::env::current_exe().expect("path of this benchmark");
    let mut verdicts = Vec::new();
    let mut failed = false;
    for which in ["a", "b"] {
        println!();
        let mut command = Command::new(&exe);
        command.arg(format!("--scenario={which}")).arg(format!("--concurrency={concurrency}")).stderr(Stdio::inherit());
        if quick {
            command.arg("--quick");
        }
        // The child's lines are relayed as they come, and the verdicts kept for the summary.
        let mut child = match command.stdout(Stdio::piped()).spawn() {
            Ok(child) => child,
            Err(err) => {
                failed = true;
                println!("could not start scenario {which}: {err}");
                continue;
            }
        };
        if let Some(stdout) = child.stdout.take() {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                println!("{line}");
                if line.contains("PASS") || line.contains("MISS") {
                    verdicts.push(line);
                }
            }
        }
        match child.wait() {
            Ok(status) if status.success() => {}
            Ok(status) => {
                failed = true;
                println!("scenario {which} FAILED ({status}); its panic message is on stderr");
            }
            Err(err) => {
                failed = true;
                println!("scenario {which}: could not wait for the child: {err}");
            }
        }
    }
    println!();
    println!("summary");
    for line in &verdicts {
        println!("  {}", line.trim());
    }
    println!("total benchmark time: {:.1} s", started.elapsed().as_secs_f64());
    if failed {
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers
// ---------------------------------------------------------------------------------------------

/// One client for everything the benchmark itself sends (the engine has its own).
struct Api {
    http: reqwest::Client,
}

impl Api {
    fn new() -> Api {
        Api { http: reqwest::Client::builder().no_proxy().tcp_nodelay(true).build().expect("reqwest client") }
    }

    /// Sends a request with a bearer and an optional JSON body; returns the status and the parsed body
    /// (`null` when empty or not JSON).
    async fn call(&self, method: Method, url: &str, bearer: &str, body: Option<Bytes>) -> (u16, Value) {
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
    async fn expect(&self, method: Method, url: &str, bearer: &str, body: Option<Value>, status: u16) -> Value {
        let body = body.map(|b| Bytes::from(serde_json::to_vec(&b).expect("json")));
        let (got, answer) = self.call(method.clone(), url, bearer, body).await;
        assert_eq!(got, status, "{method} {url} answered {got}: {answer}");
        answer
    }
}

/// The loopback floor: an axum hello-world with a JSON echo, served from this process.
async fn start_floor() -> String {
    let app = Router::new()
        .route("/", get(|| async { Json(json!({"ok": true})) }))
        .route("/echo", post(|Json(body): Json<Value>| async move { Json(body) }));
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("a loopback port for the floor");
    let address = listener.local_addr().expect("the floor's address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{address}")
}

/// A user-shaped JSON document of about [`ECHO_BYTES`] bytes.
fn echo_body() -> Bytes {
    let mut value = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "externalId": "user000001",
        "userName": "user000001@contoso.onmicrosoft.com",
        "displayName": "User 1",
        "name": {"givenName": "Given1", "familyName": "Sur1", "formatted": "Given1 Sur1"},
        "emails": [{"value": "user000001@contoso.onmicrosoft.com", "type": "work", "primary": true}],
        "active": true
    });
    let size = serde_json::to_vec(&value).expect("json").len();
    value["nickName"] = Value::String("x".repeat(ECHO_BYTES.saturating_sub(size + 14)));
    Bytes::from(serde_json::to_vec(&value).expect("json"))
}

/// Sequential floor latencies, in µs.
#[derive(Debug, Clone, Default)]
struct Floor {
    get: Vec<f64>,
    post: Vec<f64>,
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

fn percentile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

impl Floor {
    fn extend(&mut self, other: Floor) {
        self.get.extend(other.get);
        self.post.extend(other.post);
    }

    /// Mean µs per request for a mix of `gets` reads and `writes` writes.
    fn weighted(&self, gets: usize, writes: usize) -> f64 {
        let total = (gets + writes).max(1) as f64;
        (mean(&self.get) * gets as f64 + mean(&self.post) * writes as f64) / total
    }

    fn describe(&self) -> String {
        format!(
            "GET mean {:.0} µs (p50 {:.0}, p99 {:.0}), POST {ECHO_BYTES} B echo mean {:.0} µs (p50 {:.0}, p99 {:.0}), {} + {} requests",
            mean(&self.get),
            percentile(&self.get, 0.5),
            percentile(&self.get, 0.99),
            mean(&self.post),
            percentile(&self.post, 0.5),
            percentile(&self.post, 0.99),
            self.get.len(),
            self.post.len()
        )
    }
}

/// `n` sequential small-JSON GETs and `n` sequential echo POSTs against the floor.
async fn measure_floor(api: &Api, floor: &str, echo: &Bytes, n: usize) -> Floor {
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
// Memory
// ---------------------------------------------------------------------------------------------

/// A `/proc/self/status` field given in kB, in MiB.
fn proc_status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line[field.len()..].trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb / 1024.0)
}

fn memory() -> String {
    let show = |field| proc_status_mib(field).map_or_else(|| "n/a".to_owned(), |v| format!("{v:.1} MiB"));
    format!("VmRSS {}, VmHWM (peak) {}", show("VmRSS:"), show("VmHWM:"))
}

// ---------------------------------------------------------------------------------------------
// Setting up a tenant and a job
// ---------------------------------------------------------------------------------------------

fn upn(i: usize) -> String {
    format!("user{i:06}@{DOMAIN}")
}

fn group_name(g: usize) -> String {
    format!("Group {g:05}")
}

/// What seeding created.
struct Seeded {
    /// Service principal id of the AWS app.
    sp: String,
    /// Seed calls made.
    calls: usize,
    elapsed: Duration,
}

/// Seeds a shape through `POST /_admin/seed`, in calls kept under the body limit.
async fn seed(api: &Api, graph: &MockGraph, shape: Shape) -> Seeded {
    let url = format!("{}/_admin/seed", graph.uri());
    let admin = graph.admin_token().to_owned();
    let started = Instant::now();
    let mut calls = 0;
    let mut seeded_users = 0;
    for first in (0..shape.users).step_by(SEED_USERS_PER_CALL) {
        let users: Vec<Value> = (first..(first + SEED_USERS_PER_CALL).min(shape.users))
            .map(|i| {
                json!({"userPrincipalName": upn(i), "givenName": format!("Given{i}"), "surname": format!("Sur{i}"),
                    "mail": upn(i), "displayName": format!("User {i}")})
            })
            .collect();
        let answer = api.expect(Method::POST, &url, &admin, Some(json!({ "users": users })), 200).await;
        seeded_users += answer["users"].as_object().map_or(0, |m| m.len());
        calls += 1;
    }
    assert_eq!(seeded_users, shape.users, "every user seeded");
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
    Seeded { sp: sp.to_owned(), calls, elapsed: started.elapsed() }
}

/// The graph side of a job: its URL prefix and a fresh token for each call.
struct Job<'a> {
    api: &'a Api,
    graph: &'a MockGraph,
    sp: String,
    id: String,
}

impl Job<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}/v1.0/servicePrincipals/{}/synchronization{path}", self.graph.uri(), self.sp)
    }

    /// Creates the job, saves mock-scim as its target, sets `exportConcurrency`, starts it.
    async fn create<'a>(api: &'a Api, graph: &'a MockGraph, scim: &MockScim, sp: &str, concurrency: usize) -> Job<'a> {
        let switches = Bytes::from(serde_json::to_vec(&json!({ "exportConcurrency": concurrency })).expect("json"));
        let url = format!("{}/_admin/switches", graph.uri());
        let (status, answer) = api.call(Method::PATCH, &url, graph.admin_token(), Some(switches)).await;
        assert_eq!(status, 200, "exportConcurrency {concurrency}: {answer}");
        let mut job = Job { api, graph, sp: sp.to_owned(), id: String::new() };
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
    async fn last_execution(&self) -> Value {
        let token = self.graph.access_token().await;
        let job = self.api.expect(Method::GET, &self.url(&format!("/jobs/{}", self.id)), &token, None, 200).await;
        job["status"]["lastExecution"].clone()
    }

    /// `POST /_admin/clock/advance`, which runs the cycles falling due to completion; timed.
    async fn advance(&self, by: &str) -> Duration {
        let url = format!("{}/_admin/clock/advance", self.graph.uri());
        let body = Bytes::from(serde_json::to_vec(&json!({ "by": by })).expect("json"));
        let started = Instant::now();
        let (status, answer) = self.api.call(Method::POST, &url, self.graph.admin_token(), Some(body)).await;
        let elapsed = started.elapsed();
        assert_eq!(status, 200, "clock advance by {by}: {answer}");
        elapsed
    }
}

// ---------------------------------------------------------------------------------------------
// What reached mock-scim
// ---------------------------------------------------------------------------------------------

/// mock-scim's journal sequence number: every SCIM exchange so far (in-process read).
fn journal_seq(scim: &MockScim) -> u64 {
    scim.state().world().journal_seq
}

/// SCIM requests in the journal after `since`, read through `GET /_admin/journal?since=`.
#[derive(Debug, Default)]
struct Requests {
    /// Entries returned.
    total: usize,
    gets: usize,
    writes: usize,
    /// `METHOD /Resource` → count.
    by_kind: BTreeMap<String, usize>,
    /// Highest sequence number seen.
    last_seq: u64,
}

impl Requests {
    fn breakdown(&self) -> String {
        self.by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
    }
}

async fn journal_since(api: &Api, scim: &MockScim, since: u64) -> Requests {
    let url = format!("{}/_admin/journal?since={since}", scim.uri());
    let journal = api.expect(Method::GET, &url, scim.admin_token(), None, 200).await;
    let entries = journal.as_array().expect("the journal is a JSON array");
    let mut out = Requests::default();
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
async fn set_journal_capacity(api: &Api, scim: &MockScim, capacity: usize) {
    let url = format!("{}/_admin/switches", scim.uri());
    api.expect(Method::PATCH, &url, scim.admin_token(), Some(json!({ "journalCapacity": capacity })), 200).await;
}

/// Checks mock-scim holds exactly the shape's in-scope users, every group, and every membership.
async fn verify_target(api: &Api, scim: &MockScim, shape: Shape) -> String {
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

/// In-process sizes that explain the memory: the engine's provisioning log and mock-scim's journal.
fn retained(graph: &MockGraph, scim: &MockScim) -> String {
    let (logs, log_bytes, log_heap) = {
        let world = graph.state().world();
        let logs = &world.provisioning.logs;
        let text: usize = logs.iter().map(|entry| entry.to_string().len()).sum();
        let heap: usize = logs.capacity() * size_of::<Value>() + logs.iter().map(value_heap).sum::<usize>();
        (logs.len(), text, heap)
    };
    let (entries, bytes) = {
        let world = scim.state().world();
        let bytes: usize =
            world.journal.iter().map(|e| e.request_body.len() + e.response.as_ref().map_or(0, |r| r.2.len())).sum();
        (world.journal.len(), bytes)
    };
    format!(
        "retained: {logs} provisioning log entries in mock-graph ({:.1} MiB as JSON text, about {:.0} MiB of heap as \
         serde_json values); {entries} exchanges in mock-scim's journal ({:.1} MiB of bodies)",
        log_bytes as f64 / 1_048_576.0,
        log_heap as f64 / 1_048_576.0,
        bytes as f64 / 1_048_576.0
    )
}

/// Rough heap footprint of a `serde_json::Value` (with `preserve_order`): every allocation's
/// capacity plus 16 bytes of allocator overhead; an object entry costs its hash, key and value
/// (64 bytes) plus about 10 bytes of index. An estimate, to say where memory goes.
fn value_heap(value: &Value) -> usize {
    const ALLOC: usize = 16;
    match value {
        Value::String(s) if s.capacity() > 0 => s.capacity() + ALLOC,
        Value::Array(items) => {
            items.capacity() * size_of::<Value>() + ALLOC + items.iter().map(value_heap).sum::<usize>()
        }
        Value::Object(map) => {
            2 * ALLOC
                + map.iter().map(|(key, value)| 64 + 10 + key.capacity() + ALLOC + value_heap(value)).sum::<usize>()
        }
        _ => 0,
    }
}

fn microsoft_estimate(shape: Shape, ours: Duration) -> String {
    let objects = shape.in_scope_users() + shape.groups + shape.memberships();
    let (low, high) = MICROSOFT_MINUTES_PER_OBJECT;
    let (low, high) = (objects as f64 * low, objects as f64 * high);
    let minutes = ours.as_secs_f64() / 60.0;
    format!(
        "Microsoft's estimate (§8: {}–{} min per object; {} users + {} groups + {} memberships = {objects} objects): \
         {low:.0}–{high:.0} min ({:.1}–{:.1} h); this cycle: {minutes:.2} min, {:.0}x–{:.0}x faster",
        MICROSOFT_MINUTES_PER_OBJECT.0,
        MICROSOFT_MINUTES_PER_OBJECT.1,
        shape.in_scope_users(),
        shape.groups,
        shape.memberships(),
        low / 60.0,
        high / 60.0,
        low / minutes,
        high / minutes
    )
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "MISS" }
}

fn summary_of(execution: &Value) -> String {
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
// Where a cycle's time goes
// ---------------------------------------------------------------------------------------------

/// CPU time of every thread of this process so far (`/proc/self/task/*/schedstat`, in ns): both
/// mocks, the engine, and this benchmark's client.
fn process_cpu() -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return Duration::ZERO };
    let nanos: u64 = tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|line| line.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

/// mock-scim's journal sequence number sampled while a cycle runs: (time since the advance was sent,
/// SCIM exchanges so far). Reading it takes mock-scim's lock for a moment, once per period.
struct Timeline {
    samples: Vec<(Duration, u64)>,
    since: u64,
    total: Duration,
    /// CPU time this process spent during the advance.
    cpu: Duration,
}

impl Timeline {
    /// Runs `job.advance(by)` while sampling every `period`.
    async fn advance(job: &Job<'_>, scim: &MockScim, by: &str, period: Duration) -> Timeline {
        let since = journal_seq(scim);
        let cpu = process_cpu();
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let sampler = {
            let (state, samples, stop) = (scim.state().clone(), Arc::clone(&samples), Arc::clone(&stop));
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(period).await;
                    let seq = state.world().journal_seq;
                    samples.lock().expect("samples").push((started.elapsed(), seq));
                }
            })
        };
        let total = job.advance(by).await;
        let cpu = process_cpu().saturating_sub(cpu);
        stop.store(true, Ordering::Relaxed);
        let _ = sampler.await;
        let mut samples = std::mem::take(&mut *samples.lock().expect("samples"));
        samples.push((started.elapsed().max(total), journal_seq(scim)));
        Timeline { samples, since, total, cpu }
    }

    /// The first sample at which at least `n` exchanges had happened.
    fn reached(&self, n: u64) -> Option<Duration> {
        self.samples.iter().find(|(_, seq)| *seq >= self.since + n).map(|(at, _)| *at)
    }

    /// Before the first SCIM request, during the requests, after the last one; and the request rate
    /// in each tenth of the requests, to show whether a cycle slows down as it goes.
    fn describe(&self, period: Duration) -> Vec<String> {
        let made = self.samples.last().map_or(0, |(_, seq)| seq - self.since);
        let (Some(first), Some(last)) = (self.reached(1), self.reached(made.max(1))) else {
            return vec![format!("no SCIM request was seen in {:.3} s", self.total.as_secs_f64())];
        };
        let last = last.min(self.total);
        let mut lines = vec![format!(
            "where the time goes (journal sampled every {} ms, times ± one period): before the first SCIM request \
             (reading and scoping the directory) ≤ {:.3} s; first to last request {:.3} s; after the last request \
             (recording links, status and logs) ≥ {:.3} s; CPU time of this process (both mocks, engine, client) \
             {:.3} s",
            period.as_millis(),
            first.as_secs_f64(),
            last.saturating_sub(first).as_secs_f64(),
            self.total.saturating_sub(last).as_secs_f64(),
            self.cpu.as_secs_f64()
        )];
        if made >= 1_000 {
            let tenths: Vec<String> = (0..10)
                .map(|t| {
                    let (from, to) = (made * t / 10, made * (t + 1) / 10);
                    let start = if t == 0 { first } else { self.reached(from).unwrap_or(first) };
                    let end = self.reached(to).unwrap_or(last);
                    let seconds = end.saturating_sub(start).as_secs_f64().max(period.as_secs_f64());
                    format!("{:.0}", (to - from) as f64 / seconds)
                })
                .collect();
            lines
                .push(format!("SCIM requests per second in each tenth of the cycle's requests: {}", tenths.join(", ")));
        }
        lines
    }
}

/// mock-scim's own latency at this scale: `n` sequential `GET /Users?filter=userName eq "…"` for
/// provisioned users, from this process's client, in µs (mean, p50).
async fn scim_filter_latency(api: &Api, scim: &MockScim, shape: Shape, n: usize) -> (f64, f64) {
    let mut latencies = Vec::with_capacity(n);
    for k in 0..n {
        let user = upn(shape.member(k * 7919 % shape.groups.max(1), k % shape.members));
        let url = format!("{}Users", scim.scim_endpoint());
        let sent = Instant::now();
        let response = api
            .http
            .get(&url)
            .bearer_auth(scim.token())
            .query(&[("filter", format!("userName eq \"{user}\""))])
            .send()
            .await
            .expect("a SCIM GET");
        let status = response.status().as_u16();
        let body = response.bytes().await.expect("a SCIM body");
        latencies.push(sent.elapsed().as_secs_f64() * 1e6);
        assert_eq!(status, 200);
        if k % 100 == 0 {
            let body: Value = serde_json::from_slice(&body).expect("a SCIM list");
            assert_eq!(body["totalResults"], 1, "{user}: {body}");
        }
    }
    (mean(&latencies), percentile(&latencies, 0.5))
}

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

/// The floor's warm-up, timed: after a big cycle it also absorbs the allocator's deferred work (glibc
/// consolidating the small blocks the cycle freed), so the measured floor does not.
async fn timed_warmup(api: &Api, floor: &str, echo: &Bytes, n: usize) -> Duration {
    let started = Instant::now();
    measure_floor(api, floor, echo, n).await;
    started.elapsed()
}

fn warmups(n: usize, before: Duration, after: Duration) -> String {
    format!(
        "floor warm-up ({n} GET + {n} POST, not counted): {:.0} ms before the cycle, {:.0} ms after it",
        before.as_secs_f64() * 1e3,
        after.as_secs_f64() * 1e3
    )
}

fn describe(shape: Shape) -> String {
    format!(
        "{} users in the directory, {} groups × {} direct members = {} memberships, all groups assigned ({} users in scope)",
        shape.users,
        shape.groups,
        shape.members,
        shape.memberships(),
        shape.in_scope_users()
    )
}

/// Sampling period of the timeline during an initial cycle, and during an incremental one.
const INITIAL_PERIOD: Duration = Duration::from_millis(10);
const INCREMENTAL_PERIOD: Duration = Duration::from_millis(1);
/// Direct `GET /Users?filter=` requests to mock-scim after the cycles.
const SCIM_PROBES: usize = 1_000;
/// No-change incremental cycles run in scenario B, each timed.
const INCREMENTAL_CYCLES: usize = 5;

async fn scenario_a(plan: Plan) {
    let shape = plan.a;
    println!("scenario A: initial cycle; {}; exportConcurrency {}", describe(shape), plan.concurrency);
    let api = Api::new();
    let floor = start_floor().await;
    let echo = echo_body();
    let graph = MockGraph::start().await;
    let scim = MockScim::start().await;
    let seeded = seed(&api, &graph, shape).await;
    println!("  seeded in {:.2} s ({} seed calls); {}", seeded.elapsed.as_secs_f64(), seeded.calls, memory());
    let job = Job::create(&api, &graph, &scim, &seeded.sp, plan.concurrency).await;

    let warmup_before = timed_warmup(&api, &floor, &echo, plan.floor_warmup).await;
    let before = measure_floor(&api, &floor, &echo, plan.floor_requests).await;
    eprintln!("scenario A: running the initial cycle");
    let timeline = Timeline::advance(&job, &scim, "PT1M", INITIAL_PERIOD).await;
    let cycle = timeline.total;
    let memory_after_cycle = memory();
    let warmup_after = timed_warmup(&api, &floor, &echo, plan.floor_warmup).await;
    let after = measure_floor(&api, &floor, &echo, plan.floor_requests).await;

    let requests = journal_since(&api, &scim, timeline.since).await;
    let made = journal_seq(&scim) - timeline.since;
    let execution = job.last_execution().await;
    let per_request = cycle.as_secs_f64() * 1e6 / requests.total.max(1) as f64;
    let mut pooled = before.clone();
    pooled.extend(after.clone());
    let floor_per_request = pooled.weighted(requests.gets, requests.writes);
    let ratio = per_request / floor_per_request;
    println!(
        "  initial cycle: {:.2} s wall for {} SCIM requests ({} GET, {} writes: {}) = {per_request:.0} µs per request",
        cycle.as_secs_f64(),
        requests.total,
        requests.gets,
        requests.writes,
        requests.breakdown()
    );
    println!("  engine's own count: {}", summary_of(&execution));
    for line in timeline.describe(INITIAL_PERIOD) {
        println!("  {line}");
    }
    println!("  floor before the cycle: {}", before.describe());
    println!("  floor after the cycle:  {}", after.describe());
    println!("  {}", warmups(plan.floor_warmup, warmup_before, warmup_after));
    println!(
        "  floor for this mix ({} GET, {} POST, pooled before+after): {floor_per_request:.0} µs per request \
         (before only {:.0}, after only {:.0})",
        requests.gets,
        requests.writes,
        before.weighted(requests.gets, requests.writes),
        after.weighted(requests.gets, requests.writes)
    );
    println!(
        "  A: engine per SCIM request / floor = {per_request:.0} / {floor_per_request:.0} µs = {ratio:.2}x; target ≤ {RATIO_TARGET:.0}x: {}",
        verdict(ratio <= RATIO_TARGET)
    );
    println!("  {}", microsoft_estimate(shape, cycle));
    println!("  memory right after the cycle: {memory_after_cycle}");
    println!("  {}", retained(&graph, &scim));
    let (scim_mean, scim_p50) = scim_filter_latency(&api, &scim, shape, SCIM_PROBES).await;
    println!(
        "  mock-scim alone at this scale, {SCIM_PROBES} sequential GET /Users?filter=userName eq from this process: \
         mean {scim_mean:.0} µs, p50 {scim_p50:.0} µs ({:.2}x the pooled floor GET mean)",
        scim_mean / mean(&pooled.get)
    );

    assert_eq!(requests.total as u64, made, "the journal kept every exchange of the cycle");
    assert_eq!(execution["state"], "Succeeded", "the initial cycle: {execution}");
    assert_eq!(execution["countEscrowed"], 0, "nothing escrowed: {execution}");
    assert_eq!(
        execution["countExports"].as_u64(),
        Some(requests.writes as u64),
        "the engine's countExports matches the writes in mock-scim's journal"
    );
    println!("  {}", verify_target(&api, &scim, shape).await);
    println!("  memory at the end of scenario A (after reading the journal and mock-scim's state): {}", memory());
}

async fn scenario_b(plan: Plan) {
    let shape = plan.b;
    println!("scenario B: no-change incremental cycle; {}; exportConcurrency {}", describe(shape), plan.concurrency);
    let api = Api::new();
    let floor = start_floor().await;
    let echo = echo_body();
    let graph = MockGraph::start().await;
    let scim = MockScim::start().await;
    set_journal_capacity(&api, &scim, SCENARIO_B_JOURNAL).await;
    let seeded = seed(&api, &graph, shape).await;
    println!("  seeded in {:.2} s ({} seed calls); {}", seeded.elapsed.as_secs_f64(), seeded.calls, memory());
    let job = Job::create(&api, &graph, &scim, &seeded.sp, plan.concurrency).await;

    let warmup_before = timed_warmup(&api, &floor, &echo, plan.floor_warmup).await;
    let mut floor_pooled = measure_floor(&api, &floor, &echo, plan.floor_requests).await;
    eprintln!("scenario B: running the initial cycle ({} users in scope)", shape.in_scope_users());
    let timeline = Timeline::advance(&job, &scim, "PT1M", INITIAL_PERIOD).await;
    let initial = timeline.total;
    let memory_after_initial = memory();
    let initial_execution = job.last_execution().await;
    let made = journal_seq(&scim) - timeline.since;

    // The first incremental cycle runs right away, as `clock/advance` allows; the others after the
    // floor has been measured again.
    eprintln!("scenario B: running the incremental cycles");
    let first = Timeline::advance(&job, &scim, "PT40M", INCREMENTAL_PERIOD).await;
    let requests = journal_since(&api, &scim, first.since).await;
    let first_made = journal_seq(&scim) - first.since;
    let first_execution = job.last_execution().await;
    let warmup_after = timed_warmup(&api, &floor, &echo, plan.floor_warmup).await;
    floor_pooled.extend(measure_floor(&api, &floor, &echo, plan.floor_requests).await);

    let writes = initial_execution["countExports"].as_u64().unwrap_or(0);
    let gets = made.saturating_sub(writes);
    let per_request = initial.as_secs_f64() * 1e6 / made.max(1) as f64;
    let floor_per_request = floor_pooled.weighted(gets as usize, writes as usize);
    println!(
        "  initial cycle: {:.2} s wall for {made} SCIM requests ({gets} GET, {writes} writes by the engine's count; \
         mock-scim's journal keeps only the last {SCENARIO_B_JOURNAL}) = {per_request:.0} µs per request, {:.2}x the floor \
         ({floor_per_request:.0} µs for this mix, pooled before+after)",
        initial.as_secs_f64(),
        per_request / floor_per_request,
    );
    println!("  engine's own count: {}", summary_of(&initial_execution));
    for line in timeline.describe(INITIAL_PERIOD) {
        println!("  {line}");
    }
    println!("  floor: {}", floor_pooled.describe());
    println!("  {}", warmups(plan.floor_warmup, warmup_before, warmup_after));
    println!("  {}", microsoft_estimate(shape, initial));
    println!("  memory right after the initial cycle: {memory_after_initial}");

    println!(
        "  first incremental cycle, right after the initial one (clock/advance PT40M, nothing changed, {} users in \
         the directory, {} provisioned): {:.1} ms wall, {:.1} ms CPU; {} SCIM requests ({}), {} writes",
        shape.users,
        shape.in_scope_users(),
        first.total.as_secs_f64() * 1e3,
        first.cpu.as_secs_f64() * 1e3,
        requests.total,
        requests.breakdown(),
        requests.writes
    );
    println!("  engine's own count: {}", summary_of(&first_execution));
    for line in first.describe(INCREMENTAL_PERIOD) {
        println!("  {line}");
    }

    // More no-change cycles, each its own PT40M advance, so one slow spell of the machine cannot
    // decide the verdict alone, nor hide a slow cycle.
    let mut times = Vec::new();
    let mut cpu = Vec::new();
    let mut writes = requests.writes;
    let mut last_activity = first_execution["activityIdentifier"].clone();
    for _ in 1..INCREMENTAL_CYCLES {
        let cycle = Timeline::advance(&job, &scim, "PT40M", INCREMENTAL_PERIOD).await;
        let again = journal_since(&api, &scim, cycle.since).await;
        assert_eq!(again.total as u64, journal_seq(&scim) - cycle.since, "the journal kept the whole cycle");
        let execution = job.last_execution().await;
        assert_ne!(execution["activityIdentifier"], last_activity, "each PT40M advance runs one cycle");
        last_activity = execution["activityIdentifier"].clone();
        writes += again.writes;
        times.push(cycle.total);
        cpu.push(cycle.cpu);
    }
    let idle = job.advance("PT1M").await;
    let ms = |list: &[Duration]| list.iter().map(|t| format!("{:.1}", t.as_secs_f64() * 1e3)).collect::<Vec<_>>();
    let slowest = times.iter().copied().max().unwrap_or_default();
    println!(
        "  {} more no-change incremental cycles, after the floor: {} ms wall (CPU {} ms); clock/advance PT1M with \
         no cycle due: {:.1} ms",
        times.len(),
        ms(&times).join(", "),
        ms(&cpu).join(", "),
        idle.as_secs_f64() * 1e3
    );
    println!(
        "  B: no-change incremental cycle writes: {writes} in {} cycles; target 0: {}",
        times.len() + 1,
        verdict(writes == 0)
    );
    println!(
        "  B: no-change incremental cycle time, slowest of {}: {:.1} ms; target < {} ms: {}",
        times.len(),
        slowest.as_secs_f64() * 1e3,
        INCREMENTAL_TARGET.as_millis(),
        verdict(slowest < INCREMENTAL_TARGET)
    );
    println!(
        "  B: no-change incremental cycle time, right after the initial cycle: {:.1} ms; target < {} ms: {}",
        first.total.as_secs_f64() * 1e3,
        INCREMENTAL_TARGET.as_millis(),
        verdict(first.total < INCREMENTAL_TARGET)
    );
    println!("  memory after the incremental cycles: {}", memory());
    println!("  {} (journal capacity set to {SCENARIO_B_JOURNAL})", retained(&graph, &scim));
    let (scim_mean, scim_p50) = scim_filter_latency(&api, &scim, shape, SCIM_PROBES).await;
    println!(
        "  mock-scim alone at this scale, {SCIM_PROBES} sequential GET /Users?filter=userName eq from this process: \
         mean {scim_mean:.0} µs, p50 {scim_p50:.0} µs ({:.2}x the pooled floor GET mean)",
        scim_mean / mean(&floor_pooled.get)
    );

    assert_ne!(first_execution["activityIdentifier"], initial_execution["activityIdentifier"], "PT40M ran a cycle");
    assert_eq!(initial_execution["state"], "Succeeded", "the initial cycle: {initial_execution}");
    assert_eq!(initial_execution["countEscrowed"], 0, "nothing escrowed: {initial_execution}");
    assert_eq!(requests.total as u64, first_made, "the journal kept every exchange of the incremental cycle");
    println!("  {}", verify_target(&api, &scim, shape).await);
    println!("  memory at the end of scenario B (after reading mock-scim's state): {}", memory());
}
