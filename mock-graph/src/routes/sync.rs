//! Graph's synchronization API for the provisioning service (entra-provisioning.md §7), and
//! `/auditLogs/provisioning` (§6).

use std::collections::BTreeMap;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{Collection, Source, annotated_object, context, json_response, list, query};
use crate::apps::AWS_TEMPLATE_ID;
use crate::directory::{Key, ObjectKind};
use crate::error::GraphError;
use crate::middleware::RequestContext;
use crate::provisioning::cycle::{self, Secrets, Subjects};
use crate::provisioning::job::{Code, Job, ScheduleState};
use crate::provisioning::scim::Target;
use crate::provisioning::template::{self, RULE_ID, TEMPLATE_ID};
use crate::schema::{
    BodyShape, PROVISION_ON_DEMAND_BODY, PROVISIONING_OBJECT_SUMMARY, RESTART_BODY, SECRETS_BODY,
    SYNCHRONIZATION_JOB_BODY, SYNCHRONIZATION_SCHEMA_BODY, VALIDATE_CREDENTIALS_BODY,
};
use crate::state::{AppState, World};
use scenarios::journal::is_credential_name;

/// The secret keys Graph knows (§7.4).
const SECRET_KEYS: &[&str] = &[
    "None",
    "UserName",
    "Password",
    "SecretToken",
    "AppKey",
    "BaseAddress",
    "ClientIdentifier",
    "ClientSecret",
    "SingleSignOnType",
    "Sandbox",
    "Url",
    "Domain",
    "ConsumerKey",
    "ConsumerSecret",
    "TokenKey",
    "TokenExpiration",
    "Oauth2AccessToken",
    "Oauth2AccessTokenCreationTime",
    "Oauth2RefreshToken",
    "SyncAll",
    "InstanceName",
    "Oauth2ClientId",
    "Oauth2ClientSecret",
    "CompanyId",
    "UpdateKeyOnSoftDelete",
    "SynchronizationSchedule",
    "SystemOfRecord",
    "SandboxName",
    "EnforceDomain",
    "SyncNotificationSettings",
    "SkipOutOfScopeDeletions",
    "Oauth2AuthorizationCode",
    "Oauth2RedirectUri",
    "ApplicationTemplateIdentifier",
    "Oauth2TokenExchangeUri",
    "Oauth2AuthorizationUri",
    "AuthenticationType",
    "Server",
    "PerformInboundEntitlementGrants",
    "HardDeletesEnabled",
    "SyncAgentCompatibilityKey",
    "SyncAgentADContainer",
    "ValidateDomain",
    "TestReferences",
    "ConnectionString",
];

/// An action's body, which may be left out (`restart` without criteria, `validateCredentials`).
fn optional_object(body: &Bytes, shape: &BodyShape) -> Result<Map<String, Value>, GraphError> {
    if body.iter().all(u8::is_ascii_whitespace) { Ok(Map::new()) } else { annotated_object(body, shape) }
}

fn sp(world: &World, id: &str) -> Result<Key, GraphError> {
    world.directory.service_principal_key(id).ok_or_else(|| GraphError::not_found(id))
}

fn job_mut<'a>(world: &'a mut World, sp_id: &str, job_id: &str) -> Result<&'a mut Job, GraphError> {
    sp(world, sp_id)?;
    world
        .provisioning
        .jobs
        .get_mut(job_id)
        .filter(|j| j.service_principal_id == sp_id)
        .ok_or_else(|| GraphError::not_found(job_id))
}

fn is_aws(world: &World, key: Key) -> bool {
    world.directory.service_principals.get(&key).and_then(|s| s.get("applicationTemplateId")).and_then(Value::as_str)
        == Some(AWS_TEMPLATE_ID)
}

/// `GET /servicePrincipals/{id}/synchronization/templates`.
pub async fn templates_list(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let world = state.world();
    let key = sp(&world, &id)?;
    let value = if is_aws(&world, key) { vec![template::template(AWS_TEMPLATE_ID)] } else { Vec::new() };
    let body = json!({"@odata.context": context(&ctx, &format!("servicePrincipals('{id}')/synchronization/templates")), "value": value});
    Ok(json_response(StatusCode::OK, body))
}

/// `POST /servicePrincipals/{id}/synchronization/jobs` `{"templateId"}` → 201, created disabled (§7).
pub async fn jobs_create(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let body = annotated_object(&body, &SYNCHRONIZATION_JOB_BODY)?;
    if let Some(other) = body.keys().find(|k| *k != "templateId") {
        return Err(GraphError::unknown_property(other));
    }
    let template_id = body
        .get("templateId")
        .and_then(Value::as_str)
        .ok_or_else(|| GraphError::invalid_value("templateId", "SynchronizationJob"))?;
    let mut world = state.world();
    let key = sp(&world, &id)?;
    if template_id != TEMPLATE_ID || !is_aws(&world, key) {
        return Err(GraphError::bad_request(format!(
            "The synchronization template '{template_id}' was not found for this service principal."
        )));
    }
    let app_id = world
        .directory
        .service_principals
        .get(&key)
        .and_then(|s| s.get("appId"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    // `{templateId}.{tenant id as 32 hex}.{appId}` (§1).
    let job_id = format!("{TEMPLATE_ID}.{}.{app_id}", world.tenant.id.replace('-', ""));
    if world.provisioning.jobs.contains_key(&job_id) {
        return Err(GraphError::new(
            StatusCode::CONFLICT,
            "Request_BadRequest",
            format!("A synchronization job for template '{template_id}' already exists."),
        ));
    }
    let job = Job::new(job_id.clone(), TEMPLATE_ID.to_owned(), id.clone(), template::default_schema());
    let mut answer = job.to_json(&world.switches.cycle_interval);
    world.provisioning.jobs.insert(job_id, job);
    answer["@odata.context"] = json!(context(&ctx, &format!("servicePrincipals('{id}')/synchronization/jobs/$entity")));
    Ok(json_response(StatusCode::CREATED, answer))
}

/// `GET /servicePrincipals/{id}/synchronization/jobs`.
pub async fn jobs_list(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let world = state.world();
    sp(&world, &id)?;
    let value: Vec<Value> = world
        .provisioning
        .jobs
        .values()
        .filter(|j| j.service_principal_id == id)
        .map(|j| j.to_json(&world.switches.cycle_interval))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({"@odata.context": context(&ctx, &format!("servicePrincipals('{id}')/synchronization/jobs")), "value": value}),
    ))
}

/// `GET /servicePrincipals/{id}/synchronization/jobs/{jobId}`.
pub async fn jobs_get(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path((id, job_id)): Path<(String, String)>,
) -> Result<Response, GraphError> {
    let mut world = state.world();
    let interval = world.switches.cycle_interval.clone();
    let job = job_mut(&mut world, &id, &job_id)?;
    let mut answer = job.to_json(&interval);
    answer["@odata.context"] = json!(context(&ctx, &format!("servicePrincipals('{id}')/synchronization/jobs/$entity")));
    Ok(json_response(StatusCode::OK, answer))
}

/// `DELETE …/jobs/{jobId}`: stops it and drops its state (§7).
pub async fn jobs_delete(
    State(state): State<AppState>,
    Path((id, job_id)): Path<(String, String)>,
) -> Result<Response, GraphError> {
    let mut world = state.world();
    job_mut(&mut world, &id, &job_id)?;
    world.provisioning.jobs.remove(&job_id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn saved_secrets(world: &World, sp_id: &str) -> Secrets {
    Secrets::from_pairs(world.provisioning.secrets.get(sp_id).map(Vec::as_slice).unwrap_or(&[]))
}

/// `POST …/jobs/{jobId}/start` → 204: schedules the initial cycle now and lifts quarantine (§7).
pub async fn jobs_start(
    State(state): State<AppState>,
    Path((id, job_id)): Path<(String, String)>,
) -> Result<Response, GraphError> {
    let mut world = state.world();
    let secrets = saved_secrets(&world, &id);
    if secrets.base_address.is_none() || secrets.secret_token.is_none() {
        return Err(GraphError::bad_request(
            "The job cannot be started before its credentials (BaseAddress, SecretToken) are saved.",
        ));
    }
    let now = world.core.clock.now();
    let job = job_mut(&mut world, &id, &job_id)?;
    job.schedule_state = ScheduleState::Active;
    job.quarantine = None;
    job.code = if job.last_execution.is_none() { Code::NotRun } else { Code::Active };
    if job.next_run.is_none_or(|at| at > now) {
        job.next_run = Some(now);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST …/jobs/{jobId}/pause` → 204: no further cycles; progress kept (§7).
pub async fn jobs_pause(
    State(state): State<AppState>,
    Path((id, job_id)): Path<(String, String)>,
) -> Result<Response, GraphError> {
    let mut world = state.world();
    let job = job_mut(&mut world, &id, &job_id)?;
    job.schedule_state = ScheduleState::Paused;
    job.code = Code::Paused;
    job.next_run = None;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST …/jobs/{jobId}/restart` `{"criteria":{"resetScope":"…"}}` → 204 (§7.3). Without criteria it
/// acts as the portal's "Restart provisioning": `QuarantineState, Watermark, Escrows`.
pub async fn jobs_restart(
    State(state): State<AppState>,
    Path((id, job_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let body = optional_object(&body, &RESTART_BODY)?;
    let scope = body
        .get("criteria")
        .and_then(|c| c.get("resetScope"))
        .and_then(Value::as_str)
        .unwrap_or("QuarantineState, Watermark, Escrows");
    let mut flags = Vec::new();
    for flag in scope.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        if !["None", "ConnectorDataStore", "Escrows", "Watermark", "QuarantineState", "Full", "ForceDeletes"]
            .contains(&flag)
        {
            return Err(GraphError::invalid_value("resetScope", "SynchronizationJobRestartCriteria"));
        }
        flags.push(flag);
    }
    let mut world = state.world();
    let now = world.core.clock.now();
    let job = job_mut(&mut world, &id, &job_id)?;
    let has = |f: &str| flags.contains(&f) || flags.contains(&"Full");
    if has("Watermark") {
        job.watermark = None;
    }
    if has("Escrows") {
        job.escrows.clear();
        job.escrows_pruned = false;
    }
    if has("QuarantineState") {
        job.quarantine = None;
    }
    // ConnectorDataStore (and so Full) breaks the source↔target links (§7.3).
    if has("ConnectorDataStore") {
        job.users.clear();
        job.groups.clear();
        job.watermark = None;
    }
    if flags.contains(&"ForceDeletes") {
        job.deletes_approved = true;
    }
    job.schedule_state = ScheduleState::Active;
    job.code = if job.last_execution.is_none() { Code::NotRun } else { Code::Active };
    job.next_run = Some(now);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET …/jobs/{jobId}/schema`.
pub async fn schema_get(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path((id, job_id)): Path<(String, String)>,
) -> Result<Response, GraphError> {
    let mut world = state.world();
    let job = job_mut(&mut world, &id, &job_id)?;
    let mut schema = job.schema.clone();
    schema["@odata.context"] =
        json!(context(&ctx, &format!("servicePrincipals('{id}')/synchronization/jobs('{job_id}')/schema/$entity")));
    Ok(json_response(StatusCode::OK, schema))
}

/// `PUT …/jobs/{jobId}/schema` → 204; every problem listed on refusal; a change of mappings starts
/// a new initial cycle (§3.3).
pub async fn schema_put(
    State(state): State<AppState>,
    Path((id, job_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let schema = Value::Object(annotated_object(&body, &SYNCHRONIZATION_SCHEMA_BODY)?);
    template::read_mappings(&schema)
        .map_err(|problems| GraphError::bad_request(format!("The schema is invalid: {}", problems.join("; "))))?;
    let mut world = state.world();
    let job = job_mut(&mut world, &id, &job_id)?;
    if job.schema != schema {
        job.schema = schema;
        job.watermark = None;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET …/jobs/{jobId}/schema/filterOperators` (§2.3).
pub async fn filter_operators(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path((id, job_id)): Path<(String, String)>,
) -> Result<Response, GraphError> {
    let mut world = state.world();
    job_mut(&mut world, &id, &job_id)?;
    let operator = |name: &str, arity: &str, types: &[&str]| json!({"name": name, "arity": arity, "multivaluedComparisonType": "All", "supportedAttributeTypes": types});
    let value = vec![
        operator("EQUALS", "Binary", &["String", "Integer", "Reference", "Boolean"]),
        operator("NOT EQUALS", "Binary", &["String", "Integer", "Reference", "Boolean"]),
        operator("Includes", "Binary", &["String"]),
        operator("ENDS_WITH", "Binary", &["String"]),
        operator("IS TRUE", "Unary", &["Boolean"]),
        operator("IS FALSE", "Unary", &["Boolean"]),
        operator("IS NULL", "Unary", &["String", "Integer", "Reference", "Boolean"]),
        operator("IS NOT NULL", "Unary", &["String", "Integer", "Reference", "Boolean"]),
        operator("Greater_Than", "Binary", &["Integer"]),
        operator("Greater_Than_OR_EQUALS", "Binary", &["Integer"]),
        operator("&", "Binary", &["Integer"]),
        operator("!&", "Binary", &["Integer"]),
        operator("REGEX MATCH", "Binary", &["String"]),
        operator("NOT REGEX MATCH", "Binary", &["String"]),
    ];
    Ok(json_response(
        StatusCode::OK,
        json!({"@odata.context": context(&ctx, "Collection(microsoft.graph.filterOperatorSchema)"), "value": value}),
    ))
}

fn pairs(body: &Map<String, Value>, field: &str) -> Result<Vec<(String, String)>, GraphError> {
    let list = body
        .get(field)
        .and_then(Value::as_array)
        .ok_or_else(|| GraphError::invalid_value(field, "SynchronizationSecretKeyStringValuePair"))?;
    list.iter()
        .map(|pair| {
            let key = pair
                .get("key")
                .and_then(Value::as_str)
                .ok_or_else(|| GraphError::invalid_value("key", "SynchronizationSecretKeyStringValuePair"))?;
            let canonical = SECRET_KEYS
                .iter()
                .find(|k| k.eq_ignore_ascii_case(key))
                .ok_or_else(|| GraphError::invalid_value("key", "SynchronizationSecretKeyStringValuePair"))?;
            let value = match pair.get("value") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            Ok(((*canonical).to_owned(), value))
        })
        .collect()
}

/// `PUT /servicePrincipals/{id}/synchronization/secrets` `{"value":[{key,value}…]}` → 204 (§7.4).
pub async fn secrets_put(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let body = annotated_object(&body, &SECRETS_BODY)?;
    let new = pairs(&body, "value")?;
    let mut world = state.world();
    sp(&world, &id)?;
    let saved = world.provisioning.secrets.entry(id).or_default();
    let mut merged: BTreeMap<String, String> = saved.drain(..).collect();
    merged.extend(new);
    *saved = merged.into_iter().collect();
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /servicePrincipals/{id}/synchronization/secrets`: every key saved, the value of a
/// credential-shaped one as null (the journal's rule, [`scenarios::journal::is_credential_name`]:
/// `SecretToken`, `Password`, `ClientSecret`, `ConsumerSecret`, `AppKey`, `TokenKey`, the `Oauth2…`
/// tokens, secret and authorization code, `ConnectionString`). Inferred: §7.4 documents the PUT, and
/// says only that a GET returns the current secrets; Graph hides credentials elsewhere.
pub async fn secrets_get(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let world = state.world();
    sp(&world, &id)?;
    let value: Vec<Value> = world
        .provisioning
        .secrets
        .get(&id)
        .into_iter()
        .flatten()
        .map(|(k, v)| json!({"key": k, "value": if is_credential_name(k) { Value::Null } else { json!(v) }}))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({"@odata.context": context(&ctx, "Collection(microsoft.graph.synchronizationSecretKeyStringValuePair)"), "value": value}),
    ))
}

/// `POST …/jobs/{jobId}/validateCredentials` → 204, or 400 with Entra's wording (§4.5, Test
/// Connection): the random-GUID probe against the given (or saved) credentials.
pub async fn validate_credentials(
    State(state): State<AppState>,
    Path((id, job_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let body = optional_object(&body, &VALIDATE_CREDENTIALS_BODY)?;
    let (secrets, settings, guid) = {
        let mut world = state.world();
        job_mut(&mut world, &id, &job_id)?;
        let use_saved = body.get("useSavedCredentials").and_then(Value::as_bool).unwrap_or(false)
            || body.get("credentials").is_none();
        let secrets =
            if use_saved { saved_secrets(&world, &id) } else { Secrets::from_pairs(&pairs(&body, "credentials")?) };
        (secrets, world.engine_settings(), world.uuid())
    };
    let (Some(base), Some(token)) = (secrets.base_address, secrets.secret_token) else {
        return Err(GraphError::bad_request(
            "Please provide a valid tenant URL and secret token for your application.",
        )
        .with_code("SystemForCrossDomainIdentityManagementCredentialValidationUnavailable"));
    };
    let target = Target::new(&base, &token, settings.client.clone(), settings.timeout, 1).map_err(|err| {
        GraphError::bad_request(err.to_string())
            .with_code("SystemForCrossDomainIdentityManagementCredentialValidationUnavailable")
    })?;
    match cycle::probe(&target, &guid).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err((reply, code, message)) => {
            let detail = match reply.status() {
                Some(status) => format!("{message} The SCIM endpoint answered HTTP {status}: {}", reply.text()),
                None => format!("{message} {}", reply.text()),
            };
            Err(GraphError::bad_request(detail).with_code(code))
        }
    }
}

/// `POST …/jobs/{jobId}/provisionOnDemand` (§5.4, §7.5): one user, or one group with at most five
/// members; five requests per ten seconds.
pub async fn provision_on_demand(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path((id, job_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let body = annotated_object(&body, &PROVISION_ON_DEMAND_BODY)?;
    let parameters = body
        .get("parameters")
        .and_then(Value::as_array)
        .ok_or_else(|| GraphError::invalid_value("parameters", "SynchronizationJobApplicationParameters"))?;
    let [parameter] = parameters.as_slice() else {
        return Err(GraphError::bad_request("Provision on demand takes exactly one parameter."));
    };
    let rule = parameter.get("ruleId").and_then(Value::as_str).unwrap_or_default();
    if rule.trim_end_matches("#V2") != RULE_ID {
        return Err(GraphError::invalid_value("ruleId", "SynchronizationJobApplicationParameters"));
    }
    let subjects = parameter.get("subjects").and_then(Value::as_array).cloned().unwrap_or_default();
    let [subject] = subjects.as_slice() else {
        return Err(GraphError::bad_request("Provision on demand takes exactly one subject."));
    };
    let object_id = subject.get("objectId").and_then(Value::as_str).unwrap_or_default().to_owned();
    let kind = subject.get("objectTypeName").and_then(Value::as_str).unwrap_or_default();
    let members: Vec<String> = subject["links"]["members"]
        .as_array()
        .map(|m| m.iter().filter_map(|x| x.get("objectId").and_then(Value::as_str).map(str::to_owned)).collect())
        .unwrap_or_default();
    let settings = {
        let mut world = state.world();
        job_mut(&mut world, &id, &job_id)?;
        let now = world.core.clock.now();
        world.provisioning.admit_on_demand(now).map_err(|retry_after| GraphError::throttled(Some(retry_after)))?;
        match (kind, world.directory.lookup(&object_id)) {
            ("User", Some((ObjectKind::User, _))) => {}
            ("Group", Some((ObjectKind::Group, _))) if members.len() <= 5 => {}
            ("Group", Some((ObjectKind::Group, _))) => {
                return Err(GraphError::bad_request(
                    "Provision on demand accepts a single group with up to 5 members.",
                ));
            }
            _ => return Err(GraphError::not_found(&object_id)),
        }
        world.engine_settings()
    };
    let subjects = if kind == "User" {
        Subjects { users: vec![object_id], groups: Vec::new() }
    } else {
        Subjects { users: Vec::new(), groups: vec![object_id] }
    };
    let outcome = cycle::on_demand(&state, &job_id, &settings, subjects, members).await.map_err(|err| {
        GraphError::bad_request(err.to_string())
            .with_code("SystemForCrossDomainIdentityManagementCredentialValidationUnavailable")
    })?;
    let key = json!({"result": outcome.result, "details": outcome.details});
    // A group's success answers "{}" (entra-provisioning.md §7.5); otherwise the on-demand log.
    let value = match (kind, outcome.result) {
        ("Group", "Success") => json!({}),
        _ => outcome.entries.first().map(on_demand_value).unwrap_or_else(|| json!({})),
    };
    let body = json!({
        "@odata.context": context(&ctx, "microsoft.graph.stringKeyStringValuePair"),
        "key": key.to_string(),
        "value": value.to_string(),
    });
    Ok(json_response(StatusCode::OK, body))
}

fn pascal(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// A log entry in provisionOnDemand's own shape: PascalCase step types and statuses, `statusInfo`,
/// `reportableIdentifier`, identities with a `type` (entra-provisioning.md §7.5).
fn on_demand_value(entry: &Value) -> Value {
    let status = &entry["provisioningStatusInfo"];
    let error = &status["errorInformation"];
    let identity_type = entry["sourceIdentity"]["identityType"].as_str().unwrap_or("User");
    let target_type = if identity_type == "Group" {
        crate::provisioning::template::GROUP_TARGET
    } else {
        crate::provisioning::template::USER_TARGET
    };
    let at = entry["activityDateTime"].clone();
    let steps: Vec<Value> = entry["provisioningSteps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|step| {
            json!({
                "name": step["name"],
                "type": pascal(step["provisioningStepType"].as_str().unwrap_or_default()),
                "status": pascal(step["status"].as_str().unwrap_or_default()),
                "description": step["description"],
                "timestamp": at,
                "details": step["details"],
            })
        })
        .collect();
    json!({
        "action": pascal(entry["provisioningAction"].as_str().unwrap_or("other")),
        "changeId": entry["changeId"],
        "endTime": at,
        "modifiedProperties": entry["modifiedProperties"],
        "provisioningSteps": steps,
        "reportableIdentifier": entry["sourceIdentity"]["displayName"],
        "startTime": at,
        "statusInfo": {
            "status": pascal(status["status"].as_str().unwrap_or_default()),
            "errorCode": error["errorCode"],
            "reason": error["reason"],
            "additionalDetails": error["additionalDetails"],
            "errorCategory": error["errorCategory"],
            "recommendedAction": error["recommendedAction"],
        },
        "sourceIdentity": {"id": entry["sourceIdentity"]["id"], "type": identity_type, "displayName": entry["sourceIdentity"]["displayName"], "details": {}},
        "sourceSystem": {"id": entry["sourceSystem"]["id"], "name": entry["sourceSystem"]["displayName"], "details": {}},
        "targetIdentity": {"id": entry["targetIdentity"]["id"], "type": target_type, "displayName": entry["targetIdentity"]["displayName"], "details": {}},
        "targetSystem": {"id": entry["targetSystem"]["id"], "name": entry["targetSystem"]["displayName"], "details": entry["targetSystem"]["details"]},
    })
}

/// `GET /auditLogs/provisioning`, newest first, with `$filter`, `$top` and paging (§6.1).
pub async fn provisioning_logs(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, GraphError> {
    let options = query(&uri)?;
    let mut world = state.world();
    let (now, retention) = (world.core.clock.now(), world.switches.provisioning_log_retention_days);
    world.provisioning.expire_logs(now, retention);
    // Newest first: key 1 is the newest entry. Entries are written out as JSON only for the page a
    // plain listing shows, or all of them when a filter or an order must read every one.
    let logs = &world.provisioning.logs;
    let len = Key::try_from(logs.len()).unwrap_or(Key::MAX);
    let keys = super::plain_page(&options)?.unwrap_or(1..=len);
    let written: Vec<(Key, Value)> = keys
        .take_while(|key| *key <= len)
        .filter_map(|key| Some((key, logs.get(usize::try_from(len - key).ok()?)?.to_json())))
        .collect();
    let items: Vec<_> =
        written.iter().filter_map(|(key, entry)| entry.as_object().map(|o| (*key, ObjectKind::User, o))).collect();
    let collection = Collection::of(&PROVISIONING_OBJECT_SUMMARY, "auditLogs/provisioning", Source::List(items))
        .projected_as(&PROVISIONING_OBJECT_SUMMARY);
    list(&ctx, &headers, uri.path(), &options, collection)
}
