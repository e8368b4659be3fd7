//! Each planted bug, driven into the situation where it breaks its rule, is caught by the
//! invariant that rule protects (or, for reads, shows the stale answer the linearizability
//! checker rejects). The correct protocol passes the same schedule.

mod raft_support;

use protocols::raft::{Bug, LogIndex, Raft, Term};
use raft_support::{figure_8_until_c, read, write, Cluster};
use sim::protocol::Protocol;
use sim::service::Answer;

/// Every bug the essay documents is selectable by its name.
#[test]
fn every_planted_bug_is_selectable_by_name() {
    assert_eq!(
        <Raft>::BUGS,
        [
            "vote-without-log-check",
            "commit-previous-term",
            "vote-not-persisted",
            "stale-local-read",
            "no-dedup"
        ]
    );
    for name in <Raft>::BUGS {
        assert_eq!(Bug::from_name(name).map(Bug::name), Some(*name));
    }
    assert_eq!(Bug::from_name("no-such-bug"), None);
}

/// Figure 8 (c)–(d) with `commit-previous-term`: n0 commits the term-2 entry by counting and
/// applies it; n4 then wins term 5 without it. Leader completeness fails at that election.
#[test]
fn commit_previous_term_is_caught_by_leader_completeness() {
    let mut cluster = figure_8_until_c(Some("commit-previous-term"));
    assert_eq!(
        cluster.node(0).commit_index(),
        LogIndex(2),
        "committed by counting"
    );
    cluster.assert_safe();
    cluster.in_flight.clear();
    cluster.crash(0);
    cluster.restart(4);
    cluster.time_out(4);
    cluster.deliver_votes();
    cluster.time_out(4);
    cluster.deliver_votes();
    assert!(cluster.node(4).is_leader());
    assert_eq!(cluster.violated_property(), Some("leader-completeness"));
}

/// Raft §5.4.1 with `vote-without-log-check`: a server that missed a committed write wins an
/// election with an empty log. Leader completeness fails at once.
#[test]
fn vote_without_log_check_is_caught_by_leader_completeness() {
    for bug in [None, Some("vote-without-log-check")] {
        let mut cluster = Cluster::with_bug(3, bug);
        cluster.elect(0);
        cluster.isolate(2);
        cluster.request(0, write(1));
        cluster.deliver_all();
        assert_eq!(cluster.node(0).last_applied(), LogIndex(1));
        cluster.heal();
        cluster.time_out(2);
        cluster.deliver_votes();
        match bug {
            None => {
                assert!(!cluster.node(2).is_leader());
                cluster.assert_safe();
            }
            Some(_) => {
                assert!(cluster.node(2).is_leader());
                assert_eq!(cluster.violated_property(), Some("leader-completeness"));
            }
        }
    }
}

/// Figure 2 with `vote-not-persisted`: n2 votes for n0, crashes and forgets; in the same term
/// it votes for n1 too, and both lead term 1. Election safety fails.
#[test]
fn vote_not_persisted_is_caught_by_election_safety() {
    for bug in [None, Some("vote-not-persisted")] {
        let mut cluster = Cluster::with_bug(3, bug);
        cluster.connected[0][1] = false;
        cluster.connected[1][0] = false;
        cluster.time_out(0);
        cluster.deliver_votes();
        assert!(cluster.node(0).is_leader());
        cluster.in_flight.clear();
        cluster.crash(2);
        cluster.restart(2);
        cluster.time_out(1);
        assert_eq!(cluster.node(1).current_term(), Term(1));
        cluster.deliver_votes();
        match bug {
            None => {
                assert!(!cluster.node(1).is_leader(), "n2 remembers its vote");
                cluster.assert_safe();
            }
            Some(_) => assert_eq!(cluster.violated_property(), Some("election-safety")),
        }
    }
}

/// Raft §8 with `stale-local-read`: a leader cut off by a partition keeps answering reads from
/// its own state machine after the majority elected a new leader and overwrote the value. The
/// correct leader puts the read in its log, where it cannot commit, and answers
/// `Indeterminate` once it learns of the new term.
#[test]
fn stale_local_read_returns_an_overwritten_value() {
    for bug in [None, Some("stale-local-read")] {
        let mut cluster = Cluster::with_bug(3, bug);
        cluster.elect(0);
        cluster.request(0, write(1));
        cluster.deliver_all();
        cluster.isolate(0);
        cluster.elect(1);
        let overwrite = cluster.request(1, write(2));
        cluster.deliver_all();
        assert_eq!(cluster.replies_to(overwrite), vec![Answer::Ok(None)]);
        let stale = cluster.request(0, read());
        match bug {
            None => {
                assert!(cluster.replies_to(stale).is_empty());
                cluster.heal();
                cluster.heartbeat(1);
                assert!(matches!(
                    cluster.replies_to(stale).as_slice(),
                    [Answer::Indeterminate(_)]
                ));
            }
            Some(_) => assert_eq!(
                cluster.replies_to(stale),
                vec![Answer::Ok(Some(1))],
                "the value before the acknowledged write of 2: not linearizable"
            ),
        }
        // The invariants see nothing wrong: only the client history can show this bug.
        cluster.assert_safe();
    }
}

/// Raft §8 with `no-dedup`: a client's retry of a write that already committed (its answer was
/// lost) is appended and executed again. The correct protocol answers the retry from its
/// session table and appends nothing; the buggy one applies a second entry, which — with
/// another client's write in between — a linearizability check rejects.
#[test]
fn no_dedup_executes_a_retried_request_twice() {
    for bug in [None, Some("no-dedup")] {
        let mut cluster = Cluster::with_bug(3, bug);
        cluster.elect(0);
        let first = cluster.request(0, write(1));
        cluster.deliver_all();
        assert_eq!(cluster.replies_to(first), vec![Answer::Ok(None)]);
        assert_eq!(cluster.node(0).last_applied(), LogIndex(1));
        // The answer was lost on the way; the client retries the same request.
        cluster.resend(0, first, write(1));
        cluster.deliver_all();
        let (applied, answers) = match bug {
            None => (LogIndex(1), 2),
            Some(_) => (LogIndex(2), 2),
        };
        assert_eq!(cluster.node(0).last_applied(), applied, "bug {bug:?}");
        assert_eq!(cluster.replies_to(first).len(), answers);
        cluster.assert_safe();
    }
}
