//! Every shipped scenario, run through the binary: it gives the verdict it expects, and it is
//! deterministic across processes — the same seed gives byte-identical `trace.log` and
//! `history.jsonl`, and another seed gives another fingerprint.

use std::path::{Path, PathBuf};
use std::process::Command;

fn detsim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_detsim"))
}

fn shipped_scenarios() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "toml") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios"),
        &mut found,
    );
    assert!(found.len() >= 5, "scenarios missing: {found:?}");
    found
}

struct Outcome {
    code: i32,
    summary: serde_json::Value,
    trace: Vec<u8>,
    history: Vec<u8>,
    /// Every file the run wrote, by name, in name order.
    files: Vec<(String, Vec<u8>)>,
}

fn run(scenario: &Path, seed: Option<u64>, out: &Path) -> Outcome {
    let mut command = detsim();
    command.arg("run").arg(scenario).arg("--out").arg(out);
    if let Some(seed) = seed {
        command.arg("--seed").arg(seed.to_string());
    }
    let output = command.output().unwrap();
    let code = output.status.code().unwrap();
    assert!(
        code != 2 && code != 4,
        "{}: exit {code}\n{}",
        scenario.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(out)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    Outcome {
        files,
        code,
        summary: serde_json::from_str(&summary).unwrap(),
        trace: std::fs::read(out.join("trace.log")).unwrap(),
        history: std::fs::read(out.join("history.jsonl")).unwrap(),
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_shipped_scenario_gives_its_expected_verdict_deterministically() {
    let base = temp_dir("scenarios");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut verdicts = serde_json::Map::new();
    for (i, scenario) in shipped_scenarios().iter().enumerate() {
        let first = run(scenario, None, &base.join(format!("{i}-a")));
        let second = run(scenario, None, &base.join(format!("{i}-b")));
        let name = scenario.display();
        let verdict = first.summary["verdict"]["kind"]
            .as_str()
            .unwrap()
            .to_string();
        let expected = first.summary["expected"].as_str();
        assert_eq!(
            Some(verdict.as_str()),
            expected,
            "{name}: verdict differs from `expect`"
        );
        assert_eq!(first.code, second.code, "{name}");
        assert!(
            first.trace == second.trace,
            "{name}: trace.log differs between two processes"
        );
        assert!(
            first.history == second.history,
            "{name}: history.jsonl differs"
        );
        let names: Vec<&str> = first.files.iter().map(|(n, _)| n.as_str()).collect();
        for wanted in [
            "index.html",
            "timeline.html",
            "latency-raw.svg",
            "report.json",
        ] {
            assert!(names.contains(&wanted), "{name}: no {wanted} in {names:?}");
        }
        for ((file, a), (_, b)) in first.files.iter().zip(&second.files) {
            assert!(
                a == b,
                "{name}: {file} differs between two runs of the same seed"
            );
        }
        assert!(
            !first.trace.is_empty() && !first.history.is_empty(),
            "{name}: empty output"
        );
        let relative = scenario.strip_prefix(root).unwrap().display().to_string();
        verdicts.insert(relative, first.summary["verdict"].clone());
        let seed = first.summary["seed"].as_u64().unwrap();
        let other = run(scenario, Some(seed + 1), &base.join(format!("{i}-c")));
        assert_ne!(
            first.summary["fingerprint"],
            other.summary["fingerprint"],
            "{name}: seeds {seed} and {} give the same fingerprint",
            seed + 1
        );
    }
    // The verdicts themselves, details included, are pinned: a change in what a scenario finds
    // shows up as a reviewed snapshot diff.
    insta::assert_json_snapshot!(serde_json::Value::Object(verdicts));
}

#[test]
fn short_trace_is_pinned() {
    let dir = temp_dir("short-trace");
    let scenario = dir.join("short.toml");
    std::fs::write(
        &scenario,
        r#"
[protocol]
name = "unreplicated"
[cluster]
nodes = 3
[network]
latency = { dist = "uniform", min = "1ms", max = "3ms" }
[workload]
clients = 2
rate = 100
timeout = "20ms"
[run]
duration = "60ms"
[[faults]]
at = "25ms"
action = "crash"
node = 0
for = "10ms"
"#,
    )
    .unwrap();
    let outcome = run(&scenario, Some(5), &dir.join("out"));
    insta::assert_snapshot!(String::from_utf8(outcome.trace).unwrap());
}

#[test]
fn check_determinism_flag_reports_agreement() {
    let dir = temp_dir("check-determinism");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/swarm.toml");
    let output = detsim()
        .args(["run", "--check-determinism", "--no-trace", "--out"])
        .arg(dir.join("out"))
        .arg(&scenario)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("(deterministic: two runs agree)"),
        "{stdout}"
    );
    assert!(stdout.contains("reproduce: detsim run "), "{stdout}");
}

#[test]
fn a_runs_history_files_check_the_same_way_with_detsim_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, expected_code) in [("canary-lost-writes", 1), ("crash-restart", 0)] {
        let out = temp_dir(&format!("history-files-{name}"));
        let scenario = root.join("scenarios").join(format!("{name}.toml"));
        let outcome = run(&scenario, None, &out);
        assert_eq!(outcome.code, expected_code, "{name}");
        for file in ["history.jsonl", "history.edn"] {
            let output = detsim()
                .args(["check", "--model", "cas-register-strict"])
                .arg(out.join(file))
                .output()
                .unwrap();
            assert_eq!(
                output.status.code(),
                Some(expected_code),
                "{name}/{file}: {}",
                String::from_utf8_lossy(&output.stdout)
            );
        }
        let explanation = std::fs::read_to_string(out.join("linearizability.txt")).unwrap();
        let expected_start = if expected_code == 0 {
            "linearizable"
        } else {
            "not linearizable"
        };
        assert!(
            explanation.starts_with(expected_start),
            "{name}: {explanation}"
        );
    }
}
