//! What every benchmark needs: the loopback floor, a seeded random source, statistics, `/proc`
//! readings, and one checked HTTP round trip.
//!
//! Included by path (`#[path = "../../bench-support/common.rs"] mod common;`) from the benches of
//! mock-scim, mock-graph and harness: not a crate, so each bench compiles only the files it names.

// Each bench uses its own part of this file.
#![allow(dead_code)]

use std::error::Error as _;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{Json, Router};
use reqwest::RequestBuilder;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// A running mock and a clone of its state, for the in-process seeding and readings that must not
/// load the server being measured (the handles give out no state). Derefs to the handle.
pub struct Held<M, S> {
    /// The running mock.
    pub mock: M,
    /// Its state, as passed to `start_over`.
    pub state: S,
}

impl<M, S> std::ops::Deref for Held<M, S> {
    type Target = M;

    fn deref(&self) -> &M {
        &self.mock
    }
}

/// Size of the floor's echoed JSON body, as in the performance anchors.
pub const ECHO_BYTES: usize = 600;

// ---------------------------------------------------------------------------------------------
// The loopback floor
// ---------------------------------------------------------------------------------------------

/// The axum hello-world floor, served from this process on a free loopback port; returns its origin.
///
/// - `GET /` → `{"ok":true}`;
/// - `POST /echo` → the JSON body parsed and sent back, as a JSON API handles a small document;
/// - `POST /raw` → the body back unparsed, whatever its size (for bulk bodies such as seeding).
pub async fn start_floor() -> String {
    let app = Router::new()
        .route("/", get(|| async { Json(json!({"ok": true})) }))
        .route("/echo", post(|Json(body): Json<Value>| async move { Json(body) }))
        .route("/raw", post(|body: Bytes| async move { body }).layer(DefaultBodyLimit::disable()));
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("a loopback port for the floor");
    let address = listener.local_addr().expect("the floor's address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{address}")
}

/// A SCIM-user-shaped JSON document of about [`ECHO_BYTES`] bytes, the floor's `POST` body.
pub fn echo_body() -> Bytes {
    let mut value = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "externalId": "user000001",
        "userName": "user000001@contoso.onmicrosoft.com",
        "displayName": "User 1",
        "name": {"givenName": "Given1", "familyName": "Sur1", "formatted": "Given1 Sur1"},
        "emails": [{"value": "user000001@contoso.onmicrosoft.com", "type": "work", "primary": true}],
        "active": true
    });
    let size = serde_json::to_vec(&value).expect("json").len();
    value["nickName"] = Value::String("x".repeat(ECHO_BYTES.saturating_sub(size + 14)));
    Bytes::from(serde_json::to_vec(&value).expect("json"))
}

/// The client every bench sends its own requests with: keep-alive, no proxy, no Nagle delay.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().tcp_nodelay(true).build().expect("reqwest client")
}

// ---------------------------------------------------------------------------------------------
// One checked round trip
// ---------------------------------------------------------------------------------------------

/// Sends a request; returns the time until its whole body arrived, its status and its body, or the
/// transport error with its causes and the time it took to fail.
pub async fn try_send(request: RequestBuilder) -> Result<(Duration, u16, Bytes), (Duration, String)> {
    let sent = Instant::now();
    let failed = |err: reqwest::Error| {
        let mut message = err.to_string();
        let mut source = err.source();
        while let Some(cause) = source {
            let _ = write!(message, ": {cause}");
            source = cause.source();
        }
        (sent.elapsed(), message)
    };
    let response = request.send().await.map_err(failed)?;
    let status = response.status().as_u16();
    let body = response.bytes().await.map_err(failed)?;
    Ok((sent.elapsed(), status, body))
}

/// [`try_send`], panicking on a transport error or unless the status is `expect`.
pub async fn send(request: RequestBuilder, expect: u16, what: &str) -> (Duration, Bytes) {
    let (elapsed, status, body) =
        try_send(request).await.unwrap_or_else(|(_, err)| panic!("{what}: request failed: {err}"));
    assert_eq!(status, expect, "{what} answered {status}: {}", snippet(&body));
    (elapsed, body)
}

/// The start of a body, for a message.
pub fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(300).collect()
}

// ---------------------------------------------------------------------------------------------
// Randomness and statistics
// ---------------------------------------------------------------------------------------------

/// SplitMix64: enough randomness to pick users, and reproducible.
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z % n as u64) as usize
    }

    /// `k` distinct indices below `n`.
    pub fn distinct(&mut self, k: usize, n: usize) -> Vec<usize> {
        let mut seen = std::collections::HashSet::new();
        let mut picks = Vec::with_capacity(k);
        while picks.len() < k.min(n) {
            let i = self.below(n);
            if seen.insert(i) {
                picks.push(i);
            }
        }
        picks
    }
}

/// The `q` quantile (0 < q ≤ 1) of some durations, nearest rank.
pub fn percentile(samples: &[Duration], q: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

pub fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2 }
}

pub fn median_f64(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 }
}

pub fn mean_f64(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// The `q` quantile of some numbers, nearest rank; NaN when there are none.
pub fn percentile_f64(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

pub fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "MISS" }
}

// ---------------------------------------------------------------------------------------------
// This process, from /proc
// ---------------------------------------------------------------------------------------------

/// A `/proc/self/status` field given in kB (`"VmRSS:"`, `"VmHWM:"`), in MiB.
pub fn proc_status_mib(field: &str) -> Option<f64> {
    status_mib("/proc/self/status", field)
}

/// A field of another process's `/proc/PID/status`, in MiB.
pub fn pid_status_mib(pid: u32, field: &str) -> Option<f64> {
    status_mib(&format!("/proc/{pid}/status"), field)
}

fn status_mib(path: &str, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(path).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line[field.len()..].trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb / 1024.0)
}

/// `VmRSS …, VmHWM (peak) …` of this process, for a progress line.
pub fn memory() -> String {
    let show = |field| proc_status_mib(field).map_or_else(|| "n/a".to_owned(), |v| format!("{v:.1} MiB"));
    format!("VmRSS {}, VmHWM (peak) {}", show("VmRSS:"), show("VmHWM:"))
}

/// CPU time of every thread of this process so far (`/proc/self/task/*/schedstat`, in ns).
pub fn process_cpu() -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return Duration::ZERO };
    let nanos: u64 = tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|line| line.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}
