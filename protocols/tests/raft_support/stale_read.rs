//! A small, sound test for one kind of non-linearizable history: a read that returns a value
//! every writer of which had finished before an acknowledged overwrite began, that overwrite
//! itself having finished before the read began. Real-time order then places every writer of
//! the value, then the overwrite, then the read: the read cannot see the value.
//!
//! It finds stale reads only, and says nothing about other anomalies; the full Wing–Gong–Lowe
//! checker of the `check` crate judges whole histories. This lets the suite prove the
//! `stale-local-read` bug is caught from the client history alone, without invariants.

use sim::history::{History, OpType, Process, Value};
use std::collections::BTreeMap;

/// One operation with its invocation and completion times.
#[derive(Clone, Debug)]
struct Operation {
    function: String,
    key: Value,
    /// The value written (write), the pair `[from, to]` (cas), the value seen (ok read).
    value: Value,
    invoked: u64,
    /// Completion time, or `u64::MAX` when unknown (`info`) or never completed.
    completed: u64,
    kind: OpType,
}

fn pair(history: &History) -> Vec<Operation> {
    let mut open: BTreeMap<Process, Operation> = BTreeMap::new();
    let mut operations = Vec::new();
    for op in &history.ops {
        match op.kind {
            OpType::Invoke => {
                let operation = Operation {
                    function: op.function.to_string(),
                    key: op.key.clone().unwrap_or(Value::Nil),
                    value: op.value.clone(),
                    invoked: op.time,
                    completed: u64::MAX,
                    kind: OpType::Invoke,
                };
                open.insert(op.process.clone(), operation);
            }
            kind => {
                let Some(mut operation) = open.remove(&op.process) else {
                    continue;
                };
                operation.kind = kind;
                if kind != OpType::Info {
                    operation.completed = op.time;
                }
                if operation.function == "read" {
                    operation.value = op.value.clone();
                }
                operations.push(operation);
            }
        }
    }
    operations.extend(open.into_values());
    operations
}

/// The value an operation may have left in its register, if it writes.
fn written_value(operation: &Operation) -> Option<Value> {
    match (operation.function.as_str(), &operation.value) {
        ("write", value) => Some(value.clone()),
        ("cas", Value::List(pair)) if pair.len() == 2 => Some(pair[1].clone()),
        _ => None,
    }
}

/// Describes the first provably stale read in `history`, if there is one.
pub fn find_stale_read(history: &History) -> Option<String> {
    let operations = pair(history);
    let may_write = |op: &&Operation| op.kind != OpType::Fail && written_value(op).is_some();
    let reads = operations
        .iter()
        .filter(|op| op.function == "read" && op.kind == OpType::Ok);
    for read in reads {
        let same_key = |op: &&Operation| op.key == read.key;
        let last_writer_done = operations
            .iter()
            .filter(may_write)
            .filter(same_key)
            .filter(|op| written_value(op).as_ref() == Some(&read.value))
            .map(|op| op.completed)
            .max()
            .unwrap_or(0);
        let overwrite = operations.iter().filter(same_key).find(|op| {
            op.kind == OpType::Ok
                && written_value(op).is_some_and(|value| value != read.value)
                && op.invoked > last_writer_done
                && op.completed < read.invoked
        });
        if let Some(overwrite) = overwrite {
            return Some(format!(
                "read of key {} invoked at {} saw {}, but an acknowledged {} of {} ({}..{}) \
                 began after every writer of {} had finished and ended before the read began",
                read.key,
                read.invoked,
                read.value,
                overwrite.function,
                overwrite.value,
                overwrite.invoked,
                overwrite.completed,
                read.value
            ));
        }
    }
    None
}
