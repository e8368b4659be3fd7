//! The replicated log: terms, indexes, entries, and the comparisons the paper defines on them.
//!
//! Indexes start at 1 (Raft §5.3); index 0 is the empty prefix, whose term is 0, so that the
//! consistency check of the first `AppendEntries` needs no special case.

use super::state_machine::Command;
use serde::{Deserialize, Serialize};
use sim::workload::register;
use std::fmt;

/// A Raft term: a logical clock that numbers elections (Raft §5.1). Term 0 precedes every election.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Term(pub u64);

impl Term {
    /// The term after this one, which a candidate starts (Raft §5.2).
    pub fn next(self) -> Term {
        Term(self.0.checked_add(1).expect("term overflow"))
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}", self.0)
    }
}

/// A position in the log, starting at 1; 0 means "before the first entry".
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct LogIndex(pub u64);

impl LogIndex {
    /// The position before the first entry.
    pub const ZERO: LogIndex = LogIndex(0);

    /// The next position.
    pub fn next(self) -> LogIndex {
        LogIndex(self.0.checked_add(1).expect("log index overflow"))
    }

    /// The previous position; `ZERO` stays `ZERO`.
    pub fn previous(self) -> LogIndex {
        LogIndex(self.0.saturating_sub(1))
    }
}

impl fmt::Display for LogIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "i{}", self.0)
    }
}

/// One log entry: the command and the term in which a leader received it (Raft §5.3).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Entry<O = register::Operation> {
    /// The leader's term when the entry was created.
    pub term: Term,
    /// What the state machine executes when the entry is applied.
    pub command: Command<O>,
}

/// A node's log. Entries are only appended, or truncated after a conflict (Raft §5.3).
///
/// The log counts its truncations so that the invariant checker can re-examine only what changed
/// since it last looked, instead of the whole log after every event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Log<O = register::Operation> {
    entries: Vec<Entry<O>>,
    truncation_count: u64,
    last_truncation: LogIndex,
}

impl<O> Default for Log<O> {
    fn default() -> Self {
        Log::from_entries(Vec::new())
    }
}

impl<O> Log<O> {
    /// A log holding `entries` (as recovered from disk).
    pub fn from_entries(entries: Vec<Entry<O>>) -> Log<O> {
        Log {
            entries,
            truncation_count: 0,
            last_truncation: LogIndex::ZERO,
        }
    }

    /// The index of the last entry, or 0 for an empty log.
    pub fn last_index(&self) -> LogIndex {
        LogIndex(self.entries.len() as u64)
    }

    /// The term of the last entry, or 0 for an empty log.
    pub fn last_term(&self) -> Term {
        self.entries.last().map_or(Term(0), |entry| entry.term)
    }

    /// The term of the entry at `index` (0 for index 0), or `None` past the end.
    pub fn term_at(&self, index: LogIndex) -> Option<Term> {
        if index == LogIndex::ZERO {
            return Some(Term(0));
        }
        self.entry(index).map(|entry| entry.term)
    }

    /// The entry at `index`, if the log reaches it.
    pub fn entry(&self, index: LogIndex) -> Option<&Entry<O>> {
        let position = usize::try_from(index.0).ok()?.checked_sub(1)?;
        self.entries.get(position)
    }

    /// Up to `count_max` entries starting at `first` (empty when `first` is past the end).
    pub fn entries_from(&self, first: LogIndex, count_max: usize) -> &[Entry<O>] {
        assert!(first > LogIndex::ZERO, "entries start at index 1");
        let start = (first.0 as usize - 1).min(self.entries.len());
        let end = start.saturating_add(count_max).min(self.entries.len());
        &self.entries[start..end]
    }

    /// Appends `entry` at `last_index() + 1`; terms never decrease along the log.
    pub fn append(&mut self, entry: Entry<O>) -> LogIndex {
        assert!(
            entry.term >= self.last_term(),
            "Raft §5.3: log terms never decrease ({} after {})",
            entry.term,
            self.last_term()
        );
        self.entries.push(entry);
        self.last_index()
    }

    /// Appends `entry` without checking that terms never decrease: only for planted bugs, whose
    /// logs the invariants, not this type's assertions, must judge.
    pub fn append_unchecked(&mut self, entry: Entry<O>) -> LogIndex {
        self.entries.push(entry);
        self.last_index()
    }

    /// Deletes the entry at `index` and all that follow it (Raft §5.3, receiver rule 3).
    pub fn truncate_from(&mut self, index: LogIndex) {
        assert!(index > LogIndex::ZERO && index <= self.last_index());
        self.entries.truncate(index.0 as usize - 1);
        self.truncation_count += 1;
        self.last_truncation = index;
    }

    /// Raft §5.4.1: a log whose last entry is (`last_term`, `last_index`) is at least as
    /// up-to-date as this one if its last term is later, or the terms are equal and it is at
    /// least as long.
    pub fn is_behind_or_equal(&self, last_term: Term, last_index: LogIndex) -> bool {
        (last_term, last_index) >= (self.last_term(), self.last_index())
    }

    /// How many truncations this log has undergone since it was loaded.
    pub fn truncation_count(&self) -> u64 {
        self.truncation_count
    }

    /// The index at which the most recent truncation cut the log.
    pub fn last_truncation(&self) -> LogIndex {
        self.last_truncation
    }

    /// All entries, index 1 first.
    pub fn entries(&self) -> &[Entry<O>] {
        &self.entries
    }
}
