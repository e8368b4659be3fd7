//! The detsim simulation engine.
#![deny(missing_docs)]

pub use check;
pub use check::history;

pub mod invariants;
pub mod outcome;
pub mod protocol;
pub mod rng;
pub mod time;
