//! The mocks' connection limits against slow and idle clients: headers sent a byte at a time are
//! cut off at the header deadline, an idle keep-alive connection is closed at the idle deadline, and
//! past the connection cap a new client waits until a place frees. Real sockets and real time, with
//! deadlines in the hundreds of milliseconds; what is asserted is that the server acts, never how
//! fast. Requests hyper refuses on its own reach the client as the app renders them, and a body
//! trickled past its deadline is the app's 408.

use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::routing::{get, post};
use scenarios::connections::{BodyDeadline, Limits, Refused, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn start(limits: Limits) -> std::net::SocketAddr {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/", get(|| async { "hello" }))
        .route("/echo", post(echo))
        .fallback(|| async { (StatusCode::NOT_FOUND, [("x-rendered", "app")]) })
        .layer(axum::middleware::from_fn(refusals));
    tokio::spawn(serve(listener, None, app, limits, std::future::pending()));
    address
}

/// Renders hyper's refusals, as the mocks' pipeline does, before any route.
async fn refusals(request: Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    match request.extensions().get::<Refused>() {
        Some(Refused(status)) => {
            (*status, [("x-rendered", "app")], format!("{{\"refused\":{}}}", status.as_u16())).into_response()
        }
        None => next.run(request).await,
    }
}

/// Reads the body within the connection's deadline, as the mocks' pipeline does.
async fn echo(request: Request) -> (StatusCode, String) {
    let Some(BodyDeadline(deadline)) = request.extensions().get::<BodyDeadline>().copied() else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "no deadline".into());
    };
    match tokio::time::timeout(deadline, axum::body::to_bytes(request.into_body(), 1024)).await {
        Ok(Ok(bytes)) => (StatusCode::OK, String::from_utf8_lossy(&bytes).into_owned()),
        Ok(Err(_)) => (StatusCode::BAD_REQUEST, "unreadable".into()),
        Err(_) => (StatusCode::REQUEST_TIMEOUT, "too slow".into()),
    }
}

const QUICK: Limits = Limits {
    max_connections: 2,
    header_timeout: Duration::from_millis(300),
    idle_timeout: Duration::from_millis(300),
    body_timeout: Duration::from_millis(300),
};

/// Reads until the server closes the connection (or the guard runs out): what it sent.
async fn until_closed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 1024];
    let read = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.ok().map(|()| seen)
}

#[tokio::test]
async fn headers_trickled_a_byte_at_a_time_are_cut_off() {
    let address = start(QUICK).await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    let (mut reader, mut writer) = stream.split();
    let trickle = async {
        for byte in b"GET / HTTP/1.1\r\nHost: slow\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if writer.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let mut buffer = [0u8; 256];
    let closed = async { matches!(reader.read(&mut buffer).await, Ok(0) | Err(_)) };
    let outcome = tokio::time::timeout(Duration::from_secs(10), async { tokio::join!(trickle, closed).1 }).await;
    assert_eq!(outcome, Ok(true), "the server closed the connection before the headers were done");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let address = start(QUICK).await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: idle\r\n\r\n").await.unwrap();
    let seen = until_closed(&mut stream).await.expect("the server closed the idle connection");
    let text = String::from_utf8_lossy(&seen);
    assert!(text.starts_with("HTTP/1.1 200") && text.ends_with("hello"), "{text}");
}

#[tokio::test]
async fn past_the_cap_a_client_waits_for_a_place() {
    let limits = Limits { max_connections: 1, idle_timeout: Duration::from_millis(500), ..Limits::default() };
    let address = start(limits).await;
    // The one place, held by an idle client.
    let holder = TcpStream::connect(address).await.unwrap();
    let mut waiting = TcpStream::connect(address).await.unwrap();
    waiting.write_all(b"GET / HTTP/1.1\r\nHost: second\r\nConnection: close\r\n\r\n").await.unwrap();
    // Served only once the holder's idle deadline frees the place.
    let seen = until_closed(&mut waiting).await.expect("the waiting client was served in the end");
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200"));
    let mut holder = holder;
    assert!(
        until_closed(&mut holder).await.is_some_and(|seen| seen.is_empty()),
        "the idle holder was closed unanswered"
    );
}

/// What the server answers `request` with, up to its closing the connection.
async fn exchange(address: std::net::SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    let seen = until_closed(&mut stream).await.expect("the server answered and closed");
    String::from_utf8_lossy(&seen).into_owned()
}

#[tokio::test]
async fn what_hyper_refuses_on_its_own_the_app_renders() {
    let address = start(Limits::default()).await;
    let long_uri = format!("GET /?q={} HTTP/1.1\r\nHost: long\r\n\r\n", "a".repeat(70_000));
    let many_headers: String = (0..120).map(|i| format!("X-Header-{i}: {i}\r\n")).collect();
    let many_headers = format!("GET / HTTP/1.1\r\nHost: many\r\n{many_headers}\r\n");
    let cases: [(&str, &[u8], u16); 4] = [
        ("not HTTP", b"NOT HTTP AT ALL\r\n\r\n", 400),
        ("a control byte in a header", b"GET / HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n", 400),
        ("a URI over 64 KiB", long_uri.as_bytes(), 414),
        ("120 headers", many_headers.as_bytes(), 431),
    ];
    for (case, request, status) in cases {
        let answer = exchange(address, request).await;
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{case}: {head}");
        assert!(head.contains("\r\nx-rendered: app\r\n"), "{case}: the app's headers: {head}");
        assert!(head.contains(&format!("\r\ncontent-length: {}\r\n", body.len())), "{case}: {head}");
        assert!(head.contains("\r\nconnection: close\r\n"), "{case}: {head}");
        assert_eq!(body, format!("{{\"refused\":{status}}}"), "{case}");
    }
    // The app's own empty 404 passes as it is.
    let answer = exchange(address, b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 404 ") && answer.contains("x-rendered: app") && answer.ends_with("\r\n\r\n"));
}

#[tokio::test]
async fn a_body_trickled_past_its_deadline_is_the_apps_408() {
    let address = start(QUICK).await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(b"POST /echo HTTP/1.1\r\nHost: slow\r\nContent-Length: 100\r\n\r\nab").await.unwrap();
    // Bytes keep coming, so the idle deadline never passes; the body's does.
    let (mut reader, mut writer) = stream.split();
    let trickle = async {
        for _ in 0..100 {
            if writer.write_all(b"c").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let answer = async {
        let mut seen = Vec::new();
        let mut buffer = [0u8; 1024];
        while !seen.ends_with(b"too slow") {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buffer[..n]),
            }
        }
        String::from_utf8_lossy(&seen).into_owned()
    };
    let answer = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::select! { answer = answer => answer, () = trickle => String::from("the whole body went in") }
    })
    .await
    .expect("answered within the guard");
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
}
