//! `harness`: runs and checks scenario files.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

/// Every scenario passed.
const EXIT_PASSED: u8 = 0;
/// At least one scenario failed.
const EXIT_FAILED: u8 = 1;
/// Invalid input or usage: nothing was run.
const EXIT_INVALID: u8 = 2;

/// Runs Entra ID → AWS IAM Identity Center scenarios against local mocks.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Run scenarios (files or folders; default `scenarios/`).
    Run {
        /// Scenario files or folders.
        paths: Vec<PathBuf>,
        /// Only scenarios whose name contains this.
        #[arg(long)]
        filter: Option<String>,
        /// Report format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Write the report here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also write a self-contained HTML report here: per scenario its cycles, objects with their
        /// provisioning steps, AWS's state after each advance, failing expectations and the SCIM
        /// exchanges behind them.
        #[arg(long, value_name = "FILE.html")]
        report: Option<PathBuf>,
        /// Scenarios run at once (default: the machine's cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// A running mock-graph to use instead of in-process mocks (it is reset before each scenario).
        #[arg(long, requires_all = ["scim", "graph_admin_token", "scim_admin_token", "client_secret"])]
        graph: Option<String>,
        /// A running mock-scim, with `--graph`; or, with `--scim-token`, any SCIM server in AWS's
        /// place (its tenant URL, `…/scim/v2/`): no admin API needed, AWS's state read over SCIM,
        /// what each scenario made there deleted at its end.
        #[arg(long)]
        scim: Option<String>,
        /// The SCIM server's bearer token, for `--scim` without `--graph`.
        #[arg(long, env = "SCIM_TOKEN", requires = "scim", conflicts_with = "graph")]
        scim_token: Option<String>,
        /// mock-graph's admin token.
        #[arg(long, env = "MOCK_GRAPH_ADMIN_TOKEN", requires = "graph")]
        graph_admin_token: Option<String>,
        /// mock-scim's admin token.
        #[arg(long, env = "MOCK_SCIM_ADMIN_TOKEN", requires = "graph")]
        scim_admin_token: Option<String>,
        /// The Entra tenant's domain on the running mock-graph.
        #[arg(long, default_value = "contoso.onmicrosoft.com")]
        tenant: String,
        /// The client id the running mock-graph accepts.
        #[arg(long, default_value = "00000000-0000-0000-0000-00000000c11e")]
        client_id: String,
        /// Its client secret.
        #[arg(long, env = "MOCK_GRAPH_CLIENT_SECRET")]
        client_secret: Option<String>,
        /// Your own sync tool instead of Entra's provisioning service: a command (split at spaces,
        /// no quoting) run once per cycle due, with the endpoints in its environment.
        #[arg(long, value_name = "COMMAND")]
        engine: Option<String>,
        /// Seconds one run of `--engine` may take.
        #[arg(long, default_value_t = 60, requires = "engine")]
        engine_timeout: u64,
        /// Pass over the scenarios that need what this run has not — Entra's own service (its steps,
        /// its logs) under `--engine`, mock-scim's admin API (faults, its clock, its journal) under
        /// `--scim-token` — saying how many, instead of refusing the run.
        #[arg(long)]
        skip_inapplicable: bool,
    },
    /// Write a scenario with a generated directory of a given size and shape, for load and demos.
    Generate {
        /// Users.
        #[arg(long, default_value_t = 100)]
        users: usize,
        /// Groups, all assigned to the AWS app.
        #[arg(long, default_value_t = 10)]
        groups: usize,
        /// Direct members per group.
        #[arg(long, default_value_t = 10)]
        members_per_group: usize,
        /// The scenario's seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Serve both mocks, wired as a scenario's `configure` leaves them, until Ctrl-C or SIGTERM;
    /// print (and with --env-file write) the endpoints and credentials as KEY=VALUE lines.
    Serve {
        /// The scenario whose directory, assignments, AWS side, switches and faults to serve, with
        /// the steps up to its first `configure` (the rest are not run); an empty directory when
        /// omitted.
        scenario: Option<PathBuf>,
        /// Where mock-graph listens; port 0 takes a free one.
        #[arg(long, default_value = "127.0.0.1:0")]
        graph_listen: std::net::SocketAddr,
        /// Where mock-scim listens.
        #[arg(long, default_value = "127.0.0.1:0")]
        scim_listen: std::net::SocketAddr,
        /// Also write the KEY=VALUE lines here (mode 0600; removed when serving stops).
        #[arg(long, value_name = "FILE")]
        env_file: Option<PathBuf>,
        /// mock-graph's admin token; random when omitted.
        #[arg(long, env = "MOCK_GRAPH_ADMIN_TOKEN", hide_env_values = true)]
        graph_admin_token: Option<String>,
        /// mock-scim's admin token; random when omitted.
        #[arg(long, env = "MOCK_SCIM_ADMIN_TOKEN", hide_env_values = true)]
        scim_admin_token: Option<String>,
        /// The client secret of Graph's client-credentials grant; random when omitted.
        #[arg(long, env = "MOCK_GRAPH_CLIENT_SECRET", hide_env_values = true)]
        client_secret: Option<String>,
        /// The host name the printed URLs use (a container's service name); by default the address
        /// listened on, 127.0.0.1 for 0.0.0.0.
        #[arg(long, value_name = "HOST")]
        advertise_host: Option<String>,
        /// Serve HTTPS, both mocks with certificates from one CA made from the scenario's seed.
        #[arg(long)]
        tls: bool,
        /// Another name the certificates cover; repeatable.
        #[arg(long = "tls-name", value_name = "NAME", requires = "tls")]
        tls_names: Vec<String>,
        /// Where the CA certificate is written under --tls (CA_CERT).
        #[arg(long, value_name = "FILE", default_value = "harness-serve-ca.pem", requires = "tls")]
        ca_out: PathBuf,
        /// Follow wall time: cycles come by themselves, every 40 minutes as Entra's. By default the
        /// clock is virtual and moves only by mock-graph's POST /_admin/clock/advance.
        #[arg(long)]
        real_clock: bool,
        /// With --real-clock, a shorter interval between cycles for demos (PT1S to PT40M).
        #[arg(long, value_name = "DURATION", requires = "real_clock", value_parser = harness::serve::parse_cycle_interval)]
        cycle_interval: Option<jiff::SignedDuration>,
        /// The connection limits, on both mocks, as their own binaries take them.
        #[command(flatten)]
        limits: scenarios::connections::LimitArgs,
    },
    /// Send Entra's provisioning traffic to a SCIM server and report what Entra would not accept.
    ///
    /// In each PATCH dialect (Entra's default, then `?aadOptscim062020`'s): the probes, a user created,
    /// read, matched by userName, updated, created twice (409 and a SCIM error body); a group created,
    /// matched by displayName, members added and removed in chunks of 100, renamed, created twice; the
    /// user disabled; both deleted and gone (404). Every request is the one mock-graph's Entra sends
    /// (entra-provisioning.md §4.5). Users and groups are named `validate-scim-…` and deleted
    /// afterwards, even after a failed check. Exit codes: 0 every check passed, 1 a check failed,
    /// 2 bad input, or the server did not answer the probe or refused the token.
    #[command(name = "validate-scim")]
    ValidateScim {
        /// The SCIM base URL, as Entra's Tenant URL (`https://…/scim/v2/`; any `?aadOptscim062020` is
        /// ignored, see --dialect). SCIM_URL and SCIM_TOKEN are the names `harness serve --env-file`
        /// writes.
        #[arg(long, env = "SCIM_URL")]
        url: String,
        /// The bearer token (Entra's Secret Token).
        #[arg(long, env = "SCIM_TOKEN", hide_env_values = true)]
        token: String,
        /// The PATCH dialect(s) to send.
        #[arg(long, value_enum, default_value_t = DialectArg::Both)]
        dialect: DialectArg,
        /// Where names and GUIDs come from: one seed, the same requests and report apart from the
        /// ids the server assigns. Random when omitted (the report says which).
        #[arg(long)]
        seed: Option<u64>,
        /// Seconds each request may take.
        #[arg(long, default_value_t = 10)]
        timeout_seconds: u64,
        /// Members added to and removed from the group; 101 sends a chunk of 100 and one of 1.
        #[arg(long, default_value_t = 101)]
        members: usize,
        /// A PEM CA certificate to trust beside the built-in (webpki) roots.
        #[arg(long, value_name = "FILE")]
        ca_cert: Option<PathBuf>,
        /// Report format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Write the report here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run the laws of sync: property tests over random directories, edits and fault storms, each
    /// case a scenario on in-process mocks, against Entra's service or your own sync tool
    /// (`--engine`). A failing case is shrunk and written as a regression scenario that
    /// `harness run FILE` replays. Exit codes: 0 every law held, 1 a law broken, 2 bad input.
    Laws(LawsArgs),
    /// Send a recorded run's SCIM requests (mock-scim's journal: `GET /_admin/journal?format=jsonl`,
    /// or its JSON array) to another SCIM server, in order, ids mapped as it assigns them, and say
    /// where its answers differ from the recorded ones (status, error envelope, body shape). What
    /// the replay created there is deleted at its end unless `--keep`. Exit codes: 0 every answer
    /// the same, 1 some differ, 2 bad input.
    Replay {
        /// The journal file.
        journal: PathBuf,
        /// The target's SCIM endpoint (`…/scim/v2/`).
        #[arg(long, env = "SCIM_URL")]
        target: String,
        /// Its bearer token.
        #[arg(long, env = "SCIM_TOKEN")]
        token: String,
        /// Seconds each request may take.
        #[arg(long, default_value_t = 10)]
        timeout_seconds: u64,
        /// Leave what the replay created on the target.
        #[arg(long)]
        keep: bool,
        /// Report format: human or json.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Turn provisioning logs (Graph's `GET /auditLogs/provisioning` answer, an array of entries, or
    /// JSON Lines; v1.0's shape or beta's) into a scenario that rebuilds the users and groups they
    /// name and expects their first cycle's outcomes. What the logs cannot tell (memberships, missing
    /// names) is said in the scenario's comments. Exit codes: 0 written, 2 unreadable or no entries.
    ImportLogs {
        /// The logs, as JSON.
        file: PathBuf,
        /// Where to write the scenario (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The scenario's name (default: `imported: FILE`).
        #[arg(long)]
        name: Option<String>,
    },
    /// Check scenario files without running them.
    Check {
        /// Scenario files or folders.
        paths: Vec<PathBuf>,
    },
}

/// `harness laws`.
#[derive(Debug, clap::Args)]
struct LawsArgs {
    /// Only this law; repeatable. By default every law (against an engine, every law that applies
    /// to one).
    #[arg(long = "law", value_name = "NAME")]
    laws: Vec<String>,
    /// Cases per law (default: PROPTEST_CASES, else each law's cap: 32, 8 for determinism, 16 for
    /// determinism_concurrent).
    #[arg(long)]
    cases: Option<u32>,
    /// The seed cases are drawn from (default: PROPTEST_RNG_SEED, else 2026).
    #[arg(long)]
    seed: Option<u64>,
    /// Your own sync tool instead of Entra's provisioning service: a command (split at spaces, no
    /// quoting) run once per cycle due, from the current folder.
    #[arg(long, value_name = "COMMAND")]
    engine: Option<String>,
    /// Seconds one run of `--engine` may take.
    #[arg(long, default_value_t = 60, requires = "engine")]
    engine_timeout: u64,
    /// Where failing cases are written: `{law}_{case}.toml`, or `{law}_engine_{case}.toml` against
    /// an engine.
    #[arg(long, value_name = "DIR", default_value = "scenarios/regressions")]
    regressions: PathBuf,
    /// Report format.
    #[arg(long, value_enum, default_value_t = LawsFormat::Human)]
    format: LawsFormat,
}

/// `harness laws --format`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum LawsFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
    Junit,
}

/// `--dialect`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum DialectArg {
    /// Entra's default PATCH bodies.
    Default,
    /// The `?aadOptscim062020` flag's.
    Optscim062020,
    /// Both, default first.
    Both,
}

fn main() -> ExitCode {
    // Logs under `RUST_LOG` (the in-process mocks' requests at `tower_http=debug`), on standard
    // error, as the mock binaries log: standard output holds the reports.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            let code = if err.use_stderr() { EXIT_INVALID } else { EXIT_PASSED };
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}

/// The paths given, or the `scenarios/` folder of this folder or the nearest one above it (the
/// workspace's, from any folder inside it).
fn default_paths(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    if !paths.is_empty() {
        return paths;
    }
    let here = std::env::current_dir().unwrap_or_default();
    let found = here.ancestors().map(|dir| dir.join("scenarios")).find(|dir| dir.is_dir());
    vec![found.unwrap_or_else(|| PathBuf::from("scenarios"))]
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Replay { journal, target, token, timeout_seconds, keep, format } => {
            let text = match std::fs::read_to_string(&journal) {
                Ok(text) => text,
                Err(err) => {
                    eprintln!("error: reading {}: {err}", journal.display());
                    return Ok(EXIT_INVALID);
                }
            };
            let exchanges = match harness::replay::exchanges_of(&text) {
                Ok(exchanges) => exchanges,
                Err(err) => {
                    eprintln!("error: {}: {err}", journal.display());
                    return Ok(EXIT_INVALID);
                }
            };
            if matches!(format, Format::Junit) || timeout_seconds == 0 {
                eprintln!("error: replay reports in human or json, with --timeout-seconds at least 1");
                return Ok(EXIT_INVALID);
            }
            let target = if target.ends_with('/') { target } else { format!("{target}/") };
            let options = harness::replay::Options {
                target,
                token,
                timeout: std::time::Duration::from_secs(timeout_seconds),
                keep,
            };
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            let replayed = match runtime.block_on(harness::replay::replay(&exchanges, &options)) {
                Ok(replayed) => replayed,
                Err(err) => {
                    eprintln!("error: {err}");
                    return Ok(EXIT_INVALID);
                }
            };
            match format {
                Format::Json => println!("{:#}", replayed.json()),
                _ => print!("{}", replayed.human()),
            }
            Ok(if replayed.same() { EXIT_PASSED } else { EXIT_FAILED })
        }
        Command::ImportLogs { file, out, name } => {
            let text = match std::fs::read_to_string(&file) {
                Ok(text) => text,
                Err(err) => {
                    eprintln!("error: reading {}: {err}", file.display());
                    return Ok(EXIT_INVALID);
                }
            };
            let name = name.unwrap_or_else(|| format!("imported: {}", file.display()));
            let imported = match harness::import::import_logs(&text, &name) {
                Ok(imported) => imported,
                Err(err) => {
                    eprintln!("error: {}: {err}", file.display());
                    return Ok(EXIT_INVALID);
                }
            };
            // What is written must load: the importer and the format cannot drift apart.
            scenarios::scenario::Scenario::parse("imported.toml", &imported.scenario)
                .map_err(|err| anyhow::anyhow!("imported scenario is invalid: {err}"))?;
            match out {
                Some(path) => {
                    std::fs::write(&path, &imported.scenario).with_context(|| format!("writing {}", path.display()))?
                }
                None => print!("{}", imported.scenario),
            }
            eprintln!(
                "{} entries, {} cycle(s), {} users and groups rebuilt{}",
                imported.entries,
                imported.cycles,
                imported.objects,
                if imported.notes.is_empty() {
                    String::new()
                } else {
                    format!("; {} note(s) in the scenario", imported.notes.len())
                }
            );
            Ok(EXIT_PASSED)
        }
        Command::Generate { users, groups, members_per_group, seed, out } => {
            if members_per_group > users {
                eprintln!("error: --members-per-group {members_per_group} is more than --users {users}");
                return Ok(EXIT_INVALID);
            }
            let text = format!(
                "# Generated by `harness generate`: {users} users, {groups} assigned groups of {members_per_group} members.\n\
                 name = \"generated: {users} users, {groups} groups, {members_per_group} members each, seed {seed}\"\n\
                 seed = {seed}\n\n\
                 [directory.generated]\nusers = {users}\ngroups = {groups}\nmembers_per_group = {members_per_group}\nassign_groups = true\n\n\
                 [[steps]]\naction = \"configure\"\n\n[[steps]]\naction = \"start\"\n\n[[steps]]\naction = \"advance\"\nby = \"PT40M\"\n\n\
                 [[steps]]\naction = \"expect\"\njob = {{ code = \"Active\", last_state = \"Succeeded\" }}\n"
            );
            // What is written must load: the generator and the format cannot drift apart.
            scenarios::scenario::Scenario::parse("generated.toml", &text)
                .map_err(|err| anyhow::anyhow!("generated scenario is invalid: {err}"))?;
            match out {
                Some(path) => std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?,
                None => print!("{text}"),
            }
            Ok(EXIT_PASSED)
        }
        Command::Serve {
            scenario,
            graph_listen,
            scim_listen,
            env_file,
            graph_admin_token,
            scim_admin_token,
            client_secret,
            advertise_host,
            tls,
            tls_names,
            ca_out,
            real_clock,
            cycle_interval,
            limits,
        } => {
            let scenario = match scenario {
                None => None,
                Some(path) => match harness::load::load(std::slice::from_ref(&path)) {
                    Ok(mut loaded) => loaded.pop().map(|loaded| loaded.scenario),
                    Err(problems) => {
                        eprintln!("error: {} cannot be served; nothing was started:", path.display());
                        for problem in &problems {
                            eprintln!("  {problem}");
                        }
                        return Ok(EXIT_INVALID);
                    }
                },
            };
            let options = harness::serve::Options {
                scenario,
                graph_listen,
                scim_listen,
                graph_admin_token: given_or_random(graph_admin_token),
                scim_admin_token: given_or_random(scim_admin_token),
                client_secret: given_or_random(client_secret),
                advertise_host,
                tls: tls.then_some(tls_names),
                ca_out,
                pacing: if real_clock {
                    harness::serve::Pacing::Real { cycle_interval }
                } else {
                    harness::serve::Pacing::Virtual
                },
                limits: limits.limits(),
            };
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            runtime.block_on(serve(options, env_file))
        }
        Command::ValidateScim { url, token, dialect, seed, timeout_seconds, members, ca_cert, format, out } => {
            use mock_graph::provisioning::scim::Dialect;
            if timeout_seconds == 0 || members == 0 {
                eprintln!("error: --timeout-seconds and --members must be at least 1");
                return Ok(EXIT_INVALID);
            }
            let ca_cert = match ca_cert {
                Some(path) => Some(std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?),
                None => None,
            };
            let options = harness::validate::Options {
                url,
                token,
                dialects: match dialect {
                    DialectArg::Default => vec![Dialect::Default],
                    DialectArg::Optscim062020 => vec![Dialect::Optscim062020],
                    DialectArg::Both => vec![Dialect::Default, Dialect::Optscim062020],
                },
                seed: seed.unwrap_or_else(|| {
                    use std::hash::{BuildHasher, RandomState};
                    RandomState::new().hash_one(0) % 1_000_000
                }),
                timeout: std::time::Duration::from_secs(timeout_seconds),
                members,
                ca_cert,
            };
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            let report = match runtime.block_on(harness::validate::validate(&options)) {
                Ok(report) => report,
                Err(err) => {
                    eprintln!("error: {err}");
                    return Ok(EXIT_INVALID);
                }
            };
            let text = match format {
                Format::Human => report.human(),
                Format::Json => report.json(),
                Format::Junit => report.junit(),
            };
            match out {
                Some(path) => std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?,
                None => print!("{text}"),
            }
            Ok(if report.failed() { EXIT_FAILED } else { EXIT_PASSED })
        }
        Command::Laws(args) => {
            use harness::laws::{LAWS, Options, check, law};
            let engine = match &args.engine {
                None => None,
                Some(command) => {
                    let command: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
                    if command.is_empty() || args.engine_timeout == 0 {
                        eprintln!("error: --engine needs a command and --engine-timeout at least 1 second");
                        return Ok(EXIT_INVALID);
                    }
                    Some(scenarios::scenario::Engine { command, timeout_seconds: Some(args.engine_timeout), tls: None })
                }
            };
            let mut chosen = Vec::new();
            for name in &args.laws {
                let Some(found) = law(name) else {
                    let names: Vec<&str> = LAWS.iter().map(|l| l.name).collect();
                    eprintln!("error: no law {name:?}; the laws are {}", names.join(", "));
                    return Ok(EXIT_INVALID);
                };
                if engine.is_some() && !found.applies_to_engines() {
                    eprintln!("error: the law {name} does not apply to an external engine");
                    return Ok(EXIT_INVALID);
                }
                chosen.push(found);
            }
            if chosen.is_empty() {
                chosen = LAWS.iter().filter(|l| engine.is_none() || l.applies_to_engines()).collect();
            }
            let options = Options { cases: args.cases, seed: args.seed, engine, ..Options::new(args.regressions) };
            let mut reports = Vec::new();
            for found in chosen {
                let report = check(found, &options);
                if matches!(args.format, LawsFormat::Human) {
                    match &report.broken {
                        None => println!("pass {} ({} cases tried)", report.law, report.tried),
                        Some(broken) => {
                            println!("FAIL {}: {}", report.law, broken.reason.replace('\n', "\n    "));
                            if let Some(path) = &broken.regression {
                                println!("  regression: {}", path.display());
                            }
                        }
                    }
                }
                reports.push(report);
            }
            let failed = reports.iter().filter(|r| !r.passed()).count();
            if matches!(args.format, LawsFormat::Json) {
                let laws: Vec<serde_json::Value> = reports
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "law": r.law,
                            "statement": r.statement,
                            "passed": r.passed(),
                            "tried": r.tried,
                            "reason": r.broken.as_ref().map(|b| &b.reason),
                            "regression": r.broken.as_ref().and_then(|b| b.regression.as_ref()).map(|p| p.display().to_string()),
                        })
                    })
                    .collect();
                let report = serde_json::json!({ "passed": reports.len() - failed, "failed": failed, "laws": laws });
                println!("{}", serde_json::to_string_pretty(&report)?);
            }
            Ok(if failed > 0 { EXIT_FAILED } else { EXIT_PASSED })
        }
        Command::Check { paths } => {
            let loaded = match harness::load::find(&default_paths(paths)).and_then(|files| harness::load::load(&files))
            {
                Ok(loaded) => loaded,
                Err(problems) => return Ok(refuse(&problems)),
            };
            println!("{} scenario(s) checked, no problems", loaded.len());
            Ok(EXIT_PASSED)
        }
        Command::Run {
            paths,
            filter,
            format,
            out,
            report: html_report,
            jobs,
            graph,
            scim,
            scim_token,
            graph_admin_token,
            scim_admin_token,
            tenant,
            client_id,
            client_secret,
            engine,
            engine_timeout,
            skip_inapplicable,
        } => {
            let target = match (&scim, scim_token, &graph) {
                (Some(url), Some(token), None) => {
                    let url = if url.ends_with('/') { url.clone() } else { format!("{url}/") };
                    Some(harness::runner::ScimTarget { url, token })
                }
                (Some(_), None, None) => {
                    eprintln!("error: --scim needs --graph (running mocks) or --scim-token (any SCIM server)");
                    return Ok(EXIT_INVALID);
                }
                _ => None,
            };
            let mocks = match (graph, scim, graph_admin_token, scim_admin_token, client_secret) {
                (Some(graph), Some(scim), Some(graph_admin), Some(scim_admin), Some(client_secret)) => {
                    Some(harness::runner::Running {
                        graph: graph.trim_end_matches('/').to_owned(),
                        graph_admin,
                        scim: scim.trim_end_matches('/').to_owned(),
                        scim_admin,
                        tenant,
                        client_id,
                        client_secret,
                    })
                }
                _ => None,
            };
            let mut loaded =
                match harness::load::find(&default_paths(paths)).and_then(|files| harness::load::load(&files)) {
                    Ok(loaded) => loaded,
                    Err(problems) => return Ok(refuse(&problems)),
                };
            if let Some(command) = &engine {
                let command: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
                if command.is_empty() || engine_timeout == 0 {
                    eprintln!("error: --engine needs a command and --engine-timeout at least 1 second");
                    return Ok(EXIT_INVALID);
                }
                let engine = scenarios::scenario::Engine { command, timeout_seconds: Some(engine_timeout), tls: None };
                if skip_inapplicable && !pass_over(&mut loaded, |s| !s.entra_only().is_empty(), "Entra's own service") {
                    return Ok(EXIT_INVALID);
                }
                if let Err(problems) = harness::load::with_engine(&mut loaded, &engine) {
                    return Ok(refuse(&problems));
                }
            }
            if target.is_some() {
                if skip_inapplicable
                    && !pass_over(&mut loaded, |s| !s.needs_aws_admin().is_empty(), "mock-scim's admin API")
                {
                    return Ok(EXIT_INVALID);
                }
                if let Err(problems) = harness::load::for_scim_target(&loaded) {
                    return Ok(refuse(&problems));
                }
            }
            if let Some(filter) = &filter {
                let wanted = filter.to_lowercase();
                loaded.retain(|l| {
                    l.scenario.name.to_lowercase().contains(&wanted)
                        || l.path.display().to_string().to_lowercase().contains(&wanted)
                });
                if loaded.is_empty() {
                    eprintln!("error: no scenario name or path contains {filter:?} (in any case)");
                    return Ok(EXIT_INVALID);
                }
            }
            let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            let started = Instant::now();
            let total_count = loaded.len();
            // On a terminal, a progress bar once the run has taken a second; elsewhere (piped, in
            // CI) a line on stderr as each scenario ends.
            let interactive = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let bar = progress_bar(interactive, total_count);
            let ended = bar.clone();
            let progress = move |done: usize, result: &harness::runner::ScenarioResult| {
                let verdict = if result.passed() { "pass" } else { "FAIL" };
                let line =
                    format!("[{done}/{total_count}] {verdict} {} ({} ms)", result.name, result.duration.as_millis());
                match &ended {
                    Some(bar) => {
                        bar.set_message(line);
                        bar.inc(1);
                    }
                    None => eprintln!("{line}"),
                }
            };
            let against = match (mocks, target) {
                (Some(mocks), _) => harness::runner::Against::Running(mocks),
                (None, Some(target)) => harness::runner::Against::Target(target),
                (None, None) => harness::runner::Against::InProcess,
            };
            let keep =
                if html_report.is_some() { harness::runner::Keep::Report } else { harness::runner::Keep::Verdict };
            let results = runtime.block_on(harness::run_all(loaded, jobs, against, keep, &progress));
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            let total = started.elapsed();
            if let Some(path) = &html_report {
                let html = harness::report::html::render(&results, total);
                std::fs::write(path, html).with_context(|| format!("writing {}", path.display()))?;
            }
            let report = match format {
                Format::Human => harness::report::human(&results, total),
                Format::Json => harness::report::json(&results, total),
                Format::Junit => harness::report::junit(&results, total),
            };
            match out {
                Some(path) => std::fs::write(&path, &report).with_context(|| format!("writing {}", path.display()))?,
                None if matches!(format, Format::Human) && colour() => print!("{}", coloured(&report)),
                None => print!("{report}"),
            }
            let failed = results.iter().any(|(_, r)| !r.passed());
            // A scenario whose situation could not be built (a mock unreachable, a token refused, a
            // directory refused) is bad input or setup, not a failed expectation.
            let setup = results.iter().any(|(_, r)| r.failures.iter().any(|f| f.starts_with("setup: ")));
            Ok(if setup {
                eprintln!("error: a scenario's setup failed (see its \"setup:\" line): exit 2");
                EXIT_INVALID
            } else if failed {
                EXIT_FAILED
            } else {
                EXIT_PASSED
            })
        }
    }
}

/// A progress bar on stderr for `total` scenarios, drawn only once a second has passed (short runs
/// print nothing); `None` off a terminal.
fn progress_bar(interactive: bool, total: usize) -> Option<indicatif::ProgressBar> {
    if !interactive {
        return None;
    }
    let bar = indicatif::ProgressBar::with_draw_target(Some(total as u64), indicatif::ProgressDrawTarget::hidden());
    if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {wide_msg}") {
        bar.set_style(style);
    }
    let shown = bar.clone();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(1));
        if !shown.is_finished() {
            shown.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            shown.enable_steady_tick(std::time::Duration::from_millis(200));
        }
    });
    Some(bar)
}

/// Colours on standard output when it is a terminal and `NO_COLOR` is not set (no-color.org).
fn colour() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stdout()) && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The human report with its verdicts in green and red.
fn coloured(report: &str) -> String {
    report
        .lines()
        .map(|line| {
            if let Some(rest) = line.strip_prefix("PASS  ") {
                format!("\x1b[32mPASS\x1b[0m  {rest}\n")
            } else if let Some(rest) = line.strip_prefix("FAIL  ") {
                format!("\x1b[31mFAIL\x1b[0m  {rest}\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect()
}

/// Drops the scenarios that `needs` what the run has not, saying how many; false (with a message)
/// when none is left.
fn pass_over(
    loaded: &mut Vec<harness::load::Loaded>,
    needs: impl Fn(&scenarios::scenario::Scenario) -> bool,
    what: &str,
) -> bool {
    let before = loaded.len();
    loaded.retain(|l| !needs(&l.scenario));
    eprintln!("{} of {before} scenario(s) need {what} and are passed over", before - loaded.len());
    if loaded.is_empty() {
        eprintln!("error: no scenario left to run");
    }
    !loaded.is_empty()
}

/// A token or secret as given, or a random one when none is (an empty variable, as compose writes
/// for an unset one, is none).
fn given_or_random(given: Option<String>) -> String {
    given.filter(|value| !value.is_empty()).unwrap_or_else(harness::serve::random_token)
}

/// `harness serve`: starts, says where, waits for Ctrl-C or SIGTERM, stops.
async fn serve(options: harness::serve::Options, env_file: Option<PathBuf>) -> anyhow::Result<u8> {
    use tokio::signal::unix::{SignalKind, signal};
    // Listened for before anything starts, so that a signal during the wiring is not lost.
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    let pacing = options.pacing;
    let mut services = match harness::serve::start(options).await {
        Ok(services) => services,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(EXIT_INVALID);
        }
    };
    for miss in services.misses() {
        eprintln!("warning: {miss}");
    }
    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(services.env().to_text().as_bytes()).and_then(|()| out.flush());
    }
    // For whoever watches a terminal; stdout carries the KEY=VALUE lines alone.
    let env = services.env();
    let graph = env.get("GRAPH_URL").unwrap_or_default();
    let time = match pacing {
        harness::serve::Pacing::Virtual => {
            format!("POST {graph}/_admin/clock/advance {{\"by\":\"PT40M\"}} runs the cycles due")
        }
        harness::serve::Pacing::Real { .. } => "cycles come by themselves once the job is started".to_owned(),
    };
    eprintln!(
        "serving mock-graph at {graph} and mock-scim at {}; {time}; Ctrl-C stops",
        env.get("SCIM_BASE_URL").unwrap_or_default()
    );
    if let Some(path) = &env_file
        && let Err(err) = services.env().write(path)
    {
        eprintln!("error: writing {}: {err}", path.display());
        services.stop(std::time::Duration::from_secs(5)).await;
        return Ok(EXIT_INVALID);
    }
    let failed = tokio::select! {
        _ = terminate.recv() => None,
        _ = interrupt.recv() => None,
        failure = services.failed() => Some(failure),
    };
    services.stop(std::time::Duration::from_secs(5)).await;
    if let Some(path) = &env_file {
        let _ = std::fs::remove_file(path);
    }
    match failed {
        None => Ok(EXIT_PASSED),
        Some(failure) => {
            eprintln!("error: {failure}");
            Ok(EXIT_FAILED)
        }
    }
}

/// Prints every problem and refuses the run.
fn refuse(problems: &[scenarios::scenario::Problem]) -> u8 {
    eprintln!("error: {} problem(s) in the scenarios; nothing was run:", problems.len());
    for problem in problems {
        eprintln!("  {problem}");
    }
    EXIT_INVALID
}
