//! Fixed text formatting for times, fractions and HTML.
//!
//! Every number a report prints goes through here, so the same run always gives the same bytes:
//! times are integer nanoseconds turned into text with integer arithmetic, fractions use a
//! fixed number of decimals, and nothing depends on the locale or the machine.

use sim::time::{NANOS_PER_MILLI, NANOS_PER_SECOND};

/// Seconds with three decimals, e.g. `12.345 s`, computed from integer nanoseconds.
pub fn seconds(nanos: u64) -> String {
    let millis_total = nanos / NANOS_PER_MILLI;
    format!("{}.{:03} s", millis_total / 1000, millis_total % 1000)
}

/// A duration with a unit that suits its size: `850 ns`, `12.5 µs`, `3.25 ms`, `1.500 s`.
pub fn duration(nanos: u64) -> String {
    if nanos < 1_000 {
        format!("{nanos} ns")
    } else if nanos < NANOS_PER_MILLI {
        format!("{}.{} µs", nanos / 1_000, (nanos % 1_000) / 100)
    } else if nanos < NANOS_PER_SECOND {
        format!(
            "{}.{:02} ms",
            nanos / NANOS_PER_MILLI,
            (nanos % NANOS_PER_MILLI) / 10_000
        )
    } else {
        seconds(nanos)
    }
}

/// A round duration such as a bucket width, without trailing zeros: `200 ms`, `2 s`, `50 µs`.
pub fn round_duration(nanos: u64) -> String {
    if nanos >= NANOS_PER_SECOND && nanos.is_multiple_of(NANOS_PER_SECOND) {
        format!("{} s", nanos / NANOS_PER_SECOND)
    } else if nanos >= NANOS_PER_MILLI && nanos.is_multiple_of(NANOS_PER_MILLI) {
        format!("{} ms", nanos / NANOS_PER_MILLI)
    } else if nanos >= 1_000 && nanos.is_multiple_of(1_000) {
        format!("{} µs", nanos / 1_000)
    } else {
        duration(nanos)
    }
}

/// A ratio as a percentage with one decimal, e.g. `97.5%`; `n/a` when `whole` is zero.
/// Rounds half up, with integer arithmetic only.
pub fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "n/a".to_string();
    }
    let tenths = (u128::from(part) * 1000 + u128::from(whole) / 2) / u128::from(whole);
    format!("{}.{}%", tenths / 10, tenths % 10)
}

/// A ratio with two decimals, e.g. `4.67`; `n/a` when `whole` is zero. Rounds half up, with
/// integer arithmetic only.
pub fn ratio(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "n/a".to_string();
    }
    let hundredths = (u128::from(part) * 100 + u128::from(whole) / 2) / u128::from(whole);
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(character),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_printed_with_three_decimals() {
        assert_eq!(seconds(0), "0.000 s");
        assert_eq!(seconds(12_345_678_901), "12.345 s");
    }

    #[test]
    fn durations_pick_a_readable_unit() {
        assert_eq!(duration(850), "850 ns");
        assert_eq!(duration(12_560), "12.5 µs");
        assert_eq!(duration(3_256_000), "3.25 ms");
        assert_eq!(duration(1_500_000_000), "1.500 s");
        assert_eq!(round_duration(200_000_000), "200 ms");
        assert_eq!(round_duration(2_000_000_000), "2 s");
        assert_eq!(round_duration(1_500_000_000), "1500 ms");
        assert_eq!(round_duration(1_500_001), "1.50 ms");
    }

    #[test]
    fn percentages_round_half_up_and_handle_zero() {
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(2, 3), "66.7%");
        assert_eq!(percent(1, 8), "12.5%");
        assert_eq!(percent(5, 5), "100.0%");
        assert_eq!(percent(0, 0), "n/a");
        assert_eq!(ratio(14, 3), "4.67");
        assert_eq!(ratio(1, 0), "n/a");
    }

    #[test]
    fn html_special_characters_are_escaped() {
        assert_eq!(
            html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
