//! The critical section as both client halves run it: the storage side of a `write`, an
//! `increment` under the lock, or an optimistic `cas-increment`, as a small state machine that
//! tells its client half what to do next ([`Step`]).
//!
//! - **write**: work for `hold`, then mark the register with the token;
//! - **increment** (pessimistic): read the register with the token, work for `hold`, write the
//!   value read plus one with the token. Safe only if no other holder writes in between — which
//!   is what the lock promises and a paused holder breaks; fencing the read and the write makes
//!   the storage refuse the old holder's write once the new holder has read;
//! - **cas-increment** (optimistic, no lock): read the value and its version, work for `hold`,
//!   compare-and-set the version to the value plus one; on a conflict, try again at once with
//!   the version the storage returned, up to [`CONFLICTS_MAX`] times. Nothing can be lost: a
//!   write based on a stale read fails its compare.
//!
//! There is no retry of a lost message: the engine's deadline ends the operation as `info`.

use super::{Acquisition, Change, Request, Response};
use sim::completion::Completion;
use sim::protocol::Key;
use sim::time::SimDuration;

/// Most conflicts an optimistic increment retries before it fails.
pub const CONFLICTS_MAX: u32 = 16;

/// What the critical section does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Mark the register.
    Write,
    /// Read, work, write the value plus one.
    Increment,
    /// Read value and version, work, compare-and-set.
    Optimistic,
}

/// What the client half must do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send this request to the storage node.
    Send(Request),
    /// Start the work: set the hold timer.
    Hold(SimDuration),
    /// The operation is over.
    Done(Completion<Option<u64>>),
    /// Nothing (an answer that is not for this section).
    Wait,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    Reading(Request),
    Working { value: u64, version: u64 },
    Writing(Request),
}

/// One critical section in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    lock: Key,
    acquisition: Acquisition,
    token: Option<u64>,
    fenced: bool,
    kind: Kind,
    hold: SimDuration,
    phase: Phase,
    conflicts: u32,
}

impl Section {
    /// Begins a section of `kind` on `lock` by `acquisition`; returns it and its first step.
    pub fn begin(
        lock: Key,
        acquisition: Acquisition,
        token: Option<u64>,
        fenced: bool,
        kind: Kind,
        hold: SimDuration,
    ) -> (Section, Step) {
        let (phase, step) = if kind == Kind::Write {
            (
                Phase::Working {
                    value: 0,
                    version: 0,
                },
                Step::Hold(hold),
            )
        } else {
            let read = Request::Read {
                lock,
                acquisition,
                token,
                fenced,
            };
            (Phase::Reading(read.clone()), Step::Send(read))
        };
        let section = Section {
            lock,
            acquisition,
            token,
            fenced,
            kind,
            hold,
            phase,
            conflicts: 0,
        };
        (section, step)
    }

    /// The request in flight, if one is.
    pub fn in_flight(&self) -> Option<&Request> {
        match &self.phase {
            Phase::Reading(request) | Phase::Writing(request) => Some(request),
            Phase::Working { .. } => None,
        }
    }

    fn write(&mut self, value: u64, version: u64) -> Step {
        let change = match self.kind {
            Kind::Write => Change::Mark,
            Kind::Increment => Change::Set(value + 1),
            Kind::Optimistic => Change::CompareAndSet {
                version,
                value: value + 1,
            },
        };
        let request = Request::Write {
            lock: self.lock,
            acquisition: self.acquisition,
            token: self.token,
            fenced: self.fenced,
            change,
        };
        self.phase = Phase::Writing(request.clone());
        Step::Send(request)
    }

    /// The work is done: write.
    pub fn on_hold(&mut self) -> Step {
        match self.phase {
            Phase::Working { value, version } => self.write(value, version),
            _ => Step::Wait,
        }
    }

    /// The storage answered.
    pub fn on_response(&mut self, response: Response) -> Step {
        let ours = match &response {
            Response::Value { acquisition, .. }
            | Response::Accepted { acquisition, .. }
            | Response::Conflict { acquisition, .. }
            | Response::Rejected { acquisition, .. } => *acquisition == self.acquisition,
            _ => false,
        };
        if !ours {
            return Step::Wait;
        }
        match (&self.phase, response) {
            (Phase::Reading(_), Response::Value { value, version, .. }) => {
                self.phase = Phase::Working { value, version };
                Step::Hold(self.hold)
            }
            (Phase::Reading(_) | Phase::Writing(_), Response::Rejected { .. }) => Step::Done(
                Completion::Fail("the storage rejected a stale token".into()),
            ),
            (Phase::Writing(_), Response::Accepted { value, .. }) => {
                Step::Done(Completion::Ok((self.kind != Kind::Write).then_some(value)))
            }
            (Phase::Writing(_), Response::Conflict { value, version, .. }) => {
                self.conflicts += 1;
                if self.conflicts > CONFLICTS_MAX {
                    return Step::Done(Completion::Fail("too many conflicts".into()));
                }
                self.write(value, version)
            }
            _ => Step::Wait,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRITER: Acquisition = Acquisition {
        client: 1,
        number: 4,
    };

    #[test]
    fn an_optimistic_increment_retries_a_conflict_with_the_version_it_is_told() {
        let hold = SimDuration::from_millis(5);
        let (mut section, first) = Section::begin(0, WRITER, None, false, Kind::Optimistic, hold);
        assert!(matches!(first, Step::Send(Request::Read { .. })));
        let value = Response::Value {
            acquisition: WRITER,
            value: 7,
            version: 3,
        };
        assert_eq!(section.on_response(value), Step::Hold(hold));
        let Step::Send(Request::Write { change, .. }) = section.on_hold() else {
            panic!("the work ends with a write");
        };
        assert_eq!(
            change,
            Change::CompareAndSet {
                version: 3,
                value: 8
            }
        );
        let conflict = Response::Conflict {
            acquisition: WRITER,
            value: 9,
            version: 5,
        };
        let Step::Send(Request::Write { change, .. }) = section.on_response(conflict) else {
            panic!("a conflict is retried");
        };
        assert_eq!(
            change,
            Change::CompareAndSet {
                version: 5,
                value: 10
            }
        );
        let accepted = Response::Accepted {
            acquisition: WRITER,
            value: 10,
        };
        assert_eq!(
            section.on_response(accepted),
            Step::Done(Completion::Ok(Some(10)))
        );
    }

    #[test]
    fn an_increment_under_the_lock_sets_the_value_read_plus_one_with_its_token() {
        let hold = SimDuration::from_millis(5);
        let (mut section, _) = Section::begin(2, WRITER, Some(11), true, Kind::Increment, hold);
        let value = Response::Value {
            acquisition: WRITER,
            value: 4,
            version: 9,
        };
        section.on_response(value);
        assert_eq!(
            section.on_hold(),
            Step::Send(Request::Write {
                lock: 2,
                acquisition: WRITER,
                token: Some(11),
                fenced: true,
                change: Change::Set(5),
            })
        );
    }
}
