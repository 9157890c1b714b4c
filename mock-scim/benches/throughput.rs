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

#[path = "../../bench-support/common.rs"]
mod common;
#[path = "../../bench-support/load.rs"]
mod load;
#[path = "../../bench-support/scim.rs"]
mod scim;

use std::collections::HashSet;
use std::fmt::Write as _;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use mock_scim::Config;
use reqwest::Method;

use common::{Rng, echo_body, median_f64 as median, proc_status_mib, start_floor, verdict};
use load::{Load, Sample, measure};
use scim::{
    PATCH_MEMBERS, PATCHES_PER_GROUP, bearer, create_load, filter_load, group_input, patch_load, seed_group,
    seed_scale, seed_user, start_scim, user_input,
};

/// The user counts measured over HTTP.
const SCALES: [usize; 2] = [1_000, 100_000];
/// Tasks sharing the client in the concurrent mode.
const CONCURRENCY: usize = 16;

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
    let floor_get = Arc::new(Load {
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
    let floor_echo = Arc::new(Load {
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
        let mock = start_scim().await;
        let endpoint = mock.scim_endpoint();
        let auth = bearer(&mock);
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
            let names = (0..total).map(|_| format!("user-{}", rng.below(scale))).collect();
            filter_load(&endpoint, Some(auth.clone()), names)
        };
        // POST: new users, unique across the whole scale.
        let mut created = 0;
        let mut post_job = |total: usize| {
            created += total;
            create_load(&endpoint, Some(auth.clone()), "new", created - total..created)
        };
        let mut patched = 0;
        let mut patch_job = |total: usize| {
            patched += total;
            patch_load(&endpoint, Some(auth.clone()), &seeded, patched - total..patched)
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
        let world = mock.state.world();
        let tenant = &world.tenants[mock.tenant_id()];
        let targets: HashSet<&str> = seeded.patch_groups.iter().map(String::as_str).collect();
        let added: usize =
            tenant.groups_with_members().filter(|(g, _)| targets.contains(g.id.as_str())).map(|(_, m)| m.len()).sum();
        let users_created = tenant.user_count() - scale;
        notes.push(format!(
            "after {scale}: {} users (+{users_created} of {created} POSTed), +{added} memberships by PATCH (expected {}), journal {} entries, process VmRSS {rss_before:.0} -> {:.0} MiB",
            tenant.user_count(),
            patched * PATCH_MEMBERS,
            world.core.journal.len(),
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

// ---------------------------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------------------------

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
