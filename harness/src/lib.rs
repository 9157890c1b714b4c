//! The harness: runs scenario files against mock-graph and mock-scim, each scenario on its own
//! in-process mocks, and reports what came out.
//!
//! # Layout
//! - [`load`]: finding scenario files and checking them, every problem listed.
//! - [`runner`]: building a scenario's situation, carrying its steps out over HTTP, and gathering
//!   what each expectation reads.
//! - [`expect`]: judging an expectation against what was gathered, without I/O; each miss explained
//!   with logs and exchanges.
//! - [`engine`]: a user's own sync tool run in place of Entra's service, once per cycle due.
//! - [`laws`]: the laws of sync as property tests over random cases, each case a scenario, a
//!   failing one written as a regression scenario (`harness laws`), against Entra's service or an
//!   engine.
//! - [`import`]: provisioning logs as a tenant gives them, turned into a scenario (`harness
//!   import-logs`).
//! - [`replay`]: a recorded run's SCIM requests sent again to another server, answers compared
//!   (`harness replay`).
//! - [`placeholders`]: `{user:NAME}` and `{group:NAME}` replaced with AWS ids.
//! - [`report`]: human, JSON and JUnit reports, and the self-contained HTML report ([`report::html`]).
//! - [`serve`]: both mocks in-process, wired as a scenario's `configure` leaves them, for clients
//!   outside (`harness serve`).
//! - [`test_env`]: [`TestEnv`], both mocks wired in one call for a test, driven over HTTP (seed,
//!   assign, start, advance, logs, AWS's state); it also drives mocks started elsewhere.
//! - `containers` (feature `containers`): the same pair as a container of the `entra-aws-harness`
//!   image, through testcontainers.
//! - [`validate`]: `harness validate-scim`, Entra's SCIM traffic in both PATCH dialects against any
//!   SCIM server, each check reported with the exchange that decided it.
//!
//! # Example
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let files = harness::load::find(&["scenarios".into()]).unwrap();
//! for loaded in harness::load::load(&files).unwrap() {
//!     let result = harness::runner::run(&loaded.scenario).await;
//!     println!("{}: {}", result.name, if result.passed() { "pass" } else { "fail" });
//! }
//! # }
//! ```

#[cfg(feature = "containers")]
pub mod containers;
pub mod engine;
pub mod expect;
pub mod import;
pub mod laws;
pub mod load;
pub mod placeholders;
pub mod replay;
pub mod report;
pub mod runner;
pub mod serve;
pub mod test_env;
pub mod validate;

pub use test_env::TestEnv;

/// Runs scenarios concurrently, `parallelism` at a time, each on its own in-process mocks — or one at
/// a time on running mocks, reset before each, or against a SCIM target; results in input order, keeping
/// what `keep` says ([`runner::Keep::Verdict`] for a verdict only). `progress` hears of each finished scenario.
pub async fn run_all(
    loaded: Vec<load::Loaded>,
    parallelism: usize,
    against: runner::Against,
    keep: runner::Keep,
    progress: &(dyn Fn(usize, &runner::ScenarioResult) + Sync),
) -> Vec<(String, runner::ScenarioResult)> {
    use futures::StreamExt as _;
    let parallelism = if against.one_at_a_time() { 1 } else { parallelism.max(1) };
    let against = &against;
    let done = std::sync::atomic::AtomicUsize::new(0);
    let done = &done;
    let mut results: Vec<(usize, String, runner::ScenarioResult)> =
        futures::stream::iter(loaded.into_iter().enumerate())
            .map(|(i, item)| async move {
                let file = item.path.display().to_string();
                let result = against.run(&item.scenario, keep).await;
                progress(done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1, &result);
                (i, file, result)
            })
            .buffer_unordered(parallelism)
            .collect()
            .await;
    results.sort_by_key(|(i, _, _)| *i);
    results.into_iter().map(|(_, file, result)| (file, result)).collect()
}
