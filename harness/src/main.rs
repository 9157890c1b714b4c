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
        /// Scenarios run at once (default: the machine's cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// A running mock-graph to use instead of in-process mocks (it is reset before each scenario).
        #[arg(long, requires_all = ["scim", "graph_admin_token", "scim_admin_token", "client_secret"])]
        graph: Option<String>,
        /// A running mock-scim, with `--graph`.
        #[arg(long, requires = "graph")]
        scim: Option<String>,
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
    },
    /// Check scenario files without running them.
    Check {
        /// Scenario files or folders.
        paths: Vec<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
    Junit,
}

fn main() -> ExitCode {
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

fn default_paths(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    if paths.is_empty() { vec![PathBuf::from("scenarios")] } else { paths }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
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
            jobs,
            graph,
            scim,
            graph_admin_token,
            scim_admin_token,
            tenant,
            client_id,
            client_secret,
        } => {
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
            if let Some(filter) = &filter {
                loaded.retain(|l| l.scenario.name.contains(filter.as_str()));
                if loaded.is_empty() {
                    eprintln!("error: no scenario name contains {filter:?}");
                    return Ok(EXIT_INVALID);
                }
            }
            let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            let started = Instant::now();
            let total_count = loaded.len();
            // A progress line on an interactive terminal, rewritten in place.
            let interactive = std::io::IsTerminal::is_terminal(&std::io::stderr())
                && matches!(format, Format::Human)
                && out.is_none();
            let progress = move |done: usize, result: &harness::runner::ScenarioResult| {
                if interactive {
                    let verdict = if result.passed() { "pass" } else { "FAIL" };
                    eprint!("\r\x1b[2K[{done}/{total_count}] {verdict} {}", result.name);
                    if done == total_count {
                        eprint!("\r\x1b[2K");
                    }
                }
            };
            let results = runtime.block_on(harness::run_all(loaded, jobs, mocks, &progress));
            let total = started.elapsed();
            let report = match format {
                Format::Human => harness::report::human(&results, total),
                Format::Json => harness::report::json(&results, total),
                Format::Junit => harness::report::junit(&results, total),
            };
            match out {
                Some(path) => std::fs::write(&path, &report).with_context(|| format!("writing {}", path.display()))?,
                None => print!("{report}"),
            }
            let failed = results.iter().any(|(_, r)| !r.passed());
            Ok(if failed { EXIT_FAILED } else { EXIT_PASSED })
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
