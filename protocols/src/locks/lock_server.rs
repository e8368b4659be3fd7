//! # A single lock server with leases and fencing tokens
//!
//! The simplest lock service that can survive a dead client (Gray & Cheriton, "Leases", 1989):
//! node 0 grants each lock for a **lease** (`lease`, default 500 ms) and issues with every grant
//! a **fencing token**, one more than the last it issued (Chubby's sequencer, Burrows 2006
//! §2.4). The token counter is on the server's disk, written before the grant leaves (the
//! engine holds the answer until the write is durable), so a restarted server never issues a
//! token twice. A restarted server has forgotten its grants, so it grants nothing for one
//! lease after it starts (Chubby's grace period, §2.9): every lease it may have granted before
//! the crash has run out by then. There is no replication: while the server is down nobody
//! can take a lock.
//!
//! The server expires a lease lazily, when a request meets it. A release by the holder frees
//! the lock at once; a release by anyone else is answered `held = false`.
//!
//! ## Which clock each side reads, and why
//!
//! - **The server** measures each lease on its **monotonic** clock: a lease is a duration, and
//!   only the monotonic clock measures durations — a wall-clock jump must not end a lease early
//!   (the planted bug `lease-on-wall-clock` does exactly that).
//! - **The client half** measures its own copy of the lease on **its** monotonic clock, from
//!   when it *first sent* the acquire (the grant happened after that, so its lease ends later
//!   than the client's copy), shortened by `drift_bound_ppm` — the client's assumption on how
//!   much faster its clock may run than the server's. Before the critical section's work it
//!   checks that the rest of its copy covers `hold`. No clock comparison crosses processes; a
//!   drift beyond the assumed bound, or a pause between the check and the write, still leaves
//!   the client writing after its lease ended — which is what fencing is for.
//!
//! ## Planted bugs
//!
//! - `token-not-persisted`: the token counter is kept only in memory, so a restart issues
//!   tokens from 1 again — caught by **token monotonicity**;
//! - `lease-on-wall-clock`: the server dates each lease on its wall clock; a forward jump ends
//!   it early and the lock is granted again while its holder is inside its lease — caught by
//!   **write safety** when the storage does not fence (with fencing the stale write is
//!   rejected, the bug absorbed).

use super::bugs::Bug;
use super::section::{Kind, Section, Step};
use super::storage::Storage;
use super::{
    check_duration, less_ppm, server_count, storage_node, Acquisition, Durable, Journal, LockNode,
    Message, Request, Response, Update,
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
use std::collections::BTreeMap;

/// The single lock server's options (`[protocol.options]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// How long a grant lasts, on the server's monotonic clock.
    #[serde(default = "default_lease")]
    pub lease: SimDuration,
    /// How much faster the client assumes its clock may run than the server's, in parts per
    /// million: the client shortens its copy of the lease by this much.
    #[serde(default = "default_drift_bound_ppm")]
    pub drift_bound_ppm: u64,
}

fn default_lease() -> SimDuration {
    SimDuration::from_millis(500)
}
fn default_drift_bound_ppm() -> u64 {
    10_000
}

impl Default for Options {
    fn default() -> Self {
        Options {
            lease: default_lease(),
            drift_bound_ppm: default_drift_bound_ppm(),
        }
    }
}

/// A grant the server holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The holder.
    pub acquisition: Acquisition,
    /// Its token.
    pub token: u64,
    /// When the lease ends, on the clock the server dates leases with.
    pub expires: SimTime,
}

/// One node: the lock server (node 0), the storage (the last node), or an idle node.
#[derive(Clone, Debug)]
pub struct LockServer {
    id: NodeId,
    node_count: u32,
    options: Options,
    bug: Option<Bug>,
    last_token: u64,
    /// No grant before this (monotonic): a grace period after a restart.
    recovering_until: SimTime,
    grants: BTreeMap<Key, Grant>,
    storage: Storage,
    journal: Vec<Journal>,
}

impl LockServer {
    /// The node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }
    /// The grants the server holds (expired ones included until a request meets them).
    pub fn grants(&self) -> &BTreeMap<Key, Grant> {
        &self.grants
    }
    /// The storage's state (meaningful on the storage node).
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    fn is_server(&self) -> bool {
        self.id == NodeId(0)
    }
    fn is_storage(&self) -> bool {
        self.id == storage_node(self.node_count)
    }

    /// The reading of the clock leases are dated with: monotonic, unless the bug says wall.
    fn lease_clock(&self, context: &Context<Self>) -> SimTime {
        if self.bug == Some(Bug::LeaseOnWallClock) {
            context.wall_clock()
        } else {
            context.now()
        }
    }

    fn refuse(
        context: &mut Context<Self>,
        client: ClientId,
        lock: Key,
        acquisition: Acquisition,
        reason: &'static str,
    ) {
        let reason = Cow::Borrowed(reason);
        context.reply(
            client,
            Response::Refused {
                lock,
                acquisition,
                reason,
            },
        );
    }

    fn on_acquire(
        &mut self,
        context: &mut Context<Self>,
        client: ClientId,
        lock: Key,
        acquisition: Acquisition,
    ) {
        if context.now() < self.recovering_until {
            return Self::refuse(context, client, lock, acquisition, "server recovering");
        }
        let now = self.lease_clock(context);
        if let Some(grant) = self.grants.get(&lock).copied() {
            if grant.acquisition == acquisition {
                // A retry of a request already granted: the same grant, the same token.
                let token = Some(grant.token);
                context.reply(
                    client,
                    Response::Granted {
                        lock,
                        acquisition,
                        token,
                    },
                );
                return;
            }
            if now < grant.expires {
                return Self::refuse(context, client, lock, acquisition, "held");
            }
            self.grants.remove(&lock);
            self.journal.push(Journal::Freed {
                lock,
                acquisition: grant.acquisition,
            });
        }
        let token = self.last_token + 1;
        self.last_token = token;
        if self.bug != Some(Bug::TokenNotPersisted) {
            // Save before you send: the grant's answer leaves once the token is durable.
            context.persist(Update::Token(token));
        }
        let expires = now.saturating_add(self.options.lease);
        self.grants.insert(
            lock,
            Grant {
                acquisition,
                token,
                expires,
            },
        );
        self.journal.push(Journal::Granted {
            lock,
            acquisition,
            token: Some(token),
        });
        let token = Some(token);
        context.reply(
            client,
            Response::Granted {
                lock,
                acquisition,
                token,
            },
        );
    }

    fn on_release(
        &mut self,
        context: &mut Context<Self>,
        client: ClientId,
        lock: Key,
        acquisition: Acquisition,
    ) {
        let now = self.lease_clock(context);
        let held = self
            .grants
            .get(&lock)
            .is_some_and(|grant| grant.acquisition == acquisition && now < grant.expires);
        if self
            .grants
            .get(&lock)
            .is_some_and(|grant| grant.acquisition == acquisition)
        {
            self.grants.remove(&lock);
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

impl LockNode for LockServer {
    fn journal(&self) -> &[Journal] {
        &self.journal
    }
    fn storage(&self) -> &Storage {
        &self.storage
    }
    fn grant_quorum(_server_count: u32) -> u32 {
        1
    }
}

impl Protocol for LockServer {
    type Workload = Locks;
    type Message = Message;
    type Request = Request;
    type Response = Response;
    type Client = LeaseClient;
    type Timer = ();
    type Durable = Durable;
    type Update = Update;
    type Options = Options;

    const NAME: &'static str = "lock-server";
    const BUGS: &'static [&'static str] = &Bug::SERVER_NAMES;

    fn start(
        config: &NodeConfig<'_, Options>,
        durable: Option<&Durable>,
        context: &mut Context<Self>,
    ) -> Self {
        let disk = durable.cloned().unwrap_or_default();
        let bug = config.bug.and_then(Bug::from_name);
        // A restart waits out every lease the server may have granted before it crashed.
        let recovering_until = if durable.is_some() {
            context.now().saturating_add(config.options.lease)
        } else {
            context.now()
        };
        context.persist(Update::Started);
        LockServer {
            id: config.id,
            node_count: config.node_count,
            options: config.options.clone(),
            bug,
            last_token: if bug == Some(Bug::TokenNotPersisted) {
                0
            } else {
                disk.last_token
            },
            recovering_until,
            grants: BTreeMap::new(),
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
                lock, acquisition, ..
            } => {
                if self.is_server() {
                    self.on_acquire(context, client, lock, acquisition);
                } else {
                    Self::refuse(context, client, lock, acquisition, "not the lock server");
                }
            }
            Request::Release { lock, acquisition } => {
                if self.is_server() {
                    self.on_release(context, client, lock, acquisition);
                }
            }
            access @ (Request::Read { .. } | Request::Write { .. }) => {
                if self.is_storage() {
                    let served = self.storage.serve(&mut self.journal, access);
                    super::reply_served(context, client, served);
                }
            }
        }
    }

    fn apply_update(durable: &mut Durable, update: Update) {
        super::apply_update(durable, update);
    }

    fn view(&self) -> NodeView {
        NodeView {
            role: if self.is_server() {
                Role::Leader
            } else {
                Role::Other
            },
            term: 0,
            commit_index: 0,
            leader_hint: Some(NodeId(0)),
        }
    }

    fn activity(&self) -> &'static str {
        if self.is_storage() && !self.is_server() {
            "storage"
        } else if self.grants.is_empty() {
            "idle"
        } else {
            "granting"
        }
    }

    fn check_options(options: &Options) -> Result<(), String> {
        check_duration("lease", options.lease)?;
        if options.drift_bound_ppm >= 1_000_000 {
            return Err(format!(
                "drift_bound_ppm: {} would leave no lease at all (below 1,000,000)",
                options.drift_bound_ppm
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
    /// No answer yet: send the request again.
    Retry,
    /// The critical section's work is done: write.
    Hold,
}

/// What the client half holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Held {
    /// The attempt that took it.
    pub acquisition: Acquisition,
    /// The token.
    pub token: Option<u64>,
    /// When the client's copy of the lease ends, on its monotonic clock.
    pub valid_until: SimTime,
}

/// The operation in progress.
#[derive(Clone, Debug)]
enum Current {
    Acquire { request: Request, sent_at: SimTime },
    Section(Section),
    Release { request: Request },
}

/// The lease client library: acquire, check the lease before the work, write, release.
#[derive(Clone, Debug)]
pub struct LeaseClient {
    node_count: u32,
    options: Options,
    retry_after: SimDuration,
    next_number: u64,
    current: Option<Current>,
    held: BTreeMap<Key, Held>,
}

impl LeaseClient {
    fn server(&self) -> NodeId {
        NodeId(0)
    }

    fn next_acquisition(&mut self, context: &ClientContext<'_, LockServer>) -> Acquisition {
        let acquisition = Acquisition {
            client: context.id().0,
            number: self.next_number,
        };
        self.next_number += 1;
        acquisition
    }

    /// Begins a critical section under the lock: the one check of the lease, before the work
    /// and never between it and the write.
    fn begin_locked(
        &mut self,
        context: &mut ClientContext<'_, LockServer>,
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
                Completion::Fail("lease too short for the critical section".into()),
                None,
            );
        }
        let (section, step) =
            Section::begin(lock, held.acquisition, held.token, fenced, kind, hold);
        self.current = Some(Current::Section(section));
        self.apply(context, step, None);
    }

    /// Carries out a step of the critical section.
    fn apply(
        &mut self,
        context: &mut ClientContext<'_, LockServer>,
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
}

impl ClientHalf<LockServer> for LeaseClient {
    type Timer = ClientTimer;

    fn start(
        config: &ClientConfig<'_, Options>,
        _context: &mut ClientContext<'_, LockServer>,
    ) -> Self {
        assert!(server_count(config.node_count) >= 1);
        LeaseClient {
            node_count: config.node_count,
            options: config.options.clone(),
            retry_after: config.retry_after,
            next_number: 0,
            current: None,
            held: BTreeMap::new(),
        }
    }

    fn on_invoke(
        &mut self,
        context: &mut ClientContext<'_, LockServer>,
        _request: RequestId,
        operation: Operation,
    ) {
        assert!(self.current.is_none(), "one operation at a time");
        match operation {
            Operation::Acquire { lock } => {
                let acquisition = self.next_acquisition(context);
                let request = Request::Acquire {
                    lock,
                    acquisition,
                    ttl: self.options.lease,
                };
                context.send(self.server(), request.clone());
                self.current = Some(Current::Acquire {
                    request,
                    sent_at: context.now(),
                });
                if self.retry_after > SimDuration::ZERO {
                    context.set_timer(ClientTimer::Retry, self.retry_after);
                }
            }
            Operation::Write { lock, hold, fenced } => {
                self.begin_locked(context, lock, hold, fenced, Kind::Write)
            }
            Operation::Increment { lock, hold, fenced } => {
                self.begin_locked(context, lock, hold, fenced, Kind::Increment)
            }
            Operation::Optimistic { lock, hold } => {
                let acquisition = self.next_acquisition(context);
                let (section, step) =
                    Section::begin(lock, acquisition, None, false, Kind::Optimistic, hold);
                self.current = Some(Current::Section(section));
                self.apply(context, step, None);
            }
            Operation::Release { lock } => {
                let Some(held) = self.held.remove(&lock) else {
                    return context.complete(Completion::Fail("not holding the lock".into()), None);
                };
                let request = Request::Release {
                    lock,
                    acquisition: held.acquisition,
                };
                context.send(self.server(), request.clone());
                self.current = Some(Current::Release { request });
                if self.retry_after > SimDuration::ZERO {
                    context.set_timer(ClientTimer::Retry, self.retry_after);
                }
            }
        }
    }

    fn on_response(
        &mut self,
        context: &mut ClientContext<'_, LockServer>,
        source: NodeId,
        response: Response,
    ) {
        if let Some(Current::Section(section)) = &mut self.current {
            let step = section.on_response(response);
            return self.apply(context, step, Some(source));
        }
        let completion = match (&self.current, response) {
            (
                Some(Current::Acquire {
                    request: Request::Acquire { acquisition, .. },
                    sent_at,
                }),
                Response::Granted {
                    lock,
                    acquisition: answered,
                    token,
                },
            ) if *acquisition == answered => {
                let lease = less_ppm(self.options.lease, self.options.drift_bound_ppm);
                let valid_until = sent_at.saturating_add(lease);
                self.held.insert(
                    lock,
                    Held {
                        acquisition: answered,
                        token,
                        valid_until,
                    },
                );
                Completion::Ok(token)
            }
            (
                Some(Current::Acquire {
                    request: Request::Acquire { acquisition, .. },
                    ..
                }),
                Response::Refused {
                    acquisition: answered,
                    reason,
                    ..
                },
            ) if *acquisition == answered => Completion::Fail(reason),
            (
                Some(Current::Release {
                    request: Request::Release { acquisition, .. },
                }),
                Response::Released {
                    acquisition: answered,
                    held,
                    ..
                },
            ) if *acquisition == answered => {
                if held {
                    Completion::Ok(None)
                } else {
                    Completion::Fail("the lease had already ended".into())
                }
            }
            _ => return, // a late or duplicate answer
        };
        self.current = None;
        context.cancel_timer(ClientTimer::Retry);
        context.complete(completion, Some(source));
    }

    fn on_timer(&mut self, context: &mut ClientContext<'_, LockServer>, timer: ClientTimer) {
        match (timer, &mut self.current) {
            (ClientTimer::Hold, Some(Current::Section(section))) => {
                let step = section.on_hold();
                self.apply(context, step, None);
            }
            (
                ClientTimer::Retry,
                Some(Current::Acquire { request, .. } | Current::Release { request }),
            ) => {
                context.send(NodeId(0), request.clone());
                context.set_timer(ClientTimer::Retry, self.retry_after);
            }
            _ => {}
        }
    }

    fn on_unreachable(
        &mut self,
        context: &mut ClientContext<'_, LockServer>,
        node: NodeId,
        request: Request,
    ) {
        let ours = match &self.current {
            Some(
                Current::Acquire {
                    request: current, ..
                }
                | Current::Release { request: current },
            ) => *current == request,
            Some(Current::Section(section)) => section.in_flight() == Some(&request),
            None => false,
        };
        if !ours {
            return;
        }
        self.current = None;
        context.cancel_timer(ClientTimer::Retry);
        context.complete(Completion::Refused(format!("{node} is down").into()), None);
    }

    fn on_timeout(&mut self, context: &mut ClientContext<'_, LockServer>) {
        // A write whose work is done may already be on its way: only the wait is given up.
        self.current = None;
        context.cancel_timer(ClientTimer::Retry);
    }
}
