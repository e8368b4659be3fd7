//! The client half: it names each transaction, so that a retry — at the same node or another —
//! is the same transaction, never a second one.
//!
//! A transaction's id carries its coordinator: the node the client reaches first, or the
//! options' fixed `coordinator`. With no answer within `retry_after` the client sends the same
//! request again, to the same node until `failover_after`, then to the next node, which relays
//! it to the coordinator. Only while every send so far was refused (so no node has seen the
//! transaction) may the client name another coordinator.

use super::{Outcome, Request, Response, TwoPhaseCommit, TxnId};
use sim::client::{ClientConfig, ClientContext, ClientHalf};
use sim::completion::Completion;
use sim::protocol::{NodeId, RequestId};
use sim::time::{SimDuration, SimTime};
use sim::workload::bank::Operation;

/// The client half's timers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ClientTimer {
    /// No answer yet: send the request again.
    Retry,
}

/// A bank client's transaction library.
#[derive(Clone, Debug)]
pub struct TransactionClient {
    node_count: u32,
    fixed: Option<NodeId>,
    next_number: u64,
    target: NodeId,
    redirect_backoff: SimDuration,
    retry_after: SimDuration,
    failover_after: SimDuration,
    asked_since: SimTime,
    current: Option<Request>,
    /// Sends of the current request, and how many of them were refused.
    sent: u32,
    refused: u32,
}

impl TransactionClient {
    fn next_node(&self, after: NodeId) -> NodeId {
        NodeId((after.0 + 1) % self.node_count)
    }

    fn send(&mut self, context: &mut ClientContext<'_, TwoPhaseCommit>, delay: SimDuration) {
        let request = self.current.clone().expect("a request in progress");
        self.sent += 1;
        context.send_after(delay, self.target, request);
    }
}

impl ClientHalf<TwoPhaseCommit> for TransactionClient {
    type Timer = ClientTimer;

    fn start(
        config: &ClientConfig<'_, super::Options>,
        context: &mut ClientContext<'_, TwoPhaseCommit>,
    ) -> Self {
        // A fixed coordinator outside the cluster is taken modulo its size.
        let fixed = config
            .options
            .coordinator
            .map(|node| NodeId(node % config.node_count));
        TransactionClient {
            node_count: config.node_count,
            fixed,
            next_number: 0,
            target: fixed.unwrap_or_else(|| context.random_node()),
            redirect_backoff: config.redirect_backoff,
            retry_after: config.retry_after,
            failover_after: config.failover_after,
            asked_since: context.now(),
            current: None,
            sent: 0,
            refused: 0,
        }
    }

    fn on_invoke(
        &mut self,
        context: &mut ClientContext<'_, TwoPhaseCommit>,
        _request: RequestId,
        operation: Operation,
    ) {
        assert!(self.current.is_none(), "one transaction at a time");
        let txn = TxnId {
            client: context.id().0,
            number: self.next_number,
            coordinator: self.fixed.unwrap_or(self.target),
        };
        self.next_number += 1;
        self.current = Some(Request {
            txn,
            client: context.id(),
            born: context.now(),
            operation,
        });
        self.sent = 0;
        self.refused = 0;
        self.asked_since = context.now();
        self.send(context, SimDuration::ZERO);
        if self.retry_after > SimDuration::ZERO {
            context.set_timer(ClientTimer::Retry, self.retry_after);
        }
    }

    fn on_response(
        &mut self,
        context: &mut ClientContext<'_, TwoPhaseCommit>,
        source: NodeId,
        response: Response,
    ) {
        if self
            .current
            .as_ref()
            .is_none_or(|c| !same(c.txn, response.txn))
        {
            return; // a late answer to a transaction already given up on
        }
        self.current = None;
        if self.retry_after > SimDuration::ZERO {
            context.cancel_timer(ClientTimer::Retry);
        }
        let completion = match response.outcome {
            Outcome::Committed(balances) => Completion::Ok(balances),
            Outcome::Aborted(reason) => Completion::Fail(reason),
        };
        context.complete(completion, Some(source));
    }

    fn on_timer(&mut self, context: &mut ClientContext<'_, TwoPhaseCommit>, timer: ClientTimer) {
        let ClientTimer::Retry = timer;
        if self.current.is_none() {
            return;
        }
        if context.now().saturating_since(self.asked_since) >= self.failover_after {
            self.target = self.next_node(self.target);
            self.asked_since = context.now();
        }
        self.send(context, SimDuration::ZERO);
        context.set_timer(ClientTimer::Retry, self.retry_after);
    }

    fn on_unreachable(
        &mut self,
        context: &mut ClientContext<'_, TwoPhaseCommit>,
        node: NodeId,
        request: Request,
    ) {
        let Some(current) = self.current.as_mut().filter(|c| same(c.txn, request.txn)) else {
            return;
        };
        self.refused += 1;
        if node != self.target {
            return;
        }
        self.target = NodeId((node.0 + 1) % self.node_count);
        if self.refused == self.sent && self.fixed.is_none() {
            // No node has seen this transaction: the next node may coordinate it.
            current.txn.coordinator = self.target;
        }
        self.asked_since = context.now();
        self.send(context, self.redirect_backoff);
    }

    fn on_timeout(&mut self, context: &mut ClientContext<'_, TwoPhaseCommit>) {
        self.current = None;
        if self.retry_after > SimDuration::ZERO {
            context.cancel_timer(ClientTimer::Retry);
        }
        if self.fixed.is_none() {
            self.target = context.random_node();
        }
    }
}

/// Whether two ids name the same transaction (a coordinator named before any node saw the
/// transaction may have been replaced).
fn same(a: TxnId, b: TxnId) -> bool {
    (a.client, a.number) == (b.client, b.number)
}
