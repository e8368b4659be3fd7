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
}

#[allow(clippy::disallowed_methods)] // Timing is the point of a benchmark; nothing simulated reads it.
fn time<T>(work: impl FnOnce() -> T) -> (T, Duration) {
    let started = std::time::Instant::now();
    let value = work();
    (value, started.elapsed())
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
    let mut events = 0;
    let mut depth = 0;
    let mut simulated = sim::time::SimTime::ZERO;
    for round in 0..repeat {
        // Alternate the two sides so that noise on a shared machine hits both alike.
        let (data, elapsed) = time(|| entry.simulate(&scenario, &faults, seed, None));
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
        engine_best = engine_best.min(elapsed);
        let (checksum, elapsed) = time(|| sim::baseline::bare_event_loop(events, pending, seed));
        std::hint::black_box(checksum);
        bare_best = bare_best.min(elapsed);
        eprintln!(
            "round {}: engine {:.3} s, bare loop {:.3} s",
            round + 1,
            engine_best.as_secs_f64(),
            bare_best.as_secs_f64()
        );
    }
    let engine_rate = events as f64 / engine_best.as_secs_f64();
    let bare_rate = events as f64 / bare_best.as_secs_f64();
    println!(
        "scenario {} ({}), seed {seed}, {events} events, {simulated} s simulated",
        scenario.display_name(),
        scenario.protocol.name
    );
    println!("engine:    {engine_rate:>14.0} events/s (best of {repeat})");
    println!("bare loop: {bare_rate:>14.0} events/s (best of {repeat}, {depth} events in flight)");
    println!(
        "ratio:     {:>14.3} (engine / bare loop)",
        engine_rate / bare_rate
    );
    println!(
        "simulated time per wall second: {:.1} s",
        simulated.as_nanos() as f64 / 1e9 / engine_best.as_secs_f64()
    );
    ExitStatus::Pass
}
