//! Cluster membership (Ongaro's dissertation ch. 4): which servers vote.
//!
//! A configuration is the set of voting servers. It lives in the log, as a configuration entry
//! (dissertation §4.1); a server uses the latest configuration in its log, committed or not, and
//! counts majorities of it for elections, commits, check-quorum and read confirmation. Changes
//! add or remove one server at a time, so that a majority of the old configuration and a
//! majority of the new one always overlap (Figure 4.3).

use sim::protocol::NodeId;
use std::fmt;

/// A set of voting servers, one bit per node id (Raft nodes are at most 64).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Configuration(u64);

impl Configuration {
    /// Nodes `0..count`.
    pub fn first(count: u32) -> Configuration {
        assert!(
            (1..=64).contains(&count),
            "a configuration of {count} nodes"
        );
        Configuration(if count == 64 {
            u64::MAX
        } else {
            (1u64 << count) - 1
        })
    }

    /// Whether `node` votes in this configuration.
    pub fn contains(self, node: NodeId) -> bool {
        node.0 < 64 && self.0 & (1 << node.0) != 0
    }

    /// This configuration with `node` added.
    pub fn with(self, node: NodeId) -> Configuration {
        assert!(node.0 < 64, "{node} beyond the largest cluster");
        Configuration(self.0 | 1 << node.0)
    }

    /// This configuration with `node` removed.
    pub fn without(self, node: NodeId) -> Configuration {
        Configuration(self.0 & !(1u64.checked_shl(node.0).unwrap_or(0)))
    }

    /// How many servers vote.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether no server votes (never a configuration in force).
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The size of a majority of this configuration.
    pub fn quorum(self) -> usize {
        self.len() / 2 + 1
    }

    /// Whether the servers for which `counted` holds are a majority of this configuration.
    pub fn has_majority(self, counted: impl Fn(NodeId) -> bool) -> bool {
        self.members().filter(|node| counted(*node)).count() >= self.quorum()
    }

    /// The voting servers, in id order.
    pub fn members(self) -> impl Iterator<Item = NodeId> {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let node = bits.trailing_zeros();
            bits &= bits - 1;
            Some(NodeId(node))
        })
    }

    /// The servers in this configuration and not in `other`, in id order.
    pub fn minus(self, other: Configuration) -> Configuration {
        Configuration(self.0 & !other.0)
    }

    /// The lowest server of the set, if any.
    pub fn lowest(self) -> Option<NodeId> {
        (self.0 != 0).then(|| NodeId(self.0.trailing_zeros()))
    }

    /// How many servers are in one of the two configurations and not the other (1 for a
    /// single-server change, dissertation §4.1).
    pub fn distance(self, other: Configuration) -> usize {
        (self.0 ^ other.0).count_ones() as usize
    }
}

impl fmt::Display for Configuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let members: Vec<String> = self.members().map(|node| node.to_string()).collect();
        write!(f, "{{{}}}", members.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majorities_of_configurations_one_server_apart_overlap() {
        let four = Configuration::first(4);
        let five = four.with(NodeId(4));
        assert_eq!((four.quorum(), five.quorum()), (3, 3));
        assert_eq!(four.distance(five), 1);
        assert_eq!(five.without(NodeId(0)).to_string(), "{n1 n2 n3 n4}");
        assert_eq!(five.minus(four).lowest(), Some(NodeId(4)));
        assert!(Configuration::first(64).contains(NodeId(63)));
    }
}
