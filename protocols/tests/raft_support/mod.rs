//! A tiny in-test cluster: Raft nodes, a network the test drives message by message, disks that
//! are durable at once, and the invariant checker run after every step.
//!
//! Nothing here is random unless a test asks: messages wait in flight until the test delivers,
//! drops or duplicates them, and timers fire only when the test fires them. That makes elections,
//! conflicts and the Figure 8 situation reproducible step by step.

#![allow(dead_code)]

use protocols::raft::{Durable, LogIndex, Message, Options, Raft, RaftInvariants, Term, Timer};
use sim::invariants::{Invariants, Violation};
use sim::protocol::{
    ClientId, Context, Effect, MembershipChange, NodeConfig, NodeId, Protocol, RequestId, Role,
};
use sim::service::{Answer, Request};
use sim::time::SimTime;
use sim::workload::register::Operation;

/// Hands `request` to `raft` as its client sent it.
trait Submit {
    fn submit(&mut self, context: &mut Context<Raft>, request: Request<Operation>);
}

impl Submit for Raft {
    fn submit(&mut self, context: &mut Context<Raft>, request: Request<Operation>) {
        let client = request.client;
        self.on_client_request(context, client, request)
    }
}

/// A message in flight.
#[derive(Clone, Debug)]
pub struct Envelope {
    /// Sender.
    pub source: NodeId,
    /// Receiver.
    pub target: NodeId,
    /// Payload.
    pub message: Message,
}

/// A cluster of Raft nodes driven one step at a time.
pub struct Cluster {
    pub nodes: Vec<Option<Raft>>,
    pub disks: Vec<Durable>,
    pub in_flight: Vec<Envelope>,
    pub replies: Vec<(RequestId, Answer<Option<i64>>)>,
    /// Timers armed per node (setting replaces, cancelling removes).
    pub timers: Vec<Vec<Timer>>,
    /// `connected[a][b]`: messages from a to b are delivered (else dropped when sent).
    pub connected: Vec<Vec<bool>>,
    pub options: Options,
    pub bug: Option<&'static str>,
    pub invariants: RaftInvariants,
    pub violation: Option<Violation>,
    pub next_request: u64,
    /// The cluster's clock (every node's clocks read it): it stands still except when an
    /// election timer fires, so a server that heard from its leader ignores
    /// `RequestVote` until then (dissertation §4.2.3).
    pub now: SimTime,
}

impl Cluster {
    /// `node_count` correct nodes, all followers in term 0.
    pub fn new(node_count: u32) -> Cluster {
        Cluster::with_bug(node_count, None)
    }

    /// `node_count` nodes running with `bug` planted.
    pub fn with_bug(node_count: u32, bug: Option<&'static str>) -> Cluster {
        Cluster::with_options(node_count, bug, Options::default())
    }

    /// `node_count` nodes running with `options` and `bug` planted.
    pub fn with_options(node_count: u32, bug: Option<&'static str>, options: Options) -> Cluster {
        let size = node_count as usize;
        let mut cluster = Cluster {
            nodes: (0..size).map(|_| None).collect(),
            disks: vec![Durable::default(); size],
            in_flight: Vec::new(),
            replies: Vec::new(),
            timers: vec![Vec::new(); size],
            connected: vec![vec![true; size]; size],
            options,
            bug,
            invariants: RaftInvariants::new(),
            violation: None,
            next_request: 1,
            now: SimTime::ZERO,
        };
        for id in 0..node_count {
            cluster.start(NodeId(id), false);
        }
        cluster
    }

    pub fn node_count(&self) -> u32 {
        self.nodes.len() as u32
    }

    /// The running node `id`.
    pub fn node(&self, id: u32) -> &Raft {
        self.nodes[id as usize].as_ref().expect("node is running")
    }

    fn start(&mut self, id: NodeId, from_disk: bool) {
        let options = self.options.clone();
        let config = NodeConfig {
            id,
            node_count: self.node_count(),
            options: &options,
            bug: self.bug,
        };
        let mut context = Context::new(id, self.node_count(), self.now);
        let durable = from_disk.then(|| self.disks[id.index()].clone());
        let raft = <Raft>::start(&config, durable.as_ref(), &mut context);
        self.nodes[id.index()] = Some(raft);
        self.apply_effects(id, context);
    }

    /// Runs one handler on node `id` and applies what it pushed.
    pub fn step(&mut self, id: u32, handler: impl FnOnce(&mut Raft, &mut Context<Raft>)) {
        let node = NodeId(id);
        let mut context = Context::new(node, self.node_count(), self.now);
        let Some(raft) = self.nodes[node.index()].as_mut() else {
            return;
        };
        handler(raft, &mut context);
        self.apply_effects(node, context);
    }

    fn apply_effects(&mut self, id: NodeId, mut context: Context<Raft>) {
        for effect in context.drain_effects() {
            match effect {
                Effect::Send { target, message } => {
                    if self.connected[id.index()][target.index()] {
                        self.in_flight.push(Envelope {
                            source: id,
                            target,
                            message,
                        });
                    }
                }
                Effect::SetTimer { timer, .. } => {
                    let timers = &mut self.timers[id.index()];
                    if !timers.contains(&timer) {
                        timers.push(timer);
                    }
                }
                Effect::CancelTimer { timer } => self.timers[id.index()].retain(|t| *t != timer),
                Effect::Persist { update } => {
                    <Raft>::apply_update(&mut self.disks[id.index()], update)
                }
                Effect::Reply { response, .. } => {
                    self.replies.push((response.request, response.answer))
                }
                Effect::Moment { .. } => {}
            }
        }
        self.check(Some(id));
    }

    fn check(&mut self, touched: Option<NodeId>) {
        if self.violation.is_some() {
            return;
        }
        if let Err(violation) = self.invariants.after_event(self.now, touched, &self.nodes) {
            self.violation = Some(violation);
        }
    }

    /// Hands a membership change to every running node, as the engine does.
    pub fn change_membership(&mut self, change: MembershipChange) {
        for id in 0..self.node_count() {
            self.step(id, |raft, context| {
                raft.on_membership_change(context, change)
            });
        }
    }

    /// Fires `timer` on node `id` (whether or not it is armed, as a late timer would). An
    /// election timeout that elapses moves the cluster's clock on by the longest timeout.
    pub fn fire(&mut self, id: u32, timer: Timer) {
        if timer == Timer::Election {
            self.now += self.options.election_timeout_max;
        }
        self.timers[id as usize].retain(|t| *t != timer);
        self.step(id, |raft, context| raft.on_timer(context, timer));
    }

    /// Delivers the in-flight message at `position`.
    pub fn deliver_at(&mut self, position: usize) {
        let envelope = self.in_flight.remove(position);
        let source = envelope.source;
        self.step(envelope.target.0, |raft, context| {
            raft.on_message(context, source, envelope.message)
        });
    }

    /// Delivers the first message in flight that `select` picks; returns whether there was one.
    pub fn deliver_where(&mut self, select: impl Fn(&Envelope) -> bool) -> bool {
        match self.in_flight.iter().position(select) {
            Some(position) => {
                self.deliver_at(position);
                true
            }
            None => false,
        }
    }

    /// Delivers messages in the order they were sent until none is in flight.
    pub fn deliver_all(&mut self) {
        for _ in 0..100_000 {
            if self.in_flight.is_empty() {
                return;
            }
            self.deliver_at(0);
        }
        panic!("the network never went quiet");
    }

    /// Drops every in-flight message `select` picks.
    pub fn drop_where(&mut self, select: impl Fn(&Envelope) -> bool) {
        self.in_flight.retain(|envelope| !select(envelope));
    }

    /// Cuts every link to and from `id`.
    pub fn isolate(&mut self, id: u32) {
        for other in 0..self.nodes.len() {
            self.connected[id as usize][other] = false;
            self.connected[other][id as usize] = false;
        }
        self.drop_where(|envelope| envelope.source.0 == id || envelope.target.0 == id);
    }

    /// Restores every link.
    pub fn heal(&mut self) {
        for row in &mut self.connected {
            row.iter_mut().for_each(|link| *link = true);
        }
    }

    /// Restores the links between `a` and `b`, both ways.
    pub fn heal_link(&mut self, a: u32, b: u32) {
        self.connected[a as usize][b as usize] = true;
        self.connected[b as usize][a as usize] = true;
    }

    /// Crashes node `id`: its volatile state and timers are gone, its disk stays.
    pub fn crash(&mut self, id: u32) {
        self.nodes[id as usize] = None;
        self.timers[id as usize].clear();
        self.check(Some(NodeId(id)));
    }

    /// Restarts a crashed node from its disk.
    pub fn restart(&mut self, id: u32) {
        assert!(
            self.nodes[id as usize].is_none(),
            "restart of a running node"
        );
        self.start(NodeId(id), true);
    }

    /// Lets node `id`'s election timeout elapse in silence, so that it campaigns. (A first
    /// firing may only re-arm the timer if the node heard from a leader since it was set.)
    pub fn time_out(&mut self, id: u32) {
        let term = self.node(id).current_term();
        for _ in 0..2 {
            self.fire(id, Timer::Election);
            if self.node(id).current_term() > term {
                return;
            }
        }
        panic!("n{id} did not campaign");
    }

    /// Makes `id` campaign and delivers everything until the network is quiet.
    pub fn elect(&mut self, id: u32) {
        self.time_out(id);
        self.deliver_all();
        assert!(self.node(id).is_leader(), "n{id} did not win the election");
    }

    /// Sends a client request to node `id`; returns its id.
    pub fn request(&mut self, id: u32, operation: Operation) -> RequestId {
        let request_id = RequestId(self.next_request);
        self.next_request += 1;
        self.resend(id, request_id, operation);
        request_id
    }

    /// Sends (again) request `request_id` from client 0 to node `id`.
    pub fn resend(&mut self, id: u32, request_id: RequestId, operation: Operation) {
        let request = Request {
            id: request_id,
            client: ClientId(0),
            operation,
        };
        self.step(id, |raft, context| raft.submit(context, request));
    }

    /// Every answer given to `request`, in order.
    pub fn replies_to(&self, request: RequestId) -> Vec<Answer<Option<i64>>> {
        self.replies
            .iter()
            .filter(|(id, _)| *id == request)
            .map(|(_, response)| response.clone())
            .collect()
    }

    /// The violation found so far, as its property name.
    pub fn violated_property(&self) -> Option<&str> {
        self.violation
            .as_ref()
            .map(|violation| violation.property.as_str())
    }

    /// Panics with the violation if there is one.
    pub fn assert_safe(&self) {
        if let Some(violation) = &self.violation {
            panic!("invariant violated: {violation}");
        }
    }
}

/// A write of `value` to key 1.
pub fn write(value: i64) -> Operation {
    Operation::Write { key: 1, value }
}

/// A read of key 1.
pub fn read() -> Operation {
    Operation::Read { key: 1 }
}

/// Whether `envelope` is from `source` to `target`.
pub fn link(envelope: &Envelope, source: u32, target: u32) -> bool {
    envelope.source.0 == source && envelope.target.0 == target
}

/// Whether `envelope` carries a `RequestVote` or its reply.
pub fn is_vote(envelope: &Envelope) -> bool {
    matches!(
        envelope.message,
        Message::RequestVote(_) | Message::RequestVoteReply(_)
    )
}

impl Cluster {
    /// Delivers vote requests and replies, in order, until none is in flight; everything else
    /// stays in flight.
    pub fn deliver_votes(&mut self) {
        while self.deliver_where(is_vote) {}
    }

    /// Delivers the first message from `source` to `target`, then the first reply back.
    pub fn round_trip(&mut self, source: u32, target: u32) {
        assert!(self.deliver_where(|envelope| link(envelope, source, target)));
        assert!(self.deliver_where(|envelope| link(envelope, target, source)));
    }

    /// A heartbeat round from the leader `id`, delivered in full.
    pub fn heartbeat(&mut self, id: u32) {
        self.fire(id, Timer::Heartbeat);
        self.deliver_all();
    }
}

/// Builds Figure 8 of the paper on five servers (n0..n4 stand for S1..S5) up to (c): n0, leader
/// of term 4, has replicated the term-2 entry at index 2 to a majority (n0, n1, n2) but no
/// entry of its own term. Returns the cluster at that point.
pub fn figure_8_until_c(bug: Option<&'static str>) -> Cluster {
    let mut cluster = Cluster::with_bug(5, bug);
    // Index 1, term 1, on every server.
    cluster.elect(1);
    cluster.request(1, write(1));
    cluster.deliver_all();
    cluster.heartbeat(1);
    // (a) n0 leads term 2 and replicates index 2 only to n1.
    cluster.elect(0);
    assert_eq!(cluster.node(0).current_term(), Term(2));
    cluster.request(0, write(2));
    cluster.round_trip(0, 1);
    cluster.in_flight.clear();
    // (b) n0 crashes; n4 wins term 3 with n2's and n3's votes and appends index 2 of term 3.
    cluster.crash(0);
    cluster.time_out(4);
    cluster.deliver_votes();
    assert!(cluster.node(4).is_leader() && cluster.node(4).current_term() == Term(3));
    cluster.request(4, write(3));
    cluster.in_flight.clear();
    // (c) n4 crashes; n0 restarts and wins term 4 (term 3 is lost to n4's voters), then
    // replicates index 2 (term 2) to n2. With n1, a majority now stores it.
    cluster.crash(4);
    cluster.restart(0);
    cluster.time_out(0);
    cluster.deliver_votes();
    assert_eq!(
        cluster.node(0).role(),
        Role::Candidate,
        "term 3 votes went to n4"
    );
    cluster.time_out(0);
    cluster.deliver_votes();
    assert!(cluster.node(0).is_leader() && cluster.node(0).current_term() == Term(4));
    cluster.round_trip(0, 1);
    cluster.round_trip(0, 2);
    cluster.round_trip(0, 2);
    assert_eq!(cluster.node(2).log().term_at(LogIndex(2)), Some(Term(2)));
    cluster
}
