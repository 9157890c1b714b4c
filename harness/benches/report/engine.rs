//! Parts 4 and 5, each scale in a child process: the engine's initial cycle and the no-change
//! incremental cycles after it, run by mock-graph's `POST /_admin/clock/advance` against mock-scim
//! (all in the child), at one `exportConcurrency`; Graph's `GET /v1.0/users?$top=1` latency while the
//! initial cycle runs; and Graph's list and full delta round.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mock_graph::MockGraph;
use reqwest::Method;
use serde_json::{Value, json};

use crate::Plan;
use crate::common::{echo_body, median, percentile, proc_status_mib, start_floor};
use crate::graph::{bearer, check_everyone, get_json, walk};
use crate::results::{EngineRun, GraphLists, Latency, Probe, Walked, micros};
use crate::sync::{
    Api, Shape, SyncJob, journal_seq, journal_since, measure_floor, seed, set_journal_capacity, start_pair, summary_of,
    verify_target,
};

/// mock-scim's journal capacity from 100,000 users on: the incremental cycles need only a few
/// entries, and keeping the initial cycle's 200,000 exchanges would dominate the memory measured
/// (as in mock-graph's provisioning bench).
const LARGE_JOURNAL: usize = 10_000;
/// How often the Graph probe sends its `GET` while the initial cycle runs.
pub const PROBE_PERIOD: Duration = Duration::from_millis(10);
/// Idle Graph probes before the cycle, back to back.
pub const IDLE_PROBES: usize = 200;

/// Whether mock-graph has the `exportConcurrency` switch, and its default.
#[derive(Debug, Clone)]
pub enum ExportSwitch {
    Present {
        default: usize,
    },
    /// The engine runs as it is; the note says what mock-graph answered.
    Absent {
        note: String,
    },
}

/// Asks a fresh mock-graph for its switches, and whether it takes `exportConcurrency`.
pub async fn export_switch() -> ExportSwitch {
    let api = Api::new();
    let graph = MockGraph::start().await;
    let url = format!("{}/_admin/switches", graph.uri());
    let switches = api.expect(Method::GET, &url, graph.admin_token(), None, 200).await;
    let default = switches.get("exportConcurrency").and_then(Value::as_u64);
    let body = serde_json::to_vec(&json!({"exportConcurrency": 1})).expect("json");
    let (status, answer) = api.call(Method::PATCH, &url, graph.admin_token(), Some(body.into())).await;
    match (default, status) {
        (Some(default), 200) => ExportSwitch::Present { default: default as usize },
        (None, 400) => ExportSwitch::Absent {
            note: format!("PATCH /_admin/switches {{\"exportConcurrency\":1}} answered 400 ({answer})"),
        },
        (default, status) => ExportSwitch::Absent {
            note: format!(
                "GET /_admin/switches shows exportConcurrency {default:?}; PATCH of it answered {status} ({answer})"
            ),
        },
    }
}

/// One scale's cycles at one `exportConcurrency` (`None`: the switch left alone).
pub async fn engine(plan: &Plan, shape: Shape, concurrency: Option<usize>, probe: bool) -> EngineRun {
    eprintln!("engine: {}; exportConcurrency {concurrency:?}", shape.describe());
    let api = Api::new();
    let floor = start_floor().await;
    let echo = echo_body();
    let (graph, scim) = start_pair().await;
    if shape.users >= 100_000 {
        set_journal_capacity(&api, &scim, LARGE_JOURNAL).await;
    }
    let rss_before_mib = proc_status_mib("VmRSS:").unwrap_or(f64::NAN);
    let seeded = seed(&api, &graph, shape).await;
    eprintln!("  seeded in {:.2} s ({} calls)", seeded.elapsed.as_secs_f64(), seeded.calls);
    if let Some(n) = concurrency {
        let url = format!("{}/_admin/switches", graph.uri());
        let body = json!({ "exportConcurrency": n });
        let switches = api.expect(Method::PATCH, &url, graph.admin_token(), Some(body), 200).await;
        assert_eq!(switches["exportConcurrency"], n, "the switch took: {switches}");
    }
    let job = SyncJob::create(&api, &graph, &scim, &seeded.sp).await;

    measure_floor(&api, &floor, &echo, plan.engine_floor_warmup).await;
    let mut pooled = measure_floor(&api, &floor, &echo, plan.engine_floor).await;
    let users_url = format!("{}/v1.0/users?$top=1", graph.uri());
    let auth = bearer(&graph.access_token().await);
    let idle = if probe {
        let mut idle = Vec::with_capacity(IDLE_PROBES);
        for _ in 0..IDLE_PROBES {
            idle.push(probe_once(&api.http, &users_url, &auth).await);
        }
        Some(Latency::of(&idle))
    } else {
        None
    };

    // The initial cycle, with the probe sending from a thread of its own if asked: its own runtime and
    // client, so that what it measures is Graph's answer, not its own turn on the mocks' runtime.
    let stop = Arc::new(AtomicBool::new(false));
    let prober = probe.then(|| {
        let (url, auth, stop) = (users_url.clone(), auth.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            runtime.block_on(async move {
                let client = crate::common::client();
                // Missed ticks fire at once (`Burst`), and each request is timed from when it was due
                // as well as from when it was sent: a stall then counts for every request it held up,
                // as it would for a client sending every 10 ms whatever happened (no coordinated
                // omission).
                let mut ticker = tokio::time::interval(PROBE_PERIOD);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                let (mut sent, mut due) = (Vec::new(), Vec::new());
                loop {
                    let scheduled = ticker.tick().await;
                    if stop.load(Ordering::Relaxed) {
                        return (sent, due);
                    }
                    sent.push(probe_once(&client, &url, &auth).await);
                    due.push(scheduled.elapsed());
                }
            })
        })
    });
    let since = journal_seq(&scim);
    eprintln!("  running the initial cycle");
    let initial = job.advance("PT1M").await;
    stop.store(true, Ordering::Relaxed);
    let during = prober.map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
    let made = journal_seq(&scim) - since;
    let execution = job.last_execution().await;
    eprintln!("  initial cycle {:.2} s, {made} SCIM requests; {}", initial.as_secs_f64(), summary_of(&execution));
    assert_eq!(execution["state"], "Succeeded", "the initial cycle: {execution}");
    assert_eq!(execution["countEscrowed"], 0, "nothing escrowed: {execution}");
    let writes = execution["countExports"].as_u64().expect("countExports");
    assert!(writes > 0 && writes <= made, "{writes} writes among {made} SCIM requests");

    // No-change incremental cycles: the first right away, as `clock/advance` allows (it may pay the
    // allocator's deferred work from the initial cycle), the others after the floor again.
    let mut incremental = Vec::new();
    let mut incremental_writes = 0;
    let mut activity = execution["activityIdentifier"].clone();
    for k in 0..plan.incremental_cycles {
        if k == 1 {
            measure_floor(&api, &floor, &echo, plan.engine_floor_warmup).await;
            pooled.extend(measure_floor(&api, &floor, &echo, plan.engine_floor).await);
        }
        let since = journal_seq(&scim);
        let took = job.advance("PT40M").await;
        let requests = journal_since(&api, &scim, since).await;
        assert_eq!(requests.total as u64, journal_seq(&scim) - since, "the journal kept the whole cycle");
        let execution = job.last_execution().await;
        assert_ne!(execution["activityIdentifier"], activity, "each PT40M advance runs one cycle");
        assert_eq!(execution["state"], "Succeeded", "incremental cycle {k}: {execution}");
        activity = execution["activityIdentifier"].clone();
        incremental_writes += requests.writes;
        incremental.push(took.as_secs_f64() * 1e3);
        eprintln!(
            "  no-change cycle {k}: {:.1} ms, {} SCIM requests ({})",
            took.as_secs_f64() * 1e3,
            requests.total,
            requests.breakdown()
        );
    }
    assert_eq!(incremental_writes, 0, "no-change cycles wrote to mock-scim");
    let gets = (made - writes) as usize;
    let floor_us_per_request = pooled.weighted(gets, writes as usize);
    // The peak of the cycles, before this bench reads all of mock-scim's state back to check it.
    let hwm_mib = proc_status_mib("VmHWM:").unwrap_or(f64::NAN);
    let verified = verify_target(&api, &scim, shape).await;
    eprintln!("  {verified}");
    EngineRun {
        users: shape.users,
        groups: shape.groups,
        members: shape.members,
        concurrency,
        label: String::new(),
        seed_s: seeded.elapsed.as_secs_f64(),
        initial_s: initial.as_secs_f64(),
        scim_requests: made,
        scim_writes: writes,
        floor_us_per_request,
        incremental_ms: incremental,
        incremental_writes,
        probe: idle.zip(during).map(|(idle, (sent, due))| Probe {
            idle,
            during: Latency::of(&sent),
            during_from_due: Latency::of(&due),
            period_ms: PROBE_PERIOD.as_millis() as u64,
        }),
        rss_before_mib,
        hwm_mib,
        verified,
    }
}

/// One `GET /v1.0/users?$top=1`, checked: 200 and exactly one user.
async fn probe_once(client: &reqwest::Client, url: &str, auth: &reqwest::header::HeaderValue) -> Duration {
    let (elapsed, page, _) = get_json(client, url, auth, "GET /v1.0/users?$top=1").await;
    let users = page["value"].as_array().map_or(0, Vec::len);
    assert_eq!(users, 1, "GET /v1.0/users?$top=1 returned {users} users");
    elapsed
}

/// Graph's `GET /v1.0/users?$top=999` through its pages, and a full `GET /v1.0/users/delta` round,
/// each walked `plan.list_walks` times after a checked first walk, beside as many floor `GET`s.
pub async fn lists(plan: &Plan, shape: Shape) -> GraphLists {
    let api = Api::new();
    let floor = start_floor().await;
    let graph = MockGraph::start().await;
    let seeded = seed(&api, &graph, shape).await;
    let ids: HashSet<&str> = seeded.user_ids.iter().map(String::as_str).collect();
    let auth = bearer(&graph.access_token().await);
    let floor_get = format!("{floor}/");
    for _ in 0..plan.warmup {
        crate::common::send(api.http.get(&floor_get), 200, "floor GET").await;
        probe_once(&api.http, &format!("{}/v1.0/users?$top=1", graph.uri()), &auth).await;
    }
    let mut floors = Vec::new();
    let mut walked = Vec::new();
    for (what, path, page) in
        [("list $top=999", "/v1.0/users?$top=999", 999), ("delta, full round", "/v1.0/users/delta", 100)]
    {
        let url = format!("{}{path}", graph.uri());
        let max_pages = shape.users / page + 10;
        let first = walk(&api.http, &url, &auth, max_pages, what).await;
        check_everyone(&first.items, &ids, what);
        let pages = first.pages.len();
        let bytes = first.bytes;
        drop(first);
        let (mut totals, mut latencies) = (Vec::new(), Vec::new());
        for _ in 0..plan.list_walks {
            for _ in 0..pages {
                floors.push(crate::common::send(api.http.get(&floor_get), 200, "floor GET").await.0);
            }
            let started = Instant::now();
            let run = walk(&api.http, &url, &auth, max_pages, what).await;
            let wall = started.elapsed();
            assert_eq!(run.items.len(), shape.users, "{what}: every user, every time");
            assert_eq!(run.pages.len(), pages, "{what}: the same pages every time");
            eprintln!(
                "  {what}: {pages} pages, {:.1} ms (wall with client parsing {:.1} ms)",
                run.total.as_secs_f64() * 1e3,
                wall.as_secs_f64() * 1e3
            );
            totals.push(run.total);
            latencies.extend(run.full_pages(page));
        }
        walked.push(Walked {
            what: what.to_owned(),
            pages,
            walks: totals.len(),
            total_ms: median(&totals).as_secs_f64() * 1e3,
            page_p50_us: micros(median(&latencies)),
            page_p99_us: micros(percentile(&latencies, 0.99)),
            bytes,
        });
    }
    let delta = walked.pop().expect("the delta round");
    let list = walked.pop().expect("the list");
    GraphLists {
        users: shape.users,
        list,
        delta,
        floor_get_p50_us: micros(median(&floors)),
        hwm_mib: proc_status_mib("VmHWM:").unwrap_or(f64::NAN),
    }
}
