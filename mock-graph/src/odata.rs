//! OData query options as Graph reads them on directory objects (microsoft-graph.md §3): `$filter`,
//! `$select`, `$top`, `$orderby`, `$count`, `$search`, `$expand`, `$skiptoken`, with the split
//! between default and advanced queries (`ConsistencyLevel: eventual` plus `$count=true`).
//!
//! Objects are JSON maps, so one engine serves users, groups, service principals, applications and
//! assignments; what each allows comes from [`crate::schema`].
//!
//! Request bodies carry OData annotations too (Microsoft's SDKs put `@odata.type` on every entity
//! they write): [`accept_annotations`] checks and drops them before a body is read.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use crate::error::GraphError;
use crate::schema::{BodyShape, Entity, ODataType, Support, directory_name};

/// Default page size and the largest `$top` (§3.4).
pub const DEFAULT_TOP: usize = 100;
/// The largest `$top` for directory collections (§3.4).
pub const MAX_TOP: usize = 999;

/// How deep `(`, `not` and `any(…)` may nest in a `$filter`. Inferred: Graph documents no number;
/// Microsoft.OData's URI parser stops at 800 recursive calls (`QueryParserSettings.DefaultFilterLimit`
/// in OData/odata.net), about eight per nesting level, so about 100 levels.
pub const MAX_FILTER_DEPTH: usize = 100;
/// The longest `$filter`, `$select`, `$orderby`, `$search` or `$expand` value, in characters.
/// Inferred: Graph documents none; 4096 holds delta's 50-id `or` filter (§4) twice over.
pub const MAX_OPTION_LENGTH: usize = 4096;
/// The most `$select` items (inferred: more than any directory entity has properties).
pub const MAX_SELECT_ITEMS: usize = 200;
/// The most `$orderby` keys (inferred).
pub const MAX_ORDERBY_KEYS: usize = 32;

/// The refusal of a filter nested deeper than [`MAX_FILTER_DEPTH`]: Microsoft.OData's message
/// (`UriQueryExpressionParser_TooDeep`), in Graph's `BadRequest` envelope (inferred).
pub fn too_deep() -> GraphError {
    GraphError::new(axum::http::StatusCode::BAD_REQUEST, "BadRequest", "The recursion limit has been exceeded.")
}

/// The refusal of a query option longer than [`MAX_OPTION_LENGTH`] (inferred wording).
fn too_long(option: &str) -> GraphError {
    GraphError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "BadRequest",
        format!("The query option '${option}' is longer than {MAX_OPTION_LENGTH} characters."),
    )
}

/// The query options of one request, keys already percent-decoded, with or without `$` (§3.1).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryOptions {
    /// `$filter`.
    pub filter: Option<String>,
    /// `$select`.
    pub select: Option<String>,
    /// `$top`.
    pub top: Option<String>,
    /// `$orderby`.
    pub orderby: Option<String>,
    /// `$count`.
    pub count: Option<String>,
    /// `$search`.
    pub search: Option<String>,
    /// `$expand`.
    pub expand: Option<String>,
    /// `$skiptoken`.
    pub skiptoken: Option<String>,
    /// `$deltatoken`.
    pub deltatoken: Option<String>,
    /// Every pair as sent, for rebuilding nextLinks (§3.9: they carry all other parameters).
    pub pairs: Vec<(String, String)>,
}

impl QueryOptions {
    /// Reads decoded pairs. Unknown `$options` are refused as Graph does; other keys are kept.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Self, GraphError> {
        let mut options = QueryOptions::default();
        for (key, value) in &pairs {
            let name = key.strip_prefix('$').unwrap_or(key).to_ascii_lowercase();
            let slot = match name.as_str() {
                "filter" => &mut options.filter,
                "select" => &mut options.select,
                "top" => &mut options.top,
                "orderby" => &mut options.orderby,
                "count" => &mut options.count,
                "search" => &mut options.search,
                "expand" => &mut options.expand,
                "skiptoken" => &mut options.skiptoken,
                "deltatoken" => &mut options.deltatoken,
                "skip" if key.starts_with('$') => {
                    // "/users supports $top but not $skip" (§3.4).
                    return Err(GraphError::unsupported_query(
                        "$skip is not supported on this API. Only URLs returned by the API can be used to page.",
                    ));
                }
                _ if key.starts_with('$') => {
                    return Err(GraphError::new(
                        axum::http::StatusCode::BAD_REQUEST,
                        "BadRequest",
                        format!("Query option '{key}' is not allowed. Make sure that it is supported by the API."),
                    ));
                }
                _ => continue,
            };
            // Every option a parser reads is bounded, so no input can make one work without end.
            if matches!(name.as_str(), "filter" | "select" | "orderby" | "search" | "expand")
                && value.chars().count() > MAX_OPTION_LENGTH
            {
                return Err(too_long(&name));
            }
            *slot = Some(value.clone());
        }
        options.pairs = pairs;
        Ok(options)
    }

    /// `$count=true`.
    pub fn count_requested(&self) -> Result<bool, GraphError> {
        match self.count.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(GraphError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "BadRequest",
                format!("Invalid value '{other}' for $count query option found. Valid values are 'true', 'false'."),
            )),
        }
    }

    /// `$top`, 1..=999, default 100 (§3.4).
    pub fn page_size(&self) -> Result<usize, GraphError> {
        match &self.top {
            None => Ok(DEFAULT_TOP),
            Some(raw) => match raw.trim().parse::<usize>() {
                Ok(n) if (1..=MAX_TOP).contains(&n) => Ok(n),
                _ => Err(GraphError::unsupported_query(format!(
                    "Invalid page size specified: '{raw}'. Must be between 1 and {MAX_TOP} inclusive."
                ))),
            },
        }
    }
}

/// Decodes `%XX` escapes byte by byte, so a stray `%` cannot split a multi-byte character.
pub fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(high), Some(low)) =
                (bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex))
        {
            out.push(high * 16 + low);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A literal in a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `'text'`, or a bare GUID.
    String(String),
    /// A number.
    Number(f64),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `eq`
    Eq,
    /// `ne`
    Ne,
    /// `gt`
    Gt,
    /// `ge`
    Ge,
    /// `lt`
    Lt,
    /// `le`
    Le,
}

/// String functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `startsWith(p,'x')`
    StartsWith,
    /// `endsWith(p,'x')`
    EndsWith,
    /// `contains(p,'x')`: refused on directory objects.
    Contains,
}

/// A parsed `$filter`.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `a and b`
    And(Box<Filter>, Box<Filter>),
    /// `a or b`
    Or(Box<Filter>, Box<Filter>),
    /// `not a`
    Not(Box<Filter>),
    /// `prop op literal`; inside a lambda `prop` may be the range variable or `var/sub`.
    Compare(String, Op, Literal),
    /// `prop in ('a','b')`
    In(String, Vec<Literal>),
    /// `startsWith(prop,'x')` and friends.
    Call(Function, String, String),
    /// `prop/any(v: body)`
    Any(String, String, Box<Filter>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Num(f64),
    Open,
    Close,
    Comma,
    Colon,
}

fn tokenize(input: &str) -> Result<Vec<Token>, GraphError> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = input.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => (tokens.push(Token::Open), i += 1).1,
            ')' => (tokens.push(Token::Close), i += 1).1,
            ',' => (tokens.push(Token::Comma), i += 1).1,
            ':' => (tokens.push(Token::Colon), i += 1).1,
            '\'' => {
                // Quotes inside are doubled: 'let''s meet' (§3.1).
                let mut value = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(GraphError::invalid_filter()),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            value.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(c) => {
                            value.push(*c);
                            i += 1;
                        }
                    }
                }
                tokens.push(Token::Str(value));
            }
            c if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' || c == '/' || c == '@' || c == '+' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | '-' | '.' | '/' | '@' | '+'))
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                match word.parse::<f64>() {
                    Ok(n) if !word.contains('-') || word.starts_with('-') => tokens.push(Token::Num(n)),
                    _ => tokens.push(Token::Ident(word)),
                }
            }
            _ => return Err(GraphError::invalid_filter()),
        }
    }
    Ok(tokens)
}

/// A recursive-descent parser whose recursion is counted: `depth` is how many `(`, `not` and
/// `any(` enclose the current token, refused past [`MAX_FILTER_DEPTH`], so the stack it needs is
/// bounded whatever the input. `and`/`or` chains are loops, not recursion.
struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
    /// Whether the parser is inside a lambda's body: a lambda in a lambda is refused, as its
    /// evaluation would take time exponential in the nesting (each level walks the collection).
    in_lambda: bool,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Ident(w)) if w.eq_ignore_ascii_case(word))
    }

    fn expect(&mut self, token: Token) -> Result<(), GraphError> {
        (self.next() == Some(token)).then_some(()).ok_or_else(GraphError::invalid_filter)
    }

    fn or(&mut self) -> Result<Filter, GraphError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.at += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, GraphError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.at += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    /// Runs `inner` one nesting level deeper, or refuses when that is past the limit.
    fn nested<T>(&mut self, inner: impl FnOnce(&mut Self) -> Result<T, GraphError>) -> Result<T, GraphError> {
        if self.depth >= MAX_FILTER_DEPTH {
            return Err(too_deep());
        }
        self.depth += 1;
        let result = inner(self);
        self.depth -= 1;
        result
    }

    fn unary(&mut self) -> Result<Filter, GraphError> {
        if self.keyword("not") {
            self.at += 1;
            return self.nested(|p| Ok(Filter::Not(Box::new(p.unary()?))));
        }
        if self.peek() == Some(&Token::Open) {
            self.at += 1;
            let inner = self.nested(Self::or)?;
            self.expect(Token::Close)?;
            return Ok(inner);
        }
        let Some(Token::Ident(word)) = self.next() else { return Err(GraphError::invalid_filter()) };
        let function = match word.to_ascii_lowercase().as_str() {
            "startswith" => Some(Function::StartsWith),
            "endswith" => Some(Function::EndsWith),
            "contains" => Some(Function::Contains),
            _ => None,
        };
        if let (Some(function), Some(Token::Open)) = (function, self.peek()) {
            self.at += 1;
            let Some(Token::Ident(property)) = self.next() else { return Err(GraphError::invalid_filter()) };
            self.expect(Token::Comma)?;
            let Some(Token::Str(value)) = self.next() else { return Err(GraphError::invalid_filter()) };
            self.expect(Token::Close)?;
            return Ok(Filter::Call(function, property, value));
        }
        // Lambda: `otherMails/any(m:m eq 'x')`.
        let lower = word.to_ascii_lowercase();
        if let Some(property) = lower.strip_suffix("/any").map(|_| &word[..word.len() - 4]) {
            self.expect(Token::Open)?;
            let Some(Token::Ident(var)) = self.next() else { return Err(GraphError::invalid_filter()) };
            self.expect(Token::Colon)?;
            // Inferred: Graph's directory documents lambdas on one collection only (§3.1).
            if self.in_lambda {
                return Err(GraphError::unsupported_query("Unsupported Query."));
            }
            self.in_lambda = true;
            let body = self.nested(Self::or);
            self.in_lambda = false;
            let body = body?;
            self.expect(Token::Close)?;
            return Ok(Filter::Any(property.to_owned(), var, Box::new(body)));
        }
        if lower.ends_with("/all") {
            // "all is not supported by any property" (§3.1).
            return Err(GraphError::unsupported_query("Unsupported Query."));
        }
        if self.keyword("in") {
            self.at += 1;
            self.expect(Token::Open)?;
            let mut values = vec![self.literal()?];
            while self.peek() == Some(&Token::Comma) {
                self.at += 1;
                values.push(self.literal()?);
            }
            self.expect(Token::Close)?;
            return Ok(Filter::In(word, values));
        }
        let Some(Token::Ident(op)) = self.next() else { return Err(GraphError::invalid_filter()) };
        let op = match op.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            _ => return Err(GraphError::invalid_filter()),
        };
        Ok(Filter::Compare(word, op, self.literal()?))
    }

    fn literal(&mut self) -> Result<Literal, GraphError> {
        match self.next() {
            Some(Token::Str(s)) => Ok(Literal::String(s)),
            Some(Token::Num(n)) => Ok(Literal::Number(n)),
            Some(Token::Ident(word)) => match word.to_ascii_lowercase().as_str() {
                "true" => Ok(Literal::Bool(true)),
                "false" => Ok(Literal::Bool(false)),
                "null" => Ok(Literal::Null),
                // Bare GUIDs are literals (`skuId eq 184efa21-…`, §3.1).
                _ if uuid::Uuid::parse_str(&word).is_ok() => Ok(Literal::String(word)),
                _ => Err(GraphError::invalid_filter()),
            },
            _ => Err(GraphError::invalid_filter()),
        }
    }
}

/// Parses a `$filter`; any syntax error is `400 BadRequest "Invalid filter clause"` (§3.1). A filter
/// longer than [`MAX_OPTION_LENGTH`] or nested deeper than [`MAX_FILTER_DEPTH`] is refused, which
/// also bounds the depth of the tree that [`check_filter`] and [`matches`] walk.
pub fn parse_filter(input: &str) -> Result<Filter, GraphError> {
    if input.chars().count() > MAX_OPTION_LENGTH {
        return Err(too_long("filter"));
    }
    let mut parser = Parser { tokens: tokenize(input)?, at: 0, depth: 0, in_lambda: false };
    if parser.tokens.is_empty() {
        return Err(GraphError::invalid_filter());
    }
    let filter = parser.or()?;
    if parser.at != parser.tokens.len() {
        return Err(GraphError::invalid_filter());
    }
    Ok(filter)
}

fn unsupported_property(property: &str, entity: &Entity) -> GraphError {
    GraphError::unsupported_query(format!(
        "Unsupported or invalid query filter clause specified for property '{property}' of resource '{}'.",
        entity.resource
    ))
}

/// Whether a filter needs advanced mode; refuses what the entity does not support at all (§3.2).
pub fn check_filter(filter: &Filter, entity: &Entity) -> Result<bool, GraphError> {
    let support = |property: &str, pick: fn(&crate::schema::Property) -> Support| -> Result<bool, GraphError> {
        let found = entity.property(property).ok_or_else(|| unsupported_property(property, entity))?;
        match pick(found) {
            Support::No => Err(unsupported_property(property, entity)),
            Support::Default => Ok(false),
            Support::Advanced => Ok(true),
        }
    };
    Ok(match filter {
        Filter::And(a, b) | Filter::Or(a, b) => check_filter(a, entity)? | check_filter(b, entity)?,
        // `ne` and `not` are advanced on every property that supports `eq` (§3.2).
        Filter::Not(inner) => {
            check_filter(inner, entity)?;
            true
        }
        Filter::Compare(property, op, literal) => match (op, literal) {
            (Op::Eq, Literal::Null) => support(property, |p| p.null)?,
            (Op::Ne, Literal::Null) => {
                support(property, |p| p.null)?;
                true
            }
            (Op::Eq, _) => support(property, |p| p.eq)?,
            (Op::Ne, _) => {
                support(property, |p| p.eq)?;
                true
            }
            _ => support(property, |p| p.range)?,
        },
        Filter::In(property, _) => support(property, |p| p.eq)?,
        Filter::Call(Function::StartsWith, property, _) => support(property, |p| p.starts_with)?,
        Filter::Call(Function::EndsWith, property, _) => support(property, |p| p.ends_with)?,
        // `Unsupported property filter clause operator 'Contains'.` (§3.1)
        Filter::Call(Function::Contains, _, _) => {
            return Err(GraphError::unsupported_query("Unsupported property filter clause operator 'Contains'."));
        }
        Filter::Any(property, _, _) => support(property, |p| p.any)?,
    })
}

/// Directory string comparisons ignore case (inferred: Graph matches `displayName eq 'sre'` to `SRE`).
fn fold(s: &str) -> String {
    s.to_lowercase()
}

fn compare(actual: &Value, op: Op, literal: &Literal) -> bool {
    let ordering = match (actual, literal) {
        (Value::Null, Literal::Null) => Some(Ordering::Equal),
        (_, Literal::Null) | (Value::Null, _) => None,
        (Value::String(a), Literal::String(b)) => Some(fold(a).cmp(&fold(b))),
        (Value::Bool(a), Literal::Bool(b)) => Some(a.cmp(b)),
        (Value::Number(a), Literal::Number(b)) => a.as_f64().and_then(|a| a.partial_cmp(b)),
        _ => None,
    };
    match (op, ordering) {
        (Op::Eq, Some(o)) => o == Ordering::Equal,
        (Op::Ne, Some(o)) => o != Ordering::Equal,
        (Op::Ne, None) => !matches!(literal, Literal::Null) || !actual.is_null(),
        (Op::Gt, Some(o)) => o == Ordering::Greater,
        (Op::Ge, Some(o)) => o != Ordering::Less,
        (Op::Lt, Some(o)) => o == Ordering::Less,
        (Op::Le, Some(o)) => o != Ordering::Greater,
        (_, None) => false,
    }
}

/// Looks a property up, or inside a lambda the range variable (`v`) or `v/sub`.
fn lookup<'a>(object: &'a Map<String, Value>, binding: Option<(&str, &'a Value)>, path: &str) -> &'a Value {
    if let Some((var, value)) = binding {
        if path == var {
            return value;
        }
        if let Some(sub) = path.strip_prefix(var).and_then(|rest| rest.strip_prefix('/')) {
            return value.get(sub).unwrap_or(&Value::Null);
        }
    }
    let mut segments = path.split('/');
    let first = segments.next().unwrap_or_default();
    let mut value = object
        .get(first)
        .or_else(|| object.iter().find(|(k, _)| k.eq_ignore_ascii_case(first)).map(|(_, v)| v))
        .unwrap_or(&Value::Null);
    // Complex properties are reached with `/`: `sourceIdentity/displayName`.
    for segment in segments {
        value = value.get(segment).unwrap_or(&Value::Null);
    }
    value
}

/// Evaluates a filter on an object.
pub fn matches(filter: &Filter, object: &Map<String, Value>) -> bool {
    eval(filter, object, None)
}

fn eval(filter: &Filter, object: &Map<String, Value>, binding: Option<(&str, &Value)>) -> bool {
    match filter {
        Filter::And(a, b) => eval(a, object, binding) && eval(b, object, binding),
        Filter::Or(a, b) => eval(a, object, binding) || eval(b, object, binding),
        Filter::Not(inner) => !eval(inner, object, binding),
        Filter::Compare(path, op, literal) => compare(lookup(object, binding, path), *op, literal),
        Filter::In(path, literals) => literals.iter().any(|l| compare(lookup(object, binding, path), Op::Eq, l)),
        Filter::Call(function, path, text) => {
            let Value::String(value) = lookup(object, binding, path) else { return false };
            let (value, text) = (fold(value), fold(text));
            match function {
                Function::StartsWith => value.starts_with(&text),
                Function::EndsWith => value.ends_with(&text),
                Function::Contains => value.contains(&text),
            }
        }
        Filter::Any(path, var, body) => match lookup(object, binding, path) {
            Value::Array(items) => items.iter().any(|item| eval(body, object, Some((var, item)))),
            _ => false,
        },
    }
}

/// `$select`: names checked against the entity; `id` is not added implicitly.
pub fn parse_select(raw: &str, entity: &Entity) -> Result<Vec<&'static str>, GraphError> {
    if raw.chars().count() > MAX_OPTION_LENGTH {
        return Err(too_long("select"));
    }
    if raw.split(',').count() > MAX_SELECT_ITEMS {
        return Err(GraphError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("The $select query option has more than {MAX_SELECT_ITEMS} items."),
        ));
    }
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|name| {
            entity.property(name).map(|p| p.name).ok_or_else(|| {
                GraphError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "BadRequest",
                    format!(
                        "Could not find a property named '{name}' on type 'microsoft.graph.{}'.",
                        lower_first(entity.resource)
                    ),
                )
            })
        })
        .collect()
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// One `$orderby` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    /// The property.
    pub property: &'static str,
    /// `desc`.
    pub descending: bool,
}

/// `$orderby=displayName desc,…`: whether it needs advanced mode. `displayName` and
/// `userPrincipalName` sort by default (§3.2, §3.5); other filterable properties need advanced mode.
pub fn parse_orderby(raw: &str, entity: &Entity) -> Result<(Vec<OrderBy>, bool), GraphError> {
    if raw.chars().count() > MAX_OPTION_LENGTH {
        return Err(too_long("orderby"));
    }
    if raw.split(',').count() > MAX_ORDERBY_KEYS {
        return Err(GraphError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("The $orderby query option has more than {MAX_ORDERBY_KEYS} keys."),
        ));
    }
    let mut advanced = false;
    let mut keys = Vec::new();
    for part in raw.split(',') {
        let mut words = part.split_whitespace();
        let name = words.next().ok_or_else(|| {
            GraphError::new(axum::http::StatusCode::BAD_REQUEST, "BadRequest", "Invalid $orderby clause.")
        })?;
        let descending = match words.next().map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => {
                return Err(GraphError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "Invalid $orderby clause.",
                ));
            }
        };
        let property = entity.property(name).filter(|p| p.eq != Support::No).ok_or_else(|| {
            GraphError::unsupported_query(format!(
                "Sorting not supported for property '{name}' of resource '{}'.",
                entity.resource
            ))
        })?;
        if !matches!(property.name, "displayName" | "userPrincipalName") {
            advanced = true;
        }
        keys.push(OrderBy { property: property.name, descending });
    }
    Ok((keys, advanced))
}

/// Orders two objects by the keys; nulls first, strings without case.
pub fn order(a: &Map<String, Value>, b: &Map<String, Value>, keys: &[OrderBy]) -> Ordering {
    for key in keys {
        let (x, y) = (a.get(key.property).unwrap_or(&Value::Null), b.get(key.property).unwrap_or(&Value::Null));
        let ordering = match (x, y) {
            (Value::String(x), Value::String(y)) => fold(x).cmp(&fold(y)),
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Null, _) => Ordering::Less,
            (_, Value::Null) => Ordering::Greater,
            (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
            _ => x.to_string().cmp(&y.to_string()),
        };
        let ordering = if key.descending { ordering.reverse() } else { ordering };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

/// A parsed `$search`: OR of AND-groups of `"property:text"` clauses (§3.6).
#[derive(Debug, Clone, PartialEq)]
pub struct Search(Vec<Vec<(&'static str, String)>>);

/// Parses `"displayName:tier" OR "mail:ops"`.
pub fn parse_search(raw: &str, entity: &Entity) -> Result<Search, GraphError> {
    let syntax = || {
        GraphError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "Request_UnsupportedQuery",
            format!("Syntax error: invalid $search value {raw}"),
        )
    };
    if raw.chars().count() > MAX_OPTION_LENGTH {
        return Err(too_long("search"));
    }
    let mut groups = vec![Vec::new()];
    let mut rest = raw.trim();
    loop {
        let body = rest.strip_prefix('"').ok_or_else(syntax)?;
        let end = body.find('"').ok_or_else(syntax)?;
        let clause = &body[..end];
        let (name, text) = clause.split_once(':').ok_or_else(syntax)?;
        let property = entity
            .property(name.trim())
            .filter(|p| p.starts_with != Support::No || p.name == "description")
            .ok_or_else(|| {
                GraphError::unsupported_query(format!(
                    "Search on property '{name}' is not supported for resource '{}'.",
                    entity.resource
                ))
            })?;
        groups.last_mut().ok_or_else(syntax)?.push((property.name, text.trim().to_owned()));
        rest = body[end + 1..].trim_start();
        if rest.is_empty() {
            break;
        }
        // AND and OR are uppercase, outside the quotes (§3.6).
        if let Some(after) = rest.strip_prefix("OR ") {
            groups.push(Vec::new());
            rest = after.trim_start();
        } else if let Some(after) = rest.strip_prefix("AND ") {
            rest = after.trim_start();
        } else {
            return Err(syntax());
        }
    }
    Ok(Search(groups))
}

/// Splits on spaces, symbols, digit boundaries and lower→upper case changes (§3.6).
fn tokens(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut previous: Option<char> = None;
    for c in value.chars() {
        let boundary = match previous {
            _ if !c.is_alphanumeric() => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
                previous = None;
                continue;
            }
            Some(p) => (p.is_lowercase() && c.is_uppercase()) || (p.is_ascii_digit() != c.is_ascii_digit()),
            None => false,
        };
        if boundary && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        current.extend(c.to_lowercase());
        previous = Some(c);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

impl Search {
    /// Tokenised prefix match on `displayName` and `description`; `startsWith` on the others.
    pub fn matches(&self, object: &Map<String, Value>) -> bool {
        self.0.iter().any(|group| {
            group.iter().all(|(property, text)| {
                let Some(Value::String(value)) = object.get(*property) else { return false };
                if matches!(*property, "displayName" | "description") {
                    let value_tokens = tokens(value);
                    tokens(text).iter().all(|t| value_tokens.iter().any(|v| v.starts_with(t.as_str())))
                } else {
                    fold(value).starts_with(&fold(text))
                }
            })
        })
    }
}

/// Whether a body key is an annotation: an instance annotation (`@odata.type`, `@odata.context`,
/// `@odata.id`, `@odata.etag`, a custom `@ns.term`) or a property annotation (`name@odata.type`),
/// but not `name@odata.bind`, which carries references (microsoft-graph.md §2.2, §2.3).
fn is_annotation(key: &str) -> bool {
    match key.split_once('@') {
        Some(("", _)) => true,
        Some((_, term)) => !term.eq_ignore_ascii_case("odata.bind"),
        None => false,
    }
}

/// An `@odata.type` against the type a shape expects: the same type or a derived one passes; a
/// known other type is not assignable; an unknown name cannot be resolved. Untyped shapes (action
/// parameters) take any (inferred).
fn check_type(named: &Value, shape: &BodyShape) -> Result<(), GraphError> {
    let Some(expected) = shape.odata_type.and_then(ODataType::named) else { return Ok(()) };
    let text = match named {
        Value::String(text) => text.as_str(),
        Value::Null => return Ok(()),
        other => return Err(GraphError::type_unresolved(&other.to_string())),
    };
    match ODataType::named(text) {
        Some(found) if found.is_assignable_to(expected) => Ok(()),
        Some(found) => Err(GraphError::type_not_assignable(&found.message_name(), &expected.message_name())),
        None if expected.directory => Err(GraphError::type_unresolved(&directory_name(text))),
        None => Err(GraphError::type_unresolved(text.strip_prefix('#').unwrap_or(text))),
    }
}

/// Checks the annotations of a written object and drops them, as Graph reads them: `@odata.type`
/// must name the shape's type or one derived from it, nested complex values (each item of an array)
/// are read the same way, and every other annotation is ignored. `name@odata.bind` stays for the
/// handler. Microsoft's SDKs (Kiota) write `"@odata.type": "#microsoft.graph.user"` on every entity,
/// and on a complex value whenever its model's `odata_type` is set.
pub fn accept_annotations(object: &mut Map<String, Value>, shape: &BodyShape) -> Result<(), GraphError> {
    if let Some(named) = object.get("@odata.type") {
        check_type(named, shape)?;
    }
    object.retain(|key, _| !is_annotation(key));
    for (name, inner) in shape.nested {
        // Property names are case-insensitive in the mock, as in its queries.
        let Some((_, value)) = object.iter_mut().find(|(key, _)| key.eq_ignore_ascii_case(name)) else { continue };
        match value {
            Value::Object(nested) => accept_annotations(nested, inner)?,
            Value::Array(items) => {
                for item in items.iter_mut() {
                    if let Value::Object(nested) = item {
                        accept_annotations(nested, inner)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{GROUP, USER};
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn filters_parse_and_match_as_graph_documents() {
        let user = object(
            json!({"displayName": "Annie Easley", "userPrincipalName": "annie@contoso.com", "accountEnabled": true,
            "otherMails": ["a@x.com"], "mail": null, "id": "87d349ed-44d7-43e1-9a83-5f2406dee5bd"}),
        );
        for (filter, expected) in [
            ("displayName eq 'annie easley'", true),
            ("startsWith(displayName,'Ann')", true),
            ("accountEnabled eq true", true),
            ("accountEnabled eq false or displayName eq 'x'", false),
            ("not (displayName eq 'Annie Easley')", false),
            ("userPrincipalName in ('bob@contoso.com','annie@contoso.com')", true),
            ("otherMails/any(m:m eq 'A@X.COM')", true),
            ("id eq 87d349ed-44d7-43e1-9a83-5f2406dee5bd", true),
            ("mail eq null", true),
            ("displayName eq 'it''s'", false),
        ] {
            assert_eq!(matches(&parse_filter(filter).unwrap(), &user), expected, "{filter}");
        }
    }

    #[test]
    fn syntax_errors_are_invalid_filter_clauses() {
        for filter in [
            "displayName eq",
            "displayName eq 'x",
            "eq 'x'",
            "displayName like 'x'",
            "(displayName eq 'x'",
            "displayName eq 'x' and",
            "",
        ] {
            assert_eq!(parse_filter(filter).unwrap_err(), GraphError::invalid_filter(), "{filter}");
        }
    }

    #[test]
    fn advanced_operators_are_told_apart_from_default_ones() {
        let check = |f: &str| check_filter(&parse_filter(f).unwrap(), &USER);
        assert!(!check("displayName eq 'a'").unwrap());
        assert!(check("endsWith(mail,'@outlook.com')").unwrap());
        assert!(check("displayName ne 'a'").unwrap());
        assert!(check("not startsWith(displayName,'a')").unwrap());
        assert!(check("contains(displayName,'a')").is_err());
        assert!(check("favouriteColour eq 'blue'").is_err());
        assert!(check("endsWith(displayName,'a')").is_err());
        assert!(!check_filter(&parse_filter("groupTypes/any(c:c eq 'Unified')").unwrap(), &GROUP).unwrap());
    }

    #[test]
    fn search_tokenises_display_names() {
        let search = parse_search("\"displayName:tier\" OR \"mail:ops\"", &GROUP).unwrap();
        assert!(search.matches(&object(json!({"displayName": "Tier1 Support"}))));
        assert!(search.matches(&object(json!({"displayName": "x", "mail": "ops@contoso.com"}))));
        assert!(!search.matches(&object(json!({"displayName": "Frontier"}))));
        assert!(parse_search("displayName:tier", &GROUP).is_err());
    }

    #[test]
    fn annotations_naming_the_expected_or_a_derived_type_are_dropped() {
        use crate::schema::{ODataType, USER_BODY};
        let mut body = object(json!({
            "@odata.type": "#microsoft.graph.user", "@odata.context": "x", "@custom.term": 1,
            "displayName": "Annie", "displayName@odata.type": "#String",
            "passwordProfile": {"@odata.type": "#microsoft.graph.passwordProfile", "password": "p"},
            "members@odata.bind": []
        }));
        accept_annotations(&mut body, &USER_BODY).unwrap();
        assert_eq!(
            Value::Object(body),
            json!({"displayName": "Annie", "passwordProfile": {"password": "p"}, "members@odata.bind": []})
        );
        let user = ODataType::named("#microsoft.graph.user").unwrap();
        let directory_object = ODataType::named("microsoft.graph.directoryObject").unwrap();
        assert!(user.is_assignable_to(directory_object));
        assert!(!directory_object.is_assignable_to(user));
    }

    #[test]
    fn a_wrong_type_is_not_assignable_and_an_unknown_one_unresolved() {
        use crate::schema::{PROVISION_ON_DEMAND_BODY, USER_BODY};
        let refuse = |value: Value, shape| accept_annotations(&mut object(value), shape).unwrap_err().message;
        assert_eq!(
            refuse(json!({"@odata.type": "#microsoft.graph.group"}), &USER_BODY),
            "A resource with type 'Microsoft.DirectoryServices.Group' was found, but it is not assignable to the expected type 'Microsoft.DirectoryServices.User'. The type specified in the resource must be equal to either the expected type or a derived type."
        );
        assert_eq!(
            refuse(json!({"@odata.type": "#microsoft.graph.directoryObject"}), &USER_BODY),
            "A resource with type 'Microsoft.DirectoryServices.DirectoryObject' was found, but it is not assignable to the expected type 'Microsoft.DirectoryServices.User'. The type specified in the resource must be equal to either the expected type or a derived type."
        );
        assert_eq!(
            refuse(json!({"passwordProfile": {"@odata.type": "#microsoft.graph.pwd"}}), &USER_BODY),
            "A type named 'Microsoft.DirectoryServices.pwd' could not be resolved by the model. When a model is available, each type name must resolve to a valid type."
        );
        let nested =
            json!({"parameters": [{"subjects": [{"links": {"members": [{"@odata.type": "#microsoft.graph.user"}]}}]}]});
        assert!(refuse(nested, &PROVISION_ON_DEMAND_BODY).contains("'microsoft.graph.synchronizationJobSubject'"));
    }

    #[test]
    fn top_is_between_1_and_999() {
        let options = |top: &str| QueryOptions { top: Some(top.into()), ..QueryOptions::default() };
        assert_eq!(options("999").page_size().unwrap(), 999);
        assert_eq!(
            options("1000").page_size().unwrap_err().message,
            "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive."
        );
        assert!(options("0").page_size().is_err());
    }
}
