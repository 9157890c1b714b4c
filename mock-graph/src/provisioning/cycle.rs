//! The drivers of one provisioning cycle and of provision on demand (entra-provisioning.md §4,
//! §5.4, §10): plan under the lock, probe, export users, then groups, then memberships, then
//! manager references, then record, under the lock again.
//!
//! The world is locked to read the directory and to record results, never across a SCIM request:
//! `plan` computes every object's desired state, `export` talks to the target,
//! `record` writes down what happened. Within each phase of a cycle, exports run in lanes, up to
//! `exportConcurrency` at a time, and are merged in plan order (`lane`); provision on demand
//! exports one after another.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use jiff::SignedDuration;
use reqwest::Method;
use serde_json::{Value, json};

pub use super::export::probe;
use super::export::{Outcome, export_group, export_user, link_manager, manager_target, member_targets, sync_members};
use super::job::{GroupLink, UserLink};
use super::lane::{self, Done, Elsewhere, Lane};
pub use super::plan::Subjects;
use super::plan::{Fixed, GroupWork, Plan, UserWork, plan};
use super::record::{finish, finish_failed, record_logs};
use super::scim::{Reply, Target, eq_filter};
use super::scope::Scope;
use super::template::read_mappings;
use crate::directory::ObjectKind;
use crate::state::{AppState, DuplicateGroupNames, RetrySchedule};

/// The target's name in log sentences.
pub const TARGET_NAME: &str = "AWS IAM Identity Center";

/// At most this many membership changes per PATCH: AWS's limit (aws-scim.md §3.3; §4.5 inferred).
pub const MEMBER_CHUNK: usize = 100;

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
    /// How many lanes of exports run at once within a phase of a cycle (switch
    /// `exportConcurrency`; 1, sequential, by default: nothing documents Entra sending requests in
    /// parallel).
    pub export_concurrency: usize,
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

/// Runs one cycle of a job to completion.
pub async fn run_cycle(state: &AppState, job_id: &str, settings: &Settings) {
    let plan = {
        let mut world = state.world();
        plan(&mut world, job_id, settings, None, retry_waiter(state, settings))
    };
    let Some(mut plan) = plan else { return };
    let guid = state.world().uuid();
    let mut out = Outcome::default();
    let probe_result = match &plan.fixed.target {
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
    let Ok(target) = plan.fixed.target.clone() else { return };
    // Accidental-deletion prevention: count what would be disabled or deleted (§5.3).
    if let Some(threshold) = plan.fixed.secrets.delete_threshold {
        let ledger = &plan.ledger;
        let deletions =
            plan.users.iter().filter(|w| !w.in_scope && ledger.users.get(&w.id).is_some_and(|l| l.managed)).count()
                + plan.groups.iter().filter(|w| !w.in_scope && ledger.groups.contains_key(&w.id)).count();
        plan.fixed.staged_deletes = deletions > threshold && !plan.fixed.deletes_approved;
    }
    let users = std::mem::take(&mut plan.users);
    let groups = std::mem::take(&mut plan.groups);
    let reference_groups = std::mem::take(&mut plan.reference_groups);
    export_all(&target, &mut plan, &users, &groups, &reference_groups, &mut out).await;
    finish(state, plan, settings, out, users.len() + groups.len());
}

/// The exports of a cycle, phase after phase in the order references need (§4.2): users, then
/// groups, then memberships (groups must exist and their members too), then manager references.
/// Within a phase, lanes run up to `exportConcurrency` at a time (`lane`); each phase's results are
/// merged in plan order before the next phase begins.
async fn export_all(
    target: &Target,
    plan: &mut Plan,
    users: &[UserWork],
    groups: &[GroupWork],
    reference_groups: &[GroupWork],
    out: &mut Outcome,
) {
    let n = plan.fixed.concurrency;
    let fixed = &plan.fixed;
    let ledger = &mut plan.ledger;

    let lanes = lane::at(n, users.len(), || lane::users(users, ledger));
    let lanes = lane::split(ledger, lanes, |i| users[i].id.as_str());
    let done = lane::run(lanes, n, |lane| users_lane(target, fixed, users, lane)).await;
    lane::merge(ledger, out, done);

    // While deletions are staged, groups leaving scope wait too (§5.3).
    let exported: Vec<&GroupWork> = groups.iter().filter(|w| !fixed.staged_deletes || w.in_scope).collect();
    let lanes = lane::at(n, exported.len(), || lane::groups(&exported, ledger));
    let mut lane_of: HashMap<&str, usize> = HashMap::new();
    for (l, members) in lanes.iter().enumerate() {
        lane_of.extend(members.iter().map(|i| (exported[*i].id.as_str(), l)));
    }
    let linked = Elsewhere::index(ledger, &lane_of);
    let lanes = lane::split(ledger, lanes, |i| exported[i].id.as_str());
    let done = lane::run(lanes, n, |lane| groups_lane(target, fixed, &exported, &linked, lane)).await;
    lane::merge(ledger, out, done);

    // Members of the cycle's groups, then of the assigned groups a user of the cycle is in.
    let synced: Vec<&GroupWork> = groups.iter().chain(reference_groups).filter(|w| w.in_scope).collect();
    let lanes = lane::at(n, synced.len(), || lane::memberships(&synced, ledger));
    let lanes = lane::split(ledger, lanes, |i| synced[i].id.as_str());
    let user_links = &ledger.users;
    let done = lane::run(lanes, n, |lane| members_lane(target, user_links, &synced, lane)).await;
    lane::merge(ledger, out, done);

    // Each user's manager, by the AWS ids and creations the earlier phases left.
    let created: HashSet<&str> = out
        .drafts
        .iter()
        .filter(|d| d.identity_type == "User" && d.action == "create" && d.status == "success")
        .map(|d| d.source_id.as_str())
        .collect();
    let linking: Vec<(&UserWork, String, bool)> = users
        .iter()
        .filter_map(|w| manager_target(&ledger.users, w).map(|m| (w, m, created.contains(w.id.as_str()))))
        .collect();
    let lanes = lane::at(n, linking.len(), || lane::singles(linking.len()));
    let lanes = lane::split(ledger, lanes, |i| linking[i].0.id.as_str());
    let done = lane::run(lanes, n, |lane| managers_lane(target, &linking, lane)).await;
    lane::merge(ledger, out, done);
}

/// One lane of the users phase.
async fn users_lane(target: &Target, fixed: &Fixed, works: &[UserWork], lane: Lane) -> Done {
    let Lane { members, mut ledger, .. } = lane;
    let mut outcomes = Vec::with_capacity(members.len());
    for i in members {
        let mut out = Outcome::default();
        export_user(target, fixed, &mut ledger, &works[i], &mut out).await;
        outcomes.push((i, out));
    }
    Done { ledger, outcomes }
}

/// One lane of the groups phase; `linked` says which AWS groups every lane's groups were linked to
/// when the phase began.
async fn groups_lane(
    target: &Target,
    fixed: &Fixed,
    works: &[&GroupWork],
    linked: &BTreeMap<String, Vec<usize>>,
    lane: Lane,
) -> Done {
    let Lane { index, members, mut ledger } = lane;
    let elsewhere = Elsewhere::of(linked, index);
    let mut outcomes = Vec::with_capacity(members.len());
    for i in members {
        let mut out = Outcome::default();
        export_group(target, fixed, &mut ledger, &elsewhere, works[i], &mut out).await;
        outcomes.push((i, out));
    }
    Done { ledger, outcomes }
}

/// One lane of the membership phase; the users' links are read, never written, in this phase.
async fn members_lane(target: &Target, users: &BTreeMap<String, UserLink>, works: &[&GroupWork], lane: Lane) -> Done {
    let Lane { members, mut ledger, .. } = lane;
    let mut outcomes = Vec::with_capacity(members.len());
    for i in members {
        let mut out = Outcome::default();
        let desired = member_targets(users, works[i]);
        sync_members(target, &mut ledger, works[i], &desired, &mut out).await;
        outcomes.push((i, out));
    }
    Done { ledger, outcomes }
}

/// One lane of the manager phase: each user with its manager's AWS id and whether this cycle
/// created it.
async fn managers_lane(target: &Target, linking: &[(&UserWork, String, bool)], lane: Lane) -> Done {
    let Lane { members, mut ledger, .. } = lane;
    let mut outcomes = Vec::with_capacity(members.len());
    for i in members {
        let mut out = Outcome::default();
        let (work, manager, created) = &linking[i];
        link_manager(target, &mut ledger, work, manager, *created, &mut out).await;
        outcomes.push((i, out));
    }
    Done { ledger, outcomes }
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
            job.users = plan.ledger.users;
            job.groups = plan.ledger.groups;
            job.escrows = plan.ledger.escrows;
        }
    };
    let target = match plan.fixed.target.clone() {
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
            sync_all: plan.fixed.secrets.sync_all,
            mappings: &mappings,
        };
        group_members.iter().map(|id| scope.user(world.directory.user_key(id), id, "Add")).collect()
    };
    let users = std::mem::take(&mut plan.users);
    for work in users.iter().chain(&member_works) {
        export_user(&target, &plan.fixed, &mut plan.ledger, work, &mut out).await;
    }
    for target_id in std::mem::take(&mut out.gone_members) {
        plan.ledger.forget_member(&target_id);
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
                sync_all: plan.fixed.secrets.sync_all,
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
            let exists = plan.ledger.groups.contains_key(&group.id) || {
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
                        plan.fixed.duplicate_group_names == DuplicateGroupNames::Share
                            || !plan.ledger.groups.values().any(|link| link.target_id == *id)
                    });
                if let Some(id) = found {
                    plan.ledger.groups.insert(
                        group.id.clone(),
                        GroupLink { target_id: id, exported: group.desired.clone(), members: BTreeSet::new() },
                    );
                }
                plan.ledger.groups.contains_key(&group.id)
            };
            if exists {
                let target_id = plan.ledger.groups.get(&group.id).map(|l| l.target_id.clone()).unwrap_or_default();
                let Some(user_target) =
                    plan.ledger.users.get(&user.id).filter(|l| l.managed).map(|l| l.target_id.clone())
                else {
                    continue;
                };
                if plan.ledger.groups.get(&group.id).is_some_and(|l| l.members.contains(&user_target)) {
                    continue;
                }
                let body = Target::patch(target.member_operations("add", std::slice::from_ref(&user_target)));
                let replies = target.send(Method::PATCH, &format!("Groups/{target_id}"), &[], Some(&body)).await;
                if replies.last().is_some_and(Reply::ok)
                    && let Some(link) = plan.ledger.groups.get_mut(&group.id)
                {
                    link.members.insert(user_target);
                }
            }
        }
    }
    let groups = std::mem::take(&mut plan.groups);
    for work in &groups {
        export_group(&target, &plan.fixed, &mut plan.ledger, &Elsewhere::none(), work, &mut out).await;
        // Only the chosen members are added; others are left as they are.
        let mut chosen = work.clone();
        let existing: BTreeSet<String> =
            plan.ledger.groups.get(&work.id).map(|l| l.members.clone()).unwrap_or_default();
        chosen.members = plan
            .ledger
            .users
            .iter()
            .filter(|(id, link)| existing.contains(&link.target_id) || group_members.contains(id))
            .map(|(id, _)| id.clone())
            .collect();
        let desired = member_targets(&plan.ledger.users, &chosen);
        sync_members(&target, &mut plan.ledger, &chosen, &desired, &mut out).await;
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
    let entries = world.provisioning.logs[first..].iter().map(super::logs::Entry::to_json).collect();
    if let Some(job) = world.provisioning.jobs.get_mut(&plan.job_id) {
        job.users = plan.ledger.users;
        job.groups = plan.ledger.groups;
        job.escrows = plan.ledger.escrows;
    }
    Ok(OnDemand { result, details, entries })
}
