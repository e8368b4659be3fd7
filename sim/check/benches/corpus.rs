//! Checks the whole Porcupine corpus and prints, per file, the verdict, operation count,
//! search steps and time, then totals for the etcd set and the key-value set and the peak
//! memory of the process. Run with `cargo bench -p check`.
//!
//! Each file is checked `CHECK_BENCH_RUNS` times (default 5); the time printed is the fastest
//! run, which is the least disturbed by other processes on a shared machine. Reading and
//! parsing are timed apart from checking. `CHECK_BENCH_SET=jepsen` (or `kv`) runs one set.

use check::read::read_history_file;
use check::{check, CheckOptions, CheckResult, EtcdRegister, KeyValue};
use std::path::Path;
use std::time::{Duration, Instant};

fn corpus() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus/porcupine")
}

/// Wall time, only to print it: the verdict never depends on it.
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

fn files(set: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(corpus().join(set))
        .expect("corpus directory")
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    files.sort();
    files
}

struct Totals {
    operations: usize,
    steps: u64,
    check: Duration,
    parse: Duration,
}

fn run_set(set: &str, runs: usize) -> Totals {
    let mut totals = Totals {
        operations: 0,
        steps: 0,
        check: Duration::ZERO,
        parse: Duration::ZERO,
    };
    for path in files(set) {
        let started = now();
        let read = read_history_file(&path, None).expect("corpus file reads");
        totals.parse += started.elapsed();
        let mut fastest = Duration::MAX;
        let mut last: Option<CheckResult> = None;
        for _ in 0..runs {
            let started = now();
            let result = if set == "jepsen" {
                check(&read.history, &EtcdRegister, &CheckOptions::default())
            } else {
                check(&read.history, &KeyValue, &CheckOptions::default())
            }
            .expect("corpus history is well-formed");
            fastest = fastest.min(started.elapsed());
            last = Some(result);
        }
        let result = last.expect("at least one run");
        println!(
            "{:<22} {:>5} ops {:>18} {:>10} steps {:>9.3} ms",
            format!("{set}/{}", path.file_name().unwrap().to_string_lossy()),
            result.operations.len(),
            result.verdict.to_string(),
            result.steps,
            fastest.as_secs_f64() * 1e3
        );
        totals.operations += result.operations.len();
        totals.steps += result.steps;
        totals.check += fastest;
    }
    totals
}

fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM"))
                .map(|line| {
                    line.split_whitespace()
                        .skip(1)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
        })
        .unwrap_or_else(|| "unavailable".to_string())
}

fn main() {
    let runs: usize = std::env::var("CHECK_BENCH_RUNS")
        .ok()
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(5)
        .max(1);
    let mut summary = Vec::new();
    let only = std::env::var("CHECK_BENCH_SET").ok();
    for set in ["jepsen", "kv"] {
        if only.as_deref().is_some_and(|only| only != set) {
            continue;
        }
        let totals = run_set(set, runs);
        summary.push(format!(
            "total {set:<6}: {:>5} ops {:>10} steps  check {:>8.3} ms  (parse {:.3} ms)",
            totals.operations,
            totals.steps,
            totals.check.as_secs_f64() * 1e3,
            totals.parse.as_secs_f64() * 1e3
        ));
    }
    for line in summary {
        println!("{line}");
    }
    println!("peak memory (VmHWM): {}", peak_memory());
}
