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

use sim::service::Request;
use sim::workload::register;

pub use sim::service::{Sessions, StateMachine};

/// What a log entry asks the state machine to do: a client's request, carried whole (its id
/// makes duplicates recognisable).
pub type Command<O = register::Operation> = Request<O>;
