//! The protocols detsim ships, each a sans-IO state machine implementing
//! [`sim::protocol::Protocol`], each with its planted bugs.
//!
//! Start reading at [`raft`]: it is the example every other protocol follows.
#![deny(missing_docs)]

pub mod locks;
pub mod paxos;
pub mod placement;
pub mod raft;
pub mod two_phase_commit;
pub mod unreplicated;
