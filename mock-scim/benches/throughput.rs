//! Throughput and memory benchmark of the mock, over real loopback HTTP with keep-alive.
//!
//! For 1,000 and 100,000 seeded users it measures `GET /Users?filter=userName eq "…"`, `POST /Users`
//! and `PATCH /Groups/{id}` adding 100 members, each sequentially (one task) and with 16 concurrent
//! tasks sharing one `reqwest` client, right after the same load against an axum hello-world floor
//! served from this process. Absolute numbers depend on the machine; the ratios to the floor measured
//! in the same run are what to quote (`shared/reference/performance-anchors.md`).
//!
//! Rows run in the order GET, POST, PATCH, so `users` is exact for the GET rows; the POST rows add
//! users as they go. Every request's status is checked, and every 50th response body; after each
//! scale the store is checked to hold exactly the users and memberships the load created.
//!
//! A child process (this binary with `--memory`) then seeds 100,000 users, 100,000 groups and
//! 1,000,000 memberships directly into the store and reports its resident memory.
//!
//! Targets: filter GET at least 0.5x the floor's throughput, flat within 2x between 1,000 and
//! 100,000 users; the memory scenario under 1 GiB. They are printed as PASS/MISS, never asserted.
//!
//! ```text
//! cargo bench -p mock-scim --bench throughput              # everything (about a minute on 2 cores)
//! cargo bench -p mock-scim --bench throughput -- --quick   # smoke run
//! cargo bench -p mock-scim --bench throughput -- --memory  # memory scenario only
//! ```

use std::collections::HashSet;
use std::fmt::Write as _;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::routing::{get, post};
use bytes::Bytes;
use mock_scim::model::{GroupInput, UserInput};
use mock_scim::state::World;
use mock_scim::{Config, MockScim};
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// The user counts measured over HTTP.
const SCALES: [usize; 2] = [1_000, 100_000];
/// Tasks sharing the client in the concurrent mode.
const CONCURRENCY: usize = 16;
/// Members each PATCH adds: AWS's limit per request.
const PATCH_MEMBERS: usize = 100;
/// PATCH requests each target group receives, so a target group ends with 1,000 members at every scale.
const PATCHES_PER_GROUP: usize = 10;
/// Every how many requests a response body is parsed and checked.
const CHECK_EVERY: usize = 50;
/// Size of the floor's echoed JSON body, as in the performance anchors.
const ECHO_BYTES: usize = 600;

/// Memory scenario: users, groups, members per group (100,000 × 10 = 1,000,000 memberships).
const MEMORY_USERS: usize = 100_000;
const MEMORY_GROUPS: usize = 100_000;
const MEMORY_MEMBERS_PER_GROUP: usize = 10;
/// Memory target: 1 GiB.
const MEMORY_TARGET_MIB: f64 = 1024.0;

/// Targets of the issue.
const FILTER_RATIO_TARGET: f64 = 0.5;
const FLATNESS_TARGET: f64 = 2.0;

/// Requests per measurement.
#[derive(Debug, Clone, Copy)]
struct Counts {
    get_seq: usize,
    get_conc: usize,
    post_seq: usize,
    post_conc: usize,
    patch_seq: usize,
    patch_conc: usize,
    warmup: usize,
    /// Floor-then-mock pairs per row; the row shows medians.
    reps: usize,
}

const FULL: Counts = Counts {
    get_seq: 5_000,
    get_conc: 20_000,
    post_seq: 3_000,
    post_conc: 10_000,
    patch_seq: 1_000,
    patch_conc: 4_000,
    warmup: 500,
    reps: 3,
};

const QUICK: Counts = Counts {
    get_seq: 500,
    get_conc: 2_000,
    post_seq: 500,
    post_conc: 2_000,
    patch_seq: 200,
    patch_conc: 800,
    warmup: 100,
    reps: 1,
};

fn main() {
    let mut quick = false;
    let mut memory = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--quick" => quick = true,
            "--memory" => memory = true,
            // `cargo bench` passes `--bench`; anything else (a name filter, say) does not apply here.
            _ => {}
        }
    }
    if memory {
        memory_scenario();
        return;
    }

    let counts = if quick { QUICK } else { FULL };
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let (rows, notes) = runtime.block_on(http_benchmark(counts));
    drop(runtime);
    if quick {
        println!("quick mode: a smoke run, too few requests for the verdicts to mean much");
    }
    print_table(&rows);
    for note in notes {
        println!("{note}");
    }

    println!();
    println!(
        "memory (child process: {} --memory)",
        std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default()
    );
    let exe = std::env::current_exe().expect("path of this benchmark");
    match Command::new(exe).arg("--memory").output() {
        Ok(output) => {
            print!("{}", String::from_utf8_lossy(&output.stdout));
            if !output.status.success() {
                println!("  memory scenario failed ({}):", output.status);
                print!("{}", String::from_utf8_lossy(&output.stderr));
            }
        }
        Err(err) => println!("  could not start the memory scenario: {err}"),
    }
    println!();
    println!(
        "total benchmark time: {:.1} s ({} mode)",
        started.elapsed().as_secs_f64(),
        if quick { "quick" } else { "full" }
    );
}

// ---------------------------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------------------------

/// A user as a client creates it: the attributes AWS requires, plus an externalId as Entra sends.
fn user_json(prefix: &str, i: usize) -> Value {
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

fn user_input(prefix: &str, i: usize) -> UserInput {
    serde_json::from_value(user_json(prefix, i)).expect("a valid UserInput")
}

fn group_input(name: &str, members: &[&str]) -> GroupInput {
    let members: Vec<Value> = members.iter().map(|id| json!({"value": id})).collect();
    serde_json::from_value(json!({"displayName": name, "members": members})).expect("a valid GroupInput")
}

/// Creates a user straight in the store; returns its id.
fn seed_user(world: &mut World, tenant_id: &str, input: UserInput) -> String {
    let id = world.uuid();
    let now = world.clock.now();
    let switches = world.switches.clone();
    let tenant = world.tenants.get_mut(tenant_id).expect("the tenant");
    tenant.create_user(id.clone(), now, input, &switches).expect("seeding a user");
    id
}

/// Creates a group straight in the store; returns its id.
fn seed_group(world: &mut World, tenant_id: &str, input: GroupInput) -> String {
    let id = world.uuid();
    let now = world.clock.now();
    let tenant = world.tenants.get_mut(tenant_id).expect("the tenant");
    tenant.create_group(id.clone(), now, input).expect("seeding a group");
    id
}

/// What a scale's seeding produced.
struct Seeded {
    user_ids: Vec<String>,
    patch_groups: Vec<String>,
}

/// Seeds `users` users, `users / 100` groups of 10 members, and empty groups for the PATCH load,
/// in one lock scope.
fn seed_scale(mock: &MockScim, users: usize, patch_groups: usize) -> Seeded {
    let tenant_id = mock.tenant_id().to_owned();
    let mut world = mock.state().world();
    let user_ids: Vec<String> = (0..users).map(|i| seed_user(&mut world, &tenant_id, user_input("user", i))).collect();
    for g in 0..users / 100 {
        let members: Vec<&str> = (0..10).map(|j| user_ids[(g * 10 + j) % users].as_str()).collect();
        seed_group(&mut world, &tenant_id, group_input(&format!("group-{g}"), &members));
    }
    let patch_groups = (0..patch_groups)
        .map(|g| seed_group(&mut world, &tenant_id, group_input(&format!("patch-{g}"), &[])))
        .collect();
    Seeded { user_ids, patch_groups }
}

/// SplitMix64: enough randomness to pick users, and reproducible.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z % n as u64) as usize
    }
}

/// Checks a sampled response body, given the request's index; panics on a wrong answer.
type Check = Box<dyn Fn(usize, &[u8]) + Send + Sync>;

/// One kind of request, prepared before the clock starts: a URL and body per request (or one shared).
struct Job {
    method: Method,
    urls: Vec<String>,
    bodies: Vec<Bytes>,
    auth: Option<HeaderValue>,
    expect: u16,
    check: Option<Check>,
}

fn nth<T>(items: &[T], i: usize) -> &T {
    if items.len() == 1 { &items[0] } else { &items[i] }
}

/// One measurement: throughput over the wall time, and every request's latency, sorted.
struct Run {
    rps: f64,
    latencies: Vec<Duration>,
}

/// Runs `total` requests of a job on `tasks` tasks sharing the client; panics on an unexpected status.
async fn measure(client: &reqwest::Client, job: &Arc<Job>, total: usize, tasks: usize) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (client, job, next) = (client.clone(), Arc::clone(job), Arc::clone(&next));
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(total / tasks + 1);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let mut request = client.request(job.method.clone(), nth(&job.urls, i));
                    if let Some(auth) = &job.auth {
                        request = request.header(AUTHORIZATION, auth.clone());
                    }
                    if !job.bodies.is_empty() {
                        request = request.header(CONTENT_TYPE, "application/json").body(nth(&job.bodies, i).clone());
                    }
                    let sent = Instant::now();
                    let response = request.send().await.unwrap_or_else(|err| panic!("request {i} failed: {err}"));
                    let status = response.status().as_u16();
                    let body = response.bytes().await.unwrap_or_else(|err| panic!("body {i} failed: {err}"));
                    latencies.push(sent.elapsed());
                    assert_eq!(
                        status,
                        job.expect,
                        "{} {} answered {status}: {}",
                        job.method,
                        nth(&job.urls, i),
                        String::from_utf8_lossy(&body)
                    );
                    if let Some(check) = job.check.as_ref().filter(|_| i % CHECK_EVERY == 0) {
                        check(i, &body);
                    }
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(total);
    for handle in handles {
        match handle.await {
            Ok(part) => latencies.extend(part),
            Err(err) => std::panic::resume_unwind(err.into_panic()),
        }
    }
    let rps = total as f64 / started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    Run { rps, latencies }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 }
}

/// Several runs of one side of a row: median throughput, latency percentiles over all requests.
#[derive(Debug, Clone, Copy)]
struct Sample {
    rps: f64,
    p50: Duration,
    p99: Duration,
}

impl Sample {
    fn of(runs: &[Run]) -> Sample {
        let mut all: Vec<Duration> = runs.iter().flat_map(|r| r.latencies.iter().copied()).collect();
        all.sort_unstable();
        let at = |q: f64| all[((all.len() as f64 * q).ceil() as usize).clamp(1, all.len()) - 1];
        Sample { rps: median(runs.iter().map(|r| r.rps).collect()), p50: at(0.50), p99: at(0.99) }
    }
}

/// The axum hello-world floor: `GET /` → `{"ok":true}`, `POST /echo` → the JSON body back.
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
    let mut value = user_json("echo", 1);
    let size = serde_json::to_vec(&value).expect("json").len();
    value["nickName"] = Value::String("x".repeat(ECHO_BYTES.saturating_sub(size + 14)));
    Bytes::from(serde_json::to_vec(&value).expect("json"))
}

/// One line of the table.
struct Row {
    scale: usize,
    op: &'static str,
    mode: &'static str,
    mock: Sample,
    floor: Sample,
    /// Median over the floor-then-mock pairs of mock req/s ÷ floor req/s.
    ratio: f64,
}

impl Row {
    fn ratio(&self) -> f64 {
        self.ratio
    }
}

/// The three SCIM operations measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Filter,
    Create,
    Patch,
}

impl Op {
    fn label(self) -> &'static str {
        match self {
            Op::Filter => "GET filter",
            Op::Create => "POST /Users",
            Op::Patch => "PATCH +100",
        }
    }
}

/// Measures every scale; returns the rows and a note per scale on what the load left behind.
async fn http_benchmark(counts: Counts) -> (Vec<Row>, Vec<String>) {
    let client = reqwest::Client::builder().no_proxy().tcp_nodelay(true).build().expect("reqwest client");
    let floor = start_floor().await;
    let floor_get = Arc::new(Job {
        method: Method::GET,
        urls: vec![format!("{floor}/")],
        bodies: Vec::new(),
        auth: None,
        expect: 200,
        check: None,
    });
    let echo = echo_body();
    let echo_bytes = echo.len();
    eprintln!("floor: {floor}, echo body {echo_bytes} bytes");
    let floor_echo = Arc::new(Job {
        method: Method::POST,
        urls: vec![format!("{floor}/echo")],
        bodies: vec![echo],
        auth: None,
        expect: 200,
        check: None,
    });
    measure(&client, &floor_get, counts.warmup, CONCURRENCY).await;
    measure(&client, &floor_echo, counts.warmup, CONCURRENCY).await;

    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let (mut post_bytes, mut patch_bytes) = (0, 0);
    let mut rng = Rng(0x5eed);
    for scale in SCALES {
        let rss_before = proc_status_mib("VmRSS:").unwrap_or(f64::NAN);
        let mock = MockScim::start().await;
        let endpoint = mock.scim_endpoint();
        let auth = HeaderValue::from_str(&format!("Bearer {}", mock.token())).expect("a header value");
        let patch_total = counts.reps * (counts.patch_seq + counts.patch_conc);
        let seeding = Instant::now();
        let seeded = seed_scale(&mock, scale, patch_total.div_ceil(PATCHES_PER_GROUP));
        eprintln!(
            "scale {scale}: seeded {scale} users, {} groups of 10, {} empty PATCH targets in {:.2} s",
            scale / 100,
            seeded.patch_groups.len(),
            seeding.elapsed().as_secs_f64()
        );

        // Filter GET: random seeded users.
        let filter_job = |total: usize, rng: &mut Rng| {
            let picks: Vec<usize> = (0..total).map(|_| rng.below(scale)).collect();
            let urls = picks.iter().map(|i| format!("{endpoint}Users?filter=userName%20eq%20%22user-{i}%22")).collect();
            Arc::new(Job {
                method: Method::GET,
                urls,
                bodies: Vec::new(),
                auth: Some(auth.clone()),
                expect: 200,
                check: Some(Box::new(move |i, body| {
                    let body: Value = serde_json::from_slice(body).expect("a JSON list response");
                    let expected = format!("user-{}", picks[i]);
                    assert_eq!(body["totalResults"], 1, "filter for {expected}: {body}");
                    let resources = body["Resources"].as_array().expect("Resources");
                    assert_eq!(resources.len(), 1, "filter for {expected}: {body}");
                    assert_eq!(resources[0]["userName"], expected.as_str(), "filter for {expected}: {body}");
                })),
            })
        };
        // POST: new users, unique across the whole scale.
        let mut created = 0;
        let mut post_job = |total: usize| {
            let first = created;
            created += total;
            let bodies = (first..first + total)
                .map(|k| Bytes::from(serde_json::to_vec(&user_json("new", k)).expect("json")))
                .collect();
            Arc::new(Job {
                method: Method::POST,
                urls: vec![format!("{endpoint}Users")],
                bodies,
                auth: Some(auth.clone()),
                expect: 201,
                check: Some(Box::new(move |i, body| {
                    let body: Value = serde_json::from_slice(body).expect("a JSON user");
                    assert_eq!(body["userName"], format!("new-{}", first + i).as_str(), "{body}");
                    assert!(body["id"].is_string(), "{body}");
                })),
            })
        };
        // PATCH: request k adds users [b*100, b*100+100) (shifted per group) to target group k / 10,
        // b = k % 10: every (group, user) pair is new, so each request adds 100 memberships.
        let mut patched = 0;
        let mut patch_job = |total: usize| {
            let first = patched;
            patched += total;
            let (urls, bodies) = (first..first + total)
                .map(|k| {
                    let (g, b) = (k / PATCHES_PER_GROUP, k % PATCHES_PER_GROUP);
                    let shift = g * PATCHES_PER_GROUP * PATCH_MEMBERS;
                    let members: Vec<Value> = (0..PATCH_MEMBERS)
                        .map(|j| json!({"value": seeded.user_ids[(shift + b * PATCH_MEMBERS + j) % scale]}))
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
            Arc::new(Job { method: Method::PATCH, urls, bodies, auth: Some(auth.clone()), expect: 204, check: None })
        };

        let warmup = filter_job(counts.warmup, &mut rng);
        measure(&client, &warmup, counts.warmup, CONCURRENCY).await;

        let plan = [
            (Op::Filter, "seq", counts.get_seq, 1),
            (Op::Filter, "x16", counts.get_conc, CONCURRENCY),
            (Op::Create, "seq", counts.post_seq, 1),
            (Op::Create, "x16", counts.post_conc, CONCURRENCY),
            (Op::Patch, "seq", counts.patch_seq, 1),
            (Op::Patch, "x16", counts.patch_conc, CONCURRENCY),
        ];
        for (op, mode, total, tasks) in plan {
            let (mut floor_runs, mut mock_runs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..counts.reps {
                // Data is prepared before the floor runs, so neither side pays for it.
                let (job, floor_job) = match op {
                    Op::Filter => (filter_job(total, &mut rng), &floor_get),
                    Op::Create => (post_job(total), &floor_echo),
                    Op::Patch => (patch_job(total), &floor_echo),
                };
                match op {
                    Op::Filter => {}
                    Op::Create => post_bytes = job.bodies[0].len(),
                    Op::Patch => patch_bytes = job.bodies[0].len(),
                }
                let floor = measure(&client, floor_job, total, tasks).await;
                let mock_run = measure(&client, &job, total, tasks).await;
                eprintln!(
                    "  {:<11} {mode:<3} {:>8.0} req/s (floor {:>8.0}) ratio {:.2}",
                    op.label(),
                    mock_run.rps,
                    floor.rps,
                    mock_run.rps / floor.rps
                );
                ratios.push(mock_run.rps / floor.rps);
                floor_runs.push(floor);
                mock_runs.push(mock_run);
            }
            rows.push(Row {
                scale,
                op: op.label(),
                mode,
                mock: Sample::of(&mock_runs),
                floor: Sample::of(&floor_runs),
                ratio: median(ratios),
            });
        }

        // What the load left behind: every request created what it should have.
        let world = mock.state().world();
        let tenant = &world.tenants[mock.tenant_id()];
        let targets: HashSet<&str> = seeded.patch_groups.iter().map(String::as_str).collect();
        let added: usize =
            tenant.groups_with_members().filter(|(g, _)| targets.contains(g.id.as_str())).map(|(_, m)| m.len()).sum();
        let users_created = tenant.user_count() - scale;
        notes.push(format!(
            "after {scale}: {} users (+{users_created} of {created} POSTed), +{added} memberships by PATCH (expected {}), journal {} entries, process VmRSS {rss_before:.0} -> {:.0} MiB",
            tenant.user_count(),
            patched * PATCH_MEMBERS,
            world.journal.len(),
            proc_status_mib("VmRSS:").unwrap_or(f64::NAN)
        ));
        eprintln!("  {}", notes[notes.len() - 1]);
        assert_eq!(users_created, created, "every POST should have created one user");
        assert_eq!(added, patched * PATCH_MEMBERS, "every PATCH should have added 100 memberships");
    }
    notes.push(format!(
        "bodies: POST /Users {post_bytes} bytes, PATCH +100 {patch_bytes} bytes, floor echo {echo_bytes} bytes; floor-then-mock pairs per row: {} (median req/s and ratio; percentiles over all requests)",
        counts.reps
    ));
    (rows, notes)
}

fn print_table(rows: &[Row]) {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>7}  {:<11}  {:<4}  {:>10}  {:>11}  {:>5}  {:>11}  {:>11}  {:>12}  target",
        "users", "op", "mode", "mock req/s", "floor req/s", "ratio", "mock p50 µs", "mock p99 µs", "floor p50 µs"
    );
    for row in rows {
        let target = if row.op == "GET filter" {
            format!("≥{FILTER_RATIO_TARGET:.2} {}", verdict(row.ratio() >= FILTER_RATIO_TARGET))
        } else {
            "-".to_owned()
        };
        let _ = writeln!(
            out,
            "{:>7}  {:<11}  {:<4}  {:>10.0}  {:>11.0}  {:>5.2}  {:>11}  {:>11}  {:>12}  {target}",
            row.scale,
            row.op,
            row.mode,
            row.mock.rps,
            row.floor.rps,
            row.ratio(),
            row.mock.p50.as_micros(),
            row.mock.p99.as_micros(),
            row.floor.p50.as_micros(),
        );
    }
    let (small, large) = (SCALES[0], SCALES[SCALES.len() - 1]);
    for mode in ["seq", "x16"] {
        let find = |scale| rows.iter().find(|r| r.scale == scale && r.op == "GET filter" && r.mode == mode);
        if let (Some(a), Some(b)) = (find(small), find(large)) {
            // Judged on the floor-normalised value: machine-wide slow spells then cancel out.
            let raw = a.mock.rps / b.mock.rps;
            let normalised = a.ratio() / b.ratio();
            let _ = writeln!(
                out,
                "flatness, GET filter {mode}: ratio at {small} / ratio at {large} users = {normalised:.2} (raw req/s {raw:.2}); target ≤ {FLATNESS_TARGET:.0}: {}",
                verdict(normalised <= FLATNESS_TARGET)
            );
        }
    }
    print!("{out}");
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "MISS" }
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

/// 100,000 users, 100,000 groups of 10 members each, straight into a fresh store.
fn memory_scenario() {
    let mib = |field| proc_status_mib(field).map_or_else(|| "n/a".to_owned(), |v| format!("{v:.1} MiB"));
    println!("  RSS before seeding: {}", mib("VmRSS:"));
    let started = Instant::now();
    let state = Config::default().into_state();
    let mut world = state.world();
    let (tenant_id, _token) = world.create_tenant(None).expect("a tenant");
    let user_ids: Vec<String> =
        (0..MEMORY_USERS).map(|i| seed_user(&mut world, &tenant_id, user_input("user", i))).collect();
    let users_done = started.elapsed();
    for g in 0..MEMORY_GROUPS {
        let members: Vec<&str> = (0..MEMORY_MEMBERS_PER_GROUP)
            .map(|j| user_ids[(g * MEMORY_MEMBERS_PER_GROUP + j) % MEMORY_USERS].as_str())
            .collect();
        seed_group(&mut world, &tenant_id, group_input(&format!("group-{g}"), &members));
    }
    let seeded = started.elapsed();
    let rss = proc_status_mib("VmRSS:");
    let hwm = proc_status_mib("VmHWM:");

    let tenant = &world.tenants[&tenant_id];
    let memberships: usize = tenant.groups_with_members().map(|(_, members)| members.len()).sum();
    println!(
        "  seeded {} users, {} groups, {memberships} memberships in {:.2} s (users {:.2} s, groups {:.2} s)",
        tenant.user_count(),
        tenant.group_count(),
        seeded.as_secs_f64(),
        users_done.as_secs_f64(),
        (seeded - users_done).as_secs_f64()
    );
    let show = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.1} MiB"));
    println!("  VmRSS after seeding: {}, VmHWM (peak): {}", show(rss), show(hwm));
    let peak = hwm.or(rss);
    if let Some(peak) = peak {
        println!(
            "  target < {MEMORY_TARGET_MIB:.0} MiB: {} (peak {:.1}% of 1 GiB; includes the benchmark's own list of {} user ids)",
            verdict(peak < MEMORY_TARGET_MIB),
            peak / MEMORY_TARGET_MIB * 100.0,
            user_ids.len()
        );
    }
}
