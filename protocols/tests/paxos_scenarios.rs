//! Multi-Paxos in the engine: every scenario in `scenarios/paxos/` meets its expected verdict
//! (pinned with `insta`), the swarm scenario passes a sweep of seeds, and each planted bug is
//! caught within 2,000 swarm seeds, with the first failing seed recorded.
//!
//! Long sweeps are `#[ignore]`d; run them in release:
//! `cargo test --release -p protocols --test paxos_scenarios -- --ignored --nocapture`.

mod scenario_support;

use protocols::paxos::{Paxos, PaxosInvariants};
use scenario_support::verdict_line;
use sim::nemesis;
use sim::outcome::{RunData, Verdict};
use sim::scenario::Scenario;
use sim::workload::counter::Counters;
use sim::world;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn scenario_directory() -> PathBuf {
    scenario_support::scenario_directory("paxos")
}

fn load(file_name: &str) -> Scenario {
    Scenario::load(&scenario_directory().join(file_name)).expect("the scenario loads")
}

/// Runs `scenario` with `seed` and judges it as `detsim run` does: the engine's verdict
/// (invariants after every event, liveness, panics, limits), then the client history's
/// linearizability — with the Multi-Paxos that serves the scenario's workload.
fn run(scenario: &Scenario, seed: u64) -> RunData {
    let faults = nemesis::expand(scenario, seed);
    let invariants = PaxosInvariants::new();
    match scenario.workload.kind.as_str() {
        "counter" => world::run::<Paxos<Counters>, _>(scenario, &faults, seed, invariants, None),
        _ => world::run::<Paxos, _>(scenario, &faults, seed, invariants, None),
    }
    .expect("the scenario runs")
}

/// Every Multi-Paxos scenario, run with its own seed, ends with the verdict it expects.
#[test]
fn every_paxos_scenario_meets_its_expected_verdict() {
    assert!(scenario_support::scenario_files("paxos").len() >= 7);
    let verdicts = scenario_support::expected_verdicts("paxos", run, |path, data| {
        // A bug may be caught before any operation completes (a lost promise at 0.4s).
        assert!(
            !data.verdict.is_pass() || data.stats.operations_ok > 0,
            "{}: no operation succeeded",
            path.display()
        );
    });
    insta::assert_debug_snapshot!(verdicts);
}

/// Each scenario of `scenarios/raft/` runs on Multi-Paxos by changing its protocol line, and
/// those that pass on Raft pass on Multi-Paxos (options Raft has and Paxos has not — pre-vote,
/// the read mode and its drift bound, log compaction — are dropped, also from a swarm's draws; the bug
/// scenarios are Raft's bugs and are skipped, and so are the membership scenarios: Multi-Paxos
/// here has no membership changes).
#[test]
fn raft_scenarios_run_on_paxos_by_changing_the_protocol_line() {
    let raft = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/raft");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&raft)
        .expect("scenarios/raft exists")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| {
            let name = path.file_name().expect("a file").to_string_lossy();
            name.ends_with(".toml")
                && !name.starts_with("bug-")
                && !name.contains("pre-vote")
                && !name.contains("membership")
        })
        .collect();
    paths.sort();
    assert!(paths.len() >= 7);
    for path in paths {
        let mut scenario = Scenario::load(&path).expect("the scenario loads");
        assert_eq!(scenario.protocol.name, "raft");
        scenario.protocol.name = "paxos".to_string();
        for raft_only in ["reads", "clock_drift_bound_ppm", "snapshot_entries_max"] {
            scenario.protocol.options.remove(raft_only);
        }
        // A swarm that draws Raft's options draws the ones Multi-Paxos shares.
        if let Some(draw) = scenario
            .swarm
            .as_mut()
            .and_then(|swarm| swarm.draw.as_mut())
        {
            draw.options.remove("pre_vote");
        }
        let data = run(&scenario, scenario.seed);
        assert!(
            data.verdict.is_pass(),
            "{} on paxos: {}",
            path.display(),
            data.verdict
        );
    }
}

/// The first seed in `seeds` whose run of `scenario` does not pass, with its verdict.
fn first_failure(scenario: &Scenario, seeds: std::ops::Range<u64>) -> Option<(u64, Verdict)> {
    scenario_support::first_failure(run, scenario, seeds)
}

/// The swarm scenario with `bug` planted.
fn swarm_with_bug(bug: &str) -> Scenario {
    scenario_support::swarm_with_bug("paxos", bug)
}

/// The correct protocol passes a handful of swarm seeds in the default suite, for each
/// workload it serves.
#[test]
fn correct_paxos_passes_swarm_seeds() {
    for file_name in ["swarm.toml", "counter-swarm.toml"] {
        let scenario = load(file_name);
        if let Some((seed, verdict)) = first_failure(&scenario, 0..16) {
            panic!("{file_name} seed {seed}: {verdict}");
        }
    }
}

/// The correct protocol passes 1,000 swarm seeds: no safety violation, no liveness failure;
/// serving counters as registers.
#[test]
#[ignore = "a sweep of 1,000 seeds; run in release"]
fn correct_paxos_passes_1000_swarm_seeds() {
    for file_name in ["swarm.toml", "counter-swarm.toml"] {
        let scenario = load(file_name);
        if let Some((seed, verdict)) = first_failure(&scenario, 0..1_000) {
            panic!("{file_name} seed {seed}: {verdict}");
        }
    }
}

/// Each planted bug, the first swarm seed (of `scenarios/paxos/swarm.toml`) whose run catches
/// it, and the property that catches it. `planted_bugs_first_failing_swarm_seeds` proves each is
/// the first; `planted_bugs_are_caught_at_their_recorded_seeds` replays them in the default suite.
const FIRST_FAILURES: [(&str, u64, &str); 6] = [
    ("accept-without-promise-check", 0, "agreement"),
    ("ignore-promised-values", 0, "agreement"),
    ("promise-not-persisted", 8, "promise-monotonicity"),
    ("phase1-skipped-for-empty-slots", 0, "agreement"),
    ("learn-without-quorum", 0, "state-machine-safety"),
    ("accept-into-promised-ballot", 0, "validity"),
];

/// Every planted bug is caught at its recorded seed, by the recorded property, and the
/// correct protocol passes that seed.
#[test]
fn planted_bugs_are_caught_at_their_recorded_seeds() {
    let correct = load("swarm.toml");
    for (bug, seed, property) in FIRST_FAILURES {
        let verdict = run(&swarm_with_bug(bug), seed).verdict;
        assert_eq!(
            verdict_line(&verdict),
            format!("safety-violation ({property})"),
            "{bug} at seed {seed}: {verdict}"
        );
        let verdict = run(&correct, seed).verdict;
        assert!(verdict.is_pass(), "correct paxos at seed {seed}: {verdict}");
    }
}

/// Sweeps up to 2,000 swarm seeds per planted bug: the first failing seed of each is the one
/// recorded in `FIRST_FAILURES`. Prints how many of the 2,000 seeds catch each bug, and by
/// which property.
#[test]
#[ignore = "a sweep of 2,000 seeds per bug; run in release"]
fn planted_bugs_first_failing_swarm_seeds() {
    let mut found = Vec::new();
    for (bug, _, _) in FIRST_FAILURES {
        let scenario = swarm_with_bug(bug);
        let mut first = None;
        let mut caught: BTreeMap<String, u32> = BTreeMap::new();
        for seed in 0..2_000 {
            let verdict = run(&scenario, seed).verdict;
            if verdict.is_pass() {
                continue;
            }
            *caught.entry(verdict_line(&verdict)).or_default() += 1;
            first.get_or_insert((seed, verdict_line(&verdict)));
        }
        let (seed, line) = first.unwrap_or_else(|| panic!("{bug}: not caught in 2,000 seeds"));
        println!("{bug}: first failing seed {seed} ({line}); caught by {caught:?} of 2,000");
        found.push((bug, seed, line));
    }
    let recorded: Vec<_> = FIRST_FAILURES
        .iter()
        .map(|(bug, seed, property)| (*bug, *seed, format!("safety-violation ({property})")))
        .collect();
    assert_eq!(found, recorded);
}

/// Without faults, the service answers everything.
#[test]
fn a_fault_free_steady_state_is_available() {
    for file_name in ["steady-state.toml", "counter-steady-state.toml"] {
        let scenario = load(file_name);
        let data = run(&scenario, scenario.seed);
        let availability = data.stats.availability().expect("operations ran");
        assert!(availability >= 0.99, "{file_name}: {availability}");
    }
}
