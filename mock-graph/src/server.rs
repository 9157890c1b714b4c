//! The router, and a running mock: [`MockGraph`] on `127.0.0.1:0`, shut down on drop.

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use scenarios::clock::Clock;
use scenarios::serve::Listening;
use scenarios::serve::pipeline::pipeline;
use scenarios::tls::{Authority, TlsMode};

use crate::auth;
use crate::routes::{admin, apps, directory as dir, sync};
use crate::state::{AppState, Tenant, World};

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
    /// The tenant's domain (also accepted in the token URL).
    pub domain: String,
    /// The tenant's GUID; derived from the seed when `None`.
    pub tenant_id: Option<String>,
    /// The app registration allowed to take tokens.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// Plain HTTP, or HTTPS with a generated or given certificate.
    pub tls: TlsMode,
    /// CA certificates (PEM) the provisioning engine trusts, beyond the public roots, when it calls a
    /// SCIM endpoint over HTTPS: mock-scim's `--ca-out` file, say. Under a generated certificate the
    /// mock's own CA is trusted too, so two mocks started with the same seed trust each other.
    pub scim_trusted_ca_pem: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            admin_token: "admin".to_owned(),
            seed: 0,
            clock: Clock::virtual_at(DEFAULT_START),
            domain: "contoso.onmicrosoft.com".to_owned(),
            tenant_id: None,
            client_id: "00000000-0000-0000-0000-00000000c11e".to_owned(),
            client_secret: "mock-graph-client-secret".to_owned(),
            tls: TlsMode::Off,
            scim_trusted_ca_pem: Vec::new(),
        }
    }
}

impl Config {
    /// The state this config describes; fails only on a trusted CA that is not PEM.
    pub fn into_state(self) -> std::io::Result<AppState> {
        let scim_client = engine_client(&self)?;
        let mut rng = scenarios::SplitMix64::new(self.seed ^ 0x7e4a_u64);
        let tenant_id = self
            .tenant_id
            .unwrap_or_else(|| uuid::Builder::from_random_bytes(rng.next_u128().to_be_bytes()).into_uuid().to_string());
        let tenant =
            Tenant { id: tenant_id, domain: self.domain, client_id: self.client_id, client_secret: self.client_secret };
        Ok(AppState::new(self.admin_token, World::new(self.seed, self.clock, tenant, scim_client)))
    }
}

/// The engine's one HTTP client, trusting the configured CAs and, under a generated certificate, the
/// mock's own.
fn engine_client(config: &Config) -> std::io::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder();
    let own =
        matches!(config.tls, TlsMode::Generated { .. }).then(|| Authority::from_seed(config.seed).certificate_pem());
    for pem in config.scim_trusted_ca_pem.iter().chain(own.as_ref()) {
        let certificates = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
            .map_err(|err| std::io::Error::other(format!("a trusted CA certificate: {err}")))?;
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder.build().map_err(std::io::Error::other)
}

/// The whole HTTP surface: the token endpoint, `/v1.0`, and `/_admin`.
pub fn router(state: AppState) -> Router {
    let graph = Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(auth::token))
        .route("/{tenant}/v2.0/.well-known/openid-configuration", get(auth::openid_configuration))
        .route("/{tenant}/discovery/v2.0/keys", get(auth::signing_keys))
        .route("/v1.0/users", get(dir::users_list).post(dir::users_create))
        .route("/v1.0/users/$count", get(dir::users_count))
        .route("/v1.0/users/delta", get(dir::users_delta))
        .route("/v1.0/users/microsoft.graph.delta", get(dir::users_delta))
        .route("/v1.0/users/delta()", get(dir::users_delta))
        .route("/v1.0/users/{id}", get(dir::users_get).patch(dir::users_update).delete(dir::users_delete))
        .route("/v1.0/users/{id}/manager", get(dir::users_manager_get))
        .route(
            "/v1.0/users/{id}/manager/$ref",
            axum::routing::put(dir::users_manager_ref_put).delete(dir::users_manager_ref_delete),
        )
        .route("/v1.0/users/{id}/memberOf", get(dir::users_member_of))
        .route("/v1.0/users/{id}/memberOf/{cast}", get(dir::users_member_of_cast))
        .route("/v1.0/users/{id}/transitiveMemberOf", get(dir::users_transitive_member_of))
        .route("/v1.0/users/{id}/transitiveMemberOf/{cast}", get(dir::users_transitive_member_of_cast))
        .route("/v1.0/users/{id}/appRoleAssignments", get(dir::principal_assignments))
        .route("/v1.0/groups", get(dir::groups_list).post(dir::groups_create))
        .route("/v1.0/groups/$count", get(dir::groups_count))
        .route("/v1.0/groups/delta", get(dir::groups_delta))
        .route("/v1.0/groups/microsoft.graph.delta", get(dir::groups_delta))
        .route("/v1.0/groups/delta()", get(dir::groups_delta))
        .route("/v1.0/groups/{id}", get(dir::groups_get).patch(dir::groups_update).delete(dir::groups_delete))
        .route("/v1.0/groups/{id}/members", get(dir::groups_members))
        .route(
            "/v1.0/groups/{id}/members/$ref",
            post(dir::groups_members_add).delete(dir::groups_members_remove_by_reference),
        )
        .route("/v1.0/groups/{id}/members/{cast}", get(dir::groups_members_cast))
        .route("/v1.0/groups/{id}/members/{member}/$ref", axum::routing::delete(dir::groups_members_remove))
        .route("/v1.0/groups/{id}/transitiveMembers", get(dir::groups_transitive_members))
        .route("/v1.0/groups/{id}/transitiveMembers/{cast}", get(dir::groups_transitive_members_cast))
        .route("/v1.0/groups/{id}/memberOf", get(dir::groups_member_of))
        .route("/v1.0/groups/{id}/memberOf/{cast}", get(dir::groups_member_of_cast))
        .route("/v1.0/groups/{id}/appRoleAssignments", get(dir::principal_assignments))
        .route("/v1.0/directoryObjects/{id}", get(dir::directory_objects_get))
        .route("/v1.0/directory/deletedItems/microsoft.graph.user", get(dir::deleted_users_list))
        .route("/v1.0/directory/deletedItems/{id}", get(dir::deleted_items_get).delete(dir::deleted_items_delete))
        .route("/v1.0/directory/deletedItems/{id}/restore", post(dir::deleted_items_restore))
        .route("/v1.0/applicationTemplates", get(apps::templates_list))
        .route("/v1.0/applicationTemplates/{id}", get(apps::templates_get))
        .route("/v1.0/applicationTemplates/{id}/instantiate", post(apps::templates_instantiate))
        .route("/v1.0/applications", get(apps::applications_list))
        .route("/v1.0/applications/{id}", get(apps::applications_get).delete(apps::applications_delete))
        .route("/v1.0/servicePrincipals", get(apps::service_principals_list))
        .route(
            "/v1.0/servicePrincipals/{id}",
            get(apps::service_principals_get).delete(apps::service_principals_delete),
        )
        .route(
            "/v1.0/servicePrincipals/{id}/appRoleAssignedTo",
            get(apps::assigned_to_list).post(apps::assigned_to_create),
        )
        .route(
            "/v1.0/servicePrincipals/{id}/appRoleAssignedTo/{assignment}",
            axum::routing::delete(apps::assigned_to_delete),
        )
        .route("/v1.0/servicePrincipals/{id}/appRoleAssignments", get(dir::principal_assignments))
        .route("/v1.0/servicePrincipals/{id}/synchronization/templates", get(sync::templates_list))
        .route("/v1.0/servicePrincipals/{id}/synchronization/jobs", get(sync::jobs_list).post(sync::jobs_create))
        .route("/v1.0/servicePrincipals/{id}/synchronization/jobs/{job}", get(sync::jobs_get).delete(sync::jobs_delete))
        .route("/v1.0/servicePrincipals/{id}/synchronization/jobs/{job}/start", post(sync::jobs_start))
        .route("/v1.0/servicePrincipals/{id}/synchronization/jobs/{job}/pause", post(sync::jobs_pause))
        .route("/v1.0/servicePrincipals/{id}/synchronization/jobs/{job}/restart", post(sync::jobs_restart))
        .route(
            "/v1.0/servicePrincipals/{id}/synchronization/jobs/{job}/schema",
            get(sync::schema_get).put(sync::schema_put),
        )
        .route(
            "/v1.0/servicePrincipals/{id}/synchronization/jobs/{job}/schema/filterOperators",
            get(sync::filter_operators),
        )
        .route(
            "/v1.0/servicePrincipals/{id}/synchronization/jobs/{job}/validateCredentials",
            post(sync::validate_credentials),
        )
        .route(
            "/v1.0/servicePrincipals/{id}/synchronization/jobs/{job}/provisionOnDemand",
            post(sync::provision_on_demand),
        )
        .route("/v1.0/servicePrincipals/{id}/synchronization/secrets", get(sync::secrets_get).put(sync::secrets_put))
        .route("/v1.0/auditLogs/provisioning", get(sync::provisioning_logs))
        .fallback(apps::alternate_key_or_unknown)
        .layer(from_fn_with_state(state.clone(), pipeline::<World>))
        .with_state(state.clone());
    scenarios::serve::traced(Router::new().nest("/_admin", admin::router(state)).merge(graph))
}

/// Under a real clock nobody advances time, so a ticker runs the cycles that fall due; under the
/// virtual clock, `POST /_admin/clock/advance` runs them.
pub fn spawn_ticker(state: &AppState) {
    if state.world().core.clock.mode() != scenarios::clock::ClockMode::Real {
        return;
    }
    let state = state.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            interval.tick().await;
            let now = state.world().core.clock.now();
            crate::provisioning::run_due(&state, now).await;
        }
    });
}

/// A running mock on loopback; stops when dropped. With `Config { tls: TlsMode::Generated { .. }, .. }`
/// it serves HTTPS: [`MockGraph::uri`] is `https://…` and [`MockGraph::ca_certificate_pem`] is what a
/// client must trust.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mock = mock_graph::MockGraph::start().await;
/// let token = mock.access_token().await;
/// let users = reqwest::Client::new().get(format!("{}/v1.0/users", mock.uri())).bearer_auth(token).send().await.unwrap();
/// assert_eq!(users.status(), 200);
/// # }
/// ```
#[derive(Debug)]
pub struct MockGraph {
    listening: Listening,
    state: AppState,
}

impl MockGraph {
    /// Starts with the default config on `127.0.0.1:0`.
    ///
    /// # Panics
    /// If no loopback port can be bound: a test cannot go on without one.
    pub async fn start() -> MockGraph {
        Self::start_with(Config::default()).await.unwrap_or_else(|err| panic!("mock-graph could not start: {err}"))
    }

    /// Starts with a config on `127.0.0.1:0`.
    pub async fn start_with(config: Config) -> std::io::Result<MockGraph> {
        let (tls, seed) = (config.tls.clone(), config.seed);
        Self::start_over(config.into_state()?, &tls, seed).await
    }

    /// Starts over a state the caller made with [`Config::into_state`] and keeps a clone of, for
    /// benchmarks and tests that seed or inspect without HTTP; the handle does not hand its own out.
    pub async fn start_over(state: AppState, tls: &TlsMode, seed: u64) -> std::io::Result<MockGraph> {
        let listening = Listening::start(router(state.clone()), tls, seed).await?;
        spawn_ticker(&state);
        Ok(MockGraph { listening, state })
    }

    /// `http://127.0.0.1:PORT`, or `https://…` under TLS.
    pub fn uri(&self) -> String {
        self.listening.uri()
    }

    /// The CA certificate (PEM) a client must trust, when the mock serves a certificate it made.
    pub fn ca_certificate_pem(&self) -> Option<&str> {
        self.listening.ca_certificate_pem()
    }

    /// The tenant this mock plays.
    pub fn tenant(&self) -> Tenant {
        self.state.world().tenant.clone()
    }

    /// The admin API's bearer token.
    pub fn admin_token(&self) -> &str {
        self.state.admin_token()
    }

    /// A fresh access token, as the token endpoint would issue for the configured client.
    pub async fn access_token(&self) -> String {
        self.state.world().issue_token()
    }
}
