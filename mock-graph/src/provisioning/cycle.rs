//! One provisioning cycle (entra-provisioning.md §4, §10): probe, import, scope, match, export users,
//! then groups, then memberships, then deprovisioning; escrow, quarantine and logs.
//!
//! The world is locked to read the directory and to record results, never across a SCIM request:
//! the cycle first computes every object's desired state, then talks to the target, then writes
//! down what happened.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::job::{Code, Escrow, GroupLink, Job, Quarantine, UserLink, execution_time};
use super::logs::{Context, Draft, Failure, Step, error_code, service_initiator};
use super::mapping::{SourceObject, set_path};
use super::scim::{Reply, Target, eq_filter};
use super::template::{Clause, Mappings, ObjectMapping, read_mappings};
use crate::directory::{ChangeKind, Directory, Key, ObjectKind};
use crate::state::{AppState, DuplicateGroupNames, RetrySchedule, World};

/// The target's name in log sentences.
pub const TARGET_NAME: &str = "AWS IAM Identity Center";
/// At most this many membership changes per PATCH: AWS's limit (aws-scim.md §3.3; §4.5 inferred).
pub const MEMBER_CHUNK: usize = 100;
/// How long a job may stay in quarantine: "the retries will go on for 28 days after the first
/// failure after which the escrow entry is removed and the job is disabled" (entra-provisioning.md
/// §5.2; §4.1 "quarantine > 4 weeks ⇒ disabled").
pub const QUARANTINE_LIMIT: SignedDuration = SignedDuration::from_hours(28 * 24);

/// Credentials and flags from the service principal's secrets (§7.4).
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    /// `BaseAddress`.
    pub base_address: Option<String>,
    /// `SecretToken`.
    pub secret_token: Option<String>,
    /// `SyncAll`.
    pub sync_all: bool,
    /// `SkipOutOfScopeDeletions`.
    pub skip_out_of_scope_deletions: bool,
    /// `SyncNotificationSettings.DeleteThresholdEnabled` with its value.
    pub delete_threshold: Option<usize>,
}

impl Secrets {
    /// Reads `{key, value}` pairs.
    pub fn from_pairs(pairs: &[(String, String)]) -> Secrets {
        let get = |key: &str| pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.clone());
        let truth = |key: &str| get(key).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let delete_threshold = get("SyncNotificationSettings")
            .and_then(|v| serde_json::from_str::<Value>(&v).ok())
            .filter(|v| v["DeleteThresholdEnabled"].as_bool() == Some(true))
            .map(|v| v["DeleteThresholdValue"].as_u64().and_then(|n| usize::try_from(n).ok()).unwrap_or(500));
        Secrets {
            base_address: get("BaseAddress"),
            secret_token: get("SecretToken"),
            sync_all: truth("SyncAll"),
            skip_out_of_scope_deletions: truth("SkipOutOfScopeDeletions"),
            delete_threshold,
        }
    }
}

/// Engine settings, from the mock's switches.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The HTTP client the engine talks SCIM with.
    pub client: reqwest::Client,
    /// Attempts per request on 429 and 5xx.
    pub attempts: u32,
    /// Per-request timeout.
    pub timeout: Duration,
    /// The cycle interval, `PT40M` (§4.1).
    pub interval: SignedDuration,
    /// First retry after a quarantine (§5.2: 6 hours by the docs; a Graph example shows 5 minutes).
    pub quarantine_first_retry: SignedDuration,
    /// Whether the later retries are offsets from the first failure or waits between retries (§5.2).
    pub quarantine_retry_schedule: RetrySchedule,
    /// Whether a `Retry-After` is waited out (on the mock's clock) before retrying (§5.1: undocumented).
    pub honour_retry_after: bool,
    /// What a group matching another one's AWS group on displayName gets (inferred).
    pub duplicate_group_names: DuplicateGroupNames,
    /// The failures at which the escrow thresholds start to be evaluated (§5.2: 5,000).
    pub escrow_evaluation_minimum: usize,
}

/// A user as the cycle will handle it.
#[derive(Debug, Clone)]
struct UserWork {
    key: Option<Key>,
    id: String,
    upn: String,
    in_scope: bool,
    why_out: &'static str,
    desired: BTreeMap<String, String>,
    /// Only on create: `ObjectAddOnly` mappings and default values.
    create_only: BTreeMap<String, String>,
    matching: Vec<(String, String)>,
    modified: Vec<(String, Option<String>, Option<String>)>,
    import_kind: &'static str,
    /// Permanently deleted in Entra: the target user is deleted (§4.4).
    purged: bool,
    /// The manager to link once the users are exported, when a mapping reads `[manager]` (§4.2 step 6).
    manager: Option<ManagerRef>,
}

/// A group as the cycle will handle it.
#[derive(Debug, Clone)]
struct GroupWork {
    id: String,
    name: String,
    in_scope: bool,
    desired: BTreeMap<String, String>,
    /// Direct members that are users (nested groups are not flattened, §2.2).
    members: BTreeSet<String>,
    modified: Vec<(String, Option<String>, Option<String>)>,
    import_kind: &'static str,
}

/// Everything a cycle needs, read under the lock.
struct Plan {
    job_id: String,
    cycle_id: String,
    initial: bool,
    /// An initial cycle (not provision on demand): linked objects are read back from the target and
    /// diffed against what it holds, not against what was last exported (§4.2 steps 3 to 5).
    read_target: bool,
    duplicate_group_names: DuplicateGroupNames,
    seq: u64,
    now: Timestamp,
    target: Result<Target, String>,
    secrets: Secrets,
    users: Vec<UserWork>,
    groups: Vec<GroupWork>,
    /// Assigned groups of the candidate users that are not candidates themselves: a user linked in
    /// this cycle (say, retried from escrow) must join them (reference resolution, §4.2 step 6).
    reference_groups: Vec<GroupWork>,
    links_users: BTreeMap<String, UserLink>,
    links_groups: BTreeMap<String, GroupLink>,
    escrows: BTreeMap<String, Escrow>,
    imported_deltas: usize,
    reference_deltas: usize,
    context: ContextOwned,
    deletes_approved: bool,
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

/// The scope of one directory object under a job's settings (§2).
pub struct Scope<'a> {
    dir: &'a Directory,
    sp_id: &'a str,
    sync_all: bool,
    mappings: &'a Mappings,
}

fn clause_holds(clause: &Clause, object: &SourceObject<'_>) -> bool {
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
fn scoping_regex(pattern: &str) -> Option<regex::Regex> {
    thread_local! {
        static COMPILED: std::cell::RefCell<BTreeMap<String, Option<regex::Regex>>> =
            const { std::cell::RefCell::new(BTreeMap::new()) };
    }
    COMPILED.with(|compiled| {
        compiled.borrow_mut().entry(pattern.to_owned()).or_insert_with(|| regex::Regex::new(pattern).ok()).clone()
    })
}

/// Scoping filters: AND within a filter, OR across filters; no filter means in scope (§2.3).
fn passes(mapping: &ObjectMapping, object: &SourceObject<'_>) -> bool {
    mapping.scope.is_empty() || mapping.scope.iter().any(|group| group.iter().all(|c| clause_holds(c, object)))
}

/// A user's manager, for the reference pass after the users are exported (§4.2 step 6).
#[derive(Debug, Clone)]
struct ManagerRef {
    /// The SCIM path the mapping writes: `urn:…:enterprise:2.0:User:manager`.
    path: String,
    /// The manager's Entra id.
    id: String,
    /// Whether the manager is in scope itself: one out of scope is never linked (§4.3).
    in_scope: bool,
}

impl Scope<'_> {
    /// Whether a user still in the directory is in scope, and if not why (§2.2, §2.3, §2.5).
    fn user_scope(&self, key: Key, props: &Map<String, Value>) -> (bool, &'static str) {
        let source = SourceObject { properties: props, soft_deleted: false };
        if !self.user_assigned(key) {
            (false, "not assigned")
        } else if props.get("accountEnabled").and_then(Value::as_bool) != Some(true) {
            // "Provisioning a user that is disabled in Microsoft Entra ID isn't supported." (§2.5)
            (false, "disabled")
        } else if !passes(&self.mappings.users, &source) {
            (false, "out of the scoping filter")
        } else {
            (true, "")
        }
    }

    /// The user's manager as Graph shows it (none while the manager is in deleted items), when a
    /// user mapping reads `[manager]`.
    fn manager_reference(&self, key: Option<Key>) -> Option<ManagerRef> {
        let mapping = self.mappings.users.attributes.iter().find(|m| m.reference() == Some("manager"))?;
        let manager = self.dir.manager_of(key?)?;
        let props = self.dir.users.get(&manager)?;
        Some(ManagerRef {
            path: mapping.target.clone(),
            id: self.dir.object_id(ObjectKind::User, manager),
            in_scope: self.user_scope(manager, props).0,
        })
    }
}

impl Scope<'_> {
    fn assigned_directly(&self, key: Key) -> bool {
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

    fn user(&self, key: Option<Key>, id: &str, import_kind: &'static str) -> UserWork {
        let object = key.and_then(|k| self.dir.users.get(&k));
        let (in_scope, why_out) = match object {
            None => (false, "deleted"),
            Some(props) => self.user_scope(key.unwrap_or_default(), props),
        };
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

    fn group(&self, key: Option<Key>, id: &str, import_kind: &'static str) -> GroupWork {
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

/// Picks the objects a cycle looks at: everything in reach and everything linked on an initial cycle,
/// what changed since the watermark (through the change log, as delta does) on an incremental one, plus escrows (§4.2, §4.3).
fn candidates(world: &World, job: &Job, scope: &Scope<'_>) -> (Vec<UserWork>, Vec<GroupWork>, usize, usize) {
    let dir = &world.directory;
    let mut users: BTreeMap<String, &'static str> = BTreeMap::new();
    let mut groups: BTreeMap<String, &'static str> = BTreeMap::new();
    let mut purged = BTreeSet::new();
    let mut deltas = 0;
    let mut reference_deltas = 0;
    match job.watermark {
        None => {
            if scope.sync_all {
                users.extend(dir.users.values().filter_map(|u| u.get("id")?.as_str().map(|id| (id.to_owned(), "Add"))));
                groups
                    .extend(dir.groups.values().filter_map(|g| g.get("id")?.as_str().map(|id| (id.to_owned(), "Add"))));
            } else if let Some(sp) = dir.service_principal_key(scope.sp_id) {
                for (_, assignment) in dir.assignments_on(sp) {
                    let Some(principal) = assignment.get("principalId").and_then(Value::as_str) else { continue };
                    match dir.lookup(principal) {
                        Some((ObjectKind::User, _)) => {
                            users.insert(principal.to_owned(), "Add");
                        }
                        Some((ObjectKind::Group, key)) => {
                            groups.insert(principal.to_owned(), "Add");
                            for (kind, member) in dir.members_of(key) {
                                if kind == ObjectKind::User {
                                    users.insert(dir.object_id(kind, member), "Add");
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
                users.entry(id.clone()).or_insert("Update");
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
                        users.insert(change.id.clone(), "Delete");
                        deltas += 1;
                    }
                    (ObjectKind::User, ChangeKind::Purged) => {
                        users.insert(change.id.clone(), "Delete");
                        purged.insert(change.id.clone());
                        deltas += 1;
                    }
                    (ObjectKind::User, _) => {
                        users.entry(change.id.clone()).or_insert("Update");
                        deltas += 1;
                    }
                    (
                        ObjectKind::Group,
                        ChangeKind::MemberAdded(member, kind) | ChangeKind::MemberRemoved(member, kind),
                    ) => {
                        groups.entry(change.id.clone()).or_insert("Update");
                        if *kind == ObjectKind::User.odata_type() {
                            users.entry(member.clone()).or_insert("Update");
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
                                        users.entry(dir.object_id(kind, member)).or_insert("Update");
                                    }
                                }
                            }
                            if let Some(link) = job.groups.get(&change.id) {
                                for (user, user_link) in &job.users {
                                    if link.members.contains(&user_link.target_id) {
                                        users.entry(user.clone()).or_insert("Update");
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
        let slot = if escrow.kind == "Group" { &mut groups } else { &mut users };
        slot.entry(id.clone()).or_insert("Update");
    }
    // A linked group whose member set may have lost a user is re-evaluated with it.
    let key_of = |id: &str| dir.lookup(id).map(|(_, k)| k);
    let mut user_work: Vec<UserWork> = users
        .iter()
        .map(|(id, kind)| scope.user(dir.user_key(id).filter(|_| key_of(id).is_some()), id, kind))
        .collect();
    for work in &mut user_work {
        work.purged = purged.contains(&work.id) && dir.lookup(&work.id).is_none();
    }
    user_work.sort_by_key(|w| (w.key.is_none(), w.key, w.id.clone()));
    let mut group_work: Vec<GroupWork> =
        groups.iter().map(|(id, kind)| scope.group(dir.group_key(id), id, kind)).collect();
    group_work.sort_by_key(|w| (dir.group_key(&w.id).is_none(), dir.group_key(&w.id), w.id.clone()));
    (user_work, group_work, deltas, reference_deltas)
}

/// Reads the world into a plan, or explains why the job cannot run.
fn plan(
    world: &mut World,
    job_id: &str,
    settings: &Settings,
    only: Option<&Subjects>,
    waiter: Option<super::scim::Waiter>,
) -> Option<Plan> {
    // Deleted items that turned 30 days old by this instant are purged first (§4.3 step 9).
    world.expire_deleted_users();
    let cycle_id = world.uuid();
    let now = world.clock.now();
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
    let (users, groups, imported_deltas, reference_deltas) = match only {
        None => candidates(world, job, &scope),
        Some(subjects) => {
            let dir = &world.directory;
            let users = subjects.users.iter().map(|id| scope.user(dir.user_key(id), id, "Add")).collect();
            let groups = subjects.groups.iter().map(|id| scope.group(dir.group_key(id), id, "Add")).collect();
            (users, groups, 0, 0)
        }
    };
    let reference_groups: Vec<GroupWork> = if only.is_some() {
        Vec::new()
    } else {
        let dir = &world.directory;
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
    let target = match (&secrets.base_address, &secrets.secret_token) {
        (Some(base), Some(token)) => {
            Target::new(base, token, settings.client.clone(), settings.timeout, settings.attempts).map(|mut target| {
                target.waiter = waiter;
                target
            })
        }
        _ => Err("Please provide a valid tenant URL for your application.".to_owned()),
    };
    let context = ContextOwned {
        tenant_id: world.tenant.id.clone(),
        sp_id: job.service_principal_id.clone(),
        sp_name,
        application_id,
    };
    let initial = job.watermark.is_none();
    let deletes_approved = job.deletes_approved;
    let job = world.provisioning.jobs.get_mut(job_id)?;
    Some(Plan {
        job_id: job_id.to_owned(),
        cycle_id,
        initial,
        read_target: initial && only.is_none(),
        duplicate_group_names: settings.duplicate_group_names,
        seq,
        now,
        target,
        secrets,
        users,
        groups,
        reference_groups,
        links_users: std::mem::take(&mut job.users),
        links_groups: std::mem::take(&mut job.groups),
        escrows: std::mem::take(&mut job.escrows),
        imported_deltas,
        reference_deltas,
        context,
        deletes_approved,
    })
}

/// The objects a provision-on-demand request names.
#[derive(Debug, Clone, Default)]
pub struct Subjects {
    /// Entra user ids.
    pub users: Vec<String>,
    /// Entra group ids.
    pub groups: Vec<String>,
}

/// Waits out a `Retry-After` by moving the mock's virtual clock forward, when the engine honours it;
/// under a real clock the retry goes at once (the cycle never sleeps).
fn retry_waiter(state: &AppState, settings: &Settings) -> Option<super::scim::Waiter> {
    if !settings.honour_retry_after {
        return None;
    }
    let state = state.clone();
    Some(std::sync::Arc::new(move |seconds: u64| {
        let mut world = state.world();
        if world.clock.mode() == scenarios::clock::ClockMode::Virtual {
            world.clock.advance(SignedDuration::from_secs(i64::try_from(seconds).unwrap_or(0)));
        }
    }))
}

/// What a cycle did, to be recorded.
#[derive(Default)]
struct Outcome {
    drafts: Vec<Draft>,
    entitled: usize,
    exported: usize,
    exports: usize,
    failures: usize,
    reference_failures: usize,
    staged_deletes: bool,
}

fn reason(verb: &str, kind: &str, name: &str, reply: &Reply) -> String {
    match reply {
        Reply::Http { status, body, .. } => format!(
            "Failed to {verb} {kind} '{name}' in {TARGET_NAME}. The SCIM endpoint returned HTTP {status}. Response body: {body}"
        ),
        Reply::Transport(message) => format!("Failed to {verb} {kind} '{name}' in {TARGET_NAME}. {message}"),
    }
}

fn failure(verb: &str, kind: &str, name: &str, reply: &Reply) -> Failure {
    let (code, category) = error_code(reply.status());
    Failure { code: code.to_owned(), reason: reason(verb, kind, name, reply), category }
}

/// The probe Entra makes at the start of every cycle and for Test Connection: a user that cannot
/// exist, expecting 200 and an empty list (§4.5).
pub async fn probe(target: &Target, guid: &str) -> Result<(), (Reply, &'static str, &'static str)> {
    let filter = eq_filter("userName", guid);
    let replies = target.send(Method::GET, "Users", &[("filter", &filter)], None).await;
    let reply = last_reply(&replies);
    match reply.status() {
        Some(200) => Ok(()),
        Some(401 | 403) => Err((
            reply,
            "SystemForCrossDomainIdentityManagementInvalidCredentials",
            "You appear to have entered invalid credentials. Please confirm you are using the correct information for an administrative account.",
        )),
        None => Err((reply, "CredentialValidationUnavailable", "An error occured while sending the request.")),
        Some(_) => Err((
            reply,
            "SystemForCrossDomainIdentityManagementServiceIncompatible",
            "The SCIM endpoint did not answer the credential probe with 200 and an empty list.",
        )),
    }
}

/// The diff between what should be and what was exported: PATCH operations for changed values only,
/// `Add` where nothing was there, `Replace` otherwise (§4.5, inferred rule); nulls are never sent.
fn operations(target: &Target, desired: &BTreeMap<String, String>, current: &BTreeMap<String, String>) -> Vec<Value> {
    let mut ops = Vec::new();
    for (path, value) in desired {
        let old = current.get(path);
        if old.is_some_and(|o| o == value || (path == "active" && o.eq_ignore_ascii_case(value))) {
            continue;
        }
        let op = if old.is_some() { "Replace" } else { "Add" };
        ops.push(json!({ "op": target.op(op), "path": path, "value": target.patch_value(path, value) }));
    }
    ops
}

fn build_resource(desired: &BTreeMap<String, String>, create_only: &BTreeMap<String, String>, schemas: Value) -> Value {
    let mut resource = Map::new();
    resource.insert("schemas".into(), schemas);
    for (path, value) in create_only.iter().chain(desired) {
        set_path(&mut resource, path, value);
    }
    Value::Object(resource)
}

/// What the target holds of a linked object, read back by its id.
enum Held {
    /// The resource.
    Found(Value),
    /// 404: the object is gone from the target.
    Gone,
    /// Any other answer, or none.
    Failed(Reply),
}

/// Reads a linked object by the id cached when it was created or matched (§4.2 step 4, §4.5 "Get
/// user by id"). Group reads exclude members (§4.5): Entra never re-reads them (§4.3).
async fn read_linked(target: &Target, collection: &str, id: &str) -> Held {
    let query: &[(&str, &str)] = if collection == "Groups" { &[("excludedAttributes", "members")] } else { &[] };
    let replies = target.send(Method::GET, &format!("{collection}/{id}"), query, None).await;
    let reply = last_reply(&replies);
    match reply.json() {
        _ if reply.status() == Some(404) => Held::Gone,
        Some(resource) if reply.ok() && resource.is_object() => Held::Found(resource),
        _ => Held::Failed(reply),
    }
}

/// The values a target resource holds at the desired paths: what a diff starts from.
fn values_held(desired: &BTreeMap<String, String>, resource: &Value) -> BTreeMap<String, String> {
    desired.keys().filter_map(|p| super::mapping::get_path(resource, p).map(|v| (p.clone(), v))).collect()
}

async fn export_user(target: &Target, plan: &mut Plan, work: &UserWork, out: &mut Outcome) {
    let link = plan.links_users.get(&work.id).cloned();
    let mut steps = vec![Step::new(
        format!("EntryImport{}", work.import_kind),
        "import",
        "success",
        format!("Received User '{}' change of type ({}) from Azure Active Directory", work.upn, work.import_kind),
    )];
    let scoping_status = if work.in_scope { "success" } else { "skipped" };
    steps.push(Step::new(
        "EntrySynchronizationScoping",
        "scoping",
        scoping_status,
        "Determine if User in scope by evaluating against each scoping filter",
    ));
    let mut draft = Draft {
        action: "other",
        status: "skipped",
        identity_type: "User",
        source_id: work.id.clone(),
        source_name: work.upn.clone(),
        target_id: link.as_ref().map(|l| l.target_id.clone()).unwrap_or_default(),
        target_name: String::new(),
        steps,
        error: None,
        modified: work.modified.clone(),
    };
    if work.purged {
        // Hard-deleted in Entra: DELETE in the target, for a user still managed (§4.4).
        let Some(link) = link.filter(|l| l.managed) else { return };
        let replies = target.send(Method::DELETE, &format!("Users/{}", link.target_id), &[], None).await;
        out.exports += replies.len();
        let reply = last_reply(&replies);
        draft.action = "delete";
        if reply.ok() || reply.status() == Some(404) {
            draft.status = "success";
            draft.steps.push(Step::new(
                "EntryExportDelete",
                "export",
                "success",
                format!("User '{}' was deleted in {TARGET_NAME}", work.upn),
            ));
            plan.links_users.remove(&work.id);
            plan.escrows.remove(&work.id);
            out.exported += 1;
            out.drafts.push(draft);
        } else {
            fail(plan, out, draft, "delete", "User", &work.upn, &work.id, &reply);
        }
        return;
    }
    let already_disabled =
        |link: &UserLink| link.exported.get("active").is_some_and(|v| v.eq_ignore_ascii_case("false"));
    if !work.in_scope {
        match link {
            // Leaving scope (unassigned, disabled, deleted) disables a managed user (§4.4).
            Some(link) if link.managed && !already_disabled(&link) && !plan.secrets.skip_out_of_scope_deletions => {
                if plan.secrets.delete_threshold.is_some() && !plan.deletes_approved && out.staged_deletes {
                    draft.action = "stagedDelete";
                    draft.status = "skipped";
                    out.drafts.push(draft);
                    return;
                }
                let ops = vec![
                    json!({"op": target.op("Replace"), "path": "active", "value": target.patch_value("active", "False")}),
                ];
                let replies = target
                    .send(Method::PATCH, &format!("Users/{}", link.target_id), &[], Some(&Target::patch(ops)))
                    .await;
                out.exports += replies.len();
                let reply = last_reply(&replies);
                draft.action = "disable";
                if reply.ok() {
                    draft.status = "success";
                    draft.steps.push(Step::new(
                        "EntryExportUpdateSoftDelete",
                        "export",
                        "success",
                        format!("User '{}' was updated in {TARGET_NAME}", work.upn),
                    ));
                    let mut link = link;
                    // An unassigned user is no longer managed: no DELETE follows later; a disabled or
                    // soft-deleted one still is (§4.4).
                    link.managed = !matches!(work.why_out, "not assigned" | "out of the scoping filter");
                    link.exported.insert("active".into(), "False".into());
                    plan.links_users.insert(work.id.clone(), link);
                    plan.escrows.remove(&work.id);
                    out.exported += 1;
                } else {
                    fail(plan, out, draft, "update", "User", &work.upn, &work.id, &reply);
                    return;
                }
            }
            _ => {
                draft.error = Some(Failure {
                    code: "EntrySynchronizationSkipped".into(),
                    reason: format!(
                        "User '{}' was skipped: it is {} in Azure Active Directory.",
                        work.upn, work.why_out
                    ),
                    category: "nonServiceFailure",
                });
                draft.steps.push(Step::new(
                    "EntrySynchronizationSkip",
                    "matching",
                    "skipped",
                    format!("User '{}' will be skipped: it is {}.", work.upn, work.why_out),
                ));
                plan.escrows.remove(&work.id);
            }
        }
        out.drafts.push(draft);
        return;
    }
    out.entitled += 1;
    // An initial cycle queries the target for every in-scope user (§4.2 step 3), linked ones too: a
    // restart keeps the links (§4.1), and AWS may have been changed by hand since. A linked user is
    // read by the id §4.2 step 4 caches, "used to run all future operations on that user", rather
    // than by a userName filter, which would miss a user whose UPN changed and create a second one.
    // Incremental cycles never look: "Target-side changes are never detected" (§4.3).
    let mut link = link;
    let mut held = None;
    if plan.read_target
        && let Some(known) = &link
    {
        match read_linked(target, "Users", &known.target_id).await {
            Held::Found(resource) => held = Some(values_held(&work.desired, &resource)),
            Held::Gone => {
                // Deleted in AWS: the link is stale, so the user is matched as if never linked and,
                // with no match, created (§4.2 step 4, "No match ⇒ create"; inferred for a stale
                // link, which an incremental cycle's export meets as `InvalidAnchor`, §6.3). AWS
                // dropped its memberships with it.
                plan.links_users.remove(&work.id);
                for group in plan.links_groups.values_mut() {
                    group.members.remove(&known.target_id);
                }
                draft.target_id.clear();
                link = None;
            }
            Held::Failed(reply) => {
                fail(plan, out, draft, "query", "User", &work.upn, &work.id, &reply);
                return;
            }
        }
    }
    let (target_id, current) = match &link {
        Some(link) => (Some(link.target_id.clone()), held.clone().unwrap_or_else(|| link.exported.clone())),
        None => {
            // Match on the mapping's matching attribute, lowest priority first (§3.3, §4.2).
            let mut found = None;
            for (path, value) in &work.matching {
                let filter = eq_filter(path, value);
                let replies = target.send(Method::GET, "Users", &[("filter", &filter)], None).await;
                let reply = last_reply(&replies);
                if !reply.ok() {
                    fail(plan, out, draft, "query", "User", &work.upn, &work.id, &reply);
                    return;
                }
                let resources = reply.json().and_then(|j| j["Resources"].as_array().cloned()).unwrap_or_default();
                match resources.len() {
                    0 => continue,
                    1 => {
                        found = Some(resources[0].clone());
                        break;
                    }
                    _ => {
                        draft.error = Some(Failure {
                            code: "DuplicateTargetEntries".into(),
                            reason: format!("More than one User in {TARGET_NAME} matches '{value}' on {path}."),
                            category: "nonServiceFailure",
                        });
                        draft.action = "other";
                        draft.status = "failure";
                        out.failures += 1;
                        escrow(plan, &work.id, "User", "DuplicateTargetEntries");
                        out.drafts.push(draft);
                        return;
                    }
                }
            }
            match found {
                Some(resource) => (resource["id"].as_str().map(str::to_owned), values_held(&work.desired, &resource)),
                None => (None, BTreeMap::new()),
            }
        }
    };
    match target_id {
        None => {
            draft.steps.push(Step::new(
                "EntrySynchronizationAdd",
                "matching",
                "success",
                format!("User '{}' will be created in {TARGET_NAME} (User is active and assigned in Azure Active Directory, but no matching User was found in {TARGET_NAME})", work.upn),
            ));
            let body = build_resource(
                &work.desired,
                &work.create_only,
                json!([
                    "urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
                ]),
            );
            let replies = target.send(Method::POST, "Users", &[], Some(&body)).await;
            out.exports += replies.len();
            let reply = last_reply(&replies);
            draft.action = "create";
            let id = reply.json().and_then(|j| j["id"].as_str().map(str::to_owned));
            match (reply.ok(), id) {
                (true, Some(id)) => {
                    draft.status = "success";
                    draft.target_id = id.clone();
                    draft.target_name = work.upn.clone();
                    draft.steps.push(Step::new(
                        "EntryExportAdd",
                        "export",
                        "success",
                        format!("User '{}' was created in {TARGET_NAME}", work.upn),
                    ));
                    let mut exported = work.desired.clone();
                    exported.extend(work.create_only.clone());
                    plan.links_users.insert(work.id.clone(), UserLink { target_id: id, exported, managed: true });
                    plan.escrows.remove(&work.id);
                    out.exported += 1;
                }
                _ => {
                    fail(plan, out, draft, "create", "User", &work.upn, &work.id, &reply);
                    return;
                }
            }
        }
        Some(id) => {
            draft.target_id = id.clone();
            draft.target_name = work.upn.clone();
            let ops = operations(target, &work.desired, &current);
            if ops.is_empty() {
                // "The state of the user in both the source and target systems already match." (§4.3)
                draft.steps.push(Step::new(
                    "EntrySynchronizationSkip",
                    "matching",
                    "skipped",
                    format!("The state of the user in both the source and target systems already match. No change to the User '{}' currently needs to be made.", work.upn),
                ));
                if let Some(step) = draft.steps.last_mut() {
                    step.details = json!({"SkipReason": "RedundantExport"});
                }
                draft.error = Some(Failure {
                    code: "RedundantExport".into(),
                    reason: "The state of the user in both the source and target systems already match.".into(),
                    category: "success",
                });
                plan.links_users
                    .insert(work.id.clone(), UserLink { target_id: id, exported: work.desired.clone(), managed: true });
                plan.escrows.remove(&work.id);
            } else {
                draft.steps.push(Step::new(
                    "EntrySynchronizationUpdate",
                    "matching",
                    "success",
                    format!("User '{}' will be updated in {TARGET_NAME}", work.upn),
                ));
                let replies = target.send(Method::PATCH, &format!("Users/{id}"), &[], Some(&Target::patch(ops))).await;
                out.exports += replies.len();
                let reply = last_reply(&replies);
                draft.action = "update";
                if reply.ok() {
                    draft.status = "success";
                    draft.steps.push(Step::new(
                        "EntryExportUpdate",
                        "export",
                        "success",
                        format!("User '{}' was updated in {TARGET_NAME}", work.upn),
                    ));
                    plan.links_users.insert(
                        work.id.clone(),
                        UserLink { target_id: id, exported: work.desired.clone(), managed: true },
                    );
                    plan.escrows.remove(&work.id);
                    out.exported += 1;
                } else {
                    // What AWS was read to hold is what the retry diffs against, so that it repairs too.
                    if link.is_none() || held.is_some() {
                        let managed = link.as_ref().is_none_or(|l| l.managed);
                        plan.links_users
                            .insert(work.id.clone(), UserLink { target_id: id, exported: current, managed });
                    }
                    fail(plan, out, draft, "update", "User", &work.upn, &work.id, &reply);
                    return;
                }
            }
        }
    }
    out.drafts.push(draft);
}

/// Escrows a failed object for the next cycle, counting its attempts (§5.1).
fn escrow(plan: &mut Plan, id: &str, kind: &'static str, error_code: &str) {
    let attempts = plan.escrows.get(id).map_or(1, |e| e.attempts + 1);
    plan.escrows.insert(id.to_owned(), Escrow { kind, attempts, error_code: error_code.to_owned() });
}

#[allow(clippy::too_many_arguments)]
fn fail(
    plan: &mut Plan,
    out: &mut Outcome,
    mut draft: Draft,
    verb: &str,
    kind: &'static str,
    name: &str,
    id: &str,
    reply: &Reply,
) {
    let error = failure(verb, kind, name, reply);
    let step_name = match verb {
        "create" => "EntryExportAdd",
        "delete" => "EntryExportDelete",
        "query" => "EntrySynchronizationError",
        _ => "EntryExportUpdate",
    };
    draft.steps.push(Step::new(
        step_name,
        if verb == "query" { "matching" } else { "export" },
        "failure",
        format!("Failed to {verb} {kind} '{name}' in {TARGET_NAME}"),
    ));
    if draft.action == "other" {
        draft.action = if verb == "create" { "create" } else { "update" };
    }
    draft.status = "failure";
    escrow(plan, id, kind, &error.code);
    draft.error = Some(error);
    out.failures += 1;
    out.drafts.push(draft);
}

async fn export_group(target: &Target, plan: &mut Plan, work: &GroupWork, out: &mut Outcome) -> Option<String> {
    let link = plan.links_groups.get(&work.id).cloned();
    let steps = vec![Step::new(
        format!("EntryImport{}", work.import_kind),
        "import",
        "success",
        format!("Received Group '{}' change of type ({}) from Azure Active Directory", work.name, work.import_kind),
    )];
    let mut draft = Draft {
        action: "other",
        status: "skipped",
        identity_type: "Group",
        source_id: work.id.clone(),
        source_name: work.name.clone(),
        target_id: link.as_ref().map(|l| l.target_id.clone()).unwrap_or_default(),
        target_name: String::new(),
        steps,
        error: None,
        modified: work.modified.clone(),
    };
    if !work.in_scope {
        if let Some(link) = link {
            if plan.secrets.skip_out_of_scope_deletions {
                return None;
            }
            // A group leaving scope is deleted in the target (§4.4, inferred request).
            let replies = target.send(Method::DELETE, &format!("Groups/{}", link.target_id), &[], None).await;
            out.exports += replies.len();
            let reply = last_reply(&replies);
            draft.action = "delete";
            if reply.ok() || reply.status() == Some(404) {
                draft.status = "success";
                draft.steps.push(Step::new(
                    "EntryExportDelete",
                    "export",
                    "success",
                    format!("Group '{}' was deleted in {TARGET_NAME}", work.name),
                ));
                plan.links_groups.remove(&work.id);
                plan.escrows.remove(&work.id);
                out.exported += 1;
                out.drafts.push(draft);
            } else {
                fail(plan, out, draft, "delete", "Group", &work.name, &work.id, &reply);
            }
        }
        return None;
    }
    out.entitled += 1;
    // As for users: an initial cycle reads a linked group back by its id (§4.2 steps 3 to 5), its
    // attributes only; members are tracked by the job, never re-read (§4.3).
    let mut link = link;
    let mut held = None;
    if plan.read_target
        && let Some(known) = &link
    {
        match read_linked(target, "Groups", &known.target_id).await {
            Held::Found(resource) => held = Some(values_held(&work.desired, &resource)),
            Held::Gone => {
                // Deleted in AWS: matched as if never linked, created with no match (§4.2 step 4;
                // inferred for a stale link); its members are added again from none.
                plan.links_groups.remove(&work.id);
                draft.target_id.clear();
                link = None;
            }
            Held::Failed(reply) => {
                fail(plan, out, draft, "query", "Group", &work.name, &work.id, &reply);
                return None;
            }
        }
    }
    let (target_id, current) = match &link {
        Some(link) => (Some(link.target_id.clone()), held.clone().unwrap_or_else(|| link.exported.clone())),
        None => {
            let name = work.desired.get("displayName").cloned().unwrap_or_default();
            let filter = eq_filter("displayName", &name);
            // Group reads always exclude members (§4.5).
            let replies = target
                .send(Method::GET, "Groups", &[("excludedAttributes", "members"), ("filter", &filter)], None)
                .await;
            let reply = last_reply(&replies);
            if !reply.ok() {
                fail(plan, out, draft, "query", "Group", &work.name, &work.id, &reply);
                return None;
            }
            let resources = reply.json().and_then(|j| j["Resources"].as_array().cloned()).unwrap_or_default();
            // A target group another Entra group is already linked to (Entra allows two groups of one
            // name; names differing only in case match the same AWS group too): refused by default,
            // or the two would rename it back and forth (`DuplicateSourceEntries`, §6.3); shared
            // under the switch `duplicateGroupNames = "share"`, as matching literally gives (inferred).
            let taken = resources.first().and_then(|r| r["id"].as_str()).is_some_and(|id| {
                plan.links_groups.iter().any(|(other, link)| *other != work.id && link.target_id == id)
            });
            if taken && plan.duplicate_group_names == DuplicateGroupNames::Refuse {
                draft.error = Some(Failure {
                    code: "DuplicateSourceEntries".into(),
                    reason: format!(
                        "More than one Group in Azure Active Directory matches the same Group in {TARGET_NAME} on displayName '{}'.",
                        work.name
                    ),
                    category: "nonServiceFailure",
                });
                draft.status = "failure";
                out.failures += 1;
                escrow(plan, &work.id, "Group", "DuplicateSourceEntries");
                out.drafts.push(draft);
                return None;
            }
            match resources.first() {
                Some(resource) => (resource["id"].as_str().map(str::to_owned), values_held(&work.desired, resource)),
                None => (None, BTreeMap::new()),
            }
        }
    };
    let id = match target_id {
        None => {
            draft.steps.push(Step::new(
                "EntrySynchronizationAdd",
                "matching",
                "success",
                format!("Group '{}' will be created in {TARGET_NAME} (Group is active and assigned in Azure Active Directory, but no matching Group was found in {TARGET_NAME})", work.name),
            ));
            // Created with no members, filled by PATCH afterwards (§4.2, §4.5).
            let body =
                build_resource(&work.desired, &BTreeMap::new(), json!(["urn:ietf:params:scim:schemas:core:2.0:Group"]));
            let replies = target.send(Method::POST, "Groups", &[], Some(&body)).await;
            out.exports += replies.len();
            let reply = last_reply(&replies);
            draft.action = "create";
            match (reply.ok(), reply.json().and_then(|j| j["id"].as_str().map(str::to_owned))) {
                (true, Some(id)) => {
                    draft.status = "success";
                    draft.target_id = id.clone();
                    draft.target_name = work.name.clone();
                    draft.steps.push(Step::new(
                        "EntryExportAdd",
                        "export",
                        "success",
                        format!("Group '{}' was created in {TARGET_NAME}", work.name),
                    ));
                    plan.links_groups.insert(
                        work.id.clone(),
                        GroupLink { target_id: id.clone(), exported: work.desired.clone(), members: BTreeSet::new() },
                    );
                    plan.escrows.remove(&work.id);
                    out.exported += 1;
                    id
                }
                _ => {
                    fail(plan, out, draft, "create", "Group", &work.name, &work.id, &reply);
                    return None;
                }
            }
        }
        Some(id) => {
            draft.target_id = id.clone();
            draft.target_name = work.name.clone();
            let ops = operations(target, &work.desired, &current);
            if ops.is_empty() {
                draft.steps.push(Step::new("EntrySynchronizationSkip", "matching", "skipped", format!("The state of the group in both the source and target systems already match. No change to the Group '{}' currently needs to be made.", work.name)));
                draft.error = Some(Failure {
                    code: "RedundantExport".into(),
                    reason: "The state of the group in both the source and target systems already match.".into(),
                    category: "success",
                });
            } else {
                let replies = target.send(Method::PATCH, &format!("Groups/{id}"), &[], Some(&Target::patch(ops))).await;
                out.exports += replies.len();
                let reply = last_reply(&replies);
                draft.action = "update";
                if !reply.ok() {
                    // The retry diffs against what AWS was read to hold, so that it repairs too.
                    if let (Some(held), Some(link)) = (held, plan.links_groups.get_mut(&work.id)) {
                        link.exported = held;
                    }
                    fail(plan, out, draft, "update", "Group", &work.name, &work.id, &reply);
                    return None;
                }
                draft.status = "success";
                draft.steps.push(Step::new(
                    "EntryExportUpdate",
                    "export",
                    "success",
                    format!("Group '{}' was updated in {TARGET_NAME}", work.name),
                ));
                out.exported += 1;
            }
            let members = link.map(|l| l.members).unwrap_or_default();
            plan.links_groups
                .insert(work.id.clone(), GroupLink { target_id: id.clone(), exported: work.desired.clone(), members });
            plan.escrows.remove(&work.id);
            id
        }
    };
    out.drafts.push(draft);
    Some(id)
}

/// Brings a group's members in the target to the in-scope, provisioned direct members: `Add` and
/// `Remove` in chunks of at most 100 (§4.5). Records a log draft when something changed or failed.
async fn sync_members(target: &Target, plan: &mut Plan, work: &GroupWork, out: &mut Outcome) {
    let Some(link) = plan.links_groups.get(&work.id).cloned() else { return };
    let desired: BTreeSet<String> = work
        .members
        .iter()
        .filter_map(|user| plan.links_users.get(user).filter(|l| l.managed).map(|l| l.target_id.clone()))
        .collect();
    let adds: Vec<String> = desired.difference(&link.members).cloned().collect();
    let removes: Vec<String> = link.members.difference(&desired).cloned().collect();
    if adds.is_empty() && removes.is_empty() {
        return;
    }
    let mut members = link.members.clone();
    let mut error = None;
    'outer: for (op, ids) in [("add", &adds), ("remove", &removes)] {
        for chunk in ids.chunks(MEMBER_CHUNK) {
            let body = Target::patch(target.member_operations(op, chunk));
            let replies = target.send(Method::PATCH, &format!("Groups/{}", link.target_id), &[], Some(&body)).await;
            out.exports += replies.len();
            let reply = last_reply(&replies);
            if reply.ok() {
                for id in chunk {
                    if op == "add" {
                        members.insert(id.clone());
                    } else {
                        members.remove(id);
                    }
                }
            } else {
                error = Some(reply);
                break 'outer;
            }
        }
    }
    plan.links_groups.insert(work.id.clone(), GroupLink { members, ..link.clone() });
    let mut draft = Draft {
        action: "update",
        status: "success",
        identity_type: "Group",
        source_id: work.id.clone(),
        source_name: work.name.clone(),
        target_id: link.target_id.clone(),
        target_name: work.name.clone(),
        steps: vec![Step::new(
            "EntryReferenceResolution",
            "referenceResolution",
            "success",
            format!("Resolved the members of Group '{}'", work.name),
        )],
        error: None,
        modified: vec![("members".into(), None, Some(format!("added {}, removed {}", adds.len(), removes.len())))],
    };
    match error {
        None => {
            draft.steps.push(Step::new(
                "EntryExportUpdate",
                "export",
                "success",
                format!("Group '{}' was updated in {TARGET_NAME}", work.name),
            ));
            out.exported += 1;
            out.drafts.push(draft);
        }
        Some(reply) => {
            out.reference_failures += 1;
            fail(plan, out, draft, "update", "Group", &work.name, &work.id, &reply);
        }
    }
}

/// Links each user of the cycle to its manager, once every user and group is exported: "Reference
/// attributes (manager, group members) ⇒ further updates to link referenced objects" (§4.2 step 6).
///
/// The manager never goes in the create body, even one already linked: Entra makes "a round trip to
/// link newly-created users accounts with their managers … That's why there is a separate patch
/// operation" (MicrosoftDocs/azure-docs#45885); so a manager created later in the same cycle is
/// linked too. A user not created in this cycle is asked about first with the reference check query
/// (§4.5), and patched only if the target does not hold that manager. Only users this cycle looks at
/// are linked: a manager out of scope is not, and nothing looks at its reports again when it comes
/// into scope, so "manager reference isn't set until a restart" (§4.3, [KNOWN]). A manager removed in
/// Entra, or gone to deleted items, is never removed in the target: null values are never
/// provisioned (§3.3, inferred consequence).
async fn link_managers(target: &Target, plan: &mut Plan, users: &[UserWork], out: &mut Outcome) {
    for work in users.iter().filter(|w| w.in_scope) {
        let Some(manager) = work.manager.as_ref().filter(|m| m.in_scope) else { continue };
        let Some(link) = plan.links_users.get(&work.id).filter(|l| l.managed).cloned() else { continue };
        let Some(manager_target) = plan.links_users.get(&manager.id).filter(|l| l.managed).map(|l| l.target_id.clone())
        else {
            continue;
        };
        if link.exported.get(&manager.path) == Some(&manager_target) {
            continue;
        }
        let draft = Draft {
            action: "update",
            status: "success",
            identity_type: "User",
            source_id: work.id.clone(),
            source_name: work.upn.clone(),
            target_id: link.target_id.clone(),
            target_name: work.upn.clone(),
            steps: vec![Step::new(
                "EntryReferenceResolution",
                "referenceResolution",
                "success",
                format!("Resolved the manager of User '{}'", work.upn),
            )],
            error: None,
            modified: vec![("manager".into(), None, Some(manager.id.clone()))],
        };
        let created =
            out.drafts.iter().any(|d| d.source_id == work.id && d.action == "create" && d.status == "success");
        if !created {
            let filter = super::mapping::manager_check_filter(&link.target_id, &manager_target);
            let reply = last_reply(&target.send(Method::GET, "Users", &[("filter", &filter)], None).await);
            if !reply.ok() {
                out.reference_failures += 1;
                fail(plan, out, draft, "query", "User", &work.upn, &work.id, &reply);
                continue;
            }
            let held = reply.json().and_then(|j| j["Resources"].as_array().map(|r| !r.is_empty())).unwrap_or(false);
            if held {
                if let Some(link) = plan.links_users.get_mut(&work.id) {
                    link.exported.insert(manager.path.clone(), manager_target);
                }
                continue;
            }
        }
        let operation = super::mapping::manager_operation(&target.op("Add"), &manager.path, &manager_target);
        let body = Target::patch(vec![operation]);
        let replies = target.send(Method::PATCH, &format!("Users/{}", link.target_id), &[], Some(&body)).await;
        out.exports += replies.len();
        let reply = last_reply(&replies);
        if !reply.ok() {
            out.reference_failures += 1;
            fail(plan, out, draft, "update", "User", &work.upn, &work.id, &reply);
            continue;
        }
        if let Some(link) = plan.links_users.get_mut(&work.id) {
            link.exported.insert(manager.path.clone(), manager_target);
        }
        let mut draft = draft;
        draft.steps.push(Step::new(
            "EntryExportUpdate",
            "export",
            "success",
            format!("User '{}' was updated in {TARGET_NAME}", work.upn),
        ));
        out.exported += 1;
        out.drafts.push(draft);
    }
}

/// Escrow thresholds (§5.2): from 5,000 failures on, more than 40% or more than 40,000; or 60,000
/// with reference failures.
pub fn escrow_threshold(
    failures: usize,
    reference_failures: usize,
    events: usize,
    evaluation_minimum: usize,
) -> Option<&'static str> {
    let plain = failures.saturating_sub(reference_failures);
    if failures >= 60_000 {
        return Some("EncounteredTotalEscrowThreshold");
    }
    if plain >= evaluation_minimum && (plain * 10 > events.max(1) * 4 || plain > 40_000) {
        return Some(if plain > 40_000 {
            "EncounteredBaseEscrowThreshold"
        } else {
            "EncounteredEscrowProportionThreshold"
        });
    }
    None
}

/// Runs one cycle of a job to completion.
pub async fn run_cycle(state: &AppState, job_id: &str, settings: &Settings) {
    let plan = {
        let mut world = state.world();
        plan(&mut world, job_id, settings, None, retry_waiter(state, settings))
    };
    let Some(mut plan) = plan else { return };
    let guid = state.world().uuid();
    let mut out = Outcome::default();
    let probe_result = match &plan.target {
        Ok(target) => {
            probe(target, &guid).await.map_err(|(reply, code, message)| (Some(reply), code, message.to_owned()))
        }
        Err(message) => Err((None, "SystemForCrossDomainIdentityManagementInvalidCredentials", message.clone())),
    };
    if let Err((reply, code, message)) = probe_result {
        let credential = reply.as_ref().is_none_or(|r| matches!(r.status(), Some(401 | 403) | None | Some(404)));
        finish_failed(state, plan, settings, code, &message, credential);
        return;
    }
    let Ok(target) = plan.target.clone() else { return };
    // Accidental-deletion prevention: count what would be disabled or deleted (§5.3).
    if let Some(threshold) = plan.secrets.delete_threshold {
        let deletions =
            plan.users.iter().filter(|w| !w.in_scope && plan.links_users.get(&w.id).is_some_and(|l| l.managed)).count()
                + plan.groups.iter().filter(|w| !w.in_scope && plan.links_groups.contains_key(&w.id)).count();
        out.staged_deletes = deletions > threshold && !plan.deletes_approved;
    }
    let users = std::mem::take(&mut plan.users);
    for work in &users {
        export_user(&target, &mut plan, work, &mut out).await;
    }
    let groups = std::mem::take(&mut plan.groups);
    for work in &groups {
        if !out.staged_deletes || work.in_scope {
            export_group(&target, &mut plan, work, &mut out).await;
        }
    }
    for work in groups.iter().filter(|w| w.in_scope) {
        sync_members(&target, &mut plan, work, &mut out).await;
    }
    let reference_groups = std::mem::take(&mut plan.reference_groups);
    for work in reference_groups.iter().filter(|w| w.in_scope) {
        sync_members(&target, &mut plan, work, &mut out).await;
    }
    link_managers(&target, &mut plan, &users, &mut out).await;
    finish(state, plan, settings, out, users.len() + groups.len());
}

fn execution(plan: &Plan, out: &Outcome, imported: usize, state: &str, error: Value) -> Value {
    json!({
        "activityIdentifier": plan.cycle_id,
        "countEntitled": out.entitled,
        "countEntitledForProvisioning": out.entitled,
        "countEscrowed": out.failures,
        "countEscrowedRaw": out.failures,
        "countExported": out.exported,
        "countExports": out.exports,
        "countImported": imported,
        "countImportedDeltas": plan.imported_deltas,
        "countImportedReferenceDeltas": plan.reference_deltas,
        "error": error,
        "state": state,
        "timeBegan": execution_time(plan.now),
        "timeEnded": execution_time(plan.now),
    })
}

/// The reply that counts among a request's attempts: the last.
fn last_reply(replies: &[Reply]) -> Reply {
    replies.last().cloned().unwrap_or_else(|| Reply::Transport("no reply".into()))
}

/// Records the drafts as log entries, after expiring old ones; returns the index of the first new one.
fn record_logs(world: &mut World, plan: &Plan, drafts: Vec<Draft>) -> usize {
    let retention = world.switches.provisioning_log_retention_days;
    world.provisioning.expire_logs(plan.now, retention);
    let first = world.provisioning.logs.len();
    let context = &plan.context;
    let ctx = Context {
        tenant_id: &context.tenant_id,
        job_id: &plan.job_id,
        cycle_id: &plan.cycle_id,
        service_principal: (&context.sp_id, &context.sp_name),
        application_id: &context.application_id,
        at: plan.now,
        initiated_by: service_initiator(),
    };
    for draft in drafts {
        let id = world.uuid();
        let change_id = world.uuid();
        let entry = draft.into_json(&ctx, id, change_id);
        world.provisioning.logs.push(entry);
    }
    first
}

fn finish(state: &AppState, plan: Plan, settings: &Settings, mut out: Outcome, imported: usize) {
    let mut world = state.world();
    let events = imported.max(out.exported + out.failures);
    let threshold = escrow_threshold(out.failures, out.reference_failures, events, settings.escrow_evaluation_minimum);
    let run_state = if out.failures == 0 { "Succeeded" } else { "EntryLevelErrors" };
    let execution = execution(&plan, &out, imported, run_state, Value::Null);
    let drafts = std::mem::take(&mut out.drafts);
    record_logs(&mut world, &plan, drafts);
    let Plan { job_id, links_users, links_groups, escrows, seq, initial, now, .. } = plan;
    let Some(job) = world.provisioning.jobs.get_mut(&job_id) else { return };
    job.users = links_users;
    job.groups = links_groups;
    job.escrows = escrows;
    job.successive_failures = 0;
    job.last_execution = Some(execution.clone());
    if out.failures == 0 {
        job.last_successful_execution = Some(execution.clone());
        if out.exported > 0 {
            job.last_successful_execution_with_exports = Some(execution);
        } else {
            steady(job, now);
        }
    }
    // Staged deletions wait for approval: the watermark stays, so they are evaluated again (§5.3).
    // An approval (`ForceDeletes`) is spent by the cycle that used it.
    if !out.staged_deletes {
        job.watermark = Some(seq);
        job.deletes_approved = false;
    }
    // A cycle that runs through leaves quarantine, unless it quarantines the job again: then the
    // series goes on, counted from its first failure (§5.2).
    let previous = job.quarantine.take();
    if job.code != Code::Paused {
        job.code = Code::Active;
    }
    job.next_run = (job.schedule_state == "Active").then(|| now.saturating_add(settings.interval).unwrap_or(now));
    if out.staged_deletes {
        let error = json!({"code": "TooManyDeletes", "message": "The number of deletions in this cycle exceeds the accidental-deletion threshold.", "tenantActionable": true});
        job.quarantine = previous;
        quarantine(job, "TooManyDeletes", error, now, settings.into());
    } else if let Some(reason) = threshold {
        if initial {
            // "the service clears escrows, finishes the initial sync, then pauses" (§5.1).
            job.escrows.clear();
            job.escrows_pruned = true;
            job.code = Code::Paused;
            job.schedule_state = "Paused";
            job.next_run = None;
        } else {
            let error = json!({"code": reason, "message": "Too many objects failed to provision in this cycle.", "tenantActionable": true});
            job.quarantine = previous;
            quarantine(job, reason, error, now, settings.into());
        }
    }
}

fn finish_failed(state: &AppState, plan: Plan, settings: &Settings, code: &str, message: &str, credential: bool) {
    let mut world = state.world();
    let error = json!({"code": code, "message": message, "tenantActionable": true});
    let execution = execution(&plan, &Outcome::default(), 0, "Failed", error.clone());
    let Plan { job_id, links_users, links_groups, escrows, now, .. } = plan;
    let Some(job) = world.provisioning.jobs.get_mut(&job_id) else { return };
    job.users = links_users;
    job.groups = links_groups;
    job.escrows = escrows;
    job.successive_failures += 1;
    job.last_execution = Some(execution);
    if credential {
        // Invalid credentials or an endpoint that cannot be reached quarantine at once (§5.2).
        quarantine(job, "EncounteredQuarantineException", error, now, settings.into());
    } else {
        job.next_run = (job.schedule_state == "Active").then(|| now.saturating_add(settings.interval).unwrap_or(now));
    }
}

/// Records when the job first and last reached the steady state, and leaves quarantine for
/// `Active` (or `Paused`).
pub fn steady(job: &mut Job, now: Timestamp) {
    if job.steady_first.is_none() {
        job.steady_first = Some(now);
    }
    job.steady_last = Some(now);
    job.code = if job.code == Code::Paused { Code::Paused } else { Code::Active };
}

/// When a quarantined job is retried (§5.2).
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The first retry's delay: 6 hours by the docs, 5 minutes in a Graph example.
    pub first_retry: SignedDuration,
    /// Offsets from the first failure, or waits between retries.
    pub schedule: RetrySchedule,
}

impl From<&Settings> for Backoff {
    fn from(settings: &Settings) -> Self {
        Backoff { first_retry: settings.quarantine_first_retry, schedule: settings.quarantine_retry_schedule }
    }
}

impl Backoff {
    /// The next attempt after a failure at `now`, the `series_count`-th of a series that began at
    /// `series_began`.
    fn next_attempt(self, series_began: Timestamp, series_count: u32, now: Timestamp) -> Timestamp {
        let day = SignedDuration::from_hours(24);
        match self.schedule {
            // "the first retry will happen in 6 hours. The second retry happens 12 hours after the
            // first failure. The third retry happens 24 hours after the first failure. There will
            // be retries every 24 hours after the 3rd retry." (§5.2): the first offset past `now`.
            RetrySchedule::SinceFirstFailure => {
                let elapsed = now.duration_since(series_began);
                let offset = [self.first_retry, SignedDuration::from_hours(12), day]
                    .into_iter()
                    .find(|offset| *offset > elapsed)
                    .unwrap_or_else(|| {
                        let days = elapsed.as_secs() / day.as_secs() + 1;
                        SignedDuration::from_secs(days.saturating_mul(day.as_secs()))
                    });
                series_began.saturating_add(offset).unwrap_or(now)
            }
            // The other reading of "+6h, +12h, +24h, then every 24h": waits between retries.
            RetrySchedule::BetweenRetries => {
                let wait = match series_count {
                    1 => self.first_retry,
                    2 => SignedDuration::from_hours(12),
                    _ => day,
                };
                now.saturating_add(wait).unwrap_or(now)
            }
        }
    }
}

/// Quarantines a job (§5.2), or disables it when the quarantine has lasted 28 days: a failure at
/// or past [`QUARANTINE_LIMIT`] from the first one ends the retries, the escrows are removed, the
/// schedule stops (`Disabled`) and the status reads `Paused`, as for a job that does not run
/// (the only disabled AWS job Graph's docs show, §7.1; inferred), with the quarantine kept so its
/// reason stays readable and `nextAttempt` null. Start or restart brings it back.
pub fn quarantine(job: &mut Job, reason: &'static str, error: Value, now: Timestamp, backoff: Backoff) {
    let (series_began, series_count) = match &job.quarantine {
        Some(q) => (q.series_began, q.series_count + 1),
        None => (now, 1),
    };
    let expired = now.duration_since(series_began) >= QUARANTINE_LIMIT;
    let next_attempt = (!expired).then(|| backoff.next_attempt(series_began, series_count, now));
    job.quarantine = Some(Quarantine { reason, series_began, current_began: now, next_attempt, series_count, error });
    if expired {
        job.escrows.clear();
        job.schedule_state = "Disabled";
        job.code = Code::Paused;
        job.next_run = None;
    } else {
        job.code = Code::Quarantine;
        job.next_run = next_attempt;
    }
}

/// What provision on demand answers (§7.5): the result, its details, and the log entry written.
#[derive(Debug, Clone)]
pub struct OnDemand {
    /// `Success`, `Failure` or `Skipped`.
    pub result: &'static str,
    /// `{errorCode, errorMessage}` when not a success.
    pub details: Value,
    /// The log entries written, as JSON.
    pub entries: Vec<Value>,
}

/// Provisions one user, or one group with the chosen members, now (§5.4). A user joins those of its
/// assigned groups that already exist in the target; no group is created for it (the seed's
/// observation).
pub async fn on_demand(
    state: &AppState,
    job_id: &str,
    settings: &Settings,
    subjects: Subjects,
    group_members: Vec<String>,
) -> Result<OnDemand, String> {
    let plan = {
        let mut world = state.world();
        plan(&mut world, job_id, settings, Some(&subjects), retry_waiter(state, settings))
    };
    let Some(mut plan) = plan else { return Err("the job is not configured".into()) };
    let restore = |state: &AppState, plan: Plan| {
        let mut world = state.world();
        if let Some(job) = world.provisioning.jobs.get_mut(&plan.job_id) {
            job.users = plan.links_users;
            job.groups = plan.links_groups;
            job.escrows = plan.escrows;
        }
    };
    let target = match plan.target.clone() {
        Ok(target) => target,
        Err(message) => {
            restore(state, plan);
            return Err(message);
        }
    };
    let guid = state.world().uuid();
    if let Err((_, code, message)) = probe(&target, &guid).await {
        restore(state, plan);
        return Err(format!("{code}: {message}"));
    }
    let mut out = Outcome::default();
    let member_works: Vec<UserWork> = {
        let world = state.world();
        let job_schema = world.provisioning.jobs.get(job_id).map(|j| j.schema.clone()).unwrap_or(Value::Null);
        let mappings = read_mappings(&job_schema).map_err(|p| p.join("; "))?;
        let scope = Scope {
            dir: &world.directory,
            sp_id: &plan.context.sp_id,
            sync_all: plan.secrets.sync_all,
            mappings: &mappings,
        };
        group_members.iter().map(|id| scope.user(world.directory.user_key(id), id, "Add")).collect()
    };
    let users = std::mem::take(&mut plan.users);
    for work in users.iter().chain(&member_works) {
        export_user(&target, &mut plan, work, &mut out).await;
    }
    // The user's assigned groups that already exist in the target: joined, never created.
    if let Some(user) = users.first().filter(|u| u.in_scope) {
        let groups: Vec<GroupWork> = {
            let world = state.world();
            let mappings =
                read_mappings(&world.provisioning.jobs.get(job_id).map(|j| j.schema.clone()).unwrap_or(Value::Null))
                    .map_err(|p| p.join("; "))?;
            let scope = Scope {
                dir: &world.directory,
                sp_id: &plan.context.sp_id,
                sync_all: plan.secrets.sync_all,
                mappings: &mappings,
            };
            user.key
                .map(|k| {
                    world
                        .directory
                        .groups_of(k)
                        .filter(|g| scope.group_assigned(*g))
                        .map(|g| scope.group(Some(g), &world.directory.object_id(ObjectKind::Group, g), "Update"))
                        .collect()
                })
                .unwrap_or_default()
        };
        for group in groups {
            let exists = plan.links_groups.contains_key(&group.id) || {
                let filter = eq_filter("displayName", &group.name);
                let replies = target
                    .send(Method::GET, "Groups", &[("excludedAttributes", "members"), ("filter", &filter)], None)
                    .await;
                let found = replies
                    .last()
                    .and_then(Reply::json)
                    .and_then(|j| j["Resources"][0]["id"].as_str().map(str::to_owned))
                    // An AWS group already linked to another Entra group (the same name, or one
                    // differing only in case) is not this one's to join (`DuplicateSourceEntries`,
                    // entra-provisioning.md §6.3, as in a cycle), unless the switch shares it.
                    .filter(|id| {
                        plan.duplicate_group_names == DuplicateGroupNames::Share
                            || !plan.links_groups.values().any(|link| link.target_id == *id)
                    });
                if let Some(id) = found {
                    plan.links_groups.insert(
                        group.id.clone(),
                        GroupLink { target_id: id, exported: group.desired.clone(), members: BTreeSet::new() },
                    );
                }
                plan.links_groups.contains_key(&group.id)
            };
            if exists {
                let target_id = plan.links_groups.get(&group.id).map(|l| l.target_id.clone()).unwrap_or_default();
                let Some(user_target) =
                    plan.links_users.get(&user.id).filter(|l| l.managed).map(|l| l.target_id.clone())
                else {
                    continue;
                };
                if plan.links_groups.get(&group.id).is_some_and(|l| l.members.contains(&user_target)) {
                    continue;
                }
                let body = Target::patch(target.member_operations("add", std::slice::from_ref(&user_target)));
                let replies = target.send(Method::PATCH, &format!("Groups/{target_id}"), &[], Some(&body)).await;
                if replies.last().is_some_and(Reply::ok)
                    && let Some(link) = plan.links_groups.get_mut(&group.id)
                {
                    link.members.insert(user_target);
                }
            }
        }
    }
    let groups = std::mem::take(&mut plan.groups);
    for work in &groups {
        export_group(&target, &mut plan, work, &mut out).await;
        // Only the chosen members are added; others are left as they are.
        let mut chosen = work.clone();
        let existing: BTreeSet<String> = plan.links_groups.get(&work.id).map(|l| l.members.clone()).unwrap_or_default();
        chosen.members = plan
            .links_users
            .iter()
            .filter(|(id, link)| existing.contains(&link.target_id) || group_members.contains(id))
            .map(|(id, _)| id.clone())
            .collect();
        sync_members(&target, &mut plan, &chosen, &mut out).await;
    }
    let result = if out.failures > 0 {
        "Failure"
    } else if out.drafts.iter().all(|d| d.status == "skipped") {
        "Skipped"
    } else {
        "Success"
    };
    let details = out
        .drafts
        .iter()
        .find_map(|d| d.error.as_ref())
        .map(|e| json!({"errorCode": e.code, "errorMessage": e.reason}))
        .unwrap_or_else(|| json!({}));
    let mut world = state.world();
    let drafts = std::mem::take(&mut out.drafts);
    let first = record_logs(&mut world, &plan, drafts);
    let entries = world.provisioning.logs[first..].to_vec();
    if let Some(job) = world.provisioning.jobs.get_mut(&plan.job_id) {
        job.users = plan.links_users;
        job.groups = plan.links_groups;
        job.escrows = plan.escrows;
    }
    Ok(OnDemand { result, details, entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escrow_thresholds_follow_the_documented_examples() {
        // entra-provisioning.md §5.2: 4,000 → no; 45,000 → yes; 30,000 fail + 5,000 ok → yes;
        // 20,000 fail + 100,000 ok → no; 40,000 + 21,000 reference → yes (61,000).
        assert_eq!(escrow_threshold(4_000, 0, 4_000, 5_000), None);
        assert!(escrow_threshold(45_000, 0, 200_000, 5_000).is_some());
        assert!(escrow_threshold(30_000, 0, 35_000, 5_000).is_some());
        assert_eq!(escrow_threshold(20_000, 0, 120_000, 5_000), None);
        assert_eq!(escrow_threshold(61_000, 21_000, 200_000, 5_000), Some("EncounteredTotalEscrowThreshold"));
    }

    fn backoff(schedule: RetrySchedule) -> Backoff {
        Backoff { first_retry: SignedDuration::from_hours(6), schedule }
    }

    /// Fails the job at each of its scheduled attempts, `times` times; returns the attempts' offsets
    /// from `start` in hours.
    fn retries(job: &mut Job, start: Timestamp, backoff: Backoff, times: usize) -> Vec<i64> {
        quarantine(job, "EncounteredQuarantineException", Value::Null, start, backoff);
        let mut hours = Vec::new();
        for _ in 0..times {
            let Some(at) = job.next_run else { break };
            hours.push(at.duration_since(start).as_hours());
            quarantine(job, "EncounteredQuarantineException", Value::Null, at, backoff);
        }
        hours
    }

    #[test]
    fn quarantine_retries_at_6_12_and_24_hours_after_the_first_failure_then_daily() {
        let mut job = Job::new("j".into(), "t".into(), "sp".into(), Value::Null);
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(retries(&mut job, start, backoff(RetrySchedule::SinceFirstFailure), 5), [6, 12, 24, 48, 72]);
        let q = job.quarantine.as_ref().unwrap();
        assert_eq!((q.series_count, q.series_began), (6, start));
        let mut job = Job::new("j".into(), "t".into(), "sp".into(), Value::Null);
        let graph_example =
            Backoff { first_retry: SignedDuration::from_mins(5), ..backoff(RetrySchedule::SinceFirstFailure) };
        quarantine(&mut job, "EncounteredQuarantineException", Value::Null, start, graph_example);
        assert_eq!(job.next_run, Some("2026-01-01T00:05:00Z".parse().unwrap()));
    }

    #[test]
    fn between_retries_the_waits_grow_from_6_to_12_to_24_hours() {
        let mut job = Job::new("j".into(), "t".into(), "sp".into(), Value::Null);
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(retries(&mut job, start, backoff(RetrySchedule::BetweenRetries), 4), [6, 18, 42, 66]);
    }

    #[test]
    fn a_retry_failing_28_days_after_the_first_failure_disables_the_job() {
        let mut job = Job::new("j".into(), "t".into(), "sp".into(), Value::Null);
        job.schedule_state = "Active";
        job.escrows.insert("u".into(), Escrow { kind: "User", attempts: 1, error_code: "Timeout".into() });
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let hours = retries(&mut job, start, backoff(RetrySchedule::SinceFirstFailure), 100);
        assert_eq!(hours.len(), 29 + 1, "6 h, 12 h, then days 1 to 28");
        assert_eq!(hours.last(), Some(&(28 * 24)));
        assert_eq!((job.schedule_state, job.code, job.next_run), ("Disabled", Code::Paused, None));
        assert!(job.escrows.is_empty(), "the escrow entries are removed");
        let q = job.quarantine.as_ref().unwrap();
        assert_eq!((q.reason, q.next_attempt, q.series_began), ("EncounteredQuarantineException", None, start));
        let status = &job.to_json("PT40M")["status"];
        assert_eq!((status["code"].as_str(), status["quarantine"]["nextAttempt"].is_null()), (Some("Paused"), true));
        // Waits between retries: the last one within 28 days is at 666 h; the one at 690 h disables.
        let mut job = Job::new("j".into(), "t".into(), "sp".into(), Value::Null);
        job.schedule_state = "Active";
        let hours = retries(&mut job, start, backoff(RetrySchedule::BetweenRetries), 100);
        assert_eq!(hours.last(), Some(&690));
        assert_eq!(job.schedule_state, "Disabled");
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
