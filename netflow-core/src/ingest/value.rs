//! Field values as the different producers write them: enums as names or numbers, 64-bit
//! integers as numbers or strings (protojson), times as RFC 3339 or epoch seconds, ports as
//! numbers or strings. Shared by every format decoder.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

use super::scan::{Scan, Scanner, Unusual};

/// Deserializes one JSON record. The bytes are checked to be UTF-8 once, as a whole, so that
/// the parser need not check each string it borrows (that was a tenth of decoding a Hubble
/// record); bytes that are not UTF-8 are parsed as before, so errors and results are the same.
pub(crate) fn from_json<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> serde_json::Result<T> {
    match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    }
}

/// A value of a field that only describes a record (which report of a packet it is, its L7
/// message, DSCP, geography): read when it has the expected type and taken as absent
/// otherwise, so that it never makes a record unusable.
#[derive(Debug)]
pub(crate) struct Lenient<T>(pub(crate) Option<T>);

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Lenient(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum ValueOr<T> {
            Value(T),
            Other(de::IgnoredAny),
        }
        Ok(Lenient(match ValueOr::<T>::deserialize(d)? {
            ValueOr::Value(v) => Some(v),
            ValueOr::Other(_) => None,
        }))
    }
}

/// A string borrowed from the input when it has no escapes (serde borrows a `Cow` only when it
/// is a field's whole type, so optional and repeated strings go through this newtype).
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text<'a>(#[serde(borrow)] pub(crate) Cow<'a, str>);

impl Default for Text<'_> {
    fn default() -> Self {
        Text(Cow::Borrowed(""))
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'a> Text<'a> {
    /// Reads a string for a fast path, borrowed from the record; one with an escape is left
    /// to serde.
    #[inline]
    pub(crate) fn scan(s: &mut Scanner<'a>) -> Scan<Text<'a>> {
        Ok(Text(Cow::Borrowed(s.string()?)))
    }
}

/// A value's JSON text, borrowed from the record (`None` for `null`), for a field decoded
/// later or only once for all the records that hold the same text.
pub(crate) fn raw_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de str>, D::Error> {
    Ok(Option::<&'de serde_json::value::RawValue>::deserialize(d)?.map(|raw| raw.get()))
}

/// Reads a value's text for a fast path as [`raw_text`] does: checked to be JSON, not decoded.
#[inline]
pub(crate) fn scan_raw_text<'a>(s: &mut Scanner<'a>) -> Scan<Option<&'a str>> {
    let (_, text) = s.spanned(Scanner::skip)?;
    Ok((text != "null").then_some(text))
}

/// An enum value as protojson writes it (a name) or as some tools write it (a number).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum EnumValue {
    Name(String),
    Number(i64),
}

impl EnumValue {
    /// The canonical name, mapping numbers through `table`; unknown numbers keep their digits.
    /// The canonical name as [`EnumValue::name`] gives it, borrowed from `table` when the
    /// table knows it (no allocation for the names a log repeats on every record).
    pub(crate) fn static_name(&self, table: &'static [(i64, &'static str)]) -> Cow<'static, str> {
        let known = match self {
            EnumValue::Name(n) => table.iter().find(|(_, name)| name == n),
            EnumValue::Number(n) => table.iter().find(|(number, _)| number == n),
        };
        match known {
            Some((_, name)) => Cow::Borrowed(name),
            None => Cow::Owned(self.name(table)),
        }
    }

    pub(crate) fn name(&self, table: &[(i64, &str)]) -> String {
        match self {
            EnumValue::Name(n) => n.clone(),
            EnumValue::Number(n) => table
                .iter()
                .find(|(k, _)| k == n)
                .map_or_else(|| n.to_string(), |(_, name)| (*name).to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for EnumValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = EnumValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an enum name or number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<EnumValue, E> {
                Ok(EnumValue::Name(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<EnumValue, E> {
                Ok(EnumValue::Number(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<EnumValue, E> {
                Ok(EnumValue::Number(v.min(i64::MAX as u64) as i64))
            }
        }
        d.deserialize_any(V)
    }
}

/// A 64-bit unsigned integer written as a JSON string (protojson) or number.
#[derive(Debug, Clone, Copy)]
pub(crate) struct U64Value(pub(crate) u64);

impl<'de> Deserialize<'de> for U64Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = U64Value;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an unsigned integer or a string holding one")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<U64Value, E> {
                Ok(U64Value(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<U64Value, E> {
                u64::try_from(v)
                    .map(U64Value)
                    .map_err(|_| E::custom(format!("{v} is negative")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<U64Value, E> {
                v.parse()
                    .map(U64Value)
                    .map_err(|_| E::custom(format!("{v:?} is not an unsigned integer")))
            }
        }
        d.deserialize_any(V)
    }
}

impl U64Value {
    /// Reads a counter for a fast path: a plain integer, or a string of digits alone (any
    /// other shape is left to serde).
    #[inline]
    pub(crate) fn scan(s: &mut Scanner<'_>) -> Scan<U64Value> {
        match s.next_byte()? {
            b'"' => {
                let digits = s.string()?;
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(Unusual);
                }
                digits.parse().map(U64Value).map_err(|_| Unusual)
            }
            _ => s.u64().map(U64Value),
        }
    }

    /// The sum of two optional counters (in + out); absent when both are.
    pub(crate) fn sum(a: Option<U64Value>, b: Option<U64Value>) -> Option<u64> {
        match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.map_or(0, |v| v.0).saturating_add(b.map_or(0, |v| v.0))),
        }
    }

    /// Whether two counters of opposite directions (in, out) both counted something: the
    /// connection carried packets both ways, so it was answered.
    pub(crate) fn both_ways(a: Option<U64Value>, b: Option<U64Value>) -> bool {
        matches!((a, b), (Some(a), Some(b)) if a.0 > 0 && b.0 > 0)
    }
}

/// A time written as RFC 3339 text, epoch seconds (number or numeric string) or epoch
/// milliseconds (numbers past year 33658 in seconds are taken as milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeValue(pub(crate) DateTime<Utc>);

impl TimeValue {
    /// Reads a time for a fast path as the serde decoder reads it (RFC 3339 or epoch digits,
    /// as text or a plain integer), through the same `Deserialize` implementation; one it
    /// would reject is left to it.
    #[inline]
    pub(crate) fn scan(s: &mut Scanner<'_>) -> Scan<TimeValue> {
        use serde::de::value::{BorrowedStrDeserializer, U64Deserializer};
        let read = match s.next_byte()? {
            b'"' => TimeValue::deserialize(BorrowedStrDeserializer::<serde_json::Error>::new(
                s.string()?,
            )),
            _ => TimeValue::deserialize(U64Deserializer::<serde_json::Error>::new(s.u64()?)),
        };
        read.map_err(|_| Unusual)
    }

    fn from_epoch<E: de::Error>(n: i64) -> Result<TimeValue, E> {
        let t = if n.unsigned_abs() >= 1_000_000_000_000 {
            DateTime::from_timestamp_millis(n)
        } else {
            DateTime::from_timestamp(n, 0)
        };
        t.map(TimeValue)
            .ok_or_else(|| E::custom(format!("{n} is not a usable epoch time")))
    }
}

impl<'de> Deserialize<'de> for TimeValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TimeValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an RFC 3339 time or epoch seconds")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<TimeValue, E> {
                TimeValue::from_epoch(v)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<TimeValue, E> {
                TimeValue::from_epoch(i64::try_from(v).map_err(|_| E::custom("time out of range"))?)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<TimeValue, E> {
                if !v.is_finite() {
                    return Err(E::custom("time is not a finite number"));
                }
                TimeValue::from_epoch(v.trunc() as i64)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TimeValue, E> {
                if let Ok(n) = v.trim().parse::<i64>() {
                    return TimeValue::from_epoch(n);
                }
                DateTime::parse_from_rfc3339(v.trim())
                    .map(|t| TimeValue(t.with_timezone(&Utc)))
                    .map_err(|e| {
                        E::custom(format!("time {v:?} is not RFC 3339 nor epoch seconds: {e}"))
                    })
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses an IP address field; empty is absent.
pub(crate) fn parse_ip(
    text: Option<&str>,
    field: &str,
) -> Result<Option<std::net::IpAddr>, String> {
    match text.map(str::trim) {
        None | Some("") | Some("-") => Ok(None),
        Some(t) => t
            .parse()
            .map(Some)
            .map_err(|_| format!("{field} {t:?} is not an IP address")),
    }
}

/// A port number from a number or numeric string; 0 and absent are "no port".
pub(crate) fn port(value: Option<U64Value>, field: &str) -> Result<Option<u16>, String> {
    match value.map(|v| v.0) {
        None | Some(0) => Ok(None),
        Some(n) => u16::try_from(n)
            .map(Some)
            .map_err(|_| format!("{field} {n} is out of range (0-65535)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_accept_rfc3339_and_epoch_seconds_and_millis() {
        let t = |j: &str| serde_json::from_str::<TimeValue>(j).map(|t| t.0.to_rfc3339());
        assert_eq!(t("1748772000").unwrap(), "2025-06-01T10:00:00+00:00");
        assert_eq!(t("\"1748772000\"").unwrap(), "2025-06-01T10:00:00+00:00");
        assert_eq!(t("1748772000000").unwrap(), "2025-06-01T10:00:00+00:00");
        assert_eq!(
            t("\"2025-06-01T10:00:00Z\"").unwrap(),
            "2025-06-01T10:00:00+00:00"
        );
        assert!(t("\"noon\"").is_err());
    }

    #[test]
    fn epoch_times_at_the_limits_of_i64_are_errors_not_panics() {
        // Found by fuzzing (fuzz/fuzz_targets/decoders.rs): a huge negative number saturates to
        // i64::MIN, whose absolute value overflowed.
        let t = |j: &str| serde_json::from_str::<TimeValue>(j);
        for text in [
            "-9223372036854775808",
            "-7444444444444444444444444",
            "1e300",
            "\"-9223372036854775808\"",
        ] {
            let err = t(text).unwrap_err().to_string();
            assert!(err.contains("epoch time"), "{text}: {err}");
        }
    }

    #[test]
    fn u64_values_accept_strings_and_reject_negatives() {
        assert_eq!(serde_json::from_str::<U64Value>("\"12\"").unwrap().0, 12);
        assert!(serde_json::from_str::<U64Value>("-1").is_err());
    }
}
