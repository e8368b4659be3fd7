//! What a Raft node keeps on disk (Figure 2, "persistent state on all servers") and the writes
//! that change it. The log is written incrementally: an update carries only the entries that
//! changed, never the whole log. With log compaction (dissertation ch. 5) the disk also holds
//! the latest snapshot, and the log only the entries after it.

use super::configuration::Configuration;
use super::log::{Entry, LogIndex, Term};
use sim::protocol::NodeId;
use sim::workload::register;
use std::any::Any;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

/// A snapshot of the replicated state machine — with its client session table (§8), which a
/// snapshot must carry or a retried request runs twice after it is installed — and of the last
/// entry it covers (dissertation §5.1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Snapshot {
    /// The index of the last entry the snapshot covers.
    pub last_index: LogIndex,
    /// The term of that entry.
    pub last_term: Term,
    /// The state machine after applying every entry up to `last_index`.
    pub state: SnapshotState,
    /// The latest configuration in the entries it covers (dissertation §5.1: a snapshot carries
    /// the configuration, which its entries no longer hold).
    pub configuration: Configuration,
}

/// The state machine in a snapshot, shared (never copied) between a node, its disk and the
/// `InstallSnapshot` messages that carry it. It is the node's `Sessions<M>`; the log's types do
/// not name the state machine, so it is held as `Any` and read back by the node that knows it.
#[derive(Clone)]
pub struct SnapshotState(pub Rc<dyn Any>);

impl fmt::Debug for SnapshotState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SnapshotState")
    }
}

/// Two snapshot states are equal when they are the same snapshot.
impl PartialEq for SnapshotState {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SnapshotState {}

/// The trace fingerprint hashes a snapshot by the entry it covers (its index and term, hashed
/// by [`Snapshot`]), not by its contents: hashing a pointer would not be reproducible.
impl Hash for SnapshotState {
    fn hash<H: Hasher>(&self, _state: &mut H) {}
}

/// The persistent state: `currentTerm`, `votedFor` and `log[]` (Figure 2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Durable<O = register::Operation> {
    /// The latest term the node has seen.
    pub current_term: Term,
    /// The candidate that received the node's vote in `current_term`, if any.
    pub voted_for: Option<NodeId>,
    /// The log after the snapshot (index 1 first without one).
    pub log: Vec<Entry<O>>,
    /// The latest snapshot, if the node took or installed one.
    pub snapshot: Option<Snapshot>,
}

/// One write to disk.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Update<O = register::Operation> {
    /// Overwrites `currentTerm` and `votedFor`.
    HardState {
        /// The new `currentTerm`.
        current_term: Term,
        /// The new `votedFor`.
        voted_for: Option<NodeId>,
    },
    /// Deletes every entry from index `first` on, then appends `entries` there.
    Append {
        /// Where the written entries start.
        first: LogIndex,
        /// The entries, in order.
        entries: Vec<Entry<O>>,
    },
    /// Writes `snapshot` in place of the last one and discards the log entries it covers; when
    /// `retain_log` is false, the whole log (InstallSnapshot of a snapshot the log does not
    /// match, dissertation §5.3).
    Snapshot {
        /// The new snapshot.
        snapshot: Snapshot,
        /// Whether entries after the snapshot stay.
        retain_log: bool,
    },
}

impl<O> Default for Durable<O> {
    fn default() -> Self {
        Durable {
            current_term: Term::default(),
            voted_for: None,
            log: Vec::new(),
            snapshot: None,
        }
    }
}

impl<O> Durable<O> {
    /// Applies one write.
    pub fn apply(&mut self, update: Update<O>) {
        match update {
            Update::HardState {
                current_term,
                voted_for,
            } => {
                assert!(
                    current_term >= self.current_term,
                    "Raft §5.1: terms never go back"
                );
                self.current_term = current_term;
                self.voted_for = voted_for;
            }
            Update::Append { first, entries } => {
                let snapshot_index = self.snapshot_index();
                assert!(first > snapshot_index, "append inside the snapshot");
                let keep = (first.0 - snapshot_index.0 - 1) as usize;
                assert!(
                    keep <= self.log.len(),
                    "append at {first} leaves a gap in the log"
                );
                self.log.truncate(keep);
                self.log.extend(entries);
            }
            Update::Snapshot {
                snapshot,
                retain_log,
            } => {
                assert!(
                    snapshot.last_index > self.snapshot_index(),
                    "snapshots only move forward"
                );
                let covered = (snapshot.last_index.0 - self.snapshot_index().0) as usize;
                if retain_log && covered <= self.log.len() {
                    self.log.drain(..covered);
                } else {
                    self.log.clear();
                }
                self.snapshot = Some(snapshot);
            }
        }
    }

    /// The last index the snapshot on disk covers (0 without one).
    pub fn snapshot_index(&self) -> LogIndex {
        self.snapshot
            .as_ref()
            .map_or(LogIndex::ZERO, |snapshot| snapshot.last_index)
    }
}
