//! Applying faults: the nemesis's side of the loop.
//!
//! A fault is an event like any other. Applying one resolves the nodes it names (`"leader"` is
//! resolved now, against the nodes' own views), changes the network, a node or a clock, and
//! opens a fault window for the reports; a fault with a duration schedules its own undoing.
//! Healing, at the start of the liveness phase, undoes everything at once.

use super::{Applied, Event, World};
use crate::invariants::Invariants;
use crate::network::{shapes, FaultRates};
use crate::outcome::{FaultKind, FaultWindow};
use crate::protocol::{MembershipChange, NodeId, Protocol, Role};
use crate::rng::{Purpose, SimRng};
use crate::scenario::{Fault, NodeRef, Partition, Target};
use crate::time::SimTime;
use std::hash::{Hash, Hasher};

/// What the nemesis keeps while the run goes on.
#[derive(Default)]
pub(super) struct FaultState {
    /// Every fault window so far, in order of start.
    pub(super) windows: Vec<FaultWindow>,
    open_windows: Vec<usize>,
    /// The fault whose partition is in force, so that only its end undoes it.
    partition_owner: Option<usize>,
    /// When the liveness phase began.
    pub(super) heal_time: Option<SimTime>,
}

impl<P: Protocol, I: Invariants<P>> World<'_, '_, P, I> {
    /// The stream of the fault being applied: one per fault kind and target, keyed by the
    /// fault without its times, so that dropping, moving or shortening one fault leaves every
    /// other fault's choices as they were.
    fn fault_rng(&mut self) -> &mut SimRng {
        let key = self.fault_key;
        let seed = self.seed;
        self.fault_rngs
            .entry(key)
            .or_insert_with(|| SimRng::keyed(seed, Purpose::Fault, &[key]))
    }

    fn resolve(&mut self, node: NodeRef) -> NodeId {
        match node {
            NodeRef::Id(n) => NodeId(n),
            NodeRef::Leader => {
                let leader = self
                    .nodes
                    .iter()
                    .enumerate()
                    .filter_map(|(i, n)| n.as_ref().map(|n| (i, n.view())))
                    .filter(|(_, view)| view.role == Role::Leader)
                    .max_by_key(|(i, view)| (view.term, std::cmp::Reverse(*i)));
                match leader {
                    Some((i, _)) => NodeId(i as u32),
                    None => {
                        let count = u64::from(self.node_count);
                        NodeId(self.fault_rng().below(count) as u32)
                    }
                }
            }
            NodeRef::Random => {
                let count = u64::from(self.node_count);
                NodeId(self.fault_rng().below(count) as u32)
            }
        }
    }

    /// What the protocol is doing where a fault on `nodes` hits: that node's activity, or for
    /// a fault on no single node, the leader's (the one in the highest term).
    fn activity_at(&self, nodes: &[NodeId]) -> &'static str {
        if let [node] = nodes {
            return self.nodes[node.index()]
                .as_ref()
                .map_or("down", |state| state.activity());
        }
        self.nodes
            .iter()
            .flatten()
            .filter(|state| state.view().role == Role::Leader)
            .max_by_key(|state| state.view().term)
            .map_or("no leader", |state| state.activity())
    }

    fn open_window(&mut self, kind: FaultKind, label: String, nodes: Vec<NodeId>) -> usize {
        self.trace_line(format_args!("nemesis {label}"));
        let activity = self.activity_at(&nodes).to_string();
        let state = &mut self.fault_state;
        state.windows.push(FaultWindow {
            kind,
            label,
            nodes,
            start: self.now,
            end: None,
            activity: Some(activity),
        });
        let window = state.windows.len() - 1;
        state.open_windows.push(window);
        window
    }

    fn close_window(&mut self, window: usize) {
        let state = &mut self.fault_state;
        if state.windows[window].end.is_none() {
            state.windows[window].end = Some(self.now);
        }
        state.open_windows.retain(|w| *w != window);
    }

    /// Closes the open windows of `kind` on client `client` (labelled `… c{client}`).
    fn close_client_window(&mut self, kind: FaultKind, client: u32) {
        let suffix = format!(" c{client}");
        let state = &self.fault_state;
        let matching: Vec<usize> = (state.open_windows.iter().copied())
            .filter(|w| {
                let window = &state.windows[*w];
                window.kind == kind && window.nodes.is_empty() && window.label.ends_with(&suffix)
            })
            .collect();
        for window in matching {
            self.close_window(window);
        }
    }

    fn close_windows_of(&mut self, kind: FaultKind, node: Option<NodeId>) {
        let state = &self.fault_state;
        let matching: Vec<usize> = state
            .open_windows
            .iter()
            .copied()
            .filter(|w| {
                let window = &state.windows[*w];
                window.kind == kind && node.is_none_or(|n| window.nodes == [n])
            })
            .collect();
        for window in matching {
            self.close_window(window);
        }
    }

    pub(super) fn apply_fault(&mut self, index: usize) -> Applied {
        let faults = self.faults;
        let spec = &faults[index];
        let mut nodes = Vec::new();
        self.fold((self.now.0, 10u8, index));
        self.fault_key = {
            let mut hasher = crate::trace::FixedHasher::default();
            format!("{:?}", spec.fault).hash(&mut hasher);
            hasher.finish()
        };
        let window = match &spec.fault {
            Fault::Partition(partition) => {
                let (groups, label) = self.partition_groups(partition);
                self.network.partition(&groups);
                self.close_windows_of(FaultKind::Partition, None);
                self.fault_state.partition_owner = Some(index);
                if let Some(isolated) = groups.first().filter(|g| g.len() == 1) {
                    nodes.push(isolated[0]);
                }
                let affected = nodes.clone();
                Some(self.open_window(FaultKind::Partition, label, affected))
            }
            Fault::Cut { from, to } => {
                let from = self.resolve(*from);
                let to = self.resolve(*to);
                if from == to {
                    // "leader" and a fixed node can resolve to the same node: nothing to cut.
                    self.trace_line(format_args!("nemesis cut {from}->{to}: same node, skipped"));
                    None
                } else {
                    self.network.cut(from, to);
                    nodes = vec![from, to];
                    Some(self.open_window(
                        FaultKind::Partition,
                        format!("cut {from}->{to}"),
                        vec![from, to],
                    ))
                }
            }
            Fault::Heal => {
                self.network.heal();
                self.fault_state.partition_owner = None;
                self.trace_line(format_args!("nemesis heal network"));
                self.close_windows_of(FaultKind::Partition, None);
                None
            }
            Fault::Crash(node) => {
                let node = self.resolve(*node);
                nodes.push(node);
                if self.is_up(node) {
                    let window =
                        self.open_window(FaultKind::Crash, format!("crash {node}"), vec![node]);
                    self.crash_node(node);
                    Some(window)
                } else {
                    None
                }
            }
            Fault::Restart(node) => {
                let node = self.resolve(*node);
                nodes.push(node);
                self.restart(node);
                None
            }
            Fault::Pause(Target::Node(node)) => {
                let node = self.resolve(*node);
                nodes.push(node);
                if self.is_up(node) && !self.runtime[node.index()].paused {
                    self.runtime[node.index()].paused = true;
                    Some(self.open_window(FaultKind::Pause, format!("pause {node}"), vec![node]))
                } else {
                    None
                }
            }
            Fault::Pause(Target::Client(client)) => self
                .pause_client(*client)
                .then(|| self.open_window(FaultKind::Pause, format!("pause c{client}"), vec![])),
            Fault::Resume(Target::Node(node)) => {
                let node = self.resolve(*node);
                nodes.push(node);
                self.resume(node);
                None
            }
            Fault::Resume(Target::Client(client)) => {
                if self.resume_client(*client) {
                    self.close_client_window(FaultKind::Pause, *client);
                }
                None
            }
            Fault::ClockJump { target, by } => {
                // Only the wall clock steps: timers run on the monotonic clock and stay put.
                let label = match *target {
                    Target::Node(node) => {
                        let node = self.resolve(node);
                        nodes.push(node);
                        self.runtime[node.index()].clock.jump_wall(self.now, by.0);
                        format!("clock {node} {}", by.rounded())
                    }
                    Target::Client(client) => {
                        self.jump_client_clock(client, by.0);
                        format!("clock c{client} {}", by.rounded())
                    }
                };
                let affected = nodes.clone();
                let window = self.open_window(FaultKind::Clock, label, affected);
                if spec.duration.is_none() {
                    self.close_window(window);
                }
                Some(window)
            }
            Fault::ClockDrift { target, drift_ppm } => {
                let label = match *target {
                    Target::Node(node) => {
                        let node = self.resolve(node);
                        nodes.push(node);
                        self.runtime[node.index()]
                            .clock
                            .set_drift(self.now, *drift_ppm);
                        self.reschedule_timers(node);
                        format!("drift {node} {drift_ppm}ppm")
                    }
                    Target::Client(client) => {
                        self.set_client_drift(client, Some(*drift_ppm));
                        format!("drift c{client} {drift_ppm}ppm")
                    }
                };
                let affected = nodes.clone();
                Some(self.open_window(FaultKind::Clock, label, affected))
            }
            Fault::AddServer(node) | Fault::RemoveServer(node) => {
                let node = self.resolve(*node);
                nodes.push(node);
                let change = (spec.fault.membership_change(node)).expect("a membership fault");
                self.request_membership_change(change);
                let window = self.open_window(FaultKind::Membership, change.to_string(), vec![]);
                if spec.duration.is_none() {
                    self.close_window(window);
                }
                Some(window)
            }
            Fault::Network {
                loss,
                duplicate,
                reorder,
            } => {
                let rates = FaultRates {
                    loss: *loss,
                    duplicate: *duplicate,
                    reorder: *reorder,
                };
                self.network.set_rates(rates);
                self.close_windows_of(FaultKind::Network, None);
                let label = format!(
                    "network loss {} dup {} reorder {}",
                    rates.loss, rates.duplicate, rates.reorder
                );
                Some(self.open_window(FaultKind::Network, label, Vec::new()))
            }
        };
        let touched = match nodes.as_slice() {
            [node] => Applied::Node(*node),
            _ => Applied::Other,
        };
        if let (Some(duration), Some(window)) = (spec.duration, window) {
            self.push(
                self.now + duration,
                Event::FaultEnd {
                    index,
                    nodes,
                    window,
                },
            );
        }
        touched
    }

    fn partition_groups(&mut self, partition: &Partition) -> (Vec<Vec<NodeId>>, String) {
        let n = self.node_count;
        match partition {
            Partition::Isolate(node) => {
                let node = self.resolve(*node);
                (shapes::isolate(n, node), format!("isolate {node}"))
            }
            Partition::Halves => {
                let groups = shapes::halves(n, self.fault_rng());
                let label = format!("halves {}", describe_groups(&groups));
                (groups, label)
            }
            Partition::MajoritiesRing => {
                (shapes::majorities_ring(n), "majorities ring".to_string())
            }
            Partition::Bridge => (shapes::bridge(n), "bridge".to_string()),
            Partition::Groups(groups) => {
                let groups: Vec<Vec<NodeId>> = groups
                    .iter()
                    .map(|g| g.iter().map(|n| NodeId(*n)).collect())
                    .collect();
                let label = format!("partition {}", describe_groups(&groups));
                (groups, label)
            }
        }
    }

    fn restart(&mut self, node: NodeId) {
        if !self.is_up(node) {
            self.close_windows_of(FaultKind::Crash, Some(node));
            self.trace_line(format_args!("nemesis restart {node}"));
            self.start_node(node);
        }
    }

    fn resume(&mut self, node: NodeId) {
        if !self.runtime[node.index()].paused {
            return;
        }
        self.runtime[node.index()].paused = false;
        self.close_windows_of(FaultKind::Pause, Some(node));
        self.trace_line(format_args!("resume {node}"));
        // Each waiting event becomes an event of its own, now, in arrival order, so invariants
        // run after each as after any other event.
        let incarnation = self.runtime[node.index()].incarnation;
        let inbox = std::mem::take(&mut self.runtime[node.index()].inbox);
        for event in inbox {
            self.push(
                self.now,
                Event::FromInbox {
                    node,
                    incarnation,
                    event: Box::new(event),
                },
            );
        }
    }

    pub(super) fn apply_fault_end(
        &mut self,
        index: usize,
        nodes: &[NodeId],
        window: usize,
    ) -> Applied {
        let faults = self.faults;
        let spec = &faults[index];
        self.fold((self.now.0, 11u8, index));
        match &spec.fault {
            Fault::Partition(_) => {
                if self.fault_state.partition_owner == Some(index) {
                    self.network.heal();
                    self.fault_state.partition_owner = None;
                    self.trace_line(format_args!("nemesis heal network"));
                }
            }
            Fault::Cut { .. } => {
                self.network.restore(nodes[0], nodes[1]);
                self.trace_line(format_args!("nemesis restore {}->{}", nodes[0], nodes[1]));
            }
            Fault::Crash(_) => self.restart(nodes[0]),
            Fault::Pause(Target::Node(_)) => self.resume(nodes[0]),
            Fault::Pause(Target::Client(client)) => {
                self.resume_client(*client);
            }
            Fault::ClockJump {
                target: Target::Node(_),
                by,
            } => {
                self.runtime[nodes[0].index()]
                    .clock
                    .jump_wall(self.now, -by.0);
                self.trace_line(format_args!("nemesis clock {} back", nodes[0]));
            }
            Fault::ClockJump {
                target: Target::Client(client),
                by,
            } => {
                self.jump_client_clock(*client, -by.0);
                self.trace_line(format_args!("nemesis clock c{client} back"));
            }
            Fault::ClockDrift {
                target: Target::Node(_),
                ..
            } => {
                let base = self.runtime[nodes[0].index()].base_drift_ppm;
                self.runtime[nodes[0].index()]
                    .clock
                    .set_drift(self.now, base);
                self.reschedule_timers(nodes[0]);
                self.trace_line(format_args!("nemesis drift {} back to {base}ppm", nodes[0]));
            }
            Fault::ClockDrift {
                target: Target::Client(client),
                ..
            } => {
                self.set_client_drift(*client, None);
                self.trace_line(format_args!("nemesis drift c{client} back"));
            }
            Fault::Network { .. } => {
                self.network.set_rates(FaultRates::default());
                self.trace_line(format_args!("nemesis network rates back to normal"));
            }
            Fault::AddServer(_) | Fault::RemoveServer(_) => {
                let change = (spec.fault.membership_change(nodes[0])).expect("a membership fault");
                self.trace_line(format_args!("nemesis {}", change.inverse()));
                self.request_membership_change(change.inverse());
            }
            Fault::Heal | Fault::Restart(_) | Fault::Resume(_) => {
                unreachable!("instant faults have no end")
            }
        }
        self.close_window(window);
        match (&spec.fault, nodes) {
            (Fault::Crash(_) | Fault::Pause(Target::Node(_)), [node]) => Applied::Node(*node),
            _ => Applied::Other,
        }
    }

    pub(super) fn apply_heal(&mut self) -> Applied {
        self.fold((self.now.0, 12u8));
        self.trace_line(format_args!("nemesis heal all: liveness phase begins"));
        self.network.heal();
        self.network.set_rates(FaultRates::default());
        self.fault_state.partition_owner = None;
        for node in (0..self.node_count).map(NodeId) {
            self.resume(node);
            self.restart(node);
            let base = self.runtime[node.index()].base_drift_ppm;
            if self.runtime[node.index()].clock.drift_ppm() != base {
                self.runtime[node.index()].clock.set_drift(self.now, base);
                self.reschedule_timers(node);
            }
        }
        self.heal_clients();
        for window in self.fault_state.open_windows.clone() {
            self.close_window(window);
        }
        self.fault_state.heal_time = Some(self.now);
        Applied::Other
    }
}

impl<P: Protocol, I: Invariants<P>> World<'_, '_, P, I> {
    /// Hands `change` to every live node, each in an event of its own at this instant, after
    /// the events already due now (a node down now never hears of it; a paused one when it
    /// resumes).
    fn request_membership_change(&mut self, change: MembershipChange) {
        assert!(
            P::MEMBERSHIP_CHANGES,
            "detsim bug: {change} reached {}, which has no membership changes",
            P::NAME
        );
        for node in (0..self.node_count).map(NodeId) {
            if self.is_up(node) {
                let incarnation = self.runtime[node.index()].incarnation;
                self.push(
                    self.now,
                    Event::Membership {
                        node,
                        incarnation,
                        change,
                    },
                );
            }
        }
    }

    /// A membership change reaches `node`: its handler runs (or waits while it is paused).
    pub(super) fn apply_membership(
        &mut self,
        node: NodeId,
        incarnation: u32,
        change: MembershipChange,
    ) -> Applied {
        if self.runtime[node.index()].incarnation != incarnation || !self.is_up(node) {
            return Applied::Skipped;
        }
        let runtime = &mut self.runtime[node.index()];
        if runtime.paused {
            runtime.inbox.push(Event::Membership {
                node,
                incarnation,
                change,
            });
            return Applied::Skipped;
        }
        self.fold((self.now.0, 16u8, node.0, &change));
        self.trace_line(format_args!("membership {node} {change}"));
        self.call(node, |state, context| {
            state.on_membership_change(context, change)
        });
        Applied::Node(node)
    }
}

fn describe_groups(groups: &[Vec<NodeId>]) -> String {
    groups
        .iter()
        .map(|g| {
            let names: Vec<String> = g.iter().map(|n| n.to_string()).collect();
            format!("[{}]", names.join(" "))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl<P: Protocol, I: Invariants<P>> World<'_, '_, P, I> {
    /// `node` marked the moment `name`: a fault waiting for it (armed, from this node if it
    /// says so, at this occurrence) applies at this same instant, after the events already due
    /// now — so before a write pushed by the handler is durable (fsync takes time) and before
    /// the messages held behind that write leave.
    pub(super) fn on_moment(&mut self, node: NodeId, name: &'static str) {
        for index in 0..self.faults.len() {
            let Some(trigger) = &self.faults[index].trigger else {
                continue;
            };
            let armed = self.now >= SimTime::ZERO + self.faults[index].at;
            if trigger.moment != name || !armed || trigger.node.is_some_and(|n| n != node.0) {
                continue;
            }
            self.moments_seen[index] += 1;
            if self.moments_seen[index] == trigger.occurrence {
                self.trace_line(format_args!("moment {node} {name}: triggers fault {index}"));
                self.push(self.now, Event::Fault { index });
            }
        }
    }
}
