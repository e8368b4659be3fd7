//! End-to-end tests of `detsim check`: verdict lines, explanations, exit codes, directories,
//! JSON output, and malformed files reported without stopping the others.

use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/corpus/porcupine")).to_path_buf()
}

fn detsim(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_detsim"))
        .args(args)
        .output()
        .expect("detsim runs");
    (
        output.status.code().expect("exit code"),
        String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    )
}

fn scratch(name: &str) -> PathBuf {
    let directory = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).expect("scratch directory");
    directory
}

#[test]
fn checks_a_directory_of_etcd_logs_and_exits_1_on_violations() {
    let directory = corpus().join("jepsen");
    let (code, stdout, _) = detsim(&["check", "--model", "etcd", directory.to_str().unwrap()]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|line| line.contains(".log: "))
        .collect();
    assert_eq!(lines.len(), 103);
    let violations = lines
        .iter()
        .filter(|line| line.contains(": NOT linearizable,"))
        .count();
    let passes = lines
        .iter()
        .filter(|line| line.contains(": linearizable,"))
        .count();
    assert_eq!((violations, passes), (79, 24));
    let line = lines
        .iter()
        .find(|line| line.contains("etcd_002.log"))
        .unwrap();
    assert!(line.contains("linearizable, 77 operations,"), "{line}");
    assert!(line.contains(" steps, ") && line.ends_with(" ms"), "{line}");
    assert!(stdout.contains("this operation cannot be placed"));
    assert!(stdout.contains("longest linearizable prefix"));
}

#[test]
fn linearizable_kv_logs_exit_0() {
    let kv = corpus().join("kv");
    let files: Vec<String> = ["c01-ok.txt", "c10-ok.txt"]
        .iter()
        .map(|name| kv.join(name).display().to_string())
        .collect();
    let mut args = vec!["check", "--model", "kv"];
    args.extend(files.iter().map(String::as_str));
    let (code, stdout, _) = detsim(&args);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
}

#[test]
fn a_malformed_file_is_reported_with_line_and_column_and_the_others_still_checked() {
    let directory = scratch("malformed");
    std::fs::write(
        directory.join("a-truncated.edn"),
        "[{:process 0, :type :invoke, :f :write, :value 1}\n {:process 0, :type :ok",
    )
    .unwrap();
    std::fs::write(
        directory.join("b-bad-type.edn"),
        "{:process 0, :type :invoke, :f :write, :value 1}\n{:process 0, :type :done, :f :write, :value 1}\n",
    )
    .unwrap();
    std::fs::write(
        directory.join("c-two-open.edn"),
        "{:process 0, :type :invoke, :f :write, :value 1}\n{:process 0, :type :invoke, :f :read, :value nil}\n",
    )
    .unwrap();
    std::fs::write(
        directory.join("d-good.edn"),
        "{:process 0, :type :invoke, :f :write, :value 1}\n{:process 0, :type :ok, :f :write, :value 1}\n",
    )
    .unwrap();
    let (code, stdout, stderr) = detsim(&["check", directory.to_str().unwrap()]);
    assert_eq!(code, 2, "{stdout}");
    // Errors go to standard error, verdicts to standard output.
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(
        lines[0].contains("a-truncated.edn:2:2: unexpected end of input"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("b-bad-type.edn:2:20: field `:type`: unknown type `:done`"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].contains("c-two-open.edn:2:1: entry 1: process 0 invokes again"),
        "{}",
        lines[2]
    );
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.contains("d-good.edn: linearizable, 1 operations"),
        "{stdout}"
    );
}

fn detsim_with_input(args: &[&str], input: &[u8]) -> (i32, String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_detsim"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("detsim runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("input written");
    let output = child.wait_with_output().expect("detsim ends");
    (
        output.status.code().expect("exit code"),
        String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    )
}

#[test]
fn a_dash_reads_standard_input_and_a_byte_order_mark_is_accepted() {
    let history = "\u{feff}{:process 0, :type :invoke, :f :write, :value 1}\n\
                   {:process 0, :type :ok, :f :write, :value 1}\n\
                   {:process 1, :type :invoke, :f :read, :value nil}\n\
                   {:process 1, :type :ok, :f :read, :value 2}\n";
    let (code, stdout, stderr) = detsim_with_input(&["check", "-"], history.as_bytes());
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("-: NOT linearizable, 2 operations"),
        "{stdout}"
    );
    let directory = scratch("bom");
    let file = directory.join("bom.edn");
    std::fs::write(&file, history.replace(":value 2}", ":value 1}")).unwrap();
    let (code, stdout, _) = detsim(&["check", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn an_empty_directory_is_an_error() {
    let directory = scratch("empty");
    let (code, stdout, stderr) = detsim(&["check", directory.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("empty: no histories found"), "{stderr}");
}

#[test]
fn control_characters_from_the_input_are_escaped() {
    let history = "{:process 0, :type :invoke, :f :write, :value \"\u{1b}[31mred\"}\n\
                   {:process 0, :type :ok, :f :write, :value \"\u{1b}[31mred\"}\n\
                   {:process 1, :type :invoke, :f :read, :value nil}\n\
                   {:process 1, :type :ok, :f :read, :value \"blue\"}\n";
    let (code, stdout, _) = detsim_with_input(&["check", "-"], history.as_bytes());
    assert_eq!(code, 1, "{stdout}");
    assert!(!stdout.contains('\u{1b}'), "{stdout:?}");
    assert!(stdout.contains("\\u{1b}[31mred"), "{stdout}");
    let bad = "{:process 0, :type :invoke, :f :\u{7}bell, :value 1}\n";
    let (code, _, stderr) = detsim_with_input(&["check", "-"], bad.as_bytes());
    assert_eq!(code, 2);
    assert!(!stderr.contains('\u{7}'), "{stderr:?}");
}

#[test]
fn a_small_memory_limit_gives_unknown_and_exit_2() {
    let file = corpus().join("kv/c50-ok.txt");
    let (code, stdout, _) = detsim(&[
        "check",
        "--model",
        "kv",
        "--memory-limit",
        "64KiB",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stdout}");
    assert!(stdout.contains(": unknown, "), "{stdout}");
    assert!(stdout.contains("the memory limit was reached"), "{stdout}");
    let (code, _, stderr) = detsim(&["check", "--memory-limit", "lots", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("lots"), "{stderr}");
}

#[test]
fn multi_register_transactions() {
    let ok = "{:process 0, :type :invoke, :f :txn, :value [[:w :x 1] [:w :y 2]]}\n\
              {:process 0, :type :ok, :f :txn, :value [[:w :x 1] [:w :y 2]]}\n\
              {:process 1, :type :invoke, :f :txn, :value [[:r :x nil] [:r :y nil]]}\n\
              {:process 1, :type :ok, :f :txn, :value [[:r :x 1] [:r :y 2]]}\n";
    let (code, stdout, _) =
        detsim_with_input(&["check", "--model", "multi-register", "-"], ok.as_bytes());
    assert_eq!(code, 0, "{stdout}");
    // A torn read: x from after the transaction, y from before.
    let torn = ok.replace("[:r :y 2]", "[:r :y 3]");
    let (code, stdout, _) = detsim_with_input(
        &["check", "--model", "multi-register", "-"],
        torn.as_bytes(),
    );
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("{:x 1, :y 2}") || stdout.contains(":x 1, :y 2"),
        "{stdout}"
    );
}

#[test]
fn json_output_and_a_violation_outranks_errors() {
    let directory = scratch("json");
    let lost = directory.join("lost.jsonl");
    std::fs::write(
        &lost,
        concat!(
            r#"{"index":0,"type":"invoke","process":0,"f":"write","key":"x","value":1,"time":10}"#, "\n",
            r#"{"index":1,"type":"ok","process":0,"f":"write","key":"x","value":1,"time":20}"#, "\n",
            r#"{"index":2,"type":"info","process":"nemesis","f":"crash","value":null,"time":30}"#, "\n",
            r#"{"index":3,"type":"invoke","process":1,"f":"read","key":"x","value":null,"time":40}"#, "\n",
            r#"{"index":4,"type":"ok","process":1,"f":"read","key":"x","value":null,"time":50}"#, "\n",
        ),
    )
    .unwrap();
    let missing = directory.join("missing.edn");
    let (code, stdout, _) = detsim(&[
        "check",
        "--model",
        "cas-register-strict",
        "--json",
        lost.to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["verdict"], "not-linearizable");
    assert_eq!(lines[0]["violation"]["entry"], 3);
    assert_eq!(lines[0]["violation"]["line"], 4);
    assert_eq!(lines[0]["violation"]["state"], "1");
    assert_eq!(lines[1]["verdict"], "error");
}

#[test]
fn a_small_budget_gives_unknown_and_exit_2() {
    let file = corpus().join("jepsen/etcd_002.log");
    let (code, stdout, _) = detsim(&[
        "check",
        "--model",
        "etcd",
        "--budget",
        "1000",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        stdout.contains(": unknown, 77 operations, 1000 steps"),
        "{stdout}"
    );
}

#[test]
fn initial_value_is_read_as_edn() {
    let directory = scratch("initial");
    let file = directory.join("read-five.edn");
    std::fs::write(
        &file,
        "{:process 0, :type :invoke, :f :read, :value nil}\n{:process 0, :type :ok, :f :read, :value 5}\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    assert_eq!(detsim(&["check", "--initial", "5", path]).0, 0);
    assert_eq!(detsim(&["check", "--initial", "4", path]).0, 1);
    assert_eq!(detsim(&["check", "--initial", "[4", path]).0, 2);
}

#[test]
fn threads_change_nothing_but_time() {
    let kv = corpus().join("kv");
    let without_times = |stdout: String| -> Vec<String> {
        stdout
            .lines()
            .map(|line| match line.rfind(" steps, ") {
                Some(at) => line[..at].to_string(),
                None => line.to_string(),
            })
            .collect()
    };
    let (code_one, one, _) = detsim(&["check", "--model", "kv", kv.to_str().unwrap()]);
    let (code_three, three, _) = detsim(&[
        "check",
        "--model",
        "kv",
        "--threads",
        "3",
        kv.to_str().unwrap(),
    ]);
    assert_eq!(code_one, 1);
    assert_eq!(code_three, 1);
    assert_eq!(without_times(one), without_times(three));
}

#[test]
fn independent_tuples_are_checked_per_key() {
    let dir = scratch("independent");
    let path = dir.join("independent.edn");
    // Key 1 is written 5; key 2 is never written, yet a read of key 2 returns 5.
    std::fs::write(
        &path,
        "[{:type :invoke, :f :write, :value [1 5], :process 0}\n \
         {:type :ok, :f :write, :value [1 5], :process 0}\n \
         {:type :invoke, :f :read, :value [2 nil], :process 1}\n \
         {:type :ok, :f :read, :value [2 5], :process 1}]\n",
    )
    .unwrap();
    let file = path.to_str().unwrap();
    let (code, stdout, _) = detsim(&[
        "check",
        "--independent",
        "--model",
        "cas-register-strict",
        file,
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("(key 2)"), "{stdout}");
    let not_tuples = dir.join("plain.edn");
    std::fs::write(
        &not_tuples,
        "{:type :invoke, :f :write, :value 5, :process 0}\n",
    )
    .unwrap();
    let (code, stdout, stderr) = detsim(&["check", "--independent", not_tuples.to_str().unwrap()]);
    assert_eq!(code, 2);
    let printed = format!("{stdout}{stderr}");
    assert!(
        printed.contains(":1:1: entry 0: independent keys"),
        "{printed}"
    );
}
