//! `BENCHMARKS.md`: the machine, the targets of issue 12 as PASS/MISS, a table per part with the
//! absolute numbers and the ratios (ours/floor, ours/scim2-server, ours/Entra), and the plots.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::Plan;
use crate::engine::ExportSwitch;
use crate::plot::{self, Line};
use crate::results::{EngineRun, FloorResult, GraphLists, Outcome, PeerResult, ScimScale};
use crate::sections;
use crate::sync::Shape;
use crate::throughput::{CONCURRENCY, CREATE, FILTER, PATCH};

/// Where the plots go, under the output directory, and how BENCHMARKS.md links them.
pub const PLOT_DIR: &str = "docs/bench";
pub const SCIM_PLOT: &str = "mock-scim-throughput.svg";
pub const ENGINE_PLOT: &str = "engine-initial-cycle.svg";

// Targets of issue 12.
const TARGET_10K_INITIAL_S: f64 = 1.5;
const TARGET_100K_INITIAL_S: f64 = 15.0;
const TARGET_100K_RSS_MIB: f64 = 1024.0;
const TARGET_100K_NEXT_MS: f64 = 50.0;
const TARGET_GRAPH_P99_MS: f64 = 50.0;
const TARGET_CREATE_FLOOR: f64 = 0.8;
const TARGET_CREATE_PEER_SEQ: f64 = 20.0;
const TARGET_CREATE_PEER_X16: f64 = 100.0;

/// The machine the run was on, read when it started.
pub struct Machine {
    pub date: String,
    pub nproc: usize,
    pub cpu: String,
    pub memory: String,
    pub kernel: String,
    pub load: String,
    pub rustc: String,
    pub commit: String,
}

impl Machine {
    pub fn now() -> Machine {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let field = |text: &str, name: &str| {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_once(':'))
                .map_or_else(|| "unknown".to_owned(), |(_, v)| v.trim().to_owned())
        };
        let memory = field(&read("/proc/meminfo"), "MemTotal")
            .trim_end_matches("kB")
            .trim()
            .parse::<f64>()
            .map_or_else(|_| "unknown".to_owned(), |kb| format!("{:.1} GiB", kb / 1_048_576.0));
        let command = |program: &str, args: &[&str]| {
            std::process::Command::new(program)
                .args(args)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        };
        let commit = match command("git", &["rev-parse", "--short", "HEAD"]) {
            Some(hash) => {
                let dirty =
                    command("git", &["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
                if dirty { format!("{hash}, with uncommitted changes") } else { hash }
            }
            None => "unknown".to_owned(),
        };
        Machine {
            date: jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M UTC").to_string(),
            nproc: std::thread::available_parallelism().map_or(0, usize::from),
            cpu: field(&cpuinfo, "model name"),
            memory,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
            load: read("/proc/loadavg").split_whitespace().take(3).collect::<Vec<_>>().join(" "),
            rustc: command("rustc", &["--version"]).unwrap_or_else(|| "unknown".to_owned()),
            commit,
        }
    }
}

/// Everything one run measured.
pub struct Report {
    pub plan: Plan,
    pub machine: Machine,
    pub total_s: f64,
    pub floor: Outcome<FloorResult>,
    pub scim: Vec<(usize, Outcome<ScimScale>)>,
    pub peer: Outcome<PeerResult>,
    pub switch: ExportSwitch,
    /// (shape, exportConcurrency label, outcome).
    pub engine: Vec<(Shape, String, Outcome<EngineRun>)>,
    pub lists: Outcome<GraphLists>,
}

/// A target's line: what, the value measured, and the verdict (or why there is none).
struct Verdict {
    what: String,
    measured: String,
    verdict: String,
}

impl Report {
    /// Parts that failed, each with its message.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut note = |what: String, message: Option<&String>| {
            if let Some(message) = message {
                out.push(format!("{what}: {message}"));
            }
        };
        note("floor".to_owned(), failed(&self.floor));
        for (users, outcome) in &self.scim {
            note(format!("mock-scim at {users} users"), failed(outcome));
        }
        note("scim2-server".to_owned(), failed(&self.peer));
        for (shape, label, outcome) in &self.engine {
            note(format!("engine at {} users, exportConcurrency {label}", shape.users), failed(outcome));
        }
        note("Graph lists".to_owned(), failed(&self.lists));
        out
    }

    /// The targets as a few lines for the terminal.
    pub fn summary(&self) -> String {
        let mut out = String::from("targets (issue 12):\n");
        for target in self.targets() {
            let _ = writeln!(out, "  {:<8} {} — {}", target.verdict, target.what, target.measured);
        }
        out
    }

    fn targets(&self) -> Vec<Verdict> {
        let mut out = Vec::new();
        let quick = self.plan.quick;
        let engine_at = |users: usize| self.engine.iter().filter(move |(shape, _, _)| shape.users == users);
        let mut engine_target =
            |users: usize, what: &str, value: &dyn Fn(&EngineRun) -> Option<(f64, String)>, limit: f64| {
                let mut any = false;
                for (_, label, outcome) in engine_at(users) {
                    any = true;
                    let what = format!("{what} (exportConcurrency {label})");
                    out.push(match outcome {
                        Outcome::Measured(run) => match value(run) {
                            Some((v, shown)) => Verdict { what, measured: shown, verdict: pass(v <= limit) },
                            None => Verdict { what, measured: "not measured".to_owned(), verdict: "n/a".to_owned() },
                        },
                        other => Verdict { what, measured: not_measured(other), verdict: "n/a".to_owned() },
                    });
                }
                if !any {
                    let why = if quick { "not run (--quick)" } else { "not run" };
                    out.push(Verdict { what: what.to_owned(), measured: why.to_owned(), verdict: "n/a".to_owned() });
                }
            };
        engine_target(
            10_000,
            &format!("10k users, 1,000 groups × 50: initial cycle ≤ {TARGET_10K_INITIAL_S} s wall"),
            &|run| Some((run.initial_s, format!("{:.2} s", run.initial_s))),
            TARGET_10K_INITIAL_S,
        );
        engine_target(
            100_000,
            &format!("100k users, 100 groups × 1,000: initial cycle ≤ {TARGET_100K_INITIAL_S} s wall"),
            &|run| Some((run.initial_s, format!("{:.2} s", run.initial_s))),
            TARGET_100K_INITIAL_S,
        );
        engine_target(
            100_000,
            "100k: peak RSS ≤ 1 GiB (VmHWM of the child: both mocks, the engine, the client)",
            &|run| Some((run.hwm_mib, format!("{} MiB", thousands(run.hwm_mib.round() as u64)))),
            TARGET_100K_RSS_MIB,
        );
        engine_target(
            100_000,
            &format!("100k: next no-change cycle ≤ {TARGET_100K_NEXT_MS} ms"),
            &|run| run.incremental_ms.first().map(|ms| (*ms, format!("{ms:.1} ms"))),
            TARGET_100K_NEXT_MS,
        );
        engine_target(
            100_000,
            &format!("Graph GET /v1.0/users?$top=1 during the 100k initial cycle: p99 ≤ {TARGET_GRAPH_P99_MS} ms"),
            &|run| {
                run.probe.as_ref().map(|p| {
                    let (due, sent) = (&p.during_from_due, &p.during);
                    (
                        due.p99_ms,
                        format!(
                            "p99 {:.1} ms from when each was due (p50 {:.1}, max {:.0}; from when sent: p99 {:.1}, max {:.0}; {} requests)",
                            due.p99_ms, due.p50_ms, due.max_ms, sent.p99_ms, sent.max_ms, sent.count
                        ),
                    )
                })
            },
            TARGET_GRAPH_P99_MS,
        );
        for (users, outcome) in &self.scim {
            let what = format!(
                "mock-scim sequential create ≥ {TARGET_CREATE_FLOOR}× the floor (at {} users)",
                thousands(*users as u64)
            );
            out.push(match outcome {
                Outcome::Measured(scale) => match scale.row(CREATE, 1) {
                    Some(row) => Verdict {
                        what,
                        measured: format!(
                            "{:.2}×, median of {} floor-then-ours pairs (median req/s {} and {})",
                            row.ratio,
                            self.plan.reps,
                            rps(row.ours.rps),
                            rps(row.floor.rps)
                        ),
                        verdict: pass(row.ratio >= TARGET_CREATE_FLOOR),
                    },
                    None => Verdict { what, measured: "not measured".to_owned(), verdict: "n/a".to_owned() },
                },
                other => Verdict { what, measured: not_measured(other), verdict: "n/a".to_owned() },
            });
        }
        if quick {
            for users in [10_000, 100_000] {
                out.push(Verdict {
                    what: format!(
                        "mock-scim sequential create ≥ {TARGET_CREATE_FLOOR}× the floor (at {} users)",
                        thousands(users)
                    ),
                    measured: "not run (--quick)".to_owned(),
                    verdict: "n/a".to_owned(),
                });
            }
        }
        for (tasks, limit, what) in [
            (
                1,
                TARGET_CREATE_PEER_SEQ,
                format!("mock-scim sequential create ≥ {TARGET_CREATE_PEER_SEQ}× scim2-server"),
            ),
            (
                CONCURRENCY,
                TARGET_CREATE_PEER_X16,
                format!("mock-scim create at 16 concurrent ≥ {TARGET_CREATE_PEER_X16}× scim2-server"),
            ),
        ] {
            out.push(match &self.peer {
                Outcome::Measured(peer) => match peer.rows.iter().find(|r| r.op == CREATE && r.tasks == tasks) {
                    Some(row) => {
                        let ratio = row.ratio;
                        Verdict {
                            what,
                            measured: format!(
                                "{ratio:.1}×, median of {} pairs (median req/s {} and {})",
                                self.plan.reps,
                                rps(row.ours.rps),
                                rps(row.peer.rps)
                            ),
                            verdict: pass(ratio >= limit),
                        }
                    }
                    None => Verdict { what, measured: "not measured".to_owned(), verdict: "n/a".to_owned() },
                },
                other => Verdict { what, measured: not_measured(other), verdict: "n/a".to_owned() },
            });
        }
        out
    }
}

fn failed<T>(outcome: &Outcome<T>) -> Option<&String> {
    match outcome {
        Outcome::Failed(message) => Some(message),
        _ => None,
    }
}

fn pass(ok: bool) -> String {
    crate::common::verdict(ok).to_owned()
}

pub fn not_measured<T>(outcome: &Outcome<T>) -> String {
    match outcome {
        Outcome::Measured(_) => "measured".to_owned(),
        Outcome::Unavailable(reason) => format!("unavailable: {}", cell(reason)),
        Outcome::Failed(message) => format!("**FAILED**: {}", cell(message)),
    }
}

/// Text safe in a table cell, and not too long.
pub fn cell(text: &str) -> String {
    let flat: String = text.replace('|', "\\|").replace('\n', " ");
    if flat.chars().count() > 400 { format!("{}…", flat.chars().take(400).collect::<String>()) } else { flat }
}

/// 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A number with at most two decimals and no trailing zeros.
pub fn trim(v: f64) -> String {
    let text = format!("{v:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

pub fn rps(v: f64) -> String {
    thousands(v.round() as u64)
}

pub fn us(v: f64) -> String {
    thousands(v.round() as u64)
}

pub fn mode(tasks: usize) -> String {
    if tasks == 1 { "sequential".to_owned() } else { format!("{tasks} concurrent") }
}

/// Seconds as the largest unit that reads well: "850 ms", "12.3 s", "16 min", "2.5 h", "3.1 days".
pub fn human(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{:.0} ms", seconds * 1e3)
    } else if seconds < 120.0 {
        format!("{seconds:.1} s")
    } else if seconds < 7_200.0 {
        format!("{:.0} min", seconds / 60.0)
    } else if seconds < 172_800.0 {
        format!("{:.1} h", seconds / 3_600.0)
    } else {
        format!("{:.1} days", seconds / 86_400.0)
    }
}

/// Writes BENCHMARKS.md and the plots under `out`; returns the files written.
pub fn write(out: &Path, report: &Report) -> Result<Vec<PathBuf>, String> {
    let plots = out.join(PLOT_DIR);
    std::fs::create_dir_all(&plots).map_err(|err| format!("{}: {err}", plots.display()))?;
    let mut written = Vec::new();
    let mut plot_notes = Vec::new();
    for (name, result) in [
        (SCIM_PLOT, scim_plot(&plots.join(SCIM_PLOT), report)),
        (ENGINE_PLOT, engine_plot(&plots.join(ENGINE_PLOT), report)),
    ] {
        match result {
            Ok(()) => written.push(plots.join(name)),
            Err(err) => plot_notes.push(format!("{name} not drawn: {err}")),
        }
    }
    let text = render(report, &plot_notes);
    let path = out.join("BENCHMARKS.md");
    std::fs::write(&path, text).map_err(|err| format!("{}: {err}", path.display()))?;
    written.insert(0, path);
    Ok(written)
}

fn scim_plot(path: &Path, report: &Report) -> Result<(), String> {
    let scales: Vec<&ScimScale> = report.scim.iter().filter_map(|(_, o)| o.measured()).collect();
    let series = |op: &str, tasks: usize| -> Vec<(f64, f64)> {
        scales.iter().filter_map(|s| s.row(op, tasks).map(|r| (s.users as f64, r.ours.rps))).collect()
    };
    let mut lines = vec![
        Line { label: "create, sequential".to_owned(), color: plot::BLUE, points: series(CREATE, 1), dashed: false },
        Line { label: "filter, sequential".to_owned(), color: plot::GREEN, points: series(FILTER, 1), dashed: false },
        Line {
            label: "PATCH +100 members, sequential".to_owned(),
            color: plot::PURPLE,
            points: series(PATCH, 1),
            dashed: false,
        },
        Line {
            label: "create, 16 concurrent".to_owned(),
            color: plot::VERMILION,
            points: series(CREATE, CONCURRENCY),
            dashed: false,
        },
    ];
    if let Some(floor) = report.floor.measured() {
        for (what, tasks, color) in
            [("GET", 1, plot::GREY), ("POST echo", 1, plot::DARK), ("POST echo", CONCURRENCY, plot::ORANGE)]
        {
            if let Some((_, _, rate)) = floor.rows.iter().find(|(w, t, _)| w == what && *t == tasks) {
                lines.push(Line {
                    label: format!("floor {what}, {}", mode(tasks)),
                    color,
                    points: vec![(700.0, rate.rps), (150_000.0, rate.rps)],
                    dashed: true,
                });
            }
        }
    }
    plot::plot(path, "mock-scim: requests per second against users in the store", "requests/s", &lines, false)
}

fn engine_plot(path: &Path, report: &Report) -> Result<(), String> {
    let mut labels: Vec<&String> = Vec::new();
    for (_, label, _) in &report.engine {
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    let colors = [plot::BLUE, plot::VERMILION, plot::GREEN, plot::PURPLE];
    let mut lines: Vec<Line> = labels
        .iter()
        .enumerate()
        .map(|(i, label)| Line {
            label: format!("initial cycle, exportConcurrency {label}"),
            color: colors[i % colors.len()],
            points: report
                .engine
                .iter()
                .filter(|(_, l, _)| l == *label)
                .filter_map(|(shape, _, o)| o.measured().map(|run| (shape.users as f64, run.initial_s)))
                .collect(),
            dashed: false,
        })
        .collect();
    lines.push(Line {
        label: "issue 12's targets (1.5 s at 10k, 15 s at 100k)".to_owned(),
        color: plot::GREY,
        points: vec![(10_000.0, TARGET_10K_INITIAL_S), (100_000.0, TARGET_100K_INITIAL_S)],
        dashed: true,
    });
    plot::plot(path, "The engine's initial cycle: wall time against users", "seconds", &lines, true)
}

fn render(report: &Report, plot_notes: &[String]) -> String {
    let mut md = String::new();
    let plan = &report.plan;
    let machine = &report.machine;
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(
        md,
        "Written by `cargo bench -p harness --bench report{}` (harness/benches/report/); every number here comes from that one run, \
         each part in its own child process. Absolute numbers depend on the machine and on what else ran on it: \
         quote the ratios, each to a reference measured in the same run (`shared/reference/performance-anchors.md`).\n",
        if plan.quick { " -- --quick" } else { "" },
    );
    if plan.quick {
        let _ = writeln!(
            md,
            "**Quick run**: 1k users only, few requests, scim2-server {} requests per load: a smoke run, not numbers to quote.\n",
            plan.peer_ops
        );
    }
    let _ = writeln!(md, "| | |\n|---|---|");
    let _ = writeln!(md, "| date | {} |", machine.date);
    let _ = writeln!(
        md,
        "| machine | {} CPUs (`nproc`), {}, {} RAM, Linux {} |",
        machine.nproc, machine.cpu, machine.memory, machine.kernel
    );
    let _ = writeln!(md, "| load average when the run started | {} |", machine.load);
    let _ = writeln!(md, "| toolchain | {}, release profile |", machine.rustc);
    let _ = writeln!(md, "| tree | {} |", machine.commit);
    let _ = writeln!(md, "| run | {}, {} in all |\n", if plan.quick { "quick" } else { "full" }, human(report.total_s));

    let _ = writeln!(md, "## Targets (issue 12)\n");
    let _ = writeln!(md, "Printed, never asserted.\n");
    let _ = writeln!(md, "| target | measured | verdict |\n|---|---|---|");
    for target in report.targets() {
        let _ = writeln!(md, "| {} | {} | {} |", target.what, target.measured, target.verdict);
    }
    md.push('\n');

    sections::floor_section(&mut md, report);
    sections::scim_section(&mut md, report);
    sections::peer_section(&mut md, report);
    sections::engine_section(&mut md, report);
    sections::graph_section(&mut md, report);
    sections::memory_section(&mut md, report);
    for note in plot_notes {
        let _ = writeln!(md, "*{note}*\n");
    }
    md
}
