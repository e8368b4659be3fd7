//! Differential test: on thousands of small random histories (with `info`, `fail`, never
//! completed and nemesis entries, and several keys) the checker agrees with a brute-force
//! checker that tries every order; and its evidence checks out on its own: a witness is a legal
//! order that respects real time, a violation's prefix is one too.
//!
//! The generator is seeded with fixed numbers, so a failure is reproducible; it prints the
//! history as EDN.

use check::brute_force;
use check::edn::write_edn;
use check::history::{History, Op, OpType, Process, Value};
use check::operation::{Completion, Operation};
use check::{
    check, check_parallel, CasRegister, CheckOptions, CheckResult, Counter, EtcdRegister, KeyValue,
    Model, Mutex, Verdict,
};

/// SplitMix64: a tiny fixed-seed generator, enough for test data.
struct Generator(u64);

impl Generator {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize].clone()
    }
}

/// What to invoke and what a completion may return, per model.
trait Workload {
    /// (function, key, invocation value).
    fn invoke(&self, generator: &mut Generator) -> (String, Option<Value>, Value);
    /// The value of an `ok` completion.
    fn result(&self, generator: &mut Generator, function: &str, input: &Value) -> Value;
}

struct RegisterWorkload {
    keys: bool,
}

fn small(generator: &mut Generator) -> Value {
    generator.pick(&[Value::Nil, Value::Int(0), Value::Int(1), Value::Int(2)])
}

impl Workload for RegisterWorkload {
    fn invoke(&self, generator: &mut Generator) -> (String, Option<Value>, Value) {
        let key = self
            .keys
            .then(|| generator.pick(&[Value::Str("a".into()), Value::Str("b".into())]));
        match generator.below(3) {
            0 => ("read".into(), key, Value::Nil),
            1 => ("write".into(), key, Value::Int(generator.below(3) as i64)),
            _ => {
                let from = small(generator);
                let to = Value::Int(generator.below(3) as i64);
                ("cas".into(), key, Value::List(vec![from, to]))
            }
        }
    }

    fn result(&self, generator: &mut Generator, function: &str, input: &Value) -> Value {
        if function == "read" {
            small(generator)
        } else {
            input.clone()
        }
    }
}

/// Writes of many distinct values, most never read: exercises the pruning of unobserved writes
/// (lazy placement, indeterminate writes never placed), of states left for good, and the cuts.
struct SparseRegisterWorkload;

impl Workload for SparseRegisterWorkload {
    fn invoke(&self, generator: &mut Generator) -> (String, Option<Value>, Value) {
        match generator.below(5) {
            0 | 1 => ("read".into(), None, Value::Nil),
            2 | 3 => ("write".into(), None, Value::Int(generator.below(6) as i64)),
            _ => {
                let from = Value::Int(generator.below(6) as i64);
                let to = Value::Int(generator.below(6) as i64);
                ("cas".into(), None, Value::List(vec![from, to]))
            }
        }
    }

    fn result(&self, generator: &mut Generator, function: &str, input: &Value) -> Value {
        if function == "read" {
            Value::Int(generator.below(3) as i64)
        } else {
            input.clone()
        }
    }
}

struct MutexWorkload;

impl Workload for MutexWorkload {
    fn invoke(&self, generator: &mut Generator) -> (String, Option<Value>, Value) {
        let function = generator.pick(&["acquire", "release"]);
        (function.into(), None, Value::Nil)
    }

    fn result(&self, _: &mut Generator, _: &str, _: &Value) -> Value {
        Value::Nil
    }
}

struct CounterWorkload;

impl Workload for CounterWorkload {
    fn invoke(&self, generator: &mut Generator) -> (String, Option<Value>, Value) {
        if generator.below(2) == 0 {
            ("read".into(), None, Value::Nil)
        } else {
            (
                "add".into(),
                None,
                Value::Int(1 + generator.below(2) as i64),
            )
        }
    }

    fn result(&self, generator: &mut Generator, function: &str, input: &Value) -> Value {
        if function == "read" {
            Value::Int(generator.below(5) as i64)
        } else {
            input.clone()
        }
    }
}

struct KeyValueWorkload;

impl Workload for KeyValueWorkload {
    fn invoke(&self, generator: &mut Generator) -> (String, Option<Value>, Value) {
        let key = Some(generator.pick(&[Value::Str("a".into()), Value::Str("b".into())]));
        let text = Value::Str(generator.pick(&["x", "y"]).into());
        match generator.below(3) {
            0 => ("get".into(), key, Value::Nil),
            1 => ("put".into(), key, text),
            _ => ("append".into(), key, text),
        }
    }

    fn result(&self, generator: &mut Generator, function: &str, input: &Value) -> Value {
        if function == "get" {
            Value::Str(generator.pick(&["", "x", "y", "xy", "yx", "xx"]).into())
        } else {
            input.clone()
        }
    }
}

/// A random well-formed history of at most `operations_max` client operations.
fn random_history(
    generator: &mut Generator,
    workload: &dyn Workload,
    operations_max: u64,
    open_tenths: u64,
) -> History {
    let processes = 1 + generator.below(3);
    let operation_count = 1 + generator.below(operations_max);
    let mut open: Vec<Option<(String, Option<Value>, Value)>> = vec![None; processes as usize];
    let mut invoked = 0;
    let mut ops = Vec::new();
    let push = |ops: &mut Vec<Op>, kind, process, function: String, key, value| {
        let index = ops.len() as u64;
        ops.push(Op {
            index,
            kind,
            process,
            function: function.into(),
            key,
            value,
            time: index,
            error: None,
        });
    };
    loop {
        let all_done = invoked == operation_count && open.iter().all(Option::is_none);
        if all_done {
            break;
        }
        if generator.below(12) == 0 {
            push(
                &mut ops,
                OpType::Info,
                Process::Named("nemesis".into()),
                "kill".into(),
                None,
                Value::Nil,
            );
        }
        let process = generator.below(processes) as usize;
        match open[process].take() {
            Some((function, key, input)) => {
                let roll = generator.below(10);
                let (kind, value) = match roll {
                    _ if roll < open_tenths => (OpType::Info, input.clone()),
                    _ if roll == open_tenths => (OpType::Fail, input.clone()),
                    // Leave it open to the end: a crashed client.
                    _ if roll == open_tenths + 1 && invoked == operation_count => continue,
                    _ => (OpType::Ok, workload.result(generator, &function, &input)),
                };
                push(
                    &mut ops,
                    kind,
                    Process::Client(process as u64),
                    function,
                    key,
                    value,
                );
            }
            None if invoked < operation_count => {
                let (function, key, input) = workload.invoke(generator);
                push(
                    &mut ops,
                    OpType::Invoke,
                    Process::Client(process as u64),
                    function.clone(),
                    key.clone(),
                    input.clone(),
                );
                open[process] = Some((function, key, input));
                invoked += 1;
            }
            None => {}
        }
    }
    History { ops }
}

/// Whether `order` (indices into `operations`) respects real time and is legal in the model,
/// per partition.
fn legal_order<M: Model>(model: &M, operations: &[Operation], order: &[usize]) -> bool {
    let end = |operation: &Operation| match operation.completion {
        Completion::Ok | Completion::Fail => operation.complete.unwrap_or(usize::MAX),
        _ => usize::MAX,
    };
    for (i, &earlier) in order.iter().enumerate() {
        for &later in &order[i + 1..] {
            if end(&operations[later]) < operations[earlier].invoke {
                return false;
            }
        }
    }
    let mut states = std::collections::BTreeMap::new();
    for &index in order {
        let operation = &operations[index];
        let op = if operation.completion == Completion::Fail {
            model
                .prepare_failed(operation)
                .unwrap()
                .expect("a dropped op is never ordered")
        } else {
            model.prepare(operation).unwrap()
        };
        let key = model.partition_key(operation);
        let state = states.get(&key).cloned().unwrap_or_else(|| model.init());
        match model.step(&state, &op) {
            Some(next) => states.insert(key, next),
            None => return false,
        };
    }
    true
}

fn assert_evidence<M: Model>(model: &M, history: &History, result: &CheckResult) {
    // The checker keeps each operation's span, and the named ones whole: both as pairing
    // the whole history gives them.
    let operations = check::operation::pair(history).unwrap().operations;
    let spans: Vec<_> = operations.iter().map(Operation::span).collect();
    assert_eq!(result.operations, spans);
    for (index, operation) in &result.named {
        assert_eq!(operation, &operations[*index]);
    }
    match result.verdict {
        Verdict::Linearizable => {
            let mut placed = vec![false; result.operations.len()];
            for witness in &result.witness {
                assert!(legal_order(model, &operations, &witness.order));
                for &index in &witness.order {
                    placed[index] = true;
                }
            }
            for (index, operation) in result.operations.iter().enumerate() {
                if operation.completion == Completion::Ok {
                    assert!(
                        placed[index],
                        "ok operation {index} missing from the witness"
                    );
                }
            }
        }
        Verdict::NotLinearizable => {
            let violation = result.violation.as_ref().unwrap();
            let prefix: Vec<usize> = violation.prefix.iter().map(|(index, _)| *index).collect();
            assert!(legal_order(model, &operations, &prefix));
            assert!(!prefix.contains(&violation.operation));
            assert!(result.named.contains_key(&violation.operation));
            assert!(prefix.iter().all(|index| result.named.contains_key(index)));
        }
        Verdict::Unknown => panic!("no budget limit was set"),
    }
}

/// The client entries of one partition, and the position of each in the whole history.
fn sub_history<M: Model>(
    history: &History,
    model: &M,
    key: &Option<Value>,
) -> (History, Vec<usize>) {
    let mut ops = Vec::new();
    let mut positions = Vec::new();
    for (position, op) in history.ops.iter().enumerate() {
        let operation = Operation {
            invoke: position,
            complete: None,
            completion: Completion::Open,
            process: op.process.clone(),
            function: op.function.clone(),
            key: op.key.clone(),
            input: op.value.clone(),
            output: None,
        };
        if op.process.is_client() && model.partition_key(&operation) == *key {
            ops.push(op.clone());
            positions.push(position);
        }
    }
    (History { ops }, positions)
}

fn agree<M>(model: &M, workload: &dyn Workload, seed: u64, count: usize)
where
    M: Model + Sync,
    M::Op: Send + Sync,
{
    agree_sized(model, workload, seed, count, 7, 2);
}

fn agree_sized<M>(
    model: &M,
    workload: &dyn Workload,
    seed: u64,
    count: usize,
    operations_max: u64,
    open_tenths: u64,
) where
    M: Model + Sync,
    M::Op: Send + Sync,
{
    let mut generator = Generator(seed);
    let mut verdicts = [0usize; 2];
    for case in 0..count {
        let history = random_history(&mut generator, workload, operations_max, open_tenths);
        let expected = brute_force::is_linearizable(&history, model).unwrap();
        let result = check(&history, model, &CheckOptions::default()).unwrap();
        let parallel = check_parallel(&history, model, &CheckOptions::default(), 2).unwrap();
        assert_eq!(
            parallel,
            result,
            "threads changed the result\n{}",
            write_edn(&history)
        );
        let found = result.verdict == Verdict::Linearizable;
        assert_eq!(
            found,
            expected,
            "case {case} of seed {seed}, model {}: checker says {}, brute force says {}\n{}",
            model.name(),
            result.verdict,
            expected,
            write_edn(&history)
        );
        assert_evidence(model, &history, &result);
        if let Some(violation) = &result.violation {
            // Within the violating partition, the stuck operation's completion is the first no
            // order gets past.
            let (partition, positions) = sub_history(&history, model, &violation.key);
            let furthest = brute_force::furthest_completion(&partition, model)
                .unwrap()
                .map(|position| positions[position]);
            assert_eq!(
                result.operations[violation.operation].complete,
                furthest,
                "case {case} of seed {seed}, model {}: evidence is not the furthest\n{}",
                model.name(),
                write_edn(&history)
            );
        }
        verdicts[usize::from(found)] += 1;
    }
    // Both verdicts must be well represented, or the test proves little.
    assert!(
        verdicts.iter().all(|&n| n * 10 >= count),
        "{}: verdicts too lopsided: {verdicts:?}",
        model.name()
    );
}

const CASES: usize = 2000;

#[test]
fn agrees_with_brute_force_on_cas_registers() {
    agree(
        &CasRegister::new(Value::Int(0)),
        &RegisterWorkload { keys: false },
        1,
        CASES,
    );
    agree(
        &CasRegister::strict(Value::Nil),
        &RegisterWorkload { keys: false },
        2,
        CASES,
    );
}

#[test]
fn agrees_with_brute_force_on_keyed_registers() {
    agree(
        &CasRegister::strict(Value::Nil),
        &RegisterWorkload { keys: true },
        3,
        CASES,
    );
}

#[test]
fn agrees_with_brute_force_on_etcd_registers() {
    agree(&EtcdRegister, &RegisterWorkload { keys: false }, 4, CASES);
}

#[test]
fn agrees_with_brute_force_on_mutexes_counters_and_maps() {
    agree(&Mutex, &MutexWorkload, 5, CASES);
    agree(&Counter, &CounterWorkload, 6, CASES);
    agree(&KeyValue, &KeyValueWorkload, 7, CASES);
}

#[test]
fn agrees_with_brute_force_on_sparse_registers_and_many_open_operations() {
    for (seed, open_tenths) in [(21, 2), (22, 6)] {
        agree_sized(
            &CasRegister::new(Value::Int(0)),
            &SparseRegisterWorkload,
            seed,
            CASES,
            9,
            open_tenths,
        );
        agree_sized(
            &CasRegister::strict(Value::Nil),
            &SparseRegisterWorkload,
            seed + 10,
            CASES,
            9,
            open_tenths,
        );
    }
    agree_sized(&EtcdRegister, &SparseRegisterWorkload, 23, CASES, 9, 5);
    agree_sized(
        &CasRegister::new(Value::Int(0)),
        &RegisterWorkload { keys: false },
        24,
        CASES,
        9,
        6,
    );
}

/// A heavier sweep, run on demand: `cargo test -p check --release -- --ignored`.
#[test]
#[ignore]
fn agrees_with_brute_force_on_larger_histories() {
    let count = 20_000;
    agree_sized(
        &CasRegister::new(Value::Int(0)),
        &RegisterWorkload { keys: false },
        11,
        count,
        9,
        2,
    );
    agree_sized(
        &CasRegister::strict(Value::Nil),
        &RegisterWorkload { keys: true },
        12,
        count,
        9,
        2,
    );
    agree_sized(
        &EtcdRegister,
        &RegisterWorkload { keys: false },
        13,
        count,
        9,
        2,
    );
    agree_sized(&Mutex, &MutexWorkload, 14, count, 9, 2);
    agree_sized(&Counter, &CounterWorkload, 15, count, 9, 2);
    agree_sized(&KeyValue, &KeyValueWorkload, 16, count, 9, 2);
    agree_sized(
        &CasRegister::new(Value::Int(0)),
        &SparseRegisterWorkload,
        17,
        count,
        10,
        5,
    );
}
