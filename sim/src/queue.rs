//! The event queue: a binary heap ordered by (time, insertion sequence).
//!
//! Two events at the same true time are applied in the order they were scheduled. That
//! tie-break is part of the determinism contract — it makes a run independent of heap internals
//! — and is what a reader of a trace can rely on: cause before effect, first scheduled first.

use crate::time::SimTime;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A heap key: small and `Copy`, so sifting moves 24 bytes whatever the event's size. The event
/// itself waits in a slab slot.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key {
    time: SimTime,
    sequence: u64,
    slot: u32,
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    /// Reversed, so the std max-heap pops the earliest (time, sequence) first. Sequences are
    /// unique, so the slot never decides.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.sequence).cmp(&(self.time, self.sequence))
    }
}

/// A priority queue of events keyed by simulated time, FIFO among equal times.
pub struct EventQueue<E> {
    heap: BinaryHeap<Key>,
    slots: Vec<Option<E>>,
    free: Vec<u32>,
    next_sequence: u64,
    capacity_limit: usize,
}

impl<E> EventQueue<E> {
    /// An empty queue that refuses to hold more than `capacity_limit` events.
    pub fn new(capacity_limit: usize) -> EventQueue<E> {
        EventQueue {
            heap: BinaryHeap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            next_sequence: 0,
            capacity_limit: capacity_limit.min(u32::MAX as usize),
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
        self.next_sequence += 1;
        self.heap.push(Key {
            time,
            sequence,
            slot,
        });
        true
    }

    /// Removes and returns the earliest event.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let key = self.heap.pop()?;
        let event = self.slots[key.slot as usize]
            .take()
            .expect("a queued key has its event");
        self.free.push(key.slot);
        Some((key.time, event))
    }

    /// The time of the earliest event.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|key| key.time)
    }

    /// How many events are waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
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
