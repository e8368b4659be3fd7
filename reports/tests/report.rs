//! Tests of the whole report: its files, their data and their reproducibility.

use reports::sample::sample_run;
use reports::{
    availability_buckets, decode_png, operations, quantile_buckets, rate_buckets, render_run,
    report_data, MessageCount, Outcome, ReportError, ReportFile, ReportOptions,
};
use sim::history::{History, Op, OpType, Process, Value};
use sim::outcome::{FaultKind, FaultWindow, RunData, RunStats, Verdict};
use sim::protocol::NodeId;
use sim::time::SimTime;

const MILLI: u64 = 1_000_000;

fn op(index: u64, kind: OpType, process: u64, function: &str, time_millis: u64) -> Op {
    Op {
        index,
        kind,
        process: Process::Client(process),
        function: function.to_string().into(),
        key: None,
        value: Value::Int(index as i64),
        time: time_millis * MILLI,
        error: None,
    }
}

/// A one-second run small enough to check by hand: two clients, eight operations, a partition
/// from 400 to 700 ms and a clock jump at 800 ms.
fn tiny_run() -> RunData {
    use OpType::{Fail, Info, Invoke, Ok};
    let entries = [
        (Invoke, 0, "read", 0),
        (Invoke, 1, "write", 10),
        (Ok, 0, "read", 30),
        (Ok, 1, "write", 110),
        (Invoke, 0, "write", 150),
        (Ok, 0, "write", 160),
        (Invoke, 1, "read", 420),
        (Invoke, 0, "cas", 450),
        (Fail, 0, "cas", 455),
        (Invoke, 0, "read", 500),
        (Info, 1, "read", 920),
        (Ok, 0, "read", 700),
        (Invoke, 0, "write", 800),
        (Ok, 0, "write", 805),
        (Invoke, 2, "read", 950),
    ];
    let mut ops: Vec<Op> = entries
        .iter()
        .enumerate()
        .map(|(index, (kind, process, function, time))| {
            op(index as u64, *kind, *process, function, *time)
        })
        .collect();
    // The history is in time order, as the engine writes it.
    ops.sort_by_key(|op| op.time);
    for (index, op) in ops.iter_mut().enumerate() {
        op.index = index as u64;
    }
    ops.insert(
        0,
        Op {
            process: Process::Named("nemesis".to_string()),
            ..op(0, Info, 0, "start-partition", 400)
        },
    );
    for (index, op) in ops.iter_mut().enumerate() {
        op.index = index as u64;
    }
    RunData {
        scenario: "tiny".to_string(),
        protocol: "raft".to_string(),
        workload: "register".to_string(),
        bug: None,
        expected: None,
        seed: 3,
        node_count: 3,
        clients: 2,
        reproduce: "detsim run scenarios/tiny.toml --seed 3".to_string(),
        verdict: Verdict::Pass,
        stats: RunStats {
            events: 900,
            messages_sent: 120,
            simulated_time: SimTime(1_000 * MILLI),
            ..RunStats::default()
        },
        fingerprint: "ab".to_string(),
        faults: vec![
            FaultWindow {
                kind: FaultKind::Partition,
                label: "isolate n1".to_string(),
                nodes: vec![NodeId(1)],
                start: SimTime(400 * MILLI),
                end: Some(SimTime(700 * MILLI)),
                activity: None,
            },
            FaultWindow {
                kind: FaultKind::Clock,
                label: "jump n2".to_string(),
                nodes: vec![NodeId(2)],
                start: SimTime(800 * MILLI),
                end: Some(SimTime(800 * MILLI)),
                activity: None,
            },
        ],
        history: History { ops }.into(),
        heal_time: Some(SimTime(700 * MILLI)),
        stuck_operation: None,
        conflicting_operations: Vec::new(),
        check_explanation: None,
        figures: Default::default(),
        leaders: Vec::new(),
    }
}

fn file<'a>(files: &'a [ReportFile], name: &str) -> &'a ReportFile {
    files
        .iter()
        .find(|file| file.name == name)
        .unwrap_or_else(|| panic!("no {name} among {:?}", names(files)))
}

fn text<'a>(files: &'a [ReportFile], name: &str) -> &'a str {
    std::str::from_utf8(&file(files, name).contents).expect("text file is UTF-8")
}

/// FNV-1a, 64 bits: a stable fingerprint of a file's bytes.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn names(files: &[ReportFile]) -> Vec<&str> {
    files.iter().map(|file| file.name.as_str()).collect()
}

#[test]
fn report_has_every_file_and_png_only_when_asked() {
    let run = tiny_run();
    let without = render_run(&run, &ReportOptions::default()).unwrap();
    assert_eq!(
        names(&without),
        [
            "index.html",
            "timeline.html",
            "latency-raw.svg",
            "latency-quantiles.svg",
            "rate.svg",
            "availability.svg",
            "waiting.svg",
            "report.json"
        ]
    );
    let options = ReportOptions {
        png: true,
        ..ReportOptions::default()
    };
    let with = render_run(&run, &options).unwrap();
    assert_eq!(with.len(), without.len() + 5);
    // PNG pixels come from a rasterizer and a font file shipped in the crate: reproducible too.
    let again = render_run(&run, &options).unwrap();
    assert!(with == again, "a second render with PNGs differs");
    // Pins every byte of every file, PNGs included, so CI on another machine catches any
    // machine dependence (fonts, float formatting, compression) that one machine cannot.
    let fingerprints: Vec<String> = with
        .iter()
        .map(|file| format!("{:016x}  {}", fnv1a(&file.contents), file.name))
        .collect();
    insta::assert_snapshot!("tiny_file_fingerprints", fingerprints.join("\n"));
    for stem in [
        "latency-raw",
        "latency-quantiles",
        "rate",
        "availability",
        "waiting",
    ] {
        let image = decode_png(&file(&with, &format!("{stem}.png")).contents).unwrap();
        let summary = image.summary();
        assert_eq!(summary.width, 1000, "{stem}");
        assert!(summary.distinct_colors > 20, "{stem}: {summary:?}");
        // Text and data are drawn: well over 1% of the pixels are not white.
        let pixels = u64::from(summary.width) * u64::from(summary.height);
        assert!(
            summary.non_white_pixels * 100 > pixels,
            "{stem}: {summary:?}"
        );
    }
}

#[test]
fn the_same_run_gives_the_same_bytes() {
    // PNG reproducibility is checked on a smaller run in the test above: rasterizing is slow
    // in debug builds.
    let options = ReportOptions {
        png: false,
        history_file: Some("history.jsonl".to_string()),
        ..ReportOptions::default()
    };
    let first = render_run(&sample_run(), &options).unwrap();
    let second = render_run(&sample_run(), &options).unwrap();
    assert_eq!(names(&first), names(&second));
    for (one, other) in first.iter().zip(&second) {
        assert!(
            one.contents == other.contents,
            "{} differs between renders",
            one.name
        );
    }
    // A different seed must show up in the files, or the comparison above proves nothing.
    let mut other_run = sample_run();
    other_run.seed = 43;
    let third = render_run(&other_run, &options).unwrap();
    assert_ne!(file(&first, "index.html"), file(&third, "index.html"));
}

#[test]
fn renders_in_parallel_threads_agree() {
    // `detsim fuzz` renders reports of failing seeds from many threads at once; the font
    // registry is shared state, so check that concurrent renders still agree byte for byte.
    let expected = render_run(&tiny_run(), &ReportOptions::default()).unwrap();
    let renders: Vec<Vec<ReportFile>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| render_run(&tiny_run(), &ReportOptions::default()).unwrap()))
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    });
    for render in renders {
        assert!(render == expected, "a render from another thread differs");
    }
}

#[test]
fn reports_carry_no_wall_clock_or_machine_specifics() {
    let files = render_run(&sample_run(), &ReportOptions::default()).unwrap();
    for file in files.iter().filter(|file| !file.name.ends_with(".png")) {
        let contents = String::from_utf8_lossy(&file.contents);
        for forbidden in ["wall time:", "/tmp/", "/home/", "localhost", "font-kit"] {
            assert!(
                !contents.contains(forbidden),
                "{} contains {forbidden}",
                file.name
            );
        }
    }
}

#[test]
fn tiny_run_buckets_are_counted_by_hand() {
    let run = tiny_run();
    let operations = operations(&run.history.to_history()).unwrap();
    assert_eq!(operations.len(), 8, "the nemesis entry is not an operation");
    let width = 250 * MILLI;
    // Completions: ok at 30, 110, 160 | fail at 455 | ok at 700 | ok at 805, info at 920.
    let rates = rate_buckets(&operations, width, 1_000 * MILLI);
    let counts: Vec<(u64, u64, u64)> = rates.iter().map(|b| (b.ok, b.fail, b.info)).collect();
    assert_eq!(counts, [(3, 0, 0), (0, 1, 0), (1, 0, 0), (1, 0, 1)]);
    assert_eq!(rates[0].ok_per_second, 12.0);
    // Invocations: 0, 10, 150 | 420 (info), 450 (fail) | 500 (ok) | 800 (ok), 950 (open).
    let availability = availability_buckets(&operations, width, 1_000 * MILLI);
    let counts: Vec<(u64, u64, u64)> = availability
        .iter()
        .map(|b| (b.invoked, b.ok, b.answered))
        .collect();
    assert_eq!(counts, [(3, 3, 3), (2, 0, 1), (1, 1, 1), (2, 1, 1)]);
    // A history file's `fail` is taken as the service's decision: an answer, not an outage.
    assert_eq!(availability[1].availability, Some(0.5));
    assert_eq!(availability[3].availability, Some(0.5));
    let quantiles = quantile_buckets(&operations, width);
    let reads: Vec<(u64, u64)> = quantiles
        .iter()
        .filter(|bucket| bucket.function == "read")
        .map(|bucket| (bucket.start, bucket.quantiles.max))
        .collect();
    assert_eq!(reads, [(0, 30 * MILLI), (500 * MILLI, 200 * MILLI)]);
    let never = operations.iter().find(|op| op.process == 2).unwrap();
    assert_eq!(
        (never.outcome, never.completion_time),
        (Outcome::Info, None)
    );
}

#[test]
fn tiny_run_summary_splits_operations_by_fault_windows() {
    let run = tiny_run();
    let report = report_data(&run, &ReportOptions::default()).unwrap();
    let summary = &report.summary;
    assert_eq!(
        report.bucket_width,
        20 * MILLI,
        "one second: fifty 20 ms buckets"
    );
    let counts = &summary.operations;
    // The info read, and client 2's read that never completed.
    assert_eq!(
        (counts.total, counts.ok, counts.fail, counts.info),
        (8, 5, 1, 2)
    );
    // Invoked in 400..700: the read at 420 (info), cas at 450 (fail), read at 500 (ok).
    assert_eq!(
        (summary.during_faults.total, summary.during_faults.ok),
        (3, 1)
    );
    // The instant clock jump does not make the write at 800 "during a fault".
    assert_eq!(summary.outside_faults.total, 5);
    // First ok invoked after the heal at 700 ms: the write invoked at 800, done at 805.
    assert_eq!(summary.recovery_after_heal, Some(105 * MILLI));
}

#[test]
fn every_time_plot_shades_and_labels_the_faults() {
    let files = render_run(&tiny_run(), &ReportOptions::default()).unwrap();
    for name in [
        "latency-raw.svg",
        "latency-quantiles.svg",
        "rate.svg",
        "availability.svg",
        "timeline.html",
    ] {
        let contents = text(&files, name);
        assert!(
            contents.contains("isolate n1"),
            "{name} lacks the partition label"
        );
        assert!(
            contents.contains("jump n2"),
            "{name} lacks the clock jump label"
        );
        assert!(contents.contains("heal"), "{name} lacks the heal mark");
    }
}

#[test]
fn index_links_only_to_files_the_report_writes_or_the_caller_names() {
    let options = ReportOptions {
        png: true,
        history_file: Some("history.jsonl".to_string()),
        trace_file: Some("trace.jsonl".to_string()),
        ..ReportOptions::default()
    };
    let files = render_run(&sample_run(), &options).unwrap();
    for page in ["index.html", "timeline.html"] {
        let html = text(&files, page);
        let mut links = Vec::new();
        for attribute in ["src=\"", "href=\""] {
            for piece in html.split(attribute).skip(1) {
                links.push(piece.split('"').next().unwrap().to_string());
            }
        }
        assert!(!links.is_empty());
        for link in links {
            let target = link.split('#').next().unwrap();
            let known = files.iter().any(|file| file.name == target)
                || target == "history.jsonl"
                || target == "trace.jsonl";
            assert!(known, "{page} links to {link}, which is not written");
        }
    }
    assert!(text(&files, "index.html").contains("timeline.html#stuck"));
}

#[test]
fn the_stuck_operation_is_highlighted_once_in_the_timeline() {
    let run = sample_run();
    let stuck = run
        .stuck_operation
        .expect("the sample has a stuck operation");
    let files = render_run(&run, &ReportOptions::default()).unwrap();
    let timeline = text(&files, "timeline.html");
    assert_eq!(timeline.matches("id=\"stuck\"").count(), 1);
    let bar = timeline.split("id=\"stuck\"").nth(1).unwrap();
    let title = bar
        .split("<title>")
        .nth(1)
        .unwrap()
        .split("</title>")
        .next()
        .unwrap();
    assert!(title.contains(&format!("entry {stuck}")), "{title}");
    assert!(title.contains("cannot place"), "{title}");
    // Without a stuck operation, nothing is highlighted.
    let plain = render_run(&tiny_run(), &ReportOptions::default()).unwrap();
    assert!(!text(&plain, "timeline.html").contains("id=\"stuck\""));
}

#[test]
fn messages_by_kind_are_shown_per_operation() {
    let options = ReportOptions {
        messages_by_kind: vec![MessageCount {
            kind: "AppendEntries".to_string(),
            sent: 40,
        }],
        ..ReportOptions::default()
    };
    let files = render_run(&tiny_run(), &options).unwrap();
    // 40 messages over 8 operations.
    assert!(text(&files, "index.html")
        .contains("<tr><th>AppendEntries</th><td>40</td><td>5.00</td></tr>"));
    assert!(text(&files, "report.json").contains("\"AppendEntries\""));
}

#[test]
fn a_malformed_history_is_an_error_naming_the_entry() {
    let mut run = tiny_run();
    let position = run.history.len() as u64;
    run.history.push_op(op(99, OpType::Ok, 7, "read", 990));
    let error = render_run(&run, &ReportOptions::default()).unwrap_err();
    assert!(
        matches!(error, ReportError::MalformedHistory { index, .. } if index == position),
        "{error}"
    );
}

#[test]
fn an_empty_run_still_renders() {
    let mut run = tiny_run();
    run.history = History::default().into();
    run.faults.clear();
    run.heal_time = None;
    let files = render_run(
        &run,
        &ReportOptions {
            png: true,
            ..ReportOptions::default()
        },
    )
    .unwrap();
    assert!(text(&files, "latency-raw.svg").contains("no completed operations"));
    assert!(text(&files, "index.html").contains("No faults were injected."));
}

#[test]
fn sample_report_data_snapshot() {
    let run = sample_run();
    let report = report_data(&run, &ReportOptions::default()).unwrap();
    insta::assert_json_snapshot!("sample_summary", report.summary);
    insta::assert_json_snapshot!("sample_quantiles", report.quantiles);
    insta::assert_json_snapshot!("sample_rates", report.rates);
    insta::assert_json_snapshot!("sample_availability", report.availability);
}

#[test]
fn tiny_availability_svg_snapshot() {
    let files = render_run(&tiny_run(), &ReportOptions::default()).unwrap();
    insta::assert_snapshot!("tiny_availability_svg", text(&files, "availability.svg"));
}

#[test]
fn refused_operations_are_outages_and_decided_fails_are_answers() {
    use sim::completion::CompletionClass;

    use sim::recorder::RecordedHistory;
    use sim::workload::register::{Operation, Register};
    use sim::workload::Workload;
    let mut history = RecordedHistory::default();
    let cas = Operation::Cas {
        key: 0,
        from: 1,
        to: 2,
    };
    let classes = [
        CompletionClass::Ok,
        CompletionClass::Fail,
        CompletionClass::Refused,
        CompletionClass::Unknown,
    ];
    for (process, class) in classes.into_iter().enumerate() {
        let start = process as u64 * 10 * MILLI;
        let write = || Register::write(&cas, None);
        history.push_operation(SimTime(start), process as u64, None, write(), None, None);
        let reason = (class != CompletionClass::Ok).then_some("why".into());
        let end = SimTime(start + MILLI);
        history.push_operation(
            end,
            process as u64,
            Some(class),
            write(),
            reason,
            Some(NodeId(0)),
        );
    }
    let mut operations = operations(&history.to_history()).unwrap();
    reports::operations::mark_refused(&mut operations, &history);
    let outcomes: Vec<Outcome> = operations.iter().map(|o| o.outcome).collect();
    assert!(
        operations.iter().all(|o| o.node == Some(0)),
        "the serving node is carried"
    );
    assert_eq!(
        outcomes,
        [Outcome::Ok, Outcome::Fail, Outcome::Refused, Outcome::Info]
    );
    let availability = availability_buckets(&operations, 100 * MILLI, 100 * MILLI);
    assert_eq!((availability[0].invoked, availability[0].answered), (4, 2));
    assert_eq!(availability[0].availability, Some(0.5));
}

#[test]
fn crowded_fault_labels_become_numbers_and_a_list() {
    let mut run = sample_run();
    // Thirty faults 20 ms apart: their labels cannot all fit in three rows above the lanes.
    run.faults = (0..30)
        .map(|i| FaultWindow {
            kind: FaultKind::Partition,
            label: format!("partition [n0 n1] [n2] number {i}"),
            nodes: Vec::new(),
            start: SimTime((1_000 + 20 * i) * 1_000_000),
            end: Some(SimTime((1_010 + 20 * i) * 1_000_000)),
            activity: None,
        })
        .collect();
    let files = render_run(&run, &ReportOptions::default()).unwrap();
    let timeline = text(&files, "timeline.html");
    let labels = timeline.matches("class=\"fault-label\"").count();
    let full = timeline
        .split("class=\"fault-label\"")
        .skip(1)
        .filter(|label| label.split("</text>").next().unwrap().contains("number"))
        .count();
    assert!(full <= 3, "{full} full labels overprint each other");
    assert!(
        timeline.contains("<ol class=\"faults\">"),
        "no list of crowded faults"
    );
    let listed = timeline.matches("<li value=").count();
    assert_eq!(full + listed, 30, "every fault is labelled or listed");
    assert!(labels >= full);
}
