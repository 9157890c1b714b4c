//! One command that measures everything side by side and writes `BENCHMARKS.md` with SVG plots.
//!
//! In one run, each part in its own child process (this binary with `--part=…`, so each peak RSS is
//! that part's own and one part's garbage does not slow the next):
//!
//! 1. **floor**: an axum hello-world in-process, `reqwest` `GET` and ~600-byte JSON echo `POST`,
//!    sequential and 16 concurrent;
//! 2. **mock-scim** at 1k / 10k / 100k users: sequential `POST /Users`, `GET /Users?filter=userName
//!    eq "…"`, a 100-member `PATCH /Groups/{id}`, and create at 16 concurrent, each right after the
//!    floor's matching load (ratios are to that floor);
//! 3. **scim2-server** (PyPI, pinned in `benches/requirements.txt`, venv in `target/bench-venv`) served
//!    as its ASGI app under uvicorn, on the same create and filter workload as mock-scim, sequential
//!    and 16 concurrent; unavailable (pip, Python, the server) is reported, not fatal;
//! 4. **the engine**: the initial cycle through mock-graph's `POST /_admin/clock/advance` at 1k (100 ×
//!    10), 10k (1,000 × 50) and 100k users (100 × 1,000), then no-change incremental cycles; at
//!    `exportConcurrency` 1 and the default (8 as well when the default is 1) when mock-graph has that
//!    switch, else as the engine is;
//!    Entra's documented estimate (entra-provisioning.md §8) beside each row;
//! 5. **Graph**: `GET /v1.0/users?$top=1` every ~10 ms while the largest initial cycle runs (p50/p99),
//!    and `GET /users?$top=999` paging and a full `/users/delta` round at 10k;
//! 6. **memory**: VmHWM of each child, and RSS per object.
//!
//! Then it writes `BENCHMARKS.md` (tables, ratios, the targets of issue 12 as PASS/MISS, never
//! asserted) and `docs/bench/*.svg`. Every response is checked (statuses all, bodies sampled); a
//! wrong answer fails its part loudly, the report says so, and the command exits 1.
//!
//! ```text
//! cargo bench -p harness --bench report                    # everything; writes ./BENCHMARKS.md
//! cargo bench -p harness --bench report -- --quick         # smoke run: 1k only, scim2-server 500 ops
//! cargo bench -p harness --bench report -- --out DIR       # write DIR/BENCHMARKS.md, DIR/docs/bench/
//! ```
//!
//! # Layout
//! - `throughput`: parts 1 and 2 (floor, mock-scim);
//! - `peer`: part 3 (the venv, scim2-server's process, the shared workload);
//! - `engine`: parts 4 and 5 (cycles, the Graph probe, Graph lists);
//! - `results`: what a child reports, and running a child;
//! - `markdown`, `sections`, `plot`: the report (machine, targets), its sections, its SVGs.
//!
//! The loads, the floor and the cycle set-up are shared with the mocks' own benches, in
//! `bench-support/` at the workspace root.

#[path = "../../../bench-support/common.rs"]
mod common;
#[path = "../../../bench-support/graph.rs"]
mod graph;
#[path = "../../../bench-support/load.rs"]
mod load;
#[path = "../../../bench-support/scim.rs"]
mod scim;
#[path = "../../../bench-support/sync.rs"]
mod sync;

mod engine;
mod markdown;
mod peer;
mod plot;
mod results;
mod sections;
mod throughput;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use engine::ExportSwitch;
use results::{Outcome, emit, run_child};
use sync::Shape;

/// Sizes of one run.
#[derive(Debug, Clone, Copy)]
struct Plan {
    quick: bool,
    /// Requests that open connections and warm code paths before each part measures.
    warmup: usize,
    /// Runs per row where a row is a median (floor and mock-scim).
    reps: usize,
    floor_seq: usize,
    floor_x16: usize,
    scim_scales: &'static [usize],
    create_seq: usize,
    filter_seq: usize,
    patch_seq: usize,
    create_x16: usize,
    /// Requests of each of scim2-server's four loads (and mock-scim's beside them).
    peer_ops: usize,
    engine_shapes: &'static [Shape],
    /// Sequential floor requests of each kind, before and after a timed cycle.
    engine_floor: usize,
    engine_floor_warmup: usize,
    /// No-change incremental cycles after each initial cycle; the first is "the next".
    incremental_cycles: usize,
    lists_shape: Shape,
    list_walks: usize,
}

const SHAPE_1K: Shape = Shape { users: 1_000, groups: 100, members: 10 };
const SHAPE_10K: Shape = Shape { users: 10_000, groups: 1_000, members: 50 };
const SHAPE_100K: Shape = Shape { users: 100_000, groups: 100, members: 1_000 };

const FULL: Plan = Plan {
    quick: false,
    warmup: 300,
    reps: 3,
    floor_seq: 3_000,
    floor_x16: 20_000,
    scim_scales: &[1_000, 10_000, 100_000],
    create_seq: 3_000,
    filter_seq: 5_000,
    patch_seq: 1_000,
    create_x16: 10_000,
    peer_ops: 5_000,
    engine_shapes: &[SHAPE_1K, SHAPE_10K, SHAPE_100K],
    engine_floor: 1_000,
    engine_floor_warmup: 300,
    incremental_cycles: 3,
    lists_shape: SHAPE_10K,
    list_walks: 3,
};

const QUICK: Plan = Plan {
    quick: true,
    warmup: 100,
    reps: 1,
    floor_seq: 500,
    floor_x16: 2_000,
    scim_scales: &[1_000],
    create_seq: 500,
    filter_seq: 500,
    patch_seq: 200,
    create_x16: 2_000,
    peer_ops: 500,
    engine_shapes: &[SHAPE_1K],
    engine_floor: 300,
    engine_floor_warmup: 100,
    incremental_cycles: 3,
    lists_shape: SHAPE_1K,
    list_walks: 1,
};

/// The command line: the parent's options, and a child's part.
#[derive(Debug, Default)]
struct Args {
    quick: bool,
    out: Option<PathBuf>,
    part: Option<String>,
    users: usize,
    groups: usize,
    members: usize,
    concurrency: Option<usize>,
    probe: bool,
    python: Option<PathBuf>,
}

impl Args {
    fn parse() -> Result<Args, String> {
        let mut args = Args::default();
        let mut words = std::env::args().skip(1);
        while let Some(word) = words.next() {
            let (key, inline) = match word.split_once('=') {
                Some((key, value)) => (key.to_owned(), Some(value.to_owned())),
                None => (word.clone(), None),
            };
            let number = |value: Option<String>| -> Result<usize, String> {
                value.as_deref().unwrap_or("").parse().map_err(|_| format!("{key} takes a number"))
            };
            match key.as_str() {
                "--quick" => args.quick = true,
                "--out" => {
                    let value = inline.or_else(|| words.next()).ok_or("--out takes a directory")?;
                    args.out = Some(PathBuf::from(value));
                }
                "--part" => args.part = inline,
                "--users" => args.users = number(inline)?,
                "--groups" => args.groups = number(inline)?,
                "--members" => args.members = number(inline)?,
                "--concurrency" => args.concurrency = Some(number(inline)?),
                "--probe" => args.probe = true,
                "--python" => args.python = inline.map(PathBuf::from),
                // `cargo bench` passes `--bench`; a name filter does not apply here.
                _ => {}
            }
        }
        Ok(args)
    }

    fn shape(&self) -> Shape {
        Shape { users: self.users, groups: self.groups, members: self.members }
    }
}

fn main() -> ExitCode {
    let args = match Args::parse() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    let plan = if args.quick { QUICK } else { FULL };
    match &args.part {
        Some(part) => child(part, &args, &plan),
        None => parent(&args, &plan),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime")
}

/// A child: measures one part and prints its result; a wrong answer panics (exit 101).
fn child(part: &str, args: &Args, plan: &Plan) -> ExitCode {
    let runtime = runtime();
    match part {
        "floor" => emit(&Outcome::Measured(runtime.block_on(throughput::floor(plan)))),
        "scim" => emit(&Outcome::Measured(runtime.block_on(throughput::scim_scale(plan, args.users)))),
        "peer" => {
            let python = args.python.clone().expect("--python");
            emit(&runtime.block_on(peer::peer(plan, &python)));
        }
        "engine" => {
            emit(&Outcome::Measured(runtime.block_on(engine::engine(plan, args.shape(), args.concurrency, args.probe))))
        }
        "lists" => emit(&Outcome::Measured(runtime.block_on(engine::lists(plan, args.shape())))),
        other => {
            eprintln!("error: unknown part {other:?}");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

/// `target/`, from this binary's path (`target/release/deps/report-…`), whatever `CARGO_TARGET_DIR` said.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("path of this benchmark");
    exe.ancestors().nth(3).map_or_else(|| PathBuf::from("target"), Path::to_path_buf)
}

/// The parent: runs every part as a child, in order, then writes the report.
fn parent(args: &Args, plan: &Plan) -> ExitCode {
    let started = Instant::now();
    let machine = markdown::Machine::now();
    let out = args.out.clone().unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
    let out = std::fs::canonicalize(&out).unwrap_or(out);
    eprintln!("report ({} run) → {}", if plan.quick { "quick" } else { "full" }, out.join("BENCHMARKS.md").display());
    let common = |part: &str| {
        let mut words = vec![format!("--part={part}")];
        if plan.quick {
            words.push("--quick".to_owned());
        }
        words
    };
    let shape_args = |shape: Shape| {
        [
            format!("--users={}", shape.users),
            format!("--groups={}", shape.groups),
            format!("--members={}", shape.members),
        ]
    };

    let floor = run_child(&common("floor"));
    let scim = plan
        .scim_scales
        .iter()
        .map(|&users| {
            let mut words = common("scim");
            words.push(format!("--users={users}"));
            (users, run_child(&words))
        })
        .collect();
    let peer = match peer::setup_venv(&target_dir()) {
        Ok(python) => {
            let mut words = common("peer");
            words.push(format!("--python={}", python.display()));
            run_child(&words)
        }
        Err(reason) => {
            eprintln!("scim2-server unavailable: {reason}");
            Outcome::Unavailable(reason)
        }
    };

    let switch = runtime().block_on(engine::export_switch());
    let variants: Vec<(Option<usize>, String)> = match &switch {
        // One at a time is the default (nothing says Entra sends requests at once); 8 shows what
        // lanes in parallel buy on this machine.
        ExportSwitch::Present { default: 1 } => {
            vec![(Some(1), "1, the default".to_owned()), (Some(8), "8".to_owned())]
        }
        ExportSwitch::Present { default } => {
            vec![(Some(1), "1".to_owned()), (Some(*default), format!("{default}, the default"))]
        }
        ExportSwitch::Absent { note } => {
            eprintln!("exportConcurrency: no such switch ({note}); the engine runs as it is, N = 1");
            vec![(None, "1, no switch".to_owned())]
        }
    };
    let largest = plan.engine_shapes.iter().map(|s| s.users).max().unwrap_or(0);
    let mut engine = Vec::new();
    for &shape in plan.engine_shapes {
        for (concurrency, label) in &variants {
            let mut words = common("engine");
            words.extend(shape_args(shape));
            if let Some(n) = concurrency {
                words.push(format!("--concurrency={n}"));
            }
            if shape.users == largest {
                words.push("--probe".to_owned());
            }
            let outcome = match run_child::<results::EngineRun>(&words) {
                Outcome::Measured(mut run) => {
                    run.label = label.clone();
                    Outcome::Measured(run)
                }
                other => other,
            };
            engine.push((shape, label.clone(), outcome));
        }
    }
    let mut words = common("lists");
    words.extend(shape_args(plan.lists_shape));
    let lists = run_child(&words);

    let report = markdown::Report {
        plan: *plan,
        machine,
        total_s: started.elapsed().as_secs_f64(),
        floor,
        scim,
        peer,
        switch,
        engine,
        lists,
    };
    let failed = report.failures();
    match markdown::write(&out, &report) {
        Ok(written) => {
            for path in written {
                eprintln!("wrote {}", path.display());
            }
        }
        Err(err) => {
            eprintln!("error: writing the report: {err}");
            return ExitCode::FAILURE;
        }
    }
    println!("{}", report.summary());
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        for failure in failed {
            eprintln!("FAILED: {failure}");
        }
        ExitCode::FAILURE
    }
}
