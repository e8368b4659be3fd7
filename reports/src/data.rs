//! The report data models: what the plots and tables show, as plain serializable values.
//!
//! All times are integer nanoseconds of true time. Quantiles use the nearest-rank method on
//! integers, so they are exact and machine independent. The only floats are rates and
//! availability fractions, each a single IEEE division of two integers (the same on every
//! machine).
//!
//! ## Bucket size
//! Time series (quantiles, rates, availability) group operations into buckets of equal width
//! chosen from the run length by [`bucket_width`]: the narrowest of 1, 2, 5 × 10^k
//! milliseconds (up to an hour) that splits the run into at most [`MAX_BUCKETS`] buckets. A
//! 10-second run gets 200 ms buckets (50 of them), a one-minute run 2 s buckets (30), a
//! 30-second run 1 s buckets (30). Fifty buckets keep a time series readable and leave each
//! bucket enough operations for a p95 at the rates simulated clients run.

use crate::operations::{Operation, Outcome};
use serde::Serialize;
use sim::outcome::RunData;
use sim::time::{NANOS_PER_MILLI, NANOS_PER_SECOND};
use std::collections::BTreeMap;

/// The most buckets a time series is split into.
pub const MAX_BUCKETS: u64 = 50;

/// The candidate bucket widths, in milliseconds: 1, 2, 5 × 10^k up to one hour.
const BUCKET_WIDTHS_MILLIS: [u64; 20] = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 30_000, 60_000,
    120_000, 300_000, 600_000, 3_600_000,
];

/// The width of time buckets for a run lasting `run_length` nanoseconds: the narrowest
/// candidate (see the module docs) giving at most [`MAX_BUCKETS`] buckets. Runs longer than
/// 50 hours get hour-multiple buckets.
pub fn bucket_width(run_length: u64) -> u64 {
    for millis in BUCKET_WIDTHS_MILLIS {
        let width = millis * NANOS_PER_MILLI;
        if run_length.div_ceil(width) <= MAX_BUCKETS {
            return width;
        }
    }
    let hour = 3_600_000 * NANOS_PER_MILLI;
    run_length.div_ceil(hour).div_ceil(MAX_BUCKETS) * hour
}

/// The end of the report's time axis: the latest of the run's simulated time, any history
/// entry and any fault boundary; at least one millisecond, so an axis is never empty.
pub fn run_end(data: &RunData) -> u64 {
    let history_end = data.history.last_time();
    let fault_end = data
        .faults
        .iter()
        .map(|fault| fault.end.unwrap_or(fault.start).as_nanos())
        .max()
        .unwrap_or(0);
    data.stats
        .simulated_time
        .as_nanos()
        .max(history_end)
        .max(fault_end)
        .max(NANOS_PER_MILLI)
}

/// One completed operation in the latency plot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LatencyPoint {
    /// Invocation time, nanoseconds.
    pub invoke_time: u64,
    /// Completion minus invocation, nanoseconds.
    pub latency: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// The function.
    pub function: String,
    /// The client process.
    pub process: u64,
}

/// Every completed operation as a latency point, in order of invocation. Operations that never
/// completed have no latency and are left out (they appear in the timeline and as `info` in
/// availability).
pub fn latency_points(operations: &[Operation]) -> Vec<LatencyPoint> {
    operations
        .iter()
        .filter_map(|operation| {
            Some(LatencyPoint {
                invoke_time: operation.invoke_time,
                latency: operation.latency()?,
                outcome: operation.outcome,
                function: operation.function.clone(),
                process: operation.process,
            })
        })
        .collect()
}

/// Latency quantiles of a group of operations, nanoseconds (nearest rank).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Quantiles {
    /// Operations in the group.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest.
    pub max: u64,
}

impl Quantiles {
    /// The quantiles of `latencies` (any order); `None` when empty.
    pub fn of(latencies: &mut [u64]) -> Option<Quantiles> {
        if latencies.is_empty() {
            return None;
        }
        latencies.sort_unstable();
        let count = latencies.len() as u64;
        // Nearest rank: the smallest value with at least `permille`/1000 of the values at or
        // below it, i.e. the ceil(p·n)-th value (1-based).
        let rank = |permille: u64| {
            let position = (permille * count).div_ceil(1000).max(1);
            latencies[(position - 1) as usize]
        };
        Some(Quantiles {
            count,
            p50: rank(500),
            p95: rank(950),
            p99: rank(990),
            max: latencies[latencies.len() - 1],
        })
    }
}

/// Latency quantiles of one function's `ok` operations invoked in one time bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QuantileBucket {
    /// The function.
    pub function: String,
    /// Bucket start, nanoseconds (inclusive).
    pub start: u64,
    /// Bucket end, nanoseconds (exclusive).
    pub end: u64,
    /// The quantiles.
    pub quantiles: Quantiles,
}

/// Latency quantiles per function and time bucket, over `ok` operations grouped by invocation
/// time. Failed and indeterminate operations are left out: their latency is a timeout or an
/// error path, not the service time (the raw latency plot shows them). Buckets without any
/// `ok` operation of a function are left out, so a gap in a line means no success. Sorted by
/// function, then time.
pub fn quantile_buckets(operations: &[Operation], width: u64) -> Vec<QuantileBucket> {
    assert!(width > 0, "bucket width must be positive");
    let mut groups: BTreeMap<(&str, u64), Vec<u64>> = BTreeMap::new();
    for operation in operations {
        if operation.outcome != Outcome::Ok {
            continue;
        }
        let Some(latency) = operation.latency() else {
            continue;
        };
        let bucket = operation.invoke_time / width;
        groups
            .entry((operation.function.as_str(), bucket))
            .or_default()
            .push(latency);
    }
    groups
        .into_iter()
        .filter_map(|((function, bucket), mut latencies)| {
            Some(QuantileBucket {
                function: function.to_string(),
                start: bucket * width,
                end: (bucket + 1) * width,
                quantiles: Quantiles::of(&mut latencies)?,
            })
        })
        .collect()
}

/// Throughput in one time bucket: operations that completed in it, by outcome.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RateBucket {
    /// Bucket start, nanoseconds (inclusive).
    pub start: u64,
    /// Bucket end, nanoseconds (exclusive).
    pub end: u64,
    /// Operations that completed `ok` in the bucket.
    pub ok: u64,
    /// Operations that completed `fail`, decided by the service.
    pub fail: u64,
    /// Operations refused: the service was unavailable.
    pub refused: u64,
    /// Operations that completed `info` (timed out).
    pub info: u64,
    /// `ok` per second of simulated time.
    pub ok_per_second: f64,
    /// `fail` per second.
    pub fail_per_second: f64,
    /// `refused` per second.
    pub refused_per_second: f64,
    /// `info` per second.
    pub info_per_second: f64,
}

/// Completions per bucket by outcome, grouped by completion time (when the client learned the
/// outcome, as Jepsen's rate plot does). Every bucket from 0 to `run_end` is present, empty
/// ones with zeros. Operations that never completed are not throughput and are left out.
pub fn rate_buckets(operations: &[Operation], width: u64, run_end: u64) -> Vec<RateBucket> {
    assert!(width > 0, "bucket width must be positive");
    let count = run_end.div_ceil(width).max(1);
    let mut counts = vec![[0u64; 4]; count as usize];
    for operation in operations {
        let Some(completion) = operation.completion_time else {
            continue;
        };
        let bucket = ((completion / width).min(count - 1)) as usize;
        counts[bucket][outcome_slot(operation.outcome)] += 1;
    }
    let seconds = width as f64 / NANOS_PER_SECOND as f64;
    counts
        .into_iter()
        .enumerate()
        .map(|(bucket, [ok, fail, refused, info])| {
            let start = bucket as u64 * width;
            RateBucket {
                start,
                end: start + width,
                ok,
                fail,
                refused,
                info,
                ok_per_second: ok as f64 / seconds,
                fail_per_second: fail as f64 / seconds,
                refused_per_second: refused as f64 / seconds,
                info_per_second: info as f64 / seconds,
            }
        })
        .collect()
}

/// Operations waiting for their outcome in one time bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WaitingBucket {
    /// Bucket start, nanoseconds.
    pub start: u64,
    /// Bucket end (exclusive), nanoseconds.
    pub end: u64,
    /// The most operations invoked and not yet completed at once during the bucket.
    pub most: u64,
}

/// How many operations were waiting (invoked, not yet completed) at once, at most, in each
/// bucket: blocked clients show as a plateau — a coordinator's crash in two-phase commit, a
/// leaderless cluster — where the rate plot shows only an absence. An operation that never
/// completed waits to the end of the run.
pub fn waiting_buckets(operations: &[Operation], width: u64, run_end: u64) -> Vec<WaitingBucket> {
    assert!(width > 0, "bucket width must be positive");
    let count = run_end.div_ceil(width).max(1);
    // (time, change): completions sort before invocations at the same instant, so an operation
    // that ends as another begins is not counted twice.
    let mut changes: Vec<(u64, i64)> = Vec::with_capacity(operations.len() * 2);
    for operation in operations {
        changes.push((operation.invoke_time, 1));
        if let Some(end) = operation.completion_time {
            changes.push((end, -1));
        }
    }
    changes.sort_unstable();
    let mut most = vec![0u64; count as usize];
    let mut waiting: i64 = 0;
    let mut next = changes.iter().peekable();
    for (bucket, slot) in most.iter_mut().enumerate() {
        let end = (bucket as u64 + 1) * width;
        // Carried in from the previous bucket.
        *slot = waiting.max(0) as u64;
        while let Some((time, change)) = next.peek() {
            if *time >= end && bucket as u64 + 1 < count {
                break;
            }
            waiting += change;
            *slot = (*slot).max(waiting.max(0) as u64);
            next.next();
        }
    }
    most.into_iter()
        .enumerate()
        .map(|(bucket, most)| {
            let start = bucket as u64 * width;
            WaitingBucket {
                start,
                end: start + width,
                most,
            }
        })
        .collect()
}

/// Availability in one time bucket: of the operations invoked in it, how many succeeded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AvailabilityBucket {
    /// Bucket start, nanoseconds (inclusive).
    pub start: u64,
    /// Bucket end, nanoseconds (exclusive).
    pub end: u64,
    /// Operations invoked in the bucket.
    pub invoked: u64,
    /// Of those, how many completed `ok`.
    pub ok: u64,
    /// Of those, how many the service answered: `ok`, or a `fail` it decided.
    pub answered: u64,
    /// `answered / invoked`; `None` when nothing was invoked (a gap in the plot, not a zero).
    pub availability: Option<f64>,
}

/// The fraction of operations the service answered (`ok`, or a `fail` it decided — a
/// compare-and-set whose expected value did not hold is an answer, not an outage), grouped by
/// invocation time so that a fault's
/// effect lines up with the fault's window (a request attempted during a partition counts
/// there, even if its timeout ends later). Every bucket from 0 to `run_end` is present.
pub fn availability_buckets(
    operations: &[Operation],
    width: u64,
    run_end: u64,
) -> Vec<AvailabilityBucket> {
    assert!(width > 0, "bucket width must be positive");
    let count = run_end.div_ceil(width).max(1);
    let mut counts = vec![(0u64, 0u64, 0u64); count as usize];
    for operation in operations {
        let bucket = ((operation.invoke_time / width).min(count - 1)) as usize;
        counts[bucket].0 += 1;
        if operation.outcome == Outcome::Ok {
            counts[bucket].1 += 1;
        }
        if operation.outcome.is_answer() {
            counts[bucket].2 += 1;
        }
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(bucket, (invoked, ok, answered))| {
            let start = bucket as u64 * width;
            AvailabilityBucket {
                start,
                end: start + width,
                invoked,
                ok,
                answered,
                availability: (invoked > 0).then(|| answered as f64 / invoked as f64),
            }
        })
        .collect()
}

fn outcome_slot(outcome: Outcome) -> usize {
    match outcome {
        Outcome::Ok => 0,
        Outcome::Fail => 1,
        Outcome::Refused => 2,
        Outcome::Info => 3,
    }
}

/// Operation counts by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OutcomeCounts {
    /// All operations (invoked).
    pub total: u64,
    /// Completed `ok`.
    pub ok: u64,
    /// Completed `fail`, decided by the service.
    pub fail: u64,
    /// Refused: the service was unavailable.
    pub refused: u64,
    /// Completed `info`, or never completed.
    pub info: u64,
}

impl OutcomeCounts {
    fn add(&mut self, outcome: Outcome) {
        self.total += 1;
        match outcome {
            Outcome::Ok => self.ok += 1,
            Outcome::Fail => self.fail += 1,
            Outcome::Refused => self.refused += 1,
            Outcome::Info => self.info += 1,
        }
    }
}

/// One function's line of the summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FunctionSummary {
    /// The function.
    pub function: String,
    /// Its operations by outcome.
    pub operations: OutcomeCounts,
    /// Latency quantiles of its `ok` operations.
    pub latency_ok: Option<Quantiles>,
}

/// The numbers of the summary table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// All client operations by outcome.
    pub operations: OutcomeCounts,
    /// Latency quantiles of all `ok` operations.
    pub latency_ok: Option<Quantiles>,
    /// Per function, sorted by name.
    pub functions: Vec<FunctionSummary>,
    /// Operations invoked inside any fault window (instant faults excluded), by outcome.
    pub during_faults: OutcomeCounts,
    /// Operations invoked outside every fault window, by outcome.
    pub outside_faults: OutcomeCounts,
    /// Time from the heal to the first `ok` completion of an operation invoked after it,
    /// nanoseconds; `None` without a heal or without such an operation.
    pub recovery_after_heal: Option<u64>,
    /// Messages sent by protocols, from the run's counters.
    pub messages_sent: u64,
    /// Events applied, from the run's counters.
    pub events: u64,
    /// Simulated (true) time the run lasted, nanoseconds.
    pub simulated_time: u64,
}

/// The summary of a run's operations and counters.
pub fn summary(data: &RunData, operations: &[Operation]) -> Summary {
    let mut counts = OutcomeCounts::default();
    let mut during_faults = OutcomeCounts::default();
    let mut outside_faults = OutcomeCounts::default();
    let mut per_function: BTreeMap<&str, (OutcomeCounts, Vec<u64>)> = BTreeMap::new();
    let mut latencies_ok = Vec::new();
    let run_end = run_end(data);
    for operation in operations {
        counts.add(operation.outcome);
        let in_fault = data.faults.iter().any(|fault| {
            let start = fault.start.as_nanos();
            let end = fault.end.map_or(run_end, |end| end.as_nanos());
            start < end && (start..end).contains(&operation.invoke_time)
        });
        if in_fault {
            during_faults.add(operation.outcome);
        } else {
            outside_faults.add(operation.outcome);
        }
        let (function_counts, function_latencies) =
            per_function.entry(operation.function.as_str()).or_default();
        function_counts.add(operation.outcome);
        if let (Outcome::Ok, Some(latency)) = (operation.outcome, operation.latency()) {
            function_latencies.push(latency);
            latencies_ok.push(latency);
        }
    }
    let recovery_after_heal = data.heal_time.and_then(|heal| {
        operations
            .iter()
            .filter(|operation| {
                operation.outcome == Outcome::Ok && operation.invoke_time >= heal.as_nanos()
            })
            .filter_map(|operation| operation.completion_time)
            .min()
            .map(|first_ok| first_ok - heal.as_nanos())
    });
    Summary {
        operations: counts,
        latency_ok: Quantiles::of(&mut latencies_ok),
        functions: per_function
            .into_iter()
            .map(|(function, (operations, mut latencies))| FunctionSummary {
                function: function.to_string(),
                operations,
                latency_ok: Quantiles::of(&mut latencies),
            })
            .collect(),
        during_faults,
        outside_faults,
        recovery_after_heal,
        messages_sent: data.stats.messages_sent,
        events: data.stats.events,
        simulated_time: data.stats.simulated_time.as_nanos(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_width_gives_at_most_fifty_buckets() {
        assert_eq!(bucket_width(10 * NANOS_PER_SECOND), 200 * NANOS_PER_MILLI);
        assert_eq!(bucket_width(30 * NANOS_PER_SECOND), NANOS_PER_SECOND);
        assert_eq!(bucket_width(60 * NANOS_PER_SECOND), 2 * NANOS_PER_SECOND);
        assert_eq!(bucket_width(NANOS_PER_MILLI), NANOS_PER_MILLI);
        // 10.001 s no longer fits fifty 200 ms buckets.
        assert_eq!(
            bucket_width(10 * NANOS_PER_SECOND + 1),
            500 * NANOS_PER_MILLI
        );
        let week = 7 * 24 * 3_600 * NANOS_PER_SECOND;
        assert!(week.div_ceil(bucket_width(week)) <= MAX_BUCKETS);
    }

    #[test]
    fn nearest_rank_quantiles_are_exact() {
        let mut latencies: Vec<u64> = (1..=100).rev().collect();
        let quantiles = Quantiles::of(&mut latencies).unwrap();
        assert_eq!(
            quantiles,
            Quantiles {
                count: 100,
                p50: 50,
                p95: 95,
                p99: 99,
                max: 100
            }
        );
        let quantiles = Quantiles::of(&mut [7]).unwrap();
        assert_eq!((quantiles.p50, quantiles.p99, quantiles.max), (7, 7, 7));
        assert_eq!(Quantiles::of(&mut []), None);
    }
}

#[cfg(test)]
mod waiting_tests {
    use super::*;
    use crate::operations::Outcome;

    fn op(invoke: u64, end: Option<u64>) -> Operation {
        Operation {
            process: 0,
            function: "read".to_string(),
            key: None,
            invoke_value: String::new(),
            completion_value: None,
            error: None,
            invoke_index: 0,
            completion_index: end.map(|_| 1),
            invoke_time: invoke,
            completion_time: end,
            outcome: if end.is_some() {
                Outcome::Ok
            } else {
                Outcome::Info
            },
            node: None,
        }
    }

    #[test]
    fn waiting_counts_the_most_at_once_and_carries_across_buckets() {
        // Buckets of 10: two overlap in the first; one is stuck from 15 to the end; one ends
        // at 30 exactly as another begins (not counted twice).
        let operations = [
            op(1, Some(4)),
            op(2, Some(8)),
            op(15, None),
            op(21, Some(30)),
            op(30, Some(33)),
        ];
        let most: Vec<u64> = waiting_buckets(&operations, 10, 40)
            .iter()
            .map(|b| b.most)
            .collect();
        assert_eq!(most, [2, 1, 2, 2]);
    }
}
