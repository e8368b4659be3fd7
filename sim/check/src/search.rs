//! The search for one partition: Wing–Gong–Lowe over segments cut at quiescent points.
//!
//! # The search within a segment
//!
//! Operations become entries in a doubly linked list ordered by time: a call entry per
//! operation and a return entry per operation that must be placed (an `ok` one). The search
//! walks the list: at a call entry it tries to linearize that operation next (the model accepts
//! it from the current state and the configuration (set of linearized operations, new state)
//! was not seen before); if so, both entries are *lifted* out of the list, the choice is pushed
//! on an explicit stack and the walk restarts from the head. Reaching a return entry means that
//! operation completed before it could be placed: the last choice is undone (*unlifted*) and
//! the walk resumes after it. Indeterminate operations have no return entry: they may be
//! placed at any point after their call, or never. This is Lowe's version of the Wing–Gong
//! algorithm with a cache of configurations (G. Lowe, "Testing for linearizability",
//! Concurrency and Computation: Practice and Experience 29(4), 2017), as Porcupine runs it.
//!
//! The cache makes it fast: a configuration is explored at most once. Its hash is kept
//! incrementally (Zobrist: the XOR of a fixed pseudo-random key per operation). An entry does
//! not grow with the history: the set of linearized operations is stored as a *frontier* (every
//! required operation before it is linearized), a bitset over the *window* of required
//! operations from the frontier to the last one linearized (only operations invoked before the
//! frontier's return can be in it, so its width follows concurrency), and a bitset over the
//! segment's indeterminate operations. States are interned to small integers; for models with
//! few states each (operation, state) step is memoised.
//!
//! # Segments
//!
//! A history is cut at *clean quiescent points*: before an operation invoked after every
//! required operation invoked before it returned, and after every indeterminate operation
//! invoked before it became pointless to place (see the pruning with [`Model::leaves`] below).
//! There the future of a configuration depends on its state alone. Segments are searched one
//! after another: every segment but the last exhaustively, and the set of states reached at its
//! end (one path to each) starts the next; the last stops at the first linearization. So the
//! search holds one segment at a time, and a long history of short segments costs memory in
//! proportion to its widest segment (plus four bytes per operation for the order that becomes
//! the witness). An exhaustive search can cost more than the first linearization found, so
//! segments of one to three required operations from one state are tried directly (every order),
//! and others are merged with the next until they hold [`SEGMENT_MIN`] operations; when the
//! exhaustive search of one takes more than [`ENUMERATION_STEPS_PER_OP`] steps per operation,
//! the cut is given up and the segment is searched with the next (the merged segment must double
//! before the next try).
//! Verdicts are those of the search over the whole history, and so is the evidence: in a history
//! that is not linearizable, the segment no state gets through holds the furthest dead end of
//! any order, and its prefix is the path to the state it started from, then its own.
//!
//! # Pruning
//!
//! Every pruning is an exchange argument that keeps the verdict, and the evidence (the
//! furthest return any order reaches), unchanged:
//! - A read-only operation ([`Model::is_read_only`]) that the walk reaches (so nothing unplaced
//!   had to come before it) and that is legal in the current state can be moved to the front of
//!   any linearization of the rest: nothing must precede it in real time, it is legal here, and
//!   the states the others meet are unchanged (if the rest leaves it out, as it may an
//!   indeterminate operation, putting it first changes nothing either). So if no linearization
//!   extends the configuration with it, none extends the configuration at all: undoing it undoes
//!   its parent too, and finding it cached (already explored) undoes the parent at once.
//! - An indeterminate operation that would leave the state unchanged is not placed: any order
//!   placing it there is matched by the same order without it.
//! - Identical indeterminate operations are placed in order of invocation ([`twin_groups`]).
//! - An indeterminate operation that leaves a fixed state `t` ([`Model::leaves`]: a write, a
//!   compare-and-set) is never placed where no operation that may follow observes `t`
//!   ([`Model::observes`]): in an order placing it, the operations after it up to the next
//!   blind write are legal in `t` without observing it, so they are legal and state-preserving
//!   in every state, and the order without it is legal too, with the same states after that
//!   write. This is the register pruning of writes "whose value no later read observes"; it
//!   drops the writes a crash leaves open and nobody saw, and it is what makes the cuts above
//!   possible in histories with crashes.
//! - A step into a state from which the first operation due to return can never become legal
//!   ([`Model::may_become_legal`]), when no operation that may be placed before that return
//!   [`Model::resets`], is not taken: that order dies at that return anyway, which is recorded
//!   as its dead end.
//! - A required blind write whose state nothing observes is placed lazily (see
//!   [`search_segment`]): just before the next blind write placed while it may be, or alone at
//!   its return; never as a choice of its own.
//! - When every state change is made by an operation that [`Model::leaves`] a fixed state, a
//!   step that leaves a state `s` for good (no unplaced operation leaves `s`) while a required
//!   operation that is legal only in `s` is unplaced is not taken: no order from there places
//!   that operation. Where that operation is the first due to return, the dead end is recorded
//!   exactly; elsewhere the order might have died earlier, so [`Usage::inexact`] asks for the
//!   search with exact evidence (see [`Evidence`]).
//!
//! # Why these, and not another algorithm
//!
//! The alternatives for going further than Porcupine and Knossos on concurrency were Lowe's
//! just-in-time linearization (same paper: linearize an operation only when its return forces
//! it), the P-compositionality of Horn and Kroening ("Faster linearizability checking via
//! P-compositionality", FORTE 2015; used here for keys, see `checker`), and the polynomial
//! results for registers whose writes are unique of Gibbons and Korach ("Testing shared
//! memories", SIAM Journal on Computing 26(4), 1997). Just-in-time linearization applied to
//! every operation changes the shape of the whole search and its evidence; the register results
//! need unique writes and no compare-and-set. What makes a register history with many busy
//! clients explode is the choice of where to put writes that change nothing anyone sees, and of
//! orders that leave a value before all its readers read it: the two prunings above remove
//! exactly those, in the spirit of Gibbons and Korach's observation that a write matters only
//! through the reads of its value, and as just-in-time linearization applied to writes alone.
//! Both are stated through the model ([`Model::leaves`], [`Model::observes`]), hold for any
//! values (duplicates, compare-and-set, indeterminate operations), and are checked against the
//! brute-force checker in the differential tests, evidence included.
//!
//! # Limits
//!
//! The step budget counts model steps tried; the memory limit counts the bytes of the search's
//! own structures (the cache, interned states and memo, the stack, the carried configurations
//! and their paths), computed from their lengths, so the count — and with it the verdict — is
//! the same on every machine. Running out of either is the verdict `unknown`, never an abort.

use crate::model::{Model, Observation};
use std::hash::{BuildHasherDefault, Hasher};

/// A deterministic, fast hasher (FxHash's multiply-rotate). It has no seed, so hash tables
/// keyed with it behave identically on every run; nothing iterates over them anyway.
#[derive(Clone, Copy, Default)]
pub(crate) struct FixedHasher {
    hash: u64,
}

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for FixedHasher {
    fn finish(&self) -> u64 {
        self.hash
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.hash = (self.hash.rotate_left(5) ^ n).wrapping_mul(FX_SEED);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// A hash map with [`FixedHasher`]: only looked up, never iterated, so its order cannot reach
/// any output.
#[allow(clippy::disallowed_types)]
pub(crate) type FixedMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FixedHasher>>;

/// A state's hash under [`FixedHasher`], mixed so that its low bits index a table well.
fn hash_of<S: std::hash::Hash>(state: &S) -> u64 {
    let mut hasher = FixedHasher::default();
    state.hash(&mut hasher);
    mix(hasher.finish())
}

/// SplitMix64: fixed pseudo-random keys for Zobrist hashing.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const NONE: u32 = u32::MAX;
/// Memo entry: not computed yet.
const UNKNOWN: u32 = u32::MAX;
/// Memo entry: the step is illegal.
const ILLEGAL: u32 = u32::MAX - 1;
/// Steps from states with ids below this are memoised in a dense table per operation (the
/// common case: registers, mutexes). Models with many states (key-value strings) mostly step
/// from states they have never been in, where a memo would cost more than it saves.
const DENSE_STATES_MAX: u32 = 64;
/// Bytes counted per interned state beyond its inline size: the intern table's copy and
/// overhead, and a share for what the state owns on the heap (which the search cannot see).
const STATE_OVERHEAD: u64 = 48;

/// One operation of a partition, ready for the search.
pub(crate) struct SearchOp<O> {
    /// The model's operation.
    pub op: O,
    /// Position of its call in the history (orders entries).
    pub call: usize,
    /// Position of its return, if it must be placed.
    pub ret: Option<usize>,
}

/// Which limit ended a search.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exhausted {
    /// The step budget.
    Steps,
    /// The memory limit.
    Memory,
}

/// Why a search stopped.
pub(crate) enum SearchOutcome {
    /// Every required operation was placed; the order (indices into the ops).
    Linearizable(Vec<usize>),
    /// Stuck: no order places every required operation.
    NotLinearizable(Stuck),
    /// A limit ran out.
    Unknown(Exhausted),
    /// Another thread's result made this search pointless.
    Cancelled,
}

/// The configuration that reached furthest before being stuck.
pub(crate) struct Stuck {
    /// The operation whose return came before it could be placed.
    pub op: usize,
    /// The longest linearizable prefix: operations in order and the state after each.
    pub prefix: Vec<(usize, String)>,
    /// The state the stuck operation met.
    pub state: String,
}

/// The limits of a search.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Most model steps.
    pub budget: u64,
    /// Most bytes of the search's structures.
    pub memory: u64,
}

/// What a search used (across calls).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Usage {
    /// Model steps tried.
    pub steps: u64,
    /// The most bytes the search's structures held at once.
    pub peak_memory: u64,
    /// Whether an order was pruned whose dead end may not be recorded exactly (so evidence of
    /// a violation may not be the furthest; see [`Evidence`]).
    pub inexact: bool,
}

/// Interned states and memoised steps.
struct States<'m, M: Model> {
    model: &'m M,
    states: Vec<M::State>,
    /// Open addressing over `states`: each slot is 0 (free) or an id + 1. Each state is held
    /// once, in `states`; the table holds only ids.
    slots: Vec<u32>,
    /// `memo[op][state]`: next state id, `ILLEGAL`, or `UNKNOWN`, for `state < DENSE_STATES_MAX`.
    memo: Vec<Vec<u32>>,
    memo_bytes: u64,
}

impl<'m, M: Model> States<'m, M> {
    fn new(model: &'m M, op_count: usize) -> Self {
        States {
            model,
            states: Vec::new(),
            slots: vec![0; 16],
            memo: vec![Vec::new(); op_count],
            memo_bytes: 0,
        }
    }

    fn bytes(&self) -> u64 {
        // Two copies per state, as when the table held its own: the count the memory limit
        // applies to stays what it was, and so do the verdicts near the limit.
        let per_state = 2 * std::mem::size_of::<M::State>() as u64 + STATE_OVERHEAD;
        self.states.len() as u64 * per_state + self.memo_bytes + self.memo.len() as u64 * 24
    }

    fn intern(&mut self, state: M::State) -> u32 {
        let mask = self.slots.len() - 1;
        let mut slot = hash_of(&state) as usize & mask;
        loop {
            let occupant = self.slots[slot];
            if occupant == 0 {
                break;
            }
            if self.states[occupant as usize - 1] == state {
                return occupant - 1;
            }
            slot = (slot + 1) & mask;
        }
        let id = self.states.len() as u32;
        assert!(id < ILLEGAL, "more states than the search can number");
        self.states.push(state);
        self.slots[slot] = id + 1;
        if self.states.len() * 2 > self.slots.len() {
            let capacity = self.slots.len() * 2;
            let mask = capacity - 1;
            let mut slots = vec![0u32; capacity];
            for (id, state) in self.states.iter().enumerate() {
                let mut slot = hash_of(state) as usize & mask;
                while slots[slot] != 0 {
                    slot = (slot + 1) & mask;
                }
                slots[slot] = id as u32 + 1;
            }
            self.slots = slots;
        }
        id
    }

    /// The step of operation `ops[index[local]]` from `state`; the operation is looked up only
    /// when the memo does not know the answer.
    #[inline(always)]
    fn step(
        &mut self,
        ops: &[SearchOp<M::Op>],
        index: &[usize],
        local: usize,
        state: u32,
        read_only: bool,
    ) -> u32 {
        let dense = state < DENSE_STATES_MAX;
        if dense {
            if let Some(&known) = self.memo[local].get(state as usize) {
                if known != UNKNOWN {
                    return known;
                }
            }
        }
        let op = &ops[index[local]].op;
        let current = &self.states[state as usize];
        let next = if read_only {
            // The state after a read-only operation is the state itself: nothing to intern.
            if self.model.allows(current, op) {
                state
            } else {
                ILLEGAL
            }
        } else {
            match self.model.step(current, op) {
                Some(next) => self.intern(next),
                None => ILLEGAL,
            }
        };
        if dense {
            let row = &mut self.memo[local];
            if row.len() <= state as usize {
                self.memo_bytes += 4 * (state as u64 + 1 - row.len() as u64);
                row.resize(state as usize + 1, UNKNOWN);
            }
            row[state as usize] = next;
        }
        next
    }
}

/// Frontiers and window lengths below this fit in a cache entry's header word.
const SHORT: usize = 0xffff;
/// The header's low half for an entry whose frontier or window does not fit.
const ESCAPE: u64 = 0xffff_ffff;

/// No bit to patch in (see [`Cache::insert`]).
const NO_PATCH: (usize, u64) = (usize::MAX, 0);

/// Slot layout: the hash's high 24 bits as a tag, then the entry's arena offset + 1.
const TAG_MASK: u64 = 0xffff_ff00_0000_0000;
const OFFSET_MASK: u64 = !TAG_MASK;

/// The set of explored configurations, in an open-addressing table over a flat arena of
/// variable-length entries: `[state << 32 | window length << 16 | frontier word, window words,
/// indeterminate words]` (see [`Cache::insert`] for frontiers or windows too wide for that).
struct Cache {
    arena: Vec<u64>,
    /// Each entry's hash, for growing the table (kept apart so entries stay dense).
    hashes: Vec<u64>,
    /// Words reserved for `arena` and `hashes` (see [`Cache::reserve`]).
    reserved: usize,
    reserved_hashes: usize,
    slots: Vec<u64>,
    count: usize,
    /// Words of the indeterminate bitset (fixed per segment).
    info_words: usize,
}

impl Cache {
    fn new(info_words: usize) -> Self {
        Cache {
            arena: Vec::new(),
            hashes: Vec::new(),
            reserved: 0,
            reserved_hashes: 0,
            slots: vec![0; 256],
            count: 0,
            info_words,
        }
    }

    /// The bytes held: the arena and hashes as reserved (not as filled: the memory limit is
    /// about what the process holds), and the slots.
    fn bytes(&self) -> u64 {
        (self.reserved + self.reserved_hashes + self.slots.len()) as u64 * 8
    }

    /// Makes room for `words` more words in the arena and one more hash, growing by half: the
    /// growth (and so the count) is this code's, not the allocator's, and stays within 1.5
    /// times what is used.
    #[inline(always)]
    fn reserve(&mut self, words: usize) {
        if self.arena.len() + words > self.reserved {
            let more = (self.reserved / 2).max(words).max(1024);
            self.arena
                .reserve_exact(self.reserved + more - self.arena.len());
            self.reserved += more;
        }
        if self.hashes.len() == self.reserved_hashes {
            let more = (self.reserved_hashes / 2).max(256);
            self.hashes
                .reserve_exact(self.reserved_hashes + more - self.hashes.len());
            self.reserved_hashes += more;
        }
    }

    /// Inserts a configuration; returns whether it was new. `patch`: a word of the window
    /// (or, past its end, of `info`) and a bit to set in it, so the caller need not set it
    /// first for the common probe that finds the configuration explored.
    #[inline(always)]
    fn insert(
        &mut self,
        hash: u64,
        state: u32,
        lo: usize,
        window: &[u64],
        info: &[u64],
        patch: (usize, u64),
    ) -> bool {
        // One header word when the frontier and the window fit in 16 bits each (the common
        // case); else an escape, then the frontier and the window's length in words of their own.
        let small = lo < SHORT && window.len() < SHORT;
        let head = (u64::from(state) << 32)
            | if small {
                (window.len() as u64) << 16 | lo as u64
            } else {
                ESCAPE
            };
        let header = if small { 1 } else { 3 };
        let mask = self.slots.len() - 1;
        let mut slot = (hash as usize) & mask;
        let tag = hash & TAG_MASK;
        let word = |i: usize| {
            let value = if i < window.len() {
                window[i]
            } else {
                info[i - window.len()]
            };
            if i == patch.0 {
                value | patch.1
            } else {
                value
            }
        };
        let length = window.len() + info.len();
        loop {
            let occupant = self.slots[slot];
            if occupant == 0 {
                break;
            }
            if occupant & TAG_MASK == tag {
                let at = (occupant & OFFSET_MASK) as usize - 1;
                if self.arena[at] == head
                    && (small
                        || (self.arena[at + 1] == lo as u64
                            && self.arena[at + 2] == window.len() as u64))
                    && (0..length).all(|i| self.arena[at + header + i] == word(i))
                {
                    return false;
                }
            }
            slot = (slot + 1) & mask;
        }
        self.reserve(header + length);
        let at = self.arena.len();
        self.hashes.push(hash);
        self.arena.push(head);
        if !small {
            self.arena.push(lo as u64);
            self.arena.push(window.len() as u64);
        }
        self.arena.extend((0..length).map(word));
        self.slots[slot] = tag | (at as u64 + 1);
        self.count += 1;
        if self.count * 2 > self.slots.len() {
            self.grow();
        }
        true
    }

    fn grow(&mut self) {
        let capacity = self.slots.len() * 2;
        let mask = capacity - 1;
        let mut slots = vec![0u64; capacity];
        let mut at = 0;
        for &hash in &self.hashes {
            let head = self.arena[at];
            let (header, window) = if head & 0xffff_ffff == ESCAPE {
                (3, self.arena[at + 2] as usize)
            } else {
                (1, ((head >> 16) & 0xffff) as usize)
            };
            let mut slot = (hash as usize) & mask;
            while slots[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            slots[slot] = (hash & TAG_MASK) | (at as u64 + 1);
            at += header + window + self.info_words;
        }
        self.slots = slots;
    }
}

/// The doubly linked list of call and return entries, with lift and unlift.
struct Entries {
    next: Vec<u32>,
    prev: Vec<u32>,
    /// The (local) operation of each entry.
    op: Vec<u32>,
    /// For a call entry, its return entry (or `NONE`); for a return entry, `NONE`.
    ret: Vec<u32>,
    is_call: Vec<bool>,
}

/// Entry 0 is the head sentinel.
const HEAD: u32 = 0;

impl Entries {
    /// `ops`: (call position, return position) per local operation.
    fn new(ops: &[(usize, Option<usize>)]) -> Self {
        // (position in history, op, is call)
        let mut events: Vec<(usize, usize, bool)> = Vec::with_capacity(ops.len() * 2);
        for (index, &(call, ret)) in ops.iter().enumerate() {
            events.push((call, index, true));
            if let Some(ret) = ret {
                assert!(ret > call, "a return precedes its call");
                events.push((ret, index, false));
            }
        }
        events.sort_unstable();
        let count = events.len() + 1;
        let mut entries = Entries {
            next: vec![NONE; count],
            prev: vec![NONE; count],
            op: vec![NONE; count],
            ret: vec![NONE; count],
            is_call: vec![false; count],
        };
        let mut call_entry = vec![NONE; ops.len()];
        let mut ret_entry = vec![NONE; ops.len()];
        for (i, &(_, op, is_call)) in events.iter().enumerate() {
            let entry = i + 1;
            entries.op[entry] = op as u32;
            entries.is_call[entry] = is_call;
            entries.prev[entry] = entry as u32 - 1;
            entries.next[entry - 1] = entry as u32;
            if is_call {
                call_entry[op] = entry as u32;
            } else {
                ret_entry[op] = entry as u32;
            }
        }
        for op in 0..ops.len() {
            entries.ret[call_entry[op] as usize] = ret_entry[op];
        }
        entries
    }

    fn bytes(&self) -> u64 {
        self.next.len() as u64 * 17
    }

    #[inline(always)]
    fn unlink(&mut self, entry: u32) {
        let (prev, next) = (self.prev[entry as usize], self.next[entry as usize]);
        self.next[prev as usize] = next;
        if next != NONE {
            self.prev[next as usize] = prev;
        }
    }

    #[inline(always)]
    fn relink(&mut self, entry: u32) {
        let (prev, next) = (self.prev[entry as usize], self.next[entry as usize]);
        self.next[prev as usize] = entry;
        if next != NONE {
            self.prev[next as usize] = entry;
        }
    }

    #[inline(always)]
    fn lift(&mut self, call: u32) {
        self.unlink(call);
        let ret = self.ret[call as usize];
        if ret != NONE {
            self.unlink(ret);
        }
    }

    #[inline(always)]
    fn unlift(&mut self, call: u32) {
        let ret = self.ret[call as usize];
        if ret != NONE {
            self.relink(ret);
        }
        self.relink(call);
    }
}

/// How far the pruning by [`Model::may_become_legal`] looks ahead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Evidence {
    /// Check only the first operation due to return: the recorded dead ends are exactly those
    /// of the unpruned search, so the reported stuck operation is the first return no order
    /// can pass.
    Exact,
    /// Also check the next few: much faster, same verdict, but a pruned order may have died
    /// earlier or later than recorded, so the evidence of a violation may not be the furthest.
    Fast,
}

/// A choice on the search stack.
#[derive(Clone, Copy)]
struct Frame {
    /// The call entry linearized.
    call: u32,
    /// The state before it.
    before: u32,
    /// Undoing it undoes its parent too: it left the state unchanged, so it was the only
    /// choice worth trying, or it was a lazy write placed alone, the only choice left.
    forced: bool,
    /// How many lazy writes it absorbed (see [`search_segment`]).
    absorbed: u32,
}

/// A dead end, kept cheaply (state ids) until the segment's search ends.
struct DeadEnd {
    /// The starting configuration it came from.
    root: usize,
    /// Position of the return that could not be passed.
    position: usize,
    /// The (local) operation of that return.
    op: usize,
    /// The linearized prefix within the segment (local operations).
    prefix: Vec<u32>,
    /// `prefix.len()` after each stack frame it was copied from (absorbed writes included).
    marks: Vec<usize>,
}

/// Records a dead end with the stack (and `extra`, an operation placed beyond it) as its
/// prefix. The previous record's prefix is kept up to `low_water`, the lowest the stack has
/// been since: a search that keeps getting further copies only what changed, not the whole
/// stack each time (which made long histories quadratic).
#[allow(clippy::too_many_arguments)]
fn record(
    furthest: &mut Option<DeadEnd>,
    stack: &[Frame],
    absorbed: &[u32],
    entries: &Entries,
    low_water: usize,
    root: usize,
    position: usize,
    op: usize,
    extra: Option<u32>,
) {
    let mut dead = furthest.take().unwrap_or(DeadEnd {
        root,
        position,
        op,
        prefix: Vec::new(),
        marks: Vec::new(),
    });
    let keep = if dead.root == root {
        low_water.min(dead.marks.len())
    } else {
        0
    };
    let kept_len = if keep == 0 { 0 } else { dead.marks[keep - 1] };
    dead.prefix.truncate(kept_len);
    dead.marks.truncate(keep);
    // Absorbed writes of the frames kept: the prefix holds one entry per frame besides them.
    let mut next_absorbed = kept_len - keep;
    for frame in &stack[keep..] {
        let end = next_absorbed + frame.absorbed as usize;
        dead.prefix.extend(
            absorbed[next_absorbed..end]
                .iter()
                .map(|&c| entries.op[c as usize]),
        );
        next_absorbed = end;
        dead.prefix.push(entries.op[frame.call as usize]);
        dead.marks.push(dead.prefix.len());
    }
    dead.prefix.extend(extra);
    dead.root = root;
    dead.position = position;
    dead.op = op;
    *furthest = Some(dead);
}

/// A configuration carried across a cut: a state, and the path that reached it.
struct Carried<S> {
    state: S,
    /// An index into `Paths`.
    path: u32,
}

/// The linearized prefixes of carried configurations, as a tree of segments' orders.
#[derive(Default)]
struct Paths {
    /// (parent node or `NONE`, first index in `ops`, end index in `ops`).
    nodes: Vec<(u32, usize, usize)>,
    /// Partition operation indices of all nodes, back to back.
    ops: Vec<u32>,
}

impl Paths {
    fn add(&mut self, parent: u32, order: impl Iterator<Item = u32>) -> u32 {
        let start = self.ops.len();
        self.ops.extend(order);
        self.nodes.push((parent, start, self.ops.len()));
        (self.nodes.len() - 1) as u32
    }

    /// Extends `node` in place; only for the node of the single carried configuration, which
    /// no other live configuration descends from.
    fn extend(&mut self, node: u32, order: impl Iterator<Item = u32>) -> u32 {
        if node != NONE && self.nodes[node as usize].2 == self.ops.len() {
            self.ops.extend(order);
            self.nodes[node as usize].2 = self.ops.len();
            node
        } else {
            self.add(node, order)
        }
    }

    fn order(&self, mut node: u32) -> Vec<usize> {
        let mut parts = Vec::new();
        while node != NONE {
            let (parent, start, end) = self.nodes[node as usize];
            parts.push(&self.ops[start..end]);
            node = parent;
        }
        parts
            .iter()
            .rev()
            .flat_map(|part| part.iter().map(|&op| op as usize))
            .collect()
    }

    fn bytes(&self) -> u64 {
        self.nodes.len() as u64 * 24 + self.ops.len() as u64 * 4
    }
}

/// Counts the search's bytes against the limit.
struct Meter {
    limit: u64,
    peak: u64,
}

impl Meter {
    /// Records `bytes` in use; false when over the limit.
    #[inline]
    fn within(&mut self, bytes: u64) -> bool {
        self.peak = self.peak.max(bytes);
        bytes <= self.limit
    }
}

/// Partition-wide facts for the pruning with [`Model::leaves`].
struct Observers<S> {
    /// For each observed state: the latest return of an operation observing it
    /// (`usize::MAX` for an indeterminate one).
    latest: FixedMap<S, usize>,
    /// The latest return of an operation that may observe anything.
    any: usize,
}

impl<S: std::hash::Hash + Eq> Observers<S> {
    fn new<M: Model<State = S>>(model: &M, ops: &[SearchOp<M::Op>]) -> Self {
        let mut observers = Observers {
            latest: FixedMap::default(),
            any: 0,
        };
        for op in ops {
            let until = op.ret.unwrap_or(usize::MAX);
            match model.observes(&op.op) {
                Observation::Nothing => {}
                Observation::Anything => observers.any = observers.any.max(until),
                Observation::State(state) => {
                    let latest = observers.latest.entry(state).or_insert(0);
                    *latest = (*latest).max(until);
                }
            }
        }
        observers
    }

    /// The first position from which nothing that may still be placed observes `state`: every
    /// operation observing it returned before.
    fn unobserved_from(&self, state: &S) -> usize {
        let latest = self.latest.get(state).copied().unwrap_or(0).max(self.any);
        latest.saturating_add(1)
    }
}

/// How a partition is searched.
struct Plan {
    /// Operations kept, in order of invocation (indeterminate operations whose state nothing
    /// observes after their call are left out).
    kept: Vec<usize>,
    /// Segments: ranges of `kept`, cut at clean quiescent points.
    segments: Vec<std::ops::Range<usize>>,
    /// For indeterminate operations: a group number shared by equal operations.
    group: Vec<u32>,
    /// Blind writes ([`Model::observes`] nothing, [`Model::leaves`] a fixed state).
    blind: Vec<bool>,
    /// Required blind writes whose state nothing observes from their call on: placed lazily.
    lazy: Vec<bool>,
    /// Whether states change only by operations that [`Model::leaves`] a fixed state (the
    /// others are read-only), which the pruning of exhausted states needs.
    exhaustion: bool,
}

/// Whether the search of these operations prunes, by [`Model::may_become_legal`], orders whose
/// dead ends it may not record exactly ([`Evidence::Fast`] differs from [`Evidence::Exact`]).
/// The pruning of exhausted states says so in [`Usage::inexact`] when it happens.
pub(crate) fn prunes_evidence<M: Model>(model: &M, ops: &[SearchOp<M::Op>]) -> bool {
    ops.iter().any(|op| !model.resets(&op.op))
}

fn exhaustion<M: Model>(model: &M, ops: &[SearchOp<M::Op>]) -> bool {
    ops.iter()
        .all(|op| model.is_read_only(&op.op) || model.leaves(&op.op).is_some())
}

/// Cuts the partition before every kept operation invoked after (1) every required operation
/// invoked before it returned and (2) every indeterminate operation invoked before it became
/// pointless to place: it leaves a state nothing from there on observes (so it never needs to
/// be placed later; see the pruning with [`Model::leaves`]). At such a point the future of a
/// configuration depends on its state alone.
fn plan<M: Model>(model: &M, ops: &[SearchOp<M::Op>], observers: &Observers<M::State>) -> Plan {
    let mut blind = vec![false; ops.len()];
    let mut lazy = vec![false; ops.len()];
    for (i, op) in ops.iter().enumerate() {
        if model.observes(&op.op) == Observation::Nothing {
            if let Some(state) = model.leaves(&op.op) {
                blind[i] = true;
                lazy[i] = op.ret.is_some() && observers.unobserved_from(&state) <= op.call;
            }
        }
    }
    let mut order: Vec<usize> = (0..ops.len()).collect();
    // Partitions are built in order of invocation; sorting keeps this right for any caller.
    if !ops.is_sorted_by_key(|op| op.call) {
        order.sort_by_key(|&i| ops[i].call);
    }
    let mut kept = Vec::with_capacity(order.len());
    let mut segments = Vec::new();
    let mut start = 0;
    // `Some(p)`: the segment so far can be cut off before an operation invoked at `p` or
    // later; `None`: never (it holds an indeterminate operation that may matter to the end).
    let mut cuttable = Some(0);
    for i in order {
        let call = ops[i].call;
        let retired = match ops[i].ret {
            Some(ret) => Some(ret + 1),
            None => match model.leaves(&ops[i].op) {
                Some(state) => {
                    let from = observers.unobserved_from(&state);
                    if from <= call {
                        // Never worth placing.
                        continue;
                    }
                    Some(from)
                }
                None => None,
            },
        };
        if kept.len() > start && cuttable.is_some_and(|from| from <= call) {
            segments.push(start..kept.len());
            start = kept.len();
            cuttable = Some(0);
        }
        cuttable = match (cuttable, retired) {
            (Some(from), Some(retired)) => Some(from.max(retired)),
            _ => None,
        };
        kept.push(i);
    }
    segments.push(start..kept.len());
    Plan {
        kept,
        segments,
        group: twin_groups(ops),
        blind,
        lazy,
        exhaustion: exhaustion(model, ops),
    }
}

/// Searches one partition. `usage.steps` counts model steps tried (across calls) and the
/// search gives up when it would exceed the budget, or when its structures would exceed the
/// memory limit.
pub(crate) fn search<M: Model>(
    model: &M,
    ops: &[SearchOp<M::Op>],
    limits: Limits,
    usage: &mut Usage,
    evidence: Evidence,
    cancelled: &dyn Fn() -> bool,
) -> SearchOutcome {
    let observers = Observers::new(model, ops);
    let plan = plan(model, ops, &observers);
    drop(observers);
    let steps_before = usage.steps;
    let mut meter = Meter {
        limit: limits.memory,
        peak: 0,
    };
    // A history with a long segment is not easy: found before any work is spent on it. A
    // short one is searched at once: a pass that may be thrown away costs more than it saves.
    let easy = ops.len() >= EASY_OPS_MIN
        && plan
            .segments
            .iter()
            .all(|segment| segment.len() <= EASY_SEGMENT_MAX);
    if let Some(order) = easy
        .then(|| easy_search(model, ops, &plan, limits, usage, &mut meter))
        .flatten()
    {
        usage.peak_memory = usage.peak_memory.max(meter.peak);
        return SearchOutcome::Linearizable(order);
    }
    // Not easy after all: the search below runs as if the easy pass had not, with the whole
    // budget, so its verdict, evidence and step count are what they always were.
    usage.steps = steps_before;
    let mut meter = Meter {
        limit: limits.memory,
        peak: 0,
    };
    let outcome = search_plan(
        model, ops, &plan, limits, usage, &mut meter, evidence, cancelled,
    );
    usage.peak_memory = usage.peak_memory.max(meter.peak);
    outcome
}

/// Partitions with fewer operations than this are not tried by the easy pass.
const EASY_OPS_MIN: usize = 1024;
/// Segments longer than this end the easy pass (see [`easy_search`]).
const EASY_SEGMENT_MAX: usize = 16;

/// The easy pass: the partition's segments one by one, never merged, carrying the set of
/// states reached from cut to cut. A history whose operations rarely overlap is a long run of
/// segments of one to three operations, each stepped directly from every carried state, so
/// checking it costs a few model steps per operation and memory for the carried states only.
/// It is tried only on partitions of at least [`EASY_OPS_MIN`] operations where no segment is
/// longer than [`EASY_SEGMENT_MAX`]; it gives up (`None`)
/// at a segment no carried state gets through, or when an exhaustive segment search costs more
/// than [`ENUMERATION_STEPS_PER_OP`] steps per operation: [`search_plan`] then searches the
/// partition from the start, so evidence of a violation is exactly what it always was. A
/// linearization it finds is a witness like any other.
fn easy_search<M: Model>(
    model: &M,
    ops: &[SearchOp<M::Op>],
    plan: &Plan,
    limits: Limits,
    usage: &mut Usage,
    meter: &mut Meter,
) -> Option<Vec<usize>> {
    let mut paths = Paths::default();
    let mut configs = vec![Carried {
        state: model.init(),
        path: NONE,
    }];
    let mut reached: Vec<Carried<M::State>> = Vec::new();
    let state_bytes = std::mem::size_of::<M::State>() as u64 + STATE_OVERHEAD;
    let count = plan.segments.len();
    for (number, range) in plan.segments.iter().enumerate() {
        let last = number + 1 == count;
        let segment = &plan.kept[range.clone()];
        if segment.len() > EASY_SEGMENT_MAX {
            return None;
        }
        let required = segment.iter().all(|&i| ops[i].ret.is_some());
        if segment.len() == 1 && required && configs.len() == 1 {
            // The common case: one operation alone, from one state.
            if usage.steps >= limits.budget {
                return None;
            }
            usage.steps += 1;
            let op = segment[0];
            let config = &mut configs[0];
            config.state = model.step(&config.state, &ops[op].op)?;
            config.path = paths.extend(config.path, std::iter::once(op as u32));
            if last {
                return Some(paths.order(config.path));
            }
            continue;
        }
        let carried_bytes = paths.bytes() + configs.len() as u64 * (state_bytes + 16);
        if !meter.within(carried_bytes) {
            return None;
        }
        if segment.iter().all(|&i| ops[i].ret.is_none()) {
            // Only indeterminate operations, all pointless to place after the cut.
            if last {
                return Some(paths.order(configs[0].path));
            }
            continue;
        }
        if segment.len() <= 3 && required {
            // Every order from every carried state; one configuration per state reached.
            let mut ends: Vec<(usize, M::State, Vec<u32>)> = Vec::new();
            for (root, config) in configs.iter().enumerate() {
                let found =
                    match small_segment(model, ops, segment, &config.state, last, limits, usage) {
                        Small::Exhausted => return None,
                        Small::Ends(found) => found,
                    };
                for (state, order) in found {
                    if !ends.iter().any(|(_, reached, _)| *reached == state) {
                        ends.push((root, state, order));
                    }
                }
                if last && !ends.is_empty() {
                    break;
                }
            }
            if ends.is_empty() {
                return None;
            }
            if last {
                let (root, _, order) = &ends[0];
                let mut path = paths.order(configs[*root].path);
                path.extend(order.iter().map(|&op| op as usize));
                return Some(path);
            }
            let single = ends.len() == 1;
            reached.clear();
            for (root, state, order) in ends {
                let parent = configs[root].path;
                let order = order.into_iter();
                let path = if single {
                    paths.extend(parent, order)
                } else {
                    paths.add(parent, order)
                };
                reached.push(Carried { state, path });
            }
            std::mem::swap(&mut configs, &mut reached);
            continue;
        }
        // A short segment with indeterminate operations or more than three: searched
        // exhaustively from every carried state, within a cap on the steps it may take.
        let cap = (segment.len() as u64 * ENUMERATION_STEPS_PER_OP).max(ENUMERATION_STEPS_MIN);
        let segment_limits = Limits {
            budget: limits.budget.min(usage.steps.saturating_add(cap)),
            memory: limits.memory,
        };
        let outcome = search_segment(
            model,
            ops,
            segment,
            plan,
            &configs,
            last,
            segment_limits,
            usage,
            meter,
            carried_bytes,
            Evidence::Fast,
            &|| false,
        );
        match outcome {
            SegmentOutcome::Found { root, order } => {
                let mut path = paths.order(configs[root].path);
                path.extend(order.iter().map(|&l| segment[l as usize]));
                return Some(path);
            }
            SegmentOutcome::Through { ends, states } => {
                configs = carry(ends, states, segment, &configs, &mut paths);
            }
            SegmentOutcome::Stuck(_) | SegmentOutcome::Exhausted(_) | SegmentOutcome::Cancelled => {
                return None
            }
        }
    }
    unreachable!("the last segment returns")
}

/// Steps an exhaustive search of a segment (not the last) may take, per operation, before the
/// cut is given up and the segment searched together with the next: a cut pays only where the
/// set of states at it is cheap to find.
const ENUMERATION_STEPS_PER_OP: u64 = 8;
/// Operations a segment searched exhaustively has at least: below that, the set of states at a
/// cut costs more to find than the memory it saves (the first linearization is all the last
/// segment needs).
const SEGMENT_MIN: usize = 256;
const ENUMERATION_STEPS_MIN: u64 = 64;

#[allow(clippy::too_many_arguments)]
fn search_plan<M: Model>(
    model: &M,
    ops: &[SearchOp<M::Op>],
    plan: &Plan,
    limits: Limits,
    usage: &mut Usage,
    meter: &mut Meter,
    evidence: Evidence,
    cancelled: &dyn Fn() -> bool,
) -> SearchOutcome {
    let mut paths = Paths::default();
    let mut configs = vec![Carried {
        state: model.init(),
        path: NONE,
    }];
    let state_bytes = std::mem::size_of::<M::State>() as u64 + STATE_OVERHEAD;
    let mut number = 0;
    // After a cut was given up, the merged segment must double before the next try, so the
    // work thrown away stays within a constant factor.
    let mut merge_until = SEGMENT_MIN;
    while number < plan.segments.len() {
        let mut range = plan.segments[number].clone();
        let mut end_number = number;
        // A segment of a few required operations from one state is tried directly (below);
        // others are searched with the next until long enough for a cut to pay.
        let direct = range.len() <= 3
            && configs.len() == 1
            && plan.kept[range.clone()]
                .iter()
                .all(|&i| ops[i].ret.is_some());
        while !direct && end_number + 1 < plan.segments.len() && range.len() < merge_until {
            end_number += 1;
            range.end = plan.segments[end_number].end;
        }
        let last = end_number + 1 == plan.segments.len();
        let segment = &plan.kept[range.clone()];
        let carried_bytes = paths.bytes() + configs.len() as u64 * (state_bytes + 16);
        if !meter.within(carried_bytes) {
            return SearchOutcome::Unknown(Exhausted::Memory);
        }
        if segment.iter().all(|&i| ops[i].ret.is_none()) {
            // Only indeterminate operations, all pointless to place after the cut (or at the
            // end): the states stay as they are.
            if last {
                return SearchOutcome::Linearizable(paths.order(configs[0].path));
            }
            number = end_number + 1;
            continue;
        }
        // The common case of an easy history: one operation alone, from one state.
        if segment.len() == 1 && configs.len() == 1 && ops[segment[0]].ret.is_some() {
            let op = segment[0];
            if usage.steps >= limits.budget {
                return SearchOutcome::Unknown(Exhausted::Steps);
            }
            usage.steps += 1;
            let config = &mut configs[0];
            match model.step(&config.state, &ops[op].op) {
                Some(next) => {
                    config.state = next;
                    config.path = paths.extend(config.path, std::iter::once(op as u32));
                    if last {
                        return SearchOutcome::Linearizable(paths.order(config.path));
                    }
                    number = end_number + 1;
                    continue;
                }
                None => {
                    let prefix = paths.order(config.path);
                    return SearchOutcome::NotLinearizable(describe(model, ops, prefix, op));
                }
            }
        }
        // Two or three overlapping operations from one state: try their orders directly.
        if (2..=3).contains(&segment.len())
            && configs.len() == 1
            && segment.iter().all(|&i| ops[i].ret.is_some())
        {
            match small_segment(model, ops, segment, &configs[0].state, last, limits, usage) {
                Small::Exhausted => return SearchOutcome::Unknown(Exhausted::Steps),
                Small::Ends(ends) if !ends.is_empty() => {
                    let parent = configs[0].path;
                    if last {
                        let mut path = paths.order(parent);
                        path.extend(ends[0].1.iter().map(|&op| op as usize));
                        return SearchOutcome::Linearizable(path);
                    }
                    let single = ends.len() == 1;
                    configs = ends
                        .into_iter()
                        .map(|(state, order)| {
                            let order = order.into_iter();
                            let path = if single {
                                paths.extend(parent, order)
                            } else {
                                paths.add(parent, order)
                            };
                            Carried { state, path }
                        })
                        .collect();
                    number = end_number + 1;
                    continue;
                }
                // No order: the full search finds the evidence.
                Small::Ends(_) => {}
            }
        }
        let budget = if last {
            limits.budget
        } else {
            let cap = (segment.len() as u64 * ENUMERATION_STEPS_PER_OP).max(ENUMERATION_STEPS_MIN);
            limits.budget.min(usage.steps.saturating_add(cap))
        };
        let steps_before = usage.steps;
        let segment_limits = Limits {
            budget,
            memory: limits.memory,
        };
        let outcome = search_segment(
            model,
            ops,
            segment,
            plan,
            &configs,
            last,
            segment_limits,
            usage,
            meter,
            carried_bytes,
            evidence,
            cancelled,
        );
        match outcome {
            SegmentOutcome::Found { root, order } => {
                let mut path = paths.order(configs[root].path);
                path.extend(order.iter().map(|&l| segment[l as usize]));
                return SearchOutcome::Linearizable(path);
            }
            SegmentOutcome::Stuck(dead) => {
                let mut prefix = paths.order(configs[dead.root].path);
                prefix.extend(dead.prefix.iter().map(|&l| segment[l as usize]));
                return SearchOutcome::NotLinearizable(describe(
                    model,
                    ops,
                    prefix,
                    segment[dead.op],
                ));
            }
            SegmentOutcome::Exhausted(Exhausted::Steps) if !last && usage.steps < limits.budget => {
                // The cut costs more than it saves: search this segment with the next.
                // The steps spent stay counted, so the verdict stays a function of the input.
                let _ = steps_before;
                merge_until = 2 * range.len();
            }
            SegmentOutcome::Exhausted(limit) => return SearchOutcome::Unknown(limit),
            SegmentOutcome::Cancelled => return SearchOutcome::Cancelled,
            SegmentOutcome::Through { ends, states } => {
                configs = carry(ends, states, segment, &configs, &mut paths);
                number = end_number + 1;
            }
        }
    }
    unreachable!("the last segment returns")
}

/// A configuration at the end of a segment (all its required operations placed).
struct End {
    root: usize,
    state: u32,
    /// The segment's order (local operations).
    order: Vec<u32>,
}

enum SegmentOutcome<S> {
    /// The last segment: a linearization from starting configuration `root`.
    Found {
        root: usize,
        order: Vec<u32>,
    },
    /// Not the last: the configurations at its end, with their states.
    Through {
        ends: Vec<End>,
        states: Vec<S>,
    },
    /// No configuration gets through: the furthest dead end.
    Stuck(DeadEnd),
    Exhausted(Exhausted),
    Cancelled,
}

enum Small<S> {
    /// The states the orders reach (each with its order), first found first.
    Ends(Vec<(S, Vec<u32>)>),
    Exhausted,
}

/// Every order of one to three required operations that respects real time, from `state`.
/// In the last segment, stops at the first that is legal.
fn small_segment<M: Model>(
    model: &M,
    ops: &[SearchOp<M::Op>],
    segment: &[usize],
    state: &M::State,
    last: bool,
    limits: Limits,
    usage: &mut Usage,
) -> Small<M::State> {
    const ORDERS_2: [[usize; 3]; 2] = [[0, 1, 2], [1, 0, 2]];
    const ORDERS_3: [[usize; 3]; 6] = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    const ORDERS_1: [[usize; 3]; 1] = [[0, 1, 2]];
    let orders: &[[usize; 3]] = match segment.len() {
        1 => &ORDERS_1,
        2 => &ORDERS_2,
        _ => &ORDERS_3,
    };
    let mut ends: Vec<(M::State, Vec<u32>)> = Vec::new();
    'orders: for order in orders {
        let order = &order[..segment.len()];
        // Real time: nothing may follow an operation that returned before it was invoked.
        for (i, &a) in order.iter().enumerate() {
            for &b in &order[i + 1..] {
                if ops[segment[b]]
                    .ret
                    .is_some_and(|ret| ret < ops[segment[a]].call)
                {
                    continue 'orders;
                }
            }
        }
        let mut current = state.clone();
        for &a in order {
            if usage.steps >= limits.budget {
                return Small::Exhausted;
            }
            usage.steps += 1;
            match model.step(&current, &ops[segment[a]].op) {
                Some(next) => current = next,
                None => continue 'orders,
            }
        }
        if !ends.iter().any(|(reached, _)| *reached == current) {
            ends.push((current, order.iter().map(|&a| segment[a] as u32).collect()));
            if last {
                break;
            }
        }
    }
    Small::Ends(ends)
}

/// The configurations after a cut: one per state reached (the indeterminate operations left
/// unplaced are pointless to place later, so the state is all that counts), with its path.
fn carry<S: Clone>(
    mut ends: Vec<End>,
    states: Vec<S>,
    segment: &[usize],
    starts: &[Carried<S>],
    paths: &mut Paths,
) -> Vec<Carried<S>> {
    // Stable: the first end found for each state is kept, as the search found it.
    ends.sort_by_key(|end| end.state);
    ends.dedup_by_key(|end| end.state);
    let single = ends.len() == 1;
    ends.into_iter()
        .map(|end| {
            let parent = starts[end.root].path;
            let order = end.order.iter().map(|&l| segment[l as usize] as u32);
            let path = if single {
                paths.extend(parent, order)
            } else {
                paths.add(parent, order)
            };
            Carried {
                state: states[end.state as usize].clone(),
                path,
            }
        })
        .collect()
}

/// The evidence, with the states along the prefix computed again by the model.
fn describe<M: Model>(
    model: &M,
    ops: &[SearchOp<M::Op>],
    prefix: Vec<usize>,
    stuck: usize,
) -> Stuck {
    let mut state = model.init();
    let mut described = Vec::with_capacity(prefix.len());
    for op in prefix {
        state = model
            .step(&state, &ops[op].op)
            .expect("a prefix the search found is legal");
        described.push((op, model.describe_state(&state)));
    }
    Stuck {
        op: stuck,
        prefix: described,
        state: model.describe_state(&state),
    }
}

/// The set of placed operations of a segment in its compact form: required operations as a
/// frontier word (every word before it full) and the window of words after it up to the last
/// non-zero one; indeterminate operations as a plain bitset (they are few: crashes).
struct Placed {
    req: Vec<u64>,
    info: Vec<u64>,
    /// First word of `req` that is not full.
    lo: usize,
    /// One past the last non-zero word of `req`, at least `lo`.
    hi: usize,
    /// The full value of the last word.
    last_full: u64,
}

impl Placed {
    fn new(required: usize, indeterminate: usize) -> Self {
        Placed {
            req: vec![0; required.div_ceil(64)],
            info: vec![0; indeterminate.div_ceil(64)],
            lo: 0,
            hi: 0,
            last_full: if required.is_multiple_of(64) {
                !0
            } else {
                (1 << (required % 64)) - 1
            },
        }
    }

    fn full(&self, word: usize) -> u64 {
        if word + 1 == self.req.len() {
            self.last_full
        } else {
            !0
        }
    }

    #[inline(always)]
    fn set(&mut self, required: bool, ordinal: u32) {
        let (word, bit) = (ordinal as usize / 64, 1u64 << (ordinal % 64));
        if !required {
            self.info[word] |= bit;
            return;
        }
        self.req[word] |= bit;
        while self.lo < self.req.len() && self.req[self.lo] == self.full(self.lo) {
            self.lo += 1;
        }
        self.hi = self.hi.max(word + 1).max(self.lo);
    }

    #[inline(always)]
    fn clear(&mut self, required: bool, ordinal: u32) {
        let (word, bit) = (ordinal as usize / 64, 1u64 << (ordinal % 64));
        if !required {
            self.info[word] &= !bit;
            return;
        }
        self.req[word] &= !bit;
        self.lo = self.lo.min(word);
        while self.hi > self.lo && self.req[self.hi - 1] == 0 {
            self.hi -= 1;
        }
    }

    /// Setting this bit, unless it moves the frontier: the end of the window then, and the
    /// patch for [`Cache::insert`] (word index past the window's start, bit).
    #[inline(always)]
    fn patch(&self, required: bool, ordinal: u32) -> Option<(usize, (usize, u64))> {
        let (word, bit) = (ordinal as usize / 64, 1u64 << (ordinal % 64));
        let hi = self.hi.max(self.lo);
        if !required {
            return Some((hi, (hi - self.lo + word, bit)));
        }
        if word == self.lo && self.req[word] | bit == self.full(word) {
            return None;
        }
        let hi = hi.max(word + 1);
        Some((hi, (word - self.lo, bit)))
    }

    fn window(&self) -> &[u64] {
        let end = self.hi.max(self.lo).min(self.req.len());
        &self.req[self.lo.min(self.req.len())..end]
    }
}

/// Searches one segment from every carried state. `local` lists the partition operations of
/// the segment; search-local operation numbers index it.
///
/// Required blind writes whose state nothing observes (`plan.lazy`) are placed lazily: never
/// by the walk, but just before the next blind write placed while they may be (*absorbed*: the
/// state they leave is overwritten at once, so this changes nothing for the others), or alone
/// when the walk reaches their return. Any linearization can be rearranged so: such a write is
/// followed, up to the next blind write, only by operations legal and state-preserving in every
/// state (nothing else is legal in a state nobody observes), so it can move to just before the
/// earliest blind write placed while it may be, or, if there is none before its return, stay
/// where the walk must place it. This removes the choice of where each unobserved write goes,
/// which is what makes histories with many concurrent writers exponential.
///
/// The search is compiled twice: with the bookkeeping of lazy writes and exhausted states
/// (`EXTRA`), when the segment has either to prune, and without it otherwise.
#[allow(clippy::too_many_arguments)]
fn search_segment<M: Model>(
    model: &M,
    ops: &[SearchOp<M::Op>],
    local: &[usize],
    plan: &Plan,
    starts: &[Carried<M::State>],
    last: bool,
    limits: Limits,
    usage: &mut Usage,
    meter: &mut Meter,
    carried_bytes: u64,
    evidence: Evidence,
    cancelled: &dyn Fn() -> bool,
) -> SegmentOutcome<M::State> {
    let extra = plan.exhaustion || local.iter().any(|&i| plan.lazy[i]);
    let search = if extra {
        search_segment_compiled::<M, true>
    } else {
        search_segment_compiled::<M, false>
    };
    search(
        model,
        ops,
        local,
        plan,
        starts,
        last,
        limits,
        usage,
        meter,
        carried_bytes,
        evidence,
        cancelled,
    )
}

/// [`search_segment`], with or without (`EXTRA`) the lazy-write and exhaustion bookkeeping.
#[allow(clippy::too_many_arguments)]
fn search_segment_compiled<M: Model, const EXTRA: bool>(
    model: &M,
    ops: &[SearchOp<M::Op>],
    local: &[usize],
    plan: &Plan,
    starts: &[Carried<M::State>],
    last: bool,
    limits: Limits,
    usage: &mut Usage,
    meter: &mut Meter,
    carried_bytes: u64,
    evidence: Evidence,
    cancelled: &dyn Fn() -> bool,
) -> SegmentOutcome<M::State> {
    let scan_max = match evidence {
        Evidence::Exact => 1,
        Evidence::Fast => 8,
    };
    let count = local.len();
    let calls: Vec<(usize, Option<usize>)> =
        local.iter().map(|&i| (ops[i].call, ops[i].ret)).collect();
    let mut entries = Entries::new(&calls);
    let mut states = States::new(model, count);
    // Ordinals: required operations in order of invocation, and indeterminate ones.
    let mut ordinal = vec![0u32; count];
    let (mut required, mut indeterminate) = (0u32, 0u32);
    for (l, &(_, ret)) in calls.iter().enumerate() {
        if ret.is_some() {
            ordinal[l] = required;
            required += 1;
        } else {
            ordinal[l] = indeterminate;
            indeterminate += 1;
        }
    }
    let mut placed_set = Placed::new(required as usize, indeterminate as usize);
    let mut cache = Cache::new(placed_set.info.len());
    let keys: Vec<u64> = (0..count as u64).map(mix).collect();
    let read_only: Vec<bool> = local
        .iter()
        .map(|&i| model.is_read_only(&ops[i].op))
        .collect();
    let resets: Vec<bool> = local.iter().map(|&i| model.resets(&ops[i].op)).collect();
    let lazy: Vec<bool> = local.iter().map(|&i| plan.lazy[i]).collect();
    let blind: Vec<bool> = local.iter().map(|&i| plan.blind[i]).collect();
    let any_lazy = lazy.iter().any(|&l| l);
    // Models that never answer `resets() == false` do not prune this way: skip the scans.
    let prunes = resets.iter().any(|&reset| !reset);
    // The closest earlier indeterminate operation equal to each indeterminate one.
    let mut twin_before = vec![NONE; count];
    if indeterminate > 1 {
        let mut latest: FixedMap<u32, u32> = FixedMap::default();
        for l in 0..count {
            if calls[l].1.is_none() {
                if let Some(previous) = latest.insert(plan.group[local[l]], l as u32) {
                    twin_before[l] = previous;
                }
            }
        }
    }
    // For the pruning of exhausted states: the state each operation leaves (its producers),
    // the state each required operation must meet (its watchers), and how many of each are
    // unplaced, per state.
    let exhaustion = plan.exhaustion && count > 1;
    let (mut producer, mut watcher) = (vec![NONE; count], vec![NONE; count]);
    let (mut producers, mut watchers): (Vec<u32>, Vec<u32>) = (Vec::new(), Vec::new());
    if EXTRA && exhaustion {
        let bump = |counts: &mut Vec<u32>, id: u32| {
            if counts.len() <= id as usize {
                counts.resize(id as usize + 1, 0);
            }
            counts[id as usize] += 1;
        };
        for l in 0..count {
            let op = &ops[local[l]].op;
            if let Some(state) = model.leaves(op) {
                producer[l] = states.intern(state);
                bump(&mut producers, producer[l]);
            }
            if calls[l].1.is_some() {
                if let Observation::State(state) = model.observes(op) {
                    watcher[l] = states.intern(state);
                    bump(&mut watchers, watcher[l]);
                }
            }
        }
    }
    let count_of = |counts: &[u32], id: u32| counts.get(id as usize).copied().unwrap_or(0);
    let state_key = |state: u32| mix(u64::from(state) ^ 0x5eed_0000_0000);
    let fixed_bytes = carried_bytes + entries.bytes() + count as u64 * 48;

    let mut placed = vec![false; count];
    let optional_op: Vec<bool> = calls.iter().map(|&(_, ret)| ret.is_none()).collect();
    // Counted locally (a register, not a store through `usage`) and written back on return.
    let mut steps = usage.steps;
    let mut stack: Vec<Frame> = Vec::with_capacity(count);
    // Call entries of the lazy writes the frames absorbed, frame after frame.
    let mut absorbed: Vec<u32> = Vec::new();
    let mut batch: Vec<u32> = Vec::new();
    let mut furthest: Option<DeadEnd> = None;
    let mut ends: Vec<End> = Vec::new();
    let mut ends_bytes = 0u64;
    let mut ended: Vec<bool> = Vec::new();
    // Starting configurations: one per carried state, nothing placed yet.
    let mut roots = Vec::with_capacity(starts.len());
    for start in starts {
        let state = states.intern(start.state.clone());
        cache.insert(state_key(state), state, 0, &[], &placed_set.info, NO_PATCH);
        roots.push(state);
    }
    for (root, &root_state) in roots.iter().enumerate() {
        let mut state = root_state;
        let mut zobrist = 0u64;
        let mut remaining = required as usize;
        // The lowest the stack has been since the last dead end was recorded (see `record`).
        let mut low_water = 0usize;
        let mut entry = entries.next[HEAD as usize];
        loop {
            // `Some(record)`: undo the last choice; `record` says whether this is a dead end
            // to record (a return no order from this configuration gets past).
            let mut backtrack = None;
            // Every unplaced required operation has its return entry in the list, so the
            // walk meets one before the end unless all are placed, which ends the walk first.
            assert!(entry != NONE, "walked past the last return entry");
            let op = entries.op[entry as usize] as usize;
            let is_call = entries.is_call[entry as usize];
            // A lazy write's return: it is placed alone, now, as the only choice left.
            let alone = EXTRA && !is_call && lazy[op];
            if is_call || alone {
                if EXTRA && is_call && lazy[op] {
                    entry = entries.next[entry as usize];
                    continue;
                }
                // Only indeterminate operations have twins.
                let twin = twin_before[op];
                if twin != NONE && !placed[twin as usize] {
                    // An identical indeterminate operation invoked earlier is still unplaced.
                    entry = entries.next[entry as usize];
                    continue;
                }
                if steps >= limits.budget {
                    usage.steps = steps;
                    return SegmentOutcome::Exhausted(Exhausted::Steps);
                }
                if steps.is_multiple_of(4096) && cancelled() {
                    usage.steps = steps;
                    return SegmentOutcome::Cancelled;
                }
                steps += 1;
                let optional = optional_op[op];
                let next = states.step(ops, local, op, state, read_only[op]);
                if next == ILLEGAL || (optional && next == state) {
                    assert!(!alone, "a blind write is legal in every state");
                    entry = entries.next[entry as usize];
                    continue;
                }
                if EXTRA && exhaustion && !alone && next != state {
                    let producing = count_of(&producers, state) - u32::from(producer[op] == state);
                    let watching = count_of(&watchers, state) - u32::from(watcher[op] == state);
                    if watching > 0 && producing == 0 {
                        // Leaving a state for good while a required operation still has to
                        // meet it: no order from here places that operation. The order dies at
                        // the first return due at the latest; exactly there if that return is
                        // a watcher's (see `Evidence`).
                        let due = first_due(&entries, op);
                        let first = watcher[due] == state;
                        let position = calls[due].1.unwrap_or(usize::MAX);
                        if first
                            && furthest
                                .as_ref()
                                .is_none_or(|best| position > best.position)
                        {
                            record(
                                &mut furthest,
                                &stack,
                                &absorbed,
                                &entries,
                                low_water,
                                root,
                                position,
                                due,
                                Some(op as u32),
                            );
                            low_water = stack.len();
                        }
                        if first || evidence == Evidence::Fast {
                            // A pruned order that may have died elsewhere: the evidence may
                            // not be the furthest.
                            usage.inexact |= !first;
                            entry = entries.next[entry as usize];
                            continue;
                        }
                    }
                }
                if prunes && !alone {
                    let next_state = &states.states[next as usize];
                    let doom = doomed(
                        model, ops, local, &entries, &resets, entry, next_state, scan_max,
                    );
                    if let Some((due_op, first)) = doom {
                        // Only the first operation due is certainly where this order dies; a
                        // later one may not be (see `Evidence`), so only the first is recorded.
                        let position = calls[due_op].1.unwrap_or(usize::MAX);
                        let further = furthest
                            .as_ref()
                            .is_none_or(|best| position > best.position);
                        if first && further {
                            record(
                                &mut furthest,
                                &stack,
                                &absorbed,
                                &entries,
                                low_water,
                                root,
                                position,
                                due_op,
                                Some(op as u32),
                            );
                            low_water = stack.len();
                        }
                        entry = entries.next[entry as usize];
                        continue;
                    }
                }
                // Lazy writes absorbed just before this blind write: the unplaced ones whose
                // call comes before the first return in the list (but their own).
                batch.clear();
                if EXTRA && any_lazy && blind[op] && !alone {
                    absorbable(&entries, &lazy, &mut batch);
                }
                // The configuration with `op` (and the batch) placed, in its compact form.
                let mut hash = zobrist ^ keys[op] ^ state_key(next);
                // The common case probes with the bit patched in, without setting it.
                let patch = if batch.is_empty() {
                    placed_set.patch(!optional, ordinal[op])
                } else {
                    None
                };
                let new = if let Some((hi, patch)) = patch {
                    let window = &placed_set.req[placed_set.lo..hi];
                    let new =
                        cache.insert(hash, next, placed_set.lo, window, &placed_set.info, patch);
                    if new {
                        placed_set.set(!optional, ordinal[op]);
                    }
                    new
                } else {
                    placed_set.set(!optional, ordinal[op]);
                    for &c in &batch {
                        let w = entries.op[c as usize] as usize;
                        hash ^= keys[w];
                        placed_set.set(true, ordinal[w]);
                    }
                    let new = cache.insert(
                        hash,
                        next,
                        placed_set.lo,
                        placed_set.window(),
                        &placed_set.info,
                        NO_PATCH,
                    );
                    if !new {
                        placed_set.clear(!optional, ordinal[op]);
                        for &c in &batch {
                            placed_set.clear(true, ordinal[entries.op[c as usize] as usize]);
                        }
                    }
                    new
                };
                if !new {
                    if !alone && !read_only[op] {
                        entry = entries.next[entry as usize];
                        continue;
                    }
                    // Explored before, and it was the only choice worth trying (a lazy write
                    // alone, a read-only step): this configuration is done.
                    backtrack = Some(false);
                } else {
                    // Counted at the first entry and every 64th: the limit may be passed by
                    // the bytes of 64 entries.
                    if cache.count % 64 == 1 {
                        let used = fixed_bytes
                            + cache.bytes()
                            + states.bytes()
                            + stack.len() as u64 * 16
                            + absorbed.len() as u64 * 4
                            + ends_bytes
                            + furthest.as_ref().map_or(0, |d| d.prefix.len() as u64 * 4);
                        if !meter.within(used) {
                            usage.steps = steps;
                            return SegmentOutcome::Exhausted(Exhausted::Memory);
                        }
                    }
                    let call = if alone {
                        call_entry_of(&entries, entry)
                    } else {
                        entry
                    };
                    for &c in &batch {
                        let w = entries.op[c as usize] as usize;
                        placed[w] = true;
                        zobrist ^= keys[w];
                        entries.lift(c);
                        absorbed.push(c);
                        remaining -= 1;
                        if EXTRA && exhaustion {
                            uncount(&mut producers, producer[w]);
                            uncount(&mut watchers, watcher[w]);
                        }
                    }
                    if EXTRA && exhaustion {
                        uncount(&mut producers, producer[op]);
                        uncount(&mut watchers, watcher[op]);
                    }
                    stack.push(Frame {
                        call,
                        before: state,
                        forced: read_only[op] || alone,
                        absorbed: batch.len() as u32,
                    });
                    state = next;
                    placed[op] = true;
                    zobrist ^= keys[op];
                    entries.lift(call);
                    if !optional {
                        remaining -= 1;
                    }
                    if remaining > 0 {
                        entry = entries.next[HEAD as usize];
                        continue;
                    }
                    let order = prefix_of(&stack, &absorbed, &entries);
                    if last {
                        usage.steps = steps;
                        return SegmentOutcome::Found { root, order };
                    }
                    // One end per state is all the next segment needs.
                    let state_index = state as usize;
                    if ended.len() <= state_index {
                        ended.resize(state_index + 1, false);
                    }
                    if !ended[state_index] {
                        ended[state_index] = true;
                        ends_bytes += 32 + order.len() as u64 * 4;
                        ends.push(End { root, state, order });
                    }
                    backtrack = Some(false);
                }
            }
            if backtrack.unwrap_or(true) {
                // `op` returned before it could be placed in this configuration.
                let position = calls[op].1.unwrap_or(usize::MAX);
                if furthest
                    .as_ref()
                    .is_none_or(|best| position > best.position)
                {
                    record(
                        &mut furthest,
                        &stack,
                        &absorbed,
                        &entries,
                        low_water,
                        root,
                        position,
                        op,
                        None,
                    );
                    low_water = stack.len();
                }
            }
            // Undo choices until one that leaves siblings to try.
            let mut exhausted = false;
            loop {
                let Some(frame) = stack.pop() else {
                    exhausted = true;
                    break;
                };
                low_water = low_water.min(stack.len());
                let undone = entries.op[frame.call as usize] as usize;
                state = frame.before;
                placed[undone] = false;
                zobrist ^= keys[undone];
                let undone_required = calls[undone].1.is_some();
                placed_set.clear(undone_required, ordinal[undone]);
                if EXTRA && exhaustion {
                    recount(&mut producers, producer[undone]);
                    recount(&mut watchers, watcher[undone]);
                }
                if undone_required {
                    remaining += 1;
                }
                entries.unlift(frame.call);
                for _ in 0..frame.absorbed {
                    let c = absorbed.pop().expect("absorbed entries are on the stack");
                    let w = entries.op[c as usize] as usize;
                    placed[w] = false;
                    zobrist ^= keys[w];
                    placed_set.clear(true, ordinal[w]);
                    remaining += 1;
                    entries.unlift(c);
                    if EXTRA && exhaustion {
                        recount(&mut producers, producer[w]);
                        recount(&mut watchers, watcher[w]);
                    }
                }
                entry = entries.next[frame.call as usize];
                if !frame.forced {
                    break;
                }
            }
            if exhausted {
                break;
            }
        }
    }
    usage.steps = steps;
    if ends.is_empty() {
        let dead = furthest.expect("a dead end was recorded before every start was exhausted");
        return SegmentOutcome::Stuck(dead);
    }
    SegmentOutcome::Through {
        ends,
        states: states.states,
    }
}

fn uncount(counts: &mut [u32], id: u32) {
    if id != NONE {
        counts[id as usize] -= 1;
    }
}

fn recount(counts: &mut [u32], id: u32) {
    if id != NONE {
        counts[id as usize] += 1;
    }
}

/// The operation of the first return entry in the list but `op`'s.
#[inline(never)]
fn first_due(entries: &Entries, op: usize) -> usize {
    let mut scan = entries.next[HEAD as usize];
    while scan != NONE
        && (entries.is_call[scan as usize] || entries.op[scan as usize] as usize == op)
    {
        scan = entries.next[scan as usize];
    }
    entries.op[scan as usize] as usize
}

/// The call entries of the unplaced lazy writes that may be placed now: those whose call
/// comes before the first return in the list (but their own).
#[inline(never)]
fn absorbable(entries: &Entries, lazy: &[bool], batch: &mut Vec<u32>) {
    let mut scan = entries.next[HEAD as usize];
    while scan != NONE {
        let index = scan as usize;
        let other = entries.op[index] as usize;
        if entries.is_call[index] {
            if lazy[other] {
                batch.push(scan);
            }
        } else if !(lazy[other]
            && batch
                .iter()
                .any(|&c| entries.op[c as usize] as usize == other))
        {
            break;
        }
        scan = entries.next[index];
    }
}

/// The order of the stack: each frame's operation, after the lazy writes it absorbed.
fn prefix_of(stack: &[Frame], absorbed: &[u32], entries: &Entries) -> Vec<u32> {
    let mut order = Vec::with_capacity(stack.len() + absorbed.len());
    let mut next_absorbed = 0;
    for frame in stack {
        for &c in &absorbed[next_absorbed..next_absorbed + frame.absorbed as usize] {
            order.push(entries.op[c as usize]);
        }
        next_absorbed += frame.absorbed as usize;
        order.push(entries.op[frame.call as usize]);
    }
    order
}

/// The call entry of the operation whose return entry is `ret` (both still in the list).
fn call_entry_of(entries: &Entries, ret: u32) -> u32 {
    let op = entries.op[ret as usize];
    let mut entry = entries.prev[ret as usize];
    while entries.op[entry as usize] != op || !entries.is_call[entry as usize] {
        entry = entries.prev[entry as usize];
    }
    entry
}

/// Looks for an operation that can no longer become legal once `placing` is placed in state
/// `next`. Only operations invoked before an operation's return can be placed before it, so if
/// none of those resets, it must become legal by operations that do not reset. The scan stops
/// at the first call that resets, or after `scan_max` returns. Also says whether the doomed
/// operation is the first due to return.
#[allow(clippy::too_many_arguments)]
fn doomed<M: Model>(
    model: &M,
    ops: &[SearchOp<M::Op>],
    local: &[usize],
    entries: &Entries,
    resets: &[bool],
    placing: u32,
    next: &M::State,
    scan_max: usize,
) -> Option<(usize, bool)> {
    let skip = entries.ret[placing as usize];
    let mut entry = entries.next[HEAD as usize];
    let mut scanned = 0;
    while entry != NONE && scanned < scan_max {
        let index = entry as usize;
        let op = entries.op[index] as usize;
        if entries.is_call[index] {
            if entry != placing && resets[op] {
                return None;
            }
        } else if entry != skip {
            if !model.may_become_legal(next, &ops[local[op]].op) {
                return Some((op, scanned == 0));
            }
            scanned += 1;
        }
        entry = entries.next[index];
    }
    None
}

/// For each indeterminate operation, a group number shared with the equal ones (others get
/// `NONE`). Equal indeterminate operations are interchangeable: neither has a return to
/// respect, and once both are invoked either can stand where the other would. So the search
/// places them in order of invocation, pruning the mirror-image orders.
fn twin_groups<O: PartialEq + std::fmt::Debug>(ops: &[SearchOp<O>]) -> Vec<u32> {
    let mut group = vec![NONE; ops.len()];
    // Grouped by their debug text (a cheap, deterministic key); equality decides.
    let mut buckets: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    let mut groups = 0u32;
    for index in (0..ops.len()).filter(|&i| ops[i].ret.is_none()) {
        let bucket = buckets.entry(format!("{:?}", ops[index].op)).or_default();
        if let Some(&twin) = bucket.iter().find(|&&other| ops[other].op == ops[index].op) {
            group[index] = group[twin];
        } else {
            group[index] = groups;
            groups += 1;
            bucket.push(index);
        }
    }
    group
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Value;
    use crate::model::{CasRegister, RegisterOp};

    /// A random register history of `clients` clients taking turns, mostly without overlap:
    /// operations as the search takes them, some indeterminate (no return).
    fn history(seed: u64, count: usize, clients: u64) -> Vec<SearchOp<RegisterOp>> {
        let mut state = seed;
        let mut draw = |bound: u64| {
            state = mix(state);
            state % bound
        };
        let mut ops = Vec::new();
        let mut position = 0usize;
        let mut busy_until = vec![0usize; clients as usize];
        for _ in 0..count {
            let client = draw(clients) as usize;
            let call = position.max(busy_until[client]) + draw(3) as usize;
            let length = 1 + draw(4) as usize;
            let value = Value::Int(draw(3) as i64);
            let op = match draw(4) {
                0 if draw(2) == 0 => RegisterOp::Read(None),
                0 => RegisterOp::Read(Some(value)),
                1 | 2 => RegisterOp::Write(value),
                _ => RegisterOp::Cas(Value::Int(draw(3) as i64), value),
            };
            let ret = (draw(16) != 0).then_some(call + length);
            // After an indeterminate operation a new process takes the client's place.
            busy_until[client] = call + length + 1;
            position = call + 1;
            ops.push(SearchOp { op, call, ret });
        }
        // Calls and returns at distinct positions, as in a history.
        let mut positions: Vec<(usize, usize, bool)> = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            positions.push((op.call * 2, i, true));
            if let Some(ret) = op.ret {
                positions.push((ret * 2 + 1, i, false));
            }
        }
        positions.sort_unstable();
        for (rank, &(_, i, is_call)) in positions.iter().enumerate() {
            if is_call {
                ops[i].call = rank;
            } else {
                ops[i].ret = Some(rank);
            }
        }
        ops.sort_by_key(|op| op.call);
        ops
    }

    /// Whether `order` places every required operation, respects real time and is legal.
    fn legal(model: &CasRegister, ops: &[SearchOp<RegisterOp>], order: &[usize]) -> bool {
        let mut placed = vec![false; ops.len()];
        let mut state = model.init();
        for (i, &a) in order.iter().enumerate() {
            if placed[a]
                || order[i + 1..]
                    .iter()
                    .any(|&b| ops[b].ret.is_some_and(|r| r < ops[a].call))
            {
                return false;
            }
            placed[a] = true;
            match model.step(&state, &ops[a].op) {
                Some(next) => state = next,
                None => return false,
            }
        }
        ops.iter()
            .zip(&placed)
            .all(|(op, &placed)| placed || op.ret.is_none())
    }

    #[test]
    fn the_easy_pass_agrees_with_the_full_search() {
        let model = CasRegister::strict(Value::Nil);
        let limits = Limits {
            budget: 1_000_000,
            memory: 1 << 30,
        };
        let (mut easy_found, mut refuted) = (0, 0);
        for seed in 0..3_000 {
            let ops = history(seed, 2 + seed as usize % 24, 1 + seed % 4);
            let observers = Observers::new(&model, &ops);
            let plan = plan(&model, &ops, &observers);
            let mut meter = Meter {
                limit: limits.memory,
                peak: 0,
            };
            let easy = easy_search(
                &model,
                &ops,
                &plan,
                limits,
                &mut Usage::default(),
                &mut meter,
            );
            let mut meter = Meter {
                limit: limits.memory,
                peak: 0,
            };
            let full = search_plan(
                &model,
                &ops,
                &plan,
                limits,
                &mut Usage::default(),
                &mut meter,
                Evidence::Exact,
                &|| false,
            );
            match (&easy, &full) {
                (Some(order), SearchOutcome::Linearizable(_)) => {
                    assert!(legal(&model, &ops, order), "seed {seed}: {order:?}");
                    easy_found += 1;
                }
                (Some(_), _) => {
                    panic!("seed {seed}: the easy pass found an order, the search none")
                }
                (None, SearchOutcome::NotLinearizable(_)) => refuted += 1,
                (None, _) => {}
            }
        }
        assert!(
            easy_found > 300 && refuted > 300,
            "{easy_found} and {refuted}"
        );
    }
}
