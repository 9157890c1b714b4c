//! HTTP/1.1 over a bare `TcpStream`: hostile requests are sent byte for byte as built (a malformed
//! request line, invalid UTF-8, 120 headers), which no HTTP client library lets through; and the
//! slow clients, whose point is the timing of each byte.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one hostile exchange may take before it counts as a connection error.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);

/// A response as read off the wire.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// Header names (lowercased) and values.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Answer {
    /// A header's value, by lowercase name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// One request with `Connection: close` already in `request`: written while the answer is read, so
/// that a server answering 413 before the body is all sent is still heard.
pub async fn exchange(address: SocketAddr, request: Vec<u8>) -> Result<Answer, String> {
    let run = async {
        let stream = TcpStream::connect(address).await.map_err(|err| format!("connect: {err}"))?;
        let (mut reader, mut writer) = stream.into_split();
        let write = async move {
            // A write error after the server answered early (and closed) is expected; the read decides.
            let _ = writer.write_all(&request).await;
            let _ = writer.flush().await;
            writer
        };
        let read = async {
            let mut buffer = Vec::new();
            let result = reader.read_to_end(&mut buffer).await;
            (buffer, result)
        };
        let (_writer, (buffer, result)) = tokio::join!(write, read);
        match parse(&buffer) {
            Some(answer) => Ok(answer),
            None => Err(match result {
                Err(err) => format!("read: {err}"),
                Ok(_) if buffer.is_empty() => "closed without an answer".to_owned(),
                Ok(_) => format!("unreadable answer: {:?}", preview(&buffer, 40)),
            }),
        }
    };
    tokio::time::timeout(EXCHANGE_TIMEOUT, run).await.unwrap_or_else(|_| Err("timed out".to_owned()))
}

/// Parses a whole response (the connection closed after it).
fn parse(buffer: &[u8]) -> Option<Answer> {
    let end = buffer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buffer[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let raw = &buffer[end + 4..];
    let chunked = headers.iter().any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked { dechunk(raw) } else { raw.to_vec() };
    Some(Answer { status, headers, body })
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(line_end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&raw[..line_end]).ok().and_then(|s| usize::from_str_radix(s.trim(), 16).ok());
        let Some(size) = size.filter(|s| *s > 0) else { break };
        let start = line_end + 2;
        let stop = (start + size).min(raw.len());
        body.extend_from_slice(&raw[start..stop]);
        raw = raw.get(stop + 2..).unwrap_or_default();
    }
    body
}

/// The first `n` bytes, printable.
pub fn preview(bytes: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(n)]).replace(['\r', '\n', '|'], " ");
    if bytes.is_empty() { "(empty)".to_owned() } else { text }
}

/// A request: request line, `Host`, `Connection: close`, the given headers, `Content-Length` when a
/// body is given, and the body.
pub fn request(method: &str, target: &[u8], headers: &[(&str, String)], body: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(target.len() + body.map_or(0, <[u8]>::len) + 256);
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target);
    out.extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (name, value) in headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    if let Some(body) = body {
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        out.extend_from_slice(body);
    } else {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// How a slow connection ended.
#[derive(Debug, Clone, Copy)]
pub enum Closed {
    /// The server closed (or reset) it after this long; `answered` when it sent a response first.
    After { seconds: f64, answered: bool },
    /// Still open when the measurement gave up.
    NotWithin(f64),
}

/// Sends `at_once`, then `trickled` one byte a second, and measures from the connection's start
/// when the server gives up on it, at most `cap`.
pub async fn trickle(address: SocketAddr, at_once: &[u8], trickled: &[u8], cap: Duration) -> Result<Closed, String> {
    let mut stream = TcpStream::connect(address).await.map_err(|err| format!("connect: {err}"))?;
    let started = Instant::now();
    let mut answered = false;
    let mut buffer = [0u8; 4096];
    stream.write_all(at_once).await.map_err(|err| format!("write: {err}"))?;
    for byte in trickled {
        if started.elapsed() >= cap {
            return Ok(Closed::NotWithin(cap.as_secs_f64()));
        }
        if stream.write_all(&[*byte]).await.is_err() {
            return Ok(Closed::After { seconds: started.elapsed().as_secs_f64(), answered });
        }
        // Wait a second for the next byte, listening meanwhile for the server's answer or close.
        match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buffer)).await {
            Err(_) => {}
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(Closed::After { seconds: started.elapsed().as_secs_f64(), answered }),
            Ok(Ok(_)) => {
                answered = true;
                return wait_close(&mut stream, started, cap, answered).await;
            }
        }
    }
    wait_close(&mut stream, started, cap, answered).await
}

/// One request answered, then nothing: measures how long the server keeps the idle connection.
pub async fn idle_after(address: SocketAddr, request: &[u8], cap: Duration) -> Result<Closed, String> {
    let mut stream = TcpStream::connect(address).await.map_err(|err| format!("connect: {err}"))?;
    stream.write_all(request).await.map_err(|err| format!("write: {err}"))?;
    let mut buffer = [0u8; 4096];
    let read = stream.read(&mut buffer).await.map_err(|err| format!("read: {err}"))?;
    if read == 0 {
        return Err("closed without an answer".to_owned());
    }
    // The idle clock starts when the answer has been written, about now.
    let started = Instant::now();
    wait_close(&mut stream, started, cap, true).await
}

async fn wait_close(stream: &mut TcpStream, started: Instant, cap: Duration, answered: bool) -> Result<Closed, String> {
    let mut buffer = [0u8; 4096];
    loop {
        let left = cap.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Err(_) => return Ok(Closed::NotWithin(cap.as_secs_f64())),
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(Closed::After { seconds: started.elapsed().as_secs_f64(), answered }),
            Ok(Ok(_)) => {}
        }
    }
}

/// Opens `count` connections that send nothing, then times a fresh client's request until it is
/// answered (the idle ones hold the cap until their header deadline closes them). Returns the
/// seconds until the fresh answer and how many of the idle ones the server had closed by then.
pub async fn crowd(
    address: SocketAddr,
    count: usize,
    fresh: Vec<u8>,
    cap: Duration,
) -> Result<(f64, u16, usize), String> {
    let mut idle = Vec::with_capacity(count);
    for _ in 0..count {
        idle.push(TcpStream::connect(address).await.map_err(|err| format!("connect #{}: {err}", idle.len() + 1))?);
    }
    let started = Instant::now();
    let answer = tokio::time::timeout(cap, exchange(address, fresh))
        .await
        .map_err(|_| format!("no answer within {} s", cap.as_secs()))??;
    let seconds = started.elapsed().as_secs_f64();
    let mut closed = 0;
    for stream in &mut idle {
        let mut byte = [0u8; 1];
        if let Ok(Ok(0) | Err(_)) = tokio::time::timeout(Duration::from_millis(1), stream.read(&mut byte)).await {
            closed += 1;
        }
    }
    Ok((seconds, answer.status, closed))
}
