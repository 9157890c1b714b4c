//! `harness validate-scim`: Entra's provisioning traffic (entra-provisioning.md §4.5) against any SCIM
//! server, in both PATCH dialects, each check judged on what Entra needs back and reported with the
//! exchange that decided it.
//!
//! The requests are the engine's own ([`mock_graph::provisioning::scim`]: [`Target`], the dialects'
//! ops and values, [`build_resource`](mock_graph::provisioning::scim::build_resource),
//! [`operations`](mock_graph::provisioning::scim::operations), member operations in chunks of
//! [`MEMBER_CHUNK`](mock_graph::provisioning::cycle::MEMBER_CHUNK)), so what is validated is what mock-graph's Entra sends. Per dialect: the probes,
//! a user created, read, matched by `userName`, updated, created twice; a group created, matched by
//! `displayName`, members added and removed in chunks (and read back where the server shows them),
//! renamed, created twice; the user disabled; both deleted and gone. Everything it made is deleted
//! afterwards, even after a failed check (best effort, reported).
//!
//! Names come from a seed (`validate-scim-…`): one seed, the same requests and the same report apart
//! from the ids the server assigns.
//!
//! # Layout
//! - this module: the options, the checks' names and what each expects, the results, [`validate`].
//! - `checks`: one dialect's run: the requests, each check's judgement, the clean-up.
//! - `report`: the human, JSON and JUnit reports.

mod checks;
mod report;

use std::time::Duration;

use mock_graph::provisioning::scim::{Dialect, Target};

use checks::{Rng, Run};

/// Every name this command gives a user or group starts with this.
pub const PREFIX: &str = "validate-scim-";

/// The checks, in the order they run within a dialect, with what each expects.
pub const CHECKS: &[(&str, &str)] = &[
    ("probe-users", "GET /Users?filter=userName eq \"<random guid>\" answers 200 and an empty ListResponse"),
    (
        "probe-groups",
        "GET /Groups?excludedAttributes=members&filter=displayName eq \"<random guid>\" answers 200 and an empty ListResponse",
    ),
    ("user-create", "POST /Users answers 201 with the user's id and meta"),
    ("user-get", "GET /Users/{id} answers 200 with the same id and userName"),
    ("user-match", "GET /Users?filter=userName eq \"…\" answers 200 with exactly that one user"),
    (
        "user-update",
        "PATCH /Users/{id} (Replace name.familyName and the work email) answers 200 or 204, and GET shows it",
    ),
    ("user-duplicate", "POST /Users with a userName taken answers 409 with a SCIM error body"),
    ("group-create", "POST /Groups answers 201 with the group's id and meta"),
    (
        "group-match",
        "GET /Groups?excludedAttributes=members&filter=displayName eq \"…\" answers 200 with exactly that group, no members",
    ),
    ("members-add", "PATCH /Groups/{id} adding members, in chunks of at most 100, answers 200 or 204 to each"),
    ("members-add-read", "the group then shows every member added (GET /Groups/{id}, or id eq … and members eq …)"),
    ("members-remove", "PATCH /Groups/{id} removing members, in the dialect's form, answers 200 or 204 to each"),
    ("members-remove-read", "the group then shows none of them"),
    ("group-rename", "PATCH /Groups/{id} (Replace displayName) answers 200 or 204, and GET shows the new name"),
    ("group-duplicate", "POST /Groups with a displayName taken answers 409 with a SCIM error body"),
    (
        "user-disable",
        "PATCH /Users/{id} (active false, in the dialect's form) answers 200 or 204, and GET shows active false",
    ),
    ("group-delete", "DELETE /Groups/{id} answers 204, and GET then 404"),
    ("user-delete", "DELETE /Users/{id} answers 204, and GET then 404"),
];

/// What to validate and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// The SCIM base URL (Entra's tenant URL); a `?aadOptscim062020` in it is ignored: `dialects` chooses.
    pub url: String,
    /// The bearer token.
    pub token: String,
    /// The dialects to run, in order.
    pub dialects: Vec<Dialect>,
    /// Where names and GUIDs come from.
    pub seed: u64,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Members added to (and removed from) the group: more than
    /// [`MEMBER_CHUNK`](mock_graph::provisioning::cycle::MEMBER_CHUNK) sends two chunks.
    pub members: usize,
    /// A PEM CA certificate to trust beside the built-in (webpki) roots.
    pub ca_cert: Option<Vec<u8>>,
}

/// Why nothing could be validated.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// The URL is not an http(s) URL.
    #[error("{0:?} is not an http(s) URL")]
    Url(String),
    /// The CA certificate could not be used.
    #[error("the CA certificate: {0}")]
    Certificate(String),
    /// The first probe got no answer.
    #[error("the SCIM server at {url} did not answer the probe: {reason}")]
    Unreachable {
        /// The probe's URL.
        url: String,
        /// The transport error.
        reason: String,
    },
    /// The first probe was answered 401 or 403: the token is refused, nothing else can be judged.
    #[error("the SCIM server refused the token: {status} to GET {url}: {body}")]
    Refused {
        /// The probe's URL.
        url: String,
        /// 401 or 403.
        status: u16,
        /// Its body, cut.
        body: String,
    },
}

/// A check's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server answered as Entra needs.
    Pass,
    /// It did not.
    Fail {
        /// What was wrong.
        reason: String,
    },
    /// Not run: what it needed failed before it.
    Skip {
        /// Why.
        reason: String,
    },
}

impl Outcome {
    /// `pass`, `fail` or `skip`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail { .. } => "fail",
            Outcome::Skip { .. } => "skip",
        }
    }
}

/// One request and its answer, as reported: bodies cut at 2000 characters, the bearer never shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// `GET`, `POST`, …
    pub method: String,
    /// The full URL, query encoded as sent.
    pub url: String,
    /// The request body.
    pub request_body: Option<String>,
    /// The status, when there was an answer.
    pub status: Option<u16>,
    /// The answer's body, or the transport error.
    pub response_body: String,
}

/// One check in one dialect.
#[derive(Debug, Clone)]
pub struct Check {
    /// A name from [`CHECKS`].
    pub name: &'static str,
    /// The dialect it ran in.
    pub dialect: Dialect,
    /// Its verdict.
    pub outcome: Outcome,
    /// The exchange that decided it; none for a skipped check.
    pub exchange: Option<Exchange>,
}

/// Everything a run found.
#[derive(Debug, Clone)]
pub struct Report {
    /// The SCIM base URL.
    pub url: String,
    /// The seed names came from.
    pub seed: u64,
    /// Members per group.
    pub members: usize,
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// What the clean-up did, a line per dialect.
    pub cleanup: Vec<String>,
}

/// The dialect's name on the command line and in reports.
pub fn dialect_name(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Default => "default",
        Dialect::Optscim062020 => "optscim062020",
    }
}

fn expects(name: &str) -> &'static str {
    CHECKS.iter().find(|(n, _)| *n == name).map_or("", |(_, e)| e)
}

/// Runs every check in every dialect asked for. `Err` when nothing could be judged: a bad URL or
/// certificate, no answer to the first probe, or the token refused there.
pub async fn validate(options: &Options) -> Result<Report, ValidateError> {
    let mut http = reqwest::Client::builder();
    if let Some(pem) = &options.ca_cert {
        let certificate = reqwest::Certificate::from_pem(pem).map_err(|e| ValidateError::Certificate(e.to_string()))?;
        http = http.add_root_certificate(certificate);
    }
    let http = http.build().map_err(|e| ValidateError::Certificate(e.to_string()))?;
    let mut target = Target::new(&options.url, &options.token, http, options.timeout, 1)
        .map_err(|_| ValidateError::Url(options.url.clone()))?;
    let mut rng = Rng(options.seed);
    let mut report = Report {
        url: target.base.clone(),
        seed: options.seed,
        members: options.members,
        checks: Vec::new(),
        cleanup: Vec::new(),
    };
    for (n, dialect) in options.dialects.iter().enumerate() {
        target.dialect = *dialect;
        let mut run = Run {
            target: target.clone(),
            dialect: *dialect,
            token: &options.token,
            rng: &mut rng,
            members: options.members,
            checks: Vec::new(),
            users: Default::default(),
            groups: Default::default(),
        };
        run.run(n == 0).await?;
        let cleanup = run.clean_up().await;
        report.checks.append(&mut run.checks);
        report.cleanup.push(cleanup);
    }
    Ok(report)
}
