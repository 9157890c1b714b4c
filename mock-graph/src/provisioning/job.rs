//! A synchronization job: its schedule and status machine, the connector data store that links
//! Entra objects to their target ids, escrows and quarantine (entra-provisioning.md §5, §7, §10).

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde_json::{Value, json};

/// `schedule.state` (§7.1, §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleState {
    /// Cycles run every interval.
    Active,
    /// Paused by the administrator, or by the escrow threshold on an initial cycle.
    Paused,
    /// Never started, or disabled after 28 days in quarantine.
    Disabled,
}

impl ScheduleState {
    /// As Graph writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ScheduleState::Active => "Active",
            ScheduleState::Paused => "Paused",
            ScheduleState::Disabled => "Disabled",
        }
    }
}

/// The job's status code (§7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Never run, no credentials.
    NotConfigured,
    /// Started, first cycle not yet complete.
    NotRun,
    /// Running periodically.
    Active,
    /// Paused; also a job disabled after 28 days in quarantine, whose schedule reads `Disabled`
    /// (§5.2; the code inferred from the disabled job of §7.1's example).
    Paused,
    /// Quarantined: reduced frequency.
    Quarantine,
}

impl Code {
    /// As Graph writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::NotConfigured => "NotConfigured",
            Code::NotRun => "NotRun",
            Code::Active => "Active",
            Code::Paused => "Paused",
            Code::Quarantine => "Quarantine",
        }
    }
}

/// What the job remembers of a provisioned user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserLink {
    /// The target's id.
    pub target_id: String,
    /// The values last exported, by SCIM path.
    pub exported: BTreeMap<String, String>,
    /// Still managed: a user unassigned or filtered out of scope is no longer managed, so no DELETE
    /// follows; one disabled or soft-deleted in Entra still is (§4.4).
    pub managed: bool,
}

/// What the job remembers of a provisioned group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupLink {
    /// The target's id.
    pub target_id: String,
    /// The values last exported, by SCIM path.
    pub exported: BTreeMap<String, String>,
    /// The target user ids exported as members; Entra never re-reads members (§4.3).
    pub members: BTreeSet<String>,
}

/// A failed object waiting for its retry (§5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escrow {
    /// `User` or `Group`.
    pub kind: &'static str,
    /// Failed attempts so far.
    pub attempts: u32,
    /// The last error code.
    pub error_code: String,
}

/// The quarantine state (§5.2).
#[derive(Debug, Clone, PartialEq)]
pub struct Quarantine {
    /// Why.
    pub reason: &'static str,
    /// When this quarantine series began.
    pub series_began: Timestamp,
    /// When the current quarantine began.
    pub current_began: Timestamp,
    /// The next attempt; none once the job is disabled after 28 days (§5.2).
    pub next_attempt: Option<Timestamp>,
    /// How many cycles failed in quarantine.
    pub series_count: u32,
    /// The error: `{code, message, tenantActionable}`.
    pub error: Value,
}

/// A synchronization job.
#[derive(Debug, Clone)]
pub struct Job {
    /// `aWSSingleSignon.{tenant hex}.{appId}` (§1).
    pub id: String,
    /// `aWSSingleSignon`.
    pub template_id: String,
    /// The service principal it belongs to.
    pub service_principal_id: String,
    /// The effective schema, editable through PUT.
    pub schema: Value,
    /// `schedule.state`: `Disabled` (never started, or disabled after 28 days in quarantine),
    /// `Active` or `Paused`.
    pub schedule_state: ScheduleState,
    /// The status code.
    pub code: Code,
    /// When the next cycle is due.
    pub next_run: Option<Timestamp>,
    /// The change-log position the last cycle reached; `None` means the next cycle is initial.
    pub watermark: Option<u64>,
    /// Entra user id → link.
    pub users: BTreeMap<String, UserLink>,
    /// Entra group id → link.
    pub groups: BTreeMap<String, GroupLink>,
    /// Entra object id → escrow.
    pub escrows: BTreeMap<String, Escrow>,
    /// The last cycle's `synchronizationTaskExecution`.
    pub last_execution: Option<Value>,
    /// The last cycle without errors.
    pub last_successful_execution: Option<Value>,
    /// The last cycle without errors that exported something.
    pub last_successful_execution_with_exports: Option<Value>,
    /// Quarantine, if any.
    pub quarantine: Option<Quarantine>,
    /// First time a cycle ended with nothing left to do.
    pub steady_first: Option<Timestamp>,
    /// Last time a cycle ended with nothing left to do.
    pub steady_last: Option<Timestamp>,
    /// Cycles in a row that failed as a whole.
    pub successive_failures: u64,
    /// Whether escrows were pruned in an initial cycle that hit the threshold (§5.1).
    pub escrows_pruned: bool,
    /// `ForceDeletes` approved the staged deletions (§5.3).
    pub deletes_approved: bool,
}

/// The "no value" timestamp Graph prints for steady-state times (§5.2 example).
pub const NEVER: &str = "0001-01-01T00:00:00Z";

/// `TimeSpan.MaxValue`, the interval of a job never started (§4.1).
pub const NEVER_INTERVAL: &str = "P10675199DT2H48M5.4775807S";

fn time(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.7fZ").to_string()
}

impl Job {
    /// A job as `POST …/jobs` creates it: disabled, never run (§7).
    pub fn new(id: String, template_id: String, service_principal_id: String, schema: Value) -> Self {
        Job {
            id,
            template_id,
            service_principal_id,
            schema,
            schedule_state: ScheduleState::Disabled,
            code: Code::NotConfigured,
            next_run: None,
            watermark: None,
            users: BTreeMap::new(),
            groups: BTreeMap::new(),
            escrows: BTreeMap::new(),
            last_execution: None,
            last_successful_execution: None,
            last_successful_execution_with_exports: None,
            quarantine: None,
            steady_first: None,
            steady_last: None,
            successive_failures: 0,
            escrows_pruned: false,
            deletes_approved: false,
        }
    }

    /// The job as Graph returns it: `id`, `templateId`, `schedule`, `status`,
    /// `synchronizationJobSettings` (§7.1, §7.2).
    pub fn to_json(&self, interval: &str) -> Value {
        let quarantine = self.quarantine.as_ref().map(|q| {
            json!({
                "currentBegan": time(q.current_began),
                "nextAttempt": q.next_attempt.map(time),
                "reason": q.reason,
                "seriesBegan": time(q.series_began),
                "seriesCount": q.series_count,
                "error": q.error,
            })
        });
        let users = self.users.values().filter(|l| l.managed).count();
        json!({
            "id": self.id,
            "templateId": self.template_id,
            "schedule": {
                "expiration": null,
                "interval": if self.schedule_state == ScheduleState::Disabled { NEVER_INTERVAL } else { interval },
                "state": self.schedule_state.as_str(),
            },
            "status": {
                "code": self.code.as_str(),
                "countSuccessiveCompleteFailures": self.successive_failures,
                "escrowsPruned": self.escrows_pruned,
                "lastExecution": self.last_execution,
                "lastSuccessfulExecution": self.last_successful_execution,
                "lastSuccessfulExecutionWithExports": self.last_successful_execution_with_exports,
                "progress": [],
                "quarantine": quarantine,
                "steadyStateFirstAchievedTime": self.steady_first.map(time).unwrap_or_else(|| NEVER.to_owned()),
                "steadyStateLastAchievedTime": self.steady_last.map(time).unwrap_or_else(|| NEVER.to_owned()),
                "synchronizedEntryCountByType": [
                    {"key": "User", "value": users},
                    {"key": "Group", "value": self.groups.len()}
                ],
                "troubleshootingUrl": ""
            },
            "synchronizationJobSettings": [
                {"name": "QuarantineTooManyDeletesThreshold", "value": "500"}
            ]
        })
    }
}

/// Formats a task-execution time as Graph does, with seven fractional digits.
pub fn execution_time(ts: Timestamp) -> String {
    time(ts)
}
