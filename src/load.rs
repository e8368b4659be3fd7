//! Loading scenario files, with every error pointing at file, line and field.

use crate::registry;
use sim::scenario::{key_line, Scenario, ScenarioError};
use sim::world::RunError;
use std::path::Path;

/// Reads a scenario and checks it against the protocol it names.
pub fn load_scenario(path: &Path) -> Result<Scenario, ScenarioError> {
    let (scenario, text) = Scenario::load_with_text(path)?;
    let invalid = |key: &str, message: String| ScenarioError::Invalid {
        path: path.to_owned(),
        line: if key == "options" {
            text.lines()
                .position(|l| l.trim() == "[protocol.options]")
                .map_or_else(|| key_line(&text, "protocol", "name"), |i| i + 1)
        } else {
            key_line(&text, "protocol", key)
        },
        column: 1,
        message,
    };
    let Some(entry) = registry::find(&scenario.protocol.name) else {
        let known: Vec<&str> = registry::PROTOCOLS.iter().map(|p| p.name()).collect();
        return Err(invalid(
            "name",
            format!(
                "protocol.name: unknown protocol {:?} (known: {})",
                scenario.protocol.name,
                known.join(", ")
            ),
        ));
    };
    entry
        .validate(&scenario.protocol)
        .map_err(|error| match error {
            RunError::UnknownBug { .. } => invalid("bug", error.to_string()),
            other => invalid("options", other.to_string()),
        })?;
    Ok(scenario)
}
