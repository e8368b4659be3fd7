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
use std::sync::Arc;

/// A sequential specification.
pub trait Model {
    /// A state of the object.
    type State: Clone + Eq + Hash + Debug;
    /// An operation with its result, as the model needs it. Equal operations must have equal
    /// effects (the search treats indeterminate twins as interchangeable).
    type Op: Clone + Debug + PartialEq;

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

    /// Whether `op` never changes the state, in any state where it is legal (a read). The
    /// search places such an operation as soon as it is legal and tries nothing else in its
    /// place. The default, `false`, is always sound.
    fn is_read_only(&self, _op: &Self::Op) -> bool {
        false
    }

    /// Whether `op`, which [`Model::is_read_only`] says is read-only, is legal in `state`: the
    /// search asks this instead of [`Model::step`] for such operations, since the state after
    /// them is `state` itself. The default steps; a model may answer without building a state.
    fn allows(&self, state: &Self::State, op: &Self::Op) -> bool {
        self.step(state, op).is_some()
    }

    /// Optional pruning, with [`Model::resets`]: whether `op` can become legal in some state
    /// reachable from `state` by operations that do not reset. Answering `true` is always
    /// sound (the default); `false` must be certain.
    fn may_become_legal(&self, _state: &Self::State, _op: &Self::Op) -> bool {
        true
    }

    /// Whether `op` may lead to states [`Model::may_become_legal`] does not foresee (for the
    /// key-value map, a put). The default, `true`, turns that pruning off.
    fn resets(&self, _op: &Self::Op) -> bool {
        true
    }

    /// Optional pruning, with [`Model::observes`]: the state `op` leaves whenever it is legal,
    /// if that does not depend on the state before (a write; a compare-and-set, which is legal
    /// only from one state). The search never places an indeterminate operation whose state
    /// nothing that may follow it observes. The default, `None`, turns that pruning off.
    fn leaves(&self, _op: &Self::Op) -> Option<Self::State> {
        None
    }

    /// Which states `op` can tell apart, for the pruning with [`Model::leaves`]:
    /// - [`Observation::Nothing`] only if `op` is legal in every state and either leaves every
    ///   state unchanged or leaves one state whatever the state before (a read of unknown
    ///   result, a write);
    /// - [`Observation::State`]`(s)` only if `op` is legal in no state but `s` (a read that saw
    ///   `s`, a compare-and-set from `s`);
    /// - [`Observation::Anything`] otherwise: the default, always sound.
    fn observes(&self, _op: &Self::Op) -> Observation<Self::State> {
        Observation::Anything
    }

    /// Operations with different keys touch independent objects and are checked apart.
    fn partition_key(&self, operation: &Operation) -> Option<Value> {
        operation.key.clone()
    }

    /// A state, for explanations.
    fn describe_state(&self, state: &Self::State) -> String {
        format!("{state:?}")
    }
}

/// What an operation can observe of the state (see [`Model::observes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation<S> {
    /// No state: it is legal in every state and changes nothing there (a read of unknown
    /// result), or it sets the state blindly (a write).
    Nothing,
    /// Only whether the state is this one (a read that saw it, a compare-and-set from it).
    State(S),
    /// Possibly anything.
    Anything,
}

/// The value to check for an operation: the result of a completed one, else the argument. As in
/// Knossos's history completion, an `ok` completion's value replaces the invocation's, for every
/// function (a write acknowledged with another value wrote that value).
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

fn register_allows(state: &Value, op: &RegisterOp) -> bool {
    match op {
        RegisterOp::Read(None) => true,
        RegisterOp::Read(Some(value)) => value == state,
        RegisterOp::CasFailed(from) => from != state,
        _ => register_step(state, op).is_some(),
    }
}

fn register_leaves(op: &RegisterOp) -> Option<Value> {
    match op {
        RegisterOp::Write(value) | RegisterOp::Cas(_, value) => Some(value.clone()),
        _ => None,
    }
}

/// A failed compare-and-set (legal wherever the state differs) and one of unknown outcome can
/// tell states apart without being legal in one only, so they observe anything.
fn register_observes(op: &RegisterOp) -> Observation<Value> {
    match op {
        RegisterOp::Read(None) | RegisterOp::Write(_) => Observation::Nothing,
        RegisterOp::Read(Some(value)) | RegisterOp::Cas(value, _) => {
            Observation::State(value.clone())
        }
        RegisterOp::CasFailed(_) | RegisterOp::CasUnknown(..) => Observation::Anything,
    }
}

/// Knossos's compare-and-set register: `read`, `write`, `cas [from to]`. A completed read of
/// `nil` matches any state (Knossos reads nil as "no information"); a cas succeeds only from
/// `from`; an indeterminate cas, if it happened, succeeded; a failed one did not happen.
///
/// [`CasRegister::strict`] is the same register where a read of `nil` means the register holds
/// `nil` (a key that was never written, or lost): the right model for a store whose reads of a
/// missing key return nil, as detsim's key-value workload does, since only it can see lost
/// writes as reads of nil.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CasRegister {
    /// The initial value (`nil` unless told).
    pub initial: Value,
    /// Whether a completed read of `nil` matches any state (Knossos: yes).
    pub nil_reads_match_any: bool,
}

impl CasRegister {
    /// Knossos's register holding `initial`.
    pub fn new(initial: Value) -> Self {
        CasRegister {
            initial,
            nil_reads_match_any: true,
        }
    }

    /// A register holding `initial` where a read of `nil` must see `nil`.
    pub fn strict(initial: Value) -> Self {
        CasRegister {
            initial,
            nil_reads_match_any: false,
        }
    }
}

impl Model for CasRegister {
    type State = Value;
    type Op = RegisterOp;

    fn name(&self) -> &str {
        if self.nil_reads_match_any {
            "cas-register"
        } else {
            "cas-register-strict"
        }
    }

    fn init(&self) -> Value {
        self.initial.clone()
    }

    fn prepare(&self, operation: &Operation) -> Result<RegisterOp, String> {
        let known = operation.completion == Completion::Ok;
        match operation.function.as_ref() {
            "read" => Ok(RegisterOp::Read(
                Some(result_or_argument(operation).clone())
                    .filter(|v| known && !(self.nil_reads_match_any && v.is_nil())),
            )),
            "write" => Ok(RegisterOp::Write(result_or_argument(operation).clone())),
            "cas" => {
                let (from, to) = cas_pair(result_or_argument(operation))?;
                Ok(RegisterOp::Cas(from, to))
            }
            _ => Err(unknown_function(operation, "read, write or cas")),
        }
    }

    fn step(&self, state: &Value, op: &RegisterOp) -> Option<Value> {
        register_step(state, op)
    }

    fn is_read_only(&self, op: &RegisterOp) -> bool {
        matches!(op, RegisterOp::Read(_) | RegisterOp::CasFailed(_))
    }

    fn allows(&self, state: &Value, op: &RegisterOp) -> bool {
        register_allows(state, op)
    }

    fn leaves(&self, op: &RegisterOp) -> Option<Value> {
        register_leaves(op)
    }

    fn observes(&self, op: &RegisterOp) -> Observation<Value> {
        register_observes(op)
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
        match operation.function.as_ref() {
            "read" | "write" => CasRegister::new(self.initial.clone()).prepare(operation),
            _ => Err(unknown_function(operation, "read or write")),
        }
    }

    fn step(&self, state: &Value, op: &RegisterOp) -> Option<Value> {
        register_step(state, op)
    }

    fn is_read_only(&self, op: &RegisterOp) -> bool {
        matches!(op, RegisterOp::Read(_) | RegisterOp::CasFailed(_))
    }

    fn allows(&self, state: &Value, op: &RegisterOp) -> bool {
        register_allows(state, op)
    }

    fn leaves(&self, op: &RegisterOp) -> Option<Value> {
        register_leaves(op)
    }

    fn observes(&self, op: &RegisterOp) -> Observation<Value> {
        register_observes(op)
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
        match operation.function.as_ref() {
            "read" => Ok(RegisterOp::Read(
                known.then(|| result_or_argument(operation).clone()),
            )),
            "write" => Ok(RegisterOp::Write(result_or_argument(operation).clone())),
            "cas" => {
                let (from, to) = cas_pair(result_or_argument(operation))?;
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
        match operation.function.as_ref() {
            "cas" => Ok(Some(RegisterOp::CasFailed(cas_pair(&operation.input)?.0))),
            // A failed read or write did not happen (a timed-out read is unknown: same effect).
            "read" | "write" => Ok(None),
            _ => Err(unknown_function(operation, "read, write or cas")),
        }
    }

    fn step(&self, state: &Value, op: &RegisterOp) -> Option<Value> {
        register_step(state, op)
    }

    fn is_read_only(&self, op: &RegisterOp) -> bool {
        matches!(op, RegisterOp::Read(_) | RegisterOp::CasFailed(_))
    }

    fn allows(&self, state: &Value, op: &RegisterOp) -> bool {
        register_allows(state, op)
    }

    fn leaves(&self, op: &RegisterOp) -> Option<Value> {
        register_leaves(op)
    }

    fn observes(&self, op: &RegisterOp) -> Observation<Value> {
        register_observes(op)
    }

    fn describe_state(&self, state: &Value) -> String {
        state.to_string()
    }
}

/// An operation on one key of a key-value map, prepared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyValueOp {
    /// A get that returned this string; `None` if unknown.
    Get(Option<Expected>),
    /// A put.
    Put(Text),
    /// An append.
    Append(Arc<str>),
}

/// Arithmetic modulo the Mersenne prime 2^61 - 1, for the polynomial hash of [`Text`].
const MODULUS: u64 = (1 << 61) - 1;
/// The polynomial hash's base (any fixed number below the modulus).
const BASE: u64 = 0x1f3d_5b79_a2c4_e681 % MODULUS;

fn multiply_mod(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    let folded = (product as u64 & MODULUS) + (product >> 61) as u64;
    if folded >= MODULUS {
        folded - MODULUS
    } else {
        folded
    }
}

fn add_mod(a: u64, b: u64) -> u64 {
    let sum = a + b;
    if sum >= MODULUS {
        sum - MODULUS
    } else {
        sum
    }
}

/// (hash of `text`, BASE^len(text)) under the polynomial hash.
fn polynomial(text: &str) -> (u64, u64) {
    text.bytes().fold((0, 1), |(hash, power), byte| {
        (
            add_mod(multiply_mod(hash, BASE), u64::from(byte) + 1),
            multiply_mod(power, BASE),
        )
    })
}

struct Segment {
    before: Option<Arc<Segment>>,
    text: Arc<str>,
}

impl Drop for Segment {
    /// Drops a long chain iteratively: the default recursive drop could overflow the stack.
    fn drop(&mut self) {
        let mut before = self.before.take();
        while let Some(segment) = before {
            match Arc::try_unwrap(segment) {
                Ok(mut owned) => before = owned.before.take(),
                Err(_) => break,
            }
        }
    }
}

/// A string built by puts and appends, shared between states: appending is O(length of the
/// appended part), not of the whole string. Equal texts have equal hashes; texts with equal
/// hash and length are compared in full, so equality is exact.
#[derive(Clone)]
pub struct Text {
    hash: u64,
    length: usize,
    last: Option<Arc<Segment>>,
}

impl Text {
    /// A text holding `text`.
    pub fn new(text: &str) -> Text {
        Text::empty().append(&Arc::from(text))
    }

    /// The empty text.
    pub fn empty() -> Text {
        Text {
            hash: 0,
            length: 0,
            last: None,
        }
    }

    /// This text followed by `text`.
    pub fn append(&self, text: &Arc<str>) -> Text {
        if text.is_empty() {
            return self.clone();
        }
        let (hash, power) = polynomial(text);
        Text {
            hash: add_mod(multiply_mod(self.hash, power), hash),
            length: self.length + text.len(),
            last: Some(Arc::new(Segment {
                before: self.last.clone(),
                text: Arc::clone(text),
            })),
        }
    }

    /// The whole string.
    pub fn to_text(&self) -> String {
        let mut parts = Vec::new();
        let mut segment = self.last.as_deref();
        while let Some(current) = segment {
            parts.push(&*current.text);
            segment = current.before.as_deref();
        }
        parts.reverse();
        parts.concat()
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.hash == other.hash
            && self.length == other.length
            && (same_segments(&self.last, &other.last) || self.to_text() == other.to_text())
    }
}

impl Eq for Text {}

/// Whether two chains are built from the same appended texts (compared by pointer, so this is
/// cheap and may say `false` for equal strings built differently).
fn same_segments(a: &Option<Arc<Segment>>, b: &Option<Arc<Segment>>) -> bool {
    let (mut a, mut b) = (a.as_ref(), b.as_ref());
    loop {
        match (a, b) {
            (None, None) => return true,
            (Some(x), Some(y)) => {
                if Arc::ptr_eq(x, y) {
                    return true;
                }
                if !Arc::ptr_eq(&x.text, &y.text) {
                    return false;
                }
                a = x.before.as_ref();
                b = y.before.as_ref();
            }
            _ => return false,
        }
    }
}

impl std::hash::Hash for Text {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
        state.write_usize(self.length);
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.to_text())
    }
}

/// The string a get returned, with the hash of each of its prefixes (for pruning).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    /// The string.
    pub text: Text,
    /// `prefix_hashes[n]`: the polynomial hash of its first `n` bytes.
    prefix_hashes: Arc<[u64]>,
}

impl Expected {
    /// A get's result.
    pub fn new(text: &str) -> Expected {
        let mut prefix_hashes = Vec::with_capacity(text.len() + 1);
        let mut hash = 0;
        prefix_hashes.push(hash);
        for byte in text.bytes() {
            hash = add_mod(multiply_mod(hash, BASE), u64::from(byte) + 1);
            prefix_hashes.push(hash);
        }
        // The whole text's hash is the last prefix hash: not computed twice.
        let text = if text.is_empty() {
            Text::empty()
        } else {
            Text {
                hash,
                length: text.len(),
                last: Some(Arc::new(Segment {
                    before: None,
                    text: Arc::from(text),
                })),
            }
        };
        Expected {
            text,
            prefix_hashes: prefix_hashes.into(),
        }
    }

    /// Whether `state` may be a prefix of this string: certain when it answers `false` (the
    /// hashes differ), possibly wrong when it answers `true`.
    fn may_extend(&self, state: &Text) -> bool {
        self.prefix_hashes
            .get(state.length)
            .is_some_and(|&hash| hash == state.hash)
    }
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
    type State = Text;
    type Op = KeyValueOp;

    fn name(&self) -> &str {
        "kv"
    }

    fn init(&self) -> Text {
        Text::empty()
    }

    fn prepare(&self, operation: &Operation) -> Result<KeyValueOp, String> {
        let known = operation.completion == Completion::Ok;
        match operation.function.as_ref() {
            "get" | "read" => Ok(KeyValueOp::Get(if known {
                Some(Expected::new(&string_of(result_or_argument(operation))?))
            } else {
                None
            })),
            "put" | "write" => Ok(KeyValueOp::Put(Text::new(&string_of(result_or_argument(
                operation,
            ))?))),
            "append" => Ok(KeyValueOp::Append(Arc::from(
                string_of(result_or_argument(operation))?.as_str(),
            ))),
            _ => Err(unknown_function(operation, "get, put or append")),
        }
    }

    fn step(&self, state: &Text, op: &KeyValueOp) -> Option<Text> {
        match op {
            KeyValueOp::Get(None) => Some(state.clone()),
            KeyValueOp::Get(Some(value)) => (value.text == *state).then(|| state.clone()),
            KeyValueOp::Put(value) => Some(value.clone()),
            KeyValueOp::Append(value) => Some(state.append(value)),
        }
    }

    /// Without puts, the string only grows: a get can still succeed only if the current
    /// string is a prefix of what it returned.
    fn may_become_legal(&self, state: &Text, op: &KeyValueOp) -> bool {
        match op {
            KeyValueOp::Get(Some(expected)) => expected.may_extend(state),
            _ => true,
        }
    }

    fn resets(&self, op: &KeyValueOp) -> bool {
        matches!(op, KeyValueOp::Put(_))
    }

    fn leaves(&self, op: &KeyValueOp) -> Option<Text> {
        match op {
            KeyValueOp::Put(value) => Some(value.clone()),
            _ => None,
        }
    }

    fn observes(&self, op: &KeyValueOp) -> Observation<Text> {
        match op {
            KeyValueOp::Get(None) | KeyValueOp::Put(_) => Observation::Nothing,
            KeyValueOp::Get(Some(expected)) => Observation::State(expected.text.clone()),
            KeyValueOp::Append(_) => Observation::Anything,
        }
    }

    fn is_read_only(&self, op: &KeyValueOp) -> bool {
        matches!(op, KeyValueOp::Get(_))
    }

    fn allows(&self, state: &Text, op: &KeyValueOp) -> bool {
        match op {
            KeyValueOp::Get(None) => true,
            KeyValueOp::Get(Some(value)) => value.text == *state,
            _ => self.step(state, op).is_some(),
        }
    }

    fn describe_state(&self, state: &Text) -> String {
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
        match operation.function.as_ref() {
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
        // The amount is the invocation's: a counter's `ok` often returns the new total.
        match (operation.function.as_ref(), &operation.input) {
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

    fn is_read_only(&self, op: &CounterOp) -> bool {
        matches!(op, CounterOp::Read(_))
    }

    fn describe_state(&self, state: &i64) -> String {
        state.to_string()
    }
}

/// One micro-operation of a transaction on several registers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Micro {
    /// `[:r k v]`: a read of register `k` that saw `v`; `None` (nil, or unknown) matches any.
    Read(Value, Option<Value>),
    /// `[:w k v]`: a write of `v` to register `k`.
    Write(Value, Value),
}

/// A transaction, prepared: its micro-operations in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction(pub Vec<Micro>);

/// Knossos's `multi-register`: named registers read and written by transactions, `:f :txn`
/// with a value such as `[[:r :x 1] [:w :y 2]]`, applied atomically. A read of `nil` matches any
/// value, as in Knossos; a register never written holds `nil`. The micro-operation's function
/// may be a keyword (`:r`, `:w`) or a string (`"r"`, `"w"`, as in JSON histories); keys are any
/// values. As Knossos's history completion does, an `ok` transaction is checked with its
/// completion's value, which carries what the reads saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MultiRegister;

/// The registers' values, sorted by key; registers holding `nil` are absent.
pub type Registers = Vec<(Value, Value)>;

fn micro(item: &Value) -> Result<Micro, String> {
    let Value::List(parts) = item else {
        return Err(format!(
            "expected a micro-operation such as [:r :x 1], found {item}"
        ));
    };
    let [function, key, value] = parts.as_slice() else {
        return Err(format!("expected [f key value], found {item}"));
    };
    let name = match function {
        Value::Keyword { keyword } => keyword.as_str(),
        Value::Str(text) => text.as_str(),
        other => return Err(format!("expected :r or :w, found {other}")),
    };
    match name {
        "r" | "read" => Ok(Micro::Read(
            key.clone(),
            (!value.is_nil()).then(|| value.clone()),
        )),
        "w" | "write" => Ok(Micro::Write(key.clone(), value.clone())),
        other => Err(format!("expected :r or :w, found :{other}")),
    }
}

impl Model for MultiRegister {
    type State = Registers;
    type Op = Transaction;

    fn name(&self) -> &str {
        "multi-register"
    }

    fn init(&self) -> Registers {
        Vec::new()
    }

    fn prepare(&self, operation: &Operation) -> Result<Transaction, String> {
        if operation.function != "txn" {
            return Err(unknown_function(operation, "txn"));
        }
        let known = operation.completion == Completion::Ok;
        let Value::List(items) = result_or_argument(operation) else {
            return Err(format!(
                "a txn's value is a list of micro-operations, found {}",
                result_or_argument(operation)
            ));
        };
        let mut micros = items.iter().map(micro).collect::<Result<Vec<_>, _>>()?;
        if !known {
            // What an indeterminate transaction's reads saw is unknown.
            for m in &mut micros {
                if let Micro::Read(_, seen) = m {
                    *seen = None;
                }
            }
        }
        Ok(Transaction(micros))
    }

    fn step(&self, state: &Registers, op: &Transaction) -> Option<Registers> {
        let mut next: Option<Registers> = None;
        for m in &op.0 {
            let current = next.as_ref().unwrap_or(state);
            match m {
                Micro::Read(key, Some(seen)) => {
                    let value = current
                        .binary_search_by(|(k, _)| k.cmp(key))
                        .map_or(&Value::Nil, |at| &current[at].1);
                    if value != seen {
                        return None;
                    }
                }
                Micro::Read(_, None) => {}
                Micro::Write(key, value) => {
                    let registers = next.get_or_insert_with(|| state.clone());
                    match registers.binary_search_by(|(k, _)| k.cmp(key)) {
                        Ok(at) if value.is_nil() => {
                            registers.remove(at);
                        }
                        Ok(at) => registers[at].1 = value.clone(),
                        Err(_) if value.is_nil() => {}
                        Err(at) => registers.insert(at, (key.clone(), value.clone())),
                    }
                }
            }
        }
        Some(next.unwrap_or_else(|| state.clone()))
    }

    fn is_read_only(&self, op: &Transaction) -> bool {
        op.0.iter().all(|m| matches!(m, Micro::Read(..)))
    }

    fn describe_state(&self, state: &Registers) -> String {
        let pairs: Vec<String> = state.iter().map(|(k, v)| format!("{k} {v}")).collect();
        format!("{{{}}}", pairs.join(", "))
    }
}
