//! A bare discrete-event loop: the yardstick the engine's speed is measured against.
//!
//! It does the least any simulator must do per event — pop the earliest event from a binary
//! heap, draw one random delay from the same ChaCha8 generator, push the follow-up event — and
//! nothing else. `detsim bench` runs it for the same number of events as a real scenario and
//! reports the engine's events per second as a fraction of this loop's.

use crate::rng::SimRng;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Runs `events` events through a bare heap loop with `pending` events in flight. Returns a
/// checksum so the work cannot be optimised away.
pub fn bare_event_loop(events: u64, pending: usize, seed: u64) -> u64 {
    let mut rng = SimRng::new(seed);
    let mut heap: BinaryHeap<Reverse<(u64, u64, u64)>> = BinaryHeap::with_capacity(pending + 1);
    let mut sequence = 0u64;
    for i in 0..pending.max(1) as u64 {
        heap.push(Reverse((rng.below(1_000_000), sequence, i)));
        sequence += 1;
    }
    let mut checksum = 0u64;
    for _ in 0..events {
        let Reverse((time, _, payload)) = heap.pop().expect("the loop keeps its queue full");
        checksum = checksum.wrapping_mul(31).wrapping_add(time ^ payload);
        let delay = 1 + rng.below(5_000_000);
        heap.push(Reverse((time + delay, sequence, payload)));
        sequence += 1;
    }
    checksum
}

#[cfg(test)]
mod tests {
    #[test]
    fn bare_loop_is_deterministic() {
        assert_eq!(
            super::bare_event_loop(1000, 16, 1),
            super::bare_event_loop(1000, 16, 1)
        );
        assert_ne!(
            super::bare_event_loop(1000, 16, 1),
            super::bare_event_loop(1000, 16, 2)
        );
    }
}
