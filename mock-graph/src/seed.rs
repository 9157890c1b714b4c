//! Seeding: users, groups with members, applications and assignments in one call, all or nothing
//! (`POST /_admin/seed`). Users get `accountEnabled: true`, a `mailNickname` and a password unless
//! given; references name a userPrincipalName, a group displayName or an object id.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::apps::AWS_TEMPLATE_ID;
use crate::directory::{Directory, ObjectKind};
use crate::state::World;

/// What `POST /_admin/seed` takes: users (Graph properties), groups with members, applications
/// from templates, and assignments.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    users: Vec<Map<String, Value>>,
    #[serde(default)]
    groups: Vec<SeedGroup>,
    #[serde(default)]
    applications: Vec<SeedApplication>,
    #[serde(default)]
    assignments: Vec<SeedAssignment>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SeedGroup {
    display_name: String,
    #[serde(default)]
    mail_nickname: Option<String>,
    #[serde(default)]
    description: Option<String>,
    /// userPrincipalNames, group displayNames or object ids.
    #[serde(default)]
    members: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SeedApplication {
    display_name: String,
    #[serde(default)]
    template_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SeedAssignment {
    /// A userPrincipalName, group displayName or object id.
    principal: String,
    /// The application's displayName or appId.
    application: String,
    /// A role name (`User`, `msiam_access`) or id; the first role when omitted.
    #[serde(default)]
    app_role: Option<String>,
}

/// Resolves a seed reference: UPN, then group displayName, then object id.
fn resolve(dir: &Directory, reference: &str) -> Option<(ObjectKind, u64)> {
    if let Some(key) = dir.user_key(reference) {
        return Some((ObjectKind::User, key));
    }
    if let Some((key, _)) =
        dir.groups.iter().find(|(_, g)| g.get("displayName").and_then(Value::as_str) == Some(reference))
    {
        return Some((ObjectKind::Group, *key));
    }
    dir.lookup(reference)
}

/// Why a seed was refused: where in the request, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {what}")]
pub struct SeedError {
    /// `users[2]`, `groups[0].members[1]`, `assignments[3]`, …
    pub at: String,
    /// The problem.
    pub what: String,
}

fn refused(at: String, what: impl Into<String>) -> SeedError {
    SeedError { at, what: what.into() }
}

impl World {
    /// Seeds the directory, or explains the first problem (where it is, and what) and changes
    /// nothing: what the call created is undone, without copying the directory, and the seeded
    /// generator is put back.
    pub fn seed(&mut self, request: Seed) -> Result<Value, SeedError> {
        let mark = self.directory.mark();
        let rng = self.rng.clone();
        let outcome = apply(self, request);
        if outcome.is_err() {
            self.directory.rollback(mark);
            self.rng = rng;
        }
        outcome
    }
}

fn apply(world: &mut World, request: Seed) -> Result<Value, SeedError> {
    let now = world.core.clock.now();
    let mut users = Map::new();
    for (i, mut user) in request.users.into_iter().enumerate() {
        let upn = user.get("userPrincipalName").and_then(Value::as_str).unwrap_or_default().to_owned();
        let nickname = upn.split('@').next().unwrap_or_default().replace('#', "_");
        user.entry("accountEnabled").or_insert(json!(true));
        user.entry("mailNickname").or_insert(json!(nickname));
        user.entry("passwordProfile")
            .or_insert(json!({ "password": "Seeded-Password-1", "forceChangePasswordNextSignIn": false }));
        user.entry("displayName").or_insert(json!(upn));
        let id = world.uuid();
        world.directory.create_user(id.clone(), now, user).map_err(|e| refused(format!("users[{i}]"), e.message))?;
        users.insert(upn, json!(id));
    }
    let mut groups = Map::new();
    for (i, group) in request.groups.into_iter().enumerate() {
        let nickname = group.mail_nickname.clone().unwrap_or_else(|| {
            let cleaned: String = group.display_name.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
            if cleaned.is_empty() { "group".to_owned() } else { cleaned }
        });
        let mut body = json!({ "displayName": group.display_name, "mailEnabled": false, "mailNickname": nickname, "securityEnabled": true });
        if let Some(description) = group.description {
            body["description"] = json!(description);
        }
        let id = world.uuid();
        let body = body.as_object().cloned().unwrap_or_default();
        let key = world
            .directory
            .create_group(id.clone(), now, body)
            .map_err(|e| refused(format!("groups[{i}]"), e.message))?;
        groups.insert(group.display_name.clone(), json!(id));
        for (j, member) in group.members.iter().enumerate() {
            let (kind, member_key) = resolve(&world.directory, member).ok_or_else(|| {
                refused(format!("groups[{i}].members[{j}]"), format!("no user, group or object {member:?}"))
            })?;
            let member_id = world.directory.object_id(kind, member_key);
            world
                .directory
                .add_member(key, &member_id)
                .map_err(|e| refused(format!("groups[{i}].members[{j}]"), e.message))?;
        }
    }
    let mut applications = Map::new();
    for (i, app) in request.applications.into_iter().enumerate() {
        let ids = [world.uuid(), world.uuid(), world.uuid()];
        let tenant_id = world.tenant.id.clone();
        let template = app.template_id.as_deref().unwrap_or(AWS_TEMPLATE_ID);
        let (app_key, sp_key) = world
            .directory
            .instantiate(template, &app.display_name, ids, &tenant_id, now)
            .map_err(|e| refused(format!("applications[{i}]"), e.message))?;
        let field = |map: Option<&Map<String, Value>>, name: &str| {
            map.and_then(|m| m.get(name)).cloned().unwrap_or(Value::Null)
        };
        applications.insert(
            app.display_name,
            json!({
                "applicationId": field(world.directory.applications.get(&app_key), "id"),
                "appId": field(world.directory.applications.get(&app_key), "appId"),
                "servicePrincipalId": field(world.directory.service_principals.get(&sp_key), "id"),
            }),
        );
    }
    let mut assignments = Vec::new();
    for (i, assignment) in request.assignments.into_iter().enumerate() {
        let at = |what: &str| refused(format!("assignments[{i}]"), what);
        let dir = &world.directory;
        let (sp_key, sp) = dir
            .service_principals
            .iter()
            .find(|(_, sp)| {
                sp.get("displayName").and_then(Value::as_str) == Some(assignment.application.as_str())
                    || sp.get("appId").and_then(Value::as_str) == Some(assignment.application.as_str())
            })
            .ok_or_else(|| at(&format!("no application {:?}", assignment.application)))?;
        let roles = sp.get("appRoles").and_then(Value::as_array).cloned().unwrap_or_default();
        let role = match &assignment.app_role {
            Some(wanted) => roles.iter().find(|r| {
                r.get("displayName").and_then(Value::as_str) == Some(wanted)
                    || r.get("id").and_then(Value::as_str) == Some(wanted)
            }),
            None => roles.first(),
        };
        let role_id = role.and_then(|r| r.get("id")).cloned().unwrap_or(json!(crate::apps::DEFAULT_ACCESS_ROLE));
        let (kind, principal) = resolve(dir, &assignment.principal)
            .ok_or_else(|| at(&format!("no principal {:?}", assignment.principal)))?;
        let principal_id = dir.object_id(kind, principal);
        let sp_id = sp.get("id").cloned().unwrap_or(Value::Null);
        let sp_key = *sp_key;
        let body = json!({ "principalId": principal_id, "resourceId": sp_id, "appRoleId": role_id });
        let random = world.bytes16();
        let key = world
            .directory
            .assign(sp_key, body.as_object().unwrap_or(&Map::new()), random, now)
            .map_err(|e| at(&e.message))?;
        assignments
            .push(world.directory.assignments.get(&key).and_then(|a| a.get("id")).cloned().unwrap_or(Value::Null));
    }
    Ok(json!({ "users": users, "groups": groups, "applications": applications, "assignments": assignments }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Tenant;

    fn world() -> World {
        let tenant = Tenant {
            id: "00000000-0000-0000-0000-0000000000aa".to_owned(),
            domain: "contoso.com".to_owned(),
            client_id: "client".to_owned(),
            client_secret: "secret".to_owned(),
        };
        let start = "2026-01-01T00:00:00Z".parse().unwrap();
        World::new(7, scenarios::clock::Clock::virtual_at(start), tenant, reqwest::Client::new())
    }

    /// The id the world would give out next, without giving it out.
    fn next_uuid(world: &World) -> String {
        let mut rng = world.rng.clone();
        uuid::Builder::from_random_bytes(rng.next_u128().to_be_bytes()).into_uuid().to_string()
    }

    fn seed(value: Value) -> Seed {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_seed_with_a_bad_member_says_where_and_leaves_nothing_behind() {
        let mut world = world();
        let next_id = next_uuid(&world);
        let refused = world.seed(seed(json!({
            "users": [{"userPrincipalName": "annie@contoso.com"}],
            "groups": [{"displayName": "SRE", "members": ["annie@contoso.com", "nobody@contoso.com"]}],
        })));
        assert_eq!(
            refused.unwrap_err().to_string(),
            "groups[0].members[1]: no user, group or object \"nobody@contoso.com\""
        );
        assert!(world.directory.users.is_empty() && world.directory.groups.is_empty());
        assert_eq!(next_uuid(&world), next_id, "the generator is put back: ids stay as they were");
        let seeded = world.seed(seed(json!({
            "users": [{"userPrincipalName": "annie@contoso.com"}],
            "groups": [{"displayName": "SRE", "members": ["annie@contoso.com"]}],
        })));
        let seeded = seeded.unwrap();
        assert_eq!(seeded["users"]["annie@contoso.com"], json!(next_id));
        let annie = world.directory.users.values().next().unwrap();
        assert_eq!((annie["accountEnabled"].clone(), annie["mailNickname"].clone()), (json!(true), json!("annie")));
    }
}
