//! AWS IAM Identity Center's SCIM v2 endpoint, offline, with AWS's own rules, limits, quirks and
//! error bodies: what AWS refuses, this mock refuses in the same words.
//!
//! Every emulated rule names its source in `shared/reference/aws-scim.md`; where the sources
//! disagree or say nothing, a [`switches::Switches`] field chooses, and the crate README's fidelity
//! table says which defaults are inferred.
//!
//! # Layout
//! - [`server`]: the router, the [`MockScim`] handle and the config, plain HTTP or HTTPS
//!   (`scenarios::tls`: a CA from the seed, or the user's certificate). The handle gives out URLs and
//!   tokens, never the state: a bench that seeds in memory makes the state ([`Config::into_state`])
//!   and serves it ([`MockScim::start_over`]).
//! - `scenarios::serve` (shared with mock-graph): the request pipeline (body limit, clock and fault
//!   plan read once per request, handlers' errors handed to the envelope, journal),
//!   the admin API's common verbs, the server handle. This crate plugs into it with
//!   [`state::World`]'s `MockWorld` impl and, in [`middleware`], its `Protocol` impl: tenant and token
//!   check, rate limit, AWS's error envelope, `x-amzn-RequestId`.
//! - [`routes`]: thin handlers for `/Users`, `/Groups`, discovery endpoints, and the admin routes of
//!   AWS's console (tenants, tokens, state).
//! - [`store`]: one tenant's users, groups and memberships, with an index for every filter.
//! - [`validate`]: required attributes, lengths, character sets, single-valued lists, reserved names.
//! - [`filter`]: AWS's `eq`/`and` filter dialect.
//! - [`patch`]: PatchOp parsing and application, as Entra and other clients send it.
//! - [`model`]: users and groups as stored, sent and returned.
//! - [`error`]: the AWS error envelope.
//! - [`switches`], [`clock`], [`state`]: behaviour switches, AWS's timestamp formats, the world.
//!
//! # Invariants
//! - A refused request changes nothing: every check runs before the first write, under one lock.
//! - Group `members` are never returned over SCIM; `/_admin/tenants/{id}/state` shows them.
//! - Ids, tokens and request ids come from the seed; timestamps from the mock's clock.
//!
//! # Example
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use serde_json::json;
//!
//! let mock = mock_scim::MockScim::start().await;
//! let client = reqwest::Client::new();
//! let refused = client
//!     .post(format!("{}Groups", mock.scim_endpoint()))
//!     .bearer_auth(mock.token())
//!     .json(&json!({"displayName": "Administrator"}))
//!     .send()
//!     .await
//!     .unwrap();
//! assert_eq!(refused.status(), 400); // a reserved name in AWS
//! # }
//! ```

pub mod clock;
pub mod error;
pub mod filter;
pub mod hash;
pub mod middleware;
pub mod model;
pub mod patch;
pub mod routes;
pub mod server;
pub mod state;
pub mod store;
pub mod switches;
pub mod validate;

pub use server::{Config, MockScim, router};
