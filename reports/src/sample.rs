//! A synthetic run for examples, documentation and end-to-end tests of the reports.
//!
//! [`sample_run`] builds, without the engine, a ten-second run of a three-node cluster with five
//! clients: a partition, a crash, a pause, a clock jump, then a heal; operations that succeed,
//! fail and time out; one operation that never completes; and a linearizability violation with
//! the operation the checker could not place. Everything is derived from a small fixed
//! generator, so the run is the same on every machine.

use sim::history::{History, Op, OpType, Process, Value};
use sim::outcome::{FaultKind, FaultWindow, LeaderChange, RunData, RunStats, Verdict};
use sim::protocol::NodeId;
use sim::time::{SimTime, NANOS_PER_MILLI};

/// A tiny deterministic generator (SplitMix64), enough to vary latencies.
struct Mixer(u64);

impl Mixer {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `low..high`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low)
    }
}

const MILLI: u64 = NANOS_PER_MILLI;
const CLIENTS: u64 = 5;
const RUN_END: u64 = 10_000 * MILLI;
const TIMEOUT: u64 = 500 * MILLI;

fn window(
    kind: FaultKind,
    label: &str,
    node: u32,
    start_millis: u64,
    end_millis: u64,
) -> FaultWindow {
    FaultWindow {
        kind,
        label: label.to_string(),
        nodes: vec![NodeId(node)],
        start: SimTime(start_millis * MILLI),
        end: Some(SimTime(end_millis * MILLI)),
        activity: None,
    }
}

/// The sample's fault windows.
fn faults() -> Vec<FaultWindow> {
    vec![
        window(FaultKind::Partition, "isolate n0 (leader)", 0, 2_000, 4_000),
        window(FaultKind::Clock, "clock jump n2 +300ms", 2, 4_500, 4_500),
        window(FaultKind::Crash, "crash n1", 1, 6_000, 7_000),
        window(FaultKind::Pause, "pause n2", 2, 7_200, 7_600),
    ]
}

/// How an operation invoked at `time` ends: outcome and latency.
fn outcome_at(time: u64, client: u64, mixer: &mut Mixer) -> (OpType, u64) {
    let roll = mixer.next() % 100;
    let millis = time / MILLI;
    if (2_000..2_300).contains(&millis) {
        // The leader is cut off: requests time out until a new leader is elected.
        return (OpType::Info, TIMEOUT);
    }
    if (2_300..4_000).contains(&millis) && client < 2 {
        // These clients still talk to the old, isolated leader: it rejects them quickly.
        return if roll < 70 {
            (OpType::Fail, mixer.between(1, 4) * MILLI)
        } else {
            (OpType::Info, TIMEOUT)
        };
    }
    if (6_000..7_000).contains(&millis) {
        // A follower is down: commits wait on the slower remaining quorum.
        return if roll < 10 {
            (OpType::Info, TIMEOUT)
        } else {
            (OpType::Ok, mixer.between(40, 250) * MILLI)
        };
    }
    if (7_200..7_600).contains(&millis) {
        return (OpType::Ok, mixer.between(20, 420) * MILLI);
    }
    if roll < 3 {
        return (OpType::Fail, mixer.between(1, 3) * MILLI);
    }
    // Normal operation: a few milliseconds, with a tail.
    let latency_micros = if roll < 95 {
        mixer.between(1_500, 9_000)
    } else {
        mixer.between(9_000, 60_000)
    };
    (OpType::Ok, latency_micros * 1_000)
}

struct Planned {
    client: u64,
    function: &'static str,
    invoke: u64,
    completion: Option<(OpType, u64)>,
    value: i64,
}

/// The sample run. See the module docs for what it contains.
pub fn sample_run() -> RunData {
    let mut mixer = Mixer(7);
    let mut planned = Vec::new();
    for client in 0..CLIENTS {
        let mut time = client * 7 * MILLI;
        let mut count = 0i64;
        while time < RUN_END - 200 * MILLI {
            let function = ["read", "write", "cas"][(mixer.next() % 3) as usize];
            let (kind, latency) = outcome_at(time, client, &mut mixer);
            count += 1;
            // Client 4's operation at about 9.5 s never completes: the run ends first.
            let never = client == 4 && time >= 9_500 * MILLI;
            planned.push(Planned {
                client,
                function,
                invoke: time,
                completion: (!never).then_some((kind, time + latency)),
                value: count,
            });
            if never {
                break;
            }
            time += latency + mixer.between(20, 120) * MILLI;
        }
    }
    let history = history_of(&planned);
    let stuck = history
        .ops
        .iter()
        .find(|op| op.kind == OpType::Ok && op.time >= 8_400 * MILLI && op.function == "read")
        .map(|op| op.index);
    let (mut ok, mut fail, mut info) = (0, 0, 0);
    for op in &history.ops {
        match op.kind {
            OpType::Ok => ok += 1,
            OpType::Fail => fail += 1,
            OpType::Info => info += 1,
            OpType::Invoke => {}
        }
    }
    RunData {
        scenario: "sample-partition-crash".to_string(),
        protocol: "raft".to_string(),
        workload: "register".to_string(),
        bug: None,
        expected: None,
        seed: 42,
        node_count: 3,
        clients: CLIENTS as u32,
        reproduce: "detsim run scenarios/sample-partition-crash.toml --seed 42".to_string(),
        verdict: Verdict::SafetyViolation {
            property: "linearizability".to_string(),
            detail: "read returned a value overwritten before it was invoked".to_string(),
            time: SimTime(RUN_END),
        },
        stats: RunStats {
            events: 48_213,
            messages_sent: 21_870,
            messages_delivered: 20_115,
            messages_dropped: 1_893,
            messages_duplicated: 138,
            operations_ok: ok,
            operations_fail: fail,
            operations_info: info,
            persists: 3_402,
            simulated_time: SimTime(RUN_END),
            ..RunStats::default()
        },
        fingerprint: "5d1c0ffee0ddba11".to_string(),
        faults: faults(),
        history: history.into(),
        heal_time: Some(SimTime(8_000 * MILLI)),
        stuck_operation: stuck,
        conflicting_operations: Vec::new(),
        check_explanation: None,
        figures: Default::default(),
        leaders: vec![
            LeaderChange {
                time: SimTime(50 * MILLI),
                node: NodeId(0),
                term: 1,
            },
            LeaderChange {
                time: SimTime(2_300 * MILLI),
                node: NodeId(1),
                term: 2,
            },
        ],
    }
}

/// Lays planned operations out as a history in order of time (ties: invocations after
/// completions, then by client).
fn history_of(planned: &[Planned]) -> History {
    // (time, completion first, client, kind, function, value)
    let mut entries: Vec<(u64, u8, u64, OpType, &str, Value)> = Vec::new();
    for operation in planned {
        let key = operation.client % 2;
        let argument = match operation.function {
            "read" => Value::Nil,
            "write" => Value::Int(operation.value),
            _ => Value::List(vec![
                Value::Int(operation.value - 1),
                Value::Int(operation.value),
            ]),
        };
        entries.push((
            operation.invoke,
            1,
            operation.client,
            OpType::Invoke,
            operation.function,
            argument.clone(),
        ));
        if let Some((kind, time)) = operation.completion {
            let result = match (operation.function, kind) {
                ("read", OpType::Ok) => Value::Int(operation.value + key as i64),
                _ => argument,
            };
            entries.push((time, 0, operation.client, kind, operation.function, result));
        }
    }
    entries.sort_by_key(|entry| (entry.0, entry.1, entry.2));
    let ops = entries
        .into_iter()
        .enumerate()
        .map(|(index, (time, _, client, kind, function, value))| Op {
            index: index as u64,
            kind,
            process: Process::Client(client),
            function: function.to_string().into(),
            key: Some(Value::Str(format!("k{}", client % 2))),
            value,
            time,
            error: match kind {
                OpType::Info => Some("timeout".into()),
                OpType::Fail => Some("not-leader".into()),
                _ => None,
            },
        })
        .collect();
    History { ops }
}
