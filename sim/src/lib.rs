//! The detsim simulation engine.
//!
//! A run is a pure function of (scenario, seed, detsim version). The [`world`] owns true time, an
//! event queue ordered by (time, insertion sequence), the nodes and their local [`clock`]s, the
//! [`network`], the clients and their history; the [`nemesis`] injects faults; every random
//! choice comes from [`rng::SimRng`] (ChaCha8) streams of the seed. Protocols are sans-IO state
//! machines implementing [`protocol::Protocol`]; their safety properties are
//! [`invariants::Invariants`], checked after every event; the client history is checked for
//! linearizability by [`check`], which sees only histories.
//!
//! A protocol serves a [`workload::Workload`] (registers, counters, ...) and brings a client
//! half ([`client::ClientHalf`]), the client library's part of the protocol; the
//! [`service`] kit supplies the usual ones. Bringing a protocol of your own takes one trait.
//! Here every node answers every request itself, running the register workload's own state
//! machine — so reads on one node miss writes made on another, and the history check says so:
//!
//! ```
//! use sim::protocol::*;
//! use sim::service::{FollowLeader, Request, Response, StateMachine};
//! use sim::workload::register::{Operation, Register, Registers};
//!
//! #[derive(Clone, Debug)]
//! struct Local(Registers);
//!
//! impl Protocol for Local {
//!     type Workload = Register;
//!     type Message = ();
//!     type Request = Request<Operation>;
//!     type Response = Response<Option<i64>>;
//!     type Client = FollowLeader<Register>;
//!     type Timer = ();
//!     type Durable = ();
//!     type Update = ();
//!     type Options = ();
//!     const NAME: &'static str = "local";
//!
//!     fn start(_: &NodeConfig<'_, ()>, _: Option<&()>, _: &mut Context<Self>) -> Self {
//!         Local(Registers::default())
//!     }
//!     fn on_message(&mut self, _: &mut Context<Self>, _: NodeId, _: ()) {}
//!     fn on_timer(&mut self, _: &mut Context<Self>, _: ()) {}
//!     fn on_client_request(
//!         &mut self,
//!         context: &mut Context<Self>,
//!         client: ClientId,
//!         request: Request<Operation>,
//!     ) {
//!         let answer = self.0.execute(&request.operation).into();
//!         context.reply(client, Response { request: request.id, answer });
//!     }
//!     fn apply_update(_: &mut (), _: ()) {}
//!     fn view(&self) -> NodeView {
//!         NodeView { role: Role::Other, term: 0, commit_index: 0, leader_hint: None }
//!     }
//! }
//!
//! let scenario = sim::scenario::Scenario::parse(
//!     "[protocol]\nname = \"local\"\n[cluster]\nnodes = 3\n[run]\nduration = \"2s\"\n",
//!     std::path::Path::new("local.toml"),
//! )
//! .unwrap();
//! let faults = sim::nemesis::expand(&scenario, 7);
//! let run = sim::world::run::<Local, _>(&scenario, &faults, 7, sim::invariants::NoInvariants, None)
//!     .unwrap();
//! assert!(run.stats.operations_ok > 0);
//! // Three registers per key, one per node: the history is not linearizable.
//! assert_eq!(run.verdict.kind(), "safety-violation");
//! ```
#![deny(missing_docs)]

pub use check;
pub use check::history;

pub mod baseline;
pub mod client;
pub mod clock;
pub mod completion;
pub mod conflict;
pub mod fault;
pub mod history_files;
pub mod invariants;
pub mod nemesis;
pub mod network;
pub mod outcome;
pub mod protocol;
pub mod queue;
pub mod recorder;
pub mod rng;
pub mod scenario;
pub mod service;
pub mod time;
pub mod trace;
pub mod verdict;
pub mod workload;
pub mod world;
