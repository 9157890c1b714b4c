//! Throughput benchmark of the mock over real loopback HTTP with keep-alive: seeding, listing and
//! delta rounds, each beside an axum hello-world floor served from this process and measured in the
//! same run. Absolute numbers depend on the machine; the ratios to the floor are what to quote
//! (`shared/reference/performance-anchors.md`).
//!
//! For 1,000 and 100,000 users, each scale on a fresh [`MockGraph`], all requests sequential (one task,
//! one `reqwest` client), as a sync engine issues them:
//!
//! 1. **seed**: every user in one `POST /_admin/seed`. The floor POSTs the same bytes to an echo
//!    endpoint that sends them back, so the ratio is the cost of seeding beyond moving the bytes.
//! 2. **list**: `GET /v1.0/users?$top=999`, following `@odata.nextLink` verbatim until it is absent.
//!    The floor is the same number of `GET`s of a small JSON; the ratio is per-request latency.
//! 3. **delta full**: `GET /v1.0/users/delta` through its nextLinks to a deltaLink, timed once.
//! 4. **delta incremental**: rounds of 10 `PATCH /v1.0/users/{id}` (not timed), then the timed round:
//!    `GET <deltaLink>` until a new deltaLink, which must return exactly the 10 changed users with
//!    their new `jobTitle`. One floor `GET` precedes each round. Both scales' mocks stay up and take
//!    turns round by round, so a slow spell of the machine weighs on both alike.
//!
//! Every status is checked; every listing must return each seeded user exactly once. If the mock
//! refuses the single seed call, the refusal is printed as a MOCK PROBLEM and the users are seeded in
//! calls of 20,000 (the floor then echoes the same chunks). Last, one more seed call of a single user
//! into each full directory shows whether a seed call costs the size of what is already there.
//!
//! A child process (this binary with `--memory`) then creates the largest scale's users straight in
//! a fresh store, without HTTP, and reports its resident memory: the store's own size, beside the
//! VmRSS this process shows after seeding over HTTP.
//!
//! Target (printed as PASS/MISS, never asserted): an incremental round flat within 2x between the
//! smallest and largest scale, median ÷ median.
//!
//! ```text
//! cargo bench -p mock-graph --bench throughput              # 1,000 and 100,000 users
//! cargo bench -p mock-graph --bench throughput -- --quick   # smoke run: 1,000 and 10,000 users
//! ```

#[path = "../../bench-support/common.rs"]
mod common;
#[path = "../../bench-support/graph.rs"]
mod graph;

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::ops::Range;
use std::process::Command;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use mock_graph::MockGraph;
use mock_graph::state::AppState;
use reqwest::RequestBuilder;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use scenarios::tls::TlsMode;
use serde_json::{Value, json};

use common::{Held, Rng, median, percentile, proc_status_mib, send, snippet, start_floor, try_send, verdict};
use graph::{bearer, check_everyone, walk};

/// The tenant's verified domain; seeded UPNs must end in it.
const DOMAIN: &str = "contoso.onmicrosoft.com";
/// Page size asked of the list.
const PAGE_TOP: usize = 999;
/// Page size of delta rounds (the mock's, as Graph sizes delta pages itself).
const DELTA_PAGE: usize = 100;
/// Users changed before each incremental delta round.
const CHANGES: usize = 10;
/// Users per call if one seed call of the whole scale is refused.
const SEED_CHUNK: usize = 20_000;
/// Target of the issue: incremental delta median at the largest scale ÷ at the smallest.
const FLATNESS_TARGET: f64 = 2.0;

/// What one mode measures.
#[derive(Debug, Clone, Copy)]
struct Counts {
    /// User counts, smallest first.
    scales: [usize; 2],
    /// Floor echoes of the seed body; the row shows the median.
    seed_floor_reps: usize,
    /// Full listings are repeated until at least this many pages were timed …
    list_min_pages: usize,
    /// … and at least this many times.
    list_min_reps: usize,
    /// Timed incremental delta rounds.
    rounds: usize,
    /// Untimed incremental rounds first.
    warmup_rounds: usize,
    /// Floor and mock `GET`s to open and warm the connections.
    warmup_requests: usize,
}

const FULL: Counts = Counts {
    scales: [1_000, 100_000],
    seed_floor_reps: 5,
    list_min_pages: 300,
    list_min_reps: 3,
    rounds: 200,
    warmup_rounds: 10,
    warmup_requests: 200,
};

const QUICK: Counts = Counts {
    scales: [1_000, 10_000],
    seed_floor_reps: 3,
    list_min_pages: 60,
    list_min_reps: 1,
    rounds: 40,
    warmup_rounds: 3,
    warmup_requests: 50,
};

fn main() {
    // `cargo bench` passes `--bench`; anything else (a name filter, say) does not apply here.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|arg| arg == "--quick");
    let counts = if quick { QUICK } else { FULL };
    if args.iter().any(|arg| arg == "--memory") {
        memory_scenario(counts.scales[1]);
        return;
    }
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let (rows, notes) = runtime.block_on(benchmark(counts));
    drop(runtime);
    if quick {
        println!("quick mode: a smoke run at 1,000 and 10,000 users, too few rounds for the verdict to mean much");
    }
    print_table(&rows, counts.scales);
    for note in notes {
        println!("{note}");
    }
    println!();
    let exe = std::env::current_exe().expect("path of this benchmark");
    let mut child = Command::new(exe);
    child.arg("--memory");
    if quick {
        child.arg("--quick");
    }
    match child.output() {
        Ok(output) => {
            print!("{}", String::from_utf8_lossy(&output.stdout));
            if !output.status.success() {
                println!("memory scenario failed ({}):", output.status);
                print!("{}", String::from_utf8_lossy(&output.stderr));
            }
        }
        Err(err) => println!("could not start the memory scenario: {err}"),
    }
    println!();
    println!(
        "total benchmark time: {:.1} s ({} mode)",
        started.elapsed().as_secs_f64(),
        if quick { "quick" } else { "full" }
    );
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/// The client and the floor server it measures against.
struct Http {
    client: reqwest::Client,
    /// `http://127.0.0.1:PORT/`: `{"ok":true}`.
    floor_get: String,
    /// `http://127.0.0.1:PORT/raw`: the request body back, whatever its size.
    floor_echo: String,
}

impl Http {
    /// One floor `GET` of a small JSON.
    async fn floor(&self) -> Duration {
        send(self.client.get(&self.floor_get), 200, "floor GET").await.0
    }

    /// The body POSTed to the floor's echo endpoint and received back.
    async fn echo(&self, body: &Bytes) -> Duration {
        let request = self.client.post(&self.floor_echo).header(CONTENT_TYPE, "application/json").body(body.clone());
        let (elapsed, back) = send(request, 200, "floor echo").await;
        assert_eq!(back.len(), body.len(), "the floor echoes every byte");
        elapsed
    }
}

// ---------------------------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------------------------

fn upn(i: usize) -> String {
    format!("user{i}@{DOMAIN}")
}

/// `{"users":[{"userPrincipalName":…,"displayName":…}, …]}` for users `range`.
fn seed_body(range: Range<usize>) -> Bytes {
    let users: Vec<Value> =
        range.map(|i| json!({"userPrincipalName": upn(i), "displayName": format!("User {i}")})).collect();
    Bytes::from(serde_json::to_vec(&json!({ "users": users })).expect("json"))
}

/// One line of the table.
struct Row {
    scale: usize,
    op: String,
    /// Requests of one operation (pages of a walk, calls of a seed).
    reqs: usize,
    /// One operation: the median where it was repeated.
    total: Duration,
    /// Per request (per round for incremental delta).
    p50: Duration,
    p99: Duration,
    /// The floor's matching latency: echo of the same bytes for seeding, a small `GET` otherwise.
    floor_p50: Duration,
    /// Users per second of the operation, where that means something.
    users_per_s: Option<f64>,
}

impl Row {
    /// mock ÷ floor: whole operation for seeding, per-request p50 otherwise.
    fn ratio(&self) -> f64 {
        let mock = if self.op.starts_with("seed") { self.total } else { self.p50 };
        mock.as_secs_f64() / self.floor_p50.as_secs_f64()
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Measures every scale; returns the rows and notes on what each scale did.
async fn benchmark(counts: Counts) -> (Vec<Row>, Vec<String>) {
    let client = reqwest::Client::builder().no_proxy().tcp_nodelay(true).build().expect("reqwest client");
    let floor = start_floor().await;
    let http = Http { client, floor_get: format!("{floor}/"), floor_echo: format!("{floor}/raw") };
    eprintln!("floor: {floor}");
    for _ in 0..counts.warmup_requests {
        http.floor().await;
    }
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let mut scales = Vec::new();
    for n in counts.scales {
        scales.push(measure_scale(&http, counts, n, &mut rows, &mut notes).await);
    }

    // Incremental delta rounds, the scales taking turns round by round (the order alternating), so a
    // slow spell of the machine weighs on both alike.
    let mut rng = Rng(0x5eed);
    for round in 0..counts.warmup_rounds + counts.rounds {
        let timed = round >= counts.warmup_rounds;
        for k in 0..scales.len() {
            let k = if round % 2 == 0 { k } else { scales.len() - 1 - k };
            incremental_round(&http, &mut scales[k], &mut rng, round, timed).await;
        }
    }
    for scale in &scales {
        let round_p50 = median(&scale.rounds);
        eprintln!(
            "scale {}: delta incremental: {} rounds, median {:.0} µs",
            scale.n,
            scale.rounds.len(),
            micros(round_p50)
        );
        rows.push(Row {
            scale: scale.n,
            op: format!("delta +{CHANGES}"),
            reqs: scale.round_pages,
            total: round_p50,
            p50: round_p50,
            p99: percentile(&scale.rounds, 0.99),
            floor_p50: median(&scale.floors),
            users_per_s: None,
        });
    }

    // Last, as it adds a user: one more seed call of a single user into each full directory.
    for scale in &scales {
        let body = seed_body(scale.n..scale.n + 1);
        let mut echoes = Vec::new();
        for _ in 0..counts.seed_floor_reps {
            echoes.push(http.echo(&body).await);
        }
        let request = http
            .client
            .post(format!("{}/_admin/seed", scale.mock.uri()))
            .header(AUTHORIZATION, scale.admin.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body.clone());
        let (elapsed, _) = send(request, 200, "seed of one user").await;
        let world = scale.mock.state.world();
        let journal = world.core.journal.len();
        drop(world);
        notes.push(format!(
            "{} users: {}; PATCH p50 {:.0} µs over {}; one more seed call of 1 user ({} bytes) into the {}-user \
             directory: {:.1} ms (floor echo {:.0} µs); journal {journal} entries",
            scale.n,
            scale.note,
            micros(median(&scale.patches)),
            scale.patches.len(),
            body.len(),
            scale.n,
            ms(elapsed),
            micros(median(&echoes)),
        ));
    }
    let show = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.0} MiB"));
    notes.push(format!(
        "process VmRSS at the end {}, VmHWM {} (client, floor and both mocks, journals included)",
        show(proc_status_mib("VmRSS:")),
        show(proc_status_mib("VmHWM:"))
    ));
    drop(scales);
    rows.sort_by_key(|row| row.scale);
    notes.push(
        "ratio = mock ÷ floor latency (1 = as fast as the floor): seed = whole call(s) vs echoing the same bytes; \
         list / delta = per-request p50 vs a sequential floor GET p50; list and delta full p50/p99 are per full \
         page (999 and 100 users; a short last page is left out), delta incremental p50/p99 per round"
            .to_owned(),
    );
    notes.push(
        "mock ms = one operation (median where repeated), summed request latencies: client-side JSON parsing \
         excluded; users/s = users ÷ mock ms"
            .to_owned(),
    );
    (rows, notes)
}

/// A seeded mock, kept for the incremental delta rounds.
struct Scale {
    n: usize,
    mock: Held<MockGraph, AppState>,
    admin: HeaderValue,
    auth: HeaderValue,
    /// User ids in seeding order.
    ids: Vec<String>,
    /// Where the next incremental round starts.
    link: String,
    /// Timed incremental rounds.
    rounds: Vec<Duration>,
    /// The floor GET before each timed round.
    floors: Vec<Duration>,
    /// Every PATCH.
    patches: Vec<Duration>,
    /// The most pages a timed round took.
    round_pages: usize,
    /// What seeding, listing and the full delta round left to say.
    note: String,
}

/// Seeds one fresh mock of `n` users, lists it, and takes a full delta round.
async fn measure_scale(http: &Http, counts: Counts, n: usize, rows: &mut Vec<Row>, notes: &mut Vec<String>) -> Scale {
    let rss_before = proc_status_mib("VmRSS:");
    let state = mock_graph::Config::default().into_state().expect("the default config");
    let mock = MockGraph::start_over(state.clone(), &TlsMode::Off, 0).await.expect("mock-graph starts on loopback");
    let mock = Held { mock, state };
    let uri = mock.uri();
    let admin = bearer(mock.admin_token());
    // The mock's clock is virtual and does not move: one token lasts the whole run.
    let auth = bearer(&mock.access_token().await);
    for _ in 0..counts.warmup_requests {
        let request = http.client.get(format!("{uri}/v1.0/users?$top=1")).header(AUTHORIZATION, auth.clone());
        send(request, 200, "warm-up GET").await;
    }

    // 1. Seed: the floor echoes the same bytes first.
    let body = seed_body(0..n);
    let body_bytes = body.len();
    let mut echoes = Vec::new();
    for _ in 0..counts.seed_floor_reps {
        echoes.push(http.echo(&body).await);
    }
    let seed_url = format!("{uri}/_admin/seed");
    let seed_request = |body: &Bytes| {
        http.client
            .post(&seed_url)
            .header(AUTHORIZATION, admin.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body.clone())
    };
    let (calls, responses) = match try_send(seed_request(&body)).await {
        Ok((elapsed, 200, response)) => (vec![elapsed], vec![response]),
        outcome => {
            // Refused as one call: say how, then seed in chunks so the rest can still be measured.
            let (elapsed, answer) = match outcome {
                Ok((elapsed, status, response)) => (elapsed, format!("answered {status} {:?}", snippet(&response))),
                Err((elapsed, err)) => (elapsed, format!("failed in transport ({err})")),
            };
            let problem = format!(
                "MOCK PROBLEM at {n} users: one POST /_admin/seed of {body_bytes} bytes {answer} after {:.1} ms",
                ms(elapsed)
            );
            seed_in_chunks(http, &seed_request, counts, n, &mut echoes, notes, &problem).await
        }
    };
    let rss_seeded = proc_status_mib("VmRSS:");
    let mut by_upn: HashMap<String, String> = HashMap::with_capacity(n);
    let mut response_bytes = 0;
    for response in &responses {
        response_bytes += response.len();
        let value: Value = serde_json::from_slice(response).expect("the seed answer is JSON");
        let users = value.get("users").and_then(Value::as_object).expect("the seed answer has users");
        by_upn.extend(users.iter().map(|(upn, id)| (upn.clone(), id.as_str().expect("an id").to_owned())));
    }
    drop(responses);
    let ids: Vec<String> = (0..n).map(|i| by_upn.remove(&upn(i)).expect("every seeded user has an id")).collect();
    let seeded: HashSet<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(seeded.len(), n, "seeded ids are distinct");
    let seed_total: Duration = calls.iter().sum();
    eprintln!("scale {n}: seeded in {:.1} ms ({} call(s), body {body_bytes} bytes)", ms(seed_total), calls.len());
    rows.push(Row {
        scale: n,
        op: if calls.len() == 1 { "seed".to_owned() } else { format!("seed ({} calls)", calls.len()) },
        reqs: calls.len(),
        total: seed_total,
        p50: median(&calls),
        p99: percentile(&calls, 0.99),
        floor_p50: median(&echoes),
        users_per_s: Some(n as f64 / seed_total.as_secs_f64()),
    });

    // 2. List at $top=999: a first, checked walk, then floor-then-mock pairs.
    let list_url = format!("{uri}/v1.0/users?$top={PAGE_TOP}");
    let max_pages = n / PAGE_TOP + 10;
    let first = walk(&http.client, &list_url, &auth, max_pages, "list").await;
    check_everyone(&first.items, &seeded, "list");
    assert!(first.delta_link.is_none(), "a list has no deltaLink");
    let pages = first.pages.len();
    let page_bytes = first.bytes / pages;
    drop(first);
    let reps = counts.list_min_reps.max(counts.list_min_pages.div_ceil(pages));
    let (mut totals, mut latencies, mut floors) = (Vec::new(), Vec::new(), Vec::new());
    let (mut early, mut late) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        for _ in 0..pages {
            floors.push(http.floor().await);
        }
        let run = walk(&http.client, &list_url, &auth, max_pages, "list").await;
        assert_eq!(run.items.len(), n, "list: every user, every time");
        assert_eq!(run.pages.len(), pages, "list: the same pages every time");
        totals.push(run.total);
        latencies.extend(run.full_pages(PAGE_TOP));
        run.halves(PAGE_TOP, &mut early, &mut late);
    }
    let list_total = median(&totals);
    eprintln!("  list: {pages} pages x {reps} walks, median {:.1} ms", ms(list_total));
    rows.push(Row {
        scale: n,
        op: format!("list $top={PAGE_TOP}"),
        reqs: pages,
        total: list_total,
        p50: median(&latencies),
        p99: percentile(&latencies, 0.99),
        floor_p50: median(&floors),
        users_per_s: Some(n as f64 / list_total.as_secs_f64()),
    });

    // 3. A full delta round, timed once; the floor after it, as many GETs as it had pages.
    let delta_url = format!("{uri}/v1.0/users/delta");
    let max_delta_pages = n / DELTA_PAGE + 10;
    let full = walk(&http.client, &delta_url, &auth, max_delta_pages, "delta full round").await;
    check_everyone(&full.items, &seeded, "delta full round");
    let link = full.delta_link.clone().expect("the full round ends in a deltaLink");
    let mut floors = Vec::new();
    for _ in 0..full.pages.len() {
        floors.push(http.floor().await);
    }
    let delta_latencies: Vec<Duration> = full.full_pages(DELTA_PAGE).collect();
    let (mut delta_early, mut delta_late) = (Vec::new(), Vec::new());
    full.halves(DELTA_PAGE, &mut delta_early, &mut delta_late);
    let halves = |early: &[Duration], late: &[Duration]| {
        if early.is_empty() || late.is_empty() {
            "n/a (one full page)".to_owned()
        } else {
            format!("{:.0} / {:.0} µs", micros(median(early)), micros(median(late)))
        }
    };
    eprintln!("  delta full: {} pages, {:.1} ms", full.pages.len(), ms(full.total));
    rows.push(Row {
        scale: n,
        op: "delta full".to_owned(),
        reqs: full.pages.len(),
        total: full.total,
        p50: median(&delta_latencies),
        p99: percentile(&delta_latencies, 0.99),
        floor_p50: median(&floors),
        users_per_s: Some(n as f64 / full.total.as_secs_f64()),
    });

    let show = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.0} MiB"));
    let note = format!(
        "seed body {body_bytes} bytes, answer {response_bytes} bytes; list page ~{page_bytes} bytes; delta full \
         round {} pages, {} bytes; page p50, first half / second half of the walk: list {}, delta full {}; \
         process VmRSS before this scale {}, after seeding {}, after the full delta round {}",
        full.pages.len(),
        full.bytes,
        halves(&early, &late),
        halves(&delta_early, &delta_late),
        show(rss_before),
        show(rss_seeded),
        show(proc_status_mib("VmRSS:")),
    );
    drop(full);
    Scale {
        n,
        mock,
        admin,
        auth,
        ids,
        link,
        rounds: Vec::new(),
        floors: Vec::new(),
        patches: Vec::new(),
        round_pages: 0,
        note,
    }
}

/// 10 untimed PATCHes, a floor GET, then an incremental delta round, timed and checked: exactly the
/// 10 changed users, with their new `jobTitle`.
async fn incremental_round(http: &Http, scale: &mut Scale, rng: &mut Rng, round: usize, timed: bool) {
    let uri = scale.mock.uri();
    let mut expected: HashMap<String, String> = HashMap::new();
    for (j, i) in rng.distinct(CHANGES, scale.n).into_iter().enumerate() {
        let title = format!("round {round} change {j}");
        let request = http
            .client
            .patch(format!("{uri}/v1.0/users/{}", scale.ids[i]))
            .header(AUTHORIZATION, scale.auth.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(&json!({ "jobTitle": title })).expect("json"));
        scale.patches.push(send(request, 204, "PATCH user").await.0);
        expected.insert(scale.ids[i].clone(), title);
    }
    let floor = http.floor().await;
    let incremental = walk(&http.client, &scale.link, &scale.auth, 10, "delta incremental round").await;
    let n = scale.n;
    assert_eq!(
        incremental.items.len(),
        CHANGES,
        "{n} users, delta incremental round {round}: {} users returned after {CHANGES} changes",
        incremental.items.len()
    );
    for item in &incremental.items {
        let id = item.get("id").and_then(Value::as_str).expect("an id");
        let title = expected.remove(id).unwrap_or_else(|| panic!("{n} users, round {round}: unchanged user {id}"));
        assert_eq!(item.get("jobTitle").and_then(Value::as_str), Some(title.as_str()), "round {round}: {item}");
    }
    scale.link = incremental.delta_link.expect("an incremental round ends in a deltaLink");
    if timed {
        scale.rounds.push(incremental.total);
        scale.floors.push(floor);
        scale.round_pages = scale.round_pages.max(incremental.pages.len());
    }
}

/// Seeds users `0..n` in calls of at most [`SEED_CHUNK`] users after one call of all of them failed
/// (`problem` says how); the floor, in `echoes`, becomes the same chunks echoed. Returns each call's
/// latency and answer.
async fn seed_in_chunks(
    http: &Http,
    seed_request: &impl Fn(&Bytes) -> RequestBuilder,
    counts: Counts,
    n: usize,
    echoes: &mut Vec<Duration>,
    notes: &mut Vec<String>,
    problem: &str,
) -> (Vec<Duration>, Vec<Bytes>) {
    let chunks: Vec<Bytes> = (0..n).step_by(SEED_CHUNK).map(|s| seed_body(s..(s + SEED_CHUNK).min(n))).collect();
    notes.push(format!(
        "{problem}; seeded instead in {} calls of at most {SEED_CHUNK} users (largest body {} bytes); \
         the floor for that row echoes the same chunks",
        chunks.len(),
        chunks.iter().map(Bytes::len).max().unwrap_or(0)
    ));
    eprintln!("  {}", notes[notes.len() - 1]);
    echoes.clear();
    for _ in 0..counts.seed_floor_reps {
        let mut total = Duration::ZERO;
        for chunk in &chunks {
            total += http.echo(chunk).await;
        }
        echoes.push(total);
    }
    let mut calls = Vec::new();
    let mut responses = Vec::new();
    for chunk in &chunks {
        let (elapsed, response) = send(seed_request(chunk), 200, "seed chunk").await;
        calls.push(elapsed);
        responses.push(response);
    }
    let each: Vec<String> = calls.iter().map(|d| format!("{:.0}", ms(*d))).collect();
    notes.push(format!("  seed calls of {SEED_CHUNK} users, in order: {} ms", each.join(", ")));
    (calls, responses)
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

fn print_table(rows: &[Row], scales: [usize; 2]) {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>7}  {:<15}  {:>4}  {:>10}  {:>11}  {:>11}  {:>12}  {:>7}  {:>9}",
        "users", "op", "reqs", "mock ms", "mock p50 µs", "mock p99 µs", "floor p50 µs", "ratio", "users/s"
    );
    for row in rows {
        let rate = row.users_per_s.map_or_else(|| "-".to_owned(), |r| format!("{r:.0}"));
        let _ = writeln!(
            out,
            "{:>7}  {:<15}  {:>4}  {:>10.2}  {:>11}  {:>11}  {:>12}  {:>6.2}x  {:>9}",
            row.scale,
            row.op,
            row.reqs,
            ms(row.total),
            row.p50.as_micros(),
            row.p99.as_micros(),
            row.floor_p50.as_micros(),
            row.ratio(),
            rate,
        );
    }
    let [small, large] = scales;
    let find = |scale| rows.iter().find(|r| r.scale == scale && r.op.starts_with("delta +"));
    if let (Some(a), Some(b)) = (find(small), find(large)) {
        let raw = b.p50.as_secs_f64() / a.p50.as_secs_f64();
        let normalised = b.ratio() / a.ratio();
        let _ = writeln!(
            out,
            "flatness, delta +{CHANGES} round: median at {large} / median at {small} users = {raw:.2} \
             (floor-normalised {normalised:.2}); target ≤ {FLATNESS_TARGET:.0}: {}",
            verdict(raw <= FLATNESS_TARGET)
        );
    }
    print!("{out}");
}

/// In a child process: `n` users straight into a fresh store, no HTTP, to tell the store's own size
/// from what seeding over HTTP leaves behind.
fn memory_scenario(n: usize) {
    let before = proc_status_mib("VmRSS:").unwrap_or(f64::NAN);
    let started = Instant::now();
    let state = mock_graph::Config::default().into_state().expect("the default config is valid");
    let mut world = state.world();
    for i in 0..n {
        let user = json!({
            "userPrincipalName": upn(i),
            "displayName": format!("User {i}"),
            "accountEnabled": true,
            "mailNickname": format!("user{i}"),
            "passwordProfile": {"password": "Seeded-Password-1", "forceChangePasswordNextSignIn": false},
        });
        let Value::Object(user) = user else { unreachable!("an object literal") };
        let id = world.uuid();
        let now = world.core.clock.now();
        world.directory.create_user(id, now, user).expect("seeding a user");
    }
    let elapsed = started.elapsed();
    let users = world.directory.users.len();
    let rss = proc_status_mib("VmRSS:").unwrap_or(f64::NAN);
    println!(
        "memory (child process, no HTTP): {users} users created straight in a fresh store in {:.2} s; VmRSS {before:.0} \
         -> {rss:.0} MiB, {:.1} KiB per user",
        elapsed.as_secs_f64(),
        (rss - before) * 1024.0 / users as f64
    );
}
