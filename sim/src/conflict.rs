//! The operations a non-linearizable operation conflicts with.
//!
//! The checker names the operation that cannot be placed (the "stuck" one). A reader also needs
//! to know *why*: for a stale read, the write whose value it should have seen; for a lost write,
//! the write a later read missed. This module finds them by asking the checker again on smaller
//! histories: take the operations of the stuck one's key invoked before it completed (the
//! history the stuck operation's fate depends on), and find a set of other operations whose
//! removal makes that history linearizable, then make the set 1-minimal (putting back any one of
//! them makes the history non-linearizable again). The set is the conflict; by construction the
//! claim "without these operations, the history up to the stuck one is linearizable" holds,
//! and each named operation is necessary for the violation.
//!
//! Some violations have no such set: a counter read above the sum of every increment is
//! illegal whatever is removed. Then the conflict is empty and only the stuck operation is named.

use crate::check::CheckOptions;
use crate::history::{Op, OpType, Process, Value};
use crate::recorder::RecordedHistory;
use crate::workload::{Judgement, Workload};

/// Most operations the search considers removing; the history before a stuck operation of a
/// shrunk run is far smaller, and an unshrunk one is not worth more checks.
const CANDIDATES_MAX: usize = 96;

/// Most checks one search may run.
const CHECKS_MAX: usize = 400;

/// One client operation of a history: its invocation and (if any) completion entry positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// Position of the invocation in the history.
    pub invoke: usize,
    /// Position of the completion, if the operation completed.
    pub complete: Option<usize>,
}

/// Every client operation of `history`, in order of invocation.
pub fn spans(history: &RecordedHistory) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::new();
    // Per process, the operation it has open.
    let mut open: std::collections::BTreeMap<u64, usize> = std::collections::BTreeMap::new();
    for (position, op) in history.ops().enumerate() {
        let Process::Client(process) = op.process else {
            continue;
        };
        if op.kind == OpType::Invoke {
            open.insert(process, spans.len());
            spans.push(Span {
                invoke: position,
                complete: None,
            });
        } else if let Some(span) = open.remove(&process) {
            spans[span].complete = Some(position);
        }
    }
    spans
}

/// The operations (as history positions of their invocations) that the operation invoked at
/// `stuck_invoke` conflicts with: a 1-minimal set whose removal makes the history up to the
/// stuck operation's completion linearizable. Empty when no such set is found within the
/// search's limits.
pub fn conflicting_operations<W: Workload>(
    history: &RecordedHistory,
    workload: &W,
    options: &CheckOptions,
    stuck_invoke: usize,
) -> Vec<usize> {
    let spans = spans(history);
    let Some(stuck) = spans.iter().find(|s| s.invoke == stuck_invoke).copied() else {
        return Vec::new();
    };
    let Some(stuck_complete) = stuck.complete else {
        return Vec::new();
    };
    let ops: Vec<Op> = history.ops().collect();
    let horizon = ops[stuck_complete].time;
    let key = ops[stuck.invoke].key.clone();
    // The operations of the stuck one's key invoked by the time it completed.
    let relevant: Vec<Span> = spans
        .iter()
        .filter(|s| ops[s.invoke].time <= horizon && ops[s.invoke].key == key)
        .copied()
        .collect();
    let end_of = |span: &Span| {
        span.complete
            .filter(|&c| ops[c].time <= horizon)
            .map_or(u64::MAX, |c| ops[c].time)
    };
    let mut candidates: Vec<Span> = relevant
        .iter()
        .filter(|s| s.invoke != stuck.invoke)
        .copied()
        .collect();
    // Most recent completions first: the stuck operation's conflict is usually just before it.
    candidates.sort_by_key(|s| (std::cmp::Reverse(end_of(s)), std::cmp::Reverse(s.invoke)));
    candidates.truncate(CANDIDATES_MAX);
    let mut checks = 0usize;
    let mut linearizable_without = |removed: &[usize]| -> Option<bool> {
        if checks >= CHECKS_MAX {
            return None;
        }
        checks += 1;
        let sub = sub_history(&ops, &relevant, removed, horizon);
        match workload.check(&sub, options).ok()?.judgement {
            Judgement::Valid => Some(true),
            Judgement::Violation { .. } => Some(false),
            Judgement::Unknown { .. } => None,
        }
    };
    if linearizable_without(&[]) != Some(false) {
        return Vec::new();
    }
    // One operation alone, most recent first: the commonest conflict.
    for candidate in &candidates {
        match linearizable_without(&[candidate.invoke]) {
            Some(true) => return vec![candidate.invoke],
            Some(false) => {}
            None => return Vec::new(),
        }
    }
    // Otherwise remove candidates, most recent first, until the rest is linearizable; an
    // operation that wrote the value the stuck one returned is its source, never its conflict.
    let returned = ops[stuck_complete].value.clone();
    let mut removed: Vec<usize> = Vec::new();
    let mut fixed = false;
    for candidate in &candidates {
        let invoke = &ops[candidate.invoke];
        if invoke.function != "read" && invoke.value == returned && returned != Value::Nil {
            continue;
        }
        removed.push(candidate.invoke);
        match linearizable_without(&removed) {
            Some(true) => {
                fixed = true;
                break;
            }
            Some(false) => {}
            None => return Vec::new(),
        }
    }
    if !fixed {
        return Vec::new();
    }
    // 1-minimal: put back each removed operation whose absence is not needed.
    let mut index = 0;
    while index < removed.len() {
        let mut trial = removed.clone();
        trial.remove(index);
        match linearizable_without(&trial) {
            Some(true) => removed = trial,
            Some(false) => index += 1,
            None => break,
        }
    }
    removed.sort_unstable();
    removed
}

/// The history of `relevant` operations minus those invoked at `removed`, cut at `horizon`
/// (completions after it are left out: those operations are still pending there).
fn sub_history(ops: &[Op], relevant: &[Span], removed: &[usize], horizon: u64) -> RecordedHistory {
    let mut positions: Vec<usize> = Vec::with_capacity(relevant.len() * 2);
    for span in relevant.iter().filter(|s| !removed.contains(&s.invoke)) {
        positions.push(span.invoke);
        if let Some(complete) = span.complete.filter(|&c| ops[c].time <= horizon) {
            positions.push(complete);
        }
    }
    positions.sort_unstable();
    let mut sub = RecordedHistory::with_capacity(positions.len());
    for (index, &position) in positions.iter().enumerate() {
        let mut op = ops[position].clone();
        op.index = index as u64;
        sub.push_op(op);
    }
    sub
}

/// Whether the history without the operations invoked at `removed`, up to the completion of the
/// operation invoked at `stuck_invoke`, is linearizable: the claim a conflict makes, checked
/// on its own (tests use it to show a named conflict is real).
pub fn linearizable_without<W: Workload>(
    history: &RecordedHistory,
    workload: &W,
    options: &CheckOptions,
    stuck_invoke: usize,
    removed: &[usize],
) -> Option<bool> {
    let spans = spans(history);
    let stuck = spans.iter().find(|s| s.invoke == stuck_invoke)?;
    let ops: Vec<Op> = history.ops().collect();
    let horizon = ops[stuck.complete?].time;
    let key = ops[stuck.invoke].key.clone();
    let relevant: Vec<Span> = spans
        .iter()
        .filter(|s| ops[s.invoke].time <= horizon && ops[s.invoke].key == key)
        .copied()
        .collect();
    let sub = sub_history(&ops, &relevant, removed, horizon);
    match workload.check(&sub, options).ok()?.judgement {
        Judgement::Valid => Some(true),
        Judgement::Violation { .. } => Some(false),
        Judgement::Unknown { .. } => None,
    }
}
