//! Readers and writers: the shapes of history files found in the wild, and clear errors (never
//! panics) on bad input.

use check::edn::{read_edn, write_edn};
use check::history::{History, Op, OpType, Process, Value};
use check::operation::pair;
use check::read::{read_etcd_log, read_history, read_json_lines, write_json_lines, Format};
use check::{HistoryError, Position, ReadError};

fn at(line: usize, column: usize) -> Position {
    Position { line, column }
}

#[test]
fn reads_knossos_vector_with_commas_comments_and_extra_keys() {
    let text = r#"
; a Knossos test history
[{:process 0, :type :invoke, :f :write, :value 3, :time 10, :index 0}
 {:process 0, :type :ok,     :f :write, :value 3, :time 20, :index 1}
 {:process :nemesis, :type :info, :f :start, :value nil} ; a partition
 {:process 1 :type :invoke :f :cas :value [3 4]}
 {:process 1 :type :fail :f :cas :value [3 4] :error :timed-out}
 {:process 2, :type :invoke, :f :read, :value nil, :key "x"}
 {:process 2, :type :ok, :f :read, :value "s\"q", :key "x"}]
"#;
    let (history, positions) = read_edn(text).unwrap();
    assert_eq!(history.ops.len(), 7);
    assert_eq!(positions[0], at(3, 2));
    let first = &history.ops[0];
    assert_eq!(
        (first.kind, &first.process, first.function.as_ref()),
        (OpType::Invoke, &Process::Client(0), "write")
    );
    assert_eq!(
        (first.value.clone(), first.time, first.index),
        (Value::Int(3), 10, 0)
    );
    assert_eq!(history.ops[2].process, Process::Named("nemesis".into()));
    // Without :index and :time, both default to the position in the history.
    assert_eq!((history.ops[3].index, history.ops[3].time), (3, 3));
    assert_eq!(
        history.ops[3].value,
        Value::List(vec![Value::Int(3), Value::Int(4)])
    );
    assert_eq!(history.ops[4].error.as_deref(), Some("timed-out"));
    assert_eq!(history.ops[6].key, Some(Value::Str("x".into())));
    assert_eq!(history.ops[6].value, Value::Str("s\"q".into()));
}

#[test]
fn reads_a_list_a_map_per_line_and_tagged_ops() {
    let list = "({:process 0 :type :invoke :f :read :value nil})";
    assert_eq!(read_edn(list).unwrap().0.ops.len(), 1);
    let lines = "{:process 0, :type :invoke, :f :read, :value nil}\n\
                 #jepsen.history.Op{:process 0, :type :ok, :f :read, :value 1}\n";
    let (history, positions) = read_edn(lines).unwrap();
    assert_eq!(history.ops.len(), 2);
    assert_eq!(positions[1], at(2, 1));
    assert_eq!(history.ops[1].value, Value::Int(1));
}

#[test]
fn detects_formats() {
    assert_eq!(
        Format::detect("INFO  jepsen.util - 0\t:invoke"),
        Format::EtcdLog
    );
    assert_eq!(Format::detect("{\"index\":0}"), Format::JsonLines);
    assert_eq!(Format::detect("{:process 0}"), Format::Edn);
    assert_eq!(Format::detect("  [{:process 0}]"), Format::Edn);
}

#[test]
fn reads_etcd_logs_with_tabs_or_spaces() {
    let text = "INFO  jepsen.util - 3\t:invoke\t:cas\t[1 2]\n\
                INFO  jepsen.util - 3   :info   :cas    :timed-out\n\
                INFO  jepsen.util - 4   :invoke :read   nil\n\
                INFO  jepsen.util - 4   :fail   :read   :timed-out\n";
    let (history, _) = read_etcd_log(text).unwrap();
    assert_eq!(history.ops.len(), 4);
    assert_eq!(
        history.ops[0].value,
        Value::List(vec![Value::Int(1), Value::Int(2)])
    );
    assert_eq!(history.ops[1].kind, OpType::Info);
    assert_eq!(history.ops[1].error.as_deref(), Some("timed-out"));
    assert_eq!(history.ops[3].kind, OpType::Fail);
    assert_eq!(history.ops[3].time, 4);
}

fn sample() -> History {
    let op = |index: u64, kind, process, function: &str, key, value| Op {
        index,
        kind,
        process,
        function: function.to_string().into(),
        key,
        value,
        time: index * 1000,
        error: None,
    };
    History {
        ops: vec![
            op(
                0,
                OpType::Invoke,
                Process::Client(0),
                "cas",
                None,
                Value::List(vec![Value::Nil, Value::Int(1)]),
            ),
            op(
                1,
                OpType::Invoke,
                Process::Named("nemesis".into()),
                "kill",
                None,
                Value::keyword("majority"),
            ),
            op(
                2,
                OpType::Ok,
                Process::Client(0),
                "cas",
                None,
                Value::List(vec![Value::Nil, Value::Int(1)]),
            ),
            op(
                3,
                OpType::Invoke,
                Process::Client(1),
                "put",
                Some(Value::Str("k".into())),
                Value::Str("a \"b\"\n".into()),
            ),
            Op {
                error: Some("timed out".into()),
                ..op(
                    4,
                    OpType::Info,
                    Process::Client(1),
                    "put",
                    Some(Value::Str("k".into())),
                    Value::Str("a \"b\"\n".into()),
                )
            },
        ],
    }
}

#[test]
fn edn_and_json_lines_round_trip() {
    let history = sample();
    let edn = write_edn(&history);
    assert_eq!(read_edn(&edn).unwrap().0, history);
    let jsonl = write_json_lines(&history);
    assert_eq!(read_json_lines(&jsonl).unwrap().0, history);
    assert_eq!(read_history(&jsonl, None).unwrap().history, history);
    assert_eq!(read_history(&edn, None).unwrap().history, history);
}

#[test]
fn json_lines_spell_keywords_as_objects() {
    let jsonl = write_json_lines(&sample());
    let second = jsonl.lines().nth(1).unwrap();
    assert!(
        second.contains(r#""value":{"keyword":"majority"}"#),
        "{second}"
    );
    assert!(second.contains(r#""process":"nemesis""#), "{second}");
}

#[test]
fn truncated_edn_names_where_the_form_began() {
    let error = read_edn("[{:process 0, :type :invoke,\n  :f :read").unwrap_err();
    assert!(matches!(error, ReadError::Truncated { .. }), "{error}");
    assert_eq!(error.position(), at(1, 2));
    let error = read_edn("{:process 0 :type :ok :f :read :value \"abc").unwrap_err();
    assert_eq!(
        error.to_string(),
        "1:39: unexpected end of input: string is never closed"
    );
}

#[test]
fn unknown_type_keyword_is_a_field_error() {
    let error = read_edn("{:process 0, :type :invok, :f :read}").unwrap_err();
    assert_eq!(
        error.to_string(),
        "1:20: field `:type`: unknown type `:invok` (expected :invoke, :ok, :fail or :info)"
    );
}

#[test]
fn missing_fields_and_bad_values_are_named() {
    let error = read_edn("{:type :ok, :f :read}").unwrap_err();
    assert_eq!(error.to_string(), "1:1: operation has no `:process`");
    let error = read_edn("{:type :ok, :process 0, :f :read, :value 1.5}").unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("1:42: field `:value`: unsupported value `1.5`"),
        "{error}"
    );
    let error = read_edn("{:type :ok, :process 0, :f :read :value}").unwrap_err();
    assert_eq!(
        error.to_string(),
        "1:1: syntax error: map has a key without a value"
    );
    let error = read_edn("[1 2]]").unwrap_err();
    assert_eq!(error.to_string(), "1:6: syntax error: unexpected `]`");
}

#[test]
fn bad_etcd_lines_are_named() {
    let error = read_etcd_log("INFO  jepsen.util - 0\t:invoke\t:read\n").unwrap_err();
    assert!(matches!(error, ReadError::MissingField { .. }), "{error}");
    let error = read_etcd_log("INFO  jepsen.util - 0\t:start\t:read\tnil\n").unwrap_err();
    assert_eq!(
        error.to_string(),
        "1:23: field `type`: unknown type `:start` (expected :invoke, :ok, :fail or :info)"
    );
    let error = read_etcd_log("INFO  jepsen.util - 0\t:ok\t:cas\t[1 2\n").unwrap_err();
    assert!(matches!(error, ReadError::Truncated { .. }), "{error}");
    let error = read_etcd_log("hello\n").unwrap_err();
    assert_eq!(error.position(), at(1, 1));
}

#[test]
fn bad_json_lines_are_named() {
    let error = read_json_lines("\n{\"index\": 0, \"type\": \"begin\"}\n").unwrap_err();
    assert_eq!(error.position().line, 2);
    let error = read_json_lines("{\"index\": 0, ").unwrap_err();
    assert!(matches!(error, ReadError::Truncated { .. }), "{error}");
}

#[test]
fn deep_nesting_and_garbage_do_not_panic() {
    let deep = "[".repeat(10_000);
    assert!(read_edn(&deep).is_err());
    for garbage in [
        "#",
        "#{",
        "\\",
        ":",
        "{:a",
        "\"\\",
        "#_",
        "#foo",
        "-",
        "+1x",
        "\u{00e9}]",
    ] {
        let _ = read_edn(garbage);
        let _ = read_etcd_log(garbage);
        let _ = read_json_lines(garbage);
    }
}

fn history_of(text: &str) -> History {
    read_edn(text).unwrap().0
}

#[test]
fn completion_without_invocation_is_an_error() {
    let history = history_of("{:process 3, :type :ok, :f :read, :value 1}");
    assert_eq!(
        pair(&history).unwrap_err(),
        HistoryError::CompletionWithoutInvocation {
            index: 0,
            kind: "ok".into(),
            process: "3".into()
        }
    );
}

#[test]
fn two_open_operations_on_one_process_is_an_error() {
    let history = history_of(
        "{:process 3, :type :invoke, :f :read, :value nil}\n\
         {:process 3, :type :invoke, :f :write, :value 1}",
    );
    let error = pair(&history).unwrap_err();
    assert_eq!(
        error.to_string(),
        "entry 1: process 3 invokes again while its invocation at entry 0 is still open"
    );
}

#[test]
fn mismatched_completion_is_an_error() {
    let history = history_of(
        "{:process 3, :type :invoke, :f :read, :value nil}\n\
         {:process 3, :type :ok, :f :write, :value 1}",
    );
    assert!(matches!(
        pair(&history).unwrap_err(),
        HistoryError::MismatchedCompletion {
            index: 1,
            open: 0,
            ..
        }
    ));
}

#[test]
fn a_process_may_invoke_again_after_info() {
    let history = history_of(
        "{:process 3, :type :invoke, :f :write, :value 1}\n\
         {:process 3, :type :info, :f :write, :value 1}\n\
         {:process 3, :type :invoke, :f :read, :value nil}",
    );
    let operations = pair(&history).unwrap().operations;
    assert_eq!(operations.len(), 2);
    assert_eq!(operations[1].complete, None);
}

/// Corrupted copies of real histories (truncated, bytes replaced) read and check without
/// panicking: every outcome is a value or an error.
#[test]
fn corrupted_histories_never_panic() {
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus/porcupine");
    let originals = [
        std::fs::read_to_string(corpus.join("jepsen/etcd_000.log")).unwrap(),
        std::fs::read_to_string(corpus.join("kv/c01-ok.txt")).unwrap(),
        check::edn::write_edn(&sample()),
        write_json_lines(&sample()),
    ];
    let replacements = [
        "",
        "[",
        "]",
        "{",
        "}",
        "\"",
        ":",
        ";",
        "\n",
        " ",
        "#",
        "\\",
        "nil",
        "-1",
        "99999999999999999999",
        ":invoke",
        ":ok",
        ":info",
        ":fail",
        "[1",
        "é",
    ];
    let mut seed = 0x1234_5678_u64;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let options = check::CheckOptions {
        budget: 10_000,
        ..Default::default()
    };
    for round in 0..1500 {
        let original = &originals[round % originals.len()];
        let mut text = original.clone();
        for _ in 0..1 + next(3) {
            let mut at = next(text.len().max(1));
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            if next(4) == 0 {
                text.truncate(at);
            } else {
                let mut end = (at + next(4)).min(text.len());
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.replace_range(at..end, replacements[next(replacements.len())]);
            }
        }
        if let Ok(read) = read_history(&text, None) {
            let history = &read.history;
            let _ = check::check(history, &check::EtcdRegister, &options);
            let _ = check::check(history, &check::KeyValue, &options);
            let _ = check::check(history, &check::CasRegister::new(Value::Nil), &options);
            let _ = check::check(history, &check::Mutex, &options);
            let _ = check::check(history, &check::Counter, &options);
        }
    }
}
