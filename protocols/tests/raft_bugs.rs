//! Each planted bug, driven into the situation where it breaks its rule, is caught by the
//! invariant that rule protects (or, for reads, shows the stale answer the linearizability
//! checker rejects). The correct protocol passes the same schedule.

mod raft_support;

use protocols::raft::{Bug, LogIndex, Options, Raft, Reads, Term};
use raft_support::{figure_8_until_c, is_vote, link, read, write, Cluster};
use sim::protocol::Protocol;
use sim::protocol::{Context, NodeId};
use sim::service::Answer;
use sim::time::SimTime;

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
            "no-dedup",
            "truncate-on-append",
            "ack-before-persist",
            "accept-stale-leader",
            "match-from-next-index",
            "quorum-off-by-one",
            "apply-uncommitted",
            "skip-prev-term-check",
            "count-stale-votes",
            "vote-compare-length-only",
            "commit-not-capped",
            "count-duplicate-votes",
            "read-index-unconfirmed",
            "lease-ignores-drift",
            "snapshot-without-sessions",
            "two-changes-at-once"
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

/// Dissertation §6.4 with `read-index-unconfirmed`: a leader cut off by a partition, which has
/// committed an entry of its term, answers a read at its read index without the heartbeat
/// round — the value before a write the new leader acknowledged. The correct protocol sends the
/// round, which no majority answers, and the read waits; when the partition heals the old
/// leader learns the later term and gives the read up (it did not happen).
#[test]
fn read_index_unconfirmed_returns_an_overwritten_value() {
    let options = Options {
        reads: Reads::ReadIndex,
        ..Options::default()
    };
    for bug in [None, Some("read-index-unconfirmed")] {
        let mut cluster = Cluster::with_options(3, bug, options.clone());
        cluster.elect(0);
        cluster.request(0, write(1));
        cluster.deliver_all();
        cluster.isolate(0);
        cluster.elect(1);
        let overwrite = cluster.request(1, write(2));
        cluster.deliver_all();
        assert_eq!(cluster.replies_to(overwrite), vec![Answer::Ok(None)]);
        let stale = cluster.request(0, read());
        assert_eq!(cluster.node(0).log().last_index(), LogIndex(1), "no entry");
        match bug {
            None => {
                assert!(cluster.replies_to(stale).is_empty());
                cluster.heal();
                cluster.heartbeat(1);
                cluster.heartbeat(0);
                assert!(matches!(
                    cluster.replies_to(stale).as_slice(),
                    [Answer::Unavailable(_)]
                ));
            }
            Some(_) => assert_eq!(
                cluster.replies_to(stale),
                vec![Answer::Ok(Some(1))],
                "the value before the acknowledged write of 2: not linearizable"
            ),
        }
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

/// Figure 2, receiver rule 3, with `truncate-on-append`: n1 stores entries 1 and 2 and the
/// leader commits both; a duplicate of the first `AppendEntries` then makes n1 delete entry 2.
/// When the leader crashes, n1 wins without it: leader completeness fails.
#[test]
fn truncate_on_append_is_caught_by_leader_completeness() {
    for bug in [None, Some("truncate-on-append")] {
        let mut cluster = Cluster::with_bug(3, bug);
        cluster.elect(0);
        cluster.isolate(2);
        cluster.request(0, write(1));
        let first = cluster
            .in_flight
            .iter()
            .find(|e| link(e, 0, 1))
            .cloned()
            .unwrap();
        cluster.deliver_all();
        cluster.request(0, write(2));
        cluster.deliver_all();
        assert_eq!(cluster.node(0).last_applied(), LogIndex(2));
        cluster.in_flight.push(first);
        cluster.deliver_all();
        let kept = cluster.node(1).log().last_index();
        cluster.crash(0);
        cluster.heal();
        cluster.time_out(1);
        cluster.deliver_votes();
        assert!(cluster.node(1).is_leader());
        match bug {
            None => {
                assert_eq!(kept, LogIndex(2), "a matching entry is never deleted");
                cluster.assert_safe();
            }
            Some(_) => {
                assert_eq!(kept, LogIndex(1), "the duplicate erased entry 2");
                assert_eq!(cluster.violated_property(), Some("leader-completeness"));
            }
        }
    }
}

/// Figure 2 ("updated on stable storage before responding") with `ack-before-persist`: the
/// follower's reply leaves before the write of the entries, so the engine does not hold it for
/// the write (a crash that loses unsynced writes then erases an acknowledged entry).
#[test]
fn ack_before_persist_replies_before_the_write() {
    for bug in [None, Some("ack-before-persist")] {
        let mut cluster = Cluster::with_bug(3, bug);
        cluster.elect(0);
        cluster.request(0, write(1));
        let envelope = cluster
            .in_flight
            .iter()
            .find(|e| link(e, 0, 1))
            .cloned()
            .unwrap();
        let mut follower = cluster.nodes[1].take().unwrap();
        let mut context = Context::new(NodeId(1), 3, SimTime::ZERO);
        follower.on_message(&mut context, NodeId(0), envelope.message);
        let order: Vec<&str> = context
            .effects()
            .iter()
            .filter_map(|effect| match effect {
                sim::protocol::Effect::Persist { .. } => Some("persist"),
                sim::protocol::Effect::Send { .. } => Some("reply"),
                _ => None,
            })
            .collect();
        match bug {
            None => assert_eq!(order, ["persist", "reply"]),
            Some(_) => assert_eq!(order, ["reply", "persist"]),
        }
    }
}

/// Figure 2, receiver rule 1, with `accept-stale-leader`: n0's term-1 `AppendEntries` is
/// delayed until n1 has led term 2 and committed its own entry at index 1 on n2; n2 then takes
/// the stale entry over the committed one, and wins term 3 with n0's vote. Leader completeness
/// fails.
#[test]
fn accept_stale_leader_is_caught_by_leader_completeness() {
    for bug in [None, Some("accept-stale-leader")] {
        let mut cluster = Cluster::with_bug(3, bug);
        cluster.elect(0);
        cluster.request(0, write(1));
        let position = cluster
            .in_flight
            .iter()
            .position(|e| link(e, 0, 2))
            .unwrap();
        let stale = cluster.in_flight.remove(position);
        cluster.isolate(0);
        cluster.elect(1);
        cluster.request(1, write(2));
        cluster.deliver_all();
        assert_eq!(cluster.node(1).last_applied(), LogIndex(1));
        cluster.heal();
        cluster.isolate(1);
        cluster.heal_link(0, 2);
        cluster.in_flight.push(stale);
        cluster.deliver_all();
        cluster.time_out(2);
        cluster.deliver_votes();
        match bug {
            None => {
                assert_eq!(cluster.node(2).log().term_at(LogIndex(1)), Some(Term(2)));
                cluster.assert_safe();
            }
            Some(_) => {
                assert!(cluster.node(2).is_leader());
                assert_eq!(cluster.violated_property(), Some("leader-completeness"));
            }
        }
    }
}

/// Raft §5.3 with `match-from-next-index`: two `AppendEntries` are pipelined to n1, the second
/// is lost; the reply to the first makes the leader count entry 2 as stored on n1 and commit
/// it. When the leader crashes, n1 wins without it: leader completeness fails.
#[test]
fn match_from_next_index_is_caught_by_leader_completeness() {
    for bug in [None, Some("match-from-next-index")] {
        let mut cluster = Cluster::with_bug(3, bug);
        cluster.elect(0);
        cluster.isolate(2);
        cluster.request(0, write(1));
        cluster.request(0, write(2));
        // The second AppendEntries to n1 (entry 2) is lost.
        let second = cluster
            .in_flight
            .iter()
            .rposition(|e| link(e, 0, 1))
            .unwrap();
        cluster.in_flight.remove(second);
        cluster.round_trip(0, 1);
        let committed = cluster.node(0).commit_index();
        cluster.crash(0);
        cluster.heal();
        cluster.time_out(1);
        cluster.deliver_votes();
        assert!(cluster.node(1).is_leader());
        match bug {
            None => {
                assert_eq!(committed, LogIndex(1));
                cluster.assert_safe();
            }
            Some(_) => {
                assert_eq!(committed, LogIndex(2), "entry 2 counted on n1");
                assert_eq!(cluster.violated_property(), Some("leader-completeness"));
            }
        }
    }
}

/// Raft §5.3 with `quorum-off-by-one`: on three servers the leader counts one server (itself)
/// as a majority and commits a write nobody else has. Its successor lacks it.
#[test]
fn quorum_off_by_one_is_caught_by_leader_completeness() {
    for bug in [None, Some("quorum-off-by-one")] {
        let mut cluster = Cluster::with_bug(3, bug);
        cluster.elect(0);
        cluster.isolate(0);
        cluster.request(0, write(1));
        let applied = cluster.node(0).last_applied();
        cluster.crash(0);
        cluster.elect(1);
        match bug {
            None => {
                assert_eq!(applied, LogIndex(0));
                cluster.assert_safe();
            }
            Some(_) => {
                assert_eq!(applied, LogIndex(1), "committed alone");
                assert_eq!(cluster.violated_property(), Some("leader-completeness"));
            }
        }
    }
}

/// Figure 2 (lastApplied ≤ commitIndex) with `apply-uncommitted`: a leader cut off from the
/// others applies and answers a write it alone holds; the next leader lacks it.
#[test]
fn apply_uncommitted_is_caught_by_leader_completeness() {
    for bug in [None, Some("apply-uncommitted")] {
        let mut cluster = Cluster::with_bug(3, bug);
        cluster.elect(0);
        cluster.isolate(0);
        let lost = cluster.request(0, write(1));
        let answered = cluster.replies_to(lost);
        cluster.elect(1);
        cluster.request(1, write(2));
        cluster.deliver_all();
        match bug {
            None => {
                assert!(answered.is_empty());
                cluster.assert_safe();
            }
            Some(_) => {
                assert_eq!(
                    answered,
                    [Answer::Ok(None)],
                    "a write answered before commit"
                );
                assert_eq!(cluster.violated_property(), Some("leader-completeness"));
            }
        }
    }
}

/// Figure 2, receiver rule 2, with `skip-prev-term-check`: n0 holds a term-1 entry at index 1
/// that the others never saw; the term-2 leader's `AppendEntries` for index 2 passes the check
/// on length alone, and n0's log holds index 2 after a different entry than the leader's.
#[test]
fn skip_prev_term_check_is_caught_by_log_matching() {
    for bug in [None, Some("skip-prev-term-check")] {
        let mut cluster = Cluster::with_bug(3, bug);
        cluster.elect(0);
        cluster.isolate(0);
        cluster.request(0, write(1));
        cluster.elect(1);
        cluster.request(1, write(2));
        cluster.request(1, write(3));
        cluster.deliver_all();
        cluster.heal();
        cluster.heartbeat(1);
        cluster.heartbeat(1);
        match bug {
            None => {
                assert_eq!(
                    cluster.node(0).log().entries(),
                    cluster.node(1).log().entries()
                );
                cluster.assert_safe();
            }
            Some(_) => assert_eq!(cluster.violated_property(), Some("log-matching")),
        }
    }
}

/// Raft §5.2 with `count-stale-votes`: n1's vote for n0 in term 1 arrives after n0 moved on to
/// term 2, where n1 itself won with n2's vote; n0 counts the old vote and leads term 2 too.
#[test]
fn count_stale_votes_is_caught_by_election_safety() {
    for bug in [None, Some("count-stale-votes")] {
        let mut cluster = Cluster::with_bug(3, bug);
        cluster.time_out(0);
        assert!(cluster.deliver_where(|e| link(e, 0, 1)));
        cluster.drop_where(|e| link(e, 0, 2));
        // n1's grant for term 1 is delayed; n0 campaigns again in term 2, unheard.
        let grant = cluster
            .in_flight
            .iter()
            .position(|e| link(e, 1, 0))
            .unwrap();
        let grant = cluster.in_flight.remove(grant);
        cluster.time_out(0);
        assert_eq!(cluster.node(0).current_term(), Term(2));
        cluster.drop_where(|e| e.source.0 == 0);
        cluster.time_out(1);
        assert_eq!(cluster.node(1).current_term(), Term(2));
        cluster.drop_where(|e| link(e, 1, 0));
        cluster.deliver_votes();
        assert!(cluster.node(1).is_leader());
        cluster.in_flight.push(grant);
        cluster.deliver_where(is_vote);
        match bug {
            None => {
                assert!(!cluster.node(0).is_leader());
                cluster.assert_safe();
            }
            Some(_) => assert_eq!(cluster.violated_property(), Some("election-safety")),
        }
    }
}

/// Raft §5.4.1 with `vote-compare-length-only`: the deposed n0 holds three term-1 entries
/// nobody else has; the others committed one term-2 entry. n0's longer log wins n2's vote, and
/// the new leader lacks the committed entry.
#[test]
fn vote_compare_length_only_is_caught_by_leader_completeness() {
    for bug in [None, Some("vote-compare-length-only")] {
        let mut cluster = Cluster::with_bug(3, bug);
        cluster.elect(0);
        cluster.isolate(0);
        for value in 1..=3 {
            cluster.request(0, write(value));
        }
        cluster.elect(1);
        cluster.request(1, write(9));
        cluster.deliver_all();
        cluster.heal();
        cluster.isolate(1);
        cluster.heal_link(0, 2);
        // n0 learns it lost its quorum, and campaigns until its term passes n2's.
        cluster.fire(0, protocols::raft::Timer::CheckQuorum);
        cluster.fire(0, protocols::raft::Timer::CheckQuorum);
        while cluster.node(0).current_term() < Term(3) {
            cluster.time_out(0);
            cluster.deliver_votes();
        }
        match bug {
            None => {
                assert!(!cluster.node(0).is_leader(), "n2's last term is later");
                cluster.assert_safe();
            }
            Some(_) => {
                assert!(cluster.node(0).is_leader());
                assert_eq!(cluster.violated_property(), Some("leader-completeness"));
            }
        }
    }
}

/// Raft §5.2 with `count-duplicate-votes`: five servers; n2's grant to n0 arrives twice, so n0
/// counts three votes from two voters while n1 wins the same term with n3 and n4.
#[test]
fn count_duplicate_votes_is_caught_by_election_safety() {
    for bug in [None, Some("count-duplicate-votes")] {
        let mut cluster = Cluster::with_bug(5, bug);
        cluster.time_out(0);
        cluster.time_out(1);
        // n0 asks n2 only; n1 asks n3 and n4.
        cluster.drop_where(|e| !(link(e, 0, 2) || link(e, 1, 3) || link(e, 1, 4)));
        assert!(cluster.deliver_where(|e| link(e, 0, 2)));
        // The network duplicates n2's grant.
        let grant = cluster
            .in_flight
            .iter()
            .find(|e| link(e, 2, 0))
            .cloned()
            .unwrap();
        cluster.in_flight.push(grant);
        cluster.deliver_votes();
        assert!(cluster.node(1).is_leader());
        match bug {
            None => {
                assert!(!cluster.node(0).is_leader());
                cluster.assert_safe();
            }
            Some(_) => assert_eq!(cluster.violated_property(), Some("election-safety")),
        }
    }
}

/// Figure 2, receiver rule 5, with `commit-not-capped`: n0 holds entry 3 of its term 1 beyond
/// what n1 (leader of term 2) sends it; n1's `AppendEntries` covers only entry 2 but says index
/// 3 is committed, and n0 applies its own stale entry 3.
#[test]
fn commit_not_capped_is_caught_by_state_machine_safety() {
    for bug in [None, Some("commit-not-capped")] {
        let options = protocols::raft::Options {
            entries_per_message_max: 1,
            ..protocols::raft::Options::default()
        };
        let mut cluster = Cluster::with_options(3, bug, options);
        cluster.elect(0);
        cluster.request(0, write(1));
        cluster.deliver_all();
        // Entry 2 reaches n1; entry 3 stays on n0 alone.
        cluster.request(0, write(2));
        cluster.drop_where(|e| !link(e, 0, 1));
        cluster.deliver_all();
        cluster.isolate(0);
        cluster.request(0, write(3));
        cluster.time_out(1);
        cluster.deliver_votes();
        assert!(cluster.node(1).is_leader());
        cluster.request(1, write(4));
        cluster.deliver_all();
        assert_eq!(cluster.node(1).commit_index(), LogIndex(3));
        // n1's AppendEntries for entry 2 (prevLogIndex 1) reaches n0, committing up to 3.
        cluster.heal();
        cluster.step(1, |raft, context| {
            let message = protocols::raft::Message::AppendEntries(protocols::raft::AppendEntries {
                term: raft.current_term(),
                prev_log_index: LogIndex(1),
                prev_log_term: Term(1),
                entries: raft.log().entries()[1..2].to_vec(),
                leader_commit: raft.commit_index(),
            });
            context.send(NodeId(0), message);
        });
        cluster.deliver_where(|e| link(e, 1, 0));
        match bug {
            None => {
                assert_eq!(cluster.node(0).commit_index(), LogIndex(2));
                cluster.assert_safe();
            }
            Some(_) => assert_eq!(cluster.violated_property(), Some("state-machine-safety")),
        }
    }
}

/// Raft §5.2 with `count-stale-votes`, its other face: after a split vote the candidate's tally
/// carries over. n0 had n1's vote in term 1; in term 2 n1 votes for n2, which wins with n3, and
/// n0 counts n1 again beside n4's vote. Two leaders of term 2.
#[test]
fn count_stale_votes_carries_a_tally_into_the_next_term() {
    for bug in [None, Some("count-stale-votes")] {
        let mut cluster = Cluster::with_bug(5, bug);
        cluster.time_out(0);
        cluster.drop_where(|e| !link(e, 0, 1));
        cluster.deliver_votes();
        cluster.time_out(0);
        assert_eq!(cluster.node(0).current_term(), Term(2));
        cluster.drop_where(|_| true);
        cluster.time_out(2);
        cluster.drop_where(|_| true);
        cluster.time_out(2);
        assert_eq!(cluster.node(2).current_term(), Term(2));
        cluster.drop_where(|e| !(link(e, 2, 1) || link(e, 2, 3)));
        cluster.deliver_votes();
        assert!(cluster.node(2).is_leader());
        cluster.drop_where(|_| true);
        cluster.fire(0, protocols::raft::Timer::Heartbeat);
        cluster.drop_where(|e| !link(e, 0, 4));
        cluster.deliver_votes();
        match bug {
            None => {
                assert!(!cluster.node(0).is_leader());
                cluster.assert_safe();
            }
            Some(_) => assert_eq!(cluster.violated_property(), Some("election-safety")),
        }
    }
}
