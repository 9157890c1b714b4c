//! `mock-scim`: serves AWS IAM Identity Center's SCIM endpoint on loopback.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use mock_scim::clock::Clock;
use mock_scim::server::{Config, DEFAULT_START};
use scenarios::serve::cli::{self, Failure, say};
use scenarios::tls::TlsArgs;
use tokio::net::TcpListener;

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
    #[command(flatten)]
    limits: scenarios::connections::LimitArgs,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    cli::run(|| serve_until_stopped(args))
}

async fn serve_until_stopped(args: Args) -> Result<(), Failure> {
    let generated = args.admin_token.is_none();
    let admin_token = args.admin_token.unwrap_or_else(cli::random_token);
    let clock = if args.real_clock { Clock::real() } else { Clock::virtual_at(DEFAULT_START) };
    let tls = args.tls.mode().prepare(args.seed).map_err(Failure::setup)?;
    cli::write_ca(args.tls.ca_out.as_deref(), tls.as_ref())?;
    let state = Config { admin_token: admin_token.clone(), seed: args.seed, clock, ..Config::default() }.into_state();
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|err| Failure::setup(format!("binding {}: {err}", args.listen)))?;
    let address = listener.local_addr().map_err(Failure::setup)?;
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
        let (tenant, token) = state.world().create_tenant(None).map_err(Failure::setup)?;
        say(format_args!("SCIM endpoint: {scheme}://{address}/{tenant}/scim/v2/"));
        say(format_args!("access token: {}", token.secret));
    }
    let identity = tls.map(|tls| tls.identity);
    let limits = args.limits.limits();
    scenarios::tls::serve_within(listener, identity.as_ref(), mock_scim::router(state), limits, cli::stop_signal())
        .await
        .map_err(|err| Failure::serving(format!("serving: {err}")))
}
