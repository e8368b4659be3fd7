//! The checker most workloads use: linearizability of the history against a `check` model.
//!
//! The search (Wing–Gong–Lowe with per-key partitioning, a cache and a step budget) lives in the
//! `check` crate, which sees only histories; this module turns its result into a
//! [`Judgement`] the run's verdict folds in.

use super::{HistoryCheck, Judgement};
use crate::check::operation::{Completion, Operation, Span};
use crate::check::{self, CheckOptions, CheckResult, Model};
use crate::recorder::{CheckPairing, RecordedHistory};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

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
    let result = check_recorded(history, model, options)?;
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

/// The check of a recorded history: paired straight from its compact entries, each operation
/// built whole only at its completion; a history that cannot be paired so (general client
/// entries) or that the model rejects goes through [`check_plain`], which says what is wrong.
fn check_recorded<M: Model>(
    history: &RecordedHistory,
    model: &M,
    options: &CheckOptions,
) -> Result<CheckResult, String> {
    let paired = history.pair_for_check().and_then(|pairing| {
        let CheckPairing {
            spans,
            annotations,
            links,
        } = pairing;
        // Each operation built whole at its completion, from its two compact entries.
        let completed = links.into_iter().map(|(number, invoke, complete)| {
            let span = Span {
                invoke: invoke as usize,
                complete: (complete != u32::MAX).then_some(complete as usize),
                completion: Completion::Open,
            };
            let span = if span.complete.is_some() {
                Span {
                    completion: history.completion_for_check(complete as usize),
                    ..span
                }
            } else {
                span
            };
            (number as usize, history.operation_for_check(&span))
        });
        let name = |wanted: &BTreeSet<usize>, spans: &[Span]| -> BTreeMap<usize, Operation> {
            wanted
                .iter()
                .map(|&number| (number, history.operation_for_check(&spans[number])))
                .collect()
        };
        // A model error: the checker's own pairing below says which comes first.
        check::check_completed(spans, annotations, completed, model, options, name).ok()
    });
    match paired {
        Some(result) => Ok(result),
        None => check_plain(history, model, options),
    }
}

/// The check of a recorded history through the checker's own pairing of its entries.
fn check_plain<M: Model>(
    history: &RecordedHistory,
    model: &M,
    options: &CheckOptions,
) -> Result<CheckResult, String> {
    let entries = || (0..history.len()).map(|index| Cow::Owned(history.op_for_check(index)));
    check::check_entries(entries, history.len(), model, options).map_err(|error| error.to_string())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::completion::CompletionClass;
    use crate::protocol::NodeId;
    use crate::rng::SimRng;
    use crate::time::SimTime;
    use crate::workload::register::{Operation as RegisterOperation, Register};
    use crate::workload::Workload;

    /// A random register history: a few processes, each with one operation at a time, some
    /// failed, some indeterminate, some never completed; values drawn from a few, so some
    /// histories are linearizable and some are not.
    fn random_history(rng: &mut SimRng, operations: usize) -> RecordedHistory {
        let mut history = RecordedHistory::default();
        let processes = 1 + rng.below(4);
        let mut open: Vec<Option<RegisterOperation>> = vec![None; processes as usize];
        let mut next_process: Vec<u64> = (0..processes).collect();
        for time in 0..operations as u64 * 2 {
            let slot = rng.below(processes) as usize;
            let process = next_process[slot];
            let node = Some(NodeId(0));
            match open[slot].take() {
                None => {
                    let key = rng.below(2);
                    let operation = match rng.below(3) {
                        0 => RegisterOperation::Read { key },
                        1 => RegisterOperation::Write {
                            key,
                            value: rng.below(3) as i64,
                        },
                        _ => RegisterOperation::Cas {
                            key,
                            from: rng.below(3) as i64,
                            to: rng.below(3) as i64,
                        },
                    };
                    let written = Register::write(&operation, None);
                    history.push_operation(SimTime(time), process, None, written, None, None);
                    open[slot] = Some(operation);
                }
                Some(operation) => {
                    let (class, output) = match rng.below(8) {
                        0 => (CompletionClass::Fail, None),
                        1 => (CompletionClass::Unknown, None),
                        _ => (CompletionClass::Ok, Some(Some(rng.below(3) as i64))),
                    };
                    let output = match operation {
                        RegisterOperation::Read { .. } => output,
                        _ => None,
                    };
                    let written = Register::write(&operation, output.as_ref());
                    history.push_operation(
                        SimTime(time),
                        process,
                        Some(class),
                        written,
                        None,
                        node,
                    );
                    if class == CompletionClass::Unknown {
                        // Jepsen: a process whose operation is indeterminate is not reused.
                        next_process[slot] += processes;
                    }
                }
            }
        }
        history
    }

    #[test]
    fn the_compact_pairing_checks_as_the_checkers_own() {
        let mut rng = SimRng::new(7);
        let model = check::CasRegister::strict(check::history::Value::Nil);
        let options = CheckOptions::default();
        let (mut linearizable, mut not) = (0, 0);
        for case in 0..400 {
            let history = random_history(&mut rng, 1 + case % 16);
            assert!(history.pair_for_check().is_some());
            let compact = check_recorded(&history, &model, &options).unwrap();
            let plain = check_plain(&history, &model, &options).unwrap();
            assert_eq!(compact, plain, "case {case}");
            match compact.verdict {
                check::Verdict::Linearizable => linearizable += 1,
                _ => not += 1,
            }
        }
        assert!(linearizable >= 20 && not >= 20, "{linearizable} and {not}");
    }

    #[test]
    fn a_history_with_general_client_entries_is_paired_by_the_checker() {
        let mut history = RecordedHistory::default();
        let op = |kind, value| crate::history::Op {
            index: 0,
            kind,
            process: crate::history::Process::Client(0),
            function: "read".into(),
            key: None,
            value,
            time: 0,
            error: None,
        };
        history.push_op(op(
            crate::history::OpType::Invoke,
            check::history::Value::Nil,
        ));
        history.push_op(op(crate::history::OpType::Ok, check::history::Value::Nil));
        assert!(history.pair_for_check().is_none());
        let model = check::CasRegister::strict(check::history::Value::Nil);
        let result = check_recorded(&history, &model, &CheckOptions::default()).unwrap();
        assert_eq!(result.verdict, check::Verdict::Linearizable);
    }
}
