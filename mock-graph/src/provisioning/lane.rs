//! Lanes: which exports of a phase may run at once, and how their results come back together.
//!
//! Objects whose exports depend on each other go in one lane and are exported one after another, in
//! plan order; lanes run up to `exportConcurrency` at a time. Two exports depend on each other when
//! one could see what the other did in AWS, or in the ledger:
//!
//! - users sharing a value AWS holds unique (`userName`, the primary email, `externalId`:
//!   aws-scim.md §2.7), or a matching value (entra-provisioning.md §3.3), ignoring case, in what is
//!   desired or what was last exported: one's matching query may find the other's AWS user, or
//!   one's create or rename may meet the other's with a 409;
//! - groups sharing a `displayName` or an `externalId` (aws-scim.md §3.5), ignoring case, desired or
//!   last exported: one's matching query finds the other's AWS group, which the duplicate-name rule
//!   (switch `duplicateGroupNames`) refuses or shares;
//! - for memberships, groups linked to one AWS group (`duplicateGroupNames = "share"`): each adds
//!   and removes members of it;
//! - for manager references, nothing: each user's PATCH names only itself.
//!
//! What an export reads of objects in other lanes is read before its phase begins and does not
//! change during it (the users' AWS ids in the membership and manager phases, which AWS groups the
//! other lanes' groups were linked to: [`Elsewhere`]); what it writes of other objects' entries comes
//! back in its outcome ([`Outcome::gone_members`]). Results are merged in plan order ([`merge`]),
//! so logs, counts and the ledger come out as if the exports had run one by one; at
//! `exportConcurrency = 1` they do (one lane, plan order), request for request.
//!
//! An edit by hand in AWS can make two objects of different lanes collide (a user renamed in the
//! console to another one's userName); the lanes know only what Entra knows.

use std::collections::{BTreeMap, HashMap};

use futures::{FutureExt, StreamExt};

use super::export::Outcome;
use super::plan::{GroupWork, Ledger, UserWork};

/// The user paths AWS holds unique, besides the matching ones: "The username, primary email
/// address, and externalID must be unique" (aws-scim.md §2.7).
const USER_UNIQUE: &[&str] = &["userName", "externalId"];
/// The group paths AWS holds unique: displayName and externalId (aws-scim.md §3.5).
const GROUP_UNIQUE: &[&str] = &["displayName", "externalId"];

/// Objects of a phase (by index in plan order) put in lanes by the keys they hold: any two sharing
/// a key, directly or through others, share a lane. Lanes come in the order of their first object,
/// each in plan order.
pub(crate) fn by_keys(keys: &[Vec<String>]) -> Vec<Vec<usize>> {
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut parent: Vec<usize> = (0..keys.len()).collect();
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for (i, held) in keys.iter().enumerate() {
        for key in held {
            let first = *owner.entry(key.as_str()).or_insert(i);
            let (a, b) = (root(&mut parent, first), root(&mut parent, i));
            // The lower index stays the root, so a lane is named by its first object.
            parent[a.max(b)] = a.min(b);
        }
    }
    let mut lanes: Vec<Vec<usize>> = Vec::new();
    let mut lane_of: HashMap<usize, usize> = HashMap::new();
    for i in 0..keys.len() {
        let r = root(&mut parent, i);
        let lane = *lane_of.entry(r).or_insert_with(|| {
            lanes.push(Vec::new());
            lanes.len() - 1
        });
        lanes[lane].push(i);
    }
    lanes
}

/// A key: a uniqueness class and a value, ignoring case. Every email path is one class, AWS holding
/// one email per user (aws-scim.md §2.4).
fn key(path: &str, value: &str) -> String {
    let class = if path.starts_with("emails") { "emails" } else { path };
    format!("{class}\u{0}{}", value.to_lowercase())
}

/// The users' lanes (see the module doc).
pub(crate) fn users(works: &[UserWork], ledger: &Ledger) -> Vec<Vec<usize>> {
    let matching: Vec<&str> = {
        let mut paths: Vec<&str> = works.iter().flat_map(|w| w.matching.iter().map(|(p, _)| p.as_str())).collect();
        paths.sort_unstable();
        paths.dedup();
        paths
    };
    let counts = |path: &str| USER_UNIQUE.contains(&path) || path.starts_with("emails") || matching.contains(&path);
    let keys: Vec<Vec<String>> = works
        .iter()
        .map(|work| {
            let exported = ledger.users.get(&work.id).map(|l| &l.exported);
            let held = work.desired.iter().chain(&work.create_only).chain(exported.into_iter().flatten());
            let mut keys: Vec<String> = held.filter(|(p, _)| counts(p)).map(|(p, v)| key(p, v)).collect();
            keys.extend(work.matching.iter().map(|(p, v)| key(p, v)));
            keys
        })
        .collect();
    by_keys(&keys)
}

/// The groups' lanes (see the module doc); `works` are the groups the phase exports.
pub(crate) fn groups(works: &[&GroupWork], ledger: &Ledger) -> Vec<Vec<usize>> {
    let keys: Vec<Vec<String>> = works
        .iter()
        .map(|work| {
            let exported = ledger.groups.get(&work.id).map(|l| &l.exported);
            let held = work.desired.iter().chain(exported.into_iter().flatten());
            let mut keys: Vec<String> =
                held.filter(|(p, _)| GROUP_UNIQUE.contains(&p.as_str())).map(|(p, v)| key(p, v)).collect();
            keys.push(key("displayName", &work.name));
            keys
        })
        .collect();
    by_keys(&keys)
}

/// The membership lanes: groups linked to one AWS group share one; an unlinked group, which has
/// nothing to do, is alone.
pub(crate) fn memberships(works: &[&GroupWork], ledger: &Ledger) -> Vec<Vec<usize>> {
    let keys: Vec<Vec<String>> = works
        .iter()
        .map(|work| match ledger.groups.get(&work.id) {
            Some(link) => vec![format!("aws\u{0}{}", link.target_id)],
            None => vec![format!("entra\u{0}{}", work.id)],
        })
        .collect();
    by_keys(&keys)
}

/// One lane per object.
pub(crate) fn singles(len: usize) -> Vec<Vec<usize>> {
    (0..len).map(|i| vec![i]).collect()
}

/// The lanes a phase runs in: at concurrency 1, one lane of everything in plan order, so the
/// requests go out exactly as a sequential engine sends them.
pub(crate) fn at(concurrency: usize, len: usize, lanes: impl FnOnce() -> Vec<Vec<usize>>) -> Vec<Vec<usize>> {
    if concurrency <= 1 { vec![(0..len).collect()] } else { lanes() }
}

/// Which AWS groups were linked, when a phase began, to groups outside one lane: the duplicate-name
/// rule asks it of a group's match (`export_group`). The groups inside the lane are asked of its
/// ledger, as they change.
pub(crate) struct Elsewhere<'a> {
    /// AWS group id → the lanes of the Entra groups linked to it (`usize::MAX`: a group in no lane).
    linked: &'a BTreeMap<String, Vec<usize>>,
    lane: usize,
}

/// The index of no group.
static NOWHERE: BTreeMap<String, Vec<usize>> = BTreeMap::new();

impl<'a> Elsewhere<'a> {
    /// The AWS groups the ledger's groups are linked to, with the lane of each linked group;
    /// `lane_of` gives the lane of an Entra group in this phase.
    pub(crate) fn index(ledger: &Ledger, lane_of: &HashMap<&str, usize>) -> BTreeMap<String, Vec<usize>> {
        let mut linked: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (id, link) in &ledger.groups {
            linked
                .entry(link.target_id.clone())
                .or_default()
                .push(lane_of.get(id.as_str()).copied().unwrap_or(usize::MAX));
        }
        linked
    }

    /// The view from lane `lane` of an index made by [`Elsewhere::index`].
    pub(crate) fn of(linked: &'a BTreeMap<String, Vec<usize>>, lane: usize) -> Self {
        Elsewhere { linked, lane }
    }

    /// No group outside (provision on demand: the whole ledger is at hand).
    pub(crate) fn none() -> Elsewhere<'static> {
        Elsewhere { linked: &NOWHERE, lane: 0 }
    }

    /// Whether a group outside the lane was linked to this AWS group when the phase began.
    pub(crate) fn links(&self, target_id: &str) -> bool {
        self.linked.get(target_id).is_some_and(|lanes| lanes.iter().any(|l| *l != self.lane))
    }
}

/// A lane ready to run: its objects (indices in plan order) and their ledger entries.
pub(crate) struct Lane {
    /// Its index among the phase's lanes.
    pub(crate) index: usize,
    pub(crate) members: Vec<usize>,
    pub(crate) ledger: Ledger,
}

/// What a lane did: its ledger entries as its exports left them, and one outcome per object.
#[derive(Debug, Default)]
pub(crate) struct Done {
    pub(crate) ledger: Ledger,
    pub(crate) outcomes: Vec<(usize, Outcome)>,
}

/// Moves each lane's ledger entries out of `ledger`; `id` gives the Entra id of an object.
pub(crate) fn split<'a>(ledger: &mut Ledger, lanes: Vec<Vec<usize>>, id: impl Fn(usize) -> &'a str) -> Vec<Lane> {
    lanes
        .into_iter()
        .enumerate()
        .map(|(index, members)| {
            let ledger = ledger.split_off(members.iter().map(|i| id(*i)));
            Lane { index, members, ledger }
        })
        .collect()
}

/// What a phase's lanes did, gathered as each finishes: their ledger entries, and each object's
/// outcome in its plan-order slot, so that 100,000 lanes of one object each are not all held
/// until the phase ends.
#[derive(Debug, Default)]
pub(crate) struct Results {
    ledgers: Vec<Ledger>,
    outcomes: Vec<Option<Outcome>>,
    /// The lanes' indices in the order they finished: the order [`merge`] does not keep.
    pub(crate) finished: Vec<usize>,
}

impl Results {
    fn add(&mut self, lane: usize, done: Done) {
        self.finished.push(lane);
        self.ledgers.push(done.ledger);
        for (i, outcome) in done.outcomes {
            if self.outcomes.len() <= i {
                self.outcomes.resize_with(i + 1, || None);
            }
            self.outcomes[i] = Some(outcome);
        }
    }
}

impl FromIterator<(usize, Done)> for Results {
    fn from_iter<I: IntoIterator<Item = (usize, Done)>>(lanes: I) -> Self {
        let mut results = Results::default();
        for (lane, done) in lanes {
            results.add(lane, done);
        }
        results
    }
}

/// Runs the lanes, up to `concurrency` at a time; `run` exports a lane's objects one after another
/// in plan order, with the lane's ledger. Lanes finish in any order: [`merge`] puts the results in
/// plan order.
pub(crate) async fn run<Fut>(lanes: Vec<Lane>, concurrency: usize, mut run: impl FnMut(Lane) -> Fut) -> Results
where
    Fut: Future<Output = Done>,
{
    let mut results = Results::default();
    // One at a time without the stream: polling every export through `FuturesUnordered`'s wakers
    // made a sequential cycle a fifth slower (the provisioning bench's scenario A: 2.85 s, not 2.4 s).
    if concurrency <= 1 {
        for lane in lanes {
            let index = lane.index;
            results.add(index, run(lane).await);
        }
        return results;
    }
    let mut running = futures::stream::iter(lanes)
        .map(|lane| {
            let index = lane.index;
            run(lane).map(move |done| (index, done))
        })
        .buffer_unordered(concurrency);
    while let Some((index, done)) = running.next().await {
        results.add(index, done);
    }
    results
}

/// Merges what the lanes did, in whatever order they finished: their ledger entries go back, and
/// the objects' outcomes are appended to `out` in plan order, each applying what it changes of
/// other objects' entries (AWS users gone from every group).
pub(crate) fn merge(ledger: &mut Ledger, out: &mut Outcome, results: Results) {
    for lane in results.ledgers {
        ledger.absorb(lane);
    }
    for outcome in results.outcomes.into_iter().flatten() {
        for target_id in &outcome.gone_members {
            ledger.forget_member(target_id);
        }
        out.append(outcome);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::provisioning::job::{Escrow, GroupLink, UserLink};
    use crate::provisioning::logs::{Action, Draft, Identity, Status};

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(p, v)| ((*p).to_owned(), (*v).to_owned())).collect()
    }

    /// A user matched on userName, with a userName, an externalId and a work email.
    fn user(id: &str, user_name: &str, external_id: &str, email: &str) -> UserWork {
        UserWork {
            key: None,
            id: id.to_owned(),
            upn: user_name.to_owned(),
            in_scope: true,
            why_out: None,
            desired: values(&[
                ("userName", user_name),
                ("externalId", external_id),
                (r#"emails[type eq "work"].value"#, email),
                ("displayName", "Same Name"),
            ]),
            create_only: BTreeMap::new(),
            matching: vec![("userName".to_owned(), user_name.to_owned())],
            modified: Vec::new(),
            import_kind: "Add",
            purged: false,
            manager: None,
        }
    }

    fn group(id: &str, name: &str) -> GroupWork {
        GroupWork {
            id: id.to_owned(),
            name: name.to_owned(),
            in_scope: true,
            desired: values(&[("displayName", name), ("externalId", id)]),
            members: BTreeSet::new(),
            modified: Vec::new(),
            import_kind: "Add",
        }
    }

    fn user_link(target_id: &str, exported: &[(&str, &str)]) -> UserLink {
        UserLink { target_id: target_id.to_owned(), exported: values(exported), managed: true }
    }

    fn group_link(target_id: &str, name: &str, members: &[&str]) -> GroupLink {
        GroupLink {
            target_id: target_id.to_owned(),
            exported: values(&[("displayName", name)]),
            members: members.iter().map(|m| (*m).to_owned()).collect(),
        }
    }

    #[test]
    fn objects_sharing_a_key_share_a_lane_even_through_others_and_lanes_follow_their_first_object() {
        let keys = |sets: &[&[&str]]| -> Vec<Vec<String>> {
            sets.iter().map(|set| set.iter().map(|k| (*k).to_owned()).collect()).collect()
        };
        // 0–3 through a chain (a, then b, then c), 4 alone, 5 with 1 (d).
        let lanes = by_keys(&keys(&[&["a"], &["x", "b"], &["y"], &["b", "c"], &["z"], &["d", "c", "a"]]));
        assert_eq!(lanes, [vec![0, 1, 3, 5], vec![2], vec![4]]);
        assert_eq!(by_keys(&keys(&[&["k"], &[], &["k"]])), [vec![0, 2], vec![1]]);
        assert!(by_keys(&[]).is_empty());
    }

    #[test]
    fn users_whose_matching_values_are_equal_ignoring_case_share_a_lane() {
        let works = [
            user("1", "Annie@contoso.com", "annie", "annie@contoso.com"),
            user("2", "bob@contoso.com", "bob", "bob@contoso.com"),
            user("3", "annie@CONTOSO.com", "annie2", "annie2@contoso.com"),
        ];
        assert_eq!(users(&works, &Ledger::default()), [vec![0, 2], vec![1]]);
    }

    #[test]
    fn users_sharing_an_external_id_or_an_email_share_a_lane_but_not_a_display_name() {
        let works = [
            user("1", "a@contoso.com", "same", "a@contoso.com"),
            user("2", "b@contoso.com", "SAME", "b@contoso.com"),
            user("3", "c@contoso.com", "c", "B@contoso.com"),
            user("4", "d@contoso.com", "d", "d@contoso.com"),
        ];
        // 1 and 2 by externalId, 2 and 3 by email; every user has displayName "Same Name", which AWS
        // does not hold unique.
        assert_eq!(users(&works, &Ledger::default()), [vec![0, 1, 2], vec![3]]);
    }

    #[test]
    fn a_user_taking_a_name_another_one_was_exported_with_shares_its_lane() {
        // User 2 was exported as c@…, now renamed to b@…; user 1 is to be created as c@…: its
        // matching query would find 2's AWS user until 2's rename goes out.
        let works = [
            user("1", "c@contoso.com", "one", "one@contoso.com"),
            user("2", "b@contoso.com", "two", "two@contoso.com"),
        ];
        let mut ledger = Ledger::default();
        ledger.users.insert("2".into(), user_link("aws-2", &[("userName", "c@contoso.com")]));
        assert_eq!(users(&works, &ledger), [vec![0, 1]]);
        assert_eq!(users(&works, &Ledger::default()), [vec![0], vec![1]]);
    }

    #[test]
    fn groups_whose_display_names_are_equal_ignoring_case_share_a_lane() {
        let (sre, ops, sre_lower, renamed) =
            (group("g1", "SRE"), group("g2", "Ops"), group("g3", "sre"), group("g4", "Dev"));
        let works = [&sre, &ops, &sre_lower, &renamed];
        let mut ledger = Ledger::default();
        // g4 was exported as "OPS" and is renamed "Dev": g2's match on "Ops" finds its AWS group.
        ledger.groups.insert("g4".into(), group_link("aws-4", "OPS", &[]));
        assert_eq!(groups(&works, &ledger), [vec![0, 2], vec![1, 3]]);
    }

    #[test]
    fn groups_linked_to_one_aws_group_share_a_membership_lane() {
        let (a, b, c, unlinked) = (group("g1", "SRE"), group("g2", "sre"), group("g3", "Ops"), group("g4", "New"));
        let works = [&a, &b, &c, &unlinked];
        let mut ledger = Ledger::default();
        ledger.groups.insert("g1".into(), group_link("aws-1", "SRE", &[]));
        ledger.groups.insert("g2".into(), group_link("aws-1", "SRE", &[]));
        ledger.groups.insert("g3".into(), group_link("aws-3", "Ops", &[]));
        assert_eq!(memberships(&works, &ledger), [vec![0, 1], vec![2], vec![3]]);
    }

    #[test]
    fn at_concurrency_one_a_phase_is_one_lane_in_plan_order() {
        assert_eq!(at(1, 3, || unreachable!("no lanes are built")), [vec![0, 1, 2]]);
        assert_eq!(at(8, 3, || singles(3)), [vec![0], vec![1], vec![2]]);
    }

    #[test]
    fn a_group_outside_the_lane_linked_to_the_match_makes_it_taken() {
        let mut ledger = Ledger::default();
        ledger.groups.insert("g1".into(), group_link("aws-1", "SRE", &[]));
        ledger.groups.insert("g9".into(), group_link("aws-9", "Untouched", &[]));
        let lane_of: HashMap<&str, usize> = [("g1", 0), ("g2", 0), ("g3", 1)].into_iter().collect();
        let linked = Elsewhere::index(&ledger, &lane_of);
        assert!(!Elsewhere::of(&linked, 0).links("aws-1"), "g1 is in lane 0: asked of its ledger");
        assert!(Elsewhere::of(&linked, 1).links("aws-1"));
        assert!(Elsewhere::of(&linked, 0).links("aws-9"), "a group in no lane of the phase");
        assert!(!Elsewhere::none().links("aws-1"));
    }

    fn draft(id: &str) -> Draft {
        Draft {
            action: Action::Create,
            status: Status::Success,
            identity_type: Identity::User,
            source_id: id.to_owned(),
            source_name: id.to_owned(),
            target_id: String::new(),
            target_name: String::new(),
            steps: Vec::new(),
            error: None,
            modified: Vec::new(),
        }
    }

    fn outcome(id: &str) -> Outcome {
        Outcome { drafts: vec![draft(id)], exported: 1, exports: 2, ..Outcome::default() }
    }

    #[test]
    fn results_finished_out_of_order_merge_in_plan_order() {
        let mut ledger = Ledger::default();
        ledger.groups.insert("g".into(), group_link("aws-g", "G", &["aws-u1", "aws-u3"]));
        let lane = |ids: &[&str]| Ledger::default().with_users(ids);
        // Lanes {0, 3}, {1}, {2}, finished last lane first; object 3 found its AWS user deleted.
        let mut third = outcome("u3");
        third.gone_members.push("aws-u3".into());
        let done = [
            (2, Done { ledger: lane(&["u2"]), outcomes: vec![(2, outcome("u2"))] }),
            (1, Done { ledger: lane(&["u1"]), outcomes: vec![(1, outcome("u1"))] }),
            (0, Done { ledger: lane(&["u0", "u3"]), outcomes: vec![(0, outcome("u0")), (3, third)] }),
        ]
        .into_iter()
        .collect();
        let mut out = Outcome { drafts: vec![draft("earlier phase")], exported: 1, ..Outcome::default() };
        merge(&mut ledger, &mut out, done);
        let order: Vec<&str> = out.drafts.iter().map(|d| d.source_id.as_str()).collect();
        assert_eq!(order, ["earlier phase", "u0", "u1", "u2", "u3"]);
        assert_eq!((out.exported, out.exports), (5, 8));
        assert!(out.gone_members.is_empty(), "applied, not kept");
        assert_eq!(ledger.users.keys().collect::<Vec<_>>(), ["u0", "u1", "u2", "u3"]);
        assert_eq!(ledger.groups["g"].members, BTreeSet::from(["aws-u1".to_owned()]));
    }

    #[test]
    fn a_split_ledger_absorbed_again_keeps_what_the_lane_wrote_and_removed() {
        let mut ledger = Ledger::default().with_users(&["u1", "u2", "u3"]);
        ledger.escrows.insert("u2".into(), Escrow { kind: "User", attempts: 1, error_code: "Timeout".into() });
        let mut lane = ledger.split_off(["u2", "u3"]);
        assert_eq!(ledger.users.keys().collect::<Vec<_>>(), ["u1"]);
        assert!(ledger.escrows.is_empty());
        lane.escrows.remove("u2");
        lane.users.remove("u3");
        lane.users.insert("u4".into(), user_link("aws-u4", &[]));
        ledger.absorb(lane);
        assert_eq!(ledger.users.keys().collect::<Vec<_>>(), ["u1", "u2", "u4"]);
        assert!(ledger.escrows.is_empty());
    }

    #[tokio::test]
    async fn lanes_run_at_once_and_their_results_still_merge_in_plan_order() {
        // Three lanes; the first takes longest, so they finish in reverse order.
        let lanes: Vec<Lane> = vec![vec![0, 3], vec![1], vec![2]]
            .into_iter()
            .enumerate()
            .map(|(index, members)| Lane { index, members, ledger: Ledger::default() })
            .collect();
        let running = std::cell::Cell::new(0);
        let most = std::cell::Cell::new(0);
        let done = run(lanes, 3, |lane: Lane| {
            let (running, most) = (&running, &most);
            async move {
                running.set(running.get() + 1);
                most.set(most.get().max(running.get()));
                for _ in 0..(3 - lane.index) * 5 {
                    tokio::task::yield_now().await;
                }
                running.set(running.get() - 1);
                let outcomes = lane.members.iter().map(|i| (*i, outcome(&format!("u{i}")))).collect();
                Done { ledger: lane.ledger, outcomes }
            }
        })
        .await;
        assert_eq!(most.get(), 3, "all three lanes ran at once");
        assert_eq!(done.finished, [2, 1, 0], "the last lane finished first");
        let mut out = Outcome::default();
        merge(&mut Ledger::default(), &mut out, done);
        let order: Vec<&str> = out.drafts.iter().map(|d| d.source_id.as_str()).collect();
        assert_eq!(order, ["u0", "u1", "u2", "u3"]);
    }

    impl Ledger {
        /// With a link for each of these users.
        fn with_users(mut self, ids: &[&str]) -> Ledger {
            for id in ids {
                self.users.insert((*id).to_owned(), user_link(&format!("aws-{id}"), &[]));
            }
            self
        }
    }
}
