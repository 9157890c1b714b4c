//! `harness replay`: a run's SCIM requests, as mock-scim's journal exported them (JSON Lines), sent
//! to another SCIM server. Replayed against a fresh mock-scim every answer is the same and the target
//! is left empty; against one whose switches differ, the replay names the difference.

use harness::TestEnv;
use harness::test_env::Seed;
use mock_scim::MockScim;

mod support;

const ANNIE: &str = "annie@contoso.onmicrosoft.com";

/// The seed story's SCIM traffic, as `GET /_admin/journal?format=jsonl` exports it.
async fn recorded_journal() -> String {
    let env = TestEnv::start().await;
    env.seed(&Seed::new().user(ANNIE, "Annie", "Easley").group("SRE", &[ANNIE]).group("Administrator", &[ANNIE]))
        .await
        .unwrap();
    for group in ["SRE", "Administrator"] {
        env.assign(group).await.unwrap();
    }
    env.start_job().await.unwrap();
    env.advance("PT40M").await.unwrap();
    let vars = env.env();
    let answer = reqwest::Client::new()
        .get(format!("{}/_admin/journal?format=jsonl", vars.get("SCIM_BASE_URL").unwrap()))
        .bearer_auth(vars.get("SCIM_ADMIN_TOKEN").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["content-type"], "application/x-ndjson");
    let text = answer.text().await.unwrap();
    env.stop().await;
    text
}

fn replay(journal: &str, target: &MockScim, extra: &[&str]) -> (i32, String, String) {
    let file = std::env::temp_dir().join(format!("replay-{}-{}.jsonl", std::process::id(), target.tenant_id()));
    std::fs::write(&file, journal).unwrap();
    let endpoint = target.scim_endpoint();
    let mut args = vec!["replay", file.to_str().unwrap(), "--target", &endpoint, "--token", target.token()];
    args.extend_from_slice(extra);
    let answer = support::harness(&args);
    let _ = std::fs::remove_file(&file);
    answer
}

async fn users_on(target: &MockScim) -> u64 {
    support::scim_total(target, "Users").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_replayed_on_a_fresh_mock_scim_answers_the_same_and_leaves_it_empty() {
    let journal = recorded_journal().await;
    assert!(journal.lines().count() >= 8, "{journal}");
    let target = MockScim::start().await;
    let (code, out, err) = replay(&journal, &target, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains(", 0 answered differently"), "{out}");
    assert!(out.contains("same  #") && out.contains("POST /Groups  recorded 400, target 400"), "{out}");
    assert!(out.contains("PATCH /Groups/"), "the member PATCH went to the target's own group id: {out}");
    assert_eq!(users_on(&target).await, 0, "what the replay created is deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_answers_otherwise_is_named_request_by_request() {
    let journal = recorded_journal().await;
    let target = MockScim::start().await;
    // The same refusal, in the words AWS's CloudTrail uses rather than the generic ones.
    let switched = reqwest::Client::new()
        .patch(format!("{}/_admin/switches", target.uri()))
        .bearer_auth(target.admin_token())
        .json(&serde_json::json!({"errorDetail": "specific"}))
        .send()
        .await
        .unwrap();
    assert!(switched.status().is_success());
    let (code, out, err) = replay(&journal, &target, &["--format", "json", "--keep"]);
    assert_eq!(code, 1, "{out}\n{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let refused = report["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["recorded"] == 400)
        .expect("the Administrator refusal is replayed");
    assert_eq!(refused["answered"], 400);
    let differences = refused["differences"].to_string();
    assert!(differences.contains("error detail: recorded"), "{differences}");
    assert!(report["cleanup"].as_array().unwrap().is_empty(), "--keep keeps");
    assert!(users_on(&target).await > 0);
}
