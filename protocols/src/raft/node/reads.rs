//! Reads without a log entry (Ongaro's dissertation §6.4): ReadIndex, and leases (§6.4.1).
//!
//! With `reads = "read-index"` a leader serves a read in four steps (§6.4):
//! 1. it must have committed an entry of its own term — until it has, its commit index may lag
//!    what an earlier leader committed, so the read goes through the log like a write (which
//!    commits such an entry at the same time);
//! 2. it records its commit index as the read's *read index*;
//! 3. it confirms it still leads with a round of `Heartbeat`s sent after the read arrived,
//!    answered by a majority (counting itself) — a deposed leader that does not know it yet
//!    never gets that majority;
//! 4. once its state machine has applied up to the read index, it answers from it.
//!
//! Reads that arrive while a round is outstanding wait for the next one, which leaves when the
//! outstanding round is confirmed or at the next heartbeat: many reads share a round.
//!
//! With `reads = "lease"` (§6.4.1) the leader also sends a round every heartbeat interval, and
//! a round sent at local time `t` and acknowledged by a majority extends its lease to
//! `t + election_timeout_min × (1 − b) / (1 + b)`, with `b` the clock drift bound
//! (`clock_drift_bound_ppm`). Within the lease it answers reads at once (steps 1, 2 and 4, no
//! round). This is safe because every server that acknowledged the round ignores `RequestVote`
//! for `election_timeout_min` of its own clock after receiving it (§4.2.3, and on restart), so
//! no other leader can be elected before the lease ends in true time — as long as no clock runs
//! faster or slower than the bound: measured from the send of the round (not the receipt of the
//! acknowledgement), the leader's lease is shorter than any follower's promise by the drift
//! allowance. Leases need check-quorum (the options check rejects them without it): a leader
//! cut off from a majority must stop believing it leads.

use super::{Raft, RoleState};
use crate::raft::bugs::Bug;
use crate::raft::messages::{Heartbeat, HeartbeatReply, Message};
use crate::raft::options::Reads;
use crate::raft::LogIndex;
use sim::protocol::{ClientId, Context, NodeId, RequestId};
use sim::service::{Answer, MachineOperation, Request, Response, StateMachine};
use sim::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

/// The most rounds whose send time a leader remembers; older ones can no longer extend a lease
/// that a later round has not extended further.
const ROUNDS_REMEMBERED_MAX: usize = 64;

/// One million: drift bounds are in parts per million.
const PPM: u128 = 1_000_000;

/// A read waiting for its leadership confirmation (§6.4 step 3) and its read index to be
/// applied (step 4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct PendingRead<O> {
    request: RequestId,
    client: ClientId,
    operation: O,
    /// The leader's commit index when the read arrived (step 2).
    read_index: LogIndex,
    /// The first round that, confirmed, proves the leader led after the read arrived.
    round: u64,
}

/// A leader's reads in flight (volatile, reinitialized after each election).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ReadState<O> {
    /// The latest round of `Heartbeat`s sent (0: none yet).
    round: u64,
    /// For each server, the latest round it acknowledged.
    acked: Vec<u64>,
    /// Local send time of rounds not yet confirmed, for leases.
    sent_at: BTreeMap<u64, SimTime>,
    /// Whether reads wait for a round not sent yet (one is outstanding).
    round_wanted: bool,
    /// Reads waiting, in arrival order.
    waiting: Vec<PendingRead<O>>,
    /// Local time until which the lease holds (§6.4.1).
    lease_until: Option<SimTime>,
}

impl<O> ReadState<O> {
    pub(super) fn new(node_count: usize) -> ReadState<O> {
        ReadState {
            round: 0,
            acked: vec![0; node_count],
            sent_at: BTreeMap::new(),
            round_wanted: false,
            waiting: Vec::new(),
            lease_until: None,
        }
    }
}

/// Reads served without a log entry (dissertation §6.4).
impl<M: StateMachine> Raft<M> {
    /// Serves `request` if it is a read the options let the leader serve without a log entry.
    /// Returns the request back otherwise (a write, or a read that must go through the log).
    pub(super) fn serve_read(
        &mut self,
        context: &mut Context<Self>,
        request: Request<MachineOperation<M>>,
    ) -> Option<Request<MachineOperation<M>>> {
        if self.options.reads == Reads::Log || self.kv.machine().query(&request.operation).is_none()
        {
            return Some(request);
        }
        // §6.4 step 1: until an entry of its term is committed, the leader's commit index may
        // lag what earlier leaders committed; the read goes through the log instead.
        if self.log.term_at(self.commit_index) != Some(self.current_term) {
            return Some(request);
        }
        let lease_valid = self.lease_valid(context);
        let pending_requests_max = self.options.pending_requests_max;
        let RoleState::Leader(leader) = &mut self.role else {
            unreachable!("only leaders serve reads");
        };
        if leader.pending.len() + leader.reads.waiting.len() >= pending_requests_max {
            let response = Response {
                request: request.id,
                answer: Answer::Unavailable("the leader has too many requests pending".into()),
            };
            context.reply(request.client, response);
            return None;
        }
        let confirmed = lease_valid || self.bug == Some(Bug::ReadIndexUnconfirmed);
        let reads = &mut leader.reads;
        let round = if confirmed { 0 } else { reads.round + 1 };
        reads.waiting.push(PendingRead {
            request: request.id,
            client: request.client,
            operation: request.operation,
            // §6.4 step 2.
            read_index: self.commit_index,
            round,
        });
        if !confirmed {
            // §6.4 step 3: a round sent after the read arrived; one outstanding is too early.
            if reads.sent_at.contains_key(&reads.round) {
                reads.round_wanted = true;
            } else {
                self.send_heartbeat_round(context);
            }
        }
        self.answer_reads(context);
        None
    }

    /// Whether the leader's lease holds now (§6.4.1).
    fn lease_valid(&self, context: &Context<Self>) -> bool {
        let RoleState::Leader(leader) = &self.role else {
            return false;
        };
        self.options.reads == Reads::Lease
            && leader
                .reads
                .lease_until
                .is_some_and(|until| context.now() < until)
    }

    /// §6.4.1: how long a lease lasts from the send of the round that a majority acknowledged.
    /// Every acknowledging server ignores `RequestVote` for `election_timeout_min` of its own
    /// clock after receiving the round, which is at least `election_timeout_min / (1 + b)` of
    /// true time; the leader's clock measures at most `(1 − b)` per unit of true time, so a
    /// lease of `election_timeout_min × (1 − b) / (1 + b)` on its clock ends first. The bug
    /// leaves the drift bound out.
    pub(super) fn lease_duration(&self) -> SimDuration {
        let timeout = u128::from(self.options.election_timeout_min.0);
        if self.bug == Some(Bug::LeaseIgnoresDrift) {
            return self.options.election_timeout_min;
        }
        let bound = u128::from(self.options.clock_drift_bound_ppm);
        let lease = timeout * (PPM - bound) / (PPM + bound);
        SimDuration(u64::try_from(lease).expect("a lease is shorter than the timeout"))
    }

    /// Sends a round of `Heartbeat`s to every peer (§6.4 step 3; every heartbeat interval with
    /// leases, §6.4.1).
    pub(super) fn send_heartbeat_round(&mut self, context: &mut Context<Self>) {
        let term = self.current_term;
        let now = context.now();
        let alone = self.peers().next().is_none();
        let RoleState::Leader(leader) = &mut self.role else {
            unreachable!("only leaders send heartbeat rounds");
        };
        let reads = &mut leader.reads;
        reads.round += 1;
        reads.round_wanted = false;
        reads.sent_at.insert(reads.round, now);
        while reads.sent_at.len() > ROUNDS_REMEMBERED_MAX {
            reads.sent_at.pop_first();
        }
        let message = Message::Heartbeat(Heartbeat {
            term,
            round: reads.round,
        });
        if alone {
            // A cluster of one confirms at once.
            self.advance_reads(context);
            return;
        }
        for peer in self.peers() {
            context.send(peer, message.clone());
        }
    }

    /// The heartbeat timer of a leader that serves reads without the log: with leases, a round
    /// every interval; with ReadIndex, a round when reads wait (a lost round is sent again).
    pub(super) fn heartbeat_reads(&mut self, context: &mut Context<Self>) {
        let RoleState::Leader(leader) = &self.role else {
            return;
        };
        let waiting = leader.reads.waiting.iter().any(|read| read.round > 0);
        match self.options.reads {
            Reads::Log => {}
            Reads::Lease => self.send_heartbeat_round(context),
            Reads::ReadIndex if waiting => self.send_heartbeat_round(context),
            Reads::ReadIndex => {}
        }
    }

    /// A follower answers a round of the leader of its term, which also restarts its election
    /// timeout like an `AppendEntries` (§6.4: heartbeats).
    pub(super) fn handle_heartbeat(
        &mut self,
        context: &mut Context<Self>,
        source: NodeId,
        message: Heartbeat,
    ) {
        if message.term == self.current_term {
            self.heard_from_leader(context, message.term, source);
        }
        // A stale leader learns the later term from the reply and steps down (§5.1).
        let reply = HeartbeatReply {
            term: self.current_term,
            round: message.round,
        };
        context.send(source, Message::HeartbeatReply(reply));
    }

    pub(super) fn handle_heartbeat_reply(
        &mut self,
        context: &mut Context<Self>,
        source: NodeId,
        message: HeartbeatReply,
    ) {
        if message.term != self.current_term {
            return;
        }
        let RoleState::Leader(leader) = &mut self.role else {
            return;
        };
        leader.heard_from[source.index()] = true;
        let acked = &mut leader.reads.acked[source.index()];
        *acked = (*acked).max(message.round.min(leader.reads.round));
        self.advance_reads(context);
    }

    /// The highest round a majority of the configuration in force acknowledged (dissertation
    /// §4.1; the leader counts as acknowledging its own, if it is one of the voters, §4.2.2).
    fn confirmed_round(&self) -> u64 {
        let RoleState::Leader(leader) = &self.role else {
            return 0;
        };
        let mut acked = [0u64; super::NODE_COUNT_MAX];
        let mut voter_count = 0;
        for voter in self.configuration.members() {
            acked[voter_count] = if voter == self.id {
                leader.reads.round
            } else {
                leader.reads.acked[voter.index()]
            };
            voter_count += 1;
        }
        let acked = &mut acked[..voter_count];
        acked.sort_unstable_by(|a, b| b.cmp(a));
        acked[self.quorum() - 1]
    }

    /// After an acknowledgement: extends the lease, sends the round waiting reads want, and
    /// answers the reads that can be answered.
    fn advance_reads(&mut self, context: &mut Context<Self>) {
        let confirmed = self.confirmed_round();
        let lease = self.lease_duration();
        let RoleState::Leader(leader) = &mut self.role else {
            return;
        };
        let reads = &mut leader.reads;
        // §6.4.1: the lease runs from the send of the latest confirmed round.
        let sent_at = reads
            .sent_at
            .range(..=confirmed)
            .next_back()
            .map(|(_, at)| *at);
        if let Some(sent_at) = sent_at {
            let until = sent_at + lease;
            reads.lease_until = Some(reads.lease_until.map_or(until, |old| old.max(until)));
        }
        reads.sent_at.retain(|round, _| *round > confirmed);
        let want_round = reads.round_wanted && confirmed == reads.round;
        if want_round {
            self.send_heartbeat_round(context);
        }
        self.answer_reads(context);
    }

    /// §6.4 step 4: answers every confirmed read whose read index the state machine reached.
    pub(super) fn answer_reads(&mut self, context: &mut Context<Self>) {
        match &self.role {
            RoleState::Leader(leader) if !leader.reads.waiting.is_empty() => {}
            _ => return,
        }
        let confirmed = self.confirmed_round();
        let last_applied = self.last_applied;
        let RoleState::Leader(leader) = &mut self.role else {
            unreachable!("checked above");
        };
        let machine = self.kv.machine();
        leader.reads.waiting.retain(|read| {
            if read.round > confirmed || read.read_index > last_applied {
                return true;
            }
            let output = machine
                .query(&read.operation)
                .expect("only reads wait here");
            let response = Response {
                request: read.request,
                answer: Answer::Ok(output),
            };
            context.reply(read.client, response);
            false
        });
    }

    /// A leader stepping down answers its waiting reads: they did not happen, and the client
    /// may ask the next leader.
    pub(super) fn abandon_reads(
        reads: &ReadState<MachineOperation<M>>,
        context: &mut Context<Self>,
    ) {
        for read in &reads.waiting {
            let response = Response {
                request: read.request,
                answer: Answer::Unavailable("the leader stepped down before the read".into()),
            };
            context.reply(read.client, response);
        }
    }
}
