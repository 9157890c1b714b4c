//! The token endpoint (`POST /{tenant}/oauth2/v2.0/token`, client credentials) and the bearer check
//! on every `/v1.0` route (microsoft-graph.md §1).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};

use serde_json::json;

use scenarios::tls::Scheme;

use crate::error::GraphError;
use crate::state::{AppState, World};

/// Access tokens live 3599 seconds (§1.1).
pub const TOKEN_SECONDS: i64 = 3599;
/// Microsoft Graph's well-known appId, in `WWW-Authenticate` (§1.2).
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// An OAuth error in Entra's form: `error`, `error_description` with its AADSTS code, `error_codes`,
/// `timestamp`, `trace_id`, `correlation_id` (§1.1).
fn oauth_error(world: &mut World, status: StatusCode, error: &str, code: u32, description: String) -> Response {
    let trace_id = world.uuid();
    let correlation_id = world.uuid();
    let timestamp = world.core.clock.now().strftime("%Y-%m-%d %H:%M:%SZ").to_string();
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {description}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}"),
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    (status, Json(body)).into_response()
}

/// What the token endpoint answers to a request the pipeline refused before it ran (a GET, a body
/// over the limit or too slow): OAuth's form, as every answer of that endpoint, never Graph's
/// envelope (§1.1). The codes are inferred, as §1.1 lists neither: AADSTS900561 for the method,
/// AADSTS9002313 ("malformed or invalid") for the rest.
pub fn refused_request(world: &mut World, status: StatusCode) -> Response {
    if status == StatusCode::METHOD_NOT_ALLOWED {
        let description = "The endpoint only accepts POST, OPTIONS requests.".to_owned();
        return oauth_error(world, status, "invalid_request", 900561, description);
    }
    oauth_error(
        world,
        status,
        "invalid_request",
        9002313,
        "Invalid request. Request is malformed or invalid.".to_owned(),
    )
}

/// Whether a path's tenant segment names the mock's tenant: its domain or its GUID (§1.1).
fn names_tenant(world: &World, tenant: &str) -> bool {
    tenant.eq_ignore_ascii_case(&world.tenant.domain) || tenant.eq_ignore_ascii_case(&world.tenant.id)
}

/// AADSTS90002, for a tenant segment that names no tenant (§1.1).
fn tenant_not_found(world: &mut World, error: &str, tenant: &str) -> Response {
    let description = format!(
        "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
    );
    oauth_error(world, StatusCode::BAD_REQUEST, error, 90002, description)
}

/// `POST /{tenant}/oauth2/v2.0/token` with `client_id`, `client_secret` (or HTTP Basic),
/// `scope=https://graph.microsoft.com/.default`, `grant_type=client_credentials`.
pub async fn token(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // A body that is not declared a form is not read as one, so its parameters are missing
    // (inferred: the reference shows only form posts, §1.1).
    let is_form = crate::middleware::media_type(&headers)
        .is_some_and(|media| media.eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    let form: Vec<(String, String)> = body
        .split(|b| *b == b'&')
        .filter(|_| is_form)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let text = String::from_utf8_lossy(pair).replace('+', " ");
            let (k, v) = text.split_once('=').unwrap_or((&text, ""));
            (crate::odata::percent_decode(k), crate::odata::percent_decode(v))
        })
        .collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(id, secret)| (crate::odata::percent_decode(id), crate::odata::percent_decode(secret)))
        });
    let mut world = state.world();
    if !names_tenant(&world, &tenant) {
        return tenant_not_found(&mut world, "invalid_request", &tenant);
    }
    let missing = |name: &str| format!("The request body must contain the following parameter: '{name}'.");
    let Some(grant_type) = field("grant_type") else {
        return oauth_error(&mut world, StatusCode::BAD_REQUEST, "invalid_request", 900144, missing("grant_type"));
    };
    if grant_type != "client_credentials" {
        let description = format!("The app requested an unsupported grant type '{grant_type}'.");
        return oauth_error(&mut world, StatusCode::BAD_REQUEST, "unsupported_grant_type", 70003, description);
    }
    let client_id = field("client_id").or_else(|| basic.as_ref().map(|(id, _)| id.clone()));
    let Some(client_id) = client_id else {
        return oauth_error(&mut world, StatusCode::BAD_REQUEST, "invalid_request", 900144, missing("client_id"));
    };
    if client_id != world.tenant.client_id {
        let description = format!(
            "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.",
            world.tenant.domain
        );
        return oauth_error(&mut world, StatusCode::BAD_REQUEST, "unauthorized_client", 700016, description);
    }
    let Some(scope) = field("scope") else {
        return oauth_error(&mut world, StatusCode::BAD_REQUEST, "invalid_request", 900144, missing("scope"));
    };
    if !scope.ends_with("/.default") {
        let description = format!(
            "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
        );
        return oauth_error(&mut world, StatusCode::BAD_REQUEST, "invalid_scope", 1002012, description);
    }
    let resource = scope.trim_end_matches("/.default").trim_end_matches('/');
    if resource != "https://graph.microsoft.com" && resource != GRAPH_APP_ID {
        let description =
            format!("The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid.");
        return oauth_error(&mut world, StatusCode::BAD_REQUEST, "invalid_scope", 70011, description);
    }
    let secret = field("client_secret").or_else(|| basic.as_ref().map(|(_, secret)| secret.clone()));
    let Some(secret) = secret else {
        let description =
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.".to_owned();
        return oauth_error(&mut world, StatusCode::UNAUTHORIZED, "invalid_client", 7000216, description);
    };
    if secret != world.tenant.client_secret {
        let description = format!(
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
        );
        return oauth_error(&mut world, StatusCode::UNAUTHORIZED, "invalid_client", 7000215, description);
    }
    let token = world.issue_token();
    Json(json!({ "token_type": "Bearer", "expires_in": TOKEN_SECONDS, "ext_expires_in": TOKEN_SECONDS, "access_token": token }))
        .into_response()
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`: the tenant's OpenID Connect metadata, which
/// MSAL (and azure-identity through it) reads before its first token request (§1.1, "MSAL side
/// traffic"). The fields and their order are Entra's published document (inferred: the references name
/// the route, not its body), with every endpoint on the mock's own origin and the tenant as its GUID,
/// as Entra writes it whichever form the request named.
pub async fn openid_configuration(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    scheme: Scheme,
    headers: HeaderMap,
) -> Response {
    let mut world = state.world();
    if !names_tenant(&world, &tenant) {
        return tenant_not_found(&mut world, "invalid_tenant", &tenant);
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("127.0.0.1");
    let origin = format!("{}://{host}", scheme.as_str());
    let at = |path: &str| format!("{origin}/{}/{path}", world.tenant.id);
    Json(json!({
        "token_endpoint": at("oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": at("discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": at("v2.0"),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{origin}/oidc/userinfo"),
        "authorization_endpoint": at("oauth2/v2.0/authorize"),
        "device_authorization_endpoint": at("oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": at("oauth2/v2.0/logout"),
        "claims_supported": [
            "sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host",
            "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash",
            "c_hash", "email"
        ],
        "kerberos_endpoint": at("kerberos"),
        "tenant_region_scope": "NA",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": host,
        "rbac_url": "https://pas.windows.net"
    }))
    .into_response()
}

/// `GET /{tenant}/discovery/v2.0/keys`, where the metadata's `jwks_uri` points: an empty key set, since
/// the mock's access tokens are opaque, not signed JWTs (inferred).
pub async fn signing_keys(State(state): State<AppState>, Path(tenant): Path<String>) -> Response {
    let mut world = state.world();
    if !names_tenant(&world, &tenant) {
        return tenant_not_found(&mut world, "invalid_tenant", &tenant);
    }
    Json(json!({ "keys": [] })).into_response()
}

/// Checks the bearer on a `/v1.0` request: missing → "Access token is empty.", not a JWT →
/// "CompactToken parsing failed…", unknown → "Access token validation failure.", expired →
/// "Access token has expired or is not yet valid." (§1.2).
pub fn check_bearer(world: &World, headers: &HeaderMap, now: Timestamp) -> Result<(), GraphError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split_once(' ').filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer")).map(|(_, t)| t.trim())
        })
        .unwrap_or("");
    if token.is_empty() {
        return Err(GraphError::unauthenticated("Access token is empty."));
    }
    match world.tokens.get(token) {
        Some(expires) if now < *expires => Ok(()),
        Some(_) => Err(GraphError::unauthenticated("Access token has expired or is not yet valid.")),
        None if token.matches('.').count() == 2 => Err(GraphError::unauthenticated("Access token validation failure.")),
        None => Err(GraphError::unauthenticated("CompactToken parsing failed with error code: 80049217")),
    }
}

impl World {
    /// Issues an access token for the configured client: an unsigned JWT with Graph's audience and
    /// the roles a provisioning setup needs, valid 3599 s on the mock's clock (§1.1). Clients treat
    /// it as opaque; the mock checks it by lookup.
    pub fn issue_token(&mut self) -> String {
        let now = self.core.clock.now();
        let expires = now.saturating_add(SignedDuration::from_secs(TOKEN_SECONDS)).unwrap_or(Timestamp::MAX);
        let jti = self.uuid();
        let claims = json!({
            "aud": "https://graph.microsoft.com",
            "iss": format!("https://sts.windows.net/{}/", self.tenant.id),
            "iat": now.as_second(),
            "nbf": now.as_second(),
            "exp": expires.as_second(),
            "appid": self.tenant.client_id,
            "tid": self.tenant.id,
            "roles": ["User.ReadWrite.All", "Group.ReadWrite.All", "Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All", "Directory.ReadWrite.All", "Synchronization.ReadWrite.All"],
            "uti": jti,
        });
        let encode = |v: &serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let token = format!("{}.{}.", encode(&json!({"typ": "JWT", "alg": "none"})), encode(&claims));
        self.tokens.insert(token.clone(), expires);
        token
    }
}
