//! What the protocols' scenario tests share: finding a protocol's shipped scenarios, running
//! each against its expected verdict, and sweeping seeds for the first failure.

#![allow(dead_code)] // Each test binary uses its own part.

use sim::outcome::{RunData, Verdict};
use sim::scenario::Scenario;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `scenarios/<name>` of the repository.
pub fn scenario_directory(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(name)
}

/// The scenario files of `scenarios/<name>`, sorted.
pub fn scenario_files(name: &str) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(scenario_directory(name))
        .unwrap_or_else(|error| panic!("scenarios/{name}: {error}"))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "toml")
        })
        .collect();
    paths.sort();
    paths
}

/// A verdict in one line: its kind, and the property a safety violation broke.
pub fn verdict_line(verdict: &Verdict) -> String {
    match verdict {
        Verdict::SafetyViolation { property, .. } => format!("safety-violation ({property})"),
        other => other.kind().to_string(),
    }
}

/// Runs every scenario of `scenarios/<name>` with its own seed, asserts each ends with the
/// verdict it states (`expect`) and, when `check` says so, more about the run; returns each
/// file's verdict line, for a snapshot.
pub fn expected_verdicts(
    name: &str,
    run: impl Fn(&Scenario, u64) -> RunData,
    check: impl Fn(&Path, &RunData),
) -> BTreeMap<String, String> {
    let mut verdicts = BTreeMap::new();
    for path in scenario_files(name) {
        let scenario = Scenario::load(&path).expect("the scenario loads");
        let data = run(&scenario, scenario.seed);
        let expected = scenario
            .expect
            .as_deref()
            .expect("every scenario states its verdict");
        assert_eq!(
            data.verdict.kind(),
            expected,
            "{}: {}",
            path.display(),
            data.verdict
        );
        check(&path, &data);
        let file = path.file_name().expect("a file").to_string_lossy();
        verdicts.insert(file.into_owned(), verdict_line(&data.verdict));
    }
    verdicts
}

/// The first seed in `seeds` whose run of `scenario` does not pass, with its verdict.
pub fn first_failure(
    run: impl Fn(&Scenario, u64) -> RunData,
    scenario: &Scenario,
    seeds: std::ops::Range<u64>,
) -> Option<(u64, Verdict)> {
    seeds.into_iter().find_map(|seed| {
        let verdict = run(scenario, seed).verdict;
        (!verdict.is_pass()).then_some((seed, verdict))
    })
}

/// `scenarios/<name>/swarm.toml` with `bug` planted.
pub fn swarm_with_bug(name: &str, bug: &str) -> Scenario {
    let mut scenario = Scenario::load(&scenario_directory(name).join("swarm.toml"))
        .expect("the swarm scenario loads");
    scenario.protocol.bug = Some(bug.to_string());
    scenario
}
