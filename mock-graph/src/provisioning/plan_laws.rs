//! Laws of the planner (`plan::plan`, `plan::candidates`, `scope`): property tests over small
//! generated directories and jobs, in process, with no socket and no runtime
//! (entra-provisioning.md §2, §4.1–§4.4, §5.1, §5.4).
//!
//! A [`Spec`] describes a world: up to 12 users (enabled or not, in department Ops or not, live,
//! soft-deleted or purged), up to 4 groups (assigned or not, with user members, perhaps nested in
//! another, perhaps deleted), assignments to the AWS app's service principal, the job's links (some
//! to objects that never existed here) and escrows, the scope setting and a scoping filter, and
//! whether the job has a watermark; then a few directory operations after it. [`build`] makes the
//! world the way the Graph routes would, through `Directory`, and notes what each operation did.
//! The expectations are read back from the directory's own data (assignments, members, deleted
//! items), not from the engine.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Map, Value, json};

use super::job::{Escrow, GroupLink, Job, UserLink};
use super::plan::{Plan, Subjects, begin, plan};
use super::template::default_schema;
use crate::apps::{AWS_TEMPLATE_ID, AWS_USER_ROLE};
use crate::directory::{Key, ObjectKind};
use crate::state::{Tenant, World};

const SP: &str = "sp-aws";
const JOB: &str = "aWSSingleSignon.tenant.app";
const DOMAIN: &str = "contoso.onmicrosoft.com";

/// One client for every world: building one loads the TLS roots. `plan` only stores it.
static CLIENT: LazyLock<reqwest::Client> = LazyLock::new(reqwest::Client::new);

/// The default schema, made once: making it takes longer than the rest of a world.
static SCHEMA: LazyLock<Value> = LazyLock::new(default_schema);

// ---------------------------------------------------------------------------------------------
// Specs and their strategies
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Live,
    SoftDeleted,
    Purged,
}

#[derive(Debug, Clone)]
struct UserSpec {
    enabled: bool,
    assigned: bool,
    /// `department: "Ops"`, which the scoping filter (when on) asks for; otherwise `Sales` or none.
    ops: Option<bool>,
    fate: Fate,
}

#[derive(Debug, Clone)]
struct GroupSpec {
    assigned: bool,
    /// User indices (modulo the user count).
    members: Vec<usize>,
    /// A group (index modulo the group count) this one is a member of: nesting, never flattened.
    parent: Option<usize>,
    deleted: bool,
}

/// An object a link or an escrow names: a user or group of the spec (index modulo the count; a
/// ghost when there are none), or one that never existed in this directory.
#[derive(Debug, Clone, Copy)]
enum Obj {
    User(usize),
    GhostUser(usize),
    Group(usize),
    GhostGroup(usize),
}

#[derive(Debug, Clone)]
struct JobSpec {
    /// Linked users, and whether each is still managed.
    users: Vec<(Obj, bool)>,
    /// Linked groups, with their exported members (indices into `users`).
    groups: Vec<(Obj, Vec<usize>)>,
    escrows: Vec<Obj>,
}

/// A directory operation after the watermark; one that does not apply (an unknown object, an
/// existing membership) does nothing.
#[derive(Debug, Clone, Copy)]
enum Op {
    Rename(usize),
    Toggle(usize),
    Delete(usize),
    Purge(usize),
    Restore(usize),
    AddMember(usize, usize),
    RemoveMember(usize, usize),
    AssignUser(usize),
    UnassignUser(usize),
    AssignGroup(usize),
    UnassignGroup(usize),
    DeleteGroup(usize),
    /// 31 days pass: deleted items turn the retention's age (§4.3 step 9).
    Age,
}

#[derive(Debug, Clone)]
struct Spec {
    users: Vec<UserSpec>,
    groups: Vec<GroupSpec>,
    sync_all: bool,
    filter: bool,
    job: JobSpec,
    /// Whether the job has a watermark (taken after the world is made, before `ops`).
    incremental: bool,
    ops: Vec<Op>,
}

fn user_spec() -> impl Strategy<Value = UserSpec> {
    let fate = prop_oneof![6 => Just(Fate::Live), 2 => Just(Fate::SoftDeleted), 1 => Just(Fate::Purged)];
    (prop::bool::weighted(0.8), prop::bool::weighted(0.4), prop::option::of(any::<bool>()), fate)
        .prop_map(|(enabled, assigned, ops, fate)| UserSpec { enabled, assigned, ops, fate })
}

fn group_spec() -> impl Strategy<Value = GroupSpec> {
    (
        any::<bool>(),
        prop::collection::vec(0..12usize, 0..5),
        prop::option::weighted(0.25, 0..4usize),
        prop::bool::weighted(0.15),
    )
        .prop_map(|(assigned, members, parent, deleted)| GroupSpec { assigned, members, parent, deleted })
}

fn user_obj() -> impl Strategy<Value = Obj> {
    prop_oneof![4 => (0..12usize).prop_map(Obj::User), 1 => (0..3usize).prop_map(Obj::GhostUser)]
}

fn group_obj() -> impl Strategy<Value = Obj> {
    prop_oneof![4 => (0..4usize).prop_map(Obj::Group), 1 => (0..2usize).prop_map(Obj::GhostGroup)]
}

fn job_spec() -> impl Strategy<Value = JobSpec> {
    (
        prop::collection::vec((user_obj(), prop::bool::weighted(0.8)), 0..6),
        prop::collection::vec((group_obj(), prop::collection::vec(0..6usize, 0..3)), 0..3),
        prop::collection::vec(prop_oneof![3 => user_obj(), 1 => group_obj()], 0..4),
    )
        .prop_map(|(users, groups, escrows)| JobSpec { users, groups, escrows })
}

fn op() -> impl Strategy<Value = Op> {
    let u = || 0..12usize;
    let g = || 0..4usize;
    prop_oneof![
        u().prop_map(Op::Rename),
        u().prop_map(Op::Toggle),
        u().prop_map(Op::Delete),
        u().prop_map(Op::Purge),
        u().prop_map(Op::Restore),
        (g(), u()).prop_map(|(g, u)| Op::AddMember(g, u)),
        (g(), u()).prop_map(|(g, u)| Op::RemoveMember(g, u)),
        u().prop_map(Op::AssignUser),
        u().prop_map(Op::UnassignUser),
        g().prop_map(Op::AssignGroup),
        g().prop_map(Op::UnassignGroup),
        g().prop_map(Op::DeleteGroup),
        Just(Op::Age),
    ]
}

fn spec_with(incremental: BoxedStrategy<bool>, ops: BoxedStrategy<Vec<Op>>) -> impl Strategy<Value = Spec> {
    (
        prop::collection::vec(user_spec(), 0..=12),
        prop::collection::vec(group_spec(), 0..=4),
        prop::bool::weighted(0.25),
        prop::bool::weighted(0.3),
        job_spec(),
        incremental,
        ops,
    )
        .prop_map(|(users, groups, sync_all, filter, job, incremental, ops)| Spec {
            users,
            groups,
            sync_all,
            filter,
            job,
            incremental,
            ops,
        })
}

/// Any world: initial or incremental, with up to 6 operations after the watermark point.
fn spec() -> impl Strategy<Value = Spec> {
    spec_with(any::<bool>().boxed(), prop::collection::vec(op(), 0..6).boxed())
}

// ---------------------------------------------------------------------------------------------
// Building a world
// ---------------------------------------------------------------------------------------------

impl Spec {
    fn user_id(&self, i: usize) -> Option<String> {
        (!self.users.is_empty()).then(|| format!("u{}", i % self.users.len()))
    }

    fn group_id(&self, i: usize) -> Option<String> {
        (!self.groups.is_empty()).then(|| format!("g{}", i % self.groups.len()))
    }

    /// The id an [`Obj`] names, and whether it is a group.
    fn obj(&self, obj: Obj) -> (String, bool) {
        match obj {
            Obj::User(i) => (self.user_id(i).unwrap_or_else(|| format!("ghost-u{i}")), false),
            Obj::GhostUser(i) => (format!("ghost-u{i}"), false),
            Obj::Group(i) => (self.group_id(i).unwrap_or_else(|| format!("ghost-g{i}")), true),
            Obj::GhostGroup(i) => (format!("ghost-g{i}"), true),
        }
    }
}

/// What the operations after the watermark point did.
#[derive(Debug, Default)]
struct Log {
    /// Users an operation changed: their properties, assignments, memberships or lifecycle.
    users: BTreeSet<String>,
    /// Groups an operation changed: members (also through a user's delete or restore), assignments,
    /// lifecycle.
    groups: BTreeSet<String>,
    /// Groups assigned or unassigned (also by their deletion): their members are looked at again.
    scoped_groups: BTreeSet<String>,
    /// Users purged, by hand or by age, with no restore possible after.
    purged: BTreeSet<String>,
    /// Users whose last lifecycle event was a soft delete or a purge: still gone.
    gone: BTreeSet<String>,
    /// Users soft-deleted then restored after the watermark point.
    back: BTreeSet<String>,
}

fn user_body(i: usize, spec: &UserSpec) -> Map<String, Value> {
    let mut body = json!({
        "accountEnabled": spec.enabled,
        "displayName": format!("User {i}"),
        "mailNickname": format!("u{i}"),
        "passwordProfile": {"password": "x"},
        "userPrincipalName": format!("u{i}@{DOMAIN}"),
    });
    if let Some(ops) = spec.ops {
        body["department"] = json!(if ops { "Ops" } else { "Sales" });
    }
    body.as_object().cloned().unwrap_or_default()
}

fn assign(world: &mut World, principal: &str) -> bool {
    let now = world.core.clock.now();
    let random = world.bytes16();
    let Some(sp) = world.directory.service_principal_key(SP) else { return false };
    let body = json!({"principalId": principal, "resourceId": SP, "appRoleId": AWS_USER_ROLE});
    world.directory.assign(sp, body.as_object().unwrap_or(&Map::new()), random, now).is_ok()
}

fn unassign(world: &mut World, principal: Key) -> bool {
    let dir = &mut world.directory;
    let on_sp: Vec<Key> = dir
        .assignments_of(principal)
        .filter(|(_, a)| a.get("resourceId").and_then(Value::as_str) == Some(SP))
        .map(|(k, _)| k)
        .collect();
    for key in &on_sp {
        dir.remove_assignment(*key);
    }
    !on_sp.is_empty()
}

fn group_ids_of(world: &World, key: Key) -> Vec<String> {
    let dir = &world.directory;
    dir.groups_of(key).map(|g| dir.object_id(ObjectKind::Group, g)).collect()
}

fn user_members(world: &World, group: Key) -> Vec<String> {
    let dir = &world.directory;
    dir.members_of(group).filter(|(k, _)| *k == ObjectKind::User).map(|(k, m)| dir.object_id(k, m)).collect()
}

fn apply(world: &mut World, spec: &Spec, op: Op, log: &mut Log) {
    let now = world.core.clock.now();
    let user = |i| spec.user_id(i);
    let group = |i| spec.group_id(i);
    match op {
        Op::Rename(i) | Op::Toggle(i) => {
            let Some(id) = user(i) else { return };
            let Some(key) = world.directory.user_key(&id) else { return };
            let body = if let Op::Rename(_) = op {
                json!({"displayName": format!("Renamed {}", world.directory.last_seq())})
            } else {
                let enabled = world.directory.users[&key].get("accountEnabled").and_then(Value::as_bool);
                json!({"accountEnabled": enabled != Some(true)})
            };
            if world.directory.update_user(key, body.as_object().cloned().unwrap_or_default()).is_ok() {
                log.users.insert(id);
            }
        }
        Op::Delete(i) => {
            let Some(id) = user(i) else { return };
            let Some(key) = world.directory.user_key(&id) else { return };
            let groups = group_ids_of(world, key);
            if world.directory.delete_user(key, now).is_ok() {
                log.groups.extend(groups);
                log.gone.insert(id.clone());
                // Deleted again after a restore: gone, not back.
                log.back.remove(&id);
                log.users.insert(id);
            }
        }
        Op::Purge(i) => {
            let Some(id) = user(i) else { return };
            if world.directory.purge_user(&id).is_ok() {
                log.purged.insert(id.clone());
                log.gone.insert(id.clone());
                log.back.remove(&id);
                log.users.insert(id);
            }
        }
        Op::Restore(i) => {
            let Some(id) = user(i) else { return };
            let relations = world.switches.restore_relations;
            if let Ok(key) = world.directory.restore_user(&id, relations) {
                log.groups.extend(group_ids_of(world, key));
                if log.gone.remove(&id) {
                    log.back.insert(id.clone());
                }
                log.users.insert(id);
            }
        }
        Op::AddMember(g, u) | Op::RemoveMember(g, u) => {
            let (Some(gid), Some(uid)) = (group(g), user(u)) else { return };
            let Some(gkey) = world.directory.group_key(&gid) else { return };
            if world.directory.user_key(&uid).is_none() {
                return;
            }
            let done = if let Op::AddMember(..) = op {
                world.directory.add_member(gkey, &uid).is_ok()
            } else {
                world.directory.remove_member(gkey, &uid).is_ok()
            };
            if done {
                log.groups.insert(gid);
                log.users.insert(uid);
            }
        }
        Op::AssignUser(i) | Op::UnassignUser(i) => {
            let Some(id) = user(i) else { return };
            let Some(key) = world.directory.user_key(&id) else { return };
            let done = if let Op::AssignUser(_) = op { assign(world, &id) } else { unassign(world, key) };
            if done {
                log.users.insert(id);
            }
        }
        Op::AssignGroup(i) | Op::UnassignGroup(i) => {
            let Some(id) = group(i) else { return };
            let Some(key) = world.directory.group_key(&id) else { return };
            let done = if let Op::AssignGroup(_) = op { assign(world, &id) } else { unassign(world, key) };
            if done {
                log.groups.insert(id.clone());
                log.scoped_groups.insert(id);
            }
        }
        Op::DeleteGroup(i) => {
            let Some(id) = group(i) else { return };
            let Some(key) = world.directory.group_key(&id) else { return };
            let members = user_members(world, key);
            // It leaves the groups it is nested in, too.
            let parents = group_ids_of(world, key);
            let assigned = world.directory.assignments_of(key).next().is_some();
            if world.directory.delete_group(key).is_ok() {
                log.users.extend(members);
                log.groups.extend(parents);
                if assigned {
                    log.scoped_groups.insert(id.clone());
                }
                log.groups.insert(id);
            }
        }
        Op::Age => world.core.clock.advance(SignedDuration::from_hours(31 * 24)),
    }
}

fn scoping_filter() -> Value {
    json!({"groups": [{"clauses": [
        {"operatorName": "EQUALS", "sourceOperandName": "department", "targetOperand": {"values": ["Ops"]}}
    ]}]})
}

/// The world a spec describes, its job under [`JOB`], and what the operations after the
/// watermark point did. Deterministic: the same spec gives the same world.
fn build(spec: &Spec) -> (World, Log) {
    let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap_or(Timestamp::UNIX_EPOCH);
    let tenant = Tenant {
        id: "00000000-0000-0000-0000-0000000000aa".to_owned(),
        domain: DOMAIN.to_owned(),
        client_id: "client".to_owned(),
        client_secret: "secret".to_owned(),
    };
    let mut world = World::new(7, scenarios::clock::Clock::virtual_at(start), tenant.clone(), CLIENT.clone());
    let ids = ["app-object".to_owned(), "app-id".to_owned(), SP.to_owned()];
    world.directory.instantiate(AWS_TEMPLATE_ID, "AWS IAM Identity Center", ids, &tenant.id, start).unwrap();
    let mut user_keys = Vec::new();
    for (i, user) in spec.users.iter().enumerate() {
        user_keys.push(world.directory.create_user(format!("u{i}"), start, user_body(i, user)).unwrap());
    }
    let mut group_keys = Vec::new();
    for i in 0..spec.groups.len() {
        let body = json!({"displayName": format!("Group {i}"), "mailEnabled": false,
            "mailNickname": format!("g{i}"), "securityEnabled": true});
        group_keys
            .push(world.directory.create_group(format!("g{i}"), start, body.as_object().cloned().unwrap()).unwrap());
    }
    for (i, group) in spec.groups.iter().enumerate() {
        for member in &group.members {
            if let Some(id) = spec.user_id(*member) {
                // Ignore repeats: already a member.
                let _ = world.directory.add_member(group_keys[i], &id);
            }
        }
        if let Some(parent) = group.parent.map(|p| p % spec.groups.len()).filter(|p| *p != i) {
            let _ = world.directory.add_member(group_keys[parent], &format!("g{i}"));
        }
    }
    for (i, user) in spec.users.iter().enumerate() {
        if user.assigned {
            assign(&mut world, &format!("u{i}"));
        }
    }
    for (i, group) in spec.groups.iter().enumerate() {
        if group.assigned {
            assign(&mut world, &format!("g{i}"));
        }
    }
    for (i, user) in spec.users.iter().enumerate() {
        if user.fate != Fate::Live {
            world.directory.delete_user(user_keys[i], start).unwrap();
        }
        if user.fate == Fate::Purged {
            world.directory.purge_user(&format!("u{i}")).unwrap();
        }
    }
    for (i, group) in spec.groups.iter().enumerate() {
        if group.deleted {
            world.directory.delete_group(group_keys[i]).unwrap();
        }
    }
    let mut schema = SCHEMA.clone();
    if spec.filter {
        schema["synchronizationRules"][0]["objectMappings"][0]["scope"] = scoping_filter();
    }
    let mut job = Job::new(JOB.to_owned(), "aWSSingleSignon".to_owned(), SP.to_owned(), schema);
    let mut target_ids = Vec::new();
    for (obj, managed) in &spec.job.users {
        let (id, _) = spec.obj(*obj);
        let target_id = format!("aws-{id}");
        let exported = BTreeMap::from([("userName".to_owned(), format!("{id}@{DOMAIN}"))]);
        job.users.insert(id, UserLink { target_id: target_id.clone(), exported, managed: *managed });
        target_ids.push(target_id);
    }
    for (obj, members) in &spec.job.groups {
        let (id, _) = spec.obj(*obj);
        let members = members.iter().filter_map(|m| target_ids.get(*m).cloned()).collect();
        let exported = BTreeMap::from([("displayName".to_owned(), id.clone())]);
        job.groups.insert(id.clone(), GroupLink { target_id: format!("aws-{id}"), exported, members });
    }
    for obj in &spec.job.escrows {
        let (id, group) = spec.obj(*obj);
        let kind = if group { "Group" } else { "User" };
        job.escrows.insert(id, Escrow { kind, attempts: 1, error_code: "Timeout".to_owned() });
    }
    if spec.incremental {
        job.watermark = Some(world.directory.last_seq());
    }
    world.provisioning.jobs.insert(JOB.to_owned(), job);
    world.provisioning.secrets.insert(
        SP.to_owned(),
        vec![
            ("BaseAddress".to_owned(), "http://127.0.0.1:9/scim/v2".to_owned()),
            ("SecretToken".to_owned(), "token".to_owned()),
            ("SyncAll".to_owned(), spec.sync_all.to_string()),
        ],
    );
    let mut log = Log::default();
    for op in &spec.ops {
        apply(&mut world, spec, *op, &mut log);
    }
    // Deleted items that will have turned 30 days old when the plan is made are purged by it.
    let cutoff = world.core.clock.now() - SignedDuration::from_hours(24 * 30);
    let due: Vec<String> = world
        .directory
        .deleted_users
        .iter()
        .filter(|(_, (_, user))| {
            let at = user.get("deletedDateTime").and_then(Value::as_str).and_then(|t| t.parse::<Timestamp>().ok());
            at.is_some_and(|at| at <= cutoff)
        })
        .map(|(id, _)| id.clone())
        .collect();
    for id in due {
        log.purged.insert(id.clone());
        log.gone.insert(id.clone());
        log.back.remove(&id);
        log.users.insert(id);
    }
    (world, log)
}

/// Plans the job of a built world.
fn plan_of(world: &mut World, only: Option<&Subjects>) -> Plan {
    let settings = world.engine_settings();
    plan(world, JOB, &settings, only, None).expect("the job plans")
}

// ---------------------------------------------------------------------------------------------
// The oracle: what the directory says
// ---------------------------------------------------------------------------------------------

/// The principals assigned directly to the AWS app's service principal.
fn assigned_principals(world: &World) -> BTreeSet<String> {
    world
        .directory
        .assignments
        .values()
        .filter(|a| a.get("resourceId").and_then(Value::as_str) == Some(SP))
        .filter_map(|a| a.get("principalId").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

fn live_user(world: &World, id: &str) -> Option<Key> {
    match world.directory.lookup(id) {
        Some((ObjectKind::User, key)) => Some(key),
        _ => None,
    }
}

fn live_group(world: &World, id: &str) -> Option<Key> {
    match world.directory.lookup(id) {
        Some((ObjectKind::Group, key)) => Some(key),
        _ => None,
    }
}

/// In scope (§2.1, §2.2, §2.3, §2.5): live, assigned directly or as a direct member of an assigned
/// group (or everything under SyncAll), enabled, and through the scoping filter when there is one.
fn user_in_scope(world: &World, spec: &Spec, id: &str) -> bool {
    let Some(key) = live_user(world, id) else { return false };
    let assigned = assigned_principals(world);
    let props = &world.directory.users[&key];
    let reached =
        spec.sync_all || assigned.contains(id) || group_ids_of(world, key).iter().any(|g| assigned.contains(g));
    let enabled = props.get("accountEnabled") == Some(&json!(true));
    let filtered = !spec.filter || props.get("department") == Some(&json!("Ops"));
    reached && enabled && filtered
}

/// A group is provisioned when live and assigned, or everything under SyncAll (§2.1, §2.2).
fn group_in_scope(world: &World, spec: &Spec, id: &str) -> bool {
    live_group(world, id).is_some() && (spec.sync_all || assigned_principals(world).contains(id))
}

fn escrowed(spec: &Spec, groups: bool) -> BTreeSet<String> {
    spec.job.escrows.iter().map(|o| spec.obj(*o)).filter(|(_, g)| *g == groups).map(|(id, _)| id).collect()
}

fn linked_users(spec: &Spec) -> BTreeSet<String> {
    spec.job.users.iter().map(|(o, _)| spec.obj(*o).0).collect()
}

fn linked_groups(spec: &Spec) -> BTreeSet<String> {
    spec.job.groups.iter().map(|(o, _)| spec.obj(*o).0).collect()
}

/// Linked users whose AWS user the job exported as a member of this group's AWS group.
fn linked_members_of(ledger: &super::plan::Ledger, group: &str) -> BTreeSet<String> {
    let Some(link) = ledger.groups.get(group) else { return BTreeSet::new() };
    ledger.users.iter().filter(|(_, l)| link.members.contains(&l.target_id)).map(|(id, _)| id.clone()).collect()
}

fn user_ids(plan: &Plan) -> Vec<String> {
    plan.users.iter().map(|w| w.id.clone()).collect()
}

fn group_ids(plan: &Plan) -> Vec<String> {
    plan.groups.iter().map(|w| w.id.clone()).collect()
}

fn set(ids: &[String]) -> BTreeSet<String> {
    ids.iter().cloned().collect()
}

fn cases(n: u32) -> Config {
    // No regression files: the failing cases worth keeping are the named tests at the end.
    Config { cases: n, failure_persistence: None, ..Config::default() }
}

// ---------------------------------------------------------------------------------------------
// Laws
// ---------------------------------------------------------------------------------------------

/// Laws every plan of a cycle keeps, whatever the kind of cycle.
fn check_every_plan(spec: &Spec, world: &World, plan: &Plan) -> Result<(), TestCaseError> {
    let users = user_ids(plan);
    let groups = group_ids(plan);
    // Each object once.
    prop_assert_eq!(users.len(), set(&users).len(), "a user planned twice: {:?}", users);
    prop_assert_eq!(groups.len(), set(&groups).len(), "a group planned twice: {:?}", groups);
    // §2: in scope ⇔ assigned (directly or via a directly assigned group) ∧ enabled ∧ live ∧ filter.
    for work in &plan.users {
        prop_assert_eq!(work.in_scope, user_in_scope(world, spec, &work.id), "user {} in scope", &work.id);
        prop_assert_eq!(work.key, live_user(world, &work.id), "user {}'s key", &work.id);
        if !work.in_scope {
            prop_assert_eq!(
                work.desired.get("active").map(String::as_str),
                Some("False"),
                "{} desired inactive",
                &work.id
            );
        }
    }
    for work in &plan.groups {
        prop_assert_eq!(work.in_scope, group_in_scope(world, spec, &work.id), "group {} in scope", &work.id);
        // Direct user members only: nested groups are not flattened (§2.2).
        let members: BTreeSet<String> =
            live_group(world, &work.id).map(|k| user_members(world, k).into_iter().collect()).unwrap_or_default();
        prop_assert_eq!(&work.members, &members, "group {}'s members", &work.id);
    }
    // Plan order: live users by key (creation order), then the rest by id; groups likewise.
    let user_order: Vec<_> = plan.users.iter().map(|w| (w.key.is_none(), w.key, w.id.clone())).collect();
    prop_assert!(user_order.windows(2).all(|w| w[0] < w[1]), "users out of order: {:?}", user_order);
    let group_order: Vec<_> = plan
        .groups
        .iter()
        .map(|w| {
            let key = live_group(world, &w.id);
            (key.is_none(), key, w.id.clone())
        })
        .collect();
    prop_assert!(group_order.windows(2).all(|w| w[0] < w[1]), "groups out of order: {:?}", group_order);
    // §5.1: escrowed objects are retried every cycle.
    prop_assert!(
        escrowed(spec, false).is_subset(&set(&users)),
        "escrowed users {:?} not in {:?}",
        escrowed(spec, false),
        users
    );
    prop_assert!(
        escrowed(spec, true).is_subset(&set(&groups)),
        "escrowed groups {:?} not in {:?}",
        escrowed(spec, true),
        groups
    );
    // §4.2 step 6: the assigned groups of planned users that are not planned themselves, each once.
    let refs: Vec<String> = plan.reference_groups.iter().map(|g| g.id.clone()).collect();
    prop_assert_eq!(refs.len(), set(&refs).len(), "a reference group twice: {:?}", refs);
    let mut expected_refs = BTreeSet::new();
    for work in &plan.users {
        for group in work.key.map(|k| group_ids_of(world, k)).unwrap_or_default() {
            if group_in_scope(world, spec, &group) && !groups.contains(&group) {
                expected_refs.insert(group);
            }
        }
    }
    prop_assert_eq!(set(&refs), expected_refs, "reference groups");
    Ok(())
}

/// §5.1, §10.1: the plan takes the job's links and escrows with it, as they were.
fn check_ledger(before: &Job, world: &World, plan: &Plan) -> Result<(), TestCaseError> {
    prop_assert_eq!(&plan.ledger.users, &before.users);
    prop_assert_eq!(&plan.ledger.groups, &before.groups);
    prop_assert_eq!(&plan.ledger.escrows, &before.escrows);
    let job = &world.provisioning.jobs[JOB];
    prop_assert!(job.users.is_empty() && job.groups.is_empty() && job.escrows.is_empty(), "left in the job");
    Ok(())
}

proptest! {
    #![proptest_config(cases(64))]

    /// §4.2 steps 1–2, §2.1, §2.2, §4.1 (restart keeps links): an initial cycle plans every user
    /// directly assigned or a direct user member of an assigned group (everyone under SyncAll),
    /// every assigned group (every group under SyncAll), and every linked or escrowed object; each
    /// once. What is in reach is an `Add`; linked-only objects an `Update`, a group gone a `Delete`;
    /// a linked user gone from deleted items too is purged (§4.4).
    #[test]
    fn an_initial_plan_holds_what_is_in_reach_and_what_is_linked(
        spec in spec_with(Just(false).boxed(), prop::collection::vec(op(), 0..4).boxed())
    ) {
        let (mut world, _) = build(&spec);
        let before = world.provisioning.jobs[JOB].clone();
        let plan = plan_of(&mut world, None);
        prop_assert!(plan.initial && plan.fixed.read_target);
        let dir = &world.directory;
        let assigned = assigned_principals(&world);
        let reach_users: BTreeSet<String> = if spec.sync_all {
            dir.users.values().filter_map(|u| u.get("id")?.as_str().map(str::to_owned)).collect()
        } else {
            let mut reach: BTreeSet<String> = assigned.iter().filter(|p| live_user(&world, p).is_some()).cloned().collect();
            for group in assigned.iter().filter_map(|p| live_group(&world, p)) {
                reach.extend(user_members(&world, group));
            }
            reach
        };
        let reach_groups: BTreeSet<String> = if spec.sync_all {
            dir.groups.values().filter_map(|g| g.get("id")?.as_str().map(str::to_owned)).collect()
        } else {
            assigned.iter().filter(|p| live_group(&world, p).is_some()).cloned().collect()
        };
        let mut users = reach_users.clone();
        users.extend(linked_users(&spec));
        users.extend(escrowed(&spec, false));
        let mut groups = reach_groups.clone();
        groups.extend(linked_groups(&spec));
        groups.extend(escrowed(&spec, true));
        prop_assert_eq!(set(&user_ids(&plan)), users);
        prop_assert_eq!(set(&group_ids(&plan)), groups);
        for work in &plan.users {
            let kind = if reach_users.contains(&work.id) { "Add" } else { "Update" };
            prop_assert_eq!(work.import_kind, kind, "user {}", &work.id);
            let purged = before.users.contains_key(&work.id)
                && live_user(&world, &work.id).is_none()
                && !dir.deleted_users.contains_key(&work.id);
            prop_assert_eq!(work.purged, purged, "user {} purged", &work.id);
        }
        for work in &plan.groups {
            let kind = if reach_groups.contains(&work.id) {
                "Add"
            } else if before.groups.contains_key(&work.id) && live_group(&world, &work.id).is_none() {
                "Delete"
            } else {
                "Update"
            };
            prop_assert_eq!(work.import_kind, kind, "group {}", &work.id);
        }
        check_every_plan(&spec, &world, &plan)?;
        check_ledger(&before, &world, &plan)?;
    }

    /// §2, §5.1, §10.1 for any cycle: scope, each object once, plan order, escrows retried,
    /// reference groups, and the ledger taken out of the job.
    #[test]
    fn every_plan_keeps_scope_order_escrows_and_the_ledger(spec in spec()) {
        let (mut world, _) = build(&spec);
        let before = world.provisioning.jobs[JOB].clone();
        let plan = plan_of(&mut world, None);
        prop_assert_eq!(plan.initial, !spec.incremental);
        prop_assert_eq!(plan.fixed.read_target, !spec.incremental, "initial cycles read the target back (§4.2)");
        check_every_plan(&spec, &world, &plan)?;
        check_ledger(&before, &world, &plan)?;
    }

    /// Determinism: the same world planned twice gives the same plan, to the last field shown.
    #[test]
    fn the_same_world_plans_the_same(spec in spec()) {
        let (mut one, _) = build(&spec);
        let (mut two, _) = build(&spec);
        let (a, b) = (plan_of(&mut one, None), plan_of(&mut two, None));
        prop_assert_eq!(format!("{:?}", a.users), format!("{:?}", b.users));
        prop_assert_eq!(format!("{:?}", a.groups), format!("{:?}", b.groups));
        prop_assert_eq!(format!("{:?}", a.reference_groups), format!("{:?}", b.reference_groups));
        prop_assert_eq!(&a.ledger, &b.ledger);
        prop_assert_eq!((a.initial, a.fixed.read_target, &a.cycle_id), (b.initial, b.fixed.read_target, &b.cycle_id));
    }

    /// A cycle plans its users a chunk per hold of the lock (`plan::Begun`): whatever the chunk,
    /// the plan is the one made in a single hold.
    #[test]
    fn planning_in_chunks_gives_the_plan_of_one_hold(spec in spec(), chunk in 1usize..5) {
        let (mut one, _) = build(&spec);
        let (mut two, _) = build(&spec);
        let whole = plan_of(&mut one, None);
        let settings = two.engine_settings();
        let mut begun = begin(&mut two, JOB, None).expect("the job plans");
        while begun.has_work_left() {
            begun.evaluate(&two, chunk);
        }
        let chunked = begun.complete(&mut two, &settings, None).expect("the job plans");
        prop_assert_eq!(format!("{:?}", whole.users), format!("{:?}", chunked.users));
        prop_assert_eq!(format!("{:?}", whole.groups), format!("{:?}", chunked.groups));
        prop_assert_eq!(format!("{:?}", whole.reference_groups), format!("{:?}", chunked.reference_groups));
        prop_assert_eq!(&whole.ledger, &chunked.ledger);
        prop_assert_eq!((whole.imported_deltas, whole.reference_deltas), (chunked.imported_deltas, chunked.reference_deltas));
    }

    /// §4.3 step 1, §5.1: right after the watermark, with nothing changed, an incremental cycle
    /// looks only at the escrowed objects.
    #[test]
    fn an_incremental_plan_with_no_change_holds_only_the_escrows(
        spec in spec_with(Just(true).boxed(), Just(Vec::new()).boxed())
    ) {
        let (mut world, _) = build(&spec);
        let before = world.provisioning.jobs[JOB].clone();
        let plan = plan_of(&mut world, None);
        prop_assert!(!plan.initial && !plan.fixed.read_target);
        prop_assert_eq!(set(&user_ids(&plan)), escrowed(&spec, false));
        prop_assert_eq!(set(&group_ids(&plan)), escrowed(&spec, true));
        prop_assert!(plan.users.iter().all(|w| w.import_kind == "Update" && !w.purged));
        check_every_plan(&spec, &world, &plan)?;
        check_ledger(&before, &world, &plan)?;
    }

    /// §4.3 steps 1 and 7–9, §4.4: an incremental cycle looks at what changed since the watermark
    /// (through the change log), and only at that and the escrows: a user changed, assigned,
    /// unassigned, added to or removed from a group is planned; so are the current members of a
    /// group assigned or unassigned, and the linked users the job put in its AWS group. A user
    /// soft-deleted or purged since (and still gone) is a `Delete`; a purge (by hand, or 30 days
    /// after the soft delete) marks it purged.
    #[test]
    fn an_incremental_plan_holds_what_changed_since_the_watermark(
        spec in spec_with(Just(true).boxed(), prop::collection::vec(op(), 1..7).boxed())
    ) {
        let (mut world, log) = build(&spec);
        let before = world.provisioning.jobs[JOB].clone();
        let plan = plan_of(&mut world, None);
        let users = set(&user_ids(&plan));
        let groups = set(&group_ids(&plan));
        // At least what changed.
        let mut must_users = log.users.clone();
        let mut may_users = log.users.clone();
        for group in &log.scoped_groups {
            let members: BTreeSet<String> =
                live_group(&world, group).map(|k| user_members(&world, k).into_iter().collect()).unwrap_or_default();
            let linked = linked_members_of(&plan.ledger, group);
            must_users.extend(members.iter().cloned());
            must_users.extend(linked.iter().cloned());
            may_users.extend(members);
            may_users.extend(linked);
        }
        prop_assert!(must_users.is_subset(&users), "missing users {:?}", must_users.difference(&users).collect::<Vec<_>>());
        prop_assert!(log.groups.is_subset(&groups), "missing groups {:?}", log.groups.difference(&groups).collect::<Vec<_>>());
        // At most that and the escrows.
        may_users.extend(escrowed(&spec, false));
        let mut may_groups = log.groups.clone();
        may_groups.extend(escrowed(&spec, true));
        prop_assert!(users.is_subset(&may_users), "unchanged users planned: {:?}", users.difference(&may_users).collect::<Vec<_>>());
        prop_assert!(groups.is_subset(&may_groups), "unchanged groups planned: {:?}", groups.difference(&may_groups).collect::<Vec<_>>());
        for work in &plan.users {
            if log.gone.contains(&work.id) {
                prop_assert_eq!(work.import_kind, "Delete", "user {} deleted since the watermark", &work.id);
                prop_assert!(!work.in_scope);
            }
            prop_assert_eq!(work.purged, log.purged.contains(&work.id), "user {} purged", &work.id);
            // Restored since: live again, with a key. Its import kind is the ignored test
            // `a_user_deleted_then_restored_since_the_watermark_is_not_imported_as_a_delete`.
            if log.back.contains(&work.id) {
                prop_assert!(work.key.is_some(), "user {} restored", &work.id);
            }
        }
        check_every_plan(&spec, &world, &plan)?;
        check_ledger(&before, &world, &plan)?;
    }

    /// §5.4, §7.5: provision on demand plans exactly the named subjects, in the order named, as
    /// `Add`s, with no reference groups, and reads nothing back from the target first; scope is
    /// evaluated as for a cycle.
    #[test]
    fn provision_on_demand_plans_exactly_the_subjects(
        spec in spec(),
        users in prop::collection::vec(user_obj(), 0..3),
        groups in prop::collection::vec(group_obj(), 0..2),
    ) {
        let (mut world, _) = build(&spec);
        let before = world.provisioning.jobs[JOB].clone();
        let subjects = Subjects {
            users: users.iter().map(|o| spec.obj(*o).0).collect(),
            groups: groups.iter().map(|o| spec.obj(*o).0).collect(),
        };
        let plan = plan_of(&mut world, Some(&subjects));
        prop_assert_eq!(user_ids(&plan), subjects.users.clone());
        prop_assert_eq!(group_ids(&plan), subjects.groups.clone());
        prop_assert!(plan.reference_groups.is_empty());
        prop_assert!(!plan.fixed.read_target);
        prop_assert!(plan.users.iter().all(|w| w.import_kind == "Add") && plan.groups.iter().all(|w| w.import_kind == "Add"));
        for work in &plan.users {
            prop_assert_eq!(work.in_scope, user_in_scope(&world, &spec, &work.id), "user {} in scope", &work.id);
        }
        for work in &plan.groups {
            prop_assert_eq!(work.in_scope, group_in_scope(&world, &spec, &work.id), "group {} in scope", &work.id);
        }
        check_ledger(&before, &world, &plan)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Regressions: failing cases the laws found, minimised
// ---------------------------------------------------------------------------------------------

/// §4.3 step 1, §4.4 ("Soft-deleted → active again"): a user soft-deleted and restored between two
/// cycles is, by the next one, an ordinary live user (delta shows its current state, not
/// `@removed`). The plan imported it as a `Delete` (logged `EntryImportDelete`): the change log's
/// `Deleted` overrode the slot and the restore's `Upserted` only filled an empty one.
#[test]
fn a_user_deleted_then_restored_since_the_watermark_is_not_imported_as_a_delete() {
    let spec = Spec {
        users: vec![UserSpec { enabled: true, assigned: true, ops: None, fate: Fate::Live }],
        groups: Vec::new(),
        sync_all: false,
        filter: false,
        job: JobSpec { users: vec![(Obj::User(0), true)], groups: Vec::new(), escrows: Vec::new() },
        incremental: true,
        ops: vec![Op::Delete(0), Op::Restore(0)],
    };
    let (mut world, _) = build(&spec);
    let plan = plan_of(&mut world, None);
    let work = &plan.users[0];
    assert!(work.in_scope, "restored with its assignment");
    assert_ne!(work.import_kind, "Delete");
}
