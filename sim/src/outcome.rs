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

    /// The process exit status for this verdict.
    pub fn exit_status(&self) -> ExitStatus {
        Verdict::exit_status_of(self.kind()).expect("every verdict kind has an exit status")
    }

    /// The exit status for a verdict kind (`pass`, `safety-violation`, ...), as result files
    /// name it: the one table from verdicts to exit codes. `None` for a kind this version does
    /// not know.
    pub fn exit_status_of(kind: &str) -> Option<ExitStatus> {
        Some(match kind {
            "pass" => ExitStatus::Pass,
            "safety-violation" => ExitStatus::SafetyViolation,
            "liveness-timeout" => ExitStatus::LivenessTimeout,
            "panic" => ExitStatus::Panic,
            "limit-reached" => ExitStatus::LimitReached,
            "unknown" => ExitStatus::Unknown,
            _ => return None,
        })
    }

    /// Every verdict kind, in the order of their exit codes.
    pub const KINDS: [&'static str; 6] = [
        "pass",
        "safety-violation",
        "liveness-timeout",
        "panic",
        "limit-reached",
        "unknown",
    ];

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

/// Process exit codes of `detsim`. A run's code says its verdict ([`Verdict::exit_status`]);
/// 2 is always bad input. The README's table is this one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    /// The run passed.
    Pass = 0,
    /// A safety property broke (an invariant, or the history's checker).
    SafetyViolation = 1,
    /// Bad input: a malformed scenario or history, a missing file, bad arguments.
    InputError = 2,
    /// The cluster did not recover in time after the faults healed.
    LivenessTimeout = 3,
    /// A protocol or the engine panicked.
    Panic = 4,
    /// A hard limit (events) ended the run.
    LimitReached = 5,
    /// The history's checker ran out of budget.
    Unknown = 6,
    /// `--check-determinism` found two runs that differ.
    Nondeterministic = 7,
    /// `detsim replay` or `detsim shrink`: the artifact's recorded failure did not recur.
    NotReproduced = 8,
}

impl ExitStatus {
    /// The numeric exit code.
    pub fn code(self) -> u8 {
        self as u8
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
    /// A server was added to or removed from the cluster's configuration (while the window
    /// lasts, the change is in force).
    Membership,
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
    /// What the protocol was doing when the fault hit ([`crate::protocol::Protocol::activity`]):
    /// the node's activity for a fault on one node (`down` if it was), otherwise the leader's
    /// (`no leader` without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<String>,
}

/// Counters of a run. Everything here is deterministic (no wall time).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStats {
    /// Events applied.
    pub events: u64,
    /// Messages protocols sent (before loss and duplication).
    pub messages_sent: u64,
    /// Bytes of the messages sent ([`crate::protocol::Protocol::message_bytes`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bytes_sent: u64,
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
    /// Client operations that completed `fail`, decided by the service (an answer).
    pub operations_fail: u64,
    /// Client operations refused because the service was unavailable (written `fail`).
    #[serde(default)]
    pub operations_refused: u64,
    /// Client operations that completed `info`.
    pub operations_info: u64,
    /// Durable writes made.
    pub persists: u64,
    /// True time at which the run ended.
    pub simulated_time: SimTime,
    /// Mean number of events waiting in the queue (events in flight), rounded down.
    #[serde(default)]
    pub queue_depth_mean: u64,
    /// Open-loop arrivals that found every client busy and waited for one.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub arrivals_waited: u64,
    /// The longest such wait, ns.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub arrival_wait_max: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

impl RunStats {
    /// Operations invoked that completed (every class); operations still open at the end of a
    /// run are recorded `info`, so this is every invocation.
    pub fn operations_completed(&self) -> u64 {
        self.operations_ok + self.operations_fail + self.operations_refused + self.operations_info
    }

    /// Availability: the share of operations the service answered (`ok` or a decided `fail`),
    /// `None` without operations.
    pub fn availability(&self) -> Option<f64> {
        let completed = self.operations_completed();
        (completed > 0)
            .then(|| (self.operations_ok + self.operations_fail) as f64 / completed as f64)
    }
}

/// The result of one run: the one type that flows from the engine to the verdict, the summary
/// file (`summary.json` is this, without the history), the report and the campaign rows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunData {
    /// The scenario's name.
    pub scenario: String,
    /// The protocol's name.
    pub protocol: String,
    /// The workload's kind.
    #[serde(default)]
    pub workload: String,
    /// The planted bug the protocol ran with, if any.
    #[serde(default)]
    pub bug: Option<String>,
    /// The seed.
    pub seed: u64,
    /// Nodes in the cluster.
    #[serde(rename = "nodes")]
    pub node_count: u32,
    /// Client processes of the workload (Jepsen process `p` belongs to client `p % clients`).
    #[serde(default)]
    pub clients: u32,
    /// How it ended.
    pub verdict: Verdict,
    /// The verdict kind the scenario expects, if it says.
    #[serde(default)]
    pub expected: Option<String>,
    /// Counters.
    pub stats: RunStats,
    /// The trace fingerprint, hex.
    pub fingerprint: String,
    /// When the liveness phase began (faults healed), if the run has one.
    pub heal_time: Option<SimTime>,
    /// Fault windows, in order of start.
    pub faults: Vec<FaultWindow>,
    /// The one command that reproduces the run.
    pub reproduce: String,
    /// The index of the history entry the checker could not place, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stuck_operation: Option<u64>,
    /// The history entries (invocations) of the operations the stuck one conflicts with: without
    /// them, the history up to the stuck operation's completion is linearizable
    /// ([`crate::conflict`]). Empty when none is named.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicting_operations: Vec<u64>,
    /// The client history (true times), compact; `history.to_history()` gives Jepsen ops. Not
    /// part of the summary: it is written to the history files.
    #[serde(skip)]
    pub history: RecordedHistory,
    /// The history checker's full explanation, when the history was checked. Written to its
    /// own file.
    #[serde(skip)]
    pub check_explanation: Option<String>,
    /// Figures the protocol's invariant checker measured
    /// ([`crate::invariants::Invariants::figures`]), by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub figures: BTreeMap<String, u64>,
    /// Every time a node came to believe it leads (from its [`crate::protocol::NodeView`]), in
    /// order: how long a cluster went without a leader after a fault.
    #[serde(skip)]
    pub leaders: Vec<LeaderChange>,
}

/// A node came to believe it leads, in `term`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaderChange {
    /// When.
    pub time: SimTime,
    /// Which node.
    pub node: NodeId,
    /// In which term (or ballot round, or epoch: the protocol's view).
    pub term: u64,
}
