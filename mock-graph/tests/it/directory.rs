//! Users, groups, members and the admin seed (microsoft-graph.md §2.1–§2.3).

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn a_user_is_created_read_by_id_and_upn_updated_and_deleted() {
    let mock = Mock::new();
    let created = mock.call(Method::POST, "/v1.0/users", Some(user("annie@contoso.onmicrosoft.com"))).await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["@odata.context"], "http://127.0.0.1:9200/v1.0/$metadata#users/$entity");
    let keys: Vec<_> = created.body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        [
            "@odata.context",
            "businessPhones",
            "displayName",
            "givenName",
            "jobTitle",
            "mail",
            "mobilePhone",
            "officeLocation",
            "preferredLanguage",
            "surname",
            "userPrincipalName",
            "id"
        ]
    );
    assert!(created.body.get("passwordProfile").is_none());
    let id = created.body["id"].as_str().unwrap();
    assert_eq!(mock.get(&format!("/v1.0/users/{id}")).await.body["userPrincipalName"], "annie@contoso.onmicrosoft.com");
    assert_eq!(mock.get("/v1.0/users/ANNIE@contoso.onmicrosoft.com").await.body["id"], id);
    let patched = mock
        .call(Method::PATCH, &format!("/v1.0/users/{id}"), Some(json!({"jobTitle": "SRE", "accountEnabled": false})))
        .await;
    assert_eq!(patched.status, StatusCode::NO_CONTENT);
    let selected = mock.get(&format!("/v1.0/users/{id}?$select=jobTitle,accountEnabled")).await;
    assert_eq!(
        selected.body["@odata.context"],
        "http://127.0.0.1:9200/v1.0/$metadata#users(jobTitle,accountEnabled)/$entity"
    );
    assert_eq!(selected.body["jobTitle"], "SRE");
    assert_eq!(selected.body["accountEnabled"], false);
    assert_eq!(mock.call(Method::DELETE, &format!("/v1.0/users/{id}"), None).await.status, StatusCode::NO_CONTENT);
    let gone = mock.get(&format!("/v1.0/users/{id}")).await;
    assert_error(&gone, 404, "Request_ResourceNotFound");
    assert_eq!(
        gone.body["error"]["message"],
        format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present.")
    );
}

#[tokio::test]
async fn a_duplicate_upn_is_refused_with_an_object_conflict() {
    let mock = Mock::new();
    mock.create_user("annie@contoso.onmicrosoft.com").await;
    let answer = mock.call(Method::POST, "/v1.0/users", Some(user("Annie@contoso.onmicrosoft.com"))).await;
    assert_error(&answer, 400, "Request_BadRequest");
    assert_eq!(
        answer.body["error"]["message"],
        "Another object with the same value for property userPrincipalName already exists."
    );
    assert_eq!(answer.body["error"]["details"], json!([{"target": "userPrincipalName", "code": "ObjectConflict"}]));
}

#[tokio::test]
async fn members_are_added_listed_with_their_type_and_removed() {
    let mock = Mock::new();
    let annie = mock.create_user("annie@contoso.onmicrosoft.com").await;
    let sre = mock.create_group("SRE").await;
    let ops = mock.create_group("Ops").await;
    assert_eq!(mock.add_member(&sre, &annie).await.status, StatusCode::NO_CONTENT);
    assert_eq!(mock.add_member(&ops, &sre).await.status, StatusCode::NO_CONTENT, "nested group");
    let again = mock.add_member(&sre, &annie).await;
    assert_error(&again, 400, "Request_BadRequest");
    assert_eq!(
        again.body["error"]["message"],
        "One or more added object references already exist for the following modified properties: 'members'."
    );
    assert_error(&mock.add_member(&sre, "5b1d0d9e-0000-4000-8000-000000000000").await, 404, "Request_ResourceNotFound");

    let members = mock.get(&format!("/v1.0/groups/{sre}/members")).await;
    assert_eq!(members.body["@odata.context"], "http://127.0.0.1:9200/v1.0/$metadata#directoryObjects");
    assert_eq!(members.body["value"][0]["@odata.type"], "#microsoft.graph.user");
    assert_eq!(members.body["value"][0]["id"], annie.as_str());
    let direct = mock.get(&format!("/v1.0/groups/{ops}/members")).await;
    assert_eq!(direct.body["value"].as_array().unwrap().len(), 1, "direct members only");
    let transitive = mock.get(&format!("/v1.0/groups/{ops}/transitiveMembers")).await;
    assert_eq!(transitive.body["value"].as_array().unwrap().len(), 2);
    let users_only = mock.get(&format!("/v1.0/groups/{ops}/transitiveMembers/microsoft.graph.user")).await;
    assert_eq!(users_only.body["@odata.context"], "http://127.0.0.1:9200/v1.0/$metadata#users");
    assert_eq!(users_only.body["value"].as_array().unwrap().len(), 1);
    let member_of = mock.get(&format!("/v1.0/users/{annie}/memberOf")).await;
    assert_eq!(member_of.body["value"].as_array().unwrap().len(), 1, "memberOf is not transitive");
    let transitive_of = mock.get(&format!("/v1.0/users/{annie}/transitiveMemberOf")).await;
    assert_eq!(transitive_of.body["value"].as_array().unwrap().len(), 2);

    let removed = mock.call(Method::DELETE, &format!("/v1.0/groups/{sre}/members/{annie}/$ref"), None).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert_error(
        &mock.call(Method::DELETE, &format!("/v1.0/groups/{sre}/members/{annie}/$ref"), None).await,
        404,
        "Request_ResourceNotFound",
    );
    assert!(mock.get(&format!("/v1.0/groups/{sre}/members")).await.body["value"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn members_bind_on_patch_is_all_or_nothing_and_at_most_twenty() {
    let mock = Mock::new();
    let group = mock.create_group("Big").await;
    let mut binds = Vec::new();
    for i in 0..21 {
        let id = mock.create_user(&format!("u{i}@contoso.onmicrosoft.com")).await;
        binds.push(format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}"));
    }
    let too_many =
        mock.call(Method::PATCH, &format!("/v1.0/groups/{group}"), Some(json!({"members@odata.bind": binds}))).await;
    assert_error(&too_many, 400, "Request_BadRequest");
    binds.truncate(20);
    let ok =
        mock.call(Method::PATCH, &format!("/v1.0/groups/{group}"), Some(json!({"members@odata.bind": binds}))).await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT);
    let again = mock
        .call(Method::PATCH, &format!("/v1.0/groups/{group}"), Some(json!({"members@odata.bind": binds[..1]})))
        .await;
    assert_error(&again, 400, "Request_BadRequest");
}

#[tokio::test]
async fn a_created_group_has_graph_defaults_and_a_security_identifier() {
    let mock = Mock::new();
    let answer = mock.call(Method::POST, "/v1.0/groups", Some(group("Operations group"))).await;
    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(answer.body["groupTypes"], json!([]));
    assert_eq!(answer.body["securityEnabled"], true);
    assert!(answer.body["securityIdentifier"].as_str().unwrap().starts_with("S-1-12-1-"));
    assert_eq!(answer.body["createdDateTime"], "2026-01-01T00:00:00Z");
    let bad = mock
        .call(
            Method::POST,
            "/v1.0/groups",
            Some(
                json!({"displayName": "x", "mailEnabled": false, "mailNickname": "has space", "securityEnabled": true}),
            ),
        )
        .await;
    assert_error(&bad, 400, "Request_BadRequest");
}

#[tokio::test]
async fn the_admin_seed_builds_a_directory_in_one_call_or_not_at_all() {
    let mock = Mock::new();
    let users: Vec<_> = (0..1000).map(|i| json!({"userPrincipalName": format!("user{i}@contoso.onmicrosoft.com"), "displayName": format!("User {i}")})).collect();
    let seed = json!({
        "users": users,
        "groups": [{"displayName": "SRE", "members": ["user1@contoso.onmicrosoft.com", "user2@contoso.onmicrosoft.com"]}, {"displayName": "Administrator", "members": ["SRE"]}],
        "applications": [{"displayName": "AWS IAM Identity Center"}],
        "assignments": [{"principal": "SRE", "application": "AWS IAM Identity Center"}, {"principal": "user3@contoso.onmicrosoft.com", "application": "AWS IAM Identity Center", "appRole": "msiam_access"}]
    });
    let answer = mock.admin(Method::POST, "/_admin/seed", Some(seed)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["users"].as_object().unwrap().len(), 1000);
    assert_eq!(answer.body["assignments"].as_array().unwrap().len(), 2);
    let snapshot = mock.admin(Method::GET, "/_admin/directory", None).await.body;
    assert_eq!(snapshot["users"].as_array().unwrap().len(), 1000);
    assert_eq!(snapshot["groups"][0]["members"].as_array().unwrap().len(), 2);
    assert_eq!(snapshot["groups"][1]["members"][0], answer.body["groups"]["SRE"]);
    assert_eq!(snapshot["servicePrincipals"][0]["appRoleAssignmentRequired"], true);

    let broken = json!({"users": [{"userPrincipalName": "new@contoso.onmicrosoft.com"}], "groups": [{"displayName": "G", "members": ["nobody@contoso.onmicrosoft.com"]}]});
    let refused = mock.admin(Method::POST, "/_admin/seed", Some(broken)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body["error"].as_str().unwrap().starts_with("groups[0].members[0]"));
    assert_eq!(
        mock.admin(Method::GET, "/_admin/directory", None).await.body["users"].as_array().unwrap().len(),
        1000,
        "nothing changed"
    );
}

#[tokio::test]
async fn a_status_fault_answers_429_with_retry_after() {
    let mock = Mock::new();
    let plan = json!({"rules": [{"path": "/v1.0/users", "nth": {"from": 1, "to": 1}, "action": {"kind": "status", "status": 429, "retryAfter": 5}}]});
    assert_eq!(mock.admin(Method::PUT, "/_admin/faults", Some(plan)).await.status, StatusCode::OK);
    let throttled = mock.get("/v1.0/users").await;
    assert_error(&throttled, 429, "TooManyRequests");
    assert_eq!(throttled.headers["retry-after"], "5");
    assert_eq!(mock.get("/v1.0/users").await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_same_seed_gives_byte_identical_journals() {
    async fn run() -> String {
        let mock = Mock::new();
        let annie = mock.create_user("annie@contoso.onmicrosoft.com").await;
        let sre = mock.create_group("SRE").await;
        mock.add_member(&sre, &annie).await;
        mock.get("/v1.0/groups/delta").await;
        mock.admin(Method::GET, "/_admin/journal", None).await.text
    }
    let first = run().await;
    assert!(first.contains("Bearer <redacted>"));
    assert_eq!(first, run().await);
}

#[tokio::test]
async fn switches_take_fractional_timeouts_and_refuse_impossible_ones_changing_nothing() {
    let mock = Mock::new();
    let set = mock.admin(Method::PATCH, "/_admin/switches", Some(json!({"scimTimeoutSeconds": 0.05}))).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.body["scimTimeoutSeconds"], 0.05);
    for bad in [json!({"scimTimeoutSeconds": 0}), json!({"scimTimeoutSeconds": -1}), json!({"scimTimeoutSeconds": 1e9})]
    {
        let refused = mock.admin(Method::PATCH, "/_admin/switches", Some(bad.clone())).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}: {}", refused.body);
        assert!(refused.body.to_string().contains("scimTimeoutSeconds"), "{}", refused.body);
    }
    assert_eq!(mock.admin(Method::GET, "/_admin/switches", None).await.body["scimTimeoutSeconds"], 0.05);
}

#[tokio::test]
async fn the_quarantine_schedule_and_deleted_items_retention_are_switches_refusing_nonsense() {
    let mock = Mock::new();
    let defaults = mock.admin(Method::GET, "/_admin/switches", None).await.body;
    assert_eq!(defaults["quarantineRetrySchedule"], "sinceFirstFailure");
    assert_eq!(defaults["deletedItemsRetentionDays"], 30);
    let set = json!({"quarantineRetrySchedule": "betweenRetries", "deletedItemsRetentionDays": 7});
    let answer = mock.admin(Method::PATCH, "/_admin/switches", Some(set)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    for (bad, named) in [
        (json!({"quarantineRetrySchedule": "weekly"}), "sinceFirstFailure"),
        (json!({"deletedItemsRetentionDays": 0}), "deletedItemsRetentionDays"),
    ] {
        let refused = mock.admin(Method::PATCH, "/_admin/switches", Some(bad.clone())).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}: {}", refused.body);
        assert!(refused.body.to_string().contains(named), "{}", refused.body);
    }
    let kept = mock.admin(Method::GET, "/_admin/switches", None).await.body;
    assert_eq!(
        (kept["quarantineRetrySchedule"].as_str(), kept["deletedItemsRetentionDays"].as_u64()),
        (Some("betweenRetries"), Some(7))
    );
}

#[tokio::test]
async fn export_concurrency_is_a_switch_from_1_to_64_one_by_default() {
    let mock = Mock::new();
    assert_eq!(mock.admin(Method::GET, "/_admin/switches", None).await.body["exportConcurrency"], 1);
    let answer = mock.admin(Method::PATCH, "/_admin/switches", Some(json!({"exportConcurrency": 8}))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    for (bad, message) in [
        (json!(0), "exportConcurrency: must be from 1 to 64, got 0"),
        (json!(65), "exportConcurrency: must be from 1 to 64, got 65"),
    ] {
        let refused = mock.admin(Method::PATCH, "/_admin/switches", Some(json!({"exportConcurrency": bad}))).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}: {}", refused.body);
        assert_eq!(refused.body["error"], message);
    }
    assert_eq!(mock.admin(Method::GET, "/_admin/switches", None).await.body["exportConcurrency"], 8);
}

#[tokio::test]
async fn put_switches_sets_every_switch_from_the_defaults_and_the_journal_says_its_newest_seq() {
    let mock = Mock::new();
    let patched = mock.admin(Method::PATCH, "/_admin/switches", Some(json!({"expandCap": 100}))).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let put = mock.admin(Method::PUT, "/_admin/switches", Some(json!({"exportConcurrency": 4}))).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!((put.body["expandCap"].as_u64(), put.body["exportConcurrency"].as_u64()), (Some(20), Some(4)));
    let refused = mock.admin(Method::PUT, "/_admin/switches", Some(json!({"exportConcurrency": 0}))).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert_eq!(mock.admin(Method::GET, "/_admin/switches", None).await.body["exportConcurrency"], 4, "unchanged");
    mock.create_user("annie@contoso.onmicrosoft.com").await;
    mock.create_user("bob@contoso.onmicrosoft.com").await;
    let seq = mock.admin(Method::GET, "/_admin/journal/seq", None).await.body["seq"].clone();
    let journal = mock.admin(Method::GET, "/_admin/journal", None).await.body;
    let newest = journal.as_array().and_then(|j| j.last()).map(|e| e["seq"].clone());
    assert!(seq.as_u64().is_some_and(|n| n >= 2), "two Graph calls journaled: {seq}");
    assert_eq!(Some(seq), newest);
}
