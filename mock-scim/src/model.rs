//! Users and groups as AWS stores and returns them, and the shapes clients send.
//!
//! Inputs are serde types with `deny_unknown_fields`: an attribute AWS does not support (`password`,
//! `ims`, `photos`, `groups`, the `display` sub-attribute of emails, …) is refused, not ignored
//! (aws-scim.md §2.2). Outputs serialize in the field order of AWS's captured bodies.

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::clock::meta_timestamp;

/// The core User schema URN.
pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The enterprise User extension URN.
pub const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The core Group schema URN.
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The ListResponse URN.
pub const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The PatchOp URN.
pub const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// `name` of a user.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Name {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honorific_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honorific_suffix: Option<String>,
}

/// One entry of `emails` (no `display`: aws-scim.md §2.2).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Email {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "scim_bool_opt", skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
}

/// One entry of `phoneNumbers` (no `display`: aws-scim.md §2.2).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct PhoneNumber {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "scim_bool_opt", skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
}

/// One entry of `addresses` (aws-scim.md §2.2).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "scim_bool_opt", skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
}

/// One entry of `roles`: only `value`, `type` and `primary` (createuser.html).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Role {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "scim_bool_opt", skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
}

/// The enterprise extension's `manager` (no `displayName`: aws-scim.md §2.2).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Manager {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, rename = "$ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// The enterprise extension (aws-scim.md §2.2).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Enterprise {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_center: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<Manager>,
}

impl Enterprise {
    fn is_empty(&self) -> bool {
        *self == Enterprise::default()
    }
}

/// What a client sends to create or replace a user. `id`, `meta` and `schemas` are accepted and
/// ignored (the server owns them); everything else not listed here is refused.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct UserInput {
    #[serde(default)]
    pub schemas: Option<Vec<String>>,
    #[serde(default)]
    pub id: Option<serde_json::Value>,
    #[serde(default)]
    pub meta: Option<serde_json::Value>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub user_name: Option<String>,
    #[serde(default)]
    pub name: Option<Name>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub nick_name: Option<String>,
    #[serde(default)]
    pub profile_url: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub user_type: Option<String>,
    #[serde(default)]
    pub preferred_language: Option<String>,
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default, deserialize_with = "scim_bool_opt")]
    pub active: Option<bool>,
    #[serde(default)]
    pub emails: Option<Vec<Email>>,
    #[serde(default)]
    pub addresses: Option<Vec<Address>>,
    #[serde(default)]
    pub phone_numbers: Option<Vec<PhoneNumber>>,
    #[serde(default)]
    pub roles: Option<Vec<Role>>,
    #[serde(default, rename = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")]
    pub enterprise: Option<Enterprise>,
}

/// `meta` as AWS returns it: no `location`, no `version` (aws-scim.md §1.4).
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    /// `User` or `Group`.
    pub resource_type: &'static str,
    /// Creation instant.
    pub created: Timestamp,
    /// Last change.
    pub last_modified: Timestamp,
}

impl Serialize for Meta {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Meta", 3)?;
        s.serialize_field("resourceType", self.resource_type)?;
        s.serialize_field("created", &meta_timestamp(self.created))?;
        s.serialize_field("lastModified", &meta_timestamp(self.last_modified))?;
        s.end()
    }
}

/// A stored user, serialized in the order of AWS's captured `CreateUserResponse_Active.json`.
///
/// What most users carry is inline; the rest is boxed in [`UserMore`], absent when empty, so that
/// a typical stored user takes about a quarter of what all the attributes inline would.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct User {
    pub id: String,
    pub external_id: Option<String>,
    pub meta: Meta,
    /// Whether `schemas` lists the enterprise URN: only when the user carries enterprise data
    /// (aws-scim.md §2.2).
    pub has_enterprise: bool,
    pub active: bool,
    pub user_name: String,
    pub name: Option<Box<Name>>,
    pub display_name: Option<String>,
    pub emails: Option<Vec<Email>>,
    pub more: Option<Box<UserMore>>,
}

/// The attributes few users carry.
#[derive(Debug, Clone, Default, PartialEq)]
#[allow(missing_docs)]
pub struct UserMore {
    pub nick_name: Option<String>,
    pub profile_url: Option<String>,
    pub title: Option<String>,
    pub user_type: Option<String>,
    pub preferred_language: Option<String>,
    pub locale: Option<String>,
    pub timezone: Option<String>,
    pub addresses: Option<Vec<Address>>,
    pub phone_numbers: Option<Vec<PhoneNumber>>,
    pub roles: Option<Vec<Role>>,
    pub enterprise: Option<Enterprise>,
}

impl Serialize for User {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        fn some<M: SerializeMap, T: Serialize>(map: &mut M, key: &str, value: &Option<T>) -> Result<(), M::Error> {
            match value {
                Some(value) => map.serialize_entry(key, value),
                None => Ok(()),
            }
        }
        let more = self.more.as_deref();
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", &self.id)?;
        some(&mut map, "externalId", &self.external_id)?;
        map.serialize_entry("meta", &self.meta)?;
        if self.has_enterprise {
            map.serialize_entry("schemas", &[USER_URN, ENTERPRISE_URN])?;
        } else {
            map.serialize_entry("schemas", &[USER_URN])?;
        }
        map.serialize_entry("userName", &self.user_name)?;
        some(&mut map, "name", &self.name)?;
        some(&mut map, "displayName", &self.display_name)?;
        if let Some(more) = more {
            some(&mut map, "nickName", &more.nick_name)?;
            some(&mut map, "profileUrl", &more.profile_url)?;
            some(&mut map, "title", &more.title)?;
            some(&mut map, "userType", &more.user_type)?;
            some(&mut map, "preferredLanguage", &more.preferred_language)?;
            some(&mut map, "locale", &more.locale)?;
            some(&mut map, "timezone", &more.timezone)?;
        }
        map.serialize_entry("active", &self.active)?;
        some(&mut map, "emails", &self.emails)?;
        if let Some(more) = more {
            some(&mut map, "addresses", &more.addresses)?;
            some(&mut map, "phoneNumbers", &more.phone_numbers)?;
            some(&mut map, "roles", &more.roles)?;
            some(&mut map, ENTERPRISE_URN, &more.enterprise)?;
        }
        map.end()
    }
}

impl User {
    /// Builds a stored user from a validated input.
    pub fn from_input(id: String, meta: Meta, input: UserInput, default_active: bool) -> User {
        let enterprise = input.enterprise.filter(|e| !e.is_empty());
        let has_enterprise = enterprise.is_some();
        let more = UserMore {
            nick_name: input.nick_name,
            profile_url: input.profile_url,
            title: input.title,
            user_type: input.user_type,
            preferred_language: input.preferred_language,
            locale: input.locale,
            timezone: input.timezone,
            addresses: input.addresses,
            phone_numbers: input.phone_numbers,
            roles: input.roles,
            enterprise,
        };
        User {
            id,
            external_id: input.external_id,
            meta,
            has_enterprise,
            active: input.active.unwrap_or(default_active),
            user_name: input.user_name.unwrap_or_default(),
            name: input.name.map(Box::new),
            display_name: input.display_name,
            emails: input.emails,
            more: (more != UserMore::default()).then(|| Box::new(more)),
        }
    }

    /// The enterprise extension, when the user has one.
    pub fn enterprise(&self) -> Option<&Enterprise> {
        self.more.as_ref()?.enterprise.as_ref()
    }

    /// The primary email's value, which AWS keeps unique (aws-scim.md §2.7).
    pub fn primary_email(&self) -> Option<&str> {
        self.emails.as_ref()?.iter().find(|e| e.primary == Some(true)).and_then(|e| e.value.as_deref())
    }

    /// The JSON AWS returns for this user.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// What a client sends to create or replace a group.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct GroupInput {
    #[serde(default)]
    pub schemas: Option<Vec<String>>,
    #[serde(default)]
    pub id: Option<serde_json::Value>,
    #[serde(default)]
    pub meta: Option<serde_json::Value>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub members: Option<Vec<MemberRef>>,
}

/// A member reference: `value` is a user id; `$ref`, `type` accepted, `display` refused
/// (aws-scim.md §3.1).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct MemberRef {
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default, rename = "$ref")]
    pub reference: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// A stored group, serialized as `CreateGroupResponse.json`: members are never returned
/// (aws-scim.md §3.2).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Group {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub meta: Meta,
    #[serde(serialize_with = "group_schemas", rename = "schemas")]
    pub schemas: (),
    pub display_name: String,
}

fn group_schemas<S: Serializer>(_: &(), serializer: S) -> Result<S::Ok, S::Error> {
    [GROUP_URN].serialize(serializer)
}

impl Group {
    /// The JSON of GET and POST: no `members` key at all (creategroup.html, getgroup.html).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// A group as a list shows it: `"members": []` always (listgroups.html).
#[derive(Debug)]
pub struct GroupInList<'a>(pub &'a Group);

impl Serialize for GroupInList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let group = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", &group.id)?;
        if let Some(external) = &group.external_id {
            map.serialize_entry("externalId", external)?;
        }
        map.serialize_entry("meta", &group.meta)?;
        map.serialize_entry("schemas", &[GROUP_URN])?;
        map.serialize_entry("displayName", &group.display_name)?;
        map.serialize_entry("members", &[(); 0])?;
        map.end()
    }
}

/// Reads a boolean as real clients send it: `true`, or the strings `"True"`/`"false"` that Entra and
/// AWS's own PATCH example use (aws-scim.md §2.5).
pub fn scim_bool_opt<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum BoolOrString {
        Bool(bool),
        String(String),
    }
    match Option::<BoolOrString>::deserialize(deserializer)? {
        None => Ok(None),
        Some(BoolOrString::Bool(b)) => Ok(Some(b)),
        Some(BoolOrString::String(s)) => {
            parse_bool(&s).map(Some).ok_or_else(|| serde::de::Error::custom(format!("expected a boolean, got {s:?}")))
        }
    }
}

/// `true`/`false` in any case.
pub fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_attributes_are_refused_not_ignored() {
        for body in [
            r#"{"userName":"a","password":"x"}"#,
            r#"{"userName":"a","groups":[]}"#,
            r#"{"userName":"a","emails":[{"value":"a@b","display":"A"}]}"#,
            r#"{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"displayName":"M"}}}"#,
        ] {
            assert!(serde_json::from_str::<UserInput>(body).is_err(), "{body}");
        }
    }

    #[test]
    fn booleans_arrive_as_strings_in_any_case() {
        let input: UserInput = serde_json::from_str(r#"{"active":"False","emails":[{"primary":"True"}]}"#).unwrap();
        assert_eq!(input.active, Some(false));
        assert_eq!(input.emails.unwrap()[0].primary, Some(true));
        assert!(serde_json::from_str::<UserInput>(r#"{"active":"yes"}"#).is_err());
    }
}
