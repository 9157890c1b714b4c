//! Time as AWS prints it; the clock itself is the shared [`scenarios::clock::Clock`].

use jiff::Timestamp;
pub use scenarios::clock::{Clock, ClockMode};

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
        assert_eq!(meta_timestamp(ts), "2026-05-27T00:37:52Z");
    }
}
