//! What Microsoft's Kiota-generated Graph SDKs send, byte for byte: the bodies, paths and queries
//! below were captured from `msgraph-sdk` 1.65 (Python, kiota 1.16) walking the seed tutorial
//! against mock-graph (`GET /_admin/journal`), with ids and ports replaced. Kiota writes
//! `@odata.type` on every entity, `$` unencoded in query keys, `delta()` as the delta path, and
//! `@id` for a `$ref` removal. The clients' own suite, `clients/python/tests/test_graph_sdk.py`,
//! runs the SDK itself.

use axum::http::{Method, StatusCode};
use mock_graph::MockGraph;
use mock_scim::MockScim;
use serde_json::{Value, json};

use crate::support::*;

const AWS_TEMPLATE: &str = "21ed01d2-ec13-4e9e-86c1-cd546719ebc4";
const USER_ROLE: &str = "8774f594-1d59-4279-b9d9-59ef09a23530";

/// `client.users.post(User(...))` (microsoft-graph.md §2.1).
fn kiota_user(local: &str, given: &str, surname: &str) -> Value {
    let upn = format!("{local}@contoso.onmicrosoft.com");
    json!({
        "@odata.type": "#microsoft.graph.user",
        "accountEnabled": true,
        "displayName": format!("{given} {surname}"),
        "givenName": given,
        "mail": upn,
        "mailNickname": local,
        "passwordProfile": {"forceChangePasswordNextSignIn": false, "password": "x-Password-1"},
        "surname": surname,
        "userPrincipalName": upn
    })
}

/// `client.groups.post(Group(...))` (§2.2).
fn kiota_group(name: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.group", "displayName": name, "groupTypes": [], "mailEnabled": false,
        "mailNickname": name, "securityEnabled": true})
}

async fn created(mock: &Mock, path: &str, body: Value) -> Value {
    let answer = mock.call(Method::POST, path, Some(body)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{path}: {}", answer.text);
    answer.body
}

#[tokio::test]
async fn kiota_directory_requests_are_accepted() {
    let mock = Mock::new();
    let annie = created(&mock, "/v1.0/users", kiota_user("annie", "Annie", "Easley")).await;
    let annie = annie["id"].as_str().unwrap().to_owned();
    let got = mock.get(&format!("/v1.0/users/{annie}")).await;
    assert_eq!((got.body["givenName"].as_str(), got.body["surname"].as_str()), (Some("Annie"), Some("Easley")));
    // `client.users.by_user_id(id).patch(User(job_title=...))` (§2.1).
    let patched = mock
        .call(
            Method::PATCH,
            &format!("/v1.0/users/{annie}"),
            Some(json!({"@odata.type": "#microsoft.graph.user", "jobTitle": "Mathematician"})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::NO_CONTENT, "{}", patched.text);
    // An advanced query as Kiota encodes it (§3.1, §3.2).
    let page = mock
        .call_with(
            Method::GET,
            "/v1.0/users?$count=true&$filter=startsWith%28displayName%2C%27Annie%27%29&$select=id,displayName&$top=5",
            None,
            &[("ConsistencyLevel", "eventual"), ("Accept", "application/json")],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert_eq!(page.body["@odata.count"], 1);
    assert_eq!(page.body["value"][0]["id"], annie.as_str());

    let mut groups = Vec::new();
    for name in ["Administrator", "SRE"] {
        let group = created(&mock, "/v1.0/groups", kiota_group(name)).await;
        assert_eq!(group["groupTypes"], json!([]));
        groups.push(group["id"].as_str().unwrap().to_owned());
    }
    // `members.ref.post(ReferenceCreate(odata_id=...))`, the reference built from the mock's own URL (§2.3).
    for group in &groups {
        let reference = json!({"@odata.id": format!("http://127.0.0.1:9200/v1.0/directoryObjects/{annie}")});
        let added = mock.call(Method::POST, &format!("/v1.0/groups/{group}/members/$ref"), Some(reference)).await;
        assert_eq!(added.status, StatusCode::NO_CONTENT, "{}", added.text);
    }
    // `members.ref.delete(@id=...)` and `members.by_directory_object_id(id).ref.delete()` (§2.3).
    let by_reference = format!(
        "/v1.0/groups/{}/members/$ref?@id=http%3A%2F%2F127.0.0.1%3A9200%2Fv1.0%2FdirectoryObjects%2F{annie}",
        groups[0]
    );
    let removed = mock.call(Method::DELETE, &by_reference, None).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);
    let removed = mock.call(Method::DELETE, &format!("/v1.0/groups/{}/members/{annie}/$ref", groups[1]), None).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);
    for group in &groups {
        assert_eq!(mock.get(&format!("/v1.0/groups/{group}/members")).await.body["value"], json!([]));
    }
    // References read back from Graph: the key in parentheses, and the v2 form with its cast (§2.3).
    for reference in [
        format!("https://graph.microsoft.com/v1.0/directoryObjects('{annie}')"),
        format!("https://graph.microsoft.com/v2/tenant/directoryObjects/{annie}/Microsoft.DirectoryServices.User"),
    ] {
        let added = mock
            .call(
                Method::POST,
                &format!("/v1.0/groups/{}/members/$ref", groups[0]),
                Some(json!({"@odata.id": reference})),
            )
            .await;
        assert_eq!(added.status, StatusCode::NO_CONTENT, "{reference}: {}", added.text);
        mock.call(Method::DELETE, &format!("/v1.0/groups/{}/members/{annie}/$ref", groups[0]), None).await;
    }
    let unknown = mock.call(Method::DELETE, &format!("/v1.0/groups/{}/members/$ref", groups[0]), None).await;
    assert_error(&unknown, 400, "Request_BadRequest");

    // `users.delta.get()`, then `with_url(deltaLink)`, with a `Prefer` a caller may add (§4).
    let round = mock.get("/v1.0/users/delta()").await;
    assert_eq!(round.status, StatusCode::OK, "{}", round.text);
    let link = round.body["@odata.deltaLink"].as_str().unwrap().trim_start_matches("http://127.0.0.1:9200").to_owned();
    assert!(link.starts_with("/v1.0/users/delta()?$deltatoken="), "{link}");
    mock.call(
        Method::PATCH,
        &format!("/v1.0/users/{annie}"),
        Some(json!({"@odata.type": "#microsoft.graph.user", "city": "Cleveland"})),
    )
    .await;
    let changes = mock.call_with(Method::GET, &link, None, &[("Prefer", "return=minimal")]).await;
    assert_eq!(changes.status, StatusCode::OK, "{}", changes.text);
    assert_eq!(changes.body["value"][0]["id"], annie.as_str());
}

#[tokio::test]
async fn kiota_application_requests_are_accepted() {
    let mock = Mock::new();
    let group = created(&mock, "/v1.0/groups", kiota_group("SRE")).await;
    // `application_templates.by_application_template_id(id).instantiate.post(...)` (§2.5).
    let app = created(
        &mock,
        &format!("/v1.0/applicationTemplates/{AWS_TEMPLATE}/instantiate"),
        json!({"displayName": "AWS IAM Identity Center"}),
    )
    .await;
    let sp = app["servicePrincipal"]["id"].as_str().unwrap().to_owned();
    let app_id = app["servicePrincipal"]["appId"].as_str().unwrap().to_owned();
    for query in [
        format!("$filter=appId%20eq%20%27{app_id}%27"),
        "$filter=displayName%20eq%20%27AWS%20IAM%20Identity%20Center%27".to_owned(),
    ] {
        let found = mock.get(&format!("/v1.0/servicePrincipals?{query}")).await;
        assert_eq!(found.body["value"][0]["id"], sp.as_str(), "{query}: {}", found.text);
    }
    // `app_role_assigned_to.post(AppRoleAssignment(...))` (§2.4).
    let assignment = json!({"@odata.type": "#microsoft.graph.appRoleAssignment", "appRoleId": USER_ROLE,
        "principalId": group["id"], "resourceId": sp});
    let assigned = created(&mock, &format!("/v1.0/servicePrincipals/{sp}/appRoleAssignedTo"), assignment).await;
    assert_eq!(assigned["principalType"], "Group");
    assert_eq!(assigned.get("@odata.type"), None);
}

#[tokio::test]
async fn a_wrong_odata_type_is_refused_as_graph_refuses_it_and_nothing_is_written() {
    let mock = Mock::new();
    let mut as_group = kiota_user("bob", "Bob", "Builder");
    as_group["@odata.type"] = json!("#microsoft.graph.group");
    let refused = mock.call(Method::POST, "/v1.0/users", Some(as_group)).await;
    assert_error(&refused, 400, "Request_BadRequest");
    assert_eq!(
        refused.body["error"]["message"],
        "A resource with type 'Microsoft.DirectoryServices.Group' was found, but it is not assignable to the expected type 'Microsoft.DirectoryServices.User'. The type specified in the resource must be equal to either the expected type or a derived type."
    );
    let mut unknown = kiota_user("bob", "Bob", "Builder");
    unknown["passwordProfile"]["@odata.type"] = json!("#microsoft.graph.secret");
    let refused = mock.call(Method::POST, "/v1.0/users", Some(unknown)).await;
    assert_error(&refused, 400, "Request_BadRequest");
    assert_eq!(
        refused.body["error"]["message"],
        "A type named 'Microsoft.DirectoryServices.secret' could not be resolved by the model. When a model is available, each type name must resolve to a valid type."
    );
    let mut base = kiota_group("SRE");
    base["@odata.type"] = json!("#microsoft.graph.directoryObject");
    let refused = mock.call(Method::POST, "/v1.0/groups", Some(base)).await;
    assert_error(&refused, 400, "Request_BadRequest");
    assert!(
        refused.body["error"]["message"].as_str().unwrap().contains("'Microsoft.DirectoryServices.DirectoryObject'")
    );
    // The type's own name, with or without `#`, and any other annotation, pass.
    let mut plain = kiota_user("cher", "Cher", "Sarkisian");
    plain["@odata.type"] = json!("microsoft.graph.user");
    plain["@odata.context"] = json!("https://graph.microsoft.com/v1.0/$metadata#users/$entity");
    plain["displayName@odata.type"] = json!("#String");
    plain["passwordProfile"]["@odata.type"] = json!("#microsoft.graph.passwordProfile");
    created(&mock, "/v1.0/users", plain).await;
    let users = mock.get("/v1.0/users").await;
    assert_eq!(users.body["value"].as_array().unwrap().len(), 1, "only Cher: {}", users.text);
    assert_eq!(mock.get("/v1.0/groups").await.body["value"], json!([]));
}

/// The synchronization calls, over sockets: Test Connection and provision on demand reach mock-scim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kiota_synchronization_requests_are_accepted() {
    let graph = MockGraph::start().await;
    let scim = MockScim::start().await;
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: String, body: Option<Value>| {
        let (http, graph) = (&http, &graph);
        async move {
            let mut request = http
                .request(method, format!("{}/v1.0{path}", graph.uri()))
                .bearer_auth(graph.access_token().await)
                .header("Accept", "application/json");
            if let Some(body) = body {
                request = request.json(&body);
            }
            let answer = request.send().await.unwrap();
            let status = answer.status().as_u16();
            (status, answer.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let post = |path: String, body: Value| call(reqwest::Method::POST, path, Some(body));
    let (_, annie) = post("/users".into(), kiota_user("annie", "Annie", "Easley")).await;
    let annie = annie["id"].as_str().unwrap().to_owned();
    let (_, app) = post(
        format!("/applicationTemplates/{AWS_TEMPLATE}/instantiate"),
        json!({"displayName": "AWS IAM Identity Center"}),
    )
    .await;
    let sp = app["servicePrincipal"]["id"].as_str().unwrap().to_owned();
    let app_id = app["servicePrincipal"]["appId"].as_str().unwrap().to_owned();
    let assignment = json!({"@odata.type": "#microsoft.graph.appRoleAssignment", "appRoleId": USER_ROLE,
        "principalId": annie, "resourceId": sp});
    assert_eq!(post(format!("/servicePrincipals/{sp}/appRoleAssignedTo"), assignment).await.0, 201);

    // `synchronization.jobs.post(SynchronizationJob(template_id=...))` (entra-provisioning.md §7).
    let (status, job) =
        post(format!("/servicePrincipals/{sp}/synchronization/jobs"), json!({"templateId": "aWSSingleSignon"})).await;
    assert_eq!(status, 201, "{job}");
    let job = job["id"].as_str().unwrap().to_owned();
    let jobs = format!("/servicePrincipals/{sp}/synchronization/jobs/{job}");
    // `secrets.put(SecretsPutRequestBody(value=[SynchronizationSecretKeyStringValuePair(...)]))` (§7.4).
    let pairs =
        json!([{"key": "BaseAddress", "value": scim.scim_endpoint()}, {"key": "SecretToken", "value": scim.token()}]);
    let (status, answer) = call(
        reqwest::Method::PUT,
        format!("/servicePrincipals/{sp}/synchronization/secrets"),
        Some(json!({"value": pairs})),
    )
    .await;
    assert_eq!(status, 204, "{answer}");
    // `validate_credentials.post(...)`, saved and given credentials (§4.5).
    for body in [
        json!({"useSavedCredentials": true}),
        json!({"applicationIdentifier": app_id, "credentials": pairs, "templateId": "aWSSingleSignon", "useSavedCredentials": false}),
    ] {
        let (status, answer) = post(format!("{jobs}/validateCredentials"), body.clone()).await;
        assert_eq!(status, 204, "{body}: {answer}");
    }
    // `start.post()` and `pause.post()` send no body at all.
    for action in ["start", "pause"] {
        assert_eq!(call(reqwest::Method::POST, format!("{jobs}/{action}"), None).await.0, 204, "{action}");
    }
    // `restart.post(RestartPostRequestBody(criteria=SynchronizationJobRestartCriteria(...)))` (§7.3).
    let (status, answer) = post(format!("{jobs}/restart"), json!({"criteria": {"resetScope": "Watermark"}})).await;
    assert_eq!(status, 204, "{answer}");
    // `provision_on_demand.post(...)` (§7.5).
    let on_demand = json!({"parameters": [{"ruleId": "03f7d90d-bf71-41b1-bda6-aaf0ddbee5d8",
        "subjects": [{"objectId": annie, "objectTypeName": "User"}]}]});
    let (status, answer) = post(format!("{jobs}/provisionOnDemand"), on_demand).await;
    assert_eq!(status, 200, "{answer}");
    let key: Value = serde_json::from_str(answer["key"].as_str().unwrap()).unwrap();
    assert_eq!(key["result"], "Success", "{answer}");
    // `audit_logs.provisioning.get(...)` with `$filter` (§6).
    let (status, logs) = call(
        reqwest::Method::GET,
        format!("/auditLogs/provisioning?$filter=sourceIdentity%2Fid%20eq%20%27{annie}%27"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{logs}");
    assert_eq!(logs["value"][0]["provisioningStatusInfo"]["status"], "success", "{logs}");

    // The same calls when a model's `odata_type` is set: Kiota then writes it on nested values too.
    let typed_pairs = json!([
        {"@odata.type": "#microsoft.graph.synchronizationSecretKeyStringValuePair", "key": "BaseAddress", "value": scim.scim_endpoint()},
        {"@odata.type": "#microsoft.graph.synchronizationSecretKeyStringValuePair", "key": "SecretToken", "value": scim.token()}
    ]);
    let (status, answer) = call(
        reqwest::Method::PUT,
        format!("/servicePrincipals/{sp}/synchronization/secrets"),
        Some(json!({"value": typed_pairs})),
    )
    .await;
    assert_eq!(status, 204, "{answer}");
    let (status, answer) =
        post(format!("{jobs}/validateCredentials"), json!({"credentials": typed_pairs, "useSavedCredentials": false}))
            .await;
    assert_eq!(status, 204, "{answer}");
    let criteria = json!({"criteria": {"@odata.type": "#microsoft.graph.synchronizationJobRestartCriteria", "resetScope": "Full"}});
    assert_eq!(post(format!("{jobs}/restart"), criteria).await.0, 204);
    let typed = json!({"parameters": [{"@odata.type": "#microsoft.graph.synchronizationJobApplicationParameters",
        "ruleId": "03f7d90d-bf71-41b1-bda6-aaf0ddbee5d8",
        "subjects": [{"@odata.type": "#microsoft.graph.synchronizationJobSubject", "objectId": annie, "objectTypeName": "User"}]}]});
    let (status, answer) = post(format!("{jobs}/provisionOnDemand"), typed).await;
    assert_eq!(status, 200, "{answer}");
    // A job body naming another type is refused before anything is made.
    let (status, answer) = post(
        format!("/servicePrincipals/{sp}/synchronization/jobs"),
        json!({"@odata.type": "#microsoft.graph.synchronizationSchema", "templateId": "aWSSingleSignon"}),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "Request_BadRequest");
    assert!(answer["error"]["message"].as_str().unwrap().contains("'microsoft.graph.synchronizationJob'"), "{answer}");
}
