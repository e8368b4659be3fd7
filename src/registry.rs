//! The protocols `detsim` can run, by the name scenarios use.
//!
//! Adding a protocol is one line in [`PROTOCOLS`]: its type and its invariant checker. Everything
//! else (scenario validation, running, fuzzing) goes through the entry.

use sim::invariants::{Invariants, NoInvariants};
use sim::outcome::RunData;
use sim::protocol::Protocol;
use sim::scenario::{FaultSpec, ProtocolSection, Scenario};
use sim::verdict;
use sim::world::{self, RunError};
use std::io::Write;
use std::marker::PhantomData;

/// A protocol known to the command line.
pub trait Registered: Sync {
    /// The name scenarios use.
    fn name(&self) -> &'static str;
    /// Its planted bugs.
    fn bugs(&self) -> &'static [&'static str];
    /// Checks a `[protocol]` section (options and bug) without running anything.
    fn validate(&self, section: &ProtocolSection) -> Result<(), RunError>;
    /// Runs the scenario with an explicit fault schedule and checks its history: the verdict
    /// covers invariants, limits, panics, liveness and linearizability.
    fn run(
        &self,
        scenario: &Scenario,
        faults: &[FaultSpec],
        seed: u64,
        trace: Option<&mut dyn Write>,
    ) -> Result<RunData, RunError> {
        let mut data = self.simulate(scenario, faults, seed, trace)?;
        data.check_explanation = verdict::judge_history_within(
            &mut data,
            scenario.run.check_budget,
            scenario.run.check_memory,
        );
        Ok(data)
    }
    /// Runs the scenario without checking the history (for benchmarks of the engine alone).
    fn simulate(
        &self,
        scenario: &Scenario,
        faults: &[FaultSpec],
        seed: u64,
        trace: Option<&mut dyn Write>,
    ) -> Result<RunData, RunError>;
}

struct Entry<P, I>(PhantomData<fn() -> (P, I)>);

impl<P: Protocol, I: Invariants<P> + Default> Registered for Entry<P, I> {
    fn name(&self) -> &'static str {
        P::NAME
    }
    fn bugs(&self) -> &'static [&'static str] {
        P::BUGS
    }
    fn validate(&self, section: &ProtocolSection) -> Result<(), RunError> {
        world::protocol_options::<P>(section).map(|_| ())
    }
    fn simulate(
        &self,
        scenario: &Scenario,
        faults: &[FaultSpec],
        seed: u64,
        trace: Option<&mut dyn Write>,
    ) -> Result<RunData, RunError> {
        world::run::<P, I>(scenario, faults, seed, I::default(), trace)
    }
}

/// Every protocol, in the order `detsim` lists them.
pub static PROTOCOLS: &[&dyn Registered] = &[
    &Entry::<protocols::unreplicated::Unreplicated, NoInvariants>(PhantomData),
    &Entry::<protocols::raft::Raft, protocols::raft::RaftInvariants>(PhantomData),
];

/// The protocol called `name`.
pub fn find(name: &str) -> Option<&'static dyn Registered> {
    PROTOCOLS.iter().copied().find(|entry| entry.name() == name)
}
