//! What a child process measured, as it tells the parent: one line of JSON on stdout, after
//! [`RESULT_PREFIX`]. Everything else a child prints is progress, relayed as it comes.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::load::Sample;

/// Starts the line that carries a child's result.
pub const RESULT_PREFIX: &str = "report-result: ";

/// A part of the run: measured, not measurable here (and why), or failed (and how).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Outcome<T> {
    Measured(T),
    /// Could not be set up (scim2-server without pip, say): the report says so and goes on.
    Unavailable(String),
    /// A wrong answer or a crash: the row fails loudly.
    Failed(String),
}

impl<T> Outcome<T> {
    pub fn measured(&self) -> Option<&T> {
        match self {
            Outcome::Measured(value) => Some(value),
            _ => None,
        }
    }
}

/// Throughput and latency of one side of a row.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Rate {
    pub rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub requests: usize,
}

impl From<Sample> for Rate {
    fn from(sample: Sample) -> Rate {
        Rate { rps: sample.rps, p50_us: micros(sample.p50), p99_us: micros(sample.p99), requests: sample.requests }
    }
}

pub fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The loopback floor on its own.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FloorResult {
    /// (`GET` or `POST echo`, tasks, rate).
    pub rows: Vec<(String, usize, Rate)>,
    pub echo_bytes: usize,
}

/// mock-scim at one scale.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScimScale {
    pub users: usize,
    pub groups: usize,
    pub memberships: usize,
    pub rows: Vec<ScimRow>,
    pub rss_before_mib: f64,
    pub rss_seeded_mib: f64,
    pub hwm_mib: f64,
    /// What the load left behind, checked.
    pub note: String,
}

impl ScimScale {
    pub fn objects(&self) -> usize {
        self.users + self.groups + self.memberships
    }

    pub fn row(&self, op: &str, tasks: usize) -> Option<&ScimRow> {
        self.rows.iter().find(|row| row.op == op && row.tasks == tasks)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScimRow {
    pub op: String,
    pub tasks: usize,
    pub ours: Rate,
    /// The floor's matching load (small `GET` for a filter, echo `POST` otherwise), run right before.
    pub floor: Rate,
    /// Median over floor-then-ours pairs of ours ÷ floor req/s.
    pub ratio: f64,
}

/// mock-scim and scim2-server on the same workload, in the same child.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerResult {
    /// How scim2-server was served.
    pub deployment: String,
    /// The pinned versions pip installed.
    pub versions: String,
    pub rows: Vec<PeerRow>,
    /// scim2-server's process: VmRSS once it answered, then VmRSS and VmHWM after the workload.
    pub peer_rss_start_mib: f64,
    pub peer_rss_end_mib: f64,
    pub peer_hwm_mib: f64,
    /// Users each server holds at the end.
    pub users: usize,
    /// This child's VmRSS before mock-scim started and after the workload (mock-scim and the client).
    pub ours_rss_start_mib: f64,
    pub ours_rss_end_mib: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerRow {
    pub op: String,
    pub tasks: usize,
    pub ours: Rate,
    pub peer: Rate,
    /// Median over the mock-scim-then-scim2-server pairs of ours ÷ theirs req/s.
    pub ratio: f64,
}

/// The engine at one scale and one `exportConcurrency`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EngineRun {
    pub users: usize,
    pub groups: usize,
    pub members: usize,
    /// `exportConcurrency` set through the switch, or `None` when the engine ran as it is.
    pub concurrency: Option<usize>,
    /// What the row calls it: `1`, `4, the default`, `1, no switch`.
    pub label: String,
    pub seed_s: f64,
    pub initial_s: f64,
    pub scim_requests: u64,
    pub scim_writes: u64,
    /// The sequential floor for this mix of reads and writes, µs per request, pooled before and after.
    pub floor_us_per_request: f64,
    /// No-change incremental cycles, ms: the first right after the initial cycle.
    pub incremental_ms: Vec<f64>,
    pub incremental_writes: usize,
    pub probe: Option<Probe>,
    pub rss_before_mib: f64,
    /// VmHWM after the cycles, before the check reads mock-scim's state back.
    pub hwm_mib: f64,
    pub verified: String,
}

/// Graph `GET /v1.0/users?$top=1` latency, idle and while the initial cycle runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Probe {
    /// Back to back, before the cycle.
    pub idle: Latency,
    /// During the cycle, each from when it was sent.
    pub during: Latency,
    /// During the cycle, each from when it was due (every `period_ms`).
    pub during_from_due: Latency,
    pub period_ms: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Latency {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of(samples: &[Duration]) -> Latency {
        if samples.is_empty() {
            return Latency { count: 0, p50_ms: f64::NAN, p99_ms: f64::NAN, max_ms: f64::NAN };
        }
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        Latency {
            count: samples.len(),
            p50_ms: ms(crate::common::percentile(samples, 0.5)),
            p99_ms: ms(crate::common::percentile(samples, 0.99)),
            max_ms: ms(samples.iter().copied().max().unwrap_or_default()),
        }
    }
}

/// Graph's list and full delta round at one scale.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GraphLists {
    pub users: usize,
    pub list: Walked,
    pub delta: Walked,
    pub floor_get_p50_us: f64,
    pub hwm_mib: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Walked {
    pub what: String,
    pub pages: usize,
    pub walks: usize,
    /// One whole walk, summed page latencies, median over the walks.
    pub total_ms: f64,
    pub page_p50_us: f64,
    pub page_p99_us: f64,
    pub bytes: usize,
}

/// Prints a child's result for the parent.
pub fn emit<T: Serialize>(outcome: &Outcome<T>) {
    println!("{RESULT_PREFIX}{}", serde_json::to_string(outcome).expect("a result serialises"));
}

/// Runs this benchmark again as a child with `args`; relays its progress; returns its result, or
/// `Failed` with the end of its stderr (where a panic says what went wrong).
pub fn run_child<T: DeserializeOwned>(args: &[String]) -> Outcome<T> {
    let exe = std::env::current_exe().expect("path of this benchmark");
    eprintln!("--- child: report {}", args.join(" "));
    let mut child = match Command::new(exe).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn() {
        Ok(child) => child,
        Err(err) => return Outcome::Failed(format!("could not start the child process: {err}")),
    };
    let stderr = child.stderr.take().expect("piped stderr");
    let tail = std::thread::spawn(move || relay_stderr(stderr));
    let mut result = None;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            match line.strip_prefix(RESULT_PREFIX) {
                Some(json) => result = Some(serde_json::from_str::<Outcome<T>>(json)),
                None => println!("{line}"),
            }
        }
    }
    let status = child.wait();
    let tail = tail.join().unwrap_or_default();
    match (status, result) {
        (Ok(status), Some(Ok(outcome))) if status.success() => outcome,
        (Ok(status), Some(Err(err))) if status.success() => Outcome::Failed(format!("unreadable result: {err}")),
        (Ok(status), _) => Outcome::Failed(format!("{status}: {}", panic_message(&tail))),
        (Err(err), _) => Outcome::Failed(format!("could not wait for the child: {err}")),
    }
}

/// Copies a child's stderr to ours as it comes; returns its last lines.
fn relay_stderr(stderr: impl Read) -> Vec<String> {
    let mut tail = Vec::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        eprintln!("{line}");
        tail.push(line);
        if tail.len() > 40 {
            tail.remove(0);
        }
    }
    tail
}

/// The panic's message from a child's last stderr lines, or those lines.
fn panic_message(tail: &[String]) -> String {
    match tail.iter().position(|line| line.contains("panicked at")) {
        Some(at) => tail[at..].iter().take(4).cloned().collect::<Vec<_>>().join(" "),
        None => tail.iter().rev().take(3).rev().cloned().collect::<Vec<_>>().join(" "),
    }
}
