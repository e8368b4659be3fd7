//! Raft under random schedules of the step-by-step test network: messages delivered in any
//! order, dropped, duplicated; timers firing at any point; crashes, restarts and cut links. A
//! seeded generator picks each step, so every failure is a seed to replay. This runs without the
//! engine and complements its swarm tests: it explores orders no latency model would produce.

mod raft_support;

use protocols::raft::Options;
use raft_support::Cluster;
use sim::invariants::Violation;
use sim::rng::SimRng;
use sim::service::Answer;
use sim::workload::register::Operation;

/// What one schedule did.
struct Outcome {
    violation: Option<Violation>,
    ok_count: usize,
}

fn random_operation(rng: &mut SimRng, value: i64) -> Operation {
    let key = rng.below(2);
    match rng.below(3) {
        0 => Operation::Read { key },
        1 => Operation::Write { key, value },
        _ => Operation::Cas {
            key,
            from: value - 1,
            to: value,
        },
    }
}

/// Runs `step_count` random steps on a cluster of 3 or 5 nodes seeded by `seed`.
fn explore(seed: u64, bug: Option<&'static str>, step_count: usize) -> Outcome {
    explore_with(seed, bug, step_count, Options::default())
}

fn explore_with(
    seed: u64,
    bug: Option<&'static str>,
    step_count: usize,
    options: Options,
) -> Outcome {
    let mut rng = SimRng::new(seed);
    let node_count = if rng.below(2) == 0 { 3 } else { 5 };
    let mut cluster = Cluster::with_options(node_count, bug, options);
    for step in 0..step_count {
        if cluster.violation.is_some() {
            break;
        }
        let node = rng.below(u64::from(node_count)) as u32;
        let running = cluster.nodes[node as usize].is_some();
        match rng.below(100) {
            0..=54 if !cluster.in_flight.is_empty() => {
                let position = rng.index(cluster.in_flight.len());
                cluster.deliver_at(position);
            }
            55..=58 if !cluster.in_flight.is_empty() => {
                let position = rng.index(cluster.in_flight.len());
                cluster.in_flight.remove(position);
            }
            59..=62 if !cluster.in_flight.is_empty() => {
                let position = rng.index(cluster.in_flight.len());
                let copy = cluster.in_flight[position].clone();
                cluster.in_flight.push(copy);
            }
            63..=79 if running && !cluster.timers[node as usize].is_empty() => {
                let timers = &cluster.timers[node as usize];
                let timer = timers[rng.index(timers.len())];
                cluster.fire(node, timer);
            }
            80..=91 if running => {
                let operation = random_operation(&mut rng, step as i64);
                cluster.request(node, operation);
            }
            92..=93 if running => cluster.crash(node),
            94..=96 if !running => cluster.restart(node),
            97..=98 => {
                let other = rng.below(u64::from(node_count)) as usize;
                let link = &mut cluster.connected[node as usize][other];
                *link = !*link;
            }
            99 => cluster.heal(),
            _ => {}
        }
    }
    let ok_count = cluster
        .replies
        .iter()
        .filter(|(_, response)| matches!(response, Answer::Ok(_)))
        .count();
    Outcome {
        violation: cluster.violation,
        ok_count,
    }
}

/// The first seed in `seeds` whose schedule breaks an invariant, with the violation.
fn first_violation(
    bug: Option<&'static str>,
    seeds: std::ops::Range<u64>,
    step_count: usize,
) -> Option<(u64, Violation)> {
    seeds
        .into_iter()
        .find_map(|seed| explore(seed, bug, step_count).violation.map(|v| (seed, v)))
}

/// The correct protocol breaks no invariant on any schedule, and still answers clients.
#[test]
fn correct_raft_survives_random_schedules() {
    let mut ok_count = 0;
    for seed in 0..200 {
        let outcome = explore(seed, None, 3_000);
        if let Some(violation) = outcome.violation {
            panic!("seed {seed}: {violation}");
        }
        ok_count += outcome.ok_count;
    }
    // Timers here fire as often as messages arrive, so leaders are deposed constantly and most
    // requests meet a follower or a candidate; still, hundreds must get through.
    assert!(ok_count > 200, "only {ok_count} operations succeeded");
}

/// With pre-vote the correct protocol breaks no invariant either, and still answers clients.
#[test]
fn correct_raft_with_pre_vote_survives_random_schedules() {
    let options = Options {
        pre_vote: true,
        ..Options::default()
    };
    let mut ok_count = 0;
    for seed in 0..200 {
        let outcome = explore_with(seed, None, 3_000, options.clone());
        if let Some(violation) = outcome.violation {
            panic!("seed {seed}: {violation}");
        }
        ok_count += outcome.ok_count;
    }
    assert!(ok_count > 200, "only {ok_count} operations succeeded");
}

/// The correct protocol on many more schedules (`cargo test --release -- --ignored`).
#[test]
#[ignore = "a long sweep"]
fn correct_raft_survives_many_random_schedules() {
    if let Some((seed, violation)) = first_violation(None, 0..5_000, 5_000) {
        panic!("seed {seed}: {violation}");
    }
    let options = Options {
        pre_vote: true,
        ..Options::default()
    };
    for seed in 0..5_000 {
        if let Some(violation) = explore_with(seed, None, 5_000, options.clone()).violation {
            panic!("pre-vote, seed {seed}: {violation}");
        }
    }
}

/// The invariant-breaking planted bugs are found within a thousand schedules; the first failing
/// seed of each is pinned, so a change in what the generator explores shows up here. (A fired
/// election timer moves the cluster's clock on, and a server ignores `RequestVote` within the
/// minimum election timeout of hearing from its leader, dissertation §4.2.3: fewer schedules
/// reach a second vote in one term than before that rule, and `vote-not-persisted` needs one.)
#[test]
fn planted_bugs_are_found_by_random_schedules() {
    let mut found = Vec::new();
    for bug in [
        "vote-without-log-check",
        "commit-previous-term",
        "vote-not-persisted",
    ] {
        let (seed, violation) = first_violation(Some(bug), 0..1_000, 3_000)
            .unwrap_or_else(|| panic!("{bug} not caught in 1,000 schedules"));
        found.push(format!("{bug}: seed {seed}, {}", violation.property));
    }
    insta::assert_snapshot!(found.join("\n"));
}
