//! HTTPS: the handle and the binary serve TLS with a CA made from the seed; OpenID metadata for MSAL;
//! the engine reaches a SCIM endpoint over HTTPS when it trusts its CA, and not otherwise.

use std::process::{Command, Stdio};

use mock_graph::{Config, MockGraph};
use mock_scim::MockScim;
use scenarios::tls::{Authority, TlsMode};
use serde_json::{Value, json};

const AWS_TEMPLATE: &str = "21ed01d2-ec13-4e9e-86c1-cd546719ebc4";

fn tls() -> TlsMode {
    TlsMode::Generated { names: Vec::new() }
}

fn trusting(pems: &[&str]) -> reqwest::Client {
    let mut builder = reqwest::Client::builder();
    for pem in pems {
        builder = builder.add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

async fn graph_over_tls(seed: u64, scim_trusted_ca_pem: Vec<String>) -> MockGraph {
    MockGraph::start_with(Config { seed, tls: tls(), scim_trusted_ca_pem, ..Config::default() }).await.unwrap()
}

async fn scim_over_tls(seed: u64) -> MockScim {
    MockScim::start_with(mock_scim::Config { seed, tls: tls(), ..mock_scim::Config::default() }).await.unwrap()
}

/// Instantiates the AWS app with a job whose credentials point at `scim`, then runs Test Connection.
async fn test_connection(graph: &MockGraph, http: &reqwest::Client, scim: &MockScim) -> (u16, Value) {
    let token = graph.access_token().await;
    let call = async |method: reqwest::Method, path: String, body: Value| -> (u16, Value) {
        let answer = http.request(method, format!("{}/v1.0{path}", graph.uri())).bearer_auth(&token).json(&body);
        let answer = answer.send().await.unwrap();
        (answer.status().as_u16(), answer.json().await.unwrap_or(Value::Null))
    };
    let instantiate = format!("/applicationTemplates/{AWS_TEMPLATE}/instantiate");
    let (_, app) = call(reqwest::Method::POST, instantiate, json!({"displayName": "AWS IAM Identity Center"})).await;
    let sp = app["servicePrincipal"]["id"].as_str().unwrap().to_owned();
    let jobs = format!("/servicePrincipals/{sp}/synchronization/jobs");
    let (_, job) = call(reqwest::Method::POST, jobs, json!({"templateId": "aWSSingleSignon"})).await;
    let job = job["id"].as_str().unwrap().to_owned();
    let secrets = json!({"value": [
        {"key": "BaseAddress", "value": scim.scim_endpoint()},
        {"key": "SecretToken", "value": scim.token()},
    ]});
    let saved = call(reqwest::Method::PUT, format!("/servicePrincipals/{sp}/synchronization/secrets"), secrets).await;
    assert_eq!(saved.0, 204);
    let validate = format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/validateCredentials");
    call(reqwest::Method::POST, validate, json!({"useSavedCredentials": true})).await
}

#[tokio::test]
async fn the_handle_serves_https_and_openid_metadata_names_its_own_origin() {
    let graph = graph_over_tls(7, Vec::new()).await;
    assert!(graph.uri().starts_with("https://127.0.0.1:"));
    let ca = graph.ca_certificate_pem().expect("a generated certificate comes with its CA");
    assert_eq!(ca, Authority::from_seed(7).certificate_pem());
    let http = trusting(&[ca]);
    let tenant = graph.tenant();
    for named in [&tenant.domain, &tenant.id] {
        let metadata: Value = http
            .get(format!("{}/{named}/v2.0/.well-known/openid-configuration", graph.uri()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        // Entra writes the tenant's GUID whichever form the request named.
        assert_eq!(metadata["token_endpoint"], format!("{}/{}/oauth2/v2.0/token", graph.uri(), tenant.id));
        assert_eq!(metadata["issuer"], format!("{}/{}/v2.0", graph.uri(), tenant.id));
        assert!(metadata["authorization_endpoint"].as_str().unwrap().starts_with("https://"));
    }
    let unknown = http.get(format!("{}/nope/v2.0/.well-known/openid-configuration", graph.uri())).send().await.unwrap();
    assert_eq!(unknown.status(), 400);
    let unknown: Value = unknown.json().await.unwrap();
    assert_eq!(unknown["error"], "invalid_tenant");
    assert_eq!(unknown["error_codes"], json!([90002]));

    // The token endpoint the metadata names works, and links name https.
    let token: Value = http
        .post(format!("{}/{}/oauth2/v2.0/token", graph.uri(), tenant.id))
        .form(&[
            ("client_id", tenant.client_id.as_str()),
            ("client_secret", tenant.client_secret.as_str()),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let delta: Value = http
        .get(format!("{}/v1.0/users/delta", graph.uri()))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let link = delta["@odata.deltaLink"].as_str().unwrap();
    assert!(link.starts_with(&format!("{}/v1.0/", graph.uri())), "{link}");
}

#[tokio::test]
async fn the_engine_reaches_scim_over_https_only_with_its_ca_trusted() {
    // Same seed: one CA, which a generated certificate makes the engine trust.
    let scim = scim_over_tls(3).await;
    assert!(scim.scim_endpoint().starts_with("https://"));
    let graph = graph_over_tls(3, Vec::new()).await;
    let http = trusting(&[graph.ca_certificate_pem().unwrap()]);
    assert_eq!(test_connection(&graph, &http, &scim).await.0, 204);

    // Another seed's CA is not trusted: Test Connection fails, naming the reason.
    let stranger = scim_over_tls(4).await;
    let (status, answer) = test_connection(&graph, &http, &stranger).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "CredentialValidationUnavailable", "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("UnknownIssuer"), "the reason is named: {message}");

    // Trusted explicitly, it passes.
    let trusting_graph = graph_over_tls(3, vec![stranger.ca_certificate_pem().unwrap().to_owned()]).await;
    let http = trusting(&[trusting_graph.ca_certificate_pem().unwrap()]);
    assert_eq!(test_connection(&trusting_graph, &http, &stranger).await.0, 204);
}

#[test]
fn unreadable_certificates_and_bad_trust_files_exit_2_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("mock-graph-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("missing-cert.pem");
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n").unwrap();
    let cases: [Vec<&std::ffi::OsStr>; 3] = [
        vec!["--tls-cert".as_ref(), missing.as_os_str(), "--tls-key".as_ref(), garbage.as_os_str()],
        vec!["--tls-cert".as_ref(), garbage.as_os_str(), "--tls-key".as_ref(), garbage.as_os_str()],
        vec!["--scim-trust-ca".as_ref(), missing.as_os_str()],
    ];
    for args in cases {
        let output = Command::new(env!("CARGO_BIN_EXE_mock-graph"))
            .args(["--listen", "127.0.0.1:0"])
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        let named = if args.contains(&missing.as_os_str()) { "missing-cert.pem" } else { "garbage.pem" };
        assert!(stderr.contains(named), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "nothing announced, nothing served: {args:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
