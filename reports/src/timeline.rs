//! `timeline.html`: one lane per client, each operation a bar from invocation to completion.
//!
//! The page is a single inline SVG with a few lines of script: bars are coloured by outcome,
//! fault windows are bands across every lane, the heal and a safety violation are vertical
//! lines, and the operation the linearizability checker could not place is outlined and
//! labelled (anchor `#stuck`). Hovering a bar shows the operation in a native tooltip and in the
//! detail line above the lanes. Pixel positions are computed in integer tenths of a pixel.

use crate::format::{self, html};
use crate::operations::{Operation, Outcome};
use crate::style::{fault_css, fault_label_css, fault_name, outcome_css};
use sim::outcome::{RunData, Verdict};
use std::fmt::Write;

/// Width of the lane labels, which stay in place while the lanes scroll sideways, pixels.
const LABELS_WIDTH: u64 = 150;
/// Space left of time zero in the scrolling lanes, so the first tick label fits, pixels.
const GUTTER: u64 = 16;
/// Height of the time axis above the lanes, pixels.
const AXIS_HEIGHT: u64 = 58;
/// Height of one lane, pixels.
const LANE_HEIGHT: u64 = 18;
/// Height of a bar in its lane, pixels.
const BAR_HEIGHT: u64 = 12;
/// The narrowest bar drawn, tenths of a pixel, so instant operations stay visible.
const MIN_BAR_TENTHS: u64 = 20;

/// Width of the time area, pixels: 200 pixels a second of simulated time, between 1000 and
/// 16000 (long runs scroll sideways).
fn time_width(run_end: u64) -> u64 {
    (run_end / 5_000_000).clamp(1_000, 16_000)
}

/// Pixel tenths from the left edge of the SVG for true time `nanos`.
fn x_tenths(nanos: u64, run_end: u64, width: u64) -> u64 {
    let scaled = u128::from(nanos.min(run_end)) * u128::from(width) * 10 / u128::from(run_end);
    GUTTER * 10 + scaled as u64
}

fn tenths(value: u64) -> String {
    format!("{}.{}", value / 10, value % 10)
}

/// Renders `timeline.html` for `operations` of `data`, on a time axis ending at `run_end`.
pub fn render(data: &RunData, operations: &[Operation], run_end: u64) -> String {
    // Never divide by a zero-length run.
    let run_end = run_end.max(1);
    let width = time_width(run_end);
    let mut clients: Vec<u64> = operations
        .iter()
        .map(|operation| operation.process)
        .collect();
    clients.sort_unstable();
    clients.dedup();
    let lanes_height = clients.len().max(1) as u64 * LANE_HEIGHT;
    // Room on the right for a mark label at the very end of the run.
    let svg_width = GUTTER + width + 60;
    // Below the client lanes, a lane for who leads (when the run recorded leaders).
    let leader_lane = !data.leaders.is_empty();
    let leader_y = AXIS_HEIGHT + lanes_height + 28;
    let svg_height =
        AXIS_HEIGHT + lanes_height + 30 + if leader_lane { LANE_HEIGHT + 4 } else { 0 };
    let x = |nanos: u64| x_tenths(nanos, run_end, width);
    let mut labels = String::new();
    let _ = writeln!(
        labels,
        "<svg class=\"labels\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{LABELS_WIDTH}\" \
         height=\"{svg_height}\" viewBox=\"0 0 {LABELS_WIDTH} {svg_height}\">"
    );
    for (lane, process) in clients.iter().enumerate() {
        let y = AXIS_HEIGHT + lane as u64 * LANE_HEIGHT;
        // Lanes are Jepsen processes: a client that gave up on an operation (`info`) goes on
        // as a new process, `clients` further on.
        let label = match u64::from(data.clients) {
            0 => format!("process {process}"),
            count => format!("process {process} (client {})", process % count),
        };
        let _ = writeln!(
            labels,
            "<text class=\"lane\" x=\"{}\" y=\"{}\">{label}</text>",
            LABELS_WIDTH - 6,
            y + LANE_HEIGHT / 2 + 4
        );
    }
    if leader_lane {
        let _ = writeln!(
            labels,
            "<text class=\"lane\" x=\"{}\" y=\"{}\">leader (term)</text>",
            LABELS_WIDTH - 6,
            leader_y + LANE_HEIGHT / 2 + 4
        );
    }
    labels.push_str("</svg>\n");
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{svg_width}\" \
         height=\"{svg_height}\" viewBox=\"0 0 {svg_width} {svg_height}\">"
    );
    svg.push_str(
        "<defs><pattern id=\"open-stripes\" width=\"6\" height=\"6\" \
         patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">\
         <rect width=\"3\" height=\"6\" fill=\"#aa3377\"/></pattern></defs>\n",
    );
    write_axis(&mut svg, run_end, width, lanes_height);
    let collapsed = write_faults(&mut svg, data, run_end, width, lanes_height);
    if leader_lane {
        write_leaders(&mut svg, data, run_end, width, leader_y);
    }
    let mut marks = String::new();
    for operation in operations {
        let lane = clients.binary_search(&operation.process).unwrap_or(0) as u64;
        let y = AXIS_HEIGHT + lane * LANE_HEIGHT + (LANE_HEIGHT - BAR_HEIGHT) / 2;
        let start = x(operation.invoke_time);
        let end = x(operation.completion_time.unwrap_or(run_end));
        let bar_width = (end - start).max(MIN_BAR_TENTHS);
        let stuck = data
            .stuck_operation
            .is_some_and(|index| operation.has_entry(index));
        let class = if operation.completion_time.is_none() {
            format!("op {} open", operation.outcome.name())
        } else {
            format!("op {}", operation.outcome.name())
        };
        let conflicting =
            !stuck && (data.conflicting_operations.iter()).any(|&index| operation.has_entry(index));
        let (class, id) = if stuck {
            (format!("{class} stuck"), " id=\"stuck\"")
        } else if conflicting {
            (format!("{class} conflict"), "")
        } else {
            (class, "")
        };
        let _ = writeln!(
            svg,
            "<rect class=\"{class}\"{id} x=\"{}\" y=\"{y}\" width=\"{}\" height=\"{BAR_HEIGHT}\">\
             <title>{}</title></rect>",
            tenths(start),
            tenths(bar_width),
            html(&describe(operation, stuck)),
        );
        if conflicting {
            // Labels go on top of every bar, after the loop: a later bar must not hide them.
            let _ = writeln!(
                marks,
                "<text class=\"conflict-label\" x=\"{}\" y=\"{}\">◀ conflict</text>",
                tenths(start + bar_width + 40),
                y + BAR_HEIGHT - 2
            );
        }
        if stuck {
            let _ = writeln!(
                marks,
                "<text class=\"stuck-label\" x=\"{}\" y=\"{}\">◀ cannot be linearized</text>",
                tenths(start + bar_width + 40),
                y + BAR_HEIGHT - 2
            );
        }
    }
    svg.push_str(&marks);
    svg.push_str("</svg>\n");
    page(data, &labels, &svg, operations.len(), &collapsed)
}

/// One line describing an operation, for its tooltip.
pub fn describe(operation: &Operation, stuck: bool) -> String {
    let mut text = format!("process {} {}", operation.process, operation.function);
    if let Some(key) = &operation.key {
        let _ = write!(text, " key {key}");
    }
    let _ = write!(text, " {}", operation.invoke_value);
    match (&operation.completion_value, operation.completion_time) {
        (Some(value), Some(time)) => {
            let _ = write!(
                text,
                " → {} {value} | invoked {} (entry {}), completed {} (entry {}), latency {}",
                operation.outcome.name(),
                format::seconds(operation.invoke_time),
                operation.invoke_index,
                format::seconds(time),
                operation.completion_index.unwrap_or(0),
                format::duration(time - operation.invoke_time),
            );
        }
        _ => {
            let _ = write!(
                text,
                " → never completed (indeterminate) | invoked {} (entry {})",
                format::seconds(operation.invoke_time),
                operation.invoke_index,
            );
        }
    }
    if let Some(error) = &operation.error {
        let _ = write!(text, ", error {error}");
    }
    if let Some(node) = operation.node {
        let _ = write!(text, ", served by n{node}");
    }
    if stuck {
        text.push_str(" | the linearizability checker cannot place this operation");
    }
    text
}

fn write_axis(svg: &mut String, run_end: u64, width: u64, lanes_height: u64) {
    let axis = crate::plot::axes::time_axis(run_end);
    let step_nanos = axis.step_millis * 1_000_000;
    let bottom = AXIS_HEIGHT + lanes_height;
    let mut tick = 0u64;
    while tick <= run_end {
        let x = tenths(x_tenths(tick, run_end, width));
        let _ = writeln!(
            svg,
            "<line class=\"grid\" x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{bottom}\"/>\
             <text class=\"tick\" x=\"{x}\" y=\"{}\">{} s</text>",
            AXIS_HEIGHT - 4,
            AXIS_HEIGHT - 8,
            crate::plot::axes::time_label(tick as f64 / 1e9, axis.step_millis),
        );
        tick += step_nanos;
    }
}

/// Draws who led when: from each time a node came to lead to the next such time (a tenure may
/// have ended earlier, unseen: a node stepping down is not recorded), coloured by node.
fn write_leaders(svg: &mut String, data: &RunData, run_end: u64, width: u64, y: u64) {
    const NODE_COLORS: [&str; 7] = [
        "#4477aa", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#ee6677", "#bbbbbb",
    ];
    let x = |nanos: u64| x_tenths(nanos, run_end, width);
    for (i, change) in data.leaders.iter().enumerate() {
        let start = change.time.as_nanos();
        let end = data
            .leaders
            .get(i + 1)
            .map_or(run_end, |next| next.time.as_nanos());
        let (left, right) = (x(start), x(end).max(x(start) + MIN_BAR_TENTHS));
        let color = NODE_COLORS[change.node.index() % NODE_COLORS.len()];
        let text = format!("{} t{}", change.node, change.term);
        let title = html(&format!(
            "{} leads term {} from {}",
            change.node,
            change.term,
            format::seconds(start)
        ));
        let _ = writeln!(
            svg,
            "<rect class=\"leader\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{BAR_HEIGHT}\" \
             fill=\"{color}\" opacity=\"0.6\"><title>{title}</title></rect>",
            tenths(left),
            y + (LANE_HEIGHT - BAR_HEIGHT) / 2,
            tenths(right - left),
        );
        // The name where it fits (about 6 px a character).
        if right - left >= (text.len() as u64 * 6 + 6) * 10 {
            let _ = writeln!(
                svg,
                "<text class=\"leader-label\" x=\"{}\" y=\"{}\">{}</text>",
                tenths(left + 30),
                y + LANE_HEIGHT / 2 + 4,
                html(&text)
            );
        }
    }
}

/// Draws the fault bands and their labels; returns the faults whose label did not fit above
/// the lanes (numbered there instead), as `(number, text)` for the list under the lanes.
fn write_faults(
    svg: &mut String,
    data: &RunData,
    run_end: u64,
    width: u64,
    lanes_height: u64,
) -> Vec<(usize, String)> {
    let x = |nanos: u64| x_tenths(nanos, run_end, width);
    let bottom = AXIS_HEIGHT + lanes_height;
    // Where each of the three label rows is free again, in tenths of a pixel.
    let mut rows_free = [0u64; 3];
    let mut collapsed = Vec::new();
    for (position, fault) in data.faults.iter().enumerate() {
        let start = x(fault.start.as_nanos());
        let end = x(fault.end.map_or(run_end, |end| end.as_nanos()));
        let color = fault_css(fault.kind);
        let title = html(&format!(
            "{} {}: {} to {}",
            fault_name(fault.kind),
            fault.label,
            format::seconds(fault.start.as_nanos()),
            fault
                .end
                .map_or("end of run".to_string(), |end| format::seconds(
                    end.as_nanos()
                )),
        ));
        if end > start {
            let _ = writeln!(
                svg,
                "<rect class=\"fault\" x=\"{}\" y=\"{AXIS_HEIGHT}\" width=\"{}\" \
                 height=\"{lanes_height}\" fill=\"{color}\"><title>{title}</title></rect>",
                tenths(start),
                tenths(end - start),
            );
        } else {
            let _ = writeln!(
                svg,
                "<line class=\"instant\" x1=\"{0}\" y1=\"{AXIS_HEIGHT}\" x2=\"{0}\" y2=\"{bottom}\" \
                 stroke=\"{color}\"><title>{title}</title></line>",
                tenths(start),
            );
        }
        // Labels on three rows above the lanes, each on the first row where it does not
        // overprint a neighbour (about 6 px a character at 10 px); a label that fits nowhere
        // becomes a number, listed under the lanes.
        let label_start = start + 20;
        let text_width = (fault.label.chars().count() as u64 * 6 + 8) * 10;
        let number = position + 1;
        match rows_free.iter().position(|free| *free <= label_start) {
            Some(row) => {
                rows_free[row] = label_start + text_width;
                let _ = writeln!(
                    svg,
                    "<text class=\"fault-label\" x=\"{}\" y=\"{}\" fill=\"{}\">{}</text>",
                    tenths(label_start),
                    14 + row as u64 * 12,
                    fault_label_css(fault.kind),
                    html(&fault.label),
                );
            }
            None => {
                let short = format!("[{number}]");
                // The number too, where it fits; a fault too crowded even for that is only in
                // the list (and in its band's tooltip).
                if let Some(row) = rows_free.iter().position(|free| *free <= label_start) {
                    rows_free[row] = label_start + (short.len() as u64 * 6 + 6) * 10;
                    let _ = writeln!(
                        svg,
                        "<text class=\"fault-label\" x=\"{}\" y=\"{}\" fill=\"{}\">{short}\
                         <title>{title}</title></text>",
                        tenths(label_start),
                        14 + row as u64 * 12,
                        fault_label_css(fault.kind),
                    );
                }
                collapsed.push((
                    number,
                    format!(
                        "{} at {}",
                        fault.label,
                        format::seconds(fault.start.as_nanos())
                    ),
                ));
            }
        }
    }
    let violation = match &data.verdict {
        Verdict::SafetyViolation { time, .. } => Some((time.as_nanos(), "violation", "#cc3311")),
        _ => None,
    };
    let heal = data
        .heal_time
        .map(|time| (time.as_nanos(), "heal", "#222222"));
    for (time, label, color) in [heal, violation].into_iter().flatten() {
        let line_x = tenths(x(time));
        let _ = writeln!(
            svg,
            "<line class=\"mark\" x1=\"{line_x}\" y1=\"{AXIS_HEIGHT}\" x2=\"{line_x}\" \
             y2=\"{}\" stroke=\"{color}\"/><text class=\"mark-label\" x=\"{line_x}\" y=\"{}\" \
             fill=\"{color}\">{label}</text>",
            bottom + 6,
            bottom + 20,
        );
    }
    collapsed
}

const SCRIPT: &str = r##"(function () {
  var detail = document.getElementById("detail");
  var timeline = document.getElementById("timeline");
  if (!detail || !timeline) { return; }
  timeline.addEventListener("mouseover", function (event) {
    var title = event.target.querySelector ? event.target.querySelector("title") : null;
    if (title) { detail.textContent = title.textContent; }
  });
  // Links to #stuck should show the operation in the middle of the lanes, not at an edge.
  var stuck = document.getElementById("stuck");
  if (stuck && window.location.hash === "#stuck") {
    stuck.scrollIntoView({ block: "center", inline: "center" });
  }
  // End-to-end tests read this mark to know the script ran to the end.
  document.body.setAttribute("data-script", "ready");
})();"##;

fn page(
    data: &RunData,
    labels: &str,
    svg: &str,
    operation_count: usize,
    collapsed: &[(usize, String)],
) -> String {
    let title = html(&format!(
        "Timeline: {} ({}, seed {})",
        data.scenario, data.protocol, data.seed
    ));
    let mut legend = String::new();
    for outcome in Outcome::ALL {
        let _ = write!(
            legend,
            "<span class=\"key\"><span class=\"swatch\" style=\"background:{}\"></span>{}</span>",
            outcome_css(outcome),
            outcome.name()
        );
    }
    legend.push_str(
        "<span class=\"key\"><span class=\"swatch open\"></span>never completed</span>\
         <span class=\"key\"><span class=\"swatch stuck\"></span>cannot be linearized</span>",
    );
    if !data.conflicting_operations.is_empty() {
        legend.push_str(
            "<span class=\"key\"><span class=\"swatch conflict\"></span>conflicts with the \
             one that cannot be linearized</span>",
        );
    }
    let mut kinds: Vec<_> = data.faults.iter().map(|fault| fault.kind).collect();
    kinds.sort_unstable();
    kinds.dedup();
    for kind in kinds {
        let _ = write!(
            legend,
            "<span class=\"key\"><span class=\"swatch\" style=\"background:{};opacity:0.35\">\
             </span>{}</span>",
            fault_css(kind),
            fault_name(kind)
        );
    }
    let fault_list = if collapsed.is_empty() {
        String::new()
    } else {
        let items: String = collapsed
            .iter()
            .map(|(number, text)| format!("<li value=\"{number}\">{}</li>", html(text)))
            .collect();
        format!(
            "<p class=\"legend\">Faults too close together to label above the lanes, by \
             number:</p>\n<ol class=\"faults\">{items}</ol>\n"
        )
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{title}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
         <h1>{title}</h1>\n<p class=\"meta\">{operation_count} operations, verdict {verdict}. \
         <a href=\"index.html\">Back to the report</a>.</p>\n\
         <p class=\"legend\">{legend}</p>\n\
         <p id=\"detail\">Hover over an operation to see it.</p>\n\
         <div class=\"lanes\">\n{labels}<div class=\"scroll\">\n{svg}</div>\n</div>\n{fault_list}<script>\n{SCRIPT}\n</script>\n</body>\n</html>\n",
        verdict = html(data.verdict.kind()),
    )
}

const STYLE: &str = "body { font-family: 'DejaVu Sans', sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; }
.meta, .legend { font-size: 0.9em; }
.key { margin-right: 1.2em; white-space: nowrap; }
.swatch { display: inline-block; width: 1.4em; height: 0.8em; margin-right: 0.4em; vertical-align: middle; }
.swatch.open { background: repeating-linear-gradient(45deg, #aa3377, #aa3377 3px, #fff 3px, #fff 6px); }
.swatch.stuck { border: 2px solid #000; background: #ee6677; }
.swatch.conflict { border: 2px dashed #000; background: #4477aa; }
#detail { font-family: 'DejaVu Sans Mono', monospace; font-size: 0.85em; background: #f4f4f4; padding: 0.4em; min-height: 1.2em; }
.lanes { display: flex; border: 1px solid #ddd; }
.labels { flex: none; border-right: 1px solid #ddd; }
.scroll { overflow-x: auto; flex: 1; }
svg text { font-family: 'DejaVu Sans', sans-serif; font-size: 11px; }
.lane { text-anchor: end; fill: #444; }
.tick { text-anchor: middle; fill: #444; }
.grid { stroke: #e4e4e4; stroke-width: 1; }
.fault { opacity: 0.22; }
.instant { stroke-width: 2; stroke-dasharray: 5 3; }
.fault-label { font-weight: bold; }
.mark { stroke-width: 2; stroke-dasharray: 6 4; }
.mark-label { text-anchor: middle; font-weight: bold; }
.leader-label { font-size: 10px; fill: #222; }
.op.ok { fill: #4477aa; }
.op.fail { fill: #ee6677; }
.op.info { fill: #aa3377; }
.op.open { fill: url(#open-stripes); stroke: #aa3377; stroke-width: 1; }
.op:hover { stroke: #000; stroke-width: 1; }
.op.stuck { stroke: #000; stroke-width: 2.5; }
.op.conflict { stroke: #000; stroke-width: 2; stroke-dasharray: 4 2; }
.conflict-label { font-style: italic; fill: #000; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
.stuck-label { font-weight: bold; fill: #000; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
";
