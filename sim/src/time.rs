//! Simulated time: integer nanoseconds, never a wall clock.
//!
//! `SimTime` is an instant on some clock (true time, or a node's local clock); `SimDuration` is a
//! span. Both are plain `u64` nanoseconds so arithmetic is exact and identical on every machine.
//! Durations in scenario files are written as strings with a unit (`"150ms"`, `"2s"`, `"10us"`,
//! `"500ns"`, `"1m"`), parsed by [`SimDuration::parse`].

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// Nanoseconds in one microsecond.
pub const NANOS_PER_MICRO: u64 = 1_000;
/// Nanoseconds in one millisecond.
pub const NANOS_PER_MILLI: u64 = 1_000_000;
/// Nanoseconds in one second.
pub const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// An instant, in nanoseconds since the start of the simulation (or of a local clock's epoch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

/// A span of simulated time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub u64);

impl SimTime {
    /// The start of the simulation.
    pub const ZERO: SimTime = SimTime(0);
    /// The largest representable instant; used as "never".
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// Nanoseconds since the epoch.
    pub fn as_nanos(self) -> u64 {
        self.0
    }

    /// The span from `earlier` to `self`, or zero when `earlier` is later.
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }

    /// `self + duration`, saturating at [`SimTime::MAX`].
    pub fn saturating_add(self, duration: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(duration.0))
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    /// A duration of `nanos` nanoseconds.
    pub const fn from_nanos(nanos: u64) -> Self {
        SimDuration(nanos)
    }
    /// A duration of `micros` microseconds.
    pub const fn from_micros(micros: u64) -> Self {
        SimDuration(micros * NANOS_PER_MICRO)
    }
    /// A duration of `millis` milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        SimDuration(millis * NANOS_PER_MILLI)
    }
    /// A duration of `seconds` seconds.
    pub const fn from_secs(seconds: u64) -> Self {
        SimDuration(seconds * NANOS_PER_SECOND)
    }
    /// Length in nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Length in whole milliseconds (rounded down).
    pub const fn as_millis(self) -> u64 {
        self.0 / NANOS_PER_MILLI
    }

    /// Parses `"<integer><unit>"` with unit `ns`, `us`, `ms`, `s` or `m` (minutes).
    /// `"0"` alone is accepted as zero. Overflow is an error, never a wrap.
    pub fn parse(text: &str) -> Result<SimDuration, String> {
        let text = text.trim();
        if text == "0" {
            return Ok(SimDuration::ZERO);
        }
        let split = text
            .find(|c: char| !c.is_ascii_digit() && c != '_')
            .ok_or_else(|| format!("duration {text:?} has no unit (use ns, us, ms, s or m)"))?;
        let (digits, unit) = text.split_at(split);
        let digits: String = digits.chars().filter(|c| *c != '_').collect();
        if digits.is_empty() {
            return Err(format!("duration {text:?} does not start with a number"));
        }
        let value: u64 = digits
            .parse()
            .map_err(|_| format!("duration {text:?} is too large"))?;
        let scale = match unit {
            "ns" => 1,
            "us" | "µs" => NANOS_PER_MICRO,
            "ms" => NANOS_PER_MILLI,
            "s" => NANOS_PER_SECOND,
            "m" | "min" => 60 * NANOS_PER_SECOND,
            other => {
                return Err(format!(
                    "duration {text:?} has unknown unit {other:?} (use ns, us, ms, s or m)"
                ))
            }
        };
        value
            .checked_mul(scale)
            .map(SimDuration)
            .ok_or_else(|| format!("duration {text:?} is too large"))
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, rhs: SimDuration) -> SimTime {
        SimTime(self.0.checked_add(rhs.0).expect("SimTime overflow"))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, rhs: SimDuration) {
        *self = *self + rhs;
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    fn sub(self, rhs: SimTime) -> SimDuration {
        SimDuration(self.0.checked_sub(rhs.0).expect("SimTime underflow"))
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, rhs: SimDuration) -> SimDuration {
        SimDuration(self.0.checked_add(rhs.0).expect("SimDuration overflow"))
    }
}

/// Formats nanoseconds as seconds with exactly nine decimals: fixed, so reports are reproducible.
fn format_seconds(nanos: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(
        f,
        "{}.{:09}",
        nanos / NANOS_PER_SECOND,
        nanos % NANOS_PER_SECOND
    )
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        format_seconds(self.0, f)
    }
}

impl fmt::Display for SimDuration {
    /// The shortest exact form with a unit, so that `parse(display(d)) == d`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if n == 0 {
            write!(f, "0s")
        } else if n.is_multiple_of(NANOS_PER_SECOND) {
            write!(f, "{}s", n / NANOS_PER_SECOND)
        } else if n.is_multiple_of(NANOS_PER_MILLI) {
            write!(f, "{}ms", n / NANOS_PER_MILLI)
        } else if n.is_multiple_of(NANOS_PER_MICRO) {
            write!(f, "{}us", n / NANOS_PER_MICRO)
        } else {
            write!(f, "{n}ns")
        }
    }
}

impl Serialize for SimDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SimDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        SimDuration::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for SimTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for SimTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        u64::deserialize(deserializer).map(SimTime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_and_round_trips() {
        for (text, nanos) in [
            ("0", 0),
            ("7ns", 7),
            ("3us", 3_000),
            ("150ms", 150_000_000),
            ("2s", 2_000_000_000),
            ("1m", 60_000_000_000),
            ("1_500ms", 1_500_000_000),
        ] {
            let parsed = SimDuration::parse(text).unwrap();
            assert_eq!(parsed.as_nanos(), nanos, "{text}");
            assert_eq!(SimDuration::parse(&parsed.to_string()).unwrap(), parsed);
        }
    }

    #[test]
    fn rejects_missing_or_unknown_units_and_overflow() {
        assert!(SimDuration::parse("150").unwrap_err().contains("no unit"));
        assert!(SimDuration::parse("ms").is_err());
        assert!(SimDuration::parse("3h")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(SimDuration::parse("99999999999999999999s").is_err());
        assert!(SimDuration::parse("18446744073709551615s").is_err());
    }

    #[test]
    fn displays_time_with_fixed_nine_decimals() {
        assert_eq!(SimTime(1_500_000_000).to_string(), "1.500000000");
        assert_eq!(SimTime(42).to_string(), "0.000000042");
    }
}
