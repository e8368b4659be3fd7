//! Fault actions: one enum variant per action, with exactly the fields it needs.
//!
//! A scenario's `[[faults]]` entry is written flat (`action = "partition"`, `shape = "isolate"`,
//! `node = 0`, `for = "2s"`); it is parsed once into a [`FaultSpec`] whose [`Fault`] cannot hold
//! a field its action does not use, so the engine applies faults without unwrapping options.
//! The flat form ([`FaultEntry`]) exists only at the file's edge: reading, and writing expanded
//! schedules and shrunk scenarios back out.

use crate::protocol::MembershipChange;
use crate::rng::Ratio;
use crate::scenario::SignedDuration;
use crate::time::SimDuration;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A node named by a fault: an index, `"leader"` (the live node that believes it leads in the
/// highest term, at the time the fault applies), or `"random"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeRef {
    /// A fixed node.
    Id(u32),
    /// The current leader (falls back to a random node when there is none).
    Leader,
    /// A node drawn from the nemesis stream.
    Random,
}

impl fmt::Display for NodeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeRef::Id(n) => write!(f, "{n}"),
            NodeRef::Leader => f.write_str("leader"),
            NodeRef::Random => f.write_str("random"),
        }
    }
}

impl Serialize for NodeRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            NodeRef::Id(n) => serializer.serialize_u32(*n),
            NodeRef::Leader => serializer.serialize_str("leader"),
            NodeRef::Random => serializer.serialize_str("random"),
        }
    }
}

impl<'de> Deserialize<'de> for NodeRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeRefVisitor { names: true })
    }
}

/// A node number (for `[clocks]` and `[[network.links]]`, where no name is allowed), saying what
/// is expected for a wrong value as a fault's node does.
pub(crate) fn node_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    match deserializer.deserialize_any(NodeRefVisitor { names: false })? {
        NodeRef::Id(n) => Ok(n),
        _ => unreachable!("names are refused when not allowed"),
    }
}

/// Reads a node reference, saying what is expected for every wrong kind of value (an untagged
/// enum would only say that nothing matched). `names`: whether `"leader"` and `"random"` are
/// allowed.
struct NodeRefVisitor {
    names: bool,
}

impl NodeRefVisitor {
    fn expected(&self) -> &'static str {
        if self.names {
            "expected a node number (0 to 63), \"leader\" or \"random\""
        } else {
            "expected a node number (0 to 63)"
        }
    }
    fn refuse<E: serde::de::Error>(&self, value: impl fmt::Display) -> E {
        E::custom(format!("node {value}: {}", self.expected()))
    }
}

impl serde::de::Visitor<'_> for NodeRefVisitor {
    type Value = NodeRef;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expected())
    }
    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<NodeRef, E> {
        u32::try_from(n)
            .map(NodeRef::Id)
            .map_err(|_| self.refuse(n))
    }
    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<NodeRef, E> {
        match u64::try_from(n) {
            Ok(n) => self.visit_u64(n),
            Err(_) => Err(self.refuse(n)),
        }
    }
    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<NodeRef, E> {
        Err(self.refuse(n))
    }
    fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<NodeRef, E> {
        Err(self.refuse(b))
    }
    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<NodeRef, E> {
        match name {
            "leader" if self.names => Ok(NodeRef::Leader),
            "random" if self.names => Ok(NodeRef::Random),
            _ => Err(self.refuse(format!("{name:?}"))),
        }
    }
}

/// The action names of `[[faults]]` entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultAction {
    /// Replace connectivity with a partition `shape`.
    Partition,
    /// Cut the one-way link `from → to`.
    Cut,
    /// Restore full connectivity.
    Heal,
    /// Crash `node`.
    Crash,
    /// Restart `node` from its durable state.
    Restart,
    /// Pause `node`: its timers and inbox wait, its clock runs on.
    Pause,
    /// Resume a paused `node`.
    Resume,
    /// Move `node`'s clock by `by` (may be negative).
    ClockJump,
    /// Set `node`'s clock drift to `drift_ppm`.
    ClockDrift,
    /// Set network-wide extra `loss`, `duplicate`, `reorder` rates.
    Network,
    /// Ask the cluster to add `node` to its configuration (protocols with membership changes).
    AddServer,
    /// Ask the cluster to remove `node` from its configuration.
    RemoveServer,
}

/// The process a pause or clock fault targets: a node, or a client process (a lock holder's
/// GC pause, a lease computed on a client's clock).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A node (`node = …`).
    Node(NodeRef),
    /// Client process `c` (`client = c`), `0..clients`.
    Client(u32),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Node(node) => write!(f, "node {node}"),
            Target::Client(client) => write!(f, "client {client}"),
        }
    }
}

/// Partition shape names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// Cut `node` off from everyone (both ways).
    Isolate,
    /// A random minority and majority.
    Halves,
    /// Overlapping majorities on a ring.
    MajoritiesRing,
    /// Two halves joined by one bridge node.
    Bridge,
    /// Explicit `groups`.
    Groups,
}

/// A partition: which nodes can still talk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Partition {
    /// Cut one node off from everyone (both ways).
    Isolate(NodeRef),
    /// A random minority and majority.
    Halves,
    /// Overlapping majorities on a ring.
    MajoritiesRing,
    /// Two halves joined by one bridge node.
    Bridge,
    /// Explicit groups; nodes in no group are alone.
    Groups(Vec<Vec<u32>>),
}

/// What a fault does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Replace connectivity with a partition.
    Partition(Partition),
    /// Cut the one-way link `from → to`.
    Cut {
        /// The sender.
        from: NodeRef,
        /// The receiver.
        to: NodeRef,
    },
    /// Restore full connectivity.
    Heal,
    /// Crash a node: volatile state is lost, the disk kept.
    Crash(NodeRef),
    /// Restart a crashed node from its disk.
    Restart(NodeRef),
    /// Pause a node or client: its timers and inbox wait, its clocks run on.
    Pause(Target),
    /// Resume a paused node or client.
    Resume(Target),
    /// Step a node's or client's wall clock (its monotonic clock and timers are untouched).
    ClockJump {
        /// The node or client.
        target: Target,
        /// By how much (negative: back).
        by: SignedDuration,
    },
    /// Set the drift of a node's or client's oscillator (both its clocks).
    ClockDrift {
        /// The node or client.
        target: Target,
        /// The new drift, parts per million.
        drift_ppm: i64,
    },
    /// Raise network-wide loss, duplication and reordering.
    Network {
        /// Extra loss.
        loss: Ratio,
        /// Extra duplication.
        duplicate: Ratio,
        /// Extra reordering.
        reorder: Ratio,
    },
    /// Ask the cluster to add a server to its configuration; with a duration, to remove it
    /// again when it ends.
    AddServer(NodeRef),
    /// Ask the cluster to remove a server from its configuration; with a duration, to add it
    /// back when it ends.
    RemoveServer(NodeRef),
}

impl Fault {
    /// The action name a scenario writes.
    pub fn action(&self) -> FaultAction {
        match self {
            Fault::Partition(_) => FaultAction::Partition,
            Fault::Cut { .. } => FaultAction::Cut,
            Fault::Heal => FaultAction::Heal,
            Fault::Crash(_) => FaultAction::Crash,
            Fault::Restart(_) => FaultAction::Restart,
            Fault::Pause(_) => FaultAction::Pause,
            Fault::Resume(_) => FaultAction::Resume,
            Fault::ClockJump { .. } => FaultAction::ClockJump,
            Fault::ClockDrift { .. } => FaultAction::ClockDrift,
            Fault::Network { .. } => FaultAction::Network,
            Fault::AddServer(_) => FaultAction::AddServer,
            Fault::RemoveServer(_) => FaultAction::RemoveServer,
        }
    }

    /// For a membership fault, the change it asks for once its node is resolved to `node`.
    pub fn membership_change(&self, node: crate::protocol::NodeId) -> Option<MembershipChange> {
        match self {
            Fault::AddServer(_) => Some(MembershipChange::Add(node)),
            Fault::RemoveServer(_) => Some(MembershipChange::Remove(node)),
            _ => None,
        }
    }

    /// Whether the fault can last (`for = …`): instant actions (heal, restart, resume) cannot.
    pub fn can_last(&self) -> bool {
        !matches!(self, Fault::Heal | Fault::Restart(_) | Fault::Resume(_))
    }

    /// The fixed node ids the fault names (for validation against the cluster size).
    pub fn named_nodes(&self) -> Vec<(&'static str, u32)> {
        let mut named = Vec::new();
        let mut add = |field: &'static str, node: &NodeRef| {
            if let NodeRef::Id(n) = node {
                named.push((field, *n));
            }
        };
        match self {
            Fault::Partition(Partition::Isolate(node))
            | Fault::Crash(node)
            | Fault::Restart(node)
            | Fault::AddServer(node)
            | Fault::RemoveServer(node)
            | Fault::Pause(Target::Node(node))
            | Fault::Resume(Target::Node(node))
            | Fault::ClockJump {
                target: Target::Node(node),
                ..
            }
            | Fault::ClockDrift {
                target: Target::Node(node),
                ..
            } => add("node", node),
            Fault::Cut { from, to } => {
                add("from", from);
                add("to", to);
            }
            Fault::Partition(Partition::Groups(groups)) => {
                for node in groups.iter().flatten() {
                    named.push(("groups", *node));
                }
            }
            _ => {}
        }
        named
    }

    /// The process a pause or clock fault targets, if it is one.
    pub fn target(&self) -> Option<Target> {
        match self {
            Fault::Pause(target)
            | Fault::Resume(target)
            | Fault::ClockJump { target, .. }
            | Fault::ClockDrift { target, .. } => Some(*target),
            _ => None,
        }
    }
}

/// One scheduled fault: when, what, and for how long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultSpec {
    /// When it applies (true time from the start); for a fault with a `trigger`, from when the
    /// trigger is armed.
    pub at: SimDuration,
    /// Apply it at a protocol moment instead of at `at`.
    pub trigger: Option<Trigger>,
    /// What it does.
    pub fault: Fault,
    /// How long it lasts; the fault is undone after this long (heal, restart, resume, jump
    /// back, drift back, rates back). `None`: until something else undoes it.
    pub duration: Option<SimDuration>,
}

/// A fault applied when a protocol marks a moment (`on = "…"`), not at a time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trigger {
    /// The moment, one of the protocol's `MOMENTS`.
    pub moment: String,
    /// Only moments marked by this node count (`on_node`); `None`: any node's.
    pub node: Option<u32>,
    /// The fault applies at this occurrence of the moment, counted from `at` (1: the first).
    pub occurrence: u32,
}

impl FaultSpec {
    /// `fault` at `at`, lasting until undone.
    pub fn new(at: SimDuration, fault: Fault) -> FaultSpec {
        FaultSpec {
            at,
            trigger: None,
            fault,
            duration: None,
        }
    }

    /// The same fault lasting `duration`.
    pub fn lasting(mut self, duration: SimDuration) -> FaultSpec {
        self.duration = Some(duration);
        self
    }
}

/// The flat form of a `[[faults]]` entry, as a scenario file writes it. Which fields apply
/// depends on `action`; [`FaultSpec`]'s conversion rejects the others.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultEntry {
    /// When it applies (with `on`: from when the trigger is armed; default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<SimDuration>,
    /// The protocol moment that triggers it, instead of `at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<String>,
    /// With `on`: only this node's moments count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_node: Option<u32>,
    /// With `on`: the occurrence of the moment that triggers it (default 1, the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurrence: Option<u32>,
    /// What it does.
    pub action: Option<FaultAction>,
    /// How long it lasts.
    #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<SimDuration>,
    /// The node, for crash/restart/pause/resume/clock faults and `isolate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeRef>,
    /// The client process, for pause/resume/clock faults aimed at a client instead of a node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<u32>,
    /// The partition shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<Shape>,
    /// Groups for `shape = "groups"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<Vec<u32>>>,
    /// Sender, for `cut`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<NodeRef>,
    /// Receiver, for `cut`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<NodeRef>,
    /// Clock jump amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<SignedDuration>,
    /// Clock drift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_ppm: Option<i64>,
    /// Extra loss for `network`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<Ratio>,
    /// Extra duplication for `network`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<Ratio>,
    /// Extra reordering for `network`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reorder: Option<Ratio>,
}

impl TryFrom<FaultEntry> for FaultSpec {
    type Error = String;

    fn try_from(entry: FaultEntry) -> Result<FaultSpec, String> {
        use FaultAction::*;
        let action = entry.action.ok_or("action: missing")?;
        // Pause, resume and clock faults take a node or a client: with `client`, it stands where
        // `node` would.
        let takes_client = matches!(action, Pause | Resume | ClockJump | ClockDrift);
        if takes_client && entry.node.is_some() && entry.client.is_some() {
            return Err("client: give node or client, not both".to_string());
        }
        let on_client = takes_client && entry.client.is_some();
        let present: [(&str, bool); 12] = [
            ("for", entry.duration.is_some()),
            ("node", entry.node.is_some() || on_client),
            ("client", entry.client.is_some() && !on_client),
            ("shape", entry.shape.is_some()),
            ("groups", entry.groups.is_some()),
            ("from", entry.from.is_some()),
            ("to", entry.to.is_some()),
            ("by", entry.by.is_some()),
            ("drift_ppm", entry.drift_ppm.is_some()),
            ("loss", entry.loss.is_some()),
            ("duplicate", entry.duplicate.is_some()),
            ("reorder", entry.reorder.is_some()),
        ];
        let (required, optional): (&[&str], &[&str]) = match action {
            Partition => match entry.shape {
                Some(Shape::Isolate) => (&["shape", "node"], &["for"]),
                Some(Shape::Groups) => (&["shape", "groups"], &["for"]),
                _ => (&["shape"], &["for"]),
            },
            Cut => (&["from", "to"], &["for"]),
            Heal => (&[], &[]),
            Crash | Pause | AddServer | RemoveServer => (&["node"], &["for"]),
            Restart | Resume => (&["node"], &[]),
            ClockJump => (&["node", "by"], &["for"]),
            ClockDrift => (&["node", "drift_ppm"], &["for"]),
            Network => (&[], &["for", "loss", "duplicate", "reorder"]),
        };
        for (name, is_present) in present {
            if is_present && !required.contains(&name) && !optional.contains(&name) {
                return Err(format!("{name}: not used by action {action:?}"));
            }
            if !is_present && required.contains(&name) {
                return Err(format!("{name}: required by action {action:?}"));
            }
        }
        if entry.duration == Some(SimDuration::ZERO) {
            return Err("for: must be positive".to_string());
        }
        if entry.on.is_none() {
            if entry.at.is_none() {
                return Err("at: required (or `on`, a protocol moment)".to_string());
            }
            if entry.on_node.is_some() || entry.occurrence.is_some() {
                let name = if entry.on_node.is_some() {
                    "on_node"
                } else {
                    "occurrence"
                };
                return Err(format!("{name}: only with `on`"));
            }
        }
        if entry.occurrence == Some(0) {
            return Err("occurrence: counts from 1".to_string());
        }
        let trigger = entry.on.clone().map(|moment| Trigger {
            moment,
            node: entry.on_node,
            occurrence: entry.occurrence.unwrap_or(1),
        });
        // Presence was checked above: every `expect` below names a required field.
        let node = || entry.node.expect("required");
        let target = || match entry.client {
            Some(client) => Target::Client(client),
            None => Target::Node(node()),
        };
        let fault = match action {
            Partition => Fault::Partition(match entry.shape.expect("required") {
                Shape::Isolate => self::Partition::Isolate(node()),
                Shape::Halves => self::Partition::Halves,
                Shape::MajoritiesRing => self::Partition::MajoritiesRing,
                Shape::Bridge => self::Partition::Bridge,
                Shape::Groups => self::Partition::Groups(entry.groups.clone().expect("required")),
            }),
            Cut => Fault::Cut {
                from: entry.from.expect("required"),
                to: entry.to.expect("required"),
            },
            Heal => Fault::Heal,
            Crash => Fault::Crash(node()),
            Restart => Fault::Restart(node()),
            Pause => Fault::Pause(target()),
            Resume => Fault::Resume(target()),
            ClockJump => Fault::ClockJump {
                target: target(),
                by: entry.by.expect("required"),
            },
            ClockDrift => Fault::ClockDrift {
                target: target(),
                drift_ppm: entry.drift_ppm.expect("required"),
            },
            Network => Fault::Network {
                loss: entry.loss.unwrap_or_default(),
                duplicate: entry.duplicate.unwrap_or_default(),
                reorder: entry.reorder.unwrap_or_default(),
            },
            AddServer => Fault::AddServer(node()),
            RemoveServer => Fault::RemoveServer(node()),
        };
        Ok(FaultSpec {
            at: entry.at.unwrap_or(SimDuration::ZERO),
            trigger,
            fault,
            duration: entry.duration,
        })
    }
}

impl From<&FaultSpec> for FaultEntry {
    fn from(spec: &FaultSpec) -> FaultEntry {
        let mut entry = FaultEntry {
            at: Some(spec.at),
            on: spec.trigger.as_ref().map(|t| t.moment.clone()),
            on_node: spec.trigger.as_ref().and_then(|t| t.node),
            occurrence: spec.trigger.as_ref().map(|t| t.occurrence),
            action: Some(spec.fault.action()),
            duration: spec.duration,
            ..FaultEntry::default()
        };
        match &spec.fault {
            Fault::Partition(partition) => {
                entry.shape = Some(match partition {
                    Partition::Isolate(node) => {
                        entry.node = Some(*node);
                        Shape::Isolate
                    }
                    Partition::Halves => Shape::Halves,
                    Partition::MajoritiesRing => Shape::MajoritiesRing,
                    Partition::Bridge => Shape::Bridge,
                    Partition::Groups(groups) => {
                        entry.groups = Some(groups.clone());
                        Shape::Groups
                    }
                })
            }
            Fault::Cut { from, to } => {
                entry.from = Some(*from);
                entry.to = Some(*to);
            }
            Fault::Heal => {}
            Fault::Crash(node)
            | Fault::Restart(node)
            | Fault::AddServer(node)
            | Fault::RemoveServer(node) => entry.node = Some(*node),
            Fault::Pause(target) | Fault::Resume(target) => entry.set_target(*target),
            Fault::ClockJump { target, by } => {
                entry.set_target(*target);
                entry.by = Some(*by);
            }
            Fault::ClockDrift { target, drift_ppm } => {
                entry.set_target(*target);
                entry.drift_ppm = Some(*drift_ppm);
            }
            Fault::Network {
                loss,
                duplicate,
                reorder,
            } => {
                entry.loss = Some(*loss);
                entry.duplicate = Some(*duplicate);
                entry.reorder = Some(*reorder);
            }
        }
        entry
    }
}

impl FaultEntry {
    fn set_target(&mut self, target: Target) {
        match target {
            Target::Node(node) => self.node = Some(node),
            Target::Client(client) => self.client = Some(client),
        }
    }
}

impl Serialize for FaultSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        FaultEntry::from(self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for FaultSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        FaultSpec::try_from(FaultEntry::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: FaultAction) -> FaultEntry {
        FaultEntry {
            at: Some(SimDuration::from_millis(5)),
            action: Some(action),
            ..FaultEntry::default()
        }
    }

    #[test]
    fn a_fault_may_wait_for_a_protocol_moment_instead_of_a_time() {
        let mut crash = FaultEntry {
            action: Some(FaultAction::Crash),
            node: Some(NodeRef::Id(0)),
            ..FaultEntry::default()
        };
        assert_eq!(
            FaultSpec::try_from(crash.clone()).unwrap_err(),
            "at: required (or `on`, a protocol moment)"
        );
        crash.on = Some("decision-logged".to_string());
        crash.on_node = Some(0);
        let spec = FaultSpec::try_from(crash.clone()).unwrap();
        assert_eq!(spec.at, SimDuration::ZERO);
        let trigger = spec.trigger.clone().unwrap();
        assert_eq!((trigger.node, trigger.occurrence), (Some(0), 1));
        assert_eq!(FaultSpec::try_from(FaultEntry::from(&spec)), Ok(spec));
        crash.occurrence = Some(0);
        assert_eq!(
            FaultSpec::try_from(crash).unwrap_err(),
            "occurrence: counts from 1"
        );
    }

    #[test]
    fn each_action_takes_exactly_its_fields() {
        let mut crash = entry(FaultAction::Crash);
        assert_eq!(
            FaultSpec::try_from(crash.clone()).unwrap_err(),
            "node: required by action Crash"
        );
        crash.node = Some(NodeRef::Leader);
        assert_eq!(
            FaultSpec::try_from(crash.clone()).unwrap().fault,
            Fault::Crash(NodeRef::Leader)
        );
        crash.by = Some(SignedDuration(1));
        assert_eq!(
            FaultSpec::try_from(crash).unwrap_err(),
            "by: not used by action Crash"
        );
        let mut restart = entry(FaultAction::Restart);
        restart.node = Some(NodeRef::Id(1));
        restart.duration = Some(SimDuration::from_millis(1));
        assert_eq!(
            FaultSpec::try_from(restart).unwrap_err(),
            "for: not used by action Restart"
        );
        let mut pause = entry(FaultAction::Pause);
        pause.client = Some(2);
        assert_eq!(
            FaultSpec::try_from(pause.clone()).unwrap().fault,
            Fault::Pause(Target::Client(2))
        );
        pause.node = Some(NodeRef::Id(0));
        assert_eq!(
            FaultSpec::try_from(pause).unwrap_err(),
            "client: give node or client, not both"
        );
        let mut crash = entry(FaultAction::Crash);
        crash.node = Some(NodeRef::Id(1));
        crash.client = Some(2);
        assert_eq!(
            FaultSpec::try_from(crash).unwrap_err(),
            "client: not used by action Crash"
        );
    }

    #[test]
    fn the_flat_form_round_trips() {
        let specs = [
            FaultSpec::new(
                SimDuration::from_millis(1),
                Fault::Partition(Partition::Groups(vec![vec![0, 1], vec![2]])),
            )
            .lasting(SimDuration::from_millis(3)),
            FaultSpec::new(
                SimDuration::from_millis(2),
                Fault::Cut {
                    from: NodeRef::Leader,
                    to: NodeRef::Id(2),
                },
            ),
            FaultSpec::new(
                SimDuration::from_millis(3),
                Fault::ClockJump {
                    target: Target::Node(NodeRef::Random),
                    by: SignedDuration(-40),
                },
            ),
            FaultSpec::new(SimDuration::from_millis(3), Fault::Pause(Target::Client(7)))
                .lasting(SimDuration::from_secs(2)),
            FaultSpec::new(
                SimDuration::from_millis(3),
                Fault::ClockDrift {
                    target: Target::Client(0),
                    drift_ppm: -20_000,
                },
            ),
            FaultSpec::new(
                SimDuration::from_millis(4),
                Fault::AddServer(NodeRef::Id(3)),
            ),
            FaultSpec::new(
                SimDuration::from_millis(4),
                Fault::RemoveServer(NodeRef::Leader),
            )
            .lasting(SimDuration::from_secs(1)),
            FaultSpec::new(
                SimDuration::from_millis(4),
                Fault::Network {
                    loss: Ratio::new(1, 10),
                    duplicate: Ratio::default(),
                    reorder: Ratio::new(1, 2),
                },
            ),
        ];
        for spec in specs {
            let back = FaultSpec::try_from(FaultEntry::from(&spec)).unwrap();
            assert_eq!(back, spec);
        }
    }
}
