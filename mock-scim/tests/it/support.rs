//! A mock behind `Router::oneshot`, with helpers that speak SCIM the way clients do.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use mock_scim::state::AppState;
use mock_scim::{Config, router};
use serde_json::{Value, json};
use tower::ServiceExt;

pub const ADMIN: &str = "admin-secret";

/// A child process of the test (the `mock-scim` binary), killed when dropped.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub struct Mock {
    pub state: AppState,
    pub tenant: String,
    pub token: String,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Mock {
    pub fn new() -> Mock {
        let state = Config { admin_token: ADMIN.into(), seed: 7, ..Config::default() }.into_state();
        let (tenant, token) = state.world().create_tenant(None).unwrap();
        Mock { state, tenant, token: token.secret }
    }

    /// A mock with switches changed through the admin API.
    pub async fn with_switches(switches: Value) -> Mock {
        let mock = Mock::new();
        let answer = mock.admin(Method::PATCH, "/_admin/switches", Some(switches)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        mock
    }

    pub fn router(&self) -> Router {
        router(self.state.clone())
    }

    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.router().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Answer { status, headers, body }
    }

    /// A SCIM call relative to the tenant's base URL, as `application/scim+json` like Entra sends.
    pub async fn scim(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("/{}/scim/v2/{path}", self.tenant))
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token));
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/scim+json");
        }
        let body = body.map(|b| Body::from(b.to_string())).unwrap_or_default();
        self.send(request.body(body).unwrap()).await
    }

    /// A PatchOp with these operations.
    pub async fn patch(&self, path: &str, operations: Value) -> Answer {
        self.scim(Method::PATCH, path, Some(patch(operations))).await
    }

    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
            .header(header::CONTENT_TYPE, "application/json");
        self.send(request.body(body.map(|b| Body::from(b.to_string())).unwrap_or_default()).unwrap()).await
    }

    pub async fn create_user(&self, user_name: &str) -> String {
        let answer = self.scim(Method::POST, "Users", Some(user(user_name))).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body["id"].as_str().unwrap().to_owned()
    }

    pub async fn create_group(&self, name: &str) -> String {
        let answer = self.scim(Method::POST, "Groups", Some(json!({"displayName": name}))).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body["id"].as_str().unwrap().to_owned()
    }

    /// What the AWS console would show: users, and groups with their member ids.
    pub async fn state_json(&self) -> Value {
        let answer = self.admin(Method::GET, &format!("/_admin/tenants/{}/state", self.tenant), None).await;
        assert_eq!(answer.status, StatusCode::OK);
        answer.body
    }
}

/// A user as Entra's default AWS mapping sends it.
pub fn user(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": format!("ext-{user_name}"),
        "userName": user_name,
        "active": true,
        "displayName": format!("Display {user_name}"),
        "name": {"givenName": "Given", "familyName": "Family", "formatted": "Given Family"},
        "emails": [{"primary": true, "type": "work", "value": user_name}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Ops"}
    })
}

pub fn patch(operations: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations})
}

/// Asserts an AWS error envelope with this status and detail.
pub fn assert_error(answer: &Answer, status: u16, detail: &str) {
    assert_eq!(answer.status.as_u16(), status, "{}", answer.body);
    assert_envelope(&answer.body, status);
    assert_eq!(answer.body["detail"], detail, "{}", answer.body);
}

/// Asserts the shape of an AWS error envelope: both `schema` and `schemas`, string `status`.
pub fn assert_envelope(body: &Value, status: u16) {
    let keys: Vec<_> = body.as_object().unwrap_or_else(|| panic!("not an object: {body}")).keys().cloned().collect();
    assert_eq!(keys, ["schema", "schemas", "detail", "status", "exceptionRequestId", "timeStamp"], "{body}");
    assert_eq!(body["status"], status.to_string());
}

pub const GENERIC: &str = "Request is unparsable, syntactically incorrect, or violates schema.";
pub const DUPLICATE: &str = "Refused to create a new, duplicate resource.";

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
