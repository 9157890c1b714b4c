//! The shared vocabulary of the harness and both mocks: the scenario file format and its
//! validation, the clock, fault plans and the journal record.
//!
//! Everything here is pure and deterministic: no IO, no async. Time arrives as a [`jiff::Timestamp`]
//! from the mock's [`clock::Clock`] (whose virtual mode is the default; only its opt-in real mode
//! reads wall time), and randomness comes from a seed, so the same plan and the same request
//! sequence always give the same faults and the same journal.
//!
//! # Layout
//!
//! - [`scenario`]: the scenario file format — its reference and a full example are that module's doc;
//!   its private `shape` table lists every key and value type, so the loader reports every problem at once.
//! - [`clock`]: the mocks' virtual or real clock, and ISO-8601 advances (`PT40M`).
//! - [`rng`]: [`SplitMix64`], a seedable generator, and [`rng::mix`], a stateless hash for decisions.
//! - [`fault`]: [`FaultPlan`] and its rules (method, path glob, nth, window, probability → action),
//!   [`FaultPlan::validate`] and [`FaultPlan::decide`].
//! - `tls` (feature `tls`, off by default): the seeded certificate authority both mocks serve HTTPS
//!   with, and `connections`, the loop both serve through (a connection cap, header and idle
//!   deadlines) — with `serve`, the part of this crate that does IO.
//! - [`journal`]: [`JournalEntry`], the record of one exchange, and the redaction of secrets in
//!   headers, JSON and form bodies before anything is recorded.
//! - [`mock_core`]: [`MockCore`], what both mocks keep beside their service — the clock and where it
//!   started, the fault plan with its counters, the [`Journal`] ring — and its reset.
//! - `serve` (feature `serve`, which takes `tls`): the HTTP glue both mocks are served through — the
//!   admin API's shared verbs, the request pipeline's fault and journal steps, a server handle, the
//!   binaries' exit codes. The mocks implement its `MockWorld` and `Protocol` traits over their own state.
//!
//! # Example
//!
//! ```
//! use scenarios::{FaultAction, FaultPlan, FaultState, RequestInfo};
//!
//! let plan: FaultPlan = serde_json::from_str(
//!     r#"{"seed":7,"rules":[{"method":"POST","path":"/*/scim/v2/Users","nth":{"from":2},
//!         "action":{"kind":"status","status":429,"retryAfter":3}}]}"#,
//! )?;
//! plan.validate()?;
//!
//! let mut state = FaultState::default();
//! let request = RequestInfo {
//!     method: "POST",
//!     path: "/tenant/scim/v2/Users",
//!     at: "2025-01-01T00:00:00Z".parse()?,
//! };
//! // The first matching request passes; the second and later ones are throttled.
//! assert_eq!(plan.decide(&mut state, &request), None);
//! let fault = plan.decide(&mut state, &request).expect("second request is faulted");
//! assert_eq!(fault.rule_index, 0);
//! assert!(matches!(fault.action, FaultAction::Status { status: 429, retry_after: Some(3), .. }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod clock;
#[cfg(feature = "tls")]
pub mod connections;
pub mod fault;
pub mod journal;
pub mod mock_core;
pub mod rng;
pub mod scenario;
#[cfg(feature = "serve")]
pub mod serve;
#[cfg(feature = "tls")]
pub mod tls;

pub use fault::*;
pub use journal::*;
pub use mock_core::{Journal, MockCore};
pub use rng::SplitMix64;
