//! `harness import-logs`: provisioning logs turned into a scenario. A round trip on logs our own
//! engine wrote (the seed story through `TestEnv`, its logs as Graph answers them): the scenario
//! imported from them passes and expects every outcome of their first cycle. And hand-written
//! samples of the real shapes (Graph v1.0's example, a download in the beta shape) give the
//! scenarios written down beside them.

use std::path::{Path, PathBuf};

use harness::TestEnv;
use harness::test_env::Seed;

mod support;
use support::harness;

const ANNIE: &str = "annie@contoso.onmicrosoft.com";
const BOB: &str = "bob@contoso.onmicrosoft.com";

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/import")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_our_engine_wrote_import_into_a_scenario_that_passes() {
    let env = TestEnv::start().await;
    env.seed(
        &Seed::new()
            .user(ANNIE, "Annie", "Easley")
            .user(BOB, "Bob", "Kahn")
            .group("SRE", &[ANNIE, BOB])
            .group("Administrator", &[ANNIE]),
    )
    .await
    .unwrap();
    for group in ["SRE", "Administrator"] {
        env.assign(group).await.unwrap();
    }
    env.start_job().await.unwrap();
    env.advance("PT1M").await.unwrap();
    let logs = env.provisioning_logs().await.unwrap();
    let page = serde_json::json!({ "value": logs.iter().map(|entry| entry.raw.clone()).collect::<Vec<_>>() });
    let dir = std::env::temp_dir().join(format!("import-logs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (file, scenario) = (dir.join("logs.json"), dir.join("imported.toml"));
    std::fs::write(&file, page.to_string()).unwrap();

    let (code, _, err) = harness(&["import-logs", file.to_str().unwrap(), "--out", scenario.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&scenario).unwrap();
    for entry in logs.iter().filter(|e| !(e.action == "update" && e.identity == "SRE")) {
        let wanted =
            format!("{{ identity = {:?}, action = {:?}, status = {:?}", entry.identity, entry.action, entry.status);
        assert!(text.contains(&wanted), "{wanted} in\n{text}");
    }
    assert!(text.contains(r#"error_code = "SystemForCrossDomainIdentityManagementBadRequest""#), "{text}");
    let (code, out, err) = harness(&["run", scenario.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}\n{text}");
    let _ = std::fs::remove_dir_all(&dir);
    env.stop().await;
}

#[test]
fn samples_of_the_real_shapes_import_as_written_down() {
    for (sample, name) in [("graph_v1", "imported: Graph's example"), ("portal_beta", "imported: a portal download")] {
        let file = samples().join(format!("{sample}.json"));
        let (code, out, err) = harness(&["import-logs", file.to_str().unwrap(), "--name", name]);
        assert_eq!(code, 0, "{err}");
        let expected = std::fs::read_to_string(samples().join(format!("{sample}.expected.toml"))).unwrap();
        assert_eq!(out, expected, "{sample}");
    }
}

#[test]
fn what_is_not_a_provisioning_log_exits_2_saying_so() {
    let dir = std::env::temp_dir().join(format!("import-logs-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("not-logs.json");
    std::fs::write(&file, r#"{"value": [{"id": "x"}]}"#).unwrap();
    let (code, out, err) = harness(&["import-logs", file.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(err.contains("no provisioning log entry in it"), "{err}");
    let (code, _, err) = harness(&["import-logs", dir.join("missing.json").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("missing.json"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
