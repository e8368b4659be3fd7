//! A bare discrete-event loop: the yardstick the engine's speed is measured against.
//!
//! It does the least any simulator must do per event — pop the earliest event from a binary
//! heap, draw one random delay from the same ChaCha8 generator, push the follow-up event — and
//! nothing else. `detsim bench` runs it for the same number of events as a real scenario and
//! reports the engine's events per second as a fraction of this loop's.
//!
//! The yardstick must not move when the engine's parts get faster: its draw is written out
//! here (the multiply-and-reject with the threshold computed on every draw that
//! [`SimRng::below`] used when the ratios in the README were first measured), not borrowed from
//! [`SimRng`], so a cheaper `below` speeds the engine and leaves the yardstick as it was.

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
        heap.push(Reverse((draw_below(&mut rng, 1_000_000), sequence, i)));
        sequence += 1;
    }
    let mut checksum = 0u64;
    for _ in 0..events {
        let Reverse((time, _, payload)) = heap.pop().expect("the loop keeps its queue full");
        checksum = checksum.wrapping_mul(31).wrapping_add(time ^ payload);
        let delay = 1 + draw_below(&mut rng, 5_000_000);
        heap.push(Reverse((time + delay, sequence, payload)));
        sequence += 1;
    }
    checksum
}

/// A uniform integer in `0..bound`: the yardstick's own copy of the draw (see the module
/// documentation). It keeps the same values as [`SimRng::below`].
#[inline]
pub(crate) fn draw_below(rng: &mut SimRng, bound: u64) -> u64 {
    let threshold = bound.wrapping_neg() % bound;
    loop {
        let product = u128::from(rng.next_u64()) * u128::from(bound);
        if (product as u64) >= threshold {
            return (product >> 64) as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    const PINNED: u64 = 14_360_940_459_607_939_230;

    #[test]
    fn the_yardstick_keeps_its_draws() {
        // Pinned: a change here moves the yardstick every bench ratio is measured against.
        assert_eq!(super::bare_event_loop(1000, 16, 1), PINNED);
    }

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
