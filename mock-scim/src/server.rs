//! The router, and a running mock: [`MockScim`] on `127.0.0.1:0`, shut down on drop.

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{any, get};
use scenarios::serve::Listening;
use scenarios::serve::pipeline::pipeline;
use scenarios::tls::TlsMode;

use crate::clock::Clock;
use crate::routes::{admin, groups, meta, users};
use crate::state::{AppState, World};
use crate::switches::Switches;

/// Where the virtual clock starts unless told otherwise: 2026-01-01T00:00:00Z.
pub use scenarios::clock::DEFAULT_START;

/// How to build a mock.
#[derive(Debug, Clone)]
pub struct Config {
    /// The admin API's bearer token.
    pub admin_token: String,
    /// Seed for ids, tokens and request ids.
    pub seed: u64,
    /// The clock to start with.
    pub clock: Clock,
    /// Behaviour switches to start with.
    pub switches: Switches,
    /// Plain HTTP, or HTTPS with a generated or given certificate.
    pub tls: TlsMode,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            admin_token: "admin".to_owned(),
            seed: 0,
            clock: Clock::virtual_at(DEFAULT_START),
            switches: Switches::default(),
            tls: TlsMode::Off,
        }
    }
}

impl Config {
    /// The state this config describes.
    pub fn into_state(self) -> AppState {
        let mut world = World::new(self.seed, self.clock);
        world.switches = self.switches;
        AppState::new(self.admin_token, world)
    }
}

/// The whole HTTP surface: SCIM under `/{tenantId}/scim/v2/`, admin under `/_admin`.
pub fn router(state: AppState) -> Router {
    let scim = Router::new()
        .route("/{tenant}/scim/v2/Users", get(users::users_list).post(users::users_create))
        .route(
            "/{tenant}/scim/v2/Users/{id}",
            get(users::users_get).put(users::users_replace).patch(users::users_patch).delete(users::users_delete),
        )
        .route("/{tenant}/scim/v2/Groups", get(groups::groups_list).post(groups::groups_create))
        .route(
            "/{tenant}/scim/v2/Groups/{id}",
            get(groups::groups_get)
                .put(groups::groups_replace)
                .patch(groups::groups_patch)
                .delete(groups::groups_delete),
        )
        .route("/{tenant}/scim/v2/ServiceProviderConfig", get(meta::service_provider_config))
        .route("/{tenant}/scim/v2/Schemas", get(meta::schemas_list))
        .route("/{tenant}/scim/v2/Schemas/{urn}", get(meta::schemas_get))
        .route("/{tenant}/scim/v2/ResourceTypes", get(meta::resource_types))
        .route("/{tenant}/scim/v2/ResourceTypes/{name}", get(meta::resource_types_get))
        .route("/{tenant}/scim/v2/Users/.search", any(meta::not_supported))
        .route("/{tenant}/scim/v2/Groups/.search", any(meta::not_supported))
        .fallback(meta::not_supported)
        .layer(from_fn_with_state(state.clone(), pipeline::<World>))
        .with_state(state.clone());
    scenarios::serve::traced(Router::new().nest("/_admin", admin::router(state)).merge(scim))
}

/// A running mock on loopback, with one tenant and its token ready; stops when dropped. With
/// `Config { tls: TlsMode::Generated { .. }, .. }` it serves HTTPS: [`MockScim::uri`] is `https://…`
/// and [`MockScim::ca_certificate_pem`] is what a client must trust.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mock = mock_scim::MockScim::start().await;
/// let answer = reqwest::Client::new()
///     .get(format!("{}Users", mock.scim_endpoint()))
///     .bearer_auth(mock.token())
///     .send()
///     .await
///     .unwrap();
/// assert_eq!(answer.status(), 200);
/// # }
/// ```
#[derive(Debug)]
pub struct MockScim {
    listening: Listening,
    admin_token: String,
    tenant_id: String,
    token: String,
}

impl MockScim {
    /// Starts with the default config on `127.0.0.1:0`.
    ///
    /// # Panics
    /// If no loopback port can be bound: a test cannot go on without one.
    pub async fn start() -> MockScim {
        Self::start_with(Config::default()).await.unwrap_or_else(|err| panic!("mock-scim could not start: {err}"))
    }

    /// Starts with a config on `127.0.0.1:0`.
    pub async fn start_with(config: Config) -> std::io::Result<MockScim> {
        let (tls, seed) = (config.tls.clone(), config.seed);
        Self::start_over(config.into_state(), &tls, seed).await
    }

    /// Starts over a state the caller made with [`Config::into_state`] and keeps a clone of, for
    /// benchmarks and tests that seed or inspect without HTTP: the handle itself holds no state.
    pub async fn start_over(state: AppState, tls: &TlsMode, seed: u64) -> std::io::Result<MockScim> {
        let (tenant_id, token) = state.world().create_tenant(None).map_err(std::io::Error::other)?;
        let listening = Listening::start(router(state.clone()), tls, seed).await?;
        let admin_token = state.admin_token().to_owned();
        Ok(MockScim { listening, admin_token, tenant_id, token: token.secret })
    }

    /// `http://127.0.0.1:PORT`, or `https://…` under TLS.
    pub fn uri(&self) -> String {
        self.listening.uri()
    }

    /// The CA certificate (PEM) a client must trust, when the mock serves a certificate it made.
    pub fn ca_certificate_pem(&self) -> Option<&str> {
        self.listening.ca_certificate_pem()
    }

    /// The ready tenant's SCIM endpoint, ending in `/scim/v2/` as AWS's console shows it.
    pub fn scim_endpoint(&self) -> String {
        format!("{}/{}/scim/v2/", self.uri(), self.tenant_id)
    }

    /// The ready tenant's id.
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// The ready tenant's bearer token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The admin API's bearer token.
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }
}
