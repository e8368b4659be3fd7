//! Regression tests, one per defect found by trying detsim as a demanding user would: input that
//! passed validation yet crashed the engine, liveness false alarms for want of requests, `shrink`
//! accepting an artifact that no longer fails as recorded, stale files in a reused `--out`, and
//! error messages that did not say what was expected.

mod fuzz_support;

use fuzz_support::*;
use std::path::{Path, PathBuf};

const BASE: &str = r#"[protocol]
name = "unreplicated"

[cluster]
nodes = 3

[run]
duration = "2s"
"#;

fn with_fault(fault: &str) -> String {
    format!("{BASE}\n[[faults]]\nat = \"1s\"\n{fault}\n")
}

#[test]
fn fault_whose_end_overflows_time_is_rejected() {
    rejected(
        "for-overflow",
        &with_fault("action = \"pause\"\nnode = 0\nfor = \"18446744073709551615ns\""),
        10,
        "faults[0].for",
    );
}

#[test]
fn most_negative_drift_is_rejected_everywhere() {
    rejected(
        "drift-clocks",
        &format!(
            "{BASE}\n[clocks]\nnodes = [ {{ node = 1, drift_ppm = -9223372036854775808 }} ]\n"
        ),
        11,
        "clocks.nodes[0].drift_ppm",
    );
    rejected(
        "drift-fault",
        &with_fault("action = \"clock-drift\"\nnode = 0\ndrift_ppm = -9223372036854775808"),
        10,
        "faults[0].drift_ppm",
    );
    rejected(
        "drift-swarm",
        &BASE.replace(
            "duration = \"2s\"",
            "duration = \"2s\"\nheal_at = \"1s\"\n\n[swarm]\ndrift_ppm_max = -9223372036854775808",
        ),
        12,
        "swarm.drift_ppm_max",
    );
}

#[test]
fn clock_jumps_that_leave_the_local_clock_range_are_rejected() {
    rejected(
        "jump-below-epoch",
        &with_fault("action = \"clock-jump\"\nnode = 0\nby = \"-1000002s\""),
        10,
        "faults[0].by",
    );
    // Two jumps each within range whose sum overflows a local clock.
    let two = format!(
        "{}\n[[faults]]\nat = \"1500ms\"\naction = \"clock-jump\"\nnode = 0\nby = \"300000s\"\n",
        with_fault("action = \"clock-jump\"\nnode = 0\nby = \"300000s\"")
    );
    rejected("jumps-sum", &two, 16, "add up to 600000s");
    rejected(
        "jump-huge",
        &with_fault("action = \"clock-jump\"\nnode = 0\nby = \"9223372036s\""),
        10,
        "faults[0].by",
    );
    rejected(
        "swarm-jump",
        &BASE.replace(
            "duration = \"2s\"",
            "duration = \"2s\"\nheal_at = \"1s\"\n\n[swarm]\nclock_jump_max = \"18446744073s\"",
        ),
        12,
        "swarm.clock_jump_max",
    );
    // Many jumps of a size that is fine alone, as a swarm can draw them.
    rejected(
        "swarm-jump-sum",
        &BASE.replace(
            "duration = \"2s\"",
            "duration = \"2s\"\nheal_at = \"1s\"\n\n[swarm]\ngap_min = \"1ms\"\nclock_jump_max = \"100000s\"",
        ),
        13,
        "swarm.clock_jump_max",
    );
}

#[test]
fn clocks_at_the_limits_run_without_a_panic() {
    // The largest offset back and the largest total jump back: the clock stays positive.
    let text = format!(
        "{}\n[clocks]\nnodes = [ {{ node = 0, offset = \"-499999s\", drift_ppm = -500000 }} ]\n",
        with_fault("action = \"clock-jump\"\nnode = 0\nby = \"-500000s\"\nfor = \"500ms\"")
    );
    let path = scenario_file("clock-limits", &text);
    let output = detsim(&["run", arg(&path), "--out", arg(&path.with_extension("out"))]);
    assert_eq!(output.code, 0, "{}{}", output.stdout, output.stderr);
}

#[test]
fn liveness_bound_that_overflows_is_an_input_error_in_run_and_fuzz() {
    let text = BASE.replace(
        "duration = \"2s\"",
        "duration = \"2s\"\nheal_at = \"1s\"\nliveness_bound = \"18446744073s\"",
    );
    rejected("bound-overflow", &text, 10, "run.liveness_bound");
    let path = scenario_file("bound-overflow-fuzz", &text);
    let output = detsim(&[
        "fuzz",
        arg(&path),
        "--seeds",
        "0..2",
        "--out",
        arg(&path.with_extension("out")),
    ]);
    assert_eq!(output.code, 2, "{}", output.stderr);
    assert!(
        output.stderr.contains("run.liveness_bound"),
        "{}",
        output.stderr
    );
}

#[test]
fn liveness_phase_without_requests_is_a_scenario_error() {
    // Clients stop invoking at 2s − 1s (the default timeout): a heal at 1s has no requests.
    let text = BASE.replace(
        "duration = \"2s\"",
        "duration = \"2s\"\nheal_at = \"1s\"\nliveness_bound = \"1s\"",
    );
    rejected("heal-after-requests", &text, 9, "run.heal_at");
    // A fault-free run judged from time zero, with a timeout as long as the run minus nothing.
    let text = format!(
        "{}\n[workload]\ntimeout = \"1s\"\n",
        BASE.replace(
            "duration = \"2s\"",
            "duration = \"1s\"\nliveness_bound = \"500ms\""
        )
    );
    let path = scenario_file("no-requests-at-all", &text);
    let output = detsim(&["run", arg(&path), "--out", arg(&path.with_extension("out"))]);
    // The whole run is the invoking phase when it is not longer than the timeout: no error.
    assert_eq!(output.code, 0, "{}{}", output.stdout, output.stderr);
    // One nanosecond earlier than the end of invocations is accepted and passes.
    let text = format!(
        "{}\n[workload]\ntimeout = \"500ms\"\n",
        BASE.replace(
            "duration = \"2s\"",
            "duration = \"2s\"\nheal_at = \"1499999999ns\"\nliveness_bound = \"500ms\""
        )
    );
    let path = scenario_file("heal-just-in-time", &text);
    let output = detsim(&["run", arg(&path), "--out", arg(&path.with_extension("out"))]);
    assert_ne!(output.code, 2, "{}", output.stderr);
}

#[test]
fn error_messages_for_bad_node_numbers_say_what_is_expected() {
    for (value, name) in [
        ("-1", "minus-one"),
        ("4294967296", "too-big"),
        ("1.5", "float"),
    ] {
        rejected(
            &format!("node-{name}"),
            &with_fault(&format!("action = \"crash\"\nnode = {value}")),
            13,
            "expected a node number (0 to 63), \"leader\" or \"random\"",
        );
    }
}

#[test]
fn bad_node_numbers_in_clocks_and_links_say_what_is_expected() {
    rejected(
        "clock-node-minus-one",
        &format!("{BASE}\n[clocks]\nnodes = [ {{ node = -1 }} ]\n"),
        11,
        "node -1: expected a node number (0 to 63)",
    );
    rejected(
        "link-node-leader",
        &format!("{BASE}\n[network]\nlinks = [ {{ from = 0, to = \"leader\" }} ]\n"),
        11,
        "node \"leader\": expected a node number (0 to 63)",
    );
}

#[test]
fn bad_clock_offset_points_at_its_line() {
    let text = format!(
        "{BASE}\n[clocks]\nnodes = [\n  {{ node = 1, offset = \"-1ms\" }},\n  {{ node = 2, offset = \"-4000000s\" }},\n]\n"
    );
    rejected(
        "offset-line",
        &text,
        13,
        "clocks.nodes[1].offset: -4000000s is too large (expected less than 500000s",
    );
}

#[test]
fn bench_duration_has_an_upper_bound() {
    let output = detsim(&[
        "bench",
        "scenarios/quickstart.toml",
        "--duration",
        "100000000s",
    ]);
    assert_eq!(output.code, 2, "{}", output.stderr);
    assert!(output.stderr.contains("--duration"), "{}", output.stderr);
    assert!(output.stderr.contains("at most"), "{}", output.stderr);
}

#[test]
fn bench_alternates_several_scenarios_and_compares_each_with_the_first() {
    let output = detsim(&[
        "bench",
        "scenarios/quickstart.toml",
        "scenarios/raft/steady-state.toml",
        "--repeat",
        "2",
    ]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    // Rounds alternate: each round names the scenario it ran.
    let rounds: Vec<&str> = output
        .stderr
        .lines()
        .filter(|l| l.starts_with("round"))
        .collect();
    assert_eq!(rounds.len(), 4, "{}", output.stderr);
    assert!(
        rounds[0].starts_with("round 1 quickstart:"),
        "{}",
        output.stderr
    );
    assert!(
        rounds[1].starts_with("round 1 raft-steady-state:"),
        "{}",
        output.stderr
    );
    assert!(
        rounds[2].starts_with("round 2 quickstart:"),
        "{}",
        output.stderr
    );
    assert!(
        output.stdout.contains("scenario quickstart (unreplicated)"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("scenario raft-steady-state (raft)"),
        "{}",
        output.stdout
    );
    assert!(
        output
            .stdout
            .contains("raft-steady-state / quickstart: ratio to the bare loop"),
        "{}",
        output.stdout
    );
    // A missing scenario among several is named, before anything runs.
    let missing = detsim(&["bench", "scenarios/quickstart.toml", "scenarios/nope.toml"]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(missing.stderr.contains("nope.toml"), "{}", missing.stderr);
    assert!(!missing.stderr.contains("round"), "{}", missing.stderr);
}

#[test]
fn a_reused_out_directory_holds_only_the_new_run() {
    let out = fresh_dir("reused-out");
    let canary = detsim(&["run", "scenarios/quickstart.toml", "--out", arg(&out)]);
    assert_eq!(canary.code, 0, "{}", canary.stderr);
    assert!(out.join("trace.log").exists() && out.join("index.html").exists());
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    // A run cut short by its event limit: its history is not checked, so it writes no
    // `linearizability.txt` — the quickstart's "linearizable" must not stay beside it.
    let limited = scenario_file(
        "limited",
        &BASE.replace("duration = \"2s\"", "duration = \"2s\"\nmax_events = 100"),
    );
    let again = detsim(&[
        "run",
        arg(&limited),
        "--out",
        arg(&out),
        "--no-trace",
        "--no-report",
    ]);
    assert_eq!(again.code, 5, "{}", again.stderr);
    assert!(
        !out.join("trace.log").exists(),
        "--no-trace left an old trace"
    );
    assert!(
        !out.join("index.html").exists(),
        "--no-report left an old report"
    );
    assert!(
        !out.join("linearizability.txt").exists(),
        "a stale linearizability.txt beside a run that was not checked"
    );
    assert!(!again.stdout.contains("report:"), "{}", again.stdout);
    // A file that is not a run's is left alone.
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
}

fn crash_after_heal(out: &Path) -> (PathBuf, serde_json::Value) {
    first_failure("tests/fixtures/fuzz/crash-after-heal.toml", "0..1", out)
}

#[test]
fn shrink_refuses_an_artifact_whose_fingerprint_or_verdict_was_changed() {
    let out = fresh_dir("shrink-tampered");
    let (_, artifact) = crash_after_heal(&out);
    let mut fingerprint = artifact.clone();
    fingerprint["fingerprint"] = serde_json::json!("0000000000000000");
    let mut detail = artifact.clone();
    detail["verdict"]["detail"] = serde_json::json!("something else");
    for (name, tampered) in [("fingerprint", fingerprint), ("detail", detail)] {
        let path = out.join(format!("{name}.json"));
        std::fs::write(&path, tampered.to_string()).unwrap();
        let shrunk = out.join(format!("{name}.shrunk.toml"));
        let output = detsim(&["shrink", arg(&path), "--out", arg(&shrunk)]);
        assert_eq!(output.code, 8, "{name}: {}{}", output.stdout, output.stderr);
        assert!(
            output.stderr.contains("NOT reproduced"),
            "{}",
            output.stderr
        );
        assert!(!shrunk.exists());
    }
}

#[test]
fn shrink_accepts_the_scenario_file_the_fuzzer_writes_beside_an_artifact() {
    let out = fresh_dir("shrink-toml");
    let (path, _) = crash_after_heal(&out);
    let toml = path.with_extension("toml");
    let shrunk = out.join("from-toml.shrunk.toml");
    let output = detsim(&[
        "shrink",
        arg(&toml),
        "--out",
        arg(&shrunk),
        "--max-runs",
        "40",
    ]);
    assert_eq!(output.code, 0, "{}{}", output.stdout, output.stderr);
    assert!(
        output.stdout.contains("(liveness-timeout)"),
        "{}",
        output.stdout
    );
    let run = detsim(&["run", arg(&shrunk), "--out", arg(&out.join("run"))]);
    assert_eq!(run.code, 3, "{}", run.stdout);
    // A scenario that expects no failure gets a clear error, not a JSON parse error at 1:1.
    let output = detsim(&["shrink", "scenarios/quickstart.toml", "--out", arg(&shrunk)]);
    assert_eq!(output.code, 2, "{}", output.stderr);
    assert!(
        output.stderr.contains("names no failure"),
        "{}",
        output.stderr
    );
    // Any other file: the error says what shrink takes.
    let other = out.join("notes.txt");
    std::fs::write(&other, "hello").unwrap();
    let output = detsim(&["shrink", arg(&other)]);
    assert_eq!(output.code, 2, "{}", output.stderr);
    assert!(
        output.stderr.contains("failure artifact"),
        "{}",
        output.stderr
    );
}

#[test]
fn a_reused_fuzz_directory_keeps_no_artifact_of_an_earlier_campaign() {
    let out = fresh_dir("reused-fuzz");
    let failing = fuzz(
        "tests/fixtures/fuzz/swarm-tight-liveness.toml",
        "0..8",
        &["--jobs", "1"],
        &out,
    );
    assert_eq!(failing.code, 3, "{}", failing.stderr);
    let shrunk_by_hand = out.join("failures").join("seed-0.shrunk.toml");
    std::fs::write(&shrunk_by_hand, "# kept").unwrap();
    assert!(failure_files(&out)
        .iter()
        .any(|(n, _)| n.ends_with(".json")));
    // The same seeds of a scenario that passes them: no old artifact may stay beside its results.
    let passing = fuzz("scenarios/swarm.toml", "0..8", &["--jobs", "1"], &out);
    assert_eq!(passing.code, 0, "{}", passing.stderr);
    let left: Vec<String> = failure_files(&out).into_iter().map(|(n, _)| n).collect();
    assert_eq!(left, vec!["seed-0.shrunk.toml".to_string()]);
    assert_eq!(results(&out).len(), 8);
}

#[test]
fn a_swarm_at_the_clock_limits_never_panics() {
    // 1s / 1ms = 1,000 faults at most, each jump up to 500s: exactly the 500,000s allowed; and
    // the widest drift.
    let text = BASE.replace(
        "duration = \"2s\"",
        "duration = \"2s\"\nheal_at = \"1s\"\n\n[swarm]\nkinds = [\"clock\"]\ngap_min = \"1ms\"\n\
         gap_max = \"2ms\"\nclock_jump_max = \"500s\"\ndrift_ppm_max = 500000",
    );
    let path = scenario_file("swarm-clock-limits", &text);
    let out = path.with_extension("out");
    let output = detsim(&["fuzz", arg(&path), "--seeds", "0..20", "--out", arg(&out)]);
    assert_ne!(output.code, 2, "{}", output.stderr);
    for line in results(&out) {
        assert_ne!(line["verdict"], "panic", "{line}");
    }
    // One step past the limit is refused.
    rejected(
        "swarm-clock-past-limits",
        &text.replace("\"500s\"", "\"500001ms\""),
        15,
        "swarm.clock_jump_max",
    );
}
