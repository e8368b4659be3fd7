//! Two-phase commit's safety properties, checked after every event, and its blocking measured
//! in true time.
//!
//! The checker reads what each handler did from the node's journal
//! ([`super::TwoPhaseCommit::journal`]) and keeps its own record across crashes:
//!
//! - **atomicity**: no transaction is committed at one participant and aborted at another;
//! - **commit-without-decision**: no participant commits a transaction whose coordinator has
//!   not decided commit;
//! - **conservation**: a ghost bank applies each transaction at once, when the first
//!   participant commits it (a coordinator's decision that never became durable never reached
//!   anyone, and a restarted coordinator rightly presumes it aborted). Every balance a
//!   participant holds, plus the changes of the transactions it holds prepared that are
//!   committed elsewhere (their decision still travelling to it), equals the ghost's. A transaction only
//!   partly applied while its decision travels is therefore no violation; money created,
//!   destroyed or lost with a forgotten prepare record is.

use super::{Journal, TwoPhaseCommit, TxnId, OPENING_BALANCE};
use sim::invariants::{Invariants, Violation};
use sim::protocol::{Key, NodeId};
use sim::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// Blocking in one run, in true time: how long participants spent prepared and in doubt.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockingReport {
    /// (participant, transaction) pairs that left the prepared state.
    pub decided: u64,
    /// Their total time prepared, from the yes vote to the decision (ns).
    pub prepared_nanos: u64,
    /// Pairs that were in doubt (asked for the decision) before it came.
    pub in_doubt: u64,
    /// Their total time in doubt, from the first inquiry to the decision (ns).
    pub in_doubt_nanos: u64,
    /// The longest time one participant spent in doubt about one transaction (ns).
    pub in_doubt_max_nanos: u64,
    /// Pairs still prepared when the run ended (blocked to the end).
    pub still_prepared: u64,
}

/// The checker of two-phase commit's invariants.
#[derive(Debug, Default)]
pub struct TwoPhaseInvariants {
    /// Commit decisions seen (made, durable or not), with the transaction's changes.
    decided: BTreeMap<TxnId, Vec<(Key, i64)>>,
    /// Transactions some participant committed: the ghost bank has applied them.
    applied: BTreeSet<TxnId>,
    /// Where each transaction was committed and aborted.
    outcomes: BTreeMap<TxnId, (BTreeSet<NodeId>, BTreeSet<NodeId>)>,
    /// The ghost bank: balances that differ from the opening balance.
    ghost: BTreeMap<Key, i64>,
    /// When each participant prepared each transaction, and when it began to ask (true time).
    prepared: BTreeMap<(NodeId, TxnId), (SimTime, Option<SimTime>)>,
    blocking: BlockingReport,
    /// Where to leave the blocking figures (for tests and measurements).
    report: Option<Arc<Mutex<BlockingReport>>>,
}

impl TwoPhaseInvariants {
    /// A checker that also leaves its blocking figures in `report` as it goes.
    pub fn with_report(report: Arc<Mutex<BlockingReport>>) -> TwoPhaseInvariants {
        TwoPhaseInvariants {
            report: Some(report),
            ..TwoPhaseInvariants::default()
        }
    }

    fn record(&mut self, time: SimTime, node: &TwoPhaseCommit) -> Result<(), Violation> {
        let id = node.id();
        for entry in node.journal() {
            if let Journal::DecidedCommit { txn, changes } = entry {
                self.decided.entry(*txn).or_insert_with(|| changes.clone());
            }
        }
        for entry in node.journal() {
            match entry {
                Journal::DecidedCommit { .. } => {}
                Journal::Prepared(txn) => {
                    self.prepared.entry((id, *txn)).or_insert((time, None));
                }
                Journal::InDoubt(txn) => {
                    if let Some((_, asked)) = self.prepared.get_mut(&(id, *txn)) {
                        asked.get_or_insert(time);
                    }
                }
                Journal::Committed(txn) => {
                    if !self.decided.contains_key(txn) {
                        return Err(Violation::new(
                            "commit-without-decision",
                            format!("{id} committed {txn}, which its coordinator never decided to commit"),
                        ));
                    }
                    if self.applied.insert(*txn) {
                        // The first commit anywhere: the ghost applies the whole transaction.
                        for (account, change) in &self.decided[txn] {
                            *self.ghost.entry(*account).or_insert(OPENING_BALANCE) += change;
                        }
                    }
                    let (committed, aborted) = self.outcomes.entry(*txn).or_default();
                    committed.insert(id);
                    if let Some(other) = aborted.first() {
                        return Err(atomicity(*txn, id, *other));
                    }
                    self.left_prepared(time, id, *txn);
                }
                Journal::Aborted(txn) => {
                    let (committed, aborted) = self.outcomes.entry(*txn).or_default();
                    aborted.insert(id);
                    if let Some(other) = committed.first() {
                        return Err(atomicity(*txn, *other, id));
                    }
                    self.left_prepared(time, id, *txn);
                }
            }
        }
        Ok(())
    }

    /// The blocking figures so far: pairs decided, time prepared and in doubt, pairs still
    /// prepared.
    pub fn blocking(&self) -> BlockingReport {
        BlockingReport {
            still_prepared: self.prepared.len() as u64,
            ..self.blocking.clone()
        }
    }

    fn left_prepared(&mut self, time: SimTime, node: NodeId, txn: TxnId) {
        let Some((since, asked)) = self.prepared.remove(&(node, txn)) else {
            return;
        };
        self.blocking.decided += 1;
        self.blocking.prepared_nanos += time.saturating_since(since).as_nanos();
        if let Some(asked) = asked {
            let waited = time.saturating_since(asked).as_nanos();
            self.blocking.in_doubt += 1;
            self.blocking.in_doubt_nanos += waited;
            self.blocking.in_doubt_max_nanos = self.blocking.in_doubt_max_nanos.max(waited);
        }
        self.publish();
    }

    fn publish(&self) {
        if let Some(report) = &self.report {
            let mut shared = report.lock().expect("the report lock is never poisoned");
            *shared = BlockingReport {
                still_prepared: self.prepared.len() as u64,
                ..self.blocking.clone()
            };
        }
    }

    /// Every balance `node` holds, plus what its prepared, committed transactions still owe
    /// it, equals the ghost bank's.
    fn conservation(&self, node: &TwoPhaseCommit) -> Result<(), Violation> {
        let mut pending: BTreeMap<Key, i64> = BTreeMap::new();
        for (txn, local) in node.prepared() {
            if self.applied.contains(&txn) {
                for (account, change) in &local.share.changes {
                    *pending.entry(*account).or_insert(0) += change;
                }
            }
        }
        let accounts: BTreeSet<Key> = self
            .ghost
            .keys()
            .copied()
            .chain(node.touched_accounts())
            .filter(|account| node.holds(*account))
            .collect();
        for account in accounts {
            let held = node.balance(account) + pending.get(&account).copied().unwrap_or(0);
            let ghost = self.ghost.get(&account).copied().unwrap_or(OPENING_BALANCE);
            if held != ghost {
                return Err(Violation::new(
                    "conservation",
                    format!(
                        "{} holds account {account} at {} (with {} still to apply), but the \
                         committed transactions make it {ghost}",
                        node.id(),
                        node.balance(account),
                        pending.get(&account).copied().unwrap_or(0)
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn atomicity(txn: TxnId, committed: NodeId, aborted: NodeId) -> Violation {
    Violation::new(
        "atomicity",
        format!("{txn} is committed at {committed} and aborted at {aborted}"),
    )
}

impl Invariants<TwoPhaseCommit> for TwoPhaseInvariants {
    /// Blocking, for the run's summary and report (true time, ns): participant–transaction
    /// pairs decided, their total time prepared, the pairs in doubt (they asked for the
    /// decision) with their total and longest time in doubt, and the pairs still prepared when
    /// the run ended.
    fn figures(&self) -> BTreeMap<String, u64> {
        let blocking = self.blocking();
        BTreeMap::from([
            ("prepared_pairs_decided".to_string(), blocking.decided),
            ("prepared_total_ns".to_string(), blocking.prepared_nanos),
            ("in_doubt_pairs".to_string(), blocking.in_doubt),
            ("in_doubt_total_ns".to_string(), blocking.in_doubt_nanos),
            ("in_doubt_max_ns".to_string(), blocking.in_doubt_max_nanos),
            ("still_prepared_at_end".to_string(), blocking.still_prepared),
        ])
    }

    fn after_event(
        &mut self,
        time: SimTime,
        touched: Option<NodeId>,
        nodes: &[Option<TwoPhaseCommit>],
    ) -> Result<(), Violation> {
        let Some(node) = touched.and_then(|id| nodes.get(id.index())?.as_ref()) else {
            return Ok(());
        };
        self.record(time, node)?;
        self.conservation(node)
    }
}
