//! The client-server service kit: the request and response of a typical replicated service,
//! one replicated state machine with Raft §8's client sessions, and the client half that
//! follows leader hints.
//!
//! A protocol is free to define its own requests, responses and client half; these serve every
//! protocol that replicates a log of client commands (Raft, Multi-Paxos) and simple services
//! (the unreplicated store), so that each of them does not carry its own copy of every
//! workload's semantics and of the deduplication rules.
//!
//! - [`Request`] and [`Response`] carry a request id, so a retried request is recognisably the
//!   same one and a late answer to an abandoned request is recognisably stale.
//! - [`StateMachine`] is a workload's sequential specification (registers, counters, ...):
//!   execute one operation, or decide that it fails without effect.
//! - [`Sessions`] wraps a state machine with the per-client session table of Raft §8: a
//!   client's latest executed request and its answer, so a duplicate is answered, never
//!   executed twice.
//! - [`FollowLeader`] is the client half: send to a node; on a redirect, retry the same request
//!   at the hinted node after a back-off; complete on any other answer.

use crate::client::{ClientConfig, ClientContext, ClientHalf};
use crate::completion::Completion;
use crate::protocol::{ClientId, NodeId, Protocol, RequestId};
use crate::time::{SimDuration, SimTime};
use crate::workload::keys::KeyMap;
use crate::workload::{OperationOf, OutputOf, Workload};
use std::borrow::Cow;
use std::fmt;
use std::hash::Hash;

/// A client's request to a service.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Request<O> {
    /// Unique across the run; a retry keeps it.
    pub id: RequestId,
    /// The client that sent it.
    pub client: ClientId,
    /// What to do.
    pub operation: O,
}

/// A service's answer to one request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Response<R> {
    /// The request answered.
    pub request: RequestId,
    /// The answer.
    pub answer: Answer<R>,
}

/// What a service can answer. Each maps onto a [`Completion`] class, except redirects, which
/// the client half follows.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Answer<R> {
    /// It happened, with this result (`:ok`).
    Ok(R),
    /// The service decided it cannot happen, and it did not (`:fail`, an answer), for example a
    /// compare-and-set whose expected value did not match.
    Fail(Cow<'static, str>),
    /// The service cannot serve now; it did not happen (`:fail`, an outage).
    Unavailable(Cow<'static, str>),
    /// The service cannot tell whether it happened (`:info`), for example a leader that lost
    /// leadership with the entry still uncommitted.
    Indeterminate(Cow<'static, str>),
    /// This node does not serve requests; try the hinted node (or another one). It did not
    /// happen.
    Redirect(Option<NodeId>),
}

impl<R> From<Result<R, Cow<'static, str>>> for Answer<R> {
    fn from(result: Result<R, Cow<'static, str>>) -> Self {
        match result {
            Ok(output) => Answer::Ok(output),
            Err(reason) => Answer::Fail(reason),
        }
    }
}

/// The standard request type for a workload.
pub type RequestOf<W> = Request<OperationOf<W>>;
/// The standard response type for a workload.
pub type ResponseOf<W> = Response<OutputOf<W>>;

/// A workload's sequential specification, as a replicated log executes it.
pub trait StateMachine: Clone + fmt::Debug + Default + PartialEq + 'static {
    /// The workload whose operations it executes.
    type Workload: Workload;

    /// Executes `operation`: its result, or why it fails without effect (a decided `fail`).
    /// Deterministic: every replica that executes the same operations in the same order
    /// passes through the same states.
    fn execute(
        &mut self,
        operation: &OperationOf<Self::Workload>,
    ) -> Result<OutputOf<Self::Workload>, Cow<'static, str>>;

    /// Whether `operation` changes nothing. Read-only operations skip the session table: one
    /// executed twice is harmless.
    fn is_read_only(operation: &OperationOf<Self::Workload>) -> bool;

    /// The answer to a read-only operation from the current state, without going through the
    /// log (`None` for operations that change state). Only a bug answers clients with this.
    fn query(&self, operation: &OperationOf<Self::Workload>) -> Option<OutputOf<Self::Workload>>;
}

/// A state machine with the client session table of Raft §8.
pub struct Sessions<M: StateMachine> {
    machine: M,
    sessions: SessionTable<Session<M>>,
}

/// A client's latest executed request and the answer it was given.
type Session<M> = (RequestId, Answer<MachineOutput<M>>);

/// Per client, its session. The workload's client ids are small and dense (`0..clients`), so
/// they sit in a vector indexed by id (every replica consults the table for every request);
/// ids a protocol makes up for its own requests (a ZooKeeper leader's session expiries) may be
/// large and go to a B-tree ([`KeyMap`]). Equality and `Debug` are those of the map from
/// clients to sessions.
#[derive(Clone)]
struct SessionTable<S> {
    slots: KeyMap<S, DENSE_CLIENTS>,
}

/// Client ids below this are kept in the vector.
const DENSE_CLIENTS: u64 = 1 << 14;

impl<S> SessionTable<S> {
    fn new() -> SessionTable<S> {
        SessionTable {
            slots: KeyMap::new(),
        }
    }

    fn get(&self, client: ClientId) -> Option<&S> {
        self.slots.get(u64::from(client.0))
    }

    fn set(&mut self, client: ClientId, session: S) {
        self.slots.insert(u64::from(client.0), session);
    }

    fn iter(&self) -> impl Iterator<Item = (ClientId, &S)> {
        (self.slots.iter()).map(|(client, session)| (ClientId(client as u32), session))
    }
}

impl<S: PartialEq> PartialEq for SessionTable<S> {
    fn eq(&self, other: &Self) -> bool {
        self.slots == other.slots
    }
}

impl<S: fmt::Debug> fmt::Debug for SessionTable<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

// Written out rather than derived: a derive would ask the workload type itself to be `Clone`.
impl<M: StateMachine> Clone for Sessions<M> {
    fn clone(&self) -> Self {
        Sessions {
            machine: self.machine.clone(),
            sessions: self.sessions.clone(),
        }
    }
}

impl<M: StateMachine> fmt::Debug for Sessions<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("machine", &self.machine)
            .field("sessions", &self.sessions)
            .finish()
    }
}

impl<M: StateMachine> Default for Sessions<M> {
    fn default() -> Self {
        Sessions::new()
    }
}

impl<M: StateMachine> PartialEq for Sessions<M> {
    fn eq(&self, other: &Self) -> bool {
        self.machine == other.machine && self.sessions == other.sessions
    }
}

impl<M: StateMachine> Sessions<M> {
    /// A fresh machine with no sessions.
    pub fn new() -> Sessions<M> {
        Sessions {
            machine: M::default(),
            sessions: SessionTable::new(),
        }
    }

    /// The state machine.
    pub fn machine(&self) -> &M {
        &self.machine
    }

    /// The answer already given to `request`, if it is its client's latest executed request.
    pub fn cached_answer(
        &self,
        client: ClientId,
        request: RequestId,
    ) -> Option<&Answer<OutputOf<M::Workload>>> {
        match self.sessions.get(client) {
            Some((latest, answer)) if *latest == request => Some(answer),
            _ => None,
        }
    }

    /// Executes `request` at most once and returns the answer for its client.
    pub fn apply(
        &mut self,
        request: &Request<OperationOf<M::Workload>>,
    ) -> Answer<OutputOf<M::Workload>> {
        if M::is_read_only(&request.operation) {
            // A read changes nothing, so running a duplicate again is harmless: either copy's
            // answer is the state at a point within the request's lifetime.
            return self.machine.execute(&request.operation).into();
        }
        // This runs for every request on every replica.
        if let Some((latest, answer)) = self.sessions.get(request.client) {
            if *latest == request.id {
                // Raft §8: a duplicate of the latest request is answered, not executed again.
                return answer.clone();
            }
            if *latest > request.id {
                // A client sends its next request only after the previous one was answered
                // or abandoned, so an older request arriving now is a delayed duplicate.
                // Whether its first copy ran is no longer recorded: the honest answer is
                // "unknown".
                return Answer::Indeterminate(
                    format!("{} is older than {latest}", request.id).into(),
                );
            }
        }
        let answer: Answer<_> = self.machine.execute(&request.operation).into();
        self.sessions
            .set(request.client, (request.id, answer.clone()));
        answer
    }

    /// Executes `request` without consulting the session table — what a service that does not
    /// deduplicate does. Only planted bugs call this.
    pub fn apply_without_session(
        &mut self,
        request: &Request<OperationOf<M::Workload>>,
    ) -> Answer<OutputOf<M::Workload>> {
        let answer: Answer<_> = self.machine.execute(&request.operation).into();
        if !M::is_read_only(&request.operation) {
            self.sessions
                .set(request.client, (request.id, answer.clone()));
        }
        answer
    }

    /// The state machine alone, with an empty session table — what a snapshot that forgets the
    /// sessions restores. Only planted bugs call this.
    pub fn without_sessions(&self) -> Sessions<M> {
        Sessions {
            machine: self.machine.clone(),
            sessions: SessionTable::new(),
        }
    }
}

/// Timers of [`FollowLeader`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FollowTimer {
    /// No answer came in time: send the request again (to the next node once the current one
    /// has had `failover_after`).
    Retry,
}

/// The client half of a service with a leader: send the request to the node the client
/// believes serves it; on a redirect, retry the *same* request (same id) at the hinted node —
/// or the next node when there is no hint — after the redirect back-off; when the node is down,
/// send the same request to the next node; when no answer came within `retry_after` (on the
/// client's monotonic clock), send it again — to the same node until that node has had
/// `failover_after`, then to the next; complete on any other answer, with the answering node. The engine gives up at the operation's deadline
/// (`info`); after that the next operation goes to a node drawn at random.
///
/// Retrying a request whose first copy may have run is what makes a service's deduplication
/// matter (Raft §8): a service that executes both copies applies one operation twice.
#[derive(Clone, Debug)]
pub struct FollowLeader<W: Workload> {
    target: NodeId,
    node_count: u32,
    redirect_backoff: SimDuration,
    retry_after: SimDuration,
    failover_after: SimDuration,
    /// When (on the client's monotonic clock) the current request was first sent to `target`.
    asked_since: SimTime,
    current: Option<Request<OperationOf<W>>>,
}

impl<W: Workload> FollowLeader<W> {
    /// The node the next request goes to.
    pub fn target(&self) -> NodeId {
        self.target
    }

    fn next_node(&self, after: NodeId) -> NodeId {
        NodeId((after.0 + 1) % self.node_count)
    }
}

impl<W, P> ClientHalf<P> for FollowLeader<W>
where
    W: Workload,
    P: Protocol<
        Workload = W,
        Request = Request<OperationOf<W>>,
        Response = Response<OutputOf<W>>,
        Client = FollowLeader<W>,
    >,
{
    type Timer = FollowTimer;

    fn start(config: &ClientConfig<'_, P::Options>, context: &mut ClientContext<'_, P>) -> Self {
        FollowLeader {
            target: context.random_node(),
            node_count: config.node_count,
            redirect_backoff: config.redirect_backoff,
            retry_after: config.retry_after,
            failover_after: config.failover_after,
            asked_since: context.now(),
            current: None,
        }
    }

    fn on_invoke(
        &mut self,
        context: &mut ClientContext<'_, P>,
        request: RequestId,
        operation: OperationOf<W>,
    ) {
        assert!(self.current.is_none(), "one operation at a time");
        let request = Request {
            id: request,
            client: context.id(),
            operation,
        };
        context.send(self.target, request.clone());
        self.current = Some(request);
        self.asked_since = context.now();
        if self.retry_after > SimDuration::ZERO {
            context.set_timer(FollowTimer::Retry, self.retry_after);
        }
    }

    fn on_response(
        &mut self,
        context: &mut ClientContext<'_, P>,
        source: NodeId,
        response: Response<OutputOf<W>>,
    ) {
        let Some(current) = self.current.as_ref().filter(|c| c.id == response.request) else {
            return; // a late answer to an operation already given up on
        };
        let completion = match response.answer {
            Answer::Redirect(hint) => {
                self.target = hint
                    .filter(|hint| hint.0 < self.node_count)
                    .unwrap_or(self.next_node(source));
                self.asked_since = context.now();
                let retry = current.clone();
                context.send_after(self.redirect_backoff, self.target, retry);
                return;
            }
            Answer::Ok(output) => Completion::Ok(output),
            Answer::Fail(reason) => Completion::Fail(reason),
            Answer::Unavailable(reason) => Completion::Refused(reason),
            Answer::Indeterminate(reason) => Completion::Unknown(reason),
        };
        self.current = None;
        if self.retry_after > SimDuration::ZERO {
            context.cancel_timer(FollowTimer::Retry);
        }
        context.complete(completion, Some(source));
    }

    fn on_timer(&mut self, context: &mut ClientContext<'_, P>, timer: FollowTimer) {
        let FollowTimer::Retry = timer;
        let Some(current) = self.current.clone() else {
            return;
        };
        // No answer in time: the request or its answer may be lost, or the node slow,
        // partitioned or down. Ask the same node again until it has had `failover_after`, then
        // the next one; the same request id lets the service recognise a request it already
        // executed.
        if context.now().saturating_since(self.asked_since) >= self.failover_after {
            self.target = self.next_node(self.target);
            self.asked_since = context.now();
        }
        context.send(self.target, current);
        context.set_timer(FollowTimer::Retry, self.retry_after);
    }

    fn on_unreachable(
        &mut self,
        context: &mut ClientContext<'_, P>,
        node: NodeId,
        request: Request<OperationOf<W>>,
    ) {
        if self.current.as_ref().is_none_or(|c| c.id != request.id) || node != self.target {
            return;
        }
        // Connection refused: this node certainly did not run it. Move on to the next one.
        self.target = self.next_node(node);
        self.asked_since = context.now();
        context.send_after(self.redirect_backoff, self.target, request);
    }

    fn on_timeout(&mut self, context: &mut ClientContext<'_, P>) {
        self.current = None;
        if self.retry_after > SimDuration::ZERO {
            context.cancel_timer(FollowTimer::Retry);
        }
        // The node may be gone: try another one next time.
        self.target = context.random_node();
    }
}

/// The operation type of a state machine's workload.
pub type MachineOperation<M> = OperationOf<<M as StateMachine>::Workload>;
/// The output type of a state machine's workload.
pub type MachineOutput<M> = OutputOf<<M as StateMachine>::Workload>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientEffect;
    use crate::protocol::{Context, NodeConfig, NodeView, Role, TimerDelay};
    use crate::rng::SimRng;
    use crate::workload::counter::{self, Counters};
    use crate::workload::register::{Operation, Register};

    /// A protocol that only exists to name the standard client half's types.
    #[derive(Debug)]
    struct Standard;

    impl Protocol for Standard {
        type Workload = Register;
        type Message = ();
        type Request = Request<Operation>;
        type Response = Response<Option<i64>>;
        type Client = FollowLeader<Register>;
        type Timer = ();
        type Durable = ();
        type Update = ();
        type Options = ();
        const NAME: &'static str = "standard";

        fn start(_: &NodeConfig<'_, ()>, _: Option<&()>, _: &mut Context<Self>) -> Self {
            Standard
        }
        fn on_message(&mut self, _: &mut Context<Self>, _: NodeId, _: ()) {}
        fn on_timer(&mut self, _: &mut Context<Self>, _: ()) {}
        fn on_client_request(&mut self, _: &mut Context<Self>, _: ClientId, _: Self::Request) {}
        fn apply_update(_: &mut (), _: ()) {}
        fn view(&self) -> NodeView {
            NodeView {
                role: Role::Other,
                term: 0,
                commit_index: 0,
                leader_hint: None,
            }
        }
    }

    /// Calls `handler` on `half` with a fresh context and returns the effects it pushed.
    fn step(
        half: &mut FollowLeader<Register>,
        rng: &mut SimRng,
        request: Option<RequestId>,
        handler: impl FnOnce(&mut FollowLeader<Register>, &mut ClientContext<'_, Standard>),
    ) -> Vec<ClientEffect<Standard>> {
        let mut effects = Vec::new();
        let mut context =
            ClientContext::new(ClientId(4), 3, SimTime::ZERO, request, rng, &mut effects);
        handler(half, &mut context);
        effects
    }

    /// Like [`step`], with the client's monotonic clock reading `ms` milliseconds.
    fn step_at(
        half: &mut FollowLeader<Register>,
        rng: &mut SimRng,
        request: Option<RequestId>,
        ms: u64,
        handler: impl FnOnce(&mut FollowLeader<Register>, &mut ClientContext<'_, Standard>),
    ) -> Vec<ClientEffect<Standard>> {
        let mut effects = Vec::new();
        let now = SimTime::ZERO + SimDuration::from_millis(ms);
        let mut context = ClientContext::new(ClientId(4), 3, now, request, rng, &mut effects);
        handler(half, &mut context);
        effects
    }

    #[test]
    fn one_operation_follows_a_redirect_to_a_second_node() {
        let mut rng = SimRng::new(5);
        let config = ClientConfig {
            id: ClientId(4),
            node_count: 3,
            options: &(),
            bug: None,
            redirect_backoff: SimDuration::from_millis(10),
            retry_after: SimDuration::ZERO,
            failover_after: SimDuration::ZERO,
        };
        let mut effects = Vec::new();
        let mut half = {
            let mut context = ClientContext::<Standard>::new(
                ClientId(4),
                3,
                SimTime::ZERO,
                None,
                &mut rng,
                &mut effects,
            );
            <FollowLeader<Register> as ClientHalf<Standard>>::start(&config, &mut context)
        };
        half.target = NodeId(0);
        let id = RequestId(17);
        let read = Operation::Read { key: 1 };
        let sent = step(&mut half, &mut rng, Some(id), |half, context| {
            half.on_invoke(context, id, read.clone())
        });
        assert!(matches!(
            sent.as_slice(),
            [ClientEffect::Send { target: NodeId(0), request, delay }]
                if request.id == id && *delay == SimDuration::ZERO
        ));
        // n0 is not the leader and names n2.
        let redirect = Response {
            request: id,
            answer: Answer::Redirect(Some(NodeId(2))),
        };
        let retried = step(&mut half, &mut rng, Some(id), |half, context| {
            half.on_response(context, NodeId(0), redirect)
        });
        assert!(matches!(
            retried.as_slice(),
            [ClientEffect::Send { target: NodeId(2), request, delay }]
                if request.id == id && *delay == SimDuration::from_millis(10)
        ));
        // A late answer to an earlier request is ignored.
        let stale = Response {
            request: RequestId(3),
            answer: Answer::Ok(Some(0)),
        };
        let ignored = step(&mut half, &mut rng, Some(id), |half, context| {
            half.on_response(context, NodeId(1), stale)
        });
        assert!(ignored.is_empty());
        let answer = Response {
            request: id,
            answer: Answer::Ok(Some(9)),
        };
        let done = step(&mut half, &mut rng, Some(id), |half, context| {
            half.on_response(context, NodeId(2), answer)
        });
        assert!(matches!(
            done.as_slice(),
            [ClientEffect::Complete {
                completion: Completion::Ok(Some(9)),
                node: Some(NodeId(2))
            }]
        ));
        assert_eq!(
            half.target(),
            NodeId(2),
            "the next operation goes to the leader"
        );
    }

    /// A client half asking n1, retrying after `retry_after` and failing over after 500 ms.
    fn retrying_half(retry_after: SimDuration) -> FollowLeader<Register> {
        FollowLeader {
            target: NodeId(1),
            node_count: 3,
            redirect_backoff: SimDuration::from_millis(10),
            retry_after,
            failover_after: SimDuration::from_millis(500),
            asked_since: SimTime::ZERO,
            current: None,
        }
    }

    #[test]
    fn a_request_unanswered_in_time_or_refused_goes_again_with_its_id_to_the_next_node() {
        let mut rng = SimRng::new(2);
        let retry_after = SimDuration::from_millis(250);
        let mut half = retrying_half(retry_after);
        let id = RequestId(8);
        let sent = step(&mut half, &mut rng, Some(id), |half, context| {
            half.on_invoke(context, id, Operation::Write { key: 0, value: 1 })
        });
        assert!(matches!(
            sent.as_slice(),
            [
                ClientEffect::Send { target: NodeId(1), request, .. },
                ClientEffect::SetTimer { timer: FollowTimer::Retry, delay: TimerDelay::Fixed(d) },
            ] if request.id == id && *d == retry_after
        ));
        // No answer within retry_after: the same request goes again to n1, which has not had
        // failover_after yet; and the timer restarts.
        let again = step_at(&mut half, &mut rng, Some(id), 250, |half, context| {
            half.on_timer(context, FollowTimer::Retry)
        });
        assert!(matches!(
            again.as_slice(),
            [
                ClientEffect::Send { target: NodeId(1), request, delay },
                ClientEffect::SetTimer { timer: FollowTimer::Retry, .. },
            ] if request.id == id && *delay == SimDuration::ZERO
        ));
        // At 500 ms n1 has had its failover_after: the retry goes to n2.
        let retried = step_at(&mut half, &mut rng, Some(id), 500, |half, context| {
            half.on_timer(context, FollowTimer::Retry)
        });
        assert!(matches!(
            retried.as_slice(),
            [
                ClientEffect::Send { target: NodeId(2), request, delay },
                ClientEffect::SetTimer { timer: FollowTimer::Retry, .. },
            ] if request.id == id && *delay == SimDuration::ZERO
        ));
        // n2 is down: move on to n0 (wrapping), same id, after the back-off.
        let request = Request {
            id,
            client: ClientId(4),
            operation: Operation::Write { key: 0, value: 1 },
        };
        let moved = step(&mut half, &mut rng, Some(id), |half, context| {
            half.on_unreachable(context, NodeId(2), request.clone())
        });
        assert!(matches!(
            moved.as_slice(),
            [ClientEffect::Send { target: NodeId(0), request, delay }]
                if request.id == id && *delay == SimDuration::from_millis(10)
        ));
        // A refusal from a node the client already left is stale: nothing happens.
        let stale = step(&mut half, &mut rng, Some(id), |half, context| {
            half.on_unreachable(context, NodeId(1), request.clone())
        });
        assert!(stale.is_empty());
        // The answer completes the operation and stops the retry timer.
        let answer = Response {
            request: id,
            answer: Answer::Ok(None),
        };
        let done = step(&mut half, &mut rng, Some(id), |half, context| {
            half.on_response(context, NodeId(0), answer)
        });
        assert!(matches!(
            done.as_slice(),
            [
                ClientEffect::CancelTimer {
                    timer: FollowTimer::Retry
                },
                ClientEffect::Complete {
                    node: Some(NodeId(0)),
                    ..
                },
            ]
        ));
    }

    #[test]
    fn an_engine_context_keeps_the_timers_instead_of_listing_them() {
        // The engine's contexts keep a half's timers themselves: on_invoke's retry timer
        // lands in the table with its monotonic deadline (no SetTimer effect), a second set
        // replaces it, and the answer's cancel removes it (no CancelTimer effect).
        let mut rng = SimRng::new(2);
        let retry_after = SimDuration::from_millis(250);
        let mut half = retrying_half(retry_after);
        let mut timers = crate::client::RunningTimers::new();
        let id = RequestId(3);
        type Timers = crate::client::RunningTimers<FollowTimer>;
        type Handler<'h> =
            &'h dyn Fn(&mut FollowLeader<Register>, &mut ClientContext<'_, Standard>);
        fn in_engine(
            (half, rng, timers): (&mut FollowLeader<Register>, &mut SimRng, &mut Timers),
            ms: u64,
            handler: Handler<'_>,
        ) -> Vec<ClientEffect<Standard>> {
            let mut effects = Vec::new();
            let now = SimTime::ZERO + SimDuration::from_millis(ms);
            let request = Some(RequestId(3));
            let mut context = ClientContext::new(ClientId(4), 3, now, request, rng, &mut effects)
                .with_timers(timers);
            handler(half, &mut context);
            effects
        }
        let sent = in_engine((&mut half, &mut rng, &mut timers), 0, &|half, context| {
            half.on_invoke(context, id, Operation::Read { key: 0 })
        });
        assert!(matches!(
            sent.as_slice(),
            [ClientEffect::Send {
                target: NodeId(1),
                ..
            }]
        ));
        assert_eq!(
            timers.running,
            [(FollowTimer::Retry, SimTime::ZERO + retry_after)]
        );
        assert!(timers.touched && timers.set);
        (timers.touched, timers.set) = (false, false);
        let again = in_engine((&mut half, &mut rng, &mut timers), 250, &|half, context| {
            half.on_timer(context, FollowTimer::Retry)
        });
        assert!(matches!(again.as_slice(), [ClientEffect::Send { .. }]));
        let later = SimTime::ZERO + SimDuration::from_millis(500);
        assert_eq!(timers.running, [(FollowTimer::Retry, later)]);
        assert_eq!(timers.earliest(), Some(later));
        (timers.touched, timers.set) = (false, false);
        let answer = Response {
            request: id,
            answer: Answer::Ok(None),
        };
        let done = in_engine((&mut half, &mut rng, &mut timers), 260, &|half, context| {
            half.on_response(context, NodeId(1), answer.clone())
        });
        assert!(matches!(done.as_slice(), [ClientEffect::Complete { .. }]));
        assert!(timers.running.is_empty() && timers.touched && !timers.set);
        assert_eq!(timers.earliest(), None);
    }

    #[test]
    fn answers_map_onto_completion_classes() {
        let mut rng = SimRng::new(1);
        let cases = [
            (
                Answer::Fail("no".into()),
                crate::completion::CompletionClass::Fail,
            ),
            (
                Answer::Unavailable("no leader".into()),
                crate::completion::CompletionClass::Refused,
            ),
            (
                Answer::Indeterminate("lost".into()),
                crate::completion::CompletionClass::Unknown,
            ),
        ];
        for (answer, class) in cases {
            let mut half = FollowLeader::<Register> {
                target: NodeId(1),
                node_count: 3,
                redirect_backoff: SimDuration::ZERO,
                retry_after: SimDuration::ZERO,
                failover_after: SimDuration::ZERO,
                asked_since: SimTime::ZERO,
                current: None,
            };
            let id = RequestId(1);
            step(&mut half, &mut rng, Some(id), |half, context| {
                half.on_invoke(context, id, Operation::Write { key: 0, value: 1 })
            });
            let response = Response {
                request: id,
                answer,
            };
            let effects = step(&mut half, &mut rng, Some(id), |half, context| {
                half.on_response(context, NodeId(1), response)
            });
            match effects.as_slice() {
                [ClientEffect::Complete { completion, .. }] => {
                    assert_eq!(completion.class(), class)
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn sessions_execute_a_request_once_and_answer_its_duplicates() {
        let mut sessions = Sessions::<Counters>::new();
        let add = |id| Request {
            id: RequestId(id),
            client: ClientId(0),
            operation: counter::Operation::Add { key: 0, amount: 2 },
        };
        assert_eq!(sessions.apply(&add(5)), Answer::Ok(None));
        assert_eq!(sessions.apply(&add(5)), Answer::Ok(None));
        assert_eq!(
            sessions.machine().get(0),
            2,
            "the duplicate was not executed"
        );
        assert!(matches!(sessions.apply(&add(4)), Answer::Indeterminate(_)));
        assert_eq!(
            sessions.cached_answer(ClientId(0), RequestId(5)),
            Some(&Answer::Ok(None))
        );
        sessions.apply(&add(6));
        assert_eq!(sessions.machine().get(0), 4);
    }

    #[test]
    fn sessions_of_large_client_ids_and_keys_work_as_the_small_ones() {
        // Protocols make up client ids for their own requests (a ZooKeeper leader's session
        // expiries use ids far above the workload's clients), and keys may reach a million.
        let mut sessions = Sessions::<Counters>::new();
        let add = |client, id, key| Request {
            id: RequestId(id),
            client: ClientId(client),
            operation: counter::Operation::Add { key, amount: 3 },
        };
        for (client, key) in [(u32::MAX - 1, 999_999), (1 << 20, 64), (3, 2)] {
            assert_eq!(sessions.apply(&add(client, 7, key)), Answer::Ok(None));
            assert_eq!(sessions.apply(&add(client, 7, key)), Answer::Ok(None));
            assert_eq!(sessions.machine().get(key), 3, "client {client}");
            assert!(matches!(
                sessions.apply(&add(client, 6, key)),
                Answer::Indeterminate(_)
            ));
        }
        let mut other = Sessions::<Counters>::new();
        for (client, key) in [(3, 2), (1 << 20, 64), (u32::MAX - 1, 999_999)] {
            other.apply(&add(client, 7, key));
        }
        assert_eq!(sessions, other, "the same sessions, added in another order");
        assert_eq!(format!("{sessions:?}"), format!("{other:?}"));
        assert!(
            format!("{sessions:?}").contains("999999: 3"),
            "{sessions:?}"
        );
    }
}
