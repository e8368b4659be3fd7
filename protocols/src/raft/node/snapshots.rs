//! Log compaction (Ongaro's dissertation ch. 5): snapshots of the state machine, and
//! `InstallSnapshot` for followers that need entries the leader has discarded.
//!
//! With `snapshot_entries_max = n` (0, the default, turns compaction off), once `n` applied
//! entries are in a node's log it snapshots its state machine — with the client session table
//! (§8): without it, a request retried after the snapshot was installed would run twice (the
//! `snapshot-without-sessions` bug) — at `lastApplied`, writes the snapshot to disk and discards
//! the entries it covers (§5.1). A restarted node loads its snapshot and the entries after it; its
//! commit index and `lastApplied` start at the snapshot's last index. A leader whose `nextIndex`
//! for a follower falls inside its snapshot sends the snapshot whole (§5.3; no chunks); the
//! follower keeps the entries after it if its log holds the snapshot's last entry, discards its
//! whole log otherwise (Figure 5.3, rules 6 and 7), loads the state and answers as to an
//! `AppendEntries` that matched up to the snapshot's last index.

use super::{Raft, RoleState};
use crate::raft::bugs::Bug;
use crate::raft::durable::{Snapshot, SnapshotState, Update};
use crate::raft::log::LogIndex;
use crate::raft::messages::{AppendEntries, InstallSnapshot, Message};
use sim::protocol::{Context, NodeId};
use sim::service::{MachineOperation, Sessions, StateMachine};
use std::rc::Rc;

/// Log compaction (dissertation ch. 5).
impl<M: StateMachine> Raft<M> {
    /// The state machine a snapshot holds.
    pub(super) fn snapshot_state(snapshot: &Snapshot) -> Sessions<M> {
        snapshot
            .state
            .0
            .downcast_ref::<Sessions<M>>()
            .expect("a snapshot of this node's state machine")
            .clone()
    }

    /// Dissertation §5.1: once `snapshot_entries_max` applied entries are in the log, snapshot
    /// the state machine at `lastApplied`, persist it and discard the entries it covers. Called
    /// as a handler starts, as a background task would: what the previous handlers applied is
    /// snapshotted, never an entry applied in the same step (the invariant checker, which looks
    /// after each step, has seen every entry before it is discarded).
    pub(super) fn maybe_snapshot(&mut self, context: &mut Context<Self>) {
        let threshold = self.options.snapshot_entries_max as u64;
        if threshold == 0 || self.last_applied.0 - self.log.snapshot_index().0 < threshold {
            return;
        }
        let index = self.last_applied;
        let term = self
            .log
            .term_at(index)
            .expect("applied entries are in the log");
        // Bug (§5.1 with §8): the snapshot forgets which requests each client already ran.
        let state = if self.bug == Some(Bug::SnapshotWithoutSessions) {
            self.kv.without_sessions()
        } else {
            self.kv.clone()
        };
        // Dissertation §5.1: the snapshot carries the latest configuration of the entries it
        // covers, which the log no longer holds.
        let (configuration, _) = self.configuration_at(index);
        let snapshot = Snapshot {
            last_index: index,
            last_term: term,
            state: SnapshotState(Rc::new(state)),
            configuration,
        };
        self.log.compact_through(index, term);
        context.persist(Update::Snapshot {
            snapshot: snapshot.clone(),
            retain_log: true,
        });
        self.snapshot = Some(snapshot);
    }

    /// Dissertation §5.3: the follower needs entries the leader has discarded; send the
    /// snapshot instead.
    pub(super) fn send_install_snapshot(&mut self, context: &mut Context<Self>, peer: NodeId) {
        let snapshot = self
            .snapshot
            .clone()
            .expect("a log with a snapshot index has a snapshot");
        let RoleState::Leader(leader) = &mut self.role else {
            unreachable!("only leaders send snapshots");
        };
        leader.next_index[peer.index()] = snapshot.last_index.next();
        leader.in_flight[peer.index()] += 1;
        let message = InstallSnapshot {
            term: self.current_term,
            snapshot,
        };
        context.send(peer, Message::InstallSnapshot(message));
    }

    /// Dissertation §5.3 and Figure 5.3: a follower installs the leader's snapshot.
    pub(super) fn handle_install_snapshot(
        &mut self,
        context: &mut Context<Self>,
        source: NodeId,
        message: InstallSnapshot,
    ) {
        // Rule 1: reply immediately if term < currentTerm.
        if message.term < self.current_term {
            self.reply_append_entries(context, source, false, LogIndex::ZERO);
            return;
        }
        self.heard_from_leader(context, message.term, source);
        let snapshot = message.snapshot;
        let last_index = snapshot.last_index;
        // A snapshot of entries this node already knows committed brings nothing new: its own
        // log matches the leader's up to its commit index.
        if last_index > self.commit_index {
            // Rules 6 and 7: keep the entries after the snapshot when the log holds its last
            // entry; otherwise discard the whole log.
            let retain_log = self.log.term_at(last_index) == Some(snapshot.last_term);
            if retain_log {
                self.log.compact_through(last_index, snapshot.last_term);
            } else {
                self.log.reset_to_snapshot(last_index, snapshot.last_term);
            }
            // Rule 8: reset the state machine from the snapshot.
            self.kv = Self::snapshot_state(&snapshot);
            self.commit_index = last_index;
            self.last_applied = last_index;
            context.persist(Update::Snapshot {
                snapshot: snapshot.clone(),
                retain_log,
            });
            self.snapshot = Some(snapshot);
            // Dissertation §4.1 with §5.1: the latest configuration in the log that remains,
            // or the snapshot's.
            self.refresh_configuration();
        }
        self.reply_append_entries(context, source, true, last_index);
    }

    /// An `AppendEntries` whose first entries a snapshot of this follower covers: those are
    /// committed, so they match the leader's; the request is cut to start at the snapshot's last
    /// entry. Returns `None` when the snapshot covers everything it carries.
    pub(super) fn skip_snapshotted_entries(
        &self,
        mut message: AppendEntries<MachineOperation<M>>,
    ) -> Option<AppendEntries<MachineOperation<M>>> {
        let snapshot_index = self.log.snapshot_index();
        if message.prev_log_index >= snapshot_index {
            return Some(message);
        }
        let covered = (snapshot_index.0 - message.prev_log_index.0) as usize;
        if covered >= message.entries.len() {
            return None;
        }
        message.entries.drain(..covered);
        message.prev_log_index = snapshot_index;
        message.prev_log_term = self.log.snapshot_term();
        Some(message)
    }
}
