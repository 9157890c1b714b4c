//! Judging expectations against what the runner observed, and explaining each miss: expected and
//! actual side by side, with the provisioning log entries and the SCIM exchanges that explain it.
//! Pure: the runner fetches ([`Observed`]), [`judge`] decides, so every rule is unit-tested without
//! mocks.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use scenarios::scenario::{Expectation, LogExpectation};
use serde_json::Value;

use crate::placeholders::{Unresolved, resolve_body, resolve_ids};

/// What the runner saw when an expectation came up: everything [`judge`] reads.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// AWS as its console shows it (`/_admin/tenants/…/state`): `users` and `groups`, members by id.
    pub aws: Value,
    /// Provisioning log entries since the start, newest first.
    pub logs: Vec<Value>,
    /// The job as Graph shows it; fetched only when the expectation has a `job`.
    pub job: Option<Value>,
    /// AWS exchanges since the previous expectation.
    pub exchanges: Vec<Value>,
    /// AWS's whole journal; fetched only for `aws_untouched` and `order_safe`.
    pub journal: Option<Vec<Value>>,
    /// The journal position at the end of the setup: what came before was done by hand.
    pub setup_mark: u64,
}

/// One expectation that did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Miss {
    /// The expectation key, indexed where it is a list or a table: `aws_users`, `log[2]`,
    /// `requests[0]`, `aws_groups["Admins"]`, `job.code`.
    pub what: String,
    /// What the key asked for, in its own terms (names, a count, a value); `None` where it asks
    /// for an absence.
    pub expected: Option<String>,
    /// What was there instead; `None` where there was nothing.
    pub actual: Option<String>,
    /// The explanation a user reads, context included.
    pub message: String,
}

impl Miss {
    fn new(what: impl Into<String>, expected: Option<String>, actual: Option<String>, message: String) -> Miss {
        Miss { what: what.into(), expected, actual, message }
    }
}

impl fmt::Display for Miss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn names(values: &[String]) -> String {
    if values.is_empty() { "(none)".to_owned() } else { values.join(", ") }
}

/// A log entry in one line: `create failure SystemForCrossDomainIdentityManagementBadRequest: reason`.
fn log_line(entry: &Value) -> String {
    let status = &entry["provisioningStatusInfo"];
    let mut line = format!(
        "{} {} {}",
        entry["sourceIdentity"]["displayName"].as_str().unwrap_or("?"),
        entry["provisioningAction"].as_str().unwrap_or("?"),
        status["status"].as_str().unwrap_or("?")
    );
    if let Some(code) = status["errorInformation"]["errorCode"].as_str() {
        line.push_str(&format!(" {code}: {}", status["errorInformation"]["reason"].as_str().unwrap_or("")));
    }
    line
}

/// The log entries about some identities, as context for a miss.
fn log_context(logs: &[Value], identities: &BTreeSet<String>) -> String {
    let lines: Vec<String> = logs
        .iter()
        .rev()
        .filter(|e| {
            e["sourceIdentity"]["displayName"]
                .as_str()
                .is_some_and(|n| identities.iter().any(|i| i.eq_ignore_ascii_case(n)))
        })
        .map(|e| format!("\n      log: {}", log_line(e)))
        .collect();
    if lines.is_empty() { "\n      log: no provisioning log entry mentions them".to_owned() } else { lines.concat() }
}

/// Whether a provisioning log entry is the one described: identity (without case), and each field given.
fn log_matches(wanted: &LogExpectation, entry: &Value) -> bool {
    let status = &entry["provisioningStatusInfo"];
    entry["sourceIdentity"]["displayName"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(&wanted.identity))
        && wanted.action.as_ref().is_none_or(|a| entry["provisioningAction"] == a.as_str())
        && wanted.status.as_ref().is_none_or(|s| status["status"] == s.as_str())
        && wanted.error_code.as_ref().is_none_or(|c| status["errorInformation"]["errorCode"] == c.as_str())
        && wanted.reason_contains.as_ref().is_none_or(|r| {
            status["errorInformation"]["reason"].as_str().is_some_and(|reason| reason.contains(r.as_str()))
        })
}

/// A log expectation in words: "identity 'x', action create, status failure".
fn log_wanted(wanted: &LogExpectation) -> String {
    let mut text = vec![format!("identity '{}'", wanted.identity)];
    text.extend(wanted.action.iter().map(|a| format!("action {a}")));
    text.extend(wanted.status.iter().map(|s| format!("status {s}")));
    text.extend(wanted.error_code.iter().map(|c| format!("error {c}")));
    text.extend(wanted.reason_contains.iter().map(|r| format!("reason containing {r:?}")));
    text.join(", ")
}

/// Where `actual` does not hold `wanted`: a table's keys partially (each present and holding its
/// value), anything else exactly; one line per difference, with its dotted path.
fn differ(wanted: &Value, actual: &Value, path: String, differences: &mut Vec<String>) {
    match (wanted, actual) {
        (Value::Object(wanted), Value::Object(actual)) => {
            for (key, value) in wanted {
                let at = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                match actual.get(key) {
                    Some(found) => differ(value, found, at, differences),
                    None => differences.push(format!("{at}: expected {value}, absent")),
                }
            }
        }
        _ if wanted == actual => {}
        _ => differences.push(format!("{path}: expected {wanted}, actual {actual}")),
    }
}

/// Judges an expectation against what was observed; every miss explained.
pub fn judge(expectation: &Expectation, observed: &Observed) -> Vec<Miss> {
    let mut misses = Vec::new();
    let aws = &observed.aws;
    let logs = &observed.logs;
    let users: BTreeMap<String, &Value> = aws["users"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| Some((u["userName"].as_str()?.to_owned(), u)))
        .collect();
    let user_names: BTreeMap<String, String> = aws["users"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| Some((u["id"].as_str()?.to_owned(), u["userName"].as_str()?.to_owned())))
        .collect();
    let groups: BTreeMap<String, Vec<String>> = aws["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| {
            let members =
                g["members"].as_array()?.iter().filter_map(|m| user_names.get(m.as_str()?).cloned()).collect();
            Some((g["displayName"].as_str()?.to_owned(), members))
        })
        .collect();
    let actual_users: Vec<String> = users.keys().cloned().collect();
    // userNames compare without case unless the expectation asks for it (AWS keeps the case sent).
    let exact = expectation.aws_names_exact;
    let fold = |name: &str| if exact { name.to_owned() } else { name.to_lowercase() };
    let same_name = |a: &str, b: &str| if exact { a == b } else { a.eq_ignore_ascii_case(b) };
    let find_user = |name: &str| users.keys().find(|u| same_name(u, name));
    if let Some(expected) = &expectation.aws_users {
        let expected_set: BTreeSet<String> = expected.iter().map(|u| fold(u)).collect();
        let actual_set: BTreeSet<String> = actual_users.iter().map(|u| fold(u)).collect();
        if expected_set != actual_set {
            let missing: BTreeSet<String> = expected_set.difference(&actual_set).cloned().collect();
            let unexpected: Vec<String> = actual_set.difference(&expected_set).cloned().collect();
            misses.push(Miss::new(
                "aws_users",
                Some(names(expected)),
                Some(names(&actual_users)),
                format!(
                    "AWS users differ.\n      expected: {}\n      actual:   {}\n      missing: {}; unexpected: {}{}",
                    names(expected),
                    names(&actual_users),
                    names(&missing.iter().cloned().collect::<Vec<_>>()),
                    names(&unexpected),
                    log_context(logs, &missing.union(&unexpected.iter().cloned().collect()).cloned().collect())
                ),
            ));
        }
    }
    for (i, name) in expectation.aws_users_include.iter().enumerate() {
        if find_user(name).is_none() {
            misses.push(Miss::new(
                format!("aws_users_include[{i}]"),
                Some(name.clone()),
                Some(names(&actual_users)),
                format!(
                    "AWS should have user '{name}', but has: {}{}",
                    names(&actual_users),
                    log_context(logs, &BTreeSet::from([name.clone()]))
                ),
            ));
        }
    }
    for (i, name) in expectation.aws_users_exclude.iter().enumerate() {
        if let Some(found) = find_user(name) {
            misses.push(Miss::new(
                format!("aws_users_exclude[{i}]"),
                None,
                Some(found.clone()),
                format!(
                    "AWS should not have user '{name}', but does{}",
                    log_context(logs, &BTreeSet::from([name.clone()]))
                ),
            ));
        }
    }
    for (i, name) in expectation.aws_inactive.iter().enumerate() {
        let what = format!("aws_inactive[{i}]");
        match users.iter().find(|(u, _)| same_name(u, name)) {
            Some((_, user)) if user["active"] == false => {}
            Some((_, user)) => misses.push(Miss::new(
                what,
                Some("false".to_owned()),
                Some(user["active"].to_string()),
                format!(
                    "AWS user '{name}' should be inactive, but active is {}{}",
                    user["active"],
                    log_context(logs, &BTreeSet::from([name.clone()]))
                ),
            )),
            None => misses.push(Miss::new(
                what,
                Some("false".to_owned()),
                None,
                format!("AWS should have an inactive user '{name}', but has no such user"),
            )),
        }
    }
    let group_list: Vec<String> = groups.keys().cloned().collect();
    let compare_members =
        |what: String, name: &str, expected: &[String], exact: bool, misses: &mut Vec<Miss>| match groups.get(name) {
            None => misses.push(Miss::new(
                what,
                Some(name.to_owned()),
                Some(names(&group_list)),
                format!(
                    "AWS should have group '{name}', but has: {}{}",
                    names(&group_list),
                    log_context(logs, &BTreeSet::from([name.to_owned()]))
                ),
            )),
            Some(actual) => {
                let expected_set: BTreeSet<String> = expected.iter().map(|m| fold(m)).collect();
                let actual_set: BTreeSet<String> = actual.iter().map(|m| fold(m)).collect();
                let ok = if exact { expected_set == actual_set } else { expected_set.is_subset(&actual_set) };
                if !ok {
                    misses.push(Miss::new(
                        what,
                        Some(names(expected)),
                        Some(names(actual)),
                        format!(
                            "AWS group '{name}' members differ.\n      expected{}: {}\n      actual: {}{}",
                            if exact { "" } else { " at least" },
                            names(expected),
                            names(actual),
                            log_context(logs, &BTreeSet::from([name.to_owned()]))
                        ),
                    ));
                }
            }
        };
    if let Some(expected) = &expectation.aws_groups {
        let expected_names: BTreeSet<&String> = expected.keys().collect();
        let actual_names: BTreeSet<&String> = groups.keys().collect();
        if expected_names != actual_names {
            let involved: BTreeSet<String> =
                expected_names.symmetric_difference(&actual_names).map(|s| (*s).clone()).collect();
            let expected_list = names(&expected.keys().cloned().collect::<Vec<_>>());
            misses.push(Miss::new(
                "aws_groups",
                Some(expected_list.clone()),
                Some(names(&group_list)),
                format!(
                    "AWS groups differ.\n      expected: {expected_list}\n      actual:   {}{}",
                    names(&group_list),
                    log_context(logs, &involved)
                ),
            ));
        }
        for (name, members) in expected {
            if groups.contains_key(name) {
                compare_members(format!("aws_groups[{name:?}]"), name, members, true, &mut misses);
            }
        }
    }
    for (name, members) in &expectation.aws_groups_include {
        compare_members(format!("aws_groups_include[{name:?}]"), name, members, false, &mut misses);
    }
    for (i, name) in expectation.aws_groups_exclude.iter().enumerate() {
        if groups.contains_key(name) {
            misses.push(Miss::new(
                format!("aws_groups_exclude[{i}]"),
                None,
                Some(name.clone()),
                format!(
                    "AWS should not have group '{name}', but does{}",
                    log_context(logs, &BTreeSet::from([name.clone()]))
                ),
            ));
        }
    }
    for (i, wanted) in expectation.log.iter().enumerate() {
        if !logs.iter().any(|entry| log_matches(wanted, entry)) {
            misses.push(Miss::new(
                format!("log[{i}]"),
                Some(log_wanted(wanted)),
                None,
                format!(
                    "no provisioning log entry with {}{}",
                    log_wanted(wanted),
                    log_context(logs, &BTreeSet::from([wanted.identity.clone()]))
                ),
            ));
        }
    }
    for (i, unwanted) in expectation.log_absent.iter().enumerate() {
        let found: Vec<String> = logs.iter().filter(|entry| log_matches(unwanted, entry)).map(log_line).collect();
        if !found.is_empty() {
            misses.push(Miss::new(
                format!("log_absent[{i}]"),
                None,
                Some(found.join("\n")),
                format!(
                    "a provisioning log entry with {} should not exist, but:\n      log: {}",
                    log_wanted(unwanted),
                    found.join("\n      log: ")
                ),
            ));
        }
    }
    for (name, wanted) in &expectation.aws_attributes {
        let what = format!("aws_attributes[{name:?}]");
        let mut wanted = serde_json::to_value(wanted).unwrap_or(Value::Null);
        if let Err(unresolved) = resolve_body(&mut wanted, aws) {
            misses.push(Miss::new(what, None, None, format!("AWS attributes of '{name}': {unresolved}")));
            continue;
        }
        let group = || aws["groups"].as_array().into_iter().flatten().find(|g| g["displayName"] == name.as_str());
        let Some((kind, actual)) = users
            .iter()
            .find(|(u, _)| same_name(u, name))
            .map(|(_, user)| ("user", *user))
            .or_else(|| group().map(|g| ("group", g)))
        else {
            misses.push(Miss::new(
                what,
                Some(wanted.to_string()),
                None,
                format!("AWS should have a user or group '{name}', but has neither"),
            ));
            continue;
        };
        let mut differences = Vec::new();
        differ(&wanted, actual, String::new(), &mut differences);
        if !differences.is_empty() {
            misses.push(Miss::new(
                what,
                Some(wanted.to_string()),
                Some(actual.to_string()),
                format!("AWS {kind} '{name}' attributes differ:\n      {}", differences.join("\n      ")),
            ));
        }
    }
    if let Some(job) = &expectation.job {
        // Not fetched (a runner that did not gather it): every field reads as null, and misses.
        let actual = observed.job.as_ref().unwrap_or(&Value::Null);
        let status = &actual["status"];
        let mut check = |key: &str, what: &str, expected: Option<String>, found: &Value| {
            let found_text = found.as_str().map(str::to_owned).unwrap_or_else(|| found.to_string());
            if let Some(expected) = expected
                && found_text != expected
            {
                let message = format!("job {what} should be {expected}, is {found}");
                misses.push(Miss::new(format!("job.{key}"), Some(expected), Some(found_text), message));
            }
        };
        check("code", "status code", job.code.clone(), &status["code"]);
        check("quarantine_reason", "quarantine reason", job.quarantine_reason.clone(), &status["quarantine"]["reason"]);
        check(
            "escrowed",
            "lastExecution.countEscrowed",
            job.escrowed.map(|n| n.to_string()),
            &status["lastExecution"]["countEscrowed"],
        );
        check("last_state", "lastExecution.state", job.last_state.clone(), &status["lastExecution"]["state"]);
        check("escrows_pruned", "escrowsPruned", job.escrows_pruned.map(|b| b.to_string()), &status["escrowsPruned"]);
        check("schedule_state", "schedule.state", job.schedule_state.clone(), &actual["schedule"]["state"]);
        if let Some(expected) = job.next_attempt {
            let found = &status["quarantine"]["nextAttempt"];
            // Compared as instants: Graph writes fractions of a second (`…T06:00:00.0000000Z`).
            if found.as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok()) != Some(expected) {
                misses.push(Miss::new(
                    "job.next_attempt",
                    Some(expected.to_string()),
                    Some(found.as_str().map(str::to_owned).unwrap_or_else(|| found.to_string())),
                    format!("job quarantine.nextAttempt should be {expected}, is {found}"),
                ));
            }
        }
    }
    let exchanges = &observed.exchanges;
    if expectation.no_writes {
        let writes: Vec<String> =
            exchanges.iter().filter(|e| e["request"]["method"] != "GET").map(exchange_line).collect();
        if !writes.is_empty() {
            misses.push(Miss::new(
                "no_writes",
                Some("0".to_owned()),
                Some(writes.len().to_string()),
                format!("AWS should have received no writes, but got {}:{}", writes.len(), writes.concat()),
            ));
        }
    }
    for (i, wanted) in expectation.requests.iter().enumerate() {
        let what = format!("requests[{i}]");
        // `{user:NAME}` and `{group:NAME}` stand for AWS ids, as AWS holds them now.
        let resolved = |value: Option<Value>| -> Result<Option<Value>, Unresolved> {
            let Some(mut value) = value else { return Ok(None) };
            resolve_body(&mut value, aws)?;
            Ok(Some(value))
        };
        let (path, body, operations) = match (
            wanted.path_contains.as_deref().map(|p| resolve_ids(p, aws)).transpose(),
            resolved(wanted.body.as_ref().map(|b| serde_json::to_value(b).unwrap_or(Value::Null))),
            resolved(wanted.operations.as_ref().map(|o| serde_json::to_value(o).unwrap_or(Value::Null))),
        ) {
            (Ok(path), Ok(body), Ok(operations)) => (path, body, operations),
            (Err(unresolved), _, _) | (_, Err(unresolved), _) | (_, _, Err(unresolved)) => {
                misses.push(Miss::new(what, None, None, format!("{} requests: {unresolved}", wanted.method)));
                continue;
            }
        };
        let found = exchanges
            .iter()
            .filter(|e| e["request"]["method"].as_str().is_some_and(|m| m.eq_ignore_ascii_case(&wanted.method)))
            .filter(|e| {
                path.as_ref()
                    .is_none_or(|p| e["request"]["path"].as_str().is_some_and(|path| path.contains(p.as_str())))
            })
            .filter(|e| {
                wanted
                    .filter_contains
                    .as_ref()
                    .is_none_or(|f| filter_of(&e["request"]).is_some_and(|q| q.contains(f.as_str())))
            })
            .filter(|e| body.as_ref().is_none_or(|b| contains(&e["request"]["body"], b)))
            .filter(|e| operations.as_ref().is_none_or(|ops| e["request"]["body"]["Operations"] == *ops))
            .count();
        let (low, high) = match (wanted.count, wanted.at_least, wanted.at_most) {
            (Some(count), _, _) => (count, Some(count)),
            (None, None, None) => (1, None),
            (None, low, high) => (low.unwrap_or(0), high),
        };
        if found < low || high.is_some_and(|high| found > high) {
            // Asked for exact operations, the PATCHes received show theirs.
            let seen: Vec<String> = exchanges
                .iter()
                .map(|e| match &e["request"]["body"]["Operations"] {
                    ops @ Value::Array(_) if operations.is_some() => format!("{} {ops}", exchange_line(e)),
                    _ => exchange_line(e),
                })
                .collect();
            let how_many = match (low, high) {
                (low, Some(high)) if low == high => low.to_string(),
                (0, Some(high)) => format!("at most {high}"),
                (low, Some(high)) => format!("{low} to {high}"),
                (low, None) => format!("at least {}", if low == 1 { "one".to_owned() } else { low.to_string() }),
            };
            let message = format!(
                "AWS should have received {how_many} {} request(s){}{}{}{}, got {found}; received:{}",
                wanted.method,
                path.as_ref().map(|p| format!(" to a path containing {p:?}")).unwrap_or_default(),
                wanted.filter_contains.as_ref().map(|f| format!(" filtering on {f:?}")).unwrap_or_default(),
                body.as_ref().map(|b| format!(" with a body containing {b}")).unwrap_or_default(),
                operations.as_ref().map(|o| format!(" with exactly the operations {o}")).unwrap_or_default(),
                if seen.is_empty() { " nothing".to_owned() } else { seen.concat() }
            );
            misses.push(Miss::new(what, Some(how_many), Some(found.to_string()), message));
        }
    }
    let journal = observed.journal.as_deref().unwrap_or_default();
    for (i, name) in expectation.aws_untouched.iter().enumerate() {
        misses.extend(touched(aws, journal, observed.setup_mark, name, format!("aws_untouched[{i}]")));
    }
    if expectation.order_safe {
        misses.extend(order_violations(journal));
    }
    misses
}

/// Why an object made by hand in AWS counts as touched: gone, or named by a write after the setup.
fn touched(aws: &Value, journal: &[Value], setup_mark: u64, name: &str, what: String) -> Option<Miss> {
    let object = ["users", "groups"].iter().find_map(|kind| {
        let key = if *kind == "users" { "userName" } else { "displayName" };
        aws[kind].as_array()?.iter().find(|o| o[key].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
    });
    let Some(id) = object.and_then(|o| o["id"].as_str()) else {
        return Some(Miss::new(
            what,
            Some(name.to_owned()),
            None,
            format!("'{name}', made by hand in AWS, should still be there, and is gone"),
        ));
    };
    let writes: Vec<String> = journal
        .iter()
        .filter(|e| e["seq"].as_u64().is_some_and(|seq| seq > setup_mark) && e["request"]["method"] != "GET")
        .filter(|e| {
            e["request"]["path"].as_str().is_some_and(|p| p.contains(id))
                || e["request"]["body"].to_string().contains(id)
        })
        .map(exchange_line)
        .collect();
    (!writes.is_empty()).then(|| {
        Miss::new(
            what,
            Some("0".to_owned()),
            Some(writes.len().to_string()),
            format!(
                "'{name}', made by hand in AWS, is not the job's to change, but {} write(s) named it:{}",
                writes.len(),
                writes.concat()
            ),
        )
    })
}

/// Replays AWS's journal and lists each request that broke order: a write to a group that did not
/// exist, or a member added that was not an existing user.
fn order_violations(journal: &[Value]) -> Vec<Miss> {
    let mut users: BTreeSet<String> = BTreeSet::new();
    let mut groups: BTreeSet<String> = BTreeSet::new();
    let mut misses = Vec::new();
    for e in journal {
        let method = e["request"]["method"].as_str().unwrap_or_default();
        let path = e["request"]["path"].as_str().unwrap_or_default();
        let Some((_, resource)) = path.split_once("/scim/v2/") else { continue };
        let (kind, id) = resource.split_once('/').unwrap_or((resource, ""));
        let status = e["response"]["status"].as_u64().unwrap_or(0);
        let body = &e["request"]["body"];
        let mut added: Vec<&str> = Vec::new();
        if kind == "Groups" && method != "GET" {
            if !id.is_empty() && !groups.contains(id) {
                misses.push(Miss::new(
                    "order_safe",
                    None,
                    Some(format!("{method} {path}")),
                    format!("order: a {method} to group {id}, which did not exist:{}", exchange_line(e)),
                ));
            }
            added.extend(body["members"].as_array().into_iter().flatten().filter_map(|m| m["value"].as_str()));
            for op in body["Operations"].as_array().into_iter().flatten() {
                if op["op"].as_str().is_some_and(|o| o.eq_ignore_ascii_case("add"))
                    && op["path"].as_str().is_none_or(|p| p.eq_ignore_ascii_case("members"))
                {
                    let values = op["value"].as_array().into_iter().flatten();
                    added.extend(values.clone().filter_map(|m| m["value"].as_str()));
                    added.extend(
                        values
                            .flat_map(|v| v["members"].as_array().into_iter().flatten())
                            .filter_map(|m| m["value"].as_str()),
                    );
                }
            }
        }
        for member in added.iter().filter(|m| !users.contains(**m)) {
            misses.push(Miss::new(
                "order_safe",
                None,
                Some(format!("{method} {path}")),
                format!("order: member {member} added to a group before it existed as a user:{}", exchange_line(e)),
            ));
        }
        let created = e["response"]["body"]["id"].as_str().filter(|_| method == "POST" && status == 201);
        let set = if kind.starts_with("Users") {
            &mut users
        } else if kind.starts_with("Groups") {
            &mut groups
        } else {
            continue;
        };
        if let Some(created) = created {
            set.insert(created.to_owned());
        }
        if method == "DELETE" && status == 204 {
            set.remove(id);
        }
    }
    misses
}

/// The decoded `filter` query parameter of a recorded request.
fn filter_of(request: &Value) -> Option<String> {
    let query = request["query"].as_str()?;
    let url = reqwest::Url::parse(&format!("http://query.invalid/?{query}")).ok()?;
    url.query_pairs().find(|(k, _)| k == "filter").map(|(_, v)| v.into_owned())
}

/// One exchange as a line of a miss: `POST /…/Users → 201`, `GET /…/Users?filter=… → 200`.
fn exchange_line(e: &Value) -> String {
    format!(
        "\n      {} {}{} → {}",
        e["request"]["method"].as_str().unwrap_or("?"),
        e["request"]["path"].as_str().unwrap_or("?"),
        filter_of(&e["request"]).map(|f| format!(" (filter {f})")).unwrap_or_default(),
        e["response"]["status"]
    )
}

/// Whether `actual` contains `expected`: objects by their keys, arrays element by element, scalars
/// equal.
fn contains(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => e.iter().all(|(k, v)| a.get(k).is_some_and(|av| contains(av, v))),
        (Value::Array(a), Value::Array(e)) => e.iter().all(|ev| a.iter().any(|av| contains(av, ev))),
        _ => actual == expected,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::differ;

    #[test]
    fn attributes_match_tables_partially_and_everything_else_exactly() {
        let actual = json!({"displayName": "Annie", "name": {"givenName": "Annie", "familyName": "Easley"},
            "emails": [{"value": "a@x", "primary": true}], "active": true});
        let mut differences = Vec::new();
        differ(&json!({"name": {"familyName": "Easley"}, "active": true}), &actual, String::new(), &mut differences);
        assert!(differences.is_empty(), "{differences:?}");
        differ(
            &json!({"name": {"familyName": "Shaw", "middleName": "M"}, "emails": [{"value": "a@x"}]}),
            &actual,
            String::new(),
            &mut differences,
        );
        assert_eq!(
            differences,
            [
                "name.familyName: expected \"Shaw\", actual \"Easley\"",
                "name.middleName: expected \"M\", absent",
                "emails: expected [{\"value\":\"a@x\"}], actual [{\"value\":\"a@x\",\"primary\":true}]",
            ]
        );
    }
}
