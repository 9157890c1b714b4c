//! A mock behind `Router::oneshot`, with a token, and helpers that call Graph as SDKs do.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use mock_graph::state::AppState;
use mock_graph::{Config, router};
use serde_json::{Value, json};
use tower::ServiceExt;

pub const ADMIN: &str = "admin-secret";

pub struct Mock {
    pub state: AppState,
    pub token: String,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Mock {
    pub fn new() -> Mock {
        let state =
            Config { admin_token: ADMIN.into(), seed: 11, ..Config::default() }.into_state().expect("a valid config");
        let token = state.world().issue_token();
        Mock { state, token }
    }

    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = router(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer { status, headers, body, text }
    }

    /// A Graph call with the bearer token; `path` starts with `/v1.0`.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.call_with(method, path, body, &[]).await
    }

    pub async fn call_with(&self, method: Method, path: &str, body: Option<Value>, headers: &[(&str, &str)]) -> Answer {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::HOST, "127.0.0.1:9200");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        self.send(request.body(body.map(|b| Body::from(b.to_string())).unwrap_or_default()).unwrap()).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
            .header(header::CONTENT_TYPE, "application/json");
        self.send(request.body(body.map(|b| Body::from(b.to_string())).unwrap_or_default()).unwrap()).await
    }

    pub async fn create_user(&self, upn: &str) -> String {
        let answer = self.call(Method::POST, "/v1.0/users", Some(user(upn))).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body["id"].as_str().unwrap().to_owned()
    }

    pub async fn create_group(&self, name: &str) -> String {
        let answer = self.call(Method::POST, "/v1.0/groups", Some(group(name))).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body["id"].as_str().unwrap().to_owned()
    }

    pub async fn add_member(&self, group: &str, member: &str) -> Answer {
        let reference = json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{member}")});
        self.call(Method::POST, &format!("/v1.0/groups/{group}/members/$ref"), Some(reference)).await
    }
}

/// A user as the docs' create example sends it (microsoft-graph.md §2.1).
pub fn user(upn: &str) -> Value {
    let local = upn.split('@').next().unwrap();
    json!({
        "accountEnabled": true,
        "displayName": format!("User {local}"),
        "givenName": "Given",
        "surname": "Family",
        "mailNickname": local,
        "userPrincipalName": upn,
        "passwordProfile": {"forceChangePasswordNextSignIn": true, "password": "xWwvJ]6NMw+bWH-d"}
    })
}

/// A security group (§2.2).
pub fn group(name: &str) -> Value {
    let nickname: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
    json!({"displayName": name, "mailEnabled": false, "mailNickname": nickname, "securityEnabled": true})
}

/// Asserts Graph's error envelope with this status and code.
pub fn assert_error(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status.as_u16(), status, "{}", answer.text);
    let error = &answer.body["error"];
    assert_eq!(error["code"], code, "{}", answer.text);
    assert!(error["message"].is_string(), "{}", answer.text);
    let inner = &error["innerError"];
    assert!(
        inner["date"].is_string() && inner["request-id"].is_string() && inner["client-request-id"].is_string(),
        "{}",
        answer.text
    );
    assert_eq!(answer.headers["request-id"].to_str().unwrap(), inner["request-id"]);
}

/// What the server at `uri` (`http://host:port`) answers `request`, sent as it is, up to its
/// closing the connection: the status, the head and the body.
pub async fn raw_exchange(uri: &str, request: &[u8]) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(uri.trim_start_matches("http://")).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut seen = Vec::new();
    stream.read_to_end(&mut seen).await.unwrap();
    let text = String::from_utf8_lossy(&seen);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0), head.to_owned(), body.to_owned())
}

/// 120 headers: past hyper's 100.
pub fn many_headers() -> reqwest::header::HeaderMap {
    (0..120).map(|i| (reqwest::header::HeaderName::try_from(format!("x-header-{i}")).unwrap(), i.into())).collect()
}
