//! One Raft server: the state of Figure 2 and the handlers that move it.
//!
//! This file holds the server's state, its entry points (the `Protocol` trait) and the role
//! transitions of Figure 4; `election.rs` holds `RequestVote`, `pre_vote.rs` the optional
//! `PreVote`, and `replication.rs` `AppendEntries`, the commit rule and check-quorum.
//!
//! Every handler opens with its guards (stale terms, wrong role), then does one rule of the
//! paper, citing it. Effects are pushed in the order the paper requires: a persist before the
//! message or reply that depends on it, because the simulator holds a message until the persist
//! pushed before it is durable.

use super::bugs::Bug;
use super::configuration::Configuration;
use super::durable::{Durable, Snapshot, Update};
use super::log::{Log, LogIndex, Term};
use super::messages::Message;
use super::options::{Options, Reads};
use sim::protocol::{
    ClientId, Context, MembershipChange, NodeConfig, NodeId, NodeView, Protocol, RequestId, Role,
};
use sim::service::{
    Answer, FollowLeader, MachineOperation, MachineOutput, Request, Response, Sessions,
    StateMachine,
};
use sim::time::{SimDuration, SimTime};
use sim::workload::register::Registers;
use std::collections::BTreeMap;

mod election;
mod membership;
mod pre_vote;
mod reads;
mod replication;
mod snapshots;

/// The largest cluster a Raft node supports (the engine's limit too).
pub const NODE_COUNT_MAX: usize = 64;

/// The timers of a Raft node. Setting one that runs restarts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// Followers and candidates: no leader heard from in time, start an election (Raft §5.2).
    Election,
    /// Leaders: send `AppendEntries` to every follower. Candidates: retry `RequestVote` (or
    /// `PreVote`) to peers that have not answered (Raft §5.1, "servers retry RPCs if they do not
    /// receive a response").
    Heartbeat,
    /// Leaders with check-quorum: step down unless a majority answered since the last check.
    CheckQuorum,
}

/// A client request a leader appended and will answer once the entry is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PendingRequest {
    request: RequestId,
    client: ClientId,
}

/// Volatile state of a leader (Figure 2), reinitialized after each election.
#[derive(Clone, Debug, PartialEq, Eq)]
struct LeaderState<O> {
    /// For each server, the index of the next entry to send it. Advanced optimistically when
    /// entries are sent, so each entry goes out once rather than with every later request, and
    /// moved back on a rejection (a lost message shows up as the next heartbeat's rejection).
    next_index: Vec<LogIndex>,
    /// For each server, the highest index known to be replicated on it.
    match_index: Vec<LogIndex>,
    /// For each server, the `AppendEntries` sent to it since its last reply or the last
    /// heartbeat: the pipelining window (dissertation §10.2.2) allows at most
    /// `append_entries_in_flight_max` before new entries wait for the next send.
    in_flight: Vec<usize>,
    /// For check-quorum: which servers answered since the last check.
    heard_from: Vec<bool>,
    /// Client requests awaiting commit, by the index of their entry.
    pending: BTreeMap<LogIndex, PendingRequest>,
    /// Reads served without the log (dissertation §6.4), when the options ask for it.
    reads: reads::ReadState<O>,
    /// A server being caught up before it is added (dissertation §4.2.1).
    catch_up: Option<Box<membership::CatchUp>>,
    /// Whether the last catch-up was abandoned: removals waiting go first.
    addition_abandoned: bool,
}

/// Volatile state of a candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
struct CandidateState {
    /// Who granted their vote this term (the candidate votes for itself).
    votes: Vec<bool>,
    /// Who answered at all, so retries go only to the silent.
    answered: Vec<bool>,
    /// Granting replies received, duplicates included (only the `count-duplicate-votes` bug
    /// counts these instead of voters).
    grants: usize,
}

/// What a node is doing, with the state only that role has (Raft §5.1, Figure 4).
#[derive(Clone, Debug, PartialEq, Eq)]
enum RoleState<O> {
    Follower,
    /// Asking for pre-votes, still in its old term (with the `pre_vote` option).
    PreCandidate(CandidateState),
    Candidate(CandidateState),
    Leader(LeaderState<O>),
}

/// One Raft server with its key-value state machine.
#[derive(Clone, Debug)]
pub struct Raft<M: StateMachine = Registers> {
    id: NodeId,
    node_count: u32,
    options: Options,
    bug: Option<Bug>,
    // Persistent state on all servers (Figure 2), written to disk through `Update`s.
    current_term: Term,
    voted_for: Option<NodeId>,
    log: Log<MachineOperation<M>>,
    // Volatile state on all servers (Figure 2).
    commit_index: LogIndex,
    last_applied: LogIndex,
    leader_hint: Option<NodeId>,
    role: RoleState<MachineOperation<M>>,
    kv: Sessions<M>,
    election_timer: ElectionTimer,
    /// Local time this node last heard from a leader of its term, for pre-vote.
    leader_contact_at: Option<SimTime>,
    /// The latest snapshot this node took or installed (log compaction, dissertation ch. 5).
    snapshot: Option<Snapshot>,
    /// The latest configuration in this server's log, committed or not (dissertation §4.1):
    /// the servers whose majorities count.
    configuration: Configuration,
    /// The index of the entry holding `configuration` (at or below the snapshot's last index
    /// when the snapshot, or the initial configuration, stands for it).
    configuration_index: LogIndex,
    /// The configuration every server starts with (`initial_members`).
    initial_configuration: Configuration,
    /// The configuration this server was asked to reach by membership changes; a leader moves
    /// the cluster towards it one server at a time (volatile: a restarted server aims at the
    /// configuration in its log).
    wanted: Configuration,
}

/// The election timeout, restarted lazily. Followers restart it on every `AppendEntries`; setting
/// a simulator timer each time would queue one event per message. Instead a restart only records
/// when it happened, and when the armed timer fires early it is re-armed for what remains of a
/// timeout counted from the restart: the timeout still elapses between `election_timeout_min`
/// and `election_timeout_max` after the last restart, as Figure 2 asks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct ElectionTimer {
    /// Whether an `Election` timer is set in the simulator.
    armed: bool,
    /// Whether the timeout was restarted after the armed timer was set.
    restarted: bool,
    /// Local time of the last restart.
    restarted_at: SimTime,
}

impl<M: StateMachine> Protocol for Raft<M> {
    type Workload = M::Workload;
    type Message = Message<MachineOperation<M>>;
    type Request = Request<MachineOperation<M>>;
    type Response = Response<MachineOutput<M>>;
    type Client = FollowLeader<M::Workload>;
    type Timer = Timer;
    type Durable = Durable<MachineOperation<M>>;
    type Update = Update<MachineOperation<M>>;
    type Options = Options;

    const NAME: &'static str = "raft";
    const BUGS: &'static [&'static str] = &Bug::NAMES;
    const MEMBERSHIP_CHANGES: bool = true;

    fn start(
        config: &NodeConfig<'_, Options>,
        durable: Option<&Self::Durable>,
        context: &mut Context<Self>,
    ) -> Self {
        config.options.validate();
        assert!(
            config.node_count as usize <= NODE_COUNT_MAX,
            "raft supports at most {NODE_COUNT_MAX} nodes"
        );
        let bug = config.bug.map(|name| {
            Bug::from_name(name).unwrap_or_else(|| {
                panic!("raft has no planted bug {name:?} (known: {:?})", Bug::NAMES)
            })
        });
        // Raft §5.2 and Figure 2: a restarting server recovers term, vote and log from disk;
        // everything else (commit index, state machine) is rebuilt from the log — after the
        // snapshot, if there is one (dissertation §5.1), from which it starts.
        let durable = durable.cloned().unwrap_or_default();
        let (log, kv, applied) = match &durable.snapshot {
            Some(snapshot) => (
                Log::from_snapshot(snapshot.last_index, snapshot.last_term, durable.log),
                Self::snapshot_state(snapshot),
                snapshot.last_index,
            ),
            None => (
                Log::from_entries(durable.log),
                Sessions::new(),
                LogIndex::ZERO,
            ),
        };
        let members = config
            .options
            .initial_members
            .map_or(config.node_count, |members| members.min(config.node_count));
        let initial_configuration = Configuration::first(members);
        let mut raft = Raft {
            id: config.id,
            node_count: config.node_count,
            options: config.options.clone(),
            bug,
            current_term: durable.current_term,
            voted_for: durable.voted_for,
            log,
            commit_index: applied,
            last_applied: applied,
            leader_hint: None,
            role: RoleState::Follower,
            kv,
            election_timer: ElectionTimer::default(),
            leader_contact_at: None,
            snapshot: durable.snapshot,
            configuration: initial_configuration,
            configuration_index: LogIndex::ZERO,
            initial_configuration,
            wanted: initial_configuration,
        };
        // Dissertation §4.1: the latest configuration in the log (or the snapshot's) is in force.
        raft.refresh_configuration();
        raft.wanted = raft.configuration;
        // Raft §5.2: servers start as followers and wait one election timeout for a leader.
        raft.reset_election_timer(context);
        if raft.options.reads == Reads::Lease {
            // Dissertation §6.4.1: a server may have acknowledged a leader's lease just before
            // it crashed; it keeps the promise not to vote for a minimum election timeout.
            raft.leader_contact_at = Some(context.now());
        }
        raft
    }

    fn on_message(&mut self, context: &mut Context<Self>, source: NodeId, message: Self::Message) {
        assert!(
            source != self.id && source.0 < self.node_count,
            "message from {source}"
        );
        self.maybe_snapshot(context);
        // Dissertation §4.2.3 (and §6.4.1): with check-quorum, a server that heard from a leader
        // within the minimum election timeout neither adopts a candidate's term nor votes.
        if matches!(message, Message::RequestVote(_)) && self.ignores_request_vote(context) {
            return;
        }
        // Raft §5.1: a message from a later term makes this node a follower of that term first.
        if let Some(term) = message.term_to_adopt() {
            if term > self.current_term {
                self.become_follower(context, term, None);
            }
        }
        match message {
            Message::RequestVote(message) => self.handle_request_vote(context, source, message),
            Message::RequestVoteReply(message) => {
                self.handle_request_vote_reply(context, source, message)
            }
            Message::AppendEntries(message) => self.handle_append_entries(context, source, message),
            Message::AppendEntriesReply(message) => {
                self.handle_append_entries_reply(context, source, message)
            }
            Message::PreVote(message) => self.handle_pre_vote(context, source, message),
            Message::PreVoteReply(message) => self.handle_pre_vote_reply(context, source, message),
            Message::Heartbeat(message) => self.handle_heartbeat(context, source, message),
            Message::HeartbeatReply(message) => {
                self.handle_heartbeat_reply(context, source, message)
            }
            Message::InstallSnapshot(message) => {
                self.handle_install_snapshot(context, source, message)
            }
        }
    }

    fn on_timer(&mut self, context: &mut Context<Self>, timer: Timer) {
        self.maybe_snapshot(context);
        match (timer, &self.role) {
            (Timer::Election, _) if self.is_leader() => {}
            (Timer::Election, _) => {
                self.election_timer.armed = false;
                if self.election_timer.restarted {
                    self.rearm_election_timer(context);
                } else if !self.may_campaign() {
                    self.reset_election_timer(context);
                } else if self.options.pre_vote && self.quorum() > 1 {
                    self.become_pre_candidate(context);
                } else {
                    self.become_candidate(context);
                }
            }
            (Timer::Heartbeat, RoleState::Leader(_)) => {
                self.broadcast_heartbeat(context);
                self.heartbeat_reads(context);
                self.advance_catch_up(context);
                self.maybe_change_configuration(context);
                context.set_timer(Timer::Heartbeat, self.options.heartbeat_interval);
            }
            (Timer::Heartbeat, RoleState::Candidate(_) | RoleState::PreCandidate(_)) => {
                self.retry_request_vote(context);
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
        self.maybe_snapshot(context);
        // Raft §8: only the leader serves clients; others point at the leader they know of.
        if !self.is_leader() {
            let response = Response {
                request: request.id,
                answer: Answer::Redirect(self.leader_hint),
            };
            context.reply(client, response);
            return;
        }
        if self.bug == Some(Bug::StaleLocalRead) {
            if let Some(output) = self.kv.machine().query(&request.operation) {
                // Bug (Raft §8): a deposed leader that does not know it yet answers reads from
                // its possibly stale state machine.
                let response = Response {
                    request: request.id,
                    answer: Answer::Ok(output),
                };
                context.reply(client, response);
                return;
            }
        }
        if let Some(request) = self.serve_read(context, request) {
            self.append_client_request(context, request);
        }
    }

    /// Dissertation ch. 4: every server remembers the configuration it was asked to reach; a
    /// leader moves the cluster there, one server at a time.
    fn on_membership_change(&mut self, context: &mut Context<Self>, change: MembershipChange) {
        self.maybe_snapshot(context);
        let wanted = match change {
            MembershipChange::Add(node) => self.wanted.with(node),
            MembershipChange::Remove(node) => self.wanted.without(node),
        };
        // A configuration of nobody cannot elect anyone: the last server stays.
        if !wanted.is_empty() {
            self.wanted = wanted;
        }
        self.maybe_change_configuration(context);
    }

    fn apply_update(durable: &mut Self::Durable, update: Self::Update) {
        durable.apply(update);
    }

    fn view(&self) -> NodeView {
        NodeView {
            role: self.role(),
            term: self.current_term.0,
            commit_index: self.commit_index.0,
            leader_hint: self.leader_hint,
        }
    }

    fn check_options(options: &Options) -> Result<(), String> {
        options.check()
    }

    /// The read and snapshot bugs live in paths only their options turn on.
    fn bug_can_act(bug: &str, options: &Options) -> bool {
        match Bug::from_name(bug) {
            Some(Bug::ReadIndexUnconfirmed) => options.reads == Reads::ReadIndex,
            Some(Bug::LeaseIgnoresDrift) => options.reads == Reads::Lease,
            Some(Bug::SnapshotWithoutSessions) => options.snapshot_entries_max > 0,
            // Membership bugs act only when servers are added or removed; which scenarios ask
            // for that, the options cannot tell: they may act wherever spare servers exist.
            Some(Bug::TwoChangesAtOnce) => options.initial_members.is_some(),
            _ => true,
        }
    }

    fn activity(&self) -> &'static str {
        match &self.role {
            RoleState::Leader(_) if self.commit_index < self.log.last_index() => {
                "leading, entries in flight"
            }
            RoleState::Leader(_) => "leading, idle",
            _ => match self.role() {
                Role::Candidate => "electing",
                _ => "following",
            },
        }
    }

    fn message_kind(message: &Self::Message) -> &'static str {
        message.kind()
    }

    fn message_bytes(message: &Self::Message) -> u64 {
        message.encoded_size()
    }
}

/// Read-only accessors, for invariant checkers and tests.
impl<M: StateMachine> Raft<M> {
    /// This server's id.
    pub fn id(&self) -> NodeId {
        self.id
    }
    /// Leader, follower or candidate.
    pub fn role(&self) -> Role {
        match self.role {
            RoleState::Follower => Role::Follower,
            RoleState::PreCandidate(_) | RoleState::Candidate(_) => Role::Candidate,
            RoleState::Leader(_) => Role::Leader,
        }
    }
    /// Whether this server believes it is the leader of its current term.
    pub fn is_leader(&self) -> bool {
        matches!(self.role, RoleState::Leader(_))
    }
    /// The latest term this server has seen.
    pub fn current_term(&self) -> Term {
        self.current_term
    }
    /// Whom this server voted for in its current term.
    pub fn voted_for(&self) -> Option<NodeId> {
        self.voted_for
    }
    /// The server's log.
    pub fn log(&self) -> &Log<MachineOperation<M>> {
        &self.log
    }
    /// The state machine as this node has applied the log so far.
    pub fn state_machine(&self) -> &M {
        self.kv.machine()
    }
    /// The highest index known to be committed.
    pub fn commit_index(&self) -> LogIndex {
        self.commit_index
    }
    /// The highest index applied to the state machine.
    pub fn last_applied(&self) -> LogIndex {
        self.last_applied
    }
    /// Where this server believes the leader is.
    pub fn leader_hint(&self) -> Option<NodeId> {
        self.leader_hint
    }
    /// The planted bug this server runs with, if any.
    pub fn bug(&self) -> Option<Bug> {
        self.bug
    }
    /// The leader's `matchIndex` for `peer`, or `None` when this server is not leader.
    pub fn match_index(&self, peer: NodeId) -> Option<LogIndex> {
        match &self.role {
            RoleState::Leader(leader) => Some(leader.match_index[peer.index()]),
            _ => None,
        }
    }
    /// The leader's `nextIndex` for `peer`, or `None` when this server is not leader.
    pub fn next_index(&self, peer: NodeId) -> Option<LogIndex> {
        match &self.role {
            RoleState::Leader(leader) => Some(leader.next_index[peer.index()]),
            _ => None,
        }
    }

    /// The configuration in force: the latest in this server's log (dissertation §4.1).
    pub fn configuration(&self) -> Configuration {
        self.configuration
    }
    /// The index of the entry holding the configuration in force (at or below the snapshot's
    /// last index when the snapshot or the initial configuration stands for it).
    pub fn configuration_index(&self) -> LogIndex {
        self.configuration_index
    }
    /// The configuration this server was asked to reach.
    pub fn wanted_configuration(&self) -> Configuration {
        self.wanted
    }

    /// A server outside its configuration (a spare, or removed) does not campaign once it
    /// knows that configuration committed: nobody would count its vote (dissertation §4.2.2).
    /// While the configuration that leaves it out is uncommitted it still may: its log may be
    /// the only one that can win (it was the leader that appended the change and lost touch),
    /// and as leader it commits the change without counting itself, then steps down.
    fn may_campaign(&self) -> bool {
        self.configuration.contains(self.id) || self.configuration_index > self.commit_index
    }

    /// The other voting servers of this server's configuration, in id order (without borrowing
    /// `self`, so handlers can send while iterating).
    fn peers(&self) -> impl Iterator<Item = NodeId> {
        self.configuration.without(self.id).members()
    }

    /// A majority of the configuration in force (dissertation §4.1).
    fn quorum(&self) -> usize {
        self.configuration.quorum()
    }

    /// Whether the voters of the configuration in force for which `counted` holds are a
    /// majority of it (this server counts only if it is one of them, §4.2.2).
    fn is_majority(&self, counted: impl Fn(NodeId) -> bool) -> bool {
        self.configuration.has_majority(counted)
    }
}

/// Transitions between roles (Figure 4).
impl<M: StateMachine> Raft<M> {
    /// Steps down (or stays) a follower in `term`. A leader answers its pending requests
    /// `Indeterminate`: their entries may yet be committed by a later leader, or be overwritten.
    ///
    /// The election timer is armed only when leaving leadership (a leader has none running).
    /// Otherwise it keeps running: Figure 2 restarts it only for an `AppendEntries` from the
    /// current leader or a granted vote. Restarting it on every later term would let a server
    /// with a stale log, campaigning again and again, keep the up-to-date servers from ever
    /// timing out — a livelock.
    /// A message from `leader`, leading this node's `term`: Raft §5.2, a candidate that hears
    /// from the leader of its term returns to follower, and a follower restarts its election
    /// timeout; the contact is remembered for the disruptive-server rule (§4.2.3).
    pub(super) fn heard_from_leader(
        &mut self,
        context: &mut Context<Self>,
        term: Term,
        leader: NodeId,
    ) {
        assert!(
            !self.is_leader(),
            "Raft §5.2 election safety: two leaders in {}",
            self.current_term
        );
        self.become_follower(context, term, Some(leader));
        self.reset_election_timer(context);
        self.leader_contact_at = Some(context.now());
    }

    fn become_follower(&mut self, context: &mut Context<Self>, term: Term, leader: Option<NodeId>) {
        assert!(term >= self.current_term, "Raft §5.1: terms never go back");
        match std::mem::replace(&mut self.role, RoleState::Follower) {
            RoleState::Leader(leader_state) => {
                for pending in leader_state.pending.values() {
                    let response = Response {
                        request: pending.request,
                        answer: Answer::Indeterminate(
                            "the leader stepped down before the entry committed".into(),
                        ),
                    };
                    context.reply(pending.client, response);
                }
                Self::abandon_reads(&leader_state.reads, context);
                context.cancel_timer(Timer::Heartbeat);
                context.cancel_timer(Timer::CheckQuorum);
                self.reset_election_timer(context);
            }
            RoleState::Candidate(_) | RoleState::PreCandidate(_) => {
                context.cancel_timer(Timer::Heartbeat)
            }
            RoleState::Follower => {}
        }
        if term > self.current_term {
            // Figure 2: a new term starts with no vote cast; both are persisted before any
            // message this handler sends.
            self.current_term = term;
            self.voted_for = None;
            self.persist_hard_state(context);
        }
        self.leader_hint = leader;
    }

    /// Raft §5.2: a follower whose election timeout elapsed increments its term, votes for
    /// itself, and asks every other server for its vote.
    fn become_candidate(&mut self, context: &mut Context<Self>) {
        assert!(!self.is_leader(), "a leader does not campaign");
        self.current_term = self.current_term.next();
        self.voted_for = Some(self.id);
        self.leader_hint = None;
        self.persist_hard_state(context);
        let mut votes = vec![false; self.node_count as usize];
        votes[self.id.index()] = true;
        let answered = votes.clone();
        if let (Some(Bug::CountStaleVotes), RoleState::Candidate(previous)) = (self.bug, &self.role)
        {
            // Bug (Raft §5.2: votes are per term): the tally of the last election carries over.
            votes = previous.votes.clone();
        }
        self.role = RoleState::Candidate(CandidateState {
            votes,
            answered,
            grants: 1,
        });
        // Raft §5.2: a split vote ends when the (randomized) timeout elapses again.
        self.reset_election_timer(context);
        let id = self.id;
        if self.is_majority(|voter| voter == id) {
            self.become_leader(context);
            return;
        }
        let message = self.request_vote();
        for peer in self.peers() {
            context.send(peer, message.clone());
        }
        context.set_timer(Timer::Heartbeat, self.options.heartbeat_interval);
    }

    /// Raft §5.2: a candidate with votes from a majority becomes leader and at once sends
    /// heartbeats to establish its authority.
    fn become_leader(&mut self, context: &mut Context<Self>) {
        assert!(
            self.voted_for == Some(self.id),
            "a leader voted for itself in its term"
        );
        let node_count = self.node_count as usize;
        self.role = RoleState::Leader(LeaderState {
            // Figure 2: nextIndex starts just past the leader's last entry, matchIndex at 0.
            next_index: vec![self.log.last_index().next(); node_count],
            match_index: vec![LogIndex::ZERO; node_count],
            in_flight: vec![0; node_count],
            heard_from: vec![false; node_count],
            pending: BTreeMap::new(),
            reads: reads::ReadState::new(node_count),
            catch_up: None,
            addition_abandoned: false,
        });
        self.leader_hint = Some(self.id);
        context.cancel_timer(Timer::Election);
        self.election_timer.armed = false;
        self.broadcast_heartbeat(context);
        context.set_timer(Timer::Heartbeat, self.options.heartbeat_interval);
        if self.options.check_quorum {
            context.set_timer(Timer::CheckQuorum, self.options.election_timeout_max);
        }
    }

    /// Restarts the election timeout (see [`ElectionTimer`]).
    fn reset_election_timer(&mut self, context: &mut Context<Self>) {
        self.election_timer.restarted_at = context.now();
        if self.election_timer.armed {
            self.election_timer.restarted = true;
            return;
        }
        // Raft §5.2: randomized election timeouts make split votes rare; the simulator draws
        // the value, so runs stay reproducible.
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

    fn persist_hard_state(&self, context: &mut Context<Self>) {
        context.persist(Update::HardState {
            current_term: self.current_term,
            voted_for: self.voted_for,
        });
    }
}
