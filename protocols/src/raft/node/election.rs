//! Leader election: `RequestVote` and its reply (Raft §5.2, §5.4.1).

use super::{Raft, RoleState};
use crate::raft::bugs::Bug;
use crate::raft::log::Term;
use crate::raft::messages::{Message, RequestVote, RequestVoteReply};
use sim::protocol::{Context, NodeId};
use sim::service::{MachineOperation, StateMachine};

/// Leader election (Raft §5.2, §5.4.1).
impl<M: StateMachine> Raft<M> {
    pub(super) fn request_vote(&self) -> Message<MachineOperation<M>> {
        Message::RequestVote(self.vote_request(self.current_term))
    }

    pub(super) fn vote_request(&self, term: Term) -> RequestVote {
        RequestVote {
            term,
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
        }
    }

    pub(super) fn retry_request_vote(&self, context: &mut Context<Self>) {
        let (candidate, message) = match &self.role {
            RoleState::Candidate(candidate) => (candidate, self.request_vote()),
            RoleState::PreCandidate(candidate) => (candidate, self.pre_vote()),
            _ => unreachable!("only candidates retry RequestVote"),
        };
        for peer in self.peers() {
            if !candidate.answered[peer.index()] {
                context.send(peer, message.clone());
            }
        }
    }

    pub(super) fn handle_request_vote(
        &mut self,
        context: &mut Context<Self>,
        source: NodeId,
        message: RequestVote,
    ) {
        let vote_granted = self.should_grant_vote(source, &message);
        if vote_granted {
            self.voted_for = Some(source);
            // Figure 2: votedFor is persistent state, written before the reply leaves. The bug
            // skips the write, so a restarted server may vote again in the same term.
            if self.bug != Some(Bug::VoteNotPersisted) {
                self.persist_hard_state(context);
            }
            // Figure 2: granting a vote restarts the election timeout.
            self.reset_election_timer(context);
        }
        let reply = RequestVoteReply {
            term: self.current_term,
            vote_granted,
        };
        context.send(source, Message::RequestVoteReply(reply));
    }

    pub(super) fn should_grant_vote(&self, source: NodeId, message: &RequestVote) -> bool {
        // Raft §5.1: a request from an earlier term is rejected.
        if message.term < self.current_term {
            return false;
        }
        assert_eq!(
            message.term, self.current_term,
            "later terms were adopted first"
        );
        // Raft §5.2: at most one vote per term, first come first served.
        if self.voted_for.is_some_and(|voted_for| voted_for != source) {
            return false;
        }
        if self.bug == Some(Bug::VoteWithoutLogCheck) {
            return true;
        }
        self.candidate_log_up_to_date(message)
    }

    /// Raft §5.4.1: whether the candidate's log is at least as up-to-date as ours (for votes
    /// and pre-votes). The bug compares lengths only.
    pub(super) fn candidate_log_up_to_date(&self, message: &RequestVote) -> bool {
        if self.bug == Some(Bug::VoteCompareLengthOnly) {
            return message.last_log_index >= self.log.last_index();
        }
        self.log
            .is_behind_or_equal(message.last_log_term, message.last_log_index)
    }

    pub(super) fn handle_request_vote_reply(
        &mut self,
        context: &mut Context<Self>,
        source: NodeId,
        message: RequestVoteReply,
    ) {
        // Guards: a reply from an earlier election, or to a candidacy already decided. The bug
        // counts a vote granted in an earlier term of this candidate's.
        if message.term < self.current_term && self.bug != Some(Bug::CountStaleVotes) {
            return;
        }
        let configuration = self.configuration;
        let RoleState::Candidate(candidate) = &mut self.role else {
            return;
        };
        candidate.answered[source.index()] = true;
        if message.vote_granted {
            candidate.votes[source.index()] = true;
            candidate.grants += 1;
        }
        // Raft §5.2: a majority of servers — of the configuration in force (dissertation
        // §4.1). The bug counts replies, so a duplicated reply (or the answer to a retried
        // request) counts its voter twice.
        let won = if self.bug == Some(Bug::CountDuplicateVotes) {
            candidate.grants >= configuration.quorum()
        } else {
            let votes = &candidate.votes;
            configuration.has_majority(|voter| votes[voter.index()])
        };
        if won {
            self.become_leader(context);
        }
    }

    /// Dissertation §4.2.3 (disruptive servers): with check-quorum (and so with leases, which
    /// need it, §6.4.1), a server that heard from a current leader within the minimum election
    /// timeout — or leads, or, with leases, restarted that recently — ignores `RequestVote`: it
    /// neither adopts the term nor votes. A server removed from the configuration, which no
    /// longer hears the leader and times out, cannot depose it; nor can one cut off by a
    /// one-way partition. Check-quorum makes the rule safe for liveness: a leader that lost its
    /// majority steps down, so followers never wait on a leader that cannot lead.
    pub(super) fn ignores_request_vote(&self, context: &Context<Self>) -> bool {
        if !self.options.check_quorum {
            return false;
        }
        let heard_recently = self.leader_contact_at.is_some_and(|at| {
            context.now().saturating_since(at) < self.options.election_timeout_min
        });
        self.is_leader() || heard_recently
    }
}
