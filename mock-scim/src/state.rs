//! The mock's whole state behind one lock, and the seeded generators for ids and tokens.
//!
//! One mutex ([`scenarios::serve::MockState`]), never held across an `.await`: a request checks and
//! writes in one critical section, which is what makes 50 concurrent creates of one userName give
//! exactly one 201.
//!
//! Tenants and tokens (admin calls, one at a time) draw from one seeded stream. What a SCIM request
//! is given (its request id, the id of what it creates) is drawn from its own content instead
//! ([`World::request_draws`], [`World::resource_id`]), never from the order requests arrive in: a
//! client sending many requests at once (mock-graph's `exportConcurrency`) gets the same ids
//! whatever order they come in.

use std::collections::BTreeMap;

use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};
use scenarios::rng::mix;
use scenarios::serve::MockWorld;
use scenarios::{MockCore, SplitMix64};

use crate::clock::Clock;
use crate::hash::FastMap;
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
    /// Behaviour switches.
    pub switches: Switches,
    /// The clock, the fault plan and the journal of SCIM exchanges.
    pub core: MockCore,
    /// Ids, tokens and request ids come from here, so the same seed gives the same bytes.
    pub rng: SplitMix64,
    /// Tenants by id, in id order for stable listings.
    pub tenants: BTreeMap<String, Tenant>,
    /// Per tenant: the clock second being counted and the requests in it, for the rate limit.
    pub rate: BTreeMap<String, (i64, u32)>,
    /// How many SCIM requests of each content (a hash of method, path, query and body) came
    /// before: what a request draws from is keyed by it (see [`World::request_draws`]).
    pub request_counts: FastMap<u64, u32>,
    /// How many resources were created before with each name in each tenant (`tenant`, kind,
    /// userName or displayName folded): a new resource's id is keyed by it (see
    /// [`World::resource_id`]).
    pub created_names: FastMap<String, u32>,
}

impl World {
    /// A fresh world.
    pub fn new(seed: u64, clock: Clock) -> Self {
        World {
            seed,
            switches: Switches::default(),
            core: MockCore::new(clock),
            rng: SplitMix64::new(seed),
            tenants: BTreeMap::new(),
            rate: BTreeMap::new(),
            request_counts: FastMap::default(),
            created_names: FastMap::default(),
        }
    }

    /// A UUID from the seeded generator, with the version-4 and variant bits set.
    pub fn uuid(&mut self) -> String {
        uuid_from(&mut self.rng)
    }

    /// The generator a SCIM request draws its request id from: seeded by the mock's seed, the
    /// request's content and how many requests of that content came before. Two requests' draws
    /// never depend on which arrived first, unless they are the same request.
    pub fn request_draws(&mut self, method: &str, path: &str, query: Option<&str>, body: &[u8]) -> SplitMix64 {
        let content = fnv1a([method.as_bytes(), path.as_bytes(), query.unwrap_or("").as_bytes(), body]);
        let count = self.request_counts.entry(content).or_insert(0);
        let before = *count;
        *count += 1;
        SplitMix64::new(mix(self.seed, content, u64::from(before)))
    }

    /// The id of a new user or group named `name` (`kind` `user` or `group`) in a tenant: seeded by
    /// the mock's seed, the tenant, the folded name and how many resources of that name the tenant
    /// had before; counted by [`World::created`] once the create succeeds. Names are unique in a
    /// tenant, so whichever of several creates of one name succeeds, the resource gets the same id.
    pub fn resource_id(&self, tenant: &str, kind: &str, name: &str) -> String {
        self.resource_id_keyed(&name_key(tenant, kind, name))
    }

    /// [`World::resource_id`] from a key [`name_key`] made, so that a create builds it once.
    pub(crate) fn resource_id_keyed(&self, key: &str) -> String {
        let before = self.created_names.get(key).copied().unwrap_or(0);
        let content = fnv1a([key.as_bytes()]);
        uuid_from(&mut SplitMix64::new(mix(self.seed, content, u64::from(before) | (1 << 32))))
    }

    /// Counts a created resource, for the next [`World::resource_id`] of its name.
    pub fn created(&mut self, tenant: &str, kind: &str, name: &str) {
        self.created_keyed(name_key(tenant, kind, name));
    }

    /// [`World::created`] from a key [`name_key`] made.
    pub(crate) fn created_keyed(&mut self, key: String) {
        *self.created_names.entry(key).or_insert(0) += 1;
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
    pub fn issue_token(&mut self, tenant_id: &str) -> Result<Token, TenantError> {
        let now = self.core.now();
        let mut bytes = [0u8; 48];
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&self.rng.next_u64().to_be_bytes()[..chunk.len()]);
        }
        let secret = base64::engine::general_purpose::STANDARD.encode(bytes);
        let id = self.uuid();
        let tenant = self.tenants.get_mut(tenant_id).ok_or_else(|| TenantError::NoSuchTenant(tenant_id.to_owned()))?;
        if tenant.tokens.len() >= MAX_TOKENS {
            return Err(TenantError::TooManyTokens(tenant_id.to_owned()));
        }
        let token =
            Token { id, secret, created: now, expires: now.saturating_add(TOKEN_VALIDITY).unwrap_or(Timestamp::MAX) };
        tenant.tokens.push(token.clone());
        Ok(token)
    }

    /// Creates a tenant with one token.
    pub fn create_tenant(&mut self, id: Option<String>) -> Result<(String, Token), TenantError> {
        let id = match id {
            Some(id)
                if id.is_empty()
                    || id.len() > MAX_TENANT_ID_LEN
                    || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') =>
            {
                return Err(TenantError::InvalidId(id));
            }
            Some(id) if self.tenants.contains_key(&id) => return Err(TenantError::Exists(id)),
            Some(id) => id,
            None => self.tenant_id(),
        };
        self.tenants.insert(id.clone(), Tenant::default());
        let token = self.issue_token(&id)?;
        Ok((id, token))
    }
}

/// The longest tenant id the admin API takes (inferred: AWS's own are 40 characters).
pub const MAX_TENANT_ID_LEN: usize = 128;

/// Why a tenant or a token was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantError {
    /// The id is empty, too long, or not letters, digits and dashes.
    #[error("tenant id {0:?} must be 1 to 128 letters, digits and dashes")]
    InvalidId(String),
    /// A tenant with that id exists.
    #[error("tenant {0} already exists")]
    Exists(String),
    /// No tenant with that id.
    #[error("no tenant {0}")]
    NoSuchTenant(String),
    /// The tenant holds two tokens already (aws-scim.md §1.2).
    #[error("tenant {0} already has 2 access tokens; revoke one first (AWS allows two at a time)")]
    TooManyTokens(String),
}

impl TenantError {
    /// The admin API's status for it: 400 for a bad id, 404 for a missing tenant, 409 otherwise.
    pub fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            TenantError::InvalidId(_) => StatusCode::BAD_REQUEST,
            TenantError::NoSuchTenant(_) => StatusCode::NOT_FOUND,
            TenantError::Exists(_) | TenantError::TooManyTokens(_) => StatusCode::CONFLICT,
        }
    }
}

/// What the shared admin API and pipeline (`scenarios::serve`) reach of the world.
impl MockWorld for World {
    type Switches = Switches;

    fn parts(&mut self) -> (&mut MockCore, &mut Switches) {
        (&mut self.core, &mut self.switches)
    }

    fn fresh(&self) -> World {
        World::new(self.seed, self.core.clock.clone())
    }
}

/// Shared state of a running mock: the world behind its one lock, and the admin token.
pub type AppState = scenarios::serve::MockState<World>;

/// A UUID from a generator, with the version-4 and variant bits set.
pub fn uuid_from(rng: &mut SplitMix64) -> String {
    uuid::Builder::from_random_bytes(rng.next_u128().to_be_bytes()).into_uuid().to_string()
}

/// FNV-1a over the parts, each followed by a zero byte so that `("ab", "c")` and `("a", "bc")` differ.
fn fnv1a<const N: usize>(parts: [&[u8]; N]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    for part in parts {
        for byte in part.iter().chain(&[0]) {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// The key of [`World::created_names`]: tenant, kind and folded name.
pub(crate) fn name_key(tenant: &str, kind: &str, name: &str) -> String {
    format!("{tenant}\u{0}{kind}\u{0}{}", name.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world() -> World {
        World::new(7, Clock::virtual_at("2026-01-01T00:00:00Z".parse().unwrap()))
    }

    #[test]
    fn a_requests_id_does_not_depend_on_the_requests_before_it() {
        let (mut first, mut second) = (world(), world());
        let annie = |w: &mut World| uuid_from(&mut w.request_draws("POST", "/t/scim/v2/Users", None, b"{\"a\":1}"));
        let probe = |w: &mut World| uuid_from(&mut w.request_draws("GET", "/t/scim/v2/Users", Some("filter=x"), b""));
        let (a1, p1) = (annie(&mut first), probe(&mut first));
        let (p2, a2) = (probe(&mut second), annie(&mut second));
        assert_eq!((a1.clone(), p1), (a2, p2), "the same ids in either order");
        assert_ne!(annie(&mut first), a1, "the same request again gets another id");
        let other_seed = &mut World::new(8, first.core.clock.clone());
        assert_ne!(annie(other_seed), a1);
    }

    #[test]
    fn a_resources_id_follows_its_tenant_and_name_not_the_order_of_creates() {
        let (mut first, second) = (world(), world());
        let annie = first.resource_id("t", "user", "Annie@x");
        first.created("t", "user", "bob@x");
        assert_eq!(first.resource_id("t", "user", "annie@X"), annie, "names fold; other creates do not count");
        assert_eq!(second.resource_id("t", "user", "annie@x"), annie);
        assert_ne!(first.resource_id("u", "user", "annie@x"), annie, "another tenant");
        assert_ne!(first.resource_id("t", "group", "annie@x"), annie, "a group");
        first.created("t", "user", "annie@x");
        assert_ne!(first.resource_id("t", "user", "annie@x"), annie, "a user created again after a delete");
    }
}
