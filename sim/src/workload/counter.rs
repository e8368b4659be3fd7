//! The counter workload: add a positive amount to a counter, or read it.
//!
//! Counters start at 0. Each client draws a counter uniformly from `keys`, then `add` or `read`
//! by the weights of `mix`; an `add` adds an amount drawn from `1..=add_max`. Draws never depend
//! on replies, so reply-independent draws change nothing here.
//!
//! The history is Jepsen's: `:f :add` with the amount, `:f :read` with `nil` at invocation and
//! the value read at `ok`, the counter as the independent key. It is judged linearizable per
//! counter against the `check` crate's `Counter` model: every read must equal the sum of the
//! adds linearized before it. An add applied twice — a duplicated request executed again — makes
//! some later read too large for any order, which is how the counter catches a service that
//! does not deduplicate.

use super::keys::KeyMap;
use super::{
    check_key_count, check_mix, key_of, linearizable, Entry, FieldError, HistoryCheck, Setup,
    Workload, Written,
};
use crate::check::{CheckOptions, Counter as CounterModel};
use crate::history::{Op, OpType, Value};
use crate::protocol::Key;
use crate::recorder::RecordedHistory;
use crate::rng::SimRng;
use crate::service::StateMachine;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Largest amount one add may draw.
pub const ADD_MAX: u32 = 1_000_000;

/// What a counter client asks.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Operation {
    /// Read a counter; the result is its value.
    Read {
        /// The counter.
        key: Key,
    },
    /// Add `amount` to a counter.
    Add {
        /// The counter.
        key: Key,
        /// How much to add.
        amount: i64,
    },
}

/// Relative weights of the operation kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mix {
    /// Weight of reads.
    #[serde(default)]
    pub read: u32,
    /// Weight of adds.
    #[serde(default)]
    pub add: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Mix { read: 1, add: 1 }
    }
}

/// The counter workload's fields of `[workload]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// How many counters.
    #[serde(default = "default_keys")]
    pub keys: u32,
    /// Relative weights of the operation kinds.
    #[serde(default)]
    pub mix: Mix,
    /// An add draws its amount from `1..=add_max`.
    #[serde(default = "default_add_max")]
    pub add_max: u32,
}

fn default_keys() -> u32 {
    1
}
fn default_add_max() -> u32 {
    5
}

impl Default for Options {
    fn default() -> Self {
        Options {
            keys: default_keys(),
            mix: Mix::default(),
            add_max: default_add_max(),
        }
    }
}

/// One run's counter workload.
#[derive(Clone, Debug)]
pub struct Counter {
    options: Options,
}

impl Workload for Counter {
    type Operation = Operation;
    type Output = Option<i64>;
    type Options = Options;

    const KIND: &'static str = "counter";

    fn check_options(options: &Options) -> Result<(), FieldError> {
        check_key_count(options.keys)?;
        check_mix(&[options.mix.read, options.mix.add])?;
        if options.add_max == 0 || options.add_max > ADD_MAX {
            return Err(FieldError::new(
                "add_max",
                format!("{} is outside 1..={ADD_MAX}", options.add_max),
            ));
        }
        Ok(())
    }

    fn new(options: &Options, _setup: Setup) -> Counter {
        Counter {
            options: options.clone(),
        }
    }

    fn next_operation(&mut self, _client: u32, rng: &mut SimRng) -> Operation {
        let key = rng.below(u64::from(self.options.keys));
        let mix = self.options.mix;
        if (rng.below(u64::from(mix.read + mix.add)) as u32) < mix.read {
            Operation::Read { key }
        } else {
            let amount = rng.between(1, u64::from(self.options.add_max)) as i64;
            Operation::Add { key, amount }
        }
    }

    fn write(operation: &Operation, output: Option<&Option<i64>>) -> Entry {
        let (function, key, value) = match *operation {
            Operation::Read { key } => (
                "read",
                key,
                match output {
                    Some(Some(value)) => Written::Int(*value),
                    _ => Written::Nil,
                },
            ),
            Operation::Add { key, amount } => ("add", key, Written::Int(amount)),
        };
        Entry {
            function,
            key: Some(key as i64),
            value,
        }
    }

    fn read(op: &Op) -> Result<(Operation, Option<Option<i64>>), String> {
        let key = key_of(op)?.ok_or("a counter operation needs a key")?;
        let key = Key::try_from(key).map_err(|_| format!("negative counter {key}"))?;
        let ok = op.kind == OpType::Ok;
        match (op.function.as_ref(), &op.value) {
            ("read", Value::Nil) => Ok((Operation::Read { key }, ok.then_some(None))),
            ("read", Value::Int(value)) => Ok((Operation::Read { key }, Some(Some(*value)))),
            ("add", Value::Int(amount)) => Ok((
                Operation::Add {
                    key,
                    amount: *amount,
                },
                ok.then_some(None),
            )),
            (function, value) => Err(format!("not a counter operation: {function} {value}")),
        }
    }

    fn check(
        &self,
        history: &RecordedHistory,
        options: &CheckOptions,
    ) -> Result<HistoryCheck, String> {
        linearizable::judge(history, &CounterModel, options)
    }
}

/// The counters as one sequential state machine, for protocols that replicate a log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    values: KeyMap<i64>,
}

impl Counters {
    /// A counter's value.
    pub fn get(&self, key: Key) -> i64 {
        self.values.get(key).copied().unwrap_or(0)
    }
}

impl StateMachine for Counters {
    type Workload = Counter;

    fn execute(&mut self, operation: &Operation) -> Result<Option<i64>, Cow<'static, str>> {
        match *operation {
            Operation::Read { key } => Ok(Some(self.get(key))),
            Operation::Add { key, amount } => {
                let value = self.values.get_or_insert_with(key, || 0);
                *value = value
                    .checked_add(amount)
                    .ok_or(Cow::Borrowed("add: the counter would overflow"))?;
                Ok(None)
            }
        }
    }

    fn is_read_only(operation: &Operation) -> bool {
        matches!(operation, Operation::Read { .. })
    }

    fn query(&self, operation: &Operation) -> Option<Option<i64>> {
        match *operation {
            Operation::Read { key } => Some(Some(self.get(key))),
            Operation::Add { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Process;

    #[test]
    fn operations_round_trip_through_the_history() {
        for (operation, output) in [
            (Operation::Read { key: 0 }, Some(Some(12))),
            (Operation::Add { key: 2, amount: 3 }, Some(None)),
        ] {
            let written = Counter::write(&operation, output.as_ref());
            let op = Op {
                index: 0,
                kind: OpType::Ok,
                process: Process::Client(1),
                function: written.function.into(),
                key: written.key.map(Value::Int),
                value: written.value.to_value(),
                time: 0,
                error: None,
            };
            assert_eq!(Counter::read(&op).unwrap(), (operation, output));
        }
    }

    #[test]
    fn adds_draw_amounts_within_bounds() {
        let options = Options {
            keys: 2,
            mix: Mix { read: 0, add: 1 },
            add_max: 3,
        };
        let setup = Setup {
            clients: 1,
            reply_independent: false,
        };
        let mut counter = Counter::new(&options, setup);
        let mut rng = SimRng::new(9);
        let mut seen = [false; 3];
        for _ in 0..300 {
            match counter.next_operation(0, &mut rng) {
                Operation::Add { key, amount } => {
                    assert!(key < 2);
                    seen[amount as usize - 1] = true;
                }
                Operation::Read { .. } => panic!("the mix has no reads"),
            }
        }
        assert_eq!(seen, [true; 3], "every amount in 1..=3 is drawn");
    }

    #[test]
    fn the_machine_adds_and_reads() {
        let mut counters = Counters::default();
        counters
            .execute(&Operation::Add { key: 1, amount: 4 })
            .unwrap();
        counters
            .execute(&Operation::Add { key: 1, amount: 2 })
            .unwrap();
        assert_eq!(counters.execute(&Operation::Read { key: 1 }), Ok(Some(6)));
        assert_eq!(counters.query(&Operation::Read { key: 0 }), Some(Some(0)));
    }
}
