//! The law "mock-scim against a reference model": random sequences of SCIM requests, concurrent
//! duplicate creates included, give the same statuses and leave the same state in mock-scim as in a
//! small model of AWS's rules written from `shared/reference/aws-scim.md`.
//!
//! The model ([`Model`]) knows nothing of mock-scim's types: users with userName, primary email and
//! `active`; groups with displayName and member set; each rule names its section of aws-scim.md.
//! [`AwsRules`] draws transitions from small pools of names, so that case-only duplicates, reserved
//! names and names one character too long come up often. [`MockUnderTest`] sends each transition
//! over HTTP to an in-process mock-scim (virtual clock, fixed seed), compares the status with the
//! model's, and after every transition compares `/_admin/tenants/{id}/state` with the model.
//!
//! Cases are capped for CI (`PROPTEST_CASES` raises them for deep runs) and drawn from a fixed seed
//! (`PROPTEST_RNG_SEED=N` explores others). A failing seed is kept in `proptest-regressions/`, and
//! the shrunk sequence is written as a scenario, `scenarios/regressions/scim_model_{seed}.toml`,
//! with the model's statuses and end state as its expectations.

use std::collections::BTreeSet;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use mock_scim::clock::Clock;
use mock_scim::server::DEFAULT_START;
use mock_scim::{Config as MockConfig, MockScim};
use proptest::prelude::*;
use proptest::strategy::Union;
use proptest::test_runner::{Config, FileFailurePersistence, RngSeed, TestError, TestRunner};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};
use reqwest::Method;
use serde_json::{Value, json};

/// Cases per run unless `PROPTEST_CASES` says otherwise.
const CASES: u32 = 256;
/// Transitions per case.
const TRANSITIONS: std::ops::RangeInclusive<usize> = 1..=40;
/// The mock's seed for ids, also written into regression scenarios so that they get the same ids.
const MOCK_SEED: u64 = 2026;
const ADMIN_TOKEN: &str = "model-admin";
/// Ids no object ever has: what a request names once its object is deleted, or never was.
const NO_USER: &str = "00000000-0000-4000-8000-00000000dead";
const NO_GROUP: &str = "00000000-0000-4000-8000-00000000beef";

const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// The 409 detail in AWS's captured body (aws-scim.md §2.7).
const DUPLICATE: &str = "Refused to create a new, duplicate resource.";

// ---------------------------------------------------------------------------------------------
// Names

/// A name from one of the pools. `Copy`, so transitions are cheap to clone; long names print
/// shortened, so that a shrunk case reads well.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Name(&'static str);

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let length = self.0.chars().count();
        if length > 24 {
            let head: String = self.0.chars().take(6).collect();
            write!(f, "\"{head}…\" ({length} chars)")
        } else {
            write!(f, "{:?}", self.0)
        }
    }
}

/// userNames with weights, most common first (shrinking moves towards the first): case-only
/// duplicates, reserved names and their lowercase twin, whitespace, 128 and 129 characters, empty.
static USER_NAMES: LazyLock<Vec<(u32, String)>> = LazyLock::new(|| {
    let mut pool: Vec<(u32, String)> = [
        (8, "annie@contoso.com"),
        (6, "bob@contoso.com"),
        (3, "Annie@Contoso.com"),
        (2, "BOB@contoso.com"),
        (2, "zoë@contoso.com"),
        (1, "ZOË@contoso.com"),
        (1, "administrator"),
        (2, "Administrator"),
        (1, "AWSAdministrators"),
        (1, "annie easley"),
        (1, ""),
    ]
    .into_iter()
    .map(|(weight, name)| (weight, name.to_owned()))
    .collect();
    pool.push((1, format!("{}@contoso.com", "l".repeat(116))));
    pool.push((1, format!("{}@contoso.com", "l".repeat(117))));
    pool
});

/// Group displayNames with weights: case-only duplicates, characters the current rules accept,
/// reserved names and a lowercase twin, empty, 1,024 and 1,025 characters.
static GROUP_NAMES: LazyLock<Vec<(u32, String)>> = LazyLock::new(|| {
    let mut pool: Vec<(u32, String)> = [
        (8, "SRE"),
        (6, "Ops"),
        (3, "sre"),
        (2, "Platform <core>"),
        (2, "運用"),
        (1, "administrator"),
        (2, "Administrator"),
        (1, "AWSAdministrators"),
        (1, ""),
    ]
    .into_iter()
    .map(|(weight, name)| (weight, name.to_owned()))
    .collect();
    pool.push((1, "g".repeat(1024)));
    pool.push((1, "g".repeat(1025)));
    pool
});

/// A weighted draw from a pool.
fn name_from(pool: &'static LazyLock<Vec<(u32, String)>>) -> BoxedStrategy<Name> {
    let total: u32 = pool.iter().map(|(weight, _)| weight).sum();
    (0..total)
        .prop_map(move |mut roll| {
            for (weight, name) in pool.iter() {
                if roll < *weight {
                    return Name(name.as_str());
                }
                roll -= weight;
            }
            Name("")
        })
        .boxed()
}

/// A filter value: never empty (an empty value is a different rule, §4.1).
fn filter_value(pool: &'static LazyLock<Vec<(u32, String)>>) -> BoxedStrategy<Name> {
    name_from(pool).prop_filter("a filter needs a value", |name| !name.0.is_empty()).boxed()
}

// ---------------------------------------------------------------------------------------------
// Transitions

/// A user the model knows by creation order (deleted ones stay, for 404s), or one that never was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UserRef {
    Created(usize),
    Unknown,
}

/// A group by creation order, or one that never was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GroupRef {
    Created(usize),
    Unknown,
}

/// A member value in a group request: a user's id, or a group's (no nested groups, §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Member {
    User(UserRef),
    Group(GroupRef),
}

/// What a create-user body gets wrong, if anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Defect {
    None,
    NoGivenName,
    EmptyFamilyName,
    NoDisplayName,
    LongDisplayName,
    TwoEmails,
    EmailNotPrimary,
}

/// The `emails` of a create-user body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Emails {
    /// One work email, primary, equal to the userName, as Entra maps it.
    UserName,
    /// No `emails` at all: not required (§2.1).
    Absent,
    /// `"emails": []`.
    Empty,
}

/// A create-user body.
#[derive(Clone, Copy, Debug)]
struct UserSpec {
    name: Name,
    emails: Emails,
    active: Option<bool>,
    defect: Defect,
}

/// How a PATCH writes `active`: a JSON boolean, or Entra's `"True"`/`"False"` (§2.5).
#[derive(Clone, Copy, Debug)]
enum Active {
    Json(bool),
    Entra(bool),
}

impl Active {
    fn value(self) -> bool {
        match self {
            Active::Json(value) | Active::Entra(value) => value,
        }
    }
}

/// A user PATCH that patchuser.html rules out.
#[derive(Clone, Copy, Debug)]
enum RefusedPatch {
    RemoveUserName,
    RemoveActive,
    ActiveTwice,
    UserNameTwice,
}

/// A group PATCH that patchgroup.html rules out: replacing memberships, or removing them all.
#[derive(Clone, Debug)]
enum RefusedGroupPatch {
    ReplaceMembers(Vec<Member>),
    RemoveWithoutValue,
    RemoveEmptyList,
}

/// One SCIM request (or, for copies, several at once).
#[derive(Clone, Debug)]
enum Transition {
    CreateUser(UserSpec),
    /// The same create sent this many times at once.
    CreateUserCopies(UserSpec, usize),
    GetUser(UserRef),
    FindUser(Name),
    PatchActive(UserRef, Active),
    RenameUser(UserRef, Name),
    PatchUserRefused(UserRef, RefusedPatch),
    DeleteUser(UserRef),
    CreateGroup(Name, Vec<Member>),
    GetGroup(GroupRef),
    FindGroup(Name),
    AddMembers(GroupRef, Vec<Member>),
    RemoveMembers(GroupRef, Vec<Member>),
    PatchGroupRefused(GroupRef, RefusedGroupPatch),
    RenameGroup(GroupRef, Name),
    DeleteGroup(GroupRef),
}

// ---------------------------------------------------------------------------------------------
// The model

#[derive(Clone, Debug)]
struct UserSlot {
    user_name: String,
    email: Option<String>,
    active: bool,
    live: bool,
}

#[derive(Clone, Debug)]
struct GroupSlot {
    name: String,
    /// Indexes into [`Model::users`].
    members: BTreeSet<usize>,
    live: bool,
}

/// AWS's identity store as aws-scim.md describes it, with mock-scim's documented defaults where the
/// reference leaves a choice open.
#[derive(Clone, Debug, Default)]
struct Model {
    /// Every user ever created, in creation order.
    users: Vec<UserSlot>,
    /// Every group ever created, in creation order.
    groups: Vec<GroupSlot>,
    /// The statuses the last transition gets, sorted (one per copy).
    answer: Vec<u16>,
}

/// Uniqueness and the `userName`/`displayName` filters ignore case: `caseExact: false` (§2.7, §4.1;
/// mock-scim's `filterCaseInsensitive` default).
fn same(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

/// `Administrator` and `AWSAdministrators` are reserved for users and groups (§2.3, §6.2), matched
/// in exact case (§6.2 inferred; mock-scim's `reservedNamesCaseInsensitive` default is off) and
/// refused with 400 (§6.2 inferred; `reservedNameStatus` default).
fn reserved(name: &str) -> bool {
    name == "Administrator" || name == "AWSAdministrators"
}

/// `UserName`: 1 to 128 characters of letters, marks, symbols, numbers and punctuation, so no
/// whitespace (§2.3). The pools hold nothing else that the pattern would refuse.
fn user_name_valid(name: &str) -> bool {
    (1..=128).contains(&name.chars().count()) && !name.chars().any(char::is_whitespace)
}

/// `GroupDisplayName`: 1 to 1,024 characters; spaces allowed (§2.3).
fn group_name_valid(name: &str) -> bool {
    (1..=1024).contains(&name.chars().count())
}

impl Model {
    fn live_user(&self, user: UserRef) -> Option<usize> {
        match user {
            UserRef::Created(i) if self.users.get(i).is_some_and(|u| u.live) => Some(i),
            _ => None,
        }
    }

    fn live_group(&self, group: GroupRef) -> Option<usize> {
        match group {
            GroupRef::Created(i) if self.groups.get(i).is_some_and(|g| g.live) => Some(i),
            _ => None,
        }
    }

    fn live_users(&self) -> impl Iterator<Item = (usize, &UserSlot)> {
        self.users.iter().enumerate().filter(|(_, u)| u.live)
    }

    fn live_groups(&self) -> impl Iterator<Item = (usize, &GroupSlot)> {
        self.groups.iter().enumerate().filter(|(_, g)| g.live)
    }

    /// POST /Users. A request is checked before it is stored: 400 for what it gets wrong comes
    /// before 409 for what it collides with (the reference is silent on the order; mock-scim's).
    fn create_user(&mut self, spec: &UserSpec) -> u16 {
        // §2.1 givenName, familyName, userName and displayName are required, §2.3 none empty and
        // none over its length, §2.4 one email only and marked primary, §6.2 no reserved name.
        // `"emails": []` passes: §2.4 leaves it open (botocore's min 1 against a captured `[]`), and
        // mock-scim's `acceptEmptyEmails` default accepts it.
        if spec.defect != Defect::None || !user_name_valid(spec.name.0) || reserved(spec.name.0) {
            return 400;
        }
        // §2.7 userName and primary email are each unique among users, case-insensitively.
        let name = spec.name.0;
        let email = (spec.emails == Emails::UserName).then_some(name);
        if self.live_users().any(|(_, u)| {
            same(&u.user_name, name) || email.zip(u.email.as_deref()).is_some_and(|(new, old)| same(new, old))
        }) {
            return 409;
        }
        // §2.5 `active` omitted is false (inferred, weak; mock-scim's `defaultActive` default).
        let active = spec.active.unwrap_or(false);
        self.users.push(UserSlot { user_name: name.to_owned(), email: email.map(str::to_owned), active, live: true });
        201
    }

    /// N copies of one POST /Users at once: AWS stores one user at a time, so at most one copy is
    /// created and the others are duplicates of it (§2.7, §6.3: 409 for a user that exists).
    fn create_user_copies(&mut self, spec: &UserSpec, copies: usize) -> Vec<u16> {
        let first = self.create_user(spec);
        let others = if first == 201 { 409 } else { first };
        let mut statuses = vec![first];
        statuses.extend(std::iter::repeat_n(others, copies - 1));
        statuses.sort_unstable();
        statuses
    }

    /// PATCH /Users/{id} replacing userName: the same rules as create (§2.6 409 "User already
    /// exists." when renaming to a taken userName); the user's own name in other case is no clash.
    fn rename_user(&mut self, user: UserRef, name: &str) -> u16 {
        // §2.6 404 "Specified user does not exist."
        let Some(i) = self.live_user(user) else { return 404 };
        // §2.3, §6.2
        if !user_name_valid(name) || reserved(name) {
            return 400;
        }
        // §2.7
        if self.live_users().any(|(j, u)| j != i && same(&u.user_name, name)) {
            return 409;
        }
        self.users[i].user_name = name.to_owned();
        200
    }

    /// DELETE /Users/{id}: 204, or 404 (§2.6). Memberships name the user's id, which is gone: a
    /// recreated user has a new id and is in no group (§3.1 members are user ids, §6.1).
    fn delete_user(&mut self, user: UserRef) -> u16 {
        let Some(i) = self.live_user(user) else { return 404 };
        self.users[i].live = false;
        for group in &mut self.groups {
            group.members.remove(&i);
        }
        204
    }

    /// Member values as user indexes: the first value that is not a user decides, a group id with
    /// 400 (§3.1: no nested groups), an unknown id with 404 (inferred; mock-scim README fidelity
    /// table, "adding an unknown user to a group").
    fn member_users(&self, members: &[Member]) -> Result<Vec<usize>, u16> {
        members
            .iter()
            .map(|member| match *member {
                Member::User(user) => self.live_user(user).ok_or(404),
                Member::Group(group) => self.live_group(group).map_or(Err(404), |_| Err(400)),
            })
            .collect()
    }

    /// POST /Groups: 400, then 409, then the members (order as for users).
    fn create_group(&mut self, name: &str, members: &[Member]) -> u16 {
        // §3.1 displayName required, §2.3 its length, §6.2 reserved names.
        if !group_name_valid(name) || reserved(name) {
            return 400;
        }
        // §3.5 displayName unique, case-insensitively.
        if self.live_groups().any(|(_, g)| same(&g.name, name)) {
            return 409;
        }
        let members = match self.member_users(members) {
            Ok(members) => members,
            Err(status) => return status,
        };
        self.groups.push(GroupSlot { name: name.to_owned(), members: members.into_iter().collect(), live: true });
        201
    }

    /// PATCH /Groups/{id} adding members: 204 (§1.5, §3.3), 404 for an unknown group (§3.3); adding a
    /// present member changes nothing (inferred; README fidelity table).
    fn add_members(&mut self, group: GroupRef, members: &[Member]) -> u16 {
        let Some(g) = self.live_group(group) else { return 404 };
        match self.member_users(members) {
            Ok(users) => {
                self.groups[g].members.extend(users);
                204
            }
            Err(status) => status,
        }
    }

    /// PATCH /Groups/{id} removing members: 204; an absent or unknown member is no error and changes
    /// nothing (inferred; README fidelity table). Removing the last members by value is not the
    /// "remove all" §3.3 refuses: that is the operation without values, as the sync tools remove by
    /// value (§3.3, §7).
    fn remove_members(&mut self, group: GroupRef, members: &[Member]) -> u16 {
        let Some(g) = self.live_group(group) else { return 404 };
        for member in members {
            if let Member::User(UserRef::Created(i)) = member {
                self.groups[g].members.remove(i);
            }
        }
        204
    }

    /// PATCH /Groups/{id} replacing displayName: the create rules; the reference lists no 409 for
    /// PatchGroup and infers 409 or 400 (§3.3); 409 as for create, as mock-scim's README says of
    /// group displayName uniqueness (§3.5).
    fn rename_group(&mut self, group: GroupRef, name: &str) -> u16 {
        let Some(g) = self.live_group(group) else { return 404 };
        if !group_name_valid(name) || reserved(name) {
            return 400;
        }
        if self.live_groups().any(|(h, other)| h != g && same(&other.name, name)) {
            return 409;
        }
        self.groups[g].name = name.to_owned();
        204
    }

    /// The model's answer to one transition; changes the model as AWS would change.
    fn step(&mut self, transition: &Transition) -> Vec<u16> {
        let one = match transition {
            Transition::CreateUser(spec) => self.create_user(spec),
            Transition::CreateUserCopies(spec, copies) => return self.create_user_copies(spec, *copies),
            // §2.6 GET 200, or 404 "Specified user or endpoint does not exist."
            Transition::GetUser(user) => self.live_user(*user).map_or(404, |_| 200),
            // §4.1 a filter with no match is 200 with an empty list.
            Transition::FindUser(_) | Transition::FindGroup(_) => 200,
            // §2.5 `active` is patchable; §2.6 PATCH answers 200 with the user, 404 when absent.
            Transition::PatchActive(user, active) => match self.live_user(*user) {
                Some(i) => {
                    self.users[i].active = active.value();
                    200
                }
                None => 404,
            },
            Transition::RenameUser(user, name) => self.rename_user(*user, name.0),
            // §2.5 no `remove` of userName or active, no two operations on one of them: 400.
            Transition::PatchUserRefused(user, _) => self.live_user(*user).map_or(404, |_| 400),
            Transition::DeleteUser(user) => self.delete_user(*user),
            Transition::CreateGroup(name, members) => self.create_group(name.0, members),
            // §3.2 GET 200 (without members), §3.3 404 "Specified group does not exist."
            Transition::GetGroup(group) => self.live_group(*group).map_or(404, |_| 200),
            Transition::AddMembers(group, members) => self.add_members(*group, members),
            Transition::RemoveMembers(group, members) => self.remove_members(*group, members),
            // §3.3 "If you attempt to replace or remove all group memberships … ValidationException
            // (HTTP/400)"; 404 first for a group that does not exist.
            Transition::PatchGroupRefused(group, _) => self.live_group(*group).map_or(404, |_| 400),
            Transition::RenameGroup(group, name) => self.rename_group(*group, name.0),
            // §3.4 DELETE 204, or 404; the group's memberships go with it.
            Transition::DeleteGroup(group) => match self.live_group(*group) {
                Some(g) => {
                    self.groups[g].live = false;
                    self.groups[g].members.clear();
                    204
                }
                None => 404,
            },
        };
        vec![one]
    }

    /// The users a `userName eq` filter finds (§4.1): at most one, as userNames are unique.
    fn find_users(&self, name: &str) -> Vec<usize> {
        self.live_users().filter(|(_, u)| same(&u.user_name, name)).map(|(i, _)| i).collect()
    }

    /// The groups a `displayName eq` filter finds (§4.1).
    fn find_groups(&self, name: &str) -> Vec<usize> {
        self.live_groups().filter(|(_, g)| same(&g.name, name)).map(|(i, _)| i).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// The reference state machine

/// Draws transitions from the model's state and applies them to it.
struct AwsRules;

/// Mostly a live user, sometimes any user ever created (a deleted one gives 404), rarely one that
/// never was.
fn user_ref(state: &Model) -> BoxedStrategy<UserRef> {
    let live: Vec<usize> = state.live_users().map(|(i, _)| i).collect();
    reference(live, state.users.len(), UserRef::Created, UserRef::Unknown)
}

/// As [`user_ref`], for groups.
fn group_ref(state: &Model) -> BoxedStrategy<GroupRef> {
    let live: Vec<usize> = state.live_groups().map(|(g, _)| g).collect();
    reference(live, state.groups.len(), GroupRef::Created, GroupRef::Unknown)
}

fn reference<R: Clone + fmt::Debug + 'static>(
    live: Vec<usize>,
    created: usize,
    to_ref: fn(usize) -> R,
    unknown: R,
) -> BoxedStrategy<R> {
    let mut choices = vec![(1, Just(unknown).boxed())];
    if created > 0 {
        choices.push((1, (0..created).prop_map(to_ref).boxed()));
    }
    if !live.is_empty() {
        choices.push((14, prop::sample::select(live).prop_map(to_ref).boxed()));
    }
    Union::new_weighted(choices).boxed()
}

fn members(state: &Model, sizes: std::ops::RangeInclusive<usize>) -> BoxedStrategy<Vec<Member>> {
    let member = prop_oneof![
        20 => user_ref(state).prop_map(Member::User),
        1 => group_ref(state).prop_map(Member::Group),
    ];
    proptest::collection::vec(member, sizes).boxed()
}

fn user_spec() -> BoxedStrategy<UserSpec> {
    let defect = prop_oneof![
        40 => Just(Defect::None),
        1 => Just(Defect::NoGivenName),
        1 => Just(Defect::EmptyFamilyName),
        1 => Just(Defect::NoDisplayName),
        1 => Just(Defect::LongDisplayName),
        1 => Just(Defect::TwoEmails),
        1 => Just(Defect::EmailNotPrimary),
    ];
    let active = prop_oneof![3 => Just(Some(true)), 1 => Just(None), 1 => Just(Some(false))];
    let emails = prop_oneof![12 => Just(Emails::UserName), 2 => Just(Emails::Absent), 1 => Just(Emails::Empty)];
    (name_from(&USER_NAMES), emails, active, defect)
        .prop_map(|(name, emails, active, defect)| UserSpec { name, emails, active, defect })
        .boxed()
}

impl ReferenceStateMachine for AwsRules {
    type State = Model;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::default()).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Transition> {
        let (user, group) = (user_ref(state), group_ref(state));
        let active = prop_oneof![any::<bool>().prop_map(Active::Json), any::<bool>().prop_map(Active::Entra)];
        let refused = prop_oneof![
            Just(RefusedPatch::RemoveUserName),
            Just(RefusedPatch::RemoveActive),
            Just(RefusedPatch::ActiveTwice),
            Just(RefusedPatch::UserNameTwice)
        ];
        let refused_group = prop_oneof![
            members(state, 1..=2).prop_map(RefusedGroupPatch::ReplaceMembers),
            Just(RefusedGroupPatch::RemoveWithoutValue),
            Just(RefusedGroupPatch::RemoveEmptyList)
        ];
        prop_oneof![
            8 => user_spec().prop_map(Transition::CreateUser).boxed(),
            2 => (user_spec(), 2usize..=5).prop_map(|(spec, n)| Transition::CreateUserCopies(spec, n)).boxed(),
            2 => user.clone().prop_map(Transition::GetUser).boxed(),
            2 => filter_value(&USER_NAMES).prop_map(Transition::FindUser).boxed(),
            3 => (user.clone(), active).prop_map(|(u, a)| Transition::PatchActive(u, a)).boxed(),
            3 => (user.clone(), name_from(&USER_NAMES)).prop_map(|(u, n)| Transition::RenameUser(u, n)).boxed(),
            1 => (user.clone(), refused).prop_map(|(u, r)| Transition::PatchUserRefused(u, r)).boxed(),
            2 => user.prop_map(Transition::DeleteUser).boxed(),
            5 => (name_from(&GROUP_NAMES), members(state, 0..=2))
                .prop_map(|(n, m)| Transition::CreateGroup(n, m))
                .boxed(),
            1 => group.clone().prop_map(Transition::GetGroup).boxed(),
            1 => filter_value(&GROUP_NAMES).prop_map(Transition::FindGroup).boxed(),
            4 => (group.clone(), members(state, 1..=3))
                .prop_map(|(g, m)| Transition::AddMembers(g, m))
                .boxed(),
            2 => (group.clone(), members(state, 1..=3))
                .prop_map(|(g, m)| Transition::RemoveMembers(g, m))
                .boxed(),
            1 => (group.clone(), refused_group).prop_map(|(g, r)| Transition::PatchGroupRefused(g, r)).boxed(),
            2 => (group.clone(), name_from(&GROUP_NAMES)).prop_map(|(g, n)| Transition::RenameGroup(g, n)).boxed(),
            1 => group.prop_map(Transition::DeleteGroup).boxed(),
        ]
        .boxed()
    }

    /// A shrunk sequence may have lost the creates its references count on.
    fn preconditions(state: &Model, transition: &Transition) -> bool {
        let user_ok = |user: &UserRef| match user {
            UserRef::Created(i) => *i < state.users.len(),
            UserRef::Unknown => true,
        };
        let group_ok = |group: &GroupRef| match group {
            GroupRef::Created(i) => *i < state.groups.len(),
            GroupRef::Unknown => true,
        };
        let members_ok = |members: &[Member]| {
            members.iter().all(|m| match m {
                Member::User(user) => user_ok(user),
                Member::Group(group) => group_ok(group),
            })
        };
        match transition {
            Transition::CreateUser(_)
            | Transition::CreateUserCopies(..)
            | Transition::FindUser(_)
            | Transition::FindGroup(_) => true,
            Transition::GetUser(user)
            | Transition::PatchActive(user, _)
            | Transition::RenameUser(user, _)
            | Transition::PatchUserRefused(user, _)
            | Transition::DeleteUser(user) => user_ok(user),
            Transition::CreateGroup(_, members) => members_ok(members),
            Transition::GetGroup(group) | Transition::RenameGroup(group, _) | Transition::DeleteGroup(group) => {
                group_ok(group)
            }
            Transition::AddMembers(group, members)
            | Transition::RemoveMembers(group, members)
            | Transition::PatchGroupRefused(group, RefusedGroupPatch::ReplaceMembers(members)) => {
                group_ok(group) && members_ok(members)
            }
            Transition::PatchGroupRefused(group, _) => group_ok(group),
        }
    }

    fn apply(mut state: Model, transition: &Transition) -> Model {
        state.answer = state.step(transition);
        state
    }
}

// ---------------------------------------------------------------------------------------------
// Requests

/// How a request names objects: the mock's ids in the test, placeholders in a scenario file.
trait Ids {
    fn user(&self, user: UserRef) -> String;
    fn group(&self, group: GroupRef) -> String;

    fn member(&self, member: Member) -> Value {
        match member {
            Member::User(user) => json!({"value": self.user(user)}),
            Member::Group(group) => json!({"value": self.group(group)}),
        }
    }
}

/// One SCIM request, relative to the tenant's endpoint; sent `copies` times at once.
struct Request {
    method: Method,
    path: String,
    body: Option<Value>,
    copies: usize,
}

/// Percent-encodes a query value, leaving what reads well and needs no encoding.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~@".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// A user as Entra's AWS mapping sends it, with the spec's defect.
fn user_body(spec: &UserSpec) -> Value {
    let name = spec.name.0;
    let mut body = json!({
        "schemas": [USER_URN],
        "userName": name,
        "displayName": "Annie Easley",
        "name": {"givenName": "Annie", "familyName": "Easley"},
    });
    match spec.emails {
        Emails::UserName => body["emails"] = json!([{"value": name, "type": "work", "primary": true}]),
        Emails::Absent => {}
        Emails::Empty => body["emails"] = json!([]),
    }
    if let Some(active) = spec.active {
        body["active"] = json!(active);
    }
    match spec.defect {
        Defect::None => {}
        Defect::NoGivenName => body["name"] = json!({"familyName": "Easley"}),
        Defect::EmptyFamilyName => body["name"]["familyName"] = json!(""),
        Defect::NoDisplayName => body = without(body, "displayName"),
        Defect::LongDisplayName => body["displayName"] = json!("d".repeat(1025)),
        Defect::TwoEmails => {
            body["emails"] = json!([
                {"value": "one@contoso.com", "type": "work", "primary": true},
                {"value": "two@contoso.com", "type": "home"}
            ])
        }
        Defect::EmailNotPrimary => body["emails"] = json!([{"value": "one@contoso.com", "type": "work"}]),
    }
    body
}

fn without(mut body: Value, key: &str) -> Value {
    if let Some(object) = body.as_object_mut() {
        object.remove(key);
    }
    body
}

fn patch(operations: Value) -> Option<Value> {
    Some(json!({"schemas": [PATCH_URN], "Operations": operations}))
}

/// The request a transition sends.
fn request(transition: &Transition, ids: &impl Ids) -> Request {
    let one = |method: Method, path: String, body: Option<Value>| Request { method, path, body, copies: 1 };
    let members = |members: &[Member]| Value::Array(members.iter().map(|m| ids.member(*m)).collect());
    match transition {
        Transition::CreateUser(spec) => one(Method::POST, "Users".into(), Some(user_body(spec))),
        Transition::CreateUserCopies(spec, copies) => {
            Request { method: Method::POST, path: "Users".into(), body: Some(user_body(spec)), copies: *copies }
        }
        Transition::GetUser(user) => one(Method::GET, format!("Users/{}", ids.user(*user)), None),
        Transition::FindUser(name) => {
            one(Method::GET, format!("Users?filter={}", encode(&format!("userName eq \"{}\"", name.0))), None)
        }
        Transition::PatchActive(user, active) => {
            let value = match active {
                Active::Json(value) => json!(value),
                Active::Entra(true) => json!("True"),
                Active::Entra(false) => json!("False"),
            };
            let operations = json!([{"op": "Replace", "path": "active", "value": value}]);
            one(Method::PATCH, format!("Users/{}", ids.user(*user)), patch(operations))
        }
        Transition::RenameUser(user, name) => {
            let operations = json!([{"op": "replace", "path": "userName", "value": name.0}]);
            one(Method::PATCH, format!("Users/{}", ids.user(*user)), patch(operations))
        }
        Transition::PatchUserRefused(user, refused) => {
            let operations = match refused {
                RefusedPatch::RemoveUserName => json!([{"op": "remove", "path": "userName"}]),
                RefusedPatch::RemoveActive => json!([{"op": "remove", "path": "active"}]),
                RefusedPatch::ActiveTwice => json!([
                    {"op": "replace", "path": "active", "value": true},
                    {"op": "replace", "path": "active", "value": false}
                ]),
                RefusedPatch::UserNameTwice => json!([
                    {"op": "replace", "path": "userName", "value": "one@contoso.com"},
                    {"op": "replace", "path": "userName", "value": "two@contoso.com"}
                ]),
            };
            one(Method::PATCH, format!("Users/{}", ids.user(*user)), patch(operations))
        }
        Transition::DeleteUser(user) => one(Method::DELETE, format!("Users/{}", ids.user(*user)), None),
        Transition::CreateGroup(name, group_members) => {
            let mut body = json!({"schemas": [GROUP_URN], "displayName": name.0});
            if !group_members.is_empty() {
                body["members"] = members(group_members);
            }
            one(Method::POST, "Groups".into(), Some(body))
        }
        Transition::GetGroup(group) => one(Method::GET, format!("Groups/{}", ids.group(*group)), None),
        Transition::FindGroup(name) => {
            one(Method::GET, format!("Groups?filter={}", encode(&format!("displayName eq \"{}\"", name.0))), None)
        }
        Transition::AddMembers(group, added) => {
            let operations = json!([{"op": "add", "path": "members", "value": members(added)}]);
            one(Method::PATCH, format!("Groups/{}", ids.group(*group)), patch(operations))
        }
        Transition::RemoveMembers(group, removed) => {
            let operations = json!([{"op": "remove", "path": "members", "value": members(removed)}]);
            one(Method::PATCH, format!("Groups/{}", ids.group(*group)), patch(operations))
        }
        Transition::PatchGroupRefused(group, refused) => {
            let operations = match refused {
                RefusedGroupPatch::ReplaceMembers(replaced) => {
                    json!([{"op": "replace", "path": "members", "value": members(replaced)}])
                }
                RefusedGroupPatch::RemoveWithoutValue => json!([{"op": "remove", "path": "members"}]),
                RefusedGroupPatch::RemoveEmptyList => json!([{"op": "remove", "path": "members", "value": []}]),
            };
            one(Method::PATCH, format!("Groups/{}", ids.group(*group)), patch(operations))
        }
        Transition::RenameGroup(group, name) => {
            let operations = json!([{"op": "replace", "path": "displayName", "value": name.0}]);
            one(Method::PATCH, format!("Groups/{}", ids.group(*group)), patch(operations))
        }
        Transition::DeleteGroup(group) => one(Method::DELETE, format!("Groups/{}", ids.group(*group)), None),
    }
}

// ---------------------------------------------------------------------------------------------
// The system under test

/// A mock-scim on loopback, its own runtime, and the mock's id of every object the model created.
struct MockUnderTest {
    scim: MockScim,
    http: reqwest::Client,
    /// The mock's id for each of the model's users, by creation order.
    users: Vec<String>,
    /// The mock's id for each of the model's groups, by creation order.
    groups: Vec<String>,
    /// Dropped last: the mock and the client live on it.
    runtime: tokio::runtime::Runtime,
}

impl Ids for MockUnderTest {
    fn user(&self, user: UserRef) -> String {
        match user {
            UserRef::Created(i) => self.users.get(i).cloned().unwrap_or_else(|| NO_USER.to_owned()),
            UserRef::Unknown => NO_USER.to_owned(),
        }
    }

    fn group(&self, group: GroupRef) -> String {
        match group {
            GroupRef::Created(i) => self.groups.get(i).cloned().unwrap_or_else(|| NO_GROUP.to_owned()),
            GroupRef::Unknown => NO_GROUP.to_owned(),
        }
    }
}

/// An answer: status and JSON body (`Null` when empty).
type Answer = (u16, Value);

impl MockUnderTest {
    fn start() -> MockUnderTest {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
        let config = MockConfig {
            admin_token: ADMIN_TOKEN.to_owned(),
            seed: MOCK_SEED,
            clock: Clock::virtual_at(DEFAULT_START),
            ..MockConfig::default()
        };
        let scim = runtime.block_on(MockScim::start_with(config)).expect("mock-scim starts on loopback");
        MockUnderTest { scim, http: reqwest::Client::new(), users: Vec::new(), groups: Vec::new(), runtime }
    }

    /// Sends a request (its copies at once); panics only if the mock cannot be reached.
    fn send(&self, request: &Request) -> Vec<Answer> {
        let url = format!("{}{}", self.scim.scim_endpoint(), request.path);
        let one = || {
            let mut builder = self.http.request(request.method.clone(), &url).bearer_auth(self.scim.token());
            if let Some(body) = &request.body {
                builder = builder.header("content-type", "application/scim+json").body(body.to_string());
            }
            async move {
                let response = builder.send().await.map_err(|e| format!("{e}"))?;
                let status = response.status().as_u16();
                let bytes = response.bytes().await.map_err(|e| format!("{e}"))?;
                let body = if bytes.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_slice(&bytes)
                        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
                };
                Ok::<Answer, String>((status, body))
            }
        };
        let answers = self.runtime.block_on(futures::future::join_all((0..request.copies).map(|_| one())));
        answers
            .into_iter()
            .map(|answer| answer.unwrap_or_else(|e| panic!("{} {url} got no answer: {e}", request.method)))
            .collect()
    }

    /// What the AWS console would show.
    fn state(&self) -> Value {
        let url = format!("{}/_admin/tenants/{}/state", self.scim.uri(), self.scim.tenant_id());
        let answer = self.runtime.block_on(async {
            let response = self.http.get(&url).bearer_auth(ADMIN_TOKEN).send().await.map_err(|e| e.to_string())?;
            response.json::<Value>().await.map_err(|e| e.to_string())
        });
        answer.unwrap_or_else(|e| panic!("GET {url}: {e}"))
    }

    /// Checks what an answer says about the objects, beyond its status.
    fn check_bodies(&self, transition: &Transition, answers: &[Answer], model: &Model, context: &str) {
        for (status, body) in answers {
            match status {
                // §1.5 PatchGroup and the DELETEs answer 204 with no body.
                204 => assert_eq!(*body, Value::Null, "a 204 has no body\n{context}"),
                // §5.1 AWS's envelope carries the status as a string; §2.7 the captured 409 detail.
                400.. => {
                    assert_eq!(body["status"], status.to_string(), "not AWS's error envelope\n{context}");
                    if *status == 409 {
                        assert_eq!(body["detail"], DUPLICATE, "{context}");
                    }
                }
                _ => {}
            }
        }
        let user_of = |body: &Value| (body["userName"].clone(), body["active"].clone());
        let slot = |i: usize| (json!(model.users[i].user_name), json!(model.users[i].active));
        match transition {
            Transition::GetUser(user) | Transition::PatchActive(user, _) | Transition::RenameUser(user, _) => {
                if let (Some(i), [(200, body)]) = (model.live_user(*user), answers) {
                    assert_eq!(user_of(body), slot(i), "the user returned differs from the model's\n{context}");
                }
            }
            Transition::CreateUser(_) | Transition::CreateUserCopies(..) => {
                if let Some((_, body)) = answers.iter().find(|(status, _)| *status == 201) {
                    let i = model.users.len() - 1;
                    assert_eq!(user_of(body), slot(i), "the user created differs from the model's\n{context}");
                }
            }
            Transition::GetGroup(group) => {
                if let (Some(g), [(200, body)]) = (model.live_group(*group), answers) {
                    assert_eq!(body["displayName"], model.groups[g].name.as_str(), "{context}");
                    assert!(body.get("members").is_none(), "GetGroup never returns members (§3.2)\n{context}");
                }
            }
            Transition::FindUser(name) => {
                let expected: Vec<String> =
                    model.find_users(name.0).into_iter().map(|i| self.user(UserRef::Created(i))).collect();
                assert_eq!(found_ids(answers), expected, "the filter found other users than the model\n{context}");
            }
            Transition::FindGroup(name) => {
                let expected: Vec<String> =
                    model.find_groups(name.0).into_iter().map(|g| self.group(GroupRef::Created(g))).collect();
                assert_eq!(found_ids(answers), expected, "the filter found other groups than the model\n{context}");
                let listed: Vec<&Value> =
                    answers.iter().flat_map(|(_, body)| body["Resources"].as_array().into_iter().flatten()).collect();
                assert!(
                    listed.iter().all(|group| group["members"] == json!([])),
                    "ListGroups shows every group with empty members (§3.2)\n{context}"
                );
            }
            _ => {}
        }
    }
}

/// The ids in a list answer.
fn found_ids(answers: &[Answer]) -> Vec<String> {
    answers
        .iter()
        .flat_map(|(_, body)| body["Resources"].as_array().cloned().unwrap_or_default())
        .filter_map(|resource| resource["id"].as_str().map(str::to_owned))
        .collect()
}

/// Users as (id, userName, active) and groups as (id, displayName, member userNames), sorted.
/// Members are named, for a readable diff: user ids are compared in the users part.
type Snapshot = (Vec<(String, String, bool)>, Vec<(String, String, Vec<String>)>);

/// The mock's state as a [`Snapshot`]; a member id that names no user shows as `?id`.
fn snapshot_of(state: &Value) -> Snapshot {
    let list = |key: &str| state[key].as_array().cloned().unwrap_or_default();
    let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
    let mut users: Vec<_> = list("users")
        .iter()
        .map(|u| (text(&u["id"]), text(&u["userName"]), u["active"].as_bool().unwrap_or(false)))
        .collect();
    users.sort();
    let name_of = |id: String| match users.iter().find(|(user, _, _)| *user == id) {
        Some((_, name, _)) => name.clone(),
        None => format!("?{id}"),
    };
    let mut groups: Vec<_> = list("groups")
        .iter()
        .map(|g| {
            let mut members: Vec<String> =
                g["members"].as_array().into_iter().flatten().map(text).map(name_of).collect();
            members.sort();
            (text(&g["id"]), text(&g["displayName"]), members)
        })
        .collect();
    groups.sort();
    (users, groups)
}

impl StateMachineTest for MockUnderTest {
    type SystemUnderTest = MockUnderTest;
    type Reference = AwsRules;

    fn init_test(_: &Model) -> MockUnderTest {
        MockUnderTest::start()
    }

    fn apply(mut sut: MockUnderTest, model: &Model, transition: Transition) -> MockUnderTest {
        let request = request(&transition, &sut);
        let answers = sut.send(&request);
        let mut statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
        statuses.sort_unstable();
        let bodies: Vec<String> = answers.iter().map(|(_, body)| body.to_string()).collect();
        let context = format!(
            "transition {transition:?}\nrequest {} {}{}\nanswers {}",
            request.method,
            request.path,
            request.body.as_ref().map(|b| format!(" {b}")).unwrap_or_default(),
            bodies.join(" | ")
        );
        assert_eq!(statuses, model.answer, "mock-scim's statuses differ from the model's\n{context}");
        // Ids are the mock's: keep the one of each object the model created.
        let created = answers.iter().find(|(status, _)| *status == 201).and_then(|(_, body)| body["id"].as_str());
        match (&transition, created) {
            (Transition::CreateUser(_) | Transition::CreateUserCopies(..), Some(id)) => sut.users.push(id.to_owned()),
            (Transition::CreateGroup(..), Some(id)) => sut.groups.push(id.to_owned()),
            _ => {}
        }
        sut.check_bodies(&transition, &answers, model, &context);
        sut
    }

    fn check_invariants(sut: &MockUnderTest, model: &Model) {
        let mut users: Vec<_> =
            model.live_users().map(|(i, u)| (sut.user(UserRef::Created(i)), u.user_name.clone(), u.active)).collect();
        users.sort();
        let mut groups: Vec<_> = model
            .live_groups()
            .map(|(g, group)| {
                let mut members: Vec<String> =
                    group.members.iter().map(|i| model.users[*i].user_name.clone()).collect();
                members.sort();
                (sut.group(GroupRef::Created(g)), group.name.clone(), members)
            })
            .collect();
        groups.sort();
        let actual = snapshot_of(&sut.state());
        assert_eq!(actual, (users, groups), "mock-scim's state (left) differs from the model's (right)");
    }
}

// ---------------------------------------------------------------------------------------------
// Failures as scenarios

/// Placeholders for a scenario file: `{user:NAME}` for a live object as the model names it at
/// that moment; an id nothing has for a deleted or unknown one.
struct Placeholders<'a>(&'a Model);

impl Ids for Placeholders<'_> {
    fn user(&self, user: UserRef) -> String {
        match self.0.live_user(user) {
            Some(i) => format!("{{user:{}}}", self.0.users[i].user_name),
            None => NO_USER.to_owned(),
        }
    }

    fn group(&self, group: GroupRef) -> String {
        match self.0.live_group(group) {
            Some(g) => format!("{{group:{}}}", self.0.groups[g].name),
            None => NO_GROUP.to_owned(),
        }
    }
}

/// A TOML string: JSON's escapes are all valid in TOML basic strings.
fn lit(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

/// A JSON body as a TOML inline value (bodies hold no nulls).
fn toml_inline(value: &Value) -> String {
    match value {
        Value::Null => "\"\"".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => lit(s),
        Value::Array(items) => format!("[{}]", items.iter().map(toml_inline).collect::<Vec<_>>().join(", ")),
        Value::Object(map) if map.is_empty() => "{}".to_owned(),
        Value::Object(map) => {
            let bare = |k: &str| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{} = {}", if bare(k) { k.clone() } else { lit(k) }, toml_inline(v)))
                .collect();
            format!("{{ {} }}", entries.join(", "))
        }
    }
}

/// The transitions as a scenario: one `aws_request` step each, with the model's statuses, then the
/// model's end state.
fn scenario(seed: u64, transitions: &[Transition], reason: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Written by mock-scim/tests/model.rs: mock-scim and the model of AWS's rules disagreed.");
    for line in reason.lines() {
        let _ = writeln!(out, "# {line}");
    }
    let _ = writeln!(out, "name = {}", lit(&format!("scim_model {seed:016x}")));
    let _ = writeln!(
        out,
        "description = {}",
        lit("SCIM requests sent straight to AWS, with the statuses and end state of the model of AWS's rules")
    );
    let _ = writeln!(out, "seed = {MOCK_SEED}\n");
    let mut model = Model::default();
    for transition in transitions {
        let request = request(transition, &Placeholders(&model));
        model = AwsRules::apply(model, transition);
        let _ = writeln!(
            out,
            "[[steps]]\naction = \"aws_request\"\nmethod = {}\npath = {}",
            lit(request.method.as_str()),
            lit(&request.path)
        );
        if let Some(body) = &request.body {
            let _ = writeln!(out, "body = {}", toml_inline(body));
        }
        if request.copies > 1 {
            let statuses: Vec<String> = model.answer.iter().map(u16::to_string).collect();
            let _ = writeln!(out, "copies = {}\nstatuses = [{}]\n", request.copies, statuses.join(", "));
        } else {
            let _ = writeln!(out, "status = {}\n", model.answer.first().copied().unwrap_or_default());
        }
    }
    let users: Vec<String> = model.live_users().map(|(_, u)| lit(&u.user_name)).collect();
    let inactive: Vec<String> = model.live_users().filter(|(_, u)| !u.active).map(|(_, u)| lit(&u.user_name)).collect();
    let groups: Vec<String> = model
        .live_groups()
        .map(|(_, g)| {
            let members: Vec<String> = g.members.iter().map(|i| lit(&model.users[*i].user_name)).collect();
            format!("{} = [{}]", lit(&g.name), members.join(", "))
        })
        .collect();
    let _ = writeln!(
        out,
        "[[steps]]\naction = \"expect\"\naws_users = [{}]\naws_inactive = [{}]\naws_groups = {}",
        users.join(", "),
        inactive.join(", "),
        if groups.is_empty() { "{}".to_owned() } else { format!("{{ {} }}", groups.join(", ")) }
    );
    out
}

/// Writes a failing sequence to `scenarios/regressions/`; returns the path and whether the file
/// parses as a scenario.
fn write_regression(seed: u64, transitions: &[Transition], reason: &str) -> (PathBuf, Result<(), String>) {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = manifest.parent().unwrap_or(manifest).join("scenarios/regressions");
    let file = format!("scim_model_{seed:016x}.toml");
    let text = scenario(seed, transitions, reason);
    let parsed = scenarios::scenario::Scenario::parse(&file, &text).map(|_| ()).map_err(|e| e.to_string());
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(file);
    let written = std::fs::write(&path, text).map_err(|e| format!("could not write it: {e}"));
    (path, written.and(parsed))
}

// ---------------------------------------------------------------------------------------------
// The law

/// The runner's configuration: [`CASES`] and a fixed seed unless the environment sets them;
/// failing seeds kept in `mock-scim/proptest-regressions/model.txt`.
fn config() -> Config {
    let from_env = Config::default();
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() { from_env.cases } else { CASES };
    let rng_seed =
        if std::env::var_os("PROPTEST_RNG_SEED").is_some() { from_env.rng_seed } else { RngSeed::Fixed(2026) };
    let persistence =
        FileFailurePersistence::Direct(concat!(env!("CARGO_MANIFEST_DIR"), "/proptest-regressions/model.txt"));
    Config { cases, rng_seed, failure_persistence: Some(Box::new(persistence)), ..from_env }
}

/// Random sequences of SCIM requests, concurrent duplicate creates included, give the same statuses
/// and the same state from mock-scim as from the model of AWS's rules.
#[test]
fn mock_scim_answers_as_the_model_of_aws_rules() {
    let config = config();
    let seed = match config.rng_seed {
        RngSeed::Fixed(seed) => seed,
        RngSeed::Random => 0,
    };
    let mut runner = TestRunner::new(config.clone());
    let strategy = AwsRules::sequential_strategy(TRANSITIONS);
    let outcome = runner.run(&strategy, |(initial, transitions, seen)| {
        MockUnderTest::test_sequential(config.clone(), initial, transitions, seen);
        Ok(())
    });
    match outcome {
        Ok(()) => {}
        Err(TestError::Fail(reason, (_, transitions, _))) => {
            let (path, written) = write_regression(seed, &transitions, reason.message());
            let note = written.err().map(|e| format!(" (but: {e})")).unwrap_or_default();
            panic!(
                "mock-scim and the model of AWS's rules disagree after {} transitions; the shrunk sequence is \
                 written to {}{note}:\n{reason}",
                transitions.len(),
                path.display()
            );
        }
        Err(TestError::Abort(reason)) => panic!("the state machine test gave up: {reason}"),
    }
}

/// Every kind of transition, from an empty model, written as a scenario that parses.
#[test]
fn a_sequence_written_as_a_scenario_parses() {
    let annie =
        UserSpec { name: Name("annie@contoso.com"), emails: Emails::UserName, active: None, defect: Defect::None };
    let transitions = vec![
        Transition::CreateUserCopies(annie, 3),
        Transition::CreateUser(UserSpec { name: Name("bob@contoso.com"), defect: Defect::TwoEmails, ..annie }),
        Transition::GetUser(UserRef::Created(0)),
        Transition::FindUser(Name("Annie@Contoso.com")),
        Transition::PatchActive(UserRef::Created(0), Active::Entra(true)),
        Transition::RenameUser(UserRef::Created(0), Name("zoë@contoso.com")),
        Transition::PatchUserRefused(UserRef::Created(0), RefusedPatch::ActiveTwice),
        Transition::CreateGroup(Name("Platform <core>"), vec![Member::User(UserRef::Created(0))]),
        Transition::GetGroup(GroupRef::Created(0)),
        Transition::FindGroup(Name("platform <core>")),
        Transition::AddMembers(GroupRef::Created(0), vec![Member::Group(GroupRef::Created(0))]),
        Transition::RemoveMembers(GroupRef::Created(0), vec![Member::User(UserRef::Unknown)]),
        Transition::PatchGroupRefused(GroupRef::Created(0), RefusedGroupPatch::RemoveEmptyList),
        Transition::RenameGroup(GroupRef::Created(0), Name("運用")),
        Transition::DeleteUser(UserRef::Created(0)),
        Transition::DeleteGroup(GroupRef::Unknown),
    ];
    let text = scenario(0x7ea, &transitions, "a reason\non two lines");
    let parsed = scenarios::scenario::Scenario::parse("scim_model.toml", &text);
    let scenario = parsed.unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(scenario.steps.len(), transitions.len() + 1, "{text}");
    assert!(text.contains("copies = 3\nstatuses = [201, 409, 409]"), "{text}");
    assert!(text.contains("path = \"Users/{user:annie@contoso.com}\""), "{text}");
    assert!(text.contains("value = \"{user:zoë@contoso.com}\""), "{text}");
    assert!(text.contains("aws_groups = { \"運用\" = [] }"), "{text}");
}
