//! The laws of sync, as property tests over random directories, assignments, edits and fault
//! storms. Each case is written as a scenario (the format of `scenarios/`) whose expectations come
//! from a model of AWS's rules; when a law fails, the shrunk case is written to
//! `scenarios/regressions/` and becomes a permanent test of the library.
//!
//! Cases are capped for CI (`PROPTEST_CASES` raises them for deep runs), and drawn from a fixed
//! seed so that CI is deterministic; `PROPTEST_RNG_SEED=N` explores other cases.

use std::fmt::Write as _;
use std::path::PathBuf;

use fake::Fake;
use fake::rand::SeedableRng;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestError, TestRunner};

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
    /// The first N user creations fail this way.
    storm: Option<(Storm, u64)>,
    /// Users made by hand in AWS, which the job never manages.
    by_hand: usize,
    /// Users created and assigned after the first cycle, during the storm.
    late_users: Vec<User>,
    /// What the administrator changes once the first state has converged.
    edits: Vec<Edit>,
}

/// How the requests of a fault storm fail.
#[derive(Debug, Clone, Copy)]
enum Storm {
    /// AWS answers with this status (429, 500, 503).
    Status(u16),
    /// The connection is closed without an answer.
    Drop,
}

/// An administrator's change after convergence, by index into the case's users and groups.
#[derive(Debug, Clone, Copy)]
enum Edit {
    RenameGroup(usize),
    RemoveMember(usize, usize),
    UnassignUser(usize),
    UnassignGroup(usize),
}

const GROUP_NAMES: &[&str] =
    &["SRE", "sre", "Ops", "Administrator", "AWSAdministrators", "Platform <core>", "Ünïcødé", "運用"];

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
    (0u8..4, 0usize..8, 0usize..8).prop_map(|(kind, a, b)| match kind {
        0 => Edit::RenameGroup(a),
        1 => Edit::RemoveMember(a, b),
        2 => Edit::UnassignUser(a),
        _ => Edit::UnassignGroup(a),
    })
}

fn case_strategy(late: bool, edits: bool) -> impl Strategy<Value = Case> {
    (0usize..6, 0usize..4)
        .prop_flat_map(move |(n_users, n_groups)| {
            let users: Vec<_> = (0..n_users).map(user_strategy).collect();
            let late_users: Vec<_> = if late { (10..12).map(user_strategy).collect() } else { Vec::new() };
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
                prop::option::of((
                    prop_oneof![
                        prop::sample::select(vec![429u16, 500, 503]).prop_map(Storm::Status),
                        Just(Storm::Drop)
                    ],
                    1u64..5,
                )),
                0usize..3,
                late_users,
                proptest::collection::vec(edit_strategy(), if edits { 0..4 } else { 0..1 }),
            )
        })
        .prop_map(|(seed, users, groups, assigned_users, assigned_groups, storm, by_hand, late_users, edits)| {
            let n_users = users.len();
            let n_groups = groups.len();
            let mut seen = Vec::new();
            let groups = groups
                .into_iter()
                .filter_map(|(name, members, nest)| {
                    // Distinct names in Entra (case-only duplicates allowed: AWS refuses them).
                    let name = GROUP_NAMES[name].to_owned();
                    if seen.contains(&name) {
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
            Case { seed, users, groups, assigned_users, assigned_groups, storm, by_hand, late_users, edits }
        })
}

fn lit(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// What AWS must hold at the end: users by userName (active), groups by name with members.
struct Projection {
    users: Vec<String>,
    groups: Vec<(String, Vec<String>)>,
    refused_users: Vec<String>,
    refused_groups: Vec<String>,
}

impl Case {
    fn in_scope(&self, u: usize) -> bool {
        self.users[u].enabled
            && (self.assigned_users.contains(&u)
                || self.assigned_groups.iter().any(|g| self.groups[*g].members.contains(&u)))
    }

    /// Applies the edits that make sense here (a rename once per group, removing a member who is
    /// one, unassigning what is assigned), writing each as a step; returns the case afterwards.
    fn edited(&self, steps: &mut String) -> Case {
        let mut after = self.clone();
        after.edits.clear();
        let mut renamed = Vec::new();
        for edit in &self.edits {
            match *edit {
                Edit::RenameGroup(g) if g < after.groups.len() && !renamed.contains(&g) => {
                    renamed.push(g);
                    let to = format!("Renamed {g}");
                    let _ = writeln!(
                        steps,
                        "[[steps]]\naction = \"rename_group\"\ngroup = {}\nto = {}\n",
                        lit(&after.groups[g].name),
                        lit(&to)
                    );
                    after.groups[g].name = to;
                }
                Edit::RemoveMember(g, u) if g < after.groups.len() && after.groups[g].members.contains(&u) => {
                    let _ = writeln!(
                        steps,
                        "[[steps]]\naction = \"remove_member\"\ngroup = {}\nmember = {}\n",
                        lit(&after.groups[g].name),
                        lit(&after.users[u].upn())
                    );
                    after.groups[g].members.retain(|m| *m != u);
                }
                Edit::UnassignUser(u) if after.assigned_users.contains(&u) => {
                    let _ = writeln!(
                        steps,
                        "[[steps]]\naction = \"unassign\"\nprincipal = {}\n",
                        lit(&after.users[u].upn())
                    );
                    after.assigned_users.retain(|a| *a != u);
                }
                Edit::UnassignGroup(g) if after.assigned_groups.contains(&g) => {
                    let _ = writeln!(
                        steps,
                        "[[steps]]\naction = \"unassign\"\nprincipal = {}\n",
                        lit(&after.groups[g].name)
                    );
                    after.assigned_groups.retain(|a| *a != g);
                }
                _ => {}
            }
        }
        after
    }

    /// The projection of the in-scope directory through the mappings, minus what AWS refuses.
    fn projection(&self) -> Projection {
        let mut users = Vec::new();
        let mut refused_users = Vec::new();
        for (u, user) in self.users.iter().enumerate() {
            if self.in_scope(u) {
                if user.valid() { users.push(user.aws_name()) } else { refused_users.push(user.upn()) }
            }
        }
        users.extend(self.late_users.iter().filter(|u| u.enabled && u.valid()).map(User::aws_name));
        refused_users.extend(self.late_users.iter().filter(|u| u.enabled && !u.valid()).map(User::upn));
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        let mut refused_groups = Vec::new();
        for g in &self.assigned_groups {
            let group = &self.groups[*g];
            // Reserved names (§6.2) and case-insensitive duplicates of a group created earlier (§3.5).
            let reserved = ["Administrator", "AWSAdministrators"].contains(&group.name.as_str());
            let duplicate = groups.iter().any(|(name, _)| name.eq_ignore_ascii_case(&group.name));
            if reserved || duplicate {
                refused_groups.push(group.name.clone());
                continue;
            }
            let members = group
                .members
                .iter()
                .filter(|m| self.in_scope(**m) && self.users[**m].valid())
                .map(|m| self.users[*m].aws_name())
                .collect();
            groups.push((group.name.clone(), members));
        }
        Projection { users, groups, refused_users, refused_groups }
    }

    /// The case as a scenario file, with the law's expectations.
    fn scenario(&self, law: &str, description: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Written by the property test `{law}` ({description}).");
        let _ = writeln!(out, "name = {}", lit(&format!("{law} {:016x}", self.seed)));
        let _ = writeln!(out, "description = {}", lit(description));
        let _ = writeln!(out, "seed = {}", self.seed % 1_000_000);
        let mut assigned: Vec<String> = self.assigned_users.iter().map(|u| lit(&self.users[*u].upn())).collect();
        assigned.extend(self.assigned_groups.iter().map(|g| lit(&self.groups[*g].name)));
        let _ = writeln!(out, "assignments = [{}]\n", assigned.join(", "));
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
        for i in 0..self.by_hand {
            let _ = writeln!(out, "[[aws.users]]\nuser_name = \"byhand{i}@elsewhere.example\"\n");
        }
        if let Some((storm, count)) = self.storm {
            let action = match storm {
                Storm::Status(status) => format!("{{ kind = \"status\", status = {status} }}"),
                Storm::Drop => "{ kind = \"drop\" }".to_owned(),
            };
            let _ = writeln!(
                out,
                "[[faults]]\nmethod = \"POST\"\npath = \"/*/scim/v2/Users\"\nnth = {{ from = 1, to = {count} }}\naction = {action}\n"
            );
        }
        let _ = writeln!(
            out,
            "[[steps]]\naction = \"configure\"\n\n[[steps]]\naction = \"start\"\n\n[[steps]]\naction = \"advance\"\nby = \"PT1M\"\n"
        );
        for user in &self.late_users {
            user_table(&mut out, "[[steps]]\naction = \"create_user\"", user);
            let _ = writeln!(out, "[[steps]]\naction = \"assign\"\nprincipal = {}\n", lit(&user.upn()));
        }
        // Faults stop after the first few requests; three more cycles are enough to converge. A
        // dropped connection is not retried within the cycle (only 429 and 5xx are,
        // entra-provisioning.md §5.1), so each costs a cycle: such a storm gets a day.
        let settle = if matches!(self.storm, Some((Storm::Drop, _))) { "P1D" } else { "PT2H" };
        let _ = writeln!(out, "[[steps]]\naction = \"advance\"\nby = \"{settle}\"\n");
        let projection = self.projection();
        let mut expected_users: Vec<String> = projection.users.iter().map(|u| lit(u)).collect();
        expected_users.extend((0..self.by_hand).map(|i| lit(&format!("byhand{i}@elsewhere.example"))));
        let groups: Vec<String> = projection
            .groups
            .iter()
            .map(|(name, members)| {
                format!("{} = [{}]", lit(name), members.iter().map(|m| lit(m)).collect::<Vec<_>>().join(", "))
            })
            .collect();
        let mut logs: Vec<String> = projection
            .refused_users
            .iter()
            .map(|u| format!("{{ identity = {}, status = \"failure\" }}", lit(u)))
            .collect();
        logs.extend(
            projection.refused_groups.iter().map(|g| format!("{{ identity = {}, status = \"failure\" }}", lit(g))),
        );
        let _ = writeln!(
            out,
            "[[steps]]\naction = \"expect\"\naws_users = [{}]\naws_groups = {{ {} }}\nlog = [{}]\n",
            expected_users.join(", "),
            groups.join(", "),
            logs.join(", ")
        );
        if !self.edits.is_empty() {
            // After the edits: the projection of the edited directory; users who left the scope
            // stay in AWS, disabled (entra-provisioning.md §4.4), and groups that left it are deleted.
            let mut steps = String::new();
            let after = self.edited(&mut steps);
            out.push_str(&steps);
            let _ = writeln!(out, "[[steps]]\naction = \"advance\"\nby = \"PT2H\"\n");
            let edited = after.projection();
            let mut users: Vec<String> = projection.users.clone();
            users.extend(edited.users.iter().filter(|u| !users.contains(u)).cloned().collect::<Vec<_>>());
            let inactive: Vec<String> =
                projection.users.iter().filter(|u| !edited.users.contains(u)).map(|u| lit(u)).collect();
            let mut expected: Vec<String> = users.iter().map(|u| lit(u)).collect();
            expected.extend((0..self.by_hand).map(|i| lit(&format!("byhand{i}@elsewhere.example"))));
            let groups: Vec<String> = edited
                .groups
                .iter()
                .map(|(name, members)| {
                    format!("{} = [{}]", lit(name), members.iter().map(|m| lit(m)).collect::<Vec<_>>().join(", "))
                })
                .collect();
            let _ = writeln!(
                out,
                "[[steps]]\naction = \"expect\"\naws_users = [{}]\naws_groups = {{ {} }}\naws_inactive = [{}]\n",
                expected.join(", "),
                groups.join(", "),
                inactive.join(", ")
            );
        }
        if law == "idempotence" {
            let _ = writeln!(
                out,
                "[[steps]]\naction = \"advance\"\nby = \"PT40M\"\n\n[[steps]]\naction = \"expect\"\nno_writes = true\n"
            );
        }
        out
    }
}

fn user_table(out: &mut String, header: &str, user: &User) {
    let _ = writeln!(out, "{header}\nupn = {}\ngiven_name = {}", lit(&user.upn()), lit(&user.given));
    if let Some(surname) = &user.surname {
        let _ = writeln!(out, "surname = {}", lit(surname));
    }
    let _ = writeln!(out, "enabled = {}\n", user.enabled);
}

/// The runner's configuration: `default_cases` and a fixed seed unless the environment sets them.
fn config(default_cases: u32) -> Config {
    let from_env = Config::default();
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() { from_env.cases } else { default_cases };
    let rng_seed =
        if std::env::var_os("PROPTEST_RNG_SEED").is_some() { from_env.rng_seed } else { RngSeed::Fixed(2026) };
    Config { cases, rng_seed, failure_persistence: None, ..from_env }
}

fn regressions() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/regressions")
}

/// Runs a law: each case as a scenario; on failure the shrunk case is written as a regression file.
fn law(name: &str, description: &str, strategy: impl Strategy<Value = Case>, applies: fn(&Case) -> bool) {
    let mut runner = TestRunner::new(config(12));
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    let outcome = runner.run(&strategy, |case| {
        if !applies(&case) {
            return Ok(());
        }
        let text = case.scenario(name, description);
        let scenario = scenarios::scenario::Scenario::parse("generated.toml", &text)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let result = runtime.block_on(harness::runner::run(&scenario));
        if result.passed() { Ok(()) } else { Err(TestCaseError::fail(result.failures.join("\n"))) }
    });
    if let Err(TestError::Fail(reason, case)) = outcome {
        let path = write_regression(name, description, &case);
        panic!("law {name} broken; the shrunk case is written to {}:\n{reason}", path.display());
    }
}

/// Writes a failing case as a scenario in `scenarios/regressions/`; returns its path.
fn write_regression(name: &str, description: &str, case: &Case) -> PathBuf {
    let path = regressions().join(format!("{name}_{:016x}.toml", case.seed));
    let _ = std::fs::create_dir_all(regressions());
    let _ = std::fs::write(&path, case.scenario(name, description));
    path
}

/// Convergence: once faults stop, after a bounded number of cycles the AWS state equals the
/// projection of the in-scope directory through the mappings, minus exactly the objects AWS's rules
/// refuse, and each refused object has a failure entry in the provisioning logs. Isolation (one
/// object's failure never prevents another's success) and no collateral damage (users AWS holds that
/// the job does not manage stay as they are) are part of the same end state.
#[test]
fn convergence_isolation_and_no_collateral_damage() {
    law(
        "convergence",
        "once faults stop, AWS holds exactly the in-scope directory minus what AWS refuses, each refusal logged; \
         after renames, member removals and unassignments it converges again",
        case_strategy(false, true),
        |_| true,
    );
}

/// Idempotence: a cycle after convergence sends no write to AWS.
#[test]
fn idempotence() {
    law(
        "idempotence",
        "a cycle after convergence sends no write",
        case_strategy(false, false),
        // Refused objects are retried every cycle, so the law speaks of directories AWS fully accepts.
        |case| {
            let projection = case.projection();
            projection.refused_users.is_empty() && projection.refused_groups.is_empty()
        },
    );
}

/// Nothing lost under faults: every change made in the directory during a fault storm reaches AWS
/// once the storm ends.
#[test]
fn nothing_lost_under_faults() {
    law(
        "nothing_lost",
        "users created and assigned during a fault storm reach AWS once it ends",
        case_strategy(true, false).prop_map(|mut case| {
            case.storm = Some((case.storm.map_or(Storm::Status(503), |s| s.0), 6));
            case
        }),
        |_| true,
    );
}

/// Determinism: the same seed gives byte-identical provisioning logs and journals.
#[test]
fn determinism() {
    const DESCRIPTION: &str = "the same seed gives byte-identical provisioning logs and journals";
    let mut runner = TestRunner::new(config(6));
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    let outcome = runner.run(&case_strategy(false, false), |case| {
        let text = case.scenario("determinism", DESCRIPTION);
        let scenario = scenarios::scenario::Scenario::parse("generated.toml", &text)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let first = runtime.block_on(harness::runner::run(&scenario));
        let second = runtime.block_on(harness::runner::run(&scenario));
        prop_assert_eq!(first.fingerprint, second.fingerprint);
        prop_assert_eq!(first.failures, second.failures);
        Ok(())
    });
    if let Err(TestError::Fail(reason, case)) = outcome {
        let path = write_regression("determinism", DESCRIPTION, &case);
        panic!("law determinism broken; the case is written to {}: {reason}", path.display());
    }
}
