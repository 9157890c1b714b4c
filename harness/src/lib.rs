//! The harness: runs scenario files against mock-graph and mock-scim, each scenario on its own
//! in-process mocks, and reports what came out.
//!
//! # Layout
//! - [`load`]: finding scenario files and checking them, every problem listed.
//! - [`runner`]: building a scenario's situation and carrying its steps out over HTTP.
//! - [`expect`]: checking expectations, explaining each miss with logs and exchanges.
//! - [`report`]: human, JSON and JUnit reports.
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

pub mod expect;
pub mod load;
pub mod report;
pub mod runner;

/// Runs scenarios concurrently, `parallelism` at a time, each on its own mocks; results in input order.
pub async fn run_all(loaded: Vec<load::Loaded>, parallelism: usize) -> Vec<(String, runner::ScenarioResult)> {
    use futures::StreamExt as _;
    let mut results: Vec<(usize, String, runner::ScenarioResult)> =
        futures::stream::iter(loaded.into_iter().enumerate())
            .map(|(i, item)| async move {
                let file = item.path.display().to_string();
                (i, file, runner::run(&item.scenario).await)
            })
            .buffer_unordered(parallelism.max(1))
            .collect()
            .await;
    results.sort_by_key(|(i, _, _)| *i);
    results.into_iter().map(|(_, file, result)| (file, result)).collect()
}
