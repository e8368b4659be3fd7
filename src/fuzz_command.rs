//! `detsim fuzz`: run one scenario over many seeds in parallel and save every failure.
//!
//! Each seed is one ordinary single-threaded run; `rayon` runs seeds side by side. Seeds are taken
//! in increasing order in chunks, each chunk's results are collected in seed order, and only then
//! written, so `results.jsonl` and the artifacts are the same bytes whatever `--jobs` is. With
//! `--stop-on-first` the campaign ends at the lowest failing seed: seeds above it that happened to
//! run already are discarded, so the output does not depend on scheduling either.

use crate::artifact::{self, Artifact};
use crate::campaign::{CampaignSummary, ResultLine, SeedRange, Shard, Tally};
use crate::load::load_scenario;
use crate::run_command::run_traced;
use crate::ExitStatus;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use sim::nemesis;
use sim::outcome::RunData;
use sim::scenario::Scenario;
use std::fs;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Arguments of `detsim fuzz`.
#[derive(Args, Debug)]
pub struct FuzzArgs {
    /// The scenario file (TOML); a `[swarm]` scenario draws a different fault mix per seed.
    pub scenario: PathBuf,
    /// The seeds: `A..B` (B excluded) or `A..=B` (B included).
    #[arg(long)]
    pub seeds: SeedRange,
    /// Parallel runs (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Run only the seeds with `seed % N == I`, for campaigns split over machines.
    #[arg(long, value_name = "I/N", default_value = "0/1")]
    pub shard: Shard,
    /// Stop at the lowest failing seed (seeds after it are not reported).
    #[arg(long)]
    pub stop_on_first: bool,
    /// Where to write `results.jsonl` and `failures/` (default: `out/fuzz-<scenario>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write artifacts for at most this many failing seeds (the lowest ones).
    #[arg(long, default_value_t = 100)]
    pub max_artifacts: u64,
}

/// Seeds per job handed out at once: large enough that the pause at the end of a chunk is
/// negligible, small enough that `--stop-on-first` does not run far past a failure.
const CHUNK_PER_JOB: usize = 64;

/// Runs the command.
pub fn execute(args: &FuzzArgs) -> ExitStatus {
    let scenario = match load_scenario(&args.scenario) {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitStatus::InputError;
        }
    };
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    if jobs == 0 {
        eprintln!("error: --jobs: must be at least 1");
        return ExitStatus::InputError;
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("out").join(format!("fuzz-{}", scenario.display_name())));
    let failures = out.join("failures");
    if let Err(error) = fs::create_dir_all(&failures) {
        eprintln!("error: cannot create {}: {error}", failures.display());
        return ExitStatus::InputError;
    }
    if let Err(error) = clear_campaign_files(&out, &failures) {
        eprintln!("error: {error}");
        return ExitStatus::InputError;
    }
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(jobs).build() {
        Ok(pool) => pool,
        Err(error) => {
            eprintln!("error: cannot start {jobs} threads: {error}");
            return ExitStatus::InputError;
        }
    };
    let campaign = Campaign {
        scenario: &scenario,
        source: &args.scenario,
        failures: &failures,
        stop_on_first: args.stop_on_first,
        max_artifacts: args.max_artifacts,
    };
    let total = args.shard.count_in(args.seeds);
    println!(
        "fuzz {} ({}): seeds {}, shard {}, {total} seeds, {jobs} jobs",
        scenario.display_name(),
        args.scenario.display(),
        args.seeds,
        args.shard
    );
    let progress = Progress::new(total);
    let results_path = out.join("results.jsonl");
    let outcome =
        pool.install(|| campaign.run(args.seeds, args.shard, jobs, &results_path, &progress));
    let wall = progress.finish();
    match outcome {
        Ok(report) => {
            if let Err(error) = write_campaign_summary(&report.summary, &out) {
                eprintln!("error: {error}");
                return ExitStatus::InputError;
            }
            print_summary(&report, wall, &results_path, args.stop_on_first);
            report.tally.exit_status()
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitStatus::InputError
        }
    }
}

/// Writes `summary.json` and `summary.md`: verdicts, faults per seed, the coverage table.
pub fn write_campaign_summary(summary: &CampaignSummary, out: &Path) -> Result<(), String> {
    let json = serde_json::to_string_pretty(summary).expect("a summary serializes") + "\n";
    for (name, text) in [("summary.json", json), ("summary.md", summary.markdown())] {
        let path = out.join(name);
        fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Removes what an earlier campaign wrote into `out`: `results.jsonl` and the artifacts
/// `failures/seed-N.json` with their `seed-N.toml`, so that no failure of another campaign sits
/// beside this one's results. Other files (a `seed-N.shrunk.toml` someone made, notes) are left
/// alone.
fn clear_campaign_files(out: &Path, failures: &Path) -> Result<(), String> {
    let remove = |path: &Path| match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(format!("cannot remove {}: {error}", path.display())),
    };
    remove(&out.join("results.jsonl"))?;
    remove(&out.join("summary.json"))?;
    remove(&out.join("summary.md"))?;
    let entries = fs::read_dir(failures)
        .map_err(|error| format!("cannot read {}: {error}", failures.display()))?;
    for entry in entries {
        let path = entry
            .map_err(|error| format!("cannot read {}: {error}", failures.display()))?
            .path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let seed = name.strip_prefix("seed-").and_then(|rest| {
            rest.strip_suffix(".json")
                .or_else(|| rest.strip_suffix(".toml"))
        });
        if seed.is_some_and(|seed| !seed.is_empty() && seed.bytes().all(|b| b.is_ascii_digit())) {
            remove(&path)?;
        }
    }
    Ok(())
}

struct Campaign<'a> {
    scenario: &'a Scenario,
    source: &'a Path,
    failures: &'a Path,
    stop_on_first: bool,
    max_artifacts: u64,
}

/// What a finished campaign reports.
struct Report {
    tally: Tally,
    summary: CampaignSummary,
    /// The first artifact written, for the summary's replay line.
    first_artifact: Option<PathBuf>,
    /// Failing seeds whose expanded scenario did not reproduce the run (an engine bug).
    mismatches: u64,
}

impl Campaign<'_> {
    /// Runs every seed of the shard, writing results in seed order. Call inside the pool.
    fn run(
        &self,
        range: SeedRange,
        shard: Shard,
        jobs: usize,
        results_path: &Path,
        progress: &Progress,
    ) -> Result<Report, String> {
        let file = fs::File::create(results_path)
            .map_err(|e| format!("cannot create {}: {e}", results_path.display()))?;
        let mut results = BufWriter::new(file);
        let mut report = Report {
            tally: Tally::default(),
            summary: CampaignSummary::default(),
            first_artifact: None,
            mismatches: 0,
        };
        let lowest_failure = AtomicU64::new(u64::MAX);
        let mut seeds = shard.seeds(range);
        let chunk_len = CHUNK_PER_JOB * jobs.max(1);
        loop {
            let chunk: Vec<u64> = seeds.by_ref().take(chunk_len).collect();
            if chunk.is_empty() {
                break;
            }
            let runs: Vec<Option<Result<SeedRun, String>>> = chunk
                .par_iter()
                .map(|&seed| {
                    if self.stop_on_first && seed > lowest_failure.load(Ordering::Relaxed) {
                        return None;
                    }
                    let run = self.run_seed(seed);
                    if let Ok(run) = &run {
                        let failed = !run.line.passed();
                        if failed && self.stop_on_first {
                            lowest_failure.fetch_min(seed, Ordering::Relaxed);
                        }
                        progress.advance(failed);
                    }
                    Some(run)
                })
                .collect();
            let cutoff = lowest_failure.load(Ordering::Relaxed);
            let mut failed_runs = Vec::new();
            for run in runs.into_iter().flatten() {
                let run = run?;
                if self.stop_on_first && run.line.seed > cutoff {
                    continue;
                }
                results
                    .write_all(run.line.to_json_line().as_bytes())
                    .map_err(|e| format!("writing {}: {e}", results_path.display()))?;
                report.tally.add(&run.line);
                report.summary.add(&run.line);
                if let Some(data) = run.failure {
                    if report.tally.failed_count() <= self.max_artifacts {
                        failed_runs.push(data);
                    }
                }
            }
            self.save_artifacts(&failed_runs, &mut report, progress)?;
            if self.stop_on_first && cutoff != u64::MAX {
                break;
            }
        }
        results
            .flush()
            .map_err(|e| format!("writing {}: {e}", results_path.display()))?;
        Ok(report)
    }

    fn run_seed(&self, seed: u64) -> Result<SeedRun, String> {
        let data = run_traced(self.scenario, seed, None)?;
        let fault_count = nemesis::expand(self.scenario, seed).len();
        let line = ResultLine::from_run(&data, fault_count);
        let failure = (!data.verdict.is_pass()).then_some(data);
        Ok(SeedRun { line, failure })
    }

    /// Builds the chunk's artifacts in parallel, then writes and announces them in seed order.
    fn save_artifacts(
        &self,
        failed: &[RunData],
        report: &mut Report,
        progress: &Progress,
    ) -> Result<(), String> {
        let built: Vec<(PathBuf, Result<artifact::Built, String>)> = failed
            .par_iter()
            .map(|data| {
                let path = self.failures.join(format!("seed-{}.json", data.seed));
                let built = artifact::build(self.scenario, self.source, data, &path);
                (path, built)
            })
            .collect();
        for ((path, built), data) in built.into_iter().zip(failed) {
            let artifact::Built { artifact, mismatch } = built?;
            artifact
                .write(&path)
                .map_err(|e| format!("writing {}: {e}", path.display()))?;
            let toml_path = path.with_extension("toml");
            fs::write(&toml_path, scenario_file_text(&artifact, &toml_path))
                .map_err(|e| format!("writing {}: {e}", toml_path.display()))?;
            progress.println(&format!(
                "seed {}: {}\n  replay: {}",
                data.seed, data.verdict, artifact.replay
            ));
            if let Some(mismatch) = mismatch {
                progress.println(&format!("warning: {mismatch}"));
                report.mismatches += 1;
            }
            report.first_artifact.get_or_insert(path);
        }
        Ok(())
    }
}

/// The plain scenario file written beside an artifact: a comment saying where it came from, then
/// the expanded scenario, which `detsim run` reads as it is.
pub fn scenario_file_text(artifact: &Artifact, path: &Path) -> String {
    format!(
        "# Seed {} of {} (detsim {}): {}, fingerprint {}.\n# Reproduce: {} run {} \
         (the seed is set below).\n{}",
        artifact.seed,
        artifact.source,
        artifact.detsim_version,
        artifact.verdict.kind(),
        artifact.fingerprint,
        crate::program(),
        path.display(),
        artifact.scenario
    )
}

struct SeedRun {
    line: ResultLine,
    /// The run's data when it failed (its artifact is built from it).
    failure: Option<RunData>,
}

fn print_summary(report: &Report, wall: Duration, results_path: &Path, stop_on_first: bool) {
    let tally = &report.tally;
    let seconds = wall.as_secs_f64().max(1e-9);
    println!("seeds run: {}", tally.seeds);
    println!("passed: {}", tally.passed);
    println!("{}", tally.failed_line());
    println!(
        "time: {seconds:.2} s, {:.1} seeds/s",
        tally.seeds as f64 / seconds
    );
    println!("results: {}", results_path.display());
    if let Some(dir) = results_path.parent() {
        println!("summary: {}", dir.join("summary.md").display());
    }
    if let Some((seed, kind)) = &tally.first_failure {
        if stop_on_first {
            println!("stopped at the first failure");
        }
        println!("first failure: seed {seed} ({kind})");
        if let Some(path) = &report.first_artifact {
            println!("replay: {}", artifact::replay_command(path));
        }
    }
    if report.mismatches > 0 {
        println!(
            "engine bug: {} expanded scenarios did not reproduce their seed's run",
            report.mismatches
        );
    }
}

/// Progress on stderr: a bar on a terminal, a plain line every few seconds otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    plain: Mutex<Instant>,
    started: Instant,
    done: AtomicU64,
    failed: AtomicU64,
    total: u64,
}

/// How often the plain progress line is printed.
const PLAIN_INTERVAL: Duration = Duration::from_secs(5);

impl Progress {
    // Wall time only paces progress output and the seeds/s figure; no result depends on it.
    #[allow(clippy::disallowed_methods)]
    fn new(total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} seeds, {per_sec}, eta {eta} {msg}",
                )
                .expect("a valid template"),
            );
            bar
        });
        let now = Instant::now();
        Progress {
            bar,
            plain: Mutex::new(now),
            started: now,
            done: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            total,
        }
    }

    fn advance(&self, failed: bool) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let failed_count = if failed {
            self.failed.fetch_add(1, Ordering::Relaxed) + 1
        } else {
            self.failed.load(Ordering::Relaxed)
        };
        if let Some(bar) = &self.bar {
            bar.inc(1);
            if failed {
                bar.set_message(format!("{failed_count} failed"));
            }
            return;
        }
        let Ok(mut last) = self.plain.try_lock() else {
            return;
        };
        if last.elapsed() >= PLAIN_INTERVAL {
            #[allow(clippy::disallowed_methods)] // Paces output only.
            let now = Instant::now();
            *last = now;
            let seconds = (now - self.started).as_secs_f64().max(1e-9);
            eprintln!(
                "fuzz: {done}/{} seeds, {failed_count} failed, {:.1} seeds/s",
                self.total,
                done as f64 / seconds
            );
        }
    }

    fn println(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| println!("{text}")),
            None => println!("{text}"),
        }
    }

    fn finish(&self) -> Duration {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        self.started.elapsed()
    }
}
