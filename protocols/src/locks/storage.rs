//! The storage node: one register per lock, written by lock holders, with an optional fencing
//! check (Chubby's sequencer check, Kleppmann's fencing token).
//!
//! A read or write that asks to be fenced and carries a token lower than the highest this
//! storage has seen for the lock is rejected; any other is served, and a higher token becomes
//! the new highest — a read too, so that once a new holder has read the register an old
//! holder's write is refused (without that a counter incremented under the lock still loses
//! updates: the new holder's read-modify-write would rest on a value the old holder then
//! overwrites). Writes mark the register (the writer is the value), set it, or compare-and-set
//! it on its version (optimistic locking: no lock, no token); each accepted write raises the
//! version. The highest token and the registers are written to disk before the answer (the
//! engine holds it until the write is durable), so a restarted storage keeps fencing and
//! counting.
//! The storage reads no clock: fencing needs none, which is its whole point.

use super::{Acquisition, Change, Durable, Journal, Request, Response, Update};
use sim::protocol::Key;
use std::collections::BTreeMap;

/// What serving one request asks of the node: disk writes, then the answer (the node persists
/// the updates before it replies: save before you send).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Served {
    /// Writes to the disk, in order.
    pub updates: Vec<Update>,
    /// The answer, if the request was for the storage.
    pub response: Option<Response>,
}

/// The storage node's state.
#[derive(Clone, Debug, Default)]
pub struct Storage {
    /// The highest token accepted per lock.
    highest: BTreeMap<Key, u64>,
    /// Each register's value and version (how many writes it accepted).
    registers: BTreeMap<Key, (u64, u64)>,
    /// The last writer per register.
    writers: BTreeMap<Key, Acquisition>,
}

impl Storage {
    /// The storage as it restarts from `disk`.
    pub fn recover(disk: &Durable) -> Storage {
        Storage {
            highest: disk.highest.clone(),
            registers: disk.registers.clone(),
            writers: BTreeMap::new(),
        }
    }

    /// The last writer of `lock`'s register, if any wrote since the storage started.
    pub fn writer(&self, lock: Key) -> Option<Acquisition> {
        self.writers.get(&lock).copied()
    }

    /// Every register's value and version.
    pub fn registers(&self) -> &BTreeMap<Key, (u64, u64)> {
        &self.registers
    }

    /// The fencing check of a read or write: `Err(highest)` when it must be rejected. A
    /// fenced request with a newer token raises the highest (on disk before the answer), so
    /// that a read fences older holders out too.
    fn fence(
        &mut self,
        updates: &mut Vec<Update>,
        lock: Key,
        token: Option<u64>,
        fenced: bool,
    ) -> Result<(), u64> {
        let highest = self.highest.get(&lock).copied().unwrap_or(0);
        let Some(token) = token else {
            return Ok(()); // nothing to fence with
        };
        if fenced && token < highest {
            return Err(highest);
        }
        if token > highest {
            self.highest.insert(lock, token);
            updates.push(Update::Highest { lock, token });
        }
        Ok(())
    }

    /// Serves a read or a write; any other request is not for the storage and gets no answer.
    pub fn serve(&mut self, journal: &mut Vec<Journal>, request: Request) -> Served {
        let mut served = Served::default();
        let response = self.respond(&mut served.updates, journal, request);
        served.response = response;
        served
    }

    fn respond(
        &mut self,
        updates: &mut Vec<Update>,
        journal: &mut Vec<Journal>,
        request: Request,
    ) -> Option<Response> {
        let (lock, acquisition, token, fenced, change) = match request {
            Request::Read {
                lock,
                acquisition,
                token,
                fenced,
            } => (lock, acquisition, token, fenced, None),
            Request::Write {
                lock,
                acquisition,
                token,
                fenced,
                change,
            } => (lock, acquisition, token, fenced, Some(change)),
            _ => return None,
        };
        if let Err(highest) = self.fence(updates, lock, token, fenced) {
            journal.push(Journal::Rejected {
                lock,
                acquisition,
                token,
                highest,
            });
            return Some(Response::Rejected {
                acquisition,
                highest,
            });
        }
        let (value, version) = self.registers.get(&lock).copied().unwrap_or((0, 0));
        let Some(change) = change else {
            return Some(Response::Value {
                acquisition,
                value,
                version,
            });
        };
        let value = match change {
            Change::Mark => value,
            Change::Set(value) => value,
            Change::CompareAndSet {
                version: expected,
                value: new,
            } => {
                if expected != version {
                    return Some(Response::Conflict {
                        acquisition,
                        value,
                        version,
                    });
                }
                new
            }
        };
        let version = version + 1;
        self.registers.insert(lock, (value, version));
        if change != Change::Mark {
            // A mark changes no value: only counters need their register on disk.
            updates.push(Update::Register {
                lock,
                value,
                version,
            });
        }
        self.writers.insert(lock, acquisition);
        journal.push(Journal::Accepted {
            lock,
            acquisition,
            token,
            guarded: !matches!(change, Change::CompareAndSet { .. }),
        });
        Some(Response::Accepted { acquisition, value })
    }
}
