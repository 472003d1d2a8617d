//! Attribute path patterns: RFC 6901 JSON Pointers in which a segment `*` matches any one
//! map key or list index (the contract's "Redacted attributes"; `changes --path` reads the
//! same syntax).
//!
//! Every segment other than `*` names a map key, so a list element is matched only by `*`,
//! and what a pattern selects never depends on a position in a list. This module performs
//! no IO.

use std::fmt;

/// One step of a path through an item: a map key or a list index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// One segment of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// `*`: any one map key or list index.
    Any,
    /// A map key, unescaped (`~1` is `/`, `~0` is `~`).
    Key(String),
}

/// A parsed pattern, e.g. `/contacts/*/phone`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    segments: Vec<Segment>,
}

/// Why a pattern was rejected; the message names the accepted form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error(
        "{0:?} is not a path pattern: it must start with '/' (an RFC 6901 pointer such as /email or /contacts/*/phone)"
    )]
    NoLeadingSlash(String),
    #[error("{0:?} names the whole item: a pattern needs at least one segment, such as /email")]
    Empty(String),
    #[error("{0:?} has an empty segment ('//' or a trailing '/'): name an attribute, or use '*'")]
    EmptySegment(String),
    #[error("{0:?} has a '~' not followed by 0 or 1 (RFC 6901 escapes '~' as ~0 and '/' as ~1)")]
    BadEscape(String),
}

impl Pattern {
    /// Parses one pattern.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let rest = text
            .strip_prefix('/')
            .ok_or_else(|| PatternError::NoLeadingSlash(text.to_owned()))?;
        if rest.is_empty() {
            return Err(PatternError::Empty(text.to_owned()));
        }
        let segments = rest
            .split('/')
            .map(|segment| match segment {
                "" => Err(PatternError::EmptySegment(text.to_owned())),
                "*" => Ok(Segment::Any),
                escaped => unescape(escaped)
                    .map(Segment::Key)
                    .ok_or_else(|| PatternError::BadEscape(text.to_owned())),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            text: text.to_owned(),
            segments,
        })
    }

    /// Parses a comma-separated list (`/email,/card/number`); blanks around commas are
    /// ignored and an empty list gives no pattern.
    pub fn parse_list(text: &str) -> Result<Vec<Self>, PatternError> {
        text.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(Self::parse)
            .collect()
    }

    /// The number of segments.
    pub fn depth(&self) -> usize {
        self.segments.len()
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern names exactly the value at `path`.
    pub fn matches(&self, path: &[Step<'_>]) -> bool {
        self.segments.len() == path.len()
            && self
                .segments
                .iter()
                .zip(path)
                .all(|(segment, step)| match (segment, step) {
                    (Segment::Any, _) => true,
                    (Segment::Key(name), Step::Key(key)) => name == key,
                    (Segment::Key(_), Step::Index(_)) => false,
                })
    }

    /// Whether the pattern names the value at an RFC 6901 pointer's segments (already
    /// unescaped), or a value inside it. A pointer does not say whether a numeric segment
    /// is a list index or a map key, so a named segment matches its text either way.
    pub fn covers_pointer(&self, segments: &[String]) -> bool {
        segments.len() >= self.segments.len()
            && self
                .segments
                .iter()
                .zip(segments)
                .all(|(segment, text)| match segment {
                    Segment::Any => true,
                    Segment::Key(name) => name == text,
                })
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// RFC 6901 unescaping: `~1` is `/`, `~0` is `~`; any other `~` is an error.
fn unescape(segment: &str) -> Option<String> {
    let mut out = String::with_capacity(segment.len());
    let mut chars = segment.chars();
    while let Some(c) = chars.next() {
        match c {
            '~' => match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            },
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> Pattern {
        Pattern::parse(text).unwrap()
    }

    /// A named segment matches that map key only, never a list index; `*` matches either.
    #[test]
    fn named_segments_match_keys_and_stars_match_anything() {
        let phone = pattern("/contacts/*/phone");
        assert!(phone.matches(&[Step::Key("contacts"), Step::Index(3), Step::Key("phone")]));
        assert!(phone.matches(&[Step::Key("contacts"), Step::Key("home"), Step::Key("phone")]));
        assert!(!phone.matches(&[Step::Key("contacts"), Step::Index(3)]));
        assert!(!pattern("/lines/0").matches(&[Step::Key("lines"), Step::Index(0)]));
        assert!(pattern("/lines/0").matches(&[Step::Key("lines"), Step::Key("0")]));
    }

    /// Escapes follow RFC 6901, so an attribute named `a/b` or `~` can be named.
    #[test]
    fn escapes_name_slashes_and_tildes() {
        assert!(pattern("/a~1b/~0").matches(&[Step::Key("a/b"), Step::Key("~")]));
        assert_eq!(
            Pattern::parse("/a~2"),
            Err(PatternError::BadEscape("/a~2".into()))
        );
    }

    /// Each malformed pattern is refused with the reason and the accepted form.
    #[test]
    fn malformed_patterns_say_why() {
        assert!(matches!(
            Pattern::parse("email"),
            Err(PatternError::NoLeadingSlash(_))
        ));
        assert!(matches!(Pattern::parse("/"), Err(PatternError::Empty(_))));
        assert!(matches!(
            Pattern::parse("/a//b"),
            Err(PatternError::EmptySegment(_))
        ));
        assert!(matches!(
            Pattern::parse("/a/"),
            Err(PatternError::EmptySegment(_))
        ));
        let message = Pattern::parse("email").unwrap_err().to_string();
        assert!(message.contains("RFC 6901"), "{message}");
    }

    /// A list parses each pattern and skips blanks; one bad pattern fails the list.
    #[test]
    fn lists_are_comma_separated() {
        let list = Pattern::parse_list(" /email, /card/number ,,").unwrap();
        let texts: Vec<&str> = list.iter().map(Pattern::as_str).collect();
        assert_eq!(texts, ["/email", "/card/number"]);
        assert!(Pattern::parse_list("").unwrap().is_empty());
        assert!(Pattern::parse_list("/ok,bad").is_err());
    }

    /// A pointer at or under the pattern is covered; one above or beside it is not.
    #[test]
    fn pointers_at_or_under_a_pattern_are_covered() {
        let status = pattern("/orders/*/status");
        let seg = |p: &str| crate::diff::pointer_segments(p);
        assert!(status.covers_pointer(&seg("/orders/2/status")));
        assert!(status.covers_pointer(&seg("/orders/2/status/code")));
        assert!(!status.covers_pointer(&seg("/orders/2")));
        assert!(!status.covers_pointer(&seg("/orders/2/total")));
    }
}
