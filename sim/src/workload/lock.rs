//! The lock workload: clients take a named lock, write to a storage node inside the critical
//! section, and give the lock back.
//!
//! Every client runs the same cycle, one operation at a time, on a lock drawn from `0..locks`:
//!
//! 1. **`acquire`** the lock: `ok` with the fencing token where the service issues one (`nil`
//!    where it does not, as with Redlock), or `fail` (held by someone else, no majority);
//! 2. **`write`** to the storage node inside the critical section: the client half first checks
//!    that what is left of its lease covers the critical section (`hold`, drawn from the `hold`
//!    distribution), then works for `hold` on its own monotonic clock, then sends the write with
//!    its token. It does **not** check its lease again between the work and the write: that is
//!    the window in which a process pause (a garbage collection, a swapped-out page) lands in
//!    Kleppmann's critique of lease-based locks, and the window the scenarios' pauses hit. With
//!    `fencing = true` the write asks the storage to reject a token lower than the highest it
//!    has accepted for that lock;
//! 3. **`release`** the lock (`fail` when the client does not hold it, or the service says its
//!    lease had already expired).
//!
//! With `counter = "locked"` the write is an **`increment`**: read the register (with the token),
//! work for `hold`, write the value read plus one — a counter incremented as read-modify-write
//! under the lock. With `counter = "optimistic"` the client takes no lock at all and only runs
//! **`cas-increment`**: read the value and its version, work, compare-and-set the version to the
//! value plus one, retrying on conflict (optimistic locking). The services' observer checks
//! that no increment that completed `ok` is lost.
//!
//! A client whose acquire failed still runs the write and the release, which then fail at once
//! without a message: the cycle never depends on answers, so the workload is reply-independent
//! by construction and the same clients replay against every lock service.
//!
//! The history is Jepsen's lock history with the storage writes between: `:f :acquire` (`:value`
//! the token at `ok`), `:f :write` with `:value [hold-ms fenced]`, `:f :release`, each keyed by
//! the lock. The checker of this module judges the acquires and releases per lock as a **mutex**
//! (the `check` crate's `Mutex` model). What it can see: the order of acquires and releases as
//! the clients were told them. What it cannot see: time that passed inside a client, so it
//! cannot tell a paused holder whose lease ran out from a holder that released — under leases
//! the mutex history fails as soon as a lease expires under a holder, safe or not. It also does
//! not see the writes the storage accepted. So by default its result is reported (in the run's
//! `linearizability.txt`) without deciding the verdict (`judge_mutex = true` makes it decide);
//! the verdict's safety properties are judged by the lock services' observers in true time,
//! against the storage's record of every write (see `protocols/src/locks/`).

use super::{key_of, Entry, FieldError, HistoryCheck, Judgement, Setup, Workload, Written};
use crate::check::model::Mutex;
use crate::check::CheckOptions;
use crate::history::{Op, OpType, Value};
use crate::network::Latency;
use crate::protocol::Key;
use crate::recorder::RecordedHistory;
use crate::rng::SimRng;
use crate::time::SimDuration;
use serde::Deserialize;
use std::borrow::Cow;

/// Most locks one run may have.
pub const LOCK_COUNT_MAX: u32 = 10_000;
/// Longest critical section a client may hold a lock for.
pub const HOLD_MAX: SimDuration = SimDuration::from_secs(3_600);

/// What a lock client asks.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Take the lock.
    Acquire {
        /// Which lock.
        lock: Key,
    },
    /// Inside the critical section: work for `hold`, then write to the storage node.
    Write {
        /// Which lock protects the write.
        lock: Key,
        /// How long the critical section works before it writes.
        hold: SimDuration,
        /// Whether the write asks the storage to check its fencing token.
        fenced: bool,
    },
    /// Inside the critical section: read the register (with the token), work for `hold`,
    /// write the value read plus one (a counter incremented under the lock).
    Increment {
        /// Which lock protects the register.
        lock: Key,
        /// How long the critical section works between the read and the write.
        hold: SimDuration,
        /// Whether the read and the write ask the storage to check the token.
        fenced: bool,
    },
    /// Without a lock: read the register's value and version, work for `hold`, and write the
    /// value plus one with compare-and-set on the version, retrying on conflict (optimistic
    /// locking).
    Optimistic {
        /// Which register.
        lock: Key,
        /// How long the work takes between the read and the write.
        hold: SimDuration,
    },
    /// Give the lock back.
    Release {
        /// Which lock.
        lock: Key,
    },
}

/// What the critical section does to the register (`[workload] counter`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CounterMode {
    /// A plain write (the writer is the value).
    #[default]
    Off,
    /// Increment the register as read-modify-write under the lock.
    Locked,
    /// Increment it with compare-and-set on its version, without any lock.
    Optimistic,
}

impl Operation {
    /// The lock the operation is about.
    pub fn lock(&self) -> Key {
        match *self {
            Operation::Acquire { lock }
            | Operation::Write { lock, .. }
            | Operation::Increment { lock, .. }
            | Operation::Optimistic { lock, .. }
            | Operation::Release { lock } => lock,
        }
    }
}

/// The lock workload's own fields of `[workload]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// How many locks (each protecting its own register at the storage).
    #[serde(default = "default_locks")]
    pub locks: u32,
    /// How long a critical section works before it writes.
    #[serde(default = "default_hold")]
    pub hold: Latency,
    /// Whether the storage checks fencing tokens (rejects a token lower than the highest it
    /// has accepted for the lock).
    #[serde(default = "default_fencing")]
    pub fencing: bool,
    /// Whether the mutex check of the history decides the verdict (by default it is reported).
    #[serde(default)]
    pub judge_mutex: bool,
    /// `off` (a plain write), `locked` (increment under the lock), `optimistic` (increment by
    /// compare-and-set, no lock).
    #[serde(default)]
    pub counter: CounterMode,
}

fn default_locks() -> u32 {
    1
}
fn default_hold() -> Latency {
    Latency::Uniform {
        min: SimDuration::from_millis(10),
        max: SimDuration::from_millis(50),
    }
}
fn default_fencing() -> bool {
    true
}

impl Default for Options {
    fn default() -> Self {
        Options {
            locks: default_locks(),
            hold: default_hold(),
            fencing: default_fencing(),
            judge_mutex: false,
            counter: CounterMode::Off,
        }
    }
}

/// The lock workload of one run: where each client is in its cycle.
#[derive(Clone, Debug)]
pub struct Locks {
    options: Options,
    /// Per client: the step of its cycle (0 acquire, 1 write, 2 release) and its lock.
    cycle: Vec<(u8, Key)>,
}

impl Workload for Locks {
    type Operation = Operation;
    type Output = Option<u64>;
    type Options = Options;

    const KIND: &'static str = "lock";

    fn check_options(options: &Options) -> Result<(), FieldError> {
        if options.locks == 0 || options.locks > LOCK_COUNT_MAX {
            return Err(FieldError::new(
                "locks",
                format!("{} is outside 1..={LOCK_COUNT_MAX}", options.locks),
            ));
        }
        if options.hold.max() > HOLD_MAX {
            return Err(FieldError::new(
                "hold",
                format!("{} is longer than {HOLD_MAX}", options.hold.max()),
            ));
        }
        Ok(())
    }

    fn check_run(
        options: &Options,
        timeout: SimDuration,
        duration: SimDuration,
    ) -> Result<(), FieldError> {
        let hold = options.hold.max();
        if hold >= duration {
            return Err(FieldError::new(
                "hold",
                format!(
                    "a critical section of up to {hold} is not shorter than the run ({duration})"
                ),
            ));
        }
        if hold >= timeout {
            return Err(FieldError::new(
                "hold",
                format!(
                    "a critical section of up to {hold} is not shorter than the operation \
                     timeout ({timeout}): every such write would time out"
                ),
            ));
        }
        Ok(())
    }

    fn new(options: &Options, setup: Setup) -> Locks {
        Locks {
            options: options.clone(),
            cycle: vec![(0, 0); setup.clients as usize],
        }
    }

    fn next_operation(&mut self, client: u32, rng: &mut SimRng) -> Operation {
        let (step, lock) = self.cycle[client as usize];
        let hold = |rng: &mut SimRng| self.options.hold.sample(rng);
        if self.options.counter == CounterMode::Optimistic {
            let lock = rng.below(u64::from(self.options.locks));
            let hold = hold(rng);
            return Operation::Optimistic { lock, hold };
        }
        let (operation, next) = match step {
            0 => {
                let lock = rng.below(u64::from(self.options.locks));
                (Operation::Acquire { lock }, (1, lock))
            }
            1 if self.options.counter == CounterMode::Locked => (
                Operation::Increment {
                    lock,
                    hold: hold(rng),
                    fenced: self.options.fencing,
                },
                (2, lock),
            ),
            1 => (
                Operation::Write {
                    lock,
                    hold: hold(rng),
                    fenced: self.options.fencing,
                },
                (2, lock),
            ),
            _ => (Operation::Release { lock }, (0, lock)),
        };
        self.cycle[client as usize] = next;
        operation
    }

    fn write(operation: &Operation, output: Option<&Option<u64>>) -> Entry {
        let (function, value) = match *operation {
            Operation::Acquire { .. } => (
                "acquire",
                match output {
                    Some(Some(token)) => Written::Int(*token as i64),
                    _ => Written::Nil,
                },
            ),
            Operation::Write { hold, fenced, .. } => (
                "write",
                Written::Pair(hold.as_millis() as i64, i64::from(fenced)),
            ),
            Operation::Increment { hold, fenced, .. } => (
                "increment",
                Written::Pair(hold.as_millis() as i64, i64::from(fenced)),
            ),
            Operation::Optimistic { hold, .. } => {
                ("cas-increment", Written::Int(hold.as_millis() as i64))
            }
            Operation::Release { .. } => ("release", Written::Nil),
        };
        Entry {
            function,
            key: Some(operation.lock() as i64),
            value,
        }
    }

    fn read(op: &Op) -> Result<(Operation, Option<Option<u64>>), String> {
        let lock = key_of(op)?.ok_or("a lock operation needs a key")?;
        let lock = Key::try_from(lock).map_err(|_| format!("negative lock {lock}"))?;
        let ok = op.kind == OpType::Ok;
        match (op.function.as_ref(), &op.value) {
            ("acquire", Value::Nil) => Ok((Operation::Acquire { lock }, ok.then_some(None))),
            ("acquire", Value::Int(token)) if *token >= 0 => {
                Ok((Operation::Acquire { lock }, Some(Some(*token as u64))))
            }
            ("write", Value::List(parts)) => match parts.as_slice() {
                [Value::Int(hold), Value::Int(fenced)] if *hold >= 0 => Ok((
                    Operation::Write {
                        lock,
                        hold: SimDuration::from_millis(*hold as u64),
                        fenced: *fenced != 0,
                    },
                    ok.then_some(None),
                )),
                _ => Err(format!(
                    "a lock write expects [hold-ms fenced], found {}",
                    op.value
                )),
            },
            ("increment", Value::List(parts)) => match parts.as_slice() {
                [Value::Int(hold), Value::Int(fenced)] if *hold >= 0 => Ok((
                    Operation::Increment {
                        lock,
                        hold: SimDuration::from_millis(*hold as u64),
                        fenced: *fenced != 0,
                    },
                    ok.then_some(None),
                )),
                _ => Err(format!(
                    "an increment expects [hold-ms fenced], found {}",
                    op.value
                )),
            },
            ("cas-increment", Value::Int(hold)) if *hold >= 0 => Ok((
                Operation::Optimistic {
                    lock,
                    hold: SimDuration::from_millis(*hold as u64),
                },
                ok.then_some(None),
            )),
            ("release", _) => Ok((Operation::Release { lock }, ok.then_some(None))),
            (function, value) => Err(format!("not a lock operation: {function} {value}")),
        }
    }

    fn check(
        &self,
        history: &RecordedHistory,
        options: &CheckOptions,
    ) -> Result<HistoryCheck, String> {
        let result = check_mutex(history, options)?;
        if self.options.judge_mutex {
            return Ok(result);
        }
        let explanation = match &result.judgement {
            Judgement::Valid => format!(
                "mutex (reported, not judged): every lock's acquires and releases are \
                 linearizable as a mutex\n{}",
                result.explanation
            ),
            Judgement::Violation { detail, .. } => format!(
                "mutex (reported, not judged): NOT linearizable as a mutex — a lease expired \
                 under a holder, or two clients were told they held one lock: {detail}\n\
                 Write safety is judged in true time by the service's observer.\n{}",
                result.explanation
            ),
            Judgement::Unknown { detail } => {
                format!("mutex (reported, not judged): unknown: {detail}\n")
            }
        };
        Ok(HistoryCheck {
            judgement: Judgement::Valid,
            explanation,
        })
    }
}

/// The acquires and releases of `history`, per lock, checked against the `Mutex` model: the
/// writes are left out (the model knows only acquire and release).
pub fn check_mutex(
    history: &RecordedHistory,
    options: &CheckOptions,
) -> Result<HistoryCheck, String> {
    let mut locks_only = RecordedHistory::with_capacity(history.len());
    for index in 0..history.len() {
        let op = history.op_for_check(index);
        if !matches!(op.function.as_ref(), "acquire" | "release") {
            continue;
        }
        locks_only.push_op(Op {
            // A token is the service's business; the mutex sees only that it was granted.
            value: Value::Nil,
            function: Cow::Owned(op.function.into_owned()),
            ..op
        });
    }
    let mut result = super::linearizable::judge(&locks_only, &Mutex, options)?;
    if let Judgement::Violation { property, .. } = &mut result.judgement {
        *property = "lock-mutex".to_string();
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Process;

    fn op(index: u64, kind: OpType, process: u64, entry: &Entry, time: u64) -> Op {
        Op {
            index,
            kind,
            process: Process::Client(process),
            function: Cow::Borrowed(entry.function),
            key: entry.key.map(Value::Int),
            value: entry.value.to_value(),
            time,
            error: None,
        }
    }

    #[test]
    fn operations_round_trip_through_the_history() {
        let operations = [
            (Operation::Acquire { lock: 2 }, Some(Some(7))),
            (Operation::Acquire { lock: 2 }, Some(None)),
            (
                Operation::Write {
                    lock: 1,
                    hold: SimDuration::from_millis(40),
                    fenced: true,
                },
                Some(None),
            ),
            (Operation::Release { lock: 0 }, Some(None)),
        ];
        for (operation, output) in operations {
            let entry = Locks::write(&operation, output.as_ref());
            let read = Locks::read(&op(0, OpType::Ok, 0, &entry, 0)).unwrap();
            assert_eq!(read, (operation, output));
        }
    }

    #[test]
    fn each_client_cycles_acquire_write_release_on_one_lock() {
        let options = Options {
            locks: 5,
            ..Options::default()
        };
        let mut workload = Locks::new(
            &options,
            Setup {
                clients: 2,
                reply_independent: false,
            },
        );
        let mut rng = SimRng::new(3);
        for _ in 0..20 {
            let acquire = workload.next_operation(1, &mut rng);
            let write = workload.next_operation(1, &mut rng);
            let release = workload.next_operation(1, &mut rng);
            assert!(matches!(acquire, Operation::Acquire { .. }));
            assert!(matches!(write, Operation::Write { fenced: true, .. }));
            assert!(matches!(release, Operation::Release { .. }));
            assert_eq!(acquire.lock(), write.lock());
            assert_eq!(acquire.lock(), release.lock());
            assert!(acquire.lock() < 5);
        }
    }

    /// Builds a history from (kind, process, operation, time) lines.
    fn history(lines: &[(OpType, u64, Operation, u64)]) -> RecordedHistory {
        let mut history = RecordedHistory::default();
        for (index, (kind, process, operation, time)) in lines.iter().enumerate() {
            let output = (*kind == OpType::Ok).then_some(None);
            let entry = Locks::write(operation, output.as_ref());
            history.push_op(op(index as u64, *kind, *process, &entry, *time));
        }
        history
    }

    #[test]
    fn the_mutex_check_refuses_two_holders_and_reports_unless_asked_to_judge() {
        use OpType::{Invoke, Ok};
        let acquire = Operation::Acquire { lock: 0 };
        let release = Operation::Release { lock: 0 };
        // Client 1 acquires while client 0 holds, and 0 releases afterwards.
        let lines = [
            (Invoke, 0, acquire.clone(), 1),
            (Ok, 0, acquire.clone(), 2),
            (Invoke, 1, acquire.clone(), 3),
            (Ok, 1, acquire.clone(), 4),
            (Invoke, 0, release.clone(), 5),
            (Ok, 0, release.clone(), 6),
        ];
        let broken = history(&lines);
        let options = CheckOptions::default();
        let judged = check_mutex(&broken, &options).unwrap();
        assert!(
            matches!(&judged.judgement, Judgement::Violation { property, .. } if property == "lock-mutex"),
            "{judged:?}"
        );
        let reported = Locks::new(
            &Options::default(),
            Setup {
                clients: 2,
                reply_independent: false,
            },
        )
        .check(&broken, &options)
        .unwrap();
        assert_eq!(reported.judgement, Judgement::Valid);
        assert!(reported.explanation.contains("NOT linearizable"));
        let strict = Locks::new(
            &Options {
                judge_mutex: true,
                ..Options::default()
            },
            Setup {
                clients: 2,
                reply_independent: false,
            },
        );
        assert!(matches!(
            strict.check(&broken, &options).unwrap().judgement,
            Judgement::Violation { .. }
        ));
        // In turn: fine.
        let serial = [
            (Invoke, 0, acquire.clone(), 1),
            (Ok, 0, acquire.clone(), 2),
            (Invoke, 0, release.clone(), 3),
            (Ok, 0, release.clone(), 4),
            (Invoke, 1, acquire.clone(), 5),
            (Ok, 1, acquire, 6),
        ];
        assert_eq!(
            check_mutex(&history(&serial), &options).unwrap().judgement,
            Judgement::Valid
        );
    }
}
