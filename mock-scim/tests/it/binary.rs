//! The `mock-scim` binary, as a newcomer runs it: the seed's story through a tenant made over the
//! admin API.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::support::Running;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_the_seed_story_through_an_admin_made_tenant() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-scim"))
        .args(["--listen", "127.0.0.1:0", "--admin-token", "t", "--seed", "1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    // The reader lives as long as the child, so its later lines find an open pipe.
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    let base =
        first.strip_prefix("mock-scim listening on ").unwrap_or_else(|| panic!("unexpected first line: {first}"));
    let client = reqwest::Client::new();

    let health = client.get(format!("{base}/_admin/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let tenant: Value =
        client.post(format!("{base}/_admin/tenants")).bearer_auth("t").send().await.unwrap().json().await.unwrap();
    let endpoint = tenant["scimEndpoint"].as_str().unwrap().to_owned();
    let token = tenant["accessToken"].as_str().unwrap().to_owned();
    let post = |path: &str, body: Value| {
        client
            .post(format!("{endpoint}{path}"))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
    };

    let sre = post("Groups", json!({"displayName": "SRE"})).await.unwrap();
    assert_eq!(sre.status(), 201);
    let administrator = post("Groups", json!({"displayName": "Administrator"})).await.unwrap();
    assert_eq!(administrator.status(), 400);
    let annie = json!({"userName": "annie@contoso.com", "displayName": "Annie", "name": {"givenName": "Annie", "familyName": "Easley"},
        "emails": [{"value": "annie@contoso.com", "type": "work", "primary": true}]});
    assert_eq!(post("Users", annie.clone()).await.unwrap().status(), 201);
    let mut no_surname = annie.clone();
    no_surname["userName"] = json!("cher@contoso.com");
    no_surname["emails"][0]["value"] = json!("cher@contoso.com");
    no_surname["name"].as_object_mut().unwrap().remove("familyName");
    assert_eq!(post("Users", no_surname).await.unwrap().status(), 400);
    let duplicate = post("Users", annie).await.unwrap();
    assert_eq!(duplicate.status(), 409);
    assert!(duplicate.headers().contains_key("x-amzn-requestid"));
    let body: Value = duplicate.json().await.unwrap();
    let keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["schema", "schemas", "detail", "status", "exceptionRequestId", "timeStamp"]);
    assert_eq!(body["detail"], "Refused to create a new, duplicate resource.");
    drop(running);
    drop(lines);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_logged_under_rust_log_without_their_secrets() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-scim"))
        .args(["--listen", "127.0.0.1:0", "--admin-token", "t", "--seed", "1"])
        .env("RUST_LOG", "tower_http=info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut running = Running(child);
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    let base = first.strip_prefix("mock-scim listening on ").unwrap().to_owned();
    let client = reqwest::Client::new();
    let tenant: Value =
        client.post(format!("{base}/_admin/tenants")).bearer_auth("t").send().await.unwrap().json().await.unwrap();
    let endpoint = tenant["scimEndpoint"].as_str().unwrap().to_owned();
    let token = tenant["accessToken"].as_str().unwrap().to_owned();
    let refused = client
        .post(format!("{endpoint}Users?access_token=marker-in-query"))
        .bearer_auth(&token)
        .header("content-type", "application/scim+json")
        .body(json!({"userName": "x@contoso.com", "password": "marker-in-body"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    running.0.kill().unwrap();
    running.0.wait().unwrap();
    let logged: Vec<String> = BufReader::new(stderr).lines().map_while(Result::ok).collect();
    let logged = logged.join("\n");
    assert!(logged.contains("method=POST path=/"), "{logged}");
    assert!(logged.contains("/scim/v2/Users}") && logged.contains("status=400"), "{logged}");
    for secret in ["marker-in-query", "marker-in-body", token.as_str(), "Bearer"] {
        assert!(!logged.contains(secret), "{secret} logged: {logged}");
    }
}
