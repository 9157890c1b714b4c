//! The mocks' connection limits against slow and idle clients: headers sent a byte at a time are
//! cut off at the header deadline, an idle keep-alive connection is closed at the idle deadline, and
//! past the connection cap a new client waits until a place frees. Real sockets and real time, with
//! deadlines in the hundreds of milliseconds; what is asserted is that the server acts, never how
//! fast.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use scenarios::connections::{Limits, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn start(limits: Limits) -> std::net::SocketAddr {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = Router::new().route("/", get(|| async { "hello" }));
    tokio::spawn(serve(listener, None, app, limits, std::future::pending()));
    address
}

const QUICK: Limits =
    Limits { max_connections: 2, header_timeout: Duration::from_millis(300), idle_timeout: Duration::from_millis(300) };

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
    let limits = Limits {
        max_connections: 1,
        header_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_millis(500),
    };
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
