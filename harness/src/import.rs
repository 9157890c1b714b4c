//! `harness import-logs FILE`: provisioning logs as a tenant gave them, turned into a scenario that
//! rebuilds the objects they name and expects the outcomes of their first cycle.
//!
//! Read are Graph's `GET /auditLogs/provisioning` answer (`{"value": [...]}`, one page or several,
//! one after another or as JSON Lines), a bare array of entries (what a download of the portal's
//! list gives, inferred: the reference gives no download shape), and entries in the beta shape
//! (`action`, `statusInfo`) as well as v1.0's (`provisioningAction`, `provisioningStatusInfo`)
//! (entra-provisioning.md §6.1).
//!
//! What a log cannot tell is said in the scenario's comments and left at a plain default: a user's
//! given name and surname when the entry's `modifiedProperties` lack them, group memberships (an
//! entry says "added 2", not whom), and AWS's side before the cycle (what was already there).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

/// Why a file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Not JSON, nor JSON Lines.
    #[error("not JSON nor JSON Lines: {0}")]
    Json(String),
    /// JSON, but no provisioning log entry in it.
    #[error(
        "no provisioning log entry in it: expected Graph's {{\"value\": [...]}}, an array of entries, or JSON Lines of \
         either"
    )]
    NoEntries,
}

/// What an import made.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The scenario, as TOML text.
    pub scenario: String,
    /// Entries read.
    pub entries: usize,
    /// Cycles they belong to.
    pub cycles: usize,
    /// Users and groups rebuilt.
    pub objects: usize,
    /// What could not be carried over, one sentence each.
    pub notes: Vec<String>,
}

/// One entry, in the terms both shapes share.
#[derive(Debug, Clone)]
struct Entry {
    when: String,
    cycle: String,
    kind: Kind,
    source_id: String,
    display_name: String,
    action: String,
    status: String,
    error_code: Option<String>,
    properties: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    User,
    Group,
}

/// Reads logs and writes the scenario that rebuilds them; `name` is the scenario's name.
pub fn import_logs(text: &str, name: &str) -> Result<Imported, ImportError> {
    let entries = entries_of(text)?;
    if entries.is_empty() {
        return Err(ImportError::NoEntries);
    }
    let mut entries: Vec<Entry> = entries.iter().filter_map(entry_of).collect();
    if entries.is_empty() {
        return Err(ImportError::NoEntries);
    }
    // Oldest first: Graph lists the newest first (within one instant too), so reversed, then
    // ordered by time, stably.
    entries.reverse();
    entries.sort_by(|a, b| a.when.cmp(&b.when));
    let mut cycles: Vec<&str> = Vec::new();
    for entry in &entries {
        if !cycles.contains(&entry.cycle.as_str()) {
            cycles.push(&entry.cycle);
        }
    }
    let first_cycle = cycles.first().map(|c| (*c).to_owned()).unwrap_or_default();
    let mut notes = Vec::new();
    let mut users: BTreeMap<String, User> = BTreeMap::new(); // by source id
    let mut groups: BTreeMap<String, String> = BTreeMap::new(); // source id -> name
    let mut in_scope: Vec<String> = Vec::new(); // source ids, in order of first sight
    for entry in &entries {
        match entry.kind {
            Kind::User => {
                let Some(upn) = entry
                    .properties
                    .get("userPrincipalName")
                    .cloned()
                    .or_else(|| entry.display_name.contains('@').then(|| entry.display_name.clone()))
                else {
                    note(
                        &mut notes,
                        format!("user {:?}: no userPrincipalName in its entries; left out", entry.display_name),
                    );
                    continue;
                };
                let upn = in_tenant(&upn);
                if !upn.eq_ignore_ascii_case(entry.properties.get("userPrincipalName").unwrap_or(&entry.display_name)) {
                    note(
                        &mut notes,
                        format!("userPrincipalNames are moved to the mock tenant's verified domain, {TENANT_DOMAIN}"),
                    );
                }
                let user = users.entry(entry.source_id.clone()).or_insert_with(|| User::new(upn));
                user.absorb(&entry.properties);
                // AWS requires both names (aws-scim.md §3.2): a create it refused as a bad request,
                // with a name missing from the entry, is rebuilt without it, to be refused again.
                if entry.action == "create" && entry.status == "failure" {
                    user.refused_create |= entry.error_code.as_deref().is_some_and(|c| c.ends_with("BadRequest"));
                }
            }
            Kind::Group => {
                let name = entry.properties.get("displayName").cloned().unwrap_or_else(|| entry.display_name.clone());
                groups.entry(entry.source_id.clone()).or_insert(name);
            }
        }
        if entry.status != "skipped" && !in_scope.contains(&entry.source_id) {
            in_scope.push(entry.source_id.clone());
        }
    }
    if !groups.is_empty() {
        notes.push("group memberships are not in the logs (an entry says how many were added, not whom): groups are rebuilt empty and users assigned directly".to_owned());
    }
    if users.values().any(|u| !u.refused_create && (u.given_name.is_none() || u.surname.is_none())) {
        notes.push(
            "given names and surnames missing from the entries are set to placeholders (AWS requires both)".to_owned(),
        );
    }
    if users.values().any(|u| u.refused_create && (u.given_name.is_none() || u.surname.is_none())) {
        notes.push(
            "a user whose create AWS refused as a bad request keeps the names its entries lack missing".to_owned(),
        );
    }
    if cycles.len() > 1 {
        notes.push(format!(
            "{} cycles in the logs; only the first is expected (what changed in Entra between cycles is not in them)",
            cycles.len()
        ));
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Imported by `harness import-logs` from {} provisioning log entries ({} cycle(s)).",
        entries.len(),
        cycles.len()
    );
    for line in &notes {
        let _ = writeln!(out, "# - {line}.");
    }
    let _ = writeln!(out, "name = {}", lit(name));
    let assigned: Vec<String> = in_scope
        .iter()
        .filter_map(|id| users.get(id).map(|u| u.upn.clone()).or_else(|| groups.get(id).cloned()))
        .collect();
    let _ = writeln!(out, "assignments = [{}]\n", assigned.iter().map(|a| lit(a)).collect::<Vec<_>>().join(", "));
    for user in users.values() {
        let _ = writeln!(out, "[[directory.users]]\nupn = {}", lit(&user.upn));
        let placeholder = |name: &Option<String>, default: &str| match name {
            Some(name) => Some(name.clone()),
            None if user.refused_create => None,
            None => Some(default.to_owned()),
        };
        if let Some(given) = placeholder(&user.given_name, "Imported") {
            let _ = writeln!(out, "given_name = {}", lit(&given));
        }
        if let Some(surname) = placeholder(&user.surname, "User") {
            let _ = writeln!(out, "surname = {}", lit(&surname));
        }
        if let Some(display) = &user.display_name {
            let _ = writeln!(out, "display_name = {}", lit(display));
        }
        if let Some(mail) = &user.mail {
            let _ = writeln!(out, "mail = {}", lit(mail));
        }
        let _ = writeln!(out, "enabled = {}\n", user.enabled);
    }
    for name in groups.values() {
        let _ = writeln!(out, "[[directory.groups]]\nname = {}\nmembers = []\n", lit(name));
    }
    let _ = writeln!(out, "[[steps]]\naction = \"configure\"\n\n[[steps]]\naction = \"start\"\n");
    let _ =
        writeln!(out, "# The first cycle runs when the job starts.\n[[steps]]\naction = \"advance\"\nby = \"PT1M\"\n");
    let mut expected = Vec::new();
    for entry in entries.iter().filter(|e| e.cycle == first_cycle) {
        // Membership updates name no members: rebuilt groups are empty, so none would be sent.
        if entry.action == "update" && entry.properties.keys().all(|k| k == "members") {
            continue;
        }
        let identity = match entry.kind {
            Kind::User => match users.get(&entry.source_id) {
                Some(user) => user.upn.clone(),
                None => continue,
            },
            Kind::Group => groups.get(&entry.source_id).cloned().unwrap_or_else(|| entry.display_name.clone()),
        };
        let mut fields = vec![
            format!("identity = {}", lit(&identity)),
            format!("action = {}", lit(&entry.action)),
            format!("status = {}", lit(&entry.status)),
        ];
        if let Some(code) = &entry.error_code {
            fields.push(format!("error_code = {}", lit(code)));
        }
        let line = format!("  {{ {} }},", fields.join(", "));
        if !expected.contains(&line) {
            expected.push(line);
        }
    }
    let _ = writeln!(out, "[[steps]]\naction = \"expect\"\nlog = [\n{}\n]", expected.join("\n"));
    Ok(Imported {
        scenario: out,
        entries: entries.len(),
        cycles: cycles.len(),
        objects: users.len() + groups.len(),
        notes,
    })
}

/// The mock tenant's verified domain, which every UPN must end in (microsoft-graph.md §2.1).
const TENANT_DOMAIN: &str = "contoso.onmicrosoft.com";

/// A UPN of another tenant, moved to the mock tenant's domain; a guest's (`…#EXT#@…`) keeps its
/// encoded home address.
fn in_tenant(upn: &str) -> String {
    match upn.rsplit_once('@') {
        Some((local, domain)) if !domain.eq_ignore_ascii_case(TENANT_DOMAIN) => format!("{local}@{TENANT_DOMAIN}"),
        _ => upn.to_owned(),
    }
}

fn note(notes: &mut Vec<String>, line: String) {
    if !notes.contains(&line) {
        notes.push(line);
    }
}

/// A rebuilt user.
#[derive(Debug, Clone)]
struct User {
    upn: String,
    given_name: Option<String>,
    surname: Option<String>,
    display_name: Option<String>,
    mail: Option<String>,
    enabled: bool,
    /// AWS refused its create as a bad request.
    refused_create: bool,
}

impl User {
    fn new(upn: String) -> User {
        User {
            upn,
            given_name: None,
            surname: None,
            display_name: None,
            mail: None,
            enabled: true,
            refused_create: false,
        }
    }

    /// The source attributes an entry carries (its `modifiedProperties`' new values).
    fn absorb(&mut self, properties: &BTreeMap<String, String>) {
        let get = |key: &str| properties.get(key).filter(|v| !v.is_empty()).cloned();
        self.given_name = self.given_name.take().or_else(|| get("givenName"));
        self.surname = self.surname.take().or_else(|| get("surname"));
        self.display_name = self.display_name.take().or_else(|| get("displayName"));
        self.mail = self.mail.take().or_else(|| get("mail"));
        if let Some(enabled) = get("accountEnabled") {
            self.enabled = !enabled.eq_ignore_ascii_case("false");
        }
    }
}

/// The entries of Graph's answer (one or several pages), of an array, or of a run of either.
fn entries_of(text: &str) -> Result<Vec<Value>, ImportError> {
    // One document, or several one after another (JSON Lines, or pages saved in a row).
    let documents: Vec<Value> = serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .map_err(|err| ImportError::Json(err.to_string()))?;
    let mut entries = Vec::new();
    for document in documents {
        match document {
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::Object(ref page) if page.contains_key("value") => {
                            entries.extend(page["value"].as_array().cloned().unwrap_or_default())
                        }
                        other => entries.push(other),
                    }
                }
            }
            Value::Object(ref page) if page.contains_key("value") => {
                entries.extend(page["value"].as_array().cloned().unwrap_or_default())
            }
            other @ Value::Object(_) => entries.push(other),
            _ => {}
        }
    }
    Ok(entries)
}

/// One entry in v1.0's or beta's shape; `None` for what is not a user's or group's entry.
fn entry_of(value: &Value) -> Option<Entry> {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let source = &value["sourceIdentity"];
    let kind = match source["identityType"].as_str()?.to_ascii_lowercase().as_str() {
        "user" => Kind::User,
        "group" => Kind::Group,
        _ => return None,
    };
    let action = text(&value["provisioningAction"]).or_else(|| text(&value["action"]))?.to_ascii_lowercase();
    // beta: `statusInfo: {status, errorCode, reason}`; v1.0: `provisioningStatusInfo: {status, errorInformation}`.
    let (status, error_code) = match (&value["provisioningStatusInfo"], &value["statusInfo"]) {
        (info @ Value::Object(_), _) => (text(&info["status"])?, text(&info["errorInformation"]["errorCode"])),
        (_, info @ Value::Object(_)) => (text(&info["status"])?, text(&info["errorCode"])),
        _ => return None,
    };
    let properties = value["modifiedProperties"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((text(&p["displayName"])?, text(&p["newValue"]).unwrap_or_default())))
        .collect();
    Some(Entry {
        when: text(&value["activityDateTime"]).unwrap_or_default(),
        cycle: text(&value["cycleId"]).unwrap_or_default(),
        kind,
        source_id: text(&source["id"]).unwrap_or_default(),
        display_name: text(&source["displayName"]).unwrap_or_default(),
        action,
        status: status.to_ascii_lowercase(),
        error_code: error_code.filter(|c| !c.is_empty()),
        properties,
    })
}

/// A TOML basic string.
fn lit(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUP_FAILURE: &str = r#"{"id":"1","activityDateTime":"2019-06-24T20:53:08Z","cycleId":"c1","changeId":"x",
        "provisioningAction":"create","sourceIdentity":{"id":"g1","displayName":"Self-service Pilot","identityType":"Group"},
        "provisioningStatusInfo":{"status":"failure","errorInformation":{"errorCode":"ContosoEntryConflict"}},
        "modifiedProperties":[{"displayName":"displayName","oldValue":null,"newValue":"Self-service Pilot"}]}"#;

    #[test]
    fn graph_pages_arrays_and_json_lines_are_all_read() {
        let page = format!(r#"{{"value":[{GROUP_FAILURE}]}}"#);
        for text in [page.clone(), format!("[{GROUP_FAILURE}]"), format!("{page}\n{page}\n"), format!("[{page}]")] {
            let imported = import_logs(&text, "t").unwrap();
            assert!(imported.scenario.contains(r#"error_code = "ContosoEntryConflict""#), "{}", imported.scenario);
            assert!(imported.scenario.contains("[[directory.groups]]\nname = \"Self-service Pilot\""));
        }
    }

    #[test]
    fn the_beta_shape_is_read_too() {
        let beta = r##"[{"activityDateTime":"2020-01-01T00:00:00Z","cycleId":"c","action":"Create",
            "sourceIdentity":{"id":"u1","displayName":"Annie Easley","identityType":"User"},
            "statusInfo":{"@odata.type":"#microsoft.graph.statusDetails","status":"failure","errorCode":"EntryConflict"},
            "modifiedProperties":[{"displayName":"userPrincipalName","newValue":"annie@contoso.com"},
              {"displayName":"givenName","newValue":"Annie"},{"displayName":"surname","newValue":"Easley"}]}]"##;
        let imported = import_logs(beta, "t").unwrap();
        let scenario = scenarios::scenario::Scenario::parse("imported.toml", &imported.scenario).unwrap();
        assert_eq!(scenario.directory.users[0].upn.get_ref(), "annie@contoso.onmicrosoft.com");
        assert!(imported.scenario.contains(r#"{ identity = "annie@contoso.onmicrosoft.com", action = "create", status = "failure", error_code = "EntryConflict" }"#));
    }

    #[test]
    fn what_is_not_a_log_is_refused_plainly() {
        assert!(matches!(import_logs("{\"value\": []}", "t"), Err(ImportError::NoEntries)));
        assert!(matches!(import_logs("not json", "t"), Err(ImportError::Json(_))));
        assert!(matches!(import_logs("[1, 2]", "t"), Err(ImportError::NoEntries)));
    }
}
