//! Histories and the linearizability checker.
//!
//! This crate sees only histories: it depends on nothing of the simulation engine, so it checks
//! histories from real systems (Jepsen EDN, Porcupine logs, JSON Lines) exactly as it checks
//! detsim's own.
#![deny(missing_docs)]

pub mod history;
