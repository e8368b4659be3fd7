//! Run reports: pure functions from a run's data to the files a researcher reads.
//!
//! [`render_run`] turns a [`RunData`] into named files (SVG plots, optional PNG copies, an
//! operation timeline, an `index.html` tying them together, and `report.json` with the data
//! behind the plots). Nothing here does IO or reads a clock: the caller writes the files. The
//! same run gives the same bytes on every machine — times are integer nanoseconds, every
//! number is printed with fixed formatting, collections are ordered, plot text is measured
//! with a font file shipped in this crate, and wall time is left out (see the README).
//!
//! ```
//! use reports::{render_run, ReportOptions};
//! use sim::recorder::RecordedHistory;
//! use sim::outcome::{RunData, RunStats, Verdict};
//!
//! let run = RunData {
//!     scenario: "empty".to_string(),
//!     protocol: "raft".to_string(),
//!     workload: "register".to_string(),
//!     bug: None,
//!     expected: None,
//!     seed: 1,
//!     node_count: 3,
//!     clients: 3,
//!     reproduce: "detsim run scenarios/empty.toml --seed 1".to_string(),
//!     verdict: Verdict::Pass,
//!     stats: RunStats::default(),
//!     fingerprint: "00".to_string(),
//!     faults: Vec::new(),
//!     history: RecordedHistory::default(),
//!     heal_time: None,
//!     stuck_operation: None,
//!     conflicting_operations: Vec::new(),
//!     check_explanation: None,
//!     figures: Default::default(),
//!     leaders: Vec::new(),
//! };
//! let files = render_run(&run, &ReportOptions::default()).unwrap();
//! assert!(files.iter().any(|file| file.name == "index.html"));
//! ```
#![deny(missing_docs)]

pub mod compare;
pub mod data;
pub mod explain;
pub mod format;
pub mod index;
pub mod messages;
pub mod operations;
pub mod pixels;
pub mod plot;
pub mod sample;
pub mod style;
pub mod timeline;

pub use data::{
    availability_buckets, bucket_width, latency_points, quantile_buckets, rate_buckets, run_end,
    summary, AvailabilityBucket, LatencyPoint, QuantileBucket, Quantiles, RateBucket, Summary,
};
pub use operations::{operations, Operation, Outcome};
pub use pixels::{decode_png, png_summary, DecodedImage, PixelSummary};

use plot::latency::{LatencyRawPlot, QuantilePlot};
use plot::throughput::{AvailabilityPlot, RatePlot};
use plot::{Frame, Plot};
use serde::Serialize;
use sim::outcome::{FaultWindow, RunData, Verdict};

/// What went wrong while building a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The history is not a well-formed sequence of invocations and completions.
    #[error("history entry {index}: {reason}")]
    MalformedHistory {
        /// The index of the offending history entry.
        index: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// plotters failed to draw a plot.
    #[error("drawing {file}: {message}")]
    Plot {
        /// The file being drawn.
        file: String,
        /// The backend's message.
        message: String,
    },
    /// Encoding or decoding a PNG failed.
    #[error("PNG {file}: {message}")]
    Png {
        /// The file being encoded or decoded.
        file: String,
        /// The codec's message.
        message: String,
    },
    /// Serializing the report data failed.
    #[error("serializing report data: {0}")]
    Json(#[from] serde_json::Error),
}

/// Messages of one kind a run sent, for the summary table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MessageCount {
    /// The message kind, e.g. `AppendEntries`.
    pub kind: String,
    /// How many were sent.
    pub sent: u64,
}

/// Choices and extra inputs for a report, beyond the [`RunData`].
#[derive(Clone, Debug, Default)]
pub struct ReportOptions {
    /// Also produce a PNG of every plot (`--png`).
    pub png: bool,
    /// Relative path of the run's history file, linked from `index.html` (e.g.
    /// `history.jsonl`); no link when `None`.
    pub history_file: Option<String>,
    /// Relative path of the run's trace file, linked from `index.html`; no link when `None`.
    pub trace_file: Option<String>,
    /// Relative path of the run's machine-readable summary, linked from `index.html`.
    pub summary_file: Option<String>,
    /// Other files of the run to link from `index.html`: relative path and what it holds
    /// (`history.edn`, `linearizability.txt`).
    pub other_files: Vec<(String, String)>,
    /// Messages sent per kind, shown in the summary when not empty. `RunData` only counts
    /// all messages; the engine can fill this from its trace.
    pub messages_by_kind: Vec<MessageCount>,
    /// The run's messages from its trace ([`messages::messages_of_trace`]); when given, the
    /// report has `messages.svg`.
    pub messages: Option<Vec<messages::Message>>,
    /// Bucket width for the time series, nanoseconds; `None` picks one from the run length
    /// ([`bucket_width`]).
    pub bucket_width: Option<u64>,
}

/// One file of a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportFile {
    /// File name, relative to the run's output directory.
    pub name: String,
    /// The bytes to write.
    pub contents: Vec<u8>,
}

/// Everything the plots and tables show, as one serializable value (`report.json`).
#[derive(Clone, Debug, Serialize)]
pub struct ReportData<'a> {
    /// The run (its summary: the history is not serialized).
    pub run: &'a RunData,
    /// End of the time axis, nanoseconds.
    pub run_end: u64,
    /// Width of the time buckets, nanoseconds.
    pub bucket_width: u64,
    /// The summary table.
    pub summary: Summary,
    /// Messages sent per kind, when the engine provides them.
    pub messages_by_kind: Vec<MessageCount>,
    /// Fault windows.
    pub faults: Vec<FaultWindow>,
    /// Latency quantiles per function and bucket.
    pub quantiles: Vec<QuantileBucket>,
    /// Throughput per bucket.
    pub rates: Vec<RateBucket>,
    /// Availability per bucket.
    pub availability: Vec<AvailabilityBucket>,
    /// Operations waiting for their outcome, most at once per bucket.
    pub waiting: Vec<data::WaitingBucket>,
}

/// Computes the report's data models from a run.
pub fn report_data<'a>(
    data: &'a RunData,
    options: &ReportOptions,
) -> Result<ReportData<'a>, ReportError> {
    let mut operations = operations(&data.history.to_history())?;
    operations::mark_refused(&mut operations, &data.history);
    Ok(report_data_of(data, options, &operations))
}

fn report_data_of<'a>(
    data: &'a RunData,
    options: &ReportOptions,
    operations: &[Operation],
) -> ReportData<'a> {
    let end = run_end(data);
    let width = options
        .bucket_width
        .unwrap_or_else(|| bucket_width(end))
        .max(1);
    ReportData {
        run: data,
        run_end: end,
        bucket_width: width,
        summary: summary(data, operations),
        messages_by_kind: options.messages_by_kind.clone(),
        faults: data.faults.clone(),
        quantiles: quantile_buckets(operations, width),
        rates: rate_buckets(operations, width, end),
        availability: availability_buckets(operations, width, end),
        waiting: data::waiting_buckets(operations, width, end),
    }
}

/// The plot files, in the order `index.html` shows them: (file stem, title).
pub const PLOTS: [(&str, &str); 5] = [
    ("latency-raw", "Latency of every completed operation"),
    ("latency-quantiles", "Latency quantiles over time"),
    ("rate", "Throughput by outcome"),
    ("availability", "Availability over time"),
    ("waiting", "Operations waiting for an outcome over time"),
];

/// Renders the whole report of a run: `index.html`, `timeline.html`, the four SVG plots,
/// `report.json`, and PNG copies of the plots when `options.png`. Pure: the same inputs give
/// the same files, byte for byte.
pub fn render_run(data: &RunData, options: &ReportOptions) -> Result<Vec<ReportFile>, ReportError> {
    let mut operations = operations(&data.history.to_history())?;
    operations::mark_refused(&mut operations, &data.history);
    let report = report_data_of(data, options, &operations);
    let frame = Frame {
        subtitle: format!("{} ({}, seed {})", data.scenario, data.protocol, data.seed),
        run_end: report.run_end,
        faults: data.faults.clone(),
        heal: data.heal_time.map(|time| time.as_nanos()),
        violation: match &data.verdict {
            Verdict::SafetyViolation { time, .. } => Some(time.as_nanos()),
            _ => None,
        },
    };
    let points = latency_points(&operations);
    let width = report.bucket_width;
    let mut files = vec![
        ReportFile {
            name: "index.html".to_string(),
            contents: index::render(data, options, &report, &operations).into_bytes(),
        },
        ReportFile {
            name: "timeline.html".to_string(),
            contents: timeline::render(data, &operations, report.run_end).into_bytes(),
        },
    ];
    let raw = LatencyRawPlot {
        frame: &frame,
        points: &points,
    };
    let quantiles = QuantilePlot {
        frame: &frame,
        buckets: &report.quantiles,
        bucket_width: width,
    };
    let rate = RatePlot {
        frame: &frame,
        buckets: &report.rates,
        bucket_width: width,
    };
    let availability = AvailabilityPlot {
        frame: &frame,
        buckets: &report.availability,
        bucket_width: width,
    };
    let mut pngs = Vec::new();
    add_plot(&mut files, &mut pngs, options.png, PLOTS[0].0, &raw)?;
    add_plot(&mut files, &mut pngs, options.png, PLOTS[1].0, &quantiles)?;
    add_plot(&mut files, &mut pngs, options.png, PLOTS[2].0, &rate)?;
    add_plot(
        &mut files,
        &mut pngs,
        options.png,
        PLOTS[3].0,
        &availability,
    )?;
    let waiting = plot::throughput::WaitingPlot {
        frame: &frame,
        buckets: &report.waiting,
        bucket_width: width,
    };
    add_plot(&mut files, &mut pngs, options.png, PLOTS[4].0, &waiting)?;
    if let Some(messages) = &options.messages {
        files.push(ReportFile {
            name: "messages.svg".to_string(),
            contents: messages::render(data, messages).into_bytes(),
        });
    }
    let mut json = serde_json::to_vec_pretty(&report)?;
    json.push(b'\n');
    files.push(ReportFile {
        name: "report.json".to_string(),
        contents: json,
    });
    files.extend(pngs);
    Ok(files)
}

fn add_plot(
    files: &mut Vec<ReportFile>,
    pngs: &mut Vec<ReportFile>,
    png: bool,
    stem: &str,
    plot: &impl Plot,
) -> Result<(), ReportError> {
    let name = format!("{stem}.svg");
    let svg = plot::to_svg(plot).map_err(|error| ReportError::Plot {
        file: name.clone(),
        message: error.to_string(),
    })?;
    files.push(ReportFile {
        name,
        contents: svg.into_bytes(),
    });
    if png {
        let name = format!("{stem}.png");
        let rgb = plot::to_rgb(plot).map_err(|error| ReportError::Plot {
            file: name.clone(),
            message: error.to_string(),
        })?;
        let (width, height) = plot.size();
        let contents =
            pixels::encode_png(&rgb, width, height).map_err(|message| ReportError::Png {
                file: name.clone(),
                message,
            })?;
        pngs.push(ReportFile { name, contents });
    }
    Ok(())
}
