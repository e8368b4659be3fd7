//! Generated hard histories (see `check::stress`): per history, the verdict, search steps, the
//! check's wall time, the search's peak memory (the deterministic count the memory limit
//! applies to) and the process's peak resident memory so far (VmHWM). Run with
//! `cargo bench -p check --bench stress`; `STRESS_SET=concurrency` (or `open`, `long`, `easy`)
//! runs one set. Every history is checked with the default limits (100 million steps, 1 GiB).

use check::stress::{generate, Object, Shape};
use check::{check, CasRegister, CheckOptions, CheckResult, KeyValue};
use std::time::{Duration, Instant};

/// Wall time, only to print it: the verdict never depends on it.
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn run(name: &str, shape: Shape) {
    let history = generate(&shape);
    let started = now();
    let result: CheckResult = match shape.object {
        Object::Register => check(
            &history,
            &CasRegister::new(check::history::Value::Nil),
            &CheckOptions::default(),
        ),
        Object::KeyValue => check(&history, &KeyValue, &CheckOptions::default()),
    }
    .expect("generated histories are well-formed");
    let elapsed: Duration = started.elapsed();
    let verdict = match (result.verdict, result.exhausted) {
        (check::Verdict::Unknown, Some(check::Exhausted::Memory)) => "unknown (memory)".to_string(),
        (check::Verdict::Unknown, _) => "unknown (steps)".to_string(),
        (verdict, _) => verdict.to_string(),
    };
    println!(
        "{name:<34} {:>7} ops  {:>18}  {:>11} steps  {:>10.1} ms  {:>9.0} ns/op  search {:>9.1} MiB  VmHWM {:>7.1} MiB",
        result.operations.len(),
        verdict,
        result.steps,
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e9 / result.operations.len().max(1) as f64,
        result.peak_memory as f64 / 1_048_576.0,
        peak_rss_kib() as f64 / 1024.0,
    );
}

fn main() {
    let set = std::env::var("STRESS_SET").unwrap_or_default();
    let wants = |name: &str| set.is_empty() || set == name;
    if wants("easy") {
        // Operations rarely overlap: the cost per operation of an easy history.
        for (operations, violation) in [(100_000, false), (100_000, true)] {
            let shape = Shape {
                think: 40,
                clients: 3,
                violation,
                ..Shape::register(operations, 3)
            };
            run(
                &format!(
                    "easy register {operations} {}",
                    if violation { "bad" } else { "ok" }
                ),
                shape,
            );
        }
    }
    if wants("concurrency") {
        for clients in [20, 25, 30] {
            for violation in [false, true] {
                let shape = Shape {
                    violation,
                    ..Shape::register(2_000, clients)
                };
                run(
                    &format!(
                        "register 2000 c{clients} {}",
                        if violation { "bad" } else { "ok" }
                    ),
                    shape,
                );
            }
        }
    }
    if wants("open") {
        for open in [10, 20, 40] {
            for violation in [false, true] {
                let shape = Shape {
                    open,
                    violation,
                    ..Shape::register(2_000, 10)
                };
                run(
                    &format!(
                        "register 2000 c10 open{open} {}",
                        if violation { "bad" } else { "ok" }
                    ),
                    shape,
                );
            }
        }
    }
    if wants("long") {
        for violation in [false, true] {
            let shape = Shape {
                object: Object::KeyValue,
                violation,
                ..Shape::register(10_000, 10)
            };
            run(
                &format!(
                    "kv one key 10000 c10 {}",
                    if violation { "bad" } else { "ok" }
                ),
                shape,
            );
        }
        for violation in [false, true] {
            let shape = Shape {
                open: 100,
                violation,
                ..Shape::register(100_000, 10)
            };
            run(
                &format!(
                    "register 100000 c10 open100 {}",
                    if violation { "bad" } else { "ok" }
                ),
                shape,
            );
        }
    }
}
