//! The laws of sync, as property tests over random directories, assignments, edits and fault
//! storms. Each case is written as a scenario (the format of `scenarios/`) whose expectations come
//! from a model of AWS's rules; when a law fails, the shrunk case is written to
//! `scenarios/regressions/` and becomes a permanent test of the library.
//!
//! Cases are capped for CI (`PROPTEST_CASES` raises them for deep runs), and drawn from a fixed
//! seed so that CI is deterministic; `PROPTEST_RNG_SEED=N` explores other cases.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;

use fake::Fake;
use fake::rand::SeedableRng;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, RngSeed, TestError, TestRunner};

/// A generated user.
#[derive(Debug, Clone)]
struct User {
    local: String,
    given: String,
    surname: Option<String>,
    enabled: bool,
    /// A B2B guest from fabrikam.com, with an `#EXT#` UPN.
    guest: bool,
}

impl User {
    fn upn(&self) -> String {
        if self.guest {
            format!("{}_fabrikam.com#EXT#@contoso.onmicrosoft.com", self.local)
        } else {
            format!("{}@contoso.onmicrosoft.com", self.local)
        }
    }

    /// The userName in AWS: a guest's `#EXT#` UPN is turned back into its home address
    /// (entra-provisioning.md §2.5).
    fn aws_name(&self) -> String {
        if self.guest { format!("{}@fabrikam.com", self.local) } else { self.upn() }
    }

    /// AWS's user rules the generator can break: a surname is required, userName ≤ 128
    /// (aws-scim.md §2.1, §2.3).
    fn valid(&self) -> bool {
        self.surname.is_some() && self.aws_name().chars().count() <= 128
    }
}

/// A generated group: a name from a pool with reserved names and case-only duplicates.
#[derive(Debug, Clone)]
struct Group {
    name: String,
    members: Vec<usize>,
    /// A group listed earlier, nested in this one: never flattened (entra-provisioning.md §2.2).
    nested: Option<usize>,
}

/// One generated situation.
#[derive(Debug, Clone)]
struct Case {
    seed: u64,
    users: Vec<User>,
    groups: Vec<Group>,
    assigned_users: Vec<usize>,
    assigned_groups: Vec<usize>,
    fault: Option<Fault>,
    /// How many users and groups were made by hand in AWS, which the job never manages.
    by_hand: (usize, usize),
    /// Users created and assigned after the first cycle, during the storm.
    late_users: Vec<User>,
    /// What the administrator does once the first state has converged.
    edits: Vec<Edit>,
    /// mock-graph's `exportConcurrency`: 1 but in `determinism_concurrent`.
    concurrency: usize,
}

/// How the requests of a fault storm fail.
#[derive(Debug, Clone, Copy)]
enum Storm {
    /// AWS answers with this status (429, 500, 503).
    Status(u16),
    /// AWS answers 429 with `Retry-After` in seconds.
    RetryAfter(u64),
    /// The connection is closed without an answer.
    Drop,
    /// AWS holds the request past the engine's timeout.
    Timeout,
}

/// Which requests a fault storm hits.
#[derive(Debug, Clone, Copy)]
enum Target {
    UserCreates,
    /// Every request about groups: creations, member changes, renames, deletions.
    Groups,
    /// Every request, the connection probe included.
    Everything,
}

/// The first `count` requests of `target` fail with `storm`.
#[derive(Debug, Clone, Copy)]
struct Fault {
    storm: Storm,
    target: Target,
    count: u64,
}

/// What the administrator does once the first state has converged, by index into the case's users
/// and groups (taken modulo their number).
#[derive(Debug, Clone, Copy)]
enum Edit {
    RenameGroup(usize),
    AddMember(usize, usize),
    RemoveMember(usize, usize),
    AssignUser(usize),
    UnassignUser(usize),
    UnassignGroup(usize),
    Disable(usize),
    Enable(usize),
    DeleteUser(usize),
    /// Deletes the user if need be, then purges it from deleted items.
    PurgeUser(usize),
    /// Restores a deleted user that is not purged: it comes back with its memberships and
    /// assignments (mock-graph's switch `restoreRelations`, on by default).
    RestoreUser(usize),
    DeleteGroup(usize),
    OnDemand(usize),
    Pause,
    Start,
    Restart(Option<&'static str>),
    /// Time passes: at least one cycle is due.
    Advance(&'static str),
    /// A year passes on the AWS side: the token expires. The administrator generates a new one,
    /// saves it and restarts the job after the last edit.
    ExpireToken,
}

const GROUP_NAMES: &[&str] =
    &["SRE", "sre", "Ops", "Administrator", "AWSAdministrators", "Platform <core>", "Ünïcødé", "運用"];

/// AWS's reserved group names (aws-scim.md §6.2).
const RESERVED: &[&str] = &["Administrator", "AWSAdministrators"];

fn user_strategy(index: usize) -> impl Strategy<Value = User> {
    (any::<u64>(), prop::bool::weighted(0.8), prop::bool::weighted(0.85), 0usize..4, prop::bool::weighted(0.1))
        .prop_map(move |(seed, has_surname, enabled, script, guest)| {
            let mut rng = fake::rand::rngs::StdRng::seed_from_u64(seed);
            let (given, surname): (String, String) = match script {
                0 => (
                    fake::faker::name::en::FirstName().fake_with_rng(&mut rng),
                    fake::faker::name::en::LastName().fake_with_rng(&mut rng),
                ),
                1 => (
                    fake::faker::name::fr_fr::FirstName().fake_with_rng(&mut rng),
                    fake::faker::name::fr_fr::LastName().fake_with_rng(&mut rng),
                ),
                2 => (
                    fake::faker::name::zh_cn::FirstName().fake_with_rng(&mut rng),
                    fake::faker::name::zh_cn::LastName().fake_with_rng(&mut rng),
                ),
                _ => (
                    fake::faker::name::ja_jp::FirstName().fake_with_rng(&mut rng),
                    fake::faker::name::ja_jp::LastName().fake_with_rng(&mut rng),
                ),
            };
            // Some user names run past AWS's 128 characters.
            let local = if seed % 11 == 0 {
                format!("u{index}.{}", "x".repeat(110))
            } else {
                format!("u{index}.{}", seed % 1000)
            };
            User { local, given, surname: has_surname.then_some(surname), enabled, guest }
        })
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    (0u8..18, 0usize..8, 0usize..8).prop_map(|(kind, a, b)| match kind {
        0 => Edit::RenameGroup(a),
        1 => Edit::AddMember(a, b),
        2 => Edit::RemoveMember(a, b),
        3 => Edit::AssignUser(a),
        4 => Edit::UnassignUser(a),
        5 => Edit::UnassignGroup(a),
        6 => Edit::Disable(a),
        7 => Edit::Enable(a),
        8 => Edit::DeleteUser(a),
        9 => Edit::PurgeUser(a),
        10 => Edit::DeleteGroup(a),
        11 => Edit::OnDemand(a),
        12 => Edit::Pause,
        13 => Edit::Start,
        // An `Escrows` reset alone stops retrying failures until their objects change
        // (entra-provisioning.md §7.3), a state the model does not follow: it comes with `Watermark`.
        14 => Edit::Restart([None, Some("Watermark"), Some("Watermark, Escrows"), Some("QuarantineState")][b % 4]),
        15 => Edit::Advance(["PT40M", "PT2H", "P1D"][b % 3]),
        16 => Edit::RestoreUser(a),
        _ => Edit::ExpireToken,
    })
}

fn fault_strategy() -> impl Strategy<Value = Fault> {
    (
        // Timeouts are waited out in real time (half a second each), so they come less often.
        prop_oneof![
            3 => prop::sample::select(vec![429u16, 500, 503]).prop_map(Storm::Status),
            2 => (1u64..120).prop_map(Storm::RetryAfter),
            2 => Just(Storm::Drop),
            1 => Just(Storm::Timeout),
        ],
        prop_oneof![3 => Just(Target::UserCreates), 1 => Just(Target::Groups), 1 => Just(Target::Everything)],
        1u64..5,
    )
        .prop_map(|(storm, target, count)| Fault { storm, target, count })
}

/// What a law's cases hold besides a directory.
#[derive(Debug, Clone, Copy, Default)]
struct Shape {
    /// Users created and assigned during the storm.
    late: bool,
    /// Edits after convergence.
    edits: bool,
    /// A fault storm, sometimes.
    faults: bool,
}

fn case_strategy(shape: Shape) -> impl Strategy<Value = Case> {
    (0usize..6, 0usize..4)
        .prop_flat_map(move |(n_users, n_groups)| {
            let users: Vec<_> = (0..n_users).map(user_strategy).collect();
            let late_users: Vec<_> = if shape.late { (10..12).map(user_strategy).collect() } else { Vec::new() };
            let groups = proptest::collection::vec(
                (
                    0usize..GROUP_NAMES.len(),
                    proptest::collection::vec(0..n_users.max(1), 0..=n_users),
                    prop::option::weighted(0.3, 0usize..8),
                ),
                n_groups,
            );
            (
                any::<u64>(),
                users,
                groups,
                proptest::collection::vec(0..n_users.max(1), 0..=n_users),
                proptest::collection::vec(0..n_groups.max(1), 0..=n_groups),
                if shape.faults { prop::option::of(fault_strategy()).boxed() } else { Just(None).boxed() },
                (0usize..3, 0usize..2),
                late_users,
                proptest::collection::vec(edit_strategy(), if shape.edits { 0..7 } else { 0..1 }),
            )
        })
        .prop_map(|(seed, users, groups, assigned_users, assigned_groups, fault, by_hand, late_users, edits)| {
            let n_users = users.len();
            let n_groups = groups.len();
            let mut seen = Vec::new();
            let groups = groups
                .into_iter()
                .filter_map(|(name, members, nest)| {
                    // Distinct names in Entra (case-only duplicates allowed: AWS refuses them). Which
                    // of two such groups AWS gets first is up to the order their requests succeed
                    // in, so under faults on group requests only one of them is kept.
                    let name = GROUP_NAMES[name].to_owned();
                    let groups_faulted = fault.is_some_and(|f| !matches!(f.target, Target::UserCreates));
                    if seen.iter().any(|s: &String| *s == name || (groups_faulted && s.eq_ignore_ascii_case(&name))) {
                        return None;
                    }
                    let nested = nest.filter(|_| !seen.is_empty()).map(|n| n % seen.len());
                    seen.push(name.clone());
                    let mut members: Vec<usize> = members.into_iter().filter(|m| *m < n_users).collect();
                    members.sort_unstable();
                    members.dedup();
                    Some(Group { name, members, nested })
                })
                .collect::<Vec<_>>();
            let mut assigned_users: Vec<usize> = assigned_users.into_iter().filter(|u| *u < n_users).collect();
            assigned_users.sort_unstable();
            assigned_users.dedup();
            let mut assigned_groups: Vec<usize> =
                assigned_groups.into_iter().filter(|g| *g < n_groups.min(groups.len())).collect();
            assigned_groups.sort_unstable();
            assigned_groups.dedup();
            Case {
                seed,
                users,
                groups,
                assigned_users,
                assigned_groups,
                fault,
                by_hand,
                late_users,
                edits,
                concurrency: 1,
            }
        })
}

fn lit(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn list<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    items.into_iter().map(|s| lit(s)).collect::<Vec<_>>().join(", ")
}

/// The directory at one moment of a case, as the model sees it.
#[derive(Debug, Clone)]
struct Directory {
    users: Vec<User>,
    groups: Vec<Group>,
    assigned_users: BTreeSet<usize>,
    assigned_groups: BTreeSet<usize>,
    deleted_users: BTreeSet<usize>,
    purged_users: BTreeSet<usize>,
    deleted_groups: BTreeSet<usize>,
    /// What a deleted user had, for a restore: its direct assignment and its groups.
    deleted_relations: BTreeMap<usize, (bool, Vec<usize>)>,
}

impl Directory {
    fn in_scope(&self, u: usize) -> bool {
        self.users[u].enabled && !self.deleted_users.contains(&u) && self.assigned(u)
    }

    /// Assigned directly or through a direct membership of an assigned group.
    fn assigned(&self, u: usize) -> bool {
        self.assigned_users.contains(&u) || self.assigned_groups.iter().any(|g| self.groups[*g].members.contains(&u))
    }

    fn user_index(&self, aws_name: &str) -> Option<usize> {
        self.users.iter().position(|u| u.aws_name() == aws_name)
    }
}

/// What AWS holds, as the model sees it: users by userName (active or not), groups by the index
/// of the Entra group they were made from.
#[derive(Debug, Clone, Default)]
struct Aws {
    users: BTreeMap<String, bool>,
    groups: BTreeMap<usize, (String, Vec<String>)>,
    /// Users the job no longer manages: unassigned, then disabled in AWS.
    unmanaged: BTreeSet<String>,
    /// In-scope objects AWS refuses, as their log entries name them.
    refused: Vec<String>,
}

impl Aws {
    /// One converged cycle: AWS ends up holding the projection of the in-scope directory through
    /// the mappings, minus what AWS's rules refuse; users who left the scope stay, disabled
    /// (entra-provisioning.md §4.4), purged users and groups that left the scope are deleted.
    fn cycle(&mut self, dir: &Directory) {
        self.refused.clear();
        for (u, user) in dir.users.iter().enumerate() {
            if !dir.in_scope(u) {
                continue;
            }
            if user.valid() {
                self.users.insert(user.aws_name(), true);
                self.unmanaged.remove(&user.aws_name());
            } else {
                self.refused.push(user.upn());
            }
        }
        // A managed user who left the scope is disabled; one who left it by being unassigned is
        // then no longer managed, and is not deleted when purged later (entra-provisioning.md §4.4).
        for (name, active) in &mut self.users {
            let Some(u) = dir.user_index(name) else { continue };
            if !*active || self.unmanaged.contains(name) || dir.in_scope(u) {
                continue;
            }
            *active = false;
            if !dir.deleted_users.contains(&u) && !dir.assigned(u) {
                self.unmanaged.insert(name.clone());
            }
        }
        for u in &dir.purged_users {
            let name = dir.users[*u].aws_name();
            if !self.unmanaged.contains(&name) {
                self.users.remove(&name);
            }
        }
        // Groups AWS already holds keep their names; a newcomer whose name matches one of them
        // but for case is refused, as is a reserved name (aws-scim.md §6.2): its matching query
        // finds the other's AWS group, which the engine does not share (`DuplicateSourceEntries`,
        // mock-graph's switch `duplicateGroupNames` at its default, `refuse`), or, were AWS's
        // filter case-sensitive, its creation meets AWS's 409 (aws-scim.md §3.5).
        let mut order: Vec<usize> =
            dir.assigned_groups.iter().copied().filter(|g| !dir.deleted_groups.contains(g)).collect();
        order.sort_by_key(|g| (!self.groups.contains_key(g), *g));
        let mut groups = BTreeMap::new();
        for g in order {
            let group = &dir.groups[g];
            let duplicate =
                groups.values().any(|(name, _): &(String, Vec<String>)| name.eq_ignore_ascii_case(&group.name));
            if RESERVED.contains(&group.name.as_str()) || duplicate {
                self.refused.push(group.name.clone());
                continue;
            }
            // Members are the group's direct members that AWS holds, active or not: a disabled
            // user keeps its memberships (entra-provisioning.md §4.4, inferred).
            let members = group
                .members
                .iter()
                .map(|m| dir.users[*m].aws_name())
                .filter(|name| self.users.contains_key(name) && !self.unmanaged.contains(name))
                .collect();
            groups.insert(g, (group.name.clone(), members));
        }
        self.groups = groups;
    }

    fn users_inactive(&self) -> impl Iterator<Item = &String> {
        self.users.iter().filter(|(_, active)| !**active).map(|(name, _)| name)
    }
}

impl Case {
    /// The directory before the first step, with the late users already there.
    fn directory(&self) -> Directory {
        let mut users = self.users.clone();
        users.extend(self.late_users.iter().cloned());
        Directory {
            assigned_users: self.assigned_users.iter().copied().chain(self.users.len()..users.len()).collect(),
            users,
            groups: self.groups.clone(),
            assigned_groups: self.assigned_groups.iter().copied().collect(),
            deleted_users: BTreeSet::new(),
            purged_users: BTreeSet::new(),
            deleted_groups: BTreeSet::new(),
            deleted_relations: BTreeMap::new(),
        }
    }

    /// AWS after the first cycle of a quiet run.
    fn first_cycle(&self) -> Aws {
        let mut aws = Aws::default();
        aws.cycle(&self.directory());
        aws
    }

    /// Carries out the edits that make sense at their moment, writing each as steps, and moves the
    /// model along: AWS changes at each cycle that runs (not while paused or while the token has
    /// expired) and on demand. Ends with the steps that bring the job back (a new token, a start)
    /// and the settling cycles.
    fn edit(&self, dir: &mut Directory, aws: &mut Aws, steps: &mut String) {
        let mut step = |text: String| {
            let _ = writeln!(steps, "[[steps]]\n{text}\n");
        };
        let (mut paused, mut expired, mut on_demand, mut renamed) = (false, false, 0, BTreeSet::new());
        for edit in &self.edits {
            let n_users = dir.users.len();
            let n_groups = dir.groups.len();
            let user = |u: usize| (n_users > 0).then(|| u % n_users);
            let group = |g: usize| (n_groups > 0).then(|| g % n_groups);
            let live_user = |u: Option<usize>| u.filter(|u| !dir.deleted_users.contains(u));
            let live_group = |g: Option<usize>| g.filter(|g| !dir.deleted_groups.contains(g));
            match *edit {
                Edit::RenameGroup(g) => {
                    if let Some(g) = live_group(group(g)).filter(|g| renamed.insert(*g)) {
                        let to = format!("Renamed {g}");
                        step(format!(
                            "action = \"rename_group\"\ngroup = {}\nto = {}",
                            lit(&dir.groups[g].name),
                            lit(&to)
                        ));
                        dir.groups[g].name = to;
                    }
                }
                Edit::AddMember(g, u) => {
                    if let (Some(g), Some(u)) = (live_group(group(g)), live_user(user(u)))
                        && !dir.groups[g].members.contains(&u)
                    {
                        step(format!(
                            "action = \"add_member\"\ngroup = {}\nmember = {}",
                            lit(&dir.groups[g].name),
                            lit(&dir.users[u].upn())
                        ));
                        dir.groups[g].members.push(u);
                        dir.groups[g].members.sort_unstable();
                    }
                }
                Edit::RemoveMember(g, u) => {
                    if let (Some(g), Some(u)) = (live_group(group(g)), live_user(user(u)))
                        && dir.groups[g].members.contains(&u)
                    {
                        step(format!(
                            "action = \"remove_member\"\ngroup = {}\nmember = {}",
                            lit(&dir.groups[g].name),
                            lit(&dir.users[u].upn())
                        ));
                        dir.groups[g].members.retain(|m| *m != u);
                    }
                }
                Edit::AssignUser(u) => {
                    if let Some(u) = live_user(user(u)).filter(|u| !dir.assigned_users.contains(u)) {
                        step(format!("action = \"assign\"\nprincipal = {}", lit(&dir.users[u].upn())));
                        dir.assigned_users.insert(u);
                    }
                }
                Edit::UnassignUser(u) => {
                    if let Some(u) = live_user(user(u)).filter(|u| dir.assigned_users.contains(u)) {
                        step(format!("action = \"unassign\"\nprincipal = {}", lit(&dir.users[u].upn())));
                        dir.assigned_users.remove(&u);
                    }
                }
                Edit::UnassignGroup(g) => {
                    if let Some(g) = live_group(group(g)).filter(|g| dir.assigned_groups.contains(g)) {
                        step(format!("action = \"unassign\"\nprincipal = {}", lit(&dir.groups[g].name)));
                        dir.assigned_groups.remove(&g);
                    }
                }
                Edit::Disable(u) | Edit::Enable(u) => {
                    let enable = matches!(edit, Edit::Enable(_));
                    if let Some(u) = live_user(user(u)).filter(|u| dir.users[*u].enabled != enable) {
                        step(format!(
                            "action = \"update_user\"\nuser = {}\nset = {{ accountEnabled = {enable} }}",
                            lit(&dir.users[u].upn())
                        ));
                        dir.users[u].enabled = enable;
                    }
                }
                Edit::DeleteUser(u) | Edit::PurgeUser(u) => {
                    let Some(u) = user(u).filter(|u| !dir.purged_users.contains(u)) else { continue };
                    if dir.deleted_users.insert(u) {
                        step(format!("action = \"delete_user\"\nuser = {}", lit(&dir.users[u].upn())));
                        // Memberships and assignments go with a deleted user, kept for a restore.
                        let groups = (0..dir.groups.len()).filter(|g| dir.groups[*g].members.contains(&u)).collect();
                        dir.deleted_relations.insert(u, (dir.assigned_users.remove(&u), groups));
                        dir.groups.iter_mut().for_each(|g| g.members.retain(|m| *m != u));
                    }
                    if matches!(edit, Edit::PurgeUser(_)) {
                        step(format!("action = \"purge_user\"\nuser = {}", lit(&dir.users[u].upn())));
                        dir.purged_users.insert(u);
                    }
                }
                Edit::RestoreUser(u) => {
                    let restorable = |u: &usize| dir.deleted_users.contains(u) && !dir.purged_users.contains(u);
                    let Some(u) = user(u).filter(restorable) else { continue };
                    step(format!("action = \"restore_user\"\nuser = {}", lit(&dir.users[u].upn())));
                    dir.deleted_users.remove(&u);
                    // Back with its memberships in groups that still exist, and its assignment.
                    let (assigned, groups) = dir.deleted_relations.remove(&u).unwrap_or_default();
                    if assigned {
                        dir.assigned_users.insert(u);
                    }
                    for g in groups.into_iter().filter(|g| !dir.deleted_groups.contains(g)) {
                        dir.groups[g].members.push(u);
                        dir.groups[g].members.sort_unstable();
                    }
                }
                Edit::DeleteGroup(g) => {
                    if let Some(g) = live_group(group(g)) {
                        step(format!("action = \"delete_group\"\ngroup = {}", lit(&dir.groups[g].name)));
                        dir.deleted_groups.insert(g);
                        dir.assigned_groups.remove(&g);
                    }
                }
                Edit::OnDemand(u) => {
                    // At most five in ten seconds (entra-provisioning.md §7); an in-scope user, with
                    // a token AWS accepts, and no storm that may still be raging: one request of
                    // its own, on demand fails for good.
                    let calm = self.fault.is_none();
                    if let Some(u) =
                        live_user(user(u)).filter(|u| calm && !expired && on_demand < 5 && dir.in_scope(*u))
                    {
                        on_demand += 1;
                        step(format!("action = \"provision_on_demand\"\nsubject = {}", lit(&dir.users[u].upn())));
                        if dir.users[u].valid() {
                            aws.users.insert(dir.users[u].aws_name(), true);
                        }
                    }
                }
                Edit::Pause if !paused => {
                    step("action = \"pause\"".into());
                    paused = true;
                }
                Edit::Start if paused => {
                    step("action = \"start\"".into());
                    paused = false;
                }
                Edit::Restart(scope) => {
                    let scope = scope.map(|s| format!("\nreset_scope = \"{s}\"")).unwrap_or_default();
                    step(format!("action = \"restart\"{scope}"));
                    paused = false;
                }
                Edit::Advance(by) => {
                    step(format!("action = \"advance\"\nby = \"{by}\""));
                    if !paused && !expired {
                        aws.cycle(dir);
                    }
                }
                Edit::ExpireToken if !expired => {
                    step("action = \"advance_aws\"\nby = \"P1Y\"".into());
                    expired = true;
                }
                _ => {}
            }
        }
        if expired {
            step("action = \"rotate_aws_token\"".into());
            step("action = \"configure\"".into());
            step("action = \"restart\"".into());
        } else if paused {
            step("action = \"start\"".into());
        }
        step(format!("action = \"advance\"\nby = \"{}\"", self.settle()));
        aws.cycle(dir);
    }

    /// The case as a scenario file, with the law's expectations.
    fn scenario(&self, law: Law) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Written by the property test `{}` ({}).", law.name, law.statement);
        let _ = writeln!(out, "name = {}", lit(&format!("{} {}", law.name, self.id())));
        let _ = writeln!(out, "description = {}", lit(law.statement));
        let _ = writeln!(out, "seed = {}", self.seed % 1_000_000);
        let mut assigned: Vec<String> = self.assigned_users.iter().map(|u| lit(&self.users[*u].upn())).collect();
        assigned.extend(self.assigned_groups.iter().map(|g| lit(&self.groups[*g].name)));
        let _ = writeln!(out, "assignments = [{}]\n", assigned.join(", "));
        let mut switches = Vec::new();
        if matches!(self.fault, Some(Fault { storm: Storm::Timeout, .. })) {
            // Long enough that no answered request times out on a loaded machine; AWS holds the
            // faulted ones ten times as long.
            switches.push("scimTimeoutSeconds = 0.5".to_owned());
        }
        if self.concurrency > 1 {
            switches.push(format!("exportConcurrency = {}", self.concurrency));
        }
        if !switches.is_empty() {
            let _ = writeln!(out, "[entra.switches]\n{}\n", switches.join("\n"));
        }
        for user in &self.users {
            user_table(&mut out, "[[directory.users]]", user);
        }
        for group in &self.groups {
            let mut members: Vec<String> = group.members.iter().map(|m| lit(&self.users[*m].upn())).collect();
            members.extend(group.nested.map(|g| lit(&self.groups[g].name)));
            let _ = writeln!(
                out,
                "[[directory.groups]]\nname = {}\nmembers = [{}]\n",
                lit(&group.name),
                members.join(", ")
            );
        }
        let by_hand = self.by_hand_names();
        for name in by_hand.iter().filter(|n| n.contains('@')) {
            let _ = writeln!(out, "[[aws.users]]\nuser_name = {}\n", lit(name));
        }
        for name in by_hand.iter().filter(|n| !n.contains('@')) {
            let _ = writeln!(out, "[[aws.groups]]\nname = {}\n", lit(name));
        }
        if let Some(fault) = self.fault {
            let action = match fault.storm {
                Storm::Status(status) => format!("{{ kind = \"status\", status = {status} }}"),
                Storm::RetryAfter(seconds) => format!("{{ kind = \"status\", status = 429, retryAfter = {seconds} }}"),
                Storm::Drop => "{ kind = \"drop\" }".to_owned(),
                Storm::Timeout => "{ kind = \"timeout\", ms = 5000 }".to_owned(),
            };
            let (method, path) = match fault.target {
                Target::UserCreates => ("method = \"POST\"\n", "/*/scim/v2/Users"),
                Target::Groups => ("", "/*/scim/v2/Groups/**"),
                Target::Everything => ("", "/**"),
            };
            let _ = writeln!(
                out,
                "[[faults]]\n{method}path = \"{path}\"\nnth = {{ from = 1, to = {} }}\naction = {action}\n",
                fault.count
            );
        }
        let _ = writeln!(
            out,
            "[[steps]]\naction = \"configure\"\n\n[[steps]]\naction = \"start\"\n\n[[steps]]\naction = \"advance\"\nby = \"PT1M\"\n"
        );
        if law.name == "isolation" {
            // One cycle, no faults: every object AWS accepts is there despite the ones it refuses.
            let aws = self.first_cycle();
            expect(&mut out, &aws, &by_hand, law);
            return out;
        }
        for user in &self.late_users {
            user_table(&mut out, "[[steps]]\naction = \"create_user\"", user);
            let _ = writeln!(out, "[[steps]]\naction = \"assign\"\nprincipal = {}\n", lit(&user.upn()));
        }
        let settle = self.settle();
        let _ = writeln!(out, "[[steps]]\naction = \"advance\"\nby = \"{settle}\"\n");
        let mut dir = self.directory();
        let mut aws = Aws::default();
        aws.cycle(&dir);
        expect(&mut out, &aws, &by_hand, law);
        if !self.edits.is_empty() {
            let mut steps = String::new();
            self.edit(&mut dir, &mut aws, &mut steps);
            out.push_str(&steps);
            expect(&mut out, &aws, &by_hand, law);
        }
        if law.name == "idempotence" {
            let _ = writeln!(
                out,
                "[[steps]]\naction = \"advance\"\nby = \"PT40M\"\n\n[[steps]]\naction = \"expect\"\nno_writes = true\n"
            );
        }
        out
    }

    /// The seed, and a hash of the whole case: shrinking drives seeds towards 0, and the hash keeps
    /// one law's regression files apart.
    fn id(&self) -> String {
        let hash = format!("{self:?}")
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        format!("{:016x}_{:08x}", self.seed, hash >> 32)
    }

    /// How long to let the job settle after a phase. Faults stop after the first few requests they
    /// match (which may come in either phase); three more cycles are enough to converge. A dropped
    /// or timed-out request is not retried within the cycle (only 429 and 5xx are,
    /// entra-provisioning.md §5.1), so each costs a cycle: such storms get a day. A storm that fails
    /// the probe quarantines the job, retried 6 h, 12 h and 24 h after the first failure, then daily
    /// (§5.2): a week.
    ///
    /// A case's Entra clock moves at most about 20 days (two settles of a week, six advances of a
    /// day), so no job stays 28 days in quarantine (then disabled, §5.2) and no user 30 days in
    /// deleted items (then purged, §4.3 step 9): the model follows neither, as they cannot occur.
    fn settle(&self) -> &'static str {
        match self.fault {
            Some(Fault { target: Target::Everything, .. }) => "P7D",
            Some(Fault { storm: Storm::Drop | Storm::Timeout, .. }) => "P1D",
            _ => "PT2H",
        }
    }

    /// Users and groups made by hand in AWS, which the job never manages.
    fn by_hand_names(&self) -> Vec<String> {
        let users = (0..self.by_hand.0).map(|i| format!("byhand{i}@elsewhere.example"));
        users.chain((0..self.by_hand.1).map(|i| format!("Break glass {i}"))).collect()
    }

    /// AWS at the end: after the first phase, and after the edits if there are any.
    fn end_state(&self) -> Aws {
        let mut dir = self.directory();
        let mut aws = Aws::default();
        aws.cycle(&dir);
        if !self.edits.is_empty() {
            self.edit(&mut dir, &mut aws, &mut String::new());
        }
        aws
    }
}

/// Writes an `expect` step with what the law checks of AWS's state.
fn expect(out: &mut String, aws: &Aws, by_hand: &[String], law: Law) {
    let mut lines = Vec::new();
    if law.checks_state {
        let mut users: Vec<String> = aws.users.keys().cloned().collect();
        users.extend(by_hand.iter().filter(|n| n.contains('@')).cloned());
        let mut groups: Vec<String> =
            aws.groups.values().map(|(name, members)| format!("{} = [{}]", lit(name), list(members))).collect();
        groups.extend(by_hand.iter().filter(|n| !n.contains('@')).map(|name| format!("{} = []", lit(name))));
        let logs: Vec<String> =
            aws.refused.iter().map(|r| format!("{{ identity = {}, status = \"failure\" }}", lit(r))).collect();
        lines.push(format!("aws_users = [{}]", list(&users)));
        lines.push(format!("aws_inactive = [{}]", list(aws.users_inactive())));
        lines.push(format!("aws_groups = {{ {} }}", groups.join(", ")));
        lines.push(format!("log = [{}]", logs.join(", ")));
    }
    if law.name == "no_collateral_damage" {
        lines.push(format!("aws_untouched = [{}]", list(by_hand)));
    }
    if law.name == "order_safety" {
        lines.push("order_safe = true".into());
    }
    let _ = writeln!(out, "[[steps]]\naction = \"expect\"\n{}\n", lines.join("\n"));
}

fn user_table(out: &mut String, header: &str, user: &User) {
    let _ = writeln!(out, "{header}\nupn = {}\ngiven_name = {}", lit(&user.upn()), lit(&user.given));
    if let Some(surname) = &user.surname {
        let _ = writeln!(out, "surname = {}", lit(surname));
    }
    let _ = writeln!(out, "enabled = {}\n", user.enabled);
}

/// The runner's configuration: `default_cases` and a fixed seed unless the environment sets them;
/// failing seeds are kept in `proptest-regressions/{law}.txt` and tried first.
fn config(law: &str, default_cases: u32) -> Config {
    let from_env = Config::default();
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() { from_env.cases } else { default_cases };
    let rng_seed =
        if std::env::var_os("PROPTEST_RNG_SEED").is_some() { from_env.rng_seed } else { RngSeed::Fixed(2026) };
    Config {
        cases,
        rng_seed,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(Box::leak(
            format!("{}/proptest-regressions/{law}.txt", env!("CARGO_MANIFEST_DIR")).into_boxed_str(),
        )))),
        // Shrinking runs whole scenarios; the default (four per case) stops it short of a minimal case.
        max_shrink_iters: if std::env::var_os("PROPTEST_MAX_SHRINK_ITERS").is_some() {
            from_env.max_shrink_iters
        } else {
            1024
        },
        ..from_env
    }
}

fn regressions() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/regressions")
}

/// A law: its name (the regression files' prefix), its statement, and whether its expectations
/// include AWS's whole state.
#[derive(Debug, Clone, Copy)]
struct Law {
    name: &'static str,
    statement: &'static str,
    checks_state: bool,
}

/// Runs a law: each case as a scenario; on failure the shrunk case is written as a regression file.
/// Cases the law does not speak of pass untried; how many were tried is printed.
fn check(law: Law, strategy: impl Strategy<Value = Case>, applies: fn(&Case) -> bool) {
    let mut runner = TestRunner::new(config(law.name, 32));
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    let tried = std::cell::Cell::new(0u32);
    let outcome = runner.run(&strategy, |case| {
        if !applies(&case) {
            return Ok(());
        }
        tried.set(tried.get() + 1);
        let text = case.scenario(law);
        let scenario = scenarios::scenario::Scenario::parse("generated.toml", &text)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let result = runtime.block_on(harness::runner::run(&scenario));
        if result.passed() { Ok(()) } else { Err(TestCaseError::fail(result.failures.join("\n"))) }
    });
    eprintln!("law {}: {} cases tried", law.name, tried.get());
    if let Err(TestError::Fail(reason, case)) = outcome {
        let path = write_regression(law, &case);
        panic!("law {} broken; the shrunk case is written to {}:\n{reason}", law.name, path.display());
    }
}

/// Writes a failing case as a scenario in `scenarios/regressions/`; returns its path.
fn write_regression(law: Law, case: &Case) -> PathBuf {
    let path = regressions().join(format!("{}_{}.toml", law.name, case.id()));
    let _ = std::fs::create_dir_all(regressions());
    let _ = std::fs::write(&path, case.scenario(law));
    path
}

/// Convergence: once faults stop, after a bounded number of cycles the AWS state equals the
/// projection of the in-scope directory through the mappings, minus exactly the objects AWS's rules
/// refuse, and each refused object has a failure entry in the provisioning logs naming why.
#[test]
fn convergence() {
    check(
        Law {
            name: "convergence",
            statement: "once faults stop, AWS holds exactly the in-scope directory minus what AWS refuses, each \
                        refusal logged; after any administrator's edits it converges again",
            checks_state: true,
        },
        case_strategy(Shape { edits: true, faults: true, ..Shape::default() }),
        |_| true,
    );
}

/// Isolation: one object's failure never prevents another object's success.
#[test]
fn isolation() {
    check(
        Law {
            name: "isolation",
            statement: "in the first cycle, every object AWS accepts is created although others are refused",
            checks_state: true,
        },
        case_strategy(Shape::default()),
        |case| {
            let aws = case.first_cycle();
            let accepted = !aws.users.is_empty() || !aws.groups.is_empty();
            !aws.refused.is_empty() && accepted
        },
    );
}

/// No collateral damage: objects in AWS that the job does not manage are never changed.
#[test]
fn no_collateral_damage() {
    check(
        Law {
            name: "no_collateral_damage",
            statement: "users and groups made by hand in AWS are never written to, whatever the job does",
            checks_state: false,
        },
        case_strategy(Shape { edits: true, faults: true, ..Shape::default() }).prop_map(|mut case| {
            case.by_hand = (case.by_hand.0.max(1), case.by_hand.1.max(1));
            case
        }),
        |_| true,
    );
}

/// Idempotence: a cycle after convergence sends no write to AWS.
#[test]
fn idempotence() {
    check(
        Law { name: "idempotence", statement: "a cycle after convergence sends no write", checks_state: true },
        case_strategy(Shape { edits: true, faults: true, ..Shape::default() }),
        // Refused objects are retried every cycle, so the law speaks of directories AWS fully accepts.
        |case| case.end_state().refused.is_empty(),
    );
}

/// Nothing lost under faults: every change made in the directory during a fault storm reaches AWS
/// once the storm ends.
#[test]
fn nothing_lost_under_faults() {
    check(
        Law {
            name: "nothing_lost",
            statement: "users created and assigned during a fault storm reach AWS once it ends",
            checks_state: true,
        },
        case_strategy(Shape { late: true, faults: true, ..Shape::default() }).prop_map(|mut case| {
            let fault =
                case.fault.unwrap_or(Fault { storm: Storm::Status(503), target: Target::UserCreates, count: 6 });
            case.fault = Some(Fault { count: 6, ..fault });
            case
        }),
        |_| true,
    );
}

/// Order safety: a group exists before members are added to it; no membership points at a missing
/// user.
#[test]
fn order_safety() {
    check(
        Law {
            name: "order_safety",
            statement: "AWS never receives a write to a group that does not exist, nor a member that is not a user",
            checks_state: false,
        },
        case_strategy(Shape { late: true, edits: true, faults: true }),
        |case| !case.groups.is_empty(),
    );
}

/// Determinism: the same seed gives byte-identical provisioning logs and journals.
#[test]
fn determinism() {
    let law = Law {
        name: "determinism",
        statement: "the same seed gives byte-identical provisioning logs and journals",
        checks_state: true,
    };
    let mut runner = TestRunner::new(config(law.name, 8));
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    // Timeouts are real time on the engine's side: whether the timeout or AWS's hang-up comes
    // first is the scheduler's call, and the log's wording follows it.
    let strategy = case_strategy(Shape { edits: true, faults: true, ..Shape::default() })
        .prop_filter("no timeouts", |case| !matches!(case.fault, Some(Fault { storm: Storm::Timeout, .. })));
    let outcome = runner.run(&strategy, |case| {
        let text = case.scenario(law);
        let scenario = scenarios::scenario::Scenario::parse("generated.toml", &text)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let first = runtime.block_on(harness::runner::run(&scenario));
        let second = runtime.block_on(harness::runner::run(&scenario));
        if first.record != second.record {
            // Both records go beside the build for a diff; the message shows the first difference.
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("determinism_{}", case.id()));
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(dir.join("first.jsonl"), &first.record);
            let _ = std::fs::write(dir.join("second.jsonl"), &second.record);
            let line = first.record.lines().zip(second.record.lines()).position(|(a, b)| a != b).unwrap_or(0);
            return Err(TestCaseError::fail(format!(
                "two runs differ from line {} on (both records in {}):\n  {}\n  {}",
                line + 1,
                dir.display(),
                first.record.lines().nth(line).unwrap_or_default(),
                second.record.lines().nth(line).unwrap_or_default()
            )));
        }
        prop_assert_eq!(first.failures, second.failures);
        Ok(())
    });
    if let Err(TestError::Fail(reason, case)) = outcome {
        let path = write_regression(law, &case);
        panic!("law determinism broken; the case is written to {}: {reason}", path.display());
    }
}

/// Determinism at every `exportConcurrency`: the same seed gives byte-identical provisioning logs
/// and the same AWS journal in its canonical order (sorted within a cycle: concurrent requests
/// arrive in any order) one export at a time and N at a time. Cases have no faults: a fault that
/// counts requests makes the runner send one at a time (the `scenarios` crate doc).
#[test]
fn determinism_concurrent() {
    let law = Law {
        name: "determinism_concurrent",
        statement: "the same seed gives byte-identical provisioning logs, and the same journal sorted within a cycle, \
                    one export at a time and many at once",
        checks_state: true,
    };
    let mut runner = TestRunner::new(config(law.name, 16));
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    let strategy = (case_strategy(Shape { late: true, edits: true, faults: false }), 2usize..=16).prop_map(
        |(mut case, concurrency)| {
            case.concurrency = concurrency;
            case
        },
    );
    let outcome = runner.run(&strategy, |case| {
        let text = case.scenario(law);
        let at_n = scenarios::scenario::Scenario::parse("generated.toml", &text)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut at_one = at_n.clone();
        at_one.entra.switches.insert("exportConcurrency".into(), toml::Value::Integer(1));
        let one = runtime.block_on(harness::runner::run(&at_one));
        let many = runtime.block_on(harness::runner::run(&at_n));
        let (one_record, many_record) = (one.canonical_record(), many.canonical_record());
        if one_record != many_record {
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("determinism_concurrent_{}", case.id()));
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(dir.join("one.jsonl"), &one_record);
            let _ = std::fs::write(dir.join(format!("{}.jsonl", case.concurrency)), &many_record);
            let line = one_record.lines().zip(many_record.lines()).position(|(a, b)| a != b).unwrap_or(0);
            return Err(TestCaseError::fail(format!(
                "one at a time and {} at a time differ from line {} on (both records in {}):\n  {}\n  {}",
                case.concurrency,
                line + 1,
                dir.display(),
                one_record.lines().nth(line).unwrap_or_default(),
                many_record.lines().nth(line).unwrap_or_default()
            )));
        }
        prop_assert_eq!(one.failures, many.failures);
        Ok(())
    });
    if let Err(TestError::Fail(reason, case)) = outcome {
        let path = write_regression(law, &case);
        panic!("law determinism_concurrent broken; the case is written to {}: {reason}", path.display());
    }
}
