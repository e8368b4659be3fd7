//! `detsim merge`: combine the `results.jsonl` of several shards into one file sorted by seed.
//!
//! Shards of one campaign are disjoint, so merging them gives the file a single machine would
//! have written. A seed that appears twice must have the same result both times (a shard run
//! twice, say); different results for one seed mean different scenarios or detsim versions were
//! mixed, and the merge refuses; so it does for results of different scenarios.

use crate::campaign::{ResultLine, Tally};
use crate::ExitStatus;
use clap::Args;
use std::collections::BTreeMap;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Arguments of `detsim merge`.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// `results.jsonl` files, or directories searched (recursively) for `results.jsonl`.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// The merged file.
    #[arg(long, default_value = "merged-results.jsonl")]
    pub out: PathBuf,
}

/// Directories deeper than this are not searched (a symlink loop must not hang the merge).
const DEPTH_MAX: usize = 16;

/// Runs the command. Exit code: 0 when every seed passed, otherwise the exit code of the lowest
/// failing seed's verdict (as `detsim fuzz`); 2 for unreadable or conflicting inputs.
pub fn execute(args: &MergeArgs) -> ExitStatus {
    match merge(args) {
        Ok(tally) => tally.exit_status(),
        Err(error) => {
            eprintln!("error: {error}");
            ExitStatus::InputError
        }
    }
}

fn merge(args: &MergeArgs) -> Result<Tally, String> {
    let mut files = Vec::new();
    for input in &args.inputs {
        if input.is_dir() {
            find_results(input, 0, &mut files)?;
        } else {
            files.push(input.clone());
        }
    }
    if files.is_empty() {
        return Err(format!(
            "no results.jsonl found in {}",
            args.inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut by_seed: BTreeMap<u64, (ResultLine, String)> = BTreeMap::new();
    for file in &files {
        read_results(file, &mut by_seed)?;
    }
    let mut tally = Tally::default();
    let output = fs::File::create(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let mut output = BufWriter::new(output);
    for (line, _) in by_seed.values() {
        tally.add(line);
        output
            .write_all(line.to_json_line().as_bytes())
            .map_err(|e| format!("writing {}: {e}", args.out.display()))?;
    }
    output
        .flush()
        .map_err(|e| format!("writing {}: {e}", args.out.display()))?;
    println!("merged {} files into {}", files.len(), args.out.display());
    if let (Some(first), Some(last)) = (by_seed.keys().next(), by_seed.keys().next_back()) {
        let span = last - first + 1;
        let missing = span - by_seed.len() as u64;
        println!(
            "seeds {first}..={last}{}",
            if missing == 0 {
                String::new()
            } else {
                format!(" ({missing} seeds in between are missing: a shard may be lost)")
            }
        );
    }
    println!("seeds run: {}", tally.seeds);
    println!("passed: {}", tally.passed);
    println!("{}", tally.failed_line());
    if let Some((seed, kind)) = &tally.first_failure {
        println!("first failure: seed {seed} ({kind})");
    }
    Ok(tally)
}

fn find_results(dir: &Path, depth: usize, found: &mut Vec<PathBuf>) -> Result<(), String> {
    if depth > DEPTH_MAX {
        return Ok(());
    }
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: cannot read: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            find_results(&path, depth + 1, found)?;
        } else if path.file_name().is_some_and(|name| name == "results.jsonl") {
            found.push(path);
        }
    }
    Ok(())
}

fn read_results(
    path: &Path,
    by_seed: &mut BTreeMap<u64, (ResultLine, String)>,
) -> Result<(), String> {
    let text =
        fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    for (index, text_line) in text.lines().enumerate() {
        if text_line.trim().is_empty() {
            continue;
        }
        let here = format!("{}:{}", path.display(), index + 1);
        let line: ResultLine = serde_json::from_str(text_line)
            .map_err(|e| format!("{here}: not a fuzz result line: {e}"))?;
        if let Some((first, where_first)) = by_seed.values().next() {
            if first.scenario != line.scenario {
                return Err(format!(
                    "{here}: scenario {:?}, but {where_first} is from {:?}: merge the shards of \
                     one campaign at a time",
                    line.scenario, first.scenario
                ));
            }
        }
        match by_seed.get(&line.seed) {
            Some((earlier, _)) if *earlier == line => {}
            Some((_, where_earlier)) => {
                return Err(format!(
                    "{here}: seed {} has a different result at {where_earlier} (different \
                     scenarios or detsim versions mixed?)",
                    line.seed
                ))
            }
            None => {
                by_seed.insert(line.seed, (line, here));
            }
        }
    }
    Ok(())
}
