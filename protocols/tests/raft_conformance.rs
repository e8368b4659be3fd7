//! Paper conformance: one test per rule of Raft (Ongaro & Ousterhout, extended version), each
//! driving one handler directly and checking the effects it pushes, in order.

use protocols::raft::{
    AppendEntries, AppendEntriesReply, Command, Configuration, Durable, Entry, Heartbeat,
    HeartbeatReply, InstallSnapshot, LogIndex, Message, Options, Raft, Reads, RequestVote,
    RequestVoteReply, Snapshot, Term, Timer, Update,
};
use sim::protocol::{
    ClientId, Context, Effect, MembershipChange, NodeConfig, NodeId, Protocol, RequestId, Role,
    TimerDelay,
};
use sim::service::{Answer, Request};
use sim::time::{SimDuration, SimTime};
use sim::workload::register::Operation;

/// Hands `request` to `raft` as its client sent it.
trait Submit {
    fn submit(&mut self, context: &mut Context<Raft>, request: Request<Operation>);
}

impl Submit for Raft {
    fn submit(&mut self, context: &mut Context<Raft>, request: Request<Operation>) {
        let client = request.client;
        self.on_client_request(context, client, request)
    }
}

const NODE_COUNT: u32 = 3;

fn context(id: u32) -> Context<Raft> {
    Context::new(NodeId(id), NODE_COUNT, SimTime::ZERO)
}

/// Starts node `id` from `durable`, with `bug`, and returns it with an empty context.
fn start_with(id: u32, durable: Option<Durable>, bug: Option<&str>) -> (Raft, Context<Raft>) {
    start_with_options(id, durable, bug, Options::default())
}

fn start_with_options(
    id: u32,
    durable: Option<Durable>,
    bug: Option<&str>,
    options: Options,
) -> (Raft, Context<Raft>) {
    let config = NodeConfig {
        id: NodeId(id),
        node_count: NODE_COUNT,
        options: &options,
        bug,
    };
    let mut context = context(id);
    let raft = <Raft>::start(&config, durable.as_ref(), &mut context);
    context.drain_effects();
    (raft, context)
}

/// A node restored from a disk holding `term`, no vote, and `log`.
fn follower_with_log(id: u32, term: u64, log: Vec<Entry>) -> (Raft, Context<Raft>) {
    let durable = Durable {
        current_term: Term(term),
        voted_for: None,
        log,
        snapshot: None,
    };
    start_with(id, Some(durable), None)
}

/// Node `id` made leader of `term + 1` by the votes of every peer.
fn leader_with_log(
    id: u32,
    term: u64,
    log: Vec<Entry>,
    bug: Option<&str>,
) -> (Raft, Context<Raft>) {
    let durable = Durable {
        current_term: Term(term),
        voted_for: None,
        log,
        snapshot: None,
    };
    let (mut raft, mut context) = start_with(id, Some(durable), bug);
    raft.on_timer(&mut context, Timer::Election);
    let reply = RequestVoteReply {
        term: raft.current_term(),
        vote_granted: true,
    };
    for peer in (0..NODE_COUNT).filter(|peer| *peer != id) {
        raft.on_message(
            &mut context,
            NodeId(peer),
            Message::RequestVoteReply(reply.clone()),
        );
    }
    assert!(raft.is_leader());
    context.drain_effects();
    (raft, context)
}

fn entry(term: u64, request: u64) -> Entry {
    Entry {
        term: Term(term),
        command: Command::Client(Request {
            id: RequestId(request),
            client: ClientId(0),
            operation: Operation::Write {
                key: 1,
                value: request as i64,
            },
        }),
    }
}

fn entries(terms: &[u64]) -> Vec<Entry> {
    terms
        .iter()
        .enumerate()
        .map(|(position, term)| entry(*term, position as u64 + 1))
        .collect()
}

fn sent(context: &Context<Raft>) -> Vec<(NodeId, Message)> {
    context
        .effects()
        .iter()
        .filter_map(|effect| match effect {
            Effect::Send { target, message } => Some((*target, message.clone())),
            _ => None,
        })
        .collect()
}

fn persisted(context: &Context<Raft>) -> Vec<Update> {
    context
        .effects()
        .iter()
        .filter_map(|effect| match effect {
            Effect::Persist { update } => Some(update.clone()),
            _ => None,
        })
        .collect()
}

fn replies(context: &Context<Raft>) -> Vec<(RequestId, Answer<Option<i64>>)> {
    context
        .effects()
        .iter()
        .filter_map(|effect| match effect {
            Effect::Reply { response, .. } => Some((response.request, response.answer.clone())),
            _ => None,
        })
        .collect()
}

fn position_of(context: &Context<Raft>, wanted: impl Fn(&Effect<Raft>) -> bool) -> usize {
    context
        .effects()
        .iter()
        .position(wanted)
        .expect("effect pushed")
}

fn is_persist(effect: &Effect<Raft>) -> bool {
    matches!(effect, Effect::Persist { .. })
}

fn is_send(effect: &Effect<Raft>) -> bool {
    matches!(effect, Effect::Send { .. })
}

fn sets_election_timer(context: &Context<Raft>) -> bool {
    context.effects().iter().any(|effect| {
        matches!(
            effect,
            Effect::SetTimer {
                timer: Timer::Election,
                ..
            }
        )
    })
}

/// Fires the election timer and tells whether the node started an election.
fn election_timeout_campaigns(raft: &mut Raft, context: &mut Context<Raft>) -> bool {
    let term = raft.current_term();
    raft.on_timer(context, Timer::Election);
    raft.role() == Role::Candidate && raft.current_term() > term
}

fn the_append_entries_reply(context: &Context<Raft>) -> AppendEntriesReply {
    match sent(context).as_slice() {
        [(_, Message::AppendEntriesReply(reply))] => reply.clone(),
        other => panic!("expected one AppendEntriesReply, got {other:?}"),
    }
}

fn the_vote(context: &Context<Raft>) -> RequestVoteReply {
    match sent(context).as_slice() {
        [(_, Message::RequestVoteReply(reply))] => reply.clone(),
        other => panic!("expected one RequestVoteReply, got {other:?}"),
    }
}

fn request_vote(term: u64, last_log_index: u64, last_log_term: u64) -> Message {
    Message::RequestVote(RequestVote {
        term: Term(term),
        last_log_index: LogIndex(last_log_index),
        last_log_term: Term(last_log_term),
    })
}

fn append_entries(term: u64, prev: (u64, u64), entries: Vec<Entry>, commit: u64) -> Message {
    Message::AppendEntries(AppendEntries {
        term: Term(term),
        prev_log_index: LogIndex(prev.0),
        prev_log_term: Term(prev.1),
        entries,
        leader_commit: LogIndex(commit),
    })
}

fn append_reply(term: u64, success: bool, match_hint: u64) -> Message {
    Message::AppendEntriesReply(AppendEntriesReply {
        term: Term(term),
        success,
        match_hint: LogIndex(match_hint),
    })
}

fn client_request(id: u64, operation: Operation) -> Request<Operation> {
    Request {
        id: RequestId(id),
        client: ClientId(7),
        operation,
    }
}

// ---------------------------------------------------------------------------------------------
// §5.1 Terms

/// Raft §5.1: a leader that sees a later term reverts to follower in that term.
#[test]
fn leader_steps_down_on_higher_term() {
    let (mut leader, mut context) = leader_with_log(0, 1, vec![], None);
    leader.on_message(&mut context, NodeId(1), append_reply(5, false, 0));
    assert_eq!(leader.role(), Role::Follower);
    assert_eq!(leader.current_term(), Term(5));
    assert_eq!(leader.voted_for(), None);
    assert_eq!(
        persisted(&context),
        vec![Update::HardState {
            current_term: Term(5),
            voted_for: None
        }]
    );
    assert!(
        sets_election_timer(&context),
        "a follower waits for a leader"
    );
}

/// Raft §5.1: a request with a stale term is rejected, and the reply carries the current term.
#[test]
fn rejects_append_entries_from_stale_term() {
    let (mut follower, mut context) = follower_with_log(1, 4, entries(&[1]));
    follower.on_message(
        &mut context,
        NodeId(0),
        append_entries(3, (1, 1), entries(&[1, 3]), 2),
    );
    let reply = the_append_entries_reply(&context);
    assert!(!reply.success);
    assert_eq!(reply.term, Term(4));
    assert_eq!(follower.log().last_index(), LogIndex(1), "nothing stored");
    assert!(
        !sets_election_timer(&context),
        "a stale leader does not hold off elections"
    );
}

/// Raft §5.1: a vote request with a stale term is denied.
#[test]
fn rejects_request_vote_from_stale_term() {
    let (mut follower, mut context) = follower_with_log(1, 4, vec![]);
    follower.on_message(&mut context, NodeId(2), request_vote(3, 0, 0));
    let vote = the_vote(&context);
    assert!(!vote.vote_granted);
    assert_eq!(vote.term, Term(4));
    assert_eq!(follower.voted_for(), None);
}

// ---------------------------------------------------------------------------------------------
// §5.2 Leader election

/// Raft §5.2: servers start as followers with a randomized election timeout drawn by the
/// simulator from the configured range.
#[test]
fn follower_starts_with_randomized_election_timeout() {
    let options = Options::default();
    let config = NodeConfig {
        id: NodeId(0),
        node_count: NODE_COUNT,
        options: &options,
        bug: None,
    };
    let mut context = context(0);
    let raft = <Raft>::start(&config, None, &mut context);
    assert_eq!(raft.role(), Role::Follower);
    assert_eq!(raft.current_term(), Term(0));
    let expected = TimerDelay::Range(SimDuration::from_millis(150), SimDuration::from_millis(300));
    assert!(matches!(
        context.effects(),
        [Effect::SetTimer { timer: Timer::Election, delay }] if *delay == expected
    ));
}

/// Raft §5.2: on election timeout a follower increments its term, votes for itself, persists
/// both, and only then sends RequestVote with its last log entry to every other server.
#[test]
fn election_timeout_starts_candidacy() {
    let (mut raft, mut context) = follower_with_log(0, 2, entries(&[1, 2]));
    raft.on_timer(&mut context, Timer::Election);
    assert_eq!(raft.role(), Role::Candidate);
    assert_eq!(raft.current_term(), Term(3));
    assert_eq!(raft.voted_for(), Some(NodeId(0)));
    assert_eq!(
        persisted(&context),
        vec![Update::HardState {
            current_term: Term(3),
            voted_for: Some(NodeId(0))
        }]
    );
    assert!(position_of(&context, is_persist) < position_of(&context, is_send));
    let requests = sent(&context);
    assert_eq!(requests.len(), 2);
    for (target, message) in requests {
        assert_ne!(target, NodeId(0));
        assert_eq!(message, request_vote(3, 2, 2));
    }
    assert!(
        sets_election_timer(&context),
        "a split vote times out again"
    );
}

/// Raft §5.2: a candidate that receives votes from a majority becomes leader and at once sends
/// heartbeats to every server.
#[test]
fn candidate_becomes_leader_with_majority_votes() {
    let (mut raft, mut context) = follower_with_log(0, 0, vec![]);
    raft.on_timer(&mut context, Timer::Election);
    context.drain_effects();
    let vote = RequestVoteReply {
        term: Term(1),
        vote_granted: true,
    };
    raft.on_message(&mut context, NodeId(2), Message::RequestVoteReply(vote));
    assert!(raft.is_leader(), "2 of 3 votes is a majority");
    assert_eq!(raft.leader_hint(), Some(NodeId(0)));
    let heartbeats = sent(&context);
    assert_eq!(heartbeats.len(), 2);
    assert!(heartbeats
        .iter()
        .all(|(_, message)| *message == append_entries(1, (0, 0), vec![], 0)));
}

/// Raft §5.2: a candidate without a majority stays candidate; denied votes do not count.
#[test]
fn candidate_without_majority_stays_candidate() {
    let options = Options::default();
    let config = NodeConfig {
        id: NodeId(0),
        node_count: 5,
        options: &options,
        bug: None,
    };
    let mut context = Context::new(NodeId(0), 5, SimTime::ZERO);
    let mut raft = <Raft>::start(&config, None, &mut context);
    raft.on_timer(&mut context, Timer::Election);
    let granted = RequestVoteReply {
        term: Term(1),
        vote_granted: true,
    };
    let denied = RequestVoteReply {
        term: Term(1),
        vote_granted: false,
    };
    raft.on_message(
        &mut context,
        NodeId(1),
        Message::RequestVoteReply(granted.clone()),
    );
    raft.on_message(&mut context, NodeId(1), Message::RequestVoteReply(granted));
    raft.on_message(
        &mut context,
        NodeId(2),
        Message::RequestVoteReply(denied.clone()),
    );
    raft.on_message(&mut context, NodeId(3), Message::RequestVoteReply(denied));
    assert_eq!(
        raft.role(),
        Role::Candidate,
        "2 of 5, counting a duplicate once"
    );
}

/// Raft §5.2: each server votes for at most one candidate in a term, first come first served.
#[test]
fn grants_at_most_one_vote_per_term() {
    let (mut voter, mut context) = follower_with_log(2, 0, vec![]);
    voter.on_message(&mut context, NodeId(0), request_vote(1, 0, 0));
    assert!(the_vote(&context).vote_granted);
    context.drain_effects();
    voter.on_message(&mut context, NodeId(1), request_vote(1, 0, 0));
    assert!(
        !the_vote(&context).vote_granted,
        "second candidate in term 1"
    );
    context.drain_effects();
    voter.on_message(&mut context, NodeId(0), request_vote(1, 0, 0));
    assert!(
        the_vote(&context).vote_granted,
        "a retried request from the same candidate"
    );
}

/// Raft §5.2, Figure 2: votedFor is persistent state, written before the vote is sent.
#[test]
fn vote_is_persisted_before_reply() {
    let (mut voter, mut context) = follower_with_log(2, 1, vec![]);
    voter.on_message(&mut context, NodeId(0), request_vote(1, 0, 0));
    assert_eq!(
        persisted(&context),
        vec![Update::HardState {
            current_term: Term(1),
            voted_for: Some(NodeId(0))
        }]
    );
    assert!(position_of(&context, is_persist) < position_of(&context, is_send));
}

/// Figure 2: a follower that grants a vote restarts its election timeout; one that denies does
/// not.
#[test]
fn granting_vote_resets_election_timer() {
    let (mut voter, mut context) = follower_with_log(2, 1, entries(&[1]));
    voter.on_message(&mut context, NodeId(0), request_vote(1, 1, 1));
    assert!(the_vote(&context).vote_granted);
    assert!(!election_timeout_campaigns(&mut voter, &mut context));
    let (mut voter, mut context) = follower_with_log(2, 1, entries(&[1]));
    voter.on_message(&mut context, NodeId(0), request_vote(1, 0, 0));
    assert!(!the_vote(&context).vote_granted);
    assert!(election_timeout_campaigns(&mut voter, &mut context));
}

/// Raft §5.2: a candidate that receives AppendEntries from a leader of its own term recognizes
/// the leader and returns to follower.
#[test]
fn candidate_returns_to_follower_on_append_entries_of_its_term() {
    let (mut raft, mut context) = follower_with_log(0, 0, vec![]);
    raft.on_timer(&mut context, Timer::Election);
    context.drain_effects();
    raft.on_message(
        &mut context,
        NodeId(1),
        append_entries(1, (0, 0), vec![], 0),
    );
    assert_eq!(raft.role(), Role::Follower);
    assert_eq!(raft.current_term(), Term(1));
    assert_eq!(raft.leader_hint(), Some(NodeId(1)));
    assert!(the_append_entries_reply(&context).success);
}

/// Raft §5.2: when an election ends in a split vote the candidate times out and starts a new
/// election in the next term.
#[test]
fn split_vote_starts_new_election_with_higher_term() {
    let (mut raft, mut context) = follower_with_log(0, 0, vec![]);
    raft.on_timer(&mut context, Timer::Election);
    raft.on_timer(&mut context, Timer::Election);
    assert_eq!(raft.role(), Role::Candidate);
    assert_eq!(raft.current_term(), Term(2));
    assert_eq!(raft.voted_for(), Some(NodeId(0)));
}

/// Raft §5.1: servers retry RPCs that get no answer; a candidate re-sends RequestVote on its
/// heartbeat timer only to the peers that have not answered.
#[test]
fn candidate_retries_request_vote_to_silent_peers() {
    let (mut raft, mut context) = follower_with_log(0, 0, vec![]);
    raft.on_timer(&mut context, Timer::Election);
    let denied = RequestVoteReply {
        term: Term(1),
        vote_granted: false,
    };
    raft.on_message(&mut context, NodeId(1), Message::RequestVoteReply(denied));
    context.drain_effects();
    raft.on_timer(&mut context, Timer::Heartbeat);
    assert_eq!(sent(&context), vec![(NodeId(2), request_vote(1, 0, 0))]);
}

/// Raft §5.2: a leader sends periodic heartbeats to maintain its authority.
#[test]
fn leader_sends_heartbeats_on_timer() {
    let (mut leader, mut context) = leader_with_log(0, 0, vec![], None);
    leader.on_timer(&mut context, Timer::Heartbeat);
    let heartbeats = sent(&context);
    assert_eq!(heartbeats.len(), 2);
    assert!(heartbeats
        .iter()
        .all(|(_, message)| *message == append_entries(1, (0, 0), vec![], 0)));
    assert!(context.effects().iter().any(|effect| matches!(
        effect,
        Effect::SetTimer { timer: Timer::Heartbeat, delay: TimerDelay::Fixed(delay) }
            if *delay == SimDuration::from_millis(50)
    )));
}

/// Figure 2: adopting a later term from a `RequestVote` that is then denied does not restart
/// the election timeout; otherwise a stale server campaigning over and over would keep the
/// up-to-date ones from ever starting an election.
#[test]
fn denied_vote_in_a_later_term_does_not_reset_election_timer() {
    let (mut voter, mut context) = follower_with_log(2, 3, entries(&[1, 3]));
    voter.on_message(&mut context, NodeId(0), request_vote(9, 1, 1));
    assert!(!the_vote(&context).vote_granted);
    assert_eq!(voter.current_term(), Term(9));
    assert!(election_timeout_campaigns(&mut voter, &mut context));
}

/// Raft §5.2: a valid AppendEntries from the current leader restarts the election timeout, so
/// a follower that hears from its leader does not campaign.
#[test]
fn heartbeat_from_leader_resets_election_timer() {
    let (mut follower, mut context) = follower_with_log(1, 1, vec![]);
    follower.on_message(
        &mut context,
        NodeId(0),
        append_entries(1, (0, 0), vec![], 0),
    );
    assert_eq!(follower.leader_hint(), Some(NodeId(0)));
    assert!(!election_timeout_campaigns(&mut follower, &mut context));
    assert!(
        election_timeout_campaigns(&mut follower, &mut context),
        "silence since"
    );
}

/// Raft §5.2: the election timeout counts from the last heartbeat. The timer set before it is
/// not replaced on every message; when it fires early it is set again for what remains of
/// 150–300ms after the heartbeat.
#[test]
fn election_timeout_counts_from_the_last_heartbeat() {
    let (mut follower, _) = follower_with_log(1, 1, vec![]);
    let mut heartbeat_context = Context::new(NodeId(1), NODE_COUNT, SimTime(100_000_000));
    follower.on_message(
        &mut heartbeat_context,
        NodeId(0),
        append_entries(1, (0, 0), vec![], 0),
    );
    assert!(
        !sets_election_timer(&heartbeat_context),
        "the armed timer stays"
    );
    let mut timer_context = Context::new(NodeId(1), NODE_COUNT, SimTime(200_000_000));
    follower.on_timer(&mut timer_context, Timer::Election);
    assert_eq!(follower.role(), Role::Follower);
    let remaining = TimerDelay::Range(SimDuration::from_millis(50), SimDuration::from_millis(200));
    assert!(matches!(
        timer_context.effects(),
        [Effect::SetTimer { timer: Timer::Election, delay }] if *delay == remaining
    ));
}

// ---------------------------------------------------------------------------------------------
// §5.3 Log replication

/// Raft §5.3: the leader appends a client command to its log, persists it, and then sends it to
/// every follower in AppendEntries.
#[test]
fn leader_appends_client_command_and_replicates_it() {
    let (mut leader, mut context) = leader_with_log(0, 0, vec![], None);
    let operation = Operation::Write { key: 1, value: 9 };
    leader.submit(&mut context, client_request(1, operation.clone()));
    let expected = Entry {
        term: Term(1),
        command: Command::Client(Request {
            id: RequestId(1),
            client: ClientId(7),
            operation,
        }),
    };
    assert_eq!(leader.log().entries(), std::slice::from_ref(&expected));
    assert_eq!(
        persisted(&context),
        vec![Update::Append {
            first: LogIndex(1),
            entries: vec![expected.clone()]
        }]
    );
    assert!(position_of(&context, is_persist) < position_of(&context, is_send));
    let messages = sent(&context);
    assert_eq!(messages.len(), 2);
    for (_, message) in messages {
        assert_eq!(
            message,
            append_entries(1, (0, 0), vec![expected.clone()], 0)
        );
    }
    assert!(replies(&context).is_empty(), "answered only once committed");
}

/// Raft §5.3: a follower rejects AppendEntries when its log has no entry at prevLogIndex whose
/// term matches prevLogTerm, and stores nothing.
#[test]
fn rejects_append_entries_when_previous_entry_does_not_match() {
    let (mut follower, mut context) = follower_with_log(1, 3, entries(&[1, 1]));
    follower.on_message(
        &mut context,
        NodeId(0),
        append_entries(3, (2, 2), entries(&[3]), 0),
    );
    let reply = the_append_entries_reply(&context);
    assert!(!reply.success);
    assert_eq!(
        reply.match_hint,
        LogIndex(1),
        "index 2 conflicts, so retry after 1"
    );
    assert_eq!(follower.log().entries(), entries(&[1, 1]).as_slice());
    context.drain_effects();
    follower.on_message(
        &mut context,
        NodeId(0),
        append_entries(3, (5, 3), entries(&[3]), 0),
    );
    assert_eq!(
        the_append_entries_reply(&context).match_hint,
        LogIndex(2),
        "log ends at 2"
    );
}

/// Raft §5.3: an existing entry that conflicts with a new one (same index, different term) is
/// deleted with all that follow it; the rewrite is persisted before the reply.
#[test]
fn follower_truncates_conflicting_entries() {
    let (mut follower, mut context) = follower_with_log(1, 3, entries(&[1, 2, 2]));
    let new = vec![entry(3, 10)];
    follower.on_message(
        &mut context,
        NodeId(0),
        append_entries(3, (1, 1), new.clone(), 0),
    );
    let reply = the_append_entries_reply(&context);
    assert!(reply.success);
    assert_eq!(reply.match_hint, LogIndex(2));
    assert_eq!(
        follower.log().entries(),
        [entries(&[1]), new.clone()].concat().as_slice()
    );
    assert_eq!(
        persisted(&context),
        vec![Update::Append {
            first: LogIndex(2),
            entries: new
        }]
    );
    assert!(position_of(&context, is_persist) < position_of(&context, is_send));
}

/// Raft §5.3: entries already present are kept; a delayed or duplicated AppendEntries carrying
/// a prefix of the log must not truncate the entries after it.
#[test]
fn duplicate_append_entries_does_not_truncate() {
    let (mut follower, mut context) = follower_with_log(1, 2, entries(&[1, 2, 2]));
    follower.on_message(
        &mut context,
        NodeId(0),
        append_entries(2, (0, 0), entries(&[1]), 0),
    );
    let reply = the_append_entries_reply(&context);
    assert!(reply.success);
    assert_eq!(reply.match_hint, LogIndex(1));
    assert_eq!(follower.log().last_index(), LogIndex(3));
    assert!(persisted(&context).is_empty(), "nothing changed on disk");
}

/// Figure 2, AppendEntries receiver rule 5: commitIndex becomes min(leaderCommit, index of the
/// last new entry), and committed entries are applied.
#[test]
fn follower_commits_up_to_leader_commit_and_its_last_new_entry() {
    let (mut follower, mut context) = follower_with_log(1, 1, vec![]);
    follower.on_message(
        &mut context,
        NodeId(0),
        append_entries(1, (0, 0), entries(&[1, 1]), 5),
    );
    assert_eq!(
        follower.commit_index(),
        LogIndex(2),
        "capped by the last new entry"
    );
    assert_eq!(follower.last_applied(), LogIndex(2));
    context.drain_effects();
    follower.on_message(
        &mut context,
        NodeId(0),
        append_entries(1, (2, 1), entries(&[1, 1]), 3),
    );
    assert_eq!(
        follower.commit_index(),
        LogIndex(3),
        "capped by leaderCommit"
    );
}

/// Raft §5.3: after a rejection the leader decrements nextIndex and retries, until the logs
/// match; then the follower's log is brought up to date.
#[test]
fn leader_moves_next_index_back_and_retries_after_rejection() {
    let (mut leader, mut context) = leader_with_log(0, 2, entries(&[1, 2, 2]), None);
    assert_eq!(leader.next_index(NodeId(1)), Some(LogIndex(4)));
    leader.on_message(&mut context, NodeId(1), append_reply(3, false, 1));
    assert_eq!(
        leader.next_index(NodeId(1)),
        Some(LogIndex(4)),
        "retry sent 2..=3 again"
    );
    assert_eq!(
        sent(&context),
        vec![(
            NodeId(1),
            append_entries(3, (1, 1), entries(&[1, 2, 2])[1..].to_vec(), 0)
        )]
    );
    context.drain_effects();
    leader.on_message(&mut context, NodeId(1), append_reply(3, true, 3));
    assert_eq!(leader.match_index(NodeId(1)), Some(LogIndex(3)));
    assert!(sent(&context).is_empty(), "the follower is up to date");
}

/// Raft §5.3: an entry is committed once the leader has replicated it on a majority; the leader
/// then applies it and answers the client with the result.
#[test]
fn leader_answers_client_after_majority_replication() {
    let (mut leader, mut context) = leader_with_log(0, 0, vec![], None);
    leader.submit(
        &mut context,
        client_request(1, Operation::Write { key: 1, value: 9 }),
    );
    context.drain_effects();
    leader.on_message(&mut context, NodeId(1), append_reply(1, true, 1));
    assert_eq!(leader.commit_index(), LogIndex(1));
    assert_eq!(replies(&context), vec![(RequestId(1), Answer::Ok(None))]);
    context.drain_effects();
    leader.on_message(&mut context, NodeId(2), append_reply(1, true, 1));
    assert!(replies(&context).is_empty(), "answered once");
}

// ---------------------------------------------------------------------------------------------
// Dissertation §10.2.2 Batching and pipelining

/// Node 0 made leader of term 1 with a pipelining window of `window`; its first heartbeats are
/// still in flight (unanswered), as right after an election.
fn leader_with_window(window: usize) -> (Raft, Context<Raft>) {
    let options = Options {
        append_entries_in_flight_max: window,
        ..Options::default()
    };
    let (mut raft, mut context) = start_with_options(0, None, None, options);
    raft.on_timer(&mut context, Timer::Election);
    let reply = RequestVoteReply {
        term: raft.current_term(),
        vote_granted: true,
    };
    for peer in 1..NODE_COUNT {
        raft.on_message(
            &mut context,
            NodeId(peer),
            Message::RequestVoteReply(reply.clone()),
        );
    }
    assert!(raft.is_leader());
    context.drain_effects();
    (raft, context)
}

fn write(id: u64) -> Request<Operation> {
    client_request(
        id,
        Operation::Write {
            key: 1,
            value: id as i64,
        },
    )
}

/// The AppendEntries sent to `peer`, as (prevLogIndex, number of entries).
fn appends_to(context: &Context<Raft>, peer: u32) -> Vec<(u64, usize)> {
    sent(context)
        .into_iter()
        .filter_map(|(target, message)| match message {
            Message::AppendEntries(append) if target == NodeId(peer) => {
                Some((append.prev_log_index.0, append.entries.len()))
            }
            _ => None,
        })
        .collect()
}

/// Dissertation §10.2.2 (pipelining): a leader has at most `append_entries_in_flight_max`
/// AppendEntries in flight to one follower; the heartbeat sent on election counts as one.
#[test]
fn leader_keeps_at_most_the_window_of_append_entries_in_flight() {
    let (mut leader, mut context) = leader_with_window(3);
    for id in 1..=4 {
        leader.submit(&mut context, write(id));
    }
    // One heartbeat already in flight: two more fit in the window, one entry each.
    assert_eq!(appends_to(&context, 1), vec![(0, 1), (1, 1)]);
    assert_eq!(appends_to(&context, 2), vec![(0, 1), (1, 1)]);
    assert_eq!(leader.log().last_index(), LogIndex(4), "all appended");
}

/// Dissertation §10.2.2 (batching): commands that arrive while a follower's window is full
/// accumulate, and the AppendEntries sent when a reply frees a slot carries all of them.
#[test]
fn commands_accumulated_while_the_window_is_full_go_in_one_append_entries() {
    let (mut leader, mut context) = leader_with_window(1);
    for id in 1..=3 {
        leader.submit(&mut context, write(id));
    }
    assert!(
        sent(&context).is_empty(),
        "the election heartbeat fills the window"
    );
    assert_eq!(
        persisted(&context).len(),
        3,
        "each command is still persisted at once"
    );
    context.drain_effects();
    // Follower 1 answers the heartbeat: it gets the three entries in one message; follower 2,
    // still silent, gets nothing.
    leader.on_message(&mut context, NodeId(1), append_reply(1, true, 0));
    assert_eq!(appends_to(&context, 1), vec![(0, 3)]);
    assert!(appends_to(&context, 2).is_empty());
}

/// Dissertation §10.2.2: a reply frees one slot of the window, and an up-to-date follower gets
/// nothing more (no empty AppendEntries in reply to a reply).
#[test]
fn a_reply_frees_one_slot_of_the_window() {
    let (mut leader, mut context) = leader_with_window(2);
    leader.submit(&mut context, write(1));
    leader.submit(&mut context, write(2));
    assert_eq!(
        appends_to(&context, 1),
        vec![(0, 1)],
        "heartbeat + one: window full"
    );
    context.drain_effects();
    leader.on_message(&mut context, NodeId(1), append_reply(1, true, 1));
    assert_eq!(
        appends_to(&context, 1),
        vec![(1, 1)],
        "the freed slot carries entry 2"
    );
    context.drain_effects();
    leader.on_message(&mut context, NodeId(1), append_reply(1, true, 2));
    assert!(sent(&context).is_empty(), "up to date: nothing to send");
}

/// Raft §5.2 with §10.2.2: a heartbeat goes out whatever the window says (it asserts the
/// leader's authority and retransmits what was lost), carrying what accumulated, and it opens
/// the window again: what was in flight before it was answered or lost.
#[test]
fn heartbeat_ignores_a_full_window_and_reopens_it() {
    let (mut leader, mut context) = leader_with_window(1);
    leader.submit(&mut context, write(1));
    assert!(sent(&context).is_empty());
    leader.on_timer(&mut context, Timer::Heartbeat);
    assert_eq!(appends_to(&context, 1), vec![(0, 1)]);
    assert_eq!(appends_to(&context, 2), vec![(0, 1)]);
    context.drain_effects();
    // The window holds the heartbeat now; the next command waits for its reply.
    leader.submit(&mut context, write(2));
    assert!(appends_to(&context, 1).is_empty());
}

/// Raft §5.3 with §10.2.2: after a rejection the leader retries from the moved-back nextIndex
/// within the window, sending everything from there in one message.
#[test]
fn retry_after_rejection_respects_the_window() {
    let (mut leader, mut context) = leader_with_window(1);
    for id in 1..=2 {
        leader.submit(&mut context, write(id));
    }
    leader.on_message(&mut context, NodeId(1), append_reply(1, false, 0));
    assert_eq!(appends_to(&context, 1), vec![(0, 2)]);
    context.drain_effects();
    // A second rejection while that retry is in flight sends nothing more.
    leader.on_message(&mut context, NodeId(1), append_reply(1, false, 0));
    assert_eq!(
        appends_to(&context, 1),
        vec![(0, 2)],
        "the slot freed by this reply"
    );
}

/// The window must hold at least one AppendEntries, and is bounded.
#[test]
fn options_reject_a_pipelining_window_of_zero_or_too_large() {
    for window in [0, protocols::raft::options::IN_FLIGHT_MAX + 1] {
        let options = Options {
            append_entries_in_flight_max: window,
            ..Options::default()
        };
        let error = options.check().expect_err("an unusable window");
        assert!(error.contains("append_entries_in_flight_max"), "{error}");
    }
}

// ---------------------------------------------------------------------------------------------
// §5.4 Safety

/// Raft §5.4.1: a voter denies its vote to a candidate whose last log term is older.
#[test]
fn denies_vote_to_candidate_with_older_last_term() {
    let (mut voter, mut context) = follower_with_log(2, 3, entries(&[1, 3]));
    voter.on_message(&mut context, NodeId(0), request_vote(4, 5, 2));
    assert!(
        !the_vote(&context).vote_granted,
        "a longer log of an older term loses"
    );
    assert_eq!(
        voter.current_term(),
        Term(4),
        "the term is adopted all the same"
    );
}

/// Raft §5.4.1: with equal last terms, the longer log is more up-to-date.
#[test]
fn denies_vote_to_candidate_with_shorter_log_of_same_term() {
    let (mut voter, mut context) = follower_with_log(2, 3, entries(&[1, 3, 3]));
    voter.on_message(&mut context, NodeId(0), request_vote(4, 2, 3));
    assert!(!the_vote(&context).vote_granted);
    context.drain_effects();
    voter.on_message(&mut context, NodeId(1), request_vote(4, 3, 3));
    assert!(
        the_vote(&context).vote_granted,
        "an equally up-to-date log wins"
    );
}

/// Raft §5.4.1: a candidate whose last term is later wins the vote even with a shorter log.
#[test]
fn grants_vote_to_candidate_with_later_last_term() {
    let (mut voter, mut context) = follower_with_log(2, 3, entries(&[1, 1, 1, 1]));
    voter.on_message(&mut context, NodeId(0), request_vote(4, 1, 3));
    assert!(the_vote(&context).vote_granted);
}

/// Raft §5.4.2, Figure 8: a leader never commits an entry from an earlier term by counting the
/// servers that store it.
#[test]
fn leader_does_not_commit_previous_term_entry_by_counting() {
    let (mut leader, mut context) = leader_with_log(0, 2, entries(&[1, 2]), None);
    leader.on_message(&mut context, NodeId(1), append_reply(3, true, 2));
    assert_eq!(leader.match_index(NodeId(1)), Some(LogIndex(2)));
    assert_eq!(
        leader.commit_index(),
        LogIndex(0),
        "the term-2 entry is on a majority"
    );
}

/// Raft §5.4.2: entries from earlier terms are committed indirectly, when an entry of the
/// current term after them is.
#[test]
fn previous_term_entries_commit_with_current_term_entry() {
    let (mut leader, mut context) = leader_with_log(0, 2, entries(&[1, 2]), None);
    leader.submit(&mut context, client_request(9, Operation::Read { key: 1 }));
    leader.on_message(&mut context, NodeId(1), append_reply(3, true, 3));
    assert_eq!(leader.commit_index(), LogIndex(3));
    assert_eq!(leader.last_applied(), LogIndex(3));
    assert!(replies(&context).contains(&(RequestId(9), Answer::Ok(Some(2)))));
}

/// Raft §5.4.2 with the `commit-previous-term` bug: the same situation commits the old entry.
#[test]
fn commit_previous_term_bug_commits_by_counting() {
    let bug = Some("commit-previous-term");
    let (mut leader, mut context) = leader_with_log(0, 2, entries(&[1, 2]), bug);
    leader.on_message(&mut context, NodeId(1), append_reply(3, true, 2));
    assert_eq!(leader.commit_index(), LogIndex(2));
}

// ---------------------------------------------------------------------------------------------
// §5.5 Follower and candidate crashes; Figure 2 persistent state

/// Raft §5.5, Figure 2: a restarted server recovers currentTerm, votedFor and its log from disk,
/// and relearns the commit index from the leader (it starts at 0).
#[test]
fn restarted_server_recovers_term_vote_and_log() {
    let durable = Durable {
        current_term: Term(6),
        voted_for: Some(NodeId(2)),
        log: entries(&[1, 4, 6]),
        snapshot: None,
    };
    let (mut raft, mut context) = start_with(1, Some(durable), None);
    assert_eq!(raft.role(), Role::Follower);
    assert_eq!(raft.current_term(), Term(6));
    assert_eq!(raft.voted_for(), Some(NodeId(2)));
    assert_eq!(raft.log().entries(), entries(&[1, 4, 6]).as_slice());
    assert_eq!(raft.commit_index(), LogIndex(0));
    raft.on_message(&mut context, NodeId(0), request_vote(6, 3, 6));
    assert!(
        !the_vote(&context).vote_granted,
        "the vote of term 6 survived the crash"
    );
}

/// Figure 2: durable updates rebuild exactly the state the node held.
#[test]
fn durable_updates_replay_to_the_same_state() {
    let mut durable = Durable::default();
    let updates = [
        Update::HardState {
            current_term: Term(2),
            voted_for: Some(NodeId(1)),
        },
        Update::Append {
            first: LogIndex(1),
            entries: entries(&[1, 1, 2]),
        },
        Update::Append {
            first: LogIndex(2),
            entries: vec![entry(2, 20)],
        },
    ];
    for update in updates {
        <Raft>::apply_update(&mut durable, update);
    }
    assert_eq!(durable.current_term, Term(2));
    assert_eq!(durable.voted_for, Some(NodeId(1)));
    assert_eq!(durable.log, vec![entry(1, 1), entry(2, 20)]);
}

// ---------------------------------------------------------------------------------------------
// §8 Client interaction

/// Raft §8: a follower does not serve clients; it redirects them to the leader it knows.
#[test]
fn follower_redirects_client_to_leader() {
    let (mut follower, mut context) = follower_with_log(1, 1, vec![]);
    follower.submit(&mut context, client_request(1, Operation::Read { key: 1 }));
    assert_eq!(
        replies(&context),
        vec![(RequestId(1), Answer::Redirect(None))]
    );
    context.drain_effects();
    follower.on_message(
        &mut context,
        NodeId(0),
        append_entries(1, (0, 0), vec![], 0),
    );
    context.drain_effects();
    follower.submit(&mut context, client_request(2, Operation::Read { key: 1 }));
    assert_eq!(
        replies(&context),
        vec![(RequestId(2), Answer::Redirect(Some(NodeId(0))))]
    );
}

/// Raft §8: reads are linearizable because they go through the log; the leader does not answer
/// from its state machine before the read's entry commits.
#[test]
fn reads_go_through_the_log() {
    let (mut leader, mut context) = leader_with_log(0, 0, vec![], None);
    leader.submit(&mut context, client_request(1, Operation::Read { key: 1 }));
    assert!(replies(&context).is_empty());
    assert_eq!(leader.log().last_index(), LogIndex(1));
}

/// Raft §8 with the `stale-local-read` bug: the leader answers reads at once from its store.
#[test]
fn stale_local_read_bug_answers_without_the_log() {
    let (mut leader, mut context) = leader_with_log(0, 0, vec![], Some("stale-local-read"));
    leader.submit(&mut context, client_request(1, Operation::Read { key: 1 }));
    assert_eq!(replies(&context), vec![(RequestId(1), Answer::Ok(None))]);
    assert_eq!(leader.log().last_index(), LogIndex(0));
}

/// Raft §8: the state machine executes each request once; a retried request already executed
/// is answered from the session table, and one still in the log is not appended twice.
#[test]
fn leader_deduplicates_retried_requests() {
    let (mut leader, mut context) = leader_with_log(0, 0, vec![], None);
    let cas = Operation::Cas {
        key: 1,
        from: 0,
        to: 1,
    };
    leader.submit(
        &mut context,
        client_request(1, Operation::Write { key: 1, value: 0 }),
    );
    leader.submit(&mut context, client_request(2, cas.clone()));
    leader.submit(&mut context, client_request(2, cas.clone()));
    assert_eq!(
        leader.log().last_index(),
        LogIndex(2),
        "the retry is not appended"
    );
    leader.on_message(&mut context, NodeId(1), append_reply(1, true, 2));
    context.drain_effects();
    leader.submit(&mut context, client_request(2, cas));
    assert_eq!(
        replies(&context),
        vec![(RequestId(2), Answer::Ok(None))],
        "the cas ran once; running it again would fail"
    );
    assert_eq!(leader.log().last_index(), LogIndex(2));
}

/// A compare-and-set whose expected value does not match surely did not happen: `Fail`.
#[test]
fn mismatched_cas_fails() {
    let (mut leader, mut context) = leader_with_log(0, 0, vec![], None);
    leader.submit(
        &mut context,
        client_request(
            1,
            Operation::Cas {
                key: 1,
                from: 5,
                to: 6,
            },
        ),
    );
    leader.on_message(&mut context, NodeId(1), append_reply(1, true, 1));
    assert!(matches!(
        replies(&context).as_slice(),
        [(RequestId(1), Answer::Fail(_))]
    ));
}

/// A leader that steps down cannot know whether its uncommitted entries will survive: it
/// answers their clients `Indeterminate`.
#[test]
fn deposed_leader_answers_pending_requests_indeterminate() {
    let (mut leader, mut context) = leader_with_log(0, 0, vec![], None);
    leader.submit(
        &mut context,
        client_request(1, Operation::Write { key: 1, value: 1 }),
    );
    context.drain_effects();
    // A reply of a later term deposes it (a RequestVote would be ignored: §4.2.3).
    leader.on_message(&mut context, NodeId(2), append_reply(2, false, 0));
    assert_eq!(leader.role(), Role::Follower);
    assert!(matches!(
        replies(&context).as_slice(),
        [(RequestId(1), Answer::Indeterminate(_))]
    ));
}

// ---------------------------------------------------------------------------------------------
// Check-quorum (Ongaro's dissertation §6.2)

/// Check-quorum: a leader that heard from no majority within an election timeout steps down;
/// one that did keeps leading.
#[test]
fn leader_without_quorum_steps_down() {
    let (mut leader, mut context) = leader_with_log(0, 0, vec![], None);
    leader.on_message(&mut context, NodeId(1), append_reply(1, true, 0));
    leader.on_timer(&mut context, Timer::CheckQuorum);
    assert!(leader.is_leader(), "n1 answered: 2 of 3");
    leader.on_timer(&mut context, Timer::CheckQuorum);
    assert_eq!(
        leader.role(),
        Role::Follower,
        "nobody answered since the last check"
    );
    assert_eq!(leader.current_term(), Term(1));
    assert_eq!(leader.leader_hint(), None);
}

// ---------------------------------------------------------------------------------------------
// Pre-vote (Ongaro's dissertation §9.6), with the `pre_vote` option

fn pre_vote_node(id: u32, term: u64, log: Vec<Entry>) -> (Raft, Context<Raft>) {
    let durable = Durable {
        current_term: Term(term),
        voted_for: None,
        log,
        snapshot: None,
    };
    let options = Options {
        pre_vote: true,
        ..Options::default()
    };
    start_with_options(id, Some(durable), None, options)
}

fn pre_vote(term: u64, last_log_index: u64, last_log_term: u64) -> Message {
    Message::PreVote(RequestVote {
        term: Term(term),
        last_log_index: LogIndex(last_log_index),
        last_log_term: Term(last_log_term),
    })
}

fn pre_vote_reply(term: u64, vote_granted: bool) -> Message {
    Message::PreVoteReply(RequestVoteReply {
        term: Term(term),
        vote_granted,
    })
}

/// Pre-vote: on election timeout a server first asks for pre-votes for the next term, without
/// raising its own term, voting, or persisting anything.
#[test]
fn pre_vote_asks_before_raising_the_term() {
    let (mut raft, mut context) = pre_vote_node(0, 2, entries(&[1, 2]));
    raft.on_timer(&mut context, Timer::Election);
    assert_eq!(raft.role(), Role::Candidate);
    assert_eq!(raft.current_term(), Term(2), "the term is unchanged");
    assert_eq!(raft.voted_for(), None);
    assert!(persisted(&context).is_empty());
    let requests = sent(&context);
    assert_eq!(requests.len(), 2);
    assert!(requests
        .iter()
        .all(|(_, message)| *message == pre_vote(3, 2, 2)));
}

/// Pre-vote: with a majority of pre-votes the server starts the real election.
#[test]
fn pre_vote_majority_starts_the_real_election() {
    let (mut raft, mut context) = pre_vote_node(0, 2, vec![]);
    raft.on_timer(&mut context, Timer::Election);
    context.drain_effects();
    raft.on_message(&mut context, NodeId(1), pre_vote_reply(3, true));
    assert_eq!(raft.current_term(), Term(3));
    assert_eq!(raft.voted_for(), Some(NodeId(0)));
    assert!(sent(&context)
        .iter()
        .all(|(_, message)| *message == request_vote(3, 0, 0)));
}

/// Pre-vote: a server grants a pre-vote to an up-to-date asker without changing its own term or
/// vote, and denies one whose log is behind.
#[test]
fn pre_vote_is_granted_without_changing_state() {
    let (mut voter, mut context) = pre_vote_node(2, 2, entries(&[1, 2]));
    voter.on_message(&mut context, NodeId(0), pre_vote(3, 2, 2));
    assert_eq!(sent(&context), vec![(NodeId(0), pre_vote_reply(3, true))]);
    assert_eq!(voter.current_term(), Term(2));
    assert_eq!(voter.voted_for(), None);
    assert!(persisted(&context).is_empty());
    context.drain_effects();
    voter.on_message(&mut context, NodeId(1), pre_vote(3, 1, 1));
    assert_eq!(sent(&context), vec![(NodeId(1), pre_vote_reply(2, false))]);
}

/// Pre-vote: a server that heard from its leader within the minimum election timeout refuses
/// pre-votes, so a server that cannot hear the leader never deposes it.
#[test]
fn follower_that_hears_its_leader_refuses_pre_votes() {
    let (mut voter, mut context) = pre_vote_node(2, 2, vec![]);
    voter.on_message(
        &mut context,
        NodeId(1),
        append_entries(2, (0, 0), vec![], 0),
    );
    context.drain_effects();
    voter.on_message(&mut context, NodeId(0), pre_vote(3, 0, 0));
    assert_eq!(sent(&context), vec![(NodeId(0), pre_vote_reply(2, false))]);
    assert_eq!(voter.current_term(), Term(2));
    let later = SimTime(SimDuration::from_millis(150).as_nanos());
    let mut context = Context::new(NodeId(2), NODE_COUNT, later);
    voter.on_message(&mut context, NodeId(0), pre_vote(3, 0, 0));
    assert_eq!(
        sent(&context),
        vec![(NodeId(0), pre_vote_reply(3, true))],
        "silence since"
    );
}

// ---------------------------------------------------------------------------------------------
// Planted bugs at the handler level

/// Raft §5.4.1 with the `vote-without-log-check` bug: a stale candidate gets the vote.
#[test]
fn vote_without_log_check_bug_grants_stale_candidate() {
    let durable = Durable {
        current_term: Term(3),
        voted_for: None,
        log: entries(&[1, 3]),
        snapshot: None,
    };
    let (mut voter, mut context) = start_with(2, Some(durable), Some("vote-without-log-check"));
    voter.on_message(&mut context, NodeId(0), request_vote(4, 0, 0));
    assert!(the_vote(&context).vote_granted);
}

/// Figure 2 with the `vote-not-persisted` bug: the vote is sent but never written.
#[test]
fn vote_not_persisted_bug_replies_without_writing_the_vote() {
    let (mut voter, mut context) = start_with(2, None, Some("vote-not-persisted"));
    voter.on_message(&mut context, NodeId(0), request_vote(1, 0, 0));
    assert!(the_vote(&context).vote_granted);
    assert_eq!(
        persisted(&context),
        vec![Update::HardState {
            current_term: Term(1),
            voted_for: None
        }],
        "only the term change reaches the disk"
    );
}

/// Options come from the scenario's `[protocol]` table: known fields parse, and an unknown
/// name is an error rather than a silently ignored typo.
#[test]
fn options_parse_known_fields_and_reject_unknown_ones() {
    use serde::de::value::{Error, MapDeserializer};
    use serde::Deserialize;
    let parse = |fields: Vec<(&str, &str)>| {
        Options::deserialize(MapDeserializer::<_, Error>::new(fields.into_iter()))
    };
    let options = parse(vec![("heartbeat_interval", "10ms")]).expect("a known field");
    assert_eq!(options.heartbeat_interval, SimDuration::from_millis(10));
    assert_eq!(
        options.election_timeout_min,
        SimDuration::from_millis(150),
        "the default"
    );
    let error = parse(vec![("heartbeat", "10ms")]).expect_err("an unknown field");
    assert!(
        error.to_string().contains("unknown field `heartbeat`"),
        "{error}"
    );
}

// ---------------------------------------------------------------------------------------------
// Dissertation §6.4 Processing read-only queries more efficiently

fn read_options(reads: Reads) -> Options {
    Options {
        reads,
        ..Options::default()
    }
}

fn read(id: u64) -> Request<Operation> {
    client_request(id, Operation::Read { key: 1 })
}

fn context_at(id: u32, millis: u64) -> Context<Raft> {
    Context::new(NodeId(id), NODE_COUNT, SimTime(millis * 1_000_000))
}

/// Node 0, leader of term 1 with `options`, having committed a write of 5 at index 1: an entry
/// of its own term is committed (§6.4 step 1).
fn reading_leader(options: Options, bug: Option<&str>) -> (Raft, Context<Raft>) {
    let (mut leader, mut context) = start_with_options(0, None, bug, options);
    leader.on_timer(&mut context, Timer::Election);
    let vote = RequestVoteReply {
        term: Term(1),
        vote_granted: true,
    };
    leader.on_message(&mut context, NodeId(1), Message::RequestVoteReply(vote));
    assert!(leader.is_leader());
    leader.submit(
        &mut context,
        client_request(100, Operation::Write { key: 1, value: 5 }),
    );
    leader.on_message(&mut context, NodeId(1), append_reply(1, true, 1));
    assert_eq!(leader.commit_index(), LogIndex(1));
    context.drain_effects();
    (leader, context)
}

fn heartbeats(context: &Context<Raft>) -> Vec<(NodeId, u64)> {
    sent(context)
        .into_iter()
        .filter_map(|(target, message)| match message {
            Message::Heartbeat(heartbeat) => Some((target, heartbeat.round)),
            _ => None,
        })
        .collect()
}

fn heartbeat_reply(term: u64, round: u64) -> Message {
    Message::HeartbeatReply(HeartbeatReply {
        term: Term(term),
        round,
    })
}

/// §6.4 step 1: a leader that has not committed an entry of its term does not know the latest
/// commit index; the read goes through the log (which commits such an entry with it).
#[test]
fn read_index_read_before_an_own_term_commit_goes_through_the_log() {
    let options = read_options(Reads::ReadIndex);
    let (mut leader, mut context) = start_with_options(0, None, None, options);
    leader.on_timer(&mut context, Timer::Election);
    let vote = RequestVoteReply {
        term: Term(1),
        vote_granted: true,
    };
    leader.on_message(&mut context, NodeId(1), Message::RequestVoteReply(vote));
    context.drain_effects();
    leader.submit(&mut context, read(1));
    assert_eq!(
        leader.log().last_index(),
        LogIndex(1),
        "the read is an entry"
    );
    assert!(heartbeats(&context).is_empty());
}

/// §6.4 steps 2–4: the leader records its commit index, sends a round of heartbeats, and
/// answers only once a majority (itself and one more of three) acknowledged that round.
#[test]
fn read_index_read_waits_for_a_majority_to_confirm_the_leader() {
    let (mut leader, mut context) = reading_leader(read_options(Reads::ReadIndex), None);
    leader.submit(&mut context, read(1));
    assert_eq!(leader.log().last_index(), LogIndex(1), "no log entry");
    assert_eq!(heartbeats(&context), vec![(NodeId(1), 1), (NodeId(2), 1)]);
    assert!(replies(&context).is_empty(), "not before the round");
    context.drain_effects();
    leader.on_message(&mut context, NodeId(2), heartbeat_reply(1, 1));
    assert_eq!(replies(&context), vec![(RequestId(1), Answer::Ok(Some(5)))]);
}

/// §6.4 step 3: the round must be sent after the read arrived. An acknowledgement of a round
/// already in flight answers only the reads that were waiting for it; later reads wait for the
/// next round, which leaves as soon as the earlier one is confirmed (reads share rounds).
#[test]
fn read_index_read_is_not_confirmed_by_a_round_sent_before_it_arrived() {
    let (mut leader, mut context) = reading_leader(read_options(Reads::ReadIndex), None);
    leader.submit(&mut context, read(1));
    leader.submit(&mut context, read(2));
    leader.submit(&mut context, read(3));
    assert_eq!(
        heartbeats(&context).len(),
        2,
        "one round for the first read"
    );
    context.drain_effects();
    leader.on_message(&mut context, NodeId(1), heartbeat_reply(1, 1));
    assert_eq!(replies(&context), vec![(RequestId(1), Answer::Ok(Some(5)))]);
    assert_eq!(heartbeats(&context), vec![(NodeId(1), 2), (NodeId(2), 2)]);
    context.drain_effects();
    leader.on_message(&mut context, NodeId(2), heartbeat_reply(1, 2));
    assert_eq!(
        replies(&context),
        vec![
            (RequestId(2), Answer::Ok(Some(5))),
            (RequestId(3), Answer::Ok(Some(5)))
        ]
    );
}

/// §6.4 step 2: the read sees what was committed when it arrived, never an entry the leader
/// appended but has not committed.
#[test]
fn read_index_read_does_not_see_uncommitted_writes() {
    let (mut leader, mut context) = reading_leader(read_options(Reads::ReadIndex), None);
    leader.submit(
        &mut context,
        client_request(2, Operation::Write { key: 1, value: 9 }),
    );
    leader.submit(&mut context, read(3));
    context.drain_effects();
    leader.on_message(&mut context, NodeId(1), heartbeat_reply(1, 1));
    assert_eq!(replies(&context), vec![(RequestId(3), Answer::Ok(Some(5)))]);
}

/// A leader that steps down before a read was confirmed answers it `Unavailable`: the read did
/// not happen, and the client asks the next leader.
#[test]
fn leader_stepping_down_gives_up_its_waiting_reads() {
    let (mut leader, mut context) = reading_leader(read_options(Reads::ReadIndex), None);
    leader.submit(&mut context, read(1));
    context.drain_effects();
    leader.on_message(&mut context, NodeId(1), heartbeat_reply(2, 1));
    assert!(!leader.is_leader());
    assert!(matches!(
        replies(&context).as_slice(),
        [(RequestId(1), Answer::Unavailable(_))]
    ));
}

/// §6.4: a follower answers its leader's heartbeat round and, as for an `AppendEntries`,
/// restarts its election timeout; a stale leader's round is answered with the later term.
#[test]
fn follower_answers_a_heartbeat_round_of_its_leader() {
    let (mut follower, mut context) = follower_with_log(1, 1, vec![]);
    let round = Message::Heartbeat(Heartbeat {
        term: Term(1),
        round: 4,
    });
    follower.on_message(&mut context, NodeId(0), round);
    assert_eq!(follower.leader_hint(), Some(NodeId(0)));
    assert_eq!(
        sent(&context),
        vec![(NodeId(0), heartbeat_reply(1, 4))],
        "the round, in its term"
    );
    context.drain_effects();
    let stale = Message::Heartbeat(Heartbeat {
        term: Term(0),
        round: 9,
    });
    follower.on_message(&mut context, NodeId(2), stale);
    assert_eq!(sent(&context), vec![(NodeId(2), heartbeat_reply(1, 9))]);
}

/// The planted bug `read-index-unconfirmed` answers at the read index without the round.
#[test]
fn read_index_unconfirmed_bug_answers_without_a_round() {
    let options = read_options(Reads::ReadIndex);
    let (mut leader, mut context) = reading_leader(options, Some("read-index-unconfirmed"));
    leader.submit(&mut context, read(1));
    assert_eq!(replies(&context), vec![(RequestId(1), Answer::Ok(Some(5)))]);
}

/// §6.4.1: with leases the leader sends a heartbeat round every heartbeat interval; once a
/// majority acknowledged a round, it answers reads at once until the lease ends —
/// `election_timeout_min × (1 − b) / (1 + b)` after the round was *sent* (150ms, b = 10%:
/// 122.7ms), however late the acknowledgement came.
#[test]
fn lease_read_is_answered_without_a_round_until_the_lease_ends() {
    let (mut leader, mut context) = reading_leader(read_options(Reads::Lease), None);
    leader.on_timer(&mut context, Timer::Heartbeat);
    assert_eq!(heartbeats(&context), vec![(NodeId(1), 1), (NodeId(2), 1)]);
    let mut context = context_at(0, 100);
    leader.on_message(&mut context, NodeId(1), heartbeat_reply(1, 1));
    let mut context = context_at(0, 122);
    leader.submit(&mut context, read(1));
    assert_eq!(replies(&context), vec![(RequestId(1), Answer::Ok(Some(5)))]);
    assert!(heartbeats(&context).is_empty(), "within the lease");
    let mut context = context_at(0, 123);
    leader.submit(&mut context, read(2));
    assert!(replies(&context).is_empty(), "the lease ended");
    assert_eq!(heartbeats(&context).len(), 2, "a ReadIndex round instead");
}

/// The planted bug `lease-ignores-drift` lets the lease run the whole minimum election
/// timeout: at 123ms it still answers at once.
#[test]
fn lease_ignores_drift_bug_keeps_the_lease_for_the_whole_timeout() {
    let options = read_options(Reads::Lease);
    let (mut leader, mut context) = reading_leader(options, Some("lease-ignores-drift"));
    leader.on_timer(&mut context, Timer::Heartbeat);
    let mut context = context_at(0, 100);
    leader.on_message(&mut context, NodeId(1), heartbeat_reply(1, 1));
    let mut context = context_at(0, 149);
    leader.submit(&mut context, read(1));
    assert_eq!(replies(&context), vec![(RequestId(1), Answer::Ok(Some(5)))]);
}

/// Dissertation §4.2.3 (disruptive servers), on which §6.4.1 relies: with check-quorum (the
/// default, and so with leases), a server that heard from its leader within the minimum
/// election timeout ignores `RequestVote` — it neither adopts the term nor answers — and votes
/// again once the timeout has passed. Without check-quorum it votes at once.
#[test]
fn with_check_quorum_a_server_ignores_request_vote_soon_after_hearing_from_its_leader() {
    /// A follower that heard from node 0 (term 1) at 200 ms: asked by node 2 for a vote in
    /// term 2 at 300 ms. Returns it and that handler's context.
    fn asked_soon_after_its_leader(options: Options) -> (Raft, Context<Raft>) {
        let (mut follower, _) = start_with_options(1, None, None, options);
        let mut context = context_at(1, 200);
        follower.on_message(
            &mut context,
            NodeId(0),
            append_entries(1, (0, 0), vec![], 0),
        );
        let mut context = context_at(1, 300);
        follower.on_message(&mut context, NodeId(2), request_vote(2, 0, 0));
        (follower, context)
    }
    for options in [Options::default(), read_options(Reads::Lease)] {
        let (mut follower, context) = asked_soon_after_its_leader(options);
        assert_eq!(follower.current_term(), Term(1), "the term is not adopted");
        assert!(sent(&context).is_empty(), "no answer");
        let mut context = context_at(1, 351);
        follower.on_message(&mut context, NodeId(2), request_vote(2, 0, 0));
        assert_eq!(follower.current_term(), Term(2));
        assert!(the_vote(&context).vote_granted);
    }
    let (_, context) = asked_soon_after_its_leader(Options {
        check_quorum: false,
        ..Options::default()
    });
    assert!(the_vote(&context).vote_granted, "without check-quorum");
}

/// §6.4.1: a restarted server may have acknowledged a lease just before its crash; it keeps
/// ignoring `RequestVote` for a minimum election timeout after it starts.
#[test]
fn with_leases_a_restarted_server_waits_before_voting() {
    let (mut follower, _) = start_with_options(1, None, None, read_options(Reads::Lease));
    let mut context = context_at(1, 0);
    follower.on_message(&mut context, NodeId(2), request_vote(1, 0, 0));
    assert!(sent(&context).is_empty());
    let (mut follower, _) = start_with_options(1, None, None, read_options(Reads::Log));
    follower.on_message(&mut context, NodeId(2), request_vote(1, 0, 0));
    assert!(the_vote(&context).vote_granted, "without leases it votes");
}

/// §6.4.1: lease reads are unsafe without check-quorum (a leader cut off from every follower
/// would keep believing it leads): the options check says so and names the fields.
#[test]
fn options_reject_lease_reads_without_check_quorum() {
    let options = Options {
        reads: Reads::Lease,
        check_quorum: false,
        ..Options::default()
    };
    let problem = options.check().expect_err("unsafe");
    assert!(
        problem.contains("check_quorum") && problem.contains("lease"),
        "{problem}"
    );
    let read_index = Options {
        reads: Reads::ReadIndex,
        check_quorum: false,
        ..Options::default()
    };
    assert_eq!(read_index.check(), Ok(()), "ReadIndex needs no clock");
}

// ---------------------------------------------------------------------------------------------
// Dissertation ch. 5 Log compaction

fn compacting_options() -> Options {
    Options {
        snapshot_entries_max: 2,
        ..Options::default()
    }
}

/// Node 0, leader of term 1 with snapshots every 2 applied entries, having committed writes of
/// 5 and 6 to key 1 (requests 100 and 101 of client 7); returns it with everything it persisted.
fn compacted_leader(bug: Option<&str>) -> (Raft, Context<Raft>, Durable) {
    let (mut leader, mut context) = start_with_options(0, None, bug, compacting_options());
    leader.on_timer(&mut context, Timer::Election);
    let vote = RequestVoteReply {
        term: Term(1),
        vote_granted: true,
    };
    leader.on_message(&mut context, NodeId(1), Message::RequestVoteReply(vote));
    for (request, value) in [(100, 5), (101, 6)] {
        leader.submit(
            &mut context,
            client_request(request, Operation::Write { key: 1, value }),
        );
    }
    leader.on_message(&mut context, NodeId(1), append_reply(1, true, 2));
    assert_eq!(leader.commit_index(), LogIndex(2));
    assert_eq!(
        leader.log().snapshot_index(),
        LogIndex::ZERO,
        "not in the same step"
    );
    // The next step starts by snapshotting what the earlier ones applied.
    leader.on_timer(&mut context, Timer::Heartbeat);
    let mut disk = Durable::default();
    for update in persisted(&context) {
        <Raft>::apply_update(&mut disk, update);
    }
    context.drain_effects();
    (leader, context, disk)
}

fn the_snapshot(disk: &Durable) -> Snapshot {
    disk.snapshot.clone().expect("a snapshot on disk")
}

/// §5.1: once `snapshot_entries_max` applied entries are in the log, the node snapshots its
/// state machine at `lastApplied` (as its next step starts, as a background task would),
/// writes the snapshot to disk and discards the entries.
#[test]
fn a_node_snapshots_its_state_once_enough_entries_are_applied() {
    let (leader, _, disk) = compacted_leader(None);
    assert_eq!(leader.log().snapshot_index(), LogIndex(2));
    assert_eq!(leader.log().snapshot_term(), Term(1));
    assert!(
        leader.log().entries().is_empty(),
        "the entries are discarded"
    );
    assert_eq!(leader.log().last_index(), LogIndex(2), "indexes go on");
    let snapshot = the_snapshot(&disk);
    assert_eq!(
        (snapshot.last_index, snapshot.last_term),
        (LogIndex(2), Term(1))
    );
    assert!(
        disk.log.is_empty(),
        "the disk's log holds only what follows the snapshot"
    );
}

/// §5.1: a restarted node starts from its snapshot: state machine (with its sessions), commit
/// index and `lastApplied` at the snapshot's last index, the log after it.
#[test]
fn a_restarted_node_starts_from_its_snapshot() {
    let (_, _, disk) = compacted_leader(None);
    let (mut node, mut context) = start_with_options(0, Some(disk), None, compacting_options());
    assert_eq!(node.commit_index(), LogIndex(2));
    assert_eq!(node.last_applied(), LogIndex(2));
    assert_eq!(node.log().last_index(), LogIndex(2));
    assert_eq!(node.log().last_term(), Term(1));
    // It wins an election and answers a retried write from the session table in its
    // snapshot, without appending it again (§8).
    node.on_timer(&mut context, Timer::Election);
    let vote = RequestVoteReply {
        term: Term(2),
        vote_granted: true,
    };
    node.on_message(&mut context, NodeId(1), Message::RequestVoteReply(vote));
    assert!(node.is_leader());
    context.drain_effects();
    node.submit(
        &mut context,
        client_request(101, Operation::Write { key: 1, value: 6 }),
    );
    assert_eq!(replies(&context), vec![(RequestId(101), Answer::Ok(None))]);
    assert_eq!(node.log().last_index(), LogIndex(2), "not appended again");
}

/// The planted bug `snapshot-without-sessions`: the snapshot forgets the session table, so the
/// restarted node appends the retried write again — it would run twice.
#[test]
fn snapshot_without_sessions_bug_runs_a_retried_request_again() {
    let (_, _, disk) = compacted_leader(Some("snapshot-without-sessions"));
    let options = compacting_options();
    let (mut node, mut context) =
        start_with_options(0, Some(disk), Some("snapshot-without-sessions"), options);
    node.on_timer(&mut context, Timer::Election);
    let vote = RequestVoteReply {
        term: Term(2),
        vote_granted: true,
    };
    node.on_message(&mut context, NodeId(1), Message::RequestVoteReply(vote));
    context.drain_effects();
    node.submit(
        &mut context,
        client_request(101, Operation::Write { key: 1, value: 6 }),
    );
    assert!(replies(&context).is_empty());
    assert_eq!(node.log().last_index(), LogIndex(3), "appended again");
}

/// §5.3: a leader whose `nextIndex` for a follower falls inside its snapshot sends the
/// snapshot, and then entries from just after it.
#[test]
fn leader_sends_its_snapshot_to_a_follower_that_needs_discarded_entries() {
    let (mut leader, mut context, disk) = compacted_leader(None);
    // n2 never answered: its nextIndex moved back to 1 after a rejection.
    leader.on_message(&mut context, NodeId(2), append_reply(1, false, 0));
    let installs: Vec<(NodeId, Snapshot)> = sent(&context)
        .into_iter()
        .filter_map(|(target, message)| match message {
            Message::InstallSnapshot(install) => Some((target, install.snapshot)),
            _ => None,
        })
        .collect();
    assert_eq!(installs, vec![(NodeId(2), the_snapshot(&disk))]);
    assert_eq!(leader.next_index(NodeId(2)), Some(LogIndex(3)));
    context.drain_effects();
    leader.on_message(&mut context, NodeId(2), append_reply(1, true, 2));
    assert_eq!(leader.match_index(NodeId(2)), Some(LogIndex(2)));
}

/// Figure 5.3, rules 7 and 8: a follower whose log does not hold the snapshot's last entry
/// discards its whole log, loads the snapshot's state, and answers that it matches up to the
/// snapshot's last index; the disk gets the snapshot without the old log.
#[test]
fn follower_installs_a_snapshot_its_log_does_not_match() {
    let (_, _, disk) = compacted_leader(None);
    let snapshot = the_snapshot(&disk);
    let (mut follower, mut context) = follower_with_log(2, 1, entries(&[1]));
    let install = Message::InstallSnapshot(InstallSnapshot {
        term: Term(1),
        snapshot: snapshot.clone(),
    });
    follower.on_message(&mut context, NodeId(0), install);
    assert_eq!(follower.log().snapshot_index(), LogIndex(2));
    assert!(follower.log().entries().is_empty());
    assert_eq!(
        (follower.commit_index(), follower.last_applied()),
        (LogIndex(2), LogIndex(2))
    );
    assert_eq!(
        sim::service::StateMachine::query(follower.state_machine(), &Operation::Read { key: 1 }),
        Some(Some(6))
    );
    assert!(persisted(&context).contains(&Update::Snapshot {
        snapshot,
        retain_log: false
    }));
    let reply = the_append_entries_reply(&context);
    assert!(reply.success);
    assert_eq!(reply.match_hint, LogIndex(2));
}

/// Figure 5.3, rule 6: a follower whose log holds the snapshot's last entry keeps the entries
/// after it.
#[test]
fn follower_keeps_the_entries_after_a_snapshot_its_log_matches() {
    let (_, _, disk) = compacted_leader(None);
    let snapshot = the_snapshot(&disk);
    let mut log = vec![
        entry_of(1, 100, Operation::Write { key: 1, value: 5 }),
        entry_of(1, 101, Operation::Write { key: 1, value: 6 }),
    ];
    log.push(entry(1, 102));
    let (mut follower, mut context) = follower_with_log(2, 1, log);
    let install = Message::InstallSnapshot(InstallSnapshot {
        term: Term(1),
        snapshot: snapshot.clone(),
    });
    follower.on_message(&mut context, NodeId(0), install);
    assert_eq!(follower.log().snapshot_index(), LogIndex(2));
    assert_eq!(
        follower.log().last_index(),
        LogIndex(3),
        "the entry after it stays"
    );
    assert!(persisted(&context).contains(&Update::Snapshot {
        snapshot,
        retain_log: true
    }));
}

/// Figure 5.3, rule 1: a snapshot from an earlier term is refused, with the later term.
#[test]
fn follower_refuses_a_snapshot_from_an_earlier_term() {
    let (_, _, disk) = compacted_leader(None);
    let (mut follower, mut context) = follower_with_log(2, 3, vec![]);
    let install = Message::InstallSnapshot(InstallSnapshot {
        term: Term(1),
        snapshot: the_snapshot(&disk),
    });
    follower.on_message(&mut context, NodeId(0), install);
    assert_eq!(follower.log().snapshot_index(), LogIndex::ZERO);
    let reply = the_append_entries_reply(&context);
    assert_eq!((reply.term, reply.success), (Term(3), false));
}

fn entry_of(term: u64, request: u64, operation: Operation) -> Entry {
    Entry {
        term: Term(term),
        command: Command::Client(Request {
            id: RequestId(request),
            client: ClientId(7),
            operation,
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Membership changes (Ongaro's dissertation ch. 4)

fn configuration(members: &[u32]) -> Configuration {
    members
        .iter()
        .fold(Configuration::default(), |configuration, member| {
            configuration.with(NodeId(*member))
        })
}

fn configuration_entry(term: u64, members: &[u32]) -> Entry {
    Entry {
        term: Term(term),
        command: Command::Configuration(configuration(members)),
    }
}

/// The options of a three-node cluster whose first configuration is `{n0 n1}` (n2 is spare).
fn two_of_three() -> Options {
    Options {
        initial_members: Some(2),
        ..Options::default()
    }
}

/// The configuration entries in `raft`'s log, in order.
fn configurations_in_log(raft: &Raft) -> Vec<Configuration> {
    raft.log()
        .entries()
        .iter()
        .filter_map(|entry| match entry.command {
            Command::Configuration(configuration) => Some(configuration),
            Command::Client(_) => None,
        })
        .collect()
}

/// §4.1: a server uses the latest configuration in its log, committed or not — it takes effect
/// when appended — and a configuration entry that a conflict truncates no longer counts: the
/// server reverts to the configuration before it.
#[test]
fn a_configuration_takes_effect_when_appended_and_reverts_when_truncated() {
    let (mut follower, mut context) = follower_with_log(1, 1, entries(&[1]));
    assert_eq!(follower.configuration(), configuration(&[0, 1, 2]));
    let change = vec![configuration_entry(1, &[0, 1])];
    follower.on_message(
        &mut context,
        NodeId(0),
        append_entries(1, (1, 1), change, 1),
    );
    assert_eq!(follower.commit_index(), LogIndex(1), "not committed");
    assert_eq!(follower.configuration(), configuration(&[0, 1]));
    assert_eq!(follower.configuration_index(), LogIndex(2));
    // A leader of term 2 holds another entry at index 2: the configuration entry goes.
    let mut context = context_at(1, 1_000);
    follower.on_message(
        &mut context,
        NodeId(2),
        append_entries(2, (1, 1), vec![entry(2, 7)], 1),
    );
    assert_eq!(follower.configuration(), configuration(&[0, 1, 2]));
    assert_eq!(follower.configuration_index(), LogIndex::ZERO);
}

/// §4.1 with the correction of 2015 (Ongaro, raft-dev, "bug in single-server membership
/// changes"): a new leader changes the configuration only once it has committed an entry of
/// its own term; until then a requested change waits.
#[test]
fn a_leader_changes_the_configuration_only_after_committing_an_entry_of_its_term() {
    let (mut leader, mut context) = leader_with_log(0, 1, entries(&[1]), None);
    leader.on_membership_change(&mut context, MembershipChange::Remove(NodeId(2)));
    assert!(
        configurations_in_log(&leader).is_empty(),
        "no entry of t2 committed yet"
    );
    leader.submit(&mut context, client_request(5, Operation::Read { key: 1 }));
    assert_eq!(leader.log().last_index(), LogIndex(2));
    leader.on_message(&mut context, NodeId(1), append_reply(2, true, 2));
    assert_eq!(leader.commit_index(), LogIndex(2));
    // The entry of its term committed: the change is appended and in force at once.
    assert_eq!(configurations_in_log(&leader), vec![configuration(&[0, 1])]);
    assert_eq!(leader.configuration(), configuration(&[0, 1]));
    assert_eq!(leader.configuration_index(), LogIndex(3));
}

/// §4.1: a leader does not begin a configuration change until the previous one is committed;
/// and it counts majorities of the configuration in force, the uncommitted one included.
#[test]
fn a_leader_begins_one_change_at_a_time() {
    let (mut leader, mut context) = reading_leader(Options::default(), None);
    leader.on_membership_change(&mut context, MembershipChange::Remove(NodeId(2)));
    assert_eq!(leader.configuration(), configuration(&[0, 1]));
    context.drain_effects();
    // Asked to add n2 back while {n0 n1} is uncommitted: nothing is sent to n2 yet.
    leader.on_membership_change(&mut context, MembershipChange::Add(NodeId(2)));
    leader.on_timer(&mut context, Timer::Heartbeat);
    assert!(sent(&context).iter().all(|(peer, _)| *peer != NodeId(2)));
    assert_eq!(configurations_in_log(&leader).len(), 1);
    // n1 alone is a majority of {n0 n1}: the change commits, and the next one begins with
    // catching n2 up (§4.2.1).
    context.drain_effects();
    leader.on_message(&mut context, NodeId(1), append_reply(1, true, 2));
    assert_eq!(leader.commit_index(), LogIndex(2));
    assert!(sent(&context).iter().any(|(peer, _)| *peer == NodeId(2)));
}

/// The planted bug `two-changes-at-once` begins the next change while the last is uncommitted.
#[test]
fn two_changes_at_once_bug_begins_a_change_while_one_is_uncommitted() {
    let (mut leader, mut context) = reading_leader(Options::default(), Some("two-changes-at-once"));
    leader.on_membership_change(&mut context, MembershipChange::Remove(NodeId(2)));
    context.drain_effects();
    leader.on_membership_change(&mut context, MembershipChange::Add(NodeId(2)));
    assert!(sent(&context).iter().any(|(peer, _)| *peer == NodeId(2)));
}

/// §4.2.1: a new server is caught up as a non-voting learner before the configuration entry
/// adding it is appended: a round that takes at least the minimum election timeout is
/// followed by another; one that takes less ends the catch-up.
#[test]
fn a_new_server_is_caught_up_in_rounds_before_it_counts() {
    let (mut leader, mut context) = reading_leader(two_of_three(), None);
    assert_eq!(leader.configuration(), configuration(&[0, 1]));
    leader.on_membership_change(&mut context, MembershipChange::Add(NodeId(2)));
    assert!(sent(&context).iter().any(|(peer, message)| {
        *peer == NodeId(2) && matches!(message, Message::AppendEntries(_))
    }));
    assert_eq!(leader.configuration(), configuration(&[0, 1]), "a learner");
    // The first round ends 200ms later, after the minimum election timeout (150ms): another.
    let mut context = context_at(0, 200);
    leader.on_message(&mut context, NodeId(2), append_reply(1, true, 1));
    assert!(configurations_in_log(&leader).is_empty());
    // The second round ends within 10ms: the server is caught up and added.
    let mut context = context_at(0, 210);
    leader.on_message(&mut context, NodeId(2), append_reply(1, true, 1));
    assert_eq!(
        configurations_in_log(&leader),
        vec![configuration(&[0, 1, 2])]
    );
    assert_eq!(leader.configuration(), configuration(&[0, 1, 2]));
}

/// §4.2.2: a leader removed from the configuration keeps leading — without counting itself —
/// until the configuration without it is committed, then steps down; outside a committed
/// configuration it never campaigns.
#[test]
fn a_removed_leader_steps_down_once_the_change_commits() {
    let (mut leader, mut context) = reading_leader(Options::default(), None);
    leader.on_membership_change(&mut context, MembershipChange::Remove(NodeId(0)));
    assert_eq!(leader.configuration(), configuration(&[1, 2]));
    assert!(leader.is_leader());
    // n1 and n0 are not a majority of {n1 n2}: the leader's own log does not count.
    leader.on_message(&mut context, NodeId(1), append_reply(1, true, 2));
    assert_eq!(leader.commit_index(), LogIndex(1));
    assert!(leader.is_leader());
    leader.on_message(&mut context, NodeId(2), append_reply(1, true, 2));
    assert_eq!(leader.commit_index(), LogIndex(2));
    assert_eq!(leader.role(), Role::Follower);
    let term = leader.current_term();
    let mut context = context_at(0, 1_000);
    leader.on_timer(&mut context, Timer::Election);
    assert_eq!(
        leader.current_term(),
        term,
        "a removed server does not campaign"
    );
}

/// §4.2.3: a removed server that times out and campaigns does not disrupt the leader, which
/// (with check-quorum) ignores its `RequestVote`.
#[test]
fn a_leader_ignores_request_vote_from_a_removed_server() {
    let (mut leader, mut context) = leader_with_log(0, 1, entries(&[1]), None);
    leader.on_message(&mut context, NodeId(2), request_vote(9, 1, 1));
    assert!(leader.is_leader());
    assert_eq!(leader.current_term(), Term(2));
    assert!(sent(&context).is_empty());
}

/// §5.1 with §4.1: a snapshot carries the latest configuration of the entries it covers, and
/// a server restarted from it uses it.
#[test]
fn a_snapshot_carries_the_configuration() {
    let options = Options {
        snapshot_entries_max: 2,
        ..Options::default()
    };
    let (mut follower, mut context) = start_with_options(1, None, None, options.clone());
    let log = vec![entry(1, 1), configuration_entry(1, &[0, 1])];
    follower.on_message(&mut context, NodeId(0), append_entries(1, (0, 0), log, 2));
    assert_eq!(follower.last_applied(), LogIndex(2));
    // A snapshot is taken as the next handler starts.
    follower.on_timer(&mut context, Timer::Heartbeat);
    let snapshot = persisted(&context)
        .into_iter()
        .find_map(|update| match update {
            Update::Snapshot { snapshot, .. } => Some(snapshot),
            _ => None,
        })
        .expect("a snapshot");
    assert_eq!(snapshot.configuration, configuration(&[0, 1]));
    let durable = Durable {
        current_term: Term(1),
        voted_for: None,
        log: vec![],
        snapshot: Some(snapshot),
    };
    let (restarted, _) = start_with_options(1, Some(durable), None, options);
    assert_eq!(restarted.configuration(), configuration(&[0, 1]));
}
