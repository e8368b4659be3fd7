//! `messages.svg`: a message (Lamport) diagram, as Maelstrom draws them.
//!
//! One vertical lane per node, then one per client; time flows down. Every message is an arrow
//! from its sender's lane at the moment it departed to its receiver's lane at the moment it
//! arrived, coloured by kind (the protocol's [`sim::protocol::Protocol::message_kind`] name,
//! which the trace's `send` lines carry); client requests and replies are arrows between a
//! client lane and a node lane. Crashes and pauses shade the node's lane, partitions and other
//! faults shade a band across every lane, a node becoming leader is marked on its lane (two
//! leaders at once are then plain to see), and a safety violation is a red line.
//!
//! Rows are in event order, not to scale: each distinct send or arrival time gets a row, so
//! that a burst of messages within a millisecond stays readable. A long run shows only the
//! window of [`MESSAGES_MAX`] messages that ends at the violation (or the end of the run).
//!
//! The diagram is built from `trace.log`: `send S->T KIND TEXT` at departure, and `deliver`,
//! `request` or `response` with `S->T TEXT` at arrival; a send is paired with the first
//! arrival of the same sender, receiver and text (a duplicate pairs with the send again).

use crate::format::{html, seconds};
use sim::outcome::{FaultKind, RunData, Verdict};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Most messages drawn: a longer run shows the window that ends at the violation.
pub const MESSAGES_MAX: usize = 300;
/// Height of one row of events, pixels.
const ROW: u64 = 14;
/// Width of one lane, pixels.
const LANE: u64 = 110;
/// Left margin for the time labels, pixels.
const LEFT: u64 = 90;
/// Top margin for lane names and the legend, pixels.
const TOP: u64 = 70;

/// Kind colours (Paul Tol's muted scheme), assigned to kinds in order of name.
const PALETTE: [&str; 9] = [
    "#332288", "#117733", "#44aa99", "#88ccee", "#ddcc77", "#cc6677", "#aa4499", "#882255",
    "#999933",
];

/// One message of the diagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Sender lane name (`n0`, `c1`).
    pub source: String,
    /// Receiver lane name.
    pub target: String,
    /// The kind (colour).
    pub kind: String,
    /// The message, for the tooltip.
    pub text: String,
    /// Departure, nanoseconds.
    pub sent: u64,
    /// Arrival, nanoseconds.
    pub arrived: u64,
}

/// Per sender, receiver and text: the sends not yet paired (time and kind, oldest first), and the
/// last one (a duplicate arrival pairs with it again).
type Waiting = (Vec<(u64, String)>, Option<(u64, String)>);

/// Pairs the trace's sends with their arrivals. Sends never delivered (dropped, or still in
/// flight at the end) are left out.
pub fn messages_of_trace(trace: &str) -> Vec<Message> {
    let mut waiting: BTreeMap<(String, String, String), Waiting> = BTreeMap::new();
    let mut messages = Vec::new();
    for line in trace.lines() {
        let mut words = line.splitn(4, ' ');
        let (Some(time), Some(what), Some(link), Some(rest)) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            continue;
        };
        let Some((source, target)) = link.split_once("->") else {
            continue;
        };
        let Some(time) = parse_seconds(time) else {
            continue;
        };
        match what {
            "send" => {
                let Some((kind, text)) = rest.split_once(' ') else {
                    continue;
                };
                let key = (source.to_string(), target.to_string(), text.to_string());
                let entry = waiting.entry(key).or_default();
                entry.0.push((time, kind.to_string()));
                entry.1 = Some((time, kind.to_string()));
            }
            "deliver" | "request" | "response" => {
                let key = (source.to_string(), target.to_string(), rest.to_string());
                let Some(entry) = waiting.get_mut(&key) else {
                    continue;
                };
                let send = if entry.0.is_empty() {
                    entry.1.clone()
                } else {
                    Some(entry.0.remove(0))
                };
                if let Some((sent, kind)) = send {
                    messages.push(Message {
                        source: source.to_string(),
                        target: target.to_string(),
                        kind,
                        text: rest.to_string(),
                        sent,
                        arrived: time,
                    });
                }
            }
            _ => {}
        }
    }
    messages
}

/// `1.234567890` to nanoseconds.
fn parse_seconds(text: &str) -> Option<u64> {
    let (whole, fraction) = text.split_once('.')?;
    let whole: u64 = whole.parse().ok()?;
    if fraction.len() != 9 {
        return None;
    }
    Some(whole * 1_000_000_000 + fraction.parse::<u64>().ok()?)
}

/// Renders `messages.svg` for `data` from the messages of its trace.
pub fn render(data: &RunData, messages: &[Message]) -> String {
    let violation = match &data.verdict {
        Verdict::SafetyViolation { time, .. } => Some(time.as_nanos()),
        _ => None,
    };
    // The window: the last MESSAGES_MAX messages sent up to the violation (or the end).
    let end = violation.unwrap_or(u64::MAX);
    let mut shown: Vec<&Message> = messages.iter().filter(|m| m.sent <= end).collect();
    let skipped = shown.len().saturating_sub(MESSAGES_MAX);
    shown.drain(..skipped);
    let window_start = shown.iter().map(|m| m.sent).min().unwrap_or(0);
    let window_end = shown
        .iter()
        .map(|m| m.arrived)
        .max()
        .unwrap_or(0)
        .max(violation.unwrap_or(0));
    // Lanes: nodes, then clients that appear.
    let mut lanes: Vec<String> = (0..data.node_count).map(|n| format!("n{n}")).collect();
    let mut clients: Vec<u32> = shown
        .iter()
        .flat_map(|m| [&m.source, &m.target])
        .filter_map(|lane| lane.strip_prefix('c')?.parse().ok())
        .collect();
    clients.sort_unstable();
    clients.dedup();
    lanes.extend(clients.iter().map(|c| format!("c{c}")));
    let lane_x = |name: &str| -> Option<u64> {
        lanes
            .iter()
            .position(|lane| lane == name)
            .map(|i| LEFT + LANE / 2 + i as u64 * LANE)
    };
    // Rows: every distinct time drawn.
    let mut times: Vec<u64> = shown.iter().flat_map(|m| [m.sent, m.arrived]).collect();
    let leaders: Vec<_> = (data.leaders.iter())
        .filter(|l| (window_start..=window_end).contains(&l.time.as_nanos()))
        .collect();
    times.extend(leaders.iter().map(|l| l.time.as_nanos()));
    let faults: Vec<_> = (data.faults.iter())
        .filter(|f| f.start.as_nanos() <= window_end)
        .filter(|f| f.end.is_none_or(|e| e.as_nanos() >= window_start))
        .collect();
    for fault in &faults {
        times.push(fault.start.as_nanos().max(window_start));
        times.push(
            fault
                .end
                .map_or(window_end, |e| e.as_nanos().min(window_end)),
        );
    }
    times.extend(violation);
    times.sort_unstable();
    times.dedup();
    // A row for a time, or for a time between rows: the first row at or after it.
    let y = |time: u64| -> u64 {
        let row = times.partition_point(|&t| t < time) as u64;
        TOP + 20 + row * ROW
    };
    let height = TOP + 40 + times.len() as u64 * ROW + 20;
    // Room right of the last lane for the named operations' labels.
    let width = LEFT + lanes.len() as u64 * LANE + 440;
    let mut kinds: Vec<&str> = shown.iter().map(|m| m.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let colour = |kind: &str| {
        let index = kinds.iter().position(|k| *k == kind).unwrap_or(0);
        PALETTE[index % PALETTE.len()]
    };

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" font-family=\"DejaVu Sans, sans-serif\" font-size=\"11\">"
    );
    let _ = writeln!(
        svg,
        "<defs>{}</defs>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
        kinds
            .iter()
            .enumerate()
            .map(|(i, kind)| format!(
                "<marker id=\"arrow{i}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
                 markerWidth=\"6\" markerHeight=\"6\" orient=\"auto-start-reverse\">\
                 <path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"{}\"/></marker>",
                colour(kind)
            ))
            .collect::<String>()
    );
    let title = format!(
        "Messages of {} (seed {}){}",
        data.scenario,
        data.seed,
        if skipped > 0 {
            format!(
                ": the last {} messages before the violation ({skipped} earlier ones left out)",
                shown.len()
            )
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        svg,
        "<text x=\"10\" y=\"18\" font-size=\"13\" font-weight=\"bold\">{}</text>",
        html(&title)
    );
    // Legend.
    let mut x = 10;
    for kind in &kinds {
        let _ = writeln!(
            svg,
            "<rect x=\"{x}\" y=\"28\" width=\"12\" height=\"4\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"34\">{}</text>",
            colour(kind),
            x + 16,
            html(kind)
        );
        x += 24 + 7 * kind.len() as u64;
    }
    // Fault shading: on one node's lane for a crash or pause, across every lane otherwise.
    for fault in &faults {
        let top = y(fault.start.as_nanos().max(window_start));
        let bottom = y(fault
            .end
            .map_or(window_end, |e| e.as_nanos().min(window_end)));
        let (fill, label) = match fault.kind {
            FaultKind::Crash => ("#bbbbbb", "crash"),
            FaultKind::Pause => ("#ccbb44", "pause"),
            FaultKind::Partition => ("#ee6677", "partition"),
            FaultKind::Clock => ("#66ccee", "clock"),
            FaultKind::Network => ("#aa3377", "network"),
            FaultKind::Membership => ("#4477aa", "membership"),
        };
        let single =
            matches!(fault.kind, FaultKind::Crash | FaultKind::Pause) && fault.nodes.len() == 1;
        let (left, span) = match (single, fault.nodes.first()) {
            (true, Some(node)) => (LEFT + u64::from(node.0) * LANE + 8, LANE - 16),
            _ => (LEFT, lanes.len() as u64 * LANE),
        };
        let _ = writeln!(
            svg,
            "<rect x=\"{left}\" y=\"{top}\" width=\"{span}\" height=\"{}\" fill=\"{fill}\" \
             opacity=\"0.25\"><title>{}</title></rect>\
             <text x=\"{}\" y=\"{}\" fill=\"#555\" font-size=\"10\">{label}: {}</text>",
            (bottom - top).max(3),
            html(&format!(
                "{} from {}",
                fault.label,
                seconds(fault.start.as_nanos())
            )),
            left + 2,
            top + 10,
            html(&fault.label)
        );
    }
    // Lanes.
    for lane in &lanes {
        let x = lane_x(lane).expect("a lane");
        let client = lane.starts_with('c');
        let _ = writeln!(
            svg,
            "<text x=\"{x}\" y=\"{}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>\
             <line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\"/>",
            TOP + 6,
            if client {
                format!("client {}", &lane[1..])
            } else {
                format!("node {}", &lane[1..])
            },
            TOP + 12,
            height - 20,
            if client { "#bbbbbb" } else { "#444444" }
        );
    }
    // Time labels every few rows.
    for (row, time) in times.iter().enumerate().step_by(6) {
        let _ = writeln!(
            svg,
            "<text x=\"6\" y=\"{}\" fill=\"#666\" font-size=\"10\">{}</text>",
            TOP + 24 + row as u64 * ROW,
            seconds(*time)
        );
    }
    // Messages.
    for message in &shown {
        let (Some(x1), Some(x2)) = (lane_x(&message.source), lane_x(&message.target)) else {
            continue;
        };
        let index = kinds.iter().position(|k| *k == message.kind).unwrap_or(0);
        let _ = writeln!(
            svg,
            "<line x1=\"{x1}\" y1=\"{}\" x2=\"{x2}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"1.2\" \
             marker-end=\"url(#arrow{index})\"><title>{} {}-&gt;{} sent {} arrived {}: {}</title></line>",
            y(message.sent),
            y(message.arrived),
            colour(&message.kind),
            html(&message.kind),
            html(&message.source),
            html(&message.target),
            seconds(message.sent),
            seconds(message.arrived),
            html(&message.text)
        );
    }
    // Leaders.
    for leader in &leaders {
        let Some(x) = lane_x(&leader.node.to_string()) else {
            continue;
        };
        let top = y(leader.time.as_nanos());
        let _ = writeln!(
            svg,
            "<circle cx=\"{x}\" cy=\"{top}\" r=\"6\" fill=\"#228833\"/>\
             <text x=\"{}\" y=\"{}\" fill=\"#228833\" font-weight=\"bold\">leader, term {}</text>",
            x + 8,
            top + 4,
            leader.term
        );
    }
    // The operations the explanation names, at their completion on their client's lane.
    if let Some(explanation) = crate::explain::explain(data) {
        let clients = u64::from(data.clients.max(1));
        let named = (explanation.stuck.iter().map(|op| (op, "cannot be placed"))).chain(
            explanation
                .conflicts
                .iter()
                .map(|op| (op, "conflicts with it")),
        );
        for (operation, role) in named {
            let Some(complete) = operation.complete else {
                continue;
            };
            let op = data.history.op(complete as usize);
            let sim::history::Process::Client(process) = op.process else {
                continue;
            };
            let (Some(x), time) = (lane_x(&format!("c{}", process % clients)), op.time) else {
                continue;
            };
            if time < window_start {
                continue;
            }
            let top = y(time);
            let _ = writeln!(
                svg,
                "<circle cx=\"{x}\" cy=\"{top}\" r=\"5\" fill=\"#cc3311\"/>\
                 <text x=\"{}\" y=\"{}\" fill=\"#cc3311\" paint-order=\"stroke\" \
                 stroke=\"white\" stroke-width=\"3\">{}: {}</text>",
                x + 8,
                top - 4,
                role,
                html(&operation.text)
            );
        }
    }
    if let Some(time) = violation {
        let top = y(time);
        let _ = writeln!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{top}\" x2=\"{}\" y2=\"{top}\" stroke=\"#cc3311\" \
             stroke-width=\"2\"/><text x=\"{LEFT}\" y=\"{}\" fill=\"#cc3311\" \
             font-weight=\"bold\">safety violation at {}</text>",
            width - 20,
            top - 4,
            seconds(time)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_pair_with_their_arrivals_and_duplicates_with_the_same_send() {
        let trace = "\
0.001000000 send n0->n1 Ping Ping(1)
0.001000000 send c0->n1 request Request { id: 0 }
0.002000000 request c0->n1 Request { id: 0 }
0.002000000 send n1->c0 reply Response { id: 0 }
0.003000000 deliver n0->n1 Ping(1)
0.004000000 deliver n0->n1 Ping(1)
0.005000000 send n1->n0 Pong Pong(1)
0.006000000 response n1->c0 Response { id: 0 }
";
        let messages = messages_of_trace(trace);
        let summary: Vec<(&str, &str, &str, u64, u64)> = messages
            .iter()
            .map(|m| {
                let (s, t, k) = (m.source.as_str(), m.target.as_str(), m.kind.as_str());
                (s, t, k, m.sent / 1_000_000, m.arrived / 1_000_000)
            })
            .collect();
        // The Pong never arrives: it is left out.
        assert_eq!(
            summary,
            vec![
                ("c0", "n1", "request", 1, 2),
                ("n0", "n1", "Ping", 1, 3),
                ("n0", "n1", "Ping", 1, 4),
                ("n1", "c0", "reply", 2, 6),
            ]
        );
    }
}
