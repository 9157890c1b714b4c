//! The mock's clock: virtual (moves only when told) or real (wall time plus an offset).
//!
//! Token expiry, `meta` timestamps, error `timeStamp`s, fault windows and the journal all read this
//! clock, so that a year can pass in a test without waiting.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// Whether the clock follows wall time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ClockMode {
    /// Time stands still until advanced: deterministic.
    Virtual,
    /// Wall time, shifted by whatever has been advanced so far.
    Real,
}

/// The mock's notion of now.
#[derive(Debug, Clone)]
pub struct Clock {
    mode: ClockMode,
    /// The virtual instant, or the offset base for the real clock.
    virtual_now: Timestamp,
    /// How far the real clock has been pushed ahead by `advance`.
    offset: SignedDuration,
}

impl Clock {
    /// A virtual clock standing at `start`.
    pub fn virtual_at(start: Timestamp) -> Self {
        Clock { mode: ClockMode::Virtual, virtual_now: start, offset: SignedDuration::ZERO }
    }

    /// A clock following wall time.
    pub fn real() -> Self {
        Clock { mode: ClockMode::Real, virtual_now: Timestamp::now(), offset: SignedDuration::ZERO }
    }

    /// The current mode.
    pub fn mode(&self) -> ClockMode {
        self.mode
    }

    /// The current instant.
    pub fn now(&self) -> Timestamp {
        match self.mode {
            ClockMode::Virtual => self.virtual_now,
            ClockMode::Real => Timestamp::now().saturating_add(self.offset).unwrap_or(Timestamp::MAX),
        }
    }

    /// Moves the clock forward; negative durations are refused by the caller.
    pub fn advance(&mut self, by: SignedDuration) {
        match self.mode {
            ClockMode::Virtual => {
                self.virtual_now = self.virtual_now.saturating_add(by).unwrap_or(Timestamp::MAX);
            }
            ClockMode::Real => self.offset = self.offset.saturating_add(by),
        }
    }

    /// Switches mode, keeping the current instant as the starting point.
    pub fn set_mode(&mut self, mode: ClockMode) {
        let now = self.now();
        self.mode = mode;
        self.virtual_now = now;
        self.offset = now.duration_since(Timestamp::now());
    }

    /// Puts a virtual clock at `at` (a real clock is shifted so that now reads `at`).
    pub fn set(&mut self, at: Timestamp) {
        self.virtual_now = at;
        self.offset = at.duration_since(Timestamp::now());
    }
}

/// `2020-04-06T16:48:19Z`: AWS `meta` timestamps have second precision (aws-scim.md §1.4).
pub fn meta_timestamp(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `2022-03-18 10:57:08.014` or `2026-05-27 00:37:52.16`: AWS error `timeStamp`s print milliseconds
/// with trailing zeros dropped (aws-scim.md §5.1, inferred from two captures).
pub fn error_timestamp(ts: Timestamp) -> String {
    let millis = ts.subsec_millisecond();
    let mut fraction = format!("{millis:03}");
    while fraction.len() > 1 && fraction.ends_with('0') {
        fraction.pop();
    }
    format!("{}.{fraction}", ts.strftime("%Y-%m-%d %H:%M:%S"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_timestamps_keep_leading_zeros_and_drop_trailing_ones() {
        let ts: Timestamp = "2022-03-18T10:57:08.014Z".parse().unwrap();
        assert_eq!(error_timestamp(ts), "2022-03-18 10:57:08.014");
        let ts: Timestamp = "2026-05-27T00:37:52.160Z".parse().unwrap();
        assert_eq!(error_timestamp(ts), "2026-05-27 00:37:52.16");
        let ts: Timestamp = "2026-05-27T00:37:52Z".parse().unwrap();
        assert_eq!(error_timestamp(ts), "2026-05-27 00:37:52.0");
    }

    #[test]
    fn virtual_clock_moves_only_when_advanced() {
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut clock = Clock::virtual_at(start);
        assert_eq!(clock.now(), start);
        clock.advance(SignedDuration::from_mins(40));
        assert_eq!(meta_timestamp(clock.now()), "2026-01-01T00:40:00Z");
    }
}
