//! Phase 1, once per leadership: a proposer picks a ballot above every one it has seen, asks a
//! majority of acceptors to promise it for every undecided slot, and learns from the promises
//! which values may already have been chosen ("Paxos Made Simple" §2.2 and §3; PMMC §3, the
//! scout).

use super::{Acks, CandidateState, LeaderState, Observation, Paxos, RoleState, Timer};
use crate::paxos::ballot::{AcceptedValue, Ballot, Slot, Value};
use crate::paxos::bugs::Bug;
use crate::paxos::durable::Update;
use crate::paxos::messages::{Message, Prepare, Promise, Reject};
use sim::protocol::{Context, NodeId};
use sim::service::StateMachine;
use std::collections::{BTreeMap, VecDeque};

impl<M: StateMachine> Paxos<M> {
    /// PMS §2.2 phase 1(a): the election timeout elapsed without a leader; start phase 1 with a
    /// ballot above every round seen, for every slot from the first one not known decided.
    pub(super) fn become_candidate(&mut self, context: &mut Context<Self>) {
        assert!(!self.is_leader(), "a leader does not start phase 1");
        let ballot = Ballot::new(self.round_seen.max(self.promised.round) + 1, self.id);
        // The proposer's own acceptor promises first, and the promise is written before any
        // `Prepare` leaves (PMS §2.3).
        self.raise_promise(ballot);
        self.persist_promise(context);
        self.leader_hint = None;
        let first_slot = self.decided.next();
        let mut promised_by = vec![false; self.node_count as usize];
        promised_by[self.id.index()] = true;
        let merged: BTreeMap<Slot, AcceptedValue<_>> = self
            .accepted
            .iter()
            .enumerate()
            .skip(first_slot.position())
            .filter_map(|(position, accepted)| {
                let accepted = accepted.as_ref()?;
                Some((Slot(position as u64 + 1), accepted.clone()))
            })
            .collect();
        self.role = RoleState::Candidate(CandidateState {
            first_slot,
            promised_by,
            merged,
        });
        // If phase 1 stalls (lost messages, a competing proposer), the timeout elapses again
        // and the next attempt uses a higher ballot; the random draw is the back-off.
        self.reset_election_timer(context);
        if self.quorum() == 1 {
            self.become_leader(context);
            return;
        }
        context.broadcast(Message::Prepare(Prepare { ballot, first_slot }));
        context.set_timer(Timer::Heartbeat, self.options.heartbeat_interval);
    }

    /// Resends `Prepare` to the acceptors that have not promised yet.
    pub(super) fn retry_prepare(&self, context: &mut Context<Self>) {
        let RoleState::Candidate(candidate) = &self.role else {
            unreachable!("only proposers in phase 1 retry Prepare");
        };
        let prepare = Prepare {
            ballot: self.promised,
            first_slot: candidate.first_slot,
        };
        for peer in self.peers() {
            if !candidate.promised_by[peer.index()] {
                context.send(peer, Message::Prepare(prepare.clone()));
            }
        }
    }

    /// PMS §2.2 phase 1(b): an acceptor promises never again to accept a proposal numbered less
    /// than the `Prepare`'s ballot, if it has not promised a higher one, and reports the values
    /// it accepted. The promise is written to disk before the reply leaves (PMS §2.3).
    pub(super) fn handle_prepare(
        &mut self,
        context: &mut Context<Self>,
        source: NodeId,
        message: Prepare,
    ) {
        self.round_seen = self.round_seen.max(message.ballot.round);
        if message.ballot < self.promised {
            let reject = Reject {
                promised: self.promised,
            };
            context.send(source, Message::Reject(reject));
            return;
        }
        if message.ballot > self.promised {
            // Preempted: a leader or proposer of a lower ballot steps back (PMMC §3).
            self.become_follower(context, None);
            self.raise_promise(message.ballot);
            // The bug answers without the write: after a crash, the acceptor has forgotten it.
            if self.bug != Some(Bug::PromiseNotPersisted) {
                self.persist_promise(context);
            }
        }
        // As granting a vote in Raft: give the proposer time to finish phase 1.
        self.reset_election_timer(context);
        let accepted = self
            .accepted
            .iter()
            .enumerate()
            .skip(message.first_slot.position())
            .filter_map(|(position, accepted)| {
                Some((Slot(position as u64 + 1), accepted.as_ref()?.clone()))
            })
            .collect();
        let promise = Promise {
            ballot: message.ballot,
            accepted,
        };
        context.send(source, Message::Promise(promise));
    }

    /// PMS §2.2 phase 2(a) prerequisite: a proposer with promises from a majority proposes, for
    /// each slot, the value of the highest-numbered proposal any of them accepted (P2c).
    pub(super) fn handle_promise(
        &mut self,
        context: &mut Context<Self>,
        source: NodeId,
        message: Promise<sim::service::MachineOperation<M>>,
    ) {
        if message.ballot != self.promised {
            return; // a promise for an earlier attempt
        }
        let own_last = self.last_accepted_slot();
        let quorum = self.quorum();
        let bug = self.bug;
        let own = &self.accepted;
        let RoleState::Candidate(candidate) = &mut self.role else {
            return; // already leader, or preempted
        };
        self.observations.push(Observation::PromiseReceived {
            acceptor: source,
            ballot: message.ballot,
        });
        if candidate.promised_by[source.index()] {
            return; // a duplicate
        }
        candidate.promised_by[source.index()] = true;
        for (slot, accepted) in message.accepted {
            if slot < candidate.first_slot {
                continue;
            }
            if bug == Some(Bug::Phase1SkippedForEmptySlots) && slot > own_last {
                // Bug (PMS §3): the slots past this node's own last one are believed empty, so
                // what phase 1 found there is dropped and new values go there.
                continue;
            }
            let own_value = own
                .get(slot.position())
                .is_some_and(|accepted| accepted.is_some());
            match candidate.merged.get_mut(&slot) {
                None => {
                    candidate.merged.insert(slot, accepted);
                }
                // Bug (PMS §2.2, P2c): the proposer keeps its own value whatever the ballots.
                Some(_) if bug == Some(Bug::IgnorePromisedValues) && own_value => {}
                Some(highest) if accepted.ballot > highest.ballot => *highest = accepted,
                Some(_) => {}
            }
        }
        let promise_count = candidate.promised_by.iter().filter(|p| **p).count();
        if promise_count >= quorum {
            self.become_leader(context);
        }
    }

    /// A `Prepare` or `Accept` of this node was rejected for a higher ballot: a leader or
    /// proposer in phase 1 is preempted and backs off for a randomized timeout before trying
    /// again with a higher ballot (PMMC §3, "preempted"; PMS §3 on a distinguished proposer).
    pub(super) fn handle_reject(&mut self, context: &mut Context<Self>, message: Reject) {
        self.round_seen = self.round_seen.max(message.promised.round);
        if message.promised <= self.promised || matches!(self.role, RoleState::Follower) {
            return;
        }
        self.become_follower(context, Some(message.promised.node));
    }

    /// Phase 1 succeeded: the proposer leads its ballot. It proposes again, in its ballot, every
    /// value the promises reported, fills the gaps among them with no-ops (PMS §3), and sends
    /// them to every acceptor.
    pub(super) fn become_leader(&mut self, context: &mut Context<Self>) {
        let RoleState::Candidate(candidate) =
            std::mem::replace(&mut self.role, RoleState::Follower)
        else {
            unreachable!("only proposers in phase 1 become leaders");
        };
        let ballot = self.promised;
        let first = candidate.first_slot;
        let mut merged = candidate.merged;
        let end = merged
            .last_key_value()
            .map_or(first.previous(), |(slot, _)| *slot)
            .max(first.previous());
        let mut values = Vec::with_capacity((end.0 + 1 - first.0) as usize);
        let mut acks = Acks::new(first);
        let mut slot = first;
        while slot <= end {
            let value = merged
                .remove(&slot)
                .map_or(Value::NoOp, |accepted| accepted.value);
            self.observations.push(Observation::Proposed {
                ballot,
                slot,
                value: value.id(),
            });
            self.store_accepted(slot, ballot, value.clone());
            values.push(value);
            acks.push(slot, 1u64 << self.id.index());
            slot = slot.next();
        }
        if !values.is_empty() {
            context.persist(Update::Accept {
                ballot,
                first,
                values,
            });
            self.observations.push(Observation::Acknowledged {
                acceptor: self.id,
                ballot,
                first,
                last: end,
            });
        }
        let node_count = self.node_count as usize;
        self.role = RoleState::Leader(LeaderState {
            next: vec![first; node_count],
            in_flight: vec![0; node_count],
            acks,
            heard_from: vec![false; node_count],
            matched: vec![Slot::ZERO; node_count],
            learned: Slot::ZERO,
            pending: VecDeque::new(),
            proposed_from: first,
        });
        self.leader_hint = Some(self.id);
        context.cancel_timer(Timer::Election);
        self.election_timer.armed = false;
        self.broadcast_heartbeat(context);
        context.set_timer(Timer::Heartbeat, self.options.heartbeat_interval);
        if self.options.check_quorum {
            context.set_timer(Timer::CheckQuorum, self.options.election_timeout_max);
        }
        // A cluster of one decides at once.
        self.maybe_decide(context);
    }
}
