//! The reports of a run: human (a line per check, the deciding exchange under it), JSON, JUnit.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::{Outcome, Report, dialect_name, expects};
use crate::report::xml_escape;

impl Report {
    fn count(&self, outcome: &str) -> usize {
        self.checks.iter().filter(|c| c.outcome.as_str() == outcome).count()
    }

    /// Whether any check failed.
    pub fn failed(&self) -> bool {
        self.count("fail") > 0
    }

    /// One line per check (`PASS  default        probe-users`), the deciding exchange under it, the
    /// reason and the bodies under a failure; the clean-up; a summary line.
    pub fn human(&self) -> String {
        let mut out =
            format!("validate-scim {} (seed {}, {} member(s) per group)\n", self.url, self.seed, self.members);
        for check in &self.checks {
            let verdict = check.outcome.as_str().to_ascii_uppercase();
            let _ = writeln!(out, "{verdict}  {:<14} {}", dialect_name(check.dialect), check.name);
            match &check.outcome {
                Outcome::Pass => {}
                Outcome::Fail { reason } | Outcome::Skip { reason } => {
                    let _ = writeln!(out, "    {reason}");
                }
            }
            if let Some(exchange) = &check.exchange {
                let status = exchange.status.map_or("no answer".to_owned(), |s| s.to_string());
                let url = exchange.url.strip_prefix(&self.url).unwrap_or(&exchange.url);
                let _ = writeln!(out, "    {} {url} -> {status}", exchange.method);
                if matches!(check.outcome, Outcome::Fail { .. }) {
                    if let Some(body) = &exchange.request_body {
                        let _ = writeln!(out, "      sent: {body}");
                    }
                    let _ = writeln!(out, "      got:  {}", exchange.response_body);
                }
            }
        }
        for line in &self.cleanup {
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(
            out,
            "\nchecks: {} passed, {} failed, {} skipped",
            self.count("pass"),
            self.count("fail"),
            self.count("skip")
        );
        out
    }

    /// The JSON report.
    pub fn json(&self) -> String {
        let checks: Vec<Value> = self
            .checks
            .iter()
            .map(|check| {
                let mut value = json!({
                    "name": check.name,
                    "dialect": dialect_name(check.dialect),
                    "outcome": check.outcome.as_str(),
                    "expects": expects(check.name),
                });
                if let Outcome::Fail { reason } | Outcome::Skip { reason } = &check.outcome {
                    value["reason"] = json!(reason);
                }
                if let Some(e) = &check.exchange {
                    value["exchange"] = json!({
                        "request": {"method": e.method, "url": e.url, "body": e.request_body},
                        "response": {"status": e.status, "body": e.response_body},
                    });
                }
                value
            })
            .collect();
        let report = json!({
            "url": self.url,
            "seed": self.seed,
            "members": self.members,
            "passed": self.count("pass"),
            "failed": self.count("fail"),
            "skipped": self.count("skip"),
            "checks": checks,
            "cleanup": self.cleanup,
        });
        serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
    }

    /// The JUnit XML report: a test case per check and dialect.
    pub fn junit(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuite name=\"validate-scim\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">",
            self.checks.len(),
            self.count("fail"),
            self.count("skip")
        );
        for check in &self.checks {
            let d = dialect_name(check.dialect);
            let _ = writeln!(
                out,
                "  <testcase name=\"{}\" classname=\"validate-scim.{d}\">",
                xml_escape(&format!("{d}: {}", check.name))
            );
            let exchange = check.exchange.as_ref().map(|e| {
                let status = e.status.map_or("no answer".to_owned(), |s| s.to_string());
                let sent = e.request_body.as_deref().map(|b| format!("\nsent: {b}")).unwrap_or_default();
                format!("{} {} -> {status}{sent}\ngot: {}", e.method, e.url, e.response_body)
            });
            match &check.outcome {
                Outcome::Pass => {}
                Outcome::Fail { reason } => {
                    let _ = writeln!(
                        out,
                        "    <failure message=\"{}\">{}</failure>",
                        xml_escape(reason),
                        xml_escape(exchange.as_deref().unwrap_or(""))
                    );
                }
                Outcome::Skip { reason } => {
                    let _ = writeln!(out, "    <skipped message=\"{}\"/>", xml_escape(reason));
                }
            }
            // A failure carries its exchange already.
            if let (Outcome::Pass, Some(exchange)) = (&check.outcome, &exchange) {
                let _ = writeln!(out, "    <system-out>{}</system-out>", xml_escape(exchange));
            }
            out.push_str("  </testcase>\n");
        }
        let _ = writeln!(out, "  <system-out>{}</system-out>", xml_escape(&self.cleanup.join("\n")));
        out.push_str("</testsuite>\n");
        out
    }
}
