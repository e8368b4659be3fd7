//! `detsim bugs`: every planted bug of a scenario's protocol, swept over seeds.

mod fuzz_support;

use fuzz_support::*;

#[test]
fn each_planted_bug_gets_a_row_with_its_first_seed_and_what_caught_it() {
    let dir = fresh_dir("bugs-table");
    let json = dir.join("bugs.json");
    let output = detsim(&[
        "bugs",
        "scenarios/raft/swarm.toml",
        "--seeds",
        "0..2",
        "--jobs",
        "2",
        "--json",
        arg(&json),
    ]);
    // Two seeds do not catch every bug: the campaign says so with its exit code.
    assert_eq!(output.code, 1, "{}", output.stderr);
    assert!(
        output.stdout.contains("| `(correct)` | – | – | 0/2 |"),
        "{}",
        output.stdout
    );
    assert!(
        output
            .stdout
            .contains("| `vote-without-log-check` | 0 | leader-completeness |"),
        "{}",
        output.stdout
    );
    let rows: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let names: Vec<&str> = rows
        .iter()
        .map(|row| row["bug"].as_str().unwrap_or("(correct)"))
        .collect();
    assert_eq!(
        names,
        [
            "(correct)",
            "vote-without-log-check",
            "commit-previous-term",
            "vote-not-persisted",
            "stale-local-read",
            "no-dedup",
            "truncate-on-append",
            "ack-before-persist",
            "accept-stale-leader",
            "match-from-next-index",
            "quorum-off-by-one",
            "apply-uncommitted",
            "skip-prev-term-check",
            "count-stale-votes",
            "vote-compare-length-only",
            "stale-match-index"
        ]
    );
    assert!(output.stdout.contains("catalogue: "), "{}", output.stdout);
}
