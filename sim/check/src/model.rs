//! Sequential specifications ("models") of the objects whose histories are checked.
//!
//! A model is a pure state machine: [`Model::step`] says whether an operation, with the result
//! it returned, is legal in a state, and which state follows. [`Model::prepare`] turns a history
//! operation into the model's own compact form once, before the search, so that the search
//! never parses values. Implement [`Model`] for your own object; the checker interns states and
//! memoises steps, so `step` may be as plain as it likes.

use crate::history::Value;
use crate::operation::{Completion, Operation};
use std::fmt::Debug;
use std::hash::Hash;

/// A sequential specification.
pub trait Model {
    /// A state of the object.
    type State: Clone + Eq + Hash + Debug;
    /// An operation with its result, as the model needs it.
    type Op: Clone + Debug;

    /// The model's name, for messages.
    fn name(&self) -> &str;

    /// The initial state.
    fn init(&self) -> Self::State;

    /// Interprets an operation that happened (`completion` is `Ok`) or may have happened
    /// (`Info` or `Open`: `operation.output` is `None`, the result is unknown).
    fn prepare(&self, operation: &Operation) -> Result<Self::Op, String>;

    /// Interprets a failed operation. Jepsen: it never happened, so by default it is dropped.
    fn prepare_failed(&self, _operation: &Operation) -> Result<Option<Self::Op>, String> {
        Ok(None)
    }

    /// The state after `op` in `state`, or `None` if `op` (with its result) is illegal there.
    fn step(&self, state: &Self::State, op: &Self::Op) -> Option<Self::State>;

    /// Operations with different keys touch independent objects and are checked apart.
    fn partition_key(&self, operation: &Operation) -> Option<Value> {
        operation.key.clone()
    }

    /// A state, for explanations.
    fn describe_state(&self, state: &Self::State) -> String {
        format!("{state:?}")
    }
}

/// The value to check for an operation: the result of a completed one, else the argument.
fn result_or_argument(operation: &Operation) -> &Value {
    match (&operation.completion, &operation.output) {
        (Completion::Ok, Some(output)) => output,
        _ => &operation.input,
    }
}

fn unknown_function(operation: &Operation, expected: &str) -> String {
    format!(
        "unknown function `{}` (expected {expected})",
        operation.function
    )
}

/// `[from to]` of a compare-and-set.
fn cas_pair(value: &Value) -> Result<(Value, Value), String> {
    match value {
        Value::List(items) if items.len() == 2 => Ok((items[0].clone(), items[1].clone())),
        other => Err(format!("cas expects [from to], found {other}")),
    }
}

/// An operation on a register, prepared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterOp {
    /// A read that saw this value; `None` means any value matches.
    Read(Option<Value>),
    /// A write.
    Write(Value),
    /// A compare-and-set that succeeded: legal only from `from`.
    Cas(Value, Value),
    /// A compare-and-set whose outcome is known to be a failed comparison (etcd model).
    CasFailed(Value),
    /// A compare-and-set whose outcome is unknown: sets `to` if the state is `from`.
    CasUnknown(Value, Value),
}

fn register_step(state: &Value, op: &RegisterOp) -> Option<Value> {
    match op {
        RegisterOp::Read(None) => Some(state.clone()),
        RegisterOp::Read(Some(value)) => (value == state).then(|| state.clone()),
        RegisterOp::Write(value) => Some(value.clone()),
        RegisterOp::Cas(from, to) => (from == state).then(|| to.clone()),
        RegisterOp::CasFailed(from) => (from != state).then(|| state.clone()),
        RegisterOp::CasUnknown(from, to) => Some(if from == state {
            to.clone()
        } else {
            state.clone()
        }),
    }
}

/// Knossos's compare-and-set register: `read`, `write`, `cas [from to]`. A completed read of
/// `nil` matches any state (Knossos reads nil as "no information"); a cas succeeds only from
/// `from`; an indeterminate cas, if it happened, succeeded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CasRegister {
    /// The initial value (`nil` unless told).
    pub initial: Value,
}

impl CasRegister {
    /// A register holding `initial`.
    pub fn new(initial: Value) -> Self {
        CasRegister { initial }
    }
}

impl Model for CasRegister {
    type State = Value;
    type Op = RegisterOp;

    fn name(&self) -> &str {
        "cas-register"
    }

    fn init(&self) -> Value {
        self.initial.clone()
    }

    fn prepare(&self, operation: &Operation) -> Result<RegisterOp, String> {
        let known = operation.completion == Completion::Ok;
        match operation.function.as_str() {
            "read" => Ok(RegisterOp::Read(
                Some(result_or_argument(operation).clone()).filter(|v| known && !v.is_nil()),
            )),
            "write" => Ok(RegisterOp::Write(operation.input.clone())),
            "cas" => {
                let (from, to) = cas_pair(&operation.input)?;
                Ok(RegisterOp::Cas(from, to))
            }
            _ => Err(unknown_function(operation, "read, write or cas")),
        }
    }

    fn step(&self, state: &Value, op: &RegisterOp) -> Option<Value> {
        register_step(state, op)
    }

    fn describe_state(&self, state: &Value) -> String {
        state.to_string()
    }
}

/// Knossos's plain register: `read` and `write` only (a completed read of `nil` matches any
/// state, as in Knossos).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Register {
    /// The initial value.
    pub initial: Value,
}

impl Model for Register {
    type State = Value;
    type Op = RegisterOp;

    fn name(&self) -> &str {
        "register"
    }

    fn init(&self) -> Value {
        self.initial.clone()
    }

    fn prepare(&self, operation: &Operation) -> Result<RegisterOp, String> {
        match operation.function.as_str() {
            "read" | "write" => CasRegister::new(self.initial.clone()).prepare(operation),
            _ => Err(unknown_function(operation, "read or write")),
        }
    }

    fn step(&self, state: &Value, op: &RegisterOp) -> Option<Value> {
        register_step(state, op)
    }

    fn describe_state(&self, state: &Value) -> String {
        state.to_string()
    }
}

/// Porcupine's etcd register: like [`CasRegister`], but a read of `nil` means the key is absent
/// (the state must be `nil`), and a failed `cas` is an observation that the value differed from
/// `from` (etcd answers a failed comparison with an error, so the operation did take effect as a
/// read). A read whose result is unknown (`info`, or `fail` with `:timed-out`) constrains nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EtcdRegister;

impl Model for EtcdRegister {
    type State = Value;
    type Op = RegisterOp;

    fn name(&self) -> &str {
        "etcd"
    }

    fn init(&self) -> Value {
        Value::Nil
    }

    fn prepare(&self, operation: &Operation) -> Result<RegisterOp, String> {
        let known = operation.completion == Completion::Ok;
        match operation.function.as_str() {
            "read" => Ok(RegisterOp::Read(
                known.then(|| result_or_argument(operation).clone()),
            )),
            "write" => Ok(RegisterOp::Write(operation.input.clone())),
            "cas" => {
                let (from, to) = cas_pair(&operation.input)?;
                Ok(if known {
                    RegisterOp::Cas(from, to)
                } else {
                    RegisterOp::CasUnknown(from, to)
                })
            }
            _ => Err(unknown_function(operation, "read, write or cas")),
        }
    }

    fn prepare_failed(&self, operation: &Operation) -> Result<Option<RegisterOp>, String> {
        match operation.function.as_str() {
            "cas" => Ok(Some(RegisterOp::CasFailed(cas_pair(&operation.input)?.0))),
            // A failed read or write did not happen (a timed-out read is unknown: same effect).
            "read" | "write" => Ok(None),
            _ => Err(unknown_function(operation, "read, write or cas")),
        }
    }

    fn step(&self, state: &Value, op: &RegisterOp) -> Option<Value> {
        register_step(state, op)
    }

    fn describe_state(&self, state: &Value) -> String {
        state.to_string()
    }
}

/// An operation on one key of a key-value map, prepared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyValueOp {
    /// A get that returned this string; `None` if unknown.
    Get(Option<String>),
    /// A put.
    Put(String),
    /// An append.
    Append(String),
}

/// Porcupine's key-value map: `get`, `put`, `append` on string values, partitioned by key.
/// A missing key reads as the empty string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyValue;

fn string_of(value: &Value) -> Result<String, String> {
    match value {
        Value::Nil => Ok(String::new()),
        Value::Str(s) => Ok(s.clone()),
        Value::Int(n) => Ok(n.to_string()),
        other => Err(format!("expected a string value, found {other}")),
    }
}

impl Model for KeyValue {
    type State = String;
    type Op = KeyValueOp;

    fn name(&self) -> &str {
        "kv"
    }

    fn init(&self) -> String {
        String::new()
    }

    fn prepare(&self, operation: &Operation) -> Result<KeyValueOp, String> {
        let known = operation.completion == Completion::Ok;
        match operation.function.as_str() {
            "get" | "read" => Ok(KeyValueOp::Get(if known {
                Some(string_of(result_or_argument(operation))?)
            } else {
                None
            })),
            "put" | "write" => Ok(KeyValueOp::Put(string_of(&operation.input)?)),
            "append" => Ok(KeyValueOp::Append(string_of(&operation.input)?)),
            _ => Err(unknown_function(operation, "get, put or append")),
        }
    }

    fn step(&self, state: &String, op: &KeyValueOp) -> Option<String> {
        match op {
            KeyValueOp::Get(None) => Some(state.clone()),
            KeyValueOp::Get(Some(value)) => (value == state).then(|| state.clone()),
            KeyValueOp::Put(value) => Some(value.clone()),
            KeyValueOp::Append(value) => Some(format!("{state}{value}")),
        }
    }

    fn describe_state(&self, state: &String) -> String {
        format!("{state:?}")
    }
}

/// An operation on a mutex, prepared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MutexOp {
    /// Take the lock.
    Acquire,
    /// Give it back.
    Release,
}

/// Knossos's mutex: `acquire` is legal only when free, `release` only when held.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mutex;

impl Model for Mutex {
    type State = bool;
    type Op = MutexOp;

    fn name(&self) -> &str {
        "mutex"
    }

    fn init(&self) -> bool {
        false
    }

    fn prepare(&self, operation: &Operation) -> Result<MutexOp, String> {
        match operation.function.as_str() {
            "acquire" => Ok(MutexOp::Acquire),
            "release" => Ok(MutexOp::Release),
            _ => Err(unknown_function(operation, "acquire or release")),
        }
    }

    fn step(&self, held: &bool, op: &MutexOp) -> Option<bool> {
        match op {
            MutexOp::Acquire => (!held).then_some(true),
            MutexOp::Release => held.then_some(false),
        }
    }

    fn describe_state(&self, held: &bool) -> String {
        if *held { "held" } else { "free" }.to_string()
    }
}

/// An operation on a counter, prepared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterOp {
    /// Add this amount (`add` / `increment`; an `increment` without a value adds 1).
    Add(i64),
    /// A read of this value; `None` if unknown.
    Read(Option<i64>),
}

/// A counter starting at 0: `add n` (or `increment`) and `read`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counter;

impl Model for Counter {
    type State = i64;
    type Op = CounterOp;

    fn name(&self) -> &str {
        "counter"
    }

    fn init(&self) -> i64 {
        0
    }

    fn prepare(&self, operation: &Operation) -> Result<CounterOp, String> {
        let known = operation.completion == Completion::Ok;
        match (operation.function.as_str(), &operation.input) {
            ("add" | "increment", Value::Int(n)) => Ok(CounterOp::Add(*n)),
            ("increment", Value::Nil) => Ok(CounterOp::Add(1)),
            ("read", _) => match result_or_argument(operation) {
                Value::Int(n) if known => Ok(CounterOp::Read(Some(*n))),
                Value::Nil => Ok(CounterOp::Read(None)),
                _ if !known => Ok(CounterOp::Read(None)),
                other => Err(format!("read expects an integer, found {other}")),
            },
            ("add" | "increment", other) => Err(format!("add expects an integer, found {other}")),
            _ => Err(unknown_function(operation, "add, increment or read")),
        }
    }

    fn step(&self, state: &i64, op: &CounterOp) -> Option<i64> {
        match op {
            CounterOp::Add(n) => state.checked_add(*n),
            CounterOp::Read(None) => Some(*state),
            CounterOp::Read(Some(value)) => (value == state).then_some(*state),
        }
    }

    fn describe_state(&self, state: &i64) -> String {
        state.to_string()
    }
}
