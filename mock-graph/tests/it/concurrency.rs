//! Exports at once (switch `exportConcurrency`): the same cycles one request at a time and eight
//! objects at a time leave the same AWS state, the same provisioning-log bytes and the same job,
//! ids included (both mocks seeded alike); only the order AWS received the requests in differs.

use serde_json::{Value, json};

use crate::provisioning::World;

const USERS: usize = 200;
const GROUPS: usize = 20;
const DOMAIN: &str = "contoso.onmicrosoft.com";

fn upn(i: usize) -> String {
    format!("user{i:03}@{DOMAIN}")
}

/// What a run leaves, to be compared.
struct Run {
    aws: Value,
    logs: String,
    job: Value,
    /// AWS's journal in arrival order, `seq` left out.
    journal: Vec<String>,
}

/// AWS's state with users, groups and members in id order: AWS lists them in creation order, which
/// concurrent creates change.
fn canonical(mut state: Value) -> Value {
    for kind in ["users", "groups"] {
        if let Some(list) = state[kind].as_array_mut() {
            list.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
            for object in list.iter_mut() {
                if let Some(members) = object["members"].as_array_mut() {
                    members.sort_by_key(Value::to_string);
                }
            }
        }
    }
    state
}

/// 200 users in 20 assigned groups of 30 (overlapping), ten of them with a manager, plus what makes
/// exports depend on each other: two users with one externalId (AWS refuses the second), two groups
/// whose names differ only in case (the duplicate-name rule refuses the second). Then an initial
/// cycle, a few edits and an incremental cycle, at `concurrency`.
async fn run(concurrency: u64) -> Run {
    let w = World::new().await;
    let (sp, job) = w.aws_app().await;
    w.graph_switches(json!({"exportConcurrency": concurrency})).await;
    // Groups are created slowly, so that at 8 at a time their requests overlap for certain.
    let faults =
        json!({"rules": [{"method": "POST", "path": "/*/scim/v2/Groups", "action": {"kind": "latency", "ms": 30}}]});
    let answer = w
        .http
        .put(format!("{}/_admin/faults", w.scim.uri()))
        .bearer_auth(w.scim.admin_token())
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);

    let mut users: Vec<Value> = (0..USERS)
        .map(|i| json!({"userPrincipalName": upn(i), "givenName": format!("Given{i}"), "surname": format!("Sur{i}"), "mail": upn(i)}))
        .collect();
    for (name, nickname) in [("twin.a", "twin"), ("twin.b", "twin")] {
        users.push(json!({"userPrincipalName": format!("{name}@{DOMAIN}"), "givenName": name, "surname": "Twin", "mail": format!("{name}@{DOMAIN}"), "mailNickname": nickname}));
    }
    let mut groups: Vec<Value> = (0..GROUPS)
        .map(|g| {
            let members: Vec<String> = (0..30).map(|j| upn((g * 10 + j) % USERS)).collect();
            json!({"displayName": format!("Team {g:02}"), "members": members})
        })
        .collect();
    groups.push(
        json!({"displayName": "team 03", "members": [upn(1), format!("twin.a@{DOMAIN}"), format!("twin.b@{DOMAIN}")]}),
    );
    // By name, "team 03" would be found as "Team 03": it is assigned by id below.
    let mut assignments: Vec<Value> = groups[..GROUPS]
        .iter()
        .map(|g| json!({"principal": g["displayName"], "application": "AWS IAM Identity Center"}))
        .collect();
    assignments.push(json!({"principal": upn(199), "application": "AWS IAM Identity Center"}));
    let seeded = w
        .http
        .post(format!("{}/_admin/seed", w.graph.uri()))
        .bearer_auth(w.graph.admin_token())
        .json(&json!({"users": users, "groups": groups, "assignments": assignments}))
        .send()
        .await
        .unwrap();
    assert_eq!(seeded.status(), 200, "{}", seeded.text().await.unwrap());
    let ids: Value = seeded.json().await.unwrap();
    let id = |i: usize| ids["users"][upn(i)].as_str().unwrap().to_owned();
    w.assign(&sp, ids["groups"]["team 03"].as_str().unwrap()).await;
    for i in 10..20 {
        let reference = json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/users/{}", id(i - 10))});
        let (status, answer) =
            w.call(reqwest::Method::PUT, &format!("/users/{}/manager/$ref", id(i)), Some(reference)).await;
        assert_eq!(status, 204, "{answer}");
    }

    w.call(reqwest::Method::POST, &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/start"), None).await;
    w.advance("PT1M").await;

    // Edits: a rename, a member leaving, a group unassigned, a user disabled.
    let team = ids["groups"]["Team 05"].as_str().unwrap();
    let (status, _) =
        w.call(reqwest::Method::PATCH, &format!("/groups/{team}"), Some(json!({"displayName": "Team Five"}))).await;
    assert_eq!(status, 204);
    let (status, _) = w.call(reqwest::Method::DELETE, &format!("/groups/{team}/members/{}/$ref", id(55)), None).await;
    assert_eq!(status, 204);
    let (status, _) =
        w.call(reqwest::Method::PATCH, &format!("/users/{}", id(3)), Some(json!({"accountEnabled": false}))).await;
    assert_eq!(status, 204);
    let (_, assigned) = w.call(reqwest::Method::GET, &format!("/servicePrincipals/{sp}/appRoleAssignedTo"), None).await;
    let last = ids["groups"]["Team 19"].as_str().unwrap();
    let assignment = assigned["value"].as_array().unwrap().iter().find(|a| a["principalId"] == last).unwrap();
    let (status, _) = w
        .call(
            reqwest::Method::DELETE,
            &format!("/servicePrincipals/{sp}/appRoleAssignedTo/{}", assignment["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 204);
    w.advance("PT40M").await;

    let token = w.graph.access_token().await;
    let logs = w
        .http
        .get(format!("{}/v1.0/auditLogs/provisioning?$top=999", w.graph.uri()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        // Each run has its own port, in `@odata.context`; nothing else is left out.
        .replace(&w.graph.uri(), "http://mock-graph");
    let (_, mut job) =
        w.call(reqwest::Method::GET, &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}"), None).await;
    job.as_object_mut().unwrap().remove("@odata.context");
    let journal = w
        .aws_journal()
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            let mut entry = entry.clone();
            entry.as_object_mut().unwrap().remove("seq");
            // The `host` header names each run's own port.
            entry.to_string().replace(w.scim.uri().trim_start_matches("http://"), "mock-scim")
        })
        .collect();
    Run { aws: canonical(w.aws_state().await), logs, job, journal }
}

/// Asserts two texts are the same; when not, both go beside the build for a diff.
fn same(what: &str, one: &str, eight: &str) {
    if one != eight {
        let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let _ = std::fs::write(dir.join(format!("concurrency_{what}_1")), one);
        let _ = std::fs::write(dir.join(format!("concurrency_{what}_8")), eight);
        panic!("the {what} differ at 1 and at 8 (both in {})", dir.display());
    }
}

/// How many group matching queries AWS received before the first group create.
fn queries_before_first_create(journal: &[String]) -> usize {
    let entries: Vec<Value> = journal.iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    entries
        .iter()
        .filter(|e| e["request"]["path"].as_str().is_some_and(|p| p.ends_with("/Groups")))
        .take_while(|e| e["request"]["method"] == "GET")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_exports_at_once_leave_what_one_at_a_time_leaves() {
    let one = run(1).await;
    let eight = run(8).await;

    let names: Vec<&str> = one.aws["users"].as_array().unwrap().iter().filter_map(|u| u["userName"].as_str()).collect();
    let twins: Vec<&&str> = names.iter().filter(|n| n.starts_with("twin")).collect();
    assert_eq!((names.len(), twins), (USERS + 1, vec![&"twin.a@contoso.onmicrosoft.com"]), "all but the second twin");
    assert_eq!(one.aws["groups"].as_array().unwrap().len(), GROUPS - 1, "all but the unassigned one and 'team 03'");
    let logs: Value = serde_json::from_str(&one.logs).unwrap();
    let refused: Vec<&str> = logs["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["provisioningStatusInfo"]["status"] == "failure")
        .filter_map(|e| e["sourceIdentity"]["displayName"].as_str())
        .collect();
    assert!(refused.contains(&"team 03") && refused.contains(&"twin.b@contoso.onmicrosoft.com"), "{refused:?}");

    assert_eq!(one.aws, eight.aws, "the same AWS state, ids included");
    same("logs", &one.logs, &eight.logs);
    assert_eq!(one.job, eight.job, "the same job and status");
    let sorted = |journal: &[String]| {
        let mut journal = journal.to_vec();
        journal.sort();
        journal.join("\n")
    };
    same("journal_sorted", &sorted(&one.journal), &sorted(&eight.journal));
    // One at a time, each group's create follows its own query; eight at a time, other groups'
    // queries come in while the first create is held.
    assert_eq!(queries_before_first_create(&one.journal), 1);
    assert!(queries_before_first_create(&eight.journal) > 1, "the exports overlapped");
}
