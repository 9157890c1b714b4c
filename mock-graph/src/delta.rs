//! Delta queries on users and groups (microsoft-graph.md §4): a full first round through nextLinks
//! ending in a deltaLink, then only what changed, read from the directory's change log in
//! O(changes); `@removed` for deletions, `members@delta` for membership changes, `manager@delta`
//! for manager changes under `$select=manager`, `$deltatoken=latest`, and `410 Gone` with
//! `Location` when a token has expired or been reset.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::directory::{ChangeKind, Directory, Key, ObjectKind};
use crate::error::GraphError;
use crate::odata::QueryOptions;
use crate::schema::{Entity, GROUP, USER};

/// "Directory-object delta tokens are valid for 7 days" (§4).
pub const TOKEN_LIFETIME: SignedDuration = SignedDuration::from_hours(7 * 24);
/// Objects per delta page (inferred: Graph sizes delta pages itself).
pub const PAGE_SIZE: usize = 100;

/// What a delta token or skip token carries; base64url JSON, opaque to clients (§3.9, §4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    /// `users` or `groups`.
    k: String,
    /// The change-log position the round starts after (0 for a full round).
    from: u64,
    /// The change-log position the round runs up to.
    until: u64,
    /// Whether this round lists every object (`true`) or only changes.
    full: bool,
    /// Full rounds: the last key returned; change rounds: how many objects were returned.
    pos: u64,
    /// When the round's token was issued, for the 7-day lifetime.
    at: i64,
    /// Resets bump this; older tokens then answer 410.
    generation: u64,
    /// `$select`, carried in the token as Graph does.
    sel: Option<Vec<String>>,
    /// `$filter=id eq '…' or …`, at most 50 ids.
    ids: Option<Vec<String>>,
}

fn encode(state: &State) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(state).unwrap_or_default())
}

fn decode(token: &str, kind: &str) -> Result<State, GraphError> {
    let bad = || GraphError::bad_request("The delta token or skip token is invalid.");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let state: State = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if state.k != kind {
        return Err(bad());
    }
    Ok(state)
}

/// A page of a delta round.
#[derive(Debug, Clone, PartialEq)]
pub struct DeltaPage {
    /// The objects.
    pub value: Vec<Value>,
    /// `$skiptoken` for the next page, while the round goes on.
    pub skiptoken: Option<String>,
    /// `$deltatoken` for the next round, on the round's last page.
    pub deltatoken: Option<String>,
    /// The `$select` in force, for `@odata.context`.
    pub select: Option<Vec<String>>,
}

/// `id eq 'a' or id eq 'b'`: the only filter delta takes, at most 50 ids (user-delta.md, §4).
fn id_filter(raw: &str) -> Result<Vec<String>, GraphError> {
    let unsupported =
        || GraphError::unsupported_query("Unsupported query: delta only supports $filter=id eq '…' or id eq '…'.");
    let mut ids = Vec::new();
    for clause in raw.split(" or ") {
        let clause = clause.trim();
        let (left, right) = clause.split_once(" eq ").ok_or_else(unsupported)?;
        if !left.trim().eq_ignore_ascii_case("id") {
            return Err(unsupported());
        }
        let value = right.trim().trim_matches('\'');
        ids.push(value.to_owned());
    }
    if ids.len() > 50 {
        return Err(GraphError::unsupported_query("Too many ids in the filter: at most 50 are allowed."));
    }
    Ok(ids)
}

/// Which entity a delta kind reads.
fn entity(kind: &str) -> &'static Entity {
    if kind == "groups" { &GROUP } else { &USER }
}

/// Projects an object as delta returns it: the selection (or the defaults), `id` always.
fn project(entity: &Entity, object: &Map<String, Value>, select: Option<&[String]>) -> Map<String, Value> {
    let mut out = Map::new();
    for property in entity.properties {
        let wanted = match select {
            Some(names) => names.iter().any(|n| n == property.name) || property.name == "id",
            None => property.default,
        };
        if wanted && property.name != "passwordProfile" {
            out.insert(
                property.name.to_owned(),
                object.get(property.name).cloned().unwrap_or_else(|| property.absent()),
            );
        }
    }
    out
}

fn member_ref(odata_type: &str, id: &str) -> Value {
    json!({ "@odata.type": odata_type, "id": id })
}

/// Serves one delta request for `users` or `groups`.
pub fn delta(
    dir: &Directory,
    kind: &str,
    options: &QueryOptions,
    now: Timestamp,
    generation: u64,
) -> Result<DeltaPage, DeltaError> {
    // "$expand, $top and $orderby are not supported" on user and group delta (§4).
    if options.expand.is_some() || options.top.is_some() || options.orderby.is_some() || options.search.is_some() {
        return Err(DeltaError::Graph(GraphError::unsupported_query("Unsupported query.")));
    }
    let state = if let Some(token) = &options.skiptoken {
        decode(token, kind)?
    } else {
        match options.deltatoken.as_deref() {
            Some(latest) if latest.eq_ignore_ascii_case("latest") => {
                // "Sync from now": only a deltaLink (§4).
                let state = fresh(kind, options, dir.last_seq(), now, generation, false)?;
                let mut done = state.clone();
                done.from = state.until;
                return Ok(DeltaPage {
                    value: Vec::new(),
                    skiptoken: None,
                    deltatoken: Some(encode(&done)),
                    select: state.sel,
                });
            }
            Some(token) if !token.is_empty() => {
                let previous = decode(token, kind)?;
                let expired = now.duration_since(Timestamp::from_second(previous.at).unwrap_or(now)) > TOKEN_LIFETIME;
                if expired || previous.generation != generation {
                    return Err(DeltaError::Reset);
                }
                State {
                    from: previous.from,
                    until: dir.last_seq(),
                    full: false,
                    pos: 0,
                    at: now.as_second(),
                    ..previous
                }
            }
            _ => fresh(kind, options, dir.last_seq(), now, generation, true)?,
        }
    };
    if state.generation != generation {
        return Err(DeltaError::Reset);
    }
    let entity = entity(kind);
    let with_members = kind == "groups" && state.sel.as_ref().is_none_or(|s| s.iter().any(|n| n == "members"));
    // "`$select=manager` (users) tracks relationship changes" (§4): only when selected.
    let with_manager = kind == "users" && state.sel.as_ref().is_some_and(|s| s.iter().any(|n| n == "manager"));
    let objects = if kind == "groups" { &dir.groups } else { &dir.users };
    let wanted = |object: &Map<String, Value>| {
        state.ids.as_ref().is_none_or(|ids| ids.iter().any(|id| object.get("id").and_then(Value::as_str) == Some(id)))
    };
    let mut value = Vec::new();
    let mut next = None;
    if state.full {
        let mut last = state.pos;
        for (key, object) in objects.range(state.pos + 1..) {
            if value.len() == PAGE_SIZE {
                next = Some(State { pos: last, ..state.clone() });
                break;
            }
            last = *key;
            if !wanted(object) {
                continue;
            }
            let mut item = project(entity, object, state.sel.as_deref());
            if with_members {
                let members: Vec<Value> = dir
                    .members_of(*key)
                    .map(|(kind, k)| member_ref(kind.odata_type(), &dir.object_id(kind, k)))
                    .collect();
                // A group with no members has no `members@delta` (§4).
                if !members.is_empty() {
                    item.insert("members@delta".into(), Value::Array(members));
                }
            }
            if with_manager && let Some(manager) = dir.manager_of(*key) {
                let manager = member_ref(ObjectKind::User.odata_type(), &dir.object_id(ObjectKind::User, manager));
                item.insert("manager@delta".into(), Value::Array(vec![manager]));
            }
            value.push(Value::Object(item));
        }
    } else {
        let object_kind = if kind == "groups" { ObjectKind::Group } else { ObjectKind::User };
        // Affected objects in order of first change, with what happened to each.
        let mut order: Vec<Key> = Vec::new();
        let mut affected: HashMap<Key, Affected> = HashMap::new();
        for change in dir.changes_between(state.from, state.until).iter().filter(|c| c.kind == object_kind) {
            let entry = affected.entry(change.key).or_insert_with(|| {
                order.push(change.key);
                Affected { id: change.id.clone(), ..Affected::default() }
            });
            match &change.what {
                ChangeKind::Upserted => entry.attributes = true,
                ChangeKind::Deleted => entry.deleted = true,
                ChangeKind::Purged => {
                    entry.deleted = true;
                    entry.purged = true;
                }
                ChangeKind::MemberAdded(id, odata_type) => {
                    entry.members.insert(id.clone(), (*odata_type, true));
                }
                ChangeKind::MemberRemoved(id, odata_type) => {
                    entry.members.insert(id.clone(), (*odata_type, false));
                }
                ChangeKind::ManagerChanged(before, _) => {
                    // The manager at the window's start; the one at its end is read from the directory.
                    entry.manager.get_or_insert_with(|| before.clone());
                }
                ChangeKind::Assigned(_) | ChangeKind::Unassigned(_) => {}
            }
        }
        let relevant: Vec<Key> = order
            .into_iter()
            .filter(|k| {
                affected.get(k).is_some_and(|a| {
                    a.deleted
                        || a.attributes
                        || (with_members && !a.members.is_empty())
                        || (with_manager && a.manager.is_some())
                })
            })
            .collect();
        let start = usize::try_from(state.pos).unwrap_or(usize::MAX).min(relevant.len());
        let end = (start + PAGE_SIZE).min(relevant.len());
        for key in &relevant[start..end] {
            let Some(change) = affected.get(key) else { continue };
            if state.ids.as_ref().is_some_and(|ids| !ids.contains(&change.id)) {
                continue;
            }
            let Some(object) = objects.get(key) else {
                // Users are soft-deleted ("changed"), security groups deleted for good (§4).
                let reason = if kind == "groups" || change.purged { "deleted" } else { "changed" };
                value.push(json!({ "id": change.id, "@removed": { "reason": reason } }));
                continue;
            };
            let mut item = project(entity, object, state.sel.as_deref());
            if with_members && !change.members.is_empty() {
                let members: Vec<Value> = change
                    .members
                    .iter()
                    .map(|(id, (odata_type, added))| {
                        let mut reference = member_ref(odata_type, id);
                        if !added {
                            reference["@removed"] = json!({ "reason": "deleted" });
                        }
                        reference
                    })
                    .collect();
                item.insert("members@delta".into(), Value::Array(members));
            }
            if with_manager && let Some(before) = &change.manager {
                // The manager now, or the one removed, marked as `members@delta` marks a removed
                // member (inferred by analogy, §4).
                let now = dir.manager_of(*key).map(|k| dir.object_id(ObjectKind::User, k));
                let reference = match (now, before) {
                    (Some(now), _) => Some(member_ref(ObjectKind::User.odata_type(), &now)),
                    (None, Some(before)) => {
                        let mut reference = member_ref(ObjectKind::User.odata_type(), before);
                        reference["@removed"] = json!({ "reason": "deleted" });
                        Some(reference)
                    }
                    (None, None) => None,
                };
                if let Some(reference) = reference {
                    item.insert("manager@delta".into(), Value::Array(vec![reference]));
                }
            }
            value.push(Value::Object(item));
        }
        if end < relevant.len() {
            next = Some(State { pos: end as u64, ..state.clone() });
        }
    }
    let select = state.sel.clone();
    Ok(match next {
        Some(next) => DeltaPage { value, skiptoken: Some(encode(&next)), deltatoken: None, select },
        None => {
            let following =
                State { from: state.until, until: state.until, full: false, pos: 0, at: now.as_second(), ..state };
            DeltaPage { value, skiptoken: None, deltatoken: Some(encode(&following)), select }
        }
    })
}

#[derive(Debug, Default)]
struct Affected {
    id: String,
    attributes: bool,
    deleted: bool,
    purged: bool,
    /// Member id → (`@odata.type`, present at the end of the window).
    members: BTreeMap<String, (&'static str, bool)>,
    /// Whether the manager changed in the window, with the one shown at its start.
    manager: Option<Option<String>>,
}

fn fresh(
    kind: &str,
    options: &QueryOptions,
    until: u64,
    now: Timestamp,
    generation: u64,
    full: bool,
) -> Result<State, GraphError> {
    let entity = entity(kind);
    let sel = match &options.select {
        Some(raw) => Some(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|name| {
                    if kind == "groups" && name == "members" {
                        return Ok("members".to_owned());
                    }
                    if kind == "users" && name.eq_ignore_ascii_case("manager") {
                        return Ok("manager".to_owned());
                    }
                    entity.property(name).map(|p| p.name.to_owned()).ok_or_else(|| {
                        GraphError::new(
                            axum::http::StatusCode::BAD_REQUEST,
                            "BadRequest",
                            format!(
                                "Could not find a property named '{name}' on type 'microsoft.graph.{}'.",
                                if kind == "groups" { "group" } else { "user" }
                            ),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => None,
    };
    let ids = options.filter.as_deref().map(id_filter).transpose()?;
    Ok(State { k: kind.to_owned(), from: 0, until, full, pos: 0, at: now.as_second(), generation, sel, ids })
}

/// Why a delta request failed.
#[derive(Debug)]
pub enum DeltaError {
    /// An ordinary error.
    Graph(GraphError),
    /// The token expired or was reset: `410 Gone` with a `Location` to start over (§4).
    Reset,
}

impl From<GraphError> for DeltaError {
    fn from(err: GraphError) -> Self {
        DeltaError::Graph(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    fn directory_with(n: usize) -> Directory {
        let mut dir = Directory::new("contoso.com");
        for i in 0..n {
            let user = json!({"accountEnabled": true, "displayName": format!("U{i}"), "mailNickname": "n",
                "userPrincipalName": format!("u{i}@contoso.com"), "passwordProfile": {"password": "x"}});
            dir.create_user(format!("00000000-0000-0000-0000-{i:012}"), now(), user.as_object().unwrap().clone())
                .unwrap();
        }
        dir
    }

    fn follow(dir: &Directory, kind: &str, mut options: QueryOptions) -> (Vec<Value>, String) {
        let mut all = Vec::new();
        loop {
            let page = delta(dir, kind, &options, now(), 0).map_err(|e| format!("{e:?}")).unwrap();
            all.extend(page.value);
            match (page.skiptoken, page.deltatoken) {
                (Some(skip), _) => options = QueryOptions { skiptoken: Some(skip), ..QueryOptions::default() },
                (None, Some(delta)) => return (all, delta),
                (None, None) => unreachable!("a page ends in a nextLink or a deltaLink"),
            }
        }
    }

    #[test]
    fn a_full_round_pages_through_everything_then_only_changes_follow() {
        let mut dir = directory_with(250);
        let (all, token) = follow(&dir, "users", QueryOptions::default());
        assert_eq!(all.len(), 250);
        let key = dir.user_key("u7@contoso.com").unwrap();
        dir.update_user(key, json!({"jobTitle": "SRE"}).as_object().unwrap().clone()).unwrap();
        let gone = dir.user_key("u8@contoso.com").unwrap();
        dir.delete_user(gone, now()).unwrap();
        let (changes, token) =
            follow(&dir, "users", QueryOptions { deltatoken: Some(token), ..QueryOptions::default() });
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0]["jobTitle"], "SRE");
        assert_eq!(changes[1]["@removed"]["reason"], "changed");
        let (none, _) = follow(&dir, "users", QueryOptions { deltatoken: Some(token), ..QueryOptions::default() });
        assert!(none.is_empty());
    }

    #[test]
    fn manager_changes_show_as_manager_delta_only_under_select_manager() {
        let mut dir = directory_with(2);
        let report = dir.user_key("u0@contoso.com").unwrap();
        let manager_id = "00000000-0000-0000-0000-000000000001";
        let select = |deltatoken: Option<String>| QueryOptions {
            select: deltatoken.is_none().then(|| "displayName,manager".to_owned()),
            deltatoken,
            ..QueryOptions::default()
        };
        let (_, plain) = follow(&dir, "users", QueryOptions::default());
        let (_, selected) = follow(&dir, "users", select(None));
        dir.set_manager(report, &format!("https://graph.microsoft.com/v1.0/users/{manager_id}")).unwrap();
        let (changes, _) = follow(&dir, "users", QueryOptions { deltatoken: Some(plain), ..QueryOptions::default() });
        assert!(changes.is_empty(), "not tracked without $select=manager: {changes:?}");
        let (changes, selected) = follow(&dir, "users", select(Some(selected)));
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0]["manager@delta"], json!([{"@odata.type": "#microsoft.graph.user", "id": manager_id}]));
        dir.remove_manager(report).unwrap();
        let (changes, _) = follow(&dir, "users", select(Some(selected)));
        assert_eq!(changes[0]["manager@delta"][0]["@removed"], json!({"reason": "deleted"}));
        let (all, _) = follow(&dir, "users", select(None));
        assert!(all.iter().all(|u| u.get("manager@delta").is_none()));
    }

    #[test]
    fn an_old_token_answers_reset() {
        let dir = directory_with(1);
        let (_, token) = follow(&dir, "users", QueryOptions::default());
        let later = now() + SignedDuration::from_hours(8 * 24);
        let options = QueryOptions { deltatoken: Some(token), ..QueryOptions::default() };
        assert!(matches!(delta(&dir, "users", &options, later, 0), Err(DeltaError::Reset)));
        assert!(matches!(delta(&dir, "users", &options, now(), 1), Err(DeltaError::Reset)));
    }
}
