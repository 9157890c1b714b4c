//! The provisioning engine's behaviour in detail: exact requests on the wire (wiremock as the SCIM
//! target), dialects, retries, deprovisioning, chunking, nesting, quarantine on virtual time
//! (entra-provisioning.md §2, §4, §5).

use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::provisioning::{World, entry};

const EMPTY_LIST: &str = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[],"startIndex":1,"itemsPerPage":20}"#;

async fn scim_stub() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/t/scim/v2/(Users|Groups)$"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(EMPTY_LIST, "application/json"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/t/scim/v2/Users"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "u-1"})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/t/scim/v2/Groups"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "g-1"})))
        .mount(&server)
        .await;
    Mock::given(method("PATCH")).respond_with(ResponseTemplate::new(204)).mount(&server).await;
    server
}

fn body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).unwrap_or(Value::Null)
}

async fn started(w: &World, base: &str, setup: impl AsyncFnOnce(&World, &str)) -> (String, String) {
    let (sp, job) = w.aws_app_with(base, "token-1").await;
    setup(w, &sp).await;
    w.call(reqwest::Method::POST, &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/start"), None).await;
    w.advance("PT1M").await;
    (sp, job)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_go_out_as_entra_sends_them() {
    let w = World::new().await;
    let server = scim_stub().await;
    let annie = w.user("annie@contoso.onmicrosoft.com", "Annie", Some("Easley")).await;
    let sre = w.group("SRE", &[&annie]).await;
    started(&w, &format!("{}/t/scim/v2/", server.uri()), async |w, sp| w.assign(sp, &sre).await).await;
    let requests = server.received_requests().await.unwrap();
    let lines: Vec<String> = requests.iter().map(|r| format!("{} {}", r.method, r.url.path())).collect();
    assert_eq!(
        lines,
        [
            "GET /t/scim/v2/Users",
            "GET /t/scim/v2/Users",
            "POST /t/scim/v2/Users",
            "GET /t/scim/v2/Groups",
            "POST /t/scim/v2/Groups",
            "PATCH /t/scim/v2/Groups/g-1"
        ]
    );
    for request in &requests {
        assert_eq!(request.headers["authorization"], "Bearer token-1");
    }
    // The probe: a random GUID as userName (§4.5).
    let probe = requests[0].url.query().unwrap();
    assert!(probe.starts_with("filter=userName+eq+%22") && probe.len() > 40, "{probe}");
    assert_eq!(requests[1].url.query(), Some("filter=userName+eq+%22annie%40contoso.onmicrosoft.com%22"));
    assert_eq!(requests[2].headers["content-type"], "application/scim+json");
    let user = body(&requests[2]);
    assert_eq!(user["userName"], "annie@contoso.onmicrosoft.com");
    assert_eq!(user["active"], true);
    assert_eq!(user["name"], json!({"givenName": "Annie", "familyName": "Easley", "formatted": "Annie Easley"}));
    assert_eq!(user["emails"], json!([{"type": "work", "primary": true, "value": "annie@contoso.onmicrosoft.com"}]));
    assert_eq!(user["externalId"], "annie");
    assert!(user.get("title").is_none(), "null values are never sent");
    assert_eq!(requests[3].url.query(), Some("excludedAttributes=members&filter=displayName+eq+%22SRE%22"));
    let group = body(&requests[4]);
    assert_eq!(group["displayName"], "SRE");
    assert_eq!(group["externalId"], sre.as_str());
    assert!(group.get("members").is_none(), "groups are created without members");
    assert_eq!(
        body(&requests[5]),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "Add", "path": "members", "value": [{"value": "u-1"}]}]})
    );
}

async fn unassign_and_disable(flag: &str) -> Value {
    let w = World::new().await;
    let server = scim_stub().await;
    let annie = w.user("annie@contoso.onmicrosoft.com", "Annie", Some("Easley")).await;
    let (sp, _) =
        started(&w, &format!("{}/t/scim/v2/{flag}", server.uri()), async |w, sp| w.assign(sp, &annie).await).await;
    let assignments = w.call(reqwest::Method::GET, &format!("/servicePrincipals/{sp}/appRoleAssignedTo"), None).await.1;
    let id = assignments["value"][0]["id"].as_str().unwrap().to_owned();
    w.call(reqwest::Method::DELETE, &format!("/servicePrincipals/{sp}/appRoleAssignedTo/{id}"), None).await;
    w.advance("PT40M").await;
    let requests = server.received_requests().await.unwrap();
    let last = requests.last().unwrap();
    assert_eq!(format!("{} {}", last.method, last.url.path()), "PATCH /t/scim/v2/Users/u-1");
    let logs = w.logs().await;
    assert_eq!(logs[0]["provisioningAction"], "disable");
    assert_eq!(entry(&logs, "annie@contoso.onmicrosoft.com")["provisioningAction"], "disable");
    body(last)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unassigning_disables_in_the_default_dialect_with_a_string() {
    let patch = unassign_and_disable("").await;
    assert_eq!(patch["Operations"], json!([{"op": "Replace", "path": "active", "value": "False"}]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aadoptscim062020_flag_switches_to_lower_case_and_booleans() {
    let patch = unassign_and_disable("?aadOptscim062020").await;
    assert_eq!(patch["Operations"], json!([{"op": "replace", "path": "active", "value": false}]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_then_a_503_are_retried_within_the_cycle() {
    let w = World::new().await;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(EMPTY_LIST, "application/json"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "2"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "u-1"})))
        .with_priority(3)
        .mount(&server)
        .await;
    let annie = w.user("annie@contoso.onmicrosoft.com", "Annie", Some("Easley")).await;
    started(&w, &format!("{}/t/scim/v2/", server.uri()), async |w, sp| w.assign(sp, &annie).await).await;
    let posts = server.received_requests().await.unwrap().iter().filter(|r| r.method.as_str() == "POST").count();
    assert_eq!(posts, 3);
    assert_eq!(entry(&w.logs().await, "annie@contoso.onmicrosoft.com")["provisioningStatusInfo"]["status"], "success");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistent_503_escrows_the_object_and_the_next_cycle_retries_it() {
    let w = World::new().await;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(EMPTY_LIST, "application/json"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "u-1"})))
        .with_priority(2)
        .mount(&server)
        .await;
    let annie = w.user("annie@contoso.onmicrosoft.com", "Annie", Some("Easley")).await;
    let (sp, job) =
        started(&w, &format!("{}/t/scim/v2/", server.uri()), async |w, sp| w.assign(sp, &annie).await).await;
    let logs = w.logs().await;
    let failed = entry(&logs, "annie@contoso.onmicrosoft.com");
    assert_eq!(failed["provisioningStatusInfo"]["errorInformation"]["errorCode"], "WebExceptionProtocolError");
    let status =
        w.call(reqwest::Method::GET, &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}"), None).await.1;
    assert_eq!(status["status"]["lastExecution"]["countEscrowed"], 1);
    w.advance("PT40M").await;
    let logs = w.logs().await;
    assert_eq!(logs[0]["provisioningStatusInfo"]["status"], "success", "newest first: the retry succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_on_the_probe_quarantines_and_retries_on_the_quarantine_schedule() {
    let w = World::new().await;
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(401)).mount(&server).await;
    let (sp, job) = started(&w, &format!("{}/t/scim/v2/", server.uri()), async |_, _| {}).await;
    let status = w
        .call(reqwest::Method::GET, &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}"), None)
        .await
        .1["status"]
        .clone();
    assert_eq!(status["code"], "Quarantine");
    assert_eq!(status["quarantine"]["reason"], "EncounteredQuarantineException");
    assert_eq!(status["quarantine"]["error"]["code"], "SystemForCrossDomainIdentityManagementInvalidCredentials");
    assert_eq!(status["quarantine"]["currentBegan"], "2026-01-01T00:00:00.0000000Z");
    assert_eq!(status["quarantine"]["nextAttempt"], "2026-01-01T06:00:00.0000000Z", "first retry after 6 hours");
    w.advance("PT6H").await;
    let status = w
        .call(reqwest::Method::GET, &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}"), None)
        .await
        .1["status"]
        .clone();
    assert_eq!(status["quarantine"]["seriesCount"], 2, "{status:#}");
    assert_eq!(
        status["quarantine"]["nextAttempt"], "2026-01-01T12:00:00.0000000Z",
        "then 12 hours after the first failure"
    );
    assert_eq!(status["countSuccessiveCompleteFailures"], 2);
    assert_eq!(server.received_requests().await.unwrap().len(), 2, "no cycle ran in between");
    w.advance("PT6H").await;
    let status = w
        .call(reqwest::Method::GET, &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}"), None)
        .await
        .1["status"]
        .clone();
    assert_eq!(status["quarantine"]["seriesBegan"], "2026-01-01T00:00:00.0000000Z");
    assert_eq!(status["quarantine"]["nextAttempt"], "2026-01-02T00:00:00.0000000Z", "then 24 hours after it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_28_days_in_quarantine_the_job_is_disabled_until_restarted() {
    let w = World::new().await;
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(401)).mount(&server).await;
    let (sp, job) = started(&w, &format!("{}/t/scim/v2/", server.uri()), async |_, _| {}).await;
    let path = format!("/servicePrincipals/{sp}/synchronization/jobs/{job}");
    w.advance("P28D").await;
    let disabled = w.call(reqwest::Method::GET, &path, None).await.1;
    assert_eq!(disabled["schedule"]["state"], "Disabled", "{disabled:#}");
    assert_eq!(disabled["status"]["code"], "Paused");
    let quarantine = &disabled["status"]["quarantine"];
    assert_eq!(quarantine["reason"], "EncounteredQuarantineException");
    assert_eq!(quarantine["seriesBegan"], "2026-01-01T00:00:00.0000000Z");
    assert_eq!(quarantine["currentBegan"], "2026-01-29T00:00:00.0000000Z", "the retry 28 days later failed");
    assert_eq!(quarantine["nextAttempt"], Value::Null);
    assert_eq!(quarantine["seriesCount"], 31, "the failure, then 6 h, 12 h and days 1 to 28");
    assert_eq!(server.received_requests().await.unwrap().len(), 31);
    w.advance("P7D").await;
    assert_eq!(server.received_requests().await.unwrap().len(), 31, "a disabled job is not retried");
    let (status, _) = w.call(reqwest::Method::POST, &format!("{path}/restart"), None).await;
    assert_eq!(status, 204);
    let restarted = w.call(reqwest::Method::GET, &path, None).await.1;
    assert_eq!(restarted["schedule"]["state"], "Active");
    w.advance("PT1M").await;
    assert_eq!(server.received_requests().await.unwrap().len(), 32, "the restart's cycle probes again");
    let status = w.call(reqwest::Method::GET, &path, None).await.1["status"].clone();
    assert_eq!((status["code"].as_str(), status["quarantine"]["seriesCount"].as_u64()), (Some("Quarantine"), Some(1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_user_is_purged_30_days_later_and_deleted_in_aws() {
    let w = World::new().await;
    let annie = w.user("annie@contoso.onmicrosoft.com", "Annie", Some("Easley")).await;
    let (sp, job) = w.aws_app().await;
    w.assign(&sp, &annie).await;
    w.call(reqwest::Method::POST, &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/start"), None).await;
    w.advance("PT1M").await;
    w.call(reqwest::Method::DELETE, &format!("/users/{annie}"), None).await;
    let deleted = w
        .call(reqwest::Method::GET, "/directory/deletedItems/microsoft.graph.user?$select=id,deletedDateTime", None)
        .await
        .1;
    assert_eq!(deleted["value"][0]["deletedDateTime"], "2026-01-01T00:01:00Z", "{deleted:#}");
    // One deleted item by id: how a sync tool tells a soft delete from a purge.
    let (status, item) = w.call(reqwest::Method::GET, &format!("/directory/deletedItems/{annie}"), None).await;
    assert_eq!((status, item["@odata.type"].as_str()), (200, Some("#microsoft.graph.user")), "{item:#}");
    assert_eq!(item["userPrincipalName"], "annie@contoso.onmicrosoft.com");
    w.advance("P29DT23H59M").await;
    let deleted = w.call(reqwest::Method::GET, "/directory/deletedItems/microsoft.graph.user", None).await.1;
    assert_eq!(deleted["value"].as_array().map(Vec::len), Some(1), "a minute short of 30 days");
    w.advance("PT1M").await;
    let deleted = w.call(reqwest::Method::GET, "/directory/deletedItems/microsoft.graph.user", None).await.1;
    assert_eq!(deleted["value"], json!([]), "purged at 30 days");
    let (status, _) = w.call(reqwest::Method::POST, &format!("/directory/deletedItems/{annie}/restore"), None).await;
    assert_eq!(status, 404);
    let (status, _) = w.call(reqwest::Method::GET, &format!("/directory/deletedItems/{annie}"), None).await;
    assert_eq!(status, 404, "a purged user is no deleted item");
    w.advance("PT40M").await;
    assert_eq!(w.aws_state().await["users"], json!([]), "the purge deletes in AWS");
    let newest = &w.logs().await[0];
    assert_eq!(newest["provisioningAction"], "delete");
    assert_eq!(newest["sourceIdentity"]["displayName"], "annie@contoso.onmicrosoft.com", "named, though gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_aws_token_a_year_later_quarantines_the_job() {
    let w = World::new().await;
    let annie = w.user("annie@contoso.onmicrosoft.com", "Annie", Some("Easley")).await;
    let (sp, job) = w.aws_app().await;
    w.assign(&sp, &annie).await;
    w.call(reqwest::Method::POST, &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/start"), None).await;
    w.advance("PT1M").await;
    let answer = w
        .http
        .post(format!("{}/_admin/clock/advance", w.scim.uri()))
        .bearer_auth(w.scim.admin_token())
        .json(&json!({"by": "P1Y"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    w.advance("PT40M").await;
    let status = w
        .call(reqwest::Method::GET, &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}"), None)
        .await
        .1["status"]
        .clone();
    assert_eq!(status["code"], "Quarantine");
    assert_eq!(status["quarantine"]["reason"], "EncounteredQuarantineException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_of_250_members_is_filled_in_chunks_of_100() {
    let w = World::new().await;
    let users: Vec<_> = (0..250).map(|i| json!({"userPrincipalName": format!("u{i}@contoso.onmicrosoft.com"), "givenName": "G", "surname": "S", "mail": format!("u{i}@contoso.onmicrosoft.com")})).collect();
    let members: Vec<String> = (0..250).map(|i| format!("u{i}@contoso.onmicrosoft.com")).collect();
    let seed = json!({"users": users, "groups": [{"displayName": "Big", "members": members}]});
    let answer = w
        .http
        .post(format!("{}/_admin/seed", w.graph.uri()))
        .bearer_auth(w.graph.admin_token())
        .json(&seed)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let big = answer.json::<Value>().await.unwrap()["groups"]["Big"].as_str().unwrap().to_owned();
    let (sp, job) = w.aws_app().await;
    w.assign(&sp, &big).await;
    w.call(reqwest::Method::POST, &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/start"), None).await;
    w.advance("PT1M").await;
    let aws = w.aws_state().await;
    assert_eq!(aws["users"].as_array().unwrap().len(), 250);
    assert_eq!(aws["groups"][0]["members"].as_array().unwrap().len(), 250);
    let journal = w.aws_journal().await;
    let sizes: Vec<usize> = journal
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["request"]["method"] == "PATCH")
        .map(|e| e["request"]["body"]["Operations"][0]["value"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [100, 100, 50]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nested_group_is_not_flattened() {
    let w = World::new().await;
    let deep = w.user("deep@contoso.onmicrosoft.com", "Deep", Some("Member")).await;
    let inner = w.group("Inner", &[&deep]).await;
    let outer = w.group("Outer", &[&inner]).await;
    let (sp, job) = w.aws_app().await;
    w.assign(&sp, &outer).await;
    w.call(reqwest::Method::POST, &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/start"), None).await;
    w.advance("PT1M").await;
    let aws = w.aws_state().await;
    assert_eq!(aws["users"], json!([]), "members of nested groups are not in scope");
    assert_eq!(aws["groups"][0]["displayName"], "Outer");
    assert_eq!(aws["groups"][0]["members"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_user_is_never_created_then_created_once_enabled() {
    let w = World::new().await;
    let annie = w.user("annie@contoso.onmicrosoft.com", "Annie", Some("Easley")).await;
    w.call(reqwest::Method::PATCH, &format!("/users/{annie}"), Some(json!({"accountEnabled": false}))).await;
    let (sp, job) = w.aws_app().await;
    w.assign(&sp, &annie).await;
    w.call(reqwest::Method::POST, &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/start"), None).await;
    w.advance("PT1M").await;
    assert_eq!(w.aws_state().await["users"], json!([]));
    let skipped = entry(&w.logs().await, "annie@contoso.onmicrosoft.com").clone();
    assert_eq!(skipped["provisioningStatusInfo"]["status"], "skipped");
    w.call(reqwest::Method::PATCH, &format!("/users/{annie}"), Some(json!({"accountEnabled": true}))).await;
    w.advance("PT40M").await;
    assert_eq!(w.aws_state().await["users"][0]["userName"], "annie@contoso.onmicrosoft.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_out_of_scope_deletions_leaves_unassigned_users_alone() {
    let w = World::new().await;
    let annie = w.user("annie@contoso.onmicrosoft.com", "Annie", Some("Easley")).await;
    let (sp, job) = w.aws_app().await;
    w.call(
        reqwest::Method::PUT,
        &format!("/servicePrincipals/{sp}/synchronization/secrets"),
        Some(json!({"value": [{"key": "SkipOutOfScopeDeletions", "value": "True"}]})),
    )
    .await;
    w.assign(&sp, &annie).await;
    w.call(reqwest::Method::POST, &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/start"), None).await;
    w.advance("PT1M").await;
    let writes = w.aws_writes().await;
    let assignments = w.call(reqwest::Method::GET, &format!("/servicePrincipals/{sp}/appRoleAssignedTo"), None).await.1;
    let id = assignments["value"][0]["id"].as_str().unwrap().to_owned();
    w.call(reqwest::Method::DELETE, &format!("/servicePrincipals/{sp}/appRoleAssignedTo/{id}"), None).await;
    w.advance("PT40M").await;
    assert_eq!(w.aws_writes().await, writes);
    assert_eq!(w.aws_state().await["users"][0]["active"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_created_by_hand_in_aws_is_matched_not_duplicated() {
    let w = World::new().await;
    let by_hand = json!({"userName": "annie@contoso.onmicrosoft.com", "displayName": "Annie E", "name": {"givenName": "Annie", "familyName": "Easley"},
        "emails": [{"value": "annie@contoso.onmicrosoft.com", "type": "work", "primary": true}], "active": true});
    let created = w
        .http
        .post(format!("{}Users", w.scim.scim_endpoint()))
        .bearer_auth(w.scim.token())
        .json(&by_hand)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let annie = w.user("annie@contoso.onmicrosoft.com", "Annie", Some("Easley")).await;
    let (sp, job) = w.aws_app().await;
    w.assign(&sp, &annie).await;
    w.call(reqwest::Method::POST, &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/start"), None).await;
    w.advance("PT1M").await;
    let aws = w.aws_state().await;
    assert_eq!(aws["users"].as_array().unwrap().len(), 1);
    assert_eq!(aws["users"][0]["displayName"], "Annie", "updated to the source's value");
    assert_eq!(entry(&w.logs().await, "annie@contoso.onmicrosoft.com")["provisioningAction"], "update");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_user_is_disabled_then_deleted_when_purged() {
    let w = World::new().await;
    let annie = w.user("annie@contoso.onmicrosoft.com", "Annie", Some("Easley")).await;
    let sre = w.group("SRE", &[&annie]).await;
    let (sp, job) = w.aws_app().await;
    w.assign(&sp, &sre).await;
    w.call(reqwest::Method::POST, &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/start"), None).await;
    w.advance("PT1M").await;
    w.call(reqwest::Method::DELETE, &format!("/users/{annie}"), None).await;
    w.advance("PT40M").await;
    let aws = w.aws_state().await;
    assert_eq!(aws["users"][0]["active"], false, "a soft delete disables");
    assert_eq!(aws["groups"][0]["members"], json!([]), "and the membership goes");
    let deleted = w.call(reqwest::Method::GET, "/directory/deletedItems/microsoft.graph.user", None).await.1;
    assert_eq!(deleted["value"][0]["id"], annie.as_str());
    let writes = w.aws_writes().await;
    w.advance("PT40M").await;
    assert_eq!(w.aws_writes().await, writes, "a disabled user is not disabled again");
    let (status, _) = w.call(reqwest::Method::DELETE, &format!("/directory/deletedItems/{annie}"), None).await;
    assert_eq!(status, 204);
    w.advance("PT40M").await;
    assert_eq!(w.aws_state().await["users"], json!([]), "the purge deletes in AWS");
    assert_eq!(w.logs().await[0]["provisioningAction"], "delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_gives_byte_identical_provisioning_logs_and_journals() {
    async fn run() -> (String, String) {
        let w = World::new().await;
        let annie = w.user("annie@contoso.onmicrosoft.com", "Annie", Some("Easley")).await;
        let administrator = w.group("Administrator", &[&annie]).await;
        let sre = w.group("SRE", &[&annie]).await;
        let (sp, job) = w.aws_app().await;
        for principal in [&annie, &administrator, &sre] {
            w.assign(&sp, principal).await;
        }
        w.call(reqwest::Method::POST, &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/start"), None).await;
        w.advance("PT2H").await;
        let logs = serde_json::to_string(&w.logs().await).unwrap();
        let journal = w.aws_journal_text().await;
        (logs, journal)
    }
    let (first_logs, first_journal) = run().await;
    let (second_logs, second_journal) = run().await;
    assert!(first_logs.contains("Administrator"));
    assert_eq!(first_logs, second_logs);
    // Host headers carry each run's port; everything else must match.
    let strip = |s: &str| {
        s.split("127.0.0.1:")
            .map(|part| part.trim_start_matches(|c: char| c.is_ascii_digit()))
            .collect::<Vec<_>>()
            .join("127.0.0.1:")
    };
    assert_eq!(strip(&first_journal), strip(&second_journal));
}

async fn clock_after_a_retry_after(honour: bool) -> String {
    let w = World::new().await;
    w.graph_switches(json!({"honourRetryAfter": honour})).await;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(EMPTY_LIST, "application/json"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "120"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "u-1"})))
        .with_priority(2)
        .mount(&server)
        .await;
    let annie = w.user("annie@contoso.onmicrosoft.com", "Annie", Some("Easley")).await;
    started(&w, &format!("{}/t/scim/v2/", server.uri()), async |w, sp| w.assign(sp, &annie).await).await;
    let clock: Value = w
        .http
        .get(format!("{}/_admin/clock", w.graph.uri()))
        .bearer_auth(w.graph.admin_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    clock["now"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_waited_out_on_the_mock_clock_unless_switched_off() {
    assert_eq!(clock_after_a_retry_after(true).await, "2026-01-01T00:02:00Z", "120 s waited from 00:00");
    assert_eq!(clock_after_a_retry_after(false).await, "2026-01-01T00:01:00Z");
}
