//! Issue 17: a marker secret planted everywhere a secret can go, in both mocks, is found neither in
//! their journals nor in `GET …/synchronization/secrets`; bodies of unauthenticated requests are not
//! kept.

use mock_graph::{Config, MockGraph};
use mock_scim::MockScim;
use reqwest::{Client, Method};
use serde_json::{Value, json};

const MARKER: &str = "MARKER-5ecret-42";

async fn journal(client: &Client, uri: &str, admin: &str) -> Value {
    client.get(format!("{uri}/_admin/journal")).bearer_auth(admin).send().await.unwrap().json().await.unwrap()
}

fn leaks(what: &str, text: &str) -> Vec<String> {
    // The marker, and its percent- or base64-encoded forms, must appear nowhere.
    let encoded = MARKER.replace('-', "%2D");
    if text.contains(MARKER) || text.contains(&encoded) { vec![what.to_owned()] } else { Vec::new() }
}

#[tokio::test]
async fn a_planted_secret_appears_in_no_journal_and_no_secrets_answer() {
    let config = Config { client_secret: MARKER.into(), ..Config::default() };
    let graph = MockGraph::start_with(config).await.unwrap();
    let tenant = graph.tenant();
    let client = Client::new();
    let token_url = format!("{}/{}/oauth2/v2.0/token", graph.uri(), tenant.domain);
    let form = |name: &str| {
        format!(
            "grant_type=client_credentials&client_id={}&{name}={MARKER}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default",
            tenant.client_id
        )
    };
    // With a Content-Type a token, without one a refusal (the body is not read as a form), the name
    // percent-encoded or not: the journal keeps each request, the secret in none.
    for (body, content_type) in [
        (form("client_secret"), Some("application/x-www-form-urlencoded")),
        (form("client_secret"), None),
        (form("client%5Fsecret"), Some("application/x-www-form-urlencoded")),
        (form("client%5fsecret"), None),
    ] {
        let mut request = client.post(&token_url).body(body.clone());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), if content_type.is_some() { 200 } else { 400 }, "{body} {content_type:?}");
    }
    let token = graph.access_token().await;
    let call = |method: Method, path: &str, body: Option<String>| {
        let mut request = client.request(method, format!("{}/v1.0{path}", graph.uri())).bearer_auth(&token);
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body);
        }
        request.send()
    };
    // A bearer that is the marker (refused), and an access_token query parameter.
    let refused = client.get(format!("{}/v1.0/users", graph.uri())).bearer_auth(MARKER).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    call(Method::GET, &format!("/users?access_token={MARKER}"), None).await.unwrap();
    call(Method::GET, &format!("/users?%61ccess%5Ftoken={MARKER}"), None).await.unwrap();
    // The synchronization secrets, each credential key.
    let app = call(
        Method::POST,
        "/applicationTemplates/21ed01d2-ec13-4e9e-86c1-cd546719ebc4/instantiate",
        Some(json!({"displayName": "AWS IAM Identity Center"}).to_string()),
    )
    .await
    .unwrap()
    .json::<Value>()
    .await
    .unwrap();
    let sp = app["servicePrincipal"]["id"].as_str().unwrap().to_owned();
    let keys = ["SecretToken", "Oauth2ClientSecret", "Oauth2RefreshToken", "Oauth2AccessToken", "ConsumerSecret"];
    let mut pairs: Vec<Value> = keys.iter().map(|key| json!({"key": key, "value": MARKER})).collect();
    pairs.push(json!({"key": "BaseAddress", "value": "https://scim.example/scim/v2/"}));
    let secrets_path = format!("/servicePrincipals/{sp}/synchronization/secrets");
    let put = call(Method::PUT, &secrets_path, Some(json!({"value": pairs}).to_string())).await.unwrap();
    assert_eq!(put.status(), 204);
    let secrets = call(Method::GET, &secrets_path, None).await.unwrap().text().await.unwrap();
    assert!(secrets.contains("BaseAddress") && secrets.contains("https://scim.example/scim/v2/"), "{secrets}");
    let mut found = leaks("GET …/synchronization/secrets", &secrets);
    // A malformed JSON body and a user's password.
    call(Method::POST, "/users", Some(format!(r#"{{"userName":"a","password":"{MARKER}""#))).await.unwrap();
    call(Method::PATCH, &secrets_path, Some(format!(r#"{{"client_secret": "{MARKER}", oops"#))).await.unwrap();
    let user = json!({"accountEnabled": true, "displayName": "A", "mailNickname": "a",
        "userPrincipalName": "a@contoso.com", "passwordProfile": {"password": MARKER}});
    call(Method::POST, "/users", Some(user.to_string())).await.unwrap();

    let scim = MockScim::start().await;
    let users = format!("{}Users", scim.scim_endpoint());
    let scim_user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "pat",
        "displayName": "Pat", "name": {"givenName": "P", "familyName": "T"}, "password": MARKER});
    // AWS refuses a password (400), but the request is journaled all the same.
    let refused = client.post(&users).bearer_auth(scim.token()).json(&scim_user).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    client.get(format!("{users}?access_token={MARKER}")).bearer_auth(scim.token()).send().await.unwrap();
    client.post(&users).bearer_auth(MARKER).json(&scim_user).send().await.unwrap();
    client
        .post(&users)
        .bearer_auth(scim.token())
        .header("content-type", "application/scim+json")
        .body(format!(r#"{{"userName":"q","password":"{MARKER}"#))
        .send()
        .await
        .unwrap();

    let graph_journal = journal(&client, &graph.uri(), graph.admin_token()).await.to_string();
    let scim_journal = journal(&client, &scim.uri(), scim.admin_token()).await.to_string();
    found.extend(leaks("mock-graph's journal", &graph_journal));
    found.extend(leaks("mock-scim's journal", &scim_journal));
    assert!(found.is_empty(), "the marker leaked into {found:?}\ngraph: {graph_journal}\nscim: {scim_journal}");
    assert!(graph_journal.contains("Bearer <redacted>") && scim_journal.contains("<redacted>"));
}

#[tokio::test]
async fn bodies_of_unauthenticated_requests_are_not_kept() {
    let graph = MockGraph::start().await;
    let scim = MockScim::start().await;
    let client = Client::new();
    let big = format!(r#"{{"displayName":"{}"}}"#, "x".repeat(512 * 1024));
    for (uri, url, admin) in [
        (graph.uri(), format!("{}/v1.0/users", graph.uri()), graph.admin_token()),
        (scim.uri(), format!("{}Users", scim.scim_endpoint()), scim.admin_token()),
    ] {
        let answer =
            client.post(&url).header("content-type", "application/json").body(big.clone()).send().await.unwrap();
        assert_eq!(answer.status(), 401, "{url}");
        let journal = journal(&client, &uri, admin).await;
        let entry = journal.as_array().unwrap().last().unwrap();
        assert_eq!(entry["response"]["status"], 401);
        assert_eq!(entry["request"]["body"], json!({"omitted": "unauthenticated", "bytes": big.len()}), "{url}");
    }
}

#[tokio::test]
async fn unauthenticated_megabytes_leave_the_journal_small() {
    // The finding: 300 POSTs of 1 MB without a token grew each mock by about 290 MiB.
    let graph_state = Config::default().into_state().unwrap();
    let graph = MockGraph::start_over(graph_state.clone(), &scenarios::tls::TlsMode::Off, 0).await.unwrap();
    let scim_state = mock_scim::Config::default().into_state();
    let scim = MockScim::start_over(scim_state.clone(), &scenarios::tls::TlsMode::Off, 0).await.unwrap();
    let client = Client::new();
    let megabyte = format!(r#"{{"displayName":"{}"}}"#, "x".repeat(1_000_000));
    for url in [format!("{}/v1.0/users", graph.uri()), format!("{}Users", scim.scim_endpoint())] {
        for _ in 0..30 {
            let answer = client.post(&url).body(megabyte.clone()).send().await.unwrap();
            assert_eq!(answer.status(), 401);
        }
    }
    let graph_bytes = graph_state.world().core.journal.bytes();
    let scim_bytes = scim_state.world().core.journal.bytes();
    eprintln!("30 unauthenticated 1 MB POSTs: mock-graph's journal {graph_bytes} bytes, mock-scim's {scim_bytes}");
    assert!(graph_bytes < 30 * 4096 && scim_bytes < 30 * 4096, "{graph_bytes} {scim_bytes}");
}

#[tokio::test]
async fn journal_bytes_is_a_validated_switch_of_both_mocks_that_bounds_the_journal() {
    let graph = MockGraph::start().await;
    let scim = MockScim::start().await;
    let client = Client::new();
    let token = graph.access_token().await;
    for (uri, admin, url, bearer) in [
        (graph.uri(), graph.admin_token().to_owned(), format!("{}/v1.0/users", graph.uri()), token.clone()),
        (scim.uri(), scim.admin_token().to_owned(), format!("{}Users", scim.scim_endpoint()), scim.token().to_owned()),
    ] {
        let switches = format!("{uri}/_admin/switches");
        let get =
            || async { client.get(&switches).bearer_auth(&admin).send().await.unwrap().json::<Value>().await.unwrap() };
        assert_eq!(get().await["journalBytes"], 256 * 1024 * 1024, "{uri}");
        for bad in [json!({"journalBytes": 100}), json!({"journalBytes": -1}), json!({"journalBytes": "1 MiB"})] {
            let answer = client.patch(&switches).bearer_auth(&admin).json(&bad).send().await.unwrap();
            assert_eq!(answer.status(), 400, "{bad}");
            let error = answer.json::<Value>().await.unwrap();
            assert!(error["error"].as_str().unwrap().contains("journalBytes"), "{error}");
        }
        let cap = 64 * 1024;
        let answer =
            client.patch(&switches).bearer_auth(&admin).json(&json!({"journalBytes": cap})).send().await.unwrap();
        assert_eq!(answer.json::<Value>().await.unwrap()["journalBytes"], cap);
        // Bodies the mocks refuse (400) but journal: 40 of 10 kB each, four times the cap.
        for i in 0..40 {
            let body = json!({"userName": format!("u{i}"), "filler": "x".repeat(10_000)});
            client.post(&url).bearer_auth(&bearer).json(&body).send().await.unwrap();
        }
        let journal = journal(&client, &uri, &admin).await;
        let entries = journal.as_array().unwrap();
        assert!(entries.len() < 10, "{uri}: {} exchanges kept", entries.len());
        let newest = entries.last().unwrap();
        assert_eq!(newest["request"]["body"]["userName"], "u39", "{uri}: the newest is kept");
        assert!(journal.to_string().len() < cap + 16 * 1024, "{uri}: {} bytes of JSON", journal.to_string().len());
        client.post(format!("{uri}/_admin/reset")).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(get().await["journalBytes"], 256 * 1024 * 1024, "{uri}: a reset restores the default");
    }
}
