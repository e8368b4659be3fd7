//! The Wing–Gong–Lowe search for one partition, as Lowe and Porcupine run it.
//!
//! Operations become entries in a doubly linked list ordered by time: a call entry per
//! operation and a return entry per operation that must be placed (an `ok` one). The search
//! walks the list: at a call entry it tries to linearize that operation next (the model accepts
//! it from the current state and the pair (set of linearized operations, new state) was not
//! seen before); if so, both entries are *lifted* out of the list, the choice is pushed on an
//! explicit stack and the walk restarts from the head. Reaching a return entry means that
//! operation completed before it could be placed: the last choice is undone (*unlifted*) and
//! the walk resumes after it. Indeterminate operations have no return entry: they may be
//! placed at any point after their call, or never. The history is linearizable when every
//! required operation is placed; not linearizable when the stack is empty at a return entry.
//!
//! The cache is what makes this fast: a configuration (set of linearized operations, state) is
//! explored at most once. Sets are bitsets; their hash is kept incrementally (Zobrist: the XOR
//! of a fixed pseudo-random key per operation). States are interned to small integers; for
//! models with few states (registers, mutexes) each (operation, state) step is memoised, so
//! the model runs once per distinct pair. On top of Lowe's algorithm, [`search`] prunes
//! orders that provably cannot matter (reads placed as soon as they are legal, indeterminate
//! operations that change nothing or are twins of another, states from which the next operation
//! due can never become legal); each pruning keeps the verdict, and the evidence, unchanged.

use crate::model::Model;
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
type FixedMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FixedHasher>>;

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

/// One operation of a partition, ready for the search.
pub(crate) struct SearchOp<O> {
    /// The model's operation.
    pub op: O,
    /// Position of its call in the history (orders entries).
    pub call: usize,
    /// Position of its return, if it must be placed.
    pub ret: Option<usize>,
}

/// Why a search stopped.
pub(crate) enum SearchOutcome {
    /// Every required operation was placed; the order (indices into the ops).
    Linearizable(Vec<usize>),
    /// Stuck: no order places every required operation.
    NotLinearizable(Stuck),
    /// The step budget ran out.
    Unknown,
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

/// Interned states and memoised steps.
struct States<'m, M: Model> {
    model: &'m M,
    states: Vec<M::State>,
    ids: FixedMap<M::State, u32>,
    /// `memo[op][state]`: next state id, `ILLEGAL`, or `UNKNOWN`, for `state < DENSE_STATES_MAX`.
    memo: Vec<Vec<u32>>,
}

impl<'m, M: Model> States<'m, M> {
    fn new(model: &'m M, op_count: usize) -> Self {
        States {
            model,
            states: Vec::new(),
            ids: FixedMap::default(),
            memo: vec![Vec::new(); op_count],
        }
    }

    fn intern(&mut self, state: M::State) -> u32 {
        if let Some(&id) = self.ids.get(&state) {
            return id;
        }
        let id = self.states.len() as u32;
        assert!(id < ILLEGAL, "more states than the search can number");
        self.states.push(state.clone());
        self.ids.insert(state, id);
        id
    }

    #[inline]
    fn step(&mut self, ops: &[SearchOp<M::Op>], op: usize, state: u32) -> u32 {
        let dense = state < DENSE_STATES_MAX;
        if dense {
            if let Some(&known) = self.memo[op].get(state as usize) {
                if known != UNKNOWN {
                    return known;
                }
            }
        }
        let next = match self.model.step(&self.states[state as usize], &ops[op].op) {
            Some(next) => self.intern(next),
            None => ILLEGAL,
        };
        if dense {
            let row = &mut self.memo[op];
            if row.len() <= state as usize {
                row.resize(state as usize + 1, UNKNOWN);
            }
            row[state as usize] = next;
        }
        next
    }
}

/// The set of explored configurations: (bitset of linearized operations, state id), in an
/// open-addressing table over a flat arena.
struct Cache {
    words: usize,
    /// Entry `i` is `arena[i * (words + 1)..][..words + 1]`: the bitset, then the state.
    arena: Vec<u64>,
    hashes: Vec<u64>,
    /// Slot: the hash's high 32 bits, then entry index + 1 in the low 32 bits; 0 when empty.
    /// The tag spares a visit to the arena for almost every entry that does not match.
    slots: Vec<u64>,
}

impl Cache {
    fn new(words: usize) -> Self {
        Cache {
            words,
            arena: Vec::new(),
            hashes: Vec::new(),
            slots: vec![0; 1024],
        }
    }

    fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Inserts (`bits` with operation `op` set, `state`); returns whether it was new.
    #[inline]
    fn insert(&mut self, hash: u64, bits: &[u64], op: usize, state: u32) -> bool {
        let stride = self.words + 1;
        let (word_of_op, bit_of_op) = (op / 64, 1u64 << (op % 64));
        let mask = self.slots.len() - 1;
        let mut slot = (hash as usize) & mask;
        let tag = hash & 0xffff_ffff_0000_0000;
        loop {
            let occupant = self.slots[slot];
            if occupant == 0 {
                break;
            }
            if occupant & 0xffff_ffff_0000_0000 == tag {
                let entry = (occupant & 0xffff_ffff) as usize - 1;
                let stored = &self.arena[entry * stride..(entry + 1) * stride];
                let same = stored[self.words] == u64::from(state)
                    && bits.iter().enumerate().all(|(w, &word)| {
                        let word = if w == word_of_op {
                            word | bit_of_op
                        } else {
                            word
                        };
                        stored[w] == word
                    });
                if same {
                    return false;
                }
            }
            slot = (slot + 1) & mask;
        }
        let entry = self.hashes.len();
        assert!(entry < u32::MAX as usize - 1, "cache entries overflow u32");
        self.hashes.push(hash);
        self.arena.extend_from_slice(bits);
        self.arena[entry * stride + word_of_op] |= bit_of_op;
        self.arena.push(u64::from(state));
        self.slots[slot] = tag | (entry as u64 + 1);
        if self.len() * 2 > self.slots.len() {
            self.grow();
        }
        true
    }

    fn grow(&mut self) {
        let capacity = self.slots.len() * 2;
        let mask = capacity - 1;
        let mut slots = vec![0u64; capacity];
        for (entry, &hash) in self.hashes.iter().enumerate() {
            let mut slot = (hash as usize) & mask;
            while slots[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            slots[slot] = (hash & 0xffff_ffff_0000_0000) | (entry as u64 + 1);
        }
        self.slots = slots;
    }
}

/// The doubly linked list of call and return entries, with lift and unlift.
struct Entries {
    next: Vec<u32>,
    prev: Vec<u32>,
    /// The operation of each entry.
    op: Vec<u32>,
    /// For a call entry, its return entry (or `NONE`); for a return entry, `NONE`.
    ret: Vec<u32>,
    is_call: Vec<bool>,
}

/// Entry 0 is the head sentinel.
const HEAD: u32 = 0;

impl Entries {
    fn new<O>(ops: &[SearchOp<O>]) -> (Self, Vec<u32>) {
        // (position in history, op, is call)
        let mut events: Vec<(usize, usize, bool)> = Vec::with_capacity(ops.len() * 2);
        for (index, op) in ops.iter().enumerate() {
            events.push((op.call, index, true));
            if let Some(ret) = op.ret {
                assert!(ret > op.call, "a return precedes its call");
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
        (entries, call_entry)
    }

    #[inline]
    fn unlink(&mut self, entry: u32) {
        let (prev, next) = (self.prev[entry as usize], self.next[entry as usize]);
        self.next[prev as usize] = next;
        if next != NONE {
            self.prev[next as usize] = prev;
        }
    }

    #[inline]
    fn relink(&mut self, entry: u32) {
        let (prev, next) = (self.prev[entry as usize], self.next[entry as usize]);
        self.next[prev as usize] = entry;
        if next != NONE {
            self.prev[next as usize] = entry;
        }
    }

    #[inline]
    fn lift(&mut self, call: u32) {
        self.unlink(call);
        let ret = self.ret[call as usize];
        if ret != NONE {
            self.unlink(ret);
        }
    }

    #[inline]
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
    /// It left the state unchanged, so it was the only choice worth trying (see `search`).
    forced: bool,
}

/// A dead end, kept cheaply (state ids) until the search ends.
struct DeadEnd {
    /// Position of the return that could not be passed.
    position: usize,
    /// The operation of that return.
    op: usize,
    /// The linearized prefix: (operation, state after it).
    prefix: Vec<(usize, u32)>,
    /// The state the operation met.
    state: u32,
}

fn dead_end(stack: &[Frame], entries: &Entries, position: usize, op: usize, state: u32) -> DeadEnd {
    let prefix = stack
        .iter()
        .enumerate()
        .map(|(i, frame)| {
            let after = stack.get(i + 1).map_or(state, |next| next.before);
            (entries.op[frame.call as usize] as usize, after)
        })
        .collect();
    DeadEnd {
        position,
        op,
        prefix,
        state,
    }
}

/// Searches one partition. `steps` counts model steps tried (across calls) and the search
/// gives up when it would exceed `budget`.
///
/// Prunings beyond Lowe's, each an exchange argument that keeps both the verdict and the
/// evidence (the furthest return position any order reaches) unchanged:
/// - A read-only operation ([`Model::is_read_only`]) that the walk reaches (so nothing unplaced
///   had to come before it) and that is legal in the current state can be moved to the front of
///   any linearization of the rest: nothing must precede it in real time, it is legal here, and
///   the states the others meet are unchanged (if the rest leaves it out, as it may an
///   indeterminate operation, putting it first changes nothing either). So if no linearization
///   extends the configuration with it, none extends the configuration at all: undoing it undoes
///   its parent too, and finding it cached (already explored, in vain) undoes the parent at once.
/// - An indeterminate operation that would leave the state unchanged is not placed: any order
///   placing it here is matched by the same order without it.
/// - Identical indeterminate operations are placed in order of invocation ([`twins`]).
/// - A step into a state from which the first operation due to return can never become legal
///   ([`Model::may_become_legal`]), when no operation that may be placed before that return
///   [`Model::resets`], is not taken: that order dies at that return anyway, which is recorded
///   as its dead end.
pub(crate) fn search<M: Model>(
    model: &M,
    ops: &[SearchOp<M::Op>],
    budget: u64,
    steps: &mut u64,
    evidence: Evidence,
    cancelled: &dyn Fn() -> bool,
) -> SearchOutcome {
    let scan_max = match evidence {
        Evidence::Exact => 1,
        Evidence::Fast => 8,
    };
    let mut remaining = ops.iter().filter(|op| op.ret.is_some()).count();
    if remaining == 0 {
        return SearchOutcome::Linearizable(Vec::new());
    }
    let (mut entries, _) = Entries::new(ops);
    let mut states = States::new(model, ops.len());
    let words = ops.len().div_ceil(64);
    let mut cache = Cache::new(words);
    let keys: Vec<u64> = (0..ops.len() as u64).map(mix).collect();
    let read_only: Vec<bool> = ops.iter().map(|op| model.is_read_only(&op.op)).collect();
    let resets: Vec<bool> = ops.iter().map(|op| model.resets(&op.op)).collect();
    // Models that never answer `resets() == false` do not prune this way: skip the scans.
    let prunes = resets.iter().any(|&reset| !reset);
    let twin_before = twins(ops);
    let state_key = |state: u32| mix(u64::from(state) ^ 0x5eed_0000_0000);

    let mut bits = vec![0u64; words];
    let mut zobrist = 0u64;
    let mut state = states.intern(model.init());
    let mut stack: Vec<Frame> = Vec::with_capacity(ops.len());
    let mut furthest: Option<DeadEnd> = None;
    let mut entry = entries.next[HEAD as usize];
    loop {
        // Every unplaced required operation has its return entry still in the list, so the
        // walk meets a return entry before it runs off the end.
        assert!(entry != NONE, "walked past the last return entry");
        let op = entries.op[entry as usize] as usize;
        let mut cached_read = false;
        if entries.is_call[entry as usize] {
            let optional = ops[op].ret.is_none();
            let twin = twin_before[op];
            if optional && twin != NONE && bits[twin as usize / 64] & (1 << (twin % 64)) == 0 {
                // An identical indeterminate operation invoked earlier is still unplaced.
                entry = entries.next[entry as usize];
                continue;
            }
            if *steps >= budget {
                return SearchOutcome::Unknown;
            }
            if steps.is_multiple_of(4096) && cancelled() {
                return SearchOutcome::Cancelled;
            }
            *steps += 1;
            let next = states.step(ops, op, state);
            if next == ILLEGAL || (optional && next == state) {
                entry = entries.next[entry as usize];
                continue;
            }
            if prunes {
                let next_state = &states.states[next as usize];
                let doom = doomed(model, ops, &entries, &resets, entry, next_state, scan_max);
                if let Some((due_op, first)) = doom {
                    // Only the first operation due is certainly where this order dies; a later
                    // one may not be (see `Evidence`), so only the first is recorded.
                    let position = ops[due_op].ret.unwrap_or(usize::MAX);
                    let further = furthest
                        .as_ref()
                        .is_none_or(|best| position > best.position);
                    if first && further {
                        let mut with_op = stack.clone();
                        with_op.push(Frame {
                            call: entry,
                            before: state,
                            forced: false,
                        });
                        furthest = Some(dead_end(&with_op, &entries, position, due_op, next));
                    }
                    entry = entries.next[entry as usize];
                    continue;
                }
            }
            let hash = zobrist ^ keys[op] ^ state_key(next);
            let forced = read_only[op];
            if cache.insert(hash, &bits, op, next) {
                stack.push(Frame {
                    call: entry,
                    before: state,
                    forced,
                });
                state = next;
                bits[op / 64] |= 1 << (op % 64);
                zobrist ^= keys[op];
                entries.lift(entry);
                if ops[op].ret.is_some() {
                    remaining -= 1;
                    if remaining == 0 {
                        let order = stack
                            .iter()
                            .map(|frame| entries.op[frame.call as usize] as usize)
                            .collect();
                        return SearchOutcome::Linearizable(order);
                    }
                }
                entry = entries.next[HEAD as usize];
                continue;
            }
            if !forced {
                entry = entries.next[entry as usize];
                continue;
            }
            // A read-only step into an explored configuration: this one is dead too.
            cached_read = true;
        }
        if !cached_read {
            // `op` returned before it could be placed in this configuration.
            let position = ops[op].ret.unwrap_or(usize::MAX);
            if furthest
                .as_ref()
                .is_none_or(|best| position > best.position)
            {
                furthest = Some(dead_end(&stack, &entries, position, op, state));
            }
        }
        // Undo choices until one that leaves siblings to try.
        loop {
            let Some(frame) = stack.pop() else {
                let dead = furthest.expect("a dead end was recorded before the stack emptied");
                return SearchOutcome::NotLinearizable(describe(&states, dead));
            };
            let undone = entries.op[frame.call as usize] as usize;
            state = frame.before;
            bits[undone / 64] &= !(1 << (undone % 64));
            zobrist ^= keys[undone];
            entries.unlift(frame.call);
            if ops[undone].ret.is_some() {
                remaining += 1;
            }
            entry = entries.next[frame.call as usize];
            if !frame.forced {
                break;
            }
        }
    }
}

/// Looks for an operation that can no longer become legal once `placing` is placed in state
/// `next`. Only operations invoked before an operation's return can be placed before it, so if
/// none of those resets, it must become legal by operations that do not reset. The scan stops
/// at the first call that resets, or after `scan_max` returns. Also says whether the doomed
/// operation is the first due to return.
fn doomed<M: Model>(
    model: &M,
    ops: &[SearchOp<M::Op>],
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
            if !model.may_become_legal(next, &ops[op].op) {
                return Some((op, scanned == 0));
            }
            scanned += 1;
        }
        entry = entries.next[index];
    }
    None
}

fn describe<M: Model>(states: &States<'_, M>, dead: DeadEnd) -> Stuck {
    let text = |id: u32| states.model.describe_state(&states.states[id as usize]);
    Stuck {
        op: dead.op,
        prefix: dead
            .prefix
            .into_iter()
            .map(|(op, after)| (op, text(after)))
            .collect(),
        state: text(dead.state),
    }
}

/// For each indeterminate operation, the closest operation invoked before it that is also
/// indeterminate and equal to it (or `NONE`). Such twins are interchangeable: neither has a
/// return to respect, and once both are invoked either can stand where the other would. So the
/// search places twins in order of invocation, pruning the mirror-image orders.
fn twins<O: PartialEq + std::fmt::Debug>(ops: &[SearchOp<O>]) -> Vec<u32> {
    let mut twin_before = vec![NONE; ops.len()];
    // Grouped by their debug text (a cheap, deterministic key); equality decides.
    let mut groups: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    let mut order: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].ret.is_none()).collect();
    order.sort_by_key(|&i| ops[i].call);
    for index in order {
        let group = groups.entry(format!("{:?}", ops[index].op)).or_default();
        if let Some(&twin) = group
            .iter()
            .rev()
            .find(|&&other| ops[other].op == ops[index].op)
        {
            twin_before[index] = twin as u32;
        }
        group.push(index);
    }
    twin_before
}
