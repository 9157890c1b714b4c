//! The HTML report (`harness run --report FILE.html`): one self-contained file — inline CSS and
//! SVG, no script, nothing fetched — for someone who reads provisioning in the Azure portal's
//! blade, in its words (Identity, Action, Status, Source/Target, the steps Import, Scoping,
//! Matching, Action, Export, the error code and reason).
//!
//! Per scenario: its failing expectations (what, expected, actual, side by side), a timeline of
//! its cycles (one bar per cycle, stacked by status), one row per provisioning log entry with its
//! steps (the fields of Graph's `provisioningObjectSummary`, entra-provisioning.md §6.1), AWS's
//! state after each `advance`, and, when it failed, the SCIM exchanges behind it, collapsed.
//!
//! The same scenarios give the same file byte for byte, except the durations, which are all in
//! the one `<footer id="durations">` at the end. Every text is escaped ([`escape`]); the journal
//! is redacted by the mocks and redacted again here, with the same rules
//! ([`scenarios::journal::redact_json`], [`scenarios::journal::redact_header`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde_json::Value;

use crate::runner::ScenarioResult;

/// Escapes text for HTML element content and double- or single-quoted attribute values.
pub fn escape(text: &str) -> String {
    super::xml_escape(text)
}

/// The statuses of `provisioningStatusInfo` (§6.1), in the order the timeline stacks them.
const STATUSES: [&str; 4] = ["success", "warning", "failure", "skipped"];

const STYLE: &str = r#"
:root { --ok: #107c10; --bad: #a4262c; --warn: #986f0b; --skip: #8a8886; --line: #e1dfdd; --ink: #201f1e; --soft: #605e5c; }
* { box-sizing: border-box; }
body { font: 14px/1.45 "Segoe UI", system-ui, -apple-system, sans-serif; color: var(--ink); margin: 0; background: #faf9f8; }
header, main, footer { max-width: 1240px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 20px; }
h1 { font-size: 24px; font-weight: 600; margin: 0 0 8px; }
h2 { font-size: 18px; font-weight: 600; margin: 0; }
h3 { font-size: 15px; font-weight: 600; margin: 18px 0 6px; }
a { color: #0f6cbd; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
table.objects, table.misses, .exchanges table { table-layout: fixed; }
table.objects col.cycle { width: 48px; } table.objects col.date { width: 92px; } table.objects col.identity { width: 170px; }
table.objects col.action { width: 72px; } table.objects col.status { width: 84px; } table.objects col.ids { width: 170px; }
table.objects col.error { width: 230px; }
table.objects .ids div { font-size: 12px; }
.reason { font-size: 12px; }
th { font-weight: 600; color: var(--soft); background: #f3f2f1; white-space: nowrap; }
code, pre, .mono { font-family: Consolas, "Cascadia Mono", Menlo, monospace; font-size: 12px; }
pre { white-space: pre-wrap; word-break: break-word; margin: 0; background: #f3f2f1; padding: 6px; max-height: 360px; overflow: auto; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 4px; padding: 14px 16px; margin: 16px 0; }
.scenario > .title { display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; }
.file { color: var(--soft); font-size: 12px; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; }
.pass { background: var(--ok); } .fail { background: var(--bad); }
.status { font-weight: 600; white-space: nowrap; }
.status::before { content: ""; display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 5px; background: var(--skip); }
.s-success::before { background: var(--ok); } .s-failure::before { background: var(--bad); }
.s-warning::before { background: var(--warn); } .s-skipped::before { background: var(--skip); }
.s-failure { color: var(--bad); }
ol.steps { margin: 4px 0 0; padding-left: 18px; }
details.steps > summary { font-weight: normal; margin: 0; white-space: nowrap; }
ol.steps li { margin: 0 0 2px; }
.step { font-weight: 600; }
.reason { color: var(--bad); }
.muted { color: var(--soft); }
.context { color: var(--soft); margin-top: 4px; }
.summary td.num, .counts td.num { text-align: right; font-variant-numeric: tabular-nums; }
.misses col.step { width: 130px; } .misses col.what { width: 130px; } .misses col.side { width: 26%; }
.exchanges col.seq { width: 44px; } .exchanges col.at { width: 170px; } .exchanges col.request { width: 42%; }
.exchanges col.status { width: 110px; }
.misses .expected { background: #f1faf1; } .misses .actual { background: #fdf3f4; }
.snapshots { display: grid; grid-template-columns: repeat(auto-fill, minmax(280px, 1fr)); gap: 10px; }
.snapshot { border: 1px solid var(--line); padding: 6px 8px; background: #fff; overflow-wrap: anywhere; min-width: 0; }
.snapshot details > summary { font-weight: 600; margin: 0; }
.snapshot h4 { margin: 0 0 4px; font-size: 12px; font-weight: 600; color: var(--soft); }
.snapshot ul { margin: 0; padding-left: 16px; }
.inactive { color: var(--soft); text-decoration: line-through; }
details > summary { cursor: pointer; font-weight: 600; margin: 6px 0; }
tr.err td { background: #fdf3f4; }
svg.timeline { display: block; background: #fff; }
footer { color: var(--soft); padding-bottom: 30px; }
"#;

/// The HTML report of a run: a summary, then each scenario, then the durations.
pub fn render(results: &[(String, ScenarioResult)], total: Duration) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<title>Provisioning report</title>\n<style>");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n");
    summary(&mut out, results);
    out.push_str("<main>\n");
    for (i, (file, result)) in results.iter().enumerate() {
        scenario(&mut out, i, file, result);
    }
    out.push_str("</main>\n");
    // Wall-clock times, the only thing that differs between two runs of the same scenarios.
    let _ =
        writeln!(out, "<footer id=\"durations\">\n<h3>Durations</h3>\n<p>Total: {} ms</p>\n<ul>", total.as_millis());
    for (i, (_, result)) in results.iter().enumerate() {
        let _ = writeln!(
            out,
            "<li><a href=\"#s{i}\">{}</a>: {} ms</li>",
            escape(&result.name),
            result.duration.as_millis()
        );
    }
    out.push_str("</ul>\n</footer>\n</body>\n</html>\n");
    out
}

fn summary(out: &mut String, results: &[(String, ScenarioResult)]) {
    let passed = results.iter().filter(|(_, r)| r.passed()).count();
    let failed = results.len() - passed;
    let _ = writeln!(
        out,
        "<header>\n<h1>Provisioning report</h1>\n<p id=\"summary\" data-passed=\"{passed}\" data-failed=\"{failed}\">\
         Microsoft Entra ID → AWS IAM Identity Center: {} scenario(s), \
         <span class=\"badge pass\">{passed} passed</span> <span class=\"badge fail\">{failed} failed</span></p>",
        results.len()
    );
    out.push_str("<table class=\"summary\">\n<tr><th>Scenario</th><th>Result</th><th>Cycles</th>");
    for status in STATUSES {
        let _ = write!(out, "<th>{}</th>", title_case(status));
    }
    out.push_str("<th>Failing expectations</th></tr>\n");
    for (i, (_, result)) in results.iter().enumerate() {
        let logs = logs_of(result);
        let cycles = cycles(&logs);
        let _ = write!(out, "<tr><td><a href=\"#s{i}\">{}</a></td><td>{}</td>", escape(&result.name), verdict(result));
        let _ = write!(out, "<td class=\"num\">{}</td>", cycles.len());
        for status in STATUSES {
            let count = logs.iter().filter(|e| status_of(e) == status).count();
            let _ = write!(out, "<td class=\"num\">{count}</td>");
        }
        let _ = writeln!(out, "<td class=\"num\">{}</td></tr>", result.failures.len());
    }
    out.push_str("</table>\n</header>\n");
}

fn verdict(result: &ScenarioResult) -> &'static str {
    if result.passed() { "<span class=\"badge pass\">PASS</span>" } else { "<span class=\"badge fail\">FAIL</span>" }
}

fn scenario(out: &mut String, i: usize, file: &str, result: &ScenarioResult) {
    let logs = logs_of(result);
    let _ = writeln!(
        out,
        "<section class=\"card scenario\" id=\"s{i}\" data-scenario=\"{}\" data-passed=\"{}\" data-log-entries=\"{}\">",
        escape(&result.name),
        result.passed(),
        logs.len()
    );
    let _ = writeln!(
        out,
        "<div class=\"title\"><h2>{}</h2>{}<span class=\"file\">{}</span></div>",
        escape(&result.name),
        verdict(result),
        escape(file)
    );
    if !result.passed() {
        failures(out, result);
    }
    let cycles = cycles(&logs);
    out.push_str("<h3>Cycles</h3>\n");
    timeline(out, &cycles);
    out.push_str("<h3>Provisioning logs</h3>\n");
    objects(out, &logs, &cycles);
    aws_states(out, result);
    engine_runs(out, result);
    if !result.passed() {
        exchanges(out, result);
    }
    out.push_str("</section>\n");
}

/// Failing expectations, expected and actual side by side; then what failed that was not an
/// expectation (a step that could not be carried out, a refused Test Connection).
fn failures(out: &mut String, result: &ScenarioResult) {
    out.push_str("<h3>Failing expectations</h3>\n");
    let explained: Vec<String> = result.misses.iter().map(|(label, miss)| format!("{label}: {miss}")).collect();
    if !result.misses.is_empty() {
        out.push_str(
            "<table class=\"misses\">\n<colgroup><col class=\"step\"><col class=\"what\"><col class=\"side\"><col class=\"side\"><col></colgroup>\n<tr><th>Step</th><th>What</th><th>Expected</th><th>Actual</th><th>Why</th></tr>\n",
        );
        for (label, miss) in &result.misses {
            let side = |value: &Option<String>| {
                value
                    .as_deref()
                    .map_or("<span class=\"muted\">(none)</span>".to_owned(), |v| format!("<code>{}</code>", escape(v)))
            };
            let _ = writeln!(
                out,
                "<tr class=\"miss\" data-what=\"{}\"><td class=\"mono\">{}</td><td class=\"what mono\">{}</td><td class=\"expected\">{}</td><td class=\"actual\">{}</td><td>{}</td></tr>",
                escape(&miss.what),
                escape(label),
                escape(&miss.what),
                side(&miss.expected),
                side(&miss.actual),
                why(&miss.message)
            );
        }
        out.push_str("</table>\n");
    }
    let others: Vec<&String> = result.failures.iter().filter(|f| !explained.contains(f)).collect();
    if !others.is_empty() {
        out.push_str("<ul class=\"other-failures\">\n");
        for failure in others {
            let _ = writeln!(out, "<li><pre>{}</pre></li>", escape(failure));
        }
        out.push_str("</ul>\n");
    }
}

/// A miss's message: its first line, then the context it gives (the log entries and exchanges
/// near the miss) in small print.
fn why(message: &str) -> String {
    let mut lines = message.lines();
    let first = escape(lines.next().unwrap_or_default());
    let context: Vec<String> = lines.map(|line| escape(line.trim())).collect();
    if context.is_empty() {
        first
    } else {
        format!("{first}<div class=\"context mono\">{}</div>", context.join("<br>"))
    }
}

/// The provisioning log entries, oldest first (Graph lists them newest first).
fn logs_of(result: &ScenarioResult) -> Vec<Value> {
    let mut logs: Vec<Value> = result.logs.lines().filter_map(|line| serde_json::from_str(line).ok()).collect();
    logs.reverse();
    // Stable: entries of one instant keep the service's order.
    logs.sort_by(|a, b| text(a, "activityDateTime").cmp(text(b, "activityDateTime")));
    logs
}

fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field].as_str().unwrap_or_default()
}

fn status_of(entry: &Value) -> &str {
    entry["provisioningStatusInfo"]["status"].as_str().unwrap_or("unknown")
}

/// One cycle: its id, when its first entry was recorded, who ran it, and its count per status.
struct Cycle {
    id: String,
    at: String,
    on_demand: bool,
    counts: BTreeMap<String, usize>,
}

impl Cycle {
    fn total(&self) -> usize {
        self.counts.values().sum()
    }
}

/// The cycles of the logs (entries grouped by `cycleId`), in the order they ran.
fn cycles(logs: &[Value]) -> Vec<Cycle> {
    let mut cycles: Vec<Cycle> = Vec::new();
    for entry in logs {
        let id = text(entry, "cycleId");
        let index = match cycles.iter().position(|c| c.id == id) {
            Some(index) => index,
            None => {
                cycles.push(Cycle {
                    id: id.to_owned(),
                    at: text(entry, "activityDateTime").to_owned(),
                    on_demand: entry["initiatedBy"]["initiatorType"].as_str().is_some_and(|t| t != "system"),
                    counts: BTreeMap::new(),
                });
                cycles.len() - 1
            }
        };
        *cycles[index].counts.entry(status_of(entry).to_owned()).or_default() += 1;
    }
    cycles
}

/// `2024-01-01T00:40:00Z` as its day and its time of day (`00:40`).
fn day_and_time(at: &str) -> (&str, &str) {
    match at.split_once('T') {
        Some((day, time)) => (day, time.get(..5).unwrap_or(time)),
        None => (at, ""),
    }
}

/// `2024-01-01T00:40:00Z` on two lines, day over time, escaped.
fn date_time(at: &str) -> String {
    match at.split_once('T') {
        Some((day, time)) => format!("{}<br>{}", escape(day), escape(time)),
        None => escape(at),
    }
}

fn color(status: &str) -> &'static str {
    match status {
        "success" => "#107c10",
        "failure" => "#a4262c",
        "warning" => "#986f0b",
        _ => "#8a8886",
    }
}

/// The cycles as an SVG bar chart, one bar per cycle stacked by status, and the same counts as a
/// table under it.
fn timeline(out: &mut String, cycles: &[Cycle]) {
    if cycles.is_empty() {
        out.push_str("<p class=\"muted\">No provisioning log entries: no cycle processed an object.</p>\n");
        return;
    }
    const PLOT: f64 = 110.0;
    const TOP: f64 = 24.0;
    const LEFT: usize = 36;
    const STEP: usize = 64;
    let max = cycles.iter().map(Cycle::total).max().unwrap_or(1).max(1);
    let width = LEFT + STEP * cycles.len() + 150;
    let height = TOP as usize + PLOT as usize + 58;
    let _ = writeln!(
        out,
        "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{} cycle(s), entries per status\">",
        cycles.len()
    );
    let base = TOP + PLOT;
    let _ = writeln!(
        out,
        "<line x1=\"{LEFT}\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\" stroke=\"#c8c6c4\"/>",
        LEFT + STEP * cycles.len()
    );
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\" fill=\"#605e5c\">{max}</text>",
        LEFT - 6,
        TOP + 4.0
    );
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"{base}\" font-size=\"10\" text-anchor=\"end\" fill=\"#605e5c\">0</text>",
        LEFT - 6
    );
    let mut last_day = "";
    for (i, cycle) in cycles.iter().enumerate() {
        let x = LEFT + 16 + STEP * i;
        let (day, time) = day_and_time(&cycle.at);
        let _ = write!(out, "<g class=\"cycle\" data-cycle=\"{}\" data-entries=\"{}\">", i + 1, cycle.total());
        let mut y = base;
        for status in STATUSES {
            let count = cycle.counts.get(status).copied().unwrap_or(0);
            if count == 0 {
                continue;
            }
            let h = PLOT * count as f64 / max as f64;
            y -= h;
            let _ = write!(
                out,
                "<rect x=\"{x}\" y=\"{y:.1}\" width=\"32\" height=\"{h:.1}\" fill=\"{}\"><title>cycle {}: {count} {status}</title></rect>",
                color(status),
                i + 1
            );
        }
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#201f1e\">{}</text>",
            x + 16,
            y - 4.0,
            cycle.total()
        );
        let label = if cycle.on_demand { format!("{} on demand", i + 1) } else { format!("cycle {}", i + 1) };
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#201f1e\">{}</text>",
            x + 16,
            base + 15.0,
            escape(&label)
        );
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#605e5c\">{}</text>",
            x + 16,
            base + 29.0,
            escape(time)
        );
        // The day under the first cycle and wherever it changes.
        if day != last_day {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#605e5c\">{}</text>",
                x + 16,
                base + 42.0,
                escape(day)
            );
            last_day = day;
        }
        out.push_str("</g>\n");
    }
    // The legend, right of the bars.
    let lx = LEFT + STEP * cycles.len() + 24;
    for (i, status) in STATUSES.iter().enumerate() {
        let ly = TOP as usize + 8 + i * 18;
        let _ = writeln!(
            out,
            "<rect x=\"{lx}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#201f1e\">{}</text>",
            ly - 9,
            color(status),
            lx + 16,
            ly,
            title_case(status)
        );
    }
    out.push_str("</svg>\n");
}

fn title_case(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

/// The portal's name for a step type (§6.1 `provisioningStepType`).
fn step_kind(kind: &str) -> &str {
    match kind {
        "import" => "Import",
        "scoping" => "Scoping",
        "matching" => "Matching",
        "processing" => "Action",
        "referenceResolution" => "Reference resolution",
        "export" => "Export",
        other => other,
    }
}

/// One row per provisioning log entry, as the portal's list and its details blade show them.
fn objects(out: &mut String, logs: &[Value], cycles: &[Cycle]) {
    if logs.is_empty() {
        return;
    }
    out.push_str(
        "<table class=\"objects\">\n<colgroup><col class=\"cycle\"><col class=\"date\"><col class=\"identity\"><col class=\"action\">\
         <col class=\"status\"><col class=\"ids\"><col class=\"steps\"><col class=\"error\"></colgroup>\n<tr><th>Cycle</th><th>Date</th><th>Identity</th><th>Action</th><th>Status</th>\
         <th>Source / Target</th><th>Steps</th><th>Error code and reason</th></tr>\n",
    );
    for entry in logs {
        let source = &entry["sourceIdentity"];
        let target = &entry["targetIdentity"];
        let identity = source["displayName"]
            .as_str()
            .filter(|n| !n.is_empty())
            .or_else(|| target["displayName"].as_str())
            .unwrap_or("?");
        let status = status_of(entry);
        let action = text(entry, "provisioningAction");
        let cycle = cycles.iter().position(|c| c.id == text(entry, "cycleId")).map_or(0, |i| i + 1);
        let _ = write!(
            out,
            "<tr data-identity=\"{}\" data-status=\"{}\" data-action=\"{}\" data-cycle=\"{cycle}\">",
            escape(identity),
            escape(status),
            escape(action)
        );
        let _ = write!(
            out,
            "<td class=\"num\">{cycle}</td><td class=\"mono\">{}</td><td><b>{}</b><br><span class=\"muted\">{}</span></td><td>{}</td>\
             <td><span class=\"status s-{}\">{}</span></td>",
            date_time(text(entry, "activityDateTime")),
            escape(identity),
            escape(source["identityType"].as_str().unwrap_or_default()),
            escape(&title_case(action)),
            escape(status),
            escape(&title_case(status))
        );
        // The ids only: the identity's name is in its own column, as in the portal's list.
        let id = |identity: &Value, system: &str| {
            let id = identity["id"].as_str().filter(|id| !id.is_empty()).unwrap_or("—");
            format!("<div><span class=\"muted\">{}</span><br><code>{}</code></div>", escape(system), escape(id))
        };
        let _ = write!(
            out,
            "<td class=\"ids\">{}{}</td>",
            id(source, entry["sourceSystem"]["displayName"].as_str().unwrap_or("Source")),
            id(target, entry["targetSystem"]["displayName"].as_str().unwrap_or("Target"))
        );
        // Folded to one line of step kinds and marks, as the portal's list shows an entry; a step
        // that did not succeed unfolds it.
        let steps: Vec<&Value> = entry["provisioningSteps"].as_array().into_iter().flatten().collect();
        let unsuccessful = steps.iter().any(|step| step["status"].as_str() != Some("success"));
        let marks: Vec<String> = steps
            .iter()
            .map(|step| {
                let status = step["status"].as_str().unwrap_or_default();
                let mark = match status {
                    "success" => "✓",
                    "failure" => "✗",
                    "skipped" => "–",
                    _ => "!",
                };
                format!("{} {mark}", escape(step_kind(text(step, "provisioningStepType"))))
            })
            .collect();
        let _ = write!(
            out,
            "<td><details class=\"steps\"{}><summary>{}</summary><ol class=\"steps\">",
            if unsuccessful { " open" } else { "" },
            marks.join(" · ")
        );
        for step in steps {
            let status = step["status"].as_str().unwrap_or_default();
            let _ = write!(
                out,
                "<li data-step=\"{}\"><span class=\"step\">{}</span> <span class=\"status s-{}\">{}</span> {}</li>",
                escape(text(step, "name")),
                escape(step_kind(text(step, "provisioningStepType"))),
                escape(status),
                escape(&title_case(status)),
                escape(text(step, "description"))
            );
        }
        out.push_str("</ol></details></td>");
        match entry["provisioningStatusInfo"]["errorInformation"].as_object() {
            Some(error) => {
                let code = error.get("errorCode").and_then(Value::as_str).unwrap_or_default();
                let reason = error.get("reason").and_then(Value::as_str).unwrap_or_default();
                let category = error.get("errorCategory").and_then(Value::as_str).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "<td><code>{}</code><div class=\"reason\">{}</div><div class=\"muted\">{}</div></td></tr>",
                    escape(code),
                    escape(reason),
                    escape(category)
                );
            }
            None => out.push_str("<td></td></tr>\n"),
        }
    }
    out.push_str("</table>\n");
}

/// Past this many users (or members of a group), a snapshot's list is folded.
const LONG: usize = 12;

/// AWS's users and groups after each advance, as its console lists them.
fn aws_states(out: &mut String, result: &ScenarioResult) {
    if result.snapshots.is_empty() {
        return;
    }
    out.push_str("<h3>AWS IAM Identity Center after each advance</h3>\n<div class=\"snapshots\">\n");
    for snapshot in &result.snapshots {
        let aws = &snapshot.aws;
        let users: Vec<&Value> = aws["users"].as_array().into_iter().flatten().collect();
        let groups: Vec<&Value> = aws["groups"].as_array().into_iter().flatten().collect();
        let names: BTreeMap<&str, &str> =
            users.iter().filter_map(|u| Some((u["id"].as_str()?, u["userName"].as_str().unwrap_or("?")))).collect();
        let _ = writeln!(
            out,
            "<div class=\"snapshot\" data-users=\"{}\" data-groups=\"{}\"><h4>{}</h4>",
            users.len(),
            groups.len(),
            escape(&snapshot.label)
        );
        if let Some(error) = aws["error"].as_str() {
            let _ = writeln!(out, "<p class=\"reason\">{}</p>", escape(error));
        }
        // Long lists folded: a group of 250 would push everything else off the page.
        let (open, close) =
            if users.len() > LONG { ("<details><summary>", "</summary>") } else { ("<div><b>", "</b></div>") };
        let _ = write!(out, "{open}Users ({}){close}<ul>", users.len());
        for user in &users {
            let active = user["active"].as_bool().unwrap_or(true);
            let name = user["userName"].as_str().unwrap_or("?");
            if active {
                let _ = write!(out, "<li>{}</li>", escape(name));
            } else {
                let _ = write!(
                    out,
                    "<li><span class=\"inactive\">{}</span> <span class=\"muted\">(active: false)</span></li>",
                    escape(name)
                );
            }
        }
        if users.is_empty() {
            out.push_str("<li class=\"muted\">(none)</li>");
        }
        if users.len() > LONG {
            out.push_str("</ul></details>");
        } else {
            out.push_str("</ul>");
        }
        let _ = write!(out, "<b>Groups ({})</b><ul>", groups.len());
        for group in &groups {
            let members: Vec<String> = group["members"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| m.as_str().map_or_else(|| m.to_string(), |id| names.get(id).copied().unwrap_or(id).to_owned()))
                .collect();
            let name = escape(group["displayName"].as_str().unwrap_or("?"));
            let _ = if members.len() > LONG {
                write!(
                    out,
                    "<li><details><summary>{name} <span class=\"muted\">({} member(s))</span></summary>{}</details></li>",
                    members.len(),
                    escape(&members.join(", "))
                )
            } else {
                write!(
                    out,
                    "<li>{name} <span class=\"muted\">({} member(s){}{})</span></li>",
                    members.len(),
                    if members.is_empty() { "" } else { ": " },
                    escape(&members.join(", "))
                )
            };
        }
        if groups.is_empty() {
            out.push_str("<li class=\"muted\">(none)</li>");
        }
        out.push_str("</ul></div>\n");
    }
    out.push_str("</div>\n");
}

/// The external engine's runs, their output with its secrets hidden.
fn engine_runs(out: &mut String, result: &ScenarioResult) {
    if result.engine_runs.is_empty() {
        return;
    }
    out.push_str("<h3>Engine runs</h3>\n<table class=\"engine\">\n<tr><th>Cycle</th><th>At</th><th>Exit</th><th>Output</th></tr>\n");
    for run in &result.engine_runs {
        let exit = match (run.exit_code, run.timed_out) {
            (_, true) => "timed out".to_owned(),
            (Some(code), _) => code.to_string(),
            (None, _) => "killed".to_owned(),
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td><details><summary>stdout, stderr</summary><pre>{}</pre><pre>{}</pre></details></td></tr>",
            run.cycle,
            escape(&run.at.to_string()),
            escape(&exit),
            escape(&run.stdout),
            escape(&run.stderr)
        );
    }
    out.push_str("</table>\n");
}

/// The SCIM exchanges of a failed scenario, collapsed: one row each, bodies and headers folded.
fn exchanges(out: &mut String, result: &ScenarioResult) {
    let journal: Vec<Value> = result.journal.lines().filter_map(|line| serde_json::from_str(line).ok()).collect();
    if journal.is_empty() {
        return;
    }
    let refused = journal.iter().filter(|e| e["response"]["status"].as_u64().is_none_or(|s| s >= 400)).count();
    let _ = writeln!(
        out,
        "<details class=\"exchanges\"><summary>SCIM exchanges behind the failure: {} exchange(s), {refused} refused or dropped</summary>",
        journal.len()
    );
    out.push_str("<table>\n<colgroup><col class=\"seq\"><col class=\"at\"><col class=\"request\"><col class=\"status\"><col></colgroup>\n");
    out.push_str("<tr><th>#</th><th>At (AWS)</th><th>Request</th><th>Status</th><th>Bodies</th></tr>\n");
    for mut entry in journal {
        redact(&mut entry);
        let request = &entry["request"];
        let status = entry["response"]["status"].as_u64();
        let query = request["query"].as_str().map(|q| format!("?{}", decode_query(q))).unwrap_or_default();
        let fault = entry.get("fault").map(|f| format!(" fault: {f}")).unwrap_or_default();
        let _ = write!(
            out,
            "<tr class=\"{}\"><td>{}</td><td class=\"mono\">{}</td><td class=\"mono\">{} {}{}</td><td>{}{}</td><td>",
            if status.is_none_or(|s| s >= 400) { "err" } else { "ok" },
            entry["seq"],
            escape(text(&entry, "at")),
            escape(text(request, "method")),
            escape(text(request, "path")),
            escape(&query),
            status.map_or_else(|| "dropped".to_owned(), |s| s.to_string()),
            escape(&fault)
        );
        let mut part = |name: &str, value: &Value| {
            if !value.is_null() {
                let pretty = match value {
                    Value::String(text) => text.clone(),
                    other => serde_json::to_string_pretty(other).unwrap_or_default(),
                };
                let _ = write!(out, "<details><summary>{name}</summary><pre>{}</pre></details>", escape(&pretty));
            }
        };
        part("request body", &request["body"]);
        part("response body", &entry["response"]["body"]);
        part("request headers", &headers(&request["headers"]));
        out.push_str("</td></tr>\n");
    }
    out.push_str("</table>\n</details>\n");
}

/// A query string as a person reads it: `+` as a space, `%XX` as its byte (`filter=userName eq
/// "annie@contoso.onmicrosoft.com"`); what does not decode is kept as it is.
fn decode_query(query: &str) -> String {
    let bytes = query.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if hex(i + 1).is_some() && hex(i + 2).is_some() => {
                out.push((hex(i + 1).unwrap_or(0) * 16 + hex(i + 2).unwrap_or(0)) as u8);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| query.to_owned())
}

/// Headers as `name: value` lines.
fn headers(list: &Value) -> Value {
    let lines: Vec<String> =
        list.as_array().into_iter().flatten().map(|h| format!("{}: {}", text(h, "name"), text(h, "value"))).collect();
    if lines.is_empty() { Value::Null } else { Value::String(lines.join("\n")) }
}

/// The journal's own redaction once more: secret headers, JSON secrets in bodies, form secrets in
/// the query.
fn redact(entry: &mut Value) {
    use scenarios::journal::{redact_form, redact_header, redact_json};
    for side in ["request", "response"] {
        let part = &mut entry[side];
        if part.is_null() {
            continue;
        }
        if let Some(list) = part["headers"].as_array_mut() {
            for header in list {
                let redacted = redact_header(text(header, "name"), text(header, "value"));
                header["value"] = Value::String(redacted);
            }
        }
        match &mut part["body"] {
            Value::String(body) => *body = redact_form(body),
            body => redact_json(body),
        }
    }
    if let Some(query) = entry["request"]["query"].as_str().map(redact_form) {
        entry["request"]["query"] = Value::String(query);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escape_leaves_no_markup_and_no_quote() {
        assert_eq!(
            escape(r#"<a href="x" title='y'>&amp;</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;"
        );
        assert_eq!(escape("annie@contoso.onmicrosoft.com é"), "annie@contoso.onmicrosoft.com é");
    }

    #[test]
    fn queries_read_decoded() {
        assert_eq!(
            decode_query("filter=userName+eq+%22annie%40contoso.com%22"),
            "filter=userName eq \"annie@contoso.com\""
        );
        assert_eq!(decode_query("a=%2"), "a=%2");
    }

    #[test]
    fn redaction_hides_bearer_tokens_and_secret_fields() {
        let mut entry = json!({
            "seq": 1,
            "request": {"method": "POST", "path": "/Users", "query": "client_secret=abc",
                "headers": [{"name": "Authorization", "value": "Bearer t0ken"}],
                "body": {"userName": "annie", "password": "hunter2"}},
            "response": {"status": 201, "headers": [], "body": {"secretToken": "s"}},
        });
        redact(&mut entry);
        let text = entry.to_string();
        for secret in ["t0ken", "hunter2", "abc", "\"s\""] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("Bearer <redacted>"));
        assert!(text.contains("annie"));
    }

    fn result(logs: &[Value]) -> ScenarioResult {
        ScenarioResult {
            name: "a <b> scenario".into(),
            duration: Duration::from_millis(12),
            failures: Vec::new(),
            fingerprint: 0,
            record: String::new(),
            logs: logs.iter().map(Value::to_string).collect::<Vec<_>>().join("\n"),
            journal: String::new(),
            engine_runs: Vec::new(),
            misses: Vec::new(),
            snapshots: Vec::new(),
        }
    }

    fn entry(cycle: &str, at: &str, name: &str, status: &str) -> Value {
        json!({"cycleId": cycle, "activityDateTime": at, "provisioningAction": "create",
            "sourceIdentity": {"id": "1", "displayName": name, "identityType": "User"},
            "targetIdentity": {"id": "", "displayName": "", "identityType": "User"},
            "initiatedBy": {"initiatorType": "system"},
            "provisioningStatusInfo": {"status": status, "errorInformation": null},
            "provisioningSteps": [{"name": "EntryImportAdd", "provisioningStepType": "import", "status": "success", "description": "Received <User>"}]})
    }

    #[test]
    fn one_row_per_log_entry_and_one_bar_per_cycle() {
        // Graph lists the newest first.
        let logs = [
            entry("c2", "2024-01-01T01:20:00Z", "bob", "skipped"),
            entry("c1", "2024-01-01T00:40:00Z", "annie", "success"),
            entry("c1", "2024-01-01T00:40:00Z", "Admins", "failure"),
        ];
        let html = render(&[("a.toml".into(), result(&logs))], Duration::ZERO);
        assert_eq!(html.matches("<tr data-identity=").count(), 3);
        assert_eq!(html.matches("<g class=\"cycle\"").count(), 2);
        assert!(html.contains("data-cycle=\"1\" data-entries=\"2\""));
        assert!(html.find("data-identity=\"Admins\"") < html.find("data-identity=\"bob\""), "oldest first");
        assert!(html.contains("a &lt;b&gt; scenario") && !html.contains("a <b> scenario"));
        assert!(html.contains("Received &lt;User&gt;"));
    }

    #[test]
    fn the_same_results_give_the_same_page_but_for_the_durations() {
        let logs = [entry("c1", "2024-01-01T00:40:00Z", "annie", "success")];
        let mut slow = result(&logs);
        slow.duration = Duration::from_secs(9);
        let before = |html: String| html.split("<footer id=\"durations\">").next().unwrap_or_default().to_owned();
        assert_eq!(
            before(render(&[("a".into(), result(&logs))], Duration::ZERO)),
            before(render(&[("a".into(), slow)], Duration::from_secs(9)))
        );
    }
}
