//! Loading scenario files, with every error pointing at file, line and field.

use crate::registry::{self, Unserved};
use sim::scenario::{key_line, Scenario, ScenarioError};
use sim::world::RunError;
use std::path::Path;

/// Reads a scenario and checks it against the protocol and workload it names.
pub fn load_scenario(path: &Path) -> Result<Scenario, ScenarioError> {
    let (scenario, text) = Scenario::load_with_text(path)?;
    check_against_registry(&scenario, &text, path)?;
    Ok(scenario)
}

/// Checks a parsed scenario against the registry: the protocol exists, serves the workload, and
/// accepts the options, bug and workload fields. Errors point into `text`, the file's text.
pub fn check_against_registry(
    scenario: &Scenario,
    text: &str,
    path: &Path,
) -> Result<(), ScenarioError> {
    let invalid = |line: usize, message: String| ScenarioError::Invalid {
        path: path.to_owned(),
        line,
        column: 1,
        message,
    };
    let protocol_line = |key: &str| {
        if key == "options" {
            text.lines()
                .position(|l| l.trim() == "[protocol.options]")
                .map_or_else(|| key_line(text, "protocol", "name"), |i| i + 1)
        } else {
            key_line(text, "protocol", key)
        }
    };
    let workload_line = |key: &str| key_line(text, "workload", key);
    let kind = &scenario.workload.kind;
    let entry =
        registry::find(&scenario.protocol.name, kind).map_err(|unserved| match unserved {
            Unserved::UnknownProtocol { known } => invalid(
                protocol_line("name"),
                format!(
                    "protocol.name: unknown protocol {:?} (known: {})",
                    scenario.protocol.name,
                    known.join(", ")
                ),
            ),
            Unserved::UnservedWorkload {
                served,
                workload_exists,
            } => invalid(
                workload_line("kind"),
                if workload_exists {
                    format!(
                        "workload.kind: protocol {:?} does not serve the {kind:?} workload (it \
                     serves: {})",
                        scenario.protocol.name,
                        served.join(", ")
                    )
                } else {
                    format!(
                        "workload.kind: unknown workload {kind:?} (protocol {:?} serves: {})",
                        scenario.protocol.name,
                        served.join(", ")
                    )
                },
            ),
        })?;
    entry.validate(scenario).map_err(|error| match error {
        RunError::UnknownBug { .. } => invalid(protocol_line("bug"), error.to_string()),
        RunError::Workload(field) => invalid(workload_line(&field.field), field.to_string()),
        RunError::UnknownMoment { index, .. } => {
            invalid(fault_line(text, index, "on"), error.to_string())
        }
        RunError::MembershipUnsupported {
            index: Some(index), ..
        } => invalid(fault_line(text, index, "action"), error.to_string()),
        RunError::MembershipUnsupported { index: None, .. } => {
            invalid(key_line(text, "swarm", "kinds"), error.to_string())
        }
        RunError::Options(ref message) => {
            // A protocol's message that begins with an option's name points at its line.
            let line = message
                .split_once(':')
                .filter(|(name, _)| scenario.protocol.options.contains_key(name.trim()))
                .map_or_else(
                    || protocol_line("options"),
                    |(name, _)| key_line(text, "protocol.options", name.trim()),
                );
            invalid(line, error.to_string())
        }
        other => invalid(protocol_line("options"), other.to_string()),
    })
}

/// The line of `key` in the `index`-th `[[faults]]` entry of `text` (or of the entry's header).
fn fault_line(text: &str, index: usize, key: &str) -> usize {
    let mut seen = 0;
    let mut inside = false;
    let mut header = 1;
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            inside = trimmed == "[[faults]]" && seen == index;
            if trimmed == "[[faults]]" {
                seen += 1;
            }
            if inside {
                header = number + 1;
            }
            continue;
        }
        let named = trimmed.split_once('=').map(|(name, _)| name.trim());
        if inside && named == Some(key) {
            return number + 1;
        }
    }
    header
}
