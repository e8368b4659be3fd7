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

/// A node's log. Entries are only appended, or truncated after a conflict (Raft §5.3), or
/// discarded from the front once a snapshot covers them (log compaction, dissertation ch. 5):
/// `entries[0]` is at `snapshot_index + 1`, and the snapshot stands for everything before.
///
/// The log counts its truncations so that the invariant checker can re-examine only what changed
/// since it last looked, instead of the whole log after every event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Log<O = register::Operation> {
    entries: Vec<Entry<O>>,
    /// The last index the snapshot covers (0: no snapshot).
    snapshot_index: LogIndex,
    /// The term of the entry at `snapshot_index`.
    snapshot_term: Term,
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
        Log::from_snapshot(LogIndex::ZERO, Term(0), entries)
    }

    /// A log whose first `snapshot_index` entries a snapshot of term `snapshot_term` covers,
    /// followed by `entries` (as recovered from disk).
    pub fn from_snapshot(
        snapshot_index: LogIndex,
        snapshot_term: Term,
        entries: Vec<Entry<O>>,
    ) -> Log<O> {
        Log {
            entries,
            snapshot_index,
            snapshot_term,
            truncation_count: 0,
            last_truncation: LogIndex::ZERO,
        }
    }

    /// The last index the snapshot covers (0 without a snapshot).
    pub fn snapshot_index(&self) -> LogIndex {
        self.snapshot_index
    }

    /// The term of the last entry the snapshot covers.
    pub fn snapshot_term(&self) -> Term {
        self.snapshot_term
    }

    /// The index of the last entry, or 0 for an empty log.
    pub fn last_index(&self) -> LogIndex {
        LogIndex(self.snapshot_index.0 + self.entries.len() as u64)
    }

    /// The term of the last entry, or 0 for an empty log.
    pub fn last_term(&self) -> Term {
        self.entries
            .last()
            .map_or(self.snapshot_term, |entry| entry.term)
    }

    /// The term of the entry at `index` (0 for index 0, the snapshot's term at its last index),
    /// or `None` past the end or inside the snapshot.
    pub fn term_at(&self, index: LogIndex) -> Option<Term> {
        if index == self.snapshot_index {
            return Some(self.snapshot_term);
        }
        self.entry(index).map(|entry| entry.term)
    }

    /// The entry at `index`, if the log holds it (not past the end, not inside the snapshot).
    pub fn entry(&self, index: LogIndex) -> Option<&Entry<O>> {
        let position = index.0.checked_sub(self.snapshot_index.0)?.checked_sub(1)?;
        self.entries.get(usize::try_from(position).ok()?)
    }

    /// Up to `count_max` entries starting at `first` (empty when `first` is past the end).
    pub fn entries_from(&self, first: LogIndex, count_max: usize) -> &[Entry<O>] {
        assert!(
            first > self.snapshot_index,
            "entries start after the snapshot"
        );
        let start = ((first.0 - self.snapshot_index.0) as usize - 1).min(self.entries.len());
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
        assert!(index > self.snapshot_index && index <= self.last_index());
        self.entries
            .truncate((index.0 - self.snapshot_index.0) as usize - 1);
        self.truncation_count += 1;
        self.last_truncation = index;
    }

    /// Log compaction (dissertation §5.1): a snapshot now covers every entry up to `index`,
    /// whose term is `term`; they are discarded. Entries after it stay.
    pub fn compact_through(&mut self, index: LogIndex, term: Term) {
        assert!(index > self.snapshot_index && index <= self.last_index());
        assert_eq!(
            self.term_at(index),
            Some(term),
            "the snapshot matches the log"
        );
        self.entries
            .drain(..(index.0 - self.snapshot_index.0) as usize);
        self.snapshot_index = index;
        self.snapshot_term = term;
    }

    /// InstallSnapshot (dissertation §5.3, Figure 5.3 rule 7): a snapshot up to `index` of
    /// `term` replaces the whole log, which does not hold that entry. Counts as a truncation.
    pub fn reset_to_snapshot(&mut self, index: LogIndex, term: Term) {
        self.entries.clear();
        self.snapshot_index = index;
        self.snapshot_term = term;
        self.truncation_count += 1;
        self.last_truncation = index.next();
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

    /// The entries after the snapshot (all entries without one), the first at
    /// `snapshot_index + 1`.
    pub fn entries(&self) -> &[Entry<O>] {
        &self.entries
    }
}
