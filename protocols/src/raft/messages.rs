//! The two RPCs of Raft (Figure 2) and their replies, as one-way messages.
//!
//! The sender of a message is known to the receiver (`on_message` gets its `source`), so the
//! paper's `candidateId` and `leaderId` fields are not repeated here.

use super::durable::Snapshot;
use super::log::{Entry, LogIndex, Term};
use sim::workload::register;

/// Everything one Raft node sends another.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Message<O = register::Operation> {
    /// A candidate asks for a vote (Raft §5.2).
    RequestVote(RequestVote),
    /// The answer to a `RequestVote`.
    RequestVoteReply(RequestVoteReply),
    /// A leader replicates entries, or just asserts its leadership when `entries` is empty
    /// (Raft §5.3; a heartbeat, §5.2).
    AppendEntries(AppendEntries<O>),
    /// The answer to an `AppendEntries`.
    AppendEntriesReply(AppendEntriesReply),
    /// With the `pre_vote` option: a server about to campaign asks whether it could win, before
    /// raising its term and disrupting anyone (Ongaro's dissertation §9.6). `term` is the term
    /// it would campaign in; receivers do not adopt it and change no state.
    PreVote(RequestVote),
    /// The answer to a `PreVote`. When granted, `term` is the term asked about; when denied, the
    /// voter's current term.
    PreVoteReply(RequestVoteReply),
    /// With `reads = "read-index"` or `"lease"`: a leader confirms it still leads with a round
    /// of heartbeats (Ongaro's dissertation §6.4); a follower treats it as it treats an
    /// `AppendEntries` from its leader, without the log.
    Heartbeat(Heartbeat),
    /// The answer to a `Heartbeat`, naming its round.
    HeartbeatReply(HeartbeatReply),
    /// A leader sends its snapshot to a follower that needs entries it has discarded
    /// (dissertation §5.3; in one message, not in chunks). The follower answers with an
    /// `AppendEntriesReply` matching up to the snapshot's last index.
    InstallSnapshot(InstallSnapshot),
}

impl<O> Message<O> {
    /// The paper's name for the message's kind, for per-kind message counts.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::RequestVote(_) => "RequestVote",
            Message::RequestVoteReply(_) => "RequestVoteReply",
            Message::AppendEntries(_) => "AppendEntries",
            Message::AppendEntriesReply(_) => "AppendEntriesReply",
            Message::PreVote(_) => "PreVote",
            Message::PreVoteReply(_) => "PreVoteReply",
            Message::Heartbeat(_) => "Heartbeat",
            Message::HeartbeatReply(_) => "HeartbeatReply",
            Message::InstallSnapshot(_) => "InstallSnapshot",
        }
    }

    /// Its size in a fixed-width binary encoding: a one-byte tag, 8-byte terms and indexes, a
    /// one-byte flag, and for `AppendEntries` a 4-byte entry count and each entry as laid out
    /// in memory (its term, and its command's ids and operation).
    pub fn encoded_size(&self) -> u64 {
        let words = |n: u64| 1 + 8 * n;
        match self {
            Message::RequestVote(_) | Message::PreVote(_) => words(3),
            Message::RequestVoteReply(_) | Message::PreVoteReply(_) => words(1) + 1,
            Message::AppendEntries(message) => {
                let entry = std::mem::size_of::<Entry<O>>() as u64;
                words(4) + 4 + entry * message.entries.len() as u64
            }
            Message::AppendEntriesReply(_) => words(2) + 1,
            Message::Heartbeat(_) | Message::HeartbeatReply(_) => words(2),
            // The state machine's size is not counted: its type is not known here.
            Message::InstallSnapshot(_) => words(3),
        }
    }

    /// The sender's term, which a receiver adopts when it is later than its own (Raft §5.1).
    /// A `PreVote`, and a granted `PreVoteReply`, carry a term nobody has entered yet: they make
    /// no one adopt it (`None`).
    pub fn term_to_adopt(&self) -> Option<Term> {
        match self {
            Message::RequestVote(message) => Some(message.term),
            Message::RequestVoteReply(message) => Some(message.term),
            Message::AppendEntries(message) => Some(message.term),
            Message::AppendEntriesReply(message) => Some(message.term),
            Message::PreVote(_) => None,
            Message::PreVoteReply(message) => (!message.vote_granted).then_some(message.term),
            Message::Heartbeat(message) => Some(message.term),
            Message::HeartbeatReply(message) => Some(message.term),
            Message::InstallSnapshot(message) => Some(message.term),
        }
    }
}

/// `RequestVote` arguments (Figure 2).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestVote {
    /// The candidate's term.
    pub term: Term,
    /// Index of the candidate's last log entry (Raft §5.4.1).
    pub last_log_index: LogIndex,
    /// Term of the candidate's last log entry (Raft §5.4.1).
    pub last_log_term: Term,
}

/// `RequestVote` results (Figure 2).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestVoteReply {
    /// The voter's current term, for the candidate to update itself.
    pub term: Term,
    /// Whether the candidate received the vote.
    pub vote_granted: bool,
}

/// `InstallSnapshot` arguments (dissertation §5.3, Figure 5.3), the snapshot whole.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InstallSnapshot {
    /// The leader's term.
    pub term: Term,
    /// The snapshot, with the index and term of the last entry it covers.
    pub snapshot: Snapshot,
}

/// A round of leadership confirmation (dissertation §6.4).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Heartbeat {
    /// The leader's term.
    pub term: Term,
    /// The round, counted per leadership from 1.
    pub round: u64,
}

/// The answer to a [`Heartbeat`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HeartbeatReply {
    /// The follower's current term, for a stale leader to step down.
    pub term: Term,
    /// The round answered.
    pub round: u64,
}

/// `AppendEntries` arguments (Figure 2).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AppendEntries<O = register::Operation> {
    /// The leader's term.
    pub term: Term,
    /// Index of the entry immediately preceding the new ones.
    pub prev_log_index: LogIndex,
    /// Term of the entry at `prev_log_index`.
    pub prev_log_term: Term,
    /// Entries to store, in order; empty for a heartbeat.
    pub entries: Vec<Entry<O>>,
    /// The leader's commit index.
    pub leader_commit: LogIndex,
}

/// `AppendEntries` results (Figure 2), with the index the follower reached so the leader can
/// update `matchIndex` and `nextIndex` without remembering what each request carried.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AppendEntriesReply {
    /// The follower's current term, for the leader to update itself.
    pub term: Term,
    /// Whether the follower's log matched at `prev_log_index` and now holds the entries.
    pub success: bool,
    /// On success, the index of the last entry the request covered (now known to match the
    /// leader's log). On failure, the highest index at which the follower's log may still match:
    /// the leader retries from just after it (Raft §5.3, "decrements nextIndex and retries").
    pub match_hint: LogIndex,
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::protocol::{ClientId, RequestId};
    use sim::service::Request;

    #[test]
    fn append_entries_counts_its_entries_on_the_wire() {
        let empty = AppendEntries::<register::Operation> {
            term: Term(3),
            prev_log_index: LogIndex(7),
            prev_log_term: Term(2),
            entries: Vec::new(),
            leader_commit: LogIndex(6),
        };
        let heartbeat = Message::AppendEntries(empty.clone()).encoded_size();
        assert_eq!(heartbeat, 1 + 4 * 8 + 4);
        let entry = Entry {
            term: Term(3),
            command: super::super::state_machine::Command::Client(Request {
                id: RequestId(1),
                client: ClientId(0),
                operation: register::Operation::Read { key: 0 },
            }),
        };
        let full = AppendEntries {
            entries: vec![entry.clone(), entry],
            ..empty
        };
        let size = Message::AppendEntries(full).encoded_size();
        assert_eq!(
            size - heartbeat,
            2 * std::mem::size_of::<Entry<register::Operation>>() as u64
        );
        let vote = RequestVoteReply {
            term: Term(1),
            vote_granted: true,
        };
        assert_eq!(
            Message::<register::Operation>::RequestVoteReply(vote).encoded_size(),
            10
        );
    }
}
