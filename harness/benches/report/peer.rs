//! Part 3: scim2-server, a Python SCIM server from PyPI, on the same workload as mock-scim.
//!
//! The parent makes a venv under `target/bench-venv` and pip-installs `benches/requirements.txt`
//! (exact pins) once; a child serves scim2-server's ASGI application under uvicorn on a free
//! loopback port, waits until it answers, and sends both servers the same requests from the same
//! client, mock-scim first, then stops it. If the venv, pip or the server cannot be had, the part is
//! `Unavailable` with the reason and the run goes on; a wrong answer fails the part.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;

use crate::Plan;
use crate::common::{Rng, client, median_f64, pid_status_mib, proc_status_mib};
use crate::load::{Load, Sample, measure};
use crate::results::{Outcome, PeerResult, PeerRow};
use crate::scim::{bearer, create_load, filter_load};
use crate::throughput::{CONCURRENCY, CREATE, FILTER};

/// How the report describes the deployment measured.
const DEPLOYMENT: &str = "scim2-server's ASGI application (`ASGIApplication` over `AsyncInMemoryStorage`) under \
     uvicorn, one process, `--loop uvloop --http httptools`, access log off, keep-alive 300 s";
/// How long the server may take to answer its first request.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The benches folder: the requirements and the ASGI entry point live there.
fn benches_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches")
}

/// The venv's interpreter, made and filled if the pinned requirements are not already installed.
pub fn setup_venv(target: &Path) -> Result<PathBuf, String> {
    let requirements = benches_dir().join("requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).map_err(|err| format!("{}: {err}", requirements.display()))?;
    let venv = target.join("bench-venv");
    let python = venv.join("bin").join("python");
    let stamp = venv.join("installed-requirements.txt");
    if python.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        eprintln!("scim2-server: venv {} already has {}", venv.display(), requirements.display());
        return Ok(python);
    }
    eprintln!("scim2-server: making the venv {} and pip-installing {}", venv.display(), requirements.display());
    let step = |what: &str, command: &mut Command| -> Result<(), String> {
        let output = command.output().map_err(|err| format!("{what}: could not run: {err}"))?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
        Err(format!("{what} failed ({}): {}", output.status, tail.into_iter().rev().collect::<Vec<_>>().join(" ")))
    };
    step("python3 -m venv", Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv))?;
    step(
        "pip install -r benches/requirements.txt",
        Command::new(&python)
            .args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--quiet", "-r"])
            .arg(&requirements),
    )?;
    std::fs::write(&stamp, &wanted).map_err(|err| format!("{}: {err}", stamp.display()))?;
    Ok(python)
}

/// The pinned versions of the packages that matter, from the requirements file.
fn versions() -> String {
    let text = std::fs::read_to_string(benches_dir().join("requirements.txt")).unwrap_or_default();
    let wanted = ["scim2-server==", "scim2-models==", "uvicorn==", "uvloop==", "httptools=="];
    text.lines().filter(|line| wanted.iter().any(|w| line.starts_with(w))).collect::<Vec<_>>().join(", ")
}

/// scim2-server's process; stopped when dropped.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(5).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join(" ")
    }
}

/// A loopback port nobody listens on right now.
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// Starts the server and waits until it answers (the one place this benchmark sleeps).
async fn start(python: &Path) -> Result<(Server, String), String> {
    let port = free_port().map_err(|err| format!("no free loopback port: {err}"))?;
    let log = python.parent().and_then(Path::parent).unwrap_or(Path::new(".")).join("scim2-server.log");
    let file = File::create(&log).map_err(|err| format!("{}: {err}", log.display()))?;
    let stderr = file.try_clone().map_err(|err| format!("{}: {err}", log.display()))?;
    let child = Command::new(python)
        .args(["-m", "uvicorn", "--app-dir"])
        .arg(benches_dir())
        .arg("scim2_server_asgi:app")
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--loop", "uvloop", "--http", "httptools", "--timeout-keep-alive", "300"])
        .args(["--no-access-log", "--log-level", "warning"])
        // The entry point lives in the source tree: leave no `__pycache__` beside it.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(stderr)
        .spawn()
        .map_err(|err| format!("could not start {}: {err}", python.display()))?;
    let mut server = Server { child, log };
    let origin = format!("http://127.0.0.1:{port}");
    let probe = client();
    let started = Instant::now();
    loop {
        let answer = probe.get(format!("{origin}/v2/ServiceProviderConfig")).send().await;
        if answer.as_ref().is_ok_and(|r| r.status().is_success()) {
            eprintln!("scim2-server: answering on {origin} after {:.1} s", started.elapsed().as_secs_f64());
            return Ok((server, format!("{origin}/v2/")));
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(format!("scim2-server exited ({status}) before answering: {}", server.log_tail()));
        }
        if started.elapsed() > START_TIMEOUT {
            return Err(format!(
                "scim2-server did not answer within {} s: {}",
                START_TIMEOUT.as_secs(),
                server.log_tail()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The same workload against mock-scim and scim2-server: `plan.peer_ops` creates, then as many
/// filters for users created so far, sequential, then again at 16 concurrent; each `plan.reps` times,
/// mock-scim then scim2-server.
pub async fn peer(plan: &Plan, python: &Path) -> Outcome<PeerResult> {
    let (server, peer) = match start(python).await {
        Ok(started) => started,
        Err(reason) => return Outcome::Unavailable(reason),
    };
    let pid = server.child.id();
    let peer_rss_start_mib = pid_status_mib(pid, "VmRSS:").unwrap_or(f64::NAN);
    let ours_rss_start_mib = proc_status_mib("VmRSS:").unwrap_or(f64::NAN);
    let mock = crate::scim::start_scim().await;
    let ours = mock.scim_endpoint();
    let auth = Some(bearer(&mock));
    let client = client();

    // Warm-up: connections open, code paths hot, nothing stored.
    let warm = |endpoint: &str, auth| {
        let url = format!("{endpoint}ServiceProviderConfig");
        Arc::new(Load { method: Method::GET, urls: vec![url], bodies: Vec::new(), auth, expect: 200, check: None })
    };
    measure(&client, &warm(&ours, auth.clone()), plan.warmup, CONCURRENCY).await;
    measure(&client, &warm(&peer, None), plan.warmup, CONCURRENCY).await;

    let mut rng = Rng(0x9ee2);
    let mut created = 0;
    let mut rows = Vec::new();
    let n = plan.peer_ops;
    for (op, tasks) in [(CREATE, 1), (FILTER, 1), (CREATE, CONCURRENCY), (FILTER, CONCURRENCY)] {
        let (mut ours_runs, mut peer_runs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..plan.reps {
            let (ours_load, peer_load) = if op == CREATE {
                created += n;
                let range = created - n..created;
                (create_load(&ours, auth.clone(), "peer", range.clone()), create_load(&peer, None, "peer", range))
            } else {
                let names: Vec<String> = (0..n).map(|_| format!("peer-{}", rng.below(created))).collect();
                (filter_load(&ours, auth.clone(), names.clone()), filter_load(&peer, None, names))
            };
            let ours_run = measure(&client, &ours_load, n, tasks).await;
            let peer_run = measure(&client, &peer_load, n, tasks).await;
            eprintln!(
                "  {op:<6} x{tasks:<2} mock-scim {:>8.0} req/s, scim2-server {:>6.0} req/s: {:.1}x",
                ours_run.rps,
                peer_run.rps,
                ours_run.rps / peer_run.rps
            );
            ratios.push(ours_run.rps / peer_run.rps);
            ours_runs.push(ours_run);
            peer_runs.push(peer_run);
        }
        rows.push(PeerRow {
            op: op.to_owned(),
            tasks,
            ours: Sample::of(&ours_runs).into(),
            peer: Sample::of(&peer_runs).into(),
            ratio: median_f64(ratios),
        });
    }

    // Both hold exactly the users created.
    let held = mock.state.world().tenants[mock.tenant_id()].user_count();
    assert_eq!(held, created, "mock-scim holds every user created");
    let (_, body) =
        crate::common::send(client.get(format!("{peer}Users?count=1")), 200, "scim2-server GET /Users").await;
    let listed: serde_json::Value = serde_json::from_slice(&body).expect("a JSON list response");
    assert_eq!(listed["totalResults"], created, "scim2-server holds every user created: {listed}");

    let result = PeerResult {
        deployment: DEPLOYMENT.to_owned(),
        versions: versions(),
        rows,
        peer_rss_start_mib,
        peer_rss_end_mib: pid_status_mib(pid, "VmRSS:").unwrap_or(f64::NAN),
        peer_hwm_mib: pid_status_mib(pid, "VmHWM:").unwrap_or(f64::NAN),
        users: created,
        ours_rss_start_mib,
        ours_rss_end_mib: proc_status_mib("VmRSS:").unwrap_or(f64::NAN),
    };
    drop(server);
    Outcome::Measured(result)
}
