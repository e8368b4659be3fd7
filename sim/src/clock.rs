//! Local clocks of nodes and client processes.
//!
//! Each process (node or client) has two clocks driven by one oscillator, as a real machine has
//! `CLOCK_MONOTONIC` and `CLOCK_REALTIME` ([`ProcessClocks`]):
//!
//! - the **monotonic** clock measures elapsed time: it drifts with the oscillator, but has no
//!   meaningful offset and never jumps. Timers are deadlines on it, converted here to the true
//!   time at which it reaches them — so a slow node's timeout really does fire late in true
//!   time, and with drift `d` a timer of delay `t` fires after `t / (1 + d)` of true time;
//! - the **wall** clock is what the process believes the date is: it starts at an offset from
//!   true time, drifts with the same oscillator, and jumps when the scenario says so (an NTP
//!   step, an operator setting the clock). A protocol reads it only when it chooses to
//!   ([`crate::protocol::Context::wall_clock`]); code that trusts it across a jump is what
//!   clock faults break.
//!
//! Each clock ([`NodeClock`]) is piecewise linear in true time: `local = base_local + (true -
//! base_true) × (1 + drift)`, with drift in parts per million. An offset is part of
//! `base_local`; a jump starts a new segment with `base_local` moved; changing the drift starts a
//! new segment at the current reading.
//!
//! Local readings are offset by [`LOCAL_EPOCH`] so that a clock set back from the start of the
//! simulation still reads a positive number, as real wall clocks do.

use crate::time::{SimDuration, SimTime};

/// Local clocks read this (1,000,000 s) at true time zero, before offsets.
pub const LOCAL_EPOCH: u64 = 1_000_000 * 1_000_000_000;

const PPM: i128 = 1_000_000;

/// Largest drift accepted, in ppm (±50%): beyond that a clock is not a clock.
pub const DRIFT_PPM_LIMIT: i64 = 500_000;

/// One clock: a piecewise-linear function of true time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeClock {
    base_true: u64,
    /// The local reading at `base_true` (never below zero).
    base_local: u64,
    drift_ppm: i64,
}

impl NodeClock {
    /// A clock with `offset` nanoseconds added to true time (may be negative) and `drift_ppm`.
    pub fn new(offset: i64, drift_ppm: i64) -> NodeClock {
        assert!(
            drift_ppm.abs() <= DRIFT_PPM_LIMIT,
            "detsim bug: drift {drift_ppm} ppm beyond ±{DRIFT_PPM_LIMIT} passed validation"
        );
        assert!(
            i128::from(offset).abs() < i128::from(LOCAL_EPOCH),
            "detsim bug: clock offset {offset} ns beyond the local epoch passed validation"
        );
        NodeClock {
            base_true: 0,
            base_local: LOCAL_EPOCH.wrapping_add_signed(offset),
            drift_ppm,
        }
    }

    /// The current drift in ppm.
    #[inline]
    pub fn drift_ppm(&self) -> i64 {
        self.drift_ppm
    }

    /// The local reading at true time `now` (which must not precede the last change).
    #[inline]
    pub fn local_at(&self, now: SimTime) -> SimTime {
        if self.drift_ppm == 0 {
            // The common case, in 64-bit arithmetic: a handler call reads two clocks.
            assert!(
                now.0 >= self.base_true,
                "detsim bug: clock read before its last change"
            );
            let local = self.base_local.checked_add(now.0 - self.base_true);
            return SimTime(local.expect("detsim bug: local clock overflow"));
        }
        let local = self.local_exact(now);
        assert!(local >= 0, "detsim bug: local clock went below zero");
        SimTime(u64::try_from(local).expect("detsim bug: local clock overflow"))
    }

    fn local_exact(&self, now: SimTime) -> i128 {
        assert!(
            now.0 >= self.base_true,
            "detsim bug: clock read before its last change"
        );
        let elapsed = i128::from(now.0 - self.base_true);
        let base = i128::from(self.base_local);
        if self.drift_ppm == 0 {
            return base + elapsed;
        }
        // Floor division: the local clock never runs ahead of its exact value.
        base + (elapsed * (PPM + i128::from(self.drift_ppm))).div_euclid(PPM)
    }

    /// The earliest true time (not before `now`) at which the local clock reads at least
    /// `local_deadline`.
    pub fn true_time_of(&self, now: SimTime, local_deadline: SimTime) -> SimTime {
        let reading = self.local_exact(now);
        let target = i128::from(local_deadline.0);
        if target <= reading {
            return now;
        }
        let rate = PPM + i128::from(self.drift_ppm);
        let needed = target - i128::from(self.base_local);
        if self.drift_ppm == 0 {
            let result = i128::from(self.base_true) + needed;
            return SimTime(u64::try_from(result.max(i128::from(now.0))).unwrap_or(u64::MAX));
        }
        // Ceiling division, so that local_at(result) >= local_deadline.
        let elapsed = (needed * PPM + rate - 1).div_euclid(rate);
        let result = i128::from(self.base_true) + elapsed;
        SimTime(u64::try_from(result.max(i128::from(now.0))).unwrap_or(u64::MAX))
    }

    /// Moves the clock by `delta` nanoseconds (forward or back) at true time `now`.
    pub fn jump(&mut self, now: SimTime, delta: i64) {
        let reading = self.local_exact(now);
        let moved = reading + i128::from(delta);
        assert!(moved >= 0, "detsim bug: clock jump below the local epoch");
        self.base_true = now.0;
        self.base_local = u64::try_from(moved).expect("detsim bug: local clock overflow");
    }

    /// Changes the drift from true time `now` on, keeping the current reading.
    pub fn set_drift(&mut self, now: SimTime, drift_ppm: i64) {
        assert!(
            drift_ppm.abs() <= DRIFT_PPM_LIMIT,
            "detsim bug: drift {drift_ppm} ppm beyond ±{DRIFT_PPM_LIMIT} passed validation"
        );
        self.base_local = self.local_at(now).0;
        self.base_true = now.0;
        self.drift_ppm = drift_ppm;
    }

    /// The local deadline `delay` after the reading at `now`. A delay past the end of local
    /// time (a protocol's "never") saturates instead of overflowing.
    #[inline]
    pub fn deadline_after(&self, now: SimTime, delay: SimDuration) -> SimTime {
        self.local_at(now).saturating_add(delay)
    }

    /// A timer set at true time `now` for `delay`: its local deadline
    /// ([`NodeClock::deadline_after`]) and the true time it fires
    /// ([`NodeClock::true_time_of`] of that deadline), with one reading of the clock.
    #[inline]
    pub fn deadline_and_firing(&self, now: SimTime, delay: SimDuration) -> (SimTime, SimTime) {
        let deadline = self.deadline_after(now, delay);
        if self.drift_ppm == 0 {
            // Local time runs at true time's rate: the timer fires `delay` from now (unless
            // the deadline saturated, which the general path handles).
            if let Some(fire) = now.0.checked_add(delay.0) {
                if deadline.0 < u64::MAX {
                    return (deadline, SimTime(fire));
                }
            }
        }
        (deadline, self.true_time_of(now, deadline))
    }
}

/// A process's two clocks: monotonic (for timers and elapsed time) and wall (offset, drift,
/// jumps), driven by one oscillator, so both share the drift.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessClocks {
    monotonic: NodeClock,
    wall: NodeClock,
}

impl ProcessClocks {
    /// Clocks whose wall clock reads `offset` nanoseconds from true time (may be negative), both
    /// drifting by `drift_ppm`. The monotonic clock starts at [`LOCAL_EPOCH`] whatever the
    /// offset: only its differences mean anything.
    pub fn new(offset: i64, drift_ppm: i64) -> ProcessClocks {
        ProcessClocks {
            monotonic: NodeClock::new(0, drift_ppm),
            wall: NodeClock::new(offset, drift_ppm),
        }
    }

    /// The monotonic reading at true time `now`.
    #[inline]
    pub fn monotonic_at(&self, now: SimTime) -> SimTime {
        self.monotonic.local_at(now)
    }

    /// The wall-clock reading at true time `now`.
    #[inline]
    pub fn wall_at(&self, now: SimTime) -> SimTime {
        self.wall.local_at(now)
    }

    /// The oscillator's current drift in ppm.
    #[inline]
    pub fn drift_ppm(&self) -> i64 {
        self.monotonic.drift_ppm()
    }

    /// Steps the wall clock by `delta` nanoseconds at true time `now`; the monotonic clock, and
    /// so every timer, is untouched.
    pub fn jump_wall(&mut self, now: SimTime, delta: i64) {
        self.wall.jump(now, delta);
    }

    /// Changes the oscillator's drift from `now` on: both clocks keep their readings and run at
    /// the new rate. Running timers must be rescheduled ([`ProcessClocks::true_time_of`]).
    pub fn set_drift(&mut self, now: SimTime, drift_ppm: i64) {
        self.monotonic.set_drift(now, drift_ppm);
        self.wall.set_drift(now, drift_ppm);
    }

    /// The monotonic deadline `delay` after `now` (saturating: a protocol's "never").
    #[inline]
    pub fn deadline_after(&self, now: SimTime, delay: SimDuration) -> SimTime {
        self.monotonic.deadline_after(now, delay)
    }

    /// The earliest true time (not before `now`) at which the monotonic clock reaches
    /// `deadline`.
    pub fn true_time_of(&self, now: SimTime, deadline: SimTime) -> SimTime {
        self.monotonic.true_time_of(now, deadline)
    }

    /// A timer on the monotonic clock: see [`NodeClock::deadline_and_firing`].
    #[inline]
    pub fn deadline_and_firing(&self, now: SimTime, delay: SimDuration) -> (SimTime, SimTime) {
        self.monotonic.deadline_and_firing(now, delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wall_jump_leaves_the_monotonic_clock_and_its_deadlines_alone() {
        let mut clocks = ProcessClocks::new(3 * MS as i64, 0);
        let deadline = clocks.deadline_after(SimTime(0), SimDuration::from_millis(100));
        assert_eq!(clocks.monotonic_at(SimTime(0)).0, LOCAL_EPOCH);
        assert_eq!(clocks.wall_at(SimTime(0)).0, LOCAL_EPOCH + 3 * MS);
        clocks.jump_wall(SimTime(10 * MS), -(500 * MS as i64));
        assert_eq!(
            clocks.wall_at(SimTime(10 * MS)).0,
            LOCAL_EPOCH + 13 * MS - 500 * MS
        );
        assert_eq!(
            clocks.monotonic_at(SimTime(10 * MS)).0,
            LOCAL_EPOCH + 10 * MS
        );
        assert_eq!(clocks.true_time_of(SimTime(10 * MS), deadline).0, 100 * MS);
    }

    #[test]
    fn drift_moves_both_clocks_at_one_rate() {
        let mut clocks = ProcessClocks::new(0, 0);
        clocks.set_drift(SimTime(0), 250_000);
        // A 100 ms timer fires after 100 / 1.25 = 80 ms of true time.
        let deadline = clocks.deadline_after(SimTime(0), SimDuration::from_millis(100));
        assert_eq!(clocks.true_time_of(SimTime(0), deadline).0, 80 * MS);
        assert_eq!(clocks.wall_at(SimTime(80 * MS)).0, LOCAL_EPOCH + 100 * MS);
        assert_eq!(clocks.drift_ppm(), 250_000);
    }

    const MS: u64 = 1_000_000;

    #[test]
    fn offset_shifts_the_reading() {
        let clock = NodeClock::new(-5 * MS as i64, 0);
        assert_eq!(clock.local_at(SimTime(10 * MS)).0, LOCAL_EPOCH + 5 * MS);
    }

    #[test]
    fn a_fast_clock_fires_timers_early_in_true_time() {
        // +10% drift: 100 ms of local time pass in ~90.9 ms of true time.
        let clock = NodeClock::new(0, 100_000);
        let deadline = clock.deadline_after(SimTime(0), SimDuration::from_millis(100));
        let fire = clock.true_time_of(SimTime(0), deadline);
        assert_eq!(fire.0, 90_909_091);
        assert!(clock.local_at(fire) >= deadline);
        assert!(clock.local_at(SimTime(fire.0 - 1)) < deadline);
    }

    #[test]
    fn a_slow_clock_fires_timers_late_in_true_time() {
        let clock = NodeClock::new(0, -200_000);
        let deadline = clock.deadline_after(SimTime(0), SimDuration::from_millis(80));
        assert_eq!(clock.true_time_of(SimTime(0), deadline).0, 100 * MS);
    }

    #[test]
    fn jumps_move_the_reading_and_the_timers() {
        let mut clock = NodeClock::new(0, 0);
        let deadline = clock.deadline_after(SimTime(0), SimDuration::from_millis(100));
        clock.jump(SimTime(10 * MS), 50 * MS as i64);
        assert_eq!(clock.local_at(SimTime(10 * MS)).0, LOCAL_EPOCH + 60 * MS);
        assert_eq!(clock.true_time_of(SimTime(10 * MS), deadline).0, 50 * MS);
        clock.jump(SimTime(20 * MS), -(70 * MS as i64));
        assert_eq!(clock.local_at(SimTime(20 * MS)).0, LOCAL_EPOCH);
        assert_eq!(clock.true_time_of(SimTime(20 * MS), deadline).0, 120 * MS);
    }

    #[test]
    fn drift_change_keeps_the_reading_continuous() {
        let mut clock = NodeClock::new(0, 0);
        clock.set_drift(SimTime(100 * MS), 500_000);
        assert_eq!(clock.local_at(SimTime(100 * MS)).0, LOCAL_EPOCH + 100 * MS);
        assert_eq!(clock.local_at(SimTime(200 * MS)).0, LOCAL_EPOCH + 250 * MS);
    }

    #[test]
    fn deadline_and_firing_agrees_with_its_two_parts() {
        let mut clocks = vec![NodeClock::new(0, 0), NodeClock::new(-3 * MS as i64, 0)];
        let mut drifting = NodeClock::new(0, 0);
        drifting.set_drift(SimTime(5 * MS), 120_000);
        clocks.push(drifting);
        let mut jumped = NodeClock::new(0, 0);
        jumped.jump(SimTime(2 * MS), -(MS as i64));
        clocks.push(jumped);
        for clock in &clocks {
            for (now, delay) in [
                (7 * MS, 0),
                (7 * MS, 1),
                (9 * MS, 150 * MS),
                (86_400_000_000 * MS, 9),
            ] {
                let (now, delay) = (SimTime(now), SimDuration(delay));
                let deadline = clock.deadline_after(now, delay);
                assert_eq!(
                    clock.deadline_and_firing(now, delay),
                    (deadline, clock.true_time_of(now, deadline)),
                    "{clock:?} at {now:?} for {delay:?}"
                );
            }
        }
    }

    #[test]
    fn deadline_already_passed_fires_now() {
        let clock = NodeClock::new(0, 0);
        assert_eq!(clock.true_time_of(SimTime(7), SimTime(3)), SimTime(7));
    }
}
