//! The coordinator: phase one (`Prepare`, collecting votes), the decision, phase two
//! (`Decide`, re-sent until acknowledged), answers to in-doubt participants, and recovery from
//! its log.

use super::bugs::Bug;
use super::Journal;
use super::{
    Coordinated, Decision, Durable, Incarnation, Logged, Message, Outcome, Phase, Request,
    Response, Share, Timer, TwoPhaseCommit, Update, Vote,
};
use sim::protocol::{Context, Key, NodeId};
use sim::workload::bank::Operation;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

impl TwoPhaseCommit {
    /// A client's request (or a relayed retry) for a transaction this node coordinates.
    pub(crate) fn coordinate(&mut self, context: &mut Context<Self>, request: Request) {
        assert_eq!(
            request.txn.coordinator, self.id,
            "{} is not its coordinator",
            request.txn
        );
        if let Some(known) = self.transactions.get_mut(&request.txn) {
            // A retry: the same transaction, never a second one.
            known.client = Some(request.client);
            match known.phase {
                Phase::Collecting => {}
                Phase::Committed | Phase::Aborted => self.answer_client(context, request.txn),
            }
            return;
        }
        let (shares, read) = self.shares(&request.operation);
        let participants: Vec<NodeId> = shares.keys().copied().collect();
        let changes = request.operation.net_changes().into_iter().collect();
        self.transactions.insert(
            request.txn,
            Coordinated {
                client: Some(request.client),
                participants: participants.clone(),
                changes,
                read,
                incarnation: self.incarnation,
                phase: Phase::Collecting,
                votes: BTreeMap::new(),
                acks: BTreeSet::new(),
                result: None,
                reason: Cow::Borrowed(""),
            },
        );
        for (participant, share) in shares {
            context.send(
                participant,
                Message::Prepare {
                    txn: request.txn,
                    incarnation: self.incarnation,
                    born: request.born,
                    share,
                    participants: participants.clone(),
                },
            );
        }
        context.set_timer(Timer::Votes(request.txn), self.options.vote_timeout);
        context.moment("prepare-sent");
    }

    /// Each participant's share of an operation, and whether it is a read.
    fn shares(&self, operation: &Operation) -> (BTreeMap<NodeId, Share>, bool) {
        let mut shares: BTreeMap<NodeId, Share> = BTreeMap::new();
        match operation {
            Operation::Transfer { .. } => {
                for (account, change) in operation.net_changes() {
                    let owner = self.ring.owner(account);
                    shares
                        .entry(owner)
                        .or_default()
                        .changes
                        .push((account, change));
                }
                (shares, false)
            }
            Operation::Read { accounts } => {
                for account in 0..u64::from(*accounts) {
                    let owner = self.ring.owner(account);
                    shares.entry(owner).or_default().reads.push(account);
                }
                (shares, true)
            }
        }
    }

    pub(crate) fn on_vote(
        &mut self,
        context: &mut Context<Self>,
        source: NodeId,
        txn: super::TxnId,
        incarnation: Incarnation,
        vote: Vote,
    ) {
        let Some(coordinated) = self.transactions.get_mut(&txn) else {
            return;
        };
        if coordinated.phase != Phase::Collecting
            || coordinated.incarnation != incarnation
            || !coordinated.participants.contains(&source)
        {
            return; // late, duplicated, or from an earlier incarnation
        }
        match vote {
            Vote::Yes(balances) => {
                coordinated.votes.insert(source, balances);
                if coordinated.votes.len() == coordinated.participants.len() {
                    self.decide_commit(context, txn);
                }
            }
            Vote::No(reason) => self.decide_abort(context, txn, Cow::Borrowed(reason)),
        }
    }

    pub(crate) fn on_votes_timeout(&mut self, context: &mut Context<Self>, txn: super::TxnId) {
        if self
            .transactions
            .get(&txn)
            .is_some_and(|coordinated| coordinated.phase == Phase::Collecting)
        {
            self.decide_abort(context, txn, Cow::Borrowed("votes timed out"));
        }
    }

    /// Every participant voted yes: log the decision, then tell it.
    fn decide_commit(&mut self, context: &mut Context<Self>, txn: super::TxnId) {
        let coordinated = self
            .transactions
            .get_mut(&txn)
            .expect("deciding a known txn");
        coordinated.phase = Phase::Committed;
        if coordinated.read {
            let mut balances: Vec<(Key, i64)> =
                coordinated.votes.values().flatten().copied().collect();
            balances.sort_unstable();
            coordinated.result = Some(balances.into_iter().map(|(_, b)| b).collect());
        }
        let logged = Logged {
            incarnation: coordinated.incarnation,
            participants: coordinated.participants.clone(),
            read: coordinated.read,
            ended: false,
        };
        self.journal.push(Journal::DecidedCommit {
            txn,
            changes: coordinated.changes.clone(),
        });
        context.cancel_timer(Timer::Votes(txn));
        if self.has_bug(Bug::DecideBeforeLogging) {
            // Bug: the decision leaves before the record that makes it survive a crash.
            self.send_decision(context, txn, None);
            context.persist(Update::Decided { txn, logged });
        } else {
            // The decision record is durable before any participant hears of the decision.
            context.persist(Update::Decided { txn, logged });
            self.send_decision(context, txn, None);
        }
        context.moment("decision-logged");
        self.answer_client(context, txn);
        context.set_timer(Timer::Resend(txn), self.options.resend_after);
    }

    /// A participant voted no, or votes are missing: abort, without a record (presumed abort).
    fn decide_abort(
        &mut self,
        context: &mut Context<Self>,
        txn: super::TxnId,
        reason: Cow<'static, str>,
    ) {
        let coordinated = self
            .transactions
            .get_mut(&txn)
            .expect("deciding a known txn");
        coordinated.phase = Phase::Aborted;
        coordinated.reason = reason;
        context.cancel_timer(Timer::Votes(txn));
        self.send_decision(context, txn, None);
        self.answer_client(context, txn);
    }

    /// Sends the decision to every participant (or only to `only`) that has not acknowledged.
    fn send_decision(&self, context: &mut Context<Self>, txn: super::TxnId, only: Option<NodeId>) {
        let coordinated = &self.transactions[&txn];
        let decision = match coordinated.phase {
            Phase::Committed => Decision::Commit,
            Phase::Aborted => Decision::Abort,
            Phase::Collecting => unreachable!("no decision yet for {txn}"),
        };
        for participant in &coordinated.participants {
            if coordinated.acks.contains(participant) || only.is_some_and(|o| o != *participant) {
                continue;
            }
            context.send(
                *participant,
                Message::Decide {
                    txn,
                    incarnation: coordinated.incarnation,
                    decision,
                },
            );
        }
    }

    fn answer_client(&self, context: &mut Context<Self>, txn: super::TxnId) {
        let coordinated = &self.transactions[&txn];
        let Some(client) = coordinated.client else {
            return; // decided by an earlier incarnation: nobody asked this one yet
        };
        let outcome = match coordinated.phase {
            Phase::Committed if coordinated.read => match &coordinated.result {
                Some(balances) => Outcome::Committed(Some(balances.clone())),
                // A read changes nothing, so saying it failed tells the client nothing false.
                None => Outcome::Aborted(Cow::Borrowed("the read's result was lost in a crash")),
            },
            Phase::Committed => Outcome::Committed(None),
            Phase::Aborted => Outcome::Aborted(coordinated.reason.clone()),
            Phase::Collecting => return,
        };
        context.reply(client, Response { txn, outcome });
    }

    pub(crate) fn on_ack(
        &mut self,
        context: &mut Context<Self>,
        source: NodeId,
        txn: super::TxnId,
    ) {
        let Some(coordinated) = self.transactions.get_mut(&txn) else {
            return;
        };
        if coordinated.phase != Phase::Committed || !coordinated.participants.contains(&source) {
            return;
        }
        let fresh = coordinated.acks.insert(source);
        if fresh && coordinated.acks.len() == coordinated.participants.len() {
            context.cancel_timer(Timer::Resend(txn));
            context.persist(Update::Ended { txn });
        }
    }

    pub(crate) fn on_resend(&mut self, context: &mut Context<Self>, txn: super::TxnId) {
        let Some(coordinated) = self.transactions.get(&txn) else {
            return;
        };
        if coordinated.phase == Phase::Committed
            && coordinated.acks.len() < coordinated.participants.len()
        {
            self.send_decision(context, txn, None);
            context.set_timer(Timer::Resend(txn), self.options.resend_after);
        }
    }

    /// An in-doubt participant asks for the decision.
    pub(crate) fn on_inquire(
        &mut self,
        context: &mut Context<Self>,
        source: NodeId,
        txn: super::TxnId,
        incarnation: Incarnation,
    ) {
        if txn.coordinator != self.id {
            return;
        }
        let decision = match self.transactions.get(&txn) {
            Some(coordinated) => match coordinated.phase {
                Phase::Committed => {
                    self.send_decision(context, txn, Some(source));
                    return;
                }
                Phase::Collecting if coordinated.incarnation == incarnation => return,
                // An earlier incarnation's run: presumed aborted.
                Phase::Collecting | Phase::Aborted => Decision::Abort,
            },
            // No record: presumed abort.
            None if self.has_bug(Bug::PresumeCommit) => Decision::Commit,
            None => Decision::Abort,
        };
        context.send(
            source,
            Message::Decide {
                txn,
                incarnation,
                decision,
            },
        );
    }

    /// A restarted coordinator re-sends the commit decisions not every participant
    /// acknowledged; what it had not decided it presumes aborted.
    pub(crate) fn recover_coordinator(&mut self, context: &mut Context<Self>, disk: &Durable) {
        for (txn, logged) in &disk.decisions {
            self.transactions.insert(
                *txn,
                Coordinated {
                    client: None,
                    participants: logged.participants.clone(),
                    changes: Vec::new(),
                    read: logged.read,
                    incarnation: logged.incarnation,
                    phase: Phase::Committed,
                    votes: BTreeMap::new(),
                    acks: if logged.ended {
                        logged.participants.iter().copied().collect()
                    } else {
                        BTreeSet::new()
                    },
                    result: None,
                    reason: Cow::Borrowed(""),
                },
            );
            if !logged.ended {
                context.set_timer(Timer::Resend(*txn), self.options.resend_after);
            }
        }
    }
}
