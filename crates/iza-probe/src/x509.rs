//! Reads the one field a probe needs from a DER certificate: its `notAfter` time, as Unix
//! seconds.
//!
//! Hand-written rather than `x509-parser`: the probe needs a single field at a fixed place
//! (`Certificate → tbsCertificate → validity → notAfter`), and the parser crate would add
//! `nom`, `asn1-rs` with its proc macros, `der-parser`, `oid-registry` and `time` to every
//! build for it. The walk below checks every length against the input, so a hostile
//! certificate can make it return `None`, never panic or read out of bounds.

/// The certificate's `notAfter` as seconds since the Unix epoch, or `None` when the bytes are
/// not a certificate this reader understands.
pub(crate) fn not_after(der: &[u8]) -> Option<i64> {
    let (certificate, _) = element(der, SEQUENCE)?;
    let (tbs, _) = element(certificate, SEQUENCE)?;
    let mut rest = tbs;
    // version [0] EXPLICIT, optional.
    if rest.first() == Some(&VERSION) {
        rest = element(rest, VERSION)?.1;
    }
    rest = element(rest, INTEGER)?.1; // serialNumber
    rest = element(rest, SEQUENCE)?.1; // signature AlgorithmIdentifier
    rest = element(rest, SEQUENCE)?.1; // issuer Name
    let (validity, _) = element(rest, SEQUENCE)?;
    let (_, after_not_before) = any_element(validity)?;
    let (tag, not_after, _) = tagged(after_not_before)?;
    match tag {
        UTC_TIME => utc_time(not_after),
        GENERALIZED_TIME => generalized_time(not_after),
        _ => None,
    }
}

const INTEGER: u8 = 0x02;
const SEQUENCE: u8 = 0x30;
const VERSION: u8 = 0xA0;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// The content of the element at the start of `input` when it has tag `tag`, and what follows.
fn element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (found, content, rest) = tagged(input)?;
    (found == tag).then_some((content, rest))
}

fn any_element(input: &[u8]) -> Option<(&[u8], &[u8])> {
    tagged(input).map(|(_, content, rest)| (content, rest))
}

/// (tag, content, rest) of the element at the start of `input` (single-byte tags, definite
/// lengths up to four bytes, as DER requires).
fn tagged(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let length = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7F);
        if count == 0 || count > 4 {
            return None;
        }
        let (bytes, after) = rest.split_at_checked(count)?;
        rest = after;
        bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    let (content, rest) = rest.split_at_checked(length)?;
    Some((tag, content, rest))
}

/// `YYMMDDHHMMSSZ`; years 50–99 are 19xx (RFC 5280).
fn utc_time(text: &[u8]) -> Option<i64> {
    if text.len() != 13 || text[12] != b'Z' {
        return None;
    }
    let yy = digits(&text[0..2])?;
    let year = if yy >= 50 { 1900 + yy } else { 2000 + yy };
    timestamp(year, &text[2..12])
}

/// `YYYYMMDDHHMMSSZ` (RFC 5280 forbids fractions).
fn generalized_time(text: &[u8]) -> Option<i64> {
    if text.len() != 15 || text[14] != b'Z' {
        return None;
    }
    timestamp(digits(&text[0..4])?, &text[4..14])
}

/// Unix seconds from a year and `MMDDHHMMSS`.
fn timestamp(year: i64, rest: &[u8]) -> Option<i64> {
    let month = digits(rest.get(0..2)?)?;
    let day = digits(rest.get(2..4)?)?;
    let hour = digits(rest.get(4..6)?)?;
    let minute = digits(rest.get(6..8)?)?;
    let second = digits(rest.get(8..10)?)?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

fn digits(text: &[u8]) -> Option<i64> {
    text.iter().try_fold(0i64, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let shifted_month = (month + 9) % 12; // March = 0
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_count_days_from_the_epoch() {
        let cases = [
            ((1970, 1, 1), 0),
            ((2000, 3, 1), 11_017),
            ((2024, 2, 29), 19_782),
            ((2049, 12, 31), 29_219),
            ((1969, 12, 31), -1),
        ];
        for ((y, m, d), days) in cases {
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn times_parse_in_both_encodings() {
        assert_eq!(utc_time(b"700101000000Z"), Some(0));
        assert_eq!(utc_time(b"491231235959Z"), Some(2_524_607_999));
        assert_eq!(utc_time(b"500101000000Z"), Some(-631_152_000));
        assert_eq!(generalized_time(b"20500101000000Z"), Some(2_524_608_000));
        assert_eq!(utc_time(b"701301000000Z"), None);
        assert_eq!(utc_time(b"7001010000Z"), None);
        assert_eq!(generalized_time(b"2050010100000+Z"), None);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = not_after(&bytes);
        }

        #[test]
        fn truncated_sequences_never_panic(cut in 0usize..64) {
            // A plausible prefix: SEQUENCE { SEQUENCE { [0] ... } } with long-form lengths.
            let prefix = [0x30u8, 0x82, 0x01, 0x00, 0x30, 0x81, 0xF0, 0xA0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x01];
            let _ = not_after(&prefix[..cut.min(prefix.len())]);
        }
    }
}
