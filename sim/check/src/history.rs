//! Histories in Jepsen's operation model.
//!
//! Every operation is an `invoke` followed by one completion: `ok` (it happened), `fail` (it
//! certainly did not happen) or `info` (unknown: it may have happened at any point after its
//! invocation). Each entry carries the process (a client, or a named process such as the
//! nemesis), the function (`read`, `write`, `cas`, ...), an optional key (Jepsen's independent
//! keys), the value, and the true time in nanoseconds.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// The kind of a history entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    /// The operation began.
    Invoke,
    /// The operation happened.
    Ok,
    /// The operation certainly did not happen.
    Fail,
    /// The outcome is unknown.
    Info,
}

impl fmt::Display for OpType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        })
    }
}

/// Who performed an operation.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Process {
    /// A client process, checked for linearizability.
    Client(u64),
    /// A named process such as `nemesis`: kept as an annotation, never checked.
    Named(String),
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(n) => write!(f, "{n}"),
            Process::Named(name) => write!(f, ":{name}"),
        }
    }
}

/// A value in a history: EDN's scalars and vectors.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// `nil`: absent, or not yet known (an invoked read).
    Nil,
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
    /// A vector, such as a compare-and-set's `[from to]`.
    List(Vec<Value>),
    /// An EDN keyword such as `:timed-out`; in JSON, `{"keyword": "timed-out"}`.
    Keyword {
        /// The name, without the leading colon.
        keyword: String,
    },
}

impl Value {
    /// A keyword value named `name` (without the colon).
    pub fn keyword(name: &str) -> Value {
        Value::Keyword {
            keyword: name.to_string(),
        }
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// Whether this is `nil`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => f.write_str("nil"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Value::Keyword { keyword } => write!(f, ":{keyword}"),
        }
    }
}

/// One history entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Op {
    /// Position in the history, from 0.
    pub index: u64,
    /// invoke, ok, fail or info.
    #[serde(rename = "type")]
    pub kind: OpType,
    /// Who performed it.
    pub process: Process,
    /// The function: `read`, `write`, `cas`, `get`, `put`, `append`, `acquire`, ...
    #[serde(rename = "f")]
    pub function: Cow<'static, str>,
    /// The key, for histories of many independent objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    /// The operation's argument or result.
    pub value: Value,
    /// True time in nanoseconds.
    pub time: u64,
    /// Why an operation failed or is indeterminate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Cow<'static, str>>,
}

impl Process {
    /// Whether this is a client process (whose operations are checked).
    pub fn is_client(&self) -> bool {
        matches!(self, Process::Client(_))
    }
}

/// A whole history, in order of time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// The entries.
    pub ops: Vec<Op>,
}

impl History {
    /// Jepsen's independent keys: histories written by `jepsen.independent` carry each client
    /// operation's key inside its value, as a tuple `[key value]`. This moves the first element
    /// into [`Op::key`] and the second into [`Op::value`], so the checker partitions by key.
    /// Entries of non-client processes are left alone; a client entry that already has a key,
    /// or whose value is not a two-element vector, is an error naming it.
    pub fn split_independent(&mut self) -> Result<(), crate::error::HistoryError> {
        for (position, op) in self.ops.iter_mut().enumerate() {
            if !matches!(op.process, Process::Client(_)) {
                continue;
            }
            match (&op.key, &mut op.value) {
                (None, Value::List(items)) if items.len() == 2 => {
                    let value = items.pop().expect("two items");
                    let key = items.pop().expect("one item");
                    op.key = Some(key);
                    op.value = value;
                }
                _ => {
                    return Err(crate::error::HistoryError::NotATuple {
                        index: position,
                        value: op.value.to_string(),
                    })
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind: OpType, process: Process, value: Value) -> Op {
        Op {
            index: 0,
            kind,
            process,
            function: "write".into(),
            key: None,
            value,
            time: 0,
            error: None,
        }
    }

    #[test]
    fn independent_tuples_become_keys() {
        let tuple = |k: i64, v: Value| Value::List(vec![Value::Int(k), v]);
        let mut history = History {
            ops: vec![
                op(OpType::Invoke, Process::Client(0), tuple(3, Value::Int(7))),
                op(
                    OpType::Info,
                    Process::Named("nemesis".into()),
                    Value::Str("start".into()),
                ),
                op(OpType::Ok, Process::Client(0), tuple(3, Value::Int(7))),
            ],
        };
        history.split_independent().unwrap();
        assert_eq!(history.ops[0].key, Some(Value::Int(3)));
        assert_eq!(history.ops[2].value, Value::Int(7));
        assert_eq!(history.ops[1].value, Value::Str("start".into()));
    }

    #[test]
    fn a_value_that_is_not_a_tuple_is_named() {
        let mut history = History {
            ops: vec![op(OpType::Invoke, Process::Client(0), Value::Int(7))],
        };
        let error = history.split_independent().unwrap_err();
        assert_eq!(
            error.to_string(),
            "entry 0: independent keys: the value 7 is not a [key value] tuple"
        );
    }
}
