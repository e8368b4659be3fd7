//! The `detsim` command line, as a library.
//!
//! The `detsim` binary is [`main`]. A crate of your own that depends on `detsim` gets the whole
//! command line (`run`, `fuzz`, `replay`, `shrink`, `check`, `bench`, `list`, ...) for its own
//! protocols, invariants and workloads by registering them and calling [`main_with`]:
//!
//! ```no_run
//! use detsim::registry::{entry, Registered};
//! use protocols::unreplicated::Unreplicated;
//! use sim::invariants::NoInvariants;
//! use sim::workload::counter::Counters;
//!
//! fn main() -> std::process::ExitCode {
//!     // Your protocol types here; detsim's own protocols stay registered too.
//!     let mine: Vec<&'static dyn Registered> = vec![entry::<Unreplicated<Counters>, NoInvariants>()];
//!     detsim::main_with(mine)
//! }
//! ```
//!
//! `examples/byo-protocol/` is a complete crate that does this, with a protocol of its own, a
//! scenario and a test.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod artifact;
mod bench_command;
mod bugs_command;
mod campaign;
mod check_command;
mod compare_command;
mod explain_command;
mod fuzz_command;
#[cfg(test)]
mod fuzz_harness;
mod load;
mod merge_command;
pub mod registry;
mod replay_command;
mod run_command;
mod shrink_command;

/// detsim: a deterministic simulation testbed for consensus protocols.
#[derive(Parser, Debug)]
#[command(name = "detsim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one scenario with one seed: simulate, check, write files, print a summary.
    Run(run_command::RunArgs),
    /// Check history files for linearizability.
    Check(check_command::CheckArgs),
    /// Measure the engine's events per second beside a bare event loop's.
    Bench(bench_command::BenchArgs),
    /// List the protocols detsim can run and their planted bugs.
    List,
    /// Run a scenario over many seeds in parallel; save every failure as an artifact.
    Fuzz(fuzz_command::FuzzArgs),
    /// Run protocols side by side on identical environments over many seeds; write a
    /// comparison report (compare.html, compare.md, compare.json).
    Compare(compare_command::CompareArgs),
    /// Run a scenario with each planted bug of its protocol over many seeds: per bug, the first
    /// failing seed, the share of seeds that catch it and what caught it.
    Bugs(bugs_command::BugsArgs),
    /// Rerun a failure artifact and confirm its fingerprint and verdict.
    Replay(replay_command::ReplayArgs),
    /// Minimise a failure artifact to a small scenario that still fails the same way.
    Shrink(shrink_command::ShrinkArgs),
    /// Explain a failure: the operations or nodes involved and what happened before it.
    Explain(explain_command::ExplainArgs),
    /// Combine the results of fuzz shards into one file sorted by seed.
    Merge(merge_command::MergeArgs),
}

/// Process exit codes: one table, in the engine crate, from verdicts and commands to codes.
pub use sim::outcome::ExitStatus;

/// Restores the default action of SIGPIPE, so `detsim ... | head` ends quietly like other Unix
/// tools instead of panicking on a closed standard output (Rust ignores SIGPIPE by default).
#[cfg(unix)]
fn restore_sigpipe() {
    extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
    }
    const SIGPIPE: i32 = 13;
    const SIG_DFL: usize = 0;
    // SAFETY: setting a signal's disposition to the default is async-signal-safe and has no
    // preconditions; nothing else in the process installs a SIGPIPE handler.
    unsafe {
        signal(SIGPIPE, SIG_DFL);
    }
}

#[cfg(not(unix))]
fn restore_sigpipe() {}

/// The `detsim` command line with detsim's own protocols.
pub fn main() -> ExitCode {
    main_with(Vec::new())
}

static PROGRAM: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The program the reproduce and replay commands name: `detsim`, or the binary of a crate that
/// registers protocols of its own through [`main_with`].
pub fn program() -> &'static str {
    PROGRAM.get().map_or("detsim", String::as_str)
}

/// Campaigns run many simulations, and a panic in one (a planted bug's assertion, say) is that
/// run's `panic` verdict, reported in the campaign's results and artifacts: the default hook's
/// message and backtrace note on standard error would only bury the campaign's own output.
/// Panics outside a simulation still speak. (`detsim run` and `replay` keep the default hook,
/// whose message names the panic's source line.)
fn quiet_simulation_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !sim::world::simulating() {
            default(info);
        }
    }));
}

/// The `detsim` command line with `extra` (protocol, workload) pairings registered beside
/// detsim's own (see [`registry::entry`]). A pairing whose protocol name and workload kind are
/// already registered replaces the built-in one.
pub fn main_with(extra: Vec<&'static dyn registry::Registered>) -> ExitCode {
    if !extra.is_empty() {
        // A crate of one's own: the commands printed to reproduce a failure name its binary.
        let name = std::env::args_os()
            .next()
            .and_then(|arg0| {
                let path = std::path::PathBuf::from(arg0);
                Some(path.file_name()?.to_string_lossy().into_owned())
            })
            .filter(|name| !name.is_empty());
        if let Some(name) = name {
            let _ = PROGRAM.set(name);
        }
    }
    registry::install(extra);
    restore_sigpipe();
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Run(args) => run_command::execute(&args) as u8,
        Command::Check(args) => check_command::execute(&args),
        Command::Bench(args) => bench_command::execute(&args) as u8,
        Command::Fuzz(args) => {
            quiet_simulation_panics();
            fuzz_command::execute(&args) as u8
        }
        Command::Compare(args) => {
            quiet_simulation_panics();
            compare_command::execute(&args) as u8
        }
        Command::Bugs(args) => {
            quiet_simulation_panics();
            bugs_command::execute(&args) as u8
        }
        Command::Replay(args) => replay_command::execute(&args) as u8,
        Command::Shrink(args) => {
            quiet_simulation_panics();
            shrink_command::execute(&args) as u8
        }
        Command::Explain(args) => explain_command::execute(&args) as u8,
        Command::Merge(args) => merge_command::execute(&args) as u8,
        Command::List => {
            registry::list(&mut std::io::stdout().lock());
            0
        }
    };
    ExitCode::from(code)
}
