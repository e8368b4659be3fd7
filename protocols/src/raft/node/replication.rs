//! Log replication with `AppendEntries` (Raft §5.3), the commit rule (Raft §5.4.2), applying
//! committed entries to the state machine, and check-quorum.

use super::{PendingRequest, Raft, RoleState, Timer, NODE_COUNT_MAX};
use crate::raft::bugs::Bug;
use crate::raft::durable::Update;
use crate::raft::log::{Entry, LogIndex};
use crate::raft::messages::{AppendEntries, AppendEntriesReply, Message};
use crate::raft::state_machine::Command;
use sim::protocol::{Context, NodeId};
use sim::service::{Answer, MachineOperation, Request, Response, StateMachine};

/// Log replication (Raft §5.3) and the commit rule (Raft §5.4.2).
impl<M: StateMachine> Raft<M> {
    /// Sends every follower the entries it lacks, or an empty `AppendEntries` as a heartbeat
    /// (Raft §5.2: leaders send periodic heartbeats to maintain their authority). A heartbeat
    /// goes out whatever the pipelining window says, and opens the window again: whatever was
    /// in flight before it has been answered or lost.
    pub(super) fn broadcast_heartbeat(&mut self, context: &mut Context<Self>) {
        for peer in self.replication_targets() {
            if let RoleState::Leader(leader) = &mut self.role {
                leader.in_flight[peer.index()] = 0;
            }
            self.send_append_entries(context, peer);
        }
    }

    /// Dissertation §10.2.2, batching and pipelining: sends every follower the entries it lacks,
    /// but only to a follower with room in its window of `AppendEntries` in flight. The others
    /// get everything that accumulated meanwhile in one message, when a reply frees a slot or
    /// the next heartbeat goes out.
    pub(super) fn replicate(&mut self, context: &mut Context<Self>) {
        for peer in self.replication_targets() {
            self.send_append_entries_if_window_open(context, peer);
        }
    }

    /// Sends `peer` the entries it lacks when it lacks any and its window has room.
    fn send_append_entries_if_window_open(&mut self, context: &mut Context<Self>, peer: NodeId) {
        let last_index = self.log.last_index();
        let window = self.options.append_entries_in_flight_max;
        let RoleState::Leader(leader) = &self.role else {
            return;
        };
        if leader.next_index[peer.index()] <= last_index && leader.in_flight[peer.index()] < window
        {
            self.send_append_entries(context, peer);
        }
    }

    pub(super) fn send_append_entries(&mut self, context: &mut Context<Self>, peer: NodeId) {
        let RoleState::Leader(leader) = &self.role else {
            unreachable!("only leaders send AppendEntries");
        };
        let next_index = leader.next_index[peer.index()];
        if next_index <= self.log.snapshot_index() {
            // Dissertation §5.3: the entries it needs were discarded; send the snapshot.
            self.send_install_snapshot(context, peer);
            return;
        }
        let RoleState::Leader(leader) = &mut self.role else {
            unreachable!("only leaders send AppendEntries");
        };
        assert!(next_index > LogIndex::ZERO && next_index <= self.log.last_index().next());
        let prev_log_index = next_index.previous();
        let prev_log_term = self
            .log
            .term_at(prev_log_index)
            .expect("nextIndex is in the log");
        let entries = self
            .log
            .entries_from(next_index, self.options.entries_per_message_max)
            .to_vec();
        leader.next_index[peer.index()] = LogIndex(prev_log_index.0 + entries.len() as u64).next();
        leader.in_flight[peer.index()] += 1;
        let message = AppendEntries {
            term: self.current_term,
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit: self.commit_index,
        };
        context.send(peer, Message::AppendEntries(message));
    }

    pub(super) fn append_client_request(
        &mut self,
        context: &mut Context<Self>,
        request: Request<MachineOperation<M>>,
    ) {
        // Raft §8: a request the state machine already executed is answered from the session
        // table; one already in the log will be answered when it commits.
        let dedup = self.bug != Some(Bug::NoDedup);
        if let Some(answer) = self
            .kv
            .cached_answer(request.client, request.id)
            .filter(|_| dedup)
        {
            let response = Response {
                request: request.id,
                answer: answer.clone(),
            };
            context.reply(request.client, response);
            return;
        }
        let RoleState::Leader(leader) = &mut self.role else {
            unreachable!("only leaders append client requests");
        };
        if dedup
            && leader
                .pending
                .values()
                .any(|pending| pending.request == request.id)
        {
            return;
        }
        if leader.pending.len() >= self.options.pending_requests_max {
            // An outage, not a decision: the request did not run and may succeed later.
            let response = Response {
                request: request.id,
                answer: Answer::Unavailable("the leader has too many requests pending".into()),
            };
            context.reply(request.client, response);
            return;
        }
        // Raft §5.3: the leader appends the command to its log as a new entry, persists it,
        // then issues AppendEntries to replicate it.
        let pending = PendingRequest {
            request: request.id,
            client: request.client,
        };
        let entry = Entry {
            term: self.current_term,
            command: Command::Client(request),
        };
        let index = self.log.append(entry.clone());
        leader.pending.insert(index, pending);
        context.persist(Update::Append {
            first: index,
            entries: vec![entry],
        });
        self.replicate(context);
        // A cluster of one commits at once.
        self.maybe_commit(context);
        if self.bug == Some(Bug::ApplyUncommitted) {
            self.apply_committed(context);
        }
    }

    pub(super) fn handle_append_entries(
        &mut self,
        context: &mut Context<Self>,
        source: NodeId,
        message: AppendEntries<MachineOperation<M>>,
    ) {
        // Raft §5.1: a request from an earlier term is rejected, and the reply's term tells the
        // stale leader to step down. The bug accepts it (a leader still refuses).
        let stale = message.term < self.current_term;
        if stale && (self.bug != Some(Bug::AcceptStaleLeader) || self.is_leader()) {
            self.reply_append_entries(context, source, false, LogIndex::ZERO);
            return;
        }
        if !stale {
            self.heard_from_leader(context, message.term, source);
        }

        // Entries a snapshot of this follower covers are committed, and match the leader's.
        let message_end = message.prev_log_index.0 + message.entries.len() as u64;
        let Some(message) = self.skip_snapshotted_entries(message) else {
            let covered = LogIndex(message_end);
            self.reply_append_entries(context, source, true, covered);
            return;
        };
        // Raft §5.3 consistency check: the log must hold an entry at prevLogIndex whose term
        // matches prevLogTerm. If not, hint where the logs may still agree. The bug only asks
        // that the log reaches prevLogIndex.
        let consistent = if self.bug == Some(Bug::SkipPrevTermCheck) {
            self.log.last_index() >= message.prev_log_index
        } else {
            self.log.term_at(message.prev_log_index) == Some(message.prev_log_term)
        };
        if !consistent {
            let hint = self.log.last_index().min(message.prev_log_index.previous());
            self.reply_append_entries(context, source, false, hint);
            return;
        }
        // Figure 2: the entries are durable before the reply. The bug acknowledges first: the
        // engine holds a message only for writes pushed before it.
        let early_ack = self.bug == Some(Bug::AckBeforePersist);
        if early_ack {
            let covered = LogIndex(message.prev_log_index.0 + message.entries.len() as u64);
            self.reply_append_entries(context, source, true, covered);
        }
        let last_new_index = self.store_entries(context, message.prev_log_index, message.entries);
        // Figure 2, AppendEntries receiver rule 5: commitIndex = min(leaderCommit, index of the
        // last new entry). The bug takes leaderCommit as far as its own log reaches.
        if message.leader_commit > self.commit_index {
            let covered = if self.bug == Some(Bug::CommitNotCapped) {
                self.log.last_index()
            } else {
                last_new_index
            };
            let commit_index = message.leader_commit.min(covered);
            if commit_index > self.commit_index {
                self.commit_index = commit_index;
            }
        }
        if !early_ack {
            self.reply_append_entries(context, source, true, last_new_index);
        }
        self.apply_committed(context);
    }

    /// Raft §5.3: stores `entries` after `prev_log_index`, skipping those already present,
    /// deleting a conflicting entry and all that follow it, and persisting what changed.
    /// Returns the index of the last entry the request covered.
    pub(super) fn store_entries(
        &mut self,
        context: &mut Context<Self>,
        prev_log_index: LogIndex,
        entries: Vec<Entry<MachineOperation<M>>>,
    ) -> LogIndex {
        let last_new_index = LogIndex(prev_log_index.0 + entries.len() as u64);
        if self.bug == Some(Bug::TruncateOnAppend) {
            // Bug (Figure 2, receiver rule 3): everything after prevLogIndex is replaced, even
            // entries that match — a delayed request erases newer acknowledged entries.
            let first = prev_log_index.next();
            if first <= self.log.last_index() {
                self.log.truncate_from(first);
            } else if entries.is_empty() {
                return last_new_index;
            }
            for entry in &entries {
                self.log.append_unchecked(entry.clone());
            }
            context.persist(Update::Append { first, entries });
            self.configuration_changed_from(first);
            return last_new_index;
        }
        let index_of = |offset: usize| LogIndex(prev_log_index.0 + 1 + offset as u64);
        // An entry already present with the same term is the same entry (Log Matching, §5.3);
        // a retransmitted or duplicated request must not truncate what follows it.
        let first_new = entries
            .iter()
            .enumerate()
            .position(|(offset, entry)| self.log.term_at(index_of(offset)) != Some(entry.term));
        let Some(first_new) = first_new else {
            return last_new_index;
        };
        let first = index_of(first_new);
        let changed_from = first;
        if first <= self.log.last_index() {
            // A planted bug may overwrite committed entries: the invariants, not this
            // assertion, must catch it.
            assert!(
                first > self.commit_index || self.bug.is_some(),
                "Raft §5.4: committed entry {first} would be overwritten"
            );
            self.log.truncate_from(first);
        }
        let mut new_entries = entries;
        new_entries.drain(..first_new);
        for entry in &new_entries {
            if self.bug.is_some() {
                // A planted bug may break the log's own rules; the invariants judge it.
                self.log.append_unchecked(entry.clone());
            } else {
                self.log.append(entry.clone());
            }
        }
        context.persist(Update::Append {
            first,
            entries: new_entries,
        });
        // Dissertation §4.1: a configuration entry takes effect when it is in the log, and one
        // cut off reverts the server to the configuration before it.
        self.configuration_changed_from(changed_from);
        last_new_index
    }

    pub(super) fn reply_append_entries(
        &self,
        context: &mut Context<Self>,
        source: NodeId,
        success: bool,
        match_hint: LogIndex,
    ) {
        let reply = AppendEntriesReply {
            term: self.current_term,
            success,
            match_hint,
        };
        context.send(source, Message::AppendEntriesReply(reply));
    }

    pub(super) fn handle_append_entries_reply(
        &mut self,
        context: &mut Context<Self>,
        source: NodeId,
        message: AppendEntriesReply,
    ) {
        // Guards: a reply from an earlier term, or arriving after this node stepped down.
        if message.term < self.current_term {
            return;
        }
        let last_index = self.log.last_index();
        let RoleState::Leader(leader) = &mut self.role else {
            return;
        };
        let peer = source.index();
        leader.heard_from[peer] = true;
        // The reply frees a slot of the pipelining window (dissertation §10.2.2).
        leader.in_flight[peer] = leader.in_flight[peer].saturating_sub(1);
        if message.success {
            assert!(
                message.match_hint <= last_index,
                "a follower matched entries never sent"
            );
            // Replies may arrive late or twice: matchIndex only grows. The bug trusts the
            // optimistic nextIndex, which counts entries still in flight.
            let matched = if self.bug == Some(Bug::MatchFromNextIndex) {
                message.match_hint.max(leader.next_index[peer].previous())
            } else {
                message.match_hint
            };
            let advanced = matched > leader.match_index[peer];
            leader.match_index[peer] = leader.match_index[peer].max(matched);
            leader.next_index[peer] = leader.next_index[peer]
                .max(leader.match_index[peer].next())
                .min(last_index.next());
            // Only a matchIndex that moved past the commit index can commit anything new.
            if advanced && matched > self.commit_index {
                self.maybe_commit(context);
            }
        } else {
            // Raft §5.3: after a rejection the leader moves nextIndex back and retries; never
            // below what the follower is known to hold, and never forward on a stale reply.
            let retry_from = leader.next_index[peer].min(message.match_hint.next());
            leader.next_index[peer] = retry_from
                .max(leader.match_index[peer].next())
                .min(last_index.next());
        }
        // After a rejection, retry from the moved-back nextIndex; after a success, send what
        // accumulated meanwhile — either way within the window.
        self.send_append_entries_if_window_open(context, source);
        // Dissertation §4.2.1: a reply from a server being caught up may end its round.
        self.advance_catch_up(context);
    }

    /// Raft §5.3 and §5.4.2: advances the commit index to the highest index stored on a
    /// majority, if that entry is from the leader's current term. Returns whether it moved.
    pub(super) fn maybe_commit(&mut self, context: &mut Context<Self>) -> bool {
        let RoleState::Leader(leader) = &self.role else {
            return false;
        };
        // The highest index stored on a majority of the configuration in force (dissertation
        // §4.1): the quorum-th highest matchIndex of its voters, counting the leader's own log
        // only if it is one of them (§4.2.2). Sorted on the stack: this runs on every reply.
        let mut replicated = [LogIndex::ZERO; NODE_COUNT_MAX];
        let mut voter_count = 0;
        for voter in self.configuration.members() {
            replicated[voter_count] = if voter == self.id {
                self.log.last_index()
            } else {
                leader.match_index[voter.index()]
            };
            voter_count += 1;
        }
        let replicated = &mut replicated[..voter_count];
        replicated.sort_unstable_by(|a, b| b.cmp(a));
        // The bug counts n / 2 servers as a majority.
        let quorum = if self.bug == Some(Bug::QuorumOffByOne) {
            (voter_count / 2).max(1)
        } else {
            self.quorum()
        };
        let mut majority_index = replicated[quorum - 1];
        if self.bug.is_some() {
            // A planted bug's matchIndex may claim entries the log no longer has.
            majority_index = majority_index.min(self.log.last_index());
        }
        if majority_index <= self.commit_index {
            return false;
        }
        // Raft §5.4.2: only entries from the current term are committed by counting replicas;
        // earlier ones commit with them (Figure 8 shows why). The bug counts any entry.
        let term = self
            .log
            .term_at(majority_index)
            .expect("matched entries exist");
        if term != self.current_term && self.bug != Some(Bug::CommitPreviousTerm) {
            return false;
        }
        self.commit_index = majority_index;
        self.apply_committed(context);
        self.after_leader_commit(context);
        true
    }

    /// Figure 2: while commitIndex > lastApplied, apply the next entry to the state machine; a
    /// leader then answers the client that sent it.
    pub(super) fn apply_committed(&mut self, context: &mut Context<Self>) {
        assert!(
            self.commit_index <= self.log.last_index() || self.bug.is_some(),
            "commit past the log's end"
        );
        // Bug (Figure 2, lastApplied ≤ commitIndex): a leader applies whatever its log holds.
        let limit = if self.bug == Some(Bug::ApplyUncommitted) && self.is_leader() {
            self.log.last_index()
        } else {
            self.commit_index.min(self.log.last_index())
        };
        while self.last_applied < limit {
            let index = self.last_applied.next();
            let entry = self
                .log
                .entry(index)
                .expect("committed entries are in the log");
            self.last_applied = index;
            // A configuration entry took effect when it was appended (dissertation §4.1):
            // applying it changes no state.
            let Command::Client(request) = &entry.command else {
                continue;
            };
            let answer = if self.bug == Some(Bug::NoDedup) {
                // Bug (Raft §8): no session table, so a duplicate executes again.
                self.kv.apply_without_session(request)
            } else {
                self.kv.apply(request)
            };
            if let RoleState::Leader(leader) = &mut self.role {
                if let Some(pending) = leader.pending.remove(&index) {
                    assert_eq!(pending.request, request.id, "leader log changed");
                    let response = Response {
                        request: pending.request,
                        answer,
                    };
                    context.reply(pending.client, response);
                }
            }
        }
        // Dissertation §6.4 step 4: reads wait for the state machine to reach their read index.
        self.answer_reads(context);
    }

    /// Check-quorum: a leader that has not heard from a majority within an election timeout
    /// steps down, so clients stop waiting on it and try the other side of a partition.
    pub(super) fn check_quorum(&mut self, context: &mut Context<Self>) {
        let id = self.id;
        let RoleState::Leader(leader) = &self.role else {
            unreachable!("only leaders check their quorum");
        };
        // A majority of the configuration in force (dissertation §4.1); the leader counts only
        // if it is one of its voters (§4.2.2).
        let heard_from = &leader.heard_from;
        let heard = self.is_majority(|voter| voter == id || heard_from[voter.index()]);
        let RoleState::Leader(leader) = &mut self.role else {
            unreachable!("only leaders check their quorum");
        };
        if !heard {
            let term = self.current_term;
            self.become_follower(context, term, None);
            return;
        }
        leader
            .heard_from
            .iter_mut()
            .for_each(|heard| *heard = false);
        context.set_timer(Timer::CheckQuorum, self.options.election_timeout_max);
    }
}
