//! Scenario files: TOML describing one experiment.
//!
//! A scenario names the protocol and its options, the cluster size, the network, clocks and
//! storage models, the client workload, the fault schedule (scripted `[[faults]]` or a `[swarm]`
//! generator), the run length and liveness bound, the seed, and the verdict it expects. Unknown
//! fields are rejected; every error names the file, the line and the field.
//!
//! The format is documented in the README; `scenarios/` holds examples.

use crate::network::{Latency, LinkModel};
use crate::protocol::NodeId;
use crate::rng::Ratio;
use crate::time::SimDuration;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::path::{Path, PathBuf};

pub mod limits;

/// A scenario file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not fit the format.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, naming the field.
        message: String,
    },
}

/// Longest simulated run (a thousand days): simulated time stays far from overflowing.
const MAX_RUN: SimDuration = SimDuration::from_secs(86_400_000);

/// A whole scenario.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name; defaults to the file name without extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the scenario demonstrates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The default seed (`--seed` overrides it).
    #[serde(default)]
    pub seed: u64,
    /// The verdict kind this scenario should produce with its own seed: `pass`,
    /// `safety-violation`, `liveness-timeout`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
    /// The protocol under test.
    pub protocol: ProtocolSection,
    /// The cluster.
    pub cluster: ClusterSection,
    /// The network model.
    #[serde(default)]
    pub network: NetworkSection,
    /// Node clocks.
    #[serde(default, skip_serializing_if = "ClocksSection::is_empty")]
    pub clocks: ClocksSection,
    /// Durable storage.
    #[serde(default)]
    pub storage: StorageSection,
    /// Simulated clients.
    #[serde(default)]
    pub workload: WorkloadSection,
    /// Run length and limits.
    pub run: RunSection,
    /// A scripted fault schedule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultSpec>,
    /// A swarm generator drawing the fault schedule from the seed (instead of `faults`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swarm: Option<SwarmSection>,
}

/// `[protocol]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolSection {
    /// The protocol's name (`unreplicated`, `raft`, ...).
    pub name: String,
    /// A planted bug to enable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bug: Option<String>,
    /// Protocol-specific options, checked by the protocol.
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub options: toml::Table,
}

/// `[cluster]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSection {
    /// How many nodes (1 to 64).
    pub nodes: u32,
}

/// `[network]`: the model of every link, and overrides for some.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSection {
    /// Message latency.
    #[serde(default)]
    pub latency: Latency,
    /// Loss probability, e.g. `"1/100"`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub loss: Ratio,
    /// Duplication probability.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub duplicate: Ratio,
    /// Reordering probability.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reorder: Ratio,
    /// Largest extra delay of a reordered message.
    #[serde(
        default = "default_reorder_delay",
        skip_serializing_if = "is_default_reorder_delay"
    )]
    pub reorder_delay: SimDuration,
    /// Per-link overrides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<LinkOverride>,
    /// Whether every link delivers in order (a TCP connection): a message never overtakes one
    /// sent before it on the same link, so a slow or reordered message delays those behind it.
    /// Default: links are datagrams, and a message with a shorter latency arrives first.
    #[serde(default, skip_serializing_if = "is_false")]
    pub fifo: bool,
}

fn default_reorder_delay() -> SimDuration {
    SimDuration::from_millis(20)
}

// Written scenarios (shrunk files, artifacts) leave out what is at its default, so a reader
// sees only what was chosen.
fn is_zero(ratio: &Ratio) -> bool {
    ratio.is_zero()
}

fn is_default_reorder_delay(delay: &SimDuration) -> bool {
    *delay == default_reorder_delay()
}

impl Default for NetworkSection {
    fn default() -> Self {
        NetworkSection {
            latency: Latency::default(),
            loss: Ratio::ZERO,
            duplicate: Ratio::ZERO,
            reorder: Ratio::ZERO,
            reorder_delay: default_reorder_delay(),
            links: Vec::new(),
            fifo: false,
        }
    }
}

impl NetworkSection {
    /// The model every link starts with.
    pub fn default_link(&self) -> LinkModel {
        LinkModel {
            latency: self.latency.clone(),
            loss: self.loss,
            duplicate: self.duplicate,
            reorder: self.reorder,
            reorder_delay: self.reorder_delay,
        }
    }
}

/// `[[network.links]]`: one directed link that behaves differently.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkOverride {
    /// Sending node.
    #[serde(deserialize_with = "node_number")]
    pub from: u32,
    /// Receiving node.
    #[serde(deserialize_with = "node_number")]
    pub to: u32,
    /// Latency on this link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Latency>,
    /// Loss on this link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<Ratio>,
    /// Duplication on this link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<Ratio>,
    /// Reordering on this link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reorder: Option<Ratio>,
}

/// `[clocks]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClocksSection {
    /// Per-node initial offset and drift; unlisted nodes keep true time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<ClockSpec>,
    /// Per-client initial offset and drift; unlisted clients keep true time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<ClientClockSpec>,
}

impl ClocksSection {
    /// Whether no clock is configured.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.clients.is_empty()
    }
}

/// `[[clocks.clients]]`: a client process's clocks, as [`ClockSpec`] is a node's.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientClockSpec {
    /// Which client, `0..clients`.
    pub client: u32,
    /// Added to true time by the wall clock; may be negative (`"-40ms"`).
    #[serde(default)]
    pub offset: SignedDuration,
    /// Rate error of the oscillator in parts per million; positive runs fast.
    #[serde(default)]
    pub drift_ppm: i64,
}

/// `[[clocks.nodes]]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSpec {
    /// Which node.
    #[serde(deserialize_with = "node_number")]
    pub node: u32,
    /// Added to true time by the wall clock (the monotonic clock has no offset); may be
    /// negative (`"-40ms"`).
    #[serde(default)]
    pub offset: SignedDuration,
    /// Rate error of the oscillator in parts per million, for both clocks; positive runs fast.
    #[serde(default)]
    pub drift_ppm: i64,
}

/// `[storage]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    /// How long a persist takes to become durable.
    #[serde(default = "default_fsync")]
    pub fsync: Latency,
    /// Whether a crash loses writes that were not yet durable.
    #[serde(default, skip_serializing_if = "is_false")]
    pub lose_unsynced: bool,
}

fn default_fsync() -> Latency {
    Latency::constant(SimDuration::ZERO)
}

impl Default for StorageSection {
    fn default() -> Self {
        StorageSection {
            fsync: default_fsync(),
            lose_unsynced: false,
        }
    }
}

/// `[workload]`: the client processes (generic fields, run by the engine) and the workload they
/// run (`kind`, and that workload's own fields, kept in `options` for the workload to parse).
#[derive(Clone, Debug, Serialize)]
pub struct WorkloadSection {
    /// The workload: `register` (the default), `counter`, ... (`detsim list` shows them).
    pub kind: String,
    /// How many concurrent client processes.
    pub clients: u32,
    /// Operations per second each client aims for (exponential gaps between operations).
    pub rate: u32,
    /// How long a client waits for an answer before recording the operation as `info`.
    pub timeout: SimDuration,
    /// Latency between a client and a node, each way.
    pub client_latency: Latency,
    /// How long a client waits before retrying after a redirect.
    pub redirect_backoff: SimDuration,
    /// Whether each client's operations depend only on the seed and the client (not on what
    /// it was answered), so the same workload replays against different protocols.
    #[serde(skip_serializing_if = "is_false")]
    pub reply_independent: bool,
    /// How long a client waits for an answer before sending the same request (same id)
    /// again; it keeps retrying until the operation's `timeout`. Default: a quarter of
    /// `timeout`; `"0s"`: never retry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<SimDuration>,
    /// How long a client keeps asking one node before its retries go to the next node.
    /// Default: half of `timeout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failover_after: Option<SimDuration>,
    /// Where clients sit: `outside` the cluster (they reach every node; the default), or
    /// `with-nodes` (client `c` beside node `c mod nodes`, on its side of every partition).
    #[serde(skip_serializing_if = "Placement::is_outside")]
    pub placement: Placement,
    /// How operations arrive: `closed` (each client waits for its answer, then thinks — the
    /// default) or `open` (arrivals at `clients × rate` per second whatever the answers, each
    /// taken by an idle client; an arrival that finds all busy waits for the first free one).
    #[serde(skip_serializing_if = "Arrivals::is_closed")]
    pub arrivals: Arrivals,
    /// Only these operations are invoked, as `[client, n]` or `[client, n, "at"]` (`n` counts
    /// a client's operations from 0; see [`OnlyOperation`]); every other one is drawn, so the
    /// rest of the run's draws stay as they were, but skipped: the client thinks again instead.
    /// `detsim shrink` writes it when a failure needs only a few of the operations. `None`:
    /// every operation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub only_operations: Option<Vec<OnlyOperation>>,
    /// The workload's own fields (`keys`, `mix`, ...), checked by the workload.
    #[serde(flatten)]
    pub options: toml::Table,
}

/// One operation a run keeps (`[workload] only_operations`): the `n`-th operation (from 0) of
/// `client`, and optionally the time it was invoked in the run it was taken from. With a time, a
/// closed-loop client that reaches the operation earlier (because the operations before it were
/// skipped, and a skipped operation takes no time) waits until then: removing an operation then
/// moves none of the kept ones, so the interleaving a failure needs survives the removal of the
/// operations around it. A client that reaches it later (an earlier kept operation took longer)
/// invokes it at once. Written `[client, n]` or `[client, n, "1.004213s"]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct OnlyOperation {
    /// The client.
    pub client: u64,
    /// The client's operation number, from 0.
    pub n: u64,
    /// When it was invoked in the run the list was taken from (closed loop only).
    pub at: Option<SimDuration>,
}

impl Serialize for OnlyOperation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(2 + usize::from(self.at.is_some())))?;
        seq.serialize_element(&self.client)?;
        seq.serialize_element(&self.n)?;
        if let Some(at) = &self.at {
            seq.serialize_element(at)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for OnlyOperation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = OnlyOperation;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"[client, n] or [client, n, "invocation time"]"#)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<OnlyOperation, A::Error> {
                let client = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(0, &self))?;
                let n = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(1, &self))?;
                let at = seq.next_element()?;
                if seq.next_element::<toml::Value>()?.is_some() {
                    return Err(A::Error::invalid_length(4, &self));
                }
                Ok(OnlyOperation { client, n, at })
            }
        }
        deserializer.deserialize_seq(Visitor)
    }
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// The generic fields of `[workload]`; every other field belongs to the workload kind.
const WORKLOAD_GENERIC_FIELDS: [&str; 12] = [
    "kind",
    "clients",
    "rate",
    "timeout",
    "client_latency",
    "redirect_backoff",
    "reply_independent",
    "retry_after",
    "failover_after",
    "placement",
    "arrivals",
    "only_operations",
];

/// Where client processes sit on the network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Placement {
    /// Outside the cluster: a client reaches every node, whatever partition the nodes are in.
    #[default]
    Outside,
    /// Client `c` beside node `c mod nodes`: it reaches a node only when that node does.
    WithNodes,
}

/// How client operations arrive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Arrivals {
    /// Closed loop: a client invokes its next operation a think time after the last ended.
    #[default]
    Closed,
    /// Open loop: a Poisson stream of arrivals whatever the answers, so a slow service meets
    /// the same offered load as a fast one (no coordinated omission).
    Open,
}

impl Arrivals {
    fn is_closed(&self) -> bool {
        *self == Arrivals::Closed
    }
}

impl Placement {
    fn is_outside(&self) -> bool {
        *self == Placement::Outside
    }
}

impl WorkloadSection {
    /// How long a client waits before retrying elsewhere.
    pub fn retry_after(&self) -> SimDuration {
        self.retry_after.unwrap_or(SimDuration(self.timeout.0 / 4))
    }

    /// How long a client asks one node before failing over to the next.
    pub fn failover_after(&self) -> SimDuration {
        self.failover_after
            .unwrap_or(SimDuration(self.timeout.0 / 2))
    }
}

impl Default for WorkloadSection {
    fn default() -> Self {
        WorkloadSection {
            kind: "register".to_string(),
            clients: 3,
            rate: 20,
            timeout: SimDuration::from_millis(1000),
            client_latency: Latency::constant(SimDuration::from_millis(1)),
            redirect_backoff: SimDuration::from_millis(10),
            reply_independent: false,
            retry_after: None,
            failover_after: None,
            placement: Placement::Outside,
            arrivals: Arrivals::Closed,
            only_operations: None,
            options: toml::Table::new(),
        }
    }
}

impl<'de> Deserialize<'de> for WorkloadSection {
    /// Reads the generic fields with their own types, straight from the document (so an error
    /// in one points at its line), and keeps every other field for the workload.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = WorkloadSection;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a [workload] table")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<WorkloadSection, A::Error> {
                let mut section = WorkloadSection::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "kind" => section.kind = map.next_value()?,
                        "clients" => section.clients = map.next_value()?,
                        "rate" => section.rate = map.next_value()?,
                        "timeout" => section.timeout = map.next_value()?,
                        "client_latency" => section.client_latency = map.next_value()?,
                        "redirect_backoff" => section.redirect_backoff = map.next_value()?,
                        "reply_independent" => section.reply_independent = map.next_value()?,
                        "retry_after" => section.retry_after = Some(map.next_value()?),
                        "failover_after" => section.failover_after = Some(map.next_value()?),
                        "placement" => section.placement = map.next_value()?,
                        "arrivals" => section.arrivals = map.next_value()?,
                        "only_operations" => section.only_operations = Some(map.next_value()?),
                        _ => {
                            let value: toml::Value = map.next_value()?;
                            section.options.insert(key, value);
                        }
                    }
                }
                debug_assert!(WORKLOAD_GENERIC_FIELDS
                    .iter()
                    .all(|field| !section.options.contains_key(*field)));
                Ok(section)
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

/// `[run]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    /// Total simulated time.
    pub duration: SimDuration,
    /// When the nemesis heals everything and the liveness phase begins (default: never, unless
    /// `liveness_bound` is set, then at time zero for scenarios without faults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heal_at: Option<SimDuration>,
    /// After healing, some client operation must succeed within this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_bound: Option<SimDuration>,
    /// Most events a run may apply before it ends with a `limit-reached` verdict.
    #[serde(default = "default_max_events")]
    pub max_events: u64,
    /// Step budget of the linearizability checker.
    #[serde(default = "default_check_budget")]
    pub check_budget: u64,
    /// Memory limit of the linearizability checker's search, in bytes: a byte count or a size
    /// such as `"1GiB"`. Exceeding it makes the verdict unknown.
    #[serde(
        default = "default_check_memory",
        deserialize_with = "deserialize_memory",
        skip_serializing_if = "is_default_check_memory"
    )]
    pub check_memory: u64,
}

fn default_check_memory() -> u64 {
    crate::check::DEFAULT_MEMORY_LIMIT
}

/// Written scenarios (replay artifacts) stay as they were unless the limit was set.
fn is_default_check_memory(bytes: &u64) -> bool {
    *bytes == default_check_memory()
}

fn deserialize_memory<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    match Size::deserialize(deserializer)? {
        Size::Bytes(bytes) => Ok(bytes),
        Size::Text(text) => crate::check::parse_memory(&text).map_err(serde::de::Error::custom),
    }
}

fn default_max_events() -> u64 {
    50_000_000
}
impl RunSection {
    /// The history checker's limits.
    pub fn check_options(&self) -> crate::check::CheckOptions {
        crate::check::CheckOptions {
            budget: self.check_budget,
            memory: self.check_memory,
        }
    }
}

fn default_check_budget() -> u64 {
    10_000_000
}

use crate::fault::node_number;
pub use crate::fault::{
    Fault, FaultAction, FaultEntry, FaultSpec, NodeRef, Partition, Shape, Target,
};

/// `[swarm]`: draw the fault schedule from the seed.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmSection {
    /// Fault kinds the generator may enable (each seed enables a random non-empty subset):
    /// `partition`, `crash`, `pause`, `clock`, `network` (the default set), and
    /// `client-pause`, `client-clock` (faults on client processes), `membership` (servers
    /// removed and added, for protocols with membership changes).
    #[serde(default = "default_swarm_kinds")]
    pub kinds: Vec<SwarmKind>,
    /// Shortest gap between faults.
    #[serde(default = "default_gap_min")]
    pub gap_min: SimDuration,
    /// Longest gap between faults.
    #[serde(default = "default_gap_max")]
    pub gap_max: SimDuration,
    /// Shortest fault.
    #[serde(default = "default_length_min")]
    pub length_min: SimDuration,
    /// Longest fault.
    #[serde(default = "default_length_max")]
    pub length_max: SimDuration,
    /// Largest clock jump, either way.
    #[serde(default = "default_jump_max")]
    pub clock_jump_max: SimDuration,
    /// Largest drift, either way, in ppm.
    #[serde(default = "default_drift_max")]
    pub drift_ppm_max: i64,
    /// What else each seed draws besides the faults: cluster size, protocol options, storage,
    /// network and clients (`[swarm.draw]`; see [`DrawSection`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draw: Option<DrawSection>,
}

/// `[swarm.draw]`: the parts of the scenario each swarm seed draws, each list a set of
/// alternatives of which a seed takes one (uniformly). A field left out keeps the scenario's own
/// value. The drawn values are written into the expanded scenario, so a failure replays and
/// shrinks like any other.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrawSection {
    /// Cluster sizes (`[cluster] nodes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<u32>,
    /// Client counts (`[workload] clients`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<u32>,
    /// Per-client rates (`[workload] rate`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rate: Vec<u32>,
    /// Open or closed arrivals (`[workload] arrivals`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arrivals: Vec<Arrivals>,
    /// Link latency shapes (`[network] latency`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub latency: Vec<Latency>,
    /// Whether links deliver in order (`[network] fifo`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fifo: Vec<bool>,
    /// Fsync latencies (`[storage] fsync`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fsync: Vec<Latency>,
    /// Whether a crash loses unsynced writes (`[storage] lose_unsynced`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lose_unsynced: Vec<bool>,
    /// Protocol options: each key lists the values to draw from, merged into
    /// `[protocol.options]`. A combination the protocol rejects (`check_options`: the unsafe
    /// or unworkable ones its documentation names) is never run: the seed draws again.
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub options: toml::Table,
    /// The workload's own fields (`keys`, ...): each key lists the values to draw from, merged
    /// into `[workload]`; combinations the workload rejects are drawn again.
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub workload: toml::Table,
}

fn default_swarm_kinds() -> Vec<SwarmKind> {
    vec![
        SwarmKind::Partition,
        SwarmKind::Crash,
        SwarmKind::Pause,
        SwarmKind::Clock,
        SwarmKind::Network,
    ]
}
fn default_gap_min() -> SimDuration {
    SimDuration::from_millis(100)
}
fn default_gap_max() -> SimDuration {
    SimDuration::from_millis(1500)
}
fn default_length_min() -> SimDuration {
    SimDuration::from_millis(100)
}
fn default_length_max() -> SimDuration {
    SimDuration::from_millis(2000)
}
fn default_jump_max() -> SimDuration {
    SimDuration::from_millis(500)
}
fn default_drift_max() -> i64 {
    50_000
}

/// Fault families the swarm draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SwarmKind {
    /// Partitions of every shape, and one-way cuts.
    Partition,
    /// Crashes and restarts.
    Crash,
    /// Pauses and resumes.
    Pause,
    /// Clock jumps and drift.
    Clock,
    /// Loss, duplication and reordering bursts.
    Network,
    /// Pauses of client processes (a lock holder's GC pause). Not in the default set: a swarm
    /// scenario opts in.
    ClientPause,
    /// Wall-clock jumps and drift of client processes. Not in the default set.
    ClientClock,
    /// Membership changes: a server (a third of the time the leader) removed from the
    /// configuration for a while and added back, or added for a while and removed again. Not in
    /// the default set (a swarm opts in, so no existing swarm's draws change); only for
    /// protocols with membership changes.
    Membership,
}

/// A duration that may be negative, written `"-40ms"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignedDuration(pub i64);

impl fmt::Display for SignedDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 0 {
            write!(f, "-{}", SimDuration(self.0.unsigned_abs()))
        } else {
            write!(f, "{}", SimDuration(self.0 as u64))
        }
    }
}

impl SignedDuration {
    /// A signed, rounded reading for labels: `+332.1ms`, `-1.5s`, `+40us` (three significant
    /// digits at most; the exact value stays in the schedule).
    pub fn rounded(self) -> String {
        let sign = if self.0 < 0 { '-' } else { '+' };
        let nanos = self.0.unsigned_abs();
        let (value, unit) = match nanos {
            n if n >= 1_000_000_000 => (n as f64 / 1e9, "s"),
            n if n >= 1_000_000 => (n as f64 / 1e6, "ms"),
            n if n >= 1_000 => (n as f64 / 1e3, "us"),
            n => (n as f64, "ns"),
        };
        let digits = if value >= 100.0 {
            0
        } else if value >= 10.0 {
            1
        } else {
            2
        };
        let text = format!("{value:.digits$}");
        let text = if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            text
        };
        format!("{sign}{text}{unit}")
    }
}

impl Serialize for SignedDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SignedDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let (negative, rest) = match text.trim().strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.trim().trim_start_matches('+')),
        };
        let magnitude = SimDuration::parse(rest).map_err(D::Error::custom)?;
        let magnitude = i64::try_from(magnitude.0)
            .map_err(|_| D::Error::custom(format!("duration {text:?} is too large")))?;
        Ok(SignedDuration(if negative {
            -magnitude
        } else {
            magnitude
        }))
    }
}

/// The index of the `[[faults]]` entry that line `line` (1-based) belongs to, if any.
fn fault_entry_at(text: &str, line: usize) -> Option<usize> {
    let mut entries = 0;
    let mut current = None;
    for content in text.lines().take(line) {
        let content = content.trim();
        if content == "[[faults]]" {
            current = Some(entries);
            entries += 1;
        } else if content.starts_with('[') {
            current = None; // another table began after the last fault entry
        }
    }
    current
}

/// Where a value sits in the source text, for error messages.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// The line on which `[[faults]]` entry `index` (or another array-of-tables entry) starts.
fn array_entry_line(text: &str, header: &str, index: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, line)| line.trim() == header)
        .nth(index)
        .map_or(1, |(number, _)| number + 1)
}

/// The line of the first `key =` inside `[table]`, or of the table header, or 1. Used to point
/// errors found after parsing at the right line.
pub fn key_line(text: &str, table: &str, key: &str) -> usize {
    let header = format!("[{table}]");
    let mut in_table = table.is_empty();
    let mut header_line = 1;
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            in_table = trimmed == header;
            if in_table {
                header_line = number + 1;
            }
            continue;
        }
        if in_table {
            if let Some((name, _)) = trimmed.split_once('=') {
                if name.trim() == key {
                    return number + 1;
                }
            }
        }
    }
    header_line
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        Scenario::load_with_text(path).map(|(scenario, _)| scenario)
    }

    /// Reads and validates a scenario file, and returns its text too (for pointing later
    /// errors at a line). The name defaults to the file name.
    pub fn load_with_text(path: &Path) -> Result<(Scenario, String), ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut scenario = Scenario::parse(&text, path)?;
        if scenario.name.is_none() {
            scenario.name = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        }
        Ok((scenario, text))
    }

    /// Parses and validates scenario text; `path` is only used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = toml::from_str(text).map_err(|error| {
            let (line, column) = error
                .span()
                .map_or((1, 1), |span| line_and_column(text, span.start));
            let message = error.message().trim().to_string();
            ScenarioError::Invalid {
                path: path.to_owned(),
                line,
                column,
                message: match fault_entry_at(text, line) {
                    // A fault's fields are checked as a whole entry: name which entry.
                    Some(index) if !message.starts_with("faults") => {
                        format!("faults[{index}].{message}")
                    }
                    _ => message,
                },
            }
        })?;
        scenario
            .validate()
            .map_err(|problem| ScenarioError::Invalid {
                path: path.to_owned(),
                line: problem.line(text),
                column: 1,
                message: problem.message,
            })?;
        Ok(scenario)
    }

    /// The scenario's name, or `scenario`.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or("scenario")
    }

    /// Writes the scenario as TOML (for expanded schedules and shrunk failures).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a scenario always serializes")
    }

    /// When the liveness phase begins, if the run has one.
    pub fn heal_time(&self) -> Option<SimDuration> {
        match (self.run.heal_at, self.run.liveness_bound) {
            (Some(at), _) => Some(at),
            (None, Some(_)) if self.faults.is_empty() && self.swarm.is_none() => {
                Some(SimDuration::ZERO)
            }
            _ => None,
        }
    }

    fn validate(&self) -> Result<(), Problem> {
        let nodes = self.cluster.nodes;
        if nodes == 0 || nodes > 64 {
            return Err(Problem::at(
                "cluster",
                "nodes",
                format!("cluster.nodes: {nodes} is outside 1..=64"),
            ));
        }
        limits::check_magnitudes(self)?;
        let check_node = |n: u32, field: &str, table: &str, key: &str| {
            if n >= nodes {
                Err(Problem::at(
                    table,
                    key,
                    format!(
                    "{field}: node {n} does not exist in a cluster of {nodes} (nodes are 0..{})",
                    nodes - 1
                ),
                ))
            } else {
                Ok(())
            }
        };
        self.network
            .latency
            .validate()
            .map_err(|m| Problem::at("network", "latency", format!("network.latency: {m}")))?;
        for (i, link) in self.network.links.iter().enumerate() {
            let entry = Problem::entry("[[network.links]]", i);
            check_node(link.from, &format!("network.links[{i}].from"), "", "")
                .map_err(|p| entry.with(p.message.clone()))?;
            check_node(link.to, &format!("network.links[{i}].to"), "", "")
                .map_err(|p| entry.with(p.message.clone()))?;
            if let Some(latency) = &link.latency {
                latency
                    .validate()
                    .map_err(|m| entry.with(format!("network.links[{i}].latency: {m}")))?;
            }
        }
        for (i, clock) in self.clocks.nodes.iter().enumerate() {
            let entry = Problem::entry("[[clocks.nodes]]", i);
            check_node(clock.node, &format!("clocks.nodes[{i}].node"), "", "")
                .map_err(|p| entry.with(p.message.clone()))?;
            if clock.drift_ppm.abs() > crate::clock::DRIFT_PPM_LIMIT {
                return Err(entry.with(format!(
                    "clocks.nodes[{i}].drift_ppm: {} is beyond ±{}",
                    clock.drift_ppm,
                    crate::clock::DRIFT_PPM_LIMIT
                )));
            }
            if clock.offset.0.unsigned_abs() >= crate::clock::LOCAL_EPOCH / 2 {
                return Err(entry.with(format!("clocks.nodes[{i}].offset: too large")));
            }
        }
        self.storage
            .fsync
            .validate()
            .map_err(|m| Problem::at("storage", "fsync", format!("storage.fsync: {m}")))?;
        let workload = &self.workload;
        if workload.clients == 0 || workload.clients > 10_000 {
            return Err(Problem::at(
                "workload",
                "clients",
                format!(
                    "workload.clients: {} is outside 1..=10000",
                    workload.clients
                ),
            ));
        }
        if workload.rate == 0 || workload.rate > 1_000_000 {
            return Err(Problem::at(
                "workload",
                "rate",
                format!(
                    "workload.rate: {} is outside 1..=1000000 operations per second",
                    workload.rate
                ),
            ));
        }
        if workload.timeout == SimDuration::ZERO {
            return Err(Problem::at(
                "workload",
                "timeout",
                "workload.timeout: must be positive",
            ));
        }
        workload.client_latency.validate().map_err(|m| {
            Problem::at(
                "workload",
                "client_latency",
                format!("workload.client_latency: {m}"),
            )
        })?;
        let run = &self.run;
        if run.duration == SimDuration::ZERO || run.duration > MAX_RUN {
            return Err(Problem::at(
                "run",
                "duration",
                format!("run.duration: must be positive and at most {MAX_RUN}"),
            ));
        }
        if workload.timeout > MAX_RUN || workload.redirect_backoff > MAX_RUN {
            return Err(Problem::at(
                "workload",
                "timeout",
                format!("workload.timeout and redirect_backoff: at most {MAX_RUN}"),
            ));
        }
        if let Some(heal) = run.heal_at {
            if heal > run.duration {
                return Err(Problem::at(
                    "run",
                    "heal_at",
                    format!(
                        "run.heal_at: {heal} is after the end of the run ({})",
                        run.duration
                    ),
                ));
            }
        }
        if let (Some(heal), Some(bound)) = (self.heal_time(), run.liveness_bound) {
            if heal + bound > run.duration {
                return Err(Problem::at("run", "liveness_bound", format!(
                    "run.liveness_bound: healing at {heal} plus {bound} runs past the end of the run ({})",
                    run.duration
                )));
            }
        }
        if !self.faults.is_empty() && self.swarm.is_some() {
            return Err(Problem::at(
                "swarm",
                "",
                "swarm: a scenario has either [[faults]] or [swarm], not both",
            ));
        }
        if let Some(swarm) = &self.swarm {
            if swarm.kinds.is_empty() {
                return Err(Problem::at(
                    "swarm",
                    "kinds",
                    "swarm.kinds: list at least one kind",
                ));
            }
            if swarm.gap_min > swarm.gap_max || swarm.gap_min == SimDuration::ZERO {
                return Err(Problem::at(
                    "swarm",
                    "gap_min",
                    "swarm.gap_min: must be positive and at most gap_max",
                ));
            }
            if swarm.length_min > swarm.length_max {
                return Err(Problem::at(
                    "swarm",
                    "length_min",
                    "swarm.length_min: above length_max",
                ));
            }
            if swarm.drift_ppm_max.abs() > crate::clock::DRIFT_PPM_LIMIT {
                return Err(Problem::at(
                    "swarm",
                    "drift_ppm_max",
                    "swarm.drift_ppm_max: too large",
                ));
            }
            if run.heal_at.is_none() {
                return Err(Problem::at(
                    "run",
                    "heal_at",
                    "run.heal_at: a swarm scenario needs a heal time (the end of its fault phase)",
                ));
            }
            if let Some(draw) = &swarm.draw {
                validate_draw(draw)?;
            }
        }
        for (i, fault) in self.faults.iter().enumerate() {
            validate_fault(fault, nodes, self.workload.clients, run.duration)
                .map_err(|m| Problem::entry("[[faults]]", i).with(format!("faults[{i}].{m}")))?;
        }
        limits::check_schedule(self)
    }
}

/// Checks a fault against the run: its time, its nodes and its values. (Which fields an action
/// takes was checked when it was parsed.)
/// Checks `[swarm.draw]`: every value drawn must be one the scenario itself would accept.
fn validate_draw(draw: &DrawSection) -> Result<(), Problem> {
    let problem = |key: &str, message: String| Problem::at("swarm.draw", key, message);
    if let Some(n) = draw.nodes.iter().find(|n| **n == 0 || **n > 64) {
        return Err(problem(
            "nodes",
            format!("swarm.draw.nodes: {n} is not 1 to 64"),
        ));
    }
    if draw.clients.contains(&0) {
        return Err(problem("clients", "swarm.draw.clients: 0 clients".into()));
    }
    if draw.rate.contains(&0) {
        return Err(problem("rate", "swarm.draw.rate: a rate of 0".into()));
    }
    for (key, latencies) in [("latency", &draw.latency), ("fsync", &draw.fsync)] {
        for latency in latencies {
            latency
                .validate()
                .map_err(|m| problem(key, format!("swarm.draw.{key}: {m}")))?;
        }
    }
    for (name, table) in [("options", &draw.options), ("workload", &draw.workload)] {
        for (key, value) in table {
            match value.as_array() {
                Some(values) if !values.is_empty() => {}
                _ => {
                    return Err(Problem::at(
                        &format!("swarm.draw.{name}"),
                        key,
                        format!("swarm.draw.{name}.{key}: list the values to draw from"),
                    ))
                }
            }
        }
    }
    Ok(())
}

fn validate_fault(
    fault: &FaultSpec,
    nodes: u32,
    clients: u32,
    duration: SimDuration,
) -> Result<(), String> {
    if fault.at > duration {
        return Err(format!(
            "at: {} is after the end of the run ({duration})",
            fault.at
        ));
    }
    for (field, node) in fault.fault.named_nodes() {
        if node >= nodes {
            return Err(format!(
                "{field}: node {node} does not exist in a cluster of {nodes}"
            ));
        }
    }
    if let Some(Target::Client(client)) = fault.fault.target() {
        if client >= clients {
            return Err(format!(
                "client: client {client} does not exist (the workload has {clients} clients, \
                 0..{})",
                clients.saturating_sub(1)
            ));
        }
    }
    if let Fault::ClockDrift { drift_ppm, .. } = fault.fault {
        if drift_ppm.unsigned_abs() > crate::clock::DRIFT_PPM_LIMIT.unsigned_abs() {
            return Err(format!(
                "drift_ppm: {drift_ppm} is beyond ±{}",
                crate::clock::DRIFT_PPM_LIMIT
            ));
        }
    }
    Ok(())
}

/// A validation problem and where to point at it.
struct Problem {
    locator: Locator,
    message: String,
}

enum Locator {
    Key {
        table: String,
        key: String,
    },
    Entry {
        header: &'static str,
        index: usize,
    },
    Element {
        table: &'static str,
        key: &'static str,
        index: usize,
        field: &'static str,
    },
}

impl Problem {
    fn at(table: &str, key: &str, message: impl Into<String>) -> Problem {
        Problem {
            locator: Locator::Key {
                table: table.to_string(),
                key: key.to_string(),
            },
            message: message.into(),
        }
    }
    fn entry(header: &'static str, index: usize) -> Problem {
        Problem {
            locator: Locator::Entry { header, index },
            message: String::new(),
        }
    }
    fn with(&self, message: String) -> Problem {
        Problem {
            locator: match &self.locator {
                Locator::Key { table, key } => Locator::Key {
                    table: table.clone(),
                    key: key.clone(),
                },
                Locator::Entry { header, index } => Locator::Entry {
                    header,
                    index: *index,
                },
                Locator::Element {
                    table,
                    key,
                    index,
                    field,
                } => Locator::Element {
                    table,
                    key,
                    index: *index,
                    field,
                },
            },
            message,
        }
    }
    fn line(&self, text: &str) -> usize {
        match &self.locator {
            Locator::Key { table, key } => key_line(text, table, key),
            Locator::Entry { header, index } => array_entry_line(text, header, *index),
            Locator::Element {
                table,
                key,
                index,
                field,
            } => limits::element_line(text, table, key, *index, field),
        }
    }
}

/// Converts the resolved node of a fault for use by the engine.
pub fn node_id(n: u32) -> NodeId {
    NodeId(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[protocol]
name = "unreplicated"

[cluster]
nodes = 3

[run]
duration = "2s"
"#;

    fn parse(text: &str) -> Result<Scenario, String> {
        Scenario::parse(text, Path::new("test.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn minimal_scenario_gets_defaults() {
        let scenario = parse(MINIMAL).unwrap();
        assert_eq!(scenario.workload.clients, 3);
        assert_eq!(scenario.run.max_events, 50_000_000);
        assert!(scenario.faults.is_empty());
    }

    #[test]
    fn unknown_field_is_named_with_its_line() {
        let text = MINIMAL.replace("nodes = 3", "nodes = 3\nnodez = 4");
        let error = parse(&text).unwrap_err();
        assert!(error.starts_with("test.toml:7:"), "{error}");
        assert!(error.contains("nodez"), "{error}");
    }

    #[test]
    fn wrong_type_names_the_line() {
        let error = parse(&MINIMAL.replace("duration = \"2s\"", "duration = 2")).unwrap_err();
        assert!(error.starts_with("test.toml:9:"), "{error}");
    }

    #[test]
    fn bad_duration_unit_is_explained() {
        let error = parse(&MINIMAL.replace("\"2s\"", "\"2h\"")).unwrap_err();
        assert!(error.contains("unknown unit"), "{error}");
    }

    #[test]
    fn fault_on_missing_node_names_entry_and_field() {
        let text = format!(
            "{MINIMAL}\n[[faults]]\nat = \"1s\"\naction = \"heal\"\n\n[[faults]]\nat = \"1s\"\naction = \"crash\"\nnode = 7\n"
        );
        let error = parse(&text).unwrap_err();
        assert!(error.starts_with("test.toml:15:"), "{error}");
        assert!(error.contains("faults[1].node"), "{error}");
    }

    #[test]
    fn fault_with_field_its_action_ignores_is_rejected() {
        let text = format!("{MINIMAL}\n[[faults]]\nat = \"1s\"\naction = \"heal\"\nnode = 1\n");
        let error = parse(&text).unwrap_err();
        assert!(
            error.contains("faults[0].node: not used by action Heal"),
            "{error}"
        );
        assert!(error.starts_with("test.toml:11:"), "{error}");
    }

    #[test]
    fn liveness_bound_past_the_end_is_rejected() {
        let text = MINIMAL.replace(
            "duration = \"2s\"",
            "duration = \"2s\"\nheal_at = \"1s\"\nliveness_bound = \"3s\"",
        );
        let error = parse(&text).unwrap_err();
        assert!(error.contains("run.liveness_bound"), "{error}");
        assert!(error.starts_with("test.toml:11:"), "{error}");
    }

    #[test]
    fn values_that_would_overflow_or_exhaust_memory_are_rejected() {
        let huge_clients = MINIMAL.replace("[run]", "[workload]\nclients = 4000000\n[run]");
        assert!(parse(&huge_clients)
            .unwrap_err()
            .contains("workload.clients"));
        let huge_latency = MINIMAL.replace(
            "[run]",
            "[network]\nlatency = { dist = \"constant\", value = \"100000m\" }\n[run]",
        );
        assert!(parse(&huge_latency)
            .unwrap_err()
            .contains("longer than the limit"));
        // The workload's own fields (keys, mix) are checked by the workload: see
        // `workload::register` and the end-to-end bad-input tests.
        let huge_run = MINIMAL.replace("\"2s\"", "\"100000000s\"");
        assert!(parse(&huge_run).unwrap_err().contains("run.duration"));
    }

    #[test]
    fn workload_fields_of_the_kind_are_kept_for_the_workload() {
        let text = MINIMAL.replace(
            "[run]",
            "[workload]\nkind = \"counter\"\nclients = 2\nkeys = 4\nmix = { add = 1 }\n[run]",
        );
        let scenario = parse(&text).unwrap();
        assert_eq!(scenario.workload.kind, "counter");
        assert_eq!(scenario.workload.clients, 2);
        let fields: Vec<&String> = scenario.workload.options.keys().collect();
        assert_eq!(fields, ["keys", "mix"]);
        let again = parse(&scenario.to_toml()).unwrap();
        assert_eq!(again.workload.options, scenario.workload.options);
    }

    #[test]
    fn a_generic_workload_field_of_the_wrong_type_names_its_line() {
        let text = MINIMAL.replace("[run]", "[workload]\nclients = 2\nrate = \"fast\"\n[run]");
        let error = parse(&text).unwrap_err();
        assert!(error.starts_with("test.toml:10:"), "{error}");
    }

    #[test]
    fn written_scenario_reads_back_identically() {
        let text = format!(
            "{MINIMAL}\n[[faults]]\nat = \"1s\"\naction = \"clock-jump\"\nnode = \"leader\"\nby = \"-40ms\"\nfor = \"200ms\"\n"
        );
        let scenario = parse(&text).unwrap();
        let again = parse(&scenario.to_toml()).unwrap();
        assert_eq!(again.faults, scenario.faults);
        assert_eq!(again.to_toml(), scenario.to_toml());
    }
}

#[cfg(test)]
mod signed_duration_tests {
    use super::SignedDuration;

    #[test]
    fn labels_round_to_three_digits_with_a_sign_and_a_unit() {
        assert_eq!(SignedDuration(332_094_274).rounded(), "+332ms");
        assert_eq!(SignedDuration(-142_573_293).rounded(), "-143ms");
        assert_eq!(SignedDuration(-41_398_185).rounded(), "-41.4ms");
        assert_eq!(SignedDuration(1_500_000_000).rounded(), "+1.5s");
        assert_eq!(SignedDuration(40_000).rounded(), "+40us");
        assert_eq!(SignedDuration(7).rounded(), "+7ns");
    }
}
