//! `detsim run`: run one scenario with one seed, check it, write its files, print a summary.

use crate::load::load_scenario;
use crate::registry::{self, Phases};
use crate::ExitStatus;
use clap::Args;
use sim::history_files::HistoryFormats;
use sim::nemesis;
use sim::outcome::RunData;
use sim::scenario::Scenario;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Arguments of `detsim run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// The seed (default: the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where to write the run's files (default: `out/<scenario>-seed<seed>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Do not write `trace.log` (long runs make large traces).
    #[arg(long)]
    pub no_trace: bool,
    /// Run twice and compare; on a mismatch, name the first divergent event.
    #[arg(long)]
    pub check_determinism: bool,
    /// Also write PNG copies of the report's plots.
    #[arg(long)]
    pub png: bool,
    /// Do not write the report (index.html, plots, timeline): for very long runs.
    #[arg(long)]
    pub no_report: bool,
    /// Which history files to write: `jsonl`, `edn`, `both` or `none` (comma-separated).
    #[arg(long, default_value = "both", value_parser = HistoryFormats::parse)]
    pub history: HistoryFormats,
}

/// Runs the command.
pub fn execute(args: &RunArgs) -> ExitStatus {
    let scenario = match load_scenario(&args.scenario) {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitStatus::InputError;
        }
    };
    let seed = args.seed.unwrap_or(scenario.seed);
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("out").join(format!("{}-seed{seed}", scenario.display_name()))
    });
    if let Err(error) = prepare_out(&out) {
        eprintln!("error: {error}");
        return ExitStatus::InputError;
    }
    if args.check_determinism {
        match check_determinism(&scenario, seed, &out) {
            Ok(None) => {}
            Ok(Some(report)) => {
                eprintln!("determinism check FAILED\n{report}");
                return ExitStatus::Nondeterministic;
            }
            Err(error) => {
                eprintln!("error: {error}");
                return ExitStatus::InputError;
            }
        }
    }
    let trace_path = (!args.no_trace).then(|| out.join("trace.log"));
    #[allow(clippy::disallowed_methods)] // Wall time is printed, never used by the simulation.
    let started = std::time::Instant::now();
    let mut phases = Phases::default();
    let data = match run_once(
        &scenario,
        seed,
        trace_path.as_deref(),
        &args.scenario,
        &mut phases,
    ) {
        Ok(data) => data,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitStatus::InputError;
        }
    };
    #[allow(clippy::disallowed_methods)] // Wall time is printed, never used by the simulation.
    let writing = std::time::Instant::now();
    if let Err(error) = write_files(&data, &out, args.history) {
        eprintln!("error: writing {}: {error}", out.display());
        return ExitStatus::InputError;
    }
    phases.write = writing.elapsed();
    let wall = started.elapsed();
    if !args.no_report {
        if let Err(error) = write_report(&data, &out, !args.no_trace, args.history.jsonl, args.png)
        {
            eprintln!("error: writing the report into {}: {error}", out.display());
            return ExitStatus::InputError;
        }
    }
    let report = (!args.no_report).then_some(out.as_path());
    print_summary(&scenario, &data, wall, &out, report, args.check_determinism);
    println!(
        "phases: simulate {:.3} s, check {:.3} s, write {:.3} s",
        phases.simulate.as_secs_f64(),
        phases.check.as_secs_f64(),
        phases.write.as_secs_f64()
    );
    data.verdict.exit_status()
}

/// The files a run may write into its output directory. Each run removes them first, so no
/// file of an earlier run (a `linearizability.txt` that said "linearizable", a `trace.log` that
/// `--no-trace` did not overwrite, a stale plot) sits beside the new ones. Other files in the
/// directory are left alone.
pub fn run_file_names() -> Vec<String> {
    let mut names: Vec<String> = [
        "summary.json",
        "history.jsonl",
        "history.edn",
        "linearizability.txt",
        "trace.log",
        "determinism-a.log",
        "determinism-b.log",
        "index.html",
        "timeline.html",
        "report.json",
    ]
    .iter()
    .map(|name| name.to_string())
    .collect();
    for (stem, _) in reports::PLOTS {
        names.push(format!("{stem}.svg"));
        names.push(format!("{stem}.png"));
    }
    names
}

/// Creates `out` and removes the files an earlier run left there ([`run_file_names`]).
pub fn prepare_out(out: &Path) -> Result<(), String> {
    fs::create_dir_all(out).map_err(|error| format!("cannot create {}: {error}", out.display()))?;
    for name in run_file_names() {
        let path = out.join(name);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(format!("cannot remove {}: {error}", path.display())),
        }
    }
    Ok(())
}

/// Runs the scenario once with `seed`, tracing into `trace_path` when given.
pub fn run_once(
    scenario: &Scenario,
    seed: u64,
    trace_path: Option<&Path>,
    scenario_path: &Path,
    phases: &mut Phases,
) -> Result<RunData, String> {
    let mut file = match trace_path {
        Some(path) => Some(BufWriter::with_capacity(
            1 << 16,
            fs::File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?,
        )),
        None => None,
    };
    let trace = file.as_mut().map(|f| f as &mut dyn Write);
    let mut data = run_phased(scenario, seed, trace, phases)?;
    data.reproduce = reproduce_command(scenario_path, seed);
    Ok(data)
}

/// Runs the scenario once with `seed`, streaming trace lines into `trace` when given. Every
/// command that runs a scenario (run, fuzz, replay, shrink) goes through here.
pub fn run_traced(
    scenario: &Scenario,
    seed: u64,
    trace: Option<&mut dyn Write>,
) -> Result<RunData, String> {
    run_phased(scenario, seed, trace, &mut Phases::default())
}

/// [`run_traced`], measuring the wall time of its phases.
pub fn run_phased(
    scenario: &Scenario,
    seed: u64,
    trace: Option<&mut dyn Write>,
    phases: &mut Phases,
) -> Result<RunData, String> {
    let entry = registry::find(&scenario.protocol.name, &scenario.workload.kind)
        .map_err(|_| "the scenario's protocol does not serve its workload".to_string())?;
    let faults = nemesis::expand(scenario, seed);
    entry
        .run_phased(scenario, &faults, seed, trace, phases)
        .map_err(|e| e.to_string())
}

/// The one command that reproduces a run.
pub fn reproduce_command(scenario_path: &Path, seed: u64) -> String {
    format!(
        "{} run {} --seed {seed}",
        crate::program(),
        scenario_path.display()
    )
}

/// Writes `summary.json`, the history files `formats` asks for (`history.jsonl`,
/// `history.edn`) and `linearizability.txt` into `out`.
pub fn write_files(data: &RunData, out: &Path, formats: HistoryFormats) -> std::io::Result<()> {
    // The summary is the run result itself; the history and the checker's explanation are
    // not serialized with it, they have files of their own.
    let mut json = serde_json::to_string_pretty(data).expect("a run result serializes");
    json.push('\n');
    fs::write(out.join("summary.json"), json)?;
    // A streaming pass over the compact history writes each chosen format, formatting each
    // entry straight into a reused buffer: the history is never materialized for writing.
    // With both formats, the EDN pass runs on a second thread beside the JSON Lines one: the
    // files are independent, and on a long run writing them costs more than checking.
    let create = |name: &str| fs::File::create(out.join(name));
    let mut jsonl = formats.jsonl.then(|| create("history.jsonl")).transpose()?;
    let mut edn = formats.edn.then(|| create("history.edn")).transpose()?;
    let history = &data.history;
    match (jsonl.as_mut(), edn.as_mut()) {
        (Some(jsonl), Some(edn)) => std::thread::scope(|scope| {
            let edn_pass = scope.spawn(|| history.write_files(None, Some(edn as &mut dyn Write)));
            let jsonl_result = history.write_files(Some(jsonl as &mut dyn Write), None);
            let edn_result = edn_pass.join().expect("the EDN writer does not panic");
            jsonl_result.and(edn_result)
        })?,
        (jsonl, edn) => history.write_files(
            jsonl.map(|file| file as &mut dyn Write),
            edn.map(|file| file as &mut dyn Write),
        )?,
    }
    if let Some(explanation) = &data.check_explanation {
        // The checker's account, then why: the conflicting operations with their nodes and
        // the narrative up to the violation.
        let mut text = explanation.clone();
        if let Some(why) =
            reports::explain::explain(data).filter(|_| data.stuck_operation.is_some())
        {
            text.push('\n');
            text.push_str(&reports::explain::text(&why));
        }
        fs::write(out.join("linearizability.txt"), text)?;
    }
    Ok(())
}

/// Writes the report files (`index.html`, plots, timeline) next to the run's data files.
pub fn write_report(
    data: &RunData,
    out: &Path,
    traced: bool,
    history_written: bool,
    png: bool,
) -> Result<(), String> {
    let options = reports::ReportOptions {
        png,
        history_file: history_written.then(|| "history.jsonl".to_string()),
        trace_file: traced.then(|| "trace.log".to_string()),
        summary_file: Some("summary.json".to_string()),
        other_files: [
            ("history.edn", "the client history in Jepsen's EDN"),
            ("linearizability.txt", "the history checker's explanation"),
        ]
        .into_iter()
        .filter(|(file, _)| out.join(file).exists())
        .map(|(file, what)| (file.to_string(), what.to_string()))
        .collect(),
        messages_by_kind: data
            .stats
            .messages_by_kind
            .iter()
            .map(|(kind, sent)| reports::MessageCount {
                kind: kind.clone(),
                sent: *sent,
            })
            .collect(),
        messages: traced
            .then(|| fs::read_to_string(out.join("trace.log")).ok())
            .flatten()
            .map(|trace| reports::messages::messages_of_trace(&trace)),
        ..reports::ReportOptions::default()
    };
    let files = reports::render_run(data, &options).map_err(|e| e.to_string())?;
    for file in files {
        let path = out.join(&file.name);
        fs::write(&path, &file.contents).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// Prints the run's summary and where its files are (the report only when one was written,
/// into `report`).
pub fn print_summary(
    scenario: &Scenario,
    data: &RunData,
    wall: std::time::Duration,
    out: &Path,
    report: Option<&Path>,
    checked: bool,
) {
    let stats = &data.stats;
    let seconds = wall.as_secs_f64().max(1e-9);
    println!(
        "scenario {} ({}, {} workload, {} nodes), seed {}",
        data.scenario, data.protocol, data.workload, data.node_count, data.seed
    );
    println!("verdict: {}", data.verdict);
    if let Some(expected) = &scenario.expect {
        let matches = expected == data.verdict.kind();
        println!(
            "expected: {expected} ({})",
            if matches { "as expected" } else { "DIFFERENT" }
        );
    }
    println!(
        "operations: {} ok, {} fail, {} refused, {} info; availability {}",
        stats.operations_ok,
        stats.operations_fail,
        stats.operations_refused,
        stats.operations_info,
        stats
            .availability()
            .map_or("-".to_string(), |share| format!("{:.1}%", share * 100.0))
    );
    println!(
        "messages: {} sent, {} delivered, {} dropped, {} duplicated",
        stats.messages_sent,
        stats.messages_delivered,
        stats.messages_dropped,
        stats.messages_duplicated
    );
    println!(
        "events: {} over {} s simulated; wall {:.3} s ({:.0} events/s)",
        stats.events,
        stats.simulated_time,
        seconds,
        stats.events as f64 / seconds
    );
    if let Some(peak) = peak_memory_kib() {
        println!("peak memory: {:.1} MiB", peak as f64 / 1024.0);
    }
    println!(
        "fingerprint: {}{}",
        data.fingerprint,
        if checked {
            " (deterministic: two runs agree)"
        } else {
            ""
        }
    );
    match report {
        Some(dir) => println!("report: {}", dir.join("index.html").display()),
        None => println!("files: {}", out.display()),
    }
    println!("reproduce: {}", data.reproduce);
}

/// The process's peak resident memory in KiB (`VmHWM` on Linux), if the system tells.
pub fn peak_memory_kib() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs twice; `Ok(None)` when both agree, otherwise a readable account of the first divergence.
fn check_determinism(scenario: &Scenario, seed: u64, out: &Path) -> Result<Option<String>, String> {
    let path = Path::new("scenario");
    let first = run_once(scenario, seed, None, path, &mut Phases::default())?;
    let second = run_once(scenario, seed, None, path, &mut Phases::default())?;
    if first.fingerprint == second.fingerprint && first.history == second.history {
        return Ok(None);
    }
    // Run both again with traces and find the first line where they part.
    let traces = [out.join("determinism-a.log"), out.join("determinism-b.log")];
    run_once(
        scenario,
        seed,
        Some(&traces[0]),
        path,
        &mut Phases::default(),
    )?;
    run_once(
        scenario,
        seed,
        Some(&traces[1]),
        path,
        &mut Phases::default(),
    )?;
    let open = |p: &Path| {
        fs::File::open(p)
            .map(std::io::BufReader::new)
            .map_err(|e| format!("{}: {e}", p.display()))
    };
    let divergence = first_divergence(open(&traces[0])?, open(&traces[1])?)
        .map_err(|e| format!("reading the traces: {e}"))?
        .unwrap_or_else(|| {
            format!(
                "the traces agree line for line, yet the fingerprints ({} vs {}) or histories differ",
                first.fingerprint, second.fingerprint
            )
        });
    Ok(Some(format!(
        "{divergence}\n(traces: {} and {})",
        traces[0].display(),
        traces[1].display()
    )))
}

/// The first line where two traces differ, streamed (traces can be far larger than memory), or
/// `None` when they are identical.
fn first_divergence(
    first: impl std::io::BufRead,
    second: impl std::io::BufRead,
) -> std::io::Result<Option<String>> {
    let mut first = first.lines();
    let mut second = second.lines();
    let mut number = 0usize;
    loop {
        number += 1;
        match (first.next().transpose()?, second.next().transpose()?) {
            (None, None) => return Ok(None),
            (Some(a), Some(b)) if a == b => continue,
            (Some(a), Some(b)) => {
                return Ok(Some(format!(
                    "first divergent event, line {number}:\n  run 1: {a}\n  run 2: {b}"
                )))
            }
            (Some(a), None) => {
                return Ok(Some(format!(
                    "run 2 ended at line {number}; run 1 went on with: {a}"
                )))
            }
            (None, Some(b)) => {
                return Ok(Some(format!(
                    "run 1 ended at line {number}; run 2 went on with: {b}"
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::first_divergence;

    fn diverge(a: &str, b: &str) -> Option<String> {
        first_divergence(a.as_bytes(), b.as_bytes()).unwrap()
    }

    #[test]
    fn names_the_first_line_where_traces_part() {
        let a = "0.1 start n0\n0.2 timer n0 Election\n0.3 deliver n0->n1 X\n";
        let b = "0.1 start n0\n0.2 timer n0 Election\n0.3 deliver n0->n2 X\n";
        assert_eq!(
            diverge(a, b).unwrap(),
            "first divergent event, line 3:\n  run 1: 0.3 deliver n0->n1 X\n  run 2: 0.3 deliver n0->n2 X"
        );
    }

    #[test]
    fn a_trace_that_stops_early_is_a_divergence_too() {
        let a = "0.1 start n0\n";
        let b = "0.1 start n0\n0.5 stop\n";
        assert_eq!(
            diverge(a, b).unwrap(),
            "run 1 ended at line 2; run 2 went on with: 0.5 stop"
        );
        assert_eq!(diverge(a, a), None);
    }
}
