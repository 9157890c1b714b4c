//! Discovery endpoints and the ones AWS does not serve (aws-scim.md §1.3, §4.3, §4.4).

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::ScimError;
use crate::model::{ENTERPRISE_URN, GROUP_URN, LIST_URN, USER_URN};
use crate::state::AppState;
use crate::switches::ListApi;

/// `GET /ServiceProviderConfig`: the captured body (`ServiceProviderConfig.json`, §4.3), with
/// `filter.maxResults` 100 under the cursor list API (inferred; the capture predates it).
pub async fn service_provider_config(State(state): State<AppState>) -> Response {
    let max_results = if state.world().switches.list_api == ListApi::Legacy { 50 } else { 100 };
    Json(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://docs.aws.amazon.com/singlesignon/latest/developerguide/what-is-scim.html",
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication scheme using the OAuth Bearer Token Standard",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "documentationUri": "https://docs.aws.amazon.com/singlesignon/latest/developerguide/provision-automatically.html",
            "primary": true
        }],
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": max_results},
        "patch": {"supported": true},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false}
    }))
    .into_response()
}

/// One attribute definition: (name, type, multiValued, required, caseExact, uniqueness, sub-attributes).
type AttributeRow = (&'static str, &'static str, bool, bool, bool, &'static str, &'static [&'static str]);

const USER_ATTRIBUTES: &[AttributeRow] = &[
    ("userName", "string", false, true, false, "server", &[]),
    (
        "name",
        "complex",
        false,
        true,
        false,
        "none",
        &["formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix"],
    ),
    ("displayName", "string", false, true, false, "none", &[]),
    ("nickName", "string", false, false, false, "none", &[]),
    ("profileUrl", "reference", false, false, false, "none", &[]),
    ("title", "string", false, false, false, "none", &[]),
    ("userType", "string", false, false, false, "none", &[]),
    ("preferredLanguage", "string", false, false, false, "none", &[]),
    ("locale", "string", false, false, false, "none", &[]),
    ("timezone", "string", false, false, false, "none", &[]),
    ("active", "boolean", false, false, false, "none", &[]),
    ("emails", "complex", true, false, false, "none", &["value", "type", "primary"]),
    ("phoneNumbers", "complex", true, false, false, "none", &["value", "type"]),
    (
        "addresses",
        "complex",
        true,
        false,
        false,
        "none",
        &["formatted", "streetAddress", "locality", "region", "postalCode", "country", "type", "primary"],
    ),
    ("roles", "complex", true, false, false, "none", &["value", "type", "primary"]),
    ("externalId", "string", false, false, true, "server", &[]),
];
const GROUP_ATTRIBUTES: &[AttributeRow] = &[
    ("displayName", "string", false, true, false, "server", &[]),
    ("members", "complex", true, false, false, "none", &["value", "type", "$ref"]),
    ("externalId", "string", false, false, true, "server", &[]),
];
const ENTERPRISE_ATTRIBUTES: &[AttributeRow] = &[
    ("employeeNumber", "string", false, false, false, "none", &[]),
    ("costCenter", "string", false, false, false, "none", &[]),
    ("organization", "string", false, false, false, "none", &[]),
    ("division", "string", false, false, false, "none", &[]),
    ("department", "string", false, false, false, "none", &[]),
    ("manager", "complex", false, false, false, "none", &["value", "$ref"]),
];

fn attribute(row: &AttributeRow) -> Value {
    let (name, kind, multi, required, case_exact, uniqueness, subs) = *row;
    let mut value = json!({
        "name": name, "type": kind, "multiValued": multi, "required": required, "caseExact": case_exact,
        "mutability": "readWrite", "returned": "default", "uniqueness": uniqueness
    });
    if !subs.is_empty() {
        let subs: Vec<Value> = subs
            .iter()
            .map(|s| json!({"name": s, "type": if *s == "primary" { "boolean" } else { "string" }, "multiValued": false, "required": false, "caseExact": false, "mutability": "readWrite", "returned": "default", "uniqueness": "none"}))
            .collect();
        value["subAttributes"] = Value::Array(subs);
    }
    value
}

fn schema(id: &str, name: &str, description: &str, rows: &[AttributeRow]) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": id,
        "name": name,
        "description": description,
        "attributes": rows.iter().map(attribute).collect::<Vec<_>>(),
    })
}

fn schemas() -> [Value; 3] {
    [
        schema(USER_URN, "User", "User Account", USER_ATTRIBUTES),
        schema(GROUP_URN, "Group", "Group", GROUP_ATTRIBUTES),
        schema(ENTERPRISE_URN, "EnterpriseUser", "Enterprise User", ENTERPRISE_ATTRIBUTES),
    ]
}

/// `GET /Schemas` (listschemas.html, added 2024-02).
pub async fn schemas_list() -> Response {
    let resources = schemas();
    Json(json!({"totalResults": resources.len(), "itemsPerPage": resources.len(), "startIndex": 1, "schemas": [LIST_URN], "Resources": resources}))
        .into_response()
}

/// `GET /Schemas/{urn}` (getschema.html); 404 for an unknown URN.
pub async fn schemas_get(Path((_, urn)): Path<(String, String)>) -> Result<Response, ScimError> {
    schemas()
        .into_iter()
        .find(|s| s["id"] == urn.as_str())
        .map(|s| Json(s).into_response())
        .ok_or_else(ScimError::endpoint_not_found)
}

/// `GET /ResourceTypes` (listresourcetypes.html): User with the enterprise extension, and Group.
pub async fn resource_types(Path(tenant): Path<String>) -> Response {
    let location = |name: &str| format!("https://scim.us-east-1.amazonaws.com/{tenant}/scim/v2/ResourceTypes/{name}");
    let resources = vec![
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User", "name": "User", "endpoint": "/Users", "description": "User Account",
            "schema": USER_URN,
            "schemaExtensions": [{"schema": ENTERPRISE_URN, "required": true}],
            "meta": {"resourceType": "ResourceType", "location": location("User")}
        }),
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "Group", "name": "Group", "endpoint": "/Groups", "description": "Group",
            "schema": GROUP_URN,
            "meta": {"resourceType": "ResourceType", "location": location("Group")}
        }),
    ];
    Json(json!({"totalResults": 2, "itemsPerPage": 2, "startIndex": 1, "schemas": [LIST_URN], "Resources": resources}))
        .into_response()
}

/// `/Me`, `/Bulk`, `/.search` and any other path: "Some SCIM protocol endpoints are not supported,
/// such as /Me, /Bulk, and /Search" (limitations.html); 404 inferred.
pub async fn not_supported() -> ScimError {
    ScimError::endpoint_not_found()
}
