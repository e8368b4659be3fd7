//! The world: all mutable state of one simulation, and the one loop that steps it.
//!
//! A run is a pure function of (scenario, seed, detsim version). The world owns true time, the
//! event queue, the nodes (each `None` while crashed), their clocks, timers and disks, the
//! network, the clients and their history, and one seeded generator per subsystem. Each step pops
//! the earliest event, applies it (calling at most one protocol or client-half handler and
//! applying the effects it pushed), folds it into the fingerprint, writes its trace line when a
//! trace is wanted, and runs the protocol's invariants. Nothing in here reads a clock or iterates
//! a hash map.
//!
//! The world is split by idea, one file each:
//!
//! | file         | what it holds                                                              |
//! |--------------|----------------------------------------------------------------------------|
//! | `mod.rs`     | the run's entry points, the events, the loop, the verdict at the end       |
//! | [`nodes`]    | the node runtime: handlers, effects, timers, disks and persist-before-send |
//! | [`clients`]  | the client processes: workload draws, client halves, deadlines, history    |
//! | [`faults`]   | applying and undoing faults, fault windows, healing                        |
//!
//! Semantics a protocol author can rely on:
//! - timers are deadlines on the node's monotonic clock, rescheduled when its drift changes; a
//!   wall-clock jump moves only what [`crate::protocol::Context::wall_clock`] reads; a crashed
//!   node loses its timers;
//! - a paused node's clocks keep running, but its timers, messages and client requests wait in
//!   its inbox and are applied, in arrival order, when it resumes (a paused client likewise);
//! - messages and replies a handler pushes after a `persist` depart only once that persist is
//!   durable (after the storage's fsync latency); a crash before then drops them;
//! - a crash keeps the node's durable writes; writes not yet durable survive unless the scenario
//!   sets `storage.lose_unsynced`;
//! - a message is dropped when its link is cut at sending or at arrival, or its target is down.

mod clients;
mod faults;
mod nodes;

use crate::invariants::{Invariants, Violation};
use crate::network::Network;
use crate::outcome::{LeaderChange, RunData, RunStats, Verdict};
use crate::protocol::{ClientId, Context, Effect, NodeId, Protocol, Role};
use crate::recorder::RecordedHistory;
use crate::rng::{Purpose, SimRng};
use crate::scenario::{FaultSpec, ProtocolSection, Scenario, WorkloadSection};
use crate::time::{SimDuration, SimTime};
use crate::trace::{FixedHasher, TraceSink};
use crate::workload::{FieldError, Setup, Workload};
use clients::Clients;
use faults::FaultState;
use nodes::NodeRuntime;
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
    /// The scenario's `[workload]` fields do not fit the workload.
    #[error("{0}")]
    Workload(FieldError),
    /// A fault waits for a moment the protocol does not mark.
    #[error("faults.on: {moment:?} is not a moment of {protocol} (it marks: {known})")]
    UnknownMoment {
        /// Which `[[faults]]` entry (from 0).
        index: usize,
        /// The moment named.
        moment: String,
        /// The protocol.
        protocol: &'static str,
        /// The moments it marks.
        known: String,
    },
    /// A fault (or the swarm) asks for membership changes from a protocol without them.
    #[error(
        "{field}: {protocol} does not support membership changes (add-server, remove-server, the \
         swarm's membership kind)"
    )]
    MembershipUnsupported {
        /// Which `[[faults]]` entry (from 0), or `None` for the swarm's `kinds`.
        index: Option<usize>,
        /// `faults.action` or `swarm.kinds`.
        field: &'static str,
        /// The protocol.
        protocol: &'static str,
    },
    /// Writing the trace failed.
    #[error("writing the trace: {0}")]
    Trace(#[from] std::io::Error),
}

/// Runs `scenario` (its fault schedule already explicit in `faults`) with `seed`, checking
/// `invariants` after every event and streaming trace lines into `trace` when given, then
/// judges the history with the workload's checker: the verdict covers invariants, limits,
/// panics, liveness and the history.
pub fn run<P: Protocol, I: Invariants<P>>(
    scenario: &Scenario,
    faults: &[FaultSpec],
    seed: u64,
    invariants: I,
    trace: Option<&mut dyn Write>,
) -> Result<RunData, RunError> {
    let (mut data, workload) = simulate::<P, I>(scenario, faults, seed, invariants, trace)?;
    crate::verdict::judge_history(&mut data, &workload, &scenario.run.check_options());
    Ok(data)
}

/// Runs the simulation alone, without judging the history (benchmarks of the engine use this):
/// the verdict covers invariants, limits, panics and liveness. Returns the run's workload too,
/// whose checker judges the history ([`crate::verdict::judge_history`]).
pub fn simulate<P: Protocol, I: Invariants<P>>(
    scenario: &Scenario,
    faults: &[FaultSpec],
    seed: u64,
    invariants: I,
    trace: Option<&mut dyn Write>,
) -> Result<(RunData, P::Workload), RunError> {
    // A swarm that draws more than faults runs the scenario its seed draws.
    let drawn = crate::nemesis::draw(scenario, seed, &accepts::<P>).map_err(RunError::Options)?;
    let scenario = drawn.as_ref();
    let options = protocol_options::<P>(&scenario.protocol)?;
    let workload_options =
        workload_options::<P::Workload>(&scenario.workload, scenario.run.duration)?;
    let mut world = World::<P, I>::new(
        scenario,
        faults,
        seed,
        options,
        &workload_options,
        invariants,
        trace,
    );
    let outcome = {
        let _simulating = Simulating::enter();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| world.run_loop()))
    };
    let verdict = match outcome {
        Ok(verdict) => verdict,
        Err(payload) => Verdict::Panic {
            message: crate::scenario::limits::describe_panic(panic_message(&payload)),
        },
    };
    world.finish(verdict)
}

thread_local! {
    /// Whether this thread is inside a simulation, where a panic becomes the run's `panic`
    /// verdict (with its message) rather than the end of the process.
    static SIMULATING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the calling thread is running a simulation, whose panics become verdicts: a panic
/// hook can stay quiet for those (a campaign reports them in its results) and speak for the
/// others.
pub fn simulating() -> bool {
    SIMULATING.with(std::cell::Cell::get)
}

/// Marks the thread as simulating until dropped, even when the simulation unwinds.
struct Simulating(bool);

impl Simulating {
    fn enter() -> Simulating {
        Simulating(SIMULATING.with(|flag| flag.replace(true)))
    }
}

impl Drop for Simulating {
    fn drop(&mut self) {
        SIMULATING.with(|flag| flag.set(self.0));
    }
}

/// Whether `P` can run `scenario`: its options and workload options pass their checks (the
/// acceptance a swarm's drawn options must pass, see [`crate::nemesis::draw`]).
pub fn accepts<P: Protocol>(scenario: &Scenario) -> Result<(), String> {
    protocol_options::<P>(&scenario.protocol).map_err(|error| error.to_string())?;
    workload_options::<P::Workload>(&scenario.workload, scenario.run.duration)
        .map_err(|error| error.to_string())?;
    Ok(())
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

/// Checks that every fault triggered by a moment names one `P` marks.
pub fn check_moments<P: Protocol>(faults: &[FaultSpec]) -> Result<(), RunError> {
    for (index, fault) in faults.iter().enumerate() {
        let Some(trigger) = &fault.trigger else {
            continue;
        };
        if !P::MOMENTS.contains(&trigger.moment.as_str()) {
            return Err(RunError::UnknownMoment {
                index,
                moment: trigger.moment.clone(),
                protocol: P::NAME,
                known: if P::MOMENTS.is_empty() {
                    "none".to_string()
                } else {
                    P::MOMENTS.join(", ")
                },
            });
        }
    }
    Ok(())
}

/// Checks that a scenario asks for membership changes (`add-server`, `remove-server`, the
/// swarm's `membership` kind) only from a protocol that supports them.
pub fn check_membership<P: Protocol>(scenario: &Scenario) -> Result<(), RunError> {
    if P::MEMBERSHIP_CHANGES {
        return Ok(());
    }
    let asks = |fault: &FaultSpec| fault.fault.membership_change(NodeId(0)).is_some();
    if let Some(index) = scenario.faults.iter().position(asks) {
        return Err(RunError::MembershipUnsupported {
            index: Some(index),
            field: "faults.action",
            protocol: P::NAME,
        });
    }
    let swarm_asks = scenario.swarm.as_ref().is_some_and(|swarm| {
        swarm
            .kinds
            .contains(&crate::scenario::SwarmKind::Membership)
    });
    if swarm_asks {
        return Err(RunError::MembershipUnsupported {
            index: None,
            field: "swarm.kinds",
            protocol: P::NAME,
        });
    }
    Ok(())
}

/// The workload's own options from a scenario's `[workload]` section, checked.
pub fn workload_options<W: Workload>(
    section: &WorkloadSection,
    duration: SimDuration,
) -> Result<W::Options, RunError> {
    if section.kind != W::KIND {
        return Err(RunError::Workload(FieldError::new(
            "kind",
            format!("{:?} is not the workload {:?}", section.kind, W::KIND),
        )));
    }
    let options: W::Options = if section.options.is_empty() {
        W::Options::default()
    } else {
        toml::Value::Table(section.options.clone())
            .try_into()
            .map_err(|error: toml::de::Error| {
                let message = error.message().trim().to_string();
                RunError::Workload(FieldError::new(field_named(&message, section), message))
            })?
    };
    W::check_options(&options).map_err(RunError::Workload)?;
    W::check_run(&options, section.timeout, duration).map_err(RunError::Workload)?;
    Ok(options)
}

/// The `[workload]` field an option error is about: the one it names in backquotes, or the
/// first of the workload's own fields.
fn field_named(message: &str, section: &WorkloadSection) -> String {
    let quoted = message.split('`').nth(1).filter(|name| !name.is_empty());
    match quoted {
        Some(name) if section.options.contains_key(name) => name.to_string(),
        _ => section
            .options
            .keys()
            .find(|key| message.contains(key.as_str()))
            .or_else(|| section.options.keys().next())
            .cloned()
            .unwrap_or_else(|| "kind".to_string()),
    }
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

/// Something that leaves a node: a message to a peer or a reply to a client.
enum Outgoing<P: Protocol> {
    Message {
        target: NodeId,
        message: P::Message,
    },
    Reply {
        client: ClientId,
        response: P::Response,
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
        client: ClientId,
        request: P::Request,
    },
    /// A request reached a node that is down: the client learns it (connection refused).
    Unreachable {
        client: u32,
        node: NodeId,
        request: P::Request,
    },
    ResponseArrives {
        client: u32,
        source: NodeId,
        response: P::Response,
    },
    /// An open-loop arrival.
    Arrival,
    ClientReady {
        client: u32,
    },
    /// A client's timeout alarm. One is armed per client at a time (not one per operation):
    /// when it rings before the current operation's deadline it re-arms for that deadline.
    ClientTimeout {
        client: u32,
    },
    ClientTimer {
        client: u32,
        generation: u64,
    },
    Fault {
        index: usize,
    },
    FaultEnd {
        index: usize,
        nodes: Vec<NodeId>,
        window: usize,
    },
    /// A membership change a fault asked for, handed to one node (each live node gets its own
    /// event, so the invariants look at each after its handler ran).
    Membership {
        node: NodeId,
        incarnation: u32,
        change: crate::protocol::MembershipChange,
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

impl<P: Protocol> Event<P> {
    /// The client process an event is meant for (held while that client is paused).
    fn client(&self) -> Option<u32> {
        match self {
            Event::Unreachable { client, .. }
            | Event::ResponseArrives { client, .. }
            | Event::ClientReady { client }
            | Event::ClientTimeout { client }
            | Event::ClientTimer { client, .. } => Some(*client),
            _ => None,
        }
    }
}

/// What applying an event did, for the invariants and the event count.
enum Applied {
    /// Nothing happened (a stale timer, a message to a crashed node...): not counted.
    Skipped,
    /// A handler of this node ran.
    Node(NodeId),
    /// Something else happened (a client or nemesis step).
    Other,
}

type EventQueue<P> = crate::queue::EventQueue<Event<P>>;

struct World<'s, 'w, P: Protocol, I: Invariants<P>> {
    scenario: &'s Scenario,
    faults: &'s [FaultSpec],
    /// Per fault with a trigger: how many of its moments have happened since it was armed.
    moments_seen: Vec<u32>,
    seed: u64,
    options: P::Options,
    node_count: u32,
    now: SimTime,
    queue: EventQueue<P>,
    nodes: Vec<Option<P>>,
    runtime: Vec<NodeRuntime<P>>,
    network: Network,
    /// With FIFO links (`[network] fifo`): per directed link, the latest arrival scheduled, so
    /// no message arrives before one sent earlier on the same link. Empty otherwise.
    link_arrivals: Vec<SimTime>,
    context: Context<P>,
    effects: Vec<Effect<P>>,
    next_generation: u64,
    /// Per node-to-node link (`source * node_count + target`), its network draws.
    link_rngs: Vec<SimRng>,
    /// Per fault kind and target (a hash of the fault without its times), its runtime choices.
    fault_rngs: std::collections::BTreeMap<u64, SimRng>,
    /// The key of the fault being applied (see `faults::fault_rng`).
    fault_key: u64,
    clients: Clients<P>,
    history: RecordedHistory,
    stats: RunStats,
    kind_counts: Vec<(&'static str, u64)>,
    fingerprint: FixedHasher,
    trace: TraceSink<'w>,
    invariants: I,
    fault_state: FaultState,
    /// A violation an invariant found in a client completion, reported after the event.
    completion_violation: Option<Violation>,
    /// Per node, the term it leads in, as last seen.
    leading: Vec<Option<u64>>,
    /// Every change to a node leading.
    leaders: Vec<LeaderChange>,
}

impl<'s, 'w, P: Protocol, I: Invariants<P>> World<'s, 'w, P, I> {
    fn new(
        scenario: &'s Scenario,
        faults: &'s [FaultSpec],
        seed: u64,
        options: P::Options,
        workload_options: &<P::Workload as Workload>::Options,
        invariants: I,
        trace: Option<&'w mut dyn Write>,
    ) -> Self {
        let node_count = scenario.cluster.nodes;
        let network = nodes::build_network(scenario);
        let runtime = (0..node_count)
            .map(|n| NodeRuntime::new(scenario, seed, n))
            .collect();
        let setup = Setup {
            clients: scenario.workload.clients,
            reply_independent: scenario.workload.reply_independent,
        };
        let workload = P::Workload::new(workload_options, setup);
        let mut world = World {
            scenario,
            faults,
            moments_seen: vec![0; faults.len()],
            seed,
            options,
            node_count,
            now: SimTime::ZERO,
            queue: EventQueue::new(QUEUE_LIMIT),
            nodes: (0..node_count).map(|_| None).collect(),
            runtime,
            network,
            link_arrivals: if scenario.network.fifo {
                vec![SimTime::ZERO; (node_count * node_count) as usize]
            } else {
                Vec::new()
            },
            context: Context::new(NodeId(0), node_count, SimTime::ZERO),
            effects: Vec::new(),
            next_generation: 0,
            link_rngs: (0..node_count)
                .flat_map(|source| (0..node_count).map(move |target| (source, target)))
                .map(|(source, target)| {
                    let key = [u64::from(source), u64::from(target)];
                    SimRng::keyed(seed, Purpose::Link, &key)
                })
                .collect(),
            fault_rngs: std::collections::BTreeMap::new(),
            fault_key: 0,
            clients: Clients::new(scenario, seed, workload),
            // Expected size: an invoke and a completion per operation. Reserving it avoids
            // copying a large history as it grows.
            history: RecordedHistory::with_capacity(expected_history_len(scenario)),
            stats: RunStats::default(),
            kind_counts: Vec::new(),
            fingerprint: FixedHasher::default(),
            trace: TraceSink::new(trace),
            invariants,
            fault_state: FaultState::default(),
            completion_violation: None,
            leading: vec![None; scenario.cluster.nodes as usize],
            leaders: Vec::new(),
        };
        world.start_clients();
        world
    }

    // ----- the loop -----

    fn run_loop(&mut self) -> Verdict {
        self.schedule_start();
        let max_events = self.scenario.run.max_events;
        while let Some((time, event)) = self.queue.pop() {
            assert!(
                time >= self.now,
                "detsim bug: time went backwards from {} to {time}",
                self.now
            );
            self.now = time;
            if matches!(event, Event::Stop) {
                self.apply_stop();
                break;
            }
            let touched = match self.apply(event) {
                Applied::Skipped => continue,
                Applied::Node(node) => {
                    self.note_leadership(node);
                    Some(node)
                }
                Applied::Other => None,
            };
            self.stats.events += 1;
            let violation = if self.completion_violation.is_some() {
                Err(self.completion_violation.take().expect("checked"))
            } else {
                self.invariants.after_event(self.now, touched, &self.nodes)
            };
            if let Err(violation) = violation {
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
        self.schedule_first_operations();
        for index in 0..self.faults.len() {
            if self.faults[index].trigger.is_none() {
                let at = SimTime::ZERO + self.faults[index].at;
                self.push(at, Event::Fault { index });
            }
        }
        if let Some(heal) = self.scenario.heal_time() {
            self.push(SimTime::ZERO + heal, Event::Heal);
        }
        self.push(SimTime::ZERO + self.scenario.run.duration, Event::Stop);
    }

    /// Records `node` coming to believe it leads (in a term it did not lead before).
    fn note_leadership(&mut self, node: NodeId) {
        let leading = match &self.nodes[node.index()] {
            Some(state) => {
                let view = state.view();
                (view.role == Role::Leader).then_some(view.term)
            }
            None => None,
        };
        let known = &mut self.leading[node.index()];
        if leading != *known {
            *known = leading;
            if let Some(term) = leading {
                self.leaders.push(LeaderChange {
                    time: self.now,
                    node,
                    term,
                });
            }
        }
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
            } => self.apply_from_inbox(node, incarnation, *event),
            Event::Depart {
                source,
                incarnation,
                outgoing,
            } => self.apply_depart(source, incarnation, outgoing),
            Event::Timer {
                node,
                incarnation,
                generation,
            } => self.apply_timer(node, incarnation, generation),
            Event::RequestArrives {
                node,
                client,
                request,
            } => self.apply_request(node, client, request),
            Event::Arrival => self.apply_arrival(),
            // A paused client holds the events meant for it in its inbox.
            event @ (Event::Unreachable { client, .. }
            | Event::ResponseArrives { client, .. }
            | Event::ClientReady { client }
            | Event::ClientTimeout { client }
            | Event::ClientTimer { client, .. })
                if self.client_paused(client) =>
            {
                self.hold_for_client(event)
            }
            Event::Unreachable {
                client,
                node,
                request,
            } => self.apply_unreachable(client, node, request),
            Event::ResponseArrives {
                client,
                source,
                response,
            } => self.apply_response(client, source, response),
            Event::ClientReady { client } => self.apply_client_ready(client),
            Event::ClientTimeout { client } => self.apply_client_timeout(client),
            Event::ClientTimer { client, generation } => {
                self.apply_client_timer(client, generation)
            }
            Event::Fault { index } => self.apply_fault(index),
            Event::Membership {
                node,
                incarnation,
                change,
            } => self.apply_membership(node, incarnation, change),
            Event::FaultEnd {
                index,
                nodes,
                window,
            } => self.apply_fault_end(index, &nodes, window),
            Event::Heal => self.apply_heal(),
            Event::Stop => unreachable!("handled by the loop"),
        }
    }

    /// Liveness: after healing, some operation invoked in the liveness phase was answered —
    /// `ok`, or a `fail` the service decided — within the bound.
    fn liveness_verdict(&self) -> Verdict {
        match (self.fault_state.heal_time, self.scenario.run.liveness_bound) {
            (Some(heal), Some(bound)) if !self.clients.liveness_met => Verdict::LivenessTimeout {
                detail: format!(
                    "no client operation invoked after healing at t={heal} was answered (ok, or \
                     a fail the service decided) within {bound}"
                ),
            },
            _ => Verdict::Pass,
        }
    }

    fn finish(mut self, verdict: Verdict) -> Result<(RunData, P::Workload), RunError> {
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
        let scenario = self.scenario;
        let data = RunData {
            scenario: scenario.display_name().to_string(),
            protocol: P::NAME.to_string(),
            workload: <P::Workload as Workload>::KIND.to_string(),
            bug: scenario.protocol.bug.clone(),
            seed: self.seed,
            node_count: self.node_count,
            clients: scenario.workload.clients,
            verdict,
            expected: scenario.expect.clone(),
            stats: self.stats,
            fingerprint: format!("{:016x}", self.fingerprint.finish()),
            heal_time: self.fault_state.heal_time,
            faults: self.fault_state.windows,
            reproduce: String::new(),
            stuck_operation: None,
            conflicting_operations: Vec::new(),
            history: self.history,
            check_explanation: None,
            leaders: self.leaders,
            figures: self.invariants.figures(),
        };
        Ok((data, self.clients.into_workload()))
    }
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
