//! What both mock binaries do alike: exit codes, lines on stdout, generated secrets, and waiting
//! for Ctrl-C or SIGTERM.

use std::process::ExitCode;

/// Why a binary stopped, which decides its exit code.
#[derive(Debug)]
pub enum Failure {
    /// Before serving: a port taken, an unreadable certificate, bad arguments. Nothing was left
    /// running. Exit code 2.
    Setup(String),
    /// While serving. Exit code 1.
    Serving(String),
}

impl Failure {
    /// A setup failure from anything that displays.
    pub fn setup(err: impl std::fmt::Display) -> Failure {
        Failure::Setup(err.to_string())
    }

    /// A failure while serving from anything that displays.
    pub fn serving(err: impl std::fmt::Display) -> Failure {
        Failure::Serving(err.to_string())
    }
}

/// Runs a binary's body on a multi-threaded runtime and turns its outcome into an exit code:
/// 0 when it stopped normally, 1 when serving failed, 2 when it could not start.
pub fn run<F: Future<Output = Result<(), Failure>>>(body: impl FnOnce() -> F) -> ExitCode {
    let outcome = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(body()),
        Err(err) => Err(Failure::Setup(format!("starting the async runtime: {err}"))),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Setup(err)) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
        Err(Failure::Serving(err)) => {
            eprintln!("error: {err}");
            ExitCode::from(1)
        }
    }
}

/// Prints a line to stdout; a closed stdout (a parent that stopped reading) must not stop the mock.
pub fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// A secret nobody can guess: the OS's randomness through std's hasher seeds.
pub fn random_token() -> String {
    use std::hash::{BuildHasher, RandomState};
    (0..4).map(|i| format!("{:016x}", RandomState::new().hash_one(i))).collect()
}

/// Resolves on Ctrl-C, or on SIGTERM where there is one (what `docker stop` sends).
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Writes the CA certificate a generated TLS identity made to `path`, when both are there.
pub fn write_ca(path: Option<&std::path::Path>, tls: Option<&crate::tls::Prepared>) -> Result<(), Failure> {
    if let (Some(path), Some(pem)) = (path, tls.and_then(|tls| tls.ca_pem.as_ref())) {
        std::fs::write(path, pem)
            .map_err(|err| Failure::Setup(format!("writing the CA certificate to {}: {err}", path.display())))?;
    }
    Ok(())
}
