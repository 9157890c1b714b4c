//! One dialect's run (entra-provisioning.md §4.5): the requests the engine sends, each check's
//! judgement of the answers, and the clean-up of what the run made.

// A failure (a reason and an exchange) is large for an `Err`, but made at most once per check, after
// a round trip over the network: boxing it would buy nothing.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

use mock_graph::provisioning::cycle::MEMBER_CHUNK;
use mock_graph::provisioning::mapping::get_path;
use mock_graph::provisioning::scim::{Dialect, Reply, Target, build_resource, eq_filter, operations};
use reqwest::Method;
use serde_json::{Value, json};

use super::{Check, Exchange, Outcome, PREFIX, ValidateError, dialect_name};

/// The ListResponse schema a probe and a match must answer with (§4.5).
const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The error schema Entra reads a refusal's body by (RFC 7644 §3.12; §4.5).
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// Attempts of a request answered 429, the first included.
const THROTTLED_ATTEMPTS: u32 = 5;
/// The longest `Retry-After` waited out, in seconds.
const MAX_RETRY_AFTER: u64 = 30;
/// Bodies in a report are cut here.
const BODY_LIMIT: usize = 2000;

/// splitmix64: names and GUIDs from the seed, nothing else needs randomness.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A version 4 GUID, as Entra's probe uses.
    fn guid(&mut self) -> String {
        let bits = (u128::from(self.next()) << 64) | u128::from(self.next());
        // Version 4 in bits 76–79, the RFC 4122 variant in bits 62–63.
        let bits = (bits & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
        let hex = format!("{bits:032x}");
        format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
    }
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(BODY_LIMIT) {
        Some((at, _)) => format!("{}… ({} bytes in all)", &text[..at], text.len()),
        None => text.to_owned(),
    }
}

/// A failed check's reason and the exchange that decided it.
type Failure = (String, Exchange);
type Judged<T> = Result<(T, Exchange), Failure>;

fn status_in(reply: &Reply, exchange: &Exchange, wanted: &[u16]) -> Result<(), Failure> {
    let wanted_text = wanted.iter().map(u16::to_string).collect::<Vec<_>>().join(" or ");
    match reply.status() {
        Some(status) if wanted.contains(&status) => Ok(()),
        Some(status) => Err((format!("expected {wanted_text}, got {status}"), exchange.clone())),
        None => Err((format!("expected {wanted_text}, got no answer: {}", reply.text()), exchange.clone())),
    }
}

fn body_json(reply: &Reply, exchange: &Exchange) -> Result<Value, Failure> {
    reply.json().ok_or_else(|| ("the body is not JSON".to_owned(), exchange.clone()))
}

/// A 200 ListResponse's resources, checked against `totalResults`.
fn list(reply: &Reply, exchange: &Exchange) -> Result<Vec<Value>, Failure> {
    status_in(reply, exchange, &[200])?;
    let body = body_json(reply, exchange)?;
    let fail = |reason: &str| Err((reason.to_owned(), exchange.clone()));
    if !schemas_contain(&body, LIST_RESPONSE) {
        return fail(&format!("schemas does not contain {LIST_RESPONSE}"));
    }
    let Some(total) = body["totalResults"].as_u64() else { return fail("no totalResults number") };
    let resources = match &body["Resources"] {
        Value::Array(resources) => resources.clone(),
        Value::Null if total == 0 => Vec::new(),
        _ => return fail("no Resources list"),
    };
    if total as usize != resources.len() {
        return fail(&format!("totalResults is {total} but Resources holds {}", resources.len()));
    }
    Ok(resources)
}

fn schemas_contain(body: &Value, schema: &str) -> bool {
    body["schemas"].as_array().is_some_and(|s| s.iter().any(|v| v.as_str() == Some(schema)))
}

/// A created resource's id, with `meta` beside it (§4.5: Entra keeps the id; SCIM's `meta`).
fn created(reply: &Reply, exchange: &Exchange) -> Result<String, Failure> {
    status_in(reply, exchange, &[201])?;
    let body = body_json(reply, exchange)?;
    let id = id_of(&body).ok_or_else(|| ("no id in the created resource".to_owned(), exchange.clone()))?;
    if !body["meta"].is_object() {
        return Err(("no meta in the created resource".to_owned(), exchange.clone()));
    }
    Ok(id)
}

fn id_of(body: &Value) -> Option<String> {
    body["id"].as_str().filter(|id| !id.is_empty()).map(str::to_owned)
}

/// A refusal Entra can read: the SCIM error schema and the status (RFC 7644 §3.12).
fn error_body(reply: &Reply, exchange: &Exchange, wanted: u16) -> Result<(), Failure> {
    status_in(reply, exchange, &[wanted])?;
    let body = body_json(reply, exchange).map_err(|(_, e)| ("the error body is not JSON".to_owned(), e))?;
    if !schemas_contain(&body, ERROR) {
        return Err((format!("the error body's schemas does not contain {ERROR}"), exchange.clone()));
    }
    let status = match &body["status"] {
        Value::String(s) => s.parse::<u16>().ok(),
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        _ => None,
    };
    if status != Some(wanted) {
        return Err((format!("the error body's status is {}, not \"{wanted}\"", body["status"]), exchange.clone()));
    }
    Ok(())
}

/// How a group's members can be read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Members {
    /// `GET /Groups/{id}` lists them.
    Listed,
    /// Only `id eq "…" and members eq "…"` tells (AWS: "Group members are never returned").
    Filter,
}

/// One dialect's run.
pub(super) struct Run<'a> {
    pub(super) target: Target,
    pub(super) dialect: Dialect,
    pub(super) token: &'a str,
    pub(super) rng: &'a mut Rng,
    pub(super) members: usize,
    pub(super) checks: Vec<Check>,
    /// Ids this run created and has not deleted, for the clean-up.
    pub(super) users: BTreeSet<String>,
    pub(super) groups: BTreeSet<String>,
}

impl Run<'_> {
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> (Reply, Exchange) {
        // A 429 is waited out and sent again, as Entra does (§5.1), so that a server's rate limit is
        // not reported as a failed check; anything else is judged as it comes.
        let mut reply = Reply::Transport("no attempt was made".into());
        for attempt in 1..=THROTTLED_ATTEMPTS {
            let replies = self.target.send(method.clone(), path, query, body).await;
            reply = replies.into_iter().last().unwrap_or(reply);
            match &reply {
                Reply::Http { status: 429, retry_after, .. } if attempt < THROTTLED_ATTEMPTS => {
                    let seconds = retry_after.unwrap_or(1).min(MAX_RETRY_AFTER);
                    tokio::time::sleep(Duration::from_secs(seconds)).await;
                }
                _ => break,
            }
        }
        let mut url = format!("{}{path}", self.target.base);
        if !query.is_empty()
            && let Ok(mut parsed) = reqwest::Url::parse(&url)
        {
            parsed.query_pairs_mut().extend_pairs(query);
            url = parsed.to_string();
        }
        // A server that echoes the bearer does not get it into a report; a token too short to be
        // told from ordinary text (a test's `x`) is left alone.
        let hide =
            |text: &str| if self.token.len() < 8 { text.to_owned() } else { text.replace(self.token, "<token>") };
        let exchange = Exchange {
            method: method.to_string(),
            url: hide(&url),
            request_body: body.map(|b| cut(&hide(&b.to_string()))),
            status: reply.status(),
            response_body: cut(&hide(reply.text())),
        };
        (reply, exchange)
    }

    fn record<T>(&mut self, name: &'static str, judged: Judged<T>) -> Option<T> {
        let (outcome, exchange, value) = match judged {
            Ok((value, exchange)) => (Outcome::Pass, exchange, Some(value)),
            Err((reason, exchange)) => (Outcome::Fail { reason }, exchange, None),
        };
        self.checks.push(Check { name, dialect: self.dialect, outcome, exchange: Some(exchange) });
        value
    }

    fn skip(&mut self, name: &'static str, reason: &str) {
        let outcome = Outcome::Skip { reason: reason.to_owned() };
        self.checks.push(Check { name, dialect: self.dialect, outcome, exchange: None });
    }

    /// §4.5 test connection: a user (or group) that cannot exist, expecting 200 and an empty list.
    async fn probe(&mut self, name: &'static str, collection: &str, attribute: &str) -> Reply {
        let guid = self.rng.guid();
        let filter = eq_filter(attribute, &guid);
        let query: Vec<(&str, &str)> = if collection == "Groups" {
            vec![("excludedAttributes", "members"), ("filter", &filter)]
        } else {
            vec![("filter", &filter)]
        };
        let (reply, exchange) = self.send(Method::GET, collection, &query, None).await;
        let judged = list(&reply, &exchange).and_then(|resources| {
            if resources.is_empty() {
                Ok(((), exchange.clone()))
            } else {
                Err((format!("{} resource(s) for a random GUID", resources.len()), exchange.clone()))
            }
        });
        self.record(name, judged);
        reply
    }

    /// §4.5 create user: the engine's body for a user with the AWS app's mappings.
    async fn create_user(&mut self, desired: &BTreeMap<String, String>) -> (Reply, Exchange) {
        let body = build_resource(
            desired,
            &BTreeMap::new(),
            json!([
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
            ]),
        );
        let (reply, exchange) = self.send(Method::POST, "Users", &[], Some(&body)).await;
        if reply.ok()
            && let Some(id) = reply.json().as_ref().and_then(id_of)
        {
            self.users.insert(id);
        }
        (reply, exchange)
    }

    /// §4.5 create group: always without members (§4.2).
    async fn create_group(&mut self, desired: &BTreeMap<String, String>) -> (Reply, Exchange) {
        let body = build_resource(desired, &BTreeMap::new(), json!(["urn:ietf:params:scim:schemas:core:2.0:Group"]));
        let (reply, exchange) = self.send(Method::POST, "Groups", &[], Some(&body)).await;
        if reply.ok()
            && let Some(id) = reply.json().as_ref().and_then(id_of)
        {
            self.groups.insert(id);
        }
        (reply, exchange)
    }

    /// A PATCH with the engine's operations for `desired` over `current`, then a GET of the resource
    /// that `check` judges.
    async fn patch_then_get(
        &mut self,
        path: &str,
        desired: &BTreeMap<String, String>,
        current: &BTreeMap<String, String>,
        query: &[(&str, &str)],
        check: impl Fn(&Value) -> Result<(), String>,
    ) -> Judged<()> {
        let body = Target::patch(operations(self.dialect, desired, current));
        let (reply, exchange) = self.send(Method::PATCH, path, &[], Some(&body)).await;
        status_in(&reply, &exchange, &[200, 204])?;
        let (reply, exchange) = self.send(Method::GET, path, query, None).await;
        status_in(&reply, &exchange, &[200])?;
        let resource = body_json(&reply, &exchange)?;
        check(&resource).map_err(|reason| (reason, exchange.clone()))?;
        Ok(((), exchange))
    }

    /// DELETE, then GET expecting 404 (§4.5: 204; a get by id of what is gone is 404).
    async fn delete(&mut self, collection: &str, id: &str) -> Judged<()> {
        let path = format!("{collection}/{id}");
        let (reply, exchange) = self.send(Method::DELETE, &path, &[], None).await;
        status_in(&reply, &exchange, &[204])?;
        if collection == "Users" {
            self.users.remove(id);
        } else {
            self.groups.remove(id);
        }
        let (reply, exchange) = self.send(Method::GET, &path, &[], None).await;
        status_in(&reply, &exchange, &[404]).map_err(|(reason, e)| (format!("after the delete, {reason}"), e))?;
        Ok(((), exchange))
    }

    /// §4.5 add/remove members: the dialect's member operations, a PATCH per chunk of [`MEMBER_CHUNK`].
    async fn members(&mut self, op: &str, group: &str, ids: &[String]) -> Judged<()> {
        let path = format!("Groups/{group}");
        let mut last = None;
        for (n, chunk) in ids.chunks(MEMBER_CHUNK).enumerate() {
            let body = Target::patch(self.dialect.member_operations(op, chunk));
            let (reply, exchange) = self.send(Method::PATCH, &path, &[], Some(&body)).await;
            status_in(&reply, &exchange, &[200, 204])
                .map_err(|(reason, e)| (format!("chunk {}: {reason}", n + 1), e))?;
            last = Some(exchange);
        }
        last.map(|e| ((), e)).ok_or_else(|| ("no members to send".to_owned(), placeholder()))
    }

    /// Whether `ids` are all in the group (`present`) or none is: from the group's `members` when
    /// the server lists them, else from `id eq "…" and members eq "…"` for the first and last id
    /// (AWS's form, §4.5). `Ok(None)` when the server shows neither.
    async fn read_members(
        &mut self,
        group: &str,
        ids: &[String],
        present: bool,
        known: Option<Members>,
    ) -> Result<Option<(Members, Exchange)>, Failure> {
        let path = format!("Groups/{group}");
        let (reply, exchange) = self.send(Method::GET, &path, &[], None).await;
        status_in(&reply, &exchange, &[200])?;
        let resource = body_json(&reply, &exchange)?;
        let listed = match &resource["members"] {
            Value::Array(members) => Some(members.iter().filter_map(|m| m["value"].as_str()).collect::<BTreeSet<_>>()),
            Value::Null if known == Some(Members::Listed) => Some(BTreeSet::new()),
            _ => None,
        };
        if let Some(listed) = listed {
            let wrong: Vec<&String> = ids.iter().filter(|id| listed.contains(id.as_str()) != present).collect();
            if !wrong.is_empty() {
                let reason = format!(
                    "{} of {} member(s) {}, {} among them",
                    wrong.len(),
                    ids.len(),
                    if present { "missing" } else { "still there" },
                    wrong[0]
                );
                return Err((reason, exchange));
            }
            return Ok(Some((Members::Listed, exchange)));
        }
        let mut samples = vec![&ids[0]];
        if ids.len() > 1 {
            samples.push(&ids[ids.len() - 1]);
        }
        let mut last = exchange;
        for id in samples {
            let filter = format!("{} and {}", eq_filter("id", group), eq_filter("members", id));
            let (reply, exchange) =
                self.send(Method::GET, "Groups", &[("excludedAttributes", "members"), ("filter", &filter)], None).await;
            if reply.status() != Some(200) {
                return Ok(None);
            }
            let resources = list(&reply, &exchange)?;
            if resources.len() != usize::from(present) {
                let state = if present { "is not in the group" } else { "is still in the group" };
                return Err((format!("member {id} {state}"), exchange));
            }
            last = exchange;
        }
        Ok(Some((Members::Filter, last)))
    }

    /// Every check in order; on the `first` run, no answer or 401/403 to the probe ends it all.
    pub(super) async fn run(&mut self, first: bool) -> Result<(), ValidateError> {
        let d = dialect_name(self.dialect);
        let tag = format!("{:08x}", self.rng.next() as u32);
        let base = format!("{PREFIX}{tag}-{d}");
        // The probes (§4.5 test connection), users then groups.
        let reply = self.probe("probe-users", "Users", "userName").await;
        if first {
            let url = self.checks[0].exchange.as_ref().map(|e| e.url.clone()).unwrap_or_default();
            match reply {
                Reply::Transport(reason) => return Err(ValidateError::Unreachable { url, reason }),
                Reply::Http { status: status @ (401 | 403), body, .. } => {
                    return Err(ValidateError::Refused { url, status, body: cut(&body) });
                }
                Reply::Http { .. } => {}
            }
        }
        self.probe("probe-groups", "Groups", "displayName").await;

        // A user with the AWS app's user mappings, the values Entra would send.
        let user_name = format!("{base}-user@example.com");
        let user = |i: usize, name: &str| -> BTreeMap<String, String> {
            [
                ("userName", name.to_owned()),
                ("active", "True".to_owned()),
                ("displayName", format!("Validate Scim {tag} {i}")),
                ("name.givenName", "Validate".to_owned()),
                ("name.familyName", format!("Scim {i}")),
                ("name.formatted", format!("Validate Scim {i}")),
                ("emails[type eq \"work\"].value", name.to_owned()),
                ("externalId", format!("{base}-user-{i}")),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
        };
        let desired = user(0, &user_name);
        let (reply, exchange) = self.create_user(&desired).await;
        let judged = created(&reply, &exchange).map(|id| (id, exchange));
        let user_id = self.record("user-create", judged);

        if let Some(id) = &user_id {
            // §4.5 get user by id.
            let path = format!("Users/{id}");
            let (reply, exchange) = self.send(Method::GET, &path, &[], None).await;
            let judged = status_in(&reply, &exchange, &[200]).and_then(|()| {
                let body = body_json(&reply, &exchange)?;
                if id_of(&body).as_deref() != Some(id) {
                    return Err((format!("id is {}, not {id:?}", body["id"]), exchange.clone()));
                }
                if !body["userName"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(&user_name)) {
                    return Err((format!("userName is {}, not {user_name:?}", body["userName"]), exchange.clone()));
                }
                Ok(((), exchange.clone()))
            });
            self.record("user-get", judged);

            // §4.5 get user by matching attribute.
            let filter = eq_filter("userName", &user_name);
            let (reply, exchange) = self.send(Method::GET, "Users", &[("filter", &filter)], None).await;
            let judged = list(&reply, &exchange).and_then(|resources| match resources.as_slice() {
                [one] if id_of(one).as_deref() == Some(id) => Ok(((), exchange.clone())),
                [one] => Err((format!("the user matched has id {}, not {id:?}", one["id"]), exchange.clone())),
                many => Err((format!("{} users matched, Entra needs exactly one", many.len()), exchange.clone())),
            });
            self.record("user-match", judged);

            // §4.5 update user: Replace name.familyName and the work email.
            let mut updated = BTreeMap::new();
            updated.insert("name.familyName".to_owned(), "Updated".to_owned());
            updated.insert("emails[type eq \"work\"].value".to_owned(), format!("{base}-updated@example.com"));
            let current = updated.keys().map(|k| (k.clone(), desired[k].clone())).collect();
            let expected = updated.clone();
            let judged = self
                .patch_then_get(&path, &updated, &current, &[], move |resource| {
                    for (path, value) in &expected {
                        let held = get_path(resource, path);
                        if held.as_deref() != Some(value) {
                            return Err(format!("{path} is {held:?} after the PATCH, not {value:?}"));
                        }
                    }
                    Ok(())
                })
                .await;
            self.record("user-update", judged);

            // A second create of the same userName: Entra reads the 409's SCIM error.
            let (reply, exchange) = self.create_user(&desired).await;
            let judged = error_body(&reply, &exchange, 409).map(|()| ((), exchange));
            self.record("user-duplicate", judged);
        } else {
            for name in ["user-get", "user-match", "user-update", "user-duplicate"] {
                self.skip(name, "user-create failed");
            }
        }

        // A group with the AWS app's group mappings.
        let group_name = format!("{base}-group");
        let group: BTreeMap<String, String> =
            [("displayName".to_owned(), group_name.clone()), ("externalId".to_owned(), format!("{base}-group"))].into();
        let (reply, exchange) = self.create_group(&group).await;
        let judged = created(&reply, &exchange).map(|id| (id, exchange));
        let group_id = self.record("group-create", judged);

        if let Some(gid) = &group_id {
            // §4.5 get group by displayName: members excluded, and they must be.
            let filter = eq_filter("displayName", &group_name);
            let query = [("excludedAttributes", "members"), ("filter", filter.as_str())];
            let (reply, exchange) = self.send(Method::GET, "Groups", &query, None).await;
            let judged = list(&reply, &exchange).and_then(|resources| match resources.as_slice() {
                [one] if id_of(one).as_deref() != Some(gid) => {
                    Err((format!("the group matched has id {}, not {gid:?}", one["id"]), exchange.clone()))
                }
                [one] if one["members"].as_array().is_some_and(|m| !m.is_empty()) => {
                    Err(("members returned despite excludedAttributes=members".to_owned(), exchange.clone()))
                }
                [_] => Ok(((), exchange.clone())),
                many => Err((format!("{} groups matched, Entra needs exactly one", many.len()), exchange.clone())),
            });
            self.record("group-match", judged);
        } else {
            self.skip("group-match", "group-create failed");
        }

        // Members: the user and as many more as needed for the chunks.
        match (&user_id, &group_id) {
            (Some(uid), Some(gid)) => {
                let mut ids = vec![uid.clone()];
                let mut setup = Ok(());
                for i in 1..self.members.max(1) {
                    let (reply, exchange) = self.create_user(&user(i, &format!("{base}-member-{i}@example.com"))).await;
                    match created(&reply, &exchange) {
                        Ok(id) => ids.push(id),
                        Err((reason, exchange)) => {
                            setup = Err((format!("creating member user {i}: {reason}"), exchange));
                            break;
                        }
                    }
                }
                let added = match setup {
                    Ok(()) => self.members("add", gid, &ids).await,
                    Err(failure) => Err(failure),
                };
                let added = self.record("members-add", added).is_some();
                let mut known = None;
                if added {
                    let read = self.read_members(gid, &ids, true, None).await;
                    known = self.record_read("members-add-read", read);
                } else {
                    self.skip("members-add-read", "members-add failed");
                }
                if added {
                    let removed = self.members("remove", gid, &ids).await;
                    if self.record("members-remove", removed).is_some() {
                        let read = self.read_members(gid, &ids, false, known).await;
                        self.record_read("members-remove-read", read);
                    } else {
                        self.skip("members-remove-read", "members-remove failed");
                    }
                } else {
                    self.skip("members-remove", "members-add failed");
                    self.skip("members-remove-read", "members-add failed");
                }
            }
            _ => {
                let reason = if user_id.is_none() { "user-create failed" } else { "group-create failed" };
                for name in ["members-add", "members-add-read", "members-remove", "members-remove-read"] {
                    self.skip(name, reason);
                }
            }
        }

        if let Some(gid) = &group_id {
            // §4.5 group rename: Replace displayName.
            let renamed = format!("{base}-renamed");
            let desired: BTreeMap<String, String> = [("displayName".to_owned(), renamed.clone())].into();
            let current: BTreeMap<String, String> = [("displayName".to_owned(), group_name.clone())].into();
            let path = format!("Groups/{gid}");
            let judged = self
                .patch_then_get(&path, &desired, &current, &[("excludedAttributes", "members")], |resource| {
                    match resource["displayName"].as_str() {
                        Some(name) if name == renamed => Ok(()),
                        other => Err(format!("displayName is {other:?} after the PATCH, not {renamed:?}")),
                    }
                })
                .await;
            let renamed_ok = self.record("group-rename", judged).is_some();
            // A second create of the name the group holds now.
            let mut again = group.clone();
            if renamed_ok {
                again.insert("displayName".to_owned(), format!("{base}-renamed"));
            }
            let (reply, exchange) = self.create_group(&again).await;
            let judged = error_body(&reply, &exchange, 409).map(|()| ((), exchange));
            self.record("group-duplicate", judged);
        } else {
            self.skip("group-rename", "group-create failed");
            self.skip("group-duplicate", "group-create failed");
        }

        if let Some(id) = &user_id {
            // §4.5 disable user: active false, "False" in the default dialect, false with the flag.
            let desired: BTreeMap<String, String> = [("active".to_owned(), "False".to_owned())].into();
            let current: BTreeMap<String, String> = [("active".to_owned(), "True".to_owned())].into();
            let judged = self
                .patch_then_get(&format!("Users/{id}"), &desired, &current, &[], |resource| match &resource["active"] {
                    Value::Bool(false) => Ok(()),
                    other => Err(format!("active is {other} after the PATCH, not false")),
                })
                .await;
            self.record("user-disable", judged);
        } else {
            self.skip("user-disable", "user-create failed");
        }

        // §4.5 delete group, delete user.
        match &group_id {
            Some(gid) => {
                let judged = self.delete("Groups", gid).await;
                self.record("group-delete", judged);
            }
            None => self.skip("group-delete", "group-create failed"),
        }
        match &user_id {
            Some(id) => {
                let judged = self.delete("Users", id).await;
                self.record("user-delete", judged);
            }
            None => self.skip("user-delete", "user-create failed"),
        }
        Ok(())
    }

    /// Records a read-back; a server that shows members neither way skips it.
    fn record_read(
        &mut self,
        name: &'static str,
        read: Result<Option<(Members, Exchange)>, Failure>,
    ) -> Option<Members> {
        match read {
            Ok(None) => {
                self.skip(name, "the server neither lists a group's members nor answers id eq … and members eq …");
                None
            }
            Ok(Some((how, exchange))) => self.record(name, Ok((how, exchange))),
            Err(failure) => self.record::<Members>(name, Err(failure)),
        }
    }

    /// Deletes whatever this run made and did not delete: groups first, then users.
    pub(super) async fn clean_up(&mut self) -> String {
        let d = dialect_name(self.dialect);
        let mut left = Vec::new();
        let (mut users, mut groups) = (0, 0);
        for (collection, ids) in
            [("Groups", std::mem::take(&mut self.groups)), ("Users", std::mem::take(&mut self.users))]
        {
            for id in ids {
                let (reply, _) = self.send(Method::DELETE, &format!("{collection}/{id}"), &[], None).await;
                match reply.status() {
                    Some(200..=299 | 404) if collection == "Groups" => groups += 1,
                    Some(200..=299 | 404) => users += 1,
                    Some(status) => left.push(format!("{collection}/{id} ({status})")),
                    None => left.push(format!("{collection}/{id} (no answer)")),
                }
            }
        }
        let mut line = format!("cleanup {d}: deleted {users} user(s) and {groups} group(s) left over");
        if !left.is_empty() {
            let _ = write!(line, "; could not delete {}", left.join(", "));
        }
        line
    }
}

fn placeholder() -> Exchange {
    Exchange {
        method: String::new(),
        url: String::new(),
        request_body: None,
        status: None,
        response_body: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_seed_gives_the_same_guids_and_they_are_version_4() {
        let (mut a, mut b) = (Rng(7), Rng(7));
        let guid = a.guid();
        assert_eq!(guid, b.guid());
        assert_eq!(guid.len(), 36);
        assert_eq!(&guid[14..15], "4");
        assert!("89ab".contains(&guid[19..20]), "{guid}");
        assert_eq!(guid.matches('-').count(), 4);
        assert_ne!(guid, a.guid());
    }

    #[test]
    fn bodies_are_cut_with_their_length_said() {
        let long = "x".repeat(BODY_LIMIT + 10);
        assert!(cut(&long).ends_with(&format!("… ({} bytes in all)", BODY_LIMIT + 10)));
        assert_eq!(cut("short"), "short");
    }

    #[test]
    fn a_refusal_entra_can_read_has_the_error_schema_and_the_status() {
        let exchange = placeholder();
        let reply = |body: Value| Reply::Http { status: 409, body: body.to_string(), retry_after: None };
        assert!(error_body(&reply(json!({"schemas": [ERROR], "status": "409"})), &exchange, 409).is_ok());
        assert!(error_body(&reply(json!({"schemas": [ERROR], "status": 409})), &exchange, 409).is_ok());
        let (reason, _) = error_body(&reply(json!({"detail": "taken"})), &exchange, 409).unwrap_err();
        assert!(reason.contains("schemas"), "{reason}");
        let (reason, _) = error_body(&reply(json!({"schemas": [ERROR]})), &exchange, 409).unwrap_err();
        assert!(reason.contains("status"), "{reason}");
    }
}
