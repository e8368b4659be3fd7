//! The engine's client mechanics through a minimal service: completions seen by invariants in
//! true time, liveness judged by answers, and workload draws that need not depend on replies.

use sim::completion::CompletionClass;
use sim::history::{OpType, Process};
use sim::invariants::{CompletionEvent, Invariants, Violation};
use sim::outcome::RunData;
use sim::protocol::*;
use sim::scenario::Scenario;
use sim::service::{Answer, FollowLeader, Request, Response, Sessions};
use sim::time::SimTime;
use sim::workload::register::{Operation, Register, Registers};
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

/// Node 0 serves every request through the register state machine; the others redirect there.
#[derive(Clone, Debug)]
struct Single {
    id: NodeId,
    state: Sessions<Registers>,
}

impl Protocol for Single {
    type Workload = Register;
    type Message = ();
    type Request = Request<Operation>;
    type Response = Response<Option<i64>>;
    type Client = FollowLeader<Register>;
    type Timer = ();
    type Durable = ();
    type Update = ();
    type Options = ();
    const NAME: &'static str = "single";

    fn start(config: &NodeConfig<'_, ()>, _: Option<&()>, _: &mut Context<Self>) -> Self {
        Single {
            id: config.id,
            state: Sessions::new(),
        }
    }
    fn on_message(&mut self, _: &mut Context<Self>, _: NodeId, _: ()) {}
    fn on_timer(&mut self, _: &mut Context<Self>, _: ()) {}
    fn on_client_request(
        &mut self,
        context: &mut Context<Self>,
        client: ClientId,
        request: Request<Operation>,
    ) {
        let answer = if self.id == NodeId(0) {
            self.state.apply(&request)
        } else {
            Answer::Redirect(Some(NodeId(0)))
        };
        let response = Response {
            request: request.id,
            answer,
        };
        context.reply(client, response);
    }
    fn apply_update(_: &mut (), _: ()) {}
    fn view(&self) -> NodeView {
        NodeView {
            role: Role::Other,
            term: 0,
            commit_index: 0,
            leader_hint: Some(NodeId(0)),
        }
    }
}

/// What the completion hook saw: (client, invoked, completed, node, class).
type Seen = Rc<RefCell<Vec<(ClientId, SimTime, SimTime, Option<NodeId>, CompletionClass)>>>;

/// Records every completion; optionally fails on the `fail_at`-th one.
struct Watcher {
    seen: Seen,
    fail_at: Option<usize>,
}

impl Invariants<Single> for Watcher {
    fn on_completion(&mut self, event: &CompletionEvent<'_, Register>) -> Result<(), Violation> {
        let mut seen = self.seen.borrow_mut();
        seen.push((
            event.client,
            event.invoked,
            event.completed,
            event.node,
            event.completion.class(),
        ));
        if self.fail_at == Some(seen.len()) {
            return Err(Violation::new(
                "test-exclusion",
                format!("{} completed at {}", event.client, event.completed),
            ));
        }
        Ok(())
    }
}

fn scenario(workload: &str) -> Scenario {
    let text = format!(
        "[protocol]\nname = \"single\"\n[cluster]\nnodes = 3\n[workload]\n{workload}\n\
         [run]\nduration = \"2s\"\nliveness_bound = \"500ms\"\n"
    );
    Scenario::parse(&text, Path::new("single.toml")).unwrap()
}

fn run(scenario: &Scenario, fail_at: Option<usize>) -> (RunData, Seen) {
    let seen = Seen::default();
    let watcher = Watcher {
        seen: seen.clone(),
        fail_at,
    };
    let faults = sim::nemesis::expand(scenario, 3);
    let data = sim::world::run::<Single, _>(scenario, &faults, 3, watcher, None).unwrap();
    (data, seen)
}

#[test]
fn invariants_see_every_completion_in_true_time_with_the_node_that_served_it() {
    let (data, seen) = run(&scenario("clients = 3\nrate = 50"), None);
    assert_eq!(data.verdict.kind(), "pass", "{}", data.verdict);
    let seen = seen.borrow();
    let stats = &data.stats;
    assert_eq!(
        seen.len() as u64,
        stats.operations_ok + stats.operations_fail + stats.operations_refused,
        "every completion a client half decided, none of the engine's timeouts"
    );
    assert!(seen.len() > 100);
    for (client, invoked, completed, node, _) in seen.iter() {
        assert!(
            invoked < completed,
            "{client}: completed before it was invoked"
        );
        assert_eq!(
            *node,
            Some(NodeId(0)),
            "only node 0 answers (others redirect)"
        );
    }
    // The history records the serving node of every completion too.
    let history = &data.history;
    let served: Vec<Option<NodeId>> = (0..history.len())
        .filter(|i| history.op(*i).kind != OpType::Invoke)
        .map(|i| history.node(i))
        .collect();
    assert!(served.iter().all(|node| *node == Some(NodeId(0))));
}

#[test]
fn an_invariant_on_completions_can_fail_the_run_and_is_named() {
    let (data, _) = run(&scenario("clients = 2"), Some(5));
    match &data.verdict {
        sim::outcome::Verdict::SafetyViolation { property, .. } => {
            assert_eq!(property, "test-exclusion")
        }
        other => panic!("{other}"),
    }
}

#[test]
fn answers_that_are_all_decided_fails_still_show_liveness() {
    // Only compare-and-sets on registers never written: every one fails, decided by the
    // service. That is an answer: the liveness phase is satisfied.
    let (data, _) = run(&scenario("clients = 2\nmix = { cas = 1 }"), None);
    assert_eq!(data.stats.operations_ok, 0);
    assert!(data.stats.operations_fail > 0);
    assert_eq!(data.verdict.kind(), "pass", "{}", data.verdict);
    assert_eq!(data.stats.availability(), Some(1.0));
}

/// Each client's invocations, in order, as (function, key, value) texts.
fn invocations_per_client(data: &RunData, clients: u64) -> Vec<Vec<String>> {
    let mut per_client = vec![Vec::new(); clients as usize];
    for op in data.history.ops() {
        if let (OpType::Invoke, Process::Client(process)) = (op.kind, &op.process) {
            let key = op.key.as_ref().map(|k| k.to_string()).unwrap_or_default();
            per_client[(process % clients) as usize]
                .push(format!("{} {key} {}", op.function, op.value));
        }
    }
    per_client
}

#[test]
fn reply_independent_draws_depend_only_on_the_seed_and_the_client() {
    let slow = "client_latency = { dist = \"uniform\", min = \"1ms\", max = \"9ms\" }";
    let sequences = |extra: &str| {
        let fast = scenario(&format!("clients = 3\nrate = 80\n{extra}"));
        let slow = scenario(&format!("clients = 3\nrate = 80\n{extra}\n{slow}"));
        let (fast, _) = run(&fast, None);
        let (slow, _) = run(&slow, None);
        (
            invocations_per_client(&fast, 3),
            invocations_per_client(&slow, 3),
        )
    };
    // Replies come at other times, so clients complete different numbers of operations; the
    // operations they invoke are the same sequence.
    let (fast, slow) = sequences("reply_independent = true");
    for (client, (a, b)) in fast.iter().zip(&slow).enumerate() {
        let common = a.len().min(b.len());
        assert!(common > 30, "client {client}: {common} operations");
        assert_eq!(a[..common], b[..common], "client {client}");
    }
    // By default draws learn from replies (and share one value counter), so they differ.
    let (fast, slow) = sequences("");
    assert!(fast
        .iter()
        .zip(&slow)
        .any(|(a, b)| a[..a.len().min(b.len())] != b[..a.len().min(b.len())]));
}

/// Each client's invocations, in order, as (time, operation text).
fn timed_invocations(data: &RunData, clients: u64) -> Vec<Vec<(u64, String)>> {
    let mut per_client = vec![Vec::new(); clients as usize];
    for op in data.history.ops() {
        if let (OpType::Invoke, Process::Client(process)) = (op.kind, &op.process) {
            let key = op.key.as_ref().map(|k| k.to_string()).unwrap_or_default();
            let text = format!("{} {key} {}", op.function, op.value);
            per_client[(process % clients) as usize].push((op.time, text));
        }
    }
    per_client
}

#[test]
fn kept_operations_with_times_are_invoked_when_they_were_and_skipped_ones_take_no_time() {
    let base = "clients = 2\nrate = 50\nreply_independent = true";
    let (full, _) = run(&scenario(base), None);
    let full = timed_invocations(&full, 2);
    let kept = [(0usize, 3usize), (0, 7), (1, 5)];
    let list = |timed: bool| {
        let entries: Vec<String> = (kept.iter())
            .map(|&(client, n)| match timed {
                true => format!("[{client}, {n}, \"{}ns\"]", full[client][n].0),
                false => format!("[{client}, {n}]"),
            })
            .collect();
        format!("{base}\nonly_operations = [{}]", entries.join(", "))
    };
    // With times: the same operations; each client's first kept one at the time it had in
    // the full run, and a later one no earlier (the first may now take longer: the client
    // half has not yet learnt where the service is, so it is redirected).
    let (timed, _) = run(&scenario(&list(true)), None);
    let timed = timed_invocations(&timed, 2);
    assert_eq!(timed[0][0], full[0][3]);
    assert_eq!(timed[1], vec![full[1][5].clone()]);
    assert_eq!(timed[0].len(), 2);
    assert_eq!(timed[0][1].1, full[0][7].1);
    assert!(timed[0][1].0 >= full[0][7].0, "{timed:?}");
    // Without: the same operations, but each client reaches them early, the operations it
    // skipped having taken no time.
    let (untimed, _) = run(&scenario(&list(false)), None);
    let untimed = timed_invocations(&untimed, 2);
    assert_eq!(untimed[0].len(), 2);
    assert_eq!(untimed[0][1].1, full[0][7].1);
    assert!(untimed[0][1].0 < full[0][7].0, "{untimed:?}");
    assert!(untimed[1][0].0 < full[1][5].0, "{untimed:?}");
}

#[test]
fn a_malformed_kept_operation_names_its_line() {
    for bad in [
        "only_operations = [[0]]",
        "only_operations = [[0, 1, \"5 parsecs\"]]",
        "only_operations = [[0, 1, \"5ms\", 4]]",
        "only_operations = [[0, -1]]",
    ] {
        let text = format!(
            "[protocol]\nname = \"single\"\n[workload]\nclients = 2\n{bad}\n[run]\nduration = \"1s\"\n"
        );
        let error = Scenario::parse(&text, Path::new("single.toml"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("single.toml:5"), "{bad}: {error}");
    }
}

/// Panics on the first completion it sees.
struct PanicOnCompletion;

impl Invariants<Single> for PanicOnCompletion {
    fn on_completion(&mut self, _: &CompletionEvent<'_, Register>) -> Result<(), Violation> {
        panic!("planted panic in a simulation");
    }
}

#[test]
fn a_panic_inside_a_simulation_is_its_verdict_and_the_thread_says_it_is_simulating() {
    use std::sync::atomic::{AtomicBool, Ordering};
    static SEEN_SIMULATING: AtomicBool = AtomicBool::new(false);
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.to_string().contains("planted panic in a simulation") {
            SEEN_SIMULATING.store(sim::world::simulating(), Ordering::SeqCst);
        } else {
            default(info);
        }
    }));
    assert!(!sim::world::simulating());
    let scenario = scenario("clients = 1");
    let faults = sim::nemesis::expand(&scenario, 3);
    let data =
        sim::world::run::<Single, _>(&scenario, &faults, 3, PanicOnCompletion, None).unwrap();
    assert_eq!(data.verdict.kind(), "panic", "{}", data.verdict);
    assert!(
        data.verdict.to_string().contains("planted panic"),
        "{}",
        data.verdict
    );
    assert!(
        SEEN_SIMULATING.load(Ordering::SeqCst),
        "the hook saw a simulating thread"
    );
    assert!(
        !sim::world::simulating(),
        "and the flag is cleared after the run"
    );
}
