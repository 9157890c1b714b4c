//! The mocks' clock: virtual (moves only when told) or real (wall time plus an offset).
//!
//! Token expiry, timestamps, fault windows, provisioning cycles and journals all read this clock, so
//! that a year can pass in a test without waiting. The virtual mode is the deterministic one; the
//! real mode exists for people who run a mock by hand.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// Where the mocks' virtual clocks start unless told otherwise: 2026-01-01T00:00:00Z.
pub const DEFAULT_START: Timestamp = Timestamp::constant(1_767_225_600, 0);

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

/// Why a text is not a forward move of the clock.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not ISO-8601 at all (`"40 minutes"`).
    #[error("{0:?} is not an ISO-8601 duration such as \"PT40M\"")]
    NotIso(String),
    /// ISO-8601 in shape, but unreadable.
    #[error("{raw:?} is not an ISO-8601 duration: {reason}")]
    Unreadable {
        /// The text.
        raw: String,
        /// What the parser said.
        reason: String,
    },
    /// Past the end of time from here.
    #[error("{raw:?}: {reason}")]
    OutOfRange {
        /// The text.
        raw: String,
        /// What the calendar said.
        reason: String,
    },
    /// Negative: the clock only moves forward.
    #[error("{0:?}: the clock only moves forward")]
    Backwards(String),
    /// Longer than a step may move the clock.
    #[error("{0:?} is more than ten years")]
    TooLong(String),
}

/// Reads an ISO-8601 duration such as `PT40M` or `P1Y` as a forward move from `now` (calendar units
/// counted in UTC), for the admin APIs' `{"by": …}`.
pub fn forward_by(now: Timestamp, raw: &str) -> Result<SignedDuration, DurationError> {
    // jiff also reads friendly spans ("40 minutes"); the admin APIs speak ISO 8601 only.
    if !raw.trim_start_matches(['+', '-']).starts_with(['P', 'p']) {
        return Err(DurationError::NotIso(raw.to_owned()));
    }
    let span: jiff::Span = raw
        .parse()
        .map_err(|err: jiff::Error| DurationError::Unreadable { raw: raw.to_owned(), reason: err.to_string() })?;
    let start = now.to_zoned_datetime(jiff::tz::TimeZone::UTC);
    let end = start
        .checked_add(span)
        .map_err(|err| DurationError::OutOfRange { raw: raw.to_owned(), reason: err.to_string() })?;
    let by = end.timestamp().duration_since(start.timestamp());
    if by.is_negative() {
        return Err(DurationError::Backwards(raw.to_owned()));
    }
    Ok(by)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clock_moves_only_when_advanced() {
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut clock = Clock::virtual_at(start);
        assert_eq!(clock.now(), start);
        clock.advance(SignedDuration::from_mins(40));
        assert_eq!(clock.now(), "2026-01-01T00:40:00Z".parse::<Timestamp>().unwrap());
    }

    #[test]
    fn forward_moves_read_iso_durations_only() {
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(forward_by(start, "PT40M").unwrap(), SignedDuration::from_mins(40));
        assert_eq!(forward_by(start, "P1Y").unwrap(), SignedDuration::from_hours(365 * 24));
        assert_eq!(forward_by(start, "40 minutes"), Err(DurationError::NotIso("40 minutes".into())));
        assert_eq!(forward_by(start, "-PT1H"), Err(DurationError::Backwards("-PT1H".into())));
        assert!(matches!(forward_by(start, "PT40X"), Err(DurationError::Unreadable { .. })));
    }
}
