//! # Raft
//!
//! Raft (Ongaro & Ousterhout, "In Search of an Understandable Consensus Algorithm", extended
//! version, 2014) keeps a log replicated on a cluster of servers, so that every server applies
//! the same commands in the same order to its own copy of a state machine — here a key-value
//! store. This module is the reference protocol of detsim: read it first, then follow its shape
//! for any other protocol. Section numbers in comments (`Raft §5.3`) are the paper's.
//!
//! ## Where things are
//!
//! | file                | what it holds                                                        |
//! |---------------------|----------------------------------------------------------------------|
//! | [`log`]             | `Term`, `LogIndex`, `Entry`, the `Log` and the §5.4.1 comparison      |
//! | [`messages`]        | `RequestVote`, `AppendEntries` and their replies (Figure 2)           |
//! | [`durable`]         | `currentTerm`, `votedFor`, `log[]` on disk, and incremental writes    |
//! | [`node`]            | the server: state and roles; `election`, `pre_vote`, `replication`   |
//! | [`state_machine`]   | the key-value store and its client session table (§8)                |
//! | [`options`]         | timeouts and limits from the scenario                                |
//! | `node/reads`        | ReadIndex and lease reads (dissertation §6.4)                        |
//! | `node/snapshots`    | log compaction: snapshots and `InstallSnapshot` (dissertation ch. 5) |
//! | [`configuration`]   | the set of voting servers and its majorities (dissertation ch. 4)    |
//! | `node/membership`   | single-server membership changes, catch-up, removing the leader (ch. 4) |
//! | [`invariants`]      | Figure 3: election safety, leader append-only, log matching, leader completeness, state-machine safety; single-server changes |
//! | [`bugs`]            | the planted bugs, by name                                            |
//!
//! ## The algorithm
//!
//! Time is divided into **terms** (§5.1), numbered consecutively; each begins with an election
//! and has at most one leader. Every message carries its sender's term; a server that sees a
//! later term adopts it and becomes a follower, and a request from an earlier term is rejected.
//!
//! **Leader election (§5.2).** Every server starts as a follower. A follower that hears nothing
//! from a leader for an *election timeout* becomes a candidate: it increments its term, votes
//! for itself, persists both, and sends `RequestVote` to the others. The timeout is a range
//! (150–300ms by default) from which the simulator draws, so split votes are rare and runs stay
//! reproducible — a protocol never draws randomness itself. A server grants at most one vote per
//! term (§5.2), and only to a candidate whose log is at least as up-to-date as its own: a later
//! last term, or the same last term and a log at least as long (§5.4.1). A candidate with votes
//! from a majority becomes leader and at once sends empty `AppendEntries` (heartbeats) to assert
//! its authority; one that hears from a leader of its own term steps back to follower; one whose
//! timeout runs out again starts a new election in the next term. Candidates re-send
//! `RequestVote` to silent peers every heartbeat interval (§5.1: servers retry RPCs). Followers
//! restart the timeout on every `AppendEntries` from their leader; rather than setting a new
//! simulator timer each time, a node records the restart and, when the armed timer fires early,
//! sets it again for the rest of a timeout counted from the restart — the same behaviour, one
//! timer event per timeout instead of one per message.
//!
//! **Log replication (§5.3).** The leader appends each client command to its log, persists it,
//! and sends it to every follower in `AppendEntries`, together with the index and term of the
//! entry just before it. A follower accepts only if its own log holds that previous entry (the
//! *consistency check*); on a conflict (same index, different term) it deletes the entry and all
//! that follow, then appends the leader's. By induction this gives the **Log Matching**
//! property: two logs holding an entry with the same index and term are identical up to it. The
//! leader keeps, per follower, `nextIndex` (the next entry to send — advanced optimistically when
//! entries leave, so a steady stream needs one message per entry) and `matchIndex` (the highest
//! entry known to be stored there); a rejection carries a hint of where the logs may still agree,
//! and the leader retries from there. Heartbeats double as retransmissions: a follower that
//! missed entries rejects the next heartbeat and is brought up to date, in batches of at most
//! `entries_per_message_max`.
//!
//! **Batching and pipelining (Ongaro's dissertation §10.2.2).** A leader that sent one
//! `AppendEntries` per client command to every follower would send, under many clients, one
//! message per command per follower and as many replies. Instead it keeps, per follower, a
//! window of at most `append_entries_in_flight_max` `AppendEntries` in flight (default 2):
//! a command is appended and persisted at once, and sent to every follower whose window has
//! room; while a follower's window is full, commands accumulate in the log, and the next
//! `AppendEntries` to it — when a reply frees a slot — carries all of them (up to
//! `entries_per_message_max`). Under light load nothing waits; under heavy load messages per
//! command fall as batches grow. Heartbeats go out whatever the window says (they assert the
//! leader's authority and retransmit what was lost) and open the window again, so a lost message
//! or reply holds its slot for at most one heartbeat interval. The one place where a client
//! command becomes a log entry is `append_client_request`; it hands the entry to `replicate`.
//!
//! **Commit (§5.3, §5.4.2).** An entry is committed once the leader has stored it on a majority
//! *and it is from the leader's current term*; entries before it are then committed too. An entry
//! from an earlier term is never committed by counting replicas alone: Figure 8 shows such an
//! entry stored on a majority and still overwritten by a later leader. The leader tells
//! followers its commit index in every `AppendEntries`; every server applies committed entries to
//! its state machine in log order (Figure 2). Together with the voting rule this gives **Leader
//! Completeness** (a committed entry is in the log of every later leader) and **State Machine
//! Safety** (no two servers apply different commands at one index).
//!
//! **Persistence and crashes (§5.5, Figure 2).** `currentTerm`, `votedFor` and the log are
//! written to disk before any message or reply that depends on them leaves: handlers push the
//! persist effect first, and the simulator holds later messages until the write is durable. A
//! restarted server reloads them and rebuilds everything else (commit index, state machine) from
//! the log as the leader tells it what is committed. Writes are incremental — a new term and
//! vote, or the entries appended from some index on — so the log is never copied to persist it.
//!
//! The leader counts its own log toward a majority at once. That is sound because the engine
//! holds every message a node sends until all its earlier writes are durable: a follower's
//! acknowledgement proves the leader's copy durable too. In a cluster of one there is no
//! follower, and the contract tells a protocol nothing about when a write became durable, so a
//! lone server applies an entry that a crash with `lose_unsynced` may still erase (its client
//! never hears of it: the reply waits for the write too).
//!
//! ## The key-value service (§8)
//!
//! Clients may send to any server. Followers and candidates answer `Redirect` with the leader
//! they know of (if any), and the client retries there with the same request id; we redirect
//! rather than forward because a forwarded request whose answer is lost would leave the client
//! unable to tell whether it ran. The leader puts **every operation in the log, reads
//! included**: a read returns the value at its place in the log, after every write committed
//! before it, which makes reads linearizable without any clock assumption (a bare read of the
//! leader's store could come from a leader that was deposed without knowing it — the
//! `stale-local-read` bug). The leader answers when the entry is applied: `Ok` with the value for
//! reads and successful writes and compare-and-sets, `Fail` for a compare-and-set whose expected
//! value did not match (it surely did not happen). A leader that steps down answers every
//! request still waiting `Indeterminate`: its entry may yet be committed by the next leader, or
//! overwritten, and the client must record Jepsen's `info`. The store remembers, per client, the
//! latest write or compare-and-set it executed and its answer (§8), so a duplicated or retried
//! request is answered again, never executed twice (a read executed twice is harmless).
//!
//! Raft §8 also asks a new leader to commit a no-op entry at the start of its term before serving
//! reads. Because reads go through the log here, they need no such entry: a leader's earlier-term
//! entries are committed together with the first client entry of its term.
//!
//! ## Reads without the log (dissertation §6.4)
//!
//! The `reads` option chooses how the leader serves reads. `"log"` (the default) is the above.
//! `"read-index"` is §6.4's ReadIndex: the leader (1) must have committed an entry of its own
//! term — until then the read goes through the log, which commits one; (2) records its commit
//! index as the read index; (3) confirms that it still leads with a round of `Heartbeat`s sent
//! after the read arrived and acknowledged by a majority; (4) answers from its state machine
//! once it has applied up to the read index. Reads share rounds: those arriving while a round
//! is outstanding wait for the next one. `"lease"` is §6.4.1: the leader sends a round every
//! heartbeat interval, and a round sent at local time `t` that a majority acknowledged gives
//! it a lease until `t + election_timeout_min × (1 − b) / (1 + b)` on its clock, `b` being
//! `clock_drift_bound_ppm`; within the lease it answers reads without a round. It is safe
//! because a server that heard from a leader within the minimum election timeout ignores
//! `RequestVote` (§4.2.3, under check-quorum: it neither adopts the term nor votes), and with
//! leases a restarted server waits that long before voting, so no other leader can be elected before the lease ends — if
//! no clock runs faster or slower than the bound. Leases trust clocks, so they need
//! check-quorum: the options check rejects `reads = "lease"` with `check_quorum = false`.
//! `node/reads.rs` holds the rules; `scenarios/raft/read-index*.toml` and `lease-reads*.toml`
//! run them, and `lease-reads-swarm-beyond-bound.toml` shows what drift beyond the bound does.
//!
//! ## Log compaction (dissertation ch. 5)
//!
//! With `snapshot_entries_max = n` (0, the default, turns it off) a node snapshots its state
//! machine — with the client session table, without which a request retried after the snapshot
//! was installed would run twice — at `lastApplied` once `n` applied entries are in its log,
//! writes the snapshot to disk and discards the entries it covers (§5.1); the log keeps its
//! indexes, offset by the snapshot. Snapshots are taken as a handler starts, as a background task
//! would: never in the step that applied the entries, so the invariant checker, which looks
//! after each step, has seen every entry before it goes. A restarted node starts from its
//! snapshot, with commit index and `lastApplied` at its last index. A leader whose `nextIndex`
//! for a follower falls inside its snapshot sends `InstallSnapshot` (§5.3, the whole snapshot,
//! no chunks); the follower keeps the entries after it if its log holds the snapshot's last
//! entry and discards its log otherwise (Figure 5.3), loads the state and answers as to an
//! `AppendEntries` that matched up to the snapshot's last index. An `AppendEntries` whose first
//! entries a follower's snapshot covers is cut to start after it (those entries are committed,
//! so they match). `node/snapshots.rs` holds the rules; `scenarios/raft/snapshot-swarm.toml`,
//! `snapshot-counter-swarm.toml` and `steady-state-snapshots.toml` run them.
//!
//! ## Membership changes (dissertation ch. 4)
//!
//! The servers that vote form the *configuration*. Nodes `0..initial_members` form the first one
//! (the option; every node by default); the others are spare servers that start with empty logs
//! and never campaign. A scenario asks for changes with `action = "add-server"` and
//! `"remove-server"` faults (or the swarm's `membership` kind): the engine hands each request to
//! every live server, which remembers the configuration it was asked to reach, and whoever leads
//! moves the cluster there, one server at a time (`node/membership.rs`):
//!
//! - **§4.1.** A configuration is a log entry, and a server uses the latest configuration in its
//!   log whether or not it is committed: it takes effect when appended, and a truncated
//!   configuration entry reverts the server to the one before. Elections, the commit rule,
//!   check-quorum and ReadIndex confirmation count majorities of the configuration in force.
//!   Configurations one server apart have overlapping majorities, so a leader begins a change
//!   only once the previous one is committed — and, by the correction Ongaro published on the
//!   raft-dev list in 2015, only once it has committed an entry of its own term: without it, a
//!   new leader could append a change while an uncommitted change of an earlier leader sits in
//!   other logs, and two leaders could be elected by disjoint majorities of the two changed
//!   configurations. A snapshot carries the latest configuration of the entries it covers.
//! - **§4.2.1.** A new server is caught up as a non-voting learner before it counts: the leader
//!   replicates to it in rounds (each round ends when it holds what the leader's log held when
//!   the round began) and appends the configuration entry adding it once a round takes less
//!   than the minimum election timeout; after ten rounds, or a round lasting four maximum
//!   election timeouts, it gives up and does waiting removals first.
//! - **§4.2.2.** A leader that removes itself keeps leading, without counting its own log or
//!   vote, until the new configuration commits, then steps down. A server outside a
//!   configuration it knows committed never campaigns; one whose exclusion is not yet committed
//!   still may — its log may be the only one that can win.
//! - **§4.2.3.** A removed server stops hearing the leader and campaigns; with check-quorum the
//!   others, having heard from the leader within the minimum election timeout, ignore it (see
//!   check-quorum below).
//!
//! One limit is this testbed's, not the dissertation's: a removal never leaves fewer than two
//! voters. A lone voter that leads commits an entry by counting its own log, and the protocol
//! contract tells a node nothing about when its write became durable (see *Persistence and
//! crashes*): a crash that loses unsynced writes then erases a committed entry. The membership
//! swarm found exactly that, eight times in 1,000 seeds, before the rule.
//!
//! ## Check-quorum
//!
//! With `check_quorum` (on by default; Ongaro's dissertation §6.2) a leader steps down when it
//! has not heard from a majority within an election timeout. Without it, a leader cut off by a
//! partition believes it leads until the partition heals, and every client that reaches it
//! waits for a commit that cannot come until its timeout; with it, the isolated leader returns
//! to follower and redirects. It does not change safety, which never depends on timing.
//!
//! Check-quorum also turns on the rule of dissertation §4.2.3 against disruptive servers: a
//! server that heard from a current leader within the minimum election timeout (or leads)
//! ignores `RequestVote` — it neither adopts the candidate's term nor votes. A server that can
//! no longer hear the leader (removed from the configuration, or behind a one-way partition)
//! then cannot depose it by campaigning in ever higher terms; and because a leader that lost its
//! majority steps down, no follower waits on a leader that cannot lead.
//!
//! ## Pre-vote
//!
//! Without pre-vote, a server that can send but not hear its leader (a one-way partition) times
//! out and campaigns again and again, each time with a higher term that deposes whichever
//! leader the others elected; its log is behind, so it never wins. Service stutters until the
//! link heals, but nothing unsafe happens. (A later term from such a server never restarts the
//! others' election timeouts — only a granted vote or the leader's `AppendEntries` does, per
//! Figure 2 — so the up-to-date servers still time out and elect one of their own.)
//!
//! With the `pre_vote` option (Ongaro's dissertation §9.6; off by default, as in the paper) a
//! server whose timeout elapsed first sends `PreVote` for the next term, without raising its
//! own. Others grant it only if its log is up to date and they have not heard from a leader
//! within the minimum election timeout; pre-votes change no state and are not persisted. Only
//! with a majority of them does the server start a real election. Compare
//! `scenarios/raft/one-way-partition.toml` with `one-way-partition-pre-vote.toml`: the same
//! fault, six elections in the two-second window against one.
//!
//! ## Invariants
//!
//! [`RaftInvariants`] checks, after every event of a run, the five properties of Figure 3 and
//! names the broken one in the verdict: `election-safety`, `leader-append-only` (a leader never
//! overwrites or deletes an entry of its log while it leads, §5.3), `log-matching`,
//! `leader-completeness`, `state-machine-safety` — and, for membership changes,
//! `single-server-change` (dissertation §4.1: each configuration a leader appends differs from
//! the one before by one server, and is appended only when no other configuration entry of its
//! term is uncommitted). Leader completeness is judged with the term in
//! which each entry was committed — the term of the first node whose commit index covered it,
//! the leader that counted a majority — so every leader of a later term must hold it (§5.4.3).
//! Each check looks only at what the event could have changed (see [`invariants`]). After the
//! run, the client history is checked for linearizability (per key, against a compare-and-set
//! register) by the `check` crate.
//!
//! ## Scenarios
//!
//! `scenarios/raft/` holds one scenario per situation, each with its expected verdict:
//! `steady-state`, `leader-isolated`, `one-way-partition` (and `-pre-vote`),
//! `leader-crash-restart`, `clock-drift-and-jumps`, `duplication-and-reordering` and `swarm`
//! (and `swarm-pre-vote`) pass, as do `read-index`, `read-index-swarm`, `lease-reads` and
//! `lease-reads-swarm` (reads without the log, clocks within the drift bound),
//! `snapshot-swarm`, `snapshot-counter-swarm` and `steady-state-snapshots` (log compaction),
//! `membership` and `membership-swarm` (membership changes, the swarm with snapshots and
//! ReadIndex);
//! `lease-reads-beyond-bound` (clocks drifting beyond it) ends in a linearizability violation;
//! each `bug-<bug>` is its swarm (or, for the read bugs, its read scenario) with the bug, at the
//! first seed that catches it, and ends in a safety violation.
//! `detsim run scenarios/raft/<name>.toml` replays any of them; `--seed N` another seed.
//!
//! ## How it is tested
//!
//! In `protocols/tests/`, from the smallest step to the whole system:
//!
//! - `raft_conformance.rs` — one test per rule of the paper (and of the dissertation's §10.2.2
//!   for batching and pipelining), named after the behaviour and citing the section, driving one handler through a [`sim::protocol::Context`] and checking
//!   the effects it pushed, in order (persist before send, for example).
//! - `raft_cluster.rs` — a small cluster on a network the test drives message by message
//!   (`raft_support`): elections, partitions, crashes, a lagging follower, and Figure 8 step by
//!   step.
//! - `raft_invariants.rs` — each invariant broken on purpose with forged messages, and named.
//! - `raft_bugs.rs` — each planted bug driven into the situation it breaks, beside the correct
//!   protocol on the same steps.
//! - `raft_random_schedules.rs` — thousands of random delivery orders, drops, duplicates,
//!   timer firings, crashes and cut links on the same small network.
//! - `raft_scenarios.rs` — the engine: every scenario in `scenarios/raft/` with its verdict
//!   pinned, swarm sweeps, and the first swarm seed that catches each planted bug.
//!
//! ## Planted bugs
//!
//! Each bug, selected with `bug = "…"` in a scenario, breaks one rule of the paper:
//!
//! - `vote-without-log-check` — a server grants its vote without comparing logs, breaking the
//!   election restriction of §5.4.1. A server that missed committed entries can win an election
//!   and overwrite them: **leader-completeness** fails when it becomes leader (and
//!   **state-machine-safety** when its entries are applied).
//! - `commit-previous-term` — the leader commits any entry stored on a majority, even one from an
//!   earlier term, breaking §5.4.2. Figure 8 is the counterexample: the entry is applied, then a
//!   server whose log ends in a later term wins the next election and overwrites it;
//!   **leader-completeness** fails at that election.
//! - `vote-not-persisted` — a server replies to `RequestVote` without writing `votedFor` to disk,
//!   breaking Figure 2's persistent state (§5.2: one vote per term). After a crash and restart it
//!   votes again in the same term, and two candidates can both win it: **election-safety**.
//! - `stale-local-read` — the leader answers reads from its own store without a log entry or any
//!   confirmation that it still leads, breaking §8. A leader cut off by a partition keeps
//!   answering while a new leader commits writes: no invariant sees it, the **linearizability**
//!   check of the client history does.
//! - `no-dedup` — the leader keeps no client session table, breaking §8: a request a client
//!   retries (its answer was lost, or it timed out and asked the next node) is appended and
//!   executed again. A write applied a second time after another client's write makes a later
//!   read return a value no order explains: the **linearizability** check catches it (on a
//!   counter, an increment counted twice).
//!
//! The rest of the catalogue are mistakes real implementations made against Figure 2 (the
//! students' guide to Raft and the issue trackers of etcd/raft, hashicorp/raft and LogCabin
//! list most of them). Each is measured by `detsim bugs scenarios/raft/swarm-everything.toml`:
//!
//! - `truncate-on-append` — a follower deletes every entry after `prevLogIndex` on each
//!   `AppendEntries`, not only conflicting ones (receiver rule 3). A delayed or duplicated
//!   request erases entries the follower already acknowledged; the leader counted them, and a
//!   later leader lacks a committed entry: **leader-completeness** (or **state-machine-safety**).
//! - `ack-before-persist` — a follower acknowledges `AppendEntries` before the entries are on
//!   disk (Figure 2: persistent state is "updated on stable storage before responding"). A crash
//!   that loses unsynced writes erases entries the leader counted toward a commit:
//!   **leader-completeness**. It needs `lose_unsynced` and a crash within the fsync latency.
//! - `accept-stale-leader` — a follower accepts `AppendEntries` from an earlier term (receiver
//!   rule 1), so a deposed leader overwrites the current leader's entries: **leader-completeness**
//!   or **log-matching**.
//! - `match-from-next-index` — the leader sets `matchIndex` from its optimistic `nextIndex` on a
//!   successful reply, counting entries still in flight as stored (§5.3: `matchIndex` is the
//!   highest entry *known* to be replicated). With pipelining, a lost `AppendEntries` leaves an
//!   entry committed on a minority: **leader-completeness**.
//! - `quorum-off-by-one` — the commit rule counts `n / 2` servers instead of `n / 2 + 1` (§5.3,
//!   a majority): an entry stored on a minority commits: **leader-completeness**.
//! - `apply-uncommitted` — the leader applies entries and answers clients as soon as they are in
//!   its own log (Figure 2: lastApplied never passes commitIndex): **state-machine-safety** or
//!   **leader-completeness** once a later leader overwrites them.
//! - `skip-prev-term-check` — the consistency check asks only that the log reaches
//!   `prevLogIndex`, not that the entry there has `prevLogTerm` (receiver rule 2): **log-matching**.
//! - `count-stale-votes` — a candidate keeps a running tally of votes (§5.2: votes are per
//!   term): after a split vote the votes of its last election carry over into the next, and a
//!   late reply granting an earlier term's vote counts too; a voter that has since voted for
//!   another candidate is counted by both, and two leaders share a term: **election-safety**.
//! - `vote-compare-length-only` — "up-to-date" compares only log lengths, not last terms
//!   (§5.4.1): a long log of stale entries wins an election over committed entries:
//!   **leader-completeness**.
//! - `commit-not-capped` — a follower sets its commit index to the leader's without capping it
//!   at the last entry the `AppendEntries` covered (receiver rule 5), so entries after it — a
//!   deposed leader's, not yet replaced — are applied as committed: **state-machine-safety**.
//!   It needs a leader that sends fewer entries than the follower holds (small batches).
//! - `count-duplicate-votes` — a candidate counts granting replies instead of voters (§5.2: a
//!   majority of the servers), so a duplicated reply, or the answer to a `RequestVote` it
//!   retried, counts one voter twice; with a split vote two candidates both lead the term:
//!   **election-safety**.
//!
//! Two bugs live in the reads of dissertation §6.4, and act only with the `reads` option that
//! enables them; `detsim bugs scenarios/raft/read-index-swarm.toml` and
//! `lease-reads-swarm*.toml` measure them:
//!
//! - `read-index-unconfirmed` — with `reads = "read-index"` (or a lease that has run out), the
//!   leader answers a read at its read index without the heartbeat round that confirms it still
//!   leads (§6.4 step 3). A leader cut off by a partition keeps answering while a new leader
//!   commits writes: the **linearizability** check catches the stale read.
//! - `lease-ignores-drift` — with `reads = "lease"`, the lease lasts the whole minimum election
//!   timeout from the send of the round, without the allowance for clock drift (§6.4.1). With
//!   perfect clocks that is just safe (the followers' promise starts when the round arrives);
//!   when the leader's clock runs slow or a follower's fast, the lease outlives the promise,
//!   and a new leader's writes are missed by the old leader's reads: **linearizability**, and
//!   only when clocks drift.
//!
//! One bug lives in log compaction and acts only with `snapshot_entries_max`
//! (`detsim bugs scenarios/raft/snapshot-swarm.toml` measures it):
//!
//! - `snapshot-without-sessions` — the snapshot holds the state machine without its client
//!   session table (§5.1 with §8). A node that installs it, or restarts from it, executes again
//!   a request whose duplicate the table would have recognised — a second copy of a retried
//!   write in the log, or a client's retry to the new leader: **linearizability**.
//!
//! One bug lives in membership changes and acts only in scenarios that set `initial_members`
//! (how a scenario with spare servers says it changes membership; `detsim bugs
//! scenarios/raft/membership-swarm.toml` measures it):
//!
//! - `two-changes-at-once` — the leader appends a configuration entry while another is still
//!   uncommitted (dissertation §4.1: one change at a time). Two changes in flight leave
//!   configurations two servers apart, whose majorities need not overlap: **single-server-change**
//!   catches it as the second entry is appended, and when that invariant is not looking, the
//!   split majorities elect leaders that miss committed entries (**leader-completeness**).

pub mod bugs;
pub mod configuration;
pub mod durable;
pub mod invariants;
pub mod log;
pub mod messages;
pub mod node;
pub mod options;
pub mod state_machine;

pub use bugs::Bug;
pub use configuration::Configuration;
pub use durable::{Durable, Snapshot, SnapshotState, Update};
pub use invariants::RaftInvariants;
pub use log::{Entry, Log, LogIndex, Term};
pub use messages::{
    AppendEntries, AppendEntriesReply, Heartbeat, HeartbeatReply, InstallSnapshot, Message,
    RequestVote, RequestVoteReply,
};
pub use node::{Raft, Timer};
pub use options::{Options, Reads};
pub use state_machine::{Command, Sessions, StateMachine};
