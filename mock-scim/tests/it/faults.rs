//! Faults from the `scenarios` fault plan, and the journal.

use axum::http::{Method, StatusCode, header};
use mock_scim::MockScim;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn a_status_fault_answers_429_with_retry_after_then_lets_requests_through() {
    let mock = Mock::new();
    let plan = json!({"rules": [{"method": "POST", "path": "/*/scim/v2/Users", "nth": {"from": 1, "to": 2}, "action": {"kind": "status", "status": 429, "retryAfter": 3}}]});
    assert_eq!(mock.admin(Method::PUT, "/_admin/faults", Some(plan)).await.status, StatusCode::OK);
    for _ in 0..2 {
        let answer = mock.scim(Method::POST, "Users", Some(user("a@contoso.com"))).await;
        assert_error(&answer, 429, "Too many requests exceeded the limits.");
        assert_eq!(answer.headers[header::RETRY_AFTER], "3");
    }
    assert_eq!(mock.scim(Method::POST, "Users", Some(user("a@contoso.com"))).await.status, StatusCode::CREATED);
    let journal = mock.admin(Method::GET, "/_admin/journal", None).await.body;
    let faults: Vec<_> = journal.as_array().unwrap().iter().map(|e| e.get("fault").is_some()).collect();
    assert_eq!(faults, [true, true, false]);
}

#[tokio::test]
async fn an_invalid_fault_plan_is_refused_with_every_problem() {
    let mock = Mock::new();
    let plan = json!({"rules": [{"probability": 2.0, "action": {"kind": "status", "status": 429}}, {"nth": {"from": 0}, "action": {"kind": "drop"}}]});
    let answer = mock.admin(Method::PUT, "/_admin/faults", Some(plan)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let error = answer.body["error"].as_str().unwrap();
    assert!(error.contains("rules[0].probability") && error.contains("rules[1].nth.from"), "{error}");
    assert_eq!(mock.admin(Method::GET, "/_admin/faults", None).await.body["rules"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_gives_the_client_no_answer() {
    let mock = MockScim::start().await;
    let client = reqwest::Client::new();
    let plan = json!({"rules": [{"path": "/**/Users", "nth": {"from": 1, "to": 1}, "action": {"kind": "drop"}}]});
    let put = client
        .put(format!("{}/_admin/faults", mock.uri()))
        .bearer_auth(mock.admin_token())
        .json(&plan)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let url = format!("{}Users", mock.scim_endpoint());
    let dropped = async { client.get(&url).bearer_auth(mock.token()).send().await?.bytes().await }.await;
    assert!(dropped.is_err(), "the first request must fail: {dropped:?}");
    let next = client.get(&url).bearer_auth(mock.token()).send().await.unwrap();
    assert_eq!(next.status(), 200);
}

#[tokio::test]
async fn the_journal_redacts_bearer_tokens_and_records_both_sides() {
    let mock = Mock::new();
    mock.create_user("annie@contoso.com").await;
    let journal = mock.admin(Method::GET, "/_admin/journal", None).await.body;
    let entry = &journal[0];
    assert_eq!(entry["request"]["method"], "POST");
    assert_eq!(entry["request"]["body"]["userName"], "annie@contoso.com");
    assert_eq!(entry["response"]["status"], 201);
    let text = journal.to_string();
    assert!(!text.contains(&mock.token), "the SCIM token leaked into the journal");
    assert!(text.contains("Bearer <redacted>"));
}

#[tokio::test]
async fn the_same_seed_gives_byte_identical_journals() {
    async fn run() -> String {
        let mock = Mock::new();
        let id = mock.create_user("annie@contoso.com").await;
        let group = mock.create_group("SRE").await;
        mock.patch(&format!("Groups/{group}"), json!([{"op": "Add", "path": "members", "value": [{"value": id}]}]))
            .await;
        mock.scim(Method::POST, "Groups", Some(json!({"displayName": "Administrator"}))).await;
        mock.admin(Method::GET, "/_admin/journal", None).await.body.to_string()
    }
    assert_eq!(run().await, run().await);
}
