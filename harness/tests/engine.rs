//! An external engine under the harness: the example sync tool (examples/engines/flatten_sync.py,
//! Python's standard library only) passes its scenarios, and the same tool broken on purpose (no
//! retries) is caught by the scenario that throttles it, with the engine's own words in the report.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf()
}

fn run(extra_env: &[(&str, &str)]) -> (i32, String) {
    let root = workspace();
    let output = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(&root)
        .args(["run", "--format", "json", "--engine", "python3 examples/engines/flatten_sync.py"])
        .arg("examples/engines/scenarios")
        .envs(extra_env.iter().copied())
        .output()
        .expect("the harness runs");
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn the_example_engine_passes_and_its_broken_variant_is_caught() {
    let (code, report) = run(&[]);
    assert_eq!(code, 0, "{report}");
    let report: serde_json::Value = serde_json::from_str(&report).expect("a JSON report");
    assert_eq!(report["passed"], 2);
    let nested = &report["scenarios"][0];
    // AWS refuses the reserved name: the tool says so and exits 1, which the report keeps.
    assert_eq!(nested["engineRuns"][0]["exitCode"], 1, "{nested}");
    assert!(nested["engineRuns"][0]["stderr"].as_str().unwrap().contains("group Administrator: 400"));

    let (code, report) = run(&[("FLATTEN_SYNC_NO_RETRY", "1")]);
    assert_eq!(code, 1, "a failed expectation: {report}");
    let report: serde_json::Value = serde_json::from_str(&report).expect("a JSON report");
    let throttled =
        report["scenarios"].as_array().unwrap().iter().find(|s| s["passed"] == false).expect("one scenario fails");
    assert_eq!(throttled["name"], "external engine: nothing lost when AWS throttles");
    assert!(throttled["failures"][0].as_str().unwrap().contains("AWS group 'SRE' members differ"), "{throttled}");
    assert!(throttled["engineRuns"][0]["stderr"].as_str().unwrap().contains("429"));
}

#[test]
fn steps_only_entras_service_has_are_refused_for_an_engine_before_anything_runs() {
    let output = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(workspace())
        .args(["run", "--engine", "python3 examples/engines/flatten_sync.py", "scenarios/library/00_seed_story.toml"])
        .output()
        .expect("the harness runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("00_seed_story.toml:45: steps[5]: `start` is a step of Entra's provisioning service"),
        "{stderr}"
    );
    assert!(stderr.contains("steps[7].log: Entra's provisioning logs"), "{stderr}");
}
