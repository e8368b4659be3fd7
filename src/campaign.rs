//! What a fuzz campaign is made of: a seed range, an optional shard of it, one result line per
//! seed, and the tally printed at the end.
//!
//! Everything here is a pure function of its inputs, so that a campaign's `results.jsonl` is the
//! same bytes whatever the number of jobs, and shards run on different machines merge into the
//! file one machine would have written.

use serde::{Deserialize, Serialize};
use sim::outcome::RunData;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The most seeds one range may name; a typo like `0..1e20` should fail early, not run forever.
pub const SEEDS_MAX: u64 = 1 << 40;

/// `--seeds A..B` (B excluded) or `A..=B` (B included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedRange {
    /// The first seed.
    pub start: u64,
    /// One past the last seed.
    pub end: u64,
}

impl FromStr for SeedRange {
    type Err = String;

    fn from_str(text: &str) -> Result<SeedRange, String> {
        let invalid = |why: &str| format!("--seeds {text:?}: {why} (expected A..B or A..=B)");
        let (start, end, inclusive) = if let Some((a, b)) = text.split_once("..=") {
            (a, b, true)
        } else if let Some((a, b)) = text.split_once("..") {
            (a, b, false)
        } else {
            return Err(invalid("no `..`"));
        };
        let number = |part: &str, which: &str| {
            part.trim()
                .parse::<u64>()
                .map_err(|_| invalid(&format!("{which} {part:?} is not a whole number")))
        };
        let start = number(start, "start")?;
        let mut end = number(end, "end")?;
        if inclusive {
            end = end
                .checked_add(1)
                .ok_or_else(|| invalid("end is too large"))?;
        }
        if end <= start {
            return Err(invalid("the range is empty"));
        }
        if end - start > SEEDS_MAX {
            return Err(invalid(&format!("more than {SEEDS_MAX} seeds")));
        }
        Ok(SeedRange { start, end })
    }
}

impl fmt::Display for SeedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// `--shard I/N`: this process runs the seeds with `seed % N == I`.
///
/// Striping by remainder (rather than contiguous blocks) keeps shards equally loaded even when
/// seed cost drifts along the range, and needs no knowledge of the range to split it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard's index, `0..count`.
    pub index: u64,
    /// How many shards there are.
    pub count: u64,
}

impl Shard {
    /// The seeds of `range` in this shard, in increasing order.
    pub fn seeds(self, range: SeedRange) -> impl Iterator<Item = u64> {
        // The first seed at or after `start` with the right remainder, then every `count`-th.
        let offset = (self.index + self.count - range.start % self.count) % self.count;
        let first = range.start.saturating_add(offset);
        let end = range.end;
        (0..)
            .map(move |k: u64| first.saturating_add(k.saturating_mul(self.count)))
            .take_while(move |&seed| seed < end && seed >= first)
    }

    /// How many seeds of `range` this shard runs.
    pub fn count_in(self, range: SeedRange) -> u64 {
        let below = |n: u64| n / self.count + u64::from(n % self.count > self.index);
        below(range.end) - below(range.start)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let invalid = |why: &str| format!("--shard {text:?}: {why} (expected I/N with I < N)");
        let (index, count) = text.split_once('/').ok_or_else(|| invalid("no `/`"))?;
        let index: u64 = index
            .trim()
            .parse()
            .map_err(|_| invalid("I is not a whole number"))?;
        let count: u64 = count
            .trim()
            .parse()
            .map_err(|_| invalid("N is not a whole number"))?;
        if count == 0 {
            return Err(invalid("N must be at least 1"));
        }
        if index >= count {
            return Err(invalid("I must be below N"));
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// One line of `results.jsonl`: everything reproducible about one seed's run (no wall time).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultLine {
    /// The seed.
    pub seed: u64,
    /// The verdict kind: `pass`, `safety-violation`, `liveness-timeout`, ...
    pub verdict: String,
    /// The trace fingerprint.
    pub fingerprint: String,
    /// Events applied.
    pub events: u64,
    /// Client operations invoked.
    pub ops: u64,
    /// Operations that completed `ok`.
    pub ok: u64,
    /// Operations that completed `fail`, decided by the service.
    pub fail: u64,
    /// Operations refused: the service was unavailable (written `fail` in the history).
    #[serde(default)]
    pub refused: u64,
    /// Operations whose outcome is unknown (`info`).
    pub info: u64,
    /// Faults in the seed's expanded schedule.
    pub faults: u64,
    /// Messages sent by the protocol.
    pub messages: u64,
    /// The scenario's name.
    pub scenario: String,
    /// The verdict in words, for failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The cells of the coverage table this run reached, `kind: activity` (which kind of
    /// fault hit the protocol doing what), sorted, each once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coverage: Vec<String>,
}

impl ResultLine {
    /// The line for one run whose expanded schedule had `fault_count` faults.
    pub fn from_run(data: &RunData, fault_count: usize) -> ResultLine {
        let stats = &data.stats;
        ResultLine {
            seed: data.seed,
            verdict: data.verdict.kind().to_string(),
            fingerprint: data.fingerprint.clone(),
            events: stats.events,
            ops: invocations(data),
            ok: stats.operations_ok,
            fail: stats.operations_fail,
            refused: stats.operations_refused,
            info: stats.operations_info,
            faults: fault_count as u64,
            messages: stats.messages_sent,
            scenario: data.scenario.clone(),
            detail: (!data.verdict.is_pass()).then(|| data.verdict.to_string()),
            coverage: coverage_cells(data),
        }
    }

    /// Whether the seed passed.
    pub fn passed(&self) -> bool {
        self.verdict == "pass"
    }

    /// The line as JSON, newline-terminated.
    pub fn to_json_line(&self) -> String {
        let mut line = serde_json::to_string(self).expect("a result line serializes");
        line.push('\n');
        line
    }
}

/// The coverage cells a run reached: `kind: activity` for each fault window, sorted, each once.
pub fn coverage_cells(data: &RunData) -> Vec<String> {
    let mut cells: Vec<String> = data
        .faults
        .iter()
        .filter_map(|window| {
            let activity = window.activity.as_ref()?;
            Some(format!(
                "{}: {activity}",
                reports::style::fault_name(window.kind)
            ))
        })
        .collect();
    cells.sort();
    cells.dedup();
    cells
}

/// A campaign's statistics beyond the tally: verdicts, faults per seed, and the coverage
/// table (the share of seeds in which each kind of fault hit the protocol in each activity).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CampaignSummary {
    /// Seeds run.
    pub seeds: u64,
    /// Seeds by verdict kind.
    pub verdicts: BTreeMap<String, u64>,
    /// Seeds by the number of faults in their schedule.
    pub faults_per_seed: BTreeMap<u64, u64>,
    /// Seeds that reached each coverage cell, by fault kind then activity.
    pub coverage: BTreeMap<String, BTreeMap<String, u64>>,
}

impl CampaignSummary {
    /// Counts one result line (in any order).
    pub fn add(&mut self, line: &ResultLine) {
        self.seeds += 1;
        *self.verdicts.entry(line.verdict.clone()).or_default() += 1;
        *self.faults_per_seed.entry(line.faults).or_default() += 1;
        for cell in &line.coverage {
            let (kind, activity) = cell.split_once(": ").unwrap_or((cell.as_str(), ""));
            *self
                .coverage
                .entry(kind.to_string())
                .or_default()
                .entry(activity.to_string())
                .or_default() += 1;
        }
    }

    /// The quantile `q` (0 to 1) of faults per seed, by nearest rank.
    fn faults_quantile(&self, q: f64) -> u64 {
        let rank = ((q * self.seeds as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (faults, count) in &self.faults_per_seed {
            seen += count;
            if seen >= rank {
                return *faults;
            }
        }
        0
    }

    /// The summary as Markdown: verdicts, faults per seed, and the coverage table with the
    /// share of seeds per cell.
    pub fn markdown(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(out, "# Fuzz campaign: {} seeds\n", self.seeds);
        let verdicts: Vec<String> = self
            .verdicts
            .iter()
            .map(|(kind, count)| format!("{kind}: {count}"))
            .collect();
        let _ = writeln!(out, "Verdicts: {}.\n", verdicts.join(", "));
        let _ = writeln!(
            out,
            "Faults per seed: min {}, median {}, 90th percentile {}, max {}.\n",
            self.faults_quantile(0.0),
            self.faults_quantile(0.5),
            self.faults_quantile(0.9),
            self.faults_quantile(1.0)
        );
        if self.coverage.is_empty() {
            return out;
        }
        let mut activities: Vec<&String> =
            self.coverage.values().flat_map(|row| row.keys()).collect();
        activities.sort();
        activities.dedup();
        let _ = writeln!(
            out,
            "Coverage: the share of seeds in which a fault of each kind hit the protocol while it \
             was doing each thing (a node fault: that node's activity; a network-wide fault: the \
             leader's).\n"
        );
        let header: Vec<&str> = activities.iter().map(|a| a.as_str()).collect();
        let _ = writeln!(out, "| fault | {} |", header.join(" | "));
        let _ = writeln!(out, "|---|{}", "---|".repeat(activities.len()));
        for (kind, row) in &self.coverage {
            let cells: Vec<String> = activities
                .iter()
                .map(|activity| {
                    let count = row.get(*activity).copied().unwrap_or(0);
                    format!("{:.1}%", 100.0 * count as f64 / self.seeds.max(1) as f64)
                })
                .collect();
            let _ = writeln!(out, "| {kind} | {} |", cells.join(" | "));
        }
        out
    }
}

/// Client operations invoked in a run (the history's `invoke` entries from clients).
pub fn invocations(data: &RunData) -> u64 {
    data.history
        .ops()
        .filter(|op| {
            op.kind == sim::history::OpType::Invoke
                && matches!(op.process, sim::history::Process::Client(_))
        })
        .count() as u64
}

/// The counts a campaign reports at the end.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Seeds run.
    pub seeds: u64,
    /// Seeds that passed.
    pub passed: u64,
    /// Failed seeds by verdict kind.
    pub failed: BTreeMap<String, u64>,
    /// The lowest failing seed and its verdict kind.
    pub first_failure: Option<(u64, String)>,
}

impl Tally {
    /// Counts one result. Results may come in any order; the tally does not depend on it.
    pub fn add(&mut self, line: &ResultLine) {
        self.seeds += 1;
        if line.passed() {
            self.passed += 1;
            return;
        }
        *self.failed.entry(line.verdict.clone()).or_default() += 1;
        if self
            .first_failure
            .as_ref()
            .is_none_or(|(seed, _)| line.seed < *seed)
        {
            self.first_failure = Some((line.seed, line.verdict.clone()));
        }
    }

    /// Seeds that failed, of any kind.
    pub fn failed_count(&self) -> u64 {
        self.failed.values().sum()
    }

    /// `failed: 3 (liveness-timeout: 2, panic: 1)` or `failed: 0`.
    pub fn failed_line(&self) -> String {
        if self.failed.is_empty() {
            return "failed: 0".to_string();
        }
        let kinds: Vec<String> = self
            .failed
            .iter()
            .map(|(kind, count)| format!("{kind}: {count}"))
            .collect();
        format!("failed: {} ({})", self.failed_count(), kinds.join(", "))
    }

    /// The process exit status: `pass` when every seed passed, otherwise the status of the
    /// lowest failing seed's verdict, the same status `detsim run` gives for that seed.
    pub fn exit_status(&self) -> crate::ExitStatus {
        match &self.first_failure {
            None => crate::ExitStatus::Pass,
            Some((_, kind)) => verdict_exit_status(kind),
        }
    }
}

/// The exit status `detsim run` gives for a verdict kind (a safety violation for a kind this
/// version does not know: a failure must never exit 0).
pub fn verdict_exit_status(kind: &str) -> crate::ExitStatus {
    sim::outcome::Verdict::exit_status_of(kind).unwrap_or(crate::ExitStatus::SafetyViolation)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(seed: u64, verdict: &str, faults: u64, coverage: &[&str]) -> ResultLine {
        ResultLine {
            seed,
            verdict: verdict.to_string(),
            fingerprint: String::new(),
            events: 0,
            ops: 0,
            ok: 0,
            fail: 0,
            refused: 0,
            info: 0,
            faults,
            messages: 0,
            scenario: "s".to_string(),
            detail: None,
            coverage: coverage.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn the_campaign_summary_counts_seeds_per_coverage_cell() {
        let mut summary = CampaignSummary::default();
        summary.add(&line(
            0,
            "pass",
            3,
            &["crash: electing", "crash: leading, idle"],
        ));
        summary.add(&line(1, "safety-violation", 9, &["crash: electing"]));
        summary.add(&line(2, "pass", 5, &[]));
        assert_eq!(summary.seeds, 3);
        assert_eq!(summary.coverage["crash"]["electing"], 2);
        assert_eq!(summary.coverage["crash"]["leading, idle"], 1);
        assert_eq!(summary.faults_quantile(0.5), 5);
        assert_eq!(summary.faults_quantile(1.0), 9);
        let markdown = summary.markdown();
        assert!(
            markdown.contains("| fault | electing | leading, idle |"),
            "{markdown}"
        );
        assert!(markdown.contains("| crash | 66.7% | 33.3% |"), "{markdown}");
        assert!(
            markdown.contains("pass: 2, safety-violation: 1"),
            "{markdown}"
        );
    }

    #[test]
    fn seed_ranges_parse_exclusive_and_inclusive() {
        assert_eq!(
            "0..100".parse::<SeedRange>(),
            Ok(SeedRange { start: 0, end: 100 })
        );
        assert_eq!(
            "5..=7".parse::<SeedRange>(),
            Ok(SeedRange { start: 5, end: 8 })
        );
        for bad in [
            "",
            "10",
            "a..b",
            "5..5",
            "7..3",
            "0..=18446744073709551615",
            "-1..4",
        ] {
            let error = bad.parse::<SeedRange>().unwrap_err();
            assert!(error.starts_with("--seeds"), "{bad}: {error}");
        }
    }

    #[test]
    fn shards_parse_and_reject_nonsense() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["4/4", "1/0", "1", "x/2", "1/-2"] {
            let error = bad.parse::<Shard>().unwrap_err();
            assert!(error.starts_with("--shard"), "{bad}: {error}");
        }
    }

    #[test]
    fn shards_partition_the_range_exactly() {
        for (start, end) in [(0, 1), (0, 10), (3, 17), (100, 101), (7, 64)] {
            let range = SeedRange { start, end };
            for count in 1..6 {
                let mut all: Vec<u64> = Vec::new();
                for index in 0..count {
                    let shard = Shard { index, count };
                    let seeds: Vec<u64> = shard.seeds(range).collect();
                    assert_eq!(seeds.len() as u64, shard.count_in(range));
                    assert!(seeds.iter().all(|&s| s % count == index));
                    all.extend(seeds);
                }
                all.sort_unstable();
                assert_eq!(all, (start..end).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn shard_near_the_top_of_the_seed_space_stops() {
        let range = SeedRange {
            start: u64::MAX - 10,
            end: u64::MAX,
        };
        let seeds: Vec<u64> = Shard { index: 0, count: 4 }.seeds(range).collect();
        assert_eq!(
            seeds.len() as u64,
            Shard { index: 0, count: 4 }.count_in(range)
        );
    }

    #[test]
    fn exit_code_is_the_lowest_failing_seeds() {
        let line = |seed, verdict: &str| line(seed, verdict, 0, &[]);
        let mut tally = Tally::default();
        tally.add(&line(9, "panic"));
        tally.add(&line(1, "pass"));
        tally.add(&line(4, "liveness-timeout"));
        assert_eq!(tally.exit_status().code(), 3);
        assert_eq!(
            tally.failed_line(),
            "failed: 2 (liveness-timeout: 1, panic: 1)"
        );
        assert_eq!(Tally::default().exit_status().code(), 0);
    }
}
