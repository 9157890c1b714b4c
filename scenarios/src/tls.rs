//! HTTPS for the mocks (feature `tls`): a certificate authority made from the seed, server
//! identities it issues or that are read from PEM files, and [`serve`], which both mocks serve
//! through (plain or TLS, within [`crate::connections::Limits`]).
//!
//! Microsoft's auth libraries (azure-identity, MSAL) refuse any authority that is not `https://`, so a
//! mock that only spoke HTTP could not be reached by them at all. The authority is deterministic:
//! its key comes from the seed and its signatures are RFC 6979 ECDSA P-256, so the same seed writes
//! the same CA certificate byte for byte, run after run, and a CA file configured once keeps working.
//! P-256 rather than Ed25519 because SChannel (PowerShell on Windows) and browsers refuse Ed25519
//! certificates. rustls with ring only: no OpenSSL.
//!
//! ```
//! use scenarios::tls::Authority;
//!
//! let authority = Authority::from_seed(7);
//! assert_eq!(authority.certificate_pem(), Authority::from_seed(7).certificate_pem());
//! let identity = authority.issue(&["mock-scim".to_owned()])?;
//! assert!(identity.server_config().is_ok());
//! # Ok::<(), scenarios::tls::TlsError>(())
//! ```

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::EncodePrivateKey as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyUsagePurpose, PublicKeyData, SerialNumber, SignatureAlgorithm, SigningKey,
};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::SplitMix64;

/// The names every issued certificate covers, so that `https://127.0.0.1:PORT`, `https://localhost:PORT`
/// and `https://[::1]:PORT` all verify.
pub const LOOPBACK_NAMES: [&str; 3] = ["127.0.0.1", "localhost", "::1"];

/// Keeps the authority's keys apart from every other use of the same seed.
const SEED_SALT: u64 = 0x7715_ce27;

/// What can go wrong setting TLS up; every variant names what it was reading.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file could not be read or parsed.
    #[error("{}: {reason}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// A name asked for in the certificate is neither an IP address nor a DNS name.
    #[error("certificate name {name:?}: {reason}")]
    Name {
        /// The name.
        name: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// The certificate could not be made.
    #[error("making the certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// The listener's own address could not be read.
    #[error("listener: {0}")]
    Listener(#[from] io::Error),
    /// rustls refused the certificate and key (e.g. a key that does not match the certificate).
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// A P-256 key drawn from the seed, signing deterministically (RFC 6979).
struct SeededKey {
    key: p256::ecdsa::SigningKey,
    /// The uncompressed SEC1 point, as SubjectPublicKeyInfo carries it.
    public: Vec<u8>,
}

impl SeededKey {
    fn draw(rng: &mut SplitMix64) -> SeededKey {
        loop {
            let mut bytes = [0u8; 32];
            for chunk in bytes.chunks_mut(8) {
                chunk.copy_from_slice(&rng.next_u64().to_be_bytes());
            }
            // Zero or a value past the group order is no key (odds about 2^-32): draw again.
            if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&bytes) {
                let public = key.verifying_key().to_encoded_point(false).as_bytes().to_vec();
                return SeededKey { key, public };
            }
        }
    }

    fn pkcs8(&self) -> PrivateKeyDer<'static> {
        let document = p256::SecretKey::from(&self.key).to_pkcs8_der().expect("a valid P-256 key encodes as PKCS#8");
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(document.as_bytes().to_vec()))
    }
}

impl PublicKeyData for SeededKey {
    fn der_bytes(&self) -> &[u8] {
        &self.public
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

impl SigningKey for SeededKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let signature: p256::ecdsa::Signature = self.key.sign(msg);
        Ok(signature.to_der().as_bytes().to_vec())
    }
}

/// Validity far on both sides of any clock, virtual or real: clients check certificates against wall
/// time, which the mocks' virtual clock does not move.
fn validity(params: &mut CertificateParams) {
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2100, 1, 1);
}

/// The mock's own certificate authority, made from the seed: equal seeds, equal certificates.
pub struct Authority {
    issuer: Issuer<'static, SeededKey>,
    certificate: rcgen::Certificate,
    /// Draws the leaf keys; cloned per issue so each issue is the same.
    rng: SplitMix64,
    seed: u64,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority").field("seed", &self.seed).finish_non_exhaustive()
    }
}

impl Authority {
    /// The authority for this seed.
    pub fn from_seed(seed: u64) -> Authority {
        let mut rng = SplitMix64::new(seed ^ SEED_SALT);
        let key = SeededKey::draw(&mut rng);
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::OrganizationName, "entra-aws offline mocks");
        name.push(DnType::CommonName, format!("mock CA (seed {seed})"));
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        params.serial_number = Some(SerialNumber::from(rng.next_u64().to_be_bytes().to_vec()));
        validity(&mut params);
        let certificate = params.self_signed(&key).expect("the CA's fixed parameters are valid");
        Authority { issuer: Issuer::new(params, key), certificate, rng, seed }
    }

    /// The CA certificate as PEM, for a client's trust store (`SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`).
    pub fn certificate_pem(&self) -> String {
        self.certificate.pem()
    }

    /// The CA certificate as DER.
    pub fn certificate_der(&self) -> CertificateDer<'static> {
        self.certificate.der().clone()
    }

    /// A server certificate for the loopback names and `extra_names` (DNS names or IP addresses, e.g.
    /// a container's host name), signed by this authority.
    pub fn issue(&self, extra_names: &[String]) -> Result<ServerIdentity, TlsError> {
        let mut names: Vec<String> = LOOPBACK_NAMES.iter().map(|name| (*name).to_owned()).collect();
        for name in extra_names {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        let mut params = CertificateParams::new(names.clone()).map_err(|err| TlsError::Name {
            name: names.iter().skip(LOOPBACK_NAMES.len()).cloned().collect::<Vec<_>>().join(", "),
            reason: err.to_string(),
        })?;
        let mut rng = self.rng.clone();
        let key = SeededKey::draw(&mut rng);
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "localhost");
        params.distinguished_name = name;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(SerialNumber::from(rng.next_u64().to_be_bytes().to_vec()));
        validity(&mut params);
        let leaf = params.signed_by(&key, &self.issuer)?;
        Ok(ServerIdentity { chain: vec![leaf.der().clone()], key: key.pkcs8() })
    }
}

/// A certificate chain and its private key: what a TLS server presents.
#[derive(Debug)]
pub struct ServerIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl ServerIdentity {
    /// Reads a PEM certificate chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<ServerIdentity, TlsError> {
        let failed = |path: &Path, reason: String| TlsError::File { path: path.to_owned(), reason };
        let cert_bytes = std::fs::read(cert).map_err(|err| failed(cert, err.to_string()))?;
        let chain = CertificateDer::pem_slice_iter(&cert_bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| failed(cert, format!("not a PEM certificate file: {err}")))?;
        if chain.is_empty() {
            return Err(failed(cert, "holds no CERTIFICATE block".to_owned()));
        }
        let key_bytes = std::fs::read(key).map_err(|err| failed(key, err.to_string()))?;
        let key_der = PrivateKeyDer::from_pem_slice(&key_bytes)
            .map_err(|err| failed(key, format!("holds no PEM private key: {err}")))?;
        let identity = ServerIdentity { chain, key: key_der };
        // Refuse a key that does not belong to the certificate now, not at the first handshake.
        identity.server_config().map_err(|err| failed(key, err.to_string()))?;
        Ok(identity)
    }

    /// The rustls configuration: TLS 1.2 and 1.3, HTTP/1.1 by ALPN, no client certificates.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// How a mock serves: plain HTTP (the default), HTTPS with a certificate from the seed's
/// [`Authority`], or HTTPS with a certificate and key read from PEM files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain HTTP.
    #[default]
    Off,
    /// A certificate for the loopback names and these, issued by the seed's authority.
    Generated {
        /// Extra DNS names or IP addresses (a container's host name, say).
        names: Vec<String>,
    },
    /// A certificate chain and key of the user's own.
    Files {
        /// PEM certificate chain, leaf first.
        cert: PathBuf,
        /// PEM private key.
        key: PathBuf,
    },
}

/// TLS ready to serve: the identity, and the CA certificate when the mock made it.
#[derive(Debug)]
pub struct Prepared {
    /// What the server presents.
    pub identity: ServerIdentity,
    /// The CA certificate (PEM) that clients must trust; `None` for the user's own files.
    pub ca_pem: Option<String>,
}

impl TlsMode {
    /// The identity to serve with, or `None` for plain HTTP.
    pub fn prepare(&self, seed: u64) -> Result<Option<Prepared>, TlsError> {
        match self {
            TlsMode::Off => Ok(None),
            TlsMode::Generated { names } => {
                let authority = Authority::from_seed(seed);
                Ok(Some(Prepared { identity: authority.issue(names)?, ca_pem: Some(authority.certificate_pem()) }))
            }
            TlsMode::Files { cert, key } => {
                Ok(Some(Prepared { identity: ServerIdentity::from_pem_files(cert, key)?, ca_pem: None }))
            }
        }
    }
}

/// The TLS options both mocks' command lines share (flatten into the binary's own arguments).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct TlsArgs {
    /// Serve HTTPS with a certificate for 127.0.0.1, localhost and ::1, issued by a CA made from the
    /// seed (so the same seed always gives the same CA). Plain HTTP when omitted.
    #[arg(long)]
    pub tls: bool,
    /// Serve HTTPS with this PEM certificate chain instead (leaf first; implies --tls).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Another name the generated certificate covers (a DNS name or IP address); repeatable.
    #[arg(long = "tls-name", value_name = "NAME", requires = "tls", conflicts_with = "tls_cert")]
    pub tls_names: Vec<String>,
    /// Write the generated CA certificate here as PEM, for clients to trust (SSL_CERT_FILE,
    /// REQUESTS_CA_BUNDLE).
    #[arg(long, value_name = "FILE", requires = "tls", conflicts_with = "tls_cert")]
    pub ca_out: Option<PathBuf>,
}

impl TlsArgs {
    /// The mode these options ask for.
    pub fn mode(&self) -> TlsMode {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => TlsMode::Files { cert: cert.clone(), key: key.clone() },
            _ if self.tls => TlsMode::Generated { names: self.tls_names.clone() },
            _ => TlsMode::Off,
        }
    }
}

/// How the request reached the mock: [`serve`] puts `Scheme::Https` in every request's extensions
/// when it serves TLS, so that links the mocks write (Graph's nextLinks, SCIM endpoints) name the
/// scheme the client used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP (also what a request without the extension, in a test calling the router, gets).
    #[default]
    Http,
    /// TLS.
    Https,
}

impl Scheme {
    /// The scheme a request arrived by.
    pub fn of(extensions: &axum::http::Extensions) -> Scheme {
        extensions.get::<Scheme>().copied().unwrap_or_default()
    }

    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A handler may take the scheme as an argument.
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Scheme {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Scheme, Self::Rejection> {
        Ok(Scheme::of(&parts.extensions))
    }
}

/// Serves `app` on a bound listener, over TLS when `tls` is given, until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    tls: Option<&ServerIdentity>,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_within(listener, tls, app, crate::connections::Limits::default(), shutdown).await
}

/// [`serve`] within `limits` (connections at once, header and idle deadlines).
pub async fn serve_within(
    listener: TcpListener,
    tls: Option<&ServerIdentity>,
    app: axum::Router,
    limits: crate::connections::Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    match tls {
        None => crate::connections::serve(listener, None, app, limits, shutdown).await,
        Some(identity) => {
            let acceptor = TlsAcceptor::from(identity.server_config().map_err(io::Error::other)?);
            let app = app.layer(axum::Extension(Scheme::Https));
            crate::connections::serve(listener, Some(acceptor), app, limits, shutdown).await
        }
    }
}
