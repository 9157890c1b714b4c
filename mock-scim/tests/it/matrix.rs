//! One test per row of the behaviour matrix in aws-scim.md §8, plus the seed's story.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn the_seed_story_sre_is_created_and_administrator_refused() {
    let mock = Mock::new();
    let annie = mock.create_user("annie@contoso.com").await;
    let sre =
        mock.scim(Method::POST, "Groups", Some(json!({"displayName": "SRE", "members": [{"value": annie}]}))).await;
    assert_eq!(sre.status, StatusCode::CREATED);
    assert!(sre.body.get("members").is_none(), "members are never returned");
    let admin = mock.scim(Method::POST, "Groups", Some(json!({"displayName": "Administrator"}))).await;
    assert_error(&admin, 400, GENERIC);
    let state = mock.state_json().await;
    let names: Vec<_> = state["groups"].as_array().unwrap().iter().map(|g| g["displayName"].clone()).collect();
    assert_eq!(names, [json!("SRE")]);
    assert_eq!(state["groups"][0]["members"], json!([annie]));
}

#[tokio::test]
async fn missing_or_bad_bearer_is_401() {
    let mock = Mock::new();
    for auth in [None, Some("Bearer wrong"), Some("Basic abc"), Some(format!("Bearer {}x", mock.token).leak() as &str)]
    {
        let mut request = Request::get(format!("/{}/scim/v2/Users", mock.tenant));
        if let Some(auth) = auth {
            request = request.header(header::AUTHORIZATION, auth);
        }
        let answer = mock.send(request.body(Body::empty()).unwrap()).await;
        assert_error(&answer, 401, "Authorization header is invalid or missing.");
    }
}

#[tokio::test]
async fn unknown_tenant_is_404_as_observed_or_401_by_switch() {
    let mock = Mock::new();
    let request = || {
        Request::get("/kE3934e0444-9ba8-41e7-b468-2fecf5b4fa22/scim/v2/Users")
            .header(header::AUTHORIZATION, format!("Bearer {}", mock.token))
            .body(Body::empty())
            .unwrap()
    };
    assert_error(&mock.send(request()).await, 404, "TENANT does not exist.");
    mock.admin(Method::PATCH, "/_admin/switches", Some(json!({"unknownTenantStatus": 401}))).await;
    assert_error(&mock.send(request()).await, 401, "TENANT does not exist.");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_400_with_the_specific_message_by_switch() {
    let mock = Mock::with_switches(json!({"errorDetail": "specific"})).await;
    let request = Request::post(format!("/{}/scim/v2/Users", mock.tenant))
        .header(header::AUTHORIZATION, format!("Bearer {}", mock.token))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    assert_error(&mock.send(request).await, 400, "Invalid JSON from RequestBody");
}

#[tokio::test]
async fn each_missing_required_attribute_is_refused() {
    let mock = Mock::with_switches(json!({"errorDetail": "specific"})).await;
    for (pointer, path) in [
        ("/userName", "userName"),
        ("/displayName", "displayName"),
        ("/name/givenName", "name.givenName"),
        ("/name/familyName", "name.familyName"),
    ] {
        let mut body = user("someone@contoso.com");
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        body.pointer_mut(if parent.is_empty() { "" } else { parent }).unwrap().as_object_mut().unwrap().remove(key);
        let answer = mock.scim(Method::POST, "Users", Some(body)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        let detail = answer.body["detail"].as_str().unwrap();
        assert!(detail.starts_with("2 validation errors detected: Value at '"), "{detail}");
        assert!(detail.contains(&format!("'{path}'")), "{detail}");
    }
    assert!(mock.state_json().await["users"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_user_without_surname_is_refused_as_entra_logs_show() {
    let mock = Mock::new();
    let mut body = user("nosurname@contoso.com");
    body["name"]["familyName"] = json!("");
    assert_error(&mock.scim(Method::POST, "Users", Some(body)).await, 400, GENERIC);
}

#[tokio::test]
async fn a_second_email_phone_address_or_role_is_refused() {
    let mock = Mock::with_switches(json!({"errorDetail": "specific"})).await;
    for (attribute, values, detail) in [
        (
            "emails",
            json!([{"value": "a@x", "primary": true}, {"value": "b@x"}]),
            "List attribute emails exceeds allowed limit of 1",
        ),
        (
            "phoneNumbers",
            json!([{"value": "1"}, {"value": "2"}]),
            "List attribute phoneNumbers exceeds allowed limit of 1",
        ),
        ("addresses", json!([{"locality": "a"}, {"locality": "b"}]), "List attribute addresses allowed limit of 1"),
        ("roles", json!([{"value": "a"}, {"value": "b"}]), "List attribute roles exceeds allowed limit of 1"),
    ] {
        let mut body = user("multi@contoso.com");
        body[attribute] = values;
        assert_error(&mock.scim(Method::POST, "Users", Some(body)).await, 400, detail);
    }
}

#[tokio::test]
async fn an_email_not_marked_primary_is_refused() {
    let mock = Mock::new();
    let mut body = user("p@contoso.com");
    body["emails"] = json!([{"value": "p@contoso.com", "type": "work"}]);
    assert_error(&mock.scim(Method::POST, "Users", Some(body)).await, 400, GENERIC);
}

#[tokio::test]
async fn unsupported_attributes_on_create_are_refused() {
    let mock = Mock::new();
    for (attribute, value) in [
        ("groups", json!([])),
        ("password", json!("x")),
        ("ims", json!([])),
        ("photos", json!([])),
        ("x509Certificates", json!([])),
    ] {
        let mut body = user("u@contoso.com");
        body[attribute] = value;
        assert_error(&mock.scim(Method::POST, "Users", Some(body)).await, 400, GENERIC);
    }
}

#[tokio::test]
async fn user_names_with_whitespace_or_over_128_characters_are_refused() {
    let mock = Mock::new();
    for name in ["annie easley", &"a".repeat(129), "tab\tname"] {
        assert_error(&mock.scim(Method::POST, "Users", Some(user(name))).await, 400, GENERIC);
    }
    mock.create_user(&"a".repeat(128)).await;
}

#[tokio::test]
async fn legacy_charset_refuses_forbidden_characters_that_current_rules_accept() {
    let mut body = user("c@contoso.com");
    body["displayName"] = json!("Ops: <on call> 100%");
    let current = Mock::new();
    assert_eq!(current.scim(Method::POST, "Users", Some(body.clone())).await.status, StatusCode::CREATED);
    let legacy = Mock::with_switches(json!({"charset": "legacy"})).await;
    assert_error(&legacy.scim(Method::POST, "Users", Some(body)).await, 400, GENERIC);
}

#[tokio::test]
async fn reserved_names_are_refused_for_users_and_groups() {
    let mock = Mock::new();
    for name in ["Administrator", "AWSAdministrators"] {
        assert_error(&mock.scim(Method::POST, "Users", Some(user(name))).await, 400, GENERIC);
        assert_error(&mock.scim(Method::POST, "Groups", Some(json!({"displayName": name}))).await, 400, GENERIC);
    }
    let conflict = Mock::with_switches(json!({"reservedNameStatus": 409})).await;
    assert_error(
        &conflict.scim(Method::POST, "Groups", Some(json!({"displayName": "Administrator"}))).await,
        409,
        DUPLICATE,
    );
}

#[tokio::test]
async fn duplicates_are_409_case_insensitively_for_user_name_email_and_external_id() {
    let mock = Mock::new();
    mock.create_user("annie@contoso.com").await;
    let same_name = user("ANNIE@contoso.com");
    let mut same_email = user("other@contoso.com");
    same_email["emails"][0]["value"] = json!("Annie@Contoso.com");
    let mut same_external = user("third@contoso.com");
    same_external["externalId"] = json!("ext-annie@contoso.com");
    for body in [same_name, same_email, same_external] {
        assert_error(&mock.scim(Method::POST, "Users", Some(body)).await, 409, DUPLICATE);
    }
    mock.create_group("SRE").await;
    assert_error(&mock.scim(Method::POST, "Groups", Some(json!({"displayName": "sre"}))).await, 409, DUPLICATE);
    mock.scim(Method::POST, "Groups", Some(json!({"displayName": "Ops", "externalId": "e1"}))).await;
    let dup_external =
        mock.scim(Method::POST, "Groups", Some(json!({"displayName": "Other", "externalId": "E1"}))).await;
    assert_error(&dup_external, 409, DUPLICATE);
}

#[tokio::test]
async fn create_group_with_more_than_100_members_is_refused() {
    let mock = Mock::new();
    let id = mock.create_user("m@contoso.com").await;
    let members: Vec<_> = (0..101).map(|_| json!({"value": id})).collect();
    let answer = mock.scim(Method::POST, "Groups", Some(json!({"displayName": "Big", "members": members}))).await;
    assert_error(&answer, 400, GENERIC);
}

#[tokio::test]
async fn patch_group_with_more_than_100_member_values_is_refused_and_changes_nothing() {
    let mock = Mock::new();
    let group = mock.create_group("Big").await;
    let mut members = Vec::new();
    for i in 0..101 {
        members.push(json!({"value": mock.create_user(&format!("u{i}@contoso.com")).await}));
    }
    let answer =
        mock.patch(&format!("Groups/{group}"), json!([{"op": "add", "path": "members", "value": members}])).await;
    assert_error(&answer, 400, GENERIC);
    assert_eq!(mock.state_json().await["groups"][0]["members"], json!([]));
    members.pop();
    let answer =
        mock.patch(&format!("Groups/{group}"), json!([{"op": "Add", "path": "members", "value": members}])).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(mock.state_json().await["groups"][0]["members"].as_array().unwrap().len(), 100);
}

#[tokio::test]
async fn replacing_or_removing_all_members_is_refused_with_aws_words() {
    let mock = Mock::new();
    let group = mock.create_group("G").await;
    let u = mock.create_user("u@contoso.com").await;
    for ops in [
        json!([{"op": "replace", "path": "members", "value": [{"value": u}]}]),
        json!([{"op": "remove", "path": "members"}]),
        json!([{"op": "remove", "path": "members", "value": []}]),
    ] {
        let answer = mock.patch(&format!("Groups/{group}"), ops).await;
        assert_error(&answer, 400, "Replacing group memberships is not supported.");
    }
}

#[tokio::test]
async fn remove_without_path_is_refused() {
    let mock = Mock::with_switches(json!({"errorDetail": "specific"})).await;
    let u = mock.create_user("u@contoso.com").await;
    let answer = mock.patch(&format!("Users/{u}"), json!([{"op": "remove", "value": {"title": "x"}}])).await;
    assert_error(&answer, 400, "Missing path in PATCH request");
}

#[tokio::test]
async fn pathless_patch_of_several_attributes_is_refused_with_aws_words() {
    let mock = Mock::new();
    let group = mock.create_group("G").await;
    let answer = mock
        .patch(&format!("Groups/{group}"), json!([{"op": "replace", "value": {"displayName": "A", "externalId": "B"}}]))
        .await;
    assert_error(
        &answer,
        400,
        "Current PATCH support allows omitting \"path\" attribute only for Add and Replace operations modifying a single attribute.",
    );
    // AWS's own example sends `id` beside `displayName`: that is one attribute.
    let answer = mock
        .patch(
            &format!("Groups/{group}"),
            json!([{"op": "replace", "value": {"id": group, "displayName": "Group Foo New"}}]),
        )
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(mock.scim(Method::GET, &format!("Groups/{group}"), None).await.body["displayName"], "Group Foo New");
}

#[tokio::test]
async fn patch_group_outside_display_name_members_and_external_id_is_refused() {
    let mock = Mock::new();
    let group = mock.create_group("G").await;
    let answer =
        mock.patch(&format!("Groups/{group}"), json!([{"op": "replace", "path": "description", "value": "x"}])).await;
    assert_error(&answer, 400, GENERIC);
}

#[tokio::test]
async fn unsupported_filters_are_refused() {
    let mock = Mock::with_switches(json!({"errorDetail": "specific"})).await;
    for filter in [
        "userName%20co%20%22a%22",
        "displayName%20eq%20%22a%22",
        "userName%20eq%20%22a%22%20or%20userName%20eq%20%22b%22",
    ] {
        assert_error(
            &mock.scim(Method::GET, &format!("Users?filter={filter}"), None).await,
            400,
            "Invalid Filter format",
        );
    }
}

#[tokio::test]
async fn a_member_filter_on_an_unknown_user_is_404() {
    let mock = Mock::new();
    let group = mock.create_group("G").await;
    let answer = mock
        .scim(Method::GET, &format!("Groups?filter=id%20eq%20%22{group}%22%20and%20members%20eq%20%22nobody%22"), None)
        .await;
    assert_error(&answer, 404, "When filter querying with a nonexisting member.");
    let answer = mock.scim(Method::GET, "Groups?filter=members.value%20eq%20%22nobody%22", None).await;
    assert_error(&answer, 404, "When filter querying with a nonexisting member.");
}

#[tokio::test]
async fn membership_filters_answer_what_get_group_hides() {
    let mock = Mock::new();
    let annie = mock.create_user("annie@contoso.com").await;
    let bob = mock.create_user("bob@contoso.com").await;
    let group = mock.create_group("SRE").await;
    mock.patch(&format!("Groups/{group}"), json!([{"op": "Add", "path": "members", "value": [{"value": annie}]}]))
        .await;
    let legacy = |member: &str| format!("Groups?filter=id%20eq%20%22{group}%22%20and%20members%20eq%20%22{member}%22");
    assert_eq!(mock.scim(Method::GET, &legacy(&annie), None).await.body["totalResults"], 1);
    assert_eq!(mock.scim(Method::GET, &legacy(&bob), None).await.body["totalResults"], 0);
    let groups_of_annie =
        mock.scim(Method::GET, &format!("Groups?filter=members.value%20eq%20%22{annie}%22"), None).await;
    assert_eq!(groups_of_annie.body["Resources"][0]["id"], group.as_str());
    assert_eq!(groups_of_annie.body["Resources"][0]["members"], json!([]));
    let members = mock.scim(Method::GET, &format!("Users?filter=groups.value%20eq%20%22{group}%22"), None).await;
    assert_eq!(members.body["Resources"].as_array().unwrap().len(), 1);
    assert_eq!(members.body["Resources"][0]["id"], annie.as_str());
    // Removal by `members[value eq "…"]`, as Okta-style clients send it.
    let answer = mock
        .patch(&format!("Groups/{group}"), json!([{"op": "remove", "path": format!("members[value eq \"{annie}\"]")}]))
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(mock.scim(Method::GET, &legacy(&annie), None).await.body["totalResults"], 0);
}

#[tokio::test]
async fn unknown_ids_are_404() {
    let mock = Mock::new();
    assert_error(&mock.scim(Method::GET, "Users/nope", None).await, 404, "Specified user does not exist.");
    assert_error(&mock.scim(Method::DELETE, "Users/nope", None).await, 404, "Specified user does not exist.");
    assert_error(&mock.scim(Method::GET, "Groups/nope", None).await, 404, "Specified group does not exist.");
    assert_error(
        &mock.patch("Groups/nope", json!([{"op": "add", "path": "members", "value": []}])).await,
        404,
        "Specified group does not exist.",
    );
}

#[tokio::test]
async fn a_burst_above_the_configured_rate_gets_429() {
    let mock = Mock::with_switches(json!({"rateLimitPerSecond": 3, "retryAfterSeconds": 1})).await;
    for _ in 0..3 {
        assert_eq!(mock.scim(Method::GET, "Users", None).await.status, StatusCode::OK);
    }
    let throttled = mock.scim(Method::GET, "Users", None).await;
    assert_error(&throttled, 429, "Too many requests exceeded the limits.");
    assert_eq!(throttled.headers[header::RETRY_AFTER], "1");
    mock.admin(Method::POST, "/_admin/clock/advance", Some(json!({"by": "PT1S"}))).await;
    assert_eq!(mock.scim(Method::GET, "Users", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn success_codes_are_201_200_and_204_as_aws_answers() {
    let mock = Mock::new();
    let id = mock.create_user("u@contoso.com").await;
    assert_eq!(mock.scim(Method::GET, &format!("Users/{id}"), None).await.status, StatusCode::OK);
    let put = mock.scim(Method::PUT, &format!("Users/{id}"), Some(user("u@contoso.com"))).await;
    assert_eq!(put.status, StatusCode::OK);
    let patched =
        mock.patch(&format!("Users/{id}"), json!([{"op": "Replace", "path": "active", "value": "False"}])).await;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(patched.body["active"], false, "PATCH user answers the full user");
    assert_eq!(patched.body["userName"], "u@contoso.com");
    let group = mock.create_group("G").await;
    assert_eq!(
        mock.patch(&format!("Groups/{group}"), json!([{"op": "add", "path": "members", "value": [{"value": id}]}]))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let deleted = mock.scim(Method::DELETE, &format!("Groups/{group}"), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(deleted.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(mock.scim(Method::DELETE, &format!("Users/{id}"), None).await.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_json_content_type() {
    let mock = Mock::new();
    for answer in [mock.scim(Method::GET, "Users", None).await, mock.scim(Method::GET, "Users/nope", None).await] {
        assert!(answer.headers.contains_key("x-amzn-requestid"));
        assert_eq!(answer.headers[header::CONTENT_TYPE], "application/json");
    }
    let error = mock.scim(Method::GET, "Users/nope", None).await;
    assert_eq!(error.headers["x-amzn-requestid"].to_str().unwrap(), error.body["exceptionRequestId"]);
}

#[tokio::test]
async fn patch_user_handles_what_entra_sends() {
    let mock = Mock::new();
    let id = mock.create_user("u@contoso.com").await;
    let answer = mock
        .patch(&format!("Users/{id}"), json!([
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@contoso.com"},
                {"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Paris"},
                {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "SRE"},
                {"op": "Replace", "path": "name.givenName", "value": "Annie"},
                {"op": "Replace", "path": "active", "value": "False"}
            ]))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["emails"], json!([{"value": "new@contoso.com", "type": "work", "primary": true}]));
    assert_eq!(answer.body["addresses"], json!([{"locality": "Paris", "type": "work"}]));
    assert_eq!(answer.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"], "SRE");
    assert_eq!(answer.body["name"]["givenName"], "Annie");
    assert_eq!(answer.body["active"], false);
}

#[tokio::test]
async fn patch_user_rules_refuse_remove_of_user_name_and_repeated_active() {
    let mock = Mock::new();
    let id = mock.create_user("u@contoso.com").await;
    for ops in [
        json!([{"op": "remove", "path": "userName"}]),
        json!([{"op": "replace", "path": "active", "value": true}, {"op": "replace", "path": "active", "value": false}]),
        json!([{"op": "add", "path": "emails", "value": [{"value": "second@x", "type": "home"}]}]),
    ] {
        assert_error(&mock.patch(&format!("Users/{id}"), ops).await, 400, GENERIC);
    }
    let renamed = mock.create_user("taken@contoso.com").await;
    let answer = mock
        .patch(&format!("Users/{renamed}"), json!([{"op": "replace", "path": "userName", "value": "U@contoso.com"}]))
        .await;
    assert_error(&answer, 409, DUPLICATE);
}

#[tokio::test]
async fn group_put_is_refused_by_default_and_accepted_by_switch() {
    let mock = Mock::new();
    let group = mock.create_group("G").await;
    assert_error(
        &mock.scim(Method::PUT, &format!("Groups/{group}"), Some(json!({"displayName": "H"}))).await,
        400,
        GENERIC,
    );
    mock.admin(Method::PATCH, "/_admin/switches", Some(json!({"groupPut": "accept"}))).await;
    let answer = mock.scim(Method::PUT, &format!("Groups/{group}"), Some(json!({"displayName": "H"}))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["displayName"], "H");
}

#[tokio::test]
async fn me_bulk_and_search_are_not_served() {
    let mock = Mock::new();
    for path in ["Me", "Bulk", ".search", "Users/.search"] {
        let answer = mock.scim(Method::POST, path, Some(json!({}))).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_envelope(&answer.body, 404);
    }
    assert_eq!(mock.scim(Method::GET, "Me", None).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn default_active_is_false_when_omitted_and_switchable() {
    let mut body = user("a@contoso.com");
    body.as_object_mut().unwrap().remove("active");
    let mock = Mock::new();
    assert_eq!(mock.scim(Method::POST, "Users", Some(body.clone())).await.body["active"], false);
    let mock = Mock::with_switches(json!({"defaultActive": true})).await;
    assert_eq!(mock.scim(Method::POST, "Users", Some(body)).await.body["active"], true);
}

#[tokio::test]
async fn discovery_endpoints_answer() {
    let mock = Mock::new();
    let config = mock.scim(Method::GET, "ServiceProviderConfig", None).await;
    assert_eq!(config.body["patch"]["supported"], true);
    assert_eq!(config.body["bulk"]["supported"], false);
    let types = mock.scim(Method::GET, "ResourceTypes", None).await;
    assert_eq!(types.body["Resources"].as_array().unwrap().len(), 2);
    let schemas = mock.scim(Method::GET, "Schemas", None).await;
    assert_eq!(schemas.body["Resources"].as_array().unwrap().len(), 3);
    let user_schema = mock.scim(Method::GET, "Schemas/urn:ietf:params:scim:schemas:core:2.0:User", None).await;
    assert_eq!(user_schema.body["attributes"][0]["name"], "userName");
    assert_eq!(user_schema.body["attributes"][0]["uniqueness"], "server");
    assert_eq!(mock.scim(Method::GET, "Schemas/urn:nope", None).await.status, StatusCode::NOT_FOUND);
}
