//! What a run produces: its verdict, counters, fault windows and history.
//!
//! These are plain data, shared by the command line (which prints and writes them) and the
//! report generators (pure functions from a [`RunData`] to files).

use crate::protocol::NodeId;
use crate::recorder::RecordedHistory;
use crate::time::SimTime;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// How a run ended. Each kind has its own process exit code ([`Verdict::exit_code`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Verdict {
    /// No invariant broke, the history is linearizable, and the cluster recovered in time.
    Pass,
    /// A safety property broke: a protocol invariant, or linearizability of the history.
    SafetyViolation {
        /// The property, e.g. `election-safety` or `linearizability`.
        property: String,
        /// What exactly went wrong, readable.
        detail: String,
        /// True time at which it was detected.
        time: SimTime,
    },
    /// After the faults healed, the cluster did not make progress within the scenario's bound.
    LivenessTimeout {
        /// What was expected and not seen.
        detail: String,
    },
    /// A protocol or the engine panicked (an `assert!` broke).
    Panic {
        /// The panic message.
        message: String,
    },
    /// A hard limit (events) ended the run before its planned end.
    LimitReached {
        /// Which limit.
        detail: String,
    },
    /// The linearizability checker spent its step budget without an answer.
    Unknown {
        /// What could not be decided.
        detail: String,
    },
}

impl Verdict {
    /// The short name used in summaries, fuzz results and scenario expectations.
    pub fn kind(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::SafetyViolation { .. } => "safety-violation",
            Verdict::LivenessTimeout { .. } => "liveness-timeout",
            Verdict::Panic { .. } => "panic",
            Verdict::LimitReached { .. } => "limit-reached",
            Verdict::Unknown { .. } => "unknown",
        }
    }

    /// The process exit code for this verdict. 2 is reserved for input and usage errors.
    pub fn exit_code(&self) -> i32 {
        match self {
            Verdict::Pass => 0,
            Verdict::SafetyViolation { .. } => 1,
            Verdict::LivenessTimeout { .. } => 3,
            Verdict::Panic { .. } => 4,
            Verdict::LimitReached { .. } => 5,
            Verdict::Unknown { .. } => 6,
        }
    }

    /// Whether the run passed.
    pub fn is_pass(&self) -> bool {
        matches!(self, Verdict::Pass)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Pass => f.write_str("pass"),
            Verdict::SafetyViolation {
                property,
                detail,
                time,
            } => write!(f, "safety violation: {property} at t={time}: {detail}"),
            Verdict::LivenessTimeout { detail } => write!(f, "liveness timeout: {detail}"),
            Verdict::Panic { message } => write!(f, "panic: {message}"),
            Verdict::LimitReached { detail } => write!(f, "limit reached: {detail}"),
            Verdict::Unknown { detail } => write!(f, "unknown: {detail}"),
        }
    }
}

/// The kinds of fault a window can record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// Some links were cut.
    Partition,
    /// A node was down.
    Crash,
    /// A node was paused (its timers and inbox waited).
    Pause,
    /// A node's clock was jumped or set drifting.
    Clock,
    /// Message loss, duplication or reordering was raised.
    Network,
}

/// A span of true time during which a fault was in force, for reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultWindow {
    /// What kind of fault.
    pub kind: FaultKind,
    /// A readable label, e.g. `isolate n2` or `crash n0`.
    pub label: String,
    /// The nodes it affected most directly.
    pub nodes: Vec<NodeId>,
    /// When it began.
    pub start: SimTime,
    /// When it ended; `None` when it lasted to the end of the run. Instant faults (a clock jump)
    /// have `end == Some(start)`.
    pub end: Option<SimTime>,
}

/// Counters of a run. Everything here is deterministic (no wall time).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStats {
    /// Events applied.
    pub events: u64,
    /// Messages protocols sent (before loss and duplication).
    pub messages_sent: u64,
    /// Messages sent, by kind ([`crate::protocol::Protocol::message_kind`]).
    pub messages_by_kind: BTreeMap<String, u64>,
    /// Messages delivered to a node.
    pub messages_delivered: u64,
    /// Messages lost: dropped by the loss model, a partition, or a crashed receiver.
    pub messages_dropped: u64,
    /// Extra copies made by the duplication model.
    pub messages_duplicated: u64,
    /// Client operations that completed `ok`.
    pub operations_ok: u64,
    /// Client operations that completed `fail`.
    pub operations_fail: u64,
    /// Client operations that completed `info`.
    pub operations_info: u64,
    /// Durable writes made.
    pub persists: u64,
    /// True time at which the run ended.
    pub simulated_time: SimTime,
}

/// Everything a report needs about one run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunData {
    /// The scenario's name.
    pub scenario: String,
    /// The protocol's name.
    pub protocol: String,
    /// The seed.
    pub seed: u64,
    /// Nodes in the cluster.
    pub node_count: u32,
    /// The one command that reproduces the run.
    pub reproduce: String,
    /// How it ended.
    pub verdict: Verdict,
    /// Counters.
    pub stats: RunStats,
    /// The trace fingerprint, hex.
    pub fingerprint: String,
    /// Fault windows, in order of start.
    pub faults: Vec<FaultWindow>,
    /// The client history (true times), compact; `history.to_history()` gives Jepsen ops.
    pub history: RecordedHistory,
    /// When the liveness phase began (faults healed), if the run has one.
    pub heal_time: Option<SimTime>,
    /// The index of the history entry the linearizability checker could not place, if any.
    pub stuck_operation: Option<u64>,
    /// The linearizability checker's full explanation, when the history was checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_explanation: Option<String>,
}
