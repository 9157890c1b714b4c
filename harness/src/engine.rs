//! External engines: a user's own sync tool run in place of Entra's provisioning service, once for
//! each cycle that falls due, with both mocks' endpoints and credentials in its environment.
//!
//! The cycles keep Entra's schedule: the first falls due when the scenario starts (as Entra's first
//! cycle does when its job starts), the next every 40 minutes after (mock-graph's `cycleInterval`
//! switch, when the scenario sets it). An `advance` runs every cycle that falls due on its way, each
//! with both clocks at the cycle's instant.

use std::process::Stdio;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use scenarios::scenario::Engine;
use tokio::io::AsyncReadExt as _;

/// The most of each output stream a run keeps: a chatty tool cannot fill the report.
const KEPT_OUTPUT: usize = 64 * 1024;

/// One run of an external engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineRun {
    /// Which cycle, from 1.
    pub cycle: u32,
    /// The cycle's instant on the mocks' clocks.
    pub at: Timestamp,
    /// The exit code; `None` when it was stopped or killed by a signal.
    pub exit_code: Option<i32>,
    /// Whether it outran its time limit and was stopped.
    pub timed_out: bool,
    /// What it wrote to stdout (the first 64 KiB).
    pub stdout: String,
    /// What it wrote to stderr (the first 64 KiB).
    pub stderr: String,
    /// Wall time.
    pub duration: Duration,
}

impl EngineRun {
    /// One line for a report: cycle, instant, outcome, time.
    pub fn summary(&self) -> String {
        let outcome = match (self.timed_out, self.exit_code) {
            (true, _) => "timed out".to_owned(),
            (false, Some(code)) => format!("exit {code}"),
            (false, None) => "killed by a signal".to_owned(),
        };
        format!("engine cycle {} at {}: {outcome} in {} ms", self.cycle, self.at, self.duration.as_millis())
    }
}

/// Why a run could not be made at all.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The program could not be started.
    #[error("the engine {program:?} could not be started: {source}")]
    Spawn {
        /// The program named.
        program: String,
        /// The OS's reason.
        source: std::io::Error,
    },
    /// The command is empty.
    #[error("the engine's command is empty")]
    NoCommand,
}

/// An external engine for one scenario: its command, the environment it gets, and its schedule.
#[derive(Debug)]
pub struct ExternalEngine {
    engine: Engine,
    env: Vec<(&'static str, String)>,
    next_due: Timestamp,
    interval: SignedDuration,
    /// Every run so far, in order.
    pub runs: Vec<EngineRun>,
}

impl ExternalEngine {
    /// An engine whose first cycle falls due at `start`, then every `interval`.
    pub fn new(
        engine: Engine,
        env: Vec<(&'static str, String)>,
        start: Timestamp,
        interval: SignedDuration,
    ) -> ExternalEngine {
        ExternalEngine { engine, env, next_due: start, interval, runs: Vec::new() }
    }

    /// When the next cycle falls due.
    pub fn next_due(&self) -> Timestamp {
        self.next_due
    }

    /// Runs the cycle that is due, with the clocks already at its instant, and schedules the next.
    pub async fn run_due(&mut self) -> Result<&EngineRun, EngineError> {
        let at = self.next_due;
        self.next_due = at.saturating_add(self.interval).unwrap_or(Timestamp::MAX);
        let cycle = u32::try_from(self.runs.len() + 1).unwrap_or(u32::MAX);
        let (program, args) = self.engine.command.split_first().ok_or(EngineError::NoCommand)?;
        let mut command = tokio::process::Command::new(program);
        command
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("ENGINE_CYCLE", cycle.to_string())
            .env("ENGINE_NOW", at.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // Its own process group, so that a run past its limit is stopped with whatever it started.
        #[cfg(unix)]
        command.process_group(0);
        let started = Instant::now();
        let mut child = command.spawn().map_err(|source| EngineError::Spawn { program: program.clone(), source })?;
        let stdout = child.stdout.take().map(read_kept);
        let stderr = child.stderr.take().map(read_kept);
        let (exit_code, timed_out) = match tokio::time::timeout(self.engine.timeout(), child.wait()).await {
            Ok(Ok(status)) => (status.code(), false),
            Ok(Err(_)) => (None, false),
            Err(_) => {
                stop_group(&child);
                let _ = child.kill().await;
                (None, true)
            }
        };
        let stdout = match stdout {
            Some(reading) => reading.await.unwrap_or_default(),
            None => String::new(),
        };
        let stderr = match stderr {
            Some(reading) => reading.await.unwrap_or_default(),
            None => String::new(),
        };
        self.runs.push(EngineRun { cycle, at, exit_code, timed_out, stdout, stderr, duration: started.elapsed() });
        Ok(self.runs.last().unwrap_or_else(|| unreachable!("a run was just pushed")))
    }
}

/// Kills the run's process group: the tool and anything it started, which would otherwise keep its
/// output open.
fn stop_group(child: &tokio::process::Child) {
    #[cfg(unix)]
    if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    }
    #[cfg(not(unix))]
    let _ = child;
}

/// Reads a stream to its end in the background, keeping its first [`KEPT_OUTPUT`] bytes.
fn read_kept(mut stream: impl tokio::io::AsyncRead + Unpin + Send + 'static) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move {
        let mut kept = Vec::new();
        let mut buffer = [0u8; 8192];
        // Read to the end, so that a tool writing more than is kept is not blocked on a full pipe.
        while let Ok(n) = stream.read(&mut buffer).await {
            if n == 0 {
                break;
            }
            let room = KEPT_OUTPUT.saturating_sub(kept.len());
            kept.extend_from_slice(&buffer[..n.min(room)]);
        }
        String::from_utf8_lossy(&kept).into_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(script: &str, timeout_seconds: u64) -> ExternalEngine {
        let engine = Engine {
            command: vec!["sh".into(), "-c".into(), script.into()],
            timeout_seconds: Some(timeout_seconds),
            tls: None,
        };
        let start = scenarios::clock::DEFAULT_START;
        ExternalEngine::new(
            engine,
            vec![("SCIM_URL", "http://127.0.0.1:1/t/scim/v2/".into())],
            start,
            SignedDuration::from_mins(40),
        )
    }

    #[tokio::test]
    async fn a_run_gets_the_endpoints_and_its_cycle_and_keeps_its_output_and_exit_code() {
        let mut engine = engine("echo \"$SCIM_URL $ENGINE_CYCLE $ENGINE_NOW\"; echo oops >&2; exit 3", 10);
        let run = engine.run_due().await.unwrap().clone();
        assert_eq!(run.stdout, "http://127.0.0.1:1/t/scim/v2/ 1 2026-01-01T00:00:00Z\n");
        assert_eq!((run.stderr.as_str(), run.exit_code, run.timed_out), ("oops\n", Some(3), false));
        assert_eq!(engine.next_due(), "2026-01-01T00:40:00Z".parse::<Timestamp>().unwrap());
        assert_eq!(engine.run_due().await.unwrap().cycle, 2);
    }

    #[tokio::test]
    async fn a_run_past_its_limit_is_stopped_and_a_flood_of_output_is_cut() {
        let mut engine = engine("head -c 200000 /dev/zero | tr '\\0' x; sleep 30", 1);
        let run = engine.run_due().await.unwrap();
        assert!(run.timed_out, "{}", run.summary());
        assert_eq!(run.exit_code, None);
        assert_eq!(run.stdout.len(), KEPT_OUTPUT);
        assert!(run.duration < Duration::from_secs(20), "stopped at its limit, not waited for");
    }

    #[tokio::test]
    async fn a_program_that_does_not_exist_is_an_error_naming_it() {
        let mut engine = engine("", 1);
        engine.engine.command = vec!["/no/such/engine".into()];
        let err = engine.run_due().await.unwrap_err();
        assert!(err.to_string().starts_with("the engine \"/no/such/engine\" could not be started"), "{err}");
    }
}
