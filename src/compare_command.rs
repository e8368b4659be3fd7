//! `detsim compare`: protocols side by side on identical environments.
//!
//! Each scenario file is one variant (a protocol, or a protocol with other options or a planted
//! bug); apart from `[protocol]` and the scenario's name, description, seed and expectation,
//! the files must be identical — the command checks it and names the first section that
//! differs. For every seed each variant then meets the same fault schedule (the swarm's stream
//! depends only on the seed), cluster, network model and clocks; client operations are drawn
//! reply-independently (each client's operations depend only on the seed and the client), so
//! every variant serves the same requests. Runs go side by side on `--jobs` threads; each is
//! reduced to its metrics at once, so a campaign keeps no histories.

use crate::campaign::SeedRange;
use crate::load::load_scenario;
use crate::registry::{self, Phases, Registered};
use crate::ExitStatus;
use clap::Args;
use rayon::prelude::*;
use reports::compare::{Comparison, RunMetrics, Variant};
use sim::nemesis;
use sim::scenario::Scenario;
use sim::time::SimDuration;
use std::fs;
use std::path::{Path, PathBuf};

/// Arguments of `detsim compare`.
#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Scenario files, one per compared variant, identical but for `[protocol]` (and name,
    /// description, seed, expect). The first is the baseline of the paired differences.
    #[arg(required = true, num_args = 1..)]
    pub scenarios: Vec<PathBuf>,
    /// The seeds: `A..B` (B excluded) or `A..=B` (B included).
    #[arg(long)]
    pub seeds: SeedRange,
    /// Parallel runs (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Where to write the report (default: `out/compare-<first scenario>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// An unavailability window is a gap longer than this with an operation waiting and no
    /// `ok` (e.g. `100ms`).
    #[arg(long, default_value = "100ms", value_parser = SimDuration::parse)]
    pub gap: SimDuration,
    /// Open-loop arrivals for every run (`[workload] arrivals = "open"`): the same offered
    /// load whatever the protocol's latency.
    #[arg(long)]
    pub open_loop: bool,
    /// A load sweep: also run every variant at each of these per-client rates (operations per
    /// second per client), e.g. `--rates 5,10,20,40`, and report throughput against latency.
    #[arg(long, value_delimiter = ',')]
    pub rates: Vec<u32>,
}

/// The scenario's sections that make its environment: everything but `[protocol]` and the
/// scenario's own name, description, seed and expectation.
fn environment(scenario: &Scenario) -> toml::Table {
    let mut table: toml::Table =
        toml::from_str(&scenario.to_toml()).expect("a serialized scenario parses");
    for key in ["protocol", "name", "description", "seed", "expect"] {
        table.remove(key);
    }
    table
}

/// Why two scenarios do not describe the same environment: the first section that differs.
fn first_difference(a: &toml::Table, b: &toml::Table) -> Option<String> {
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .find(|key| a.get(*key) != b.get(*key))
        .map(|key| format!("[{key}]"))
}

/// Runs the command.
pub fn execute(args: &CompareArgs) -> ExitStatus {
    let mut scenarios = Vec::new();
    for path in &args.scenarios {
        match load_scenario(path) {
            Ok(scenario) => scenarios.push(scenario),
            Err(error) => {
                eprintln!("error: {error}");
                return ExitStatus::InputError;
            }
        }
    }
    let base = environment(&scenarios[0]);
    for (path, scenario) in args.scenarios.iter().zip(&scenarios).skip(1) {
        if let Some(section) = first_difference(&base, &environment(scenario)) {
            eprintln!(
                "error: {}: {section} differs from {}: compared scenarios may differ only in \
                 [protocol] (and name, description, seed, expect), so that every variant meets \
                 the same environment",
                path.display(),
                args.scenarios[0].display()
            );
            return ExitStatus::InputError;
        }
    }
    let mut entries: Vec<&'static dyn Registered> = Vec::new();
    for (path, scenario) in args.scenarios.iter().zip(&mut scenarios) {
        // The same client operations for every variant: draws must not depend on answers.
        scenario.workload.reply_independent = true;
        if args.open_loop {
            scenario.workload.arrivals = sim::scenario::Arrivals::Open;
        }
        // Loading checked the pairing against the registry already.
        let entry = match registry::find(&scenario.protocol.name, &scenario.workload.kind) {
            Ok(entry) => entry,
            Err(error) => {
                eprintln!("error: {}: {error:?}", path.display());
                return ExitStatus::InputError;
            }
        };
        if let Err(error) = entry.validate(scenario) {
            eprintln!("error: {}: {error}", path.display());
            return ExitStatus::InputError;
        }
        entries.push(entry);
    }
    let labels = labels(&args.scenarios, &scenarios);
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("out").join(format!("compare-{}", scenarios[0].display_name()))
    });
    if let Err(error) = fs::create_dir_all(&out) {
        eprintln!("error: cannot create {}: {error}", out.display());
        return ExitStatus::InputError;
    }
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
    let seeds: Vec<u64> = (args.seeds.start..args.seeds.end).collect();
    println!(
        "compare: {} variants × {} seeds ({}), {jobs} jobs",
        scenarios.len(),
        seeds.len(),
        args.seeds
    );
    let gap = args.gap.0;
    let mut variants = Vec::new();
    for (index, scenario) in scenarios.iter().enumerate() {
        let entry = entries[index];
        let runs: Result<Vec<RunMetrics>, String> = pool.install(|| {
            seeds
                .par_iter()
                .map(|seed| metrics_of(entry, scenario, *seed, gap))
                .collect()
        });
        let runs = match runs {
            Ok(runs) => runs,
            Err(error) => {
                eprintln!("error: {}: {error}", args.scenarios[index].display());
                return ExitStatus::InputError;
            }
        };
        variants.push(Variant {
            label: labels[index].clone(),
            protocol: scenario.protocol.name.clone(),
            file: args.scenarios[index].display().to_string(),
            protocol_section: protocol_section(scenario),
            runs,
        });
    }
    let mut comparison = Comparison::of(&variants, args.seeds.to_string(), gap);
    if !args.rates.is_empty() {
        for (index, scenario) in scenarios.iter().enumerate() {
            let mut points = Vec::new();
            for &rate in &args.rates {
                let mut loaded = scenario.clone();
                loaded.workload.rate = rate;
                // Written out and read back, the loaded scenario passes every check a file does.
                let loaded = match Scenario::parse(&loaded.to_toml(), &args.scenarios[index]) {
                    Ok(loaded) => loaded,
                    Err(error) => {
                        eprintln!("error: --rates {rate}: {error}");
                        return ExitStatus::InputError;
                    }
                };
                let entry = entries[index];
                let runs: Result<Vec<RunMetrics>, String> = pool.install(|| {
                    seeds
                        .par_iter()
                        .map(|seed| metrics_of(entry, &loaded, *seed, gap))
                        .collect()
                });
                match runs {
                    Ok(runs) => {
                        let offered = f64::from(rate) * f64::from(loaded.workload.clients);
                        points.push(reports::compare::LoadPoint::of(rate, offered, &runs));
                    }
                    Err(error) => {
                        eprintln!("error: {}: {error}", args.scenarios[index].display());
                        return ExitStatus::InputError;
                    }
                }
            }
            reports::compare::mark_knee(&mut points);
            comparison.load.push(points);
        }
    }
    let files = match reports::compare::render(&comparison) {
        Ok(files) => files,
        Err(error) => {
            eprintln!("error: the comparison report: {error}");
            return ExitStatus::InputError;
        }
    };
    for file in &files {
        let path = out.join(&file.name);
        if let Err(error) = fs::write(&path, &file.contents) {
            eprintln!("error: cannot write {}: {error}", path.display());
            return ExitStatus::InputError;
        }
    }
    print!("{}", reports::compare::markdown(&comparison));
    println!("\nreport: {}", out.join("compare.html").display());
    ExitStatus::Pass
}

/// One run of `scenario` with `seed`, reduced to its metrics.
fn metrics_of(
    entry: &dyn Registered,
    scenario: &Scenario,
    seed: u64,
    gap: u64,
) -> Result<RunMetrics, String> {
    let faults = nemesis::expand(scenario, seed);
    let mut phases = Phases::default();
    let data = entry
        .run_phased(scenario, &faults, seed, None, &mut phases)
        .map_err(|error| error.to_string())?;
    let mut operations = reports::operations(&data.history.to_history())
        .map_err(|error| format!("seed {seed}: {error}"))?;
    reports::operations::mark_refused(&mut operations, &data.history);
    Ok(RunMetrics::of(&data, &operations, gap))
}

/// The `[protocol]` section as TOML.
fn protocol_section(scenario: &Scenario) -> String {
    let mut table = toml::Table::new();
    if let Ok(toml::Value::Table(section)) = toml::Value::try_from(&scenario.protocol) {
        table = section;
    }
    toml::to_string(&table).unwrap_or_default()
}

/// Each variant's label: its scenario's name when the names are distinct, else its file name.
fn labels(paths: &[PathBuf], scenarios: &[Scenario]) -> Vec<String> {
    let names: Vec<&str> = scenarios.iter().map(Scenario::display_name).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() == names.len() {
        return names.into_iter().map(str::to_string).collect();
    }
    paths
        .iter()
        .map(|path| {
            Path::new(path).file_stem().map_or_else(
                || path.display().to_string(),
                |s| s.to_string_lossy().into(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Scenario {
        Scenario::parse(text, Path::new("t.toml")).unwrap()
    }

    #[test]
    fn only_the_protocol_may_differ() {
        let a = parse("name = \"a\"\n[protocol]\nname = \"raft\"\n[cluster]\nnodes = 3\n[run]\nduration = \"1s\"\n");
        let b = parse("name = \"b\"\nseed = 9\n[protocol]\nname = \"unreplicated\"\n[cluster]\nnodes = 3\n[run]\nduration = \"1s\"\n");
        let c =
            parse("[protocol]\nname = \"raft\"\n[cluster]\nnodes = 5\n[run]\nduration = \"1s\"\n");
        assert_eq!(first_difference(&environment(&a), &environment(&b)), None);
        assert_eq!(
            first_difference(&environment(&a), &environment(&c)),
            Some("[cluster]".to_string())
        );
    }
}
