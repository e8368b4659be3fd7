//! Whatever a scenario file says, loading it never panics, and whatever fault schedule a
//! valid scenario scripts — crashing a crashed node, resuming a running one, jumping clocks
//! back and forth, cutting a link twice — the engine never panics on it: a verdict, always.

use proptest::prelude::*;
use sim::invariants::NoInvariants;
use sim::outcome::Verdict;
use sim::scenario::Scenario;
use std::path::Path;

const BASE: &str = r#"
[protocol]
name = "unreplicated"

[protocol.options]
persist = true

[cluster]
nodes = 3

[network]
latency = { dist = "exponential", min = "1ms", mean = "2ms", max = "30ms" }

[storage]
fsync = { dist = "uniform", min = "0s", max = "3ms" }
lose_unsynced = true

[workload]
clients = 3
rate = 50
timeout = "200ms"

[run]
duration = "2s"
heal_at = "1500ms"
liveness_bound = "400ms"
"#;

fn fault_text(choice: u8, at_ms: u64, node: u8, amount_ms: u64) -> String {
    let node = match node % 5 {
        3 => "\"leader\"".to_string(),
        4 => "\"random\"".to_string(),
        n => n.to_string(),
    };
    let action = match choice % 12 {
        0 => format!("action = \"crash\"\nnode = {node}"),
        1 => format!("action = \"restart\"\nnode = {node}"),
        2 => format!("action = \"pause\"\nnode = {node}\nfor = \"{amount_ms}ms\""),
        3 => format!("action = \"resume\"\nnode = {node}"),
        4 => format!("action = \"clock-jump\"\nnode = {node}\nby = \"-{amount_ms}ms\""),
        5 => format!("action = \"clock-jump\"\nnode = {node}\nby = \"{amount_ms}ms\"\nfor = \"{amount_ms}ms\""),
        6 => format!("action = \"clock-drift\"\nnode = {node}\ndrift_ppm = -400000"),
        7 => format!("action = \"partition\"\nshape = \"isolate\"\nnode = {node}\nfor = \"{amount_ms}ms\""),
        8 => "action = \"partition\"\nshape = \"majorities-ring\"".to_string(),
        9 => format!("action = \"cut\"\nfrom = {node}\nto = \"leader\"\nfor = \"{amount_ms}ms\""),
        10 => "action = \"heal\"".to_string(),
        _ => format!("action = \"network\"\nloss = \"1/3\"\nduplicate = \"1/2\"\nreorder = \"1/2\"\nfor = \"{amount_ms}ms\""),
    };
    format!("\n[[faults]]\nat = \"{at_ms}ms\"\n{action}\n")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn mangled_scenario_text_is_an_error_not_a_panic(
        cut in 0usize..BASE.len(),
        insert in prop::sample::select(vec!["", "=", "[", "]", "\"", "nodes = 0", "9999999999", "-", "{", "\n[[faults]]\n"]),
    ) {
        let mut text = BASE.to_string();
        if text.is_char_boundary(cut) {
            text.insert_str(cut, insert);
        }
        // Either way is fine; a panic fails the test.
        let _ = Scenario::parse(&text, Path::new("mangled.toml"));
    }

    #[test]
    fn any_scripted_fault_schedule_gives_a_verdict(
        faults in prop::collection::vec((any::<u8>(), 0u64..1500, any::<u8>(), 1u64..400), 0..12),
        seed in any::<u64>(),
    ) {
        let mut text = BASE.to_string();
        for (choice, at, node, amount) in faults {
            text.push_str(&fault_text(choice, at, node, amount));
        }
        let scenario = Scenario::parse(&text, Path::new("faults.toml"))
            .unwrap_or_else(|e| panic!("generated scenario invalid: {e}\n{text}"));
        let schedule = sim::nemesis::expand(&scenario, seed);
        let data = sim::world::run::<protocols::unreplicated::Unreplicated, _>(
            &scenario, &schedule, seed, NoInvariants, None,
        )
        .unwrap();
        prop_assert!(data.stats.events > 100 && data.stats.operations_ok > 0, "{:?}", data.stats);
        prop_assert!(!matches!(data.verdict, Verdict::Panic { .. } | Verdict::LimitReached { .. }),
            "{}\n{text}", data.verdict);
        let raft = Scenario::parse(&text.replace("unreplicated", "raft").replace("persist = true", ""), Path::new("raft.toml")).unwrap();
        let data = sim::world::run::<protocols::raft::Raft, _>(
            &raft, &schedule, seed, protocols::raft::RaftInvariants::default(), None,
        )
        .unwrap();
        prop_assert!(!matches!(data.verdict, Verdict::Panic { .. } | Verdict::LimitReached { .. } | Verdict::SafetyViolation { .. }),
            "raft: {}\n{text}", data.verdict);
    }
}
