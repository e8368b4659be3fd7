//! `detsim compare`: every variant meets the same environment for a seed, and the report is
//! written, reproducible, and refuses scenarios whose environments differ.

mod fuzz_support;

use fuzz_support::*;
use sim::history::{OpType, Process};
use sim::nemesis;
use sim::scenario::Scenario;
use std::collections::BTreeMap;
use std::path::Path;

const VARIANTS: [&str; 3] = [
    "scenarios/compare/raft.toml",
    "scenarios/compare/raft-pre-vote.toml",
    "scenarios/compare/unreplicated.toml",
];

fn load(path: &str) -> Scenario {
    Scenario::load(Path::new(path)).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_variant_meets_the_same_fault_schedule_for_a_seed() {
    let scenarios: Vec<Scenario> = VARIANTS.iter().map(|p| load(p)).collect();
    for seed in 0..20 {
        let schedules: Vec<String> = scenarios
            .iter()
            .map(|s| format!("{:?}", nemesis::expand(s, seed)))
            .collect();
        assert!(
            schedules[0].len() > 10,
            "seed {seed}: an empty schedule proves nothing"
        );
        assert!(
            schedules.iter().all(|s| *s == schedules[0]),
            "seed {seed}: schedules differ"
        );
    }
}

/// Each client's invocations `(f, value)`, in order (Jepsen processes renumbered after `info`
/// map back to their client as `process % clients`).
fn invocations(scenario: &Scenario, seed: u64) -> BTreeMap<u64, Vec<String>> {
    let data = detsim::registry::find(&scenario.protocol.name, &scenario.workload.kind)
        .unwrap()
        .simulate(scenario, &nemesis::expand(scenario, seed), seed, None)
        .unwrap();
    let clients = u64::from(scenario.workload.clients);
    let mut per_client: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for op in &data.history.to_history().ops {
        if let (OpType::Invoke, Process::Client(process)) = (op.kind, &op.process) {
            per_client
                .entry(*process % clients)
                .or_default()
                .push(format!("{} {:?} {:?}", op.function, op.key, op.value));
        }
    }
    per_client
}

#[test]
fn every_variant_serves_the_same_client_operations_for_a_seed() {
    let scenarios: Vec<Scenario> = VARIANTS.iter().map(|p| load(p)).collect();
    for seed in [0, 7] {
        let runs: Vec<_> = scenarios.iter().map(|s| invocations(s, seed)).collect();
        for client in runs[0].keys() {
            let sequences: Vec<&Vec<String>> = runs.iter().map(|r| &r[client]).collect();
            // A slower protocol invokes fewer operations in the same time: the shorter
            // sequence is a prefix of the longer.
            let shortest = sequences.iter().map(|s| s.len()).min().unwrap();
            assert!(
                shortest > 20,
                "seed {seed} client {client}: too few operations"
            );
            for sequence in &sequences[1..] {
                assert_eq!(
                    sequence[..shortest],
                    sequences[0][..shortest],
                    "seed {seed} client {client}: the variants were asked different things"
                );
            }
        }
    }
}

#[test]
fn the_comparison_is_written_and_reproducible() {
    let dir = fresh_dir("compare-report");
    let run = |out: &str| {
        let out = dir.join(out);
        let mut args = vec!["compare"];
        args.extend(VARIANTS);
        args.extend(["--seeds", "0..3", "--jobs", "2", "--out", arg(&out)]);
        let output = detsim(&args);
        assert_eq!(output.code, 0, "{}", output.stderr);
        assert!(
            output.stdout.contains("| availability (%) |"),
            "{}",
            output.stdout
        );
        out
    };
    let (a, b) = (run("a"), run("b"));
    for name in [
        "compare.json",
        "compare.md",
        "compare.html",
        "compare-latency-cdf.svg",
        "compare-availability.svg",
        "compare-recovery.svg",
        "compare-costs.svg",
    ] {
        let first = std::fs::read(a.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            first,
            std::fs::read(b.join(name)).unwrap(),
            "{name} differs"
        );
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("compare.json")).unwrap()).unwrap();
    assert_eq!(json["variants"].as_array().unwrap().len(), 3);
    assert_eq!(json["runs"][0].as_array().unwrap().len(), 3);
}

#[test]
fn scenarios_with_different_environments_are_refused() {
    let dir = fresh_dir("compare-refused");
    let other = dir.join("five-clients.toml");
    let text = std::fs::read_to_string(VARIANTS[1])
        .unwrap()
        .replace("clients = 6", "clients = 5");
    std::fs::write(&other, text).unwrap();
    let output = detsim(&["compare", VARIANTS[0], arg(&other), "--seeds", "0..2"]);
    assert_eq!(output.code, 2, "{}", output.stderr);
    assert!(
        output.stderr.contains("[workload] differs"),
        "{}",
        output.stderr
    );
}

#[test]
fn runs_record_each_node_coming_to_lead() {
    let scenario = load("scenarios/raft/leader-crash-restart.toml");
    let data = detsim::registry::find("raft", "register")
        .unwrap()
        .simulate(
            &scenario,
            &nemesis::expand(&scenario, scenario.seed),
            scenario.seed,
            None,
        )
        .unwrap();
    assert!(data.leaders.len() >= 2, "{:?}", data.leaders);
    assert!(
        data.leaders
            .windows(2)
            .all(|w| w[0].term < w[1].term && w[0].time <= w[1].time),
        "Raft's leaders come in increasing terms: {:?}",
        data.leaders
    );
    // The crash hits the leader; another node leads after it.
    let crash = data
        .faults
        .iter()
        .find(|w| w.label.starts_with("crash"))
        .unwrap();
    let before = data
        .leaders
        .iter()
        .rev()
        .find(|l| l.time <= crash.start)
        .unwrap();
    assert_eq!(crash.nodes, vec![before.node]);
    assert!(data
        .leaders
        .iter()
        .any(|l| l.time > crash.start && l.node != before.node));
}

/// Invocation times of a run, in order, and how many arrivals waited for a free client.
fn arrivals(scenario: &Scenario, seed: u64) -> (Vec<u64>, u64) {
    let data = detsim::registry::find(&scenario.protocol.name, &scenario.workload.kind)
        .unwrap()
        .simulate(scenario, &nemesis::expand(scenario, seed), seed, None)
        .unwrap();
    let mut times: Vec<u64> = data
        .history
        .to_history()
        .ops
        .iter()
        .filter(|op| op.kind == OpType::Invoke)
        .map(|op| op.time)
        .collect();
    times.sort_unstable();
    (times, data.stats.arrivals_waited)
}

#[test]
fn open_loop_arrivals_do_not_depend_on_the_protocol() {
    // Open loop with clients to spare: every arrival is invoked when it arrives, so a slow
    // protocol (Raft, several round trips) and a fast one meet the same arrival times.
    let mut scenarios: Vec<Scenario> = VARIANTS.iter().map(|p| load(p)).collect();
    for scenario in &mut scenarios {
        scenario.workload.arrivals = sim::scenario::Arrivals::Open;
        scenario.workload.clients = 40;
        scenario.workload.rate = 3;
        scenario.swarm = None;
        scenario.run.heal_at = None;
        scenario.run.liveness_bound = None;
    }
    let runs: Vec<(Vec<u64>, u64)> = scenarios.iter().map(|s| arrivals(s, 5)).collect();
    assert!(runs[0].0.len() > 500, "{} arrivals", runs[0].0.len());
    for (times, waited) in &runs {
        assert_eq!(*waited, 0);
        assert_eq!(*times, runs[0].0, "arrival times differ between protocols");
    }
    // With too few clients for the offered load, arrivals wait for a free client and the
    // wait is recorded rather than hidden.
    let mut busy = scenarios[0].clone();
    busy.workload.clients = 2;
    busy.workload.rate = 400;
    let (_, waited) = arrivals(&busy, 5);
    assert!(waited > 100, "{waited} arrivals waited");
}

#[test]
fn a_load_sweep_reports_each_rate_and_a_knee() {
    let dir = fresh_dir("compare-sweep");
    let mut files = Vec::new();
    for name in ["load-raft", "load-unreplicated"] {
        let text = std::fs::read_to_string(format!("scenarios/compare/{name}.toml"))
            .unwrap()
            .replace("clients = 400", "clients = 60")
            .replace("duration = \"10s\"", "duration = \"3s\"");
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        files.push(path);
    }
    let out = dir.join("out");
    let output = detsim(&[
        "compare",
        arg(&files[0]),
        arg(&files[1]),
        "--seeds",
        "0..2",
        "--rates",
        "1,4",
        "--out",
        arg(&out),
    ]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    assert!(output.stdout.contains("## Load sweep"), "{}", output.stdout);
    assert!(
        output.stdout.contains("Knee of `load-raft`"),
        "{}",
        output.stdout
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("compare.json")).unwrap()).unwrap();
    let raft = json["load"][0].as_array().unwrap();
    assert_eq!(raft.len(), 2);
    assert_eq!(raft[0]["offered"], 60.0);
    assert_eq!(raft[1]["offered"], 240.0);
    // Four times the load, about four times the throughput: far from the knee.
    let throughput = |p: &serde_json::Value| p["throughput"]["median"].as_f64().unwrap();
    let ratio = throughput(&raft[1]) / throughput(&raft[0]);
    assert!((3.0..5.0).contains(&ratio), "{ratio}");
    assert!(out.join("compare-load.svg").exists());
}
