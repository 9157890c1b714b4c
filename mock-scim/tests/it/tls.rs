//! The `mock-scim` binary over HTTPS: `--tls --ca-out` writes the seed's CA, SCIM answers over TLS,
//! the admin API names `https` endpoints, plain HTTP and garbage are closed without harm, and an
//! unreadable certificate stops it at start with exit code 2.

use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::Running;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_scim_over_https_with_the_ca_it_writes() {
    let dir = std::env::temp_dir().join(format!("mock-scim-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_path = dir.join("ca.pem");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-scim"))
        .args(["--listen", "127.0.0.1:0", "--admin-token", "t", "--seed", "5", "--tenant", "--tls", "--ca-out"])
        .arg(&ca_path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut lines = BufReader::new(stdout).lines();
    let printed: Vec<String> = lines.by_ref().take(4).map(Result::unwrap).collect();
    let base = printed[0].strip_prefix("mock-scim listening on ").unwrap().to_owned();
    assert!(base.starts_with("https://127.0.0.1:"), "{printed:?}");
    assert_eq!(printed[1], format!("CA certificate: {}", ca_path.display()));
    let endpoint = printed[2].strip_prefix("SCIM endpoint: ").unwrap().to_owned();
    let token = printed[3].strip_prefix("access token: ").unwrap().to_owned();
    let pem = std::fs::read_to_string(&ca_path).unwrap();
    assert_eq!(pem, scenarios::tls::Authority::from_seed(5).certificate_pem(), "the seed's CA, byte for byte");

    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let users = client.get(format!("{endpoint}Users")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(users.status(), 200);
    let tenants: Value =
        client.get(format!("{base}/_admin/tenants")).bearer_auth("t").send().await.unwrap().json().await.unwrap();
    assert!(tenants[0]["scimEndpoint"].as_str().unwrap().starts_with("https://"), "{tenants}");

    // Plain HTTP and a garbage handshake: closed, nothing answered, and the mock goes on serving.
    let address = base.strip_prefix("https://").unwrap().to_owned();
    for bytes in [&b"GET /_admin/health HTTP/1.1\r\nHost: x\r\n\r\n"[..], &[0x16, 3, 1, 0xff, 0xff, 9, 9, 9][..]] {
        let mut stream = TcpStream::connect(&address).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        stream.write_all(bytes).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        assert!(!String::from_utf8_lossy(&answer).contains("200 OK"), "{answer:?}");
    }
    let again = client.get(format!("{endpoint}Users")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(again.status(), 200);
    drop(running);
    drop(lines);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unreadable_certificate_stops_the_binary_with_exit_code_2() {
    let missing = std::env::temp_dir().join("mock-scim-no-such-cert.pem");
    let output = Command::new(env!("CARGO_BIN_EXE_mock-scim"))
        .args(["--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&missing)
        .arg("--tls-key")
        .arg(&missing)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("mock-scim-no-such-cert.pem"), "{stderr}");
    assert!(output.stdout.is_empty());
}
