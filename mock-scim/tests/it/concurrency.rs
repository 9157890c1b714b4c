//! Concurrent requests over real loopback HTTP.

use mock_scim::MockScim;

use crate::support::user;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_creates_of_one_user_name_give_one_201_and_49_409s() {
    let mock = MockScim::start().await;
    let client = reqwest::Client::new();
    let url = format!("{}Users", mock.scim_endpoint());
    let requests = (0..50).map(|_| {
        let request = client.post(&url).bearer_auth(mock.token()).json(&user("race@contoso.com"));
        async move { request.send().await.unwrap().status().as_u16() }
    });
    let mut statuses = futures::future::join_all(requests).await;
    statuses.sort();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 49, "{statuses:?}");
    let listed: serde_json::Value =
        client.get(&url).bearer_auth(mock.token()).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["totalResults"], 1, "{listed}");
}
