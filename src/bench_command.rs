//! `detsim bench`: the engine's events per second beside a bare event loop's, in one process.

use crate::load::load_scenario;
use crate::registry;
use crate::ExitStatus;
use clap::Args;
use sim::nemesis;
use sim::scenario::Scenario;
use sim::time::SimDuration;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `detsim bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The scenarios to run (no trace is written). With more than one, each round runs every
    /// scenario in turn, and each is compared with the first, round by round.
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
    /// The seed (default: the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override the run length, e.g. `300s`, to get enough events to time.
    #[arg(long)]
    pub duration: Option<String>,
    /// How many times to run each side; the best time of each is reported.
    #[arg(long, default_value_t = 5)]
    pub repeat: u32,
    /// Events the bare loop keeps in flight (default: the engine's mean queue depth in the same
    /// run, so both loops work on queues of the same size).
    #[arg(long)]
    pub pending: Option<usize>,
    /// Also time a whole run in each round — simulate, check the history, write the history
    /// files and the summary (no trace, no report) — beside the engine alone.
    #[arg(long)]
    pub whole_run: bool,
}

/// The median and the spread (lowest, highest) of some measurements.
fn median_and_spread(values: &mut [f64]) -> (f64, f64, f64) {
    assert!(!values.is_empty(), "at least one measurement");
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    let median = if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    };
    (median, values[0], values[values.len() - 1])
}

#[allow(clippy::disallowed_methods)] // Timing is the point of a benchmark; nothing simulated reads it.
fn time<T>(work: impl FnOnce() -> T) -> (T, Duration) {
    let started = std::time::Instant::now();
    let value = work();
    (value, started.elapsed())
}

/// Whole runs measured beside the engine alone, one per round.
#[derive(Default)]
struct WholeRuns {
    /// Per round: (simulate, check, write, whole / engine alone).
    rounds: Vec<(f64, f64, f64, f64)>,
    peak_kib: Option<u64>,
}

impl WholeRuns {
    /// Runs the scenario as `detsim run --no-trace --no-report` does, writing into `scratch`.
    fn measure(
        &mut self,
        scenario: &Scenario,
        seed: u64,
        scratch: &std::path::Path,
        engine: Duration,
    ) -> Result<String, String> {
        std::fs::create_dir_all(scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
        let mut phases = registry::Phases::default();
        let (data, total) =
            time(|| crate::run_command::run_phased(scenario, seed, None, &mut phases));
        let data = data?;
        let (written, write) = time(|| {
            crate::run_command::write_files(
                &data,
                scratch,
                sim::history_files::HistoryFormats::BOTH,
            )
        });
        written.map_err(|e| format!("writing {}: {e}", scratch.display()))?;
        let whole = total + write;
        let ratio = whole.as_secs_f64() / engine.as_secs_f64();
        self.rounds.push((
            phases.simulate.as_secs_f64(),
            phases.check.as_secs_f64(),
            write.as_secs_f64(),
            ratio,
        ));
        self.peak_kib = crate::run_command::peak_memory_kib();
        Ok(format!(
            "; whole run {:.3} s (simulate {:.3}, check {:.3}, write {:.3}) = {ratio:.2} x engine",
            whole.as_secs_f64(),
            phases.simulate.as_secs_f64(),
            phases.check.as_secs_f64(),
            write.as_secs_f64()
        ))
    }

    fn print(&self) {
        let column = |pick: fn(&(f64, f64, f64, f64)) -> f64| {
            let mut values: Vec<f64> = self.rounds.iter().map(pick).collect();
            median_and_spread(&mut values)
        };
        let (simulate, _, _) = column(|r| r.0);
        let (check, _, _) = column(|r| r.1);
        let (write, _, _) = column(|r| r.2);
        let (ratio, low, high) = column(|r| r.3);
        println!(
            "whole run: simulate {simulate:.3} s, check {check:.3} s, write {write:.3} s (medians); \
             whole / engine alone: median {ratio:.2}, spread {low:.2}-{high:.2}"
        );
        if let Some(peak) = self.peak_kib {
            println!(
                "peak memory of the process: {:.1} MiB",
                peak as f64 / 1024.0
            );
        }
    }
}

/// One scenario measured in a bench: its runs and the bare loop's beside them.
struct Side {
    scenario: Scenario,
    seed: u64,
    entry: &'static dyn registry::Registered,
    faults: Vec<sim::scenario::FaultSpec>,
    engine_best: Duration,
    bare_best: Duration,
    /// Per round, bare loop time over engine time.
    ratios: Vec<f64>,
    whole: WholeRuns,
    events: u64,
    depth: usize,
    simulated: sim::time::SimTime,
}

/// Loads a scenario for a bench: lengthened to `--duration` (which must not shorten it, and
/// must pass the same checks as a file), with no event limit.
fn load_side(path: &std::path::Path, args: &BenchArgs) -> Result<Side, String> {
    let mut scenario = load_scenario(path).map_err(|error| error.to_string())?;
    if let Some(text) = &args.duration {
        match SimDuration::parse(text) {
            Ok(duration) if duration >= scenario.run.duration => {
                scenario.run.duration = duration;
                // The lengthened scenario must pass the same checks as a file (upper bound of
                // the run length, and the arithmetic behind it).
                let reread = Scenario::parse(&scenario.to_toml(), path);
                if let Err(sim::scenario::ScenarioError::Invalid { message, .. }) = reread {
                    return Err(format!("--duration {text}: {message}"));
                }
            }
            Ok(_) => {
                return Err(format!(
                    "--duration: must not shorten the run of {}",
                    path.display()
                ))
            }
            Err(message) => return Err(format!("--duration: {message}")),
        }
    }
    scenario.run.max_events = u64::MAX;
    let seed = args.seed.unwrap_or(scenario.seed);
    let entry = registry::find(&scenario.protocol.name, &scenario.workload.kind)
        .expect("validated at load");
    let faults = nemesis::expand(&scenario, seed);
    Ok(Side {
        scenario,
        seed,
        entry,
        faults,
        engine_best: Duration::MAX,
        bare_best: Duration::MAX,
        ratios: Vec::new(),
        whole: WholeRuns::default(),
        events: 0,
        depth: 0,
        simulated: sim::time::SimTime::ZERO,
    })
}

impl Side {
    /// One round: the engine, then the bare loop on as many events, then (with `--whole-run`)
    /// a whole run. Returns the round's line for standard error.
    fn round(&mut self, args: &BenchArgs, scratch: &std::path::Path) -> Result<String, String> {
        let (data, engine) =
            time(|| (self.entry).simulate(&self.scenario, &self.faults, self.seed, None));
        let data = data.map_err(|error| error.to_string())?;
        self.events = data.stats.events;
        self.depth = args
            .pending
            .unwrap_or(data.stats.queue_depth_mean as usize)
            .max(1);
        self.simulated = data.stats.simulated_time;
        drop(data);
        self.engine_best = self.engine_best.min(engine);
        let (checksum, bare) =
            time(|| sim::baseline::bare_event_loop(self.events, self.depth, self.seed));
        std::hint::black_box(checksum);
        self.bare_best = self.bare_best.min(bare);
        let ratio = bare.as_secs_f64() / engine.as_secs_f64();
        self.ratios.push(ratio);
        let mut line = format!(
            "engine {:.3} s, bare loop {:.3} s, ratio {ratio:.3}",
            engine.as_secs_f64(),
            bare.as_secs_f64(),
        );
        if args.whole_run {
            let whole = self
                .whole
                .measure(&self.scenario, self.seed, scratch, engine)?;
            line.push_str(&whole);
        }
        Ok(line)
    }

    fn print(&self, repeat: u32, whole_run: bool) {
        let events = self.events;
        let engine_rate = events as f64 / self.engine_best.as_secs_f64();
        let bare_rate = events as f64 / self.bare_best.as_secs_f64();
        println!(
            "scenario {} ({}), seed {}, {events} events, {} s simulated",
            self.scenario.display_name(),
            self.scenario.protocol.name,
            self.seed,
            self.simulated
        );
        println!("engine:    {engine_rate:>14.0} events/s (best of {repeat})");
        println!(
            "bare loop: {bare_rate:>14.0} events/s (best of {repeat}, {} events in flight)",
            self.depth
        );
        let (median, low, high) = median_and_spread(&mut self.ratios.clone());
        println!(
            "ratio:     {:>14.3} (engine / bare loop, best times); per round: median {median:.3}, \
             spread {low:.3}-{high:.3}",
            engine_rate / bare_rate
        );
        println!(
            "simulated time per wall second: {:.1} s",
            self.simulated.as_nanos() as f64 / 1e9 / self.engine_best.as_secs_f64()
        );
        if whole_run {
            self.whole.print();
        }
    }
}

/// Runs the command.
pub fn execute(args: &BenchArgs) -> ExitStatus {
    let mut sides = Vec::new();
    for path in &args.scenarios {
        match load_side(path, args) {
            Ok(side) => sides.push(side),
            Err(error) => {
                eprintln!("error: {error}");
                return ExitStatus::InputError;
            }
        }
    }
    let repeat = args.repeat.max(1);
    let scratch = std::env::temp_dir().join(format!("detsim-bench-{}", std::process::id()));
    for round in 0..repeat {
        // Alternate the scenarios, and each with its bare loop, so that noise on a shared
        // machine hits them alike.
        for (index, side) in sides.iter_mut().enumerate() {
            match side.round(args, &scratch) {
                Ok(line) => {
                    let name = if args.scenarios.len() > 1 {
                        format!(" {}", side.scenario.display_name())
                    } else {
                        String::new()
                    };
                    eprintln!("round {}{name}: {line}", round + 1);
                }
                Err(error) => {
                    eprintln!("error: {}: {error}", args.scenarios[index].display());
                    let _ = std::fs::remove_dir_all(&scratch);
                    return ExitStatus::InputError;
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    for (index, side) in sides.iter().enumerate() {
        if index > 0 {
            println!();
        }
        side.print(repeat, args.whole_run);
    }
    if let Some((first, others)) = sides.split_first() {
        for other in others {
            // Per round, the two ratios were measured a moment apart: their quotient cancels
            // most of the machine's load from round to round.
            let mut quotients: Vec<f64> = (other.ratios.iter().zip(&first.ratios))
                .map(|(theirs, ours)| theirs / ours)
                .collect();
            let (median, low, high) = median_and_spread(&mut quotients);
            println!(
                "\n{} / {}: ratio to the bare loop {median:.3} in the median round \
                 (spread {low:.3}-{high:.3}, {repeat} rounds)",
                other.scenario.display_name(),
                first.scenario.display_name(),
            );
        }
    }
    ExitStatus::Pass
}
