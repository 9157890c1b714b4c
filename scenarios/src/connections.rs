//! How both mocks hold their connections (feature `tls`): HTTP/1.1 through hyper, plain or over
//! TLS, with limits no real client meets and a hostile one cannot outlast — a cap on connections
//! served at once (more wait to be accepted), a deadline for a request's headers, and a deadline
//! for a connection on which nothing moves (idle keep-alive included). Bodies have their own
//! deadline, which the request pipeline keeps ([`BodyDeadline`]).
//!
//! A request hyper cannot parse (a malformed request line, a URI over 64 KiB, more than 100
//! headers or a head over its buffer) hyper answers itself, 400, 414 or 431 with an empty body;
//! [`Enveloped`] has the app render that answer in its protocol's envelope instead ([`Refused`]).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;

/// What a connection is allowed. The defaults are far from what Entra, an SDK or a test meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; past it, new ones wait in the OS's backlog (inferred default
    /// 256: under a common open-file limit of 1,024, and far above what one client opens).
    pub max_connections: usize,
    /// Until a request's headers have all arrived (30 s, hyper's own default once it has a timer).
    pub header_timeout: Duration,
    /// With no byte read or written for this long, a connection is closed (120 s, inferred).
    pub idle_timeout: Duration,
    /// Until a request's body has all arrived once its headers are in (60 s, inferred: no real
    /// client trickles a 1 MiB body that slowly); past it, the protocol's 408.
    pub body_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 256,
            header_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(120),
            body_timeout: Duration::from_secs(60),
        }
    }
}

/// How long a request's body may take ([`Limits::body_timeout`]), as a request extension for the
/// pipeline that reads the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyDeadline(pub Duration);

/// The request extension of the request [`Enveloped`] makes up for a refusal hyper answered on its
/// own: the app answers it with this status in its protocol's envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused(pub StatusCode);

/// The TLS handshake's deadline.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` on `listener`, over TLS when `tls` is given, within `limits`, until `shutdown`
/// resolves; then stops accepting and lets the connections in flight finish their requests.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: axum::Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let app = app.layer(axum::Extension(BodyDeadline(limits.body_timeout)));
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!("accepting a connection: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let (app, tls, watcher) = (app.clone(), tls.clone(), graceful.watcher());
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper_util::service::TowerToHyperService::new(app);
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
            let served = match tls {
                None => {
                    watcher
                        .watch(http.serve_connection(TokioIo::new(wrap(tcp, &service, &limits)), service.clone()))
                        .await
                }
                Some(acceptor) => match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let io = TokioIo::new(wrap(stream, &service, &limits));
                        watcher.watch(http.serve_connection(io, service.clone())).await
                    }
                    Ok(Err(err)) => return tracing::debug!(%peer, "TLS handshake failed: {err}"),
                    Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
                },
            };
            if let Err(err) = served {
                tracing::debug!(%peer, "connection ended: {err}");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// The app as hyper calls it.
type App = hyper_util::service::TowerToHyperService<axum::Router>;

/// A connection's stream as hyper sees it: its refusals enveloped, its idleness watched.
fn wrap<S>(stream: S, app: &App, limits: &Limits) -> Idle<Enveloped<S>> {
    Idle::new(Enveloped::new(stream, app.clone()), limits.idle_timeout)
}

/// A stream on which hyper's own answer to a request it could not parse (a status line,
/// `connection: close`, `content-length: 0` and a date, nothing else) is replaced, on
/// its way out, with the app's answer to a [`Refused`] request of that status: the same status in
/// the protocol's envelope, with the protocol's headers. hyper offers no hook for these answers,
/// and the app never sends a 400, 414 or 431 without a content type.
struct Enveloped<S> {
    inner: S,
    app: App,
    rewrite: Rewrite,
}

enum Rewrite {
    /// Passing writes through, looking for hyper's refusal.
    Watching,
    /// The app is rendering the refusal.
    Rendering(Pin<Box<dyn Future<Output = Vec<u8>> + Send>>),
    /// Writing the rendered refusal in place of hyper's; `at` bytes are out.
    Writing { bytes: Vec<u8>, at: usize },
}

impl<S> Enveloped<S> {
    fn new(inner: S, app: App) -> Enveloped<S> {
        Enveloped { inner, app, rewrite: Rewrite::Watching }
    }
}

/// The status of hyper's refusal, if `data` is one.
fn hypers_refusal(data: &[u8]) -> Option<StatusCode> {
    let head = std::str::from_utf8(data).ok()?.strip_suffix("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse::<u16>().ok()?;
    if ![400, 414, 431].contains(&status) {
        return None;
    }
    let mut empty = false;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        if name.eq_ignore_ascii_case("content-length") {
            empty = value.trim() == "0";
        } else if !name.eq_ignore_ascii_case("date") && !name.eq_ignore_ascii_case("connection") {
            return None;
        }
    }
    empty.then(|| StatusCode::from_u16(status).ok()).flatten()
}

/// The app's answer to a [`Refused`] request of `status`, as bytes on the wire; the connection
/// closes after it, as it does after hyper's.
async fn render(app: App, status: StatusCode) -> Vec<u8> {
    let mut request = Request::new(Body::empty());
    request.extensions_mut().insert(Refused(status));
    let Ok(response) = app.call(request).await;
    let (head, body) = response.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let mut wire = format!("HTTP/1.1 {} {}\r\n", status.as_u16(), status.canonical_reason().unwrap_or("")).into_bytes();
    let framing = [header::CONTENT_LENGTH, header::TRANSFER_ENCODING, header::CONNECTION, header::DATE];
    for (name, value) in head.headers.iter().filter(|(name, _)| !framing.contains(name)) {
        wire.extend_from_slice(name.as_str().as_bytes());
        wire.extend_from_slice(b": ");
        wire.extend_from_slice(value.as_bytes());
        wire.extend_from_slice(b"\r\n");
    }
    let date = jiff::fmt::rfc2822::DateTimePrinter::new().timestamp_to_rfc9110_string(&jiff::Timestamp::now());
    let date = date.unwrap_or_default();
    wire.extend_from_slice(
        format!("content-length: {}\r\nconnection: close\r\ndate: {date}\r\n\r\n", body.len()).as_bytes(),
    );
    wire.extend_from_slice(&body);
    wire
}

impl<S: AsyncRead + Unpin> AsyncRead for Enveloped<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Enveloped<S> {
    /// hyper writes its refusal in one call (the stream is not vectored, so hyper flattens its
    /// buffer) and, told `Pending`, calls again with the same bytes: those are answered `Ready`
    /// only once the replacement is all out.
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        loop {
            match &mut this.rewrite {
                Rewrite::Watching => match hypers_refusal(data) {
                    Some(status) => this.rewrite = Rewrite::Rendering(Box::pin(render(this.app.clone(), status))),
                    None => return Pin::new(&mut this.inner).poll_write(cx, data),
                },
                Rewrite::Rendering(rendering) => {
                    let bytes = std::task::ready!(rendering.as_mut().poll(cx));
                    this.rewrite = Rewrite::Writing { bytes, at: 0 };
                }
                Rewrite::Writing { bytes, at } => {
                    while *at < bytes.len() {
                        match std::task::ready!(Pin::new(&mut this.inner).poll_write(cx, &bytes[*at..])) {
                            Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                            Ok(n) => *at += n,
                            Err(err) => return Poll::Ready(Err(err)),
                        }
                    }
                    this.rewrite = Rewrite::Watching;
                    return Poll::Ready(Ok(data.len()));
                }
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A stream that fails with `TimedOut` once nothing has been read or written for `limit`.
struct Idle<S> {
    inner: S,
    limit: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl<S> Idle<S> {
    fn new(inner: S, limit: Duration) -> Idle<S> {
        Idle { inner, limit, deadline: Box::pin(tokio::time::sleep(limit)) }
    }

    fn moved(&mut self) {
        self.deadline.as_mut().reset(Instant::now() + self.limit);
    }

    fn expired(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, "idle connection closed")),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Idle<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.moved();
                }
                Poll::Ready(result)
            }
            Poll::Pending => self.expired(cx).map(Err),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Idle<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, data) {
            Poll::Ready(result) => {
                if matches!(result, Ok(n) if n > 0) {
                    self.moved();
                }
                Poll::Ready(result)
            }
            Poll::Pending => self.expired(cx).map(Err),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The connection limits on both mocks' command lines (flatten into the binary's own arguments).
#[derive(Clone, Debug, clap::Args)]
pub struct LimitArgs {
    /// Connections served at once; more wait to be accepted.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_connections: u16,
    /// Seconds a client may take to send a request's headers.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_seconds: u64,
    /// Seconds a connection may stay with nothing read or written (idle keep-alive included).
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_seconds: u64,
    /// Seconds a client may take to send a request's body once its headers are in.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_timeout_seconds: u64,
}

impl LimitArgs {
    /// The limits these arguments give.
    pub fn limits(&self) -> Limits {
        Limits {
            max_connections: usize::from(self.max_connections),
            header_timeout: Duration::from_secs(self.header_timeout_seconds),
            idle_timeout: Duration::from_secs(self.idle_timeout_seconds),
            body_timeout: Duration::from_secs(self.body_timeout_seconds),
        }
    }
}
