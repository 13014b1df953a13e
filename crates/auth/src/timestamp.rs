//! The request timestamp format: V1 `Timestamp` parameter and ACS3
//! `x-acs-date` header, reference sections a.3 and a.4.
//!
//! Both are ISO 8601 in UTC with a literal `Z`, to the second:
//! `YYYY-MM-DDThh:mm:ssZ`. Fractional seconds are not documented but are
//! accepted on input (the reference marks this as an inferred choice) because
//! some hand-written clients emit milliseconds; output never has them.
//! Offsets other than `Z`, lowercase `t`/`z`, spaces and leap seconds are
//! refused: the value is signed text, and a lenient parser buys nothing.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Formats a timestamp as the vendor wants: YYYY-MM-DDThh:mm:ssZ (UTC).
///
/// The instant is converted to UTC first; sub-second precision is dropped.
/// Years outside 0000–9999 cannot be expressed in this format and are
/// clamped to that range (they cannot occur in a live request).
pub fn format_timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    let year = t.year().clamp(0, 9999);
    format!(
        "{year:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses YYYY-MM-DDThh:mm:ssZ; also accepts fractional seconds (YYYY-MM-DDThh:mm:ss.sssZ, 1 to 9 digits). Anything else -> None.
pub fn parse_timestamp(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[b.len() - 1] != b'Z'
    {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;

    let fraction = &b[19..b.len() - 1];
    let nanos = match fraction {
        [] => 0,
        [b'.', rest @ ..] if (1..=9).contains(&rest.len()) => {
            digits(rest)? * 10u32.pow(9 - rest.len() as u32)
        }
        _ => return None,
    };

    let date = Date::from_calendar_date(
        i32::try_from(year).ok()?,
        Month::try_from(u8::try_from(month).ok()?).ok()?,
        u8::try_from(day).ok()?,
    )
    .ok()?;
    let time = Time::from_hms_nano(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
        nanos,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// Decimal value of an all-digit slice (at most 9 digits, so no overflow).
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn format() {
        assert_eq!(
            format_timestamp(datetime!(2026-01-02 03:04:05 UTC)),
            "2026-01-02T03:04:05Z"
        );
        assert_eq!(
            format_timestamp(datetime!(2026-01-02 03:04:05.999 +08:00)),
            "2026-01-01T19:04:05Z"
        );
        assert_eq!(
            format_timestamp(datetime!(0999-12-31 23:59:59 UTC)),
            "0999-12-31T23:59:59Z"
        );
    }

    #[test]
    fn parse_plain_and_fractional() {
        assert_eq!(
            parse_timestamp("2026-11-22T20:50:02Z"),
            Some(datetime!(2026-11-22 20:50:02 UTC))
        );
        assert_eq!(
            parse_timestamp("2026-11-22T20:50:02.5Z"),
            Some(datetime!(2026-11-22 20:50:02.5 UTC))
        );
        assert_eq!(
            parse_timestamp("2026-11-22T20:50:02.123Z"),
            Some(datetime!(2026-11-22 20:50:02.123 UTC))
        );
        assert_eq!(
            parse_timestamp("2026-11-22T20:50:02.123456789Z"),
            Some(datetime!(2026-11-22 20:50:02.123456789 UTC))
        );
        assert_eq!(
            parse_timestamp("2024-02-29T00:00:00Z"),
            Some(datetime!(2024-02-29 0:00 UTC))
        );
    }

    #[test]
    fn parse_rejects() {
        for s in [
            "",
            "2026-11-22T20:50:02",
            "2026-11-22 20:50:02Z",
            "2026-11-22t20:50:02Z",
            "2026-11-22T20:50:02z",
            "2026-11-22T20:50:02+00:00",
            "2026-11-22T20:50:02.Z",
            "2026-11-22T20:50:02.1234567890Z",
            "2026-11-22T20:50:02,5Z",
            "2026-11-22T20:50:2Z",
            "2026-11-22T20:50:02ZZ",
            " 2026-11-22T20:50:02Z",
            "2026-13-22T20:50:02Z",
            "2026-00-22T20:50:02Z",
            "2025-02-29T20:50:02Z",
            "2026-11-31T20:50:02Z",
            "2026-11-22T24:00:00Z",
            "2026-11-22T20:60:02Z",
            "2026-11-22T23:59:60Z",
            "+026-11-22T20:50:02Z",
            "2026-1a-22T20:50:02Z",
            "2026-11-22T20:50:02.1a3Z",
            "２026-11-22T20:50:02Z",
        ] {
            assert_eq!(parse_timestamp(s), None, "{s:?}");
        }
    }

    #[test]
    fn round_trip() {
        let t = datetime!(2015-08-18 03:15:45 UTC);
        assert_eq!(parse_timestamp(&format_timestamp(t)), Some(t));
    }
}
