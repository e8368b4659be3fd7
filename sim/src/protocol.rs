//! The sans-IO protocol contract.
//!
//! A protocol is a pure state machine. It never reads a clock, draws a random number, sleeps,
//! spawns or does IO: the simulator calls one of its handlers and the handler mutates `self` and
//! pushes [`Effect`]s into a [`Context`]. Everything a handler may know about the world comes in
//! through its arguments and the context: its own id, the cluster size, and its node's two local
//! clocks: the **monotonic** clock ([`Context::now`]: drifts, never jumps; timers run on it) and
//! the **wall** clock ([`Context::wall_clock`]: offset, drift and jumps), see [`crate::clock`].
//!
//! Inputs: [`Protocol::start`] (with the durable state that survived a crash, if any),
//! [`Protocol::on_message`], [`Protocol::on_timer`], [`Protocol::on_client_request`], and for
//! protocols that change their membership, [`Protocol::on_membership_change`] (a scenario's
//! `add-server` / `remove-server` request, handed to every live node).
//! Effects: send a message, set a timer (a fixed delay on the monotonic clock or a *range* the simulator draws
//! from — how randomized election timeouts stay deterministic), cancel a timer, persist a durable
//! update, reply to a client.
//!
//! A protocol serves one [`Workload`] (its typed operations) and brings a [`ClientHalf`]: the
//! client library's part of the protocol, run by the engine in each client process. Requests
//! and responses are the protocol's own types; most services use the kit of
//! [`crate::service`] (requests with ids, answers, leader-following clients, a replicated state
//! machine with client sessions).
//!
//! Crash drops the node value; restart calls `start` again with what was durable. Outgoing messages
//! and replies pushed after a persist are held by the simulator until that persist is durable
//! ("save before you send"), so a protocol only has to push its effects in the right order.
//!
//! Observers (invariant checkers, reports) read a node through [`Protocol::view`] or, when they
//! are written for one protocol, through its concrete type.

use crate::client::ClientHalf;
use crate::time::{SimDuration, SimTime};
use crate::workload::Workload;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::hash::Hash;

/// A node of the simulated cluster: `0..node_count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The node's position, for indexing per-node vectors.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// A simulated client process (Jepsen's `:process`). A client whose operation timed out gets a
/// fresh process number, as in Jepsen, because its old operation may still be in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientId(pub u32);

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// Identifies one client request across the whole run (unique, increasing). Protocols use it to
/// deduplicate retried requests and to address their reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestId(pub u64);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// A key of the key-value workloads (a register, a counter, an account).
pub type Key = u64;

/// How long until a timer fires, on the node's monotonic clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerDelay {
    /// Exactly this long.
    Fixed(SimDuration),
    /// A duration drawn uniformly from `low..=high` by the simulator's seeded generator.
    Range(SimDuration, SimDuration),
}

/// What a handler asks the simulator to do.
#[derive(Clone, Debug)]
pub enum Effect<P: Protocol> {
    /// Send a message to a peer over the simulated network.
    Send {
        /// The receiver.
        target: NodeId,
        /// The payload.
        message: P::Message,
    },
    /// Start (or restart) a timer; setting a timer that is running replaces it.
    SetTimer {
        /// Which timer.
        timer: P::Timer,
        /// When it fires, on the monotonic clock, from now.
        delay: TimerDelay,
    },
    /// Stop a timer if it is running.
    CancelTimer {
        /// Which timer.
        timer: P::Timer,
    },
    /// Make an update to the node's durable state. It is durable after the storage's fsync
    /// latency; messages and replies pushed after it wait until then.
    Persist {
        /// The update, applied with [`Protocol::apply_update`].
        update: P::Update,
    },
    /// A named protocol moment happened (see [`Protocol::MOMENTS`]): a scenario's fault may be
    /// triggered by it (`[[faults]] on = "…"`). It changes nothing else.
    Moment {
        /// One of the protocol's [`Protocol::MOMENTS`].
        name: &'static str,
    },
    /// Answer a client: the response travels back to the client process.
    Reply {
        /// The client.
        client: ClientId,
        /// The answer.
        response: P::Response,
    },
}

/// What a handler sees of the world, and where it pushes its effects.
pub struct Context<P: Protocol> {
    id: NodeId,
    node_count: u32,
    monotonic: SimTime,
    wall: SimTime,
    effects: Vec<Effect<P>>,
}

impl<P: Protocol> Context<P> {
    /// A context for node `id` of `node_count`, whose monotonic and wall clocks both read
    /// `local_time` (tests that need them apart use [`Context::with_clocks`]).
    pub fn new(id: NodeId, node_count: u32, local_time: SimTime) -> Context<P> {
        Context::with_clocks(id, node_count, local_time, local_time)
    }

    /// A context for node `id` of `node_count` whose monotonic clock reads `monotonic` and wall
    /// clock `wall`.
    pub fn with_clocks(
        id: NodeId,
        node_count: u32,
        monotonic: SimTime,
        wall: SimTime,
    ) -> Context<P> {
        assert!(id.0 < node_count, "{id} outside a cluster of {node_count}");
        Context {
            id,
            node_count,
            monotonic,
            wall,
            effects: Vec::new(),
        }
    }

    /// Reuses this context (and its effect buffer's allocation) for another handler call.
    pub fn reset(&mut self, id: NodeId, monotonic: SimTime, wall: SimTime) {
        assert!(self.effects.is_empty(), "effects left unapplied");
        self.id = id;
        self.monotonic = monotonic;
        self.wall = wall;
    }

    /// This node.
    pub fn id(&self) -> NodeId {
        self.id
    }
    /// How many nodes the cluster has.
    pub fn node_count(&self) -> u32 {
        self.node_count
    }
    /// The other nodes, in id order.
    pub fn peers(&self) -> impl Iterator<Item = NodeId> + '_ {
        (0..self.node_count)
            .map(NodeId)
            .filter(move |n| *n != self.id)
    }
    /// The size of a majority of the cluster.
    pub fn quorum(&self) -> u32 {
        self.node_count / 2 + 1
    }
    /// The node's monotonic clock (never true time): for timeouts and elapsed time. It drifts
    /// with the node's oscillator but never jumps; only differences of readings mean anything.
    pub fn now(&self) -> SimTime {
        self.monotonic
    }

    /// The node's wall clock (never true time): what it believes the date is. It has an offset,
    /// drifts and jumps when the scenario steps it; comparing readings across processes, or
    /// across a jump, is exactly the mistake clock faults expose.
    pub fn wall_clock(&self) -> SimTime {
        self.wall
    }

    /// Sends `message` to `target`.
    pub fn send(&mut self, target: NodeId, message: P::Message) {
        assert!(target.0 < self.node_count, "send to unknown node {target}");
        self.effects.push(Effect::Send { target, message });
    }
    /// Sends a copy of `message` to every peer.
    pub fn broadcast(&mut self, message: P::Message) {
        for target in (0..self.node_count).map(NodeId) {
            if target != self.id {
                self.effects.push(Effect::Send {
                    target,
                    message: message.clone(),
                });
            }
        }
    }
    /// Starts `timer` to fire after exactly `delay` of monotonic time.
    pub fn set_timer(&mut self, timer: P::Timer, delay: SimDuration) {
        self.effects.push(Effect::SetTimer {
            timer,
            delay: TimerDelay::Fixed(delay),
        });
    }
    /// Starts `timer` to fire after a monotonic delay drawn uniformly from `low..=high`.
    pub fn set_timer_range(&mut self, timer: P::Timer, low: SimDuration, high: SimDuration) {
        assert!(low <= high, "timer range {low}..{high} is empty");
        self.effects.push(Effect::SetTimer {
            timer,
            delay: TimerDelay::Range(low, high),
        });
    }
    /// Stops `timer` if it is running.
    pub fn cancel_timer(&mut self, timer: P::Timer) {
        self.effects.push(Effect::CancelTimer { timer });
    }
    /// Persists `update` to durable storage.
    pub fn persist(&mut self, update: P::Update) {
        self.effects.push(Effect::Persist { update });
    }
    /// Marks a named moment of the protocol (one of [`Protocol::MOMENTS`]), such as a
    /// coordinator's decision record just written: a scenario can trigger a fault on it, applied
    /// right after this handler, before anything else happens — in particular before a persist
    /// pushed here is durable, so before messages held behind it leave.
    pub fn moment(&mut self, name: &'static str) {
        assert!(
            P::MOMENTS.contains(&name),
            "{name:?} is not one of the moments {} declares",
            P::NAME
        );
        self.effects.push(Effect::Moment { name });
    }
    /// Sends `response` to client `client`.
    pub fn reply(&mut self, client: ClientId, response: P::Response) {
        self.effects.push(Effect::Reply { client, response });
    }

    /// The effects pushed so far, in order.
    pub fn effects(&self) -> &[Effect<P>] {
        &self.effects
    }
    /// Takes the pushed effects out, leaving the buffer empty.
    pub fn drain_effects(&mut self) -> std::vec::Drain<'_, Effect<P>> {
        self.effects.drain(..)
    }

    /// Swaps the pushed effects with the (empty) buffer `spare`, so the caller owns them without
    /// copying and the context keeps an allocation for the next handler.
    pub fn swap_effects(&mut self, spare: &mut Vec<Effect<P>>) {
        assert!(spare.is_empty(), "the spare effect buffer must be empty");
        std::mem::swap(&mut self.effects, spare);
    }
}

/// How a node describes its role to observers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Serves clients and drives replication.
    Leader,
    /// Follows a leader.
    Follower,
    /// Campaigning for leadership.
    Candidate,
    /// A protocol without roles, or a role not listed here.
    Other,
}

/// The read-only view of a node's public state that generic observers and reports use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NodeView {
    /// The node's role.
    pub role: Role,
    /// Term, ballot or epoch; 0 for protocols without one.
    pub term: u64,
    /// How far the node's log is known committed; 0 for protocols without a log.
    pub commit_index: u64,
    /// Where the node believes the leader is.
    pub leader_hint: Option<NodeId>,
}

/// A change of the cluster's membership that a scenario asks for (`action = "add-server"` or
/// `"remove-server"`, or the swarm's `membership` kind). The engine hands it to every live node
/// ([`Protocol::on_membership_change`]), as an operator's request reaching the cluster: the
/// protocol decides who acts on it (a leader) and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MembershipChange {
    /// Add this server to the configuration.
    Add(NodeId),
    /// Remove this server from the configuration.
    Remove(NodeId),
}

impl MembershipChange {
    /// The change that undoes this one (a membership fault with `for = …` ends with it).
    pub fn inverse(self) -> MembershipChange {
        match self {
            MembershipChange::Add(node) => MembershipChange::Remove(node),
            MembershipChange::Remove(node) => MembershipChange::Add(node),
        }
    }
}

impl fmt::Display for MembershipChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MembershipChange::Add(node) => write!(f, "add-server {node}"),
            MembershipChange::Remove(node) => write!(f, "remove-server {node}"),
        }
    }
}

/// What a node is given when it starts.
#[derive(Clone, Debug)]
pub struct NodeConfig<'a, O> {
    /// This node.
    pub id: NodeId,
    /// How many nodes the cluster has.
    pub node_count: u32,
    /// The protocol's options from the scenario's `[protocol]` table.
    pub options: &'a O,
    /// The planted bug to enable, if any (`bug = "…"` in the scenario).
    pub bug: Option<&'a str>,
}

/// A protocol under test: a deterministic state machine driven by the simulator.
///
/// Implementing this trait (and nothing else) is enough to run a protocol in detsim.
pub trait Protocol: Sized + 'static {
    /// The workload the protocol serves: its operations arrive in [`Protocol::Request`]s, and
    /// its checker judges the history. A protocol that serves several workloads is generic
    /// over them (`Raft<Registers>`, `Raft<Counters>`), one registry entry each.
    type Workload: Workload;
    /// Messages between nodes. `Hash` feeds the trace fingerprint; `Debug` the trace.
    type Message: Clone + fmt::Debug + Hash;
    /// What the client half sends to a node ([`crate::service::Request`] for most services).
    type Request: Clone + fmt::Debug + Hash;
    /// What a node answers a client ([`crate::service::Response`] for most services).
    type Response: Clone + fmt::Debug + Hash;
    /// The client library's part of the protocol, run inside each client process
    /// ([`crate::service::FollowLeader`] for services with a leader).
    type Client: ClientHalf<Self>;
    /// Names of the node's timers; setting one that runs replaces it.
    type Timer: Clone + fmt::Debug + Hash + Eq;
    /// The state on the node's disk, as `start` receives it after a crash.
    type Durable: Clone + fmt::Debug + Default;
    /// One write to the disk. Writes are applied in order with [`Protocol::apply_update`], so a
    /// log can be appended to without copying it (a protocol may also make the update the whole
    /// state, and `apply_update` a replacement).
    type Update: Clone + fmt::Debug + Hash;
    /// Options from the scenario's `[protocol]` table (unknown fields should be rejected).
    /// `Serialize` lets `detsim list` show the defaults.
    type Options: DeserializeOwned + Serialize + Default + Clone + fmt::Debug;

    /// The protocol's name as scenarios write it.
    const NAME: &'static str;
    /// The planted bugs this protocol can enable, by name.
    const BUGS: &'static [&'static str] = &[];
    /// The moments the protocol marks with [`Context::moment`], by name: what a scenario's
    /// `[[faults]] on = "…"` may name.
    const MOMENTS: &'static [&'static str] = &[];
    /// Whether the protocol changes its membership on request ([`Protocol::on_membership_change`]).
    /// A scenario that asks a protocol without support for a change is an error before anything
    /// runs. Default: not supported.
    const MEMBERSHIP_CHANGES: bool = false;

    /// Starts a node: at the beginning of the run with `durable = None`, or on restart after a
    /// crash with what was durable on its disk.
    fn start(
        config: &NodeConfig<'_, Self::Options>,
        durable: Option<&Self::Durable>,
        context: &mut Context<Self>,
    ) -> Self;

    /// A message from peer `source` arrived.
    fn on_message(&mut self, context: &mut Context<Self>, source: NodeId, message: Self::Message);

    /// A timer this node set has fired.
    fn on_timer(&mut self, context: &mut Context<Self>, timer: Self::Timer);

    /// A request from client `client` arrived at this node.
    fn on_client_request(
        &mut self,
        context: &mut Context<Self>,
        client: ClientId,
        request: Self::Request,
    );

    /// A membership change was requested (a scenario's `add-server` / `remove-server` fault):
    /// the engine calls this on every live node. Only protocols that set
    /// [`Protocol::MEMBERSHIP_CHANGES`] are called; the default says the protocol does not
    /// support membership changes.
    fn on_membership_change(&mut self, _context: &mut Context<Self>, change: MembershipChange) {
        panic!(
            "{} does not support membership changes ({change} requested; scenario checks \
             should have refused it)",
            Self::NAME
        );
    }

    /// Applies one durable write to the disk image.
    fn apply_update(durable: &mut Self::Durable, update: Self::Update);

    /// The node's public state for observers.
    fn view(&self) -> NodeView;

    /// Checks options beyond their types (ranges, relations between fields). An error here is a
    /// bad scenario, reported with its file and line before anything runs.
    fn check_options(_options: &Self::Options) -> Result<(), String> {
        Ok(())
    }

    /// Whether the planted `bug` (one of [`Protocol::BUGS`]) can act under `options`: a bug in a
    /// part of the protocol the options switch off (a read path, snapshots) cannot be caught,
    /// and `detsim bugs` says the scenario does not exercise it rather than counting it missed.
    /// Default: every bug can act.
    fn bug_can_act(_bug: &str, _options: &Self::Options) -> bool {
        true
    }

    /// What the node is doing, in the protocol's own words (`"electing"`, `"leading, entries
    /// in flight"`), for the coverage table of fuzz campaigns: which faults hit which moments
    /// of the protocol. A handful of values at most. Default: from the view's role.
    fn activity(&self) -> &'static str {
        match self.view().role {
            Role::Leader => "leading",
            Role::Follower => "following",
            Role::Candidate => "electing",
            Role::Other => "running",
        }
    }

    /// The bytes `message` would take on the wire, for the bytes-per-operation figure of
    /// comparison reports. Default: its in-memory size without what it points to (a protocol
    /// whose messages carry vectors should count them: Raft counts its entries).
    fn message_bytes(_message: &Self::Message) -> u64 {
        std::mem::size_of::<Self::Message>() as u64
    }

    /// A short name for a message's kind (`"AppendEntries"`), for the per-kind message counts
    /// of summaries and comparison reports.
    fn message_kind(_message: &Self::Message) -> &'static str {
        "message"
    }
}
