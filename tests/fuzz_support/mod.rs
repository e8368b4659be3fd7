//! Helpers shared by the end-to-end tests: run the binary, write scenarios, read what it wrote.

#![allow(dead_code)] // Each test file uses its own subset.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The output of one `detsim` invocation.
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `detsim` with `args` from the repository root.
pub fn detsim(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_detsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let out = Output {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        !out.stderr.contains("panicked"),
        "detsim {args:?} panicked:\n{}",
        out.stderr
    );
    out
}

/// A fresh, empty directory for one test.
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("fuzz-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A path as a `&str` argument.
pub fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Runs `detsim fuzz`, returning its output.
pub fn fuzz(scenario: &str, seeds: &str, extra: &[&str], out: &Path) -> Output {
    let mut args = vec!["fuzz", scenario, "--seeds", seeds, "--out", arg(out)];
    args.extend_from_slice(extra);
    detsim(&args)
}

/// The lines of `results.jsonl`, parsed.
pub fn results(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Every file under `dir/failures`, by name, with its bytes.
pub fn failure_files(out: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(out.join("failures"))
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&path).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// The exit code `detsim run` gives for a verdict kind.
pub fn exit_code_of(kind: &str) -> i32 {
    match kind {
        "pass" => 0,
        "safety-violation" => 1,
        "liveness-timeout" => 3,
        "panic" => 4,
        "limit-reached" => 5,
        "unknown" => 6,
        other => panic!("unknown verdict kind {other}"),
    }
}

/// Fuzzes `scenario` over `seeds` until the first failure and returns that failure's artifact.
pub fn first_failure(scenario: &str, seeds: &str, out: &Path) -> (PathBuf, serde_json::Value) {
    let fuzzed = fuzz(scenario, seeds, &["--stop-on-first"], out);
    assert_ne!(fuzzed.code, 0, "{scenario}: no failure in {seeds}");
    assert_ne!(fuzzed.code, 2, "{scenario}: {}", fuzzed.stderr);
    let failing = results(out)
        .into_iter()
        .find(|line| line["verdict"] != "pass")
        .unwrap();
    let path = out
        .join("failures")
        .join(format!("seed-{}.json", failing["seed"]));
    let artifact = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    (path, artifact)
}

/// Writes `text` as `name.toml` in a fresh directory and returns its path.
pub fn scenario_file(name: &str, text: &str) -> PathBuf {
    let dir = fresh_dir(&format!("regressions-{name}"));
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// `detsim run` on `text` must exit 2 with an error at `line` that contains `needle`.
pub fn rejected(name: &str, text: &str, line: usize, needle: &str) {
    let path = scenario_file(name, text);
    let out = path.with_extension("out");
    let output = detsim(&["run", arg(&path), "--out", arg(&out)]);
    assert_eq!(output.code, 2, "{name}: {}{}", output.stdout, output.stderr);
    assert!(
        !output.stderr.contains("panicked"),
        "{name}: {}",
        output.stderr
    );
    let prefix = format!("error: {}:{line}:", path.display());
    assert!(
        output.stderr.starts_with(&prefix),
        "{name}: expected {prefix:?}, got {}",
        output.stderr
    );
    assert!(
        output.stderr.contains(needle),
        "{name}: expected {needle:?} in {}",
        output.stderr
    );
}
