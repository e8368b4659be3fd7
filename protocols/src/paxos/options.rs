//! Timing and limits, from the scenario's `[protocol]` table. All durations are local time.
//!
//! The names and defaults are Raft's wherever the concept is the same, so that one scenario
//! runs on either protocol by changing its `name` line, and a comparison of the two measures the
//! protocols, not their configurations. The two batching fields are also accepted under Raft's
//! names (`entries_per_message_max`, `append_entries_in_flight_max`).

use serde::{Deserialize, Serialize};
use sim::time::SimDuration;

/// The largest pipelining window accepted (as for Raft).
pub const IN_FLIGHT_MAX: usize = 1024;

/// Multi-Paxos's tunables. Every field has a default, so an empty table is a sensible cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// The shortest time a node waits without hearing from a leader before it starts phase 1
    /// (and the shortest back-off after being preempted).
    pub election_timeout_min: SimDuration,
    /// The longest such wait; each one is drawn by the simulator from the range, which is the
    /// randomized back-off that keeps two proposers from preempting each other forever.
    pub election_timeout_max: SimDuration,
    /// How often a leader sends `Accept` to every acceptor (empty ones are heartbeats), and a
    /// proposer in phase 1 retries `Prepare` to acceptors that have not answered. Must be well
    /// below the election timeout.
    pub heartbeat_interval: SimDuration,
    /// Whether a leader steps down when it has not heard from a majority within an election
    /// timeout, so clients stop waiting on a leader cut off by a partition (as Raft's
    /// check-quorum).
    pub check_quorum: bool,
    /// The most values one `Accept` carries (Raft's `entries_per_message_max`).
    #[serde(alias = "entries_per_message_max")]
    pub values_per_message_max: usize,
    /// Pipelining window: the most `Accept`s carrying new values a leader has in flight to one
    /// acceptor (Raft's `append_entries_in_flight_max`). While it is full, client commands take
    /// slots at once and the next `Accept` carries all of them: batching. A reply frees a place;
    /// each heartbeat frees them all.
    #[serde(alias = "append_entries_in_flight_max")]
    pub accepts_in_flight_max: usize,
    /// The most client requests a leader holds awaiting decision; beyond it, new ones fail.
    pub pending_requests_max: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            election_timeout_min: SimDuration::from_millis(150),
            election_timeout_max: SimDuration::from_millis(300),
            heartbeat_interval: SimDuration::from_millis(50),
            check_quorum: true,
            values_per_message_max: 64,
            accepts_in_flight_max: 2,
            pending_requests_max: 1024,
        }
    }
}

impl Options {
    /// Explains why the options cannot make a working cluster, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        if self.election_timeout_min > self.election_timeout_max {
            return Err(format!(
                "election_timeout_min {} exceeds election_timeout_max {}",
                self.election_timeout_min, self.election_timeout_max
            ));
        }
        if self.heartbeat_interval == SimDuration::ZERO
            || self.heartbeat_interval >= self.election_timeout_min
        {
            return Err(format!(
                "heartbeat_interval {} must be positive and below election_timeout_min {}",
                self.heartbeat_interval, self.election_timeout_min
            ));
        }
        if self.values_per_message_max == 0 {
            return Err("values_per_message_max is 0".to_string());
        }
        if self.accepts_in_flight_max == 0 || self.accepts_in_flight_max > IN_FLIGHT_MAX {
            return Err(format!(
                "accepts_in_flight_max {} must be between 1 and {IN_FLIGHT_MAX}",
                self.accepts_in_flight_max
            ));
        }
        if self.pending_requests_max == 0 {
            return Err("pending_requests_max is 0".to_string());
        }
        Ok(())
    }

    /// Panics with a readable message when the options cannot make a working cluster (scenario
    /// loading rejects such options first, through [`Options::check`]).
    pub fn validate(&self) {
        if let Err(problem) = self.check() {
            panic!("paxos options: {problem}");
        }
    }
}
