//! The scenario file format: a situation written down as TOML — the Entra directory, the AWS side
//! before the run, faults, the steps an administrator takes, and what must come out.
//!
//! A file is read as a TOML document first (a syntax error is reported at its line and column),
//! then walked key by key against the shape of the format (`shape`), which finds every unknown
//! key, wrong type and missing key at once; then read into serde shadow types with
//! `deny_unknown_fields`, unknown keys set aside, and checked as a whole (references, duplicates,
//! durations). Every problem is reported with its file, the line of the value concerned and its
//! path (`steps[3].principal: no user or group 'anie@contoso.com' in the directory; did you mean
//! 'annie@contoso.com'?`, `directory.users[0].surnme: unknown key; did you mean 'surname'?`), and a
//! file with any problem is refused whole.
//!
//! # Reference
//!
//! Top level: `name` (required, unique in a library), `description`, `seed` (ids on both mocks),
//! `start` (RFC 3339; default 2026-01-01T00:00:00Z), `assignments` (UPNs or group names assigned to
//! the AWS app before the first step), then the tables below. Top-level keys come before any table.
//!
//! - `[[directory.users]]`: `upn`, `given_name`, `surname` (leave out for a user without one),
//!   `display_name`, `mail` (default: the UPN), `enabled` (default true), `properties` (any Graph
//!   property: `{ department = "Ops", otherMails = ["a@b"] }`).
//! - `[[directory.groups]]`: `name`, `members` (UPNs or group names: nesting).
//! - `[directory.generated]`: `users`, `groups`, `members_per_group`, `assign_groups` — bulk users
//!   `user00000@contoso.onmicrosoft.com`… and groups `group0000`….
//! - `[entra.switches]`: mock-graph switches as its admin API names them (`quarantineFirstRetry`,
//!   `quarantineRetrySchedule`, `honourRetryAfter`, `scimAttempts`, `provisioningLogRetentionDays`,
//!   `deletedItemsRetentionDays`, `duplicateGroupNames`, `restoreRelations`,
//!   `escrowEvaluationMinimum`, `exportConcurrency` (below), …).
//! - `[aws.switches]`: mock-scim switches as its admin API names them (`listApi`, `charset`, …);
//!   `[[aws.users]]` (`user_name`, `given_name`, `family_name`, `display_name`, `email`,
//!   `external_id`) and `[[aws.groups]]` (`name`, `external_id`): made by hand in the AWS console.
//! - `[[faults]]`: rules of the mock-scim fault plan (`method`, `path`, `nth = { from, to, every }`,
//!   `probability`, `window`, `action = { kind = "status", status = 429, retryAfter = 3 }`,
//!   `latency`/`drop`/`timeout`).
//! - `[engine]`: `command` (the program and its arguments), `timeout_seconds` (default 60), `tls`
//!   (default `true`: the in-process mocks serve HTTPS, as Graph and AWS do, and the engine gets the
//!   CA to trust as `CA_CERT`, `SSL_CERT_FILE` and `REQUESTS_CA_BUNDLE`) — a sync tool of one's own
//!   run in place of Entra's provisioning service, once per cycle due on an `advance`, with the
//!   endpoints in its environment; steps and expectations only Entra's service has are then refused
//!   ([`Scenario::entra_only`]).
//! - `[[steps]]`, each with an `action`:
//!   - the directory: `create_user` (the fields of a directory user), `update_user` (`user`,
//!     `set = {…}` Graph properties, `clear = ["jobTitle"]` properties emptied: sent as null),
//!     `delete_user`, `purge_user`, `restore_user` (`user`: soft delete, purge from deleted items,
//!     restore), `set_manager` (`user`, `manager`), `clear_manager` (`user`), `create_group` (`name`,
//!     `members`), `rename_group` (`group`, `to`), `delete_group` (`group`),
//!     `add_member`/`remove_member` (`group`, `member`), `assign`/`unassign` (`principal`);
//!   - the job: `configure` (`token`, `tenant_url` with `{aws}` for the AWS mock's origin,
//!     `sync_all`, `skip_out_of_scope_deletions`, `aad_opt_scim_062020`, `delete_threshold`; the
//!     tenant URL and token come from the AWS mock), `test_connection` (`expect = "success" |
//!     "failure"`, `error_code`), `start`, `pause`, `restart` (`reset_scope`);
//!   - the schema, each saved with `PUT …/schema` and each taking `refused_with` (text of the error
//!     Graph must refuse it with): `map_user_attribute` / `map_group_attribute` (`target`, and
//!     `source`, `expression` or `constant` — required for a new mapping, kept when left out —,
//!     `matching_priority` (above 0: a matching attribute, the lowest tried first), `apply =
//!     "always" | "on_create"`, `default` (sent on create when the source is null)),
//!     `unmap_user_attribute` / `unmap_group_attribute` (`target`), `set_scoping_filter` (`object =
//!     "users" | "groups"`, `filters = [{ name, clauses = [{ attribute, operator, values }] }]`:
//!     clauses AND-ed, filters OR-ed, none removes them; `operator` as the portal names it: `&`,
//!     `!&`, `ENDS_WITH`, `EQUALS`, `Greater_Than`, `Greater_Than_OR_EQUALS`, `Includes`, `IS FALSE`,
//!     `IS NOT NULL`, `IS NULL`, `IS TRUE`, `NOT EQUALS`, `NOT REGEX MATCH`, `REGEX MATCH`);
//!   - time: `advance` (`by`, ISO 8601: both clocks move, due cycles run), `advance_aws` (`by`: the
//!     AWS clock only);
//!   - `provision_on_demand` (`subject`, `members`, `expect_result`, and for a refused call
//!     `expect_status`, `expect_error_code`);
//!   - AWS: `rotate_aws_token` (a new AWS token; the next `configure` saves it), `revoke_aws_token`
//!     (the newest AWS token revoked in the console), `aws_request` (`method`, `path` relative to
//!     the SCIM endpoint, `body`, and `status`, or `copies` sent at once with their `statuses` in
//!     any order; `{user:NAME}` and `{group:NAME}` stand for AWS ids);
//!   - `expect` (below).
//! - `expect` checks, all optional: `aws_users` (exactly) / `aws_users_include` /
//!   `aws_users_exclude` / `aws_inactive`, `aws_groups = { Name = [member UPNs] }` (exactly) /
//!   `aws_groups_include` / `aws_groups_exclude`, `log = [{ identity, action, status, error_code,
//!   reason_contains }]`, `job = { code, quarantine_reason, escrowed, last_state, escrows_pruned,
//!   next_attempt, schedule_state }`, and, for AWS's requests since the previous `expect`,
//!   `requests = [{ method, path_contains, filter_contains, count | at_least, at_most, body,
//!   operations }]`
//!   (`operations`: a PATCH's exact `Operations`, in order) and `no_writes = true`; in
//!   `aws_attributes`, `path_contains`, `body` and `operations`, `{user:NAME}` and `{group:NAME}`
//!   stand for AWS ids, as AWS holds them at the expectation; over all requests since the setup, `aws_untouched = [userNames or group
//!   names]` (no write named them) and `order_safe = true` (groups existed before they were
//!   written to; every member added was an existing user). `log_absent = [{ … }]` (no entry matches
//!   any), `aws_attributes = { "annie@…" = { displayName = "Annie", name = { familyName = "E" } } }`
//!   (a user by userName or a group by displayName holds at least these values; nested tables match
//!   partially) and `aws_names_exact = true` (userNames compared with their case; else ignoring it).
//!
//! # Exports at once
//!
//! With `exportConcurrency = N` above 1 (mock-graph's switch; 1 by default), Entra exports up to N
//! objects of a phase at once; the phases (users, groups, memberships, manager references) still
//! go one after another. The provisioning logs are the same at every N, byte for byte: results are
//! merged in plan order, and mock-scim draws ids and request ids from each request's content, not
//! from its arrival. The order AWS receives requests in is not the same, so:
//!
//! - a fault rule that counts requests (`nth`, `probability`) or AWS's rate limit
//!   (`aws.switches.rateLimitPerSecond`) would hit other requests in another order: the runner
//!   sets `exportConcurrency = 1` at setup when a scenario has one, and a file setting it above 1
//!   beside one is refused. Method, path and time window pick the same requests in any order, so
//!   such rules (a latency on every group create, AWS down for an hour) go with any N;
//! - AWS's journal lists requests as they arrived: compared across N (the `determinism_concurrent`
//!   law), it is put in a canonical order first, sorted within each cycle (a cycle begins with its
//!   credential probe) and numbered again; the logs are compared as they are;
//! - expectations about requests (`requests`, `no_writes`, `aws_untouched`, `order_safe`) hold in
//!   any order within a phase.
//!
//! # Example
//!
//! ```
//! let text = r#"
//! name = "seed story"
//! assignments = ["Administrator", "SRE"]
//!
//! [[directory.users]]
//! upn = "annie@contoso.onmicrosoft.com"
//! given_name = "Annie"
//! surname = "Easley"
//!
//! [[directory.groups]]
//! name = "Administrator"
//! members = ["annie@contoso.onmicrosoft.com"]
//!
//! [[directory.groups]]
//! name = "SRE"
//! members = ["annie@contoso.onmicrosoft.com"]
//!
//! [[steps]]
//! action = "configure"
//!
//! [[steps]]
//! action = "start"
//!
//! [[steps]]
//! action = "advance"
//! by = "PT40M"
//!
//! [[steps]]
//! action = "expect"
//! aws_groups = { SRE = ["annie@contoso.onmicrosoft.com"] }
//! log = [{ identity = "Administrator", status = "failure" }]
//! "#;
//! let scenario = scenarios::scenario::Scenario::parse("seed.toml", text).unwrap();
//! assert_eq!(scenario.steps.len(), 4);
//!
//! let wrong = text.replace(r#"assignments = ["Administrator", "SRE"]"#, r#"assignments = ["Administrators"]"#);
//! let err = scenarios::scenario::Scenario::parse("seed.toml", &wrong).unwrap_err();
//! assert_eq!(
//!     err.problems[0].to_string(),
//!     "seed.toml:3: assignments[0]: no user or group 'Administrators' in the directory; did you mean 'Administrator'?"
//! );
//! ```

use std::collections::BTreeMap;
use std::fmt;

use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use toml::Spanned;

use crate::fault::FaultRule;

mod shape;

/// A scenario file's content.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A short name, unique within a library.
    pub name: String,
    /// What the situation is, in a sentence or two.
    #[serde(default)]
    pub description: String,
    /// Seed for both mocks' ids.
    #[serde(default)]
    pub seed: u64,
    /// Where the mocks' virtual clocks start (default 2026-01-01T00:00:00Z).
    #[serde(default)]
    pub start: Option<Timestamp>,
    /// The Entra directory before the first step.
    #[serde(default)]
    pub directory: Directory,
    /// Users and groups assigned to the AWS app before the first step.
    #[serde(default)]
    pub assignments: Vec<Spanned<String>>,
    /// The Entra side's settings.
    #[serde(default)]
    pub entra: Entra,
    /// The AWS side before the first step.
    #[serde(default)]
    pub aws: Aws,
    /// Faults the AWS SCIM endpoint throws (the mock-scim fault plan).
    #[serde(default)]
    pub faults: Vec<FaultRule>,
    /// A sync tool of the user's own that runs instead of Entra's provisioning service: once for
    /// each cycle that falls due on an `advance`. `None`: Entra's service, in mock-graph.
    #[serde(default)]
    pub engine: Option<Engine>,
    /// What happens, in order, each with the line it starts on.
    #[serde(default, deserialize_with = "steps")]
    pub steps: Vec<StepAt>,
}

/// A step and where it is written.
#[derive(Debug, Clone)]
pub struct StepAt {
    /// The step, or the problem reading it (unknown action or key, wrong type): reported with the
    /// other problems when the file is loaded, so that a scenario [`Scenario::parse`] returns has
    /// none.
    pub step: Result<Step, String>,
    /// Byte range in the file, for line numbers.
    pub span: std::ops::Range<usize>,
}

/// Steps are internally tagged by `action`, which loses spans inside; each is read as a table first,
/// keeping its own span, then as a [`Step`].
fn steps<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<StepAt>, D::Error> {
    let raw: Vec<Spanned<toml::Table>> = Vec::deserialize(deserializer)?;
    Ok(raw
        .into_iter()
        .map(|table| {
            let span = table.span();
            let step = Step::deserialize(toml::Value::Table(table.into_inner()))
                .map_err(|err| err.message().trim().to_owned());
            StepAt { step, span }
        })
        .collect())
}

/// The Entra directory.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Directory {
    /// Users.
    #[serde(default)]
    pub users: Vec<User>,
    /// Groups.
    #[serde(default)]
    pub groups: Vec<Group>,
    /// Users generated in bulk: `user0001@…` and so on.
    #[serde(default)]
    pub generated: Option<Generated>,
}

/// An Entra user: in the directory, with its UPN's place in the file ([`Spanned`]); created by a
/// step, without it (`User<String>`: steps are read from a table, which keeps no places).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User<Upn = Spanned<String>> {
    /// userPrincipalName.
    pub upn: Upn,
    /// givenName.
    #[serde(default)]
    pub given_name: Option<String>,
    /// surname (leave it out for a user without surname).
    #[serde(default)]
    pub surname: Option<String>,
    /// displayName (default: given name and surname, or the UPN).
    #[serde(default)]
    pub display_name: Option<String>,
    /// mail (default: the UPN).
    #[serde(default)]
    pub mail: Option<String>,
    /// accountEnabled (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Any other Graph user property, as Graph names it (`department`, `jobTitle`, `otherMails`, …).
    #[serde(default)]
    pub properties: BTreeMap<String, toml::Value>,
}

fn yes() -> bool {
    true
}

/// An Entra group.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// displayName.
    pub name: Spanned<String>,
    /// Direct members: user UPNs or group names (nested).
    #[serde(default)]
    pub members: Vec<Spanned<String>>,
}

/// Users made in bulk, for size.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generated {
    /// How many users.
    pub users: usize,
    /// Groups `group0000…` each with `members_per_group` of the generated users.
    #[serde(default)]
    pub groups: usize,
    /// Members per generated group.
    #[serde(default)]
    pub members_per_group: usize,
    /// Whether the generated groups are assigned.
    #[serde(default)]
    pub assign_groups: bool,
}

/// An external sync engine: a command the harness runs once per cycle, with the endpoints and
/// credentials in its environment (the names `harness serve --env-file` writes).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Engine {
    /// The program and its arguments; run from the folder the harness runs in.
    pub command: Vec<String>,
    /// How long one run may take before it is stopped and the scenario fails (default 60).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// Whether the in-process mocks serve HTTPS, as Graph and AWS only do (default `true`): the
    /// engine is told the CA to trust as `CA_CERT`, `SSL_CERT_FILE` and `REQUESTS_CA_BUNDLE`.
    /// Microsoft's SDKs and auth libraries refuse plain HTTP.
    #[serde(default)]
    pub tls: Option<bool>,
}

impl Engine {
    /// Whether the in-process mocks serve HTTPS for this engine.
    pub fn tls(&self) -> bool {
        self.tls.unwrap_or(true)
    }

    /// The time limit of one run.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout_seconds.unwrap_or(60))
    }
}

/// The Entra side's settings before the run.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entra {
    /// mock-graph behaviour switches, as its admin API names them (`quarantineFirstRetry = "PT5M"`, …).
    #[serde(default)]
    pub switches: BTreeMap<String, toml::Value>,
}

/// The AWS side before the run.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Aws {
    /// mock-scim behaviour switches, as its admin API names them (`listApi = "legacy"`, …).
    #[serde(default)]
    pub switches: BTreeMap<String, toml::Value>,
    /// Users created by hand in the AWS console.
    #[serde(default)]
    pub users: Vec<AwsUser>,
    /// Groups created by hand in the AWS console.
    #[serde(default)]
    pub groups: Vec<AwsGroup>,
}

/// A user made by hand in AWS.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsUser {
    /// userName.
    pub user_name: String,
    /// name.givenName.
    #[serde(default)]
    pub given_name: Option<String>,
    /// name.familyName.
    #[serde(default)]
    pub family_name: Option<String>,
    /// displayName.
    #[serde(default)]
    pub display_name: Option<String>,
    /// The primary email.
    #[serde(default)]
    pub email: Option<String>,
    /// externalId.
    #[serde(default)]
    pub external_id: Option<String>,
}

/// A group made by hand in AWS.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsGroup {
    /// displayName.
    pub name: String,
    /// externalId.
    #[serde(default)]
    pub external_id: Option<String>,
}

/// One thing that happens.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Create a user in Entra.
    CreateUser {
        /// The user.
        #[serde(flatten)]
        user: Box<User<String>>,
    },
    /// Change a user's Graph properties.
    UpdateUser {
        /// Whose.
        user: String,
        /// Properties to set, as Graph names them.
        #[serde(default)]
        set: BTreeMap<String, toml::Value>,
        /// Properties to clear: sent as `null` (TOML has no null), as the portal's emptied field is.
        #[serde(default)]
        clear: Vec<String>,
    },
    /// Delete a user (soft delete).
    DeleteUser {
        /// Whom.
        user: String,
    },
    /// Delete a deleted user permanently.
    PurgeUser {
        /// Whom.
        user: String,
    },
    /// Bring a deleted user back from deleted items (`POST /directory/deletedItems/{id}/restore`).
    RestoreUser {
        /// Whom.
        user: String,
    },
    /// Set a user's manager (`PUT /users/{id}/manager/$ref`).
    SetManager {
        /// Whose.
        user: String,
        /// The manager's UPN.
        manager: String,
    },
    /// Remove a user's manager (`DELETE /users/{id}/manager/$ref`).
    ClearManager {
        /// Whose.
        user: String,
    },
    /// Create a group.
    CreateGroup {
        /// displayName.
        name: String,
        /// Direct members: UPNs or group names.
        #[serde(default)]
        members: Vec<String>,
    },
    /// Rename a group.
    RenameGroup {
        /// Which.
        group: String,
        /// Its new name.
        to: String,
    },
    /// Delete a group.
    DeleteGroup {
        /// Which.
        group: String,
    },
    /// Add a member.
    AddMember {
        /// To which group.
        group: String,
        /// Whom: a UPN or a group name.
        member: String,
    },
    /// Remove a member.
    RemoveMember {
        /// From which group.
        group: String,
        /// Whom.
        member: String,
    },
    /// Assign a user or group to the AWS app.
    Assign {
        /// Whom: a UPN or a group name.
        principal: String,
    },
    /// Remove an assignment.
    Unassign {
        /// Whom.
        principal: String,
    },
    /// Save provisioning settings: the tenant URL and token come from the AWS mock.
    Configure {
        /// A token other than the AWS one (a wrong token).
        #[serde(default)]
        token: Option<String>,
        /// A Tenant URL other than the AWS mock's endpoint (a wrong one); `{aws}` stands for the AWS
        /// mock's origin (`http://127.0.0.1:PORT`), e.g. `"{aws}/not-my-tenant/scim/v2/"`.
        #[serde(default)]
        tenant_url: Option<String>,
        /// "Sync all users and groups".
        #[serde(default)]
        sync_all: Option<bool>,
        /// `SkipOutOfScopeDeletions`.
        #[serde(default)]
        skip_out_of_scope_deletions: Option<bool>,
        /// Append `?aadOptscim062020` to the tenant URL.
        #[serde(default)]
        aad_opt_scim_062020: Option<bool>,
        /// The accidental-deletion threshold.
        #[serde(default)]
        delete_threshold: Option<u64>,
    },
    /// Edit the user attribute mapping of a target attribute, or add one, and save the schema.
    MapUserAttribute(Box<MappingEdit>),
    /// Edit a group attribute mapping, or add one, and save the schema.
    MapGroupAttribute(Box<MappingEdit>),
    /// Remove the user attribute mapping of a target attribute, and save the schema.
    UnmapUserAttribute {
        /// The SCIM target path.
        target: String,
        /// The schema must be refused, with a message containing this text.
        #[serde(default)]
        refused_with: Option<String>,
    },
    /// Remove a group attribute mapping, and save the schema.
    UnmapGroupAttribute {
        /// The SCIM target path.
        target: String,
        /// The schema must be refused, with a message containing this text.
        #[serde(default)]
        refused_with: Option<String>,
    },
    /// Replace the scoping filters of the user or group mapping (none: everything assigned is in
    /// scope), and save the schema.
    SetScopingFilter {
        /// `users` or `groups`.
        object: MappedObject,
        /// The filters, OR-ed; an empty list removes them.
        #[serde(default)]
        filters: Vec<ScopingFilter>,
        /// The schema must be refused, with a message containing this text.
        #[serde(default)]
        refused_with: Option<String>,
    },
    /// Test Connection.
    TestConnection {
        /// `success` or `failure`.
        expect: Outcome,
        /// The error code a failure must carry.
        #[serde(default)]
        error_code: Option<String>,
    },
    /// Start provisioning.
    Start,
    /// Pause provisioning.
    Pause,
    /// Restart, with a reset scope such as `"Full"` or `"ForceDeletes"`.
    Restart {
        /// The reset scope.
        #[serde(default)]
        reset_scope: Option<String>,
    },
    /// Let time pass on the Entra side: cycles due run.
    Advance {
        /// An ISO-8601 duration such as `PT40M`.
        by: String,
    },
    /// Let time pass on the AWS side (token expiry).
    AdvanceAws {
        /// An ISO-8601 duration.
        by: String,
    },
    /// Provision one user, or one group with chosen members, on demand.
    ProvisionOnDemand {
        /// A UPN or group name.
        subject: String,
        /// For a group: up to five member UPNs.
        #[serde(default)]
        members: Vec<String>,
        /// `Success`, `Failure` or `Skipped`.
        #[serde(default)]
        expect_result: Option<String>,
        /// The HTTP status Graph must answer (a refused call: 429 for the sixth in 10 seconds).
        #[serde(default)]
        expect_status: Option<u16>,
        /// The Graph error code a refused call must carry (`error.code`).
        #[serde(default)]
        expect_error_code: Option<String>,
    },
    /// Send a request straight to the AWS tenant's SCIM endpoint with its token, as any SCIM
    /// client would, and check the status AWS answers.
    AwsRequest(Box<AwsRequest>),
    /// Issue a new token for the AWS tenant (the console's "Generate token"); a later `configure`
    /// saves it in Entra.
    RotateAwsToken,
    /// The administrator revokes the AWS token in the console: the newest one (the one `configure`
    /// saves), as AWS's console lists it.
    RevokeAwsToken,
    /// Check the state of things.
    Expect(Box<Expectation>),
}

/// An edit of one attribute mapping: what is given replaces what the mapping had, the rest stays;
/// a new mapping needs a source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingEdit {
    /// The SCIM target path (`title`, `emails[type eq "work"].value`).
    pub target: String,
    /// A source attribute (a Direct mapping).
    #[serde(default)]
    pub source: Option<String>,
    /// An expression (an Expression mapping).
    #[serde(default)]
    pub expression: Option<String>,
    /// A constant (a Constant mapping).
    #[serde(default)]
    pub constant: Option<String>,
    /// Above 0 makes it a matching attribute; the lowest is tried first (0 makes it none).
    #[serde(default)]
    pub matching_priority: Option<u32>,
    /// `always`, or `on_create` (the portal's "Only during creation").
    #[serde(default)]
    pub apply: Option<Apply>,
    /// The value sent on create when the source is null ("Default value if null").
    #[serde(default)]
    pub default: Option<String>,
    /// The schema must be refused, with a message containing this text.
    #[serde(default)]
    pub refused_with: Option<String>,
}

/// When a mapping applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Apply {
    /// On create and on update (`flowType` `Always`).
    Always,
    /// Only during creation (`flowType` `ObjectAddOnly`).
    OnCreate,
}

/// Which object mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MappedObject {
    /// The user mapping.
    Users,
    /// The group mapping.
    Groups,
}

/// One scoping filter: its clauses are AND-ed (entra-provisioning.md §2.3).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopingFilter {
    /// The filter's name, as the portal shows it.
    #[serde(default)]
    pub name: Option<String>,
    /// The clauses.
    pub clauses: Vec<ScopingClause>,
}

/// A scoping filter clause.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopingClause {
    /// The source attribute (`department`, `extensionAttribute1`).
    pub attribute: String,
    /// One of [`SCOPING_OPERATORS`], as the portal names it.
    pub operator: String,
    /// The operand values; none for `IS TRUE`, `IS FALSE`, `IS NULL`, `IS NOT NULL`.
    #[serde(default)]
    pub values: Vec<String>,
}

/// Entra's scoping-filter operators, as the portal and `…/schema/filterOperators` name them
/// (entra-provisioning.md §2.3).
pub const SCOPING_OPERATORS: &[&str] = &[
    "&",
    "!&",
    "ENDS_WITH",
    "EQUALS",
    "Greater_Than",
    "Greater_Than_OR_EQUALS",
    "Includes",
    "IS FALSE",
    "IS NOT NULL",
    "IS NULL",
    "IS TRUE",
    "NOT EQUALS",
    "NOT REGEX MATCH",
    "REGEX MATCH",
];

/// The operators that take no operand.
pub const UNARY_SCOPING_OPERATORS: &[&str] = &["IS FALSE", "IS NOT NULL", "IS NULL", "IS TRUE"];

/// A SCIM request sent to AWS by the scenario itself.
///
/// Placeholders `{user:NAME}` and `{group:NAME}` in the path and in string values of the body
/// stand for the AWS id of the user with that userName, or the group with that displayName, at the
/// moment the request is sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsRequest {
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// Relative to the tenant's SCIM endpoint (`Users`, `Groups/{group:SRE}`), query included.
    pub path: String,
    /// The JSON body, written as TOML.
    #[serde(default)]
    pub body: Option<toml::Value>,
    /// The status a single request must get.
    #[serde(default)]
    pub status: Option<u16>,
    /// Send this many copies at once.
    #[serde(default)]
    pub copies: Option<usize>,
    /// With `copies`: the statuses they must get, in any order.
    #[serde(default)]
    pub statuses: Vec<u16>,
}

/// `success` or `failure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It worked.
    Success,
    /// It did not.
    Failure,
}

/// What must be true at this point.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// AWS users, exactly (by userName).
    #[serde(default)]
    pub aws_users: Option<Vec<String>>,
    /// AWS users that must exist (others may).
    #[serde(default)]
    pub aws_users_include: Vec<String>,
    /// AWS users that must not exist.
    #[serde(default)]
    pub aws_users_exclude: Vec<String>,
    /// AWS users that must be inactive.
    #[serde(default)]
    pub aws_inactive: Vec<String>,
    /// AWS groups with their members' userNames, exactly.
    #[serde(default)]
    pub aws_groups: Option<BTreeMap<String, Vec<String>>>,
    /// AWS groups that must exist, with at least these members.
    #[serde(default)]
    pub aws_groups_include: BTreeMap<String, Vec<String>>,
    /// AWS groups that must not exist.
    #[serde(default)]
    pub aws_groups_exclude: Vec<String>,
    /// Provisioning log entries that must exist (since the start).
    #[serde(default)]
    pub log: Vec<LogExpectation>,
    /// The job's status.
    #[serde(default)]
    pub job: Option<JobExpectation>,
    /// Requests AWS received since the previous expectation.
    #[serde(default)]
    pub requests: Vec<RequestExpectation>,
    /// No POST, PUT, PATCH or DELETE reached AWS since the previous expectation.
    #[serde(default)]
    pub no_writes: bool,
    /// AWS users (userName) or groups (displayName) that still exist and that no write since the
    /// setup has named, in its path or its body: made by hand, they are not the job's to change.
    #[serde(default)]
    pub aws_untouched: Vec<String>,
    /// Every request AWS received so far kept order: no write to a group that did not exist, and
    /// no member added that was not an existing user.
    #[serde(default)]
    pub order_safe: bool,
    /// Provisioning log entries that must not exist (since the start): no entry matches any of them.
    #[serde(default)]
    pub log_absent: Vec<LogExpectation>,
    /// AWS users (by userName) or groups (by displayName) whose SCIM resource holds at least these
    /// attributes with these values: nested tables match partially, everything else exactly.
    #[serde(default)]
    pub aws_attributes: BTreeMap<String, toml::Value>,
    /// Compare AWS userNames in `aws_users*` and group members exactly, not case-insensitively
    /// (AWS keeps a userName's case as sent; default false).
    #[serde(default)]
    pub aws_names_exact: bool,
}

/// A provisioning log entry that must exist.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogExpectation {
    /// The source identity's display name (UPN for users).
    pub identity: String,
    /// `create`, `update`, `delete`, `disable`, `stagedDelete`, `other`.
    #[serde(default)]
    pub action: Option<String>,
    /// `success`, `failure`, `skipped`, `warning`.
    #[serde(default)]
    pub status: Option<String>,
    /// The error code.
    #[serde(default)]
    pub error_code: Option<String>,
    /// Text the reason contains.
    #[serde(default)]
    pub reason_contains: Option<String>,
}

/// The job's status.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobExpectation {
    /// `NotRun`, `Active`, `Paused`, `Quarantine`.
    #[serde(default)]
    pub code: Option<String>,
    /// The quarantine reason.
    #[serde(default)]
    pub quarantine_reason: Option<String>,
    /// `lastExecution.countEscrowed`.
    #[serde(default)]
    pub escrowed: Option<u64>,
    /// `lastExecution.state`.
    #[serde(default)]
    pub last_state: Option<String>,
    /// `escrowsPruned`: escrows cleared when the initial cycle met the quarantine threshold.
    #[serde(default)]
    pub escrows_pruned: Option<bool>,
    /// `quarantine.nextAttempt`, on the virtual clock.
    #[serde(default)]
    pub next_attempt: Option<Timestamp>,
    /// `schedule.state`: `Active`, `Disabled` (a quarantine past 28 days) or `Paused`.
    #[serde(default)]
    pub schedule_state: Option<String>,
}

/// Requests AWS received.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestExpectation {
    /// HTTP method.
    pub method: String,
    /// Text the path contains.
    #[serde(default)]
    pub path_contains: Option<String>,
    /// Text the `filter` query parameter contains, decoded (`externalId eq "annie"`).
    #[serde(default)]
    pub filter_contains: Option<String>,
    /// How many, exactly (without `count`, `at_least` or `at_most`: at least one).
    #[serde(default)]
    pub count: Option<usize>,
    /// At least this many.
    #[serde(default)]
    pub at_least: Option<usize>,
    /// At most this many (0 says none).
    #[serde(default)]
    pub at_most: Option<usize>,
    /// JSON fields the body must contain, compared as JSON.
    #[serde(default)]
    pub body: Option<toml::Value>,
    /// A PATCH's `Operations`, exactly: the same operations in the same order, each compared as
    /// JSON (`op` as sent, case included).
    #[serde(default)]
    pub operations: Option<Vec<toml::Value>>,
}

/// One problem in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column (in characters), for syntax errors: the line alone does not say where the
    /// quote or bracket is missing.
    pub column: Option<usize>,
    /// The path in the document (`steps[3].principal`).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, "{}:{line}:{column}: {}: {}", self.file, self.path, self.message),
            (Some(line), None) => write!(f, "{}:{line}: {}: {}", self.file, self.path, self.message),
            _ => write!(f, "{}: {}: {}", self.file, self.path, self.message),
        }
    }
}

/// A scenario file refused, with every problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} problem(s):\n{}", problems.len(), problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
pub struct LoadError {
    /// The problems, in file order.
    pub problems: Vec<Problem>,
}

/// The line of the first non-blank character at or after `offset`.
/// The 1-based line of a byte offset in a text.
pub fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    let skipped = text[offset..].bytes().take_while(u8::is_ascii_whitespace).count();
    text[..offset + skipped].bytes().filter(|b| *b == b'\n').count() + 1
}

/// The line and column (1-based, in characters) of `offset` itself: a syntax error found at the
/// end of a line (an unclosed string) belongs to that line, not to the next one written.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (before.bytes().filter(|b| *b == b'\n').count() + 1, before[line_start..].chars().count() + 1)
}

/// Syntax errors, one per line (what the parser reports after the first on a line follows from it),
/// in file order.
fn syntax_problems(file: &str, text: &str, errors: &[toml::de::Error]) -> Vec<Problem> {
    let mut found: Vec<(Option<(usize, usize)>, String)> = errors
        .iter()
        .map(|err| (err.span().map(|span| position(text, span.start)), err.message().trim().to_owned()))
        .collect();
    found.sort();
    found.dedup_by_key(|(at, _)| at.map(|(line, _)| line));
    found
        .into_iter()
        .map(|(at, message)| Problem {
            file: file.to_owned(),
            line: at.map(|(line, _)| line),
            column: at.map(|(_, column)| column),
            path: "(document)".into(),
            message,
        })
        .collect()
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != *cb)).min(row[j] + 1).min(row[j + 1] + 1);
            previous = current;
        }
    }
    row[b.len()]
}

fn suggestion<'a>(name: &str, known: impl Iterator<Item = &'a String>) -> String {
    known
        .map(|k| (distance(&name.to_lowercase(), &k.to_lowercase()), k))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, k)| format!("; did you mean '{k}'?"))
        .unwrap_or_default()
}

/// The largest scenario file read (the biggest shipped ones are a few KiB).
pub const MAX_FILE_SIZE: usize = 1 << 20;
/// The deepest nesting of arrays and inline tables (`[`, `{`) a scenario may have: bodies are
/// JSON-like and a few levels deep; serde and the TOML parser recurse once per level.
pub const MAX_NESTING: usize = 64;

/// Where a text is too big or too deeply nested, and why. A scan over strings and comments, not a
/// parse: brackets inside `"…"`, `'…'`, their triple-quoted forms and `# …` are not counted.
fn too_big_or_deep(text: &str) -> Option<(usize, String)> {
    if text.len() > MAX_FILE_SIZE {
        return Some((
            0,
            format!("the file is {} bytes, more than the {MAX_FILE_SIZE} a scenario may have", text.len()),
        ));
    }
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            quote @ (b'"' | b'\'') => {
                let triple = bytes[i..].starts_with(&[quote; 3]);
                i += if triple { 3 } else { 1 };
                while i < bytes.len() {
                    if quote == b'"' && bytes[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if bytes[i] == quote && (!triple || bytes[i..].starts_with(&[quote; 3])) {
                        // A triple-quoted string may end with up to two more quotes.
                        i += if triple { 3 } else { 1 };
                        while triple && i < bytes.len() && bytes[i] == quote {
                            i += 1;
                        }
                        break;
                    }
                    // A single-line string ends at the line's end at the latest.
                    if !triple && bytes[i] == b'\n' {
                        break;
                    }
                    i += 1;
                }
                continue;
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some((i, format!("arrays and inline tables nest deeper than {MAX_NESTING} levels")));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

impl Scenario {
    /// Whether what AWS does depends on the order requests arrive in: a fault rule that counts
    /// requests (`nth`, `probability`), or AWS's rate limit (`aws.switches.rateLimitPerSecond`),
    /// which counts them per second. The runner then has Entra send one request at a time
    /// (`exportConcurrency = 1`, see the crate doc).
    pub fn counts_requests(&self) -> bool {
        self.faults.iter().any(FaultRule::counts_requests)
            || self.aws.switches.get("rateLimitPerSecond").is_some_and(|limit| limit.as_integer().is_some())
    }

    /// What only Entra's provisioning service has, which an external engine cannot be asked for:
    /// its job's steps (`start`, `pause`, `restart`, `test_connection`, provision on demand), its
    /// attribute mappings and scoping filters, and expectations on its provisioning logs and job.
    /// Each with the step's place, path and why.
    pub fn entra_only(&self) -> Vec<(std::ops::Range<usize>, String, String)> {
        let mut found = Vec::new();
        for (i, at) in self.steps.iter().enumerate() {
            let Ok(step) = &at.step else { continue };
            let action = match step {
                Step::Start => Some("start"),
                Step::Pause => Some("pause"),
                Step::Restart { .. } => Some("restart"),
                Step::TestConnection { .. } => Some("test_connection"),
                Step::ProvisionOnDemand { .. } => Some("provision_on_demand"),
                Step::MapUserAttribute(_) | Step::MapGroupAttribute(_) => Some("map_*_attribute"),
                Step::UnmapUserAttribute { .. } | Step::UnmapGroupAttribute { .. } => Some("unmap_*_attribute"),
                Step::SetScopingFilter { .. } => Some("set_scoping_filter"),
                _ => None,
            };
            if let Some(action) = action {
                found.push((
                    at.span.clone(),
                    format!("steps[{i}]"),
                    format!("`{action}` is a step of Entra's provisioning service; an external engine has none"),
                ));
            }
            if let Step::Expect(expectation) = step {
                for (field, used) in [
                    ("log", !expectation.log.is_empty()),
                    ("log_absent", !expectation.log_absent.is_empty()),
                    ("job", expectation.job.is_some()),
                ] {
                    if used {
                        found.push((
                            at.span.clone(),
                            format!("steps[{i}].{field}"),
                            "Entra's provisioning logs and job say nothing of an external engine".to_owned(),
                        ));
                    }
                }
            }
        }
        found
    }

    /// What needs mock-scim's admin API, which a SCIM server of another make does not have (`harness
    /// run --scim URL --scim-token T`): `[aws.switches]` and `[[faults]]` (top-level: the span is
    /// empty), the AWS clock (`advance_aws`), AWS's console tokens (`rotate_aws_token`,
    /// `revoke_aws_token`), and expectations read from AWS's journal (`requests`, `no_writes`,
    /// `aws_untouched`, `order_safe`). Each with its span, path and why.
    pub fn needs_aws_admin(&self) -> Vec<(std::ops::Range<usize>, String, String)> {
        let mut found = Vec::new();
        let why = "needs mock-scim's admin API, which the SCIM target does not have";
        if !self.aws.switches.is_empty() {
            found.push((0..0, "aws.switches".to_owned(), format!("mock-scim's switches: {why}")));
        }
        if !self.faults.is_empty() {
            found.push((0..0, "faults".to_owned(), format!("faults on AWS's side: {why}")));
        }
        for (i, at) in self.steps.iter().enumerate() {
            let Ok(step) = &at.step else { continue };
            let action = match step {
                Step::AdvanceAws { .. } => Some("advance_aws"),
                Step::RotateAwsToken => Some("rotate_aws_token"),
                Step::RevokeAwsToken => Some("revoke_aws_token"),
                _ => None,
            };
            if let Some(action) = action {
                found.push((at.span.clone(), format!("steps[{i}]"), format!("`{action}` {why}")));
            }
            if let Step::Expect(expectation) = step {
                for (field, used) in [
                    ("requests", !expectation.requests.is_empty()),
                    ("no_writes", expectation.no_writes),
                    ("aws_untouched", !expectation.aws_untouched.is_empty()),
                    ("order_safe", expectation.order_safe),
                ] {
                    if used {
                        found.push((
                            at.span.clone(),
                            format!("steps[{i}].{field}"),
                            format!("AWS's journal of requests {why}"),
                        ));
                    }
                }
            }
        }
        found
    }

    /// Reads and checks a scenario; `file` names it in problems. A file over [`MAX_FILE_SIZE`] or
    /// nested deeper than [`MAX_NESTING`] is refused before the TOML parser sees it, so no file can
    /// overflow the stack of the parser, the walk, serde or drop.
    pub fn parse(file: &str, text: &str) -> Result<Scenario, LoadError> {
        if let Some((at, message)) = too_big_or_deep(text) {
            let problem = Problem {
                file: file.to_owned(),
                line: Some(line_of(text, at)),
                column: None,
                path: "(document)".into(),
                message,
            };
            return Err(LoadError { problems: vec![problem] });
        }
        let (mut document, errors) = toml::de::DeTable::parse_recoverable(text);
        if !errors.is_empty() {
            return Err(LoadError { problems: syntax_problems(file, text, &errors) });
        }
        let (mut found, spans) = shape::walk(&mut document, text);
        // Serde reads what the walk left (unknown keys and unreadable optional values removed), so
        // that the semantic checks run over a file with such mistakes too.
        match Scenario::deserialize(toml::de::Deserializer::from(document)) {
            Ok(scenario) => {
                let flagged: Vec<&str> = found.iter().map(|f| f.path.as_str()).collect();
                found.extend(scenario.check(&spans, &flagged));
                if found.is_empty() {
                    return Ok(scenario);
                }
            }
            // The walk found why, more precisely; serde speaks only when the walk found nothing.
            Err(err) if found.is_empty() => found.push(shape::Found {
                at: err.span(),
                path: "(document)".into(),
                message: err.message().trim().to_owned(),
            }),
            Err(_) => {}
        }
        // In file order, so a reader can walk the file top to bottom.
        found.sort_by_key(|f| f.at.as_ref().map_or(0, |at| at.start));
        let problems = found
            .into_iter()
            .map(|f| Problem {
                file: file.to_owned(),
                line: f.at.map(|at| line_of(text, at.start)),
                column: None,
                path: f.path,
                message: f.message,
            })
            .collect();
        Err(LoadError { problems })
    }

    /// Every semantic problem: references to users or groups that do not exist at that point,
    /// duplicate names, impossible durations. Each is located at the value it is about, through
    /// `spans`. `flagged` holds the paths the walk found problems at: none is reported again, nor
    /// is a step whose reading failed when the walk found why.
    fn check(&self, spans: &shape::Spans, flagged: &[&str]) -> Vec<shape::Found> {
        let mut problems = Vec::new();
        let mut push = |span: Option<std::ops::Range<usize>>, path: String, message: String| {
            // A value the walk refused (and removed) is not refused twice ("the expected status
            // is missing" after "expected an integer").
            if !flagged.contains(&path.as_str()) {
                problems.push(shape::Found { at: spans.locate(&path).or(span), path, message });
            }
        };
        if self.name.trim().is_empty() {
            push(None, "name".into(), "must not be empty".into());
        }
        if let Some(engine) = &self.engine {
            if engine.command.first().is_none_or(|program| program.trim().is_empty()) {
                push(None, "engine.command".into(), "must name a program".into());
            }
            if engine.timeout_seconds == Some(0) {
                push(None, "engine.timeout_seconds".into(), "must be at least 1".into());
            }
            for (span, path, message) in self.entra_only() {
                push(Some(span), path, message);
            }
        }
        let mut users: Vec<String> = Vec::new();
        let mut groups: Vec<String> = Vec::new();
        for (i, user) in self.directory.users.iter().enumerate() {
            let upn = user.upn.get_ref();
            if !upn.contains('@') {
                push(
                    Some(user.upn.span()),
                    format!("directory.users[{i}].upn"),
                    format!("'{upn}' is not a userPrincipalName (name@domain)"),
                );
            }
            if users.iter().any(|u| u.eq_ignore_ascii_case(upn)) {
                push(Some(user.upn.span()), format!("directory.users[{i}].upn"), format!("duplicate user '{upn}'"));
            }
            users.push(upn.clone());
        }
        if let Some(generated) = &self.directory.generated {
            for n in 0..generated.users {
                users.push(generated_upn(n));
            }
            for g in 0..generated.groups {
                groups.push(generated_group(g));
            }
            if generated.members_per_group > generated.users {
                push(
                    None,
                    "directory.generated.members_per_group".into(),
                    format!("{} members per group but only {} users", generated.members_per_group, generated.users),
                );
            }
        }
        for (i, group) in self.directory.groups.iter().enumerate() {
            let name = group.name.get_ref();
            if groups.iter().any(|g| g == name) {
                push(
                    Some(group.name.span()),
                    format!("directory.groups[{i}].name"),
                    format!("duplicate group '{name}'"),
                );
            }
            groups.push(name.clone());
        }
        let known = |users: &[String], groups: &[String], name: &str| {
            users.iter().any(|u| u.eq_ignore_ascii_case(name)) || groups.iter().any(|g| g == name)
        };
        let missing = |users: &[String], groups: &[String], name: &str, what: &str| {
            format!("no {what} '{name}' in the directory{}", suggestion(name, users.iter().chain(groups.iter())))
        };
        for (i, group) in self.directory.groups.iter().enumerate() {
            for (j, member) in group.members.iter().enumerate() {
                if !known(&users, &groups, member.get_ref()) {
                    push(
                        Some(member.span()),
                        format!("directory.groups[{i}].members[{j}]"),
                        missing(&users, &groups, member.get_ref(), "user or group"),
                    );
                }
            }
        }
        for (i, principal) in self.assignments.iter().enumerate() {
            if !known(&users, &groups, principal.get_ref()) {
                push(
                    Some(principal.span()),
                    format!("assignments[{i}]"),
                    missing(&users, &groups, principal.get_ref(), "user or group"),
                );
            }
        }
        if let Some(n) = self.entra.switches.get("exportConcurrency").and_then(toml::Value::as_integer)
            && n > 1
            && self.counts_requests()
        {
            let why = match self.faults.iter().position(FaultRule::counts_requests) {
                Some(i) => format!("faults[{i}] counts requests"),
                None => "aws.switches.rateLimitPerSecond counts requests".to_owned(),
            };
            push(
                None,
                "entra.switches.exportConcurrency".into(),
                format!(
                    "must be 1 when {why}: which requests it hits would depend on the order they arrive in, got {n}"
                ),
            );
        }
        for (i, rule) in self.faults.iter().enumerate() {
            let plan = crate::fault::FaultPlan { seed: self.seed, rules: vec![rule.clone()] };
            if let Err(err) = plan.validate() {
                for problem in err.problems {
                    // `rules[0].probability: must be …` is about `faults[i].probability`.
                    let problem = problem.strip_prefix("rules[0]").unwrap_or(&problem);
                    match problem.split_once(": ") {
                        Some((field, message)) if field.is_empty() || field.starts_with('.') => {
                            push(None, format!("faults[{i}]{field}"), message.to_owned());
                        }
                        _ => push(None, format!("faults[{i}]"), problem.trim_start_matches('.').to_owned()),
                    }
                }
            }
        }
        for (i, step_at) in self.steps.iter().enumerate() {
            let at = |field: &str| format!("steps[{i}].{field}");
            let step = match &step_at.step {
                Ok(step) => step,
                Err(error) => {
                    let step = format!("steps[{i}]");
                    let inside =
                        |path: &&str| path.strip_prefix(step.as_str()).is_some_and(|rest| rest.starts_with('.'));
                    if !flagged.iter().any(|path| *path == step || inside(path)) {
                        push(Some(step_at.span.clone()), step, error.clone());
                    }
                    continue;
                }
            };
            let step_span = step_at.span.clone();
            // Checks a reference against the users and groups that exist at this step.
            let refer = |field: &str, name: &str, users: &[String], groups: &[String], what: &str| {
                let ok = match what {
                    "user" => users.iter().any(|u| u.eq_ignore_ascii_case(name)),
                    "group" => groups.iter().any(|g| g == name),
                    _ => known(users, groups, name),
                };
                (!ok).then(|| {
                    (
                        Some(step_span.clone()),
                        at(field),
                        missing(users, groups, name, if what == "any" { "user or group" } else { what }),
                    )
                })
            };
            let mut found: Vec<(Option<std::ops::Range<usize>>, String, String)> = Vec::new();
            match step {
                Step::CreateUser { user } => {
                    let upn = &user.upn;
                    if users.iter().any(|u| u.eq_ignore_ascii_case(upn)) {
                        found.push((Some(step_span.clone()), at("upn"), format!("duplicate user '{upn}'")));
                    }
                    users.push(upn.clone());
                }
                Step::UpdateUser { user, set, clear } => {
                    found.extend(refer("user", user, &users, &groups, "user"));
                    if set.is_empty() && clear.is_empty() {
                        found.push((Some(step_span.clone()), at("set"), "give properties to set or to clear".into()));
                    }
                    for (j, name) in clear.iter().enumerate() {
                        if set.contains_key(name) {
                            found.push((
                                Some(step_span.clone()),
                                at(&format!("clear[{j}]")),
                                format!("'{name}' is both set and cleared"),
                            ));
                        }
                    }
                }
                Step::DeleteUser { user }
                | Step::PurgeUser { user }
                | Step::RestoreUser { user }
                | Step::ClearManager { user } => {
                    found.extend(refer("user", user, &users, &groups, "user"));
                }
                Step::SetManager { user, manager } => {
                    found.extend(refer("user", user, &users, &groups, "user"));
                    found.extend(refer("manager", manager, &users, &groups, "user"));
                    if user.eq_ignore_ascii_case(manager) {
                        found.push((Some(step_span.clone()), at("manager"), "a user cannot be its own manager".into()));
                    }
                }
                Step::CreateGroup { name, members } => {
                    for (j, member) in members.iter().enumerate() {
                        found.extend(refer(&format!("members[{j}]"), member, &users, &groups, "any"));
                    }
                    groups.push(name.clone());
                }
                Step::RenameGroup { group, to } => {
                    found.extend(refer("group", group, &users, &groups, "group"));
                    groups.push(to.clone());
                }
                Step::DeleteGroup { group } => found.extend(refer("group", group, &users, &groups, "group")),
                Step::AddMember { group, member } | Step::RemoveMember { group, member } => {
                    found.extend(refer("group", group, &users, &groups, "group"));
                    found.extend(refer("member", member, &users, &groups, "any"));
                }
                Step::Assign { principal } | Step::Unassign { principal } => {
                    found.extend(refer("principal", principal, &users, &groups, "any"));
                }
                Step::ProvisionOnDemand { subject, members, expect_status, .. } => {
                    found.extend(refer("subject", subject, &users, &groups, "any"));
                    if let Some(status) = expect_status
                        && !(100..=599).contains(status)
                    {
                        found.push((
                            Some(step_span.clone()),
                            at("expect_status"),
                            format!("{status} is not an HTTP status"),
                        ));
                    }
                    for (j, member) in members.iter().enumerate() {
                        found.extend(refer(&format!("members[{j}]"), member, &users, &groups, "user"));
                    }
                    if members.len() > 5 {
                        found.push((
                            Some(step_span.clone()),
                            at("members"),
                            format!("provision on demand takes at most 5 members, got {}", members.len()),
                        ));
                    }
                }
                Step::Advance { by } | Step::AdvanceAws { by } => {
                    if let Err(err) = parse_duration(by) {
                        found.push((Some(step_span.clone()), at("by"), err.to_string()));
                    }
                }
                Step::AwsRequest(request) => {
                    let mut complain = |field: &str, message: String| {
                        found.push((Some(step_span.clone()), at(field), message));
                    };
                    if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&request.method.as_str()) {
                        complain("method", format!("'{}' is not one of GET POST PUT PATCH DELETE", request.method));
                    }
                    if request.path.starts_with('/') || request.path.contains("://") {
                        complain("path", "is relative to the tenant's SCIM endpoint, as in 'Users'".into());
                    }
                    match (request.copies, request.status) {
                        (None, None) => complain("status", "the expected status is missing".into()),
                        (None, Some(_)) if !request.statuses.is_empty() => {
                            complain("statuses", "goes with copies; a single request takes status".into())
                        }
                        (Some(_), Some(_)) => complain("status", "with copies, give statuses".into()),
                        (Some(copies), None) if !(2..=100).contains(&copies) => {
                            complain("copies", format!("must be 2 to 100, got {copies}"))
                        }
                        (Some(copies), None) if request.statuses.len() != copies => complain(
                            "statuses",
                            format!("one status per copy: {copies} copies, {} statuses", request.statuses.len()),
                        ),
                        _ => {}
                    }
                    for status in request.status.iter().chain(&request.statuses) {
                        if !(100..=599).contains(status) {
                            complain("status", format!("{status} is not an HTTP status"));
                        }
                    }
                }
                Step::MapUserAttribute(edit) | Step::MapGroupAttribute(edit) => {
                    let sources =
                        [&edit.source, &edit.expression, &edit.constant].iter().filter(|s| s.is_some()).count();
                    if sources > 1 {
                        found.push((
                            Some(step_span.clone()),
                            at("source"),
                            "give at most one of source, expression or constant".into(),
                        ));
                    }
                    if edit.target.trim().is_empty() {
                        found.push((Some(step_span.clone()), at("target"), "must not be empty".into()));
                    }
                }
                Step::UnmapUserAttribute { target, .. } | Step::UnmapGroupAttribute { target, .. }
                    if target.trim().is_empty() =>
                {
                    found.push((Some(step_span.clone()), at("target"), "must not be empty".into()));
                }
                Step::SetScopingFilter { filters, .. } => {
                    for (j, filter) in filters.iter().enumerate() {
                        if filter.clauses.is_empty() {
                            found.push((
                                Some(step_span.clone()),
                                at(&format!("filters[{j}].clauses")),
                                "a filter needs at least one clause".into(),
                            ));
                        }
                        for (k, clause) in filter.clauses.iter().enumerate() {
                            let unary = UNARY_SCOPING_OPERATORS.contains(&clause.operator.as_str());
                            let message = match (unary, clause.values.len()) {
                                (true, 0) | (false, 1..) => continue,
                                (true, _) => format!("'{}' takes no values", clause.operator),
                                (false, _) => format!("'{}' needs at least one value", clause.operator),
                            };
                            found.push((
                                Some(step_span.clone()),
                                at(&format!("filters[{j}].clauses[{k}].values")),
                                message,
                            ));
                        }
                    }
                }
                Step::Expect(expectation) => {
                    for (j, wanted) in expectation.requests.iter().enumerate() {
                        let field = |name: &str| at(&format!("requests[{j}].{name}"));
                        if wanted.count.is_some() && (wanted.at_least.is_some() || wanted.at_most.is_some()) {
                            found.push((
                                Some(step_span.clone()),
                                field("count"),
                                "count is exact: give it, or at_least and at_most".into(),
                            ));
                        }
                        if let (Some(low), Some(high)) = (wanted.at_least, wanted.at_most)
                            && low > high
                        {
                            found.push((
                                Some(step_span.clone()),
                                field("at_most"),
                                format!("at_most ({high}) is below at_least ({low})"),
                            ));
                        }
                        if wanted.operations.is_some() && !wanted.method.eq_ignore_ascii_case("PATCH") {
                            found.push((
                                Some(step_span.clone()),
                                field("operations"),
                                format!("only a PATCH has operations, not {}", wanted.method),
                            ));
                        }
                    }
                }
                _ => {}
            }
            for (span, path, message) in found {
                push(span, path, message);
            }
        }
        problems
    }
}

/// Reads an ISO-8601 duration for a step: positive, at most ten years.
pub fn parse_duration(raw: &str) -> Result<SignedDuration, crate::clock::DurationError> {
    let by = crate::clock::forward_by(crate::clock::DEFAULT_START, raw)?;
    if by > SignedDuration::from_hours(24 * 3653) {
        return Err(crate::clock::DurationError::TooLong(raw.to_owned()));
    }
    Ok(by)
}

/// The UPN of the n-th generated user.
pub fn generated_upn(n: usize) -> String {
    format!("user{n:05}@contoso.onmicrosoft.com")
}

/// The name of the n-th generated group.
pub fn generated_group(n: usize) -> String {
    format!("group{n:04}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = r#"
name = "seed"
[[directory.users]]
upn = "annie@contoso.com"
given_name = "Annie"
surname = "Easley"

[[directory.groups]]
name = "SRE"
members = ["annie@contoso.com"]

[[steps]]
action = "assign"
principal = "SRE"

[[steps]]
action = "advance"
by = "PT40M"
"#;

    #[test]
    fn a_good_file_parses() {
        let scenario = Scenario::parse("seed.toml", SEED).unwrap();
        assert_eq!(scenario.steps.len(), 2);
    }

    #[test]
    fn a_misspelt_user_is_located_with_a_suggestion() {
        let text = SEED.replace("principal = \"SRE\"", "principal = \"anie@contoso.com\"");
        let err = Scenario::parse("seed.toml", &text).unwrap_err();
        assert_eq!(
            err.problems[0].to_string(),
            "seed.toml:14: steps[0].principal: no user or group 'anie@contoso.com' in the directory; did you mean 'annie@contoso.com'?"
        );
    }

    #[test]
    fn every_problem_is_listed() {
        let text = SEED.replace("principal = \"SRE\"", "principal = \"nobody\"").replace("PT40M", "forty minutes")
            + "\n[[directory.groups]]\nname = \"SRE\"\n";
        let err = Scenario::parse("x.toml", &text).unwrap_err();
        let paths: Vec<_> = err.problems.iter().map(|p| p.path.clone()).collect();
        assert_eq!(paths, ["steps[0].principal", "steps[1].by", "directory.groups[1].name"], "in file order");
    }

    #[test]
    fn mistakes_of_six_kinds_are_all_listed_each_at_its_line() {
        let text = r#"name = "six mistakes"
colour = "blue"

[[directory.users]]
upn = "annie@contoso.com"
surnme = "Easley"

[[directory.groups]]
name = "SRE"
members = ["annie@contoso.com"]

[[steps]]
action = "assign"
principal = "SRE"
speed = "fast"

[[steps]]
action = "advance"
by = 40

[[steps]]
action = "expect"
aws_user = ["annie@contoso.com"]
log = [{ identity = "SRE", staus = "failure" }]
"#;
        let err = Scenario::parse("x.toml", text).unwrap_err();
        let found: Vec<_> = err.problems.iter().map(|p| (p.line, p.path.as_str())).collect();
        assert_eq!(
            found,
            [
                (Some(2), "colour"),
                (Some(6), "directory.users[0].surnme"),
                (Some(15), "steps[0].speed"),
                (Some(19), "steps[1].by"),
                (Some(23), "steps[2].aws_user"),
                (Some(24), "steps[2].log[0].staus"),
            ],
            "{err}"
        );
        assert_eq!(err.problems[1].message, "unknown key; did you mean 'surname'?");
        assert_eq!(err.problems[3].message, "expected an ISO-8601 duration such as \"PT40M\", found integer 40");
        assert_eq!(err.problems[5].message, "unknown key; did you mean 'status'?");
    }

    #[test]
    fn semantic_checks_run_when_the_only_other_problems_are_unknown_keys() {
        let text = SEED.replace("surname", "surnme").replace("principal = \"SRE\"", "principal = \"SER\"");
        let err = Scenario::parse("x.toml", &text).unwrap_err();
        let paths: Vec<_> = err.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["directory.users[0].surnme", "steps[0].principal"], "{err}");
    }

    #[test]
    fn semantic_checks_run_past_a_wrong_type_where_serde_has_a_default() {
        let text = SEED.replace("name = \"seed\"", "name = \"seed\"\nseed = \"seven\"\nassignments = [\"SER\"]");
        let err = Scenario::parse("x.toml", &text).unwrap_err();
        let found: Vec<_> = err.problems.iter().map(|p| (p.line, p.path.as_str())).collect();
        assert_eq!(found, [(Some(3), "seed"), (Some(4), "assignments[0]")], "{err}");
        // A required value of the wrong type makes its step unreadable: reported once.
        let text = SEED.replace("by = \"PT40M\"", "by = 40");
        let err = Scenario::parse("x.toml", &text).unwrap_err();
        assert_eq!(err.problems.len(), 1, "{err}");
        // An optional one is set aside, and the step still counts: no "no user" after it.
        let text = SEED.replace("principal = \"SRE\"", "principal = \"SRE\"\n[[steps]]\naction = \"create_user\"\nupn = \"b@contoso.com\"\nenabled = \"yes\"\n[[steps]]\naction = \"assign\"\nprincipal = \"b@contoso.com\"");
        let err = Scenario::parse("x.toml", &text).unwrap_err();
        let paths: Vec<_> = err.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["steps[1].enabled"], "{err}");
    }

    #[test]
    fn a_syntax_error_is_reported_at_its_own_line_and_column() {
        let err = Scenario::parse("x.toml", "name = \"unclosed\ndescription = \"x\"\n").unwrap_err();
        assert_eq!(err.problems.len(), 1, "{err}");
        assert_eq!((err.problems[0].line, err.problems[0].column), (Some(1), Some(17)));
        assert_eq!(err.problems[0].to_string(), "x.toml:1:17: (document): invalid basic string, expected `\"`");
    }

    #[test]
    fn a_valid_file_reads_as_serde_reads_it() {
        let scenario = Scenario::parse("seed.toml", SEED).unwrap();
        let direct: Scenario = toml::from_str(SEED).unwrap();
        assert_eq!(format!("{scenario:?}"), format!("{direct:?}"));
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_refused_with_their_line() {
        let err = Scenario::parse("x.toml", "name = \"x\"\nseed = \"seven\"\n").unwrap_err();
        assert_eq!(err.problems[0].line, Some(2));
        let err = Scenario::parse("x.toml", "name = \"x\"\n[[steps]]\naction = \"jump\"\n").unwrap_err();
        assert!(err.problems[0].message.contains("jump"), "{err}");
    }
}
