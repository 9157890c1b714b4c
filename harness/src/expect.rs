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

/// Whether [`judge`] reads AWS's state for this expectation: the AWS users, groups and attributes,
/// the placeholders of `requests`, and what `aws_untouched` compares.
pub fn reads_aws(e: &Expectation) -> bool {
    e.aws_users.is_some()
        || !e.aws_users_include.is_empty()
        || !e.aws_users_exclude.is_empty()
        || !e.aws_inactive.is_empty()
        || e.aws_groups.is_some()
        || !e.aws_groups_include.is_empty()
        || !e.aws_groups_exclude.is_empty()
        || !e.aws_attributes.is_empty()
        || !e.aws_untouched.is_empty()
        || !e.requests.is_empty()
}

/// Whether [`judge`] reads the AWS exchanges since the previous expectation: `requests` and
/// `no_writes`.
pub fn reads_exchanges(e: &Expectation) -> bool {
    !e.requests.is_empty() || e.no_writes
}

/// Whether [`judge`] reads the provisioning logs: the log expectations, and the log lines a miss
/// on AWS's state quotes.
pub fn reads_logs(e: &Expectation) -> bool {
    reads_aws(e) || !e.log.is_empty() || !e.log_absent.is_empty()
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
    use scenarios::scenario::Expectation;
    use serde_json::{Value, json};

    use super::{Miss, Observed, differ, judge, reads_aws, reads_exchanges, reads_logs};

    const BAD_REQUEST: &str = "carol@contoso.com create failure SystemForCrossDomainIdentityManagementBadRequest: The SCIM endpoint returned HTTP 400.";
    const NO_LOG: &str = "\n      log: no provisioning log entry mentions them";
    const GET_ANNIE: &str = "\n      GET /t/scim/v2/Users (filter userName eq \"annie@contoso.com\") → 200";
    const PATCH_ENGINEERING: &str = "\n      PATCH /t/scim/v2/Groups/g1 → 204";

    /// An expectation as a scenario's `expect` step writes it.
    fn expectation(toml: &str) -> Expectation {
        toml::from_str(toml).expect("a valid expectation")
    }

    #[test]
    fn only_what_an_expectation_looks_at_is_read() {
        let job = expectation(r#"job = { code = "Active" }"#);
        assert!(!reads_aws(&job) && !reads_logs(&job) && !reads_exchanges(&job), "a job-only expectation reads none");
        assert!(reads_exchanges(&expectation("no_writes = true")));
        let log = expectation(r#"log = [{ identity = "Administrator", status = "failure" }]"#);
        assert!(!reads_aws(&log) && reads_logs(&log));
        for toml in [
            r#"aws_users = ["a"]"#,
            r#"aws_users_include = ["a"]"#,
            r#"aws_users_exclude = ["a"]"#,
            r#"aws_inactive = ["a"]"#,
            r#"aws_groups = { SRE = [] }"#,
            r#"aws_groups_include = { SRE = [] }"#,
            r#"aws_groups_exclude = ["SRE"]"#,
            r#"aws_untouched = ["a"]"#,
            r#"requests = [{ method = "POST", path_contains = "/Users" }]"#,
        ] {
            let e = expectation(toml);
            assert!(reads_aws(&e) && reads_logs(&e), "{toml}");
        }
    }

    fn log_entry(identity: &str, action: &str, status: &str) -> Value {
        json!({"sourceIdentity": {"displayName": identity}, "provisioningAction": action,
            "provisioningStatusInfo": {"status": status}})
    }

    fn exchange(seq: u64, method: &str, path: &str, body: Value, status: u16) -> Value {
        json!({"seq": seq, "request": {"method": method, "path": path, "body": body},
            "response": {"status": status}})
    }

    /// Annie (active) and Bob (inactive, made by hand) in AWS, Annie in Engineering; Carol's create
    /// refused; since the previous expectation a user query and a PATCH adding Bob to Engineering.
    fn observed() -> Observed {
        let mut refused = log_entry("carol@contoso.com", "create", "failure");
        refused["provisioningStatusInfo"]["errorInformation"] = json!({
            "errorCode": "SystemForCrossDomainIdentityManagementBadRequest",
            "reason": "The SCIM endpoint returned HTTP 400."});
        let mut query = exchange(5, "GET", "/t/scim/v2/Users", Value::Null, 200);
        query["request"]["query"] = json!("filter=userName%20eq%20%22annie%40contoso.com%22");
        let add_bob = exchange(
            6,
            "PATCH",
            "/t/scim/v2/Groups/g1",
            json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": "u2"}]}]}),
            204,
        );
        Observed {
            aws: json!({
                "users": [
                    {"id": "u1", "userName": "annie@contoso.com", "active": true, "name": {"familyName": "Easley"}},
                    {"id": "u2", "userName": "bob@contoso.com", "active": false},
                ],
                "groups": [{"id": "g1", "displayName": "Engineering", "members": ["u1"]}],
            }),
            logs: vec![
                log_entry("bob@contoso.com", "update", "success"),
                refused,
                log_entry("annie@contoso.com", "create", "success"),
            ],
            job: None,
            exchanges: vec![query.clone(), add_bob.clone()],
            // Bob's by-hand edit at 1 is the setup's; the PATCH at 6 is the job's.
            journal: Some(vec![
                exchange(1, "PATCH", "/t/scim/v2/Users/u2", json!({"Operations": []}), 200),
                query,
                add_bob,
            ]),
            setup_mark: 1,
        }
    }

    fn miss(what: &str, expected: Option<&str>, actual: Option<&str>, message: &str) -> Miss {
        Miss {
            what: what.to_owned(),
            expected: expected.map(str::to_owned),
            actual: actual.map(str::to_owned),
            message: message.to_owned(),
        }
    }

    /// Judges, and checks each miss prints exactly its message (what every report shows).
    fn misses(toml: &str, observed: &Observed) -> Vec<Miss> {
        let misses = judge(&expectation(toml), observed);
        for miss in &misses {
            assert_eq!(miss.to_string(), miss.message);
        }
        misses
    }

    #[test]
    fn an_empty_expectation_always_holds() {
        assert_eq!(misses("", &observed()), []);
        assert_eq!(misses("", &Observed::default()), []);
    }

    #[test]
    fn aws_users_compare_exactly_as_a_set_without_case() {
        assert_eq!(misses(r#"aws_users = ["Annie@contoso.com", "bob@contoso.com"]"#, &observed()), []);
        assert_eq!(
            misses(r#"aws_users = ["annie@contoso.com", "carol@contoso.com"]"#, &observed()),
            [miss(
                "aws_users",
                Some("annie@contoso.com, carol@contoso.com"),
                Some("annie@contoso.com, bob@contoso.com"),
                &format!(
                    "AWS users differ.\n      expected: annie@contoso.com, carol@contoso.com\n      actual:   \
                     annie@contoso.com, bob@contoso.com\n      missing: carol@contoso.com; unexpected: \
                     bob@contoso.com\n      log: {BAD_REQUEST}\n      log: bob@contoso.com update success"
                ),
            )]
        );
    }

    #[test]
    fn aws_names_exact_makes_case_count() {
        let wanted = r#"aws_users = ["Annie@contoso.com", "bob@contoso.com"]
            aws_names_exact = true"#;
        assert_eq!(
            misses(wanted, &observed()),
            [miss(
                "aws_users",
                Some("Annie@contoso.com, bob@contoso.com"),
                Some("annie@contoso.com, bob@contoso.com"),
                "AWS users differ.\n      expected: Annie@contoso.com, bob@contoso.com\n      actual:   \
                 annie@contoso.com, bob@contoso.com\n      missing: Annie@contoso.com; unexpected: \
                 annie@contoso.com\n      log: annie@contoso.com create success",
            )]
        );
    }

    #[test]
    fn aws_users_include_names_each_user_missing() {
        assert_eq!(misses(r#"aws_users_include = ["ANNIE@contoso.com"]"#, &observed()), []);
        assert_eq!(
            misses(r#"aws_users_include = ["annie@contoso.com", "dave@contoso.com"]"#, &observed()),
            [miss(
                "aws_users_include[1]",
                Some("dave@contoso.com"),
                Some("annie@contoso.com, bob@contoso.com"),
                &format!(
                    "AWS should have user 'dave@contoso.com', but has: annie@contoso.com, bob@contoso.com{NO_LOG}"
                ),
            )]
        );
    }

    #[test]
    fn aws_users_exclude_names_the_user_found() {
        assert_eq!(misses(r#"aws_users_exclude = ["carol@contoso.com"]"#, &observed()), []);
        assert_eq!(
            misses(r#"aws_users_exclude = ["BOB@contoso.com"]"#, &observed()),
            [miss(
                "aws_users_exclude[0]",
                None,
                Some("bob@contoso.com"),
                "AWS should not have user 'BOB@contoso.com', but does\n      log: bob@contoso.com update success",
            )]
        );
    }

    #[test]
    fn aws_inactive_needs_the_user_there_and_inactive() {
        assert_eq!(misses(r#"aws_inactive = ["bob@contoso.com"]"#, &observed()), []);
        assert_eq!(
            misses(r#"aws_inactive = ["annie@contoso.com", "carol@contoso.com"]"#, &observed()),
            [
                miss(
                    "aws_inactive[0]",
                    Some("false"),
                    Some("true"),
                    "AWS user 'annie@contoso.com' should be inactive, but active is true\n      \
                     log: annie@contoso.com create success",
                ),
                miss(
                    "aws_inactive[1]",
                    Some("false"),
                    None,
                    "AWS should have an inactive user 'carol@contoso.com', but has no such user",
                ),
            ]
        );
    }

    #[test]
    fn aws_groups_compare_names_and_each_groups_members_exactly() {
        assert_eq!(misses(r#"aws_groups = { Engineering = ["Annie@contoso.com"] }"#, &observed()), []);
        assert_eq!(
            misses(
                r#"aws_groups = { Engineering = ["annie@contoso.com", "bob@contoso.com"], Sales = [] }"#,
                &observed()
            ),
            [
                miss(
                    "aws_groups",
                    Some("Engineering, Sales"),
                    Some("Engineering"),
                    &format!(
                        "AWS groups differ.\n      expected: Engineering, Sales\n      actual:   Engineering{NO_LOG}"
                    ),
                ),
                miss(
                    r#"aws_groups["Engineering"]"#,
                    Some("annie@contoso.com, bob@contoso.com"),
                    Some("annie@contoso.com"),
                    &format!(
                        "AWS group 'Engineering' members differ.\n      expected: annie@contoso.com, \
                         bob@contoso.com\n      actual: annie@contoso.com{NO_LOG}"
                    ),
                ),
            ]
        );
    }

    #[test]
    fn aws_groups_include_needs_each_group_with_at_least_its_members() {
        assert_eq!(misses(r#"aws_groups_include = { Engineering = ["annie@contoso.com"] }"#, &observed()), []);
        assert_eq!(
            misses(r#"aws_groups_include = { Engineering = ["bob@contoso.com"], Sales = [] }"#, &observed()),
            [
                miss(
                    r#"aws_groups_include["Engineering"]"#,
                    Some("bob@contoso.com"),
                    Some("annie@contoso.com"),
                    &format!(
                        "AWS group 'Engineering' members differ.\n      expected at least: bob@contoso.com\n      \
                         actual: annie@contoso.com{NO_LOG}"
                    ),
                ),
                miss(
                    r#"aws_groups_include["Sales"]"#,
                    Some("Sales"),
                    Some("Engineering"),
                    &format!("AWS should have group 'Sales', but has: Engineering{NO_LOG}"),
                ),
            ]
        );
    }

    #[test]
    fn aws_groups_exclude_names_the_group_found() {
        assert_eq!(misses(r#"aws_groups_exclude = ["Sales"]"#, &observed()), []);
        assert_eq!(
            misses(r#"aws_groups_exclude = ["Engineering"]"#, &observed()),
            [miss(
                "aws_groups_exclude[0]",
                None,
                Some("Engineering"),
                &format!("AWS should not have group 'Engineering', but does{NO_LOG}"),
            )]
        );
    }

    #[test]
    fn log_needs_an_entry_matching_every_field_given() {
        let all_fields = r#"log = [{ identity = "CAROL@contoso.com", action = "create", status = "failure",
            error_code = "SystemForCrossDomainIdentityManagementBadRequest", reason_contains = "HTTP 400" }]"#;
        assert_eq!(misses(all_fields, &observed()), []);
        let wanted = r#"log = [
            { identity = "annie@contoso.com", action = "create" },
            { identity = "annie@contoso.com", action = "update", status = "success" },
            { identity = "carol@contoso.com", error_code = "E", reason_contains = "HTTP 500" },
        ]"#;
        assert_eq!(
            misses(wanted, &observed()),
            [
                miss(
                    "log[1]",
                    Some("identity 'annie@contoso.com', action update, status success"),
                    None,
                    "no provisioning log entry with identity 'annie@contoso.com', action update, status success\n      \
                     log: annie@contoso.com create success",
                ),
                miss(
                    "log[2]",
                    Some("identity 'carol@contoso.com', error E, reason containing \"HTTP 500\""),
                    None,
                    &format!(
                        "no provisioning log entry with identity 'carol@contoso.com', error E, reason containing \
                         \"HTTP 500\"\n      log: {BAD_REQUEST}"
                    ),
                ),
            ]
        );
    }

    #[test]
    fn log_absent_lists_the_entries_that_match() {
        assert_eq!(misses(r#"log_absent = [{ identity = "annie@contoso.com", status = "failure" }]"#, &observed()), []);
        assert_eq!(
            misses(r#"log_absent = [{ identity = "carol@contoso.com", status = "failure" }]"#, &observed()),
            [miss(
                "log_absent[0]",
                None,
                Some(BAD_REQUEST),
                &format!(
                    "a provisioning log entry with identity 'carol@contoso.com', status failure should not exist, \
                     but:\n      log: {BAD_REQUEST}"
                ),
            )]
        );
    }

    #[test]
    fn aws_attributes_match_partially_with_placeholders_resolved() {
        let holds = r#"aws_attributes = { "annie@contoso.com" = { active = true, name = { familyName = "Easley" } },
            Engineering = { id = "{group:Engineering}" } }"#;
        assert_eq!(misses(holds, &observed()), []);
        let wanted = r#"aws_attributes = { "annie@contoso.com" = { name = { familyName = "Shaw" } },
            Sales = { displayName = "Sales" }, Engineering = { id = "{group:Marketing}" } }"#;
        let annie = observed().aws["users"][0].to_string();
        assert_eq!(
            misses(wanted, &observed()),
            [
                miss(
                    r#"aws_attributes["Engineering"]"#,
                    None,
                    None,
                    "AWS attributes of 'Engineering': AWS has no group 'Marketing'",
                ),
                miss(
                    r#"aws_attributes["Sales"]"#,
                    Some(r#"{"displayName":"Sales"}"#),
                    None,
                    "AWS should have a user or group 'Sales', but has neither",
                ),
                miss(
                    r#"aws_attributes["annie@contoso.com"]"#,
                    Some(r#"{"name":{"familyName":"Shaw"}}"#),
                    Some(&annie),
                    "AWS user 'annie@contoso.com' attributes differ:\n      name.familyName: expected \"Shaw\", \
                     actual \"Easley\"",
                ),
            ]
        );
    }

    #[test]
    fn job_compares_each_field_given() {
        let observed = Observed {
            job: Some(json!({
                "status": {
                    "code": "Quarantine",
                    "quarantine": {"reason": "EncounteredQuarantineException", "nextAttempt": "2026-01-01T06:00:00.0000000Z"},
                    "lastExecution": {"countEscrowed": 3, "state": "Failed"},
                    "escrowsPruned": false,
                },
                "schedule": {"state": "Active"},
            })),
            ..observed()
        };
        let holds = r#"job = { code = "Quarantine", quarantine_reason = "EncounteredQuarantineException", escrowed = 3,
            last_state = "Failed", escrows_pruned = false, next_attempt = "2026-01-01T06:00:00Z",
            schedule_state = "Active" }"#;
        assert_eq!(misses(holds, &observed), []);
        let wanted = r#"job = { code = "Active", quarantine_reason = "R", escrowed = 0, last_state = "Succeeded",
            escrows_pruned = true, next_attempt = "2026-01-01T07:00:00Z", schedule_state = "Disabled" }"#;
        assert_eq!(
            misses(wanted, &observed),
            [
                miss(
                    "job.code",
                    Some("Active"),
                    Some("Quarantine"),
                    "job status code should be Active, is \"Quarantine\""
                ),
                miss(
                    "job.quarantine_reason",
                    Some("R"),
                    Some("EncounteredQuarantineException"),
                    "job quarantine reason should be R, is \"EncounteredQuarantineException\"",
                ),
                miss("job.escrowed", Some("0"), Some("3"), "job lastExecution.countEscrowed should be 0, is 3"),
                miss(
                    "job.last_state",
                    Some("Succeeded"),
                    Some("Failed"),
                    "job lastExecution.state should be Succeeded, is \"Failed\"",
                ),
                miss("job.escrows_pruned", Some("true"), Some("false"), "job escrowsPruned should be true, is false"),
                miss(
                    "job.schedule_state",
                    Some("Disabled"),
                    Some("Active"),
                    "job schedule.state should be Disabled, is \"Active\"",
                ),
                miss(
                    "job.next_attempt",
                    Some("2026-01-01T07:00:00Z"),
                    Some("2026-01-01T06:00:00.0000000Z"),
                    "job quarantine.nextAttempt should be 2026-01-01T07:00:00Z, is \"2026-01-01T06:00:00.0000000Z\"",
                ),
            ]
        );
    }

    #[test]
    fn no_writes_lists_the_writes_since_the_previous_expectation() {
        let reads_only = Observed { exchanges: observed().exchanges[..1].to_vec(), ..observed() };
        assert_eq!(misses("no_writes = true", &reads_only), []);
        assert_eq!(
            misses("no_writes = true", &observed()),
            [miss(
                "no_writes",
                Some("0"),
                Some("1"),
                &format!("AWS should have received no writes, but got 1:{PATCH_ENGINEERING}"),
            )]
        );
    }

    #[test]
    fn requests_count_the_exchanges_matching_every_field_given() {
        let holds = r#"requests = [
            { method = "get", filter_contains = "userName eq" },
            { method = "PATCH", path_contains = "/Groups/{group:Engineering}", count = 1,
              operations = [{ op = "add", path = "members", value = [{ value = "{user:bob@contoso.com}" }] }] },
            { method = "PATCH", body = { Operations = [{ op = "add" }] }, at_least = 1, at_most = 2 },
            { method = "DELETE", at_most = 0 },
        ]"#;
        assert_eq!(misses(holds, &observed()), []);
        let wanted = r#"requests = [
            { method = "POST", path_contains = "/Users" },
            { method = "PATCH", body = { Operations = [{ op = "remove" }] }, at_least = 1, at_most = 2 },
            { method = "GET", count = 2 },
            { method = "PATCH", operations = [{ op = "Add", path = "members", value = [{ value = "u2" }] }] },
            { method = "DELETE", path_contains = "/Users/{user:carol@contoso.com}" },
        ]"#;
        let received = format!("{GET_ANNIE}{PATCH_ENGINEERING}");
        assert_eq!(
            misses(wanted, &observed()),
            [
                miss(
                    "requests[0]",
                    Some("at least one"),
                    Some("0"),
                    &format!(
                        "AWS should have received at least one POST request(s) to a path containing \"/Users\", \
                         got 0; received:{received}"
                    ),
                ),
                miss(
                    "requests[1]",
                    Some("1 to 2"),
                    Some("0"),
                    &format!(
                        "AWS should have received 1 to 2 PATCH request(s) with a body containing \
                         {{\"Operations\":[{{\"op\":\"remove\"}}]}}, got 0; received:{received}"
                    ),
                ),
                miss(
                    "requests[2]",
                    Some("2"),
                    Some("1"),
                    &format!("AWS should have received 2 GET request(s), got 1; received:{received}"),
                ),
                // Asked for exact operations, the PATCH received shows its own.
                miss(
                    "requests[3]",
                    Some("at least one"),
                    Some("0"),
                    &format!(
                        "AWS should have received at least one PATCH request(s) with exactly the operations \
                         [{{\"op\":\"Add\",\"path\":\"members\",\"value\":[{{\"value\":\"u2\"}}]}}], got 0; \
                         received:{GET_ANNIE}{PATCH_ENGINEERING} \
                         [{{\"op\":\"add\",\"path\":\"members\",\"value\":[{{\"value\":\"u2\"}}]}}]"
                    ),
                ),
                miss("requests[4]", None, None, "DELETE requests: AWS has no user 'carol@contoso.com'"),
            ]
        );
    }

    #[test]
    fn aws_untouched_counts_the_jobs_writes_naming_an_object_made_by_hand() {
        assert_eq!(misses(r#"aws_untouched = ["annie@contoso.com"]"#, &observed()), []);
        assert_eq!(
            misses(r#"aws_untouched = ["Bob@contoso.com", "Sales"]"#, &observed()),
            [
                miss(
                    "aws_untouched[0]",
                    Some("0"),
                    Some("1"),
                    &format!(
                        "'Bob@contoso.com', made by hand in AWS, is not the job's to change, but 1 write(s) named \
                         it:{PATCH_ENGINEERING}"
                    ),
                ),
                miss(
                    "aws_untouched[1]",
                    Some("Sales"),
                    None,
                    "'Sales', made by hand in AWS, should still be there, and is gone",
                ),
            ]
        );
    }

    #[test]
    fn order_safe_replays_the_journal_and_names_each_request_out_of_order() {
        let create = |seq, resource: &str, body: Value, id: &str| {
            let mut created = exchange(seq, "POST", &format!("/t/scim/v2/{resource}"), body, 201);
            created["response"]["body"] = json!({"id": id});
            created
        };
        let add_annie = json!({"Operations": [{"op": "Add", "path": "members", "value": [{"value": "u1"}]}]});
        let with_journal = |journal| Observed { journal: Some(journal), ..observed() };
        let in_order = with_journal(vec![
            create(1, "Users", json!({"userName": "annie@contoso.com"}), "u1"),
            create(2, "Groups", json!({"displayName": "Engineering", "members": [{"value": "u1"}]}), "g1"),
            exchange(3, "PATCH", "/t/scim/v2/Groups/g1", add_annie.clone(), 204),
        ]);
        assert_eq!(misses("order_safe = true", &in_order), []);
        let out_of_order = with_journal(vec![
            create(1, "Groups", json!({"displayName": "Engineering", "members": [{"value": "u1"}]}), "g1"),
            create(2, "Users", json!({"userName": "annie@contoso.com"}), "u1"),
            exchange(3, "PATCH", "/t/scim/v2/Groups/g9", add_annie, 204),
        ]);
        assert_eq!(
            misses("order_safe = true", &out_of_order),
            [
                miss(
                    "order_safe",
                    None,
                    Some("POST /t/scim/v2/Groups"),
                    "order: member u1 added to a group before it existed as a user:\n      POST /t/scim/v2/Groups → 201",
                ),
                miss(
                    "order_safe",
                    None,
                    Some("PATCH /t/scim/v2/Groups/g9"),
                    "order: a PATCH to group g9, which did not exist:\n      PATCH /t/scim/v2/Groups/g9 → 204",
                ),
            ]
        );
    }

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
