//! Strict decoding: every message body is checked against the one encoding
//! docs/protocol.md gives each value before serde turns it into a
//! [`Message`].
//!
//! serde's derived decoders and `rmp_serde` are lenient in ways the
//! protocol is not: a struct from a positional array, a name or a string
//! from a `bin`, bytes from a `str` or an array of integers, a field-less
//! message from `[]`. Another implementation that relied on any of those
//! would work against this one and nowhere else. So the body is first
//! walked against the schema below (maps with `str` keys, `bin` where bytes
//! are required, `str` where text is, integers in range, known enum
//! values), and only a body that passes reaches serde, which then has one
//! way left to read each value. Unknown fields are skipped, as the protocol
//! says, within the same depth limit as everything else.

use std::collections::HashSet;

use rmp::Marker;

/// The deepest nesting a valid message has is 5; anything much deeper is
/// refused before it can exhaust the stack.
pub(crate) const MAX_DEPTH: usize = 32;

/// The type of one value on the wire.
#[derive(Debug, Clone, Copy)]
enum Ty {
    U16,
    U32,
    U64,
    I32,
    Bool,
    /// `str`, valid UTF-8.
    Str,
    /// `bin`.
    Bin,
    /// [`crate::OsBytes`]: `str` when UTF-8, else `bin`.
    OsBytes,
    /// The value or `nil`.
    Opt(&'static Ty),
    /// An array of values.
    Array(&'static Ty),
    /// An array of exactly two values.
    Pair(&'static Ty),
    /// A map of `OsBytes` to `OsBytes`, names unique (`Spawn.env`).
    Env,
    /// A field map.
    Record(&'static [Field]),
    /// A `str`, one of these.
    Enum(&'static [&'static str]),
}

type Field = (&'static str, Ty);

const SIZE: &[Field] = &[("rows", Ty::U16), ("cols", Ty::U16)];
const LAYER_STATE: &[&str] = &["active", "partial", "unavailable", "not_requested"];
const SANDBOX_LAYER: &[Field] = &[("name", Ty::Str), ("state", Ty::Enum(LAYER_STATE)), ("detail", Ty::Str)];
const SANDBOX_REPORT: &[Field] =
    &[("policy", Ty::Str), ("layers", Ty::Array(&Ty::Record(SANDBOX_LAYER))), ("summary", Ty::Str)];
const STREAM: &[&str] = &["stdout", "stderr", "pty"];
const SIGNAL: &[&str] = &["interrupt", "terminate", "kill", "hangup"];
const SPAWN_ERROR_KIND: &[&str] = &["not_found", "not_executable", "bad_cwd", "invalid_request", "os"];
const SPAWN_ERROR: &[Field] =
    &[("kind", Ty::Enum(SPAWN_ERROR_KIND)), ("message", Ty::Str), ("os_code", Ty::Opt(&Ty::I32))];
const ERROR_KIND: &[&str] = &["unknown_process", "invalid_request", "protocol", "os"];
const PROCESS_STATUS: &[Field] = &[
    ("id", Ty::U64),
    ("pid", Ty::U32),
    ("argv", Ty::Array(&Ty::OsBytes)),
    ("tty", Ty::Bool),
    ("running", Ty::Bool),
    ("elapsed_ms", Ty::U64),
    ("unacked_bytes", Ty::U64),
    ("awaiting_input", Ty::Bool),
];
const ID: &[Field] = &[("id", Ty::U64)];

/// Every message type and its fields, as in docs/protocol.md §4.
const MESSAGES: &[(&str, &[Field])] = &[
    (
        "Hello",
        &[("versions", Ty::Pair(&Ty::U32)), ("token", Ty::Str), ("max_frame", Ty::U32), ("window", Ty::U32)],
    ),
    (
        "HelloAck",
        &[
            ("version", Ty::U32),
            ("runner_version", Ty::Str),
            ("pid", Ty::U32),
            ("platform", Ty::Str),
            ("sandbox", Ty::Record(SANDBOX_REPORT)),
            ("features", Ty::Array(&Ty::Str)),
            ("max_frame", Ty::U32),
            ("window", Ty::U32),
            ("stdin_window", Ty::U32),
        ],
    ),
    ("HelloReject", &[("reason", Ty::Str)]),
    (
        "Spawn",
        &[
            ("id", Ty::U64),
            ("argv", Ty::Array(&Ty::OsBytes)),
            ("cwd", Ty::Opt(&Ty::OsBytes)),
            ("env", Ty::Env),
            ("tty", Ty::Opt(&Ty::Record(SIZE))),
            ("stdin", Ty::Bool),
            ("timeout_ms", Ty::Opt(&Ty::U64)),
        ],
    ),
    ("Stdin", &[("id", Ty::U64), ("data", Ty::Bin)]),
    ("CloseStdin", ID),
    ("Resize", &[("id", Ty::U64), ("rows", Ty::U16), ("cols", Ty::U16)]),
    ("Signal", &[("id", Ty::U64), ("signal", Ty::Enum(SIGNAL))]),
    ("Terminate", ID),
    ("Poll", ID),
    ("List", &[]),
    ("Ack", &[("id", Ty::U64), ("bytes", Ty::U64)]),
    ("Shutdown", &[]),
    ("Spawned", &[("id", Ty::U64), ("pid", Ty::U32)]),
    ("SpawnFailed", &[("id", Ty::U64), ("error", Ty::Record(SPAWN_ERROR))]),
    ("Output", &[("id", Ty::U64), ("stream", Ty::Enum(STREAM)), ("data", Ty::Bin)]),
    ("StdinAck", &[("id", Ty::U64), ("bytes", Ty::U64)]),
    (
        "Exited",
        &[
            ("id", Ty::U64),
            ("code", Ty::Opt(&Ty::I32)),
            ("signal", Ty::Opt(&Ty::I32)),
            ("timed_out", Ty::Bool),
            ("duration_ms", Ty::U64),
        ],
    ),
    ("Status", PROCESS_STATUS),
    ("Processes", &[("processes", Ty::Array(&Ty::Record(PROCESS_STATUS)))]),
    ("Error", &[("id", Ty::Opt(&Ty::U64)), ("kind", Ty::Enum(ERROR_KIND)), ("message", Ty::Str)]),
];

/// Why a body failed the check.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// A well-formed envelope naming a type this version does not know.
    Unknown(String),
    /// Anything else, with the path to the offending value.
    Malformed(String),
}

/// Checks that `body` is exactly one message in its one documented
/// encoding.
pub(crate) fn check(body: &[u8]) -> Result<(), Refusal> {
    let mut r = Reader { body, at: 0 };
    let malformed = |failure: String| Refusal::Malformed(sentence(failure));
    let entries = match r.map_len() {
        Some(n) => n.map_err(malformed)?,
        None => return Err(malformed(format!("a message is a one-entry map, not {}", r.describe()))),
    };
    if entries != 1 {
        return Err(malformed(format!("a message is a one-entry map, not a map of {entries} entries")));
    }
    let name = match r.str() {
        Some(name) => name.map_err(malformed)?,
        None => return Err(malformed(format!("the message type must be a str, not {}", r.describe()))),
    };
    match MESSAGES.iter().find(|(known, _)| *known == name) {
        Some((_, fields)) => {
            r.value(Ty::Record(fields), MAX_DEPTH - 1).map_err(|e| malformed(format!("{name}{e}")))?
        }
        None => {
            r.skip(MAX_DEPTH - 1).map_err(malformed)?;
            r.end().map_err(malformed)?;
            return Err(Refusal::Unknown(name.to_string()));
        }
    }
    r.end().map_err(malformed)
}

/// Where a value failed: `.field`, `[index]`, or `: what` at the value.
type Failure = String;

struct Reader<'a> {
    body: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn end(&self) -> Result<(), String> {
        match self.body.len() - self.at {
            0 => Ok(()),
            n => Err(format!("{n} bytes after the end of the message")),
        }
    }

    fn peek(&self) -> Result<Marker, String> {
        self.body.get(self.at).map(|b| Marker::from_u8(*b)).ok_or_else(truncated)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|end| *end <= self.body.len()).ok_or_else(truncated)?;
        let bytes = &self.body[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn uint(&mut self, width: usize) -> Result<u64, String> {
        Ok(self.take(width)?.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    /// What the next value is, for messages.
    fn describe(&self) -> &'static str {
        match self.peek() {
            Err(_) => "the end of the message",
            Ok(marker) => describe(marker),
        }
    }

    /// The length of a map starting here; `None` (nothing consumed) if the
    /// next value is not a map.
    fn map_len(&mut self) -> Option<Result<usize, String>> {
        match self.peek().ok()? {
            Marker::FixMap(n) => {
                self.at += 1;
                Some(Ok(n as usize))
            }
            Marker::Map16 => Some(self.uint_after_marker(2)),
            Marker::Map32 => Some(self.uint_after_marker(4)),
            _ => None,
        }
    }

    /// Reads a marker followed by a `width`-byte big-endian length.
    fn uint_after_marker(&mut self, width: usize) -> Result<usize, String> {
        self.at += 1;
        Ok(self.uint(width)? as usize)
    }

    /// The length of an array starting here; `None` if it is not one.
    fn array_len(&mut self) -> Option<Result<usize, String>> {
        match self.peek().ok()? {
            Marker::FixArray(n) => {
                self.at += 1;
                Some(Ok(n as usize))
            }
            Marker::Array16 => Some(self.uint_after_marker(2)),
            Marker::Array32 => Some(self.uint_after_marker(4)),
            _ => None,
        }
    }

    /// The payload of a `str` starting here; `None` if it is not one.
    fn str_bytes(&mut self) -> Option<Result<&'a [u8], String>> {
        let len = match self.peek().ok()? {
            Marker::FixStr(n) => {
                self.at += 1;
                Ok(n as usize)
            }
            Marker::Str8 => self.uint_after_marker(1),
            Marker::Str16 => self.uint_after_marker(2),
            Marker::Str32 => self.uint_after_marker(4),
            _ => return None,
        };
        Some(len.and_then(|len| self.take(len)))
    }

    /// A `str` starting here, checked to be UTF-8; `None` if not a `str`.
    fn str(&mut self) -> Option<Result<&'a str, String>> {
        Some(self.str_bytes()?.and_then(|bytes| {
            std::str::from_utf8(bytes).map_err(|_| ": a str that is not valid UTF-8".to_string())
        }))
    }

    /// The payload of a `bin` starting here; `None` if it is not one.
    fn bin(&mut self) -> Option<Result<&'a [u8], String>> {
        let len = match self.peek().ok()? {
            Marker::Bin8 => self.uint_after_marker(1),
            Marker::Bin16 => self.uint_after_marker(2),
            Marker::Bin32 => self.uint_after_marker(4),
            _ => return None,
        };
        Some(len.and_then(|len| self.take(len)))
    }

    /// An integer starting here, as `i128` so that every format fits;
    /// `None` if it is not an integer.
    fn int(&mut self) -> Option<Result<i128, String>> {
        let marker = self.peek().ok()?;
        let value = match marker {
            Marker::FixPos(n) => {
                self.at += 1;
                return Some(Ok(n.into()));
            }
            Marker::FixNeg(n) => {
                self.at += 1;
                return Some(Ok(n.into()));
            }
            Marker::U8 | Marker::U16 | Marker::U32 | Marker::U64 => {
                let width = match marker {
                    Marker::U8 => 1,
                    Marker::U16 => 2,
                    Marker::U32 => 4,
                    _ => 8,
                };
                self.at += 1;
                self.uint(width).map(i128::from)
            }
            Marker::I8 | Marker::I16 | Marker::I32 | Marker::I64 => {
                let width = match marker {
                    Marker::I8 => 1,
                    Marker::I16 => 2,
                    Marker::I32 => 4,
                    _ => 8,
                };
                self.at += 1;
                // Sign-extend from `width` bytes.
                self.uint(width).map(|raw| {
                    let shift = 64 - 8 * width as u32;
                    i128::from(((raw << shift) as i64) >> shift)
                })
            }
            _ => return None,
        };
        Some(value)
    }

    /// Checks one value against `ty`.
    fn value(&mut self, ty: Ty, depth: usize) -> Result<(), Failure> {
        let wrong = |r: &Self, expected: &str| Err(format!(": expected {expected}, got {}", r.describe()));
        let in_range = |r: &mut Self, min: i128, max: i128, expected: &str| match r.int() {
            Some(Ok(v)) if (min..=max).contains(&v) => Ok(()),
            Some(Ok(v)) => Err(format!(": {v} is not {expected}")),
            Some(Err(e)) => Err(e),
            None => wrong(r, expected),
        };
        match ty {
            Ty::U16 => in_range(self, 0, u16::MAX.into(), "a u16"),
            Ty::U32 => in_range(self, 0, u32::MAX.into(), "a u32"),
            Ty::U64 => in_range(self, 0, u64::MAX.into(), "a u64"),
            Ty::I32 => in_range(self, i32::MIN.into(), i32::MAX.into(), "an i32"),
            Ty::Bool => match self.peek() {
                Ok(Marker::True | Marker::False) => {
                    self.at += 1;
                    Ok(())
                }
                _ => wrong(self, "true or false"),
            },
            Ty::Str => match self.str() {
                Some(text) => text.map(drop),
                None => wrong(self, "a str"),
            },
            Ty::Bin => match self.bin() {
                Some(bytes) => bytes.map(drop),
                None => wrong(self, "a bin"),
            },
            Ty::OsBytes => {
                if let Some(text) = self.str() {
                    return text.map(drop);
                }
                match self.bin() {
                    Some(Ok(bytes)) if std::str::from_utf8(bytes).is_ok() => {
                        Err(": a bin that is valid UTF-8 (text is sent as a str; bin only when not UTF-8)"
                            .into())
                    }
                    Some(bytes) => bytes.map(drop),
                    None => wrong(self, "a str, or a bin that is not UTF-8"),
                }
            }
            Ty::Opt(inner) => {
                if let Ok(Marker::Null) = self.peek() {
                    self.at += 1;
                    return Ok(());
                }
                self.value(*inner, depth)
            }
            Ty::Array(item) | Ty::Pair(item) => {
                let len = match self.array_len() {
                    Some(len) => len?,
                    None => return wrong(self, "an array"),
                };
                if matches!(ty, Ty::Pair(_)) && len != 2 {
                    return Err(format!(": expected an array of 2, got one of {len}"));
                }
                let depth = nest(depth)?;
                for i in 0..len {
                    self.value(*item, depth).map_err(|e| format!("[{i}]{e}"))?;
                }
                Ok(())
            }
            Ty::Env => {
                let len = match self.map_len() {
                    Some(len) => len?,
                    None => return wrong(self, "a map"),
                };
                let depth = nest(depth)?;
                let mut names = HashSet::new();
                for i in 0..len {
                    let start = self.at;
                    self.value(Ty::OsBytes, depth).map_err(|e| format!(" name {i}{e}"))?;
                    let name = &self.body[start..self.at];
                    if !names.insert(name) {
                        return Err(format!(": variable {i} repeats an earlier name"));
                    }
                    self.value(Ty::OsBytes, depth).map_err(|e| format!(" value {i}{e}"))?;
                }
                Ok(())
            }
            Ty::Record(fields) => {
                let len = match self.map_len() {
                    Some(len) => len?,
                    None => return wrong(self, "a map of named fields"),
                };
                let depth = nest(depth)?;
                let mut seen = HashSet::new();
                for _ in 0..len {
                    let key = match self.str() {
                        Some(key) => key?,
                        None => return Err(format!(": a field name must be a str, not {}", self.describe())),
                    };
                    if !seen.insert(key) {
                        return Err(format!(": field {key:?} appears twice"));
                    }
                    match fields.iter().find(|(name, _)| *name == key) {
                        Some((name, ty)) => self.value(*ty, depth).map_err(|e| format!(".{name}{e}"))?,
                        // Unknown fields are how fields get added.
                        None => self.skip(depth).map_err(|e| format!(".{key}{e}"))?,
                    }
                }
                Ok(())
            }
            Ty::Enum(values) => match self.str() {
                Some(Ok(value)) if values.contains(&value) => Ok(()),
                Some(Ok(value)) => Err(format!(": unknown value {value:?} (known: {})", values.join(", "))),
                Some(Err(e)) => Err(e),
                None => wrong(self, "a str"),
            },
        }
    }

    /// Skips any one value (the value of an unknown field), within `depth`.
    fn skip(&mut self, depth: usize) -> Result<(), String> {
        let marker = self.peek()?;
        let (header, payload, items): (usize, usize, usize) = match marker {
            Marker::FixPos(_) | Marker::FixNeg(_) | Marker::Null | Marker::True | Marker::False => (1, 0, 0),
            Marker::U8 | Marker::I8 => (1, 1, 0),
            Marker::U16 | Marker::I16 => (1, 2, 0),
            Marker::U32 | Marker::I32 | Marker::F32 => (1, 4, 0),
            Marker::U64 | Marker::I64 | Marker::F64 => (1, 8, 0),
            Marker::FixStr(n) => (1, n as usize, 0),
            Marker::Str8 | Marker::Bin8 => (2, self.len_at(1)?, 0),
            Marker::Str16 | Marker::Bin16 => (3, self.len_at(2)?, 0),
            Marker::Str32 | Marker::Bin32 => (5, self.len_at(4)?, 0),
            Marker::FixExt1 => (2, 1, 0),
            Marker::FixExt2 => (2, 2, 0),
            Marker::FixExt4 => (2, 4, 0),
            Marker::FixExt8 => (2, 8, 0),
            Marker::FixExt16 => (2, 16, 0),
            Marker::Ext8 => (3, self.len_at(1)?, 0),
            Marker::Ext16 => (4, self.len_at(2)?, 0),
            Marker::Ext32 => (6, self.len_at(4)?, 0),
            Marker::FixArray(n) => (1, 0, n as usize),
            Marker::Array16 => (3, 0, self.len_at(2)?),
            Marker::Array32 => (5, 0, self.len_at(4)?),
            Marker::FixMap(n) => (1, 0, 2 * n as usize),
            Marker::Map16 => (3, 0, 2 * self.len_at(2)?),
            Marker::Map32 => (5, 0, 2 * self.len_at(4)?),
            Marker::Reserved => return Err(": reserved MessagePack marker 0xc1".into()),
        };
        self.take(header.checked_add(payload).ok_or_else(truncated)?)?;
        if items > 0 {
            let depth = nest(depth)?;
            for _ in 0..items {
                self.skip(depth)?;
            }
        }
        Ok(())
    }

    /// The `width`-byte length that follows the marker here (not consumed).
    fn len_at(&self, width: usize) -> Result<usize, String> {
        let bytes = self.body.get(self.at + 1..self.at + 1 + width).ok_or_else(truncated)?;
        Ok(bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize))
    }
}

/// One level deeper, or the depth error.
fn nest(depth: usize) -> Result<usize, String> {
    depth.checked_sub(1).ok_or_else(|| format!(": message nested deeper than {MAX_DEPTH} levels"))
}

fn truncated() -> String {
    ": message ends inside a value".to_string()
}

/// A failure as a sentence: the path, if any, then what is wrong.
fn sentence(failure: String) -> String {
    match failure.strip_prefix(": ") {
        Some(rest) => rest.to_string(),
        None => failure,
    }
}

fn describe(marker: Marker) -> &'static str {
    match marker {
        Marker::FixPos(_)
        | Marker::FixNeg(_)
        | Marker::U8
        | Marker::U16
        | Marker::U32
        | Marker::U64
        | Marker::I8
        | Marker::I16
        | Marker::I32
        | Marker::I64 => "an integer",
        Marker::F32 | Marker::F64 => "a float",
        Marker::Null => "nil",
        Marker::True | Marker::False => "a bool",
        Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => "a str",
        Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => "a bin",
        Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => "an array",
        Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => "a map",
        Marker::Reserved => "the reserved marker 0xc1",
        _ => "an ext value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_type_has_a_schema() {
        for name in crate::Message::NAMES {
            assert!(MESSAGES.iter().any(|(known, _)| known == name), "{name}");
        }
        assert_eq!(MESSAGES.len(), crate::Message::NAMES.len());
    }
}
