//! Histories and the linearizability checker.
//!
//! This crate sees only histories: it depends on nothing of the simulation engine, so it checks
//! histories from real systems (Jepsen EDN, Porcupine logs, JSON Lines) exactly as it checks
//! detsim's own.
//!
//! - [`history`]: the history types (Jepsen's operation model);
//! - [`read`], [`edn`]: readers and writers of history files;
//! - [`operation`]: pairing invocations with completions, with Jepsen's semantics;
//! - [`model`]: the [`Model`] trait and the register, cas-register, etcd, key-value, mutex,
//!   counter and multi-register models;
//! - [`check()`]: the Wing–Gong–Lowe search with per-key partitioning, histories cut at
//!   quiescent points, a cache of (linearized set, state), a step budget and a memory limit,
//!   returning a [`CheckResult`];
//! - [`brute_force`]: an exponential checker for differential tests;
//! - [`stress`]: a seeded generator of hard histories, for benchmarks and tests.
//!
//! A model of your own object is a small pure trait. A set that only grows, with `add` and
//! `contains`:
//!
//! ```
//! use check::history::{History, Value};
//! use check::operation::{Completion, Operation};
//! use check::{check, CheckOptions, Model, Verdict};
//!
//! struct GrowSet;
//!
//! #[derive(Clone, Debug, PartialEq)]
//! enum SetOp {
//!     Add(i64),
//!     /// An element, and whether it was seen (`None`: unknown).
//!     Contains(i64, Option<bool>),
//! }
//!
//! impl Model for GrowSet {
//!     type State = Vec<i64>; // sorted
//!     type Op = SetOp;
//!
//!     fn name(&self) -> &str {
//!         "grow-set"
//!     }
//!
//!     fn init(&self) -> Vec<i64> {
//!         Vec::new()
//!     }
//!
//!     fn prepare(&self, operation: &Operation) -> Result<SetOp, String> {
//!         let element = operation.input.as_int().ok_or("expected an integer")?;
//!         match operation.function.as_ref() {
//!             "add" => Ok(SetOp::Add(element)),
//!             "contains" => Ok(SetOp::Contains(
//!                 element,
//!                 match (&operation.completion, &operation.output) {
//!                     (Completion::Ok, Some(Value::Int(seen))) => Some(*seen != 0),
//!                     _ => None,
//!                 },
//!             )),
//!             other => Err(format!("unknown function {other}")),
//!         }
//!     }
//!
//!     fn step(&self, state: &Vec<i64>, op: &SetOp) -> Option<Vec<i64>> {
//!         match op {
//!             SetOp::Add(element) => {
//!                 let mut next = state.clone();
//!                 if let Err(at) = next.binary_search(element) {
//!                     next.insert(at, *element);
//!                 }
//!                 Some(next)
//!             }
//!             SetOp::Contains(element, seen) => {
//!                 let present = state.binary_search(element).is_ok();
//!                 seen.is_none_or(|seen| seen == present).then(|| state.clone())
//!             }
//!         }
//!     }
//!
//!     fn is_read_only(&self, op: &SetOp) -> bool {
//!         matches!(op, SetOp::Contains(..))
//!     }
//! }
//!
//! let (history, _) = check::edn::read_edn(
//!     "{:process 0 :type :invoke :f :add :value 1}
//!      {:process 0 :type :ok :f :add :value 1}
//!      {:process 1 :type :invoke :f :contains :value 1}
//!      {:process 1 :type :ok :f :contains :value 0}",
//! )
//! .unwrap();
//! let result = check(&history, &GrowSet, &CheckOptions::default()).unwrap();
//! assert_eq!(result.verdict, Verdict::NotLinearizable);
//! ```
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
pub mod stress;

pub use checker::{
    check, check_completed, check_entries, check_operations, check_parallel, explain, parse_memory,
    CheckOptions, CheckResult, Exhausted, Verdict, Violation, Witness, DEFAULT_MEMORY_LIMIT,
};
pub use error::{FileError, HistoryError, Position, ReadError};
pub use model::{
    CasRegister, Counter, EtcdRegister, KeyValue, Model, MultiRegister, Mutex, Observation,
    Register,
};
