//! The storage node: one register per lock, written by lock holders, with an optional fencing
//! check (Chubby's sequencer check, Kleppmann's fencing token).
//!
//! A write that asks to be fenced and carries a token lower than the highest this storage has
//! accepted for the lock is rejected; any other write is accepted, and a higher token becomes
//! the new highest. The highest token is written to disk before the write is acknowledged (the
//! engine holds the answer until the write is durable), so a restarted storage keeps fencing.
//! The storage reads no clock: fencing needs none, which is its whole point.

use super::{Acquisition, Durable, Journal, Request, Response, Update};
use sim::protocol::{ClientId, Context, Key, Protocol};
use std::collections::BTreeMap;

/// The storage node's state.
#[derive(Clone, Debug, Default)]
pub struct Storage {
    /// The highest token accepted per lock.
    highest: BTreeMap<Key, u64>,
    /// The last writer per register (the register's value).
    registers: BTreeMap<Key, Acquisition>,
    /// Writes accepted and rejected by this incarnation.
    accepted: u64,
    rejected: u64,
}

impl Storage {
    /// The storage as it restarts from `disk`.
    pub fn recover(disk: &Durable) -> Storage {
        Storage {
            highest: disk.highest.clone(),
            ..Storage::default()
        }
    }

    /// The last writer of `lock`'s register, if any wrote since the storage started.
    pub fn register(&self, lock: Key) -> Option<Acquisition> {
        self.registers.get(&lock).copied()
    }

    /// Handles a write; any other request is not for the storage and gets no answer.
    pub fn on_request<P: Protocol<Request = Request, Response = Response, Update = Update>>(
        &mut self,
        context: &mut Context<P>,
        journal: &mut Vec<Journal>,
        client: ClientId,
        request: Request,
    ) {
        let Request::Write {
            lock,
            acquisition,
            token,
            fenced,
        } = request
        else {
            return;
        };
        let highest = self.highest.get(&lock).copied().unwrap_or(0);
        if let (true, Some(token)) = (fenced, token) {
            if token < highest {
                self.rejected += 1;
                journal.push(Journal::Rejected {
                    lock,
                    acquisition,
                    token: Some(token),
                    highest,
                });
                context.reply(
                    client,
                    Response::Rejected {
                        acquisition,
                        highest,
                    },
                );
                return;
            }
        }
        if let Some(token) = token.filter(|token| *token > highest) {
            self.highest.insert(lock, token);
            context.persist(Update::Highest { lock, token });
        }
        self.registers.insert(lock, acquisition);
        self.accepted += 1;
        journal.push(Journal::Accepted {
            lock,
            acquisition,
            token,
        });
        context.reply(client, Response::Accepted { acquisition });
    }
}
