//! The laws against an external engine (`harness laws --engine`): the example sync tool
//! (examples/engines/flatten_sync.py) holds every law that applies to an engine, and the same tool
//! broken on purpose (`FLATTEN_SYNC_NO_RETRY=1`: it gives up on the first 429 or 5xx) breaks
//! `nothing_lost_under_faults`, whose regression scenario carries the `[engine]` table and replays
//! the failure with `harness run`, and passes once the tool retries again.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The example tool's command, its script's path absolute so that any folder can run it.
fn engine() -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/engines/flatten_sync.py");
    format!("python3 {}", script.display())
}

/// An empty folder of this test's own beside the build.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    dir
}

fn harness(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> (i32, String) {
    let Output { status, stdout, stderr } = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(cwd)
        .args(args)
        .env_remove("FLATTEN_SYNC_NO_RETRY")
        .envs(env.iter().copied())
        .output()
        .expect("the harness runs");
    let text = format!("{}{}", String::from_utf8_lossy(&stdout), String::from_utf8_lossy(&stderr));
    (status.code().unwrap_or(-1), text)
}

#[test]
fn the_example_engine_holds_every_law_that_applies_to_an_engine() {
    let dir = scratch("laws_engine_holds");
    let engine = engine();
    // Regressions go to scenarios/regressions/ under the current folder by default.
    let (code, out) = harness(&["laws", "--engine", &engine, "--cases", "4"], &dir, &[]);
    assert_eq!(code, 0, "{out}");
    for law in harness::laws::LAWS.iter().filter(|law| law.applies_to_engines()) {
        assert!(out.contains(&format!("pass {} (4 cases tried)", law.name)), "{}: {out}", law.name);
    }
    assert!(!out.contains("determinism_concurrent"), "not a law of engines: {out}");
    assert!(!dir.join("scenarios").exists(), "no regression written");
}

#[test]
fn the_example_engine_without_retries_breaks_nothing_lost_and_its_regression_replays_it() {
    let dir = scratch("laws_engine_no_retry");
    let engine = engine();
    let regressions = dir.join("regressions");
    let no_retry = [("FLATTEN_SYNC_NO_RETRY", "1"), ("PROPTEST_MAX_SHRINK_ITERS", "16")];
    let (code, out) = harness(
        &[
            "laws",
            "--engine",
            &engine,
            "--law",
            "nothing_lost_under_faults",
            "--cases",
            "4",
            "--regressions",
            regressions.to_str().expect("a UTF-8 path"),
        ],
        &dir,
        &no_retry,
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL nothing_lost_under_faults: "), "{out}");
    let written = out
        .lines()
        .find_map(|line| line.strip_prefix("  regression: "))
        .unwrap_or_else(|| panic!("the regression's path: {out}"));
    let written = Path::new(written);
    assert_eq!(written.parent(), Some(regressions.as_path()));
    let name = written.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    assert!(name.starts_with("nothing_lost_engine_") && name.ends_with(".toml"), "{name}");
    let text = std::fs::read_to_string(written).expect("the regression file");
    let command = format!("[engine]\ncommand = [\"python3\", {:?}]", engine.trim_start_matches("python3 "));
    assert!(text.contains(&command), "{text}");

    let file = written.to_str().expect("a UTF-8 path");
    // The file replays the failure on its own, and with the engine given again.
    for args in [vec!["run", file], vec!["run", file, "--engine", &engine]] {
        let (code, out) = harness(&args, &dir, &no_retry);
        assert_eq!(code, 1, "{args:?} without retries: {out}");
        let (code, out) = harness(&args, &dir, &[]);
        assert_eq!(code, 0, "{args:?} with retries: {out}");
    }
}
