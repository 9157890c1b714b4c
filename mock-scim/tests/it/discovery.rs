//! The discovery documents say what the mock enforces: `/Schemas` marks required exactly what a
//! create is refused without, and every `/ResourceTypes` entry answers at its own `meta.location`.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

const USER_SCHEMA: &str = "Schemas/urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "Schemas/urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE_SCHEMA: &str = "Schemas/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

async fn schema(mock: &Mock, path: &str) -> Value {
    let answer = mock.scim(Method::GET, path, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body
}

/// `(path, attribute)` for every attribute and sub-attribute, sub-attributes as `parent.child`.
fn attributes(schema: &Value) -> Vec<(String, Value)> {
    let mut found = Vec::new();
    for attribute in schema["attributes"].as_array().unwrap() {
        let name = attribute["name"].as_str().unwrap();
        found.push((name.to_owned(), attribute.clone()));
        for sub in attribute["subAttributes"].as_array().into_iter().flatten() {
            found.push((format!("{name}.{}", sub["name"].as_str().unwrap()), sub.clone()));
        }
    }
    found
}

fn required(schema: &Value) -> Vec<String> {
    attributes(schema).into_iter().filter(|(_, a)| a["required"] == true).map(|(path, _)| path).collect()
}

fn attribute(schema: &Value, path: &str) -> Value {
    attributes(schema).into_iter().find(|(p, _)| p == path).unwrap_or_else(|| panic!("no {path} in {schema}")).1
}

/// Removes `path` (`a` or `a.b`, the latter in every element of a list) from a body.
fn without(body: &Value, path: &str) -> Value {
    let mut body = body.clone();
    match path.split_once('.') {
        None => {
            body.as_object_mut().unwrap().remove(path);
        }
        Some((parent, child)) => match &mut body[parent] {
            Value::Array(items) => items.iter_mut().for_each(|item| {
                item.as_object_mut().unwrap().remove(child);
            }),
            Value::Object(object) => {
                object.remove(child);
            }
            other => panic!("{parent} is {other}"),
        },
    }
    body
}

#[tokio::test]
async fn the_user_schema_marks_required_what_aws_requires_and_nothing_else_at_the_top() {
    let mock = Mock::new();
    let user = schema(&mock, USER_SCHEMA).await;
    let top: Vec<_> = required(&user).into_iter().filter(|p| !p.contains('.') || p.starts_with("name.")).collect();
    assert_eq!(top, ["userName", "name", "name.familyName", "name.givenName", "displayName"]);
}

#[tokio::test]
async fn a_user_with_only_the_required_attributes_is_created_and_each_one_missing_is_refused() {
    let mock = Mock::new();
    let minimal = json!({
        "userName": "minimal@contoso.com",
        "displayName": "Minimal",
        "name": {"givenName": "Min", "familyName": "Imal"}
    });
    for path in
        required(&schema(&mock, USER_SCHEMA).await).iter().filter(|p| !p.contains('.') || p.starts_with("name."))
    {
        let answer = mock.scim(Method::POST, "Users", Some(without(&minimal, path))).await;
        assert_error(&answer, 400, GENERIC);
    }
    let answer = mock.scim(Method::POST, "Users", Some(minimal)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
}

#[tokio::test]
async fn a_required_sub_attribute_missing_from_an_entry_is_refused() {
    let mock = Mock::new();
    let manager = mock.create_user("manager@contoso.com").await;
    let user_schema = schema(&mock, USER_SCHEMA).await;
    let enterprise_schema = schema(&mock, ENTERPRISE_SCHEMA).await;
    assert_eq!(
        required(&user_schema).into_iter().filter(|p| p.contains('.') && !p.starts_with("name.")).collect::<Vec<_>>(),
        ["emails.value", "emails.primary", "phoneNumbers.value"]
    );
    assert_eq!(required(&enterprise_schema), ["manager.value"]);

    let mut full = user("full@contoso.com");
    full["phoneNumbers"] = json!([{"value": "+1 555 0100", "type": "work"}]);
    full["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"] = json!({"value": manager});
    for path in ["emails.value", "emails.primary", "phoneNumbers.value"] {
        let answer = mock.scim(Method::POST, "Users", Some(without(&full, path))).await;
        assert_error(&answer, 400, GENERIC);
    }
    let mut managerless = full.clone();
    managerless["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"] = json!({});
    assert_error(&mock.scim(Method::POST, "Users", Some(managerless)).await, 400, GENERIC);
    let answer = mock.scim(Method::POST, "Users", Some(full)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
}

#[tokio::test]
async fn the_group_schema_requires_display_name_and_a_member_value() {
    let mock = Mock::new();
    let group = schema(&mock, GROUP_SCHEMA).await;
    assert_eq!(required(&group), ["displayName", "members.value"]);
    let annie = mock.create_user("annie@contoso.com").await;
    assert_error(&mock.scim(Method::POST, "Groups", Some(json!({"externalId": "x"}))).await, 400, GENERIC);
    let memberless = json!({"displayName": "SRE", "members": [{"type": "User"}]});
    assert_eq!(mock.scim(Method::POST, "Groups", Some(memberless)).await.status, StatusCode::BAD_REQUEST);
    let answer =
        mock.scim(Method::POST, "Groups", Some(json!({"displayName": "SRE", "members": [{"value": annie}]}))).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
}

#[tokio::test]
async fn group_members_sub_attributes_are_typed_as_rfc_7643_without_display() {
    let mock = Mock::new();
    let group = schema(&mock, GROUP_SCHEMA).await;
    let members = attribute(&group, "members");
    assert_eq!(members["type"], "complex");
    assert_eq!(members["multiValued"], true);
    let names: Vec<_> = members["subAttributes"].as_array().unwrap().iter().map(|s| s["name"].clone()).collect();
    assert_eq!(names, ["value", "$ref", "type"]);
    let value = attribute(&group, "members.value");
    assert_eq!((&value["type"], &value["mutability"]), (&json!("string"), &json!("immutable")));
    let reference = attribute(&group, "members.$ref");
    assert_eq!(reference["type"], "reference");
    assert_eq!(reference["referenceTypes"], json!(["User", "Group"]));
    assert_eq!(reference["mutability"], "immutable");
    let kind = attribute(&group, "members.type");
    assert_eq!(kind["type"], "string");
    assert_eq!(kind["canonicalValues"], json!(["User", "Group"]));
    assert_eq!(attribute(&group, "displayName")["uniqueness"], "server");
}

#[tokio::test]
async fn every_listed_resource_type_answers_at_its_own_meta_location() {
    let mock = Mock::new();
    let list = mock.scim(Method::GET, "ResourceTypes", None).await;
    let resources = list.body["Resources"].as_array().unwrap();
    assert_eq!(resources.len(), 2);
    for resource in resources {
        let id = resource["id"].as_str().unwrap();
        let location = resource["meta"]["location"].as_str().unwrap();
        assert!(location.ends_with(&format!("/{}/scim/v2/ResourceTypes/{id}", mock.tenant)), "{location}");
        let single = mock.scim(Method::GET, &format!("ResourceTypes/{id}"), None).await;
        assert_eq!(single.status, StatusCode::OK, "{}", single.body);
        assert_eq!(&single.body, resource);
        assert_eq!(single.headers["content-type"], "application/json");
    }
}

#[tokio::test]
async fn an_unknown_resource_type_gets_the_scim_404_envelope() {
    let mock = Mock::new();
    for name in ["Agent", "user", "urn:ietf:params:scim:schemas:core:2.0:User"] {
        let answer = mock.scim(Method::GET, &format!("ResourceTypes/{name}"), None).await;
        assert_error(&answer, 404, "Specified user or endpoint does not exist.");
    }
    let unknown_schema = mock.scim(Method::GET, "Schemas/urn:nope", None).await;
    assert_error(&unknown_schema, 404, "Specified user or endpoint does not exist.");
}
