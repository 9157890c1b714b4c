//! The engine's SCIM client, written from entra-provisioning.md §4.5 alone (never from mock-scim's
//! types, so a mistake on one side cannot hide the same mistake on the other): the requests Entra
//! sends, in Entra's two PATCH dialects, with retries on 429 and 5xx.

use std::time::Duration;

use serde_json::{Value, json};

pub use super::export::{build_resource, operations};

/// `application/scim+json`, on every body (§4.5).
pub const SCIM_JSON: &str = "application/scim+json";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// How PATCH bodies are written (§4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Default: `Add`/`Replace`/`Remove`, `"False"` as a string, members removed by value list.
    Default,
    /// `?aadOptscim062020`: lower-case ops, booleans, members removed by `members[value eq "…"]`.
    Optscim062020,
}

/// A SCIM target, from the job's `BaseAddress` and `SecretToken` secrets.
#[derive(Clone)]
pub struct Target {
    /// The base URL, ending in `/`, without the flag.
    pub base: String,
    /// The bearer.
    pub token: String,
    /// The PATCH dialect, chosen by the flag in the tenant URL.
    pub dialect: Dialect,
    client: reqwest::Client,
    /// Per-request timeout.
    timeout: Duration,
    /// Attempts for a request answered 429 or 5xx, the first included.
    pub attempts: u32,
    /// Called with a `Retry-After` before the next attempt, when the engine honours it.
    pub waiter: Option<Waiter>,
}

/// Waits out a `Retry-After` (on the mock's clock).
pub type Waiter = std::sync::Arc<dyn Fn(u64) + Send + Sync>;

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("base", &self.base)
            .field("dialect", &self.dialect)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// What came back.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// An HTTP answer.
    Http {
        /// Status code.
        status: u16,
        /// Body text.
        body: String,
        /// `Retry-After` seconds, if sent.
        retry_after: Option<u64>,
    },
    /// No answer: connection refused, dropped, or timed out.
    Transport(String),
}

impl Reply {
    /// The status, if there was an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Reply::Http { status, .. } => Some(*status),
            Reply::Transport(_) => None,
        }
    }

    /// Whether the answer is a 2xx.
    pub fn ok(&self) -> bool {
        self.status().is_some_and(|s| (200..300).contains(&s))
    }

    /// The body as JSON.
    pub fn json(&self) -> Option<Value> {
        match self {
            Reply::Http { body, .. } => serde_json::from_str(body).ok(),
            Reply::Transport(_) => None,
        }
    }

    /// The body text, or the transport error.
    pub fn text(&self) -> &str {
        match self {
            Reply::Http { body, .. } => body,
            Reply::Transport(message) => message,
        }
    }

    fn retryable(&self) -> bool {
        matches!(self.status(), Some(429) | Some(500..=599))
    }
}

/// Why no SCIM target can be made from a job's secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// No `BaseAddress` or `SecretToken`, or a `BaseAddress` that is not an http(s) URL: what the
    /// portal says (entra-provisioning.md §3.2).
    #[error("Please provide a valid tenant URL for your application.")]
    InvalidTenantUrl,
}

impl Target {
    /// Reads the tenant URL: a `?aadOptscim062020` flag selects that dialect (§4.5).
    pub fn new(
        base_address: &str,
        token: &str,
        client: reqwest::Client,
        timeout: Duration,
        attempts: u32,
    ) -> Result<Target, TargetError> {
        let (base, query) = base_address.split_once('?').unwrap_or((base_address, ""));
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(TargetError::InvalidTenantUrl);
        }
        let dialect = if query.split('&').any(|flag| flag == "aadOptscim062020") {
            Dialect::Optscim062020
        } else {
            Dialect::Default
        };
        let base = if base.ends_with('/') { base.to_owned() } else { format!("{base}/") };
        Ok(Target { base, token: token.to_owned(), dialect, client, timeout, attempts: attempts.max(1), waiter: None })
    }

    /// Sends one request, retrying 429 and 5xx up to `attempts` times; returns every reply, the
    /// last one deciding. The wait a `Retry-After` asks for is reported, not slept: the engine runs
    /// on the mock's clock.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Vec<Reply> {
        let mut replies = Vec::new();
        for _ in 0..self.attempts {
            let mut request = self
                .client
                .request(method.clone(), format!("{}{path}", self.base))
                .timeout(self.timeout)
                .bearer_auth(&self.token);
            if !query.is_empty() {
                request = request.query(query);
            }
            if let Some(body) = body {
                request = request.header(reqwest::header::CONTENT_TYPE, SCIM_JSON).body(body.to_string());
            }
            let reply = match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse().ok());
                    match response.text().await {
                        Ok(body) => Reply::Http { status, body, retry_after },
                        Err(err) => Reply::Transport(format!(
                            "The connection was closed while reading the response: {}",
                            chain(&err)
                        )),
                    }
                }
                Err(err) if err.is_timeout() => Reply::Transport(format!("The request timed out: {err}")),
                Err(err) => Reply::Transport(format!("An error occured while sending the request: {}", chain(&err))),
            };
            let again = reply.retryable();
            let wait = match &reply {
                Reply::Http { retry_after: Some(seconds), .. } => Some(*seconds),
                _ => None,
            };
            replies.push(reply);
            if !again {
                break;
            }
            if let (Some(seconds), Some(waiter)) = (wait, &self.waiter) {
                waiter(seconds);
            }
        }
        replies
    }

    /// The op name in this dialect.
    pub fn op(&self, op: &str) -> String {
        self.dialect.op(op)
    }

    /// A value for a PATCH in this dialect.
    pub fn patch_value(&self, path: &str, value: &str) -> Value {
        self.dialect.patch_value(path, value)
    }

    /// A PatchOp body.
    pub fn patch(operations: Vec<Value>) -> Value {
        json!({ "schemas": [PATCH_OP], "Operations": operations })
    }

    /// `Add`/`Remove` member operations for `ids` in this dialect.
    pub fn member_operations(&self, op: &str, ids: &[String]) -> Vec<Value> {
        self.dialect.member_operations(op, ids)
    }
}

impl Dialect {
    /// The op name in this dialect.
    pub fn op(&self, op: &str) -> String {
        match self {
            Dialect::Default => {
                let mut chars = op.chars();
                chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
            }
            Dialect::Optscim062020 => op.to_ascii_lowercase(),
        }
    }

    /// A value for a PATCH: `active` is `"False"` in the default dialect and `false` with the flag.
    pub fn patch_value(&self, path: &str, value: &str) -> Value {
        if path.eq_ignore_ascii_case("active") {
            let truth = value.eq_ignore_ascii_case("true");
            return match self {
                Dialect::Default => json!(if truth { "True" } else { "False" }),
                Dialect::Optscim062020 => json!(truth),
            };
        }
        json!(value)
    }

    /// `Add`/`Remove` member operations for `ids`; the caller sends them in chunks (§4.5; AWS takes 100).
    pub fn member_operations(&self, op: &str, ids: &[String]) -> Vec<Value> {
        match (self, op) {
            (Dialect::Optscim062020, "remove") => {
                ids.iter().map(|id| json!({ "op": "remove", "path": format!("members[value eq \"{id}\"]") })).collect()
            }
            _ => {
                let values: Vec<Value> = ids.iter().map(|id| json!({ "value": id })).collect();
                vec![json!({ "op": self.op(op), "path": "members", "value": values })]
            }
        }
    }
}

/// `userName eq "value"`: quotes inside are escaped.
pub fn eq_filter(attribute: &str, value: &str) -> String {
    format!("{attribute} eq \"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// An error with its causes, `: `-joined: reqwest's own text ("error sending request for url …")
/// hides why (connection refused, a certificate from an unknown issuer), which is what a user needs.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_in_the_tenant_url_selects_the_dialect() {
        let target = Target::new(
            "http://127.0.0.1:1/t/scim/v2/?aadOptscim062020",
            "x",
            reqwest::Client::new(),
            Duration::from_secs(1),
            1,
        )
        .unwrap();
        assert_eq!(target.dialect, Dialect::Optscim062020);
        assert_eq!(target.base, "http://127.0.0.1:1/t/scim/v2/");
        assert_eq!(target.patch_value("active", "False"), json!(false));
        assert_eq!(target.op("Replace"), "replace");
        let default =
            Target::new("http://127.0.0.1:1/t/scim/v2", "x", reqwest::Client::new(), Duration::from_secs(1), 1)
                .unwrap();
        assert_eq!(default.patch_value("active", "False"), json!("False"));
        assert_eq!(default.op("replace"), "Replace");
        assert!(Target::new("ftp://x", "x", reqwest::Client::new(), Duration::from_secs(1), 1).is_err());
    }

    #[test]
    fn members_are_removed_by_value_list_or_by_filter_path() {
        let default = Target::new("http://h/", "x", reqwest::Client::new(), Duration::from_secs(1), 1).unwrap();
        let ids = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(
            default.member_operations("remove", &ids),
            vec![json!({"op": "Remove", "path": "members", "value": [{"value": "a"}, {"value": "b"}]})]
        );
        let flagged =
            Target::new("http://h/?aadOptscim062020", "x", reqwest::Client::new(), Duration::from_secs(1), 1).unwrap();
        assert_eq!(
            flagged.member_operations("remove", &ids)[1],
            json!({"op": "remove", "path": "members[value eq \"b\"]"})
        );
    }
}
