//! Consistent hashing: which participant holds an account.
//!
//! A sharded service must place each key on one node, and keep placing it there while the
//! cluster changes. `key mod n` places keys evenly but moves almost all of them when `n`
//! changes: a key stays put only when `key mod n = key mod (n ± 1)`, about one key in `n`.
//! Consistent hashing (Karger et al., 1997) puts every node at points of a ring of 2⁶⁴
//! positions and a key on the first node point at or after the key's own position, so adding a
//! node moves only the keys that fall between its points and their predecessors — about `1/n`
//! of them — and removing one moves only its own keys.
//!
//! With one point per node the arcs between points vary a lot (the largest of `n` arcs is about
//! `ln n / n` of the ring); giving each node `v` **virtual nodes** (points) averages that out: the
//! largest share shrinks towards `1/n` as `v` grows. The unit tests below measure both the
//! balance with 100 virtual nodes and the movement against `key mod n`, and print the figures
//! (`cargo test -p protocols placement -- --nocapture`).
//!
//! Positions come from SplitMix64's finaliser — a fixed function, the same on every machine —
//! never from the standard library's randomly seeded hasher.

use sim::protocol::{Key, NodeId};
use std::fmt;

/// Most virtual nodes per participant: each costs a point in the ring.
pub const VIRTUAL_NODE_COUNT_MAX: u32 = 10_000;

/// A ring that cannot be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RingError {
    /// No participants to place keys on.
    NoParticipants,
    /// Virtual nodes per participant outside `1..=VIRTUAL_NODE_COUNT_MAX`.
    VirtualNodes(u32),
}

impl fmt::Display for RingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RingError::NoParticipants => write!(f, "a ring needs at least one participant"),
            RingError::VirtualNodes(count) => write!(
                f,
                "virtual_nodes = {count} is outside 1..={VIRTUAL_NODE_COUNT_MAX}: every \
                 participant needs at least one point on the ring"
            ),
        }
    }
}

/// SplitMix64's finaliser: a bijection of `u64` that spreads nearby inputs far apart.
pub fn mix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Salts keeping key positions and node points from being the same function.
const KEY_SALT: u64 = 0x6B65_795F_7269_6E67;
const POINT_SALT: u64 = 0x706F_696E_745F_7631;

/// A hash ring with virtual nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ring {
    /// Points in position order (ties broken by node, so the order is total).
    points: Vec<(u64, NodeId)>,
    virtual_nodes: u32,
}

impl Ring {
    /// A ring placing keys on `participants`, each at `virtual_nodes` points.
    pub fn new(participants: &[NodeId], virtual_nodes: u32) -> Result<Ring, RingError> {
        if participants.is_empty() {
            return Err(RingError::NoParticipants);
        }
        if virtual_nodes == 0 || virtual_nodes > VIRTUAL_NODE_COUNT_MAX {
            return Err(RingError::VirtualNodes(virtual_nodes));
        }
        let mut points = Vec::with_capacity(participants.len() * virtual_nodes as usize);
        for &node in participants {
            for point in 0..virtual_nodes {
                let position = mix(POINT_SALT ^ mix((u64::from(node.0) << 32) | u64::from(point)));
                points.push((position, node));
            }
        }
        points.sort_unstable();
        Ok(Ring {
            points,
            virtual_nodes,
        })
    }

    /// How many points each participant has.
    pub fn virtual_nodes(&self) -> u32 {
        self.virtual_nodes
    }

    /// The position of a key on the ring.
    pub fn position(key: Key) -> u64 {
        mix(KEY_SALT ^ mix(key))
    }

    /// The participant that holds `key`: the first point at or after its position, wrapping.
    pub fn owner(&self, key: Key) -> NodeId {
        let position = Ring::position(key);
        let at = self.points.partition_point(|(point, _)| *point < position);
        self.points[at % self.points.len()].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_COUNT: u64 = 100_000;
    const PINNED: [u32; 12] = [2, 1, 0, 2, 0, 0, 2, 1, 1, 2, 2, 1];

    fn nodes(count: u32) -> Vec<NodeId> {
        (0..count).map(NodeId).collect()
    }

    /// The largest participant's share of `KEY_COUNT` keys, as a multiple of the fair `1/n`.
    fn largest_share(ring: &Ring, count: u32) -> f64 {
        let mut held = vec![0u64; count as usize];
        for key in 0..KEY_COUNT {
            held[ring.owner(key).index()] += 1;
        }
        let largest = *held.iter().max().unwrap() as f64 / KEY_COUNT as f64;
        largest * f64::from(count)
    }

    fn moved(before: impl Fn(Key) -> NodeId, after: impl Fn(Key) -> NodeId) -> f64 {
        let moved = (0..KEY_COUNT)
            .filter(|key| before(*key) != after(*key))
            .count();
        moved as f64 / KEY_COUNT as f64
    }

    #[test]
    fn a_ring_without_virtual_nodes_is_refused() {
        assert_eq!(Ring::new(&nodes(3), 0), Err(RingError::VirtualNodes(0)));
        assert_eq!(Ring::new(&[], 100), Err(RingError::NoParticipants));
    }

    #[test]
    fn placement_is_a_fixed_function() {
        let ring = Ring::new(&nodes(3), 100).unwrap();
        let owners: Vec<u32> = (0..12).map(|key| ring.owner(key).0).collect();
        // Pinned: a change of the hash would move every account of every scenario.
        assert_eq!(owners, PINNED);
    }

    #[test]
    fn virtual_nodes_balance_the_shards() {
        println!("largest shard's share of {KEY_COUNT} keys, as a multiple of the fair 1/n:");
        for count in [2, 3, 5, 8, 16] {
            let one = largest_share(&Ring::new(&nodes(count), 1).unwrap(), count);
            let hundred = largest_share(&Ring::new(&nodes(count), 100).unwrap(), count);
            println!("  n = {count:2}: 1 virtual node {one:.3}, 100 virtual nodes {hundred:.3}");
            // With 100 points each, the largest shard stays within a quarter of its fair share.
            assert!(
                hundred < 1.25,
                "n = {count}: largest share {hundred:.3} of fair"
            );
        }
    }

    #[test]
    fn adding_or_removing_a_participant_moves_about_one_key_in_n() {
        println!("share of {KEY_COUNT} keys that move (100 virtual nodes against key mod n):");
        for count in [3u32, 5, 8] {
            let small = Ring::new(&nodes(count), 100).unwrap();
            let large = Ring::new(&nodes(count + 1), 100).unwrap();
            let ring_add = moved(|key| small.owner(key), |key| large.owner(key));
            let ring_remove = moved(|key| large.owner(key), |key| small.owner(key));
            let modulo = moved(
                |key| NodeId((key % u64::from(count)) as u32),
                |key| NodeId((key % u64::from(count + 1)) as u32),
            );
            let ideal = 1.0 / f64::from(count + 1);
            println!(
                "  {count} -> {}: ring {ring_add:.3} (ideal 1/{} = {ideal:.3}), key mod n \
                 {modulo:.3}; removing node {count} again moves {ring_remove:.3}",
                count + 1,
                count + 1
            );
            // Only the new node's keys move, so adding and removing move the same keys.
            assert_eq!(ring_add, ring_remove);
            assert!((ring_add - ideal).abs() < 0.05, "ring moved {ring_add:.3}");
            assert!(modulo > 0.7, "key mod n moved only {modulo:.3}");
            for key in 0..1_000 {
                let before = small.owner(key);
                let after = large.owner(key);
                assert!(
                    before == after || after == NodeId(count),
                    "key {key} moved between old nodes"
                );
            }
        }
    }
}
