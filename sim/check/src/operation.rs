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
