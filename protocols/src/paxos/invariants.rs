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

use super::ballot::{Ballot, Slot, ValueId};
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

/// The checker of Multi-Paxos's four safety invariants.
///
/// Almost every slot only ever sees one ballot, so the first ballot seen at each slot is kept in
/// a vector indexed by slot (one lookup, no tree walk, as this runs after every event) and the
/// rare others in a map; chosen and applied values are vectors indexed by slot too.
#[derive(Clone, Debug, Default)]
pub struct PaxosInvariants {
    /// `first_ballots[s - 1]`: the first ballot seen at slot `s`.
    first_ballots: Vec<BallotAtSlot>,
    /// Every later ballot seen at a slot.
    other_ballots: BTreeMap<(Slot, Ballot), BallotAtSlot>,
    /// `chosen[s - 1]`: the value chosen at slot `s`, once a majority accepted one.
    chosen: Vec<Option<Chosen>>,
    /// `applied[s - 1]`: the value first applied at slot `s`.
    applied: Vec<AppliedValue>,
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

    /// What `ballot` did at `slot`, recorded on first sight.
    fn ballot_at(&mut self, slot: Slot, ballot: Ballot) -> &mut BallotAtSlot {
        let position = slot.position();
        if self.first_ballots.len() <= position {
            self.first_ballots.resize(position + 1, BallotAtSlot::NONE);
        }
        let first = self.first_ballots[position].ballot;
        if first == Ballot::ZERO || first == ballot {
            let at = &mut self.first_ballots[position];
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
    fn proposal(&self, slot: Slot, ballot: Ballot) -> Option<ValueId> {
        match self.first_ballots.get(slot.position()) {
            Some(first) if first.ballot == ballot => first.proposed,
            _ => self.other_ballots.get(&(slot, ballot))?.proposed,
        }
    }

    fn chosen_at(&mut self, slot: Slot) -> &mut Option<Chosen> {
        let position = slot.position();
        if self.chosen.len() <= position {
            self.chosen.resize(position + 1, None);
        }
        &mut self.chosen[position]
    }

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

    fn accepted(
        &self,
        node: NodeId,
        ballot: Ballot,
        slot: Slot,
        value: ValueId,
    ) -> Result<(), Violation> {
        match self.proposal(slot, ballot) {
            Some(proposed) if proposed == value => Ok(()),
            Some(proposed) => Err(Violation::new(
                "validity",
                format!(
                    "{node} accepted {value} at {slot} in {ballot}, whose leader proposed \
                     {proposed} there"
                ),
            )),
            None => Err(Violation::new(
                "validity",
                format!(
                    "{node} accepted {value} at {slot} in {ballot}, whose leader proposed \
                     nothing there"
                ),
            )),
        }
    }

    /// A proposer learned that `acceptor` promised `ballot`; returns the acceptor's bit when
    /// that raised what it is known to have promised (and its promise must be checked again).
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
        let mut slot = first;
        while slot <= last {
            if self
                .chosen_at(slot)
                .is_some_and(|chosen| chosen.ballot == ballot)
            {
                slot = slot.next();
                continue;
            }
            let at = self.ballot_at(slot, ballot);
            at.acks |= 1u64 << acceptor.index();
            if at.acks.count_ones() >= quorum {
                if let Some(value) = at.proposed {
                    let chosen = self.chosen_at(slot);
                    match *chosen {
                        None => *chosen = Some(Chosen { value, ballot }),
                        Some(earlier) if earlier.value == value => {}
                        Some(earlier) => {
                            return Err(Violation::new(
                                "agreement",
                                format!(
                                    "{value} chosen at {slot} in {ballot}, but {} was chosen \
                                     there in {}",
                                    earlier.value, earlier.ballot
                                ),
                            ))
                        }
                    }
                }
            }
            slot = slot.next();
        }
        Ok(())
    }

    fn learned(&self, node: NodeId, slot: Slot, value: ValueId) -> Result<(), Violation> {
        match self.chosen.get(slot.position()).copied().flatten() {
            Some(chosen) if chosen.value != value => Err(Violation::new(
                "agreement",
                format!(
                    "{node} learned {value} chosen at {slot}, but {} was chosen there in {}",
                    chosen.value, chosen.ballot
                ),
            )),
            _ => Ok(()),
        }
    }

    fn applied(&mut self, node: NodeId, slot: Slot, value: ValueId) -> Result<(), Violation> {
        let position = slot.position();
        match self.applied.get(position) {
            Some(first) if first.value != value => Err(Violation::new(
                "state-machine-safety",
                format!(
                    "{node} applied {value} at {slot}; {} applied {} there",
                    first.node, first.value
                ),
            )),
            Some(_) => Ok(()),
            None => {
                assert_eq!(position, self.applied.len(), "slots are applied in order");
                self.applied.push(AppliedValue { value, node });
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
        if promised < self.given[index] {
            return Err(Violation::new(
                "promise-monotonicity",
                format!(
                    "{} holds the promise {promised}, below {} which it promised before",
                    paxos.id(),
                    self.given[index]
                ),
            ));
        }
        if let Some(last) = self.last_promised[index] {
            if promised < last {
                return Err(Violation::new(
                    "promise-monotonicity",
                    format!(
                        "{}'s promise went back from {last} to {promised}",
                        paxos.id()
                    ),
                ));
            }
        }
        self.last_promised[index] = Some(promised);
        Ok(())
    }
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
                    self.learned(touched, slot, value)?;
                    self.applied(touched, slot, value)?
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
