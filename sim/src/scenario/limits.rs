//! Limits: every scenario value is checked against the arithmetic the engine will do with it.
//!
//! Parsing gives each field a type; these checks make sure the sums the engine later forms —
//! a fault's start plus its length, the heal time plus the liveness bound, a node's clock
//! reading after every jump and drift the scripted schedule or the swarm generator can produce
//! — stay inside the integers they are held in, and that a run with a liveness phase can show
//! liveness at all. Validated input must never make the engine overflow; an engine assertion
//! that breaks anyway is a bug of detsim, and its panic says so ([`ENGINE_BUG`]).
//!
//! Two entry points, each called once from [`Scenario::validate`]: [`check_magnitudes`] first
//! (single values, before anything adds them up) and [`check_schedule`] last (sums over the
//! whole schedule, and the liveness window).

use super::{Fault, FaultSpec, Locator, Problem, Scenario, SignedDuration, SwarmKind, MAX_RUN};
use crate::clock::{DRIFT_PPM_LIMIT, LOCAL_EPOCH};
use crate::network::Latency;
use crate::time::SimDuration;

/// Prefix of the message of every engine assertion. A panic whose message starts with it is an
/// invariant of the engine that broke on validated input — a bug of detsim, not of the protocol
/// under test.
pub const ENGINE_BUG: &str = "detsim bug:";

/// The most a node's clock may be moved by jumps over a whole run, summed over every jump and
/// either way (500,000 s). Local clocks start at [`LOCAL_EPOCH`] plus an offset of less than
/// half of it, so a clock moved back by at most this much still reads a positive number, and one
/// moved forward stays far from overflowing.
pub const MAX_TOTAL_JUMP: SimDuration = SimDuration(LOCAL_EPOCH / 2);

/// The swarm generator draws at most this many faults per seed (see `nemesis::expand`).
const SWARM_MAX_FAULTS: u64 = 10_000;

/// The verdict text of a run that panicked: an engine assertion (message starting with
/// [`ENGINE_BUG`]) says that detsim, not the protocol, is at fault.
pub fn describe_panic(message: String) -> String {
    if message.starts_with(ENGINE_BUG) {
        format!(
            "{message} (an invariant of the engine broke on validated input: this is a bug of \
             detsim, not of the protocol; please report it with the scenario and seed)"
        )
    } else {
        message
    }
}

fn drift_ok(ppm: i64) -> bool {
    ppm.unsigned_abs() <= DRIFT_PPM_LIMIT.unsigned_abs()
}

fn duration_ok(duration: SimDuration) -> bool {
    duration <= MAX_RUN
}

/// Single values, checked before anything adds them up: node numbers, drifts and offsets of
/// `[clocks]`, durations that get added to a time, drifts and jumps of faults and of the swarm.
pub(super) fn check_magnitudes(scenario: &Scenario) -> Result<(), Problem> {
    let nodes = scenario.cluster.nodes;
    let element = |key: &'static str, index: usize, field: &'static str, message: String| Problem {
        locator: Locator::Element {
            table: if key == "links" { "network" } else { "clocks" },
            key,
            index,
            field,
        },
        message,
    };
    for (i, link) in scenario.network.links.iter().enumerate() {
        for (field, node) in [("from", link.from), ("to", link.to)] {
            if node >= nodes {
                return Err(element(
                    "links",
                    i,
                    field,
                    format!(
                        "network.links[{i}].{field}: node {node} does not exist in a cluster of \
                         {nodes} (nodes are 0..{})",
                        nodes - 1
                    ),
                ));
            }
        }
    }
    if scenario.network.reorder_delay > Latency::MAX {
        return Err(Problem::at(
            "network",
            "reorder_delay",
            format!(
                "network.reorder_delay: {} is longer than the limit of {}",
                scenario.network.reorder_delay,
                Latency::MAX
            ),
        ));
    }
    let clients = scenario.workload.clients;
    let specs = (scenario.clocks.nodes.iter().enumerate())
        .map(|(i, c)| ("nodes", "node", i, c.node, nodes, c.offset, c.drift_ppm))
        .chain((scenario.clocks.clients.iter().enumerate()).map(|(i, c)| {
            (
                "clients",
                "client",
                i,
                c.client,
                clients,
                c.offset,
                c.drift_ppm,
            )
        }));
    for (key, what, i, id, count, offset, drift_ppm) in specs {
        if id >= count {
            // A count of zero is refused later with its own message; it must not underflow.
            let range = match count {
                0 => "there are none".to_string(),
                n => format!("{what}s are 0..{}", n - 1),
            };
            let whole = if what == "node" {
                format!("a cluster of {count} ({range})")
            } else {
                format!("a workload of {count} clients ({range})")
            };
            return Err(element(
                key,
                i,
                what,
                format!("clocks.{key}[{i}].{what}: {what} {id} does not exist in {whole}"),
            ));
        }
        if !drift_ok(drift_ppm) {
            return Err(element(
                key,
                i,
                "drift_ppm",
                format!(
                    "clocks.{key}[{i}].drift_ppm: {drift_ppm} is beyond ±{DRIFT_PPM_LIMIT} \
                     (expected parts per million between -{DRIFT_PPM_LIMIT} and \
                     {DRIFT_PPM_LIMIT})"
                ),
            ));
        }
        if offset.0.unsigned_abs() >= LOCAL_EPOCH / 2 {
            return Err(element(
                key,
                i,
                "offset",
                format!(
                    "clocks.{key}[{i}].offset: {offset} is too large (expected less than {} \
                     either way: wall clocks read {} at the start and must stay positive)",
                    SimDuration(LOCAL_EPOCH / 2),
                    SimDuration(LOCAL_EPOCH)
                ),
            ));
        }
    }
    let run = &scenario.run;
    for (key, value) in [
        ("heal_at", run.heal_at),
        ("liveness_bound", run.liveness_bound),
    ] {
        if let Some(value) = value.filter(|v| !duration_ok(*v)) {
            return Err(Problem::at(
                "run",
                key,
                format!("run.{key}: {value} is longer than the limit of {MAX_RUN}"),
            ));
        }
    }
    let workload = &scenario.workload;
    for (key, value) in [
        ("retry_after", workload.retry_after),
        ("failover_after", workload.failover_after),
    ] {
        if let Some(value) = value.filter(|v| !duration_ok(*v)) {
            return Err(Problem::at(
                "workload",
                key,
                format!("workload.{key}: {value} is longer than the limit of {MAX_RUN}"),
            ));
        }
    }
    for (i, fault) in scenario.faults.iter().enumerate() {
        let entry = Problem::entry("[[faults]]", i);
        if let Some(length) = fault.duration.filter(|d| !duration_ok(*d)) {
            return Err(entry.with(format!(
                "faults[{i}].for: {length} is longer than the limit of {MAX_RUN}"
            )));
        }
        if let Some(ppm) = drift_of(fault).filter(|p| !drift_ok(*p)) {
            return Err(entry.with(format!(
                "faults[{i}].drift_ppm: {ppm} is beyond ±{DRIFT_PPM_LIMIT} (expected parts per \
                 million between -{DRIFT_PPM_LIMIT} and {DRIFT_PPM_LIMIT})"
            )));
        }
        if let Some(by) = jump_of(fault).filter(|by| by.0.unsigned_abs() > MAX_TOTAL_JUMP.0) {
            return Err(entry.with(format!(
                "faults[{i}].by: {by} moves a clock by more than {MAX_TOTAL_JUMP}"
            )));
        }
    }
    if let Some(swarm) = &scenario.swarm {
        for (key, value) in [
            ("gap_min", swarm.gap_min),
            ("gap_max", swarm.gap_max),
            ("length_min", swarm.length_min),
            ("length_max", swarm.length_max),
            ("clock_jump_max", swarm.clock_jump_max),
        ] {
            if !duration_ok(value) {
                return Err(Problem::at(
                    "swarm",
                    key,
                    format!("swarm.{key}: {value} is longer than the limit of {MAX_RUN}"),
                ));
            }
        }
        if !drift_ok(swarm.drift_ppm_max) {
            return Err(Problem::at(
                "swarm",
                "drift_ppm_max",
                format!(
                    "swarm.drift_ppm_max: {} is beyond ±{DRIFT_PPM_LIMIT} (expected parts per \
                     million between 0 and {DRIFT_PPM_LIMIT})",
                    swarm.drift_ppm_max
                ),
            ));
        }
    }
    Ok(())
}

/// The drift a fault sets, if it is a clock-drift fault.
fn drift_of(spec: &FaultSpec) -> Option<i64> {
    match spec.fault {
        Fault::ClockDrift { drift_ppm, .. } => Some(drift_ppm),
        _ => None,
    }
}

/// How far a fault moves a clock, if it is a clock-jump fault.
fn jump_of(spec: &FaultSpec) -> Option<SignedDuration> {
    match spec.fault {
        Fault::ClockJump { by, .. } => Some(by),
        _ => None,
    }
}

/// Sums over the whole schedule, and the liveness window; called after every other check, so
/// each value on its own is known to be in range.
pub(super) fn check_schedule(scenario: &Scenario) -> Result<(), Problem> {
    check_clock_jumps(scenario)?;
    check_liveness_window(scenario)
}

/// A clock's reading is its start (the local epoch plus an offset of less than half of it) plus
/// elapsed time scaled by a drift of at most ±50% (never backwards), plus its jumps. Each jump
/// fault moves the clock by `by` and, when it has a `for`, back again, so it lowers (or raises)
/// a reading by at most `|by|` overall: the sum of `|by|` bounds how far any clock can go either
/// way, whichever node each jump hits.
fn check_clock_jumps(scenario: &Scenario) -> Result<(), Problem> {
    let total: u128 = scenario
        .faults
        .iter()
        .filter_map(jump_of)
        .map(|by| u128::from(by.0.unsigned_abs()))
        .sum();
    if total > u128::from(MAX_TOTAL_JUMP.0) {
        let last = scenario
            .faults
            .iter()
            .rposition(|fault| jump_of(fault).is_some())
            .unwrap_or(0);
        return Err(Problem::entry("[[faults]]", last).with(format!(
            "faults[{last}].by: the clock jumps of the schedule add up to {}, more than the \
             {MAX_TOTAL_JUMP} a local clock can be moved over a run (it would read below zero \
             or overflow)",
            SimDuration(u64::try_from(total).unwrap_or(u64::MAX))
        )));
    }
    if let (Some(swarm), Some(heal)) = (&scenario.swarm, scenario.run.heal_at) {
        if swarm.kinds.contains(&SwarmKind::Clock) || swarm.kinds.contains(&SwarmKind::ClientClock)
        {
            // Faults start at least gap_min apart, from gap_min on, and all before heal_at.
            let count = (heal.0 / swarm.gap_min.0.max(1)).min(SWARM_MAX_FAULTS);
            let worst = u128::from(count) * u128::from(swarm.clock_jump_max.0);
            if worst > u128::from(MAX_TOTAL_JUMP.0) {
                return Err(Problem::at(
                    "swarm",
                    "clock_jump_max",
                    format!(
                        "swarm.clock_jump_max: up to {count} jumps of up to {} each can move a \
                         clock by more than the {MAX_TOTAL_JUMP} a local clock allows over a run \
                         (expected at most {})",
                        swarm.clock_jump_max,
                        SimDuration(MAX_TOTAL_JUMP.0 / count.max(1))
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A liveness phase must be one in which clients make requests.
///
/// Clients invoke operations until `duration − workload.timeout` (so that every operation can
/// complete or time out before the run ends; the whole run when it is not longer than the
/// timeout). When the liveness phase begins at or after that, no operation is ever invoked in
/// it, and a correct protocol fails the liveness check for want of requests. (That the window
/// `heal_at + liveness_bound` ends inside the run is checked with the other run fields.)
fn check_liveness_window(scenario: &Scenario) -> Result<(), Problem> {
    let (Some(heal), Some(_)) = (scenario.heal_time(), scenario.run.liveness_bound) else {
        return Ok(());
    };
    let timeout = scenario.workload.timeout;
    let duration = scenario.run.duration;
    let invoking_until = if duration > timeout {
        SimDuration(duration.0 - timeout.0)
    } else {
        duration
    };
    if heal >= invoking_until {
        let (table, key) = if scenario.run.heal_at.is_some() {
            ("run", "heal_at")
        } else {
            ("workload", "timeout")
        };
        return Err(Problem::at(
            table,
            key,
            format!(
                "{table}.{key}: the liveness phase begins at {heal}, but clients stop invoking \
                 operations at {invoking_until} (run.duration {duration} minus workload.timeout \
                 {timeout}), so no request could be made in it (expected heal_at + \
                 workload.timeout below run.duration)"
            ),
        ));
    }
    Ok(())
}

/// The line of element `index` of an array of tables `key` in `[table]`: the `[[table.key]]`
/// header when written that way, otherwise the line of `field` (or of the element's start)
/// inside the inline array `key = [ {...}, {...} ]`. Falls back to the line of `key`.
pub(super) fn element_line(text: &str, table: &str, key: &str, index: usize, field: &str) -> usize {
    let header = format!("[[{table}.{key}]]");
    if text.lines().any(|line| line.trim() == header) {
        return super::array_entry_line(text, &header, index);
    }
    let start_line = super::key_line(text, table, key);
    // Byte offset of the start of the array's line.
    let start: usize = text
        .split_inclusive('\n')
        .take(start_line - 1)
        .map(str::len)
        .sum();
    let Some(open) = text[start..].find('[').map(|i| start + i) else {
        return start_line;
    };
    // Walk the inline array, tracking braces (ignoring those inside strings), to find the
    // `index`-th `{` at depth one and then `field` inside it.
    let bytes = text.as_bytes();
    let (mut depth, mut in_string, mut seen) = (0usize, false, 0usize);
    let mut element_start = None;
    let mut i = open;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            if c == b'\\' {
                i += 1;
            } else if c == b'"' {
                in_string = false;
            }
        } else {
            match c {
                b'"' => in_string = true,
                b'[' | b'{' => {
                    depth += 1;
                    if c == b'{' && depth == 2 {
                        if seen == index {
                            element_start = Some(i);
                        }
                        seen += 1;
                    }
                }
                b']' | b'}' => {
                    if c == b'}' && depth == 2 {
                        if let Some(from) = element_start {
                            let element = &text[from..i];
                            let at = find_field(element, field).map_or(from, |j| from + j);
                            return text[..at].matches('\n').count() + 1;
                        }
                    }
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        break;
                    }
                }
                b'#' => {
                    // A comment runs to the end of the line.
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    start_line
}

/// Where `field =` starts inside an inline table's text.
fn find_field(element: &str, field: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(j) = element[from..].find(field).map(|j| from + j) {
        let before = element[..j].chars().next_back();
        let after = element[j + field.len()..].trim_start();
        if matches!(before, Some('{' | ',' | ' ' | '\t' | '\n')) && after.starts_with('=') {
            return Some(j);
        }
        from = j + field.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_line_finds_inline_and_table_entries() {
        let text = "[clocks]\nnodes = [\n  { node = 1, offset = \"1s\" },\n  { node = 2,\n    offset = \"x\" },\n]\n";
        assert_eq!(element_line(text, "clocks", "nodes", 0, "offset"), 3);
        assert_eq!(element_line(text, "clocks", "nodes", 1, "offset"), 5);
        assert_eq!(element_line(text, "clocks", "nodes", 1, "node"), 4);
        let tables = "[run]\n\n[[clocks.nodes]]\nnode = 1\n\n[[clocks.nodes]]\nnode = 2\n";
        assert_eq!(element_line(tables, "clocks", "nodes", 1, "node"), 6);
    }

    #[test]
    fn engine_panics_are_marked_as_detsim_bugs() {
        assert!(describe_panic(format!("{ENGINE_BUG} x")).contains("bug of detsim"));
        assert_eq!(
            describe_panic("index out of bounds".into()),
            "index out of bounds"
        );
    }
}
