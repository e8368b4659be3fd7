//! Membership changes (Ongaro's dissertation ch. 4): one server at a time.
//!
//! - **§4.1, single-server changes.** A configuration is a log entry. A server uses the latest
//!   configuration in its log, committed or not: it takes effect when appended, and a
//!   configuration entry a conflict truncates reverts the server to the one before it. A leader
//!   appends a new configuration only once the previous one is committed (one change at a
//!   time), so the majorities of consecutive configurations overlap; and only once it has
//!   committed an entry of its own term — the correction Ongaro published on the raft-dev list
//!   in 2015 ("bug in single-server membership changes"): without it, a leader elected in the
//!   old configuration may append a change while a change of an earlier leader, uncommitted
//!   and invisible to it, is in some logs, and two leaders can be elected by disjoint
//!   majorities of the two configurations.
//! - **§4.2.1, catching up.** A new server starts with an empty log. Before it counts, the
//!   leader replicates to it as a non-voting learner, in rounds: each round sends what the
//!   leader's log held when the round began; once a round takes less than the minimum election
//!   timeout the server is caught up and the configuration entry adding it is appended. After
//!   `CATCH_UP_ROUNDS_MAX` rounds, or a round that does not finish within
//!   `CATCH_UP_ROUND_TIMEOUTS` maximum election timeouts (the server is down or too slow), the
//!   leader abandons the catch-up and does waiting removals first.
//! - **§4.2.2, removing the leader.** A leader whose new configuration excludes it keeps
//!   leading — replicating and committing without counting itself — until that configuration
//!   is committed, then steps down. A server outside its configuration never campaigns.
//! - **§4.2.3, disruptive servers.** A removed server no longer hears the leader and times out;
//!   with check-quorum, servers that heard from a leader within the minimum election timeout
//!   ignore its `RequestVote` (see `election.rs`).
//!
//! Changes come from the scenario (`add-server`, `remove-server`) to every live server, which
//! remembers the configuration it was asked to reach; whoever leads moves there, additions
//! first. A removal never leaves fewer than `CONFIGURATION_LEN_MIN` voters (two): see its
//! comment.

use super::{Raft, RoleState};
use crate::raft::bugs::Bug;
use crate::raft::configuration::Configuration;
use crate::raft::durable::Update;
use crate::raft::log::{Entry, LogIndex};
use crate::raft::state_machine::Command;
use sim::protocol::{Context, NodeId};
use sim::service::StateMachine;
use sim::time::SimTime;

/// The most catch-up rounds before a leader gives up on a new server (dissertation §4.2.1
/// suggests a fixed number, such as 10).
pub(super) const CATCH_UP_ROUNDS_MAX: u32 = 10;

/// How many maximum election timeouts one catch-up round may last before the leader gives up
/// (the new server is down, or cannot keep up).
pub(super) const CATCH_UP_ROUND_TIMEOUTS: u64 = 4;

/// The fewest voters a removal leaves. A leader that is the only voter commits an entry by
/// counting its own log alone, and the protocol contract says nothing about when its write is
/// durable: a crash that loses unsynced writes would erase a committed entry. With two voters,
/// the other's acknowledgement proves the leader's copy durable (the engine holds a message
/// until the writes before it are). A cluster started with one voter keeps that limitation.
pub(super) const CONFIGURATION_LEN_MIN: usize = 2;

/// A server a leader is catching up before adding it (dissertation §4.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct CatchUp {
    /// The new server.
    node: NodeId,
    /// The round, from 1.
    round: u32,
    /// The leader's last index when the round began: the round ends when the server holds it.
    round_end: LogIndex,
    /// Local time the round began.
    round_started: SimTime,
    /// Whether a round finished within the minimum election timeout.
    caught_up: bool,
}

/// Membership changes (dissertation ch. 4).
impl<M: StateMachine> Raft<M> {
    /// Dissertation §4.1: the configuration in force is the latest in the log, or the one the
    /// snapshot carries, or the initial one.
    pub(super) fn refresh_configuration(&mut self) {
        let (configuration, index) = self.configuration_at(self.log.last_index());
        self.configuration = configuration;
        self.configuration_index = index;
    }

    /// The latest configuration at or before `index`, with the index of its entry.
    pub(super) fn configuration_at(&self, index: LogIndex) -> (Configuration, LogIndex) {
        let mut at = index.min(self.log.last_index());
        while at > self.log.snapshot_index() {
            if let Some(Entry {
                command: Command::Configuration(configuration),
                ..
            }) = self.log.entry(at)
            {
                return (*configuration, at);
            }
            at = at.previous();
        }
        let base = self
            .snapshot
            .as_ref()
            .map_or(self.initial_configuration, |snapshot| {
                snapshot.configuration
            });
        (base, self.log.snapshot_index())
    }

    /// The log changed from `first` on (entries replaced or appended): a configuration entry
    /// among them takes effect; one that was cut reverts to the one before it (§4.1).
    pub(super) fn configuration_changed_from(&mut self, first: LogIndex) {
        if self.configuration_index >= first {
            self.refresh_configuration();
            return;
        }
        let mut index = first;
        while let Some(entry) = self.log.entry(index) {
            if let Command::Configuration(configuration) = entry.command {
                self.configuration = configuration;
                self.configuration_index = index;
            }
            index = index.next();
        }
    }

    /// The servers a leader replicates to: the other voters, and the server it is catching up.
    pub(super) fn replication_targets(&self) -> impl Iterator<Item = NodeId> {
        let mut targets = self.configuration;
        if let RoleState::Leader(leader) = &self.role {
            if let Some(catch_up) = &leader.catch_up {
                targets = targets.with(catch_up.node);
            }
        }
        targets.without(self.id).members()
    }

    /// Moves the cluster one step towards the configuration this leader was asked to reach, if
    /// the rules let it now.
    pub(super) fn maybe_change_configuration(&mut self, context: &mut Context<Self>) {
        let RoleState::Leader(leader) = &self.role else {
            return;
        };
        // §4.1: one change at a time. The bug starts the next while the last is uncommitted.
        if self.configuration_index > self.commit_index && self.bug != Some(Bug::TwoChangesAtOnce) {
            return;
        }
        // The 2015 correction: first commit an entry of this leader's own term.
        if self.log.term_at(self.commit_index) != Some(self.current_term) {
            return;
        }
        let additions = self.wanted.minus(self.configuration);
        let removals = self.configuration.minus(self.wanted);
        let catching_up = leader.catch_up.as_deref().copied();
        let removals_first = leader.addition_abandoned && !removals.is_empty();
        match additions.lowest().filter(|_| !removals_first) {
            // A leader outside its configuration asked to return holds the whole log already.
            Some(node) if node == self.id => {
                self.append_configuration(context, self.configuration.with(node));
            }
            Some(node) => match catching_up {
                Some(catch_up) if catch_up.node == node && catch_up.caught_up => {
                    self.set_catch_up(None);
                    self.append_configuration(context, self.configuration.with(node));
                }
                Some(catch_up) if catch_up.node == node => {}
                _ => self.start_catch_up(context, node),
            },
            None => {
                if catching_up.is_some() {
                    self.set_catch_up(None);
                }
                let Some(node) = removals.lowest() else {
                    return;
                };
                // The last two servers stay: a lone leader commits by counting its own log,
                // which a crash may lose while unsynced (see the module essay, "Persistence").
                let next = self.configuration.without(node);
                if next.len() >= CONFIGURATION_LEN_MIN {
                    self.append_configuration(context, next);
                }
            }
        }
    }

    fn set_catch_up(&mut self, catch_up: Option<CatchUp>) {
        if let RoleState::Leader(leader) = &mut self.role {
            leader.catch_up = catch_up.map(Box::new);
        }
    }

    /// §4.2.1: replicate to `node` as a learner, from the first round.
    fn start_catch_up(&mut self, context: &mut Context<Self>, node: NodeId) {
        let last_index = self.log.last_index();
        let RoleState::Leader(leader) = &mut self.role else {
            return;
        };
        leader.catch_up = Some(Box::new(CatchUp {
            node,
            round: 1,
            round_end: last_index,
            round_started: context.now(),
            caught_up: false,
        }));
        leader.next_index[node.index()] = last_index.next();
        leader.match_index[node.index()] = LogIndex::ZERO;
        leader.in_flight[node.index()] = 0;
        self.send_append_entries(context, node);
    }

    /// §4.2.1: after a reply from the learner, or at a heartbeat: ends the round if it holds the
    /// round's entries — caught up if the round was shorter than the minimum election timeout,
    /// a next round otherwise — or abandons the catch-up after too many or too long rounds.
    pub(super) fn advance_catch_up(&mut self, context: &mut Context<Self>) {
        let now = context.now();
        let last_index = self.log.last_index();
        let timeout_min = self.options.election_timeout_min;
        let round_timeout =
            (self.options.election_timeout_max.0).saturating_mul(CATCH_UP_ROUND_TIMEOUTS);
        let RoleState::Leader(leader) = &mut self.role else {
            return;
        };
        let Some(catch_up) = leader.catch_up.as_deref_mut() else {
            return;
        };
        if catch_up.caught_up {
            return;
        }
        let elapsed = now.saturating_since(catch_up.round_started);
        let abandon = if leader.match_index[catch_up.node.index()] >= catch_up.round_end {
            if elapsed < timeout_min {
                catch_up.caught_up = true;
                self.maybe_change_configuration(context);
                return;
            }
            catch_up.round += 1;
            catch_up.round_end = last_index;
            catch_up.round_started = now;
            catch_up.round > CATCH_UP_ROUNDS_MAX
        } else {
            elapsed.0 > round_timeout
        };
        if abandon {
            leader.catch_up = None;
            leader.addition_abandoned = true;
            self.maybe_change_configuration(context);
        }
    }

    /// §4.1: appends `next` as a configuration entry; it takes effect at once.
    fn append_configuration(&mut self, context: &mut Context<Self>, next: Configuration) {
        assert!(self.is_leader(), "only leaders change the configuration");
        assert!(!next.is_empty(), "a configuration of nobody");
        assert!(
            next.distance(self.configuration) == 1,
            "dissertation §4.1: one server at a time ({} to {next})",
            self.configuration
        );
        let entry = Entry {
            term: self.current_term,
            command: Command::Configuration(next),
        };
        let index = self.log.append(entry.clone());
        context.persist(Update::Append {
            first: index,
            entries: vec![entry],
        });
        self.configuration = next;
        self.configuration_index = index;
        if let RoleState::Leader(leader) = &mut self.role {
            leader.addition_abandoned = false;
        }
        self.replicate(context);
        self.maybe_commit(context);
    }

    /// After the leader's commit index moved: §4.2.2, a leader outside its committed
    /// configuration steps down; otherwise the next change may begin.
    pub(super) fn after_leader_commit(&mut self, context: &mut Context<Self>) {
        if !self.is_leader() {
            return;
        }
        if self.configuration_index <= self.commit_index && !self.configuration.contains(self.id) {
            let term = self.current_term;
            self.become_follower(context, term, None);
            return;
        }
        self.maybe_change_configuration(context);
    }
}
