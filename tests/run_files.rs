//! `detsim run` writes the history formats asked for, with the node that served each
//! completion, and prints the time of each phase.

mod fuzz_support;

use std::path::Path;
use std::process::Command;

fn run(out: &Path, history: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_detsim"))
        .args([
            "run",
            "scenarios/quickstart.toml",
            "--no-report",
            "--no-trace",
        ])
        .args(["--history", history])
        .arg("--out")
        .arg(out)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn history_formats_are_chosen_and_completions_name_their_node() {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("run-files");
    let only_jsonl = base.join("jsonl");
    let stdout = run(&only_jsonl, "jsonl");
    assert!(only_jsonl.join("history.jsonl").exists());
    assert!(!only_jsonl.join("history.edn").exists());
    assert!(stdout.contains("phases: simulate "), "{stdout}");
    let text = std::fs::read_to_string(only_jsonl.join("history.jsonl")).unwrap();
    let mut completions = 0;
    for line in text.lines() {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        if entry["type"] != "invoke" {
            completions += 1;
            // The unreplicated store's server, node 0, answers every request.
            assert_eq!(entry["node"], 0, "{line}");
        } else {
            assert!(entry.get("node").is_none(), "{line}");
        }
    }
    assert!(completions > 100);
    let neither = base.join("none");
    run(&neither, "none");
    assert!(!neither.join("history.jsonl").exists() && !neither.join("history.edn").exists());
    assert!(neither.join("summary.json").exists());
}

#[test]
fn an_unknown_history_format_is_bad_input() {
    let output = Command::new(env!("CARGO_BIN_EXE_detsim"))
        .args(["run", "scenarios/quickstart.toml", "--history", "csv"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("csv"));
}

#[test]
fn a_protocols_own_figures_reach_the_summary_and_the_report() {
    // Two-phase commit's checker measures blocking: with the coordinator crashed right after
    // its decision is durable, participants wait in doubt, and the run's files say how long.
    let out = fuzz_support::fresh_dir("run-figures");
    let output = fuzz_support::detsim(&[
        "run",
        "scenarios/2pc/coordinator-crash-on-decision.toml",
        "--out",
        fuzz_support::arg(&out),
        "--no-trace",
    ]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let figures = &summary["figures"];
    assert!(figures["in_doubt_pairs"].as_u64() > Some(0), "{figures}");
    assert!(
        figures["in_doubt_max_ns"].as_u64() > Some(1_000_000_000),
        "the coordinator was down for 2 s: {figures}"
    );
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(index.contains("<h2>Protocol figures</h2>"));
    assert!(index.contains("<td>in doubt total</td>"));
}

/// `detsim explain` on a shrunk stale read names the write the read should have seen and the
/// node that served each; the run's report has `messages.svg`, linked from `index.html`.
#[test]
fn explain_names_the_conflicting_write_and_the_report_draws_the_messages() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("explain");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let shrunk = out.join("stale.toml");
    let detsim = env!("CARGO_BIN_EXE_detsim");
    let shrink = Command::new(detsim)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "shrink",
            "scenarios/raft/bug-stale-local-read.toml",
            "--out",
        ])
        .arg(&shrunk)
        .output()
        .unwrap();
    assert_eq!(shrink.status.code(), Some(0), "{shrink:?}");
    let explain = Command::new(detsim)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("explain")
        .arg(&shrunk)
        .output()
        .unwrap();
    assert_eq!(explain.status.code(), Some(0), "{explain:?}");
    let text = String::from_utf8(explain.stdout).unwrap();
    assert!(text.contains("it conflicts with"), "{text}");
    assert!(text.contains("a stale read"), "{text}");
    assert!(text.contains("became leader of term"), "{text}");
    // Every named operation says which node served it.
    let named: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  process "))
        .collect();
    assert!(named.len() >= 2, "{text}");
    assert!(named.iter().all(|line| line.contains(" via n")), "{text}");
    let run = Command::new(detsim)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("run")
        .arg(&shrunk)
        .arg("--out")
        .arg(out.join("run"))
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    let svg = std::fs::read_to_string(out.join("run/messages.svg")).unwrap();
    assert!(svg.contains("leader, term"), "no leader marked");
    assert!(svg.contains("safety violation at"), "no violation marked");
    assert!(
        svg.contains("conflicts with it"),
        "the conflicting operation is not marked"
    );
    let index = std::fs::read_to_string(out.join("run/index.html")).unwrap();
    assert!(index.contains("href=\"messages.svg\""));
    assert!(index.contains("Why it failed"));
    let explanation = std::fs::read_to_string(out.join("run/linearizability.txt")).unwrap();
    assert!(explanation.contains("it conflicts with"), "{explanation}");
    let _ = std::fs::remove_dir_all(&out);
}

/// A request executed twice (the planted `no-dedup` bug): the second execution of a
/// compare-and-set fails against the first one's write, so the client hears `fail` for an
/// operation that took effect. A later read of its value is illegal whatever else is removed;
/// the explanation names the failed operation as the only source of the value read.
#[test]
fn explain_names_a_failed_operation_whose_value_was_read() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("explain-no-dedup");
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new(env!("CARGO_BIN_EXE_detsim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            "scenarios/raft/bug-no-dedup.toml",
            "--no-trace",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    let explanation = std::fs::read_to_string(out.join("linearizability.txt")).unwrap();
    let cause: Vec<&str> = explanation.lines().collect();
    let stuck = cause
        .iter()
        .position(|line| line.starts_with("linearizability broken"))
        .map(|at| cause[at + 1])
        .unwrap_or_else(|| panic!("{explanation}"));
    let read = stuck
        .split(" -> ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("{stuck}"));
    let at = cause
        .iter()
        .position(|line| line.contains("written only by an operation the service answered `fail`"))
        .unwrap_or_else(|| panic!("{explanation}"));
    let source = cause[at + 1];
    assert!(source.contains(" cas key "), "{source}");
    assert!(
        source.contains(&format!(" {read}] (fail via n")),
        "{source} (read {read})"
    );
    // The narrative shows when it was invoked and answered.
    assert!(
        explanation.contains("operation answered fail invoked: process"),
        "{explanation}"
    );
    assert!(
        explanation.contains("operation answered fail completed: cas"),
        "{explanation}"
    );
    let _ = std::fs::remove_dir_all(&out);
}
