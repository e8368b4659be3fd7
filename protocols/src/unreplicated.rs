//! An unreplicated key-value store: the simplest service that can be linearizable, and the
//! simplest that can lose data.
//!
//! Node 0 is the server. It holds every register in memory and applies requests one at a time
//! in arrival order, so while it is up every history it produces is linearizable: each operation
//! takes effect at the instant node 0 handles it, which lies between invocation and completion.
//! The other nodes are stateless front ends that forward requests to node 0; node 0 answers the
//! client directly.
//!
//! Durability is an option. With `persist = true`, node 0 writes each update to disk before it
//! answers (the simulator holds the answer until the write is durable), and a restarted server
//! reloads its registers. With `persist = false` (the default) a crash forgets everything: reads
//! after the restart see `nil` for registers that clients were told were written — the history is
//! not linearizable, and detsim's checker must say so. That makes this protocol the canary of the
//! linearizability checker: wrong on purpose, in a way a one-line scenario exposes.
//!
//! The store serves any workload that has a sequential state machine (registers, counters): it
//! is generic over the [`StateMachine`], like every log-based protocol, and runs it through the
//! shared session table of [`Sessions`].
//!
//! The network may duplicate or delay a forwarded request, so the server keeps, per client, the
//! latest request it executed and its answer (Raft §8's session table): a duplicate of it is
//! answered again, never executed twice, and an older request is answered "unknown" (clients
//! have one request outstanding at a time, and request ids only grow). With `persist = true` the
//! state machine and the table are durable: each executed command that changed the state is
//! written before the answer leaves, and a restarted server re-executes them.
//!
//! Its flaw by configuration is `persist = false` under a crash of node 0. One planted bug:
//!
//! - `reapply-duplicates` — the server executes every request it receives, duplicates included,
//!   without consulting the session table. A forwarded add that the network delivers twice is
//!   applied twice; the counter workload's **linearizability** check sees a read no order of
//!   the adds can explain.

use serde::{Deserialize, Serialize};
use sim::protocol::{ClientId, Context, NodeConfig, NodeId, NodeView, Protocol, Role};
use sim::service::{Answer, FollowLeader, Request, Response, Sessions, StateMachine};
use sim::workload::register::Registers;
use sim::workload::{OperationOf, OutputOf};

/// The node that holds the data.
pub const SERVER: NodeId = NodeId(0);

/// The planted bugs, by name.
pub const BUGS: &[&str] = &["reapply-duplicates"];

/// Options from `[protocol.options]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Write every update to disk before answering, and reload it after a restart.
    #[serde(default)]
    pub persist: bool,
}

/// Messages between nodes: a front end forwarding a client's request to the server.
#[derive(Clone, Debug, Hash)]
pub enum Message<O> {
    /// A request a front end received, for the server to execute and answer.
    Forward(Request<O>),
}

/// The protocol has no timers.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum Timer {}

/// One node: the server (node 0) or a front end.
#[derive(Clone, Debug)]
pub struct Unreplicated<M: StateMachine = Registers> {
    id: NodeId,
    persist: bool,
    reapply_duplicates: bool,
    state: Sessions<M>,
}

impl<M: StateMachine> Unreplicated<M> {
    /// The server's state machine (empty on front ends).
    pub fn machine(&self) -> &M {
        self.state.machine()
    }

    fn execute(&mut self, context: &mut Context<Self>, request: Request<OperationOf<M::Workload>>) {
        assert_eq!(self.id, SERVER, "only the server executes requests");
        let answer = if self.reapply_duplicates {
            // Bug: no session check, so a duplicated request runs again.
            self.state.apply_without_session(&request)
        } else {
            self.state.apply(&request)
        };
        if self.persist && !M::is_read_only(&request.operation) && matches!(answer, Answer::Ok(_)) {
            // Pushed before the reply, so the reply waits until the write is durable.
            context.persist(request.clone());
        }
        let response = Response {
            request: request.id,
            answer,
        };
        context.reply(request.client, response);
    }
}

impl<M: StateMachine> Protocol for Unreplicated<M> {
    type Workload = M::Workload;
    type Message = Message<OperationOf<M::Workload>>;
    type Request = Request<OperationOf<M::Workload>>;
    type Response = Response<OutputOf<M::Workload>>;
    type Client = FollowLeader<M::Workload>;
    type Timer = Timer;
    type Durable = Sessions<M>;
    type Update = Request<OperationOf<M::Workload>>;
    type Options = Options;

    const NAME: &'static str = "unreplicated";
    const BUGS: &'static [&'static str] = BUGS;

    fn start(
        config: &NodeConfig<'_, Options>,
        durable: Option<&Self::Durable>,
        _context: &mut Context<Self>,
    ) -> Self {
        let state = match durable {
            Some(disk) if config.options.persist && config.id == SERVER => disk.clone(),
            _ => Sessions::new(),
        };
        Unreplicated {
            id: config.id,
            persist: config.options.persist,
            reapply_duplicates: config.bug == Some("reapply-duplicates"),
            state,
        }
    }

    fn on_message(&mut self, context: &mut Context<Self>, _source: NodeId, message: Self::Message) {
        match message {
            Message::Forward(request) => self.execute(context, request),
        }
    }

    fn on_timer(&mut self, _context: &mut Context<Self>, timer: Timer) {
        match timer {}
    }

    fn on_client_request(
        &mut self,
        context: &mut Context<Self>,
        _client: ClientId,
        request: Self::Request,
    ) {
        if self.id == SERVER {
            self.execute(context, request);
        } else {
            context.send(SERVER, Message::Forward(request));
        }
    }

    fn apply_update(disk: &mut Sessions<M>, request: Self::Update) {
        // Commands are deterministic: executing the logged ones again rebuilds the state.
        disk.apply(&request);
    }

    fn message_kind(message: &Self::Message) -> &'static str {
        match message {
            Message::Forward(_) => "Forward",
        }
    }

    fn view(&self) -> NodeView {
        NodeView {
            role: if self.id == SERVER {
                Role::Leader
            } else {
                Role::Follower
            },
            term: 0,
            commit_index: 0,
            leader_hint: Some(SERVER),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::protocol::{Effect, RequestId};
    use sim::workload::counter::{self, Counters};
    use sim::workload::register::Operation;

    type Store = Unreplicated<Registers>;

    fn request(id: u64, operation: Operation) -> Request<Operation> {
        Request {
            id: RequestId(id),
            client: ClientId(0),
            operation,
        }
    }

    fn server<M: StateMachine>(
        persist: bool,
        bug: Option<&str>,
    ) -> (Unreplicated<M>, Context<Unreplicated<M>>) {
        let options = Options { persist };
        let config = NodeConfig {
            id: SERVER,
            node_count: 3,
            options: &options,
            bug,
        };
        let mut context = Context::new(SERVER, 3, sim::time::SimTime(0));
        let node = Unreplicated::start(&config, None, &mut context);
        (node, context)
    }

    #[test]
    fn front_end_forwards_to_the_server() {
        let options = Options::default();
        let config = NodeConfig {
            id: NodeId(2),
            node_count: 3,
            options: &options,
            bug: None,
        };
        let mut context = Context::new(NodeId(2), 3, sim::time::SimTime(0));
        let mut node = Store::start(&config, None, &mut context);
        node.on_client_request(
            &mut context,
            ClientId(0),
            request(1, Operation::Read { key: 0 }),
        );
        assert!(matches!(
            context.effects(),
            [Effect::Send {
                target: SERVER,
                message: Message::Forward(_)
            }]
        ));
    }

    #[test]
    fn persisting_server_writes_before_it_answers() {
        let (mut node, mut context) = server::<Registers>(true, None);
        let write = request(1, Operation::Write { key: 4, value: 9 });
        node.on_client_request(&mut context, ClientId(0), write.clone());
        match context.effects() {
            [Effect::Persist { update }, Effect::Reply { response, .. }] => {
                assert_eq!(update, &write);
                assert_eq!(response.answer, Answer::Ok(None));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_duplicated_write_is_not_applied_again_after_a_newer_one() {
        let (mut node, mut context) = server::<Registers>(false, None);
        let first = request(1, Operation::Write { key: 0, value: 1 });
        node.on_client_request(&mut context, ClientId(0), first.clone());
        node.on_client_request(
            &mut context,
            ClientId(0),
            request(2, Operation::Write { key: 0, value: 2 }),
        );
        context.drain_effects();
        node.on_message(&mut context, NodeId(1), Message::Forward(first));
        assert_eq!(node.machine().get(0), Some(2));
        match context.effects() {
            [Effect::Reply { response, .. }] => {
                assert!(
                    matches!(response.answer, Answer::Indeterminate(_)),
                    "{response:?}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_duplicate_of_the_latest_request_is_answered_from_the_session_table() {
        let (mut node, mut context) = server::<Counters>(false, None);
        let add = Request {
            id: RequestId(7),
            client: ClientId(1),
            operation: counter::Operation::Add { key: 0, amount: 3 },
        };
        node.on_client_request(&mut context, ClientId(1), add.clone());
        node.on_message(&mut context, NodeId(2), Message::Forward(add));
        assert_eq!(node.machine().get(0), 3, "applied once");
        assert_eq!(context.effects().len(), 2, "both copies answered");
    }

    #[test]
    fn the_reapply_duplicates_bug_applies_a_duplicate_twice() {
        let (mut node, mut context) = server::<Counters>(false, Some("reapply-duplicates"));
        let add = Request {
            id: RequestId(7),
            client: ClientId(1),
            operation: counter::Operation::Add { key: 0, amount: 3 },
        };
        node.on_client_request(&mut context, ClientId(1), add.clone());
        node.on_message(&mut context, NodeId(2), Message::Forward(add));
        assert_eq!(node.machine().get(0), 6);
    }

    #[test]
    fn cas_fails_without_effect_when_the_value_differs() {
        let (mut node, mut context) = server::<Registers>(false, None);
        let cas = Operation::Cas {
            key: 1,
            from: 5,
            to: 6,
        };
        node.on_client_request(&mut context, ClientId(0), request(1, cas));
        match context.effects() {
            [Effect::Reply { response, .. }] => {
                assert!(matches!(response.answer, Answer::Fail(_)))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(node.machine().get(1), None);
    }

    #[test]
    fn a_restarted_persisting_server_rebuilds_its_state_from_the_log() {
        let mut disk = Sessions::<Counters>::new();
        for id in [1, 2] {
            Unreplicated::<Counters>::apply_update(
                &mut disk,
                Request {
                    id: RequestId(id),
                    client: ClientId(0),
                    operation: counter::Operation::Add { key: 0, amount: 2 },
                },
            );
        }
        let options = Options { persist: true };
        let config = NodeConfig {
            id: SERVER,
            node_count: 1,
            options: &options,
            bug: None,
        };
        let mut context = Context::new(SERVER, 1, sim::time::SimTime(0));
        let node = Unreplicated::start(&config, Some(&disk), &mut context);
        assert_eq!(node.machine().get(0), 4);
    }
}
