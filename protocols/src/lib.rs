//! Consensus protocols for detsim, each a faithful implementation of its paper with planted bugs.
#![deny(missing_docs)]

pub mod raft;
