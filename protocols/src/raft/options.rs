//! Timing and limits, from the scenario's `[protocol]` table. All durations are local time.

use serde::{Deserialize, Serialize};
use sim::time::SimDuration;

/// The largest pipelining window accepted: beyond it the window no longer bounds anything a
/// simulated network can hold.
pub const IN_FLIGHT_MAX: usize = 1024;

/// How a leader serves reads (Ongaro's dissertation §6.4). See `node/reads.rs`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reads {
    /// Every read is a log entry, answered when applied (Raft §8): no clock assumption.
    #[default]
    Log,
    /// ReadIndex (§6.4): the leader records its commit index, confirms it still leads with a
    /// round of heartbeats answered by a majority, and answers once it applied that far.
    ReadIndex,
    /// Leases (§6.4.1): ReadIndex, but within a lease renewed by every heartbeat round the
    /// leader answers without a round. Trusts `clock_drift_bound_ppm`; needs `check_quorum`.
    Lease,
}

/// Raft's tunables. Every field has a default, so an empty table is a sensible cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// The shortest election timeout (Raft §5.2 suggests 150–300ms).
    pub election_timeout_min: SimDuration,
    /// The longest election timeout; each timeout is drawn by the simulator from the range.
    pub election_timeout_max: SimDuration,
    /// How often a leader sends `AppendEntries` to every follower, and a candidate retries its
    /// `RequestVote` to peers that have not answered. Must be well below the election timeout
    /// (Raft §5.6: broadcastTime ≪ electionTimeout).
    pub heartbeat_interval: SimDuration,
    /// Whether a leader steps down when it has not heard from a majority within an election
    /// timeout (check-quorum; Ongaro's dissertation §6.2). See the module essay.
    pub check_quorum: bool,
    /// Whether a server asks for pre-votes before campaigning (Ongaro's dissertation §9.6), so
    /// that one that cannot win — cut off, or behind — never raises the cluster's term. Off by
    /// default, as in the paper. See the module essay.
    pub pre_vote: bool,
    /// The most entries one `AppendEntries` carries.
    pub entries_per_message_max: usize,
    /// Pipelining window (Ongaro's dissertation §10.2.2): the most `AppendEntries` carrying new
    /// entries a leader has in flight to one follower. While the window is full, client
    /// commands accumulate in the log and the next `AppendEntries` carries all of them (up to
    /// `entries_per_message_max`): batching. A reply frees a slot; each heartbeat frees them all
    /// (an `AppendEntries` or reply the network lost must not hold its slot forever).
    pub append_entries_in_flight_max: usize,
    /// The most client requests a leader holds awaiting commit; beyond it, new ones fail.
    pub pending_requests_max: usize,
    /// How the leader serves reads: `"log"` (default), `"read-index"` or `"lease"`.
    pub reads: Reads,
    /// With `reads = "lease"`: the most any server's clock may run fast or slow, in parts per
    /// million (dissertation §6.4.1: leases trust a bound on clock drift). A lease lasts
    /// `election_timeout_min × (1 − b) / (1 + b)` from the send of the heartbeat round that
    /// renewed it.
    pub clock_drift_bound_ppm: u64,
    /// Log compaction (dissertation ch. 5): a node takes a snapshot of its state machine, and
    /// discards the log entries it covers, once this many applied entries are in its log. 0
    /// (the default): never.
    pub snapshot_entries_max: usize,
    /// Membership (dissertation ch. 4): nodes `0..initial_members` form the first
    /// configuration; the others are spare servers that start with an empty log and vote only
    /// once a scenario adds them (`action = "add-server"`). Unset (the default): every node.
    /// More than the cluster's size counts as every node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_members: Option<u32>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            election_timeout_min: SimDuration::from_millis(150),
            election_timeout_max: SimDuration::from_millis(300),
            heartbeat_interval: SimDuration::from_millis(50),
            check_quorum: true,
            pre_vote: false,
            entries_per_message_max: 64,
            append_entries_in_flight_max: 2,
            pending_requests_max: 1024,
            reads: Reads::Log,
            clock_drift_bound_ppm: 100_000,
            snapshot_entries_max: 0,
            initial_members: None,
        }
    }
}

impl Options {
    /// Explains why the options cannot make a working cluster, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        // Raft §5.2: election timeouts are drawn from a range so that split votes end; with
        // no range, candidates that collided once collide again every term.
        if self.election_timeout_min >= self.election_timeout_max {
            return Err(format!(
                "election_timeout_min {} must be below election_timeout_max {} (Raft §5.2: \
                 randomized timeouts)",
                self.election_timeout_min, self.election_timeout_max
            ));
        }
        if self.heartbeat_interval == SimDuration::ZERO
            || self.heartbeat_interval >= self.election_timeout_min
        {
            return Err(format!(
                "heartbeat_interval {} must be positive and below election_timeout_min {} \
                 (Raft §5.6)",
                self.heartbeat_interval, self.election_timeout_min
            ));
        }
        if self.entries_per_message_max == 0 {
            return Err("entries_per_message_max is 0".to_string());
        }
        if self.append_entries_in_flight_max == 0
            || self.append_entries_in_flight_max > IN_FLIGHT_MAX
        {
            return Err(format!(
                "append_entries_in_flight_max {} must be between 1 and {IN_FLIGHT_MAX}",
                self.append_entries_in_flight_max
            ));
        }
        if self.pending_requests_max == 0 {
            return Err("pending_requests_max is 0".to_string());
        }
        // Dissertation §6.4.1: a lease is only as good as the leader's knowledge that it still
        // leads; without check-quorum a leader cut off from every follower keeps believing it
        // leads, and within its lease would answer reads while another leader commits writes.
        if self.reads == Reads::Lease && !self.check_quorum {
            return Err(
                "check_quorum = false with reads = \"lease\": lease reads are unsafe without \
                 check-quorum (dissertation §6.4.1)"
                    .to_string(),
            );
        }
        if self.initial_members == Some(0) {
            return Err(
                "initial_members: 0 leaves no server to vote (at least 1, at most the cluster)"
                    .to_string(),
            );
        }
        if self.clock_drift_bound_ppm >= 1_000_000 {
            return Err(format!(
                "clock_drift_bound_ppm {} must be below 1000000 (a clock that may stop bounds \
                 nothing)",
                self.clock_drift_bound_ppm
            ));
        }
        Ok(())
    }

    /// Panics with a readable message when the options cannot make a working cluster (scenario
    /// loading rejects such options first, through [`Options::check`]).
    pub fn validate(&self) {
        if let Err(problem) = self.check() {
            panic!("raft options: {problem}");
        }
    }
}
