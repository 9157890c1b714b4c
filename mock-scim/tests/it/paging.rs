//! Both of AWS's paging modes (aws-scim.md §4.2).

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::*;

async fn seed(mock: &Mock, n: usize) {
    let mut world = mock.state.world();
    let now = world.core.now();
    let switches = world.switches.clone();
    let ids: Vec<String> = (0..n).map(|_| world.uuid()).collect();
    let tenant = world.tenants.get_mut(&mock.tenant).unwrap();
    for (i, id) in ids.into_iter().enumerate() {
        let input = serde_json::from_value(user(&format!("user{i}@contoso.com"))).unwrap();
        tenant.create_user(id, now, input, &switches).unwrap();
    }
}

#[tokio::test]
async fn legacy_lists_stop_at_50_and_total_results_says_50() {
    let mock = Mock::with_switches(json!({"listApi": "legacy"})).await;
    seed(&mock, 69).await;
    let answer = mock.scim(Method::GET, "Users?startIndex=51&count=100", None).await;
    assert_eq!(answer.body["totalResults"], 50, "as idp-scim-sync#45 saw with 69 users");
    assert_eq!(answer.body["Resources"].as_array().unwrap().len(), 50);
    assert!(answer.body.get("nextCursor").is_none());
}

#[tokio::test]
async fn cursor_paging_walks_every_user_once() {
    let mock = Mock::new();
    seed(&mock, 250).await;
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let answer = mock.scim(Method::GET, &format!("Users?cursor={cursor}&excludedAttributes=members"), None).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert!(answer.body.get("totalResults").is_none());
        let page = answer.body["Resources"].as_array().unwrap();
        assert!(page.len() <= 100);
        assert_eq!(answer.body["itemsPerPage"], page.len());
        seen.extend(page.iter().map(|u| u["userName"].as_str().unwrap().to_owned()));
        match answer.body["nextCursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 250);
}

#[tokio::test]
async fn changing_the_filter_between_pages_is_refused() {
    let mock = Mock::new();
    let group = mock.create_group("G").await;
    let mut members = Vec::new();
    for i in 0..3 {
        members.push(json!({"value": mock.create_user(&format!("m{i}@contoso.com")).await}));
    }
    mock.patch(&format!("Groups/{group}"), json!([{"op": "add", "path": "members", "value": members}])).await;
    let filter = format!("groups.value%20eq%20%22{group}%22");
    let first = mock.scim(Method::GET, &format!("Users?cursor&count=2&filter={filter}"), None).await;
    assert_eq!(first.body["Resources"].as_array().unwrap().len(), 2);
    let cursor = first.body["nextCursor"].as_str().unwrap().to_owned();
    let same = mock.scim(Method::GET, &format!("Users?cursor={cursor}&count=2&filter={filter}"), None).await;
    assert_eq!(same.body["Resources"].as_array().unwrap().len(), 1);
    assert!(same.body.get("nextCursor").is_none());
    let changed = mock.scim(Method::GET, &format!("Users?cursor={cursor}&count=2"), None).await;
    assert_error(&changed, 400, GENERIC);
}
