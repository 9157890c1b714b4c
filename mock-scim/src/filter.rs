//! AWS's filter dialect: `attr eq "value"`, optionally `and` a second one, on a short list of
//! attributes (aws-scim.md §4.1). Everything else is `Invalid Filter format`.

use crate::error::ScimError;

/// A parsed user filter, one variant per combination AWS supports (listusers.html).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserQuery {
    /// No filter.
    All,
    /// `userName eq "…"`.
    UserName(String),
    /// `externalId eq "…"`.
    ExternalId(String),
    /// `id eq "…"`: valid though discouraged.
    Id(String),
    /// `id eq "…" and manager eq "…"`, in either order.
    IdAndManager {
        /// The user id.
        id: String,
        /// The manager's id.
        manager: String,
    },
    /// `groups.value eq "<groupId>"`: the members of a group (current list API only).
    GroupsValue(String),
}

/// A parsed group filter (listgroups.html).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupQuery {
    /// No filter.
    All,
    /// `displayName eq "…"`.
    DisplayName(String),
    /// `externalId eq "…"`.
    ExternalId(String),
    /// `id eq "…"`.
    Id(String),
    /// `members.value eq "<userId>"`: the groups of a user (current list API only).
    MembersValue(String),
    /// `id eq "…" and members eq "…"` (or `member`), in either order: the group if the user is in it.
    IdAndMember {
        /// The group id.
        id: String,
        /// The user id.
        member: String,
    },
}

/// `attr eq "value"`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Comparison {
    attribute: String,
    value: String,
}

/// The longest filter read, in bytes. Inferred: AWS documents none; two comparisons of values up to
/// 1024 characters (`SensitiveStringType`, aws-scim.md §2.3) with their escapes fit.
pub const MAX_FILTER_LENGTH: usize = 4096;
/// The most comparisons a filter may join with `and`: AWS's filters have one or two (listusers.html,
/// listgroups.html), so the third is refused before it is read.
pub const MAX_FILTER_TERMS: usize = 2;

fn invalid() -> ScimError {
    // CloudTrail's message for a malformed filter (aws-scim.md §2.1, §4.1).
    ScimError::validation("Invalid Filter format")
}

/// Splits `a eq "x" and b eq "y"` into comparisons; only `eq` and `and` exist (limitations.html).
/// A loop, not recursion, bounded by [`MAX_FILTER_LENGTH`] and [`MAX_FILTER_TERMS`].
fn comparisons(filter: &str) -> Result<Vec<Comparison>, ScimError> {
    if filter.len() > MAX_FILTER_LENGTH {
        return Err(invalid());
    }
    let mut rest = filter.trim();
    let mut found = Vec::new();
    loop {
        let (attribute, after) = rest.split_once(char::is_whitespace).ok_or_else(invalid)?;
        let after = after.trim_start();
        let (operator, after) = after.split_once(char::is_whitespace).ok_or_else(invalid)?;
        if !operator.eq_ignore_ascii_case("eq") || !is_attribute(attribute) {
            return Err(invalid());
        }
        let (value, after) = quoted(after.trim_start())?;
        found.push(Comparison { attribute: attribute.to_owned(), value });
        let after = after.trim_start();
        if after.is_empty() {
            break;
        }
        let (conjunction, after) = after.split_once(char::is_whitespace).ok_or_else(invalid)?;
        if !conjunction.eq_ignore_ascii_case("and") || found.len() >= MAX_FILTER_TERMS {
            return Err(invalid());
        }
        rest = after.trim_start();
    }
    Ok(found)
}

fn is_attribute(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
}

/// A double-quoted string with `\"` and `\\` escapes; returns the value and what follows.
fn quoted(s: &str) -> Result<(String, &str), ScimError> {
    let body = s.strip_prefix('"').ok_or_else(invalid)?;
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &body[i + 1..])),
            '\\' => match chars.next() {
                Some((_, escaped @ ('"' | '\\'))) => value.push(escaped),
                _ => return Err(invalid()),
            },
            c => value.push(c),
        }
    }
    Err(invalid())
}

/// Which attribute a comparison names, case-insensitively.
fn named<'a>(c: &'a Comparison, names: &[&str]) -> Option<&'a str> {
    names.iter().any(|n| c.attribute.eq_ignore_ascii_case(n)).then_some(c.value.as_str())
}

/// Parses a `GET /Users` filter. `member_filters` is false under the legacy list API, which had no
/// `groups.value` (aws-scim.md §0).
pub fn user_query(filter: Option<&str>, member_filters: bool) -> Result<UserQuery, ScimError> {
    let Some(filter) = filter else { return Ok(UserQuery::All) };
    let parts = comparisons(filter)?;
    let query = match parts.as_slice() {
        [one] => {
            if let Some(v) = named(one, &["userName"]) {
                UserQuery::UserName(v.to_owned())
            } else if let Some(v) = named(one, &["externalId"]) {
                UserQuery::ExternalId(v.to_owned())
            } else if let Some(v) = named(one, &["id"]) {
                UserQuery::Id(v.to_owned())
            } else if let (Some(v), true) = (named(one, &["groups.value"]), member_filters) {
                UserQuery::GroupsValue(v.to_owned())
            } else {
                return Err(invalid());
            }
        }
        [a, b] => match (named(a, &["id"]), named(b, &["manager"]), named(b, &["id"]), named(a, &["manager"])) {
            (Some(id), Some(manager), _, _) | (_, _, Some(id), Some(manager)) => {
                UserQuery::IdAndManager { id: id.to_owned(), manager: manager.to_owned() }
            }
            _ => return Err(invalid()),
        },
        _ => return Err(invalid()),
    };
    // `members eq ""`-style empty values are refused (idp-scim-sync#75, aws-scim.md §4.1).
    if parts.iter().any(|p| p.value.is_empty()) {
        return Err(ScimError::generic());
    }
    Ok(query)
}

/// Parses a `GET /Groups` filter.
pub fn group_query(filter: Option<&str>, member_filters: bool) -> Result<GroupQuery, ScimError> {
    let Some(filter) = filter else { return Ok(GroupQuery::All) };
    let parts = comparisons(filter)?;
    let members = ["members", "member"];
    let query = match parts.as_slice() {
        [one] => {
            if let Some(v) = named(one, &["displayName"]) {
                GroupQuery::DisplayName(v.to_owned())
            } else if let Some(v) = named(one, &["externalId"]) {
                GroupQuery::ExternalId(v.to_owned())
            } else if let Some(v) = named(one, &["id"]) {
                GroupQuery::Id(v.to_owned())
            } else if let (Some(v), true) = (named(one, &["members.value"]), member_filters) {
                GroupQuery::MembersValue(v.to_owned())
            } else {
                return Err(invalid());
            }
        }
        // "Both group id and members are interchangeable in order." (listgroups.html)
        [a, b] => match (named(a, &["id"]), named(b, &members), named(b, &["id"]), named(a, &members)) {
            (Some(id), Some(member), _, _) | (_, _, Some(id), Some(member)) => {
                GroupQuery::IdAndMember { id: id.to_owned(), member: member.to_owned() }
            }
            _ => return Err(invalid()),
        },
        _ => return Err(invalid()),
    };
    if parts.iter().any(|p| p.value.is_empty()) {
        return Err(ScimError::generic());
    }
    Ok(query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_user_filters_parse() {
        assert_eq!(
            user_query(Some(r#"userName eq "annie@contoso.com""#), true).unwrap(),
            UserQuery::UserName("annie@contoso.com".into())
        );
        assert_eq!(user_query(Some(r#"USERNAME EQ "a""#), true).unwrap(), UserQuery::UserName("a".into()));
        assert_eq!(user_query(Some(r#"externalId eq "e1""#), true).unwrap(), UserQuery::ExternalId("e1".into()));
        assert_eq!(
            user_query(Some(r#"manager eq "m" and id eq "u""#), true).unwrap(),
            UserQuery::IdAndManager { id: "u".into(), manager: "m".into() }
        );
        assert_eq!(user_query(Some(r#"groups.value eq "g""#), true).unwrap(), UserQuery::GroupsValue("g".into()));
        assert_eq!(user_query(None, true).unwrap(), UserQuery::All);
    }

    #[test]
    fn supported_group_filters_parse_in_either_order() {
        assert_eq!(group_query(Some(r#"displayName eq "SRE""#), true).unwrap(), GroupQuery::DisplayName("SRE".into()));
        let expected = GroupQuery::IdAndMember { id: "g".into(), member: "u".into() };
        assert_eq!(group_query(Some(r#"id eq "g" and members eq "u""#), true).unwrap(), expected);
        assert_eq!(group_query(Some(r#"member eq "u" and id eq "g""#), true).unwrap(), expected);
        assert_eq!(group_query(Some(r#"members.value eq "u""#), true).unwrap(), GroupQuery::MembersValue("u".into()));
    }

    #[test]
    fn quoted_values_keep_escaped_quotes() {
        assert_eq!(user_query(Some(r#"userName eq "a\"b\\c""#), true).unwrap(), UserQuery::UserName(r#"a"b\c"#.into()));
    }

    #[test]
    fn everything_else_is_refused() {
        for filter in [
            r#"userName ne "a""#,
            r#"userName co "a""#,
            r#"userName sw "a""#,
            r#"userName pr"#,
            r#"userName eq "a" or userName eq "b""#,
            r#"(userName eq "a")"#,
            r#"userName eq a"#,
            r#"userName eq "a"#,
            r#"displayName eq "a""#,
            r#"emails.value eq "a""#,
            r#"userName eq "a" and externalId eq "b""#,
            r#"id eq "a" and manager eq "b" and id eq "c""#,
            r#"userName eq "x" or "1" eq "1""#,
            r#"userName eq "x"; DROP TABLE users"#,
            "",
        ] {
            assert!(user_query(Some(filter), true).is_err(), "{filter}");
        }
        assert!(group_query(Some(r#"id eq "g" and members eq """#), true).is_err());
        assert!(group_query(Some(r#"members.value eq "u""#), false).is_err(), "legacy has no members.value");
        assert!(user_query(Some(r#"groups.value eq "g""#), false).is_err(), "legacy has no groups.value");
    }
}
