//! Reading histories in the formats real systems produce, and writing detsim's.
//!
//! - Jepsen EDN ([`crate::edn`]), which also covers Porcupine's key-value logs (one EDN map per
//!   line);
//! - Porcupine's etcd logs: `INFO  jepsen.util - <process> :<type> :<f> <value>`, fields
//!   separated by tabs or spaces;
//! - detsim's JSON Lines: one [`Op`] as JSON per line.

use crate::edn;
use crate::error::{FileError, Position, ReadError};
use crate::history::{History, Op, OpType, Process, Value};
use std::path::Path;

/// A history file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Jepsen EDN (also Porcupine's key-value logs).
    Edn,
    /// detsim's JSON Lines.
    JsonLines,
    /// Porcupine's (Jepsen's) etcd logs.
    EtcdLog,
}

impl Format {
    /// Guesses the format from the first non-blank text: `INFO` starts an etcd log, `{"` a JSON
    /// line, anything else is EDN.
    pub fn detect(text: &str) -> Format {
        let start = text.trim_start();
        if start.starts_with("INFO") {
            Format::EtcdLog
        } else if start.starts_with("{\"") || start.starts_with("{ \"") {
            Format::JsonLines
        } else {
            Format::Edn
        }
    }
}

/// A history as read, with where each operation begins in the text.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReadHistory {
    /// The history.
    pub history: History,
    /// Where operation `i` begins (same length as `history.ops`).
    pub positions: Vec<Position>,
}

/// Reads a history in the given format (or the detected one when `format` is `None`). A leading
/// UTF-8 byte-order mark is skipped.
pub fn read_history(text: &str, format: Option<Format>) -> Result<ReadHistory, ReadError> {
    // A UTF-8 byte-order mark, as some editors write, is not part of the text.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (history, positions) = match format.unwrap_or_else(|| Format::detect(text)) {
        Format::Edn => edn::read_edn(text)?,
        Format::JsonLines => read_json_lines(text)?,
        Format::EtcdLog => read_etcd_log(text)?,
    };
    Ok(ReadHistory { history, positions })
}

/// Reads a history file; errors name the file.
pub fn read_history_file(path: &Path, format: Option<Format>) -> Result<ReadHistory, FileError> {
    let bytes = std::fs::read(path).map_err(|source| FileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| FileError::NotText {
        path: path.to_path_buf(),
    })?;
    read_history(&text, format).map_err(|source| FileError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads detsim's JSON Lines: one operation object per line; blank lines are skipped.
pub fn read_json_lines(text: &str) -> Result<(History, Vec<Position>), ReadError> {
    let mut history = History::default();
    let mut positions = Vec::new();
    for (line_index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let op: Op = serde_json::from_str(line).map_err(|error| {
            let position = Position {
                line: line_index + 1,
                column: error.column().max(1),
            };
            if error.is_eof() {
                ReadError::Truncated {
                    position,
                    message: error.to_string(),
                }
            } else {
                ReadError::Syntax {
                    position,
                    message: error.to_string(),
                }
            }
        })?;
        history.ops.push(op);
        positions.push(Position {
            line: line_index + 1,
            column: 1,
        });
    }
    Ok((history, positions))
}

/// Writes a history as JSON Lines.
pub fn write_json_lines(history: &History) -> String {
    let mut out = String::new();
    for op in &history.ops {
        // Serializing these plain types cannot fail: no maps with non-string keys, no floats.
        out.push_str(&serde_json::to_string(op).expect("an Op always serializes"));
        out.push('\n');
    }
    out
}

/// Reads a Porcupine etcd log. Each line is `INFO  jepsen.util - P :type :f value`; the
/// value is `nil`, an integer, `[from to]` or a keyword such as `:timed-out`. Time is the line
/// number.
pub fn read_etcd_log(text: &str) -> Result<(History, Vec<Position>), ReadError> {
    const PREFIX: &str = "jepsen.util - ";
    let mut history = History::default();
    let mut positions = Vec::new();
    for (line_index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let line_number = line_index + 1;
        let at = |column: usize| Position {
            line: line_number,
            column,
        };
        let Some(start) = line.find(PREFIX) else {
            return Err(ReadError::Syntax {
                position: at(1),
                message: "expected `INFO  jepsen.util - <process> :<type> :<f> <value>`"
                    .to_string(),
            });
        };
        let rest_offset = start + PREFIX.len();
        let fields = split_fields(&line[rest_offset..], rest_offset);
        let column = |byte_offset: usize| line[..byte_offset].chars().count() + 1;
        let field_names = ["process", "type", "f", "value"];
        if fields.len() < 4 {
            let missing = field_names[fields.len()];
            return Err(if fields.len() == 3 {
                ReadError::MissingField {
                    position: at(1),
                    field: missing.to_string(),
                }
            } else {
                ReadError::Truncated {
                    position: at(line.chars().count() + 1),
                    message: format!("line ends before the `{missing}` field"),
                }
            });
        }
        let (process_offset, process_text) = fields[0];
        let process = match process_text.parse::<u64>() {
            Ok(n) => Process::Client(n),
            Err(_) => match process_text.strip_prefix(':') {
                Some(name) if !name.is_empty() => Process::Named(name.to_string()),
                _ => {
                    return Err(ReadError::BadField {
                        position: at(column(process_offset)),
                        field: "process".to_string(),
                        message: format!("`{process_text}` is not a process number"),
                    })
                }
            },
        };
        let (kind_offset, kind_text) = fields[1];
        let kind = match kind_text {
            ":invoke" => OpType::Invoke,
            ":ok" => OpType::Ok,
            ":fail" => OpType::Fail,
            ":info" => OpType::Info,
            other => {
                return Err(ReadError::BadField {
                    position: at(column(kind_offset)),
                    field: "type".to_string(),
                    message: format!(
                        "unknown type `{other}` (expected :invoke, :ok, :fail or :info)"
                    ),
                })
            }
        };
        let (function_offset, function_text) = fields[2];
        let Some(function) = function_text.strip_prefix(':').filter(|f| !f.is_empty()) else {
            return Err(ReadError::BadField {
                position: at(column(function_offset)),
                field: "f".to_string(),
                message: format!("`{function_text}` is not a keyword such as :read"),
            });
        };
        let (value_offset, _) = fields[3];
        let value_text = &line[value_offset..];
        let value = edn::parse_value(value_text).map_err(|error| {
            let inner = error.position();
            let position = at(column(value_offset) + inner.column - 1);
            match error {
                ReadError::Truncated { message, .. } => ReadError::Truncated { position, message },
                other => ReadError::BadField {
                    position,
                    field: "value".to_string(),
                    message: other.to_string(),
                },
            }
        })?;
        // Jepsen logs the reason of an indeterminate completion in place of its value.
        let error = match &value {
            Value::Keyword { keyword } if kind != OpType::Invoke => Some(keyword.clone()),
            _ => None,
        };
        history.ops.push(Op {
            index: history.ops.len() as u64,
            kind,
            process,
            function: function.to_string().into(),
            key: None,
            value,
            time: line_number as u64,
            error: error.map(Into::into),
        });
        positions.push(at(1));
    }
    Ok((history, positions))
}

/// Splits on runs of blanks, returning each field with its byte offset in the whole line. The
/// fourth field is the rest of the line (a value such as `[1 2]` contains a blank).
fn split_fields(text: &str, base: usize) -> Vec<(usize, &str)> {
    let mut fields = Vec::new();
    let mut rest = text;
    let mut offset = base;
    while fields.len() < 4 {
        let trimmed = rest.trim_start();
        offset += rest.len() - trimmed.len();
        if trimmed.is_empty() {
            break;
        }
        if fields.len() == 3 {
            fields.push((offset, trimmed.trim_end()));
            break;
        }
        let end = trimmed
            .find(|c: char| c.is_whitespace())
            .unwrap_or(trimmed.len());
        fields.push((offset, &trimmed[..end]));
        rest = &trimmed[end..];
        offset += end;
    }
    fields
}
