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
//! The network may duplicate or delay a forwarded request, so the server remembers, per client,
//! the newest request it executed and ignores any request not newer than that (clients have one
//! request outstanding at a time, and request ids only grow): a duplicated write is not applied
//! twice, after a newer write. With `persist = true` that table is durable with the registers.
//!
//! There are no planted bugs to select: its flaw is the configuration `persist = false` under a
//! crash of node 0.

use serde::Deserialize;
use sim::protocol::{
    ClientId, ClientRequest, ClientResponse, Context, Key, NodeConfig, NodeId, NodeView, Operation,
    Protocol, RequestId, Role,
};
use std::collections::BTreeMap;

/// The node that holds the data.
pub const SERVER: NodeId = NodeId(0);

/// Options from `[protocol.options]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Write every update to disk before answering, and reload it after a restart.
    #[serde(default)]
    pub persist: bool,
}

/// Messages between nodes: a front end forwarding a client's request to the server.
#[derive(Clone, Debug, Hash)]
pub enum Message {
    /// A request a front end received, for the server to execute and answer.
    Forward(ClientRequest),
}

/// The protocol has no timers.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum Timer {}

/// One node: the server (node 0) or a front end.
#[derive(Clone, Debug)]
pub struct Unreplicated {
    id: NodeId,
    persist: bool,
    registers: BTreeMap<Key, i64>,
    newest_request: BTreeMap<ClientId, RequestId>,
}

/// What the server keeps on disk (with `persist = true`).
#[derive(Clone, Debug, Default)]
pub struct Disk {
    /// The registers.
    pub registers: BTreeMap<Key, i64>,
    /// Per client, the newest request that changed a register.
    pub newest_request: BTreeMap<ClientId, RequestId>,
}

/// One durable write: a register's new value, and the request that wrote it.
#[derive(Clone, Debug, Hash)]
pub struct Write {
    /// The register.
    pub key: Key,
    /// Its new value.
    pub value: i64,
    /// The client whose request wrote it.
    pub client: ClientId,
    /// That request.
    pub request: RequestId,
}

impl Unreplicated {
    /// The server's registers (empty on front ends).
    pub fn registers(&self) -> &BTreeMap<Key, i64> {
        &self.registers
    }

    fn execute(&mut self, context: &mut Context<Self>, request: ClientRequest) {
        assert_eq!(self.id, SERVER, "only the server executes requests");
        if self
            .newest_request
            .get(&request.client)
            .is_some_and(|newest| request.id <= *newest)
        {
            // A duplicate, or a request its client already gave up on: its answer (if any) went
            // out the first time, and running it again could undo a newer write.
            return;
        }
        self.newest_request.insert(request.client, request.id);
        let response = match request.operation {
            Operation::Read { key } => ClientResponse::Ok {
                value: self.registers.get(&key).copied(),
            },
            Operation::Write { key, value } => {
                self.store(context, &request, key, value);
                ClientResponse::Ok { value: None }
            }
            Operation::Cas { key, from, to } => {
                if self.registers.get(&key) == Some(&from) {
                    self.store(context, &request, key, to);
                    ClientResponse::Ok { value: None }
                } else {
                    ClientResponse::Fail {
                        reason: "compare-and-set: value differs".into(),
                    }
                }
            }
        };
        context.reply(request.id, request.client, response);
    }

    fn store(
        &mut self,
        context: &mut Context<Self>,
        request: &ClientRequest,
        key: Key,
        value: i64,
    ) {
        self.registers.insert(key, value);
        if self.persist {
            // Pushed before the reply, so the reply waits until the write is durable.
            context.persist(Write {
                key,
                value,
                client: request.client,
                request: request.id,
            });
        }
    }
}

impl Protocol for Unreplicated {
    type Message = Message;
    type Timer = Timer;
    type Durable = Disk;
    type Update = Write;
    type Options = Options;

    const NAME: &'static str = "unreplicated";

    fn start(
        config: &NodeConfig<'_, Options>,
        durable: Option<&Self::Durable>,
        _context: &mut Context<Self>,
    ) -> Self {
        let disk = match durable {
            Some(disk) if config.options.persist && config.id == SERVER => disk.clone(),
            _ => Disk::default(),
        };
        Unreplicated {
            id: config.id,
            persist: config.options.persist,
            registers: disk.registers,
            newest_request: disk.newest_request,
        }
    }

    fn on_message(&mut self, context: &mut Context<Self>, _source: NodeId, message: Message) {
        match message {
            Message::Forward(request) => self.execute(context, request),
        }
    }

    fn on_timer(&mut self, _context: &mut Context<Self>, timer: Timer) {
        match timer {}
    }

    fn on_client_request(&mut self, context: &mut Context<Self>, request: ClientRequest) {
        if self.id == SERVER {
            self.execute(context, request);
        } else {
            context.send(SERVER, Message::Forward(request));
        }
    }

    fn apply_update(disk: &mut Disk, write: Write) {
        disk.registers.insert(write.key, write.value);
        let newest = disk
            .newest_request
            .entry(write.client)
            .or_insert(write.request);
        *newest = (*newest).max(write.request);
    }

    fn message_kind(message: &Message) -> &'static str {
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
    use sim::protocol::Effect;

    fn request(id: u64, operation: Operation) -> ClientRequest {
        ClientRequest {
            id: RequestId(id),
            client: ClientId(0),
            operation,
        }
    }

    fn server(persist: bool) -> (Unreplicated, Context<Unreplicated>) {
        let options = Options { persist };
        let config = NodeConfig {
            id: SERVER,
            node_count: 3,
            options: &options,
            bug: None,
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
        let mut node = Unreplicated::start(&config, None, &mut context);
        node.on_client_request(&mut context, request(1, Operation::Read { key: 0 }));
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
        let (mut node, mut context) = server(true);
        node.on_client_request(
            &mut context,
            request(1, Operation::Write { key: 4, value: 9 }),
        );
        assert!(matches!(
            context.effects(),
            [
                Effect::Persist {
                    update: Write {
                        key: 4,
                        value: 9,
                        ..
                    }
                },
                Effect::Reply {
                    response: ClientResponse::Ok { value: None },
                    ..
                }
            ]
        ));
    }

    #[test]
    fn a_duplicated_write_is_not_applied_again_after_a_newer_one() {
        let (mut node, mut context) = server(false);
        let first = request(1, Operation::Write { key: 0, value: 1 });
        node.on_client_request(&mut context, first.clone());
        node.on_client_request(
            &mut context,
            request(2, Operation::Write { key: 0, value: 2 }),
        );
        let answered = context.drain_effects().count();
        node.on_message(&mut context, NodeId(1), Message::Forward(first));
        assert_eq!(node.registers().get(&0), Some(&2));
        assert_eq!(
            (answered, context.effects().len()),
            (2, 0),
            "the duplicate is not answered"
        );
    }

    #[test]
    fn cas_fails_without_effect_when_the_value_differs() {
        let (mut node, mut context) = server(false);
        node.on_client_request(
            &mut context,
            request(
                1,
                Operation::Cas {
                    key: 1,
                    from: 5,
                    to: 6,
                },
            ),
        );
        assert!(matches!(
            context.effects(),
            [Effect::Reply {
                response: ClientResponse::Fail { .. },
                ..
            }]
        ));
        assert!(node.registers().is_empty());
    }
}
