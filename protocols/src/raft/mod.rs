//! ESSAY PLACEHOLDER

pub mod bugs;
pub mod durable;
pub mod invariants;
pub mod log;
pub mod messages;
pub mod node;
pub mod options;
pub mod state_machine;

pub use bugs::Bug;
pub use durable::{Durable, Update};
pub use invariants::RaftInvariants;
pub use log::{Entry, Log, LogIndex, Term};
pub use messages::{AppendEntries, AppendEntriesReply, Message, RequestVote, RequestVoteReply};
pub use node::{Raft, Timer};
pub use options::Options;
pub use state_machine::{Command, KvStore};
