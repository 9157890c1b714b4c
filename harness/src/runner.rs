//! Runs one scenario: starts its own mock-graph and mock-scim in-process on `127.0.0.1:0`, builds the
//! situation, carries each step out over HTTP — Graph's own API for everything Graph has, the admin
//! APIs only for what the clouds do in their consoles — and checks every expectation.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use mock_graph::MockGraph;
use mock_scim::MockScim;
use reqwest::Method;
use scenarios::scenario::{
    Apply, Expectation, MappedObject, MappingEdit, Outcome, Scenario, Step, generated_group, generated_upn,
};
use serde_json::{Value, json};

use crate::engine::{EngineRun, ExternalEngine};
use crate::expect::{self, Observed};
use crate::placeholders::{Unresolved, resolve_body, resolve_ids};

/// The AWS app's `User` role (entra-provisioning.md §1).
const USER_ROLE: &str = "8774f594-1d59-4279-b9d9-59ef09a23530";
/// The AWS rule, for provision on demand (entra-provisioning.md §1).
const RULE_ID: &str = "03f7d90d-bf71-41b1-bda6-aaf0ddbee5d8";
const APP_NAME: &str = "AWS IAM Identity Center";

/// What came of one scenario.
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    /// The scenario's name.
    pub name: String,
    /// Wall time.
    pub duration: Duration,
    /// Every miss, explained; empty when it passed.
    pub failures: Vec<String>,
    /// A hash of `record`: the same scenario must give the same fingerprint.
    pub fingerprint: u64,
    /// The provisioning logs and the AWS journal at the end (ports aside), one JSON object a line:
    /// `logs`, a line break, `journal`.
    pub record: String,
    /// The provisioning logs at the end, newest first, one entry a line (ports aside).
    pub logs: String,
    /// AWS's journal at the end, in arrival order, one exchange a line (ports aside).
    pub journal: String,
    /// Every run of the external engine, in order (none under Entra's service).
    pub engine_runs: Vec<EngineRun>,
    /// Every expectation that did not hold, with the label of its step (`steps[4] (expect)`); the
    /// same misses `failures` explains in words, kept whole for the HTML report.
    pub misses: Vec<(String, expect::Miss)>,
    /// AWS's state after each `advance` ([`Keep::Report`] only; empty otherwise).
    pub snapshots: Vec<Snapshot>,
}

/// AWS's state at one point of a scenario, for the HTML report.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Where it was taken: `after steps[3] advance PT40M at 2024-01-01T00:40:00Z`.
    pub label: String,
    /// AWS as its console shows it (`users`, `groups` with members as user ids), ports folded.
    pub aws: Value,
}

impl ScenarioResult {
    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// The record with the journal in its canonical order ([`canonical_journal`]): what must be
    /// the same at every `exportConcurrency`.
    pub fn canonical_record(&self) -> String {
        format!("{}\n{}", self.logs, canonical_journal(&self.journal))
    }
}

/// AWS's journal (one exchange a line) in an order that does not depend on the order concurrent
/// requests arrived in: each cycle's exchanges (from its credential probe, a `GET /Users` for a
/// random GUID, to the next) sorted, with `seq` numbered again from the cycle's first. Exchanges
/// before the first probe (the setup's, by hand) are a cycle of their own.
pub fn canonical_journal(journal: &str) -> String {
    let mut cycles: Vec<Vec<Value>> = vec![Vec::new()];
    for line in journal.lines().filter(|l| !l.is_empty()) {
        let Ok(mut entry) = serde_json::from_str::<Value>(line) else { continue };
        if is_probe(&entry) {
            cycles.push(Vec::new());
        }
        if let Some(fields) = entry.as_object_mut() {
            fields.shift_remove("seq");
        }
        if let Some(cycle) = cycles.last_mut() {
            cycle.push(entry);
        }
    }
    let mut seq = 0u64;
    let mut lines = Vec::new();
    for cycle in cycles {
        let mut texts: Vec<String> = cycle.iter().map(Value::to_string).collect();
        texts.sort();
        for text in texts {
            seq += 1;
            lines.push(format!("{{\"seq\":{seq},{}", text.trim_start_matches('{')));
        }
    }
    lines.join("\n")
}

/// Whether an exchange is Entra's credential probe: `GET /Users?filter=userName eq "<GUID>"`
/// (entra-provisioning.md §4.5), which opens every cycle and every Test Connection.
fn is_probe(entry: &Value) -> bool {
    let request = &entry["request"];
    let guid = request["query"]
        .as_str()
        .and_then(|q| q.strip_prefix("filter=userName+eq+%22"))
        .and_then(|q| q.strip_suffix("%22"));
    request["method"] == "GET"
        && request["path"].as_str().is_some_and(|p| p.ends_with("/Users"))
        && guid.is_some_and(uuid_shaped)
}

/// `8-4-4-4-12` hexadecimal digits.
fn uuid_shaped(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The two mocks and what the runner learnt about them.
pub struct Context {
    /// Where the mocks answer, and the AWS tenant's endpoint and token.
    pub endpoints: Endpoints,
    /// The in-process mocks, kept alive for the scenario; `None` against running mocks.
    _mocks: Option<(MockGraph, Option<MockScim>)>,
    http: reqwest::Client,
    /// The AWS app's service principal id.
    pub sp: String,
    /// Its synchronization job's id.
    pub job: String,
    /// UPN or group name → object id.
    ids: BTreeMap<String, String>,
    /// The AWS journal position of the last expectation.
    journal_mark: u64,
    /// The AWS journal position at the end of the setup: what came before was done by hand.
    setup_mark: u64,
    /// The Graph access token last issued, until Graph refuses it.
    graph_token: std::sync::Mutex<Option<String>>,
    /// The user's own sync tool, when it runs in place of Entra's service.
    engine: Option<ExternalEngine>,
    /// The CA the in-process mocks' certificates come from, written out for an external engine.
    ca_file: Option<CaFile>,
    /// A SCIM server of another make as AWS's side: what it held before the scenario, which the
    /// scenario's state hides and its clean-up leaves.
    target: Option<Baseline>,
    /// Every miss of the expectations so far, with its step's label.
    misses: Vec<(String, expect::Miss)>,
}

/// A SCIM server of any make in AWS's place (`harness run --scim URL --scim-token T`): no admin
/// API, so its state is read over SCIM, and nothing it held before a scenario is changed by the
/// harness (what the scenario made is deleted at its end).
#[derive(Debug, Clone)]
pub struct ScimTarget {
    /// The tenant URL, ending in `/` (`…/scim/v2/`), as Entra's Tenant URL takes it.
    pub url: String,
    /// Its bearer token.
    pub token: String,
}

/// The ids a SCIM target held before the scenario.
#[derive(Debug, Default)]
struct Baseline {
    users: std::collections::BTreeSet<String>,
    groups: std::collections::BTreeSet<String>,
}

/// Where scenarios run, as `harness run` is told.
#[derive(Debug, Clone)]
pub enum Against {
    /// Each on both mocks of its own, in this process.
    InProcess,
    /// On mocks running elsewhere, reset before each.
    Running(Running),
    /// On an in-process mock-graph and a SCIM server of another make.
    Target(ScimTarget),
}

impl Against {
    /// Runs a scenario here.
    pub async fn run(&self, scenario: &Scenario, keep: Keep) -> ScenarioResult {
        run_at(scenario, self, keep).await
    }

    /// Whether scenarios must run one at a time: on shared servers they would see each other.
    pub fn one_at_a_time(&self) -> bool {
        !matches!(self, Against::InProcess)
    }
}

/// A CA certificate written to a file of its own in the temporary folder, removed when dropped.
#[derive(Debug)]
struct CaFile(std::path::PathBuf);

impl CaFile {
    fn write(pem: &str) -> Result<CaFile, StepError> {
        static WRITTEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITTEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("harness-ca-{}-{n}.pem", std::process::id()));
        std::fs::write(&path, pem).map_err(|err| StepError(format!("writing {}: {err}", path.display())))?;
        Ok(CaFile(path))
    }
}

impl Drop for CaFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Where the two mocks answer and how to talk to them.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// mock-graph's base URL.
    pub graph: String,
    /// mock-graph's admin token.
    pub graph_admin: String,
    /// mock-scim's base URL.
    pub scim: String,
    /// mock-scim's admin token.
    pub scim_admin: String,
    /// The AWS tenant's id.
    pub scim_tenant: String,
    /// The tenant's SCIM endpoint, ending in `/scim/v2/`.
    pub scim_endpoint: String,
    /// The tenant's bearer token.
    pub scim_token: String,
    /// The client credentials Graph's token endpoint takes.
    pub tokens: Credentials,
}

/// Client credentials for mock-graph's token endpoint, in-process mocks and running ones alike:
/// the runner talks to both mocks over HTTP only.
#[derive(Clone)]
pub struct Credentials {
    /// The tenant's domain.
    pub tenant: String,
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Mocks already running, reset before each scenario (scenarios then run one at a time).
#[derive(Debug, Clone)]
pub struct Running {
    /// mock-graph's base URL.
    pub graph: String,
    /// Its admin token.
    pub graph_admin: String,
    /// mock-scim's base URL.
    pub scim: String,
    /// Its admin token.
    pub scim_admin: String,
    /// The Entra tenant's domain, for the token endpoint.
    pub tenant: String,
    /// The client id allowed the client-credentials grant.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
}

/// An HTTP error with its plain cause: reqwest's own words ("error sending request for url …")
/// and the innermost reason under them (`connection refused`, a certificate not trusted, a timeout).
pub fn plain(err: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = err;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let reason = cause.to_string();
    let reason = if err.is_timeout() {
        "timed out".to_owned()
    } else if reason.to_ascii_lowercase().contains("connection refused") {
        "connection refused: is it running, and at this address?".to_owned()
    } else {
        reason
    };
    let said = err.to_string();
    if said.contains(&reason) { said } else { format!("{said}: {reason}") }
}

/// A step that could not be carried out.
#[derive(Debug)]
pub struct StepError(pub String);

impl From<Unresolved> for StepError {
    fn from(unresolved: Unresolved) -> StepError {
        StepError(unresolved.to_string())
    }
}

impl Context {
    async fn graph(&self, method: Method, path: &str, body: Option<Value>) -> Result<(u16, Value), StepError> {
        // The token is kept until Graph refuses it (scenarios move the clock by hours, and tokens
        // live one), then renewed once.
        let mut renewed = false;
        loop {
            let token = self.token(renewed).await?;
            let mut request =
                self.http.request(method.clone(), format!("{}/v1.0{path}", self.endpoints.graph)).bearer_auth(token);
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(|e| StepError(format!("{method} {path}: {}", plain(&e))))?;
            let status = response.status().as_u16();
            if status == 401 && !renewed {
                renewed = true;
                continue;
            }
            let text = response.text().await.unwrap_or_default();
            return Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))));
        }
    }

    /// A Graph call that must succeed.
    async fn graph_ok(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, StepError> {
        let (status, answer) = self.graph(method.clone(), path, body).await?;
        if (200..300).contains(&status) {
            Ok(answer)
        } else {
            Err(StepError(format!("Graph answered {status} to {method} {path}: {answer}")))
        }
    }

    /// Calls an admin API: mock-scim's when `scim`, else mock-graph's.
    pub async fn admin(&self, scim: bool, method: Method, path: &str, body: Option<Value>) -> Result<Value, StepError> {
        let (base, token) = if scim {
            (self.endpoints.scim.clone(), self.endpoints.scim_admin.clone())
        } else {
            (self.endpoints.graph.clone(), self.endpoints.graph_admin.clone())
        };
        let mut request = self.http.request(method.clone(), format!("{base}{path}")).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| StepError(format!("{method} {path}: {}", plain(&e))))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(StepError(format!(
                "{} admin API answered {status} to {method} {path}: {text}",
                if scim { "mock-scim" } else { "mock-graph" }
            )));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A Graph access token: the one last issued, or with `renew` (or none yet) a new one from the
    /// token endpoint, by client credentials.
    async fn token(&self, renew: bool) -> Result<String, StepError> {
        if !renew && let Some(token) = self.graph_token.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Ok(token);
        }
        let Credentials { tenant, client_id, client_secret } = &self.endpoints.tokens;
        let form = [
            ("client_id", client_id.as_str()),
            ("client_secret", client_secret.as_str()),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ];
        let answer: Value = self
            .http
            .post(format!("{}/{tenant}/oauth2/v2.0/token", self.endpoints.graph))
            .form(&form)
            .send()
            .await
            .map_err(|e| StepError(format!("token endpoint: {}", plain(&e))))?
            .json()
            .await
            .map_err(|e| StepError(format!("token endpoint: {}", plain(&e))))?;
        let token = answer["access_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| StepError(format!("the token endpoint refused: {answer}")))?;
        *self.graph_token.lock().unwrap_or_else(|p| p.into_inner()) = Some(token.clone());
        Ok(token)
    }

    fn id(&self, name: &str) -> Result<String, StepError> {
        self.ids
            .get(name)
            .or_else(|| self.ids.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
            .cloned()
            .ok_or_else(|| StepError(format!("no user or group '{name}'")))
    }

    /// Moves both clouds along one timeline: every cycle Entra runs meets AWS's clock at that cycle's
    /// instant, so fault windows, token expiry and rate limits on AWS's side fall where they would,
    /// however long the advance. AWS keeps the offset from Entra that `advance_aws` gave it. Within a
    /// cycle, a `Retry-After` waited out on Entra's clock does not move AWS's (inferred: the mocks share
    /// no clock, only this driver).
    /// What an external engine is given: the names `harness serve --env-file` writes.
    fn engine_env(&self) -> Vec<(&'static str, String)> {
        let e = &self.endpoints;
        let mut env = vec![
            ("GRAPH_URL", e.graph.clone()),
            ("GRAPH_TENANT", e.tokens.tenant.clone()),
            ("GRAPH_CLIENT_ID", e.tokens.client_id.clone()),
            ("GRAPH_CLIENT_SECRET", e.tokens.client_secret.clone()),
            ("GRAPH_ADMIN_TOKEN", e.graph_admin.clone()),
            ("SCIM_URL", e.scim_endpoint.clone()),
            ("SCIM_TOKEN", e.scim_token.clone()),
            ("SCIM_ADMIN_TOKEN", e.scim_admin.clone()),
            ("SCIM_BASE_URL", e.scim.clone()),
            ("SCIM_TENANT_ID", e.scim_tenant.clone()),
            ("SYNC_JOB_ID", self.job.clone()),
            ("SERVICE_PRINCIPAL_ID", self.sp.clone()),
        ];
        // What Python's ssl and httpx (SSL_CERT_FILE) and requests (REQUESTS_CA_BUNDLE) read.
        if let Some(CaFile(path)) = &self.ca_file {
            for key in ["CA_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"] {
                env.push((key, path.display().to_string()));
            }
        }
        env
    }

    /// The runs of the external engine so far (none under Entra's service).
    pub fn engine_runs(&self) -> &[EngineRun] {
        self.engine.as_ref().map_or(&[], |engine| &engine.runs)
    }

    async fn advance_both(&mut self, by: &str) -> Result<(), StepError> {
        let instant = |answer: &Value, field: &str| -> Result<Option<Timestamp>, StepError> {
            match &answer[field] {
                Value::Null => Ok(None),
                value => value
                    .as_str()
                    .and_then(|text| text.parse().ok())
                    .map(Some)
                    .ok_or_else(|| StepError(format!("a clock answered {field} = {value}, not an instant"))),
            }
        };
        let graph = self.admin(false, Method::GET, "/_admin/clock", None).await?;
        let missing = || StepError("a clock answered without \"now\"".to_owned());
        let graph_now = instant(&graph, "now")?.ok_or_else(missing)?;
        // A SCIM target keeps its own time: only mock-graph's clock moves.
        let aws_now = match &self.target {
            Some(_) => graph_now,
            None => {
                instant(&self.admin(true, Method::GET, "/_admin/clock", None).await?, "now")?.ok_or_else(missing)?
            }
        };
        let offset = aws_now.duration_since(graph_now);
        let step = scenarios::clock::forward_by(graph_now, by).map_err(|err| StepError(format!("by: {err}")))?;
        let target = graph_now.saturating_add(step).unwrap_or(graph_now);
        let mut aws_at = aws_now;
        let mut next = match &self.engine {
            Some(engine) => Some(engine.next_due()),
            None => instant(&graph, "nextCycleAt")?,
        };
        loop {
            let due = next.filter(|due| *due <= target).unwrap_or(target);
            let aws_due = due.saturating_add(offset).unwrap_or(due);
            if aws_due > aws_at && self.target.is_none() {
                self.admin(true, Method::PUT, "/_admin/clock", Some(json!({ "now": aws_due }))).await?;
                aws_at = aws_due;
            }
            let answer = self.admin(false, Method::POST, "/_admin/clock/advance", Some(json!({ "to": due }))).await?;
            // An external engine's cycle: both clocks are at its instant.
            if let Some(engine) = &mut self.engine
                && engine.next_due() == due
            {
                let run = engine.run_due().await.map_err(|err| StepError(err.to_string()))?;
                if run.timed_out {
                    return Err(StepError(run.summary()));
                }
                next = Some(engine.next_due());
                continue;
            }
            if due == target {
                return Ok(());
            }
            next = match &self.engine {
                Some(engine) => Some(engine.next_due()),
                None => instant(&answer, "nextCycleAt")?,
            };
        }
    }

    fn job_path(&self, tail: &str) -> String {
        format!("/servicePrincipals/{}/synchronization/jobs/{}{tail}", self.sp, self.job)
    }

    /// AWS as its console shows it: users by userName, groups with their members' userNames.
    pub async fn aws_state(&self) -> Result<Value, StepError> {
        match &self.target {
            Some(baseline) => Ok(self.target_state(baseline).await?.0),
            None => {
                self.admin(true, Method::GET, &format!("/_admin/tenants/{}/state", self.endpoints.scim_tenant), None)
                    .await
            }
        }
    }

    /// A SCIM target's users and groups, in the shape of mock-scim's `/_admin/tenants/{id}/state`
    /// (`users`, `groups` with `members` as user ids), what it held before the scenario left out;
    /// and every id read, the baseline's included.
    async fn target_state(&self, baseline: &Baseline) -> Result<(Value, Baseline), StepError> {
        let users = self.scim_list("Users", None).await?;
        let mut groups = self.scim_list("Groups", None).await?;
        // AWS returns no members on a group (aws-scim.md §3.6); an RFC server lists them.
        for group in &mut groups {
            if group.get("members").is_none_or(|m| m.as_array().is_some_and(Vec::is_empty)) {
                let id = group["id"].as_str().unwrap_or_default().to_owned();
                let filter = format!("groups.value eq \"{id}\"");
                if let Ok(members) = self.scim_list("Users", Some(&filter)).await {
                    group["members"] = members.iter().map(|u| json!({"value": u["id"]})).collect();
                }
            }
            let ids: Vec<Value> = group["members"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m["value"].as_str().map(|id| json!(id)))
                .collect();
            group["members"] = Value::Array(ids);
        }
        let id_of = |object: &Value| object["id"].as_str().unwrap_or_default().to_owned();
        let seen = Baseline { users: users.iter().map(id_of).collect(), groups: groups.iter().map(id_of).collect() };
        let users: Vec<Value> = users.into_iter().filter(|u| !baseline.users.contains(&id_of(u))).collect();
        let groups: Vec<Value> = groups.into_iter().filter(|g| !baseline.groups.contains(&id_of(g))).collect();
        Ok((json!({ "users": users, "groups": groups }), seen))
    }

    /// Every resource of a SCIM list, through AWS's cursor or RFC 7644's `startIndex` paging.
    async fn scim_list(&self, resource: &str, filter: Option<&str>) -> Result<Vec<Value>, StepError> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("count", "100".to_owned())];
            match &cursor {
                Some(cursor) => query.push(("cursor", cursor.clone())),
                None => query.push(("startIndex", (all.len() + 1).to_string())),
            }
            if let Some(filter) = filter {
                query.push(("filter", filter.to_owned()));
            }
            let url = format!("{}{resource}", self.endpoints.scim_endpoint);
            let answer = self
                .http
                .get(&url)
                .query(&query)
                .bearer_auth(&self.endpoints.scim_token)
                .send()
                .await
                .map_err(|e| StepError(format!("GET {url}: {}", plain(&e))))?;
            let status = answer.status();
            let page: Value = answer.json().await.unwrap_or(Value::Null);
            if !status.is_success() {
                return Err(StepError(format!("the SCIM target answered {status} to GET {url}: {page}")));
            }
            let resources = page["Resources"].as_array().cloned().unwrap_or_default();
            let got = resources.len();
            all.extend(resources);
            if let Some(next) = page["nextCursor"].as_str() {
                cursor = Some(next.to_owned());
                continue;
            }
            let total = page["totalResults"].as_u64().unwrap_or(0) as usize;
            if cursor.is_some() || got == 0 || all.len() >= total {
                return Ok(all);
            }
        }
    }

    /// Deletes what a scenario made on a SCIM target: every user and group not there before it.
    async fn clean_target(&self) -> Result<(), StepError> {
        let Some(baseline) = &self.target else { return Ok(()) };
        let (_, now) = self.target_state(baseline).await?;
        let made = |kind: &'static str,
                    ids: std::collections::BTreeSet<String>,
                    before: &std::collections::BTreeSet<String>| {
            ids.into_iter().filter(|id| !before.contains(id)).map(move |id| (kind, id)).collect::<Vec<_>>()
        };
        let mut problems = Vec::new();
        for (kind, id) in
            made("Groups", now.groups, &baseline.groups).into_iter().chain(made("Users", now.users, &baseline.users))
        {
            let url = format!("{}{kind}/{id}", self.endpoints.scim_endpoint);
            match self.http.delete(&url).bearer_auth(&self.endpoints.scim_token).send().await {
                Ok(answer) if answer.status().is_success() || answer.status() == 404 => {}
                Ok(answer) => problems.push(format!("DELETE {url} answered {}", answer.status())),
                Err(err) => problems.push(format!("DELETE {url}: {err}")),
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(StepError(format!("cleaning the SCIM target: {}", problems.join("; "))))
        }
    }

    /// Provisioning log entries, newest first.
    pub async fn logs(&self) -> Result<Vec<Value>, StepError> {
        let mut all = Vec::new();
        let mut path = "/auditLogs/provisioning?$top=999".to_owned();
        loop {
            let page = self.graph_ok(Method::GET, &path, None).await?;
            all.extend(page["value"].as_array().cloned().unwrap_or_default());
            match page["@odata.nextLink"].as_str() {
                Some(next) => path = next.split_once("/v1.0").map(|(_, tail)| tail.to_owned()).unwrap_or_default(),
                None => return Ok(all),
            }
        }
    }

    /// The job as Graph shows it.
    pub async fn job(&self) -> Result<Value, StepError> {
        self.graph_ok(Method::GET, &self.job_path(""), None).await
    }

    /// The `seq` of AWS's newest exchange (0 before any).
    pub async fn journal_seq(&self) -> Result<u64, StepError> {
        // A SCIM target keeps no journal (what reads one is refused at load).
        if self.target.is_some() {
            return Ok(0);
        }
        let seq = self.admin(true, Method::GET, "/_admin/journal/seq", None).await?;
        Ok(seq["seq"].as_u64().unwrap_or(0))
    }

    /// AWS exchanges after a journal position.
    pub async fn journal_since(&self, seq: u64) -> Result<Vec<Value>, StepError> {
        if self.target.is_some() {
            return Ok(Vec::new());
        }
        let journal = self.admin(true, Method::GET, &format!("/_admin/journal?since={seq}"), None).await?;
        Ok(journal.as_array().cloned().unwrap_or_default())
    }
}

/// A TOML table as a JSON object.
fn toml_table(table: &BTreeMap<String, toml::Value>) -> Value {
    Value::Object(table.iter().map(|(k, v)| (k.clone(), toml_to_json(v))).collect())
}

/// The user or group object mapping of a job's schema.
fn object_mapping(schema: &mut Value, object: MappedObject) -> Result<&mut Value, StepError> {
    let source = match object {
        MappedObject::Users => "User",
        MappedObject::Groups => "Group",
    };
    schema["synchronizationRules"][0]["objectMappings"]
        .as_array_mut()
        .and_then(|objects| objects.iter_mut().find(|o| o["sourceObjectName"] == source))
        .ok_or_else(|| StepError(format!("the schema has no {source} mapping")))
}

/// The attribute mappings of the user or group object mapping.
fn attribute_mappings(schema: &mut Value, object: MappedObject) -> Result<&mut Vec<Value>, StepError> {
    object_mapping(schema, object)?["attributeMappings"]
        .as_array_mut()
        .ok_or_else(|| StepError("the object mapping has no attribute mappings".into()))
}

/// Applies an edit to a Graph `attributeMapping`: what the edit gives replaces what was there
/// (entra-provisioning.md §3.3 names the fields).
fn edit_mapping(mapping: &mut Value, edit: &MappingEdit) {
    if let Some(source) = &edit.source {
        mapping["source"] =
            json!({"expression": format!("[{source}]"), "name": source, "type": "Attribute", "parameters": []});
    }
    if let Some(expression) = &edit.expression {
        mapping["source"] = json!({"expression": expression, "name": "", "type": "Function", "parameters": []});
    }
    if let Some(constant) = &edit.constant {
        mapping["source"] =
            json!({"expression": format!("\"{constant}\""), "name": constant, "type": "Constant", "parameters": []});
    }
    if let Some(priority) = edit.matching_priority {
        mapping["matchingPriority"] = json!(priority);
    }
    if let Some(apply) = edit.apply {
        mapping["flowType"] = json!(match apply {
            Apply::Always => "Always",
            Apply::OnCreate => "ObjectAddOnly",
        });
    }
    if let Some(default) = &edit.default {
        mapping["defaultValue"] = json!(default);
    }
}

/// Saves a schema; with `refused_with`, Graph must refuse it with a message containing that text.
async fn save_schema(
    ctx: &Context,
    schema: Value,
    refused_with: Option<&str>,
    failures: &mut Vec<String>,
    label: &str,
) -> Result<(), StepError> {
    let (status, answer) = ctx.graph(Method::PUT, &ctx.job_path("/schema"), Some(schema)).await?;
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    match refused_with {
        None if (200..300).contains(&status) => {}
        None => return Err(StepError(format!("Graph refused the schema: {status} {answer}"))),
        Some(text) if status == 400 && message.contains(text) => {}
        Some(text) => failures.push(format!(
            "{label}: the schema should be refused with a message containing {text:?}, but Graph answered {status}: {answer}"
        )),
    }
    Ok(())
}

/// The body of `POST …/members/$ref` for a directory object.
fn member_ref(id: &str) -> Value {
    json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}")})
}

fn toml_to_json(value: &toml::Value) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn user_body(
    upn: &str,
    given: &Option<String>,
    surname: &Option<String>,
    display: &Option<String>,
    mail: &Option<String>,
    enabled: bool,
    properties: &BTreeMap<String, toml::Value>,
) -> Value {
    let display = display.clone().unwrap_or_else(|| match (given, surname) {
        (Some(g), Some(s)) => format!("{g} {s}"),
        (Some(g), None) => g.clone(),
        _ => upn.to_owned(),
    });
    let mut body = json!({
        "userPrincipalName": upn,
        "displayName": display,
        "accountEnabled": enabled,
        "mail": mail.clone().unwrap_or_else(|| upn.to_owned()),
        "mailNickname": upn.split('@').next().unwrap_or(upn).replace('#', "_"),
        "passwordProfile": {"password": "Scenario-Password-1", "forceChangePasswordNextSignIn": false}
    });
    if let Some(given) = given {
        body["givenName"] = json!(given);
    }
    if let Some(surname) = surname {
        body["surname"] = json!(surname);
    }
    for (key, value) in properties {
        body[key] = toml_to_json(value);
    }
    body
}

/// In-process mocks: where they answer, their handles, and the CA certificate (PEM) a client must
/// trust when they serve HTTPS.
type InProcess = (Endpoints, (MockGraph, Option<MockScim>), Option<String>);

/// Starts in-process mocks for a scenario, on `127.0.0.1:0`, with its seed and start time; over
/// HTTPS for an external engine (unless its `tls` is off), both certificates from the seed's CA.
/// With a SCIM target, mock-graph alone, its job pointed at the target.
async fn in_process(scenario: &Scenario, target: Option<&ScimTarget>) -> Result<InProcess, StepError> {
    if let Some(target) = target {
        return graph_beside(scenario, target).await;
    }
    let start = scenario.start.unwrap_or(mock_graph::server::DEFAULT_START);
    let tls = match &scenario.engine {
        Some(engine) if engine.tls() => scenarios::tls::TlsMode::Generated { names: Vec::new() },
        _ => scenarios::tls::TlsMode::Off,
    };
    let scim = MockScim::start_with(mock_scim::Config {
        seed: scenario.seed,
        clock: scenarios::clock::Clock::virtual_at(start),
        tls: tls.clone(),
        ..mock_scim::Config::default()
    })
    .await
    .map_err(|e| StepError(format!("mock-scim could not start: {e}")))?;
    let ca_pem = scim.ca_certificate_pem().map(str::to_owned);
    let graph = MockGraph::start_with(mock_graph::Config {
        seed: scenario.seed,
        clock: scenarios::clock::Clock::virtual_at(start),
        tls,
        scim_trusted_ca_pem: ca_pem.iter().cloned().collect(),
        ..mock_graph::Config::default()
    })
    .await
    .map_err(|e| StepError(format!("mock-graph could not start: {e}")))?;
    let endpoints = Endpoints {
        graph: graph.uri(),
        graph_admin: graph.admin_token().to_owned(),
        scim: scim.uri(),
        scim_admin: scim.admin_token().to_owned(),
        scim_tenant: scim.tenant_id().to_owned(),
        scim_endpoint: scim.scim_endpoint(),
        scim_token: scim.token().to_owned(),
        tokens: {
            let tenant = graph.tenant();
            Credentials { tenant: tenant.domain, client_id: tenant.client_id, client_secret: tenant.client_secret }
        },
    };
    Ok((endpoints, (graph, Some(scim)), ca_pem))
}

/// mock-graph in this process, a SCIM target as AWS's side.
async fn graph_beside(scenario: &Scenario, target: &ScimTarget) -> Result<InProcess, StepError> {
    let start = scenario.start.unwrap_or(mock_graph::server::DEFAULT_START);
    let graph = MockGraph::start_with(mock_graph::Config {
        seed: scenario.seed,
        clock: scenarios::clock::Clock::virtual_at(start),
        ..mock_graph::Config::default()
    })
    .await
    .map_err(|e| StepError(format!("mock-graph could not start: {e}")))?;
    let origin = reqwest::Url::parse(&target.url)
        .map(|url| url.origin().ascii_serialization())
        .map_err(|e| StepError(format!("the SCIM target {:?}: {e}", target.url)))?;
    let endpoints = Endpoints {
        graph: graph.uri(),
        graph_admin: graph.admin_token().to_owned(),
        scim: origin,
        scim_admin: String::new(),
        scim_tenant: String::new(),
        scim_endpoint: target.url.clone(),
        scim_token: target.token.clone(),
        tokens: {
            let tenant = graph.tenant();
            Credentials { tenant: tenant.domain, client_id: tenant.client_id, client_secret: tenant.client_secret }
        },
    };
    Ok((endpoints, (graph, None), None))
}

/// Resets running mocks and makes a fresh AWS tenant on them.
async fn running(http: &reqwest::Client, mocks: &Running) -> Result<Endpoints, StepError> {
    let call = |url: String, token: String| async move {
        let response = http
            .post(url.clone())
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| StepError(format!("{url}: {}", plain(&e))))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(StepError(format!("{url} answered {status}: {text}")));
        }
        Ok(serde_json::from_str::<Value>(&text).unwrap_or(Value::Null))
    };
    call(format!("{}/_admin/reset", mocks.graph), mocks.graph_admin.clone()).await?;
    call(format!("{}/_admin/reset", mocks.scim), mocks.scim_admin.clone()).await?;
    let tenant = call(format!("{}/_admin/tenants", mocks.scim), mocks.scim_admin.clone()).await?;
    let field = |name: &str| tenant[name].as_str().unwrap_or_default().to_owned();
    Ok(Endpoints {
        graph: mocks.graph.clone(),
        graph_admin: mocks.graph_admin.clone(),
        scim: mocks.scim.clone(),
        scim_admin: mocks.scim_admin.clone(),
        scim_tenant: field("tenantId"),
        scim_endpoint: field("scimEndpoint"),
        scim_token: field("accessToken"),
        tokens: Credentials {
            tenant: mocks.tenant.clone(),
            client_id: mocks.client_id.clone(),
            client_secret: mocks.client_secret.clone(),
        },
    })
}

/// Builds the situation a scenario's steps start from — mocks (running ones reset first, or
/// in-process ones), AWS side, faults, directory, the AWS app and its job — without its steps, with
/// a client of the caller's (one that trusts a CA, say).
pub async fn setup_with(
    scenario: &Scenario,
    mocks: Option<&Running>,
    http: reqwest::Client,
) -> Result<Context, StepError> {
    setup_at(scenario, &mocks.cloned().map_or(Against::InProcess, Against::Running), http).await
}

async fn setup_at(scenario: &Scenario, place: &Against, http: reqwest::Client) -> Result<Context, StepError> {
    let target = match place {
        Against::Target(target) => Some(target),
        _ => None,
    };
    let (endpoints, handles, ca_file, http) = match place {
        Against::InProcess | Against::Target(_) => {
            let (endpoints, handles, ca_pem) = in_process(scenario, target).await?;
            let (ca_file, http) = match ca_pem {
                Some(pem) => {
                    let certificate = reqwest::Certificate::from_pem(pem.as_bytes())
                        .map_err(|err| StepError(format!("the mocks' CA certificate: {err}")))?;
                    let http = reqwest::Client::builder()
                        .add_root_certificate(certificate)
                        .build()
                        .map_err(|err| StepError(format!("an HTTPS client: {err}")))?;
                    (Some(CaFile::write(&pem)?), http)
                }
                None => (None, http),
            };
            (endpoints, Some(handles), ca_file, http)
        }
        Against::Running(mocks) => (running(&http, mocks).await?, None, None, http),
    };
    let mut ctx = Context {
        endpoints,
        _mocks: handles,
        http,
        sp: String::new(),
        job: String::new(),
        ids: BTreeMap::new(),
        journal_mark: 0,
        setup_mark: 0,
        graph_token: std::sync::Mutex::new(None),
        engine: None,
        ca_file,
        target: None,
        misses: Vec::new(),
    };
    if target.is_some() {
        if !scenario.needs_aws_admin().is_empty() {
            return Err(StepError("the scenario needs mock-scim's admin API, which the SCIM target has not".into()));
        }
        let (_, seen) = ctx.target_state(&Baseline::default()).await?;
        ctx.target = Some(seen);
    }
    if !scenario.entra.switches.is_empty() {
        ctx.admin(false, Method::PATCH, "/_admin/switches", Some(toml_table(&scenario.entra.switches))).await?;
    }
    // Faults that count requests hit the same requests only if they come in the same order: one at a
    // time (see the `scenarios` crate doc, "Exports at once").
    if scenario.counts_requests() {
        ctx.admin(false, Method::PATCH, "/_admin/switches", Some(json!({"exportConcurrency": 1}))).await?;
    }
    if !scenario.aws.switches.is_empty() {
        ctx.admin(true, Method::PATCH, "/_admin/switches", Some(toml_table(&scenario.aws.switches))).await?;
    }
    for user in &scenario.aws.users {
        let mut body = json!({"userName": user.user_name, "displayName": user.display_name.clone().unwrap_or_else(|| user.user_name.clone()),
            "name": {"givenName": user.given_name.clone().unwrap_or_else(|| "Given".into()), "familyName": user.family_name.clone().unwrap_or_else(|| "Family".into())},
            "emails": [{"value": user.email.clone().unwrap_or_else(|| user.user_name.clone()), "type": "work", "primary": true}], "active": true});
        if let Some(external) = &user.external_id {
            body["externalId"] = json!(external);
        }
        scim_console(&ctx, "Users", body).await?;
    }
    for group in &scenario.aws.groups {
        let mut body = json!({"displayName": group.name});
        if let Some(external) = &group.external_id {
            body["externalId"] = json!(external);
        }
        scim_console(&ctx, "Groups", body).await?;
    }
    if !scenario.faults.is_empty() {
        ctx.admin(true, Method::PUT, "/_admin/faults", Some(json!({"seed": scenario.seed, "rules": scenario.faults})))
            .await?;
    }
    // The directory, in one admin call (a tenant's existing state, not something an admin clicks).
    let mut users: Vec<Value> = scenario
        .directory
        .users
        .iter()
        .map(|u| {
            user_body(u.upn.get_ref(), &u.given_name, &u.surname, &u.display_name, &u.mail, u.enabled, &u.properties)
        })
        .collect();
    let mut groups: Vec<Value> =
        scenario.directory.groups.iter().map(|g| json!({"displayName": g.name.get_ref(), "members": g.members.iter().map(|m| m.get_ref()).collect::<Vec<_>>()})).collect();
    let mut assignments: Vec<Value> =
        scenario.assignments.iter().map(|p| json!({"principal": p.get_ref(), "application": APP_NAME})).collect();
    if let Some(generated) = &scenario.directory.generated {
        for n in 0..generated.users {
            let upn = generated_upn(n);
            users.push(user_body(
                &upn,
                &Some(format!("Given{n}")),
                &Some(format!("Family{n}")),
                &None,
                &None,
                true,
                &BTreeMap::new(),
            ));
        }
        for g in 0..generated.groups {
            let members: Vec<String> = (0..generated.members_per_group)
                .map(|m| generated_upn((g * generated.members_per_group + m) % generated.users.max(1)))
                .collect();
            groups.push(json!({"displayName": generated_group(g), "members": members}));
            if generated.assign_groups {
                assignments.push(json!({"principal": generated_group(g), "application": APP_NAME}));
            }
        }
    }
    let seeded = ctx
        .admin(false, Method::POST, "/_admin/seed", Some(json!({"users": users, "groups": groups, "applications": [{"displayName": APP_NAME}], "assignments": assignments})))
        .await?;
    for kind in ["users", "groups"] {
        for (name, id) in seeded[kind].as_object().into_iter().flatten() {
            ctx.ids.insert(name.clone(), id.as_str().unwrap_or_default().to_owned());
        }
    }
    ctx.sp = seeded["applications"][APP_NAME]["servicePrincipalId"].as_str().unwrap_or_default().to_owned();
    // The job, as the portal makes it when "Automatic" is chosen.
    let job = ctx
        .graph_ok(
            Method::POST,
            &format!("/servicePrincipals/{}/synchronization/jobs", ctx.sp),
            Some(json!({"templateId": "aWSSingleSignon"})),
        )
        .await?;
    ctx.job = job["id"].as_str().unwrap_or_default().to_owned();
    if let Some(engine) = &scenario.engine {
        let clock = ctx.admin(false, Method::GET, "/_admin/clock", None).await?;
        let now = clock["now"].as_str().and_then(|t| t.parse().ok()).unwrap_or(scenarios::clock::DEFAULT_START);
        let switches = ctx.admin(false, Method::GET, "/_admin/switches", None).await?;
        let interval = switches["cycleInterval"]
            .as_str()
            .and_then(|raw| scenarios::clock::forward_by(now, raw).ok())
            .unwrap_or(SignedDuration::from_mins(40));
        ctx.engine = Some(ExternalEngine::new(engine.clone(), ctx.engine_env(), now, interval));
    }
    // Expectations about requests count from here: what the setup did by hand is not Entra's doing.
    ctx.journal_mark = ctx.journal_seq().await?;
    ctx.setup_mark = ctx.journal_mark;
    Ok(ctx)
}

/// What an admin does by hand in the AWS console, done over SCIM with the tenant's token.
async fn scim_console(ctx: &Context, resource: &str, body: Value) -> Result<(), StepError> {
    let response = ctx
        .http
        .post(format!("{}{resource}", ctx.endpoints.scim_endpoint))
        .bearer_auth(&ctx.endpoints.scim_token)
        .json(&body)
        .send()
        .await
        .map_err(|e| StepError(e.to_string()))?;
    if !response.status().is_success() {
        let status = response.status();
        return Err(StepError(format!(
            "the AWS side refused {resource} {body}: {status} {}",
            response.text().await.unwrap_or_default()
        )));
    }
    Ok(())
}

/// Carries one step out; a miss of what it expects goes to `failures`, prefixed with `label`.
pub async fn step(ctx: &mut Context, step: &Step, failures: &mut Vec<String>, label: &str) -> Result<(), StepError> {
    match step {
        Step::CreateUser { user } => {
            let body = user_body(
                &user.upn,
                &user.given_name,
                &user.surname,
                &user.display_name,
                &user.mail,
                user.enabled,
                &user.properties,
            );
            let created = ctx.graph_ok(Method::POST, "/users", Some(body)).await?;
            ctx.ids.insert(user.upn.clone(), created["id"].as_str().unwrap_or_default().to_owned());
        }
        Step::UpdateUser { user, set, clear } => {
            let mut body = toml_table(set);
            for name in clear {
                body[name.as_str()] = Value::Null;
            }
            ctx.graph_ok(Method::PATCH, &format!("/users/{}", ctx.id(user)?), Some(body)).await?;
        }
        Step::RestoreUser { user } => {
            ctx.graph_ok(Method::POST, &format!("/directory/deletedItems/{}/restore", ctx.id(user)?), None).await?;
        }
        Step::SetManager { user, manager } => {
            let body = json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/users/{}", ctx.id(manager)?)});
            ctx.graph_ok(Method::PUT, &format!("/users/{}/manager/$ref", ctx.id(user)?), Some(body)).await?;
        }
        Step::ClearManager { user } => {
            ctx.graph_ok(Method::DELETE, &format!("/users/{}/manager/$ref", ctx.id(user)?), None).await?;
        }
        Step::DeleteUser { user } => {
            ctx.graph_ok(Method::DELETE, &format!("/users/{}", ctx.id(user)?), None).await?;
        }
        Step::PurgeUser { user } => {
            ctx.graph_ok(Method::DELETE, &format!("/directory/deletedItems/{}", ctx.id(user)?), None).await?;
        }
        Step::CreateGroup { name, members } => {
            let nickname: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
            let nickname = if nickname.is_empty() { "group".to_owned() } else { nickname };
            let group = ctx
                .graph_ok(Method::POST, "/groups", Some(json!({"displayName": name, "mailEnabled": false, "mailNickname": nickname, "securityEnabled": true})))
                .await?;
            let id = group["id"].as_str().unwrap_or_default().to_owned();
            ctx.ids.insert(name.clone(), id.clone());
            for member in members {
                ctx.graph_ok(Method::POST, &format!("/groups/{id}/members/$ref"), Some(member_ref(&ctx.id(member)?)))
                    .await?;
            }
        }
        Step::RenameGroup { group, to } => {
            let id = ctx.id(group)?;
            ctx.graph_ok(Method::PATCH, &format!("/groups/{id}"), Some(json!({"displayName": to}))).await?;
            ctx.ids.insert(to.clone(), id);
        }
        Step::DeleteGroup { group } => {
            ctx.graph_ok(Method::DELETE, &format!("/groups/{}", ctx.id(group)?), None).await?;
        }
        Step::AddMember { group, member } => {
            let reference = member_ref(&ctx.id(member)?);
            ctx.graph_ok(Method::POST, &format!("/groups/{}/members/$ref", ctx.id(group)?), Some(reference)).await?;
        }
        Step::RemoveMember { group, member } => {
            ctx.graph_ok(Method::DELETE, &format!("/groups/{}/members/{}/$ref", ctx.id(group)?, ctx.id(member)?), None)
                .await?;
        }
        Step::Assign { principal } => {
            let body = json!({"principalId": ctx.id(principal)?, "resourceId": ctx.sp, "appRoleId": USER_ROLE});
            ctx.graph_ok(Method::POST, &format!("/servicePrincipals/{}/appRoleAssignedTo", ctx.sp), Some(body)).await?;
        }
        Step::Unassign { principal } => {
            let principal_id = ctx.id(principal)?;
            let list = ctx
                .graph_ok(Method::GET, &format!("/servicePrincipals/{}/appRoleAssignedTo?$top=999", ctx.sp), None)
                .await?;
            let ids: Vec<String> = list["value"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["principalId"] == principal_id.as_str())
                .filter_map(|a| a["id"].as_str().map(str::to_owned))
                .collect();
            if ids.is_empty() {
                return Err(StepError(format!("'{principal}' is not assigned")));
            }
            for id in ids {
                ctx.graph_ok(Method::DELETE, &format!("/servicePrincipals/{}/appRoleAssignedTo/{id}", ctx.sp), None)
                    .await?;
            }
        }
        Step::Configure {
            token,
            tenant_url,
            sync_all,
            skip_out_of_scope_deletions,
            aad_opt_scim_062020,
            delete_threshold,
        } => {
            let mut base = match tenant_url {
                Some(url) => url.replace("{aws}", ctx.endpoints.scim.trim_end_matches('/')),
                None => ctx.endpoints.scim_endpoint.clone(),
            };
            if aad_opt_scim_062020.unwrap_or(false) {
                base.push_str("?aadOptscim062020");
            }
            let mut value = vec![
                json!({"key": "BaseAddress", "value": base}),
                json!({"key": "SecretToken", "value": token.clone().unwrap_or_else(|| ctx.endpoints.scim_token.clone())}),
                json!({"key": "SyncAll", "value": if sync_all.unwrap_or(false) { "true" } else { "false" }}),
                json!({"key": "SkipOutOfScopeDeletions", "value": if skip_out_of_scope_deletions.unwrap_or(false) { "True" } else { "False" }}),
            ];
            let notifications = match delete_threshold {
                Some(n) => json!({"Enabled": false, "DeleteThresholdEnabled": true, "DeleteThresholdValue": n}),
                None => json!({"Enabled": false, "DeleteThresholdEnabled": false}),
            };
            value.push(json!({"key": "SyncNotificationSettings", "value": notifications.to_string()}));
            ctx.graph_ok(
                Method::PUT,
                &format!("/servicePrincipals/{}/synchronization/secrets", ctx.sp),
                Some(json!({"value": value})),
            )
            .await?;
        }
        Step::MapUserAttribute(edit) | Step::MapGroupAttribute(edit) => {
            let object =
                if matches!(step, Step::MapUserAttribute(_)) { MappedObject::Users } else { MappedObject::Groups };
            let mut schema = ctx.graph_ok(Method::GET, &ctx.job_path("/schema"), None).await?;
            let mappings = attribute_mappings(&mut schema, object)?;
            match mappings.iter_mut().find(|m| m["targetAttributeName"] == edit.target.as_str()) {
                Some(existing) => edit_mapping(existing, edit),
                None if edit.source.is_none() && edit.expression.is_none() && edit.constant.is_none() => {
                    return Err(StepError(format!(
                        "no mapping to '{}' to edit: a new one needs a source, an expression or a constant",
                        edit.target
                    )));
                }
                None => {
                    let mut mapping = json!({"defaultValue": null, "exportMissingReferences": false,
                        "flowBehavior": "FlowWhenChanged", "flowType": "Always", "matchingPriority": 0,
                        "targetAttributeName": edit.target, "source": {}});
                    edit_mapping(&mut mapping, edit);
                    mappings.push(mapping);
                }
            }
            save_schema(ctx, schema, edit.refused_with.as_deref(), failures, label).await?;
        }
        Step::UnmapUserAttribute { target, refused_with } | Step::UnmapGroupAttribute { target, refused_with } => {
            let object = if matches!(step, Step::UnmapUserAttribute { .. }) {
                MappedObject::Users
            } else {
                MappedObject::Groups
            };
            let mut schema = ctx.graph_ok(Method::GET, &ctx.job_path("/schema"), None).await?;
            let mappings = attribute_mappings(&mut schema, object)?;
            let before = mappings.len();
            mappings.retain(|m| m["targetAttributeName"] != target.as_str());
            if mappings.len() == before {
                return Err(StepError(format!("no mapping to '{target}' to remove")));
            }
            save_schema(ctx, schema, refused_with.as_deref(), failures, label).await?;
        }
        Step::SetScopingFilter { object, filters, refused_with } => {
            let mut schema = ctx.graph_ok(Method::GET, &ctx.job_path("/schema"), None).await?;
            let groups: Vec<Value> = filters
                .iter()
                .enumerate()
                .map(|(i, filter)| {
                    let clauses: Vec<Value> = filter
                        .clauses
                        .iter()
                        .map(|c| json!({"operatorName": c.operator, "sourceOperandName": c.attribute,
                            "targetOperand": {"values": c.values}}))
                        .collect();
                    json!({"name": filter.name.clone().unwrap_or_else(|| format!("Filter {}", i + 1)), "clauses": clauses})
                })
                .collect();
            // Graph's `filter`: `groups` deprovision what leaves them, `inputFilterGroups` (experimental)
            // do not (entra-provisioning.md §2.3); the portal writes `groups`.
            let scope = if groups.is_empty() {
                Value::Null
            } else {
                json!({"categoryFilterGroups": [], "groups": groups, "inputFilterGroups": []})
            };
            object_mapping(&mut schema, *object)?["scope"] = scope;
            save_schema(ctx, schema, refused_with.as_deref(), failures, label).await?;
        }
        Step::TestConnection { expect, error_code } => {
            let (status, answer) = ctx
                .graph(Method::POST, &ctx.job_path("/validateCredentials"), Some(json!({"useSavedCredentials": true})))
                .await?;
            let worked = status == 204;
            match (expect, worked) {
                (Outcome::Success, false) => failures
                    .push(format!("{label}: Test Connection should succeed, but Graph answered {status}: {answer}")),
                (Outcome::Failure, true) => {
                    failures.push(format!("{label}: Test Connection should fail, but it succeeded"))
                }
                (Outcome::Failure, false) => {
                    if let Some(code) = error_code
                        && answer["error"]["code"] != code.as_str()
                    {
                        failures.push(format!(
                            "{label}: Test Connection failed with {} instead of {code}: {}",
                            answer["error"]["code"], answer["error"]["message"]
                        ));
                    }
                }
                (Outcome::Success, true) => {}
            }
        }
        Step::Start => {
            ctx.graph_ok(Method::POST, &ctx.job_path("/start"), None).await?;
        }
        Step::Pause => {
            ctx.graph_ok(Method::POST, &ctx.job_path("/pause"), None).await?;
        }
        Step::Restart { reset_scope } => {
            let body = reset_scope
                .as_ref()
                .map(|scope| json!({"criteria": {"resetScope": scope}}))
                .unwrap_or_else(|| json!({}));
            ctx.graph_ok(Method::POST, &ctx.job_path("/restart"), Some(body)).await?;
        }
        Step::Advance { by } => ctx.advance_both(by).await?,
        Step::AdvanceAws { by } => {
            ctx.admin(true, Method::POST, "/_admin/clock/advance", Some(json!({"by": by}))).await?;
        }
        Step::ProvisionOnDemand { subject, members, expect_result, expect_status, expect_error_code } => {
            let id = ctx.id(subject)?;
            let is_group = ctx.graph(Method::GET, &format!("/groups/{id}"), None).await?.0 == 200;
            let mut subject_json = json!({"objectId": id, "objectTypeName": if is_group { "Group" } else { "User" }});
            if !members.is_empty() {
                let links: Result<Vec<Value>, StepError> =
                    members.iter().map(|m| Ok(json!({"objectId": ctx.id(m)?, "objectTypeName": "User"}))).collect();
                subject_json["links"] = json!({"members": links?});
            }
            let rule = if is_group { format!("{RULE_ID}#V2") } else { RULE_ID.to_owned() };
            let (status, answer) = ctx
                .graph(
                    Method::POST,
                    &ctx.job_path("/provisionOnDemand"),
                    Some(json!({"parameters": [{"ruleId": rule, "subjects": [subject_json]}]})),
                )
                .await?;
            let result =
                answer["key"].as_str().and_then(|k| serde_json::from_str::<Value>(k).ok()).map(|k| k["result"].clone());
            if let Some(wanted) = expect_status
                && status != *wanted
            {
                failures.push(format!("{label}: provision on demand of '{subject}' should answer HTTP {wanted}, answered {status}: {answer}"));
            }
            if let Some(code) = expect_error_code
                && answer["error"]["code"] != code.as_str()
            {
                failures.push(format!(
                    "{label}: provision on demand of '{subject}' should fail with {code}, answered {status}: {answer}"
                ));
            }
            if expect_status.is_some() || expect_error_code.is_some() {
                if let Some(expected) = expect_result
                    && result.as_ref().is_none_or(|r| r != expected.as_str())
                {
                    failures.push(format!("{label}: provision on demand of '{subject}' should give {expected}, gave {} (HTTP {status}: {answer})", result.unwrap_or(Value::Null)));
                }
            } else if let Some(expected) = expect_result {
                match result {
                    Some(result) if result == expected.as_str() => {}
                    other => failures.push(format!("{label}: provision on demand of '{subject}' should give {expected}, gave {} (HTTP {status}: {answer})", other.unwrap_or(Value::Null))),
                }
            } else if status != 200 {
                return Err(StepError(format!("provision on demand answered {status}: {answer}")));
            }
        }
        Step::AwsRequest(request) => aws_request(ctx, request, failures, label).await?,
        Step::RotateAwsToken => {
            let issued = ctx
                .admin(true, Method::POST, &format!("/_admin/tenants/{}/tokens", ctx.endpoints.scim_tenant), None)
                .await?;
            ctx.endpoints.scim_token = issued["accessToken"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| StepError(format!("mock-scim issued no token: {issued}")))?;
        }
        Step::RevokeAwsToken => {
            let tokens_path = format!("/_admin/tenants/{}/tokens", ctx.endpoints.scim_tenant);
            let tokens = ctx.admin(true, Method::GET, &tokens_path, None).await?;
            let newest = tokens
                .as_array()
                .and_then(|tokens| tokens.iter().max_by_key(|t| t["createdAt"].as_str().map(str::to_owned)))
                .and_then(|token| token["tokenId"].as_str().map(str::to_owned))
                .ok_or_else(|| StepError(format!("mock-scim lists no token to revoke: {tokens}")))?;
            ctx.admin(true, Method::DELETE, &format!("{tokens_path}/{newest}"), None).await?;
        }
        Step::Expect(expectation) => {
            let observed = observe(ctx, expectation).await?;
            let misses = expect::judge(expectation, &observed);
            failures.extend(misses.iter().map(|m| format!("{label}: {m}")));
            if !misses.is_empty()
                && let Some(hint) = no_cycle_hint(ctx).await
            {
                failures.push(format!("{label}: hint: {hint}"));
            }
            ctx.misses.extend(misses.into_iter().map(|m| (label.to_owned(), m)));
        }
    }
    Ok(())
}

/// When expectations fail before any provisioning cycle ran, why none did: the usual cause of an
/// AWS that holds nothing.
async fn no_cycle_hint(ctx: &Context) -> Option<String> {
    if let Some(engine) = &ctx.engine {
        return engine
            .runs
            .is_empty()
            .then(|| "the external engine has not run yet: its cycles run on an `advance` step".to_owned());
    }
    let job = ctx.job().await.ok()?;
    job["status"]["lastExecution"].is_null().then(|| {
        if job["schedule"]["state"] == "Active" {
            "no provisioning cycle has run yet: the job is started, but no `advance` step has let time pass".to_owned()
        } else {
            "no provisioning cycle has run yet: the job was never started (a `start` step, then an `advance`)"
                .to_owned()
        }
    })
}

/// Gathers what an expectation reads: AWS's state and the logs always, the job and the whole journal
/// when it asks about them, and the exchanges since the previous expectation — past which the
/// journal mark then moves, so each expectation's `requests` see only their own stretch.
async fn observe(ctx: &mut Context, expectation: &Expectation) -> Result<Observed, StepError> {
    // A large scenario's AWS state and logs are megabytes: read only when the expectation looks.
    let aws = if expect::reads_aws(expectation) { ctx.aws_state().await? } else { Value::Null };
    let logs = if expect::reads_logs(expectation) { ctx.logs().await? } else { Vec::new() };
    let job = if expectation.job.is_some() { Some(ctx.job().await?) } else { None };
    // The mark moves at every expectation; the exchanges behind it are read only when looked at.
    let exchanges = if expect::reads_exchanges(expectation) {
        let exchanges = ctx.journal_since(ctx.journal_mark).await?;
        if let Some(last) = exchanges.last() {
            ctx.journal_mark = last["seq"].as_u64().unwrap_or(ctx.journal_mark);
        }
        exchanges
    } else {
        ctx.journal_mark = ctx.journal_seq().await?;
        Vec::new()
    };
    let journal = if !expectation.aws_untouched.is_empty() || expectation.order_safe {
        Some(ctx.journal_since(0).await?)
    } else {
        None
    };
    Ok(Observed { aws, logs, job, exchanges, journal, setup_mark: ctx.setup_mark })
}

/// Sends a scenario's own SCIM request (or its copies, at once) and checks the statuses.
async fn aws_request(
    ctx: &Context,
    request: &scenarios::scenario::AwsRequest,
    failures: &mut Vec<String>,
    label: &str,
) -> Result<(), StepError> {
    let state = ctx.aws_state().await?;
    let path = resolve_ids(&request.path, &state)?;
    let mut body = request.body.as_ref().map(toml_to_json);
    if let Some(body) = &mut body {
        resolve_body(body, &state)?;
    }
    let method = Method::from_bytes(request.method.as_bytes()).map_err(|e| StepError(e.to_string()))?;
    let send = || {
        let mut builder = ctx
            .http
            .request(method.clone(), format!("{}{path}", ctx.endpoints.scim_endpoint))
            .bearer_auth(&ctx.endpoints.scim_token);
        if let Some(body) = &body {
            builder = builder.header("content-type", "application/scim+json").body(body.to_string());
        }
        let what = format!("{method} {path}");
        async move {
            let response = builder.send().await.map_err(|e| StepError(format!("{what}: {}", plain(&e))))?;
            let status = response.status().as_u16();
            Ok::<_, StepError>((status, response.text().await.unwrap_or_default()))
        }
    };
    let copies = request.copies.unwrap_or(1);
    let answers = futures::future::try_join_all((0..copies).map(|_| send())).await?;
    let mut got: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
    got.sort_unstable();
    let mut expected: Vec<u16> = request.status.into_iter().chain(request.statuses.iter().copied()).collect();
    expected.sort_unstable();
    if got != expected {
        let bodies: Vec<&str> = answers.iter().map(|(_, text)| text.as_str()).collect();
        failures.push(format!(
            "{label}: {} {} should get {expected:?}, got {got:?}: {}",
            request.method,
            request.path,
            bodies.join(" | ")
        ));
    }
    Ok(())
}

/// The provisioning logs and the AWS journal at the end, one JSON object a line, with
/// `127.0.0.1:PORT` folded (each run binds its own ports).
async fn record_of(ctx: &Context) -> (String, String) {
    let lines = |values: Vec<Value>| values.iter().map(Value::to_string).collect::<Vec<_>>().join("\n");
    let logs = ctx.logs().await.map(lines).unwrap_or_default();
    let journal = ctx.journal_since(0).await.map(lines).unwrap_or_default();
    (fold_ports(&logs), fold_ports(&journal))
}

/// `127.0.0.1:PORT` as `127.0.0.1:` (each run binds its own ports).
fn fold_ports(text: &str) -> String {
    text.split("127.0.0.1:")
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part.to_owned()
            } else {
                format!("127.0.0.1:{}", part.trim_start_matches(|c: char| c.is_ascii_digit()))
            }
        })
        .collect()
}

/// AWS's state after an `advance`, labelled with the step and the instant Entra's clock reached.
async fn snapshot(ctx: &Context, label: &str, by: &str) -> Snapshot {
    let now = match ctx.admin(false, Method::GET, "/_admin/clock", None).await {
        Ok(clock) => clock["now"].as_str().unwrap_or("?").to_owned(),
        Err(StepError(message)) => format!("? ({message})"),
    };
    let aws = match ctx.aws_state().await {
        Ok(state) => serde_json::from_str(&fold_ports(&state.to_string())).unwrap_or(state),
        Err(StepError(message)) => json!({ "error": message }),
    };
    let step = label.split_once(' ').map_or(label, |(index, _)| index);
    Snapshot { label: format!("after {step} advance {by} at {now}"), aws }
}

/// Every secret an external engine is given, as its own values: what the report hides in its output.
fn engine_secrets(ctx: &Context) -> Vec<String> {
    ctx.engine_env()
        .into_iter()
        .filter(|(key, _)| key.contains("TOKEN") || key.contains("SECRET"))
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
        .collect()
}

/// FNV-1a.
fn fingerprint_of(record: &str) -> u64 {
    record.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn describe(step: &Step) -> &'static str {
    match step {
        Step::CreateUser { .. } => "create_user",
        Step::UpdateUser { .. } => "update_user",
        Step::DeleteUser { .. } => "delete_user",
        Step::PurgeUser { .. } => "purge_user",
        Step::CreateGroup { .. } => "create_group",
        Step::RenameGroup { .. } => "rename_group",
        Step::DeleteGroup { .. } => "delete_group",
        Step::AddMember { .. } => "add_member",
        Step::RemoveMember { .. } => "remove_member",
        Step::Assign { .. } => "assign",
        Step::Unassign { .. } => "unassign",
        Step::Configure { .. } => "configure",
        Step::RestoreUser { .. } => "restore_user",
        Step::SetManager { .. } => "set_manager",
        Step::ClearManager { .. } => "clear_manager",
        Step::MapUserAttribute(_) => "map_user_attribute",
        Step::MapGroupAttribute(_) => "map_group_attribute",
        Step::UnmapUserAttribute { .. } => "unmap_user_attribute",
        Step::UnmapGroupAttribute { .. } => "unmap_group_attribute",
        Step::SetScopingFilter { .. } => "set_scoping_filter",
        Step::TestConnection { .. } => "test_connection",
        Step::Start => "start",
        Step::Pause => "pause",
        Step::Restart { .. } => "restart",
        Step::Advance { .. } => "advance",
        Step::AdvanceAws { .. } => "advance_aws",
        Step::ProvisionOnDemand { .. } => "provision_on_demand",
        Step::AwsRequest(_) => "aws_request",
        Step::RotateAwsToken => "rotate_aws_token",
        Step::RevokeAwsToken => "revoke_aws_token",
        Step::Expect(_) => "expect",
    }
}

/// Runs a scenario on its own in-process mocks; a step that cannot be carried out stops it, as a
/// failure.
pub async fn run(scenario: &Scenario) -> ScenarioResult {
    run_on(scenario, None).await
}

/// What a run keeps of what the mocks hold at its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The verdict only, which is what `harness run` reports: `record`, `logs` and `journal` stay
    /// empty and `fingerprint` is 0. A 10,000-user scenario's record is some hundred megabytes
    /// read back over HTTP.
    Verdict,
    /// The verdict and the record, for the determinism checks.
    Record,
    /// The record, AWS's state after each `advance` ([`ScenarioResult::snapshots`]) and the external
    /// engine's output with its secrets hidden: what `harness run --report FILE.html` shows.
    Report,
}

/// Runs a scenario on in-process mocks, or on running ones (reset first), keeping its record.
pub async fn run_on(scenario: &Scenario, mocks: Option<&Running>) -> ScenarioResult {
    run_keeping(scenario, mocks, Keep::Record).await
}

/// Runs a scenario on in-process mocks, or on running ones (reset first), keeping what `keep` says.
pub async fn run_keeping(scenario: &Scenario, mocks: Option<&Running>, keep: Keep) -> ScenarioResult {
    run_at(scenario, &mocks.cloned().map_or(Against::InProcess, Against::Running), keep).await
}

/// Runs a scenario where `place` says. On a SCIM target, what the scenario made there is deleted at
/// its end, and scenarios that need mock-scim's admin API are refused at load
/// ([`crate::load::for_scim_target`]).
async fn run_at(scenario: &Scenario, place: &Against, keep: Keep) -> ScenarioResult {
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut recorded = None;
    let mut engine_runs = Vec::new();
    let mut misses = Vec::new();
    let mut snapshots = Vec::new();
    match setup_at(scenario, place, reqwest::Client::new()).await {
        Err(StepError(message)) => failures.push(format!("setup: {message}")),
        Ok(mut ctx) => {
            for (i, at) in scenario.steps.iter().enumerate() {
                // A loaded scenario's steps all read; one that did not is a failure, not a panic.
                let Ok(this) = &at.step else {
                    failures.push(format!("steps[{i}]: unreadable"));
                    break;
                };
                let label = format!("steps[{i}] ({})", describe(this));
                let done = step(&mut ctx, this, &mut failures, &label).await;
                if keep == Keep::Report
                    && let Step::Advance { by } = this
                {
                    snapshots.push(snapshot(&ctx, &label, by).await);
                }
                if let Err(StepError(message)) = done {
                    failures.push(format!("{label}: {message}"));
                    break;
                }
            }
            if matches!(keep, Keep::Record | Keep::Report) {
                recorded = Some(record_of(&ctx).await);
            }
            engine_runs = ctx.engine_runs().to_vec();
            if keep == Keep::Report {
                let secrets = engine_secrets(&ctx);
                for run in &mut engine_runs {
                    for secret in &secrets {
                        run.stdout = run.stdout.replace(secret.as_str(), scenarios::journal::REDACTED);
                        run.stderr = run.stderr.replace(secret.as_str(), scenarios::journal::REDACTED);
                    }
                }
            }
            misses = std::mem::take(&mut ctx.misses);
            if let Err(StepError(message)) = ctx.clean_target().await {
                failures.push(message);
            }
        }
    }
    let record = recorded.as_ref().map(|(logs, journal)| format!("{logs}\n{journal}")).unwrap_or_default();
    let (logs, journal) = recorded.unwrap_or_default();
    let fingerprint = fingerprint_of(&record);
    ScenarioResult {
        name: scenario.name.clone(),
        duration: started.elapsed(),
        failures,
        fingerprint,
        record,
        logs,
        journal,
        engine_runs,
        misses,
        snapshots,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(seq: u64, method: &str, path: &str, query: Option<&str>) -> String {
        let mut request = json!({"method": method, "path": path});
        if let Some(query) = query {
            request["query"] = json!(query);
        }
        json!({"seq": seq, "at": "2026-01-01T00:00:00Z", "request": request}).to_string()
    }

    const PROBE: &str = "filter=userName+eq+%2201234567-89ab-4cde-8f01-23456789abcd%22";

    #[test]
    fn the_canonical_journal_sorts_within_a_cycle_and_numbers_again() {
        let by_hand = exchange(1, "POST", "/t/scim/v2/Users", None);
        let first = [
            by_hand.clone(),
            exchange(2, "GET", "/t/scim/v2/Users", Some(PROBE)),
            exchange(3, "POST", "/t/scim/v2/Users", None),
            exchange(4, "GET", "/t/scim/v2/Users", Some("filter=userName+eq+%22b%22")),
            exchange(5, "GET", "/t/scim/v2/Users", Some(PROBE)),
            exchange(6, "PATCH", "/t/scim/v2/Groups/g", None),
        ];
        let mut second = first.clone();
        second.swap(2, 3);
        assert_ne!(first.join("\n"), second.join("\n"));
        assert_eq!(canonical_journal(&first.join("\n")), canonical_journal(&second.join("\n")));
        // Not across cycles: the PATCH moved before the second probe is another journal.
        let mut third = first.clone();
        third.swap(4, 5);
        assert_ne!(canonical_journal(&first.join("\n")), canonical_journal(&third.join("\n")));
        let canonical = canonical_journal(&first.join("\n"));
        let seqs: Vec<u64> =
            canonical.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["seq"].as_u64().unwrap()).collect();
        assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
        assert_eq!(canonical.lines().next(), Some(by_hand.as_str()), "what came before the first probe stays first");
    }

    #[test]
    fn a_probe_is_a_user_query_for_a_guid() {
        let entry = |method: &str, query: &str| -> Value {
            serde_json::from_str(&exchange(1, method, "/t/scim/v2/Users", Some(query))).unwrap()
        };
        assert!(is_probe(&entry("GET", PROBE)));
        assert!(!is_probe(&entry("GET", "filter=userName+eq+%22annie%40contoso.com%22")));
        assert!(!is_probe(&entry("POST", PROBE)));
    }
}
