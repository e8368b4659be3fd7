//! The invariant checker says no: each of Multi-Paxos's four properties is broken on purpose, by
//! forging the messages a faulty node would send, and the checker names it. (The planted-bug
//! scenarios show the same from real executions; these pin each check on its own.)

use protocols::paxos::{
    Accept, Accepted, Ballot, Durable, Message, Options, Paxos, PaxosInvariants, Prepare, Promise,
    Slot, Timer, Value,
};
use sim::invariants::{Invariants, Violation};
use sim::protocol::{ClientId, Context, NodeConfig, NodeId, Protocol, RequestId};
use sim::service::Request;
use sim::time::SimTime;
use sim::workload::register::Operation;

/// Three nodes driven handler by handler, the checker run after each step as the engine does.
struct Cluster {
    nodes: Vec<Option<Paxos>>,
    disks: Vec<Durable>,
    checker: PaxosInvariants,
    options: Options,
}

impl Cluster {
    fn new() -> Cluster {
        let mut cluster = Cluster {
            nodes: vec![None, None, None],
            disks: vec![Durable::default(); 3],
            checker: PaxosInvariants::new(),
            options: Options::default(),
        };
        for id in 0..3 {
            cluster.start(id).expect("a fresh node is fine");
        }
        cluster
    }

    /// Applies the node's writes to its disk (every write durable at once).
    fn flush(&mut self, id: u32, context: &mut Context<Paxos>) {
        for effect in context.drain_effects() {
            if let sim::protocol::Effect::Persist { update } = effect {
                <Paxos>::apply_update(&mut self.disks[id as usize], update);
            }
        }
    }

    fn start(&mut self, id: u32) -> Result<(), Violation> {
        let config = NodeConfig {
            id: NodeId(id),
            node_count: 3,
            options: &self.options,
            bug: None,
        };
        let mut context = Context::new(NodeId(id), 3, SimTime::ZERO);
        let disk = self.disks[id as usize].clone();
        self.nodes[id as usize] = Some(<Paxos>::start(&config, Some(&disk), &mut context));
        self.flush(id, &mut context);
        self.checker
            .after_event(SimTime::ZERO, Some(NodeId(id)), &self.nodes)
    }

    /// Crashes node `id` and restarts it from `disk` (what a lost write leaves, say).
    fn restart_from(&mut self, id: u32, disk: Durable) -> Result<(), Violation> {
        self.nodes[id as usize] = None;
        self.checker
            .after_event(SimTime::ZERO, Some(NodeId(id)), &self.nodes)?;
        self.disks[id as usize] = disk;
        self.start(id)
    }

    fn step(
        &mut self,
        id: u32,
        handler: impl FnOnce(&mut Paxos, &mut Context<Paxos>),
    ) -> Result<(), Violation> {
        let mut context = Context::new(NodeId(id), 3, SimTime::ZERO);
        handler(
            self.nodes[id as usize].as_mut().expect("the node is up"),
            &mut context,
        );
        self.flush(id, &mut context);
        self.checker
            .after_event(SimTime::ZERO, Some(NodeId(id)), &self.nodes)
    }

    fn deliver(&mut self, source: u32, target: u32, message: Message) -> Result<(), Violation> {
        self.step(target, |paxos, context| {
            paxos.on_message(context, NodeId(source), message)
        })
    }

    fn node(&self, id: u32) -> &Paxos {
        self.nodes[id as usize].as_ref().expect("the node is up")
    }

    /// Node `id` runs phase 1 and leads with the promise of `voter` (which reports nothing).
    fn lead(&mut self, id: u32, voter: u32) -> Ballot {
        self.step(id, |paxos, context| {
            paxos.on_timer(context, Timer::Election)
        })
        .expect("phase 1 starts");
        let ballot = self.node(id).promised();
        let prepare = Message::Prepare(Prepare {
            ballot,
            first_slot: Slot(1),
        });
        self.deliver(id, voter, prepare).expect("a promise is fine");
        let promise = Message::Promise(Promise {
            ballot,
            accepted: Vec::new(),
        });
        self.deliver(voter, id, promise).expect("a promise is fine");
        assert!(self.node(id).is_leader());
        ballot
    }

    fn propose(&mut self, id: u32, request: u64) -> Result<(), Violation> {
        let request = Request {
            id: RequestId(request),
            client: ClientId(request as u32),
            operation: Operation::Write {
                key: 1,
                value: request as i64,
            },
        };
        self.step(id, |paxos, context| {
            paxos.on_client_request(context, request.client, request)
        })
    }
}

fn accepted(ballot: Ballot, slot: u64) -> Message {
    Message::Accepted(Accepted {
        ballot,
        first: Slot(slot),
        last: Slot(slot),
        prefix: Slot(0),
        decided: Slot(0),
    })
}

fn property(result: Result<(), Violation>) -> String {
    result.expect_err("a violation").property
}

/// Agreement: two ballots each get a majority for different values at slot 1 — possible only
/// if an acceptor accepts below its promise, as the forged `Accepted` pretends.
#[test]
fn agreement_flags_two_values_chosen_at_one_slot() {
    let mut cluster = Cluster::new();
    let first = cluster.lead(0, 1);
    cluster.propose(0, 1).unwrap();
    cluster.deliver(1, 0, accepted(first, 1)).unwrap();
    assert_eq!(cluster.node(0).decided(), Slot(1));
    let second = cluster.lead(2, 1);
    cluster.propose(2, 2).unwrap();
    // n1 "accepts" r2 at slot 1 too: its promise to n2 ignored what it had accepted.
    let violation = cluster.deliver(1, 2, accepted(second, 1));
    assert_eq!(property(violation), "agreement");
}

/// Validity: an acceptor accepts a value its ballot's leader never proposed there.
#[test]
fn validity_flags_an_accepted_value_nobody_proposed() {
    let mut cluster = Cluster::new();
    let ballot = cluster.lead(0, 1);
    let forged = Message::Accept(Accept {
        ballot,
        first: Slot(1),
        values: vec![Value::Command(Request {
            id: RequestId(99),
            client: ClientId(9),
            operation: Operation::Write { key: 1, value: 99 },
        })],
        decided: Slot(0),
    });
    assert_eq!(property(cluster.deliver(0, 2, forged)), "validity");
}

/// Promise monotonicity: an acceptor whose promise a proposer received comes back from a restart
/// with a lower one (its write lost, as a promise that was never written is).
#[test]
fn promise_monotonicity_flags_a_promise_forgotten_across_a_restart() {
    let mut cluster = Cluster::new();
    cluster
        .step(0, |paxos, context| paxos.on_timer(context, Timer::Election))
        .unwrap();
    let ballot = cluster.node(0).promised();
    let prepare = Message::Prepare(Prepare {
        ballot,
        first_slot: Slot(1),
    });
    cluster.deliver(0, 1, prepare).unwrap();
    let promise = Message::Promise(Promise {
        ballot,
        accepted: Vec::new(),
    });
    cluster.deliver(1, 0, promise).unwrap();
    // A restart with the promise gone from the disk.
    let violation = cluster.restart_from(1, Durable::default());
    assert_eq!(property(violation), "promise-monotonicity");
}

/// State-machine safety: two followers told by two leaders that slot 1 is decided apply
/// different values there (forged decisions: neither value had a majority).
#[test]
fn state_machine_safety_flags_two_values_applied_at_one_slot() {
    let mut cluster = Cluster::new();
    let first = cluster.lead(0, 1);
    cluster.propose(0, 1).unwrap();
    let second = cluster.lead(2, 0);
    cluster.propose(2, 2).unwrap();
    let decide = |ballot: Ballot, request: u64| {
        Message::Accept(Accept {
            ballot,
            first: Slot(1),
            values: vec![Value::Command(Request {
                id: RequestId(request),
                client: ClientId(request as u32),
                operation: Operation::Write {
                    key: 1,
                    value: request as i64,
                },
            })],
            decided: Slot(1),
        })
    };
    cluster.deliver(0, 1, decide(first, 1)).unwrap();
    assert_eq!(cluster.node(1).applied(), Slot(1));
    // n2, told (falsely) that its own value is decided at slot 1, applies it.
    let violation = cluster.deliver(0, 2, decide(second, 2));
    assert_eq!(property(violation), "state-machine-safety");
}
