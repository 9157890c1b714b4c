//! AWS's attribute rules: required attributes, lengths, character sets, single-valued lists,
//! reserved names (aws-scim.md §2.1–§2.4, §3.1, §6.2).
//!
//! Failures are reported the way AWS logs them, `N validation errors detected: Value at 'path'
//! failed to satisfy constraint: …`, and sent in `detail` only in the `specific` error mode.

use std::sync::LazyLock;

use axum::http::StatusCode;
use regex::Regex;

use crate::error::ScimError;
use crate::model::{ENTERPRISE_URN, GROUP_URN, GroupInput, USER_URN, UserInput};
use crate::switches::{Charset, Switches};

/// `UserName` and `ExternalIdIdentifier`: no whitespace at all (botocore identitystore model, §2.3).
static NO_SPACE: LazyLock<Regex> = LazyLock::new(|| regex(r"^[\p{L}\p{M}\p{S}\p{N}\p{P}]+$"));
/// `SensitiveStringType`: also tab, CR, LF, space, no-break and ideographic space (§2.3).
static SENSITIVE: LazyLock<Regex> = LazyLock::new(|| regex(r"^[\p{L}\p{M}\p{S}\p{N}\p{P}\t\n\r \x{00a0}\x{3000}]+$"));
/// `GroupDisplayName`: as sensitive strings, without the ideographic space (§2.3).
static GROUP_NAME: LazyLock<Regex> = LazyLock::new(|| regex(r"^[\p{L}\p{M}\p{S}\p{N}\p{P}\t\n\r \x{00a0}]+$"));

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|err| panic!("built-in pattern {pattern} does not compile: {err}"))
}

/// The patterns as AWS prints them in its messages (troubleshooting.html, CloudTrail doc).
const NO_SPACE_TEXT: &str = r"[\p{L}\p{M}\p{S}\p{N}\p{P}]+";
const SENSITIVE_TEXT: &str = r"[\p{L}\p{M}\p{S}\p{N}\p{P}\t\n\r ]+";

/// Characters older service versions refused in user names and display names (§2.3, legacy).
const LEGACY_FORBIDDEN: &[char] = &['<', '>', ';', ':', '%'];
/// Names reserved for users and groups (botocore `CreateUserRequest.UserName`, §6.2).
const RESERVED_NAMES: &[&str] = &["Administrator", "AWSAdministrators"];

#[derive(Clone, Copy)]
enum Kind {
    /// userName: 1..=128, no whitespace.
    UserName,
    /// externalId: 1..=256, no whitespace.
    ExternalId,
    /// Any other string attribute: 1..=1024.
    Sensitive,
    /// Sensitive, and subject to the legacy `<>;:%` rule.
    DisplayName,
    /// Group displayName: 1..=1024.
    GroupName,
}

/// Collects constraint violations in AWS's wording.
struct Violations<'a> {
    charset: Charset,
    found: Vec<String>,
    _switches: &'a Switches,
}

impl<'a> Violations<'a> {
    fn new(switches: &'a Switches) -> Self {
        Violations { charset: switches.charset, found: Vec::new(), _switches: switches }
    }

    fn push(&mut self, path: &str, constraint: impl std::fmt::Display) {
        self.found.push(format!("Value at '{path}' failed to satisfy constraint: {constraint}"));
    }

    /// A required value: missing counts as empty, as AWS reports it (troubleshooting.html).
    fn required(&mut self, path: &str, value: Option<&str>, kind: Kind) {
        self.check(path, value.unwrap_or(""), kind);
    }

    fn optional(&mut self, path: &str, value: Option<&str>, kind: Kind) {
        if let Some(value) = value {
            self.check(path, value, kind);
        }
    }

    fn check(&mut self, path: &str, value: &str, kind: Kind) {
        let (pattern, text, max) = match kind {
            Kind::UserName => (&*NO_SPACE, NO_SPACE_TEXT, 128),
            Kind::ExternalId => (&*NO_SPACE, NO_SPACE_TEXT, 256),
            Kind::Sensitive | Kind::DisplayName => (&*SENSITIVE, SENSITIVE_TEXT, 1024),
            Kind::GroupName => (&*GROUP_NAME, SENSITIVE_TEXT, 1024),
        };
        let legacy = self.charset == Charset::Legacy;
        let legacy_bad = legacy
            && (value.contains(['\t', '\n', '\r'])
                || (matches!(kind, Kind::UserName | Kind::DisplayName | Kind::GroupName)
                    && value.contains(LEGACY_FORBIDDEN)));
        // Every graphic ASCII character is a letter, digit, punctuation or symbol, so an ASCII value
        // (the usual case) is decided without the regex; anything else still goes through it.
        let spaces_allowed = !matches!(kind, Kind::UserName | Kind::ExternalId);
        let plain_ascii = !value.is_empty()
            && value
                .bytes()
                .all(|b| b.is_ascii_graphic() || (spaces_allowed && matches!(b, b' ' | b'\t' | b'\n' | b'\r')));
        if !(plain_ascii || pattern.is_match(value)) || legacy_bad {
            self.push(path, format_args!("Member must satisfy regular expression pattern: {text}"));
        }
        let length = value.chars().count();
        if length < 1 {
            self.push(path, "Member must have length greater than or equal to 1");
        }
        if length > max {
            self.push(path, format_args!("Member must have length less than or equal to {max}"));
        }
    }

    fn finish(self) -> Result<(), ScimError> {
        if self.found.is_empty() {
            Ok(())
        } else {
            // AWS writes "1 validation errors detected" too (CloudTrail doc).
            Err(ScimError::validation(format!(
                "{} validation errors detected: {}",
                self.found.len(),
                self.found.join("; ")
            )))
        }
    }
}

/// Refuses a list attribute with more than one value (createuser.html; message from the
/// troubleshooting page, `addresses` wording as captured in the CloudTrail doc).
fn single_valued<T>(name: &str, list: Option<&Vec<T>>) -> Result<(), ScimError> {
    match list {
        Some(list) if list.len() > 1 => Err(ScimError::validation(if name == "addresses" {
            "List attribute addresses allowed limit of 1".to_owned()
        } else {
            format!("List attribute {name} exceeds allowed limit of 1")
        })),
        _ => Ok(()),
    }
}

fn check_schemas(schemas: Option<&Vec<String>>, allowed: &[&str]) -> Result<(), ScimError> {
    for schema in schemas.into_iter().flatten() {
        if !allowed.contains(&schema.as_str()) {
            return Err(ScimError::validation(format!("Unknown schema: {schema}")));
        }
    }
    Ok(())
}

/// Refuses `Administrator` and `AWSAdministrators` (§6.2; status and wording inferred, switchable).
fn reserved(name: Option<&str>, attribute: &str, switches: &Switches) -> Result<(), ScimError> {
    let Some(name) = name else { return Ok(()) };
    let hit = RESERVED_NAMES.iter().any(|reserved| {
        if switches.reserved_names_case_insensitive { reserved.eq_ignore_ascii_case(name) } else { *reserved == name }
    });
    if !hit {
        return Ok(());
    }
    if switches.reserved_name_status == StatusCode::CONFLICT.as_u16() {
        return Err(ScimError::duplicate());
    }
    Err(ScimError::validation(format!(
        "Value at '{attribute}' failed to satisfy constraint: Administrator and AWSAdministrators are reserved names and can't be used for users or groups"
    )))
}

/// Checks a user for create, PUT, or after a PATCH. `require_primary_email` is false after PATCH,
/// where Entra adds `emails[type eq "work"]` entries without `primary` (aws-scim.md §2.6).
pub fn user(input: &UserInput, switches: &Switches, require_primary_email: bool) -> Result<(), ScimError> {
    check_schemas(input.schemas.as_ref(), &[USER_URN, ENTERPRISE_URN])?;
    // List limits first: AWS answers them with their own message (§2.4).
    single_valued("emails", input.emails.as_ref())?;
    single_valued("addresses", input.addresses.as_ref())?;
    single_valued("phoneNumbers", input.phone_numbers.as_ref())?;
    single_valued("roles", input.roles.as_ref())?;

    let mut v = Violations::new(switches);
    v.required("userName", input.user_name.as_deref(), Kind::UserName);
    v.required("displayName", input.display_name.as_deref(), Kind::DisplayName);
    let name = input.name.clone().unwrap_or_default();
    v.required("name.givenName", name.given_name.as_deref(), Kind::Sensitive);
    v.required("name.familyName", name.family_name.as_deref(), Kind::Sensitive);
    for (path, value) in [
        ("name.formatted", &name.formatted),
        ("name.middleName", &name.middle_name),
        ("name.honorificPrefix", &name.honorific_prefix),
        ("name.honorificSuffix", &name.honorific_suffix),
        ("nickName", &input.nick_name),
        ("profileUrl", &input.profile_url),
        ("title", &input.title),
        ("userType", &input.user_type),
        ("preferredLanguage", &input.preferred_language),
        ("locale", &input.locale),
        ("timezone", &input.timezone),
    ] {
        v.optional(path, value.as_deref(), Kind::Sensitive);
    }
    v.optional("externalId", input.external_id.as_deref(), Kind::ExternalId);
    for email in input.emails.iter().flatten() {
        v.required("emails.value", email.value.as_deref(), Kind::Sensitive);
        v.optional("emails.type", email.kind.as_deref(), Kind::Sensitive);
    }
    for phone in input.phone_numbers.iter().flatten() {
        v.required("phoneNumbers.value", phone.value.as_deref(), Kind::Sensitive);
        v.optional("phoneNumbers.type", phone.kind.as_deref(), Kind::Sensitive);
    }
    for address in input.addresses.iter().flatten() {
        for (path, value) in [
            ("addresses.formatted", &address.formatted),
            ("addresses.streetAddress", &address.street_address),
            ("addresses.locality", &address.locality),
            ("addresses.region", &address.region),
            ("addresses.postalCode", &address.postal_code),
            ("addresses.country", &address.country),
            ("addresses.type", &address.kind),
        ] {
            v.optional(path, value.as_deref(), Kind::Sensitive);
        }
    }
    for role in input.roles.iter().flatten() {
        v.optional("roles.value", role.value.as_deref(), Kind::Sensitive);
        v.optional("roles.type", role.kind.as_deref(), Kind::Sensitive);
    }
    if let Some(enterprise) = &input.enterprise {
        for (path, value) in [
            ("employeeNumber", &enterprise.employee_number),
            ("costCenter", &enterprise.cost_center),
            ("organization", &enterprise.organization),
            ("division", &enterprise.division),
            ("department", &enterprise.department),
        ] {
            v.optional(&format!("{ENTERPRISE_URN}.{path}"), value.as_deref(), Kind::Sensitive);
        }
        if let Some(manager) = &enterprise.manager {
            v.required(&format!("{ENTERPRISE_URN}.manager.value"), manager.value.as_deref(), Kind::Sensitive);
        }
    }
    v.finish()?;

    match &input.emails {
        Some(emails) if emails.is_empty() && !switches.accept_empty_emails => {
            return Err(ScimError::validation("List attribute emails must contain exactly one item"));
        }
        // "The emails attribute value must be marked as primary." (createuser.html)
        Some(emails) if require_primary_email && emails.iter().any(|e| e.primary != Some(true)) => {
            return Err(ScimError::validation("The emails attribute value must be marked as primary."));
        }
        _ => {}
    }
    reserved(input.user_name.as_deref(), "userName", switches)
}

/// Checks a group for create or PUT: displayName required, at most 100 members (creategroup.html).
pub fn group(input: &GroupInput, switches: &Switches) -> Result<(), ScimError> {
    check_schemas(input.schemas.as_ref(), &[GROUP_URN])?;
    group_attributes(input.display_name.as_deref(), input.external_id.as_deref(), switches)?;
    if input.members.as_ref().is_some_and(|m| m.len() > MAX_MEMBER_CHANGES) {
        return Err(ScimError::validation(format!(
            "Value at 'members' failed to satisfy constraint: Member must have length less than or equal to {MAX_MEMBER_CHANGES}"
        )));
    }
    Ok(())
}

/// Checks a group's own attributes (also after a PATCH).
pub fn group_attributes(
    display_name: Option<&str>,
    external_id: Option<&str>,
    switches: &Switches,
) -> Result<(), ScimError> {
    let mut v = Violations::new(switches);
    v.required("displayName", display_name, Kind::GroupName);
    v.optional("externalId", external_id, Kind::ExternalId);
    v.finish()?;
    reserved(display_name, "displayName", switches)
}

/// At most 100 members on CreateGroup and 100 membership changes per PatchGroup (aws-scim.md §3.1, §3.3).
pub const MAX_MEMBER_CHANGES: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::switches::ErrorDetailMode;

    fn input(json: &str) -> UserInput {
        serde_json::from_str(json).unwrap()
    }

    fn specific(err: ScimError) -> String {
        err.detail_text(ErrorDetailMode::Specific).to_owned()
    }

    const ANNIE: &str = r#"{"userName":"annie@contoso.com","displayName":"Annie","name":{"givenName":"Annie","familyName":"Easley"},"emails":[{"value":"annie@contoso.com","type":"work","primary":true}]}"#;

    #[test]
    fn a_complete_user_passes() {
        user(&input(ANNIE), &Switches::default(), true).unwrap();
    }

    #[test]
    fn a_missing_given_name_reads_as_aws_troubleshooting_page_shows() {
        let err =
            user(&input(r#"{"userName":"a","displayName":"A","name":{"familyName":"B"}}"#), &Switches::default(), true)
                .unwrap_err();
        assert_eq!(
            specific(err),
            r"2 validation errors detected: Value at 'name.givenName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\p{L}\p{M}\p{S}\p{N}\p{P}\t\n\r ]+; Value at 'name.givenName' failed to satisfy constraint: Member must have length greater than or equal to 1"
        );
    }

    #[test]
    fn user_names_refuse_whitespace_and_more_than_128_characters() {
        let switches = Switches::default();
        let spaced = input(&ANNIE.replace("\"annie@contoso.com\",\"displayName", "\"annie contoso\",\"displayName"));
        assert!(specific(user(&spaced, &switches, true).unwrap_err()).contains("'userName'"));
        let long = "a".repeat(129);
        let long = input(&ANNIE.replace("\"annie@contoso.com\",\"displayName", &format!("\"{long}\",\"displayName")));
        assert!(specific(user(&long, &switches, true).unwrap_err()).contains("less than or equal to 128"));
    }

    #[test]
    fn legacy_charset_refuses_what_current_rules_accept() {
        let body = ANNIE.replace("\"displayName\":\"Annie\"", "\"displayName\":\"Annie <ops>\"");
        user(&input(&body), &Switches::default(), true).unwrap();
        let legacy = Switches { charset: Charset::Legacy, ..Switches::default() };
        assert!(user(&input(&body), &legacy, true).is_err());
    }

    #[test]
    fn a_second_email_is_refused_with_aws_message() {
        let body = ANNIE.replace("}]}", r#"},{"value":"b@contoso.com","type":"home"}]}"#);
        assert_eq!(
            specific(user(&input(&body), &Switches::default(), true).unwrap_err()),
            "List attribute emails exceeds allowed limit of 1"
        );
    }

    #[test]
    fn reserved_names_are_refused_for_users_and_groups() {
        let body = ANNIE.replace("annie@contoso.com\",\"displayName", "Administrator\",\"displayName");
        let err = user(&input(&body), &Switches::default(), true).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        let err = group_attributes(Some("AWSAdministrators"), None, &Switches::default()).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        group_attributes(Some("administrator"), None, &Switches::default()).unwrap();
        let loose =
            Switches { reserved_names_case_insensitive: true, reserved_name_status: 409, ..Switches::default() };
        assert_eq!(group_attributes(Some("administrator"), None, &loose).unwrap_err().status, StatusCode::CONFLICT);
        group_attributes(Some("SRE"), None, &Switches::default()).unwrap();
    }

    #[test]
    fn an_email_not_marked_primary_is_refused_on_create() {
        let body = ANNIE.replace(",\"primary\":true", "");
        assert!(user(&input(&body), &Switches::default(), true).is_err());
        user(&input(&body), &Switches::default(), false).unwrap();
    }
}
