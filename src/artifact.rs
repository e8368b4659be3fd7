//! Failure artifacts: one self-contained JSON file per failing seed.
//!
//! An artifact holds the scenario with the seed's fault schedule written out as explicit
//! `[[faults]]` (so it no longer depends on the swarm generator), the seed, the detsim version,
//! the verdict, the fingerprint and the last lines of the trace. `detsim replay` reruns it and
//! confirms the fingerprint; `detsim shrink` minimises it. Beside each artifact the fuzzer writes
//! the same scenario as a plain `.toml` file that `detsim run` accepts and a human can edit.

use crate::run_command::run_traced;
use serde::{Deserialize, Serialize};
use sim::outcome::{RunData, Verdict};
use sim::scenario::{Scenario, ScenarioError};
use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The `format` every artifact carries, bumped when the layout changes.
pub const FORMAT: &str = "detsim-artifact/1";

/// Trace lines an artifact keeps.
pub const TRACE_TAIL_LINES: usize = 50;

/// A failing run, everything needed to replay it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    /// Always [`FORMAT`].
    pub format: String,
    /// The detsim version that found the failure (replays are exact only within a version).
    pub detsim_version: String,
    /// The scenario file the campaign ran, as given on the command line.
    pub source: String,
    /// The seed.
    pub seed: u64,
    /// How the run ended.
    pub verdict: Verdict,
    /// The trace fingerprint.
    pub fingerprint: String,
    /// Client operations invoked.
    pub ops: u64,
    /// Events applied.
    pub events: u64,
    /// The command that replays this artifact.
    pub replay: String,
    /// The scenario with the expanded fault schedule, as TOML (what `detsim run` reads).
    pub scenario: String,
    /// The last trace lines of the run, oldest first.
    pub trace_tail: Vec<String>,
}

/// An artifact could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not an artifact.
    #[error("{path}:{line}:{column}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, naming the field.
        message: String,
    },
    /// A field holds something unusable.
    #[error("{path}: field `{field}`: {message}")]
    Field {
        /// The file.
        path: PathBuf,
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl Artifact {
    /// Reads an artifact and checks its scenario, returning both.
    pub fn load(path: &Path) -> Result<(Artifact, Scenario), ArtifactError> {
        let text = std::fs::read_to_string(path).map_err(|source| ArtifactError::Io {
            path: path.to_owned(),
            source,
        })?;
        let artifact: Artifact =
            serde_json::from_str(&text).map_err(|error| ArtifactError::Malformed {
                path: path.to_owned(),
                line: error.line(),
                column: error.column(),
                message: strip_position(&error.to_string()),
            })?;
        let field = |field, message: String| ArtifactError::Field {
            path: path.to_owned(),
            field,
            message,
        };
        if artifact.format != FORMAT {
            return Err(field(
                "format",
                format!("{:?} is not {FORMAT:?}", artifact.format),
            ));
        }
        let scenario = parse_scenario(&artifact.scenario, Path::new("embedded TOML"))
            .map_err(|error| field("scenario", error.to_string()))?;
        Ok((artifact, scenario))
    }

    /// Writes the artifact as pretty JSON.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let mut json = serde_json::to_string_pretty(self).expect("an artifact serializes");
        json.push('\n');
        std::fs::write(path, json)
    }
}

/// serde_json's message without its trailing " at line L column C" (the error already leads with
/// the position).
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_string(),
        None => message.to_string(),
    }
}

/// Parses scenario text and checks it against the protocol it names, as loading a file does.
pub fn parse_scenario(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
    let scenario = Scenario::parse(text, path)?;
    crate::load::check_against_registry(&scenario, text, path)?;
    Ok(scenario)
}

/// The expanded scenario of `seed` that an artifact stores: explicit faults, the seed, and the
/// verdict kind the run produced as its `expect`, so `detsim run` on it says "as expected".
pub fn expanded_for_artifact(
    scenario: &Scenario,
    seed: u64,
    verdict: &Verdict,
) -> Result<Scenario, String> {
    let mut expanded = crate::registry::expanded_scenario(scenario, seed)?;
    expanded.expect = Some(verdict.kind().to_string());
    Ok(expanded)
}

/// A failing seed's artifact, built by running the expanded scenario again with a bounded trace
/// kept in memory. `original` is the run that found the failure; when the expanded scenario does
/// not reproduce its fingerprint, the artifact still records the rerun and `Err` explains it.
pub fn build(
    scenario: &Scenario,
    source: &Path,
    original: &RunData,
    artifact_path: &Path,
) -> Result<Built, String> {
    let expanded = expanded_for_artifact(scenario, original.seed, &original.verdict)?;
    let text = expanded.to_toml();
    let reread = Scenario::parse(&text, Path::new("expanded scenario"))
        .map_err(|error| format!("the expanded scenario does not read back: {error}"))?;
    let mut tail = TailWriter::new(TRACE_TAIL_LINES);
    let rerun = run_traced(&reread, original.seed, Some(&mut tail))?;
    let mismatch = (rerun.fingerprint != original.fingerprint || rerun.verdict != original.verdict)
        .then(|| {
            format!(
                "engine bug: the expanded scenario of seed {} gives fingerprint {} ({}), the \
                 original {} ({})",
                original.seed,
                rerun.fingerprint,
                rerun.verdict.kind(),
                original.fingerprint,
                original.verdict.kind()
            )
        });
    let artifact = Artifact {
        format: FORMAT.to_string(),
        detsim_version: env!("CARGO_PKG_VERSION").to_string(),
        source: source.display().to_string(),
        seed: original.seed,
        verdict: rerun.verdict.clone(),
        fingerprint: rerun.fingerprint.clone(),
        ops: crate::campaign::invocations(&rerun),
        events: rerun.stats.events,
        replay: replay_command(artifact_path),
        scenario: text,
        trace_tail: tail.into_lines(),
    };
    Ok(Built { artifact, mismatch })
}

/// A freshly built artifact, and what went wrong when its expanded scenario did not reproduce
/// the original run.
pub struct Built {
    /// The artifact.
    pub artifact: Artifact,
    /// `Some` when the expanded scenario gave another fingerprint or verdict (an engine bug).
    pub mismatch: Option<String>,
}

/// The one command that replays an artifact.
pub fn replay_command(artifact_path: &Path) -> String {
    format!("{} replay {}", crate::program(), artifact_path.display())
}

/// A `Write` that keeps only the last `limit` lines, so tracing a long run costs bounded memory.
pub struct TailWriter {
    lines: VecDeque<String>,
    partial: Vec<u8>,
    limit: usize,
}

impl TailWriter {
    /// Keeps the last `limit` lines (at least one).
    pub fn new(limit: usize) -> TailWriter {
        TailWriter {
            lines: VecDeque::with_capacity(limit.max(1)),
            partial: Vec::new(),
            limit: limit.max(1),
        }
    }

    /// The kept lines, oldest first, with an unterminated last line if any.
    pub fn into_lines(mut self) -> Vec<String> {
        if !self.partial.is_empty() {
            let line = String::from_utf8_lossy(&self.partial).into_owned();
            self.push(line);
        }
        self.lines.into()
    }

    fn push(&mut self, line: String) {
        if self.lines.len() == self.limit {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }
}

impl Write for TailWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut rest = bytes;
        while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&rest[..newline]);
            let line = String::from_utf8_lossy(&self.partial).into_owned();
            self.partial.clear();
            self.push(line);
            rest = &rest[newline + 1..];
        }
        // A pathological line without newlines must not grow without bound either.
        if self.partial.len() < 1 << 16 {
            self.partial.extend_from_slice(rest);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The engine's promise that artifacts rest on: a seed's expanded scenario, written out as
    /// TOML and read back, runs to the same fingerprint and verdict as the swarm scenario.
    #[test]
    fn expanded_scenarios_reproduce_their_seeds() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for file in [
            "scenarios/swarm.toml",
            "scenarios/raft/swarm-everything.toml",
            "tests/fixtures/fuzz/swarm-tight-liveness.toml",
            "tests/fixtures/fuzz/event-limit.toml",
        ] {
            let scenario = crate::load::load_scenario(&root.join(file)).unwrap();
            for seed in 0..12 {
                let original = run_traced(&scenario, seed, None).unwrap();
                let built =
                    build(&scenario, Path::new(file), &original, Path::new("a.json")).unwrap();
                assert_eq!(built.mismatch, None, "{file} seed {seed}");
                assert_eq!(built.artifact.fingerprint, original.fingerprint);
                assert!(built.artifact.trace_tail.len() <= TRACE_TAIL_LINES);
                assert!(!built.artifact.trace_tail.is_empty());
            }
        }
    }

    #[test]
    fn tail_writer_keeps_the_last_lines_across_split_writes() {
        let mut tail = TailWriter::new(3);
        for i in 0..10 {
            writeln!(tail, "line {i}").unwrap();
        }
        tail.write_all(b"half").unwrap();
        tail.write_all(b" line").unwrap();
        assert_eq!(tail.into_lines(), vec!["line 8", "line 9", "half line"]);
    }
}
