//! Pre-vote (Ongaro's dissertation §9.6), with the `pre_vote` option.

use super::{CandidateState, Raft, RoleState, Timer};
use crate::raft::bugs::Bug;
use crate::raft::messages::{Message, RequestVote, RequestVoteReply};
use sim::protocol::{Context, NodeId};
use sim::service::{MachineOperation, StateMachine};

/// Pre-vote (Ongaro's dissertation §9.6), with the `pre_vote` option: before raising its term, a
/// server whose election timeout elapsed asks the others whether they would vote for it. They
/// would only if its log is up to date (§5.4.1) and they have not heard from a leader within
/// the minimum election timeout. Only with a majority of pre-votes does it start a real
/// election; so a server cut off from the leader, or behind, never deposes a working leader.
/// Pre-votes change no state and are not persisted: they are advice, not votes.
impl<M: StateMachine> Raft<M> {
    pub(super) fn pre_vote(&self) -> Message<MachineOperation<M>> {
        Message::PreVote(self.vote_request(self.current_term.next()))
    }

    pub(super) fn become_pre_candidate(&mut self, context: &mut Context<Self>) {
        assert!(!self.is_leader(), "a leader does not campaign");
        let mut votes = vec![false; self.node_count as usize];
        votes[self.id.index()] = true;
        let answered = votes.clone();
        self.role = RoleState::PreCandidate(CandidateState {
            votes,
            answered,
            grants: 1,
        });
        self.leader_hint = None;
        self.reset_election_timer(context);
        let message = self.pre_vote();
        for peer in self.peers() {
            context.send(peer, message.clone());
        }
        context.set_timer(Timer::Heartbeat, self.options.heartbeat_interval);
    }

    pub(super) fn handle_pre_vote(
        &mut self,
        context: &mut Context<Self>,
        source: NodeId,
        message: RequestVote,
    ) {
        let vote_granted = self.should_grant_pre_vote(&message, context);
        let reply = RequestVoteReply {
            term: if vote_granted {
                message.term
            } else {
                self.current_term
            },
            vote_granted,
        };
        context.send(source, Message::PreVoteReply(reply));
    }

    pub(super) fn should_grant_pre_vote(
        &self,
        message: &RequestVote,
        context: &Context<Self>,
    ) -> bool {
        // The asker must be about to enter a term later than ours.
        if message.term <= self.current_term {
            return false;
        }
        // Leader stickiness: a leader, or a server that heard from one within the minimum
        // election timeout, believes the leader alive and refuses.
        let heard_recently = self.leader_contact_at.is_some_and(|at| {
            context.now().saturating_since(at) < self.options.election_timeout_min
        });
        if self.is_leader() || heard_recently {
            return false;
        }
        if self.bug == Some(Bug::VoteWithoutLogCheck) {
            return true;
        }
        // Raft §5.4.1, as for a real vote.
        self.candidate_log_up_to_date(message)
    }

    pub(super) fn handle_pre_vote_reply(
        &mut self,
        context: &mut Context<Self>,
        source: NodeId,
        message: RequestVoteReply,
    ) {
        // Guards: only a pre-candidate counts pre-votes, and only for the term it asked about.
        let asked_term = self.current_term.next();
        let configuration = self.configuration;
        let RoleState::PreCandidate(candidate) = &mut self.role else {
            return;
        };
        candidate.answered[source.index()] = true;
        if !message.vote_granted || message.term != asked_term {
            return;
        }
        candidate.votes[source.index()] = true;
        let votes = &candidate.votes;
        if configuration.has_majority(|voter| votes[voter.index()]) {
            self.become_candidate(context);
        }
    }
}
