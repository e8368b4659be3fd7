//! How a client operation ends, in four classes defined once for the whole product.
//!
//! Jepsen's history knows three completion types: `ok` (it happened), `fail` (it certainly did
//! not happen) and `info` (unknown). For availability, liveness and the reports a fourth
//! distinction matters: a `fail` the *service decided* (a compare-and-set whose expected value
//! did not hold, a transfer that would overdraw an account, a lock that is held) is an answer,
//! while a `fail` because the service was *unavailable* (no leader, node down, redirects
//! exhausted) is an outage. Both are `fail` in the history — neither happened — but only the
//! first counts as the service working.
//!
//! | class     | history | counts as an answer (availability, liveness) |
//! |-----------|---------|----------------------------------------------|
//! | `ok`      | `:ok`   | yes                                          |
//! | `fail`    | `:fail` | yes: the service decided                     |
//! | `refused` | `:fail` | no: the service was unavailable              |
//! | `unknown` | `:info` | no: the client gave up without knowing       |

use crate::history::OpType;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// The class of a completed operation (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompletionClass {
    /// It happened.
    Ok,
    /// The service decided it could not happen, and it did not.
    Fail,
    /// The service was unavailable; it did not happen.
    Refused,
    /// The outcome is unknown (timed out, or the service could not tell).
    Unknown,
}

impl CompletionClass {
    /// Every class, in the order reports list them.
    pub const ALL: [CompletionClass; 4] = [
        CompletionClass::Ok,
        CompletionClass::Fail,
        CompletionClass::Refused,
        CompletionClass::Unknown,
    ];

    /// The Jepsen completion type the class is written as.
    pub fn op_type(self) -> OpType {
        match self {
            CompletionClass::Ok => OpType::Ok,
            CompletionClass::Fail | CompletionClass::Refused => OpType::Fail,
            CompletionClass::Unknown => OpType::Info,
        }
    }

    /// Whether the service answered: `ok` or a decided `fail`. Availability and liveness count
    /// these.
    pub fn is_answer(self) -> bool {
        matches!(self, CompletionClass::Ok | CompletionClass::Fail)
    }

    /// The class a completion read from a history file most likely had: `fail` entries are
    /// taken as decided, since a file does not say.
    pub fn from_op_type(kind: OpType) -> Option<CompletionClass> {
        match kind {
            OpType::Invoke => None,
            OpType::Ok => Some(CompletionClass::Ok),
            OpType::Fail => Some(CompletionClass::Fail),
            OpType::Info => Some(CompletionClass::Unknown),
        }
    }

    /// The name used in summaries and reports.
    pub fn name(self) -> &'static str {
        match self {
            CompletionClass::Ok => "ok",
            CompletionClass::Fail => "fail",
            CompletionClass::Refused => "refused",
            CompletionClass::Unknown => "unknown",
        }
    }
}

impl fmt::Display for CompletionClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How an operation ended, with its result: what a client half reports to the engine.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Completion<R> {
    /// It happened, with this result.
    Ok(R),
    /// The service decided it could not happen (an answer, not an outage).
    Fail(Cow<'static, str>),
    /// The service was unavailable (no leader, node down, redirects exhausted).
    Refused(Cow<'static, str>),
    /// Unknown whether it happened.
    Unknown(Cow<'static, str>),
}

impl<R> Completion<R> {
    /// The completion's class.
    pub fn class(&self) -> CompletionClass {
        match self {
            Completion::Ok(_) => CompletionClass::Ok,
            Completion::Fail(_) => CompletionClass::Fail,
            Completion::Refused(_) => CompletionClass::Refused,
            Completion::Unknown(_) => CompletionClass::Unknown,
        }
    }

    /// The result, for an `ok`.
    pub fn output(&self) -> Option<&R> {
        match self {
            Completion::Ok(output) => Some(output),
            _ => None,
        }
    }

    /// The reason, for anything but an `ok`.
    pub fn reason(&self) -> Option<&Cow<'static, str>> {
        match self {
            Completion::Ok(_) => None,
            Completion::Fail(reason)
            | Completion::Refused(reason)
            | Completion::Unknown(reason) => Some(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ok_and_decided_fails_are_answers() {
        let answers: Vec<bool> = CompletionClass::ALL.iter().map(|c| c.is_answer()).collect();
        assert_eq!(answers, [true, true, false, false]);
    }

    #[test]
    fn refused_is_written_as_fail_and_unknown_as_info() {
        let types: Vec<OpType> = CompletionClass::ALL.iter().map(|c| c.op_type()).collect();
        assert_eq!(
            types,
            [OpType::Ok, OpType::Fail, OpType::Fail, OpType::Info]
        );
    }
}
