//! The drivers of one provisioning cycle and of provision on demand (entra-provisioning.md §4,
//! §5.4, §10): plan under the lock, probe, export users, then groups, then memberships, then
//! manager references, then record, under the lock again.
//!
//! The world is locked to read the directory and to record results, never across a SCIM request:
//! `plan` computes every object's desired state, `export`'s state machines say what to send,
//! `drive` sends it, `record` writes down what happened. Within each phase of a cycle, exports run
//! in lanes, up to `exportConcurrency` at a time, and are merged in plan order (`lane`); provision
//! on demand exports one after another, through the same driver.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use jiff::SignedDuration;
use serde_json::{Value, json};

pub use super::export::probe;
use super::export::{
    Export, JoinGroup, ManagerLink, MemberSync, Next, ObjectExport, Outcome, last_reply, manager_target, member_targets,
};
use super::job::UserLink;
use super::lane::{self, Done, Elsewhere, Lane};
use super::logs::{Action, Identity, Status};
use super::plan::Ledger;
pub use super::plan::Subjects;
use super::plan::{self, Fixed, GroupWork, ManagerWork, PLAN_CHUNK, Plan, UserWork};
use super::record::{finish, finish_failed, record_logs};
use super::scim::{Target, TargetError};
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

/// Runs one export to its end: sends each request it asks for (with the target's retries) and
/// hands it the reply; counts the write requests, retries included (`countExports`, §6.2). The only
/// place the engine's exports meet the network, for cycles and provision on demand alike.
pub(crate) async fn drive(target: &Target, ledger: &mut Ledger, mut export: impl Export) -> Outcome {
    let mut writes = 0;
    let mut next = export.start(ledger);
    loop {
        match next {
            Next::Done(mut out) => {
                out.exports += writes;
                return out;
            }
            Next::Send(request) => {
                let query: Vec<(&str, &str)> = request.query.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let replies = target.send(request.method.clone(), &request.path, &query, request.body.as_ref()).await;
                if request.writes() {
                    writes += replies.len();
                }
                next = export.next(ledger, last_reply(&replies));
            }
        }
    }
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
        if world.core.clock.mode() == scenarios::clock::ClockMode::Virtual {
            world.core.clock.advance(SignedDuration::from_secs(i64::try_from(seconds).unwrap_or(0)));
        }
    }))
}

/// Why provision on demand did not reach the target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OnDemandError {
    /// The job has no plan: it does not exist or lacks its secrets.
    #[error("the job is not configured")]
    NotConfigured,
    /// The secrets name no usable target.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The target's probe failed, with the code Entra logs for it.
    #[error("{code}: {message}")]
    Unreachable {
        /// Entra's error code for the failure.
        code: &'static str,
        /// What the target answered, or why it did not.
        message: String,
    },
    /// The job's schema has mappings the engine cannot read.
    #[error("{}", .0.join("; "))]
    Schema(Vec<String>),
}

/// Runs one cycle of a job to completion.
pub async fn run_cycle(state: &AppState, job_id: &str, settings: &Settings) {
    let Some(mut plan) = plan_in_steps(state, job_id, settings).await else { return };
    let guid = state.world().uuid();
    let mut out = Outcome::default();
    let probe_result = match &plan.fixed.target {
        Ok(target) => {
            probe(target, &guid).await.map_err(|(reply, code, message)| (Some(reply), code, message.to_owned()))
        }
        Err(err) => Err((None, "SystemForCrossDomainIdentityManagementInvalidCredentials", err.to_string())),
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
    let imported = users.len() + groups.len();
    export_all(&target, &mut plan, users, &groups, &reference_groups, &mut out).await;
    finish(state, plan, settings, out, imported);
}

/// Plans a cycle with the lock held a chunk at a time (`plan::Begun`), handing it to Graph's
/// handlers in between: a 100,000-user plan is about a second of evaluation, in holds of ≤ 35 ms
/// (measured on 2 cores).
async fn plan_in_steps(state: &AppState, job_id: &str, settings: &Settings) -> Option<Plan> {
    let mut begun = plan::begin(&mut state.world(), job_id, None)?;
    while begun.has_work_left() {
        {
            let world = state.world();
            begun.evaluate(&world, PLAN_CHUNK);
            // Straight to a Graph handler waiting for the lock, if any: unlocked plainly, the lock
            // would be taken again before a waiting thread wakes.
            parking_lot::MutexGuard::unlock_fair(world);
        }
        tokio::task::yield_now().await;
    }
    begun.order_users();
    let mut world = state.world();
    begun.complete(&mut world, settings, retry_waiter(state, settings))
}

/// The exports of a cycle, phase after phase in the order references need (§4.2): users, then
/// groups, then memberships (groups must exist and their members too), then manager references.
/// Within a phase, lanes run up to `exportConcurrency` at a time (`lane`); each phase's results are
/// merged in plan order before the next phase begins.
async fn export_all(
    target: &Target,
    plan: &mut Plan,
    users: Vec<UserWork>,
    groups: &[GroupWork],
    reference_groups: &[GroupWork],
    out: &mut Outcome,
) {
    let n = plan.fixed.concurrency;
    let fixed = &plan.fixed;
    let ledger = &mut plan.ledger;

    // What the manager phase needs is kept; the rest of each user's work goes with its export, so
    // that a large cycle never holds every user's work, link and log entry at once.
    let managing: Vec<ManagerWork> = users.iter().filter_map(UserWork::manager_work).collect();
    let lanes = lane::at(n, users.len(), || lane::users(&users, ledger));
    let lanes = lane::split(ledger, lanes, |i| users[i].id.as_str());
    let mut works: Vec<Option<UserWork>> = users.into_iter().map(Some).collect();
    let done = lane::run(lanes, n, |lane| {
        let owned = lane.members.iter().filter_map(|i| works[*i].take()).collect();
        users_lane(target, fixed, owned, lane)
    })
    .await;
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
        .filter(|d| d.identity_type == Identity::User && d.action == Action::Create && d.status == Status::Success)
        .map(|d| d.source_id.as_str())
        .collect();
    let linking: Vec<(&ManagerWork, String, bool)> = managing
        .iter()
        .filter_map(|w| manager_target(&ledger.users, w).map(|m| (w, m, created.contains(w.id.as_str()))))
        .collect();
    let lanes = lane::at(n, linking.len(), || lane::singles(linking.len()));
    let lanes = lane::split(ledger, lanes, |i| linking[i].0.id.as_str());
    let done = lane::run(lanes, n, |lane| managers_lane(target, &linking, lane)).await;
    lane::merge(ledger, out, done);
}

/// One lane of the users phase: `works` are its members' works, in order, each dropped once
/// exported.
async fn users_lane(target: &Target, fixed: &Fixed, works: Vec<UserWork>, lane: Lane) -> Done {
    let Lane { members, mut ledger, .. } = lane;
    let mut outcomes = Vec::with_capacity(members.len());
    for (i, work) in members.into_iter().zip(works) {
        let out = drive(target, &mut ledger, ObjectExport::user(fixed, target.dialect, &work)).await;
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
        let out = drive(target, &mut ledger, ObjectExport::group(fixed, target.dialect, works[i], &elsewhere)).await;
        outcomes.push((i, out));
    }
    Done { ledger, outcomes }
}

/// One lane of the membership phase; the users' links are read, never written, in this phase.
async fn members_lane(target: &Target, users: &BTreeMap<String, UserLink>, works: &[&GroupWork], lane: Lane) -> Done {
    let Lane { members, mut ledger, .. } = lane;
    let mut outcomes = Vec::with_capacity(members.len());
    for i in members {
        let desired = member_targets(users, works[i]);
        let out = drive(target, &mut ledger, MemberSync::new(target.dialect, works[i], desired)).await;
        outcomes.push((i, out));
    }
    Done { ledger, outcomes }
}

/// One lane of the manager phase: each user with its manager's AWS id and whether this cycle
/// created it.
async fn managers_lane(target: &Target, linking: &[(&ManagerWork, String, bool)], lane: Lane) -> Done {
    let Lane { members, mut ledger, .. } = lane;
    let mut outcomes = Vec::with_capacity(members.len());
    for i in members {
        let (work, manager, created) = &linking[i];
        let out = drive(target, &mut ledger, ManagerLink::new(target.dialect, work, manager.clone(), *created)).await;
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
) -> Result<OnDemand, OnDemandError> {
    let plan = {
        let mut world = state.world();
        plan::plan(&mut world, job_id, settings, Some(&subjects), retry_waiter(state, settings))
    };
    let Some(mut plan) = plan else { return Err(OnDemandError::NotConfigured) };
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
        Err(err) => {
            restore(state, plan);
            return Err(OnDemandError::Target(err));
        }
    };
    let guid = state.world().uuid();
    if let Err((_, code, message)) = probe(&target, &guid).await {
        restore(state, plan);
        return Err(OnDemandError::Unreachable { code, message: message.to_owned() });
    }
    let mut out = Outcome::default();
    let member_works: Vec<UserWork> = {
        let world = state.world();
        let job_schema = world.provisioning.jobs.get(job_id).map(|j| j.schema.clone()).unwrap_or(Value::Null);
        let mappings = read_mappings(&job_schema).map_err(OnDemandError::Schema)?;
        let scope = Scope {
            dir: &world.directory,
            sp_id: &plan.context.sp_id,
            sync_all: plan.fixed.secrets.sync_all,
            mappings: &mappings,
        };
        group_members.iter().map(|id| scope.user(world.directory.user_key(id), id, "Add")).collect()
    };
    let users = std::mem::take(&mut plan.users);
    let dialect = target.dialect;
    for work in users.iter().chain(&member_works) {
        let done = drive(&target, &mut plan.ledger, ObjectExport::user(&plan.fixed, dialect, work)).await;
        for target_id in &done.gone_members {
            plan.ledger.forget_member(target_id);
        }
        out.append(done);
    }
    // The user's assigned groups that already exist in the target: joined, never created.
    if let Some(user) = users.first().filter(|u| u.in_scope) {
        let groups: Vec<GroupWork> = {
            let world = state.world();
            let mappings =
                read_mappings(&world.provisioning.jobs.get(job_id).map(|j| j.schema.clone()).unwrap_or(Value::Null))
                    .map_err(OnDemandError::Schema)?;
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
        let share = plan.fixed.duplicate_group_names == DuplicateGroupNames::Share;
        for group in &groups {
            out.append(drive(&target, &mut plan.ledger, JoinGroup::new(dialect, group, &user.id, share)).await);
        }
    }
    let groups = std::mem::take(&mut plan.groups);
    let elsewhere = Elsewhere::none();
    for work in &groups {
        out.append(drive(&target, &mut plan.ledger, ObjectExport::group(&plan.fixed, dialect, work, &elsewhere)).await);
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
        out.append(drive(&target, &mut plan.ledger, MemberSync::new(dialect, &chosen, desired)).await);
    }
    let result = if out.failures > 0 {
        "Failure"
    } else if out.drafts.iter().all(|d| d.status == Status::Skipped) {
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
