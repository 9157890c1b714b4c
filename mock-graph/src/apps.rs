//! The application gallery slice: the AWS IAM Identity Center template and the custom-app template,
//! `instantiate` (an application and its service principal), and app role assignments
//! (microsoft-graph.md §2.4–§2.5, entra-provisioning.md §1).

use base64::Engine as _;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::directory::{Directory, Key, ObjectKind, graph_time};
use crate::error::GraphError;

/// The AWS IAM Identity Center gallery template (entra-provisioning.md §1).
pub const AWS_TEMPLATE_ID: &str = "21ed01d2-ec13-4e9e-86c1-cd546719ebc4";
/// The non-gallery ("custom") template (microsoft-graph.md §2.5).
pub const CUSTOM_TEMPLATE_ID: &str = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621";
/// The AWS app's `User` role (entra-provisioning.md §1).
pub const AWS_USER_ROLE: &str = "8774f594-1d59-4279-b9d9-59ef09a23530";
/// The AWS app's `msiam_access` role (entra-provisioning.md §1).
pub const AWS_MSIAM_ROLE: &str = "e7f1a7f3-9eda-48e0-9963-bd67bf531afd";
/// The default access role, for apps that declare no roles (entra-provisioning.md §2.2).
pub const DEFAULT_ACCESS_ROLE: &str = "00000000-0000-0000-0000-000000000000";

/// The templates this mock knows.
pub fn templates() -> Vec<Map<String, Value>> {
    let aws = json!({
        "id": AWS_TEMPLATE_ID,
        "categories": ["developerServices", "itInfrastructure", "security", "New"],
        "description": "Federate once to AWS IAM Identity Center and use it to manage access to AWS accounts and applications.",
        "displayName": "AWS IAM Identity Center (successor to AWS Single Sign-On)",
        "homePageUrl": "https://aws.amazon.com/",
        "logoUrl": null,
        "publisher": "Amazon Web Services, Inc.",
        "supportedProvisioningTypes": ["sync"],
        "supportedSingleSignOnModes": ["saml", "external"]
    });
    let custom = json!({
        "id": CUSTOM_TEMPLATE_ID,
        "categories": [],
        "description": null,
        "displayName": "Custom",
        "homePageUrl": null,
        "logoUrl": null,
        "publisher": "Microsoft Corporation",
        "supportedProvisioningTypes": ["sync"],
        "supportedSingleSignOnModes": ["saml", "password", "oidc", "external"]
    });
    [aws, custom].into_iter().filter_map(|t| t.as_object().cloned()).collect()
}

/// App roles a template's instances carry. AWS: `User` and `msiam_access` (entra-provisioning.md
/// §1); custom apps: the same two names with the ids non-gallery apps get (inferred).
fn app_roles(template_id: &str) -> Value {
    let (user, msiam) = if template_id == AWS_TEMPLATE_ID {
        (AWS_USER_ROLE, AWS_MSIAM_ROLE)
    } else {
        ("18d14569-c3bd-439b-9a66-3a2aee01d14f", "b9632174-c057-4f7e-951b-be3adc52bfe6")
    };
    let role = |id: &str, name: &str| {
        json!({"allowedMemberTypes": ["User"], "description": name, "displayName": name, "id": id,
            "isEnabled": true, "origin": "Application", "value": null})
    };
    json!([role(user, "User"), role(msiam, "msiam_access")])
}

impl Directory {
    /// `POST /applicationTemplates/{id}/instantiate` → the application and its service principal,
    /// sharing one appId, with `appRoleAssignmentRequired: true` (§2.5).
    pub fn instantiate(
        &mut self,
        template_id: &str,
        display_name: &str,
        ids: [String; 3],
        tenant_id: &str,
        now: Timestamp,
    ) -> Result<(Key, Key), GraphError> {
        if !templates().iter().any(|t| t.get("id").and_then(Value::as_str) == Some(template_id)) {
            return Err(GraphError::not_found(template_id));
        }
        let [app_object_id, app_id, sp_id] = ids;
        let roles = app_roles(template_id);
        let application = json!({
            "id": app_object_id,
            "deletedDateTime": null,
            "appId": app_id,
            "applicationTemplateId": template_id,
            "createdDateTime": graph_time(now),
            "description": null,
            "displayName": display_name,
            "groupMembershipClaims": null,
            "identifierUris": [],
            "isFallbackPublicClient": false,
            "publisherDomain": self.domains.first().cloned().unwrap_or_default(),
            "signInAudience": "AzureADMyOrg",
            "tags": [],
            "api": {"acceptMappedClaims": null, "knownClientApplications": [], "requestedAccessTokenVersion": null,
                    "oauth2PermissionScopes": [], "preAuthorizedApplications": []},
            "appRoles": roles,
            "info": {"logoUrl": null, "marketingUrl": null, "privacyStatementUrl": null, "supportUrl": null, "termsOfServiceUrl": null},
            "keyCredentials": [],
            "passwordCredentials": [],
            "publicClient": {"redirectUris": []},
            "requiredResourceAccess": [],
            "web": {"homePageUrl": null, "redirectUris": []}
        });
        let service_principal = json!({
            "id": sp_id,
            "deletedDateTime": null,
            "accountEnabled": true,
            "alternativeNames": [],
            "appDisplayName": display_name,
            "appDescription": null,
            "appId": app_id,
            "applicationTemplateId": template_id,
            "appOwnerOrganizationId": tenant_id,
            "appRoleAssignmentRequired": true,
            "description": null,
            "displayName": display_name,
            "homepage": null,
            "loginUrl": null,
            "logoutUrl": null,
            "notes": null,
            "notificationEmailAddresses": [],
            "preferredSingleSignOnMode": null,
            "replyUrls": [],
            "servicePrincipalNames": [app_id],
            "servicePrincipalType": "Application",
            "tags": ["WindowsAzureActiveDirectoryIntegratedApp"],
            "appRoles": roles,
            "oauth2PermissionScopes": [],
            "keyCredentials": [],
            "passwordCredentials": []
        });
        let app_key = self.key();
        self.register(&app_object_id, ObjectKind::Application, app_key);
        self.app_by_app_id.insert(app_id.clone(), app_key);
        self.applications.insert(app_key, application.as_object().cloned().unwrap_or_default());
        self.log(ObjectKind::Application, app_key, &app_object_id, crate::directory::ChangeKind::Upserted);
        let sp_key = self.key();
        self.register(&sp_id, ObjectKind::ServicePrincipal, sp_key);
        self.sp_by_app_id.insert(app_id, sp_key);
        self.service_principals.insert(sp_key, service_principal.as_object().cloned().unwrap_or_default());
        self.log(ObjectKind::ServicePrincipal, sp_key, &sp_id, crate::directory::ChangeKind::Upserted);
        Ok((app_key, sp_key))
    }

    /// A service principal by id.
    pub fn service_principal_key(&self, id: &str) -> Option<Key> {
        match self.lookup(id) {
            Some((ObjectKind::ServicePrincipal, key)) => Some(key),
            _ => None,
        }
    }

    /// An application by id.
    pub fn application_key(&self, id: &str) -> Option<Key> {
        match self.lookup(id) {
            Some((ObjectKind::Application, key)) => Some(key),
            _ => None,
        }
    }

    /// `DELETE /applications/{id}` takes its service principal and their assignments with it.
    pub fn delete_application(&mut self, key: Key) -> Result<(), GraphError> {
        let app = self.applications.remove(&key).ok_or_else(|| GraphError::not_found(""))?;
        let id = app.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
        let app_id = app.get("appId").and_then(Value::as_str).unwrap_or_default().to_owned();
        self.app_by_app_id.remove(&app_id);
        self.unregister(&id);
        self.log(ObjectKind::Application, key, &id, crate::directory::ChangeKind::Deleted);
        if let Some(sp) = self.sp_by_app_id.get(&app_id).copied() {
            self.delete_service_principal(sp)?;
        }
        Ok(())
    }

    /// `DELETE /servicePrincipals/{id}`, with the assignments made on it.
    pub fn delete_service_principal(&mut self, key: Key) -> Result<(), GraphError> {
        let sp = self.service_principals.remove(&key).ok_or_else(|| GraphError::not_found(""))?;
        let id = sp.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
        for assignment in self.assignments_by_resource.remove(&key).into_iter().flatten() {
            self.remove_assignment(assignment);
        }
        if let Some(app_id) = sp.get("appId").and_then(Value::as_str) {
            self.sp_by_app_id.remove(app_id);
        }
        self.unregister(&id);
        self.log(ObjectKind::ServicePrincipal, key, &id, crate::directory::ChangeKind::Deleted);
        Ok(())
    }

    /// `POST /servicePrincipals/{id}/appRoleAssignedTo` (§2.4): `resourceId` must be the URL's
    /// service principal, `appRoleId` one of its roles (or the default role when it has none), the
    /// principal a user, group or service principal, and the assignment new.
    pub fn assign(
        &mut self,
        resource: Key,
        body: &Map<String, Value>,
        random: [u8; 16],
        now: Timestamp,
    ) -> Result<Key, GraphError> {
        for name in body.keys() {
            if !matches!(name.as_str(), "principalId" | "resourceId" | "appRoleId" | "principalType") {
                return Err(GraphError::unknown_property(name));
            }
        }
        let field = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
        let sp = self.service_principals.get(&resource).ok_or_else(|| GraphError::not_found(""))?.clone();
        let sp_id = sp.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
        let (Some(principal_id), Some(resource_id), Some(app_role_id)) =
            (field("principalId"), field("resourceId"), field("appRoleId"))
        else {
            return Err(GraphError::bad_request("One or more properties are invalid."));
        };
        // "Not a valid reference update." when the ids don't line up (§2.4).
        if resource_id != sp_id {
            return Err(GraphError::bad_request("Not a valid reference update."));
        }
        let (kind, principal) = self.lookup(&principal_id).ok_or_else(|| GraphError::not_found(&principal_id))?;
        let principal_type = match kind {
            ObjectKind::User => "User",
            ObjectKind::Group => "Group",
            ObjectKind::ServicePrincipal => "ServicePrincipal",
            ObjectKind::Application => return Err(GraphError::bad_request("Not a valid reference update.")),
        };
        let roles = sp.get("appRoles").and_then(Value::as_array).cloned().unwrap_or_default();
        let role_known = roles.iter().any(|r| r.get("id").and_then(Value::as_str) == Some(app_role_id.as_str()))
            || (roles.is_empty() && app_role_id == DEFAULT_ACCESS_ROLE);
        if !role_known {
            let app_id = sp.get("appId").and_then(Value::as_str).unwrap_or_default();
            return Err(GraphError::bad_request(format!(
                "Permission being assigned was not found on application '{app_id}'."
            )));
        }
        let duplicate = self.assignments_by_principal.get(&principal).into_iter().flatten().any(|k| {
            self.assignments.get(k).is_some_and(|a| {
                a.get("resourceId").and_then(Value::as_str) == Some(sp_id.as_str())
                    && a.get("appRoleId").and_then(Value::as_str) == Some(app_role_id.as_str())
            })
        });
        if duplicate {
            return Err(GraphError::bad_request("Permission being assigned already exists on the object."));
        }
        let principal_name =
            self.object(kind, principal).and_then(|o| o.get("displayName")).cloned().unwrap_or(Value::Null);
        let assignment = json!({
            "id": assignment_id(&principal_id, random),
            "deletedDateTime": null,
            "appRoleId": app_role_id,
            "createdDateTime": now.strftime("%Y-%m-%dT%H:%M:%S%.7fZ").to_string(),
            "principalDisplayName": principal_name,
            "principalId": principal_id,
            "principalType": principal_type,
            "resourceDisplayName": sp.get("displayName").cloned().unwrap_or(Value::Null),
            "resourceId": sp_id,
        });
        let key = self.key();
        self.insert_assignment(key, principal, resource, assignment.as_object().cloned().unwrap_or_default());
        Ok(key)
    }

    /// Assignments made on a service principal.
    pub fn assignments_on(&self, resource: Key) -> impl Iterator<Item = (Key, &Map<String, Value>)> {
        self.assignments_by_resource
            .get(&resource)
            .into_iter()
            .flatten()
            .filter_map(|k| self.assignments.get(k).map(|a| (*k, a)))
    }

    /// Assignments of a principal.
    pub fn assignments_of(&self, principal: Key) -> impl Iterator<Item = (Key, &Map<String, Value>)> {
        self.assignments_by_principal
            .get(&principal)
            .into_iter()
            .flatten()
            .filter_map(|k| self.assignments.get(k).map(|a| (*k, a)))
    }
}

/// 43 characters of unpadded base64url over 32 bytes: the principal's GUID in .NET byte order, then
/// 16 opaque bytes (§2.4, verified by computation against the docs' example).
pub fn assignment_id(principal_id: &str, random: [u8; 16]) -> String {
    let mut bytes = uuid::Uuid::parse_str(principal_id).map(|u| u.to_bytes_le()).unwrap_or_default().to_vec();
    bytes.extend_from_slice(&random);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_ids_begin_with_the_principal_in_dotnet_byte_order() {
        let id = assignment_id("33ad69f9-da99-4bed-acd0-3f24235cb296", [0; 16]);
        assert_eq!(id.len(), 43);
        assert!(id.starts_with("-WmtM5na7Uus0D8kI1yyl"), "{id}");
    }
}
