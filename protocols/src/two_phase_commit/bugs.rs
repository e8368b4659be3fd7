//! The planted bugs: each breaks one rule of two-phase commit, and an invariant must catch it.
//! The module essay (`two_phase_commit/mod.rs`) says which property catches which.

/// A deliberate deviation from the protocol, enabled with `bug = "…"` in a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bug {
    /// A prepared participant commits on its own when its wait for the decision times out.
    CommitOnTimeout,
    /// The coordinator sends its commit decision before the decision record is durable.
    DecideBeforeLogging,
    /// A restarted participant forgets the transactions it had prepared.
    ForgetPrepared,
    /// The coordinator answers commit for a transaction it has no record of.
    PresumeCommit,
}

impl Bug {
    /// Every planted bug, in the order of [`Bug::NAMES`].
    pub const ALL: [Bug; 4] = [
        Bug::CommitOnTimeout,
        Bug::DecideBeforeLogging,
        Bug::ForgetPrepared,
        Bug::PresumeCommit,
    ];

    /// The names scenarios use, in the order of [`Bug::ALL`].
    pub const NAMES: [&'static str; 4] = [
        "commit-on-timeout",
        "decide-before-logging",
        "forget-prepared",
        "presume-commit",
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
