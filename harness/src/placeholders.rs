//! `{user:NAME}` and `{group:NAME}` in a scenario's paths and bodies: the AWS ids of those objects,
//! as AWS's state holds them now. Pure, so sending requests and judging expectations both use it.

use serde_json::Value;

/// A placeholder naming an object AWS does not have.
#[derive(Debug, thiserror::Error)]
#[error("AWS has no {kind} '{name}'")]
pub struct Unresolved {
    /// `user` or `group`.
    pub kind: &'static str,
    /// The name the placeholder gave.
    pub name: String,
}

/// Replaces `{user:NAME}` and `{group:NAME}` with the AWS ids of those objects.
pub fn resolve_ids(text: &str, state: &Value) -> Result<String, Unresolved> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let (before, tail) = rest.split_at(start);
        out.push_str(before);
        let Some(end) = tail.find('}') else {
            out.push_str(tail);
            return Ok(out);
        };
        let inner = &tail[1..end];
        let id = match inner.split_once(':') {
            Some(("user", name)) => find_id(state, "user", "userName", name)?,
            Some(("group", name)) => find_id(state, "group", "displayName", name)?,
            _ => tail[..=end].to_owned(),
        };
        out.push_str(&id);
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The id of the user or group (`kind`) whose `key` is `name`, without case.
fn find_id(state: &Value, kind: &'static str, key: &str, name: &str) -> Result<String, Unresolved> {
    state[format!("{kind}s")]
        .as_array()
        .into_iter()
        .flatten()
        .find(|object| object[key].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
        .and_then(|object| object["id"].as_str())
        .map(str::to_owned)
        .ok_or_else(|| Unresolved { kind, name: name.to_owned() })
}

/// Replaces the `{user:NAME}` and `{group:NAME}` placeholders in every string of a JSON value.
pub fn resolve_body(body: &mut Value, state: &Value) -> Result<(), Unresolved> {
    match body {
        Value::String(text) => *text = resolve_ids(text, state)?,
        Value::Array(items) => items.iter_mut().try_for_each(|item| resolve_body(item, state))?,
        Value::Object(map) => map.values_mut().try_for_each(|item| resolve_body(item, state))?,
        _ => {}
    }
    Ok(())
}
