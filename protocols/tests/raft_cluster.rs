//! Raft on a small cluster whose network the test drives: elections, replication, partitions,
//! crashes and the Figure 8 situation, step by step, with the invariants checked after each one.

mod raft_support;

use protocols::raft::{LogIndex, Options, Term, Timer};
use raft_support::{figure_8_until_c, link, read, write, Cluster};
use sim::protocol::{MembershipChange, NodeId, Role};
use sim::service::Answer;

/// Raft §5.2, §5.3: one election, then a write travels to a majority, commits, and reaches
/// every follower's state machine with the next heartbeat.
#[test]
fn elects_one_leader_and_replicates_a_write() {
    let mut cluster = Cluster::new(3);
    cluster.elect(0);
    assert_eq!(cluster.node(1).leader_hint(), Some(NodeId(0)));
    let request = cluster.request(0, write(5));
    cluster.deliver_all();
    assert_eq!(cluster.replies_to(request), vec![Answer::Ok(None)]);
    cluster.heartbeat(0);
    for id in 0..3 {
        assert_eq!(cluster.node(id).commit_index(), LogIndex(1));
        assert_eq!(cluster.node(id).last_applied(), LogIndex(1));
    }
    let request = cluster.request(0, read());
    cluster.deliver_all();
    assert_eq!(cluster.replies_to(request), vec![Answer::Ok(Some(5))]);
    cluster.assert_safe();
}

/// Raft §8: a client that asks a follower is redirected to the leader, where its retry (same
/// request id) succeeds.
#[test]
fn client_redirected_by_follower_succeeds_at_leader() {
    let mut cluster = Cluster::new(3);
    cluster.elect(0);
    let request = cluster.request(2, write(1));
    assert_eq!(
        cluster.replies_to(request),
        vec![Answer::Redirect(Some(NodeId(0)))]
    );
    cluster.resend(0, request, write(1));
    cluster.deliver_all();
    assert_eq!(cluster.replies_to(request)[1], Answer::Ok(None));
    cluster.assert_safe();
}

/// Raft §5.2, §5.3: a leader cut off by a partition is replaced by the majority; its write
/// cannot commit, its client hears `Indeterminate` when it learns the new term, and its
/// uncommitted entry is overwritten by the new leader's log.
#[test]
fn isolated_leader_is_replaced_and_its_uncommitted_entry_overwritten() {
    let mut cluster = Cluster::new(5);
    cluster.elect(0);
    cluster.isolate(0);
    let lost = cluster.request(0, write(1));
    cluster.elect(1);
    assert_eq!(cluster.node(1).current_term(), Term(2));
    let kept = cluster.request(1, write(2));
    cluster.deliver_all();
    assert_eq!(cluster.replies_to(kept), vec![Answer::Ok(None)]);
    assert!(
        cluster.replies_to(lost).is_empty(),
        "no majority, no answer"
    );
    assert!(
        cluster.node(0).is_leader(),
        "the old leader does not know yet"
    );

    cluster.heal();
    cluster.heartbeat(1);
    assert_eq!(cluster.node(0).role(), Role::Follower);
    assert!(matches!(
        cluster.replies_to(lost).as_slice(),
        [Answer::Indeterminate(_)]
    ));
    cluster.heartbeat(1);
    for id in 0..5 {
        assert_eq!(
            cluster.node(id).log().entries(),
            cluster.node(1).log().entries()
        );
        assert_eq!(cluster.node(id).commit_index(), LogIndex(1));
    }
    cluster.assert_safe();
}

/// Check-quorum: an isolated leader steps down after an election timeout without a majority, so
/// its clients are redirected instead of waiting for a commit that cannot come.
#[test]
fn isolated_leader_steps_down_by_check_quorum() {
    let mut cluster = Cluster::new(3);
    cluster.elect(0);
    cluster.isolate(0);
    let request = cluster.request(0, write(1));
    cluster.fire(0, Timer::CheckQuorum);
    cluster.fire(0, Timer::CheckQuorum);
    assert_eq!(cluster.node(0).role(), Role::Follower);
    assert!(matches!(
        cluster.replies_to(request).as_slice(),
        [Answer::Indeterminate(_)]
    ));
    let retry = cluster.request(0, write(1));
    assert_eq!(cluster.replies_to(retry), vec![Answer::Redirect(None)]);
    cluster.assert_safe();
}

/// Raft §5.3: a follower that missed many entries is brought up to date in batches once it is
/// reachable again, starting from a rejected heartbeat.
#[test]
fn lagging_follower_catches_up_in_batches() {
    let mut cluster = Cluster::new(3);
    cluster.elect(0);
    cluster.isolate(2);
    let count = 3 * cluster.options.entries_per_message_max as u64 + 7;
    for value in 0..count {
        cluster.request(0, write(value as i64));
        cluster.deliver_all();
    }
    assert_eq!(cluster.node(0).commit_index(), LogIndex(count));
    assert_eq!(cluster.node(2).log().last_index(), LogIndex(0));
    cluster.heal();
    cluster.heartbeat(0);
    assert_eq!(cluster.node(2).log().last_index(), LogIndex(count));
    cluster.heartbeat(0);
    assert_eq!(cluster.node(2).last_applied(), LogIndex(count));
    cluster.assert_safe();
}

/// Raft §5.5: a crashed follower restarts from its disk and is brought up to date.
#[test]
fn crashed_follower_restarts_and_catches_up() {
    let mut cluster = Cluster::new(3);
    cluster.elect(0);
    cluster.request(0, write(1));
    cluster.deliver_all();
    cluster.crash(2);
    cluster.request(0, write(2));
    cluster.deliver_all();
    cluster.restart(2);
    assert_eq!(cluster.node(2).log().last_index(), LogIndex(1), "from disk");
    assert_eq!(cluster.node(2).commit_index(), LogIndex(0), "volatile");
    cluster.heartbeat(0);
    cluster.heartbeat(0);
    assert_eq!(cluster.node(2).log().last_index(), LogIndex(2));
    assert_eq!(cluster.node(2).last_applied(), LogIndex(2));
    cluster.assert_safe();
}

/// Raft §5.4: a write acknowledged to a client survives the crash of the leader that
/// committed it: only a server holding it can win the next election.
#[test]
fn committed_write_survives_leader_crash() {
    let mut cluster = Cluster::new(3);
    cluster.elect(0);
    cluster.drop_where(|envelope| link(envelope, 0, 2));
    cluster.request(0, write(7));
    cluster.drop_where(|envelope| link(envelope, 0, 2));
    cluster.deliver_all();
    cluster.crash(0);
    // n2 lacks the write: n1 refuses it its vote, and n2 cannot win.
    cluster.time_out(2);
    cluster.deliver_all();
    assert_eq!(cluster.node(2).role(), Role::Candidate);
    cluster.elect(1);
    let request = cluster.request(1, read());
    cluster.deliver_all();
    assert_eq!(cluster.replies_to(request), vec![Answer::Ok(Some(7))]);
    cluster.assert_safe();
}

/// Raft §5.4.2, Figure 8: the correct leader does not commit the term-2 entry although a
/// majority stores it; so when n4 wins term 5 and overwrites it, nothing committed is lost.
#[test]
fn figure_8_entry_from_previous_term_is_not_committed_by_counting() {
    let mut cluster = figure_8_until_c(None);
    // n0 restarted (its commit index is volatile) and commits nothing by counting.
    assert_eq!(cluster.node(0).commit_index(), LogIndex(0));
    // (d) n0 crashes; n4 restarts and wins term 5 (its last term, 3, beats n1..n3's).
    cluster.in_flight.clear();
    cluster.crash(0);
    cluster.restart(4);
    cluster.time_out(4);
    cluster.deliver_votes();
    cluster.time_out(4);
    cluster.deliver_votes();
    assert!(cluster.node(4).is_leader() && cluster.node(4).current_term() == Term(5));
    cluster.in_flight.clear();
    cluster.heartbeat(4);
    cluster.request(4, write(5));
    cluster.deliver_all();
    cluster.heartbeat(4);
    for id in 1..5 {
        assert_eq!(cluster.node(id).log().term_at(LogIndex(2)), Some(Term(3)));
        assert_eq!(cluster.node(id).commit_index(), LogIndex(3));
    }
    cluster.assert_safe();
}

/// Raft §5.4.2, Figure 8 (e): had n0 replicated an entry of its own term to a majority, that
/// entry and the term-2 entry before it would be committed, and n4 could no longer win.
#[test]
fn figure_8_current_term_entry_commits_the_earlier_one() {
    let mut cluster = figure_8_until_c(None);
    let request = cluster.request(0, write(4));
    cluster.round_trip(0, 1);
    cluster.round_trip(0, 2);
    assert_eq!(cluster.node(0).commit_index(), LogIndex(3));
    assert_eq!(cluster.replies_to(request), vec![Answer::Ok(None)]);
    cluster.in_flight.clear();
    cluster.crash(0);
    cluster.restart(4);
    for _ in 0..3 {
        cluster.time_out(4);
        cluster.deliver_votes();
    }
    assert!(
        !cluster.node(4).is_leader(),
        "n1 and n2 hold a later last term"
    );
    cluster.assert_safe();
}

/// Dissertation ch. 4 on a small cluster: a spare server is caught up and added (§4.1,
/// §4.2.1), the leader removes itself and steps down once that change commits (§4.2.2), and
/// the remaining servers elect a leader among themselves that holds every committed entry.
#[test]
fn a_server_joins_and_the_leader_leaves_one_change_at_a_time() {
    let options = Options {
        initial_members: Some(3),
        ..Options::default()
    };
    let mut cluster = Cluster::with_options(4, None, options);
    cluster.elect(0);
    let request = cluster.request(0, write(1));
    cluster.deliver_all();
    assert_eq!(cluster.replies_to(request), vec![Answer::Ok(None)]);
    assert!(!cluster.node(3).configuration().contains(NodeId(3)));
    cluster.change_membership(MembershipChange::Add(NodeId(3)));
    cluster.deliver_all();
    cluster.heartbeat(0);
    for id in 0..4 {
        let configuration = cluster.node(id).configuration();
        assert!(configuration.contains(NodeId(3)), "n{id}: {configuration}");
    }
    assert_eq!(
        cluster.node(3).last_applied(),
        cluster.node(0).commit_index()
    );
    cluster.change_membership(MembershipChange::Remove(NodeId(0)));
    cluster.deliver_all();
    assert_eq!(cluster.node(0).role(), Role::Follower, "stepped down");
    assert!(!cluster.node(1).configuration().contains(NodeId(0)));
    cluster.elect(1);
    let request = cluster.request(1, read());
    cluster.deliver_all();
    assert_eq!(cluster.replies_to(request), vec![Answer::Ok(Some(1))]);
    cluster.assert_safe();
}
