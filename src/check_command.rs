//! `detsim check`: check history files for linearizability.
//!
//! Each file gets one line: verdict, operation count, search steps, the search's peak memory
//! and the wall time of the check; a violation is followed by its explanation. A file that
//! cannot be read is reported on standard error with its line and column, and the other files
//! are still checked; so is a directory without history files. `-` reads standard input.
//! Control characters from the input are escaped in everything printed. Exit code: 1 if any
//! history is not linearizable; otherwise 2 if any verdict is unknown or any file could not be
//! checked; otherwise 0.

use check::read::{read_history, read_history_file, Format, ReadHistory};
use check::{
    check_parallel, explain, CasRegister, CheckOptions, CheckResult, Counter, EtcdRegister,
    Exhausted, HistoryError, KeyValue, Model, MultiRegister, Mutex, Register, Verdict,
};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The models `detsim check` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModelName {
    /// Knossos's compare-and-set register: read, write, cas [from to]; a read of nil matches any value.
    CasRegister,
    /// Like cas-register, but a read of nil means the register holds nil (lost or never written).
    CasRegisterStrict,
    /// Knossos's register: read and write.
    Register,
    /// Porcupine's etcd register: a read of nil means absent; a failed cas saw another value.
    Etcd,
    /// Key-value map: get, put, append on strings, partitioned by key.
    Kv,
    /// Knossos's mutex: acquire and release.
    Mutex,
    /// A counter: add (or increment) and read.
    Counter,
    /// Knossos's multi-register: txn of [:r k v] and [:w k v] micro-operations on named registers.
    MultiRegister,
}

/// History file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatName {
    /// Guess from the contents.
    Auto,
    /// Jepsen EDN (also Porcupine's key-value logs).
    Edn,
    /// detsim's JSON Lines.
    Jsonl,
    /// Porcupine's (Jepsen's) etcd logs.
    EtcdLog,
}

/// Arguments of `detsim check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// History files or directories (every .edn, .jsonl, .json, .log and .txt file in them);
    /// `-` reads standard input.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The model to check against.
    #[arg(long, value_enum, default_value = "cas-register")]
    pub model: ModelName,
    /// Initial value of a register, in EDN (default nil).
    #[arg(long)]
    pub initial: Option<String>,
    /// Most search steps per partition before the verdict is unknown.
    #[arg(long, default_value_t = CheckOptions::default().budget)]
    pub budget: u64,
    /// Most bytes the search's structures may hold per partition before the verdict is unknown:
    /// a byte count or a size such as 512MiB or 2GiB. Counted, not measured, so the verdict is
    /// the same on every machine.
    #[arg(long, default_value = "1GiB", value_parser = check::parse_memory)]
    pub memory_limit: u64,
    /// Input format.
    #[arg(long, value_enum, default_value = "auto")]
    pub format: FormatName,
    /// Threads for checking independent partitions (keys); the result is the same for any number.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Print one JSON object per file instead of text.
    #[arg(long)]
    pub json: bool,
    /// Jepsen independent keys: every client value is a `[key value]` tuple; check each key
    /// as its own object.
    #[arg(long)]
    pub independent: bool,
}

/// What happened to one file.
enum FileOutcome {
    Checked {
        read: Box<ReadHistory>,
        result: Box<CheckResult>,
        elapsed: Duration,
    },
    Failed(String),
}

/// Runs the command; returns the process exit code.
pub fn execute(args: &CheckArgs) -> u8 {
    let initial = match &args.initial {
        Some(text) => match check::edn::parse_value(text) {
            Ok(value) => value,
            Err(error) => {
                eprintln!("detsim check: --initial {text:?}: {error}");
                return 2;
            }
        },
        None => check::history::Value::Nil,
    };
    if args.initial.is_some()
        && !matches!(
            args.model,
            ModelName::CasRegister | ModelName::CasRegisterStrict | ModelName::Register
        )
    {
        eprintln!("detsim check: --initial applies only to the register models");
        return 2;
    }
    let (files, empty) = match expand(&args.files) {
        Ok(found) => found,
        Err(message) => {
            eprintln!("detsim check: {}", escape(&message));
            return 2;
        }
    };
    let options = CheckOptions {
        budget: args.budget,
        memory: args.memory_limit,
    };
    let format = match args.format {
        FormatName::Auto => None,
        FormatName::Edn => Some(Format::Edn),
        FormatName::Jsonl => Some(Format::JsonLines),
        FormatName::EtcdLog => Some(Format::EtcdLog),
    };
    let mut exit = 0u8;
    for directory in &empty {
        eprintln!(
            "error: {}: no histories found",
            escape(&directory.display().to_string())
        );
        exit = 2;
    }
    for path in &files {
        let outcome = check_file(path, format, args, &initial, &options);
        let code = match &outcome {
            FileOutcome::Checked { result, .. } => match result.verdict {
                Verdict::Linearizable => 0,
                Verdict::NotLinearizable => 1,
                Verdict::Unknown => 2,
            },
            FileOutcome::Failed(_) => 2,
        };
        // A violation outranks everything; an unknown or an error outranks success.
        exit = match (exit, code) {
            (1, _) | (_, 1) => 1,
            (2, _) | (_, 2) => 2,
            _ => 0,
        };
        if let FileOutcome::Failed(message) = &outcome {
            // The message names the file (and the line and column, where there are some).
            eprintln!("error: {}", escape(message));
        }
        if args.json {
            println!("{}", json_line(path, &outcome));
        } else {
            print!("{}", text(path, &outcome));
        }
    }
    exit
}

/// Files named, with directories replaced by the history files under them, sorted; and the
/// directories that hold none.
fn expand(paths: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<PathBuf>), String> {
    let mut files = Vec::new();
    let mut empty = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            collect(path, &mut found).map_err(|error| format!("{}: {error}", path.display()))?;
            if found.is_empty() {
                empty.push(path.clone());
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok((files, empty))
}

/// `text` with control characters (but line breaks) escaped, so that bytes from a history
/// cannot drive the terminal.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Reads a history file, or standard input for `-`.
fn read_input(path: &Path, format: Option<Format>) -> Result<ReadHistory, String> {
    if path.as_os_str() != "-" {
        return read_history_file(path, format).map_err(|error| error.to_string());
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
        .map_err(|error| format!("-: {error}"))?;
    let text = String::from_utf8(bytes).map_err(|_| "-: not UTF-8 text".to_string())?;
    read_history(&text, format).map_err(|error| format!("-:{error}"))
}

fn collect(directory: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(directory)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, found)?;
        } else if path
            .extension()
            .and_then(|extension| extension.to_str())
            .is_some_and(|extension| matches!(extension, "edn" | "jsonl" | "json" | "log" | "txt"))
        {
            found.push(path);
        }
    }
    Ok(())
}

fn check_file(
    path: &Path,
    format: Option<Format>,
    args: &CheckArgs,
    initial: &check::history::Value,
    options: &CheckOptions,
) -> FileOutcome {
    let (model, threads) = (args.model, args.threads);
    let mut read = match read_input(path, format) {
        Ok(read) => read,
        Err(message) => return FileOutcome::Failed(message),
    };
    if args.independent {
        if let Err(error) = read.history.split_independent() {
            let position = read
                .positions
                .get(error.index())
                .copied()
                .unwrap_or_default();
            return FileOutcome::Failed(format!("{}:{position}: {error}", path.display()));
        }
    }
    // Wall time, only to print it: the verdict never depends on it.
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let result = match model {
        ModelName::CasRegister => run(&read, &CasRegister::new(initial.clone()), options, threads),
        ModelName::CasRegisterStrict => run(
            &read,
            &CasRegister::strict(initial.clone()),
            options,
            threads,
        ),
        ModelName::Register => run(
            &read,
            &Register {
                initial: initial.clone(),
            },
            options,
            threads,
        ),
        ModelName::Etcd => run(&read, &EtcdRegister, options, threads),
        ModelName::Kv => run(&read, &KeyValue, options, threads),
        ModelName::Mutex => run(&read, &Mutex, options, threads),
        ModelName::Counter => run(&read, &Counter, options, threads),
        ModelName::MultiRegister => run(&read, &MultiRegister, options, threads),
    };
    let elapsed = started.elapsed();
    match result {
        Ok(result) => FileOutcome::Checked {
            read: Box::new(read),
            result: Box::new(result),
            elapsed,
        },
        Err(error) => {
            let position = read
                .positions
                .get(error.index())
                .copied()
                .unwrap_or_default();
            FileOutcome::Failed(format!("{}:{position}: {error}", path.display()))
        }
    }
}

fn run<M>(
    read: &ReadHistory,
    model: &M,
    options: &CheckOptions,
    threads: usize,
) -> Result<CheckResult, HistoryError>
where
    M: Model + Sync,
    M::Op: Send + Sync,
{
    check_parallel(&read.history, model, options, threads)
}

fn text(path: &Path, outcome: &FileOutcome) -> String {
    match outcome {
        // Reported on standard error.
        FileOutcome::Failed(_) => String::new(),
        FileOutcome::Checked {
            read,
            result,
            elapsed,
        } => {
            let mut out = format!(
                "{}: {}, {} operations, {} steps, {}, {:.3} ms\n",
                path.display(),
                result.verdict,
                result.operations.len(),
                result.steps,
                memory_text(result.peak_memory),
                elapsed.as_secs_f64() * 1e3
            );
            if result.verdict != Verdict::Linearizable {
                if let Some(entry) = result.stuck_entry() {
                    if let Some(position) = read.positions.get(entry) {
                        out.push_str(&format!(
                            "  the operation invoked at {}:{position}\n",
                            path.display()
                        ));
                    }
                }
                for line in explain(result).lines() {
                    out.push_str("  ");
                    out.push_str(line);
                    out.push('\n');
                }
            }
            escape(&out)
        }
    }
}

/// A byte count for people.
fn memory_text(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
        _ => format!("{:.2} GiB", bytes as f64 / 1_073_741_824.0),
    }
}

fn json_line(path: &Path, outcome: &FileOutcome) -> serde_json::Value {
    let file = path.display().to_string();
    match outcome {
        FileOutcome::Failed(message) => serde_json::json!({
            "file": file,
            "verdict": "error",
            "error": message,
        }),
        FileOutcome::Checked {
            read,
            result,
            elapsed,
        } => {
            let verdict = match result.verdict {
                Verdict::Linearizable => "linearizable",
                Verdict::NotLinearizable => "not-linearizable",
                Verdict::Unknown => "unknown",
            };
            let violation = result.violation.as_ref().map(|violation| {
                let stuck = &result.named[&violation.operation];
                let position = read
                    .positions
                    .get(stuck.invoke)
                    .copied()
                    .unwrap_or_default();
                serde_json::json!({
                    "key": violation.key.as_ref().map(ToString::to_string),
                    "operation": stuck.to_string(),
                    "entry": stuck.invoke,
                    "line": position.line,
                    "column": position.column,
                    "state": violation.state,
                    "prefix": violation.prefix.iter().map(|(operation, state)| serde_json::json!({
                        "operation": result.named[operation].to_string(),
                        "entry": result.operations[*operation].invoke,
                        "state": state,
                    })).collect::<Vec<_>>(),
                })
            });
            serde_json::json!({
                "file": file,
                "verdict": verdict,
                "operations": result.operations.len(),
                "steps": result.steps,
                "peak_memory": result.peak_memory,
                "exhausted": match result.exhausted {
                    Some(Exhausted::Steps) => Some("steps"),
                    Some(Exhausted::Memory) => Some("memory"),
                    None => None,
                },
                "time_ms": elapsed.as_secs_f64() * 1e3,
                "violation": violation,
                "explanation": explain(result),
            })
        }
    }
}
