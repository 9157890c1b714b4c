//! The sections of `BENCHMARKS.md` after the targets: what each part did, its table, its notes.

use std::fmt::Write as _;

use crate::engine::{ExportSwitch, IDLE_PROBES, PROBE_PERIOD};
use crate::markdown::{ENGINE_PLOT, PLOT_DIR, Report, SCIM_PLOT, cell, human, mode, not_measured, rps, thousands, us};
use crate::results::{EngineRun, Outcome};
use crate::sync::MICROSOFT_MINUTES_PER_OBJECT;
use crate::throughput::{CONCURRENCY, CREATE, FILTER, PATCH};

pub fn floor_section(md: &mut String, report: &Report) {
    let _ = writeln!(md, "## 1. The loopback floor\n");
    let _ = writeln!(
        md,
        "An axum hello-world in the same process as the client: `GET /` answers `{{\"ok\":true}}`, `POST /echo` \
         parses a JSON body and sends it back; one `reqwest` client with keep-alive, sequential (one task) and 16 \
         tasks sharing it. This is what a round trip costs on this machine before any server does any work.\n"
    );
    match &report.floor {
        Outcome::Measured(floor) => {
            let _ =
                writeln!(md, "| request | mode | req/s | p50 µs | p99 µs | requests |\n|---|---|---:|---:|---:|---:|");
            for (what, tasks, rate) in &floor.rows {
                let what = if what == "GET" {
                    "`GET /`".to_owned()
                } else {
                    format!("`POST /echo` ({} bytes)", floor.echo_bytes)
                };
                let _ = writeln!(
                    md,
                    "| {what} | {} | {} | {} | {} | {} |",
                    mode(*tasks),
                    rps(rate.rps),
                    us(rate.p50_us),
                    us(rate.p99_us),
                    thousands(rate.requests as u64)
                );
            }
        }
        other => {
            let _ = writeln!(md, "{}", not_measured(other));
        }
    }
    md.push('\n');
}

pub fn scim_section(md: &mut String, report: &Report) {
    let _ = writeln!(md, "## 2. mock-scim\n");
    let _ = writeln!(
        md,
        "A fresh mock-scim per scale, seeded straight in memory with the users (`user-{{i}}`) and one group of 10 \
         members per 100 users; then, over HTTP with a bearer token: `POST /Users` of new users, `GET \
         /Users?filter=userName eq \"…\"` of random seeded users, `PATCH /Groups/{{id}}` adding 100 new members \
         (AWS's limit per request) to empty groups, and `POST /Users` at 16 concurrent. Each row runs right after \
         the floor's matching load (a filter after `GET /`, the others after `POST /echo`) with the same number of \
         requests and tasks; **ours/floor** is mock-scim's req/s over the floor's (1 = as fast as the floor), the \
         median of {} such pair(s). Every status is checked, every 50th body, and at the end the store must hold \
         exactly the users and memberships sent.\n",
        report.plan.reps
    );
    let _ = writeln!(md, "![mock-scim requests per second against users]({PLOT_DIR}/{SCIM_PLOT})\n");
    let _ = writeln!(
        md,
        "| users | operation | mode | req/s | p50 µs | p99 µs | floor req/s | ours/floor | requests |\n|---:|---|---|---:|---:|---:|---:|---:|---:|"
    );
    for (users, outcome) in &report.scim {
        match outcome {
            Outcome::Measured(scale) => {
                for row in &scale.rows {
                    let _ = writeln!(
                        md,
                        "| {} | {} | {} | {} | {} | {} | {} | {:.2}× | {} |",
                        thousands(*users as u64),
                        op_name(&row.op),
                        mode(row.tasks),
                        rps(row.ours.rps),
                        us(row.ours.p50_us),
                        us(row.ours.p99_us),
                        rps(row.floor.rps),
                        row.ratio,
                        thousands(row.ours.requests as u64)
                    );
                }
            }
            other => {
                let _ = writeln!(md, "| {} | all | | {} | | | | | |", thousands(*users as u64), not_measured(other));
            }
        }
    }
    md.push('\n');
    for (users, outcome) in &report.scim {
        if let Outcome::Measured(scale) = outcome {
            let _ = writeln!(md, "- {} users: {}.", thousands(*users as u64), scale.note);
        }
    }
    md.push('\n');
}

fn op_name(op: &str) -> String {
    match op {
        CREATE => "create `POST /Users`".to_owned(),
        FILTER => "filter `GET /Users?filter=userName eq`".to_owned(),
        PATCH => "`PATCH /Groups/{id}` +100 members".to_owned(),
        other => other.to_owned(),
    }
}

pub fn peer_section(md: &mut String, report: &Report) {
    let _ = writeln!(md, "## 3. mock-scim beside scim2-server\n");
    let _ = writeln!(
        md,
        "[scim2-server](https://pypi.org/project/scim2-server/) is a Python SCIM server over any storage. The run \
         makes a venv in `target/bench-venv`, pip-installs `harness/benches/requirements.txt` (exact pins), serves \
         it on a free loopback port and stops it at the end. Both servers start empty in the same child and get \
         the same requests from the same client, mock-scim first: {} creates, {} filters for users created so far, \
         sequential, then the same at 16 concurrent, each {} time(s). **ours/scim2-server** is mock-scim's req/s over \
         scim2-server's, the median over the pairs; req/s are medians, percentiles over all requests.\n",
        thousands(report.plan.peer_ops as u64),
        thousands(report.plan.peer_ops as u64),
        report.plan.reps
    );
    match &report.peer {
        Outcome::Measured(peer) => {
            let _ = writeln!(md, "Served as: {}. Versions: {}.\n", peer.deployment, peer.versions);
            let _ = writeln!(
                md,
                "| operation | mode | mock-scim req/s | p50 µs | p99 µs | scim2-server req/s | p50 µs | p99 µs | ours/scim2-server |\n|---|---|---:|---:|---:|---:|---:|---:|---:|"
            );
            for row in &peer.rows {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {:.1}× |",
                    op_name(&row.op),
                    mode(row.tasks),
                    rps(row.ours.rps),
                    us(row.ours.p50_us),
                    us(row.ours.p99_us),
                    rps(row.peer.rps),
                    us(row.peer.p50_us),
                    us(row.peer.p99_us),
                    row.ratio
                );
            }
            let _ = writeln!(
                md,
                "\nMemory after {} users: scim2-server's process VmRSS {:.0} → {:.0} MiB (peak {:.0} MiB), {:.1} KiB per \
                 user; this child (mock-scim and the client) VmRSS {:.0} → {:.0} MiB, {:.1} KiB per user.\n",
                thousands(peer.users as u64),
                peer.peer_rss_start_mib,
                peer.peer_rss_end_mib,
                peer.peer_hwm_mib,
                (peer.peer_rss_end_mib - peer.peer_rss_start_mib) * 1024.0 / peer.users as f64,
                peer.ours_rss_start_mib,
                peer.ours_rss_end_mib,
                (peer.ours_rss_end_mib - peer.ours_rss_start_mib) * 1024.0 / peer.users as f64,
            );
        }
        other => {
            let _ = writeln!(md, "| operation | mode | result |\n|---|---|---|");
            for (op, tasks) in [(CREATE, 1), (FILTER, 1), (CREATE, CONCURRENCY), (FILTER, CONCURRENCY)] {
                let _ = writeln!(md, "| {} | {} | {} |", op_name(op), mode(tasks), not_measured(other));
            }
            md.push('\n');
        }
    }
}

pub fn engine_section(md: &mut String, report: &Report) {
    let _ = writeln!(md, "## 4. The provisioning engine\n");
    let _ = writeln!(
        md,
        "Each scale in its own child: mock-graph seeded through `POST /_admin/seed` (every group assigned to the \
         AWS app, so its direct members are in scope), the AWS job pointed at a mock-scim in the same process and \
         started, then `POST /_admin/clock/advance {{\"by\":\"PT1M\"}}` runs the initial cycle and is timed, then \
         {} × `{{\"by\":\"PT40M\"}}` each run one incremental cycle with nothing changed (the first right after the \
         initial cycle: **next**; the others after the floor was measured again). Checked: the cycle succeeded, \
         nothing escrowed, mock-scim holds exactly the in-scope users, every group and every membership, and the \
         no-change cycles wrote nothing. **ours/floor** is the cycle's wall time per SCIM request over the \
         sequential floor's mean for the same mix of reads and writes (measured before and after, pooled): 1 would \
         be an engine that costs nothing beyond its round trips. **Entra** is Microsoft's estimate for the same scope, \
         {}–{} minutes per object in scope (users + groups + memberships; entra-provisioning.md §8); its \
         incremental cycles are \"within 10 minutes\", usually ≤ 30 (§8.2).\n",
        report.plan.incremental_cycles, MICROSOFT_MINUTES_PER_OBJECT.0, MICROSOFT_MINUTES_PER_OBJECT.1
    );
    match &report.switch {
        ExportSwitch::Present { default } => {
            let _ = writeln!(
                md,
                "`exportConcurrency` (mock-graph switch, `PATCH /_admin/switches`): each scale at 1 and at the default, {default}.\n"
            );
        }
        ExportSwitch::Absent { note } => {
            let _ = writeln!(
                md,
                "`exportConcurrency`: **not measured at its default** — mock-graph has no such switch yet ({}), so \
                 every scale ran once, with the engine as it is, which exports one request at a time (N = 1).\n",
                cell(note)
            );
        }
    }
    let _ = writeln!(md, "![The engine's initial cycle against users]({PLOT_DIR}/{ENGINE_PLOT})\n");
    let _ = writeln!(
        md,
        "| users | groups × members | objects in scope | exportConcurrency | initial cycle | SCIM requests (writes) | µs per request | ours/floor | Entra's estimate | ours/Entra | next no-change cycle | later no-change cycles |\n|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for (shape, label, outcome) in &report.engine {
        let head = format!(
            "| {} | {} × {} | {} | {label} |",
            thousands(shape.users as u64),
            thousands(shape.groups as u64),
            thousands(shape.members as u64),
            thousands(shape.objects() as u64)
        );
        match outcome {
            Outcome::Measured(run) => {
                let per_request = run.initial_s * 1e6 / run.scim_requests.max(1) as f64;
                let (low, high) = shape.microsoft_estimate_seconds();
                let later: Vec<String> = run.incremental_ms.iter().skip(1).map(|ms| format!("{ms:.1}")).collect();
                let _ = writeln!(
                    md,
                    "{head} {} | {} ({}) | {:.0} | {:.2}× | {}–{} | 1/{}–1/{} | {} | {} |",
                    human(run.initial_s),
                    thousands(run.scim_requests),
                    thousands(run.scim_writes),
                    per_request,
                    per_request / run.floor_us_per_request,
                    human(low),
                    human(high),
                    thousands((low / run.initial_s).round() as u64),
                    thousands((high / run.initial_s).round() as u64),
                    run.incremental_ms.first().map_or_else(|| "-".to_owned(), |ms| format!("{ms:.1} ms")),
                    if later.is_empty() { "-".to_owned() } else { format!("{} ms", later.join(", ")) },
                );
            }
            other => {
                let _ = writeln!(md, "{head} {} | | | | | | | |", not_measured(other));
            }
        }
    }
    md.push('\n');
    for (_, label, outcome) in &report.engine {
        if let Outcome::Measured(run) = outcome {
            let _ = writeln!(
                md,
                "- {} users, exportConcurrency {label}: seeded in {:.1} s; floor {:.0} µs per request for this mix; no-change cycles wrote {}; {}.",
                thousands(run.users as u64),
                run.seed_s,
                run.floor_us_per_request,
                run.incremental_writes,
                run.verified
            );
        }
    }
    md.push('\n');
}

pub fn graph_section(md: &mut String, report: &Report) {
    const PROBE_PERIOD_MS: u128 = PROBE_PERIOD.as_millis();
    let _ = writeln!(md, "## 5. Graph while a cycle runs, and Graph's lists\n");
    let _ = writeln!(
        md,
        "While the largest initial cycle runs, a thread of the same process, with its own runtime and client, sends \
         `GET /v1.0/users?$top=1` to the same mock-graph every {} ms (each answer checked: 200, one user). Each is timed from when it was \
         sent and from when it was due: ticks missed while a request waits fire at once afterwards, so a stall \
         counts for every request it held up, as it would for a client sending every {} ms whatever happened (no \
         coordinated omission); the target is judged on that one. *Idle* is {} of them back to back just before \
         the cycle.\n",
        PROBE_PERIOD_MS, PROBE_PERIOD_MS, IDLE_PROBES
    );
    let _ = writeln!(
        md,
        "| users | exportConcurrency | idle p50 / p99 ms | during, from due: p50 / p99 / max ms | during, from sent: p50 / p99 / max ms | requests during |\n|---:|---|---:|---:|---:|---:|"
    );
    for (shape, label, outcome) in &report.engine {
        match outcome {
            Outcome::Measured(EngineRun { probe: Some(probe), .. }) => {
                let _ = writeln!(
                    md,
                    "| {} | {label} | {:.2} / {:.2} | {:.2} / {:.2} / {:.1} | {:.2} / {:.2} / {:.1} | {} |",
                    thousands(shape.users as u64),
                    probe.idle.p50_ms,
                    probe.idle.p99_ms,
                    probe.during_from_due.p50_ms,
                    probe.during_from_due.p99_ms,
                    probe.during_from_due.max_ms,
                    probe.during.p50_ms,
                    probe.during.p99_ms,
                    probe.during.max_ms,
                    probe.during.count
                );
            }
            Outcome::Measured(_) => {}
            other if shape.users == report.plan.engine_shapes.iter().map(|s| s.users).max().unwrap_or(0) => {
                let _ = writeln!(md, "| {} | {label} | {} | | | |", thousands(shape.users as u64), not_measured(other));
            }
            _ => {}
        }
    }
    md.push('\n');
    let _ = writeln!(
        md,
        "Graph's own reads at {} users (the same directory as the engine's): `GET /v1.0/users?$top=999` following \
         `@odata.nextLink` to the end, and a full `GET /v1.0/users/delta` round to its deltaLink; each walk must \
         return every seeded user exactly once. Time is the sum of the page latencies (client-side parsing \
         excluded), median of the walks; **ours/floor** is a full page's p50 over a floor `GET /` p50 (measured \
         before each walk, as many as its pages).\n",
        thousands(report.plan.lists_shape.users as u64)
    );
    match &report.lists {
        Outcome::Measured(lists) => {
            let _ = writeln!(
                md,
                "| read | pages | walks | one walk | page p50 µs | page p99 µs | floor GET p50 µs | ours/floor (page p50) | bytes |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
            );
            for walked in [&lists.list, &lists.delta] {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {:.1} ms | {} | {} | {:.0} | {:.1}× | {} |",
                    walked.what,
                    walked.pages,
                    walked.walks,
                    walked.total_ms,
                    us(walked.page_p50_us),
                    us(walked.page_p99_us),
                    lists.floor_get_p50_us,
                    walked.page_p50_us / lists.floor_get_p50_us,
                    thousands(walked.bytes as u64)
                );
            }
        }
        other => {
            let _ = writeln!(md, "{}", not_measured(other));
        }
    }
    md.push('\n');
}

pub fn memory_section(md: &mut String, report: &Report) {
    let _ = writeln!(md, "## 6. Memory\n");
    let _ = writeln!(
        md,
        "Peak RSS is `VmHWM` from `/proc/self/status` of each part's own child process (everything in it: mocks, \
         engine, client, floor). mock-scim's KiB per object is the RSS seeding added over the objects seeded \
         (users + groups + memberships), while its peak also holds what the load created and mock-scim's journal \
         (the last 100,000 exchanges with their bodies, its default); the engine's is the peak over the RSS before seeding, per object in \
         scope, which both mocks then hold (Graph's directory and AWS's copy), with the engine's links, the \
         provisioning logs and mock-scim's journal{}.\n",
        if report.engine.iter().any(|(s, _, _)| s.users >= 100_000) {
            " (10,000 exchanges from 100k users on)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        md,
        "| part | users | objects | RSS before | RSS after seeding | peak (VmHWM) | KiB per object |\n|---|---:|---:|---:|---:|---:|---:|"
    );
    for (users, outcome) in &report.scim {
        if let Outcome::Measured(scale) = outcome {
            let _ = writeln!(
                md,
                "| mock-scim (store seeded in memory) | {} | {} | {:.0} MiB | {:.0} MiB | {:.0} MiB | {:.2} |",
                thousands(*users as u64),
                thousands(scale.objects() as u64),
                scale.rss_before_mib,
                scale.rss_seeded_mib,
                scale.hwm_mib,
                (scale.rss_seeded_mib - scale.rss_before_mib) * 1024.0 / scale.objects() as f64
            );
        }
    }
    for (shape, label, outcome) in &report.engine {
        if let Outcome::Measured(run) = outcome {
            let _ = writeln!(
                md,
                "| engine, exportConcurrency {label} (both mocks) | {} | {} | {:.0} MiB | - | {:.0} MiB | {:.2} |",
                thousands(shape.users as u64),
                thousands(shape.objects() as u64),
                run.rss_before_mib,
                run.hwm_mib,
                (run.hwm_mib - run.rss_before_mib) * 1024.0 / shape.objects() as f64
            );
        }
    }
    if let Outcome::Measured(lists) = &report.lists {
        let _ = writeln!(
            md,
            "| Graph lists (mock-graph, client) | {} | {} | - | - | {:.0} MiB | - |",
            thousands(lists.users as u64),
            thousands(report.plan.lists_shape.objects() as u64),
            lists.hwm_mib
        );
    }
    if let Outcome::Measured(peer) = &report.peer {
        let _ = writeln!(
            md,
            "| scim2-server's process (after the workload) | {} | {} | {:.0} MiB | {:.0} MiB | {:.0} MiB | {:.2} |",
            thousands(peer.users as u64),
            thousands(peer.users as u64),
            peer.peer_rss_start_mib,
            peer.peer_rss_end_mib,
            peer.peer_hwm_mib,
            (peer.peer_rss_end_mib - peer.peer_rss_start_mib) * 1024.0 / peer.users as f64
        );
    }
    md.push('\n');
}
