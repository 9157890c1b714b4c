//! What a cycle will look at (entra-provisioning.md §4.2, §4.3): the candidates from the watermark,
//! the change log and the escrows, each with its desired state, read under the lock in steps
//! ([`begin`], [`Begun::evaluate`] a chunk per hold, [`Begun::complete`]) or, for provision on demand
//! and tests, in one ([`plan`]); and the plan split by what an export may touch: a read-only part
//! ([`Fixed`]) and the ledger of links and escrows the exports write ([`Ledger`]).

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde_json::Value;

use super::cycle::{Secrets, Settings, TARGET_NAME};
use super::job::{Escrow, GroupLink, Job, UserLink};
use super::scim::{Target, TargetError};
use super::scope::{ManagerRef, OutOfScope, Scope};
use super::template::read_mappings;
use crate::directory::{ChangeKind, Key, ObjectKind};
use crate::state::{DuplicateGroupNames, World};

/// A user as the cycle will handle it.
#[derive(Debug, Clone)]
pub(crate) struct UserWork {
    pub(crate) key: Option<Key>,
    pub(crate) id: String,
    pub(crate) upn: String,
    pub(crate) in_scope: bool,
    /// Why it is out of scope; `None` when in scope.
    pub(crate) why_out: Option<OutOfScope>,
    pub(crate) desired: BTreeMap<String, String>,
    /// Only on create: `ObjectAddOnly` mappings and default values.
    pub(crate) create_only: BTreeMap<String, String>,
    pub(crate) matching: Vec<(String, String)>,
    pub(crate) modified: Vec<(String, Option<String>, Option<String>)>,
    pub(crate) import_kind: &'static str,
    /// Permanently deleted in Entra: the target user is deleted (§4.4).
    pub(crate) purged: bool,
    /// The manager to link once the users are exported, when a mapping reads `[manager]` (§4.2 step 6).
    pub(crate) manager: Option<ManagerRef>,
}

impl UserWork {
    /// What the manager phase needs of the user, when the user and its manager are in scope: the
    /// rest of a user's work is dropped once the users are exported, which at 100,000 users is
    /// about a tenth of a cycle's peak memory.
    pub(crate) fn manager_work(&self) -> Option<ManagerWork> {
        let manager = self.manager.clone().filter(|m| m.in_scope && self.in_scope)?;
        Some(ManagerWork { id: self.id.clone(), upn: self.upn.clone(), manager })
    }
}

/// A user whose manager a cycle links (§4.2 step 6).
#[derive(Debug, Clone)]
pub(crate) struct ManagerWork {
    pub(crate) id: String,
    pub(crate) upn: String,
    pub(crate) manager: ManagerRef,
}

/// A group as the cycle will handle it.
#[derive(Debug, Clone)]
pub(crate) struct GroupWork {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) in_scope: bool,
    pub(crate) desired: BTreeMap<String, String>,
    /// Direct members that are users (nested groups are not flattened, §2.2).
    pub(crate) members: BTreeSet<String>,
    pub(crate) modified: Vec<(String, Option<String>, Option<String>)>,
    pub(crate) import_kind: &'static str,
}

/// Everything a cycle needs, read under the lock.
pub(crate) struct Plan {
    pub(crate) job_id: String,
    pub(crate) cycle_id: String,
    pub(crate) initial: bool,
    pub(crate) seq: u64,
    pub(crate) now: Timestamp,
    /// What every export reads and none writes.
    pub(crate) fixed: Fixed,
    pub(crate) users: Vec<UserWork>,
    pub(crate) groups: Vec<GroupWork>,
    /// Assigned groups of the candidate users that are not candidates themselves: a user linked in
    /// this cycle (say, retried from escrow) must join them (reference resolution, §4.2 step 6).
    pub(crate) reference_groups: Vec<GroupWork>,
    /// What the exports write: links and escrows.
    pub(crate) ledger: Ledger,
    pub(crate) imported_deltas: usize,
    pub(crate) reference_deltas: usize,
    pub(crate) context: ContextOwned,
}

/// The part of a plan every export of the cycle reads and none writes, so that exports of
/// different objects can run at once.
pub(crate) struct Fixed {
    pub(crate) target: Result<Target, TargetError>,
    pub(crate) secrets: Secrets,
    /// An initial cycle (not provision on demand): linked objects are read back from the target and
    /// diffed against what it holds, not against what was last exported (§4.2 steps 3 to 5).
    pub(crate) read_target: bool,
    /// `ForceDeletes` approved the deletions staged by an earlier cycle (§5.3).
    pub(crate) deletes_approved: bool,
    /// This cycle's disables and deletes exceed the accidental-deletion threshold and wait for
    /// approval (§5.3): decided once, before the first export.
    pub(crate) staged_deletes: bool,
    pub(crate) duplicate_group_names: DuplicateGroupNames,
    /// How many lanes export at once (switch `exportConcurrency`); 1 for provision on demand.
    pub(crate) concurrency: usize,
}

/// The part of a plan the exports write: the connector data store's links and the escrows
/// (entra-provisioning.md §5.1, §10.1). A lane of exports gets the entries of its own objects,
/// moved out with [`Ledger::split_off`] and put back with [`Ledger::absorb`].
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Ledger {
    pub(crate) users: BTreeMap<String, UserLink>,
    pub(crate) groups: BTreeMap<String, GroupLink>,
    pub(crate) escrows: BTreeMap<String, Escrow>,
}

impl Ledger {
    /// Moves out the entries of these objects (Entra ids, of users or groups): their links and
    /// their escrows.
    pub(crate) fn split_off<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>) -> Ledger {
        let mut lane = Ledger::default();
        for id in ids {
            if let Some((id, link)) = self.users.remove_entry(id) {
                lane.users.insert(id, link);
            }
            if let Some((id, link)) = self.groups.remove_entry(id) {
                lane.groups.insert(id, link);
            }
            if let Some((id, escrow)) = self.escrows.remove_entry(id) {
                lane.escrows.insert(id, escrow);
            }
        }
        lane
    }

    /// Puts back the entries of a lane split off earlier, with what its exports wrote. A lane
    /// writes only its own objects' entries, so nothing of another lane is overwritten.
    pub(crate) fn absorb(&mut self, lane: Ledger) {
        self.users.extend(lane.users);
        self.groups.extend(lane.groups);
        self.escrows.extend(lane.escrows);
    }

    /// Drops an AWS user from every group's tracked members: AWS dropped its memberships when it
    /// was deleted there (§4.2 step 4, inferred).
    pub(crate) fn forget_member(&mut self, target_id: &str) {
        for group in self.groups.values_mut() {
            group.members.remove(target_id);
        }
    }
}

/// Owned parts of a log context.
#[derive(Debug, Clone)]
pub struct ContextOwned {
    /// Tenant id.
    pub tenant_id: String,
    /// Service principal id.
    pub sp_id: String,
    /// Service principal name.
    pub sp_name: String,
    /// Application id.
    pub application_id: String,
}

/// A candidate user: one in the directory by its key (its id is read when it is evaluated, so
/// that picking 100,000 candidates stays cheap), one gone from it by id, or one provision on demand
/// names (an id or a UPN).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum UserRef {
    Live(Key),
    Gone(String),
    Named(String),
}

/// The objects a cycle looks at, with the kind of change each is imported as.
#[derive(Debug, Default)]
pub(crate) struct Candidates {
    pub(crate) users: Vec<(UserRef, &'static str)>,
    pub(crate) groups: Vec<(String, &'static str)>,
    /// Users gone from deleted items too: deleted in the target (§4.4).
    pub(crate) purged: BTreeSet<String>,
    pub(crate) deltas: usize,
    pub(crate) reference_deltas: usize,
}

/// Picks the objects a cycle looks at: everything in reach and everything linked on an initial cycle,
/// what changed since the watermark (through the change log, as delta does) on an incremental one, plus escrows (§4.2, §4.3).
pub(crate) fn candidates(world: &World, job: &Job, scope: &Scope<'_>) -> Candidates {
    let dir = &world.directory;
    let user = |id: &str| match dir.lookup(id) {
        Some((ObjectKind::User, key)) => UserRef::Live(key),
        _ => UserRef::Gone(id.to_owned()),
    };
    let mut users: BTreeMap<UserRef, &'static str> = BTreeMap::new();
    let mut groups: BTreeMap<String, &'static str> = BTreeMap::new();
    let mut purged = BTreeSet::new();
    let mut deltas = 0;
    let mut reference_deltas = 0;
    match job.watermark {
        None => {
            if scope.sync_all {
                users.extend(dir.users.keys().map(|key| (UserRef::Live(*key), "Add")));
                groups
                    .extend(dir.groups.values().filter_map(|g| g.get("id")?.as_str().map(|id| (id.to_owned(), "Add"))));
            } else if let Some(sp) = dir.service_principal_key(scope.sp_id) {
                for (_, assignment) in dir.assignments_on(sp) {
                    let Some(principal) = assignment.get("principalId").and_then(Value::as_str) else { continue };
                    match dir.lookup(principal) {
                        Some((ObjectKind::User, key)) => {
                            users.insert(UserRef::Live(key), "Add");
                        }
                        Some((ObjectKind::Group, key)) => {
                            groups.insert(principal.to_owned(), "Add");
                            for (kind, member) in dir.members_of(key) {
                                if kind == ObjectKind::User {
                                    users.insert(UserRef::Live(member), "Add");
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            // A restart clears the watermark but keeps the links (entra-provisioning.md §4.1), so
            // what the job provisioned is evaluated again: whatever left the scope meanwhile is
            // deprovisioned, and a user gone from deleted items too is deleted.
            for id in job.users.keys() {
                users.entry(user(id)).or_insert("Update");
                if dir.lookup(id).is_none() && !dir.deleted_users.contains_key(id) {
                    purged.insert(id.clone());
                }
            }
            for id in job.groups.keys() {
                groups.entry(id.clone()).or_insert(if dir.lookup(id).is_none() { "Delete" } else { "Update" });
            }
        }
        Some(watermark) => {
            for change in dir.changes_between(watermark, dir.last_seq()) {
                match (change.kind, &change.what) {
                    (ObjectKind::User, ChangeKind::Deleted) => {
                        users.insert(user(&change.id), "Delete");
                        deltas += 1;
                    }
                    (ObjectKind::User, ChangeKind::Purged) => {
                        users.insert(user(&change.id), "Delete");
                        purged.insert(change.id.clone());
                        deltas += 1;
                    }
                    // A user restored from deleted items after its deletion is live again: delta
                    // shows its current state, not `@removed` (§4.3, §4.4 "soft-deleted → active").
                    (ObjectKind::User, ChangeKind::Upserted) => {
                        let kind = users.entry(user(&change.id)).or_insert("Update");
                        if *kind == "Delete" && !purged.contains(&change.id) {
                            *kind = "Update";
                        }
                        deltas += 1;
                    }
                    (ObjectKind::User, _) => {
                        users.entry(user(&change.id)).or_insert("Update");
                        deltas += 1;
                    }
                    (
                        ObjectKind::Group,
                        ChangeKind::MemberAdded(member, kind) | ChangeKind::MemberRemoved(member, kind),
                    ) => {
                        groups.entry(change.id.clone()).or_insert("Update");
                        if *kind == ObjectKind::User.odata_type() {
                            users.entry(user(member)).or_insert("Update");
                        }
                        reference_deltas += 1;
                    }
                    (ObjectKind::Group, what) => {
                        groups
                            .insert(change.id.clone(), if *what == ChangeKind::Deleted { "Delete" } else { "Update" });
                        if matches!(what, ChangeKind::Assigned(_) | ChangeKind::Unassigned(_)) {
                            if let Some((_, key)) = dir.lookup(&change.id) {
                                for (kind, member) in dir.members_of(key) {
                                    if kind == ObjectKind::User {
                                        users.entry(UserRef::Live(member)).or_insert("Update");
                                    }
                                }
                            }
                            if let Some(link) = job.groups.get(&change.id) {
                                for (linked, user_link) in &job.users {
                                    if link.members.contains(&user_link.target_id) {
                                        users.entry(user(linked)).or_insert("Update");
                                    }
                                }
                            }
                        }
                        deltas += 1;
                    }
                    _ => {}
                }
            }
        }
    }
    // Escrowed objects are retried on every cycle (§5.1).
    for (id, escrow) in &job.escrows {
        if escrow.kind == "Group" {
            groups.entry(id.clone()).or_insert("Update");
        } else {
            users.entry(user(id)).or_insert("Update");
        }
    }
    Candidates {
        users: users.into_iter().collect(),
        groups: groups.into_iter().collect(),
        purged,
        deltas,
        reference_deltas,
    }
}

/// How many users a hold of the lock evaluates, in a cycle planned in steps ([`begin`]): about
/// 15 ms of work on a slow machine, so Graph answers while a large cycle plans.
pub(crate) const PLAN_CHUNK: usize = 1_000;

/// A plan being made: the first hold of the lock picked the candidates ([`begin`]); their scope
/// and desired values are evaluated in chunks ([`Begun::evaluate`]), each under its own hold;
/// [`Begun::complete`] finds the reference groups and takes the ledger from the job. A change to the
/// directory between two holds is after the cycle's watermark, so the next cycle looks at it again.
pub(crate) struct Begun {
    job_id: String,
    cycle_id: String,
    now: jiff::Timestamp,
    seq: u64,
    only: bool,
    secrets: Secrets,
    mappings: super::template::Mappings,
    sp_id: String,
    context: ContextOwned,
    candidates: Candidates,
    /// The candidate users evaluated so far, and whether they are in export order.
    users: Vec<UserWork>,
    ordered: bool,
    /// The candidate groups evaluated so far.
    groups: Vec<GroupWork>,
    /// How many candidate users are evaluated so far.
    evaluated: usize,
}

/// Reads what a cycle (or, with `only`, provision on demand) will look at, or `None` when the job
/// cannot run: no job, an unreadable schema, no service principal.
pub(crate) fn begin(world: &mut World, job_id: &str, only: Option<&Subjects>) -> Option<Begun> {
    // Deleted items that turned 30 days old by this instant are purged first (§4.3 step 9).
    world.expire_deleted_users();
    let cycle_id = world.uuid();
    let now = world.core.clock.now();
    let seq = world.directory.last_seq();
    let job = world.provisioning.jobs.get(job_id)?;
    let secrets = Secrets::from_pairs(
        world.provisioning.secrets.get(&job.service_principal_id).map(Vec::as_slice).unwrap_or(&[]),
    );
    let mappings = read_mappings(&job.schema).ok()?;
    let sp_key = world.directory.service_principal_key(&job.service_principal_id)?;
    let sp = world.directory.service_principals.get(&sp_key)?;
    let sp_name = sp.get("displayName").and_then(Value::as_str).unwrap_or(TARGET_NAME).to_owned();
    let app_id = sp.get("appId").and_then(Value::as_str).unwrap_or_default().to_owned();
    let application_id = world
        .directory
        .app_by_app_id
        .get(&app_id)
        .and_then(|k| world.directory.applications.get(k))
        .and_then(|a| a.get("id")?.as_str().map(str::to_owned))
        .unwrap_or_default();
    let scope = Scope {
        dir: &world.directory,
        sp_id: &job.service_principal_id,
        sync_all: secrets.sync_all,
        mappings: &mappings,
    };
    let candidates = match only {
        None => candidates(world, job, &scope),
        Some(subjects) => {
            Candidates {
                users: subjects.users.iter().map(|id| (UserRef::Named(id.clone()), "Add")).collect(),
                // Provision on demand names its groups in its own order (§5.4).
                groups: subjects.groups.iter().map(|id| (id.clone(), "Add")).collect(),
                ..Candidates::default()
            }
        }
    };
    let context = ContextOwned {
        tenant_id: world.tenant.id.clone(),
        sp_id: job.service_principal_id.clone(),
        sp_name,
        application_id,
    };
    Some(Begun {
        job_id: job_id.to_owned(),
        cycle_id,
        now,
        seq,
        only: only.is_some(),
        sp_id: job.service_principal_id.clone(),
        secrets,
        mappings,
        context,
        candidates,
        groups: Vec::new(),
        users: Vec::new(),
        ordered: false,
        evaluated: 0,
    })
}

impl Begun {
    fn scope<'a>(&'a self, world: &'a World) -> Scope<'a> {
        Scope { dir: &world.directory, sp_id: &self.sp_id, sync_all: self.secrets.sync_all, mappings: &self.mappings }
    }

    /// Whether some candidates are still to be evaluated.
    pub(crate) fn has_work_left(&self) -> bool {
        self.evaluated < self.candidates.users.len() || self.groups.len() < self.candidates.groups.len()
    }

    /// Evaluates the next candidates, about `chunk` objects' worth: users first (`chunk` of them),
    /// then groups (until their members reach `chunk`).
    pub(crate) fn evaluate(&mut self, world: &World, chunk: usize) {
        if self.evaluated < self.candidates.users.len() {
            return self.evaluate_users(world, chunk);
        }
        let dir = &world.directory;
        let scope = self.scope(world);
        let (mut members, mut works) = (0, Vec::new());
        while members < chunk
            && let Some((id, kind)) = self.candidates.groups.get(self.groups.len() + works.len())
        {
            let work = scope.group(dir.group_key(id), id, kind);
            members += work.members.len() + 1;
            works.push(work);
        }
        self.groups.extend(works);
    }

    /// Evaluates the next `chunk` candidate users: scope, desired values, matching values (`scope`).
    fn evaluate_users(&mut self, world: &World, chunk: usize) {
        let dir = &world.directory;
        let scope = self.scope(world);
        let end = self.evaluated.saturating_add(chunk).min(self.candidates.users.len());
        let works = self.candidates.users[self.evaluated..end]
            .iter()
            .filter_map(|(user, kind)| {
                let (key, id) = match user {
                    // Deleted since the candidates were picked: after the watermark, so the next
                    // cycle imports the deletion.
                    UserRef::Live(key) => (Some(*key), dir.users.get(key)?.get("id")?.as_str()?.to_owned()),
                    UserRef::Gone(id) => (None, id.clone()),
                    UserRef::Named(id) => (dir.user_key(id), id.clone()),
                };
                let mut work = scope.user(key, &id, kind);
                work.purged = self.candidates.purged.contains(&id) && dir.lookup(&id).is_none();
                Some(work)
            })
            .collect::<Vec<_>>();
        self.users.extend(works);
        self.evaluated = end;
        self.ordered = false;
    }

    /// Puts the evaluated users in export order: by directory key (creation order), gone ones last;
    /// provision on demand keeps the order it named them in. Needs no lock.
    pub(crate) fn order_users(&mut self) {
        if !self.only && !self.ordered {
            self.users.sort_by(|a, b| (a.key.is_none(), a.key, &a.id).cmp(&(b.key.is_none(), b.key, &b.id)));
        }
        self.ordered = true;
    }

    /// Evaluates the groups, finds the reference groups of the users (every candidate user, once
    /// evaluated), and takes the ledger from the job: the plan.
    pub(crate) fn complete(
        mut self,
        world: &mut World,
        settings: &Settings,
        waiter: Option<super::scim::Waiter>,
    ) -> Option<Plan> {
        while self.has_work_left() {
            self.evaluate(world, usize::MAX);
        }
        self.order_users();
        let users = std::mem::take(&mut self.users);
        let mut groups = std::mem::take(&mut self.groups);
        let dir = &world.directory;
        let scope = self.scope(world);
        if !self.only {
            let order = |w: &GroupWork| {
                let key = dir.group_key(&w.id);
                (key.is_none(), key)
            };
            groups.sort_by(|a, b| (order(a), &a.id).cmp(&(order(b), &b.id)));
        }
        let reference_groups: Vec<GroupWork> = if self.only {
            Vec::new()
        } else {
            let mut seen: BTreeSet<Key> = groups.iter().filter_map(|g| dir.group_key(&g.id)).collect();
            let mut extra = Vec::new();
            for user in &users {
                for group in user.key.into_iter().flat_map(|k| dir.groups_of(k)) {
                    if scope.group_assigned(group) && seen.insert(group) {
                        extra.push(scope.group(Some(group), &dir.object_id(ObjectKind::Group, group), "Update"));
                    }
                }
            }
            extra
        };
        let secrets = std::mem::take(&mut self.secrets);
        let target = match (&secrets.base_address, &secrets.secret_token) {
            (Some(base), Some(token)) => {
                Target::new(base, token, settings.client.clone(), settings.timeout, settings.attempts).map(
                    |mut target| {
                        target.waiter = waiter;
                        target
                    },
                )
            }
            _ => Err(TargetError::InvalidTenantUrl),
        };
        let job = world.provisioning.jobs.get_mut(&self.job_id)?;
        let initial = job.watermark.is_none();
        let deletes_approved = job.deletes_approved;
        Some(Plan {
            job_id: self.job_id,
            cycle_id: self.cycle_id,
            initial,
            seq: self.seq,
            now: self.now,
            fixed: Fixed {
                target,
                secrets,
                read_target: initial && !self.only,
                deletes_approved,
                staged_deletes: false,
                duplicate_group_names: settings.duplicate_group_names,
                // Provision on demand handles one object (§5.4): nothing to run at once.
                concurrency: if self.only { 1 } else { settings.export_concurrency.max(1) },
            },
            users,
            groups,
            reference_groups,
            ledger: Ledger {
                users: std::mem::take(&mut job.users),
                groups: std::mem::take(&mut job.groups),
                escrows: std::mem::take(&mut job.escrows),
            },
            imported_deltas: self.candidates.deltas,
            reference_deltas: self.candidates.reference_deltas,
            context: self.context,
        })
    }
}

/// Reads the world into a plan in one hold of the lock, or explains why the job cannot run.
pub(crate) fn plan(
    world: &mut World,
    job_id: &str,
    settings: &Settings,
    only: Option<&Subjects>,
    waiter: Option<super::scim::Waiter>,
) -> Option<Plan> {
    let mut begun = begin(world, job_id, only)?;
    begun.evaluate(world, usize::MAX);
    begun.complete(world, settings, waiter)
}

/// The objects a provision-on-demand request names.
#[derive(Debug, Clone, Default)]
pub struct Subjects {
    /// Entra user ids.
    pub users: Vec<String>,
    /// Entra group ids.
    pub groups: Vec<String>,
}
