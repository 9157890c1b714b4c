//! A secret planted everywhere a scenario run can carry one — the Secret Token pasted into the job,
//! a password sent to AWS, the client secret the harness gets its Graph token with — appears in
//! nothing the run leaves: standard output and error at the most verbose log level, the human, JSON
//! and JUnit reports, the HTML report, both mocks' journals (JSON and JSON Lines) and mock-graph's
//! admin dumps. The expectations fail on purpose, so that the reports carry their misses, AWS's
//! state and the exchanges behind them.

mod support;

use std::path::Path;
use std::process::Command;

use mock_graph::MockGraph;
use mock_scim::MockScim;

/// The secret: distinctive enough that any copy of it, whole, is found.
const MARKER: &str = "Plant3d-S3cret-7f9c2e41b8";

const SCENARIO: &str = r#"
name = "a secret planted everywhere"
seed = 5
assignments = ["annie@contoso.onmicrosoft.com"]

[[directory.users]]
upn = "annie@contoso.onmicrosoft.com"
given_name = "Annie"
surname = "Easley"

[[steps]]
action = "configure"
token = "MARKER"

[[steps]]
action = "test_connection"
expect = "failure"

[[steps]]
action = "aws_request"
method = "POST"
path = "Users"
body = { schemas = ["urn:ietf:params:scim:schemas:core:2.0:User"], userName = "pat@example.com", displayName = "Pat", name = { givenName = "Pat", familyName = "T" }, password = "MARKER" }
status = 400

[[steps]]
action = "configure"

[[steps]]
action = "start"

[[steps]]
action = "advance"
by = "PT40M"

[[steps]]
action = "expect"
aws_users = ["nobody@contoso.onmicrosoft.com"]
"#;

/// Where in `text` the marker is, as `what: …context…` lines.
fn leaks(what: &str, text: &str) -> Vec<String> {
    text.match_indices(MARKER)
        .map(|(at, _)| {
            let context = &text.as_bytes()[at.saturating_sub(60)..(at + MARKER.len() + 60).min(text.len())];
            format!("{what}: …{}…", String::from_utf8_lossy(context))
        })
        .collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// Runs the scenario in each report format, with the HTML report and every log at `trace`; what
/// leaked where.
fn run(dir: &Path, name: &str, extra: &[&str]) -> Vec<String> {
    let scenario = dir.join(format!("{name}.toml"));
    std::fs::write(&scenario, SCENARIO.replace("MARKER", MARKER)).unwrap();
    let html = dir.join(format!("{name}.html"));
    let mut found = Vec::new();
    for format in ["human", "json", "junit"] {
        let output = Command::new(env!("CARGO_BIN_EXE_harness"))
            .current_dir(support::workspace())
            .env("RUST_LOG", "trace")
            .args(["run", scenario.to_str().unwrap(), "--format", format, "--report", html.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert_eq!(output.status.code(), Some(1), "the expectation fails on purpose ({format}): {stdout}\n{stderr}");
        assert!(stderr.contains("TRACE"), "logs were on: {stderr:.2000}");
        found.extend(leaks(&format!("{name} --format {format}, stdout"), &stdout));
        found.extend(leaks(&format!("{name} --format {format}, stderr"), &stderr));
        found.extend(leaks(&format!("{name} --format {format}, HTML report"), &read(&html)));
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn a_planted_secret_appears_in_no_output_report_log_or_journal() {
    let dir = std::env::temp_dir().join(format!("secrets-in-outputs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut found = run(&dir, "in_process", &[]);

    // Against running mocks, the harness gets its Graph token with the marker as client secret.
    let graph_admin = "graph-admin-token";
    let scim_admin = "scim-admin-token";
    let graph = MockGraph::start_with(mock_graph::Config {
        client_secret: MARKER.into(),
        admin_token: graph_admin.into(),
        ..mock_graph::Config::default()
    })
    .await
    .unwrap();
    let scim =
        MockScim::start_with(mock_scim::Config { admin_token: scim_admin.into(), ..mock_scim::Config::default() })
            .await
            .unwrap();
    let (graph_uri, scim_uri) = (graph.uri(), scim.uri());
    let running = [
        "--graph",
        &graph_uri,
        "--scim",
        &scim_uri,
        "--graph-admin-token",
        graph_admin,
        "--scim-admin-token",
        scim_admin,
        "--client-secret",
        MARKER,
    ];
    found.extend(tokio::task::block_in_place(|| run(&dir, "running", &running)));

    let http = reqwest::Client::new();
    let get = async |uri: &str, token: &str, path: &str| {
        let answer = http.get(format!("{uri}{path}")).bearer_auth(token).send().await.unwrap();
        assert!(answer.status().is_success(), "{path}: {}", answer.status());
        answer.text().await.unwrap()
    };
    for (what, uri, token) in [("mock-graph", &graph_uri, graph_admin), ("mock-scim", &scim_uri, scim_admin)] {
        let journal = get(uri, token, "/_admin/journal").await;
        // The run reached it with the marker: the token request, and a bearer it kept redacted.
        let reached = if what == "mock-graph" { "oauth2/v2.0/token" } else { "Bearer <redacted>" };
        assert!(journal.contains(reached), "{what}'s journal holds the run: {journal:.300}");
        found.extend(leaks(&format!("{what}'s journal"), &journal));
        found.extend(leaks(
            &format!("{what}'s journal, JSON Lines"),
            &get(uri, token, "/_admin/journal?format=jsonl").await,
        ));
    }
    found.extend(leaks("mock-graph's snapshot", &get(&graph_uri, graph_admin, "/_admin/directory").await));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(found.is_empty(), "the marker leaked:\n{}", found.join("\n"));
}
