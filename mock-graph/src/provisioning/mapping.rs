//! Attribute mappings: evaluating a mapping's source (an attribute, a constant, or an expression such
//! as `Switch([IsSoftDeleted], , "False", "True", "True", "False")`) against an Entra object, and
//! placing the result at a SCIM path such as `emails[type eq "work"].value`
//! (entra-provisioning.md §3.2–§3.3). Reference attributes (`manager`) are not values of the object:
//! the cycle resolves them to the referenced object's target id once the users are exported (§4.2
//! step 6), with [`manager_operation`] and [`manager_check_filter`].

use serde_json::{Map, Value, json};

/// One attribute mapping of an object mapping, read from the job's schema.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeMapping {
    /// Where the value goes in the target, a SCIM path.
    pub target: String,
    /// Where it comes from.
    pub source: Source,
    /// Greater than zero for a matching attribute; the lowest is tried first.
    pub matching_priority: u32,
    /// `Always`, or `ObjectAddOnly` (only on create).
    pub add_only: bool,
    /// Used on create when the source is null.
    pub default_value: Option<String>,
}

/// A mapping's source.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// `[attribute]`.
    Attribute(String),
    /// A constant string.
    Constant(String),
    /// An expression.
    Expression(Expr),
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `[attribute]`
    Attribute(String),
    /// `"text"`
    Literal(String),
    /// An omitted argument, as in `Switch([IsSoftDeleted], , …)`.
    Empty,
    /// `Function(args…)`
    Call(String, Vec<Expr>),
}

/// How deep function calls may nest in one expression (inferred: Entra documents no limit; the
/// deepest real mappings nest three or four `Switch`/`IIF`/`Join` calls).
pub const MAX_EXPRESSION_DEPTH: usize = 32;

/// Why an expression does not parse. Positions count characters from 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpressionError {
    /// `[name` without `]`.
    #[error("unclosed [ at position {0}")]
    UnclosedAttribute(usize),
    /// `"text` without its closing quote.
    #[error("unclosed string at position {0}")]
    UnclosedString(usize),
    /// A name not followed by `(`.
    #[error("expected ( after {name} at position {at}")]
    ExpectedArguments {
        /// The function's name.
        name: String,
        /// Where `(` was expected.
        at: usize,
    },
    /// An argument not followed by `,` or `)`.
    #[error("expected , or ) in {name}(…) at position {at}")]
    ExpectedSeparator {
        /// The function's name.
        name: String,
        /// Where `,` or `)` was expected.
        at: usize,
    },
    /// A character no expression starts with.
    #[error("unexpected {found:?} at position {at}")]
    Unexpected {
        /// The character.
        found: char,
        /// Its position.
        at: usize,
    },
    /// Text after a whole expression.
    #[error("unexpected text after position {0}")]
    Trailing(usize),
    /// Calls nested deeper than [`MAX_EXPRESSION_DEPTH`].
    #[error("function calls nest deeper than {MAX_EXPRESSION_DEPTH} at position {0}")]
    TooDeep(usize),
}

/// Parses the expression language's subset the AWS mappings and common customisations use:
/// `Switch`, `Join`, `Not`, `Append`, `ToLower`, `ToUpper`, `Coalesce`, `IIF`.
pub fn parse_expression(text: &str) -> Result<Expr, ExpressionError> {
    let chars: Vec<char> = text.chars().collect();
    let mut at = 0;
    let expr = parse_arg(&chars, &mut at, 0)?;
    skip_spaces(&chars, &mut at);
    if at != chars.len() {
        return Err(ExpressionError::Trailing(at));
    }
    Ok(expr)
}

fn skip_spaces(chars: &[char], at: &mut usize) {
    while chars.get(*at).is_some_and(|c| c.is_whitespace()) {
        *at += 1;
    }
}

fn parse_arg(chars: &[char], at: &mut usize, depth: usize) -> Result<Expr, ExpressionError> {
    skip_spaces(chars, at);
    match chars.get(*at) {
        None | Some(',') | Some(')') => Ok(Expr::Empty),
        Some('[') => {
            let end = chars[*at..].iter().position(|c| *c == ']').ok_or(ExpressionError::UnclosedAttribute(*at))? + *at;
            let name: String = chars[*at + 1..end].iter().collect();
            *at = end + 1;
            Ok(Expr::Attribute(name))
        }
        Some('"') => {
            let mut value = String::new();
            let opened = *at;
            *at += 1;
            loop {
                match chars.get(*at) {
                    None => return Err(ExpressionError::UnclosedString(opened)),
                    Some('\\') if chars.get(*at + 1) == Some(&'"') => {
                        value.push('"');
                        *at += 2;
                    }
                    Some('"') => {
                        *at += 1;
                        break;
                    }
                    Some(c) => {
                        value.push(*c);
                        *at += 1;
                    }
                }
            }
            Ok(Expr::Literal(value))
        }
        Some(c) if c.is_ascii_alphabetic() => {
            let start = *at;
            while chars.get(*at).is_some_and(|c| c.is_ascii_alphanumeric()) {
                *at += 1;
            }
            let name: String = chars[start..*at].iter().collect();
            skip_spaces(chars, at);
            if chars.get(*at) != Some(&'(') {
                return Err(ExpressionError::ExpectedArguments { name, at: *at });
            }
            if depth >= MAX_EXPRESSION_DEPTH {
                return Err(ExpressionError::TooDeep(*at));
            }
            *at += 1;
            let mut args = Vec::new();
            loop {
                args.push(parse_arg(chars, at, depth + 1)?);
                skip_spaces(chars, at);
                match chars.get(*at) {
                    Some(',') => *at += 1,
                    Some(')') => {
                        *at += 1;
                        break;
                    }
                    _ => return Err(ExpressionError::ExpectedSeparator { name, at: *at }),
                }
            }
            if args == [Expr::Empty] {
                args.clear();
            }
            Ok(Expr::Call(name, args))
        }
        Some(c) => Err(ExpressionError::Unexpected { found: *c, at: *at }),
    }
}

/// An Entra object as the engine sees it: Graph's properties plus the computed `IsSoftDeleted`.
pub struct SourceObject<'a> {
    /// The Graph properties.
    pub properties: &'a Map<String, Value>,
    /// `IsSoftDeleted`: unassigned, out of scope, deleted or disabled (§3.3).
    pub soft_deleted: bool,
}

impl SourceObject<'_> {
    /// An attribute by its Entra (AAD connector) name, mapped onto Graph's property names.
    pub fn attribute(&self, name: &str) -> Option<String> {
        let graph = match name {
            "IsSoftDeleted" => return Some(if self.soft_deleted { "True" } else { "False" }.to_owned()),
            // B2B guests: `alias_theirdomain#EXT#@yourdomain` → `alias@theirdomain` (entra §2.5).
            "userPrincipalName" => {
                let upn = self.properties.get("userPrincipalName")?.as_str()?;
                return Some(match upn.split_once("#EXT#") {
                    Some((local, _)) => match local.rsplit_once('_') {
                        Some((alias, domain)) => format!("{alias}@{domain}"),
                        None => local.to_owned(),
                    },
                    None => upn.to_owned(),
                });
            }
            "objectId" => "id",
            "telephoneNumber" => return first_string(self.properties.get("businessPhones")),
            "physicalDeliveryOfficeName" => "officeLocation",
            "mobile" => "mobilePhone",
            "facsimileTelephoneNumber" => "faxNumber",
            "accountEnabled" => {
                return self
                    .properties
                    .get("accountEnabled")
                    .and_then(Value::as_bool)
                    .map(|b| if b { "True" } else { "False" }.to_owned());
            }
            other => other,
        };
        match self.properties.get(graph)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Bool(b) => Some(if *b { "True" } else { "False" }.to_owned()),
            Value::Number(n) => Some(n.to_string()),
            Value::Array(items) => first_string(Some(&Value::Array(items.clone()))),
            _ => None,
        }
    }
}

fn first_string(value: Option<&Value>) -> Option<String> {
    value?.as_array()?.iter().find_map(|v| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned))
}

/// Evaluates an expression; `None` is null (and a null is never sent, §3.3).
pub fn evaluate(expr: &Expr, object: &SourceObject<'_>) -> Option<String> {
    match expr {
        Expr::Attribute(name) => object.attribute(name),
        Expr::Literal(value) => Some(value.clone()),
        Expr::Empty => None,
        Expr::Call(name, args) => {
            let arg = |i: usize| args.get(i).and_then(|a| evaluate(a, object));
            match name.to_ascii_lowercase().as_str() {
                // Switch(source, default, key1, value1, key2, value2, …)
                "switch" => {
                    let source = arg(0);
                    let mut pairs = args.iter().skip(2).collect::<Vec<_>>().into_iter();
                    while let (Some(key), Some(value)) = (pairs.next(), pairs.next()) {
                        if evaluate(key, object) == source {
                            return evaluate(value, object);
                        }
                    }
                    arg(1)
                }
                "join" => {
                    let separator = arg(0).unwrap_or_default();
                    let parts: Vec<String> = (1..args.len()).filter_map(arg).collect();
                    (!parts.is_empty()).then(|| parts.join(&separator))
                }
                "not" => arg(0).map(|v| if v.eq_ignore_ascii_case("true") { "False" } else { "True" }.to_owned()),
                "append" => Some(format!("{}{}", arg(0)?, arg(1).unwrap_or_default())),
                "tolower" => arg(0).map(|v| v.to_lowercase()),
                "toupper" => arg(0).map(|v| v.to_uppercase()),
                "coalesce" => (0..args.len()).find_map(arg),
                "iif" => {
                    let condition = arg(0).is_some_and(|v| v.eq_ignore_ascii_case("true"));
                    if condition { arg(1) } else { arg(2) }
                }
                _ => None,
            }
        }
    }
}

/// Source attributes that name another object rather than hold a value: Entra links them in a
/// later update, with the referenced object's target id (entra-provisioning.md §4.2 step 6).
pub const REFERENCE_ATTRIBUTES: &[&str] = &["manager"];

impl AttributeMapping {
    /// The reference attribute this mapping reads straight (`[manager]`), if it is one.
    pub fn reference(&self) -> Option<&'static str> {
        match &self.source {
            Source::Attribute(name) => REFERENCE_ATTRIBUTES.iter().copied().find(|r| r.eq_ignore_ascii_case(name)),
            _ => None,
        }
    }

    /// The mapped value for an object.
    pub fn value(&self, object: &SourceObject<'_>) -> Option<String> {
        match &self.source {
            Source::Attribute(name) => object.attribute(name),
            Source::Constant(value) => Some(value.clone()),
            Source::Expression(expr) => evaluate(expr, object),
        }
    }
}

/// The PATCH operation that links a user to its manager: the enterprise `manager` as a complex
/// value with the manager's target id in `value`, which is how AWS holds it (`manager.value`,
/// aws-scim.md §2.2; its validation errors name `…:User.manager.value`, §2.1). Entra's generic SCIM
/// client sends `value` as a bare string (Captain-P-Goldfish/SCIM-SDK#686), which AWS's model (and
/// mock-scim) refuse; the AWS connector's exact form is not documented (inferred). `op` is `Add`, as
/// in the docs' manager example (entra-provisioning.md §4.5), in the target's dialect.
pub fn manager_operation(op: &str, path: &str, manager_target_id: &str) -> Value {
    json!({ "op": op, "path": path, "value": { "value": manager_target_id } })
}

/// The reference check Entra makes before linking a manager: whether the target already holds it,
/// `id eq "…" and manager eq "…"` (entra-provisioning.md §4.5 reference check query; AWS filters on
/// exactly `id and manager`, aws-scim.md §4.1).
pub fn manager_check_filter(user_target_id: &str, manager_target_id: &str) -> String {
    let quoted = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    format!("id eq {} and manager eq {}", quoted(user_target_id), quoted(manager_target_id))
}

/// Whether a SCIM target attribute holds a boolean.
fn is_boolean(path: &str) -> bool {
    path.eq_ignore_ascii_case("active")
}

/// Puts a value at a SCIM path in a resource being built for a POST: `a`, `a.b`,
/// `a[type eq "x"].b`, `urn:…:User:a`. Emails built this way are marked primary, as Entra's create
/// body shows (§4.5).
pub fn set_path(resource: &mut Map<String, Value>, path: &str, value: &str) {
    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let json_value = if is_boolean(path) { json!(value.eq_ignore_ascii_case("true")) } else { json!(value) };
    if let Some(rest) = path.strip_prefix(ENTERPRISE).and_then(|r| r.strip_prefix(':')) {
        let ext = resource.entry(ENTERPRISE).or_insert_with(|| json!({}));
        if let Some(ext) = ext.as_object_mut() {
            if rest == "manager" {
                ext.insert("manager".into(), json!({ "value": value }));
            } else {
                ext.insert(rest.to_owned(), json_value);
            }
        }
        return;
    }
    if let Some((attribute, rest)) = path.split_once('[') {
        let Some((filter, sub)) = rest.split_once(']') else { return };
        let sub = sub.trim_start_matches('.');
        let (filter_attr, filter_value) = match filter.split_once(" eq ") {
            Some((a, v)) => (a.trim(), v.trim().trim_matches('"')),
            None => return,
        };
        let list = resource.entry(attribute).or_insert_with(|| json!([]));
        let Some(list) = list.as_array_mut() else { return };
        let position = list.iter().position(|item| item.get(filter_attr).and_then(Value::as_str) == Some(filter_value));
        let index = match position {
            Some(index) => index,
            None => {
                let mut item = json!({ filter_attr: filter_value });
                if attribute == "emails" {
                    item["primary"] = json!(list.is_empty());
                }
                list.push(item);
                list.len() - 1
            }
        };
        if let Some(item) = list[index].as_object_mut() {
            item.insert(if sub.is_empty() { "value".into() } else { sub.to_owned() }, json_value);
        }
        return;
    }
    match path.split_once('.') {
        Some((attribute, sub)) => {
            let object = resource.entry(attribute).or_insert_with(|| json!({}));
            if let Some(object) = object.as_object_mut() {
                object.insert(sub.to_owned(), json_value);
            }
        }
        None => {
            resource.insert(path.to_owned(), json_value);
        }
    }
}

/// Reads a SCIM path from a target resource (for matching objects created elsewhere), as a string.
pub fn get_path(resource: &Value, path: &str) -> Option<String> {
    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let found = if let Some(rest) = path.strip_prefix(ENTERPRISE).and_then(|r| r.strip_prefix(':')) {
        let ext = resource.get(ENTERPRISE)?;
        if rest == "manager" { ext.get("manager")?.get("value")?.clone() } else { ext.get(rest)?.clone() }
    } else if let Some((attribute, rest)) = path.split_once('[') {
        let (filter, sub) = rest.split_once(']')?;
        let sub = sub.trim_start_matches('.');
        let (filter_attr, filter_value) = filter.split_once(" eq ")?;
        let (filter_attr, filter_value) = (filter_attr.trim(), filter_value.trim().trim_matches('"'));
        let item = resource.get(attribute)?.as_array()?.iter().find(|i| {
            i.get(filter_attr).and_then(Value::as_str).is_some_and(|v| v.eq_ignore_ascii_case(filter_value))
        })?;
        item.get(if sub.is_empty() { "value" } else { sub })?.clone()
    } else {
        match path.split_once('.') {
            Some((attribute, sub)) => resource.get(attribute)?.get(sub)?.clone(),
            None => resource.get(path)?.clone(),
        }
    };
    match found {
        Value::String(s) => Some(s),
        Value::Bool(b) => Some(if b { "True" } else { "False" }.to_owned()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(json: Value, soft_deleted: bool) -> (Map<String, Value>, bool) {
        (json.as_object().unwrap().clone(), soft_deleted)
    }

    #[test]
    fn the_active_switch_turns_soft_deletion_into_false() {
        let expr = parse_expression(r#"Switch([IsSoftDeleted], , "False", "True", "True", "False")"#).unwrap();
        let (props, _) = object(json!({}), false);
        assert_eq!(evaluate(&expr, &SourceObject { properties: &props, soft_deleted: false }).as_deref(), Some("True"));
        assert_eq!(evaluate(&expr, &SourceObject { properties: &props, soft_deleted: true }).as_deref(), Some("False"));
    }

    #[test]
    fn a_bad_expression_says_where_and_deep_nesting_is_refused_not_overflowed() {
        let deep = format!("{}[a]{}", "Not(".repeat(MAX_EXPRESSION_DEPTH), ")".repeat(MAX_EXPRESSION_DEPTH));
        assert!(parse_expression(&deep).is_ok(), "{MAX_EXPRESSION_DEPTH} nested calls parse");
        let deeper = format!("{}[a]{}", "Not(".repeat(10_000), ")".repeat(10_000));
        assert_eq!(parse_expression(&deeper), Err(ExpressionError::TooDeep(4 * MAX_EXPRESSION_DEPTH + 3)));
        let unclosed = parse_expression("Join(\" \", [a]").unwrap_err();
        assert_eq!(unclosed.to_string(), "expected , or ) in Join(…) at position 13");
        assert_eq!(parse_expression("[a] x"), Err(ExpressionError::Trailing(4)));
        assert_eq!(parse_expression("Not([a"), Err(ExpressionError::UnclosedAttribute(4)));
    }

    #[test]
    fn join_skips_missing_parts_and_null_stays_null() {
        let expr = parse_expression(r#"Join(" ", [givenName], [surname])"#).unwrap();
        let (props, _) = object(json!({"givenName": "Annie", "surname": null}), false);
        let source = SourceObject { properties: &props, soft_deleted: false };
        assert_eq!(evaluate(&expr, &source).as_deref(), Some("Annie"));
        let (empty, _) = object(json!({}), false);
        assert_eq!(evaluate(&expr, &SourceObject { properties: &empty, soft_deleted: false }), None);
    }

    #[test]
    fn the_manager_attribute_is_a_reference_and_no_value_of_the_user() {
        let mapping = AttributeMapping {
            target: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager".into(),
            source: Source::Attribute("manager".into()),
            matching_priority: 0,
            add_only: false,
            default_value: None,
        };
        assert_eq!(mapping.reference(), Some("manager"));
        let (props, _) = object(json!({"id": "u1", "displayName": "Annie"}), false);
        assert_eq!(mapping.value(&SourceObject { properties: &props, soft_deleted: false }), None);
        let department = AttributeMapping { source: Source::Attribute("department".into()), ..mapping };
        assert_eq!(department.reference(), None);
    }

    #[test]
    fn the_manager_is_linked_by_its_target_id_in_manager_value() {
        let path = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
        assert_eq!(
            manager_operation("Add", path, "aws-m"),
            json!({"op": "Add", "path": path, "value": {"value": "aws-m"}})
        );
        assert_eq!(manager_check_filter("aws-u", "aws-\"m"), r#"id eq "aws-u" and manager eq "aws-\"m""#);
        let mut user = Map::new();
        set_path(&mut user, path, "aws-m");
        let user = Value::Object(user);
        let extension = &user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
        assert_eq!(extension, &json!({"manager": {"value": "aws-m"}}));
        assert_eq!(get_path(&user, path).as_deref(), Some("aws-m"));
    }

    #[test]
    fn paths_build_and_read_scim_resources() {
        let mut user = Map::new();
        set_path(&mut user, "userName", "annie@contoso.com");
        set_path(&mut user, "active", "True");
        set_path(&mut user, "name.givenName", "Annie");
        set_path(&mut user, r#"emails[type eq "work"].value"#, "annie@contoso.com");
        set_path(&mut user, r#"addresses[type eq "work"].locality"#, "Paris");
        set_path(&mut user, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "Ops");
        let user = Value::Object(user);
        assert_eq!(user["active"], true);
        assert_eq!(user["emails"], json!([{"type": "work", "primary": true, "value": "annie@contoso.com"}]));
        assert_eq!(get_path(&user, r#"addresses[type eq "work"].locality"#).as_deref(), Some("Paris"));
        assert_eq!(get_path(&user, "name.givenName").as_deref(), Some("Annie"));
        assert_eq!(get_path(&user, "active").as_deref(), Some("True"));
        assert_eq!(
            get_path(&user, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department").as_deref(),
            Some("Ops")
        );
    }
}
