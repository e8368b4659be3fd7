//! The fuzz harness: proptest strategies that generate structurally valid but extreme input for
//! the three loaders a user feeds — scenario files, history files and failure artifacts — and
//! push each through everything that reads it. The promise under test: whatever the input, a
//! clear error or a verdict, never a panic, and never a run that a correct protocol fails with
//! an engine panic.
//!
//! Values are drawn from a mixture: mostly the small, sensible values that get past validation
//! (so the engine runs; each field is extreme in about one case in twenty or thirty, so that a
//! useful share of whole scenarios validates), and a share of the extremes that break arithmetic — 0, 1, `u32::MAX`,
//! `u32::MAX + 1`, `i64::MAX`, `u64::MAX`, `i64::MIN`, the limits the validation names, one
//! past them. A scenario that validates is run with its event count capped, so every case ends
//! quickly whatever its duration and rate.
//!
//! - Bounded (the default suite): `cargo test --bin detsim fuzz_harness`, a few seconds, a
//!   fixed seed, so it is reproducible.
//! - Long (ignored): `DETSIM_FUZZ_SECONDS=1800 DETSIM_FUZZ_SEED=7 cargo test --release --bin
//!   detsim fuzz_harness -- --ignored --nocapture fuzz_scenarios_long` (likewise
//!   `fuzz_histories_long`, `fuzz_artifacts_long`); prints the executions.
//!
//! Inputs that once broke something are kept in `tests/fixtures/fuzz-corpus/` and run by the
//! default suite ([`corpus_inputs_never_panic`]).

use crate::artifact::{parse_scenario, Artifact, FORMAT};
use crate::run_command::run_traced;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use sim::outcome::Verdict;
use sim::scenario::Scenario;
use std::fmt::Write as _;
use std::path::Path;

/// Events a generated scenario may run for: enough to reach faults, heal and liveness in short
/// runs, bounded so that a case takes milliseconds.
const EVENTS_MAX: u64 = 20_000;

// ----- value strategies -----

fn extreme_u64() -> BoxedStrategy<u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(u64::from(u32::MAX)),
        Just(u64::from(u32::MAX) + 1),
        Just(i64::MAX as u64),
        Just(i64::MAX as u64 + 1),
        Just(u64::MAX),
        Just(u64::MAX - 1),
        any::<u64>(),
    ]
    .boxed()
}

fn extreme_i64() -> BoxedStrategy<i64> {
    prop_oneof![
        Just(i64::MIN),
        Just(i64::MIN + 1),
        Just(i64::MAX),
        Just(-1i64),
        Just(0),
        Just(500_000),
        Just(500_001),
        Just(-500_001),
        any::<i64>(),
    ]
    .boxed()
}

/// A small count mostly, sometimes an extreme one.
fn count(small: u64) -> BoxedStrategy<u64> {
    prop_oneof![24 => 0..=small, 1 => extreme_u64()].boxed()
}

const UNITS: [&str; 6] = ["ns", "us", "ms", "s", "m", "min"];

/// A duration string: mostly milliseconds to seconds, sometimes an extreme count of a unit.
fn duration() -> BoxedStrategy<String> {
    prop_oneof![
        40 => (1u64..3000).prop_map(|ms| format!("{ms}ms")),
        1 => Just("0".to_string()),
        2 => (extreme_u64(), prop::sample::select(UNITS.to_vec()))
            .prop_map(|(n, unit)| format!("{n}{unit}")),
        1 => prop::sample::select(vec![
            "86400000s", "86400001s", "500000s", "500001s", "1000000s", "18446744073s",
            "18446744073709551615ns", "9223372036s", "1440000m", "100000000s",
        ]).prop_map(str::to_string),
    ]
    .boxed()
}

fn signed_duration() -> BoxedStrategy<String> {
    (any::<bool>(), duration())
        .prop_map(|(negative, d)| if negative { format!("-{d}") } else { d })
        .boxed()
}

fn ratio() -> BoxedStrategy<String> {
    prop_oneof![
        3 => (0u64..5, 1u64..100).prop_map(|(a, b)| format!("{}/{b}", a.min(b))),
        1 => Just("0".to_string()),
        1 => Just("1".to_string()),
        1 => (extreme_u64(), extreme_u64()).prop_map(|(a, b)| format!("{a}/{b}")),
    ]
    .boxed()
}

/// A node reference as TOML: mostly a valid number, sometimes a name or an extreme value.
fn node() -> BoxedStrategy<String> {
    prop_oneof![
        30 => (0u32..6).prop_map(|n| n.to_string()),
        1 => Just("\"leader\"".to_string()),
        1 => Just("\"random\"".to_string()),
        1 => prop::sample::select(vec!["-1", "4294967296", "1.5", "64", "\"nobody\"", "true"])
            .prop_map(str::to_string),
        1 => extreme_i64().prop_map(|n| n.to_string()),
    ]
    .boxed()
}

fn latency() -> BoxedStrategy<String> {
    prop_oneof![
        (duration()).prop_map(|v| format!("{{ dist = \"constant\", value = \"{v}\" }}")),
        (duration(), duration())
            .prop_map(|(a, b)| format!("{{ dist = \"uniform\", min = \"{a}\", max = \"{b}\" }}")),
        (duration(), duration(), duration()).prop_map(|(a, m, b)| format!(
            "{{ dist = \"exponential\", min = \"{a}\", mean = \"{m}\", max = \"{b}\" }}"
        )),
        (duration(), duration(), duration(), duration()).prop_map(|(m, s, a, b)| format!(
            "{{ dist = \"normal\", mean = \"{m}\", stddev = \"{s}\", min = \"{a}\", max = \"{b}\" }}"
        )),
        (duration(), count(3000), duration()).prop_map(|(m, s, b)| format!(
            "{{ dist = \"lognormal\", median = \"{m}\", sigma_milli = {s}, max = \"{b}\" }}"
        )),
    ]
    .boxed()
}

// ----- scenarios -----

const ACTIONS: [&str; 12] = [
    "partition",
    "cut",
    "heal",
    "crash",
    "restart",
    "pause",
    "resume",
    "clock-jump",
    "clock-drift",
    "network",
    "add-server",
    "remove-server",
];

/// One `[[faults]]` entry: the fields its action needs (so that many validate), each with a
/// chance of an extreme value, and sometimes a `for`.
fn fault() -> BoxedStrategy<String> {
    (
        duration(),
        prop::sample::select(ACTIONS.to_vec()),
        node(),
        node(),
        signed_duration(),
        extreme_i64(),
        prop::option::of(duration()),
        (ratio(), 0u8..5),
    )
        .prop_map(
            |(at, action, node, other, by, drift, length, (rate, shape))| {
                let mut text = format!("\n[[faults]]\nat = \"{at}\"\naction = \"{action}\"\n");
                match action {
                    "partition" => {
                        let shape = ["isolate", "halves", "majorities-ring", "bridge", "groups"]
                            [usize::from(shape)];
                        let _ = writeln!(text, "shape = \"{shape}\"");
                        if shape == "isolate" {
                            let _ = writeln!(text, "node = {node}");
                        }
                        if shape == "groups" {
                            text.push_str("groups = [[0, 1], [2]]\n");
                        }
                    }
                    "cut" => {
                        let _ = writeln!(text, "from = {node}\nto = {other}");
                    }
                    "crash" | "restart" | "add-server" | "remove-server" => {
                        let _ = writeln!(text, "node = {node}");
                    }
                    // Pauses and clock faults aim at a client process now and then (client 3
                    // exists only with enough clients: a rejection the loader must word).
                    "pause" | "resume" | "clock-jump" | "clock-drift" => {
                        let target = if shape >= 3 {
                            format!("client = {}", (shape - 3) * 3)
                        } else {
                            format!("node = {node}")
                        };
                        let _ = writeln!(text, "{target}");
                        if action == "clock-jump" {
                            let _ = writeln!(text, "by = \"{by}\"");
                        }
                        if action == "clock-drift" {
                            let drift = if shape < 2 { drift % 600_000 } else { drift };
                            let _ = writeln!(text, "drift_ppm = {drift}");
                        }
                    }
                    "network" => {
                        let _ = writeln!(text, "loss = \"{rate}\"\nreorder = \"{rate}\"");
                    }
                    _ => {}
                }
                let undoable = !matches!(action, "heal" | "restart" | "resume");
                if let (Some(length), true) = (length, undoable) {
                    let _ = writeln!(text, "for = \"{length}\"");
                }
                text
            },
        )
        .boxed()
}

fn swarm() -> BoxedStrategy<String> {
    (
        duration(),
        duration(),
        duration(),
        duration(),
        duration(),
        extreme_i64(),
    )
        .prop_map(|(gap_min, gap_max, length_min, length_max, jump, drift)| {
            format!(
                "\n[swarm]\ngap_min = \"{gap_min}\"\ngap_max = \"{gap_max}\"\nlength_min = \
                 \"{length_min}\"\nlength_max = \"{length_max}\"\nclock_jump_max = \"{jump}\"\n\
                 drift_ppm_max = {}\n",
                drift % 1_000_000
            )
        })
        .boxed()
}

fn raft_options() -> BoxedStrategy<String> {
    (
        duration(),
        duration(),
        duration(),
        any::<bool>(),
        any::<bool>(),
        count(200),
        count(2000),
        count(16),
    )
        .prop_map(
            |(min, max, heartbeat, check_quorum, pre_vote, entries, pending, window)| {
                format!(
                    "\n[protocol.options]\nelection_timeout_min = \"{min}\"\n\
                     election_timeout_max = \"{max}\"\nheartbeat_interval = \"{heartbeat}\"\n\
                     check_quorum = {check_quorum}\npre_vote = {pre_vote}\n\
                     entries_per_message_max = {entries}\npending_requests_max = {pending}\n\
                     append_entries_in_flight_max = {window}\n"
                )
            },
        )
        .boxed()
}

/// A whole scenario as TOML text.
fn scenario_text() -> BoxedStrategy<String> {
    let protocol = prop_oneof![
        Just("\n[protocol]\nname = \"unreplicated\"\n".to_string()),
        Just(
            "\n[protocol]\nname = \"unreplicated\"\n[protocol.options]\npersist = true\n"
                .to_string()
        ),
        Just("\n[protocol]\nname = \"raft\"\n".to_string()),
        raft_options().prop_map(|options| format!("\n[protocol]\nname = \"raft\"\n{options}")),
    ];
    let network = (
        latency(),
        ratio(),
        ratio(),
        ratio(),
        duration(),
        node(),
        node(),
    )
        .prop_map(|(latency, loss, duplicate, reorder, delay, from, to)| {
            format!(
                "\n[network]\nlatency = {latency}\nloss = \"{loss}\"\nduplicate = \"{duplicate}\"\n\
                 reorder = \"{reorder}\"\nreorder_delay = \"{delay}\"\n\
                 links = [ {{ from = {from}, to = {to}, loss = \"1/2\" }} ]\n"
            )
        });
    let clocks =
        prop::collection::vec((node(), signed_duration(), extreme_i64()), 0..3).prop_map(|nodes| {
            let entries: Vec<String> = nodes
                .iter()
                .enumerate()
                .map(|(i, (node, offset, drift))| {
                    let drift = if i == 0 { drift % 600_000 } else { *drift };
                    format!("  {{ node = {node}, offset = \"{offset}\", drift_ppm = {drift} }},\n")
                })
                .collect();
            // The last entry, when there are two or more, also sets a client's clocks.
            let clients = match nodes.last().filter(|_| nodes.len() > 1) {
                Some((_, offset, drift)) => format!(
                    "clients = [ {{ client = 0, offset = \"{offset}\", drift_ppm = {} }} ]\n",
                    drift % 600_000
                ),
                None => String::new(),
            };
            format!("\n[clocks]\nnodes = [\n{}]\n{clients}", entries.concat())
        });
    let storage = (latency(), any::<bool>()).prop_map(|(fsync, lose)| {
        format!("\n[storage]\nfsync = {fsync}\nlose_unsynced = {lose}\n")
    });
    let workload = (
        count(8),
        count(100),
        duration(),
        count(6),
        (count(3), count(3), count(3)),
        latency(),
        duration(),
        (duration(), duration(), 0u8..4),
    )
        .prop_map(
            |(
                clients,
                rate,
                timeout,
                keys,
                (r, w, c),
                latency,
                backoff,
                (retry, failover, mode),
            )| {
                // The client mechanics of the network: retries, fail-over, placement and
                // arrivals, extreme values included.
                let placement = ["outside", "with-nodes"][usize::from(mode % 2)];
                let arrivals = ["closed", "open"][usize::from(mode / 2)];
                format!(
                    "\n[workload]\nclients = {clients}\nrate = {rate}\ntimeout = \"{timeout}\"\n\
                 keys = {keys}\nmix = {{ read = {r}, write = {w}, cas = {c} }}\n\
                 client_latency = {latency}\nredirect_backoff = \"{backoff}\"\n\
                 retry_after = \"{retry}\"\nfailover_after = \"{failover}\"\n\
                 placement = \"{placement}\"\narrivals = \"{arrivals}\"\n"
                )
            },
        );
    let run = (
        duration(),
        prop::option::of(duration()),
        prop::option::of(duration()),
        count(EVENTS_MAX),
        count(100_000),
    )
        .prop_map(|(length, heal, bound, events, budget)| {
            let mut text = format!("\n[run]\nduration = \"{length}\"\n");
            if let Some(heal) = heal {
                let _ = writeln!(text, "heal_at = \"{heal}\"");
            }
            if let Some(bound) = bound {
                let _ = writeln!(text, "liveness_bound = \"{bound}\"");
            }
            let _ = writeln!(text, "max_events = {events}\ncheck_budget = {budget}");
            text
        });
    let schedule = prop_oneof![
        3 => prop::collection::vec(fault(), 0..6).prop_map(|faults| faults.concat()),
        1 => swarm(),
    ];
    let nodes = prop_oneof![20 => 1u64..6, 1 => extreme_u64()];
    (
        protocol,
        nodes,
        prop::option::of(network),
        prop::option::of(clocks),
        prop::option::of(storage),
        prop::option::of(workload),
        run,
        schedule,
    )
        .prop_map(
            |(protocol, nodes, network, clocks, storage, workload, run, schedule)| {
                // `[run]` comes last but one: a fault table after it must not swallow its keys.
                format!(
                    "seed = 3\n{protocol}\n[cluster]\nnodes = {nodes}\n{}{}{}{}{run}{schedule}",
                    network.unwrap_or_default(),
                    clocks.unwrap_or_default(),
                    storage.unwrap_or_default(),
                    workload.unwrap_or_default(),
                )
            },
        )
        .boxed()
}

/// Loads scenario text as `detsim run` does; when it validates, runs it (event count capped)
/// and checks that no panic came of it and that its written-out schedule reads back (what
/// artifacts rest on). Returns whether the scenario validated.
fn scenario_target(text: &str, seed: u64) -> bool {
    let Ok(mut scenario) = parse_scenario(text, Path::new("fuzz.toml")) else {
        return false;
    };
    scenario.run.max_events = scenario.run.max_events.min(EVENTS_MAX);
    scenario.run.check_budget = scenario.run.check_budget.min(100_000);
    let expanded = crate::registry::expanded_scenario(&scenario, seed)
        .unwrap_or_else(|error| panic!("a validated scenario cannot be expanded: {error}\n{text}"));
    if let Err(error) = Scenario::parse(&expanded.to_toml(), Path::new("expanded.toml")) {
        panic!("the expanded schedule of seed {seed} does not read back: {error}\n{text}");
    }
    let data = run_traced(&scenario, seed, None)
        .unwrap_or_else(|error| panic!("a validated scenario failed to start: {error}\n{text}"));
    if let Verdict::Panic { message } = &data.verdict {
        panic!("validated input made the run panic: {message}\n{text}");
    }
    true
}

// ----- histories -----

fn history_value() -> BoxedStrategy<String> {
    prop_oneof![
        Just("nil".to_string()),
        extreme_i64().prop_map(|n| n.to_string()),
        Just("99999999999999999999999".to_string()),
        (extreme_i64(), extreme_i64()).prop_map(|(a, b)| format!("[{a} {b}]")),
        Just("\"x\"".to_string()),
        Just("[]".to_string()),
        Just("[[[[[[[[1]]]]]]]]".to_string()),
    ]
    .boxed()
}

/// One operation entry in one of the formats: EDN map, detsim JSON line or etcd log line.
fn history_text() -> BoxedStrategy<String> {
    let op = (
        prop::sample::select(vec!["invoke", "ok", "fail", "info", "bogus"]),
        prop::sample::select(vec![
            "read", "write", "cas", "get", "put", "append", "acquire", "release", "add",
        ]),
        prop_oneof![
            3 => (0u64..4).prop_map(|p| p.to_string()),
            1 => extreme_i64().prop_map(|p| p.to_string()),
            1 => Just(":nemesis".to_string()),
        ],
        history_value(),
        extreme_u64(),
        0u64..4,
    );
    let edn = prop::collection::vec(op.clone(), 0..24).prop_map(|ops| {
        ops.into_iter()
            .map(|(kind, f, process, value, time, key)| {
                format!(
                    "{{:type :{kind}, :f :{f}, :process {process}, :value {value}, :time {time}, :key {key}}}\n"
                )
            })
            .collect::<String>()
    });
    let json = prop::collection::vec(op.clone(), 0..24).prop_map(|ops| {
        ops.into_iter()
            .enumerate()
            .map(|(index, (kind, f, process, value, time, key))| {
                let value = if value == "nil" {
                    "null".to_string()
                } else {
                    value.replace(' ', ",")
                };
                let process = process.trim_start_matches(':');
                let process = if process.parse::<i64>().is_ok() {
                    process.to_string()
                } else {
                    format!("\"{process}\"")
                };
                format!(
                    "{{\"index\":{index},\"type\":\"{kind}\",\"process\":{process},\"f\":\"{f}\",\
                     \"key\":{key},\"value\":{value},\"time\":{time}}}\n"
                )
            })
            .collect::<String>()
    });
    let etcd = prop::collection::vec(op, 0..24).prop_map(|ops| {
        ops.into_iter()
            .map(|(kind, f, process, value, _, _)| {
                format!("INFO  jepsen.util - {process}\t:{kind}\t:{f}\t{value}\n")
            })
            .collect::<String>()
    });
    prop_oneof![edn, json, etcd].boxed()
}

/// Reads a history in every format and checks it against every model with a small budget.
fn history_target(text: &str) {
    use sim::check::read::{read_history, Format};
    use sim::check::{
        check, CasRegister, CheckOptions, Counter, EtcdRegister, KeyValue, Mutex, Register,
    };
    let options = CheckOptions {
        budget: 20_000,
        ..CheckOptions::default()
    };
    for format in [
        None,
        Some(Format::Edn),
        Some(Format::JsonLines),
        Some(Format::EtcdLog),
    ] {
        let Ok(read) = read_history(text, format) else {
            continue;
        };
        let history = &read.history;
        let _ = check(
            history,
            &CasRegister::strict(sim::history::Value::Nil),
            &options,
        );
        let _ = check(
            history,
            &CasRegister::new(sim::history::Value::Nil),
            &options,
        );
        let _ = check(
            history,
            &Register {
                initial: sim::history::Value::Nil,
            },
            &options,
        );
        let _ = check(history, &EtcdRegister, &options);
        let _ = check(history, &KeyValue, &options);
        let _ = check(history, &Mutex, &options);
        let _ = check(history, &Counter, &options);
    }
}

// ----- artifacts -----

/// An artifact: a well-formed one around a generated scenario, with fields that may be extreme
/// or inconsistent (a verdict the run will not give, a fingerprint that is not hex, a format
/// from the future).
fn artifact_text() -> BoxedStrategy<String> {
    (
        scenario_text(),
        extreme_u64(),
        prop::sample::select(vec![
            r#"{"kind":"pass"}"#,
            r#"{"kind":"liveness-timeout","detail":"x"}"#,
            r#"{"kind":"safety-violation","property":"p","detail":"d","time":18446744073709551615}"#,
            r#"{"kind":"panic","message":""}"#,
            r#"{"kind":"unknown-kind"}"#,
            r#"{"kind":"limit-reached"}"#,
        ]),
        prop::sample::select(vec!["0000000000000000", "ffffffffffffffff", "", "not hex"]),
        prop_oneof![
            8 => Just(FORMAT),
            1 => Just("detsim-artifact/999"),
            1 => Just(""),
        ],
        extreme_u64(),
    )
        .prop_map(|(scenario, seed, verdict, fingerprint, format, ops)| {
            let artifact = serde_json::json!({
                "format": format,
                "detsim_version": "0.0.0",
                "source": "fuzz.toml",
                "seed": seed,
                "verdict": serde_json::from_str::<serde_json::Value>(verdict).unwrap(),
                "fingerprint": fingerprint,
                "ops": ops,
                "events": ops,
                "replay": "detsim replay x",
                "scenario": scenario,
                "trace_tail": ["a", ""],
            });
            artifact.to_string()
        })
        .boxed()
}

/// Loads an artifact as `replay` and `shrink` do; when it loads, replays it (capped) as they
/// would. Returns whether it loaded.
fn artifact_target(text: &str, dir: &Path) -> bool {
    let path = dir.join("artifact.json");
    std::fs::write(&path, text).unwrap();
    let Ok((artifact, mut scenario)) = Artifact::load(&path) else {
        return false;
    };
    scenario.run.max_events = scenario.run.max_events.min(EVENTS_MAX);
    scenario.run.check_budget = scenario.run.check_budget.min(100_000);
    let data = run_traced(&scenario, artifact.seed, None)
        .unwrap_or_else(|error| panic!("a loaded artifact failed to start: {error}\n{text}"));
    if let Verdict::Panic { message } = &data.verdict {
        panic!("a loaded artifact made the run panic: {message}\n{text}");
    }
    true
}

// ----- running -----

/// Runs `target` on values of `strategy` until `cases` ran or `seconds` passed, from a fixed
/// seed; returns the executions and how many the target counted (validated, loaded).
fn drive<T: std::fmt::Debug>(
    strategy: BoxedStrategy<T>,
    seed: u64,
    cases: u64,
    seconds: u64,
    mut target: impl FnMut(&T) -> bool,
) -> (u64, u64) {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    #[allow(clippy::disallowed_methods)] // Bounds the harness's own running time, not a simulation.
    let started = std::time::Instant::now();
    let (mut executions, mut accepted) = (0, 0);
    while executions < cases && started.elapsed().as_secs() < seconds {
        let value = strategy.new_tree(&mut runner).unwrap().current();
        if target(&value) {
            accepted += 1;
        }
        executions += 1;
    }
    (executions, accepted)
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("detsim-fuzz-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Seconds and seed of a long run, from `DETSIM_FUZZ_SECONDS` and `DETSIM_FUZZ_SEED`.
fn long_run() -> (u64, u64) {
    let read = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    (read("DETSIM_FUZZ_SECONDS", 60), read("DETSIM_FUZZ_SEED", 1))
}

#[test]
fn fuzz_scenarios_bounded() {
    let (runs, valid) = drive(scenario_text(), 0, 300, 4, |text| scenario_target(text, 3));
    assert!(runs >= 20, "only {runs} scenarios in the time allowed");
    assert!(valid > 0, "no generated scenario validated in {runs}");
}

#[test]
fn fuzz_histories_bounded() {
    let (runs, _) = drive(history_text(), 0, 2_000, 3, |text| {
        history_target(text);
        true
    });
    assert!(runs >= 100, "only {runs} histories in the time allowed");
}

#[test]
fn fuzz_artifacts_bounded() {
    let dir = scratch("artifacts");
    let (runs, _) = drive(artifact_text(), 0, 200, 3, |text| {
        artifact_target(text, &dir)
    });
    assert!(runs >= 20, "only {runs} artifacts in the time allowed");
}

#[test]
#[ignore = "long fuzzing run: DETSIM_FUZZ_SECONDS, DETSIM_FUZZ_SEED"]
fn fuzz_scenarios_long() {
    let (seconds, seed) = long_run();
    let (runs, valid) = drive(scenario_text(), seed, u64::MAX, seconds, |text| {
        scenario_target(text, seed)
    });
    println!("fuzz_scenarios_long: {runs} executions ({valid} validated and ran) in {seconds} s, seed {seed}");
}

#[test]
#[ignore = "long fuzzing run: DETSIM_FUZZ_SECONDS, DETSIM_FUZZ_SEED"]
fn fuzz_histories_long() {
    let (seconds, seed) = long_run();
    let (runs, _) = drive(history_text(), seed, u64::MAX, seconds, |text| {
        history_target(text);
        true
    });
    println!("fuzz_histories_long: {runs} executions in {seconds} s, seed {seed}");
}

#[test]
#[ignore = "long fuzzing run: DETSIM_FUZZ_SECONDS, DETSIM_FUZZ_SEED"]
fn fuzz_artifacts_long() {
    let (seconds, seed) = long_run();
    let dir = scratch("artifacts-long");
    let (runs, loaded) = drive(artifact_text(), seed, u64::MAX, seconds, |text| {
        artifact_target(text, &dir)
    });
    println!("fuzz_artifacts_long: {runs} executions ({loaded} loaded and ran) in {seconds} s, seed {seed}");
}

/// Every input that once broke something: scenarios load to an error or run without a panic,
/// histories read and check without a panic, artifacts load to an error or replay without one.
#[test]
fn corpus_inputs_never_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz-corpus");
    let dir = scratch("corpus");
    let mut seen = 0;
    for (sub, extension) in [
        ("scenarios", "toml"),
        ("histories", ""),
        ("artifacts", "json"),
    ] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(sub))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            match sub {
                "scenarios" => {
                    assert!(file.extension().is_some_and(|e| e == extension));
                    scenario_target(&text, 1);
                }
                "histories" => history_target(&text),
                _ => {
                    artifact_target(&text, &dir);
                }
            }
            seen += 1;
        }
    }
    assert!(seen >= 10, "corpus missing: {seen} files");
}
