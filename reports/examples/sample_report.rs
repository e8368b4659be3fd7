//! Writes the report of the synthetic sample run to a directory, to look at it in a browser:
//! `cargo run -p reports --example sample_report -- /tmp/sample-report [--png]`.

use reports::{render_run, sample::sample_run, ReportOptions};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut arguments = std::env::args().skip(1);
    let directory = PathBuf::from(arguments.next().ok_or("usage: sample_report DIR [--png]")?);
    let png = arguments.any(|argument| argument == "--png");
    let options = ReportOptions {
        png,
        history_file: Some("history.jsonl".to_string()),
        trace_file: Some("trace.jsonl".to_string()),
        ..ReportOptions::default()
    };
    std::fs::create_dir_all(&directory)?;
    for file in render_run(&sample_run(), &options)? {
        std::fs::write(directory.join(&file.name), &file.contents)?;
        println!("{} ({} bytes)", file.name, file.contents.len());
    }
    Ok(())
}
