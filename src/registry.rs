//! The protocols `detsim` can run, by the names scenarios use, each paired with the workloads it
//! serves.
//!
//! A protocol that serves several workloads is generic over them (`Raft<Registers>`,
//! `Raft<Counters>`), and each pairing is one line in [`BUILT_IN`] (or, from a crate of your own, an [`entry`] given to [`crate::main_with`]): the protocol type (which
//! names its workload) and its invariant checker. Everything else — scenario validation,
//! running, fuzzing, `detsim list` — goes through the entry. A scenario that pairs a protocol
//! with a workload it does not serve is an error naming the line.

use protocols::locks::{LockInvariants, LockServer, Redlock, ZkLock};
use protocols::paxos::{Paxos, PaxosInvariants};
use protocols::raft::{Raft, RaftInvariants};
use protocols::two_phase_commit::{TwoPhaseCommit, TwoPhaseInvariants};
use protocols::unreplicated::Unreplicated;
use sim::invariants::{Invariants, NoInvariants};
use sim::outcome::RunData;
use sim::protocol::Protocol;
use sim::scenario::{FaultSpec, Scenario};
use sim::verdict;
use sim::workload::counter::Counters;
use sim::workload::register::Registers;
use sim::workload::Workload;
use sim::world::{self, RunError};
use std::io::Write;
use std::marker::PhantomData;

/// A (protocol, workload) pairing known to the command line.
pub trait Registered: Sync {
    /// The protocol's name, as scenarios write it (`[protocol] name`).
    fn protocol(&self) -> &'static str;
    /// The workload's kind (`[workload] kind`).
    fn workload(&self) -> &'static str;
    /// The protocol's planted bugs.
    fn bugs(&self) -> &'static [&'static str];
    /// The moments the protocol marks, for faults triggered by them.
    fn moments(&self) -> &'static [&'static str];
    /// The protocol's options with their defaults, as `[protocol.options]` lines.
    fn default_options(&self) -> String;
    /// Whether a drawn scenario's options pass the protocol's and the workload's checks (what
    /// a swarm's `[swarm.draw]` must satisfy; see `sim::nemesis::draw`).
    fn accepts(&self, scenario: &Scenario) -> Result<(), String>;
    /// Whether the planted `bug` can act in `scenario` with `seed` (after its swarm draws): see
    /// `Protocol::bug_can_act`.
    fn bug_can_act(&self, scenario: &Scenario, seed: u64, bug: &str) -> Result<bool, String>;
    /// Checks the scenario's `[protocol]` and `[workload]` sections without running anything.
    fn validate(&self, scenario: &Scenario) -> Result<(), RunError>;
    /// Runs the scenario with an explicit fault schedule and checks its history — the verdict
    /// covers invariants, limits, panics, liveness and the history's checker — measuring the
    /// wall time of the two phases (printed by `detsim run`, never used by the simulation).
    fn run_phased(
        &self,
        scenario: &Scenario,
        faults: &[FaultSpec],
        seed: u64,
        trace: Option<&mut dyn Write>,
        phases: &mut Phases,
    ) -> Result<RunData, RunError>;
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
    fn protocol(&self) -> &'static str {
        P::NAME
    }
    fn workload(&self) -> &'static str {
        P::Workload::KIND
    }
    fn bugs(&self) -> &'static [&'static str] {
        P::BUGS
    }
    fn moments(&self) -> &'static [&'static str] {
        P::MOMENTS
    }
    fn default_options(&self) -> String {
        toml::to_string(&P::Options::default()).unwrap_or_default()
    }
    fn accepts(&self, scenario: &Scenario) -> Result<(), String> {
        world::accepts::<P>(scenario)
    }
    fn bug_can_act(&self, scenario: &Scenario, seed: u64, bug: &str) -> Result<bool, String> {
        let drawn = sim::nemesis::draw(scenario, seed, &|drawn| world::accepts::<P>(drawn))?;
        let options = world::protocol_options::<P>(&drawn.protocol).map_err(|e| e.to_string())?;
        Ok(P::bug_can_act(bug, &options))
    }
    fn validate(&self, scenario: &Scenario) -> Result<(), RunError> {
        world::protocol_options::<P>(&scenario.protocol)?;
        world::workload_options::<P::Workload>(&scenario.workload, scenario.run.duration)?;
        world::check_moments::<P>(&scenario.faults)?;
        world::check_membership::<P>(scenario)
    }
    fn run_phased(
        &self,
        scenario: &Scenario,
        faults: &[FaultSpec],
        seed: u64,
        trace: Option<&mut dyn Write>,
        phases: &mut Phases,
    ) -> Result<RunData, RunError> {
        #[allow(clippy::disallowed_methods)] // Wall time is measured for people, never simulated.
        let started = std::time::Instant::now();
        let (mut data, workload) =
            world::simulate::<P, I>(scenario, faults, seed, I::default(), trace)?;
        #[allow(clippy::disallowed_methods)]
        let simulated = std::time::Instant::now();
        verdict::judge_history(&mut data, &workload, &scenario.run.check_options());
        phases.simulate = simulated - started;
        phases.check = simulated.elapsed();
        Ok(data)
    }
    fn simulate(
        &self,
        scenario: &Scenario,
        faults: &[FaultSpec],
        seed: u64,
        trace: Option<&mut dyn Write>,
    ) -> Result<RunData, RunError> {
        world::simulate::<P, I>(scenario, faults, seed, I::default(), trace).map(|(data, _)| data)
    }
}

/// Wall time of the phases of one run, for people (never part of a run's files).
#[derive(Clone, Copy, Debug, Default)]
pub struct Phases {
    /// The simulation, recording the history.
    pub simulate: std::time::Duration,
    /// The workload's checker on the history.
    pub check: std::time::Duration,
    /// Writing the history files, summary and checker explanation.
    pub write: std::time::Duration,
}

/// detsim's own (protocol, workload) pairings, in the order `detsim list` shows them.
pub static BUILT_IN: &[&dyn Registered] = &[
    &Entry::<Unreplicated<Registers>, NoInvariants>(PhantomData),
    &Entry::<Unreplicated<Counters>, NoInvariants>(PhantomData),
    &Entry::<Raft<Registers>, RaftInvariants>(PhantomData),
    &Entry::<Raft<Counters>, RaftInvariants>(PhantomData),
    &Entry::<TwoPhaseCommit, TwoPhaseInvariants>(PhantomData),
    &Entry::<Paxos<Registers>, PaxosInvariants>(PhantomData),
    &Entry::<Paxos<Counters>, PaxosInvariants>(PhantomData),
    &Entry::<LockServer, LockInvariants<LockServer>>(PhantomData),
    &Entry::<Redlock, LockInvariants<Redlock>>(PhantomData),
    &Entry::<ZkLock, LockInvariants<ZkLock>>(PhantomData),
];

/// The pairings a program registered with [`install`], beside the built-in ones.
static INSTALLED: std::sync::OnceLock<Vec<&'static dyn Registered>> = std::sync::OnceLock::new();

/// The registry entry of protocol `P` (with invariants `I`) serving `P::Workload`, for
/// [`crate::main_with`]: `entry::<MyProtocol<Registers>, MyInvariants>()`.
pub fn entry<P: Protocol, I: Invariants<P> + Default + 'static>() -> &'static dyn Registered {
    // A zero-sized value: leaking it costs nothing.
    Box::leak(Box::new(Entry::<P, I>(PhantomData)))
}

/// Registers `extra` beside the built-in pairings; a pairing with the name and workload of a
/// built-in one replaces it. Later calls change nothing: the registry is fixed once a command
/// runs.
pub fn install(extra: Vec<&'static dyn Registered>) {
    let mut all = extra.clone();
    for built_in in BUILT_IN {
        let replaced = extra
            .iter()
            .any(|e| e.protocol() == built_in.protocol() && e.workload() == built_in.workload());
        if !replaced {
            all.push(*built_in);
        }
    }
    // Built-in ones first, as `detsim list` shows them, then the program's own.
    all.sort_by_key(|e| {
        let position = BUILT_IN
            .iter()
            .position(|b| b.protocol() == e.protocol() && b.workload() == e.workload());
        position.unwrap_or(usize::MAX)
    });
    let _ = INSTALLED.set(all);
}

/// Every registered pairing.
pub fn entries() -> &'static [&'static dyn Registered] {
    match INSTALLED.get() {
        Some(all) => all,
        None => BUILT_IN,
    }
}

/// Why no entry serves a scenario.
#[derive(Debug, PartialEq, Eq)]
pub enum Unserved {
    /// No protocol has this name.
    UnknownProtocol {
        /// Every protocol's name.
        known: Vec<&'static str>,
    },
    /// The protocol exists but does not serve this workload.
    UnservedWorkload {
        /// The workloads it serves.
        served: Vec<&'static str>,
        /// Whether any protocol serves the workload at all.
        workload_exists: bool,
    },
}

/// The entry that runs `protocol` with `workload`.
pub fn find(protocol: &str, workload: &str) -> Result<&'static dyn Registered, Unserved> {
    find_in(entries(), protocol, workload)
}

/// The scenario of `seed` written out ([`sim::nemesis::expanded_scenario`]): its draws, with
/// the options its protocol accepts, and its explicit fault schedule.
pub fn expanded_scenario(scenario: &Scenario, seed: u64) -> Result<Scenario, String> {
    let entry = find(&scenario.protocol.name, &scenario.workload.kind)
        .map_err(|_| "the scenario's protocol does not serve its workload".to_string())?;
    sim::nemesis::expanded_scenario(scenario, seed, &|drawn| entry.accepts(drawn))
}

/// [`find`] among `all`.
fn find_in(
    all: &[&'static dyn Registered],
    protocol: &str,
    workload: &str,
) -> Result<&'static dyn Registered, Unserved> {
    if let Some(entry) = all
        .iter()
        .copied()
        .find(|e| e.protocol() == protocol && e.workload() == workload)
    {
        return Ok(entry);
    }
    let served: Vec<&'static str> = all
        .iter()
        .filter(|e| e.protocol() == protocol)
        .map(|e| e.workload())
        .collect();
    if served.is_empty() {
        return Err(Unserved::UnknownProtocol {
            known: protocol_names(all),
        });
    }
    Err(Unserved::UnservedWorkload {
        served,
        workload_exists: all.iter().any(|e| e.workload() == workload),
    })
}

/// Each protocol's name once, in the order of its first entry.
fn protocol_names(all: &[&'static dyn Registered]) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for entry in all {
        if !names.contains(&entry.protocol()) {
            names.push(entry.protocol());
        }
    }
    names
}

/// Writes what `detsim list` shows: each protocol with the workloads it serves and its bugs.
pub fn list(out: &mut dyn Write) {
    let all = entries();
    for protocol in protocol_names(all) {
        let entries: Vec<&&dyn Registered> =
            all.iter().filter(|e| e.protocol() == protocol).collect();
        let workloads: Vec<&str> = entries.iter().map(|e| e.workload()).collect();
        let _ = write!(out, "{protocol} (workloads: {})", workloads.join(", "));
        let bugs = entries[0].bugs();
        if !bugs.is_empty() {
            let _ = write!(out, " (planted bugs: {})", bugs.join(", "));
        }
        let moments = entries[0].moments();
        if !moments.is_empty() {
            let _ = write!(out, " (moments: {})", moments.join(", "));
        }
        let _ = writeln!(out);
        let options = entries[0].default_options();
        if !options.trim().is_empty() {
            let _ = writeln!(out, "  [protocol.options] defaults:");
            for line in options.lines().filter(|line| !line.trim().is_empty()) {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pairing_is_found_and_an_unserved_one_says_what_is_served() {
        for entry in BUILT_IN {
            let found = find(entry.protocol(), entry.workload()).unwrap();
            assert_eq!(
                (found.protocol(), found.workload()),
                (entry.protocol(), entry.workload())
            );
        }
        assert_eq!(
            find("raft", "lock").err(),
            Some(Unserved::UnservedWorkload {
                served: vec!["register", "counter"],
                workload_exists: true
            })
        );
        assert!(matches!(
            find("paxs", "register"),
            Err(Unserved::UnknownProtocol { .. })
        ));
    }

    #[test]
    fn a_workload_another_protocol_serves_is_named_as_unserved() {
        let some = [
            entry::<Unreplicated<Registers>, NoInvariants>(),
            entry::<Raft<Counters>, RaftInvariants>(),
        ];
        assert_eq!(
            find_in(&some, "unreplicated", "counter").err(),
            Some(Unserved::UnservedWorkload {
                served: vec!["register"],
                workload_exists: true
            })
        );
        assert_eq!(protocol_names(&some), ["unreplicated", "raft"]);
    }
}
