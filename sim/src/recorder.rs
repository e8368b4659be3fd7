//! The history as a run records it: compact, and turned into Jepsen-style [`Op`]s only on demand.
//!
//! A run may record millions of operations. A general [`Op`] (process, function name, key and
//! value as EDN-like values, error text) takes 160 bytes and an allocation or two; the engine's
//! own key-value operations fit in a 56-byte [`Entry`] with no allocation, error texts interned.
//! Peak memory then grows with the number of operations at a third of the cost, and recording
//! stays off the engine's hot path. Anything that is not a key-value operation of the engine
//! (a history built by hand, or read back from a file) is kept as a general `Op`.

use crate::history::{History, Op, OpType, Process, Value};
use crate::protocol::Operation;
use crate::time::SimTime;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::collections::BTreeMap;

const READ: u8 = 0;
const WRITE: u8 = 1;
const CAS: u8 = 2;
const GENERAL: u8 = 255;

/// One recorded history entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    time: u64,
    process: u64,
    /// Read result, write value, or cas `from`; for a general entry, its index in `general`.
    first: i64,
    /// Cas `to`.
    second: i64,
    key: u64,
    /// 0 for none, otherwise 1 + index into `reasons`.
    reason: u32,
    kind: OpType,
    function: u8,
    /// Whether a read's result is present (a read of a register never written has none).
    has_value: bool,
}

/// A run's history in compact form.
#[derive(Clone, Debug, Default)]
pub struct RecordedHistory {
    entries: Vec<Entry>,
    reasons: Vec<Cow<'static, str>>,
    reason_ids: BTreeMap<Cow<'static, str>, u32>,
    general: Vec<Op>,
}

impl RecordedHistory {
    /// An empty history with room for `capacity` entries.
    pub fn with_capacity(capacity: usize) -> RecordedHistory {
        RecordedHistory {
            entries: Vec::with_capacity(capacity),
            ..RecordedHistory::default()
        }
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records one entry of a key-value operation. `read_value` is the value a completed read
    /// returned (`None` for a register never written, and for other entries).
    pub fn push_operation(
        &mut self,
        time: SimTime,
        process: u64,
        kind: OpType,
        operation: &Operation,
        read_value: Option<i64>,
        reason: Option<Cow<'static, str>>,
    ) {
        let (function, key, first, second, has_value) = match *operation {
            Operation::Read { key } => {
                (READ, key, read_value.unwrap_or(0), 0, read_value.is_some())
            }
            Operation::Write { key, value } => (WRITE, key, value, 0, true),
            Operation::Cas { key, from, to } => (CAS, key, from, to, true),
        };
        let reason = reason.map_or(0, |text| self.intern(text));
        self.entries.push(Entry {
            time: time.0,
            process,
            first,
            second,
            key,
            reason,
            kind,
            function,
            has_value,
        });
    }

    /// Records a general entry (its `index` is replaced by its position).
    pub fn push_op(&mut self, mut op: Op) {
        op.index = self.entries.len() as u64;
        self.entries.push(Entry {
            time: op.time,
            process: 0,
            first: self.general.len() as i64,
            second: 0,
            key: 0,
            reason: 0,
            kind: op.kind,
            function: GENERAL,
            has_value: false,
        });
        self.general.push(op);
    }

    fn intern(&mut self, text: Cow<'static, str>) -> u32 {
        if let Some(id) = self.reason_ids.get(&text) {
            return *id;
        }
        self.reasons.push(text.clone());
        let id = self.reasons.len() as u32;
        self.reason_ids.insert(text, id);
        id
    }

    /// The entry at `index` as a Jepsen-style operation.
    pub fn op(&self, index: usize) -> Op {
        let entry = &self.entries[index];
        if entry.function == GENERAL {
            return self.general[entry.first as usize].clone();
        }
        let (function, value) = match entry.function {
            READ if entry.has_value => ("read", Value::Int(entry.first)),
            READ => ("read", Value::Nil),
            WRITE => ("write", Value::Int(entry.first)),
            _ => (
                "cas",
                Value::List(vec![Value::Int(entry.first), Value::Int(entry.second)]),
            ),
        };
        Op {
            index: index as u64,
            kind: entry.kind,
            process: Process::Client(entry.process),
            function: Cow::Borrowed(function),
            key: Some(Value::Int(entry.key as i64)),
            value,
            time: entry.time,
            error: (entry.reason > 0).then(|| self.reasons[entry.reason as usize - 1].clone()),
        }
    }

    /// Every entry as an operation, in order.
    pub fn ops(&self) -> impl ExactSizeIterator<Item = Op> + '_ {
        (0..self.entries.len()).map(|index| self.op(index))
    }

    /// The whole history in the general form the checker and the file writers take.
    pub fn to_history(&self) -> History {
        History {
            ops: self.ops().collect(),
        }
    }

    /// The time of the last entry, or zero.
    pub fn last_time(&self) -> u64 {
        self.entries.iter().map(|e| e.time).max().unwrap_or(0)
    }
}

impl PartialEq for RecordedHistory {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.ops().eq(other.ops())
    }
}

impl From<History> for RecordedHistory {
    fn from(history: History) -> Self {
        let mut recorded = RecordedHistory::with_capacity(history.ops.len());
        for op in history.ops {
            recorded.push_op(op);
        }
        recorded
    }
}

impl Serialize for RecordedHistory {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.ops())
    }
}

impl<'de> Deserialize<'de> for RecordedHistory {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<Op>::deserialize(deserializer).map(|ops| History { ops }.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_entries_read_back_as_jepsen_operations() {
        let mut history = RecordedHistory::default();
        let cas = Operation::Cas {
            key: 2,
            from: 5,
            to: 6,
        };
        history.push_operation(SimTime(10), 3, OpType::Invoke, &cas, None, None);
        history.push_operation(
            SimTime(20),
            3,
            OpType::Fail,
            &cas,
            None,
            Some("differs".into()),
        );
        let read = Operation::Read { key: 1 };
        history.push_operation(SimTime(30), 4, OpType::Ok, &read, None, None);
        history.push_operation(SimTime(40), 4, OpType::Ok, &read, Some(-7), None);
        let ops: Vec<String> = history
            .ops()
            .map(|op| serde_json::to_string(&op).unwrap())
            .collect();
        assert_eq!(
            ops,
            [
                r#"{"index":0,"type":"invoke","process":3,"f":"cas","key":2,"value":[5,6],"time":10}"#,
                r#"{"index":1,"type":"fail","process":3,"f":"cas","key":2,"value":[5,6],"time":20,"error":"differs"}"#,
                r#"{"index":2,"type":"ok","process":4,"f":"read","key":1,"value":null,"time":30}"#,
                r#"{"index":3,"type":"ok","process":4,"f":"read","key":1,"value":-7,"time":40}"#,
            ]
        );
        assert_eq!(history.last_time(), 40);
    }

    #[test]
    fn general_entries_and_serde_round_trip() {
        let mut history = RecordedHistory::default();
        history.push_operation(
            SimTime(1),
            0,
            OpType::Invoke,
            &Operation::Write { key: 0, value: 1 },
            None,
            None,
        );
        history.push_op(Op {
            index: 99,
            kind: OpType::Info,
            process: Process::Named("nemesis".into()),
            function: "start".into(),
            key: None,
            value: Value::Str("partition".into()),
            time: 2,
            error: None,
        });
        assert_eq!(history.op(1).index, 1);
        let text = serde_json::to_string(&history).unwrap();
        let back: RecordedHistory = serde_json::from_str(&text).unwrap();
        assert_eq!(back, history);
    }

    #[test]
    fn entries_stay_small() {
        assert!(
            std::mem::size_of::<Entry>() <= 56,
            "{}",
            std::mem::size_of::<Entry>()
        );
    }
}
