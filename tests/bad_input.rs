//! Malformed scenarios get an error naming file, line and field, and exit code 2; never a panic.

mod fuzz_support;

use fuzz_support::*;
use std::process::Command;

const GOOD: &str = r#"[protocol]
name = "unreplicated"

[cluster]
nodes = 3

[run]
duration = "2s"
"#;

fn assert_rejected(name: &str, text: &str, line: usize, needle: &str) {
    rejected(&format!("bad-input-{name}"), text, line, needle);
}

#[test]
fn good_scenario_runs() {
    let path = scenario_file("bad-input-good", GOOD);
    let out = path.with_extension("out");
    let output = detsim(&["run", arg(&path), "--out", arg(&out), "--no-report"]);
    assert_eq!(output.code, 0, "{}", output.stderr);
}

#[test]
fn unknown_field() {
    assert_rejected(
        "unknown-field",
        &GOOD.replace("nodes = 3", "nodes = 3\nspeed = 9"),
        6,
        "speed",
    );
}

#[test]
fn missing_section() {
    let text = GOOD.replace("[run]\nduration = \"2s\"\n", "");
    assert_rejected("missing-section", &text, 1, "run");
}

#[test]
fn bad_duration() {
    assert_rejected(
        "bad-duration",
        &GOOD.replace("\"2s\"", "\"two seconds\""),
        8,
        "duration",
    );
}

#[test]
fn bad_probability() {
    let text = format!("{GOOD}\n[network]\nloss = \"3/2\"\n");
    assert_rejected("bad-probability", &text, 11, "greater than one");
}

#[test]
fn unknown_protocol() {
    assert_rejected(
        "unknown-protocol",
        &GOOD.replace("unreplicated", "zab"),
        2,
        "protocol.name",
    );
}

#[test]
fn unknown_protocol_option() {
    let text = GOOD.replace(
        "[cluster]",
        "[protocol.options]\npersistence = true\n\n[cluster]",
    );
    assert_rejected("unknown-option", &text, 4, "persistence");
}

#[test]
fn unknown_bug() {
    let text = GOOD.replace(
        "name = \"unreplicated\"",
        "name = \"unreplicated\"\nbug = \"typo\"",
    );
    assert_rejected("unknown-bug", &text, 3, "protocol.bug");
}

#[test]
fn fault_on_a_node_that_does_not_exist() {
    let text = format!("{GOOD}\n[[faults]]\nat = \"1s\"\naction = \"crash\"\nnode = 3\n");
    assert_rejected("bad-node", &text, 10, "faults[0].node");
}

#[test]
fn fault_on_a_client_that_does_not_exist() {
    // GOOD has the default 3 clients: 0, 1 and 2.
    let text = format!("{GOOD}\n[[faults]]\nat = \"1s\"\naction = \"pause\"\nclient = 3\n");
    assert_rejected(
        "bad-client",
        &text,
        10,
        "faults[0].client: client 3 does not exist",
    );
    let both = format!(
        "{GOOD}\n[[faults]]\nat = \"1s\"\naction = \"clock-jump\"\nclient = 0\nnode = 0\nby = \"1s\"\n"
    );
    assert_rejected(
        "client-and-node",
        &both,
        10,
        "give node or client, not both",
    );
    let crash =
        format!("{GOOD}\n[[faults]]\nat = \"1s\"\naction = \"crash\"\nnode = 0\nclient = 0\n");
    assert_rejected(
        "crash-client",
        &crash,
        10,
        "client: not used by action Crash",
    );
}

#[test]
fn client_retry_settings_out_of_range() {
    let text = format!("{GOOD}\n[workload]\nclients = 2\nretry_after = \"100000000s\"\n");
    assert_rejected("retry-after", &text, 12, "workload.retry_after");
    let text = format!("{GOOD}\n[workload]\nplacement = \"beside\"\n");
    assert_rejected("placement", &text, 11, "placement");
    let text = format!("{GOOD}\n[workload]\narrivals = \"bursty\"\n");
    assert_rejected("arrivals", &text, 11, "arrivals");
}

#[test]
fn a_client_clock_with_no_clients_at_all() {
    // Found by the fuzz harness: a count of zero clients must not underflow the message.
    let text =
        format!("{GOOD}\n[workload]\nclients = 0\n[clocks]\nclients = [ {{ client = 0 }} ]\n");
    assert_rejected("no-clients", &text, 13, "there are none");
}

#[test]
fn clock_of_a_client_that_does_not_exist() {
    let text = format!("{GOOD}\n[clocks]\nclients = [\n  {{ client = 0 }},\n  {{ client = 9, drift_ppm = 5 }},\n]\n");
    assert_rejected("bad-client-clock", &text, 13, "clocks.clients[1].client");
}

#[test]
fn not_toml_at_all() {
    assert_rejected("not-toml", "[protocol\nname = 1", 1, "");
}

#[test]
fn missing_file() {
    let output = Command::new(env!("CARGO_BIN_EXE_detsim"))
        .args(["run", "/nonexistent/scenario.toml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/scenario.toml"));
}

#[test]
fn protocol_options_that_cannot_work() {
    let text = GOOD.replace("unreplicated", "raft").replace(
        "[cluster]",
        "[protocol.options]\nheartbeat_interval = \"500ms\"\n\n[cluster]",
    );
    assert_rejected(
        "raft-heartbeat",
        &text,
        4,
        "heartbeat_interval 500ms must be positive and below",
    );
}

/// Dissertation §6.4.1: lease reads trust clocks and need check-quorum; the combination the
/// Raft module documents as unsafe is rejected, naming the field.
#[test]
fn raft_lease_reads_without_check_quorum() {
    let text = GOOD.replace("unreplicated", "raft").replace(
        "[cluster]",
        "[protocol.options]\nreads = \"lease\"\ncheck_quorum = false\n\n[cluster]",
    );
    assert_rejected(
        "raft-lease-without-check-quorum",
        &text,
        4,
        "check_quorum = false with reads = \"lease\": lease reads are unsafe without \
         check-quorum",
    );
}

#[test]
fn unknown_workload_kind() {
    let text = format!("{GOOD}\n[workload]\nclients = 2\nkind = \"queue\"\n");
    assert_rejected(
        "unknown-workload",
        &text,
        12,
        "workload.kind: unknown workload \"queue\"",
    );
}

#[test]
fn workload_option_of_the_wrong_type() {
    let text = format!("{GOOD}\n[workload]\nkind = \"counter\"\nclients = 2\nadd_max = \"big\"\n");
    assert_rejected("workload-option-type", &text, 13, "workload.add_max");
}

#[test]
fn workload_option_out_of_range() {
    let text = format!("{GOOD}\n[workload]\nkeys = 0\n");
    assert_rejected("workload-keys", &text, 11, "workload.keys: 0 is outside");
}

#[test]
fn unknown_workload_option() {
    let text = format!("{GOOD}\n[workload]\nclients = 2\nkind = \"counter\"\nvalues = 3\n");
    assert_rejected(
        "workload-unknown-option",
        &text,
        13,
        "unknown field `values`",
    );
}

#[test]
fn a_workload_kind_nobody_serves_is_named_with_what_the_protocol_serves() {
    // Kinds are case-sensitive; the error lists what the protocol serves.
    let text = format!("{GOOD}\n[workload]\nkind = \"Counter\"\n");
    assert_rejected(
        "unserved-workload",
        &text,
        11,
        "(protocol \"unreplicated\" serves: register, counter)",
    );
}

const BANK: &str = r#"[protocol]
name = "two-phase-commit"

[protocol.options]
virtual_nodes = 100

[cluster]
nodes = 3

[workload]
kind = "bank"
accounts = 4

[run]
duration = "2s"
"#;

#[test]
fn a_bank_scenario_runs() {
    let path = scenario_file("bad-input-bank-good", BANK);
    let out = path.with_extension("out");
    let output = detsim(&["run", arg(&path), "--out", arg(&out), "--no-report"]);
    assert_eq!(output.code, 0, "{}", output.stderr);
}

#[test]
fn a_transfer_between_accounts_that_do_not_exist() {
    let text = BANK.replace(
        "accounts = 4",
        "accounts = 4\ntransfers = [[[0, 1, 5]], [[2, 7, 1]]]",
    );
    assert_rejected(
        "bank-missing-account",
        &text,
        13,
        "workload.transfers: transfer 1 leg 0: account 7 does not exist",
    );
}

#[test]
fn a_ring_with_zero_virtual_nodes() {
    let text = BANK.replace("virtual_nodes = 100", "virtual_nodes = 0");
    assert_rejected(
        "ring-zero-virtual-nodes",
        &text,
        5,
        "protocol.options: virtual_nodes: 0 is outside 1..=10000",
    );
}

#[test]
fn a_fault_triggered_by_a_moment_the_protocol_does_not_mark() {
    let text = format!(
        "{BANK}\n[[faults]]\nat = \"1s\"\naction = \"heal\"\n\n[[faults]]\non = \"decision-sent\"\naction = \"crash\"\nnode = 0\n"
    );
    assert_rejected(
        "unknown-moment",
        &text,
        22,
        "faults.on: \"decision-sent\" is not a moment of two-phase-commit",
    );
}

const SWARM_DRAW: &str = r#"[protocol]
name = "raft"

[cluster]
nodes = 3

[run]
duration = "2s"
heal_at = "1s"

[swarm]
kinds = ["crash"]

[swarm.draw]
nodes = [3, 5]
"#;

#[test]
fn swarm_draw_of_an_impossible_cluster_size() {
    let text = SWARM_DRAW.replace("nodes = [3, 5]", "nodes = [3, 0]");
    assert_rejected("swarm-draw-nodes", &text, 15, "swarm.draw.nodes");
}

#[test]
fn swarm_draw_option_that_is_not_a_list() {
    let text = format!("{SWARM_DRAW}\n[swarm.draw.options]\npre_vote = true\n");
    assert_rejected(
        "swarm-draw-option",
        &text,
        18,
        "swarm.draw.options.pre_vote",
    );
}

#[test]
fn swarm_draw_unknown_dimension() {
    let text = format!("{SWARM_DRAW}colour = [1]\n");
    assert_rejected("swarm-draw-unknown", &text, 16, "colour");
}

const LOCK: &str = r#"[protocol]
name = "lock-server"

[protocol.options]
lease = "500ms"

[cluster]
nodes = 2

[workload]
kind = "lock"
clients = 3
hold = { dist = "uniform", min = "10ms", max = "50ms" }

[run]
duration = "2s"
"#;

#[test]
fn a_lock_scenario_runs() {
    let path = scenario_file("bad-input-lock-good", LOCK);
    let out = path.with_extension("out");
    let output = detsim(&["run", arg(&path), "--out", arg(&out), "--no-report"]);
    assert_eq!(output.code, 0, "{}", output.stderr);
}

#[test]
fn a_critical_section_longer_than_the_run() {
    let text = LOCK
        .replace("max = \"50ms\"", "max = \"5s\"")
        .replace("clients = 3", "clients = 3\ntimeout = \"10s\"");
    assert_rejected(
        "lock-hold-longer-than-run",
        &text,
        14,
        "workload.hold: a critical section of up to 5s is not shorter than the run (2s)",
    );
}

#[test]
fn a_lease_of_zero() {
    let text = LOCK.replace("lease = \"500ms\"", "lease = \"0s\"");
    assert_rejected(
        "lock-zero-lease",
        &text,
        5,
        "protocol.options: lease: 0s is outside",
    );
}

#[test]
fn a_redlock_ttl_of_zero() {
    let text = LOCK
        .replace("lock-server", "redlock")
        .replace("lease = \"500ms\"", "ttl = \"0s\"");
    assert_rejected(
        "redlock-zero-ttl",
        &text,
        5,
        "protocol.options: ttl: 0s is outside",
    );
}

#[test]
fn a_zookeeper_session_timeout_of_zero() {
    let text = LOCK
        .replace("lock-server", "zookeeper-lock")
        .replace("nodes = 2", "nodes = 4")
        .replace("lease = \"500ms\"", "session_timeout = \"0s\"");
    assert_rejected(
        "zookeeper-zero-session",
        &text,
        5,
        "protocol.options: session_timeout: 0s is outside",
    );
}

#[test]
fn a_membership_change_asked_of_a_protocol_without_them() {
    let text = format!("{BANK}\n[[faults]]\nat = \"1s\"\naction = \"add-server\"\nnode = 1\n");
    assert_rejected(
        "membership-unsupported",
        &text,
        19,
        "faults.action: two-phase-commit does not support membership changes",
    );
    let swarm = SWARM_DRAW
        .replace("name = \"raft\"", "name = \"paxos\"")
        .replace("kinds = [\"crash\"]", "kinds = [\"crash\", \"membership\"]");
    assert_rejected(
        "swarm-membership-unsupported",
        &swarm,
        12,
        "swarm.kinds: paxos does not support membership changes",
    );
}
