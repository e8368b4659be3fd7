//! `index.html`: the page that ties a run's report together.
//!
//! It shows what was run and how to reproduce it, the verdict, a summary table, the fault
//! windows, the plots and links to the timeline and the raw files. It contains no script and
//! no wall time, so it is byte-reproducible and opens without errors in any browser.

use crate::data::{OutcomeCounts, Quantiles};
use crate::format::{self, html};
use crate::operations::Operation;
use crate::style::fault_name;
use crate::{ReportData, ReportOptions, PLOTS};
use sim::outcome::{RunData, Verdict};
use std::fmt::Write;

/// Renders `index.html`.
pub fn render(
    data: &RunData,
    options: &ReportOptions,
    report: &ReportData<'_>,
    operations: &[Operation],
) -> String {
    let mut body = String::new();
    write_header(&mut body, data);
    write_summary(&mut body, data, report);
    write_functions(&mut body, report);
    write_messages(&mut body, report);
    write_figures(&mut body, data);
    write_stuck(&mut body, data, operations);
    write_explanation(&mut body, data);
    write_faults(&mut body, data);
    write_plots(&mut body, options);
    write_files(&mut body, options);
    let title = html(&format!(
        "detsim: {} ({}, seed {})",
        data.scenario, data.protocol, data.seed
    ));
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{title}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )
}

fn write_header(body: &mut String, data: &RunData) {
    let verdict_class = if data.verdict.is_pass() {
        "pass"
    } else {
        "failed"
    };
    let _ = write!(
        body,
        "<h1>{scenario}</h1>\n<table class=\"facts\">\n\
         <tr><th>protocol</th><td>{protocol}</td></tr>\n\
         <tr><th>seed</th><td>{seed}</td></tr>\n\
         <tr><th>nodes</th><td>{nodes}</td></tr>\n\
         <tr><th>trace fingerprint</th><td><code>{fingerprint}</code></td></tr>\n</table>\n\
         <p class=\"verdict {verdict_class}\">Verdict: {verdict}</p>\n\
         <h2>Reproduce</h2>\n<pre>{reproduce}</pre>\n",
        scenario = html(&data.scenario),
        protocol = html(&data.protocol),
        seed = data.seed,
        nodes = data.node_count,
        fingerprint = html(&data.fingerprint),
        verdict = html(&verdict_text(&data.verdict)),
        reproduce = html(&data.reproduce),
    );
}

/// The verdict in words, with times in seconds.
fn verdict_text(verdict: &Verdict) -> String {
    match verdict {
        Verdict::SafetyViolation {
            property,
            detail,
            time,
        } => format!(
            "safety violation: {property} at {}: {detail}",
            format::seconds(time.as_nanos())
        ),
        other => other.to_string(),
    }
}

fn counts_cells(counts: &OutcomeCounts) -> String {
    format!(
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
        counts.total,
        counts.ok,
        counts.fail,
        counts.info,
        format::percent(counts.ok, counts.total)
    )
}

fn quantile_cells(quantiles: &Option<Quantiles>) -> String {
    match quantiles {
        Some(quantiles) => format!(
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
            format::duration(quantiles.p50),
            format::duration(quantiles.p95),
            format::duration(quantiles.p99),
            format::duration(quantiles.max)
        ),
        None => "<td>–</td><td>–</td><td>–</td><td>–</td>".to_string(),
    }
}

fn write_summary(body: &mut String, data: &RunData, report: &ReportData) {
    let summary = &report.summary;
    let stats = &data.stats;
    let operation_count = summary.operations.total;
    let _ = write!(
        body,
        "<h2>Summary</h2>\n<table class=\"numbers\">\n\
         <tr><th></th><th>operations</th><th>ok</th><th>fail</th><th>info</th>\
         <th>availability</th></tr>\n\
         <tr><th>all</th>{all}</tr>\n\
         <tr><th>invoked during faults</th>{during}</tr>\n\
         <tr><th>invoked outside faults</th>{outside}</tr>\n</table>\n\
         <table class=\"numbers\">\n\
         <tr><th></th><th>p50</th><th>p95</th><th>p99</th><th>max</th></tr>\n\
         <tr><th>latency of ok operations</th>{latency}</tr>\n</table>\n\
         <table class=\"facts\">\n\
         <tr><th>recovery after heal</th><td>{recovery}</td></tr>\n\
         <tr><th>messages sent</th><td>{sent}</td></tr>\n\
         <tr><th>messages per operation</th><td>{per_operation}</td></tr>\n\
         <tr><th>messages delivered / dropped / duplicated</th><td>{delivered} / {dropped} / \
         {duplicated}</td></tr>\n\
         <tr><th>durable writes</th><td>{persists}</td></tr>\n\
         <tr><th>events</th><td>{events}</td></tr>\n\
         <tr><th>simulated time</th><td>{simulated}</td></tr>\n\
         <tr><th>time buckets</th><td>{bucket}</td></tr>\n</table>\n\
         <p class=\"note\">Availability is the share of invoked operations that completed ok; \
         an operation counts as during a fault when it was invoked inside a fault window. \
         Wall-clock time is not part of this page, which is byte-for-byte reproducible: \
         <code>detsim run</code> prints it.</p>\n",
        all = counts_cells(&summary.operations),
        during = counts_cells(&summary.during_faults),
        outside = counts_cells(&summary.outside_faults),
        latency = quantile_cells(&summary.latency_ok),
        recovery = summary
            .recovery_after_heal
            .map_or("–".to_string(), format::duration),
        sent = stats.messages_sent,
        per_operation = format::ratio(stats.messages_sent, operation_count),
        delivered = stats.messages_delivered,
        dropped = stats.messages_dropped,
        duplicated = stats.messages_duplicated,
        persists = stats.persists,
        events = stats.events,
        simulated = format::seconds(stats.simulated_time.as_nanos()),
        bucket = format::round_duration(report.bucket_width),
    );
}

fn write_functions(body: &mut String, report: &ReportData) {
    if report.summary.functions.is_empty() {
        return;
    }
    body.push_str(
        "<h2>By operation</h2>\n<table class=\"numbers\">\n<tr><th>function</th>\
         <th>operations</th><th>ok</th><th>fail</th><th>info</th><th>availability</th>\
         <th>p50</th><th>p95</th><th>p99</th><th>max</th></tr>\n",
    );
    for function in &report.summary.functions {
        let _ = writeln!(
            body,
            "<tr><th>{}</th>{}{}</tr>",
            html(&function.function),
            counts_cells(&function.operations),
            quantile_cells(&function.latency_ok)
        );
    }
    body.push_str("</table>\n");
}

fn write_messages(body: &mut String, report: &ReportData) {
    if report.messages_by_kind.is_empty() {
        return;
    }
    let operations = report.summary.operations.total;
    body.push_str(
        "<h2>Messages by kind</h2>\n<table class=\"numbers\">\n\
         <tr><th>kind</th><th>sent</th><th>per operation</th></tr>\n",
    );
    for count in &report.messages_by_kind {
        let _ = writeln!(
            body,
            "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
            html(&count.kind),
            count.sent,
            format::ratio(count.sent, operations)
        );
    }
    body.push_str("</table>\n");
}

fn write_stuck(body: &mut String, data: &RunData, operations: &[Operation]) {
    let Some(index) = data.stuck_operation else {
        return;
    };
    let description = operations
        .iter()
        .find(|operation| operation.has_entry(index))
        .map_or(format!("history entry {index}"), |operation| {
            crate::timeline::describe(operation, false)
        });
    let _ = writeln!(
        body,
        "<h2>Operation that cannot be linearized</h2>\n<p class=\"stuck\">{}</p>\n\
         <p><a href=\"timeline.html#stuck\">See it in the timeline</a>.</p>",
        html(&description)
    );
}

/// Why the run failed: the cause (the conflicting operations, each with its node) and the
/// narrative up to the violation ([`crate::explain`]).
fn write_explanation(body: &mut String, data: &RunData) {
    let Some(explanation) = crate::explain::explain(data) else {
        return;
    };
    let _ = writeln!(
        body,
        "<h2>Why it failed</h2>\n<pre class=\"explain\">{}</pre>",
        html(&crate::explain::text(&explanation))
    );
}

fn write_faults(body: &mut String, data: &RunData) {
    body.push_str("<h2>Faults</h2>\n");
    if data.faults.is_empty() {
        body.push_str("<p>No faults were injected.</p>\n");
        return;
    }
    body.push_str(
        "<table>\n<tr><th>kind</th><th>label</th><th>nodes</th>\
         <th>start</th><th>end</th></tr>\n",
    );
    for fault in &data.faults {
        let nodes: Vec<String> = fault.nodes.iter().map(ToString::to_string).collect();
        let end = match fault.end {
            Some(end) if end == fault.start => "instant".to_string(),
            Some(end) => format::seconds(end.as_nanos()),
            None => "end of run".to_string(),
        };
        let _ = writeln!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            fault_name(fault.kind),
            html(&fault.label),
            html(&nodes.join(", ")),
            format::seconds(fault.start.as_nanos()),
            end
        );
    }
    let heal = data
        .heal_time
        .map_or("–".to_string(), |time| format::seconds(time.as_nanos()));
    let _ = writeln!(body, "</table>\n<p>Faults healed at {heal}.</p>");
}

fn write_plots(body: &mut String, options: &ReportOptions) {
    body.push_str("<h2>Plots</h2>\n");
    for (stem, title) in PLOTS {
        let png = if options.png {
            format!(" (<a href=\"{stem}.png\">PNG</a>)")
        } else {
            String::new()
        };
        let _ = writeln!(
            body,
            "<figure><img src=\"{stem}.svg\" alt=\"{title}\">\
             <figcaption>{title}: <a href=\"{stem}.svg\">{stem}.svg</a>{png}</figcaption></figure>"
        );
    }
}

/// The figures the protocol's invariant checker measured (durations for names ending `_ns`).
fn write_figures(body: &mut String, data: &RunData) {
    if data.figures.is_empty() {
        return;
    }
    body.push_str(
        "<h2>Protocol figures</h2>\n<p>Measured by the protocol's own checker over the run.</p>\n\
         <table>\n<tr><th>figure</th><th>value</th></tr>\n",
    );
    for (name, value) in &data.figures {
        let (label, shown) = match name.strip_suffix("_ns") {
            Some(label) => (label, crate::format::duration(*value)),
            None => (name.as_str(), value.to_string()),
        };
        let _ = writeln!(
            body,
            "<tr><td>{}</td><td>{}</td></tr>",
            html(&label.replace('_', " ")),
            html(&shown)
        );
    }
    body.push_str("</table>\n");
}

fn write_files(body: &mut String, options: &ReportOptions) {
    body.push_str(
        "<h2>Files</h2>\n<ul>\n<li><a href=\"timeline.html\">timeline.html</a>: every \
         operation, one lane per client</li>\n<li><a href=\"report.json\">report.json</a>: the \
         data behind these plots and tables</li>\n",
    );
    if options.messages.is_some() {
        body.push_str(
            "<li><a href=\"messages.svg\">messages.svg</a>: the message diagram, one lane per \
             node and client, arrows coloured by kind</li>\n",
        );
    }
    let links = [
        (&options.history_file, "the client history"),
        (&options.trace_file, "the event trace"),
        (&options.summary_file, "the machine-readable run summary"),
    ];
    for (file, what) in links {
        if let Some(file) = file {
            let _ = writeln!(body, "<li><a href=\"{0}\">{0}</a>: {what}</li>", html(file));
        }
    }
    for (file, what) in &options.other_files {
        let _ = writeln!(
            body,
            "<li><a href=\"{0}\">{0}</a>: {1}</li>",
            html(file),
            html(what)
        );
    }
    body.push_str("</ul>\n");
}

const STYLE: &str = "body { font-family: 'DejaVu Sans', sans-serif; margin: 1.5em auto; max-width: 1040px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; }
h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.6em 0; }
th, td { padding: 0.2em 0.7em; border: 1px solid #ddd; text-align: left; }
table.numbers td { text-align: right; font-variant-numeric: tabular-nums; }
.verdict { font-size: 1.2em; font-weight: bold; padding: 0.5em 0.8em; border-radius: 4px; }
.verdict.pass { background: #e3f1e6; color: #117733; }
.verdict.failed { background: #fbe3e0; color: #a01c0c; }
pre { background: #f4f4f4; padding: 0.6em; overflow-x: auto; }
.note { font-size: 0.85em; color: #555; }
.stuck { font-family: 'DejaVu Sans Mono', monospace; background: #fbe3e0; padding: 0.4em; }
figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; }
";
