//! The seeded authority and the mocks' HTTPS serving, met by a real client (reqwest on rustls) over
//! loopback.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use scenarios::tls::{Authority, TlsError};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// Serves `hello` over TLS on a free port of `host`, with the authority of `seed`.
async fn serve(host: &str, seed: u64) -> std::net::SocketAddr {
    let tcp = TcpListener::bind((host, 0)).await.unwrap();
    let identity = Authority::from_seed(seed).issue(&[]).unwrap();
    let address = tcp.local_addr().unwrap();
    let app = Router::new().route("/", get(|| async { "hello" }));
    tokio::spawn(async move { scenarios::tls::serve(tcp, Some(&identity), app, std::future::pending()).await });
    address
}

fn client_trusting(seed: u64) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(Authority::from_seed(seed).certificate_pem().as_bytes()).unwrap();
    reqwest::Client::builder().add_root_certificate(ca).timeout(Duration::from_secs(5)).build().unwrap()
}

#[test]
fn one_seed_gives_one_certificate_byte_for_byte() {
    let first = Authority::from_seed(7);
    assert_eq!(first.certificate_pem(), Authority::from_seed(7).certificate_pem());
    assert_ne!(first.certificate_pem(), Authority::from_seed(8).certificate_pem());
    assert!(first.certificate_pem().starts_with("-----BEGIN CERTIFICATE-----"));
}

#[tokio::test]
async fn a_client_trusting_the_ca_pem_verifies_every_loopback_name() {
    let address = serve("127.0.0.1", 7).await;
    let client = client_trusting(7);
    for host in ["127.0.0.1", "localhost"] {
        let answer = client.get(format!("https://{host}:{}/", address.port())).send().await.unwrap();
        assert_eq!(answer.text().await.unwrap(), "hello", "{host}");
    }
    // IPv6 loopback where the machine has it.
    if TcpListener::bind("[::1]:0").await.is_ok() {
        let v6 = serve("::1", 7).await;
        let answer = client.get(format!("https://[::1]:{}/", v6.port())).send().await.unwrap();
        assert_eq!(answer.text().await.unwrap(), "hello");
    }
}

#[tokio::test]
async fn another_seeds_ca_is_not_trusted() {
    let address = serve("127.0.0.1", 7).await;
    let refused = client_trusting(8).get(format!("https://127.0.0.1:{}/", address.port())).send().await;
    assert!(refused.is_err(), "a certificate from seed 7 must not verify against seed 8's CA");
}

#[tokio::test]
async fn plain_http_garbage_and_silence_are_closed_and_others_are_served() {
    let address = serve("127.0.0.1", 3).await;
    // A client that connects and says nothing holds no one up.
    let _silent = TcpStream::connect(address).await.unwrap();
    for bytes in [&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..], &[0x16, 0x03, 0x01, 0xff, 0xff, 0, 1, 2, 3][..]] {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(bytes).await.unwrap();
        let mut answer = Vec::new();
        // Closed: end of stream or a reset, never a hang (a TLS alert may come first).
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
        assert!(read.is_ok(), "connection left open after {bytes:?}");
        assert!(!String::from_utf8_lossy(&answer).contains("hello"));
    }
    let answer = client_trusting(3).get(format!("https://localhost:{}/", address.port())).send().await.unwrap();
    assert_eq!(answer.text().await.unwrap(), "hello");
}

#[test]
fn unreadable_or_mismatched_files_are_named() {
    let dir = std::env::temp_dir().join(format!("scenarios-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("missing.pem");
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, Authority::from_seed(1).certificate_pem()).unwrap();

    let err = scenarios::tls::ServerIdentity::from_pem_files(&missing, &garbage).unwrap_err();
    assert!(matches!(&err, TlsError::File { path, .. } if *path == missing), "{err}");
    assert!(err.to_string().contains("missing.pem"));
    let err = scenarios::tls::ServerIdentity::from_pem_files(&garbage, &garbage).unwrap_err();
    assert!(err.to_string().contains("garbage.pem") && err.to_string().contains("no CERTIFICATE"), "{err}");
    // A certificate with no key in the key file.
    let err = scenarios::tls::ServerIdentity::from_pem_files(&ca, &ca).unwrap_err();
    assert!(err.to_string().contains("ca.pem") && err.to_string().contains("private key"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
