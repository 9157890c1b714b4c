//! The admin API: tenants, tokens, state, switches, clock, reset.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn health_needs_no_token_and_everything_else_does() {
    let mock = Mock::new();
    let health = mock.send(Request::get("/_admin/health").body(Body::empty()).unwrap()).await;
    assert_eq!(health.status, StatusCode::OK);
    let denied = mock
        .send(
            Request::get("/_admin/switches").header(header::AUTHORIZATION, "Bearer nope").body(Body::empty()).unwrap(),
        )
        .await;
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
    assert!(denied.body["error"].is_string());
    // The SCIM token does not open the admin API.
    let scim_token = mock
        .send(
            Request::get("/_admin/journal")
                .header(header::AUTHORIZATION, format!("Bearer {}", mock.token))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(scim_token.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_new_tenant_answers_with_its_endpoint_and_token() {
    let mock = Mock::new();
    let request = Request::post("/_admin/tenants")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .header(header::HOST, "127.0.0.1:9100")
        .body(Body::empty())
        .unwrap();
    let answer = mock.send(request).await;
    assert_eq!(answer.status, StatusCode::CREATED);
    let tenant = answer.body["tenantId"].as_str().unwrap();
    assert_eq!(tenant.len(), 39, "three characters and a UUID: {tenant}");
    assert_eq!(answer.body["scimEndpoint"], format!("http://127.0.0.1:9100/{tenant}/scim/v2/"));
    let token = answer.body["accessToken"].as_str().unwrap();
    let list = mock
        .send(
            Request::get(format!("/{tenant}/scim/v2/Users"))
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(list.status, StatusCode::OK);
    // The other tenant's token does not open this one.
    let crossed = mock
        .send(
            Request::get(format!("/{tenant}/scim/v2/Users"))
                .header(header::AUTHORIZATION, format!("Bearer {}", mock.token))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(crossed.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_tenant_id_that_is_not_letters_digits_and_dashes_is_a_bad_request_and_a_taken_one_a_conflict() {
    let mock = Mock::new();
    let create = |id: String| {
        Request::post("/_admin/tenants")
            .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({ "tenantId": id }).to_string()))
            .unwrap()
    };
    for bad in ["a/b", "", "_admin", "t\u{e9}nant", &"x".repeat(129)] {
        let answer = mock.send(create(bad.to_owned())).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad:?}: {}", answer.body);
        assert!(answer.body["error"].as_str().unwrap().contains("letters, digits and dashes"));
    }
    assert_eq!(mock.send(create("team-1".to_owned())).await.status, StatusCode::CREATED);
    let again = mock.send(create("team-1".to_owned())).await;
    assert_eq!((again.status, again.body), (StatusCode::CONFLICT, json!({"error": "tenant team-1 already exists"})));
}

#[tokio::test]
async fn a_tenant_holds_at_most_two_tokens_and_a_revoked_one_stops_working() {
    let mock = Mock::new();
    let path = format!("/_admin/tenants/{}/tokens", mock.tenant);
    let second = mock.admin(Method::POST, &path, None).await;
    assert_eq!(second.status, StatusCode::CREATED);
    assert_eq!(mock.admin(Method::POST, &path, None).await.status, StatusCode::CONFLICT);
    let tokens = mock.admin(Method::GET, &path, None).await.body;
    assert!(!tokens.to_string().contains(&mock.token), "listing shows no secrets");
    let first_id = tokens[0]["tokenId"].as_str().unwrap();
    assert_eq!(mock.admin(Method::DELETE, &format!("{path}/{first_id}"), None).await.status, StatusCode::NO_CONTENT);
    assert_error(&mock.scim(Method::GET, "Users", None).await, 401, "Authorization header is invalid or missing.");
}

#[tokio::test]
async fn a_token_expires_a_year_later_on_the_mock_clock() {
    let mock = Mock::new();
    mock.admin(Method::POST, "/_admin/clock/advance", Some(json!({"by": "P364D"}))).await;
    assert_eq!(mock.scim(Method::GET, "Users", None).await.status, StatusCode::OK);
    let clock = mock.admin(Method::POST, "/_admin/clock/advance", Some(json!({"by": "P1D"}))).await;
    assert_eq!(clock.body["now"], "2027-01-01T00:00:00Z");
    assert_error(&mock.scim(Method::GET, "Users", None).await, 401, "Authorization header is invalid or missing.");
}

#[tokio::test]
async fn clock_advance_refuses_what_is_not_an_iso_duration() {
    let mock = Mock::new();
    for by in [json!("40 minutes"), json!("-PT1H")] {
        let answer = mock.admin(Method::POST, "/_admin/clock/advance", Some(json!({"by": by}))).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{by}");
    }
    let answer = mock.admin(Method::POST, "/_admin/clock/advance", Some(json!({"by": "PT40M"}))).await;
    assert_eq!(answer.body["now"], "2026-01-01T00:40:00Z");
}

#[tokio::test]
async fn bad_switches_are_refused_and_change_nothing() {
    let mock = Mock::new();
    let before = mock.admin(Method::GET, "/_admin/switches", None).await.body;
    for body in [json!({"listApi": "sideways"}), json!({"reservedNameStatus": 500}), json!({"noSuchSwitch": true})] {
        assert_eq!(mock.admin(Method::PATCH, "/_admin/switches", Some(body)).await.status, StatusCode::BAD_REQUEST);
    }
    assert_eq!(mock.admin(Method::GET, "/_admin/switches", None).await.body, before);
}

#[tokio::test]
async fn reset_returns_to_a_fresh_start() {
    let mock = Mock::new();
    mock.create_user("annie@contoso.com").await;
    assert_eq!(mock.admin(Method::POST, "/_admin/reset", None).await.status, StatusCode::NO_CONTENT);
    let tenants = mock.admin(Method::GET, "/_admin/tenants", None).await.body;
    assert_eq!(tenants, json!([]));
    assert_eq!(mock.admin(Method::GET, "/_admin/journal", None).await.body, json!([]));
}

#[tokio::test]
async fn the_journal_seq_is_the_newest_exchange_s_and_where_since_starts() {
    let mock = Mock::new();
    assert_eq!(mock.admin(Method::GET, "/_admin/journal/seq", None).await.body, json!({"seq": 0}));
    mock.create_user("annie@contoso.com").await;
    mock.create_user("bob@contoso.com").await;
    let journal = mock.admin(Method::GET, "/_admin/journal", None).await.body;
    let newest = journal.as_array().and_then(|j| j.last()).map(|e| e["seq"].clone());
    let seq = mock.admin(Method::GET, "/_admin/journal/seq", None).await.body;
    assert_eq!(Some(seq["seq"].clone()), newest);
    let since = mock.admin(Method::GET, &format!("/_admin/journal?since={}", seq["seq"]), None).await.body;
    assert_eq!(since, json!([]), "nothing after the newest");
}

/// What axum answers on its own under `/_admin` (a method the route has not) comes in the admin
/// envelope, its `Allow` kept; an unknown admin path is the admin's own 404.
#[tokio::test]
async fn what_axum_refuses_on_its_own_under_admin_comes_in_the_admin_envelope() {
    let mock = Mock::new();
    let wrong_method = mock.admin(Method::DELETE, "/_admin/clock", None).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.body, json!({"error": "Method Not Allowed"}));
    assert!(wrong_method.headers.get(header::ALLOW).is_some_and(|allow| allow.to_str().unwrap().contains("PUT")));
    let unknown = mock.admin(Method::GET, "/_admin/nowhere", None).await;
    assert_eq!((unknown.status, unknown.body), (StatusCode::NOT_FOUND, json!({"error": "no such admin endpoint"})));
}
