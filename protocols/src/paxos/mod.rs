//! # Multi-Paxos
//!
//! (essay below)

pub mod ballot;
pub mod bugs;
pub mod durable;
pub mod invariants;
pub mod messages;
pub mod node;
pub mod options;

pub use ballot::{AcceptedValue, Ballot, Slot, Value, ValueId};
pub use bugs::Bug;
pub use durable::{Durable, Update};
pub use invariants::PaxosInvariants;
pub use messages::{Accept, Accepted, Message, Prepare, Promise, Reject};
pub use node::{Observation, Paxos, Timer};
pub use options::Options;
