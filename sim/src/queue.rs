//! The event queue: a binary heap ordered by (time, insertion sequence).
//!
//! Two events at the same true time are applied in the order they were scheduled. That
//! tie-break is part of the determinism contract — it makes a run independent of heap internals
//! — and is what a reader of a trace can rely on: cause before effect, first scheduled first.

use crate::time::SimTime;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Bits of a heap key that hold the slab slot; the sequence number sits above them.
const SLOT_BITS: u32 = 24;
/// Most events that can wait at once (slots are 24 bits).
const SLOT_LIMIT: usize = 1 << SLOT_BITS;
/// Sequence numbers are 40 bits: a trillion events per run.
const SEQUENCE_LIMIT: u64 = 1 << (64 - SLOT_BITS);

/// A heap key packs (time, sequence, slot) into one `u128`, compared in a single instruction
/// pair: time in the high 64 bits, then the sequence number, then the slab slot. Sequence
/// numbers are unique, so the slot never decides the order; the event itself waits in the slab.
fn key(time: SimTime, sequence: u64, slot: u32) -> Reverse<u128> {
    Reverse((u128::from(time.0) << 64) | u128::from(sequence << SLOT_BITS) | u128::from(slot))
}

fn unpack(key: Reverse<u128>) -> (SimTime, u32) {
    let Reverse(bits) = key;
    (
        SimTime((bits >> 64) as u64),
        (bits as u32) & ((1 << SLOT_BITS) - 1),
    )
}

/// A priority queue of events keyed by simulated time, FIFO among equal times.
pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<u128>>,
    slots: Vec<Option<E>>,
    free: Vec<u32>,
    next_sequence: u64,
    capacity_limit: usize,
    depth_total: u128,
    pops: u64,
}

impl<E> EventQueue<E> {
    /// An empty queue that refuses to hold more than `capacity_limit` events.
    pub fn new(capacity_limit: usize) -> EventQueue<E> {
        EventQueue {
            heap: BinaryHeap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            next_sequence: 0,
            capacity_limit: capacity_limit.min(SLOT_LIMIT),
            depth_total: 0,
            pops: 0,
        }
    }

    /// Schedules `event` at `time`. Returns false (and drops the event) when the queue is full;
    /// the caller turns that into a verdict rather than growing without bound.
    #[must_use]
    pub fn push(&mut self, time: SimTime, event: E) -> bool {
        if self.heap.len() >= self.capacity_limit {
            return false;
        }
        let slot = match self.free.pop() {
            Some(slot) => {
                debug_assert!(self.slots[slot as usize].is_none());
                self.slots[slot as usize] = Some(event);
                slot
            }
            None => {
                self.slots.push(Some(event));
                (self.slots.len() - 1) as u32
            }
        };
        let sequence = self.next_sequence;
        assert!(
            sequence < SEQUENCE_LIMIT,
            "more than 2^40 events scheduled in one run"
        );
        self.next_sequence += 1;
        self.heap.push(key(time, sequence, slot));
        true
    }

    /// Removes and returns the earliest event.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.depth_total += self.heap.len() as u128;
        self.pops += 1;
        let (time, slot) = unpack(self.heap.pop()?);
        let event = self.slots[slot as usize]
            .take()
            .expect("a queued key has its event");
        self.free.push(slot);
        Some((time, event))
    }

    /// The time of the earliest event.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|key| unpack(*key).0)
    }

    /// How many events are waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// The mean number of events waiting at a pop, rounded down: how deep the queue runs.
    pub fn mean_depth(&self) -> u64 {
        if self.pops == 0 {
            0
        } else {
            (self.depth_total / u128::from(self.pops)) as u64
        }
    }

    /// Whether no event is waiting.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_times_pop_in_insertion_order() {
        let mut queue = EventQueue::new(100);
        for label in ["a", "b", "c"] {
            assert!(queue.push(SimTime(5), label));
        }
        assert!(queue.push(SimTime(1), "first"));
        assert!(queue.push(SimTime(5), "d"));
        let order: Vec<&str> = std::iter::from_fn(|| queue.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, ["first", "a", "b", "c", "d"]);
    }

    #[test]
    fn pops_in_time_order_whatever_the_insertion_order() {
        let mut queue = EventQueue::new(100);
        for time in [9u64, 3, 7, 1, 8, 2] {
            assert!(queue.push(SimTime(time), time));
        }
        let times: Vec<u64> = std::iter::from_fn(|| queue.pop().map(|(t, _)| t.0)).collect();
        assert_eq!(times, [1, 2, 3, 7, 8, 9]);
    }

    #[test]
    fn refuses_events_beyond_its_limit() {
        let mut queue = EventQueue::new(2);
        assert!(queue.push(SimTime(1), ()));
        assert!(queue.push(SimTime(1), ()));
        assert!(!queue.push(SimTime(1), ()));
        assert_eq!(queue.len(), 2);
    }
}
