//! Client operations: a history's invocations paired with their completions.
//!
//! Jepsen's model: a client process invokes one operation at a time; the next entry of that
//! process completes it with `ok`, `fail` or `info`. An operation still open when the history
//! ends is indeterminate, like an `info`. Entries of named processes (the nemesis) are
//! annotations, not client operations, and are skipped: reports show faults from the run's
//! fault windows instead.

use crate::ReportError;
use serde::Serialize;
use sim::history::{History, OpType, Process};
use std::collections::BTreeMap;

/// How an operation ended, as its client saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It happened.
    Ok,
    /// It certainly did not happen: the service decided (an answer).
    Fail,
    /// It did not happen: the service was unavailable (written `fail` in the history).
    Refused,
    /// Unknown: timed out, or still open at the end of the history.
    Info,
}

impl Outcome {
    /// Every outcome, in the order reports list them.
    pub const ALL: [Outcome; 4] = [Outcome::Ok, Outcome::Fail, Outcome::Refused, Outcome::Info];

    /// The name used in tables, legends and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Refused => "refused",
            Outcome::Info => "info",
        }
    }
}

/// One client operation: an invocation and its completion, if it has one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Operation {
    /// The client process.
    pub process: u64,
    /// The function: `read`, `write`, `cas`, ...
    pub function: String,
    /// The key, printed, for histories of independent keys.
    pub key: Option<String>,
    /// The invocation's value, printed.
    pub invoke_value: String,
    /// The completion's value, printed, if it completed.
    pub completion_value: Option<String>,
    /// Why it failed or is indeterminate, if the history says.
    pub error: Option<String>,
    /// Index of the invoke entry in the history.
    pub invoke_index: u64,
    /// Index of the completion entry, if any.
    pub completion_index: Option<u64>,
    /// True time of the invocation, nanoseconds.
    pub invoke_time: u64,
    /// True time of the completion, nanoseconds; `None` when it never completed.
    pub completion_time: Option<u64>,
    /// How it ended.
    pub outcome: Outcome,
    /// The node that served it, when the run recorded one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<u32>,
}

impl Operation {
    /// Completion time minus invoke time, when it completed.
    pub fn latency(&self) -> Option<u64> {
        self.completion_time.map(|end| end - self.invoke_time)
    }

    /// Whether the history entry at `index` is this operation's invoke or completion.
    pub fn has_entry(&self, index: u64) -> bool {
        self.invoke_index == index || self.completion_index == Some(index)
    }
}

/// Whether the service answered: `ok`, or a `fail` it decided. Availability counts these.
impl Outcome {
    /// Whether this outcome is an answer of the service.
    pub fn is_answer(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::Fail)
    }
}

/// Adds what the run recorded beyond the Jepsen history: which completions were refused (the
/// service was unavailable — a history file writes them `fail`) and the node that served each.
pub fn mark_refused(operations: &mut [Operation], history: &sim::recorder::RecordedHistory) {
    for operation in operations {
        let Some(index) = operation.completion_index.map(|i| i as usize) else {
            continue;
        };
        if index >= history.len() {
            continue;
        }
        operation.node = history.node(index).map(|node| node.0);
        let refused = history.class(index) == Some(sim::completion::CompletionClass::Refused);
        if refused && operation.outcome == Outcome::Fail {
            operation.outcome = Outcome::Refused;
        }
    }
}

/// Pairs the client entries of `history` into operations, in order of invocation.
///
/// Errors name the entry when the history is not well formed: a completion without an open
/// invocation, a second invocation while one is open on the same process, or a completion
/// earlier than its invocation.
pub fn operations(history: &History) -> Result<Vec<Operation>, ReportError> {
    let mut operations: Vec<Operation> = Vec::new();
    // Client process -> position in `operations` of its open invocation.
    let mut open: BTreeMap<u64, usize> = BTreeMap::new();
    for entry in &history.ops {
        let Process::Client(process) = entry.process else {
            continue;
        };
        let malformed = |reason: &str| ReportError::MalformedHistory {
            index: entry.index,
            reason: format!("process {process}: {reason}"),
        };
        if entry.kind == OpType::Invoke {
            if open.contains_key(&process) {
                return Err(malformed(
                    "invoked while its previous operation is still open",
                ));
            }
            open.insert(process, operations.len());
            operations.push(Operation {
                process,
                function: entry.function.to_string(),
                key: entry.key.as_ref().map(ToString::to_string),
                invoke_value: entry.value.to_string(),
                completion_value: None,
                error: None,
                invoke_index: entry.index,
                completion_index: None,
                invoke_time: entry.time,
                completion_time: None,
                outcome: Outcome::Info,
                node: None,
            });
            continue;
        }
        let Some(position) = open.remove(&process) else {
            return Err(malformed("completion without an open invocation"));
        };
        let operation = &mut operations[position];
        if entry.time < operation.invoke_time {
            return Err(malformed("completed before it was invoked"));
        }
        operation.completion_value = Some(entry.value.to_string());
        operation.error = entry.error.as_ref().map(|e| e.to_string());
        operation.completion_index = Some(entry.index);
        operation.completion_time = Some(entry.time);
        operation.outcome = match entry.kind {
            OpType::Ok => Outcome::Ok,
            OpType::Fail => Outcome::Fail,
            OpType::Info | OpType::Invoke => Outcome::Info,
        };
    }
    Ok(operations)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::history::{Op, Value};

    fn entry(index: u64, kind: OpType, process: u64, time: u64) -> Op {
        Op {
            index,
            kind,
            process: Process::Client(process),
            function: "write".into(),
            key: None,
            value: Value::Int(1),
            time,
            error: None,
        }
    }

    #[test]
    fn pairs_invocations_with_completions_per_process() {
        let history = History {
            ops: vec![
                entry(0, OpType::Invoke, 1, 10),
                entry(1, OpType::Invoke, 2, 20),
                entry(2, OpType::Fail, 2, 25),
                entry(3, OpType::Ok, 1, 40),
                entry(4, OpType::Invoke, 1, 50),
            ],
        };
        let operations = operations(&history).unwrap();
        assert_eq!(operations.len(), 3);
        assert_eq!(
            (operations[0].process, operations[0].outcome),
            (1, Outcome::Ok)
        );
        assert_eq!(operations[0].latency(), Some(30));
        assert_eq!(operations[0].completion_index, Some(3));
        assert_eq!(
            (operations[1].process, operations[1].outcome),
            (2, Outcome::Fail)
        );
        assert_eq!(operations[2].outcome, Outcome::Info);
        assert_eq!(operations[2].latency(), None);
        assert!(operations[0].has_entry(3) && !operations[0].has_entry(1));
    }

    #[test]
    fn skips_the_nemesis() {
        let mut nemesis = entry(0, OpType::Info, 0, 5);
        nemesis.process = Process::Named("nemesis".to_string());
        let history = History { ops: vec![nemesis] };
        assert!(operations(&history).unwrap().is_empty());
    }

    #[test]
    fn rejects_a_completion_without_invocation() {
        let history = History {
            ops: vec![entry(7, OpType::Ok, 3, 5)],
        };
        let error = operations(&history).unwrap_err();
        assert!(error.to_string().contains("entry 7"), "{error}");
    }

    #[test]
    fn rejects_overlapping_invocations_of_one_process() {
        let history = History {
            ops: vec![
                entry(0, OpType::Invoke, 1, 5),
                entry(1, OpType::Invoke, 1, 6),
            ],
        };
        assert!(operations(&history).is_err());
    }
}
