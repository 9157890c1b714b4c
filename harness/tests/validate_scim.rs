//! `harness validate-scim` as a user meets it: the built binary against mock-scim in this process
//! (every check passes, as `tests/validate/mock-scim.expected` writes down), against a tiny SCIM
//! server that breaks one rule (that check fails, exit 1), and against nothing (exit 2).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

const EXPECTED: &str = include_str!("validate/mock-scim.expected");

async fn validate(url: &str, token: &str, extra: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["validate-scim", "--url", url, "--token", token, "--seed", "1", "--timeout-seconds", "5"])
        .args(extra)
        .env_remove("SCIM_URL")
        .env_remove("SCIM_TOKEN")
        .output()
        .await
        .expect("the harness runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The human report's verdict lines, as the expected files hold them.
fn verdicts(report: &str) -> Vec<&str> {
    report.lines().filter(|l| ["PASS ", "FAIL ", "SKIP "].iter().any(|v| l.starts_with(v))).collect()
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("validate_scim").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_check_passes_against_mock_scim_as_written_down_and_nothing_is_left_behind() {
    let mock = mock_scim::MockScim::start().await;
    let output = validate(&mock.scim_endpoint(), mock.token(), &[]).await;
    let report = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{report}{}", String::from_utf8_lossy(&output.stderr));
    let expected: Vec<&str> = EXPECTED.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).collect();
    assert_eq!(verdicts(&report), expected, "{report}");
    assert!(report.contains("checks: 36 passed, 0 failed, 0 skipped"), "{report}");
    // Everything made was deleted: the tenant is as empty as it started.
    let client = reqwest::Client::new();
    for collection in ["Users", "Groups"] {
        let listed: Value = client
            .get(format!("{}{collection}", mock.scim_endpoint()))
            .bearer_auth(mock.token())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(listed["totalResults"], 0, "{collection} left behind: {listed}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_and_junit_reports_are_well_formed_and_carry_every_exchange() {
    let mock = mock_scim::MockScim::start().await;
    let dir = scratch("formats");
    let json_path = dir.join("report.json");
    let json_out = json_path.to_str().unwrap();
    let output =
        validate(&mock.scim_endpoint(), mock.token(), &["--members", "2", "--format", "json", "--out", json_out]).await;
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).expect("JSON");
    assert_eq!((report["passed"].as_u64(), report["failed"].as_u64()), (Some(36), Some(0)), "{report:#}");
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 36);
    for check in checks {
        assert_eq!(check["outcome"], "pass", "{check:#}");
        assert!(check["expects"].as_str().is_some_and(|e| !e.is_empty()), "{check:#}");
        assert!(check["exchange"]["request"]["url"].as_str().unwrap().starts_with("http://127.0.0.1:"));
        assert!(check["exchange"]["response"]["status"].is_u64(), "{check:#}");
    }
    let text = report.to_string();
    assert!(!text.contains(mock.token()), "the bearer is never shown");

    let output = validate(&mock.scim_endpoint(), mock.token(), &["--members", "2", "--format", "junit"]).await;
    assert_eq!(output.status.code(), Some(0));
    let junit = stdout(&output);
    assert!(
        junit.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"validate-scim\" tests=\"36\" failures=\"0\""
        ),
        "{junit}"
    );
    assert!(junit.ends_with("</testsuite>\n"), "{junit}");
    assert_eq!(junit.matches("<testcase ").count(), 36);
    assert_eq!(junit.matches("</testcase>").count(), 36);
    assert_eq!(junit.matches("<system-out>").count(), junit.matches("</system-out>").count());
    assert!(
        junit.contains("<testcase name=\"optscim062020: members-remove\" classname=\"validate-scim.optscim062020\">")
    );
    // Text between tags holds no raw markup.
    for piece in junit.split('<').skip(1) {
        let (tag, text) = piece.split_once('>').expect("every tag closes");
        assert!(!tag.contains('>') && !text.contains('>'), "{piece}");
    }
}

/// How [`scim`] misbehaves.
#[derive(Clone, Copy, PartialEq)]
enum Broken {
    /// `GET /Users?filter=…` answers 404, as a server that does not know the probe.
    Probe404,
    /// Created users come back without `meta`.
    NoMeta,
    /// The first create is answered 429 with `Retry-After: 0`.
    ThrottledOnce,
}

/// What the server saw: whether it throttled already, and every PATCH body, in order.
#[derive(Default)]
struct Seen {
    throttled: AtomicBool,
    patches: Mutex<Vec<Value>>,
}

/// A SCIM server of a few lines holding nothing: empty lists, creates answered with an id, PATCH
/// and DELETE with 204, everything else 404 — and one rule broken.
async fn scim(broken: Broken, seen: &Seen, method: Method, uri: Uri, body: Bytes) -> Response {
    let empty =
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 0, "Resources": []});
    let path = uri.path().trim_start_matches('/');
    let created = |kind: &str| {
        let mut resource: Value = serde_json::from_slice(&body).unwrap_or(json!({}));
        resource["id"] = json!(format!("{kind}-1"));
        if broken != Broken::NoMeta {
            resource["meta"] = json!({"resourceType": kind});
        }
        (StatusCode::CREATED, axum::Json(resource)).into_response()
    };
    match (method, path) {
        (Method::POST, "Users") if broken == Broken::ThrottledOnce && !seen.throttled.swap(true, Ordering::SeqCst) => {
            (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "0")]).into_response()
        }
        (Method::GET, "Users") if broken == Broken::Probe404 => StatusCode::NOT_FOUND.into_response(),
        (Method::GET, "Users" | "Groups") => axum::Json(empty).into_response(),
        (Method::POST, "Users") => created("User"),
        (Method::POST, "Groups") => created("Group"),
        (Method::PATCH, _) => {
            seen.patches.lock().unwrap().push(serde_json::from_slice(&body).unwrap_or(Value::Null));
            StatusCode::NO_CONTENT.into_response()
        }
        (Method::DELETE, _) => StatusCode::NO_CONTENT.into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn serve(broken: Broken) -> (SocketAddr, Arc<Seen>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let kept = seen.clone();
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, body: Bytes| {
        let seen = kept.clone();
        async move { scim(broken, &seen, method, uri, body).await }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (address, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_answers_the_probe_404_fails_probe_users_with_exit_1() {
    let (address, _) = serve(Broken::Probe404).await;
    let output = validate(&format!("http://{address}/"), "t0ken-of-a-test", &["--members", "1"]).await;
    let report = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(report.contains("FAIL  default        probe-users\n    expected 200, got 404\n"), "{report}");
    assert!(report.contains("FAIL  optscim062020  probe-users\n"), "{report}");
    assert!(report.contains("PASS  default        probe-groups\n"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_omits_meta_fails_user_create_and_what_needs_the_user_is_skipped() {
    let (address, _) = serve(Broken::NoMeta).await;
    let output = validate(&format!("http://{address}/"), "t0ken-of-a-test", &["--members", "1"]).await;
    let report = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(report.contains("FAIL  default        user-create\n    no meta in the created resource\n"), "{report}");
    assert!(report.contains("SKIP  default        user-match\n    user-create failed\n"), "{report}");
    assert!(report.contains("FAIL  default        group-create\n"), "{report}");
    // The user it could not judge is still deleted.
    assert!(report.contains("cleanup default: deleted 1 user(s)"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_dialect_sends_its_own_patch_bodies_as_the_engine_writes_them() {
    let (address, seen) = serve(Broken::ThrottledOnce).await;
    let _ = validate(&format!("http://{address}/"), "t0ken-of-a-test", &["--members", "1"]).await;
    let patches = seen.patches.lock().unwrap().clone();
    let ops: Vec<&Value> = patches.iter().flat_map(|p| p["Operations"].as_array().unwrap()).collect();
    let sent = |wanted: Value| assert!(ops.contains(&&wanted), "{wanted} not among {ops:#?}");
    // entra-provisioning.md §4.5: the default dialect, then ?aadOptscim062020.
    sent(json!({"op": "Replace", "path": "active", "value": "False"}));
    sent(json!({"op": "replace", "path": "active", "value": false}));
    sent(json!({"op": "Add", "path": "members", "value": [{"value": "User-1"}]}));
    sent(json!({"op": "Remove", "path": "members", "value": [{"value": "User-1"}]}));
    sent(json!({"op": "add", "path": "members", "value": [{"value": "User-1"}]}));
    sent(json!({"op": "remove", "path": "members[value eq \"User-1\"]"}));
    sent(json!({"op": "Replace", "path": "name.familyName", "value": "Updated"}));
    assert!(patches.iter().all(|p| p["schemas"] == json!(["urn:ietf:params:scim:api:messages:2.0:PatchOp"])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_waited_out_and_sent_again_as_entra_does() {
    let (address, _) = serve(Broken::ThrottledOnce).await;
    let output =
        validate(&format!("http://{address}/"), "t0ken-of-a-test", &["--members", "1", "--format", "json"]).await;
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let create = &report["checks"][2];
    assert_eq!(
        (create["name"].as_str(), create["outcome"].as_str()),
        (Some("user-create"), Some("pass")),
        "{report:#}"
    );
    assert_eq!(create["exchange"]["response"]["status"], 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_server_or_a_refused_token_exits_2_with_a_clear_message() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let output = validate(&format!("http://{free}/scim/v2/"), "t", &[]).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with(&format!("error: the SCIM server at http://{free}/scim/v2/Users")), "{stderr}");
    assert!(stderr.contains("did not answer the probe"), "{stderr}");
    assert!(output.stdout.is_empty());

    let mock = mock_scim::MockScim::start().await;
    let output = validate(&mock.scim_endpoint(), "not-the-token", &[]).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("error: the SCIM server refused the token: 401 to GET "), "{stderr}");

    let output = validate("ftp://127.0.0.1/", "t", &[]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not an http(s) URL"));
}
