//! # Primary-backup: a protocol kept in its own crate
//!
//! This crate shows how to bring a protocol to detsim without touching detsim's files: it
//! implements [`sim::protocol::Protocol`], registers its (protocol, workload) pairings, and hands
//! them to [`detsim::main_with`], which gives it the whole command line — `run`, `fuzz`,
//! `replay`, `shrink`, `check`, `bench`, `list`.
//!
//! The protocol is synchronous primary-backup replication. Node 0 is the primary. It executes
//! each client request on its state machine (through detsim's shared session table, so a
//! duplicated request runs once), sends the request with a sequence number to every backup, and
//! answers the client once every backup acknowledged it. Backups apply requests in sequence
//! order, holding back any that arrive early. Reads are answered by the primary at once: every
//! write it has applied will be on every backup before it is acknowledged, and only the primary
//! answers clients. Other nodes redirect clients to the primary.
//!
//! There is no failover: when the primary is down the service is down. That keeps the example
//! short; it is what a real primary-backup design adds next (and what detsim's fault schedules
//! would then test).

use serde::{Deserialize, Serialize};
use sim::invariants::NoInvariants;
use sim::protocol::{ClientId, Context, NodeConfig, NodeId, NodeView, Protocol, Role};
use sim::service::{
    Answer, FollowLeader, MachineOperation, MachineOutput, Request, Response, Sessions,
    StateMachine,
};
use sim::workload::counter::Counters;
use sim::workload::register::Registers;
use std::collections::BTreeMap;

/// The primary.
const PRIMARY: NodeId = NodeId(0);

/// Options from `[protocol.options]`: none yet, but `detsim list` shows the table anyway.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {}

/// What nodes send each other.
#[derive(Clone, Debug, Hash)]
pub enum Message<O> {
    /// The primary's `sequence`-th request, for a backup to apply.
    Replicate {
        /// Position in the primary's order, from 1.
        sequence: u64,
        /// The request.
        request: Request<O>,
    },
    /// A backup applied every request up to `sequence`.
    Ack {
        /// The highest sequence number applied.
        sequence: u64,
    },
}

/// A request the primary applied and has not yet answered.
#[derive(Clone, Debug)]
struct Waiting<R> {
    client: ClientId,
    response: R,
}

/// One node of the primary-backup service.
#[derive(Clone, Debug)]
pub struct PrimaryBackup<M: StateMachine> {
    id: NodeId,
    node_count: u32,
    state: Sessions<M>,
    /// Primary: the last sequence number handed out. Backup: the last applied.
    sequence: u64,
    /// Backup: requests that arrived before their turn.
    early: BTreeMap<u64, Request<MachineOperation<M>>>,
    /// Primary: per backup, the highest sequence number it acknowledged.
    acknowledged: Vec<u64>,
    /// Primary: answers waiting for every backup, by sequence number.
    waiting: BTreeMap<u64, Waiting<Response<MachineOutput<M>>>>,
}

impl<M: StateMachine> PrimaryBackup<M> {
    fn answer_acknowledged(&mut self, context: &mut Context<Self>) {
        let everyone = (1..self.node_count as usize)
            .map(|backup| self.acknowledged[backup])
            .min()
            .unwrap_or(self.sequence);
        while let Some(entry) = self.waiting.first_entry() {
            if *entry.key() > everyone {
                break;
            }
            let waiting = entry.remove();
            context.reply(waiting.client, waiting.response);
        }
    }

    fn apply_in_order(&mut self, context: &mut Context<Self>) {
        while let Some(request) = self.early.remove(&(self.sequence + 1)) {
            self.state.apply(&request);
            self.sequence += 1;
        }
        context.send(
            PRIMARY,
            Message::Ack {
                sequence: self.sequence,
            },
        );
    }
}

impl<M: StateMachine> Protocol for PrimaryBackup<M> {
    type Workload = M::Workload;
    type Message = Message<MachineOperation<M>>;
    type Request = Request<MachineOperation<M>>;
    type Response = Response<MachineOutput<M>>;
    type Client = FollowLeader<M::Workload>;
    type Timer = ();
    type Durable = ();
    type Update = ();
    type Options = Options;

    const NAME: &'static str = "primary-backup";

    fn start(config: &NodeConfig<'_, Options>, _: Option<&()>, _: &mut Context<Self>) -> Self {
        PrimaryBackup {
            id: config.id,
            node_count: config.node_count,
            state: Sessions::new(),
            sequence: 0,
            early: BTreeMap::new(),
            acknowledged: vec![0; config.node_count as usize],
            waiting: BTreeMap::new(),
        }
    }

    fn on_message(&mut self, context: &mut Context<Self>, source: NodeId, message: Self::Message) {
        match message {
            Message::Replicate { sequence, request } if self.id != PRIMARY => {
                if sequence > self.sequence {
                    self.early.insert(sequence, request);
                }
                self.apply_in_order(context);
            }
            Message::Ack { sequence } if self.id == PRIMARY => {
                let acknowledged = &mut self.acknowledged[source.index()];
                *acknowledged = (*acknowledged).max(sequence);
                self.answer_acknowledged(context);
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, _: &mut Context<Self>, _: ()) {}

    fn on_client_request(
        &mut self,
        context: &mut Context<Self>,
        client: ClientId,
        request: Self::Request,
    ) {
        if self.id != PRIMARY {
            let answer = Answer::Redirect(Some(PRIMARY));
            let response = Response {
                request: request.id,
                answer,
            };
            context.reply(client, response);
            return;
        }
        let answer = self.state.apply(&request);
        let response = Response {
            request: request.id,
            answer,
        };
        if M::is_read_only(&request.operation) || self.node_count == 1 {
            context.reply(client, response);
            return;
        }
        self.sequence += 1;
        let sequence = self.sequence;
        self.waiting.insert(sequence, Waiting { client, response });
        context.broadcast(Message::Replicate { sequence, request });
    }

    fn apply_update(_: &mut (), _: ()) {}

    fn view(&self) -> NodeView {
        NodeView {
            role: if self.id == PRIMARY {
                Role::Leader
            } else {
                Role::Follower
            },
            term: 0,
            commit_index: self.sequence,
            leader_hint: Some(PRIMARY),
        }
    }

    fn message_kind(message: &Self::Message) -> &'static str {
        match message {
            Message::Replicate { .. } => "Replicate",
            Message::Ack { .. } => "Ack",
        }
    }
}

fn main() -> std::process::ExitCode {
    detsim::main_with(vec![
        detsim::registry::entry::<PrimaryBackup<Registers>, NoInvariants>(),
        detsim::registry::entry::<PrimaryBackup<Counters>, NoInvariants>(),
    ])
}
