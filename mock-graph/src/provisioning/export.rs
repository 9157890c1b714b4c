//! Talking to the target: the credential probe, then per object the matching query, create,
//! update, disable or delete, group memberships in chunks, and manager references
//! (entra-provisioning.md §4.2–§4.6).
//!
//! An export of one object reads the plan's read-only part ([`Fixed`]) and writes only its own
//! object's entries in a ledger (links, escrow) and an [`Outcome`]: what it needs of other objects
//! comes in as arguments read before its phase began, and what it means for other objects' entries
//! (an AWS user found deleted leaves every group) goes out in the outcome, applied at the merge. So
//! exports of objects in different lanes can run at once (`lane`).

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::cycle::{MEMBER_CHUNK, TARGET_NAME};
use super::job::{Escrow, GroupLink, UserLink};
use super::lane::Elsewhere;
use super::logs::{Draft, Failure, Step, error_code};
use super::mapping::set_path;
use super::plan::{Fixed, GroupWork, Ledger, UserWork};
use super::scim::{Reply, Target, eq_filter};
use crate::state::DuplicateGroupNames;

/// What a cycle did, to be recorded; or what one export did, to be merged into the cycle's.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) drafts: Vec<Draft>,
    pub(crate) entitled: usize,
    pub(crate) exported: usize,
    pub(crate) exports: usize,
    pub(crate) failures: usize,
    pub(crate) reference_failures: usize,
    /// AWS user ids an export found deleted in AWS, to be dropped from every group's tracked
    /// members when the export is merged (other objects' entries: see [`Ledger::forget_member`]).
    pub(crate) gone_members: Vec<String>,
}

impl Outcome {
    /// Adds what a later export did: its drafts after these, its counts to these. Its
    /// `gone_members` are the merge's to apply, not kept.
    pub(crate) fn append(&mut self, later: Outcome) {
        self.drafts.extend(later.drafts);
        self.entitled += later.entitled;
        self.exported += later.exported;
        self.exports += later.exports;
        self.failures += later.failures;
        self.reference_failures += later.reference_failures;
    }
}

pub(crate) fn reason(verb: &str, kind: &str, name: &str, reply: &Reply) -> String {
    match reply {
        Reply::Http { status, body, .. } => format!(
            "Failed to {verb} {kind} '{name}' in {TARGET_NAME}. The SCIM endpoint returned HTTP {status}. Response body: {body}"
        ),
        Reply::Transport(message) => format!("Failed to {verb} {kind} '{name}' in {TARGET_NAME}. {message}"),
    }
}

pub(crate) fn failure(verb: &str, kind: &str, name: &str, reply: &Reply) -> Failure {
    let (code, category) = error_code(reply.status());
    Failure { code: code.to_owned(), reason: reason(verb, kind, name, reply), category }
}

/// The probe Entra makes at the start of every cycle and for Test Connection: a user that cannot
/// exist, expecting 200 and an empty list (§4.5).
pub async fn probe(target: &Target, guid: &str) -> Result<(), (Reply, &'static str, &'static str)> {
    let filter = eq_filter("userName", guid);
    let replies = target.send(Method::GET, "Users", &[("filter", &filter)], None).await;
    let reply = last_reply(&replies);
    match reply.status() {
        Some(200) => Ok(()),
        Some(401 | 403) => Err((
            reply,
            "SystemForCrossDomainIdentityManagementInvalidCredentials",
            "You appear to have entered invalid credentials. Please confirm you are using the correct information for an administrative account.",
        )),
        None => Err((reply, "CredentialValidationUnavailable", "An error occured while sending the request.")),
        Some(_) => Err((
            reply,
            "SystemForCrossDomainIdentityManagementServiceIncompatible",
            "The SCIM endpoint did not answer the credential probe with 200 and an empty list.",
        )),
    }
}

/// The diff between what should be and what was exported: PATCH operations for changed values only,
/// `Add` where nothing was there, `Replace` otherwise (§4.5, inferred rule); nulls are never sent.
pub(crate) fn operations(
    target: &Target,
    desired: &BTreeMap<String, String>,
    current: &BTreeMap<String, String>,
) -> Vec<Value> {
    let mut ops = Vec::new();
    for (path, value) in desired {
        let old = current.get(path);
        if old.is_some_and(|o| o == value || (path == "active" && o.eq_ignore_ascii_case(value))) {
            continue;
        }
        let op = if old.is_some() { "Replace" } else { "Add" };
        ops.push(json!({ "op": target.op(op), "path": path, "value": target.patch_value(path, value) }));
    }
    ops
}

pub(crate) fn build_resource(
    desired: &BTreeMap<String, String>,
    create_only: &BTreeMap<String, String>,
    schemas: Value,
) -> Value {
    let mut resource = Map::new();
    resource.insert("schemas".into(), schemas);
    for (path, value) in create_only.iter().chain(desired) {
        set_path(&mut resource, path, value);
    }
    Value::Object(resource)
}

/// What the target holds of a linked object, read back by its id.
pub(crate) enum Held {
    /// The resource.
    Found(Value),
    /// 404: the object is gone from the target.
    Gone,
    /// Any other answer, or none.
    Failed(Reply),
}

/// Reads a linked object by the id cached when it was created or matched (§4.2 step 4, §4.5 "Get
/// user by id"). Group reads exclude members (§4.5): Entra never re-reads them (§4.3).
pub(crate) async fn read_linked(target: &Target, collection: &str, id: &str) -> Held {
    let query: &[(&str, &str)] = if collection == "Groups" { &[("excludedAttributes", "members")] } else { &[] };
    let replies = target.send(Method::GET, &format!("{collection}/{id}"), query, None).await;
    let reply = last_reply(&replies);
    match reply.json() {
        _ if reply.status() == Some(404) => Held::Gone,
        Some(resource) if reply.ok() && resource.is_object() => Held::Found(resource),
        _ => Held::Failed(reply),
    }
}

/// The values a target resource holds at the desired paths: what a diff starts from.
pub(crate) fn values_held(desired: &BTreeMap<String, String>, resource: &Value) -> BTreeMap<String, String> {
    desired.keys().filter_map(|p| super::mapping::get_path(resource, p).map(|v| (p.clone(), v))).collect()
}

/// Exports one user: its ledger entries are in `ledger`.
pub(crate) async fn export_user(
    target: &Target,
    fixed: &Fixed,
    ledger: &mut Ledger,
    work: &UserWork,
    out: &mut Outcome,
) {
    let link = ledger.users.get(&work.id).cloned();
    let mut steps = vec![Step::new(
        format!("EntryImport{}", work.import_kind),
        "import",
        "success",
        format!("Received User '{}' change of type ({}) from Azure Active Directory", work.upn, work.import_kind),
    )];
    let scoping_status = if work.in_scope { "success" } else { "skipped" };
    steps.push(Step::new(
        "EntrySynchronizationScoping",
        "scoping",
        scoping_status,
        "Determine if User in scope by evaluating against each scoping filter",
    ));
    let mut draft = Draft {
        action: "other",
        status: "skipped",
        identity_type: "User",
        source_id: work.id.clone(),
        source_name: work.upn.clone(),
        target_id: link.as_ref().map(|l| l.target_id.clone()).unwrap_or_default(),
        target_name: String::new(),
        steps,
        error: None,
        modified: work.modified.clone(),
    };
    if work.purged {
        // Hard-deleted in Entra: DELETE in the target, for a user still managed (§4.4).
        let Some(link) = link.filter(|l| l.managed) else { return };
        let replies = target.send(Method::DELETE, &format!("Users/{}", link.target_id), &[], None).await;
        out.exports += replies.len();
        let reply = last_reply(&replies);
        draft.action = "delete";
        if reply.ok() || reply.status() == Some(404) {
            draft.status = "success";
            draft.steps.push(Step::new(
                "EntryExportDelete",
                "export",
                "success",
                format!("User '{}' was deleted in {TARGET_NAME}", work.upn),
            ));
            ledger.users.remove(&work.id);
            ledger.escrows.remove(&work.id);
            out.exported += 1;
            out.drafts.push(draft);
        } else {
            fail(ledger, out, draft, "delete", "User", &work.upn, &work.id, &reply);
        }
        return;
    }
    let already_disabled =
        |link: &UserLink| link.exported.get("active").is_some_and(|v| v.eq_ignore_ascii_case("false"));
    if !work.in_scope {
        match link {
            // Leaving scope (unassigned, disabled, deleted) disables a managed user (§4.4).
            Some(link) if link.managed && !already_disabled(&link) && !fixed.secrets.skip_out_of_scope_deletions => {
                if fixed.secrets.delete_threshold.is_some() && !fixed.deletes_approved && fixed.staged_deletes {
                    draft.action = "stagedDelete";
                    draft.status = "skipped";
                    out.drafts.push(draft);
                    return;
                }
                let ops = vec![
                    json!({"op": target.op("Replace"), "path": "active", "value": target.patch_value("active", "False")}),
                ];
                let replies = target
                    .send(Method::PATCH, &format!("Users/{}", link.target_id), &[], Some(&Target::patch(ops)))
                    .await;
                out.exports += replies.len();
                let reply = last_reply(&replies);
                draft.action = "disable";
                if reply.ok() {
                    draft.status = "success";
                    draft.steps.push(Step::new(
                        "EntryExportUpdateSoftDelete",
                        "export",
                        "success",
                        format!("User '{}' was updated in {TARGET_NAME}", work.upn),
                    ));
                    let mut link = link;
                    // An unassigned user is no longer managed: no DELETE follows later; a disabled or
                    // soft-deleted one still is (§4.4).
                    link.managed = !matches!(work.why_out, "not assigned" | "out of the scoping filter");
                    link.exported.insert("active".into(), "False".into());
                    ledger.users.insert(work.id.clone(), link);
                    ledger.escrows.remove(&work.id);
                    out.exported += 1;
                } else {
                    fail(ledger, out, draft, "update", "User", &work.upn, &work.id, &reply);
                    return;
                }
            }
            _ => {
                draft.error = Some(Failure {
                    code: "EntrySynchronizationSkipped".into(),
                    reason: format!(
                        "User '{}' was skipped: it is {} in Azure Active Directory.",
                        work.upn, work.why_out
                    ),
                    category: "nonServiceFailure",
                });
                draft.steps.push(Step::new(
                    "EntrySynchronizationSkip",
                    "matching",
                    "skipped",
                    format!("User '{}' will be skipped: it is {}.", work.upn, work.why_out),
                ));
                ledger.escrows.remove(&work.id);
            }
        }
        out.drafts.push(draft);
        return;
    }
    out.entitled += 1;
    // An initial cycle queries the target for every in-scope user (§4.2 step 3), linked ones too: a
    // restart keeps the links (§4.1), and AWS may have been changed by hand since. A linked user is
    // read by the id §4.2 step 4 caches, "used to run all future operations on that user", rather
    // than by a userName filter, which would miss a user whose UPN changed and create a second one.
    // Incremental cycles never look: "Target-side changes are never detected" (§4.3).
    let mut link = link;
    let mut held = None;
    if fixed.read_target
        && let Some(known) = &link
    {
        match read_linked(target, "Users", &known.target_id).await {
            Held::Found(resource) => held = Some(values_held(&work.desired, &resource)),
            Held::Gone => {
                // Deleted in AWS: the link is stale, so the user is matched as if never linked and,
                // with no match, created (§4.2 step 4, "No match ⇒ create"; inferred for a stale
                // link, which an incremental cycle's export meets as `InvalidAnchor`, §6.3). AWS
                // dropped its memberships with it: every group's entry forgets it at the merge.
                ledger.users.remove(&work.id);
                out.gone_members.push(known.target_id.clone());
                draft.target_id.clear();
                link = None;
            }
            Held::Failed(reply) => {
                fail(ledger, out, draft, "query", "User", &work.upn, &work.id, &reply);
                return;
            }
        }
    }
    let (target_id, current) = match &link {
        Some(link) => (Some(link.target_id.clone()), held.clone().unwrap_or_else(|| link.exported.clone())),
        None => {
            // Match on the mapping's matching attribute, lowest priority first (§3.3, §4.2).
            let mut found = None;
            for (path, value) in &work.matching {
                let filter = eq_filter(path, value);
                let replies = target.send(Method::GET, "Users", &[("filter", &filter)], None).await;
                let reply = last_reply(&replies);
                if !reply.ok() {
                    fail(ledger, out, draft, "query", "User", &work.upn, &work.id, &reply);
                    return;
                }
                let resources = reply.json().and_then(|j| j["Resources"].as_array().cloned()).unwrap_or_default();
                match resources.len() {
                    0 => continue,
                    1 => {
                        found = Some(resources[0].clone());
                        break;
                    }
                    _ => {
                        draft.error = Some(Failure {
                            code: "DuplicateTargetEntries".into(),
                            reason: format!("More than one User in {TARGET_NAME} matches '{value}' on {path}."),
                            category: "nonServiceFailure",
                        });
                        draft.action = "other";
                        draft.status = "failure";
                        out.failures += 1;
                        escrow(ledger, &work.id, "User", "DuplicateTargetEntries");
                        out.drafts.push(draft);
                        return;
                    }
                }
            }
            match found {
                Some(resource) => (resource["id"].as_str().map(str::to_owned), values_held(&work.desired, &resource)),
                None => (None, BTreeMap::new()),
            }
        }
    };
    match target_id {
        None => {
            draft.steps.push(Step::new(
                "EntrySynchronizationAdd",
                "matching",
                "success",
                format!("User '{}' will be created in {TARGET_NAME} (User is active and assigned in Azure Active Directory, but no matching User was found in {TARGET_NAME})", work.upn),
            ));
            let body = build_resource(
                &work.desired,
                &work.create_only,
                json!([
                    "urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
                ]),
            );
            let replies = target.send(Method::POST, "Users", &[], Some(&body)).await;
            out.exports += replies.len();
            let reply = last_reply(&replies);
            draft.action = "create";
            let id = reply.json().and_then(|j| j["id"].as_str().map(str::to_owned));
            match (reply.ok(), id) {
                (true, Some(id)) => {
                    draft.status = "success";
                    draft.target_id = id.clone();
                    draft.target_name = work.upn.clone();
                    draft.steps.push(Step::new(
                        "EntryExportAdd",
                        "export",
                        "success",
                        format!("User '{}' was created in {TARGET_NAME}", work.upn),
                    ));
                    let mut exported = work.desired.clone();
                    exported.extend(work.create_only.clone());
                    ledger.users.insert(work.id.clone(), UserLink { target_id: id, exported, managed: true });
                    ledger.escrows.remove(&work.id);
                    out.exported += 1;
                }
                _ => {
                    fail(ledger, out, draft, "create", "User", &work.upn, &work.id, &reply);
                    return;
                }
            }
        }
        Some(id) => {
            draft.target_id = id.clone();
            draft.target_name = work.upn.clone();
            let ops = operations(target, &work.desired, &current);
            if ops.is_empty() {
                // "The state of the user in both the source and target systems already match." (§4.3)
                draft.steps.push(Step::new(
                    "EntrySynchronizationSkip",
                    "matching",
                    "skipped",
                    format!("The state of the user in both the source and target systems already match. No change to the User '{}' currently needs to be made.", work.upn),
                ));
                if let Some(step) = draft.steps.last_mut() {
                    step.details = json!({"SkipReason": "RedundantExport"});
                }
                draft.error = Some(Failure {
                    code: "RedundantExport".into(),
                    reason: "The state of the user in both the source and target systems already match.".into(),
                    category: "success",
                });
                ledger
                    .users
                    .insert(work.id.clone(), UserLink { target_id: id, exported: work.desired.clone(), managed: true });
                ledger.escrows.remove(&work.id);
            } else {
                draft.steps.push(Step::new(
                    "EntrySynchronizationUpdate",
                    "matching",
                    "success",
                    format!("User '{}' will be updated in {TARGET_NAME}", work.upn),
                ));
                let replies = target.send(Method::PATCH, &format!("Users/{id}"), &[], Some(&Target::patch(ops))).await;
                out.exports += replies.len();
                let reply = last_reply(&replies);
                draft.action = "update";
                if reply.ok() {
                    draft.status = "success";
                    draft.steps.push(Step::new(
                        "EntryExportUpdate",
                        "export",
                        "success",
                        format!("User '{}' was updated in {TARGET_NAME}", work.upn),
                    ));
                    ledger.users.insert(
                        work.id.clone(),
                        UserLink { target_id: id, exported: work.desired.clone(), managed: true },
                    );
                    ledger.escrows.remove(&work.id);
                    out.exported += 1;
                } else {
                    // What AWS was read to hold is what the retry diffs against, so that it repairs too.
                    if link.is_none() || held.is_some() {
                        let managed = link.as_ref().is_none_or(|l| l.managed);
                        ledger.users.insert(work.id.clone(), UserLink { target_id: id, exported: current, managed });
                    }
                    fail(ledger, out, draft, "update", "User", &work.upn, &work.id, &reply);
                    return;
                }
            }
        }
    }
    out.drafts.push(draft);
}

/// Escrows a failed object for the next cycle, counting its attempts (§5.1).
pub(crate) fn escrow(ledger: &mut Ledger, id: &str, kind: &'static str, error_code: &str) {
    let attempts = ledger.escrows.get(id).map_or(1, |e| e.attempts + 1);
    ledger.escrows.insert(id.to_owned(), Escrow { kind, attempts, error_code: error_code.to_owned() });
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn fail(
    ledger: &mut Ledger,
    out: &mut Outcome,
    mut draft: Draft,
    verb: &str,
    kind: &'static str,
    name: &str,
    id: &str,
    reply: &Reply,
) {
    let error = failure(verb, kind, name, reply);
    let step_name = match verb {
        "create" => "EntryExportAdd",
        "delete" => "EntryExportDelete",
        "query" => "EntrySynchronizationError",
        _ => "EntryExportUpdate",
    };
    draft.steps.push(Step::new(
        step_name,
        if verb == "query" { "matching" } else { "export" },
        "failure",
        format!("Failed to {verb} {kind} '{name}' in {TARGET_NAME}"),
    ));
    if draft.action == "other" {
        draft.action = if verb == "create" { "create" } else { "update" };
    }
    draft.status = "failure";
    escrow(ledger, id, kind, &error.code);
    draft.error = Some(error);
    out.failures += 1;
    out.drafts.push(draft);
}

/// Exports one group: its ledger entries are in `ledger`; `elsewhere` says which AWS groups the
/// groups outside `ledger` were linked to when the phase began.
pub(crate) async fn export_group(
    target: &Target,
    fixed: &Fixed,
    ledger: &mut Ledger,
    elsewhere: &Elsewhere<'_>,
    work: &GroupWork,
    out: &mut Outcome,
) -> Option<String> {
    let link = ledger.groups.get(&work.id).cloned();
    let steps = vec![Step::new(
        format!("EntryImport{}", work.import_kind),
        "import",
        "success",
        format!("Received Group '{}' change of type ({}) from Azure Active Directory", work.name, work.import_kind),
    )];
    let mut draft = Draft {
        action: "other",
        status: "skipped",
        identity_type: "Group",
        source_id: work.id.clone(),
        source_name: work.name.clone(),
        target_id: link.as_ref().map(|l| l.target_id.clone()).unwrap_or_default(),
        target_name: String::new(),
        steps,
        error: None,
        modified: work.modified.clone(),
    };
    if !work.in_scope {
        if let Some(link) = link {
            if fixed.secrets.skip_out_of_scope_deletions {
                return None;
            }
            // A group leaving scope is deleted in the target (§4.4, inferred request).
            let replies = target.send(Method::DELETE, &format!("Groups/{}", link.target_id), &[], None).await;
            out.exports += replies.len();
            let reply = last_reply(&replies);
            draft.action = "delete";
            if reply.ok() || reply.status() == Some(404) {
                draft.status = "success";
                draft.steps.push(Step::new(
                    "EntryExportDelete",
                    "export",
                    "success",
                    format!("Group '{}' was deleted in {TARGET_NAME}", work.name),
                ));
                ledger.groups.remove(&work.id);
                ledger.escrows.remove(&work.id);
                out.exported += 1;
                out.drafts.push(draft);
            } else {
                fail(ledger, out, draft, "delete", "Group", &work.name, &work.id, &reply);
            }
        }
        return None;
    }
    out.entitled += 1;
    // As for users: an initial cycle reads a linked group back by its id (§4.2 steps 3 to 5), its
    // attributes only; members are tracked by the job, never re-read (§4.3).
    let mut link = link;
    let mut held = None;
    if fixed.read_target
        && let Some(known) = &link
    {
        match read_linked(target, "Groups", &known.target_id).await {
            Held::Found(resource) => held = Some(values_held(&work.desired, &resource)),
            Held::Gone => {
                // Deleted in AWS: matched as if never linked, created with no match (§4.2 step 4;
                // inferred for a stale link); its members are added again from none.
                ledger.groups.remove(&work.id);
                draft.target_id.clear();
                link = None;
            }
            Held::Failed(reply) => {
                fail(ledger, out, draft, "query", "Group", &work.name, &work.id, &reply);
                return None;
            }
        }
    }
    let (target_id, current) = match &link {
        Some(link) => (Some(link.target_id.clone()), held.clone().unwrap_or_else(|| link.exported.clone())),
        None => {
            let name = work.desired.get("displayName").cloned().unwrap_or_default();
            let filter = eq_filter("displayName", &name);
            // Group reads always exclude members (§4.5).
            let replies = target
                .send(Method::GET, "Groups", &[("excludedAttributes", "members"), ("filter", &filter)], None)
                .await;
            let reply = last_reply(&replies);
            if !reply.ok() {
                fail(ledger, out, draft, "query", "Group", &work.name, &work.id, &reply);
                return None;
            }
            let resources = reply.json().and_then(|j| j["Resources"].as_array().cloned()).unwrap_or_default();
            // A target group another Entra group is already linked to (Entra allows two groups of one
            // name; names differing only in case match the same AWS group too): refused by default,
            // or the two would rename it back and forth (`DuplicateSourceEntries`, §6.3); shared
            // under the switch `duplicateGroupNames = "share"`, as matching literally gives (inferred).
            let taken = resources.first().and_then(|r| r["id"].as_str()).is_some_and(|id| {
                ledger.groups.iter().any(|(other, link)| *other != work.id && link.target_id == id)
                    || elsewhere.links(id)
            });
            if taken && fixed.duplicate_group_names == DuplicateGroupNames::Refuse {
                draft.error = Some(Failure {
                    code: "DuplicateSourceEntries".into(),
                    reason: format!(
                        "More than one Group in Azure Active Directory matches the same Group in {TARGET_NAME} on displayName '{}'.",
                        work.name
                    ),
                    category: "nonServiceFailure",
                });
                draft.status = "failure";
                out.failures += 1;
                escrow(ledger, &work.id, "Group", "DuplicateSourceEntries");
                out.drafts.push(draft);
                return None;
            }
            match resources.first() {
                Some(resource) => (resource["id"].as_str().map(str::to_owned), values_held(&work.desired, resource)),
                None => (None, BTreeMap::new()),
            }
        }
    };
    let id = match target_id {
        None => {
            draft.steps.push(Step::new(
                "EntrySynchronizationAdd",
                "matching",
                "success",
                format!("Group '{}' will be created in {TARGET_NAME} (Group is active and assigned in Azure Active Directory, but no matching Group was found in {TARGET_NAME})", work.name),
            ));
            // Created with no members, filled by PATCH afterwards (§4.2, §4.5).
            let body =
                build_resource(&work.desired, &BTreeMap::new(), json!(["urn:ietf:params:scim:schemas:core:2.0:Group"]));
            let replies = target.send(Method::POST, "Groups", &[], Some(&body)).await;
            out.exports += replies.len();
            let reply = last_reply(&replies);
            draft.action = "create";
            match (reply.ok(), reply.json().and_then(|j| j["id"].as_str().map(str::to_owned))) {
                (true, Some(id)) => {
                    draft.status = "success";
                    draft.target_id = id.clone();
                    draft.target_name = work.name.clone();
                    draft.steps.push(Step::new(
                        "EntryExportAdd",
                        "export",
                        "success",
                        format!("Group '{}' was created in {TARGET_NAME}", work.name),
                    ));
                    ledger.groups.insert(
                        work.id.clone(),
                        GroupLink { target_id: id.clone(), exported: work.desired.clone(), members: BTreeSet::new() },
                    );
                    ledger.escrows.remove(&work.id);
                    out.exported += 1;
                    id
                }
                _ => {
                    fail(ledger, out, draft, "create", "Group", &work.name, &work.id, &reply);
                    return None;
                }
            }
        }
        Some(id) => {
            draft.target_id = id.clone();
            draft.target_name = work.name.clone();
            let ops = operations(target, &work.desired, &current);
            if ops.is_empty() {
                draft.steps.push(Step::new("EntrySynchronizationSkip", "matching", "skipped", format!("The state of the group in both the source and target systems already match. No change to the Group '{}' currently needs to be made.", work.name)));
                draft.error = Some(Failure {
                    code: "RedundantExport".into(),
                    reason: "The state of the group in both the source and target systems already match.".into(),
                    category: "success",
                });
            } else {
                let replies = target.send(Method::PATCH, &format!("Groups/{id}"), &[], Some(&Target::patch(ops))).await;
                out.exports += replies.len();
                let reply = last_reply(&replies);
                draft.action = "update";
                if !reply.ok() {
                    // The retry diffs against what AWS was read to hold, so that it repairs too.
                    if let (Some(held), Some(link)) = (held, ledger.groups.get_mut(&work.id)) {
                        link.exported = held;
                    }
                    fail(ledger, out, draft, "update", "Group", &work.name, &work.id, &reply);
                    return None;
                }
                draft.status = "success";
                draft.steps.push(Step::new(
                    "EntryExportUpdate",
                    "export",
                    "success",
                    format!("Group '{}' was updated in {TARGET_NAME}", work.name),
                ));
                out.exported += 1;
            }
            let members = link.map(|l| l.members).unwrap_or_default();
            ledger
                .groups
                .insert(work.id.clone(), GroupLink { target_id: id.clone(), exported: work.desired.clone(), members });
            ledger.escrows.remove(&work.id);
            id
        }
    };
    out.drafts.push(draft);
    Some(id)
}

/// The AWS ids a group's members should be: its direct members that are provisioned and managed.
pub(crate) fn member_targets(users: &BTreeMap<String, UserLink>, work: &GroupWork) -> BTreeSet<String> {
    work.members.iter().filter_map(|user| users.get(user).filter(|l| l.managed).map(|l| l.target_id.clone())).collect()
}

/// Brings a group's members in the target to `desired` (from [`member_targets`]): `Add` and
/// `Remove` in chunks of at most 100 (§4.5). Records a log draft when something changed or failed.
/// The group's ledger entries are in `ledger`.
pub(crate) async fn sync_members(
    target: &Target,
    ledger: &mut Ledger,
    work: &GroupWork,
    desired: &BTreeSet<String>,
    out: &mut Outcome,
) {
    let Some(link) = ledger.groups.get(&work.id).cloned() else { return };
    let adds: Vec<String> = desired.difference(&link.members).cloned().collect();
    let removes: Vec<String> = link.members.difference(desired).cloned().collect();
    if adds.is_empty() && removes.is_empty() {
        return;
    }
    let mut members = link.members.clone();
    let mut error = None;
    'outer: for (op, ids) in [("add", &adds), ("remove", &removes)] {
        for chunk in ids.chunks(MEMBER_CHUNK) {
            let body = Target::patch(target.member_operations(op, chunk));
            let replies = target.send(Method::PATCH, &format!("Groups/{}", link.target_id), &[], Some(&body)).await;
            out.exports += replies.len();
            let reply = last_reply(&replies);
            if reply.ok() {
                for id in chunk {
                    if op == "add" {
                        members.insert(id.clone());
                    } else {
                        members.remove(id);
                    }
                }
            } else {
                error = Some(reply);
                break 'outer;
            }
        }
    }
    ledger.groups.insert(work.id.clone(), GroupLink { members, ..link.clone() });
    let mut draft = Draft {
        action: "update",
        status: "success",
        identity_type: "Group",
        source_id: work.id.clone(),
        source_name: work.name.clone(),
        target_id: link.target_id.clone(),
        target_name: work.name.clone(),
        steps: vec![Step::new(
            "EntryReferenceResolution",
            "referenceResolution",
            "success",
            format!("Resolved the members of Group '{}'", work.name),
        )],
        error: None,
        modified: vec![("members".into(), None, Some(format!("added {}, removed {}", adds.len(), removes.len())))],
    };
    match error {
        None => {
            draft.steps.push(Step::new(
                "EntryExportUpdate",
                "export",
                "success",
                format!("Group '{}' was updated in {TARGET_NAME}", work.name),
            ));
            out.exported += 1;
            out.drafts.push(draft);
        }
        Some(reply) => {
            out.reference_failures += 1;
            fail(ledger, out, draft, "update", "Group", &work.name, &work.id, &reply);
        }
    }
}

/// The AWS id of a user's manager, when this cycle links them: the user and its manager in scope,
/// the manager provisioned and managed. Read before the manager phase begins: no export of that
/// phase changes a user's AWS id.
pub(crate) fn manager_target(users: &BTreeMap<String, UserLink>, work: &UserWork) -> Option<String> {
    let manager = work.manager.as_ref().filter(|m| m.in_scope && work.in_scope)?;
    users.get(&manager.id).filter(|l| l.managed).map(|l| l.target_id.clone())
}

/// Links a user of the cycle to its manager (AWS id `manager_target`, from [`manager_target`]),
/// once every user and group is exported: "Reference attributes (manager, group members) ⇒ further
/// updates to link referenced objects" (§4.2 step 6). The user's ledger entries are in `ledger`;
/// `created` says whether this cycle created it.
///
/// The manager never goes in the create body, even one already linked: Entra makes "a round trip to
/// link newly-created users accounts with their managers … That's why there is a separate patch
/// operation" (MicrosoftDocs/azure-docs#45885); so a manager created later in the same cycle is
/// linked too. A user not created in this cycle is asked about first with the reference check query
/// (§4.5), and patched only if the target does not hold that manager. Only users this cycle looks at
/// are linked: a manager out of scope is not, and nothing looks at its reports again when it comes
/// into scope, so "manager reference isn't set until a restart" (§4.3, [KNOWN]). A manager removed in
/// Entra, or gone to deleted items, is never removed in the target: null values are never
/// provisioned (§3.3, inferred consequence).
pub(crate) async fn link_manager(
    target: &Target,
    ledger: &mut Ledger,
    work: &UserWork,
    manager_target: &str,
    created: bool,
    out: &mut Outcome,
) {
    let Some(manager) = work.manager.as_ref() else { return };
    let Some(link) = ledger.users.get(&work.id).filter(|l| l.managed).cloned() else { return };
    let manager_target = manager_target.to_owned();
    if link.exported.get(&manager.path) == Some(&manager_target) {
        return;
    }
    let draft = Draft {
        action: "update",
        status: "success",
        identity_type: "User",
        source_id: work.id.clone(),
        source_name: work.upn.clone(),
        target_id: link.target_id.clone(),
        target_name: work.upn.clone(),
        steps: vec![Step::new(
            "EntryReferenceResolution",
            "referenceResolution",
            "success",
            format!("Resolved the manager of User '{}'", work.upn),
        )],
        error: None,
        modified: vec![("manager".into(), None, Some(manager.id.clone()))],
    };
    if !created {
        let filter = super::mapping::manager_check_filter(&link.target_id, &manager_target);
        let reply = last_reply(&target.send(Method::GET, "Users", &[("filter", &filter)], None).await);
        if !reply.ok() {
            out.reference_failures += 1;
            fail(ledger, out, draft, "query", "User", &work.upn, &work.id, &reply);
            return;
        }
        let held = reply.json().and_then(|j| j["Resources"].as_array().map(|r| !r.is_empty())).unwrap_or(false);
        if held {
            if let Some(link) = ledger.users.get_mut(&work.id) {
                link.exported.insert(manager.path.clone(), manager_target);
            }
            return;
        }
    }
    let operation = super::mapping::manager_operation(&target.op("Add"), &manager.path, &manager_target);
    let body = Target::patch(vec![operation]);
    let replies = target.send(Method::PATCH, &format!("Users/{}", link.target_id), &[], Some(&body)).await;
    out.exports += replies.len();
    let reply = last_reply(&replies);
    if !reply.ok() {
        out.reference_failures += 1;
        fail(ledger, out, draft, "update", "User", &work.upn, &work.id, &reply);
        return;
    }
    if let Some(link) = ledger.users.get_mut(&work.id) {
        link.exported.insert(manager.path.clone(), manager_target);
    }
    let mut draft = draft;
    draft.steps.push(Step::new(
        "EntryExportUpdate",
        "export",
        "success",
        format!("User '{}' was updated in {TARGET_NAME}", work.upn),
    ));
    out.exported += 1;
    out.drafts.push(draft);
}

/// The reply that counts among a request's attempts: the last.
pub(crate) fn last_reply(replies: &[Reply]) -> Reply {
    replies.last().cloned().unwrap_or_else(|| Reply::Transport("no reply".into()))
}
