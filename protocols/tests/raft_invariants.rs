//! The invariant checker says no: each of the five properties of Figure 3 is broken on purpose, by forging
//! the messages a faulty server would send, and the checker names it. (The planted-bug tests
//! show the same from real executions; these pin each check on its own.)

mod raft_support;

use protocols::raft::{
    AppendEntries, Command, Entry, LogIndex, Message, RequestVoteReply, Term, Timer,
};
use raft_support::{write, Cluster};
use sim::protocol::{ClientId, NodeId, Protocol, RequestId};
use sim::service::Request;
use sim::workload::register::Operation;

fn entry(term: u64, request: u64) -> Entry {
    Entry {
        term: Term(term),
        command: Command::Client(Request {
            id: RequestId(request),
            client: ClientId(9),
            operation: Operation::Write {
                key: 1,
                value: request as i64,
            },
        }),
    }
}

/// Delivers a forged `AppendEntries` to `target` as if `source` sent it.
fn forge_append_entries(
    cluster: &mut Cluster,
    source: u32,
    target: u32,
    term: u64,
    prev: (u64, u64),
    entries: Vec<Entry>,
    leader_commit: u64,
) {
    let message = Message::AppendEntries(AppendEntries {
        term: Term(term),
        prev_log_index: LogIndex(prev.0),
        prev_log_term: Term(prev.1),
        entries,
        leader_commit: LogIndex(leader_commit),
    });
    cluster.step(target, |raft, context| {
        raft.on_message(context, NodeId(source), message)
    });
}

/// Election safety: a second leader in a term is flagged the moment it wins.
#[test]
fn election_safety_flags_two_leaders_in_one_term() {
    let mut cluster = Cluster::new(3);
    cluster.time_out(0);
    cluster.time_out(1);
    cluster.in_flight.clear();
    // n2 "votes" for both candidates of term 1, as a server that forgot its vote would.
    for candidate in [0, 1] {
        let vote = Message::RequestVoteReply(RequestVoteReply {
            term: Term(1),
            vote_granted: true,
        });
        cluster.step(candidate, |raft, context| {
            raft.on_message(context, NodeId(2), vote)
        });
        assert!(cluster.node(candidate).is_leader());
    }
    assert_eq!(cluster.violated_property(), Some("election-safety"));
}

/// Log matching: two logs holding an entry with the same index and term but a different
/// command is flagged.
#[test]
fn log_matching_flags_same_index_and_term_with_different_commands() {
    let mut cluster = Cluster::new(3);
    cluster.elect(0);
    cluster.request(0, write(1));
    cluster.deliver_all();
    cluster.assert_safe();
    // A forged leader of term 1 hands n2 another command at index 1.
    cluster.crash(2);
    cluster.disks[2].log.clear();
    cluster.restart(2);
    forge_append_entries(&mut cluster, 1, 2, 1, (0, 0), vec![entry(1, 99)], 0);
    assert_eq!(cluster.violated_property(), Some("log-matching"));
}

/// State-machine safety: a node applying a different command at an index another node applied
/// is flagged, even though the first node has crashed since.
#[test]
fn state_machine_safety_flags_a_different_command_applied_at_one_index() {
    let mut cluster = Cluster::new(3);
    cluster.elect(0);
    cluster.request(0, write(1));
    cluster.deliver_all();
    assert_eq!(cluster.node(0).last_applied(), LogIndex(1));
    cluster.crash(0);
    // n2 lost its disk and a forged leader of a later term commits another entry at index 1.
    cluster.crash(2);
    cluster.disks[2].log.clear();
    cluster.restart(2);
    forge_append_entries(&mut cluster, 1, 2, 5, (0, 0), vec![entry(5, 99)], 1);
    assert_eq!(cluster.violated_property(), Some("state-machine-safety"));
}

/// Leader completeness: a leader of a later term whose log lacks a committed entry is flagged,
/// and the verdict names the term in which the entry was committed (n0 commits index 1 in term
/// 1), not an applying node's later term.
#[test]
fn leader_completeness_flags_a_leader_missing_a_committed_entry() {
    let mut cluster = Cluster::new(3);
    cluster.isolate(2);
    cluster.elect(0);
    cluster.request(0, write(1));
    cluster.deliver_all();
    assert_eq!(cluster.node(0).last_applied(), LogIndex(1));
    cluster.heal();
    // n2 never got the entry; forged votes make it leader of term 2.
    cluster.time_out(2);
    cluster.time_out(2);
    let term = cluster.node(2).current_term();
    assert_eq!(term, Term(2), "a term after n0's");
    cluster.in_flight.clear();
    let vote = Message::RequestVoteReply(RequestVoteReply {
        term,
        vote_granted: true,
    });
    cluster.step(2, |raft, context| raft.on_message(context, NodeId(1), vote));
    assert!(cluster.node(2).is_leader());
    let violation = cluster.violation.as_ref().expect("flagged");
    assert_eq!(violation.property, "leader-completeness");
    assert!(
        violation.detail.contains("which n0 committed in t1"),
        "{}",
        violation.detail
    );
}

/// Leader append-only (Figure 3, §5.3): a leader whose log loses an entry while it leads is
/// flagged. No handler of the protocol does that, so the forged server is the same leader seen
/// again with the log it had before its last append.
#[test]
fn leader_append_only_flags_a_leader_whose_log_lost_an_entry() {
    let mut cluster = Cluster::new(3);
    cluster.elect(0);
    cluster.request(0, write(1));
    cluster.deliver_all();
    let before_append = cluster.node(0).clone();
    cluster.request(0, write(2));
    cluster.assert_safe();
    assert_eq!(cluster.node(0).log().last_index(), LogIndex(2));
    cluster.in_flight.clear();
    cluster.nodes[0] = Some(before_append);
    cluster.fire(0, Timer::Heartbeat);
    assert!(cluster.node(0).is_leader());
    assert_eq!(cluster.violated_property(), Some("leader-append-only"));
}

/// Leader append-only: a leader that replaces its last entry by another of its term (a
/// truncation and an append in one step) is flagged, not only one whose log got shorter.
#[test]
fn leader_append_only_flags_a_leader_that_rewrote_its_last_entry() {
    let mut cluster = Cluster::new(3);
    cluster.elect(0);
    cluster.request(0, write(1));
    // The same leader, in another history of the same term, appended other commands.
    let mut other = Cluster::new(3);
    other.next_request = 100;
    other.elect(0);
    other.request(0, write(7));
    other.request(0, write(8));
    let forged = other.node(0).clone();
    cluster.assert_safe();
    cluster.in_flight.clear();
    cluster.nodes[0] = Some(forged);
    cluster.fire(0, Timer::Heartbeat);
    assert_eq!(cluster.violated_property(), Some("leader-append-only"));
}

/// A leader that only appends passes, across heartbeats, commits and client requests.
#[test]
fn leader_append_only_passes_a_leader_that_only_appends() {
    let mut cluster = Cluster::new(3);
    cluster.elect(0);
    for value in 1..=5 {
        cluster.request(0, write(value));
        cluster.heartbeat(0);
        cluster.deliver_all();
    }
    assert_eq!(cluster.node(0).commit_index(), LogIndex(5));
    cluster.assert_safe();
}
