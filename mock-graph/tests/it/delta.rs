//! Delta queries (microsoft-graph.md §4).

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

/// Follows nextLinks to the deltaLink; returns every object and the deltaLink's path.
async fn round(mock: &Mock, start: &str) -> (Vec<Value>, String) {
    let mut path = start.to_owned();
    let mut all = Vec::new();
    loop {
        let page = mock.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        all.extend(page.body["value"].as_array().unwrap().iter().cloned());
        let strip = |link: &str| link.trim_start_matches("http://127.0.0.1:9200").to_owned();
        if let Some(next) = page.body["@odata.nextLink"].as_str() {
            assert!(next.contains("$skiptoken="));
            path = strip(next);
        } else {
            let delta = page.body["@odata.deltaLink"].as_str().expect("the last page carries a deltaLink");
            assert!(delta.contains("$deltatoken="));
            return (all, strip(delta));
        }
    }
}

#[tokio::test]
async fn users_delta_returns_everything_then_only_changes() {
    let mock = Mock::new();
    let users: Vec<_> =
        (0..230).map(|i| json!({"userPrincipalName": format!("u{i}@contoso.onmicrosoft.com")})).collect();
    mock.admin(Method::POST, "/_admin/seed", Some(json!({"users": users}))).await;
    let (all, link) = round(&mock, "/v1.0/users/delta").await;
    assert_eq!(all.len(), 230);
    let (none, link) = round(&mock, &link).await;
    assert!(none.is_empty(), "no changes, no objects");
    let id = all[5]["id"].as_str().unwrap().to_owned();
    mock.call(Method::PATCH, &format!("/v1.0/users/{id}"), Some(json!({"jobTitle": "SRE"}))).await;
    let gone = all[6]["id"].as_str().unwrap().to_owned();
    mock.call(Method::DELETE, &format!("/v1.0/users/{gone}"), None).await;
    let fresh = mock.create_user("new@contoso.onmicrosoft.com").await;
    let (changes, _) = round(&mock, &link).await;
    let ids: Vec<_> = changes.iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, [id, gone, fresh]);
    assert_eq!(changes[0]["jobTitle"], "SRE");
    assert_eq!(changes[1]["@removed"], json!({"reason": "changed"}));
}

#[tokio::test]
async fn groups_delta_reports_membership_changes_as_members_delta() {
    let mock = Mock::new();
    let annie = mock.create_user("annie@contoso.onmicrosoft.com").await;
    let bob = mock.create_user("bob@contoso.onmicrosoft.com").await;
    let sre = mock.create_group("SRE").await;
    let empty = mock.create_group("Empty").await;
    mock.add_member(&sre, &annie).await;
    let (groups, link) = round(&mock, "/v1.0/groups/microsoft.graph.delta").await;
    assert_eq!(groups.len(), 2);
    assert!(
        groups.iter().find(|g| g["id"] == empty.as_str()).unwrap().get("members@delta").is_none(),
        "no members, no members@delta"
    );
    mock.call(Method::DELETE, &format!("/v1.0/groups/{sre}/members/{annie}/$ref"), None).await;
    mock.add_member(&sre, &bob).await;
    let (changes, _) = round(&mock, &link).await;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["displayName"], "SRE", "a changed group repeats its properties");
    let mut expected = vec![
        json!({"@odata.type": "#microsoft.graph.user", "id": annie, "@removed": {"reason": "deleted"}}),
        json!({"@odata.type": "#microsoft.graph.user", "id": bob}),
    ];
    expected.sort_by_key(|m| m["id"].as_str().unwrap().to_owned());
    assert_eq!(changes[0]["members@delta"], Value::Array(expected));
}

#[tokio::test]
async fn latest_gives_only_a_delta_link_and_select_narrows_the_properties() {
    let mock = Mock::new();
    mock.create_user("annie@contoso.onmicrosoft.com").await;
    let latest = mock.get("/v1.0/users/delta?$deltatoken=latest").await;
    assert_eq!(latest.body["value"], json!([]));
    let link = latest.body["@odata.deltaLink"].as_str().unwrap().trim_start_matches("http://127.0.0.1:9200").to_owned();
    assert!(round(&mock, &link).await.0.is_empty());
    let selected = mock.get("/v1.0/users/delta?$select=displayName").await;
    assert_eq!(selected.body["@odata.context"], "http://127.0.0.1:9200/v1.0/$metadata#users(displayName)");
    let keys: Vec<_> = selected.body["value"][0].as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["displayName", "id"], "id is always returned");
    assert_error(&mock.get("/v1.0/users/delta?$top=5").await, 400, "Request_UnsupportedQuery");
}

#[tokio::test]
async fn an_expired_or_reset_token_answers_410_with_a_location() {
    let mock = Mock::new();
    let (_, link) = round(&mock, "/v1.0/users/delta").await;
    mock.admin(Method::POST, "/_admin/delta/reset", None).await;
    let reset = mock.get(&link).await;
    assert_error(&reset, 410, "resyncRequired");
    assert_eq!(reset.headers["location"], "http://127.0.0.1:9200/v1.0/users/delta?$deltatoken=");
    let (_, link) = round(&mock, "/v1.0/users/delta?$deltatoken=").await;
    mock.admin(Method::POST, "/_admin/clock/advance", Some(json!({"by": "P8D"}))).await;
    // The bearer expired too: take a new one, as a client would.
    let mock = Mock { token: mock.state.world().issue_token(), state: mock.state.clone() };
    assert_error(&mock.get(&link).await, 410, "resyncRequired");
}
