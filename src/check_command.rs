//! `detsim check`: check history files for linearizability.

use clap::Args;

/// Arguments of `detsim check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// History files or directories.
    pub files: Vec<std::path::PathBuf>,
}

/// Runs the command; returns the process exit code.
pub fn execute(_args: &CheckArgs) -> u8 {
    eprintln!("detsim check: not built yet");
    2
}
