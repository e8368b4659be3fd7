//! The key-value service the log replicates: registers with read, write and compare-and-set.
//!
//! Every node applies committed entries to its own `KvStore` in log order (Raft §5.3), so all
//! stores pass through the same sequence of states. Reads are log entries too: a read executes at
//! its place in the log, which is what makes it linearizable (Raft §8) — a leader that answers a
//! read from its store without that step can return a stale value (the `stale-local-read` bug).
//!
//! Clients may see a request more than once (the network duplicates messages; a redirected client
//! retries with the same `RequestId`). Raft §8 asks the state machine to remember, per client, the
//! latest request it executed and its answer, so that a duplicate is answered without being
//! executed twice. Only writes and compare-and-sets need this: a read executed twice is harmless.

use serde::{Deserialize, Serialize};
use sim::protocol::{ClientId, ClientResponse, Key, Operation, RequestId};
use std::collections::BTreeMap;

/// What a log entry asks the state machine to do.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Command {
    /// The request this command carries; unique across the run.
    pub request: RequestId,
    /// The client process that sent it.
    pub client: ClientId,
    /// The operation.
    pub operation: Operation,
}

/// The replicated key-value map, with the per-client session table of Raft §8.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KvStore {
    registers: BTreeMap<Key, i64>,
    sessions: BTreeMap<ClientId, (RequestId, ClientResponse)>,
}

impl KvStore {
    /// An empty store: every register unwritten.
    pub fn new() -> KvStore {
        KvStore::default()
    }

    /// The register's current value, without going through the log. Only the `stale-local-read`
    /// bug answers clients with this.
    pub fn read_local(&self, key: Key) -> Option<i64> {
        self.registers.get(&key).copied()
    }

    /// The answer already given to `request`, if this client's latest executed request is it.
    pub fn cached_response(&self, client: ClientId, request: RequestId) -> Option<&ClientResponse> {
        match self.sessions.get(&client) {
            Some((latest, response)) if *latest == request => Some(response),
            _ => None,
        }
    }

    /// Executes `command` once, in log order, and returns the answer for its client.
    pub fn apply(&mut self, command: &Command) -> ClientResponse {
        if let Operation::Read { key } = command.operation {
            // A read changes nothing, so running a duplicate again is harmless: either copy's
            // answer is the register's value at a point within the request's lifetime. Reads
            // skip the session table.
            return ClientResponse::Ok {
                value: self.read_local(key),
            };
        }
        if let Some((latest, response)) = self.sessions.get(&command.client) {
            if *latest == command.request {
                // Raft §8: a duplicate of the latest request is answered, not executed again.
                return response.clone();
            }
            if *latest > command.request {
                // A client sends its next request only after the previous one was answered, so an
                // older request arriving now is a delayed duplicate. Whether its first copy ran
                // is no longer recorded: the honest answer is "unknown".
                return ClientResponse::Indeterminate {
                    reason: format!("{} is older than {latest}", command.request).into(),
                };
            }
        }
        let response = self.execute(&command.operation);
        self.sessions
            .insert(command.client, (command.request, response.clone()));
        response
    }

    fn execute(&mut self, operation: &Operation) -> ClientResponse {
        match *operation {
            Operation::Read { key } => ClientResponse::Ok {
                value: self.read_local(key),
            },
            Operation::Write { key, value } => {
                self.registers.insert(key, value);
                ClientResponse::Ok { value: None }
            }
            Operation::Cas { key, from, to } => match self.registers.get_mut(&key) {
                Some(current) if *current == from => {
                    *current = to;
                    ClientResponse::Ok { value: None }
                }
                // A static reason: every node applies every cas, so formatting one would cost an
                // allocation per node per failed cas.
                _ => ClientResponse::Fail {
                    reason: "cas: the register did not hold the expected value".into(),
                },
            },
        }
    }
}
