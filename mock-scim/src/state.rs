//! The mock's whole state behind one lock, and the seeded generator for ids and tokens.
//!
//! One `std::sync::Mutex`, never held across an `.await`: a request checks and writes in one
//! critical section, which is what makes 50 concurrent creates of one userName give exactly one 201.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};
use scenarios::{FaultPlan, FaultState, RawExchange, SplitMix64};

use crate::clock::Clock;
use crate::store::{Tenant, Token};
use crate::switches::Switches;

/// How long a SCIM token is valid: one year (aws-scim.md §1.2).
pub const TOKEN_VALIDITY: SignedDuration = SignedDuration::from_hours(365 * 24);
/// How many tokens a tenant may hold at once (aws-scim.md §1.2).
pub const MAX_TOKENS: usize = 2;

/// Everything the mock knows.
#[derive(Debug)]
pub struct World {
    /// The seed everything random derives from; kept for reset.
    pub seed: u64,
    /// Where the clock started; kept for reset.
    pub start: Timestamp,
    /// Behaviour switches.
    pub switches: Switches,
    /// The mock's clock.
    pub clock: Clock,
    /// Ids, tokens and request ids come from here, so the same seed gives the same bytes.
    pub rng: SplitMix64,
    /// Tenants by id, in id order for stable listings.
    pub tenants: BTreeMap<String, Tenant>,
    /// Injected faults.
    pub faults: FaultPlan,
    /// Per-rule counters of the fault plan.
    pub fault_state: FaultState,
    /// Recorded SCIM exchanges, oldest first, capped by `switches.journal_capacity`.
    pub journal: VecDeque<RawExchange>,
    /// Sequence number of the last recorded exchange.
    pub journal_seq: u64,
    /// Per tenant: the clock second being counted and the requests in it, for the rate limit.
    pub rate: BTreeMap<String, (i64, u32)>,
}

impl World {
    /// A fresh world.
    pub fn new(seed: u64, clock: Clock) -> Self {
        World {
            seed,
            start: clock.now(),
            switches: Switches::default(),
            clock,
            rng: SplitMix64::new(seed),
            tenants: BTreeMap::new(),
            faults: FaultPlan::default(),
            fault_state: FaultState::default(),
            journal: VecDeque::new(),
            journal_seq: 0,
            rate: BTreeMap::new(),
        }
    }

    /// Back to the state right after start: no tenants, default switches, no faults, empty journal,
    /// clock at its start, generator re-seeded.
    pub fn reset(&mut self) {
        let mut clock = self.clock.clone();
        clock.set(self.start);
        *self = World::new(self.seed, clock);
    }

    /// A UUID from the seeded generator, with the version-4 and variant bits set.
    pub fn uuid(&mut self) -> String {
        let bits = self.rng.next_u128();
        uuid::Builder::from_random_bytes(bits.to_be_bytes()).into_uuid().to_string()
    }

    /// A tenant id in AWS's observed shape: three alphanumerics, then a UUID
    /// (`kE3934e0444-9ba8-…`, aws-scim.md §1.1, inferred).
    pub fn tenant_id(&mut self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut prefix = String::new();
        for _ in 0..3 {
            let index = (self.rng.next_u64() % ALPHABET.len() as u64) as usize;
            prefix.push(char::from(ALPHABET[index]));
        }
        format!("{prefix}{}", self.uuid())
    }

    /// Issues a token for a tenant; refuses a third (aws-scim.md §1.2).
    pub fn issue_token(&mut self, tenant_id: &str) -> Result<Token, String> {
        let now = self.clock.now();
        let mut bytes = [0u8; 48];
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&self.rng.next_u64().to_be_bytes()[..chunk.len()]);
        }
        let secret = base64::engine::general_purpose::STANDARD.encode(bytes);
        let id = self.uuid();
        let tenant = self.tenants.get_mut(tenant_id).ok_or_else(|| format!("no tenant {tenant_id}"))?;
        if tenant.tokens.len() >= MAX_TOKENS {
            return Err(format!(
                "tenant {tenant_id} already has {MAX_TOKENS} access tokens; revoke one first (AWS allows two at a time)"
            ));
        }
        let token =
            Token { id, secret, created: now, expires: now.saturating_add(TOKEN_VALIDITY).unwrap_or(Timestamp::MAX) };
        tenant.tokens.push(token.clone());
        Ok(token)
    }

    /// Creates a tenant with one token.
    pub fn create_tenant(&mut self, id: Option<String>) -> Result<(String, Token), String> {
        let id = match id {
            Some(id) if self.tenants.contains_key(&id) => return Err(format!("tenant {id} already exists")),
            Some(id) if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => {
                return Err(format!("tenant id {id:?} must be letters, digits and dashes"));
            }
            Some(id) if id == "_admin" => return Err("tenant id _admin is reserved".to_owned()),
            Some(id) => id,
            None => self.tenant_id(),
        };
        self.tenants.insert(id.clone(), Tenant::default());
        let token = self.issue_token(&id)?;
        Ok((id, token))
    }
}

/// Shared state of a running mock.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// Guards `/_admin`; never journaled.
    admin_token: String,
    world: Mutex<World>,
}

impl AppState {
    /// State around a world.
    pub fn new(admin_token: String, world: World) -> Self {
        AppState { inner: Arc::new(Shared { admin_token, world: Mutex::new(world) }) }
    }

    /// Locks the world. A panic in another request cannot leave the store half-written (every
    /// change is checked before it is applied), so a poisoned lock is taken over, not propagated.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.inner.world.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The admin bearer token.
    pub fn admin_token(&self) -> &str {
        &self.inner.admin_token
    }
}
