//! The Entra directory: users, groups, memberships, service principals, applications and app role
//! assignments, with an append-only change log that delta queries (and the provisioning engine)
//! read in O(changes).
//!
//! Objects are stored as Graph's JSON property maps (every property of [`crate::schema`], unset ones
//! `null`), keyed internally by creation order so lists page without scanning.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::error::GraphError;
use crate::schema::{Entity, GROUP, Kind, USER};

/// Internal key: creation order, unique across every kind of object.
pub type Key = u64;

/// The kinds of directory object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// A user.
    User,
    /// A group.
    Group,
    /// A service principal.
    ServicePrincipal,
    /// An application.
    Application,
}

impl ObjectKind {
    /// `#microsoft.graph.user`, …
    pub fn odata_type(self) -> &'static str {
        match self {
            ObjectKind::User => "#microsoft.graph.user",
            ObjectKind::Group => "#microsoft.graph.group",
            ObjectKind::ServicePrincipal => "#microsoft.graph.servicePrincipal",
            ObjectKind::Application => "#microsoft.graph.application",
        }
    }
}

/// What happened, for delta and the provisioning engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    /// Created or updated.
    Upserted,
    /// Deleted (for users: soft-deleted, restorable from deleted items).
    Deleted,
    /// Permanently deleted from deleted items.
    Purged,
    /// A member (id, `@odata.type`) joined this group.
    MemberAdded(String, &'static str),
    /// A member left this group.
    MemberRemoved(String, &'static str),
    /// An app role assignment (its id) was made to this principal.
    Assigned(String),
    /// An app role assignment (its id) was removed from this principal.
    Unassigned(String),
    /// This user's manager, as Graph shows it, went from the first to the second (`None`: no
    /// manager): set, removed, or gone to or back from deleted items. A relationship, not a property:
    /// delta shows it only under `$select=manager` (microsoft-graph.md §4).
    ManagerChanged(Option<String>, Option<String>),
}

/// One entry of the change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Monotonic sequence number, from 1.
    pub seq: u64,
    /// The object's kind.
    pub kind: ObjectKind,
    /// The object's key.
    pub key: Key,
    /// The object's id, kept for objects since deleted.
    pub id: String,
    /// What happened.
    pub what: ChangeKind,
}

/// The directory.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    next_key: Key,
    /// Users by key.
    pub users: BTreeMap<Key, Map<String, Value>>,
    /// Groups by key.
    pub groups: BTreeMap<Key, Map<String, Value>>,
    /// Service principals by key.
    pub service_principals: BTreeMap<Key, Map<String, Value>>,
    /// Applications by key.
    pub applications: BTreeMap<Key, Map<String, Value>>,
    /// App role assignments by key.
    pub assignments: BTreeMap<Key, Map<String, Value>>,
    /// Every object id → kind and key.
    ids: HashMap<String, (ObjectKind, Key)>,
    /// Assignment id → key.
    assignment_ids: HashMap<String, Key>,
    /// userPrincipalName, folded → user key.
    upns: HashMap<String, Key>,
    /// appId → service principal key.
    pub(crate) sp_by_app_id: HashMap<String, Key>,
    /// appId → application key.
    pub(crate) app_by_app_id: HashMap<String, Key>,
    /// Group → direct members (users, groups, service principals).
    members: HashMap<Key, BTreeSet<Key>>,
    /// Object → groups it is a direct member of.
    member_of: HashMap<Key, BTreeSet<Key>>,
    /// Resource service principal → assignments on it.
    pub(crate) assignments_by_resource: HashMap<Key, BTreeSet<Key>>,
    /// Principal → its assignments.
    pub(crate) assignments_by_principal: HashMap<Key, BTreeSet<Key>>,
    /// The change log, in sequence order.
    changes: Vec<Change>,
    /// Soft-deleted users by id, restorable until purged (entra-provisioning.md §4.4).
    pub deleted_users: BTreeMap<String, (Key, Map<String, Value>)>,
    /// What a soft-deleted user belonged to, by id, for a restore to bring back: Graph's restore
    /// brings a deleted item back "fully" (directory-deleteditems-restore.md).
    deleted_relations: HashMap<String, Relations>,
    /// When each soft-deleted user was deleted, oldest first: deleted items are purged when they
    /// turn the retention's age (entra-provisioning.md §4.3 step 9).
    purge_queue: BTreeSet<(Timestamp, String)>,
    /// Soft-deleted user id → its entry in `purge_queue`.
    deleted_at: HashMap<String, Timestamp>,
    /// The last properties of users purged from deleted items: Graph no longer has them, but the
    /// provisioning logs still name them (entra-provisioning.md §6.1, inferred).
    purged_users: HashMap<String, Map<String, Value>>,
    /// The directory's verified domains; a UPN must end in one (microsoft-graph.md §2.1).
    pub domains: Vec<String>,
    /// User id → its manager's id (`PUT /users/{id}/manager/$ref`). Kept apart from the properties,
    /// as Graph never returns `manager` as one, and by id, so that it outlives a soft delete of
    /// either user: a restore brings the item back "fully" (directory-deleteditems-restore.md;
    /// inferred for the manager link). Shown only while both users are out of deleted items; dropped
    /// when either is purged.
    managers: HashMap<String, String>,
    /// Manager id → the ids of the users it manages, the reverse of `managers`.
    reports: HashMap<String, BTreeSet<String>>,
}

fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// Characters Graph allows before the `@` of a UPN (§2.1).
fn valid_upn_local(local: &str) -> bool {
    !local.is_empty() && local.chars().all(|c| c.is_ascii_alphanumeric() || "'.-_!#^~".contains(c))
}

/// The longest string values Entra stores, in characters, by resource and property (Microsoft's
/// user and group resource pages and Entra's username policies: a UPN of at most 113 characters,
/// 64 before the `@` and 48 after). **Inferred**: the reference lists none of these.
const MAX_LENGTHS: &[(&str, &str, usize)] = &[
    ("User", "displayName", 256),
    ("User", "givenName", 64),
    ("User", "surname", 64),
    ("User", "mailNickname", 64),
    ("User", "jobTitle", 128),
    ("User", "department", 64),
    ("User", "companyName", 64),
    ("User", "employeeId", 16),
    ("User", "officeLocation", 128),
    ("User", "city", 128),
    ("User", "state", 128),
    ("User", "country", 128),
    ("User", "streetAddress", 1024),
    ("User", "postalCode", 40),
    ("User", "mobilePhone", 64),
    ("User", "userPrincipalName", 113),
    ("Group", "displayName", 256),
    ("Group", "description", 1024),
    ("Group", "mailNickname", 64),
];

/// Refuses a value longer than Entra stores ([`MAX_LENGTHS`]): "Invalid value specified for
/// property '…' of resource '…'.", or for a UPN, as for one of invalid characters.
pub fn check_lengths(entity: &Entity, body: &Map<String, Value>) -> Result<(), GraphError> {
    for (name, value) in body {
        let Some(text) = value.as_str() else { continue };
        let limit = MAX_LENGTHS
            .iter()
            .find(|(resource, property, _)| *resource == entity.resource && property.eq_ignore_ascii_case(name));
        let Some(&(_, property, limit)) = limit else { continue };
        let length = text.chars().count();
        if property == "userPrincipalName" {
            let (local, domain) = text.rsplit_once('@').unwrap_or((text, ""));
            if length > limit || local.chars().count() > 64 || domain.chars().count() > 48 {
                return Err(GraphError::bad_request("One or more properties contains invalid values."));
            }
        } else if length > limit {
            return Err(GraphError::invalid_value(property, entity.resource));
        }
    }
    Ok(())
}

/// Characters refused in a group's mailNickname (§2.2).
fn valid_mail_nickname(nickname: &str) -> bool {
    !nickname.is_empty()
        && nickname.len() <= 64
        && nickname.chars().all(|c| c.is_ascii() && !"@()\\[]\";:<>, ".contains(c))
}

/// Checks written properties against an entity: known, writable, of the right type.
fn check_writable(body: &Map<String, Value>, entity: &Entity, extra: &[&str]) -> Result<(), GraphError> {
    for (name, value) in body {
        if extra.contains(&name.as_str()) {
            continue;
        }
        let property = entity.property(name).ok_or_else(|| GraphError::unknown_property(name))?;
        let ok = match property.kind {
            Kind::String => value.is_string() || value.is_null(),
            Kind::Bool => value.is_boolean(),
            Kind::Strings => value.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
            Kind::Object => value.is_object(),
            Kind::ReadOnly => false,
        };
        if !ok {
            return Err(GraphError::invalid_value(property.name, entity.resource));
        }
    }
    Ok(())
}

/// A group's `securityIdentifier`: `S-1-12-1-` and the GUID's bytes as four little-endian u32s
/// (§2.2, inferred from the docs' example).
pub fn security_identifier(id: &str) -> String {
    let bytes = uuid::Uuid::parse_str(id).map(|u| u.to_bytes_le()).unwrap_or_default();
    let parts: Vec<String> =
        bytes.chunks(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]).to_string()).collect();
    format!("S-1-12-1-{}", parts.join("-"))
}

/// Graph's timestamp form for `createdDateTime`: seconds, `Z`.
pub fn graph_time(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The groups (by id) and app role assignments a soft-deleted user had.
#[derive(Debug, Clone, Default)]
struct Relations {
    groups: Vec<String>,
    assignments: Vec<Map<String, Value>>,
}

impl Directory {
    /// An empty directory with one verified domain.
    pub fn new(domain: &str) -> Self {
        Directory { domains: vec![fold(domain)], ..Directory::default() }
    }

    pub(crate) fn key(&mut self) -> Key {
        self.next_key += 1;
        self.next_key
    }

    pub(crate) fn log(&mut self, kind: ObjectKind, key: Key, id: &str, what: ChangeKind) {
        let seq = self.changes.last().map_or(1, |c| c.seq + 1);
        self.changes.push(Change { seq, kind, key, id: id.to_owned(), what });
    }

    /// The last sequence number written (0 when nothing happened yet).
    pub fn last_seq(&self) -> u64 {
        self.changes.last().map_or(0, |c| c.seq)
    }

    /// Changes after `seq` up to and including `until`: a binary search, then a slice (O(changes)).
    pub fn changes_between(&self, seq: u64, until: u64) -> &[Change] {
        let start = self.changes.partition_point(|c| c.seq <= seq);
        let end = self.changes.partition_point(|c| c.seq <= until);
        &self.changes[start..end.max(start)]
    }

    /// A point to roll back to: the change log's length. Objects created after it are undone by
    /// [`Directory::rollback`].
    pub fn mark(&self) -> usize {
        self.changes.len()
    }

    /// Undoes every change logged after `mark`, newest first: created objects, memberships and
    /// assignments go; the log is cut back. Used by bulk seeding, which is all or nothing. Only
    /// creations, memberships and assignments are undone: seeding makes nothing else.
    pub fn rollback(&mut self, mark: usize) {
        let undo: Vec<Change> = self.changes[mark.min(self.changes.len())..].iter().rev().cloned().collect();
        for change in undo {
            match (&change.what, change.kind) {
                (ChangeKind::Assigned(id), _) => {
                    if let Some(key) = self.assignment_key(id) {
                        self.remove_assignment(key);
                    }
                }
                (ChangeKind::MemberAdded(member, _), _) => {
                    if let Some((_, member_key)) = self.lookup(member) {
                        if let Some(set) = self.members.get_mut(&change.key) {
                            set.remove(&member_key);
                        }
                        if let Some(set) = self.member_of.get_mut(&member_key) {
                            set.remove(&change.key);
                        }
                    }
                }
                (ChangeKind::Upserted, ObjectKind::User) => {
                    if let Some(user) = self.users.remove(&change.key) {
                        if let Some(upn) = user.get("userPrincipalName").and_then(Value::as_str) {
                            self.upns.remove(&fold(upn));
                        }
                        self.ids.remove(&change.id);
                    }
                }
                (ChangeKind::Upserted, ObjectKind::Group) => {
                    self.groups.remove(&change.key);
                    self.members.remove(&change.key);
                    self.ids.remove(&change.id);
                }
                (ChangeKind::Upserted, ObjectKind::ServicePrincipal) => {
                    if let Some(sp) = self.service_principals.remove(&change.key)
                        && let Some(app_id) = sp.get("appId").and_then(Value::as_str)
                    {
                        self.sp_by_app_id.remove(app_id);
                    }
                    self.ids.remove(&change.id);
                }
                (ChangeKind::Upserted, ObjectKind::Application) => {
                    if let Some(app) = self.applications.remove(&change.key)
                        && let Some(app_id) = app.get("appId").and_then(Value::as_str)
                    {
                        self.app_by_app_id.remove(app_id);
                    }
                    self.ids.remove(&change.id);
                }
                _ => {}
            }
        }
        self.changes.truncate(mark);
    }

    /// Kind and key of an object id.
    pub fn lookup(&self, id: &str) -> Option<(ObjectKind, Key)> {
        self.ids.get(id).copied()
    }

    pub(crate) fn register(&mut self, id: &str, kind: ObjectKind, key: Key) {
        self.ids.insert(id.to_owned(), (kind, key));
    }

    pub(crate) fn unregister(&mut self, id: &str) {
        self.ids.remove(id);
    }

    /// An object's properties by kind and key.
    pub fn object(&self, kind: ObjectKind, key: Key) -> Option<&Map<String, Value>> {
        match kind {
            ObjectKind::User => self.users.get(&key),
            ObjectKind::Group => self.groups.get(&key),
            ObjectKind::ServicePrincipal => self.service_principals.get(&key),
            ObjectKind::Application => self.applications.get(&key),
        }
    }

    /// A user by id or userPrincipalName (`/users/{id | userPrincipalName}`, §2.1).
    pub fn user_key(&self, id_or_upn: &str) -> Option<Key> {
        match self.ids.get(id_or_upn) {
            Some((ObjectKind::User, key)) => Some(*key),
            _ => self.upns.get(&fold(id_or_upn)).copied(),
        }
    }

    /// A group by id.
    pub fn group_key(&self, id: &str) -> Option<Key> {
        match self.ids.get(id) {
            Some((ObjectKind::Group, key)) => Some(*key),
            _ => None,
        }
    }

    fn check_upn(&self, upn: &str, except: Option<Key>) -> Result<(), GraphError> {
        let valid = upn
            .rsplit_once('@')
            .is_some_and(|(local, domain)| valid_upn_local(local) && self.domains.iter().any(|d| *d == fold(domain)));
        if !valid {
            // "One or more properties contains invalid values." (§2.1)
            return Err(GraphError::bad_request("One or more properties contains invalid values."));
        }
        if self.upns.get(&fold(upn)).is_some_and(|k| Some(*k) != except) {
            return Err(GraphError::bad_request(
                "Another object with the same value for property userPrincipalName already exists.",
            )
            .with_details(json!([{ "target": "userPrincipalName", "code": "ObjectConflict" }])));
        }
        Ok(())
    }

    /// `POST /users`: `accountEnabled`, `displayName`, `mailNickname`, `passwordProfile` and
    /// `userPrincipalName` are required (§2.1).
    pub fn create_user(&mut self, id: String, now: Timestamp, body: Map<String, Value>) -> Result<Key, GraphError> {
        check_writable(&body, &USER, &[])?;
        for required in ["accountEnabled", "displayName", "mailNickname", "passwordProfile", "userPrincipalName"] {
            if body.get(required).is_none_or(Value::is_null) {
                return Err(GraphError::invalid_value(required, USER.resource));
            }
        }
        let upn = body.get("userPrincipalName").and_then(Value::as_str).unwrap_or_default().to_owned();
        self.check_upn(&upn, None)?;
        // Only what is set is stored; projections fill in the rest (`Property::absent`).
        let mut user = Map::new();
        user.insert("id".into(), json!(id));
        user.insert("createdDateTime".into(), json!(graph_time(now)));
        user.insert("userType".into(), json!(if upn.contains("#EXT#") { "Guest" } else { "Member" }));
        for (name, value) in body {
            let canonical = USER.property(&name).map_or(name, |p| p.name.to_owned());
            user.insert(canonical, value);
        }
        if let Some(Value::String(mail)) = user.get("mail").cloned() {
            user.insert("proxyAddresses".into(), json!([format!("SMTP:{mail}")]));
        }
        let key = self.key();
        self.upns.insert(fold(&upn), key);
        self.register(&id, ObjectKind::User, key);
        self.users.insert(key, user);
        self.log(ObjectKind::User, key, &id, ChangeKind::Upserted);
        Ok(key)
    }

    /// `PATCH /users/{id}`: the written properties only; logs a change only if something changed.
    pub fn update_user(&mut self, key: Key, body: Map<String, Value>) -> Result<(), GraphError> {
        check_writable(&body, &USER, &[])?;
        let current = self.users.get(&key).ok_or_else(|| GraphError::not_found(""))?;
        let id = current.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
        let old_upn = current.get("userPrincipalName").and_then(Value::as_str).unwrap_or_default().to_owned();
        let new_upn = body.get("userPrincipalName").map(|v| v.as_str().map(str::to_owned));
        if let Some(upn) = &new_upn {
            let upn = upn.clone().ok_or_else(|| GraphError::invalid_value("userPrincipalName", USER.resource))?;
            self.check_upn(&upn, Some(key))?;
        }
        for required in ["accountEnabled", "displayName"] {
            if body.get(required).is_some_and(Value::is_null) {
                return Err(GraphError::invalid_value(required, USER.resource));
            }
        }
        let user = self.users.get_mut(&key).ok_or_else(|| GraphError::not_found(&id))?;
        let before = user.clone();
        for (name, value) in body {
            let canonical = USER.property(&name).map_or(name, |p| p.name.to_owned());
            user.insert(canonical, value);
        }
        if let Some(Value::String(mail)) = user.get("mail").cloned() {
            user.insert("proxyAddresses".into(), json!([format!("SMTP:{mail}")]));
        }
        if *user != before {
            if let Some(Some(upn)) = new_upn {
                self.upns.remove(&fold(&old_upn));
                self.upns.insert(fold(&upn), key);
            }
            self.log(ObjectKind::User, key, &id, ChangeKind::Upserted);
        }
        Ok(())
    }

    /// `DELETE /users/{id}` at `now`: memberships and assignments go with it (inferred: the deleted
    /// user drops out of `members@delta` at once, §4); the user waits in deleted items, with its
    /// `deletedDateTime`.
    pub fn delete_user(&mut self, key: Key, now: Timestamp) -> Result<(), GraphError> {
        let mut user = self.users.get(&key).ok_or_else(|| GraphError::not_found(""))?.clone();
        let id = user.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
        let relations = Relations {
            groups: self.groups_of(key).map(|group| self.object_id(ObjectKind::Group, group)).collect(),
            assignments: (self.assignments_by_principal.get(&key).into_iter().flatten())
                .filter_map(|a| self.assignments.get(a).cloned())
                .collect(),
        };
        self.deleted_relations.insert(id.clone(), relations);
        self.detach(key, &id, ObjectKind::User);
        self.users.remove(&key);
        if let Some(upn) = user.get("userPrincipalName").and_then(Value::as_str) {
            self.upns.remove(&fold(upn));
        }
        self.ids.remove(&id);
        self.log(ObjectKind::User, key, &id, ChangeKind::Deleted);
        // The users it manages show no manager while it is in deleted items (inferred).
        self.log_reports(&id, Some(&id), None);
        user.insert("deletedDateTime".into(), json!(graph_time(now)));
        self.purge_queue.insert((now, id.clone()));
        self.deleted_at.insert(id.clone(), now);
        self.deleted_users.insert(id, (key, user));
        Ok(())
    }

    /// Takes a user out of deleted items (purged or restored).
    fn take_deleted(&mut self, id: &str) -> Option<(Key, Map<String, Value>, Relations)> {
        let (key, user) = self.deleted_users.remove(id)?;
        if let Some(at) = self.deleted_at.remove(id) {
            self.purge_queue.remove(&(at, id.to_owned()));
        }
        Some((key, user, self.deleted_relations.remove(id).unwrap_or_default()))
    }

    /// `DELETE /directory/deletedItems/{id}`: the hard delete that makes provisioning delete the
    /// target user (entra-provisioning.md §4.4).
    pub fn purge_user(&mut self, id: &str) -> Result<(), GraphError> {
        let (key, mut user, _) = self.take_deleted(id).ok_or_else(|| GraphError::not_found(id))?;
        self.log(ObjectKind::User, key, id, ChangeKind::Purged);
        // Its manager links end with it; its reports already show no manager (since the soft delete).
        self.unlink_manager(id);
        for report in self.reports.remove(id).into_iter().flatten() {
            self.managers.remove(&report);
        }
        user.retain(|name, _| matches!(name.as_str(), "id" | "userPrincipalName" | "displayName" | "mail"));
        self.purged_users.insert(id.to_owned(), user);
        Ok(())
    }

    /// Purges every user deleted at or before `cutoff`, oldest first: Entra hard-deletes deleted
    /// items 30 days after the soft delete ("30 days after soft delete, or purge",
    /// entra-provisioning.md §4.3 step 9), and the change log says so as for a purge. Returns how
    /// many went; O(log n) when none is due.
    pub fn expire_deleted(&mut self, cutoff: Timestamp) -> usize {
        let mut purged = 0;
        while let Some((at, id)) = self.purge_queue.first().cloned() {
            if at > cutoff {
                break;
            }
            if self.purge_user(&id).is_ok() {
                purged += 1;
            } else {
                self.purge_queue.remove(&(at, id));
            }
        }
        purged
    }

    /// The last known properties of a user no longer in the directory: soft-deleted, or purged.
    pub fn last_known_user(&self, id: &str) -> Option<&Map<String, Value>> {
        self.deleted_users.get(id).map(|(_, user)| user).or_else(|| self.purged_users.get(id))
    }

    /// `POST /directory/deletedItems/{id}/restore`: the user comes back with its id and, when
    /// `relations` says so, the memberships and app role assignments it had, in groups and on
    /// service principals that still exist (a restore brings the item back "fully",
    /// directory-deleteditems-restore.md); without them otherwise (the switch
    /// `restoreRelations`).
    pub fn restore_user(&mut self, id: &str, relations: bool) -> Result<Key, GraphError> {
        let (_, user) = self.deleted_users.get(id).ok_or_else(|| GraphError::not_found(id))?;
        let upn = user.get("userPrincipalName").and_then(Value::as_str).unwrap_or_default().to_owned();
        self.check_upn(&upn, None)?;
        let (_, mut user, kept) = self.take_deleted(id).ok_or_else(|| GraphError::not_found(id))?;
        user.remove("deletedDateTime");
        let key = self.key();
        self.upns.insert(fold(&upn), key);
        self.register(id, ObjectKind::User, key);
        self.users.insert(key, user);
        self.log(ObjectKind::User, key, id, ChangeKind::Upserted);
        if relations {
            for group_id in &kept.groups {
                if let Some((ObjectKind::Group, group)) = self.lookup(group_id) {
                    self.link(group, group_id, ObjectKind::User, key, id);
                }
            }
            for assignment in kept.assignments {
                let resource = assignment.get("resourceId").and_then(Value::as_str).and_then(|r| self.lookup(r));
                if let Some((_, resource)) = resource {
                    let assignment_key = self.key();
                    self.insert_assignment(assignment_key, key, resource, assignment);
                }
            }
        }
        // Its manager links come back with it, both ways (inferred, see `managers`).
        if let Some(manager) = self.manager_of(key) {
            let manager = self.object_id(ObjectKind::User, manager);
            self.log(ObjectKind::User, key, id, ChangeKind::ManagerChanged(None, Some(manager)));
        }
        self.log_reports(id, None, Some(id));
        Ok(key)
    }

    /// A user's manager, by key: the one set, unless it is in deleted items
    /// (`GET /users/{id}/manager`).
    pub fn manager_of(&self, user: Key) -> Option<Key> {
        let id = self.users.get(&user)?.get("id")?.as_str()?;
        match self.ids.get(self.managers.get(id)?) {
            Some((ObjectKind::User, key)) => Some(*key),
            _ => None,
        }
    }

    /// `PUT /users/{id}/manager/$ref` with `{"@odata.id": "…/users/{id}"}` (or `…/directoryObjects/{id}`):
    /// replaces the manager; setting the same one again changes nothing. A manager is a user (or an
    /// organizational contact, which the mock does not have), and not the user itself (both refusals
    /// inferred: no reference gives Graph's wording).
    pub fn set_manager(&mut self, user: Key, reference: &str) -> Result<(), GraphError> {
        let user_id = self.object_id(ObjectKind::User, user);
        let (kind, manager, manager_id) = self.resolve_reference(reference)?;
        if kind != ObjectKind::User {
            return Err(GraphError::bad_request(format!("Invalid object identifier '{manager_id}'.")));
        }
        if manager == user {
            return Err(GraphError::bad_request("A user cannot be its own manager."));
        }
        let before = self.manager_of(user).map(|k| self.object_id(ObjectKind::User, k));
        if before.as_deref() == Some(manager_id.as_str()) {
            return Ok(());
        }
        self.unlink_manager(&user_id);
        self.managers.insert(user_id.clone(), manager_id.clone());
        self.reports.entry(manager_id.clone()).or_default().insert(user_id.clone());
        self.log(ObjectKind::User, user, &user_id, ChangeKind::ManagerChanged(before, Some(manager_id)));
        Ok(())
    }

    /// `DELETE /users/{id}/manager/$ref`: 404 when the user shows no manager, as `GET …/manager`
    /// answers then (inferred).
    pub fn remove_manager(&mut self, user: Key) -> Result<(), GraphError> {
        let user_id = self.object_id(ObjectKind::User, user);
        let before = self.manager_of(user).map(|k| self.object_id(ObjectKind::User, k));
        let Some(before) = before else { return Err(no_manager()) };
        self.unlink_manager(&user_id);
        self.log(ObjectKind::User, user, &user_id, ChangeKind::ManagerChanged(Some(before), None));
        Ok(())
    }

    fn unlink_manager(&mut self, user_id: &str) {
        if let Some(old) = self.managers.remove(user_id)
            && let Some(set) = self.reports.get_mut(&old)
        {
            set.remove(user_id);
            if set.is_empty() {
                self.reports.remove(&old);
            }
        }
    }

    /// Logs a change of the shown manager on every live user `manager_id` manages.
    fn log_reports(&mut self, manager_id: &str, before: Option<&str>, after: Option<&str>) {
        let reports: Vec<(Key, String)> = self
            .reports
            .get(manager_id)
            .into_iter()
            .flatten()
            .filter_map(|id| self.user_key_of_id(id).map(|key| (key, id.clone())))
            .collect();
        for (key, id) in reports {
            let what = ChangeKind::ManagerChanged(before.map(str::to_owned), after.map(str::to_owned));
            self.log(ObjectKind::User, key, &id, what);
        }
    }

    fn user_key_of_id(&self, id: &str) -> Option<Key> {
        match self.ids.get(id) {
            Some((ObjectKind::User, key)) => Some(*key),
            _ => None,
        }
    }

    /// Removes an object from every group and every assignment, logging each.
    fn detach(&mut self, key: Key, id: &str, kind: ObjectKind) {
        for group in self.member_of.remove(&key).into_iter().flatten() {
            if let Some(set) = self.members.get_mut(&group) {
                set.remove(&key);
            }
            let group_id = self.object_id(ObjectKind::Group, group);
            self.log(ObjectKind::Group, group, &group_id, ChangeKind::MemberRemoved(id.to_owned(), kind.odata_type()));
        }
        for assignment in self.assignments_by_principal.get(&key).cloned().into_iter().flatten() {
            self.remove_assignment(assignment);
        }
    }

    pub(crate) fn object_id(&self, kind: ObjectKind, key: Key) -> String {
        self.object(kind, key).and_then(|o| o.get("id")).and_then(Value::as_str).unwrap_or_default().to_owned()
    }

    /// Resolves `members@odata.bind` / `@odata.id` references (`…/directoryObjects/{id}` or
    /// `…/users/{id}`): the last path segment is the id. Also read: the key in parentheses
    /// (`…/directoryObjects('{id}')`, OData's own form), and the cast Graph's own `@odata.id`s end
    /// in (`…/directoryObjects/{id}/Microsoft.DirectoryServices.User`, §2.3), so an id read back
    /// from Graph can be sent again.
    pub fn resolve_reference(&self, reference: &str) -> Result<(ObjectKind, Key, String), GraphError> {
        let mut segments = reference.trim_end_matches('/').rsplit('/');
        let mut last = segments.next().unwrap_or_default();
        if last.starts_with("Microsoft.DirectoryServices.") || last.starts_with("microsoft.graph.") {
            last = segments.next().unwrap_or_default();
        }
        let id = match last.split_once('(') {
            Some((_, key)) => key.trim_end_matches(')').trim_matches('\''),
            None => last,
        };
        let id = id.trim_start_matches("$ref");
        let (kind, key) = self.lookup(id).ok_or_else(|| GraphError::not_found(id))?;
        if matches!(kind, ObjectKind::Application) {
            return Err(GraphError::bad_request("Invalid object identifier '".to_owned() + id + "'."));
        }
        Ok((kind, key, id.to_owned()))
    }

    /// `POST /groups`: `displayName`, `mailEnabled`, `mailNickname`, `securityEnabled` required; at
    /// most 20 owners and members bound at create (§2.2).
    pub fn create_group(&mut self, id: String, now: Timestamp, body: Map<String, Value>) -> Result<Key, GraphError> {
        check_writable(&body, &GROUP, &["members@odata.bind", "owners@odata.bind"])?;
        for required in ["displayName", "mailEnabled", "mailNickname", "securityEnabled"] {
            if body.get(required).is_none_or(Value::is_null) {
                return Err(GraphError::invalid_value(required, GROUP.resource));
            }
        }
        let display_name = body.get("displayName").and_then(Value::as_str).unwrap_or_default();
        if display_name.is_empty() || display_name.chars().count() > 256 {
            return Err(GraphError::invalid_value("displayName", GROUP.resource));
        }
        if !body.get("mailNickname").and_then(Value::as_str).is_some_and(valid_mail_nickname) {
            return Err(GraphError::invalid_value("mailNickname", GROUP.resource));
        }
        let bound = self.bindings(&body, "members@odata.bind")?;
        let owners = self.bindings(&body, "owners@odata.bind")?;
        if bound.len() + owners.len() > 20 {
            return Err(GraphError::bad_request(
                "A maximum of 20 owners and members can be added when creating a group.",
            ));
        }
        let mut group = Map::new();
        group.insert("id".into(), json!(id));
        group.insert("createdDateTime".into(), json!(graph_time(now)));
        group.insert("renewedDateTime".into(), json!(graph_time(now)));
        group.insert("securityIdentifier".into(), json!(security_identifier(&id)));
        for (name, value) in body {
            if name.ends_with("@odata.bind") {
                continue;
            }
            let canonical = GROUP.property(&name).map_or(name, |p| p.name.to_owned());
            group.insert(canonical, value);
        }
        let key = self.key();
        self.register(&id, ObjectKind::Group, key);
        self.groups.insert(key, group);
        self.log(ObjectKind::Group, key, &id, ChangeKind::Upserted);
        for (kind, member, member_id) in bound {
            self.link(key, &id, kind, member, &member_id);
        }
        Ok(key)
    }

    fn bindings(&self, body: &Map<String, Value>, name: &str) -> Result<Vec<(ObjectKind, Key, String)>, GraphError> {
        match body.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().ok_or_else(|| GraphError::invalid_value(name, GROUP.resource)))
                .map(|reference| reference.and_then(|r| self.resolve_reference(r)))
                .collect(),
            Some(_) => Err(GraphError::invalid_value(name, GROUP.resource)),
        }
    }

    /// `PATCH /groups/{id}`, including `members@odata.bind` (at most 20, all or nothing, §2.3).
    pub fn update_group(&mut self, key: Key, body: Map<String, Value>) -> Result<(), GraphError> {
        check_writable(&body, &GROUP, &["members@odata.bind"])?;
        let id = self.object_id(ObjectKind::Group, key);
        if let Some(name) = body.get("displayName")
            && !name.as_str().is_some_and(|n| !n.is_empty() && n.chars().count() <= 256)
        {
            return Err(GraphError::invalid_value("displayName", GROUP.resource));
        }
        if body.get("mailNickname").is_some_and(|n| !n.as_str().is_some_and(valid_mail_nickname)) {
            return Err(GraphError::invalid_value("mailNickname", GROUP.resource));
        }
        let bound = self.bindings(&body, "members@odata.bind")?;
        if bound.len() > 20 {
            return Err(GraphError::bad_request("A maximum of 20 members can be added in a single request."));
        }
        for (_, member, _) in &bound {
            if self.members.get(&key).is_some_and(|m| m.contains(member)) {
                return Err(already_member());
            }
        }
        let group = self.groups.get_mut(&key).ok_or_else(|| GraphError::not_found(&id))?;
        let before = group.clone();
        for (name, value) in body {
            if name.ends_with("@odata.bind") {
                continue;
            }
            let canonical = GROUP.property(&name).map_or(name, |p| p.name.to_owned());
            group.insert(canonical, value);
        }
        if *group != before {
            self.log(ObjectKind::Group, key, &id, ChangeKind::Upserted);
        }
        for (kind, member, member_id) in bound {
            self.link(key, &id, kind, member, &member_id);
        }
        Ok(())
    }

    /// `DELETE /groups/{id}`. Its memberships end with it, and the change log says so, as for any
    /// removed member: whoever was in scope through the group is evaluated again (delta shows the
    /// group only as `@removed`, microsoft-graph.md §4; the engine's view is inferred, as the
    /// README's fidelity table says).
    pub fn delete_group(&mut self, key: Key) -> Result<(), GraphError> {
        let id = self.object_id(ObjectKind::Group, key);
        if !self.groups.contains_key(&key) {
            return Err(GraphError::not_found(&id));
        }
        let ended: Vec<(ObjectKind, String)> =
            self.members_of(key).map(|(kind, member)| (kind, self.object_id(kind, member))).collect();
        for (kind, member_id) in ended {
            self.log(ObjectKind::Group, key, &id, ChangeKind::MemberRemoved(member_id, kind.odata_type()));
        }
        for member in self.members.remove(&key).into_iter().flatten() {
            if let Some(set) = self.member_of.get_mut(&member) {
                set.remove(&key);
            }
        }
        self.detach(key, &id, ObjectKind::Group);
        self.groups.remove(&key);
        self.ids.remove(&id);
        self.log(ObjectKind::Group, key, &id, ChangeKind::Deleted);
        Ok(())
    }

    fn link(&mut self, group: Key, group_id: &str, kind: ObjectKind, member: Key, member_id: &str) {
        self.members.entry(group).or_default().insert(member);
        self.member_of.entry(member).or_default().insert(group);
        self.log(ObjectKind::Group, group, group_id, ChangeKind::MemberAdded(member_id.to_owned(), kind.odata_type()));
    }

    /// `POST /groups/{id}/members/$ref`: 400 if already a member, 404 if the object is unknown (§2.3).
    pub fn add_member(&mut self, group: Key, reference: &str) -> Result<(), GraphError> {
        let group_id = self.object_id(ObjectKind::Group, group);
        let (kind, member, member_id) = self.resolve_reference(reference)?;
        if member == group {
            return Err(GraphError::bad_request("A group cannot be a member of itself."));
        }
        if self.members.get(&group).is_some_and(|m| m.contains(&member)) {
            return Err(already_member());
        }
        self.link(group, &group_id, kind, member, &member_id);
        Ok(())
    }

    /// `DELETE /groups/{id}/members/{memberId}/$ref`: 404 when not a member (inferred).
    pub fn remove_member(&mut self, group: Key, member_id: &str) -> Result<(), GraphError> {
        let group_id = self.object_id(ObjectKind::Group, group);
        let (kind, member) = self.lookup(member_id).ok_or_else(|| GraphError::not_found(member_id))?;
        if !self.members.get_mut(&group).is_some_and(|m| m.remove(&member)) {
            return Err(GraphError::not_found(member_id));
        }
        if let Some(set) = self.member_of.get_mut(&member) {
            set.remove(&group);
        }
        self.log(
            ObjectKind::Group,
            group,
            &group_id,
            ChangeKind::MemberRemoved(member_id.to_owned(), kind.odata_type()),
        );
        Ok(())
    }

    /// Direct members of a group, in key order.
    pub fn members_of(&self, group: Key) -> impl Iterator<Item = (ObjectKind, Key)> + '_ {
        self.members.get(&group).into_iter().flatten().filter_map(|k| self.kind_of(*k).map(|kind| (kind, *k)))
    }

    /// Every member reached through nested groups, each once.
    pub fn transitive_members(&self, group: Key) -> Vec<(ObjectKind, Key)> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![group];
        let mut visited = BTreeSet::from([group]);
        while let Some(current) = stack.pop() {
            for (kind, member) in self.members_of(current) {
                seen.insert(member);
                if kind == ObjectKind::Group && visited.insert(member) {
                    stack.push(member);
                }
            }
        }
        seen.into_iter().filter_map(|k| self.kind_of(k).map(|kind| (kind, k))).collect()
    }

    /// Groups an object is a direct member of.
    pub fn groups_of(&self, member: Key) -> impl Iterator<Item = Key> + '_ {
        self.member_of.get(&member).into_iter().flatten().copied()
    }

    /// Groups reached through nesting.
    pub fn transitive_groups_of(&self, member: Key) -> Vec<Key> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![member];
        while let Some(current) = stack.pop() {
            for group in self.groups_of(current) {
                if seen.insert(group) {
                    stack.push(group);
                }
            }
        }
        seen.into_iter().collect()
    }

    fn kind_of(&self, key: Key) -> Option<ObjectKind> {
        if self.users.contains_key(&key) {
            Some(ObjectKind::User)
        } else if self.groups.contains_key(&key) {
            Some(ObjectKind::Group)
        } else if self.service_principals.contains_key(&key) {
            Some(ObjectKind::ServicePrincipal)
        } else if self.applications.contains_key(&key) {
            Some(ObjectKind::Application)
        } else {
            None
        }
    }

    /// An assignment by id.
    pub fn assignment_key(&self, id: &str) -> Option<Key> {
        self.assignment_ids.get(id).copied()
    }

    pub(crate) fn insert_assignment(
        &mut self,
        key: Key,
        principal: Key,
        resource: Key,
        assignment: Map<String, Value>,
    ) {
        let id = assignment.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
        let principal_kind = self.kind_of(principal).unwrap_or(ObjectKind::User);
        let principal_id = self.object_id(principal_kind, principal);
        self.assignment_ids.insert(id.clone(), key);
        self.assignments.insert(key, assignment);
        self.assignments_by_resource.entry(resource).or_default().insert(key);
        self.assignments_by_principal.entry(principal).or_default().insert(key);
        self.log(principal_kind, principal, &principal_id, ChangeKind::Assigned(id));
    }

    /// Removes an assignment, logging it on its principal.
    pub fn remove_assignment(&mut self, key: Key) {
        let Some(assignment) = self.assignments.remove(&key) else { return };
        let id = assignment.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
        self.assignment_ids.remove(&id);
        let principal_id = assignment.get("principalId").and_then(Value::as_str).unwrap_or_default();
        let resource_id = assignment.get("resourceId").and_then(Value::as_str).unwrap_or_default();
        if let Some((_, resource)) = self.lookup(resource_id)
            && let Some(set) = self.assignments_by_resource.get_mut(&resource)
        {
            set.remove(&key);
        }
        let principal = self.lookup(principal_id);
        if let Some((kind, principal)) = principal {
            if let Some(set) = self.assignments_by_principal.get_mut(&principal) {
                set.remove(&key);
            }
            let principal_id = principal_id.to_owned();
            self.log(kind, principal, &principal_id, ChangeKind::Unassigned(id));
        }
    }
}

/// 404 for a user without a manager, in Graph's wording for a missing navigation target:
/// "Resource 'manager' does not exist or one of its queried reference-property objects are not
/// present." (microsoft-graph.md §5.2's `Request_ResourceNotFound` form).
pub fn no_manager() -> GraphError {
    GraphError::not_found("manager")
}

fn already_member() -> GraphError {
    // Exact message that idempotency-minded clients parse (§2.3).
    GraphError::bad_request(
        "One or more added object references already exist for the following modified properties: 'members'.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    fn user(upn: &str) -> Map<String, Value> {
        json!({"accountEnabled": true, "displayName": upn, "mailNickname": "n", "userPrincipalName": upn,
            "passwordProfile": {"password": "x"}})
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn the_security_identifier_reads_the_guid_as_little_endian_words() {
        assert!(security_identifier("21d05557-b7b6-418f-86fa-a3118d751be4").starts_with("S-1-12-1-567301463-"));
    }

    #[test]
    fn a_duplicate_upn_is_an_object_conflict_regardless_of_case() {
        let mut dir = Directory::new("contoso.com");
        dir.create_user("u1".into(), now(), user("annie@contoso.com")).unwrap();
        let err = dir.create_user("u2".into(), now(), user("Annie@Contoso.com")).unwrap_err();
        assert_eq!(err.details().unwrap()[0]["code"], "ObjectConflict");
        assert!(dir.create_user("u3".into(), now(), user("bob@elsewhere.com")).is_err(), "unverified domain");
    }

    #[test]
    fn changes_are_logged_and_sliced_by_sequence() {
        let mut dir = Directory::new("contoso.com");
        let u = dir.create_user("u1".into(), now(), user("a@contoso.com")).unwrap();
        let group = json!({"displayName": "SRE", "mailEnabled": false, "mailNickname": "sre", "securityEnabled": true});
        let g = dir.create_group("g1".into(), now(), group.as_object().unwrap().clone()).unwrap();
        dir.add_member(g, "https://graph.microsoft.com/v1.0/directoryObjects/u1").unwrap();
        assert!(dir.add_member(g, "u1").is_err(), "already a member");
        dir.delete_user(u, now()).unwrap();
        let kinds: Vec<_> = dir.changes_between(0, dir.last_seq()).iter().map(|c| c.what.clone()).collect();
        assert_eq!(kinds.len(), 5);
        assert_eq!(kinds[2], ChangeKind::MemberAdded("u1".into(), "#microsoft.graph.user"));
        assert_eq!(kinds[3], ChangeKind::MemberRemoved("u1".into(), "#microsoft.graph.user"));
        assert_eq!(dir.changes_between(3, 5).len(), 2);
    }

    #[test]
    fn a_manager_is_shown_while_both_users_live_and_its_link_ends_with_a_purge() {
        let mut dir = Directory::new("contoso.com");
        let report = dir.create_user("r".into(), now(), user("r@contoso.com")).unwrap();
        let manager = dir.create_user("m".into(), now(), user("m@contoso.com")).unwrap();
        assert_eq!(dir.remove_manager(report).unwrap_err(), no_manager());
        assert!(dir.set_manager(report, "https://graph.microsoft.com/v1.0/users/r").is_err(), "not its own");
        dir.set_manager(report, "https://graph.microsoft.com/v1.0/users/m").unwrap();
        let seq = dir.last_seq();
        dir.set_manager(report, "https://graph.microsoft.com/v1.0/directoryObjects/m").unwrap();
        assert_eq!(dir.last_seq(), seq, "the same manager again changes nothing");
        assert_eq!(dir.manager_of(report), Some(manager));
        assert!(dir.users[&report].get("manager").is_none(), "a relationship, not a property");
        dir.delete_user(manager, now()).unwrap();
        assert_eq!(dir.manager_of(report), None, "hidden while in deleted items");
        let last = dir.changes_between(0, dir.last_seq()).last().cloned().unwrap();
        assert_eq!((last.id.as_str(), last.what), ("r", ChangeKind::ManagerChanged(Some("m".into()), None)));
        let manager = dir.restore_user("m", true).unwrap();
        assert_eq!(dir.manager_of(report), Some(manager), "restored with it");
        dir.delete_user(report, now()).unwrap();
        let report = dir.restore_user("r", true).unwrap();
        assert_eq!(dir.manager_of(report), Some(manager), "both ways");
        dir.delete_user(manager, now()).unwrap();
        dir.purge_user("m").unwrap();
        assert_eq!(dir.manager_of(report), None);
        assert!(dir.managers.is_empty() && dir.reports.is_empty(), "the link went with the purge");
    }

    #[test]
    fn a_restore_brings_back_the_memberships_in_groups_that_still_exist_unless_told_not_to() {
        let mut dir = Directory::new("contoso.com");
        let u = dir.create_user("u1".into(), now(), user("a@contoso.com")).unwrap();
        let group = |name: &str| {
            json!({"displayName": name, "mailEnabled": false, "mailNickname": name, "securityEnabled": true})
                .as_object()
                .unwrap()
                .clone()
        };
        let sre = dir.create_group("g1".into(), now(), group("SRE")).unwrap();
        let ops = dir.create_group("g2".into(), now(), group("Ops")).unwrap();
        dir.add_member(sre, "u1").unwrap();
        dir.add_member(ops, "u1").unwrap();
        dir.delete_user(u, now()).unwrap();
        assert_eq!(dir.members_of(sre).count(), 0, "memberships go with a deleted user");
        dir.delete_group(ops).unwrap();
        let u = dir.restore_user("u1", true).unwrap();
        assert_eq!(dir.groups_of(u).collect::<Vec<_>>(), [sre], "back in SRE; Ops is gone");
        let last = dir.changes_between(0, dir.last_seq()).last().cloned().unwrap();
        assert_eq!(last.what, ChangeKind::MemberAdded("u1".into(), "#microsoft.graph.user"), "delta sees it");
        dir.delete_user(u, now()).unwrap();
        let u = dir.restore_user("u1", false).unwrap();
        assert_eq!(dir.groups_of(u).count(), 0, "restoreRelations off: the user alone");
    }

    #[test]
    fn deleted_users_are_purged_when_they_turn_the_retention_age_and_keep_their_name() {
        let mut dir = Directory::new("contoso.com");
        let a = dir.create_user("u1".into(), now(), user("a@contoso.com")).unwrap();
        let b = dir.create_user("u2".into(), now(), user("b@contoso.com")).unwrap();
        dir.delete_user(a, now()).unwrap();
        let later = now() + jiff::SignedDuration::from_hours(2);
        dir.delete_user(b, later).unwrap();
        assert_eq!(dir.expire_deleted(now() - jiff::SignedDuration::from_secs(1)), 0, "not yet");
        assert_eq!(dir.expire_deleted(now()), 1, "at the instant, the first only");
        assert_eq!(dir.changes_between(0, dir.last_seq()).last().map(|c| c.what.clone()), Some(ChangeKind::Purged));
        assert!(dir.restore_user("u1", true).is_err(), "gone from deleted items");
        assert_eq!(dir.last_known_user("u1").and_then(|u| u["userPrincipalName"].as_str()), Some("a@contoso.com"));
        dir.restore_user("u2", true).unwrap();
        assert_eq!(dir.expire_deleted(later), 0, "a restored user is not purged");
        assert!(dir.users.values().any(|u| u.get("deletedDateTime").is_none() && u["id"] == "u2"));
    }
}
