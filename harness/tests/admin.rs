//! Both mocks' admin APIs offer the same verbs, with the same names, bodies, answers and errors:
//! each check here runs against a running mock-graph and a running mock-scim alike, over HTTP.

use mock_graph::MockGraph;
use mock_scim::MockScim;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// One running mock, as a test of its admin API sees it.
struct Admin {
    name: &'static str,
    uri: String,
    token: String,
    /// A path outside `/_admin` that the mock journals.
    journaled: String,
    http: reqwest::Client,
}

impl Admin {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}/_admin{path}", self.uri)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request.send().await.expect("the admin API answers");
        let status = answer.status();
        let text = answer.text().await.expect("a body");
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON") })
    }

    async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.call(method.clone(), path, body).await;
        assert!(status.is_success(), "{}: {method} {path} answered {status}: {answer}", self.name);
        answer
    }

    async fn touch(&self) {
        self.http.get(format!("{}{}", self.uri, self.journaled)).send().await.expect("the mock answers");
    }
}

async fn both() -> (MockGraph, MockScim, Vec<Admin>) {
    let graph = MockGraph::start().await;
    let scim = MockScim::start().await;
    let http = reqwest::Client::new();
    let admins = vec![
        Admin {
            name: "mock-graph",
            uri: graph.uri(),
            token: graph.admin_token().to_owned(),
            journaled: "/v1.0/users".to_owned(),
            http: http.clone(),
        },
        Admin {
            name: "mock-scim",
            uri: scim.uri(),
            token: scim.admin_token().to_owned(),
            journaled: format!("/{}/scim/v2/Users", scim.tenant_id()),
            http,
        },
    ];
    (graph, scim, admins)
}

#[tokio::test]
async fn the_journal_capacity_is_a_switch_of_both_and_keeps_the_newest() {
    let (_graph, _scim, admins) = both().await;
    for admin in &admins {
        let switches = admin.ok(Method::GET, "/switches", None).await;
        assert_eq!(switches["journalCapacity"], 100_000, "{}", admin.name);
        let patched = admin.ok(Method::PATCH, "/switches", Some(json!({"journalCapacity": 2}))).await;
        assert_eq!(patched["journalCapacity"], 2, "{}", admin.name);
        for _ in 0..3 {
            admin.touch().await;
        }
        let journal = admin.ok(Method::GET, "/journal", None).await;
        let seqs: Vec<_> = journal.as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect();
        assert_eq!(seqs, [2, 3], "{}: the two newest of three", admin.name);
        assert_eq!(admin.ok(Method::GET, "/journal/seq", None).await, json!({"seq": 3}), "{}", admin.name);
        let since = admin.ok(Method::GET, "/journal?since=2", None).await;
        assert_eq!(since.as_array().unwrap().len(), 1, "{}", admin.name);

        // A bad value, or a bad switch beside a good capacity, changes nothing.
        for bad in [json!({"journalCapacity": -1}), json!({"journalCapacity": 5, "noSuchSwitch": true})] {
            let (status, answer) = admin.call(Method::PATCH, "/switches", Some(bad.clone())).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{}: {bad}", admin.name);
            assert!(answer["error"].is_string(), "{}: {answer}", admin.name);
        }
        assert_eq!(admin.ok(Method::GET, "/switches", None).await["journalCapacity"], 2, "{}", admin.name);
        // PUT starts from the defaults.
        let put = admin.ok(Method::PUT, "/switches", Some(json!({}))).await;
        assert_eq!(put, switches, "{}: PUT {{}} is every default", admin.name);
    }
}

#[tokio::test]
async fn the_clock_is_read_set_and_advanced_alike() {
    let (_graph, _scim, admins) = both().await;
    for admin in &admins {
        let clock = admin.ok(Method::GET, "/clock", None).await;
        assert_eq!((clock["now"].as_str(), clock["mode"].as_str()), (Some("2026-01-01T00:00:00Z"), Some("virtual")));
        let by = admin.ok(Method::POST, "/clock/advance", Some(json!({"by": "PT40M"}))).await;
        assert_eq!(by["now"], "2026-01-01T00:40:00Z", "{}", admin.name);
        let to = admin.ok(Method::POST, "/clock/advance", Some(json!({"to": "2026-01-02T00:00:00Z"}))).await;
        assert_eq!(to["now"], "2026-01-02T00:00:00Z", "{}", admin.name);
        let back = admin.ok(Method::POST, "/clock/advance", Some(json!({"to": "2025-01-01T00:00:00Z"}))).await;
        assert_eq!(back["now"], "2026-01-02T00:00:00Z", "{}: an advance never goes back", admin.name);
        let set = admin.ok(Method::PUT, "/clock", Some(json!({"now": "2027-03-01T12:00:00Z"}))).await;
        assert_eq!(set["now"], "2027-03-01T12:00:00Z", "{}", admin.name);
        for bad in [json!({}), json!({"by": "PT1M", "to": "2027-01-01T00:00:00Z"}), json!({"by": "forty minutes"})] {
            let (status, answer) = admin.call(Method::POST, "/clock/advance", Some(bad.clone())).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{}: {bad}", admin.name);
            assert!(answer["error"].as_str().is_some_and(|e| e.contains("\"by\"")), "{}: {answer}", admin.name);
        }
        assert_eq!(admin.ok(Method::GET, "/clock", None).await["now"], "2027-03-01T12:00:00Z", "{}", admin.name);
    }
}

#[tokio::test]
async fn faults_reset_and_unknown_routes_answer_alike() {
    let (_graph, _scim, admins) = both().await;
    for admin in &admins {
        let plan = json!({"seed": 1, "rules": [{"method": "GET", "action": {"kind": "status", "status": 503}}]});
        admin.ok(Method::PUT, "/faults", Some(plan.clone())).await;
        assert_eq!(admin.ok(Method::GET, "/faults", None).await["rules"][0]["action"]["status"], 503);
        let invalid = json!({"rules": [{"probability": 2.0, "action": {"kind": "drop"}}]});
        let (status, _) = admin.call(Method::PUT, "/faults", Some(invalid)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{}", admin.name);
        assert_eq!(admin.ok(Method::GET, "/faults", None).await["rules"].as_array().map(Vec::len), Some(1));
        admin.touch().await;
        let journal = admin.ok(Method::GET, "/journal", None).await;
        assert_eq!(journal[0]["response"]["status"], 503, "{}: the fault answered", admin.name);

        admin.ok(Method::POST, "/clock/advance", Some(json!({"by": "P1D"}))).await;
        admin.ok(Method::PATCH, "/switches", Some(json!({"journalCapacity": 9}))).await;
        let (status, _) = admin.call(Method::POST, "/reset", None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{}", admin.name);
        assert_eq!(admin.ok(Method::GET, "/faults", None).await["rules"], json!([]), "{}", admin.name);
        assert_eq!(admin.ok(Method::GET, "/journal/seq", None).await, json!({"seq": 0}), "{}", admin.name);
        assert_eq!(admin.ok(Method::GET, "/clock", None).await["now"], "2026-01-01T00:00:00Z", "{}", admin.name);
        assert_eq!(admin.ok(Method::GET, "/switches", None).await["journalCapacity"], 100_000, "{}", admin.name);

        let (status, answer) = admin.call(Method::GET, "/no/such/thing", None).await;
        assert_eq!((status, answer), (StatusCode::NOT_FOUND, json!({"error": "no such admin endpoint"})));
        let denied = admin.http.get(format!("{}/_admin/switches", admin.uri)).send().await.unwrap();
        assert_eq!(denied.status(), StatusCode::UNAUTHORIZED, "{}", admin.name);
    }
}
