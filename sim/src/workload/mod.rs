//! Workloads as plug-ins: what clients ask a service to do, and how their history is judged.
//!
//! A [`Workload`] owns everything that depends on *what* the clients do, so that the engine only
//! keeps the mechanics of *when* they do it (rate, concurrency, timeouts, Jepsen's process
//! renumbering after `info`):
//!
//! - its typed [`Workload::Operation`] and [`Workload::Output`], which protocols and client
//!   halves handle directly — a lock acquire that returns a fencing token or a transfer with
//!   several legs is a type, not a string;
//! - its options, the `[workload]` table of a scenario besides the generic client fields (unknown
//!   fields are rejected);
//! - the generator that draws a client's next operation from the seeded generator
//!   ([`Workload::next_operation`]), optionally learning from completions
//!   ([`Workload::observe`]) — or, with reply-independent draws, never doing so, so that the same
//!   clients can be replayed against different protocols;
//! - how an operation and its result are written into the Jepsen history
//!   ([`Workload::write`]) and read back ([`Workload::read`]);
//! - the checker that judges the history ([`Workload::check`]): a linearizability model of the
//!   `check` crate, or a checker of its own (a bank's sums, a lock's true-time exclusion).
//!
//! Where a workload can be served by a replicated log, it also supplies a sequential
//! [`crate::service::StateMachine`], which every log-based protocol runs through one session
//! table ([`crate::service::Sessions`]); that keeps Raft, Multi-Paxos and the unreplicated
//! store from each carrying a copy of every workload's semantics.
//!
//! ## Why a trait with associated types
//!
//! Protocols are generic over the workload they serve (`Raft<Registers>`, `Raft<Counters>`), and
//! the engine is monomorphised per (protocol, workload) pair by the registry. The alternative —
//! one dynamic operation type (`Value` trees) — would make every protocol and client half parse
//! operations at run time, lose exhaustiveness checks, and cost an allocation per operation on
//! the hot path. Conversion to the untyped Jepsen form happens once, at the edge: when an entry
//! is recorded, in a compact form that is expanded only for the checker and the files.

pub mod bank;
pub mod counter;
pub mod keys;
pub mod linearizable;
pub mod lock;
pub mod register;

use crate::check::CheckOptions;
use crate::completion::Completion;
use crate::history::{Op, Value};
use crate::recorder::RecordedHistory;
use crate::rng::SimRng;
use serde::de::DeserializeOwned;
use std::fmt;
use std::hash::Hash;

/// A workload option that does not fit: the field and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field of `[workload]`, e.g. `mix`.
    pub field: String,
    /// What is wrong, readable.
    pub message: String,
}

impl FieldError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "workload.{}: {}", self.field, self.message)
    }
}

/// What a generator knows of the run it draws for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// How many client processes draw operations (`0..clients`).
    pub clients: u32,
    /// Whether draws must not depend on replies: a client's sequence of operations is then a
    /// function of the seed and the client alone, and [`Workload::observe`] is never called.
    pub reply_independent: bool,
}

/// The value of an entry in a Jepsen history, in a form the recorder keeps without allocating
/// for the common shapes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Written {
    /// `nil`.
    Nil,
    /// An integer.
    Int(i64),
    /// A pair of integers, such as a compare-and-set's `[from to]`.
    Pair(i64, i64),
    /// Anything else (kept as a general value; boxed, so that the common shapes stay small).
    Other(Box<Value>),
}

impl Written {
    /// The general history value.
    pub fn to_value(&self) -> Value {
        match self {
            Written::Nil => Value::Nil,
            Written::Int(n) => Value::Int(*n),
            Written::Pair(a, b) => Value::List(vec![Value::Int(*a), Value::Int(*b)]),
            Written::Other(value) => (**value).clone(),
        }
    }
}

/// One history entry's function, key and value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Jepsen's `:f`: `read`, `write`, `cas`, `add`, ...
    pub function: &'static str,
    /// Jepsen's independent key, if the workload has keys.
    pub key: Option<i64>,
    /// Jepsen's `:value`.
    pub value: Written,
}

/// The verdict of a workload's checker on a history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Judgement {
    /// The history satisfies the workload's properties.
    Valid,
    /// A property is broken.
    Violation {
        /// The property, kebab-case (`linearizability`, `bank-total`, ...).
        property: String,
        /// What went wrong, readable.
        detail: String,
        /// The history entry (its index) that cannot be explained, if one can be named.
        stuck_entry: Option<u64>,
        /// True time at which the violation became observable, if known.
        time: Option<u64>,
    },
    /// The checker spent its budget without an answer.
    Unknown {
        /// What could not be decided.
        detail: String,
    },
}

/// A workload's judgement of a history with its full explanation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryCheck {
    /// The verdict.
    pub judgement: Judgement,
    /// The checker's explanation, written to the run's files (`linearizability.txt`).
    pub explanation: String,
}

/// A workload: typed operations, options, a generator, a history format and a checker. One
/// value is one run's workload (its options and the generator's state).
pub trait Workload: Sized + 'static {
    /// What a client asks the service to do.
    type Operation: Clone + fmt::Debug + Hash + Eq;
    /// What an `ok` completion returns.
    type Output: Clone + fmt::Debug + Hash + Eq;
    /// The workload's own fields of the scenario's `[workload]` table (reject unknown fields
    /// with `#[serde(deny_unknown_fields)]`).
    type Options: DeserializeOwned + Default + Clone + fmt::Debug;

    /// The name scenarios use: `[workload] kind = "…"`.
    const KIND: &'static str;

    /// Checks options beyond their types. An error is a bad scenario, reported with its line.
    fn check_options(_options: &Self::Options) -> Result<(), FieldError> {
        Ok(())
    }

    /// Checks options against the run they are used in: each operation's `timeout` and the
    /// run's `duration` (a critical section longer than the run, say). An error is a bad
    /// scenario, reported with its line.
    fn check_run(
        _options: &Self::Options,
        _timeout: crate::time::SimDuration,
        _duration: crate::time::SimDuration,
    ) -> Result<(), FieldError> {
        Ok(())
    }

    /// The workload of one run.
    fn new(options: &Self::Options, setup: Setup) -> Self;

    /// Draws the next operation of `client` from `rng`.
    fn next_operation(&mut self, client: u32, rng: &mut SimRng) -> Self::Operation;

    /// Tells the generator how an operation of `client` ended (never called when draws are
    /// reply-independent).
    fn observe(
        &mut self,
        _client: u32,
        _operation: &Self::Operation,
        _completion: &Completion<Self::Output>,
    ) {
    }

    /// The history entry of `operation`: at its invocation `output` is `None`; at an `ok`
    /// completion it is the result.
    fn write(operation: &Self::Operation, output: Option<&Self::Output>) -> Entry;

    /// Reads an operation (and, for an `ok` entry, its result) back from a history entry.
    fn read(op: &Op) -> Result<(Self::Operation, Option<Self::Output>), String>;

    /// Judges a run's history. It is the recorder's compact form: stream it
    /// ([`RecordedHistory::ops`]) rather than building a whole Jepsen history, so that a long
    /// run's check does not hold the history twice.
    fn check(
        &self,
        history: &RecordedHistory,
        options: &CheckOptions,
    ) -> Result<HistoryCheck, String>;
}

/// The operation type of a workload, for brevity in signatures.
pub type OperationOf<W> = <W as Workload>::Operation;
/// The output type of a workload, for brevity in signatures.
pub type OutputOf<W> = <W as Workload>::Output;

/// Most keys (registers, counters, accounts) a workload may ask for: each costs memory in the
/// generators and the state machines.
pub const KEY_COUNT_MAX: u32 = 1_000_000;
/// Largest weight of one operation kind in a `mix`.
pub const MIX_WEIGHT_MAX: u32 = 1_000_000;

/// Checks a workload's `keys` field against [`KEY_COUNT_MAX`].
pub fn check_key_count(keys: u32) -> Result<(), FieldError> {
    if keys == 0 || keys > KEY_COUNT_MAX {
        return Err(FieldError::new(
            "keys",
            format!("{keys} is outside 1..={KEY_COUNT_MAX}"),
        ));
    }
    Ok(())
}

/// Checks the weights of a workload's `mix`: none above [`MIX_WEIGHT_MAX`], not all zero.
pub fn check_mix(weights: &[u32]) -> Result<(), FieldError> {
    if weights.iter().any(|w| *w > MIX_WEIGHT_MAX) {
        return Err(FieldError::new(
            "mix",
            format!("a weight is above {MIX_WEIGHT_MAX}"),
        ));
    }
    if weights.iter().all(|w| *w == 0) {
        return Err(FieldError::new("mix", "all weights are zero"));
    }
    Ok(())
}

/// The key of an entry as the checker sees it.
pub(crate) fn key_of(op: &Op) -> Result<Option<i64>, String> {
    match &op.key {
        None => Ok(None),
        Some(Value::Int(key)) => Ok(Some(*key)),
        Some(other) => Err(format!("expected an integer key, found {other}")),
    }
}
