//! The fixed swarm campaign that mutation testing runs against each mutant of the Raft code:
//! seeds of `scenarios/raft/swarm-everything.toml` (the swarm that draws everything), judged as
//! `detsim run` judges them. A mutant is caught when some seed fails — an invariant, the
//! linearizability check, liveness, or a panic of one of the protocol's own assertions.
//!
//! It is `#[ignore]`d: `cargo mutants` runs it (see the README's "Mutation testing"), and so can
//! anyone, in release: `cargo test --release -p protocols --test raft_mutation_campaign --
//! --ignored`. `DETSIM_MUTATION_SEEDS` sets the number of seeds (default 200).

mod scenario_support;

use protocols::raft::{Raft, RaftInvariants};
use sim::nemesis;
use sim::scenario::Scenario;
use sim::world;

#[test]
#[ignore = "the campaign mutation testing runs against each mutant"]
fn raft_passes_the_mutation_campaign() {
    let path = scenario_support::scenario_directory("raft").join("swarm-everything.toml");
    let scenario = Scenario::load(&path).expect("the scenario loads");
    let seeds: u64 = std::env::var("DETSIM_MUTATION_SEEDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(200);
    for seed in 0..seeds {
        let faults = nemesis::expand(&scenario, seed);
        let data = world::run::<Raft, _>(&scenario, &faults, seed, RaftInvariants::new(), None)
            .expect("the scenario runs");
        assert!(data.verdict.is_pass(), "seed {seed}: {}", data.verdict);
    }
}
