//! Issue 17's load-and-faults check: valid and hostile traffic at once against `harness serve`, the
//! fault plans on, with memory, timeouts, 5xx and crashes counted. Not part of `cargo test`: it
//! runs for real seconds.
//!
//! ```text
//! cargo bench -p harness --bench hostile                 # 20 s; writes $CARGO_TARGET_DIR/hostile.md
//! cargo bench -p harness --bench hostile -- --quick      # 5 s
//! cargo bench -p harness --bench hostile -- --seconds 60 --out FILE
//! ```
//!
//! The served process is the release `harness serve` on the seed story, header deadline 2 s, idle
//! deadline 3 s. For the run's length, at the same time: valid Graph and SCIM clients and the sync
//! job under a moving clock; two workers sending the hostile catalogue ([`catalogue`]) round after
//! round, byte for byte over TCP ([`raw`]); a flood of authenticated ~1 MB writes the journals keep
//! (`journalBytes` set to 16 MiB); slow clients; a sampler of the process's memory ([`memory`]).
//! Then the journals are cleared and memory read again, and 300 idle connections are opened to see
//! a fresh client served once they time out. Exit 1 when the process crashed or panicked.

mod catalogue;
mod memory;
mod raw;
mod report;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

use catalogue::{Rng, Surface, Target};
use report::{Report, SurfaceTally, Timeout, Valid, injected};

/// Mixed valid and hostile traffic against `harness serve`, faults on.
#[derive(Debug, Parser)]
struct Args {
    /// Seconds of traffic.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// 5 seconds.
    #[arg(long)]
    quick: bool,
    /// Where to write the table; `$CARGO_TARGET_DIR/hostile.md` (or `target/hostile.md`) by default.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Leave a stream out, to see which one moves memory; repeatable.
    #[arg(long, value_enum)]
    skip: Vec<Stream>,
    /// Leave a hostile kind out (its name as the table prints it); repeatable.
    #[arg(long, value_name = "KIND")]
    skip_kind: Vec<String>,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

/// The traffic's streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Stream {
    /// The valid Graph and SCIM clients (the clock and the sync job stay).
    Valid,
    /// The hostile catalogue.
    Hostile,
    /// The authenticated ~1 MB writes.
    Flood,
}

/// The connection deadlines the process is served with.
const HEADER_TIMEOUT: u64 = 2;
const IDLE_TIMEOUT: u64 = 3;
/// The body deadline asked for when `harness serve` takes `--body-timeout-seconds`.
const BODY_TIMEOUT: u64 = 4;
/// The journal cap set on both mocks, so that the flood meets it within the run.
const JOURNAL_BYTES: usize = 16 * 1024 * 1024;

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: the runtime: {err}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// What the process's stderr and exit say, watched throughout.
#[derive(Debug, Default)]
struct Watch {
    /// The process exited.
    exited: AtomicBool,
    /// Its stderr said `panicked` or `overflowed`.
    panicked: AtomicBool,
    /// Those lines, and the exit status.
    lines: Mutex<Vec<String>>,
}

impl Watch {
    fn crashed(&self) -> bool {
        self.exited.load(Ordering::SeqCst) || self.panicked.load(Ordering::SeqCst)
    }
}

/// Everything the traffic tasks share.
struct Shared {
    target: RwLock<Target>,
    graph_url: String,
    scim_url: String,
    env: harness::serve::Env,
    http: reqwest::Client,
    deadline: Instant,
    surfaces: Mutex<std::collections::BTreeMap<Surface, SurfaceTally>>,
    valid: Mutex<Valid>,
    watch: Arc<Watch>,
    flood: Mutex<(u64, std::collections::BTreeMap<String, u64>)>,
    /// Hostile kinds left out.
    skip_kinds: Vec<String>,
}

impl Shared {
    fn key(&self, key: &str) -> String {
        self.env.get(key).unwrap_or_default().to_owned()
    }
    fn running(&self) -> bool {
        Instant::now() < self.deadline && !self.watch.crashed()
    }
    fn target(&self) -> Target {
        self.target.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let seconds = if args.quick { 5 } else { args.seconds };
    let bin = env!("CARGO_BIN_EXE_harness");
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/library/00_seed_story.toml");
    let help = std::process::Command::new(bin).args(["serve", "--help"]).output().context("harness serve --help")?;
    let body_flag = String::from_utf8_lossy(&help.stdout).contains("--body-timeout-seconds");
    let env_file = std::env::temp_dir().join(format!("hostile-{}.env", std::process::id()));
    let _ = std::fs::remove_file(&env_file);
    let mut command = tokio::process::Command::new(bin);
    command.arg("serve").arg(scenario).arg("--env-file").arg(&env_file);
    command.args(["--header-timeout-seconds", &HEADER_TIMEOUT.to_string()]);
    command.args(["--idle-timeout-seconds", &IDLE_TIMEOUT.to_string()]);
    if body_flag {
        command.args(["--body-timeout-seconds", &BODY_TIMEOUT.to_string()]);
    }
    command.stdout(Stdio::null()).stderr(Stdio::piped()).kill_on_drop(true);
    let mut child = command.spawn().context("starting harness serve")?;
    let pid = child.id().context("the child's pid")?;
    let watch = Arc::new(Watch::default());
    let stderr = child.stderr.take().context("the child's stderr")?;
    let lines_watch = watch.clone();
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("panicked") || line.contains("overflowed") {
                lines_watch.panicked.store(true, Ordering::SeqCst);
                lines_watch.lines.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        }
    });
    let (kill, killed) = tokio::sync::oneshot::channel::<()>();
    let exit_watch = watch.clone();
    let reaper = tokio::spawn(async move {
        tokio::select! {
            status = child.wait() => {
                exit_watch.exited.store(true, Ordering::SeqCst);
                exit_watch.lines.lock().unwrap_or_else(|e| e.into_inner()).push(format!("exited: {status:?}"));
            }
            _ = killed => { let _ = child.kill().await; }
        }
    });

    let env = wait_for_env(&env_file, &watch).await?;
    let _ = std::fs::remove_file(&env_file);
    let report = drive(env, pid, seconds, body_flag, watch.clone(), &args).await;
    let _ = kill.send(());
    let _ = reaper.await;
    let report = report?;
    Ok(if report.crash.is_some() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

async fn wait_for_env(path: &std::path::Path, watch: &Watch) -> anyhow::Result<harness::serve::Env> {
    let started = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            let env = harness::serve::Env::parse(&text);
            if env.get("SERVICE_PRINCIPAL_ID").is_some() {
                return Ok(env);
            }
        }
        if watch.exited.load(Ordering::SeqCst) {
            bail!("harness serve exited before it served: {:?}", watch.lines.lock().unwrap_or_else(|e| e.into_inner()));
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("harness serve wrote no env file within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn socket(url: &str) -> anyhow::Result<(SocketAddr, String)> {
    let url = reqwest::Url::parse(url).with_context(|| format!("reading {url}"))?;
    let address = url.socket_addrs(|| None)?.into_iter().next().context("no address")?;
    Ok((address, url.path().trim_end_matches('/').to_owned()))
}

/// The fault plans: every injected answer carries `Retry-After: 7` (see [`report::INJECTED_RETRY_AFTER`]).
fn plans() -> (Value, Value, &'static str) {
    let status = |status: u16| json!({ "kind": "status", "status": status, "retryAfter": 7 });
    let graph = json!({ "seed": 17, "rules": [
        { "name": "bench 503", "path": "/v1.0/**", "probability": 0.03, "action": status(503) },
        { "name": "bench 500", "path": "/v1.0/**", "nth": { "every": 50 }, "action": status(500) },
        { "name": "bench 429", "method": "POST", "path": "/v1.0/**", "nth": { "every": 20 }, "action": status(429) },
        { "name": "bench token 503", "path": "/*/oauth2/v2.0/token", "nth": { "every": 10 }, "action": status(503) },
        { "name": "bench latency", "path": "/v1.0/groups/**", "probability": 0.2, "action": { "kind": "latency", "ms": 25 } },
    ]});
    let scim = json!({ "seed": 17, "rules": [
        { "name": "bench 500", "path": "/*/scim/v2/**", "probability": 0.03, "action": status(500) },
        { "name": "bench 503", "path": "/*/scim/v2/**", "nth": { "every": 40 }, "action": status(503) },
        { "name": "bench 429", "method": "POST", "path": "/*/scim/v2/**", "nth": { "every": 25 }, "action": status(429) },
        { "name": "bench latency", "path": "/*/scim/v2/Users/*", "probability": 0.1, "action": { "kind": "latency", "ms": 20 } },
    ]});
    let words = "Graph /v1.0: 503 at p=0.03, 500 every 50th, 429 every 20th POST, 25 ms on 20% of /groups; \
        token endpoint: 503 every 10th; SCIM: 500 at p=0.03, 503 every 40th, 429 every 25th POST, 20 ms on 10% of /Users/{id}; \
        every injected answer carries Retry-After: 7, which tells it apart";
    (graph, scim, words)
}

async fn admin(
    shared: &Shared,
    graph: bool,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let (base, token) = if graph {
        (shared.graph_url.clone(), shared.key("GRAPH_ADMIN_TOKEN"))
    } else {
        (shared.key("SCIM_BASE_URL"), shared.key("SCIM_ADMIN_TOKEN"))
    };
    let mut request = shared.http.request(method, format!("{base}{path}")).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        bail!("{path}: {status}: {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A Graph token through the faults: retried until the endpoint answers one.
async fn token(shared: &Shared) -> anyhow::Result<String> {
    let url = format!("{}/{}/oauth2/v2.0/token", shared.graph_url, shared.key("GRAPH_TENANT"));
    for _ in 0..50 {
        let form = [
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", shared.key("GRAPH_CLIENT_ID")),
            ("client_secret", shared.key("GRAPH_CLIENT_SECRET")),
            ("scope", "https://graph.microsoft.com/.default".to_owned()),
        ];
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", v.replace(':', "%3A").replace('/', "%2F")))
            .collect::<Vec<_>>()
            .join("&");
        let response =
            shared.http.post(&url).header("Content-Type", "application/x-www-form-urlencoded").body(body).send().await;
        if let Ok(response) = response
            && response.status().is_success()
        {
            let value: Value = response.json().await?;
            return value["access_token"].as_str().map(str::to_owned).context("no access_token");
        }
    }
    bail!("no token in 50 tries")
}

/// One valid request: counted, re-authenticated once on a 401 from a token the clock outran.
async fn valid(
    shared: &Shared,
    graph: bool,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> Option<Value> {
    for attempt in 0..2 {
        let bearer = if graph { shared.target().graph_token } else { shared.key("SCIM_TOKEN") };
        let mut request = shared.http.request(method.clone(), &url).bearer_auth(bearer);
        if let Some(body) = &body {
            let kind = if graph { "application/json" } else { "application/scim+json" };
            request = request.header("Content-Type", kind).body(body.to_string());
        }
        let answer = request.send().await;
        let tally = |f: &dyn Fn(&mut Valid)| f(&mut shared.valid.lock().unwrap_or_else(|e| e.into_inner()));
        let response = match answer {
            Ok(response) => response,
            Err(err) => {
                tally(&|v| {
                    v.requests += 1;
                    v.unexpected += 1;
                    v.connection_errors += 1;
                    if v.samples.len() < 8 {
                        v.samples.push(format!("{method} {url}: no answer: {err}"));
                    }
                });
                return None;
            }
        };
        let status = response.status().as_u16();
        let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let text = response.text().await.unwrap_or_default();
        if status == 401 && graph && attempt == 0 {
            tally(&|v| {
                v.requests += 1;
                v.reauthenticated += 1;
            });
            if let Ok(fresh) = token(shared).await {
                shared.target.write().unwrap_or_else(|e| e.into_inner()).graph_token = fresh;
            }
            continue;
        }
        let injected = injected(status, retry_after.as_deref());
        tally(&|v| {
            v.requests += 1;
            if (200..300).contains(&status) {
                v.successes += 1;
            } else if injected {
                v.injected += 1;
            } else {
                v.unexpected += 1;
                if status >= 500 {
                    v.server_errors += 1;
                }
                if v.samples.len() < 8 {
                    v.samples.push(format!(
                        "{method} {}: {status} {}",
                        url.split('?').next().unwrap_or(""),
                        raw::preview(text.as_bytes(), 80)
                    ));
                }
            }
        });
        return (200..300).contains(&status).then(|| serde_json::from_str(&text).unwrap_or(Value::Null));
    }
    None
}

async fn graph_client(shared: Arc<Shared>, worker: u64) {
    use reqwest::Method;
    let base = format!("{}/v1.0", shared.graph_url);
    let mut rng = Rng::new(1000 + worker);
    let mut i = 0u64;
    while shared.running() {
        i += 1;
        let name = format!("valid{worker}x{i}{}", rng.letters(6));
        let upn = format!("{name}@contoso.onmicrosoft.com");
        let user = json!({ "accountEnabled": true, "displayName": name, "mailNickname": name, "userPrincipalName": upn,
            "passwordProfile": { "password": "Pa55-word-long-enough" } });
        let id = valid(&shared, true, Method::POST, format!("{base}/users"), Some(user))
            .await
            .and_then(|u| u["id"].as_str().map(str::to_owned));
        if let Some(id) = &id {
            valid(&shared, true, Method::GET, format!("{base}/users/{id}"), None).await;
            valid(&shared, true, Method::PATCH, format!("{base}/users/{id}"), Some(json!({ "jobTitle": "Bench" })))
                .await;
        }
        let group = json!({ "displayName": format!("g-{name}"), "mailNickname": format!("g{name}"), "mailEnabled": false, "securityEnabled": true });
        let gid = valid(&shared, true, Method::POST, format!("{base}/groups"), Some(group))
            .await
            .and_then(|g| g["id"].as_str().map(str::to_owned));
        if let (Some(id), Some(gid)) = (&id, &gid) {
            let reference = json!({ "@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}") });
            valid(&shared, true, Method::POST, format!("{base}/groups/{gid}/members/$ref"), Some(reference)).await;
            valid(&shared, true, Method::GET, format!("{base}/groups/{gid}"), None).await;
        }
        let filter = format!("{base}/users?$filter=userPrincipalName%20eq%20'{upn}'");
        valid(&shared, true, Method::GET, filter, None).await;
    }
}

async fn scim_client(shared: Arc<Shared>) {
    use reqwest::Method;
    let base = shared.scim_url.trim_end_matches('/').to_owned();
    let mut rng = Rng::new(2000);
    let mut i = 0u64;
    while shared.running() {
        i += 1;
        let name = format!("scim{i}{}", rng.letters(6));
        let user = json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
            "name": { "givenName": "Va", "familyName": "Lid" }, "displayName": "Va Lid", "active": true });
        let id = valid(&shared, false, Method::POST, format!("{base}/Users"), Some(user))
            .await
            .and_then(|u| u["id"].as_str().map(str::to_owned));
        valid(&shared, false, Method::GET, format!("{base}/Users?filter=userName%20eq%20%22{name}%22"), None).await;
        let Some(id) = id else { continue };
        valid(&shared, false, Method::GET, format!("{base}/Users/{id}"), None).await;
        let patch = json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{ "op": "replace", "path": "displayName", "value": "Re Named" }] });
        valid(&shared, false, Method::PATCH, format!("{base}/Users/{id}"), Some(patch)).await;
        let group =
            json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": format!("g-{name}") });
        let gid = valid(&shared, false, Method::POST, format!("{base}/Groups"), Some(group))
            .await
            .and_then(|g| g["id"].as_str().map(str::to_owned));
        if let Some(gid) = gid {
            let add = json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{ "op": "add", "path": "members", "value": [{ "value": id }] }] });
            valid(&shared, false, Method::PATCH, format!("{base}/Groups/{gid}"), Some(add)).await;
            valid(&shared, false, Method::GET, format!("{base}/Groups/{gid}"), None).await;
        }
        if i.is_multiple_of(3) {
            valid(&shared, false, Method::DELETE, format!("{base}/Users/{id}"), None).await;
        }
    }
}

/// The sync job started, then the clock moved 40 minutes at a time (each advance runs a cycle
/// against mock-scim, through its faults), a fresh token after each.
async fn clock(shared: Arc<Shared>) {
    let start = format!(
        "{}/v1.0/servicePrincipals/{}/synchronization/jobs/{}/start",
        shared.graph_url,
        shared.key("SERVICE_PRINCIPAL_ID"),
        shared.key("SYNC_JOB_ID")
    );
    while shared.running() && valid(&shared, true, reqwest::Method::POST, start.clone(), None).await.is_none() {}
    while shared.running() {
        let started = Instant::now();
        let advanced =
            admin(&shared, true, reqwest::Method::POST, "/_admin/clock/advance", Some(json!({ "by": "PT40M" }))).await;
        let took = started.elapsed().as_secs_f64();
        {
            let mut v = shared.valid.lock().unwrap_or_else(|e| e.into_inner());
            if advanced.is_ok() {
                v.advances.0 += 1;
                v.advances.1 = v.advances.1.max(took);
            } else if v.samples.len() < 8 {
                v.samples.push(format!("clock advance: {:?}", advanced.err()));
            }
        }
        if let Ok(fresh) = token(&shared).await {
            shared.target.write().unwrap_or_else(|e| e.into_inner()).graph_token = fresh;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn hostile(shared: Arc<Shared>, seed: u64) {
    let mut rng = Rng::new(seed);
    while shared.running() {
        let target = shared.target();
        for input in catalogue::round(&target, &mut rng) {
            if !shared.running() {
                return;
            }
            if shared.skip_kinds.iter().any(|kind| kind == input.kind) {
                continue;
            }
            let answer = raw::exchange(input.address(&target), input.bytes).await;
            let crashed = shared.watch.crashed();
            let mut surfaces = shared.surfaces.lock().unwrap_or_else(|e| e.into_inner());
            let tally = surfaces.entry(input.surface).or_default();
            tally.record(input.surface, input.kind, input.may_succeed, &answer);
            if crashed {
                tally.crashes.push(input.kind);
                return;
            }
        }
    }
}

/// Authenticated ~1 MB writes, which the journals keep (bodies of authenticated requests are kept):
/// what `journalBytes` must bound.
async fn flood(shared: Arc<Shared>) {
    let pad = "x".repeat(1_000_000);
    let mut i = 0u64;
    while shared.running() {
        i += 1;
        let (url, token, kind) = if i.is_multiple_of(2) {
            (format!("{}/v1.0/users", shared.graph_url), shared.target().graph_token, "application/json")
        } else {
            (
                format!("{}/Users", shared.scim_url.trim_end_matches('/')),
                shared.key("SCIM_TOKEN"),
                "application/scim+json",
            )
        };
        let body = json!({ "displayName": pad, "userName": format!("flood{i}") }).to_string();
        let sent = shared.http.post(&url).bearer_auth(token).header("Content-Type", kind).body(body).send().await;
        let mock = if url.contains("/v1.0/") { "Graph" } else { "SCIM" };
        let outcome = match sent {
            Ok(response) => format!("{mock} {}", response.status().as_u16()),
            Err(_) => format!("{mock} no answer"),
        };
        let mut flood = shared.flood.lock().unwrap_or_else(|e| e.into_inner());
        flood.0 += 1;
        *flood.1.entry(outcome).or_default() += 1;
    }
}

fn closed(result: Result<raw::Closed, String>) -> String {
    match result {
        Ok(raw::Closed::After { seconds, answered: true }) => format!("answered, closed after {seconds:.1} s"),
        Ok(raw::Closed::After { seconds, answered: false }) => format!("closed after {seconds:.1} s"),
        Ok(raw::Closed::NotWithin(cap)) => format!("not closed within {cap:.0} s"),
        Err(err) => format!("error: {err}"),
    }
}

/// Header trickle, idle keep-alive and body trickle, on both mocks at once, during the traffic.
async fn slow_clients(target: Target, body_flag: bool) -> Vec<Timeout> {
    let body_limit = if body_flag {
        format!("{BODY_TIMEOUT} s (--body-timeout-seconds)")
    } else {
        "60 s (pipeline default)".to_owned()
    };
    let body_cap = Duration::from_secs(if body_flag { BODY_TIMEOUT + 6 } else { 10 });
    let mut jobs = Vec::new();
    for (mock, address, path, token) in [
        ("mock-graph", target.graph, "/v1.0/users".to_owned(), target.graph_token.clone()),
        ("mock-scim", target.scim, format!("{}/Users", target.scim_path), target.scim_token.clone()),
    ] {
        let head = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n");
        let post = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        );
        let health = b"GET /_admin/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_vec();
        let body_limit = body_limit.clone();
        jobs.push(tokio::spawn(async move {
            let (headers, idle, body) = tokio::join!(
                raw::trickle(address, b"", head.as_bytes(), Duration::from_secs(15)),
                raw::idle_after(address, &health, Duration::from_secs(15)),
                raw::trickle(address, post.as_bytes(), &[b' '; 1000], body_cap),
            );
            vec![
                Timeout {
                    what: format!("{mock}: headers at 1 byte/s"),
                    limit: format!("{HEADER_TIMEOUT} s (header)"),
                    measured: closed(headers),
                },
                // A kept-alive connection waits for its next request's headers, so the header
                // deadline runs beside the idle one: the shorter closes it.
                Timeout {
                    what: format!("{mock}: idle keep-alive after one answer"),
                    limit: format!("{IDLE_TIMEOUT} s (idle); {HEADER_TIMEOUT} s (header, for the next request)"),
                    measured: closed(idle),
                },
                Timeout {
                    what: format!("{mock}: headers at once, then a 1,000-byte body at 1 byte/s"),
                    limit: body_limit,
                    measured: closed(body),
                },
            ]
        }));
    }
    let mut out = Vec::new();
    for job in jobs {
        out.extend(job.await.unwrap_or_default());
    }
    out
}

async fn drive(
    env: harness::serve::Env,
    pid: u32,
    seconds: u64,
    body_flag: bool,
    watch: Arc<Watch>,
    args: &Args,
) -> anyhow::Result<Report> {
    let skip = &args.skip;
    let graph_url = env.get("GRAPH_URL").context("GRAPH_URL")?.to_owned();
    let scim_url = env.get("SCIM_URL").context("SCIM_URL")?.to_owned();
    let (graph, _) = socket(&graph_url)?;
    let (scim, scim_path) = socket(&scim_url)?;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let placeholder = Target {
        graph,
        scim,
        tenant: env.get("GRAPH_TENANT").unwrap_or_default().to_owned(),
        scim_path,
        graph_token: String::new(),
        old_graph_token: String::new(),
        scim_token: env.get("SCIM_TOKEN").unwrap_or_default().to_owned(),
        graph_admin: env.get("GRAPH_ADMIN_TOKEN").unwrap_or_default().to_owned(),
        scim_admin: env.get("SCIM_ADMIN_TOKEN").unwrap_or_default().to_owned(),
        client_id: env.get("GRAPH_CLIENT_ID").unwrap_or_default().to_owned(),
        client_secret: env.get("GRAPH_CLIENT_SECRET").unwrap_or_default().to_owned(),
        group_id: String::new(),
        scim_user_id: String::new(),
    };
    let mut shared = Shared {
        target: RwLock::new(placeholder),
        graph_url,
        scim_url,
        env,
        http,
        deadline: Instant::now() + Duration::from_secs(3600),
        surfaces: Mutex::default(),
        valid: Mutex::default(),
        watch: watch.clone(),
        flood: Mutex::default(),
        skip_kinds: args.skip_kind.clone(),
    };

    // Before the faults: what the hostile requests point at. The first token is left to expire:
    // the clock is moved past its lifetime (the job is not started yet, so no cycle runs).
    let expired = token(&shared).await?;
    admin(&shared, true, reqwest::Method::POST, "/_admin/clock/advance", Some(json!({ "by": "PT3H" }))).await?;
    let first = token(&shared).await?;
    let groups: Value = shared
        .http
        .get(format!("{}/v1.0/groups?$top=1", shared.graph_url))
        .bearer_auth(&first)
        .send()
        .await?
        .json()
        .await?;
    let group_id = groups["value"][0]["id"].as_str().context("a group on Graph")?.to_owned();
    let user = json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "hostile-target",
        "name": { "givenName": "Hos", "familyName": "Tile" }, "displayName": "Hos Tile", "active": true });
    let created: Value = shared
        .http
        .post(format!("{}/Users", shared.scim_url.trim_end_matches('/')))
        .bearer_auth(shared.key("SCIM_TOKEN"))
        .header("Content-Type", "application/scim+json")
        .body(user.to_string())
        .send()
        .await?
        .json()
        .await?;
    let scim_user_id = created["id"].as_str().context("the SCIM user")?.to_owned();
    {
        let mut target = shared.target.write().unwrap_or_else(|e| e.into_inner());
        target.graph_token = first;
        target.old_graph_token = expired;
        target.group_id = group_id;
        target.scim_user_id = scim_user_id;
    }
    let (graph_plan, scim_plan, words) = plans();
    for graph in [true, false] {
        admin(
            &shared,
            graph,
            reqwest::Method::PATCH,
            "/_admin/switches",
            Some(json!({ "journalBytes": JOURNAL_BYTES })),
        )
        .await?;
        let plan = if graph { graph_plan.clone() } else { scim_plan.clone() };
        admin(&shared, graph, reqwest::Method::PUT, "/_admin/faults", Some(plan)).await?;
    }

    let mut report = Report { command: command_line(seconds), seconds, faults: words.to_owned(), ..Report::default() };
    report.memory.start = memory::read(pid).context("reading the process's memory")?;
    report.memory.journal_bytes = JOURNAL_BYTES;
    shared.deadline = Instant::now() + Duration::from_secs(seconds);
    let shared = Arc::new(shared);
    println!("hostile: {seconds} s of traffic against harness serve (pid {pid})…");

    let sampler = {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut samples = Vec::new();
            while shared.running() {
                samples.extend(memory::read(pid).map(|reading| reading.rss_kib));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            samples
        })
    };
    let slow = tokio::spawn(slow_clients(shared.target(), body_flag));
    let mut tasks = vec![tokio::spawn(clock(shared.clone()))];
    if !skip.contains(&Stream::Valid) {
        tasks.push(tokio::spawn(graph_client(shared.clone(), 1)));
        tasks.push(tokio::spawn(graph_client(shared.clone(), 2)));
        tasks.push(tokio::spawn(scim_client(shared.clone())));
    }
    if !skip.contains(&Stream::Flood) {
        tasks.push(tokio::spawn(flood(shared.clone())));
    }
    if !skip.contains(&Stream::Hostile) {
        tasks.extend((0..2).map(|i| tokio::spawn(hostile(shared.clone(), 17 + i))));
    }
    for task in tasks {
        let _ = task.await;
    }
    let samples = sampler.await.unwrap_or_default();
    let peak = samples.iter().copied().max().unwrap_or_default();
    report.timeouts = slow.await.unwrap_or_default();
    report.memory.peak_rss_kib = peak;
    report.memory.samples = samples;
    report.memory.end = memory::read(pid).unwrap_or_default();
    report.memory.peak_rss_kib = report.memory.peak_rss_kib.max(report.memory.end.rss_kib);

    if !watch.crashed() {
        for (graph, mock) in [(true, "mock-graph"), (false, "mock-scim")] {
            let url = if graph { shared.graph_url.clone() } else { shared.key("SCIM_BASE_URL") };
            let token = if graph { shared.key("GRAPH_ADMIN_TOKEN") } else { shared.key("SCIM_ADMIN_TOKEN") };
            let body =
                shared.http.get(format!("{url}/_admin/journal")).bearer_auth(token).send().await?.bytes().await?;
            let entries =
                serde_json::from_slice::<Value>(&body).ok().and_then(|v| v.as_array().map(Vec::len)).unwrap_or(0);
            report.memory.journals.push((mock, body.len(), entries));
            admin(&shared, graph, reqwest::Method::DELETE, "/_admin/journal", None).await?;
        }
        // Let the allocator hand back what the journals held.
        tokio::time::sleep(Duration::from_secs(2)).await;
        report.memory.after_clear = memory::read(pid).unwrap_or_default();
        report.timeouts.extend(crowd(&shared.target()).await);
    }
    report.memory.flood = std::mem::take(&mut *shared.flood.lock().unwrap_or_else(|e| e.into_inner()));
    report.surfaces = std::mem::take(&mut *shared.surfaces.lock().unwrap_or_else(|e| e.into_inner()));
    report.valid = std::mem::take(&mut *shared.valid.lock().unwrap_or_else(|e| e.into_inner()));
    if watch.crashed() {
        report.crash = Some(watch.lines.lock().unwrap_or_else(|e| e.into_inner()).join("; "));
    }

    let text = report.markdown();
    println!("\n{text}");
    let out = args.out.clone().unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")))
            .join("hostile.md")
    });
    std::fs::write(&out, &text).with_context(|| format!("writing {}", out.display()))?;
    println!("written to {}", out.display());
    Ok(report)
}

/// 300 connections that send nothing (past the 256 cap), then a fresh client, on each mock.
async fn crowd(target: &Target) -> Vec<Timeout> {
    let mut out = Vec::new();
    for (mock, address) in [("mock-graph", target.graph), ("mock-scim", target.scim)] {
        let fresh = raw::request("GET", b"/_admin/health", &[], None);
        let measured = match raw::crowd(address, 300, fresh, Duration::from_secs(20)).await {
            Ok((seconds, status, closed)) => {
                format!(
                    "fresh client answered {status} after {seconds:.1} s; {closed} of the 300 closed by the server by then"
                )
            }
            Err(err) => format!("fresh client not served: {err}"),
        };
        out.push(Timeout {
            what: format!("{mock}: 300 idle connections, then a fresh client"),
            limit: format!("256 connections; header {HEADER_TIMEOUT} s frees them"),
            measured,
        });
    }
    out
}

fn command_line(seconds: u64) -> String {
    let tail: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let tail = if tail.is_empty() { String::new() } else { format!(" -- {}", tail.join(" ")) };
    format!("cargo bench -p harness --bench hostile{tail}  ({seconds} s)")
}
