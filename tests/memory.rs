//! Peak memory grows with the history, not with the event count. Release-build runs of a few
//! seconds each, so the test is ignored by default:
//! `cargo test --release --test memory -- --ignored`.

use std::path::Path;
use std::process::Command;

/// Runs a fixture and returns (events, operations ok, peak memory in MiB).
fn run(name: &str) -> (u64, u64, f64) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("memory-{name}"));
    let output = Command::new(env!("CARGO_BIN_EXE_detsim"))
        .arg("run")
        .arg(root.join(format!("tests/fixtures/memory/{name}.toml")))
        .args(["--no-trace", "--no-report", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(0), "{name}: {stdout}");
    let field = |prefix: &str| -> String {
        let line = stdout.lines().find(|l| l.starts_with(prefix)).unwrap();
        line[prefix.len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    let events: u64 = field("events: ").parse().unwrap();
    let ok: u64 = field("operations: ").parse().unwrap();
    let peak: f64 = field("peak memory: ").parse().unwrap();
    println!("{name}: {events} events, {ok} operations ok, peak {peak:.1} MiB");
    (events, ok, peak)
}

#[test]
#[ignore = "long runs: cargo test --release --test memory -- --ignored"]
fn peak_memory_follows_the_history_not_the_event_count() {
    let (events, ok, peak) = run("raft-long");
    assert!(events >= 10_000_000, "only {events} events");
    assert!(peak < 100.0, "a {events}-event run peaked at {peak:.1} MiB");

    // Four times the events, the same history: the same memory, within a few percent.
    let (more_events, same_ok, peak_more_events) = run("raft-long-fast-heartbeats");
    assert!(more_events > 3 * events);
    assert!(same_ok.abs_diff(ok) < ok / 100);
    assert!(
        (peak_more_events - peak).abs() < peak * 0.05,
        "{peak_more_events} vs {peak}"
    );

    // A tenth of the history: far less memory.
    let (_, tenth_ok, peak_tenth) = run("raft-short");
    assert!(tenth_ok * 9 < ok);
    assert!(peak_tenth * 3.0 < peak, "{peak_tenth} vs {peak}");
}
