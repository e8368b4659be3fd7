//! The protocols detsim ships, each a sans-IO state machine implementing
//! [`sim::protocol::Protocol`], each with its planted bugs.
#![deny(missing_docs)]

pub mod unreplicated;
