//! The AWS IAM Identity Center synchronization template, `aWSSingleSignon`, its schema with the
//! default attribute mappings, and reading an (edited) schema back into mappings
//! (entra-provisioning.md §1, §3, §7).

use serde_json::{Value, json};

use super::mapping::{AttributeMapping, Source, parse_expression};

/// The synchronization template id, with its odd casing (§1).
pub const TEMPLATE_ID: &str = "aWSSingleSignon";
/// The AWS rule id, also provisionOnDemand's `ruleId` (§1).
pub const RULE_ID: &str = "03f7d90d-bf71-41b1-bda6-aaf0ddbee5d8";
/// The user object mapping's target object name (§1, inferred).
pub const USER_TARGET: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The group object mapping's target object name (§1).
pub const GROUP_TARGET: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

fn mapping(source: &str, kind: &str, target: &str, matching: u32) -> Value {
    let (name, expression) = match kind {
        "Attribute" => (source.to_owned(), format!("[{source}]")),
        _ => (String::new(), source.to_owned()),
    };
    json!({
        "defaultValue": null,
        "exportMissingReferences": false,
        "flowBehavior": "FlowWhenChanged",
        "flowType": "Always",
        "matchingPriority": matching,
        "targetAttributeName": target,
        "source": {"expression": expression, "name": name, "type": kind, "parameters": []}
    })
}

/// The default user mappings of the AWS app (§3.2; the list is the reference's inferred gallery
/// default, `mailNickname → externalId` as the generic SCIM default).
fn user_mappings() -> Vec<Value> {
    vec![
        mapping("userPrincipalName", "Attribute", "userName", 1),
        mapping(r#"Switch([IsSoftDeleted], , "False", "True", "True", "False")"#, "Function", "active", 0),
        mapping("displayName", "Attribute", "displayName", 0),
        mapping("jobTitle", "Attribute", "title", 0),
        mapping("mail", "Attribute", r#"emails[type eq "work"].value"#, 0),
        mapping("preferredLanguage", "Attribute", "preferredLanguage", 0),
        mapping("givenName", "Attribute", "name.givenName", 0),
        mapping("surname", "Attribute", "name.familyName", 0),
        mapping(r#"Join(" ", [givenName], [surname])"#, "Function", "name.formatted", 0),
        mapping("physicalDeliveryOfficeName", "Attribute", r#"addresses[type eq "work"].formatted"#, 0),
        mapping("streetAddress", "Attribute", r#"addresses[type eq "work"].streetAddress"#, 0),
        mapping("city", "Attribute", r#"addresses[type eq "work"].locality"#, 0),
        mapping("state", "Attribute", r#"addresses[type eq "work"].region"#, 0),
        mapping("postalCode", "Attribute", r#"addresses[type eq "work"].postalCode"#, 0),
        mapping("country", "Attribute", r#"addresses[type eq "work"].country"#, 0),
        mapping("telephoneNumber", "Attribute", r#"phoneNumbers[type eq "work"].value"#, 0),
        mapping("mailNickname", "Attribute", "externalId", 0),
        mapping(
            "employeeId",
            "Attribute",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            0,
        ),
        mapping("department", "Attribute", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", 0),
        mapping("manager", "Attribute", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", 0),
    ]
}

/// Group mappings: `displayName` (matching), `objectId → externalId`, `members` (§1, §3.1).
fn group_mappings() -> Vec<Value> {
    vec![
        mapping("displayName", "Attribute", "displayName", 1),
        mapping("objectId", "Attribute", "externalId", 0),
        mapping("members", "Attribute", "members", 0),
    ]
}

/// The job's schema as `GET …/jobs/{id}/schema` returns it.
pub fn default_schema() -> Value {
    json!({
        "id": format!("{TEMPLATE_ID}.00000000000000000000000000000000"),
        "version": "Date:2026-01-01T00:00:00Z;Version:6.0",
        "directories": [
            {"id": "AzureActiveDirectory", "name": "Azure Active Directory", "objects": [{"name": "User"}, {"name": "Group"}]},
            {"id": "AWSSingleSignon", "name": "AWSSingleSignon", "objects": [{"name": USER_TARGET}, {"name": GROUP_TARGET}]}
        ],
        "synchronizationRules": [{
            "id": RULE_ID,
            "name": "USERGROUP_OUTBOUND_USERGROUP",
            "editable": true,
            "priority": 1,
            "sourceDirectoryName": "Azure Active Directory",
            "targetDirectoryName": "AWSSingleSignon",
            "metadata": [{"key": "supportsProvisionOnDemand", "value": "true"}],
            "objectMappings": [
                {
                    "enabled": true,
                    "flowTypes": "Add, Update, Delete",
                    "name": "Synchronize Microsoft Entra users to AWS IAM Identity Center",
                    "sourceObjectName": "User",
                    "targetObjectName": USER_TARGET,
                    "scope": null,
                    "attributeMappings": user_mappings(),
                    "metadata": []
                },
                {
                    "enabled": true,
                    "flowTypes": "Add, Update, Delete",
                    "name": "Synchronize Microsoft Entra groups to AWS IAM Identity Center",
                    "sourceObjectName": "Group",
                    "targetObjectName": GROUP_TARGET,
                    "scope": null,
                    "attributeMappings": group_mappings(),
                    "metadata": [{"key": "OriginalJoiningProperty", "value": "displayName"}]
                }
            ]
        }]
    })
}

/// The template as `GET …/synchronization/templates` lists it (§1, §7).
pub fn template(application_template_id: &str) -> Value {
    json!({
        "id": TEMPLATE_ID,
        "factoryTag": TEMPLATE_ID,
        "applicationId": application_template_id,
        "default": true,
        "description": null,
        "discoverable": true,
        "metadata": [
            {"key": "galleryApplicationIdentifier", "value": application_template_id},
            {"key": "galleryApplicationKey", "value": "awssinglesignon"},
            {"key": "isSynchronizationInPreview", "value": "true"},
            {"key": "AzureIngestionAttributeOptimization", "value": "False"},
            {"key": "configurationFields", "value": "[{\"name\":\"baseaddress\"},{\"name\":\"secrettoken\",\"secret\":true}]"}
        ],
        "schema": default_schema()
    })
}

/// One object mapping, read from a schema.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectMapping {
    /// Whether the mapping runs (groups can be turned off).
    pub enabled: bool,
    /// Attribute mappings, `members` aside.
    pub attributes: Vec<AttributeMapping>,
    /// Whether group `members` flow.
    pub members: bool,
    /// Scoping filter groups: OR of AND-ed clauses (§2.3).
    pub scope: Vec<Vec<Clause>>,
}

/// A scoping filter clause.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    /// The source attribute.
    pub attribute: String,
    /// The operator, as the portal names it (`EQUALS`, `IS TRUE`, …).
    pub operator: String,
    /// The operand values.
    pub values: Vec<String>,
}

/// The user and group mappings of a schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Mappings {
    /// Users.
    pub users: ObjectMapping,
    /// Groups.
    pub groups: ObjectMapping,
}

/// The longest expression Entra accepts (entra-provisioning.md §3.3, [KNOWN]).
const MAX_EXPRESSION_CHARS: usize = 10_000;

/// The attributes AWS filters on, which a matching attribute must be: Entra matches by querying
/// the target (entra §3.3 "target must support filtering on it"; aws-scim.md §4.1 lists what AWS
/// filters on).
fn filterable(source_object: &str) -> &'static [&'static str] {
    if source_object == "User" { &["userName", "externalId"] } else { &["displayName", "externalId"] }
}

/// What Entra refuses in one attribute mapping (entra-provisioning.md §3.3).
fn refusals(source_object: &str, at: &str, i: usize, m: &Value, target: &str, expression: &str) -> Vec<String> {
    let at = format!("{at}.attributeMappings[{i}]");
    let mut problems = Vec::new();
    if target.eq_ignore_ascii_case("id") {
        // "Primary key (id) must not be a target attribute" (§3.3).
        problems.push(format!("{at}.targetAttributeName: 'id' is the target's primary key and cannot be mapped"));
    }
    let length = expression.chars().count();
    if length > MAX_EXPRESSION_CHARS {
        problems.push(format!(
            "{at}.source.expression: {length} characters, more than the {MAX_EXPRESSION_CHARS} an expression may have"
        ));
    }
    let matching = m["matchingPriority"].as_u64().unwrap_or(0) > 0;
    if matching && !filterable(source_object).contains(&target) {
        problems.push(format!(
            "{at}.matchingPriority: AWS IAM Identity Center cannot filter on '{target}'; a matching attribute must be one of {}",
            filterable(source_object).join(", ")
        ));
    }
    problems
}

/// The patterns of `REGEX MATCH` and `NOT REGEX MATCH` scoping clauses (§2.3) that do not compile:
/// refused when the schema is saved, rather than matching nothing at every cycle (inferred; Entra
/// uses .NET's syntax, of which the mock knows the `regex` crate's: no look-around, no
/// backreferences).
fn regex_problems(rule: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for (o, object) in rule["objectMappings"].as_array().into_iter().flatten().enumerate() {
        for (g, group) in object["scope"]["groups"].as_array().into_iter().flatten().enumerate() {
            for (c, clause) in group["clauses"].as_array().into_iter().flatten().enumerate() {
                let operator = clause["operatorName"].as_str().unwrap_or_default();
                if !["REGEX MATCH", "NOT REGEX MATCH"].iter().any(|r| r.eq_ignore_ascii_case(operator)) {
                    continue;
                }
                let values = clause["targetOperand"]["values"].as_array().into_iter().flatten();
                for (v, pattern) in values.enumerate().filter_map(|(v, p)| Some((v, p.as_str()?))) {
                    if let Err(err) = regex::Regex::new(pattern) {
                        // The crate's message ends with its one-line reason (`error: unclosed group`).
                        let why = err.to_string().lines().last().unwrap_or_default().trim().to_owned();
                        problems.push(format!(
                            "synchronizationRules[0].objectMappings[{o}].scope.groups[{g}].clauses[{c}].targetOperand.values[{v}]: invalid regular expression {pattern:?}: {why}"
                        ));
                    }
                }
            }
        }
    }
    problems
}

/// Reads the mappings out of a schema, listing every problem with its location.
pub fn read_mappings(schema: &Value) -> Result<Mappings, Vec<String>> {
    let mut problems = Vec::new();
    let rules = schema["synchronizationRules"].as_array().cloned().unwrap_or_default();
    let Some(rule) = rules.first() else {
        return Err(vec!["synchronizationRules: at least one rule is required".into()]);
    };
    let objects = rule["objectMappings"].as_array().cloned().unwrap_or_default();
    let mut read = |source: &str| -> ObjectMapping {
        let Some((index, object)) = objects.iter().enumerate().find(|(_, o)| o["sourceObjectName"] == source) else {
            problems.push(format!("synchronizationRules[0].objectMappings: no mapping for {source}"));
            return ObjectMapping { enabled: false, attributes: Vec::new(), members: false, scope: Vec::new() };
        };
        let at = format!("synchronizationRules[0].objectMappings[{index}]");
        let source_object = source;
        if source == "User" && object["enabled"] == false {
            // "Disabling groups mapping is allowed; disabling users mapping is not." (entra §3.3)
            problems.push(format!("{at}.enabled: the User mapping cannot be disabled"));
        }
        let mut targets = std::collections::BTreeSet::new();
        for (i, m) in object["attributeMappings"].as_array().into_iter().flatten().enumerate() {
            let target = m["targetAttributeName"].as_str().unwrap_or_default();
            if !target.is_empty() && !targets.insert(target.to_ascii_lowercase()) {
                // Inferred: one value per target attribute, as the portal offers one row per target.
                problems.push(format!("{at}.attributeMappings[{i}].targetAttributeName: '{target}' is mapped twice"));
            }
        }
        let mut attributes = Vec::new();
        let mut members = false;
        for (i, m) in object["attributeMappings"].as_array().cloned().unwrap_or_default().iter().enumerate() {
            let target = m["targetAttributeName"].as_str().unwrap_or_default().to_owned();
            let kind = m["source"]["type"].as_str().unwrap_or("Attribute");
            let name = m["source"]["name"].as_str().unwrap_or_default().to_owned();
            let expression = m["source"]["expression"].as_str().unwrap_or_default().to_owned();
            if target == "members" {
                members = true;
                continue;
            }
            let source = match kind {
                "Attribute" => Source::Attribute(if name.is_empty() {
                    expression.trim_matches(['[', ']']).to_owned()
                } else {
                    name
                }),
                "Constant" => {
                    Source::Constant(if expression.is_empty() { name } else { expression.trim_matches('"').to_owned() })
                }
                "Function" => match parse_expression(&expression) {
                    Ok(expr) => Source::Expression(expr),
                    Err(err) => {
                        problems.push(format!("{at}.attributeMappings[{i}].source.expression: {err}"));
                        continue;
                    }
                },
                other => {
                    problems.push(format!("{at}.attributeMappings[{i}].source.type: unknown type {other:?}"));
                    continue;
                }
            };
            if target.is_empty() {
                problems.push(format!("{at}.attributeMappings[{i}].targetAttributeName: required"));
                continue;
            }
            problems.extend(refusals(source_object, &at, i, m, &target, &expression));
            attributes.push(AttributeMapping {
                target,
                source,
                matching_priority: u32::try_from(m["matchingPriority"].as_u64().unwrap_or(0)).unwrap_or(0),
                add_only: m["flowType"] == "ObjectAddOnly",
                default_value: m["defaultValue"].as_str().map(str::to_owned),
            });
        }
        let scope = object["scope"]["groups"]
            .as_array()
            .map(|groups| {
                groups
                    .iter()
                    .map(|g| {
                        g["clauses"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default()
                            .iter()
                            .map(|c| Clause {
                                attribute: c["sourceOperandName"].as_str().unwrap_or_default().to_owned(),
                                operator: c["operatorName"].as_str().unwrap_or_default().to_owned(),
                                values: c["targetOperand"]["values"]
                                    .as_array()
                                    .map(|v| v.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
                                    .unwrap_or_default(),
                            })
                            .collect()
                    })
                    .collect()
            })
            .unwrap_or_default();
        ObjectMapping { enabled: object["enabled"].as_bool().unwrap_or(true), attributes, members, scope }
    };
    let users = read("User");
    let groups = read("Group");
    if users.attributes.iter().all(|m| m.matching_priority == 0) {
        problems.push("users: at least one attribute mapping needs a matchingPriority above 0".into());
    }
    problems.extend(regex_problems(rule));
    if problems.is_empty() { Ok(Mappings { users, groups }) } else { Err(problems) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schema_reads_back_into_mappings() {
        let mappings = read_mappings(&default_schema()).unwrap();
        assert_eq!(mappings.users.attributes[0].target, "userName");
        assert_eq!(mappings.users.attributes[0].matching_priority, 1);
        assert!(mappings.groups.members);
        assert_eq!(mappings.groups.attributes.len(), 2);
    }

    #[test]
    fn entra_refuses_an_id_target_a_disabled_user_mapping_a_long_expression_and_unfilterable_matching() {
        let mut schema = default_schema();
        let users = &mut schema["synchronizationRules"][0]["objectMappings"][0];
        users["enabled"] = json!(false);
        let mappings = users["attributeMappings"].as_array_mut().unwrap();
        mappings.push(mapping("objectId", "Attribute", "id", 0));
        mappings.push(mapping(&format!("Join(\"{}\")", "x".repeat(10_000)), "Function", "nickName", 0));
        mappings.push(mapping("jobTitle", "Attribute", "title", 2));
        let problems = read_mappings(&schema).unwrap_err().join("\n");
        for wanted in [
            "objectMappings[0].enabled: the User mapping cannot be disabled",
            "'title' is mapped twice",
            "'id' is the target's primary key",
            "more than the 10000 an expression may have",
            "cannot filter on 'title'",
        ] {
            assert!(problems.contains(wanted), "{wanted:?} missing from:\n{problems}");
        }
    }

    #[test]
    fn a_broken_schema_lists_every_problem() {
        let mut schema = default_schema();
        schema["synchronizationRules"][0]["objectMappings"][0]["attributeMappings"][1]["source"]["expression"] =
            json!("Switch([IsSoftDeleted]");
        schema["synchronizationRules"][0]["objectMappings"][1]["attributeMappings"][0]["source"]["type"] =
            json!("Magic");
        let problems = read_mappings(&schema).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("synchronizationRules[0].objectMappings[0].attributeMappings[1]"));
    }
}
