//! The world: all mutable state of one simulation, and the one loop that steps it.
//!
//! A run is a pure function of (scenario, seed, detsim version). The world owns true time, the
//! event queue, the nodes (each `None` while crashed), their clocks, timers and disks, the
//! network, the clients and their history, and one seeded generator per subsystem. Each step pops
//! the earliest event, applies it (calling at most one protocol handler and applying the effects
//! it pushed), folds it into the fingerprint, writes its trace line when a trace is wanted, and
//! runs the protocol's invariants. Nothing in here reads a clock or iterates a hash map.
//!
//! Semantics a protocol author can rely on:
//! - timers are deadlines on the node's local clock, rescheduled when the clock jumps or its
//!   drift changes; a crashed node loses its timers;
//! - a paused node's clock keeps running, but its timers, messages and client requests wait in
//!   its inbox and are applied, in arrival order, when it resumes;
//! - messages and replies a handler pushes after a `persist` depart only once that persist is
//!   durable (after the storage's fsync latency); a crash before then drops them;
//! - a crash keeps the node's durable writes; writes not yet durable survive unless the scenario
//!   sets `storage.lose_unsynced`;
//! - a message is dropped when its link is cut at sending or at arrival, or its target is down.

use crate::clock::NodeClock;
use crate::history::OpType;
use crate::invariants::Invariants;
use crate::network::{shapes, FaultRates, Latency, Network, Transmission};
use crate::outcome::{FaultKind, FaultWindow, RunData, RunStats, Verdict};
use crate::protocol::{
    ClientId, ClientRequest, ClientResponse, Context, Effect, NodeConfig, NodeId, Operation,
    Protocol, RequestId, Role, TimerDelay,
};
use crate::recorder::RecordedHistory;
use crate::rng::{SimRng, Stream};
use crate::scenario::{FaultAction, FaultSpec, NodeRef, ProtocolSection, Scenario, Shape};
use crate::time::{SimDuration, SimTime};
use crate::trace::{FixedHasher, TraceSink};
use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::io::Write;

/// Most events that may wait in the queue at once; more is a runaway protocol, not a workload.
const QUEUE_LIMIT: usize = 10_000_000;

/// A run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The scenario's `[protocol.options]` do not fit the protocol.
    #[error("protocol.options: {0}")]
    Options(String),
    /// The scenario names a bug the protocol does not have.
    #[error("protocol.bug: {bug:?} is not a planted bug of {protocol} (it has: {known})")]
    UnknownBug {
        /// The bug named.
        bug: String,
        /// The protocol.
        protocol: &'static str,
        /// The bugs it has.
        known: String,
    },
    /// Writing the trace failed.
    #[error("writing the trace: {0}")]
    Trace(#[from] std::io::Error),
}

/// Runs `scenario` (its fault schedule already explicit in `faults`) with `seed`, checking
/// `invariants` after every event and streaming trace lines into `trace` when given.
///
/// The returned verdict covers invariants, limits, panics and liveness; the linearizability
/// verdict of the history is added by [`crate::verdict::judge_history`].
pub fn run<'s, P: Protocol, I: Invariants<P>>(
    scenario: &'s Scenario,
    faults: &'s [FaultSpec],
    seed: u64,
    invariants: I,
    trace: Option<&mut dyn Write>,
) -> Result<RunData, RunError> {
    let options = protocol_options::<P>(&scenario.protocol)?;
    let mut world = World::<P, I>::new(scenario, faults, seed, options, invariants, trace);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| world.run_loop()));
    let verdict = match outcome {
        Ok(verdict) => verdict,
        Err(payload) => Verdict::Panic {
            message: crate::scenario::limits::describe_panic(panic_message(&payload)),
        },
    };
    world.finish(verdict)
}

/// The protocol's options from a scenario's `[protocol]` section, after checking its planted bug
/// exists.
pub fn protocol_options<P: Protocol>(section: &ProtocolSection) -> Result<P::Options, RunError> {
    if let Some(bug) = &section.bug {
        if !P::BUGS.contains(&bug.as_str()) {
            return Err(RunError::UnknownBug {
                bug: bug.clone(),
                protocol: P::NAME,
                known: if P::BUGS.is_empty() {
                    "none".to_string()
                } else {
                    P::BUGS.join(", ")
                },
            });
        }
    }
    let options: P::Options = if section.options.is_empty() {
        // No options given: the protocol's defaults (this also serves `type Options = ()`).
        P::Options::default()
    } else {
        toml::Value::Table(section.options.clone())
            .try_into()
            .map_err(|error: toml::de::Error| {
                RunError::Options(error.message().trim().to_string())
            })?
    };
    P::check_options(&options).map_err(RunError::Options)?;
    Ok(options)
}

/// The text of a panic payload.
pub fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "non-text panic payload".to_string()
    }
}

enum Outgoing<P: Protocol> {
    Message {
        target: NodeId,
        message: P::Message,
    },
    Reply {
        client: ClientId,
        request: RequestId,
        response: ClientResponse,
    },
}

enum Event<P: Protocol> {
    Deliver {
        source: NodeId,
        target: NodeId,
        message: P::Message,
    },
    Depart {
        source: NodeId,
        incarnation: u32,
        outgoing: Outgoing<P>,
    },
    Timer {
        node: NodeId,
        incarnation: u32,
        generation: u64,
    },
    RequestArrives {
        node: NodeId,
        request: ClientRequest,
    },
    ResponseArrives {
        client: u32,
        request: RequestId,
        source: NodeId,
        response: ClientResponse,
    },
    ClientReady {
        client: u32,
    },
    /// A client's timeout alarm. One is armed per client at a time (not one per operation):
    /// when it rings before the current operation's deadline it re-arms for that deadline.
    ClientTimeout {
        client: u32,
    },
    Fault {
        index: usize,
    },
    FaultEnd {
        index: usize,
        nodes: Vec<NodeId>,
        window: usize,
    },
    /// An event that waited in a paused node's inbox, applied after the node resumed.
    FromInbox {
        node: NodeId,
        incarnation: u32,
        event: Box<Event<P>>,
    },
    Heal,
    Stop,
}

struct ActiveTimer<T> {
    timer: T,
    generation: u64,
    local_deadline: SimTime,
}

struct NodeRuntime<P: Protocol> {
    clock: NodeClock,
    base_drift_ppm: i64,
    incarnation: u32,
    paused: bool,
    inbox: Vec<Event<P>>,
    timers: Vec<ActiveTimer<P::Timer>>,
    disk: P::Durable,
    started_once: bool,
    pending_writes: VecDeque<(SimTime, P::Update)>,
    durable_until: SimTime,
}

struct Pending {
    request: RequestId,
    operation: Operation,
    invoked: SimTime,
    deadline: SimTime,
}

struct ClientState {
    process: u64,
    target: NodeId,
    pending: Option<Pending>,
    known: Vec<Option<i64>>,
    alarm_armed: bool,
}

struct World<'s, 'w, P: Protocol, I: Invariants<P>> {
    scenario: &'s Scenario,
    faults: &'s [FaultSpec],
    seed: u64,
    options: P::Options,
    node_count: u32,
    now: SimTime,
    queue: EventQueue<P>,
    nodes: Vec<Option<P>>,
    runtime: Vec<NodeRuntime<P>>,
    network: Network,
    context: Context<P>,
    effects: Vec<Effect<P>>,
    next_generation: u64,
    network_rng: SimRng,
    timer_rng: SimRng,
    workload_rng: SimRng,
    nemesis_rng: SimRng,
    storage_rng: SimRng,
    clients: Vec<ClientState>,
    client_latency: Latency,
    think: Latency,
    workload_end: SimTime,
    next_request: u64,
    next_value: i64,
    history: RecordedHistory,
    stats: RunStats,
    kind_counts: Vec<(&'static str, u64)>,
    fingerprint: FixedHasher,
    trace: TraceSink<'w>,
    invariants: I,
    windows: Vec<FaultWindow>,
    open_windows: Vec<usize>,
    partition_owner: Option<usize>,
    heal_time: Option<SimTime>,
    liveness_met: bool,
}

type EventQueue<P> = crate::queue::EventQueue<Event<P>>;

impl<'s, 'w, P: Protocol, I: Invariants<P>> World<'s, 'w, P, I> {
    fn new(
        scenario: &'s Scenario,
        faults: &'s [FaultSpec],
        seed: u64,
        options: P::Options,
        invariants: I,
        trace: Option<&'w mut dyn Write>,
    ) -> Self {
        let node_count = scenario.cluster.nodes;
        let mut network = Network::new(node_count, scenario.network.default_link());
        let base = scenario.network.default_link();
        for link in &scenario.network.links {
            let mut model = base.clone();
            if let Some(latency) = &link.latency {
                model.latency = latency.clone();
            }
            model.loss = link.loss.unwrap_or(model.loss);
            model.duplicate = link.duplicate.unwrap_or(model.duplicate);
            model.reorder = link.reorder.unwrap_or(model.reorder);
            network.set_link(NodeId(link.from), NodeId(link.to), model);
        }
        let runtime = (0..node_count)
            .map(|n| {
                let spec = scenario.clocks.nodes.iter().rev().find(|c| c.node == n);
                let (offset, drift) = spec.map_or((0, 0), |c| (c.offset.0, c.drift_ppm));
                NodeRuntime {
                    clock: NodeClock::new(offset, drift),
                    base_drift_ppm: drift,
                    incarnation: 0,
                    paused: false,
                    inbox: Vec::new(),
                    timers: Vec::new(),
                    disk: P::Durable::default(),
                    started_once: false,
                    pending_writes: VecDeque::new(),
                    durable_until: SimTime::ZERO,
                }
            })
            .collect();
        let workload = &scenario.workload;
        let mean_gap = SimDuration(1_000_000_000 / u64::from(workload.rate));
        let duration = SimTime::ZERO + scenario.run.duration;
        let workload_end = if scenario.run.duration > workload.timeout {
            SimTime(scenario.run.duration.0 - workload.timeout.0)
        } else {
            duration
        };
        let mut workload_rng = SimRng::stream(seed, Stream::Workload);
        let clients = (0..workload.clients)
            .map(|c| ClientState {
                process: u64::from(c),
                target: NodeId(workload_rng.below(u64::from(node_count)) as u32),
                pending: None,
                known: vec![None; workload.keys as usize],
                alarm_armed: false,
            })
            .collect();
        World {
            scenario,
            faults,
            seed,
            options,
            node_count,
            now: SimTime::ZERO,
            queue: EventQueue::new(QUEUE_LIMIT),
            nodes: (0..node_count).map(|_| None).collect(),
            runtime,
            network,
            context: Context::new(NodeId(0), node_count, SimTime::ZERO),
            effects: Vec::new(),
            next_generation: 0,
            network_rng: SimRng::stream(seed, Stream::Network),
            timer_rng: SimRng::stream(seed, Stream::Timers),
            workload_rng,
            nemesis_rng: SimRng::stream(seed, Stream::Nemesis),
            storage_rng: SimRng::stream(seed, Stream::Storage),
            clients,
            client_latency: workload.client_latency.clone(),
            think: Latency::Exponential {
                min: SimDuration::ZERO,
                mean: mean_gap,
                max: SimDuration(mean_gap.0.saturating_mul(10)),
            },
            workload_end,
            next_request: 0,
            next_value: 0,
            // Expected size: an invoke and a completion per operation. Reserving it avoids
            // copying a large history as it grows.
            history: RecordedHistory::with_capacity(expected_history_len(scenario)),
            stats: RunStats::default(),
            kind_counts: Vec::new(),
            fingerprint: FixedHasher::default(),
            trace: TraceSink::new(trace),
            invariants,
            windows: Vec::new(),
            open_windows: Vec::new(),
            partition_owner: None,
            heal_time: None,
            liveness_met: false,
        }
    }

    // ----- the loop -----

    fn run_loop(&mut self) -> Verdict {
        self.schedule_start();
        let max_events = self.scenario.run.max_events;
        while let Some((time, event)) = self.queue.pop() {
            debug_assert!(time >= self.now, "time went backwards");
            self.now = time;
            if matches!(event, Event::Stop) {
                self.apply_stop();
                break;
            }
            let touched = match self.apply(event) {
                Applied::Skipped => continue,
                Applied::Node(node) => Some(node),
                Applied::Other => None,
            };
            self.stats.events += 1;
            if let Err(violation) = self.invariants.after_event(self.now, touched, &self.nodes) {
                self.trace_line(format_args!("invariant violated: {violation}"));
                return Verdict::SafetyViolation {
                    property: violation.property,
                    detail: violation.detail,
                    time: self.now,
                };
            }
            if self.stats.events >= max_events {
                return Verdict::LimitReached {
                    detail: format!("{max_events} events applied before the end of the run"),
                };
            }
        }
        if self.queue.is_empty() && self.now < SimTime::ZERO + self.scenario.run.duration {
            // Only reachable when a push was refused.
            return Verdict::LimitReached {
                detail: format!("more than {QUEUE_LIMIT} events waiting at once"),
            };
        }
        self.liveness_verdict()
    }

    fn schedule_start(&mut self) {
        for node in 0..self.node_count {
            self.start_node(NodeId(node));
        }
        for client in 0..self.clients.len() as u32 {
            let gap = self.think.sample(&mut self.workload_rng);
            self.push(SimTime::ZERO + gap, Event::ClientReady { client });
        }
        for index in 0..self.faults.len() {
            let at = SimTime::ZERO + self.faults[index].at;
            self.push(at, Event::Fault { index });
        }
        if let Some(heal) = self.scenario.heal_time() {
            self.push(SimTime::ZERO + heal, Event::Heal);
        }
        self.push(SimTime::ZERO + self.scenario.run.duration, Event::Stop);
    }

    fn push(&mut self, time: SimTime, event: Event<P>) {
        // A refused push empties the run of future events; run_loop turns that into a verdict.
        if !self.queue.push(time, event) {
            self.queue = EventQueue::new(0);
        }
    }

    fn fold(&mut self, value: impl Hash) {
        value.hash(&mut self.fingerprint);
    }

    fn trace_line(&mut self, args: std::fmt::Arguments<'_>) {
        let now = self.now;
        self.trace.line(|line| {
            let _ = write!(line, "{now} {args}");
        });
    }

    fn apply(&mut self, event: Event<P>) -> Applied {
        match event {
            Event::Deliver {
                source,
                target,
                message,
            } => self.apply_deliver(source, target, message, false),
            Event::FromInbox {
                node,
                incarnation,
                event,
            } => {
                if self.runtime[node.index()].incarnation != incarnation {
                    if let Event::Deliver { .. } = *event {
                        self.stats.messages_dropped += 1;
                    }
                    return Applied::Skipped;
                }
                match *event {
                    // It already arrived: a partition since then cannot take it back.
                    Event::Deliver {
                        source,
                        target,
                        message,
                    } => self.apply_deliver(source, target, message, true),
                    other => self.apply(other),
                }
            }
            Event::Depart {
                source,
                incarnation,
                outgoing,
            } => {
                if self.runtime[source.index()].incarnation != incarnation {
                    if let Outgoing::Message { .. } = outgoing {
                        self.stats.messages_dropped += 1;
                    }
                    return Applied::Skipped;
                }
                self.fold((self.now.0, 1u8, source.0));
                self.depart(source, outgoing);
                Applied::Other
            }
            Event::Timer {
                node,
                incarnation,
                generation,
            } => self.apply_timer(node, incarnation, generation),
            Event::RequestArrives { node, request } => self.apply_request(node, request),
            Event::ResponseArrives {
                client,
                request,
                source,
                response,
            } => self.apply_response(client, request, source, response),
            Event::ClientReady { client } => self.apply_client_ready(client),
            Event::ClientTimeout { client } => self.apply_client_timeout(client),
            Event::Fault { index } => self.apply_fault(index),
            Event::FaultEnd {
                index,
                nodes,
                window,
            } => self.apply_fault_end(index, &nodes, window),
            Event::Heal => self.apply_heal(),
            Event::Stop => unreachable!("handled by the loop"),
        }
    }

    // ----- nodes -----

    fn start_node(&mut self, node: NodeId) {
        let index = node.index();
        self.flush_disk(node, false);
        let runtime = &mut self.runtime[index];
        runtime.incarnation += 1;
        runtime.paused = false;
        let local = runtime.clock.local_at(self.now);
        let durable = runtime.started_once.then_some(&runtime.disk);
        let config = NodeConfig {
            id: node,
            node_count: self.node_count,
            options: &self.options,
            bug: self.scenario.protocol.bug.as_deref(),
        };
        self.context.reset(node, local);
        let state = P::start(&config, durable, &mut self.context);
        runtime.started_once = true;
        self.nodes[index] = Some(state);
        self.fold((self.now.0, 2u8, node.0));
        self.trace_line(format_args!("start {node}"));
        self.apply_effects(node);
    }

    fn crash_node(&mut self, node: NodeId) {
        let lose = self.scenario.storage.lose_unsynced;
        self.flush_disk(node, !lose);
        let runtime = &mut self.runtime[node.index()];
        let lost = runtime.pending_writes.len();
        runtime.pending_writes.clear();
        runtime.durable_until = SimTime::ZERO;
        runtime.incarnation += 1;
        runtime.paused = false;
        runtime.inbox.clear();
        runtime.timers.clear();
        self.nodes[node.index()] = None;
        self.trace_line(format_args!("crash {node} ({lost} unsynced writes lost)"));
    }

    /// Applies pending writes that are durable by now (or all of them when `all`).
    fn flush_disk(&mut self, node: NodeId, all: bool) {
        let now = self.now;
        let runtime = &mut self.runtime[node.index()];
        while let Some((durable_at, _)) = runtime.pending_writes.front() {
            if !all && *durable_at > now {
                break;
            }
            let (_, update) = runtime.pending_writes.pop_front().expect("front exists");
            P::apply_update(&mut runtime.disk, update);
        }
    }

    /// Calls one handler of a live, running node and applies its effects.
    fn call(&mut self, node: NodeId, handler: impl FnOnce(&mut P, &mut Context<P>)) {
        self.flush_disk(node, false);
        let local = self.runtime[node.index()].clock.local_at(self.now);
        self.context.reset(node, local);
        let state = self.nodes[node.index()]
            .as_mut()
            .expect("handler called on a crashed node");
        handler(state, &mut self.context);
        self.apply_effects(node);
    }

    fn apply_effects(&mut self, node: NodeId) {
        let mut effects = std::mem::take(&mut self.effects);
        self.context.swap_effects(&mut effects);
        for effect in effects.drain(..) {
            match effect {
                Effect::Send { target, message } => {
                    self.stats.messages_sent += 1;
                    self.count_kind(P::message_kind(&message));
                    self.send_or_hold(node, Outgoing::Message { target, message });
                }
                Effect::Reply {
                    request,
                    client,
                    response,
                } => self.send_or_hold(
                    node,
                    Outgoing::Reply {
                        client,
                        request,
                        response,
                    },
                ),
                Effect::SetTimer { timer, delay } => self.set_timer(node, timer, delay),
                Effect::CancelTimer { timer } => {
                    self.runtime[node.index()]
                        .timers
                        .retain(|t| t.timer != timer);
                }
                Effect::Persist { update } => self.persist(node, update),
            }
        }
        self.effects = effects;
    }

    fn count_kind(&mut self, kind: &'static str) {
        // Few kinds, mostly the same one again: a linear scan beats a map here.
        // Kinds are static strings: the same pointer almost always, compared before the bytes.
        let same = |k: &&'static str| std::ptr::eq(k.as_ptr(), kind.as_ptr()) || *k == kind;
        match self.kind_counts.iter_mut().find(|(k, _)| same(k)) {
            Some((_, count)) => *count += 1,
            None => self.kind_counts.push((kind, 1)),
        }
    }

    fn persist(&mut self, node: NodeId, update: P::Update) {
        self.stats.persists += 1;
        self.fold((3u8, &update));
        let latency = self.scenario.storage.fsync.sample(&mut self.storage_rng);
        let runtime = &mut self.runtime[node.index()];
        // Writes complete in order, like a log device: never before an earlier one.
        let durable_at = (self.now + latency).max(runtime.durable_until);
        if durable_at <= self.now && runtime.pending_writes.is_empty() {
            P::apply_update(&mut runtime.disk, update);
        } else {
            runtime.pending_writes.push_back((durable_at, update));
            runtime.durable_until = durable_at;
        }
    }

    fn send_or_hold(&mut self, node: NodeId, outgoing: Outgoing<P>) {
        let runtime = &self.runtime[node.index()];
        if runtime.durable_until > self.now {
            // Save before you send: this waits for the persist pushed before it.
            let at = runtime.durable_until;
            let incarnation = runtime.incarnation;
            self.push(
                at,
                Event::Depart {
                    source: node,
                    incarnation,
                    outgoing,
                },
            );
        } else {
            self.depart(node, outgoing);
        }
    }

    fn depart(&mut self, source: NodeId, outgoing: Outgoing<P>) {
        match outgoing {
            Outgoing::Message { target, message } => {
                match self.network.transmit(source, target, &mut self.network_rng) {
                    Transmission::Dropped => {
                        self.stats.messages_dropped += 1;
                    }
                    Transmission::Delivered(latency) => {
                        self.push(
                            self.now + latency,
                            Event::Deliver {
                                source,
                                target,
                                message,
                            },
                        );
                    }
                    Transmission::Duplicated(first, second) => {
                        self.stats.messages_duplicated += 1;
                        self.push(
                            self.now + first,
                            Event::Deliver {
                                source,
                                target,
                                message: message.clone(),
                            },
                        );
                        self.push(
                            self.now + second,
                            Event::Deliver {
                                source,
                                target,
                                message,
                            },
                        );
                    }
                }
            }
            Outgoing::Reply {
                client,
                request,
                response,
            } => {
                let latency = self.client_latency.sample(&mut self.network_rng);
                self.push(
                    self.now + latency,
                    Event::ResponseArrives {
                        client: client.0,
                        request,
                        source,
                        response,
                    },
                );
            }
        }
    }

    fn set_timer(&mut self, node: NodeId, timer: P::Timer, delay: TimerDelay) {
        let delay = match delay {
            TimerDelay::Fixed(delay) => delay,
            TimerDelay::Range(low, high) => SimDuration(self.timer_rng.between(low.0, high.0)),
        };
        let generation = self.next_generation;
        self.next_generation += 1;
        let runtime = &mut self.runtime[node.index()];
        let local_deadline = runtime.clock.deadline_after(self.now, delay);
        let fire_at = runtime.clock.true_time_of(self.now, local_deadline);
        let incarnation = runtime.incarnation;
        match runtime.timers.iter_mut().find(|t| t.timer == timer) {
            Some(active) => {
                active.generation = generation;
                active.local_deadline = local_deadline;
            }
            None => runtime.timers.push(ActiveTimer {
                timer,
                generation,
                local_deadline,
            }),
        }
        self.push(
            fire_at,
            Event::Timer {
                node,
                incarnation,
                generation,
            },
        );
    }

    /// After a clock change, every running timer gets a new true-time firing.
    fn reschedule_timers(&mut self, node: NodeId) {
        let runtime = &mut self.runtime[node.index()];
        let incarnation = runtime.incarnation;
        let mut firings = Vec::with_capacity(runtime.timers.len());
        for active in &mut runtime.timers {
            active.generation = self.next_generation;
            self.next_generation += 1;
            let fire_at = runtime.clock.true_time_of(self.now, active.local_deadline);
            firings.push((fire_at, active.generation));
        }
        for (fire_at, generation) in firings {
            self.push(
                fire_at,
                Event::Timer {
                    node,
                    incarnation,
                    generation,
                },
            );
        }
    }

    fn is_up(&self, node: NodeId) -> bool {
        self.nodes[node.index()].is_some()
    }

    fn apply_deliver(
        &mut self,
        source: NodeId,
        target: NodeId,
        message: P::Message,
        arrived: bool,
    ) -> Applied {
        if !self.is_up(target) || (!arrived && !self.network.connected(source, target)) {
            self.stats.messages_dropped += 1;
            return Applied::Skipped;
        }
        if self.runtime[target.index()].paused {
            self.runtime[target.index()].inbox.push(Event::Deliver {
                source,
                target,
                message,
            });
            return Applied::Skipped;
        }
        self.stats.messages_delivered += 1;
        self.fold((self.now.0, 4u8, source.0, target.0, &message));
        if self.trace.enabled() {
            self.trace_line(format_args!("deliver {source}->{target} {message:?}"));
        }
        self.call(target, |state, context| {
            state.on_message(context, source, message)
        });
        Applied::Node(target)
    }

    fn apply_timer(&mut self, node: NodeId, incarnation: u32, generation: u64) -> Applied {
        let runtime = &mut self.runtime[node.index()];
        if runtime.incarnation != incarnation {
            return Applied::Skipped;
        }
        let Some(position) = runtime
            .timers
            .iter()
            .position(|t| t.generation == generation)
        else {
            return Applied::Skipped; // cancelled, replaced or rescheduled
        };
        if runtime.paused {
            runtime.inbox.push(Event::Timer {
                node,
                incarnation,
                generation,
            });
            return Applied::Skipped;
        }
        let timer = runtime.timers.swap_remove(position).timer;
        self.fold((self.now.0, 5u8, node.0, &timer));
        if self.trace.enabled() {
            self.trace_line(format_args!("timer {node} {timer:?}"));
        }
        self.call(node, |state, context| state.on_timer(context, timer));
        Applied::Node(node)
    }

    fn apply_request(&mut self, node: NodeId, request: ClientRequest) -> Applied {
        if !self.is_up(node) {
            // Connection refused: the request certainly did not run.
            let latency = self.client_latency.sample(&mut self.network_rng);
            self.push(
                self.now + latency,
                Event::ResponseArrives {
                    client: request.client.0,
                    request: request.id,
                    source: node,
                    response: ClientResponse::Fail {
                        reason: Cow::Borrowed("node down"),
                    },
                },
            );
            return Applied::Skipped;
        }
        if self.runtime[node.index()].paused {
            self.runtime[node.index()]
                .inbox
                .push(Event::RequestArrives { node, request });
            return Applied::Skipped;
        }
        self.fold((self.now.0, 6u8, node.0, &request));
        if self.trace.enabled() {
            self.trace_line(format_args!(
                "request {}->{node} {} {:?}",
                request.client, request.id, request.operation
            ));
        }
        self.call(node, |state, context| {
            state.on_client_request(context, request)
        });
        Applied::Node(node)
    }

    // ----- clients -----

    fn apply_client_ready(&mut self, client: u32) -> Applied {
        if self.now >= self.workload_end {
            return Applied::Skipped;
        }
        let workload = &self.scenario.workload;
        let key = self.workload_rng.below(u64::from(workload.keys));
        let mix = workload.mix;
        let pick = self
            .workload_rng
            .below(u64::from(mix.read + mix.write + mix.cas)) as u32;
        let state = &self.clients[client as usize];
        let operation = if pick < mix.read {
            Operation::Read { key }
        } else if pick < mix.read + mix.write {
            self.next_value += 1;
            Operation::Write {
                key,
                value: self.next_value,
            }
        } else {
            self.next_value += 1;
            Operation::Cas {
                key,
                from: state.known[key as usize].unwrap_or(0),
                to: self.next_value,
            }
        };
        let request = RequestId(self.next_request);
        self.next_request += 1;
        let target = state.target;
        let process = state.process;
        self.record(process, OpType::Invoke, &operation, None, None);
        let deadline = self.now + self.scenario.workload.timeout;
        self.clients[client as usize].pending = Some(Pending {
            request,
            operation: operation.clone(),
            invoked: self.now,
            deadline,
        });
        self.fold((self.now.0, 7u8, client, request.0, &operation));
        if self.trace.enabled() {
            self.trace_line(format_args!(
                "invoke c{client} process {process} {request} {operation:?} -> {target}"
            ));
        }
        let latency = self.client_latency.sample(&mut self.network_rng);
        self.push(
            self.now + latency,
            Event::RequestArrives {
                node: target,
                request: ClientRequest {
                    id: request,
                    client: ClientId(client),
                    operation,
                },
            },
        );
        if !self.clients[client as usize].alarm_armed {
            self.clients[client as usize].alarm_armed = true;
            self.push(deadline, Event::ClientTimeout { client });
        }
        Applied::Other
    }

    fn record(
        &mut self,
        process: u64,
        kind: OpType,
        operation: &Operation,
        read_value: Option<i64>,
        error: Option<Cow<'static, str>>,
    ) {
        self.history
            .push_operation(self.now, process, kind, operation, read_value, error);
    }

    fn apply_response(
        &mut self,
        client: u32,
        request: RequestId,
        source: NodeId,
        response: ClientResponse,
    ) -> Applied {
        let state = &mut self.clients[client as usize];
        let Some(pending) = state.pending.as_ref().filter(|p| p.request == request) else {
            return Applied::Skipped; // a late answer to an operation already timed out
        };
        let operation = pending.operation.clone();
        let invoked = pending.invoked;
        self.fold((self.now.0, 8u8, client, request.0, &response));
        if self.trace.enabled() {
            self.trace_line(format_args!(
                "response {source}->c{client} {request} {response:?}"
            ));
        }
        match response {
            ClientResponse::Redirect { leader_hint } => {
                let state = &mut self.clients[client as usize];
                state.target = leader_hint
                    .filter(|hint| hint.0 < self.node_count)
                    .unwrap_or(NodeId((source.0 + 1) % self.node_count));
                let target = state.target;
                let latency = self.client_latency.sample(&mut self.network_rng);
                let at = self.now + self.scenario.workload.redirect_backoff + latency;
                self.push(
                    at,
                    Event::RequestArrives {
                        node: target,
                        request: ClientRequest {
                            id: request,
                            client: ClientId(client),
                            operation,
                        },
                    },
                );
                return Applied::Other;
            }
            ClientResponse::Ok { value } => {
                let process = self.clients[client as usize].process;
                self.record(process, OpType::Ok, &operation, value, None);
                self.stats.operations_ok += 1;
                let known = &mut self.clients[client as usize].known;
                match operation {
                    Operation::Read { key } => known[key as usize] = value,
                    Operation::Write { key, value } => known[key as usize] = Some(value),
                    Operation::Cas { key, to, .. } => known[key as usize] = Some(to),
                }
                if let (Some(heal), Some(bound)) =
                    (self.heal_time, self.scenario.run.liveness_bound)
                {
                    if invoked >= heal && self.now <= heal + bound {
                        self.liveness_met = true;
                    }
                }
            }
            ClientResponse::Fail { reason } => {
                let process = self.clients[client as usize].process;
                self.record(process, OpType::Fail, &operation, None, Some(reason));
                self.stats.operations_fail += 1;
            }
            ClientResponse::Indeterminate { reason } => {
                self.complete_unknown(client, &operation, reason);
            }
        }
        self.clients[client as usize].pending = None;
        self.schedule_next(client);
        Applied::Other
    }

    /// Records `info` and gives the client a fresh process, as Jepsen does: its old operation may
    /// still take effect, so the same process must not appear to start another.
    fn complete_unknown(&mut self, client: u32, operation: &Operation, reason: Cow<'static, str>) {
        let process = self.clients[client as usize].process;
        self.record(process, OpType::Info, operation, None, Some(reason));
        self.stats.operations_info += 1;
        let clients = self.clients.len() as u64;
        let state = &mut self.clients[client as usize];
        state.process += clients;
        state.pending = None;
    }

    fn schedule_next(&mut self, client: u32) {
        let gap = self.think.sample(&mut self.workload_rng);
        self.push(self.now + gap, Event::ClientReady { client });
    }

    fn apply_client_timeout(&mut self, client: u32) -> Applied {
        let state = &mut self.clients[client as usize];
        state.alarm_armed = false;
        let Some(pending) = state.pending.as_ref() else {
            return Applied::Skipped;
        };
        if pending.deadline > self.now {
            // The operation that armed this alarm finished; the current one's deadline is later.
            let deadline = pending.deadline;
            state.alarm_armed = true;
            self.push(deadline, Event::ClientTimeout { client });
            return Applied::Skipped;
        }
        let operation = pending.operation.clone();
        let request = pending.request;
        self.fold((self.now.0, 9u8, client, request.0));
        self.trace_line(format_args!("timeout c{client} {request}"));
        self.complete_unknown(client, &operation, Cow::Borrowed("timeout"));
        // The node may be gone: try another one next time.
        let target = NodeId(self.workload_rng.below(u64::from(self.node_count)) as u32);
        self.clients[client as usize].target = target;
        self.schedule_next(client);
        Applied::Other
    }

    fn apply_stop(&mut self) {
        self.trace_line(format_args!("stop"));
        for client in 0..self.clients.len() as u32 {
            if let Some(pending) = self.clients[client as usize].pending.take() {
                self.complete_unknown(client, &pending.operation, Cow::Borrowed("run ended"));
            }
        }
    }

    fn liveness_verdict(&self) -> Verdict {
        match (self.heal_time, self.scenario.run.liveness_bound) {
            (Some(heal), Some(bound)) if !self.liveness_met => Verdict::LivenessTimeout {
                detail: format!(
                    "no client operation invoked after healing at t={heal} succeeded within {bound}"
                ),
            },
            _ => Verdict::Pass,
        }
    }

    // ----- the nemesis -----

    fn resolve(&mut self, node: NodeRef) -> NodeId {
        match node {
            NodeRef::Id(n) => NodeId(n),
            NodeRef::Leader => {
                let leader = self
                    .nodes
                    .iter()
                    .enumerate()
                    .filter_map(|(i, n)| n.as_ref().map(|n| (i, n.view())))
                    .filter(|(_, view)| view.role == Role::Leader)
                    .max_by_key(|(i, view)| (view.term, std::cmp::Reverse(*i)));
                match leader {
                    Some((i, _)) => NodeId(i as u32),
                    None => NodeId(self.nemesis_rng.below(u64::from(self.node_count)) as u32),
                }
            }
            NodeRef::Random => NodeId(self.nemesis_rng.below(u64::from(self.node_count)) as u32),
        }
    }

    fn open_window(&mut self, kind: FaultKind, label: String, nodes: Vec<NodeId>) -> usize {
        self.trace_line(format_args!("nemesis {label}"));
        self.windows.push(FaultWindow {
            kind,
            label,
            nodes,
            start: self.now,
            end: None,
        });
        let window = self.windows.len() - 1;
        self.open_windows.push(window);
        window
    }

    fn close_window(&mut self, window: usize) {
        if self.windows[window].end.is_none() {
            self.windows[window].end = Some(self.now);
        }
        self.open_windows.retain(|w| *w != window);
    }

    fn close_windows_of(&mut self, kind: FaultKind, node: Option<NodeId>) {
        let matching: Vec<usize> = self
            .open_windows
            .iter()
            .copied()
            .filter(|w| {
                let window = &self.windows[*w];
                window.kind == kind && node.is_none_or(|n| window.nodes == [n])
            })
            .collect();
        for window in matching {
            self.close_window(window);
        }
    }

    fn apply_fault(&mut self, index: usize) -> Applied {
        let faults = self.faults;
        let fault = &faults[index];
        let action = fault.action;
        let mut nodes = Vec::new();
        self.fold((self.now.0, 10u8, index));
        let window = match action {
            FaultAction::Partition => {
                let (groups, label) = self.partition_groups(index);
                self.network.partition(&groups);
                self.close_windows_of(FaultKind::Partition, None);
                self.partition_owner = Some(index);
                if let Some(isolated) = groups.first().filter(|g| g.len() == 1) {
                    nodes.push(isolated[0]);
                }
                let affected = nodes.clone();
                Some(self.open_window(FaultKind::Partition, label, affected))
            }
            FaultAction::Cut => {
                let from = self.resolve(fault.from.expect("validated"));
                let to = self.resolve(fault.to.expect("validated"));
                if from == to {
                    // "leader" and a fixed node can resolve to the same node: nothing to cut.
                    self.trace_line(format_args!("nemesis cut {from}->{to}: same node, skipped"));
                    None
                } else {
                    self.network.cut(from, to);
                    nodes = vec![from, to];
                    Some(self.open_window(
                        FaultKind::Partition,
                        format!("cut {from}->{to}"),
                        vec![from, to],
                    ))
                }
            }
            FaultAction::Heal => {
                self.network.heal();
                self.partition_owner = None;
                self.trace_line(format_args!("nemesis heal network"));
                self.close_windows_of(FaultKind::Partition, None);
                None
            }
            FaultAction::Crash => {
                let node = self.resolve(fault.node.expect("validated"));
                nodes.push(node);
                if self.is_up(node) {
                    let window =
                        self.open_window(FaultKind::Crash, format!("crash {node}"), vec![node]);
                    self.crash_node(node);
                    Some(window)
                } else {
                    None
                }
            }
            FaultAction::Restart => {
                let node = self.resolve(fault.node.expect("validated"));
                nodes.push(node);
                self.restart(node);
                None
            }
            FaultAction::Pause => {
                let node = self.resolve(fault.node.expect("validated"));
                nodes.push(node);
                if self.is_up(node) && !self.runtime[node.index()].paused {
                    self.runtime[node.index()].paused = true;
                    Some(self.open_window(FaultKind::Pause, format!("pause {node}"), vec![node]))
                } else {
                    None
                }
            }
            FaultAction::Resume => {
                let node = self.resolve(fault.node.expect("validated"));
                nodes.push(node);
                self.resume(node);
                None
            }
            FaultAction::ClockJump => {
                let node = self.resolve(fault.node.expect("validated"));
                let by = fault.by.expect("validated");
                nodes.push(node);
                self.runtime[node.index()].clock.jump(self.now, by.0);
                self.reschedule_timers(node);
                let window =
                    self.open_window(FaultKind::Clock, format!("clock {node} {by}"), vec![node]);
                if fault.duration.is_none() {
                    self.close_window(window);
                }
                Some(window)
            }
            FaultAction::ClockDrift => {
                let node = self.resolve(fault.node.expect("validated"));
                let ppm = fault.drift_ppm.expect("validated");
                nodes.push(node);
                self.runtime[node.index()].clock.set_drift(self.now, ppm);
                self.reschedule_timers(node);
                Some(self.open_window(
                    FaultKind::Clock,
                    format!("drift {node} {ppm}ppm"),
                    vec![node],
                ))
            }
            FaultAction::Network => {
                let rates = FaultRates {
                    loss: fault.loss.unwrap_or_default(),
                    duplicate: fault.duplicate.unwrap_or_default(),
                    reorder: fault.reorder.unwrap_or_default(),
                };
                self.network.set_rates(rates);
                self.close_windows_of(FaultKind::Network, None);
                let label = format!(
                    "network loss {} dup {} reorder {}",
                    rates.loss, rates.duplicate, rates.reorder
                );
                Some(self.open_window(FaultKind::Network, label, Vec::new()))
            }
        };
        let touched = match nodes.as_slice() {
            [node] => Applied::Node(*node),
            _ => Applied::Other,
        };
        if let (Some(duration), Some(window)) = (self.faults[index].duration, window) {
            self.push(
                self.now + duration,
                Event::FaultEnd {
                    index,
                    nodes,
                    window,
                },
            );
        }
        touched
    }

    fn partition_groups(&mut self, index: usize) -> (Vec<Vec<NodeId>>, String) {
        let faults = self.faults;
        let fault = &faults[index];
        let n = self.node_count;
        match fault.shape.expect("validated") {
            Shape::Isolate => {
                let node = self.resolve(fault.node.expect("validated"));
                (shapes::isolate(n, node), format!("isolate {node}"))
            }
            Shape::Halves => {
                let groups = shapes::halves(n, &mut self.nemesis_rng);
                let label = format!("halves {}", describe_groups(&groups));
                (groups, label)
            }
            Shape::MajoritiesRing => (shapes::majorities_ring(n), "majorities ring".to_string()),
            Shape::Bridge => (shapes::bridge(n), "bridge".to_string()),
            Shape::Groups => {
                let groups: Vec<Vec<NodeId>> = fault
                    .groups
                    .as_ref()
                    .expect("validated")
                    .iter()
                    .map(|g| g.iter().map(|n| NodeId(*n)).collect())
                    .collect();
                let label = format!("partition {}", describe_groups(&groups));
                (groups, label)
            }
        }
    }

    fn restart(&mut self, node: NodeId) {
        if !self.is_up(node) {
            self.close_windows_of(FaultKind::Crash, Some(node));
            self.trace_line(format_args!("nemesis restart {node}"));
            self.start_node(node);
        }
    }

    fn resume(&mut self, node: NodeId) {
        if !self.runtime[node.index()].paused {
            return;
        }
        self.runtime[node.index()].paused = false;
        self.close_windows_of(FaultKind::Pause, Some(node));
        self.trace_line(format_args!("resume {node}"));
        // Each waiting event becomes an event of its own, now, in arrival order, so invariants
        // run after each as after any other event.
        let incarnation = self.runtime[node.index()].incarnation;
        let inbox = std::mem::take(&mut self.runtime[node.index()].inbox);
        for event in inbox {
            self.push(
                self.now,
                Event::FromInbox {
                    node,
                    incarnation,
                    event: Box::new(event),
                },
            );
        }
    }

    fn apply_fault_end(&mut self, index: usize, nodes: &[NodeId], window: usize) -> Applied {
        let faults = self.faults;
        let fault = &faults[index];
        self.fold((self.now.0, 11u8, index));
        match fault.action {
            FaultAction::Partition => {
                if self.partition_owner == Some(index) {
                    self.network.heal();
                    self.partition_owner = None;
                    self.trace_line(format_args!("nemesis heal network"));
                }
            }
            FaultAction::Cut => {
                self.network.restore(nodes[0], nodes[1]);
                self.trace_line(format_args!("nemesis restore {}->{}", nodes[0], nodes[1]));
            }
            FaultAction::Crash => self.restart(nodes[0]),
            FaultAction::Pause => self.resume(nodes[0]),
            FaultAction::ClockJump => {
                let by = fault.by.expect("validated").0;
                self.runtime[nodes[0].index()].clock.jump(self.now, -by);
                self.reschedule_timers(nodes[0]);
                self.trace_line(format_args!("nemesis clock {} back", nodes[0]));
            }
            FaultAction::ClockDrift => {
                let base = self.runtime[nodes[0].index()].base_drift_ppm;
                self.runtime[nodes[0].index()]
                    .clock
                    .set_drift(self.now, base);
                self.reschedule_timers(nodes[0]);
                self.trace_line(format_args!("nemesis drift {} back to {base}ppm", nodes[0]));
            }
            FaultAction::Network => {
                self.network.set_rates(FaultRates::default());
                self.trace_line(format_args!("nemesis network rates back to normal"));
            }
            FaultAction::Heal | FaultAction::Restart | FaultAction::Resume => {}
        }
        self.close_window(window);
        match (fault.action, nodes) {
            (FaultAction::Crash | FaultAction::Pause, [node]) => Applied::Node(*node),
            _ => Applied::Other,
        }
    }

    fn apply_heal(&mut self) -> Applied {
        self.fold((self.now.0, 12u8));
        self.trace_line(format_args!("nemesis heal all: liveness phase begins"));
        self.network.heal();
        self.network.set_rates(FaultRates::default());
        self.partition_owner = None;
        for node in (0..self.node_count).map(NodeId) {
            self.resume(node);
            self.restart(node);
            let base = self.runtime[node.index()].base_drift_ppm;
            if self.runtime[node.index()].clock.drift_ppm() != base {
                self.runtime[node.index()].clock.set_drift(self.now, base);
                self.reschedule_timers(node);
            }
        }
        for window in self.open_windows.clone() {
            self.close_window(window);
        }
        self.heal_time = Some(self.now);
        Applied::Other
    }

    fn finish(mut self, verdict: Verdict) -> Result<RunData, RunError> {
        self.stats.simulated_time = self.now;
        self.stats.queue_depth_mean = self.queue.mean_depth();
        for (kind, count) in &self.kind_counts {
            *self
                .stats
                .messages_by_kind
                .entry(kind.to_string())
                .or_default() += count;
        }
        if !verdict.is_pass() {
            let text = verdict.to_string();
            self.trace_line(format_args!("verdict {text}"));
        }
        let trace = std::mem::replace(&mut self.trace, TraceSink::new(None));
        trace.finish()?;
        Ok(RunData {
            scenario: self.scenario.display_name().to_string(),
            protocol: P::NAME.to_string(),
            seed: self.seed,
            node_count: self.node_count,
            reproduce: String::new(),
            verdict,
            stats: self.stats,
            fingerprint: format!("{:016x}", self.fingerprint.finish()),
            faults: self.windows,
            history: self.history,
            heal_time: self.heal_time,
            stuck_operation: None,
            check_explanation: None,
        })
    }
}

enum Applied {
    /// Nothing happened (a stale timer, a message to a crashed node...): not counted.
    Skipped,
    /// A handler of this node ran.
    Node(NodeId),
    /// Something else happened (a client or nemesis step).
    Other,
}

fn expected_history_len(scenario: &Scenario) -> usize {
    let workload = &scenario.workload;
    let operations = u128::from(workload.clients)
        * u128::from(workload.rate)
        * u128::from(scenario.run.duration.as_nanos())
        / 1_000_000_000;
    // Capped, so that a huge scenario does not reserve memory it may never use.
    (operations * 2).min(1 << 22) as usize
}

fn describe_groups(groups: &[Vec<NodeId>]) -> String {
    groups
        .iter()
        .map(|g| {
            let names: Vec<String> = g.iter().map(|n| n.to_string()).collect();
            format!("[{}]", names.join(" "))
        })
        .collect::<Vec<_>>()
        .join(" ")
}
