//! The state machine the log replicates: any workload's [`StateMachine`], behind the shared
//! session table of [`Sessions`].
//!
//! Every node applies committed entries to its own copy in log order (Raft §5.3), so all copies
//! pass through the same sequence of states. Reads are log entries too: a read executes at its
//! place in the log, which is what makes it linearizable (Raft §8) — a leader that answers a read
//! from its copy without that step can return a stale value (the `stale-local-read` bug).
//!
//! Clients may send a request more than once (the network duplicates messages; a redirected
//! client retries with the same `RequestId`). Raft §8 asks the state machine to remember, per
//! client, the latest request it executed and its answer, so that a duplicate is answered without
//! being executed twice: that is [`Sessions`], shared with every other protocol that replicates
//! commands, so Raft carries no copy of any workload's semantics.

use super::configuration::Configuration;
use sim::service::Request;
use sim::workload::register;

pub use sim::service::{Sessions, StateMachine};

/// What a log entry holds: a client's request for the state machine, carried whole (its id
/// makes duplicates recognisable), or a new configuration (dissertation §4.1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command<O = register::Operation> {
    /// A client's request, applied to the state machine.
    Client(Request<O>),
    /// A configuration entry: the servers that vote from this entry on (dissertation §4.1). It
    /// takes effect on a server as soon as it is in its log; applying it changes no state.
    Configuration(Configuration),
}
