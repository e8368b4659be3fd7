//! The checker most workloads use: linearizability of the history against a `check` model.
//!
//! The search (Wing–Gong–Lowe with per-key partitioning, a cache and a step budget) lives in the
//! `check` crate, which sees only histories; this module turns its result into a
//! [`Judgement`] the run's verdict folds in.

use super::{HistoryCheck, Judgement};
use crate::check::{self, CheckOptions, CheckResult, Model};
use crate::recorder::RecordedHistory;
use std::borrow::Cow;

/// Prefix entries quoted in a verdict's detail; the full explanation goes with the run data.
const PREFIX_QUOTED: usize = 6;

/// Checks `history` against `model` within the step and memory budgets of `options`. The
/// history is paired into operations straight from its compact form, one entry at a time, and
/// each operation is prepared for the model as it completes (see [`check::check_entries`]).
pub fn judge<M: Model>(
    history: &RecordedHistory,
    model: &M,
    options: &CheckOptions,
) -> Result<HistoryCheck, String> {
    let entries = || (0..history.len()).map(|index| Cow::Owned(history.op_for_check(index)));
    let result = check::check_entries(entries, history.len(), model, options)
        .map_err(|error| error.to_string())?;
    let explanation = check::explain(&result);
    let judgement = match result.verdict {
        check::Verdict::Linearizable => Judgement::Valid,
        check::Verdict::NotLinearizable => Judgement::Violation {
            property: "linearizability".to_string(),
            detail: concise(&result),
            stuck_entry: result.stuck_entry().map(|entry| entry as u64),
            time: stuck_time(&result, history),
        },
        check::Verdict::Unknown => Judgement::Unknown {
            detail: match result.exhausted {
                Some(check::Exhausted::Memory) => format!(
                    "the linearizability checker reached its memory limit of {} bytes: {}",
                    options.memory,
                    explanation.trim()
                ),
                _ => format!(
                    "the linearizability checker spent its budget of {} steps: {}",
                    options.budget,
                    explanation.trim()
                ),
            },
        },
    };
    Ok(HistoryCheck {
        judgement,
        explanation,
    })
}

/// When the violation became observable: the completion of the operation that cannot be placed.
fn stuck_time(result: &CheckResult, history: &RecordedHistory) -> Option<u64> {
    let violation = result.violation.as_ref()?;
    let operation = &result.operations[violation.operation];
    let entry = operation.complete.unwrap_or(operation.invoke);
    (entry < history.len()).then(|| history.time(entry))
}

fn concise(result: &CheckResult) -> String {
    let Some(violation) = &result.violation else {
        return "not linearizable".to_string();
    };
    let key = violation
        .key
        .as_ref()
        .map_or(String::new(), |key| format!(" on key {key}"));
    let stuck = &result.named[&violation.operation];
    let count = violation.prefix.len();
    let quoted: Vec<String> = violation
        .prefix
        .iter()
        .skip(count.saturating_sub(PREFIX_QUOTED))
        .map(|(operation, state)| format!("{} => {state}", result.named[operation]))
        .collect();
    format!(
        "not linearizable{key}: no order places [{stuck}]: it meets the state {} where it is \
         illegal; the longest linearizable prefix has {count} operations, ending: {}",
        violation.state,
        if quoted.is_empty() {
            "(none)".to_string()
        } else {
            quoted.join("; ")
        }
    )
}
