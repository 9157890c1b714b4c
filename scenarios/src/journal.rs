//! The journal record: what a mock saw and answered, with secrets redacted before they are stored.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::fault::AppliedFault;

/// One recorded exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JournalEntry {
    /// 1-based order of arrival.
    pub seq: u64,
    /// Mock clock when the request arrived.
    pub at: Timestamp,
    /// Mock-clock time the exchange took; on a virtual clock only latency faults add to it, so it is deterministic.
    pub elapsed_ms: u64,
    /// The request as received, redacted.
    pub request: RecordedRequest,
    /// The response as sent, redacted; `None` when the connection was dropped.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub response: Option<RecordedResponse>,
    /// The fault applied to this exchange, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fault: Option<AppliedFault>,
}

/// A recorded request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Raw query string without the `?`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub query: Option<String>,
    /// Headers in arrival order.
    pub headers: Vec<RecordedHeader>,
    /// Body; `None` when empty.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub body: Option<RecordedBody>,
}

/// A recorded response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordedResponse {
    /// HTTP status code.
    pub status: u16,
    /// Headers in sending order.
    pub headers: Vec<RecordedHeader>,
    /// Body; `None` when empty.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub body: Option<RecordedBody>,
}

/// One header line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordedHeader {
    /// Header name as received.
    pub name: String,
    /// Header value, redacted if the header carries a secret.
    pub value: String,
}

/// A message body: parsed JSON when it is JSON, so journals are readable and diffable, text otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RecordedBody {
    /// A body that is not JSON, decoded as lossy UTF-8.
    // Listed first because untagged deserialization tries variants in order and `Value` accepts a
    // string too: this way a text body reads back as text.
    Text(String),
    /// A JSON body.
    Json(Value),
}

impl RecordedBody {
    /// JSON if the bytes parse as JSON, text (lossy UTF-8) otherwise; empty bytes -> None
    pub fn from_bytes(bytes: &[u8]) -> Option<RecordedBody> {
        if bytes.is_empty() {
            return None;
        }
        Some(match serde_json::from_slice(bytes) {
            Ok(value) => RecordedBody::Json(value),
            Err(_) => RecordedBody::Text(String::from_utf8_lossy(bytes).into_owned()),
        })
    }
}

/// The text that replaces a secret.
pub const REDACTED: &str = "<redacted>";

/// Header names (lowercase) whose values are secrets.
const SECRET_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"];

/// JSON keys that name secrets, lowercase with `_` and `-` removed.
const SECRET_KEYS: &[&str] =
    &["accesstoken", "secrettoken", "token", "clientsecret", "password", "secret", "refreshtoken", "idtoken", "apikey"];

/// Form fields whose values are secrets (OAuth token requests).
const SECRET_FORM_FIELDS: &[&str] = &["client_secret", "password", "assertion", "refresh_token", "code"];

/// Header names whose values are secrets (compared case-insensitively): authorization, proxy-authorization, cookie, set-cookie, x-api-key.
///
/// `authorization` keeps its scheme (`Bearer <redacted>`) so a journal still shows how a client
/// authenticated; other secret headers become [`REDACTED`]; other headers are returned unchanged.
pub fn redact_header(name: &str, value: &str) -> String {
    if !SECRET_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name)) {
        return value.to_owned();
    }
    if name.eq_ignore_ascii_case("authorization")
        && let Some((scheme, _credentials)) = value.trim_start().split_once(' ')
    {
        return format!("{scheme} {REDACTED}");
    }
    REDACTED.to_owned()
}

/// Whether a JSON key (or an Entra `key` value) names a secret.
fn is_secret_key(key: &str) -> bool {
    let normalized: String = key.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect();
    SECRET_KEYS.contains(&normalized.as_str())
}

/// Replaces a secret value; `null` stays `null` so a journal still shows that no secret was sent.
fn redact_value(value: &mut Value) {
    if !value.is_null() {
        *value = Value::String(REDACTED.to_owned());
    }
}

/// Replaces, recursively in objects and arrays, the value of every key that names a secret (case-insensitive, ignoring `_` and `-`): accesstoken, secrettoken, token, clientsecret, password, secret, refreshtoken, idtoken, apikey, and the Entra secrets form `{"key":"SecretToken","value":"…"}` (an object whose "key" field names a secret gets its "value" redacted).
pub fn redact_json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            // Entra's provisioning secrets API: `[{"key":"SecretToken","value":"…"}]`.
            let keyed_secret = map.get("key").and_then(Value::as_str).is_some_and(is_secret_key);
            for (key, inner) in map.iter_mut() {
                if is_secret_key(key) || (keyed_secret && key == "value") {
                    redact_value(inner);
                } else {
                    redact_json(inner);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        _ => {}
    }
}

/// Redacts secret fields in an application/x-www-form-urlencoded body (client_secret, password, assertion, refresh_token, code); keeps the others byte for byte.
pub fn redact_form(body: &str) -> String {
    body.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if SECRET_FORM_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(name)) => {
                format!("{name}={REDACTED}")
            }
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Records headers, redacting secret values.
fn redact_headers(headers: impl IntoIterator<Item = (String, String)>) -> Vec<RecordedHeader> {
    headers.into_iter().map(|(name, value)| RecordedHeader { value: redact_header(&name, &value), name }).collect()
}

/// Parses a body and redacts its JSON secrets; text bodies are kept as they are.
fn redact_body(bytes: &[u8]) -> Option<RecordedBody> {
    let mut body = RecordedBody::from_bytes(bytes)?;
    if let RecordedBody::Json(value) = &mut body {
        redact_json(value);
    }
    Some(body)
}

impl RecordedRequest {
    /// Builds a request record with headers and body redacted (body parsed with from_bytes then redact_json, or redact_form when content type is form-urlencoded)
    ///
    /// The query string goes through [`redact_form`] as well, since it uses the same encoding and
    /// OAuth redirects carry `code` there.
    pub fn redacted(
        method: &str,
        path: &str,
        query: Option<&str>,
        headers: impl IntoIterator<Item = (String, String)>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Self {
        let is_form = content_type.is_some_and(|ct| {
            ct.split(';').next().unwrap_or_default().trim().eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
        let body = if is_form && !body.is_empty() {
            Some(RecordedBody::Text(redact_form(&String::from_utf8_lossy(body))))
        } else {
            redact_body(body)
        };
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.map(redact_form),
            headers: redact_headers(headers),
            body,
        }
    }
}

impl RecordedResponse {
    /// Builds a response record with headers and JSON body redacted (e.g. an `accessToken` from an admin endpoint).
    pub fn redacted(status: u16, headers: impl IntoIterator<Item = (String, String)>, body: &[u8]) -> Self {
        Self { status, headers: redact_headers(headers), body: redact_body(body) }
    }
}

/// A response as [`RawExchange`] keeps it: status, headers (secrets redacted), raw body.
pub type RawResponse = (u16, Vec<(String, String)>, Vec<u8>);

/// An exchange as a mock keeps it until someone reads the journal: headers with secrets already
/// redacted, bodies as raw bytes. Parsing and redacting bodies on every request cost more than the
/// request itself; [`RawExchange::to_entry`] does it once, when the journal is read.
#[derive(Debug, Clone, PartialEq)]
pub struct RawExchange {
    /// 1-based order of arrival.
    pub seq: u64,
    /// Mock clock at arrival.
    pub at: jiff::Timestamp,
    /// Mock-clock time the exchange took.
    pub elapsed_ms: u64,
    /// Request method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Raw query string.
    pub query: Option<String>,
    /// Request headers, secrets redacted.
    pub request_headers: Vec<(String, String)>,
    /// Request body, raw.
    pub request_body: Vec<u8>,
    /// Status, headers (secrets redacted) and raw body of the response; `None` when dropped.
    pub response: Option<RawResponse>,
    /// The fault applied, if any.
    pub fault: Option<AppliedFault>,
}

impl RawExchange {
    /// Keeps an exchange, redacting header secrets now.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        seq: u64,
        at: jiff::Timestamp,
        elapsed_ms: u64,
        method: &str,
        path: &str,
        query: Option<&str>,
        headers: impl IntoIterator<Item = (String, String)>,
        body: Vec<u8>,
        fault: Option<AppliedFault>,
    ) -> Self {
        RawExchange {
            seq,
            at,
            elapsed_ms,
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.map(str::to_owned),
            request_headers: headers
                .into_iter()
                .map(|(k, v)| {
                    let v = redact_header(&k, &v);
                    (k, v)
                })
                .collect(),
            request_body: body,
            response: None,
            fault,
        }
    }

    /// Adds the response, redacting header secrets now.
    pub fn with_response(
        mut self,
        status: u16,
        headers: impl IntoIterator<Item = (String, String)>,
        body: Vec<u8>,
    ) -> Self {
        let headers = headers
            .into_iter()
            .map(|(k, v)| {
                let v = redact_header(&k, &v);
                (k, v)
            })
            .collect();
        self.response = Some((status, headers, body));
        self
    }

    /// The journal entry: bodies parsed and redacted as [`RecordedRequest::redacted`] does.
    pub fn to_entry(&self) -> JournalEntry {
        let content_type =
            self.request_headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.as_str());
        let request = RecordedRequest::redacted(
            &self.method,
            &self.path,
            self.query.as_deref(),
            self.request_headers.iter().cloned(),
            content_type,
            &self.request_body,
        );
        let response = self
            .response
            .as_ref()
            .map(|(status, headers, body)| RecordedResponse::redacted(*status, headers.iter().cloned(), body));
        JournalEntry {
            seq: self.seq,
            at: self.at,
            elapsed_ms: self.elapsed_ms,
            request,
            response,
            fault: self.fault.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_raw_exchange_reads_back_redacted() {
        let at: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let raw = super::RawExchange::new(
            1,
            at,
            0,
            "POST",
            "/t",
            None,
            [
                ("authorization".to_owned(), "Bearer abc".to_owned()),
                ("content-type".to_owned(), "application/json".to_owned()),
            ],
            br#"{"secretToken":"s","userName":"a"}"#.to_vec(),
            None,
        )
        .with_response(201, [], br#"{"id":"1"}"#.to_vec());
        assert_eq!(raw.request_headers[0].1, "Bearer <redacted>");
        let entry = raw.to_entry();
        let text = serde_json::to_string(&entry).unwrap();
        assert!(!text.contains("abc") && !text.contains("\"s\""), "{text}");
        assert!(text.contains("userName"));
    }

    use super::*;
    use crate::fault::FaultAction;
    use serde_json::json;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn bearer_token_is_redacted_but_its_scheme_kept() {
        assert_eq!(redact_header("Authorization", "Bearer abc"), "Bearer <redacted>");
        assert_eq!(redact_header("authorization", "Basic xyz"), "Basic <redacted>");
        assert_eq!(redact_header("authorization", "opaque"), REDACTED);
        assert_eq!(redact_header("Cookie", "a=b"), REDACTED);
        assert_eq!(redact_header("x-api-key", "k"), REDACTED);
        assert_eq!(redact_header("content-type", "application/json"), "application/json");
    }

    #[test]
    fn nested_json_secrets_are_redacted_including_the_key_value_form() {
        let mut value = json!({
            "access_token": "a",
            "userName": "alice",
            "nested": [{"Client-Secret": "b", "keep": 1}, {"password": null}],
            "value": [
                {"key": "SecretToken", "value": "c"},
                {"key": "BaseAddress", "value": "https://x"}
            ],
            "credentials": {"refreshToken": {"deep": "d"}, "tokenType": "Bearer"}
        });
        redact_json(&mut value);
        assert_eq!(
            value,
            json!({
                "access_token": REDACTED,
                "userName": "alice",
                "nested": [{"Client-Secret": REDACTED, "keep": 1}, {"password": null}],
                "value": [
                    {"key": "SecretToken", "value": REDACTED},
                    {"key": "BaseAddress", "value": "https://x"}
                ],
                "credentials": {"refreshToken": REDACTED, "tokenType": "Bearer"}
            })
        );
    }

    #[test]
    fn form_body_secrets_are_redacted_and_other_fields_kept_byte_for_byte() {
        let body = "grant_type=client_credentials&client_id=abc%20d&client_secret=s3cr%2Ft&scope=a+b&flag";
        assert_eq!(
            redact_form(body),
            "grant_type=client_credentials&client_id=abc%20d&client_secret=<redacted>&scope=a+b&flag"
        );
        let request = RecordedRequest::redacted(
            "POST",
            "/oauth2/v2.0/token",
            None,
            headers(&[("content-type", "application/x-www-form-urlencoded; charset=utf-8")]),
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            b"refresh_token=r&code=c&x=1",
        );
        assert_eq!(request.body, Some(RecordedBody::Text("refresh_token=<redacted>&code=<redacted>&x=1".into())));
    }

    #[test]
    fn non_json_body_is_kept_as_text_and_empty_body_is_none() {
        assert_eq!(RecordedBody::from_bytes(b"not json {"), Some(RecordedBody::Text("not json {".into())));
        assert_eq!(RecordedBody::from_bytes(b"{\"a\":1}"), Some(RecordedBody::Json(json!({"a": 1}))));
        assert_eq!(RecordedBody::from_bytes(b""), None);
        assert_eq!(RecordedBody::from_bytes(&[0xff, b'a']), Some(RecordedBody::Text("\u{fffd}a".into())));
    }

    #[test]
    fn request_and_response_records_redact_headers_and_json() {
        let request = RecordedRequest::redacted(
            "POST",
            "/scim/v2/Users",
            Some("filter=userName+eq+%22a%22"),
            headers(&[("authorization", "Bearer t0k3n"), ("accept", "*/*")]),
            Some("application/scim+json"),
            br#"{"userName":"a","password":"p"}"#,
        );
        assert_eq!(request.query.as_deref(), Some("filter=userName+eq+%22a%22"));
        assert_eq!(request.headers[0].value, "Bearer <redacted>");
        assert_eq!(request.headers[1].value, "*/*");
        assert_eq!(request.body, Some(RecordedBody::Json(json!({"userName": "a", "password": REDACTED}))));
        let response = RecordedResponse::redacted(
            200,
            headers(&[("set-cookie", "s=1")]),
            br#"{"accessToken":"xyz","expiresIn":3600}"#,
        );
        assert_eq!(response.headers[0].value, REDACTED);
        assert_eq!(response.body, Some(RecordedBody::Json(json!({"accessToken": REDACTED, "expiresIn": 3600}))));
    }

    #[test]
    fn entry_roundtrips_through_camel_case_json() {
        let entry = JournalEntry {
            seq: 1,
            at: "2025-01-01T00:00:00Z".parse().unwrap(),
            elapsed_ms: 250,
            request: RecordedRequest::redacted(
                "GET",
                "/scim/v2/Users",
                Some("count=10"),
                headers(&[("accept", "application/scim+json")]),
                None,
                b"",
            ),
            response: Some(RecordedResponse::redacted(503, [], b"busy")),
            fault: Some(AppliedFault {
                rule: Some("flaky".into()),
                rule_index: 0,
                action: FaultAction::Latency { ms: 250 },
            }),
        };
        let value = serde_json::to_value(&entry).unwrap();
        assert_eq!(
            value,
            json!({
                "seq": 1,
                "at": "2025-01-01T00:00:00Z",
                "elapsedMs": 250,
                "request": {
                    "method": "GET",
                    "path": "/scim/v2/Users",
                    "query": "count=10",
                    "headers": [{"name": "accept", "value": "application/scim+json"}]
                },
                "response": {"status": 503, "headers": [], "body": "busy"},
                "fault": {"rule": "flaky", "ruleIndex": 0, "action": {"kind": "latency", "ms": 250}}
            })
        );
        assert_eq!(serde_json::from_value::<JournalEntry>(value).unwrap(), entry);
        let dropped = JournalEntry { response: None, fault: None, ..entry };
        let text = serde_json::to_string(&dropped).unwrap();
        assert!(!text.contains("response") && !text.contains("fault"));
        assert_eq!(serde_json::from_str::<JournalEntry>(&text).unwrap(), dropped);
    }

    #[test]
    fn unknown_entry_fields_are_rejected() {
        let json = r#"{"seq":1,"at":"2025-01-01T00:00:00Z","elapsedMs":0,"elapsed":0,
            "request":{"method":"GET","path":"/","headers":[]}}"#;
        assert!(serde_json::from_str::<JournalEntry>(json).is_err());
    }
}
