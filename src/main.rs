//! The `detsim` command line.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod check_command;

/// detsim: a deterministic simulation testbed for consensus protocols.
#[derive(Parser, Debug)]
#[command(name = "detsim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check history files for linearizability.
    Check(check_command::CheckArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Check(args) => check_command::execute(&args),
    };
    ExitCode::from(code)
}
