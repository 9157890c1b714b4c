//! The mock's whole state behind one lock, and its seeded generator.
//!
//! One mutex (parking_lot's, for its fair hand-over), never held across an `.await`: each request
//! reads or writes in one critical section, so concurrent writes cannot interleave halfway.

use std::collections::HashMap;

use jiff::Timestamp;
use scenarios::clock::Clock;
use scenarios::serve::{MockWorld, SwitchSet};
use scenarios::{MockCore, SplitMix64};
use serde_json::{Map, Value, json};

use crate::directory::Directory;

/// Who may ask for tokens, and which tenant this is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// The tenant's GUID.
    pub id: String,
    /// Its verified domain, e.g. `contoso.onmicrosoft.com`.
    pub domain: String,
    /// The app registration allowed the client-credentials grant.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
}

/// How the retries of a quarantined job are spaced. The quarantine page lists "the first retry
/// will happen in 6 hours. The second retry happens 12 hours after the first failure. The third
/// retry happens 24 hours after the first failure", then every 24 hours, for 28 days
/// (entra-provisioning.md §5.2, "+6h, +12h, +24h"): offsets from the first failure, as the page's
/// 2022 wording also read (6, 12, 24, 48, 96, 168 hours "after the first failure"). The other
/// reading makes them the waits between retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RetrySchedule {
    /// Retries at the first retry's delay, then 12 h and 24 h after the first failure, then every
    /// 24 h: 6 h, 12 h, 24 h, 48 h, … (the default).
    SinceFirstFailure,
    /// Waits the first retry's delay, then 12 h, then 24 h between retries: 6 h, 18 h, 42 h, 66 h, …
    BetweenRetries,
}

/// What the engine does when an Entra group matches, on displayName, an AWS group another Entra group
/// of the job is already linked to. Entra lets two groups share a displayName; AWS does not, nor two
/// names differing only in case (aws-scim.md §2.7, §3.5), so the second group's matching query
/// (`displayName eq`, entra-provisioning.md §3.1, §4.2 step 3) finds the first one's AWS group. No
/// source says what Entra does then: both values are **inferred**.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DuplicateGroupNames {
    /// The second group is refused at matching: a failure log entry `DuplicateSourceEntries`, Entra's
    /// code for "more than one user was found with the configured matching attributes" (§6.3, the
    /// log-analysis page's wording), escrowed and retried every cycle until the names differ or the
    /// first group goes (the default: a target object is joined to one source object at most).
    Refuse,
    /// The second group links to the same AWS group, as the matching rule literally gives ("Match ⇒
    /// update with source attributes; cache target id", §4.2 step 5): the two Entra groups share it,
    /// each writing its own displayName and externalId over the other's and adding and removing its
    /// own members.
    Share,
}

/// Refuses 0: a deleted user would be purged before anyone could see it in deleted items.
fn at_least_one_day<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let days = <u32 as serde::Deserialize>::deserialize(deserializer)?;
    if days == 0 {
        return Err(serde::de::Error::custom("deletedItemsRetentionDays: must be at least 1, got 0"));
    }
    Ok(days)
}

/// Switches for behaviour the sources leave open.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Switches {
    /// How many members `$expand=members` returns: 20 per the docs, 100 per a newer known issue
    /// (microsoft-graph.md §3.8).
    pub expand_cap: usize,
    /// Attempts per SCIM request answered 429 or 5xx, the first included (inferred: 3).
    pub scim_attempts: u32,
    /// Per-request timeout of the engine's SCIM client, in seconds (fractions allowed, so that tests
    /// can meet a timeout in milliseconds).
    pub scim_timeout_seconds: f64,
    /// First retry after a quarantine, ISO-8601: `PT6H` per the docs, `PT5M` per a Graph example
    /// (entra-provisioning.md §5.2).
    pub quarantine_first_retry: String,
    /// Time between cycles, ISO-8601: `PT40M`, fixed in Entra (entra-provisioning.md §4.1). Anything
    /// from `PT1S` up to it exists only for demos under a real clock, where cycles come by themselves.
    pub cycle_interval: String,
    /// Whether the engine waits out a SCIM `Retry-After` (on the mock's clock) before retrying.
    pub honour_retry_after: bool,
    /// Days provisioning logs are kept: 30 with a premium licence, 7 without
    /// (entra-provisioning.md §6.1).
    pub provisioning_log_retention_days: u32,
    /// How quarantine retries are spaced: from the first failure (the default) or between retries
    /// (entra-provisioning.md §5.2).
    pub quarantine_retry_schedule: RetrySchedule,
    /// Days a soft-deleted user stays in deleted items before Entra purges it: 30
    /// (entra-provisioning.md §4.3 step 9); other values only shorten or lengthen tests.
    #[serde(deserialize_with = "at_least_one_day")]
    pub deleted_items_retention_days: u32,
    /// Two Entra groups whose displayNames are equal, ignoring case: the second refused (the
    /// default) or linked to the first one's AWS group (inferred, see [`DuplicateGroupNames`]).
    pub duplicate_group_names: DuplicateGroupNames,
    /// Whether a user restored from deleted items gets back its group memberships and app role
    /// assignments: Graph's restore brings an item back "fully" (directory-deleteditems-restore.md;
    /// inferred for these links, the reference is silent).
    pub restore_relations: bool,
    /// The failures at which a cycle's escrow thresholds start to be evaluated: 5,000, thresholds
    /// "subject to change" (entra-provisioning.md §5.2); lower values only shrink tests.
    pub escrow_evaluation_minimum: usize,
    /// How many exports of a cycle's phase run at once, 1 to 64: 1 (one request at a time) by
    /// default. Nothing documents Entra sending SCIM requests in parallel: entra-provisioning.md
    /// §8.2 asks the target for "≥ 25 requests/s per tenant", a rate one request at a time meets
    /// whenever a request takes under 40 ms, and Microsoft's own estimate of 0.01–0.08 minutes per
    /// object (§8.1) is slower than one request at a time against any such target; so higher values are
    /// **inferred**, for modelling a concurrent engine and for speed. Objects whose exports depend on
    /// each other still go one after another, and the logs are the same at every value (the
    /// engine's `lane` module).
    pub export_concurrency: usize,
    /// Whether a body on `/v1.0` must say it is JSON (`Content-Type: application/json`) to be read:
    /// on by default, as Graph answers a missing or other type with 400 (inferred from Graph's
    /// answers quoted in its docs' issues; the reference is silent).
    pub require_json_content_type: bool,
    /// Whether values written through Graph are held to Entra's longest (a UPN of 113
    /// characters, a displayName of 256, …: `directory::check_lengths`); inferred from Microsoft's
    /// resource pages, the reference lists none.
    pub property_length_limits: bool,
}

impl Default for Switches {
    fn default() -> Self {
        Switches {
            expand_cap: 20,
            scim_attempts: 3,
            scim_timeout_seconds: 30.0,
            quarantine_first_retry: "PT6H".to_owned(),
            cycle_interval: "PT40M".to_owned(),
            honour_retry_after: true,
            provisioning_log_retention_days: 30,
            quarantine_retry_schedule: RetrySchedule::SinceFirstFailure,
            deleted_items_retention_days: 30,
            duplicate_group_names: DuplicateGroupNames::Refuse,
            restore_relations: true,
            escrow_evaluation_minimum: 5_000,
            export_concurrency: 1,
            require_json_content_type: true,
            property_length_limits: true,
        }
    }
}

/// Why a switches update was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SwitchError {
    /// No switch of that name.
    #[error("unknown switch {0:?}")]
    Unknown(String),
    /// A value of the wrong type.
    #[error("{0}")]
    Type(String),
    /// A value out of the switch's range.
    #[error("{switch}: must be {range}, got {got}")]
    Range {
        /// The switch, as the API names it.
        switch: &'static str,
        /// What it takes.
        range: &'static str,
        /// What it was given.
        got: String,
    },
}

/// Entra's time between cycles (entra-provisioning.md §4.1).
pub const ENTRA_CYCLE_INTERVAL: jiff::SignedDuration = jiff::SignedDuration::from_mins(40);

impl SwitchSet for Switches {
    type Error = SwitchError;

    fn updated(&self, update: Map<String, Value>) -> Result<Switches, SwitchError> {
        self.patched(update)
    }
}

impl Switches {
    /// These switches with `update`'s (camelCase keys, as `PATCH /_admin/switches` takes them), or
    /// why not: an unknown key, a value of the wrong type, or one out of its range. Nothing is
    /// changed on a refusal.
    pub fn patched(&self, update: serde_json::Map<String, serde_json::Value>) -> Result<Switches, SwitchError> {
        let mut current = serde_json::to_value(self).map_err(|e| SwitchError::Type(e.to_string()))?;
        for (key, value) in update {
            if current.get(&key).is_none() {
                return Err(SwitchError::Unknown(key));
            }
            current[key] = value;
        }
        let next: Switches = serde_json::from_value(current).map_err(|e| SwitchError::Type(e.to_string()))?;
        next.check()?;
        Ok(next)
    }

    fn check(&self) -> Result<(), SwitchError> {
        let range =
            |switch, range, got: &dyn std::fmt::Display| SwitchError::Range { switch, range, got: got.to_string() };
        if ![20, 100].contains(&self.expand_cap) {
            return Err(range("expandCap", "20 or 100", &self.expand_cap));
        }
        if !(0.001..=3600.0).contains(&self.scim_timeout_seconds) {
            return Err(range("scimTimeoutSeconds", "from 0.001 to 3600", &self.scim_timeout_seconds));
        }
        if !(1..=64).contains(&self.export_concurrency) {
            return Err(range("exportConcurrency", "from 1 to 64", &self.export_concurrency));
        }
        let interval = scenarios::clock::forward_by(scenarios::clock::DEFAULT_START, &self.cycle_interval);
        if !interval.is_ok_and(|by| (jiff::SignedDuration::from_secs(1)..=ENTRA_CYCLE_INTERVAL).contains(&by)) {
            return Err(range("cycleInterval", "an ISO-8601 duration from PT1S to PT40M", &self.cycle_interval));
        }
        Ok(())
    }

    /// [`Switches::cycle_interval`] as a duration (checked when the switch was set).
    pub fn cycle_interval(&self) -> jiff::SignedDuration {
        scenarios::clock::forward_by(scenarios::clock::DEFAULT_START, &self.cycle_interval)
            .unwrap_or(ENTRA_CYCLE_INTERVAL)
    }
}

/// Everything the mock knows.
#[derive(Debug)]
pub struct World {
    /// The seed everything random derives from.
    pub seed: u64,
    /// The tenant and its client credentials.
    pub tenant: Tenant,
    /// The clock, the fault plan and the journal of exchanges.
    pub core: MockCore,
    /// Ids, tokens and request ids come from here.
    pub rng: SplitMix64,
    /// Issued access tokens and when each expires.
    pub tokens: HashMap<String, Timestamp>,
    /// The directory.
    pub directory: Directory,
    /// Switches.
    pub switches: Switches,
    /// Bumped by a delta reset; tokens of an older generation answer 410.
    pub delta_generation: u64,
    /// The provisioning service.
    pub provisioning: crate::provisioning::Provisioning,
    /// The provisioning engine's HTTP client, one for the mock's life: its connections to a SCIM
    /// endpoint are kept and reused from cycle to cycle, as a service's would be, rather than
    /// opened anew each cycle.
    pub scim_client: reqwest::Client,
}

impl World {
    /// A fresh world; `scim_client` is the engine's client (whose trusted roots the config chose).
    pub fn new(seed: u64, clock: Clock, tenant: Tenant, scim_client: reqwest::Client) -> Self {
        World {
            seed,
            directory: Directory::new(&tenant.domain),
            tenant,
            core: MockCore::new(clock),
            rng: SplitMix64::new(seed),
            tokens: HashMap::new(),
            switches: Switches::default(),
            delta_generation: 0,
            provisioning: crate::provisioning::Provisioning::default(),
            scim_client,
        }
    }

    /// The engine's settings from the switches.
    pub fn engine_settings(&self) -> crate::provisioning::cycle::Settings {
        let first_retry = self
            .switches
            .quarantine_first_retry
            .parse::<jiff::Span>()
            .ok()
            .and_then(|span| span.to_duration(jiff::SpanRelativeTo::days_are_24_hours()).ok())
            .unwrap_or(jiff::SignedDuration::from_hours(6));
        crate::provisioning::cycle::Settings {
            client: self.scim_client.clone(),
            attempts: self.switches.scim_attempts,
            timeout: std::time::Duration::from_secs_f64(self.switches.scim_timeout_seconds),
            interval: self.switches.cycle_interval(),
            quarantine_first_retry: first_retry,
            quarantine_retry_schedule: self.switches.quarantine_retry_schedule,
            honour_retry_after: self.switches.honour_retry_after,
            duplicate_group_names: self.switches.duplicate_group_names,
            escrow_evaluation_minimum: self.switches.escrow_evaluation_minimum,
            export_concurrency: self.switches.export_concurrency,
        }
    }

    /// Purges the deleted users that have turned the retention's age by now (30 days,
    /// entra-provisioning.md §4.3 step 9). Called before every Graph request and every cycle reads
    /// the directory, so each purge is in the change log before anything that happens after its
    /// instant.
    pub fn expire_deleted_users(&mut self) {
        let days = i64::from(self.switches.deleted_items_retention_days);
        let now = self.core.now();
        let cutoff = now.saturating_sub(jiff::SignedDuration::from_hours(24 * days)).unwrap_or(Timestamp::MIN);
        self.directory.expire_deleted(cutoff);
    }

    /// A GUID from the seeded generator.
    pub fn uuid(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.rng.next_u128().to_be_bytes()).into_uuid().to_string()
    }

    /// Sixteen seeded bytes.
    pub fn bytes16(&mut self) -> [u8; 16] {
        self.rng.next_u128().to_be_bytes()
    }
}

/// What the shared admin API and pipeline (`scenarios::serve`) reach of the world.
impl MockWorld for World {
    type Switches = Switches;

    fn parts(&mut self) -> (&mut MockCore, &mut Switches) {
        (&mut self.core, &mut self.switches)
    }

    fn fresh(&self) -> World {
        World::new(self.seed, self.core.clock.clone(), self.tenant.clone(), self.scim_client.clone())
    }

    /// When the next provisioning cycle falls due (`null` when no job is scheduled): what a driver
    /// that keeps another clock on the same timeline (the harness, for AWS's) steps by.
    fn clock_details(&self) -> Map<String, Value> {
        let next_cycle = self.provisioning.jobs.values().filter_map(|job| job.next_run).min();
        Map::from_iter([("nextCycleAt".to_owned(), json!(next_cycle))])
    }

    /// Every provisioning cycle that falls due runs, to completion, each at its own instant.
    fn advance_to(state: &AppState, until: Timestamp) -> impl Future<Output = ()> + Send {
        crate::provisioning::run_due(state, until)
    }
}

/// Shared state of a running mock: the world behind its one lock, and the admin token.
pub type AppState = scenarios::serve::MockState<World>;

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::*;

    fn update(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_switches_patch_changes_what_it_names_and_refuses_what_is_unknown_or_out_of_range() {
        let switches = Switches::default();
        let next = switches.patched(update(json!({"expandCap": 100, "exportConcurrency": 8}))).unwrap();
        assert_eq!((next.expand_cap, next.export_concurrency, next.scim_attempts), (100, 8, 3));
        let refused = |value: Value| switches.patched(update(value)).unwrap_err();
        assert_eq!(refused(json!({"expandcap": 100})).to_string(), "unknown switch \"expandcap\"");
        assert_eq!(refused(json!({"expandCap": 50})).to_string(), "expandCap: must be 20 or 100, got 50");
        let range = |value: Value| match refused(value) {
            SwitchError::Range { switch, .. } => switch,
            other => panic!("not a range error: {other}"),
        };
        assert_eq!(range(json!({"scimTimeoutSeconds": 0})), "scimTimeoutSeconds");
        assert_eq!(range(json!({"exportConcurrency": 65})), "exportConcurrency");
        assert!(matches!(refused(json!({"scimAttempts": "three"})), SwitchError::Type(_)), "a value of the wrong type");
    }
}
