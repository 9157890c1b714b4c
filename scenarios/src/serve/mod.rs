//! The HTTP glue both mocks share (feature `serve`): the admin API's common verbs, the request
//! pipeline's fault and journal steps, a running server's handle, and the binaries' start-up
//! helpers. Each mock keeps its world in a [`MockState`] and implements [`MockWorld`] (and
//! [`Protocol`] for its service surface) on it; everything here reaches a mock's world only through
//! those traits, so the two mocks still never depend on each other.
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
use std::sync::Arc;

use jiff::Timestamp;
use parking_lot::{Mutex, MutexGuard};
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::mock_core::MockCore;
use crate::tls::{Prepared, TlsMode};

pub use admin::AdminError;
pub use pipeline::{Admission, BodyRefused, Protocol};

/// Request logging under `RUST_LOG` (`RUST_LOG=tower_http=info`, or `debug` for each request's
/// start too): a span per request with its method and path, never its query, headers or body, which
/// carry tokens and secrets; its status and latency when answered; 5xx answers (faults included) as
/// errors.
pub fn traced(router: axum::Router) -> axum::Router {
    use tower_http::trace::{DefaultOnResponse, TraceLayer};
    router.layer(
        TraceLayer::new_for_http()
            .make_span_with(|request: &axum::http::Request<axum::body::Body>| {
                tracing::info_span!(target: "tower_http::trace::make_span", "request", method = %request.method(), path = %request.uri().path())
            })
            .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
    )
}

/// A mock's state: its world behind one lock, and the admin token beside it (never journaled).
///
/// The lock is parking_lot's: it hands itself to a waiting thread now and then (eventual fairness),
/// and [`MutexGuard::unlock_fair`](parking_lot::MutexGuard::unlock_fair) hands it over at once,
/// which mock-graph's engine does between the steps of a large cycle so that requests are not
/// starved. It is never held across an `.await`; a panic while it is held does not poison it (the
/// mocks check every change before they apply it).
#[derive(Debug)]
pub struct MockState<W> {
    inner: Arc<Shared<W>>,
}

#[derive(Debug)]
struct Shared<W> {
    admin_token: String,
    world: Mutex<W>,
}

impl<W> Clone for MockState<W> {
    fn clone(&self) -> Self {
        MockState { inner: Arc::clone(&self.inner) }
    }
}

impl<W> MockState<W> {
    /// State around a world.
    pub fn new(admin_token: String, world: W) -> Self {
        MockState { inner: Arc::new(Shared { admin_token, world: Mutex::new(world) }) }
    }

    /// Locks the world.
    pub fn world(&self) -> MutexGuard<'_, W> {
        self.inner.world.lock()
    }

    /// The admin API's bearer token.
    pub fn admin_token(&self) -> &str {
        &self.inner.admin_token
    }
}

/// A mock's behaviour switches, as `/_admin/switches` reads and changes them (camelCase JSON). The
/// journal's `journalCapacity` is not among them: both mocks have it, so the admin API keeps it in
/// the [`MockCore`].
pub trait SwitchSet: Serialize + Default + Clone + Send + 'static {
    /// Why an update was refused, as the admin API's 400 says it.
    type Error: std::error::Error;

    /// The set with what `update` names changed; an unknown name or a bad value is refused with
    /// every problem, and nothing changes.
    fn updated(&self, update: Map<String, Value>) -> Result<Self, Self::Error>;
}

/// A mock's world as the shared admin API and pipeline see it.
pub trait MockWorld: Send + Sized + 'static {
    /// The mock's switches.
    type Switches: SwitchSet;

    /// The clock, faults and journal, and the switches.
    fn parts(&mut self) -> (&mut MockCore, &mut Self::Switches);

    /// The world right after start with the same seed and configuration, its core not yet reset.
    fn fresh(&self) -> Self;

    /// The clock, faults and journal.
    fn core(&mut self) -> &mut MockCore {
        self.parts().0
    }

    /// Back to the state right after start: a [`MockWorld::fresh`] world with this one's core,
    /// reset (the clock where it started, in the mode it is in now).
    fn reset(&mut self) {
        let mut fresh = self.fresh();
        std::mem::swap(fresh.core(), self.core());
        fresh.core().reset();
        *self = fresh;
    }

    /// What the clock's answer adds to `now` and `mode`: when the next cycle falls due, say.
    fn clock_details(&self) -> Map<String, Value> {
        Map::new()
    }

    /// Moves the clock to `until` (never back), doing first whatever falls due on the way.
    fn advance_to(state: &MockState<Self>, until: Timestamp) -> impl Future<Output = ()> + Send {
        let mut world = state.world();
        let core = world.core();
        let by = until.duration_since(core.now());
        if by.is_positive() {
            core.clock.advance(by);
        }
        std::future::ready(())
    }
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
