//! Multi-Paxos's safety properties, checked after every simulator event and named in the
//! verdict:
//!
//! - **agreement** — no two different values are chosen for one slot, a value being chosen when
//!   a majority of acceptors accepted it in one ballot ("Paxos Made Simple" §2.1: "only a single
//!   value is chosen"). An acceptance counts once its proposer has received the acceptor's
//!   `Accepted` (or is the proposer's own): the acceptor wrote it to disk before replying, so a
//!   crash that loses unsynced writes cannot take it back. A node that learns (decides and
//!   applies) a slot after a value was chosen there must learn that value (PMS §2.1: a process
//!   never learns that a value has been chosen unless it has been); a value learned before any
//!   majority is visible is left to state-machine safety.
//! - **validity** — only a proposed value is chosen (PMS §2.1), per slot and ballot: an acceptor
//!   accepts in ballot `b` at slot `s` only the value `b`'s leader proposed at `s` (a client's
//!   request or a no-op), and a leader proposes one value per slot in its ballot.
//! - **promise-monotonicity** — an acceptor's promise never decreases, across restarts too
//!   (PMS §2.3): once a proposer has received its promise (or acceptance) for a ballot, the
//!   acceptor never holds a lower promise again.
//! - **state-machine-safety** — no two nodes apply different values at one slot (PMMC §2,
//!   replicas agree on the sequence of performed commands).
//!
//! The checker reads what each node did in the event through [`Paxos::observations`], so each
//! check costs what the event changed. Values are remembered by [`ValueId`], never copied.
//!
//! One caveat, as for Raft's lone server: in a cluster of one, a leader that crashes before its
//! promise is durable may use the same ballot again after restart, which `validity` would flag;
//! with two or more nodes a leader only proposes after a remote promise, which its own durable
//! promise preceded.

use super::ballot::{make_room, Ballot, Slot, ValueId};
use super::node::{Observation, Paxos};
use sim::invariants::{Invariants, Violation};
use sim::protocol::NodeId;
use sim::service::StateMachine;
use sim::time::SimTime;
use std::collections::BTreeMap;

/// A chosen value and the ballot that chose it first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Chosen {
    value: ValueId,
    ballot: Ballot,
}

/// A value applied at a slot by the first node to apply it there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct AppliedValue {
    value: ValueId,
    node: NodeId,
}

/// What one ballot did at one slot: the value its leader proposed there, and who acknowledged
/// accepting it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct BallotAtSlot {
    ballot: Ballot,
    proposed: Option<ValueId>,
    /// A bit per acceptor.
    acks: u64,
}

impl BallotAtSlot {
    /// No ballot yet (the bottom ballot is never proposed in).
    const NONE: BallotAtSlot = BallotAtSlot {
        ballot: Ballot::ZERO,
        proposed: None,
        acks: 0,
    };
}

/// What the checker knows of one slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SlotRecord {
    /// The first ballot seen at the slot (later ones are in `other_ballots`).
    first: BallotAtSlot,
    /// The value chosen, once a majority accepted one.
    chosen: Option<Chosen>,
    /// The value first applied.
    applied: Option<AppliedValue>,
}

impl SlotRecord {
    const EMPTY: SlotRecord = SlotRecord {
        first: BallotAtSlot::NONE,
        chosen: None,
        applied: None,
    };
}

/// The checker of Multi-Paxos's four safety invariants.
///
/// Almost every slot only ever sees one ballot, so what the checker knows of a slot — the first
/// ballot seen there, the value chosen, the value first applied — is one record in a vector
/// indexed by slot (one lookup, no tree walk, as this runs after every event), and the rare
/// later ballots live in a map. Every check's passing path is a few comparisons; the messages
/// of a violation are built apart, off that path.
#[derive(Clone, Debug, Default)]
pub struct PaxosInvariants {
    /// `slots[s - 1]`: slot `s`.
    slots: Vec<SlotRecord>,
    /// Every later ballot seen at a slot.
    other_ballots: BTreeMap<(Slot, Ballot), BallotAtSlot>,
    /// How many slots (from the first) have been applied by some node.
    applied_count: usize,
    /// The highest ballot each acceptor is known (by a proposer) to have promised.
    given: Vec<Ballot>,
    /// Each node's promise when last seen, while it stays up.
    last_promised: Vec<Option<Ballot>>,
}

impl PaxosInvariants {
    /// A checker that has seen nothing yet.
    pub fn new() -> PaxosInvariants {
        PaxosInvariants::default()
    }

    /// The record of `slot`, created empty on first sight.
    #[inline]
    fn record(&mut self, slot: Slot) -> &mut SlotRecord {
        let position = slot.position();
        if position >= self.slots.len() {
            self.grow(position);
        }
        &mut self.slots[position]
    }

    #[cold]
    fn grow(&mut self, position: usize) {
        make_room(&mut self.slots, position + 1);
        // Every slot the vector has room for, so that the next ones need no call here.
        let len = self.slots.capacity();
        self.slots.resize(len, SlotRecord::EMPTY);
    }

    /// What `ballot` did at `slot`, recorded on first sight.
    #[inline]
    fn ballot_at(&mut self, slot: Slot, ballot: Ballot) -> &mut BallotAtSlot {
        let first = self.record(slot).first.ballot;
        if first == Ballot::ZERO || first == ballot {
            let at = &mut self.slots[slot.position()].first;
            at.ballot = ballot;
            return at;
        }
        self.other_ballots
            .entry((slot, ballot))
            .or_insert(BallotAtSlot {
                ballot,
                ..BallotAtSlot::NONE
            })
    }

    /// The value `ballot`'s leader proposed at `slot`, if it did.
    #[inline]
    fn proposal(&self, slot: Slot, ballot: Ballot) -> Option<ValueId> {
        match self.slots.get(slot.position()) {
            Some(record) if record.first.ballot == ballot => record.first.proposed,
            _ => self.other_ballots.get(&(slot, ballot))?.proposed,
        }
    }

    #[inline]
    fn proposed(&mut self, ballot: Ballot, slot: Slot, value: ValueId) -> Result<(), Violation> {
        let at = self.ballot_at(slot, ballot);
        match at.proposed {
            None => {
                at.proposed = Some(value);
                Ok(())
            }
            Some(proposed) if proposed == value => Ok(()),
            Some(proposed) => Err(Violation::new(
                "validity",
                format!(
                    "{ballot}'s leader proposed {value} at {slot}, after proposing {proposed} there"
                ),
            )),
        }
    }

    #[inline]
    fn accepted(
        &self,
        node: NodeId,
        ballot: Ballot,
        slot: Slot,
        value: ValueId,
    ) -> Result<(), Violation> {
        let proposed = self.proposal(slot, ballot);
        if proposed == Some(value) {
            return Ok(());
        }
        Err(accepted_unproposed(node, ballot, slot, value, proposed))
    }

    /// A proposer learned that `acceptor` promised `ballot`; returns the acceptor's bit when
    /// that raised what it is known to have promised (and its promise must be checked again).
    #[inline]
    fn give(&mut self, acceptor: NodeId, ballot: Ballot) -> u64 {
        let given = &mut self.given[acceptor.index()];
        if ballot > *given {
            *given = ballot;
            1u64 << acceptor.index()
        } else {
            0
        }
    }

    fn acknowledged(
        &mut self,
        quorum: u32,
        acceptor: NodeId,
        ballot: Ballot,
        first: Slot,
        last: Slot,
    ) -> Result<(), Violation> {
        let bit = 1u64 << acceptor.index();
        let mut slot = first;
        while slot <= last {
            let position = slot.position();
            if position >= self.slots.len() {
                self.grow(position);
            }
            let record = &mut self.slots[position];
            if (record.chosen).is_some_and(|chosen| chosen.ballot == ballot) {
                slot = slot.next();
                continue;
            }
            // As `ballot_at`, with the record in hand.
            let at = if record.first.ballot == Ballot::ZERO || record.first.ballot == ballot {
                record.first.ballot = ballot;
                &mut record.first
            } else {
                self.other_ballots
                    .entry((slot, ballot))
                    .or_insert(BallotAtSlot {
                        ballot,
                        ..BallotAtSlot::NONE
                    })
            };
            at.acks |= bit;
            if let (true, Some(value)) = (at.acks.count_ones() >= quorum, at.proposed) {
                match record.chosen {
                    None => record.chosen = Some(Chosen { value, ballot }),
                    Some(earlier) if earlier.value == value => {}
                    Some(earlier) => return Err(chosen_twice(slot, ballot, value, earlier)),
                }
            }
            slot = slot.next();
        }
        Ok(())
    }

    /// `node` learned `value` at `slot` and applied it: the value chosen there, if one is known
    /// to be (agreement), and the value every other node applied there (state-machine safety).
    #[inline]
    fn learned_and_applied(
        &mut self,
        node: NodeId,
        slot: Slot,
        value: ValueId,
    ) -> Result<(), Violation> {
        let position = slot.position();
        if position < self.applied_count {
            // Another node applied this slot first: agree with it and with the choice.
            let record = &self.slots[position];
            let agrees = |other: Option<ValueId>| other.is_none_or(|other| other == value);
            if agrees(record.chosen.map(|c| c.value)) && agrees(record.applied.map(|a| a.value)) {
                return Ok(());
            }
        }
        self.first_applied(node, slot, value)
    }

    /// `learned_and_applied` for the first node to apply `slot`, or a violation.
    #[inline(never)]
    fn first_applied(&mut self, node: NodeId, slot: Slot, value: ValueId) -> Result<(), Violation> {
        let applied_count = self.applied_count;
        let record = self.record(slot);
        if let Some(chosen) = record.chosen {
            if chosen.value != value {
                return Err(learned_unchosen(node, slot, value, chosen));
            }
        }
        match record.applied {
            Some(first) if first.value != value => Err(Violation::new(
                "state-machine-safety",
                format!(
                    "{node} applied {value} at {slot}; {} applied {} there",
                    first.node, first.value
                ),
            )),
            Some(_) => Ok(()),
            None => {
                assert_eq!(slot.position(), applied_count, "slots are applied in order");
                record.applied = Some(AppliedValue { value, node });
                self.applied_count += 1;
                Ok(())
            }
        }
    }

    #[inline]
    fn check_promise<M: StateMachine>(&mut self, paxos: &Paxos<M>) -> Result<(), Violation> {
        let index = paxos.id().index();
        let promised = paxos.promised();
        if self.last_promised[index] == Some(promised) && self.given[index] <= promised {
            return Ok(()); // nothing changed since the last check
        }
        self.promise_changed(paxos.id(), promised)
    }

    /// `node`'s promise is no longer what it was when last seen, or a proposer has learned of
    /// a higher one it gave: it must not be below either.
    #[cold]
    fn promise_changed(&mut self, node: NodeId, promised: Ballot) -> Result<(), Violation> {
        let index = node.index();
        if promised < self.given[index] {
            return Err(Violation::new(
                "promise-monotonicity",
                format!(
                    "{node} holds the promise {promised}, below {} which it promised before",
                    self.given[index]
                ),
            ));
        }
        if let Some(last) = self.last_promised[index] {
            if promised < last {
                return Err(Violation::new(
                    "promise-monotonicity",
                    format!("{node}'s promise went back from {last} to {promised}"),
                ));
            }
        }
        self.last_promised[index] = Some(promised);
        Ok(())
    }
}

#[cold]
#[inline(never)]
fn accepted_unproposed(
    node: NodeId,
    ballot: Ballot,
    slot: Slot,
    value: ValueId,
    proposed: Option<ValueId>,
) -> Violation {
    let proposed = match proposed {
        Some(proposed) => format!("proposed {proposed} there"),
        None => "proposed nothing there".to_string(),
    };
    Violation::new(
        "validity",
        format!("{node} accepted {value} at {slot} in {ballot}, whose leader {proposed}"),
    )
}

#[cold]
#[inline(never)]
fn chosen_twice(slot: Slot, ballot: Ballot, value: ValueId, earlier: Chosen) -> Violation {
    Violation::new(
        "agreement",
        format!(
            "{value} chosen at {slot} in {ballot}, but {} was chosen there in {}",
            earlier.value, earlier.ballot
        ),
    )
}

#[cold]
#[inline(never)]
fn learned_unchosen(node: NodeId, slot: Slot, value: ValueId, chosen: Chosen) -> Violation {
    Violation::new(
        "agreement",
        format!(
            "{node} learned {value} chosen at {slot}, but {} was chosen there in {}",
            chosen.value, chosen.ballot
        ),
    )
}

impl<M: StateMachine> Invariants<Paxos<M>> for PaxosInvariants {
    fn after_event(
        &mut self,
        _time: SimTime,
        touched: Option<NodeId>,
        nodes: &[Option<Paxos<M>>],
    ) -> Result<(), Violation> {
        if self.given.len() < nodes.len() {
            self.given.resize(nodes.len(), Ballot::ZERO);
            self.last_promised.resize(nodes.len(), None);
        }
        let Some(touched) = touched else {
            return Ok(());
        };
        let Some(paxos) = &nodes[touched.index()] else {
            // Crashed: what it promised is judged again when it restarts.
            self.last_promised[touched.index()] = None;
            return Ok(());
        };
        let quorum = (nodes.len() / 2 + 1) as u32;
        let mut informed = 0u64;
        for observation in paxos.observations() {
            match *observation {
                Observation::Proposed {
                    ballot,
                    slot,
                    value,
                } => self.proposed(ballot, slot, value)?,
                Observation::Accepted {
                    ballot,
                    slot,
                    value,
                } => self.accepted(touched, ballot, slot, value)?,
                Observation::Acknowledged {
                    acceptor,
                    ballot,
                    first,
                    last,
                } => {
                    informed |= self.give(acceptor, ballot);
                    self.acknowledged(quorum, acceptor, ballot, first, last)?
                }
                Observation::PromiseReceived { acceptor, ballot } => {
                    informed |= self.give(acceptor, ballot);
                }
                Observation::Applied { slot, value } => {
                    self.learned_and_applied(touched, slot, value)?
                }
            }
        }
        self.check_promise(paxos)?;
        // A promise received now may come from an acceptor that has since restarted.
        if informed != 0 {
            for (index, node) in nodes.iter().enumerate() {
                if index != touched.index() && informed & (1u64 << index) != 0 {
                    if let Some(acceptor) = node {
                        self.check_promise(acceptor)?;
                    }
                }
            }
        }
        Ok(())
    }
}
