//! OData query options (microsoft-graph.md §3).

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

const ADVANCED: &[(&str, &str)] = &[("ConsistencyLevel", "eventual")];

async fn seeded(n: usize) -> Mock {
    let mock = Mock::new();
    let users: Vec<_> = (0..n)
        .map(|i| json!({"userPrincipalName": format!("user{i:03}@contoso.onmicrosoft.com"), "displayName": format!("User {i:03}"), "mail": format!("user{i:03}@outlook.com")}))
        .collect();
    assert_eq!(mock.admin(Method::POST, "/_admin/seed", Some(json!({"users": users}))).await.status, StatusCode::OK);
    mock
}

#[tokio::test]
async fn pages_follow_absolute_next_links_with_every_other_parameter() {
    let mock = seeded(250).await;
    let mut next = Some("/v1.0/users?%24top=100&$select=displayName,id".to_owned());
    let mut seen = Vec::new();
    while let Some(path) = next {
        let page = mock.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert_eq!(page.body["@odata.context"], "http://127.0.0.1:9200/v1.0/$metadata#users(displayName,id)");
        seen.extend(page.body["value"].as_array().unwrap().iter().map(|u| u["id"].clone()));
        next = page.body["@odata.nextLink"].as_str().map(|link| {
            assert!(link.starts_with("http://127.0.0.1:9200/v1.0/users?"), "{link}");
            assert!(link.contains("$select=displayName,id") && link.contains("$skiptoken="), "{link}");
            link.trim_start_matches("http://127.0.0.1:9200").to_owned()
        });
    }
    assert_eq!(seen.len(), 250);
    let default_page = mock.get("/v1.0/users").await;
    assert_eq!(default_page.body["value"].as_array().unwrap().len(), 100, "default page size");
}

#[tokio::test]
async fn top_above_999_is_refused() {
    let mock = Mock::new();
    let answer = mock.get("/v1.0/users?$top=1000").await;
    assert_error(&answer, 400, "Request_UnsupportedQuery");
    assert_eq!(
        answer.body["error"]["message"],
        "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive."
    );
}

#[tokio::test]
async fn default_filters_work_and_advanced_ones_need_the_header_and_count() {
    let mock = seeded(30).await;
    let eq = mock.get("/v1.0/users?$filter=userPrincipalName%20eq%20'user007@contoso.onmicrosoft.com'").await;
    assert_eq!(eq.body["value"].as_array().unwrap().len(), 1);
    let starts = mock.get("/v1.0/users?$filter=startsWith(displayName,'User%2001')").await;
    assert_eq!(starts.body["value"].as_array().unwrap().len(), 10);
    let ends = "/v1.0/users?$filter=endsWith(mail,'7@outlook.com')";
    let refused = mock.get(ends).await;
    assert_error(&refused, 400, "Request_UnsupportedQuery");
    assert_eq!(refused.body["error"]["message"], "Unsupported Query.");
    let with_header_only = mock.call_with(Method::GET, ends, None, ADVANCED).await;
    assert_error(&with_header_only, 400, "Request_UnsupportedQuery");
    let advanced = mock.call_with(Method::GET, &format!("{ends}&$count=true"), None, ADVANCED).await;
    assert_eq!(advanced.status, StatusCode::OK, "{}", advanced.text);
    assert_eq!(advanced.body["@odata.count"], 3);
    let ignored = mock.get("/v1.0/users?$count=true").await;
    assert!(ignored.body.get("@odata.count").is_none(), "$count=true without the header is silently ignored");
    let syntax = mock.get("/v1.0/users?$filter=displayName%20eq").await;
    assert_error(&syntax, 400, "BadRequest");
    assert_eq!(syntax.body["error"]["message"], "Invalid filter clause");
    let unquoted_bool = mock.get("/v1.0/users?$filter=accountEnabled%20eq%20'true'").await;
    assert_eq!(unquoted_bool.status, StatusCode::OK, "a quoted boolean matches nothing");
    let contains = mock.get("/v1.0/users?$filter=contains(displayName,'1')").await;
    assert_error(&contains, 400, "Request_UnsupportedQuery");
}

#[tokio::test]
async fn count_as_a_segment_is_plain_text_with_the_header_only() {
    let mock = seeded(12).await;
    let refused = mock.get("/v1.0/users/$count").await;
    assert_error(&refused, 400, "Request_BadRequest");
    assert_eq!(refused.body["error"]["message"], "$count is not currently supported.");
    let count = mock.call_with(Method::GET, "/v1.0/users/$count", None, ADVANCED).await;
    assert_eq!(count.text, "12");
    assert_eq!(count.headers["content-type"], "text/plain");
}

#[tokio::test]
async fn orderby_sorts_and_search_needs_the_header() {
    let mock = seeded(5).await;
    let sorted = mock.get("/v1.0/users?$orderby=displayName%20desc").await;
    let names: Vec<_> = sorted.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["displayName"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["User 004", "User 003", "User 002", "User 001", "User 000"]);
    let with_filter = mock.get("/v1.0/users?$orderby=displayName&$filter=startsWith(displayName,'User')").await;
    assert_error(&with_filter, 400, "Request_UnsupportedQuery");
    let search = "/v1.0/users?$search=%22displayName:003%22";
    assert_error(&mock.get(search).await, 400, "Request_UnsupportedQuery");
    let found = mock.call_with(Method::GET, search, None, ADVANCED).await;
    assert_eq!(found.body["value"].as_array().unwrap().len(), 1, "{}", found.text);
}

#[tokio::test]
async fn expand_members_is_capped_without_a_next_link() {
    let mock = seeded(30).await;
    let members: Vec<String> = (0..25).map(|i| format!("user{i:03}@contoso.onmicrosoft.com")).collect();
    mock.admin(Method::POST, "/_admin/seed", Some(json!({"groups": [{"displayName": "Big", "members": members}]})))
        .await;
    let groups = mock.get("/v1.0/groups?$expand=members").await;
    let expanded = groups.body["value"][0]["members"].as_array().unwrap();
    assert_eq!(expanded.len(), 20);
    assert_eq!(expanded[0]["@odata.type"], "#microsoft.graph.user");
    let id = groups.body["value"][0]["id"].as_str().unwrap();
    let one = mock.get(&format!("/v1.0/groups/{id}?$expand=members")).await;
    assert_eq!(one.body["members"].as_array().unwrap().len(), 20);
    let page = mock.get(&format!("/v1.0/groups/{id}/members")).await;
    assert_eq!(page.body["value"].as_array().unwrap().len(), 25);
    assert_error(&mock.get("/v1.0/groups?$expand=owners").await, 400, "ExpandNotSupported");
    mock.admin(Method::PATCH, "/_admin/switches", Some(json!({"expandCap": 100}))).await;
    let wider = mock.get(&format!("/v1.0/groups/{id}?$expand=members")).await;
    assert_eq!(wider.body["members"].as_array().unwrap().len(), 25);
}

#[tokio::test]
async fn a_skiptoken_from_another_query_is_refused() {
    let mock = seeded(150).await;
    let first = mock.get("/v1.0/users?$top=100").await;
    let link = first.body["@odata.nextLink"].as_str().unwrap();
    let token = link.split("$skiptoken=").nth(1).unwrap();
    let other = mock.get(&format!("/v1.0/users?$filter=startsWith(displayName,'User')&$skiptoken={token}")).await;
    assert_error(&other, 400, "Directory_ExpiredPageToken");
    let value: Value = mock.get(&format!("/v1.0/users?$top=100&$skiptoken={token}")).await.body;
    assert_eq!(value["value"].as_array().unwrap().len(), 50);
}
