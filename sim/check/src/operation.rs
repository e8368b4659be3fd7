//! From history entries to operations, as Jepsen defines them.
//!
//! Each client operation is an invocation and at most one completion by the same process:
//! - `ok`: it happened, between invocation and completion;
//! - `fail`: it certainly did not happen (models drop it, unless they can read something from
//!   the failure, as Porcupine's etcd model does for a failed compare-and-set);
//! - `info`, or no completion at all: it may have happened at any point after its invocation,
//!   so its completion is at infinity.
//!
//! Entries of processes that are not clients (such as `:nemesis`) are not operations: they are
//! kept aside as fault annotations.

use crate::error::HistoryError;
use crate::history::{History, Op, OpType, Process, Value};
use std::collections::BTreeMap;
use std::fmt;

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Completion {
    /// It happened.
    Ok,
    /// It did not happen.
    Fail,
    /// Unknown: it may have happened at any time after its invocation.
    Info,
    /// Never completed: the same as `Info`.
    Open,
}

impl Completion {
    /// Whether the outcome is unknown (`info` or never completed).
    pub fn is_indeterminate(self) -> bool {
        matches!(self, Completion::Info | Completion::Open)
    }
}

/// One operation: an invocation and its completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// Position of the invocation in `History::ops`.
    pub invoke: usize,
    /// Position of the completion in `History::ops`, if any.
    pub complete: Option<usize>,
    /// How it ended.
    pub completion: Completion,
    /// The client process.
    pub process: Process,
    /// The function, such as `read`.
    pub function: std::borrow::Cow<'static, str>,
    /// The key, if the history has independent keys.
    pub key: Option<Value>,
    /// The invocation's value (the argument).
    pub input: Value,
    /// The completion's value (the result) for `ok` and `fail`; `None` when unknown.
    pub output: Option<Value>,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "process {} {}", self.process, self.function)?;
        if let Some(key) = &self.key {
            write!(f, " key {key}")?;
        }
        match (&self.completion, &self.output) {
            (Completion::Ok, Some(output)) if self.input.is_nil() => {
                // A read of nothing is worth showing; an acquire returning nil is not.
                if !output.is_nil() || matches!(self.function.as_ref(), "read" | "get") {
                    write!(f, " -> {output}")?
                }
            }
            (Completion::Ok, Some(output)) if *output != self.input => {
                write!(f, " {} -> {output}", self.input)?
            }
            _ if self.input.is_nil() => {}
            _ => write!(f, " {}", self.input)?,
        }
        let ending = match self.completion {
            Completion::Ok => "ok",
            Completion::Fail => "fail",
            Completion::Info => "info",
            Completion::Open => "never completed",
        };
        write!(f, " ({ending}, entry {}", self.invoke)?;
        if let Some(complete) = self.complete {
            write!(f, "..{complete}")?;
        }
        f.write_str(")")
    }
}

/// Where an operation is in its history and how it ended: all the checker keeps of each
/// operation once the model has prepared it (a fifth of an [`Operation`]'s size).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// Position of the invocation in the history.
    pub invoke: usize,
    /// Position of the completion, if any.
    pub complete: Option<usize>,
    /// How it ended.
    pub completion: Completion,
}

impl Operation {
    /// Its place in the history and how it ended.
    pub fn span(&self) -> Span {
        Span {
            invoke: self.invoke,
            complete: self.complete,
            completion: self.completion,
        }
    }
}

/// Client numbers below this have their open operation in a vector slot rather than a map.
const SMALL_PROCESSES: u64 = 4096;

/// Pairs a history one entry at a time, holding only the operations still open: each
/// operation comes out whole at its completion (or at the end, if it never completes), so a
/// caller that turns it into something smaller at once never holds the history's operations.
/// Any malformed pairing is reported only as such: [`pair_ops`] says exactly what and where.
pub(crate) struct Pairer {
    /// Open operation (number, operation) of each small client number.
    small: Vec<Option<(usize, Operation)>>,
    other: BTreeMap<Process, (usize, Operation)>,
    /// Every operation's span, in order of invocation.
    pub(crate) spans: Vec<Span>,
    /// Positions of entries of non-client processes.
    pub(crate) annotations: Vec<usize>,
    /// The operations wanted whole: the others are paired without their values.
    wanted: Option<std::collections::BTreeSet<usize>>,
}

/// The history does not pair (see [`pair_ops`] for the error).
pub(crate) struct Malformed;

impl Pairer {
    pub(crate) fn new(len: usize) -> Self {
        Pairer {
            small: Vec::new(),
            other: BTreeMap::new(),
            spans: Vec::with_capacity(len / 2 + 1),
            annotations: Vec::new(),
            wanted: None,
        }
    }

    /// A pairer that builds only the operations numbered in `wanted` whole (the others come
    /// out without key or values).
    pub(crate) fn wanting(len: usize, wanted: std::collections::BTreeSet<usize>) -> Self {
        Pairer {
            wanted: Some(wanted),
            ..Pairer::new(len)
        }
    }

    fn slot(&mut self, process: &Process) -> Option<&mut Option<(usize, Operation)>> {
        match *process {
            Process::Client(n) if n < SMALL_PROCESSES => {
                let n = n as usize;
                if self.small.len() <= n {
                    self.small.resize_with(n + 1, || None);
                }
                Some(&mut self.small[n])
            }
            _ => None,
        }
    }

    /// Takes entry `index`; returns the operation it completes, with its number.
    pub(crate) fn feed(
        &mut self,
        index: usize,
        op: std::borrow::Cow<'_, Op>,
    ) -> Result<Option<(usize, Operation)>, Malformed> {
        if !op.process.is_client() {
            self.annotations.push(index);
            return Ok(None);
        }
        if op.kind == OpType::Invoke {
            let number = self.spans.len();
            self.spans.push(Span {
                invoke: index,
                complete: None,
                completion: Completion::Open,
            });
            let unwanted = self
                .wanted
                .as_ref()
                .is_some_and(|wanted| !wanted.contains(&number));
            let (process, function, key, input) = match op {
                std::borrow::Cow::Borrowed(op) if unwanted => {
                    (op.process.clone(), shared(&op.function), None, Value::Nil)
                }
                std::borrow::Cow::Borrowed(op) => (
                    op.process.clone(),
                    shared(&op.function),
                    op.key.clone(),
                    op.value.clone(),
                ),
                std::borrow::Cow::Owned(op) => {
                    let function = match op.function {
                        std::borrow::Cow::Borrowed(_) => op.function,
                        std::borrow::Cow::Owned(_) => shared(&op.function),
                    };
                    (op.process, function, op.key, op.value)
                }
            };
            let operation = Operation {
                invoke: index,
                complete: None,
                completion: Completion::Open,
                process,
                function,
                key,
                input,
                output: None,
            };
            let open = match self.slot(&operation.process) {
                Some(slot) => slot.replace((number, operation)).is_some(),
                None => self
                    .other
                    .insert(operation.process.clone(), (number, operation))
                    .is_some(),
            };
            return if open { Err(Malformed) } else { Ok(None) };
        }
        let taken = match self.slot(&op.process) {
            Some(slot) => slot.take(),
            None => self.other.remove(&op.process),
        };
        let Some((number, mut operation)) = taken else {
            return Err(Malformed);
        };
        if operation.function != op.function {
            return Err(Malformed);
        }
        let kind = op.kind;
        let unwanted = self
            .wanted
            .as_ref()
            .is_some_and(|wanted| !wanted.contains(&number));
        let (key, value) = match op {
            std::borrow::Cow::Borrowed(_) if unwanted => (None, Value::Nil),
            std::borrow::Cow::Borrowed(op) => (
                operation.key.is_none().then(|| op.key.clone()).flatten(),
                op.value.clone(),
            ),
            std::borrow::Cow::Owned(op) => (op.key, op.value),
        };
        operation.complete = Some(index);
        if operation.key.is_none() {
            operation.key = key;
        }
        match kind {
            OpType::Ok => {
                operation.completion = Completion::Ok;
                operation.output = Some(value);
            }
            OpType::Fail => {
                operation.completion = Completion::Fail;
                operation.output = Some(value);
            }
            // Jepsen: an `info` completion may have happened at any time after the invocation.
            _ => operation.completion = Completion::Info,
        }
        self.spans[number] = operation.span();
        Ok(Some((number, operation)))
    }

    /// The operations never completed, in order of invocation.
    pub(crate) fn open(&mut self) -> Vec<(usize, Operation)> {
        let mut open: Vec<(usize, Operation)> = self
            .small
            .iter_mut()
            .filter_map(Option::take)
            .chain(std::mem::take(&mut self.other).into_values())
            .collect();
        open.sort_by_key(|(number, _)| *number);
        open
    }
}

/// The function's name, without a copy for the common ones (a history has a few names, each
/// repeated by every operation).
// The `Cow` itself, not `&str`: a borrowed name that is not common is shared, not copied.
#[allow(clippy::ptr_arg)]
fn shared(function: &std::borrow::Cow<'static, str>) -> std::borrow::Cow<'static, str> {
    const COMMON: [&str; 12] = [
        "read",
        "write",
        "cas",
        "get",
        "put",
        "append",
        "txn",
        "acquire",
        "release",
        "add",
        "increment",
        "invoke",
    ];
    match COMMON.iter().find(|&&name| name == function.as_ref()) {
        Some(&name) => std::borrow::Cow::Borrowed(name),
        None => function.clone(),
    }
}

/// A history split into client operations and fault annotations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Operations {
    /// Client operations, in order of invocation.
    pub operations: Vec<Operation>,
    /// Positions of the entries of non-client processes (nemesis and the like).
    pub annotations: Vec<usize>,
}

/// Pairs invocations with completions. Errors on a completion without an invocation, on a
/// second invocation while one is open on the same process, and on a completion whose function
/// differs from its invocation's.
pub fn pair(history: &History) -> Result<Operations, HistoryError> {
    pair_ops(history.ops.iter(), history.ops.len())
}

/// [`pair`] over a stream of entries, in history order (`len` is how many there are, for
/// reserving room): a caller that keeps its history in another form (the simulator's compact
/// recorder) pairs it without first building a whole [`History`].
pub fn pair_ops<O: std::borrow::Borrow<Op>>(
    ops: impl Iterator<Item = O>,
    len: usize,
) -> Result<Operations, HistoryError> {
    let mut result = Operations {
        operations: Vec::with_capacity(len / 2 + 1),
        annotations: Vec::new(),
    };
    // Open operation (index into `result.operations`) per process.
    let mut open: BTreeMap<Process, usize> = BTreeMap::new();
    for (index, op) in ops.enumerate() {
        let op: &Op = op.borrow();
        if !op.process.is_client() {
            result.annotations.push(index);
            continue;
        }
        if op.kind == OpType::Invoke {
            if let Some(&previous) = open.get(&op.process) {
                return Err(HistoryError::TwoOpenOperations {
                    index,
                    open: result.operations[previous].invoke,
                    process: op.process.to_string(),
                });
            }
            open.insert(op.process.clone(), result.operations.len());
            result.operations.push(Operation {
                invoke: index,
                complete: None,
                completion: Completion::Open,
                process: op.process.clone(),
                function: shared(&op.function),
                key: op.key.clone(),
                input: op.value.clone(),
                output: None,
            });
            continue;
        }
        let Some(slot) = open.remove(&op.process) else {
            return Err(HistoryError::CompletionWithoutInvocation {
                index,
                kind: op.kind.to_string(),
                process: op.process.to_string(),
            });
        };
        let operation = &mut result.operations[slot];
        if operation.function != op.function {
            return Err(HistoryError::MismatchedCompletion {
                index,
                open: operation.invoke,
                invocation: operation.function.to_string(),
                completion: op.function.to_string(),
            });
        }
        operation.complete = Some(index);
        if operation.key.is_none() {
            operation.key = op.key.clone();
        }
        match op.kind {
            OpType::Ok => {
                operation.completion = Completion::Ok;
                operation.output = Some(op.value.clone());
            }
            OpType::Fail => {
                operation.completion = Completion::Fail;
                operation.output = Some(op.value.clone());
            }
            // Jepsen: an `info` completion may have happened at any time after the invocation.
            _ => operation.completion = Completion::Info,
        }
    }
    Ok(result)
}
