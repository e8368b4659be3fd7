//! `detsim bugs`: how well a scenario's campaign catches its protocol's planted bugs.
//!
//! The scenario (usually a swarm) runs over the seeds once with the correct protocol and once
//! with each planted bug of its protocol. Per bug: the first failing seed, the share of seeds
//! that catch it, and what caught it (the violated property, or the verdict kind). The
//! catalogue's catch rate is the share of bugs caught at least once. A bug more than a third of
//! seeds catch is a smoke test, not a measure of the search: the table marks them.

use crate::campaign::SeedRange;
use crate::load::load_scenario;
use crate::registry::{self, Phases, Registered};
use crate::ExitStatus;
use clap::Args;
use rayon::prelude::*;
use serde::Serialize;
use sim::nemesis;
use sim::outcome::Verdict;
use sim::scenario::Scenario;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

/// Arguments of `detsim bugs`.
#[derive(Args, Debug)]
pub struct BugsArgs {
    /// The scenario (its `[protocol] bug`, if any, is replaced by each planted bug in turn).
    pub scenario: PathBuf,
    /// The seeds: `A..B` (B excluded) or `A..=B` (B included).
    #[arg(long)]
    pub seeds: SeedRange,
    /// Parallel runs (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Also write the table as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Measure only this planted bug (repeatable; default: the whole catalogue). For bugs that
    /// act only with an option the scenario sets, such as Raft's read bugs on a swarm with
    /// `reads = "read-index"`.
    #[arg(long = "bug", value_name = "BUG")]
    pub only: Vec<String>,
}

/// One row: the correct protocol (`bug: None`) or one planted bug.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BugRow {
    /// The planted bug, or `None` for the correct protocol.
    pub bug: Option<String>,
    /// Seeds run.
    pub seeds: u64,
    /// Seeds whose run failed.
    pub caught: u64,
    /// The lowest failing seed.
    pub first_failing_seed: Option<u64>,
    /// What the first failing seed's verdict named: a property, or a verdict kind.
    pub first_caught_by: Option<String>,
    /// Failing seeds by what caught them.
    pub caught_by: BTreeMap<String, u64>,
    /// Seeds whose options let the bug act (see `Protocol::bug_can_act`); 0: the scenario does
    /// not exercise it, and it counts neither as caught nor as missed.
    pub exercised: u64,
}

impl BugRow {
    /// The share of seeds that caught the bug.
    pub fn share(&self) -> f64 {
        self.caught as f64 / self.seeds.max(1) as f64
    }
}

/// What caught a failing run: the violated property, or the verdict's kind.
fn caught_by(verdict: &Verdict) -> String {
    match verdict {
        Verdict::SafetyViolation { property, .. } => property.clone(),
        other => other.kind().to_string(),
    }
}

/// Runs the command.
pub fn execute(args: &BugsArgs) -> ExitStatus {
    let scenario = match load_scenario(&args.scenario) {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitStatus::InputError;
        }
    };
    let entry = match registry::find(&scenario.protocol.name, &scenario.workload.kind) {
        Ok(entry) => entry,
        Err(error) => {
            eprintln!("error: {}: {error:?}", args.scenario.display());
            return ExitStatus::InputError;
        }
    };
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(jobs).build() {
        Ok(pool) => pool,
        Err(error) => {
            eprintln!("error: cannot start {jobs} threads: {error}");
            return ExitStatus::InputError;
        }
    };
    if let Some(unknown) = args
        .only
        .iter()
        .find(|bug| !entry.bugs().contains(&bug.as_str()))
    {
        eprintln!(
            "error: --bug {unknown}: {} has no planted bug {unknown:?} (known: {})",
            entry.protocol(),
            entry.bugs().join(", ")
        );
        return ExitStatus::InputError;
    }
    let bugs: Vec<Option<String>> = std::iter::once(None)
        .chain(
            entry
                .bugs()
                .iter()
                .filter(|bug| args.only.is_empty() || args.only.iter().any(|only| only == *bug))
                .map(|bug| Some(bug.to_string())),
        )
        .collect();
    println!(
        "bugs of {} ({} planted) on {}, seeds {}, {jobs} jobs",
        entry.protocol(),
        bugs.len() - 1,
        args.scenario.display(),
        args.seeds
    );
    let mut rows = Vec::new();
    for bug in bugs {
        let mut variant = scenario.clone();
        variant.protocol.bug = bug.clone();
        let row = match pool.install(|| row_of(entry, &variant, args.seeds)) {
            Ok(row) => row,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitStatus::InputError;
            }
        };
        rows.push(row);
    }
    print!("{}", markdown(&rows));
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&rows).expect("rows serialize") + "\n";
        if let Err(error) = std::fs::write(path, json) {
            eprintln!("error: cannot write {}: {error}", path.display());
            return ExitStatus::InputError;
        }
    }
    let correct_passes = rows[0].caught == 0;
    let all_caught = (rows[1..].iter())
        .filter(|row| row.exercised > 0)
        .all(|row| row.caught > 0);
    if correct_passes && all_caught {
        ExitStatus::Pass
    } else {
        ExitStatus::SafetyViolation
    }
}

fn row_of(entry: &dyn Registered, scenario: &Scenario, seeds: SeedRange) -> Result<BugRow, String> {
    let verdicts: Result<Vec<(u64, Verdict)>, String> = (seeds.start..seeds.end)
        .into_par_iter()
        .map(|seed| {
            let faults = nemesis::expand(scenario, seed);
            let mut phases = Phases::default();
            entry
                .run_phased(scenario, &faults, seed, None, &mut phases)
                .map(|data| (seed, data.verdict))
                .map_err(|error| error.to_string())
        })
        .collect();
    let exercised = match &scenario.protocol.bug {
        None => seeds.end - seeds.start,
        Some(bug) => (seeds.start..seeds.end)
            .into_par_iter()
            .map(|seed| entry.bug_can_act(scenario, seed, bug).map(u64::from))
            .sum::<Result<u64, String>>()?,
    };
    let mut row = BugRow {
        bug: scenario.protocol.bug.clone(),
        seeds: seeds.end - seeds.start,
        caught: 0,
        first_failing_seed: None,
        first_caught_by: None,
        caught_by: BTreeMap::new(),
        exercised,
    };
    for (seed, verdict) in verdicts? {
        if verdict.is_pass() {
            continue;
        }
        row.caught += 1;
        let by = caught_by(&verdict);
        if row.first_failing_seed.is_none() {
            row.first_failing_seed = Some(seed);
            row.first_caught_by = Some(by.clone());
        }
        *row.caught_by.entry(by).or_default() += 1;
    }
    Ok(row)
}

/// The table as Markdown, with the catalogue's catch rate.
pub fn markdown(rows: &[BugRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| bug | first failing seed | caught by (first) | seeds caught | share | caught by (all) |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for row in rows {
        let name = row.bug.as_deref().unwrap_or("(correct)");
        if row.exercised == 0 {
            let _ = writeln!(
                out,
                "| `{name}` | – | not exercised: no seed's options let it act | – | – | – |"
            );
            continue;
        }
        let smoke = if row.bug.is_some() && row.share() > 1.0 / 3.0 {
            " (smoke test: over a third)"
        } else {
            ""
        };
        let all: Vec<String> = row
            .caught_by
            .iter()
            .map(|(by, count)| format!("{by}: {count}"))
            .collect();
        let _ = writeln!(
            out,
            "| `{name}` | {} | {} | {}/{} | {:.1}%{smoke} | {} |",
            row.first_failing_seed
                .map_or("–".to_string(), |s| s.to_string()),
            row.first_caught_by.as_deref().unwrap_or("–"),
            row.caught,
            row.seeds,
            100.0 * row.share(),
            if all.is_empty() {
                "–".to_string()
            } else {
                all.join(", ")
            }
        );
    }
    let planted: Vec<&BugRow> = (rows[1.min(rows.len())..].iter())
        .filter(|row| row.exercised > 0)
        .collect();
    let idle = rows.len().saturating_sub(1) - planted.len();
    let caught = planted.iter().filter(|row| row.caught > 0).count();
    let hard = planted
        .iter()
        .filter(|row| row.caught > 0 && row.share() < 1.0 / 3.0)
        .count();
    let _ = writeln!(
        out,
        "\ncatalogue: {caught} of {} planted bugs caught ({:.0}%); {hard} by fewer than a third \
         of the seeds",
        planted.len(),
        100.0 * caught as f64 / planted.len().max(1) as f64
    );
    if idle > 0 {
        let _ = writeln!(
            out,
            "{idle} more not exercised: no seed's options let them act (measure them on a \
             scenario that sets those options, with --bug)"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_marks_smoke_tests_and_counts_the_catalogue() {
        let row = |bug: Option<&str>, caught: u64, first: Option<u64>| BugRow {
            bug: bug.map(str::to_string),
            seeds: 30,
            caught,
            first_failing_seed: first,
            first_caught_by: first.map(|_| "linearizability".to_string()),
            caught_by: if caught > 0 {
                BTreeMap::from([("linearizability".to_string(), caught)])
            } else {
                BTreeMap::new()
            },
            exercised: 30,
        };
        let idle = BugRow {
            exercised: 0,
            ..row(Some("idle"), 0, None)
        };
        let table = markdown(&[
            row(None, 0, None),
            row(Some("easy"), 20, Some(0)),
            row(Some("hard"), 2, Some(17)),
            row(Some("missed"), 0, None),
            idle,
        ]);
        assert!(
            table.contains("| `(correct)` | – | – | 0/30 | 0.0% | – |"),
            "{table}"
        );
        assert!(
            table.contains("66.7% (smoke test: over a third)"),
            "{table}"
        );
        assert!(
            table.contains("| `hard` | 17 | linearizability | 2/30 | 6.7% |"),
            "{table}"
        );
        assert!(
            table.contains("catalogue: 2 of 3 planted bugs caught (67%); 1 by fewer than a third"),
            "{table}"
        );
        // A bug no seed's options let act is neither caught nor missed.
        assert!(
            table.contains("| `idle` | – | not exercised: no seed's options let it act |"),
            "{table}"
        );
        assert!(table.contains("1 more not exercised"), "{table}");
    }
}
