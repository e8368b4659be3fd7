//! A real browser opens a run's report: headless Chromium screenshots `index.html` and
//! `timeline.html`, the screenshots must not be blank, the plots must have loaded, and the pages
//! must log nothing to the console (no script errors).
//!
//! Needs Debian's `chromium` (`apt-get install -y chromium`); `.ci/run` installs it. Without a
//! Chromium the test fails, unless `DETSIM_SKIP_BROWSER=1` says to skip it. `DETSIM_CHROMIUM`
//! names a browser binary other than the one found on `PATH`.

use reports::sample::sample_run;
use reports::{decode_png, render_run, ReportOptions};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How long one browser run may take before it is killed and the test fails.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

/// The `ok` colour of the plots and the timeline bars (#4477aa).
const OK_BLUE: [u8; 3] = [0x44, 0x77, 0xAA];

fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("DETSIM_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    for directory in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let candidate = directory.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// A scratch directory for this test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let path = std::env::temp_dir().join(format!(
            "detsim-report-browser-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create scratch directory");
        Scratch(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What one browser run left behind.
struct BrowserRun {
    stdout: String,
    log: String,
}

/// Runs headless Chromium on `page` with `mode` arguments (a screenshot or `--dump-dom`), with
/// a fresh profile, no network services, and console messages logged to stderr.
fn run_chromium(chromium: &Path, scratch: &Path, page: &Path, mode: &[String]) -> BrowserRun {
    let run_name = page.file_stem().unwrap().to_string_lossy().into_owned();
    let profile = scratch.join(format!("profile-{run_name}-{}", mode.len()));
    let stdout_path = scratch.join(format!("{run_name}-{}.stdout", mode.len()));
    let log_path = scratch.join(format!("{run_name}-{}.log", mode.len()));
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(mode)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).expect("stdout file"))
        .stderr(File::create(&log_path).expect("log file"))
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {}: {error}", chromium.display()));
    // The limit is counted in polls, not read from the wall clock (which clippy bans here).
    let poll = Duration::from_millis(50);
    let mut polls_left = BROWSER_TIMEOUT.as_millis() / poll.as_millis();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if polls_left == 0 {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish {} within {BROWSER_TIMEOUT:?}; log:\n{}",
                page.display(),
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        polls_left -= 1;
        std::thread::sleep(poll);
    };
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(
        status.success(),
        "chromium failed on {}: {status}; log:\n{log}",
        page.display()
    );
    BrowserRun {
        stdout: std::fs::read_to_string(&stdout_path).unwrap_or_default(),
        log,
    }
}

/// Console messages (`console.log`/`error`, uncaught exceptions) Chromium logged for the page.
fn console_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|line| line.contains(":CONSOLE"))
        .collect()
}

/// Screenshots `page` at `size`, checks the console stayed silent and the picture is not
/// blank (at least `percent_inked` percent of it not white), and returns how many pixels have
/// the plots' `ok` colour.
fn screenshot(
    chromium: &Path,
    scratch: &Path,
    page: &Path,
    size: (u32, u32),
    percent_inked: u64,
) -> u64 {
    let name = page.file_name().unwrap().to_string_lossy().into_owned();
    let shot = scratch.join(format!("{name}.png"));
    let run = run_chromium(
        chromium,
        scratch,
        page,
        &[
            format!("--window-size={},{}", size.0, size.1),
            format!("--screenshot={}", shot.display()),
        ],
    );
    let console = console_lines(&run.log);
    assert!(
        console.is_empty(),
        "{name}: console messages:\n{}",
        console.join("\n")
    );
    let bytes = std::fs::read(&shot)
        .unwrap_or_else(|error| panic!("{name}: no screenshot ({error}); log:\n{}", run.log));
    let image = decode_png(&bytes).expect("screenshot is a PNG");
    let summary = image.summary();
    assert_eq!(
        (summary.width, summary.height),
        size,
        "{name}: screenshot size"
    );
    let pixels = u64::from(size.0) * u64::from(size.1);
    // A blank or error page is nearly all one colour; a report has text, tables and plots.
    assert!(
        summary.non_white_pixels * 100 > pixels * percent_inked,
        "{name}: under {percent_inked}% of the screenshot is not white: {summary:?}"
    );
    assert!(
        summary.distinct_colors > 100,
        "{name}: too few colours: {summary:?}"
    );
    if std::env::var_os("DETSIM_KEEP_SCREENSHOTS").is_some() {
        let keep = std::env::temp_dir().join(format!("detsim-{name}.png"));
        std::fs::copy(&shot, &keep).expect("keep screenshot");
        eprintln!("kept {}", keep.display());
    }
    image.count_near(OK_BLUE, 6)
}

#[test]
fn a_browser_renders_the_report_without_errors() {
    let Some(chromium) = find_chromium() else {
        if std::env::var("DETSIM_SKIP_BROWSER").as_deref() == Ok("1") {
            eprintln!("skipped: no Chromium found and DETSIM_SKIP_BROWSER=1");
            return;
        }
        panic!(
            "no Chromium found on PATH (looked for chromium, chromium-browser, google-chrome): \
             install Debian's `chromium` (apt-get install -y chromium), set DETSIM_CHROMIUM to \
             a browser binary, or set DETSIM_SKIP_BROWSER=1 to skip this test"
        );
    };
    let scratch = Scratch::new("pages");
    let report = scratch.0.join("report");
    std::fs::create_dir_all(&report).unwrap();
    let options = ReportOptions {
        png: false,
        ..ReportOptions::default()
    };
    for file in render_run(&sample_run(), &options).expect("render the sample report") {
        std::fs::write(report.join(&file.name), &file.contents).unwrap();
    }

    // index.html is tall: the screenshot reaches down to the first plot, an <img> of an SVG.
    let index_blue = screenshot(
        &chromium,
        &scratch.0,
        &report.join("index.html"),
        (1100, 2200),
        5,
    );
    assert!(
        index_blue > 300,
        "index.html: only {index_blue} pixels of the ok colour: the latency plot did not load"
    );
    let timeline_blue = screenshot(
        &chromium,
        &scratch.0,
        &report.join("timeline.html"),
        (1400, 420),
        5,
    );
    assert!(
        timeline_blue > 1_000,
        "timeline.html: only {timeline_blue} pixels of the ok colour: no operation bars"
    );

    // Each plot on its own: a malformed SVG would show Chromium's XML error page instead.
    for plot in [
        "latency-raw.svg",
        "latency-quantiles.svg",
        "rate.svg",
        "availability.svg",
    ] {
        let blue = screenshot(&chromium, &scratch.0, &report.join(plot), (1000, 960), 2);
        assert!(blue > 100, "{plot}: only {blue} pixels of the ok colour");
    }

    // The timeline's script marks the page when it has run to the end without an exception.
    let run = run_chromium(
        &chromium,
        &scratch.0,
        &report.join("timeline.html"),
        &["--dump-dom".to_string()],
    );
    assert!(
        run.stdout.contains("data-script=\"ready\""),
        "timeline.html: the script did not run to the end; log:\n{}",
        run.log
    );
    let console = console_lines(&run.log);
    assert!(
        console.is_empty(),
        "timeline.html: console messages:\n{}",
        console.join("\n")
    );
}

#[test]
fn a_browser_renders_the_comparison_without_errors() {
    use reports::compare::{render, Comparison, RunMetrics, Variant};
    use reports::operations::mark_refused;
    let Some(chromium) = find_chromium() else {
        if std::env::var("DETSIM_SKIP_BROWSER").as_deref() == Ok("1") {
            eprintln!("skipped: no Chromium found and DETSIM_SKIP_BROWSER=1");
            return;
        }
        panic!("no Chromium found on PATH; set DETSIM_SKIP_BROWSER=1 to skip this test");
    };
    let scratch = Scratch::new("compare");
    let run = sample_run();
    let mut operations = reports::operations(&run.history.to_history()).unwrap();
    mark_refused(&mut operations, &run.history);
    let metrics = RunMetrics::of(&run, &operations, 50_000_000);
    let variants: Vec<Variant> = ["first", "second"]
        .iter()
        .map(|label| Variant {
            label: label.to_string(),
            protocol: run.protocol.clone(),
            file: format!("{label}.toml"),
            protocol_section: "name = \"raft\"\n".to_string(),
            runs: vec![metrics.clone(), metrics.clone()],
        })
        .collect();
    let comparison = Comparison::of(&variants, "0..2".to_string(), 50_000_000);
    for file in render(&comparison).expect("render the comparison") {
        std::fs::write(scratch.0.join(&file.name), &file.contents).unwrap();
    }
    let blue = screenshot(
        &chromium,
        &scratch.0,
        &scratch.0.join("compare.html"),
        (1100, 3000),
        5,
    );
    assert!(
        blue > 300,
        "compare.html: only {blue} pixels of the first variant's colour: the plots did not load"
    );
}
