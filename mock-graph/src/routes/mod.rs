//! HTTP handlers, thin over [`crate::directory`], [`crate::odata`] and [`crate::delta`], and the
//! collection machinery they share: filtering, ordering, selection, counting and paging with
//! absolute nextLinks built from the request's own host (microsoft-graph.md §3).

pub mod admin;
pub mod apps;
pub mod directory;
pub mod sync;

use axum::Json;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::directory::{Directory, Key, ObjectKind};
use crate::error::GraphError;
use crate::middleware::RequestContext;
use crate::odata::{self, QueryOptions};
use crate::schema::{APPLICATION, BodyShape, Entity, GROUP, SERVICE_PRINCIPAL, USER};

/// The schema of a kind of object.
pub fn entity_of(kind: ObjectKind) -> &'static Entity {
    match kind {
        ObjectKind::User => &USER,
        ObjectKind::Group => &GROUP,
        ObjectKind::ServicePrincipal => &SERVICE_PRINCIPAL,
        ObjectKind::Application => &APPLICATION,
    }
}

/// Reads the query string, percent-decoding keys too (graph-rs-sdk sends `%24top`, §3.1).
pub fn query(uri: &Uri) -> Result<QueryOptions, GraphError> {
    let pairs: Vec<(String, String)> = axum::extract::Query::try_from_uri(uri).map(|q| q.0).map_err(|_| {
        GraphError::new(StatusCode::BAD_REQUEST, "BadRequest", "The query specified in the URI is not valid.")
    })?;
    QueryOptions::from_pairs(pairs)
}

/// A JSON object body; anything else is Graph's unreadable-payload error.
pub fn json_object(body: &Bytes) -> Result<Map<String, Value>, GraphError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(GraphError::unreadable_body()),
    }
}

/// A JSON object body with its OData annotations checked against `shape` and dropped
/// ([`odata::accept_annotations`]).
pub fn annotated_object(body: &Bytes, shape: &BodyShape) -> Result<Map<String, Value>, GraphError> {
    let mut object = json_object(body)?;
    odata::accept_annotations(&mut object, shape)?;
    Ok(object)
}

/// `ConsistencyLevel: eventual` (§3.2).
pub fn eventual(headers: &HeaderMap) -> bool {
    headers
        .get("consistencylevel")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("eventual"))
}

/// `https://host/v1.0/$metadata#…`.
pub fn context(ctx: &RequestContext, fragment: &str) -> String {
    format!("{}/v1.0/$metadata#{fragment}", ctx.base)
}

/// Projects an object: the selection in schema order, or the default properties; write-only
/// properties never leave.
pub fn project(entity: &Entity, object: &Map<String, Value>, select: Option<&[&'static str]>) -> Map<String, Value> {
    let mut out = Map::new();
    for property in entity.properties {
        let wanted = match select {
            Some(names) => names.contains(&property.name),
            None => property.default,
        };
        if wanted && property.name != "passwordProfile" && !property.name.contains('/') {
            out.insert(
                property.name.to_owned(),
                object.get(property.name).cloned().unwrap_or_else(|| property.absent()),
            );
        }
    }
    out
}

/// A JSON response with a status.
pub fn json_response(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

/// The `$select` names, validated against every entity the collection may hold.
fn selection(options: &QueryOptions, entities: &[&'static Entity]) -> Result<Option<Vec<&'static str>>, GraphError> {
    let Some(raw) = &options.select else { return Ok(None) };
    let mut names = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let found = entities.iter().find_map(|e| e.property(name).map(|p| p.name));
        match found {
            Some(found) => names.push(found),
            None => return odata::parse_select(name, entities[0]).map(|_| None),
        }
    }
    Ok(Some(names))
}

/// The position a `$skiptoken` carries, bound to the query it belongs to.
#[derive(Debug, Serialize, Deserialize)]
struct Position {
    /// Resume after this key (natural order) …
    after: Option<Key>,
    /// … or skip this many (sorted results).
    offset: Option<usize>,
    /// Fingerprint of the query; a token replayed on another query is refused.
    q: u64,
}

fn fingerprint(options: &QueryOptions) -> u64 {
    let text = format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}",
        options.filter, options.search, options.orderby, options.select, options.expand
    );
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The position a request's `$skiptoken` carries, refused if it belongs to another query.
fn position(options: &QueryOptions) -> Result<Option<Position>, GraphError> {
    let Some(token) = &options.skiptoken else { return Ok(None) };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|_| expired_token())?;
    let position: Position = serde_json::from_slice(&bytes).map_err(|_| expired_token())?;
    if position.q != fingerprint(options) {
        return Err(expired_token());
    }
    Ok(Some(position))
}

/// The keys a plain listing (no `$filter`, `$search`, `$orderby` or `$count`) can show: those after
/// the skiptoken's position, `$top` of them and one more, which tells whether a next page exists.
/// `None` for any other listing, which reads every item. A computed collection then builds only
/// these, and [`list`] pages them as it would the whole.
pub fn plain_page(options: &QueryOptions) -> Result<Option<std::ops::RangeInclusive<Key>>, GraphError> {
    if options.filter.is_some() || options.search.is_some() || options.orderby.is_some() || options.count_requested()? {
        return Ok(None);
    }
    let after = position(options)?.and_then(|p| p.after).unwrap_or(0);
    let top = Key::try_from(options.page_size()?).unwrap_or(Key::MAX);
    Ok(Some(after.saturating_add(1)..=after.saturating_add(top).saturating_add(1)))
}

fn expired_token() -> GraphError {
    GraphError::bad_request("The specified page token value has expired and can no longer be included in your request.")
        .with_code("Directory_ExpiredPageToken")
}

impl GraphError {
    /// The same error under another code.
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }
}

/// Percent-encodes a query component, keeping what Graph's own links keep readable.
fn encode_component(s: &str) -> String {
    let mut out = String::new();
    for byte in s.bytes() {
        match byte {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
            | b'$'
            | b','
            | b'\''
            | b'('
            | b')'
            | b':'
            | b'/'
            | b'@' => {
                out.push(char::from(byte));
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The absolute nextLink: this request's host and path, every other parameter, a new skiptoken
/// (§3.9).
pub fn next_link(ctx: &RequestContext, path: &str, options: &QueryOptions, token_name: &str, token: &str) -> String {
    let mut query: Vec<String> = options
        .pairs
        .iter()
        .filter(|(k, _)| {
            let name = k.strip_prefix('$').unwrap_or(k).to_ascii_lowercase();
            name != "skiptoken" && name != "deltatoken"
        })
        .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
        .collect();
    query.push(format!("{token_name}={token}"));
    format!("{}{path}?{}", ctx.base, query.join("&"))
}

/// One item of a collection: its key, kind and properties.
pub type Item<'a> = (Key, ObjectKind, &'a Map<String, Value>);

/// Where a collection's items come from.
pub enum Source<'a> {
    /// A whole entity set, walked from a key on: a page costs its own size, not the set's.
    Set(&'a BTreeMap<Key, Map<String, Value>>, ObjectKind),
    /// A computed list (relationships, templates, assignments), in key order.
    List(Vec<Item<'a>>),
}

impl<'a> Source<'a> {
    /// Items with a key above `after`, in key order.
    fn from(&self, after: Key) -> Box<dyn Iterator<Item = Item<'a>> + '_> {
        match self {
            Source::Set(set, kind) => Box::new(set.range(after + 1..).map(move |(k, o)| (*k, *kind, o))),
            Source::List(items) => Box::new(items.iter().copied().filter(move |(k, _, _)| *k > after)),
        }
    }
}

/// A collection to list.
pub struct Collection<'a> {
    /// The schema filters and ordering read.
    pub entity: &'static Entity,
    /// Every entity the items may be, for `$select`; `None`: just `entity`.
    pub entities: Option<&'a [&'static Entity]>,
    /// `@odata.context` fragment without selection (`users`, `directoryObjects`, …).
    pub set: &'a str,
    /// Whether each item carries `@odata.type` (directory-object collections).
    pub typed: bool,
    /// A relationship (members, memberOf): `$filter`, `$search` and `$orderby` need advanced mode
    /// there (§2.3).
    pub relationship: bool,
    /// Items in key order.
    pub items: Source<'a>,
    /// The directory, for `$expand=members` on groups.
    pub expand_from: Option<&'a Directory>,
    /// The `$expand` cap.
    pub expand_cap: usize,
    /// The schema items are projected with, when their kind does not say (templates, assignments).
    pub item_entity: Option<&'static Entity>,
}

impl<'a> Collection<'a> {
    /// A plain collection of one entity's items: no `@odata.type` on items, not a relationship,
    /// no `$expand`, items projected by their kind's schema.
    pub fn of(entity: &'static Entity, set: &'a str, items: Source<'a>) -> Self {
        Collection {
            entity,
            entities: None,
            set,
            typed: false,
            relationship: false,
            items,
            expand_from: None,
            expand_cap: 0,
            item_entity: None,
        }
    }

    /// Items that may be any of these entities (directory objects), for `$select`.
    pub fn of_kinds(mut self, entities: &'a [&'static Entity]) -> Self {
        self.entities = Some(entities);
        self
    }

    /// Each item carries its `@odata.type`.
    pub fn typed(mut self) -> Self {
        self.typed = true;
        self
    }

    /// A relationship (members, memberOf): advanced queries only (§2.3).
    pub fn relationship(mut self) -> Self {
        self.relationship = true;
        self
    }

    /// `$expand=members` reads `directory`, returning at most `cap` members.
    pub fn expanding(mut self, directory: &'a Directory, cap: usize) -> Self {
        self.expand_from = Some(directory);
        self.expand_cap = cap;
        self
    }

    /// Items projected with this schema, whatever their kind says (templates, assignments, logs).
    pub fn projected_as(mut self, entity: &'static Entity) -> Self {
        self.item_entity = Some(entity);
        self
    }
}

/// Lists a collection under Graph's OData rules.
pub fn list(
    ctx: &RequestContext,
    headers: &HeaderMap,
    path: &str,
    options: &QueryOptions,
    collection: Collection<'_>,
) -> Result<Response, GraphError> {
    let eventual = eventual(headers);
    let count_requested = options.count_requested()?;
    let advanced = eventual && count_requested;
    let mut top = options.page_size()?;
    let select = selection(options, collection.entities.unwrap_or(std::slice::from_ref(&collection.entity)))?;
    let mut needs_advanced = false;
    let filter = match &options.filter {
        Some(raw) => {
            let filter = odata::parse_filter(raw)?;
            needs_advanced |= odata::check_filter(&filter, collection.entity)? || collection.relationship;
            Some(filter)
        }
        None => None,
    };
    let search = match &options.search {
        Some(raw) => {
            // "$search … only works … with a special request header: 'ConsistencyLevel: eventual'" (§3.2).
            if !eventual {
                return Err(GraphError::unsupported_query(
                    "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'",
                ));
            }
            Some(odata::parse_search(raw.trim(), collection.entity)?)
        }
        None => None,
    };
    let orderby = match &options.orderby {
        Some(raw) => {
            let (keys, advanced_sort) = odata::parse_orderby(raw, collection.entity)?;
            // `$filter` with `$orderby` is advanced (§3.2, §3.5).
            needs_advanced |= advanced_sort || filter.is_some() || collection.relationship;
            Some(keys)
        }
        None => None,
    };
    if needs_advanced && !advanced {
        return Err(GraphError::unsupported_query("Unsupported Query."));
    }
    let expand = match options.expand.as_deref() {
        None => false,
        Some(raw) if raw.trim().eq_ignore_ascii_case("members") && collection.expand_from.is_some() => {
            // "$expand is not supported together with advanced queries" (§3.2).
            if advanced {
                return Err(GraphError::unsupported_query("Unsupported Query."));
            }
            top = top.min(100);
            true
        }
        Some(raw) => {
            let name = raw.split(['(', ',']).next().unwrap_or(raw).trim();
            return Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                "ExpandNotSupported",
                format!("Expand is not allowed for property '{name}' according to the entity schema."),
            ));
        }
    };
    let position = position(options)?;
    let keep = |object: &Map<String, Value>| {
        filter.as_ref().is_none_or(|f| odata::matches(f, object)) && search.as_ref().is_none_or(|s| s.matches(object))
    };
    let count = (advanced && position.is_none()).then(|| collection.items.from(0).filter(|(_, _, o)| keep(o)).count());
    let (page, next): (Vec<Item<'_>>, Option<Position>) = match &orderby {
        Some(keys) => {
            let mut matching: Vec<_> = collection.items.from(0).filter(|(_, _, o)| keep(o)).collect();
            matching.sort_by(|a, b| odata::order(a.2, b.2, keys).then(a.0.cmp(&b.0)));
            let offset = position.and_then(|p| p.offset).unwrap_or(0).min(matching.len());
            let end = (offset + top).min(matching.len());
            let next =
                (end < matching.len()).then(|| Position { after: None, offset: Some(end), q: fingerprint(options) });
            (matching[offset..end].to_vec(), next)
        }
        None => {
            let after = position.and_then(|p| p.after).unwrap_or(0);
            let mut page: Vec<_> = collection.items.from(after).filter(|(_, _, o)| keep(o)).take(top + 1).collect();
            let more = page.len() > top;
            page.truncate(top);
            let next =
                more.then(|| Position { after: page.last().map(|p| p.0), offset: None, q: fingerprint(options) });
            (page, next)
        }
    };
    let value: Vec<Value> = page
        .iter()
        .map(|(key, kind, object)| {
            let mut item = Map::new();
            if collection.typed {
                item.insert("@odata.type".into(), json!(kind.odata_type()));
            }
            item.extend(project(collection.item_entity.unwrap_or_else(|| entity_of(*kind)), object, select.as_deref()));
            if expand && let Some(dir) = collection.expand_from {
                item.insert("members".into(), expanded_members(dir, *key, collection.expand_cap));
            }
            Value::Object(item)
        })
        .collect();
    let fragment = match &select {
        Some(names) => format!("{}({})", collection.set, names.join(",")),
        None => collection.set.to_owned(),
    };
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(context(ctx, &fragment)));
    if let Some(count) = count {
        body.insert("@odata.count".into(), json!(count));
    }
    if let Some(next) = next {
        let token =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&next).unwrap_or_default());
        body.insert("@odata.nextLink".into(), json!(next_link(ctx, path, options, "$skiptoken", &token)));
    }
    body.insert("value".into(), Value::Array(value));
    Ok(json_response(StatusCode::OK, Value::Object(body)))
}

/// `$expand=members`: at most the cap, no nextLink (§3.8).
pub fn expanded_members(dir: &Directory, group: Key, cap: usize) -> Value {
    Value::Array(
        dir.members_of(group)
            .take(cap)
            .filter_map(|(kind, key)| {
                let object = dir.object(kind, key)?;
                let mut item = Map::new();
                item.insert("@odata.type".into(), json!(kind.odata_type()));
                item.extend(project(entity_of(kind), object, None));
                Some(Value::Object(item))
            })
            .collect(),
    )
}

/// `/$count` as a path segment: text/plain, only with `ConsistencyLevel: eventual` (§3.2, §3.7).
pub fn count_segment(headers: &HeaderMap, n: usize) -> Result<Response, GraphError> {
    if !eventual(headers) {
        return Err(GraphError::bad_request("$count is not currently supported."));
    }
    Ok(([(header::CONTENT_TYPE, "text/plain")], n.to_string()).into_response())
}

/// One object: `@odata.context` `…#set/$entity` (or `#set(a,b)/$entity` with `$select`).
pub fn single(
    ctx: &RequestContext,
    options: &QueryOptions,
    entity: &'static Entity,
    object: &Map<String, Value>,
    status: StatusCode,
) -> Result<Response, GraphError> {
    let select = match &options.select {
        Some(raw) => Some(odata::parse_select(raw, entity)?),
        None => None,
    };
    let fragment = match &select {
        Some(names) => format!("{}({})/$entity", entity.set, names.join(",")),
        None => format!("{}/$entity", entity.set),
    };
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(context(ctx, &fragment)));
    body.extend(project(entity, object, select.as_deref()));
    Ok(json_response(status, Value::Object(body)))
}
