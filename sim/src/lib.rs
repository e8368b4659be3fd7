//! The detsim simulation engine.
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
pub mod world;
