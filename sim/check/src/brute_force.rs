//! A checker that tries every order: exponential, for differential tests on small histories.
//!
//! It shares nothing with the search but the model and the pairing: no entry list, no cache, no
//! partitioning (the state is a map from key to the model's state), so agreeing with it is real
//! evidence that the fast checker is right.

use crate::error::HistoryError;
use crate::history::{History, Value};
use crate::model::Model;
use crate::operation::{pair, Completion};
use std::collections::BTreeMap;

/// Operations this checker accepts at most (orders grow as the factorial).
pub const OPERATIONS_MAX: usize = 10;

struct Candidate<O> {
    key: Option<Value>,
    op: O,
    call: usize,
    /// `None` for indeterminate operations: they may be placed or left out.
    ret: Option<usize>,
}

/// Whether some order of the operations respects real time and the model. Panics if the
/// history has more than [`OPERATIONS_MAX`] operations.
pub fn is_linearizable<M: Model>(history: &History, model: &M) -> Result<bool, HistoryError> {
    let candidates = candidates(history, model)?;
    let mut placed = vec![false; candidates.len()];
    Ok(place(
        model,
        &candidates,
        &mut placed,
        &BTreeMap::new(),
        &mut 0,
    ))
}

/// For a history that is not linearizable, the position (in `History::ops`) of the first
/// completion that no order gets past: the furthest any legal prefix reaches, where a prefix
/// reaches the earliest completion among the operations it leaves out. `None` when the history
/// is linearizable.
pub fn furthest_completion<M: Model>(
    history: &History,
    model: &M,
) -> Result<Option<usize>, HistoryError> {
    let candidates = candidates(history, model)?;
    let mut placed = vec![false; candidates.len()];
    let mut furthest = 0;
    let found = place(
        model,
        &candidates,
        &mut placed,
        &BTreeMap::new(),
        &mut furthest,
    );
    Ok((!found).then_some(furthest))
}

fn candidates<M: Model>(
    history: &History,
    model: &M,
) -> Result<Vec<Candidate<M::Op>>, HistoryError> {
    let operations = pair(history)?.operations;
    let mut candidates = Vec::new();
    for operation in &operations {
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
        if let Some(op) = prepared {
            candidates.push(Candidate {
                key: model.partition_key(operation),
                op,
                call: operation.invoke,
                ret: match operation.completion {
                    Completion::Ok | Completion::Fail => operation.complete,
                    _ => None,
                },
            });
        }
    }
    assert!(
        candidates.len() <= OPERATIONS_MAX,
        "brute force is for small histories"
    );
    Ok(candidates)
}

fn place<M: Model>(
    model: &M,
    candidates: &[Candidate<M::Op>],
    placed: &mut [bool],
    states: &BTreeMap<Option<Value>, M::State>,
    furthest: &mut usize,
) -> bool {
    let unplaced_required = |i: usize, placed: &[bool]| !placed[i] && candidates[i].ret.is_some();
    let due = (0..candidates.len())
        .filter(|&i| unplaced_required(i, placed))
        .filter_map(|i| candidates[i].ret)
        .min();
    let Some(due) = due else {
        return true;
    };
    *furthest = (*furthest).max(due);
    for next in 0..candidates.len() {
        if placed[next] {
            continue;
        }
        // Real time: nothing may go before an operation that completed before it was invoked.
        let blocked = (0..candidates.len()).any(|other| {
            unplaced_required(other, placed)
                && other != next
                && candidates[other]
                    .ret
                    .is_some_and(|ret| ret < candidates[next].call)
        });
        if blocked {
            continue;
        }
        let candidate = &candidates[next];
        let state = states
            .get(&candidate.key)
            .cloned()
            .unwrap_or_else(|| model.init());
        let Some(after) = model.step(&state, &candidate.op) else {
            continue;
        };
        let mut states = states.clone();
        states.insert(candidate.key.clone(), after);
        placed[next] = true;
        let found = place(model, candidates, placed, &states, furthest);
        placed[next] = false;
        if found {
            return true;
        }
    }
    false
}
