//! A seeded generator of hard histories, for the stress benchmark and tests.
//!
//! Clients run operations against one linearizable object (a register, or one key of a
//! key-value map): each operation takes effect at a point drawn between its invocation and its
//! completion, so the history is linearizable unless a violation is planted. What makes a
//! history hard is under control: how many clients (all busy all the time when `think` is 0,
//! so the history has no quiescent point), how many operations crash and stay indeterminate
//! (`info`; the client then continues as a new process, as in Jepsen), how long it is, and
//! whether one read late in the history is replaced by a stale one that no order explains.
//!
//! The same [`Shape`] gives the same history on every machine: the generator is SplitMix64
//! seeded with [`Shape::seed`].

use crate::history::{History, Op, OpType, Process, Value};

/// The object the clients use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Object {
    /// A compare-and-set register (check with [`crate::CasRegister`]): reads, writes of fresh
    /// values, compare-and-sets (a failed one is recorded as `fail`).
    Register,
    /// One key of a key-value map (check with [`crate::KeyValue`]): gets, puts and appends of
    /// fresh strings.
    KeyValue,
}

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// The object.
    pub object: Object,
    /// Client operations in the history.
    pub operations: usize,
    /// Clients running at once.
    pub clients: usize,
    /// Operations that crash (`info`); half of them took effect. Only writes and
    /// compare-and-sets (puts and appends) crash: an indeterminate read constrains nothing.
    pub open: usize,
    /// Whether a read late in the history returns a stale value (not linearizable).
    pub violation: bool,
    /// Longest pause of a client between operations, in time units (operations last 1 to 10);
    /// 0 keeps every client busy, so the history has no quiescent point.
    pub think: u64,
    /// The seed.
    pub seed: u64,
}

impl Shape {
    /// A register history of `operations` operations by `clients` busy clients.
    pub fn register(operations: usize, clients: usize) -> Shape {
        Shape {
            object: Object::Register,
            operations,
            clients,
            open: 0,
            violation: false,
            think: 0,
            seed: 1,
        }
    }
}

/// SplitMix64.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
    Cas,
    Append,
}

struct Planned {
    process: u64,
    kind: Kind,
    invoke: u64,
    effect: u64,
    complete: u64,
    /// Crashed: completes `info`, took effect only if `applied`.
    crashed: bool,
    applied: bool,
    /// Argument (write value, cas target, appended token).
    argument: i64,
    /// For a cas: the value it expects.
    expected: i64,
    /// Result, filled when effects are applied: what a read saw; whether a cas succeeded.
    seen: Option<Value>,
    succeeded: bool,
}

/// Generates the history `shape` describes.
pub fn generate(shape: &Shape) -> History {
    let mut random = Random(shape.seed ^ 0x5eed_5eed_5eed_5eed);
    let clients = shape.clients.max(1);
    let mut planned: Vec<Planned> = Vec::with_capacity(shape.operations);
    // Each client: (process, time it is free).
    let mut free: Vec<(u64, u64)> = (0..clients as u64).map(|c| (c, random.below(3))).collect();
    let mut next_process = clients as u64;
    // Which operations crash: spread evenly over the middle of the history.
    let crash_every = if shape.open == 0 {
        usize::MAX
    } else {
        (shape.operations / (shape.open + 1)).max(1)
    };
    let mut crashes = 0;
    for n in 0..shape.operations {
        // A fresh value per operation: written values are unique.
        let fresh = n as i64 + 1;
        // The client free first (ties by index) invokes next.
        let client = (0..clients)
            .min_by_key(|&c| (free[c].1, c))
            .expect("a client");
        let invoke = free[client].1;
        let roll = random.below(100);
        let kind = match shape.object {
            Object::Register if roll < 50 => Kind::Read,
            Object::Register if roll < 85 => Kind::Write,
            Object::Register => Kind::Cas,
            Object::KeyValue if roll < 50 => Kind::Read,
            Object::KeyValue if roll < 60 => Kind::Write,
            Object::KeyValue => Kind::Append,
        };
        let crash = kind != Kind::Read
            && crashes < shape.open
            && n >= crash_every * (crashes + 1)
            && n < shape.operations.saturating_sub(2);
        let duration = 1 + random.below(10);
        let effect = invoke * 4 + 1 + random.below(duration * 4 - 1);
        let complete = invoke + duration;
        planned.push(Planned {
            process: free[client].0,
            kind,
            invoke: invoke * 4,
            effect,
            complete: complete * 4,
            crashed: crash,
            applied: !crash || random.below(2) == 0,
            argument: fresh,
            expected: 0,
            seen: None,
            succeeded: false,
        });
        if crash {
            crashes += 1;
            free[client].0 = next_process;
            next_process += 1;
        }
        free[client].1 = complete
            + if shape.think == 0 {
                0
            } else {
                random.below(shape.think + 1)
            };
    }
    // Apply effects in order of their points.
    let mut order: Vec<usize> = (0..planned.len()).collect();
    order.sort_by_key(|&i| (planned[i].effect, i));
    let mut register = Value::Nil;
    let mut recent: Vec<i64> = Vec::new();
    let mut text = String::new();
    for &i in &order {
        let op = &mut planned[i];
        match (shape.object, op.kind) {
            (Object::Register, Kind::Read) => op.seen = Some(register.clone()),
            (Object::Register, Kind::Write) => {
                if op.applied {
                    register = Value::Int(op.argument);
                    recent.push(op.argument);
                }
            }
            (Object::Register, _) => {
                // Half the compare-and-sets expect the current value.
                let current = match register {
                    Value::Int(v) => v,
                    _ => 0,
                };
                op.expected = if random.below(2) == 0 || recent.is_empty() {
                    current
                } else {
                    recent[recent.len() - 1 - random.below(recent.len().min(4) as u64) as usize]
                };
                op.succeeded = register == Value::Int(op.expected);
                if op.succeeded && op.applied {
                    register = Value::Int(op.argument);
                    recent.push(op.argument);
                }
            }
            (Object::KeyValue, Kind::Read) => op.seen = Some(Value::Str(text.clone())),
            (Object::KeyValue, Kind::Write) => {
                if op.applied {
                    text = format!("p{} ", op.argument);
                }
            }
            (Object::KeyValue, _) => {
                if op.applied {
                    text.push_str(&format!("{} ", op.argument));
                }
            }
        }
        // A crashed cas that could not succeed must not be recorded as one that might have.
        if op.kind == Kind::Cas && op.crashed && !op.succeeded {
            op.applied = false;
        }
    }
    if shape.violation {
        plant_violation(&mut planned, shape.object);
    }
    history_of(&planned, shape.object)
}

/// Replaces the result of a read late in the history by a value overwritten before the read
/// was invoked by a write that also completed before: no order explains it.
fn plant_violation(planned: &mut [Planned], object: Object) {
    let writes: Vec<usize> = (0..planned.len())
        .filter(|&i| planned[i].kind == Kind::Write && !planned[i].crashed)
        .collect();
    let start = planned.len() * 9 / 10;
    for r in start..planned.len() {
        if planned[r].kind != Kind::Read {
            continue;
        }
        let invoke = planned[r].invoke;
        let Some(&newer) = writes.iter().rev().find(|&&w| planned[w].complete < invoke) else {
            continue;
        };
        let Some(&older) = writes
            .iter()
            .rev()
            .find(|&&w| planned[w].complete < planned[newer].invoke)
        else {
            continue;
        };
        planned[r].seen = Some(match object {
            Object::Register => Value::Int(planned[older].argument),
            // The older put's text alone: every later state extends the newer put's.
            Object::KeyValue => Value::Str(format!("p{} ", planned[older].argument)),
        });
        return;
    }
}

fn history_of(planned: &[Planned], object: Object) -> History {
    // (time, order, operation index, is invocation)
    let mut events: Vec<(u64, usize, usize, bool)> = Vec::with_capacity(planned.len() * 2);
    for (i, op) in planned.iter().enumerate() {
        events.push((op.invoke, 1, i, true));
        events.push((op.complete, 0, i, false));
    }
    // Completions before invocations at the same time: an operation that ends when another
    // begins precedes it.
    events.sort();
    let mut ops = Vec::with_capacity(events.len());
    for (time, _, i, invocation) in events {
        let op = &planned[i];
        if !invocation && op.crashed && op.process.is_multiple_of(3) {
            // Some crashed clients never even report `info`: the invocation stays open.
            continue;
        }
        let (function, input) = match (object, op.kind) {
            (Object::Register, Kind::Read) => ("read", Value::Nil),
            (Object::Register, Kind::Write) => ("write", Value::Int(op.argument)),
            (Object::Register, _) => (
                "cas",
                Value::List(vec![Value::Int(op.expected), Value::Int(op.argument)]),
            ),
            (Object::KeyValue, Kind::Read) => ("get", Value::Nil),
            (Object::KeyValue, Kind::Write) => ("put", Value::Str(format!("p{} ", op.argument))),
            (Object::KeyValue, _) => ("append", Value::Str(format!("{} ", op.argument))),
        };
        let (kind, value) = if invocation {
            (OpType::Invoke, input)
        } else if op.crashed {
            (OpType::Info, input)
        } else if op.kind == Kind::Read {
            (OpType::Ok, op.seen.clone().unwrap_or(Value::Nil))
        } else if op.kind == Kind::Cas && !op.succeeded {
            (OpType::Fail, input)
        } else {
            (OpType::Ok, input)
        };
        let key = (object == Object::KeyValue).then(|| Value::Str("k".to_string()));
        ops.push(Op {
            index: ops.len() as u64,
            kind,
            process: Process::Client(op.process),
            function: function.to_string().into(),
            key,
            value,
            time,
            error: None,
        });
    }
    History { ops }
}
