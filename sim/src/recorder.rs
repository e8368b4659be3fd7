//! The history as a run records it: compact, and turned into Jepsen-style [`Op`]s only on demand.
//!
//! A run may record millions of operations. A general [`Op`] (process, function name, key and
//! value as EDN-like values, error text) takes 160 bytes and an allocation or two; the engine's
//! own key-value operations fit in a 56-byte [`Entry`] with no allocation, error texts interned.
//! Peak memory then grows with the number of operations at a third of the cost, and recording
//! stays off the engine's hot path. A workload writes each entry as a function (interned), an
//! optional integer key and a value; integers and pairs of integers are kept inline, anything
//! else (a transfer's legs) as a general value. Entries not recorded by a run (a history built
//! by hand, or read back from a file) are kept as general `Op`s. Each completion also keeps its
//! [`CompletionClass`] (which tells a refused `fail` from a decided one) and the node that
//! served it.

use crate::check::operation::{Completion, Operation, Span};
use crate::completion::CompletionClass;
use crate::history::{History, Op, OpType, Process, Value};
use crate::protocol::NodeId;
use crate::time::SimTime;
use crate::workload::{Entry as Written, Written as WrittenValue};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// `function` of an entry kept as a general [`Op`].
const GENERAL: u8 = u8::MAX;
/// Most distinct functions one history records compactly (a workload has a handful).
const FUNCTION_COUNT_MAX: usize = GENERAL as usize;
/// How many of the first interned texts are compared by address before the map is asked.
const REASONS_SCANNED: usize = 8;
/// `node` of an entry no node served.
const NO_NODE: u16 = u16::MAX;

/// The shape of a compact entry's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Nil,
    Int,
    Pair,
    /// A general value, at index `first` of `values`.
    Other,
}

/// One recorded history entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    time: u64,
    process: u64,
    /// The integer value, a pair's first, or the index of a general value or general entry.
    first: i64,
    /// A pair's second.
    second: i64,
    key: i64,
    /// 0 for none, otherwise 1 + index into `reasons`.
    reason: u32,
    /// The node that served a completion, or `NO_NODE`.
    node: u16,
    kind: OpType,
    /// Index into `functions`, or `GENERAL`.
    function: u8,
    shape: Shape,
    has_key: bool,
    class: Option<CompletionClass>,
}

/// A recorded history paired for the checker (see [`RecordedHistory::pair_for_check`]).
#[derive(Clone, Debug, Default)]
pub struct CheckPairing {
    /// Every client operation's span, in order of invocation.
    pub spans: Vec<Span>,
    /// Positions of entries of non-client processes.
    pub annotations: Vec<usize>,
    /// Per operation, in order of completion (then the never completed, in order of
    /// invocation): its number, and the positions of its invocation and completion (or
    /// `u32::MAX`).
    pub links: Vec<(u32, u32, u32)>,
}

/// Client numbers below this have their open operation in a vector slot rather than a map.
const SMALL_PROCESSES: usize = 4096;
/// No open operation.
const NO_OPERATION: u32 = u32::MAX;

/// A run's history in compact form.
#[derive(Clone, Debug, Default)]
pub struct RecordedHistory {
    entries: Vec<Entry>,
    functions: Vec<&'static str>,
    /// Per function: whether the file writers may copy it as it is (see `history_files`).
    functions_plain: Vec<bool>,
    reasons: Vec<Cow<'static, str>>,
    /// Per reason: whether the file writers may copy it as it is.
    reasons_plain: Vec<bool>,
    reason_ids: BTreeMap<Cow<'static, str>, u32>,
    values: Vec<Value>,
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

    /// Records one entry of a client operation: its invocation (`class` `None`) or completion.
    /// `written` is the workload's form of the operation (and, for an `ok`, its result); `node`
    /// the node that served a completion.
    #[inline]
    pub fn push_operation(
        &mut self,
        time: SimTime,
        process: u64,
        class: Option<CompletionClass>,
        written: Written,
        reason: Option<Cow<'static, str>>,
        node: Option<NodeId>,
    ) {
        let kind = class.map_or(OpType::Invoke, CompletionClass::op_type);
        let (shape, first, second) = match written.value {
            WrittenValue::Nil => (Shape::Nil, 0, 0),
            WrittenValue::Int(value) => (Shape::Int, value, 0),
            WrittenValue::Pair(a, b) => (Shape::Pair, a, b),
            WrittenValue::Other(value) => {
                self.values.push(*value);
                (Shape::Other, self.values.len() as i64 - 1, 0)
            }
        };
        let function = self.function_id(written.function);
        let reason = reason.map_or(0, |text| self.intern(text));
        let node = node.map_or(NO_NODE, |n| {
            u16::try_from(n.0).expect("node ids fit the engine's limit")
        });
        self.entries.push(Entry {
            time: time.0,
            process,
            first,
            second,
            key: written.key.unwrap_or(0),
            reason,
            node,
            kind,
            function,
            shape,
            has_key: written.key.is_some(),
            class,
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
            node: NO_NODE,
            kind: op.kind,
            function: GENERAL,
            shape: Shape::Nil,
            has_key: false,
            class: CompletionClass::from_op_type(op.kind),
        });
        self.general.push(op);
    }

    fn function_id(&mut self, function: &'static str) -> u8 {
        if let Some(id) = position_of_name(self.functions.iter().copied(), function) {
            return id as u8;
        }
        assert!(
            self.functions.len() < FUNCTION_COUNT_MAX,
            "detsim bug: a workload wrote more than {FUNCTION_COUNT_MAX} functions"
        );
        self.functions.push(function);
        self.functions_plain
            .push(crate::history_files::is_plain_keyword(function));
        (self.functions.len() - 1) as u8
    }

    fn intern(&mut self, text: Cow<'static, str>) -> u32 {
        if let Cow::Borrowed(text) = text {
            // Static texts ("timeout", a protocol's fixed reasons) come back again and again at
            // the same address: recognise them without a map lookup.
            let same = |known: &Cow<'static, str>| match known {
                Cow::Borrowed(known) => {
                    std::ptr::eq(known.as_ptr(), text.as_ptr()) && known.len() == text.len()
                }
                Cow::Owned(_) => false,
            };
            if let Some(position) = self.reasons.iter().take(REASONS_SCANNED).position(same) {
                return position as u32 + 1;
            }
        }
        if let Some(id) = self.reason_ids.get(&text) {
            return *id;
        }
        self.reasons_plain
            .push(crate::history_files::is_plain(&text));
        self.reasons.push(text.clone());
        let id = self.reasons.len() as u32;
        self.reason_ids.insert(text, id);
        id
    }

    /// The entry at `index` as a Jepsen-style operation.
    pub fn op(&self, index: usize) -> Op {
        let entry = &self.entries[index];
        let mut op = self.op_for_check(index);
        if entry.function != GENERAL && entry.reason > 0 {
            op.error = Some(self.reasons[entry.reason as usize - 1].clone());
        }
        op
    }

    /// The completion class of the entry at `index` (`None` for an invocation). Entries read
    /// from a file take `fail` as decided.
    pub fn class(&self, index: usize) -> Option<CompletionClass> {
        self.entries[index].class
    }

    /// The node that served the completion at `index`, if the run recorded one.
    pub fn node(&self, index: usize) -> Option<NodeId> {
        let node = self.entries[index].node;
        (node != NO_NODE).then_some(NodeId(u32::from(node)))
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

    /// Entry `index` in the form the file writers format directly, or `None` when it is not
    /// compact (a general entry).
    pub(crate) fn compact_view(
        &self,
        index: usize,
    ) -> Option<crate::history_files::CompactView<'_>> {
        let entry = &self.entries[index];
        if entry.function == GENERAL || entry.shape == Shape::Other {
            return None;
        }
        let value = match entry.shape {
            Shape::Nil => WrittenValue::Nil,
            Shape::Int => WrittenValue::Int(entry.first),
            Shape::Pair => WrittenValue::Pair(entry.first, entry.second),
            Shape::Other => unreachable!("checked above"),
        };
        Some(crate::history_files::CompactView {
            time: entry.time,
            process: entry.process,
            kind: entry.kind,
            function: self.functions[entry.function as usize],
            function_plain: self.functions_plain[entry.function as usize],
            key: entry.has_key.then_some(entry.key),
            value,
            error: (entry.reason > 0).then(|| self.reasons[entry.reason as usize - 1].as_ref()),
            error_plain: entry.reason == 0 || self.reasons_plain[entry.reason as usize - 1],
            node: (entry.node != NO_NODE).then_some(u32::from(entry.node)),
        })
    }

    /// Entry `index` as the checker needs it: like [`RecordedHistory::op`] without the error
    /// text, which no checker reads.
    pub fn op_for_check(&self, index: usize) -> Op {
        let entry = &self.entries[index];
        if entry.function == GENERAL {
            return self.general[entry.first as usize].clone();
        }
        let value = match entry.shape {
            Shape::Nil => Value::Nil,
            Shape::Int => Value::Int(entry.first),
            Shape::Pair => Value::List(vec![Value::Int(entry.first), Value::Int(entry.second)]),
            Shape::Other => self.values[entry.first as usize].clone(),
        };
        Op {
            index: index as u64,
            kind: entry.kind,
            process: Process::Client(entry.process),
            function: Cow::Borrowed(self.functions[entry.function as usize]),
            key: entry.has_key.then_some(Value::Int(entry.key)),
            value,
            time: entry.time,
            error: None,
        }
    }

    /// The history paired for the checker straight from the compact entries, without building
    /// an [`Op`] per entry: `None` when it holds a general client entry, does not pair, or is
    /// too long for 32-bit positions (the checker's own pairing then reads it, and says what
    /// is wrong). See [`CheckPairing`].
    pub fn pair_for_check(&self) -> Option<CheckPairing> {
        if u32::try_from(self.entries.len()).is_err() {
            return None;
        }
        let mut pairing = CheckPairing {
            spans: Vec::with_capacity(self.entries.len() / 2 + 1),
            annotations: Vec::new(),
            links: Vec::with_capacity(self.entries.len() / 2 + 1),
        };
        // Open operation (number) per process.
        let mut small: Vec<u32> = Vec::new();
        let mut other: BTreeMap<u64, u32> = BTreeMap::new();
        for (index, entry) in self.entries.iter().enumerate() {
            if entry.function == GENERAL {
                if self.general[entry.first as usize].process.is_client() {
                    return None;
                }
                pairing.annotations.push(index);
                continue;
            }
            let slot = match usize::try_from(entry.process) {
                Ok(process) if process < SMALL_PROCESSES => {
                    if small.len() <= process {
                        small.resize(process + 1, NO_OPERATION);
                    }
                    Some(&mut small[process])
                }
                _ => None,
            };
            if entry.kind == OpType::Invoke {
                let number = pairing.spans.len() as u32;
                let previous = match slot {
                    Some(slot) => std::mem::replace(slot, number),
                    None => other.insert(entry.process, number).unwrap_or(NO_OPERATION),
                };
                if previous != NO_OPERATION {
                    return None;
                }
                pairing.spans.push(Span {
                    invoke: index,
                    complete: None,
                    completion: Completion::Open,
                });
                continue;
            }
            let number = match slot {
                Some(slot) => std::mem::replace(slot, NO_OPERATION),
                None => other.remove(&entry.process).unwrap_or(NO_OPERATION),
            };
            if number == NO_OPERATION {
                return None;
            }
            let span = &mut pairing.spans[number as usize];
            if self.entries[span.invoke].function != entry.function {
                return None;
            }
            span.complete = Some(index);
            span.completion = self.completion_for_check(index);
            pairing
                .links
                .push((number, span.invoke as u32, index as u32));
        }
        // The operations never completed, in order of invocation.
        let mut open: Vec<u32> = small
            .into_iter()
            .filter(|&number| number != NO_OPERATION)
            .chain(other.into_values())
            .collect();
        open.sort_unstable();
        pairing.links.extend(open.into_iter().map(|number| {
            (
                number,
                pairing.spans[number as usize].invoke as u32,
                NO_OPERATION,
            )
        }));
        Some(pairing)
    }

    /// Operation `number` of a pairing, whole, as the checker's own pairing builds it.
    pub fn operation_for_check(&self, span: &Span) -> Operation {
        let invoke = &self.entries[span.invoke];
        let complete = span.complete.map(|index| &self.entries[index]);
        let key = if invoke.has_key {
            Some(Value::Int(invoke.key))
        } else {
            complete.and_then(|entry| entry.has_key.then_some(Value::Int(entry.key)))
        };
        let output = match (span.completion, complete) {
            (Completion::Ok | Completion::Fail, Some(entry)) => Some(self.value_for_check(entry)),
            _ => None,
        };
        Operation {
            invoke: span.invoke,
            complete: span.complete,
            completion: span.completion,
            process: Process::Client(invoke.process),
            function: Cow::Borrowed(self.functions[invoke.function as usize]),
            key,
            input: self.value_for_check(invoke),
            output,
        }
    }

    /// How the completion at `index` ends its operation.
    pub fn completion_for_check(&self, index: usize) -> Completion {
        match self.entries[index].kind {
            OpType::Ok => Completion::Ok,
            OpType::Fail => Completion::Fail,
            _ => Completion::Info,
        }
    }

    /// A compact entry's value, as [`RecordedHistory::op_for_check`] gives it.
    fn value_for_check(&self, entry: &Entry) -> Value {
        match entry.shape {
            Shape::Nil => Value::Nil,
            Shape::Int => Value::Int(entry.first),
            Shape::Pair => Value::List(vec![Value::Int(entry.first), Value::Int(entry.second)]),
            Shape::Other => self.values[entry.first as usize].clone(),
        }
    }

    /// The true time of entry `index`, nanoseconds.
    pub fn time(&self, index: usize) -> u64 {
        self.entries[index].time
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

/// Where `name` stands among `names`, which are distinct. Names are static strings that come
/// back again and again from the same literal, so the whole list is first scanned by address
/// (a pointer and a length, no bytes read), and only when no address matches by the bytes.
#[inline]
pub(crate) fn position_of_name<'a>(
    names: impl Iterator<Item = &'a str> + Clone,
    name: &str,
) -> Option<usize> {
    let mut by_bytes = names.clone();
    let mut by_address = names;
    by_address
        .position(|known| std::ptr::eq(known, name))
        .or_else(|| by_bytes.position(|known| known == name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::register::{Operation, Register};
    use crate::workload::Workload;

    fn push(
        history: &mut RecordedHistory,
        time: u64,
        process: u64,
        class: Option<CompletionClass>,
        operation: &Operation,
        output: Option<Option<i64>>,
        reason: Option<&'static str>,
    ) {
        history.push_operation(
            SimTime(time),
            process,
            class,
            Register::write(operation, output.as_ref()),
            reason.map(Cow::Borrowed),
            class.map(|_| NodeId(1)),
        );
    }

    #[test]
    fn a_name_is_found_by_its_address_or_else_by_its_bytes() {
        let names = ["read", "write", "cas"];
        let find = |name: &str| super::position_of_name(names.iter().copied(), name);
        // The same literals, and equal strings at other addresses.
        assert_eq!(find(names[2]), Some(2));
        let built = String::from("wr") + "ite";
        assert_eq!(find(&built), Some(1));
        // A prefix at the same address is another name.
        assert_eq!(find(&names[1][..2]), None);
        assert_eq!(find("append"), None);
    }

    #[test]
    fn compact_entries_read_back_as_jepsen_operations() {
        let mut history = RecordedHistory::default();
        let cas = Operation::Cas {
            key: 2,
            from: 5,
            to: 6,
        };
        push(&mut history, 10, 3, None, &cas, None, None);
        let fail = Some(CompletionClass::Fail);
        push(&mut history, 20, 3, fail, &cas, None, Some("differs"));
        let read = Operation::Read { key: 1 };
        let ok = Some(CompletionClass::Ok);
        push(&mut history, 30, 4, ok, &read, Some(None), None);
        push(&mut history, 40, 4, ok, &read, Some(Some(-7)), None);
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
        assert_eq!(history.node(0), None);
        assert_eq!(history.node(1), Some(NodeId(1)));
    }

    #[test]
    fn a_refused_operation_is_written_as_fail_and_keeps_its_class() {
        let mut history = RecordedHistory::default();
        let write = Operation::Write { key: 0, value: 1 };
        push(&mut history, 1, 0, None, &write, None, None);
        let refused = Some(CompletionClass::Refused);
        push(&mut history, 2, 0, refused, &write, None, Some("node down"));
        assert_eq!(history.op(1).kind, OpType::Fail);
        assert_eq!(history.class(1), Some(CompletionClass::Refused));
        assert_eq!(history.class(0), None);
    }

    #[test]
    fn general_entries_and_serde_round_trip() {
        let mut history = RecordedHistory::default();
        let write = Operation::Write { key: 0, value: 1 };
        push(&mut history, 1, 0, None, &write, None, None);
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
