//! The example's binary is detsim's command line with the primary-backup protocol registered.

use std::process::Command;

fn byo(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_byo-protocol"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    (output.status.code().unwrap(), stdout)
}

#[test]
fn the_protocol_is_listed_beside_detsims_own() {
    let (code, stdout) = byo(&["list"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("primary-backup (workloads: register, counter)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("raft (workloads: register, counter)"),
        "{stdout}"
    );
}

#[test]
fn its_scenario_runs_and_passes_the_history_check() {
    let out = std::env::temp_dir().join(format!("byo-protocol-{}", std::process::id()));
    let out = out.to_string_lossy().into_owned();
    let (code, stdout) = byo(&[
        "run",
        "scenarios/primary-backup.toml",
        "--no-report",
        "--out",
        &out,
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("verdict: pass"), "{stdout}");
    assert!(stdout.contains("primary-backup"), "{stdout}");
    // The command that reproduces the run names this binary, not `detsim`.
    assert!(
        stdout.contains("reproduce: byo-protocol run scenarios/primary-backup.toml"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn fuzzing_it_finds_nothing_over_a_few_seeds() {
    let out = std::env::temp_dir().join(format!("byo-fuzz-{}", std::process::id()));
    let out = out.to_string_lossy().into_owned();
    let (code, stdout) = byo(&[
        "fuzz",
        "scenarios/primary-backup.toml",
        "--seeds",
        "0..20",
        "--jobs",
        "1",
        "--out",
        &out,
    ]);
    assert_eq!(code, 0, "{stdout}");
    let _ = std::fs::remove_dir_all(&out);
}
