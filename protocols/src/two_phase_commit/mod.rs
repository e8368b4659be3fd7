//! # Two-phase commit over sharded accounts
//!
//! Two-phase commit (Gray, "Notes on Data Base Operating Systems", 1978; Bernstein, Hadzilacos
//! & Goodman, *Concurrency Control and Recovery in Database Systems*, 1987, ch. 7) makes a
//! transaction that spans several participants take effect everywhere or nowhere. It is safe
//! under crashes and partitions, and it **blocks**: a participant that voted yes may neither
//! commit nor abort until it learns the decision, holding its locks all the while. detsim runs
//! it to show both properties, and to check the analytic claim that a transaction commits with
//! probability ∏ pᵢ when participant i votes yes with probability pᵢ.
//!
//! ## Where things are
//!
//! | file              | what it holds                                                        |
//! |-------------------|----------------------------------------------------------------------|
//! | this file         | transaction ids, messages, the disk, options, the `Protocol` impl     |
//! | [`coordinator`]   | phase one (`Prepare`, collecting `Vote`s), the decision, `Decide`     |
//! | [`participant`]   | locks, the prepare record, votes, applying decisions, recovery        |
//! | [`client`]        | the client half: transaction ids, retries, failover                   |
//! | [`invariants`]    | atomicity, no commit without a decision, conservation of money        |
//! | [`bugs`]          | the planted bugs, by name                                             |
//!
//! ## Placement
//!
//! Every node is a participant: it holds the accounts the consistent-hash ring of
//! [`crate::placement`] places on it (`virtual_nodes` points per node). Accounts open with
//! [`OPENING_BALANCE`] and are created on first use. A transfer's participants are the owners
//! of the accounts it changes; a whole-bank read's participants are the owners of every account.
//!
//! ## Transactions and coordinators
//!
//! The client half chooses the transaction id ([`TxnId`]: the client, its own counter, and the
//! coordinator): a transfer retried — at the same node or at another — is the same transaction,
//! never a second one. The coordinator is the node the client reaches first (or the fixed
//! `coordinator` of the options). A node that receives a request for a transaction another node
//! coordinates relays it there, so that one transaction never has two coordinators; a request
//! that was refused everywhere it was sent (no node received it) may pick another coordinator.
//!
//! ## The protocol
//!
//! **Phase one.** The coordinator sends `Prepare` to each participant with the changes of its
//! accounts (or, for a read, the accounts to read). A participant votes **no** when a lock is
//! taken (see below), when the changes would take one of its accounts negative, or — with the
//! `no_vote` option — by a draw. Otherwise it takes the locks, writes a **prepare record** and
//! votes **yes** only once that record is durable (the engine holds messages pushed after a
//! persist until it is). A read-only participant votes yes with its balances.
//!
//! **Phase two.** With every vote yes the coordinator decides commit, writes the **decision
//! record** and sends `Decide(commit)` only once it is durable; a participant applies the
//! changes, releases its locks, writes its own commit record and acknowledges. A no vote, or
//! votes missing after `vote_timeout`, decides abort. The coordinator re-sends a commit
//! decision every `resend_after` until every participant has acknowledged it, then writes an
//! end record.
//!
//! **Presumed abort.** Abort decisions are never written: a coordinator asked about a
//! transaction it has no record of answers abort. This is safe because a commit decision is
//! always durable before anyone hears of it.
//!
//! **Incarnations.** A coordinator counts its restarts on disk, and every `Prepare`, `Vote` and
//! `Decide` carries the incarnation that sent it. A restarted coordinator has forgotten the
//! transactions it had not decided (presumed abort), so if a client's retry makes it run one
//! again, a participant still prepared from the earlier incarnation aborts that and votes no;
//! and a participant applies a decision only for the incarnation it prepared under.
//!
//! **Locks.** A participant holds write locks on the accounts it changes and read locks on the
//! accounts it reads from its vote until the decision (strict two-phase locking), so reads of
//! the whole bank are serializable. Conflicts follow `conflicts`: `no-wait` (the default) votes
//! no at once; `wait-die` lets an older transaction (by its client's clock at invocation) wait
//! for younger holders and makes a younger one vote no — waits go only from old to young, so
//! they never form a cycle.
//!
//! **Recovery.** A restarted participant reloads its prepare records and their locks; each one
//! is **in doubt**, and so is any prepared participant whose decision has not come within
//! `inquire_after`: it asks the coordinator (`Inquire`) until it learns the decision. A
//! restarted coordinator re-sends the commit decisions its log holds that not every participant
//! acknowledged; the rest it presumes aborted.
//!
//! **Cooperative termination** (`cooperative_termination = true`; Bernstein et al. §7.4): an
//! in-doubt participant also asks the transaction's other participants. One that has decided
//! tells the decision; one that has never voted aborts the transaction on its disk, so that it
//! will vote no, and answers abort. It unblocks a participant whose coordinator is down as long
//! as some other participant has decided or not yet voted; when every participant voted yes and
//! none has heard the decision, nobody can know it, and they all stay blocked until the
//! coordinator is back — the blocking no termination protocol removes.
//!
//! ## Properties checked
//!
//! After every event ([`invariants`]): **atomicity** — no transaction is committed at one
//! participant and aborted at another; **commit-without-decision** — no participant commits a
//! transaction whose coordinator did not decide commit; **conservation** — every balance equals
//! a ghost bank that applies each committed transaction at once, its decision instant, counting
//! the changes of a participant still prepared as pending. The bank workload's checkers judge
//! the clients' history (`bank-total`, `bank-negative-balance`, `linearizability`).
//!
//! ## Planted bugs
//!
//! - `commit-on-timeout` — an in-doubt participant commits on its own when `inquire_after`
//!   passes, instead of asking: caught by **commit-without-decision** (it commits what its
//!   coordinator aborted or never decided);
//! - `decide-before-logging` — the coordinator sends `Decide(commit)` before its decision record
//!   is durable: a crash in between makes the restarted coordinator presume abort for a
//!   transaction some participants committed, caught by **atomicity**;
//! - `forget-prepared` — a restarted participant drops its prepare records: a commit decision
//!   then finds nothing to apply, caught by **conservation**;
//! - `presume-commit` — a coordinator asked about a transaction it has no record of answers
//!   commit: caught by **commit-without-decision**.

pub mod bugs;
pub mod client;
pub mod coordinator;
pub mod invariants;
pub mod participant;

use crate::placement::{Ring, VIRTUAL_NODE_COUNT_MAX};
use bugs::Bug;
pub use client::TransactionClient;
pub use invariants::TwoPhaseInvariants;
use serde::{Deserialize, Serialize};
use sim::protocol::{ClientId, Context, Key, NodeConfig, NodeId, NodeView, Protocol, Role};
use sim::rng::Ratio;
use sim::time::{SimDuration, SimTime};
pub use sim::workload::bank::OPENING_BALANCE;
use sim::workload::bank::{Bank, Operation};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The moments a node marks, for faults triggered by them (`[[faults]] on = "…"`):
///
/// - `prepare-sent`: a coordinator has sent `Prepare` to every participant;
/// - `voted-yes`: a participant has written its prepare record and pushed its yes vote (the vote
///   leaves once the record is durable);
/// - `decision-logged`: a coordinator has written its commit decision and pushed `Decide` (which
///   leaves once the record is durable): a crash here leaves every participant in doubt;
/// - `decision-received`: a participant has applied a commit decision.
pub const MOMENTS: [&str; 4] = [
    "prepare-sent",
    "voted-yes",
    "decision-logged",
    "decision-received",
];

/// A transaction, named by its client: the same id on every retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TxnId {
    /// The client that began it.
    pub client: u32,
    /// The client's own counter.
    pub number: u64,
    /// The node that coordinates it.
    pub coordinator: NodeId,
}

impl fmt::Display for TxnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}.{}@{}", self.client, self.number, self.coordinator)
    }
}

/// A coordinator's incarnation: how many times it has started.
pub type Incarnation = u64;

/// The outcome of a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Decision {
    /// Apply the changes everywhere.
    Commit,
    /// Apply them nowhere.
    Abort,
}

/// A participant's share of a transaction: the changes of its accounts and the accounts it
/// reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Share {
    /// Net change per account (written, so write-locked).
    pub changes: Vec<(Key, i64)>,
    /// Accounts read (read-locked).
    pub reads: Vec<Key>,
}

/// A client's request: run this transaction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Request {
    /// The transaction.
    pub txn: TxnId,
    /// Where to answer.
    pub client: ClientId,
    /// The client's monotonic clock when it began the transaction (its age, for wait-die).
    pub born: SimTime,
    /// What to do.
    pub operation: Operation,
}

/// How a transaction ended, as the coordinator tells the client.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Committed; a read's balances.
    Committed(Option<Vec<i64>>),
    /// Aborted, and why.
    Aborted(Cow<'static, str>),
}

/// A node's answer to a client.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Response {
    /// The transaction.
    pub txn: TxnId,
    /// Its outcome.
    pub outcome: Outcome,
}

/// A participant's vote.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Vote {
    /// Prepared: the balances it read.
    Yes(Vec<(Key, i64)>),
    /// Will not commit, and why.
    No(&'static str),
}

/// Messages between nodes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Message {
    /// A client request for a transaction another node coordinates.
    Relay(Request),
    /// Phase one: prepare your share.
    Prepare {
        /// The transaction.
        txn: TxnId,
        /// The coordinator's incarnation.
        incarnation: Incarnation,
        /// The transaction's age (wait-die).
        born: SimTime,
        /// This participant's share.
        share: Share,
        /// Every participant (for cooperative termination).
        participants: Vec<NodeId>,
    },
    /// A participant's vote.
    Vote {
        /// The transaction.
        txn: TxnId,
        /// The incarnation it answers.
        incarnation: Incarnation,
        /// The vote.
        vote: Vote,
    },
    /// Phase two: the decision.
    Decide {
        /// The transaction.
        txn: TxnId,
        /// The incarnation the decision is for.
        incarnation: Incarnation,
        /// The decision.
        decision: Decision,
    },
    /// A participant applied a commit decision.
    Ack {
        /// The transaction.
        txn: TxnId,
    },
    /// An in-doubt participant asks its coordinator.
    Inquire {
        /// The transaction.
        txn: TxnId,
        /// The incarnation it prepared under.
        incarnation: Incarnation,
    },
    /// Cooperative termination: an in-doubt participant asks another participant.
    PeerInquire {
        /// The transaction.
        txn: TxnId,
    },
    /// Cooperative termination: a participant that knows the decision tells it.
    PeerDecision {
        /// The transaction.
        txn: TxnId,
        /// The decision.
        decision: Decision,
    },
}

/// The node's timers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// The coordinator stops waiting for votes.
    Votes(TxnId),
    /// The coordinator re-sends a commit decision to participants that have not acknowledged.
    Resend(TxnId),
    /// A prepared participant asks for the decision.
    Inquire(TxnId),
}

/// Where a participant is with a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LocalState {
    /// Voted yes, waiting for the decision (locks held).
    Prepared,
    /// Applied.
    Committed,
    /// Aborted.
    Aborted,
}

/// A participant's record of a transaction (its log entry, kept in memory too).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Local {
    /// The coordinator's incarnation it prepared under.
    pub incarnation: Incarnation,
    /// The transaction's age (wait-die).
    pub born: SimTime,
    /// Its share.
    pub share: Share,
    /// Every participant.
    pub participants: Vec<NodeId>,
    /// Where it is.
    pub state: LocalState,
}

/// A coordinator's commit decision on disk.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Logged {
    /// The incarnation that decided.
    pub incarnation: Incarnation,
    /// Every participant.
    pub participants: Vec<NodeId>,
    /// Whether it was a read (whose result is not on disk).
    pub read: bool,
    /// Whether every participant acknowledged it.
    pub ended: bool,
}

/// A node's disk: the coordinator's log (commit decisions only: presumed abort) and the
/// participant's log and balances.
#[derive(Clone, Debug, Default)]
pub struct Durable {
    /// How many times the node started (the coordinator's incarnation).
    pub starts: u64,
    /// Commit decisions this node made as coordinator.
    pub decisions: BTreeMap<TxnId, Logged>,
    /// This node's participant records.
    pub records: BTreeMap<TxnId, Local>,
    /// Balances of the accounts it holds that differ from the opening balance.
    pub balances: BTreeMap<Key, i64>,
}

/// One write to the disk.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Update {
    /// The node started.
    Started,
    /// The coordinator decided commit.
    Decided {
        /// The transaction.
        txn: TxnId,
        /// The record.
        logged: Logged,
    },
    /// Every participant acknowledged a commit decision.
    Ended {
        /// The transaction.
        txn: TxnId,
    },
    /// A participant's record, new or changed (its state says which).
    Record {
        /// The transaction.
        txn: TxnId,
        /// The record.
        local: Local,
    },
}

/// How a participant meets a lock another transaction holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Conflicts {
    /// Vote no at once.
    #[default]
    NoWait,
    /// An older transaction waits for younger holders; a younger one votes no.
    WaitDie,
}

/// Options from `[protocol.options]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Points per node on the consistent-hash ring.
    #[serde(default = "default_virtual_nodes")]
    pub virtual_nodes: u32,
    /// A fixed coordinator for every transaction (default: the node the client reaches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinator: Option<u32>,
    /// The lock conflict policy.
    #[serde(default)]
    pub conflicts: Conflicts,
    /// In-doubt participants also ask each other.
    #[serde(default)]
    pub cooperative_termination: bool,
    /// How long a coordinator waits for votes before aborting.
    #[serde(default = "default_vote_timeout")]
    pub vote_timeout: SimDuration,
    /// How often a coordinator re-sends an unacknowledged commit decision.
    #[serde(default = "default_resend_after")]
    pub resend_after: SimDuration,
    /// How long a prepared participant waits before asking for the decision (and between asks).
    #[serde(default = "default_inquire_after")]
    pub inquire_after: SimDuration,
    /// The probability each participant votes no on its own: one value for every node, or one
    /// per node (node i uses entry i mod length). Empty: never.
    #[serde(default)]
    pub no_vote: Vec<Ratio>,
}

fn default_virtual_nodes() -> u32 {
    100
}
fn default_vote_timeout() -> SimDuration {
    SimDuration::from_millis(500)
}
fn default_resend_after() -> SimDuration {
    SimDuration::from_millis(200)
}
fn default_inquire_after() -> SimDuration {
    SimDuration::from_millis(300)
}

impl Default for Options {
    fn default() -> Self {
        Options {
            virtual_nodes: default_virtual_nodes(),
            coordinator: None,
            conflicts: Conflicts::default(),
            cooperative_termination: false,
            vote_timeout: default_vote_timeout(),
            resend_after: default_resend_after(),
            inquire_after: default_inquire_after(),
            no_vote: Vec::new(),
        }
    }
}

/// What a node did in the handler just run, for observers (the invariants): each handler
/// starts with an empty journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Journal {
    /// As coordinator, decided commit: the transaction's net changes per account.
    DecidedCommit {
        /// The transaction.
        txn: TxnId,
        /// Its changes.
        changes: Vec<(Key, i64)>,
    },
    /// As participant, prepared (voted yes).
    Prepared(TxnId),
    /// As participant, began to ask for a decision it is waiting for.
    InDoubt(TxnId),
    /// As participant, committed.
    Committed(TxnId),
    /// As participant, aborted a transaction.
    Aborted(TxnId),
}

/// A coordinator's volatile view of a transaction it coordinates.
#[derive(Clone, Debug)]
pub(crate) struct Coordinated {
    pub(crate) client: Option<ClientId>,
    pub(crate) participants: Vec<NodeId>,
    pub(crate) changes: Vec<(Key, i64)>,
    pub(crate) read: bool,
    pub(crate) incarnation: Incarnation,
    pub(crate) phase: Phase,
    pub(crate) votes: BTreeMap<NodeId, Vec<(Key, i64)>>,
    pub(crate) acks: BTreeSet<NodeId>,
    pub(crate) result: Option<Vec<i64>>,
    pub(crate) reason: Cow<'static, str>,
}

/// Where a coordinator is with a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Collecting,
    Committed,
    Aborted,
}

/// A `Prepare` waiting for locks (wait-die).
#[derive(Clone, Debug)]
pub(crate) struct Waiting {
    pub(crate) source: NodeId,
    pub(crate) txn: TxnId,
    pub(crate) incarnation: Incarnation,
    pub(crate) born: SimTime,
    pub(crate) share: Share,
    pub(crate) participants: Vec<NodeId>,
}

/// The locks on one account.
#[derive(Clone, Debug, Default)]
pub(crate) struct Lock {
    pub(crate) writer: Option<TxnId>,
    pub(crate) readers: BTreeSet<TxnId>,
}

/// One node: coordinator of the transactions its clients begin, participant for its accounts.
#[derive(Clone, Debug)]
pub struct TwoPhaseCommit {
    id: NodeId,
    node_count: u32,
    options: Options,
    bug: Option<Bug>,
    ring: Ring,
    incarnation: Incarnation,
    transactions: BTreeMap<TxnId, Coordinated>,
    balances: BTreeMap<Key, i64>,
    records: BTreeMap<TxnId, Local>,
    locks: BTreeMap<Key, Lock>,
    waiting: Vec<Waiting>,
    journal: Vec<Journal>,
    /// The first time (monotonic) a prepared transaction began waiting here, for blocking
    /// figures; the in-doubt start once it asks.
    prepared_since: BTreeMap<TxnId, (SimTime, Option<SimTime>)>,
    blocking: Blocking,
}

/// Time this node's participant spent prepared and in doubt, on its monotonic clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Blocking {
    /// Transactions that left the prepared state here.
    pub decided: u64,
    /// Their total time prepared (vote to decision).
    pub prepared: SimDuration,
    /// Their total time in doubt (first inquiry to decision).
    pub in_doubt: SimDuration,
    /// The longest time one of them spent in doubt.
    pub in_doubt_max: SimDuration,
}

impl TwoPhaseCommit {
    /// The node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }
    /// The balance of `account` as this node holds it.
    pub fn balance(&self, account: Key) -> i64 {
        self.balances
            .get(&account)
            .copied()
            .unwrap_or(OPENING_BALANCE)
    }
    /// Whether this node holds `account`.
    pub fn holds(&self, account: Key) -> bool {
        self.ring.owner(account) == self.id
    }
    /// The accounts this node has written (others still hold the opening balance).
    pub fn touched_accounts(&self) -> impl Iterator<Item = Key> + '_ {
        self.balances.keys().copied()
    }
    /// The participant's records.
    pub fn records(&self) -> &BTreeMap<TxnId, Local> {
        &self.records
    }
    /// The transactions prepared here and not yet decided, with their records.
    pub fn prepared(&self) -> impl Iterator<Item = (TxnId, &Local)> + '_ {
        self.prepared_since
            .keys()
            .filter_map(|txn| self.records.get(txn).map(|local| (*txn, local)))
    }
    /// What the last handler did.
    pub fn journal(&self) -> &[Journal] {
        &self.journal
    }
    /// Blocking figures of this incarnation's participant.
    pub fn blocking(&self) -> Blocking {
        self.blocking
    }
    /// The ring placing accounts on nodes.
    pub fn ring(&self) -> &Ring {
        &self.ring
    }
    /// The node's coordinator incarnation.
    pub fn incarnation(&self) -> Incarnation {
        self.incarnation
    }

    /// Whether `bug` is enabled.
    fn has_bug(&self, bug: Bug) -> bool {
        self.bug == Some(bug)
    }

    /// The probability this node votes no by draw.
    fn no_vote(&self) -> Ratio {
        let list = &self.options.no_vote;
        if list.is_empty() {
            Ratio::ZERO
        } else {
            list[self.id.index() % list.len()]
        }
    }
}

impl Protocol for TwoPhaseCommit {
    type Workload = Bank;
    type Message = Message;
    type Request = Request;
    type Response = Response;
    type Client = TransactionClient;
    type Timer = Timer;
    type Durable = Durable;
    type Update = Update;
    type Options = Options;

    const NAME: &'static str = "two-phase-commit";
    const BUGS: &'static [&'static str] = &Bug::NAMES;
    const MOMENTS: &'static [&'static str] = &MOMENTS;

    fn start(
        config: &NodeConfig<'_, Options>,
        durable: Option<&Durable>,
        context: &mut Context<Self>,
    ) -> Self {
        let nodes: Vec<NodeId> = (0..config.node_count).map(NodeId).collect();
        let ring = Ring::new(&nodes, config.options.virtual_nodes)
            .expect("virtual_nodes is checked when the scenario loads");
        let disk = durable.cloned().unwrap_or_default();
        let mut node = TwoPhaseCommit {
            id: config.id,
            node_count: config.node_count,
            options: config.options.clone(),
            bug: config.bug.and_then(Bug::from_name),
            ring,
            incarnation: disk.starts + 1,
            transactions: BTreeMap::new(),
            balances: disk.balances.clone(),
            records: BTreeMap::new(),
            locks: BTreeMap::new(),
            waiting: Vec::new(),
            journal: Vec::new(),
            prepared_since: BTreeMap::new(),
            blocking: Blocking::default(),
        };
        // The incarnation is on disk before any message of this incarnation leaves.
        context.persist(Update::Started);
        node.recover_coordinator(context, &disk);
        node.recover_participant(context, &disk);
        node
    }

    fn on_message(&mut self, context: &mut Context<Self>, source: NodeId, message: Message) {
        self.journal.clear();
        match message {
            Message::Relay(request) => self.coordinate(context, request),
            Message::Prepare {
                txn,
                incarnation,
                born,
                share,
                participants,
            } => self.on_prepare(
                context,
                Waiting {
                    source,
                    txn,
                    incarnation,
                    born,
                    share,
                    participants,
                },
            ),
            Message::Vote {
                txn,
                incarnation,
                vote,
            } => self.on_vote(context, source, txn, incarnation, vote),
            Message::Decide {
                txn,
                incarnation,
                decision,
            } => self.on_decide(context, source, txn, Some(incarnation), decision),
            Message::Ack { txn } => self.on_ack(context, source, txn),
            Message::Inquire { txn, incarnation } => {
                self.on_inquire(context, source, txn, incarnation)
            }
            Message::PeerInquire { txn } => self.on_peer_inquire(context, source, txn),
            Message::PeerDecision { txn, decision } => {
                self.on_decide(context, source, txn, None, decision)
            }
        }
    }

    fn on_timer(&mut self, context: &mut Context<Self>, timer: Timer) {
        self.journal.clear();
        match timer {
            Timer::Votes(txn) => self.on_votes_timeout(context, txn),
            Timer::Resend(txn) => self.on_resend(context, txn),
            Timer::Inquire(txn) => self.on_inquire_timer(context, txn),
        }
    }

    fn on_client_request(
        &mut self,
        context: &mut Context<Self>,
        _client: ClientId,
        request: Request,
    ) {
        self.journal.clear();
        if request.txn.coordinator == self.id {
            self.coordinate(context, request);
        } else if request.txn.coordinator.0 < self.node_count {
            // One transaction, one coordinator: a retry that reached another node goes there.
            context.send(request.txn.coordinator, Message::Relay(request));
        }
    }

    fn apply_update(disk: &mut Durable, update: Update) {
        match update {
            Update::Started => disk.starts += 1,
            Update::Decided { txn, logged } => {
                disk.decisions.insert(txn, logged);
            }
            Update::Ended { txn } => {
                if let Some(logged) = disk.decisions.get_mut(&txn) {
                    logged.ended = true;
                }
            }
            Update::Record { txn, local } => {
                if local.state == LocalState::Committed {
                    let was_committed = disk
                        .records
                        .get(&txn)
                        .is_some_and(|old| old.state == LocalState::Committed);
                    if !was_committed {
                        for (account, change) in &local.share.changes {
                            let balance = disk.balances.entry(*account).or_insert(OPENING_BALANCE);
                            *balance += change;
                        }
                    }
                }
                disk.records.insert(txn, local);
            }
        }
    }

    fn view(&self) -> NodeView {
        NodeView {
            role: Role::Other,
            term: self.incarnation,
            commit_index: 0,
            leader_hint: None,
        }
    }

    fn activity(&self) -> &'static str {
        // What a fault here interrupts, most delicate first: a participant that voted yes and
        // is asking about the outcome, one that voted yes and waits, a coordinator that has
        // decided and is telling participants, one still collecting votes.
        if self
            .prepared_since
            .values()
            .any(|(_, doubt)| doubt.is_some())
        {
            return "participant in doubt";
        }
        if !self.prepared_since.is_empty() {
            return "participant prepared";
        }
        let mut collecting = false;
        for transaction in self.transactions.values() {
            match transaction.phase {
                Phase::Collecting => collecting = true,
                _ if transaction.acks.len() < transaction.participants.len() => {
                    return "coordinator deciding";
                }
                _ => {}
            }
        }
        if collecting {
            "coordinator collecting votes"
        } else {
            "idle"
        }
    }

    fn check_options(options: &Options) -> Result<(), String> {
        if options.virtual_nodes == 0 || options.virtual_nodes > VIRTUAL_NODE_COUNT_MAX {
            return Err(format!(
                "virtual_nodes: {} is outside 1..={VIRTUAL_NODE_COUNT_MAX}: every node needs at \
                 least one point on the ring",
                options.virtual_nodes
            ));
        }
        for (name, value) in [
            ("vote_timeout", options.vote_timeout),
            ("resend_after", options.resend_after),
            ("inquire_after", options.inquire_after),
        ] {
            if value == SimDuration::ZERO || value > SimDuration::from_millis(86_400_000) {
                return Err(format!("{name}: {value} is outside (0s, 1 day]"));
            }
        }
        if options.no_vote.len() > 64 {
            return Err("no_vote: at most one probability per node (64)".to_string());
        }
        Ok(())
    }

    fn message_kind(message: &Message) -> &'static str {
        match message {
            Message::Relay(_) => "Relay",
            Message::Prepare { .. } => "Prepare",
            Message::Vote { .. } => "Vote",
            Message::Decide { .. } => "Decide",
            Message::Ack { .. } => "Ack",
            Message::Inquire { .. } => "Inquire",
            Message::PeerInquire { .. } => "PeerInquire",
            Message::PeerDecision { .. } => "PeerDecision",
        }
    }
}

/// Deterministic draw of whether `node` votes no on `txn`: a fixed hash of the transaction id
/// and its age (which the seed decides), never a random number the protocol draws itself.
pub(crate) fn draws_no(txn: TxnId, born: SimTime, node: NodeId, ratio: Ratio) -> bool {
    if ratio.is_zero() {
        return false;
    }
    let mut hash = crate::placement::mix((u64::from(txn.client) << 32) ^ u64::from(node.0));
    hash = crate::placement::mix(hash ^ txn.number);
    hash = crate::placement::mix(hash ^ born.0 ^ (u64::from(txn.coordinator.0) << 48));
    ((u128::from(hash) * u128::from(ratio.denominator)) >> 64) < u128::from(ratio.numerator)
}
