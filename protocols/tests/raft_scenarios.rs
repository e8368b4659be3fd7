//! Raft in the engine: every scenario in `scenarios/raft/` meets its expected verdict (pinned
//! with `insta`), the swarm scenario passes a sweep of seeds, and each planted bug is caught
//! within 2,000 swarm seeds, with the first failing seed recorded.
//!
//! Long sweeps are `#[ignore]`d; run them in release:
//! `cargo test --release -p protocols --test raft_scenarios -- --ignored --nocapture`.

mod scenario_support;

use protocols::raft::{Raft, RaftInvariants};
use scenario_support::verdict_line;
use sim::nemesis;
use sim::outcome::{RunData, Verdict};
use sim::scenario::Scenario;
use sim::workload::counter::Counters;
use sim::world;

use std::path::PathBuf;

fn scenario_directory() -> PathBuf {
    scenario_support::scenario_directory("raft")
}

fn load(file_name: &str) -> Scenario {
    Scenario::load(&scenario_directory().join(file_name)).expect("the scenario loads")
}

/// Runs `scenario` with `seed` and judges it as `detsim run` does: the engine's verdict
/// (invariants after every event, liveness, panics, limits), then the client history's
/// linearizability — with the Raft that serves the scenario's workload.
fn run(scenario: &Scenario, seed: u64) -> RunData {
    let faults = nemesis::expand(scenario, seed);
    let invariants = RaftInvariants::new();
    match scenario.workload.kind.as_str() {
        "counter" => world::run::<Raft<Counters>, _>(scenario, &faults, seed, invariants, None),
        _ => world::run::<Raft, _>(scenario, &faults, seed, invariants, None),
    }
    .expect("the scenario runs")
}

/// Every Raft scenario, run with its own seed, ends with the verdict it expects.
#[test]
fn every_raft_scenario_meets_its_expected_verdict() {
    assert!(scenario_support::scenario_files("raft").len() >= 7);
    let verdicts = scenario_support::expected_verdicts("raft", run, |path, data| {
        // A bug may be caught before any operation completes (two leaders of the first term).
        assert!(
            !data.verdict.is_pass() || data.stats.operations_ok > 0,
            "{}: no operation succeeded",
            path.display()
        );
    });
    insta::assert_debug_snapshot!(verdicts);
}

/// The first seed in `seeds` whose run of `scenario` does not pass, with its verdict.
fn first_failure(scenario: &Scenario, seeds: std::ops::Range<u64>) -> Option<(u64, Verdict)> {
    scenario_support::first_failure(run, scenario, seeds)
}

/// The correct protocol passes a handful of swarm seeds in the default suite, for each
/// workload it serves.
#[test]
fn correct_raft_passes_swarm_seeds() {
    for file_name in [
        "swarm.toml",
        "counter-swarm.toml",
        "swarm-everything.toml",
        "read-index-swarm.toml",
        "lease-reads-swarm.toml",
        "snapshot-swarm.toml",
        "snapshot-counter-swarm.toml",
        "membership-swarm.toml",
    ] {
        let scenario = load(file_name);
        if let Some((seed, verdict)) = first_failure(&scenario, 0..16) {
            panic!("{file_name} seed {seed}: {verdict}");
        }
    }
}

/// The correct protocol passes 1,000 swarm seeds: no safety violation, no liveness failure;
/// with pre-vote as without, serving counters as registers, with reads served by ReadIndex or
/// by leases (clocks drifting within the bound), with log compaction, and with membership
/// changes together with log compaction and ReadIndex.
#[test]
#[ignore = "a sweep of 1,000 seeds; run in release"]
fn correct_raft_passes_1000_swarm_seeds() {
    for file_name in [
        "swarm.toml",
        "swarm-pre-vote.toml",
        "counter-swarm.toml",
        "read-index-swarm.toml",
        "lease-reads-swarm.toml",
        "snapshot-swarm.toml",
        "snapshot-counter-swarm.toml",
        "membership-swarm.toml",
    ] {
        let scenario = load(file_name);
        if let Some((seed, verdict)) = first_failure(&scenario, 0..1_000) {
            panic!("{file_name} seed {seed}: {verdict}");
        }
    }
}

/// The correct protocol passes 10,000 seeds of the swarm that draws everything (cluster size,
/// options, storage, network, clients): no safety violation, no liveness failure.
#[test]
#[ignore = "a sweep of 10,000 seeds; run in release"]
fn correct_raft_passes_10000_seeds_of_the_swarm_that_draws_everything() {
    let scenario = load("swarm-everything.toml");
    if let Some((seed, verdict)) = first_failure(&scenario, 0..10_000) {
        panic!("swarm-everything.toml seed {seed}: {verdict}");
    }
}

/// Each planted bug, the scenario it is pinned on, the first seed of that scenario whose run
/// catches it, and the property that catches it. The first five were found on
/// `scenarios/raft/swarm.toml`; the rest of the catalogue is pinned on the swarm that draws
/// everything (`scenarios/raft/swarm-everything.toml`). Each has its
/// `scenarios/raft/bug-<bug>.toml` at that seed. `planted_bugs_first_failing_seeds` proves each
/// is the first; `planted_bugs_are_caught_at_their_recorded_seeds` replays them in the default
/// suite. `commit-not-capped` is caught by no seed below 2,000 (the README's catalogue names it
/// as the swarm's gap) and is left out. The two read bugs act only with the `reads` option that
/// enables them: `read-index-unconfirmed` is pinned on the ReadIndex swarm, and
/// `lease-ignores-drift` on `lease-reads.toml`, the schedule that breaks leases (a slow leader
/// cut off from fast followers; clocks within the drift bound), swept over seeds.
/// `snapshot-without-sessions` acts only with log compaction on: it is pinned on the swarm that
/// snapshots every 4 applied entries. `two-changes-at-once` acts only when membership changes:
/// it is pinned on the swarm that adds and removes servers.
const FIRST_FAILURES: [(&str, &str, u64, &str); 19] = [
    (
        "swarm.toml",
        "vote-without-log-check",
        0,
        "leader-completeness",
    ),
    (
        "swarm.toml",
        "commit-previous-term",
        308,
        "leader-completeness",
    ),
    ("swarm.toml", "vote-not-persisted", 687, "election-safety"),
    ("swarm.toml", "stale-local-read", 0, "linearizability"),
    ("swarm.toml", "no-dedup", 3, "linearizability"),
    (EVERYTHING, "truncate-on-append", 3, "leader-completeness"),
    (EVERYTHING, "ack-before-persist", 23, "leader-completeness"),
    (EVERYTHING, "accept-stale-leader", 7, "leader-completeness"),
    (
        EVERYTHING,
        "match-from-next-index",
        0,
        "leader-completeness",
    ),
    (EVERYTHING, "quorum-off-by-one", 1, "leader-completeness"),
    (EVERYTHING, "apply-uncommitted", 0, "leader-completeness"),
    (EVERYTHING, "skip-prev-term-check", 1, "log-matching"),
    (EVERYTHING, "count-stale-votes", 4, "election-safety"),
    (
        EVERYTHING,
        "vote-compare-length-only",
        94,
        "leader-completeness",
    ),
    (EVERYTHING, "count-duplicate-votes", 4, "election-safety"),
    (
        "read-index-swarm.toml",
        "read-index-unconfirmed",
        21,
        "linearizability",
    ),
    (
        "lease-reads.toml",
        "lease-ignores-drift",
        3,
        "linearizability",
    ),
    (
        "snapshot-swarm.toml",
        "snapshot-without-sessions",
        689,
        "linearizability",
    ),
    (
        "membership-swarm.toml",
        "two-changes-at-once",
        6,
        "single-server-change",
    ),
];

/// The swarm that draws everything.
const EVERYTHING: &str = "swarm-everything.toml";

/// The swarm scenario `file_name` with `bug` planted.
fn with_bug(file_name: &str, bug: &str) -> Scenario {
    let mut scenario = load(file_name);
    scenario.protocol.bug = Some(bug.to_string());
    scenario
}

/// Every planted bug is caught at its recorded seed, by the recorded property.
#[test]
fn planted_bugs_are_caught_at_their_recorded_seeds() {
    for (file_name, bug, seed, property) in FIRST_FAILURES {
        let verdict = run(&with_bug(file_name, bug), seed).verdict;
        assert_eq!(
            verdict_line(&verdict),
            format!("safety-violation ({property})"),
            "{bug} at seed {seed} of {file_name}: {verdict}"
        );
    }
}

/// Sweeps up to 2,000 seeds of its swarm per planted bug: the first failing seed of each is the
/// one recorded in `FIRST_FAILURES`.
#[test]
#[ignore = "a sweep of up to 2,000 seeds per bug; run in release"]
fn planted_bugs_first_failing_seeds() {
    for (file_name, bug, recorded, property) in FIRST_FAILURES {
        let (seed, verdict) = first_failure(&with_bug(file_name, bug), 0..2_000)
            .unwrap_or_else(|| panic!("{bug}: not caught in 2,000 seeds of {file_name}"));
        println!("{bug}: first failing seed {seed} of {file_name}: {verdict}");
        assert_eq!(
            (seed, verdict_line(&verdict)),
            (recorded, format!("safety-violation ({property})")),
            "{bug}"
        );
    }
}

/// Without faults, the service answers everything: compare-and-sets whose expected value did
/// not hold are answers (decided fails), not outages.
#[test]
fn a_fault_free_steady_state_is_available() {
    for file_name in ["steady-state.toml", "counter-steady-state.toml"] {
        let scenario = load(file_name);
        let data = run(&scenario, scenario.seed);
        let availability = data.stats.availability().expect("operations ran");
        assert!(availability >= 0.99, "{file_name}: {availability}");
    }
}

/// For each planted bug at its recorded seed, the explanation names the cause: for a
/// linearizability violation, the operations the stuck one conflicts with, each served by a
/// node, and the conflict is the real one — without the named operations the history up to
/// the stuck operation is linearizable, and without all but one of them it is not (each is
/// needed); for an invariant, the nodes and terms involved.
#[test]
fn explanations_name_the_conflicting_operations_or_the_invariants_participants() {
    use sim::protocol::Protocol;
    for (file_name, bug, seed, property) in FIRST_FAILURES {
        let scenario = with_bug(file_name, bug);
        let data = run(&scenario, seed);
        let Verdict::SafetyViolation { detail, .. } = &data.verdict else {
            panic!("{bug}: {}", data.verdict);
        };
        if property != "linearizability" {
            let names = |prefix: char| {
                detail
                    .split(|c: char| !c.is_ascii_alphanumeric())
                    .any(|word| word.starts_with(prefix) && word[1..].parse::<u64>().is_ok())
            };
            assert!(names('n') && names('t'), "{bug}: {detail}");
            continue;
        }
        let stuck = data.stuck_operation.expect("a stuck operation") as usize;
        let conflicts: Vec<usize> = data
            .conflicting_operations
            .iter()
            .map(|&c| c as usize)
            .collect();
        let spans = sim::conflict::spans(&data.history);
        if conflicts.is_empty() {
            // The explainer names no conflict only when none exists (sim/src/conflict.rs): the
            // stuck operation stays illegal whatever else is removed.
            let others: Vec<usize> = spans
                .iter()
                .map(|span| span.invoke)
                .filter(|invoke| *invoke != stuck)
                .collect();
            assert_eq!(
                without_operations(&scenario, &data, stuck, &others),
                Some(false),
                "{bug}: no conflict named, yet one exists"
            );
            continue;
        }
        for &conflict in conflicts.iter().chain([&stuck]) {
            let span = spans.iter().find(|s| s.invoke == conflict).unwrap();
            let completion = span.complete.expect("completed");
            assert!(
                data.history.node(completion).is_some(),
                "{bug}: operation at entry {conflict} names no serving node"
            );
        }
        match scenario.workload.kind.as_str() {
            "counter" => assert_conflicts_are_minimal::<<Raft<Counters> as Protocol>::Workload>(
                &scenario, &data, bug, stuck, &conflicts,
            ),
            _ => assert_conflicts_are_minimal::<<Raft as Protocol>::Workload>(
                &scenario, &data, bug, stuck, &conflicts,
            ),
        }
    }
}

/// Whether the history up to the stuck operation is linearizable without `removed`.
fn without_operations(
    scenario: &Scenario,
    data: &RunData,
    stuck: usize,
    removed: &[usize],
) -> Option<bool> {
    fn check<W: sim::workload::Workload>(
        scenario: &Scenario,
        data: &RunData,
        stuck: usize,
        removed: &[usize],
    ) -> Option<bool> {
        let options =
            world::workload_options::<W>(&scenario.workload, scenario.run.duration).unwrap();
        let setup = sim::workload::Setup {
            clients: scenario.workload.clients,
            reply_independent: scenario.workload.reply_independent,
        };
        let workload = W::new(&options, setup);
        let check = scenario.run.check_options();
        sim::conflict::linearizable_without(&data.history, &workload, &check, stuck, removed)
    }
    use sim::protocol::Protocol;
    match scenario.workload.kind.as_str() {
        "counter" => {
            check::<<Raft<Counters> as Protocol>::Workload>(scenario, data, stuck, removed)
        }
        _ => check::<<Raft as Protocol>::Workload>(scenario, data, stuck, removed),
    }
}

/// Without the named operations the history up to the stuck one is linearizable, and without
/// all but one of them it is not: each is needed.
fn assert_conflicts_are_minimal<W: sim::workload::Workload>(
    scenario: &Scenario,
    data: &RunData,
    bug: &str,
    stuck: usize,
    conflicts: &[usize],
) {
    let options = world::workload_options::<W>(&scenario.workload, scenario.run.duration).unwrap();
    let setup = sim::workload::Setup {
        clients: scenario.workload.clients,
        reply_independent: scenario.workload.reply_independent,
    };
    let workload = W::new(&options, setup);
    let check = scenario.run.check_options();
    let without = |removed: &[usize]| {
        sim::conflict::linearizable_without(&data.history, &workload, &check, stuck, removed)
    };
    assert_eq!(
        without(&[]),
        Some(false),
        "{bug}: the prefix is linearizable"
    );
    assert_eq!(without(conflicts), Some(true), "{bug}: {conflicts:?}");
    for index in 0..conflicts.len() {
        let mut fewer = conflicts.to_vec();
        fewer.remove(index);
        assert_eq!(without(&fewer), Some(false), "{bug}: {fewer:?} suffice");
    }
}
