//! # Redlock: a majority of independent TTL servers
//!
//! Redlock (Sanfilippo, "Distributed locks with Redis", redis.io/topics/distlock) takes a lock
//! on N independent Redis servers — nodes `0..n-1`, the last node being the storage — that
//! never talk to each other. The client half follows the algorithm's five steps:
//!
//! 1. it reads its clock (`start`) and asks every server to set the lock's key to a unique
//!    value (here the [`Acquisition`], the same on every retry) if it does not exist, with a
//!    time to live `ttl` (`SET key value NX PX ttl`); each server answers within
//!    `acquire_timeout` or is counted as a no;
//! 2. it counts the servers that granted. It holds the lock when a majority (N/2 + 1) did and
//!    the **validity time** is positive: `ttl − (now − start) − drift`, where `drift =
//!    ttl × drift_factor_ppm / 10⁶ + drift_floor` (the spec's 1% and 2 ms) allows for the
//!    servers' clocks running fast;
//! 3. otherwise it releases on every server (even the ones that did not answer) and fails;
//! 4. a release deletes the key only if it still holds the client's value (the spec's Lua
//!    compare-and-delete).
//!
//! A server keeps its keys in memory only (Redis without `fsync = always`): a crash forgets
//! them, and the spec's remedy — delay the restart by a TTL — is not applied, so a server that
//! restarts at once can grant again a lock a majority already granted. There is no fencing
//! token: the values are unique but not ordered, so the storage cannot tell an old holder from
//! a new one; `fencing = true` has nothing to check.
//!
//! ## Which clock each side reads, and why
//!
//! - **A server** expires a key on its **wall clock**, as Redis does (it stores the key's
//!   expiry as a Unix date and compares it with the time of day when the key is touched). A
//!   wall-clock jump forward ends every key on that server early: Kleppmann's clock-jump
//!   scenario, which breaks Redlock with no pause at all.
//! - **The client half** measures validity on its **monotonic** clock (a duration: start to
//!   the last answer), and then counts down its remaining validity on the same clock. Its
//!   safety rests on an assumption it cannot check: that the servers' clocks run at (nearly)
//!   the same rate as its own and do not jump — the `drift` allowance is the whole margin.
//!
//! ## Planted bugs
//!
//! - `no-drift-margin`: the client does not subtract the drift allowance, so a server clock a
//!   little fast ends the key before the client's validity ends — caught by **write safety**;
//! - `half-is-majority`: the client counts half the servers (rounded down) as a majority, so
//!   two clients can each hold "a majority" of an odd number of servers at once — caught by
//!   **write safety** (the second one's writes come from an attempt the service never granted);
//! - `validity-from-reply`: the client counts validity from the last answer instead of from
//!   `start`, so the time the acquire took (one slow server, a retransmission) is counted as
//!   valid twice — caught by **write safety**.

use super::bugs::Bug;
use super::section::{Kind, Section, Step};
use super::storage::Storage;
use super::{
    check_duration, server_count, storage_node, Acquisition, Durable, Journal, LockNode, Message,
    Request, Response, Update,
};
use serde::{Deserialize, Serialize};
use sim::client::{ClientConfig, ClientContext, ClientHalf};
use sim::completion::Completion;
use sim::protocol::{
    ClientId, Context, Key, NodeConfig, NodeId, NodeView, Protocol, RequestId, Role,
};
use sim::time::{SimDuration, SimTime};
use sim::workload::lock::{Locks, Operation};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// Redlock's options (`[protocol.options]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The keys' time to live (`PX`), on each server's wall clock.
    #[serde(default = "default_ttl")]
    pub ttl: SimDuration,
    /// The clock-drift allowance, in parts per million of the TTL (the spec's 0.01).
    #[serde(default = "default_drift_factor_ppm")]
    pub drift_factor_ppm: u64,
    /// The allowance's fixed part (the spec's 2 ms).
    #[serde(default = "default_drift_floor")]
    pub drift_floor: SimDuration,
    /// How long the client waits for the servers' answers before counting the silent as no.
    #[serde(default = "default_acquire_timeout")]
    pub acquire_timeout: SimDuration,
}

fn default_ttl() -> SimDuration {
    SimDuration::from_millis(500)
}
fn default_drift_factor_ppm() -> u64 {
    10_000
}
fn default_drift_floor() -> SimDuration {
    SimDuration::from_millis(2)
}
fn default_acquire_timeout() -> SimDuration {
    SimDuration::from_millis(50)
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ttl: default_ttl(),
            drift_factor_ppm: default_drift_factor_ppm(),
            drift_floor: default_drift_floor(),
            acquire_timeout: default_acquire_timeout(),
        }
    }
}

/// A key a server holds: its value and its expiry date on the server's wall clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key_ {
    /// The value (the client's attempt).
    pub acquisition: Acquisition,
    /// When it expires, on the server's wall clock.
    pub expires: SimTime,
}

/// One node: an independent Redis-like server, or the storage (the last node).
#[derive(Clone, Debug)]
pub struct Redlock {
    id: NodeId,
    node_count: u32,
    keys: BTreeMap<Key, Key_>,
    storage: Storage,
    journal: Vec<Journal>,
}

impl Redlock {
    /// The node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }
    /// The keys the server holds (expired ones included until a request meets them).
    pub fn keys(&self) -> &BTreeMap<Key, Key_> {
        &self.keys
    }
    /// The storage's state (meaningful on the storage node).
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    fn is_server(&self) -> bool {
        self.id.0 < server_count(self.node_count)
    }
    fn is_storage(&self) -> bool {
        self.id == storage_node(self.node_count)
    }

    /// Drops `lock`'s key if it has expired by the wall clock (Redis expires on access).
    fn expire(&mut self, context: &Context<Self>, lock: Key) {
        if let Some(key) = self.keys.get(&lock).copied() {
            if context.wall_clock() >= key.expires {
                self.keys.remove(&lock);
                self.journal.push(Journal::Freed {
                    lock,
                    acquisition: key.acquisition,
                });
            }
        }
    }

    /// `SET lock acquisition NX PX ttl`.
    fn on_acquire(
        &mut self,
        context: &mut Context<Self>,
        client: ClientId,
        lock: Key,
        acquisition: Acquisition,
        ttl: SimDuration,
    ) {
        self.expire(context, lock);
        let response = match self.keys.get(&lock) {
            Some(key) if key.acquisition != acquisition => Response::Refused {
                lock,
                acquisition,
                reason: Cow::Borrowed("held"),
            },
            Some(_) => Response::Granted {
                lock,
                acquisition,
                token: None,
            },
            None => {
                let expires = context.wall_clock().saturating_add(ttl);
                self.keys.insert(
                    lock,
                    Key_ {
                        acquisition,
                        expires,
                    },
                );
                self.journal.push(Journal::Granted {
                    lock,
                    acquisition,
                    token: None,
                });
                Response::Granted {
                    lock,
                    acquisition,
                    token: None,
                }
            }
        };
        context.reply(client, response);
    }

    /// The compare-and-delete release.
    fn on_release(
        &mut self,
        context: &mut Context<Self>,
        client: ClientId,
        lock: Key,
        acquisition: Acquisition,
    ) {
        self.expire(context, lock);
        let held = self
            .keys
            .get(&lock)
            .is_some_and(|key| key.acquisition == acquisition);
        if held {
            self.keys.remove(&lock);
            self.journal.push(Journal::Freed { lock, acquisition });
        }
        context.reply(
            client,
            Response::Released {
                lock,
                acquisition,
                held,
            },
        );
    }
}

impl LockNode for Redlock {
    fn journal(&self) -> &[Journal] {
        &self.journal
    }
    fn storage(&self) -> &Storage {
        &self.storage
    }
    fn grant_quorum(server_count: u32) -> u32 {
        server_count / 2 + 1
    }
}

impl Protocol for Redlock {
    type Workload = Locks;
    type Message = Message;
    type Request = Request;
    type Response = Response;
    type Client = RedlockClient;
    type Timer = ();
    type Durable = Durable;
    type Update = Update;
    type Options = Options;

    const NAME: &'static str = "redlock";
    const BUGS: &'static [&'static str] = &Bug::REDLOCK_NAMES;

    fn start(
        config: &NodeConfig<'_, Options>,
        durable: Option<&Durable>,
        context: &mut Context<Self>,
    ) -> Self {
        let disk = durable.cloned().unwrap_or_default();
        context.persist(Update::Started);
        Redlock {
            id: config.id,
            node_count: config.node_count,
            keys: BTreeMap::new(),
            storage: Storage::recover(&disk),
            journal: vec![Journal::Started],
        }
    }

    fn on_message(&mut self, _context: &mut Context<Self>, _source: NodeId, message: Message) {
        match message {}
    }

    fn on_timer(&mut self, _context: &mut Context<Self>, _timer: ()) {}

    fn on_client_request(
        &mut self,
        context: &mut Context<Self>,
        client: ClientId,
        request: Request,
    ) {
        self.journal.clear();
        match request {
            Request::Acquire {
                lock,
                acquisition,
                ttl,
            } if self.is_server() => self.on_acquire(context, client, lock, acquisition, ttl),
            Request::Release { lock, acquisition } if self.is_server() => {
                self.on_release(context, client, lock, acquisition)
            }
            access @ (Request::Read { .. } | Request::Write { .. }) if self.is_storage() => {
                let served = self.storage.serve(&mut self.journal, access);
                super::reply_served(context, client, served);
            }
            _ => {}
        }
    }

    fn apply_update(durable: &mut Durable, update: Update) {
        super::apply_update(durable, update);
    }

    fn view(&self) -> NodeView {
        NodeView {
            role: Role::Other,
            term: 0,
            commit_index: 0,
            leader_hint: None,
        }
    }

    fn activity(&self) -> &'static str {
        if self.is_storage() && !self.is_server() {
            "storage"
        } else if self.keys.is_empty() {
            "idle"
        } else {
            "holding keys"
        }
    }

    fn check_options(options: &Options) -> Result<(), String> {
        check_duration("ttl", options.ttl)?;
        check_duration("acquire_timeout", options.acquire_timeout)?;
        if options.drift_factor_ppm >= 1_000_000 {
            return Err(format!(
                "drift_factor_ppm: {} would leave no validity at all (below 1,000,000)",
                options.drift_factor_ppm
            ));
        }
        if options.drift_floor >= options.ttl {
            return Err(format!(
                "drift_floor: {} is not shorter than the ttl {}",
                options.drift_floor, options.ttl
            ));
        }
        Ok(())
    }

    fn message_kind(message: &Message) -> &'static str {
        match *message {}
    }
}

/// The client half's timers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ClientTimer {
    /// The servers had their time to answer an acquire.
    Acquire,
    /// The critical section's work is done: write.
    Hold,
}

/// An acquire in progress.
#[derive(Clone, Debug)]
struct Acquiring {
    lock: Key,
    acquisition: Acquisition,
    start: SimTime,
    granted: BTreeSet<NodeId>,
    refused: BTreeSet<NodeId>,
}

/// The operation in progress.
#[derive(Clone, Debug)]
enum Current {
    Acquire(Acquiring),
    Section(Section),
}

/// What the client half holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Held {
    acquisition: Acquisition,
    valid_until: SimTime,
}

/// The Redlock client library.
#[derive(Clone, Debug)]
pub struct RedlockClient {
    node_count: u32,
    options: Options,
    bug: Option<Bug>,
    next_number: u64,
    current: Option<Current>,
    held: BTreeMap<Key, Held>,
}

impl RedlockClient {
    fn servers(&self) -> impl Iterator<Item = NodeId> {
        (0..server_count(self.node_count)).map(NodeId)
    }

    fn quorum(&self) -> usize {
        let servers = server_count(self.node_count);
        if self.bug == Some(Bug::HalfIsMajority) {
            return (servers / 2).max(1) as usize;
        }
        Redlock::grant_quorum(servers) as usize
    }

    /// Releases `acquisition` on every server, answers or not (step 3 and step 4).
    fn release_everywhere(
        &self,
        context: &mut ClientContext<'_, Redlock>,
        lock: Key,
        acquisition: Acquisition,
    ) {
        for server in self.servers() {
            context.send(server, Request::Release { lock, acquisition });
        }
    }

    /// Step 2: decides an acquire once every server answered or the time is up.
    fn decide(&mut self, context: &mut ClientContext<'_, Redlock>, acquiring: Acquiring) {
        context.cancel_timer(ClientTimer::Acquire);
        let drift = if self.bug == Some(Bug::NoDriftMargin) {
            SimDuration::ZERO
        } else {
            let ttl = self.options.ttl.as_nanos();
            let part = u128::from(ttl) * u128::from(self.options.drift_factor_ppm) / 1_000_000;
            SimDuration::from_nanos(part as u64) + self.options.drift_floor
        };
        let counted_from = if self.bug == Some(Bug::ValidityFromReply) {
            context.now()
        } else {
            acquiring.start
        };
        let valid_until = counted_from
            .saturating_add(self.options.ttl)
            .0
            .saturating_sub(drift.as_nanos());
        let valid = valid_until > context.now().0;
        if acquiring.granted.len() >= self.quorum() && valid {
            self.held.insert(
                acquiring.lock,
                Held {
                    acquisition: acquiring.acquisition,
                    valid_until: SimTime(valid_until),
                },
            );
            context.complete(Completion::Ok(None), None);
        } else {
            self.release_everywhere(context, acquiring.lock, acquiring.acquisition);
            let reason = if valid {
                format!(
                    "no majority: {} of {} servers granted",
                    acquiring.granted.len(),
                    server_count(self.node_count)
                )
            } else {
                "the acquire took longer than the validity".to_string()
            };
            context.complete(Completion::Fail(reason.into()), None);
        }
    }
}

impl ClientHalf<Redlock> for RedlockClient {
    type Timer = ClientTimer;

    fn start(
        config: &ClientConfig<'_, Options>,
        _context: &mut ClientContext<'_, Redlock>,
    ) -> Self {
        RedlockClient {
            node_count: config.node_count,
            options: config.options.clone(),
            bug: config.bug.and_then(Bug::from_name),
            next_number: 0,
            current: None,
            held: BTreeMap::new(),
        }
    }

    fn on_invoke(
        &mut self,
        context: &mut ClientContext<'_, Redlock>,
        _request: RequestId,
        operation: Operation,
    ) {
        assert!(self.current.is_none(), "one operation at a time");
        match operation {
            Operation::Acquire { lock } => {
                let acquisition = Acquisition {
                    client: context.id().0,
                    number: self.next_number,
                };
                self.next_number += 1;
                for server in self.servers() {
                    let ttl = self.options.ttl;
                    let request = Request::Acquire {
                        lock,
                        acquisition,
                        ttl,
                    };
                    context.send(server, request);
                }
                context.set_timer(ClientTimer::Acquire, self.options.acquire_timeout);
                self.current = Some(Current::Acquire(Acquiring {
                    lock,
                    acquisition,
                    start: context.now(),
                    granted: BTreeSet::new(),
                    refused: BTreeSet::new(),
                }));
            }
            Operation::Write { lock, hold, fenced } => {
                self.begin_locked(context, lock, hold, fenced, Kind::Write)
            }
            Operation::Increment { lock, hold, fenced } => {
                self.begin_locked(context, lock, hold, fenced, Kind::Increment)
            }
            Operation::Optimistic { lock, hold } => {
                let acquisition = Acquisition {
                    client: context.id().0,
                    number: self.next_number,
                };
                self.next_number += 1;
                let (section, step) =
                    Section::begin(lock, acquisition, None, false, Kind::Optimistic, hold);
                self.current = Some(Current::Section(section));
                self.apply(context, step, None);
            }
            Operation::Release { lock } => {
                let Some(held) = self.held.remove(&lock) else {
                    return context.complete(Completion::Fail("not holding the lock".into()), None);
                };
                self.release_everywhere(context, lock, held.acquisition);
                // The releases are fire-and-forget: the keys expire anyway.
                self.current = None;
                context.complete(Completion::Ok(None), None);
            }
        }
    }

    fn on_response(
        &mut self,
        context: &mut ClientContext<'_, Redlock>,
        source: NodeId,
        response: Response,
    ) {
        match (self.current.as_mut(), response) {
            (
                Some(Current::Acquire(acquiring)),
                Response::Granted { acquisition, .. } | Response::Refused { acquisition, .. },
            ) if acquiring.acquisition != acquisition => {}
            (Some(Current::Acquire(acquiring)), Response::Granted { .. }) => {
                acquiring.granted.insert(source);
                self.maybe_decide(context);
            }
            (Some(Current::Acquire(acquiring)), Response::Refused { .. }) => {
                acquiring.refused.insert(source);
                self.maybe_decide(context);
            }
            (Some(Current::Section(section)), response) => {
                let step = section.on_response(response);
                self.apply(context, step, Some(source));
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, context: &mut ClientContext<'_, Redlock>, timer: ClientTimer) {
        match (timer, self.current.take()) {
            (ClientTimer::Acquire, Some(Current::Acquire(acquiring))) => {
                self.decide(context, acquiring)
            }
            (ClientTimer::Hold, Some(Current::Section(mut section))) => {
                let step = section.on_hold();
                self.current = Some(Current::Section(section));
                self.apply(context, step, None);
            }
            (_, current) => self.current = current,
        }
    }

    fn on_unreachable(
        &mut self,
        context: &mut ClientContext<'_, Redlock>,
        node: NodeId,
        request: Request,
    ) {
        match (self.current.as_mut(), request) {
            (Some(Current::Acquire(acquiring)), Request::Acquire { acquisition, .. })
                if acquiring.acquisition == acquisition =>
            {
                acquiring.refused.insert(node);
                self.maybe_decide(context);
            }
            (Some(Current::Section(section)), request) if section.in_flight() == Some(&request) => {
                self.current = None;
                context.complete(Completion::Refused(format!("{node} is down").into()), None);
            }
            _ => {}
        }
    }

    fn on_timeout(&mut self, context: &mut ClientContext<'_, Redlock>) {
        if let Some(Current::Acquire(acquiring)) = self.current.take() {
            // Whatever was granted is given back.
            context.cancel_timer(ClientTimer::Acquire);
            self.release_everywhere(context, acquiring.lock, acquiring.acquisition);
        }
    }
}

impl RedlockClient {
    /// Begins a critical section under the lock: the one check of the validity, before the
    /// work and never between it and the write.
    fn begin_locked(
        &mut self,
        context: &mut ClientContext<'_, Redlock>,
        lock: Key,
        hold: SimDuration,
        fenced: bool,
        kind: Kind,
    ) {
        let Some(held) = self.held.get(&lock).copied() else {
            return context.complete(Completion::Fail("not holding the lock".into()), None);
        };
        if context.now().saturating_add(hold) >= held.valid_until {
            return context.complete(
                Completion::Fail("validity too short for the critical section".into()),
                None,
            );
        }
        let (section, step) = Section::begin(lock, held.acquisition, None, fenced, kind, hold);
        self.current = Some(Current::Section(section));
        self.apply(context, step, None);
    }

    /// Carries out a step of the critical section.
    fn apply(
        &mut self,
        context: &mut ClientContext<'_, Redlock>,
        step: Step,
        source: Option<NodeId>,
    ) {
        match step {
            Step::Send(request) => context.send(storage_node(self.node_count), request),
            Step::Hold(hold) => context.set_timer(ClientTimer::Hold, hold),
            Step::Done(completion) => {
                self.current = None;
                context.complete(completion, source);
            }
            Step::Wait => {}
        }
    }

    /// Decides as soon as every server has answered.
    fn maybe_decide(&mut self, context: &mut ClientContext<'_, Redlock>) {
        let answered = match &self.current {
            Some(Current::Acquire(acquiring)) => acquiring.granted.len() + acquiring.refused.len(),
            _ => return,
        };
        if answered >= server_count(self.node_count) as usize {
            if let Some(Current::Acquire(acquiring)) = self.current.take() {
                self.decide(context, acquiring);
            }
        }
    }
}
