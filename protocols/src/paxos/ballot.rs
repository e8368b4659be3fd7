//! Ballots, slots and the values proposed for them.
//!
//! A **ballot** is "Paxos Made Simple" §2.2's proposal number: numbers must be totally ordered
//! and no two proposers may use the same one, so a ballot is a pair (round, node) compared
//! round first ("Paxos Made Moderately Complex" §3, "ballot numbers ... lexicographically
//! ordered pairs"). A **slot** is a position in the sequence of commands (PMMC §2; "Paxos Made
//! Simple" §3 calls them instances of the consensus algorithm). Slots start at 1; slot 0 is the
//! empty prefix.

use sim::protocol::{NodeId, RequestId};
use sim::service::Request;
use sim::workload::register;
use std::fmt;

/// A ballot (proposal number): a round, made unique by the proposer's id. The bottom ballot
/// (round 0) precedes every real one and is owned by nobody.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ballot {
    /// The round; a proposer starting phase 1 picks one above every round it has seen.
    pub round: u64,
    /// The proposer that owns the ballot.
    pub node: NodeId,
}

impl Ballot {
    /// The ballot below every real one: nothing promised, nothing accepted.
    pub const ZERO: Ballot = Ballot {
        round: 0,
        node: NodeId(0),
    };

    /// The ballot of `node` in `round`.
    pub fn new(round: u64, node: NodeId) -> Ballot {
        Ballot { round, node }
    }
}

impl Default for Ballot {
    fn default() -> Ballot {
        Ballot::ZERO
    }
}

impl fmt::Display for Ballot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b{}.{}", self.round, self.node)
    }
}

/// A position in the sequence of chosen commands, from 1; 0 means "before the first".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot(pub u64);

impl Slot {
    /// The position before the first slot.
    pub const ZERO: Slot = Slot(0);

    /// The next slot.
    pub fn next(self) -> Slot {
        Slot(self.0.checked_add(1).expect("slot overflow"))
    }

    /// The previous slot; `ZERO` stays `ZERO`.
    pub fn previous(self) -> Slot {
        Slot(self.0.saturating_sub(1))
    }

    /// The position of this slot in a vector indexed from slot 1.
    pub fn position(self) -> usize {
        assert!(self.0 > 0, "slots start at 1");
        (self.0 - 1) as usize
    }
}

/// Slots a per-slot vector makes room for at least at a time. Grown a slot at a time, a
/// vector of every slot reallocates, copying everything it holds, about twenty times before it
/// holds a million; starting at this size saves the first ten.
const SLOTS_PER_GROWTH: usize = 1024;

/// Makes room in `slots` for `len` elements, `SLOTS_PER_GROWTH` at least.
pub(crate) fn make_room<T>(slots: &mut Vec<T>, len: usize) {
    if slots.capacity() < len {
        slots.reserve((len - slots.len()).max(SLOTS_PER_GROWTH));
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s{}", self.0)
    }
}

/// What a slot may hold: a client's request, carried whole (its id makes duplicates
/// recognisable), or a no-op that a new leader proposes to fill a gap ("Paxos Made Simple" §3).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value<O = register::Operation> {
    /// A no-op: executing it changes nothing.
    NoOp,
    /// A client's request.
    Command(Request<O>),
}

impl<O> Value<O> {
    /// How observers name the value without copying it.
    pub fn id(&self) -> ValueId {
        match self {
            Value::NoOp => ValueId::NoOp,
            Value::Command(request) => ValueId::Request(request.id),
        }
    }
}

/// A value as observers remember it: a no-op, or the request it carries (request ids are unique
/// across a run).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ValueId {
    /// A no-op.
    NoOp,
    /// The request with this id.
    Request(RequestId),
}

impl fmt::Display for ValueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueId::NoOp => write!(f, "no-op"),
            ValueId::Request(id) => write!(f, "{id}"),
        }
    }
}

/// A value an acceptor accepted, with the ballot it was accepted in.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AcceptedValue<O = register::Operation> {
    /// The ballot of the proposal accepted.
    pub ballot: Ballot,
    /// The value.
    pub value: Value<O>,
}
