//! The key-value register workload: read, write and compare-and-set on integer registers.
//!
//! Every register starts unwritten (`nil`). Each client draws a key uniformly, then an operation
//! kind by the weights of `mix`. By default the draws learn from replies, as a real client
//! would: a write's value is unique across the run, and a compare-and-set expects the value the
//! client last saw in that register, so that compare-and-sets often succeed. With reply-
//! independent draws (`reply_independent = true` in `[workload]`), a client's operations depend
//! only on the seed and the client: values are drawn from a small domain (`values`, as Jepsen's
//! `cas-register` test draws from `(rand-int 5)`), and compare-and-sets expect a drawn value.
//!
//! The history is Jepsen's: `:f :read` (value `nil` at invocation, the value read at `ok`),
//! `:f :write` (the value), `:f :cas` (`[from to]`), with the register as the independent key.
//! It is judged linearizable per key against the compare-and-set register with **strict**
//! reads: a read of `nil` means the register was never written. Knossos's lenient model lets a
//! `nil` read match anything, and so would accept the very data loss the unreplicated store's
//! canary is there to show.

use super::keys::KeyMap;
use super::{
    check_key_count, check_mix, key_of, linearizable, Entry, FieldError, HistoryCheck, Setup,
    Workload, Written,
};
use crate::check::{CasRegister, CheckOptions};
use crate::history::{Op, OpType, Value};
use crate::protocol::Key;
use crate::recorder::RecordedHistory;
use crate::rng::SimRng;
use crate::service::StateMachine;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// What a register client asks.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Operation {
    /// Read a register; the result is its value (`None` when never written).
    Read {
        /// The register.
        key: Key,
    },
    /// Overwrite a register.
    Write {
        /// The register.
        key: Key,
        /// The new value.
        value: i64,
    },
    /// Set a register to `to` only if it holds `from`; otherwise fail without effect.
    Cas {
        /// The register.
        key: Key,
        /// The expected current value.
        from: i64,
        /// The new value.
        to: i64,
    },
}

impl Operation {
    /// The register the operation touches.
    pub fn key(&self) -> Key {
        match *self {
            Operation::Read { key } | Operation::Write { key, .. } | Operation::Cas { key, .. } => {
                key
            }
        }
    }
}

/// Relative weights of the operation kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mix {
    /// Weight of reads.
    #[serde(default)]
    pub read: u32,
    /// Weight of writes.
    #[serde(default)]
    pub write: u32,
    /// Weight of compare-and-sets.
    #[serde(default)]
    pub cas: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            read: 2,
            write: 1,
            cas: 1,
        }
    }
}

/// The register workload's fields of `[workload]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// How many registers.
    #[serde(default = "default_keys")]
    pub keys: u32,
    /// Relative weights of the operation kinds.
    #[serde(default)]
    pub mix: Mix,
    /// With reply-independent draws, values are drawn from `0..values`.
    #[serde(default = "default_values")]
    pub values: u32,
}

fn default_keys() -> u32 {
    3
}
fn default_values() -> u32 {
    5
}

impl Default for Options {
    fn default() -> Self {
        Options {
            keys: default_keys(),
            mix: Mix::default(),
            values: default_values(),
        }
    }
}

/// One run's register workload: its options and what each client knows.
#[derive(Clone, Debug)]
pub struct Register {
    options: Options,
    reply_independent: bool,
    /// The last value handed out; writes and compare-and-sets write unique values.
    value_last: i64,
    /// Per client, the value it last saw of each register it has seen (reply-dependent draws
    /// only). A map, not a table of every register, so that memory follows what clients did,
    /// not clients × keys (10,000 clients of a million registers would need 160 GB).
    known: Vec<KeyMap<Option<i64>>>,
}

impl Workload for Register {
    type Operation = Operation;
    type Output = Option<i64>;
    type Options = Options;

    const KIND: &'static str = "register";

    fn check_options(options: &Options) -> Result<(), FieldError> {
        check_key_count(options.keys)?;
        let mix = options.mix;
        check_mix(&[mix.read, mix.write, mix.cas])?;
        if options.values == 0 {
            return Err(FieldError::new("values", "must be at least 1"));
        }
        Ok(())
    }

    fn new(options: &Options, setup: Setup) -> Register {
        let known = if setup.reply_independent {
            Vec::new()
        } else {
            vec![KeyMap::new(); setup.clients as usize]
        };
        Register {
            options: options.clone(),
            reply_independent: setup.reply_independent,
            value_last: 0,
            known,
        }
    }

    fn next_operation(&mut self, client: u32, rng: &mut SimRng) -> Operation {
        let key = rng.below(u64::from(self.options.keys));
        let mix = self.options.mix;
        let pick = rng.below(u64::from(mix.read + mix.write + mix.cas)) as u32;
        if pick < mix.read {
            return Operation::Read { key };
        }
        let write = pick < mix.read + mix.write;
        if self.reply_independent {
            let values = u64::from(self.options.values);
            let value = rng.below(values) as i64;
            return if write {
                Operation::Write { key, value }
            } else {
                let to = rng.below(values) as i64;
                Operation::Cas {
                    key,
                    from: value,
                    to,
                }
            };
        }
        self.value_last += 1;
        if write {
            Operation::Write {
                key,
                value: self.value_last,
            }
        } else {
            Operation::Cas {
                key,
                from: self.known[client as usize]
                    .get(key)
                    .copied()
                    .flatten()
                    .unwrap_or(0),
                to: self.value_last,
            }
        }
    }

    fn observe(
        &mut self,
        client: u32,
        operation: &Operation,
        completion: &crate::completion::Completion<Option<i64>>,
    ) {
        let Some(output) = completion.output() else {
            return;
        };
        let known = &mut self.known[client as usize];
        let (key, seen) = match *operation {
            Operation::Read { key } => (key, *output),
            Operation::Write { key, value } => (key, Some(value)),
            Operation::Cas { key, to, .. } => (key, Some(to)),
        };
        known.insert(key, seen);
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
            Operation::Write { key, value } => ("write", key, Written::Int(value)),
            Operation::Cas { key, from, to } => ("cas", key, Written::Pair(from, to)),
        };
        Entry {
            function,
            key: Some(key as i64),
            value,
        }
    }

    fn read(op: &Op) -> Result<(Operation, Option<Option<i64>>), String> {
        let key = key_of(op)?.ok_or("a register operation needs a key")?;
        let key = Key::try_from(key).map_err(|_| format!("negative register {key}"))?;
        let ok = op.kind == OpType::Ok;
        match (op.function.as_ref(), &op.value) {
            ("read", Value::Nil) => Ok((Operation::Read { key }, ok.then_some(None))),
            ("read", Value::Int(value)) => Ok((Operation::Read { key }, Some(Some(*value)))),
            ("write", Value::Int(value)) => {
                Ok((Operation::Write { key, value: *value }, ok.then_some(None)))
            }
            ("cas", Value::List(pair)) => match pair.as_slice() {
                [Value::Int(from), Value::Int(to)] => Ok((
                    Operation::Cas {
                        key,
                        from: *from,
                        to: *to,
                    },
                    ok.then_some(None),
                )),
                _ => Err(format!("cas expects [from to], found {}", op.value)),
            },
            (function, value) => Err(format!("not a register operation: {function} {value}")),
        }
    }

    fn check(
        &self,
        history: &RecordedHistory,
        options: &CheckOptions,
    ) -> Result<HistoryCheck, String> {
        linearizable::judge(history, &CasRegister::strict(Value::Nil), options)
    }
}

/// The registers as one sequential state machine, for protocols that replicate a log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registers {
    values: KeyMap<i64>,
}

impl Registers {
    /// A register's value (`None` when never written).
    pub fn get(&self, key: Key) -> Option<i64> {
        self.values.get(key).copied()
    }
}

impl StateMachine for Registers {
    type Workload = Register;

    fn execute(&mut self, operation: &Operation) -> Result<Option<i64>, Cow<'static, str>> {
        match *operation {
            Operation::Read { key } => Ok(self.get(key)),
            Operation::Write { key, value } => {
                self.values.insert(key, value);
                Ok(None)
            }
            Operation::Cas { key, from, to } => match self.values.get_mut(key) {
                Some(current) if *current == from => {
                    *current = to;
                    Ok(None)
                }
                // A static reason: every replica applies every compare-and-set, so formatting
                // one would cost an allocation per replica per failed compare-and-set.
                _ => Err(Cow::Borrowed(
                    "cas: the register did not hold the expected value",
                )),
            },
        }
    }

    fn is_read_only(operation: &Operation) -> bool {
        matches!(operation, Operation::Read { .. })
    }

    fn query(&self, operation: &Operation) -> Option<Option<i64>> {
        match *operation {
            Operation::Read { key } => Some(self.get(key)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::completion::Completion;
    use crate::history::Process;

    fn entry(kind: OpType, operation: &Operation, output: Option<&Option<i64>>) -> Op {
        let written = Register::write(operation, output);
        Op {
            index: 0,
            kind,
            process: Process::Client(0),
            function: written.function.into(),
            key: written.key.map(Value::Int),
            value: written.value.to_value(),
            time: 0,
            error: None,
        }
    }

    #[test]
    fn operations_round_trip_through_the_history() {
        let cases = [
            (Operation::Read { key: 2 }, Some(Some(7))),
            (Operation::Read { key: 2 }, Some(None)),
            (Operation::Write { key: 0, value: -3 }, Some(None)),
            (
                Operation::Cas {
                    key: 1,
                    from: 4,
                    to: 5,
                },
                Some(None),
            ),
        ];
        for (operation, output) in cases {
            let op = entry(OpType::Ok, &operation, output.as_ref());
            assert_eq!(Register::read(&op).unwrap(), (operation, output));
        }
        let invoke = entry(OpType::Invoke, &Operation::Read { key: 3 }, None);
        assert_eq!(invoke.value, Value::Nil);
        assert_eq!(
            Register::read(&invoke).unwrap(),
            (Operation::Read { key: 3 }, None)
        );
    }

    #[test]
    fn reply_dependent_cas_expects_what_the_client_last_saw() {
        let options = Options {
            keys: 1,
            mix: Mix {
                read: 0,
                write: 0,
                cas: 1,
            },
            values: 5,
        };
        let setup = Setup {
            clients: 2,
            reply_independent: false,
        };
        let mut register = Register::new(&options, setup);
        let mut rng = SimRng::new(1);
        let first = register.next_operation(0, &mut rng);
        assert_eq!(
            first,
            Operation::Cas {
                key: 0,
                from: 0,
                to: 1
            }
        );
        register.observe(0, &Operation::Read { key: 0 }, &Completion::Ok(Some(9)));
        assert_eq!(
            register.next_operation(0, &mut rng),
            Operation::Cas {
                key: 0,
                from: 9,
                to: 2
            }
        );
        // The other client saw nothing.
        assert_eq!(
            register.next_operation(1, &mut rng),
            Operation::Cas {
                key: 0,
                from: 0,
                to: 3
            }
        );
    }

    #[test]
    fn reply_independent_draws_stay_in_the_value_domain() {
        let setup = Setup {
            clients: 1,
            reply_independent: true,
        };
        let mut register = Register::new(&Options::default(), setup);
        let mut rng = SimRng::new(3);
        for _ in 0..200 {
            match register.next_operation(0, &mut rng) {
                Operation::Write { value, .. } => assert!((0..5).contains(&value)),
                Operation::Cas { from, to, .. } => {
                    assert!((0..5).contains(&from) && (0..5).contains(&to))
                }
                Operation::Read { key } => assert!(key < 3),
            }
        }
    }

    #[test]
    fn a_failed_cas_leaves_the_register_alone() {
        let mut registers = Registers::default();
        registers
            .execute(&Operation::Write { key: 1, value: 4 })
            .unwrap();
        assert!(registers
            .execute(&Operation::Cas {
                key: 1,
                from: 5,
                to: 6
            })
            .is_err());
        assert_eq!(registers.get(1), Some(4));
        assert_eq!(
            registers.execute(&Operation::Cas {
                key: 1,
                from: 4,
                to: 6
            }),
            Ok(None)
        );
        assert_eq!(registers.query(&Operation::Read { key: 1 }), Some(Some(6)));
    }

    #[test]
    fn options_out_of_range_name_their_field() {
        let mut options = Options {
            keys: 0,
            ..Options::default()
        };
        assert_eq!(Register::check_options(&options).unwrap_err().field, "keys");
        options.keys = 1;
        options.mix = Mix {
            read: 0,
            write: 0,
            cas: 0,
        };
        assert_eq!(Register::check_options(&options).unwrap_err().field, "mix");
    }
}
