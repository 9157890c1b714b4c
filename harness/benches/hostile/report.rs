//! What the run counted, and the markdown table it prints and writes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::catalogue::Surface;
use crate::memory::{Reading, mib};
use crate::raw::{Answer, preview};

/// The `Retry-After` every injected fault carries, which no answer of the mocks' own does: how an
/// injected 5xx or 429 is told from the mocks' own.
pub const INJECTED_RETRY_AFTER: &str = "7";

/// Whether an answer came from the fault plan.
pub fn injected(status: u16, retry_after: Option<&str>) -> bool {
    (status == 429 || status >= 500) && retry_after == Some(INJECTED_RETRY_AFTER)
}

/// An input kind answered outside its surface's envelope.
#[derive(Debug, Default)]
pub struct Miss {
    /// How many times.
    pub count: u64,
    /// The statuses seen.
    pub statuses: BTreeSet<u16>,
    /// The first answer's first bytes.
    pub sample: String,
}

/// One surface's counts.
#[derive(Debug, Default)]
pub struct SurfaceTally {
    /// Hostile requests sent.
    pub tried: u64,
    /// Kinds tried.
    pub kinds: BTreeSet<&'static str>,
    /// Answered by the fault plan (not judged: the plan's answer, not the input's).
    pub injected: u64,
    /// Error answers in the surface's envelope.
    pub enveloped: u64,
    /// 2xx to a kind for which success is right.
    pub accepted: u64,
    /// Everything else, by kind.
    pub missed: BTreeMap<&'static str, Miss>,
    /// 5xx the fault plan did not inject.
    pub server_errors: u64,
    /// No answer, by kind: (count, first error).
    pub connection_errors: BTreeMap<&'static str, (u64, String)>,
    /// Kinds in flight when the process died or panicked.
    pub crashes: Vec<&'static str>,
}

impl SurfaceTally {
    /// Counts one answer (or failure) to a hostile input.
    pub fn record(&mut self, surface: Surface, kind: &'static str, may_succeed: bool, answer: &Result<Answer, String>) {
        self.tried += 1;
        self.kinds.insert(kind);
        let answer = match answer {
            Ok(answer) => answer,
            Err(err) => {
                let entry = self.connection_errors.entry(kind).or_insert_with(|| (0, err.clone()));
                entry.0 += 1;
                return;
            }
        };
        if injected(answer.status, answer.header("retry-after")) {
            self.injected += 1;
            return;
        }
        if answer.status >= 500 {
            self.server_errors += 1;
        }
        let success = (200..300).contains(&answer.status);
        if success && may_succeed {
            self.accepted += 1;
        } else if !success && surface.enveloped(&answer.body) {
            self.enveloped += 1;
        } else {
            let miss = self.missed.entry(kind).or_default();
            if miss.count == 0 {
                miss.sample = preview(&answer.body, 60);
            }
            miss.count += 1;
            miss.statuses.insert(answer.status);
        }
    }
}

/// The valid traffic's counts.
#[derive(Debug, Default)]
pub struct Valid {
    /// Requests sent (retries after a re-authentication included).
    pub requests: u64,
    /// 2xx answers.
    pub successes: u64,
    /// Answers from the fault plan.
    pub injected: u64,
    /// 401s because the virtual clock outran a token, each followed by a fresh token.
    pub reauthenticated: u64,
    /// Neither 2xx nor injected nor a stale token's 401.
    pub unexpected: u64,
    /// Of those, 5xx.
    pub server_errors: u64,
    /// Of those, no answer at all.
    pub connection_errors: u64,
    /// The first few unexpected answers: what was asked, what came.
    pub samples: Vec<String>,
    /// `POST /_admin/clock/advance` calls that answered 200, and the slowest one, seconds.
    pub advances: (u64, f64),
}

/// One slow client's measurement.
#[derive(Debug)]
pub struct Timeout {
    /// What was done, and to which mock.
    pub what: String,
    /// The configured limit.
    pub limit: String,
    /// What was measured.
    pub measured: String,
}

/// Memory and the journals.
#[derive(Debug, Default)]
pub struct Memory {
    /// Before any traffic.
    pub start: Reading,
    /// The largest RSS sampled, once a second.
    pub peak_rss_kib: u64,
    /// At the end of the traffic.
    pub end: Reading,
    /// After `DELETE /_admin/journal` on both.
    pub after_clear: Reading,
    /// Per mock: the journal's `GET /_admin/journal` size in bytes and its entries, at the end.
    pub journals: Vec<(&'static str, usize, usize)>,
    /// Authenticated ~1 MB writes sent by the flood, and their answers by mock and status.
    pub flood: (u64, BTreeMap<String, u64>),
    /// The `journalBytes` set on both mocks.
    pub journal_bytes: usize,
    /// RSS once a second during the traffic, KiB.
    pub samples: Vec<u64>,
}

/// Everything, for the table.
#[derive(Debug, Default)]
pub struct Report {
    /// The command line that produced it.
    pub command: String,
    /// Seconds of traffic.
    pub seconds: u64,
    /// Hostile counts per surface.
    pub surfaces: BTreeMap<Surface, SurfaceTally>,
    /// Memory.
    pub memory: Memory,
    /// Slow clients.
    pub timeouts: Vec<Timeout>,
    /// Valid traffic.
    pub valid: Valid,
    /// The fault plans, in words.
    pub faults: String,
    /// Why the process is judged crashed, if it is.
    pub crash: Option<String>,
}

impl Report {
    /// The markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ =
            writeln!(out, "`{}`: {} s of mixed traffic, faults on ({}).\n", self.command, self.seconds, self.faults);
        out.push_str("| surface | inputs tried (kinds) | injected faults | enveloped | 2xx, right | not enveloped | 5xx not injected | connection errors | crashes |\n");
        out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        let mut misses = String::new();
        for surface in Surface::ALL {
            let Some(t) = self.surfaces.get(&surface) else { continue };
            let missed: u64 = t.missed.values().map(|m| m.count).sum();
            let errors: u64 = t.connection_errors.values().map(|(n, _)| n).sum();
            let _ = writeln!(
                out,
                "| {} | {} ({}) | {} | {} | {} | {} | {} | {} | {} |",
                surface.label(),
                t.tried,
                t.kinds.len(),
                t.injected,
                t.enveloped,
                t.accepted,
                missed,
                t.server_errors,
                errors,
                t.crashes.len()
            );
            for (kind, miss) in &t.missed {
                let statuses: Vec<String> = miss.statuses.iter().map(u16::to_string).collect();
                let _ = writeln!(
                    misses,
                    "| {} | {kind} | {} | {} | `{}` |",
                    surface.label(),
                    miss.count,
                    statuses.join(", "),
                    miss.sample.replace('`', "'")
                );
            }
            for (kind, (count, err)) in &t.connection_errors {
                let _ = writeln!(misses, "| {} | {kind} | {count} | no answer | {err} |", surface.label());
            }
        }
        if !misses.is_empty() {
            out.push_str("\nNot enveloped (and no answer), by kind:\n\n| surface | kind | times | status | first bytes of the body |\n|---|---|---:|---|---|\n");
            out.push_str(&misses);
        }
        let m = &self.memory;
        let answers: Vec<String> = m.flood.1.iter().map(|(what, n)| format!("{what} ×{n}")).collect();
        let _ = writeln!(
            out,
            "\nMemory of the `harness serve` process (both mocks), MiB, `journalBytes` {} MiB on each; the flood sent {} authenticated ~1 MB writes (answers: {}):\n",
            m.journal_bytes / (1024 * 1024),
            m.flood.0,
            answers.join(", ")
        );
        out.push_str("| start RSS | peak RSS (sampled) | VmHWM during traffic | end RSS | after GET + DELETE /_admin/journal | VmHWM after | returned |\n|---:|---:|---:|---:|---:|---:|---|\n");
        let returned = if m.after_clear.rss_kib < m.end.rss_kib { "partly" } else { "no" };
        let returned =
            if m.after_clear.rss_kib <= m.start.rss_kib + 8 * 1024 { "yes (within 8 MiB of start)" } else { returned };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {returned} |",
            mib(m.start.rss_kib),
            mib(m.peak_rss_kib),
            mib(m.end.hwm_kib),
            mib(m.end.rss_kib),
            mib(m.after_clear.rss_kib),
            mib(m.after_clear.hwm_kib)
        );
        let series: Vec<String> = m.samples.iter().map(|kib| format!("{}", kib / 1024)).collect();
        let _ = writeln!(out, "\nRSS once a second during the traffic, MiB: {}.", series.join(", "));
        for (mock, bytes, entries) in &m.journals {
            let _ = writeln!(
                out,
                "\n{mock}'s journal at the end: {entries} exchanges, {} MiB as GET /_admin/journal writes it.",
                mib((*bytes / 1024) as u64)
            );
        }
        out.push_str("\nTimeouts (slow clients):\n\n| client | limit | measured |\n|---|---|---|\n");
        for t in &self.timeouts {
            let _ = writeln!(out, "| {} | {} | {} |", t.what, t.limit, t.measured);
        }
        let v = &self.valid;
        let _ = writeln!(
            out,
            "\nValid traffic (Graph users, groups, $ref, filters; the sync job; SCIM CRUD, PATCH, filter), same {} s:\n",
            self.seconds
        );
        out.push_str("| requests | successes | injected faults seen | re-authenticated (token outrun by the clock) | unexpected failures | of which 5xx | of which no answer | clock advances (slowest) |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        let _ = writeln!(
            out,
            "| {} | {} | {} ({:.1}%) | {} | {} | {} | {} | {} ({:.2} s) |",
            v.requests,
            v.successes,
            v.injected,
            100.0 * v.injected as f64 / v.requests.max(1) as f64,
            v.reauthenticated,
            v.unexpected,
            v.server_errors,
            v.connection_errors,
            v.advances.0,
            v.advances.1
        );
        for sample in &v.samples {
            let _ = writeln!(out, "- unexpected: {sample}");
        }
        match &self.crash {
            None => out.push_str(
                "\nCrashes: 0 (the process lived throughout, no `panicked` or `overflowed` on its stderr).\n",
            ),
            Some(why) => {
                let _ = writeln!(out, "\nCRASHED: {why}");
            }
        }
        out
    }
}
