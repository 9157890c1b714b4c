//! The strategies: random directories (names in several scripts from `fake`), assignments, users
//! and groups made by hand in AWS, fault storms and an administrator's edits.

use fake::Fake;
use fake::rand::SeedableRng;
use proptest::prelude::*;

/// A generated user.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) local: String,
    pub(crate) given: String,
    pub(crate) surname: Option<String>,
    pub(crate) enabled: bool,
    /// A B2B guest from fabrikam.com, with an `#EXT#` UPN.
    pub(crate) guest: bool,
}

impl User {
    pub(crate) fn upn(&self) -> String {
        if self.guest {
            format!("{}_fabrikam.com#EXT#@contoso.onmicrosoft.com", self.local)
        } else {
            format!("{}@contoso.onmicrosoft.com", self.local)
        }
    }

    /// The userName in AWS: a guest's `#EXT#` UPN is turned back into its home address
    /// (entra-provisioning.md §2.5).
    pub(crate) fn aws_name(&self) -> String {
        if self.guest { format!("{}@fabrikam.com", self.local) } else { self.upn() }
    }

    /// AWS's user rules the generator can break: a surname is required, userName ≤ 128
    /// (aws-scim.md §2.1, §2.3).
    pub(crate) fn valid(&self) -> bool {
        self.surname.is_some() && self.aws_name().chars().count() <= 128
    }

    /// What an engine's case makes of a user: enabled, with a surname, a member of the tenant. What
    /// Entra does with the others (out of scope, refused, `#EXT#` rewritten) is not every tool's.
    fn plain(&mut self) {
        self.enabled = true;
        self.guest = false;
        if self.surname.is_none() {
            self.surname = Some("Doe".to_owned());
        }
    }
}

/// A generated group: a name from a pool with reserved names and case-only duplicates.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub(crate) name: String,
    pub(crate) members: Vec<usize>,
    /// A group listed earlier, nested in this one: never flattened (entra-provisioning.md §2.2).
    pub(crate) nested: Option<usize>,
}

/// One generated situation.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) seed: u64,
    pub(crate) users: Vec<User>,
    pub(crate) groups: Vec<Group>,
    pub(crate) assigned_users: Vec<usize>,
    pub(crate) assigned_groups: Vec<usize>,
    pub(crate) fault: Option<Fault>,
    /// How many users and groups were made by hand in AWS, which the job never manages.
    pub(crate) by_hand: (usize, usize),
    /// Users created and assigned after the first cycle, during the storm.
    pub(crate) late_users: Vec<User>,
    /// What the administrator does once the first state has converged.
    pub(crate) edits: Vec<Edit>,
    /// mock-graph's `exportConcurrency`: 1 but in `determinism_concurrent`.
    pub(crate) concurrency: usize,
}

/// How the requests of a fault storm fail.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Storm {
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
pub(crate) enum Target {
    UserCreates,
    /// Every request about groups: creations, member changes, renames, deletions.
    Groups,
    /// Every request, the connection probe included.
    Everything,
}

/// The first `count` requests of `target` fail with `storm`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fault {
    pub(crate) storm: Storm,
    pub(crate) target: Target,
    pub(crate) count: u64,
}

/// What the administrator does once the first state has converged, by index into the case's users
/// and groups (taken modulo their number).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Edit {
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

pub(crate) const GROUP_NAMES: &[&str] =
    &["SRE", "sre", "Ops", "Administrator", "AWSAdministrators", "Platform <core>", "Ünïcødé", "運用"];

/// AWS's reserved group names (aws-scim.md §6.2).
pub(crate) const RESERVED: &[&str] = &["Administrator", "AWSAdministrators"];

pub(crate) fn user_strategy(index: usize) -> impl Strategy<Value = User> {
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

pub(crate) fn edit_strategy() -> impl Strategy<Value = Edit> {
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

pub(crate) fn fault_strategy() -> impl Strategy<Value = Fault> {
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

/// Storms for an external engine: 429 and 5xx (the example tool waits out `Retry-After` in real
/// time, so it is one second) and dropped connections, on at most three requests. No timeouts: a
/// tool's own request timeout is its business, and waiting it out costs real time.
pub(crate) fn engine_fault_strategy() -> impl Strategy<Value = Fault> {
    (
        prop_oneof![
            3 => prop::sample::select(vec![429u16, 500, 503]).prop_map(Storm::Status),
            1 => Just(Storm::RetryAfter(1)),
            1 => Just(Storm::Drop),
        ],
        prop_oneof![3 => Just(Target::UserCreates), 1 => Just(Target::Groups), 1 => Just(Target::Everything)],
        1u64..4,
    )
        .prop_map(|(storm, target, count)| Fault { storm, target, count })
}

/// Edits for an external engine: those whose outcome in AWS every sync tool agrees on and that
/// need no step of Entra's service. Removals, renames, disabling and deletions are left out: a
/// tool may deprovision by disabling or by deleting, rename by id or by name, or (like the
/// example) not yet at all. Advances of a day would run 36 cycles of the tool.
pub(crate) fn engine_edit_strategy() -> impl Strategy<Value = Edit> {
    (0u8..3, 0usize..8, 0usize..8).prop_map(|(kind, a, b)| match kind {
        0 => Edit::AddMember(a, b),
        1 => Edit::AssignUser(a),
        _ => Edit::Advance(["PT40M", "PT2H"][b % 2]),
    })
}

/// What a law's cases hold besides a directory.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Shape {
    /// Users created and assigned during the storm.
    pub(crate) late: bool,
    /// Edits after convergence.
    pub(crate) edits: bool,
    /// A fault storm, sometimes.
    pub(crate) faults: bool,
    /// For an external engine: only what any sync tool must agree on (see [`super`]'s doc). Every
    /// user enabled, with a surname and no `#EXT#` UPN; no nesting, no case-only duplicate names;
    /// edits that only add; storms of at most three requests, without timeouts.
    pub(crate) engine: bool,
}

pub(crate) fn case_strategy(shape: Shape) -> impl Strategy<Value = Case> {
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
                match (shape.faults, shape.engine) {
                    (false, _) => Just(None).boxed(),
                    (true, false) => prop::option::of(fault_strategy()).boxed(),
                    (true, true) => prop::option::of(engine_fault_strategy()).boxed(),
                },
                (0usize..3, 0usize..2),
                late_users,
                proptest::collection::vec(
                    if shape.engine { engine_edit_strategy().boxed() } else { edit_strategy().boxed() },
                    if shape.edits { 0..7 } else { 0..1 },
                ),
            )
        })
        .prop_map(
            move |(seed, mut users, groups, assigned_users, assigned_groups, fault, by_hand, mut late_users, edits)| {
                if shape.engine {
                    users.iter_mut().chain(late_users.iter_mut()).for_each(User::plain);
                }
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
                        let case_only = groups_faulted || shape.engine;
                        if seen.iter().any(|s: &String| *s == name || (case_only && s.eq_ignore_ascii_case(&name))) {
                            return None;
                        }
                        let nested = nest.filter(|_| !seen.is_empty() && !shape.engine).map(|n| n % seen.len());
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
            },
        )
}
