//! The Microsoft Graph slice that an Entra ID → AWS IAM Identity Center provisioning setup touches,
//! offline and stateful: the token endpoint, users, groups, members, the AWS gallery application,
//! service principals, app role assignments, OData queries and delta — so that real Graph SDKs,
//! Terraform and scripts can build a directory here as they would in Entra.
//!
//! Every emulated behaviour names its source in `shared/reference/microsoft-graph.md` (§ numbers in
//! comments); choices no source settles are marked inferred in the crate README.
//!
//! # Layout
//! - [`server`]: the router, the [`MockGraph`] handle and the config, plain HTTP or HTTPS
//!   (`scenarios::tls`: a CA from the seed, or the user's certificate) and the engine's trusted CAs.
//!   The handle gives out URLs and tokens, never the state: a bench that seeds in memory makes the
//!   state ([`Config::into_state`]) and serves it ([`MockGraph::start_over`]).
//! - `scenarios::serve` (shared with mock-scim): the request pipeline (body limit, clock and fault
//!   plan read once per request, handlers' errors handed to the envelope, journal),
//!   the admin API's common verbs, the server handle. This crate plugs into it with
//!   [`state::World`]'s `MockWorld` impl (cycles run on a clock advance) and, in [`middleware`], its
//!   `Protocol` impl: the bearer check, Graph's error envelope, request ids, OData headers.
//! - [`auth`]: the client-credentials token endpoint, the tenant's OpenID metadata (what MSAL reads
//!   first) and token checks.
//! - [`routes`]: thin handlers, the shared collection machinery (filter, order, select, page), and
//!   the admin routes of Entra's portal (seeding, the directory, delta reset).
//! - [`directory`]: users, groups, memberships, service principals, applications, assignments, and
//!   the change log.
//! - [`apps`]: application templates, instantiate, assignments.
//! - [`delta`]: delta rounds over the change log.
//! - [`odata`]: `$filter`, `$select`, `$orderby`, `$search`, `$top` parsing and evaluation.
//! - [`schema`]: each entity's properties and what they support.
//! - [`seed`]: seeding a directory in one call, all or nothing (`POST /_admin/seed`).
//! - [`error`]: Graph's error envelope.
//! - [`provisioning`]: the Entra provisioning service: jobs, cycles, escrow, quarantine, logs.
//! - [`state`]: the shared state, switches (and their validation) and seeded generator.
//!
//! # Invariants
//! - A refused request changes nothing: every check runs before the first write, under one lock.
//! - Every directory write appends to the change log; delta reads only the log's tail.
//! - Ids, tokens and request ids come from the seed; timestamps from the mock's clock.
//!
//! # Example
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use serde_json::json;
//!
//! let mock = mock_graph::MockGraph::start().await;
//! let token = mock.access_token().await;
//! let client = reqwest::Client::new();
//! let created = client
//!     .post(format!("{}/v1.0/groups", mock.uri()))
//!     .bearer_auth(&token)
//!     .json(&json!({"displayName": "SRE", "mailEnabled": false, "mailNickname": "sre", "securityEnabled": true}))
//!     .send()
//!     .await
//!     .unwrap();
//! assert_eq!(created.status(), 201);
//! # }
//! ```

pub mod apps;
pub mod auth;
pub mod delta;
pub mod directory;
pub mod error;
pub mod middleware;
pub mod odata;
pub mod provisioning;
pub mod routes;
pub mod schema;
pub mod seed;
pub mod server;
pub mod state;

pub use server::{Config, MockGraph, router};
