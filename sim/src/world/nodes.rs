//! The node runtime: calling handlers, applying their effects, timers on local clocks, disks
//! with fsync latency, and persist-before-send.

use super::{Applied, Event, Outgoing, World};
use crate::clock::ProcessClocks;
use crate::invariants::Invariants;
use crate::network::{Network, Transmission};
use crate::protocol::{ClientId, Context, Effect, NodeConfig, NodeId, Protocol, TimerDelay};
use crate::rng::{Purpose, SimRng};
use crate::scenario::Scenario;
use crate::time::{SimDuration, SimTime};
use std::collections::VecDeque;

/// A timer a node set, waiting for its local deadline.
struct ActiveTimer<T> {
    timer: T,
    generation: u64,
    local_deadline: SimTime,
}

/// What the engine keeps for one node across crashes: its clock, disk and inbox.
pub(super) struct NodeRuntime<P: Protocol> {
    pub(super) clock: ProcessClocks,
    pub(super) base_drift_ppm: i64,
    pub(super) incarnation: u32,
    pub(super) paused: bool,
    pub(super) inbox: Vec<Event<P>>,
    timers: Vec<ActiveTimer<P::Timer>>,
    disk: P::Durable,
    started_once: bool,
    pending_writes: VecDeque<(SimTime, P::Update)>,
    durable_until: SimTime,
    /// This node's randomized timer delays: a stream of its own, so that what other nodes and
    /// faults do never shifts them.
    timer_rng: SimRng,
    /// This node's fsync latencies.
    storage_rng: SimRng,
}

impl<P: Protocol> NodeRuntime<P> {
    /// Node `node`'s runtime at the start of the run, with its configured clock.
    pub(super) fn new(scenario: &Scenario, seed: u64, node: u32) -> NodeRuntime<P> {
        let spec = scenario.clocks.nodes.iter().rev().find(|c| c.node == node);
        let (offset, drift) = spec.map_or((0, 0), |c| (c.offset.0, c.drift_ppm));
        NodeRuntime {
            clock: ProcessClocks::new(offset, drift),
            base_drift_ppm: drift,
            incarnation: 0,
            paused: false,
            inbox: Vec::new(),
            timers: Vec::new(),
            disk: P::Durable::default(),
            started_once: false,
            pending_writes: VecDeque::new(),
            durable_until: SimTime::ZERO,
            timer_rng: SimRng::keyed(seed, Purpose::NodeTimers, &[u64::from(node)]),
            storage_rng: SimRng::keyed(seed, Purpose::NodeStorage, &[u64::from(node)]),
        }
    }
}

/// The network of a scenario: its default link model and per-link overrides.
pub(super) fn build_network(scenario: &Scenario) -> Network {
    let node_count = scenario.cluster.nodes;
    let base = scenario.network.default_link();
    let mut network = Network::new(node_count, base.clone());
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
    network
}

impl<P: Protocol, I: Invariants<P>> World<'_, '_, P, I> {
    pub(super) fn start_node(&mut self, node: NodeId) {
        let index = node.index();
        self.flush_disk(node, false);
        let runtime = &mut self.runtime[index];
        runtime.incarnation += 1;
        runtime.paused = false;
        let (monotonic, wall) = (
            runtime.clock.monotonic_at(self.now),
            runtime.clock.wall_at(self.now),
        );
        let durable = runtime.started_once.then_some(&runtime.disk);
        let config = NodeConfig {
            id: node,
            node_count: self.node_count,
            options: &self.options,
            bug: self.scenario.protocol.bug.as_deref(),
        };
        self.context.reset(node, monotonic, wall);
        let state = P::start(&config, durable, &mut self.context);
        runtime.started_once = true;
        self.nodes[index] = Some(state);
        self.fold((self.now.0, 2u8, node.0));
        self.trace_line(format_args!("start {node}"));
        self.apply_effects(node);
    }

    pub(super) fn crash_node(&mut self, node: NodeId) {
        assert!(
            self.is_up(node),
            "detsim bug: crashing {node}, which is down"
        );
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
    pub(super) fn call(&mut self, node: NodeId, handler: impl FnOnce(&mut P, &mut Context<P>)) {
        assert!(
            !self.runtime[node.index()].paused,
            "detsim bug: a handler of paused {node} was called"
        );
        self.flush_disk(node, false);
        let clock = &self.runtime[node.index()].clock;
        let (monotonic, wall) = (clock.monotonic_at(self.now), clock.wall_at(self.now));
        self.context.reset(node, monotonic, wall);
        let state = self.nodes[node.index()]
            .as_mut()
            .expect("detsim bug: handler called on a crashed node");
        handler(state, &mut self.context);
        self.apply_effects(node);
    }

    fn apply_effects(&mut self, node: NodeId) {
        let mut effects = std::mem::take(&mut self.effects);
        self.context.swap_effects(&mut effects);
        // Applied in order, popped from the back of the reversed list (cheaper than a drain).
        effects.reverse();
        while let Some(effect) = effects.pop() {
            match effect {
                Effect::Send { target, message } => {
                    self.stats.messages_sent += 1;
                    self.stats.bytes_sent += P::message_bytes(&message);
                    self.count_kind(P::message_kind(&message));
                    self.send_or_hold(node, Outgoing::Message { target, message });
                }
                Effect::Reply { client, response } => {
                    assert!(
                        (client.0 as usize) < self.clients.len(),
                        "{node} replies to unknown client {client}"
                    );
                    self.send_or_hold(node, Outgoing::Reply { client, response })
                }
                Effect::SetTimer { timer, delay } => self.set_timer(node, timer, delay),
                Effect::CancelTimer { timer } => {
                    self.runtime[node.index()]
                        .timers
                        .retain(|t| t.timer != timer);
                }
                Effect::Persist { update } => self.persist(node, update),
                Effect::Moment { name } => self.on_moment(node, name),
            }
        }
        self.effects = effects;
    }

    fn count_kind(&mut self, kind: &'static str) {
        // Few kinds, mostly the same one again: a linear scan beats a map here.
        let kinds = self.kind_counts.iter().map(|(known, _)| *known);
        match crate::recorder::position_of_name(kinds, kind) {
            Some(index) => self.kind_counts[index].1 += 1,
            None => self.kind_counts.push((kind, 1)),
        }
    }

    fn persist(&mut self, node: NodeId, update: P::Update) {
        self.stats.persists += 1;
        self.fold((3u8, &update));
        let runtime = &mut self.runtime[node.index()];
        let latency = self.scenario.storage.fsync.sample(&mut runtime.storage_rng);
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

    pub(super) fn apply_depart(
        &mut self,
        source: NodeId,
        incarnation: u32,
        outgoing: Outgoing<P>,
    ) -> Applied {
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

    /// When a message sent now from `source` to `target` with `latency` arrives: now plus the
    /// latency, but on FIFO links never before the last message scheduled on the link (events
    /// at one time keep their order, so it also arrives after it).
    fn arrival(&mut self, source: NodeId, target: NodeId, latency: SimDuration) -> SimTime {
        let at = self.now + latency;
        if self.link_arrivals.is_empty() {
            return at;
        }
        let slot = source.index() * self.node_count as usize + target.index();
        let at = at.max(self.link_arrivals[slot]);
        self.link_arrivals[slot] = at;
        at
    }

    fn depart(&mut self, source: NodeId, outgoing: Outgoing<P>) {
        match outgoing {
            Outgoing::Message { target, message } => {
                if self.trace.enabled() {
                    // The departure, for message diagrams: the arrival's `deliver` line carries
                    // the same text.
                    let kind = P::message_kind(&message);
                    self.trace_line(format_args!("send {source}->{target} {kind} {message:?}"));
                }
                let link = source.index() * self.node_count as usize + target.index();
                let rng = &mut self.link_rngs[link];
                match self.network.transmit(source, target, rng) {
                    Transmission::Dropped => {
                        self.stats.messages_dropped += 1;
                    }
                    Transmission::Delivered(latency) => {
                        let event = Event::Deliver {
                            source,
                            target,
                            message,
                        };
                        let at = self.arrival(source, target, latency);
                        self.push(at, event);
                    }
                    Transmission::Duplicated(first, second) => {
                        self.stats.messages_duplicated += 1;
                        let copy = Event::Deliver {
                            source,
                            target,
                            message: message.clone(),
                        };
                        let at = self.arrival(source, target, first);
                        self.push(at, copy);
                        let event = Event::Deliver {
                            source,
                            target,
                            message,
                        };
                        let at = self.arrival(source, target, second);
                        self.push(at, event);
                    }
                }
            }
            Outgoing::Reply { client, response } => {
                if self.trace.enabled() {
                    self.trace_line(format_args!("send {source}->{client} reply {response:?}"));
                }
                if !self.client_reaches(client.0, source) {
                    self.stats.messages_dropped += 1;
                    return;
                }
                let transmission = self.network.transmit_client(
                    &self.clients.latency,
                    &mut self.clients.reply_rngs[client.0 as usize],
                );
                let arrival = |response| Event::ResponseArrives {
                    client: client.0,
                    source,
                    response,
                };
                match transmission {
                    Transmission::Dropped => self.stats.messages_dropped += 1,
                    Transmission::Delivered(latency) => {
                        self.push(self.now + latency, arrival(response));
                    }
                    Transmission::Duplicated(first, second) => {
                        self.stats.messages_duplicated += 1;
                        self.push(self.now + first, arrival(response.clone()));
                        self.push(self.now + second, arrival(response));
                    }
                }
            }
        }
    }

    fn set_timer(&mut self, node: NodeId, timer: P::Timer, delay: TimerDelay) {
        let delay = match delay {
            TimerDelay::Fixed(delay) => delay,
            TimerDelay::Range(low, high) => {
                let rng = &mut self.runtime[node.index()].timer_rng;
                SimDuration(rng.between(low.0, high.0))
            }
        };
        let generation = self.next_generation;
        self.next_generation += 1;
        let runtime = &mut self.runtime[node.index()];
        let (local_deadline, fire_at) = runtime.clock.deadline_and_firing(self.now, delay);
        assert!(
            fire_at >= self.now,
            "detsim bug: {node}'s timer would fire in the past"
        );
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
    pub(super) fn reschedule_timers(&mut self, node: NodeId) {
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

    pub(super) fn is_up(&self, node: NodeId) -> bool {
        self.nodes[node.index()].is_some()
    }

    pub(super) fn apply_from_inbox(
        &mut self,
        node: NodeId,
        incarnation: u32,
        event: Event<P>,
    ) -> Applied {
        if self.runtime[node.index()].incarnation != incarnation {
            if let Event::Deliver { .. } = event {
                self.stats.messages_dropped += 1;
            }
            return Applied::Skipped;
        }
        match event {
            // It already arrived: a partition since then cannot take it back.
            Event::Deliver {
                source,
                target,
                message,
            } => self.apply_deliver(source, target, message, true),
            other => self.apply(other),
        }
    }

    pub(super) fn apply_deliver(
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

    pub(super) fn apply_timer(
        &mut self,
        node: NodeId,
        incarnation: u32,
        generation: u64,
    ) -> Applied {
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

    pub(super) fn apply_request(
        &mut self,
        node: NodeId,
        client: ClientId,
        request: P::Request,
    ) -> Applied {
        if !self.is_up(node) {
            // Connection refused: the request certainly did not run, and the client learns it
            // one link latency later.
            let latency = self.clients.refusal_latency(client.0);
            let event = Event::Unreachable {
                client: client.0,
                node,
                request,
            };
            self.push(self.now + latency, event);
            return Applied::Skipped;
        }
        if self.runtime[node.index()].paused {
            self.runtime[node.index()]
                .inbox
                .push(Event::RequestArrives {
                    node,
                    client,
                    request,
                });
            return Applied::Skipped;
        }
        self.fold((self.now.0, 6u8, node.0, client.0, &request));
        if self.trace.enabled() {
            self.trace_line(format_args!("request {client}->{node} {request:?}"));
        }
        self.call(node, |state, context| {
            state.on_client_request(context, client, request)
        });
        Applied::Node(node)
    }
}
