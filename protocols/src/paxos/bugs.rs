//! The planted bugs: each breaks exactly one rule of the papers, and the testbed must catch it.
//! The module essay (`paxos/mod.rs`) explains each one and what catches it.

/// A deliberate deviation from the papers, enabled with `bug = "…"` in a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bug {
    /// PMS §2.2 (P1a): an acceptor accepts a proposal whose ballot is below its promise.
    AcceptWithoutPromiseCheck,
    /// PMS §2.2 (P2c): a new leader keeps its own accepted value for a slot instead of the one
    /// with the highest ballot among the promises.
    IgnorePromisedValues,
    /// PMS §2.3: an acceptor answers `Prepare` without writing its promise to disk.
    PromiseNotPersisted,
    /// PMS §3: a new leader treats the slots past its own last accepted one as empty and
    /// proposes there without the values phase 1 reported for them.
    Phase1SkippedForEmptySlots,
    /// PMS §2.3: a node learns a value as chosen when it accepts it, without a majority.
    LearnWithoutQuorum,
    /// PMS §2.2, PMMC §3 (acceptor): an acceptor takes an outdated proposal into the ballot it
    /// has promised, accepting a (ballot, value) pair nobody proposed.
    AcceptIntoPromisedBallot,
}

impl Bug {
    /// Every planted bug, in the order of [`Bug::NAMES`].
    pub const ALL: [Bug; 6] = [
        Bug::AcceptWithoutPromiseCheck,
        Bug::IgnorePromisedValues,
        Bug::PromiseNotPersisted,
        Bug::Phase1SkippedForEmptySlots,
        Bug::LearnWithoutQuorum,
        Bug::AcceptIntoPromisedBallot,
    ];

    /// The names scenarios use, in the order of [`Bug::ALL`].
    pub const NAMES: [&'static str; 6] = [
        "accept-without-promise-check",
        "ignore-promised-values",
        "promise-not-persisted",
        "phase1-skipped-for-empty-slots",
        "learn-without-quorum",
        "accept-into-promised-ballot",
    ];

    /// The bug's name as scenarios write it.
    pub fn name(self) -> &'static str {
        let position = Bug::ALL.iter().position(|bug| *bug == self);
        Bug::NAMES[position.expect("every bug is listed")]
    }

    /// The bug called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Bug> {
        let position = Bug::NAMES.iter().position(|known| *known == name)?;
        Some(Bug::ALL[position])
    }
}
