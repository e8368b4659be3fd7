//! The nemesis: fault schedules, scripted or drawn by the swarm generator.
//!
//! Faults are data. A scripted schedule comes straight from the scenario's `[[faults]]`; a swarm
//! scenario's `[swarm]` settings are expanded, per seed, into an explicit schedule of the same
//! form ([`expand`]), so every swarm run can be written out as an ordinary scenario, edited and
//! replayed. Swarm testing (Groce et al., "Swarm Testing", ISSTA 2012; TigerBeetle's simulator)
//! draws not only the faults but *which kinds* of fault a seed enables and how often they come,
//! so that each seed explores a different corner of fault space instead of the same average mix.

use crate::rng::{Ratio, SimRng, Stream};
use crate::scenario::{
    Fault, FaultSpec, NodeRef, Partition, Scenario, SignedDuration, SwarmKind, Target,
};
use crate::time::SimDuration;

/// The explicit fault schedule of `scenario` under `seed`, sorted by time (stable).
pub fn expand(scenario: &Scenario, seed: u64) -> Vec<FaultSpec> {
    let mut faults = match &scenario.swarm {
        None => scenario.faults.clone(),
        // Faults aim at the drawn cluster and clients; they never depend on the drawn options.
        Some(_) => swarm_schedule(&draw_setting(scenario, seed), seed),
    };
    faults.sort_by_key(|fault| fault.at);
    faults
}

/// Decides whether a drawn scenario can run (the protocol's and the workload's own checks).
pub type Acceptance<'a> = &'a dyn Fn(&Scenario) -> Result<(), String>;

/// Accepts every drawn scenario (for schedules and tests that never run the protocol).
pub fn accept_all(_: &Scenario) -> Result<(), String> {
    Ok(())
}

/// The most times a seed draws protocol and workload options before giving up.
pub const DRAW_ATTEMPTS: u32 = 64;

/// `scenario` with what `[swarm.draw]` draws for `seed` written in: cluster size, clients,
/// network, storage, protocol and workload options. The `[swarm]` section stays (its faults are
/// drawn by [`expand`]) without its `draw` table. A scenario without draws is returned as is.
///
/// Two sub-streams keep the draws independent: the first draws the setting (cluster, clients,
/// network, storage), on which the fault schedule depends; the second draws options, again and
/// again while `accept` rejects the combination (the protocol's documented unsafe or
/// unworkable combinations), so a rejection never changes the faults.
pub fn draw<'s>(
    scenario: &'s Scenario,
    seed: u64,
    accept: Acceptance<'_>,
) -> Result<std::borrow::Cow<'s, Scenario>, String> {
    use std::borrow::Cow;
    let Some(draw) = scenario
        .swarm
        .as_ref()
        .and_then(|swarm| swarm.draw.as_ref())
    else {
        return Ok(Cow::Borrowed(scenario));
    };
    let setting = draw_setting(scenario, seed);
    let mut rng = SimRng::stream(seed, Stream::SwarmDrawOptions);
    let mut last_problem = String::new();
    for _ in 0..DRAW_ATTEMPTS {
        let mut drawn = setting.as_ref().clone();
        merge_choices(&mut drawn.protocol.options, &draw.options, &mut rng);
        merge_choices(&mut drawn.workload.options, &draw.workload, &mut rng);
        match accept(&drawn) {
            Ok(()) => {
                if let Some(swarm) = drawn.swarm.as_mut() {
                    swarm.draw = None;
                }
                return Ok(Cow::Owned(drawn));
            }
            Err(problem) => last_problem = problem,
        }
    }
    Err(format!(
        "swarm.draw: seed {seed} found no accepted combination of options in {DRAW_ATTEMPTS} \
         draws (the last: {last_problem})"
    ))
}

/// The setting `[swarm.draw]` draws for `seed` (no options yet), from its own sub-stream.
fn draw_setting(scenario: &Scenario, seed: u64) -> std::borrow::Cow<'_, Scenario> {
    let Some(draw) = scenario
        .swarm
        .as_ref()
        .and_then(|swarm| swarm.draw.as_ref())
    else {
        return std::borrow::Cow::Borrowed(scenario);
    };
    let mut drawn = scenario.clone();
    let mut rng = SimRng::stream(seed, Stream::SwarmDraw);
    // The order of draws is part of the seed's meaning; a dimension left out draws nothing.
    fn pick<T: Clone>(choices: &[T], rng: &mut SimRng, into: &mut T) {
        if !choices.is_empty() {
            *into = choices[rng.index(choices.len())].clone();
        }
    }
    pick(&draw.nodes, &mut rng, &mut drawn.cluster.nodes);
    pick(&draw.clients, &mut rng, &mut drawn.workload.clients);
    pick(&draw.rate, &mut rng, &mut drawn.workload.rate);
    pick(&draw.arrivals, &mut rng, &mut drawn.workload.arrivals);
    pick(&draw.latency, &mut rng, &mut drawn.network.latency);
    pick(&draw.fifo, &mut rng, &mut drawn.network.fifo);
    pick(&draw.fsync, &mut rng, &mut drawn.storage.fsync);
    pick(
        &draw.lose_unsynced,
        &mut rng,
        &mut drawn.storage.lose_unsynced,
    );
    std::borrow::Cow::Owned(drawn)
}

/// Sets each key of `choices` (a list of values) in `table` to one of its values.
fn merge_choices(table: &mut toml::Table, choices: &toml::Table, rng: &mut SimRng) {
    for (key, values) in choices {
        let values = values.as_array().expect("validated: draw lists are arrays");
        table.insert(key.clone(), values[rng.index(values.len())].clone());
    }
}

/// The scenario with its draws and fault schedule written out for `seed`: no `[swarm]`
/// section, the drawn cluster, network, storage, clients and options, explicit `[[faults]]`,
/// and the seed set. Running it gives the same trace as the original. `accept` is the check the
/// run applies to drawn options ([`draw`]).
pub fn expanded_scenario(
    scenario: &Scenario,
    seed: u64,
    accept: Acceptance<'_>,
) -> Result<Scenario, String> {
    let mut expanded = draw(scenario, seed, accept)?.into_owned();
    expanded.faults = expand(scenario, seed);
    expanded.swarm = None;
    expanded.seed = seed;
    Ok(expanded)
}

fn swarm_schedule(scenario: &Scenario, seed: u64) -> Vec<FaultSpec> {
    let swarm = scenario.swarm.as_ref().expect("swarm settings");
    let end = scenario.run.heal_at.expect("validated: swarm has heal_at");
    let nodes = scenario.cluster.nodes;
    let mut rng = SimRng::stream(seed, Stream::Swarm);

    // Which kinds this seed uses: each with probability 1/2, at least one.
    let mut kinds: Vec<SwarmKind> = swarm
        .kinds
        .iter()
        .copied()
        .filter(|_| rng.chance(Ratio::new(1, 2)))
        .collect();
    if kinds.is_empty() {
        kinds.push(swarm.kinds[rng.index(swarm.kinds.len())]);
    }
    // How dense this seed's faults are: a mean gap drawn from the allowed range.
    let gap_mean = rng.between(swarm.gap_min.0, swarm.gap_max.0);

    let mut faults = Vec::new();
    let mut at = SimDuration(rng.between(swarm.gap_min.0, gap_mean));
    while at < end && faults.len() < 10_000 {
        let length = SimDuration(rng.between(swarm.length_min.0, swarm.length_max.0));
        let length = SimDuration(length.0.min(end.0 - at.0)).max(SimDuration(1));
        let kind = kinds[rng.index(kinds.len())];
        let processes = (nodes, scenario.workload.clients);
        faults.push(draw_fault(kind, at, length, processes, swarm, &mut rng));
        at = at + SimDuration(rng.between(swarm.gap_min.0, gap_mean.max(swarm.gap_min.0)));
    }
    faults
}

fn draw_node(nodes: u32, rng: &mut SimRng) -> NodeRef {
    // A third of node faults aim at the leader, where they hurt most.
    if rng.chance(Ratio::new(1, 3)) {
        NodeRef::Leader
    } else {
        NodeRef::Id(rng.below(u64::from(nodes)) as u32)
    }
}

fn draw_fault(
    kind: SwarmKind,
    at: SimDuration,
    length: SimDuration,
    (nodes, clients): (u32, u32),
    swarm: &crate::scenario::SwarmSection,
    rng: &mut SimRng,
) -> FaultSpec {
    // The order of draws is part of the seed's meaning: changing it changes every swarm run.
    let fault = match kind {
        SwarmKind::Partition => {
            let choice = rng.below(5);
            if choice == 4 && nodes > 1 {
                let from = rng.below(u64::from(nodes)) as u32;
                let to = (from + 1 + rng.below(u64::from(nodes - 1)) as u32) % nodes;
                Fault::Cut {
                    from: NodeRef::Id(from),
                    to: NodeRef::Id(to),
                }
            } else {
                Fault::Partition(match choice {
                    0 => Partition::Isolate(draw_node(nodes, rng)),
                    1 => Partition::Groups(
                        crate::network::shapes::halves(nodes, rng)
                            .into_iter()
                            .map(|group| group.into_iter().map(|n| n.0).collect())
                            .collect(),
                    ),
                    2 => Partition::MajoritiesRing,
                    _ => Partition::Bridge,
                })
            }
        }
        SwarmKind::Crash => Fault::Crash(draw_node(nodes, rng)),
        SwarmKind::Pause => Fault::Pause(Target::Node(draw_node(nodes, rng))),
        SwarmKind::Clock => draw_clock_fault(swarm, rng, |rng| Target::Node(draw_node(nodes, rng))),
        SwarmKind::ClientPause => {
            Fault::Pause(Target::Client(rng.below(u64::from(clients)) as u32))
        }
        SwarmKind::ClientClock => draw_clock_fault(swarm, rng, |rng| {
            Target::Client(rng.below(u64::from(clients)) as u32)
        }),
        SwarmKind::Membership => {
            let node = draw_node(nodes, rng);
            if rng.chance(Ratio::new(1, 2)) {
                Fault::RemoveServer(node)
            } else {
                Fault::AddServer(node)
            }
        }
        SwarmKind::Network => {
            let loss = [Ratio::new(1, 100), Ratio::new(1, 20), Ratio::new(1, 5)];
            let duplicate = [Ratio::ZERO, Ratio::new(1, 50), Ratio::new(1, 10)];
            let reorder = [Ratio::ZERO, Ratio::new(1, 10), Ratio::new(1, 3)];
            Fault::Network {
                loss: loss[rng.index(3)],
                duplicate: duplicate[rng.index(3)],
                reorder: reorder[rng.index(3)],
            }
        }
    };
    FaultSpec::new(at, fault).lasting(length)
}

/// A wall-clock jump or a drift change (even odds) on the target `draw` picks.
fn draw_clock_fault(
    swarm: &crate::scenario::SwarmSection,
    rng: &mut SimRng,
    draw: impl FnOnce(&mut SimRng) -> Target,
) -> Fault {
    if rng.chance(Ratio::new(1, 2)) {
        let magnitude = rng.between(1, swarm.clock_jump_max.0.max(1)) as i64;
        let sign = if rng.chance(Ratio::new(1, 2)) { -1 } else { 1 };
        Fault::ClockJump {
            target: draw(rng),
            by: SignedDuration(sign * magnitude),
        }
    } else {
        let max = swarm.drift_ppm_max.unsigned_abs();
        let drift_ppm = rng.between(0, 2 * max) as i64 - max as i64;
        Fault::ClockDrift {
            target: draw(rng),
            drift_ppm,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn swarm_scenario() -> Scenario {
        Scenario::parse(
            r#"
[protocol]
name = "unreplicated"
[cluster]
nodes = 5
[run]
duration = "10s"
heal_at = "8s"
[swarm]
"#,
            Path::new("swarm.toml"),
        )
        .unwrap()
    }

    #[test]
    fn same_seed_same_schedule_and_seeds_differ() {
        let scenario = swarm_scenario();
        assert_eq!(expand(&scenario, 4), expand(&scenario, 4));
        let distinct: std::collections::BTreeSet<String> = (0..20)
            .map(|seed| format!("{:?}", expand(&scenario, seed)))
            .collect();
        assert_eq!(distinct.len(), 20);
    }

    #[test]
    fn swarm_faults_end_before_healing_and_validate() {
        let scenario = swarm_scenario();
        for seed in 0..50 {
            let expanded = expanded_scenario(&scenario, seed, &accept_all).unwrap();
            for fault in &expanded.faults {
                assert!(fault.at + fault.duration.unwrap() <= SimDuration::from_secs(8));
            }
            // The written-out scenario is a valid scripted scenario.
            Scenario::parse(&expanded.to_toml(), Path::new("expanded.toml")).unwrap();
        }
    }

    #[test]
    fn client_kinds_aim_at_existing_clients_and_write_out_as_valid_scenarios() {
        let mut scenario = swarm_scenario();
        let swarm = scenario.swarm.as_mut().unwrap();
        swarm.kinds = vec![SwarmKind::ClientPause, SwarmKind::ClientClock];
        scenario.workload.clients = 4;
        let mut clients = std::collections::BTreeSet::new();
        for seed in 0..20 {
            let expanded = expanded_scenario(&scenario, seed, &accept_all).unwrap();
            for fault in &expanded.faults {
                match fault.fault.target() {
                    Some(Target::Client(client)) => {
                        assert!(client < 4);
                        clients.insert(client);
                    }
                    other => panic!("a client kind drew {other:?}"),
                }
            }
            Scenario::parse(&expanded.to_toml(), Path::new("expanded.toml")).unwrap();
        }
        assert_eq!(clients.len(), 4, "every client is hit by some seed");
    }

    #[test]
    fn seeds_enable_different_fault_kinds() {
        let scenario = swarm_scenario();
        let mixes: std::collections::BTreeSet<Vec<String>> = (0..40)
            .map(|seed| {
                let mut kinds: Vec<String> = expand(&scenario, seed)
                    .iter()
                    .map(|f| format!("{:?}", f.fault.action()))
                    .collect();
                kinds.sort();
                kinds.dedup();
                kinds
            })
            .collect();
        assert!(mixes.len() >= 10, "only {} distinct mixes", mixes.len());
    }
}
