//! The history's verdict, folded into the run's verdict.
//!
//! The engine judges invariants, limits, panics and liveness while it runs; the client history
//! is judged afterwards by the workload's own checker ([`Workload::check`]) — for the register
//! and counter workloads, linearizability per key by [`crate::check`], which sees only the
//! history.

use crate::check::CheckOptions;
use crate::outcome::{RunData, Verdict};
use crate::time::SimTime;
use crate::workload::{Judgement, Workload};

/// Checks `data.history` with `workload`'s checker and folds the result into `data.verdict`:
/// a violation outranks a liveness timeout and replaces a pass; an exhausted budget turns a
/// pass into `unknown`. Runs that ended in an invariant violation, a panic or a limit keep their
/// verdict (their history is cut short). Sets `data.check_explanation` when the history was
/// checked.
pub fn judge_history<W: Workload>(data: &mut RunData, workload: &W, options: &CheckOptions) {
    if !matches!(
        data.verdict,
        Verdict::Pass | Verdict::LivenessTimeout { .. }
    ) {
        return;
    }
    let check = match workload.check(&data.history, options) {
        Ok(check) => check,
        Err(error) => {
            // The engine wrote a history its own workload cannot read: an engine bug, loudly.
            data.verdict = Verdict::Panic {
                message: format!("detsim bug: the recorded history is ill-formed: {error}"),
            };
            return;
        }
    };
    match check.judgement {
        Judgement::Valid => {}
        Judgement::Violation {
            property,
            detail,
            stuck_entry,
            time,
        } => {
            data.stuck_operation = stuck_entry;
            if let Some(stuck) = stuck_entry {
                data.conflicting_operations = crate::conflict::conflicting_operations(
                    &data.history,
                    workload,
                    options,
                    stuck as usize,
                )
                .into_iter()
                .map(|position| position as u64)
                .collect();
            }
            data.verdict = Verdict::SafetyViolation {
                property,
                detail,
                time: time.map_or(data.stats.simulated_time, SimTime),
            };
        }
        Judgement::Unknown { detail } => {
            if data.verdict.is_pass() {
                data.verdict = Verdict::Unknown { detail };
            }
        }
    }
    data.check_explanation = Some(check.explanation);
}
