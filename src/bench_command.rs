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
    /// The scenario to run (no trace is written).
    pub scenario: PathBuf,
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

/// Runs the command.
pub fn execute(args: &BenchArgs) -> ExitStatus {
    let mut scenario = match load_scenario(&args.scenario) {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitStatus::InputError;
        }
    };
    if let Some(text) = &args.duration {
        match SimDuration::parse(text) {
            Ok(duration) if duration >= scenario.run.duration => {
                scenario.run.duration = duration;
                // The lengthened scenario must pass the same checks as a file (upper bound of
                // the run length, and the arithmetic behind it).
                let reread = Scenario::parse(&scenario.to_toml(), &args.scenario);
                if let Err(sim::scenario::ScenarioError::Invalid { message, .. }) = reread {
                    eprintln!("error: --duration {text}: {message}");
                    return ExitStatus::InputError;
                }
            }
            Ok(_) => {
                eprintln!("error: --duration: must not shorten the scenario's run");
                return ExitStatus::InputError;
            }
            Err(message) => {
                eprintln!("error: --duration: {message}");
                return ExitStatus::InputError;
            }
        }
    }
    scenario.run.max_events = u64::MAX;
    let seed = args.seed.unwrap_or(scenario.seed);
    let entry = registry::find(&scenario.protocol.name, &scenario.workload.kind)
        .expect("validated at load");
    let faults = nemesis::expand(&scenario, seed);
    let repeat = args.repeat.max(1);
    let (mut engine_best, mut bare_best) = (Duration::MAX, Duration::MAX);
    let mut ratios = Vec::new();
    let mut whole = WholeRuns::default();
    let scratch = std::env::temp_dir().join(format!("detsim-bench-{}", std::process::id()));
    let mut events = 0;
    let mut depth = 0;
    let mut simulated = sim::time::SimTime::ZERO;
    for round in 0..repeat {
        // Alternate the sides so that noise on a shared machine hits them alike.
        let (data, engine) = time(|| entry.simulate(&scenario, &faults, seed, None));
        let data = match data {
            Ok(data) => data,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitStatus::InputError;
            }
        };
        events = data.stats.events;
        let pending = args
            .pending
            .unwrap_or(data.stats.queue_depth_mean as usize)
            .max(1);
        depth = pending;
        simulated = data.stats.simulated_time;
        drop(data);
        engine_best = engine_best.min(engine);
        let (checksum, bare) = time(|| sim::baseline::bare_event_loop(events, pending, seed));
        std::hint::black_box(checksum);
        bare_best = bare_best.min(bare);
        ratios.push(bare.as_secs_f64() / engine.as_secs_f64());
        eprint!(
            "round {}: engine {:.3} s, bare loop {:.3} s, ratio {:.3}",
            round + 1,
            engine.as_secs_f64(),
            bare.as_secs_f64(),
            ratios[ratios.len() - 1]
        );
        if args.whole_run {
            match whole.measure(&scenario, seed, &scratch, engine) {
                Ok(line) => eprint!("{line}"),
                Err(error) => {
                    eprintln!("\nerror: {error}");
                    return ExitStatus::InputError;
                }
            }
        }
        eprintln!();
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let engine_rate = events as f64 / engine_best.as_secs_f64();
    let bare_rate = events as f64 / bare_best.as_secs_f64();
    println!(
        "scenario {} ({}), seed {seed}, {events} events, {simulated} s simulated",
        scenario.display_name(),
        scenario.protocol.name
    );
    println!("engine:    {engine_rate:>14.0} events/s (best of {repeat})");
    println!("bare loop: {bare_rate:>14.0} events/s (best of {repeat}, {depth} events in flight)");
    let (median, low, high) = median_and_spread(&mut ratios);
    println!(
        "ratio:     {:>14.3} (engine / bare loop, best times); per round: median {median:.3}, \
         spread {low:.3}-{high:.3}",
        engine_rate / bare_rate
    );
    println!(
        "simulated time per wall second: {:.1} s",
        simulated.as_nanos() as f64 / 1e9 / engine_best.as_secs_f64()
    );
    if args.whole_run {
        whole.print();
    }
    ExitStatus::Pass
}
