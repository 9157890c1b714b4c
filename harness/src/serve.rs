//! `harness serve`: both mocks in this process, on given or free ports, wired as a scenario's
//! `configure` step leaves them — the AWS tenant, the AWS app instantiated from its template, its
//! service principal and synchronization job, the job's secrets (`BaseAddress`, `SecretToken`) —
//! and seeded from the scenario's directory, assignments, AWS side, switches and faults. Of the
//! scenario's steps only those that lead up to its first `configure` are carried out (assignments,
//! mappings, …; expectations are not judged); what follows — Test Connection, start, advances,
//! expectations — is left to whoever drives the mocks. The job is not started.
//!
//! The wiring goes over HTTP through the mocks' own APIs, by [`runner::setup_with`] and
//! [`runner::step`], exactly as `harness run` builds a scenario's situation. What a client needs
//! comes out as [`Env`]: `KEY=VALUE` pairs.
//!
//! Time: under the virtual clock (the default) nothing happens until someone calls mock-graph's
//! `POST /_admin/clock/advance`, which runs every cycle that falls due before it answers. mock-scim
//! keeps its own clock (`PUT /_admin/clock` there moves it). Under a real clock mock-graph's
//! ticker runs the cycles; Entra's interval is a fixed 40 minutes, which [`Pacing`] can shorten for
//! demos.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::SignedDuration;
use scenarios::clock::Clock;
use scenarios::scenario::{Scenario, Step};
use scenarios::tls::{Prepared, TlsMode};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::runner::{self, Running, StepError};

/// The Entra tenant's domain and the client allowed the client-credentials grant, as the
/// `mock-graph` binary defaults them.
const DOMAIN: &str = "contoso.onmicrosoft.com";
const CLIENT_ID: &str = "00000000-0000-0000-0000-00000000c11e";

/// How to serve.
#[derive(Debug, Clone)]
pub struct Options {
    /// Whose situation to build; `None`: an empty directory, still wired.
    pub scenario: Option<Scenario>,
    /// Where mock-graph listens (port 0: a free one).
    pub graph_listen: SocketAddr,
    /// Where mock-scim listens.
    pub scim_listen: SocketAddr,
    /// mock-graph's admin token.
    pub graph_admin_token: String,
    /// mock-scim's admin token.
    pub scim_admin_token: String,
    /// The client secret Graph's token endpoint takes.
    pub client_secret: String,
    /// The host name clients use in the URLs handed out (a container's service name, say); by
    /// default the address listened on, loopback for an unspecified one.
    pub advertise_host: Option<String>,
    /// HTTPS with a certificate from the scenario's seed's authority, for these extra names beside
    /// the loopback ones; `None`: plain HTTP.
    pub tls: Option<Vec<String>>,
    /// Where to write the CA certificate under TLS.
    pub ca_out: PathBuf,
    /// The clock and how often cycles come.
    pub pacing: Pacing,
    /// What a connection is allowed, on both mocks (`--max-connections` and the deadlines).
    pub limits: scenarios::connections::Limits,
}

/// Which clock the mocks follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacing {
    /// Virtual time at the scenario's start: cycles run when mock-graph's clock is advanced.
    Virtual,
    /// Wall time: mock-graph's ticker runs the cycles that fall due, every 40 minutes as Entra,
    /// or every `cycle_interval` when one is given.
    Real {
        /// A shorter interval between cycles, for demos; Entra's `PT40M` when `None`.
        cycle_interval: Option<SignedDuration>,
    },
}

/// Why serving could not start. Nothing is left running.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A port could not be bound.
    #[error("{mock} cannot listen on {address}: {source}")]
    Bind {
        /// `mock-graph` or `mock-scim`.
        mock: &'static str,
        /// The address asked for.
        address: SocketAddr,
        /// The OS's reason.
        source: std::io::Error,
    },
    /// TLS could not be set up.
    #[error("TLS: {0}")]
    Tls(String),
    /// The CA certificate could not be written.
    #[error("writing the CA certificate to {path}: {source}")]
    CaOut {
        /// The file.
        path: PathBuf,
        /// The OS's reason.
        source: std::io::Error,
    },
    /// A mock could not be built.
    #[error("{mock} could not start: {reason}")]
    Start {
        /// `mock-graph` or `mock-scim`.
        mock: &'static str,
        /// Why.
        reason: String,
    },
    /// The scenario's situation could not be built on the mocks.
    #[error("wiring the mocks: {0}")]
    Wiring(String),
}

impl From<StepError> for ServeError {
    fn from(StepError(message): StepError) -> ServeError {
        ServeError::Wiring(message)
    }
}

/// What a client needs, in order: `GRAPH_URL`, `GRAPH_TENANT`, `GRAPH_CLIENT_ID`,
/// `GRAPH_CLIENT_SECRET`, `GRAPH_ADMIN_TOKEN`, `SCIM_URL` (the AWS tenant's SCIM endpoint, ending in
/// `/scim/v2/`, what a sync tool is given as its tenant URL), `SCIM_TOKEN`, `SCIM_ADMIN_TOKEN`,
/// `SCIM_BASE_URL` (mock-scim's origin, where `/_admin` is), `SCIM_TENANT_ID`, `SYNC_JOB_ID`,
/// `SERVICE_PRINCIPAL_ID`, and `CA_CERT` under TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Env {
    /// The pairs.
    pub pairs: Vec<(&'static str, String)>,
}

/// Every key an [`Env`] may hold, in the order `harness serve` writes them.
pub const KEYS: [&str; 13] = [
    "GRAPH_URL",
    "GRAPH_TENANT",
    "GRAPH_CLIENT_ID",
    "GRAPH_CLIENT_SECRET",
    "GRAPH_ADMIN_TOKEN",
    "SCIM_URL",
    "SCIM_TOKEN",
    "SCIM_ADMIN_TOKEN",
    "SCIM_BASE_URL",
    "SCIM_TENANT_ID",
    "SYNC_JOB_ID",
    "SERVICE_PRINCIPAL_ID",
    "CA_CERT",
];

impl Env {
    /// Reads what [`Env::to_text`] writes (an env file, or `harness serve`'s standard output): the
    /// `KEY=VALUE` lines whose key is one of [`KEYS`]; any other line is passed over.
    pub fn parse(text: &str) -> Env {
        let pairs = text
            .lines()
            .filter_map(|line| line.split_once('='))
            .filter_map(|(key, value)| KEYS.iter().find(|k| **k == key.trim()).map(|k| (*k, value.trim().to_owned())))
            .collect();
        Env { pairs }
    }

    /// One `KEY=VALUE` a line; values never hold a line break or need quoting (URLs, ids, tokens
    /// in hexadecimal or base64url, paths).
    pub fn to_text(&self) -> String {
        self.pairs.iter().map(|(key, value)| format!("{key}={value}\n")).collect()
    }

    /// The value of a key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str())
    }

    /// Writes [`Env::to_text`] to `path` whole or not at all (a temporary file renamed), readable by
    /// its owner only: it holds secrets.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let temporary = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let written = options
            .open(&temporary)
            .and_then(|mut file| std::io::Write::write_all(&mut file, self.to_text().as_bytes()))
            .and_then(|()| std::fs::rename(&temporary, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        written
    }
}

/// Both mocks, serving, until [`Services::stop`] (or drop).
pub struct Services {
    env: Env,
    misses: Vec<String>,
    stops: Vec<oneshot::Sender<()>>,
    servers: Vec<(&'static str, JoinHandle<std::io::Result<()>>)>,
    /// The scenario's situation as built, kept for its state's sake.
    _context: runner::Context,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").field("graph", &self.env.get("GRAPH_URL")).finish_non_exhaustive()
    }
}

impl Services {
    /// What a client needs.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// What the wiring steps expected and did not get (a `test_connection` with `expect`, say):
    /// the situation is served all the same.
    pub fn misses(&self) -> &[String] {
        &self.misses
    }

    /// Resolves when a server stops of its own accord (it failed): which, and why.
    pub async fn failed(&mut self) -> String {
        let servers = self.servers.iter_mut().map(|(mock, handle)| {
            Box::pin(async move {
                match handle.await {
                    Ok(Ok(())) => format!("{mock} stopped"),
                    Ok(Err(err)) => format!("{mock} failed: {err}"),
                    Err(err) => format!("{mock} failed: {err}"),
                }
            })
        });
        futures::future::select_all(servers).await.0
    }

    /// Stops both servers, letting exchanges in flight finish, at most `grace`.
    pub async fn stop(mut self, grace: Duration) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        let servers = std::mem::take(&mut self.servers);
        let all = futures::future::join_all(servers.into_iter().map(|(_, handle)| handle));
        let _ = tokio::time::timeout(grace, all).await;
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        for (_, server) in &self.servers {
            server.abort();
        }
    }
}

/// A scenario with an empty directory and a plain `configure`: what `harness serve` builds without
/// a file.
pub fn empty_scenario() -> Scenario {
    // Written as a file would be, so that it is checked like one.
    let text = "name = \"harness serve: empty directory\"\n\n[[steps]]\naction = \"configure\"\n";
    Scenario::parse("(no scenario)", text).unwrap_or_else(|err| unreachable!("the empty scenario is valid: {err}"))
}

/// The steps that make the situation: those up to the scenario's first `configure`, that one
/// included, expectations left out (nothing is judged); a plain `configure` (the AWS tenant's own
/// endpoint and token) when the scenario has none, and then no other step.
fn wiring_steps(scenario: &Scenario) -> Vec<(usize, Step)> {
    let Some(configure) = scenario.steps.iter().position(|at| matches!(at.step, Ok(Step::Configure { .. }))) else {
        let plain = Step::Configure {
            token: None,
            tenant_url: None,
            sync_all: None,
            skip_out_of_scope_deletions: None,
            aad_opt_scim_062020: None,
            delete_threshold: None,
        };
        return vec![(0, plain)];
    };
    scenario.steps[..=configure]
        .iter()
        .enumerate()
        .filter_map(|(i, at)| match &at.step {
            Ok(Step::Expect(_)) | Err(_) => None,
            Ok(step) => Some((i, step.clone())),
        })
        .collect()
}

/// The URL a socket is reached at from this host: an unspecified address through loopback.
fn local_url(scheme: &str, address: SocketAddr) -> String {
    let ip = match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("{scheme}://{}", SocketAddr::new(ip, address.port()))
}

/// The URL handed out: the local one, or the advertised host with the same port.
fn advertised_url(scheme: &str, address: SocketAddr, host: Option<&str>) -> String {
    match host {
        Some(host) if host.contains(':') && !host.starts_with('[') => {
            format!("{scheme}://[{host}]:{}", address.port())
        }
        Some(host) => format!("{scheme}://{host}:{}", address.port()),
        None => local_url(scheme, address),
    }
}

async fn bind(mock: &'static str, address: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(address).await.map_err(|source| ServeError::Bind { mock, address, source })
}

/// Starts both mocks and builds the scenario's situation on them.
pub async fn start(options: Options) -> Result<Services, ServeError> {
    let scenario = options.scenario.clone().unwrap_or_else(empty_scenario);
    // Both ports first: a port in use stops everything before anything runs.
    let graph_listener = bind("mock-graph", options.graph_listen).await?;
    let scim_listener = bind("mock-scim", options.scim_listen).await?;
    let graph_address = graph_listener.local_addr().map_err(|source| ServeError::Bind {
        mock: "mock-graph",
        address: options.graph_listen,
        source,
    })?;
    let scim_address = scim_listener.local_addr().map_err(|source| ServeError::Bind {
        mock: "mock-scim",
        address: options.scim_listen,
        source,
    })?;

    // One authority, from the scenario's seed, for both: mock-graph's engine trusts its own seed's
    // authority under a generated certificate, so it trusts mock-scim's.
    let tls_mode = match &options.tls {
        None => TlsMode::Off,
        Some(names) => {
            let mut names = names.clone();
            names.extend(options.advertise_host.clone());
            names.sort();
            names.dedup();
            TlsMode::Generated { names }
        }
    };
    let prepare = || tls_mode.prepare(scenario.seed).map_err(|err| ServeError::Tls(err.to_string()));
    let (graph_tls, scim_tls) = (prepare()?, prepare()?);
    let ca_pem = graph_tls.as_ref().and_then(|prepared| prepared.ca_pem.clone());
    if let Some(pem) = &ca_pem {
        std::fs::write(&options.ca_out, pem)
            .map_err(|source| ServeError::CaOut { path: options.ca_out.clone(), source })?;
    }
    let scheme = if ca_pem.is_some() { "https" } else { "http" };

    let start = scenario.start.unwrap_or(mock_graph::server::DEFAULT_START);
    let clock = match options.pacing {
        Pacing::Virtual => Clock::virtual_at(start),
        Pacing::Real { .. } => Clock::real(),
    };
    let graph_state = mock_graph::Config {
        admin_token: options.graph_admin_token.clone(),
        seed: scenario.seed,
        clock: clock.clone(),
        domain: DOMAIN.to_owned(),
        tenant_id: None,
        client_id: CLIENT_ID.to_owned(),
        client_secret: options.client_secret.clone(),
        tls: tls_mode.clone(),
        scim_trusted_ca_pem: Vec::new(),
    }
    .into_state()
    .map_err(|err| ServeError::Start { mock: "mock-graph", reason: err.to_string() })?;
    let scim_state = mock_scim::server::Config {
        admin_token: options.scim_admin_token.clone(),
        seed: scenario.seed,
        clock,
        tls: tls_mode,
        ..mock_scim::server::Config::default()
    }
    .into_state();

    let mut stops = Vec::new();
    let mut servers = Vec::new();
    let limits = options.limits;
    let mut start = |mock: &'static str, listener, tls: Option<Prepared>, app| {
        let (stop, stopped) = oneshot::channel::<()>();
        let identity = tls.map(|Prepared { identity, .. }| identity);
        stops.push(stop);
        let stopped = async {
            let _ = stopped.await;
        };
        servers.push((
            mock,
            tokio::spawn(async move {
                scenarios::tls::serve_within(listener, identity.as_ref(), app, limits, stopped).await
            }),
        ));
    };
    start("mock-graph", graph_listener, graph_tls, mock_graph::router(graph_state.clone()));
    start("mock-scim", scim_listener, scim_tls, mock_scim::router(scim_state));

    // The wiring, over HTTP, as `harness run` does on running mocks.
    let mut http = reqwest::Client::builder();
    if let Some(pem) = &ca_pem {
        let certificate = reqwest::Certificate::from_pem(pem.as_bytes())
            .map_err(|err| ServeError::Tls(format!("the CA certificate: {err}")))?;
        http = http.add_root_certificate(certificate);
    }
    let http = http.build().map_err(|err| ServeError::Tls(err.to_string()))?;
    let graph_url = local_url(scheme, graph_address);
    let scim_url = local_url(scheme, scim_address);
    let running = Running {
        graph: graph_url.clone(),
        graph_admin: options.graph_admin_token.clone(),
        scim: scim_url.clone(),
        scim_admin: options.scim_admin_token.clone(),
        tenant: DOMAIN.to_owned(),
        client_id: CLIENT_ID.to_owned(),
        client_secret: options.client_secret.clone(),
    };
    let mut context = runner::setup_with(&scenario, Some(&running), http).await?;
    let mut misses = Vec::new();
    for (i, step) in wiring_steps(&scenario) {
        let label = format!("steps[{i}]");
        runner::step(&mut context, &step, &mut misses, &label)
            .await
            .map_err(|StepError(message)| ServeError::Wiring(format!("{label}: {message}")))?;
    }

    // Cycles under a real clock: mock-graph's own ticker, at a shorter interval for demos.
    if let Pacing::Real { cycle_interval: Some(interval) } = options.pacing {
        let update = json!({ "cycleInterval": interval.to_string() });
        context
            .admin(false, reqwest::Method::PATCH, "/_admin/switches", Some(update))
            .await
            .map_err(|StepError(message)| ServeError::Wiring(format!("the cycle interval: {message}")))?;
    }
    mock_graph::server::spawn_ticker(&graph_state);

    let advertise = options.advertise_host.as_deref();
    let graph_public = advertised_url(scheme, graph_address, advertise);
    let scim_public = advertised_url(scheme, scim_address, advertise);
    let endpoint = &context.endpoints;
    let scim_endpoint = match endpoint.scim_endpoint.strip_prefix(&scim_url) {
        Some(tail) => format!("{scim_public}{tail}"),
        None => endpoint.scim_endpoint.clone(),
    };
    let mut pairs = vec![
        ("GRAPH_URL", graph_public),
        ("GRAPH_TENANT", DOMAIN.to_owned()),
        ("GRAPH_CLIENT_ID", CLIENT_ID.to_owned()),
        ("GRAPH_CLIENT_SECRET", options.client_secret.clone()),
        ("GRAPH_ADMIN_TOKEN", options.graph_admin_token.clone()),
        ("SCIM_URL", scim_endpoint),
        ("SCIM_TOKEN", endpoint.scim_token.clone()),
        ("SCIM_ADMIN_TOKEN", options.scim_admin_token.clone()),
        ("SCIM_BASE_URL", scim_public),
        ("SCIM_TENANT_ID", endpoint.scim_tenant.clone()),
        ("SYNC_JOB_ID", context.job.clone()),
        ("SERVICE_PRINCIPAL_ID", context.sp.clone()),
    ];
    if ca_pem.is_some() {
        let path = std::path::absolute(&options.ca_out).unwrap_or_else(|_| options.ca_out.clone());
        pairs.push(("CA_CERT", path.display().to_string()));
    }
    Ok(Services { env: Env { pairs }, misses, stops, servers, _context: context })
}

/// Why a cycle interval was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CycleIntervalError {
    /// Not an ISO-8601 duration.
    #[error("{0}")]
    Unreadable(String),
    /// Under a second.
    #[error("{0:?} is shorter than a second (cycles are checked once a second)")]
    TooShort(String),
    /// Over Entra's forty minutes.
    #[error("{0:?} is longer than Entra's own interval, PT40M")]
    TooLong(String),
}

/// Reads a cycle interval: an ISO-8601 duration from one second to Entra's forty minutes.
pub fn parse_cycle_interval(raw: &str) -> Result<SignedDuration, CycleIntervalError> {
    let interval =
        scenarios::scenario::parse_duration(raw).map_err(|err| CycleIntervalError::Unreadable(err.to_string()))?;
    if interval < SignedDuration::from_secs(1) {
        return Err(CycleIntervalError::TooShort(raw.to_owned()));
    }
    if interval > SignedDuration::from_mins(40) {
        return Err(CycleIntervalError::TooLong(raw.to_owned()));
    }
    Ok(interval)
}

/// A value nobody can guess, from the OS's randomness through std's hasher seeds (as the mocks'
/// binaries make theirs).
pub fn random_token() -> String {
    use std::hash::{BuildHasher, RandomState};
    (0..4).map(|i| format!("{:016x}", RandomState::new().hash_one(i))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_address_is_reached_through_loopback() {
        let any: SocketAddr = "0.0.0.0:9200".parse().unwrap();
        assert_eq!(local_url("http", any), "http://127.0.0.1:9200");
        let any6: SocketAddr = "[::]:9100".parse().unwrap();
        assert_eq!(local_url("https", any6), "https://[::1]:9100");
        assert_eq!(advertised_url("http", any, Some("serve")), "http://serve:9200");
        assert_eq!(advertised_url("http", any, Some("::1")), "http://[::1]:9200");
    }

    #[test]
    fn a_cycle_interval_is_between_a_second_and_forty_minutes() {
        assert_eq!(parse_cycle_interval("PT30S"), Ok(SignedDuration::from_secs(30)));
        assert_eq!(parse_cycle_interval("PT40M"), Ok(SignedDuration::from_mins(40)));
        assert_eq!(parse_cycle_interval("PT0.5S"), Err(CycleIntervalError::TooShort("PT0.5S".into())));
        assert!(parse_cycle_interval("PT41M").unwrap_err().to_string().contains("longer than Entra's"));
        assert!(parse_cycle_interval("soon").is_err());
    }

    #[test]
    fn the_env_text_is_one_pair_a_line() {
        let env = Env { pairs: vec![("GRAPH_URL", "http://127.0.0.1:1".into()), ("SYNC_JOB_ID", "j".into())] };
        assert_eq!(env.to_text(), "GRAPH_URL=http://127.0.0.1:1\nSYNC_JOB_ID=j\n");
        assert_eq!(
            Env::parse(&format!("serving…\n{}OTHER=x\n", env.to_text())),
            env,
            "read back, other lines passed over"
        );
        assert_eq!(env.get("SYNC_JOB_ID"), Some("j"));
    }

    #[test]
    fn the_steps_up_to_the_first_configure_make_the_situation() {
        let text = "name = \"s\"\n[[directory.users]]\nupn = \"a@contoso.onmicrosoft.com\"\n\
            [[steps]]\naction = \"assign\"\nprincipal = \"a@contoso.onmicrosoft.com\"\n\
            [[steps]]\naction = \"expect\"\naws_users = []\n\
            [[steps]]\naction = \"configure\"\nsync_all = true\n\
            [[steps]]\naction = \"start\"\n";
        let steps = wiring_steps(&Scenario::parse("s.toml", text).unwrap());
        let indices: Vec<usize> = steps.iter().map(|(i, _)| *i).collect();
        assert_eq!(indices, [0, 2], "the expectation and the start are left out");
        assert!(matches!(steps[1].1, Step::Configure { sync_all: Some(true), .. }));
    }

    #[test]
    fn without_a_configure_step_only_the_plain_one_is_carried_out() {
        let text = "name = \"s\"\n[[steps]]\naction = \"start\"\n";
        let steps = wiring_steps(&Scenario::parse("s.toml", text).unwrap());
        assert!(matches!(steps.as_slice(), [(0, Step::Configure { token: None, sync_all: None, .. })]));
        assert!(matches!(wiring_steps(&empty_scenario()).as_slice(), [(0, Step::Configure { .. })]));
    }
}
