//! Statistics across seeds: quantiles and a seeded bootstrap, so a report is reproducible.

use serde::Serialize;
use sim::rng::SimRng;

/// Resamples of the bootstrap.
pub const RESAMPLES: usize = 1_000;
/// The bootstrap's fixed seed: the same values give the same interval on every run.
pub const BOOTSTRAP_SEED: u64 = 0x5EED_B007;

/// A metric's spread across seeds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Spread {
    /// Values summarized.
    pub count: usize,
    /// The median.
    pub median: f64,
    /// First quartile.
    pub q1: f64,
    /// Third quartile.
    pub q3: f64,
    /// Lower end of the median's 95% percentile-bootstrap interval.
    pub ci_low: f64,
    /// Upper end of that interval.
    pub ci_high: f64,
}

impl Spread {
    /// The spread of `values` (any order); `None` when empty.
    pub fn of(values: &[f64]) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let mut rng = SimRng::new(BOOTSTRAP_SEED);
        let mut medians = Vec::with_capacity(RESAMPLES);
        let mut sample = vec![0.0; sorted.len()];
        for _ in 0..RESAMPLES {
            for slot in sample.iter_mut() {
                *slot = sorted[rng.index(sorted.len())];
            }
            sample.sort_by(f64::total_cmp);
            medians.push(quantile_sorted(&sample, 0.5));
        }
        medians.sort_by(f64::total_cmp);
        Some(Spread {
            count: sorted.len(),
            median: quantile_sorted(&sorted, 0.5),
            q1: quantile_sorted(&sorted, 0.25),
            q3: quantile_sorted(&sorted, 0.75),
            ci_low: quantile_sorted(&medians, 0.025),
            ci_high: quantile_sorted(&medians, 0.975),
        })
    }
}

/// The `q` quantile of sorted `values`, interpolating linearly between ranks (Hyndman and
/// Fan's type 7, the default of R and NumPy).
pub fn quantile_sorted(values: &[f64], q: f64) -> f64 {
    assert!(!values.is_empty(), "quantile of nothing");
    let position = q * (values.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    let fraction = position - below as f64;
    values[below] + (values[above] - values[below]) * fraction
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_between_ranks() {
        let values = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&values, 0.5), 2.5);
        assert_eq!(quantile_sorted(&values, 0.25), 1.75);
        assert_eq!(quantile_sorted(&values, 1.0), 4.0);
        assert_eq!(quantile_sorted(&[7.0], 0.9), 7.0);
    }

    #[test]
    fn the_bootstrap_interval_holds_the_median_and_is_reproducible() {
        let values: Vec<f64> = (0..101).map(|i| f64::from(i * i % 37)).collect();
        let a = Spread::of(&values).unwrap();
        assert_eq!(Some(a), Spread::of(&values), "same values, same interval");
        assert!(a.ci_low <= a.median && a.median <= a.ci_high, "{a:?}");
        assert!(a.q1 <= a.median && a.median <= a.q3);
        // A constant sample has a zero-width interval.
        let flat = Spread::of(&[5.0; 20]).unwrap();
        assert_eq!((flat.ci_low, flat.ci_high), (5.0, 5.0));
        assert_eq!(Spread::of(&[]), None);
    }
}
