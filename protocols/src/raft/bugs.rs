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
    /// Figure 2, AppendEntries receiver rule 3: delete the entries after `prevLogIndex` on every
    /// `AppendEntries`, not only those that conflict — a delayed or duplicated request then
    /// erases entries the follower already acknowledged.
    TruncateOnAppend,
    /// Figure 2 ("updated on stable storage before responding to RPCs"): acknowledge
    /// `AppendEntries` before the new entries are durable; a crash losing unsynced writes
    /// erases entries the leader counted.
    AckBeforePersist,
    /// Figure 2, AppendEntries receiver rule 1: accept `AppendEntries` from a leader of an
    /// earlier term; a deposed leader overwrites entries of the current one.
    AcceptStaleLeader,
    /// Raft §5.3 (`matchIndex`: the highest entry *known* to be replicated): on a successful
    /// reply, the leader sets `matchIndex` from its optimistic `nextIndex`, counting entries
    /// still in flight as stored.
    MatchFromNextIndex,
    /// Raft §5.3 ("replicated it on a majority"): the commit rule counts `n / 2` servers, not
    /// `n / 2 + 1` — the classic off-by-one quorum.
    QuorumOffByOne,
    /// Figure 2 (`lastApplied` ≤ `commitIndex`): the leader applies entries and answers clients
    /// as soon as they are in its own log, before they are committed.
    ApplyUncommitted,
    /// Figure 2, AppendEntries receiver rule 2: the consistency check asks only that the log
    /// reaches `prevLogIndex`, not that the entry there has `prevLogTerm`.
    SkipPrevTermCheck,
    /// Raft §5.2 (votes are per term): a candidate keeps a running tally — the votes of its
    /// last election carry over into the next, and a reply granting a vote in an earlier term
    /// is counted too.
    CountStaleVotes,
    /// Raft §5.4.1: "up-to-date" compares only log lengths, not the terms of the last entries.
    VoteCompareLengthOnly,
    /// Figure 2, AppendEntries receiver rule 5: the follower sets its commit index to
    /// `leaderCommit` without capping it at the last entry the request covered, so entries after
    /// it — perhaps a deposed leader's, not yet replaced — count as committed.
    CommitNotCapped,
    /// Raft §5.2 ("votes from a majority of the servers"): the candidate counts granting
    /// replies, not voters, so a duplicated reply — or the answer to a retried `RequestVote` —
    /// counts one voter twice.
    CountDuplicateVotes,
    /// Dissertation §6.4 step 3 (with `reads = "read-index"` or `"lease"`): answer a read at
    /// the read index without a heartbeat round confirming the leader still leads.
    ReadIndexUnconfirmed,
    /// Dissertation §6.4.1 (with `reads = "lease"`): the lease lasts the whole minimum election
    /// timeout, without the allowance for clock drift.
    LeaseIgnoresDrift,
    /// Dissertation §5.1 (with `snapshot_entries_max`): the snapshot holds the state machine
    /// without its client session table (§8), so a node restored from it executes a retried
    /// request again.
    SnapshotWithoutSessions,
    /// Dissertation §4.1 ("a leader does not begin a new configuration change until the
    /// previous one is committed", with membership changes): the leader appends a configuration
    /// entry while another is uncommitted, so two changes are in flight and majorities of the
    /// configurations they leave behind need not overlap.
    TwoChangesAtOnce,
}

impl Bug {
    /// Every planted bug, in the order of [`Bug::NAMES`].
    pub const ALL: [Bug; 20] = [
        Bug::VoteWithoutLogCheck,
        Bug::CommitPreviousTerm,
        Bug::VoteNotPersisted,
        Bug::StaleLocalRead,
        Bug::NoDedup,
        Bug::TruncateOnAppend,
        Bug::AckBeforePersist,
        Bug::AcceptStaleLeader,
        Bug::MatchFromNextIndex,
        Bug::QuorumOffByOne,
        Bug::ApplyUncommitted,
        Bug::SkipPrevTermCheck,
        Bug::CountStaleVotes,
        Bug::VoteCompareLengthOnly,
        Bug::CommitNotCapped,
        Bug::CountDuplicateVotes,
        Bug::ReadIndexUnconfirmed,
        Bug::LeaseIgnoresDrift,
        Bug::SnapshotWithoutSessions,
        Bug::TwoChangesAtOnce,
    ];

    /// The names scenarios use, in the order of [`Bug::ALL`].
    pub const NAMES: [&'static str; 20] = [
        "vote-without-log-check",
        "commit-previous-term",
        "vote-not-persisted",
        "stale-local-read",
        "no-dedup",
        "truncate-on-append",
        "ack-before-persist",
        "accept-stale-leader",
        "match-from-next-index",
        "quorum-off-by-one",
        "apply-uncommitted",
        "skip-prev-term-check",
        "count-stale-votes",
        "vote-compare-length-only",
        "commit-not-capped",
        "count-duplicate-votes",
        "read-index-unconfirmed",
        "lease-ignores-drift",
        "snapshot-without-sessions",
        "two-changes-at-once",
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
