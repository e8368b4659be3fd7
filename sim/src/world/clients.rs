//! The client processes: the generic mechanics every workload shares.
//!
//! Each client process runs a closed loop: think (an exponential gap that gives the scenario's
//! rate), draw the next operation from the workload, record its invocation, hand it to the
//! protocol's client half, and wait until the half completes it or its deadline passes. At the
//! deadline the engine records `info` and gives the client a fresh Jepsen process number: its
//! old operation may still take effect, so the same process must not appear to start another.
//! What a client asks is the workload's business; how it talks to the cluster is the client
//! half's. Requests and replies cross the network: the client link's latency, the network's
//! loss, duplication and reordering, and — for a client placed beside a node — that node's
//! partitions.
//!
//! Each client process has its own clocks ([`ProcessClocks`]): its half's timers run on its
//! monotonic clock, and its half can read its wall clock. A paused client (a GC pause) holds
//! every event meant for it — answers, timers, its next operation, its deadline — and takes
//! them in arrival order when it resumes; its clocks run on meanwhile.

use super::{Applied, Event, World};
use crate::client::{
    ClientConfig, ClientContext, ClientEffect, ClientHalf, ClientTimer, RunningTimers,
};
use crate::clock::ProcessClocks;
use crate::completion::{Completion, CompletionClass};
use crate::invariants::{CompletionEvent, Invariants};
use crate::network::{Latency, Transmission};
use crate::protocol::{ClientId, NodeId, Protocol, RequestId};
use crate::rng::{Purpose, SimRng, Stream};
use crate::scenario::{Placement, Scenario};
use crate::time::{SimDuration, SimTime};
use crate::workload::{OperationOf, OutputOf, Workload};
use std::borrow::Cow;

/// An operation a client has invoked and not yet completed.
struct Pending<O> {
    request: RequestId,
    operation: O,
    invoked: SimTime,
    deadline: SimTime,
}

/// One client process.
struct ClientState<P: Protocol> {
    /// Jepsen's process number: the client's index plus a multiple of the client count.
    process: u64,
    half: P::Client,
    pending: Option<Pending<OperationOf<P::Workload>>>,
    alarm_armed: bool,
    /// The half's running timers, which its context sets and cancels directly. One queued
    /// alarm stands for all of them (client halves set and cancel a retry timer per
    /// operation, and most are cancelled long before they are due): a timer set later than
    /// the alarm costs no queue event, a cancelled one is simply removed, and the alarm, when
    /// it rings, fires what is due and re-arms for the rest.
    timers: RunningTimers<ClientTimer<P>>,
    /// The true time and generation of the queued alarm, if one is.
    alarm: Option<(SimTime, u64)>,
    clock: ProcessClocks,
    base_drift_ppm: i64,
    paused: bool,
    /// Events that came while the client was paused, in arrival order.
    inbox: Vec<Event<P>>,
    /// How many operations the client has drawn (invoked or skipped).
    drawn: u64,
}

/// Open-loop arrivals: a Poisson stream at the whole workload's rate, on streams of its own so
/// that arrival times — and, with reply-independent draws, the operations in arrival order —
/// depend only on the seed.
struct OpenLoop {
    gap: Latency,
    arrivals_rng: SimRng,
    operations_rng: SimRng,
    /// Arrival times of operations waiting for a free client, oldest first.
    backlog: std::collections::VecDeque<SimTime>,
}

/// Every client process and the workload they run.
pub(super) struct Clients<P: Protocol> {
    states: Vec<ClientState<P>>,
    workload: P::Workload,
    reply_independent: bool,
    /// Per client, the stream its operations are drawn from when draws are reply-independent.
    operation_rngs: Vec<SimRng>,
    /// Per client, its think times.
    think_rngs: Vec<SimRng>,
    /// Per client, its half's choices (and its operations unless draws are reply-independent).
    choice_rngs: Vec<SimRng>,
    /// Per client, its requests' (and refused connections') network draws.
    request_rngs: Vec<SimRng>,
    /// Per client, the network draws of replies to it.
    pub(super) reply_rngs: Vec<SimRng>,
    pub(super) latency: Latency,
    think: Latency,
    timeout: SimDuration,
    redirect_backoff: SimDuration,
    retry_after: SimDuration,
    failover_after: SimDuration,
    /// Per client, the node it sits beside (`placement = "with-nodes"`), or `None` outside.
    homes: Vec<Option<NodeId>>,
    /// No operation is invoked from here on: the last ones still get their full timeout.
    workload_end: SimTime,
    /// The open-loop arrival process, when `arrivals = "open"`.
    open: Option<OpenLoop>,
    next_request: u64,
    effects: Vec<ClientEffect<P>>,
    /// Whether an operation invoked after healing was answered within the liveness bound.
    pub(super) liveness_met: bool,
}

impl<P: Protocol> Clients<P> {
    pub(super) fn new(scenario: &Scenario, seed: u64, workload: P::Workload) -> Clients<P> {
        let section = &scenario.workload;
        let mean_gap = SimDuration(1_000_000_000 / u64::from(section.rate));
        let duration = scenario.run.duration;
        let workload_end = SimTime(if duration > section.timeout {
            duration.0 - section.timeout.0
        } else {
            duration.0
        });
        let operation_rngs = if section.reply_independent {
            (0..section.clients)
                .map(|client| SimRng::substream(seed, Stream::Workload, client))
                .collect()
        } else {
            Vec::new()
        };
        let open = (section.arrivals == crate::scenario::Arrivals::Open).then(|| {
            let total = u64::from(section.rate) * u64::from(section.clients);
            let mean = SimDuration(1_000_000_000 / total.max(1));
            OpenLoop {
                gap: Latency::Exponential {
                    min: SimDuration::ZERO,
                    mean,
                    max: SimDuration(mean.0.saturating_mul(10)),
                },
                arrivals_rng: SimRng::substream(seed, Stream::Workload, u32::MAX),
                operations_rng: SimRng::substream(seed, Stream::Workload, u32::MAX - 1),
                backlog: std::collections::VecDeque::new(),
            }
        });
        let per_client = |stream| {
            (0..section.clients)
                .map(|client| SimRng::keyed(seed, stream, &[u64::from(client)]))
                .collect::<Vec<_>>()
        };
        Clients {
            think_rngs: per_client(Purpose::ClientThink),
            choice_rngs: per_client(Purpose::ClientChoices),
            request_rngs: per_client(Purpose::ClientRequests),
            reply_rngs: per_client(Purpose::ClientReplies),
            open,
            states: Vec::with_capacity(section.clients as usize),
            workload,
            reply_independent: section.reply_independent,
            operation_rngs,
            latency: section.client_latency.clone(),
            think: Latency::Exponential {
                min: SimDuration::ZERO,
                mean: mean_gap,
                max: SimDuration(mean_gap.0.saturating_mul(10)),
            },
            timeout: section.timeout,
            redirect_backoff: section.redirect_backoff,
            retry_after: section.retry_after(),
            failover_after: section.failover_after(),
            homes: (0..section.clients)
                .map(|client| match section.placement {
                    Placement::Outside => None,
                    Placement::WithNodes => Some(NodeId(client % scenario.cluster.nodes)),
                })
                .collect(),
            workload_end,
            next_request: 0,
            effects: Vec::new(),
            liveness_met: false,
        }
    }

    /// How many client processes.
    pub(super) fn len(&self) -> usize {
        self.states.len()
    }

    /// How long client `client` takes to learn that a node refused its connection: one
    /// client-link latency, drawn from the client's request stream.
    pub(super) fn refusal_latency(&mut self, client: u32) -> SimDuration {
        self.latency.sample(&mut self.request_rngs[client as usize])
    }

    pub(super) fn into_workload(self) -> P::Workload {
        self.workload
    }
}

impl<P: Protocol, I: Invariants<P>> World<'_, '_, P, I> {
    /// Starts every client half, in client order.
    pub(super) fn start_clients(&mut self) {
        for client in 0..self.scenario.workload.clients {
            let config = ClientConfig {
                id: ClientId(client),
                node_count: self.node_count,
                options: &self.options,
                bug: self.scenario.protocol.bug.as_deref(),
                redirect_backoff: self.clients.redirect_backoff,
                retry_after: self.clients.retry_after,
                failover_after: self.clients.failover_after,
            };
            let spec = (self.scenario.clocks.clients.iter().rev()).find(|c| c.client == client);
            let (offset, drift) = spec.map_or((0, 0), |c| (c.offset.0, c.drift_ppm));
            let clock = ProcessClocks::new(offset, drift);
            let mut context = ClientContext::new(
                ClientId(client),
                self.node_count,
                clock.monotonic_at(self.now),
                None,
                &mut self.clients.choice_rngs[client as usize],
                &mut self.clients.effects,
            )
            .with_wall_clock(clock.wall_at(self.now));
            let half = P::Client::start(&config, &mut context);
            assert!(
                self.clients.effects.is_empty(),
                "a client half has nothing to do before its first operation"
            );
            self.clients.states.push(ClientState {
                process: u64::from(client),
                half,
                pending: None,
                alarm_armed: false,
                timers: RunningTimers::new(),
                alarm: None,
                clock,
                base_drift_ppm: drift,
                paused: false,
                inbox: Vec::new(),
                drawn: 0,
            });
        }
    }

    pub(super) fn schedule_first_operations(&mut self) {
        if let Some(open) = &mut self.clients.open {
            let gap = open.gap.sample(&mut open.arrivals_rng);
            self.push(SimTime::ZERO + gap, Event::Arrival);
            return;
        }
        for client in 0..self.clients.len() as u32 {
            let gap = (self.clients.think).sample(&mut self.clients.think_rngs[client as usize]);
            self.push(SimTime::ZERO + gap, Event::ClientReady { client });
        }
    }

    /// Calls one handler of `client`'s half and applies its effects. Returns whether the half
    /// did anything (pushed an effect, or set or cancelled a timer).
    fn call_client(
        &mut self,
        client: u32,
        handler: impl FnOnce(&mut P::Client, &mut ClientContext<'_, P>),
    ) -> bool {
        let index = client as usize;
        let clients = &mut self.clients;
        let state = &mut clients.states[index];
        let request = state.pending.as_ref().map(|p| p.request);
        let (monotonic, wall) = (
            state.clock.monotonic_at(self.now),
            state.clock.wall_at(self.now),
        );
        let mut context = ClientContext::new(
            ClientId(client),
            self.node_count,
            monotonic,
            request,
            &mut clients.choice_rngs[index],
            &mut clients.effects,
        )
        .with_wall_clock(wall)
        .with_timers(&mut state.timers);
        handler(&mut state.half, &mut context);
        let timers = &mut state.timers;
        let touched = std::mem::replace(&mut timers.touched, false);
        let set = std::mem::replace(&mut timers.set, false);
        let acted = touched || !self.clients.effects.is_empty();
        if self.clients.effects.len() == 1 {
            // The common case (one send, or one completion): no drain bookkeeping.
            let effect = self.clients.effects.pop().expect("one effect");
            self.apply_client_effect(client, effect);
        } else if !self.clients.effects.is_empty() {
            // Applied in order, popped from the back of the reversed list (cheaper than a
            // drain for the usual two or three effects).
            let mut effects = std::mem::take(&mut self.clients.effects);
            effects.reverse();
            while let Some(effect) = effects.pop() {
                self.apply_client_effect(client, effect);
            }
            self.clients.effects = effects;
        }
        if set {
            self.alarm_for_new_timers(client);
        }
        acted
    }

    /// After a handler set timers: the alarm rings earlier if one of them is due before it.
    fn alarm_for_new_timers(&mut self, client: u32) {
        let state = &self.clients.states[client as usize];
        let Some(earliest) = state.timers.earliest() else {
            return;
        };
        let fire_at = state.clock.true_time_of(self.now, earliest);
        if state.alarm.is_none_or(|(alarm, _)| fire_at < alarm) {
            self.arm_client_alarm(client, fire_at);
        }
    }

    #[inline]
    fn apply_client_effect(&mut self, client: u32, effect: ClientEffect<P>) {
        match effect {
            ClientEffect::Send {
                target,
                request,
                delay,
            } => self.send_request(client, target, request, delay),
            ClientEffect::SetTimer { .. } | ClientEffect::CancelTimer { .. } => {
                unreachable!("the engine's client contexts keep timers themselves (call_client)")
            }
            ClientEffect::Complete { completion, node } => {
                self.complete(client, completion, node);
            }
        }
    }

    /// A client's request crosses the network: the client link's latency, the network's loss,
    /// duplication and reordering, and — for a client beside a node — that node's partitions.
    fn send_request(
        &mut self,
        client: u32,
        target: NodeId,
        request: P::Request,
        delay: SimDuration,
    ) {
        if !self.client_reaches(client, target) {
            self.stats.messages_dropped += 1;
            return;
        }
        if self.trace.enabled() {
            self.trace_line(format_args!("send c{client}->{target} request {request:?}"));
        }
        let transmission = self.network.transmit_client(
            &self.clients.latency,
            &mut self.clients.request_rngs[client as usize],
        );
        let departs = self.now + delay;
        let arrival = |request| Event::RequestArrives {
            node: target,
            client: ClientId(client),
            request,
        };
        match transmission {
            Transmission::Dropped => self.stats.messages_dropped += 1,
            Transmission::Delivered(latency) => self.push(departs + latency, arrival(request)),
            Transmission::Duplicated(first, second) => {
                self.stats.messages_duplicated += 1;
                self.push(departs + first, arrival(request.clone()));
                self.push(departs + second, arrival(request));
            }
        }
    }

    /// Whether client `client` and `node` can talk now (both ways: partitions here are
    /// symmetric for clients).
    pub(super) fn client_reaches(&self, client: u32, node: NodeId) -> bool {
        match self.clients.homes[client as usize] {
            None => true,
            Some(home) => {
                home == node
                    || (self.network.connected(home, node) && self.network.connected(node, home))
            }
        }
    }

    /// An open-loop arrival: the first idle client takes it, or it waits for one.
    pub(super) fn apply_arrival(&mut self) -> Applied {
        if self.now >= self.clients.workload_end {
            return Applied::Skipped;
        }
        let open = self
            .clients
            .open
            .as_mut()
            .expect("arrivals only in open loop");
        let gap = open.gap.sample(&mut open.arrivals_rng);
        self.push(self.now + gap, Event::Arrival);
        let idle = (self.clients.states.iter()).position(|s| s.pending.is_none() && !s.paused);
        match idle {
            Some(client) => self.invoke(client as u32),
            None => {
                let open = self.clients.open.as_mut().expect("open loop");
                open.backlog.push_back(self.now);
                self.stats.arrivals_waited += 1;
                Applied::Other
            }
        }
    }

    pub(super) fn apply_client_ready(&mut self, client: u32) -> Applied {
        if self.now >= self.clients.workload_end {
            return Applied::Skipped;
        }
        if let Some(open) = &mut self.clients.open {
            // A client freed in an open loop takes the oldest waiting arrival, if it is still
            // free (another arrival may have taken it at the same instant).
            let state = &self.clients.states[client as usize];
            if state.pending.is_some() || state.paused {
                return Applied::Skipped;
            }
            let Some(arrived) = open.backlog.pop_front() else {
                return Applied::Skipped;
            };
            let waited = self.now.saturating_since(arrived).0;
            self.stats.arrival_wait_max = self.stats.arrival_wait_max.max(waited);
        } else if let Some(at) = self.kept_operation_time(client) {
            // A kept operation is invoked no earlier than in the run its list came from.
            if self.now < at {
                self.push(at, Event::ClientReady { client });
                return Applied::Skipped;
            }
        }
        self.invoke(client)
    }

    /// The invocation time `[workload] only_operations` records for `client`'s next operation,
    /// if it is kept with one.
    fn kept_operation_time(&self, client: u32) -> Option<SimTime> {
        let only = self.scenario.workload.only_operations.as_ref()?;
        let (who, n) = (
            u64::from(client),
            self.clients.states[client as usize].drawn,
        );
        let kept = only.iter().find(|kept| kept.client == who && kept.n == n)?;
        kept.at.map(|at| SimTime::ZERO + at)
    }

    /// `client` invokes its next operation now.
    fn invoke(&mut self, client: u32) -> Applied {
        let index = client as usize;
        assert!(
            self.clients.states[index].pending.is_none(),
            "detsim bug: c{client} invokes with an operation in progress"
        );
        let operation =
            if let (Some(open), true) = (&mut self.clients.open, self.clients.reply_independent) {
                // Open loop: operations in arrival order, whichever client takes them.
                self.clients
                    .workload
                    .next_operation(client, &mut open.operations_rng)
            } else if self.clients.reply_independent {
                let rng = &mut self.clients.operation_rngs[index];
                self.clients.workload.next_operation(client, rng)
            } else {
                self.clients
                    .workload
                    .next_operation(client, &mut self.clients.choice_rngs[index])
            };
        let ordinal = self.clients.states[index].drawn;
        self.clients.states[index].drawn += 1;
        if let Some(only) = &self.scenario.workload.only_operations {
            let who = u64::from(client);
            if !only
                .iter()
                .any(|kept| kept.client == who && kept.n == ordinal)
            {
                // Drawn but skipped: the client thinks again.
                self.fold((self.now.0, 12u8, client, ordinal));
                self.schedule_next(client);
                return Applied::Other;
            }
        }
        let request = RequestId(self.clients.next_request);
        self.clients.next_request += 1;
        let process = self.clients.states[index].process;
        let written = P::Workload::write(&operation, None);
        self.history
            .push_operation(self.now, process, None, written, None, None);
        let deadline = self.now + self.clients.timeout;
        self.clients.states[index].pending = Some(Pending {
            request,
            operation: operation.clone(),
            invoked: self.now,
            deadline,
        });
        self.fold((self.now.0, 7u8, client, request.0, &operation));
        if self.trace.enabled() {
            self.trace_line(format_args!(
                "invoke c{client} process {process} {request} {operation:?}"
            ));
        }
        self.call_client(client, |half, context| {
            half.on_invoke(context, request, operation)
        });
        if !self.clients.states[index].alarm_armed {
            self.clients.states[index].alarm_armed = true;
            self.push(deadline, Event::ClientTimeout { client });
        }
        Applied::Other
    }

    pub(super) fn apply_response(
        &mut self,
        client: u32,
        source: NodeId,
        response: P::Response,
    ) -> Applied {
        let trace = self.trace.enabled().then(|| format!("{response:?}"));
        let acted = self.call_client(client, |half, context| {
            half.on_response(context, source, response)
        });
        if !acted {
            return Applied::Skipped; // a late answer to an operation already given up on
        }
        self.fold((self.now.0, 8u8, client, source.0));
        if let Some(response) = trace {
            self.trace_line(format_args!("response {source}->c{client} {response}"));
        }
        Applied::Other
    }

    pub(super) fn apply_unreachable(
        &mut self,
        client: u32,
        node: NodeId,
        request: P::Request,
    ) -> Applied {
        let acted = self.call_client(client, |half, context| {
            half.on_unreachable(context, node, request)
        });
        if !acted {
            return Applied::Skipped;
        }
        self.fold((self.now.0, 13u8, client, node.0));
        self.trace_line(format_args!("unreachable {node} for c{client}"));
        Applied::Other
    }

    /// Queues the client's alarm at `fire_at`; an alarm queued before is forgotten.
    fn arm_client_alarm(&mut self, client: u32, fire_at: SimTime) {
        let generation = self.next_generation;
        self.next_generation += 1;
        self.clients.states[client as usize].alarm = Some((fire_at, generation));
        self.push(fire_at, Event::ClientTimer { client, generation });
    }

    /// Re-arms the client's alarm for its earliest running timer, if any.
    fn rearm_client_alarm(&mut self, client: u32) {
        let state = &self.clients.states[client as usize];
        let earliest = state.timers.earliest();
        match earliest {
            Some(deadline) => {
                let fire_at = state.clock.true_time_of(self.now, deadline);
                self.arm_client_alarm(client, fire_at);
            }
            None => self.clients.states[client as usize].alarm = None,
        }
    }

    /// The client's alarm rang: fire its earliest due timer (the first set, among equals) and
    /// re-arm for the rest.
    pub(super) fn apply_client_timer(&mut self, client: u32, generation: u64) -> Applied {
        let state = &mut self.clients.states[client as usize];
        if state.alarm.is_none_or(|(_, current)| current != generation) {
            return Applied::Skipped; // replaced by an earlier alarm, or re-armed after a drift
        }
        let reading = state.clock.monotonic_at(self.now);
        let due = (state.timers.running.iter().enumerate())
            .filter(|(_, (_, deadline))| *deadline <= reading)
            .min_by_key(|(i, (_, deadline))| (*deadline, *i))
            .map(|(i, _)| i);
        let Some(position) = due else {
            // What was due was cancelled: wait for what is left.
            self.rearm_client_alarm(client);
            return Applied::Skipped;
        };
        let timer = state.timers.running.remove(position).0;
        self.rearm_client_alarm(client);
        self.fold((self.now.0, 14u8, client, &timer));
        if self.trace.enabled() {
            self.trace_line(format_args!("client timer c{client} {timer:?}"));
        }
        self.call_client(client, |half, context| half.on_timer(context, timer));
        Applied::Other
    }

    /// The client half finished the current operation.
    fn complete(
        &mut self,
        client: u32,
        completion: Completion<OutputOf<P::Workload>>,
        node: Option<NodeId>,
    ) {
        let index = client as usize;
        let pending = self.clients.states[index]
            .pending
            .take()
            .expect("the client context allows a completion only with an operation pending");
        let class = completion.class();
        self.fold((self.now.0, 15u8, client, &completion));
        if self.trace.enabled() {
            let by = node.map_or(String::new(), |node| format!(" by {node}"));
            self.trace_line(format_args!(
                "complete c{client} {} {}{by}",
                pending.request,
                class.name()
            ));
        }
        let process = self.clients.states[index].process;
        let written = P::Workload::write(&pending.operation, completion.output());
        let reason = completion.reason().cloned();
        self.history
            .push_operation(self.now, process, Some(class), written, reason, node);
        match class {
            CompletionClass::Ok => self.stats.operations_ok += 1,
            CompletionClass::Fail => self.stats.operations_fail += 1,
            CompletionClass::Refused => self.stats.operations_refused += 1,
            CompletionClass::Unknown => {
                self.stats.operations_info += 1;
                self.renumber(client);
            }
        }
        if class.is_answer() {
            if let (Some(heal), Some(bound)) =
                (self.fault_state.heal_time, self.scenario.run.liveness_bound)
            {
                if pending.invoked >= heal && self.now <= heal + bound {
                    self.clients.liveness_met = true;
                }
            }
        }
        let event = CompletionEvent {
            client: ClientId(client),
            process,
            operation: &pending.operation,
            completion: &completion,
            invoked: pending.invoked,
            completed: self.now,
            node,
        };
        if let Err(violation) = self.invariants.on_completion(&event) {
            self.completion_violation.get_or_insert(violation);
        }
        if !self.clients.reply_independent {
            self.clients
                .workload
                .observe(client, &pending.operation, &completion);
        }
        self.schedule_next(client);
    }

    /// Gives the client a fresh process, as Jepsen does after `info`.
    fn renumber(&mut self, client: u32) {
        let clients = self.clients.len() as u64;
        self.clients.states[client as usize].process += clients;
    }

    /// Records `info` for the client's pending operation and forgets it.
    fn give_up(&mut self, client: u32, reason: &'static str) {
        let index = client as usize;
        let pending = self.clients.states[index]
            .pending
            .take()
            .expect("an operation is pending");
        let process = self.clients.states[index].process;
        let written = P::Workload::write(&pending.operation, None);
        self.history.push_operation(
            self.now,
            process,
            Some(CompletionClass::Unknown),
            written,
            Some(Cow::Borrowed(reason)),
            None,
        );
        self.stats.operations_info += 1;
        self.renumber(client);
    }

    fn schedule_next(&mut self, client: u32) {
        if let Some(open) = &self.clients.open {
            // Open loop: no think time; the client is free for the next arrival, or takes
            // the oldest one waiting.
            if !open.backlog.is_empty() {
                self.push(self.now, Event::ClientReady { client });
            }
            return;
        }
        let gap = (self.clients.think).sample(&mut self.clients.think_rngs[client as usize]);
        self.push(self.now + gap, Event::ClientReady { client });
    }

    pub(super) fn apply_client_timeout(&mut self, client: u32) -> Applied {
        let state = &mut self.clients.states[client as usize];
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
        let request = pending.request;
        self.fold((self.now.0, 9u8, client, request.0));
        self.trace_line(format_args!("timeout c{client} {request}"));
        self.give_up(client, "timeout");
        self.call_client(client, |half, context| half.on_timeout(context));
        self.schedule_next(client);
        Applied::Other
    }

    /// Whether `client` is paused (its events wait in its inbox).
    #[inline]
    pub(super) fn client_paused(&self, client: u32) -> bool {
        self.clients.states[client as usize].paused
    }

    /// Keeps `event`, meant for a paused client, in its inbox until it resumes.
    pub(super) fn hold_for_client(&mut self, event: Event<P>) -> Applied {
        let client = event.client().expect("an event meant for a client");
        self.clients.states[client as usize].inbox.push(event);
        Applied::Skipped
    }

    /// Pauses a client process; returns whether it was running.
    pub(super) fn pause_client(&mut self, client: u32) -> bool {
        let state = &mut self.clients.states[client as usize];
        !std::mem::replace(&mut state.paused, true)
    }

    /// Resumes a paused client: what waited is applied now, in arrival order. Returns whether
    /// it was paused.
    pub(super) fn resume_client(&mut self, client: u32) -> bool {
        let state = &mut self.clients.states[client as usize];
        if !std::mem::replace(&mut state.paused, false) {
            return false;
        }
        let inbox = std::mem::take(&mut state.inbox);
        self.trace_line(format_args!("resume c{client}"));
        for event in inbox {
            self.push(self.now, event);
        }
        if self
            .clients
            .open
            .as_ref()
            .is_some_and(|o| !o.backlog.is_empty())
        {
            // Arrivals waited while this client was paused: it may take one now.
            self.push(self.now, Event::ClientReady { client });
        }
        true
    }

    /// Steps a client's wall clock (its timers run on the monotonic clock and do not move).
    pub(super) fn jump_client_clock(&mut self, client: u32, by: i64) {
        self.clients.states[client as usize]
            .clock
            .jump_wall(self.now, by);
    }

    /// Sets a client's drift (`None`: back to its configured drift) and reschedules its
    /// timers on the new rate.
    pub(super) fn set_client_drift(&mut self, client: u32, drift_ppm: Option<i64>) {
        let state = &mut self.clients.states[client as usize];
        let drift_ppm = drift_ppm.unwrap_or(state.base_drift_ppm);
        if state.clock.drift_ppm() == drift_ppm {
            return;
        }
        state.clock.set_drift(self.now, drift_ppm);
        if state.alarm.is_some() {
            self.rearm_client_alarm(client);
        }
    }

    /// Every client back to running, at its configured drift (healing).
    pub(super) fn heal_clients(&mut self) {
        for client in 0..self.clients.len() as u32 {
            self.resume_client(client);
            self.set_client_drift(client, None);
        }
    }

    pub(super) fn apply_stop(&mut self) {
        self.trace_line(format_args!("stop"));
        for client in 0..self.clients.len() as u32 {
            if self.clients.states[client as usize].pending.is_some() {
                self.give_up(client, "run ended");
            }
        }
    }
}
