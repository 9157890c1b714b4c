//! [`TestEnv`]: both mocks wired in one call, for a test, in the manner of wiremock's
//! `MockServer::start()`.
//!
//! [`TestEnv::start`] starts mock-graph and mock-scim in this process on free loopback ports, wired
//! as `harness serve` wires them (through [`serve::start`]: the AWS tenant, the AWS app from its
//! gallery template, its service principal and synchronization job, the secrets `BaseAddress` and
//! `SecretToken` saved; the job not started). Its methods drive the pair over HTTP only, through the
//! mocks' public APIs — Graph for what Graph has, `/_admin` for what the clouds do in their consoles —
//! so [`TestEnv::attach`] drives mocks started elsewhere (`harness serve`, the containers) the same
//! way. [`TestEnv::env`] is what a sync tool of one's own is given: the same names as `harness serve
//! --env-file` writes.
//!
//! Time is virtual: nothing happens until [`TestEnv::advance`], which runs every cycle that falls due
//! and keeps mock-scim's clock in step, as `harness run`'s `advance` step does.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;

pub use reqwest::Method;
use scenarios::scenario::Scenario;
use serde_json::{Value, json};

use crate::serve::{self, Env, Options, Pacing, ServeError, Services};

/// The AWS app's display name, as `harness serve` instantiates it.
pub const AWS_APP: &str = "AWS IAM Identity Center";
/// The AWS app's `User` role, the one the portal assigns.
const USER_ROLE: &str = "8774f594-1d59-4279-b9d9-59ef09a23530";
/// Entra's fixed interval between provisioning cycles (entra-provisioning.md §4.1).
pub const CYCLE: &str = "PT40M";
/// The keys [`TestEnv::attach`] needs in an [`Env`].
const NEEDED: [&str; 10] = [
    "GRAPH_URL",
    "GRAPH_TENANT",
    "GRAPH_CLIENT_ID",
    "GRAPH_CLIENT_SECRET",
    "GRAPH_ADMIN_TOKEN",
    "SCIM_ADMIN_TOKEN",
    "SCIM_BASE_URL",
    "SCIM_TENANT_ID",
    "SYNC_JOB_ID",
    "SERVICE_PRINCIPAL_ID",
];

/// Why a [`TestEnv`] call failed. Nothing panics on what a mock answers.
#[derive(Debug, thiserror::Error)]
pub enum TestEnvError {
    /// The mocks could not start or be wired (nothing is left running).
    #[error("starting the mocks: {0}")]
    Start(#[from] ServeError),
    /// An [`Env`] given to [`TestEnv::attach`] lacks a key.
    #[error("the env has no {0}")]
    MissingKey(&'static str),
    /// The CA certificate an env names could not be read or used.
    #[error("the CA certificate {path}: {reason}")]
    Certificate {
        /// `CA_CERT`'s value.
        path: String,
        /// Why.
        reason: String,
    },
    /// A request got no answer.
    #[error("{call}: {source}")]
    Http {
        /// `POST /v1.0/…` and the like.
        call: String,
        /// reqwest's reason.
        source: reqwest::Error,
    },
    /// A mock answered with an error status.
    #[error("{service} answered {status} to {call}: {body}")]
    Status {
        /// `Graph`, `mock-graph's admin API`, `mock-scim's admin API`.
        service: &'static str,
        /// The request.
        call: String,
        /// The HTTP status.
        status: u16,
        /// The answer's body, as sent.
        body: String,
    },
    /// A mock answered something other than what its API documents.
    #[error("{call}: unexpected answer: {reason}")]
    Answer {
        /// The request.
        call: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A principal to assign is neither a user (UPN or id) nor a group (name or id) in Graph.
    #[error("no user or group {0:?} in Graph")]
    NoPrincipal(String),
    /// Several groups have the name given; one is assigned by its id.
    #[error("{count} groups are named {name:?}: assign one by its id")]
    AmbiguousPrincipal {
        /// The name.
        name: String,
        /// How many groups have it.
        count: usize,
    },
    /// An advance's duration is not an ISO-8601 duration forward.
    #[error("advance by {by:?}: {reason}")]
    Duration {
        /// As given.
        by: String,
        /// Why it is refused.
        reason: String,
    },
}

/// Users and groups to seed in one call, all or nothing (mock-graph's `POST /_admin/seed`).
#[derive(Debug, Clone, Default)]
pub struct Seed {
    users: Vec<Value>,
    groups: Vec<Value>,
}

impl Seed {
    /// Nothing yet.
    pub fn new() -> Seed {
        Seed::default()
    }

    /// A user, enabled, with a display name from the given and family names and `mail` its UPN.
    pub fn user(mut self, upn: &str, given_name: &str, surname: &str) -> Seed {
        self.users.push(json!({
            "userPrincipalName": upn,
            "givenName": given_name,
            "surname": surname,
            "displayName": format!("{given_name} {surname}"),
            "mail": upn,
        }));
        self
    }

    /// A user with any Graph properties (`userPrincipalName` among them; `accountEnabled`,
    /// `mailNickname`, a password and `displayName` are filled in when missing).
    pub fn user_json(mut self, properties: Value) -> Seed {
        self.users.push(properties);
        self
    }

    /// A security group with members: UPNs, names of groups seeded before it, or object ids.
    pub fn group<S: AsRef<str>>(mut self, name: &str, members: &[S]) -> Seed {
        let members: Vec<&str> = members.iter().map(AsRef::as_ref).collect();
        self.groups.push(json!({ "displayName": name, "members": members }));
        self
    }

    /// The body of `POST /_admin/seed`.
    pub fn to_json(&self) -> Value {
        json!({ "users": self.users, "groups": self.groups })
    }
}

/// What a seed created: object ids by UPN and by group name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seeded {
    /// userPrincipalName → id.
    pub users: BTreeMap<String, String>,
    /// displayName → id.
    pub groups: BTreeMap<String, String>,
}

/// One provisioning log entry, as Graph's `auditLogs/provisioning` gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// The source object's display name: a UPN for a user, the name of a group.
    pub identity: String,
    /// `create`, `update`, `delete`, `disable`, `other`.
    pub action: String,
    /// `success`, `failure`, `skipped`, `warning`.
    pub status: String,
    /// The error code of a failure (`SystemForCrossDomainIdentityManagementBadRequest`, …).
    pub error_code: Option<String>,
    /// The reason given for a failure.
    pub reason: Option<String>,
    /// The whole entry.
    pub raw: Value,
}

impl LogEntry {
    fn from_json(raw: Value) -> LogEntry {
        let text = |value: &Value| value.as_str().map(str::to_owned);
        let status = &raw["provisioningStatusInfo"];
        LogEntry {
            identity: text(&raw["sourceIdentity"]["displayName"]).unwrap_or_default(),
            action: text(&raw["provisioningAction"]).unwrap_or_default(),
            status: text(&status["status"]).unwrap_or_default(),
            error_code: text(&status["errorInformation"]["errorCode"]),
            reason: text(&status["errorInformation"]["reason"]),
            raw,
        }
    }
}

/// AWS as its console shows it (mock-scim's `GET /_admin/tenants/{id}/state`).
#[derive(Debug, Clone, PartialEq)]
pub struct AwsState {
    /// SCIM users.
    pub users: Vec<Value>,
    /// SCIM groups, each with `members`: its members' user ids.
    pub groups: Vec<Value>,
}

impl AwsState {
    /// Every user's `userName`, sorted.
    pub fn user_names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.users.iter().filter_map(|user| user["userName"].as_str().map(str::to_owned)).collect();
        names.sort();
        names
    }

    /// Every group's `displayName`, sorted.
    pub fn group_names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.groups.iter().filter_map(|group| group["displayName"].as_str().map(str::to_owned)).collect();
        names.sort();
        names
    }

    /// The `userName`s of a group's members, sorted; `None` when AWS has no group of that name.
    pub fn members(&self, group: &str) -> Option<Vec<String>> {
        let found = self.groups.iter().find(|g| g["displayName"] == group)?;
        let user_name = |id: &str| {
            self.users.iter().find(|u| u["id"] == id).and_then(|u| u["userName"].as_str()).map(str::to_owned)
        };
        let mut names: Vec<String> =
            found["members"].as_array().into_iter().flatten().filter_map(|id| user_name(id.as_str()?)).collect();
        names.sort();
        Some(names)
    }
}

/// Both mocks, wired: mock-graph (Entra ID and its provisioning service) and mock-scim (AWS IAM
/// Identity Center's SCIM endpoint), the AWS app's job pointed at mock-scim and not yet started.
/// Dropping it stops in-process mocks.
///
/// The founding story, Administrator refused by AWS and SRE synced:
///
/// ```
/// use harness::test_env::{Seed, TestEnv};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), harness::test_env::TestEnvError> {
/// let env = TestEnv::try_start().await?;
/// let annie = "annie@contoso.onmicrosoft.com";
/// env.seed(&Seed::new().user(annie, "Annie", "Easley").group("Administrator", &[annie]).group("SRE", &[annie]))
///     .await?;
/// for principal in ["Administrator", "SRE"] {
///     env.assign(principal).await?;
/// }
/// env.start_job().await?;
/// env.advance("PT40M").await?; // one cycle
///
/// let logs = env.provisioning_logs().await?;
/// let administrator = logs.iter().find(|entry| entry.identity == "Administrator").unwrap();
/// assert_eq!(administrator.status, "failure"); // a reserved name in AWS
/// assert_eq!(env.aws_state().await?.members("SRE"), Some(vec![annie.to_owned()]));
/// # Ok(())
/// # }
/// ```
pub struct TestEnv {
    env: Env,
    http: reqwest::Client,
    /// The Graph access token last issued, until Graph refuses it (an advance by hours outlives it).
    token: Mutex<Option<String>>,
    /// In-process mocks, stopped on drop; `None` for mocks started elsewhere.
    services: Option<Services>,
}

impl std::fmt::Debug for TestEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestEnv")
            .field("graph", &self.graph_url())
            .field("scim", &self.scim_url())
            .field("in_process", &self.services.is_some())
            .finish_non_exhaustive()
    }
}

impl TestEnv {
    /// Starts both mocks wired, with an empty directory; panics with the reason if they cannot
    /// start (for tests; [`TestEnv::try_start`] gives the error).
    pub async fn start() -> TestEnv {
        match TestEnv::try_start().await {
            Ok(env) => env,
            Err(err) => panic!("harness::TestEnv could not start both mocks: {err}"),
        }
    }

    /// Starts both mocks wired, with an empty directory.
    pub async fn try_start() -> Result<TestEnv, TestEnvError> {
        TestEnv::start_with(None).await
    }

    /// Starts both mocks wired as `harness serve SCENARIO` leaves them: seeded from the scenario's
    /// directory, assignments, AWS side, switches and faults, its steps up to its first `configure`
    /// carried out; the rest is the caller's.
    pub async fn with_scenario(scenario: Scenario) -> Result<TestEnv, TestEnvError> {
        TestEnv::start_with(Some(scenario)).await
    }

    async fn start_with(scenario: Option<Scenario>) -> Result<TestEnv, TestEnvError> {
        let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let options = Options {
            scenario,
            graph_listen: loopback,
            scim_listen: loopback,
            graph_admin_token: serve::random_token(),
            scim_admin_token: serve::random_token(),
            client_secret: serve::random_token(),
            advertise_host: None,
            tls: None,
            ca_out: std::path::PathBuf::new(),
            pacing: Pacing::Virtual,
            limits: scenarios::connections::Limits::default(),
        };
        let services = serve::start(options).await?;
        let mut env = TestEnv::attach(services.env().clone())?;
        env.services = Some(services);
        Ok(env)
    }

    /// Drives mocks started elsewhere (`harness serve`, the containers) from the env they print;
    /// `CA_CERT`, when there, is trusted.
    pub fn attach(env: Env) -> Result<TestEnv, TestEnvError> {
        for key in NEEDED {
            if env.get(key).is_none_or(str::is_empty) {
                return Err(TestEnvError::MissingKey(key));
            }
        }
        let mut http = reqwest::Client::builder();
        if let Some(path) = env.get("CA_CERT") {
            let failed = |reason: String| TestEnvError::Certificate { path: path.to_owned(), reason };
            let pem = std::fs::read(path).map_err(|err| failed(err.to_string()))?;
            let certificate = reqwest::Certificate::from_pem(&pem).map_err(|err| failed(err.to_string()))?;
            http = http.add_root_certificate(certificate);
        }
        let http = http.build().map_err(|err| TestEnvError::Certificate {
            path: env.get("CA_CERT").unwrap_or_default().to_owned(),
            reason: err.to_string(),
        })?;
        Ok(TestEnv { env, http, token: Mutex::new(None), services: None })
    }

    /// What a sync tool of one's own is given, named as `harness serve --env-file` writes it:
    /// `GRAPH_URL`, `GRAPH_TENANT`, `GRAPH_CLIENT_ID`, `GRAPH_CLIENT_SECRET`, `GRAPH_ADMIN_TOKEN`,
    /// `SCIM_URL`, `SCIM_TOKEN`, `SCIM_ADMIN_TOKEN`, `SCIM_BASE_URL`, `SCIM_TENANT_ID`, `SYNC_JOB_ID`,
    /// `SERVICE_PRINCIPAL_ID`.
    pub fn env(&self) -> &Env {
        &self.env
    }

    fn var(&self, key: &str) -> &str {
        // Every key read here was checked by `attach`.
        self.env.get(key).unwrap_or_default()
    }

    /// mock-graph's origin (`http://127.0.0.1:PORT`): Graph under `/v1.0`, the token endpoint under
    /// `/{tenant}/oauth2/v2.0/token`, the admin API under `/_admin`.
    pub fn graph_url(&self) -> &str {
        self.var("GRAPH_URL")
    }

    /// The AWS tenant's SCIM endpoint, ending in `/scim/v2/`: what a sync tool takes as its tenant URL.
    pub fn scim_url(&self) -> &str {
        self.var("SCIM_URL")
    }

    /// The AWS tenant's SCIM bearer token.
    pub fn scim_token(&self) -> &str {
        self.var("SCIM_TOKEN")
    }

    /// A Graph access token by client credentials, as any client gets one: the one last issued, or
    /// a new one.
    pub async fn graph_token(&self) -> Result<String, TestEnvError> {
        self.token(false).await
    }

    async fn token(&self, renew: bool) -> Result<String, TestEnvError> {
        if !renew && let Some(token) = self.token.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Ok(token);
        }
        let form = [
            ("client_id", self.var("GRAPH_CLIENT_ID")),
            ("client_secret", self.var("GRAPH_CLIENT_SECRET")),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ];
        let call = format!("POST /{}/oauth2/v2.0/token", self.var("GRAPH_TENANT"));
        let url = format!("{}/{}/oauth2/v2.0/token", self.graph_url(), self.var("GRAPH_TENANT"));
        let response = self.http.post(url).form(&form).send().await;
        let answer = read(response, "Graph's token endpoint", &call).await?;
        let token = answer["access_token"].as_str().ok_or_else(|| TestEnvError::Answer {
            call: call.clone(),
            reason: format!("no access_token in {answer}"),
        })?;
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) = Some(token.to_owned());
        Ok(token.to_owned())
    }

    /// A Graph v1.0 call (`path` after `/v1.0`) with an access token, renewed once if refused.
    pub async fn graph(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, TestEnvError> {
        let call = format!("{method} /v1.0{path}");
        let mut renew = false;
        loop {
            let token = self.token(renew).await?;
            let mut request =
                self.http.request(method.clone(), format!("{}/v1.0{path}", self.graph_url())).bearer_auth(token);
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await;
            if !renew && response.as_ref().is_ok_and(|r| r.status() == reqwest::StatusCode::UNAUTHORIZED) {
                renew = true;
                continue;
            }
            return read(response, "Graph", &call).await;
        }
    }

    /// A call to an admin API: mock-scim's when `scim`, else mock-graph's.
    async fn admin(&self, scim: bool, method: Method, path: &str, body: Option<Value>) -> Result<Value, TestEnvError> {
        let (service, base, token) = if scim {
            ("mock-scim's admin API", self.var("SCIM_BASE_URL"), self.var("SCIM_ADMIN_TOKEN"))
        } else {
            ("mock-graph's admin API", self.graph_url(), self.var("GRAPH_ADMIN_TOKEN"))
        };
        let mut request = self.http.request(method.clone(), format!("{base}{path}")).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await, service, &format!("{method} {path}")).await
    }

    fn job_path(&self, tail: &str) -> String {
        format!(
            "/servicePrincipals/{}/synchronization/jobs/{}{tail}",
            self.var("SERVICE_PRINCIPAL_ID"),
            self.var("SYNC_JOB_ID")
        )
    }

    /// Seeds users and groups in one call, all or nothing; answers their ids.
    pub async fn seed(&self, seed: &Seed) -> Result<Seeded, TestEnvError> {
        let answer = self.seed_json(seed.to_json()).await?;
        let ids = |kind: &str| -> BTreeMap<String, String> {
            answer[kind]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(name, id)| Some((name.clone(), id.as_str()?.to_owned())))
                .collect()
        };
        Ok(Seeded { users: ids("users"), groups: ids("groups") })
    }

    /// `POST /_admin/seed` with any body mock-graph takes (users with any property, groups,
    /// applications, assignments); its answer.
    pub async fn seed_json(&self, body: Value) -> Result<Value, TestEnvError> {
        self.admin(false, Method::POST, "/_admin/seed", Some(body)).await
    }

    /// Assigns a user (UPN or id) or a group (name or id) to the AWS app with its `User` role, as
    /// the portal does (`POST /servicePrincipals/{id}/appRoleAssignedTo`); answers the assignment's id.
    pub async fn assign(&self, principal: &str) -> Result<String, TestEnvError> {
        let principal_id = self.principal_id(principal).await?;
        let sp = self.var("SERVICE_PRINCIPAL_ID");
        let body = json!({ "principalId": principal_id, "resourceId": sp, "appRoleId": USER_ROLE });
        let path = format!("/servicePrincipals/{sp}/appRoleAssignedTo");
        let answer = self.graph(Method::POST, &path, Some(body)).await?;
        answer["id"].as_str().map(str::to_owned).ok_or_else(|| TestEnvError::Answer {
            call: format!("POST /v1.0{path}"),
            reason: format!("no id in {answer}"),
        })
    }

    /// A principal's object id through Graph: a user by UPN or id, else a group by id or by name.
    async fn principal_id(&self, principal: &str) -> Result<String, TestEnvError> {
        let id_of = |answer: &Value| answer["id"].as_str().map(str::to_owned);
        let encoded = encode_path(principal);
        match self.graph(Method::GET, &format!("/users/{encoded}?$select=id"), None).await {
            Ok(user) => return id_of(&user).ok_or_else(|| TestEnvError::NoPrincipal(principal.to_owned())),
            Err(TestEnvError::Status { status: 400 | 404, .. }) => {}
            Err(err) => return Err(err),
        }
        match self.graph(Method::GET, &format!("/groups/{encoded}?$select=id"), None).await {
            Ok(group) => return id_of(&group).ok_or_else(|| TestEnvError::NoPrincipal(principal.to_owned())),
            Err(TestEnvError::Status { status: 400 | 404, .. }) => {}
            Err(err) => return Err(err),
        }
        // OData string literals double their single quotes.
        let filter = format!("displayName eq '{}'", principal.replace('\'', "''"));
        let path = format!("/groups?$select=id,displayName&$filter={}", encode_query(&filter));
        let answer = self.graph(Method::GET, &path, None).await?;
        // Graph matches names ignoring case; an assignment names one group exactly.
        let found: Vec<String> = answer["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|group| group["displayName"] == principal)
            .filter_map(id_of)
            .collect();
        match found.as_slice() {
            [] => Err(TestEnvError::NoPrincipal(principal.to_owned())),
            [id] => Ok(id.clone()),
            _ => Err(TestEnvError::AmbiguousPrincipal { name: principal.to_owned(), count: found.len() }),
        }
    }

    /// Test Connection with the saved secrets (`validateCredentials`): `Ok` when mock-graph reached
    /// the SCIM endpoint with the token, else the status and Graph's error.
    pub async fn test_connection(&self) -> Result<(), TestEnvError> {
        let body = json!({ "useSavedCredentials": true });
        self.graph(Method::POST, &self.job_path("/validateCredentials"), Some(body)).await.map(drop)
    }

    /// Starts the job (`POST …/jobs/{id}/start`): its first cycle runs at the next advance that
    /// reaches it.
    pub async fn start_job(&self) -> Result<(), TestEnvError> {
        self.graph(Method::POST, &self.job_path("/start"), None).await.map(drop)
    }

    /// The job as Graph shows it (`status.code`, `status.lastExecution`, `schedule`, …).
    pub async fn job(&self) -> Result<Value, TestEnvError> {
        self.graph(Method::GET, &self.job_path(""), None).await
    }

    /// Moves time forward by an ISO-8601 duration (`PT40M`, [`CYCLE`]): every provisioning cycle
    /// that falls due runs, each at its own instant, before this returns. mock-scim's clock moves
    /// along the same timeline (it meets each cycle at that cycle's instant, keeping any offset it
    /// had), as `harness run`'s `advance` step moves it, so AWS-side token expiry, fault windows and
    /// rate limits fall where they would.
    pub async fn advance(&self, by: &str) -> Result<(), TestEnvError> {
        let graph = self.admin(false, Method::GET, "/_admin/clock", None).await?;
        let aws = self.admin(true, Method::GET, "/_admin/clock", None).await?;
        let graph_now = instant(&graph, "now", "GET /_admin/clock")?
            .ok_or_else(|| answer_error("GET /_admin/clock", "mock-graph's clock has no now"))?;
        let aws_now = instant(&aws, "now", "GET /_admin/clock")?
            .ok_or_else(|| answer_error("GET /_admin/clock", "mock-scim's clock has no now"))?;
        let offset = aws_now.duration_since(graph_now);
        let step = scenarios::clock::forward_by(graph_now, by)
            .map_err(|err| TestEnvError::Duration { by: by.to_owned(), reason: err.to_string() })?;
        let target = graph_now.saturating_add(step).unwrap_or(graph_now);
        let mut aws_at = aws_now;
        let mut next = instant(&graph, "nextCycleAt", "GET /_admin/clock")?;
        loop {
            let due = next.filter(|due| *due <= target).unwrap_or(target);
            let aws_due = due.saturating_add(offset).unwrap_or(due);
            if aws_due > aws_at {
                self.admin(true, Method::PUT, "/_admin/clock", Some(json!({ "now": aws_due }))).await?;
                aws_at = aws_due;
            }
            let body = json!({ "to": due });
            let answer = self.admin(false, Method::POST, "/_admin/clock/advance", Some(body)).await?;
            if due == target {
                return Ok(());
            }
            next = instant(&answer, "nextCycleAt", "POST /_admin/clock/advance")?;
        }
    }

    /// Every provisioning log entry, newest first (`GET /v1.0/auditLogs/provisioning`, all pages).
    pub async fn provisioning_logs(&self) -> Result<Vec<LogEntry>, TestEnvError> {
        let mut entries = Vec::new();
        let mut path = "/auditLogs/provisioning?$top=999".to_owned();
        loop {
            let page = self.graph(Method::GET, &path, None).await?;
            entries.extend(page["value"].as_array().into_iter().flatten().cloned().map(LogEntry::from_json));
            match page["@odata.nextLink"].as_str() {
                None => return Ok(entries),
                Some(next) => match next.split_once("/v1.0") {
                    Some((_, tail)) => path = tail.to_owned(),
                    None => return Err(answer_error(&path, &format!("a nextLink outside Graph: {next}"))),
                },
            }
        }
    }

    /// AWS's users and groups, with members, as its console shows them.
    pub async fn aws_state(&self) -> Result<AwsState, TestEnvError> {
        let path = format!("/_admin/tenants/{}/state", self.var("SCIM_TENANT_ID"));
        let state = self.admin(true, Method::GET, &path, None).await?;
        let list = |kind: &str| state[kind].as_array().cloned();
        match (list("users"), list("groups")) {
            (Some(users), Some(groups)) => Ok(AwsState { users, groups }),
            _ => Err(answer_error(&format!("GET {path}"), &format!("no users and groups in {state}"))),
        }
    }

    /// Stops in-process mocks, letting exchanges in flight finish (dropping stops them at once);
    /// mocks started elsewhere are left running.
    pub async fn stop(self) {
        if let Some(services) = self.services {
            services.stop(Duration::from_secs(5)).await;
        }
    }
}

fn answer_error(call: &str, reason: &str) -> TestEnvError {
    TestEnvError::Answer { call: call.to_owned(), reason: reason.to_owned() }
}

/// An instant a clock answered in `field`; `None` when it is `null` or absent.
fn instant(answer: &Value, field: &str, call: &str) -> Result<Option<Timestamp>, TestEnvError> {
    match &answer[field] {
        Value::Null => Ok(None),
        value => value
            .as_str()
            .and_then(|text| text.parse().ok())
            .map(Some)
            .ok_or_else(|| answer_error(call, &format!("{field} = {value} is not an instant"))),
    }
}

/// The body of an answer, JSON (or `null` when empty), or the error it is.
async fn read(
    response: Result<reqwest::Response, reqwest::Error>,
    service: &'static str,
    call: &str,
) -> Result<Value, TestEnvError> {
    let response = response.map_err(|source| TestEnvError::Http { call: call.to_owned(), source })?;
    let status = response.status();
    let body = response.text().await.map_err(|source| TestEnvError::Http { call: call.to_owned(), source })?;
    if !status.is_success() {
        return Err(TestEnvError::Status { service, call: call.to_owned(), status: status.as_u16(), body });
    }
    if body.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&body).map_err(|err| answer_error(call, &format!("not JSON ({err}): {body}")))
}

/// Percent-encodes a path segment: everything but unreserved characters and `@`.
fn encode_path(segment: &str) -> String {
    encode(segment, |b| b.is_ascii_alphanumeric() || b"-._~@".contains(&b))
}

/// Percent-encodes a query value.
fn encode_query(value: &str) -> String {
    encode(value, |b| b.is_ascii_alphanumeric() || b"-._~'".contains(&b))
}

fn encode(text: &str, keep: impl Fn(u8) -> bool) -> String {
    text.bytes().map(|b| if keep(b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_percent_encoded_for_paths_and_filters() {
        assert_eq!(encode_path("annie@contoso.onmicrosoft.com"), "annie@contoso.onmicrosoft.com");
        assert_eq!(encode_path("SRE team/ops"), "SRE%20team%2Fops");
        assert_eq!(encode_query("displayName eq 'O''Neil & co'"), "displayName%20eq%20'O''Neil%20%26%20co'");
    }

    #[test]
    fn an_env_without_a_needed_key_is_refused() {
        let env = Env { pairs: vec![("GRAPH_URL", "http://127.0.0.1:1".to_owned())] };
        assert!(matches!(TestEnv::attach(env), Err(TestEnvError::MissingKey("GRAPH_TENANT"))));
    }

    #[test]
    fn aws_state_names_members_by_user_name() {
        let state = AwsState {
            users: vec![json!({"id": "u1", "userName": "bob"}), json!({"id": "u2", "userName": "annie"})],
            groups: vec![json!({"displayName": "SRE", "members": ["u1", "u2"]})],
        };
        assert_eq!(state.user_names(), ["annie", "bob"]);
        assert_eq!(state.members("SRE"), Some(vec!["annie".to_owned(), "bob".to_owned()]));
        assert_eq!(state.members("Administrator"), None);
    }

    #[test]
    fn a_log_entry_reads_identity_action_status_and_error() {
        let entry = LogEntry::from_json(json!({
            "sourceIdentity": {"displayName": "Administrator"},
            "provisioningAction": "create",
            "provisioningStatusInfo": {"status": "failure", "errorInformation": {"errorCode": "X", "reason": "HTTP 400"}},
        }));
        assert_eq!(
            (entry.identity.as_str(), entry.action.as_str(), entry.status.as_str()),
            ("Administrator", "create", "failure")
        );
        assert_eq!((entry.error_code.as_deref(), entry.reason.as_deref()), (Some("X"), Some("HTTP 400")));
    }
}
