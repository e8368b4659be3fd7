//! Histories and the linearizability checker.
//!
//! This crate sees only histories: it depends on nothing of the simulation engine, so it checks
//! histories from real systems (Jepsen EDN, Porcupine logs, JSON Lines) exactly as it checks
//! detsim's own.
//!
//! - [`history`]: the history types (Jepsen's operation model);
//! - [`read`], [`edn`]: readers and writers of history files;
//! - [`operation`]: pairing invocations with completions, with Jepsen's semantics;
//! - [`model`]: the [`Model`] trait and the register, cas-register, etcd, key-value, mutex and
//!   counter models;
//! - [`check()`]: the Wing–Gong–Lowe search with per-key partitioning, a cache of
//!   (linearized set, state) and a step budget, returning a [`CheckResult`];
//! - [`brute_force`]: an exponential checker for differential tests.
#![deny(missing_docs)]

pub mod brute_force;
mod checker;
pub mod edn;
pub mod error;
pub mod history;
pub mod model;
pub mod operation;
pub mod read;
mod search;

pub use checker::{
    check, check_operations, explain, CheckOptions, CheckResult, Verdict, Violation, Witness,
};
pub use error::{FileError, HistoryError, Position, ReadError};
pub use model::{CasRegister, Counter, EtcdRegister, KeyValue, Model, Mutex, Register};
