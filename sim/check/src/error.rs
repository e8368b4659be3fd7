//! Errors of the readers and the checker.
//!
//! Reading errors name the line and column (from 1) where the input went wrong and, where one is
//! involved, the field. The file name is added by whoever opened the file
//! ([`crate::read::read_history_file`] does), so the same reader works on strings in tests.

use std::path::PathBuf;
use thiserror::Error;

/// A place in a text: line and column, both counted from 1 (columns in characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Why a history could not be read.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ReadError {
    /// The text is not well-formed (EDN, JSON or log syntax).
    #[error("{position}: syntax error: {message}")]
    Syntax {
        /// Where.
        position: Position,
        /// What was wrong.
        message: String,
    },
    /// The input ended inside a form.
    #[error("{position}: unexpected end of input: {message}")]
    Truncated {
        /// Where the unfinished form began.
        position: Position,
        /// What was left open.
        message: String,
    },
    /// A field is missing from an operation.
    #[error("{position}: operation has no `{field}`")]
    MissingField {
        /// Where the operation begins.
        position: Position,
        /// The field, such as `:type`.
        field: String,
    },
    /// A field has a value of the wrong kind or an unknown keyword.
    #[error("{position}: field `{field}`: {message}")]
    BadField {
        /// Where the field's value begins.
        position: Position,
        /// The field, such as `:type`.
        field: String,
        /// What was wrong.
        message: String,
    },
}

impl ReadError {
    /// Where the error is.
    pub fn position(&self) -> Position {
        match self {
            ReadError::Syntax { position, .. }
            | ReadError::Truncated { position, .. }
            | ReadError::MissingField { position, .. }
            | ReadError::BadField { position, .. } => *position,
        }
    }
}

/// A history file could not be read.
#[derive(Debug, Error)]
pub enum FileError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file is not valid UTF-8.
    #[error("{path}: not UTF-8 text")]
    NotText {
        /// The file.
        path: PathBuf,
    },
    /// The contents are malformed.
    #[error("{path}:{source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What was wrong, and where.
        source: ReadError,
    },
}

/// A history is well-formed text but not a well-formed history of operations, or the model
/// cannot interpret one of its operations.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum HistoryError {
    /// A completion (`ok`, `fail`, `info`) on a process with no open invocation.
    #[error("entry {index}: {kind} by process {process} completes no invocation")]
    CompletionWithoutInvocation {
        /// Position of the completion in the history.
        index: usize,
        /// `ok`, `fail` or `info`.
        kind: String,
        /// The process.
        process: String,
    },
    /// An invocation on a process that still has an open operation.
    #[error("entry {index}: process {process} invokes again while its invocation at entry {open} is still open")]
    TwoOpenOperations {
        /// Position of the second invocation.
        index: usize,
        /// Position of the open invocation.
        open: usize,
        /// The process.
        process: String,
    },
    /// A completion whose function differs from its invocation's.
    #[error("entry {index}: completion `{completion}` does not match invocation `{invocation}` at entry {open}")]
    MismatchedCompletion {
        /// Position of the completion.
        index: usize,
        /// Position of the invocation.
        open: usize,
        /// The invocation's function.
        invocation: String,
        /// The completion's function.
        completion: String,
    },
    /// The model cannot interpret an operation (unknown function, bad value).
    #[error("entry {index}: model `{model}`: {message}")]
    Model {
        /// Position of the invocation.
        index: usize,
        /// The model's name.
        model: String,
        /// What was wrong.
        message: String,
    },
    /// With independent keys, a client operation whose value is not a `[key value]` tuple.
    #[error("entry {index}: independent keys: the value {value} is not a [key value] tuple")]
    NotATuple {
        /// Position of the entry.
        index: usize,
        /// The value found.
        value: String,
    },
}

impl HistoryError {
    /// The position in the history of the entry at fault.
    pub fn index(&self) -> usize {
        match self {
            HistoryError::CompletionWithoutInvocation { index, .. }
            | HistoryError::TwoOpenOperations { index, .. }
            | HistoryError::MismatchedCompletion { index, .. }
            | HistoryError::Model { index, .. }
            | HistoryError::NotATuple { index, .. } => *index,
        }
    }
}
