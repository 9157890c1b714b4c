//! The Entra provisioning service behind Graph's synchronization API (entra-provisioning.md):
//! templates, jobs, secrets, Test Connection, cycles on the mock's clock, escrow, quarantine,
//! provision on demand and provisioning logs.
//!
//! # Layout
//! - [`template`]: the `aWSSingleSignon` template, its schema, reading mappings from a schema.
//! - [`mapping`]: evaluating attribute mappings and expressions; SCIM paths.
//! - [`job`]: the job, its status machine and connector data store.
//! - [`cycle`]: the drivers of a cycle and of provision on demand: plan, probe, then the exports in
//!   order (users, groups, memberships, managers), then the record; `drive`, the one place exports
//!   meet the network; the engine's settings and secrets.
//! - `scope`: who is in scope (assignments, scoping filters) and each object's desired values;
//!   pure.
//! - `plan`: what a cycle looks at (watermark, change log, escrows), read under the lock in steps
//!   (the candidates, then the users a chunk per hold, then the groups and the ledger); its
//!   read-only part and the ledger of links and escrows the exports write.
//! - `export`: per object, a state machine over the target's replies (`start`, then
//!   `next(reply) → Send(request) | Done(outcome)`): users and groups, memberships in chunks,
//!   manager references, on-demand group joins; it writes only its own object's ledger entries.
//! - `lane`: which exports of a phase depend on each other (one lane, in plan order) and which run
//!   at once (`exportConcurrency`); results merged in plan order.
//! - `record`: links, escrows, thresholds, quarantine and back-off, logs and the job's status,
//!   written under the lock, without I/O.
//! - [`scim`]: the engine's own SCIM client, in Entra's dialects.
//! - [`logs`]: `provisioningObjectSummary` entries.

pub mod cycle;
mod export;
pub mod job;
mod lane;
pub mod logs;
pub mod mapping;
mod plan;
#[cfg(test)]
mod plan_laws;
mod record;
pub mod scim;
mod scope;
pub mod template;

use std::collections::{BTreeMap, VecDeque};

use jiff::Timestamp;

use crate::state::AppState;

/// The provisioning service's state.
#[derive(Debug, Clone, Default)]
pub struct Provisioning {
    /// Jobs by id.
    pub jobs: BTreeMap<String, job::Job>,
    /// Synchronization secrets by service principal id, as `{key, value}` pairs.
    pub secrets: BTreeMap<String, Vec<(String, String)>>,
    /// Provisioning log entries, oldest first.
    pub logs: Vec<logs::Entry>,
    /// When recent provision-on-demand calls came, for the 5 per 10 seconds limit (§5.4).
    pub on_demand: VecDeque<Timestamp>,
}

/// How many provision-on-demand calls a window admits, and the window: "5 requests per 10 seconds"
/// (entra-provisioning.md §5.4).
const ON_DEMAND_LIMIT: (usize, i64) = (5, 10);

impl Provisioning {
    /// Admits a provision-on-demand call at `now`, on the mock's clock, or says how many seconds to
    /// wait: the sixth within 10 seconds is refused (§5.4; the 429 and its `Retry-After` inferred).
    pub fn admit_on_demand(&mut self, now: Timestamp) -> Result<(), u64> {
        let (limit, seconds) = ON_DEMAND_LIMIT;
        let window_start = now.saturating_sub(jiff::SignedDuration::from_secs(seconds)).unwrap_or(now);
        self.on_demand.retain(|at| *at > window_start);
        if self.on_demand.len() >= limit {
            return Err(seconds.unsigned_abs());
        }
        self.on_demand.push_back(now);
        Ok(())
    }

    /// Forgets log entries older than `retention_days` before `now`: Graph keeps provisioning logs
    /// 30 days with a premium licence, 7 without (entra-provisioning.md §6.1). Entries are recorded
    /// in clock order, so the expired ones are a prefix.
    pub fn expire_logs(&mut self, now: Timestamp, retention_days: u32) {
        let cutoff = now - jiff::SignedDuration::from_hours(24 * i64::from(retention_days));
        let expired = self.logs.partition_point(|entry| entry.at() < cutoff);
        self.logs.drain(..expired);
    }
}

/// Runs every cycle that falls due up to `until`, in time order, each at its scheduled instant on
/// the mock's clock, to completion; then puts the clock at `until` (§4.1, ARCHITECTURE runtime model).
pub async fn run_due(state: &AppState, until: Timestamp) {
    loop {
        let (due, settings) = {
            let world = state.world();
            let due = world
                .provisioning
                .jobs
                .values()
                .filter_map(|job| job.next_run.filter(|at| *at <= until).map(|at| (at, job.id.clone())))
                .min();
            (due, world.engine_settings())
        };
        let Some((at, job_id)) = due else { break };
        {
            let mut world = state.world();
            if world.core.clock.now() < at {
                world.core.clock.set(at);
            }
            // Taken off the schedule before running; the cycle sets the next one.
            if let Some(job) = world.provisioning.jobs.get_mut(&job_id) {
                job.next_run = None;
            }
        }
        cycle::run_cycle(state, &job_id, &settings).await;
    }
    let mut world = state.world();
    if world.core.clock.now() < until {
        world.core.clock.set(until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provision_on_demand_admits_five_calls_per_10_seconds() {
        let mut service = Provisioning::default();
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let at = |s: i64| start + jiff::SignedDuration::from_secs(s);
        for s in 0..5 {
            assert_eq!(service.admit_on_demand(at(s)), Ok(()), "call {s}");
        }
        assert_eq!(service.admit_on_demand(at(5)), Err(10), "the sixth within 10 s");
        assert_eq!(service.admit_on_demand(at(9)), Err(10), "a refused call does not count");
        assert_eq!(service.admit_on_demand(at(10)), Ok(()), "the first call has left the window");
        assert_eq!(service.admit_on_demand(at(10)), Err(10));
    }
}
