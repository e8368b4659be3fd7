//! Every history of Porcupine's corpus gets the verdict Porcupine's own tests assert, as
//! listed in `corpus/porcupine/SOURCE.md` (vendored; licence in `corpus/porcupine/LICENSE`): etcd logs with the etcd model, key-value
//! logs with the key-value model partitioned by key.

use check::read::read_history_file;
use check::{check, check_parallel, CheckOptions, EtcdRegister, KeyValue, Verdict};
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus/porcupine")
}

/// (file, expected verdict) for every row of SOURCE.md's tables; `None` for the empty file.
fn expected() -> Vec<(String, Option<Verdict>)> {
    let source = std::fs::read_to_string(corpus().join("SOURCE.md")).expect("SOURCE.md");
    source
        .lines()
        .filter(|line| line.starts_with("| jepsen/") || line.starts_with("| kv/"))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let file = cells[1].to_string();
            let verdict = if line.contains("| NOT linearizable |") {
                Some(Verdict::NotLinearizable)
            } else if line.contains("| linearizable |") {
                Some(Verdict::Linearizable)
            } else {
                None
            };
            (file, verdict)
        })
        .collect()
}

#[test]
fn every_corpus_history_gets_porcupines_verdict() {
    let expected = expected();
    assert_eq!(expected.len(), 109, "103 etcd logs and 6 kv logs");
    let mut checked = 0;
    let mut wrong = Vec::new();
    for (file, verdict) in &expected {
        let read = read_history_file(&corpus().join(file), None).expect("corpus file reads");
        let options = CheckOptions::default();
        let result = if file.starts_with("jepsen/") {
            check(&read.history, &EtcdRegister, &options)
        } else {
            check(&read.history, &KeyValue, &options)
        }
        .expect("corpus history is well-formed");
        if file.starts_with("kv/") {
            // Threads change nothing: same verdict, same evidence, same steps.
            let parallel = check_parallel(&read.history, &KeyValue, &options, 3).unwrap();
            assert_eq!(parallel, result, "{file}");
        }
        match verdict {
            Some(verdict) => {
                checked += 1;
                if result.verdict != *verdict {
                    wrong.push(format!("{file}: {} (expected {verdict})", result.verdict));
                }
            }
            // The empty etcd_095: nothing to place, trivially linearizable.
            None => assert_eq!(result.verdict, Verdict::Linearizable, "{file}"),
        }
    }
    assert_eq!(checked, 108);
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
}
