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
//! Bringing a protocol of your own takes one trait. Here every node answers every request
//! itself — a register per node, so reads on one node miss writes made on another:
//!
//! ```
//! use sim::protocol::*;
//! use std::collections::BTreeMap;
//!
//! #[derive(Clone, Debug)]
//! struct Local(BTreeMap<Key, i64>);
//!
//! impl Protocol for Local {
//!     type Message = ();
//!     type Timer = ();
//!     type Durable = ();
//!     type Update = ();
//!     type Options = ();
//!     const NAME: &'static str = "local";
//!
//!     fn start(_: &NodeConfig<'_, ()>, _: Option<&()>, _: &mut Context<Self>) -> Self {
//!         Local(BTreeMap::new())
//!     }
//!     fn on_message(&mut self, _: &mut Context<Self>, _: NodeId, _: ()) {}
//!     fn on_timer(&mut self, _: &mut Context<Self>, _: ()) {}
//!     fn on_client_request(&mut self, context: &mut Context<Self>, request: ClientRequest) {
//!         let response = match request.operation {
//!             Operation::Read { key } => ClientResponse::Ok { value: self.0.get(&key).copied() },
//!             Operation::Write { key, value } => {
//!                 self.0.insert(key, value);
//!                 ClientResponse::Ok { value: None }
//!             }
//!             Operation::Cas { .. } => ClientResponse::Fail { reason: "unsupported".into() },
//!         };
//!         context.reply(request.id, request.client, response);
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
//! assert_eq!(run.verdict.kind(), "pass"); // invariants and liveness; linearizability is next
//! ```
#![deny(missing_docs)]

pub use check;
pub use check::history;

pub mod baseline;
pub mod clock;
pub mod invariants;
pub mod nemesis;
pub mod network;
pub mod outcome;
pub mod protocol;
pub mod queue;
pub mod recorder;
pub mod rng;
pub mod scenario;
pub mod time;
pub mod trace;
pub mod verdict;
pub mod world;
