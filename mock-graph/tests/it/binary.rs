//! The `mock-graph` binary, as a newcomer runs it: a token from its printed endpoint, then Graph.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_issues_tokens_and_serves_graph() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-graph"))
        .args(["--listen", "127.0.0.1:0", "--admin-token", "t", "--client-secret", "s3cret", "--client-id", "app-1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    // The reader lives as long as the child, so its later lines find an open pipe.
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    let base = first
        .strip_prefix("mock-graph listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    let printed: Vec<String> = lines.by_ref().take(3).map(Result::unwrap).collect();
    assert!(printed.iter().all(|line| !line.contains("s3cret")), "a chosen secret is not echoed: {printed:?}");
    let client = reqwest::Client::new();
    let token: Value = client
        .post(format!("{base}/contoso.onmicrosoft.com/oauth2/v2.0/token"))
        .form(&[
            ("client_id", "app-1"),
            ("client_secret", "s3cret"),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap();
    let created = client
        .post(format!("{base}/v1.0/groups"))
        .bearer_auth(token)
        .json(&json!({"displayName": "SRE", "mailEnabled": false, "mailNickname": "sre", "securityEnabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let health = client.get(format!("{base}/_admin/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    drop(running);
    drop(lines);
}
