//! What to send the target, one object at a time (entra-provisioning.md §4.2–§4.6): the matching
//! query, create, update, disable or delete of a user or a group ([`ObjectExport`]), its members in
//! chunks ([`MemberSync`]), a user's manager reference ([`ManagerLink`]), and the join of an existing
//! group by provision on demand ([`JoinGroup`]).
//!
//! Each is a state machine that never sends anything: [`Export::start`] and [`Export::next`] take the
//! reply to the last request and say what comes next, [`Next::Send`] a [`Request`] or [`Next::Done`]
//! with the [`Outcome`]. One driver sends (`cycle::drive`), for cycles and provision on demand alike,
//! so an export can be run without a socket by feeding it replies.
//!
//! An export reads the plan's read-only part ([`Fixed`]) and writes only its own object's entries in
//! a ledger (links, escrow) and its outcome: what it needs of other objects comes in as arguments
//! read before its phase began, and what it means for other objects' entries (an AWS user found
//! deleted leaves every group) goes out in the outcome, applied at the merge. So exports of objects
//! in different lanes can run at once (`lane`).

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::cycle::{MEMBER_CHUNK, TARGET_NAME};
use super::job::{Escrow, GroupLink, UserLink};
use super::lane::Elsewhere;
use super::logs::{Action, Category, Draft, Failure, Identity, Status, Step, StepKind, error_code};
use super::mapping::set_path;
use super::plan::{Fixed, GroupWork, Ledger, ManagerWork, UserWork};
use super::scim::{Dialect, Reply, Target, eq_filter};
use crate::state::DuplicateGroupNames;

/// What a cycle did, to be recorded; or what one export did, to be merged into the cycle's.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) drafts: Vec<Draft>,
    pub(crate) entitled: usize,
    pub(crate) exported: usize,
    /// Write requests sent, retries included (`countExports`); counted by the driver.
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

/// A SCIM request an export asks the driver to send.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Request {
    pub(crate) method: Method,
    /// Relative to the tenant URL: `Users`, `Groups/{id}`.
    pub(crate) path: String,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) body: Option<Value>,
}

impl Request {
    fn get(path: impl Into<String>, query: Vec<(&'static str, String)>) -> Next {
        Next::Send(Request { method: Method::GET, path: path.into(), query, body: None })
    }

    fn write(method: Method, path: impl Into<String>, body: Option<Value>) -> Next {
        Next::Send(Request { method, path: path.into(), query: Vec::new(), body })
    }

    /// Whether it changes the target: writes are what `countExports` counts (§6.2).
    pub(crate) fn writes(&self) -> bool {
        self.method != Method::GET
    }
}

/// What an export asks for next.
#[derive(Debug)]
pub(crate) enum Next {
    /// This request; its reply goes to [`Export::next`].
    Send(Request),
    /// Nothing more: what the export did.
    Done(Outcome),
}

/// An export of one object, as a state machine over the target's replies. `ledger` holds the
/// object's own entries; the same ledger is passed to every call.
pub(crate) trait Export {
    /// The first request, or what the export did without one.
    fn start(&mut self, ledger: &mut Ledger) -> Next;
    /// What `reply` (the last of the request's attempts) means, and what comes next.
    fn next(&mut self, ledger: &mut Ledger, reply: Reply) -> Next;
}

/// Why a request was made, as the failure's sentence and step say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    Query,
    Create,
    Update,
    Delete,
}

impl Verb {
    fn as_str(self) -> &'static str {
        match self {
            Verb::Query => "query",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Delete => "delete",
        }
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
/// Public (through [`scim`](super::scim)) for `harness validate-scim`, which sends the engine's shapes.
pub fn operations(
    dialect: Dialect,
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
        ops.push(json!({ "op": dialect.op(op), "path": path, "value": dialect.patch_value(path, value) }));
    }
    ops
}

/// A POST body: `schemas`, then each value at its SCIM path (`create_only` first, then `desired`), as
/// the engine creates users and groups (§4.5). Public (through [`scim`](super::scim)) for
/// `harness validate-scim`.
pub fn build_resource(
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

/// The values a target resource holds at the desired paths: what a diff starts from.
pub(crate) fn values_held(desired: &BTreeMap<String, String>, resource: &Value) -> BTreeMap<String, String> {
    desired.keys().filter_map(|p| super::mapping::get_path(resource, p).map(|v| (p.clone(), v))).collect()
}

/// The resources of a list response; none when the body is not one.
fn resources(reply: &Reply) -> Vec<Value> {
    reply.json().and_then(|j| j["Resources"].as_array().cloned()).unwrap_or_default()
}

/// Escrows a failed object for the next cycle, counting its attempts (§5.1).
pub(crate) fn escrow(ledger: &mut Ledger, id: &str, kind: Identity, error_code: &str) {
    let attempts = ledger.escrows.get(id).map_or(1, |e| e.attempts + 1);
    ledger.escrows.insert(id.to_owned(), Escrow { kind: kind.as_str(), attempts, error_code: error_code.to_owned() });
}

/// Records a failed request on the draft's object: the failure step, the error, the escrow.
pub(crate) fn fail(ledger: &mut Ledger, mut out: Outcome, mut draft: Draft, verb: Verb, reply: &Reply) -> Next {
    let kind = draft.identity_type;
    let error = failure(verb.as_str(), kind.as_str(), &draft.source_name, reply);
    let step_name = match verb {
        Verb::Create => "EntryExportAdd",
        Verb::Delete => "EntryExportDelete",
        Verb::Query => "EntrySynchronizationError",
        Verb::Update => "EntryExportUpdate",
    };
    draft.steps.push(Step::new(
        step_name,
        if verb == Verb::Query { StepKind::Matching } else { StepKind::Export },
        Status::Failure,
        format!("Failed to {} {kind} '{}' in {TARGET_NAME}", verb.as_str(), draft.source_name),
    ));
    if draft.action == Action::Other {
        draft.action = if verb == Verb::Create { Action::Create } else { Action::Update };
    }
    draft.status = Status::Failure;
    escrow(ledger, &draft.source_id, kind, &error.code);
    draft.error = Some(error);
    out.failures += 1;
    out.drafts.push(draft);
    Next::Done(out)
}

/// The import step's name for a kind of change: `EntryImportAdd`, `EntryImportUpdate`, …
fn import_step(kind: &str) -> std::borrow::Cow<'static, str> {
    match kind {
        "Add" => "EntryImportAdd".into(),
        "Update" => "EntryImportUpdate".into(),
        "Delete" => "EntryImportDelete".into(),
        other => format!("EntryImport{other}").into(),
    }
}

/// The object an [`ObjectExport`] exports.
enum Subject<'a> {
    User(&'a UserWork),
    /// With which AWS groups the groups of other lanes were linked to when the phase began.
    Group(&'a GroupWork, &'a Elsewhere<'a>),
}

/// Where an [`ObjectExport`] is: which request it waits on.
#[derive(Debug)]
enum ObjectState {
    Start,
    /// `DELETE`: a purged user (§4.4), a group out of scope.
    Deleting,
    /// `PATCH active=False` for a user out of scope, with its link.
    Disabling(UserLink),
    /// `GET {collection}/{id}` on an initial cycle (§4.2 steps 3 to 5).
    ReadingBack {
        target_id: String,
    },
    /// The matching query on the `n`-th matching attribute.
    Matching(usize),
    Creating,
    /// `PATCH` of the diff against `current`, which `read` says was read from the target.
    Updating {
        target_id: String,
        current: BTreeMap<String, String>,
        read: bool,
    },
    Finished,
}

/// The export of one user or group (§4.2–§4.4): deprovisioning when out of scope; otherwise read
/// back (initial cycles), matched or linked, then created, updated or found already up to date.
pub(crate) struct ObjectExport<'a> {
    fixed: &'a Fixed,
    dialect: Dialect,
    subject: Subject<'a>,
    draft: Draft,
    out: Outcome,
    state: ObjectState,
}

impl<'a> ObjectExport<'a> {
    /// The export of a user of the plan.
    pub(crate) fn user(fixed: &'a Fixed, dialect: Dialect, work: &'a UserWork) -> Self {
        let mut steps = vec![Step::new(
            import_step(work.import_kind),
            StepKind::Import,
            Status::Success,
            format!("Received User '{}' change of type ({}) from Azure Active Directory", work.upn, work.import_kind),
        )];
        steps.push(Step::new(
            "EntrySynchronizationScoping",
            StepKind::Scoping,
            if work.in_scope { Status::Success } else { Status::Skipped },
            "Determine if User in scope by evaluating against each scoping filter",
        ));
        let draft = Self::draft(Identity::User, &work.id, &work.upn, steps, work.modified.clone());
        ObjectExport {
            fixed,
            dialect,
            subject: Subject::User(work),
            draft,
            out: Outcome::default(),
            state: ObjectState::Start,
        }
    }

    /// The export of a group of the plan; `elsewhere` says which AWS groups the groups outside the
    /// export's ledger were linked to when the phase began.
    pub(crate) fn group(fixed: &'a Fixed, dialect: Dialect, work: &'a GroupWork, elsewhere: &'a Elsewhere<'a>) -> Self {
        let steps = vec![Step::new(
            import_step(work.import_kind),
            StepKind::Import,
            Status::Success,
            format!("Received Group '{}' change of type ({}) from Azure Active Directory", work.name, work.import_kind),
        )];
        let draft = Self::draft(Identity::Group, &work.id, &work.name, steps, work.modified.clone());
        ObjectExport {
            fixed,
            dialect,
            subject: Subject::Group(work, elsewhere),
            draft,
            out: Outcome::default(),
            state: ObjectState::Start,
        }
    }

    fn draft(
        identity_type: Identity,
        id: &str,
        name: &str,
        steps: Vec<Step>,
        modified: Vec<(String, Option<String>, Option<String>)>,
    ) -> Draft {
        Draft {
            action: Action::Other,
            status: Status::Skipped,
            identity_type,
            source_id: id.to_owned(),
            source_name: name.to_owned(),
            target_id: String::new(),
            target_name: String::new(),
            steps,
            error: None,
            modified,
        }
    }

    fn id(&self) -> &'a str {
        match self.subject {
            Subject::User(work) => &work.id,
            Subject::Group(work, _) => &work.id,
        }
    }

    fn desired(&self) -> &'a BTreeMap<String, String> {
        match self.subject {
            Subject::User(work) => &work.desired,
            Subject::Group(work, _) => &work.desired,
        }
    }

    fn collection(&self) -> &'static str {
        match self.subject {
            Subject::User(_) => "Users",
            Subject::Group(..) => "Groups",
        }
    }

    /// The object's link: its AWS id and what was last exported.
    fn link<'l>(&self, ledger: &'l Ledger) -> Option<(&'l String, &'l BTreeMap<String, String>)> {
        match self.subject {
            Subject::User(work) => ledger.users.get(&work.id).map(|l| (&l.target_id, &l.exported)),
            Subject::Group(work, _) => ledger.groups.get(&work.id).map(|l| (&l.target_id, &l.exported)),
        }
    }

    /// Links the object to `target_id` with `exported` as what AWS holds, a user as managed, a group
    /// with the members it was known to have.
    fn keep_link(&self, ledger: &mut Ledger, target_id: String, exported: BTreeMap<String, String>) {
        match self.subject {
            Subject::User(work) => {
                ledger.users.insert(work.id.clone(), UserLink { target_id, exported, managed: true });
            }
            Subject::Group(work, _) => {
                let members = ledger.groups.remove(&work.id).map(|l| l.members).unwrap_or_default();
                ledger.groups.insert(work.id.clone(), GroupLink { target_id, exported, members });
            }
        }
        ledger.escrows.remove(self.id());
    }

    fn forget_link(&self, ledger: &mut Ledger) {
        match self.subject {
            Subject::User(work) => ledger.users.remove(&work.id).map(|_| ()),
            Subject::Group(work, _) => ledger.groups.remove(&work.id).map(|_| ()),
        };
    }

    fn done(&mut self) -> Next {
        self.state = ObjectState::Finished;
        Next::Done(std::mem::take(&mut self.out))
    }

    /// Records the draft as it stands.
    fn record(&mut self) -> Next {
        let draft = self.take_draft();
        self.out.drafts.push(draft);
        self.done()
    }

    fn take_draft(&mut self) -> Draft {
        let empty = Self::draft(self.draft.identity_type, "", "", Vec::new(), Vec::new());
        std::mem::replace(&mut self.draft, empty)
    }

    fn fail(&mut self, ledger: &mut Ledger, verb: Verb, reply: &Reply) -> Next {
        self.state = ObjectState::Finished;
        let (out, draft) = (std::mem::take(&mut self.out), self.take_draft());
        fail(ledger, out, draft, verb, reply)
    }

    /// A failure Entra finds without the target's words: escrowed (§5.1, §6.3).
    fn refuse(&mut self, ledger: &mut Ledger, code: &str, reason: String) -> Next {
        self.draft.error = Some(Failure { code: code.into(), reason, category: Category::NonServiceFailure });
        self.draft.status = Status::Failure;
        self.out.failures += 1;
        escrow(ledger, self.id(), self.draft.identity_type, code);
        self.record()
    }

    fn step(&mut self, name: &'static str, kind: StepKind, status: Status, description: String) {
        self.draft.steps.push(Step::new(name, kind, status, description));
    }

    /// Deprovisioning, for a user or group out of scope or purged; an in-scope object is resolved.
    fn begin(&mut self, ledger: &mut Ledger) -> Next {
        if let Some((target_id, _)) = self.link(ledger) {
            self.draft.target_id = target_id.clone();
        }
        let secrets = &self.fixed.secrets;
        match self.subject {
            Subject::User(work) if work.purged => {
                // Hard-deleted in Entra: DELETE in the target, for a user still managed (§4.4).
                let Some(link) = ledger.users.get(&work.id).filter(|l| l.managed) else { return self.done() };
                self.state = ObjectState::Deleting;
                Request::write(Method::DELETE, format!("Users/{}", link.target_id), None)
            }
            Subject::User(work) if !work.in_scope => {
                let why = work.why_out.map_or("", |w| w.as_str());
                let disabled = |l: &UserLink| l.exported.get("active").is_some_and(|v| v.eq_ignore_ascii_case("false"));
                match ledger.users.get(&work.id) {
                    // Leaving scope (unassigned, disabled, deleted) disables a managed user (§4.4).
                    Some(link) if link.managed && !disabled(link) && !secrets.skip_out_of_scope_deletions => {
                        if secrets.delete_threshold.is_some()
                            && !self.fixed.deletes_approved
                            && self.fixed.staged_deletes
                        {
                            self.draft.action = Action::StagedDelete;
                            return self.record();
                        }
                        let ops = vec![
                            json!({"op": self.dialect.op("Replace"), "path": "active", "value": self.dialect.patch_value("active", "False")}),
                        ];
                        let path = format!("Users/{}", link.target_id);
                        self.state = ObjectState::Disabling(link.clone());
                        Request::write(Method::PATCH, path, Some(Target::patch(ops)))
                    }
                    _ => {
                        self.draft.error = Some(Failure {
                            code: "EntrySynchronizationSkipped".into(),
                            reason: format!("User '{}' was skipped: it is {why} in Azure Active Directory.", work.upn),
                            category: Category::NonServiceFailure,
                        });
                        self.step(
                            "EntrySynchronizationSkip",
                            StepKind::Matching,
                            Status::Skipped,
                            format!("User '{}' will be skipped: it is {why}.", work.upn),
                        );
                        ledger.escrows.remove(&work.id);
                        self.record()
                    }
                }
            }
            Subject::Group(work, _) if !work.in_scope => match ledger.groups.get(&work.id) {
                // A group leaving scope is deleted in the target (§4.4, inferred request).
                Some(link) if !secrets.skip_out_of_scope_deletions => {
                    self.state = ObjectState::Deleting;
                    Request::write(Method::DELETE, format!("Groups/{}", link.target_id), None)
                }
                _ => self.done(),
            },
            _ => {
                self.out.entitled += 1;
                self.resolve(ledger)
            }
        }
    }

    /// Finds what the object is in the target. An initial cycle reads a linked object back by the id
    /// §4.2 step 4 caches, "used to run all future operations on that user", rather than by a filter,
    /// which would miss a user whose UPN changed and create a second one: a restart keeps the links
    /// (§4.1), and AWS may have been changed by hand since. Group reads exclude members (§4.5):
    /// Entra never re-reads them (§4.3). Incremental cycles never look: "Target-side changes are
    /// never detected" (§4.3), so they diff against what was last exported.
    fn resolve(&mut self, ledger: &mut Ledger) -> Next {
        match self.link(ledger) {
            Some((target_id, _)) if self.fixed.read_target => {
                let target_id = target_id.clone();
                let query = match self.subject {
                    Subject::Group(..) => vec![("excludedAttributes", "members".to_owned())],
                    Subject::User(_) => Vec::new(),
                };
                let path = format!("{}/{target_id}", self.collection());
                self.state = ObjectState::ReadingBack { target_id };
                Request::get(path, query)
            }
            Some((target_id, exported)) => {
                let (target_id, current) = (target_id.clone(), exported.clone());
                self.decide(ledger, Some(target_id), current, false)
            }
            None => self.matching(ledger, 0),
        }
    }

    /// The matching query on the `n`-th matching attribute, lowest priority first (§3.3, §4.2); a
    /// group matches on displayName, its members excluded (§4.5).
    fn matching(&mut self, ledger: &mut Ledger, n: usize) -> Next {
        match self.subject {
            Subject::User(work) => match work.matching.get(n) {
                Some((path, value)) => {
                    self.state = ObjectState::Matching(n);
                    Request::get("Users", vec![("filter", eq_filter(path, value))])
                }
                None => self.decide(ledger, None, BTreeMap::new(), false),
            },
            Subject::Group(work, _) if n == 0 => {
                let name = work.desired.get("displayName").cloned().unwrap_or_default();
                self.state = ObjectState::Matching(0);
                Request::get(
                    "Groups",
                    vec![("excludedAttributes", "members".to_owned()), ("filter", eq_filter("displayName", &name))],
                )
            }
            Subject::Group(..) => self.decide(ledger, None, BTreeMap::new(), false),
        }
    }

    /// What a matching query found.
    fn matched(&mut self, ledger: &mut Ledger, n: usize, reply: &Reply) -> Next {
        if !reply.ok() {
            return self.fail(ledger, Verb::Query, reply);
        }
        let found = resources(reply);
        match self.subject {
            Subject::User(work) => match found.as_slice() {
                [] => self.matching(ledger, n + 1),
                [resource] => {
                    let current = values_held(&work.desired, resource);
                    self.decide(ledger, resource["id"].as_str().map(str::to_owned), current, false)
                }
                _ => {
                    let (path, value) = &work.matching[n];
                    self.refuse(
                        ledger,
                        "DuplicateTargetEntries",
                        format!("More than one User in {TARGET_NAME} matches '{value}' on {path}."),
                    )
                }
            },
            Subject::Group(work, elsewhere) => {
                // A target group another Entra group is already linked to (Entra allows two groups
                // of one name; names differing only in case match the same AWS group too): refused
                // by default, or the two would rename it back and forth (`DuplicateSourceEntries`,
                // §6.3); shared under the switch `duplicateGroupNames = "share"`, as matching
                // literally gives (inferred).
                let taken = found.first().and_then(|r| r["id"].as_str()).is_some_and(|id| {
                    ledger.groups.iter().any(|(other, link)| *other != work.id && link.target_id == id)
                        || elsewhere.links(id)
                });
                if taken && self.fixed.duplicate_group_names == DuplicateGroupNames::Refuse {
                    return self.refuse(
                        ledger,
                        "DuplicateSourceEntries",
                        format!(
                            "More than one Group in Azure Active Directory matches the same Group in {TARGET_NAME} on displayName '{}'.",
                            work.name
                        ),
                    );
                }
                match found.first() {
                    Some(resource) => {
                        let current = values_held(&work.desired, resource);
                        self.decide(ledger, resource["id"].as_str().map(str::to_owned), current, false)
                    }
                    None => self.decide(ledger, None, BTreeMap::new(), false),
                }
            }
        }
    }

    /// Create when nothing matched; otherwise update what differs from `current`, or record that
    /// nothing needs to change (§4.2 step 5, §4.3).
    fn decide(
        &mut self,
        ledger: &mut Ledger,
        target_id: Option<String>,
        current: BTreeMap<String, String>,
        read: bool,
    ) -> Next {
        let kind = self.draft.identity_type;
        let name = self.draft.source_name.clone();
        let Some(target_id) = target_id else {
            self.step(
                "EntrySynchronizationAdd",
                StepKind::Matching,
                Status::Success,
                format!("{kind} '{name}' will be created in {TARGET_NAME} ({kind} is active and assigned in Azure Active Directory, but no matching {kind} was found in {TARGET_NAME})"),
            );
            let body = match self.subject {
                Subject::User(work) => build_resource(
                    &work.desired,
                    &work.create_only,
                    json!([
                        "urn:ietf:params:scim:schemas:core:2.0:User",
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
                    ]),
                ),
                // Created with no members, filled by PATCH afterwards (§4.2, §4.5).
                Subject::Group(work, _) => build_resource(
                    &work.desired,
                    &BTreeMap::new(),
                    json!(["urn:ietf:params:scim:schemas:core:2.0:Group"]),
                ),
            };
            self.state = ObjectState::Creating;
            return Request::write(Method::POST, self.collection(), Some(body));
        };
        self.draft.target_id = target_id.clone();
        self.draft.target_name = name.clone();
        let desired = self.desired();
        let ops = operations(self.dialect, desired, &current);
        if ops.is_empty() {
            // "The state of the user in both the source and target systems already match." (§4.3)
            let lower = kind.as_str().to_ascii_lowercase();
            self.step(
                "EntrySynchronizationSkip",
                StepKind::Matching,
                Status::Skipped,
                format!("The state of the {lower} in both the source and target systems already match. No change to the {kind} '{name}' currently needs to be made."),
            );
            if let (Subject::User(_), Some(step)) = (&self.subject, self.draft.steps.last_mut()) {
                step.skip_reason = Some("RedundantExport");
            }
            self.draft.error = Some(Failure {
                code: "RedundantExport".into(),
                reason: format!("The state of the {lower} in both the source and target systems already match."),
                category: Category::Success,
            });
            self.keep_link(ledger, target_id, desired.clone());
            return self.record();
        }
        if let Subject::User(_) = self.subject {
            self.step(
                "EntrySynchronizationUpdate",
                StepKind::Matching,
                Status::Success,
                format!("User '{name}' will be updated in {TARGET_NAME}"),
            );
        }
        let path = format!("{}/{target_id}", self.collection());
        self.state = ObjectState::Updating { target_id, current, read };
        Request::write(Method::PATCH, path, Some(Target::patch(ops)))
    }

    /// The step of an export that went through, and the count.
    fn exported(&mut self, action: Action, step: &'static str, done: &str) {
        let (kind, name) = (self.draft.identity_type, self.draft.source_name.clone());
        self.draft.action = action;
        self.draft.status = Status::Success;
        self.step(step, StepKind::Export, Status::Success, format!("{kind} '{name}' was {done} in {TARGET_NAME}"));
        self.out.exported += 1;
    }
}

impl Export for ObjectExport<'_> {
    fn start(&mut self, ledger: &mut Ledger) -> Next {
        self.begin(ledger)
    }

    fn next(&mut self, ledger: &mut Ledger, reply: Reply) -> Next {
        match std::mem::replace(&mut self.state, ObjectState::Finished) {
            ObjectState::Start => self.begin(ledger),
            ObjectState::Finished => self.done(),
            ObjectState::Deleting => {
                self.draft.action = Action::Delete;
                if !(reply.ok() || reply.status() == Some(404)) {
                    return self.fail(ledger, Verb::Delete, &reply);
                }
                self.exported(Action::Delete, "EntryExportDelete", "deleted");
                self.forget_link(ledger);
                ledger.escrows.remove(self.id());
                self.record()
            }
            ObjectState::Disabling(mut link) => {
                self.draft.action = Action::Disable;
                if !reply.ok() {
                    return self.fail(ledger, Verb::Update, &reply);
                }
                self.exported(Action::Disable, "EntryExportUpdateSoftDelete", "updated");
                if let Subject::User(work) = self.subject {
                    link.managed = !work.why_out.is_some_and(|w| w.unassigned());
                    link.exported.insert("active".into(), "False".into());
                    ledger.users.insert(work.id.clone(), link);
                }
                ledger.escrows.remove(self.id());
                self.record()
            }
            ObjectState::ReadingBack { target_id } => match reply.json() {
                _ if reply.status() == Some(404) => {
                    // Deleted in AWS: the link is stale, so the object is matched as if never linked
                    // and, with no match, created (§4.2 step 4, "No match ⇒ create"; inferred for a
                    // stale link, which an incremental cycle's export meets as `InvalidAnchor`,
                    // §6.3). AWS dropped a user's memberships with it: every group's entry forgets
                    // it at the merge; a group's members are added again from none.
                    self.forget_link(ledger);
                    if let Subject::User(_) = self.subject {
                        self.out.gone_members.push(target_id);
                    }
                    self.draft.target_id.clear();
                    self.matching(ledger, 0)
                }
                Some(resource) if reply.ok() && resource.is_object() => {
                    let current = values_held(self.desired(), &resource);
                    self.decide(ledger, Some(target_id), current, true)
                }
                _ => self.fail(ledger, Verb::Query, &reply),
            },
            ObjectState::Matching(n) => self.matched(ledger, n, &reply),
            ObjectState::Creating => {
                self.draft.action = Action::Create;
                let id = reply.json().and_then(|j| j["id"].as_str().map(str::to_owned));
                let Some(id) = id.filter(|_| reply.ok()) else { return self.fail(ledger, Verb::Create, &reply) };
                self.draft.target_id = id.clone();
                self.draft.target_name = self.draft.source_name.clone();
                self.exported(Action::Create, "EntryExportAdd", "created");
                match self.subject {
                    Subject::User(work) => {
                        let mut exported = work.desired.clone();
                        exported.extend(work.create_only.clone());
                        self.keep_link(ledger, id, exported);
                    }
                    Subject::Group(work, _) => {
                        ledger.groups.insert(
                            work.id.clone(),
                            GroupLink { target_id: id, exported: work.desired.clone(), members: BTreeSet::new() },
                        );
                        ledger.escrows.remove(&work.id);
                    }
                }
                self.record()
            }
            ObjectState::Updating { target_id, current, read } => {
                self.draft.action = Action::Update;
                if reply.ok() {
                    self.exported(Action::Update, "EntryExportUpdate", "updated");
                    self.keep_link(ledger, target_id, self.desired().clone());
                    return self.record();
                }
                // What AWS was read to hold is what the retry diffs against, so that it repairs too.
                match self.subject {
                    Subject::User(work) => {
                        let link = ledger.users.get(&work.id);
                        if link.is_none() || read {
                            let managed = link.is_none_or(|l| l.managed);
                            ledger.users.insert(work.id.clone(), UserLink { target_id, exported: current, managed });
                        }
                    }
                    Subject::Group(work, _) => {
                        if let (true, Some(link)) = (read, ledger.groups.get_mut(&work.id)) {
                            link.exported = current;
                        }
                    }
                }
                self.fail(ledger, Verb::Update, &reply)
            }
        }
    }
}

/// The AWS ids a group's members should be: its direct members that are provisioned and managed.
pub(crate) fn member_targets(users: &BTreeMap<String, UserLink>, work: &GroupWork) -> BTreeSet<String> {
    work.members.iter().filter_map(|user| users.get(user).filter(|l| l.managed).map(|l| l.target_id.clone())).collect()
}

/// Brings a group's members in the target to `desired` (from [`member_targets`]): `Add` and then
/// `Remove`, in chunks of at most 100 (§4.5), stopping at the first refusal. Records a log draft when
/// something changed or failed. The group's ledger entries are in the ledger it is driven with.
pub(crate) struct MemberSync<'a> {
    dialect: Dialect,
    work: &'a GroupWork,
    desired: BTreeSet<String>,
    /// The link as the sync began, the members known so far, the chunks still to send.
    link: Option<GroupLink>,
    members: BTreeSet<String>,
    chunks: std::vec::IntoIter<(&'static str, Vec<String>)>,
    sent: Option<(&'static str, Vec<String>)>,
    counts: (usize, usize),
}

impl<'a> MemberSync<'a> {
    pub(crate) fn new(dialect: Dialect, work: &'a GroupWork, desired: BTreeSet<String>) -> Self {
        MemberSync {
            dialect,
            work,
            desired,
            link: None,
            members: BTreeSet::new(),
            chunks: Vec::new().into_iter(),
            sent: None,
            counts: (0, 0),
        }
    }

    fn send_next(&mut self, ledger: &mut Ledger) -> Next {
        let Some(link) = &self.link else { return Next::Done(Outcome::default()) };
        match self.chunks.next() {
            Some((op, ids)) => {
                let body = Target::patch(self.dialect.member_operations(op, &ids));
                let path = format!("Groups/{}", link.target_id);
                self.sent = Some((op, ids));
                Request::write(Method::PATCH, path, Some(body))
            }
            None => self.finish(ledger, None),
        }
    }

    fn finish(&mut self, ledger: &mut Ledger, error: Option<Reply>) -> Next {
        let Some(link) = self.link.take() else { return Next::Done(Outcome::default()) };
        let work = self.work;
        let (adds, removes) = self.counts;
        let target_id = link.target_id.clone();
        ledger.groups.insert(work.id.clone(), GroupLink { members: std::mem::take(&mut self.members), ..link });
        let mut draft = Draft {
            action: Action::Update,
            status: Status::Success,
            identity_type: Identity::Group,
            source_id: work.id.clone(),
            source_name: work.name.clone(),
            target_id,
            target_name: work.name.clone(),
            steps: vec![Step::new(
                "EntryReferenceResolution",
                StepKind::ReferenceResolution,
                Status::Success,
                format!("Resolved the members of Group '{}'", work.name),
            )],
            error: None,
            modified: vec![("members".into(), None, Some(format!("added {adds}, removed {removes}")))],
        };
        let mut out = Outcome::default();
        match error {
            None => {
                draft.steps.push(Step::new(
                    "EntryExportUpdate",
                    StepKind::Export,
                    Status::Success,
                    format!("Group '{}' was updated in {TARGET_NAME}", work.name),
                ));
                out.exported += 1;
                out.drafts.push(draft);
                Next::Done(out)
            }
            Some(reply) => {
                out.reference_failures += 1;
                fail(ledger, out, draft, Verb::Update, &reply)
            }
        }
    }
}

impl Export for MemberSync<'_> {
    fn start(&mut self, ledger: &mut Ledger) -> Next {
        let Some(link) = ledger.groups.get(&self.work.id).cloned() else { return Next::Done(Outcome::default()) };
        let adds: Vec<String> = self.desired.difference(&link.members).cloned().collect();
        let removes: Vec<String> = link.members.difference(&self.desired).cloned().collect();
        if adds.is_empty() && removes.is_empty() {
            return Next::Done(Outcome::default());
        }
        self.counts = (adds.len(), removes.len());
        let chunked = |op: &'static str, ids: &[String]| {
            ids.chunks(MEMBER_CHUNK).map(|chunk| (op, chunk.to_vec())).collect::<Vec<_>>()
        };
        let mut chunks = chunked("add", &adds);
        chunks.extend(chunked("remove", &removes));
        self.chunks = chunks.into_iter();
        self.members = link.members.clone();
        self.link = Some(link);
        self.send_next(ledger)
    }

    fn next(&mut self, ledger: &mut Ledger, reply: Reply) -> Next {
        if !reply.ok() {
            return self.finish(ledger, Some(reply));
        }
        if let Some((op, ids)) = self.sent.take() {
            for id in ids {
                if op == "add" {
                    self.members.insert(id);
                } else {
                    self.members.remove(&id);
                }
            }
        }
        self.send_next(ledger)
    }
}

/// The AWS id of a user's manager (the user and its manager in scope: [`UserWork::manager_work`]),
/// when this cycle links them: the manager provisioned and managed. Read before the manager phase begins: no export of that
/// phase changes a user's AWS id.
pub(crate) fn manager_target(users: &BTreeMap<String, UserLink>, work: &ManagerWork) -> Option<String> {
    users.get(&work.manager.id).filter(|l| l.managed).map(|l| l.target_id.clone())
}

/// Links a user of the cycle to its manager (AWS id from [`manager_target`]), once every user and
/// group is exported: "Reference attributes (manager, group members) ⇒ further updates to link
/// referenced objects" (§4.2 step 6). `created` says whether this cycle created the user.
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
pub(crate) struct ManagerLink<'a> {
    dialect: Dialect,
    work: &'a ManagerWork,
    manager_target: String,
    created: bool,
    /// The entry to record, once a request is sent.
    draft: Option<Draft>,
    state: ManagerState,
}

/// Which request a [`ManagerLink`] waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ManagerState {
    Start,
    /// The reference check query (§4.5).
    Checking,
    /// The `PATCH` that adds the manager.
    Patching,
}

impl<'a> ManagerLink<'a> {
    pub(crate) fn new(dialect: Dialect, work: &'a ManagerWork, manager_target: String, created: bool) -> Self {
        ManagerLink { dialect, work, manager_target, created, draft: None, state: ManagerState::Start }
    }

    fn patch(&mut self) -> Next {
        let user_target = self.draft.as_ref().map(|d| d.target_id.clone()).unwrap_or_default();
        let path = &self.work.manager.path;
        let operation = super::mapping::manager_operation(&self.dialect.op("Add"), path, &self.manager_target);
        self.state = ManagerState::Patching;
        Request::write(Method::PATCH, format!("Users/{user_target}"), Some(Target::patch(vec![operation])))
    }

    /// Notes the manager as exported on the user's link.
    fn holds(&self, ledger: &mut Ledger) {
        if let Some(link) = ledger.users.get_mut(&self.work.id) {
            link.exported.insert(self.work.manager.path.clone(), self.manager_target.clone());
        }
    }
}

impl Export for ManagerLink<'_> {
    fn start(&mut self, ledger: &mut Ledger) -> Next {
        let work = self.work;
        let nothing = || Next::Done(Outcome::default());
        let manager = &work.manager;
        let Some(link) = ledger.users.get(&work.id).filter(|l| l.managed) else { return nothing() };
        if link.exported.get(&manager.path) == Some(&self.manager_target) {
            return nothing();
        }
        let user_target = link.target_id.clone();
        self.draft = Some(Draft {
            action: Action::Update,
            status: Status::Success,
            identity_type: Identity::User,
            source_id: work.id.clone(),
            source_name: work.upn.clone(),
            target_id: user_target.clone(),
            target_name: work.upn.clone(),
            steps: vec![Step::new(
                "EntryReferenceResolution",
                StepKind::ReferenceResolution,
                Status::Success,
                format!("Resolved the manager of User '{}'", work.upn),
            )],
            error: None,
            modified: vec![("manager".into(), None, Some(manager.id.clone()))],
        });
        if self.created {
            return self.patch();
        }
        self.state = ManagerState::Checking;
        let filter = super::mapping::manager_check_filter(&user_target, &self.manager_target);
        Request::get("Users", vec![("filter", filter)])
    }

    fn next(&mut self, ledger: &mut Ledger, reply: Reply) -> Next {
        let mut out = Outcome::default();
        let state = std::mem::replace(&mut self.state, ManagerState::Start);
        if !reply.ok() {
            let Some(draft) = self.draft.take() else { return Next::Done(out) };
            out.reference_failures += 1;
            let verb = if state == ManagerState::Checking { Verb::Query } else { Verb::Update };
            return fail(ledger, out, draft, verb, &reply);
        }
        match state {
            ManagerState::Checking if !resources(&reply).is_empty() => {
                // The target holds that manager already.
                self.holds(ledger);
                Next::Done(out)
            }
            ManagerState::Checking => self.patch(),
            ManagerState::Patching => {
                self.holds(ledger);
                if let Some(mut draft) = self.draft.take() {
                    draft.steps.push(Step::new(
                        "EntryExportUpdate",
                        StepKind::Export,
                        Status::Success,
                        format!("User '{}' was updated in {TARGET_NAME}", self.work.upn),
                    ));
                    out.exported += 1;
                    out.drafts.push(draft);
                }
                Next::Done(out)
            }
            ManagerState::Start => Next::Done(out),
        }
    }
}

/// Provision on demand of a user: its join of one of its assigned groups that already exists in the
/// target, found by displayName when not linked; never created (the seed's observation). An AWS
/// group already linked to another Entra group is not this one's to join (`DuplicateSourceEntries`,
/// entra-provisioning.md §6.3, as in a cycle), unless the switch shares it. Writes no log entry.
pub(crate) struct JoinGroup<'a> {
    dialect: Dialect,
    group: &'a GroupWork,
    user_id: &'a str,
    share: bool,
    /// The AWS user being added, once the PATCH is sent.
    adding: Option<String>,
}

impl<'a> JoinGroup<'a> {
    pub(crate) fn new(dialect: Dialect, group: &'a GroupWork, user_id: &'a str, share: bool) -> Self {
        JoinGroup { dialect, group, user_id, share, adding: None }
    }

    fn add(&mut self, ledger: &Ledger) -> Next {
        let done = || Next::Done(Outcome::default());
        let Some(group) = ledger.groups.get(&self.group.id) else { return done() };
        let Some(user_target) = ledger.users.get(self.user_id).filter(|l| l.managed).map(|l| l.target_id.clone())
        else {
            return done();
        };
        if group.members.contains(&user_target) {
            return done();
        }
        let body = Target::patch(self.dialect.member_operations("add", std::slice::from_ref(&user_target)));
        let path = format!("Groups/{}", group.target_id);
        self.adding = Some(user_target);
        Request::write(Method::PATCH, path, Some(body))
    }
}

impl Export for JoinGroup<'_> {
    fn start(&mut self, ledger: &mut Ledger) -> Next {
        if ledger.groups.contains_key(&self.group.id) {
            return self.add(ledger);
        }
        let filter = eq_filter("displayName", &self.group.name);
        Request::get("Groups", vec![("excludedAttributes", "members".to_owned()), ("filter", filter)])
    }

    fn next(&mut self, ledger: &mut Ledger, reply: Reply) -> Next {
        if let Some(user_target) = self.adding.take() {
            if reply.ok()
                && let Some(link) = ledger.groups.get_mut(&self.group.id)
            {
                link.members.insert(user_target);
            }
            return Next::Done(Outcome::default());
        }
        let found = reply
            .json()
            .and_then(|j| j["Resources"][0]["id"].as_str().map(str::to_owned))
            .filter(|id| self.share || !ledger.groups.values().any(|link| link.target_id == *id));
        let Some(target_id) = found else { return Next::Done(Outcome::default()) };
        ledger.groups.insert(
            self.group.id.clone(),
            GroupLink { target_id, exported: self.group.desired.clone(), members: BTreeSet::new() },
        );
        self.add(ledger)
    }
}

/// The reply that counts among a request's attempts: the last.
pub(crate) fn last_reply(replies: &[Reply]) -> Reply {
    replies.last().cloned().unwrap_or_else(|| Reply::Transport("no reply".into()))
}

#[cfg(test)]
mod tests {
    //! The exports fed replies by hand: no socket, no runtime.

    use proptest::prelude::*;

    use super::*;
    use crate::provisioning::cycle::Secrets;
    use crate::provisioning::scope::{ManagerRef, OutOfScope};

    fn fixed(read_target: bool) -> Fixed {
        Fixed {
            target: Err(crate::provisioning::scim::TargetError::InvalidTenantUrl),
            secrets: Secrets::default(),
            read_target,
            deletes_approved: false,
            staged_deletes: false,
            duplicate_group_names: DuplicateGroupNames::Refuse,
            concurrency: 1,
        }
    }

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn user(id: &str, name: &str) -> UserWork {
        UserWork {
            key: None,
            id: id.into(),
            upn: name.into(),
            in_scope: true,
            why_out: None,
            desired: values(&[("userName", name), ("displayName", "Annie"), ("active", "True")]),
            create_only: values(&[("title", "Intern")]),
            matching: vec![("userName".into(), name.into())],
            modified: Vec::new(),
            import_kind: "Add",
            purged: false,
            manager: None,
        }
    }

    fn group(id: &str, name: &str, members: &[&str]) -> GroupWork {
        GroupWork {
            id: id.into(),
            name: name.into(),
            in_scope: true,
            desired: values(&[("displayName", name)]),
            members: members.iter().map(|m| m.to_string()).collect(),
            modified: Vec::new(),
            import_kind: "Add",
        }
    }

    fn http(status: u16, body: Value) -> Reply {
        Reply::Http { status, body: body.to_string(), retry_after: None }
    }

    fn list(resources: &[Value]) -> Reply {
        http(200, json!({"totalResults": resources.len(), "Resources": resources}))
    }

    /// Runs an export on scripted replies; returns the requests it asked for and its outcome. Fails
    /// when it asks for more requests than there are replies.
    fn run(export: &mut impl Export, ledger: &mut Ledger, replies: Vec<Reply>) -> (Vec<Request>, Outcome) {
        let mut sent = Vec::new();
        let mut replies = replies.into_iter();
        let mut next = export.start(ledger);
        loop {
            match next {
                Next::Done(out) => {
                    assert!(replies.next().is_none(), "replies left over after {sent:?}");
                    return (sent, out);
                }
                Next::Send(request) => {
                    sent.push(request);
                    let reply = replies.next().unwrap_or_else(|| panic!("no reply scripted for {:?}", sent.last()));
                    next = export.next(ledger, reply);
                }
            }
        }
    }

    fn line(request: &Request) -> String {
        let query: Vec<String> = request.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(
            "{} {}{}",
            request.method,
            request.path,
            if query.is_empty() { String::new() } else { format!("?{}", query.join("&")) }
        )
    }

    #[test]
    fn an_unmatched_user_is_created_with_its_create_only_values_and_linked() {
        let (fixed, work) = (fixed(false), user("u1", "annie@contoso.com"));
        let mut ledger = Ledger::default();
        ledger.escrows.insert("u1".into(), Escrow { kind: "User", attempts: 2, error_code: "Timeout".into() });
        let mut export = ObjectExport::user(&fixed, Dialect::Default, &work);
        let (sent, out) = run(&mut export, &mut ledger, vec![list(&[]), http(201, json!({"id": "aws-1"}))]);
        assert_eq!(
            sent.iter().map(line).collect::<Vec<_>>(),
            ["GET Users?filter=userName eq \"annie@contoso.com\"", "POST Users"]
        );
        let body = sent[1].body.as_ref().unwrap();
        assert_eq!((body["title"].as_str(), body["userName"].as_str()), (Some("Intern"), Some("annie@contoso.com")));
        let draft = &out.drafts[0];
        assert_eq!((draft.action, draft.status, draft.target_id.as_str()), (Action::Create, Status::Success, "aws-1"));
        assert_eq!((out.entitled, out.exported, out.failures), (1, 1, 0));
        let link = &ledger.users["u1"];
        assert_eq!((link.target_id.as_str(), link.managed), ("aws-1", true));
        assert_eq!(link.exported.get("title").map(String::as_str), Some("Intern"), "create-only values were exported");
        assert!(ledger.escrows.is_empty(), "a success clears the escrow (§5.1)");
    }

    #[test]
    fn an_initial_cycle_reads_a_linked_user_back_and_patches_only_what_aws_holds_differently() {
        let (fixed, work) = (fixed(true), user("u1", "annie@contoso.com"));
        let mut ledger = Ledger::default();
        let exported = work.desired.clone();
        ledger.users.insert("u1".into(), UserLink { target_id: "aws-1".into(), exported, managed: true });
        let mut export = ObjectExport::user(&fixed, Dialect::Default, &work);
        let held =
            json!({"id": "aws-1", "userName": "annie@contoso.com", "displayName": "Annie (by hand)", "active": true});
        let (sent, out) = run(&mut export, &mut ledger, vec![http(200, held), http(200, json!({"id": "aws-1"}))]);
        assert_eq!(sent.iter().map(line).collect::<Vec<_>>(), ["GET Users/aws-1", "PATCH Users/aws-1"]);
        assert_eq!(
            sent[1].body.as_ref().unwrap()["Operations"],
            json!([{"op": "Replace", "path": "displayName", "value": "Annie"}])
        );
        assert_eq!((out.drafts[0].action, out.drafts[0].status), (Action::Update, Status::Success));
    }

    #[test]
    fn a_linked_user_gone_from_aws_is_matched_again_created_and_leaves_every_group() {
        let (fixed, work) = (fixed(true), user("u1", "annie@contoso.com"));
        let mut ledger = Ledger::default();
        ledger
            .users
            .insert("u1".into(), UserLink { target_id: "aws-old".into(), exported: BTreeMap::new(), managed: true });
        let mut export = ObjectExport::user(&fixed, Dialect::Default, &work);
        let replies = vec![http(404, json!({})), list(&[]), http(201, json!({"id": "aws-new"}))];
        let (sent, out) = run(&mut export, &mut ledger, replies);
        assert_eq!(
            sent.iter().map(line).collect::<Vec<_>>()[..2],
            ["GET Users/aws-old", "GET Users?filter=userName eq \"annie@contoso.com\""]
        );
        assert_eq!(out.gone_members, ["aws-old"]);
        assert_eq!(ledger.users["u1"].target_id, "aws-new");
    }

    #[test]
    fn two_matches_fail_as_duplicate_target_entries_without_a_write() {
        let (fixed, work) = (fixed(false), user("u1", "annie@contoso.com"));
        let mut ledger = Ledger::default();
        let mut export = ObjectExport::user(&fixed, Dialect::Default, &work);
        let (sent, out) = run(&mut export, &mut ledger, vec![list(&[json!({"id": "a"}), json!({"id": "b"})])]);
        assert_eq!(sent.len(), 1);
        let error = out.drafts[0].error.as_ref().unwrap();
        assert_eq!((error.code.as_str(), error.category), ("DuplicateTargetEntries", Category::NonServiceFailure));
        assert_eq!(ledger.escrows["u1"].attempts, 1);
        assert!(ledger.users.is_empty());
    }

    #[test]
    fn a_refused_create_is_escrowed_and_counted_again_on_the_retry() {
        let (fixed, work) = (fixed(false), user("u1", "annie@contoso.com"));
        let mut ledger = Ledger::default();
        for attempt in 1..=2 {
            let mut export = ObjectExport::user(&fixed, Dialect::Default, &work);
            let conflict = http(409, json!({"detail": "Duplicate", "status": "409"}));
            let (_, out) = run(&mut export, &mut ledger, vec![list(&[]), conflict]);
            let draft = &out.drafts[0];
            assert_eq!((draft.action, draft.status), (Action::Create, Status::Failure));
            let error = draft.error.as_ref().unwrap();
            assert_eq!(error.code, "SystemForCrossDomainIdentityManagementEntryConflict");
            assert!(error.reason.contains("HTTP 409"), "the reason quotes the target: {}", error.reason);
            assert_eq!(draft.steps.last().unwrap().name, "EntryExportAdd");
            assert_eq!(ledger.escrows["u1"].attempts, attempt);
        }
    }

    #[test]
    fn a_managed_user_leaving_scope_is_disabled_and_an_unassigned_one_is_no_longer_managed() {
        let fixed = fixed(false);
        for (why, managed) in [(OutOfScope::Disabled, true), (OutOfScope::NotAssigned, false)] {
            let work = UserWork { in_scope: false, why_out: Some(why), ..user("u1", "annie@contoso.com") };
            let mut ledger = Ledger::default();
            let exported = work.desired.clone();
            ledger.users.insert("u1".into(), UserLink { target_id: "aws-1".into(), exported, managed: true });
            let mut export = ObjectExport::user(&fixed, Dialect::Optscim062020, &work);
            let (sent, out) = run(&mut export, &mut ledger, vec![http(200, json!({}))]);
            assert_eq!(
                sent[0].body.as_ref().unwrap()["Operations"],
                json!([{"op": "replace", "path": "active", "value": false}]),
                "the flagged dialect writes a boolean (§4.5)"
            );
            assert_eq!(out.drafts[0].action, Action::Disable);
            assert_eq!(ledger.users["u1"].managed, managed, "{why:?}");
            // Already disabled: nothing more is sent; the skip says why.
            let mut again = ObjectExport::user(&fixed, Dialect::Default, &work);
            let (sent, out) = run(&mut again, &mut ledger, Vec::new());
            assert!(sent.is_empty());
            let reason = &out.drafts[0].error.as_ref().unwrap().reason;
            assert!(reason.contains(why.as_str()), "{reason}");
        }
    }

    #[test]
    fn a_group_matching_an_aws_group_another_lane_links_is_refused_by_default() {
        let fixed = fixed(false);
        let work = group("g2", "SRE", &[]);
        let linked: BTreeMap<String, Vec<usize>> = [("aws-g".to_owned(), vec![1])].into();
        let elsewhere = Elsewhere::of(&linked, 0);
        let mut ledger = Ledger::default();
        let mut export = ObjectExport::group(&fixed, Dialect::Default, &work, &elsewhere);
        let (sent, out) = run(&mut export, &mut ledger, vec![list(&[json!({"id": "aws-g", "displayName": "SRE"})])]);
        assert_eq!(line(&sent[0]), "GET Groups?excludedAttributes=members&filter=displayName eq \"SRE\"");
        assert_eq!(out.drafts[0].error.as_ref().unwrap().code, "DuplicateSourceEntries");
        assert!(ledger.groups.is_empty());
    }

    #[test]
    fn members_go_in_chunks_of_100_and_a_refused_chunk_keeps_what_went_through() {
        let ids: Vec<String> = (0..250).map(|i| format!("u{i:03}")).collect();
        let work = group("g", "SRE", &[]);
        let mut ledger = Ledger::default();
        let link =
            GroupLink { target_id: "aws-g".into(), exported: BTreeMap::new(), members: ["gone".to_owned()].into() };
        ledger.groups.insert("g".into(), link);
        let desired: BTreeSet<String> = ids.iter().cloned().collect();
        let mut sync = MemberSync::new(Dialect::Default, &work, desired.clone());
        let (sent, out) = run(&mut sync, &mut ledger.clone(), vec![http(204, json!({})); 4]);
        let sizes: Vec<usize> =
            sent.iter().map(|r| r.body.as_ref().unwrap()["Operations"][0]["value"].as_array().unwrap().len()).collect();
        assert_eq!(sizes, [100, 100, 50, 1], "adds, then the removal");
        assert_eq!(out.drafts[0].modified[0].2.as_deref(), Some("added 250, removed 1"));
        let mut sync = MemberSync::new(Dialect::Default, &work, desired);
        let (sent, out) = run(&mut sync, &mut ledger, vec![http(204, json!({})), http(400, json!({}))]);
        assert_eq!(sent.len(), 2, "stops at the refusal");
        assert_eq!(ledger.groups["g"].members.len(), 101, "the first 100 and the member not yet removed");
        assert_eq!((out.reference_failures, out.failures), (1, 1));
    }

    #[test]
    fn a_manager_aws_already_holds_is_asked_about_and_not_patched() {
        let mut work = user("u1", "annie@contoso.com");
        let path = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager".to_owned();
        work.manager = Some(ManagerRef { path: path.clone(), id: "m1".into(), in_scope: true });
        let work = work.manager_work().expect("both in scope");
        let mut ledger = Ledger::default();
        ledger
            .users
            .insert("u1".into(), UserLink { target_id: "aws-1".into(), exported: BTreeMap::new(), managed: true });
        let mut link = ManagerLink::new(Dialect::Default, &work, "aws-m".into(), false);
        let (sent, out) = run(&mut link, &mut ledger.clone(), vec![list(&[json!({"id": "aws-1"})])]);
        assert_eq!(line(&sent[0]), "GET Users?filter=id eq \"aws-1\" and manager eq \"aws-m\"");
        assert!(out.drafts.is_empty());
        // Created in this cycle: patched at once, never asked about.
        let mut link = ManagerLink::new(Dialect::Default, &work, "aws-m".into(), true);
        let (sent, out) = run(&mut link, &mut ledger, vec![http(200, json!({}))]);
        assert_eq!(line(&sent[0]), "PATCH Users/aws-1");
        assert_eq!(out.drafts[0].steps.last().unwrap().name, "EntryExportUpdate");
        assert_eq!(ledger.users["u1"].exported.get(&path).map(String::as_str), Some("aws-m"));
    }

    /// Any reply the target may give.
    fn any_reply() -> impl Strategy<Value = Reply> {
        prop_oneof![
            Just(list(&[])),
            Just(list(&[json!({"id": "aws-x", "userName": "other", "displayName": "SRE"})])),
            Just(list(&[json!({"id": "a"}), json!({"id": "b"})])),
            Just(http(201, json!({"id": "aws-new"}))),
            Just(http(200, json!({"id": "aws-1", "displayName": "Old"}))),
            Just(http(204, json!({}))),
            (prop_oneof![Just(400u16), Just(404), Just(409), Just(429), Just(500)])
                .prop_map(|status| http(status, json!({"status": status.to_string()}))),
            Just(Reply::Transport("connection refused".into())),
        ]
    }

    proptest! {
        /// Whatever the target answers, an export ends within a few requests with at most one log
        /// entry; a failure leaves the object escrowed, a success leaves it linked and not
        /// escrowed (§5.1).
        #[test]
        fn every_export_ends_and_keeps_its_ledger_consistent(
            replies in prop::collection::vec(any_reply(), 0..8),
            linked in any::<bool>(),
            read_target in any::<bool>(),
            in_scope in any::<bool>(),
            as_group in any::<bool>(),
        ) {
            let fixed = fixed(read_target);
            let work = UserWork { in_scope, why_out: (!in_scope).then_some(OutOfScope::NotAssigned), ..user("u1", "annie@contoso.com") };
            let group_work = GroupWork { in_scope, ..group("u1", "SRE", &[]) };
            let elsewhere = Elsewhere::none();
            let mut ledger = Ledger::default();
            if linked {
                let exported = values(&[("displayName", "Old")]);
                ledger.users.insert("u1".into(), UserLink { target_id: "aws-1".into(), exported: exported.clone(), managed: true });
                ledger.groups.insert("u1".into(), GroupLink { target_id: "aws-1".into(), exported, members: BTreeSet::new() });
            }
            let mut export = if as_group {
                ObjectExport::group(&fixed, Dialect::Default, &group_work, &elsewhere)
            } else {
                ObjectExport::user(&fixed, Dialect::Default, &work)
            };
            let mut replies = replies.into_iter().chain(std::iter::repeat(http(204, json!({}))));
            let mut next = export.start(&mut ledger);
            let mut steps = 0;
            let out = loop {
                match next {
                    Next::Done(out) => break out,
                    Next::Send(_) => {
                        steps += 1;
                        prop_assert!(steps <= 4, "an export sends at most 4 requests");
                        next = export.next(&mut ledger, replies.next().unwrap());
                    }
                }
            };
            prop_assert!(out.drafts.len() <= 1);
            if let Some(draft) = out.drafts.first() {
                let linked_now = if as_group { ledger.groups.contains_key("u1") } else { ledger.users.contains_key("u1") };
                match draft.status {
                    Status::Failure => prop_assert!(ledger.escrows.contains_key("u1")),
                    Status::Success if draft.action != Action::Delete => {
                        prop_assert!(linked_now);
                        prop_assert!(!ledger.escrows.contains_key("u1"));
                    }
                    _ => prop_assert!(!ledger.escrows.contains_key("u1")),
                }
                prop_assert_eq!(out.failures, usize::from(draft.status == Status::Failure));
            }
        }
    }
}
