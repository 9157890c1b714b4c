//! Property-based fuzzing of the OData parsers (issue 17): whatever a client sends as `$filter`,
//! `$select`, `$orderby` or `$search`, the parser returns a value or a 400 `GraphError`, and never
//! panics or overflows the stack. Every test runs on libtest's own thread (2 MiB stack, as tokio's
//! workers have), never on a bigger one.
//!
//! Cases default to 256 (proptest's default, a few seconds); a deep run:
//! `PROPTEST_CASES=100000 cargo test -p mock-graph --test fuzz`.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use mock_graph::error::GraphError;
use mock_graph::odata::{self, MAX_FILTER_DEPTH, MAX_OPTION_LENGTH};
use mock_graph::schema::{GROUP, PROVISIONING_OBJECT_SUMMARY, USER};
use mock_graph::{Config, router};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::{Map, Value, json};
use tower::ServiceExt;

/// A user to evaluate parsed filters on, with arrays for the lambdas.
fn sample() -> Map<String, Value> {
    json!({"displayName": "Annie Easley", "userPrincipalName": "annie@contoso.com", "accountEnabled": true,
        "otherMails": ["a@x.com", "b@x.com"], "mail": null, "proxyAddresses": ["SMTP:a@x.com"]})
    .as_object()
    .cloned()
    .unwrap_or_default()
}

/// The refusal is a Graph 400 in one of the two codes the parsers answer with.
fn assert_graph_refusal(error: &GraphError, input: &str) {
    let short: String = input.chars().take(80).collect();
    assert_eq!(error.status, StatusCode::BAD_REQUEST, "{short}");
    assert!(matches!(error.code, "BadRequest" | "Request_UnsupportedQuery"), "{}: {short}", error.code);
    assert!(!error.message.is_empty());
}

/// Parses a filter and, when it parses, checks and evaluates it too: the tree walks must be as
/// bounded as the parser.
fn exercise_filter(input: &str) -> Result<(), GraphError> {
    let parsed = odata::parse_filter(input);
    match &parsed {
        Ok(filter) => {
            for entity in [&USER, &GROUP, &PROVISIONING_OBJECT_SUMMARY] {
                if let Err(error) = odata::check_filter(filter, entity) {
                    assert_graph_refusal(&error, input);
                }
            }
            odata::matches(filter, &sample());
        }
        Err(error) => assert_graph_refusal(error, input),
    }
    parsed.map(drop)
}

fn nest(kind: usize, n: usize) -> String {
    match kind % 4 {
        0 => format!("{}displayName eq 'x'{}", "(".repeat(n), ")".repeat(n)),
        1 => format!("{}displayName eq 'x'", "not ".repeat(n)),
        2 => {
            let mut s = String::new();
            for i in 0..n {
                s.push_str(&format!("otherMails/any(v{i}:"));
            }
            s.push_str("v0 eq 'a'");
            s.push_str(&")".repeat(n));
            s
        }
        _ => format!("{}displayName eq 'x'{}", "not (".repeat(n), ")".repeat(n)),
    }
}

/// Pieces of the `$filter` grammar, so generated inputs reach past the tokenizer.
fn filter_token() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "(",
        ")",
        "not ",
        " and ",
        " or ",
        "displayName",
        "accountEnabled",
        "otherMails",
        "mail",
        " eq ",
        " ne ",
        " ge ",
        " in ",
        "'x'",
        "'it''s'",
        "'",
        "1",
        "-2.5",
        "true",
        "null",
        "87d349ed-44d7-43e1-9a83-5f2406dee5bd",
        "startsWith(displayName,'a')",
        "endsWith(",
        "contains(mail,'a')",
        "otherMails/any(m:m eq 'a@x.com')",
        "otherMails/any(m:",
        "otherMails/all(m:m eq 'a')",
        "m",
        ",",
        ":",
        "/",
        " ",
    ])
}

proptest! {
    /// Any string at all: a filter or a 400, never a panic.
    #[test]
    fn any_string_is_a_filter_or_a_refusal(input in any::<String>()) {
        let _ = exercise_filter(&input);
    }

    /// Any bytes, as a percent-decoded query would carry them.
    #[test]
    fn any_bytes_are_a_filter_or_a_refusal(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = exercise_filter(&String::from_utf8_lossy(&bytes));
    }

    /// Strings built from the grammar's tokens, where the parser's recursion lives.
    #[test]
    fn grammar_shaped_filters_parse_or_are_refused(tokens in prop::collection::vec(filter_token(), 0..400)) {
        let _ = exercise_filter(&tokens.concat());
    }

    /// Nesting of `(`, `not`, `any(` and `not (`, up to 100,000 deep: accepted up to the limit,
    /// refused past it, never a stack overflow.
    #[test]
    fn deep_nesting_is_refused_past_the_limit(kind in 0usize..4, n in prop_oneof![0usize..=200, 0usize..=100_000]) {
        let input = nest(kind, n);
        let levels = if kind % 4 == 3 { 2 * n } else { n };
        let result = exercise_filter(&input);
        if kind % 4 == 2 && n > 1 {
            // A lambda in a lambda is refused whatever the depth.
            prop_assert!(result.is_err());
        } else if levels <= MAX_FILTER_DEPTH && input.len() <= MAX_OPTION_LENGTH {
            prop_assert!(result.is_ok(), "{kind} {n}: {result:?}");
        } else {
            prop_assert!(result.is_err());
        }
    }

    /// Long `and`/`or` chains up to the length limit: loops in the parser, and a tree that
    /// `check_filter`, `matches` and drop walk without overflowing.
    #[test]
    fn long_chains_are_bounded(clause in prop::sample::select(vec!["a eq 1", "displayName eq 'x'", "(b eq 1)", "not c eq 1"]),
                               joiner in prop::sample::select(vec![" and ", " or "]), n in 1usize..2_000) {
        let input = vec![clause; n].join(joiner);
        let _ = exercise_filter(&input);
    }

    /// `$select`, `$orderby` and `$search`: a value or a 400, whatever the text.
    #[test]
    fn other_options_are_a_value_or_a_refusal(input in any::<String>(), repeat in 1usize..3_000) {
        let long = format!("{input},").repeat(repeat);
        for raw in [&input, &long] {
            if let Err(error) = odata::parse_select(raw, &USER) { assert_graph_refusal(&error, raw) }
            if let Err(error) = odata::parse_orderby(raw, &USER) { assert_graph_refusal(&error, raw) }
            if let Err(error) = odata::parse_search(raw, &GROUP) { assert_graph_refusal(&error, raw) }
        }
    }
}

/// The inputs that once overflowed the stack and killed mock-graph (issue 17): about 1,900 nested
/// `(`, `not` 4,250 times, and nested `any(`.
#[test]
fn the_inputs_that_once_crashed_are_refused() {
    for input in [nest(0, 1_900), nest(1, 4_250), nest(2, 1_000), nest(3, 1_000)] {
        let error = exercise_filter(&input).unwrap_err();
        assert!(matches!(error.code, "BadRequest" | "Request_UnsupportedQuery"));
    }
    // Under the length limit, so the depth limit is what refuses it.
    let error = odata::parse_filter(&nest(0, MAX_FILTER_DEPTH + 1)).unwrap_err();
    assert_eq!(error, odata::too_deep());
    assert!(odata::parse_filter(&nest(0, MAX_FILTER_DEPTH)).is_ok());
    assert!(odata::parse_filter(&nest(2, 1)).is_ok());
    assert_eq!(odata::parse_filter(&nest(2, 2)).unwrap_err().code, "Request_UnsupportedQuery");
}

/// A request's query, percent-encoded where a URI needs it (spaces, quotes); `(` stays raw, as in
/// the request that crashed the server.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for byte in s.bytes() {
        if byte.is_ascii_alphanumeric() || b"()-_.~/:,".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Over HTTP, on `/users` and `/auditLogs/provisioning`: the crashing inputs and a few generated
/// ones answer 400 in Graph's error envelope, and the server keeps serving.
#[tokio::test]
async fn deep_filters_answer_400_in_the_graph_envelope() {
    let state = Config { seed: 11, ..Config::default() }.into_state().expect("a valid config");
    let token = state.world().issue_token();
    let mut inputs = vec![nest(0, 1_900), nest(1, 4_250), nest(2, 500), nest(0, MAX_FILTER_DEPTH + 1)];
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for _ in 0..8 {
        let tokens = prop::collection::vec(filter_token(), 0..200).new_tree(&mut runner).unwrap().current();
        inputs.push(tokens.concat());
    }
    for path in ["/v1.0/users", "/v1.0/auditLogs/provisioning"] {
        for input in &inputs {
            let uri = format!("{path}?$filter={}", encode(input));
            let request = Request::builder()
                .uri(&uri)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::HOST, "127.0.0.1:9200")
                .body(Body::empty())
                .unwrap();
            let response = router(state.clone()).oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            if status == StatusCode::OK {
                assert!(body["value"].is_array(), "{body}");
                continue;
            }
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {}: {body}", uri.len());
            let code = body["error"]["code"].as_str().unwrap_or_default();
            assert!(matches!(code, "BadRequest" | "Request_UnsupportedQuery"), "{body}");
            assert!(body["error"]["message"].is_string(), "{body}");
        }
    }
    let request = Request::builder()
        .uri("/v1.0/users")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::HOST, "127.0.0.1:9200")
        .body(Body::empty())
        .unwrap();
    assert_eq!(router(state).oneshot(request).await.unwrap().status(), StatusCode::OK);
}
