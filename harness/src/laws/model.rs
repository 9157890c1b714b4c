//! The model: the directory at each moment of a case, what AWS holds after each cycle by AWS's
//! rules and Entra's, and the case written out as a scenario with the law's expectations.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use scenarios::scenario::Engine;

use super::strategy::{Case, Edit, Fault, Group, RESERVED, Storm, Target, User};

pub(crate) fn lit(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

pub(crate) fn list<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    items.into_iter().map(|s| lit(s)).collect::<Vec<_>>().join(", ")
}

/// The directory at one moment of a case, as the model sees it.
#[derive(Debug, Clone)]
pub(crate) struct Directory {
    pub(crate) users: Vec<User>,
    pub(crate) groups: Vec<Group>,
    pub(crate) assigned_users: BTreeSet<usize>,
    pub(crate) assigned_groups: BTreeSet<usize>,
    pub(crate) deleted_users: BTreeSet<usize>,
    pub(crate) purged_users: BTreeSet<usize>,
    pub(crate) deleted_groups: BTreeSet<usize>,
    /// What a deleted user had, for a restore: its direct assignment and its groups.
    pub(crate) deleted_relations: BTreeMap<usize, (bool, Vec<usize>)>,
}

impl Directory {
    pub(crate) fn in_scope(&self, u: usize) -> bool {
        self.users[u].enabled && !self.deleted_users.contains(&u) && self.assigned(u)
    }

    /// Assigned directly or through a direct membership of an assigned group.
    pub(crate) fn assigned(&self, u: usize) -> bool {
        self.assigned_users.contains(&u) || self.assigned_groups.iter().any(|g| self.groups[*g].members.contains(&u))
    }

    pub(crate) fn user_index(&self, aws_name: &str) -> Option<usize> {
        self.users.iter().position(|u| u.aws_name() == aws_name)
    }
}

/// What AWS holds, as the model sees it: users by userName (active or not), groups by the index
/// of the Entra group they were made from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Aws {
    pub(crate) users: BTreeMap<String, bool>,
    pub(crate) groups: BTreeMap<usize, (String, Vec<String>)>,
    /// Users the job no longer manages: unassigned, then disabled in AWS.
    pub(crate) unmanaged: BTreeSet<String>,
    /// In-scope objects AWS refuses, as their log entries name them.
    pub(crate) refused: Vec<String>,
}

impl Aws {
    /// One converged cycle: AWS ends up holding the projection of the in-scope directory through
    /// the mappings, minus what AWS's rules refuse; users who left the scope stay, disabled
    /// (entra-provisioning.md §4.4), purged users and groups that left the scope are deleted.
    pub(crate) fn cycle(&mut self, dir: &Directory) {
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

    pub(crate) fn users_inactive(&self) -> impl Iterator<Item = &String> {
        self.users.iter().filter(|(_, active)| !**active).map(|(name, _)| name)
    }
}

impl Case {
    /// The directory before the first step, with the late users already there.
    pub(crate) fn directory(&self) -> Directory {
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
    pub(crate) fn first_cycle(&self) -> Aws {
        let mut aws = Aws::default();
        aws.cycle(&self.directory());
        aws
    }

    /// Carries out the edits that make sense at their moment, writing each as steps, and moves the
    /// model along: AWS changes at each cycle that runs (not while paused or while the token has
    /// expired) and on demand. Ends with the steps that bring the job back (a new token, a start)
    /// and the settling cycles.
    pub(crate) fn edit(&self, dir: &mut Directory, aws: &mut Aws, steps: &mut String, settle: &str) {
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
        step(format!("action = \"advance\"\nby = \"{settle}\""));
        aws.cycle(dir);
    }

    /// The case as a scenario file, with the law's expectations.
    pub(crate) fn scenario(&self, law: Spec<'_>) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Written by the property test `{}` ({}).", law.name, law.statement);
        let _ = writeln!(out, "name = {}", lit(&format!("{} {}", law.name, self.id())));
        let _ = writeln!(out, "description = {}", lit(law.statement));
        let _ = writeln!(out, "seed = {}", self.seed % 1_000_000);
        let mut assigned: Vec<String> = self.assigned_users.iter().map(|u| lit(&self.users[*u].upn())).collect();
        assigned.extend(self.assigned_groups.iter().map(|g| lit(&self.groups[*g].name)));
        let _ = writeln!(out, "assignments = [{}]\n", assigned.join(", "));
        if let Some(engine) = law.engine {
            // So that `harness run FILE` replays the case against the same tool.
            let _ = writeln!(out, "[engine]\ncommand = [{}]", list(&engine.command));
            if let Some(seconds) = engine.timeout_seconds {
                let _ = writeln!(out, "timeout_seconds = {seconds}");
            }
            out.push('\n');
        }
        let mut switches = Vec::new();
        if matches!(self.fault, Some(Fault { storm: Storm::Timeout, .. })) {
            // Long enough that no answered request times out on a loaded machine; AWS holds the
            // faulted ones ten times as long.
            switches.push("scimTimeoutSeconds = 0.5".to_owned());
        }
        if self.concurrency > 1 {
            switches.push(format!("exportConcurrency = {}", self.concurrency));
        }
        let past_entra = |upn: String| upn.len() > 113 || upn.split('@').next().is_some_and(|local| local.len() > 64);
        if self.users.iter().chain(&self.late_users).any(|user| past_entra(user.upn())) {
            // Entra holds a UPN to 113 characters (64 before the `@`), AWS a userName to 128: only
            // past Entra's limit does a user name meet AWS's.
            switches.push("propertyLengthLimits = false".to_owned());
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
        // An engine has no job to start: its first cycle falls due when the scenario starts.
        let start = if law.engine.is_some() { "" } else { "[[steps]]\naction = \"start\"\n\n" };
        let _ = writeln!(
            out,
            "[[steps]]\naction = \"configure\"\n\n{start}[[steps]]\naction = \"advance\"\nby = \"PT1M\"\n"
        );
        if law.name == "isolation" {
            // One cycle, no faults: every object AWS accepts is there despite the ones it refuses.
            let aws = self.first_cycle();
            expect(&mut out, &aws, &by_hand, law);
            return out;
        }
        if law.engine.is_some() && law.name == "nothing_lost" {
            // A tool rides out a few 429 and 5xx answers within the cycle they hit: AWS holds all
            // of the first cycle's objects after it, whether the storm struck then or later.
            let early = Case { late_users: Vec::new(), ..self.clone() };
            expect(&mut out, &early.first_cycle(), &by_hand, law);
        }
        for user in &self.late_users {
            user_table(&mut out, "[[steps]]\naction = \"create_user\"", user);
            let _ = writeln!(out, "[[steps]]\naction = \"assign\"\nprincipal = {}\n", lit(&user.upn()));
        }
        let settle = self.settle(law);
        let _ = writeln!(out, "[[steps]]\naction = \"advance\"\nby = \"{settle}\"\n");
        let mut dir = self.directory();
        let mut aws = Aws::default();
        aws.cycle(&dir);
        expect(&mut out, &aws, &by_hand, law);
        if !self.edits.is_empty() {
            let mut steps = String::new();
            self.edit(&mut dir, &mut aws, &mut steps, self.settle(law));
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
    pub(crate) fn id(&self) -> String {
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
    ///
    /// An external engine has no quarantine and needs no probe: three more cycles ride out a storm
    /// of three dropped requests, each of which may end a run of the tool. Under `nothing_lost`
    /// only one cycle: the law is that a tool retries 429 and 5xx within the cycle.
    pub(crate) fn settle(&self, law: Spec<'_>) -> &'static str {
        if law.engine.is_some() {
            return if law.name == "nothing_lost" { "PT40M" } else { "PT2H" };
        }
        match self.fault {
            Some(Fault { target: Target::Everything, .. }) => "P7D",
            Some(Fault { storm: Storm::Drop | Storm::Timeout, .. }) => "P1D",
            _ => "PT2H",
        }
    }

    /// Users and groups made by hand in AWS, which the job never manages.
    pub(crate) fn by_hand_names(&self) -> Vec<String> {
        let users = (0..self.by_hand.0).map(|i| format!("byhand{i}@elsewhere.example"));
        users.chain((0..self.by_hand.1).map(|i| format!("Break glass {i}"))).collect()
    }

    /// AWS at the end: after the first phase, and after the edits if there are any.
    pub(crate) fn end_state(&self) -> Aws {
        let mut dir = self.directory();
        let mut aws = Aws::default();
        aws.cycle(&dir);
        if !self.edits.is_empty() {
            self.edit(&mut dir, &mut aws, &mut String::new(), "");
        }
        aws
    }
}

/// Writes an `expect` step with what the law checks of AWS's state.
pub(crate) fn expect(out: &mut String, aws: &Aws, by_hand: &[String], law: Spec<'_>) {
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
        // An engine's refusals are its own business: Entra's provisioning logs say nothing of them.
        if law.engine.is_none() {
            lines.push(format!("log = [{}]", logs.join(", ")));
        }
    }
    if law.name == "no_collateral_damage" {
        lines.push(format!("aws_untouched = [{}]", list(by_hand)));
    }
    if law.name == "order_safety" {
        lines.push("order_safe = true".into());
    }
    let _ = writeln!(out, "[[steps]]\naction = \"expect\"\n{}\n", lines.join("\n"));
}

/// A law as its cases are written: its name (the regression files' prefix), its statement, whether
/// its expectations include AWS's whole state, and the external engine it runs against, if any.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec<'a> {
    pub(crate) name: &'static str,
    pub(crate) statement: &'static str,
    pub(crate) checks_state: bool,
    pub(crate) engine: Option<&'a Engine>,
}

pub(crate) fn user_table(out: &mut String, header: &str, user: &User) {
    let _ = writeln!(out, "{header}\nupn = {}\ngiven_name = {}", lit(&user.upn()), lit(&user.given));
    if let Some(surname) = &user.surname {
        let _ = writeln!(out, "surname = {}", lit(surname));
    }
    let _ = writeln!(out, "enabled = {}\n", user.enabled);
}
