//! Paper conformance: one test per rule of Multi-Paxos — Lamport's "Paxos Made Simple" (PMS)
//! and van Renesse & Altinbuken's "Paxos Made Moderately Complex" (PMMC) — each driving one
//! handler directly and checking the effects it pushes, in order; then each planted bug beside
//! the rule it breaks.

use protocols::paxos::{
    Accept, Accepted, AcceptedValue, Ballot, Durable, Message, Options, Paxos, Prepare, Promise,
    Reject, Slot, Timer, Update, Value,
};
use sim::protocol::{ClientId, Context, Effect, NodeConfig, NodeId, Protocol, RequestId, Role};
use sim::service::{Answer, Request, StateMachine};
use sim::time::SimTime;
use sim::workload::counter::{self, Counters};
use sim::workload::register::Operation;

const NODE_COUNT: u32 = 3;

/// Starts node `id` of a generic Paxos from `durable`, with `bug` and `options`.
fn start_generic<M: StateMachine>(
    id: u32,
    durable: Option<Durable<sim::service::MachineOperation<M>>>,
    bug: Option<&str>,
    options: Options,
) -> (Paxos<M>, Context<Paxos<M>>) {
    let config = NodeConfig {
        id: NodeId(id),
        node_count: NODE_COUNT,
        options: &options,
        bug,
    };
    let mut context = Context::new(NodeId(id), NODE_COUNT, SimTime::ZERO);
    let paxos = Paxos::<M>::start(&config, durable.as_ref(), &mut context);
    context.drain_effects();
    (paxos, context)
}

fn start(id: u32, durable: Option<Durable>, bug: Option<&str>) -> (Paxos, Context<Paxos>) {
    start_generic(id, durable, bug, Options::default())
}

fn ballot(round: u64, node: u32) -> Ballot {
    Ballot::new(round, NodeId(node))
}

fn write(id: u64) -> Request<Operation> {
    Request {
        id: RequestId(id),
        client: ClientId(id as u32),
        operation: Operation::Write {
            key: 1,
            value: id as i64,
        },
    }
}

fn command(id: u64) -> Value {
    Value::Command(write(id))
}

fn accepted(round: u64, node: u32, value: Value) -> Option<AcceptedValue> {
    Some(AcceptedValue {
        ballot: ballot(round, node),
        value,
    })
}

/// A disk holding `promised` and `accepted` (slot 1 first).
fn disk(promised: Ballot, accepted: Vec<Option<AcceptedValue>>) -> Durable {
    Durable { promised, accepted }
}

/// Node `id`, started from `durable`, made leader by a promise (with nothing accepted) from
/// the next node.
fn leader_from<M: StateMachine>(
    id: u32,
    durable: Option<Durable<sim::service::MachineOperation<M>>>,
    bug: Option<&str>,
    options: Options,
) -> (Paxos<M>, Context<Paxos<M>>) {
    let (mut paxos, mut context) = start_generic::<M>(id, durable, bug, options);
    paxos.on_timer(&mut context, Timer::Election);
    let promise = Promise {
        ballot: paxos.promised(),
        accepted: Vec::new(),
    };
    paxos.on_message(
        &mut context,
        NodeId((id + 1) % NODE_COUNT),
        Message::Promise(promise),
    );
    assert!(paxos.is_leader());
    context.drain_effects();
    (paxos, context)
}

fn leader(id: u32) -> (Paxos, Context<Paxos>) {
    leader_from::<sim::workload::register::Registers>(id, None, None, Options::default())
}

/// The messages pushed, in order.
fn sent<P: Protocol>(context: &Context<P>) -> Vec<(NodeId, P::Message)> {
    context
        .effects()
        .iter()
        .filter_map(|effect| match effect {
            Effect::Send { target, message } => Some((*target, message.clone())),
            _ => None,
        })
        .collect()
}

/// The position of the first persist and of the first send among the effects.
fn persist_then_send<P: Protocol>(context: &Context<P>) -> (Option<usize>, Option<usize>) {
    let effects = context.effects();
    let persist = effects
        .iter()
        .position(|e| matches!(e, Effect::Persist { .. }));
    let send = effects
        .iter()
        .position(|e| matches!(e, Effect::Send { .. }));
    (persist, send)
}

fn persisted(context: &Context<Paxos>) -> Vec<Update> {
    context
        .effects()
        .iter()
        .filter_map(|effect| match effect {
            Effect::Persist { update } => Some(update.clone()),
            _ => None,
        })
        .collect()
}

fn replies<P: Protocol>(context: &Context<P>) -> Vec<P::Response> {
    context
        .effects()
        .iter()
        .filter_map(|effect| match effect {
            Effect::Reply { response, .. } => Some(response.clone()),
            _ => None,
        })
        .collect()
}

// ----- phase 1 -----

/// PMS §2.2 (phase 1a) and §3: a node that hears from no leader picks a ballot above every
/// round it has seen, owned by itself, promises it on its own disk first, then sends `Prepare`
/// for every slot from the first one it does not know decided.
#[test]
fn a_timeout_starts_phase_1_with_a_ballot_above_every_round_seen() {
    let (mut paxos, mut context) = start(0, Some(disk(ballot(5, 2), Vec::new())), None);
    paxos.on_timer(&mut context, Timer::Election);
    let new = ballot(6, 0);
    assert_eq!(paxos.promised(), new);
    assert_eq!(paxos.role(), Role::Candidate);
    assert_eq!(persisted(&context), vec![Update::Promise { ballot: new }]);
    let (persist, send) = persist_then_send(&context);
    assert!(
        persist < send,
        "the promise is written before Prepare leaves"
    );
    let prepare = Message::Prepare(Prepare {
        ballot: new,
        first_slot: Slot(1),
    });
    assert_eq!(
        sent(&context),
        vec![(NodeId(1), prepare.clone()), (NodeId(2), prepare)]
    );
}

/// PMS §2.2 (phase 1b) and §2.3: an acceptor promises a higher ballot, writes the promise
/// before replying, and reports what it accepted from the `Prepare`'s first slot on.
#[test]
fn an_acceptor_promises_a_higher_ballot_and_reports_its_accepted_values() {
    let on_disk = disk(
        ballot(2, 1),
        vec![accepted(1, 1, command(1)), None, accepted(2, 1, command(3))],
    );
    let (mut paxos, mut context) = start(0, Some(on_disk), None);
    let prepare = Prepare {
        ballot: ballot(3, 2),
        first_slot: Slot(2),
    };
    paxos.on_message(&mut context, NodeId(2), Message::Prepare(prepare));
    assert_eq!(paxos.promised(), ballot(3, 2));
    assert_eq!(
        persisted(&context),
        vec![Update::Promise {
            ballot: ballot(3, 2)
        }]
    );
    let (persist, send) = persist_then_send(&context);
    assert!(
        persist < send,
        "PMS §2.3: the promise is on disk before the reply"
    );
    let promise = Promise {
        ballot: ballot(3, 2),
        accepted: vec![(Slot(3), accepted(2, 1, command(3)).unwrap())],
    };
    assert_eq!(sent(&context), vec![(NodeId(2), Message::Promise(promise))]);
}

/// PMS §2.2 (P1a): an acceptor that promised a higher ballot rejects a `Prepare` for a lower
/// one, and says which ballot it promised (PMMC's `preempted`).
#[test]
fn an_acceptor_rejects_a_prepare_below_its_promise() {
    let (mut paxos, mut context) = start(0, Some(disk(ballot(4, 1), Vec::new())), None);
    let prepare = Prepare {
        ballot: ballot(3, 2),
        first_slot: Slot(1),
    };
    paxos.on_message(&mut context, NodeId(2), Message::Prepare(prepare));
    assert_eq!(paxos.promised(), ballot(4, 1));
    assert!(persisted(&context).is_empty());
    let reject = Reject {
        promised: ballot(4, 1),
    };
    assert_eq!(sent(&context), vec![(NodeId(2), Message::Reject(reject))]);
}

/// PMS §2.2 (P2c): a proposer with promises from a majority proposes, per slot, the value of
/// the highest ballot any of them accepted; PMS §3: the gaps among them get no-ops. It proposes
/// them in its own ballot, accepting them on its own disk first.
#[test]
fn a_new_leader_proposes_the_highest_ballot_value_per_slot_and_fills_gaps_with_no_ops() {
    let own = disk(
        ballot(2, 0),
        vec![
            accepted(1, 0, command(1)),
            None,
            accepted(1, 0, command(30)),
        ],
    );
    let (mut paxos, mut context) = start(0, Some(own), None);
    paxos.on_timer(&mut context, Timer::Election);
    context.drain_effects();
    let new = paxos.promised();
    let promise = Promise {
        ballot: new,
        accepted: vec![
            (Slot(1), accepted(0, 1, command(10)).unwrap()),
            (Slot(3), accepted(2, 1, command(3)).unwrap()),
        ],
    };
    paxos.on_message(&mut context, NodeId(1), Message::Promise(promise));
    assert!(paxos.is_leader());
    let held: Vec<_> = (1..=3)
        .map(|slot| paxos.accepted(Slot(slot)).cloned())
        .collect();
    assert_eq!(
        held,
        vec![
            accepted(new.round, 0, command(1)),
            accepted(new.round, 0, Value::NoOp),
            accepted(new.round, 0, command(3)),
        ]
    );
    assert_eq!(
        persisted(&context),
        vec![Update::Accept {
            ballot: new,
            first: Slot(1),
            values: vec![command(1), Value::NoOp, command(3)],
        }]
    );
    let (persist, send) = persist_then_send(&context);
    assert!(persist < send);
    for (_, message) in sent(&context) {
        let Message::Accept(accept) = message else {
            panic!("a new leader sends Accept: {message:?}");
        };
        assert_eq!(accept.values, vec![command(1), Value::NoOp, command(3)]);
    }
}

/// PMMC §3: a proposer whose `Prepare` is rejected for a higher ballot is preempted; it
/// returns to follower and waits a randomized timeout before trying a higher ballot.
#[test]
fn a_preempted_leader_steps_down_and_answers_its_pending_requests_info() {
    let (mut paxos, mut context) = leader(0);
    paxos.on_client_request(&mut context, ClientId(7), write(7));
    context.drain_effects();
    let reject = Reject {
        promised: ballot(9, 2),
    };
    paxos.on_message(&mut context, NodeId(1), Message::Reject(reject));
    assert_eq!(paxos.role(), Role::Follower);
    assert_eq!(paxos.leader_hint(), Some(NodeId(2)));
    assert!(matches!(
        replies(&context).as_slice(),
        [response] if matches!(response.answer, Answer::Indeterminate(_))
    ));
}

// ----- phase 2 -----

/// PMS §2.2 (phase 2b): an acceptor accepts a proposal at or above its promise, writes it
/// before replying, and answers `Accepted` with the slots it accepted.
#[test]
fn an_acceptor_accepts_at_or_above_its_promise_writing_before_replying() {
    let (mut paxos, mut context) = start(1, Some(disk(ballot(2, 0), Vec::new())), None);
    let accept = Accept {
        ballot: ballot(2, 0),
        first: Slot(1),
        values: vec![command(1), command(2)],
        decided: Slot(0),
    };
    paxos.on_message(&mut context, NodeId(0), Message::Accept(accept));
    assert_eq!(
        persisted(&context),
        vec![Update::Accept {
            ballot: ballot(2, 0),
            first: Slot(1),
            values: vec![command(1), command(2)],
        }]
    );
    let (persist, send) = persist_then_send(&context);
    assert!(persist < send);
    let reply = Accepted {
        ballot: ballot(2, 0),
        first: Slot(1),
        last: Slot(2),
        prefix: Slot(2),
        decided: Slot(0),
    };
    assert_eq!(sent(&context), vec![(NodeId(0), Message::Accepted(reply))]);
    assert_eq!(paxos.leader_hint(), Some(NodeId(0)));
}

/// PMS §2.2 (P1a): an acceptor never accepts a proposal below its promise.
#[test]
fn an_acceptor_rejects_an_accept_below_its_promise() {
    let (mut paxos, mut context) = start(1, Some(disk(ballot(5, 2), Vec::new())), None);
    let accept = Accept {
        ballot: ballot(4, 0),
        first: Slot(1),
        values: vec![command(1)],
        decided: Slot(0),
    };
    paxos.on_message(&mut context, NodeId(0), Message::Accept(accept));
    assert_eq!(paxos.accepted(Slot(1)), None);
    assert!(persisted(&context).is_empty());
    let reject = Reject {
        promised: ballot(5, 2),
    };
    assert_eq!(sent(&context), vec![(NodeId(0), Message::Reject(reject))]);
}

/// PMS §2.3: a value is chosen once a majority accepted it; the leader learns it, applies it
/// and answers the client (its own acceptance counts: 2 of 3).
#[test]
fn a_value_is_decided_once_a_majority_accepts_it_and_the_client_is_answered() {
    let (mut paxos, mut context) = leader(0);
    paxos.on_client_request(&mut context, ClientId(7), write(7));
    let slot = Slot(1);
    assert_eq!(
        paxos.decided(),
        Slot(0),
        "one acceptance of three is no majority"
    );
    let accepts = sent(&context);
    assert_eq!(accepts.len(), 2, "the proposal goes to both acceptors");
    context.drain_effects();
    let reply = Accepted {
        ballot: paxos.promised(),
        first: slot,
        last: slot,
        prefix: slot,
        decided: Slot(0),
    };
    paxos.on_message(&mut context, NodeId(1), Message::Accepted(reply));
    assert_eq!(paxos.decided(), slot);
    assert_eq!(paxos.applied(), slot);
    assert!(matches!(
        replies(&context).as_slice(),
        [response] if response.request == RequestId(7) && response.answer == Answer::Ok(None)
    ));
}

/// PMMC §3 (decisions reach every replica): an acceptor learns the slots the leader says are
/// decided when it holds them in the leader's ballot, and applies them in order.
#[test]
fn followers_learn_decisions_from_the_leaders_accept() {
    let on_disk = disk(ballot(2, 0), vec![accepted(2, 0, command(1))]);
    let (mut paxos, mut context) = start(1, Some(on_disk), None);
    let heartbeat = Accept {
        ballot: ballot(2, 0),
        first: Slot(2),
        values: Vec::new(),
        decided: Slot(1),
    };
    paxos.on_message(&mut context, NodeId(0), Message::Accept(heartbeat));
    assert_eq!(paxos.decided(), Slot(1));
    assert_eq!(paxos.applied(), Slot(1));
    assert_eq!(paxos.state_machine().machine().get(1), Some(1));
}

/// PMS §2.3: a value accepted in another ballot is not the one the leader decided; the acceptor
/// does not learn it, and its `Accepted` shows the gap so the leader resends the slot.
#[test]
fn a_follower_does_not_learn_a_value_it_holds_from_another_ballot() {
    let on_disk = disk(ballot(3, 0), vec![accepted(1, 2, command(9))]);
    let (mut paxos, mut context) = start(1, Some(on_disk), None);
    let heartbeat = Accept {
        ballot: ballot(3, 0),
        first: Slot(2),
        values: Vec::new(),
        decided: Slot(1),
    };
    paxos.on_message(&mut context, NodeId(0), Message::Accept(heartbeat));
    assert_eq!(paxos.decided(), Slot(0));
    let replies = sent(&context);
    let [(_, Message::Accepted(reply))] = replies.as_slice() else {
        panic!("one Accepted reply: {replies:?}");
    };
    assert_eq!(reply.prefix, Slot(0), "slot 1 is missing in ballot 3");
}

/// The leader resends from the acceptor's prefix when its `Accepted` shows a gap (a lost
/// `Accept`), as Raft's leader moves `nextIndex` back.
#[test]
fn a_gap_in_an_acceptors_reply_makes_the_leader_resend() {
    let (mut paxos, mut context) = leader(0);
    for id in 1..=3 {
        paxos.on_client_request(&mut context, ClientId(id as u32), write(id));
    }
    context.drain_effects();
    let reply = Accepted {
        ballot: paxos.promised(),
        first: Slot(3),
        last: Slot(3),
        prefix: Slot(0),
        decided: Slot(0),
    };
    paxos.on_message(&mut context, NodeId(1), Message::Accepted(reply));
    let resent: Vec<_> = sent(&context)
        .into_iter()
        .filter_map(|(target, message)| match message {
            Message::Accept(accept) if target == NodeId(1) => Some(accept.first),
            _ => None,
        })
        .collect();
    assert_eq!(resent, vec![Slot(1)]);
}

/// Batching and pipelining (as Raft's, Ongaro's dissertation §10.2.2): with a window of one,
/// commands that arrive while an `Accept` is in flight wait, and the next `Accept` carries all
/// of them.
#[test]
fn commands_accumulate_while_the_window_is_full_and_leave_in_one_accept() {
    let options = Options {
        accepts_in_flight_max: 1,
        ..Options::default()
    };
    let (mut paxos, mut context) =
        leader_from::<sim::workload::register::Registers>(0, None, None, options);
    // The new leader's first heartbeat holds each window's only place.
    paxos.on_client_request(&mut context, ClientId(1), write(1));
    paxos.on_client_request(&mut context, ClientId(2), write(2));
    assert!(sent(&context).is_empty(), "the windows are full");
    let reply = Accepted {
        ballot: paxos.promised(),
        first: Slot(1),
        last: Slot(0),
        prefix: Slot(0),
        decided: Slot(0),
    };
    paxos.on_message(&mut context, NodeId(1), Message::Accepted(reply));
    let batch: Vec<_> = sent(&context)
        .into_iter()
        .map(|(target, message)| match message {
            Message::Accept(accept) => (target, accept.first, accept.values.len()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(batch, vec![(NodeId(1), Slot(1), 2)]);
}

/// PMS §3: only the distinguished proposer serves clients; others redirect to the leader they
/// know of.
#[test]
fn non_leaders_redirect_clients_to_the_leader_they_know() {
    let (mut paxos, mut context) = start(1, None, None);
    let heartbeat = Accept {
        ballot: ballot(1, 2),
        first: Slot(1),
        values: Vec::new(),
        decided: Slot(0),
    };
    paxos.on_message(&mut context, NodeId(2), Message::Accept(heartbeat));
    context.drain_effects();
    paxos.on_client_request(&mut context, ClientId(4), write(4));
    assert!(matches!(
        replies(&context).as_slice(),
        [response] if response.answer == Answer::Redirect(Some(NodeId(2)))
    ));
}

/// PMS §2.3: a restarted acceptor recovers its promise and accepted values from disk; what is
/// decided it learns again from the leader.
#[test]
fn a_restarted_acceptor_recovers_its_promise_and_accepted_values() {
    let on_disk = disk(ballot(4, 2), vec![accepted(4, 2, command(1))]);
    let (paxos, _) = start(1, Some(on_disk), None);
    assert_eq!(paxos.promised(), ballot(4, 2));
    assert_eq!(paxos.accepted(Slot(1)), accepted(4, 2, command(1)).as_ref());
    assert_eq!(paxos.decided(), Slot(0));
    assert_eq!(paxos.role(), Role::Follower);
}

/// Raft §8's session table, shared: a request a client retried at a new leader may be chosen
/// at two slots (the old leader's, found in the promises, and the new one); it executes once.
#[test]
fn a_request_chosen_at_two_slots_executes_once() {
    let add = Request {
        id: RequestId(5),
        client: ClientId(3),
        operation: counter::Operation::Add { key: 0, amount: 2 },
    };
    let old = Durable {
        promised: ballot(1, 2),
        accepted: vec![Some(AcceptedValue {
            ballot: ballot(1, 2),
            value: Value::Command(add.clone()),
        })],
    };
    let (mut paxos, mut context) = leader_from::<Counters>(0, Some(old), None, Options::default());
    // The client, told nothing, retries at the new leader.
    paxos.on_client_request(&mut context, ClientId(3), add);
    assert_eq!(paxos.last_accepted_slot(), Slot(2));
    context.drain_effects();
    let reply = Accepted {
        ballot: paxos.promised(),
        first: Slot(1),
        last: Slot(2),
        prefix: Slot(2),
        decided: Slot(0),
    };
    paxos.on_message(&mut context, NodeId(1), Message::Accepted(reply));
    assert_eq!(paxos.applied(), Slot(2));
    assert_eq!(paxos.state_machine().machine().get(0), 2, "added once");
    assert!(matches!(
        replies(&context).as_slice(),
        [response] if response.answer == Answer::Ok(None)
    ));
}

// ----- planted bugs, beside the rule each breaks -----

/// `promise-not-persisted` breaks PMS §2.3: the promise is sent without being written.
#[test]
fn bug_promise_not_persisted_replies_without_writing() {
    for (bug, writes) in [(None, 1), (Some("promise-not-persisted"), 0)] {
        let (mut paxos, mut context) = start(0, None, bug);
        let prepare = Prepare {
            ballot: ballot(3, 2),
            first_slot: Slot(1),
        };
        paxos.on_message(&mut context, NodeId(2), Message::Prepare(prepare));
        assert_eq!(persisted(&context).len(), writes, "{bug:?}");
        assert_eq!(sent(&context).len(), 1);
    }
}

/// `accept-without-promise-check` breaks P1a: a follower accepts below its promise.
#[test]
fn bug_accept_without_promise_check_accepts_below_the_promise() {
    let (mut paxos, mut context) = start(
        1,
        Some(disk(ballot(5, 2), Vec::new())),
        Some("accept-without-promise-check"),
    );
    let accept = Accept {
        ballot: ballot(4, 0),
        first: Slot(1),
        values: vec![command(1)],
        decided: Slot(0),
    };
    paxos.on_message(&mut context, NodeId(0), Message::Accept(accept));
    assert_eq!(paxos.accepted(Slot(1)), accepted(4, 0, command(1)).as_ref());
    assert!(matches!(
        sent(&context).as_slice(),
        [(_, Message::Accepted(_))]
    ));
}

/// `accept-into-promised-ballot` breaks PMMC's acceptor: the outdated value is recorded under
/// the promised ballot, a pair nobody proposed.
#[test]
fn bug_accept_into_promised_ballot_records_the_promised_ballot() {
    let (mut paxos, mut context) = start(
        1,
        Some(disk(ballot(5, 2), Vec::new())),
        Some("accept-into-promised-ballot"),
    );
    let accept = Accept {
        ballot: ballot(4, 0),
        first: Slot(1),
        values: vec![command(1)],
        decided: Slot(0),
    };
    paxos.on_message(&mut context, NodeId(0), Message::Accept(accept));
    assert_eq!(paxos.accepted(Slot(1)), accepted(5, 2, command(1)).as_ref());
}

/// `ignore-promised-values` breaks P2c: the new leader keeps its own value for a slot over a
/// higher-ballot one from a promise; `phase1-skipped-for-empty-slots` drops what the promises
/// report past its own last slot.
#[test]
fn bugs_of_the_new_leader_drop_values_phase_1_found() {
    let cases = [
        (None, vec![command(20), command(30)]),
        (
            Some("ignore-promised-values"),
            vec![command(1), command(30)],
        ),
        (Some("phase1-skipped-for-empty-slots"), vec![command(20)]),
    ];
    for (bug, expected) in cases {
        let own = disk(ballot(2, 0), vec![accepted(1, 0, command(1))]);
        let (mut paxos, mut context) = start(0, Some(own), bug);
        paxos.on_timer(&mut context, Timer::Election);
        let promise = Promise {
            ballot: paxos.promised(),
            accepted: vec![
                (Slot(1), accepted(2, 1, command(20)).unwrap()),
                (Slot(2), accepted(2, 1, command(30)).unwrap()),
            ],
        };
        paxos.on_message(&mut context, NodeId(1), Message::Promise(promise));
        let held: Vec<_> = (1..=paxos.last_accepted_slot().0)
            .map(|slot| paxos.accepted(Slot(slot)).unwrap().value.clone())
            .collect();
        assert_eq!(held, expected, "{bug:?}");
    }
}

/// `learn-without-quorum` breaks PMS §2.3: an accepted value is taken as chosen at once.
#[test]
fn bug_learn_without_quorum_applies_what_it_accepted() {
    for (bug, decided) in [(None, Slot(0)), (Some("learn-without-quorum"), Slot(1))] {
        let (mut paxos, mut context) = start(1, None, bug);
        let accept = Accept {
            ballot: ballot(1, 0),
            first: Slot(1),
            values: vec![command(1)],
            decided: Slot(0),
        };
        paxos.on_message(&mut context, NodeId(0), Message::Accept(accept));
        assert_eq!(paxos.decided(), decided, "{bug:?}");
    }
}
