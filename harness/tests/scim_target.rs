//! `harness run --scim URL --scim-token T`: a SCIM server with no admin API of ours in AWS's place.
//! mock-scim, started on its own and driven only over SCIM, stands in for such a server here (the
//! Python suite runs scim2-server): what needs its admin API is refused at load with its place, or
//! passed over with `--skip-inapplicable`; the rest passes; the server is left empty, as found.

use mock_scim::MockScim;

mod support;
use support::scim_total;

/// `harness run` with `scim` in AWS's place.
fn harness(scim: &MockScim, args: &[&str]) -> (i32, String, String) {
    let endpoint = scim.scim_endpoint();
    let mut all = vec!["run", "--scim", &endpoint, "--scim-token", scim.token()];
    all.extend_from_slice(args);
    support::harness(&all)
}

async fn totals(scim: &MockScim) -> (u64, u64) {
    (scim_total(scim, "Users").await, scim_total(scim, "Groups").await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_library_runs_against_a_server_without_our_admin_api_and_leaves_it_empty() {
    let scim = MockScim::start().await;
    let (code, out, err) = harness(&scim, &["--skip-inapplicable", "scenarios/library"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("need mock-scim's admin API and are passed over"), "{err}");
    assert!(out.contains("PASS  a user without surname is refused"), "AWS's own rules hold: {out}");
    assert!(out.contains("PASS  a user disabled in Entra stays a member"), "members read over SCIM: {out}");
    assert_eq!(totals(&scim).await, (0, 0), "what the scenarios made is deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_needs_the_admin_api_is_refused_at_load_with_its_place() {
    let scim = MockScim::start().await;
    let (code, _, err) = harness(&scim, &["scenarios/library/00_seed_story.toml"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "00_seed_story.toml:77: steps[11].order_safe: AWS's journal of requests needs mock-scim's admin API"
        ),
        "{err}"
    );
    let (code, _, err) = harness(&scim, &["scenarios/library/16_429_storm.toml"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("16_429_storm.toml:6: faults: faults on AWS's side: needs mock-scim's admin API"), "{err}");
    assert_eq!(totals(&scim).await, (0, 0), "nothing was run");
}
