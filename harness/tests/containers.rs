//! The seed story against containers (feature `containers`): `harness serve` in the
//! `entra-aws-harness:dev` image that `docker/build.sh` builds, wired up to the story's `configure`,
//! then its remaining steps driven from this host through [`harness::TestEnv::attach`], exactly as
//! the in-process pair is. Needs a Docker daemon and the image; without either it fails and says
//! which (it is never skipped).

use harness::TestEnv;
use harness::containers::ProvisioningPair;

const ANNIE: &str = "annie@contoso.onmicrosoft.com";
const BOB: &str = "bob@contoso.onmicrosoft.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_story_runs_against_the_container() {
    let started = std::time::Instant::now();
    let pair = ProvisioningPair::start().await.unwrap_or_else(|err| panic!("{err}"));
    eprintln!("container {} up and wired in {:.1} s", pair.id(), started.elapsed().as_secs_f64());
    for key in ["GRAPH_URL", "SCIM_URL", "SCIM_BASE_URL"] {
        let url = pair.env().get(key).unwrap();
        assert!(url.starts_with("http://127.0.0.1:"), "{key}={url} is published on loopback");
        assert!(!url.contains(":9200") && !url.contains(":9100"), "{key}={url} is the host's mapped port");
    }
    let env = TestEnv::attach(pair.env().clone()).unwrap();

    // The story after its `configure`: test connection, start, one cycle, then what AWS holds.
    env.test_connection().await.unwrap();
    env.start_job().await.unwrap();
    assert!(env.aws_state().await.unwrap().user_names().is_empty(), "nothing in AWS before a cycle");
    env.advance(harness::test_env::CYCLE).await.unwrap();

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
    eprintln!("seed story against the container in {:.1} s", started.elapsed().as_secs_f64());
}

#[tokio::test]
async fn an_image_that_is_not_there_says_how_to_build_it() {
    let options = harness::containers::PairOptions { tag: "no-such-tag".to_owned(), ..Default::default() };
    let err = ProvisioningPair::start_with(options).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "the image entra-aws-harness:no-such-tag is not there; build it first with docker/build.sh (nothing is pulled)"
    );
}
