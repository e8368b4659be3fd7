//! Axis ticks and labels, computed with integer arithmetic where it matters.
//!
//! plotters would pick tick positions with `log10`/`powf` from the platform's C library; here
//! every tick is chosen from fixed candidate lists, so tick positions and labels are the same
//! on every machine.

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use sim::time::{NANOS_PER_MILLI, NANOS_PER_SECOND};
use std::ops::Range;

/// The most major ticks a linear axis gets.
const MAX_TICKS: u64 = 10;

/// A time axis in seconds from 0 to `end`, with ticks on a round step.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeAxis {
    /// The axis end, seconds: the run end rounded up to a whole step.
    pub end: f64,
    /// Tick positions, seconds.
    pub ticks: Vec<f64>,
    /// The tick step, milliseconds.
    pub step_millis: u64,
}

/// The time axis for a run ending at `run_end` nanoseconds.
pub fn time_axis(run_end: u64) -> TimeAxis {
    let end_millis = run_end.div_ceil(NANOS_PER_MILLI).max(1);
    let step_millis = round_step(end_millis, MAX_TICKS);
    let steps = end_millis.div_ceil(step_millis);
    TimeAxis {
        end: (steps * step_millis) as f64 / 1_000.0,
        ticks: (0..=steps)
            .map(|step| (step * step_millis) as f64 / 1_000.0)
            .collect(),
        step_millis,
    }
}

/// The smallest 1, 2, 5 × 10^k step that covers `span` in at most `max_ticks` steps.
fn round_step(span: u64, max_ticks: u64) -> u64 {
    let mut magnitude = 1u64;
    loop {
        for factor in [1, 2, 5] {
            let step = factor * magnitude;
            if span.div_ceil(step) <= max_ticks {
                return step;
            }
        }
        magnitude *= 10;
    }
}

/// A time tick's label: seconds with as many decimals as the step needs.
pub fn time_label(seconds: f64, step_millis: u64) -> String {
    let millis = (seconds * 1_000.0).round() as u64;
    let decimals = match step_millis {
        1_000.. => 0,
        100.. => 1,
        10.. => 2,
        _ => 3,
    };
    let whole = millis / 1_000;
    let fraction = millis % 1_000;
    match decimals {
        0 => format!("{whole}"),
        1 => format!("{whole}.{}", fraction / 100),
        2 => format!("{whole}.{:02}", fraction / 10),
        _ => format!("{whole}.{fraction:03}"),
    }
}

/// Seconds on the time axis for `nanos` nanoseconds of true time.
pub fn seconds(nanos: u64) -> f64 {
    nanos as f64 / NANOS_PER_SECOND as f64
}

/// A log-scale latency axis: the value plotted is log10 of nanoseconds, major ticks are whole
/// decades.
#[derive(Clone, Debug, PartialEq)]
pub struct LogAxis {
    /// Bottom of the axis, log10 nanoseconds.
    pub start: f64,
    /// Top of the axis, log10 nanoseconds.
    pub end: f64,
    /// Major ticks: the decades inside the axis.
    pub ticks: Vec<f64>,
    /// Minor ticks: 2..9 × each decade, inside the axis.
    pub minor_ticks: Vec<f64>,
}

/// The axis spanning every latency in `latencies` (nanoseconds) with 5% headroom on a log
/// scale, widened to whole decades when the data spans less than one; 1 ms to 1 s when empty.
pub fn log_axis(latencies: impl Iterator<Item = u64>) -> LogAxis {
    let (mut smallest, mut largest) = (u64::MAX, 0u64);
    for latency in latencies {
        smallest = smallest.min(latency.max(1));
        largest = largest.max(latency.max(1));
    }
    let (start, end) = if largest == 0 {
        (6.0, 9.0)
    } else if largest / smallest < 10 {
        // Less than a decade of data: show the decades around it, so ticks are labelled.
        let low = decade_at_or_below(smallest);
        (
            f64::from(low),
            f64::from(decade_at_or_above(largest).max(low + 1)),
        )
    } else {
        let (low, high) = (log10(smallest), log10(largest));
        let pad = (high - low) * 0.05;
        (low - pad, high + pad)
    };
    let first_decade = start.floor() as i32;
    let last_decade = end.ceil() as i32;
    let inside = |value: &f64| *value >= start && *value <= end;
    let mut ticks: Vec<f64> = (first_decade..=last_decade)
        .map(f64::from)
        .filter(inside)
        .collect();
    let mut minor_ticks: Vec<f64> = (first_decade..last_decade)
        .flat_map(|decade| (2..10).map(move |multiple| f64::from(decade) + log10(multiple)))
        .filter(inside)
        .collect();
    if ticks.len() < 3 {
        // Under two decades of data: label 2× and 5× too, or the axis has too few numbers.
        let promoted = (first_decade..last_decade)
            .flat_map(|decade| [2, 5].map(|multiple| f64::from(decade) + log10(multiple)))
            .filter(inside);
        ticks.extend(promoted);
        ticks.sort_by(f64::total_cmp);
        minor_ticks.retain(|minor| !ticks.contains(minor));
    }
    LogAxis {
        start,
        end,
        ticks,
        minor_ticks,
    }
}

/// log10 of a latency in nanoseconds, for plotting on a [`LogAxis`].
pub fn log10(nanos: u64) -> f64 {
    libm::log10(nanos.max(1) as f64)
}

fn decade_at_or_below(value: u64) -> u32 {
    let mut decade = 0;
    let mut power = 1u64;
    while power <= value / 10 {
        power *= 10;
        decade += 1;
    }
    decade
}

fn decade_at_or_above(value: u64) -> u32 {
    let mut decade = 0;
    let mut power = 1u64;
    while power < value {
        power = power.saturating_mul(10);
        decade += 1;
    }
    decade
}

/// A latency tick's label, e.g. `100 µs`, `2 ms`, `10 s`, from its log10-nanoseconds value.
pub fn latency_label(log_value: f64) -> String {
    crate::format::round_duration(libm::pow(10.0, log_value).round() as u64)
}

/// A linear axis from 0 with round ticks, for rates.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearAxis {
    /// The axis top: the largest value rounded up to a whole step (at least one step).
    pub top: f64,
    /// Tick positions.
    pub ticks: Vec<f64>,
    /// Decimals tick labels need.
    pub decimals: usize,
}

/// A linear axis from 0 covering `largest`, with at most 8 round ticks.
pub fn linear_axis(largest: f64) -> LinearAxis {
    // 5% headroom keeps the largest value off the frame.
    let largest = largest * 1.05;
    // Tenths as the unit keeps the step search in integers.
    let largest_tenths = (largest * 10.0).ceil().max(1.0) as u64;
    let step_tenths = round_step(largest_tenths, 8);
    let steps = largest_tenths.div_ceil(step_tenths).max(1);
    LinearAxis {
        top: (steps * step_tenths) as f64 / 10.0,
        ticks: (0..=steps)
            .map(|step| (step * step_tenths) as f64 / 10.0)
            .collect(),
        decimals: usize::from(step_tenths < 10),
    }
}

/// A linear f64 axis whose ticks are given, not computed: plotters draws grid lines and labels
/// exactly at `ticks` (major) and `minor_ticks` (light grid lines only).
#[derive(Clone, Debug)]
pub struct Ticked {
    /// The axis range.
    pub range: Range<f64>,
    /// Major ticks, labelled.
    pub ticks: Vec<f64>,
    /// Minor ticks, grid lines only.
    pub minor_ticks: Vec<f64>,
}

impl Ticked {
    /// An axis over `range` with major `ticks` and no minor ticks.
    pub fn new(range: Range<f64>, ticks: Vec<f64>) -> Ticked {
        Ticked {
            range,
            ticks,
            minor_ticks: Vec::new(),
        }
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        let pixels = limit.1 - limit.0;
        if span <= 0.0 || pixels == 0 {
            return limit.0;
        }
        let fraction = (value - self.range.start) / span;
        // The same rounding as plotters' own f64 axes.
        if pixels > 0 {
            limit.0 + (f64::from(pixels) * fraction + 1e-3).floor() as i32
        } else {
            limit.0 + (f64::from(pixels) * fraction - 1e-3).ceil() as i32
        }
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor_ticks.clone()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_axis_ends_on_a_round_tick() {
        let axis = time_axis(9_300 * NANOS_PER_MILLI);
        assert_eq!(axis.step_millis, 1_000);
        assert_eq!(axis.end, 10.0);
        assert_eq!(axis.ticks.len(), 11);
        assert_eq!(time_label(2.0, axis.step_millis), "2");
        assert_eq!(time_label(0.25, 50), "0.25");
        let short = time_axis(35 * NANOS_PER_MILLI);
        assert_eq!((short.step_millis, short.end), (5, 0.035));
    }

    #[test]
    fn log_axis_covers_every_latency_in_whole_decades() {
        let axis = log_axis([1_500_000u64, 2_000_000_000].into_iter());
        assert!(axis.start < log10(1_500_000) && axis.end > log10(2_000_000_000));
        assert_eq!(axis.ticks, vec![7.0, 8.0, 9.0]);
        let few = log_axis([4_000_000u64, 300_000_000].into_iter());
        let labels: Vec<String> = few.ticks.iter().map(|tick| latency_label(*tick)).collect();
        assert_eq!(
            labels,
            ["5 ms", "10 ms", "20 ms", "50 ms", "100 ms", "200 ms"]
        );
        assert_eq!(latency_label(6.0), "1 ms");
        assert_eq!(latency_label(10.0), "10 s");
        assert_eq!(latency_label(4.0), "10 µs");
        assert_eq!(latency_label(6.0 + log10(2)), "2 ms");
        assert_eq!(latency_label(8.0 + log10(5)), "500 ms");
        let narrow = log_axis([1_000_000u64, 3_000_000].into_iter());
        assert_eq!((narrow.start, narrow.end), (6.0, 7.0));
        assert_eq!(narrow.ticks.len(), 4);
        assert_eq!(narrow.minor_ticks.len(), 6);
        assert_eq!(log_axis(std::iter::empty()).start, 6.0);
    }

    #[test]
    fn linear_axis_uses_round_steps() {
        let axis = linear_axis(36.0);
        assert_eq!(axis.top, 40.0);
        assert_eq!(
            axis.ticks,
            vec![0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0]
        );
        assert_eq!(axis.decimals, 0);
        let small = linear_axis(0.28);
        assert_eq!((small.top, small.decimals), (0.3, 1));
        assert_eq!(linear_axis(0.0).top, 0.1);
    }
}
