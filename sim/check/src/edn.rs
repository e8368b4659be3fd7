//! Jepsen EDN histories: reading and writing.
//!
//! Jepsen and Knossos write a history either as one vector (or list) of operation maps, or as
//! one map per line (`history.edn`). Both are read here. The reader understands the part of EDN
//! that histories use: maps, vectors, lists, sets, strings, integers, keywords, symbols, `nil`,
//! booleans, `;` comments, commas as whitespace, `#_` discards and tagged literals (the tag is
//! ignored, so `#jepsen.history.Op{...}` reads as a map). Keys other than `:process`, `:type`,
//! `:f`, `:key`, `:value`, `:time`, `:index` and `:error` are ignored.

use crate::error::{Position, ReadError};
use crate::history::{History, Op, OpType, Process, Value};

/// One parsed EDN form.
#[derive(Clone, Debug, PartialEq)]
pub enum Edn {
    /// `nil`.
    Nil,
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number (kept as written).
    Float(String),
    /// A string.
    Str(String),
    /// A keyword, without its colon.
    Keyword(String),
    /// A symbol.
    Symbol(String),
    /// A character literal such as `\a`.
    Char(String),
    /// `[...]`.
    Vector(Vec<Node>),
    /// `(...)`.
    List(Vec<Node>),
    /// `#{...}`.
    Set(Vec<Node>),
    /// `{...}`, in the order written.
    Map(Vec<(Node, Node)>),
}

/// A form and where it begins.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The form.
    pub edn: Edn,
    /// Where it begins.
    pub position: Position,
}

/// Deepest nesting accepted: deeper input is rejected instead of exhausting the stack.
const DEPTH_MAX: usize = 64;

struct Parser<'a> {
    text: &'a [u8],
    offset: usize,
    line: usize,
    column: usize,
}

fn is_delimiter(byte: u8) -> bool {
    byte.is_ascii_whitespace()
        || matches!(
            byte,
            b',' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'"' | b';'
        )
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            text: text.as_bytes(),
            offset: 0,
            line: 1,
            column: 1,
        }
    }

    fn position(&self) -> Position {
        Position {
            line: self.line,
            column: self.column,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.offset).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.offset += 1;
        if byte == b'\n' {
            self.line += 1;
            self.column = 1;
        } else if byte & 0xC0 != 0x80 {
            // Count characters, not bytes: UTF-8 continuation bytes do not start a column.
            self.column += 1;
        }
        Some(byte)
    }

    fn skip_blank(&mut self) {
        while let Some(byte) = self.peek() {
            if byte.is_ascii_whitespace() || byte == b',' {
                self.bump();
            } else if byte == b';' {
                while let Some(byte) = self.bump() {
                    if byte == b'\n' {
                        break;
                    }
                }
            } else {
                break;
            }
        }
    }

    fn syntax(&self, position: Position, message: impl Into<String>) -> ReadError {
        ReadError::Syntax {
            position,
            message: message.into(),
        }
    }

    /// Reads the next form, or `None` at the end of the input.
    fn next_form(&mut self, depth: usize) -> Result<Option<Node>, ReadError> {
        self.skip_blank();
        let position = self.position();
        let Some(byte) = self.peek() else {
            return Ok(None);
        };
        if depth > DEPTH_MAX {
            return Err(self.syntax(position, "nested too deeply"));
        }
        let edn = match byte {
            b'[' => {
                self.bump();
                Edn::Vector(self.sequence(b']', position, depth)?)
            }
            b'(' => {
                self.bump();
                Edn::List(self.sequence(b')', position, depth)?)
            }
            b'{' => {
                self.bump();
                self.map(position, depth)?
            }
            b']' | b')' | b'}' => {
                return Err(self.syntax(position, format!("unexpected `{}`", byte as char)))
            }
            b'"' => Edn::Str(self.string(position)?),
            b'#' => return self.dispatch(position, depth).map(Some),
            b'\\' => {
                self.bump();
                Edn::Char(self.token())
            }
            b':' => {
                self.bump();
                let name = self.token();
                if name.is_empty() {
                    return Err(self.syntax(position, "empty keyword"));
                }
                Edn::Keyword(name)
            }
            _ => self.atom(position)?,
        };
        Ok(Some(Node { edn, position }))
    }

    fn dispatch(&mut self, position: Position, depth: usize) -> Result<Node, ReadError> {
        self.bump();
        match self.peek() {
            Some(b'{') => {
                self.bump();
                let items = self.sequence(b'}', position, depth)?;
                Ok(Node {
                    edn: Edn::Set(items),
                    position,
                })
            }
            Some(b'_') => {
                // `#_form` discards the next form.
                self.bump();
                self.required_form(position, depth, "form after `#_`")?;
                self.required_form(position, depth, "form after a discarded form")
            }
            Some(byte) if byte.is_ascii_alphabetic() => {
                // A tagged literal: the tag is dropped and the form read as it is.
                self.token();
                let node = self.required_form(position, depth, "form after a tag")?;
                Ok(Node {
                    edn: node.edn,
                    position,
                })
            }
            _ => Err(self.syntax(position, "unsupported `#` form")),
        }
    }

    fn required_form(
        &mut self,
        position: Position,
        depth: usize,
        what: &str,
    ) -> Result<Node, ReadError> {
        match self.next_form(depth + 1)? {
            Some(node) => Ok(node),
            None => Err(ReadError::Truncated {
                position,
                message: format!("expected a {what}"),
            }),
        }
    }

    fn sequence(
        &mut self,
        close: u8,
        position: Position,
        depth: usize,
    ) -> Result<Vec<Node>, ReadError> {
        let mut items = Vec::new();
        loop {
            self.skip_blank();
            match self.peek() {
                None => {
                    return Err(ReadError::Truncated {
                        position,
                        message: format!("`{}` is never closed", opening(close)),
                    })
                }
                Some(byte) if byte == close => {
                    self.bump();
                    return Ok(items);
                }
                Some(_) => {
                    if let Some(node) = self.next_form(depth + 1)? {
                        items.push(node);
                    }
                }
            }
        }
    }

    fn map(&mut self, position: Position, depth: usize) -> Result<Edn, ReadError> {
        let items = self.sequence(b'}', position, depth)?;
        if items.len() % 2 != 0 {
            return Err(self.syntax(position, "map has a key without a value"));
        }
        let mut pairs = Vec::with_capacity(items.len() / 2);
        let mut items = items.into_iter();
        while let (Some(key), Some(value)) = (items.next(), items.next()) {
            pairs.push((key, value));
        }
        Ok(Edn::Map(pairs))
    }

    fn string(&mut self, position: Position) -> Result<String, ReadError> {
        self.bump();
        let mut bytes = Vec::new();
        loop {
            let Some(byte) = self.bump() else {
                return Err(ReadError::Truncated {
                    position,
                    message: "string is never closed".to_string(),
                });
            };
            match byte {
                b'"' => break,
                b'\\' => {
                    let escape_position = self.position();
                    let escaped = match self.bump() {
                        Some(b'n') => b'\n',
                        Some(b't') => b'\t',
                        Some(b'r') => b'\r',
                        Some(b'\\') => b'\\',
                        Some(b'"') => b'"',
                        None => {
                            return Err(ReadError::Truncated {
                                position,
                                message: "string is never closed".to_string(),
                            })
                        }
                        Some(other) => {
                            return Err(self.syntax(
                                escape_position,
                                format!("unknown escape `\\{}`", other as char),
                            ))
                        }
                    };
                    bytes.push(escaped);
                }
                other => bytes.push(other),
            }
        }
        // The input is a `&str` and escapes are ASCII, so the bytes are valid UTF-8.
        String::from_utf8(bytes).map_err(|_| self.syntax(position, "string is not UTF-8"))
    }

    fn token(&mut self) -> String {
        let start = self.offset;
        while let Some(byte) = self.peek() {
            if is_delimiter(byte) {
                break;
            }
            self.bump();
        }
        String::from_utf8_lossy(&self.text[start..self.offset]).into_owned()
    }

    fn atom(&mut self, position: Position) -> Result<Edn, ReadError> {
        let token = self.token();
        if token.is_empty() {
            // Only a stray delimiter byte can get here; consume it so the caller sees progress.
            let byte = self.bump().unwrap_or(b'?');
            return Err(self.syntax(position, format!("unexpected `{}`", byte as char)));
        }
        let first = token.as_bytes()[0];
        let numeric = first.is_ascii_digit()
            || ((first == b'-' || first == b'+')
                && token.as_bytes().get(1).is_some_and(u8::is_ascii_digit));
        if numeric {
            let digits = token.strip_suffix('N').unwrap_or(&token);
            if let Ok(n) = digits.parse::<i64>() {
                return Ok(Edn::Int(n));
            }
            if token.parse::<f64>().is_ok() || token.ends_with('M') {
                return Ok(Edn::Float(token));
            }
            return Err(self.syntax(position, format!("bad number `{token}`")));
        }
        Ok(match token.as_str() {
            "nil" => Edn::Nil,
            "true" => Edn::Bool(true),
            "false" => Edn::Bool(false),
            _ => Edn::Symbol(token),
        })
    }
}

fn opening(close: u8) -> char {
    match close {
        b']' => '[',
        b')' => '(',
        _ => '{',
    }
}

/// Parses every top-level form of `text`.
pub fn parse_forms(text: &str) -> Result<Vec<Node>, ReadError> {
    let mut parser = Parser::new(text);
    let mut forms = Vec::new();
    while let Some(node) = parser.next_form(0)? {
        forms.push(node);
    }
    Ok(forms)
}

/// Parses one EDN value, such as the `--initial` argument, into a history value.
pub fn parse_value(text: &str) -> Result<Value, ReadError> {
    let forms = parse_forms(text)?;
    match forms.as_slice() {
        [node] => to_value(node, "value"),
        _ => Err(ReadError::Syntax {
            position: Position { line: 1, column: 1 },
            message: format!("expected one value, found {} forms", forms.len()),
        }),
    }
}

/// Reads a Jepsen EDN history: one vector or list of operation maps, or a sequence of maps.
/// Returns the history and where each operation begins.
pub fn read_edn(text: &str) -> Result<(History, Vec<Position>), ReadError> {
    let forms = parse_forms(text)?;
    let maps: Vec<Node> = match forms.as_slice() {
        [Node {
            edn: Edn::Vector(items) | Edn::List(items),
            ..
        }] => items.clone(),
        _ => forms,
    };
    let mut history = History::default();
    let mut positions = Vec::with_capacity(maps.len());
    for (position_in_history, node) in maps.iter().enumerate() {
        history.ops.push(to_op(node, position_in_history)?);
        positions.push(node.position);
    }
    Ok((history, positions))
}

fn bad_field(node: &Node, field: &str, message: impl Into<String>) -> ReadError {
    ReadError::BadField {
        position: node.position,
        field: field.to_string(),
        message: message.into(),
    }
}

fn to_op(node: &Node, position_in_history: usize) -> Result<Op, ReadError> {
    let Edn::Map(pairs) = &node.edn else {
        return Err(ReadError::Syntax {
            position: node.position,
            message: "expected an operation map `{:type ... :f ... :process ...}`".to_string(),
        });
    };
    let field = |name: &str| {
        pairs.iter().find_map(|(key, value)| match &key.edn {
            Edn::Keyword(k) if k == name => Some(value),
            _ => None,
        })
    };
    let missing = |name: &str| ReadError::MissingField {
        position: node.position,
        field: format!(":{name}"),
    };
    let kind_node = field("type").ok_or_else(|| missing("type"))?;
    let kind = match &kind_node.edn {
        Edn::Keyword(k) | Edn::Str(k) | Edn::Symbol(k) => match k.as_str() {
            "invoke" => OpType::Invoke,
            "ok" => OpType::Ok,
            "fail" => OpType::Fail,
            "info" => OpType::Info,
            other => {
                return Err(bad_field(
                    kind_node,
                    ":type",
                    format!("unknown type `:{other}` (expected :invoke, :ok, :fail or :info)"),
                ))
            }
        },
        _ => return Err(bad_field(kind_node, ":type", "expected a keyword")),
    };
    let process_node = field("process").ok_or_else(|| missing("process"))?;
    let process = match &process_node.edn {
        Edn::Int(n) if *n >= 0 => Process::Client(*n as u64),
        Edn::Keyword(name) | Edn::Str(name) | Edn::Symbol(name) => Process::Named(name.clone()),
        _ => {
            return Err(bad_field(
                process_node,
                ":process",
                "expected a non-negative integer or a name such as :nemesis",
            ))
        }
    };
    let function_node = field("f").ok_or_else(|| missing("f"))?;
    let function = match &function_node.edn {
        Edn::Keyword(name) | Edn::Str(name) | Edn::Symbol(name) => name.clone(),
        _ => return Err(bad_field(function_node, ":f", "expected a keyword")),
    };
    let value = match field("value") {
        Some(value) => to_value(value, ":value")?,
        None => Value::Nil,
    };
    let key = match field("key") {
        Some(key) => Some(to_value(key, ":key")?),
        None => None,
    };
    let index = match field("index") {
        Some(Node {
            edn: Edn::Int(n), ..
        }) if *n >= 0 => *n as u64,
        Some(other) => {
            return Err(bad_field(
                other,
                ":index",
                "expected a non-negative integer",
            ))
        }
        None => position_in_history as u64,
    };
    let time = match field("time") {
        Some(Node {
            edn: Edn::Int(n), ..
        }) if *n >= 0 => *n as u64,
        Some(other) => return Err(bad_field(other, ":time", "expected a non-negative integer")),
        None => position_in_history as u64,
    };
    let error = field("error").map(|node| match &node.edn {
        Edn::Str(text) | Edn::Keyword(text) => text.clone(),
        other => render(other),
    });
    Ok(Op {
        index,
        kind,
        process,
        function: function.into(),
        key,
        value,
        time,
        error: error.map(Into::into),
    })
}

fn to_value(node: &Node, field: &str) -> Result<Value, ReadError> {
    Ok(match &node.edn {
        Edn::Nil => Value::Nil,
        Edn::Int(n) => Value::Int(*n),
        Edn::Str(s) => Value::Str(s.clone()),
        Edn::Keyword(k) => Value::keyword(k),
        Edn::Bool(b) => Value::keyword(if *b { "true" } else { "false" }),
        Edn::Vector(items) | Edn::List(items) => Value::List(
            items
                .iter()
                .map(|item| to_value(item, field))
                .collect::<Result<_, _>>()?,
        ),
        Edn::Float(_) | Edn::Symbol(_) | Edn::Char(_) | Edn::Set(_) | Edn::Map(_) => {
            return Err(bad_field(
                node,
                field,
                format!(
                    "unsupported value `{}` (nil, integers, strings, keywords and vectors are)",
                    render(&node.edn)
                ),
            ))
        }
    })
}

/// Renders a form back as EDN text (for error messages and ignored fields).
pub fn render(edn: &Edn) -> String {
    let join = |items: &[Node]| {
        items
            .iter()
            .map(|item| render(&item.edn))
            .collect::<Vec<_>>()
            .join(" ")
    };
    match edn {
        Edn::Nil => "nil".to_string(),
        Edn::Bool(b) => b.to_string(),
        Edn::Int(n) => n.to_string(),
        Edn::Float(s) | Edn::Symbol(s) => s.clone(),
        Edn::Str(s) => string_literal(s),
        Edn::Keyword(k) => format!(":{k}"),
        Edn::Char(c) => format!("\\{c}"),
        Edn::Vector(items) => format!("[{}]", join(items)),
        Edn::List(items) => format!("({})", join(items)),
        Edn::Set(items) => format!("#{{{}}}", join(items)),
        Edn::Map(pairs) => {
            let inner: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{} {}", render(&k.edn), render(&v.edn)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

fn string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Writes a value as EDN.
pub fn write_value(value: &Value) -> String {
    match value {
        Value::Nil => "nil".to_string(),
        Value::Int(n) => n.to_string(),
        Value::Str(s) => string_literal(s),
        Value::Keyword { keyword } => format!(":{keyword}"),
        Value::List(items) => {
            let inner: Vec<String> = items.iter().map(write_value).collect();
            format!("[{}]", inner.join(" "))
        }
    }
}

/// Writes a history as Jepsen EDN, one operation map per line (Jepsen's `history.edn`
/// layout), readable by Knossos, Elle and this crate.
pub fn write_edn(history: &History) -> String {
    let mut out = String::new();
    for op in &history.ops {
        write_edn_line(op, &mut out);
    }
    out
}

/// Appends one operation as an EDN map and a newline: the line [`write_edn`] writes for it,
/// for writers that stream a history instead of holding it whole.
pub fn write_edn_line(op: &Op, out: &mut String) {
    let process = match &op.process {
        Process::Client(n) => n.to_string(),
        Process::Named(name) => format!(":{name}"),
    };
    out.push_str(&format!(
        "{{:index {}, :time {}, :type :{}, :process {}, :f :{}",
        op.index, op.time, op.kind, process, op.function
    ));
    if let Some(key) = &op.key {
        out.push_str(&format!(", :key {}", write_value(key)));
    }
    out.push_str(&format!(", :value {}", write_value(&op.value)));
    if let Some(error) = &op.error {
        out.push_str(&format!(", :error {}", string_literal(error)));
    }
    out.push_str("}\n");
}
