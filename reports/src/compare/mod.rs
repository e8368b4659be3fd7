//! Comparison reports: protocols side by side on identical environments.
//!
//! `detsim compare` runs every compared scenario (one protocol or protocol variant each, the
//! rest of the scenario identical) over the same seeds. For one seed every variant meets the
//! same fault schedule (the swarm's stream does not depend on the protocol), cluster, network
//! model and clocks, and — with reply-independent draws — the same client operations. This
//! module turns each run into a small [`RunMetrics`] (so a campaign of thousands of runs keeps
//! no histories), then aggregates them per variant into [`Comparison`]: medians, interquartile
//! ranges and seeded-bootstrap confidence intervals, paired differences per seed against the
//! first variant, violations, and the series behind the plots. Rendering ([`render`]) writes
//! `compare.json`, `compare.md` and `compare.html` with its SVG plots; like the run report, the
//! same inputs give the same bytes.
//!
//! Definitions (also in the README):
//! - **availability**: answers (`ok` and service-decided `fail`) over operations invoked;
//! - **throughput**: `ok` completions per simulated second;
//! - **unavailability window**: an interval longer than the gap threshold in which some
//!   operation was waiting and none completed `ok` — it starts at the later of the last `ok`
//!   and the earliest invocation still waiting, and ends at the next `ok` (or the run's end);
//! - **per-fault recovery**: for each fault window, the first unavailability window that ends
//!   after the fault began and begins before it ended (plus one gap threshold): time from the
//!   fault to the outage, and from the fault to the first `ok` after it;
//! - **heal to first ok**: from the start of the liveness phase to the first `ok` completion
//!   of an operation invoked after it.

mod plots;
pub mod stats;

use crate::operations::{Operation, Outcome};
use crate::{ReportError, ReportFile};
use serde::Serialize;
use sim::outcome::{RunData, Verdict};
use stats::Spread;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Log-spaced latency buckets per decade, for the latency CDF.
pub const BUCKETS_PER_DECADE: u32 = 20;
/// The smallest latency bucket's lower edge: 1 µs.
pub const HISTOGRAM_FLOOR: u64 = 1_000;
/// Decades the histogram spans above its floor (1 µs to 10,000 s).
pub const HISTOGRAM_DECADES: u32 = 10;
/// Points of the availability-over-time series per run.
pub const SERIES_POINTS: usize = 100;

/// The bucket of a latency (nanoseconds) in the log histogram.
fn histogram_bucket(latency: u64) -> usize {
    let value = latency.max(HISTOGRAM_FLOOR) as f64 / HISTOGRAM_FLOOR as f64;
    let bucket = (libm::log10(value) * f64::from(BUCKETS_PER_DECADE)) as usize;
    bucket.min((HISTOGRAM_DECADES * BUCKETS_PER_DECADE) as usize - 1)
}

/// The upper edge (nanoseconds) of histogram bucket `bucket`.
pub fn histogram_edge(bucket: usize) -> f64 {
    HISTOGRAM_FLOOR as f64 * libm::pow(10.0, (bucket + 1) as f64 / f64::from(BUCKETS_PER_DECADE))
}

/// One fault window and how the service fared through it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FaultRecovery {
    /// The fault's kind.
    pub kind: String,
    /// Its label in this run (`crash n2`: "leader" resolved to this run's leader).
    pub label: String,
    /// When it began, ns.
    pub start: u64,
    /// From the fault to the outage it caused, ns; `None`: no outage.
    pub to_unavailable: Option<u64>,
    /// From the fault to the first `ok` after that outage, ns.
    pub to_recovered: Option<u64>,
    /// Whether the fault hit the node that led when it began (a crash, pause or isolation of
    /// the leader).
    pub hit_leader: bool,
    /// For a fault that hit the leader: from the fault to another node leading, ns; `None`
    /// when none did before the run ended.
    pub to_new_leader: Option<u64>,
}

/// What one run contributes to a comparison.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunMetrics {
    /// The seed.
    pub seed: u64,
    /// The end of the run's time axis, ns.
    pub run_end: u64,
    /// The verdict's kind (`pass`, `safety-violation`, ...).
    pub verdict: String,
    /// The property a safety violation broke.
    pub property: Option<String>,
    /// Operations invoked.
    pub invoked: u64,
    /// Completions by class: ok, fail, refused, info.
    pub outcomes: [u64; 4],
    /// Answers over invocations.
    pub availability: Option<f64>,
    /// `ok` completions per simulated second.
    pub throughput: f64,
    /// Latency quantiles of `ok` operations, all together (`"all"`) and per function, ns.
    pub latency: BTreeMap<String, crate::Quantiles>,
    /// Messages sent per operation invoked.
    pub messages_per_operation: Option<f64>,
    /// Durable writes per operation invoked.
    pub persists_per_operation: Option<f64>,
    /// Message bytes sent per operation invoked.
    pub bytes_per_operation: Option<f64>,
    /// From healing to the first `ok` of an operation invoked after it, ns.
    pub heal_to_first_ok: Option<u64>,
    /// Unavailability windows, `(start, end)` ns.
    pub unavailable: Vec<(u64, u64)>,
    /// Per fault window.
    pub faults: Vec<FaultRecovery>,
    /// Open-loop arrivals that waited for a free client (their wait is not in the latencies).
    pub arrivals_waited: u64,
    /// Availability in each of [`SERIES_POINTS`] equal slices of the run (by completion time);
    /// `None` where nothing completed.
    #[serde(skip)]
    pub series: Vec<Option<f64>>,
    /// Counts of `ok` latencies per log bucket ([`histogram_edge`]).
    #[serde(skip)]
    pub histogram: Vec<u64>,
}

impl RunMetrics {
    /// The metrics of `data`, whose client operations are `operations`; outages are gaps with
    /// no `ok` longer than `gap` ns while an operation waited.
    pub fn of(data: &RunData, operations: &[Operation], gap: u64) -> RunMetrics {
        let run_end = crate::run_end(data);
        let mut outcomes = [0u64; 4];
        let mut by_function: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        let mut all = Vec::new();
        let mut histogram = vec![0u64; (HISTOGRAM_DECADES * BUCKETS_PER_DECADE) as usize];
        let mut slices = vec![(0u64, 0u64); SERIES_POINTS];
        for operation in operations {
            let class = Outcome::ALL
                .iter()
                .position(|o| *o == operation.outcome)
                .expect("every outcome is listed");
            if operation.completion_time.is_some() {
                outcomes[class] += 1;
            }
            if let Some(end) = operation.completion_time {
                let slice = ((u128::from(end) * SERIES_POINTS as u128) / u128::from(run_end.max(1)))
                    as usize;
                let slice = &mut slices[slice.min(SERIES_POINTS - 1)];
                slice.1 += 1;
                if operation.outcome.is_answer() {
                    slice.0 += 1;
                }
            }
            if operation.outcome == Outcome::Ok {
                let latency = operation.latency().expect("ok operations completed");
                all.push(latency);
                histogram[histogram_bucket(latency)] += 1;
                by_function
                    .entry(operation.function.clone())
                    .or_default()
                    .push(latency);
            }
        }
        let mut latency: BTreeMap<String, crate::Quantiles> = by_function
            .into_iter()
            .filter_map(|(function, mut values)| {
                crate::Quantiles::of(&mut values).map(|q| (function, q))
            })
            .collect();
        if let Some(quantiles) = crate::Quantiles::of(&mut all) {
            latency.insert("all".to_string(), quantiles);
        }
        let invoked = operations.len() as u64;
        let per_operation = |count: u64| (invoked > 0).then(|| count as f64 / invoked as f64);
        let unavailable = unavailability(operations, gap, run_end);
        let faults = data
            .faults
            .iter()
            .map(|window| {
                let start = window.start.as_nanos();
                let end = window.end.map_or(run_end, |end| end.as_nanos());
                let outage = unavailable
                    .iter()
                    .find(|(from, to)| *to > start && *from <= end.saturating_add(gap));
                let (hit_leader, to_new_leader) = leader_recovery(data, window);
                FaultRecovery {
                    hit_leader,
                    to_new_leader,
                    kind: crate::style::fault_name(window.kind).to_string(),
                    label: window.label.clone(),
                    start,
                    to_unavailable: outage.map(|(from, _)| from.saturating_sub(start)),
                    to_recovered: outage.map(|(_, to)| to - start),
                }
            })
            .collect();
        let heal_to_first_ok = data.heal_time.and_then(|heal| {
            let heal = heal.as_nanos();
            operations
                .iter()
                .filter(|o| o.outcome == Outcome::Ok && o.invoke_time >= heal)
                .filter_map(|o| o.completion_time)
                .min()
                .map(|first| first - heal)
        });
        let (verdict, property) = verdict_kind(&data.verdict);
        RunMetrics {
            seed: data.seed,
            run_end,
            verdict,
            property,
            invoked,
            outcomes,
            availability: data.stats.availability(),
            throughput: outcomes[0] as f64 / (run_end.max(1) as f64 / 1e9),
            latency,
            messages_per_operation: per_operation(data.stats.messages_sent),
            persists_per_operation: per_operation(data.stats.persists),
            bytes_per_operation: per_operation(data.stats.bytes_sent),
            heal_to_first_ok,
            unavailable,
            faults,
            arrivals_waited: data.stats.arrivals_waited,
            series: slices
                .into_iter()
                .map(|(answers, all)| (all > 0).then(|| answers as f64 / all as f64))
                .collect(),
            histogram,
        }
    }
}

/// Whether `window` hit the node leading when it began, and how long until another node led.
fn leader_recovery(data: &RunData, window: &sim::outcome::FaultWindow) -> (bool, Option<u64>) {
    let [node] = window.nodes.as_slice() else {
        return (false, None);
    };
    if !matches!(
        window.kind,
        sim::outcome::FaultKind::Crash
            | sim::outcome::FaultKind::Pause
            | sim::outcome::FaultKind::Partition
    ) {
        return (false, None);
    }
    let start = window.start;
    let leader = data
        .leaders
        .iter()
        .rev()
        .find(|change| change.time <= start);
    if leader.is_none_or(|change| change.node != *node) {
        return (false, None);
    }
    let next = data
        .leaders
        .iter()
        .find(|change| change.time >= start && change.node != *node);
    (true, next.map(|change| (change.time - start).as_nanos()))
}

/// The verdict's kind and, for a safety violation, its property.
fn verdict_kind(verdict: &Verdict) -> (String, Option<String>) {
    let kind = verdict.kind().to_string();
    let property = match verdict {
        Verdict::SafetyViolation { property, .. } => Some(property.clone()),
        _ => None,
    };
    (kind, property)
}

/// Unavailability windows of a run (see the module documentation), in time order.
pub fn unavailability(operations: &[Operation], gap: u64, run_end: u64) -> Vec<(u64, u64)> {
    let mut oks: Vec<u64> = operations
        .iter()
        .filter(|o| o.outcome == Outcome::Ok)
        .filter_map(|o| o.completion_time)
        .collect();
    oks.sort_unstable();
    oks.dedup();
    // Consecutive `ok` completions, with the start of the run before the first and its end
    // after the last.
    let mut bounds = Vec::with_capacity(oks.len() + 2);
    bounds.push(0);
    bounds.extend(oks.iter().copied());
    bounds.push(run_end.max(*bounds.last().expect("one bound")));
    let mut windows = Vec::new();
    for pair in bounds.windows(2) {
        let (last_ok, next_ok) = (pair[0], pair[1]);
        if next_ok - last_ok <= gap {
            continue;
        }
        // The earliest invocation still waiting after the last ok: the outage starts then.
        let waiting = operations
            .iter()
            .filter(|o| o.invoke_time < next_ok && o.completion_time.is_none_or(|e| e > last_ok))
            .map(|o| o.invoke_time)
            .min();
        if let Some(invoked) = waiting {
            let start = invoked.max(last_ok);
            if next_ok - start > gap {
                windows.push((start, next_ok));
            }
        }
    }
    windows
}

/// One compared variant: its label and every run's metrics, in seed order.
#[derive(Clone, Debug)]
pub struct Variant {
    /// How the report names it (the scenario's name, or its protocol and bug).
    pub label: String,
    /// The protocol.
    pub protocol: String,
    /// The scenario file it came from.
    pub file: String,
    /// Its `[protocol]` section as TOML (options fixed across seeds).
    pub protocol_section: String,
    /// One entry per seed, in seed order.
    pub runs: Vec<RunMetrics>,
}

/// A metric, summarized across seeds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricSummary {
    /// The metric's name.
    pub metric: String,
    /// Its unit.
    pub unit: String,
    /// Median, quartiles and the median's 95% bootstrap interval, per variant (in variant
    /// order); `None` where no run had a value.
    pub per_variant: Vec<Option<Spread>>,
    /// Per variant after the first: the median of the per-seed differences against the first
    /// variant, with its 95% bootstrap interval (seeds where both have a value).
    pub paired: Vec<Option<Spread>>,
}

/// Violations of one variant across seeds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Violations {
    /// Runs by verdict kind.
    pub verdicts: BTreeMap<String, u64>,
    /// Safety violations by property.
    pub properties: BTreeMap<String, u64>,
    /// The lowest failing seed, if any.
    pub first_failing_seed: Option<u64>,
}

/// How a fault aimed at `"leader"` (or `"random"`) resolved, per variant, for one seed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Resolution {
    /// The seed.
    pub seed: u64,
    /// The fault's start, ns.
    pub start: u64,
    /// The label in each variant's run, in variant order.
    pub labels: Vec<String>,
}

/// Recovery times of one fault kind, per variant.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecoveryByKind {
    /// The fault kind.
    pub kind: String,
    /// Fault windows of that kind, per variant.
    pub faults: Vec<u64>,
    /// How many of them caused an outage, per variant.
    pub outages: Vec<u64>,
    /// Time from fault to first `ok` after its outage, per variant.
    pub to_recovered: Vec<Option<Spread>>,
    /// Faults of the kind that hit the leader, per variant.
    pub leader_faults: Vec<u64>,
    /// For those: time from fault to another node leading, per variant.
    pub to_new_leader: Vec<Option<Spread>>,
}

/// The whole comparison.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// The seeds, `A..B`.
    pub seeds: String,
    /// The gap threshold of unavailability windows, ns.
    pub gap: u64,
    /// The longest run's end, ns (the time axis of the plots).
    pub run_end: u64,
    /// Variant labels, in order.
    pub variants: Vec<String>,
    /// Each variant's protocol and `[protocol]` section.
    pub protocols: Vec<(String, String)>,
    /// Every metric.
    pub metrics: Vec<MetricSummary>,
    /// Violations per variant.
    pub violations: Vec<Violations>,
    /// Recovery by fault kind.
    pub recovery: Vec<RecoveryByKind>,
    /// Faults whose label differs between variants for one seed (a `"leader"` resolved to
    /// different nodes), at most 50.
    pub resolutions: Vec<Resolution>,
    /// Mean availability per slice of the run, with the 10th and 90th percentiles across
    /// seeds, per variant.
    pub availability_series: Vec<Vec<Option<(f64, f64, f64)>>>,
    /// The latency CDF of all `ok` operations of all seeds, per variant: `(upper edge ns,
    /// cumulative fraction)` at each non-empty bucket.
    pub latency_cdf: Vec<Vec<(f64, f64)>>,
    /// Per-seed metrics of every variant.
    pub runs: Vec<Vec<RunMetrics>>,
    /// The load sweep, per variant: one point per offered rate (empty without a sweep).
    pub load: Vec<Vec<LoadPoint>>,
}

/// One offered load of a sweep, for one variant: the achieved throughput and latency across
/// seeds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LoadPoint {
    /// Operations per second per client asked of the workload.
    pub rate: u32,
    /// Operations per second offered in all.
    pub offered: f64,
    /// `ok` per second achieved.
    pub throughput: Option<Spread>,
    /// Median latency of `ok` operations, ms.
    pub p50: Option<Spread>,
    /// 99th-percentile latency of `ok` operations, ms.
    pub p99: Option<Spread>,
    /// Availability, %.
    pub availability: Option<Spread>,
    /// Arrivals that waited for a free client, per operation invoked, % (open loop: a wait
    /// the latencies do not include; over 100% when the backlog outgrows what was invoked).
    pub waited: Option<Spread>,
    /// Whether this load is past the knee ([`mark_knee`]).
    pub saturated: bool,
}

impl LoadPoint {
    /// The point for `runs` at `rate` per client, `offered` in all.
    pub fn of(rate: u32, offered: f64, runs: &[RunMetrics]) -> LoadPoint {
        let spread =
            |extract: Extract| Spread::of(&runs.iter().filter_map(extract).collect::<Vec<_>>());
        LoadPoint {
            rate,
            offered,
            throughput: spread(|m| Some(m.throughput)),
            p50: spread(|m| quantile(m, |q| q.p50)),
            p99: spread(|m| quantile(m, |q| q.p99)),
            availability: spread(|m| m.availability.map(|a| a * 100.0)),
            waited: spread(|m| {
                (m.invoked > 0).then(|| 100.0 * m.arrivals_waited as f64 / m.invoked as f64)
            }),
            saturated: false,
        }
    }
}

/// Marks the points past the knee (see [`LoadPoint::saturated`]), in order of rising load,
/// and returns the knee: the highest offered load before the first saturated point.
///
/// Throughput is judged relative to the lightest load's yield (its `ok` per second over the
/// load offered), which already accounts for decided `fail`s and the run's tail without new
/// operations; latency relative to the lowest p99 seen at a lighter or equal load (the
/// lightest loads' p99 can be dominated by the first election).
pub fn mark_knee(points: &mut [LoadPoint]) -> Option<f64> {
    points.sort_by_key(|p| p.rate);
    let yield_of = |p: &LoadPoint| p.throughput.map_or(0.0, |s| s.median) / p.offered.max(1e-9);
    let base_yield = points.first().map_or(0.0, yield_of);
    let mut lowest_p99 = f64::INFINITY;
    let mut knee = None;
    let mut past = false;
    for point in points.iter_mut() {
        let p99 = point.p99.map_or(f64::INFINITY, |s| s.median);
        lowest_p99 = lowest_p99.min(p99);
        past = past || yield_of(point) < 0.9 * base_yield || p99 > 2.0 * lowest_p99;
        point.saturated = past;
        if !past {
            knee = Some(point.offered);
        }
    }
    knee
}

/// The metrics compared, with how each is read from a run.
type Extract = fn(&RunMetrics) -> Option<f64>;

/// A latency quantile of all `ok` operations, in ms.
fn quantile(m: &RunMetrics, q: fn(&crate::Quantiles) -> u64) -> Option<f64> {
    m.latency.get("all").map(|l| q(l) as f64 / 1e6)
}

fn metric_table() -> Vec<(&'static str, &'static str, Extract)> {
    vec![
        ("availability", "%", |m| m.availability.map(|a| a * 100.0)),
        ("throughput", "ok/s", |m| Some(m.throughput)),
        ("latency p50", "ms", |m| quantile(m, |q| q.p50)),
        ("latency p99", "ms", |m| quantile(m, |q| q.p99)),
        ("latency max", "ms", |m| quantile(m, |q| q.max)),
        ("messages per operation", "", |m| m.messages_per_operation),
        ("durable writes per operation", "", |m| {
            m.persists_per_operation
        }),
        ("message bytes per operation", "B", |m| {
            m.bytes_per_operation
        }),
        ("unavailable time", "ms", |m| {
            Some(m.unavailable.iter().map(|(a, b)| b - a).sum::<u64>() as f64 / 1e6)
        }),
        ("outages", "", |m| Some(m.unavailable.len() as f64)),
        ("heal to first ok", "ms", |m| {
            m.heal_to_first_ok.map(|t| t as f64 / 1e6)
        }),
        ("new leader after a leader fault", "ms", |m| {
            let mut times: Vec<f64> = (m.faults.iter())
                .filter_map(|f| f.to_new_leader.map(|t| t as f64 / 1e6))
                .collect();
            times.sort_by(f64::total_cmp);
            (!times.is_empty()).then(|| stats::quantile_sorted(&times, 0.5))
        }),
    ]
}

impl Comparison {
    /// Aggregates `variants` (each with one run per seed, all in the same seed order).
    pub fn of(variants: &[Variant], seeds: String, gap: u64) -> Comparison {
        let metrics = metric_table()
            .into_iter()
            .map(|(name, unit, extract)| summarize(variants, name, unit, extract))
            .collect();
        let violations = variants.iter().map(violations_of).collect();
        let mut kinds: Vec<String> = variants
            .iter()
            .flat_map(|v| {
                v.runs
                    .iter()
                    .flat_map(|r| r.faults.iter().map(|f| f.kind.clone()))
            })
            .collect();
        kinds.sort();
        kinds.dedup();
        let recovery = kinds
            .into_iter()
            .map(|kind| recovery_of(variants, kind))
            .collect();
        Comparison {
            seeds,
            gap,
            run_end: (variants
                .iter()
                .flat_map(|v| v.runs.iter().map(|r| r.run_end)))
            .max()
            .unwrap_or(0),
            variants: variants.iter().map(|v| v.label.clone()).collect(),
            protocols: variants
                .iter()
                .map(|v| (v.protocol.clone(), v.protocol_section.clone()))
                .collect(),
            metrics,
            violations,
            recovery,
            resolutions: resolutions_of(variants),
            availability_series: variants.iter().map(series_of).collect(),
            latency_cdf: variants.iter().map(cdf_of).collect(),
            runs: variants.iter().map(|v| v.runs.clone()).collect(),
            load: Vec::new(),
        }
    }
}

fn summarize(variants: &[Variant], name: &str, unit: &str, extract: Extract) -> MetricSummary {
    let values: Vec<Vec<Option<f64>>> = variants
        .iter()
        .map(|v| v.runs.iter().map(extract).collect())
        .collect();
    let per_variant = values
        .iter()
        .map(|runs| Spread::of(&runs.iter().flatten().copied().collect::<Vec<_>>()))
        .collect();
    let paired = values
        .iter()
        .skip(1)
        .map(|runs| {
            let differences: Vec<f64> = runs
                .iter()
                .zip(&values[0])
                .filter_map(|(value, base)| Some((*value)? - (*base)?))
                .collect();
            Spread::of(&differences)
        })
        .collect();
    MetricSummary {
        metric: name.to_string(),
        unit: unit.to_string(),
        per_variant,
        paired,
    }
}

fn violations_of(variant: &Variant) -> Violations {
    let mut verdicts = BTreeMap::new();
    let mut properties = BTreeMap::new();
    let mut first_failing_seed = None;
    for run in &variant.runs {
        *verdicts.entry(run.verdict.clone()).or_insert(0) += 1;
        if let Some(property) = &run.property {
            *properties.entry(property.clone()).or_insert(0) += 1;
        }
        if run.verdict != "pass" && first_failing_seed.is_none() {
            first_failing_seed = Some(run.seed);
        }
    }
    Violations {
        verdicts,
        properties,
        first_failing_seed,
    }
}

fn recovery_of(variants: &[Variant], kind: String) -> RecoveryByKind {
    let mut faults = Vec::new();
    let mut outages = Vec::new();
    let mut to_recovered = Vec::new();
    let mut leader_faults = Vec::new();
    let mut to_new_leader = Vec::new();
    for variant in variants {
        let windows: Vec<&FaultRecovery> = variant
            .runs
            .iter()
            .flat_map(|r| r.faults.iter().filter(|f| f.kind == kind))
            .collect();
        faults.push(windows.len() as u64);
        outages.push(
            windows
                .iter()
                .filter(|f| f.to_unavailable.is_some())
                .count() as u64,
        );
        let times: Vec<f64> = windows
            .iter()
            .filter_map(|f| f.to_recovered.map(|t| t as f64 / 1e6))
            .collect();
        to_recovered.push(Spread::of(&times));
        leader_faults.push(windows.iter().filter(|f| f.hit_leader).count() as u64);
        let elections: Vec<f64> = windows
            .iter()
            .filter_map(|f| f.to_new_leader.map(|t| t as f64 / 1e6))
            .collect();
        to_new_leader.push(Spread::of(&elections));
    }
    RecoveryByKind {
        kind,
        faults,
        outages,
        to_recovered,
        leader_faults,
        to_new_leader,
    }
}

fn resolutions_of(variants: &[Variant]) -> Vec<Resolution> {
    let mut resolutions = Vec::new();
    let Some(first) = variants.first() else {
        return resolutions;
    };
    for (index, run) in first.runs.iter().enumerate() {
        // A scheduled fault opens its window at its own time in every run where it applied (a
        // crash of a node already down opens none): windows are matched by start and kind.
        let mut starts: Vec<(u64, &str)> = variants
            .iter()
            .filter_map(|v| v.runs.get(index))
            .flat_map(|r| r.faults.iter().map(|f| (f.start, f.kind.as_str())))
            .collect();
        starts.sort_unstable();
        starts.dedup();
        for (start, kind) in starts {
            let labels: Vec<String> = variants
                .iter()
                .map(|v| {
                    (v.runs.get(index).into_iter())
                        .flat_map(|r| r.faults.iter())
                        .find(|f| f.start == start && f.kind == kind)
                        .map_or_else(|| "(no effect)".to_string(), |f| f.label.clone())
                })
                .collect();
            if labels.iter().any(|label| *label != labels[0]) && resolutions.len() < 50 {
                resolutions.push(Resolution {
                    seed: run.seed,
                    start,
                    labels,
                });
            }
        }
    }
    resolutions
}

fn series_of(variant: &Variant) -> Vec<Option<(f64, f64, f64)>> {
    (0..SERIES_POINTS)
        .map(|slice| {
            let mut values: Vec<f64> = variant
                .runs
                .iter()
                .filter_map(|r| r.series.get(slice).copied().flatten())
                .collect();
            if values.is_empty() {
                return None;
            }
            values.sort_by(f64::total_cmp);
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            Some((
                mean,
                stats::quantile_sorted(&values, 0.1),
                stats::quantile_sorted(&values, 0.9),
            ))
        })
        .collect()
}

fn cdf_of(variant: &Variant) -> Vec<(f64, f64)> {
    let mut total = vec![0u64; (HISTOGRAM_DECADES * BUCKETS_PER_DECADE) as usize];
    for run in &variant.runs {
        for (bucket, count) in run.histogram.iter().enumerate() {
            total[bucket] += count;
        }
    }
    let sum: u64 = total.iter().sum();
    let mut cumulative = 0;
    let mut cdf = Vec::new();
    for (bucket, count) in total.iter().enumerate() {
        if *count == 0 {
            continue;
        }
        cumulative += count;
        cdf.push((histogram_edge(bucket), cumulative as f64 / sum as f64));
    }
    cdf
}

/// The comparison's files: `compare.json`, `compare.md`, `compare.html` and its plots.
pub fn render(comparison: &Comparison) -> Result<Vec<ReportFile>, ReportError> {
    let json = serde_json::to_string_pretty(comparison).map_err(|error| ReportError::Plot {
        file: "compare.json".to_string(),
        message: error.to_string(),
    })?;
    let mut files = vec![
        ReportFile {
            name: "compare.json".to_string(),
            contents: json.into_bytes(),
        },
        ReportFile {
            name: "compare.md".to_string(),
            contents: markdown(comparison).into_bytes(),
        },
    ];
    let plots = plots::render(comparison)?;
    files.push(ReportFile {
        name: "compare.html".to_string(),
        contents: html(comparison, &plots).into_bytes(),
    });
    files.extend(plots);
    Ok(files)
}

fn cell(spread: &Option<Spread>) -> String {
    match spread {
        Some(s) => format!(
            "{} [{} – {}] (IQR {} – {})",
            number(s.median),
            number(s.ci_low),
            number(s.ci_high),
            number(s.q1),
            number(s.q3)
        ),
        None => "–".to_string(),
    }
}

/// A number with three significant decimals at most, the same on every machine.
fn number(value: f64) -> String {
    if value.abs() >= 100.0 {
        format!("{value:.1}")
    } else if value.abs() >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

/// The tables as Markdown, for a paper or a pull request.
pub fn markdown(comparison: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Comparison over seeds {}\n", comparison.seeds);
    let _ = writeln!(
        out,
        "Each cell: median [95% bootstrap interval of the median] (interquartile range), across \
         seeds. Differences are paired per seed against `{}`.\n",
        comparison.variants.first().map_or("", String::as_str)
    );
    let header: Vec<String> = comparison
        .variants
        .iter()
        .map(|v| format!("`{v}`"))
        .collect();
    let _ = writeln!(out, "| metric | {} |", header.join(" | "));
    let _ = writeln!(out, "|---|{}", "---|".repeat(comparison.variants.len()));
    for metric in &comparison.metrics {
        let unit = if metric.unit.is_empty() {
            String::new()
        } else {
            format!(" ({})", metric.unit)
        };
        let cells: Vec<String> = metric.per_variant.iter().map(cell).collect();
        let _ = writeln!(out, "| {}{unit} | {} |", metric.metric, cells.join(" | "));
    }
    if comparison.variants.len() > 1 {
        let _ = writeln!(
            out,
            "\n## Paired differences (variant − `{}`)\n",
            comparison.variants[0]
        );
        let _ = writeln!(out, "| metric | {} |", header[1..].join(" | "));
        let _ = writeln!(out, "|---|{}", "---|".repeat(comparison.variants.len() - 1));
        for metric in &comparison.metrics {
            let cells: Vec<String> = metric.paired.iter().map(cell).collect();
            let _ = writeln!(out, "| {} | {} |", metric.metric, cells.join(" | "));
        }
    }
    let _ = writeln!(out, "\n## Verdicts\n");
    let _ = writeln!(
        out,
        "| variant | verdicts | violated properties | first failing seed |"
    );
    let _ = writeln!(out, "|---|---|---|---|");
    for (label, violations) in comparison.variants.iter().zip(&comparison.violations) {
        let join = |map: &BTreeMap<String, u64>| {
            map.iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "| `{label}` | {} | {} | {} |",
            join(&violations.verdicts),
            if violations.properties.is_empty() {
                "–".to_string()
            } else {
                join(&violations.properties)
            },
            violations
                .first_failing_seed
                .map_or("–".to_string(), |s| s.to_string())
        );
    }
    if !comparison.recovery.is_empty() {
        let _ = writeln!(
            out,
            "\n## Recovery by fault kind\n\nFaults (outages they caused): time from the fault to \
             the first `ok` after its outage, ms.\n"
        );
        let _ = writeln!(out, "| fault | {} |", header.join(" | "));
        let _ = writeln!(out, "|---|{}", "---|".repeat(comparison.variants.len()));
        for kind in &comparison.recovery {
            let cells: Vec<String> = (0..comparison.variants.len())
                .map(|i| {
                    format!(
                        "{} ({}): {}",
                        kind.faults[i],
                        kind.outages[i],
                        cell(&kind.to_recovered[i])
                    )
                })
                .collect();
            let _ = writeln!(out, "| {} | {} |", kind.kind, cells.join(" | "));
        }
        let leader_kinds: Vec<&RecoveryByKind> = (comparison.recovery.iter())
            .filter(|k| k.leader_faults.iter().any(|n| *n > 0))
            .collect();
        if !leader_kinds.is_empty() {
            let _ = writeln!(
                out,
                "\n## A new leader after a fault on the leader\n\nFaults that hit the node \
                 leading when they began: time until another node led (from the nodes' own \
                 views), ms.\n"
            );
            let _ = writeln!(out, "| fault | {} |", header.join(" | "));
            let _ = writeln!(out, "|---|{}", "---|".repeat(comparison.variants.len()));
            for kind in leader_kinds {
                let cells: Vec<String> = (0..comparison.variants.len())
                    .map(|i| {
                        format!(
                            "{}: {}",
                            kind.leader_faults[i],
                            cell(&kind.to_new_leader[i])
                        )
                    })
                    .collect();
                let _ = writeln!(out, "| {} | {} |", kind.kind, cells.join(" | "));
            }
        }
    }
    if comparison.load.iter().any(|points| !points.is_empty()) {
        let _ = writeln!(
            out,
            "\n## Load sweep\n\nOffered load against achieved `ok` throughput and latency \
             (medians across seeds). A load is past the knee (*) when its yield (`ok` per second \
             over the load offered) falls under 90% of the lightest load's, or its p99 latency \
             exceeds twice the lowest p99 of the lighter loads.\n"
        );
        let _ = writeln!(
            out,
            "| variant | offered (op/s) | ok/s | p50 (ms) | p99 (ms) | availability (%) | waited / invoked (%) |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|");
        let median = |s: &Option<Spread>| s.map_or("–".to_string(), |s| number(s.median));
        for (label, points) in comparison.variants.iter().zip(&comparison.load) {
            for point in points {
                let _ = writeln!(
                    out,
                    "| `{label}` | {}{} | {} | {} | {} | {} | {} |",
                    number(point.offered),
                    if point.saturated { " *" } else { "" },
                    median(&point.throughput),
                    median(&point.p50),
                    median(&point.p99),
                    median(&point.availability),
                    median(&point.waited)
                );
            }
        }
        let _ = writeln!(out);
        for (label, points) in comparison.variants.iter().zip(&comparison.load) {
            let knee = points
                .iter()
                .rev()
                .find(|p| !p.saturated)
                .map(|p| p.offered);
            let reached = points.iter().any(|p| p.saturated);
            let text = match (knee, reached) {
                (None, _) => "below the lightest load".to_string(),
                (Some(k), true) => format!("{} op/s", number(k)),
                (Some(k), false) => format!("not reached (at least {} op/s)", number(k)),
            };
            let _ = writeln!(out, "Knee of `{label}`: {text}.");
        }
    }
    if !comparison.resolutions.is_empty() {
        let _ = writeln!(
            out,
            "\n## Faults that resolved differently\n\nA fault aimed at `\"leader\"` or \
             `\"random\"` resolves against each run's own cluster:\n"
        );
        let _ = writeln!(out, "| seed | at (s) | {} |", header.join(" | "));
        let _ = writeln!(out, "|---|---|{}", "---|".repeat(comparison.variants.len()));
        for resolution in &comparison.resolutions {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                resolution.seed,
                crate::format::seconds(resolution.start),
                resolution.labels.join(" | ")
            );
        }
    }
    out
}

fn html(comparison: &Comparison, plots: &[ReportFile]) -> String {
    use crate::format::html as escape;
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>detsim \
         comparison, seeds {}</title>\n<style>{}</style>\n</head>\n<body>\n<h1>Comparison over \
         seeds {}</h1>\n",
        escape(&comparison.seeds),
        STYLE,
        escape(&comparison.seeds)
    );
    let _ = writeln!(
        out,
        "<p>Every variant met the same fault schedule, cluster, network, clocks and client \
         operations for each seed. Cells: median [95% bootstrap interval] (interquartile range) \
         across seeds; unavailability windows are gaps of more than {} with an operation \
         waiting and no <code>ok</code>. Data: <a href=\"compare.json\">compare.json</a>, \
         tables: <a href=\"compare.md\">compare.md</a>.</p>",
        escape(&crate::format::duration(comparison.gap))
    );
    let _ = writeln!(
        out,
        "<h2>Variants</h2>\n<table><tr><th>variant</th><th>protocol</th><th>[protocol]</th></tr>"
    );
    for (label, (protocol, section)) in comparison.variants.iter().zip(&comparison.protocols) {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td><pre>{}</pre></td></tr>",
            escape(label),
            escape(protocol),
            escape(section)
        );
    }
    let _ = writeln!(out, "</table>");
    let mut in_table = false;
    for line in markdown(comparison).lines() {
        if let Some(title) = line.strip_prefix("## ") {
            if in_table {
                let _ = writeln!(out, "</table>");
                in_table = false;
            }
            let _ = writeln!(out, "<h2>{}</h2>", escape(&title.replace('`', "")));
        } else if line.starts_with("|---") || line.starts_with("# ") {
            continue;
        } else if let Some(row) = line.strip_prefix("| ") {
            let cells: Vec<String> = row
                .trim_end_matches(" |")
                .split(" | ")
                .map(|c| escape(&c.replace('`', "")))
                .collect();
            let tag = if in_table { "td" } else { "th" };
            if !in_table {
                let _ = writeln!(out, "<table>");
                in_table = true;
            }
            let _ = writeln!(
                out,
                "<tr>{}</tr>",
                cells
                    .iter()
                    .map(|c| format!("<{tag}>{c}</{tag}>"))
                    .collect::<String>()
            );
        } else if !line.is_empty() {
            if in_table {
                let _ = writeln!(out, "</table>");
                in_table = false;
            }
            let _ = writeln!(out, "<p>{}</p>", escape(&line.replace('`', "")));
        }
    }
    if in_table {
        let _ = writeln!(out, "</table>");
    }
    let _ = writeln!(out, "<h2>Plots</h2>");
    for plot in plots {
        let _ = writeln!(
            out,
            "<figure><img src=\"{}\" alt=\"{}\"></figure>",
            escape(&plot.name),
            escape(&plot.name)
        );
    }
    let _ = writeln!(out, "</body>\n</html>");
    out
}

const STYLE: &str = "body{font-family:'DejaVu Sans',sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;\
font-size:13px;text-align:left;vertical-align:top}th{background:#f3f3f3}pre{margin:0}\
figure{margin:1em 0}img{max-width:100%}";

#[cfg(test)]
mod tests {
    use super::*;

    fn operation(invoke: u64, end: Option<u64>, outcome: Outcome) -> Operation {
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
            outcome,
            node: None,
        }
    }

    #[test]
    fn an_outage_starts_when_an_operation_waits_and_ends_at_the_next_ok() {
        let operations = [
            operation(0, Some(10), Outcome::Ok),
            // Idle from 10 to 500: no one waits, so no outage.
            operation(500, Some(510), Outcome::Ok),
            // Waits from 600 (refused at 650, retried) until an ok at 2,000.
            operation(600, Some(650), Outcome::Refused),
            operation(700, Some(2_000), Outcome::Ok),
            operation(2_050, Some(2_060), Outcome::Ok),
        ];
        assert_eq!(unavailability(&operations, 100, 2_100), vec![(600, 2_000)]);
        // A run that ends while an operation waits ends in an outage.
        let stuck = [
            operation(0, Some(10), Outcome::Ok),
            operation(20, None, Outcome::Info),
        ];
        assert_eq!(unavailability(&stuck, 100, 1_000), vec![(20, 1_000)]);
    }

    #[test]
    fn a_fault_on_the_leader_is_timed_to_the_next_leader() {
        let run = crate::sample::sample_run();
        let mut operations = crate::operations(&run.history.to_history()).unwrap();
        crate::operations::mark_refused(&mut operations, &run.history);
        let metrics = RunMetrics::of(&run, &operations, 50_000_000);
        // The sample isolates n0 (leading since 50 ms) at 2 s; n1 leads from 2.3 s.
        let isolate = &metrics.faults[0];
        assert!(isolate.hit_leader);
        assert_eq!(isolate.to_new_leader, Some(300_000_000));
        // Crashing n1 at 6 s hits the leader too, and no one leads after it in the sample.
        let crash = &metrics.faults[2];
        assert!(crash.hit_leader);
        assert_eq!(crash.to_new_leader, None);
        // A pause of n2, a follower, is not a leader fault.
        assert!(!metrics.faults[3].hit_leader);
    }

    fn point(rate: u32, throughput: f64, p99: f64) -> LoadPoint {
        let spread = |v| Spread::of(&[v]);
        LoadPoint {
            rate,
            offered: f64::from(rate) * 10.0,
            throughput: spread(throughput),
            p50: spread(p99 / 3.0),
            p99: spread(p99),
            availability: spread(100.0),
            waited: spread(0.0),
            saturated: false,
        }
    }

    #[test]
    fn the_knee_is_the_last_load_before_yield_or_latency_gives_way() {
        // Yield 0.7 (decided fails) at every load until 80/s per client; the slow first p99
        // (an election) does not count against later loads.
        let mut points = vec![
            point(10, 70.0, 120.0),
            point(20, 140.0, 15.0),
            point(40, 280.0, 16.0),
            point(80, 400.0, 17.0),
            point(160, 410.0, 18.0),
        ];
        assert_eq!(mark_knee(&mut points), Some(400.0));
        let saturated: Vec<bool> = points.iter().map(|p| p.saturated).collect();
        assert_eq!(saturated, [false, false, false, true, true]);
        // Latency alone: p99 more than twice the lowest seen.
        let mut points = vec![point(10, 70.0, 10.0), point(20, 140.0, 25.0)];
        assert_eq!(mark_knee(&mut points), Some(100.0));
        assert!(points[1].saturated);
    }

    #[test]
    fn the_histogram_edges_bracket_their_latencies() {
        for latency in [1_000u64, 1_500, 2_000_000, 999_999_999, 5_000_000_000] {
            let bucket = histogram_bucket(latency);
            assert!(histogram_edge(bucket) >= latency as f64, "{latency}");
            if bucket > 0 {
                assert!(
                    histogram_edge(bucket - 1) <= latency as f64 * 1.0001,
                    "{latency}"
                );
            }
        }
    }
}
