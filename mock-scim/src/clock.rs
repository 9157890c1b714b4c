//! Time as AWS prints it; the clock itself is the shared [`scenarios::clock::Clock`].

use jiff::Timestamp;
pub use scenarios::clock::{Clock, ClockMode};

/// `2020-04-06T16:48:19Z`: AWS `meta` timestamps have second precision (aws-scim.md §1.4).
pub fn meta_timestamp(ts: Timestamp) -> String {
    // Every user in every answer prints two of these: written by hand from 1970 to 9999 (what
    // `strftime` gives there, byte for byte), through `strftime` outside that range.
    let seconds = ts.as_second();
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    if seconds < 0 || year > 9999 {
        return ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    }
    let of_day = seconds.rem_euclid(86_400);
    let mut out = [0u8; 20];
    let mut put = |at: usize, value: i64, width: usize| {
        let mut value = value;
        for i in (at..at + width).rev() {
            out[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, year, 4);
    put(5, month, 2);
    put(8, day, 2);
    put(11, of_day / 3600, 2);
    put(14, of_day / 60 % 60, 2);
    put(17, of_day % 60, 2);
    for (at, separator) in [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':'), (19, b'Z')] {
        out[at] = separator;
    }
    out.iter().map(|b| char::from(*b)).collect()
}

/// Year, month and day of a count of days since 1970-01-01, proleptic Gregorian (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
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
        assert_eq!(meta_timestamp(ts), "2026-05-27T00:37:52Z");
    }

    #[test]
    fn meta_timestamps_written_by_hand_match_strftime() {
        let mut seconds = -86_400 * 400 - 1;
        while seconds < Timestamp::MAX.as_second() {
            let ts = Timestamp::new(seconds, if seconds < 0 { -999_999_999 } else { 999_999_999 }).unwrap();
            assert_eq!(meta_timestamp(ts), ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(), "{seconds}");
            seconds += 86_399 * 7 + 3_607;
        }
        assert_eq!(meta_timestamp(Timestamp::MAX), Timestamp::MAX.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
    }
}
