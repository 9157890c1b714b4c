//! Application templates, instantiate, service principals and assignments (microsoft-graph.md §2.4–§2.5).

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

const AWS_TEMPLATE: &str = "21ed01d2-ec13-4e9e-86c1-cd546719ebc4";

async fn aws_app(mock: &Mock) -> Value {
    let answer = mock
        .call(
            Method::POST,
            &format!("/v1.0/applicationTemplates/{AWS_TEMPLATE}/instantiate"),
            Some(json!({"displayName": "AWS IAM Identity Center"})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    answer.body
}

#[tokio::test]
async fn the_aws_template_is_found_by_name_and_instantiated_with_its_roles() {
    let mock = Mock::new();
    let found = mock.get("/v1.0/applicationTemplates?$filter=displayName%20eq%20'AWS%20IAM%20Identity%20Center%20(successor%20to%20AWS%20Single%20Sign-On)'").await;
    assert_eq!(found.body["value"].as_array().unwrap().len(), 1, "{}", found.text);
    assert_eq!(found.body["value"][0]["id"], AWS_TEMPLATE);
    assert_eq!(found.body["value"][0]["publisher"], "Amazon Web Services, Inc.");
    let created = aws_app(&mock).await;
    assert_eq!(
        created["@odata.context"],
        "http://127.0.0.1:9200/v1.0/$metadata#microsoft.graph.applicationServicePrincipal"
    );
    let sp = &created["servicePrincipal"];
    assert_eq!(created["application"]["appId"], sp["appId"]);
    assert_eq!(sp["appRoleAssignmentRequired"], true);
    assert_eq!(sp["servicePrincipalNames"], json!([sp["appId"]]));
    let roles: Vec<_> =
        sp["appRoles"].as_array().unwrap().iter().map(|r| (r["displayName"].clone(), r["id"].clone())).collect();
    assert_eq!(
        roles,
        [
            (json!("User"), json!("8774f594-1d59-4279-b9d9-59ef09a23530")),
            (json!("msiam_access"), json!("e7f1a7f3-9eda-48e0-9963-bd67bf531afd"))
        ]
    );
    let app_id = sp["appId"].as_str().unwrap();
    let by_filter = mock.get(&format!("/v1.0/servicePrincipals?$filter=appId%20eq%20'{app_id}'")).await;
    assert_eq!(by_filter.body["value"][0]["id"], sp["id"]);
    let by_key = mock.get(&format!("/v1.0/servicePrincipals(appId='{app_id}')")).await;
    assert_eq!(by_key.body["id"], sp["id"]);
    assert_error(
        &mock
            .call(
                Method::POST,
                "/v1.0/applicationTemplates/00000000-0000-0000-0000-000000000000/instantiate",
                Some(json!({"displayName": "x"})),
            )
            .await,
        404,
        "Request_ResourceNotFound",
    );
}

#[tokio::test]
async fn users_and_groups_are_assigned_with_graph_assignment_ids() {
    let mock = Mock::new();
    let sp = aws_app(&mock).await["servicePrincipal"].clone();
    let sp_id = sp["id"].as_str().unwrap();
    let annie = mock.create_user("annie@contoso.onmicrosoft.com").await;
    let sre = mock.create_group("SRE").await;
    let path = format!("/v1.0/servicePrincipals/{sp_id}/appRoleAssignedTo");
    let role = "8774f594-1d59-4279-b9d9-59ef09a23530";
    let assigned = mock
        .call(Method::POST, &path, Some(json!({"principalId": annie, "resourceId": sp_id, "appRoleId": role})))
        .await;
    assert_eq!(assigned.status, StatusCode::CREATED, "{}", assigned.text);
    assert_eq!(assigned.body["principalType"], "User");
    assert_eq!(assigned.body["resourceDisplayName"], "AWS IAM Identity Center");
    assert_eq!(
        assigned.body["@odata.context"],
        format!("http://127.0.0.1:9200/v1.0/$metadata#servicePrincipals('{sp_id}')/appRoleAssignedTo/$entity")
    );
    let id = assigned.body["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 43);
    let group =
        mock.call(Method::POST, &path, Some(json!({"principalId": sre, "resourceId": sp_id, "appRoleId": role}))).await;
    assert_eq!(group.body["principalType"], "Group");
    let duplicate = mock
        .call(Method::POST, &path, Some(json!({"principalId": annie, "resourceId": sp_id, "appRoleId": role})))
        .await;
    assert_error(&duplicate, 400, "Request_BadRequest");
    let mismatch = mock
        .call(Method::POST, &path, Some(json!({"principalId": annie, "resourceId": annie, "appRoleId": role})))
        .await;
    assert_eq!(mismatch.body["error"]["message"], "Not a valid reference update.");
    let unknown_role = mock
        .call(
            Method::POST,
            &path,
            Some(json!({"principalId": sre, "resourceId": sp_id, "appRoleId": "00000000-0000-0000-0000-000000000001"})),
        )
        .await;
    assert_error(&unknown_role, 400, "Request_BadRequest");

    assert_eq!(mock.get(&path).await.body["value"].as_array().unwrap().len(), 2);
    let of_annie = mock.get(&format!("/v1.0/users/{annie}/appRoleAssignments")).await;
    assert_eq!(of_annie.body["value"][0]["id"], id.as_str());
    assert_eq!(of_annie.body["value"][0]["appRoleId"], role);
    let of_group = mock.get(&format!("/v1.0/groups/{sre}/appRoleAssignments")).await;
    assert_eq!(of_group.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(mock.call(Method::DELETE, &format!("{path}/{id}"), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(mock.get(&path).await.body["value"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_seed_directory_is_built_through_graph_alone_and_read_back_through_delta() {
    let mock = Mock::new();
    let sp = aws_app(&mock).await["servicePrincipal"].clone();
    let sp_id = sp["id"].as_str().unwrap();
    let annie = mock.create_user("annie@contoso.onmicrosoft.com").await;
    let bob = mock.create_user("bob@contoso.onmicrosoft.com").await;
    let administrator = mock.create_group("Administrator").await;
    let sre = mock.create_group("SRE").await;
    mock.add_member(&administrator, &annie).await;
    mock.add_member(&sre, &bob).await;
    for principal in [&annie, &bob, &administrator, &sre] {
        let body =
            json!({"principalId": principal, "resourceId": sp_id, "appRoleId": "8774f594-1d59-4279-b9d9-59ef09a23530"});
        let answer =
            mock.call(Method::POST, &format!("/v1.0/servicePrincipals/{sp_id}/appRoleAssignedTo"), Some(body)).await;
        assert_eq!(answer.status, StatusCode::CREATED);
    }
    let users = mock.get("/v1.0/users/delta").await;
    assert_eq!(users.body["value"].as_array().unwrap().len(), 2);
    assert!(users.body["@odata.deltaLink"].is_string());
    let groups = mock.get("/v1.0/groups/delta").await;
    let names: Vec<_> = groups.body["value"].as_array().unwrap().iter().map(|g| g["displayName"].clone()).collect();
    assert_eq!(names, [json!("Administrator"), json!("SRE")]);
    assert_eq!(
        groups.body["value"][0]["members@delta"],
        json!([{"@odata.type": "#microsoft.graph.user", "id": annie}])
    );
    let assigned = mock.get(&format!("/v1.0/servicePrincipals/{sp_id}/appRoleAssignedTo")).await;
    assert_eq!(assigned.body["value"].as_array().unwrap().len(), 4);
}
