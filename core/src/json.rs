//! The JSON writer for audit documents: the hot path of every transform.
//!
//! serde_json's serializer escapes strings byte by byte through a lookup table, and that was
//! 15% of a whole transform's instructions (callgrind on the 6 MB benchmark batch). Two things
//! make it cheaper here. Strings borrowed from the event being rendered were string bodies
//! without a single escape in valid JSON, so they hold no quote, backslash or control
//! character and are copied as they are. Other strings are checked in one pass and copied in
//! one go unless they really need escapes. The output is byte-identical to serde_json's
//! compact output (tests compare them); the serde `Serialize` impls remain for everything that
//! is not the hot path. This module performs no IO.

use std::ops::Range;

use crate::diff::{Change, Op};
use crate::reader::line_separator_at;
use crate::record::JsonValue;
use crate::value::{AttributeValue, Binary, Item};

/// Appends JSON to a buffer.
#[derive(Debug)]
pub(crate) struct JsonWriter<'o, 's> {
    pub(crate) out: &'o mut Vec<u8>,
    /// The event text the values were read from. A `&str` inside it was borrowed by
    /// [`crate::reader::Reader`], which borrows only string bodies that contain no escape:
    /// such text needs none on the way out either, and its quotes are right beside it.
    source: &'s [u8],
    verbatim: Range<usize>,
}

impl<'o, 's> JsonWriter<'o, 's> {
    /// A writer for values read from `source` (pass `""` when they were not).
    pub(crate) fn new(out: &'o mut Vec<u8>, source: &'s str) -> Self {
        let start = source.as_ptr() as usize;
        Self {
            out,
            source: source.as_bytes(),
            verbatim: start..start + source.len(),
        }
    }

    pub(crate) fn raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// Appends `s` as a JSON string.
    pub(crate) fn str(&mut self, s: &str) {
        let bytes = s.as_bytes();
        let at = bytes.as_ptr() as usize;
        let borrowed_from_source =
            at >= self.verbatim.start && at + bytes.len() <= self.verbatim.end;
        debug_assert!(
            !borrowed_from_source || {
                let mut escaped = Vec::new();
                write_escaped(&mut escaped, bytes);
                escaped == bytes
            },
            "{s:?}"
        );
        if borrowed_from_source {
            // The body and the quotes around it, in one copy.
            let start = at - self.verbatim.start;
            let quoted = self
                .source
                .get(start.wrapping_sub(1)..start + bytes.len() + 1);
            if let Some(quoted) =
                quoted.filter(|q| q.first() == Some(&b'"') && q.last() == Some(&b'"'))
            {
                self.out.extend_from_slice(quoted);
                return;
            }
        }
        self.out.reserve(bytes.len() + 2);
        self.out.push(b'"');
        if borrowed_from_source || !needs_escape(bytes) {
            self.out.extend_from_slice(bytes);
        } else {
            write_escaped(self.out, bytes);
        }
        self.out.push(b'"');
    }

    /// Appends an optional string, `null` when absent.
    pub(crate) fn opt_str(&mut self, value: Option<&str>) {
        match value {
            Some(s) => self.str(s),
            None => self.raw(b"null"),
        }
    }

    /// Appends `"name":`, preceded by a comma unless it is the object's first key.
    /// Names here are the contract's fixed ASCII field names.
    pub(crate) fn key(&mut self, name: &str, first: bool) {
        if !first {
            self.out.push(b',');
        }
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    fn str_list<'i>(&mut self, items: impl Iterator<Item = &'i str>) {
        self.out.push(b'[');
        for (i, s) in items.enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            self.str(s);
        }
        self.out.push(b']');
    }

    /// Appends a typed value, e.g. `{"N":"1.5"}`.
    pub(crate) fn value(&mut self, value: &AttributeValue<'_>) {
        self.out.extend_from_slice(match value {
            AttributeValue::S(_) => b"{\"S\":",
            AttributeValue::N(_) => b"{\"N\":",
            AttributeValue::B(_) => b"{\"B\":",
            AttributeValue::Bool(_) => b"{\"BOOL\":",
            AttributeValue::Null => b"{\"NULL\":",
            AttributeValue::Ss(_) => b"{\"SS\":",
            AttributeValue::Ns(_) => b"{\"NS\":",
            AttributeValue::Bs(_) => b"{\"BS\":",
            AttributeValue::L(_) => b"{\"L\":",
            AttributeValue::M(_) => b"{\"M\":",
            AttributeValue::Redacted(_) => b"{\"REDACTED\":{\"type\":",
        });
        match value {
            AttributeValue::S(s) | AttributeValue::N(s) => self.str(s),
            AttributeValue::B(b) => self.str(&b.base64),
            AttributeValue::Bool(true) | AttributeValue::Null => self.raw(b"true"),
            AttributeValue::Bool(false) => self.raw(b"false"),
            AttributeValue::Ss(v) | AttributeValue::Ns(v) => {
                self.str_list(v.iter().map(AsRef::as_ref))
            }
            AttributeValue::Bs(v) => {
                self.str_list(v.iter().map(|b: &Binary<'_>| b.base64.as_ref()))
            }
            AttributeValue::L(values) => {
                self.out.push(b'[');
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    self.value(v);
                }
                self.out.push(b']');
            }
            AttributeValue::M(item) => self.item(item),
            AttributeValue::Redacted(token) => {
                self.str(token.type_tag);
                self.raw(b",\"hmac\":");
                self.str(&token.hmac);
                self.out.push(b'}');
            }
        }
        self.out.push(b'}');
    }

    /// Appends a verbatim JSON value (`user_identity`), members in their (sorted) order.
    pub(crate) fn json(&mut self, value: &JsonValue<'_>) {
        match value {
            JsonValue::Null => self.raw(b"null"),
            JsonValue::Bool(true) => self.raw(b"true"),
            JsonValue::Bool(false) => self.raw(b"false"),
            JsonValue::Number(n) => self.raw(n.as_bytes()),
            JsonValue::String(s) => self.str(s),
            JsonValue::Array(values) => {
                self.out.push(b'[');
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    self.json(v);
                }
                self.out.push(b']');
            }
            JsonValue::Object(members) => self.members(members),
        }
    }

    /// Appends an object from members already in order.
    pub(crate) fn members(&mut self, members: &[(std::borrow::Cow<'_, str>, JsonValue<'_>)]) {
        self.out.push(b'{');
        for (i, (key, value)) in members.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            self.str(key);
            self.out.push(b':');
            self.json(value);
        }
        self.out.push(b'}');
    }

    /// Appends a typed map, names in the item's (ascending byte) order.
    pub(crate) fn item(&mut self, item: &Item<'_>) {
        self.out.push(b'{');
        for (i, (name, value)) in item.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            self.str(name);
            self.out.push(b':');
            self.value(value);
        }
        self.out.push(b'}');
    }

    /// Appends one entry of `changes`.
    pub(crate) fn change(&mut self, change: &Change<'_>) {
        self.raw(match change.op {
            Op::Add => b"{\"op\":\"add\",\"path\":",
            Op::Remove => b"{\"op\":\"remove\",\"path\":",
            Op::Replace => b"{\"op\":\"replace\",\"path\":",
        });
        self.str(&change.path);
        let fields = [
            ("old", change.old.as_deref()),
            ("new", change.new.as_deref()),
            ("added", change.added.as_ref()),
            ("removed", change.removed.as_ref()),
        ];
        for (name, value) in fields {
            if let Some(value) = value {
                self.key(name, false);
                self.value(value);
            }
        }
        self.out.push(b'}');
    }
}

/// Whether a string may need escaping: a quote, a backslash, a control character, or a lead
/// byte of U+0085, U+2028 or U+2029 (written escaped so that line-splitting readers see one
/// document per line; [`write_escaped`] looks closer). `fold` rather than `any`: no early
/// exit, so the loop vectorizes.
fn needs_escape(bytes: &[u8]) -> bool {
    bytes.iter().fold(false, |acc, &b| {
        acc | (b < 0x20) | (b == b'"') | (b == b'\\') | (b == 0xC2) | (b == 0xE2)
    })
}

fn write_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if let Some(len) = line_separator_at(&bytes[i..]) {
            out.extend_from_slice(&bytes[start..i]);
            out.extend_from_slice(match bytes[i + len - 1] {
                0x85 => b"\\u0085",
                0xA8 => b"\\u2028",
                _ => b"\\u2029",
            });
            i += len;
            start = i;
            continue;
        }
        i += 1;
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i - 1]);
        out.extend_from_slice(escape);
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    // The fast writer and serde_json agree byte for byte, escapes included.
    #[test]
    fn matches_serde_json_for_every_type_and_escape() {
        let json = r#"{"M":{"b":{"B":"AAEC/w=="},"bool":{"BOOL":false},"bs":{"BS":["AQ=="]},"l":{"L":[{"NULL":true},{"BOOL":true}]},"n":{"N":"-1.5E3"},"ns":{"NS":["1"]},"s":{"S":"tab\t nl\n quote\" back\\ bell\u0007 del\u007f é 日本"},"ss":{"SS":["\u0000","/"]},"q\"k":{"S":""}}}"#;
        let value: AttributeValue<'_> = serde_json::from_str(json).unwrap();
        for source in ["", json] {
            let mut fast = Vec::new();
            JsonWriter::new(&mut fast, source).value(&value);
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                serde_json::to_string(&value).unwrap()
            );
        }
    }

    // U+0085, U+2028 and U+2029 are written escaped, whether borrowed from the event or not:
    // the same JSON, but one document per line for line-splitting readers.
    #[test]
    fn line_separators_are_escaped() {
        let json = "{\"M\":{\"k\\u2028\":{\"S\":\"a\u{2028}b\u{2029}c\u{85}d – € \\u0085\"}}}";
        let value: AttributeValue<'_> = serde_json::from_str(json).unwrap();
        for source in ["", json] {
            let mut out = Vec::new();
            JsonWriter::new(&mut out, source).value(&value);
            let text = String::from_utf8(out).unwrap();
            assert_eq!(
                text,
                r#"{"M":{"k\u2028":{"S":"a\u2028b\u2029c\u0085d – € \u0085"}}}"#
            );
            let back: AttributeValue<'_> = serde_json::from_str(&text).unwrap();
            assert_eq!(
                serde_json::to_string(&back).unwrap(),
                serde_json::to_string(&value).unwrap()
            );
        }
    }

    // Changes render as serde does, optional fields omitted.
    #[test]
    fn changes_match_serde_json() {
        let changes: Vec<Change<'_>> = serde_json::from_str(
            r#"[{"op":"add","path":"/a~1b","new":{"S":"x"}},{"op":"replace","path":"/s","old":{"SS":["a"]},"new":{"SS":["b"]},"added":{"SS":["b"]},"removed":{"SS":["a"]}},{"op":"remove","path":"/z","old":{"N":"1"}}]"#,
        )
        .unwrap();
        for change in &changes {
            let mut fast = Vec::new();
            JsonWriter::new(&mut fast, "").change(change);
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                serde_json::to_string(change).unwrap()
            );
        }
    }
}
