//! What an acceptor keeps on disk ("Paxos Made Simple" §2.3: "an acceptor must remember this
//! information even if it fails and then restarts") and the writes that change it. Accepted
//! values are written incrementally: an update carries only the slots it changes.

use super::ballot::{make_room, AcceptedValue, Ballot, Slot, Value};
use sim::workload::register;

/// The persistent state of an acceptor: its promise and, per slot, the value it last accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Durable<O = register::Operation> {
    /// The highest ballot promised (or accepted).
    pub promised: Ballot,
    /// `accepted[s - 1]`: what slot `s` last accepted, if anything.
    pub accepted: Vec<Option<AcceptedValue<O>>>,
}

/// One write to disk.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Update<O = register::Operation> {
    /// A promise for `ballot` (phase 1b).
    Promise {
        /// The ballot promised.
        ballot: Ballot,
    },
    /// Values accepted in `ballot` for consecutive slots from `first` on (phase 2b). Accepting a
    /// ballot promises it too.
    Accept {
        /// The ballot the values were accepted in.
        ballot: Ballot,
        /// The slot of the first value.
        first: Slot,
        /// The values, in slot order.
        values: Vec<Value<O>>,
    },
}

impl<O> Default for Durable<O> {
    fn default() -> Self {
        Durable {
            promised: Ballot::ZERO,
            accepted: Vec::new(),
        }
    }
}

impl<O> Durable<O> {
    /// Applies one write.
    pub fn apply(&mut self, update: Update<O>) {
        match update {
            Update::Promise { ballot } => {
                self.promised = self.promised.max(ballot);
            }
            Update::Accept {
                ballot,
                first,
                values,
            } => {
                self.promised = self.promised.max(ballot);
                let values = values.into_iter();
                make_room(&mut self.accepted, first.position() + values.len());
                if first.position() == self.accepted.len() {
                    // The common case: values for the slots after the last one held.
                    let accepted = values.map(|value| Some(AcceptedValue { ballot, value }));
                    self.accepted.extend(accepted);
                    return;
                }
                let end = first.position() + values.len();
                if self.accepted.len() < end {
                    self.accepted.resize_with(end, || None);
                }
                for (offset, value) in values.enumerate() {
                    self.accepted[first.position() + offset] =
                        Some(AcceptedValue { ballot, value });
                }
            }
        }
    }
}
