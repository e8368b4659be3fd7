//! Raft's safety properties (Figure 3), checked after every simulator event.
//!
//! The checker keeps a little history so each check costs only what the event changed:
//! - **election-safety**: the leader seen for each term; a second node leading the same term is a
//!   violation (Raft §5.2).
//! - **log-matching**: every (index, term) pair ever seen in any log, with its command and the term
//!   of the entry before it. Two logs holding the same (index, term) must agree on both, which by
//!   induction means they agree on the whole prefix (Raft §5.3). Only entries appended (or
//!   rewritten after a truncation) since the node was last examined are looked at.
//! - **state-machine-safety**: the entry applied at each index, by whichever node applied it first;
//!   any node applying a different entry there later is a violation, even if the first one has
//!   crashed since (Raft §5.4.3).
//! - **leader-append-only**: for each node while it leads a term, the last entry of its log when
//!   last examined. A leader never overwrites or deletes entries in its log, it only appends
//!   (Raft §5.3): that entry must still be there, and the log may not have been truncated since.
//! - **single-server-change** (dissertation §4.1, membership changes): while a node leads, the
//!   configuration entries of its term appended since the checker last looked. Each must differ
//!   from the configuration before it by one server, and no two may be past its commit index
//!   at once (a change begins only when the previous one committed).
//! - **leader-completeness**: for each term, the highest index committed in that term. A leader
//!   of a later term must hold that entry (Raft §5.4); by log matching it then holds all entries
//!   before it too, so one lookup per leader event suffices.
//!
//! With log compaction, entries a node's snapshot covers are no longer in its log: they were
//! checked when nodes applied them one by one (a snapshot is taken only in a later step than the
//! one that applied its entries, so the checker has seen them), and a node that installed a
//! snapshot is checked from the entry after it; a leader whose snapshot covers a committed entry
//! holds it.
//!
//! A command is identified by its `RequestId`, unique across a run: the checker remembers every
//! entry of the run as a 16- or 24-byte record, never as a copy of the entry.
//!
//! An entry counts as committed in the term in which a node first knew it committed: the first
//! node whose commit index covers it, in that node's term when it did — for the correct
//! protocol, the leader that counted a majority (Raft §5.3), in its term. An entry a node
//! applied counts as committed too, in the applier's term, even when no commit index covers it
//! (Figure 2: `lastApplied` never passes `commitIndex`; a protocol that applies early claims the
//! entry committed). Leader completeness (§5.4.3: "if a log entry is committed in a given term,
//! then that entry will be present in the logs of the leaders for all higher-numbered terms")
//! is judged against that term: every leader of a later term is checked, and none of an earlier
//! one.

use super::configuration::Configuration;
use super::log::{Entry, LogIndex, Term};
use super::node::Raft;
use super::state_machine::Command;
use sim::invariants::{Invariants, Violation};
use sim::protocol::{NodeId, RequestId};
use sim::service::StateMachine;
use sim::time::SimTime;
use std::collections::btree_map::Entry as MapEntry;
use std::collections::BTreeMap;
use std::fmt;

/// What the checker remembers about one node between events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct NodeWatch {
    /// The node's log up to here was checked against `entries`.
    verified_index: LogIndex,
    /// The node log's truncation count when `verified_index` was set.
    truncation_count: u64,
    /// Entries up to here that the node applied were checked against `applied`.
    applied_checked: LogIndex,
    /// Entries up to here that the node's commit index covered were recorded in `committed`.
    committed_checked: LogIndex,
    /// While the node leads: the term it leads, and its log when last examined (leader
    /// append-only).
    leading: Option<LeaderWatch>,
    /// While the node leads: the configuration entries it appended (single-server changes).
    changes: Option<ChangeWatch>,
}

/// The configuration entries a leader appended in its term, for the single-server-change
/// check (dissertation §4.1).
#[derive(Clone, Debug, PartialEq, Eq)]
struct ChangeWatch {
    term: Term,
    /// The leader's log up to here was examined.
    examined: LogIndex,
    /// The configuration of the last configuration entry seen (at first, the leader's).
    configuration: Configuration,
    /// Configuration entries of its term past its commit index, by index.
    uncommitted: Vec<LogIndex>,
}

/// A leader's log when the checker last examined it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LeaderWatch {
    term: Term,
    last_index: LogIndex,
    /// The entry at `last_index`, if any.
    last_entry: Option<EntryId>,
    truncation_count: u64,
}

/// An entry as the checker remembers it: its term and what its command is — the request it
/// carries, or the configuration it sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct EntryId {
    term: Term,
    command: CommandId,
}

/// A command, by the request id it carries or the configuration it sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CommandId {
    Request(RequestId),
    Configuration(Configuration),
}

impl EntryId {
    fn of<O>(entry: &Entry<O>) -> EntryId {
        EntryId {
            term: entry.term,
            command: match &entry.command {
                Command::Client(request) => CommandId::Request(request.id),
                Command::Configuration(configuration) => CommandId::Configuration(*configuration),
            },
        }
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.command {
            CommandId::Request(request) => write!(f, "{request} of {}", self.term),
            CommandId::Configuration(configuration) => {
                write!(f, "configuration {configuration} of {}", self.term)
            }
        }
    }
}

/// An entry the first node to apply it applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct AppliedEntry {
    entry: EntryId,
    node: NodeId,
}

/// An entry as the first node to know it committed knew it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct CommittedEntry {
    entry: EntryId,
    node: NodeId,
    /// The term in which it was committed: that node's term when it first knew.
    term: Term,
    /// Whether that node learned it by applying it (a protocol that applies before its commit
    /// index covers the entry), rather than from its commit index.
    by_applying: bool,
}

/// An entry seen in some log, with the term of the entry before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SeenEntry {
    entry: EntryId,
    prev_term: Term,
}

/// Every (index, term) pair seen in any log. Almost every index only ever holds entries of one
/// term, so the first one seen is kept in a vector indexed by log index (one lookup, no tree
/// walk, as this runs after every event); the rare others go to a map.
#[derive(Clone, Debug, Default)]
struct SeenEntries {
    first: Vec<SeenEntry>,
    others: BTreeMap<(LogIndex, Term), SeenEntry>,
}

impl SeenEntries {
    /// Records `seen` at `index` if its (index, term) is new; otherwise returns what was seen
    /// there before when that differs.
    fn record(&mut self, index: LogIndex, seen: SeenEntry) -> Result<(), SeenEntry> {
        let position = (index.0 - 1) as usize;
        let before = match self.first.get(position) {
            None => {
                assert_eq!(position, self.first.len(), "logs have no gaps");
                self.first.push(seen);
                return Ok(());
            }
            Some(first) if first.entry.term == seen.entry.term => *first,
            Some(_) => match self.others.entry((index, seen.entry.term)) {
                MapEntry::Vacant(vacant) => {
                    vacant.insert(seen);
                    return Ok(());
                }
                MapEntry::Occupied(occupied) => *occupied.get(),
            },
        };
        if before == seen {
            Ok(())
        } else {
            Err(before)
        }
    }
}

/// The checker of Raft's five safety invariants (Figure 3).
#[derive(Clone, Debug, Default)]
pub struct RaftInvariants {
    leaders: BTreeMap<Term, NodeId>,
    /// Every (index, term) pair seen in any log.
    entries: SeenEntries,
    /// `applied[i]` is the entry first applied at index `i + 1`.
    applied: Vec<AppliedEntry>,
    /// `committed[i]` is the entry first known committed at index `i + 1`.
    committed: Vec<CommittedEntry>,
    /// For each term, the highest index committed in that term.
    committed_in_term: BTreeMap<Term, LogIndex>,
    /// The last leader election safety confirmed: a leader stays leader for many events, and
    /// a term's leader, once recorded, never changes.
    last_leader: Option<(Term, NodeId)>,
    /// For the term leader completeness was last checked in, the highest index committed in
    /// any earlier term. A commit recorded in an earlier term drops it, so it stays exact.
    earlier_committed: Option<(Term, Option<LogIndex>)>,
    nodes: Vec<NodeWatch>,
}

impl RaftInvariants {
    /// A checker that has seen nothing yet.
    pub fn new() -> RaftInvariants {
        RaftInvariants::default()
    }

    fn check_election_safety<M: StateMachine>(&mut self, raft: &Raft<M>) -> Result<(), Violation> {
        if !raft.is_leader() {
            return Ok(());
        }
        let leader = (raft.current_term(), raft.id());
        if self.last_leader == Some(leader) {
            return Ok(());
        }
        match self.leaders.entry(raft.current_term()) {
            MapEntry::Vacant(vacant) => {
                vacant.insert(raft.id());
                self.last_leader = Some(leader);
                Ok(())
            }
            MapEntry::Occupied(occupied) if *occupied.get() == raft.id() => {
                self.last_leader = Some(leader);
                Ok(())
            }
            MapEntry::Occupied(occupied) => Err(Violation::new(
                "election-safety",
                format!(
                    "{} and {} are both leaders of {}",
                    occupied.get(),
                    raft.id(),
                    raft.current_term()
                ),
            )),
        }
    }

    fn check_log_matching<M: StateMachine>(&mut self, raft: &Raft<M>) -> Result<(), Violation> {
        let watch = &mut self.nodes[raft.id().index()];
        let log = raft.log();
        let truncation_count = log.truncation_count();
        if truncation_count < watch.truncation_count
            || (truncation_count == watch.truncation_count
                && log.last_index() < watch.verified_index)
        {
            // A restarted node whose crash this checker did not see: check its log afresh.
            watch.verified_index = LogIndex::ZERO;
            watch.truncation_count = 0;
        }
        if truncation_count > watch.truncation_count {
            // One handler truncates at most once; if more happened, recheck the whole log.
            watch.verified_index = if truncation_count == watch.truncation_count + 1 {
                watch.verified_index.min(log.last_truncation().previous())
            } else {
                LogIndex::ZERO
            };
            watch.truncation_count = truncation_count;
        }
        // Entries a snapshot covers were checked before they were discarded (a node that
        // installed a snapshot has its state, not its entries).
        let mut index = watch.verified_index.next().max(log.snapshot_index().next());
        while let Some(entry) = log.entry(index) {
            let seen = SeenEntry {
                entry: EntryId::of(entry),
                prev_term: log.term_at(index.previous()).expect("a log has no gaps"),
            };
            if let Err(before) = self.entries.record(index, seen) {
                return Err(Violation::new(
                    "log-matching",
                    format!(
                        "{} holds at {index} {} after an entry of {}; another log held there {} \
                         after an entry of {}",
                        raft.id(),
                        seen.entry,
                        seen.prev_term,
                        before.entry,
                        before.prev_term
                    ),
                ));
            }
            index = index.next();
        }
        watch.verified_index = log.last_index();
        Ok(())
    }

    fn check_state_machine_safety<M: StateMachine>(
        &mut self,
        raft: &Raft<M>,
    ) -> Result<(), Violation> {
        let watch = &mut self.nodes[raft.id().index()];
        if raft.last_applied() < watch.applied_checked {
            // Restarted: it applies its log again from the start, and is checked again.
            watch.applied_checked = LogIndex::ZERO;
        }
        let mut index = watch.applied_checked.next();
        while index <= raft.last_applied() {
            if index <= raft.log().snapshot_index() {
                // Applied through a snapshot (dissertation ch. 5): the state of entries that
                // nodes applied one by one and this checker judged then.
                index = raft.log().snapshot_index().next();
                continue;
            }
            let Some(entry) = raft.log().entry(index) else {
                // Only a broken protocol erases what it applied: the entry at `index` may be
                // replaced by another, and the state machine no longer matches the log.
                return Err(Violation::new(
                    "state-machine-safety",
                    format!(
                        "{} applied up to {} but its log now ends at {}",
                        raft.id(),
                        raft.last_applied(),
                        raft.log().last_index()
                    ),
                ));
            };
            let entry = EntryId::of(entry);
            let position = (index.0 - 1) as usize;
            match self.applied.get(position) {
                Some(first) if first.entry != entry => {
                    return Err(Violation::new(
                        "state-machine-safety",
                        format!(
                            "{} applied at {index} {entry}; {} applied there {}",
                            raft.id(),
                            first.node,
                            first.entry
                        ),
                    ));
                }
                Some(_) => {}
                None => {
                    assert_eq!(position, self.applied.len(), "entries are applied in order");
                    self.applied.push(AppliedEntry {
                        entry,
                        node: raft.id(),
                    });
                    self.record_committed(index, entry, raft, true);
                }
            }
            index = index.next();
        }
        self.nodes[raft.id().index()].applied_checked = raft.last_applied();
        Ok(())
    }

    /// Records that `raft` knows `entry` at `index` committed, if no node knew before.
    fn record_committed<M: StateMachine>(
        &mut self,
        index: LogIndex,
        entry: EntryId,
        raft: &Raft<M>,
        by_applying: bool,
    ) {
        let position = (index.0 - 1) as usize;
        if position < self.committed.len() {
            return;
        }
        // Commit indexes and applied prefixes only grow by whole prefixes, and every index
        // before this one was recorded when a node's prefix first covered it.
        assert_eq!(position, self.committed.len(), "entries commit in order");
        let term = raft.current_term();
        self.committed.push(CommittedEntry {
            entry,
            node: raft.id(),
            term,
            by_applying,
        });
        let highest = self.committed_in_term.entry(term).or_insert(index);
        *highest = (*highest).max(index);
        if self
            .earlier_committed
            .is_some_and(|(checked, _)| term < checked)
        {
            self.earlier_committed = None;
        }
    }

    /// Records the entries `raft`'s commit index covers that no node knew committed before.
    fn record_commit_index<M: StateMachine>(&mut self, raft: &Raft<M>) {
        let watch = &mut self.nodes[raft.id().index()];
        let commit_index = raft.commit_index().min(raft.log().last_index());
        if commit_index < watch.committed_checked {
            // Restarted: it learns its commit index again.
            watch.committed_checked = LogIndex::ZERO;
        }
        let first = watch.committed_checked.next();
        watch.committed_checked = commit_index;
        let known = LogIndex(self.committed.len() as u64);
        let mut index = first
            .max(known.next())
            .max(raft.log().snapshot_index().next());
        while index <= commit_index {
            let entry = EntryId::of(raft.log().entry(index).expect("within the log"));
            self.record_committed(index, entry, raft, false);
            index = index.next();
        }
    }

    /// Figure 3, Leader Append-Only: a leader never overwrites or deletes entries in its log; it
    /// only appends new entries (Raft §5.3).
    fn check_leader_append_only<M: StateMachine>(
        &mut self,
        raft: &Raft<M>,
    ) -> Result<(), Violation> {
        let watch = &mut self.nodes[raft.id().index()];
        if !raft.is_leader() {
            watch.leading = None;
            return Ok(());
        }
        let log = raft.log();
        let now = LeaderWatch {
            term: raft.current_term(),
            last_index: log.last_index(),
            last_entry: log.entry(log.last_index()).map(EntryId::of),
            truncation_count: log.truncation_count(),
        };
        let before = watch.leading.replace(now);
        let Some(before) = before.filter(|before| before.term == now.term) else {
            return Ok(());
        };
        if before.last_index <= log.snapshot_index()
            && now.truncation_count == before.truncation_count
        {
            // Compacted into a snapshot (dissertation ch. 5), not deleted.
            return Ok(());
        }
        let held = log.entry(before.last_index).map(EntryId::of);
        if now.truncation_count == before.truncation_count && held == before.last_entry {
            return Ok(());
        }
        let held = held.map_or_else(|| "nothing".to_string(), |entry| entry.to_string());
        let had = before
            .last_entry
            .map_or_else(|| "nothing".to_string(), |entry| entry.to_string());
        Err(Violation::new(
            "leader-append-only",
            format!(
                "{} leads {} and held {had} at {}; its log now holds {held} there and ends at {}",
                raft.id(),
                now.term,
                before.last_index,
                now.last_index
            ),
        ))
    }

    /// Dissertation §4.1, single-server changes: each configuration entry a leader appends
    /// differs from the configuration before it by one server, and it appends one only when no
    /// other configuration entry of its term is uncommitted. Only entries appended since the
    /// last look are examined.
    fn check_single_server_change<M: StateMachine>(
        &mut self,
        raft: &Raft<M>,
    ) -> Result<(), Violation> {
        let watch = &mut self.nodes[raft.id().index()];
        if !raft.is_leader() {
            watch.changes = None;
            return Ok(());
        }
        let term = raft.current_term();
        let log = raft.log();
        let changes = match &mut watch.changes {
            Some(changes) if changes.term == term && changes.examined <= log.last_index() => {
                changes
            }
            // Leading anew (or a log that shrank, which leader-append-only judges): from here.
            changes => changes.insert(ChangeWatch {
                term,
                examined: log.last_index(),
                configuration: raft.configuration(),
                uncommitted: Vec::new(),
            }),
        };
        let mut index = changes.examined.next().max(log.snapshot_index().next());
        while let Some(entry) = log.entry(index) {
            if let (Command::Configuration(next), true) = (&entry.command, entry.term == term) {
                let before = changes.configuration;
                if before.distance(*next) > 1 {
                    return Err(Violation::new(
                        "single-server-change",
                        format!(
                            "{} leads {term} and changed the configuration from {before} to \
                             {next} at {index}: more than one server at a time",
                            raft.id()
                        ),
                    ));
                }
                changes.configuration = *next;
                changes.uncommitted.push(index);
            }
            index = index.next();
        }
        changes.examined = log.last_index();
        let commit_index = raft.commit_index();
        changes.uncommitted.retain(|index| *index > commit_index);
        if let [first, second, ..] = changes.uncommitted[..] {
            return Err(Violation::new(
                "single-server-change",
                format!(
                    "{} leads {term} with configuration entries at {first} and {second} both \
                     uncommitted (commit index {commit_index}): a change began before the last \
                     one committed",
                    raft.id()
                ),
            ));
        }
        Ok(())
    }

    fn check_leader_completeness<M: StateMachine>(
        &mut self,
        raft: &Raft<M>,
    ) -> Result<(), Violation> {
        if !raft.is_leader() {
            return Ok(());
        }
        let term = raft.current_term();
        let committed = match self.earlier_committed {
            Some((checked, committed)) if checked == term => committed,
            _ => {
                let committed = (self.committed_in_term.range(..term))
                    .map(|(_, index)| *index)
                    .max();
                self.earlier_committed = Some((term, committed));
                committed
            }
        };
        let Some(index) = committed else {
            return Ok(());
        };
        if index <= raft.log().snapshot_index() {
            // The leader's snapshot covers it: its state machine applied it (state-machine
            // safety judged the entry when it was applied).
            return Ok(());
        }
        let expected = self.committed[(index.0 - 1) as usize];
        let held = raft.log().entry(index).map(EntryId::of);
        if held == Some(expected.entry) {
            return Ok(());
        }
        let held = held.map_or_else(|| "nothing".to_string(), |entry| entry.to_string());
        let how = if expected.by_applying {
            "applied"
        } else {
            "committed"
        };
        Err(Violation::new(
            "leader-completeness",
            format!(
                "{} leads {term} but holds at {index} {held}, not {}, which {} {how} in {}",
                raft.id(),
                expected.entry,
                expected.node,
                expected.term
            ),
        ))
    }
}

impl<M: StateMachine> Invariants<Raft<M>> for RaftInvariants {
    fn after_event(
        &mut self,
        _time: SimTime,
        touched: Option<NodeId>,
        nodes: &[Option<Raft<M>>],
    ) -> Result<(), Violation> {
        if self.nodes.len() < nodes.len() {
            self.nodes.resize(nodes.len(), NodeWatch::default());
        }
        let Some(touched) = touched else {
            return Ok(());
        };
        let Some(raft) = &nodes[touched.index()] else {
            // Crashed: its volatile state is gone; it is examined afresh after the restart.
            self.nodes[touched.index()] = NodeWatch::default();
            return Ok(());
        };
        self.check_election_safety(raft)?;
        self.check_leader_append_only(raft)?;
        self.check_log_matching(raft)?;
        self.record_commit_index(raft);
        self.check_state_machine_safety(raft)?;
        self.check_single_server_change(raft)?;
        self.check_leader_completeness(raft)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::messages::{AppendEntries, Message, RequestVoteReply};
    use crate::raft::{Options, Timer};
    use sim::invariants::Invariants;
    use sim::protocol::{ClientId, Context, NodeConfig, Protocol, RequestId};
    use sim::service::Request;
    use sim::workload::register::{Operation, Registers};

    type Node = Raft<Registers>;

    fn context(id: u32) -> Context<Node> {
        Context::new(NodeId(id), 3, SimTime::ZERO)
    }

    fn start(id: u32) -> Node {
        let options = Options::default();
        let config = NodeConfig {
            id: NodeId(id),
            node_count: 3,
            options: &options,
            bug: None,
        };
        Node::start(&config, None, &mut context(id))
    }

    fn deliver(nodes: &mut [Option<Node>], to: u32, from: u32, message: Message) {
        let node = nodes[to as usize].as_mut().expect("running");
        node.on_message(&mut context(to), NodeId(from), message);
    }

    #[test]
    fn a_commit_recorded_in_an_earlier_term_reaches_a_later_leaders_check() {
        // Node 0 leads term 2 and is checked: nothing was committed before term 2. Then node 1,
        // still in term 1, learns from node 2 (a term-1 leader) that index 1 is committed, with
        // an entry node 0 does not hold. Node 0's next check must see that commit: a checker
        // that kept its answer for term 2 would miss the leader-completeness violation.
        let mut checker = RaftInvariants::new();
        let mut nodes: Vec<Option<Node>> = (0..3).map(|id| Some(start(id))).collect();
        let heartbeat = AppendEntries {
            term: Term(1),
            prev_log_index: LogIndex::ZERO,
            prev_log_term: Term(0),
            entries: Vec::new(),
            leader_commit: LogIndex::ZERO,
        };
        deliver(&mut nodes, 0, 2, Message::AppendEntries(heartbeat));
        // The heartbeat restarted the election timeout: its first ring re-arms it, the next one
        // (long after) starts an election.
        let node = nodes[0].as_mut().expect("running");
        for seconds in [10, 20] {
            let later = SimTime::ZERO + sim::time::SimDuration::from_millis(seconds * 1_000);
            node.on_timer(&mut Context::new(NodeId(0), 3, later), Timer::Election);
        }
        let vote = RequestVoteReply {
            term: Term(2),
            vote_granted: true,
        };
        deliver(&mut nodes, 0, 1, Message::RequestVoteReply(vote));
        let leader = nodes[0].as_ref().expect("running");
        assert!(leader.is_leader() && leader.current_term() == Term(2));
        let now = SimTime::ZERO;
        assert_eq!(checker.after_event(now, Some(NodeId(0)), &nodes), Ok(()));

        let entry = Entry {
            term: Term(1),
            command: Command::Client(Request {
                id: RequestId(99),
                client: ClientId(0),
                operation: Operation::Write { key: 0, value: 1 },
            }),
        };
        let append = AppendEntries {
            term: Term(1),
            prev_log_index: LogIndex::ZERO,
            prev_log_term: Term(0),
            entries: vec![entry],
            leader_commit: LogIndex(1),
        };
        deliver(&mut nodes, 1, 2, Message::AppendEntries(append));
        let follower = nodes[1].as_ref().expect("running");
        assert_eq!(follower.commit_index(), LogIndex(1));
        assert_eq!(follower.current_term(), Term(1));
        assert_eq!(checker.after_event(now, Some(NodeId(1)), &nodes), Ok(()));

        let violation = checker
            .after_event(now, Some(NodeId(0)), &nodes)
            .expect_err("node 0 leads term 2 without the entry committed at index 1 in term 1");
        assert_eq!(violation.property, "leader-completeness");
    }
}
