//! Protocol invariants, checked after every applied event.
//!
//! An [`Invariants`] value watches one protocol's nodes through its concrete type. It is called
//! after every event with all nodes (a crashed node is `None`) and the node the event touched, and
//! keeps whatever history it needs (for example every entry any node ever applied) to judge
//! safety properties that span time. Safety is judged in true time.

use crate::completion::Completion;
use crate::protocol::{ClientId, NodeId, Protocol};
use crate::time::SimTime;
use crate::workload::{OperationOf, OutputOf, Workload};
use std::collections::BTreeMap;
use std::fmt;

/// A broken invariant: the property's name and what exactly happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The property, kebab-case, e.g. `election-safety`.
    pub property: String,
    /// What happened, readable: nodes, terms, indexes.
    pub detail: String,
}

impl Violation {
    /// A violation of `property`.
    pub fn new(property: impl Into<String>, detail: impl Into<String>) -> Violation {
        Violation {
            property: property.into(),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.property, self.detail)
    }
}

/// A client operation as it completed, in true time: what an invariant sees of the clients.
#[derive(Debug)]
pub struct CompletionEvent<'a, W: Workload> {
    /// The client process (its index; Jepsen's process number is `process`).
    pub client: ClientId,
    /// Jepsen's process number in the history.
    pub process: u64,
    /// The operation.
    pub operation: &'a OperationOf<W>,
    /// How it ended.
    pub completion: &'a Completion<OutputOf<W>>,
    /// True time of the invocation.
    pub invoked: SimTime,
    /// True time of the completion.
    pub completed: SimTime,
    /// The node whose answer decided it, if one did.
    pub node: Option<NodeId>,
}

/// A checker of one protocol's safety invariants.
pub trait Invariants<P: Protocol> {
    /// Called when a client operation completes (not when the engine gives up on it at its
    /// deadline), with its invocation and completion in true time — for properties that
    /// involve what clients were told, such as two lock holders' critical sections overlapping.
    /// The default sees nothing wrong.
    fn on_completion(
        &mut self,
        _event: &CompletionEvent<'_, P::Workload>,
    ) -> Result<(), Violation> {
        Ok(())
    }

    /// Called after every applied event at true time `time`. `touched` is the node whose state
    /// the event may have changed (`None` for events that touch no node). `nodes[i]` is node `i`,
    /// or `None` while it is crashed.
    /// Default: nothing to check (an observer of client completions alone).
    fn after_event(
        &mut self,
        time: SimTime,
        touched: Option<NodeId>,
        nodes: &[Option<P>],
    ) -> Result<(), Violation> {
        let _ = (time, touched, nodes);
        Ok(())
    }

    /// Figures the checker measured over the run, by name (a unit suffix such as `_ns` in the
    /// name), for the run's summary and report: what a protocol's own observer can tell that
    /// the engine cannot — for two-phase commit, the time participants spent in doubt. Asked
    /// once, at the end of the run. The default has none.
    fn figures(&self) -> BTreeMap<String, u64> {
        BTreeMap::new()
    }
}

/// For protocols without invariants of their own (the history is still checked).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoInvariants;

impl<P: Protocol> Invariants<P> for NoInvariants {}
