//! Writing a run's history files in one streaming pass, without building Jepsen operations.
//!
//! A long run records millions of entries. Turning each into a general `Op` (strings, vectors)
//! and through `serde_json` and the EDN printer costs an allocation or more per entry and far
//! more time than simulating it. The writers here format the recorder's compact entries
//! straight into a reused byte buffer: integers by hand, the interned function and error texts
//! copied. The bytes are exactly what the general writers produce (a test holds them to it);
//! entries that are not compact (general values, texts that need escaping) go through the
//! general writers, one entry at a time.
//!
//! Completions carry the node that served them as an extra key (`"node"` in JSON Lines, `:node`
//! in EDN); readers of either format ignore keys they do not know.

use crate::history::OpType;
use crate::recorder::RecordedHistory;
use crate::workload::Written;
use std::io::{self, Write};

/// Which history files a run writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct HistoryFormats {
    /// `history.jsonl`.
    pub jsonl: bool,
    /// `history.edn`.
    pub edn: bool,
}

impl HistoryFormats {
    /// Both formats (the default of `detsim run`).
    pub const BOTH: HistoryFormats = HistoryFormats {
        jsonl: true,
        edn: true,
    };

    /// Parses a comma-separated list: `jsonl`, `edn`, `both`, `none`.
    pub fn parse(text: &str) -> Result<HistoryFormats, String> {
        let mut formats = HistoryFormats::default();
        for part in text.split(',').map(str::trim) {
            match part {
                "jsonl" => formats.jsonl = true,
                "edn" => formats.edn = true,
                "both" => formats = HistoryFormats::BOTH,
                "none" => {}
                other => {
                    return Err(format!(
                        "unknown history format {other:?} (expected jsonl, edn, both or none)"
                    ))
                }
            }
        }
        Ok(formats)
    }
}

/// "00" to "99", two bytes each: integers are formatted two digits per division.
const DIGIT_PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Appends `value` in decimal. Times are a dozen digits long and every entry has a few such
/// numbers: two digits per division, through 32-bit arithmetic below 10^8, halves the cost of
/// the digit-by-digit loop.
#[inline]
fn push_u64(out: &mut Vec<u8>, value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut pair = |at: &mut usize, n: u32| {
        *at -= 2;
        let n = n as usize * 2;
        digits[*at..*at + 2].copy_from_slice(&DIGIT_PAIRS[n..n + 2]);
    };
    let mut high = value;
    let mut low = if value >= 100_000_000 {
        high = value / 100_000_000;
        let mut low = (value % 100_000_000) as u32;
        // The low eight digits in full, leading zeros included.
        for _ in 0..4 {
            pair(&mut at, low % 100);
            low /= 100;
        }
        if high >= 100_000_000 {
            let mut middle = (high % 100_000_000) as u32;
            high /= 100_000_000;
            for _ in 0..4 {
                pair(&mut at, middle % 100);
                middle /= 100;
            }
        }
        high as u32
    } else {
        high as u32
    };
    while low >= 100 {
        pair(&mut at, low % 100);
        low /= 100;
    }
    if low >= 10 {
        pair(&mut at, low);
    } else {
        at -= 1;
        digits[at] = b'0' + low as u8;
    }
    out.extend_from_slice(&digits[at..]);
}

/// Whether `function` can be written as it is: between quotes in JSON and as a keyword in EDN.
pub(crate) fn is_plain_keyword(function: &str) -> bool {
    !function.is_empty()
        && function
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_?!*+<>=".contains(&b))
}

/// Whether `text` can be written between quotes as it is, in JSON and in EDN alike.
pub(crate) fn is_plain(text: &str) -> bool {
    text.bytes()
        .all(|byte| (0x20..0x7f).contains(&byte) && byte != b'"' && byte != b'\\')
}

impl RecordedHistory {
    /// Writes entry `index` as one JSON Lines record, newline included.
    pub fn write_jsonl_entry(&self, index: usize, out: &mut Vec<u8>) {
        let view = self.compact_view(index);
        self.write_jsonl_with(index, view.as_ref(), &mut Line::new(), out);
    }

    /// [`RecordedHistory::write_jsonl_entry`] with the entry's compact view (if it has one)
    /// computed once for both formats, and a line buffer reused from entry to entry.
    fn write_jsonl_with(
        &self,
        index: usize,
        view: Option<&CompactView<'_>>,
        line: &mut Line,
        out: &mut Vec<u8>,
    ) {
        let start = out.len();
        if !view.is_some_and(|entry| Self::write_jsonl_compact(index, entry, line, out)) {
            out.truncate(start);
            let op = self.op(index);
            serde_json::to_writer(&mut *out, &op).expect("an operation serializes");
            if let Some(node) = self.node(index) {
                out.pop();
                out.extend_from_slice(b",\"node\":");
                push_u64(out, u64::from(node.0));
                out.push(b'}');
            }
            out.push(b'\n');
        }
    }

    fn write_jsonl_compact(
        index: usize,
        entry: &CompactView<'_>,
        line: &mut Line,
        out: &mut Vec<u8>,
    ) -> bool {
        if !entry.function_plain || !entry.error_plain || !Line::fits(entry) {
            return false;
        }
        line.len = 0;
        line.text(b"{\"index\":");
        line.u64(index as u64);
        line.text(b",\"type\":\"");
        line.text(op_type_name(entry.kind).as_bytes());
        line.text(b"\",\"process\":");
        line.u64(entry.process);
        line.text(b",\"f\":\"");
        line.text(entry.function.as_bytes());
        line.byte(b'"');
        if let Some(key) = entry.key {
            line.text(b",\"key\":");
            line.i64(key);
        }
        line.text(b",\"value\":");
        if !line.value(&entry.value, false) {
            return false;
        }
        line.text(b",\"time\":");
        line.u64(entry.time);
        if let Some(error) = entry.error {
            line.text(b",\"error\":\"");
            line.text(error.as_bytes());
            line.byte(b'"');
        }
        if let Some(node) = entry.node {
            line.text(b",\"node\":");
            line.u64(u64::from(node));
        }
        line.text(b"}\n");
        out.extend_from_slice(line.as_bytes());
        true
    }

    /// Writes entry `index` as one EDN map, newline included.
    pub fn write_edn_entry(&self, index: usize, out: &mut Vec<u8>) {
        let view = self.compact_view(index);
        self.write_edn_with(index, view.as_ref(), &mut Line::new(), out);
    }

    /// [`RecordedHistory::write_edn_entry`] as [`RecordedHistory::write_jsonl_with`] is.
    fn write_edn_with(
        &self,
        index: usize,
        view: Option<&CompactView<'_>>,
        line: &mut Line,
        out: &mut Vec<u8>,
    ) {
        let start = out.len();
        if !view.is_some_and(|entry| Self::write_edn_compact(index, entry, line, out)) {
            out.truncate(start);
            let op = self.op(index);
            let mut line = String::new();
            crate::check::edn::write_edn_line(&op, &mut line);
            if let Some(node) = self.node(index) {
                line.truncate(line.len() - 2); // "}\n"
                line.push_str(&format!(", :node {}}}\n", node.0));
            }
            out.extend_from_slice(line.as_bytes());
        }
    }

    fn write_edn_compact(
        index: usize,
        entry: &CompactView<'_>,
        line: &mut Line,
        out: &mut Vec<u8>,
    ) -> bool {
        if !entry.function_plain || !entry.error_plain || !Line::fits(entry) {
            return false;
        }
        line.len = 0;
        line.text(b"{:index ");
        line.u64(index as u64);
        line.text(b", :time ");
        line.u64(entry.time);
        line.text(b", :type :");
        line.text(op_type_name(entry.kind).as_bytes());
        line.text(b", :process ");
        line.u64(entry.process);
        line.text(b", :f :");
        line.text(entry.function.as_bytes());
        if let Some(key) = entry.key {
            line.text(b", :key ");
            line.i64(key);
        }
        line.text(b", :value ");
        if !line.value(&entry.value, true) {
            return false;
        }
        if let Some(error) = entry.error {
            line.text(b", :error \"");
            line.text(error.as_bytes());
            line.byte(b'"');
        }
        if let Some(node) = entry.node {
            line.text(b", :node ");
            line.u64(u64::from(node));
        }
        line.text(b"}\n");
        out.extend_from_slice(line.as_bytes());
        true
    }

    /// Writes the whole history in the chosen formats, streaming: one entry at a time into a
    /// reused buffer, flushed in large blocks.
    pub fn write_files(
        &self,
        mut jsonl: Option<&mut dyn Write>,
        mut edn: Option<&mut dyn Write>,
    ) -> io::Result<()> {
        const FLUSH_BYTES: usize = 1 << 16;
        let mut jsonl_buffer = Vec::with_capacity(FLUSH_BYTES + 512);
        let mut edn_buffer = Vec::with_capacity(FLUSH_BYTES + 512);
        let mut line = Line::new();
        for index in 0..self.len() {
            let view = self.compact_view(index);
            if let Some(out) = jsonl.as_mut() {
                self.write_jsonl_with(index, view.as_ref(), &mut line, &mut jsonl_buffer);
                if jsonl_buffer.len() >= FLUSH_BYTES {
                    out.write_all(&jsonl_buffer)?;
                    jsonl_buffer.clear();
                }
            }
            if let Some(out) = edn.as_mut() {
                self.write_edn_with(index, view.as_ref(), &mut line, &mut edn_buffer);
                if edn_buffer.len() >= FLUSH_BYTES {
                    out.write_all(&edn_buffer)?;
                    edn_buffer.clear();
                }
            }
        }
        if let Some(out) = jsonl.as_mut() {
            out.write_all(&jsonl_buffer)?;
            out.flush()?;
        }
        if let Some(out) = edn.as_mut() {
            out.write_all(&edn_buffer)?;
            out.flush()?;
        }
        Ok(())
    }
}

/// Bytes of one compact entry's line (see [`Line`]).
const LINE_MAX: usize = 512;
/// Room for everything in a line but its function and error texts: the keys, six numbers of
/// at most 20 digits and a sign each, and the punctuation.
const LINE_FIXED_MAX: usize = 300;

/// One entry's line, assembled in a fixed buffer on the stack and appended to the output in
/// one copy: each piece is a store, not a call that checks the output's capacity and copies.
struct Line {
    bytes: [u8; LINE_MAX],
    len: usize,
}

impl Line {
    fn new() -> Line {
        Line {
            bytes: [0; LINE_MAX],
            len: 0,
        }
    }

    /// Whether `entry`'s line fits: its texts are short enough.
    fn fits(entry: &CompactView<'_>) -> bool {
        entry.function.len() + entry.error.map_or(0, str::len) <= LINE_MAX - LINE_FIXED_MAX
    }

    #[inline(always)]
    fn text(&mut self, text: &[u8]) {
        let end = self.len + text.len();
        self.bytes[self.len..end].copy_from_slice(text);
        self.len = end;
    }

    #[inline(always)]
    fn byte(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    /// `value` in decimal. Eight digits at a time go through 32-bit arithmetic (a time in
    /// nanoseconds has a dozen), each written from the last, two at a time.
    #[inline]
    fn u64(&mut self, value: u64) {
        const EIGHT: u64 = 100_000_000;
        if value < EIGHT {
            self.up_to_eight(value as u32);
        } else if value < EIGHT * EIGHT {
            self.up_to_eight((value / EIGHT) as u32);
            self.eight((value % EIGHT) as u32);
        } else {
            let rest = value % (EIGHT * EIGHT);
            self.up_to_eight((value / (EIGHT * EIGHT)) as u32);
            self.eight((rest / EIGHT) as u32);
            self.eight((rest % EIGHT) as u32);
        }
    }

    /// `value` (below 10^8) without leading zeros.
    #[inline(always)]
    fn up_to_eight(&mut self, value: u32) {
        let digits = value.checked_ilog10().map_or(1, |log| log as usize + 1);
        self.len += digits;
        let mut at = self.len;
        let mut rest = value;
        while rest >= 100 {
            let pair = (rest % 100) as usize * 2;
            rest /= 100;
            at -= 2;
            self.pair(at, pair);
        }
        if rest >= 10 {
            self.pair(at - 2, rest as usize * 2);
        } else {
            self.bytes[at - 1] = b'0' + rest as u8;
        }
    }

    /// `value` (below 10^8) as exactly eight digits.
    #[inline(always)]
    fn eight(&mut self, value: u32) {
        let (high, low) = (value / 10_000, value % 10_000);
        for (offset, part) in [(0, high), (4, low)] {
            let (a, b) = ((part / 100) as usize * 2, (part % 100) as usize * 2);
            let at = self.len + offset;
            self.pair(at, a);
            self.pair(at + 2, b);
        }
        self.len += 8;
    }

    /// The two digits at `DIGIT_PAIRS[pair..]`, at `at`: two stores, not a copy call.
    #[inline(always)]
    fn pair(&mut self, at: usize, pair: usize) {
        self.bytes[at] = DIGIT_PAIRS[pair];
        self.bytes[at + 1] = DIGIT_PAIRS[pair + 1];
    }

    #[inline]
    fn i64(&mut self, value: i64) {
        if value < 0 {
            self.byte(b'-');
        }
        self.u64(value.unsigned_abs());
    }

    /// A compact entry's value (`nil`/`null`, an integer or a pair); false for a general one.
    #[inline]
    fn value(&mut self, value: &Written, edn: bool) -> bool {
        match value {
            Written::Nil => self.text(if edn { b"nil" } else { b"null" }),
            Written::Int(n) => self.i64(*n),
            Written::Pair(a, b) => {
                self.byte(b'[');
                self.i64(*a);
                self.byte(if edn { b' ' } else { b',' });
                self.i64(*b);
                self.byte(b']');
            }
            Written::Other(_) => return false,
        }
        true
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

fn op_type_name(kind: OpType) -> &'static str {
    match kind {
        OpType::Invoke => "invoke",
        OpType::Ok => "ok",
        OpType::Fail => "fail",
        OpType::Info => "info",
    }
}

/// A compact entry as the writers see it.
pub(crate) struct CompactView<'h> {
    pub(crate) time: u64,
    pub(crate) process: u64,
    pub(crate) kind: OpType,
    pub(crate) function: &'h str,
    /// Whether `function` can be copied as it is (computed once per function).
    pub(crate) function_plain: bool,
    pub(crate) key: Option<i64>,
    pub(crate) value: Written,
    pub(crate) error: Option<&'h str>,
    /// Whether `error` (if any) can be copied as it is (computed once per text).
    pub(crate) error_plain: bool,
    pub(crate) node: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::completion::CompletionClass;
    use crate::history::{Op, Value};
    use crate::protocol::NodeId;
    use crate::rng::SimRng;
    use crate::time::SimTime;
    use crate::workload::register::{Operation, Register};
    use crate::workload::{Entry, Workload};
    use std::borrow::Cow;

    /// The general writers' bytes, with the node appended as the fast writers do.
    fn general_lines(history: &RecordedHistory) -> (String, String) {
        let (mut jsonl, mut edn) = (String::new(), String::new());
        for index in 0..history.len() {
            let op: Op = history.op(index);
            let mut json = serde_json::to_string(&op).unwrap();
            let mut line = String::new();
            crate::check::edn::write_edn_line(&op, &mut line);
            if let Some(node) = history.node(index) {
                json.pop();
                json.push_str(&format!(",\"node\":{}}}", node.0));
                line.truncate(line.len() - 2);
                line.push_str(&format!(", :node {}}}\n", node.0));
            }
            jsonl.push_str(&json);
            jsonl.push('\n');
            edn.push_str(&line);
        }
        (jsonl, edn)
    }

    #[test]
    fn integers_are_written_as_rust_writes_them() {
        let mut values = vec![0, 1, 9, 10, 99, 100, 101, 999_999, u64::MAX, u64::MAX - 1];
        for power in 0..20u32 {
            let ten = 10u64.pow(power);
            values.extend([ten - 1, ten, ten + 1, ten.saturating_mul(7).wrapping_add(3)]);
        }
        let mut rng = SimRng::new(5);
        values.extend((0..1_000).map(|_| rng.below(u64::MAX) >> rng.below(64)));
        for value in values {
            let mut out = Vec::new();
            push_u64(&mut out, value);
            assert_eq!(String::from_utf8(out).unwrap(), value.to_string());
            let mut line = Line::new();
            line.u64(value);
            assert_eq!(line.as_bytes(), value.to_string().as_bytes());
            let signed = value as i64;
            let mut line = Line::new();
            line.i64(signed);
            assert_eq!(line.as_bytes(), signed.to_string().as_bytes());
        }
    }

    #[test]
    fn fast_writers_write_what_the_general_writers_write() {
        let mut rng = SimRng::new(11);
        let mut history = RecordedHistory::default();
        let reasons = [
            "timeout",
            "node \"down\"",
            "cas: the register did not hold",
            "é\n",
        ];
        for index in 0..2_000u64 {
            let key = rng.below(4);
            let value = rng.below(2_000) as i64 - 1_000;
            let operation = match rng.below(3) {
                0 => Operation::Read { key },
                1 => Operation::Write { key, value },
                _ => Operation::Cas {
                    key,
                    from: value,
                    to: -value,
                },
            };
            let time = SimTime(index * 1_000_003);
            let process = rng.below(50);
            if rng.below(2) == 0 {
                history.push_operation(
                    time,
                    process,
                    None,
                    Register::write(&operation, None),
                    None,
                    None,
                );
                continue;
            }
            let class = [
                CompletionClass::Ok,
                CompletionClass::Fail,
                CompletionClass::Refused,
                CompletionClass::Unknown,
            ][rng.below(4) as usize];
            let output = (class == CompletionClass::Ok).then_some(Some(value));
            let reason = (class != CompletionClass::Ok)
                .then(|| Cow::Borrowed(reasons[rng.below(4) as usize]));
            let node = (rng.below(3) > 0).then(|| NodeId(rng.below(5) as u32));
            let written = Register::write(&operation, output.as_ref());
            history.push_operation(time, process, Some(class), written, reason, node);
        }
        // A value that is not compact, and a named process.
        history.push_operation(
            SimTime(9),
            3,
            Some(CompletionClass::Ok),
            Entry {
                function: "txn",
                key: None,
                value: Written::Other(Box::new(Value::Str("a \"b\"".into()))),
            },
            None,
            Some(NodeId(2)),
        );
        let mut jsonl = Vec::new();
        let mut edn = Vec::new();
        history
            .write_files(Some(&mut jsonl), Some(&mut edn))
            .unwrap();
        let (expected_jsonl, expected_edn) = general_lines(&history);
        assert_eq!(String::from_utf8(jsonl).unwrap(), expected_jsonl);
        assert_eq!(String::from_utf8(edn).unwrap(), expected_edn);
    }

    #[test]
    fn formats_parse_and_reject_unknown_names() {
        assert_eq!(
            HistoryFormats::parse("jsonl").unwrap(),
            HistoryFormats {
                jsonl: true,
                edn: false
            }
        );
        assert_eq!(HistoryFormats::parse("both").unwrap(), HistoryFormats::BOTH);
        assert_eq!(
            HistoryFormats::parse("none").unwrap(),
            HistoryFormats::default()
        );
        assert!(HistoryFormats::parse("csv").unwrap_err().contains("csv"));
    }
}
