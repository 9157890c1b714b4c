//! Bad input: every case gets AWS's error envelope with the right status, never a panic or a plain
//! text rejection, and leaves the store as it was.

use axum::body::Body;
use axum::http::{Method, Request, header};
use serde_json::json;

use crate::support::*;

struct Case {
    name: &'static str,
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
}

fn case(name: &'static str, method: Method, path: impl Into<String>, body: impl Into<Vec<u8>>, status: u16) -> Case {
    Case { name, method, path: path.into(), content_type: Some("application/scim+json"), body: body.into(), status }
}

#[tokio::test]
async fn bad_input_gets_the_aws_envelope_and_changes_nothing() {
    let mock = Mock::new();
    let user_id = mock.create_user("annie@contoso.com").await;
    let group_id = mock.create_group("SRE").await;
    let valid = user("new@contoso.com").to_string();
    let with = |key: &str, value: serde_json::Value| {
        let mut body = user("new@contoso.com");
        body[key] = value;
        body.to_string()
    };
    let patch_body = |ops: serde_json::Value| patch(ops).to_string();
    let users = "Users".to_owned();
    let groups = "Groups".to_owned();
    let one_user = format!("Users/{user_id}");
    let one_group = format!("Groups/{group_id}");
    let mut cases = vec![
        case("malformed JSON", Method::POST, &users, "{\"userName\": ", 400),
        case("JSON array instead of object", Method::POST, &users, "[1,2]", 400),
        case("JSON scalar", Method::POST, &users, "42", 400),
        case("empty body", Method::POST, &users, "", 400),
        case("invalid UTF-8", Method::POST, &users, vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'], 400),
        case("userName is a number", Method::POST, &users, with("userName", json!(42)), 400),
        case("emails is an object", Method::POST, &users, with("emails", json!({"value": "a@b"})), 400),
        case("active is a number", Method::POST, &users, with("active", json!(1)), 400),
        case("active is a word", Method::POST, &users, with("active", json!("yes")), 400),
        case("name is a string", Method::POST, &users, with("name", json!("Annie")), 400),
        case("unknown schema", Method::POST, &users, with("schemas", json!(["urn:example:evil"])), 400),
        case("unknown attribute", Method::POST, &users, with("favouriteColour", json!("blue")), 400),
        case("userName over 128", Method::POST, &users, with("userName", json!("a".repeat(129))), 400),
        case("displayName over 1024", Method::POST, &users, with("displayName", json!("d".repeat(1025))), 400),
        case("externalId over 256", Method::POST, &users, with("externalId", json!("e".repeat(257))), 400),
        case("control character in title", Method::POST, &users, with("title", json!("a\u{0007}b")), 400),
        case(
            "email display sub-attribute",
            Method::POST,
            &users,
            with("emails", json!([{"value": "a@b", "primary": true, "display": "A"}])),
            400,
        ),
        case("group displayName missing", Method::POST, &groups, "{}", 400),
        case("group members not a list", Method::POST, &groups, r#"{"displayName":"X","members":"u"}"#, 400),
        case(
            "group member unknown",
            Method::POST,
            &groups,
            r#"{"displayName":"X","members":[{"value":"nobody"}]}"#,
            404,
        ),
        case(
            "group member is a group",
            Method::POST,
            &groups,
            format!(r#"{{"displayName":"X","members":[{{"value":"{group_id}"}}]}}"#),
            400,
        ),
        case(
            "patch without schemas",
            Method::PATCH,
            &one_user,
            r#"{"Operations":[{"op":"add","path":"title","value":"x"}]}"#,
            400,
        ),
        case("patch without operations", Method::PATCH, &one_user, patch_body(json!([])), 400),
        case(
            "patch op unknown",
            Method::PATCH,
            &one_user,
            patch_body(json!([{"op": "copy", "path": "title", "value": "x"}])),
            400,
        ),
        case("patch op missing", Method::PATCH, &one_user, patch_body(json!([{"path": "title", "value": "x"}])), 400),
        case(
            "patch path malformed",
            Method::PATCH,
            &one_user,
            patch_body(json!([{"op": "add", "path": "emails[type eq", "value": "x"}])),
            400,
        ),
        case(
            "patch filter operator",
            Method::PATCH,
            &one_user,
            patch_body(json!([{"op": "add", "path": "emails[type ne \"work\"].value", "value": "x"}])),
            400,
        ),
        case(
            "patch value wrong type",
            Method::PATCH,
            &one_user,
            patch_body(json!([{"op": "replace", "path": "displayName", "value": 5}])),
            400,
        ),
        case(
            "patch makes user invalid",
            Method::PATCH,
            &one_user,
            patch_body(json!([{"op": "replace", "path": "name.familyName", "value": ""}])),
            400,
        ),
        case(
            "patch group members value not list",
            Method::PATCH,
            &one_group,
            patch_body(json!([{"op": "add", "path": "members", "value": "u"}])),
            400,
        ),
        case(
            "patch group unknown member",
            Method::PATCH,
            &one_group,
            patch_body(json!([{"op": "add", "path": "members", "value": [{"value": "nobody"}]}])),
            404,
        ),
        case(
            "patch group to reserved name",
            Method::PATCH,
            &one_group,
            patch_body(json!([{"op": "replace", "path": "displayName", "value": "Administrator"}])),
            400,
        ),
        case(
            "patch unknown user",
            Method::PATCH,
            "Users/nobody",
            patch_body(json!([{"op": "add", "path": "title", "value": "x"}])),
            404,
        ),
        case("put unknown user", Method::PUT, "Users/nobody", valid.clone(), 404),
        case("filter operator co", Method::GET, "Users?filter=userName%20co%20%22a%22", "", 400),
        case(
            "filter injection",
            Method::GET,
            "Users?filter=userName%20eq%20%22x%22%20or%20%221%22%20eq%20%221%22",
            "",
            400,
        ),
        case("filter unquoted", Method::GET, "Users?filter=userName%20eq%20annie", "", 400),
        case("filter parenthesised", Method::GET, "Groups?filter=(displayName%20eq%20%22SRE%22)", "", 400),
        case("filter bad percent-encoding", Method::GET, "Users?filter=%E0%A4%A", "", 400),
        case("count zero", Method::GET, "Users?cursor&count=0", "", 400),
        case("count over 100", Method::GET, "Users?cursor&count=101", "", 400),
        case("count not a number", Method::GET, "Users?cursor&count=ten", "", 400),
        case("cursor forged", Method::GET, "Users?cursor=Zm9yZ2Vk", "", 400),
        case("method not allowed", Method::PUT, &users, valid.clone(), 405),
        case("unknown endpoint", Method::GET, "Widgets", "", 404),
    ];
    cases.push(Case { content_type: None, ..case("missing content type", Method::POST, &users, valid.clone(), 400) });
    cases.push(Case {
        content_type: Some("text/plain"),
        ..case("foreign content type", Method::POST, &users, valid.clone(), 400)
    });
    cases.push(Case {
        content_type: Some("application/x-www-form-urlencoded"),
        ..case("form content type", Method::POST, &users, "userName=a", 400)
    });
    cases.push(case(
        "body over 1 MiB",
        Method::POST,
        &users,
        format!("{{\"userName\":\"{}\"}}", "a".repeat(1024 * 1024 + 1)),
        413,
    ));
    assert!(cases.len() >= 30);

    let before = mock.state_json().await;
    for case in cases {
        let mut request = Request::builder()
            .method(case.method.clone())
            .uri(format!("/{}/scim/v2/{}", mock.tenant, case.path))
            .header(header::AUTHORIZATION, format!("Bearer {}", mock.token));
        if let Some(content_type) = case.content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let answer = mock.send(request.body(Body::from(case.body)).unwrap()).await;
        assert_eq!(answer.status.as_u16(), case.status, "{}: {}", case.name, answer.body);
        assert_envelope(&answer.body, case.status);
        assert_eq!(answer.headers[header::CONTENT_TYPE], "application/json", "{}", case.name);
        assert_eq!(mock.state_json().await, before, "{} changed the store", case.name);
    }
}

/// What hyper answers on its own, before the service runs, in AWS's envelope with AWS's headers: a
/// URI over 64 KiB (sent raw, as no client library sends one), and 120 headers.
#[tokio::test]
async fn what_hyper_refuses_on_its_own_gets_the_aws_envelope() {
    let mock = mock_scim::MockScim::start().await;
    let users = format!("{}Users", mock.scim_endpoint());
    let path = users.strip_prefix(&mock.uri()).unwrap();
    let request = format!("GET {path}?filter={} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000));
    let long = raw_exchange(&mock.uri(), request.as_bytes()).await;
    let answer = reqwest::Client::new().get(&users).bearer_auth(mock.token()).headers(many_headers());
    let answer = answer.send().await.unwrap();
    let many = (answer.status().as_u16(), format!("{:?}", answer.headers()), answer.text().await.unwrap());
    for (case, (status, headers, body), expected) in [("a URI over 64 KiB", long, 414), ("120 headers", many, 431)] {
        assert_eq!(status, expected, "{case}");
        assert!(headers.contains("x-amzn-requestid"), "{case}: {headers}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error", "{case}: {body}");
        assert_eq!(body["status"], status.to_string(), "{case}: {body}");
        assert_eq!(body["detail"], "Request is unparsable, syntactically incorrect, or violates schema.", "{case}");
    }
}
