//! # Distributed locks: leases, fencing tokens, and what pauses and clock skew break
//!
//! A lock service tells one client at a time that it holds a named lock, so that the client may
//! touch a resource the lock protects. Every lock that survives a crashed holder is a **lease**:
//! it ends on its own after some time, or a dead client would hold it forever. And any lease can
//! end with two clients that both believe they hold the lock — a holder paused (a garbage
//! collection, a swapped page, a stopped VM) past its lease wakes up still believing it holds
//! it. What differs between designs is whether the **resource** can tell. Gray & Cheriton
//! ("Leases", SOSP 1989) introduced leases; Burrows' Chubby (OSDI 2006, §2.4) added
//! *sequencers* that the resource checks; Kleppmann ("How to do distributed locking", 2016)
//! showed that Redlock (Sanfilippo, redis.io/topics/distlock) cannot be made safe this way
//! because it issues no monotonic token and trusts clocks for its safety.
//!
//! detsim runs three lock services, each a [`sim::protocol::Protocol`] with its client half:
//!
//! | module           | service                                                            |
//! |------------------|--------------------------------------------------------------------|
//! | [`lock_server`]  | one lock server, a lease per grant, a fencing-token counter on disk |
//! | [`redlock`]      | a majority of independent TTL servers, validity on the client's clock, no token |
//! | [`zookeeper`]    | ZooKeeper's lock recipe on Raft's log: sessions, ephemeral sequential entries, the grant's zxid as token |
//! | [`storage`]      | the storage node both share: a register per lock, fencing checks    |
//! | [`section`]      | the critical section both client halves run: write, increment, compare-and-set |
//! | [`invariants`]   | write safety, token monotonicity, critical-section overlap in true time |
//! | [`bugs`]         | the planted bugs, by name                                          |
//!
//! ## The storage node, and how it fits the engine
//!
//! The resource is a **storage node**: a simulated node outside the lock service, holding one
//! register per lock. It is the **last node of the cluster** (`[cluster] nodes = n`: nodes
//! `0..n-1` are the lock service, node `n-1` the storage; a one-node cluster is both). It is
//! part of the protocol because the engine runs one protocol per cluster, and it must be a
//! node — not a part of the checker — so that the network, crashes and pauses reach it, and so
//! that its acceptance of a write is an event in true time the observers see. Clients write to
//! it directly, as a client library writes to a database. It records every write it accepts or
//! rejects in its journal, with the writer (the client's acquisition id) and the token; the
//! observer stamps each with the true time. With `fencing = true` in `[workload]` each write
//! asks the storage to check its token (a conditional write): a token lower than the highest the
//! storage has accepted for that lock is rejected. The highest token is on the storage's disk,
//! written before the write is acknowledged.
//!
//! ## The workload's critical section
//!
//! See [`sim::workload::lock`]: acquire, write after working `hold` (the lease is checked once,
//! before the work, never between the work and the write — the window a pause lands in),
//! release.
//!
//! ## What is checked
//!
//! [`invariants::LockInvariants`] watches every node after every event, in true time:
//!
//! - **write safety** (the verdict's property): the writes the storage accepts for one lock
//!   follow the order of the service's own grants. A grant is the service's decision that a
//!   client holds the lock (the server's grant; for Redlock, the moment a majority of servers
//!   hold the client's key). Once the storage has accepted a write under one grant it must never
//!   accept a write under an earlier grant, and never one from a client the service never
//!   granted the lock. That is the paused holder's late write, accepted after the next holder's;
//! - **token monotonicity**: the tokens of the grants that reached their client strictly
//!   increase in grant order, across restarts of the server;
//! - **critical-section overlap** (a figure, not a verdict): two clients on one lock both
//!   between their acquire's `ok` and their release, in true time — how often, how long, and the
//!   first overlapping pair, in `summary.json` and the report. Fencing absorbs overlaps
//!   (`lock_writes_rejected`); without it, an overlap whose late write lands is a violation;
//! - **lost updates** (`lost-update`), for the counter: the storage's register must count at
//!   least every increment that completed `ok`.
//!
//! The history's acquires and releases are also checked as a mutex per lock (reported); see
//! [`sim::workload::lock`] for what that check can and cannot see.

pub mod bugs;
pub mod invariants;
pub mod lock_server;
pub mod redlock;
pub mod section;
pub mod storage;
pub mod zookeeper;

pub use invariants::LockInvariants;
pub use lock_server::LockServer;
pub use redlock::Redlock;
pub use zookeeper::ZkLock;

use sim::protocol::{Key, NodeId};
use sim::time::SimDuration;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// One attempt of one client to take a lock: chosen by the client, the same on every retry,
/// unique over the run. Redlock stores it as the key's random value; the single server keys its
/// grant by it; the storage records it as the writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Acquisition {
    /// The client.
    pub client: u32,
    /// The client's own counter.
    pub number: u64,
}

impl fmt::Display for Acquisition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}#{}", self.client, self.number)
    }
}

/// What a client half sends to a node.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Request {
    /// Take `lock` for `acquisition`.
    Acquire {
        /// The lock.
        lock: Key,
        /// The attempt.
        acquisition: Acquisition,
        /// How long the key lives (Redlock's `PX`; the single server uses its own lease).
        ttl: SimDuration,
    },
    /// Give `lock` back, if `acquisition` holds it.
    Release {
        /// The lock.
        lock: Key,
        /// The attempt that took it.
        acquisition: Acquisition,
    },
    /// Read the register `lock` protects, at the storage node.
    Read {
        /// The lock (and register).
        lock: Key,
        /// The reader.
        acquisition: Acquisition,
        /// The fencing token, where the service issued one.
        token: Option<u64>,
        /// Whether the storage must check the token (and raise its highest to it).
        fenced: bool,
    },
    /// Write the register `lock` protects, at the storage node.
    Write {
        /// The lock (and register).
        lock: Key,
        /// The writer.
        acquisition: Acquisition,
        /// The fencing token, where the service issued one.
        token: Option<u64>,
        /// Whether the storage must check the token.
        fenced: bool,
        /// What the write does to the register.
        change: Change,
    },
}

/// What a write does to the storage's register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Change {
    /// Records the writer; the value stays.
    Mark,
    /// Sets the value.
    Set(u64),
    /// Sets the value if the register's version is still `version` (optimistic locking).
    CompareAndSet {
        /// The version the writer read.
        version: u64,
        /// The new value.
        value: u64,
    },
}

/// A node's answer to a client.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Response {
    /// `acquisition` holds `lock`, with this token where the service issues one.
    Granted {
        /// The lock.
        lock: Key,
        /// The attempt.
        acquisition: Acquisition,
        /// The fencing token.
        token: Option<u64>,
    },
    /// Not granted, and why.
    Refused {
        /// The lock.
        lock: Key,
        /// The attempt.
        acquisition: Acquisition,
        /// Why.
        reason: Cow<'static, str>,
    },
    /// The release was applied (`held`) or found the lock with someone else or free.
    Released {
        /// The lock.
        lock: Key,
        /// The attempt.
        acquisition: Acquisition,
        /// Whether the attempt still held it.
        held: bool,
    },
    /// The register's value and version, for a read.
    Value {
        /// The reader.
        acquisition: Acquisition,
        /// The value.
        value: u64,
        /// How many writes the register has accepted.
        version: u64,
    },
    /// The storage accepted the write; the register now holds `value`.
    Accepted {
        /// The writer.
        acquisition: Acquisition,
        /// The register's value after the write.
        value: u64,
    },
    /// A compare-and-set found another version: the register's value and version now.
    Conflict {
        /// The writer.
        acquisition: Acquisition,
        /// The value.
        value: u64,
        /// The version.
        version: u64,
    },
    /// The storage rejected the write: its token is lower than `highest`.
    Rejected {
        /// The writer.
        acquisition: Acquisition,
        /// The highest token accepted for the lock.
        highest: u64,
    },
}

/// What a node did in the handler just run, for the observers (cleared at each handler).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Journal {
    /// The node started (or restarted): whatever it held in memory is gone.
    Started,
    /// A lock server granted `lock` to `acquisition`.
    Granted {
        /// The lock.
        lock: Key,
        /// The holder.
        acquisition: Acquisition,
        /// Its token, where the service issues one.
        token: Option<u64>,
    },
    /// A lock server let `acquisition`'s hold of `lock` go (released, or found expired).
    Freed {
        /// The lock.
        lock: Key,
        /// The holder it had.
        acquisition: Acquisition,
    },
    /// The storage accepted a write.
    Accepted {
        /// The register's lock.
        lock: Key,
        /// The writer.
        acquisition: Acquisition,
        /// Its token.
        token: Option<u64>,
        /// Whether the write relied on the lock (a compare-and-set relies on the version).
        guarded: bool,
    },
    /// The storage rejected a write with a stale token.
    Rejected {
        /// The register's lock.
        lock: Key,
        /// The writer.
        acquisition: Acquisition,
        /// Its token.
        token: Option<u64>,
        /// The highest token accepted before.
        highest: u64,
    },
}

/// Messages between nodes: the services here never talk among themselves (Redlock's servers
/// are independent by design, and the single server is alone).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Message {}

/// The disk of a node: the single server's token counter and the storage's fencing state.
#[derive(Clone, Debug, Default)]
pub struct Durable {
    /// How many times the node started.
    pub starts: u64,
    /// The last fencing token the lock server issued.
    pub last_token: u64,
    /// The storage's highest accepted token per lock.
    pub highest: BTreeMap<Key, u64>,
    /// The storage's registers: value and version per lock.
    pub registers: BTreeMap<Key, (u64, u64)>,
}

/// One write to a node's disk.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Update {
    /// The node started.
    Started,
    /// The lock server issued this token.
    Token(u64),
    /// The storage accepted this token for this lock.
    Highest {
        /// The lock.
        lock: Key,
        /// The token.
        token: u64,
    },
    /// The storage's register of a lock after a write.
    Register {
        /// The lock.
        lock: Key,
        /// The value.
        value: u64,
        /// The version.
        version: u64,
    },
}

/// Applies one update to a lock node's disk.
pub fn apply_update(disk: &mut Durable, update: Update) {
    match update {
        Update::Started => disk.starts += 1,
        Update::Token(token) => disk.last_token = disk.last_token.max(token),
        Update::Highest { lock, token } => {
            let highest = disk.highest.entry(lock).or_insert(0);
            *highest = (*highest).max(token);
        }
        Update::Register {
            lock,
            value,
            version,
        } => {
            disk.registers.insert(lock, (value, version));
        }
    }
}

/// The storage node of a cluster of `node_count`: the last one.
pub fn storage_node(node_count: u32) -> NodeId {
    assert!(node_count > 0, "a cluster has nodes");
    NodeId(node_count - 1)
}

/// How many lock servers a cluster of `node_count` has: every node but the storage (one when
/// the cluster has a single node, which is then both).
pub fn server_count(node_count: u32) -> u32 {
    node_count.saturating_sub(1).max(1)
}

/// What the lock observers read of a node, whichever service it belongs to.
pub trait LockNode {
    /// What the last handler did.
    fn journal(&self) -> &[Journal];
    /// The storage's state (meaningful on the storage node).
    fn storage(&self) -> &storage::Storage;
    /// How many servers' grants make the service's grant, of `server_count`: one for a single
    /// server, a majority for Redlock.
    fn grant_quorum(server_count: u32) -> u32;
}

/// The longest lease, TTL or timeout the lock services accept.
pub const LEASE_MAX: SimDuration = SimDuration::from_secs(86_400);

/// Checks a duration option: positive and at most [`LEASE_MAX`]. The message begins with the
/// option's name, so that a bad scenario points at its line.
pub(crate) fn check_duration(name: &str, value: SimDuration) -> Result<(), String> {
    if value == SimDuration::ZERO || value > LEASE_MAX {
        return Err(format!("{name}: {value} is outside (0s, {LEASE_MAX}]"));
    }
    Ok(())
}

/// `duration` less `ppm` parts per million of it.
pub(crate) fn less_ppm(duration: SimDuration, ppm: u64) -> SimDuration {
    let cut = u128::from(duration.as_nanos()) * u128::from(ppm) / 1_000_000;
    SimDuration::from_nanos(duration.as_nanos().saturating_sub(cut as u64))
}

/// Persists what the storage served, then answers (save before you send).
pub(crate) fn reply_served<P: sim::protocol::Protocol<Response = Response, Update = Update>>(
    context: &mut sim::protocol::Context<P>,
    client: sim::protocol::ClientId,
    served: storage::Served,
) {
    for update in served.updates {
        context.persist(update);
    }
    if let Some(response) = served.response {
        context.reply(client, response);
    }
}
