//! The shape of a scenario file, table by table, and the walk that holds a parsed TOML document
//! to it before serde reads it: serde stops at the first unknown key or wrong type, the walk finds
//! all of them, each at its own span and path.
//!
//! The key lists mirror the serde types of the parent module; `tests::shapes_match_serde` fails,
//! naming the key, as soon as the two drift apart.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize as _;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// What a value must be.
#[derive(Debug)]
pub(super) enum Shape {
    /// A string.
    Str,
    /// A string holding an ISO-8601 duration (checked later, by the step).
    Duration,
    /// `true` or `false`.
    Bool,
    /// An integer from 0 to this.
    Uint(u64),
    /// A float, or an integer (serde reads both as `f64`).
    Number,
    /// A timestamp, as jiff reads it (RFC 3339).
    Timestamp,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// Anything: Graph properties, JSON bodies, switches, checked by the mocks themselves.
    Any,
    /// An array of values of one shape.
    List(&'static Shape),
    /// An array serde reads element by element, keeping what it cannot read as a problem of that
    /// element (steps, see `super::steps`), so one bad element does not hide the others.
    Each(&'static Shape),
    /// A table whose keys the file chooses, each value of one shape.
    Map(&'static Shape),
    /// A table with these keys.
    Table(&'static [Field]),
    /// A table whose key `.0` names its variant, each variant with its own keys.
    Tagged(&'static str, &'static [(&'static str, &'static [Field])]),
}

/// A key of a table.
#[derive(Debug)]
pub(super) struct Field {
    /// As written in the file.
    pub key: &'static str,
    /// Its value.
    pub shape: Shape,
    /// Whether serde has no default for it.
    pub required: bool,
}

const fn req(key: &'static str, shape: Shape) -> Field {
    Field { key, shape, required: true }
}

const fn opt(key: &'static str, shape: Shape) -> Field {
    Field { key, shape, required: false }
}

const STRINGS: Shape = Shape::List(&Shape::Str);
const USIZE: Shape = Shape::Uint(usize::MAX as u64);
const U64: Shape = Shape::Uint(u64::MAX);
const STATUS: Shape = Shape::Uint(u16::MAX as u64);
const PROPERTIES: Shape = Shape::Map(&Shape::Any);

/// [`super::Scenario`].
pub(super) const SCENARIO: &[Field] = &[
    req("name", Shape::Str),
    opt("description", Shape::Str),
    opt("seed", U64),
    opt("start", Shape::Timestamp),
    opt("directory", Shape::Table(DIRECTORY)),
    opt("assignments", STRINGS),
    opt("entra", Shape::Table(ENTRA)),
    opt("aws", Shape::Table(AWS)),
    opt("faults", Shape::List(&Shape::Table(FAULT))),
    opt("engine", Shape::Table(ENGINE)),
    opt("steps", Shape::Each(&Shape::Tagged("action", STEPS))),
];

/// [`super::Engine`].
pub(super) const ENGINE: &[Field] = &[req("command", STRINGS), opt("timeout_seconds", U64), opt("tls", Shape::Bool)];

/// [`super::Directory`].
pub(super) const DIRECTORY: &[Field] = &[
    opt("users", Shape::List(&Shape::Table(USER))),
    opt("groups", Shape::List(&Shape::Table(GROUP))),
    opt("generated", Shape::Table(GENERATED)),
];

/// [`super::User`], in the directory and in a step.
pub(super) const USER: &[Field] = &[
    req("upn", Shape::Str),
    opt("given_name", Shape::Str),
    opt("surname", Shape::Str),
    opt("display_name", Shape::Str),
    opt("mail", Shape::Str),
    opt("enabled", Shape::Bool),
    opt("properties", PROPERTIES),
];

/// [`super::Group`].
pub(super) const GROUP: &[Field] = &[req("name", Shape::Str), opt("members", STRINGS)];

/// [`super::Generated`].
pub(super) const GENERATED: &[Field] =
    &[req("users", USIZE), opt("groups", USIZE), opt("members_per_group", USIZE), opt("assign_groups", Shape::Bool)];

/// [`super::Entra`].
pub(super) const ENTRA: &[Field] = &[opt("switches", PROPERTIES)];

/// [`super::Aws`].
pub(super) const AWS: &[Field] = &[
    opt("switches", PROPERTIES),
    opt("users", Shape::List(&Shape::Table(AWS_USER))),
    opt("groups", Shape::List(&Shape::Table(AWS_GROUP))),
];

/// [`super::AwsUser`].
pub(super) const AWS_USER: &[Field] = &[
    req("user_name", Shape::Str),
    opt("given_name", Shape::Str),
    opt("family_name", Shape::Str),
    opt("display_name", Shape::Str),
    opt("email", Shape::Str),
    opt("external_id", Shape::Str),
];

/// [`super::AwsGroup`].
pub(super) const AWS_GROUP: &[Field] = &[req("name", Shape::Str), opt("external_id", Shape::Str)];

/// [`crate::fault::FaultRule`].
pub(super) const FAULT: &[Field] = &[
    opt("name", Shape::Str),
    opt("method", Shape::Str),
    opt("path", Shape::Str),
    opt("nth", Shape::Table(NTH)),
    opt("probability", Shape::Number),
    opt("window", Shape::Table(WINDOW)),
    req("action", Shape::Tagged("kind", FAULT_ACTIONS)),
];

/// [`crate::fault::Nth`].
pub(super) const NTH: &[Field] = &[opt("from", U64), opt("to", U64), opt("every", U64)];

/// [`crate::fault::TimeWindow`].
pub(super) const WINDOW: &[Field] = &[opt("from", Shape::Timestamp), opt("until", Shape::Timestamp)];

/// [`crate::fault::FaultAction`].
pub(super) const FAULT_ACTIONS: &[(&str, &[Field])] = &[
    ("latency", &[req("ms", U64)]),
    ("status", &[req("status", STATUS), opt("retryAfter", U64), opt("body", Shape::Any)]),
    ("drop", &[]),
    ("timeout", &[req("ms", U64)]),
];

/// [`super::Step`], by `action`.
pub(super) const STEPS: &[(&str, &[Field])] = &[
    ("create_user", USER),
    ("update_user", &[req("user", Shape::Str), opt("set", PROPERTIES), opt("clear", STRINGS)]),
    ("delete_user", &[req("user", Shape::Str)]),
    ("purge_user", &[req("user", Shape::Str)]),
    ("restore_user", &[req("user", Shape::Str)]),
    ("set_manager", &[req("user", Shape::Str), req("manager", Shape::Str)]),
    ("clear_manager", &[req("user", Shape::Str)]),
    ("create_group", &[req("name", Shape::Str), opt("members", STRINGS)]),
    ("rename_group", &[req("group", Shape::Str), req("to", Shape::Str)]),
    ("delete_group", &[req("group", Shape::Str)]),
    ("add_member", &[req("group", Shape::Str), req("member", Shape::Str)]),
    ("remove_member", &[req("group", Shape::Str), req("member", Shape::Str)]),
    ("assign", &[req("principal", Shape::Str)]),
    ("unassign", &[req("principal", Shape::Str)]),
    (
        "configure",
        &[
            opt("token", Shape::Str),
            opt("tenant_url", Shape::Str),
            opt("sync_all", Shape::Bool),
            opt("skip_out_of_scope_deletions", Shape::Bool),
            opt("aad_opt_scim_062020", Shape::Bool),
            opt("delete_threshold", U64),
        ],
    ),
    ("map_user_attribute", MAPPING_EDIT),
    ("map_group_attribute", MAPPING_EDIT),
    ("unmap_user_attribute", &[req("target", Shape::Str), opt("refused_with", Shape::Str)]),
    ("unmap_group_attribute", &[req("target", Shape::Str), opt("refused_with", Shape::Str)]),
    (
        "set_scoping_filter",
        &[
            req("object", Shape::OneOf(&["users", "groups"])),
            opt("filters", Shape::List(&Shape::Table(SCOPING_FILTER))),
            opt("refused_with", Shape::Str),
        ],
    ),
    ("test_connection", &[req("expect", Shape::OneOf(&["success", "failure"])), opt("error_code", Shape::Str)]),
    ("start", &[]),
    ("pause", &[]),
    ("restart", &[opt("reset_scope", Shape::Str)]),
    ("advance", &[req("by", Shape::Duration)]),
    ("advance_aws", &[req("by", Shape::Duration)]),
    (
        "provision_on_demand",
        &[
            req("subject", Shape::Str),
            opt("members", STRINGS),
            opt("expect_result", Shape::Str),
            opt("expect_status", STATUS),
            opt("expect_error_code", Shape::Str),
        ],
    ),
    ("aws_request", AWS_REQUEST),
    ("rotate_aws_token", &[]),
    ("revoke_aws_token", &[]),
    ("expect", EXPECTATION),
];

/// [`super::MappingEdit`].
pub(super) const MAPPING_EDIT: &[Field] = &[
    req("target", Shape::Str),
    opt("source", Shape::Str),
    opt("expression", Shape::Str),
    opt("constant", Shape::Str),
    opt("matching_priority", Shape::Uint(u32::MAX as u64)),
    opt("apply", Shape::OneOf(&["always", "on_create"])),
    opt("default", Shape::Str),
    opt("refused_with", Shape::Str),
];

/// [`super::ScopingFilter`].
pub(super) const SCOPING_FILTER: &[Field] =
    &[opt("name", Shape::Str), req("clauses", Shape::List(&Shape::Table(SCOPING_CLAUSE)))];

/// [`super::ScopingClause`].
pub(super) const SCOPING_CLAUSE: &[Field] =
    &[req("attribute", Shape::Str), req("operator", Shape::OneOf(super::SCOPING_OPERATORS)), opt("values", STRINGS)];

/// [`super::AwsRequest`].
pub(super) const AWS_REQUEST: &[Field] = &[
    req("method", Shape::Str),
    req("path", Shape::Str),
    opt("body", Shape::Any),
    opt("status", STATUS),
    opt("copies", USIZE),
    opt("statuses", Shape::List(&STATUS)),
];

/// [`super::Expectation`].
pub(super) const EXPECTATION: &[Field] = &[
    opt("aws_users", STRINGS),
    opt("aws_users_include", STRINGS),
    opt("aws_users_exclude", STRINGS),
    opt("aws_inactive", STRINGS),
    opt("aws_groups", Shape::Map(&STRINGS)),
    opt("aws_groups_include", Shape::Map(&STRINGS)),
    opt("aws_groups_exclude", STRINGS),
    opt("log", Shape::List(&Shape::Table(LOG))),
    opt("job", Shape::Table(JOB)),
    opt("requests", Shape::List(&Shape::Table(REQUEST))),
    opt("no_writes", Shape::Bool),
    opt("aws_untouched", STRINGS),
    opt("order_safe", Shape::Bool),
    opt("log_absent", Shape::List(&Shape::Table(LOG))),
    opt("aws_attributes", Shape::Map(&Shape::Map(&Shape::Any))),
    opt("aws_names_exact", Shape::Bool),
];

/// [`super::LogExpectation`].
pub(super) const LOG: &[Field] = &[
    req("identity", Shape::Str),
    opt("action", Shape::Str),
    opt("status", Shape::Str),
    opt("error_code", Shape::Str),
    opt("reason_contains", Shape::Str),
];

/// [`super::JobExpectation`].
pub(super) const JOB: &[Field] = &[
    opt("code", Shape::Str),
    opt("quarantine_reason", Shape::Str),
    opt("escrowed", U64),
    opt("last_state", Shape::Str),
    opt("escrows_pruned", Shape::Bool),
    opt("next_attempt", Shape::Timestamp),
    opt("schedule_state", Shape::OneOf(&["Active", "Disabled", "Paused"])),
];

/// [`super::RequestExpectation`].
pub(super) const REQUEST: &[Field] = &[
    req("method", Shape::Str),
    opt("path_contains", Shape::Str),
    opt("filter_contains", Shape::Str),
    opt("count", USIZE),
    opt("at_least", USIZE),
    opt("at_most", USIZE),
    opt("body", Shape::Any),
    opt("operations", Shape::List(&Shape::Any)),
];

/// A problem the walk found: where, at which path, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Found {
    /// Byte range in the file, when known.
    pub at: Option<Range<usize>>,
    /// `steps[3].by`, `directory.users[0].surnme`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// The span of every value in the document, by path (`steps[3].by`), so that later checks on
/// the typed scenario can say on which line the value they refuse was written.
#[derive(Debug, Default)]
pub(super) struct Spans(BTreeMap<String, Range<usize>>);

impl Spans {
    /// The span of the value at `path`, or of the closest enclosing value written in the file
    /// (a missing key is reported where its table starts).
    pub fn locate(&self, path: &str) -> Option<Range<usize>> {
        let mut path = path;
        loop {
            if let Some(span) = self.0.get(path) {
                return Some(span.clone());
            }
            path = &path[..path.rfind(['.', '['])?];
        }
    }
}

/// Holds `root` to the shape of a scenario file: every unknown key, wrong type and missing key.
/// What serde could not read but has a default for (an unknown key, an optional key of the wrong
/// type) is removed from the document, so that serde can still read the rest and the semantic
/// checks can run over it.
pub(super) fn walk(root: &mut Spanned<DeTable<'_>>, text: &str) -> (Vec<Found>, Spans) {
    let mut walk = Walk { text, found: Vec::new(), spans: Spans::default() };
    let span = root.span();
    walk.spans.0.insert(String::new(), span.clone());
    walk.table("", span, root.get_mut(), SCENARIO, None);
    (walk.found, walk.spans)
}

struct Walk<'t> {
    text: &'t str,
    found: Vec<Found>,
    spans: Spans,
}

impl Walk<'_> {
    fn push(&mut self, at: Range<usize>, path: String, message: String) {
        self.found.push(Found { at: Some(at), path, message });
    }

    /// Checks one value; `false` when serde could not read it (the problem is reported).
    fn value(&mut self, path: String, value: &mut Spanned<DeValue<'_>>, shape: &Shape) -> bool {
        let span = value.span();
        self.spans.0.insert(path.clone(), span.clone());
        let fits = match (shape, value.get_mut()) {
            (Shape::Any, _)
            | (Shape::Str | Shape::Duration, DeValue::String(_))
            | (Shape::Bool, DeValue::Boolean(_))
            | (Shape::Number, DeValue::Integer(_) | DeValue::Float(_)) => true,
            (Shape::Uint(max), DeValue::Integer(n)) => {
                i128::from_str_radix(n.as_str(), n.radix()).is_ok_and(|n| (0..=i128::from(*max)).contains(&n))
            }
            (Shape::OneOf(options), DeValue::String(s)) => options.contains(&s.as_ref()),
            (Shape::Timestamp, DeValue::Datetime(datetime)) => {
                // serde reads timestamps from strings only; a bare TOML datetime would otherwise be
                // refused as "invalid type: map".
                self.push(span, path, format!("write the timestamp as a string: \"{datetime}\""));
                return false;
            }
            (Shape::Timestamp, DeValue::String(_)) => {
                // Read as serde reads it, so the walk and the typed scenario cannot disagree.
                match jiff::Timestamp::deserialize(toml::de::ValueDeserializer::from(value.clone())) {
                    Ok(_) => true,
                    Err(err) => {
                        self.push(span, path, err.message().trim().to_owned());
                        return false;
                    }
                }
            }
            (Shape::List(item), DeValue::Array(items)) => {
                let mut all = true;
                for (i, element) in items.iter_mut().enumerate() {
                    all &= self.value(format!("{path}[{i}]"), element, item);
                }
                return all;
            }
            (Shape::Each(item), DeValue::Array(items)) => {
                for (i, element) in items.iter_mut().enumerate() {
                    self.value(format!("{path}[{i}]"), element, item);
                }
                return true;
            }
            (Shape::Map(item), DeValue::Table(table)) => {
                let mut unreadable = Vec::new();
                for (key, element) in table.iter_mut() {
                    if !self.value(join(&path, key.get_ref()), element, item) {
                        unreadable.push(key.get_ref().to_string());
                    }
                }
                for key in unreadable {
                    table.remove(key.as_str());
                }
                return true;
            }
            (Shape::Table(fields), DeValue::Table(table)) => return self.table(&path, span, table, fields, None),
            (Shape::Tagged(tag, variants), DeValue::Table(table)) => {
                return self.tagged(&path, span, table, tag, variants);
            }
            _ => false,
        };
        if !fits {
            let mut message = format!("expected {}, found {}", describe(shape), self.found_value(value));
            if let (Shape::OneOf(options), DeValue::String(s)) = (shape, value.get_ref()) {
                message.push_str(&hint(s, options.iter().copied()));
            }
            self.push(span, path, message);
        }
        fits
    }

    /// Checks a table's keys against `fields` (the tag, if any, aside); `false` when serde could
    /// not read it. Unknown keys, and optional keys whose value serde could not read, are removed
    /// (their problems reported), so that serde reads the rest with its defaults.
    fn table(
        &mut self,
        path: &str,
        span: Range<usize>,
        table: &mut DeTable<'_>,
        fields: &[Field],
        variant: Option<(&str, &str)>,
    ) -> bool {
        let mut readable = true;
        let mut unknown: Vec<(String, Range<usize>)> = Vec::new();
        let mut unreadable: Vec<String> = Vec::new();
        for (key, value) in table.iter_mut() {
            let name: &str = key.get_ref();
            if variant.is_some_and(|(tag, _)| tag == name) {
                continue;
            }
            match fields.iter().find(|f| f.key == name) {
                Some(field) => {
                    if !self.value(join(path, name), value, &field.shape) {
                        if field.required {
                            readable = false;
                        } else {
                            unreadable.push(name.to_owned());
                        }
                    }
                }
                None => unknown.push((name.to_owned(), key.span())),
            }
        }
        let keys = || fields.iter().map(|f| f.key);
        let mut meant: Vec<&str> = Vec::new();
        for (name, at) in &unknown {
            let mut message = String::from("unknown key");
            if let Some((tag, name)) = variant {
                message.push_str(&format!(" for {tag} '{name}'"));
            }
            match closest(name, keys()) {
                Some(key) => {
                    meant.push(key);
                    message.push_str(&format!("; did you mean '{key}'?"));
                }
                None if fields.is_empty() => message.push_str(", which takes no keys"),
                None => message.push_str(&format!(", expected {}", one_of(keys()))),
            }
            self.push(at.clone(), join(path, name), message);
        }
        for field in fields.iter().filter(|f| f.required && !table.contains_key(f.key)) {
            readable = false;
            // A misspelt required key is one mistake: its "did you mean" says it all.
            if !meant.contains(&field.key) {
                self.push(span.clone(), join(path, field.key), "is required".into());
            }
        }
        for name in unknown.iter().map(|(name, _)| name).chain(&unreadable) {
            table.remove(name.as_str());
        }
        readable
    }

    /// Checks a table told apart by its `tag` key; `false` when serde could not read it.
    fn tagged(
        &mut self,
        path: &str,
        span: Range<usize>,
        table: &mut DeTable<'_>,
        tag: &str,
        variants: &[(&str, &[Field])],
    ) -> bool {
        let names = || variants.iter().map(|(name, _)| *name);
        let tag_path = join(path, tag);
        let Some(value) = table.get(tag) else {
            self.push(span, tag_path, format!("is required: {}", one_of(names())));
            return false;
        };
        let at = value.span();
        self.spans.0.insert(tag_path.clone(), at.clone());
        let Some(name) = value.get_ref().as_str().map(str::to_owned) else {
            let message = format!("expected a string, found {}", self.found_value(value));
            self.push(at, tag_path, message);
            return false;
        };
        match variants.iter().find(|(variant, _)| *variant == name) {
            Some((variant, fields)) => self.table(path, span, table, fields, Some((tag, variant))),
            None => {
                let message = match closest(&name, names()) {
                    Some(known) => format!("unknown {tag} '{name}'; did you mean '{known}'?"),
                    None => format!("unknown {tag} '{name}', expected {}", one_of(names())),
                };
                self.push(at, tag_path, message);
                false
            }
        }
    }

    /// `integer 40`, `string "seven"`, `an array`: the type, and the value if it is short.
    fn found_value(&self, value: &Spanned<DeValue<'_>>) -> String {
        let what = value.get_ref().type_str();
        match value.get_ref() {
            DeValue::Array(_) => "an array".into(),
            DeValue::Table(_) => "a table".into(),
            _ => match self.text.get(value.span()) {
                Some(written) if written.len() <= 40 && !written.contains('\n') => format!("{what} {written}"),
                _ => what.to_owned(),
            },
        }
    }
}

/// What a shape asks for, after "expected".
fn describe(shape: &Shape) -> String {
    match shape {
        Shape::Str => "a string".into(),
        Shape::Duration => "an ISO-8601 duration such as \"PT40M\"".into(),
        Shape::Bool => "true or false".into(),
        Shape::Uint(max) if *max >= u64::from(u32::MAX) => "a non-negative integer".into(),
        Shape::Uint(max) => format!("an integer from 0 to {max}"),
        Shape::Number => "a number".into(),
        Shape::Timestamp => "an RFC 3339 timestamp such as \"2026-01-01T00:00:00Z\"".into(),
        Shape::OneOf(options) => one_of(options.iter().copied()),
        Shape::Any => "a value".into(),
        Shape::List(_) | Shape::Each(_) => "an array".into(),
        Shape::Map(_) | Shape::Table(_) | Shape::Tagged(..) => "a table".into(),
    }
}

/// `` `a` ``, `` `a` or `b` ``, `` one of `a`, `b`, `c` ``.
fn one_of<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.map(|n| format!("`{n}`")).collect();
    match names.as_slice() {
        [one] => one.clone(),
        [a, b] => format!("{a} or {b}"),
        _ => format!("one of {}", names.join(", ")),
    }
}

/// `; did you mean 'x'?` when one of `known` is close to `name`, else nothing.
fn hint<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> String {
    closest(name, known).map(|k| format!("; did you mean '{k}'?")).unwrap_or_default()
}

/// The known name closest to `name`, if close enough to be what was meant: at most three edits,
/// and at most half the known name's length (so `by` is not offered for `x`).
fn closest<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    known
        .map(|k| (super::distance(&name.to_lowercase(), &k.to_lowercase()), k))
        .filter(|(d, k)| *d <= 3.min(k.chars().count() / 2))
        .min()
        .map(|(_, k)| k)
}

/// `path.key`, with the key quoted when it is not a bare TOML key.
fn join(path: &str, key: &str) -> String {
    let bare = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let key = if bare { key.to_owned() } else { format!("{key:?}") };
    if path.is_empty() { key } else { format!("{path}.{key}") }
}

#[cfg(test)]
mod tests {
    use serde::de::DeserializeOwned;
    use toml::{Table, Value};

    use super::*;
    use crate::fault::{FaultAction, FaultRule, Nth, TimeWindow};
    use crate::scenario::{Aws, Problem};
    use crate::scenario::{
        AwsGroup, AwsRequest, AwsUser, Directory, Engine, Entra, Expectation, Generated, Group, JobExpectation,
        LogExpectation, MappingEdit, RequestExpectation, Scenario, ScopingClause, ScopingFilter, Step, User,
    };

    /// A value of the shape that serde accepts.
    fn sample(shape: &Shape) -> Value {
        match shape {
            Shape::Str | Shape::Any => Value::String("x".into()),
            Shape::Duration => Value::String("PT1M".into()),
            Shape::Bool => Value::Boolean(true),
            Shape::Uint(_) => Value::Integer(1),
            Shape::Number => Value::Float(0.5),
            Shape::Timestamp => Value::String("2026-01-01T00:00:00Z".into()),
            Shape::OneOf(options) => Value::String(options[0].into()),
            Shape::List(item) | Shape::Each(item) => Value::Array(vec![sample(item)]),
            Shape::Map(item) => Value::Table(Table::from_iter([("k".to_owned(), sample(item))])),
            Shape::Table(fields) => Value::Table(full(fields)),
            Shape::Tagged(tag, variants) => {
                let mut table = full(variants[0].1);
                table.insert((*tag).to_owned(), Value::String(variants[0].0.into()));
                Value::Table(table)
            }
        }
    }

    /// A table with every key of `fields`.
    fn full(fields: &[Field]) -> Table {
        fields.iter().map(|f| (f.key.to_owned(), sample(&f.shape))).collect()
    }

    /// Reads `table` as a document, as the loader does (spans need one).
    fn read<T: DeserializeOwned>(table: &Table) -> Result<T, String> {
        toml::from_str(&toml::to_string(table).map_err(|e| e.to_string())?).map_err(|e| e.message().to_owned())
    }

    /// The keys serde knows for `T`, from its complaint about one it does not.
    fn serde_keys<T: DeserializeOwned>(table: &Table) -> Vec<String> {
        let mut table = table.clone();
        table.insert("zz_not_a_key".into(), Value::Integer(0));
        let message = read::<T>(&table).err().unwrap_or_default();
        backticked(&message).into_iter().filter(|k| k != "zz_not_a_key").collect()
    }

    fn backticked(message: &str) -> Vec<String> {
        message.split('`').skip(1).step_by(2).map(str::to_owned).collect()
    }

    /// Serde reads a table with every key of `fields`, and knows no other key.
    fn in_sync<T: DeserializeOwned>(name: &str, fields: &[Field], tag: Option<(&str, &str)>) {
        let mut table = full(fields);
        if let Some((tag, variant)) = tag {
            table.insert(tag.to_owned(), Value::String(variant.into()));
        }
        if let Err(err) = read::<T>(&table) {
            panic!("{name}: serde refuses a table with every key of the shape: {err}");
        }
        let mut theirs = serde_keys::<T>(&table);
        theirs.retain(|k| Some(k.as_str()) != tag.map(|(t, _)| t));
        let ours: Vec<&str> = fields.iter().map(|f| f.key).collect();
        for key in &theirs {
            assert!(ours.contains(&key.as_str()), "{name}: serde knows `{key}`; add it to the shape in shape.rs");
        }
        if fields.is_empty() {
            return;
        }
        for key in &ours {
            assert!(theirs.iter().any(|k| k == key), "{name}: serde does not know `{key}`, the shape does");
        }
        for field in fields {
            let mut without = table.clone();
            without.remove(field.key);
            match (field.required, read::<T>(&without)) {
                (true, Ok(_)) => panic!("{name}: `{}` has a default in serde, not in the shape", field.key),
                (false, Err(err)) => panic!("{name}: `{}` is optional in the shape, not in serde: {err}", field.key),
                _ => {}
            }
        }
    }

    /// Every variant of a tagged enum is in the shape, with its keys.
    fn variants_in_sync<T: DeserializeOwned>(name: &str, tag: &str, variants: &[(&str, &[Field])]) {
        let unknown = Table::from_iter([(tag.to_owned(), Value::String("zz_not_a_variant".into()))]);
        let theirs: Vec<String> =
            backticked(&read::<T>(&unknown).err().unwrap_or_default()).into_iter().skip(1).collect();
        let ours: Vec<&str> = variants.iter().map(|(v, _)| *v).collect();
        assert_eq!(theirs, ours, "{name}: the variants of the shape and of serde differ");
        for (variant, fields) in variants {
            in_sync::<T>(&format!("{name} {variant}"), fields, Some((tag, variant)));
        }
    }

    #[test]
    fn shapes_match_serde() {
        in_sync::<Scenario>("Scenario", SCENARIO, None);
        in_sync::<Directory>("Directory", DIRECTORY, None);
        in_sync::<User>("User", USER, None);
        in_sync::<User<String>>("User<String>", USER, None);
        in_sync::<Group>("Group", GROUP, None);
        in_sync::<Generated>("Generated", GENERATED, None);
        in_sync::<Entra>("Entra", ENTRA, None);
        in_sync::<Engine>("Engine", ENGINE, None);
        in_sync::<Aws>("Aws", AWS, None);
        in_sync::<AwsUser>("AwsUser", AWS_USER, None);
        in_sync::<AwsGroup>("AwsGroup", AWS_GROUP, None);
        in_sync::<FaultRule>("FaultRule", FAULT, None);
        in_sync::<Nth>("Nth", NTH, None);
        in_sync::<TimeWindow>("TimeWindow", WINDOW, None);
        variants_in_sync::<FaultAction>("FaultAction", "kind", FAULT_ACTIONS);
        in_sync::<AwsRequest>("AwsRequest", AWS_REQUEST, None);
        in_sync::<Expectation>("Expectation", EXPECTATION, None);
        in_sync::<LogExpectation>("LogExpectation", LOG, None);
        in_sync::<JobExpectation>("JobExpectation", JOB, None);
        in_sync::<RequestExpectation>("RequestExpectation", REQUEST, None);
        in_sync::<MappingEdit>("MappingEdit", MAPPING_EDIT, None);
        in_sync::<ScopingFilter>("ScopingFilter", SCOPING_FILTER, None);
        in_sync::<ScopingClause>("ScopingClause", SCOPING_CLAUSE, None);
        // `create_user` flattens `User<String>`, whose keys are checked above: serde's complaint about
        // an unknown key in a flattened variant lists none.
        let steps: Vec<_> = STEPS.iter().filter(|(v, _)| *v != "create_user").copied().collect();
        let unknown = Table::from_iter([("action".to_owned(), Value::String("zz_not_a_variant".into()))]);
        let theirs: Vec<String> =
            backticked(&read::<Step>(&unknown).err().unwrap_or_default()).into_iter().skip(1).collect();
        assert_eq!(theirs, STEPS.iter().map(|(v, _)| *v).collect::<Vec<_>>(), "Step: the actions differ");
        for (variant, fields) in steps {
            in_sync::<Step>(&format!("Step {variant}"), fields, Some(("action", variant)));
        }
    }

    fn problems(text: &str) -> Vec<String> {
        match Scenario::parse("x.toml", text) {
            Ok(_) => Vec::new(),
            Err(err) => err.problems.iter().map(Problem::to_string).collect(),
        }
    }

    #[test]
    fn a_wrong_type_names_what_was_expected_and_what_was_found() {
        assert_eq!(
            problems("name = \"x\"\n[[steps]]\naction = \"advance\"\nby = 40\n"),
            ["x.toml:4: steps[0].by: expected an ISO-8601 duration such as \"PT40M\", found integer 40"]
        );
        assert_eq!(
            problems("name = \"x\"\n[[faults]]\naction = { kind = \"status\", status = 70000 }\n"),
            ["x.toml:3: faults[0].action.status: expected an integer from 0 to 65535, found integer 70000"]
        );
        assert_eq!(
            problems("name = \"x\"\n[[steps]]\naction = \"test_connection\"\nexpect = \"sucess\"\n"),
            [
                "x.toml:4: steps[0].expect: expected `success` or `failure`, found string \"sucess\"; did you mean 'success'?"
            ]
        );
    }

    #[test]
    fn a_misspelt_required_key_is_one_problem() {
        assert_eq!(
            problems("name = \"x\"\n[[directory.users]]\nupm = \"a@b\"\n"),
            ["x.toml:3: directory.users[0].upm: unknown key; did you mean 'upn'?"]
        );
        assert_eq!(
            problems("name = \"x\"\n[[directory.users]]\ngiven_name = \"A\"\n"),
            ["x.toml:2: directory.users[0].upn: is required"]
        );
    }

    #[test]
    fn keys_of_a_step_without_keys_and_unknown_actions_are_refused() {
        assert_eq!(
            problems("name = \"x\"\n[[steps]]\naction = \"start\"\nnow = true\n"),
            ["x.toml:4: steps[0].now: unknown key for action 'start', which takes no keys"]
        );
        assert_eq!(
            problems("name = \"x\"\n[[steps]]\naction = \"advanse\"\n"),
            ["x.toml:3: steps[0].action: unknown action 'advanse'; did you mean 'advance'?"]
        );
        assert_eq!(problems("name = \"x\"\n[[steps]]\nby = \"PT1M\"\n").len(), 1);
    }

    #[test]
    fn a_bare_toml_datetime_is_asked_for_as_a_string() {
        assert_eq!(
            problems("name = \"x\"\nstart = 2026-01-01T06:00:00Z\n"),
            ["x.toml:2: start: write the timestamp as a string: \"2026-01-01T06:00:00Z\""]
        );
    }

    #[test]
    fn keys_the_file_chooses_are_quoted_in_paths() {
        assert_eq!(
            problems("name = \"x\"\n[[steps]]\naction = \"expect\"\naws_groups = { \"Platform Team\" = [1] }\n"),
            ["x.toml:4: steps[0].aws_groups.\"Platform Team\"[0]: expected a string, found integer 1"]
        );
    }
}
