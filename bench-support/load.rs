//! A load generator: one kind of request, prepared before the clock starts, sent `total` times by
//! `tasks` tasks sharing one `reqwest` client, every status checked and every 50th body checked.
//!
//! Included by path from the benches of mock-scim and harness (see `common.rs`).

// Each bench uses its own part of this file.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};

/// Every how many requests a response body is parsed and checked.
pub const CHECK_EVERY: usize = 50;

/// Checks a sampled response body, given the request's index; panics on a wrong answer.
pub type Check = Box<dyn Fn(usize, &[u8]) + Send + Sync>;

/// One kind of request: a URL and body per request (or one shared by all).
pub struct Load {
    pub method: Method,
    pub urls: Vec<String>,
    pub bodies: Vec<Bytes>,
    pub auth: Option<HeaderValue>,
    pub expect: u16,
    pub check: Option<Check>,
}

impl Load {
    /// `GET url`, answered 200, nothing else checked: the floor's small JSON.
    pub fn get(url: String) -> Arc<Load> {
        Arc::new(Load {
            method: Method::GET,
            urls: vec![url],
            bodies: Vec::new(),
            auth: None,
            expect: 200,
            check: None,
        })
    }

    /// `POST url` of one body, answered 200 with a body of the same size: the floor's echo.
    pub fn echo(url: String, body: Bytes) -> Arc<Load> {
        let size = body.len();
        Arc::new(Load {
            method: Method::POST,
            urls: vec![url],
            bodies: vec![body],
            auth: None,
            expect: 200,
            check: Some(Box::new(move |_, back| assert_eq!(back.len(), size, "the floor echoes every byte"))),
        })
    }
}

fn nth<T>(items: &[T], i: usize) -> &T {
    if items.len() == 1 { &items[0] } else { &items[i] }
}

/// One measurement: throughput over the wall time, and every request's latency, sorted.
pub struct Run {
    pub rps: f64,
    pub latencies: Vec<Duration>,
}

/// Runs `total` requests of a load on `tasks` tasks sharing the client; panics on an unexpected status
/// or a wrong sampled body.
pub async fn measure(client: &reqwest::Client, load: &Arc<Load>, total: usize, tasks: usize) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (client, load, next) = (client.clone(), Arc::clone(load), Arc::clone(&next));
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(total / tasks + 1);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let mut request = client.request(load.method.clone(), nth(&load.urls, i));
                    if let Some(auth) = &load.auth {
                        request = request.header(AUTHORIZATION, auth.clone());
                    }
                    if !load.bodies.is_empty() {
                        request = request.header(CONTENT_TYPE, "application/json").body(nth(&load.bodies, i).clone());
                    }
                    let sent = Instant::now();
                    let response = request.send().await.unwrap_or_else(|err| panic!("request {i} failed: {err}"));
                    let status = response.status().as_u16();
                    let body = response.bytes().await.unwrap_or_else(|err| panic!("body {i} failed: {err}"));
                    latencies.push(sent.elapsed());
                    assert_eq!(
                        status,
                        load.expect,
                        "{} {} answered {status}: {}",
                        load.method,
                        nth(&load.urls, i),
                        String::from_utf8_lossy(&body)
                    );
                    if let Some(check) = load.check.as_ref().filter(|_| i % CHECK_EVERY == 0) {
                        check(i, &body);
                    }
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(total);
    for handle in handles {
        match handle.await {
            Ok(part) => latencies.extend(part),
            Err(err) => std::panic::resume_unwind(err.into_panic()),
        }
    }
    let rps = total as f64 / started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    Run { rps, latencies }
}

/// Several runs of one side of a row: median throughput, latency percentiles over all requests.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub rps: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// Requests over all the runs.
    pub requests: usize,
}

impl Sample {
    pub fn of(runs: &[Run]) -> Sample {
        let mut all: Vec<Duration> = runs.iter().flat_map(|r| r.latencies.iter().copied()).collect();
        all.sort_unstable();
        let at = |q: f64| all[((all.len() as f64 * q).ceil() as usize).clamp(1, all.len()) - 1];
        let rps = super::common::median_f64(runs.iter().map(|r| r.rps).collect());
        Sample { rps, p50: at(0.50), p99: at(0.99), requests: all.len() }
    }
}
