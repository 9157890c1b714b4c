//! HTTP handlers. They are thin: parse, lock, call the store, answer.

pub mod admin;
pub mod groups;
pub mod meta;
pub mod users;

use axum::body::Body;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ScimError;
use crate::model::LIST_URN;
use crate::store::{Key, Page};
use crate::switches::{ListApi, Switches};

/// Reads a JSON body: `application/json` or `application/scim+json` (aws-scim.md §1.4), valid
/// UTF-8, valid JSON, then the expected shape. Every failure is a 400 envelope.
pub fn json_body<T: DeserializeOwned>(headers: &HeaderMap, body: &Bytes) -> Result<T, ScimError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/json") && !media.eq_ignore_ascii_case("application/scim+json") {
        return Err(ScimError::validation(format!("Unsupported Content-Type: {content_type:?}")));
    }
    // One pass straight into the shape. A body that fails it (or has a duplicate key, which a
    // `Value` keeps the last of) goes the two-step way below, so every error reads as before.
    if let Ok(parsed) = serde_json::from_slice(body) {
        return Ok(parsed);
    }
    // CloudTrail: "Invalid JSON from RequestBody" (aws-scim.md §2.1).
    let value: Value =
        serde_json::from_slice(body).map_err(|_| ScimError::validation("Invalid JSON from RequestBody"))?;
    serde_json::from_value(value).map_err(|err| ScimError::validation(format!("Request violates schema: {err}")))
}

/// What `(status, Json(value))` answers, serialized into one buffer sized for a whole user
/// (axum's starts at 128 bytes and grows several times).
pub fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response {
    let mut buf = Vec::with_capacity(1024);
    match serde_json::to_writer(&mut buf, value) {
        Ok(()) => {
            let mut response = Response::new(Body::from(buf));
            *response.status_mut() = status;
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        Err(err) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"))],
            err.to_string(),
        )
            .into_response(),
    }
}

/// The query parameters of a list request. `startIndex`, `attributes`, `excludedAttributes`,
/// `sortBy` and `sortOrder` are ignored, not refused: Entra always sends `excludedAttributes=members`
/// (aws-scim.md §4.2).
#[derive(Debug, Default)]
pub struct ListParams {
    /// `filter`.
    pub filter: Option<String>,
    /// `cursor`, present (possibly empty) or absent.
    pub cursor: Option<String>,
    /// `count`, as sent.
    pub count: Option<String>,
}

impl ListParams {
    /// Parses the query string, percent-decoding as browsers and SDKs encode it.
    pub fn from_uri(uri: &Uri) -> Result<Self, ScimError> {
        let pairs: Vec<(String, String)> = axum::extract::Query::try_from_uri(uri)
            .map(|q| q.0)
            .map_err(|_| ScimError::validation("Invalid query string"))?;
        let mut params = ListParams::default();
        for (key, value) in pairs {
            match key.as_str() {
                "filter" if params.filter.is_none() => params.filter = Some(value),
                "cursor" if params.cursor.is_none() => params.cursor = Some(value),
                "count" if params.count.is_none() => params.count = Some(value),
                _ => {}
            }
        }
        Ok(params)
    }
}

/// Where a list starts and how much it returns, per the `listApi` switch.
pub struct Listing {
    /// Key after which to start.
    pub after: Key,
    /// Page size.
    pub count: usize,
    /// Whether the answer is cursor-shaped.
    pub cursor_mode: bool,
}

/// Legacy list cap: "Only a maximum of 50 results can be returned" (aws-scim.md §4.2).
const LEGACY_CAP: usize = 50;
/// Current page size: `count` 1..100, default 100 (aws-scim.md §4.2).
const MAX_COUNT: usize = 100;

impl Listing {
    /// Interprets `cursor` and `count` for a resource kind (`u` or `g`).
    pub fn new(params: &ListParams, kind: char, switches: &Switches) -> Result<Self, ScimError> {
        if switches.list_api == ListApi::Legacy {
            return Ok(Listing { after: 0, count: LEGACY_CAP, cursor_mode: false });
        }
        let count = match &params.count {
            None => MAX_COUNT,
            Some(raw) => match raw.parse::<usize>() {
                Ok(n) if (1..=MAX_COUNT).contains(&n) => n,
                _ => {
                    return Err(ScimError::validation(format!(
                        "1 validation errors detected: Value '{raw}' at 'count' failed to satisfy constraint: Member must have value between 1 and {MAX_COUNT}"
                    )));
                }
            },
        };
        let after = match params.cursor.as_deref() {
            None | Some("") => 0,
            Some(cursor) => decode_cursor(cursor, kind, params.filter.as_deref())?,
        };
        Ok(Listing { after, count, cursor_mode: params.cursor.is_some() })
    }

    /// The ListResponse body, in the field order of the captured fixtures, serialized straight from
    /// the stored resources.
    pub fn body<'a, T: Serialize + 'a>(
        &self,
        page: &Page,
        resources: Vec<T>,
        kind: char,
        filter: Option<&str>,
    ) -> ListBody<T> {
        let n = resources.len();
        if self.cursor_mode {
            // No totalResults or startIndex; nextCursor only while more follow (listusers.html,
            // ListGroupsResponse_CursorPage{1,2}.json).
            let next_cursor = match (page.more, page.keys.last()) {
                (true, Some(last)) => Some(encode_cursor(*last, kind, filter)),
                _ => None,
            };
            ListBody {
                total_results: None,
                items_per_page: n,
                start_index: None,
                next_cursor,
                schemas: [LIST_URN],
                resources,
            }
        } else {
            // totalResults equals what was returned, as in the legacy era (idp-scim-sync#45).
            ListBody {
                total_results: Some(n),
                items_per_page: n,
                start_index: Some(1),
                next_cursor: None,
                schemas: [LIST_URN],
                resources,
            }
        }
    }
}

/// A ListResponse (aws-scim.md §4.2).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListBody<T> {
    #[serde(skip_serializing_if = "Option::is_none")]
    total_results: Option<usize>,
    items_per_page: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
    schemas: [&'static str; 1],
    #[serde(rename = "Resources")]
    resources: Vec<T>,
}

/// A cursor binds the position to the resource kind and the filter, so a changed filter is caught.
fn filter_fingerprint(filter: Option<&str>) -> u64 {
    let bytes = filter.unwrap_or("").as_bytes();
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, b| (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

fn encode_cursor(last: Key, kind: char, filter: Option<&str>) -> String {
    let raw = format!("{kind}:{last}:{:016x}", filter_fingerprint(filter));
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// "…or if filter parameters are changed between pagination requests" → 400 (listusers.html).
fn decode_cursor(cursor: &str, kind: char, filter: Option<&str>) -> Result<Key, ScimError> {
    let invalid = || ScimError::validation("Invalid cursor");
    let raw = base64::engine::general_purpose::STANDARD.decode(cursor).map_err(|_| invalid())?;
    let raw = String::from_utf8(raw).map_err(|_| invalid())?;
    let mut parts = raw.split(':');
    let (Some(k), Some(last), Some(fingerprint), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    if k != kind.to_string() {
        return Err(invalid());
    }
    if fingerprint != format!("{:016x}", filter_fingerprint(filter)) {
        return Err(ScimError::validation("Filter parameters changed between pagination requests"));
    }
    last.parse().map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_only_with_the_same_filter_and_kind() {
        let cursor = encode_cursor(42, 'u', Some("userName eq \"a\""));
        assert_eq!(decode_cursor(&cursor, 'u', Some("userName eq \"a\"")).unwrap(), 42);
        assert!(decode_cursor(&cursor, 'u', Some("userName eq \"b\"")).is_err());
        assert!(decode_cursor(&cursor, 'g', Some("userName eq \"a\"")).is_err());
        assert!(decode_cursor("not base64!", 'u', None).is_err());
    }
}
