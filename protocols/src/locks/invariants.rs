//! The lock services' properties, judged in true time — which no real system can observe.
//!
//! The observer reads each node's journal after every event (and the clients' completions):
//!
//! - **grants**: a server's `Granted` makes the service's grant when the servers holding the
//!   attempt reach the service's quorum (one for the single server, a majority for Redlock).
//!   Grants of one lock are numbered in true-time order;
//! - **write safety** (`write-safety`): a write the storage accepts must come from an attempt
//!   the service granted, and never from a grant earlier than one the storage has already
//!   accepted a write under. The storage can only refuse writes that come *after* a newer
//!   holder's: a stale write landing before the new holder wrote anything is serialized before
//!   it, like a slow write inside the old lease, and is no violation;
//! - **token monotonicity** (`token-monotonicity`): the tokens of grants that reached their
//!   client (its acquire completed `ok` with the token) strictly increase in grant order, across
//!   restarts. A grant whose answer never left (the server crashed before its token was durable)
//!   reached no one and is not counted;
//! - **critical-section overlap** (figures, not a verdict): each client's critical section runs
//!   from its acquire's `ok` to its release's invocation, in true time; two clients' sections
//!   on one lock that intersect are an overlap. The figures count them, sum and bound their
//!   length, and name the first overlapping pair; `lock_writes_rejected` counts the stale
//!   writes fencing turned away.

use super::{server_count, storage_node, Acquisition, Journal, LockNode};
use sim::completion::Completion;
use sim::invariants::{CompletionEvent, Invariants, Violation};
use sim::protocol::{Key, NodeId, Protocol};
use sim::time::SimTime;
use sim::workload::lock::{Locks, Operation};
use std::collections::BTreeMap;
use std::marker::PhantomData;

/// Closed critical sections kept per lock to compare a closing one with.
const SECTIONS_KEPT: usize = 256;

/// The service's grant of a lock to one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrantRecord {
    /// Its place among the lock's grants, from 1.
    pub order: u64,
    /// Its token, if any.
    pub token: Option<u64>,
    /// When it was granted (true time).
    pub time: SimTime,
}

/// A critical section in true time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Section {
    client: u32,
    start: SimTime,
    end: SimTime,
}

/// The overlap figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Overlaps {
    /// Pairs of overlapping critical sections.
    pub count: u64,
    /// Their total overlap (ns).
    pub total_nanos: u64,
    /// The longest overlap (ns).
    pub max_nanos: u64,
    /// The first overlapping pair found: lock, the two clients, and when the overlap began.
    pub first: Option<(Key, u32, u32, SimTime)>,
}

/// The observer of a lock service `P`.
#[derive(Debug)]
pub struct LockInvariants<P> {
    /// Per lock, which attempt each server holds.
    holders: BTreeMap<Key, BTreeMap<NodeId, Acquisition>>,
    grants: BTreeMap<(Key, Acquisition), GrantRecord>,
    grant_count: BTreeMap<Key, u64>,
    /// Per lock, the latest grant the storage accepted a write under, and its writer.
    written: BTreeMap<Key, (u64, Acquisition)>,
    /// Per lock, grants confirmed by their client: order → token.
    confirmed: BTreeMap<Key, BTreeMap<u64, (u64, Acquisition)>>,
    /// Per lock, open critical sections: client → start.
    open: BTreeMap<Key, BTreeMap<u32, SimTime>>,
    closed: BTreeMap<Key, Vec<Section>>,
    overlaps: Overlaps,
    accepted: u64,
    rejected: u64,
    /// The true time of the last event observed.
    last_time: SimTime,
    /// Whether broken properties fail the run (`false`: they are only counted, to measure).
    judging: bool,
    /// Writes that broke write safety.
    unsafe_writes: u64,
    /// Per register: its value at the storage, the increments that completed `ok`, and the
    /// largest shortfall of the value below them seen (updates lost).
    counters: BTreeMap<Key, (u64, u64, u64)>,
    _protocol: PhantomData<fn() -> P>,
}

impl<P> Default for LockInvariants<P> {
    fn default() -> Self {
        LockInvariants {
            holders: BTreeMap::new(),
            grants: BTreeMap::new(),
            grant_count: BTreeMap::new(),
            written: BTreeMap::new(),
            confirmed: BTreeMap::new(),
            open: BTreeMap::new(),
            closed: BTreeMap::new(),
            overlaps: Overlaps::default(),
            accepted: 0,
            rejected: 0,
            last_time: SimTime::ZERO,
            judging: true,
            unsafe_writes: 0,
            counters: BTreeMap::new(),
            _protocol: PhantomData,
        }
    }
}

impl<P: LockNode> LockInvariants<P> {
    /// An observer that counts broken write safety and lost updates in its figures instead of
    /// failing the run at the first: for measuring how often a design breaks.
    pub fn measuring() -> LockInvariants<P> {
        LockInvariants {
            judging: false,
            ..LockInvariants::default()
        }
    }

    /// An increment of `lock` completed `ok`: the register must count at least every `ok`
    /// increment so far (an accepted increment not yet answered only adds to it).
    fn counted(&mut self, lock: Key) -> Result<(), Violation> {
        let (value, ok, lost) = self.counters.entry(lock).or_default();
        *ok += 1;
        if *value < *ok {
            let detail = format!(
                "register {lock} holds {value} after {ok} increments completed ok: {} updates \
                 were lost",
                *ok - *value
            );
            *lost = (*lost).max(*ok - *value);
            if self.judging {
                return Err(Violation::new("lost-update", detail));
            }
        }
        Ok(())
    }

    /// The overlap figures so far, the sections still open counted up to the last event.
    pub fn overlaps(&self) -> Overlaps {
        self.overlaps_with_open()
    }

    /// The service's grants so far.
    pub fn grants(&self) -> &BTreeMap<(Key, Acquisition), GrantRecord> {
        &self.grants
    }

    fn forget_server(&mut self, node: NodeId) {
        for holders in self.holders.values_mut() {
            holders.remove(&node);
        }
    }

    fn record(
        &mut self,
        time: SimTime,
        node: NodeId,
        journal: &[Journal],
        quorum: u32,
    ) -> Result<(), Violation> {
        for entry in journal {
            match *entry {
                Journal::Started => self.forget_server(node),
                Journal::Granted {
                    lock,
                    acquisition,
                    token,
                } => {
                    let holders = self.holders.entry(lock).or_default();
                    holders.insert(node, acquisition);
                    let count = holders.values().filter(|a| **a == acquisition).count();
                    if count as u32 >= quorum && !self.grants.contains_key(&(lock, acquisition)) {
                        let order = self.grant_count.entry(lock).or_insert(0);
                        *order += 1;
                        let order = *order;
                        self.grants
                            .insert((lock, acquisition), GrantRecord { order, token, time });
                    }
                }
                Journal::Freed { lock, acquisition } => {
                    let holders = self.holders.entry(lock).or_default();
                    if holders.get(&node) == Some(&acquisition) {
                        holders.remove(&node);
                    }
                }
                Journal::Accepted {
                    lock,
                    acquisition,
                    token,
                    guarded,
                } => {
                    self.accepted += 1;
                    if guarded {
                        if let Err(violation) = self.check_write(time, lock, acquisition, token) {
                            self.unsafe_writes += 1;
                            if self.judging {
                                return Err(violation);
                            }
                        }
                    }
                }
                Journal::Rejected { .. } => self.rejected += 1,
            }
        }
        Ok(())
    }

    /// Write safety for a write the storage accepted at `time`.
    fn check_write(
        &mut self,
        time: SimTime,
        lock: Key,
        acquisition: Acquisition,
        token: Option<u64>,
    ) -> Result<(), Violation> {
        let Some(grant) = self.grants.get(&(lock, acquisition)).copied() else {
            return Err(Violation::new(
                "write-safety",
                format!(
                    "at {time} the storage accepted a write to lock {lock} from {acquisition} \
                     (token {}), which the service never granted the lock",
                    show(token)
                ),
            ));
        };
        if let Some((latest, writer)) = self.written.get(&lock).copied() {
            if grant.order < latest {
                let later = self.grants[&(lock, writer)];
                return Err(Violation::new(
                    "write-safety",
                    format!(
                        "at {time} the storage accepted a write to lock {lock} from {acquisition} \
                         (grant #{} at {}, token {}) after it had accepted one from {writer} \
                         (the later grant #{} at {}, token {}): c{} and c{} both acted as the \
                         lock's holder, and the old holder's write landed after the new one's",
                        grant.order,
                        grant.time,
                        show(grant.token),
                        later.order,
                        later.time,
                        show(later.token),
                        acquisition.client,
                        writer.client
                    ),
                ));
            }
        }
        if self
            .written
            .get(&lock)
            .is_none_or(|(latest, _)| grant.order > *latest)
        {
            self.written.insert(lock, (grant.order, acquisition));
        }
        Ok(())
    }

    /// Token monotonicity, when `client`'s acquire of `lock` completed `ok` with `token`.
    fn confirm(&mut self, lock: Key, client: u32, token: u64) -> Result<(), Violation> {
        let low = Acquisition { client, number: 0 };
        let high = Acquisition {
            client,
            number: u64::MAX,
        };
        let found = self
            .grants
            .range((lock, low)..=(lock, high))
            .rev()
            .find(|(_, grant)| grant.token == Some(token))
            .map(|((_, acquisition), grant)| (*acquisition, *grant));
        let Some((acquisition, grant)) = found else {
            return Ok(());
        };
        let confirmed = self.confirmed.entry(lock).or_default();
        confirmed.insert(grant.order, (token, acquisition));
        let before = confirmed.range(..grant.order).next_back();
        let after = confirmed.range(grant.order + 1..).next();
        for (order, (other, holder)) in before.into_iter().chain(after) {
            let increasing = if *order < grant.order {
                *other < token
            } else {
                *other > token
            };
            if !increasing {
                return Err(Violation::new(
                    "token-monotonicity",
                    format!(
                        "lock {lock}: grant #{} to {acquisition} carried token {token}, and \
                         grant #{order} to {holder} token {other}: tokens must increase with \
                         the grants",
                        grant.order
                    ),
                ));
            }
        }
        Ok(())
    }

    fn open_section(&mut self, lock: Key, client: u32, start: SimTime) {
        self.open.entry(lock).or_default().insert(client, start);
    }

    fn close_section(&mut self, lock: Key, client: u32, end: SimTime) {
        let Some(start) = self
            .open
            .get_mut(&lock)
            .and_then(|open| open.remove(&client))
        else {
            return;
        };
        let section = Section { client, start, end };
        let closed = self.closed.entry(lock).or_default();
        count_overlaps(&mut self.overlaps, lock, section, closed);
        if closed.len() == SECTIONS_KEPT {
            closed.remove(0);
        }
        closed.push(section);
    }

    /// The overlap figures with the sections still open counted as running until the last
    /// event observed (a run that ends at a violation ends inside one).
    fn overlaps_with_open(&self) -> Overlaps {
        let mut overlaps = self.overlaps;
        for (lock, open) in &self.open {
            let mut seen: Vec<Section> = self.closed.get(lock).cloned().unwrap_or_default();
            for (client, start) in open {
                let section = Section {
                    client: *client,
                    start: *start,
                    end: self.last_time.max(*start),
                };
                count_overlaps(&mut overlaps, *lock, section, &seen);
                seen.push(section);
            }
        }
        overlaps
    }
}

/// Adds the overlaps of `section` with the `others` of one lock to `overlaps`.
fn count_overlaps(overlaps: &mut Overlaps, lock: Key, section: Section, others: &[Section]) {
    for other in others {
        if other.client == section.client {
            continue;
        }
        let begin = other.start.max(section.start);
        let finish = other.end.min(section.end);
        if begin < finish {
            let length = finish.saturating_since(begin).as_nanos();
            overlaps.count += 1;
            overlaps.total_nanos += length;
            overlaps.max_nanos = overlaps.max_nanos.max(length);
            if overlaps.first.is_none_or(|(_, _, _, at)| begin < at) {
                let (a, b) = (
                    other.client.min(section.client),
                    other.client.max(section.client),
                );
                overlaps.first = Some((lock, a, b, begin));
            }
        }
    }
}

fn show(token: Option<u64>) -> String {
    token.map_or_else(|| "none".to_string(), |token| token.to_string())
}

impl<P: Protocol<Workload = Locks> + LockNode> Invariants<P> for LockInvariants<P> {
    fn on_completion(&mut self, event: &CompletionEvent<'_, Locks>) -> Result<(), Violation> {
        let client = event.client.0;
        match (event.operation, event.completion) {
            (Operation::Acquire { lock }, Completion::Ok(token)) => {
                self.open_section(*lock, client, event.completed);
                if let Some(token) = token {
                    self.confirm(*lock, client, *token)?;
                }
            }
            (
                Operation::Increment { lock, .. } | Operation::Optimistic { lock, .. },
                Completion::Ok(_),
            ) => {
                self.counted(*lock)?;
            }
            (Operation::Release { lock }, _) => self.close_section(*lock, client, event.invoked),
            _ => {}
        }
        Ok(())
    }

    fn after_event(
        &mut self,
        time: SimTime,
        touched: Option<NodeId>,
        nodes: &[Option<P>],
    ) -> Result<(), Violation> {
        self.last_time = time;
        let Some(id) = touched else {
            return Ok(());
        };
        let node_count = nodes.len() as u32;
        let is_server = id.0 < server_count(node_count);
        match &nodes[id.index()] {
            None => {
                if is_server {
                    self.forget_server(id);
                }
                Ok(())
            }
            Some(node) => {
                let quorum = P::grant_quorum(server_count(node_count));
                self.record(time, id, node.journal(), quorum)?;
                if id == storage_node(node_count) {
                    for (lock, (value, _version)) in node.storage().registers() {
                        let counter = self.counters.entry(*lock).or_default();
                        counter.0 = *value;
                    }
                }
                Ok(())
            }
        }
    }

    fn figures(&self) -> BTreeMap<String, u64> {
        let mut figures = BTreeMap::new();
        let overlaps = self.overlaps_with_open();
        let grants: u64 = self.grant_count.values().sum();
        figures.insert("lock_grants".to_string(), grants);
        figures.insert("lock_writes_accepted".to_string(), self.accepted);
        figures.insert("lock_writes_rejected".to_string(), self.rejected);
        figures.insert("lock_unsafe_writes".to_string(), self.unsafe_writes);
        let ok: u64 = self.counters.values().map(|(_, ok, _)| ok).sum();
        if ok > 0 {
            figures.insert("counter_ok_increments".to_string(), ok);
            let value: u64 = self.counters.values().map(|(value, _, _)| value).sum();
            figures.insert("counter_value".to_string(), value);
            let lost: u64 = self.counters.values().map(|(_, _, lost)| lost).sum();
            figures.insert("counter_lost_updates".to_string(), lost);
        }
        figures.insert("lock_overlaps".to_string(), overlaps.count);
        figures.insert("lock_overlap_total_ns".to_string(), overlaps.total_nanos);
        figures.insert("lock_overlap_max_ns".to_string(), overlaps.max_nanos);
        if let Some((lock, a, b, at)) = overlaps.first {
            figures.insert("lock_overlap_first_lock".to_string(), lock);
            figures.insert("lock_overlap_first_client_a".to_string(), u64::from(a));
            figures.insert("lock_overlap_first_client_b".to_string(), u64::from(b));
            figures.insert("lock_overlap_first_at_ns".to_string(), at.as_nanos());
        }
        figures
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locks::{LockServer, Redlock};

    const A: Acquisition = Acquisition {
        client: 0,
        number: 0,
    };
    const B: Acquisition = Acquisition {
        client: 1,
        number: 0,
    };
    const STORAGE: NodeId = NodeId(3);

    fn granted(acquisition: Acquisition, token: Option<u64>) -> Journal {
        Journal::Granted {
            lock: 0,
            acquisition,
            token,
        }
    }

    fn accepted(acquisition: Acquisition) -> Journal {
        Journal::Accepted {
            lock: 0,
            acquisition,
            token: None,
            guarded: true,
        }
    }

    fn at(seconds: u64) -> SimTime {
        SimTime(seconds * 1_000_000_000)
    }

    #[test]
    fn write_safety_refuses_an_old_holders_write_after_the_new_holders() {
        let mut observer = LockInvariants::<LockServer>::default();
        let server = NodeId(0);
        observer
            .record(at(1), server, &[granted(A, Some(1))], 1)
            .unwrap();
        observer
            .record(at(2), server, &[granted(B, Some(2))], 1)
            .unwrap();
        // The old holder's write before the new holder wrote anything is serialized before it.
        observer.record(at(3), STORAGE, &[accepted(A)], 1).unwrap();
        observer.record(at(4), STORAGE, &[accepted(B)], 1).unwrap();
        let violation = observer
            .record(at(5), STORAGE, &[accepted(A)], 1)
            .unwrap_err();
        assert_eq!(violation.property, "write-safety");
        assert!(
            violation.detail.contains("c0 and c1 both acted"),
            "{violation}"
        );
    }

    #[test]
    fn a_write_the_service_never_granted_is_unsafe() {
        let mut observer = LockInvariants::<LockServer>::default();
        let violation = observer
            .record(at(1), STORAGE, &[accepted(A)], 1)
            .unwrap_err();
        assert!(violation.detail.contains("never granted"), "{violation}");
    }

    #[test]
    fn a_redlock_grant_needs_a_majority_of_servers_at_once() {
        let mut observer = LockInvariants::<Redlock>::default();
        observer
            .record(at(1), NodeId(0), &[granted(A, None)], 2)
            .unwrap();
        assert!(observer.grants().is_empty());
        // Server 0 forgets the key (expired), server 1 grants: still one server at a time.
        let freed = Journal::Freed {
            lock: 0,
            acquisition: A,
        };
        observer.record(at(2), NodeId(0), &[freed], 2).unwrap();
        observer
            .record(at(2), NodeId(1), &[granted(A, None)], 2)
            .unwrap();
        assert!(observer.grants().is_empty());
        observer
            .record(at(3), NodeId(2), &[granted(A, None)], 2)
            .unwrap();
        assert_eq!(observer.grants()[&(0, A)].order, 1);
    }

    #[test]
    fn token_monotonicity_refuses_a_token_reissued_after_a_restart() {
        let mut observer = LockInvariants::<LockServer>::default();
        let server = NodeId(0);
        observer
            .record(at(1), server, &[granted(A, Some(7))], 1)
            .unwrap();
        observer.confirm(0, A.client, 7).unwrap();
        observer
            .record(at(2), server, &[Journal::Started], 1)
            .unwrap();
        observer
            .record(at(3), server, &[granted(B, Some(1))], 1)
            .unwrap();
        let violation = observer.confirm(0, B.client, 1).unwrap_err();
        assert_eq!(violation.property, "token-monotonicity");
    }

    #[test]
    fn overlapping_critical_sections_are_measured_with_their_pair() {
        let mut observer = LockInvariants::<LockServer>::default();
        observer.open_section(0, 0, at(1));
        observer.open_section(0, 1, at(2));
        observer.close_section(0, 1, at(3));
        observer.close_section(0, 0, at(4));
        let overlaps = observer.overlaps();
        assert_eq!(overlaps.count, 1);
        assert_eq!(overlaps.total_nanos, 1_000_000_000);
        assert_eq!(overlaps.first, Some((0, 0, 1, at(2))));
    }
}
