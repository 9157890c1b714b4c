//! The token endpoint and bearer checks (microsoft-graph.md §1).

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

use crate::support::*;

async fn token_request(mock: &Mock, tenant: &str, form: &str) -> Answer {
    let request = Request::post(format!("/{tenant}/oauth2/v2.0/token"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap();
    mock.send(request).await
}

fn form(client_id: &str, secret: &str, scope: &str, grant: &str) -> String {
    format!("client_id={client_id}&client_secret={secret}&scope={scope}&grant_type={grant}")
}

const SCOPE: &str = "https%3A%2F%2Fgraph.microsoft.com%2F.default";

#[tokio::test]
async fn client_credentials_give_a_bearer_token_that_opens_v1() {
    let mock = Mock::new();
    let tenant = mock.state.world().tenant.clone();
    for tenant_segment in [tenant.domain.clone(), tenant.id.clone()] {
        let answer = token_request(
            &mock,
            &tenant_segment,
            &form(&tenant.client_id, &tenant.client_secret, SCOPE, "client_credentials"),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert_eq!(answer.body["token_type"], "Bearer");
        assert_eq!(answer.body["expires_in"], 3599);
        assert_eq!(answer.body["ext_expires_in"], 3599);
        let token = answer.body["access_token"].as_str().unwrap();
        let users = mock
            .send(
                Request::get("/v1.0/users")
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(users.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn token_errors_come_in_entra_form_with_their_aadsts_codes() {
    let mock = Mock::new();
    let tenant = mock.state.world().tenant.clone();
    let (id, secret) = (tenant.client_id.as_str(), tenant.client_secret.as_str());
    for (tenant_segment, body, status, error, code) in [
        (tenant.domain.as_str(), form(id, "wrong", SCOPE, "client_credentials"), 401, "invalid_client", 7000215),
        (
            tenant.domain.as_str(),
            form("someone-else", secret, SCOPE, "client_credentials"),
            400,
            "unauthorized_client",
            700016,
        ),
        (
            tenant.domain.as_str(),
            form(id, secret, "https%3A%2F%2Fgraph.microsoft.com%2FUser.Read", "client_credentials"),
            400,
            "invalid_scope",
            1002012,
        ),
        (
            tenant.domain.as_str(),
            form(id, secret, "https%3A%2F%2Fmanagement.azure.com%2F.default", "client_credentials"),
            400,
            "invalid_scope",
            70011,
        ),
        (tenant.domain.as_str(), form(id, secret, SCOPE, "password"), 400, "unsupported_grant_type", 70003),
        (
            tenant.domain.as_str(),
            format!("client_id={id}&client_secret={secret}&scope={SCOPE}"),
            400,
            "invalid_request",
            900144,
        ),
        ("fabrikam.onmicrosoft.com", form(id, secret, SCOPE, "client_credentials"), 400, "invalid_request", 90002),
    ] {
        let answer = token_request(&mock, tenant_segment, &body).await;
        assert_eq!(answer.status.as_u16(), status, "{}", answer.text);
        assert_eq!(answer.body["error"], error, "{}", answer.text);
        assert_eq!(answer.body["error_codes"], json!([code]));
        assert!(answer.body["error_description"].as_str().unwrap().starts_with(&format!("AADSTS{code}:")));
        for field in ["timestamp", "trace_id", "correlation_id"] {
            assert!(answer.body[field].is_string(), "{field}");
        }
    }
    let journal = mock.admin(Method::GET, "/_admin/journal", None).await.text;
    assert!(!journal.contains(secret), "the client secret leaked into the journal");
}

#[tokio::test]
async fn a_missing_bad_or_expired_token_is_401_with_www_authenticate() {
    let mock = Mock::new();
    let cases = [
        (None, "Access token is empty."),
        (Some("Bearer not-a-jwt"), "CompactToken parsing failed with error code: 80049217"),
        (Some("Bearer a.b.c"), "Access token validation failure."),
    ];
    for (auth, message) in cases {
        let mut request = Request::get("/v1.0/users");
        if let Some(auth) = auth {
            request = request.header(header::AUTHORIZATION, auth);
        }
        let answer = mock.send(request.body(Body::empty()).unwrap()).await;
        assert_error(&answer, 401, "InvalidAuthenticationToken");
        assert_eq!(answer.body["error"]["message"], message);
        let challenge = answer.headers[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert!(challenge.contains("client_id=\"00000003-0000-0000-c000-000000000000\""), "{challenge}");
    }
    mock.admin(Method::POST, "/_admin/clock/advance", Some(json!({"by": "PT1H"}))).await;
    let expired = mock.get("/v1.0/users").await;
    assert_error(&expired, 401, "InvalidAuthenticationToken");
    assert_eq!(expired.body["error"]["message"], "Access token has expired or is not yet valid.");
}

#[tokio::test]
async fn every_response_carries_request_ids_and_odata_headers() {
    let mock = Mock::new();
    let answer = mock.call_with(Method::GET, "/v1.0/users", None, &[("client-request-id", "mine-123")]).await;
    assert_eq!(answer.headers["client-request-id"], "mine-123");
    assert!(answer.headers.contains_key("request-id"));
    assert_eq!(answer.headers["odata-version"], "4.0");
    assert!(
        answer.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("application/json;odata.metadata=minimal")
    );
    let plain = mock.get("/v1.0/users").await;
    assert_eq!(plain.headers["client-request-id"], plain.headers["request-id"]);
}

#[tokio::test]
async fn what_the_pipeline_refuses_at_the_token_endpoint_is_answered_in_oauth_form() {
    let mock = Mock::new();
    let domain = mock.state.world().tenant.domain.clone();
    let get = mock.send(Request::get(format!("/{domain}/oauth2/v2.0/token")).body(Body::empty()).unwrap()).await;
    assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(get.body["error"], "invalid_request", "{}", get.body);
    assert!(
        get.body["error_description"].as_str().unwrap().starts_with("AADSTS900561: The endpoint only accepts POST")
    );
    assert_eq!(get.body["error_codes"], json!([900561]));
    assert!(get.body.get("error").is_some_and(|e| !e.is_object()), "not Graph's {{\"error\":{{…}}}} envelope");

    let huge = format!("client_id=x&client_secret={}", "a".repeat(2 * 1024 * 1024));
    let big = token_request(&mock, &domain, &huge).await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(big.body["error"], "invalid_request", "{}", big.body);
    assert_eq!(big.body["error_codes"], json!([9002313]));
}

/// A token request whose body is not declared a form is not read as one: its parameters are
/// missing (a JSON body, a form sent as text, a form with no type at all).
#[tokio::test]
async fn a_token_request_that_is_not_a_form_lacks_its_parameters() {
    let mock = Mock::new();
    let tenant = mock.state.world().tenant.clone();
    let body = form(&tenant.client_id, &tenant.client_secret, SCOPE, "client_credentials");
    for content_type in [Some("application/json"), Some("text/plain"), None] {
        let mut request = Request::post(format!("/{}/oauth2/v2.0/token", tenant.domain));
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let answer = mock.send(request.body(Body::from(body.clone())).unwrap()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{content_type:?}: {}", answer.text);
        assert_eq!(answer.body["error"], "invalid_request");
        assert_eq!(answer.body["error_codes"], json!([900144]));
        let description = answer.body["error_description"].as_str().unwrap();
        assert!(description.contains("'grant_type'"), "{description}");
    }
    // The same body, declared (with a charset, in any case), gets its token.
    let request = Request::post(format!("/{}/oauth2/v2.0/token", tenant.domain))
        .header(header::CONTENT_TYPE, "Application/X-WWW-Form-URLEncoded; charset=utf-8")
        .body(Body::from(body))
        .unwrap();
    assert_eq!(mock.send(request).await.status, StatusCode::OK);
}
