//! # A ZooKeeper-style lock on Raft's replicated log
//!
//! ZooKeeper's lock recipe (Hunt et al., "ZooKeeper: Wait-free coordination for Internet-scale
//! systems", USENIX ATC 2010, §2.4 "Simple Locks without Herd Effect"): a client that wants a
//! lock creates an **ephemeral sequential** node under the lock's parent; it holds the lock when
//! its node has the lowest sequence number, and otherwise waits for the node just before its
//! own to go. Ephemeral nodes belong to the client's **session** and are deleted when the
//! session ends — by the client, or by the leader when it has heard nothing from the client for
//! the session timeout (§4.4: the leader expires sessions and logs their closing). Every change
//! is ordered by a zxid; here the **fencing token is the zxid at which the client's entry became
//! the head of its queue** — the position of the grant in the log, so tokens of one lock strictly
//! increase, across any crash, because they are rebuilt from the log.
//!
//! ## How it is built
//!
//! Nodes `0..n-1` run [`Raft`] (`protocols/src/raft/`) over a state machine of their own
//! ([`ZkMachine`]: sessions, per-lock queues of sequential entries, each queue's head and the
//! zxid of its grant); the last node is the storage node ([`super::storage`]). A [`ZkLock`]
//! node wraps its Raft node: it hands Raft its messages, timers and client requests, maps
//! Raft's effects onto its own, and adds what ZooKeeper's leader does beside the log —
//! tracking each session's pings and proposing `CloseSession` for a session silent for
//! `session_timeout` (as an internal client of its own Raft node; a new leader gives every
//! session a fresh timeout, as ZooKeeper's does). Pings are not logged.
//!
//! The client half ([`ZkClient`]) opens a session, pings the leader every third of the session
//! timeout, creates its entry (`Create`), and asks for its entry's status until it is the head
//! (ZooKeeper would set a watch on its predecessor; asking again every `poll_interval` is the
//! simplification — each ask goes through the log, so the answer is linearizable). It releases
//! with `Delete`. A client that gives up waiting (the operation's deadline) closes its whole
//! session rather than leave an entry that would block the queue, and opens a new one next time.
//!
//! ## Which clock each side reads, and why
//!
//! - **The leader** measures each session's silence on its **monotonic** clock: a timeout is a
//!   duration. (The planted bug `session-expiry-on-wall-clock` measures it on the wall clock: a
//!   forward jump expires live sessions.)
//! - **The client half** counts its session as alive until `session_timeout`, shortened by
//!   `drift_bound_ppm`, after it *sent* the last ping the leader answered, on its monotonic
//!   clock — the leader restarted its timer after that moment. It checks that the rest covers the
//!   critical section before the work, as every lock client here does.
//!
//! A paused client's pings stop; the leader expires its session and the next waiter becomes the
//! head with a higher token. The paused client wakes up and writes: the fenced storage rejects it
//! once the new holder has read or written.
//!
//! ## Planted bugs
//!
//! - `session-expiry-on-wall-clock`: the leader times sessions on its wall clock — caught by
//!   **write safety** when the storage does not fence (a forward jump expires a live holder's
//!   session and grants its lock to the next waiter);
//! - `expire-on-leader-change`: a new leader does not give the sessions it inherits a fresh
//!   timeout but counts them silent since it never heard them, and expires them all at once: a
//!   holder inside its critical section loses its lock to the next waiter — caught by **write
//!   safety** when the storage does not fence.
//!
//! A lock that grants before the grant is committed is not planted: the service answers only
//! from Raft's applied (committed) state, and reaching below that would mean changing Raft.

use super::section::{Kind, Section, Step};
use super::storage::Storage;
use super::{
    check_duration, less_ppm, server_count, storage_node, Acquisition, Journal, LockNode, Request,
    Response,
};
use crate::raft::{self, Raft};
use serde::{Deserialize, Serialize};
use sim::client::{ClientConfig, ClientContext, ClientHalf};
use sim::completion::Completion;
use sim::history::{Op, Value};
use sim::protocol::{
    ClientId, Context, Effect, Key, NodeConfig, NodeId, NodeView, Protocol, RequestId, TimerDelay,
};
use sim::recorder::RecordedHistory;
use sim::rng::SimRng;
use sim::service::{self, Answer, StateMachine};
use sim::time::{SimDuration, SimTime};
use sim::workload::lock::{Locks, Operation};
use sim::workload::{Entry, HistoryCheck, Judgement, Setup, Workload, Written};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// A session: the client in the high bits, its own counter in the low.
pub type SessionId = u64;

/// An operation on the replicated lock state (ZooKeeper's create, delete, exists and
/// closeSession, for the lock recipe).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ZkOp {
    /// Opens a session.
    OpenSession {
        /// The session.
        session: SessionId,
    },
    /// Creates an ephemeral sequential entry in `lock`'s queue: its sequence number.
    Create {
        /// The lock.
        lock: Key,
        /// The owning session.
        session: SessionId,
        /// The client (for the observers).
        client: u32,
    },
    /// The token if entry `sequence` is the head of `lock`'s queue; fails with `waiting` or
    /// `gone`.
    Status {
        /// The lock.
        lock: Key,
        /// The entry.
        sequence: u64,
    },
    /// Deletes an entry (a release).
    Delete {
        /// The lock.
        lock: Key,
        /// The entry.
        sequence: u64,
    },
    /// Ends a session and deletes its entries.
    CloseSession {
        /// The session.
        session: SessionId,
    },
}

/// One waiter in a lock's queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waiter {
    /// Its sequence number (the zxid of its creation).
    pub sequence: u64,
    /// The owning session.
    pub session: SessionId,
    /// The client.
    pub client: u32,
}

/// The replicated state: sessions, queues, and each queue's head with the zxid of its grant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ZkMachine {
    zxid: u64,
    sessions: BTreeSet<SessionId>,
    queues: BTreeMap<Key, Vec<Waiter>>,
    heads: BTreeMap<Key, (Waiter, u64)>,
}

impl ZkMachine {
    /// Each lock's head and its token.
    pub fn heads(&self) -> &BTreeMap<Key, (Waiter, u64)> {
        &self.heads
    }
    /// The open sessions.
    pub fn sessions(&self) -> &BTreeSet<SessionId> {
        &self.sessions
    }

    fn update_head(&mut self, lock: Key) {
        let first = self
            .queues
            .get(&lock)
            .and_then(|queue| queue.first().copied());
        match first {
            None => {
                self.heads.remove(&lock);
            }
            Some(waiter) => {
                if self
                    .heads
                    .get(&lock)
                    .is_none_or(|(head, _)| *head != waiter)
                {
                    // The grant: its token is the zxid of the change that made it.
                    self.heads.insert(lock, (waiter, self.zxid));
                }
            }
        }
    }
}

impl StateMachine for ZkMachine {
    type Workload = ZkOps;

    fn execute(&mut self, operation: &ZkOp) -> Result<u64, Cow<'static, str>> {
        if !Self::is_read_only(operation) {
            self.zxid += 1;
        }
        match *operation {
            ZkOp::OpenSession { session } => {
                self.sessions.insert(session);
                Ok(session)
            }
            ZkOp::Create {
                lock,
                session,
                client,
            } => {
                if !self.sessions.contains(&session) {
                    return Err("session expired".into());
                }
                let sequence = self.zxid;
                self.queues.entry(lock).or_default().push(Waiter {
                    sequence,
                    session,
                    client,
                });
                self.update_head(lock);
                Ok(sequence)
            }
            ZkOp::Status { .. } => self.query(operation).ok_or_else(|| {
                let ZkOp::Status { lock, sequence } = *operation else {
                    unreachable!("a status")
                };
                let waiting = self
                    .queues
                    .get(&lock)
                    .is_some_and(|queue| queue.iter().any(|w| w.sequence == sequence));
                if waiting { "waiting" } else { "gone" }.into()
            }),
            ZkOp::Delete { lock, sequence } => {
                if let Some(queue) = self.queues.get_mut(&lock) {
                    queue.retain(|waiter| waiter.sequence != sequence);
                }
                self.update_head(lock);
                Ok(0)
            }
            ZkOp::CloseSession { session } => {
                self.sessions.remove(&session);
                let locks: Vec<Key> = self.queues.keys().copied().collect();
                for lock in locks {
                    if let Some(queue) = self.queues.get_mut(&lock) {
                        queue.retain(|waiter| waiter.session != session);
                    }
                    self.update_head(lock);
                }
                Ok(0)
            }
        }
    }

    fn is_read_only(operation: &ZkOp) -> bool {
        matches!(operation, ZkOp::Status { .. })
    }

    fn query(&self, operation: &ZkOp) -> Option<u64> {
        let ZkOp::Status { lock, sequence } = *operation else {
            return None;
        };
        let (head, token) = self.heads.get(&lock)?;
        (head.sequence == sequence).then_some(*token)
    }
}

/// The operations of the replicated lock state as a workload type: Raft is generic over a
/// state machine of a workload. It is never a scenario's workload (the clients run the lock
/// workload), so its generator and checker are never used.
#[derive(Clone, Debug)]
pub struct ZkOps;

impl Workload for ZkOps {
    type Operation = ZkOp;
    type Output = u64;
    type Options = ();

    const KIND: &'static str = "zookeeper-internal";

    fn new(_options: &(), _setup: Setup) -> ZkOps {
        ZkOps
    }
    fn next_operation(&mut self, _client: u32, _rng: &mut SimRng) -> ZkOp {
        unreachable!("the lock state's operations come from the lock clients")
    }
    fn write(_operation: &ZkOp, _output: Option<&u64>) -> Entry {
        Entry {
            function: "zookeeper",
            key: None,
            value: Written::Nil,
        }
    }
    fn read(op: &Op) -> Result<(ZkOp, Option<u64>), String> {
        Err(format!(
            "not a lock workload entry: {} {}",
            op.function,
            Value::Nil
        ))
    }
    fn check(
        &self,
        _history: &RecordedHistory,
        _options: &sim::check::CheckOptions,
    ) -> Result<HistoryCheck, String> {
        Ok(HistoryCheck {
            judgement: Judgement::Valid,
            explanation: String::new(),
        })
    }
}

type Inner = Raft<ZkMachine>;
type InnerMessage = <Inner as Protocol>::Message;
type InnerTimer = <Inner as Protocol>::Timer;
type InnerDurable = <Inner as Protocol>::Durable;
type InnerUpdate = <Inner as Protocol>::Update;
type LogRequest = service::Request<ZkOp>;
type LogResponse = service::Response<u64>;

/// The ZooKeeper-style service's options.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// How long the leader waits without a ping before it expires a session.
    #[serde(default = "default_session_timeout")]
    pub session_timeout: SimDuration,
    /// How much faster the client assumes its clock may run than the leader's (ppm).
    #[serde(default = "default_drift_bound_ppm")]
    pub drift_bound_ppm: u64,
    /// How often a waiting client asks whether its entry is the head.
    #[serde(default = "default_poll_interval")]
    pub poll_interval: SimDuration,
    /// Raft's own options (`[protocol.options.raft]`).
    #[serde(default)]
    pub raft: raft::Options,
}

fn default_session_timeout() -> SimDuration {
    SimDuration::from_millis(600)
}
fn default_drift_bound_ppm() -> u64 {
    10_000
}
fn default_poll_interval() -> SimDuration {
    SimDuration::from_millis(20)
}

impl Default for Options {
    fn default() -> Self {
        Options {
            session_timeout: default_session_timeout(),
            drift_bound_ppm: default_drift_bound_ppm(),
            poll_interval: default_poll_interval(),
            raft: raft::Options::default(),
        }
    }
}

/// The planted bugs.
pub const BUGS: [&str; 2] = ["session-expiry-on-wall-clock", "expire-on-leader-change"];

/// What a client sends.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ZkRequest {
    /// An operation on the replicated state.
    Log(LogRequest),
    /// A session's heartbeat.
    Ping {
        /// The session.
        session: SessionId,
    },
    /// A read or write at the storage node.
    Storage(Request),
}

/// What a node answers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ZkResponse {
    /// Raft's answer to a log request.
    Log(LogResponse),
    /// The answer to a ping: whether this node leads, and where the leader is if not.
    Pong {
        /// The session.
        session: SessionId,
        /// Whether this node is the leader (and restarted the session's timer).
        leader: bool,
        /// The leader this node knows of.
        hint: Option<NodeId>,
    },
    /// The storage's answer.
    Storage(Response),
}

/// Messages between nodes: Raft's.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ZkMessage(pub InnerMessage);

/// Timers: Raft's, and the leader's session check.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ZkTimer {
    /// One of Raft's.
    Raft(InnerTimer),
    /// Look for silent sessions.
    Sessions,
}

/// A node's disk: Raft's and the storage's.
#[derive(Clone, Debug, Default)]
pub struct ZkDurable {
    /// Raft's term, vote and log.
    pub raft: InnerDurable,
    /// The storage's (on the storage node).
    pub storage: super::Durable,
}

/// One write to the disk.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ZkUpdate {
    /// Raft's.
    Raft(InnerUpdate),
    /// The storage's.
    Storage(super::Update),
}

/// One node: a Raft member keeping the lock state, or the storage.
#[derive(Clone, Debug)]
pub struct ZkLock {
    id: NodeId,
    node_count: u32,
    options: Options,
    wall_expiry: bool,
    expire_inherited: bool,
    /// Whether this node led after its last handler.
    leading: bool,
    raft: Option<Inner>,
    storage: Storage,
    journal: Vec<Journal>,
    /// The leader's view of each session: when it last heard from it (its session clock).
    heard: BTreeMap<SessionId, SimTime>,
    /// Sessions whose closing this leader has proposed.
    closing: BTreeSet<SessionId>,
    /// The heads this replica has applied, to journal grants.
    heads: BTreeMap<Key, (Waiter, u64)>,
    next_proposal: u64,
}

impl ZkLock {
    /// The Raft node, if this is a member.
    pub fn raft(&self) -> Option<&Inner> {
        self.raft.as_ref()
    }

    fn session_clock(&self, context: &Context<Self>) -> SimTime {
        if self.wall_expiry {
            context.wall_clock()
        } else {
            context.now()
        }
    }

    fn raft_count(&self) -> u32 {
        server_count(self.node_count)
    }

    /// Runs `handler` on the Raft node with a context of its own, then maps its effects.
    fn with_raft(
        &mut self,
        context: &mut Context<Self>,
        handler: impl FnOnce(&mut Inner, &mut Context<Inner>),
    ) {
        let raft_count = self.raft_count();
        let Some(raft) = self.raft.as_mut() else {
            return;
        };
        let mut inner =
            Context::<Inner>::with_clocks(self.id, raft_count, context.now(), context.wall_clock());
        handler(raft, &mut inner);
        let effects: Vec<Effect<Inner>> = inner.drain_effects().collect();
        for effect in effects {
            match effect {
                Effect::Send { target, message } => context.send(target, ZkMessage(message)),
                Effect::SetTimer { timer, delay } => match delay {
                    TimerDelay::Fixed(delay) => context.set_timer(ZkTimer::Raft(timer), delay),
                    TimerDelay::Range(low, high) => {
                        context.set_timer_range(ZkTimer::Raft(timer), low, high)
                    }
                },
                Effect::CancelTimer { timer } => context.cancel_timer(ZkTimer::Raft(timer)),
                Effect::Persist { update } => context.persist(ZkUpdate::Raft(update)),
                Effect::Moment { .. } => {}
                Effect::Reply { client, response } => {
                    if client.0 < INTERNAL_CLIENTS {
                        context.reply(client, ZkResponse::Log(response));
                    }
                }
            }
        }
        self.after_raft(context);
    }

    /// Journals the grants and releases the replica applied, and keeps the leader's session
    /// table in step with the replicated sessions.
    fn after_raft(&mut self, context: &mut Context<Self>) {
        let Some(raft) = self.raft.as_ref() else {
            return;
        };
        let machine = raft.state_machine();
        let now_heads = machine.heads().clone();
        for (lock, (waiter, _)) in &self.heads {
            if now_heads.get(lock).is_none_or(|(w, _)| w != waiter) {
                self.journal.push(Journal::Freed {
                    lock: *lock,
                    acquisition: acquisition_of(waiter),
                });
            }
        }
        for (lock, (waiter, token)) in &now_heads {
            if self.heads.get(lock).is_none_or(|(w, _)| w != waiter) {
                self.journal.push(Journal::Granted {
                    lock: *lock,
                    acquisition: acquisition_of(waiter),
                    token: Some(*token),
                });
            }
        }
        self.heads = now_heads;
        if raft.is_leader() {
            let sessions = machine.sessions().clone();
            let now = self.session_clock(context);
            // A session this leader has not timed yet gets a fresh timeout (ZooKeeper's leader
            // does the same for every session when it takes over).
            // The sessions a leader finds when it takes over are inherited.
            let since = if self.expire_inherited && !self.leading {
                SimTime::ZERO // the bug: "never heard" counts as silent since the epoch
            } else {
                now
            };
            self.leading = true;
            for session in &sessions {
                self.heard.entry(*session).or_insert(since);
            }
            self.heard.retain(|session, _| sessions.contains(session));
            self.closing.retain(|session| sessions.contains(session));
        } else {
            self.leading = false;
            self.heard.clear();
            self.closing.clear();
        }
    }

    /// The leader's session check: propose closing every session silent for the timeout.
    fn check_sessions(&mut self, context: &mut Context<Self>) {
        context.set_timer(ZkTimer::Sessions, part(self.options.session_timeout, 4));
        let Some(raft) = self.raft.as_ref() else {
            return;
        };
        if !raft.is_leader() {
            return;
        }
        let now = self.session_clock(context);
        let silent: Vec<SessionId> = self
            .heard
            .iter()
            .filter(|(session, heard)| {
                !self.closing.contains(session)
                    && now.saturating_since(**heard) >= self.options.session_timeout
            })
            .map(|(session, _)| *session)
            .collect();
        let term = raft.current_term().0;
        let client = ClientId(INTERNAL_CLIENTS + self.id.0);
        for session in silent {
            self.closing.insert(session);
            self.next_proposal += 1;
            let request = service::Request {
                id: RequestId((term << 24) | self.next_proposal),
                client,
                operation: ZkOp::CloseSession { session },
            };
            self.with_raft(context, |raft, inner| {
                raft.on_client_request(inner, client, request)
            });
        }
    }
}

/// A `count`-th of `duration`.
fn part(duration: SimDuration, count: u64) -> SimDuration {
    SimDuration::from_nanos(duration.as_nanos() / count)
}

/// Client ids from here on are the leaders' own proposals, never real clients.
const INTERNAL_CLIENTS: u32 = u32::MAX - 1_024;

fn acquisition_of(waiter: &Waiter) -> Acquisition {
    Acquisition {
        client: waiter.client,
        number: waiter.sequence,
    }
}

impl LockNode for ZkLock {
    fn journal(&self) -> &[Journal] {
        &self.journal
    }
    fn storage(&self) -> &Storage {
        &self.storage
    }
    fn grant_quorum(_server_count: u32) -> u32 {
        // A replica applies only committed entries: one replica's grant is the service's.
        1
    }
}

impl Protocol for ZkLock {
    type Workload = Locks;
    type Message = ZkMessage;
    type Request = ZkRequest;
    type Response = ZkResponse;
    type Client = ZkClient;
    type Timer = ZkTimer;
    type Durable = ZkDurable;
    type Update = ZkUpdate;
    type Options = Options;

    const NAME: &'static str = "zookeeper-lock";
    const BUGS: &'static [&'static str] = &BUGS;

    fn start(
        config: &NodeConfig<'_, Options>,
        durable: Option<&ZkDurable>,
        context: &mut Context<Self>,
    ) -> Self {
        let storage = storage_node(config.node_count);
        let raft_count = server_count(config.node_count);
        let mut node = ZkLock {
            id: config.id,
            node_count: config.node_count,
            options: config.options.clone(),
            wall_expiry: config.bug == Some(BUGS[0]),
            expire_inherited: config.bug == Some(BUGS[1]),
            leading: false,
            raft: None,
            storage: Storage::recover(&durable.map(|d| d.storage.clone()).unwrap_or_default()),
            journal: vec![Journal::Started],
            heard: BTreeMap::new(),
            closing: BTreeSet::new(),
            heads: BTreeMap::new(),
            next_proposal: 0,
        };
        if config.id.0 < raft_count && (config.id != storage || config.node_count == 1) {
            let raft_config = NodeConfig {
                id: config.id,
                node_count: raft_count,
                options: &config.options.raft,
                bug: None,
            };
            let mut inner = Context::<Inner>::with_clocks(
                config.id,
                raft_count,
                context.now(),
                context.wall_clock(),
            );
            let raft = Inner::start(&raft_config, durable.map(|d| &d.raft), &mut inner);
            node.raft = Some(raft);
            let effects: Vec<Effect<Inner>> = inner.drain_effects().collect();
            // Replay the start's effects through the same mapping.
            node.with_raft(context, |_, inner| {
                for effect in effects {
                    match effect {
                        Effect::Send { target, message } => inner.send(target, message),
                        Effect::SetTimer { timer, delay } => match delay {
                            TimerDelay::Fixed(delay) => inner.set_timer(timer, delay),
                            TimerDelay::Range(low, high) => inner.set_timer_range(timer, low, high),
                        },
                        Effect::CancelTimer { timer } => inner.cancel_timer(timer),
                        Effect::Persist { update } => inner.persist(update),
                        Effect::Moment { .. } => {}
                        Effect::Reply { client, response } => inner.reply(client, response),
                    }
                }
            });
            context.set_timer(ZkTimer::Sessions, part(config.options.session_timeout, 4));
        }
        node
    }

    fn on_message(&mut self, context: &mut Context<Self>, source: NodeId, message: ZkMessage) {
        self.journal.clear();
        self.with_raft(context, |raft, inner| {
            raft.on_message(inner, source, message.0)
        });
    }

    fn on_timer(&mut self, context: &mut Context<Self>, timer: ZkTimer) {
        self.journal.clear();
        match timer {
            ZkTimer::Raft(timer) => {
                self.with_raft(context, |raft, inner| raft.on_timer(inner, timer))
            }
            ZkTimer::Sessions => self.check_sessions(context),
        }
    }

    fn on_client_request(
        &mut self,
        context: &mut Context<Self>,
        client: ClientId,
        request: ZkRequest,
    ) {
        self.journal.clear();
        match request {
            ZkRequest::Log(request) => {
                if self.raft.is_some() {
                    self.with_raft(context, |raft, inner| {
                        raft.on_client_request(inner, client, request)
                    });
                } else {
                    let response = service::Response {
                        request: request.id,
                        answer: Answer::Redirect(None),
                    };
                    context.reply(client, ZkResponse::Log(response));
                }
            }
            ZkRequest::Ping { session } => {
                let leader = self.raft.as_ref().is_some_and(|raft| raft.is_leader());
                let hint = self.raft.as_ref().and_then(|raft| raft.leader_hint());
                if leader && self.heard.contains_key(&session) {
                    let now = self.session_clock(context);
                    self.heard.insert(session, now);
                }
                context.reply(
                    client,
                    ZkResponse::Pong {
                        session,
                        leader: leader && self.heard.contains_key(&session),
                        hint,
                    },
                );
            }
            ZkRequest::Storage(access) => {
                if self.id != storage_node(self.node_count) {
                    return;
                }
                let served = self.storage.serve(&mut self.journal, access);
                for update in served.updates {
                    context.persist(ZkUpdate::Storage(update));
                }
                if let Some(response) = served.response {
                    context.reply(client, ZkResponse::Storage(response));
                }
            }
        }
    }

    fn apply_update(durable: &mut ZkDurable, update: ZkUpdate) {
        match update {
            ZkUpdate::Raft(update) => Inner::apply_update(&mut durable.raft, update),
            ZkUpdate::Storage(update) => super::apply_update(&mut durable.storage, update),
        }
    }

    fn view(&self) -> NodeView {
        match &self.raft {
            Some(raft) => raft.view(),
            None => NodeView {
                role: sim::protocol::Role::Other,
                term: 0,
                commit_index: 0,
                leader_hint: None,
            },
        }
    }

    fn activity(&self) -> &'static str {
        match &self.raft {
            Some(raft) => raft.activity(),
            None => "storage",
        }
    }

    fn check_options(options: &Options) -> Result<(), String> {
        check_duration("session_timeout", options.session_timeout)?;
        check_duration("poll_interval", options.poll_interval)?;
        if options.drift_bound_ppm >= 1_000_000 {
            return Err(format!(
                "drift_bound_ppm: {} would leave no session at all (below 1,000,000)",
                options.drift_bound_ppm
            ));
        }
        Inner::check_options(&options.raft).map_err(|error| format!("raft: {error}"))
    }

    fn message_bytes(message: &ZkMessage) -> u64 {
        Inner::message_bytes(&message.0)
    }

    fn message_kind(message: &ZkMessage) -> &'static str {
        Inner::message_kind(&message.0)
    }
}

/// The client half's timers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ClientTimer {
    /// Ping the leader.
    Ping,
    /// Ask again whether the entry is the head, or send a log request again.
    Again,
    /// The critical section's work is done.
    Hold,
}

/// What the log request in flight is for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Purpose {
    CloseOld,
    Open,
    Create { lock: Key },
    Status { lock: Key, sequence: u64 },
    Delete,
}

/// The operation in progress.
#[derive(Clone, Debug)]
enum Current {
    /// Acquire, release, or closing the old session first: one log request at a time.
    Log {
        request: LogRequest,
        purpose: Purpose,
        /// What to do once the session is sorted out: the lock to acquire.
        lock: Key,
    },
    Section(Section),
}

/// The ZooKeeper client library: a session kept alive by pings, the lock recipe on top.
#[derive(Clone, Debug)]
pub struct ZkClient {
    node_count: u32,
    options: Options,
    redirect_backoff: SimDuration,
    target: NodeId,
    /// The open session, and until when the client counts it alive (monotonic).
    session: Option<(SessionId, SimTime)>,
    sessions_opened: u64,
    /// A session to close before anything else (one given up on).
    stale: Option<SessionId>,
    ping_sent: Option<SimTime>,
    next_request: u64,
    current: Option<Current>,
    held: BTreeMap<Key, (u64, u64)>,
    /// The request in `current` waits for the poll interval before it is sent.
    poll_pending: bool,
}

impl ZkClient {
    fn raft_count(&self) -> u32 {
        server_count(self.node_count)
    }

    fn log_request(&mut self, context: &ClientContext<'_, ZkLock>, operation: ZkOp) -> LogRequest {
        self.next_request += 1;
        // Increasing per client, unique across clients: what Raft's session table needs.
        let id = (u64::from(context.id().0) + 1) << 40 | self.next_request;
        service::Request {
            id: RequestId(id),
            client: context.id(),
            operation,
        }
    }

    fn send_log(
        &mut self,
        context: &mut ClientContext<'_, ZkLock>,
        operation: ZkOp,
        purpose: Purpose,
        lock: Key,
    ) {
        let request = self.log_request(context, operation);
        context.send(self.target, ZkRequest::Log(request.clone()));
        context.set_timer(ClientTimer::Again, part(self.options.session_timeout, 2));
        self.current = Some(Current::Log {
            request,
            purpose,
            lock,
        });
    }

    /// The next step of an acquire: close a stale session, open one, or create the entry.
    fn acquire_step(&mut self, context: &mut ClientContext<'_, ZkLock>, lock: Key) {
        if let Some(session) = self.stale {
            return self.send_log(
                context,
                ZkOp::CloseSession { session },
                Purpose::CloseOld,
                lock,
            );
        }
        match self.session {
            None => {
                self.sessions_opened += 1;
                let session = (u64::from(context.id().0) << 32) | self.sessions_opened;
                // Alive from now on, until the first ping answers say longer.
                let alive = self.alive_from(context.now());
                self.session = Some((session, alive));
                self.ping_sent = None;
                self.send_log(context, ZkOp::OpenSession { session }, Purpose::Open, lock);
            }
            Some((session, _)) => {
                let client = context.id().0;
                let operation = ZkOp::Create {
                    lock,
                    session,
                    client,
                };
                self.send_log(context, operation, Purpose::Create { lock }, lock);
            }
        }
    }

    fn alive_from(&self, sent: SimTime) -> SimTime {
        sent.saturating_add(less_ppm(
            self.options.session_timeout,
            self.options.drift_bound_ppm,
        ))
    }

    fn complete(
        &mut self,
        context: &mut ClientContext<'_, ZkLock>,
        completion: Completion<Option<u64>>,
    ) {
        self.current = None;
        context.cancel_timer(ClientTimer::Again);
        context.complete(completion, None);
    }

    fn on_log_answer(
        &mut self,
        context: &mut ClientContext<'_, ZkLock>,
        source: NodeId,
        answer: Answer<u64>,
    ) {
        let Some(Current::Log { purpose, lock, .. }) = self.current.clone() else {
            return;
        };
        match answer {
            Answer::Redirect(hint) => {
                self.target = hint.unwrap_or(NodeId((source.0 + 1) % self.raft_count()));
                self.resend(context, self.redirect_backoff);
            }
            Answer::Unavailable(_) | Answer::Indeterminate(_) => {
                self.target = NodeId((source.0 + 1) % self.raft_count());
                self.resend(context, self.redirect_backoff);
            }
            Answer::Ok(output) => match purpose {
                Purpose::CloseOld => {
                    self.stale = None;
                    self.acquire_step(context, lock);
                }
                Purpose::Open => {
                    context.set_timer(ClientTimer::Ping, SimDuration::ZERO);
                    self.acquire_step(context, lock);
                }
                Purpose::Create { lock } => {
                    let operation = ZkOp::Status {
                        lock,
                        sequence: output,
                    };
                    self.send_log(
                        context,
                        operation,
                        Purpose::Status {
                            lock,
                            sequence: output,
                        },
                        lock,
                    );
                }
                Purpose::Status { lock, sequence } => {
                    self.held.insert(lock, (sequence, output));
                    self.complete(context, Completion::Ok(Some(output)));
                }
                Purpose::Delete => self.complete(context, Completion::Ok(None)),
            },
            Answer::Fail(reason) => match purpose {
                Purpose::Status { lock, sequence } if reason == "waiting" => {
                    // Not the head yet: ask again after a while (the watch's stand-in).
                    let operation = ZkOp::Status { lock, sequence };
                    let request = self.log_request(context, operation);
                    context.set_timer(ClientTimer::Again, self.options.poll_interval);
                    self.current = Some(Current::Log {
                        request,
                        purpose: Purpose::Status { lock, sequence },
                        lock,
                    });
                    self.poll_pending = true;
                }
                Purpose::CloseOld => {
                    self.stale = None;
                    self.acquire_step(context, lock);
                }
                _ => {
                    // The session expired under us (its entry is gone, or it cannot create).
                    self.session = None;
                    self.complete(context, Completion::Fail(reason));
                }
            },
        }
    }

    fn resend(&mut self, context: &mut ClientContext<'_, ZkLock>, delay: SimDuration) {
        if let Some(Current::Log { request, .. }) = &self.current {
            context.send_after(delay, self.target, ZkRequest::Log(request.clone()));
            context.set_timer(ClientTimer::Again, part(self.options.session_timeout, 2));
        }
    }

    fn begin_locked(
        &mut self,
        context: &mut ClientContext<'_, ZkLock>,
        lock: Key,
        hold: SimDuration,
        fenced: bool,
        kind: Kind,
    ) {
        let Some((sequence, token)) = self.held.get(&lock).copied() else {
            return context.complete(Completion::Fail("not holding the lock".into()), None);
        };
        let alive = self.session.map_or(SimTime::ZERO, |(_, alive)| alive);
        if context.now().saturating_add(hold) >= alive {
            return context.complete(
                Completion::Fail("session too short for the critical section".into()),
                None,
            );
        }
        let acquisition = Acquisition {
            client: context.id().0,
            number: sequence,
        };
        let (section, step) = Section::begin(lock, acquisition, Some(token), fenced, kind, hold);
        self.current = Some(Current::Section(section));
        self.apply(context, step, None);
    }

    fn apply(
        &mut self,
        context: &mut ClientContext<'_, ZkLock>,
        step: Step,
        source: Option<NodeId>,
    ) {
        match step {
            Step::Send(request) => {
                context.send(storage_node(self.node_count), ZkRequest::Storage(request))
            }
            Step::Hold(hold) => context.set_timer(ClientTimer::Hold, hold),
            Step::Done(completion) => {
                self.current = None;
                context.complete(completion, source);
            }
            Step::Wait => {}
        }
    }
}

impl ClientHalf<ZkLock> for ZkClient {
    type Timer = ClientTimer;

    fn start(config: &ClientConfig<'_, Options>, context: &mut ClientContext<'_, ZkLock>) -> Self {
        let raft_count = server_count(config.node_count);
        ZkClient {
            node_count: config.node_count,
            options: config.options.clone(),
            redirect_backoff: config.redirect_backoff,
            target: NodeId(context.random_node().0 % raft_count),
            session: None,
            sessions_opened: 0,
            stale: None,
            ping_sent: None,
            next_request: 0,
            current: None,
            held: BTreeMap::new(),
            poll_pending: false,
        }
    }

    fn on_invoke(
        &mut self,
        context: &mut ClientContext<'_, ZkLock>,
        _request: RequestId,
        operation: Operation,
    ) {
        assert!(self.current.is_none(), "one operation at a time");
        match operation {
            Operation::Acquire { lock } => self.acquire_step(context, lock),
            Operation::Write { lock, hold, fenced } => {
                self.begin_locked(context, lock, hold, fenced, Kind::Write)
            }
            Operation::Increment { lock, hold, fenced } => {
                self.begin_locked(context, lock, hold, fenced, Kind::Increment)
            }
            Operation::Optimistic { lock, hold } => {
                self.next_request += 1;
                let acquisition = Acquisition {
                    client: context.id().0,
                    number: self.next_request,
                };
                let (section, step) =
                    Section::begin(lock, acquisition, None, false, Kind::Optimistic, hold);
                self.current = Some(Current::Section(section));
                self.apply(context, step, None);
            }
            Operation::Release { lock } => {
                let Some((sequence, _)) = self.held.remove(&lock) else {
                    return context.complete(Completion::Fail("not holding the lock".into()), None);
                };
                self.send_log(
                    context,
                    ZkOp::Delete { lock, sequence },
                    Purpose::Delete,
                    lock,
                );
            }
        }
    }

    fn on_response(
        &mut self,
        context: &mut ClientContext<'_, ZkLock>,
        source: NodeId,
        response: ZkResponse,
    ) {
        match response {
            ZkResponse::Pong {
                session,
                leader,
                hint,
            } => {
                let Some((current, _)) = self.session else {
                    return;
                };
                if session != current {
                    return;
                }
                if leader {
                    if let Some(sent) = self.ping_sent {
                        let alive = self.alive_from(sent);
                        self.session = Some((current, alive));
                    }
                } else {
                    self.target = hint.unwrap_or(NodeId((source.0 + 1) % self.raft_count()));
                }
            }
            ZkResponse::Log(response) => {
                let ours = matches!(&self.current, Some(Current::Log { request, .. }) if request.id == response.request);
                if ours {
                    self.on_log_answer(context, source, response.answer);
                }
            }
            ZkResponse::Storage(response) => {
                if let Some(Current::Section(section)) = &mut self.current {
                    let step = section.on_response(response);
                    self.apply(context, step, Some(source));
                }
            }
        }
    }

    fn on_timer(&mut self, context: &mut ClientContext<'_, ZkLock>, timer: ClientTimer) {
        match timer {
            ClientTimer::Ping => {
                if let Some((session, _)) = self.session {
                    self.ping_sent = Some(context.now());
                    context.send(self.target, ZkRequest::Ping { session });
                    context.set_timer(ClientTimer::Ping, part(self.options.session_timeout, 3));
                }
            }
            ClientTimer::Again => {
                if self.poll_pending {
                    self.poll_pending = false;
                    return self.resend(context, SimDuration::ZERO);
                }
                // No answer: the node may be down or cut off; try the next one.
                self.target = NodeId((self.target.0 + 1) % self.raft_count());
                self.resend(context, SimDuration::ZERO);
            }
            ClientTimer::Hold => {
                if let Some(Current::Section(section)) = &mut self.current {
                    let step = section.on_hold();
                    self.apply(context, step, None);
                }
            }
        }
    }

    fn on_unreachable(
        &mut self,
        context: &mut ClientContext<'_, ZkLock>,
        node: NodeId,
        request: ZkRequest,
    ) {
        match (&self.current, request) {
            (
                Some(Current::Log {
                    request: current, ..
                }),
                ZkRequest::Log(request),
            ) if *current == request => {
                self.target = NodeId((node.0 + 1) % self.raft_count());
                self.resend(context, self.redirect_backoff);
            }
            (Some(Current::Section(section)), ZkRequest::Storage(request))
                if section.in_flight() == Some(&request) =>
            {
                self.current = None;
                context.complete(Completion::Refused(format!("{node} is down").into()), None);
            }
            (_, ZkRequest::Ping { .. }) => {
                self.target = NodeId((node.0 + 1) % self.raft_count());
            }
            _ => {}
        }
    }

    fn on_timeout(&mut self, context: &mut ClientContext<'_, ZkLock>) {
        if let Some(Current::Log { .. }) = self.current.take() {
            context.cancel_timer(ClientTimer::Again);
            self.poll_pending = false;
            // Whatever entry this attempt may have left (a create, a delete that did not
            // happen) would block the queue: give up the whole session — its entries go with
            // it — and open a new one next time.
            if let Some((session, _)) = self.session.take() {
                self.stale = Some(session);
            }
            self.held.clear();
        }
    }
}
