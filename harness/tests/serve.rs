//! `harness serve` as a user meets it: the built binary, its env file, and the mocks driven over
//! HTTP from outside with nothing but what the env file says.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const SEED_STORY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/library/00_seed_story.toml");
/// How long the binary may take to start, wire both mocks and write the env file (a debug build on
/// a loaded 2-core machine).
const START_LIMIT: Duration = Duration::from_secs(60);

/// The child process, killed if a test leaves it running.
struct Served {
    child: Child,
    env_file: PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// Starts `harness serve ARGS --env-file F` and waits for F; the child's stderr if it stops first.
    fn start(name: &str, args: &[&str]) -> (Served, BTreeMap<String, String>) {
        Served::start_with(name, args, &[])
    }

    /// [`Served::start`] with environment variables.
    fn start_with(name: &str, args: &[&str], vars: &[(&str, &str)]) -> (Served, BTreeMap<String, String>) {
        let env_file = scratch(name).join("serve.env");
        let child = Command::new(env!("CARGO_BIN_EXE_harness"))
            .env_remove("MOCK_GRAPH_ADMIN_TOKEN")
            .env_remove("MOCK_SCIM_ADMIN_TOKEN")
            .env_remove("MOCK_GRAPH_CLIENT_SECRET")
            .envs(vars.iter().copied())
            .arg("serve")
            .args(args)
            .arg("--env-file")
            .arg(&env_file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the harness binary starts");
        let mut served = Served { child, env_file };
        let started = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(&served.env_file) {
                return (served, parse_env(&text));
            }
            if let Some(status) = served.child.try_wait().expect("the child can be polled") {
                let mut stderr = String::new();
                if let Some(mut pipe) = served.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                panic!("harness serve stopped before writing its env file ({status}): {stderr}");
            }
            assert!(started.elapsed() < START_LIMIT, "no env file after {START_LIMIT:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM and waits (bounded) for the exit.
    fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
        assert!(sent.success(), "kill -TERM {pid}");
        wait_bounded(&mut self.child, Duration::from_secs(20))
    }
}

fn wait_bounded(child: &mut Child, limit: Duration) -> ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("the child can be polled") {
            return status;
        }
        assert!(started.elapsed() < limit, "the child did not stop within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A fresh folder for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    dir
}

fn parse_env(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// Runs `harness serve ARGS` to its end (it must stop by itself), giving its status and stderr.
fn refused(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("serve")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the harness binary starts");
    let status = wait_bounded(&mut child, START_LIMIT);
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
    }
    (status.code(), stderr)
}

/// A Graph access token by client credentials, as any client gets one.
async fn graph_token(http: &reqwest::Client, env: &BTreeMap<String, String>) -> String {
    let form = [
        ("client_id", env["GRAPH_CLIENT_ID"].as_str()),
        ("client_secret", env["GRAPH_CLIENT_SECRET"].as_str()),
        ("scope", "https://graph.microsoft.com/.default"),
        ("grant_type", "client_credentials"),
    ];
    let url = format!("{}/{}/oauth2/v2.0/token", env["GRAPH_URL"], env["GRAPH_TENANT"]);
    let answer: Value = http.post(url).form(&form).send().await.unwrap().json().await.unwrap();
    answer["access_token"].as_str().unwrap_or_else(|| panic!("no token: {answer}")).to_owned()
}

#[tokio::test]
async fn the_served_seed_story_syncs_sre_and_aws_refuses_administrator() {
    let (mut served, env) = Served::start("seed", &[SEED_STORY]);
    for key in [
        "GRAPH_URL",
        "GRAPH_TENANT",
        "GRAPH_CLIENT_ID",
        "GRAPH_CLIENT_SECRET",
        "GRAPH_ADMIN_TOKEN",
        "SCIM_URL",
        "SCIM_TOKEN",
        "SCIM_ADMIN_TOKEN",
        "SYNC_JOB_ID",
        "SERVICE_PRINCIPAL_ID",
    ] {
        assert!(env.get(key).is_some_and(|v| !v.is_empty()), "{key} in {env:?}");
    }
    assert!(env["GRAPH_URL"].starts_with("http://127.0.0.1:"), "loopback by default: {}", env["GRAPH_URL"]);
    assert!(env["SCIM_URL"].ends_with("/scim/v2/"), "the tenant's SCIM endpoint: {}", env["SCIM_URL"]);
    assert!(!env.contains_key("CA_CERT"), "no CA without --tls");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&served.env_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the env file holds secrets: its owner's only");
    }

    let http = reqwest::Client::new();
    let token = graph_token(&http, &env).await;
    let job = format!(
        "{}/v1.0/servicePrincipals/{}/synchronization/jobs/{}",
        env["GRAPH_URL"], env["SERVICE_PRINCIPAL_ID"], env["SYNC_JOB_ID"]
    );
    // Wired as `configure` leaves it: Test Connection works with the saved credentials.
    let tested = http
        .post(format!("{job}/validateCredentials"))
        .bearer_auth(&token)
        .json(&json!({"useSavedCredentials": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(tested.status(), 204, "{}", tested.text().await.unwrap());
    // Before the job starts nothing reaches AWS, whatever the clock does.
    let users = format!("{}Users", env["SCIM_URL"]);
    let before: Value = http.get(&users).bearer_auth(&env["SCIM_TOKEN"]).send().await.unwrap().json().await.unwrap();
    assert_eq!(before["totalResults"], 0, "{before}");

    let started = http.post(format!("{job}/start")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(started.status(), 204);
    let advanced = http
        .post(format!("{}/_admin/clock/advance", env["GRAPH_URL"]))
        .bearer_auth(&env["GRAPH_ADMIN_TOKEN"])
        .json(&json!({"by": "PT40M"}))
        .send()
        .await
        .unwrap();
    assert_eq!(advanced.status(), 200);

    // AWS as its console shows it, through mock-scim's admin API.
    let state: Value = http
        .get(format!("{}/_admin/tenants/{}/state", env["SCIM_BASE_URL"], env["SCIM_TENANT_ID"]))
        .bearer_auth(&env["SCIM_ADMIN_TOKEN"])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user_names: BTreeMap<&str, &str> = state["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["id"].as_str().unwrap(), u["userName"].as_str().unwrap()))
        .collect();
    let groups: BTreeMap<&str, Vec<&str>> = state["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let mut members: Vec<&str> =
                g["members"].as_array().unwrap().iter().map(|m| user_names[m.as_str().unwrap()]).collect();
            members.sort_unstable();
            (g["displayName"].as_str().unwrap(), members)
        })
        .collect();
    assert_eq!(
        groups,
        BTreeMap::from([("SRE", vec!["annie@contoso.onmicrosoft.com", "bob@contoso.onmicrosoft.com"])]),
        "SRE synced with its members, Administrator refused: {state}"
    );
    // And through SCIM itself, with the tenant's token: the same users.
    let listed: Value = http.get(&users).bearer_auth(&env["SCIM_TOKEN"]).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["totalResults"], 2, "{listed}");

    // The provisioning logs tell why Administrator is missing.
    let logs: Value = http
        .get(format!("{}/v1.0/auditLogs/provisioning", env["GRAPH_URL"]))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refusal = logs["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["sourceIdentity"]["displayName"] == "Administrator")
        .unwrap_or_else(|| panic!("no log entry for Administrator: {logs}"));
    assert_eq!(refusal["provisioningStatusInfo"]["status"], "failure");
    assert_eq!(
        refusal["provisioningStatusInfo"]["errorInformation"]["errorCode"],
        "SystemForCrossDomainIdentityManagementBadRequest"
    );

    let status = served.terminate();
    assert_eq!(status.code(), Some(0), "SIGTERM stops both mocks cleanly");
    assert!(!served.env_file.exists(), "the env file goes with the services it describes");
}

#[tokio::test]
async fn without_a_scenario_an_empty_directory_is_served_wired_and_sigterm_stops_it() {
    // Tokens as the mocks' binaries take them; an empty variable (compose's unset) is none.
    let vars = [("MOCK_GRAPH_ADMIN_TOKEN", "chosen-admin"), ("MOCK_SCIM_ADMIN_TOKEN", "")];
    let (mut served, env) = Served::start_with("empty", &[], &vars);
    assert_eq!(env["GRAPH_ADMIN_TOKEN"], "chosen-admin");
    assert_eq!(env["SCIM_ADMIN_TOKEN"].len(), 64, "random: {}", env["SCIM_ADMIN_TOKEN"]);
    let http = reqwest::Client::new();
    let token = graph_token(&http, &env).await;
    let users: Value = http
        .get(format!("{}/v1.0/users", env["GRAPH_URL"]))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(users["value"], json!([]), "an empty directory");
    let secrets: Value = http
        .get(format!(
            "{}/v1.0/servicePrincipals/{}/synchronization/secrets",
            env["GRAPH_URL"], env["SERVICE_PRINCIPAL_ID"]
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let base = secrets["value"].as_array().unwrap().iter().find(|s| s["key"] == "BaseAddress");
    assert_eq!(base.map(|s| &s["value"]), Some(&json!(env["SCIM_URL"])), "wired to the AWS tenant: {secrets}");

    let graph = env["GRAPH_URL"].clone();
    let status = served.terminate();
    assert_eq!(status.code(), Some(0));
    assert!(http.get(format!("{graph}/_admin/health")).send().await.is_err(), "nothing left listening");
}

#[test]
fn a_port_in_use_is_refused_with_one_line_and_exit_2() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let (code, stderr) = refused(&["--graph-listen", &address]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with(&format!("error: mock-graph cannot listen on {address}: ")), "{stderr}");
}

#[test]
fn an_invalid_or_unreadable_scenario_is_refused_with_exit_2() {
    let dir = scratch("invalid");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "name = \"bad\"\n[[steps]]\naction = \"fly\"\n").unwrap();
    let (code, stderr) = refused(&[bad.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.starts_with(&format!("error: {} cannot be served; nothing was started:", bad.display())),
        "{stderr}"
    );
    assert!(stderr.contains("steps[0]"), "the problem's location: {stderr}");

    let missing = dir.join("missing.toml");
    let (code, stderr) = refused(&[missing.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cannot be read"), "{stderr}");
}

/// Under a real clock the cycles come by themselves; `--cycle-interval` shortens Entra's 40 minutes
/// for demos. Wall time, so bounded polling rather than a virtual advance.
#[tokio::test]
async fn under_a_real_clock_cycles_come_by_themselves_at_the_demo_interval() {
    let (mut served, env) = Served::start("real", &[SEED_STORY, "--real-clock", "--cycle-interval", "PT1S"]);
    let http = reqwest::Client::new();
    let token = graph_token(&http, &env).await;
    let job = format!(
        "{}/v1.0/servicePrincipals/{}/synchronization/jobs/{}",
        env["GRAPH_URL"], env["SERVICE_PRINCIPAL_ID"], env["SYNC_JOB_ID"]
    );
    let started = http.post(format!("{job}/start")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(started.status(), 204);
    let mut cycles = std::collections::BTreeSet::new();
    let waited = Instant::now();
    while cycles.len() < 3 {
        assert!(waited.elapsed() < Duration::from_secs(30), "cycles seen in 30 s: {cycles:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let answer: Value = http.get(&job).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        if let Some(began) = answer["status"]["lastExecution"]["timeBegan"].as_str() {
            cycles.insert(began.to_owned());
        }
    }
    let state: Value = http
        .get(format!("{}/_admin/tenants/{}/state", env["SCIM_BASE_URL"], env["SCIM_TENANT_ID"]))
        .bearer_auth(&env["SCIM_ADMIN_TOKEN"])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["groups"].as_array().map(Vec::len), Some(1), "SRE alone, cycle after cycle: {state}");
    assert_eq!(served.terminate().code(), Some(0));
}
