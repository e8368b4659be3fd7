//! What a Raft node keeps on disk (Figure 2, "persistent state on all servers") and the writes
//! that change it. The log is written incrementally: an update carries only the entries that
//! changed, never the whole log.

use super::log::{Entry, LogIndex, Term};
use sim::protocol::NodeId;
use sim::workload::register;

/// The persistent state: `currentTerm`, `votedFor` and `log[]` (Figure 2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Durable<O = register::Operation> {
    /// The latest term the node has seen.
    pub current_term: Term,
    /// The candidate that received the node's vote in `current_term`, if any.
    pub voted_for: Option<NodeId>,
    /// The log, index 1 first.
    pub log: Vec<Entry<O>>,
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
}

impl<O> Default for Durable<O> {
    fn default() -> Self {
        Durable {
            current_term: Term::default(),
            voted_for: None,
            log: Vec::new(),
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
                let keep = first.0.checked_sub(1).expect("entries start at index 1") as usize;
                assert!(
                    keep <= self.log.len(),
                    "append at {first} leaves a gap in the log"
                );
                self.log.truncate(keep);
                self.log.extend(entries);
            }
        }
    }
}
