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

/// Header names (lowercase) whose values are secrets whatever the rule says.
const SECRET_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"];

/// A name is credential-shaped when, normalized, it contains one of these...
const CREDENTIAL_WORDS: &[&str] = &[
    "secret",
    "password",
    "passwd",
    "token",
    "assertion",
    "credential",
    "apikey",
    "appkey",
    "authorization",
    "refresh",
    "bearer",
    "cookie",
    "privatekey",
    "signature",
    "connectionstring",
];

/// ...or is one of these (SAS's `sig`)...
const CREDENTIAL_NAMES: &[&str] = &["pwd", "pass", "sig", "auth"];

/// Names that contain a word above but are page cursors, not credentials (`$skiptoken`,
/// `$deltatoken` in Graph's links, which a replay must send back as they were).
const CURSOR_NAMES: &[&str] = &["skiptoken", "deltatoken", "nexttoken", "pagetoken", "continuationtoken"];

/// Form and query fields that are credentials there, though not in JSON (where `code` is an error's
/// or a status's code): OAuth's authorization `code`.
const FORM_CREDENTIAL_NAMES: &[&str] = &["code"];

/// ...unless it ends with one of these, which name what is known about a credential, not the
/// credential itself: `token_type`, `Oauth2AccessTokenCreationTime`, `TokenExpiration`,
/// `Oauth2AuthorizationUri`.
const METADATA_SUFFIXES: &[&str] =
    &["type", "expiration", "expiresin", "expireson", "creationtime", "uri", "url", "endpoint"];

/// Where a name's letters and digits are compared: lowercase ASCII, separators (`_`, `-`, `.`,
/// spaces, anything else) left out.
fn normalized(name: &str) -> String {
    name.bytes().filter(u8::is_ascii_alphanumeric).map(|b| char::from(b.to_ascii_lowercase())).collect()
}

/// Percent-decodes a form name (`+` is a space); a stray `%` stays as it is.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a name (a JSON key, a form or query field, a header, or the `key` of a Graph secret)
/// names a credential. The rule: percent-decode it, keep only its ASCII letters and digits,
/// lowercased (so `client_secret`, `Client-Secret`, `client%5Fsecret` and `clientSecret` are one
/// name); it is credential-shaped when it contains secret, password, passwd, token, assertion,
/// credential, apikey, appkey, authorization, refresh, bearer, cookie, privatekey, signature or
/// connectionstring, or is pwd, pass, sig or auth; but not when it ends with type, expiration,
/// expiresin, expireson, creationtime, uri, url or endpoint (`token_type`, `TokenExpiration`,
/// `Oauth2AuthorizationUri` describe a credential without being one), nor when it is a page
/// cursor: skiptoken, deltatoken, nexttoken, pagetoken, continuationtoken. Forms and queries add
/// OAuth's `code` ([`redact_form`]).
pub fn is_credential_name(name: &str) -> bool {
    let name = normalized(&percent_decoded(name));
    if CREDENTIAL_NAMES.contains(&name.as_str()) {
        return true;
    }
    if CURSOR_NAMES.contains(&name.as_str()) {
        return false;
    }
    CREDENTIAL_WORDS.iter().any(|word| name.contains(word)) && !METADATA_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Whether a body might name a credential anywhere: a cheap over-approximation of the rule, so
/// that bodies that cannot hold one are stored without being parsed. A body with `%` or `\` (a
/// name encoded) always might; otherwise every credential-shaped name shows its letters literally.
fn might_hold_credentials(bytes: &[u8]) -> bool {
    if bytes.iter().any(|b| *b == b'%' || *b == b'\\') {
        return true;
    }
    let letters: String =
        bytes.iter().filter(|b| b.is_ascii_alphanumeric()).map(|b| char::from(b.to_ascii_lowercase())).collect();
    CREDENTIAL_WORDS.iter().chain(CREDENTIAL_NAMES).chain(FORM_CREDENTIAL_NAMES).any(|word| letters.contains(word))
}

/// Header names whose values are secrets: authorization, proxy-authorization, cookie, set-cookie,
/// x-api-key, and any other credential-shaped name ([`is_credential_name`]: `x-amz-security-token`).
///
/// `authorization` keeps its scheme (`Bearer <redacted>`) so a journal still shows how a client
/// authenticated; other secret headers become [`REDACTED`]; other headers are returned unchanged.
pub fn redact_header(name: &str, value: &str) -> String {
    if !SECRET_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name)) && !is_credential_name(name) {
        return value.to_owned();
    }
    if name.eq_ignore_ascii_case("authorization")
        && let Some((scheme, _credentials)) = value.trim_start().split_once(' ')
    {
        return format!("{scheme} {REDACTED}");
    }
    REDACTED.to_owned()
}

/// Replaces a secret value; `null` stays `null` so a journal still shows that no secret was sent.
fn redact_value(value: &mut Value) {
    if !value.is_null() {
        *value = Value::String(REDACTED.to_owned());
    }
}

/// The fields that name the `value` beside them: Graph's secrets (`{"key":"SecretToken","value":…}`),
/// SCIM's PATCH operations (`{"op":"replace","path":"password","value":…}`).
const PAIR_NAMES: &[&str] = &["key", "path", "name"];

/// Redacts, recursively at any depth, the value of every credential-shaped key
/// ([`is_credential_name`]): every string and number in it, at any depth, but for booleans and
/// nulls (`{"passwordProfile":{"password":…,"forceChangePasswordNextSignIn":true}}` keeps the flag)
/// and the `value`s of name/value pairs whose name is not credential-shaped
/// (`{"credentials":[{"key":"BaseAddress","value":…},{"key":"SecretToken","value":…}]}` keeps the
/// address). In a name/value pair (`key`, `path` or `name` beside `value`) whose name is
/// credential-shaped, the `value` is redacted: Graph's `{"key":"Oauth2ClientSecret","value":"…"}`,
/// SCIM's `{"op":"replace","path":"password","value":"…"}`.
pub fn redact_json(value: &mut Value) {
    redact_json_within(value, false);
}

/// [`redact_json`]; `within` a credential every string and number is a secret.
fn redact_json_within(value: &mut Value, within: bool) {
    match value {
        Value::Object(map) => {
            let pair = PAIR_NAMES
                .iter()
                .find_map(|name| map.get(*name).and_then(Value::as_str))
                .filter(|_| map.contains_key("value"))
                .map(is_credential_name);
            for (key, inner) in map.iter_mut() {
                match pair {
                    Some(_) if PAIR_NAMES.contains(&key.as_str()) && inner.is_string() => continue,
                    Some(true) if key == "value" => redact_value(inner),
                    Some(false) if key == "value" => redact_json_within(inner, false),
                    _ if is_credential_name(key) => redact_json_within(inner, true),
                    _ => redact_json_within(inner, within),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| redact_json_within(item, within)),
        // A flag carries no secret, and shows what was asked (`forceChangePasswordNextSignIn`).
        Value::Bool(_) => {}
        scalar if within => redact_value(scalar),
        _ => {}
    }
}

/// Redacts the credential-shaped fields ([`is_credential_name`], on the percent-decoded name) of an
/// application/x-www-form-urlencoded body or query string (`client_secret`, `client%5Fsecret`,
/// `access_token`, and OAuth's `code`…); keeps the others byte for byte. A field without `=` whose name is
/// credential-shaped goes whole.
pub fn redact_form(body: &str) -> String {
    let is_secret = |name: &str| {
        is_credential_name(name) || FORM_CREDENTIAL_NAMES.contains(&normalized(&percent_decoded(name)).as_str())
    };
    body.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret(name) => format!("{name}={REDACTED}"),
            None if is_secret(pair) => REDACTED.to_owned(),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Whether a text reads as a form: no quotes, braces or white space anywhere.
fn is_form_shaped(text: &str) -> bool {
    !text.bytes().any(|b| matches!(b, b'"' | b'{' | b'}') || b.is_ascii_whitespace() || b.is_ascii_control())
}

/// Redacts a body that is not JSON, whatever its content type says: a form-shaped one field by
/// field ([`redact_form`]); any other that might name a credential (malformed JSON, say) is
/// replaced by its length, since where its secrets are cannot be told.
pub fn redact_text(text: &str) -> String {
    if is_form_shaped(text) {
        redact_form(text)
    } else if might_hold_credentials(text.as_bytes()) {
        format!("<redacted: {} bytes, neither JSON nor a form>", text.len())
    } else {
        text.to_owned()
    }
}

/// A body redacted as bytes, for storing: JSON through [`redact_json`], anything else through
/// [`redact_text`]; a body that cannot name a credential is returned as it came, unparsed.
pub fn redact_body_bytes(bytes: Vec<u8>) -> Vec<u8> {
    if !might_hold_credentials(&bytes) {
        return bytes;
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(mut value) => {
            redact_json(&mut value);
            serde_json::to_vec(&value).unwrap_or_default()
        }
        Err(_) => redact_text(&String::from_utf8_lossy(&bytes)).into_bytes(),
    }
}

/// Records headers, redacting secret values.
fn redact_headers(headers: impl IntoIterator<Item = (String, String)>) -> Vec<RecordedHeader> {
    headers.into_iter().map(|(name, value)| RecordedHeader { value: redact_header(&name, &value), name }).collect()
}

/// Parses a body and redacts it: JSON through [`redact_json`], text through [`redact_text`].
fn redact_body(bytes: &[u8]) -> Option<RecordedBody> {
    Some(match RecordedBody::from_bytes(bytes)? {
        RecordedBody::Json(mut value) => {
            redact_json(&mut value);
            RecordedBody::Json(value)
        }
        RecordedBody::Text(text) => RecordedBody::Text(redact_text(&text)),
    })
}

impl RecordedRequest {
    /// Builds a request record with headers and body redacted: a form-urlencoded body through
    /// [`redact_text`], any other parsed with from_bytes then [`redact_json`] or, when it is not JSON
    /// (no content type, a wrong one, malformed JSON), [`redact_text`] too.
    ///
    /// The query string goes through [`redact_form`] as well, since it uses the same encoding and
    /// carries `access_token` or OAuth's `code` there.
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
            Some(RecordedBody::Text(redact_text(&String::from_utf8_lossy(body))))
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

/// What stands for a body of `bytes` bytes that is not kept: `{"omitted": reason, "bytes": N}`;
/// nothing for an empty one.
pub fn omitted_body(reason: &str, bytes: usize) -> Vec<u8> {
    if bytes == 0 {
        return Vec::new();
    }
    serde_json::to_vec(&serde_json::json!({"omitted": reason, "bytes": bytes})).unwrap_or_default()
}

/// Replaces a non-empty body by [`omitted_body`].
fn omit(body: &mut Vec<u8>, reason: &str) {
    *body = omitted_body(reason, body.len());
}

/// A response as [`RawExchange`] keeps it: status, headers (secrets redacted), raw body.
pub type RawResponse = (u16, Vec<(String, String)>, Vec<u8>);

/// An exchange as a mock keeps it until someone reads the journal: headers, query and bodies with
/// their secrets already redacted, so that no secret is ever stored; bodies as bytes. Parsing every
/// body cost more than the request itself, so only a body that might name a credential is parsed
/// and redacted as it is stored (most are not); [`RawExchange::to_entry`] parses the others when
/// the journal is read.
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
    /// Request body, secrets redacted.
    pub request_body: Vec<u8>,
    /// Status, headers and body of the response, secrets redacted; `None` when dropped.
    pub response: Option<RawResponse>,
    /// The fault applied, if any.
    pub fault: Option<AppliedFault>,
}

impl RawExchange {
    /// Keeps an exchange, redacting the secrets of its headers, query and body now.
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
            query: query.map(redact_form),
            request_headers: headers
                .into_iter()
                .map(|(k, v)| {
                    let v = redact_header(&k, &v);
                    (k, v)
                })
                .collect(),
            request_body: redact_body_bytes(body),
            response: None,
            fault,
        }
    }

    /// Adds the response, redacting the secrets of its headers and body now.
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
        self.response = Some((status, headers, redact_body_bytes(body)));
        self
    }

    /// About how much memory the exchange holds, as the journal's byte cap counts it: its bodies,
    /// headers, method, path and query, and a fixed 256 bytes for the rest.
    pub fn approx_bytes(&self) -> usize {
        let headers = |headers: &[(String, String)]| headers.iter().map(|(k, v)| k.len() + v.len() + 48).sum::<usize>();
        let response = self.response.as_ref().map_or(0, |(_, h, body)| headers(h) + body.len());
        256 + self.method.len()
            + self.path.len()
            + self.query.as_ref().map_or(0, String::len)
            + headers(&self.request_headers)
            + self.request_body.len()
            + response
    }

    /// Replaces both bodies by [`omitted_body`] markers: what is kept of an exchange too large for
    /// the journal on its own (`"journalBytes"`).
    pub fn omit_bodies(&mut self, reason: &str) {
        omit(&mut self.request_body, reason);
        if let Some((_, _, body)) = &mut self.response {
            omit(body, reason);
        }
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
            "session": {"refreshToken": {"deep": "d", "n": 7}, "tokenType": "Bearer"},
            "passwordProfile": {"password": "e", "forceChangePasswordNextSignIn": true, "hints": ["f", null]}
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
                "session": {"refreshToken": {"deep": REDACTED, "n": REDACTED}, "tokenType": "Bearer"},
                "passwordProfile": {"password": REDACTED, "forceChangePasswordNextSignIn": true, "hints": [REDACTED, null]}
            })
        );
    }

    #[test]
    fn credential_shaped_names_are_told_by_rule() {
        for name in [
            "client_secret",
            "client%5Fsecret",
            "Client-Secret",
            "clientSecret",
            "access_token",
            "%61ccess%5Ftoken",
            "SecretToken",
            "Oauth2ClientSecret",
            "Oauth2RefreshToken",
            "Oauth2AccessToken",
            "ConsumerSecret",
            "password",
            "passwordProfile",
            "client_assertion",
            "api_key",
            "X-Api-Key",
            "x-amz-security-token",
            "sig",
            "AppKey",
            "TokenKey",
            "Oauth2AuthorizationCode",
            "ConnectionString",
            "credentials",
        ] {
            assert!(is_credential_name(name), "{name} is credential-shaped");
        }
        for name in [
            "userName",
            "BaseAddress",
            "token_type",
            "tokenType",
            "expires_in",
            "TokenExpiration",
            "Oauth2AccessTokenCreationTime",
            "Oauth2AuthorizationUri",
            "Oauth2TokenExchangeUri",
            "grant_type",
            "client_id",
            "scope",
            "content-type",
            "postalCode",
            "SyncAll",
            "ConsumerKey",
            "displayName",
        ] {
            assert!(!is_credential_name(name), "{name} is not credential-shaped");
        }
    }

    #[test]
    fn credentials_in_arrays_and_named_pairs_are_redacted_and_their_names_kept() {
        let mut value = json!({
            "credentials": [{"key": "BaseAddress", "value": "https://x"}, {"key": "SecretToken", "value": "t"}, "loose"],
            "Operations": [
                {"op": "replace", "path": "password", "value": "p"},
                {"op": "replace", "path": "displayName", "value": "A"},
                {"op": "replace", "value": {"password": "q", "active": false}}
            ],
            "value": [{"key": "ConsumerSecret", "value": "c"}, {"key": "Oauth2AccessToken", "value": {"nested": "n"}}]
        });
        redact_json(&mut value);
        assert_eq!(
            value,
            json!({
                "credentials": [{"key": "BaseAddress", "value": "https://x"}, {"key": "SecretToken", "value": REDACTED}, REDACTED],
                "Operations": [
                    {"op": "replace", "path": "password", "value": REDACTED},
                    {"op": "replace", "path": "displayName", "value": "A"},
                    {"op": "replace", "value": {"password": REDACTED, "active": false}}
                ],
                "value": [{"key": "ConsumerSecret", "value": REDACTED}, {"key": "Oauth2AccessToken", "value": REDACTED}]
            })
        );
        let parsed = redact_body_bytes(br#"{"\u0070assword":"p","a":1}"#.to_vec());
        assert_eq!(String::from_utf8(parsed).unwrap(), r#"{"password":"<redacted>","a":1}"#);
    }

    #[test]
    fn bodies_that_are_not_json_are_redacted_whatever_their_content_type() {
        let form = "grant_type=client_credentials&client%5Fsecret=s&client_id=c&%63ode=x";
        assert_eq!(
            redact_text(form),
            "grant_type=client_credentials&client%5Fsecret=<redacted>&client_id=c&%63ode=<redacted>"
        );
        let malformed = r#"{"userName":"a","password":"s3cret"#;
        assert_eq!(redact_text(malformed), format!("<redacted: {} bytes, neither JSON nor a form>", malformed.len()));
        assert_eq!(redact_text("not json {"), "not json {", "text naming no credential is kept");
        let request = RecordedRequest::redacted(
            "POST",
            "/t",
            Some("access_token=s&%61ccess_token=s&x=1"),
            [],
            None,
            b"client_id=c&client_secret=s",
        );
        assert_eq!(request.query.as_deref(), Some("access_token=<redacted>&%61ccess_token=<redacted>&x=1"));
        assert_eq!(request.body, Some(RecordedBody::Text("client_id=c&client_secret=<redacted>".into())));
        let raw = RawExchange::new(
            1,
            Timestamp::UNIX_EPOCH,
            0,
            "POST",
            "/t",
            Some("token=s"),
            [],
            form.as_bytes().to_vec(),
            None,
        );
        let stored = String::from_utf8_lossy(&raw.request_body);
        assert!(
            !stored.contains("=s&") && !raw.query.as_deref().unwrap().contains("=s"),
            "redacted as stored: {stored}"
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
