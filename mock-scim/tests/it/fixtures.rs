//! Responses compared with real AWS bodies in `shared/fixtures/aws-scim-captured/`: same keys in
//! the same order, same value types; ids and timestamps aside.

use axum::http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::support::*;

fn fixture(name: &str) -> Value {
    let path = format!("{}/../../shared/fixtures/aws-scim-captured/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"));
    serde_json::from_str(&text).unwrap()
}

/// Keys in order and value types, recursively; arrays by their first element.
fn shape(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect::<Map<_, _>>()),
        Value::Array(items) => Value::Array(items.first().map(shape).into_iter().collect()),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => json!("null"),
    }
}

/// The client-controlled part of a captured resource: what a client would have sent.
fn request_from(resource: &Value) -> Value {
    let mut body = resource.clone();
    let object = body.as_object_mut().unwrap();
    for key in ["id", "meta", "schemas", "members"] {
        object.remove(key);
    }
    body
}

#[tokio::test]
async fn a_created_user_has_the_captured_shape() {
    let mock = Mock::new();
    let captured = fixture("CreateUserResponse_Active.json");
    let manager = mock.create_user("manager@contoso.com").await;
    let mut body = request_from(&captured);
    body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"]["value"] = json!(manager);
    let answer = mock.scim(Method::POST, "Users", Some(body)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    assert_eq!(shape(&answer.body), shape(&captured));
    let fetched = mock.scim(Method::GET, &format!("Users/{}", answer.body["id"].as_str().unwrap()), None).await;
    assert_eq!(fetched.body, answer.body);
}

#[tokio::test]
async fn a_duplicate_user_name_gets_the_captured_409_key_for_key() {
    let mock = Mock::new();
    mock.create_user("bjensen").await;
    let answer = mock.scim(Method::POST, "Users", Some(user("bjensen"))).await;
    let captured = fixture("CreateUserResponse_Conflict.json");
    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert_eq!(shape(&answer.body), shape(&captured));
    assert_eq!(answer.body["detail"], captured["detail"]);
    assert_eq!(answer.body["status"], captured["status"]);
    assert_eq!(answer.body["schema"], captured["schema"]);
    assert_eq!(answer.body["schemas"], captured["schemas"]);
    let group = mock.create_group("Group Bar").await;
    assert!(!group.is_empty());
    let answer = mock.scim(Method::POST, "Groups", Some(json!({"displayName": "Group Bar"}))).await;
    assert_eq!(shape(&answer.body), shape(&fixture("CreateGroupResponse_Conflict.json")));
}

#[tokio::test]
async fn a_created_group_has_the_captured_shape_without_members() {
    let mock = Mock::new();
    let answer = mock.scim(Method::POST, "Groups", Some(json!({"displayName": "Group Bar"}))).await;
    assert_eq!(shape(&answer.body), shape(&fixture("CreateGroupResponse.json")));
}

#[tokio::test]
async fn legacy_lists_have_the_captured_shape() {
    let mock = Mock::with_switches(json!({"listApi": "legacy"})).await;
    let captured = fixture("ListUserResponse.json");
    mock.scim(Method::POST, "Users", Some(request_from(&captured["Resources"][0]))).await;
    let answer = mock.scim(Method::GET, "Users?filter=userName%20eq%20%22mjack%22", None).await;
    assert_eq!(shape(&answer.body), shape(&captured));
    let captured = fixture("ListGroupsResponse.json");
    mock.scim(Method::POST, "Groups", Some(request_from(&captured["Resources"][0]))).await;
    let answer = mock.scim(Method::GET, "Groups", None).await;
    assert_eq!(shape(&answer.body), shape(&captured));
    assert_eq!(answer.body["Resources"][0]["members"], json!([]));
}

#[tokio::test]
async fn cursor_pages_have_the_captured_shape() {
    let mock = Mock::new();
    let first = fixture("ListGroupsResponse_CursorPage1.json");
    let second = fixture("ListGroupsResponse_CursorPage2.json");
    for resource in first["Resources"].as_array().unwrap().iter().chain(second["Resources"].as_array().unwrap()) {
        assert_eq!(mock.scim(Method::POST, "Groups", Some(request_from(resource))).await.status, StatusCode::CREATED);
    }
    let page1 = mock.scim(Method::GET, "Groups?cursor&count=2", None).await;
    assert_eq!(shape(&page1.body), shape(&first));
    let cursor = page1.body["nextCursor"].as_str().unwrap();
    let page2 = mock.scim(Method::GET, &format!("Groups?cursor={cursor}&count=2"), None).await;
    assert_eq!(shape(&page2.body), shape(&second));
    assert_eq!(page2.body["Resources"][0]["displayName"], "Group Page 2");
}

#[tokio::test]
async fn service_provider_config_is_the_captured_body_under_the_legacy_list_api() {
    let mock = Mock::with_switches(json!({"listApi": "legacy"})).await;
    let answer = mock.scim(Method::GET, "ServiceProviderConfig", None).await;
    assert_eq!(answer.body, fixture("ServiceProviderConfig.json"));
}
