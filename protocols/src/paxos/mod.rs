//! # Multi-Paxos
//!
//! Multi-Paxos keeps a sequence of commands replicated on a cluster, so that every node applies
//! the same commands in the same order to its own copy of a state machine — here a key-value
//! store or a set of counters, the same service Raft offers. It follows Lamport's "Paxos Made
//! Simple" (2001; **PMS** below, section numbers `PMS §2.2`) and van Renesse & Altinbuken's
//! "Paxos Made Moderately Complex" (ACM Computing Surveys, 2015; **PMMC**). Read [`crate::raft`]
//! first: this module has the same shape, and the differences are the point of having both.
//!
//! ## Where things are
//!
//! | file              | what it holds                                                          |
//! |-------------------|------------------------------------------------------------------------|
//! | [`ballot`]        | `Ballot` (round, node), `Slot`, `Value` (a command or a no-op)          |
//! | [`messages`]      | `Prepare`, `Promise`, `Accept`, `Accepted`, `Reject`                    |
//! | [`durable`]       | the acceptor's promise and accepted values on disk, incremental writes |
//! | [`node`]          | the node (acceptor, learner, proposer); `phase1`, `phase2`             |
//! | [`options`]       | timeouts and limits, named as Raft's                                   |
//! | [`invariants`]    | agreement, validity, promise monotonicity, state-machine safety        |
//! | [`bugs`]          | the planted bugs, by name                                              |
//!
//! The state machine is the shared one of `sim::service`: any workload's `StateMachine` behind
//! the per-client session table `Sessions` (Raft §8), so Multi-Paxos carries no copy of any
//! workload's semantics and deduplicates exactly as Raft does.
//!
//! ## The algorithm
//!
//! Every node plays the three roles of PMS §1: **acceptor** (it promises and accepts, and
//! remembers both on disk), **learner** (it learns which values are chosen and applies them in
//! slot order), and **proposer** (one of them at a time, the *distinguished proposer* or leader
//! of PMS §3, proposes values).
//!
//! **Ballots (PMS §2.2, PMMC §3).** A proposal number is a *ballot*, a pair (round, node)
//! ordered round first: two proposers never use the same ballot. A node starting phase 1 takes
//! the round after the highest it has seen in any message, with its own id.
//!
//! **Phase 1, once per leadership (PMS §3).** A node that hears from no leader for an election
//! timeout (150–300ms by default, drawn by the simulator: the protocol never draws randomness)
//! becomes a proposer: it promises its new ballot on its own disk, then sends
//! `Prepare(ballot, first_slot)` to the others, where `first_slot` is the first slot it does not
//! know to be decided. One `Prepare` covers that slot and every later one: this is what makes
//! Multi-Paxos cheaper than a Paxos instance per command, as PMS §3 explains ("phase 1 for
//! infinitely many instances"). An acceptor whose promise is not higher promises the ballot —
//! never again to accept a lower one (P1a) — writes the promise to disk, and replies `Promise`
//! with every value it accepted from `first_slot` on, each with the ballot it was accepted in.
//! One whose promise is higher replies `Reject` with it.
//!
//! **Becoming leader (PMS §2.2 P2c, §3; PMMC §3's scout and leader).** With promises from a
//! majority (its own included), the proposer leads its ballot. For each slot from `first_slot`
//! to the highest one any promise reported, it proposes the value with the highest ballot among
//! the promises; slots no promise reported (gaps) get a **no-op** (PMS §3: "the leader ...
//! fills the gaps with no-op commands"). It proposes all of them in its own ballot, accepting
//! them on its own disk first, and sends them to every acceptor. A proposer whose `Prepare` or
//! `Accept` is rejected for a higher ballot is **preempted** (PMMC): it returns to follower and
//! waits an election timeout — the randomized back-off — before trying a higher ballot, by
//! which time the other has usually become leader and its `Accept`s keep this node quiet.
//! Candidates re-send `Prepare` to silent acceptors every heartbeat interval.
//!
//! **Phase 2, per slot (PMS §2.2).** A client request reaching the leader takes the next free
//! slot and is proposed there: the leader accepts it on its own disk and sends
//! `Accept(ballot, first, values, decided)` to the acceptors. An acceptor accepts unless it
//! promised a higher ballot (P1a), writes the values before replying, and answers `Accepted`
//! with the slots it accepted and its *prefix* — every slot up to it is decided there or
//! accepted in this ballot. A value accepted by a majority in one ballot is **chosen**.
//!
//! **Learning and deciding (PMS §2.3, PMMC's `decision`).** The leader counts acceptances per
//! slot (its own included) — the explicit slots of each reply and, cumulatively, the prefix, so
//! a lost `Accepted` costs nothing once a later one arrives (as Raft's `matchIndex`). A slot a
//! majority accepted is decided; the leader also learns as decided the slots an acceptor reports
//! decided (learners may tell each other, PMS §2.3), which is how a new leader whose quorum
//! includes the old leader learns what was chosen before it. Decisions travel to the others in
//! the `decided` field of every `Accept`, heartbeats included: a node holding a slot's value
//! *in the leader's ballot* learns it decided (a value held from another ballot may not be the
//! chosen one; the acceptor's prefix then stops before it, and the leader resends the slot in
//! its ballot — re-proposing a chosen value is always safe, PMS §2.2 P2b). Every node applies
//! decided slots in order; no-ops change nothing.
//!
//! **Heartbeats.** A leader sends `Accept` to every acceptor every heartbeat interval, empty
//! when there is nothing new: it keeps followers from starting phase 1 (a follower restarts its
//! election timeout on each `Accept` of its promised ballot, lazily as Raft does), carries
//! decisions, and retransmits — an acceptor whose prefix shows a gap gets the missing slots.
//! With `check_quorum` (on by default, as for Raft) a leader that has not heard from a majority
//! within an election timeout steps down. No leader leases: reads go through slots.
//!
//! **Batching and pipelining (as Raft's, Ongaro's dissertation §10.2.2).** A leader keeps, per
//! acceptor, at most `accepts_in_flight_max` `Accept`s carrying values in flight (default 2, as
//! Raft's `append_entries_in_flight_max`); a client command takes its slot at once, and while a
//! window is full commands accumulate, so the next `Accept` carries all of them (up to
//! `values_per_message_max`, default 64, as Raft's `entries_per_message_max`). A reply frees a
//! place; a heartbeat frees them all. The same defaults and the same accounting make a
//! comparison of the two protocols measure the protocols, not their configurations.
//!
//! **Persistence and crashes (PMS §2.3).** The acceptor's promise and its accepted values are
//! its durable state; each handler pushes the write before the message that depends on it, and
//! the simulator holds the message until the write is durable. Accepting a ballot promises it
//! too. A restarted node reloads its promise and accepted values and relearns everything else —
//! what is decided, the state machine — from the leader's `Accept`s; a crash that loses unsynced
//! writes loses only writes whose replies never left.
//!
//! ## The key-value service
//!
//! As Raft's: followers answer `Redirect` with the leader they know of (the owner of the ballot
//! whose `Accept`s they receive); the leader puts every operation, reads included, in a slot, so
//! a read returns the value at its place in the sequence and is linearizable without any clock
//! assumption; it answers when the slot is applied. A leader that is preempted answers every
//! request still waiting `Indeterminate` (`info`): its slot may yet be decided with that value
//! by the next leader, or filled with another. A client that retries the same request (same
//! client and id) at another node may get it proposed at a second slot; the session table
//! executes it once and answers the second slot from its memory (the conformance test
//! `a_request_chosen_at_two_slots_executes_once`).
//!
//! ## How it differs from Raft
//!
//! Any node can lead: there is no election restriction (Raft §5.4.1), because phase 1 makes the
//! new leader *learn* the values it lacks instead of requiring it to have them. The price is the
//! promises' payload and re-proposing undecided slots after every change of leader. There are
//! no log-matching prefixes: each slot is its own instance, so an acceptor may hold slot 7 and
//! not slot 6; the prefix in `Accepted` serves retransmission, not safety. And there is no
//! pre-vote: an isolated node's higher ballots preempt the leader when it can reach the others
//! (`one-way-partition`), as Raft without pre-vote does.
//!
//! ## Invariants
//!
//! [`PaxosInvariants`] checks after every event, naming the broken property in the verdict (see
//! [`invariants`]): `agreement` (no two values chosen for one slot, chosen being accepted by a
//! majority in one ballot; and no node learns — decides and applies — a value other than the one
//! chosen), `validity`
//! (an acceptor accepts in a ballot only what that ballot's leader proposed there — a client's
//! request or a no-op), `promise-monotonicity` (an acceptor's promise never decreases, across
//! restarts too), `state-machine-safety` (no two nodes apply different values at one slot). The
//! checker reads what each handler did through [`Paxos::observations`]. After the run, the client
//! history is checked for linearizability by the workload's checker, as for every protocol.
//!
//! ## Planted bugs
//!
//! Each, selected with `bug = "…"` in a scenario, breaks one rule:
//!
//! - `accept-without-promise-check` — a follower accepts a proposal below its promise, breaking
//!   P1a (PMS §2.2). An old leader cut off by a partition still gets its values accepted by a
//!   majority in its old ballot, while the new leader, whose phase 1 did not see them, chooses
//!   others: **agreement**.
//! - `ignore-promised-values` — a new leader keeps its own accepted value for a slot instead of
//!   the highest-ballot value among the promises, breaking P2c (PMS §2.2). When its own value is
//!   stale, it is proposed over one already chosen: **agreement**.
//! - `promise-not-persisted` — an acceptor answers `Prepare` without writing its promise,
//!   breaking PMS §2.3 ("an acceptor must remember this information even if it fails and then
//!   restarts"). A crash between the promise and the first accepted value of that ballot brings
//!   it back with a lower promise than a proposer already counted: **promise-monotonicity**.
//! - `phase1-skipped-for-empty-slots` — a new leader believes the slots past its own last one
//!   empty and drops what phase 1 reported there, proposing new values as if phase 1 did not
//!   cover them (PMS §3). A lagging node that becomes leader overwrites chosen values:
//!   **agreement**.
//! - `learn-without-quorum` — a node takes a value it accepted as chosen, without a majority,
//!   breaking PMS §2.3. It applies a value a later ballot replaces, and another node applies the
//!   real one: **state-machine-safety** — or, on the rare seeds where a node learns a value
//!   after another was already chosen there, **agreement**.
//! - `accept-into-promised-ballot` — an acceptor that promised a higher ballot takes an
//!   outdated proposal into that ballot, recording a (ballot, value) pair nobody proposed
//!   (PMMC §3: the acceptor records the proposal's own ballot): **validity**.
//!
//! `ignore-promised-values` and `promise-not-persisted` are caught by fewer than a third of the
//! swarm seeds: they need a leader change with a stale log, or a crash in the few milliseconds
//! between a promise and the next accepted value.
//!
//! ## Scenarios
//!
//! `scenarios/paxos/` mirrors `scenarios/raft/`: `steady-state`, `leader-isolated`,
//! `one-way-partition`, `leader-crash-restart`, `clock-drift-and-jumps`,
//! `duplication-and-reordering`, `swarm`, and the counter workload's `counter-steady-state`,
//! `counter-partitions`, `counter-swarm` pass; `bug-<name>` is the swarm scenario with a bug at
//! the first seed that catches it. Raft's scenarios run on Multi-Paxos by changing their
//! `[protocol] name` line (the test `raft_scenarios_run_on_paxos_by_changing_the_protocol_line`).
//!
//! ## How it is tested
//!
//! In `protocols/tests/`: `paxos_conformance.rs` (one test per rule of the papers, driving one
//! handler and checking the effects it pushed, in order, and each bug beside the rule it
//! breaks), `paxos_invariants.rs` (each invariant broken on purpose with forged messages, and
//! named), `paxos_scenarios.rs` (every scenario's verdict pinned, the recorded first failing
//! seed of each bug replayed, and — ignored, for release builds — 1,000 swarm seeds for each
//! workload and 2,000 per bug).

pub mod ballot;
pub mod bugs;
pub mod durable;
pub mod invariants;
pub mod messages;
pub mod node;
pub mod options;

pub use ballot::{AcceptedValue, Ballot, Slot, Value, ValueId};
pub use bugs::Bug;
pub use durable::{Durable, Update};
pub use invariants::PaxosInvariants;
pub use messages::{Accept, Accepted, Message, Prepare, Promise, Reject};
pub use node::{Observation, Paxos, Timer};
pub use options::Options;
