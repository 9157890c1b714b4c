//! `mock-graph`: serves the Microsoft Graph slice of an Entra tenant on loopback.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use mock_graph::server::{Config, DEFAULT_START, serve};
use scenarios::clock::Clock;
use scenarios::tls::TlsArgs;
use tokio::net::TcpListener;

/// Exit code when the mock stopped normally.
const EXIT_OK: u8 = 0;
/// Exit code when it failed while serving.
const EXIT_ERROR: u8 = 1;
/// Exit code when it could not start: port taken, unreadable certificate, bad arguments.
const EXIT_SETUP: u8 = 2;

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
    /// A PEM CA certificate the provisioning engine trusts when it calls a SCIM endpoint over HTTPS
    /// (mock-scim's --ca-out file); repeatable. Under --tls the mock's own CA is trusted as well.
    #[arg(long = "scim-trust-ca", value_name = "FILE")]
    scim_trust_ca: Vec<std::path::PathBuf>,
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
        let admin_generated = args.admin_token.is_none();
        let secret_generated = args.client_secret.is_none();
        let admin_token = args.admin_token.unwrap_or_else(random_token);
        let client_secret = args.client_secret.unwrap_or_else(random_token);
        let clock = if args.real_clock { Clock::real() } else { Clock::virtual_at(DEFAULT_START) };
        let tls_mode = args.tls.mode();
        let tls = tls_mode.prepare(args.seed).map_err(|err| Failure::Setup(err.into()))?;
        if let (Some(path), Some(pem)) = (&args.tls.ca_out, tls.as_ref().and_then(|tls| tls.ca_pem.as_ref())) {
            std::fs::write(path, pem)
                .with_context(|| format!("writing the CA certificate to {}", path.display()))
                .map_err(Failure::Setup)?;
        }
        let scim_trusted_ca_pem = args
            .scim_trust_ca
            .iter()
            .map(|path| std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display())))
            .collect::<anyhow::Result<Vec<_>>>()
            .map_err(Failure::Setup)?;
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
        let state = config.into_state().context("--scim-trust-ca").map_err(Failure::Setup)?;
        let tenant_id = state.world().tenant.id.clone();
        let listener = TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))
            .map_err(Failure::Setup)?;
        let address = listener.local_addr().context("reading the bound address").map_err(Failure::Setup)?;
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
        serve(listener, identity.as_ref(), state, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")
        .map_err(Failure::Serving)?;
        Ok(EXIT_OK)
    })
}

/// Prints a line; a closed stdout must not stop the mock.
fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// A value nobody can guess, from the OS's randomness through std's hasher seeds.
fn random_token() -> String {
    use std::hash::{BuildHasher, RandomState};
    (0..4).map(|i| format!("{:016x}", RandomState::new().hash_one(i))).collect()
}
