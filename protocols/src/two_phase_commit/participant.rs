//! The participant: locks, the prepare record, votes, applying decisions, asking for them when
//! in doubt (of the coordinator, and with cooperative termination of the other participants),
//! and recovery from its log.

use super::bugs::Bug;
use super::{
    draws_no, Conflicts, Decision, Durable, Incarnation, Journal, Local, LocalState, Message,
    Share, Timer, TwoPhaseCommit, TxnId, Update, Vote, Waiting,
};
use sim::protocol::{Context, Key, NodeId};
use sim::time::SimTime;

/// Whether a lock request is granted, must wait, or dies.
enum Grant {
    Granted,
    Wait,
    Refused,
}

impl TwoPhaseCommit {
    /// Phase one at this participant.
    pub(crate) fn on_prepare(&mut self, context: &mut Context<Self>, prepare: Waiting) {
        let txn = prepare.txn;
        if let Some(local) = self.records.get(&txn) {
            match local.state {
                LocalState::Prepared if local.incarnation == prepare.incarnation => {
                    // A duplicate: the vote again (the locks are still held, so the same one).
                    let balances = self.read_balances(&local.share);
                    self.vote(
                        context,
                        prepare.source,
                        txn,
                        prepare.incarnation,
                        Vote::Yes(balances),
                    );
                }
                LocalState::Prepared if local.incarnation < prepare.incarnation => {
                    // The coordinator restarted and runs the transaction again: it kept no
                    // commit record of the earlier run, which is therefore aborted.
                    self.finish(context, txn, Decision::Abort);
                    self.vote(
                        context,
                        prepare.source,
                        txn,
                        prepare.incarnation,
                        Vote::No("coordinator restarted"),
                    );
                }
                LocalState::Prepared | LocalState::Committed => {} // stale
                LocalState::Aborted => self.vote(
                    context,
                    prepare.source,
                    txn,
                    prepare.incarnation,
                    Vote::No("already aborted"),
                ),
            }
            return;
        }
        if self
            .waiting
            .iter()
            .any(|w| w.txn == txn && w.incarnation == prepare.incarnation)
        {
            return; // already waiting for its locks
        }
        if draws_no(txn, prepare.born, self.id, self.no_vote()) {
            self.vote(
                context,
                prepare.source,
                txn,
                prepare.incarnation,
                Vote::No("voted no"),
            );
            return;
        }
        let overdrawn = prepare
            .share
            .changes
            .iter()
            .any(|(account, change)| self.balance(*account) + change < 0);
        if overdrawn {
            self.vote(
                context,
                prepare.source,
                txn,
                prepare.incarnation,
                Vote::No("insufficient funds"),
            );
            return;
        }
        match self.try_lock(txn, prepare.born, &prepare.share) {
            Grant::Refused => self.vote(
                context,
                prepare.source,
                txn,
                prepare.incarnation,
                Vote::No("lock conflict"),
            ),
            Grant::Wait => self.waiting.push(prepare),
            Grant::Granted => self.prepare(context, prepare),
        }
    }

    /// Locks are held: write the prepare record, and vote yes once it is durable.
    fn prepare(&mut self, context: &mut Context<Self>, prepare: Waiting) {
        let local = Local {
            incarnation: prepare.incarnation,
            born: prepare.born,
            share: prepare.share,
            participants: prepare.participants,
            state: LocalState::Prepared,
        };
        let balances = self.read_balances(&local.share);
        self.records.insert(prepare.txn, local.clone());
        self.journal.push(Journal::Prepared(prepare.txn));
        self.prepared_since
            .insert(prepare.txn, (context.now(), None));
        // The engine holds the vote until the record is durable: save before you send.
        context.persist(Update::Record {
            txn: prepare.txn,
            local,
        });
        self.vote(
            context,
            prepare.source,
            prepare.txn,
            prepare.incarnation,
            Vote::Yes(balances),
        );
        context.set_timer(Timer::Inquire(prepare.txn), self.options.inquire_after);
        context.moment("voted-yes");
    }

    fn vote(
        &self,
        context: &mut Context<Self>,
        coordinator: NodeId,
        txn: TxnId,
        incarnation: Incarnation,
        vote: Vote,
    ) {
        context.send(
            coordinator,
            Message::Vote {
                txn,
                incarnation,
                vote,
            },
        );
    }

    fn read_balances(&self, share: &Share) -> Vec<(Key, i64)> {
        share
            .reads
            .iter()
            .map(|account| (*account, self.balance(*account)))
            .collect()
    }

    /// Takes every lock of `share` for `txn`, or none.
    fn try_lock(&mut self, txn: TxnId, born: SimTime, share: &Share) -> Grant {
        let mut holders: Vec<TxnId> = Vec::new();
        for (account, _) in &share.changes {
            if let Some(lock) = self.locks.get(account) {
                holders.extend(lock.writer.iter().filter(|h| **h != txn));
                holders.extend(lock.readers.iter().filter(|h| **h != txn));
            }
        }
        for account in &share.reads {
            if let Some(lock) = self.locks.get(account) {
                holders.extend(lock.writer.iter().filter(|h| **h != txn));
            }
        }
        if !holders.is_empty() {
            return match self.options.conflicts {
                Conflicts::NoWait => Grant::Refused,
                Conflicts::WaitDie => {
                    // Wait-die: an older transaction waits for younger holders; a younger one
                    // dies. Age is (born, id), a total order.
                    let older_than_all = holders.iter().all(|holder| {
                        let holder_born = self.records.get(holder).map_or(SimTime(0), |l| l.born);
                        (born, txn) < (holder_born, *holder)
                    });
                    if older_than_all {
                        Grant::Wait
                    } else {
                        Grant::Refused
                    }
                }
            };
        }
        for (account, _) in &share.changes {
            self.locks.entry(*account).or_default().writer = Some(txn);
        }
        for account in &share.reads {
            self.locks.entry(*account).or_default().readers.insert(txn);
        }
        Grant::Granted
    }

    fn unlock(&mut self, txn: TxnId, share: &Share) {
        for account in share.changes.iter().map(|(a, _)| a).chain(&share.reads) {
            if let Some(lock) = self.locks.get_mut(account) {
                if lock.writer == Some(txn) {
                    lock.writer = None;
                }
                lock.readers.remove(&txn);
                if lock.writer.is_none() && lock.readers.is_empty() {
                    self.locks.remove(account);
                }
            }
        }
    }

    /// A decision arrived: from the coordinator (`incarnation` is the run it is for) or, with
    /// cooperative termination, from another participant (`None`).
    pub(crate) fn on_decide(
        &mut self,
        context: &mut Context<Self>,
        source: NodeId,
        txn: TxnId,
        incarnation: Option<Incarnation>,
        decision: Decision,
    ) {
        let state = self
            .records
            .get(&txn)
            .map(|local| (local.state, local.incarnation));
        match state {
            Some((LocalState::Prepared, prepared)) if incarnation.is_none_or(|i| i == prepared) => {
                self.finish(context, txn, decision);
                if decision == Decision::Commit && incarnation.is_some() {
                    context.send(source, Message::Ack { txn });
                }
                if decision == Decision::Commit {
                    context.moment("decision-received");
                }
            }
            Some((LocalState::Committed, _))
                if decision == Decision::Commit && incarnation.is_some() =>
            {
                context.send(source, Message::Ack { txn }); // the earlier ack was lost
            }
            None if decision == Decision::Commit && incarnation.is_some() => {
                // Nothing prepared here (only a broken participant gets here): acknowledge so
                // that the coordinator stops asking.
                context.send(source, Message::Ack { txn });
            }
            _ => {
                if decision == Decision::Abort {
                    // A transaction waiting for locks is aborted: it stops waiting.
                    self.waiting.retain(|w| w.txn != txn);
                }
            }
        }
    }

    /// Applies a decision to a prepared transaction, releases its locks, and lets waiting
    /// transactions try again.
    pub(crate) fn finish(&mut self, context: &mut Context<Self>, txn: TxnId, decision: Decision) {
        let mut local = self
            .records
            .get(&txn)
            .cloned()
            .expect("finishing a known txn");
        assert_eq!(
            local.state,
            LocalState::Prepared,
            "{txn} finished twice at {}",
            self.id
        );
        local.state = match decision {
            Decision::Commit => LocalState::Committed,
            Decision::Abort => LocalState::Aborted,
        };
        if decision == Decision::Commit {
            for (account, change) in &local.share.changes {
                let balance = self.balance(*account) + change;
                self.balances.insert(*account, balance);
            }
            self.journal.push(Journal::Committed(txn));
        } else {
            self.journal.push(Journal::Aborted(txn));
        }
        self.unlock(txn, &local.share);
        self.records.insert(txn, local.clone());
        context.cancel_timer(Timer::Inquire(txn));
        // A commit record is written before the ack; an abort record need not be forced, but
        // it is written so that a later `Prepare` of the same run is answered no.
        context.persist(Update::Record { txn, local });
        if let Some((since, in_doubt)) = self.prepared_since.remove(&txn) {
            let now = context.now();
            self.blocking.decided += 1;
            self.blocking.prepared = self.blocking.prepared + now.saturating_since(since);
            if let Some(asked) = in_doubt {
                let waited = now.saturating_since(asked);
                self.blocking.in_doubt = self.blocking.in_doubt + waited;
                self.blocking.in_doubt_max = self.blocking.in_doubt_max.max(waited);
            }
        }
        self.retry_waiting(context);
    }

    fn retry_waiting(&mut self, context: &mut Context<Self>) {
        let waiting = std::mem::take(&mut self.waiting);
        for prepare in waiting {
            match self.try_lock(prepare.txn, prepare.born, &prepare.share) {
                Grant::Granted => self.prepare(context, prepare),
                Grant::Wait => self.waiting.push(prepare),
                Grant::Refused => {
                    let (source, txn, incarnation) =
                        (prepare.source, prepare.txn, prepare.incarnation);
                    self.vote(context, source, txn, incarnation, Vote::No("lock conflict"))
                }
            }
        }
    }

    /// A prepared participant has waited `inquire_after` for the decision: it is in doubt.
    pub(crate) fn on_inquire_timer(&mut self, context: &mut Context<Self>, txn: TxnId) {
        let Some(local) = self.records.get(&txn) else {
            return;
        };
        if local.state != LocalState::Prepared {
            return;
        }
        if self.has_bug(Bug::CommitOnTimeout) {
            // Bug: a participant that voted yes gave up its right to decide; this one decides.
            self.finish(context, txn, Decision::Commit);
            return;
        }
        let (incarnation, participants) = (local.incarnation, local.participants.clone());
        if let Some((_, in_doubt)) = self.prepared_since.get_mut(&txn) {
            if in_doubt.is_none() {
                *in_doubt = Some(context.now());
                self.journal.push(Journal::InDoubt(txn));
            }
        }
        context.send(txn.coordinator, Message::Inquire { txn, incarnation });
        if self.options.cooperative_termination {
            for peer in participants.into_iter().filter(|p| *p != self.id) {
                context.send(peer, Message::PeerInquire { txn });
            }
        }
        context.set_timer(Timer::Inquire(txn), self.options.inquire_after);
    }

    /// Cooperative termination: another participant asks what this one knows.
    pub(crate) fn on_peer_inquire(
        &mut self,
        context: &mut Context<Self>,
        source: NodeId,
        txn: TxnId,
    ) {
        let decision = match self.records.get(&txn).map(|local| local.state) {
            Some(LocalState::Committed) => Decision::Commit,
            Some(LocalState::Aborted) => Decision::Abort,
            Some(LocalState::Prepared) => return, // in doubt too: no help
            None => {
                if self.waiting.iter().any(|w| w.txn == txn) {
                    return; // it will vote soon; the asker asks again
                }
                // Never voted yes: abort it here, durably, so that this node votes no if the
                // `Prepare` still comes — then the coordinator cannot commit.
                let local = Local {
                    incarnation: 0,
                    born: SimTime(0),
                    share: Share::default(),
                    participants: Vec::new(),
                    state: LocalState::Aborted,
                };
                // Not journaled as an abort: it binds only once durable (the answer waits for
                // it), and a crash before then leaves a node that never voted, free to vote.
                self.records.insert(txn, local.clone());
                context.persist(Update::Record { txn, local });
                Decision::Abort
            }
        };
        context.send(source, Message::PeerDecision { txn, decision });
    }

    /// A restarted participant reloads its records and the locks of prepared transactions,
    /// and asks about each of those: it is in doubt.
    pub(crate) fn recover_participant(&mut self, context: &mut Context<Self>, disk: &Durable) {
        for (txn, local) in &disk.records {
            if local.state == LocalState::Prepared {
                if self.has_bug(Bug::ForgetPrepared) {
                    continue; // Bug: the prepare record is ignored, and with it the promise.
                }
                let share = local.share.clone();
                for (account, _) in &share.changes {
                    self.locks.entry(*account).or_default().writer = Some(*txn);
                }
                for account in &share.reads {
                    self.locks.entry(*account).or_default().readers.insert(*txn);
                }
                self.prepared_since.insert(*txn, (context.now(), None));
                context.set_timer(Timer::Inquire(*txn), self.options.inquire_after);
            }
            self.records.insert(*txn, local.clone());
        }
    }
}
