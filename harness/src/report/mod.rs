//! Reports: human (one line per scenario, every failure explained, a summary line), JSON, JUnit,
//! and HTML ([`html`]).

pub mod html;

use std::fmt::Write as _;

use serde_json::json;

use crate::engine::EngineRun;
use crate::runner::ScenarioResult;

/// The human report.
pub fn human(results: &[(String, ScenarioResult)], total: std::time::Duration) -> String {
    let mut out = String::new();
    for (file, result) in results {
        let verdict = if result.passed() { "PASS" } else { "FAIL" };
        let _ = writeln!(out, "{verdict}  {}  ({} ms)  {file}", result.name, result.duration.as_millis());
        for failure in &result.failures {
            let _ = writeln!(out, "    {failure}");
        }
        // An external engine's runs: every one when the scenario failed, else those that did not exit 0.
        for run in result.engine_runs.iter().filter(|run| !result.passed() || run.exit_code != Some(0)) {
            let _ = writeln!(out, "    {}", run.summary());
            for line in run.stderr.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev() {
                let _ = writeln!(out, "      stderr: {line}");
            }
        }
    }
    let passed = results.iter().filter(|(_, r)| r.passed()).count();
    let failed = results.len() - passed;
    let _ = writeln!(out, "\nscenarios: {passed} passed, {failed} failed in {} ms", total.as_millis());
    out
}

/// The JSON report.
pub fn json(results: &[(String, ScenarioResult)], total: std::time::Duration) -> String {
    let scenarios: Vec<_> = results
        .iter()
        .map(|(file, r)| {
            let mut scenario = json!({"name": r.name, "file": file, "passed": r.passed(), "durationMs": r.duration.as_millis() as u64, "failures": r.failures});
            if !r.misses.is_empty() {
                let lines = step_lines(file);
                scenario["misses"] = r
                    .misses
                    .iter()
                    .map(|(step, miss)| {
                        let line = step_index(step).and_then(|i| lines.get(i).copied());
                        json!({"step": step, "file": file, "line": line, "what": miss.what, "expected": miss.expected,
                            "actual": miss.actual, "message": miss.message})
                    })
                    .collect();
            }
            if !r.engine_runs.is_empty() {
                scenario["engineRuns"] = r.engine_runs.iter().map(engine_run_json).collect();
            }
            scenario
        })
        .collect();
    let passed = results.iter().filter(|(_, r)| r.passed()).count();
    let report = json!({"passed": passed, "failed": results.len() - passed, "durationMs": total.as_millis() as u64, "scenarios": scenarios});
    serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
}

/// `steps[3] (expect)` → 3.
fn step_index(label: &str) -> Option<usize> {
    label.strip_prefix("steps[")?.split(']').next()?.parse().ok()
}

/// The line each step of a scenario file starts on (none when it cannot be read again).
fn step_lines(file: &str) -> Vec<usize> {
    let Ok(text) = std::fs::read_to_string(file) else { return Vec::new() };
    match scenarios::scenario::Scenario::parse(file, &text) {
        Ok(scenario) => scenario.steps.iter().map(|at| scenarios::scenario::line_of(&text, at.span.start)).collect(),
        Err(_) => Vec::new(),
    }
}

fn engine_run_json(run: &EngineRun) -> serde_json::Value {
    json!({
        "cycle": run.cycle,
        "at": run.at,
        "exitCode": run.exit_code,
        "timedOut": run.timed_out,
        "durationMs": run.duration.as_millis() as u64,
        "stdout": run.stdout,
        "stderr": run.stderr,
    })
}

/// Escaped for XML and HTML text and attributes, quoted either way; characters XML 1.0 cannot hold
/// (a server's body may have any) become U+FFFD.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A JUnit failure's message: the first failure's first line, and how many more there are.
fn junit_message(failures: &[String]) -> String {
    let first = failures.first().and_then(|f| f.lines().next()).unwrap_or("failed");
    match failures.len() {
        0 | 1 => first.to_owned(),
        n => format!("{first} (and {} more)", n - 1),
    }
}

/// The JUnit XML report.
pub fn junit(results: &[(String, ScenarioResult)], total: std::time::Duration) -> String {
    let failed = results.iter().filter(|(_, r)| !r.passed()).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuite name=\"scenarios\" tests=\"{}\" failures=\"{failed}\" time=\"{:.3}\">",
        results.len(),
        total.as_secs_f64()
    );
    for (file, r) in results {
        let _ = write!(
            out,
            "  <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\"",
            xml_escape(&r.name),
            xml_escape(file),
            r.duration.as_secs_f64()
        );
        if r.passed() && r.engine_runs.is_empty() {
            out.push_str("/>\n");
            continue;
        }
        out.push_str(">\n");
        if !r.passed() {
            let _ = writeln!(
                out,
                "    <failure message=\"{}\">{}</failure>",
                xml_escape(&junit_message(&r.failures)),
                xml_escape(&r.failures.join("\n"))
            );
        }
        if !r.engine_runs.is_empty() {
            let runs: Vec<String> =
                r.engine_runs.iter().map(|run| format!("{}\n{}{}", run.summary(), run.stdout, run.stderr)).collect();
            let _ = writeln!(out, "    <system-out>{}</system-out>", xml_escape(&runs.join("\n")));
        }
        out.push_str("  </testcase>\n");
    }
    out.push_str("</testsuite>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_keeps_no_markup_and_no_control_characters() {
        assert_eq!(xml_escape("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;\u{fffd}");
    }
}
