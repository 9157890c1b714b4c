//! A real Graph SDK, graph-rs-sdk, pointed at the mock as microsoft-graph.md §7.1 shows.

use graph_rs_sdk::http::{ResponseExt, Url};
use graph_rs_sdk::{Graph, GraphClientConfiguration, ODataQuery};
use mock_graph::MockGraph;
use serde_json::{Value, json};

async fn client(mock: &MockGraph) -> Graph {
    let config = GraphClientConfiguration::new().access_token(mock.access_token().await).https_only(false);
    let mut client = Graph::from(config);
    client.use_test_endpoint(&Url::parse(&format!("{}/v1.0", mock.uri())).unwrap());
    client
}

async fn seed(mock: &MockGraph, body: Value) -> Value {
    let answer = reqwest::Client::new()
        .post(format!("{}/_admin/seed", mock.uri()))
        .bearer_auth(mock.admin_token())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    answer.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_rs_sdk_pages_through_users_across_next_links() {
    let mock = MockGraph::start().await;
    let users: Vec<_> =
        (0..150).map(|i| json!({"userPrincipalName": format!("user{i}@contoso.onmicrosoft.com")})).collect();
    seed(&mock, json!({"users": users})).await;
    let client = client(&mock).await;
    let pages = client.users().list_user().top("100").paging().json::<Value>().await.unwrap();
    assert_eq!(pages.len(), 2);
    let total: usize = pages.iter().map(|page| page.body().as_ref().unwrap()["value"].as_array().unwrap().len()).sum();
    assert_eq!(total, 150);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_rs_sdk_creates_a_group_adds_and_lists_members() {
    let mock = MockGraph::start().await;
    let seeded = seed(&mock, json!({"users": [{"userPrincipalName": "annie@contoso.onmicrosoft.com"}]})).await;
    let annie = seeded["users"]["annie@contoso.onmicrosoft.com"].as_str().unwrap().to_owned();
    let client = client(&mock).await;
    let created = client
        .groups()
        .create_group(
            &json!({"displayName": "SRE", "mailEnabled": false, "mailNickname": "sre", "securityEnabled": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let group: Value = created.json().await.unwrap();
    let id = group["id"].as_str().unwrap();
    let reference = json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{annie}")});
    let added = client.group(id).create_ref_members(&reference).send().await.unwrap();
    assert_eq!(added.status(), 204);
    let members: Value = client.group(id).list_members().send().await.unwrap().json().await.unwrap();
    assert_eq!(members["value"][0]["id"], annie.as_str());
    assert_eq!(members["value"][0]["@odata.type"], "#microsoft.graph.user");
    let again = client.group(id).create_ref_members(&reference).send().await.unwrap();
    assert_eq!(again.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_rs_sdk_reads_a_404_as_a_typed_graph_error() {
    let mock = MockGraph::start().await;
    let client = client(&mock).await;
    let response = client.user("00000000-0000-0000-0000-000000000404").get_user().send().await.unwrap();
    assert_eq!(response.status(), 404);
    let error = response.into_graph_error_message().await.unwrap();
    assert_eq!(error.code_property().as_deref(), Some("Request_ResourceNotFound"));
    assert!(error.request_id().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_rs_sdk_follows_a_users_delta_round() {
    let mock = MockGraph::start().await;
    seed(&mock, json!({"users": [{"userPrincipalName": "annie@contoso.onmicrosoft.com"}]})).await;
    let client = client(&mock).await;
    let first: Value = client.users().delta().send().await.unwrap().json().await.unwrap();
    assert_eq!(first["value"].as_array().unwrap().len(), 1);
    assert!(first["@odata.deltaLink"].as_str().unwrap().starts_with(&mock.uri()));
}

/// `POST` to a path graph-rs-sdk has no typed call for (the synchronization API), through its
/// generic request handler.
async fn sdk_post(client: &Graph, path: &[&str], body: &Value) -> reqwest::Response {
    let body = graph_rs_sdk::http::BodyRead::from_serialize(body).unwrap();
    client.custom(graph_rs_sdk::http::Method::POST, Some(body)).extend_path(path).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_rs_sdk_walks_the_seed_story_end_to_end() {
    let mock = MockGraph::start().await;
    let aws = mock_scim::MockScim::start().await;
    let seeded = seed(&mock, json!({"users": [{"userPrincipalName": "annie@contoso.onmicrosoft.com", "givenName": "Annie", "surname": "Easley"}],
        "groups": [{"displayName": "Administrator", "members": ["annie@contoso.onmicrosoft.com"]}, {"displayName": "SRE", "members": ["annie@contoso.onmicrosoft.com"]}]})).await;
    let client = client(&mock).await;
    // Instantiate the AWS gallery app.
    let app: Value = sdk_post(
        &client,
        &["applicationTemplates", "21ed01d2-ec13-4e9e-86c1-cd546719ebc4", "instantiate"],
        &json!({"displayName": "AWS IAM Identity Center"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let sp = app["servicePrincipal"]["id"].as_str().unwrap().to_owned();
    // Assign Annie and both groups.
    for principal in [
        &seeded["users"]["annie@contoso.onmicrosoft.com"],
        &seeded["groups"]["Administrator"],
        &seeded["groups"]["SRE"],
    ] {
        let body =
            json!({"principalId": principal, "resourceId": sp, "appRoleId": "8774f594-1d59-4279-b9d9-59ef09a23530"});
        let answer = client.service_principal(&sp).create_app_role_assigned_to(&body).send().await.unwrap();
        assert_eq!(answer.status(), 201);
    }
    // The job, its secrets, Test Connection, start.
    let job: Value = sdk_post(
        &client,
        &["servicePrincipals", &sp, "synchronization", "jobs"],
        &json!({"templateId": "aWSSingleSignon"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let job = job["id"].as_str().unwrap().to_owned();
    let secrets = json!({"value": [{"key": "BaseAddress", "value": aws.scim_endpoint()}, {"key": "SecretToken", "value": aws.token()}]});
    let body = graph_rs_sdk::http::BodyRead::from_serialize(&secrets).unwrap();
    let saved = client
        .custom(graph_rs_sdk::http::Method::PUT, Some(body))
        .extend_path(&["servicePrincipals", &sp, "synchronization", "secrets"])
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 204);
    let tested = sdk_post(
        &client,
        &["servicePrincipals", &sp, "synchronization", "jobs", &job, "validateCredentials"],
        &json!({"useSavedCredentials": true}),
    )
    .await;
    assert_eq!(tested.status(), 204);
    let started =
        sdk_post(&client, &["servicePrincipals", &sp, "synchronization", "jobs", &job, "start"], &json!({})).await;
    assert_eq!(started.status(), 204);
    // Forty minutes pass.
    let advanced = reqwest::Client::new()
        .post(format!("{}/_admin/clock/advance", mock.uri()))
        .bearer_auth(mock.admin_token())
        .json(&json!({"by": "PT40M"}))
        .send()
        .await
        .unwrap();
    assert_eq!(advanced.status(), 200);
    // The provisioning logs tell what failed.
    let logs: Value = client
        .audit_logs()
        .list_provisioning()
        .filter(&["sourceIdentity/displayName eq 'Administrator'"])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let failure = &logs["value"][0];
    assert_eq!(failure["provisioningStatusInfo"]["status"], "failure");
    assert_eq!(
        failure["provisioningStatusInfo"]["errorInformation"]["errorCode"],
        "SystemForCrossDomainIdentityManagementBadRequest"
    );
    // A new user, provisioned on demand.
    let bob = seed(&mock, json!({"users": [{"userPrincipalName": "bob@contoso.onmicrosoft.com", "givenName": "Bob", "surname": "Builder"}]})).await["users"]["bob@contoso.onmicrosoft.com"].clone();
    let body = json!({"principalId": bob, "resourceId": sp, "appRoleId": "8774f594-1d59-4279-b9d9-59ef09a23530"});
    client.service_principal(&sp).create_app_role_assigned_to(&body).send().await.unwrap();
    let on_demand: Value = sdk_post(
        &client,
        &["servicePrincipals", &sp, "synchronization", "jobs", &job, "provisionOnDemand"],
        &json!({"parameters": [{"ruleId": "03f7d90d-bf71-41b1-bda6-aaf0ddbee5d8", "subjects": [{"objectId": bob, "objectTypeName": "User"}]}]}),
    )
    .await
    .json()
    .await
    .unwrap();
    let key: Value = serde_json::from_str(on_demand["key"].as_str().unwrap()).unwrap();
    assert_eq!(key["result"], "Success", "{on_demand}");
}
