//! Behaviour switches: every point where AWS changed over time or the sources disagree.
//!
//! Defaults follow the current documented behaviour; where nothing documents it, the default is the
//! most plausible reading and the README's fidelity table marks it inferred.

use scenarios::serve::SwitchSet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// All switches of one mock. Serialized camelCase for the admin API; every field may be omitted in a
/// PATCH-style update (see [`SwitchesUpdate`]). The journal's `journalCapacity`, which both mocks
/// have, is the admin API's own (`scenarios::serve`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Switches {
    /// How `GET /Users` and `GET /Groups` page (aws-scim.md §4.2).
    pub list_api: ListApi,
    /// Whether validation failures carry AWS's generic `detail` or the specific message (§5.1).
    pub error_detail: ErrorDetailMode,
    /// Which character rules apply to names (§2.3).
    pub charset: Charset,
    /// Status for a reserved name, `Administrator` or `AWSAdministrators` (§6.2, inferred 400).
    pub reserved_name_status: u16,
    /// Whether reserved names match regardless of case (§6.2, inferred: exact match).
    pub reserved_names_case_insensitive: bool,
    /// Status for an unknown tenant segment: 404 observed in 2022, 401 documented (§1.2).
    pub unknown_tenant_status: u16,
    /// `active` when a create or PUT omits it (§2.5, inferred `false` from the doc examples).
    pub default_active: bool,
    /// What `PUT /Groups/{id}` does (§1.3, inferred: refused).
    pub group_put: GroupPut,
    /// Whether `userName` and `displayName` filters ignore case (§4 open question 4, inferred yes,
    /// as the schema says `caseExact: false`).
    pub filter_case_insensitive: bool,
    /// Whether a create or PUT with `"emails": []` is accepted (§2.4: a captured response holds it).
    pub accept_empty_emails: bool,
    /// Requests per tenant per second on the mock's clock before 429 (§5.3, unpublished); `None` is
    /// no limit.
    pub rate_limit_per_second: Option<u32>,
    /// Whether throttled answers carry `Retry-After` (§5.3, undocumented, inferred no).
    pub retry_after_seconds: Option<u64>,
}

impl Default for Switches {
    fn default() -> Self {
        Switches {
            list_api: ListApi::Cursor,
            error_detail: ErrorDetailMode::Generic,
            charset: Charset::Current,
            reserved_name_status: 400,
            reserved_names_case_insensitive: false,
            unknown_tenant_status: 404,
            default_active: false,
            group_put: GroupPut::Refuse,
            filter_case_insensitive: true,
            accept_empty_emails: true,
            rate_limit_per_second: None,
            retry_after_seconds: None,
        }
    }
}

/// Paging of list endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ListApi {
    /// Current: `?cursor`, `count` 1..100, `nextCursor`; `groups.value`/`members.value` filters.
    Cursor,
    /// Until 2025: at most 50 results, `totalResults` equal to what was returned, no member filters.
    Legacy,
}

/// Wording of `detail` for validation failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorDetailMode {
    /// `Request is unparsable, syntactically incorrect, or violates schema.`, as Entra logs show.
    Generic,
    /// The message AWS records in CloudTrail, such as `List attribute emails exceeds allowed limit of 1`.
    Specific,
}

/// Character rules for names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Charset {
    /// The Identity Store patterns: letters, marks, symbols, numbers, punctuation (and some spaces).
    Current,
    /// Older rules: additionally no `<>;:%` in userName and displayName, and no tab, CR or LF.
    Legacy,
}

/// Handling of `PUT /Groups/{id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum GroupPut {
    /// 400, as teleport's client assumes.
    Refuse,
    /// Replaces displayName, externalId and members (at most 100), as authentik's AWS mode relies on.
    Accept,
}

/// A partial update of [`Switches`]: fields left out keep their value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct SwitchesUpdate {
    pub list_api: Option<ListApi>,
    pub error_detail: Option<ErrorDetailMode>,
    pub charset: Option<Charset>,
    pub reserved_name_status: Option<u16>,
    pub reserved_names_case_insensitive: Option<bool>,
    pub unknown_tenant_status: Option<u16>,
    pub default_active: Option<bool>,
    pub group_put: Option<GroupPut>,
    pub filter_case_insensitive: Option<bool>,
    pub accept_empty_emails: Option<bool>,
    #[serde(default, with = "double_option")]
    pub rate_limit_per_second: Option<Option<u32>>,
    #[serde(default, with = "double_option")]
    pub retry_after_seconds: Option<Option<u64>>,
}

/// Distinguishes a field set to `null` from a field left out.
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
    where
        T: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}

impl Switches {
    /// Applies an update after checking it; returns every problem found, changing nothing on error.
    pub fn apply(&mut self, update: SwitchesUpdate) -> Result<(), Vec<String>> {
        let mut next = self.clone();
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = update.$field { next.$field = v; } )* };
        }
        set!(
            list_api,
            error_detail,
            charset,
            reserved_name_status,
            reserved_names_case_insensitive,
            unknown_tenant_status,
            default_active,
            group_put,
            filter_case_insensitive,
            accept_empty_emails,
            rate_limit_per_second,
            retry_after_seconds
        );
        let mut problems = Vec::new();
        if ![400, 409].contains(&next.reserved_name_status) {
            problems.push(format!("reservedNameStatus: must be 400 or 409, got {}", next.reserved_name_status));
        }
        if ![401, 404].contains(&next.unknown_tenant_status) {
            problems.push(format!("unknownTenantStatus: must be 401 or 404, got {}", next.unknown_tenant_status));
        }
        if next.rate_limit_per_second == Some(0) {
            problems.push("rateLimitPerSecond: must be at least 1, or null for no limit".to_owned());
        }
        if problems.is_empty() {
            *self = next;
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// Why a switches update was refused: every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("; "))]
pub struct SwitchProblems(pub Vec<String>);

impl SwitchSet for Switches {
    type Error = SwitchProblems;

    fn updated(&self, update: Map<String, Value>) -> Result<Switches, SwitchProblems> {
        let update: SwitchesUpdate = serde_json::from_value(Value::Object(update))
            .map_err(|err| SwitchProblems(vec![format!("invalid JSON body: {err}")]))?;
        let mut next = self.clone();
        next.apply(update).map_err(SwitchProblems)?;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_changes_only_the_fields_it_names() {
        let mut switches = Switches::default();
        let update: SwitchesUpdate = serde_json::from_str(r#"{"listApi":"legacy","rateLimitPerSecond":20}"#).unwrap();
        switches.apply(update).unwrap();
        assert_eq!(switches.list_api, ListApi::Legacy);
        assert_eq!(switches.rate_limit_per_second, Some(20));
        assert_eq!(switches.error_detail, ErrorDetailMode::Generic);
        let update: SwitchesUpdate = serde_json::from_str(r#"{"rateLimitPerSecond":null}"#).unwrap();
        switches.apply(update).unwrap();
        assert_eq!(switches.rate_limit_per_second, None);
    }

    #[test]
    fn a_bad_update_lists_every_problem_and_changes_nothing() {
        let mut switches = Switches::default();
        let update: SwitchesUpdate =
            serde_json::from_str(r#"{"reservedNameStatus":500,"unknownTenantStatus":403,"charset":"legacy"}"#).unwrap();
        let problems = switches.apply(update).unwrap_err();
        assert_eq!(problems.len(), 2);
        assert_eq!(switches, Switches::default());
    }
}
