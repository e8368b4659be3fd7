//! `detsim explain`: why a failure happened, in words.
//!
//! Reruns a failure artifact (or a scenario file with its seed, such as a shrunk one) and prints
//! the cause — for a linearizability violation the operation that cannot be placed and the
//! operations it conflicts with, each with the node that served it; for an invariant, the
//! violation's nodes, terms and indexes — and a short causal narrative: faults, leaders and
//! the operations named, in time order up to the violation (see `reports::explain`).

use crate::run_command::run_traced;
use crate::shrink_command::load_input;
use crate::ExitStatus;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `detsim explain`.
#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// The failure artifact (`failures/seed-N.json`) or a scenario file (`.toml`) whose `seed`
    /// fails, such as the one `detsim shrink` writes.
    pub artifact: PathBuf,
}

/// Runs the command: 0 when a failure was explained, 8 when the run passes (nothing to
/// explain), 2 for a bad input.
pub fn execute(args: &ExplainArgs) -> ExitStatus {
    let input = match load_input(&args.artifact) {
        Ok(input) => input,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitStatus::InputError;
        }
    };
    let data = match run_traced(&input.scenario, input.seed, None) {
        Ok(data) => data,
        Err(error) => {
            eprintln!("error: {}: {error}", args.artifact.display());
            return ExitStatus::InputError;
        }
    };
    println!(
        "{} (seed {}): {}",
        args.artifact.display(),
        input.seed,
        data.verdict
    );
    match reports::explain::explain(&data) {
        Some(explanation) => {
            println!();
            print!("{}", reports::explain::text(&explanation));
            ExitStatus::Pass
        }
        None => {
            eprintln!(
                "{}: the run passes: there is no failure to explain",
                args.artifact.display()
            );
            ExitStatus::NotReproduced
        }
    }
}
