//! A borrowed JSON reader, specialised for DynamoDB Streams events: the parsing hot path.
//!
//! Why not serde_json: deserializing records through serde cost 4.6× the benchmark floor's
//! instructions (callgrind, 6 MB batch): a generic validation pass, then visitor machinery per
//! attribute. This reader walks the bytes once per pass, borrows every string that has no
//! escape, and separates two kinds of failure that serde cannot: a *syntax* error makes the
//! whole input not JSON (the event is rejected whole), while an *invalid* record (unknown type
//! tag, bad base64, wrong field type) is only that record's problem and the batch goes on.
//! It accepts exactly RFC 8259 JSON (differentially tested against serde_json), nested to any
//! depth: skipping is iterative, so validating an event needs no stack however deep it nests.
//! Typed reading recurses and so stops at [`MAX_DEPTH`] levels below where it was told to
//! count from (each record), and going deeper is an *invalid* value, not a syntax error: a
//! record nested past the limit is that record's problem only. This module performs no IO.

use std::borrow::Cow;
use std::fmt;

/// How many levels of arrays and objects typed reading follows below its starting level (a
/// record: the contract asks for at least DynamoDB's 32 levels of attributes, about 70 levels
/// of JSON in a record). serde_json's limit too, so a record read here reads there.
pub(crate) const MAX_DEPTH: usize = 128;

/// A reading failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// The text is not JSON: nothing around it can be trusted.
    Syntax {
        offset: usize,
        message: &'static str,
    },
    /// The JSON is fine but does not mean what it must. Boxed: every `Result` the reader
    /// returns is as large as its error, and the hot path only ever returns `Ok`.
    Invalid(Box<Invalid>),
}

/// What an invalid value was, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invalid {
    /// Segments innermost first: they are collected on the way out, so only failures pay.
    path: Vec<Segment>,
    message: String,
}

/// One step of an error path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Key(String),
    Index(usize),
}

impl ReadError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(Box::new(Invalid {
            path: Vec::new(),
            message: message.into(),
        }))
    }

    /// Adds the segment the failure happened under.
    pub(crate) fn within(mut self, segment: impl FnOnce() -> Segment) -> Self {
        if let Self::Invalid(invalid) = &mut self {
            invalid.path.push(segment());
        }
        self
    }

    pub(crate) fn within_key(self, key: &str) -> Self {
        self.within(|| Segment::Key(key.to_owned()))
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax { offset, message } => write!(f, "{message} at byte {offset}"),
            Self::Invalid(invalid) => {
                let Invalid { path, message } = invalid.as_ref();
                let mut first = true;
                for segment in path.iter().rev() {
                    match segment {
                        Segment::Key(k) if first => write!(f, "{k}")?,
                        Segment::Key(k) => write!(f, ".{k}")?,
                        Segment::Index(i) => write!(f, "[{i}]")?,
                    }
                    first = false;
                }
                if path.is_empty() {
                    write!(f, "{message}")
                } else {
                    write!(f, ": {message}")
                }
            }
        }
    }
}

pub(crate) type Result<T> = std::result::Result<T, ReadError>;

/// What a JSON value starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Object,
    Array,
    String,
    Number,
    Bool,
    Null,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Object => "an object",
            Self::Array => "an array",
            Self::String => "a string",
            Self::Number => "a number",
            Self::Bool => "a boolean",
            Self::Null => "null",
        }
    }
}

/// Bytes that end the fast scan of a string body: quote, backslash, control characters, and
/// the lead bytes of U+0085, U+2028 and U+2029 (0xC2, 0xE2), which the document writer must
/// escape (line-splitting readers take them for line ends), so strings holding them are not
/// borrowed as needing no escape. Both lead bytes also start other characters; the scan
/// looks and moves on.
static STRING_STOP: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = true;
        i += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[0xC2] = true;
    table[0xE2] = true;
    table
};

/// The length of U+0085, U+2028 or U+2029 if `bytes` starts with one: characters JSON leaves
/// unescaped but line-splitting readers (Python's `str.splitlines`, some log shippers) split
/// lines at.
pub(crate) fn line_separator_at(bytes: &[u8]) -> Option<usize> {
    match bytes {
        [0xC2, 0x85, ..] => Some(2),
        [0xE2, 0x80, 0xA8 | 0xA9, ..] => Some(3),
        _ => None,
    }
}

/// A cursor over JSON text.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
    /// Typed reading past this depth is invalid.
    limit: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Self {
            text,
            pos: 0,
            depth: 0,
            limit: MAX_DEPTH,
        }
    }

    /// Typed reading may go [`MAX_DEPTH`] levels below the current one from now on: a record
    /// read inside an event has the same room as the same record read on its own.
    pub(crate) fn count_depth_from_here(&mut self) {
        self.limit = self.depth + MAX_DEPTH;
    }

    /// Where the next value starts (after whitespace).
    pub(crate) fn value_start(&mut self) -> usize {
        self.skip_ws();
        self.pos
    }

    pub(crate) fn offset(&self) -> usize {
        self.pos
    }

    pub(crate) fn depth(&self) -> usize {
        self.depth
    }

    /// Moves back to a position (and depth) this reader reported, e.g. to re-read a record
    /// whose typed reading failed part way.
    pub(crate) fn rewind(&mut self, offset: usize, depth: usize) {
        self.pos = offset;
        self.depth = depth;
    }

    /// The text between two offsets this reader reported.
    pub(crate) fn slice(&self, start: usize, end: usize) -> &'a str {
        &self.text[start..end]
    }

    /// Advances over string bytes that need no attention. Most DynamoDB strings are a few
    /// bytes (type tags, names, short values): a plain table-driven scan beat a word-at-a-time
    /// one here (callgrind, benchmark batch), which only adds set-up to short strings.
    #[inline]
    fn scan_plain(&mut self) {
        let rest = &self.text.as_bytes()[self.pos..];
        self.pos += rest
            .iter()
            .position(|&b| STRING_STOP[b as usize])
            .unwrap_or(rest.len());
    }

    fn syntax<T>(&self, message: &'static str) -> Result<T> {
        Err(ReadError::Syntax {
            offset: self.pos,
            message,
        })
    }

    fn skip_ws(&mut self) {
        let bytes = self.text.as_bytes();
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The kind of the next value, after whitespace.
    pub(crate) fn peek_kind(&mut self) -> Result<Kind> {
        self.skip_ws();
        match self.text.as_bytes().get(self.pos) {
            Some(b'{') => Ok(Kind::Object),
            Some(b'[') => Ok(Kind::Array),
            Some(b'"') => Ok(Kind::String),
            Some(b'-' | b'0'..=b'9') => Ok(Kind::Number),
            Some(b't' | b'f') => Ok(Kind::Bool),
            Some(b'n') => Ok(Kind::Null),
            Some(_) => self.syntax("expected a JSON value"),
            None => self.syntax("unexpected end of input"),
        }
    }

    /// After the last value: only whitespace may follow.
    pub(crate) fn end(&mut self) -> Result<()> {
        self.skip_ws();
        if self.pos == self.text.len() {
            Ok(())
        } else {
            self.syntax("trailing characters")
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.skip_ws();
        if self.text.as_bytes().get(self.pos) == Some(&byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn literal(&mut self, word: &'static str) -> Result<()> {
        if self.text.as_bytes()[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(())
        } else {
            self.syntax("invalid literal")
        }
    }

    /// Reads `null`, or leaves the reader where it was.
    pub(crate) fn null(&mut self) -> Result<bool> {
        if self.peek_kind()? == Kind::Null {
            self.literal("null")?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Reads a boolean.
    pub(crate) fn boolean(&mut self) -> Result<bool> {
        match self.peek_kind()? {
            Kind::Bool if self.text.as_bytes()[self.pos] == b't' => {
                self.literal("true").map(|()| true)
            }
            Kind::Bool => self.literal("false").map(|()| false),
            other => self.wrong_type(other, "a boolean"),
        }
    }

    /// Skips a value of the wrong kind (checking its syntax) and says what was expected.
    pub(crate) fn wrong_type<T>(&mut self, found: Kind, expected: &str) -> Result<T> {
        self.skip_value()?;
        Err(ReadError::invalid(format!(
            "invalid type: {}, expected {expected}",
            found.name()
        )))
    }

    /// Reads a string, borrowed when it has no escape.
    pub(crate) fn string(&mut self) -> Result<Cow<'a, str>> {
        match self.peek_kind()? {
            Kind::String => self.string_body(),
            other => self.wrong_type(other, "a string"),
        }
    }

    fn string_body(&mut self) -> Result<Cow<'a, str>> {
        let bytes = self.text.as_bytes();
        self.pos += 1;
        let start = self.pos;
        loop {
            self.scan_plain();
            match bytes.get(self.pos) {
                Some(b'"') => {
                    let s = &self.text[start..self.pos];
                    self.pos += 1;
                    return Ok(Cow::Borrowed(s));
                }
                Some(b'\\') => return self.escaped_string(start).map(Cow::Owned),
                Some(0xC2 | 0xE2) if line_separator_at(&bytes[self.pos..]).is_none() => {
                    self.pos += 1
                }
                Some(0xC2 | 0xE2) => return self.escaped_string(start).map(Cow::Owned),
                Some(_) => return self.syntax("control character in string"),
                None => return self.syntax("unterminated string"),
            }
        }
    }

    /// The slow path, from the string's first escape (or line separator) on.
    fn escaped_string(&mut self, start: usize) -> Result<String> {
        let bytes = self.text.as_bytes();
        let mut out = String::with_capacity(self.pos - start + 16);
        out.push_str(&self.text[start..self.pos]);
        loop {
            let run = self.pos;
            self.scan_plain();
            out.push_str(&self.text[run..self.pos]);
            match bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let Some(&escape) = bytes.get(self.pos) else {
                        return self.syntax("unterminated string");
                    };
                    self.pos += 1;
                    match escape {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => out.push(self.unicode_escape()?),
                        _ => return self.syntax("invalid escape"),
                    }
                }
                Some(0xC2 | 0xE2) => {
                    // A lead byte of valid UTF-8 text: copy its whole character.
                    let c = self.text[self.pos..].chars().next().expect("a character");
                    out.push(c);
                    self.pos += c.len_utf8();
                }
                Some(_) => return self.syntax("control character in string"),
                None => return self.syntax("unterminated string"),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32> {
        let Some(digits) = self.text.as_bytes().get(self.pos..self.pos + 4) else {
            return self.syntax("unterminated string");
        };
        let mut value = 0;
        for &d in digits {
            let nibble = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                b'A'..=b'F' => d - b'A' + 10,
                _ => return self.syntax("invalid \\u escape"),
            };
            value = value * 16 + u32::from(nibble);
        }
        self.pos += 4;
        Ok(value)
    }

    /// `\uXXXX`, pairing surrogates. A lone surrogate is valid JSON (serde_json's RawValue,
    /// which the Lambda runtime uses, accepts it) but no Unicode text, so it makes the value
    /// invalid, not the input.
    fn unicode_escape(&mut self) -> Result<char> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF if self.text.as_bytes()[self.pos..].starts_with(b"\\u") => {
                self.pos += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(ReadError::invalid("lone surrogate in \\u escape"));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xD800..=0xDFFF => return Err(ReadError::invalid("lone surrogate in \\u escape")),
            _ => first,
        };
        char::from_u32(code).ok_or_else(|| ReadError::invalid("invalid \\u escape"))
    }

    /// Skips a string body, checking escapes only as far as JSON's grammar goes.
    fn skip_string(&mut self) -> Result<()> {
        let bytes = self.text.as_bytes();
        self.pos += 1;
        loop {
            self.scan_plain();
            match bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match bytes.get(self.pos) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 1
                        }
                        Some(b'u') => {
                            self.pos += 1;
                            self.hex4()?;
                        }
                        Some(_) => return self.syntax("invalid escape"),
                        None => return self.syntax("unterminated string"),
                    }
                }
                Some(0xC2 | 0xE2) => self.pos += 1,
                Some(_) => return self.syntax("control character in string"),
                None => return self.syntax("unterminated string"),
            }
        }
    }

    /// Reads a number's text (RFC 8259 grammar), as written.
    pub(crate) fn number_text(&mut self) -> Result<&'a str> {
        match self.peek_kind()? {
            Kind::Number => {}
            other => return self.wrong_type(other, "a number"),
        }
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let digits = |pos: &mut usize| {
            let from = *pos;
            while bytes.get(*pos).is_some_and(u8::is_ascii_digit) {
                *pos += 1;
            }
            *pos - from
        };
        let mut pos = self.pos;
        if bytes[pos] == b'-' {
            pos += 1;
        }
        match bytes.get(pos) {
            Some(b'0') => pos += 1,
            Some(b'1'..=b'9') => {
                digits(&mut pos);
            }
            _ => {
                self.pos = pos;
                return self.syntax("invalid number");
            }
        }
        if bytes.get(pos) == Some(&b'.') {
            pos += 1;
            if digits(&mut pos) == 0 {
                self.pos = pos;
                return self.syntax("invalid number");
            }
        }
        if let Some(b'e' | b'E') = bytes.get(pos) {
            pos += 1;
            if let Some(b'+' | b'-') = bytes.get(pos) {
                pos += 1;
            }
            if digits(&mut pos) == 0 {
                self.pos = pos;
                return self.syntax("invalid number");
            }
        }
        self.pos = pos;
        Ok(&self.text[start..pos])
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > self.limit {
            Err(ReadError::invalid(format!(
                "nested deeper than {MAX_DEPTH} levels"
            )))
        } else {
            Ok(())
        }
    }

    /// Reads an object, calling `member` with each key; `member` must read the value.
    /// A value that is not an object is skipped (its syntax checked) and is `Invalid`.
    pub(crate) fn object(
        &mut self,
        expected: &str,
        member: impl FnMut(&mut Self, Cow<'a, str>) -> Result<()>,
    ) -> Result<()> {
        match self.peek_kind()? {
            Kind::Object => self.members(Self::string_body, member),
            other => self.wrong_type(other, expected),
        }
    }

    /// Reads an array, calling `element` with each index; `element` must read the value.
    /// A value that is not an array is skipped (its syntax checked) and is `Invalid`.
    pub(crate) fn array(
        &mut self,
        expected: &str,
        element: impl FnMut(&mut Self, usize) -> Result<()>,
    ) -> Result<()> {
        match self.peek_kind()? {
            Kind::Array => self.elements(element),
            other => self.wrong_type(other, expected),
        }
    }

    /// Skips one value, checking its syntax (the validation pass over a whole event).
    /// Keys are skipped rather than decoded, and only nesting allocates (one flag per open
    /// container). Iterative, so valid JSON of any depth is skipped: validity is an event's
    /// whole test, and a record too deep to read must still be skipped to be kept verbatim.
    pub(crate) fn skip_value(&mut self) -> Result<()> {
        // The open containers, innermost last: true for an object.
        let mut open: Vec<bool> = Vec::new();
        loop {
            match self.peek_kind()? {
                Kind::Object => {
                    self.pos += 1;
                    if !self.eat(b'}') {
                        open.push(true);
                        self.skip_key()?;
                        continue;
                    }
                }
                Kind::Array => {
                    self.pos += 1;
                    if !self.eat(b']') {
                        open.push(false);
                        continue;
                    }
                }
                Kind::String => self.skip_string()?,
                Kind::Number => self.number_text().map(drop)?,
                Kind::Bool => self.boolean().map(drop)?,
                Kind::Null => self.literal("null")?,
            }
            // A value ended: close what it ends, or move on to the next member or element.
            loop {
                let Some(&in_object) = open.last() else {
                    return Ok(());
                };
                if self.eat(b',') {
                    if in_object {
                        self.skip_key()?;
                    }
                    break;
                }
                if self.eat(if in_object { b'}' } else { b']' }) {
                    open.pop();
                    continue;
                }
                return self.syntax(if in_object {
                    "expected ',' or '}'"
                } else {
                    "expected ',' or ']'"
                });
            }
        }
    }

    /// Skips `"key":` inside an object.
    fn skip_key(&mut self) -> Result<()> {
        if self.peek_kind()? != Kind::String {
            return self.syntax("expected a string key");
        }
        self.skip_string()?;
        if !self.eat(b':') {
            return self.syntax("expected ':'");
        }
        Ok(())
    }

    /// Walks the object at the cursor: `key` reads each key, `member` its value.
    fn members<K>(
        &mut self,
        mut key: impl FnMut(&mut Self) -> Result<K>,
        mut member: impl FnMut(&mut Self, K) -> Result<()>,
    ) -> Result<()> {
        self.pos += 1;
        self.enter()?;
        if !self.eat(b'}') {
            loop {
                if self.peek_kind()? != Kind::String {
                    return self.syntax("expected a string key");
                }
                let k = key(self)?;
                if !self.eat(b':') {
                    return self.syntax("expected ':'");
                }
                member(self, k)?;
                if self.eat(b',') {
                    continue;
                }
                if self.eat(b'}') {
                    break;
                }
                return self.syntax("expected ',' or '}'");
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// Walks the array at the cursor, calling `element` with each index.
    fn elements(&mut self, mut element: impl FnMut(&mut Self, usize) -> Result<()>) -> Result<()> {
        self.pos += 1;
        self.enter()?;
        if !self.eat(b']') {
            let mut index = 0;
            loop {
                element(self, index)?;
                index += 1;
                if self.eat(b',') {
                    continue;
                }
                if self.eat(b']') {
                    break;
                }
                return self.syntax("expected ',' or ']'");
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// Skips one value and returns its text, as written.
    pub(crate) fn raw_value(&mut self) -> Result<&'a str> {
        self.skip_ws();
        let start = self.pos;
        self.skip_value()?;
        Ok(&self.text[start..self.pos])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn skip_all(text: &str) -> Result<()> {
        let mut r = Reader::new(text);
        r.skip_value()?;
        r.end()
    }

    // The reader accepts exactly the JSON serde_json accepts, on hand-picked edge cases.
    #[test]
    fn agrees_with_serde_json_on_edge_cases() {
        for text in [
            "0",
            "-0",
            "01",
            "1.",
            ".5",
            "1e",
            "1e+5",
            "-",
            "- 1",
            "1.5E-3",
            "[1,]",
            "[,1]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{1:2}",
            "[1 2]",
            "\"\\u00e9\"",
            "\"\\ud83d\\ude00\"",
            "\"\\ud83d\"",
            "\"\\ude00\"",
            "{\"\\ud800\":1}",
            "\"\\x\"",
            "\"a\u{1}\"",
            "\"\\/\"",
            "tru",
            "nul",
            "true ",
            " [ ] ",
            "{}",
            "[[[]]]",
            "\"é\"",
            "1 2",
            "",
            "[\"a\\\"b\"]",
            "{\"a\":{\"b\":[null,false,true]}}",
        ] {
            let ours = skip_all(text).is_ok();
            let theirs = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
            assert_eq!(ours, theirs, "{text:?}");
        }
    }

    // Skipping follows any depth of valid JSON with a constant stack, and still finds the
    // syntax error at the bottom of a deep value.
    #[test]
    fn skipping_follows_any_depth() {
        let deep = format!("{}1{}", "[{\"a\":".repeat(100_000), "}]".repeat(100_000));
        assert!(skip_all(&deep).is_ok());
        assert!(matches!(
            skip_all(&"[".repeat(100_000)),
            Err(ReadError::Syntax { .. })
        ));
        let broken = format!("{}1,{}", "[".repeat(1_000), "]".repeat(1_000));
        assert!(matches!(skip_all(&broken), Err(ReadError::Syntax { .. })));
    }

    // Typed reading follows MAX_DEPTH levels from where it was told to count, and deeper is
    // an invalid value (the record's problem), not a syntax error (the event's).
    #[test]
    fn typed_reading_past_the_limit_is_invalid() {
        fn read_nested(r: &mut Reader<'_>) -> Result<()> {
            r.array("an array", |r, _| read_nested(r))
        }
        let nested = |levels: usize| format!("{}{}", "[".repeat(levels), "]".repeat(levels));
        assert!(read_nested(&mut Reader::new(&nested(MAX_DEPTH))).is_ok());
        assert!(matches!(
            read_nested(&mut Reader::new(&nested(MAX_DEPTH + 1))),
            Err(ReadError::Invalid(_))
        ));
        let inside = format!("[[{}]]", nested(MAX_DEPTH));
        let mut r = Reader::new(&inside);
        r.array("", |r, _| {
            r.array("", |r, _| {
                r.count_depth_from_here();
                read_nested(r)
            })
        })
        .unwrap();
    }

    // A lone surrogate is valid JSON but not text: reading it as a string is an invalid value.
    #[test]
    fn lone_surrogate_is_invalid_not_syntax() {
        assert!(skip_all("\"\\ud800x\"").is_ok());
        let mut r = Reader::new("\"\\ud800x\"");
        assert!(matches!(r.string(), Err(ReadError::Invalid(_))));
    }

    // Strings without escapes are borrowed; escaped ones decode as serde_json does.
    #[test]
    fn strings_borrow_or_decode() {
        let mut r = Reader::new("\"plain\"");
        assert!(matches!(r.string().unwrap(), Cow::Borrowed("plain")));
        let text = "\"a\\n\\u00e9\\ud83d\\ude00\\\"\\\\\\/z\"";
        let mut r = Reader::new(text);
        assert_eq!(
            r.string().unwrap(),
            serde_json::from_str::<String>(text).unwrap()
        );
    }

    // Strings holding U+0085, U+2028 or U+2029 are never borrowed (the writer copies borrowed
    // strings unescaped), and decode to the same text; other characters sharing their lead
    // bytes still borrow.
    #[test]
    fn strings_with_line_separators_are_not_borrowed() {
        for text in [
            "\"a\u{2028}b\"",
            "\"\u{2029}\"",
            "\"x\u{85}\"",
            "\"\u{2028}\\n\"",
        ] {
            let mut r = Reader::new(text);
            let s = r.string().unwrap();
            assert!(matches!(s, Cow::Owned(_)), "{text}");
            assert_eq!(s, serde_json::from_str::<String>(text).unwrap());
            assert!(skip_all(text).is_ok());
        }
        let mut r = Reader::new("\"€ – ° é\"");
        assert!(matches!(r.string().unwrap(), Cow::Borrowed("€ – ° é")));
    }

    // Invalid-record errors render as a dotted path with list indices in brackets.
    #[test]
    fn invalid_errors_render_their_path() {
        let err = ReadError::invalid("bad")
            .within_key("M")
            .within(|| Segment::Index(2))
            .within_key("L")
            .within_key("lines");
        assert_eq!(err.to_string(), "lines.L[2].M: bad");
    }

    fn json_text() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_string()),
            any::<bool>().prop_map(|b| b.to_string()),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| f.to_string()),
            any::<i64>().prop_map(|i| i.to_string()),
            ".*".prop_map(|s| serde_json::to_string(&s).unwrap()),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec((".*", inner), 0..6).prop_map(|v| {
                    let members: Vec<String> = v
                        .into_iter()
                        .map(|(k, v)| format!("{}:{v}", serde_json::to_string(&k).unwrap()))
                        .collect();
                    format!("{{ {} }}", members.join(" , "))
                }),
            ]
        })
    }

    proptest! {
        // Valid JSON is accepted, and any corruption of it is judged as serde_json judges it.
        #[test]
        fn differential_against_serde_json(text in json_text(), cut in any::<prop::sample::Index>(), byte in any::<u8>()) {
            prop_assert!(skip_all(&text).is_ok(), "{}", text);
            let mut bytes = text.clone().into_bytes();
            let at = cut.index(bytes.len().max(1)).min(bytes.len().saturating_sub(1));
            if !bytes.is_empty() {
                bytes[at] = byte;
            }
            if let Ok(mutated) = String::from_utf8(bytes) {
                let ours = skip_all(&mutated).is_ok();
                let theirs = serde_json::from_str::<serde::de::IgnoredAny>(&mutated).is_ok();
                prop_assert_eq!(ours, theirs, "{:?}", mutated);
            }
        }
    }
}
