//! `detsim shrink` end to end: the first failure a campaign finds shrinks to fewer faults and
//! fewer client operations, and the shrunk scenario still fails the same way under `detsim run`.
//!
//! The cases are data: adding a scenario with a planted bug is one line in [`CASES`].

mod fuzz_support;

use fuzz_support::*;
use std::path::Path;

/// A scenario that fails for some seed in the range, the range to fuzz, and the shrink's run
/// budget. These run in the default suite (a debug build): keep them to seconds.
const CASES: &[(&str, &str, &str)] = &[
    (
        "tests/fixtures/fuzz/swarm-tight-liveness.toml",
        "0..50",
        "300",
    ),
    ("tests/fixtures/fuzz/crash-after-heal.toml", "0..5", "300"),
    ("tests/fixtures/fuzz/event-limit.toml", "0..20", "300"),
    ("scenarios/canary-lost-writes.toml", "0..5", "300"),
];

/// Cases too slow for a debug build with a useful budget: Raft's planted bugs. Run with
/// `cargo test --release --test fuzz_shrink -- --ignored`. (In a release build each shrinks in
/// a few seconds; in a debug build a Raft run takes ~80ms, and 40 runs are not enough to shrink
/// `vote-not-persisted` at all.)
const SLOW_CASES: &[(&str, &str, &str)] = &[
    // Each range starts at the scenario's pinned first failing seed.
    (
        "scenarios/raft/bug-commit-previous-term.toml",
        "308..316",
        "2000",
    ),
    (
        "scenarios/raft/bug-vote-not-persisted.toml",
        "687..691",
        "2000",
    ),
    (
        "scenarios/raft/bug-vote-without-log-check.toml",
        "0..100",
        "2000",
    ),
    ("scenarios/raft/bug-stale-local-read.toml", "0..100", "2000"),
    ("scenarios/raft/bug-no-dedup.toml", "0..100", "2000"),
];

/// `before -> after` from the shrink report line starting with `label: `.
fn before_after(stdout: &str, label: &str) -> (u64, u64) {
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{label}: ")))
        .unwrap_or_else(|| panic!("no {label:?} line in\n{stdout}"));
    let (before, after) = line.split_once(" -> ").unwrap();
    (before.parse().unwrap(), after.parse().unwrap())
}

fn shrink(artifact: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["shrink", arg(artifact), "--out", arg(out)];
    args.extend_from_slice(extra);
    detsim(&args)
}

#[test]
fn every_first_failure_shrinks_and_still_fails_under_run() {
    shrink_cases("shrink", CASES);
}

#[test]
#[ignore = "slow in a debug build; run with `cargo test --release -- --ignored`"]
fn every_slow_first_failure_shrinks_and_still_fails_under_run() {
    shrink_cases("shrink-slow", SLOW_CASES);
}

/// Fuzzes each case to its first failure, shrinks it, checks the counts went down and that
/// `detsim run` on the shrunk scenario fails the same way with the same fingerprint.
fn shrink_cases(name: &str, cases: &[(&str, &str, &str)]) {
    for (index, (scenario, seeds, max_runs)) in cases.iter().enumerate() {
        let out = fresh_dir(&format!("{name}-{index}"));
        let (path, artifact) = first_failure(scenario, seeds, &out);
        let kind = artifact["verdict"]["kind"].as_str().unwrap();
        let shrunk = out.join("shrunk.toml");
        let output = shrink(&path, &shrunk, &["--max-runs", max_runs]);
        assert_eq!(output.code, 0, "{scenario}: {}", output.stderr);
        let (faults_before, faults_after) = before_after(&output.stdout, "faults");
        let (ops_before, ops_after) = before_after(&output.stdout, "client operations");
        assert!(
            faults_before > 0,
            "{scenario}: the case needs faults to shrink"
        );
        // The schedule shrank: fewer faults, or (when one fault is all it takes) shorter ones.
        assert!(
            faults_after < faults_before
                || (faults_after == 1 && output.stdout.contains("shortened fault:")),
            "{scenario}: {}",
            output.stdout
        );
        // An event budget is used up by operations: fewer of them would not reach it.
        if kind != "limit-reached" {
            assert!(ops_after < ops_before, "{scenario}: {}", output.stdout);
        }

        let run_out = out.join("run");
        let run = detsim(&["run", arg(&shrunk), "--out", arg(&run_out)]);
        assert_eq!(run.code, exit_code_of(kind), "{scenario}: {}", run.stdout);
        assert!(
            run.stdout.contains("(as expected)"),
            "{scenario}: {}",
            run.stdout
        );
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run_out.join("summary.json")).unwrap())
                .unwrap();
        let fingerprint = output
            .stdout
            .lines()
            .find_map(|line| line.strip_prefix("fingerprint: "))
            .unwrap();
        assert_eq!(summary["fingerprint"], fingerprint, "{scenario}");
        if kind == "liveness-timeout" {
            // Still a real liveness failure: requests were made after healing, none succeeded.
            let heal = summary["heal_time"].as_u64().unwrap();
            let history = std::fs::read_to_string(run_out.join("history.jsonl")).unwrap();
            let requests_after_heal = history
                .lines()
                .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
                .filter(|op| op["type"] == "invoke" && op["time"].as_u64().unwrap() >= heal)
                .count();
            assert!(
                requests_after_heal > 0,
                "{scenario}: no requests after healing"
            );
        }
    }
}

#[test]
fn shrinking_keeps_only_the_fault_that_matters() {
    let out = fresh_dir("shrink-crash");
    let (path, _) = first_failure("tests/fixtures/fuzz/crash-after-heal.toml", "0..1", &out);
    let shrunk = out.join("shrunk.toml");
    let output = shrink(&path, &shrunk, &[]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    let normalized = output.stdout.replace(arg(&out), "OUT");
    insta::assert_snapshot!("crash_after_heal_shrink_report", normalized);
    let text = std::fs::read_to_string(&shrunk).unwrap();
    insta::assert_snapshot!(
        "crash_after_heal_shrunk_scenario",
        text.replace(arg(&out), "OUT")
    );
    // Deterministic: shrinking again writes the same file.
    let again = out.join("again.toml");
    assert_eq!(shrink(&path, &again, &[]).code, 0);
    assert_eq!(
        std::fs::read_to_string(&again)
            .unwrap()
            .replace("again.toml", "shrunk.toml"),
        text
    );
}

#[test]
fn shrinking_stops_at_its_run_budget_with_a_valid_result() {
    let out = fresh_dir("shrink-budget");
    let (path, _) = first_failure(
        "tests/fixtures/fuzz/swarm-tight-liveness.toml",
        "0..50",
        &out,
    );
    let shrunk = out.join("shrunk.toml");
    let output = shrink(&path, &shrunk, &["--max-runs", "4"]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    assert!(
        output.stdout.contains("in 4 runs (budget spent)"),
        "{}",
        output.stdout
    );
    let run = detsim(&["run", arg(&shrunk), "--out", arg(&out.join("run"))]);
    assert_eq!(run.code, 3, "{}", run.stdout);
}

#[test]
fn artifact_that_no_longer_fails_is_refused() {
    let out = fresh_dir("shrink-stale");
    let (path, mut artifact) =
        first_failure("tests/fixtures/fuzz/crash-after-heal.toml", "0..1", &out);
    // Claim a safety violation the run does not produce.
    artifact["verdict"] = serde_json::json!({
        "kind": "safety-violation", "property": "x", "detail": "y", "time": 0
    });
    let stale = out.join("stale.json");
    std::fs::write(&stale, artifact.to_string()).unwrap();
    let output = shrink(&stale, &out.join("shrunk.toml"), &[]);
    assert_eq!(output.code, 8, "{}", output.stderr);
    assert!(
        output.stderr.contains("does not occur"),
        "{}",
        output.stderr
    );
    drop(path);
}

/// A planted bug's failing seed shrinks to a scenario whose faults are 1-minimal: without any
/// single one of them the same seed no longer fails.
#[test]
fn shrunk_faults_are_one_minimal() {
    let out = fresh_dir("one-minimal");
    let shrunk = out.join("shrunk.toml");
    let shrink = detsim(&[
        "shrink",
        "scenarios/raft/bug-vote-without-log-check.toml",
        "--out",
        arg(&shrunk),
    ]);
    assert_eq!(shrink.code, 0, "{}", shrink.stderr);
    let scenario = sim::scenario::Scenario::load(&shrunk).unwrap();
    assert!(!scenario.faults.is_empty());
    for index in 0..scenario.faults.len() {
        let mut without = scenario.clone();
        let dropped = without.faults.remove(index);
        let file = out.join(format!("without-{index}.toml"));
        std::fs::write(&file, without.to_toml()).unwrap();
        let run = detsim(&[
            "run",
            arg(&file),
            "--no-trace",
            "--no-report",
            "--out",
            arg(&out.join(format!("run-{index}"))),
        ]);
        assert_ne!(
            run.code, 1,
            "still fails without fault {index} ({dropped:?})"
        );
    }
}

/// The sweep of `scripts/shrink-sweep.sh` as a test: every planted bug's scenario (each names
/// its first failing seed) shrinks, keeps the same verdict (the property named too), and in the
/// median case at least 90% of the faults and of the client operations go. Run with
/// `cargo test --release --test fuzz_shrink -- --ignored` (about 20 s in a release build).
#[test]
#[ignore]
fn planted_bugs_shrink_to_a_tenth_in_the_median() {
    let mut scenarios: Vec<String> = ["raft", "paxos", "2pc", "locks"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(format!("scenarios/{dir}")).unwrap())
        .map(|entry| entry.unwrap().path().to_string_lossy().into_owned())
        .filter(|path| path.contains("/bug-") && path.ends_with(".toml"))
        .collect();
    scenarios.sort();
    scenarios.push("scenarios/canary-lost-writes.toml".into());
    scenarios.push("scenarios/counter-bug-reapply-duplicates.toml".into());
    assert!(scenarios.len() >= 34, "{scenarios:?}");
    let share = |(before, after): (u64, u64)| match before {
        0 => 1.0,
        _ => (before - after) as f64 / before as f64,
    };
    let (mut faults, mut operations) = (Vec::new(), Vec::new());
    for (index, scenario) in scenarios.iter().enumerate() {
        let out = fresh_dir(&format!("sweep-{index}"));
        let shrunk = out.join("shrunk.toml");
        let before = detsim(&[
            "run",
            scenario,
            "--no-report",
            "--out",
            arg(&out.join("before")),
        ]);
        let output = shrink(Path::new(scenario), &shrunk, &[]);
        assert_eq!(output.code, 0, "{scenario}: {}", output.stderr);
        let after = detsim(&[
            "run",
            arg(&shrunk),
            "--no-report",
            "--out",
            arg(&out.join("after")),
        ]);
        let verdict = |stdout: &str| {
            let line = stdout.lines().find(|l| l.starts_with("verdict: ")).unwrap();
            // The kind and the property: "verdict: safety violation: leader-completeness ..."
            line.split(" at t=").next().unwrap().to_string()
        };
        assert_eq!(
            verdict(&before.stdout),
            verdict(&after.stdout),
            "{scenario}"
        );
        faults.push(share(before_after(&output.stdout, "faults")));
        operations.push(share(before_after(&output.stdout, "client operations")));
    }
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        let n = values.len();
        (values[(n - 1) / 2] + values[n / 2]) / 2.0
    };
    let (faults, operations) = (median(&mut faults), median(&mut operations));
    assert!(faults >= 0.9, "faults removed in the median: {faults:.3}");
    assert!(
        operations >= 0.9,
        "operations removed in the median: {operations:.3}"
    );
}
