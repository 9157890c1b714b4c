//! One tenant's identity store: users, groups, memberships and the indexes behind every supported
//! filter, so that lookups stay flat from 1,000 to 100,000 users (no scans).
//!
//! Users and groups are keyed internally by a creation sequence number: lists walk the ordered maps
//! from a cursor, and memberships are compact sets of numbers.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::BuildHasher;

use jiff::Timestamp;

use crate::error::ScimError;
use crate::filter::{GroupQuery, UserQuery};
use crate::hash::{FastMap, HASHER};
use crate::model::{Group, GroupInput, Meta, User, UserInput};
use crate::patch::GroupChange;
use crate::switches::Switches;
use crate::validate;

/// Internal key: creation order, unique within a tenant.
pub type Key = u64;

/// A SCIM bearer token of a tenant (aws-scim.md §1.2: up to two, valid one year).
#[derive(Debug, Clone)]
pub struct Token {
    /// Public id, for listing and revoking without showing the secret.
    pub id: String,
    /// The bearer value.
    pub secret: String,
    /// When it was issued.
    pub created: Timestamp,
    /// When it stops working.
    pub expires: Timestamp,
}

/// Case folding for the case-insensitive uniqueness rules (aws-scim.md §2.7).
fn fold(s: &str) -> Cow<'_, str> {
    // Most values are lowercase ASCII already: those are looked up without an allocation.
    if s.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

/// One tenant.
#[derive(Debug, Default)]
pub struct Tenant {
    /// Bearer tokens in force.
    pub tokens: Vec<Token>,
    next_key: Key,
    users: Slots<User>,
    user_ids: HashIndex,
    /// userName, folded: unique and filterable.
    user_names: HashIndex,
    /// Primary email, folded: unique.
    user_emails: HashIndex,
    /// externalId, folded: unique and filterable.
    user_external_ids: HashIndex,
    groups: BTreeMap<Key, Group>,
    group_ids: FastMap<String, Key>,
    /// displayName, folded: unique and filterable.
    group_names: FastMap<String, Key>,
    /// externalId, folded: unique and filterable.
    group_external_ids: FastMap<String, Key>,
    /// Group → its member users.
    members: FastMap<Key, BTreeSet<Key>>,
    /// User → the groups it is in.
    /// User → the groups it is in, sorted: most users are in a few groups, where a vector takes a
    /// fraction of a B-tree node.
    member_of: FastMap<Key, Vec<Key>>,
}

/// Resources by key, in a vector: keys are handed out in increasing order, so key `k` is slot
/// `k - 1`, and a list walks the slots from a cursor. A key another kind took, or a deleted
/// resource, leaves an empty slot; no B-tree node is left half full.
#[derive(Debug)]
struct Slots<T> {
    slots: Vec<Option<T>>,
    len: usize,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots { slots: Vec::new(), len: 0 }
    }
}

impl<T> Slots<T> {
    fn len(&self) -> usize {
        self.len
    }

    fn get(&self, key: Key) -> Option<&T> {
        let at = usize::try_from(key.checked_sub(1)?).ok()?;
        self.slots.get(at)?.as_ref()
    }

    fn insert(&mut self, key: Key, value: T) -> &T {
        let at = usize::try_from(key - 1).unwrap_or(usize::MAX);
        if self.slots.len() <= at {
            self.slots.resize_with(at + 1, || None);
        }
        let slot = &mut self.slots[at];
        if slot.is_none() {
            self.len += 1;
        }
        slot.insert(value)
    }

    fn remove(&mut self, key: Key) -> Option<T> {
        let at = usize::try_from(key.checked_sub(1)?).ok()?;
        let value = self.slots.get_mut(at)?.take();
        if value.is_some() {
            self.len -= 1;
        }
        value
    }

    fn values(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().flatten()
    }

    /// Keys of the resources after `after`, in order.
    fn keys_after(&self, after: Key) -> impl Iterator<Item = Key> + '_ {
        let from = usize::try_from(after).unwrap_or(usize::MAX).min(self.slots.len());
        self.slots[from..].iter().zip(after + 1..).filter(|(slot, _)| slot.is_some()).map(|(_, key)| key)
    }
}

impl<T> std::ops::Index<Key> for Slots<T> {
    type Output = T;
    fn index(&self, key: Key) -> &T {
        self.get(key).unwrap_or_else(|| panic!("no resource with key {key}"))
    }
}

/// A user index: a value's hash to the key of the user holding it. The value itself is not copied:
/// a hit is confirmed against the user (`holds`), which saves a string per user per index. Values
/// whose hash another value took first (never seen in practice) are kept whole in `spill`.
#[derive(Debug, Default)]
struct HashIndex {
    by_hash: FastMap<u64, Key>,
    spill: FastMap<String, Key>,
}

impl HashIndex {
    fn get(&self, value: &str, holds: impl Fn(Key) -> bool) -> Option<Key> {
        if let Some(&key) = self.by_hash.get(&HASHER.hash_one(value))
            && holds(key)
        {
            return Some(key);
        }
        if self.spill.is_empty() { None } else { self.spill.get(value).copied() }
    }

    /// Points `value` at `key`, as `HashMap::insert` would.
    fn insert(&mut self, value: &str, key: Key, holds: impl Fn(Key) -> bool) {
        match self.by_hash.entry(HASHER.hash_one(value)) {
            Entry::Vacant(slot) => {
                slot.insert(key);
            }
            Entry::Occupied(mut slot) if *slot.get() == key || holds(*slot.get()) => {
                slot.insert(key);
            }
            Entry::Occupied(_) => {
                self.spill.insert(value.to_owned(), key);
            }
        }
    }

    /// Forgets `value`, which `key` held.
    fn remove(&mut self, value: &str, key: Key) {
        let hash = HASHER.hash_one(value);
        if self.by_hash.get(&hash) == Some(&key) {
            self.by_hash.remove(&hash);
        } else if self.spill.get(value) == Some(&key) {
            self.spill.remove(value);
        }
    }
}

/// Whether user `key` holds `folded` as its folded userName, primary email or externalId.
fn user_name_is(users: &Slots<User>, key: Key, folded: &str) -> bool {
    users.get(key).is_some_and(|u| fold(&u.user_name) == folded)
}

fn user_email_is(users: &Slots<User>, key: Key, folded: &str) -> bool {
    users.get(key).and_then(User::primary_email).is_some_and(|e| fold(e) == folded)
}

fn user_external_is(users: &Slots<User>, key: Key, folded: &str) -> bool {
    users.get(key).and_then(|u| u.external_id.as_deref()).is_some_and(|e| fold(e) == folded)
}

/// A page of results: keys in creation order, and whether more follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The keys on this page.
    pub keys: Vec<Key>,
    /// Whether keys after the last one remain.
    pub more: bool,
}

fn page(iter: impl Iterator<Item = Key>, count: usize) -> Page {
    let mut keys: Vec<Key> = iter.take(count + 1).collect();
    let more = keys.len() > count;
    keys.truncate(count);
    Page { keys, more }
}

impl Tenant {
    fn key(&mut self) -> Key {
        self.next_key += 1;
        self.next_key
    }

    /// Number of users.
    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// Number of groups.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// A user by id.
    pub fn user(&self, id: &str) -> Option<&User> {
        self.user_key(id).and_then(|k| self.users.get(k))
    }

    /// A user by key.
    pub fn user_by_key(&self, key: Key) -> Option<&User> {
        self.users.get(key)
    }

    /// A group by id.
    pub fn group(&self, id: &str) -> Option<&Group> {
        self.group_ids.get(id).and_then(|k| self.groups.get(k))
    }

    /// A group by key.
    pub fn group_by_key(&self, key: Key) -> Option<&Group> {
        self.groups.get(&key)
    }

    /// All users in creation order.
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }

    /// All groups in creation order, each with its member ids.
    pub fn groups_with_members(&self) -> impl Iterator<Item = (&Group, Vec<&str>)> {
        self.groups.iter().map(|(key, group)| {
            let members = self
                .members
                .get(key)
                .into_iter()
                .flatten()
                .filter_map(|u| self.users.get(*u).map(|u| u.id.as_str()))
                .collect();
            (group, members)
        })
    }

    /// Refuses a user whose userName, primary email or externalId another user holds (409).
    fn check_user_unique(&self, user: &User, except: Option<Key>) -> Result<(), ScimError> {
        let users = &self.users;
        let taken = |index: &HashIndex, value: Option<&str>, holds: fn(&Slots<User>, Key, &str) -> bool| {
            value.is_some_and(|v| {
                let v = fold(v);
                index.get(&v, |k| holds(users, k, &v)).is_some_and(|k| Some(k) != except)
            })
        };
        if taken(&self.user_names, Some(&user.user_name), user_name_is)
            || taken(&self.user_emails, user.primary_email(), user_email_is)
            || taken(&self.user_external_ids, user.external_id.as_deref(), user_external_is)
        {
            return Err(ScimError::duplicate());
        }
        Ok(())
    }

    fn index_user(&mut self, key: Key, user: &User) {
        let users = &self.users;
        self.user_ids.insert(&user.id, key, |k| users.get(k).is_some_and(|u| u.id == user.id));
        let name = fold(&user.user_name);
        self.user_names.insert(&name, key, |k| user_name_is(users, k, &name));
        if let Some(email) = user.primary_email() {
            let email = fold(email);
            self.user_emails.insert(&email, key, |k| user_email_is(users, k, &email));
        }
        if let Some(external) = &user.external_id {
            let external = fold(external);
            self.user_external_ids.insert(&external, key, |k| user_external_is(users, k, &external));
        }
    }

    fn unindex_user(&mut self, key: Key, user: &User) {
        self.user_ids.remove(&user.id, key);
        self.user_names.remove(&fold(&user.user_name), key);
        if let Some(email) = user.primary_email() {
            self.user_emails.remove(&fold(email), key);
        }
        if let Some(external) = &user.external_id {
            self.user_external_ids.remove(&fold(external), key);
        }
    }

    /// The key of the user with this id.
    fn user_key(&self, id: &str) -> Option<Key> {
        self.user_ids.get(id, |k| self.users.get(k).is_some_and(|u| u.id == id))
    }

    /// Creates a user from a validated input; 409 if it collides.
    pub fn create_user(
        &mut self,
        id: String,
        now: Timestamp,
        input: UserInput,
        switches: &Switches,
    ) -> Result<&User, ScimError> {
        let meta = Meta { resource_type: "User", created: now, last_modified: now };
        let user = User::from_input(id, meta, input, switches.default_active);
        self.check_user_unique(&user, None)?;
        let key = self.key();
        self.index_user(key, &user);
        Ok(self.users.insert(key, user))
    }

    /// Replaces a user's attributes (PUT, or the result of a PATCH); 404 if unknown, 409 on collision.
    pub fn replace_user(
        &mut self,
        id: &str,
        now: Timestamp,
        input: UserInput,
        switches: &Switches,
    ) -> Result<&User, ScimError> {
        let key = self.user_key(id).ok_or_else(ScimError::user_not_found)?;
        let old = self.users.get(key).ok_or_else(ScimError::user_not_found)?.clone();
        let meta = Meta { last_modified: now, ..old.meta.clone() };
        let user = User::from_input(old.id.clone(), meta, input, switches.default_active);
        self.check_user_unique(&user, Some(key))?;
        self.unindex_user(key, &old);
        self.index_user(key, &user);
        Ok(self.users.insert(key, user))
    }

    /// Deletes a user and its memberships; 404 if unknown.
    pub fn delete_user(&mut self, id: &str) -> Result<(), ScimError> {
        let key = self.user_key(id).ok_or_else(ScimError::user_not_found)?;
        let user = self.users.remove(key).ok_or_else(ScimError::user_not_found)?;
        self.unindex_user(key, &user);
        for group in self.member_of.remove(&key).into_iter().flatten() {
            if let Some(members) = self.members.get_mut(&group) {
                members.remove(&key);
            }
        }
        Ok(())
    }

    fn check_group_unique(&self, group: &Group, except: Option<Key>) -> Result<(), ScimError> {
        let taken = |index: &FastMap<String, Key>, value: Option<&str>| {
            value.and_then(|v| index.get(fold(v).as_ref())).is_some_and(|k| Some(*k) != except)
        };
        if taken(&self.group_names, Some(&group.display_name))
            || taken(&self.group_external_ids, group.external_id.as_deref())
        {
            return Err(ScimError::duplicate());
        }
        Ok(())
    }

    fn index_group(&mut self, key: Key, group: &Group) {
        self.group_ids.insert(group.id.clone(), key);
        self.group_names.insert(fold(&group.display_name).into_owned(), key);
        if let Some(external) = &group.external_id {
            self.group_external_ids.insert(fold(external).into_owned(), key);
        }
    }

    fn unindex_group(&mut self, group: &Group) {
        self.group_ids.remove(&group.id);
        self.group_names.remove(fold(&group.display_name).as_ref());
        if let Some(external) = &group.external_id {
            self.group_external_ids.remove(fold(external).as_ref());
        }
    }

    /// Resolves member ids to user keys. A group id is refused (no nested groups, aws-scim.md §3.1);
    /// an unknown id is 404 (inferred: the Identity Store answers ResourceNotFound).
    fn member_keys(&self, ids: &[String]) -> Result<Vec<Key>, ScimError> {
        ids.iter()
            .map(|id| match self.user_key(id) {
                Some(key) => Ok(key),
                None if self.group_ids.contains_key(id) => Err(ScimError::validation(
                    "Value at 'members.value' failed to satisfy constraint: Member must be a user",
                )),
                None => Err(ScimError::user_not_found()),
            })
            .collect()
    }

    /// Creates a group with its initial members (at most 100, validated by the caller).
    pub fn create_group(&mut self, id: String, now: Timestamp, input: GroupInput) -> Result<&Group, ScimError> {
        let member_ids: Vec<String> = input.members.iter().flatten().filter_map(|m| m.value.clone()).collect();
        if input.members.iter().flatten().any(|m| m.value.as_deref().is_none_or(str::is_empty)) {
            return Err(ScimError::validation(
                "Value at 'members.value' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ));
        }
        let group = Group {
            id,
            external_id: input.external_id,
            meta: Meta { resource_type: "Group", created: now, last_modified: now },
            schemas: (),
            display_name: input.display_name.unwrap_or_default(),
        };
        self.check_group_unique(&group, None)?;
        let members = self.member_keys(&member_ids)?;
        let key = self.key();
        self.index_group(key, &group);
        for user in members {
            self.link(key, user);
        }
        Ok(self.groups.entry(key).or_insert(group))
    }

    fn link(&mut self, group: Key, user: Key) {
        self.members.entry(group).or_default().insert(user);
        let groups = self.member_of.entry(user).or_default();
        if let Err(at) = groups.binary_search(&group) {
            groups.insert(at, group);
        }
    }

    fn unlink(&mut self, group: Key, user: Key) {
        if let Some(set) = self.members.get_mut(&group) {
            set.remove(&user);
        }
        if let Some(groups) = self.member_of.get_mut(&user)
            && let Ok(at) = groups.binary_search(&group)
        {
            groups.remove(at);
        }
    }

    /// Applies PATCH changes atomically: all or nothing.
    pub fn patch_group(
        &mut self,
        id: &str,
        now: Timestamp,
        changes: &[GroupChange],
        switches: &Switches,
    ) -> Result<(), ScimError> {
        let key = *self.group_ids.get(id).ok_or_else(ScimError::group_not_found)?;
        let old = self.groups.get(&key).ok_or_else(ScimError::group_not_found)?.clone();
        let mut next = old.clone();
        let mut links = Vec::new();
        for change in changes {
            match change {
                GroupChange::DisplayName(name) => next.display_name = name.clone(),
                GroupChange::ExternalId(external) => next.external_id = external.clone(),
                GroupChange::AddMembers(ids) => links.extend(self.member_keys(ids)?.into_iter().map(|k| (k, true))),
                // Removing a member that is not there, or an unknown id, changes nothing (inferred).
                GroupChange::RemoveMembers(ids) => {
                    links.extend(ids.iter().filter_map(|id| self.user_key(id)).map(|k| (k, false)))
                }
            }
        }
        if next != old {
            validate::group_attributes(Some(&next.display_name), next.external_id.as_deref(), switches)?;
            self.check_group_unique(&next, Some(key))?;
        }
        for (user, add) in links {
            if add { self.link(key, user) } else { self.unlink(key, user) }
        }
        next.meta.last_modified = now;
        self.unindex_group(&old);
        self.index_group(key, &next);
        self.groups.insert(key, next);
        Ok(())
    }

    /// Replaces a group's attributes and members (PUT, when the `groupPut` switch accepts it).
    pub fn replace_group(&mut self, id: &str, now: Timestamp, input: GroupInput) -> Result<&Group, ScimError> {
        let key = *self.group_ids.get(id).ok_or_else(ScimError::group_not_found)?;
        let old = self.groups.get(&key).ok_or_else(ScimError::group_not_found)?.clone();
        let member_ids: Vec<String> = input.members.iter().flatten().filter_map(|m| m.value.clone()).collect();
        let mut next = old.clone();
        next.display_name = input.display_name.unwrap_or_default();
        next.external_id = input.external_id;
        next.meta.last_modified = now;
        self.check_group_unique(&next, Some(key))?;
        let members = self.member_keys(&member_ids)?;
        for user in self.members.remove(&key).into_iter().flatten() {
            self.unlink(key, user);
        }
        for user in members {
            self.link(key, user);
        }
        self.unindex_group(&old);
        self.index_group(key, &next);
        self.groups.insert(key, next);
        self.groups.get(&key).ok_or_else(ScimError::group_not_found)
    }

    /// Deletes a group and its memberships; 404 if unknown.
    pub fn delete_group(&mut self, id: &str) -> Result<(), ScimError> {
        let key = *self.group_ids.get(id).ok_or_else(ScimError::group_not_found)?;
        let group = self.groups.remove(&key).ok_or_else(ScimError::group_not_found)?;
        self.unindex_group(&group);
        for user in self.members.remove(&key).into_iter().flatten() {
            if let Some(groups) = self.member_of.get_mut(&user)
                && let Ok(at) = groups.binary_search(&key)
            {
                groups.remove(at);
            }
        }
        Ok(())
    }

    /// Looks a folded value up in an index, checking exact case when filters are case-sensitive.
    fn lookup(
        index: &FastMap<String, Key>,
        value: &str,
        exact: impl Fn(Key) -> bool,
        switches: &Switches,
    ) -> Option<Key> {
        let key = *index.get(fold(value).as_ref())?;
        (switches.filter_case_insensitive || exact(key)).then_some(key)
    }

    /// Users matching a query, from just after `after`, at most `count`.
    pub fn find_users(
        &self,
        query: &UserQuery,
        after: Key,
        count: usize,
        switches: &Switches,
    ) -> Result<Page, ScimError> {
        let one = |key: Option<Key>| page(key.filter(|k| *k > after).into_iter(), count);
        Ok(match query {
            UserQuery::All => page(self.users.keys_after(after), count),
            UserQuery::UserName(name) => {
                let folded = fold(name);
                let key = self.user_names.get(&folded, |k| user_name_is(&self.users, k, &folded));
                one(key.filter(|k| switches.filter_case_insensitive || self.users[*k].user_name == *name))
            }
            // externalId is case-exact in SCIM; the index is folded for uniqueness, so check exactly.
            UserQuery::ExternalId(external) => {
                let folded = fold(external);
                let key = self.user_external_ids.get(&folded, |k| user_external_is(&self.users, k, &folded));
                one(key.filter(|k| self.users[*k].external_id.as_deref() == Some(external)))
            }
            UserQuery::Id(id) => one(self.user_key(id)),
            UserQuery::IdAndManager { id, manager } => one(self.user_key(id).filter(|k| {
                self.users[*k].enterprise().and_then(|e| e.manager.as_ref()).and_then(|m| m.value.as_deref())
                    == Some(manager.as_str())
            })),
            // Members of a group (listusers.html); an unknown group gives an empty list (inferred).
            UserQuery::GroupsValue(group) => match self.group_ids.get(group).and_then(|g| self.members.get(g)) {
                Some(members) => page(members.range(after + 1..).copied(), count),
                None => page(std::iter::empty(), count),
            },
        })
    }

    /// Groups matching a query, from just after `after`, at most `count`.
    pub fn find_groups(
        &self,
        query: &GroupQuery,
        after: Key,
        count: usize,
        switches: &Switches,
    ) -> Result<Page, ScimError> {
        let one = |key: Option<Key>| page(key.filter(|k| *k > after).into_iter(), count);
        Ok(match query {
            GroupQuery::All => page(self.groups.range(after + 1..).map(|(k, _)| *k), count),
            GroupQuery::DisplayName(name) => {
                one(Self::lookup(&self.group_names, name, |k| self.groups[&k].display_name == *name, switches))
            }
            GroupQuery::ExternalId(external) => one(self
                .group_external_ids
                .get(fold(external).as_ref())
                .copied()
                .filter(|k| self.groups[k].external_id.as_deref() == Some(external))),
            GroupQuery::Id(id) => one(self.group_ids.get(id).copied()),
            // "When filter querying with a nonexisting member." → 404 (listgroups.html)
            GroupQuery::MembersValue(user) => {
                let user = self.user_key(user).ok_or_else(ScimError::nonexistent_member)?;
                match self.member_of.get(&user) {
                    Some(groups) => page(groups[groups.partition_point(|g| *g <= after)..].iter().copied(), count),
                    None => page(std::iter::empty(), count),
                }
            }
            GroupQuery::IdAndMember { id, member } => {
                let user = self.user_key(member).ok_or_else(ScimError::nonexistent_member)?;
                one(self.group_ids.get(id).copied().filter(|g| self.members.get(g).is_some_and(|m| m.contains(&user))))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_input(name: &str, email: &str) -> UserInput {
        serde_json::from_value(serde_json::json!({
            "userName": name, "displayName": name, "name": {"givenName": "G", "familyName": "F"},
            "emails": [{"value": email, "type": "work", "primary": true}]
        }))
        .unwrap()
    }

    fn now() -> Timestamp {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn user_name_and_primary_email_are_unique_regardless_of_case() {
        let mut tenant = Tenant::default();
        let switches = Switches::default();
        tenant.create_user("u1".into(), now(), user_input("Annie", "annie@x"), &switches).unwrap();
        let err = tenant.create_user("u2".into(), now(), user_input("ANNIE", "other@x"), &switches).unwrap_err();
        assert_eq!(err, ScimError::duplicate());
        let err = tenant.create_user("u2".into(), now(), user_input("bob", "Annie@X"), &switches).unwrap_err();
        assert_eq!(err, ScimError::duplicate());
        assert_eq!(tenant.user_count(), 1);
    }

    #[test]
    fn member_filters_walk_memberships_in_both_directions() {
        let mut tenant = Tenant::default();
        let switches = Switches::default();
        tenant.create_user("u1".into(), now(), user_input("a", "a@x"), &switches).unwrap();
        tenant.create_user("u2".into(), now(), user_input("b", "b@x"), &switches).unwrap();
        let input =
            serde_json::from_value(serde_json::json!({"displayName": "SRE", "members": [{"value": "u2"}]})).unwrap();
        tenant.create_group("g1".into(), now(), input).unwrap();
        let members = tenant.find_users(&UserQuery::GroupsValue("g1".into()), 0, 100, &switches).unwrap();
        assert_eq!(members.keys, vec![2]);
        let groups = tenant.find_groups(&GroupQuery::MembersValue("u1".into()), 0, 100, &switches).unwrap();
        assert!(groups.keys.is_empty());
        let err = tenant.find_groups(&GroupQuery::MembersValue("nobody".into()), 0, 100, &switches).unwrap_err();
        assert_eq!(err, ScimError::nonexistent_member());
        tenant.delete_user("u2").unwrap();
        assert!(tenant.find_users(&UserQuery::GroupsValue("g1".into()), 0, 100, &switches).unwrap().keys.is_empty());
    }

    #[test]
    fn a_hash_index_keeps_a_value_whose_hash_another_took_whole() {
        // `holds` saying no for another key stands for two values with one hash.
        let mut index = HashIndex::default();
        index.insert("a", 1, |_| false);
        index.insert("a", 2, |_| false);
        assert_eq!(index.get("a", |k| k == 2), Some(2), "found in the spill");
        assert_eq!(index.get("a", |k| k == 1), Some(1));
        index.remove("a", 1);
        assert_eq!(index.get("a", |k| k == 2), Some(2));
        index.remove("a", 2);
        assert_eq!(index.get("a", |_| true), None);
        assert!(index.spill.is_empty() && index.by_hash.is_empty());
    }

    #[test]
    fn pages_stop_at_count_and_say_whether_more_follow() {
        let mut tenant = Tenant::default();
        let switches = Switches::default();
        for i in 0..5 {
            tenant
                .create_user(format!("u{i}"), now(), user_input(&format!("n{i}"), &format!("{i}@x")), &switches)
                .unwrap();
        }
        let first = tenant.find_users(&UserQuery::All, 0, 2, &switches).unwrap();
        assert_eq!(first, Page { keys: vec![1, 2], more: true });
        let last = tenant.find_users(&UserQuery::All, 4, 2, &switches).unwrap();
        assert_eq!(last, Page { keys: vec![5], more: false });
    }
}
