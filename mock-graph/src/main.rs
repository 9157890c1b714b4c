//! `mock-graph`: serves the Microsoft Graph slice of an Entra tenant on loopback.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use mock_graph::server::{Config, DEFAULT_START};
use scenarios::clock::Clock;
use scenarios::serve::cli::{self, Failure, say};
use scenarios::tls::TlsArgs;
use tokio::net::TcpListener;

/// A local, stateful Microsoft Graph for an Entra tenant.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on. Loopback by default.
    #[arg(long, default_value = "127.0.0.1:9200")]
    listen: SocketAddr,
    /// Bearer token for /_admin. A random one is generated and printed when omitted.
    #[arg(long, env = "MOCK_GRAPH_ADMIN_TOKEN")]
    admin_token: Option<String>,
    /// Seed for ids, tokens and request ids.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The tenant's domain.
    #[arg(long, default_value = "contoso.onmicrosoft.com")]
    tenant: String,
    /// The client id allowed the client-credentials grant.
    #[arg(long, default_value = "00000000-0000-0000-0000-00000000c11e")]
    client_id: String,
    /// Its secret. A random one is generated and printed when omitted.
    #[arg(long, env = "MOCK_GRAPH_CLIENT_SECRET")]
    client_secret: Option<String>,
    /// Follow wall time instead of a virtual clock that moves only through /_admin/clock.
    #[arg(long)]
    real_clock: bool,
    #[command(flatten)]
    tls: TlsArgs,
    #[command(flatten)]
    limits: scenarios::connections::LimitArgs,
    /// A PEM CA certificate the provisioning engine trusts when it calls a SCIM endpoint over HTTPS
    /// (mock-scim's --ca-out file); repeatable. Under --tls the mock's own CA is trusted as well.
    #[arg(long = "scim-trust-ca", value_name = "FILE")]
    scim_trust_ca: Vec<std::path::PathBuf>,
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
    let admin_generated = args.admin_token.is_none();
    let secret_generated = args.client_secret.is_none();
    let admin_token = args.admin_token.unwrap_or_else(cli::random_token);
    let client_secret = args.client_secret.unwrap_or_else(cli::random_token);
    let clock = if args.real_clock { Clock::real() } else { Clock::virtual_at(DEFAULT_START) };
    let tls_mode = args.tls.mode();
    let tls = tls_mode.prepare(args.seed).map_err(Failure::setup)?;
    cli::write_ca(args.tls.ca_out.as_deref(), tls.as_ref())?;
    let scim_trusted_ca_pem = args
        .scim_trust_ca
        .iter()
        .map(|path| {
            std::fs::read_to_string(path).map_err(|err| Failure::setup(format!("reading {}: {err}", path.display())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let config = Config {
        admin_token: admin_token.clone(),
        seed: args.seed,
        clock,
        domain: args.tenant.clone(),
        tenant_id: None,
        client_id: args.client_id.clone(),
        client_secret: client_secret.clone(),
        tls: tls_mode,
        scim_trusted_ca_pem,
    };
    let state = config.into_state().map_err(|err| Failure::setup(format!("--scim-trust-ca: {err}")))?;
    let tenant_id = state.world().tenant.id.clone();
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|err| Failure::setup(format!("binding {}: {err}", args.listen)))?;
    let address = listener.local_addr().map_err(Failure::setup)?;
    mock_graph::server::spawn_ticker(&state);
    let scheme = if tls.is_some() { "https" } else { "http" };
    say(format_args!("mock-graph listening on {scheme}://{address}"));
    if let Some(path) = &args.tls.ca_out {
        say(format_args!("CA certificate: {}", path.display()));
    }
    say(format_args!("tenant: {} ({tenant_id})", args.tenant));
    say(format_args!("token endpoint: {scheme}://{address}/{}/oauth2/v2.0/token", args.tenant));
    if tls.is_some() {
        // What MSAL and azure-identity take as `authority` (with instance discovery off).
        say(format_args!("authority: {scheme}://{address}"));
    }
    say(format_args!("client id: {}", args.client_id));
    // Secrets the user chose are not echoed.
    if secret_generated {
        say(format_args!("client secret: {client_secret}"));
    }
    if admin_generated {
        say(format_args!("admin token: {admin_token}"));
    }
    let identity = tls.map(|tls| tls.identity);
    let limits = args.limits.limits();
    scenarios::tls::serve_within(listener, identity.as_ref(), mock_graph::router(state), limits, cli::stop_signal())
        .await
        .map_err(|err| Failure::serving(format!("serving: {err}")))
}
