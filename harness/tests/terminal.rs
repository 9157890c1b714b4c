//! What `harness run` says, as a user reads it: `--filter` on names and paths in any case, a line on
//! stderr per scenario as it ends when piped, exit 2 with the plain cause when a mock cannot be
//! reached, a hint when expectations fail and no cycle ran, JSON failures as data with their line,
//! and JUnit messages that carry the first failure.

use std::path::PathBuf;

mod support;
use support::{harness, workspace};

/// The seed story with its `start` step taken out: the job never runs.
fn without_start() -> PathBuf {
    let text = std::fs::read_to_string(workspace().join("scenarios/library/00_seed_story.toml")).unwrap();
    let text = text.replacen("[[steps]]\naction = \"start\"\n", "", 1);
    let path = std::env::temp_dir().join(format!("terminal-no-start-{}.toml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn filter_matches_names_and_paths_in_any_case_and_each_scenario_is_a_line_when_piped() {
    let (code, out, err) = harness(&["run", "scenarios/library", "--filter", "SEED STORY"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("PASS  seed story: Administrator is refused"), "{out}");
    assert!(err.contains("[1/1] pass seed story: Administrator is refused, SRE succeeds ("), "{err}");
    let (code, out, _) = harness(&["run", "scenarios/library", "--filter", "00_SEED"]);
    assert_eq!(code, 0);
    assert!(out.contains("scenarios: 1 passed"), "{out}");
    let (code, _, err) = harness(&["run", "scenarios/library", "--filter", "no such scenario"]);
    assert_eq!(code, 2);
    assert!(err.contains("no scenario name or path contains"), "{err}");
}

#[test]
fn an_unreachable_mock_is_exit_2_with_connection_refused() {
    let (code, out, err) = harness(&[
        "run",
        "scenarios/library/00_seed_story.toml",
        "--graph",
        "http://127.0.0.1:9",
        "--scim",
        "http://127.0.0.1:9",
        "--graph-admin-token",
        "a",
        "--scim-admin-token",
        "b",
        "--client-secret",
        "c",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("setup: ") && out.contains("connection refused"), "{out}");
}

#[test]
fn expectations_that_fail_before_any_cycle_say_why_none_ran() {
    let file = without_start();
    let (code, out, _) = harness(&["run", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("hint: no provisioning cycle has run yet: the job was never started"), "{out}");

    let (_, json, _) = harness(&["run", file.to_str().unwrap(), "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let miss = &report["scenarios"][0]["misses"][0];
    assert_eq!(miss["step"], "steps[6] (expect)", "{miss:#}");
    assert_eq!(miss["line"], 50, "the expect step's line in the file: {miss:#}");
    assert_eq!(miss["what"], "aws_users", "{miss:#}");
    assert!(miss["expected"].as_str().unwrap().contains("annie@contoso.onmicrosoft.com"), "{miss:#}");

    let (_, junit, _) = harness(&["run", file.to_str().unwrap(), "--format", "junit"]);
    let first = report["scenarios"][0]["failures"][0].as_str().unwrap().lines().next().unwrap().to_owned();
    assert!(junit.contains(&format!("<failure message=\"{}", harness::report::xml_escape(&first))), "{junit}");
    assert!(junit.contains("more)\">"), "and how many more: {junit}");
    let _ = std::fs::remove_file(file);
}
