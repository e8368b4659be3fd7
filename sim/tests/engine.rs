//! Engine semantics, tested through a small probe protocol and an observer that records what
//! every event did.

use serde::Deserialize;
use sim::invariants::{Invariants, Violation};
use sim::protocol::{ClientId, Context, NodeConfig, NodeId, NodeView, Protocol, Role};
use sim::scenario::Scenario;
use sim::service::{Answer, FollowLeader, Request, Response};
use sim::time::{SimDuration, SimTime};
use sim::workload::register::{Operation, Register};
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

/// Node 0 pings node 1 every `every`; every node counts what it received and when its own
/// ticker fired. Optionally node 0 persists before its first ping.
#[derive(Clone, Debug)]
struct Probe {
    id: NodeId,
    every: SimDuration,
    received: Vec<u64>,
    ticks: u64,
    sent: u64,
    restored: Option<u64>,
    /// The wall clock read at each ping.
    walls: Vec<SimTime>,
    /// The monotonic clock read at each ping.
    monotonic: Vec<SimTime>,
    ignore_requests: bool,
}

#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct ProbeOptions {
    every_ms: Option<u64>,
    persist_first: Option<bool>,
    tick_ms: Option<u64>,
    ignore_requests: Option<bool>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum ProbeTimer {
    Ping,
    Tick,
}

impl Protocol for Probe {
    type Workload = Register;
    type Request = Request<Operation>;
    type Response = Response<Option<i64>>;
    type Client = FollowLeader<Register>;
    type Message = u64;
    type Timer = ProbeTimer;
    type Durable = Option<u64>;
    type Update = u64;
    type Options = ProbeOptions;
    const NAME: &'static str = "probe";

    fn start(
        config: &NodeConfig<'_, ProbeOptions>,
        durable: Option<&Option<u64>>,
        context: &mut Context<Self>,
    ) -> Self {
        let every = SimDuration::from_millis(config.options.every_ms.unwrap_or(10));
        if config.id == NodeId(0) {
            if config.options.persist_first.unwrap_or(false) && durable.is_none() {
                context.persist(7);
                context.send(NodeId(1), 1_000);
            }
            context.set_timer(ProbeTimer::Ping, every);
        }
        if let Some(tick) = config.options.tick_ms {
            context.set_timer(ProbeTimer::Tick, SimDuration::from_millis(tick));
        }
        Probe {
            id: config.id,
            every,
            received: Vec::new(),
            ticks: 0,
            sent: 0,
            restored: durable.copied().flatten(),
            walls: Vec::new(),
            monotonic: Vec::new(),
            ignore_requests: config.options.ignore_requests.unwrap_or(false),
        }
    }
    fn on_message(&mut self, _: &mut Context<Self>, _: NodeId, message: u64) {
        self.received.push(message);
    }
    fn on_timer(&mut self, context: &mut Context<Self>, timer: ProbeTimer) {
        match timer {
            ProbeTimer::Ping => {
                self.sent += 1;
                self.walls.push(context.wall_clock());
                self.monotonic.push(context.now());
                context.send(NodeId(1), self.sent);
                context.set_timer(ProbeTimer::Ping, self.every);
            }
            ProbeTimer::Tick => {
                self.ticks += 1;
                // Ticks repeat only when asked to, so one-shot timers can be measured.
            }
        }
    }
    fn on_client_request(
        &mut self,
        context: &mut Context<Self>,
        client: ClientId,
        request: Request<Operation>,
    ) {
        if self.ignore_requests {
            return;
        }
        let response = Response {
            request: request.id,
            answer: Answer::Ok(None),
        };
        context.reply(client, response);
    }
    fn apply_update(durable: &mut Option<u64>, update: u64) {
        *durable = Some(update);
    }
    fn view(&self) -> NodeView {
        NodeView {
            role: if self.id == NodeId(0) {
                Role::Leader
            } else {
                Role::Follower
            },
            term: 0,
            commit_index: 0,
            leader_hint: Some(NodeId(0)),
        }
    }
}

/// One observation: the time of an event, the node it touched, and that node's state after it.
#[derive(Clone, Debug)]
struct Seen {
    time: SimTime,
    node: Option<NodeId>,
    state: Option<Probe>,
}

#[derive(Default, Clone)]
struct Recorder(Rc<RefCell<Vec<Seen>>>);

impl Invariants<Probe> for Recorder {
    fn after_event(
        &mut self,
        time: SimTime,
        touched: Option<NodeId>,
        nodes: &[Option<Probe>],
    ) -> Result<(), Violation> {
        let state = touched.and_then(|n| nodes[n.index()].clone());
        self.0.borrow_mut().push(Seen {
            time,
            node: touched,
            state,
        });
        Ok(())
    }
}

fn scenario(extra: &str) -> Scenario {
    let network = if extra.contains("[network]") {
        ""
    } else {
        "[network]\nlatency = { dist = \"constant\", value = \"1ms\" }"
    };
    let text = format!(
        r#"
[protocol]
name = "probe"
[cluster]
nodes = 2
[workload]
clients = 1
rate = 20
timeout = "100ms"
[run]
duration = "500ms"
{extra}
{network}
"#
    );
    Scenario::parse(&text, Path::new("probe.toml")).unwrap_or_else(|e| panic!("{e}"))
}

fn run(scenario: &Scenario) -> (sim::outcome::RunData, Vec<Seen>) {
    let recorder = Recorder::default();
    let faults = sim::nemesis::expand(scenario, 1);
    let data = sim::world::run::<Probe, _>(scenario, &faults, 1, recorder.clone(), None).unwrap();
    let seen = recorder.0.borrow().clone();
    (data, seen)
}

fn ms(n: u64) -> SimTime {
    SimTime(n * 1_000_000)
}

#[test]
fn paused_node_handles_nothing_until_resumed_then_everything_in_order() {
    let scenario = scenario(
        "[protocol.options]\ntick_ms = 150\n[[faults]]\nat = \"100ms\"\naction = \"pause\"\nnode = 1\nfor = \"100ms\"",
    );
    let (_, seen) = run(&scenario);
    let on_node1 = |from: SimTime, to: SimTime| {
        seen.iter()
            .filter(|s| s.node == Some(NodeId(1)) && s.time >= from && s.time < to)
            .count()
    };
    assert_eq!(
        on_node1(ms(100) + SimDuration(1), ms(200)),
        0,
        "a paused node ran a handler"
    );
    let at_resume: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.node == Some(NodeId(1)) && s.time == ms(200))
        .collect();
    // Pings 10..=19 arrived during the pause, and the 150 ms tick fired in it; all wait.
    assert!(
        at_resume.len() >= 10,
        "only {} events at resume",
        at_resume.len()
    );
    let last = at_resume.last().unwrap().state.as_ref().unwrap();
    let received = &last.received;
    assert!(
        received.windows(2).all(|w| w[0] < w[1]),
        "inbox out of order: {received:?}"
    );
    assert_eq!(
        last.ticks, 1,
        "the tick that fired during the pause was applied at resume"
    );
    // The paused node's clock kept running: its tick, due at 150 ms, was not postponed further.
    assert!(seen
        .iter()
        .any(|s| s.time == ms(200) && s.state.as_ref().is_some_and(|p| p.ticks == 1)));
}

#[test]
fn messages_wait_for_the_persist_pushed_before_them() {
    let scenario = scenario(
        "[protocol.options]\npersist_first = true\nevery_ms = 1000\n[storage]\nfsync = { dist = \"constant\", value = \"50ms\" }",
    );
    let (_, seen) = run(&scenario);
    let first = seen
        .iter()
        .find(|s| {
            s.node == Some(NodeId(1))
                && s.state
                    .as_ref()
                    .is_some_and(|p| p.received.contains(&1_000))
        })
        .expect("message delivered");
    // Durable at 50 ms, then 1 ms on the wire.
    assert_eq!(first.time, ms(51));
}

#[test]
fn crash_before_the_write_is_durable_loses_it_and_the_held_message() {
    let scenario = scenario(
        "[protocol.options]\npersist_first = true\nevery_ms = 1000\n[storage]\nfsync = { dist = \"constant\", value = \"50ms\" }\nlose_unsynced = true\n[[faults]]\nat = \"20ms\"\naction = \"crash\"\nnode = 0\nfor = \"10ms\"",
    );
    let (data, seen) = run(&scenario);
    assert!(seen.iter().all(|s| s
        .state
        .as_ref()
        .is_none_or(|p| !p.received.contains(&1_000))));
    let restarted = seen
        .iter()
        .filter(|s| s.node == Some(NodeId(0)))
        .find_map(|s| s.state.clone());
    assert_eq!(
        restarted.map(|p| p.restored),
        Some(None),
        "unsynced write survived"
    );
    assert!(data.stats.messages_dropped >= 1);
}

#[test]
fn crash_keeps_writes_that_were_durable() {
    let scenario = scenario(
        "[protocol.options]\npersist_first = true\nevery_ms = 1000\n[storage]\nfsync = { dist = \"constant\", value = \"5ms\" }\nlose_unsynced = true\n[[faults]]\nat = \"20ms\"\naction = \"crash\"\nnode = 0\nfor = \"10ms\"",
    );
    let recorder = Recorder::default();
    let faults = sim::nemesis::expand(&scenario, 1);
    sim::world::run::<Probe, _>(&scenario, &faults, 1, recorder.clone(), None).unwrap();
    // After the restart at 30 ms node 0's first event is its next ping timer; its state shows
    // the restored disk.
    let seen = recorder.0.borrow();
    let after = seen
        .iter()
        .find(|s| s.node == Some(NodeId(0)) && s.time >= ms(30))
        .and_then(|s| s.state.clone())
        .expect("node 0 ran after the restart");
    assert_eq!(after.restored, Some(7));
}

#[test]
fn timers_run_in_local_time_on_a_drifting_clock() {
    // A clock 25% fast: a 100 ms local timer fires after 80 ms of true time.
    let scenario = scenario(
        "[protocol.options]\nevery_ms = 100\n[[clocks.nodes]]\nnode = 0\ndrift_ppm = 250000\n[[clocks.nodes]]\nnode = 1\noffset = \"-30ms\"",
    );
    let (_, seen) = run(&scenario);
    let mut pings: Vec<SimTime> = Vec::new();
    let mut sent = 0;
    for s in seen.iter().filter(|s| s.node == Some(NodeId(0))) {
        if let Some(state) = s.state.as_ref().filter(|p| p.sent > sent) {
            sent = state.sent;
            pings.push(s.time);
        }
    }
    pings.truncate(3);
    assert_eq!(pings, [ms(80), ms(160), ms(240)]);
}

/// Node 0's pings: the true time of each, with the wall and monotonic readings it took.
fn pings(seen: &[Seen]) -> Vec<(SimTime, SimTime, SimTime)> {
    let mut pings = Vec::new();
    for s in seen.iter().filter(|s| s.node == Some(NodeId(0))) {
        if let Some(state) = s.state.as_ref().filter(|p| p.sent as usize > pings.len()) {
            let i = pings.len();
            pings.push((s.time, state.walls[i], state.monotonic[i]));
        }
    }
    pings
}

#[test]
fn a_wall_clock_jump_leaves_timers_alone_and_the_protocol_sees_it() {
    // Node 0 pings every 100 ms on its monotonic clock. A +60 ms wall-clock step at 10 ms (an
    // NTP step) must not move a single timer: the schedule is the same as without it, and only
    // what the protocol reads from its wall clock moves.
    let base = scenario("[protocol.options]\nevery_ms = 100");
    let jumped = scenario(
        "[protocol.options]\nevery_ms = 100\n[[faults]]\nat = \"10ms\"\naction = \"clock-jump\"\nnode = 0\nby = \"60ms\"",
    );
    let (_, seen_base) = run(&base);
    let (data, seen_jumped) = run(&jumped);
    let (before, after) = (pings(&seen_base), pings(&seen_jumped));
    let times = |p: &[(SimTime, SimTime, SimTime)]| p.iter().map(|x| x.0).collect::<Vec<_>>();
    assert_eq!(times(&before)[..3], [ms(100), ms(200), ms(300)]);
    assert_eq!(
        times(&before),
        times(&after),
        "a wall-clock jump moved a timer"
    );
    for ((_, wall_before, mono_before), (_, wall_after, mono_after)) in before.iter().zip(&after) {
        assert_eq!(mono_before, mono_after, "the monotonic clock jumped");
        assert_eq!(
            wall_after.0 - wall_before.0,
            60_000_000,
            "the protocol did not see the wall-clock jump"
        );
    }
    assert_eq!(data.faults.len(), 1);
    assert_eq!(
        data.faults[0].end,
        Some(ms(10)),
        "an instant jump is a zero-length window"
    );
}

#[test]
fn a_client_timer_runs_on_the_clients_drifting_monotonic_clock() {
    // The node never answers, so the client half retries every `retry_after` = 100 ms of its
    // own monotonic time. Client 0's oscillator runs 25% fast: 100 / 1.25 = 80 ms of true time
    // between retries; client 1 keeps true time.
    let scenario = scenario(
        "[protocol.options]\nignore_requests = true\n[[clocks.clients]]\nclient = 0\ndrift_ppm = 250000\noffset = \"-5s\"",
    );
    let mut scenario = scenario;
    scenario.workload.clients = 2;
    scenario.workload.retry_after = Some(SimDuration::from_millis(100));
    scenario.workload.timeout = SimDuration::from_millis(400);
    let faults = sim::nemesis::expand(&scenario, 1);
    let mut trace = Vec::new();
    sim::world::run::<Probe, _>(&scenario, &faults, 1, Recorder::default(), Some(&mut trace))
        .unwrap();
    let trace = String::from_utf8(trace).unwrap();
    let gaps = |client: &str| -> Vec<u64> {
        let mut last_invoke = None;
        let mut gaps = Vec::new();
        for line in trace.lines() {
            let (seconds, nanos) = line.split(' ').next().unwrap().split_once('.').unwrap();
            let time = SimTime(
                seconds.parse::<u64>().unwrap() * 1_000_000_000 + nanos.parse::<u64>().unwrap(),
            );
            if line.contains(&format!("invoke {client} ")) {
                last_invoke = Some(time);
            } else if line.contains(&format!("client timer {client} Retry")) {
                gaps.push(time.0 - last_invoke.unwrap().0);
                last_invoke = Some(time);
            }
        }
        gaps
    };
    let fast = gaps("c0");
    assert!(fast.len() >= 3, "{trace}");
    assert!(fast.iter().all(|gap| *gap == 80_000_000), "{fast:?}");
    let steady = gaps("c1");
    assert!(steady.len() >= 3, "{trace}");
    assert!(steady.iter().all(|gap| *gap == 100_000_000), "{steady:?}");
}

#[test]
fn one_way_cut_drops_one_direction_only() {
    let scenario = scenario(
        "[protocol.options]\nevery_ms = 10\n[[faults]]\nat = \"0ms\"\naction = \"cut\"\nfrom = 0\nto = 1\nfor = \"205ms\"",
    );
    let (data, seen) = run(&scenario);
    let received_by_1 = seen.iter().any(|s| {
        s.node == Some(NodeId(1))
            && s.time < ms(205)
            && s.state.as_ref().is_some_and(|p| !p.received.is_empty())
    });
    assert!(!received_by_1, "a ping crossed the cut link");
    let after = seen
        .iter()
        .rev()
        .find_map(|s| s.state.clone().filter(|p| p.id == NodeId(1)))
        .unwrap();
    assert!(
        after.received.first().is_some_and(|first| *first >= 20),
        "{:?}",
        after.received
    );
    assert_eq!(data.faults[0].label, "cut n0->n1");
    // Replies from node 1 to clients are unaffected; client operations still succeed.
    assert!(data.stats.operations_ok > 0);
}

#[test]
fn same_seed_same_trace_bytes_and_other_seeds_differ() {
    let scenario = scenario("[protocol.options]\nevery_ms = 7\n[network]\nlatency = { dist = \"uniform\", min = \"1ms\", max = \"9ms\" }");
    let trace = |seed: u64| {
        let mut bytes = Vec::new();
        let faults = sim::nemesis::expand(&scenario, seed);
        let data = sim::world::run::<Probe, _>(
            &scenario,
            &faults,
            seed,
            Recorder::default(),
            Some(&mut bytes),
        )
        .unwrap();
        (bytes, data.fingerprint)
    };
    let (a, fingerprint_a) = trace(3);
    let (b, fingerprint_b) = trace(3);
    assert_eq!(a, b);
    assert_eq!(fingerprint_a, fingerprint_b);
    let (_, fingerprint_c) = trace(4);
    assert_ne!(fingerprint_a, fingerprint_c);
}

/// A node that panics when asked to, and never answers clients otherwise.
#[derive(Clone, Debug)]
struct Faulty {
    panic_at_request: bool,
}

#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct FaultyOptions {
    panic: bool,
}

impl Protocol for Faulty {
    type Workload = Register;
    type Request = Request<Operation>;
    type Response = Response<Option<i64>>;
    type Client = FollowLeader<Register>;
    type Message = ();
    type Timer = ();
    type Durable = ();
    type Update = ();
    type Options = FaultyOptions;
    const NAME: &'static str = "faulty";

    fn start(
        config: &NodeConfig<'_, FaultyOptions>,
        _: Option<&()>,
        _: &mut Context<Self>,
    ) -> Self {
        Faulty {
            panic_at_request: config.options.panic,
        }
    }
    fn on_message(&mut self, _: &mut Context<Self>, _: NodeId, _: ()) {}
    fn on_timer(&mut self, _: &mut Context<Self>, _: ()) {}
    fn on_client_request(
        &mut self,
        _: &mut Context<Self>,
        _: ClientId,
        request: Request<Operation>,
    ) {
        assert!(!self.panic_at_request, "planted panic on {}", request.id);
    }
    fn apply_update(_: &mut (), _: ()) {}
    fn view(&self) -> NodeView {
        NodeView {
            role: Role::Other,
            term: 0,
            commit_index: 0,
            leader_hint: None,
        }
    }
}

fn run_faulty(extra: &str) -> sim::outcome::RunData {
    let scenario = scenario(&format!("{extra}\n"));
    let faults = sim::nemesis::expand(&scenario, 1);
    sim::world::run::<Faulty, _>(&scenario, &faults, 1, sim::invariants::NoInvariants, None)
        .unwrap()
}

#[test]
fn a_panicking_handler_gives_a_panic_verdict_with_its_message() {
    let data = run_faulty("[protocol.options]\npanic = true");
    assert_eq!(data.verdict.exit_status().code(), 4);
    match data.verdict {
        sim::outcome::Verdict::Panic { message } => {
            assert!(message.starts_with("planted panic on r0"), "{message}")
        }
        other => panic!("expected a panic verdict, got {other}"),
    }
}

#[test]
fn a_cluster_that_never_answers_fails_liveness() {
    let data = run_faulty("[protocol.options]\npanic = false");
    assert_eq!(
        data.verdict.kind(),
        "pass",
        "no liveness bound, no liveness verdict"
    );
    let scenario = scenario("[protocol.options]\npanic = false\n");
    let mut scenario = scenario;
    scenario.run.heal_at = Some(SimDuration::from_millis(100));
    scenario.run.liveness_bound = Some(SimDuration::from_millis(200));
    let faults = sim::nemesis::expand(&scenario, 1);
    let data =
        sim::world::run::<Faulty, _>(&scenario, &faults, 1, sim::invariants::NoInvariants, None)
            .unwrap();
    assert_eq!(data.verdict.kind(), "liveness-timeout", "{}", data.verdict);
    assert_eq!(data.verdict.exit_status().code(), 3);
}

#[test]
fn the_event_limit_ends_a_run_with_a_verdict() {
    let mut scenario = scenario("[protocol.options]\nevery_ms = 1");
    scenario.run.max_events = 50;
    let faults = sim::nemesis::expand(&scenario, 1);
    let data =
        sim::world::run::<Probe, _>(&scenario, &faults, 1, Recorder::default(), None).unwrap();
    assert_eq!(data.verdict.kind(), "limit-reached");
    assert_eq!(data.stats.events, 50);
    assert!(data.stats.simulated_time < SimTime(500_000_000));
}

#[test]
fn one_way_cut_can_name_the_leader() {
    // Probe's node 0 calls itself the leader; cutting leader -> 1 drops its pings to node 1.
    let scenario = scenario(
        "[protocol.options]\nevery_ms = 10\n[[faults]]\nat = \"0ms\"\naction = \"cut\"\nfrom = \"leader\"\nto = 1\nfor = \"100ms\"",
    );
    let (data, _) = run(&scenario);
    assert_eq!(data.faults[0].label, "cut n0->n1");
    assert_eq!(data.faults[0].end, Some(ms(100)));
}

#[test]
fn a_paused_client_does_nothing_until_resumed_then_takes_what_waited() {
    // Client 0 is paused from 100 ms to 300 ms (a GC pause): no invocation, answer or timer of
    // its own is handled in between; what arrived meanwhile is handled at 300 ms.
    let mut scenario =
        scenario("[[faults]]\nat = \"100ms\"\naction = \"pause\"\nclient = 0\nfor = \"200ms\"");
    scenario.workload.clients = 2;
    scenario.workload.rate = 200;
    let faults = sim::nemesis::expand(&scenario, 1);
    let mut trace = Vec::new();
    let data =
        sim::world::run::<Probe, _>(&scenario, &faults, 1, Recorder::default(), Some(&mut trace))
            .unwrap();
    let trace = String::from_utf8(trace).unwrap();
    let of_client = |client: &str, from: &str, to: &str| -> usize {
        trace
            .lines()
            .filter(|line| {
                let time = line.split(' ').next().unwrap();
                // A node's `send` of a reply to the client is the node's act, not the client's.
                time > from
                    && time < to
                    && !line.contains(" send ")
                    && (line.contains(&format!("invoke {client} "))
                        || line.contains(&format!("->{client} ")))
            })
            .count()
    };
    assert_eq!(of_client("c0", "0.100000000", "0.300000000"), 0, "{trace}");
    assert!(of_client("c1", "0.100000000", "0.300000000") > 0, "{trace}");
    assert!(of_client("c0", "0.300000000", "0.310000000") > 0, "{trace}");
    assert!(trace.contains("0.300000000 resume c0"), "{trace}");
    assert_eq!(data.faults.len(), 1);
    assert_eq!(data.faults[0].label, "pause c0");
    assert_eq!(data.faults[0].end, Some(ms(300)));
}

/// How many trace lines contain `needle`.
fn count(trace: &str, needle: &str) -> usize {
    trace.lines().filter(|line| line.contains(needle)).count()
}

fn traced(scenario: &Scenario) -> String {
    traced_with_seed(scenario, 1)
}

fn traced_with_seed(scenario: &Scenario, seed: u64) -> String {
    let faults = sim::nemesis::expand(scenario, seed);
    let mut trace = Vec::new();
    sim::world::run::<Probe, _>(
        scenario,
        &faults,
        seed,
        Recorder::default(),
        Some(&mut trace),
    )
    .unwrap();
    String::from_utf8(trace).unwrap()
}

#[test]
fn client_requests_and_replies_cross_the_network_and_its_duplication() {
    // Every message is duplicated, client links included: each request reaches its node twice
    // and each answer comes back twice (the second is a late answer the half ignores).
    let trace = traced(&scenario(
        "[network]\nlatency = { dist = \"constant\", value = \"1ms\" }\nduplicate = \"1/1\"",
    ));
    let invokes = count(&trace, "invoke c0 ");
    assert!(invokes > 3, "{trace}");
    assert_eq!(count(&trace, "request c0->"), 2 * invokes, "{trace}");
    assert_eq!(count(&trace, "response n"), invokes, "{trace}");
}

#[test]
fn a_client_beside_a_node_is_cut_off_with_it() {
    // Two clients beside nodes 0 and 1. Isolating node 1 for the whole run also cuts client 1
    // off from node 0, and client 0 off from node 1; each still reaches its own node.
    let with_seed = |faults: &str, seed: u64| {
        let mut scenario = scenario(faults);
        scenario.workload.clients = 2;
        scenario.workload.placement = sim::scenario::Placement::WithNodes;
        scenario.workload.retry_after = Some(SimDuration::from_millis(20));
        traced_with_seed(&scenario, seed)
    };
    let with = |faults: &str| with_seed(faults, 1);
    // Without the partition, some seed sends a client to the other node (which node a client
    // tries first is drawn from its own stream).
    let crossing: usize = (1..=8)
        .map(|seed| with_seed("", seed))
        .map(|open| count(&open, "request c0->n1") + count(&open, "request c1->n0"))
        .sum();
    assert!(crossing > 0);
    let cut = with(
        "[[faults]]\nat = \"0ms\"\naction = \"partition\"\nshape = \"isolate\"\nnode = 1\nfor = \"500ms\"",
    );
    assert_eq!(count(&cut, "request c0->n1"), 0, "{cut}");
    assert_eq!(count(&cut, "request c1->n0"), 0, "{cut}");
    assert!(count(&cut, "request c0->n0") > 0, "{cut}");
    assert!(count(&cut, "request c1->n1") > 0, "{cut}");
}

/// The last state node 1 reached: the pings it received, in arrival order.
fn pings_received(seen: &[Seen]) -> Vec<u64> {
    seen.iter()
        .rev()
        .find_map(|s| s.state.clone().filter(|p| p.id == NodeId(1)))
        .map(|p| p.received)
        .unwrap_or_default()
}

#[test]
fn fifo_links_deliver_in_send_order_and_datagram_links_need_not() {
    // Pings every 1ms over a link whose latency varies by up to 30ms: as datagrams they
    // overtake one another; on a FIFO link they arrive in the order they were sent.
    let network = "[protocol.options]\nevery_ms = 1\n[network]\nlatency = { dist = \"uniform\", min = \"1ms\", max = \"30ms\" }";
    let (_, seen) = run(&scenario(network));
    let datagrams = pings_received(&seen);
    assert!(datagrams.len() > 300, "{}", datagrams.len());
    assert!(
        datagrams.windows(2).any(|pair| pair[0] > pair[1]),
        "datagram links reordered nothing"
    );
    let (_, seen) = run(&scenario(&format!("{network}\nfifo = true")));
    let fifo = pings_received(&seen);
    assert!(fifo.len() > 300, "{}", fifo.len());
    assert!(
        fifo.windows(2).all(|pair| pair[0] < pair[1]),
        "a FIFO link reordered: {fifo:?}"
    );
}

fn drawing_scenario() -> Scenario {
    scenario(
        r#"heal_at = "400ms"
[swarm]
kinds = ["crash"]
[swarm.draw]
nodes = [2, 3, 4]
clients = [1, 2]
fifo = [true, false]
lose_unsynced = [true, false]
[swarm.draw.options]
every_ms = [5, 10, 20]
tick_ms = [7, 11]
[protocol.options]
persist_first = true
"#,
    )
}

#[test]
fn a_drawing_swarm_runs_what_its_seed_draws_and_writes_it_out() {
    let scenario = drawing_scenario();
    let accept = |_: &Scenario| Ok(());
    let mut node_counts = std::collections::BTreeSet::new();
    for seed in 0..30 {
        let drawn = sim::nemesis::draw(&scenario, seed, &accept).unwrap();
        assert_eq!(
            format!("{:?}", drawn.as_ref()),
            format!(
                "{:?}",
                sim::nemesis::draw(&scenario, seed, &accept)
                    .unwrap()
                    .as_ref()
            ),
            "the same seed draws the same scenario"
        );
        node_counts.insert(drawn.cluster.nodes);
        let every = drawn.protocol.options["every_ms"].as_integer().unwrap();
        assert!([5, 10, 20].contains(&every));
        // The scenario's own options stay beside the drawn ones.
        assert_eq!(
            drawn.protocol.options["persist_first"].as_bool(),
            Some(true)
        );
        // Faults aim at the drawn cluster.
        for fault in sim::nemesis::expand(&scenario, seed) {
            if let sim::scenario::Fault::Crash(sim::scenario::NodeRef::Id(n)) = fault.fault {
                assert!(n < drawn.cluster.nodes);
            }
        }
        // Written out, the draws are plain fields and the run is the same run.
        let expanded = sim::nemesis::expanded_scenario(&scenario, seed, &accept).unwrap();
        assert!(expanded.swarm.is_none());
        assert_eq!(expanded.cluster.nodes, drawn.cluster.nodes);
        let reread = Scenario::parse(&expanded.to_toml(), Path::new("expanded.toml")).unwrap();
        let direct = sim::world::run::<Probe, _>(
            &scenario,
            &sim::nemesis::expand(&scenario, seed),
            seed,
            Recorder::default(),
            None,
        )
        .unwrap();
        let replayed = sim::world::run::<Probe, _>(
            &reread,
            &sim::nemesis::expand(&reread, seed),
            seed,
            Recorder::default(),
            None,
        )
        .unwrap();
        assert_eq!(direct.fingerprint, replayed.fingerprint, "seed {seed}");
        assert_eq!(direct.node_count, drawn.cluster.nodes, "seed {seed}");
    }
    assert_eq!(
        node_counts.len(),
        3,
        "every cluster size is drawn by some seed"
    );
}

#[test]
fn rejected_option_combinations_are_drawn_again_and_never_change_the_faults() {
    let scenario = drawing_scenario();
    // Reject a combination, as a protocol rejects an unsafe one.
    let reject = |drawn: &Scenario| {
        let every = drawn.protocol.options["every_ms"].as_integer();
        let tick = drawn.protocol.options["tick_ms"].as_integer();
        if every == Some(20) && tick == Some(11) {
            Err("every_ms 20 with tick_ms 11".to_string())
        } else {
            Ok(())
        }
    };
    let accept = |_: &Scenario| Ok(());
    let mut redrawn = 0;
    for seed in 0..60 {
        let free = sim::nemesis::draw(&scenario, seed, &accept).unwrap();
        let checked = sim::nemesis::draw(&scenario, seed, &reject).unwrap();
        assert!(
            reject(checked.as_ref()).is_ok(),
            "seed {seed} drew a rejected combination"
        );
        if reject(free.as_ref()).is_err() {
            redrawn += 1;
        }
        // The setting, and so the fault schedule, does not depend on the options' draw.
        assert_eq!(free.cluster.nodes, checked.cluster.nodes);
        assert_eq!(free.network.fifo, checked.network.fifo);
    }
    assert!(redrawn > 0, "no seed drew the rejected combination first");
    // A draw with no acceptable combination is an error, not a run.
    let error =
        sim::nemesis::draw(&scenario, 1, &|_: &Scenario| Err("never".to_string())).unwrap_err();
    assert!(
        error.contains("swarm.draw") && error.contains("never"),
        "{error}"
    );
}
