//! Who is in scope (entra-provisioning.md §2): assignments, "sync all", scoping filters with the
//! portal's operators, and each object's desired values through the mappings. Pure: it reads the
//! directory and the job, and talks to nothing.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::mapping::SourceObject;
use super::plan::{GroupWork, UserWork};
use super::template::{Clause, Mappings, ObjectMapping};
use crate::directory::{Directory, Key, ObjectKind};

/// Why a user is out of scope (§2.2, §2.3, §2.5): named in the skip's log entry, and deciding
/// whether the user stays managed once disabled in the target (§4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutOfScope {
    /// Neither assigned nor in an assigned group.
    NotAssigned,
    /// `accountEnabled` is false.
    Disabled,
    /// Assigned, but a scoping filter leaves it out.
    Filtered,
    /// Gone from the directory: deleted or purged.
    Deleted,
}

impl OutOfScope {
    /// As the log's sentences say it: "it is {…} in Azure Active Directory".
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            OutOfScope::NotAssigned => "not assigned",
            OutOfScope::Disabled => "disabled",
            OutOfScope::Filtered => "out of the scoping filter",
            OutOfScope::Deleted => "deleted",
        }
    }

    /// Whether the user has left the app for good: an unassigned or filtered-out user is no longer
    /// managed once disabled, so no DELETE follows later; a disabled or deleted one still is (§4.4).
    pub(crate) const fn unassigned(self) -> bool {
        matches!(self, OutOfScope::NotAssigned | OutOfScope::Filtered)
    }
}

/// The scope of one directory object under a job's settings (§2).
pub struct Scope<'a> {
    pub(crate) dir: &'a Directory,
    pub(crate) sp_id: &'a str,
    pub(crate) sync_all: bool,
    pub(crate) mappings: &'a Mappings,
}

pub(crate) fn clause_holds(clause: &Clause, object: &SourceObject<'_>) -> bool {
    let value = object.attribute(&clause.attribute);
    let first = clause.values.first().cloned().unwrap_or_default();
    match clause.operator.to_ascii_uppercase().as_str() {
        "IS NULL" => value.is_none(),
        "IS NOT NULL" => value.is_some(),
        "IS TRUE" => value.is_some_and(|v| v.eq_ignore_ascii_case("true")),
        "IS FALSE" => value.is_some_and(|v| v.eq_ignore_ascii_case("false")),
        // Filters are false on null (§2.3); EQUALS and Includes are case-sensitive.
        "EQUALS" => value.is_some_and(|v| clause.values.contains(&v)),
        "NOT EQUALS" => value.is_some_and(|v| !clause.values.contains(&v)),
        "INCLUDES" => value.is_some_and(|v| v.contains(&first)),
        "ENDS_WITH" => value.is_some_and(|v| v.ends_with(&first)),
        "&" => {
            value.and_then(|v| v.parse::<i64>().ok()).zip(first.parse::<i64>().ok()).is_some_and(|(v, m)| v & m == m)
        }
        "!&" => {
            value.and_then(|v| v.parse::<i64>().ok()).zip(first.parse::<i64>().ok()).is_some_and(|(v, m)| v & m != m)
        }
        "GREATER_THAN" => {
            value.and_then(|v| v.parse::<i64>().ok()).zip(first.parse::<i64>().ok()).is_some_and(|(v, m)| v > m)
        }
        "GREATER_THAN_OR_EQUALS" => {
            value.and_then(|v| v.parse::<i64>().ok()).zip(first.parse::<i64>().ok()).is_some_and(|(v, m)| v >= m)
        }
        // "NOT REGEX MATCH (false if null)" (§2.3): null fails both. A search, not a whole-value
        // match, and case-sensitive, as .NET's `Regex.IsMatch` (inferred). The pattern was checked
        // when the schema was saved (`template::read_mappings`).
        "REGEX MATCH" => value.is_some_and(|v| scoping_regex(&first).is_some_and(|re| re.is_match(&v))),
        "NOT REGEX MATCH" => value.is_some_and(|v| scoping_regex(&first).is_some_and(|re| !re.is_match(&v))),
        _ => false,
    }
}

/// A scoping pattern, compiled once per thread: a cycle evaluates its clauses for every object.
/// `None` for a pattern that does not compile, which then matches nothing.
pub(crate) fn scoping_regex(pattern: &str) -> Option<regex::Regex> {
    thread_local! {
        static COMPILED: std::cell::RefCell<BTreeMap<String, Option<regex::Regex>>> =
            const { std::cell::RefCell::new(BTreeMap::new()) };
    }
    COMPILED.with(|compiled| {
        compiled.borrow_mut().entry(pattern.to_owned()).or_insert_with(|| regex::Regex::new(pattern).ok()).clone()
    })
}

/// Scoping filters: AND within a filter, OR across filters; no filter means in scope (§2.3).
pub(crate) fn passes(mapping: &ObjectMapping, object: &SourceObject<'_>) -> bool {
    mapping.scope.is_empty() || mapping.scope.iter().any(|group| group.iter().all(|c| clause_holds(c, object)))
}

/// A user's manager, for the reference pass after the users are exported (§4.2 step 6).
#[derive(Debug, Clone)]
pub(crate) struct ManagerRef {
    /// The SCIM path the mapping writes: `urn:…:enterprise:2.0:User:manager`.
    pub(crate) path: String,
    /// The manager's Entra id.
    pub(crate) id: String,
    /// Whether the manager is in scope itself: one out of scope is never linked (§4.3).
    pub(crate) in_scope: bool,
}

impl Scope<'_> {
    /// Whether a user still in the directory is in scope, and if not why (§2.2, §2.3, §2.5).
    pub(crate) fn user_scope(&self, key: Key, props: &Map<String, Value>) -> Option<OutOfScope> {
        let source = SourceObject { properties: props, soft_deleted: false };
        if !self.user_assigned(key) {
            Some(OutOfScope::NotAssigned)
        } else if props.get("accountEnabled").and_then(Value::as_bool) != Some(true) {
            // "Provisioning a user that is disabled in Microsoft Entra ID isn't supported." (§2.5)
            Some(OutOfScope::Disabled)
        } else if !passes(&self.mappings.users, &source) {
            Some(OutOfScope::Filtered)
        } else {
            None
        }
    }

    /// The user's manager as Graph shows it (none while the manager is in deleted items), when a
    /// user mapping reads `[manager]`.
    pub(crate) fn manager_reference(&self, key: Option<Key>) -> Option<ManagerRef> {
        let mapping = self.mappings.users.attributes.iter().find(|m| m.reference() == Some("manager"))?;
        let manager = self.dir.manager_of(key?)?;
        let props = self.dir.users.get(&manager)?;
        Some(ManagerRef {
            path: mapping.target.clone(),
            id: self.dir.object_id(ObjectKind::User, manager),
            in_scope: self.user_scope(manager, props).is_none(),
        })
    }
}

impl Scope<'_> {
    pub(crate) fn assigned_directly(&self, key: Key) -> bool {
        self.dir.assignments_of(key).any(|(_, a)| a.get("resourceId").and_then(Value::as_str) == Some(self.sp_id))
    }

    /// Assigned, or a direct member of an assigned group (§2.2), or everything under SyncAll.
    pub fn user_assigned(&self, key: Key) -> bool {
        self.sync_all || self.assigned_directly(key) || self.dir.groups_of(key).any(|g| self.assigned_directly(g))
    }

    /// Whether a group is provisioned: assigned directly, or everything under SyncAll.
    pub fn group_assigned(&self, key: Key) -> bool {
        self.sync_all || self.assigned_directly(key)
    }

    pub(crate) fn user(&self, key: Option<Key>, id: &str, import_kind: &'static str) -> UserWork {
        let object = key.and_then(|k| self.dir.users.get(&k));
        let why_out = match object {
            None => Some(OutOfScope::Deleted),
            Some(props) => self.user_scope(key.unwrap_or_default(), props),
        };
        let in_scope = why_out.is_none();
        let empty = Map::new();
        // A deleted or purged user is named by its last known properties: logs name the identity
        // even once Graph no longer has it (§6.1, inferred).
        let props = object.or_else(|| self.dir.last_known_user(id)).unwrap_or(&empty);
        let source = SourceObject { properties: props, soft_deleted: !in_scope };
        let mut desired = BTreeMap::new();
        let mut create_only = BTreeMap::new();
        let mut matching = Vec::new();
        let mut mappings: Vec<_> = self.mappings.users.attributes.iter().collect();
        mappings.sort_by_key(|m| if m.matching_priority == 0 { u32::MAX } else { m.matching_priority });
        for mapping in mappings {
            if mapping.reference().is_some() {
                // Linked after the users are exported, never in the create body (`link_managers`).
                continue;
            }
            let value = mapping.value(&source);
            if mapping.matching_priority > 0
                && let Some(value) = &value
            {
                matching.push((mapping.target.clone(), value.clone()));
            }
            match (value, &mapping.default_value) {
                // Null values are never provisioned (§3.3); a default value only on create.
                (Some(value), _) if mapping.add_only => {
                    create_only.insert(mapping.target.clone(), value);
                }
                (Some(value), _) => {
                    desired.insert(mapping.target.clone(), value);
                }
                (None, Some(default)) => {
                    create_only.insert(mapping.target.clone(), default.clone());
                }
                (None, None) => {}
            }
        }
        let upn = props.get("userPrincipalName").and_then(Value::as_str).unwrap_or(id).to_owned();
        let modified = ["objectId", "userPrincipalName", "displayName", "accountEnabled", "IsSoftDeleted"]
            .iter()
            .map(|name| (name.to_string(), None, source.attribute(name)))
            .collect();
        UserWork {
            key,
            id: id.to_owned(),
            upn,
            in_scope,
            why_out,
            desired,
            create_only,
            matching,
            modified,
            import_kind,
            purged: false,
            manager: self.manager_reference(key),
        }
    }

    pub(crate) fn group(&self, key: Option<Key>, id: &str, import_kind: &'static str) -> GroupWork {
        let object = key.and_then(|k| self.dir.groups.get(&k));
        let empty = Map::new();
        let props = object.unwrap_or(&empty);
        let source = SourceObject { properties: props, soft_deleted: false };
        let in_scope = self.mappings.groups.enabled
            && object.is_some()
            && key.is_some_and(|k| self.group_assigned(k))
            && passes(&self.mappings.groups, &source);
        let mut desired = BTreeMap::new();
        for mapping in &self.mappings.groups.attributes {
            if let Some(value) = mapping.value(&source) {
                desired.insert(mapping.target.clone(), value);
            }
        }
        let members = match key {
            Some(k) if self.mappings.groups.members => self
                .dir
                .members_of(k)
                .filter(|(kind, _)| *kind == ObjectKind::User)
                .map(|(kind, member)| self.dir.object_id(kind, member))
                .collect(),
            _ => BTreeSet::new(),
        };
        let name = props.get("displayName").and_then(Value::as_str).unwrap_or(id).to_owned();
        let modified = ["objectId", "displayName", "mailEnabled", "mailNickname", "securityEnabled"]
            .iter()
            .map(|n| (n.to_string(), None, source.attribute(n)))
            .collect();
        GroupWork { id: id.to_owned(), name, in_scope, desired, members, modified, import_kind }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::provisioning::template::read_mappings;

    fn now() -> jiff::Timestamp {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    fn user(upn: &str, extra: Value) -> Map<String, Value> {
        let mut user = json!({"accountEnabled": true, "displayName": upn, "mailNickname": upn.split('@').next(),
            "userPrincipalName": upn, "passwordProfile": {"password": "x"}})
        .as_object()
        .unwrap()
        .clone();
        user.extend(extra.as_object().unwrap().clone());
        user
    }

    /// A directory with the AWS app's service principal `sp` and users assigned to it directly.
    fn directory(users: &[(&str, Value, bool)]) -> (Directory, Vec<Key>) {
        let mut dir = Directory::new("contoso.com");
        let sp = dir.key();
        dir.register("sp", ObjectKind::ServicePrincipal, sp);
        dir.service_principals.insert(sp, json!({"id": "sp"}).as_object().unwrap().clone());
        let mut keys = Vec::new();
        for (i, (upn, extra, assigned)) in users.iter().enumerate() {
            let key = dir.create_user(format!("u{i}"), now(), user(upn, extra.clone())).unwrap();
            if *assigned {
                let assignment = json!({"id": format!("a{i}"), "principalId": format!("u{i}"), "resourceId": "sp"});
                let assignment_key = dir.key();
                dir.insert_assignment(assignment_key, key, sp, assignment.as_object().unwrap().clone());
            }
            keys.push(key);
        }
        (dir, keys)
    }

    #[test]
    fn a_user_in_scope_gets_its_desired_values_its_matching_values_in_order_and_create_only_ones() {
        let mut schema = super::super::template::default_schema();
        let users = &mut schema["synchronizationRules"][0]["objectMappings"][0]["attributeMappings"];
        for m in users.as_array_mut().unwrap() {
            match m["targetAttributeName"].as_str().unwrap() {
                "externalId" => m["matchingPriority"] = json!(1),
                "userName" => m["matchingPriority"] = json!(2),
                "title" => m["flowType"] = json!("ObjectAddOnly"),
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department" => {
                    m["defaultValue"] = json!("Unassigned")
                }
                _ => {}
            }
        }
        let mappings = read_mappings(&schema).unwrap();
        let (dir, keys) =
            directory(&[("annie@contoso.com", json!({"givenName": "Annie", "jobTitle": "Engineer"}), true)]);
        let scope = Scope { dir: &dir, sp_id: "sp", sync_all: false, mappings: &mappings };
        let work = scope.user(Some(keys[0]), "u0", "Add");
        assert!(work.in_scope);
        assert_eq!(
            work.matching,
            [("externalId".to_owned(), "annie".to_owned()), ("userName".to_owned(), "annie@contoso.com".to_owned())],
            "lowest matchingPriority first (§3.3)"
        );
        assert_eq!(work.desired["active"], "True");
        assert_eq!(work.desired["name.givenName"], "Annie");
        assert!(!work.desired.contains_key("name.familyName"), "null values are never provisioned (§3.3)");
        assert!(!work.desired.contains_key("title"), "only during creation");
        assert_eq!(work.create_only["title"], "Engineer");
        assert_eq!(
            work.create_only["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"], "Unassigned",
            "a default value, on create only"
        );
    }

    #[test]
    fn a_user_out_of_scope_says_why_and_is_soft_deleted_in_its_values() {
        let mut schema = super::super::template::default_schema();
        schema["synchronizationRules"][0]["objectMappings"][0]["scope"] = json!({"groups": [{"clauses": [
            {"operatorName": "EQUALS", "sourceOperandName": "department", "targetOperand": {"values": ["Ops"]}}
        ]}]});
        let mappings = read_mappings(&schema).unwrap();
        let (dir, keys) = directory(&[
            ("in@contoso.com", json!({"department": "Ops"}), true),
            ("unassigned@contoso.com", json!({"department": "Ops"}), false),
            ("disabled@contoso.com", json!({"department": "Ops", "accountEnabled": false}), true),
            ("filtered@contoso.com", json!({"department": "Sales"}), true),
        ]);
        let scope = Scope { dir: &dir, sp_id: "sp", sync_all: false, mappings: &mappings };
        let why: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let work = scope.user(Some(*key), &format!("u{i}"), "Update");
                (work.in_scope, work.why_out, work.desired.get("active").cloned())
            })
            .collect();
        assert_eq!(
            why,
            [
                (true, None, Some("True".into())),
                (false, Some(OutOfScope::NotAssigned), Some("False".into())),
                (false, Some(OutOfScope::Disabled), Some("False".into())),
                (false, Some(OutOfScope::Filtered), Some("False".into())),
            ]
        );
        let everyone = Scope { dir: &dir, sp_id: "sp", sync_all: true, mappings: &mappings };
        assert!(everyone.user(Some(keys[1]), "u1", "Update").in_scope, "sync all ignores assignments (§2.1)");
        assert!(!scope.user(None, "gone", "Delete").in_scope, "deleted");
    }

    #[test]
    fn scoping_clauses_are_anded_within_and_ored_across_filters() {
        let props = json!({"department": "Ops", "jobTitle": null, "accountEnabled": true}).as_object().unwrap().clone();
        let object = SourceObject { properties: &props, soft_deleted: false };
        let clause = |attribute: &str, operator: &str, values: &[&str]| Clause {
            attribute: attribute.into(),
            operator: operator.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        let mapping = |scope| ObjectMapping { enabled: true, attributes: Vec::new(), members: false, scope };
        assert!(passes(
            &mapping(vec![vec![clause("department", "EQUALS", &["Ops"]), clause("accountEnabled", "IS TRUE", &[])]]),
            &object
        ));
        assert!(!passes(
            &mapping(vec![vec![clause("department", "EQUALS", &["Ops"]), clause("jobTitle", "IS NOT NULL", &[])]]),
            &object
        ));
        assert!(passes(
            &mapping(vec![vec![clause("department", "EQUALS", &["Sales"])], vec![clause("jobTitle", "IS NULL", &[])]]),
            &object
        ));
        assert!(
            !passes(&mapping(vec![vec![clause("jobTitle", "NOT EQUALS", &["x"])]]), &object),
            "null fails every comparison"
        );
    }

    #[test]
    fn regex_clauses_search_case_sensitively_and_are_false_on_null() {
        let props = json!({"department": "Ops-42", "jobTitle": null}).as_object().unwrap().clone();
        let object = SourceObject { properties: &props, soft_deleted: false };
        let holds = |attribute: &str, operator: &str, pattern: &str| {
            let clause =
                Clause { attribute: attribute.into(), operator: operator.into(), values: vec![pattern.into()] };
            clause_holds(&clause, &object)
        };
        assert!(holds("department", "REGEX MATCH", "[1-9][0-9]"), "a search, not a whole-value match");
        assert!(holds("department", "REGEX MATCH", "^Ops-[0-9]+$"));
        assert!(!holds("department", "REGEX MATCH", "^ops"), "case-sensitive");
        assert!(holds("department", "Regex Match", "Ops"), "operator names compare without case");
        assert!(holds("department", "NOT REGEX MATCH", "^Sales"));
        assert!(!holds("department", "NOT REGEX MATCH", "Ops"));
        assert!(!holds("jobTitle", "REGEX MATCH", ".*"), "null fails");
        assert!(!holds("jobTitle", "NOT REGEX MATCH", "x"), "NOT REGEX MATCH (false if null), §2.3");
        assert!(!holds("department", "REGEX MATCH", "("), "a pattern that does not compile matches nothing");
        assert!(!holds("department", "NOT REGEX MATCH", "("), "nor fails to match");
    }

    #[test]
    fn a_schema_with_a_broken_scoping_regex_is_refused_where_the_pattern_is() {
        let mut schema = super::super::template::default_schema();
        schema["synchronizationRules"][0]["objectMappings"][0]["scope"] = json!({"groups": [{"clauses": [
            {"operatorName": "REGEX MATCH", "sourceOperandName": "department", "targetOperand": {"values": ["^Ops"]}},
            {"operatorName": "NOT REGEX MATCH", "sourceOperandName": "jobTitle", "targetOperand": {"values": ["(intern"]}}
        ]}]});
        let problems = read_mappings(&schema).unwrap_err();
        assert_eq!(
            problems,
            ["synchronizationRules[0].objectMappings[0].scope.groups[0].clauses[1].targetOperand.values[0]: \
                 invalid regular expression \"(intern\": error: unclosed group"]
        );
        schema["synchronizationRules"][0]["objectMappings"][0]["scope"]["groups"][0]["clauses"][1]["targetOperand"] =
            json!({"values": ["^intern"]});
        assert!(read_mappings(&schema).is_ok());
    }
}
