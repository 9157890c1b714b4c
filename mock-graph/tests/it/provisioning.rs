//! The provisioning service end to end against mock-scim, through Graph's API only
//! (entra-provisioning.md §4–§7): the seed's story, Test Connection, idempotence, on demand.

use mock_graph::MockGraph;
use mock_scim::MockScim;
use serde_json::{Value, json};

const USER_ROLE: &str = "8774f594-1d59-4279-b9d9-59ef09a23530";

/// A Graph client with a token, and the AWS side.
pub struct World {
    pub graph: MockGraph,
    pub scim: MockScim,
    pub http: reqwest::Client,
}

impl World {
    pub async fn new() -> World {
        let graph = MockGraph::start().await;
        let scim = MockScim::start().await;
        World { graph, scim, http: reqwest::Client::new() }
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        // A fresh token each time: tests move the clock by hours, and tokens live an hour.
        let token = self.graph.access_token().await;
        let mut request = self.http.request(method, format!("{}/v1.0{path}", self.graph.uri())).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let (status, answer) = self.call(reqwest::Method::POST, path, Some(body)).await;
        assert!((200..300).contains(&status), "{path}: {status} {answer}");
        answer
    }

    pub async fn user(&self, upn: &str, given: &str, surname: Option<&str>) -> String {
        let mut body = json!({"accountEnabled": true, "displayName": given, "givenName": given, "mailNickname": upn.split('@').next().unwrap(),
            "userPrincipalName": upn, "mail": upn, "passwordProfile": {"password": "x-Password-1"}});
        if let Some(surname) = surname {
            body["surname"] = json!(surname);
        }
        self.post("/users", body).await["id"].as_str().unwrap().to_owned()
    }

    pub async fn group(&self, name: &str, members: &[&str]) -> String {
        let nickname: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
        let id = self
            .post(
                "/groups",
                json!({"displayName": name, "mailEnabled": false, "mailNickname": nickname, "securityEnabled": true}),
            )
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        for member in members {
            self.post(
                &format!("/groups/{id}/members/$ref"),
                json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{member}")}),
            )
            .await;
        }
        id
    }

    /// Instantiates the AWS app, makes its job, saves the mock-scim tenant as its credentials.
    pub async fn aws_app(&self) -> (String, String) {
        let (base, token) = (self.scim.scim_endpoint(), self.scim.token().to_owned());
        self.aws_app_with(&base, &token).await
    }

    /// The same, with any SCIM endpoint and token.
    pub async fn aws_app_with(&self, base: &str, token: &str) -> (String, String) {
        let app = self
            .post(
                "/applicationTemplates/21ed01d2-ec13-4e9e-86c1-cd546719ebc4/instantiate",
                json!({"displayName": "AWS IAM Identity Center"}),
            )
            .await;
        let sp = app["servicePrincipal"]["id"].as_str().unwrap().to_owned();
        let templates = self
            .call(reqwest::Method::GET, &format!("/servicePrincipals/{sp}/synchronization/templates"), None)
            .await
            .1;
        assert_eq!(templates["value"][0]["id"], "aWSSingleSignon");
        let job = self
            .post(&format!("/servicePrincipals/{sp}/synchronization/jobs"), json!({"templateId": "aWSSingleSignon"}))
            .await;
        assert_eq!(job["status"]["code"], "NotConfigured");
        assert_eq!(job["schedule"]["state"], "Disabled");
        let job = job["id"].as_str().unwrap().to_owned();
        let secrets = json!({"value": [
            {"key": "BaseAddress", "value": base},
            {"key": "SecretToken", "value": token},
            {"key": "SyncAll", "value": "false"}
        ]});
        let (status, _) = self
            .call(reqwest::Method::PUT, &format!("/servicePrincipals/{sp}/synchronization/secrets"), Some(secrets))
            .await;
        assert_eq!(status, 204);
        (sp, job)
    }

    pub async fn assign(&self, sp: &str, principal: &str) {
        self.post(
            &format!("/servicePrincipals/{sp}/appRoleAssignedTo"),
            json!({"principalId": principal, "resourceId": sp, "appRoleId": USER_ROLE}),
        )
        .await;
    }

    pub async fn advance(&self, by: &str) {
        let answer = self
            .http
            .post(format!("{}/_admin/clock/advance", self.graph.uri()))
            .bearer_auth(self.graph.admin_token())
            .json(&json!({"by": by}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }

    pub async fn logs(&self) -> Vec<Value> {
        self.call(reqwest::Method::GET, "/auditLogs/provisioning?$top=999", None).await.1["value"]
            .as_array()
            .unwrap()
            .clone()
    }

    pub async fn aws_state(&self) -> Value {
        self.http
            .get(format!("{}/_admin/tenants/{}/state", self.scim.uri(), self.scim.tenant_id()))
            .bearer_auth(self.scim.admin_token())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// mock-scim's journal, as it answers.
    pub async fn aws_journal_text(&self) -> String {
        let answer = self
            .http
            .get(format!("{}/_admin/journal", self.scim.uri()))
            .bearer_auth(self.scim.admin_token())
            .send()
            .await
            .unwrap();
        answer.text().await.unwrap()
    }

    pub async fn aws_journal(&self) -> Value {
        serde_json::from_str(&self.aws_journal_text().await).unwrap()
    }

    pub async fn aws_writes(&self) -> usize {
        self.aws_journal().await.as_array().unwrap().iter().filter(|e| e["request"]["method"] != "GET").count()
    }

    /// Sets mock-graph's switches.
    pub async fn graph_switches(&self, switches: Value) {
        let answer = self
            .http
            .patch(format!("{}/_admin/switches", self.graph.uri()))
            .bearer_auth(self.graph.admin_token())
            .json(&switches)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
}

pub fn entry<'a>(logs: &'a [Value], name: &str) -> &'a Value {
    logs.iter()
        .find(|e| e["sourceIdentity"]["displayName"] == name)
        .unwrap_or_else(|| panic!("no log entry for {name}: {logs:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_story_administrator_fails_and_sre_succeeds() {
    let w = World::new().await;
    let annie = w.user("annie@contoso.onmicrosoft.com", "Annie", Some("Easley")).await;
    let administrator = w.group("Administrator", &[&annie]).await;
    let sre = w.group("SRE", &[&annie]).await;
    let (sp, job) = w.aws_app().await;
    for principal in [&annie, &administrator, &sre] {
        w.assign(&sp, principal).await;
    }
    let (status, _) = w
        .call(
            reqwest::Method::POST,
            &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/validateCredentials"),
            Some(json!({"useSavedCredentials": true})),
        )
        .await;
    assert_eq!(status, 204, "Test Connection");
    let (status, _) =
        w.call(reqwest::Method::POST, &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/start"), None).await;
    assert_eq!(status, 204);
    w.advance("PT40M").await;

    let logs = w.logs().await;
    let failed = entry(&logs, "Administrator");
    assert_eq!(failed["provisioningAction"], "create");
    assert_eq!(failed["provisioningStatusInfo"]["status"], "failure");
    let error = &failed["provisioningStatusInfo"]["errorInformation"];
    assert_eq!(error["errorCode"], "SystemForCrossDomainIdentityManagementBadRequest");
    let reason = error["reason"].as_str().unwrap();
    assert!(
        reason.contains("HTTP 400")
            && reason.contains("Request is unparsable, syntactically incorrect, or violates schema."),
        "{reason}"
    );
    assert_eq!(entry(&logs, "SRE")["provisioningStatusInfo"]["status"], "success");
    assert_eq!(entry(&logs, "annie@contoso.onmicrosoft.com")["provisioningAction"], "create");

    let aws = w.aws_state().await;
    assert_eq!(aws["users"][0]["userName"], "annie@contoso.onmicrosoft.com");
    assert_eq!(aws["users"][0]["active"], true);
    let groups: Vec<_> = aws["groups"].as_array().unwrap().iter().map(|g| g["displayName"].clone()).collect();
    assert_eq!(groups, [json!("SRE")]);
    assert_eq!(aws["groups"][0]["members"], json!([aws["users"][0]["id"]]));

    let (_, job_json) =
        w.call(reqwest::Method::GET, &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}"), None).await;
    assert_eq!(job_json["status"]["code"], "Active");
    assert_eq!(job_json["status"]["lastExecution"]["state"], "EntryLevelErrors");
    assert_eq!(
        job_json["status"]["lastExecution"]["countEscrowed"], 1,
        "the second cycle retried Administrator from escrow"
    );
    let attempts = logs.iter().filter(|e| e["sourceIdentity"]["displayName"] == "Administrator").count();
    assert_eq!(attempts, 2, "40 minutes hold the initial cycle and one incremental cycle");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cycle_after_convergence_sends_no_write() {
    let w = World::new().await;
    let annie = w.user("annie@contoso.onmicrosoft.com", "Annie", Some("Easley")).await;
    let bob = w.user("bob@contoso.onmicrosoft.com", "Bob", Some("Builder")).await;
    let sre = w.group("SRE", &[&annie, &bob]).await;
    let (sp, job) = w.aws_app().await;
    w.assign(&sp, &sre).await;
    w.call(reqwest::Method::POST, &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/start"), None).await;
    w.advance("PT40M").await;
    let writes = w.aws_writes().await;
    assert_eq!(writes, 4, "two users, one group, one member PATCH");
    w.advance("PT40M").await;
    assert_eq!(w.aws_writes().await, writes, "nothing changed, nothing written");
    let aws = w.aws_state().await;
    assert_eq!(aws["groups"][0]["members"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_surname_fails_and_others_succeed() {
    let w = World::new().await;
    let annie = w.user("annie@contoso.onmicrosoft.com", "Annie", Some("Easley")).await;
    let cher = w.user("cher@contoso.onmicrosoft.com", "Cher", None).await;
    let (sp, job) = w.aws_app().await;
    w.assign(&sp, &annie).await;
    w.assign(&sp, &cher).await;
    w.call(reqwest::Method::POST, &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/start"), None).await;
    w.advance("PT1M").await;
    let logs = w.logs().await;
    assert_eq!(entry(&logs, "cher@contoso.onmicrosoft.com")["provisioningStatusInfo"]["status"], "failure");
    assert_eq!(entry(&logs, "annie@contoso.onmicrosoft.com")["provisioningStatusInfo"]["status"], "success");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_fails_test_connection_and_quarantines_the_job() {
    let w = World::new().await;
    let (sp, job) = w.aws_app().await;
    let bad = json!({"credentials": [{"key": "BaseAddress", "value": w.scim.scim_endpoint()}, {"key": "SecretToken", "value": "wrong"}]});
    let (status, error) = w
        .call(
            reqwest::Method::POST,
            &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/validateCredentials"),
            Some(bad),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["code"], "SystemForCrossDomainIdentityManagementInvalidCredentials");
    assert!(error["error"]["message"].as_str().unwrap().starts_with("You appear to have entered invalid credentials."));
    w.call(
        reqwest::Method::PUT,
        &format!("/servicePrincipals/{sp}/synchronization/secrets"),
        Some(json!({"value": [{"key": "SecretToken", "value": "wrong"}]})),
    )
    .await;
    w.call(reqwest::Method::POST, &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/start"), None).await;
    w.advance("PT1M").await;
    let (_, job_json) =
        w.call(reqwest::Method::GET, &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}"), None).await;
    assert_eq!(job_json["status"]["code"], "Quarantine");
    assert_eq!(job_json["status"]["quarantine"]["reason"], "EncounteredQuarantineException");
    assert_eq!(job_json["status"]["lastExecution"]["state"], "Failed");
    assert_eq!(w.aws_writes().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provision_on_demand_joins_existing_groups_only() {
    let w = World::new().await;
    let annie = w.user("annie@contoso.onmicrosoft.com", "Annie", Some("Easley")).await;
    let sre = w.group("SRE", &[&annie]).await;
    let (sp, job) = w.aws_app().await;
    w.assign(&sp, &sre).await;
    w.call(reqwest::Method::POST, &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/start"), None).await;
    w.advance("PT1M").await;
    let carol = w.user("carol@contoso.onmicrosoft.com", "Carol", Some("Shaw")).await;
    let ops = w.group("Ops", &[&carol]).await;
    w.post(
        &format!("/groups/{sre}/members/$ref"),
        json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{carol}")}),
    )
    .await;
    w.assign(&sp, &ops).await;
    let body = json!({"parameters": [{"ruleId": "03f7d90d-bf71-41b1-bda6-aaf0ddbee5d8", "subjects": [{"objectId": carol, "objectTypeName": "User"}]}]});
    let answer =
        w.post(&format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/provisionOnDemand"), body.clone()).await;
    let key: Value = serde_json::from_str(answer["key"].as_str().unwrap()).unwrap();
    assert_eq!(key["result"], "Success", "{answer}");
    let value: Value = serde_json::from_str(answer["value"].as_str().unwrap()).unwrap();
    assert_eq!(value["action"], "Create");
    assert_eq!(value["statusInfo"]["status"], "Success");
    assert_eq!(value["reportableIdentifier"], "carol@contoso.onmicrosoft.com");
    assert_eq!(value["targetIdentity"]["type"], "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User");
    let types: Vec<_> =
        value["provisioningSteps"].as_array().unwrap().iter().map(|s| s["type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(types, ["Import", "Scoping", "Matching", "Export"]);
    // "5 requests per 10 seconds" (§5.4): four more pass, the sixth gets Graph's 429.
    for i in 0..5 {
        let (status, _) = w
            .call(
                reqwest::Method::POST,
                &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/provisionOnDemand"),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, if i < 4 { 200 } else { 429 }, "call {}", i + 2);
    }
    let aws = w.aws_state().await;
    let names: Vec<_> = aws["groups"].as_array().unwrap().iter().map(|g| g["displayName"].clone()).collect();
    assert_eq!(names, [json!("SRE")], "Ops is not created on demand");
    assert_eq!(aws["groups"][0]["members"].as_array().unwrap().len(), 2, "carol joined SRE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioning_logs_expire_after_the_retention_period() {
    let w = World::new().await;
    let annie = w.user("annie@contoso.onmicrosoft.com", "Annie", Some("Easley")).await;
    let (sp, job) = w.aws_app().await;
    w.assign(&sp, &annie).await;
    w.call(reqwest::Method::POST, &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/start"), None).await;
    w.advance("PT40M").await;
    assert_eq!(w.logs().await.len(), 1, "the initial cycle created annie");

    // Premium retention by default: 30 days (entra-provisioning.md §6.1).
    w.advance("P29D").await;
    assert_eq!(w.logs().await.len(), 1, "29 days later the entry is still there");
    w.advance("P2D").await;
    assert!(w.logs().await.is_empty(), "31 days later it is gone");

    // Without a premium licence: 7 days.
    w.graph_switches(json!({"provisioningLogRetentionDays": 7})).await;
    let bob = w.user("bob@contoso.onmicrosoft.com", "Bob", Some("Builder")).await;
    w.assign(&sp, &bob).await;
    w.advance("PT40M").await;
    assert_eq!(entry(&w.logs().await, "bob@contoso.onmicrosoft.com")["provisioningAction"], "create");
    w.advance("P8D").await;
    assert!(w.logs().await.is_empty(), "8 days later the entry is gone");
}

/// Log entries are written out as JSON only for the page a plain listing shows: paging through
/// them gives, entry for entry, what a listing that reads them all gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_through_provisioning_logs_gives_what_reading_them_all_gives() {
    let w = World::new().await;
    let (sp, job) = w.aws_app().await;
    for i in 0..23 {
        let user = w.user(&format!("user{i}@contoso.onmicrosoft.com"), "User", Some("Paged")).await;
        w.assign(&sp, &user).await;
    }
    w.call(reqwest::Method::POST, &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/start"), None).await;
    w.advance("PT1M").await;
    let token = w.graph.access_token().await;
    let mut paged = Vec::new();
    let mut next = Some(format!("{}/v1.0/auditLogs/provisioning?$top=5", w.graph.uri()));
    while let Some(url) = next {
        let page: Value = w.http.get(&url).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        let values = page["value"].as_array().unwrap();
        assert!(values.len() <= 5, "{page}");
        paged.extend(values.iter().cloned());
        next = page["@odata.nextLink"].as_str().map(str::to_owned);
    }
    assert_eq!(paged.len(), 23);
    // A filter reads every entry: the same entries, in the same order (newest first).
    let (status, all) = w
        .call(
            reqwest::Method::GET,
            "/auditLogs/provisioning?$top=999&$filter=provisioningAction%20eq%20%27create%27",
            None,
        )
        .await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["value"].as_array().unwrap(), &paged);
    assert_eq!(w.logs().await, paged);
}
