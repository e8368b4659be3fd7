//! The trace: one readable line per applied event, and a fingerprint over all of them.
//!
//! The fingerprint is a 64-bit hash folded over every applied event (its time, kind, nodes and
//! payload hash). Two runs with the same fingerprint applied the same events in the same order;
//! `--check-determinism` compares fingerprints and, when they differ, the trace lines. The hash is
//! our own fixed function — never `std`'s randomly keyed one — so it is the same on every machine.
//! Trace lines are only formatted when a trace is being written, and are streamed, never kept.

use std::hash::Hasher;
use std::io::Write;

/// A fixed, seedless 64-bit hasher (a multiply–xorshift mix), for fingerprints and caches.
#[derive(Clone, Copy, Debug)]
pub struct FixedHasher {
    state: u64,
}

const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

impl Default for FixedHasher {
    fn default() -> Self {
        FixedHasher {
            state: 0x243F_6A88_85A3_08D3,
        }
    }
}

impl FixedHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        // FxHash's step: one rotate, one xor, one multiply. Weak alone; `finish` mixes fully.
        self.state = (self.state.rotate_left(5) ^ word).wrapping_mul(MULTIPLIER);
    }
}

impl Hasher for FixedHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.mix(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }
    #[inline]
    fn write_u8(&mut self, value: u8) {
        self.mix(u64::from(value));
    }
    #[inline]
    fn write_u32(&mut self, value: u32) {
        self.mix(u64::from(value));
    }
    #[inline]
    fn write_u64(&mut self, value: u64) {
        self.mix(value);
    }
    #[inline]
    fn write_usize(&mut self, value: usize) {
        // Fixed width, so 32- and 64-bit machines agree.
        self.mix(value as u64);
    }
    #[inline]
    fn write_i64(&mut self, value: i64) {
        self.mix(value as u64);
    }
    fn finish(&self) -> u64 {
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Where trace lines go, if anywhere.
pub struct TraceSink<'a> {
    writer: Option<&'a mut dyn Write>,
    error: Option<std::io::Error>,
    line: String,
}

impl<'a> TraceSink<'a> {
    /// A sink writing to `writer`, or discarding everything when `None`.
    pub fn new(writer: Option<&'a mut dyn Write>) -> TraceSink<'a> {
        TraceSink {
            writer,
            error: None,
            line: String::new(),
        }
    }

    /// Whether lines are wanted (callers skip formatting otherwise).
    #[inline]
    pub fn enabled(&self) -> bool {
        self.writer.is_some() && self.error.is_none()
    }

    /// Writes one line built by `build` into the reused buffer.
    pub fn line(&mut self, build: impl FnOnce(&mut String)) {
        if !self.enabled() {
            return;
        }
        self.line.clear();
        build(&mut self.line);
        self.line.push('\n');
        if let Some(writer) = self.writer.as_mut() {
            if let Err(error) = writer.write_all(self.line.as_bytes()) {
                self.error = Some(error);
            }
        }
    }

    /// Flushes and reports the first write error, if any.
    pub fn finish(mut self) -> std::io::Result<()> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        match self.writer.as_mut() {
            Some(writer) => writer.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::Hash;

    fn hash_of(value: impl Hash) -> u64 {
        let mut hasher = FixedHasher::default();
        value.hash(&mut hasher);
        hasher.finish()
    }

    #[test]
    fn fixed_hasher_is_pinned_and_sensitive() {
        assert_eq!(hash_of((1u64, "a")), hash_of((1u64, "a")));
        assert_ne!(hash_of((1u64, "a")), hash_of((2u64, "a")));
        assert_ne!(hash_of("ab"), hash_of("ba"));
        insta::assert_snapshot!(format!(
            "{:016x}",
            hash_of((42u64, "detsim", vec![1u32, 2, 3]))
        ));
    }
}
