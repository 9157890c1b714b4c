//! What both mocks keep beside their own service: the clock and where it started, the fault plan
//! with its counters, and the journal of exchanges. Pure: a mock holds one [`MockCore`] inside its
//! world, behind its own lock, and the shared admin API and request pipeline (`serve`, feature
//! `serve`) reach it through `serve::Mock::with_core`.

use std::collections::VecDeque;

use jiff::Timestamp;

use crate::clock::Clock;
use crate::fault::{AppliedFault, FaultPlan, FaultPlanError, FaultState, RequestInfo};
use crate::journal::{JournalEntry, RawExchange};

/// How many exchanges a journal keeps unless told otherwise (the `journalCapacity` switch).
pub const DEFAULT_JOURNAL_CAPACITY: usize = 100_000;

/// How many bytes of exchanges a journal keeps unless told otherwise (the `journalBytes` switch):
/// 256 MiB, a few thousand exchanges of a megabyte or a hundred thousand small ones.
pub const DEFAULT_JOURNAL_BYTES: usize = 256 * 1024 * 1024;

/// The clock, the faults and the journal of one mock.
#[derive(Debug)]
pub struct MockCore {
    /// The mock's clock.
    pub clock: Clock,
    /// Where the clock started: a reset puts it back here.
    start: Timestamp,
    faults: FaultPlan,
    fault_state: FaultState,
    /// The exchanges recorded, oldest first.
    pub journal: Journal,
}

impl MockCore {
    /// A core around a clock, with no faults and an empty journal.
    pub fn new(clock: Clock) -> Self {
        MockCore {
            start: clock.now(),
            clock,
            faults: FaultPlan::default(),
            fault_state: FaultState::default(),
            journal: Journal::default(),
        }
    }

    /// The clock's instant.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The fault the plan decides for a request arriving now, counting it against the plan's rules.
    pub fn fault_for(&mut self, method: &str, path: &str) -> Option<AppliedFault> {
        let at = self.clock.now();
        self.faults.decide(&mut self.fault_state, &RequestInfo { method, path, at })
    }

    /// The plan in force.
    pub fn faults(&self) -> &FaultPlan {
        &self.faults
    }

    /// Puts a plan in force, its counters at zero; an invalid plan changes nothing.
    pub fn set_faults(&mut self, plan: FaultPlan) -> Result<(), FaultPlanError> {
        plan.validate()?;
        self.faults = plan;
        self.fault_state = FaultState::default();
        Ok(())
    }

    /// No faults any more.
    pub fn clear_faults(&mut self) {
        self.faults = FaultPlan::default();
        self.fault_state = FaultState::default();
    }

    /// Back to the start: the clock where it started (in its current mode), no faults, an empty
    /// journal numbered from 1 again, with the default capacity.
    pub fn reset(&mut self) {
        self.clock.set(self.start);
        self.clear_faults();
        self.journal = Journal::default();
    }
}

/// The recorded exchanges, oldest first, numbered in order of arrival and capped both by count (the
/// `journalCapacity` switch both mocks have) and by size (`journalBytes`, counted as
/// [`RawExchange::approx_bytes`]): the oldest go first when either cap is passed. An exchange larger
/// than the byte cap on its own is kept with its bodies replaced by size markers
/// ([`RawExchange::omit_bodies`]), so the journal still shows that it happened.
#[derive(Debug)]
pub struct Journal {
    entries: VecDeque<RawExchange>,
    seq: u64,
    capacity: usize,
    /// The byte cap.
    max_bytes: usize,
    /// The sum of the kept exchanges' [`RawExchange::approx_bytes`], kept as they come and go so
    /// that trimming never walks the journal.
    bytes: usize,
}

impl Default for Journal {
    fn default() -> Self {
        Journal {
            entries: VecDeque::new(),
            seq: 0,
            capacity: DEFAULT_JOURNAL_CAPACITY,
            max_bytes: DEFAULT_JOURNAL_BYTES,
            bytes: 0,
        }
    }
}

impl Journal {
    /// Records an exchange under the next sequence number, which it returns.
    pub fn record(&mut self, mut exchange: RawExchange) -> u64 {
        self.seq += 1;
        exchange.seq = self.seq;
        if exchange.approx_bytes() > self.max_bytes {
            exchange.omit_bodies("journalBytes");
        }
        self.bytes += exchange.approx_bytes();
        self.entries.push_back(exchange);
        self.trim();
        self.seq
    }

    /// How many bytes of exchanges it keeps at most.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Keeps at most `max_bytes` of exchanges from now on, the oldest beyond it dropped now.
    pub fn set_max_bytes(&mut self, max_bytes: usize) {
        self.max_bytes = max_bytes;
        self.trim();
    }

    /// The kept exchanges' size, as [`RawExchange::approx_bytes`] counts it.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// How many exchanges it keeps at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Keeps at most `capacity` exchanges from now on, the oldest beyond it dropped now.
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.trim();
    }

    fn trim(&mut self) {
        let before = self.entries.len();
        while self.entries.len() > self.capacity || self.bytes > self.max_bytes {
            let Some(oldest) = self.entries.pop_front() else { break };
            self.bytes -= oldest.approx_bytes();
        }
        // A ring that shrank by more than half gives its memory back (a smaller cap, say).
        if self.entries.len() < before && self.entries.capacity() > 2 * self.entries.len().max(16) {
            self.entries.shrink_to_fit();
        }
    }

    /// The sequence number of the newest exchange recorded (0 before any): where a later
    /// [`Journal::since`] starts.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// How many exchanges are kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none are kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The kept exchanges, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &RawExchange> {
        self.entries.iter()
    }

    /// The exchanges after `seq`, as journal entries (bodies parsed and redacted now).
    pub fn since(&self, seq: u64) -> Vec<JournalEntry> {
        self.page(seq, u64::MAX, usize::MAX)
    }

    /// At most `limit` of the exchanges after `seq` and up to `until`, as journal entries: what a
    /// reader takes a page at a time, so that a large journal is never held twice over.
    pub fn page(&self, seq: u64, until: u64, limit: usize) -> Vec<JournalEntry> {
        // Numbers are consecutive, so the first one after `seq` is found by position.
        let first = self.entries.front().map_or(0, |e| e.seq);
        let skip = usize::try_from(seq.saturating_add(1).saturating_sub(first)).unwrap_or(usize::MAX);
        self.entries.iter().skip(skip).take_while(|e| e.seq <= until).take(limit).map(RawExchange::to_entry).collect()
    }

    /// Forgets every exchange, giving their memory back (a new ring, not a cleared one); numbering
    /// goes on from where it was.
    pub fn clear(&mut self) {
        self.entries = VecDeque::new();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::FaultAction;

    fn exchange(path: &str) -> RawExchange {
        RawExchange::new(0, Timestamp::UNIX_EPOCH, 0, "GET", path, None, [], Vec::new(), None)
    }

    #[test]
    fn the_journal_numbers_in_order_keeps_the_newest_and_reads_from_a_mark() {
        let mut journal = Journal::default();
        journal.set_capacity(3);
        for i in 1..=5 {
            assert_eq!(journal.record(exchange(&format!("/{i}"))), i);
        }
        assert_eq!((journal.len(), journal.seq()), (3, 5));
        let paths = |entries: Vec<JournalEntry>| entries.into_iter().map(|e| e.request.path).collect::<Vec<_>>();
        assert_eq!(paths(journal.since(0)), ["/3", "/4", "/5"]);
        assert_eq!(paths(journal.since(3)), ["/4", "/5"]);
        assert!(journal.since(5).is_empty());
        assert!(journal.since(u64::MAX).is_empty());
        assert_eq!(paths(journal.page(2, 4, 10)), ["/3", "/4"]);
        assert_eq!(paths(journal.page(3, 5, 1)), ["/4"]);
        journal.clear();
        assert!(journal.is_empty());
        assert_eq!(journal.record(exchange("/6")), 6, "numbering goes on after a clear");
        journal.record(exchange("/7"));
        journal.set_capacity(1);
        assert_eq!(paths(journal.since(0)), ["/7"], "a smaller cap drops the oldest at once");
    }

    fn sized(path: &str, bytes: usize) -> RawExchange {
        RawExchange::new(0, Timestamp::UNIX_EPOCH, 0, "POST", path, None, [], vec![b'x'; bytes], None).with_response(
            201,
            [],
            vec![b'y'; bytes / 2],
        )
    }

    #[test]
    fn the_journal_keeps_within_its_byte_cap_dropping_the_oldest() {
        let mut journal = Journal::default();
        let cap = 1024 * 1024;
        journal.set_max_bytes(cap);
        for i in 1..=300 {
            journal.record(sized(&format!("/{i}"), 10_000));
            assert!(journal.bytes() <= cap, "{} bytes kept after {i}", journal.bytes());
        }
        let kept: usize = journal.iter().map(RawExchange::approx_bytes).sum();
        assert_eq!(kept, journal.bytes(), "the running total is the sum");
        assert!(kept > cap - 16_000, "the cap is used, not just respected: {kept}");
        let last = journal.iter().last().unwrap();
        assert_eq!((last.seq, last.path.as_str()), (300, "/300"), "the newest is kept");
        let first = journal.iter().next().unwrap().seq;
        assert_eq!(journal.len() as u64, 300 - first + 1, "a consecutive run ending at the newest");
        journal.set_max_bytes(100_000);
        assert!(journal.bytes() <= 100_000 && journal.len() >= 6, "a smaller cap drops the oldest at once");
        journal.clear();
        assert_eq!((journal.len(), journal.bytes()), (0, 0));
    }

    #[test]
    fn an_exchange_larger_than_the_byte_cap_is_kept_without_its_bodies() {
        let mut journal = Journal::default();
        journal.set_max_bytes(64 * 1024);
        journal.record(sized("/small", 100));
        journal.record(sized("/huge", 1024 * 1024));
        assert!(journal.bytes() <= 64 * 1024);
        let entries = journal.since(0);
        let huge = entries.last().unwrap();
        assert_eq!(huge.request.path, "/huge");
        let marker = |bytes: usize| {
            Some(crate::journal::RecordedBody::Json(serde_json::json!({"omitted": "journalBytes", "bytes": bytes})))
        };
        assert_eq!(huge.request.body, marker(1024 * 1024));
        assert_eq!(huge.response.as_ref().unwrap().body, marker(512 * 1024));
        assert_eq!(entries.len(), 2, "the small one still fits");
    }

    #[test]
    fn a_reset_puts_the_clock_back_and_forgets_faults_and_exchanges() {
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut core = MockCore::new(Clock::virtual_at(start));
        let plan: FaultPlan =
            serde_json::from_str(r#"{"rules":[{"method":"GET","path":"/x","action":{"kind":"status","status":503}}]}"#)
                .unwrap();
        core.set_faults(plan).unwrap();
        assert!(matches!(core.fault_for("GET", "/x").map(|f| f.action), Some(FaultAction::Status { status: 503, .. })));
        assert_eq!(core.fault_for("GET", "/y"), None);
        core.clock.advance(jiff::SignedDuration::from_mins(40));
        core.journal.set_capacity(7);
        core.journal.set_max_bytes(70_000);
        core.journal.record(exchange("/x"));
        core.reset();
        assert_eq!((core.now(), core.fault_for("GET", "/x"), core.journal.seq()), (start, None, 0));
        assert!(core.journal.is_empty());
        assert_eq!(core.journal.capacity(), DEFAULT_JOURNAL_CAPACITY, "switches go back to their defaults");
        assert_eq!((core.journal.max_bytes(), core.journal.bytes()), (DEFAULT_JOURNAL_BYTES, 0));
    }

    #[test]
    fn an_invalid_plan_changes_nothing() {
        let mut core = MockCore::new(Clock::virtual_at(Timestamp::UNIX_EPOCH));
        let bad: FaultPlan =
            serde_json::from_str(r#"{"rules":[{"probability":1.5,"action":{"kind":"drop"}}]}"#).unwrap();
        assert!(core.set_faults(bad).is_err());
        assert!(core.faults().rules.is_empty());
    }
}
