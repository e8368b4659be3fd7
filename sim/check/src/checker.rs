//! Checking a whole history: pairing, partitioning by key, searching each partition.
//!
//! P-compositionality (Horn and Kroening): a history of independent objects is linearizable
//! if and only if each object's sub-history is. Partitions are checked one after another, the
//! smallest first (a violation in a small partition is found fastest), ties broken by key; the
//! first violation ends the check, and its evidence is exact within its partition: the stuck
//! operation's completion is the first that no order of that partition gets past. The step
//! budget applies to each partition, so the verdict never depends on the order partitions are
//! checked in, or on how many threads run them.

use crate::error::HistoryError;
use crate::history::{History, Op, Value};
use crate::model::Model;
use crate::operation::{pair_ops, Completion, Operation, Operations, Pairer, Span};
pub use crate::search::Exhausted;
use crate::search::{prunes_evidence, search, Evidence, Limits, SearchOp, SearchOutcome, Usage};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Options of a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckOptions {
    /// Most model steps the search may take in one partition before it answers `Unknown`.
    pub budget: u64,
    /// Most bytes the search's own structures may hold for one partition before it answers
    /// `Unknown`. Counted from the structures' lengths, not measured, so the verdict is the
    /// same on every machine; the process needs somewhat more (the history, the result, and
    /// one search per thread with [`check_parallel`]).
    pub memory: u64,
}

/// The default memory limit: 1 GiB, which fits a laptop.
pub const DEFAULT_MEMORY_LIMIT: u64 = 1 << 30;

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            budget: 100_000_000,
            memory: DEFAULT_MEMORY_LIMIT,
        }
    }
}

/// Reads a memory size: a byte count (`1073741824`) or a number with a unit: `B`, `KiB`, `MiB`,
/// `GiB`, `TiB` (powers of 1024) or `kB`, `MB`, `GB`, `TB` (powers of 1000), as in `1GiB` or
/// `512 MiB`.
///
/// ```
/// assert_eq!(check::parse_memory("1GiB"), Ok(1 << 30));
/// assert_eq!(check::parse_memory("1500 MB"), Ok(1_500_000_000));
/// assert!(check::parse_memory("lots").is_err());
/// ```
pub fn parse_memory(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("expected a size such as 1GiB or a byte count, found {text:?}"))?;
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        other => {
            let expected = "B, KiB, MiB, GiB, TiB, kB, MB, GB or TB";
            return Err(format!(
                "unknown unit {other:?} in {text:?} (expected {expected})"
            ));
        }
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// The three verdicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Some order of the operations respects real time and the model.
    Linearizable,
    /// No such order exists.
    NotLinearizable,
    /// The step budget ran out before an answer.
    Unknown,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Linearizable => "linearizable",
            Verdict::NotLinearizable => "NOT linearizable",
            Verdict::Unknown => "unknown",
        })
    }
}

/// The linearization found for one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    /// The partition's key (`None` for a history without keys).
    pub key: Option<Value>,
    /// Operations in linearization order, as indices into [`CheckResult::operations`].
    /// Indeterminate operations appear only if the search placed them.
    pub order: Vec<usize>,
}

/// Evidence that a history is not linearizable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The partition's key.
    pub key: Option<Value>,
    /// The operation that cannot be placed (index into [`CheckResult::operations`]): in every
    /// order of the operations before it, it completed before it could take effect.
    pub operation: usize,
    /// The state it met in the configuration that got furthest (described by the model).
    pub state: String,
    /// The longest linearizable prefix found: operations (indices into
    /// [`CheckResult::operations`]) in order, with the state after each.
    pub prefix: Vec<(usize, String)>,
}

/// The result of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    /// The verdict.
    pub verdict: Verdict,
    /// The history's client operations, in order of invocation: where each is in
    /// `History::ops` and how it ended. Witnesses and evidence refer to them by index.
    pub operations: Vec<Span>,
    /// The operations the evidence names (the stuck one and the prefix), in full, by index
    /// into `operations`: only these are kept whole, so a long history's check holds a few
    /// words per operation, not its values.
    pub named: BTreeMap<usize, Operation>,
    /// Positions in `History::ops` of entries by non-client processes (fault annotations).
    pub annotations: Vec<usize>,
    /// How many operations the search considered (failed ones the model drops are not).
    pub checked_count: usize,
    /// How many partitions the history has.
    pub partition_count: usize,
    /// Model steps tried, over all partitions searched.
    pub steps: u64,
    /// For a linearizable history: one order per partition, in key order.
    pub witness: Vec<Witness>,
    /// For a history that is not linearizable: the evidence.
    pub violation: Option<Violation>,
    /// Keys of partitions whose search ran out of budget or memory.
    pub unknown: Vec<Option<Value>>,
    /// For an unknown verdict: the limit that ran out (memory, if both did in some partition).
    pub exhausted: Option<Exhausted>,
    /// The most bytes the search's structures held at once, over the partitions searched (the
    /// deterministic count the memory limit applies to).
    pub peak_memory: u64,
}

impl CheckResult {
    /// Position in `History::ops` of the invocation of the operation that cannot be placed.
    pub fn stuck_entry(&self) -> Option<usize> {
        self.violation
            .as_ref()
            .map(|violation| self.operations[violation.operation].invoke)
    }

    /// Operation `index` in full, if the evidence names it (see [`CheckResult::named`]).
    pub fn operation(&self, index: usize) -> Option<&Operation> {
        self.named.get(&index)
    }
}

/// Checks a history against `model`, partitioned by the model's keys.
///
/// ```
/// use check::{check, CasRegister, CheckOptions, Verdict};
/// use check::history::{History, Op, OpType, Process, Value};
///
/// let op = |index: u64, kind, function: &str, value| Op {
///     index, kind, process: Process::Client(0), function: function.to_string().into(),
///     key: None, value, time: index, error: None,
/// };
/// let history = History { ops: vec![
///     op(0, OpType::Invoke, "write", Value::Int(1)),
///     op(1, OpType::Ok, "write", Value::Int(1)),
///     op(2, OpType::Invoke, "read", Value::Nil),
///     op(3, OpType::Ok, "read", Value::Int(2)),
/// ]};
/// let result = check(&history, &CasRegister::new(Value::Nil), &CheckOptions::default()).unwrap();
/// assert_eq!(result.verdict, Verdict::NotLinearizable);
/// assert_eq!(result.stuck_entry(), Some(2));
/// ```
pub fn check<M: Model>(
    history: &History,
    model: &M,
    options: &CheckOptions,
) -> Result<CheckResult, HistoryError> {
    // The history is in memory whole already: its operations are paired at once (which costs
    // about what the history does), and those a violation names are at hand.
    let Operations {
        operations,
        annotations,
    } = pair_ops(history.ops.iter(), history.ops.len())?;
    check_operations(operations, annotations, model, options)
}

/// Checks a history given as a stream of entries in order (`entries` starts it afresh: it is
/// read once, and once more only to show the operations a violation names; `len` is how many
/// entries there are, for reserving room). Each operation is prepared by the model as soon as
/// it completes, so only the open ones are ever held whole: a caller that keeps its history in
/// another form (the simulator's compact recorder) is checked without building a [`History`]
/// or a list of [`Operation`]s. The result is [`check`]'s.
pub fn check_entries<'h, M, I>(
    entries: impl Fn() -> I,
    len: usize,
    model: &M,
    options: &CheckOptions,
) -> Result<CheckResult, HistoryError>
where
    M: Model,
    I: Iterator<Item = Cow<'h, Op>>,
{
    let prepared = prepare(&entries, len, model)?;
    Ok(check_prepared(prepared, model, options, |wanted, _| {
        named_in(entries(), len, wanted)
    }))
}

/// Checks operations the caller paired: `spans` and `annotations` as [`Operations`] would
/// give them, and `completed` each operation once, whole, numbered by its place in `spans`, in
/// any order (as they complete, so that the caller never holds them all). `name` gives the
/// operations a violation names (by number, with the spans), in full, again. The result is [`check`]'s for the same
/// history; a model error is the first in the order given (the caller may want to pair the
/// plain way for the first in order of invocation).
pub fn check_completed<M: Model>(
    spans: Vec<Span>,
    annotations: Vec<usize>,
    completed: impl Iterator<Item = (usize, Operation)>,
    model: &M,
    options: &CheckOptions,
    name: impl FnOnce(&BTreeSet<usize>, &[Span]) -> BTreeMap<usize, Operation>,
) -> Result<CheckResult, HistoryError> {
    let mut partitions = Partitions::new();
    for (number, operation) in completed {
        partitions.add(model, number, &operation)?;
    }
    let prepared = Prepared {
        spans,
        annotations,
        partitions: partitions.finish(),
        operations: None,
    };
    Ok(check_prepared(prepared, model, options, name))
}

/// Searches the partitions one after another, the smallest first, up to the first violation.
fn check_prepared<M: Model>(
    prepared: Prepared<M::Op>,
    model: &M,
    options: &CheckOptions,
    name: impl FnOnce(&BTreeSet<usize>, &[Span]) -> BTreeMap<usize, Operation>,
) -> CheckResult {
    let order = check_order(&prepared.partitions);
    let mut outcomes = Vec::with_capacity(order.len());
    for &i in &order {
        let outcome = check_partition(model, &prepared.partitions[i], options, &|| false);
        let violation = matches!(outcome.0, SearchOutcome::NotLinearizable(_));
        outcomes.push(outcome);
        if violation {
            // The first violation found ends the check: refuting a partition can take far
            // longer than finding the first one (Porcupine stops there too).
            break;
        }
    }
    merge(prepared, &order, outcomes, name)
}

/// One partition: its key and its operations (indices into the operations).
struct Partition<O> {
    key: Option<Value>,
    members: Vec<usize>,
    ops: Vec<SearchOp<O>>,
}

/// A history's operations, prepared by the model and partitioned.
struct Prepared<O> {
    spans: Vec<Span>,
    annotations: Vec<usize>,
    partitions: Vec<Partition<O>>,
    /// The whole operations, when the caller gave them (see [`check_operations`]).
    operations: Option<Vec<Operation>>,
}

/// Partitions as their first operations come, each holding its operations in order of
/// invocation; found by a scan while they are few (a run's handful of keys), else by a map.
struct Partitions<O> {
    parts: Vec<Partition<O>>,
    by_key: BTreeMap<Option<Value>, usize>,
}

/// Partitions found by a scan of their keys rather than the map.
const PARTITIONS_SCANNED: usize = 8;
/// How far back among its partition's operations one that completed late is put at once.
const INSERTED_BACK_MAX: usize = 64;

impl<O> Partitions<O> {
    fn new() -> Self {
        Partitions {
            parts: Vec::new(),
            by_key: BTreeMap::new(),
        }
    }

    fn find(&mut self, key: Option<Value>) -> &mut Partition<O> {
        let found = if self.parts.len() <= PARTITIONS_SCANNED {
            self.parts.iter().position(|part| part.key == key)
        } else {
            self.by_key.get(&key).copied()
        };
        let at = match found {
            Some(at) => at,
            None => {
                self.by_key.insert(key.clone(), self.parts.len());
                self.parts.push(Partition {
                    key,
                    members: Vec::new(),
                    ops: Vec::new(),
                });
                self.parts.len() - 1
            }
        };
        &mut self.parts[at]
    }

    /// Prepares operation `number` and adds it to its partition (unless the model drops it).
    fn add<M: Model<Op = O>>(
        &mut self,
        model: &M,
        number: usize,
        operation: &Operation,
    ) -> Result<(), HistoryError> {
        let prepared = if operation.completion == Completion::Fail {
            model.prepare_failed(operation)
        } else {
            model.prepare(operation).map(Some)
        };
        let prepared = prepared.map_err(|message| HistoryError::Model {
            index: operation.invoke,
            model: model.name().to_string(),
            message,
        })?;
        let Some(op) = prepared else {
            return Ok(());
        };
        let partition = self.find(model.partition_key(operation));
        let ret = match operation.completion {
            Completion::Ok | Completion::Fail => operation.complete,
            Completion::Info | Completion::Open => None,
        };
        let op = SearchOp {
            op,
            call: operation.invoke,
            ret,
        };
        // Operations come as they complete: an operation overtaken by a few shorter ones goes
        // back among them at once (a short move); one overtaken by many waits for the sort in
        // `finish`.
        let members = &mut partition.members;
        let at = members.len()
            - members
                .iter()
                .rev()
                .take(INSERTED_BACK_MAX + 1)
                .take_while(|&&member| member > number)
                .count();
        if members.len() - at <= INSERTED_BACK_MAX {
            members.insert(at, number);
            partition.ops.insert(at, op);
        } else {
            members.push(number);
            partition.ops.push(op);
        }
        Ok(())
    }

    /// The partitions in key order, each in order of invocation (operations added as they
    /// completed are put back in that order).
    fn finish(self) -> Vec<Partition<O>> {
        let mut parts = self.parts;
        parts.sort_by(|a, b| a.key.cmp(&b.key));
        parts
            .into_iter()
            .map(|mut partition| {
                if !partition.members.is_sorted() {
                    let mut order: Vec<usize> = (0..partition.members.len()).collect();
                    order.sort_unstable_by_key(|&i| partition.members[i]);
                    let mut ops: Vec<Option<SearchOp<O>>> =
                        partition.ops.drain(..).map(Some).collect();
                    partition.ops = order
                        .iter()
                        .map(|&i| ops[i].take().expect("each once"))
                        .collect();
                    partition.members = order.iter().map(|&i| partition.members[i]).collect();
                }
                partition
            })
            .collect()
    }
}

fn partitions<M: Model>(
    operations: &[Operation],
    model: &M,
) -> Result<Vec<Partition<M::Op>>, HistoryError> {
    let mut partitions = Partitions::new();
    for (index, operation) in operations.iter().enumerate() {
        partitions.add(model, index, operation)?;
    }
    Ok(partitions.finish())
}

/// Pairs and prepares a stream of entries, holding only the open operations whole. A history
/// that does not pair, or that the model rejects, is read again the plain way, for the error
/// that way gives (the first in order of invocation, pairing errors before the model's).
fn prepare<'h, M, I>(
    entries: &impl Fn() -> I,
    len: usize,
    model: &M,
) -> Result<Prepared<M::Op>, HistoryError>
where
    M: Model,
    I: Iterator<Item = Cow<'h, Op>>,
{
    let mut pairer = Pairer::new(len);
    let mut streamed = Partitions::new();
    let mut clean = true;
    for (index, op) in entries().enumerate() {
        match pairer.feed(index, op) {
            Ok(None) => {}
            Ok(Some((number, operation))) => {
                if streamed.add(model, number, &operation).is_err() {
                    clean = false;
                    break;
                }
            }
            Err(_) => {
                clean = false;
                break;
            }
        }
    }
    if clean {
        for (number, operation) in pairer.open() {
            if streamed.add(model, number, &operation).is_err() {
                clean = false;
                break;
            }
        }
    }
    if clean {
        return Ok(Prepared {
            spans: pairer.spans,
            annotations: pairer.annotations,
            partitions: streamed.finish(),
            operations: None,
        });
    }
    let Operations {
        operations,
        annotations,
    } = pair_ops(entries(), len)?;
    let partitions = partitions(&operations, model)?;
    Ok(Prepared {
        spans: operations.iter().map(Operation::span).collect(),
        annotations,
        partitions,
        operations: Some(operations),
    })
}

/// The operations numbered in `wanted`, in full, paired again from the entries.
fn named_in<'h>(
    entries: impl Iterator<Item = Cow<'h, Op>>,
    len: usize,
    wanted: &BTreeSet<usize>,
) -> BTreeMap<usize, Operation> {
    let mut named = BTreeMap::new();
    if wanted.is_empty() {
        return named;
    }
    let mut pairer = Pairer::wanting(len, wanted.clone());
    for (index, op) in entries.enumerate() {
        match pairer.feed(index, op) {
            Ok(Some((number, operation))) if wanted.contains(&number) => {
                named.insert(number, operation);
            }
            Ok(_) => {}
            Err(_) => unreachable!("the history paired the first time"),
        }
    }
    for (number, operation) in pairer.open() {
        if wanted.contains(&number) {
            named.insert(number, operation);
        }
    }
    named
}

/// Checks operations already paired (see [`crate::operation::pair`]).
pub fn check_operations<M: Model>(
    operations: Vec<Operation>,
    annotations: Vec<usize>,
    model: &M,
    options: &CheckOptions,
) -> Result<CheckResult, HistoryError> {
    let prepared = Prepared {
        spans: operations.iter().map(Operation::span).collect(),
        annotations,
        partitions: partitions(&operations, model)?,
        operations: Some(operations),
    };
    Ok(check_prepared(prepared, model, options, |_, _| {
        unreachable!("the operations are given")
    }))
}

/// Like [`check`], with independent partitions checked on `threads` threads. The result is
/// identical to [`check`]'s, steps included: a partition is abandoned only once a violation is
/// found in a partition that comes before it in the sequential order, which the sequential
/// check would have stopped at.
pub fn check_parallel<M>(
    history: &History,
    model: &M,
    options: &CheckOptions,
    threads: usize,
) -> Result<CheckResult, HistoryError>
where
    M: Model + Sync,
    M::Op: Send + Sync,
{
    if threads <= 1 {
        return check(history, model, options);
    }
    let Operations {
        operations,
        annotations,
    } = pair_ops(history.ops.iter(), history.ops.len())?;
    let prepared = Prepared {
        spans: operations.iter().map(Operation::span).collect(),
        annotations,
        partitions: partitions(&operations, model)?,
        operations: Some(operations),
    };
    let partitions = &prepared.partitions;
    let order = check_order(partitions);
    let next = AtomicUsize::new(0);
    let first_violation = AtomicUsize::new(usize::MAX);
    let slots: Vec<Mutex<Option<(SearchOutcome, Usage)>>> =
        order.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads.min(order.len()) {
            scope.spawn(|| loop {
                let rank = next.fetch_add(1, Ordering::SeqCst);
                if rank >= order.len() {
                    break;
                }
                if first_violation.load(Ordering::SeqCst) < rank {
                    continue;
                }
                let cancelled = || first_violation.load(Ordering::SeqCst) < rank;
                let outcome = check_partition(model, &partitions[order[rank]], options, &cancelled);
                if matches!(outcome.0, SearchOutcome::NotLinearizable(_)) {
                    first_violation.fetch_min(rank, Ordering::SeqCst);
                }
                *slots[rank]
                    .lock()
                    .expect("no worker panics while holding it") = Some(outcome);
            });
        }
    });
    // Every partition before the first violation ran to its end (nothing cancelled it), so
    // taking results in order up to that violation is exactly what the sequential check sees.
    let mut outcomes = Vec::with_capacity(order.len());
    for slot in slots {
        let outcome = slot
            .into_inner()
            .expect("no worker panicked")
            .expect("partitions before the first violation all ran");
        let violation = matches!(outcome.0, SearchOutcome::NotLinearizable(_));
        outcomes.push(outcome);
        if violation {
            break;
        }
    }
    Ok(merge(prepared, &order, outcomes, |_, _| {
        unreachable!("the operations are at hand")
    }))
}

/// Smallest first, then key order (`sort_by_key` is stable over the key-ordered partitions).
fn check_order<O>(partitions: &[Partition<O>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..partitions.len()).collect();
    order.sort_by_key(|&i| partitions[i].ops.len());
    order
}

/// Searches one partition; a violation is searched again with exact evidence.
fn check_partition<M: Model>(
    model: &M,
    partition: &Partition<M::Op>,
    options: &CheckOptions,
    cancelled: &dyn Fn() -> bool,
) -> (SearchOutcome, Usage) {
    let limits = Limits {
        budget: options.budget,
        memory: options.memory,
    };
    let mut usage = Usage::default();
    let mut outcome = search(
        model,
        &partition.ops,
        limits,
        &mut usage,
        Evidence::Fast,
        cancelled,
    );
    if (usage.inexact || prunes_evidence(model, &partition.ops))
        && matches!(outcome, SearchOutcome::NotLinearizable(_))
    {
        // The verdict is certain; search again, with exact evidence (see `Evidence`). Nothing
        // can cancel it: no partition before this one has a violation. The exact search prunes
        // less; it gets a few times the steps the fast one took, and if it needs more, the
        // fast search's evidence stands.
        let mut exact_usage = Usage::default();
        let exact_budget = options
            .budget
            .min(usage.steps.saturating_mul(4).max(1_000_000));
        let exact = search(
            model,
            &partition.ops,
            Limits {
                budget: exact_budget,
                memory: options.memory,
            },
            &mut exact_usage,
            Evidence::Exact,
            &|| false,
        );
        usage.steps += exact_usage.steps;
        usage.peak_memory = usage.peak_memory.max(exact_usage.peak_memory);
        match exact {
            SearchOutcome::NotLinearizable(_) => outcome = exact,
            SearchOutcome::Linearizable(_) | SearchOutcome::Cancelled => {
                panic!("the two searches disagree: a bug in the pruning")
            }
            // Out of budget or memory: keep the fast search's (valid, maybe not furthest)
            // evidence.
            SearchOutcome::Unknown(_) => {}
        }
    }
    (outcome, usage)
}

/// The result from the outcomes of the partitions, in checking order, up to the first
/// violation. `name` gives the operations a violation names, in full, when the caller did not
/// give them all.
fn merge<O>(
    prepared: Prepared<O>,
    order: &[usize],
    outcomes: Vec<(SearchOutcome, Usage)>,
    name: impl FnOnce(&BTreeSet<usize>, &[Span]) -> BTreeMap<usize, Operation>,
) -> CheckResult {
    let Prepared {
        spans,
        annotations,
        partitions,
        operations,
    } = prepared;
    let mut result = CheckResult {
        verdict: Verdict::Linearizable,
        checked_count: partitions.iter().map(|p| p.ops.len()).sum(),
        partition_count: partitions.len(),
        operations: spans,
        named: BTreeMap::new(),
        annotations,
        steps: 0,
        witness: Vec::new(),
        violation: None,
        unknown: Vec::new(),
        exhausted: None,
        peak_memory: 0,
    };
    let mut witnesses: Vec<Option<Witness>> = vec![None; partitions.len()];
    for (&i, (outcome, usage)) in order.iter().zip(outcomes) {
        let partition = &partitions[i];
        result.steps += usage.steps;
        result.peak_memory = result.peak_memory.max(usage.peak_memory);
        match outcome {
            SearchOutcome::Linearizable(order) => {
                witnesses[i] = Some(Witness {
                    key: partition.key.clone(),
                    order: order.into_iter().map(|op| partition.members[op]).collect(),
                });
            }
            SearchOutcome::Unknown(limit) => {
                result.unknown.push(partition.key.clone());
                result.exhausted = result.exhausted.max(Some(limit));
            }
            SearchOutcome::Cancelled => {
                panic!("a partition before the first violation was cancelled")
            }
            SearchOutcome::NotLinearizable(stuck) => {
                result.violation = Some(Violation {
                    key: partition.key.clone(),
                    operation: partition.members[stuck.op],
                    state: stuck.state,
                    prefix: stuck
                        .prefix
                        .into_iter()
                        .map(|(op, state)| (partition.members[op], state))
                        .collect(),
                });
                break;
            }
        }
    }
    if let Some(violation) = &result.violation {
        result.verdict = Verdict::NotLinearizable;
        let wanted: BTreeSet<usize> = std::iter::once(violation.operation)
            .chain(violation.prefix.iter().map(|(operation, _)| *operation))
            .collect();
        result.named = match operations {
            Some(operations) => operations
                .into_iter()
                .enumerate()
                .filter(|(i, _)| wanted.contains(i))
                .collect(),
            None => name(&wanted, &result.operations),
        };
    } else if !result.unknown.is_empty() {
        result.verdict = Verdict::Unknown;
    } else {
        result.witness = witnesses.into_iter().flatten().collect();
    }
    result
}

/// A readable account of a verdict: for a violation, the operation that cannot be placed, the
/// state it met and the longest linearizable prefix.
pub fn explain(result: &CheckResult) -> String {
    let mut out = String::new();
    let key_text = |key: &Option<Value>| match key {
        Some(key) => format!(" (key {key})"),
        None => String::new(),
    };
    match (&result.verdict, &result.violation) {
        (Verdict::NotLinearizable, Some(violation)) => {
            let stuck = &result.named[&violation.operation];
            let _ = writeln!(
                out,
                "not linearizable{}: this operation cannot be placed:",
                key_text(&violation.key)
            );
            let _ = writeln!(out, "  {stuck}");
            let _ = writeln!(
                out,
                "it completed before it could take effect in any order of the operations before \
                 it; the order that got furthest leaves the state at {}, where it is illegal.",
                violation.state
            );
            let count = violation.prefix.len();
            let _ = writeln!(
                out,
                "longest linearizable prefix ({count} operation{}):",
                if count == 1 { "" } else { "s" }
            );
            for (position, (operation, state)) in violation.prefix.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "  {:>3}. {}  => {state}",
                    position + 1,
                    result.named[operation]
                );
            }
        }
        (Verdict::Unknown, _) => {
            let keys: Vec<String> = result
                .unknown
                .iter()
                .map(|key| {
                    key.as_ref()
                        .map_or("(no key)".to_string(), Value::to_string)
                })
                .collect();
            let limit = match result.exhausted {
                Some(Exhausted::Memory) => "the memory limit was reached",
                _ => "the step budget ran out",
            };
            let _ = writeln!(
                out,
                "unknown: {limit} in {} partition(s): {}",
                keys.len(),
                keys.join(", ")
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "linearizable: {} operations in {} partition(s)",
                result.checked_count, result.partition_count
            );
        }
    }
    out
}
