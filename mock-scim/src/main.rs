//! `mock-scim`: serves AWS IAM Identity Center's SCIM endpoint on loopback.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use mock_scim::clock::Clock;
use mock_scim::server::{Config, DEFAULT_START, serve};
use scenarios::tls::TlsArgs;
use tokio::net::TcpListener;

/// Exit code when the mock stopped normally.
const EXIT_OK: u8 = 0;
/// Exit code when it failed while serving.
const EXIT_ERROR: u8 = 1;
/// Exit code when it could not start: port taken, unreadable certificate, bad arguments.
const EXIT_SETUP: u8 = 2;

/// A local AWS IAM Identity Center SCIM v2 endpoint.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on. Loopback by default; anything else exposes the mock to the network.
    #[arg(long, default_value = "127.0.0.1:9100")]
    listen: SocketAddr,
    /// Bearer token for /_admin. A random one is generated and printed when omitted.
    #[arg(long, env = "MOCK_SCIM_ADMIN_TOKEN")]
    admin_token: Option<String>,
    /// Seed for ids, tokens and request ids.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Follow wall time instead of a virtual clock that moves only through /_admin/clock.
    #[arg(long)]
    real_clock: bool,
    /// Create a tenant at start and print its SCIM endpoint and token.
    #[arg(long)]
    tenant: bool,
    #[command(flatten)]
    tls: TlsArgs,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    match run() {
        Ok(code) => ExitCode::from(code),
        Err(Failure::Setup(err)) => {
            eprintln!("error: {err:#}");
            ExitCode::from(EXIT_SETUP)
        }
        Err(Failure::Serving(err)) => {
            eprintln!("error: {err:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Why the mock stopped, which decides its exit code.
enum Failure {
    /// Before serving: nothing was left running.
    Setup(anyhow::Error),
    /// While serving.
    Serving(anyhow::Error),
}

fn run() -> Result<u8, Failure> {
    let args = Args::parse();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime").map_err(Failure::Setup)?;
    runtime.block_on(async {
        let generated = args.admin_token.is_none();
        let admin_token = args.admin_token.unwrap_or_else(random_token);
        let clock = if args.real_clock { Clock::real() } else { Clock::virtual_at(DEFAULT_START) };
        let tls = args.tls.mode().prepare(args.seed).map_err(|err| Failure::Setup(err.into()))?;
        if let (Some(path), Some(pem)) = (&args.tls.ca_out, tls.as_ref().and_then(|tls| tls.ca_pem.as_ref())) {
            std::fs::write(path, pem)
                .with_context(|| format!("writing the CA certificate to {}", path.display()))
                .map_err(Failure::Setup)?;
        }
        let state =
            Config { admin_token: admin_token.clone(), seed: args.seed, clock, ..Config::default() }.into_state();
        let listener = TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))
            .map_err(Failure::Setup)?;
        let address = listener.local_addr().context("reading the bound address").map_err(Failure::Setup)?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        say(format_args!("mock-scim listening on {scheme}://{address}"));
        if let Some(path) = &args.tls.ca_out {
            say(format_args!("CA certificate: {}", path.display()));
        }
        // A token the user chose is not echoed: logs must not carry secrets they did not ask for.
        if generated {
            say(format_args!("admin token: {admin_token}"));
        }
        if args.tenant {
            let (tenant, token) =
                state.world().create_tenant(None).map_err(|err| Failure::Setup(anyhow::Error::msg(err)))?;
            say(format_args!("SCIM endpoint: {scheme}://{address}/{tenant}/scim/v2/"));
            say(format_args!("access token: {}", token.secret));
        }
        let identity = tls.map(|tls| tls.identity);
        serve(listener, identity.as_ref(), state, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")
        .map_err(Failure::Serving)?;
        Ok(EXIT_OK)
    })
}

/// Prints a line to stdout; a closed stdout (a parent that stopped reading) must not stop the mock.
fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// An admin token nobody can guess: the OS's randomness through std's hasher seeds.
fn random_token() -> String {
    use std::hash::{BuildHasher, RandomState};
    (0..4).map(|i| format!("{:016x}", RandomState::new().hash_one(i))).collect()
}
