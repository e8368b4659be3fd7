//! The planted bugs: each breaks exactly one rule of the paper, and the testbed must catch it.
//! The module essay (`raft/mod.rs`) explains each one and what catches it.

/// A deliberate deviation from the paper, enabled with `bug = "…"` in a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bug {
    /// Raft §5.4.1: grant a vote without checking that the candidate's log is up to date.
    VoteWithoutLogCheck,
    /// Raft §5.4.2 and Figure 8: commit an entry from an earlier term by counting replicas.
    CommitPreviousTerm,
    /// Raft §5.2 and Figure 2: reply to `RequestVote` without persisting `votedFor`.
    VoteNotPersisted,
    /// Raft §8: answer reads from the local state machine without confirming leadership.
    StaleLocalRead,
    /// Raft §8: no client session table — a retried or duplicated request is appended and
    /// executed again.
    NoDedup,
}

impl Bug {
    /// Every planted bug, in the order of [`Bug::NAMES`].
    pub const ALL: [Bug; 5] = [
        Bug::VoteWithoutLogCheck,
        Bug::CommitPreviousTerm,
        Bug::VoteNotPersisted,
        Bug::StaleLocalRead,
        Bug::NoDedup,
    ];

    /// The names scenarios use, in the order of [`Bug::ALL`].
    pub const NAMES: [&'static str; 5] = [
        "vote-without-log-check",
        "commit-previous-term",
        "vote-not-persisted",
        "stale-local-read",
        "no-dedup",
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
