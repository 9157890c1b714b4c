//! `harness replay JOURNAL --target URL --token T`: the SCIM requests a run recorded (mock-scim's
//! journal, `GET /_admin/journal?format=jsonl`, or its JSON array) sent again, in order, to another
//! SCIM server, and each answer compared with the recorded one: the status, the error envelope (its
//! schemas and keys), and the body's shape (its keys and their JSON types; values such as ids and
//! timestamps differ by nature).
//!
//! Ids are mapped as the target assigns them: an id the recording's answers gave (a created user's,
//! the ones a list returned) stands, in every later path and body, for the id the target gave in
//! the same place. Redacted bearer tokens are replaced by `--token`. What the replay created on the
//! target and did not delete is deleted at its end, unless told to keep it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

/// Why a replay could not be made at all.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Not a journal.
    #[error("not a journal (a JSON array of exchanges, or JSON Lines of them): {0}")]
    Journal(String),
    /// No SCIM request in it.
    #[error("no SCIM request in the journal (paths with /scim/v2/)")]
    Empty,
    /// The target URL is not one.
    #[error("the target {0:?} is not a URL")]
    Target(String),
    /// An HTTP client could not be built.
    #[error("an HTTP client: {0}")]
    Client(String),
}

/// One recorded exchange and what the target answered.
#[derive(Debug, Clone)]
pub struct Replayed {
    /// The recorded exchange's `seq`.
    pub seq: u64,
    /// `METHOD /path?query`, relative to the SCIM endpoint, as sent to the target.
    pub request: String,
    /// The recorded status.
    pub recorded: u16,
    /// The target's status; `None` when it did not answer.
    pub answered: Option<u16>,
    /// How the answer differs; empty when it does not.
    pub differences: Vec<String>,
}

/// A whole replay.
#[derive(Debug, Clone)]
pub struct Replay {
    /// Every request, in order.
    pub exchanges: Vec<Replayed>,
    /// What the clean-up did or could not do.
    pub cleanup: Vec<String>,
}

impl Replay {
    /// Whether every answer matched.
    pub fn same(&self) -> bool {
        self.exchanges.iter().all(|e| e.differences.is_empty())
    }

    /// One line per request, then a summary.
    pub fn human(&self) -> String {
        let mut out = String::new();
        for e in &self.exchanges {
            let status = e.answered.map_or("no answer".to_owned(), |s| s.to_string());
            let verdict = if e.differences.is_empty() { "same" } else { "DIFF" };
            let _ = writeln!(out, "{verdict}  #{:<4} {}  recorded {}, target {status}", e.seq, e.request, e.recorded);
            for difference in &e.differences {
                let _ = writeln!(out, "        {difference}");
            }
        }
        for line in &self.cleanup {
            let _ = writeln!(out, "cleanup: {line}");
        }
        let differing = self.exchanges.iter().filter(|e| !e.differences.is_empty()).count();
        let _ = writeln!(out, "\n{} request(s) replayed, {differing} answered differently", self.exchanges.len());
        out
    }

    /// The same as JSON.
    pub fn json(&self) -> Value {
        json!({
            "same": self.same(),
            "exchanges": self.exchanges.iter().map(|e| json!({
                "seq": e.seq, "request": e.request, "recorded": e.recorded, "answered": e.answered,
                "differences": e.differences,
            })).collect::<Vec<_>>(),
            "cleanup": self.cleanup,
        })
    }
}

/// How to replay.
#[derive(Debug, Clone)]
pub struct Options {
    /// The target's SCIM endpoint, ending in `/`.
    pub target: String,
    /// Its bearer token.
    pub token: String,
    /// Per request.
    pub timeout: Duration,
    /// Leave what the replay created on the target.
    pub keep: bool,
}

/// The SCIM exchanges of a journal's text, oldest first.
pub fn exchanges_of(text: &str) -> Result<Vec<Value>, ReplayError> {
    let mut all = Vec::new();
    for document in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
        match document.map_err(|err| ReplayError::Journal(err.to_string()))? {
            Value::Array(items) => all.extend(items),
            item @ Value::Object(_) => all.push(item),
            other => return Err(ReplayError::Journal(format!("{} is not an exchange", kind(&other)))),
        }
    }
    let scim: Vec<Value> =
        all.into_iter().filter(|e| e["request"]["path"].as_str().is_some_and(|p| p.contains("/scim/v2/"))).collect();
    if scim.is_empty() { Err(ReplayError::Empty) } else { Ok(scim) }
}

/// Sends the journal's SCIM requests to the target, in order, comparing each answer.
pub async fn replay(journal: &[Value], options: &Options) -> Result<Replay, ReplayError> {
    reqwest::Url::parse(&options.target).map_err(|_| ReplayError::Target(options.target.clone()))?;
    let http =
        reqwest::Client::builder().timeout(options.timeout).build().map_err(|e| ReplayError::Client(e.to_string()))?;
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let mut created: Vec<(String, String)> = Vec::new(); // (resource, target id)
    let mut exchanges = Vec::new();
    for exchange in journal {
        let request = &exchange["request"];
        let method = request["method"].as_str().and_then(|m| m.parse::<Method>().ok()).unwrap_or(Method::GET);
        let path = request["path"].as_str().unwrap_or_default();
        let relative = path.split_once("/scim/v2/").map_or("", |(_, tail)| tail);
        let relative = mapped(relative, &ids);
        let query = request["query"].as_str().map(|q| mapped(q, &ids));
        let url = match &query {
            Some(query) if !query.is_empty() => format!("{}{relative}?{query}", options.target),
            _ => format!("{}{relative}", options.target),
        };
        let label = format!("{method} /{relative}{}", query.as_deref().map(|q| format!("?{q}")).unwrap_or_default());
        let mut send = http.request(method.clone(), &url).bearer_auth(&options.token);
        let body = &request["body"];
        if !body.is_null() {
            let text = match body {
                Value::String(raw) => mapped(raw, &ids),
                json => mapped(&json.to_string(), &ids),
            };
            send = send.header(reqwest::header::CONTENT_TYPE, "application/scim+json").body(text);
        }
        let recorded_status = exchange["response"]["status"].as_u64().unwrap_or(0) as u16;
        let recorded_body = &exchange["response"]["body"];
        let seq = exchange["seq"].as_u64().unwrap_or(0);
        let (answered, answer) = match send.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                (
                    Some(status),
                    serde_json::from_str::<Value>(&text).unwrap_or(if text.is_empty() {
                        Value::Null
                    } else {
                        Value::String(text)
                    }),
                )
            }
            Err(err) => {
                exchanges.push(Replayed {
                    seq,
                    request: label,
                    recorded: recorded_status,
                    answered: None,
                    differences: vec![format!("no answer: {err}")],
                });
                continue;
            }
        };
        learn(recorded_body, &answer, &mut ids);
        let resource = relative.split('/').next().unwrap_or_default().to_owned();
        if method == Method::POST
            && answered == Some(201)
            && let Some(id) = answer["id"].as_str()
        {
            created.push((resource.clone(), id.to_owned()));
        }
        if method == Method::DELETE && answered.is_some_and(|s| s < 300) {
            let gone = relative.rsplit('/').next().unwrap_or_default().to_owned();
            created.retain(|(_, id)| *id != gone);
        }
        let differences = compare(recorded_status, recorded_body, answered.unwrap_or(0), &answer);
        exchanges.push(Replayed { seq, request: label, recorded: recorded_status, answered, differences });
    }
    let mut cleanup = Vec::new();
    if !options.keep {
        // Groups first: a group's members are users.
        created.sort_by_key(|(resource, _)| resource != "Groups");
        for (resource, id) in created {
            let url = format!("{}{resource}/{id}", options.target);
            match http.delete(&url).bearer_auth(&options.token).send().await {
                Ok(answer) if answer.status().is_success() || answer.status() == 404 => {
                    cleanup.push(format!("deleted {resource}/{id}"))
                }
                Ok(answer) => cleanup.push(format!("DELETE {resource}/{id} answered {}", answer.status())),
                Err(err) => cleanup.push(format!("DELETE {resource}/{id}: {err}")),
            }
        }
    }
    Ok(Replay { exchanges, cleanup })
}

/// Every recorded id the map knows, replaced by the target's.
fn mapped(text: &str, ids: &BTreeMap<String, String>) -> String {
    let mut out = text.to_owned();
    for (recorded, target) in ids {
        if out.contains(recorded.as_str()) {
            out = out.replace(recorded.as_str(), target);
        }
    }
    out
}

/// The ids an answer gave, beside the ones the recording's answer gave in the same places.
fn learn(recorded: &Value, answer: &Value, ids: &mut BTreeMap<String, String>) {
    let mut pair = |a: &Value, b: &Value| {
        if let (Some(recorded), Some(target)) = (a["id"].as_str(), b["id"].as_str())
            && recorded != target
            && !recorded.is_empty()
        {
            ids.insert(recorded.to_owned(), target.to_owned());
        }
    };
    pair(recorded, answer);
    if let (Some(a), Some(b)) = (recorded["Resources"].as_array(), answer["Resources"].as_array()) {
        for (a, b) in a.iter().zip(b) {
            pair(a, b);
        }
    }
}

/// How an answer differs from the recorded one: status, error envelope, body shape.
fn compare(recorded_status: u16, recorded: &Value, status: u16, answer: &Value) -> Vec<String> {
    let mut differences = Vec::new();
    if recorded_status != status {
        differences.push(format!("status: recorded {recorded_status}, target {status}"));
    }
    let error = |s: u16| s >= 400;
    if error(recorded_status) && error(status) {
        if recorded["schemas"] != answer["schemas"] {
            differences.push(format!("error schemas: recorded {}, target {}", recorded["schemas"], answer["schemas"]));
        }
        if recorded["detail"] != answer["detail"] {
            differences.push(format!("error detail: recorded {}, target {}", recorded["detail"], answer["detail"]));
        }
    }
    if recorded_status == status {
        // A list that found something where the recording found nothing (or the other way) says
        // so once, rather than as every key of an item.
        let count = |v: &Value| v["Resources"].as_array().map(Vec::len);
        if let (Some(n), Some(m)) = (count(recorded), count(answer))
            && n != m
        {
            differences.push(format!("Resources: recorded {n} item(s), target {m}"));
        }
        let items = |v: &Value| count(v).is_some_and(|n| n > 0);
        let both_items = items(recorded) && items(answer);
        let listed = |k: &&String| both_items || !k.starts_with("Resources[]");
        let (a, b) = (shape(recorded), shape(answer));
        let (a, b): (BTreeMap<_, _>, BTreeMap<_, _>) =
            (a.into_iter().filter(|(k, _)| listed(&k)).collect(), b.into_iter().filter(|(k, _)| listed(&k)).collect());
        let missing: Vec<&String> = a.keys().filter(|k| !b.contains_key(*k)).collect();
        let extra: Vec<&String> = b.keys().filter(|k| !a.contains_key(*k)).collect();
        let retyped: Vec<String> =
            a.iter().filter_map(|(k, t)| b.get(k).filter(|u| *u != t).map(|u| format!("{k} ({t} → {u})"))).collect();
        if !missing.is_empty() {
            differences.push(format!("body lacks {}", join(&missing)));
        }
        if !extra.is_empty() {
            differences.push(format!("body adds {}", join(&extra)));
        }
        if !retyped.is_empty() {
            differences.push(format!("body retypes {}", retyped.join(", ")));
        }
    }
    differences
}

fn join(keys: &[&String]) -> String {
    keys.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
}

/// A body's shape: each key path (objects' keys, one level into `Resources`' first item and into
/// nested objects) with its JSON type.
fn shape(value: &Value) -> BTreeMap<String, &'static str> {
    let mut out = BTreeMap::new();
    fn walk(prefix: &str, value: &Value, depth: usize, out: &mut BTreeMap<String, &'static str>) {
        if let Value::Object(map) = value {
            for (key, inner) in map {
                let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                out.insert(path.clone(), kind(inner));
                if depth < 2 {
                    match inner {
                        Value::Object(_) => walk(&path, inner, depth + 1, out),
                        Value::Array(items) if key == "Resources" => {
                            if let Some(first) = items.first() {
                                walk(&format!("{path}[]"), first, depth + 1, out);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    walk("", value, 0, &mut out);
    out
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_map_in_paths_and_bodies() {
        let mut ids = BTreeMap::new();
        learn(&json!({"id": "rec-1"}), &json!({"id": "tgt-9"}), &mut ids);
        learn(&json!({"Resources": [{"id": "rec-2"}]}), &json!({"Resources": [{"id": "tgt-8"}]}), &mut ids);
        assert_eq!(mapped("Groups/rec-1", &ids), "Groups/tgt-9");
        assert_eq!(mapped(r#"{"value":"rec-2"}"#, &ids), r#"{"value":"tgt-8"}"#);
    }

    #[test]
    fn status_envelope_and_shape_differences_are_named() {
        let recorded = json!({"id": "a", "meta": {"created": "x"}, "active": true});
        assert!(
            compare(201, &recorded, 201, &json!({"id": "b", "meta": {"created": "y"}, "active": false})).is_empty()
        );
        let differences = compare(201, &recorded, 201, &json!({"id": "b", "active": "True", "extra": 1}));
        assert_eq!(
            differences,
            vec!["body lacks meta, meta.created", "body adds extra", "body retypes active (boolean → string)"]
        );
        let refused = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "detail": "no"});
        assert_eq!(compare(400, &refused, 201, &json!({})), vec!["status: recorded 400, target 201"]);
    }

    #[test]
    fn a_journal_is_an_array_or_lines_of_exchanges() {
        let one = r#"{"seq":1,"request":{"method":"GET","path":"/t/scim/v2/Users"},"response":{"status":200}}"#;
        assert_eq!(exchanges_of(&format!("[{one}]")).unwrap().len(), 1);
        assert_eq!(exchanges_of(&format!("{one}\n{one}\n")).unwrap().len(), 2);
        assert!(matches!(exchanges_of("[]"), Err(ReplayError::Empty)));
        assert!(matches!(exchanges_of("nope"), Err(ReplayError::Journal(_))));
    }
}
