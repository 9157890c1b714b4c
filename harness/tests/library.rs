//! The scenario library as tests: every file under `scenarios/` is its own test case (so
//! `cargo nextest run --partition` shards the library), the corpus of invalid files with their exact
//! messages, and the CLI's output and exit codes.

use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::{Arguments, Failed, Trial};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

fn library_trials() -> Vec<Trial> {
    let files = harness::load::find(&[workspace().join("scenarios")]).unwrap_or_default();
    files
        .into_iter()
        .map(|path| {
            let name = path.strip_prefix(workspace()).unwrap_or(&path).display().to_string();
            Trial::test(format!("library::{name}"), move || {
                let loaded = harness::load::load(std::slice::from_ref(&path)).map_err(|problems| {
                    Failed::from(problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))
                })?;
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .map_err(|e| Failed::from(e.to_string()))?;
                let result = runtime.block_on(harness::runner::run(&loaded[0].scenario));
                if !result.passed() {
                    return Err(Failed::from(result.failures.join("\n")));
                }
                let file = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                // A regression of the concurrent determinism law runs again one export at a time:
                // the logs must be the same, and the journals in their canonical order.
                if file.starts_with("determinism_concurrent_") {
                    let mut one_at_a_time = loaded[0].scenario.clone();
                    one_at_a_time.entra.switches.insert("exportConcurrency".into(), toml::Value::Integer(1));
                    let again = runtime.block_on(harness::runner::run(&one_at_a_time));
                    if again.canonical_record() != result.canonical_record() {
                        return Err(Failed::from(
                            "one export at a time gave other provisioning logs or another journal (sorted within a cycle)",
                        ));
                    }
                // A regression of the determinism law runs twice: the records must be the same.
                } else if file.starts_with("determinism_") {
                    let again = runtime.block_on(harness::runner::run(&loaded[0].scenario));
                    if again.record != result.record {
                        return Err(Failed::from("two runs gave different provisioning logs or journals"));
                    }
                }
                Ok(())
            })
        })
        .collect()
}

/// Each `invalid/NAME.toml` is refused with exactly the lines of `invalid/NAME.expected`.
fn invalid_trials() -> Vec<Trial> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
            Trial::test(format!("invalid::{name}"), move || {
                let text = std::fs::read_to_string(&path).map_err(|e| Failed::from(e.to_string()))?;
                let expected = std::fs::read_to_string(path.with_extension("expected"))
                    .map_err(|e| Failed::from(format!("missing .expected: {e}")))?;
                let problems = match scenarios::scenario::Scenario::parse(&format!("{name}.toml"), &text) {
                    Ok(_) => return Err(Failed::from("the file was accepted")),
                    Err(err) => err.problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
                };
                if problems.trim() == expected.trim() {
                    Ok(())
                } else {
                    Err(Failed::from(format!("expected:\n{}\nactual:\n{problems}", expected.trim())))
                }
            })
        })
        .collect()
}

fn harness_command(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .current_dir(workspace())
        .output()
        .expect("the harness binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn cli_trials() -> Vec<Trial> {
    vec![
        Trial::test("cli::run_passes_a_good_scenario_with_exit_0_and_a_summary", || {
            let (code, out, err) = harness_command(&["run", "scenarios/library/00_seed_story.toml"]);
            if code != 0 || !out.contains("PASS  seed story") || !out.contains("1 passed, 0 failed") {
                return Err(Failed::from(format!("exit {code}\n{out}\n{err}")));
            }
            Ok(())
        }),
        Trial::test("cli::an_invalid_file_is_refused_whole_with_exit_2", || {
            let (code, out, err) = harness_command(&[
                "run",
                "harness/tests/invalid/unknown_user.toml",
                "scenarios/library/00_seed_story.toml",
            ]);
            if code != 2 || !out.is_empty() || !err.contains("nothing was run") || !err.contains("did you mean") {
                return Err(Failed::from(format!("exit {code}\nstdout: {out}\nstderr: {err}")));
            }
            Ok(())
        }),
        Trial::test("cli::a_failing_scenario_exits_1_with_its_explanation", || {
            let (code, out, err) = harness_command(&["run", "harness/tests/failing/expects_administrator.toml"]);
            if code != 1
                || !out.contains("FAIL")
                || !out.contains("AWS groups differ")
                || !out.contains("SystemForCrossDomainIdentityManagementBadRequest")
            {
                return Err(Failed::from(format!("exit {code}\n{out}\n{err}")));
            }
            Ok(())
        }),
        Trial::test("cli::json_and_junit_reports_are_written", || {
            let dir = std::env::temp_dir().join(format!("harness-cli-{}", std::process::id()));
            std::fs::create_dir_all(&dir).map_err(|e| Failed::from(e.to_string()))?;
            let json_path = dir.join("report.json");
            let junit_path = dir.join("report.xml");
            let (code, _, err) = harness_command(&[
                "run",
                "scenarios/library/00_seed_story.toml",
                "--format",
                "json",
                "--out",
                json_path.to_str().unwrap_or_default(),
            ]);
            let json: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap_or_default())
                    .map_err(|e| Failed::from(format!("{e}; {err}")))?;
            if code != 0 || json["passed"] != 1 || json["scenarios"][0]["failures"] != serde_json::json!([]) {
                return Err(Failed::from(format!("exit {code}: {json}")));
            }
            let (code, _, _) = harness_command(&[
                "run",
                "scenarios/library/00_seed_story.toml",
                "--format",
                "junit",
                "--out",
                junit_path.to_str().unwrap_or_default(),
            ]);
            let xml = std::fs::read_to_string(&junit_path).unwrap_or_default();
            if code != 0 || !xml.contains("<testsuite name=\"scenarios\" tests=\"1\" failures=\"0\"") {
                return Err(Failed::from(format!("exit {code}: {xml}")));
            }
            Ok(())
        }),
        Trial::test("cli::check_validates_the_library_without_running_it", || {
            let (code, out, err) = harness_command(&["check"]);
            if code != 0 || !out.contains("no problems") {
                return Err(Failed::from(format!("exit {code}\n{out}\n{err}")));
            }
            let (code, _, _) = harness_command(&["check", "no/such/folder"]);
            if code != 2 {
                return Err(Failed::from(format!("a missing folder exits {code}")));
            }
            Ok(())
        }),
        Trial::test("cli::run_against_running_mocks_resets_them_between_scenarios", || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| Failed::from(e.to_string()))?;
            let (graph, scim) =
                runtime.block_on(async { (mock_graph::MockGraph::start().await, mock_scim::MockScim::start().await) });
            let args = [
                "run".to_owned(),
                "scenarios/library/00_seed_story.toml".to_owned(),
                "scenarios/library/25_idempotence.toml".to_owned(),
                "--graph".to_owned(),
                graph.uri(),
                "--scim".to_owned(),
                scim.uri(),
                "--graph-admin-token".to_owned(),
                graph.admin_token().to_owned(),
                "--scim-admin-token".to_owned(),
                scim.admin_token().to_owned(),
                "--client-secret".to_owned(),
                "mock-graph-client-secret".to_owned(),
            ];
            let output = runtime.block_on(async move {
                tokio::task::spawn_blocking(move || {
                    Command::new(env!("CARGO_BIN_EXE_harness")).args(&args).current_dir(workspace()).output()
                })
                .await
            });
            let output = output.map_err(|e| Failed::from(e.to_string()))?.map_err(|e| Failed::from(e.to_string()))?;
            let out = String::from_utf8_lossy(&output.stdout);
            if output.status.code() != Some(0) || !out.contains("2 passed, 0 failed") {
                return Err(Failed::from(format!(
                    "{:?}\n{out}\n{}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr)
                )));
            }
            drop((graph, scim));
            Ok(())
        }),
        Trial::test("cli::generate_writes_a_scenario_that_runs", || {
            let path = std::env::temp_dir().join(format!("generated-{}.toml", std::process::id()));
            let (code, _, err) = harness_command(&[
                "generate",
                "--users",
                "30",
                "--groups",
                "3",
                "--members-per-group",
                "10",
                "--seed",
                "7",
                "--out",
                path.to_str().unwrap_or_default(),
            ]);
            if code != 0 {
                return Err(Failed::from(format!("generate exit {code}: {err}")));
            }
            let (code, out, err) = harness_command(&["run", path.to_str().unwrap_or_default()]);
            if code != 0 || !out.contains("1 passed, 0 failed") {
                return Err(Failed::from(format!("exit {code}\n{out}\n{err}")));
            }
            let (code, _, _) = harness_command(&["generate", "--users", "3", "--members-per-group", "5"]);
            if code != 2 { Err(Failed::from(format!("impossible shape exits {code}"))) } else { Ok(()) }
        }),
        Trial::test("cli::usage_errors_exit_2", || {
            let (code, _, _) = harness_command(&["run", "--format", "yaml"]);
            if code != 2 { Err(Failed::from(format!("exit {code}"))) } else { Ok(()) }
        }),
    ]
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = library_trials();
    trials.extend(invalid_trials());
    trials.extend(cli_trials());
    libtest_mimic::run(&args, trials).exit();
}
