//! [`harness::TestEnv`] as another workspace's test meets it: nothing but its public API.

use harness::TestEnv;
use harness::test_env::{CYCLE, Seed, TestEnvError};

const ANNIE: &str = "annie@contoso.onmicrosoft.com";
const BOB: &str = "bob@contoso.onmicrosoft.com";

#[tokio::test]
async fn the_seed_story_refuses_administrator_and_syncs_sre() {
    let env = TestEnv::start().await;
    let seeded = env
        .seed(
            &Seed::new()
                .user(ANNIE, "Annie", "Easley")
                .user(BOB, "Bob", "Builder")
                .group("Administrator", &[ANNIE])
                .group("SRE", &[ANNIE, BOB]),
        )
        .await
        .unwrap();
    assert_eq!(seeded.users.len(), 2);
    assert!(seeded.groups.contains_key("SRE"));
    for principal in [ANNIE, "Administrator", "SRE"] {
        env.assign(principal).await.unwrap();
    }
    env.test_connection().await.unwrap();
    env.start_job().await.unwrap();
    assert!(env.aws_state().await.unwrap().user_names().is_empty(), "nothing before a cycle");
    env.advance(CYCLE).await.unwrap();

    let logs = env.provisioning_logs().await.unwrap();
    let administrator = logs.iter().find(|e| e.identity == "Administrator").expect("a log entry for Administrator");
    assert_eq!((administrator.action.as_str(), administrator.status.as_str()), ("create", "failure"));
    assert_eq!(administrator.error_code.as_deref(), Some("SystemForCrossDomainIdentityManagementBadRequest"));
    let sre = logs.iter().find(|e| e.identity == "SRE").expect("a log entry for SRE");
    assert_eq!(sre.status, "success");

    let aws = env.aws_state().await.unwrap();
    assert_eq!(aws.user_names(), [ANNIE, BOB]);
    assert_eq!(aws.group_names(), ["SRE"]);
    assert_eq!(aws.members("SRE"), Some(vec![ANNIE.to_owned(), BOB.to_owned()]));
    env.stop().await;
}

#[tokio::test]
async fn the_env_points_a_sync_tool_of_ones_own_at_the_aws_tenant() {
    let env = TestEnv::start().await;
    let scim_url = env.env().get("SCIM_URL").unwrap();
    assert!(scim_url.starts_with("http://127.0.0.1:") && scim_url.ends_with("/scim/v2/"), "{scim_url}");
    assert_eq!(env.scim_url(), scim_url);
    // What a sync tool does first: read AWS's ServiceProviderConfig with the tenant's token.
    let answer = reqwest::Client::new()
        .get(format!("{scim_url}ServiceProviderConfig"))
        .bearer_auth(env.scim_token())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let token = env.graph_token().await.unwrap();
    let users =
        reqwest::Client::new().get(format!("{}/v1.0/users", env.graph_url())).bearer_auth(token).send().await.unwrap();
    assert_eq!(users.status(), 200);
}

#[tokio::test]
async fn bad_input_is_an_error_not_a_panic() {
    let env = TestEnv::start().await;
    assert!(matches!(env.assign("nobody").await, Err(TestEnvError::NoPrincipal(name)) if name == "nobody"));
    assert!(matches!(env.advance("40 minutes").await, Err(TestEnvError::Duration { .. })));
    let refused = env.seed(&Seed::new().group("SRE", &["ghost@contoso.onmicrosoft.com"])).await;
    assert!(matches!(refused, Err(TestEnvError::Status { status: 400, .. })), "{refused:?}");
    // All or nothing: the refused seed left no group behind.
    assert!(matches!(env.assign("SRE").await, Err(TestEnvError::NoPrincipal(_))));
}

#[tokio::test]
async fn two_envs_run_side_by_side_on_their_own_ports() {
    let (one, two) = (TestEnv::start().await, TestEnv::start().await);
    assert_ne!(one.graph_url(), two.graph_url());
    one.seed(&Seed::new().user(ANNIE, "Annie", "Easley")).await.unwrap();
    one.assign(ANNIE).await.unwrap();
    assert!(matches!(two.assign(ANNIE).await, Err(TestEnvError::NoPrincipal(_))));
}
