//! Why a run failed, in words: the cause and a short causal narrative.
//!
//! For a linearizability violation the cause is the operation that cannot be placed and the
//! operations it conflicts with ([`sim::conflict`]: without them the history up to the stuck
//! operation is linearizable), each with the node that served it; for a stale read, the write
//! whose value it should have seen. For an invariant, the violation's own text names the nodes,
//! terms and indexes. The narrative then lists, in time order up to the violation, the faults,
//! the leaders elected and the operations named, so that "n0 isolated; n4 leads term 2; write
//! via n4 ok; read via n0 returned the old value" can be read off directly.

use crate::format::seconds;
use sim::conflict::{spans, Span};
use sim::history::{Op, OpType, Value};
use sim::outcome::{RunData, Verdict};
use std::fmt::Write as _;

/// Most narrative lines: the latest ones before the violation are kept.
const NARRATIVE_LINES_MAX: usize = 40;

/// One operation of the explanation, with the node that served it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedOperation {
    /// History position of its invocation.
    pub invoke: u64,
    /// History position of its completion, if it completed.
    pub complete: Option<u64>,
    /// Readable form: `process 0 read key 0 -> 1 (ok via n0, 0.601 s..0.603 s)`.
    pub text: String,
    /// The node that served it, if known.
    pub node: Option<u32>,
}

/// The explanation of a failed run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Explanation {
    /// The cause, one paragraph.
    pub cause: Vec<String>,
    /// The stuck operation, if the checker named one.
    pub stuck: Option<NamedOperation>,
    /// The operations it conflicts with.
    pub conflicts: Vec<NamedOperation>,
    /// Time-ordered events leading to the violation.
    pub narrative: Vec<String>,
}

/// Explains `data`'s failure; `None` for a run that passed.
pub fn explain(data: &RunData) -> Option<Explanation> {
    if data.verdict.is_pass() {
        return None;
    }
    let all = spans(&data.history);
    let ops: Vec<Op> = data.history.ops().collect();
    let name = |invoke: u64| -> Option<NamedOperation> {
        let span = all.iter().find(|s| s.invoke as u64 == invoke)?;
        Some(named(data, &ops, span))
    };
    let stuck = data.stuck_operation.and_then(name);
    let conflicts: Vec<NamedOperation> = data
        .conflicting_operations
        .iter()
        .filter_map(|&invoke| name(invoke))
        .collect();
    let mut cause = Vec::new();
    // Operations answered `fail` whose value the stuck read returned (see `failed_sources`).
    let mut sources: Vec<NamedOperation> = Vec::new();
    match &data.verdict {
        Verdict::SafetyViolation {
            property,
            detail,
            time,
        } => {
            if let Some(stuck) = &stuck {
                cause.push(format!(
                    "{property} broken: this operation cannot be placed:"
                ));
                cause.push(format!("  {}", stuck.text));
                if conflicts.is_empty() {
                    cause.push(
                        "no single set of other operations explains it: it is illegal whatever \
                         else is removed before it"
                            .to_string(),
                    );
                    sources = (failed_sources(&ops, &all, data).iter())
                        .map(|source| named(data, &ops, source))
                        .collect();
                    if !sources.is_empty() {
                        cause.push(
                            "the value it returned was written only by an operation the service \
                             answered `fail` (a failed operation must not take effect; a request \
                             executed twice, the second time against its own write, fails so):"
                                .to_string(),
                        );
                        for source in &sources {
                            cause.push(format!("  {}", source.text));
                        }
                    }
                } else {
                    cause.push(format!(
                        "it conflicts with (without {} the history up to it is linearizable):",
                        if conflicts.len() == 1 {
                            "this"
                        } else {
                            "these"
                        }
                    ));
                    for conflict in &conflicts {
                        cause.push(format!("  {}", conflict.text));
                    }
                    if let Some(line) = stale_read_line(&ops, &all, data, &conflicts) {
                        cause.push(line);
                    }
                }
            } else {
                cause.push(format!(
                    "{property} broken at {}: {detail}",
                    seconds(time.as_nanos())
                ));
                if let Some(line) = participants(detail) {
                    cause.push(line);
                }
            }
        }
        other => cause.push(other.to_string()),
    }
    let narrative = narrative(data, stuck.as_ref(), &conflicts, &sources);
    Some(Explanation {
        cause,
        stuck,
        conflicts,
        narrative,
    })
}

/// The explanation as plain text (for `detsim explain` and `linearizability.txt`).
pub fn text(explanation: &Explanation) -> String {
    let mut out = String::new();
    for line in &explanation.cause {
        let _ = writeln!(out, "{line}");
    }
    if !explanation.narrative.is_empty() {
        let _ = writeln!(out, "\nwhat happened:");
        for line in &explanation.narrative {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

/// For a read that returned a value other than the one the last conflicting write wrote: which
/// write it should have seen.
fn stale_read_line(
    ops: &[Op],
    all: &[Span],
    data: &RunData,
    conflicts: &[NamedOperation],
) -> Option<String> {
    let stuck = data.stuck_operation? as usize;
    let span = all.iter().find(|s| s.invoke == stuck)?;
    let completion = &ops[span.complete?];
    if completion.function != "read" && completion.function != "get" {
        return None;
    }
    let write = conflicts
        .iter()
        .rev()
        .find(|c| ops[c.invoke as usize].function != "read")?;
    let written = match &ops[write.invoke as usize].value {
        Value::List(pair) if pair.len() == 2 => pair[1].clone(),
        value => value.clone(),
    };
    Some(format!(
        "a stale read: it returned {}, but {} (via {}) had already {}",
        completion.value,
        ops[write.invoke as usize].function,
        node_text(write.node),
        match &written {
            Value::Nil => "completed".to_string(),
            value => format!("set {value}"),
        }
    ))
}

/// For a read that returned a value no operation that may have taken effect wrote, the
/// operations of its key, invoked before it returned, that wrote that value and were answered
/// `fail`: the value came from an operation the client was told did not happen. Empty
/// otherwise (including when an `ok` or unknown operation wrote the value too).
fn failed_sources(ops: &[Op], all: &[Span], data: &RunData) -> Vec<Span> {
    let Some(stuck) = data.stuck_operation else {
        return Vec::new();
    };
    let Some(span) = all.iter().find(|s| s.invoke as u64 == stuck) else {
        return Vec::new();
    };
    let Some(completion) = span.complete.map(|c| &ops[c]) else {
        return Vec::new();
    };
    let read = &ops[span.invoke];
    if !matches!(read.function.as_ref(), "read" | "get") || completion.value == Value::Nil {
        return Vec::new();
    }
    // What an operation writes: a write's value, a compare-and-set's new value ([from to]).
    let writes = |op: &Op| match (op.function.as_ref(), &op.value) {
        ("write", value) => Some(value.clone()),
        ("cas", Value::List(pair)) if pair.len() == 2 => Some(pair[1].clone()),
        _ => None,
    };
    let mut sources = Vec::new();
    for other in all.iter().filter(|s| s.invoke != span.invoke) {
        let invoke = &ops[other.invoke];
        if invoke.key != read.key
            || invoke.time > completion.time
            || writes(invoke).as_ref() != Some(&completion.value)
        {
            continue;
        }
        match other.complete.map(|c| ops[c].kind) {
            Some(OpType::Fail) => sources.push(*other),
            // An operation that may have taken effect wrote it: not this explanation.
            _ => return Vec::new(),
        }
    }
    sources
}

/// The nodes, terms and log indexes an invariant's text names (`n0`, `t7`, `i43`), in order of
/// first mention: `involved: nodes n0, n4; terms t2, t3; indexes i43`.
fn participants(detail: &str) -> Option<String> {
    let mut groups: [(&str, char, Vec<&str>); 3] = [
        ("nodes", 'n', Vec::new()),
        ("terms", 't', Vec::new()),
        ("indexes", 'i', Vec::new()),
    ];
    for word in detail.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = word.chars();
        let (Some(first), rest) = (chars.next(), chars.as_str()) else {
            continue;
        };
        if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        for (_, prefix, seen) in &mut groups {
            if first == *prefix && !seen.contains(&word) {
                seen.push(word);
            }
        }
    }
    let parts: Vec<String> = groups
        .iter()
        .filter(|(_, _, seen)| !seen.is_empty())
        .map(|(name, _, seen)| format!("{name} {}", seen.join(", ")))
        .collect();
    (!parts.is_empty()).then(|| format!("involved: {}", parts.join("; ")))
}

fn node_text(node: Option<u32>) -> String {
    node.map_or("an unknown node".to_string(), |n| format!("n{n}"))
}

fn named(data: &RunData, ops: &[Op], span: &Span) -> NamedOperation {
    let invoke = &ops[span.invoke];
    let process = match invoke.process {
        sim::history::Process::Client(p) => p,
        _ => 0,
    };
    let key = invoke
        .key
        .as_ref()
        .map_or(String::new(), |k| format!(" key {k}"));
    let (outcome, node, value, end) = match span.complete {
        Some(complete) => {
            let completion = &ops[complete];
            let outcome = match completion.kind {
                OpType::Ok => "ok",
                OpType::Fail => "fail",
                OpType::Info => "info",
                OpType::Invoke => "?",
            };
            let node = data.history.node(complete).map(|n| n.0);
            (outcome, node, &completion.value, Some(completion.time))
        }
        None => ("pending", None, &invoke.value, None),
    };
    let value = if invoke.function == "read" || invoke.function == "get" {
        format!(" -> {value}")
    } else {
        format!(" {}", invoke.value)
    };
    let by = node.map_or(String::new(), |n| format!(" via n{n}"));
    let times = match end {
        Some(end) => format!("{}..{}", seconds(invoke.time), seconds(end)),
        None => format!("from {}", seconds(invoke.time)),
    };
    NamedOperation {
        invoke: span.invoke as u64,
        complete: span.complete.map(|c| c as u64),
        text: format!(
            "process {process} {}{key}{value} ({outcome}{by}, {times})",
            invoke.function
        ),
        node,
    }
}

/// Faults, leaders and the named operations, in time order, up to the violation.
fn narrative(
    data: &RunData,
    stuck: Option<&NamedOperation>,
    conflicts: &[NamedOperation],
    sources: &[NamedOperation],
) -> Vec<String> {
    let end = match &data.verdict {
        Verdict::SafetyViolation { time, .. } => time.as_nanos(),
        _ => data.stats.simulated_time.as_nanos(),
    };
    let mut events: Vec<(u64, u8, String)> = Vec::new();
    for fault in &data.faults {
        let start = fault.start.as_nanos();
        if start > end {
            continue;
        }
        let until = match fault.end {
            Some(stop) if stop == fault.start => String::new(),
            Some(stop) => format!(" until {}", seconds(stop.as_nanos())),
            None => " to the end".to_string(),
        };
        events.push((start, 0, format!("fault: {}{until}", fault.label)));
    }
    for change in &data.leaders {
        let time = change.time.as_nanos();
        if time <= end {
            events.push((
                time,
                1,
                format!("{} became leader of term {}", change.node, change.term),
            ));
        }
    }
    let ops: Vec<Op> = data.history.ops().collect();
    let mut operation = |named: &NamedOperation, role: &str| {
        let invoke = &ops[named.invoke as usize];
        events.push((
            invoke.time,
            2,
            format!(
                "{role} invoked: process {} {}",
                process_of(invoke),
                invoke.function
            ),
        ));
        if let Some(complete) = named.complete {
            let completion = &ops[complete as usize];
            let value = if completion.function == "read" || completion.function == "get" {
                format!(" returned {}", completion.value)
            } else {
                format!(" {}", invoke.value)
            };
            events.push((
                completion.time,
                3,
                format!(
                    "{role} completed: {}{value} via {}",
                    completion.function,
                    node_text(named.node)
                ),
            ));
        }
    };
    for conflict in conflicts {
        operation(conflict, "conflicting operation");
    }
    for source in sources {
        operation(source, "operation answered fail");
    }
    if let Some(stuck) = stuck {
        operation(stuck, "stuck operation");
    }
    if let Verdict::SafetyViolation { property, time, .. } = &data.verdict {
        events.push((time.as_nanos(), 4, format!("{property} violated")));
    }
    events.sort_by_key(|event| (event.0, event.1));
    let skip = events.len().saturating_sub(NARRATIVE_LINES_MAX);
    events
        .into_iter()
        .skip(skip)
        .map(|(time, _, text)| format!("{:>12}  {text}", seconds(time)))
        .collect()
}

fn process_of(op: &Op) -> u64 {
    match op.process {
        sim::history::Process::Client(p) => p,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn participants_are_read_from_an_invariants_text() {
        let detail =
            "n0 leads t7 but holds at i43 r53 of t3, not r48 of t2, which n4 applied in t4";
        assert_eq!(
            super::participants(detail).as_deref(),
            Some("involved: nodes n0, n4; terms t7, t3, t2, t4; indexes i43")
        );
        assert_eq!(super::participants("no numbers here"), None);
    }
}
