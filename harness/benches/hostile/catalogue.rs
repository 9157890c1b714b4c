//! The hostile inputs, one named kind each, per surface, built fresh every round from a seeded RNG
//! (names differ so a create never meets a 409 from the round before), and the envelope each
//! surface must answer an error in.

use std::net::SocketAddr;

use serde_json::{Value, json};

use crate::raw::request;

/// Where a hostile request goes: the report's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Surface {
    /// mock-graph's `/v1.0`.
    GraphV1,
    /// mock-graph's `/{tenant}/oauth2/v2.0/token`.
    GraphToken,
    /// mock-graph's `/_admin`.
    GraphAdmin,
    /// mock-scim's `/{tenant}/scim/v2` (SCIM_URL).
    Scim,
    /// mock-scim's `/_admin`.
    ScimAdmin,
}

impl Surface {
    /// Every surface, in the report's order.
    pub const ALL: [Surface; 5] =
        [Surface::GraphV1, Surface::GraphToken, Surface::GraphAdmin, Surface::Scim, Surface::ScimAdmin];

    /// The row's label.
    pub fn label(self) -> &'static str {
        match self {
            Surface::GraphV1 => "graph /v1.0",
            Surface::GraphToken => "graph token endpoint",
            Surface::GraphAdmin => "graph /_admin",
            Surface::Scim => "scim /scim/v2 (SCIM_URL)",
            Surface::ScimAdmin => "scim /_admin",
        }
    }

    /// Whether `body` is this surface's error envelope.
    pub fn enveloped(self, body: &[u8]) -> bool {
        let Ok(value) = serde_json::from_slice::<Value>(body) else { return false };
        // mock-graph/src/error.rs: {"error":{"code","message","innerError":{…}}}.
        let graph = value["error"]["code"].is_string() && value["error"]["message"].is_string();
        match self {
            Surface::GraphV1 => graph,
            // mock-graph/src/auth.rs: Entra's OAuth error, `error` and `error_description` strings.
            Surface::GraphToken => value["error"].is_string() && value["error_description"].is_string(),
            // scenarios/src/serve/admin.rs `AdminError`: {"error":"…"}; a mock's own admin route
            // may answer in its protocol's envelope, taken as well.
            Surface::GraphAdmin => value["error"].is_string() || graph,
            Surface::ScimAdmin => value["error"].is_string() || scim(&value),
            Surface::Scim => scim(&value),
        }
    }
}

/// mock-scim/src/error.rs: AWS's envelope, the error URN under `schemas` and a `status`.
fn scim(value: &Value) -> bool {
    let urn = "urn:ietf:params:scim:api:messages:2.0:Error";
    value["schemas"].as_array().is_some_and(|s| s.iter().any(|u| u == urn)) && !value["status"].is_null()
}

/// What the hostile requests need to know of the served mocks.
#[derive(Debug, Clone)]
pub struct Target {
    /// mock-graph's socket.
    pub graph: SocketAddr,
    /// mock-scim's socket.
    pub scim: SocketAddr,
    /// The Entra tenant's domain (the token endpoint's path).
    pub tenant: String,
    /// The SCIM endpoint's path, `/{tenant}/scim/v2` without the trailing slash.
    pub scim_path: String,
    /// A valid Graph token, refreshed as the virtual clock moves.
    pub graph_token: String,
    /// A Graph token whose lifetime the virtual clock has passed.
    pub old_graph_token: String,
    /// The SCIM bearer token.
    pub scim_token: String,
    /// mock-graph's admin token.
    pub graph_admin: String,
    /// mock-scim's admin token.
    pub scim_admin: String,
    /// The client credentials.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// A Graph group that exists (for `$ref`).
    pub group_id: String,
    /// A SCIM user that exists (for PATCH).
    pub scim_user_id: String,
}

/// One hostile request.
#[derive(Debug)]
pub struct Input {
    /// Its named kind.
    pub kind: &'static str,
    /// Where it goes.
    pub surface: Surface,
    /// Whether a 2xx is a right answer too (a form Entra or AWS accept, such as a long but valid
    /// filter value); otherwise only an enveloped error is.
    pub may_succeed: bool,
    /// The bytes sent.
    pub bytes: Vec<u8>,
}

impl Input {
    /// The socket it is sent to.
    pub fn address(&self, target: &Target) -> SocketAddr {
        match self.surface {
            Surface::GraphV1 | Surface::GraphToken | Surface::GraphAdmin => target.graph,
            Surface::Scim | Surface::ScimAdmin => target.scim,
        }
    }
}

/// splitmix64: a seeded stream, no dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A stream from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `n` lowercase letters.
    pub fn letters(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from(b'a' + (self.next() % 26) as u8)).collect()
    }
}

fn bearer(token: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {token}"))
}

fn json_type() -> (&'static str, String) {
    ("Content-Type", "application/json".to_owned())
}

fn scim_type() -> (&'static str, String) {
    ("Content-Type", "application/scim+json".to_owned())
}

/// A JSON body of about `size` bytes: a user whose display name fills it.
fn padded(size: usize) -> Vec<u8> {
    serde_json::to_vec(&json!({ "displayName": "x".repeat(size.saturating_sub(20)) })).unwrap_or_default()
}

fn graph_user(upn: &str) -> Value {
    json!({
        "accountEnabled": true,
        "displayName": "Hostile",
        "mailNickname": upn.split('@').next().unwrap_or("h"),
        "userPrincipalName": upn,
        "passwordProfile": { "password": "Pa55-word-long-enough" },
    })
}

fn scim_user(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": { "givenName": "Host", "familyName": "Ile" },
        "displayName": "Host Ile",
        "active": true,
    })
}

/// Percent-encodes a query value, leaving what RFC 3986 allows in a query as it is, so that the
/// 4,250-deep filters stay under hyper's URI limit (64 KiB) and reach the filter parser.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            b'(' | b')' | b'/' | b':' | b'\'' | b'@' | b',' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The connection-level inputs hyper answers before any route: the same on both listeners.
fn connection_level(surface: Surface, path: &str, auth: (&'static str, String), out: &mut Vec<Input>) {
    let mut push = |kind, bytes| out.push(Input { kind, surface, may_succeed: false, bytes });
    let long = format!("{path}?q={}", "a".repeat(70 * 1024));
    push("70 KB URL", request("GET", long.as_bytes(), std::slice::from_ref(&auth), None));
    let many: Vec<(&str, String)> =
        std::iter::once(auth.clone()).chain((0..120).map(|_| ("X-Hostile", "1".to_owned()))).collect();
    push("120 headers", request("GET", path.as_bytes(), &many, None));
    push("500 KB header", request("GET", path.as_bytes(), &[auth, ("X-Hostile", "h".repeat(500 * 1024))], None));
    push("malformed request line", b"GET  /v1.0 users HTTP/1.1 extra\r\nHost: x\r\n\r\n".to_vec());
    push("not HTTP", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n".to_vec());
}

/// One of every kind, for this round.
pub fn round(target: &Target, rng: &mut Rng) -> Vec<Input> {
    let mut out = Vec::new();
    graph_v1(target, rng, &mut out);
    graph_token(target, rng, &mut out);
    admin(Surface::GraphAdmin, &target.graph_admin, rng, &mut out);
    scim_v2(target, rng, &mut out);
    admin(Surface::ScimAdmin, &target.scim_admin, rng, &mut out);
    let tenants = br#"{"tenantId":"a/b"}"#;
    out.push(Input {
        kind: "POST /_admin/tenants tenantId a/b",
        surface: Surface::ScimAdmin,
        may_succeed: false,
        bytes: request("POST", b"/_admin/tenants", &[bearer(&target.scim_admin), json_type()], Some(tenants)),
    });
    out
}

fn graph_v1(target: &Target, rng: &mut Rng, out: &mut Vec<Input>) {
    let surface = Surface::GraphV1;
    let token = bearer(&target.graph_token);
    let mut push = |kind, may_succeed, bytes| out.push(Input { kind, surface, may_succeed, bytes });
    let get =
        |path: &str, auth: Option<(&'static str, String)>| request("GET", path.as_bytes(), &Vec::from_iter(auth), None);
    let parens = format!("{}startswith(displayName,'a'){}", "(".repeat(2000), ")".repeat(2000));
    push(
        "$filter 2,000 nested (",
        false,
        get(&format!("/v1.0/users?$filter={}", encode(&parens)), Some(token.clone())),
    );
    let nots = format!("{}displayName eq 'a'", "not ".repeat(4250));
    push("$filter not x4,250", false, get(&format!("/v1.0/users?$filter={}", encode(&nots)), Some(token.clone())));
    let anys = format!("{}id eq 'a'{}", "m/any(m:".repeat(4250), ")".repeat(4250));
    push(
        "$filter nested any() x4,250",
        false,
        get(&format!("/v1.0/users?$filter={}", encode(&anys)), Some(token.clone())),
    );
    let logs = format!("/v1.0/auditLogs/provisioning?$filter={}", encode(&nots));
    push("auditLogs $filter not x4,250", false, get(&logs, Some(token.clone())));
    let logs = format!("/v1.0/auditLogs/provisioning?$filter={}", encode(&anys));
    push("auditLogs $filter nested any() x4,250", false, get(&logs, Some(token.clone())));

    let upn = format!("h{}@contoso.onmicrosoft.com", rng.letters(12));
    let user = serde_json::to_vec(&graph_user(&upn)).unwrap_or_default();
    let post = |headers: &[(&str, String)], body: &[u8]| request("POST", b"/v1.0/users", headers, Some(body));
    push("invalid JSON", false, post(&[token.clone(), json_type()], b"{\"displayName\": \"a\", "));
    let wrong = br#"{"accountEnabled":"yes","displayName":42,"mailNickname":[],"userPrincipalName":{}}"#;
    push("JSON with wrong types", false, post(&[token.clone(), json_type()], wrong));
    push("invalid UTF-8", false, post(&[token.clone(), json_type()], b"{\"displayName\":\"\xff\xfe\xc3\x28\"}"));
    push("Content-Type text/plain", false, post(&[token.clone(), ("Content-Type", "text/plain".into())], &user));
    let upn = format!("h{}@contoso.onmicrosoft.com", rng.letters(12));
    let user = serde_json::to_vec(&graph_user(&upn)).unwrap_or_default();
    push("no Content-Type", false, post(std::slice::from_ref(&token), &user));
    push("5 MB body", false, post(&[token.clone(), json_type()], &padded(5 * 1024 * 1024)));
    push("1 MB POST, no token", false, post(&[json_type()], &padded(1_000_000)));
    push("bad token", false, get("/v1.0/users", Some(bearer("not-a-token"))));
    push("expired token", false, get("/v1.0/users", Some(bearer(&target.old_graph_token))));
    push("missing token", false, get("/v1.0/users", None));
    push("unknown path", false, get("/v1.0/nothingHere", Some(token.clone())));
    push("wrong method", false, request("PUT", b"/v1.0/users", &[token.clone(), json_type()], Some(b"{}")));
    let reference = format!("/v1.0/groups/{}/members/$ref", target.group_id);
    let odata = br#"{"@odata.id":"not a url"}"#;
    push(
        "@odata.id not a url",
        false,
        request("POST", reference.as_bytes(), &[token.clone(), json_type()], Some(odata)),
    );
    let long_upn = format!("{}@contoso.onmicrosoft.com", rng.letters(100 * 1024));
    let body = serde_json::to_vec(&graph_user(&long_upn)).unwrap_or_default();
    push("100 KB userPrincipalName", false, post(&[token.clone(), json_type()], &body));
    connection_level(surface, "/v1.0/users", token, out);
}

fn graph_token(target: &Target, rng: &mut Rng, out: &mut Vec<Input>) {
    let surface = Surface::GraphToken;
    let path = format!("/{}/oauth2/v2.0/token", target.tenant);
    let form = ("Content-Type", "application/x-www-form-urlencoded".to_owned());
    let scope = "scope=https%3A%2F%2Fgraph.microsoft.com%2F.default";
    let mut push = |kind, may_succeed, bytes| out.push(Input { kind, surface, may_succeed, bytes });
    let post = |body: &[u8], headers: &[(&str, String)]| request("POST", path.as_bytes(), headers, Some(body));
    push("GET on the token endpoint", false, request("GET", path.as_bytes(), &[], None));
    // Percent-encoded key: a form decoder reads it as client_secret, so a token is a right answer.
    let encoded = format!(
        "grant_type=client_credentials&client_id={}&client%5Fsecret={}&{scope}",
        target.client_id, target.client_secret
    );
    push("client%5Fsecret", true, post(encoded.as_bytes(), std::slice::from_ref(&form)));
    let wrong = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}&{scope}",
        target.client_id,
        rng.letters(16)
    );
    push("wrong secret", false, post(wrong.as_bytes(), std::slice::from_ref(&form)));
    push(
        "unknown grant_type",
        false,
        post(format!("grant_type=password&{scope}").as_bytes(), std::slice::from_ref(&form)),
    );
    push("empty form", false, post(b"", std::slice::from_ref(&form)));
    push("invalid UTF-8 form", false, post(b"grant_type=\xff\xfe&client_id=\xc3\x28", std::slice::from_ref(&form)));
    push("JSON body", false, post(br#"{"grant_type":"client_credentials"}"#, &[json_type()]));
    push("5 MB body", false, post(&vec![b'a'; 5 * 1024 * 1024], std::slice::from_ref(&form)));
    let other = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}&{scope}",
        target.client_id, target.client_secret
    );
    let unknown = "/nowhere.example/oauth2/v2.0/token";
    push("unknown tenant", false, request("POST", unknown.as_bytes(), &[form], Some(other.as_bytes())));
}

fn admin(surface: Surface, token: &str, rng: &mut Rng, out: &mut Vec<Input>) {
    let auth = bearer(token);
    let mut push = |kind, may_succeed, bytes| out.push(Input { kind, surface, may_succeed, bytes });
    // Every body here is refused as a whole, so no input changes the run's faults or switches.
    push("missing token", false, request("GET", b"/_admin/journal/seq", &[], None));
    push("bad token", false, request("GET", b"/_admin/switches", &[bearer(&rng.letters(24))], None));
    push("unknown path", false, request("GET", b"/_admin/nothingHere", std::slice::from_ref(&auth), None));
    push("wrong method", false, request("DELETE", b"/_admin/clock", std::slice::from_ref(&auth), None));
    let put = |path: &str, body: &[u8]| request("PUT", path.as_bytes(), &[auth.clone(), json_type()], Some(body));
    push("invalid JSON", false, put("/_admin/faults", b"{\"rules\": ["));
    push("JSON with wrong types", false, put("/_admin/faults", br#"{"seed":"x","rules":"all"}"#));
    push("invalid UTF-8", false, put("/_admin/faults", b"{\"rules\":[{\"name\":\"\xff\xfe\"}"));
    let patch = |body: &[u8]| request("PATCH", b"/_admin/switches", &[auth.clone(), json_type()], Some(body));
    push("journalBytes below the minimum", false, patch(br#"{"journalBytes":10}"#));
    push("unknown switch", false, patch(br#"{"noSuchSwitch":true}"#));
    let advance = |body: &[u8]| request("POST", b"/_admin/clock/advance", &[auth.clone(), json_type()], Some(body));
    push("clock advance by nonsense", false, advance(br#"{"by":"forever"}"#));
    // The clock moves "forward (never back)" (README): a 200 that leaves it where it is is right.
    push("clock advance backwards", true, advance(br#"{"to":"2000-01-01T00:00:00Z"}"#));
    push("journal since=abc", false, request("GET", b"/_admin/journal?since=abc", std::slice::from_ref(&auth), None));
    let mut big = b"{\"rules\":[".to_vec();
    big.resize(5 * 1024 * 1024, b'[');
    push("5 MB invalid JSON", false, put("/_admin/faults", &big));
    // The admin API reads any content type as JSON: a 200 is its documented answer.
    let plain = request("GET", b"/_admin/switches", &[auth, ("Content-Type", "text/plain".into())], Some(b"{}"));
    push("Content-Type text/plain", true, plain);
}

fn scim_v2(target: &Target, rng: &mut Rng, out: &mut Vec<Input>) {
    let surface = Surface::Scim;
    let base = &target.scim_path;
    let token = bearer(&target.scim_token);
    let mut push = |kind, may_succeed, bytes| out.push(Input { kind, surface, may_succeed, bytes });
    let get = |path: String, auth: Option<(&'static str, String)>| {
        request("GET", path.as_bytes(), &Vec::from_iter(auth), None)
    };
    // AWS answers a filter on an unknown value with an empty list: a 200 is right.
    let long = format!("userName eq \"{}\"", rng.letters(10 * 1024));
    push("filter 10 KB", true, get(format!("{base}/Users?filter={}", encode(&long)), Some(token.clone())));
    let deep = format!("{}userName eq \"a\"{}", "(".repeat(2000), ")".repeat(2000));
    push("filter 2,000 nested (", false, get(format!("{base}/Users?filter={}", encode(&deep)), Some(token.clone())));
    let nots = format!("{}userName eq \"a\"", "not ".repeat(4250));
    push("filter not x4,250", false, get(format!("{base}/Users?filter={}", encode(&nots)), Some(token.clone())));
    let path = (0..1024).map(|_| rng.letters(4)).collect::<Vec<_>>().join(".");
    let ops = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "replace", "path": path, "value": "x" }],
    });
    let user_path = format!("{base}/Users/{}", target.scim_user_id);
    let body = serde_json::to_vec(&ops).unwrap_or_default();
    push("PATCH path 5 KB", false, request("PATCH", user_path.as_bytes(), &[token.clone(), scim_type()], Some(&body)));

    let users = format!("{base}/Users");
    let post = |headers: &[(&str, String)], body: &[u8]| request("POST", users.as_bytes(), headers, Some(body));
    push("invalid JSON", false, post(&[token.clone(), scim_type()], b"{\"userName\": "));
    push(
        "JSON with wrong types",
        false,
        post(&[token.clone(), scim_type()], br#"{"schemas":"x","userName":42,"active":"yes"}"#),
    );
    push("invalid UTF-8", false, post(&[token.clone(), scim_type()], b"{\"userName\":\"\xff\xfe\xc3\x28\"}"));
    let user = serde_json::to_vec(&scim_user(&rng.letters(12))).unwrap_or_default();
    push("Content-Type text/plain", false, post(&[token.clone(), ("Content-Type", "text/plain".into())], &user));
    let user = serde_json::to_vec(&scim_user(&rng.letters(12))).unwrap_or_default();
    push("no Content-Type", false, post(std::slice::from_ref(&token), &user));
    push("5 MB body", false, post(&[token.clone(), scim_type()], &padded(5 * 1024 * 1024)));
    push("1 MB POST, no token", false, post(&[scim_type()], &padded(1_000_000)));
    push("bad token", false, get(users.clone(), Some(bearer("not-a-token"))));
    push("missing token", false, get(users.clone(), None));
    push("unknown path", false, get(format!("{base}/NothingHere"), Some(token.clone())));
    push("unknown tenant", false, get("/no-such-tenant/scim/v2/Users".to_owned(), Some(token.clone())));
    push("wrong method", false, request("PUT", users.as_bytes(), &[token.clone(), scim_type()], Some(b"{}")));
    let body = serde_json::to_vec(&scim_user(&rng.letters(100 * 1024))).unwrap_or_default();
    push("100 KB userName", false, post(&[token.clone(), scim_type()], &body));
    connection_level(surface, &users, token, out);
}
