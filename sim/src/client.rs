//! The client half of a protocol: the part of a service's client library that runs the protocol.
//!
//! Real services ship client libraries that do part of the protocol's work: a Raft client
//! follows leader hints, a ZooKeeper client keeps its session alive with heartbeats, a Redlock
//! client acquires on a majority of servers and computes the lock's validity on its own clock,
//! a two-phase-commit client picks transaction ids. A [`ClientHalf`] is that library as a
//! sans-IO state machine, run by the engine inside each client process: the workload decides
//! *what* a client does (the next operation), the client half decides *how* (which nodes to
//! ask, when to retry, when the operation is over).
//!
//! Inputs: an invocation from the workload ([`ClientHalf::on_invoke`]), a response from a node,
//! a timer, a request that could not be delivered (the node is down), and the engine giving up
//! on the operation at its deadline. Effects, pushed into a [`ClientContext`]: send a request to
//! any node (optionally after a delay), set or cancel a timer, and complete the operation — once
//! per invocation, with a [`Completion`] and the node that served it. (In the engine a context
//! keeps the half's timers itself rather than listing them as effects: see [`ClientContext`].)
//! The engine keeps the generic mechanics: rate, concurrency, the operation's deadline (it
//! records `info` and calls [`ClientHalf::on_timeout`]), and Jepsen's process renumbering after
//! `info`.
//!
//! Like node handlers, client halves never read a clock or draw randomness themselves: the
//! context gives the time and draws from the simulator's seeded generator
//! ([`ClientContext::random_node`]).

use crate::completion::Completion;
use crate::protocol::{ClientId, NodeId, Protocol, RequestId, TimerDelay};
use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};
use crate::workload::{OperationOf, OutputOf};
use std::fmt;
use std::hash::Hash;

/// What a client half is given when its process starts.
#[derive(Clone, Debug)]
pub struct ClientConfig<'a, O> {
    /// This client.
    pub id: ClientId,
    /// How many nodes the cluster has.
    pub node_count: u32,
    /// The protocol's options from the scenario's `[protocol]` table.
    pub options: &'a O,
    /// The planted bug the scenario enables (`[protocol] bug`), for a protocol whose bug lives
    /// in its client library.
    pub bug: Option<&'a str>,
    /// How long to wait before retrying after a redirect (`[workload] redirect_backoff`).
    pub redirect_backoff: SimDuration,
    /// How long to wait for an answer before sending the request again
    /// (`[workload] retry_after`; zero: never).
    pub retry_after: SimDuration,
    /// How long one node is asked before a retry goes to another (`[workload]
    /// failover_after`).
    pub failover_after: SimDuration,
}

/// What a client half asks the engine to do.
#[derive(Clone, Debug)]
pub enum ClientEffect<P: Protocol> {
    /// Send a request to a node, after `delay` (zero: now) plus the client link's latency.
    Send {
        /// The node.
        target: NodeId,
        /// The request.
        request: P::Request,
        /// How long to wait before sending.
        delay: SimDuration,
    },
    /// Start (or restart) a timer of the client half. Listed only by a context made with
    /// [`ClientContext::new`] (a test's); the engine's contexts keep timers themselves.
    SetTimer {
        /// Which timer.
        timer: ClientTimer<P>,
        /// When it fires, from now.
        delay: TimerDelay,
    },
    /// Stop a timer if it is running. Listed only by a test's context, like `SetTimer`.
    CancelTimer {
        /// Which timer.
        timer: ClientTimer<P>,
    },
    /// The current operation is over.
    Complete {
        /// How it ended.
        completion: Completion<OutputOf<P::Workload>>,
        /// The node whose answer decided it, if one did.
        node: Option<NodeId>,
    },
}

/// The timer type of a protocol's client half.
pub type ClientTimer<P> = <<P as Protocol>::Client as ClientHalf<P>>::Timer;

/// The running timers of one client half, as the engine keeps them: each with its deadline on
/// the client's monotonic clock, in the order they were first set.
#[derive(Debug)]
pub(crate) struct RunningTimers<T> {
    pub(crate) running: Vec<(T, SimTime)>,
    /// Whether a handler set or cancelled a timer since the engine last looked.
    pub(crate) touched: bool,
    /// Whether a handler set a timer since the engine last looked (the engine's alarm may need
    /// to ring earlier).
    pub(crate) set: bool,
}

impl<T: PartialEq> RunningTimers<T> {
    pub(crate) fn new() -> RunningTimers<T> {
        RunningTimers {
            running: Vec::new(),
            touched: false,
            set: false,
        }
    }

    /// Starts `timer` for `deadline`, replacing it if it runs.
    pub(crate) fn set(&mut self, timer: T, deadline: SimTime) {
        self.touched = true;
        self.set = true;
        match self.running.iter_mut().find(|(t, _)| *t == timer) {
            Some(running) => running.1 = deadline,
            None => self.running.push((timer, deadline)),
        }
    }

    /// Stops `timer` if it runs.
    pub(crate) fn cancel(&mut self, timer: &T) {
        self.touched = true;
        self.running.retain(|(t, _)| t != timer);
    }

    /// The earliest deadline of a running timer.
    pub(crate) fn earliest(&self) -> Option<SimTime> {
        self.running.iter().map(|(_, deadline)| *deadline).min()
    }
}

/// What a client half's handler sees, and where it pushes its effects.
///
/// In the engine, timers are kept by the context itself (setting or cancelling one is not an
/// effect the engine applies later: client halves set and cancel a retry timer on every
/// operation); a context made with [`ClientContext::new`], as in a test of a client half,
/// records them as [`ClientEffect::SetTimer`] and [`ClientEffect::CancelTimer`].
pub struct ClientContext<'a, P: Protocol> {
    id: ClientId,
    node_count: u32,
    now: SimTime,
    wall: SimTime,
    request: Option<RequestId>,
    completed: bool,
    rng: &'a mut SimRng,
    effects: &'a mut Vec<ClientEffect<P>>,
    timers: Option<&'a mut RunningTimers<ClientTimer<P>>>,
}

impl<'a, P: Protocol> ClientContext<'a, P> {
    /// A context for client `id` whose monotonic clock reads `now` (and wall clock too, unless
    /// [`ClientContext::with_wall_clock`] sets it apart); `request` is the current operation's
    /// request id, if one is in progress. `effects` is an empty buffer the context fills (the
    /// caller reads it once the context is dropped).
    pub fn new(
        id: ClientId,
        node_count: u32,
        now: SimTime,
        request: Option<RequestId>,
        rng: &'a mut SimRng,
        effects: &'a mut Vec<ClientEffect<P>>,
    ) -> ClientContext<'a, P> {
        debug_assert!(node_count > 0 && effects.is_empty());
        ClientContext {
            id,
            node_count,
            now,
            wall: now,
            request,
            completed: false,
            rng,
            effects,
            timers: None,
        }
    }

    /// The same context keeping the half's timers in `timers` (the engine's way).
    pub(crate) fn with_timers(
        mut self,
        timers: &'a mut RunningTimers<ClientTimer<P>>,
    ) -> ClientContext<'a, P> {
        self.timers = Some(timers);
        self
    }

    /// The same context with the wall clock reading `wall`.
    pub fn with_wall_clock(mut self, wall: SimTime) -> ClientContext<'a, P> {
        self.wall = wall;
        self
    }

    /// This client.
    pub fn id(&self) -> ClientId {
        self.id
    }
    /// How many nodes the cluster has.
    pub fn node_count(&self) -> u32 {
        self.node_count
    }
    /// The client's monotonic clock: for timeouts and elapsed time (it drifts, never jumps;
    /// only differences of readings mean anything). Its timers run on it.
    pub fn now(&self) -> SimTime {
        self.now
    }
    /// The client's wall clock: offset, drift and jumps (see [`crate::clock`]). A lease or
    /// lock validity computed on it is what clock faults break.
    pub fn wall_clock(&self) -> SimTime {
        self.wall
    }
    /// The request id of the operation in progress, if any.
    pub fn request(&self) -> Option<RequestId> {
        self.request
    }
    /// A node drawn uniformly by the simulator's seeded generator.
    pub fn random_node(&mut self) -> NodeId {
        NodeId(self.rng.below(u64::from(self.node_count)) as u32)
    }

    /// Sends `request` to `target` now.
    pub fn send(&mut self, target: NodeId, request: P::Request) {
        self.send_after(SimDuration::ZERO, target, request);
    }
    /// Sends `request` to `target` after `delay`.
    pub fn send_after(&mut self, delay: SimDuration, target: NodeId, request: P::Request) {
        assert!(
            target.0 < self.node_count,
            "{} sends to unknown node {target}",
            self.id
        );
        self.effects.push(ClientEffect::Send {
            target,
            request,
            delay,
        });
    }
    /// Starts `timer` to fire after `delay`.
    pub fn set_timer(&mut self, timer: ClientTimer<P>, delay: SimDuration) {
        match &mut self.timers {
            // A deadline on the monotonic clock, which `now` reads.
            Some(timers) => timers.set(timer, self.now.saturating_add(delay)),
            None => self.effects.push(ClientEffect::SetTimer {
                timer,
                delay: TimerDelay::Fixed(delay),
            }),
        }
    }
    /// Stops `timer` if it is running.
    pub fn cancel_timer(&mut self, timer: ClientTimer<P>) {
        match &mut self.timers {
            Some(timers) => timers.cancel(&timer),
            None => self.effects.push(ClientEffect::CancelTimer { timer }),
        }
    }
    /// Ends the current operation with `completion`, decided by `node`'s answer if any.
    pub fn complete(
        &mut self,
        completion: Completion<OutputOf<P::Workload>>,
        node: Option<NodeId>,
    ) {
        assert!(
            self.request.is_some(),
            "{} completes with no operation in progress",
            self.id
        );
        assert!(!self.completed, "{} completes its operation twice", self.id);
        self.completed = true;
        self.effects
            .push(ClientEffect::Complete { completion, node });
    }

    /// The effects pushed so far, in order.
    pub fn effects(&self) -> &[ClientEffect<P>] {
        self.effects
    }
}

/// A protocol's client library, run by the engine inside each client process.
pub trait ClientHalf<P: Protocol>: Sized + 'static {
    /// Names of the client's timers; setting one that runs replaces it.
    type Timer: Clone + fmt::Debug + Hash + Eq;

    /// Starts the client process.
    fn start(config: &ClientConfig<'_, P::Options>, context: &mut ClientContext<'_, P>) -> Self;

    /// The workload invokes `operation` as request `request`; complete it through the context,
    /// now or later.
    fn on_invoke(
        &mut self,
        context: &mut ClientContext<'_, P>,
        request: RequestId,
        operation: OperationOf<P::Workload>,
    );

    /// A node answered.
    fn on_response(
        &mut self,
        context: &mut ClientContext<'_, P>,
        source: NodeId,
        response: P::Response,
    );

    /// A timer of this client fired.
    fn on_timer(&mut self, context: &mut ClientContext<'_, P>, timer: Self::Timer);

    /// A request sent to `node` found it down (the connection was refused): it did not run.
    fn on_unreachable(
        &mut self,
        context: &mut ClientContext<'_, P>,
        node: NodeId,
        request: P::Request,
    );

    /// The engine gave up on the current operation at its deadline and recorded `info`; the
    /// client half forgets it (late answers to it must be ignored).
    fn on_timeout(&mut self, context: &mut ClientContext<'_, P>);
}
