//! PATCH as AWS accepts it and as real clients send it (aws-scim.md §2.5, §2.6, §3.3):
//! case-insensitive `op`, value-filter paths such as `emails[type eq "work"].value`, enterprise
//! extension paths, pathless single-attribute replace, member add and remove by value list or by
//! `members[value eq "…"]`.
//!
//! Users are patched on their JSON form and re-validated as a whole afterwards, so a PATCH can never
//! leave a user that a POST would have refused. Groups are patched into a [`GroupChange`] list.

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::model::{ENTERPRISE_URN, PATCH_URN, USER_URN, parse_bool};
use crate::validate::MAX_MEMBER_CHANGES;

/// The pathless-PATCH refusal, verbatim from an AWS body (authentik#12321, aws-scim.md §3.3).
pub const PATHLESS_DETAIL: &str = "Current PATCH support allows omitting \"path\" attribute only for Add and Replace operations modifying a single attribute.";
/// The members-replace refusal, verbatim from an AWS body (keycloak-scim#73, aws-scim.md §3.3).
pub const REPLACE_MEMBERS_DETAIL: &str = "Replacing group memberships is not supported.";

/// A PATCH operation's verb, matched case-insensitively: Entra sends `Add`, `Replace`, `Remove`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `add`.
    Add,
    /// `replace`.
    Replace,
    /// `remove`.
    Remove,
}

/// A parsed attribute path: `[urn:]attribute[[filterAttr eq "v"]][.sub]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// Whether the path is under the enterprise extension.
    pub enterprise: bool,
    /// The attribute, in the case the client wrote it.
    pub attribute: String,
    /// A value filter: attribute and value compared with `eq`.
    pub filter: Option<(String, Value)>,
    /// A sub-attribute.
    pub sub: Option<String>,
}

/// One operation of a PatchOp body.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// The verb.
    pub op: Op,
    /// The target; `None` for a pathless operation.
    pub path: Option<Path>,
    /// The value; required for add and replace.
    pub value: Option<Value>,
}

fn schema_error(message: impl Into<String>) -> ScimError {
    ScimError::validation(message)
}

/// Parses a PatchOp body: `schemas` holding the PatchOp URN and a non-empty `Operations` array.
pub fn parse(body: &Value) -> Result<Vec<Operation>, ScimError> {
    let object = body.as_object().ok_or_else(|| schema_error("Invalid JSON from RequestBody"))?;
    let mut operations = None;
    let mut has_urn = false;
    for (key, value) in object {
        match key.as_str() {
            "schemas" => has_urn = value.as_array().is_some_and(|a| a.iter().any(|s| s == PATCH_URN)),
            "Operations" | "operations" => operations = Some(value),
            other => return Err(schema_error(format!("Unknown attribute in PATCH request: {other}"))),
        }
    }
    if !has_urn {
        return Err(schema_error("PATCH request must declare the PatchOp schema"));
    }
    let operations = operations
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| schema_error("PATCH request must contain Operations"))?;
    operations.iter().map(operation).collect()
}

fn operation(value: &Value) -> Result<Operation, ScimError> {
    let object = value.as_object().ok_or_else(|| schema_error("PATCH operation must be an object"))?;
    let mut op = None;
    let mut path = None;
    let mut op_value = None;
    for (key, value) in object {
        match key.as_str() {
            "op" => op = value.as_str(),
            "path" => path = Some(value.as_str().ok_or_else(|| schema_error("PATCH path must be a string"))?),
            "value" => op_value = Some(value.clone()),
            other => return Err(schema_error(format!("Unknown attribute in PATCH operation: {other}"))),
        }
    }
    // "The operation must be specified." (patchuser.html)
    let op = match op.map(str::to_ascii_lowercase).as_deref() {
        Some("add") => Op::Add,
        Some("replace") => Op::Replace,
        Some("remove") => Op::Remove,
        _ => return Err(schema_error("The operation must be specified.")),
    };
    let path = path.map(parse_path).transpose()?;
    match (op, &path, &op_value) {
        // CloudTrail: "Missing path in PATCH request" (aws-scim.md §3.3).
        (Op::Remove, None, _) => Err(schema_error("Missing path in PATCH request")),
        // "A value is required for add and replace." (patchuser.html)
        (Op::Add | Op::Replace, _, None) => Err(schema_error("A value is required for add and replace.")),
        _ => Ok(Operation { op, path, value: op_value }),
    }
}

/// The longest PATCH path read, in bytes. Inferred: AWS documents none; the longest real path, an
/// enterprise URN with a sub-attribute or `members[value eq "<id>"]`, is under 100.
pub const MAX_PATH_LENGTH: usize = 1024;

/// Parses `emails[type eq "work"].value`, `name.givenName`,
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`. Iterative: at most one
/// value filter, never nested (`a[b[c eq "x"] eq "y"]` is refused), no longer than
/// [`MAX_PATH_LENGTH`].
pub fn parse_path(raw: &str) -> Result<Path, ScimError> {
    if raw.len() > MAX_PATH_LENGTH {
        return Err(schema_error(format!("Invalid path in PATCH request: longer than {MAX_PATH_LENGTH} characters")));
    }
    let bad = || schema_error(format!("Invalid path in PATCH request: {raw}"));
    if raw.matches('[').count() > 1 || raw.matches(']').count() > 1 {
        return Err(bad());
    }
    let mut enterprise = false;
    let mut rest = raw.trim();
    if let Some(tail) = strip_prefix_ci(rest, ENTERPRISE_URN) {
        enterprise = true;
        rest = tail.strip_prefix(':').ok_or_else(bad)?;
    } else if let Some(tail) = strip_prefix_ci(rest, USER_URN) {
        rest = tail.strip_prefix(':').ok_or_else(bad)?;
    }
    let (head, filter, tail) = match rest.find('[') {
        Some(open) => {
            let close = rest.find(']').filter(|&c| c > open).ok_or_else(bad)?;
            let filter = value_filter(&rest[open + 1..close]).ok_or_else(bad)?;
            (&rest[..open], Some(filter), &rest[close + 1..])
        }
        None => (rest, None, ""),
    };
    let (attribute, sub) = match (filter.is_some(), head.split_once('.')) {
        (false, Some((attribute, sub))) => (attribute, Some(sub)),
        (true, Some(_)) => return Err(bad()),
        (_, None) => (head, tail.strip_prefix('.').filter(|s| !s.is_empty())),
    };
    if filter.is_some() && !tail.is_empty() && sub.is_none() {
        return Err(bad());
    }
    let ident = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '$' || c == '_');
    if !ident(attribute) || sub.is_some_and(|s| !ident(s)) {
        return Err(bad());
    }
    Ok(Path { enterprise, attribute: attribute.to_owned(), filter, sub: sub.map(str::to_owned) })
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len() && s.is_char_boundary(prefix.len()) && s[..prefix.len()].eq_ignore_ascii_case(prefix))
        .then(|| &s[prefix.len()..])
}

/// `type eq "work"`, `value eq "id"`, `primary eq true`: only `eq` (patchuser.html).
fn value_filter(s: &str) -> Option<(String, Value)> {
    let mut parts = s.trim().splitn(3, char::is_whitespace);
    let attribute = parts.next()?;
    let operator = parts.next()?;
    let value = parts.next()?.trim();
    let ident = !attribute.is_empty() && attribute.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if !operator.eq_ignore_ascii_case("eq") || !ident {
        return None;
    }
    let value = if let Some(quoted) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Value::String(quoted.replace("\\\"", "\""))
    } else {
        Value::Bool(parse_bool(value)?)
    };
    Some((attribute.to_owned(), value))
}

/// User attributes a PATCH may touch (patchuser.html), in their canonical case.
const USER_PATCHABLE: &[&str] = &[
    "userName",
    "active",
    "externalId",
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "name",
    "emails",
    "addresses",
    "phoneNumbers",
];
const ENTERPRISE_ATTRIBUTES: &[&str] =
    &["employeeNumber", "costCenter", "organization", "division", "department", "manager"];

fn canonical(name: &str, names: &[&'static str]) -> Option<&'static str> {
    names.iter().copied().find(|n| n.eq_ignore_ascii_case(name))
}

/// Turns a pathless operation into one with a path: its value must name exactly one attribute
/// (`id` and `schemas` aside, as AWS's own example sends `id` alongside `displayName`).
fn resolve_pathless(op: &Operation) -> Result<Vec<Operation>, ScimError> {
    let Some(object) = op.value.as_ref().and_then(Value::as_object) else {
        return Err(ScimError::bad_request(PATHLESS_DETAIL));
    };
    let attributes: Vec<_> = object.iter().filter(|(k, _)| !matches!(k.as_str(), "id" | "schemas")).collect();
    let [(key, value)] = attributes.as_slice() else {
        return Err(ScimError::bad_request(PATHLESS_DETAIL));
    };
    if key.eq_ignore_ascii_case(ENTERPRISE_URN) {
        // The extension object as a whole: one operation per field inside it.
        let inner = value.as_object().ok_or_else(|| schema_error("Enterprise extension must be an object"))?;
        return Ok(inner
            .iter()
            .map(|(k, v)| Operation {
                op: op.op,
                path: Some(Path { enterprise: true, attribute: k.clone(), filter: None, sub: None }),
                value: Some(v.clone()),
            })
            .collect());
    }
    Ok(vec![Operation { op: op.op, path: Some(parse_path(key)?), value: Some((*value).clone()) }])
}

/// Applies operations to a user's JSON form. The caller re-validates the result.
pub fn apply_to_user(user: &mut Value, operations: &[Operation]) -> Result<(), ScimError> {
    let mut resolved = Vec::new();
    for op in operations {
        match op.path {
            Some(_) => resolved.push(op.clone()),
            None => resolved.extend(resolve_pathless(op)?),
        }
    }
    let mut touches = [0usize; 2];
    for op in &resolved {
        let Some(path) = &op.path else { continue };
        if path.enterprise {
            if canonical(&path.attribute, ENTERPRISE_ATTRIBUTES).is_none() {
                return Err(schema_error(format!("Unsupported attribute in PATCH request: {}", path.attribute)));
            }
            continue;
        }
        let attribute = canonical(&path.attribute, USER_PATCHABLE)
            .ok_or_else(|| schema_error(format!("Unsupported attribute in PATCH request: {}", path.attribute)))?;
        for (slot, name) in ["userName", "active"].iter().enumerate() {
            if attribute == *name {
                touches[slot] += 1;
                // "The remove patch operation is not supported for userName or active attributes."
                if op.op == Op::Remove {
                    return Err(schema_error(format!("The remove patch operation is not supported for {name}")));
                }
            }
        }
    }
    // "Multiple PATCH operations on userName or active attribute" are not supported (patchuser.html).
    if touches.iter().any(|&n| n > 1) {
        return Err(schema_error("Multiple PATCH operations on userName or active attribute are not supported"));
    }
    let root = user.as_object_mut().ok_or_else(|| schema_error("user is not an object"))?;
    for op in &resolved {
        let Some(path) = &op.path else { continue };
        let container = if path.enterprise {
            let ext = root.entry(ENTERPRISE_URN).or_insert_with(|| Value::Object(Map::new()));
            if !ext.is_object() {
                *ext = Value::Object(Map::new());
            }
            ext.as_object_mut().ok_or_else(|| schema_error("enterprise extension is not an object"))?
        } else {
            &mut *root
        };
        let names = if path.enterprise { ENTERPRISE_ATTRIBUTES } else { USER_PATCHABLE };
        let attribute = canonical(&path.attribute, names).unwrap_or("");
        apply_one(container, attribute, path, op.op, op.value.clone())?;
    }
    if let Some(Value::Object(ext)) = root.get(ENTERPRISE_URN)
        && ext.is_empty()
    {
        root.remove(ENTERPRISE_URN);
    }
    Ok(())
}

fn apply_one(
    container: &mut Map<String, Value>,
    attribute: &str,
    path: &Path,
    op: Op,
    value: Option<Value>,
) -> Result<(), ScimError> {
    match (&path.filter, &path.sub) {
        (None, None) => match op {
            Op::Remove => {
                container.remove(attribute);
            }
            Op::Add | Op::Replace => {
                let value = value.unwrap_or(Value::Null);
                match (container.get_mut(attribute), value) {
                    // Complex attributes merge their sub-attributes (RFC 7644 §3.5.2.1/3).
                    (Some(Value::Object(existing)), Value::Object(new)) => existing.extend(new),
                    // Add to a multi-valued attribute appends; the single-value rule then refuses a second.
                    (Some(Value::Array(existing)), Value::Array(new)) if op == Op::Add => existing.extend(new),
                    (_, value) => {
                        container.insert(attribute.to_owned(), value);
                    }
                }
            }
        },
        (None, Some(sub)) => {
            let entry = container.entry(attribute).or_insert_with(|| Value::Object(Map::new()));
            let object = entry.as_object_mut().ok_or_else(|| schema_error(format!("{attribute} is not complex")))?;
            set_or_remove(object, sub, op, value);
        }
        (Some((filter_attr, filter_value)), sub) => {
            let entry = container.entry(attribute).or_insert_with(|| Value::Array(Vec::new()));
            let list = entry.as_array_mut().ok_or_else(|| schema_error(format!("{attribute} is not multi-valued")))?;
            let matches = |item: &Value| item.get(filter_attr).is_some_and(|v| loosely_equal(v, filter_value));
            match (op, sub) {
                (Op::Remove, None) => list.retain(|item| !matches(item)),
                (_, Some(sub)) => {
                    let mut hit = false;
                    for item in list.iter_mut().filter(|item| matches(item)) {
                        hit = true;
                        if let Some(object) = item.as_object_mut() {
                            set_or_remove(object, sub, op, value.clone());
                        }
                    }
                    // Entra adds a work email to a user that had none this way (aws-scim.md §2.6).
                    if !hit && op != Op::Remove {
                        let mut object = Map::new();
                        object.insert(filter_attr.clone(), filter_value.clone());
                        set_or_remove(&mut object, sub, op, value);
                        list.push(Value::Object(object));
                    }
                }
                (Op::Add | Op::Replace, None) => {
                    let Some(Value::Object(new)) = value else {
                        return Err(schema_error(format!("{attribute} filter value must be an object")));
                    };
                    let mut hit = false;
                    for item in list.iter_mut().filter(|item| matches(item)) {
                        hit = true;
                        if let Some(object) = item.as_object_mut() {
                            object.extend(new.clone());
                        }
                    }
                    if !hit {
                        let mut object = new;
                        object.insert(filter_attr.clone(), filter_value.clone());
                        list.push(Value::Object(object));
                    }
                }
            }
            if list.is_empty() {
                container.remove(attribute);
            }
        }
    }
    Ok(())
}

fn set_or_remove(object: &mut Map<String, Value>, key: &str, op: Op, value: Option<Value>) {
    match op {
        Op::Remove => {
            object.remove(key);
        }
        Op::Add | Op::Replace => {
            object.insert(key.to_owned(), value.unwrap_or(Value::Null));
        }
    }
}

/// Filter comparison: strings case-insensitively (`type` is not case-exact), booleans also as strings.
fn loosely_equal(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::String(a), Value::Bool(b)) | (Value::Bool(b), Value::String(a)) => parse_bool(a) == Some(*b),
        _ => false,
    }
}

/// A change to a group, in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupChange {
    /// New displayName.
    DisplayName(String),
    /// New externalId, or none.
    ExternalId(Option<String>),
    /// Add these user ids.
    AddMembers(Vec<String>),
    /// Remove these user ids.
    RemoveMembers(Vec<String>),
}

/// Turns PATCH operations into group changes (patchgroup.html): only `displayName`, `members` and
/// `externalId`; no members `replace` or remove-all; at most 100 membership changes.
pub fn group_changes(operations: &[Operation]) -> Result<Vec<GroupChange>, ScimError> {
    let mut resolved = Vec::new();
    for op in operations {
        match op.path {
            Some(_) => resolved.push(op.clone()),
            None => resolved.extend(resolve_pathless(op)?),
        }
    }
    let mut changes = Vec::new();
    let mut member_changes = 0;
    for op in &resolved {
        let Some(path) = &op.path else { continue };
        let attribute =
            if path.enterprise { None } else { canonical(&path.attribute, &["displayName", "externalId", "members"]) };
        // "Only displayName, members, and externalId attributes are allowed in the request."
        let Some(attribute) = attribute else {
            return Err(schema_error(format!("Unsupported attribute in PATCH request: {}", path.attribute)));
        };
        match (attribute, op.op, &path.filter, &path.sub) {
            ("displayName", Op::Add | Op::Replace, None, None) => {
                changes.push(GroupChange::DisplayName(string_value(op.value.as_ref(), "displayName")?));
            }
            ("externalId", Op::Add | Op::Replace, None, None) => {
                changes.push(GroupChange::ExternalId(Some(string_value(op.value.as_ref(), "externalId")?)));
            }
            ("externalId", Op::Remove, None, None) => changes.push(GroupChange::ExternalId(None)),
            ("members", Op::Replace, _, _) => return Err(ScimError::bad_request(REPLACE_MEMBERS_DETAIL)),
            ("members", Op::Add, None, None) => {
                let ids = member_values(op.value.as_ref())?;
                member_changes += ids.len();
                changes.push(GroupChange::AddMembers(ids));
            }
            ("members", Op::Remove, None, None) => {
                // "If you attempt to replace or remove all group memberships … ValidationException."
                let ids = match &op.value {
                    None => return Err(ScimError::bad_request(REPLACE_MEMBERS_DETAIL)),
                    Some(value) => member_values(Some(value))?,
                };
                if ids.is_empty() {
                    return Err(ScimError::bad_request(REPLACE_MEMBERS_DETAIL));
                }
                member_changes += ids.len();
                changes.push(GroupChange::RemoveMembers(ids));
            }
            ("members", Op::Remove, Some((filter_attr, Value::String(id))), None)
                if filter_attr.eq_ignore_ascii_case("value") =>
            {
                member_changes += 1;
                changes.push(GroupChange::RemoveMembers(vec![id.clone()]));
            }
            _ => return Err(schema_error(format!("Unsupported PATCH operation on group attribute {attribute}"))),
        }
    }
    // "A maximum of 100 membership changes are allowed in a single request." (patchgroup.html; the
    // generic detail was observed, idp-scim-sync#62)
    if member_changes > MAX_MEMBER_CHANGES {
        return Err(ScimError::validation(format!(
            "Value at 'members' failed to satisfy constraint: Member must have length less than or equal to {MAX_MEMBER_CHANGES}"
        )));
    }
    Ok(changes)
}

fn string_value(value: Option<&Value>, attribute: &str) -> Result<String, ScimError> {
    value
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| schema_error(format!("Value for {attribute} must be a string")))
}

/// `[{"value":"id"}, …]` or a single `{"value":"id"}`.
fn member_values(value: Option<&Value>) -> Result<Vec<String>, ScimError> {
    let one = |v: &Value| -> Result<String, ScimError> {
        let object = v.as_object().ok_or_else(|| schema_error("member must be an object"))?;
        if object.keys().any(|k| !matches!(k.as_str(), "value" | "$ref" | "type")) {
            return Err(schema_error("member supports only value, $ref and type"));
        }
        object
            .get("value")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| schema_error("member value must be a non-empty string"))
    };
    match value {
        Some(Value::Array(items)) => items.iter().map(one).collect(),
        Some(v @ Value::Object(_)) => Ok(vec![one(v)?]),
        _ => Err(schema_error("members value must be a list")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ops(operations: Value) -> Vec<Operation> {
        parse(&json!({"schemas": [PATCH_URN], "Operations": operations})).unwrap()
    }

    #[test]
    fn paths_parse_as_entra_writes_them() {
        let p = parse_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!((p.attribute.as_str(), p.sub.as_deref()), ("emails", Some("value")));
        assert_eq!(p.filter, Some(("type".into(), json!("work"))));
        let p = parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department").unwrap();
        assert!(p.enterprise);
        assert_eq!(p.attribute, "department");
        let p = parse_path("name.givenName").unwrap();
        assert_eq!((p.attribute.as_str(), p.sub.as_deref()), ("name", Some("givenName")));
        assert!(parse_path("emails[type ne \"work\"].value").is_err());
        assert!(parse_path("emails[type eq \"work\"").is_err());
    }

    #[test]
    fn operations_need_an_op_a_path_to_remove_and_a_value_to_set() {
        let parse_one = |op: Value| parse(&json!({"schemas": [PATCH_URN], "Operations": [op]}));
        assert!(parse_one(json!({"op": "Replace", "path": "active", "value": "False"})).is_ok());
        assert!(parse_one(json!({"op": "move", "path": "active", "value": false})).is_err());
        assert!(parse_one(json!({"op": "remove"})).is_err());
        assert!(parse_one(json!({"op": "add", "path": "title"})).is_err());
        assert!(parse(&json!({"Operations": [{"op": "add", "path": "title", "value": "x"}]})).is_err());
    }

    #[test]
    fn a_work_email_is_replaced_in_place_or_added() {
        let mut user = json!({"userName": "a", "emails": [{"value": "old@x", "type": "work", "primary": true}]});
        apply_to_user(
            &mut user,
            &ops(json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@x"}])),
        )
        .unwrap();
        assert_eq!(user["emails"], json!([{"value": "new@x", "type": "work", "primary": true}]));
        let mut user = json!({"userName": "a"});
        apply_to_user(
            &mut user,
            &ops(json!([{"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Paris"}])),
        )
        .unwrap();
        assert_eq!(user["addresses"], json!([{"type": "work", "locality": "Paris"}]));
    }

    #[test]
    fn enterprise_paths_and_pathless_replace_land_where_expected() {
        let mut user = json!({"userName": "a", "displayName": "A"});
        apply_to_user(
            &mut user,
            &ops(json!([
                {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Ops"},
                {"op": "replace", "value": {"displayName": "B"}}
            ])),
        )
        .unwrap();
        assert_eq!(user[ENTERPRISE_URN]["department"], "Ops");
        assert_eq!(user["displayName"], "B");
    }

    #[test]
    fn user_patch_rules_refuse_what_aws_refuses() {
        let mut user = json!({"userName": "a"});
        for bad in [
            json!([{"op": "remove", "path": "active"}]),
            json!([{"op": "replace", "path": "active", "value": false}, {"op": "replace", "path": "active", "value": true}]),
            json!([{"op": "replace", "value": {"displayName": "B", "title": "T"}}]),
            json!([{"op": "replace", "path": "password", "value": "x"}]),
            json!([{"op": "add", "path": "groups", "value": []}]),
        ] {
            assert!(apply_to_user(&mut user, &ops(bad.clone())).is_err(), "{bad}");
        }
        let err =
            apply_to_user(&mut user, &ops(json!([{"op": "replace", "value": {"displayName": "B", "title": "T"}}])))
                .unwrap_err();
        assert_eq!(err, ScimError::bad_request(PATHLESS_DETAIL));
    }

    #[test]
    fn group_changes_follow_patchgroup_rules() {
        let changes = group_changes(&ops(json!([
            {"op": "Add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]},
            {"op": "Remove", "path": "members", "value": [{"value": "u3"}]},
            {"op": "remove", "path": "members[value eq \"u4\"]"},
            {"op": "replace", "value": {"id": "g", "displayName": "Group Foo New"}}
        ])))
        .unwrap();
        assert_eq!(
            changes,
            vec![
                GroupChange::AddMembers(vec!["u1".into(), "u2".into()]),
                GroupChange::RemoveMembers(vec!["u3".into()]),
                GroupChange::RemoveMembers(vec!["u4".into()]),
                GroupChange::DisplayName("Group Foo New".into()),
            ]
        );
        let replace = group_changes(&ops(json!([{"op": "replace", "path": "members", "value": [{"value": "u1"}]}])));
        assert_eq!(replace.unwrap_err(), ScimError::bad_request(REPLACE_MEMBERS_DETAIL));
        let remove_all = group_changes(&ops(json!([{"op": "remove", "path": "members"}])));
        assert_eq!(remove_all.unwrap_err(), ScimError::bad_request(REPLACE_MEMBERS_DETAIL));
        let many: Vec<_> = (0..101).map(|i| json!({"value": format!("u{i}")})).collect();
        assert!(group_changes(&ops(json!([{"op": "add", "path": "members", "value": many}]))).is_err());
        assert!(group_changes(&ops(json!([{"op": "replace", "path": "description", "value": "x"}]))).is_err());
    }
}
