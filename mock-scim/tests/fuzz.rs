//! Property-based fuzzing of the SCIM filter and PATCH path parsers (issue 17): whatever a client
//! sends, each parser returns a value or its `ScimError` (a 400 ValidationException), and never
//! panics or overflows the stack. Tests run on libtest's own thread (2 MiB stack).
//!
//! Cases default to 256 (proptest's default, a few seconds); a deep run:
//! `PROPTEST_CASES=100000 cargo test -p mock-scim --test fuzz`.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use mock_scim::error::ScimError;
use mock_scim::filter::{self, MAX_FILTER_LENGTH};
use mock_scim::patch::{self, MAX_PATH_LENGTH};
use mock_scim::{Config, router};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::{Value, json};
use tower::ServiceExt;

fn assert_refusal(error: &ScimError) {
    assert_eq!(error.status, StatusCode::BAD_REQUEST, "{error:?}");
}

fn exercise_filter(input: &str) {
    for legacy in [true, false] {
        if let Err(error) = filter::user_query(Some(input), legacy) {
            assert_refusal(&error);
        }
        if let Err(error) = filter::group_query(Some(input), legacy) {
            assert_refusal(&error);
        }
    }
}

fn exercise_path(input: &str) {
    if let Err(error) = patch::parse_path(input) {
        assert_refusal(&error);
    }
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": input, "value": "x"}]});
    match patch::parse(&body) {
        Ok(operations) => {
            let mut user = json!({"userName": "a", "emails": [{"type": "work", "value": "a@x.com"}]});
            if let Err(error) = patch::apply_to_user(&mut user, &operations) {
                assert!(error.status.is_client_error(), "{error:?}");
            }
            if let Err(error) = patch::group_changes(&operations) {
                assert!(error.status.is_client_error(), "{error:?}");
            }
        }
        Err(error) => assert_refusal(&error),
    }
}

fn filter_token() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "userName",
        "id",
        "externalId",
        "members",
        "members.value",
        "groups.value",
        "manager",
        "displayName",
        " eq ",
        " EQ ",
        " ne ",
        " co ",
        " and ",
        " or ",
        "not ",
        "(",
        ")",
        "[",
        "]",
        "\"",
        "\"x\"",
        "\"a\\\"b\"",
        "\\",
        " ",
        "\t",
    ])
}

fn path_token() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "emails",
        "members",
        "name",
        "[",
        "]",
        ".",
        "value",
        "type",
        " eq ",
        "\"work\"",
        "true",
        "\"",
        "givenName",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "urn:ietf:params:scim:schemas:core:2.0:User",
        ":",
        "department",
        " ",
    ])
}

/// `a[b[c[… eq "x"] eq "x"] eq "x"]`, `n` deep.
fn nested_value_filter(n: usize) -> String {
    format!("{}type eq \"x\"{}", "emails[".repeat(n), "] eq \"x\"".repeat(n))
}

proptest! {
    /// Any string as a filter: a query or a 400.
    #[test]
    fn any_string_is_a_filter_or_a_refusal(input in any::<String>()) {
        exercise_filter(&input);
    }

    /// Filters from the dialect's tokens, and long `and` chains and nestings.
    #[test]
    fn grammar_shaped_filters_are_a_query_or_a_refusal(tokens in prop::collection::vec(filter_token(), 0..300),
                                                        n in 0usize..100_000) {
        exercise_filter(&tokens.concat());
        let chain = vec!["id eq \"a\""; n.min(20_000) + 1].join(" and ");
        exercise_filter(&chain);
        exercise_filter(&format!("{}userName eq \"a\"{}", "(".repeat(n), ")".repeat(n)));
        exercise_filter(&format!("{}userName eq \"a\"", "not ".repeat(n)));
    }

    /// Any string as a PATCH path, alone and inside a PatchOp body applied to a user and a group.
    #[test]
    fn any_string_is_a_path_or_a_refusal(input in any::<String>()) {
        exercise_path(&input);
    }

    /// Paths from the path grammar's tokens, and value filters nested up to 100,000 deep.
    #[test]
    fn grammar_shaped_paths_are_a_path_or_a_refusal(tokens in prop::collection::vec(path_token(), 0..200),
                                                     n in 0usize..100_000) {
        exercise_path(&tokens.concat());
        let nested = nested_value_filter(n);
        if n > 1 {
            prop_assert!(patch::parse_path(&nested).is_err());
        }
        exercise_path(&nested);
    }
}

#[test]
fn the_limits_refuse_what_is_past_them() {
    let value = "a".repeat(MAX_FILTER_LENGTH);
    assert!(filter::user_query(Some(&format!("userName eq \"{value}\"")), true).is_err());
    assert!(filter::user_query(Some(&format!("userName eq \"{}\"", &value[..1024])), true).is_ok());
    assert!(filter::group_query(Some(r#"id eq "g" and members eq "u" and id eq "g""#), true).is_err());
    assert!(patch::parse_path(&format!("name.{}", "g".repeat(MAX_PATH_LENGTH))).is_err());
    assert!(patch::parse_path(&nested_value_filter(2)).is_err());
    assert!(patch::parse_path(r#"emails[type eq "work"].value"#).is_ok());
    assert!(patch::parse_path(r#"members[value eq "u"]"#).is_ok());
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"()-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Over HTTP: generated filters and deeply nested PATCH paths answer 400 in AWS's SCIM error
/// envelope, and the server keeps serving.
#[tokio::test]
async fn generated_inputs_answer_400_in_the_scim_envelope() {
    let state = Config { seed: 7, ..Config::default() }.into_state();
    let (tenant, token) = state.world().create_tenant(None).unwrap();
    let token = token.secret;
    let send = |method: Method, path: String, body: Option<Value>| {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("/{tenant}/scim/v2/{path}"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/scim+json");
        }
        let request = request.body(body.map(|b| Body::from(b.to_string())).unwrap_or_default()).unwrap();
        let app = router(state.clone());
        async move {
            let response = app.oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null))
        }
    };
    let mut filters = vec![
        format!("{}userName eq \"a\"{}", "(".repeat(1_900), ")".repeat(1_900)),
        format!("{}userName eq \"a\"", "not ".repeat(4_250)),
        vec!["id eq \"a\""; 500].join(" and "),
    ];
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for _ in 0..8 {
        filters.push(prop::collection::vec(filter_token(), 1..100).new_tree(&mut runner).unwrap().current().concat());
    }
    for filter in &filters {
        for resource in ["Users", "Groups"] {
            let (status, body) = send(Method::GET, format!("{resource}?filter={}", encode(filter)), None).await;
            if status == StatusCode::OK {
                continue;
            }
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error", "{body}");
            assert_eq!(body["status"], "400", "{body}");
        }
    }
    let (status, body) = send(
        Method::POST,
        "Users".into(),
        Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "annie", "displayName": "Annie",
        "name": {"givenName": "Annie", "familyName": "Easley"}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    for path in [nested_value_filter(1_000), "a".repeat(MAX_PATH_LENGTH + 1)] {
        let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": path, "value": "x"}]});
        let (status, body) = send(Method::PATCH, format!("Users/{id}"), Some(patch)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["status"], "400", "{body}");
    }
    let (status, _) = send(Method::GET, "Users".into(), None).await;
    assert_eq!(status, StatusCode::OK);
}
