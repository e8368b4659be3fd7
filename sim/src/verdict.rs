//! The linearizability verdict of a run's history, folded into the run's verdict.
//!
//! The engine judges invariants, limits, panics and liveness while it runs; the client history
//! is judged afterwards by [`crate::check`], which sees only the history. The model is the
//! compare-and-set register per key, with strict reads: a read of `nil` means the register was
//! never written (Knossos's lenient model would let a read of `nil` match anything, and so would
//! accept the very data loss the unreplicated store's canary is there to show).

use crate::check::{self, CasRegister, CheckOptions, CheckResult};
use crate::history::Value;
use crate::outcome::{RunData, Verdict};
use crate::time::SimTime;

/// Prefix entries quoted in a verdict's detail; the full explanation goes with the run data.
const PREFIX_QUOTED: usize = 6;

/// Checks `data.history` for linearizability with a step budget, and folds the result into
/// `data.verdict`: a violation outranks a liveness timeout and replaces a pass; an exhausted
/// budget turns a pass into `unknown`. Runs that ended in an invariant violation, a panic or a
/// limit keep their verdict (their history is cut short). Returns the checker's full
/// explanation when the history was checked.
pub fn judge_history(data: &mut RunData, budget: u64) -> Option<String> {
    judge_history_within(data, budget, check::DEFAULT_MEMORY_LIMIT)
}

/// [`judge_history`] with a memory limit for the checker's search (bytes; exceeding it makes
/// the verdict unknown, as an exhausted budget does).
pub fn judge_history_within(data: &mut RunData, budget: u64, memory: u64) -> Option<String> {
    if !matches!(
        data.verdict,
        Verdict::Pass | Verdict::LivenessTimeout { .. }
    ) {
        return None;
    }
    let history = data.history.to_history();
    let model = CasRegister::strict(Value::Nil);
    let result = match check::check(&history, &model, &CheckOptions { budget, memory }) {
        Ok(result) => result,
        Err(error) => {
            // The engine wrote an ill-formed history: that is an engine bug, reported loudly.
            data.verdict = Verdict::Panic {
                message: format!("the recorded history is ill-formed: {error}"),
            };
            return None;
        }
    };
    let explanation = check::explain(&result);
    match result.verdict {
        check::Verdict::Linearizable => {}
        check::Verdict::NotLinearizable => {
            let stuck = result.stuck_entry();
            data.stuck_operation = stuck.map(|entry| entry as u64);
            let time = stuck_time(&result, &history).unwrap_or(data.stats.simulated_time);
            data.verdict = Verdict::SafetyViolation {
                property: "linearizability".to_string(),
                detail: concise(&result),
                time,
            };
        }
        check::Verdict::Unknown => {
            if data.verdict.is_pass() {
                data.verdict = Verdict::Unknown {
                    detail: match result.exhausted {
                        Some(check::Exhausted::Memory) => format!(
                            "the linearizability checker reached its memory limit of {memory} \
                             bytes: {}",
                            explanation.trim()
                        ),
                        _ => format!(
                            "the linearizability checker spent its budget of {budget} steps: {}",
                            explanation.trim()
                        ),
                    },
                };
            }
        }
    }
    Some(explanation)
}

/// When the violation became observable: the completion of the operation that cannot be placed.
fn stuck_time(result: &CheckResult, history: &check::history::History) -> Option<SimTime> {
    let violation = result.violation.as_ref()?;
    let operation = &result.operations[violation.operation];
    let entry = operation.complete.unwrap_or(operation.invoke);
    history.ops.get(entry).map(|op| SimTime(op.time))
}

fn concise(result: &CheckResult) -> String {
    let Some(violation) = &result.violation else {
        return "not linearizable".to_string();
    };
    let key = violation
        .key
        .as_ref()
        .map_or(String::new(), |key| format!(" on key {key}"));
    let stuck = &result.operations[violation.operation];
    let count = violation.prefix.len();
    let quoted: Vec<String> = violation
        .prefix
        .iter()
        .skip(count.saturating_sub(PREFIX_QUOTED))
        .map(|(operation, state)| format!("{} => {state}", result.operations[*operation]))
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
