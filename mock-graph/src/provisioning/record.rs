//! Writing down what a cycle did, without I/O: links, escrows, thresholds, quarantine and its
//! back-off, provisioning logs, the execution and the job's status (entra-provisioning.md §5, §6).

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::cycle::Settings;
use super::export::Outcome;
use super::job::{Code, Job, Quarantine, ScheduleState, execution_time};
use super::logs::{Context, Draft, Entry, service_initiator};
use super::plan::Plan;
use crate::state::{AppState, RetrySchedule, World};

/// How long a job may stay in quarantine: "the retries will go on for 28 days after the first
/// failure after which the escrow entry is removed and the job is disabled" (entra-provisioning.md
/// §5.2; §4.1 "quarantine > 4 weeks ⇒ disabled").
pub const QUARANTINE_LIMIT: SignedDuration = SignedDuration::from_hours(28 * 24);

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

pub(crate) fn execution(plan: &Plan, out: &Outcome, imported: usize, state: &str, error: Value) -> Value {
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

/// How many log entries a hold of the lock records, when a cycle records in batches.
const LOG_BATCH: usize = 5_000;

/// What every entry of the plan's cycle shares.
fn context(plan: &Plan) -> Arc<Context> {
    let owned = &plan.context;
    Arc::new(Context {
        tenant_id: owned.tenant_id.clone(),
        job_id: plan.job_id.clone(),
        cycle_id: plan.cycle_id.clone(),
        service_principal: (owned.sp_id.clone(), owned.sp_name.clone()),
        application_id: owned.application_id.clone(),
        at: plan.now,
        initiated_by: service_initiator(),
    })
}

fn push_entries(world: &mut World, context: &Arc<Context>, drafts: impl Iterator<Item = Draft>) {
    for draft in drafts {
        let id = world.uuid();
        let change_id = world.uuid();
        world.provisioning.logs.push(Entry { id, change_id, context: context.clone(), draft });
    }
}

/// Forgets the entries past their retention (§6.1) before new ones are recorded.
fn expire(world: &mut World, now: jiff::Timestamp) {
    let retention = world.switches.provisioning_log_retention_days;
    world.provisioning.expire_logs(now, retention);
}

/// Records the drafts as log entries, after expiring old ones; returns the index of the first new one.
pub(crate) fn record_logs(world: &mut World, plan: &Plan, drafts: Vec<Draft>) -> usize {
    expire(world, plan.now);
    let first = world.provisioning.logs.len();
    push_entries(world, &context(plan), drafts.into_iter());
    first
}

/// Records a cycle's drafts as [`record_logs`] does, a batch per hold of the lock, so that Graph
/// answers while a large cycle records. A reader may see part of a cycle's entries meanwhile
/// (inferred: the references do not say when Entra's entries become readable).
fn record_logs_in_batches(state: &AppState, plan: &Plan, drafts: Vec<Draft>) {
    let context = context(plan);
    {
        let mut world = state.world();
        expire(&mut world, plan.now);
        // Room for the cycle's entries at once, not by doubling: at 100,000 entries, doubling
        // would hold the old and the new buffer, and leave a third of the new one empty.
        world.provisioning.logs.reserve_exact(drafts.len());
    }
    let mut drafts = drafts.into_iter().peekable();
    while drafts.peek().is_some() {
        let mut world = state.world();
        push_entries(&mut world, &context, drafts.by_ref().take(LOG_BATCH));
        parking_lot::MutexGuard::unlock_fair(world);
    }
}

pub(crate) fn finish(state: &AppState, plan: Plan, settings: &Settings, mut out: Outcome, imported: usize) {
    record_logs_in_batches(state, &plan, std::mem::take(&mut out.drafts));
    let mut world = state.world();
    let events = imported.max(out.exported + out.failures);
    let threshold = escrow_threshold(out.failures, out.reference_failures, events, settings.escrow_evaluation_minimum);
    let run_state = if out.failures == 0 { "Succeeded" } else { "EntryLevelErrors" };
    let execution = execution(&plan, &out, imported, run_state, Value::Null);
    let staged_deletes = plan.fixed.staged_deletes;
    let Plan { job_id, ledger, seq, initial, now, .. } = plan;
    let Some(job) = world.provisioning.jobs.get_mut(&job_id) else { return };
    job.users = ledger.users;
    job.groups = ledger.groups;
    job.escrows = ledger.escrows;
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
    if !staged_deletes {
        job.watermark = Some(seq);
        job.deletes_approved = false;
    }
    // A cycle that runs through leaves quarantine, unless it quarantines the job again: then the
    // series goes on, counted from its first failure (§5.2).
    let previous = job.quarantine.take();
    if job.code != Code::Paused {
        job.code = Code::Active;
    }
    job.next_run =
        (job.schedule_state == ScheduleState::Active).then(|| now.saturating_add(settings.interval).unwrap_or(now));
    if staged_deletes {
        let error = json!({"code": "TooManyDeletes", "message": "The number of deletions in this cycle exceeds the accidental-deletion threshold.", "tenantActionable": true});
        job.quarantine = previous;
        quarantine(job, "TooManyDeletes", error, now, settings.into());
    } else if let Some(reason) = threshold {
        if initial {
            // "the service clears escrows, finishes the initial sync, then pauses" (§5.1).
            job.escrows.clear();
            job.escrows_pruned = true;
            job.code = Code::Paused;
            job.schedule_state = ScheduleState::Paused;
            job.next_run = None;
        } else {
            let error = json!({"code": reason, "message": "Too many objects failed to provision in this cycle.", "tenantActionable": true});
            job.quarantine = previous;
            quarantine(job, reason, error, now, settings.into());
        }
    }
}

pub(crate) fn finish_failed(
    state: &AppState,
    plan: Plan,
    settings: &Settings,
    code: &str,
    message: &str,
    credential: bool,
) {
    let mut world = state.world();
    let error = json!({"code": code, "message": message, "tenantActionable": true});
    let execution = execution(&plan, &Outcome::default(), 0, "Failed", error.clone());
    let Plan { job_id, ledger, now, .. } = plan;
    let Some(job) = world.provisioning.jobs.get_mut(&job_id) else { return };
    job.users = ledger.users;
    job.groups = ledger.groups;
    job.escrows = ledger.escrows;
    job.successive_failures += 1;
    job.last_execution = Some(execution);
    if credential {
        // Invalid credentials or an endpoint that cannot be reached quarantine at once (§5.2).
        quarantine(job, "EncounteredQuarantineException", error, now, settings.into());
    } else {
        job.next_run =
            (job.schedule_state == ScheduleState::Active).then(|| now.saturating_add(settings.interval).unwrap_or(now));
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
    pub(crate) fn next_attempt(self, series_began: Timestamp, series_count: u32, now: Timestamp) -> Timestamp {
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
        job.schedule_state = ScheduleState::Disabled;
        job.code = Code::Paused;
        job.next_run = None;
    } else {
        job.code = Code::Quarantine;
        job.next_run = next_attempt;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provisioning::job::Escrow;

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
        job.schedule_state = ScheduleState::Active;
        job.escrows.insert("u".into(), Escrow { kind: "User", attempts: 1, error_code: "Timeout".into() });
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let hours = retries(&mut job, start, backoff(RetrySchedule::SinceFirstFailure), 100);
        assert_eq!(hours.len(), 29 + 1, "6 h, 12 h, then days 1 to 28");
        assert_eq!(hours.last(), Some(&(28 * 24)));
        assert_eq!((job.schedule_state, job.code, job.next_run), (ScheduleState::Disabled, Code::Paused, None));
        assert!(job.escrows.is_empty(), "the escrow entries are removed");
        let q = job.quarantine.as_ref().unwrap();
        assert_eq!((q.reason, q.next_attempt, q.series_began), ("EncounteredQuarantineException", None, start));
        let status = &job.to_json("PT40M")["status"];
        assert_eq!((status["code"].as_str(), status["quarantine"]["nextAttempt"].is_null()), (Some("Paused"), true));
        // Waits between retries: the last one within 28 days is at 666 h; the one at 690 h disables.
        let mut job = Job::new("j".into(), "t".into(), "sp".into(), Value::Null);
        job.schedule_state = ScheduleState::Active;
        let hours = retries(&mut job, start, backoff(RetrySchedule::BetweenRetries), 100);
        assert_eq!(hours.last(), Some(&690));
        assert_eq!(job.schedule_state, ScheduleState::Disabled);
    }
}
