//! `detsim replay`: rerun a failure artifact and confirm it reproduces exactly.
//!
//! The artifact's scenario already holds the expanded fault schedule, so a replay does not
//! depend on the swarm generator: it is one ordinary run of that scenario with the artifact's
//! seed. The replay reproduces when the fingerprint and the verdict are the same as recorded.

use crate::artifact::{self, Artifact};
use crate::run_command::{prepare_out, print_summary, run_once, write_files, write_report};
use crate::ExitStatus;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `detsim replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// The artifact (`failures/seed-N.json` from `detsim fuzz`).
    pub artifact: PathBuf,
    /// Also write the full trace, `summary.json`, `history.jsonl` and the report (`index.html`,
    /// plots) here, as `detsim run` does.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// With `--out`, do not write `trace.log`.
    #[arg(long)]
    pub no_trace: bool,
}

/// Runs the command. The exit code is the verdict's (as for `detsim run`) when the replay
/// reproduces the artifact, and 8 when the fingerprint or verdict differs.
pub fn execute(args: &ReplayArgs) -> ExitStatus {
    let (artifact, scenario) = match Artifact::load(&args.artifact) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitStatus::InputError;
        }
    };
    let version = env!("CARGO_PKG_VERSION");
    if artifact.detsim_version != version {
        eprintln!(
            "warning: {}: recorded by detsim {}, replaying with {version}; runs are exact only \
             within one version",
            args.artifact.display(),
            artifact.detsim_version
        );
    }
    if let Some(out) = &args.out {
        if let Err(error) = prepare_out(out) {
            eprintln!("error: {error}");
            return ExitStatus::InputError;
        }
    }
    let trace_path = args
        .out
        .as_ref()
        .filter(|_| !args.no_trace)
        .map(|out| out.join("trace.log"));
    #[allow(clippy::disallowed_methods)] // Wall time is printed, never used by the simulation.
    let started = std::time::Instant::now();
    let data = match run_once(
        &scenario,
        artifact.seed,
        trace_path.as_deref(),
        &args.artifact,
        &mut crate::registry::Phases::default(),
    ) {
        Ok(mut data) => {
            data.reproduce = artifact::replay_command(&args.artifact);
            data
        }
        Err(error) => {
            eprintln!("error: {error}");
            return ExitStatus::InputError;
        }
    };
    let wall = started.elapsed();
    if let Some(out) = &args.out {
        if let Err(error) = write_files(&data, out, sim::history_files::HistoryFormats::BOTH) {
            eprintln!("error: writing {}: {error}", out.display());
            return ExitStatus::InputError;
        }
        if let Err(error) = write_report(&data, out, trace_path.is_some(), true, false) {
            eprintln!("error: writing the report into {}: {error}", out.display());
            return ExitStatus::InputError;
        }
        print_summary(&scenario, &data, wall, out, Some(out), false);
    }
    let same_fingerprint = data.fingerprint == artifact.fingerprint;
    let same_verdict = data.verdict == artifact.verdict;
    println!(
        "replay of {} (seed {}): {}",
        args.artifact.display(),
        artifact.seed,
        data.verdict
    );
    println!(
        "fingerprint: {} (recorded {}){}",
        data.fingerprint,
        artifact.fingerprint,
        if same_fingerprint { "" } else { " DIFFERENT" }
    );
    if same_fingerprint && same_verdict {
        println!("reproduced: same fingerprint, same verdict");
        data.verdict.exit_status()
    } else {
        println!(
            "NOT reproduced: recorded verdict {}, replay gave {}",
            artifact.verdict, data.verdict
        );
        ExitStatus::NotReproduced
    }
}
