//! The laws of sync, as property tests over random directories, assignments, edits and fault
//! storms (`harness laws`, and one test each in `harness/tests/laws.rs`). Each case is written as a
//! scenario (the format of `scenarios/`) whose expectations come from a model of AWS's rules; when
//! a law fails, the shrunk case is written as a regression scenario and becomes a permanent test.
//!
//! Cases are capped ([`Law::default_cases`]; `PROPTEST_CASES` or [`Options::cases`] raise them) and
//! drawn from a fixed seed, 2026, so that CI is deterministic (`PROPTEST_RNG_SEED` or
//! [`Options::seed`] explore others). Shrinking runs whole scenarios, up to 1024 of them
//! (`PROPTEST_MAX_SHRINK_ITERS` sets another bound).
//!
//! # Layout
//! - `strategy`: the random cases: users, groups, assignments, storms, edits.
//! - `model`: what AWS holds after each cycle, and the case written out as a scenario.
//!
//! # Against an external engine
//! With [`Options::engine`], each case runs against a sync tool of one's own
//! ([`crate::engine`]): the scenario gets an `[engine]` table, no `start` step, no expectations on
//! Entra's provisioning logs, and the regression file (`{law}_engine_{case}.toml`) replays it with
//! `harness run FILE`. The model is of Entra's semantics, and a tool is free to differ where those
//! are not the contract, so an engine's cases hold only what every sync tool must agree on: users
//! enabled, with a surname and a UPN of the tenant (Entra leaves disabled users out, refuses a
//! missing surname and rewrites a guest's `#EXT#` UPN; another tool may not); no nested groups
//! (Entra does not flatten them, the example tool does); no case-only duplicate group names
//! (which of the two wins is the tool's call); edits that only add (a member, a user's assignment)
//! and advances, since a tool may deprovision by disabling or by deleting and rename by id or by
//! name; no step of Entra's service (provision on demand, pause, start, restart, and so the
//! token's expiry, which needs a restart); storms of at most three 429, 5xx or dropped requests,
//! no timeouts. AWS's own refusals stay: a reserved group name, a userName past 128 characters.
//!
//! Which laws apply to an engine, and how:
//! - `convergence`, `isolation`, `no_collateral_damage`, `idempotence`, `order_safety`,
//!   `determinism`: as for Entra, over an engine's cases.
//! - `nothing_lost_under_faults`: a storm of at most three 429 or 5xx answers, and AWS's state is
//!   checked after the first cycle and after the one that takes the users created during it: a
//!   tool must retry within the cycle (Entra's law lets a storm of six cost cycles).
//! - `determinism_concurrent`: not at all; `exportConcurrency` is a switch of Entra's service.
//!
//! [`check`] runs a law and never panics: a broken law is a [`Report`] with a [`Broken`]. It builds
//! its own runtime, so it must not be called from within one.

mod model;
mod strategy;

use std::cell::Cell;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, RngSeed, TestCaseError, TestError, TestRunner};
use scenarios::scenario::{Engine, Scenario};

use model::Spec;
use strategy::{Case, Fault, Shape, Storm, Target, case_strategy};

/// A law of sync.
#[derive(Debug, Clone, Copy)]
pub struct Law {
    /// Its name: its test's, and what `harness laws --law` takes.
    pub name: &'static str,
    /// What it says, of Entra's service.
    pub statement: &'static str,
    /// What it says of an external engine; `None` when it does not apply to one.
    pub engine_statement: Option<&'static str>,
    /// Cases tried unless told otherwise: CI's cap.
    pub default_cases: u32,
    /// The prefix of its regression files and of its proptest persistence file.
    pub file_prefix: &'static str,
    /// Whether its expectations include AWS's whole state.
    checks_state: bool,
}

/// Every law, in the order `harness laws` runs them.
pub const LAWS: &[Law] = &[
    Law {
        name: "convergence",
        statement: "once faults stop, AWS holds exactly the in-scope directory minus what AWS refuses, each \
                    refusal logged; after any administrator's edits it converges again",
        engine_statement: Some(
            "once faults stop, AWS holds exactly the in-scope directory minus what AWS refuses; after an \
             administrator's additions it converges again",
        ),
        default_cases: 32,
        file_prefix: "convergence",
        checks_state: true,
    },
    Law {
        name: "isolation",
        statement: "in the first cycle, every object AWS accepts is created although others are refused",
        engine_statement: Some("in the first cycle, every object AWS accepts is created although others are refused"),
        default_cases: 32,
        file_prefix: "isolation",
        checks_state: true,
    },
    Law {
        name: "no_collateral_damage",
        statement: "users and groups made by hand in AWS are never written to, whatever the job does",
        engine_statement: Some("users and groups made by hand in AWS are never written to, whatever the tool does"),
        default_cases: 32,
        file_prefix: "no_collateral_damage",
        checks_state: false,
    },
    Law {
        name: "idempotence",
        statement: "a cycle after convergence sends no write",
        engine_statement: Some("a cycle after convergence sends no write"),
        default_cases: 32,
        file_prefix: "idempotence",
        checks_state: true,
    },
    Law {
        name: "nothing_lost_under_faults",
        statement: "users created and assigned during a fault storm reach AWS once it ends",
        engine_statement: Some(
            "a few 429 and 5xx answers cost nothing: after each cycle AWS holds what it would without them",
        ),
        default_cases: 32,
        file_prefix: "nothing_lost",
        checks_state: true,
    },
    Law {
        name: "order_safety",
        statement: "AWS never receives a write to a group that does not exist, nor a member that is not a user",
        engine_statement: Some(
            "AWS never receives a write to a group that does not exist, nor a member that is not a user",
        ),
        default_cases: 32,
        file_prefix: "order_safety",
        checks_state: false,
    },
    Law {
        name: "determinism",
        statement: "the same seed gives byte-identical provisioning logs and journals",
        engine_statement: Some("the same seed gives byte-identical journals"),
        default_cases: 8,
        file_prefix: "determinism",
        checks_state: true,
    },
    Law {
        name: "determinism_concurrent",
        statement: "the same seed gives byte-identical provisioning logs, and the same journal sorted within a \
                    cycle, one export at a time and many at once",
        engine_statement: None,
        default_cases: 16,
        file_prefix: "determinism_concurrent",
        checks_state: true,
    },
];

/// The law of that name.
pub fn law(name: &str) -> Option<&'static Law> {
    LAWS.iter().find(|law| law.name == name)
}

impl Law {
    /// Whether it applies to an external engine.
    pub fn applies_to_engines(&self) -> bool {
        self.engine_statement.is_some()
    }

    fn spec<'a>(&self, engine: Option<&'a Engine>) -> Spec<'a> {
        let statement = match engine {
            Some(_) => self.engine_statement.unwrap_or(self.statement),
            None => self.statement,
        };
        Spec { name: self.file_prefix, statement, checks_state: self.checks_state, engine }
    }

    /// The law's cases.
    fn strategy(&self, engine: bool) -> BoxedStrategy<Case> {
        let shape = |late, edits, faults| Shape { late, edits, faults, engine };
        match self.name {
            // An engine's cases rarely hold a refusal beside an acceptance, and each costs the
            // tool's start-up, so they are drawn until they do (Entra's keep the cases they had).
            "isolation" if engine => case_strategy(shape(false, false, false))
                .prop_filter("a refusal beside an acceptance", isolates)
                .boxed(),
            "isolation" => case_strategy(shape(false, false, false)).boxed(),
            "no_collateral_damage" => case_strategy(shape(false, true, true))
                .prop_map(|mut case| {
                    case.by_hand = (case.by_hand.0.max(1), case.by_hand.1.max(1));
                    case
                })
                .boxed(),
            "nothing_lost_under_faults" => case_strategy(shape(true, false, true))
                .prop_map(move |mut case| {
                    if engine {
                        // Storms a tool rides out within the cycle: three answers at most, no drops.
                        let fault = case.fault.unwrap_or(Fault {
                            storm: Storm::Status(503),
                            target: Target::UserCreates,
                            count: 3,
                        });
                        let storm = if matches!(fault.storm, Storm::Drop) { Storm::Status(503) } else { fault.storm };
                        case.fault = Some(Fault { storm, ..fault });
                    } else {
                        let fault = case.fault.unwrap_or(Fault {
                            storm: Storm::Status(503),
                            target: Target::UserCreates,
                            count: 6,
                        });
                        case.fault = Some(Fault { count: 6, ..fault });
                    }
                    case
                })
                .boxed(),
            "order_safety" => case_strategy(shape(true, true, true)).boxed(),
            // Timeouts are real time on the engine's side: whether the timeout or AWS's hang-up
            // comes first is the scheduler's call, and the log's wording follows it.
            "determinism" => case_strategy(shape(false, true, true))
                .prop_filter("no timeouts", |case| !matches!(case.fault, Some(Fault { storm: Storm::Timeout, .. })))
                .boxed(),
            "determinism_concurrent" => (case_strategy(shape(true, true, false)), 2usize..=16)
                .prop_map(|(mut case, concurrency)| {
                    case.concurrency = concurrency;
                    case
                })
                .boxed(),
            // convergence and idempotence
            _ => case_strategy(shape(false, true, true)).boxed(),
        }
    }

    /// Whether the law speaks of a case; the others pass untried.
    fn applies(&self, case: &Case) -> bool {
        match self.name {
            "isolation" => isolates(case),
            // Refused objects are retried every cycle, so the law speaks of directories AWS fully
            // accepts.
            "idempotence" => case.end_state().refused.is_empty(),
            "order_safety" => !case.groups.is_empty(),
            _ => true,
        }
    }
}

/// Whether AWS refuses an object of the case's first cycle and accepts another: what isolation
/// speaks of.
fn isolates(case: &Case) -> bool {
    let aws = case.first_cycle();
    let accepted = !aws.users.is_empty() || !aws.groups.is_empty();
    !aws.refused.is_empty() && accepted
}

/// How to run a law.
#[derive(Debug, Clone)]
pub struct Options {
    /// Cases to try; by default `PROPTEST_CASES`, or else the law's [`Law::default_cases`].
    pub cases: Option<u32>,
    /// The seed cases are drawn from; by default `PROPTEST_RNG_SEED`, or else 2026.
    pub seed: Option<u64>,
    /// An external engine in place of Entra's service; only laws that
    /// [apply to engines](Law::applies_to_engines) run against it.
    pub engine: Option<Engine>,
    /// Where a failing case is written as a scenario.
    pub regressions: PathBuf,
    /// Where failing seeds are kept (`{prefix}.txt`) and tried first; none when `None`.
    pub persistence: Option<PathBuf>,
    /// Where the determinism laws leave both records of a case whose two runs differ.
    pub records: PathBuf,
}

impl Options {
    /// The defaults: cases and seed from the environment or the law, no engine, no persistence,
    /// records in the system's temporary folder.
    pub fn new(regressions: impl Into<PathBuf>) -> Options {
        Options {
            cases: None,
            seed: None,
            engine: None,
            regressions: regressions.into(),
            persistence: None,
            records: std::env::temp_dir(),
        }
    }
}

/// What came of running a law.
#[derive(Debug, Clone)]
pub struct Report {
    /// The law's name.
    pub law: &'static str,
    /// Its statement, as it applies (to Entra's service or to an engine).
    pub statement: &'static str,
    /// The cases it spoke of (others pass untried).
    pub tried: u32,
    /// Why it is broken, if it is.
    pub broken: Option<Broken>,
}

/// A broken law.
#[derive(Debug, Clone)]
pub struct Broken {
    /// The failures of the (shrunk) case, or why the law could not run.
    pub reason: String,
    /// The regression scenario written for the shrunk case; `None` when none could be (the
    /// reason says why).
    pub regression: Option<PathBuf>,
}

impl Report {
    /// Whether the law held.
    pub fn passed(&self) -> bool {
        self.broken.is_none()
    }
}

/// Runs a law, each case as a scenario on its own in-process mocks; on failure the shrunk case is
/// written as a regression scenario in [`Options::regressions`].
pub fn check(law: &Law, options: &Options) -> Report {
    let engine = options.engine.as_ref();
    let spec = law.spec(engine);
    let report = |tried, broken| Report { law: law.name, statement: spec.statement, tried, broken };
    if engine.is_some() && !law.applies_to_engines() {
        let reason = format!("the law {} does not apply to an external engine", law.name);
        return report(0, Some(Broken { reason, regression: None }));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => return report(0, Some(Broken { reason: format!("no async runtime: {err}"), regression: None })),
    };
    let mut runner = TestRunner::new(config(law, options));
    let tried = Cell::new(0u32);
    let strategy = law.strategy(engine.is_some());
    let outcome = runner.run(&strategy, |case| {
        if !law.applies(&case) {
            return Ok(());
        }
        tried.set(tried.get() + 1);
        run_case(law, spec, &case, &runtime, &options.records)
    });
    let broken = match outcome {
        Ok(()) => None,
        Err(TestError::Fail(reason, case)) => Some(match write_regression(&options.regressions, spec, &case) {
            Ok(path) => Broken { reason: reason.to_string(), regression: Some(path) },
            Err(err) => Broken {
                reason: format!("{reason}\n(the regression file could not be written: {err})"),
                regression: None,
            },
        }),
        Err(TestError::Abort(reason)) => Some(Broken { reason: format!("aborted: {reason}"), regression: None }),
    };
    report(tried.get(), broken)
}

/// One case of a law.
fn run_case(
    law: &Law,
    spec: Spec<'_>,
    case: &Case,
    runtime: &tokio::runtime::Runtime,
    records: &Path,
) -> Result<(), TestCaseError> {
    let text = case.scenario(spec);
    let scenario = Scenario::parse("generated.toml", &text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
    match law.name {
        "determinism" => {
            let first = runtime.block_on(crate::runner::run(&scenario));
            let second = runtime.block_on(crate::runner::run(&scenario));
            if first.record != second.record {
                let dir = records.join(format!("determinism_{}", case.id()));
                return Err(differ(&dir, ("first", &first.record), ("second", &second.record), "two runs".into()));
            }
            prop_assert_eq!(first.failures, second.failures);
            Ok(())
        }
        "determinism_concurrent" => {
            let mut at_one = scenario.clone();
            at_one.entra.switches.insert("exportConcurrency".into(), toml::Value::Integer(1));
            let one = runtime.block_on(crate::runner::run(&at_one));
            let many = runtime.block_on(crate::runner::run(&scenario));
            let (one_record, many_record) = (one.canonical_record(), many.canonical_record());
            if one_record != many_record {
                let dir = records.join(format!("determinism_concurrent_{}", case.id()));
                let what = format!("one at a time and {} at a time", case.concurrency);
                let n = case.concurrency.to_string();
                return Err(differ(&dir, ("one", &one_record), (&n, &many_record), what));
            }
            prop_assert_eq!(one.failures, many.failures);
            Ok(())
        }
        _ => {
            let result = runtime.block_on(crate::runner::run(&scenario));
            if result.passed() { Ok(()) } else { Err(TestCaseError::fail(result.failures.join("\n"))) }
        }
    }
}

/// Two records that should be the same: both go to `dir` for a diff; the failure shows the first
/// difference.
fn differ(dir: &Path, (a_name, a): (&str, &str), (b_name, b): (&str, &str), what: String) -> TestCaseError {
    let _ = std::fs::create_dir_all(dir);
    let _ = std::fs::write(dir.join(format!("{a_name}.jsonl")), a);
    let _ = std::fs::write(dir.join(format!("{b_name}.jsonl")), b);
    let line = a.lines().zip(b.lines()).position(|(x, y)| x != y).unwrap_or(0);
    TestCaseError::fail(format!(
        "{what} differ from line {} on (both records in {}):\n  {}\n  {}",
        line + 1,
        dir.display(),
        a.lines().nth(line).unwrap_or_default(),
        b.lines().nth(line).unwrap_or_default()
    ))
}

/// The runner's configuration: the cases and seed asked for, else the environment's, else the
/// law's cap and 2026; failing seeds kept in `{persistence}/{prefix}.txt` and tried first.
fn config(law: &Law, options: &Options) -> Config {
    let from_env = Config::default();
    let set = |name| std::env::var_os(name).is_some();
    let cases = options.cases.unwrap_or(if set("PROPTEST_CASES") { from_env.cases } else { law.default_cases });
    let rng_seed = match options.seed {
        Some(seed) => RngSeed::Fixed(seed),
        None if set("PROPTEST_RNG_SEED") => from_env.rng_seed,
        None => RngSeed::Fixed(2026),
    };
    let failure_persistence = options.persistence.as_ref().map(|dir| {
        let file = dir.join(format!("{}.txt", law.file_prefix)).display().to_string();
        // proptest wants a `&'static str`: one small string per law run.
        Box::new(FileFailurePersistence::Direct(Box::leak(file.into_boxed_str())))
            as Box<dyn proptest::test_runner::FailurePersistence>
    });
    Config {
        cases,
        rng_seed,
        failure_persistence,
        // Shrinking runs whole scenarios; the default (four per case) stops it short of a minimal case.
        max_shrink_iters: if set("PROPTEST_MAX_SHRINK_ITERS") { from_env.max_shrink_iters } else { 1024 },
        ..from_env
    }
}

/// Writes a failing case as a scenario: `{prefix}_{case}.toml`, `{prefix}_engine_{case}.toml`
/// against an engine; returns its path.
fn write_regression(dir: &Path, spec: Spec<'_>, case: &Case) -> Result<PathBuf, String> {
    let infix = if spec.engine.is_some() { "_engine" } else { "" };
    let path = dir.join(format!("{}{infix}_{}.toml", spec.name, case.id()));
    std::fs::create_dir_all(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
    std::fs::write(&path, case.scenario(spec)).map_err(|err| format!("{}: {err}", path.display()))?;
    Ok(path)
}
