//! The HTTP glue both mocks share (feature `serve`): the admin API's common verbs, the request
//! pipeline's fault and journal steps, a running server's handle, and the binaries' start-up
//! helpers. Each mock implements [`Mock`] (and [`Protocol`] for its service surface) over its own
//! state; everything here reaches that state only through those traits, so the two mocks still
//! never depend on each other.
//!
//! - [`admin`]: `/_admin` health, switches, faults, journal, journal/seq, clock, clock/advance, reset,
//!   behind the admin bearer token, plus the routes a mock adds of its own.
//! - [`pipeline`]: body limit, fault injection, admission, error rendering, journal.
//! - [`Listening`]: a server on a bound port, stopped when dropped.
//! - [`cli`]: exit codes, output and generated secrets for the binaries.

pub mod admin;
pub mod cli;
pub mod pipeline;

use std::net::SocketAddr;

use jiff::Timestamp;
use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::mock_core::MockCore;
use crate::tls::{Prepared, TlsMode};

pub use admin::AdminError;
pub use pipeline::{Admission, Protocol};

/// A mock as the shared admin API and pipeline see it.
pub trait Mock: Clone + Send + Sync + 'static {
    /// The admin API's bearer token.
    fn admin_token(&self) -> &str;

    /// Runs `f` on the mock's clock, faults and journal under the mock's lock.
    fn with_core<R>(&self, f: impl FnOnce(&mut MockCore) -> R) -> R;

    /// Every switch and its value, as `GET /_admin/switches` answers.
    fn switches(&self) -> Value;

    /// Changes the switches `update` names, from the current ones or (`from_defaults`) from the
    /// defaults, and answers all of them; nothing changes when any is refused.
    fn set_switches(&self, update: Map<String, Value>, from_defaults: bool) -> Result<Value, String>;

    /// Moves the clock to `until` (never back), doing first whatever falls due on the way.
    fn advance_to(&self, until: Timestamp) -> impl Future<Output = ()> + Send {
        self.with_core(|core| {
            let by = until.duration_since(core.now());
            if by.is_positive() {
                core.clock.advance(by);
            }
        });
        std::future::ready(())
    }

    /// What the clock's answer adds to `now` and `mode`: when the next cycle falls due, say.
    fn clock_details(&self) -> Map<String, Value> {
        Map::new()
    }

    /// Back to the state right after start.
    fn reset(&self);
}

/// A server on a bound loopback port, serving until dropped.
#[derive(Debug)]
pub struct Listening {
    address: SocketAddr,
    scheme: &'static str,
    ca_pem: Option<String>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Listening {
    /// Binds `127.0.0.1:0` and serves `app` there, over HTTPS when `tls` says so (its certificate
    /// authority seeded by `seed`).
    pub async fn start(app: axum::Router, tls: &TlsMode, seed: u64) -> std::io::Result<Listening> {
        let tls = tls.prepare(seed).map_err(std::io::Error::other)?;
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        let (scheme, ca_pem, identity) = match tls {
            Some(Prepared { identity, ca_pem }) => ("https", ca_pem, Some(identity)),
            None => ("http", None, None),
        };
        tokio::spawn(async move {
            let _ = crate::tls::serve(listener, identity.as_ref(), app, async {
                let _ = stopped.await;
            })
            .await;
        });
        Ok(Listening { address, scheme, ca_pem, shutdown: Some(shutdown) })
    }

    /// `http://127.0.0.1:PORT`, or `https://…` under TLS.
    pub fn uri(&self) -> String {
        format!("{}://{}", self.scheme, self.address)
    }

    /// The address bound.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The CA certificate (PEM) a client must trust, when the server shows a certificate it made.
    pub fn ca_certificate_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
