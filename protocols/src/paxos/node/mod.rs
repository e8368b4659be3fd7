//! One Multi-Paxos node: acceptor, learner and proposer in one process ("Paxos Made Simple" §3:
//! "each server plays the roles of proposer, acceptor and learner"), with its state and the
//! entry points of the `Protocol` trait.
//!
//! `phase1.rs` holds leader election by ballot (`Prepare`, `Promise`, `Reject`);
//! `phase2.rs` holds proposing, accepting, learning and applying (`Accept`, `Accepted`) and
//! client requests.
//!
//! Every handler opens with its guards (stale ballots, wrong role), then does one rule of the
//! papers, citing it. A persist is pushed before the message or reply that depends on it: the
//! simulator holds a message until the persist pushed before it is durable.

use super::ballot::{make_room, AcceptedValue, Ballot, Slot, Value, ValueId};
use super::bugs::Bug;
use super::durable::{Durable, Update};
use super::messages::Message;
use super::options::Options;
use sim::protocol::{ClientId, Context, NodeConfig, NodeId, NodeView, Protocol, RequestId, Role};
use sim::service::{
    Answer, FollowLeader, MachineOperation, MachineOutput, Request, Response, Sessions,
    StateMachine,
};
use sim::time::{SimDuration, SimTime};
use sim::workload::register::Registers;
use std::collections::{BTreeMap, VecDeque};

mod phase1;
mod phase2;

/// The largest cluster a node supports: acknowledgements are counted in a 64-bit set.
pub const NODE_COUNT_MAX: usize = 64;

/// The timers of a Multi-Paxos node. Setting one that runs restarts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// Followers and proposers in phase 1: no leader heard from in time, start phase 1 with a
    /// higher ballot.
    Election,
    /// Leaders: send `Accept` (a heartbeat when there is nothing new) to every acceptor.
    /// Proposers in phase 1: retry `Prepare` to acceptors that have not answered.
    Heartbeat,
    /// Leaders with `check_quorum`: step down unless a majority answered since the last check.
    CheckQuorum,
}

/// What a node did in its latest handler call that observers need to judge safety: the
/// invariant checker reads these after every event ([`Paxos::observations`]); they are cleared
/// when the next handler starts. Nothing in the protocol reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observation {
    /// This node, leading `ballot`, proposed `value` for `slot` (phase 2a).
    Proposed {
        /// The leader's ballot.
        ballot: Ballot,
        /// The slot.
        slot: Slot,
        /// The value proposed.
        value: ValueId,
    },
    /// This node's acceptor accepted `value` for `slot` in `ballot` (phase 2b).
    Accepted {
        /// The ballot recorded with the value.
        ballot: Ballot,
        /// The slot.
        slot: Slot,
        /// The value accepted.
        value: ValueId,
    },
    /// This node, leading `ballot`, learned that `acceptor` accepted its proposals for the slots
    /// `first..=last` (an `Accepted` received, or its own acceptance).
    Acknowledged {
        /// Who accepted.
        acceptor: NodeId,
        /// The ballot.
        ballot: Ballot,
        /// The first slot.
        first: Slot,
        /// The last slot.
        last: Slot,
    },
    /// This node received `acceptor`'s promise for `ballot` (phase 1b).
    PromiseReceived {
        /// Who promised.
        acceptor: NodeId,
        /// The ballot promised.
        ballot: Ballot,
    },
    /// This node learned that `value` is chosen at `slot` (as a learner, PMS §2.3) and applied it
    /// to its state machine: a node applies each slot in the handler that decides it.
    Applied {
        /// The slot.
        slot: Slot,
        /// The value.
        value: ValueId,
    },
}

/// A client request a leader proposed and will answer once its slot is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PendingRequest {
    request: RequestId,
    client: ClientId,
}

/// A proposer in phase 1 (PMMC's scout).
#[derive(Clone, Debug, PartialEq, Eq)]
struct CandidateState<O> {
    /// The first slot phase 1 covers.
    first_slot: Slot,
    /// Who promised (the proposer promises itself).
    promised_by: Vec<bool>,
    /// Per slot, the value with the highest ballot among the promises so far (PMS §2.2, P2c).
    merged: BTreeMap<Slot, AcceptedValue<O>>,
}

/// A leader after phase 1 (PMMC's leader with its commanders, one per slot, folded into one
/// stream of `Accept`s per acceptor).
#[derive(Clone, Debug, PartialEq, Eq)]
struct LeaderState {
    /// For each acceptor, the next slot to send it; advanced when values leave, moved back when
    /// its reply shows a gap.
    next: Vec<Slot>,
    /// For each acceptor, `Accept`s sent since its last reply or the last heartbeat: the
    /// pipelining window.
    in_flight: Vec<usize>,
    /// For each slot proposed in this ballot and not yet decided, who accepted it.
    acks: Acks,
    /// For check-quorum: who answered since the last check.
    heard_from: Vec<bool>,
    /// For each acceptor, the highest prefix it reported in this ballot.
    matched: Vec<Slot>,
    /// The highest decided prefix an acceptor reported: those slots are chosen.
    learned: Slot,
    /// Client requests awaiting decision, in slot order: proposed at the end (slots are taken
    /// in order), answered from the front (slots are applied in order).
    pending: VecDeque<(Slot, PendingRequest)>,
    /// Slots from here on were proposed in this ballot (and observed so); earlier slots, decided
    /// before this leadership, are proposed again when first resent to a lagging acceptor.
    proposed_from: Slot,
}

/// Who accepted each undecided slot of a leader's ballot, a bit per node: slots from `first` on,
/// in a ring buffer, because they are proposed at the end and decided at the front.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Acks {
    first: Slot,
    bits: VecDeque<u64>,
}

impl Acks {
    fn new(first: Slot) -> Acks {
        Acks {
            first,
            bits: VecDeque::new(),
        }
    }

    /// Records `bits` for `slot`, past the last slot recorded.
    fn push(&mut self, slot: Slot, bits: u64) {
        let offset = (slot.0 - self.first.0) as usize;
        if self.bits.len() <= offset {
            self.bits.resize(offset + 1, 0);
        }
        self.bits[offset] |= bits;
    }

    /// Adds `bit` to every recorded slot in `first..=last`.
    fn add(&mut self, first: Slot, last: Slot, bit: u64) {
        let start = first.0.saturating_sub(self.first.0) as usize;
        let end = (last.0 + 1).saturating_sub(self.first.0) as usize;
        let end = end.min(self.bits.len());
        if start < end {
            for bits in self.bits.range_mut(start..end) {
                *bits |= bit;
            }
        }
    }

    /// How many accepted `slot`, if it is recorded.
    fn count(&self, slot: Slot) -> Option<u32> {
        let offset = usize::try_from(slot.0.checked_sub(self.first.0)?).ok()?;
        self.bits.get(offset).map(|bits| bits.count_ones())
    }

    /// Forgets `slot`, just decided, which must be the first.
    fn decide_first(&mut self, slot: Slot) {
        if slot == self.first {
            self.bits.pop_front();
            self.first = slot.next();
        }
    }
}

/// What a node is doing, with the state only that role has.
#[derive(Clone, Debug, PartialEq, Eq)]
enum RoleState<O> {
    Follower,
    Candidate(CandidateState<O>),
    Leader(LeaderState),
}

/// One Multi-Paxos node with its replicated state machine.
#[derive(Clone, Debug)]
pub struct Paxos<M: StateMachine = Registers> {
    id: NodeId,
    node_count: u32,
    options: Options,
    bug: Option<Bug>,
    // Acceptor: persistent (PMS §2.3), written to disk through `Update`s.
    promised: Ballot,
    accepted: Vec<Option<AcceptedValue<MachineOperation<M>>>>,
    /// Every slot up to here is decided or accepted in `promised` (for `Accepted.prefix`).
    ballot_prefix: Slot,
    // Learner: volatile, relearned from the leader after a restart.
    decided: Slot,
    applied: Slot,
    kv: Sessions<M>,
    // Proposer.
    /// The highest round seen in any ballot, so the next ballot is above it.
    round_seen: u64,
    leader_hint: Option<NodeId>,
    role: RoleState<MachineOperation<M>>,
    election_timer: ElectionTimer,
    observations: Vec<Observation>,
}

/// The election timeout, restarted lazily, as Raft's: a restart records when it happened, and
/// the armed timer, firing early, is re-armed for the rest of a timeout counted from the
/// restart — one timer event per timeout instead of one per heartbeat.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct ElectionTimer {
    armed: bool,
    restarted: bool,
    restarted_at: SimTime,
}

impl<M: StateMachine> Protocol for Paxos<M> {
    type Workload = M::Workload;
    type Message = Message<MachineOperation<M>>;
    type Request = Request<MachineOperation<M>>;
    type Response = Response<MachineOutput<M>>;
    type Client = FollowLeader<M::Workload>;
    type Timer = Timer;
    type Durable = Durable<MachineOperation<M>>;
    type Update = Update<MachineOperation<M>>;
    type Options = Options;

    const NAME: &'static str = "paxos";
    const BUGS: &'static [&'static str] = &Bug::NAMES;

    fn start(
        config: &NodeConfig<'_, Options>,
        durable: Option<&Self::Durable>,
        context: &mut Context<Self>,
    ) -> Self {
        config.options.validate();
        assert!(
            config.node_count as usize <= NODE_COUNT_MAX,
            "paxos supports at most {NODE_COUNT_MAX} nodes"
        );
        let bug = config.bug.map(|name| {
            Bug::from_name(name).unwrap_or_else(|| {
                panic!(
                    "paxos has no planted bug {name:?} (known: {:?})",
                    Bug::NAMES
                )
            })
        });
        // PMS §2.3: a restarted acceptor recovers its promise and accepted values from disk;
        // what is decided, and the state machine, are learned again from the leader.
        let durable = durable.cloned().unwrap_or_default();
        let mut paxos = Paxos {
            id: config.id,
            node_count: config.node_count,
            options: config.options.clone(),
            bug,
            promised: durable.promised,
            accepted: durable.accepted,
            ballot_prefix: Slot::ZERO,
            decided: Slot::ZERO,
            applied: Slot::ZERO,
            kv: Sessions::new(),
            round_seen: durable.promised.round,
            leader_hint: None,
            role: RoleState::Follower,
            election_timer: ElectionTimer::default(),
            observations: Vec::new(),
        };
        paxos.reset_election_timer(context);
        paxos
    }

    fn on_message(&mut self, context: &mut Context<Self>, source: NodeId, message: Self::Message) {
        assert!(
            source != self.id && source.0 < self.node_count,
            "message from {source}"
        );
        self.observations.clear();
        match message {
            Message::Prepare(message) => self.handle_prepare(context, source, message),
            Message::Promise(message) => self.handle_promise(context, source, message),
            Message::Accept(message) => self.handle_accept(context, source, message),
            Message::Accepted(message) => self.handle_accepted(context, source, message),
            Message::Reject(message) => self.handle_reject(context, message),
        }
    }

    fn on_timer(&mut self, context: &mut Context<Self>, timer: Timer) {
        self.observations.clear();
        match (timer, &self.role) {
            (Timer::Election, RoleState::Leader(_)) => {}
            (Timer::Election, _) => {
                self.election_timer.armed = false;
                if self.election_timer.restarted {
                    self.rearm_election_timer(context);
                } else {
                    self.become_candidate(context);
                }
            }
            (Timer::Heartbeat, RoleState::Leader(_)) => {
                self.broadcast_heartbeat(context);
                context.set_timer(Timer::Heartbeat, self.options.heartbeat_interval);
            }
            (Timer::Heartbeat, RoleState::Candidate(_)) => {
                self.retry_prepare(context);
                context.set_timer(Timer::Heartbeat, self.options.heartbeat_interval);
            }
            (Timer::CheckQuorum, RoleState::Leader(_)) => self.check_quorum(context),
            // A timer of a role this node has left: nothing to do.
            _ => {}
        }
    }

    fn on_client_request(
        &mut self,
        context: &mut Context<Self>,
        client: ClientId,
        request: Self::Request,
    ) {
        assert_eq!(
            client, request.client,
            "a request comes from its own client"
        );
        self.observations.clear();
        // PMS §3: clients send to the distinguished proposer; others point at it.
        if !self.is_leader() {
            let response = Response {
                request: request.id,
                answer: Answer::Redirect(self.leader_hint),
            };
            context.reply(client, response);
            return;
        }
        self.propose_client_request(context, request);
    }

    fn apply_update(durable: &mut Self::Durable, update: Self::Update) {
        durable.apply(update);
    }

    fn view(&self) -> NodeView {
        NodeView {
            role: self.role(),
            term: self.promised.round,
            commit_index: self.decided.0,
            leader_hint: self.leader_hint,
        }
    }

    fn check_options(options: &Options) -> Result<(), String> {
        options.check()
    }

    fn message_kind(message: &Self::Message) -> &'static str {
        message.kind()
    }

    fn message_bytes(message: &Self::Message) -> u64 {
        message.encoded_size()
    }

    /// Named as Raft's, so that fault-coverage tables of the two protocols line up.
    fn activity(&self) -> &'static str {
        match &self.role {
            RoleState::Leader(_) if self.decided < self.last_accepted_slot() => {
                "leading, entries in flight"
            }
            RoleState::Leader(_) => "leading, idle",
            RoleState::Candidate(_) => "electing",
            RoleState::Follower => "following",
        }
    }
}

/// Read-only accessors, for invariant checkers and tests.
impl<M: StateMachine> Paxos<M> {
    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }
    /// Leader, follower or candidate (a proposer in phase 1).
    pub fn role(&self) -> Role {
        match self.role {
            RoleState::Follower => Role::Follower,
            RoleState::Candidate(_) => Role::Candidate,
            RoleState::Leader(_) => Role::Leader,
        }
    }
    /// Whether this node has completed phase 1 for its ballot and not been preempted since.
    pub fn is_leader(&self) -> bool {
        matches!(self.role, RoleState::Leader(_))
    }
    /// The highest ballot this node's acceptor has promised; a leader's or proposer's own
    /// ballot while it leads or campaigns.
    pub fn promised(&self) -> Ballot {
        self.promised
    }
    /// What the acceptor accepted at `slot`, if anything.
    pub fn accepted(&self, slot: Slot) -> Option<&AcceptedValue<MachineOperation<M>>> {
        if slot == Slot::ZERO {
            return None;
        }
        self.accepted.get(slot.position())?.as_ref()
    }
    /// The last slot the acceptor accepted anything at (0 when none).
    pub fn last_accepted_slot(&self) -> Slot {
        Slot(self.accepted.len() as u64)
    }
    /// Every slot up to here is known decided.
    pub fn decided(&self) -> Slot {
        self.decided
    }
    /// Every slot up to here is applied to the state machine.
    pub fn applied(&self) -> Slot {
        self.applied
    }
    /// The replicated state machine.
    pub fn state_machine(&self) -> &Sessions<M> {
        &self.kv
    }
    /// Where this node believes the leader is.
    pub fn leader_hint(&self) -> Option<NodeId> {
        self.leader_hint
    }
    /// The planted bug this node runs with, if any.
    pub fn bug(&self) -> Option<Bug> {
        self.bug
    }
    /// What this node did in its latest handler call (see [`Observation`]).
    pub fn observations(&self) -> &[Observation] {
        &self.observations
    }
    /// The leader's next slot to send `peer`, or `None` when this node does not lead.
    pub fn next_slot(&self, peer: NodeId) -> Option<Slot> {
        match &self.role {
            RoleState::Leader(leader) => Some(leader.next[peer.index()]),
            _ => None,
        }
    }

    fn peers(&self) -> impl Iterator<Item = NodeId> {
        let id = self.id;
        (0..self.node_count)
            .map(NodeId)
            .filter(move |peer| *peer != id)
    }

    fn quorum(&self) -> usize {
        self.node_count as usize / 2 + 1
    }

    /// Records `value` as accepted at `slot` in `ballot` (in memory; the caller persists).
    fn store_accepted(&mut self, slot: Slot, ballot: Ballot, value: Value<MachineOperation<M>>) {
        let position = slot.position();
        self.observations.push(Observation::Accepted {
            ballot,
            slot,
            value: value.id(),
        });
        let accepted = Some(AcceptedValue { ballot, value });
        if position < self.accepted.len() {
            self.accepted[position] = accepted;
            return;
        }
        make_room(&mut self.accepted, position + 1);
        self.accepted.resize_with(position, || None);
        self.accepted.push(accepted);
    }

    /// Marks `slot`, the one after the decided prefix, decided: the value this node's acceptor
    /// holds there is the chosen one. The caller applies it in the same handler.
    fn mark_decided(&mut self, slot: Slot) {
        assert_eq!(slot, self.decided.next(), "slots are decided in order");
        self.decided = slot;
    }

    /// Raises the promise to `ballot` in memory (the caller persists); the slots accepted in
    /// the old promise no longer count toward `ballot_prefix`.
    fn raise_promise(&mut self, ballot: Ballot) {
        if ballot > self.promised {
            self.promised = ballot;
            self.ballot_prefix = self.decided;
        }
        self.round_seen = self.round_seen.max(ballot.round);
    }
}

/// Transitions between roles.
impl<M: StateMachine> Paxos<M> {
    /// Becomes (or stays) a follower, believing `leader` leads. A leader answers its pending
    /// requests `Indeterminate`: their slots may yet be decided with their values by the next
    /// leader, or filled with others.
    fn become_follower(&mut self, context: &mut Context<Self>, leader: Option<NodeId>) {
        match std::mem::replace(&mut self.role, RoleState::Follower) {
            RoleState::Leader(leader_state) => {
                for (_, pending) in &leader_state.pending {
                    let response = Response {
                        request: pending.request,
                        answer: Answer::Indeterminate(
                            "the leader was preempted before the slot was decided".into(),
                        ),
                    };
                    context.reply(pending.client, response);
                }
                context.cancel_timer(Timer::Heartbeat);
                context.cancel_timer(Timer::CheckQuorum);
                self.reset_election_timer(context);
            }
            RoleState::Candidate(_) => context.cancel_timer(Timer::Heartbeat),
            RoleState::Follower => {}
        }
        self.leader_hint = leader;
    }

    /// Restarts the election timeout (see [`ElectionTimer`]). Its range is the randomized
    /// back-off: the simulator draws it, so runs stay reproducible.
    fn reset_election_timer(&mut self, context: &mut Context<Self>) {
        self.election_timer.restarted_at = context.now();
        if self.election_timer.armed {
            self.election_timer.restarted = true;
            return;
        }
        context.set_timer_range(
            Timer::Election,
            self.options.election_timeout_min,
            self.options.election_timeout_max,
        );
        self.election_timer = ElectionTimer {
            armed: true,
            restarted: false,
            restarted_at: context.now(),
        };
    }

    /// The armed timer fired, but the timeout was restarted since it was set: wait for the rest
    /// of a timeout counted from the restart.
    fn rearm_election_timer(&mut self, context: &mut Context<Self>) {
        let elapsed = context
            .now()
            .saturating_since(self.election_timer.restarted_at);
        let high = SimDuration(
            self.options
                .election_timeout_max
                .0
                .saturating_sub(elapsed.0),
        );
        let low = SimDuration(
            self.options
                .election_timeout_min
                .0
                .saturating_sub(elapsed.0),
        );
        context.set_timer_range(Timer::Election, low, high);
        self.election_timer.armed = true;
        self.election_timer.restarted = false;
    }

    /// Check-quorum: a leader that has not heard from a majority within an election timeout
    /// steps down, so clients stop waiting on it and try the other side of a partition.
    fn check_quorum(&mut self, context: &mut Context<Self>) {
        let quorum = self.quorum();
        let RoleState::Leader(leader) = &mut self.role else {
            unreachable!("only leaders check their quorum");
        };
        let heard_count = 1 + leader.heard_from.iter().filter(|heard| **heard).count();
        if heard_count < quorum {
            self.become_follower(context, None);
            return;
        }
        leader
            .heard_from
            .iter_mut()
            .for_each(|heard| *heard = false);
        context.set_timer(Timer::CheckQuorum, self.options.election_timeout_max);
    }

    fn persist_promise(&self, context: &mut Context<Self>) {
        context.persist(Update::Promise {
            ballot: self.promised,
        });
    }
}
