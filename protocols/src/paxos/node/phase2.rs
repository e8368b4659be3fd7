//! Phase 2, once per slot: the leader proposes a value, acceptors accept it unless they promised
//! a higher ballot, and a value accepted by a majority in one ballot is chosen; the leader
//! learns it, tells the others in its next `Accept`, and every node applies chosen values in
//! slot order ("Paxos Made Simple" §2.2–§3; PMMC §3, commanders and replicas).
//!
//! Batching and pipelining as Raft's (Ongaro's dissertation §10.2.2): a leader keeps, per
//! acceptor, at most `accepts_in_flight_max` `Accept`s carrying values in flight; client
//! commands take their slot at once, and while a window is full they accumulate, so the next
//! `Accept` carries all of them (up to `values_per_message_max`).

use super::{LeaderState, Observation, Paxos, PendingRequest, RoleState, NODE_COUNT_MAX};
use crate::paxos::ballot::{Ballot, Slot, Value, ValueId};
use crate::paxos::bugs::Bug;
use crate::paxos::durable::Update;
use crate::paxos::messages::{Accept, Accepted, Message, Reject};
use sim::protocol::{Context, NodeId};
use sim::service::{Answer, MachineOperation, Request, Response, StateMachine};

const _: () = assert!(NODE_COUNT_MAX <= 64, "acknowledgements are a 64-bit set");

impl<M: StateMachine> Paxos<M> {
    /// The leader's ballot and state; panics when this node does not lead.
    fn leader_state(&mut self) -> &mut LeaderState {
        match &mut self.role {
            RoleState::Leader(leader) => leader,
            _ => unreachable!("only leaders propose"),
        }
    }

    /// A client request reached the leader: it takes the next free slot and is proposed in the
    /// leader's ballot (PMS §3). Reads go through a slot too: a read executes at its place in
    /// the sequence, after every write chosen before it, which makes it linearizable without
    /// any clock (as Raft's).
    pub(super) fn propose_client_request(
        &mut self,
        context: &mut Context<Self>,
        request: Request<MachineOperation<M>>,
    ) {
        // Raft §8's session table, shared: a request the state machine already executed is
        // answered again; one already proposed is answered when its slot is applied.
        if let Some(answer) = self.kv.cached_answer(request.client, request.id) {
            let response = Response {
                request: request.id,
                answer: answer.clone(),
            };
            context.reply(request.client, response);
            return;
        }
        let pending_requests_max = self.options.pending_requests_max;
        let leader = self.leader_state();
        if leader
            .pending
            .iter()
            .any(|(_, pending)| pending.request == request.id)
        {
            return;
        }
        if leader.pending.len() >= pending_requests_max {
            // An outage, not a decision: the request did not run and may succeed later.
            let response = Response {
                request: request.id,
                answer: Answer::Unavailable("the leader has too many requests pending".into()),
            };
            context.reply(request.client, response);
            return;
        }
        let ballot = self.promised;
        let slot = self.last_accepted_slot().next();
        let pending = PendingRequest {
            request: request.id,
            client: request.client,
        };
        let value = Value::Command(request);
        self.observations.push(Observation::Proposed {
            ballot,
            slot,
            value: value.id(),
        });
        // The leader's own acceptor accepts first; the write precedes every `Accept` it sends.
        self.store_accepted(slot, ballot, value.clone());
        context.persist(Update::Accept {
            ballot,
            first: slot,
            values: vec![value],
        });
        self.observations.push(Observation::Acknowledged {
            acceptor: self.id,
            ballot,
            first: slot,
            last: slot,
        });
        let own_bit = 1u64 << self.id.index();
        let leader = self.leader_state();
        leader.acks.push(slot, own_bit);
        debug_assert!(leader.pending.back().is_none_or(|(last, _)| *last < slot));
        leader.pending.push_back((slot, pending));
        self.replicate(context);
        // A cluster of one decides at once.
        self.maybe_decide(context);
    }

    /// Sends every acceptor the values it lacks, or an empty `Accept` as a heartbeat. A
    /// heartbeat goes out whatever the window says and opens it again: whatever was in flight
    /// before it has been answered or lost.
    pub(super) fn broadcast_heartbeat(&mut self, context: &mut Context<Self>) {
        for peer in self.peers() {
            self.leader_state().in_flight[peer.index()] = 0;
            self.send_accept(context, peer);
        }
    }

    /// Sends the values each acceptor lacks, to those with room in their window.
    fn replicate(&mut self, context: &mut Context<Self>) {
        for peer in self.peers() {
            self.send_accept_if_window_open(context, peer);
        }
    }

    fn send_accept_if_window_open(&mut self, context: &mut Context<Self>, peer: NodeId) {
        let end = self.last_accepted_slot();
        let window = self.options.accepts_in_flight_max;
        let RoleState::Leader(leader) = &self.role else {
            return;
        };
        if leader.next[peer.index()] <= end && leader.in_flight[peer.index()] < window {
            self.send_accept(context, peer);
        }
    }

    /// Sends `peer` the values from its next slot on (at most `values_per_message_max`) with
    /// the leader's decided prefix. Slots decided before this leadership are proposed again in
    /// this ballot with their chosen values, which is safe: a chosen value is the only one any
    /// later ballot may propose (PMS §2.2, P2b).
    fn send_accept(&mut self, context: &mut Context<Self>, peer: NodeId) {
        let ballot = self.promised;
        let decided = self.decided;
        let count_max = self.options.values_per_message_max;
        let RoleState::Leader(leader) = &mut self.role else {
            unreachable!("only leaders send Accept");
        };
        let first = leader.next[peer.index()];
        let values: Vec<Value<MachineOperation<M>>> = self
            .accepted
            .iter()
            .skip(first.position())
            .take(count_max)
            .map_while(|accepted| accepted.as_ref().map(|accepted| accepted.value.clone()))
            .collect();
        let last = Slot(first.0 + values.len() as u64).previous();
        if !values.is_empty() && first < leader.proposed_from {
            // Observed once per slot and ballot: everything from `first` up to the slots
            // already proposed in this ballot.
            let mut slot = first;
            while slot < leader.proposed_from {
                if let Some(accepted) = self.accepted.get(slot.position()).and_then(Option::as_ref)
                {
                    self.observations.push(Observation::Proposed {
                        ballot,
                        slot,
                        value: accepted.value.id(),
                    });
                }
                slot = slot.next();
            }
            leader.proposed_from = first;
        }
        leader.next[peer.index()] = last.next();
        leader.in_flight[peer.index()] += 1;
        let accept = Accept {
            ballot,
            first,
            values,
            decided,
        };
        context.send(peer, Message::Accept(accept));
    }

    /// PMS §2.2 phase 2(b): an acceptor accepts a proposal unless it promised a higher ballot
    /// (P1a); accepting is written to disk before the `Accepted` leaves. The `Accept` also
    /// carries the leader's decisions: slots up to `decided` whose value this acceptor holds in
    /// the leader's ballot are chosen, and are applied in order.
    pub(super) fn handle_accept(
        &mut self,
        context: &mut Context<Self>,
        source: NodeId,
        message: Accept<MachineOperation<M>>,
    ) {
        self.round_seen = self.round_seen.max(message.ballot.round);
        let ballot = message.ballot;
        if ballot < self.promised {
            match self.bug {
                Some(Bug::AcceptWithoutPromiseCheck)
                    if !message.values.is_empty() && matches!(self.role, RoleState::Follower) =>
                {
                    // Bug (P1a): the proposal is accepted although a higher ballot was promised.
                    let last = self.accept_values(context, ballot, message.first, message.values);
                    let prefix = self.prefix();
                    let accepted = Accepted {
                        ballot,
                        first: message.first,
                        last,
                        prefix,
                        decided: self.decided,
                    };
                    context.send(source, Message::Accepted(accepted));
                    return;
                }
                Some(Bug::AcceptIntoPromisedBallot) if !message.values.is_empty() => {
                    // Bug (PMMC §3, acceptor): the outdated proposal is taken into the ballot
                    // promised, a (ballot, value) pair its leader never proposed.
                    let promised = self.promised;
                    self.accept_values(context, promised, message.first, message.values);
                }
                _ => {}
            }
            let reject = Reject {
                promised: self.promised,
            };
            context.send(source, Message::Reject(reject));
            return;
        }
        if ballot > self.promised || !matches!(self.role, RoleState::Follower) {
            // PMMC §3: an acceptor adopts a higher ballot; a leader or proposer of a lower one is
            // preempted.
            self.become_follower(context, Some(source));
        }
        let raised = ballot > self.promised;
        self.raise_promise(ballot);
        self.leader_hint = Some(source);
        self.reset_election_timer(context);
        let first = message.first;
        let last = if message.values.is_empty() {
            if raised {
                self.persist_promise(context);
            }
            first.previous()
        } else {
            self.accept_values(context, ballot, first, message.values)
        };
        self.learn(ballot, message.decided);
        let prefix = self.prefix();
        let accepted = Accepted {
            ballot,
            first,
            last,
            prefix,
            decided: self.decided,
        };
        context.send(source, Message::Accepted(accepted));
        self.apply_decided(context);
    }

    /// Stores `values` from slot `first` on as accepted in `ballot` and persists them (unless a
    /// retransmission changed nothing). Returns the last slot.
    fn accept_values(
        &mut self,
        context: &mut Context<Self>,
        ballot: Ballot,
        first: Slot,
        values: Vec<Value<MachineOperation<M>>>,
    ) -> Slot {
        let last = Slot(first.0 + values.len() as u64 - 1);
        let unchanged = values.iter().enumerate().all(|(offset, value)| {
            self.accepted
                .get(first.position() + offset)
                .and_then(Option::as_ref)
                .is_some_and(|held| held.ballot == ballot && held.value == *value)
        });
        if unchanged && ballot <= self.promised {
            // A retransmission: these acceptances were observed when first made.
            return last;
        }
        for (offset, value) in values.iter().enumerate() {
            self.store_accepted(Slot(first.0 + offset as u64), ballot, value.clone());
        }
        context.persist(Update::Accept {
            ballot,
            first,
            values,
        });
        last
    }

    /// PMS §2.3, learning a chosen value: the leader has decided every slot up to
    /// `leader_decided`, each with the value it proposed in `ballot`; the slots this acceptor
    /// holds in `ballot` are therefore decided here too, in order.
    fn learn(&mut self, ballot: Ballot, leader_decided: Slot) {
        if self.bug == Some(Bug::LearnWithoutQuorum) {
            // Bug (PMS §2.3): whatever was accepted is taken as chosen, without a majority.
            while self.accepted(self.decided.next()).is_some() {
                self.mark_decided(self.decided.next());
            }
            return;
        }
        while self.decided < leader_decided {
            let slot = self.decided.next();
            match self.accepted(slot) {
                Some(accepted) if accepted.ballot == ballot => self.mark_decided(slot),
                _ => break,
            }
        }
    }

    /// The highest slot up to which every slot is decided here or accepted in the promised
    /// ballot: the leader resends from just after it.
    fn prefix(&mut self) -> Slot {
        let mut prefix = self.ballot_prefix.max(self.decided);
        while let Some(accepted) = self.accepted(prefix.next()) {
            if accepted.ballot != self.promised {
                break;
            }
            prefix = prefix.next();
        }
        self.ballot_prefix = prefix;
        prefix
    }

    /// PMS §2.3: the leader learns a slot is chosen once a majority accepted its proposal, and
    /// frees the acceptor's window place; a reply whose prefix lies before its first slot shows
    /// a gap (a lost `Accept`), and the leader resends from there.
    pub(super) fn handle_accepted(
        &mut self,
        context: &mut Context<Self>,
        source: NodeId,
        message: Accepted,
    ) {
        if message.ballot != self.promised {
            return; // a reply to an earlier ballot
        }
        let RoleState::Leader(leader) = &mut self.role else {
            return;
        };
        let peer = source.index();
        leader.heard_from[peer] = true;
        leader.in_flight[peer] = leader.in_flight[peer].saturating_sub(1);
        leader.learned = leader.learned.max(message.decided);
        // The prefix acknowledges cumulatively, as Raft's matchIndex: every slot above the
        // acceptor's decided ones up to it is accepted in this ballot, so a lost `Accepted`
        // costs nothing once a later one arrives.
        let from = leader.matched[peer].max(message.decided).next();
        if message.prefix >= from {
            self.observations.push(Observation::Acknowledged {
                acceptor: source,
                ballot: message.ballot,
                first: from,
                last: message.prefix,
            });
            leader.acks.add(from, message.prefix, 1u64 << peer);
            leader.matched[peer] = message.prefix;
        }
        // Slots accepted past a gap are not in the prefix: count them one by one.
        let first = message.first.max(message.prefix.next());
        if message.last >= first {
            self.observations.push(Observation::Acknowledged {
                acceptor: source,
                ballot: message.ballot,
                first,
                last: message.last,
            });
            leader.acks.add(first, message.last, 1u64 << peer);
        }
        if message.prefix.next() < message.first {
            leader.next[peer] = leader.next[peer].min(message.prefix.next());
        }
        self.maybe_decide(context);
        self.send_accept_if_window_open(context, source);
    }

    /// Advances the decided prefix over the slots a majority accepted in this ballot, or that
    /// an acceptor reported decided, and applies them.
    pub(super) fn maybe_decide(&mut self, context: &mut Context<Self>) {
        let quorum = self.quorum() as u32;
        let end = self.last_accepted_slot();
        let mut advanced = false;
        while self.decided < end {
            let slot = self.decided.next();
            let RoleState::Leader(leader) = &mut self.role else {
                return;
            };
            let chosen_here = leader.acks.count(slot).is_some_and(|count| count >= quorum);
            if !chosen_here && slot > leader.learned {
                break;
            }
            leader.acks.decide_first(slot);
            self.mark_decided(slot);
            advanced = true;
        }
        if advanced {
            self.apply_decided(context);
        }
    }

    /// Applies the decided slots to the state machine in slot order (PMMC §3, the replica's
    /// `perform`); a leader then answers the client whose request was proposed there. A
    /// request chosen at two slots (a client retried it at another leader) executes once: the
    /// session table answers the second from its memory.
    pub(super) fn apply_decided(&mut self, context: &mut Context<Self>) {
        while self.applied < self.decided {
            let slot = self.applied.next();
            let Some(accepted) = self.accepted.get(slot.position()).and_then(Option::as_ref) else {
                break;
            };
            let value = accepted.value.id();
            let answer = match &accepted.value {
                Value::NoOp => None,
                Value::Command(request) => Some(self.kv.apply(request)),
            };
            self.applied = slot;
            self.observations.push(Observation::Applied { slot, value });
            if let RoleState::Leader(leader) = &mut self.role {
                // The pending requests' slots are all after the applied ones.
                if leader.pending.front().is_some_and(|(at, _)| *at == slot) {
                    let (_, pending) = leader.pending.pop_front().expect("the front exists");
                    let answer = match answer {
                        Some(answer) if value == ValueId::Request(pending.request) => answer,
                        _ => Answer::Indeterminate("another value was chosen".into()),
                    };
                    let response = Response {
                        request: pending.request,
                        answer,
                    };
                    context.reply(pending.client, response);
                }
            }
        }
    }
}
