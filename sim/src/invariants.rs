//! Protocol invariants, checked after every applied event.
//!
//! An [`Invariants`] value watches one protocol's nodes through its concrete type. It is called
//! after every event with all nodes (a crashed node is `None`) and the node the event touched, and
//! keeps whatever history it needs (for example every entry any node ever applied) to judge
//! safety properties that span time. Safety is judged in true time.

use crate::protocol::{NodeId, Protocol};
use crate::time::SimTime;
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

/// A checker of one protocol's safety invariants.
pub trait Invariants<P: Protocol> {
    /// Called after every applied event at true time `time`. `touched` is the node whose state
    /// the event may have changed (`None` for events that touch no node). `nodes[i]` is node `i`,
    /// or `None` while it is crashed.
    fn after_event(
        &mut self,
        time: SimTime,
        touched: Option<NodeId>,
        nodes: &[Option<P>],
    ) -> Result<(), Violation>;
}

/// For protocols without invariants of their own (the history is still checked).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoInvariants;

impl<P: Protocol> Invariants<P> for NoInvariants {
    fn after_event(
        &mut self,
        _: SimTime,
        _: Option<NodeId>,
        _: &[Option<P>],
    ) -> Result<(), Violation> {
        Ok(())
    }
}
