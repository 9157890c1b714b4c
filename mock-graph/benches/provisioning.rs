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
//! ```text
//! cargo bench -p mock-graph --bench provisioning              # full: 10,000 / 100,000 users (~1-2 min)
//! cargo bench -p mock-graph --bench provisioning -- --quick   # smoke: 1,000 / 10,000 users
//! ```

#[path = "../../bench-support/common.rs"]
mod common;
#[path = "../../bench-support/sync.rs"]
mod sync;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use mock_graph::MockGraph;
use mock_scim::MockScim;
use serde_json::Value;

use common::{Held, echo_body, mean_f64 as mean, memory, percentile_f64, process_cpu, start_floor, verdict};
use sync::{
    Api, MICROSOFT_MINUTES_PER_OBJECT, Shape, SyncJob as Job, journal_seq, journal_since, measure_floor, seed,
    set_journal_capacity, start_pair, summary_of, upn, verify_target,
};

/// Scenario A's target: engine time per SCIM request at most this many times the floor's.
const RATIO_TARGET: f64 = 3.0;
/// Scenario B's target for the no-change incremental cycle.
const INCREMENTAL_TARGET: Duration = Duration::from_secs(1);
/// mock-scim's journal capacity in scenario B: the incremental cycle needs only a few entries, and
/// keeping the initial cycle's 200,000 exchanges would dominate the memory measured.
const SCENARIO_B_JOURNAL: usize = 10_000;

/// Sizes of one run.
#[derive(Debug, Clone, Copy)]
struct Plan {
    a: Shape,
    b: Shape,
    /// Sequential floor requests of each kind, before and after a timed cycle.
    floor_requests: usize,
    floor_warmup: usize,
}

const FULL: Plan = Plan {
    a: Shape { users: 10_000, groups: 1_000, members: 50 },
    b: Shape { users: 100_000, groups: 100, members: 1_000 },
    floor_requests: 2_000,
    floor_warmup: 300,
};

const QUICK: Plan = Plan {
    a: Shape { users: 1_000, groups: 100, members: 50 },
    b: Shape { users: 10_000, groups: 10, members: 1_000 },
    floor_requests: 300,
    floor_warmup: 100,
};

fn main() {
    let mut quick = false;
    let mut scenario = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--quick" => quick = true,
            "--scenario=a" => scenario = Some('a'),
            "--scenario=b" => scenario = Some('b'),
            // `cargo bench` passes `--bench`; anything else (a name filter, say) does not apply here.
            _ => {}
        }
    }
    let plan = if quick { QUICK } else { FULL };
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
        command.arg(format!("--scenario={which}")).stderr(Stdio::inherit());
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
// Memory, and Microsoft's estimate
// ---------------------------------------------------------------------------------------------

/// In-process sizes that explain the memory: the engine's provisioning log and mock-scim's journal.
fn retained(
    graph: &Held<MockGraph, mock_graph::state::AppState>,
    scim: &Held<MockScim, mock_scim::state::AppState>,
) -> String {
    let (logs, log_bytes, log_heap) = {
        let world = graph.state.world();
        let logs = &world.provisioning.logs;
        // Entries are kept typed; written out as serde_json values they would take `heap`.
        let written: Vec<Value> = logs.iter().map(|entry| entry.to_json()).collect();
        let text: usize = written.iter().map(|entry| entry.to_string().len()).sum();
        let heap: usize = written.capacity() * size_of::<Value>() + written.iter().map(value_heap).sum::<usize>();
        (logs.len(), text, heap)
    };
    let (entries, bytes) = {
        let world = scim.state.world();
        let bytes: usize = world
            .core
            .journal
            .iter()
            .map(|e| e.request_body.len() + e.response.as_ref().map_or(0, |r| r.2.len()))
            .sum();
        (world.core.journal.len(), bytes)
    };
    format!(
        "retained: {logs} provisioning log entries in mock-graph ({:.1} MiB as JSON text, about {:.0} MiB of heap \
         were they kept as serde_json values, as they were before); {entries} exchanges in mock-scim's journal ({:.1} MiB of bodies)",
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
    let objects = shape.objects();
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

// ---------------------------------------------------------------------------------------------
// Where a cycle's time goes
// ---------------------------------------------------------------------------------------------

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
    async fn advance(
        job: &Job<'_>,
        scim: &Held<MockScim, mock_scim::state::AppState>,
        by: &str,
        period: Duration,
    ) -> Timeline {
        let since = journal_seq(scim);
        let cpu = process_cpu();
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let sampler = {
            let (state, samples, stop) = (scim.state.clone(), Arc::clone(&samples), Arc::clone(&stop));
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(period).await;
                    let seq = state.world().core.journal.seq();
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
    (mean(&latencies), percentile_f64(&latencies, 0.5))
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

/// Sampling period of the timeline during an initial cycle, and during an incremental one.
const INITIAL_PERIOD: Duration = Duration::from_millis(10);
const INCREMENTAL_PERIOD: Duration = Duration::from_millis(1);
/// Direct `GET /Users?filter=` requests to mock-scim after the cycles.
const SCIM_PROBES: usize = 1_000;
/// No-change incremental cycles run in scenario B, each timed.
const INCREMENTAL_CYCLES: usize = 5;

async fn scenario_a(plan: Plan) {
    let shape = plan.a;
    println!("scenario A: initial cycle; {}", shape.describe());
    let api = Api::new();
    let floor = start_floor().await;
    let echo = echo_body();
    let (graph, scim) = start_pair().await;
    let seeded = seed(&api, &graph, shape).await;
    println!("  seeded in {:.2} s ({} seed calls); {}", seeded.elapsed.as_secs_f64(), seeded.calls, memory());
    let job = Job::create(&api, &graph, &scim, &seeded.sp).await;

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
    println!("scenario B: no-change incremental cycle; {}", shape.describe());
    let api = Api::new();
    let floor = start_floor().await;
    let echo = echo_body();
    let (graph, scim) = start_pair().await;
    set_journal_capacity(&api, &scim, SCENARIO_B_JOURNAL).await;
    let seeded = seed(&api, &graph, shape).await;
    println!("  seeded in {:.2} s ({} seed calls); {}", seeded.elapsed.as_secs_f64(), seeded.calls, memory());
    let job = Job::create(&api, &graph, &scim, &seeded.sp).await;

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
