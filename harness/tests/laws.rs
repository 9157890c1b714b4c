//! The laws of sync, one test each, run by the library ([`harness::laws`]): each case a scenario
//! whose expectations come from a model of AWS's rules; a failing case is shrunk and written to
//! `scenarios/regressions/`, where it becomes a permanent test of the library, and its seed to
//! `harness/proptest-regressions/{law}.txt`, where it is tried first.
//!
//! Cases are capped for CI (`PROPTEST_CASES` raises them for deep runs), and drawn from a fixed
//! seed so that CI is deterministic; `PROPTEST_RNG_SEED=N` explores other cases.

use std::path::PathBuf;

/// Runs the law of that name; a broken law is a panic naming its regression file.
fn check(name: &str) {
    let law = harness::laws::law(name).unwrap_or_else(|| panic!("no law {name}"));
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let options = harness::laws::Options {
        persistence: Some(manifest.join("proptest-regressions")),
        records: PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
        ..harness::laws::Options::new(manifest.join("../scenarios/regressions"))
    };
    let report = harness::laws::check(law, &options);
    eprintln!("law {}: {} cases tried", law.name, report.tried);
    if let Some(broken) = report.broken {
        let written = broken.regression.map_or_else(|| "not written".to_owned(), |p| p.display().to_string());
        panic!(
            "law {} broken ({}); the shrunk case is written to {written}:\n{}",
            law.name, law.statement, broken.reason
        );
    }
}

/// Convergence: once faults stop, after a bounded number of cycles the AWS state equals the
/// projection of the in-scope directory through the mappings, minus exactly the objects AWS's rules
/// refuse, and each refused object has a failure entry in the provisioning logs naming why.
#[test]
fn convergence() {
    check("convergence");
}

/// Isolation: one object's failure never prevents another object's success.
#[test]
fn isolation() {
    check("isolation");
}

/// No collateral damage: objects in AWS that the job does not manage are never changed.
#[test]
fn no_collateral_damage() {
    check("no_collateral_damage");
}

/// Idempotence: a cycle after convergence sends no write to AWS.
#[test]
fn idempotence() {
    check("idempotence");
}

/// Nothing lost under faults: every change made in the directory during a fault storm reaches AWS
/// once the storm ends.
#[test]
fn nothing_lost_under_faults() {
    check("nothing_lost_under_faults");
}

/// Order safety: a group exists before members are added to it; no membership points at a missing
/// user.
#[test]
fn order_safety() {
    check("order_safety");
}

/// Determinism: the same seed gives byte-identical provisioning logs and journals.
#[test]
fn determinism() {
    check("determinism");
}

/// Determinism at every `exportConcurrency`: the same seed gives byte-identical provisioning logs
/// and the same AWS journal in its canonical order (sorted within a cycle: concurrent requests
/// arrive in any order) one export at a time and N at a time. Cases have no faults: a fault that
/// counts requests makes the runner send one at a time (the `scenarios` crate doc).
#[test]
fn determinism_concurrent() {
    check("determinism_concurrent");
}
