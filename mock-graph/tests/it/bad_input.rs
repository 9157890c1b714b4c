//! Bad input: Graph's envelope with Graph's codes, never a panic, nothing changed.

use axum::body::Body;
use axum::http::{Method, Request, header};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn bad_input_gets_the_graph_envelope_and_changes_nothing() {
    let mock = Mock::new();
    let annie = mock.create_user("annie@contoso.onmicrosoft.com").await;
    let sre = mock.create_group("SRE").await;
    let with = |key: &str, value: serde_json::Value| {
        let mut body = user("new@contoso.onmicrosoft.com");
        body[key] = value;
        body.to_string()
    };
    let without = |key: &str| {
        let mut body = user("new@contoso.onmicrosoft.com");
        body.as_object_mut().unwrap().remove(key);
        body.to_string()
    };
    let post = Method::POST;
    let get = Method::GET;
    let cases: Vec<(&str, Method, String, String, u16, &str)> = vec![
        ("malformed JSON", post.clone(), "/v1.0/users".into(), "{\"displayName\": ".into(), 400, "BadRequest"),
        ("JSON array", post.clone(), "/v1.0/users".into(), "[]".into(), 400, "BadRequest"),
        ("empty body", post.clone(), "/v1.0/users".into(), String::new(), 400, "BadRequest"),
        (
            "invalid UTF-8",
            post.clone(),
            "/v1.0/users".into(),
            String::from_utf8_lossy(&[b'{', 0xff, b'}']).into_owned(),
            400,
            "BadRequest",
        ),
        (
            "unknown property",
            post.clone(),
            "/v1.0/users".into(),
            with("favouriteColour", json!("blue")),
            400,
            "Request_BadRequest",
        ),
        (
            "accountEnabled a string",
            post.clone(),
            "/v1.0/users".into(),
            with("accountEnabled", json!("true")),
            400,
            "Request_BadRequest",
        ),
        (
            "displayName a number",
            post.clone(),
            "/v1.0/users".into(),
            with("displayName", json!(5)),
            400,
            "Request_BadRequest",
        ),
        ("read-only id", post.clone(), "/v1.0/users".into(), with("id", json!("x")), 400, "Request_BadRequest"),
        (
            "missing passwordProfile",
            post.clone(),
            "/v1.0/users".into(),
            without("passwordProfile"),
            400,
            "Request_BadRequest",
        ),
        (
            "missing userPrincipalName",
            post.clone(),
            "/v1.0/users".into(),
            without("userPrincipalName"),
            400,
            "Request_BadRequest",
        ),
        (
            "UPN with a space",
            post.clone(),
            "/v1.0/users".into(),
            with("userPrincipalName", json!("an nie@contoso.onmicrosoft.com")),
            400,
            "Request_BadRequest",
        ),
        (
            "UPN in an unverified domain",
            post.clone(),
            "/v1.0/users".into(),
            with("userPrincipalName", json!("x@fabrikam.com")),
            400,
            "Request_BadRequest",
        ),
        (
            "duplicate UPN",
            post.clone(),
            "/v1.0/users".into(),
            with("userPrincipalName", json!("annie@contoso.onmicrosoft.com")),
            400,
            "Request_BadRequest",
        ),
        (
            "a 100 KB userPrincipalName",
            post.clone(),
            "/v1.0/users".into(),
            with("userPrincipalName", json!(format!("{}@contoso.onmicrosoft.com", "a".repeat(100_000)))),
            400,
            "Request_BadRequest",
        ),
        (
            "65 characters before the @",
            post.clone(),
            "/v1.0/users".into(),
            with("userPrincipalName", json!(format!("{}@contoso.onmicrosoft.com", "a".repeat(65)))),
            400,
            "Request_BadRequest",
        ),
        (
            "displayName over 256",
            post.clone(),
            "/v1.0/users".into(),
            with("displayName", json!("d".repeat(257))),
            400,
            "Request_BadRequest",
        ),
        (
            "givenName over 64",
            post.clone(),
            "/v1.0/users".into(),
            with("givenName", json!("g".repeat(65))),
            400,
            "Request_BadRequest",
        ),
        (
            "patch surname over 64",
            Method::PATCH,
            format!("/v1.0/users/{annie}"),
            json!({"surname": "s".repeat(65)}).to_string(),
            400,
            "Request_BadRequest",
        ),
        (
            "group without securityEnabled",
            post.clone(),
            "/v1.0/groups".into(),
            json!({"displayName": "x", "mailEnabled": false, "mailNickname": "x"}).to_string(),
            400,
            "Request_BadRequest",
        ),
        (
            "group name over 256",
            post.clone(),
            "/v1.0/groups".into(),
            json!({"displayName": "g".repeat(257), "mailEnabled": false, "mailNickname": "x", "securityEnabled": true})
                .to_string(),
            400,
            "Request_BadRequest",
        ),
        (
            "member ref without @odata.id",
            post.clone(),
            format!("/v1.0/groups/{sre}/members/$ref"),
            json!({"id": annie}).to_string(),
            400,
            "Request_BadRequest",
        ),
        (
            "member ref that is not a URL",
            post.clone(),
            format!("/v1.0/groups/{sre}/members/$ref"),
            json!({"@odata.id": "not a url"}).to_string(),
            400,
            "Request_BadRequest",
        ),
        (
            "member ref to nobody",
            post.clone(),
            format!("/v1.0/groups/{sre}/members/$ref"),
            json!({"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/nobody"}).to_string(),
            404,
            "Request_ResourceNotFound",
        ),
        (
            "group member of itself",
            post.clone(),
            format!("/v1.0/groups/{sre}/members/$ref"),
            json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{sre}")}).to_string(),
            400,
            "Request_BadRequest",
        ),
        (
            "patch unknown user",
            Method::PATCH,
            "/v1.0/users/nobody".into(),
            json!({"jobTitle": "x"}).to_string(),
            404,
            "Request_ResourceNotFound",
        ),
        (
            "patch null displayName",
            Method::PATCH,
            format!("/v1.0/users/{annie}"),
            json!({"displayName": null}).to_string(),
            400,
            "Request_BadRequest",
        ),
        ("unknown user", get.clone(), "/v1.0/users/nobody".into(), String::new(), 404, "Request_ResourceNotFound"),
        ("unknown group", get.clone(), "/v1.0/groups/nobody".into(), String::new(), 404, "Request_ResourceNotFound"),
        ("top 1000", get.clone(), "/v1.0/users?$top=1000".into(), String::new(), 400, "Request_UnsupportedQuery"),
        ("top zero", get.clone(), "/v1.0/users?$top=0".into(), String::new(), 400, "Request_UnsupportedQuery"),
        ("skip", get.clone(), "/v1.0/users?$skip=10".into(), String::new(), 400, "Request_UnsupportedQuery"),
        ("unknown option", get.clone(), "/v1.0/users?$apply=x".into(), String::new(), 400, "BadRequest"),
        ("filter syntax", get.clone(), "/v1.0/users?$filter=displayName%20eq".into(), String::new(), 400, "BadRequest"),
        (
            "filter injection",
            get.clone(),
            "/v1.0/users?$filter=displayName%20eq%20'x'%20or%201%20eq%201;%20drop".into(),
            String::new(),
            400,
            "BadRequest",
        ),
        (
            "filter unknown property",
            get.clone(),
            "/v1.0/users?$filter=favouriteColour%20eq%20'blue'".into(),
            String::new(),
            400,
            "Request_UnsupportedQuery",
        ),
        (
            "filter all()",
            get.clone(),
            "/v1.0/users?$filter=otherMails/all(m:m%20eq%20'x')".into(),
            String::new(),
            400,
            "Request_UnsupportedQuery",
        ),
        (
            "advanced filter without header",
            get.clone(),
            "/v1.0/users?$filter=displayName%20ne%20'x'".into(),
            String::new(),
            400,
            "Request_UnsupportedQuery",
        ),
        ("select unknown", get.clone(), "/v1.0/users?$select=favouriteColour".into(), String::new(), 400, "BadRequest"),
        (
            "orderby unknown",
            get.clone(),
            "/v1.0/users?$orderby=favouriteColour".into(),
            String::new(),
            400,
            "Request_UnsupportedQuery",
        ),
        (
            "search without header",
            get.clone(),
            "/v1.0/groups?$search=%22displayName:x%22".into(),
            String::new(),
            400,
            "Request_UnsupportedQuery",
        ),
        ("count not boolean", get.clone(), "/v1.0/users?$count=maybe".into(), String::new(), 400, "BadRequest"),
        (
            "count segment without header",
            get.clone(),
            "/v1.0/groups/$count".into(),
            String::new(),
            400,
            "Request_BadRequest",
        ),
        ("expand unknown", get.clone(), "/v1.0/groups?$expand=owners".into(), String::new(), 400, "ExpandNotSupported"),
        (
            "forged skiptoken",
            get.clone(),
            "/v1.0/users?$skiptoken=Zm9yZ2Vk".into(),
            String::new(),
            400,
            "Directory_ExpiredPageToken",
        ),
        (
            "forged deltatoken",
            get.clone(),
            "/v1.0/users/delta?$deltatoken=Zm9yZ2Vk".into(),
            String::new(),
            400,
            "Request_BadRequest",
        ),
        (
            "delta with top",
            get.clone(),
            "/v1.0/groups/delta?$top=5".into(),
            String::new(),
            400,
            "Request_UnsupportedQuery",
        ),
        ("unknown segment", get.clone(), "/v1.0/widgets".into(), String::new(), 400, "BadRequest"),
        (
            "unknown cast",
            get.clone(),
            format!("/v1.0/groups/{sre}/members/microsoft.graph.device"),
            String::new(),
            400,
            "BadRequest",
        ),
        ("method not allowed", Method::PUT, "/v1.0/users".into(), "{}".into(), 405, "BadRequest"),
        (
            "body over 1 MiB",
            post.clone(),
            "/v1.0/users".into(),
            format!("{{\"displayName\":\"{}\"}}", "a".repeat(1024 * 1024 + 1)),
            413,
            "RequestEntityTooLarge",
        ),
        (
            "assignment to an unknown SP",
            post.clone(),
            "/v1.0/servicePrincipals/nobody/appRoleAssignedTo".into(),
            "{}".into(),
            404,
            "Request_ResourceNotFound",
        ),
        (
            "instantiate without a name",
            post.clone(),
            "/v1.0/applicationTemplates/21ed01d2-ec13-4e9e-86c1-cd546719ebc4/instantiate".into(),
            "{}".into(),
            400,
            "Request_BadRequest",
        ),
    ];
    assert!(cases.len() >= 30);
    let before = mock.admin(Method::GET, "/_admin/directory", None).await.text;
    for (name, method, path, body, status, code) in cases {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {}", mock.token))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap();
        let answer = mock.send(request).await;
        assert_eq!(answer.status.as_u16(), status, "{name}: {}", answer.text);
        assert_error(&answer, status, code);
        assert_eq!(
            mock.admin(Method::GET, "/_admin/directory", None).await.text,
            before,
            "{name} changed the directory"
        );
    }
}

/// What hyper answers on its own, before the service runs, in Graph's envelope with Graph's
/// headers: a URI over 64 KiB (sent raw, as no client library sends one), and 120 headers over HTTP
/// and HTTPS.
#[tokio::test]
async fn what_hyper_refuses_on_its_own_gets_the_graph_envelope() {
    use mock_graph::{Config, MockGraph};
    use scenarios::tls::TlsMode;
    let check = |case: &str, status: u16, headers: &str, body: &str, message: &str| {
        assert!(headers.contains("request-id"), "{case}: {headers}");
        let body: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        assert_eq!(body["error"]["code"], "BadRequest", "{case} ({status}): {body}");
        assert_eq!(body["error"]["message"], message, "{case}: {body}");
        assert!(body["error"]["innerError"]["request-id"].is_string(), "{case}: {body}");
    };
    let mock = MockGraph::start().await;
    let request = format!("GET /v1.0/users?$filter={} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000));
    let (status, headers, body) = raw_exchange(&mock.uri(), request.as_bytes()).await;
    assert_eq!(status, 414);
    check("a URI over 64 KiB", status, &headers, &body, "The request URI is too long.");
    for tls in [TlsMode::Off, TlsMode::Generated { names: Vec::new() }] {
        let mock = MockGraph::start_with(Config { tls, ..Config::default() }).await.unwrap();
        let mut http = reqwest::Client::builder();
        if let Some(pem) = mock.ca_certificate_pem() {
            http = http.add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap());
        }
        let answer = http.build().unwrap().get(format!("{}/v1.0/users", mock.uri())).headers(many_headers());
        let answer = answer.send().await.unwrap();
        let status = answer.status().as_u16();
        assert_eq!(status, 431);
        let headers = format!("{:?}", answer.headers());
        check("120 headers", status, &headers, &answer.text().await.unwrap(), "The request headers are too large.");
    }
}

/// Entra's longest values are accepted, and with `propertyLengthLimits` off, longer ones too.
#[tokio::test]
async fn values_up_to_entras_longest_are_accepted_and_the_limit_is_a_switch() {
    let mock = Mock::new();
    let longest = format!("{}@contoso.onmicrosoft.com", "a".repeat(64));
    let mut body = user(&longest);
    body["displayName"] = json!("d".repeat(256));
    body["givenName"] = json!("g".repeat(64));
    assert_eq!(mock.call(Method::POST, "/v1.0/users", Some(body)).await.status, 201);
    let over = format!("{}@contoso.onmicrosoft.com", "b".repeat(105));
    assert_eq!(mock.call(Method::POST, "/v1.0/users", Some(user(&over))).await.status, 400);
    let off = mock.admin(Method::PATCH, "/_admin/switches", Some(json!({"propertyLengthLimits": false}))).await;
    assert_eq!(off.status, 200, "{}", off.text);
    assert_eq!(mock.call(Method::POST, "/v1.0/users", Some(user(&over))).await.status, 201);
}

/// A body on `/v1.0` is read as JSON only when it says so: no Content-Type, or another one, is
/// Graph's 400 and creates nothing; with `requireJsonContentType` off it is read all the same.
#[tokio::test]
async fn a_body_that_does_not_say_it_is_json_is_refused() {
    let mock = Mock::new();
    let body = user("new@contoso.onmicrosoft.com").to_string();
    let post = |content_type: Option<&'static str>| {
        let mut request = Request::post("/v1.0/users").header(header::AUTHORIZATION, format!("Bearer {}", mock.token));
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        request.body(Body::from(body.clone())).unwrap()
    };
    let unreadable = "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.";
    let cases = [
        (None, unreadable),
        (Some("text/plain"), "Entity only allows writes with a JSON Content-Type header."),
        (Some("application/x-www-form-urlencoded"), "Entity only allows writes with a JSON Content-Type header."),
    ];
    for (content_type, message) in cases {
        let answer = mock.send(post(content_type)).await;
        assert_error(&answer, 400, "BadRequest");
        assert_eq!(answer.body["error"]["message"], message, "{content_type:?}");
    }
    assert_eq!(mock.get("/v1.0/users").await.body["value"].as_array().unwrap().len(), 0, "nothing was created");
    // JSON with parameters, in any case, is JSON.
    let answer = mock.send(post(Some("Application/JSON; charset=utf-8"))).await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    mock.admin(Method::PATCH, "/_admin/switches", Some(json!({"requireJsonContentType": false}))).await;
    let request = Request::post("/v1.0/users")
        .header(header::AUTHORIZATION, format!("Bearer {}", mock.token))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(user("other@contoso.onmicrosoft.com").to_string()))
        .unwrap();
    assert_eq!(mock.send(request).await.status, 201);
}
