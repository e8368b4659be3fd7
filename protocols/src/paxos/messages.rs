//! The messages of Multi-Paxos: phase 1 (`Prepare`, `Promise`), phase 2 (`Accept`,
//! `Accepted`), and the rejection that tells a proposer of a higher ballot.
//!
//! The sender of a message is known to the receiver (`on_message` gets its `source`), so no
//! message repeats it. Names follow "Paxos Made Simple" (PMS); PMMC calls the same messages
//! `p1a`, `p1b`, `p2a`, `p2b` and `preempted`.

use super::ballot::{AcceptedValue, Ballot, Slot, Value};
use sim::workload::register;

/// Everything one Multi-Paxos node sends another.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Message<O = register::Operation> {
    /// Phase 1a (PMS §2.2): a proposer asks for a promise for its ballot, for every slot from
    /// `first_slot` on.
    Prepare(Prepare),
    /// Phase 1b: the acceptor promises, and reports every value it accepted from `first_slot` on.
    Promise(Promise<O>),
    /// Phase 2a: the leader proposes values for consecutive slots, and tells which slots are
    /// decided. With no values it is a heartbeat (and a request for what the acceptor lacks).
    Accept(Accept<O>),
    /// Phase 2b: the acceptor accepted the values of an `Accept`.
    Accepted(Accepted),
    /// The acceptor has promised a higher ballot and ignores the request (PMS §2.2's optional
    /// "abandon" hint; PMMC's `preempted`).
    Reject(Reject),
}

impl<O> Message<O> {
    /// The message's kind, for per-kind message counts.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Prepare(_) => "Prepare",
            Message::Promise(_) => "Promise",
            Message::Accept(_) => "Accept",
            Message::Accepted(_) => "Accepted",
            Message::Reject(_) => "Reject",
        }
    }

    /// Its size in a fixed-width binary encoding, as Raft counts its messages: a one-byte tag,
    /// a ballot as an 8-byte round and a 4-byte node, 8-byte slots, a 4-byte count before a
    /// vector, and each value (or slot with its accepted value) as laid out in memory.
    pub fn encoded_size(&self) -> u64 {
        const TAG: u64 = 1;
        const BALLOT: u64 = 12;
        const SLOT: u64 = 8;
        const COUNT: u64 = 4;
        match self {
            Message::Prepare(_) => TAG + BALLOT + SLOT,
            Message::Promise(message) => {
                let accepted = SLOT + std::mem::size_of::<AcceptedValue<O>>() as u64;
                TAG + BALLOT + COUNT + accepted * message.accepted.len() as u64
            }
            Message::Accept(message) => {
                let value = std::mem::size_of::<Value<O>>() as u64;
                TAG + BALLOT + 2 * SLOT + COUNT + value * message.values.len() as u64
            }
            Message::Accepted(_) => TAG + BALLOT + 4 * SLOT,
            Message::Reject(_) => TAG + BALLOT,
        }
    }
}

/// Phase 1a.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Prepare {
    /// The proposer's new ballot.
    pub ballot: Ballot,
    /// The first slot the proposer does not know to be decided: phase 1 covers it and every slot
    /// after it at once ("Paxos Made Simple" §3, one phase 1 for infinitely many instances).
    pub first_slot: Slot,
}

/// Phase 1b.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Promise<O = register::Operation> {
    /// The ballot promised (the `Prepare`'s).
    pub ballot: Ballot,
    /// Every value the acceptor accepted at `first_slot` or later, with its ballot (PMS §2.2:
    /// "the proposal with the highest number less than n that it has accepted", per slot).
    pub accepted: Vec<(Slot, AcceptedValue<O>)>,
}

/// Phase 2a, and the leader's decisions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Accept<O = register::Operation> {
    /// The leader's ballot.
    pub ballot: Ballot,
    /// The slot of the first value.
    pub first: Slot,
    /// Values for `first`, `first + 1`, ...; empty for a heartbeat.
    pub values: Vec<Value<O>>,
    /// Every slot up to this one is decided, and its value is the one the leader proposed in
    /// this ballot (PMMC's `decision` messages, batched into one number).
    pub decided: Slot,
}

/// Phase 2b.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Accepted {
    /// The ballot of the proposals accepted.
    pub ballot: Ballot,
    /// The first slot accepted.
    pub first: Slot,
    /// The last slot accepted (`first - 1` when the `Accept` carried no values).
    pub last: Slot,
    /// Every slot up to here is decided at the acceptor or accepted in `ballot` (those above
    /// `decided` all in `ballot`): the leader counts them as acknowledged, and resends from just
    /// after it when it lies before `first` (a lost `Accept`).
    pub prefix: Slot,
    /// Every slot up to here is known decided at the acceptor (as a learner). A new leader whose
    /// promise quorum includes the previous leader learns from it what was already chosen
    /// (PMS §2.3: learners may tell each other), rather than waiting for a majority to accept
    /// those values again in its ballot.
    pub decided: Slot,
}

/// A rejection of a `Prepare` or `Accept` with a ballot below the acceptor's promise.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reject {
    /// The ballot the acceptor has promised.
    pub promised: Ballot,
}
