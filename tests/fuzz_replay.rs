//! `detsim replay` end to end: the first failure a campaign finds replays with the same
//! fingerprint and verdict, through the artifact and through the plain scenario beside it.
//!
//! The cases are data: adding a scenario with a planted bug is one line in [`CASES`].

mod fuzz_support;

use fuzz_support::*;

/// A scenario that fails for some seed in the range, and the range to fuzz.
const CASES: &[(&str, &str)] = &[
    ("tests/fixtures/fuzz/swarm-tight-liveness.toml", "0..50"),
    ("tests/fixtures/fuzz/crash-after-heal.toml", "0..5"),
    ("tests/fixtures/fuzz/event-limit.toml", "0..5"),
    ("scenarios/canary-lost-writes.toml", "0..5"),
    // Raft's planted bugs: each file's swarm, fuzzed up to its first failure (the first failing
    // seeds themselves are proved in protocols/tests/raft_scenarios.rs).
    ("scenarios/raft/bug-commit-previous-term.toml", "300..400"),
    ("scenarios/raft/bug-vote-not-persisted.toml", "650..750"),
    ("scenarios/raft/bug-vote-without-log-check.toml", "0..100"),
    ("scenarios/raft/bug-stale-local-read.toml", "0..100"),
];

#[test]
fn every_first_failure_replays_exactly() {
    for (index, (scenario, seeds)) in CASES.iter().enumerate() {
        let out = fresh_dir(&format!("replay-{index}"));
        let (path, artifact) = first_failure(scenario, seeds, &out);
        let kind = artifact["verdict"]["kind"].as_str().unwrap();
        let fingerprint = artifact["fingerprint"].as_str().unwrap();
        assert_eq!(artifact["format"], "detsim-artifact/1");
        assert_eq!(artifact["detsim_version"], env!("CARGO_PKG_VERSION"));
        assert!(!artifact["trace_tail"].as_array().unwrap().is_empty());
        assert!(artifact["trace_tail"].as_array().unwrap().len() <= 50);

        // The artifact replays: same fingerprint, same verdict, the verdict's exit code.
        let replay = detsim(&["replay", arg(&path)]);
        assert_eq!(
            replay.code,
            exit_code_of(kind),
            "{scenario}: {}",
            replay.stdout
        );
        assert!(
            replay
                .stdout
                .contains("reproduced: same fingerprint, same verdict"),
            "{scenario}: {}",
            replay.stdout
        );

        // The plain scenario beside it runs to the same fingerprint under `detsim run`.
        let toml = path.with_extension("toml");
        let run_out = out.join("run");
        let run = detsim(&["run", arg(&toml), "--out", arg(&run_out)]);
        assert_eq!(run.code, exit_code_of(kind), "{scenario}: {}", run.stderr);
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run_out.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(summary["fingerprint"], fingerprint, "{scenario}");
        assert_eq!(summary["verdict"]["kind"], kind);
        assert_eq!(summary["seed"], artifact["seed"]);

        // The trace tail is the end of the full trace.
        let trace = std::fs::read_to_string(run_out.join("trace.log")).unwrap();
        let tail: Vec<&str> = artifact["trace_tail"]
            .as_array()
            .unwrap()
            .iter()
            .map(|line| line.as_str().unwrap())
            .collect();
        let lines: Vec<&str> = trace.lines().collect();
        assert_eq!(&lines[lines.len() - tail.len()..], &tail[..], "{scenario}");
    }
}

#[test]
fn replay_writes_the_run_files_when_asked() {
    let out = fresh_dir("replay-out");
    let (path, artifact) = first_failure(CASES[1].0, CASES[1].1, &out);
    let files = out.join("replayed");
    let replay = detsim(&["replay", arg(&path), "--out", arg(&files)]);
    assert_eq!(replay.code, 3, "{}", replay.stderr);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(files.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["fingerprint"], artifact["fingerprint"]);
    assert_eq!(
        summary["reproduce"],
        format!("detsim replay {}", path.display())
    );
    assert!(std::fs::metadata(files.join("trace.log")).unwrap().len() > 0);
    assert!(
        std::fs::metadata(files.join("history.jsonl"))
            .unwrap()
            .len()
            > 0
    );
}

#[test]
fn replay_that_does_not_reproduce_exits_8() {
    let out = fresh_dir("replay-tampered");
    let (path, mut artifact) = first_failure(CASES[1].0, CASES[1].1, &out);
    artifact["fingerprint"] = "0000000000000000".into();
    let tampered = out.join("tampered.json");
    std::fs::write(&tampered, artifact.to_string()).unwrap();
    let replay = detsim(&["replay", arg(&tampered)]);
    assert_eq!(replay.code, 8, "{}", replay.stdout);
    assert!(replay.stdout.contains("NOT reproduced"));
    assert!(replay.stdout.contains("DIFFERENT"));
    drop(path);
}

#[test]
fn malformed_artifacts_exit_2_naming_file_and_field() {
    let out = fresh_dir("replay-malformed");
    let (_, artifact) = first_failure(CASES[1].0, CASES[1].1, &out);
    let cases: Vec<(&str, String, String)> = vec![
        (
            "not-json",
            "{ seed: ".to_string(),
            ":1:3: key must be a string\n".to_string(),
        ),
        (
            "missing-seed",
            {
                let mut a = artifact.clone();
                a.as_object_mut().unwrap().remove("seed");
                a.to_string()
            },
            "missing field `seed`".to_string(),
        ),
        (
            "bad-scenario",
            {
                let mut a = artifact.clone();
                a["scenario"] = "[cluster]\nnodes = 0\n".into();
                a.to_string()
            },
            ": field `scenario`: embedded TOML:1:1: missing field `protocol`".to_string(),
        ),
        (
            "wrong-format",
            {
                let mut a = artifact.clone();
                a["format"] = "something-else".into();
                a.to_string()
            },
            ": field `format`:".to_string(),
        ),
    ];
    for (name, text, needle) in cases {
        let path = out.join(format!("{name}.json"));
        std::fs::write(&path, text).unwrap();
        for command in ["replay", "shrink"] {
            let output = detsim(&[command, arg(&path)]);
            assert_eq!(output.code, 2, "{command} {name}: {}", output.stderr);
            assert!(
                output
                    .stderr
                    .starts_with(&format!("error: {}", path.display())),
                "{command} {name}: {}",
                output.stderr
            );
            assert!(
                output.stderr.contains(&needle),
                "{command} {name}: {}",
                output.stderr
            );
        }
    }
    let missing = out.join("missing.json");
    let output = detsim(&["replay", arg(&missing)]);
    assert_eq!(output.code, 2);
    assert!(output.stderr.contains("cannot read"));
}

#[test]
fn artifact_format_is_pinned() {
    let out = fresh_dir("replay-pinned");
    let (path, _) = first_failure(CASES[1].0, "0..1", &out);
    let text = std::fs::read_to_string(&path).unwrap();
    insta::assert_snapshot!("crash_after_heal_artifact", text.replace(arg(&out), "OUT"));
    let toml = std::fs::read_to_string(path.with_extension("toml")).unwrap();
    let header: Vec<&str> = toml.lines().take(2).collect();
    insta::assert_snapshot!(
        "crash_after_heal_artifact_toml_header",
        header.join("\n").replace(arg(&out), "OUT")
    );
}
