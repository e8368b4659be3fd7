//! The simulated network: per-link latency distributions, loss, duplication, reordering, and a
//! directed connectivity graph for partitions.
//!
//! Connectivity is a `petgraph` directed graph over the nodes: an edge `a → b` means messages
//! from `a` reach `b`. A symmetric partition removes both directions; a one-way partition only
//! one. Named shapes build the graph for common cases (isolate a node, majority/minority halves,
//! a ring of overlapping majorities, a bridge). A message is dropped when its link is cut when it
//! is sent or when it would arrive.

use crate::protocol::NodeId;
use crate::rng::{Ratio, SimRng};
use crate::time::SimDuration;
use petgraph::matrix_graph::{DiMatrix, NodeIndex};
use serde::{Deserialize, Serialize};

/// A latency distribution. Continuous shapes are sampled with `libm`, which computes the same
/// bits on every platform, and rounded to whole nanoseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Latency {
    /// Always the same.
    Constant {
        /// The latency.
        value: SimDuration,
    },
    /// Uniform in `min..=max`.
    Uniform {
        /// Lower bound.
        min: SimDuration,
        /// Upper bound.
        max: SimDuration,
    },
    /// `min` plus an exponential tail of the given mean, capped at `max`.
    Exponential {
        /// The fixed part.
        #[serde(default)]
        min: SimDuration,
        /// Mean of the exponential part.
        mean: SimDuration,
        /// Cap on the total.
        max: SimDuration,
    },
    /// Normal with the given mean and standard deviation, clamped to `min..=max`.
    Normal {
        /// Mean.
        mean: SimDuration,
        /// Standard deviation.
        stddev: SimDuration,
        /// Lower clamp.
        #[serde(default)]
        min: SimDuration,
        /// Upper clamp.
        max: SimDuration,
    },
    /// Lognormal with the given median and shape `sigma` (in thousandths, so `sigma_milli = 500`
    /// is σ = 0.5), capped at `max`. Long tails, as real networks have.
    Lognormal {
        /// Median latency.
        median: SimDuration,
        /// σ of the underlying normal, in thousandths.
        sigma_milli: u32,
        /// Cap.
        max: SimDuration,
    },
}

impl Default for Latency {
    fn default() -> Self {
        Latency::Uniform {
            min: SimDuration::from_millis(1),
            max: SimDuration::from_millis(5),
        }
    }
}

impl Latency {
    /// A constant latency.
    pub fn constant(value: SimDuration) -> Latency {
        Latency::Constant { value }
    }

    /// Longest latency a distribution may produce (a day): beyond that, simulated time could
    /// overflow long before anything interesting happens.
    pub const MAX: SimDuration = SimDuration::from_secs(86_400);

    /// Checks the parameters; the error names the offending field.
    pub fn validate(&self) -> Result<(), String> {
        if self.max() > Latency::MAX {
            return Err(format!(
                "latency up to {} is longer than the limit of {}",
                self.max(),
                Latency::MAX
            ));
        }
        match self {
            Latency::Constant { .. } => Ok(()),
            Latency::Uniform { min, max } if min > max => {
                Err(format!("uniform latency: min {min} is above max {max}"))
            }
            Latency::Exponential { min, max, .. } | Latency::Normal { min, max, .. }
                if min > max =>
            {
                Err(format!("latency: min {min} is above max {max}"))
            }
            Latency::Lognormal { median, max, .. } if median > max => Err(format!(
                "lognormal latency: median {median} is above max {max}"
            )),
            _ => Ok(()),
        }
    }

    /// The largest value this distribution can produce.
    pub fn max(&self) -> SimDuration {
        match *self {
            Latency::Constant { value } => value,
            Latency::Uniform { max, .. }
            | Latency::Exponential { max, .. }
            | Latency::Normal { max, .. }
            | Latency::Lognormal { max, .. } => max,
        }
    }

    /// Draws one latency.
    pub fn sample(&self, rng: &mut SimRng) -> SimDuration {
        let nanos = match *self {
            Latency::Constant { value } => return value,
            Latency::Uniform { min, max } => return SimDuration(rng.between(min.0, max.0)),
            Latency::Exponential { min, mean, max } => {
                // Inverse transform; 1 - u is in (0, 1], so the logarithm is finite.
                let u = 1.0 - rng.unit_f64();
                let tail = -libm::log(u) * mean.0 as f64;
                (min.0 as f64 + tail).min(max.0 as f64)
            }
            Latency::Normal {
                mean,
                stddev,
                min,
                max,
            } => {
                let z = standard_normal(rng);
                (mean.0 as f64 + z * stddev.0 as f64).clamp(min.0 as f64, max.0 as f64)
            }
            Latency::Lognormal {
                median,
                sigma_milli,
                max,
            } => {
                let z = standard_normal(rng);
                let factor = libm::exp(z * f64::from(sigma_milli) / 1000.0);
                (median.0 as f64 * factor).min(max.0 as f64)
            }
        };
        SimDuration(libm::round(nanos.max(0.0)) as u64)
    }
}

/// Box–Muller with `libm`'s platform-independent functions.
fn standard_normal(rng: &mut SimRng) -> f64 {
    let u1 = 1.0 - rng.unit_f64();
    let u2 = rng.unit_f64();
    libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * std::f64::consts::PI * u2)
}

/// How one directed link behaves.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkModel {
    /// Latency of each message.
    #[serde(default)]
    pub latency: Latency,
    /// Probability a message is lost.
    #[serde(default)]
    pub loss: Ratio,
    /// Probability a message is delivered twice (the copy with its own latency).
    #[serde(default)]
    pub duplicate: Ratio,
    /// Probability a message is held back by up to `reorder_delay` extra, so later ones overtake.
    #[serde(default)]
    pub reorder: Ratio,
    /// The most extra delay a reordered message gets.
    #[serde(default = "default_reorder_delay")]
    pub reorder_delay: SimDuration,
}

fn default_reorder_delay() -> SimDuration {
    SimDuration::from_millis(20)
}

/// What the network decided for one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transmission {
    /// Lost (by the loss model or a cut link).
    Dropped,
    /// Delivered after this latency.
    Delivered(SimDuration),
    /// Delivered twice, after each latency.
    Duplicated(SimDuration, SimDuration),
}

/// Network-wide fault rates added on top of each link's own (set by the nemesis).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultRates {
    /// Extra loss.
    pub loss: Ratio,
    /// Extra duplication.
    pub duplicate: Ratio,
    /// Extra reordering.
    pub reorder: Ratio,
}

/// The network of a run.
pub struct Network {
    node_count: u32,
    links: Vec<LinkModel>,
    connectivity: DiMatrix<(), ()>,
    indices: Vec<NodeIndex<u16>>,
    /// `connectivity` as a flat table (`source * node_count + target`), read on every message.
    reaches: Vec<bool>,
    rates: FaultRates,
    /// The model links start from; client links take its loss, duplication and reordering.
    default_link: LinkModel,
}

impl Network {
    /// A fully connected network of `node_count` nodes where every link behaves as `model`.
    pub fn new(node_count: u32, model: LinkModel) -> Network {
        assert!(
            node_count > 0 && node_count <= 1024,
            "cluster size {node_count}"
        );
        let mut connectivity = DiMatrix::with_capacity(node_count as usize);
        let indices: Vec<_> = (0..node_count).map(|_| connectivity.add_node(())).collect();
        let mut network = Network {
            node_count,
            default_link: model.clone(),
            links: vec![model; (node_count * node_count) as usize],
            connectivity,
            indices,
            reaches: vec![false; (node_count * node_count) as usize],
            rates: FaultRates::default(),
        };
        network.heal();
        network
    }

    /// Overrides the model of the directed link `source → target`.
    pub fn set_link(&mut self, source: NodeId, target: NodeId, model: LinkModel) {
        let slot = self.slot(source, target);
        self.links[slot] = model;
    }

    /// Sets the network-wide extra fault rates.
    pub fn set_rates(&mut self, rates: FaultRates) {
        self.rates = rates;
    }

    /// The network-wide extra fault rates in force.
    pub fn rates(&self) -> FaultRates {
        self.rates
    }

    #[inline]
    fn slot(&self, source: NodeId, target: NodeId) -> usize {
        assert!(source.0 < self.node_count && target.0 < self.node_count);
        (source.0 * self.node_count + target.0) as usize
    }

    /// Whether messages from `source` currently reach `target`. A node always reaches itself.
    #[inline]
    pub fn connected(&self, source: NodeId, target: NodeId) -> bool {
        source == target || self.reaches[self.slot(source, target)]
    }

    /// Restores full connectivity.
    pub fn heal(&mut self) {
        for a in 0..self.node_count as usize {
            for b in 0..self.node_count as usize {
                if a != b && !self.connectivity.has_edge(self.indices[a], self.indices[b]) {
                    self.connectivity
                        .add_edge(self.indices[a], self.indices[b], ());
                    self.reaches[a * self.node_count as usize + b] = true;
                }
            }
        }
    }

    /// Cuts the directed link `source → target` (a one-way partition when used alone).
    pub fn cut(&mut self, source: NodeId, target: NodeId) {
        let (a, b) = (self.indices[source.index()], self.indices[target.index()]);
        if self.connectivity.has_edge(a, b) {
            self.connectivity.remove_edge(a, b);
            let slot = self.slot(source, target);
            self.reaches[slot] = false;
        }
    }

    /// Restores the directed link `source → target`.
    pub fn restore(&mut self, source: NodeId, target: NodeId) {
        let (a, b) = (self.indices[source.index()], self.indices[target.index()]);
        if source != target && !self.connectivity.has_edge(a, b) {
            self.connectivity.add_edge(a, b, ());
            let slot = self.slot(source, target);
            self.reaches[slot] = true;
        }
    }

    /// Replaces connectivity with `groups`: nodes in a common group reach each other, all other
    /// pairs are cut both ways. A node may be in several groups (a bridge, a ring).
    pub fn partition(&mut self, groups: &[Vec<NodeId>]) {
        let n = self.node_count;
        let mut allowed = vec![false; (n * n) as usize];
        for group in groups {
            for a in group {
                for b in group {
                    allowed[(a.0 * n + b.0) as usize] = true;
                }
            }
        }
        self.heal();
        for a in 0..n {
            for b in 0..n {
                if a != b && !allowed[(a * n + b) as usize] {
                    self.cut(NodeId(a), NodeId(b));
                }
            }
        }
    }

    /// The directed links currently cut, in (source, target) order.
    pub fn cut_links(&self) -> Vec<(NodeId, NodeId)> {
        let mut cuts = Vec::new();
        for a in 0..self.node_count {
            for b in 0..self.node_count {
                if a != b && !self.connected(NodeId(a), NodeId(b)) {
                    cuts.push((NodeId(a), NodeId(b)));
                }
            }
        }
        cuts
    }

    /// Decides the fate of one message from `source` to `target`.
    #[inline]
    pub fn transmit(&self, source: NodeId, target: NodeId, rng: &mut SimRng) -> Transmission {
        if !self.connected(source, target) {
            return Transmission::Dropped;
        }
        let link = &self.links[self.slot(source, target)];
        self.carry(&link.latency, link, rng)
    }

    /// A message between a client and a node: the client link's `latency`, and the loss,
    /// duplication and reordering of the network's default link plus any network fault's.
    /// Connectivity (a client placed beside a node shares that node's side of a partition) is
    /// the caller's to check.
    #[inline]
    pub fn transmit_client(&self, latency: &Latency, rng: &mut SimRng) -> Transmission {
        self.carry(latency, &self.default_link, rng)
    }

    /// One message over `link` (its loss, duplication and reordering) with `latency`.
    #[inline]
    fn carry(&self, latency: &Latency, link: &LinkModel, rng: &mut SimRng) -> Transmission {
        if rng.chance(link.loss) || rng.chance(self.rates.loss) {
            return Transmission::Dropped;
        }
        let first = self.latency(latency, link, rng);
        if rng.chance(link.duplicate) || rng.chance(self.rates.duplicate) {
            let second = self.latency(latency, link, rng);
            return Transmission::Duplicated(first, second);
        }
        Transmission::Delivered(first)
    }

    #[inline]
    fn latency(&self, latency: &Latency, link: &LinkModel, rng: &mut SimRng) -> SimDuration {
        let base = latency.sample(rng);
        if rng.chance(link.reorder) || rng.chance(self.rates.reorder) {
            base + SimDuration(rng.between(0, link.reorder_delay.0))
        } else {
            base
        }
    }
}

/// Named partition shapes, producing the groups for [`Network::partition`].
pub mod shapes {
    use super::*;

    /// `node` alone; everyone else together.
    pub fn isolate(node_count: u32, node: NodeId) -> Vec<Vec<NodeId>> {
        let others = (0..node_count).map(NodeId).filter(|n| *n != node).collect();
        vec![vec![node], others]
    }

    /// A random minority and majority (sizes ⌊n/2⌋ and ⌈n/2⌉), drawn from `rng`.
    pub fn halves(node_count: u32, rng: &mut SimRng) -> Vec<Vec<NodeId>> {
        let mut nodes: Vec<NodeId> = (0..node_count).map(NodeId).collect();
        rng.shuffle(&mut nodes);
        let (minority, majority) = nodes.split_at((node_count / 2) as usize);
        let mut minority = minority.to_vec();
        let mut majority = majority.to_vec();
        minority.sort();
        majority.sort();
        vec![minority, majority]
    }

    /// Each node is linked to its nearest neighbours on a ring, enough of them that it sees a
    /// majority counting itself, yet no two nodes see the same majority (Jepsen's
    /// `majorities-ring`). Returned as two-node groups, one per kept link.
    pub fn majorities_ring(node_count: u32) -> Vec<Vec<NodeId>> {
        let reach = (node_count / 2).div_ceil(2);
        let mut links = Vec::new();
        for a in 0..node_count {
            for step in 1..=reach {
                let b = (a + step) % node_count;
                if a != b {
                    links.push(vec![NodeId(a.min(b)), NodeId(a.max(b))]);
                }
            }
        }
        links.sort();
        links.dedup();
        links
    }

    /// Two halves joined only through one bridge node that sees both (Jepsen's `bridge`).
    pub fn bridge(node_count: u32) -> Vec<Vec<NodeId>> {
        let bridge = node_count / 2;
        let left = (0..=bridge).map(NodeId).collect();
        let right = (bridge..node_count).map(NodeId).collect();
        vec![left, right]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_many(latency: &Latency, count: usize) -> Vec<u64> {
        let mut rng = SimRng::new(11);
        (0..count).map(|_| latency.sample(&mut rng).0).collect()
    }

    #[test]
    fn every_distribution_is_seeded_and_bounded() {
        let ms = SimDuration::from_millis;
        let models = [
            Latency::Uniform {
                min: ms(2),
                max: ms(4),
            },
            Latency::Exponential {
                min: ms(1),
                mean: ms(3),
                max: ms(50),
            },
            Latency::Normal {
                mean: ms(10),
                stddev: ms(3),
                min: ms(1),
                max: ms(30),
            },
            Latency::Lognormal {
                median: ms(5),
                sigma_milli: 800,
                max: ms(200),
            },
        ];
        for model in &models {
            let a = sample_many(model, 2_000);
            assert_eq!(a, sample_many(model, 2_000), "{model:?} not reproducible");
            let min = match model {
                Latency::Uniform { min, .. } | Latency::Exponential { min, .. } => min.0,
                Latency::Normal { min, .. } => min.0,
                _ => 0,
            };
            assert!(
                a.iter().all(|&x| x >= min && x <= model.max().0),
                "{model:?} out of bounds"
            );
            let distinct: std::collections::BTreeSet<_> = a.iter().collect();
            assert!(distinct.len() > 100, "{model:?} barely varies");
        }
    }

    #[test]
    fn distribution_means_are_roughly_right() {
        let ms = SimDuration::from_millis;
        let mean = |v: &[u64]| v.iter().sum::<u64>() as f64 / v.len() as f64 / 1e6;
        let exp = sample_many(
            &Latency::Exponential {
                min: ms(0),
                mean: ms(4),
                max: ms(1000),
            },
            20_000,
        );
        assert!(
            (mean(&exp) - 4.0).abs() < 0.2,
            "exponential mean {}",
            mean(&exp)
        );
        let normal = sample_many(
            &Latency::Normal {
                mean: ms(10),
                stddev: ms(2),
                min: ms(0),
                max: ms(100),
            },
            20_000,
        );
        assert!(
            (mean(&normal) - 10.0).abs() < 0.1,
            "normal mean {}",
            mean(&normal)
        );
        let mut log = sample_many(
            &Latency::Lognormal {
                median: ms(5),
                sigma_milli: 500,
                max: ms(1000),
            },
            20_001,
        );
        log.sort();
        let median = log[10_000] as f64 / 1e6;
        assert!((median - 5.0).abs() < 0.2, "lognormal median {median}");
    }

    #[test]
    fn one_way_partition_cuts_one_direction_only() {
        let mut network = Network::new(3, LinkModel::default());
        network.cut(NodeId(0), NodeId(1));
        assert!(!network.connected(NodeId(0), NodeId(1)));
        assert!(network.connected(NodeId(1), NodeId(0)));
        let mut rng = SimRng::new(1);
        assert_eq!(
            network.transmit(NodeId(0), NodeId(1), &mut rng),
            Transmission::Dropped
        );
        assert!(matches!(
            network.transmit(NodeId(1), NodeId(0), &mut rng),
            Transmission::Delivered(_)
        ));
        network.heal();
        assert!(network.cut_links().is_empty());
    }

    #[test]
    fn the_flat_reachability_table_follows_the_graph() {
        // `connected` reads a flat table kept beside the petgraph matrix: after any sequence
        // of cuts, restores, partitions and heals the two must agree on every link.
        let n = 5;
        let mut network = Network::new(n, LinkModel::default());
        let mut rng = SimRng::new(3);
        for step in 0..400 {
            let (a, b) = (NodeId(rng.below(5) as u32), NodeId(rng.below(5) as u32));
            match rng.below(10) {
                0..=3 => network.cut(a, b),
                4..=6 => network.restore(a, b),
                7 | 8 => network.partition(&shapes::halves(n, &mut rng)),
                _ => network.heal(),
            }
            for source in (0..n).map(NodeId) {
                for target in (0..n).map(NodeId) {
                    let in_graph = source == target
                        || (network.connectivity).has_edge(
                            network.indices[source.index()],
                            network.indices[target.index()],
                        );
                    assert_eq!(
                        network.connected(source, target),
                        in_graph,
                        "step {step}: {source}->{target}"
                    );
                }
            }
        }
    }

    #[test]
    fn isolate_cuts_the_node_both_ways() {
        let mut network = Network::new(5, LinkModel::default());
        network.partition(&shapes::isolate(5, NodeId(2)));
        for other in [0, 1, 3, 4].map(NodeId) {
            assert!(!network.connected(NodeId(2), other) && !network.connected(other, NodeId(2)));
        }
        assert!(network.connected(NodeId(0), NodeId(4)));
        assert_eq!(network.cut_links().len(), 8);
    }

    #[test]
    fn majorities_ring_gives_every_node_a_majority_but_no_common_one() {
        let mut network = Network::new(5, LinkModel::default());
        network.partition(&shapes::majorities_ring(5));
        for a in 0..5u32 {
            let reachable = (0..5)
                .filter(|&b| network.connected(NodeId(a), NodeId(b)))
                .count();
            assert!(reachable >= 3, "node {a} sees only {reachable}");
        }
        let seen_by = |a: u32| -> Vec<u32> {
            (0..5)
                .filter(|&b| network.connected(NodeId(a), NodeId(b)))
                .collect()
        };
        assert_eq!(seen_by(0), [0, 1, 4]);
        assert_eq!(seen_by(2), [1, 2, 3]);
    }

    #[test]
    fn bridge_node_sees_both_sides() {
        let mut network = Network::new(5, LinkModel::default());
        network.partition(&shapes::bridge(5));
        assert!(network.connected(NodeId(2), NodeId(0)) && network.connected(NodeId(2), NodeId(4)));
        assert!(!network.connected(NodeId(0), NodeId(4)));
    }

    #[test]
    fn halves_are_a_minority_and_a_majority() {
        let mut rng = SimRng::new(3);
        let groups = shapes::halves(5, &mut rng);
        assert_eq!((groups[0].len(), groups[1].len()), (2, 3));
    }

    #[test]
    fn loss_and_duplication_follow_their_ratios() {
        let model = LinkModel {
            loss: Ratio::new(1, 4),
            duplicate: Ratio::new(1, 2),
            ..LinkModel::default()
        };
        let network = Network::new(2, model);
        let mut rng = SimRng::new(5);
        let (mut dropped, mut duplicated) = (0, 0);
        for _ in 0..8_000 {
            match network.transmit(NodeId(0), NodeId(1), &mut rng) {
                Transmission::Dropped => dropped += 1,
                Transmission::Duplicated(..) => duplicated += 1,
                Transmission::Delivered(_) => {}
            }
        }
        assert!((1_800..2_200).contains(&dropped), "{dropped}");
        assert!((2_800..3_200).contains(&duplicated), "{duplicated}");
    }
}
