//! Path patterns: RFC 6901 JSON Pointers in which a segment that is exactly `*` stands for
//! any one segment, e.g. `/status`, `/lines/*/qty`, `/address/*`.
//!
//! `ddb-audit changes --path` selects changes with them, and the redaction patterns of the
//! spec use the same form, so this module is small, pure and knows nothing of documents:
//! a pattern is parsed once and then asked whether a change's path lies at or under a path
//! it matches. A literal attribute named `*` cannot be singled out (every `*` segment is the
//! wildcard); `~0` and `~1` escape `~` and `/` as in RFC 6901. This module performs no IO.

use crate::diff::pointer_segments;

/// A parsed path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    text: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// `*`: any one segment.
    Any,
    /// A segment that must be equal (unescaped).
    Exact(String),
}

/// Why a text is not a path pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("{0:?} does not start with '/'")]
    NoLeadingSlash(String),
    #[error("{0:?} has a '~' not followed by 0 or 1 (RFC 6901 escapes: ~0 for '~', ~1 for '/')")]
    BadEscape(String),
}

impl PathPattern {
    /// Parses `text`: empty (the whole item) or `/`-separated segments, `*` for any one.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        if !text.is_empty() && !text.starts_with('/') {
            return Err(PatternError::NoLeadingSlash(text.to_owned()));
        }
        let bad_escape = text
            .match_indices('~')
            .any(|(i, _)| !matches!(text.as_bytes().get(i + 1), Some(b'0' | b'1')));
        if bad_escape {
            return Err(PatternError::BadEscape(text.to_owned()));
        }
        // `*` is judged before unescaping, so `~1`-spelt text is never taken for it.
        let segments = text
            .split('/')
            .skip(1)
            .map(|raw| match raw {
                "*" => Segment::Any,
                _ => Segment::Exact(pointer_segments(&format!("/{raw}")).remove(0)),
            })
            .collect();
        Ok(Self {
            text: text.to_owned(),
            segments,
        })
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `segments` (an unescaped pointer) is exactly a path the pattern matches.
    pub fn matches(&self, segments: &[String]) -> bool {
        segments.len() == self.segments.len() && self.prefix_of(segments)
    }

    /// Whether the pointer `path` lies at or under a path the pattern matches:
    /// `/address/*` covers `/address/city` and `/address/geo/lat`, not `/address` itself.
    pub fn covers(&self, path: &str) -> bool {
        let segments = pointer_segments(path);
        segments.len() >= self.segments.len() && self.prefix_of(&segments)
    }

    fn prefix_of(&self, segments: &[String]) -> bool {
        self.segments
            .iter()
            .zip(segments)
            .all(|(pattern, segment)| match pattern {
                Segment::Any => true,
                Segment::Exact(text) => text == segment,
            })
    }
}

impl std::fmt::Display for PathPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> PathPattern {
        PathPattern::parse(text).expect("a pattern")
    }

    // A plain pointer covers itself and everything below it, nothing beside it.
    #[test]
    fn a_pointer_covers_itself_and_below() {
        assert!(p("/status").covers("/status"));
        assert!(p("/address").covers("/address/city"));
        assert!(!p("/address/city").covers("/address"));
        assert!(!p("/status").covers("/statuses"));
        assert!(!p("/status").covers("/other/status"));
    }

    // `*` matches exactly one segment, whatever it is, list indexes included.
    #[test]
    fn star_is_any_one_segment() {
        let qty = p("/lines/*/qty");
        assert!(qty.covers("/lines/0/qty"));
        assert!(qty.covers("/lines/12/qty"));
        assert!(!qty.covers("/lines/0"));
        assert!(!qty.covers("/lines/0/sku"));
        assert!(p("/*").covers("/anything/deep"));
        assert!(p("/lines/*/qty").matches(&["lines".into(), "3".into(), "qty".into()]));
        assert!(!p("/lines/*").matches(&["lines".into(), "3".into(), "qty".into()]));
    }

    // RFC 6901 escapes are honoured on both sides; an escaped star is not the wildcard.
    #[test]
    fn escapes_follow_rfc_6901() {
        assert!(p("/a~1b").covers("/a~1b/c"));
        assert!(!p("/a~1b").covers("/a/b"));
        assert!(p("/t~0x").covers("/t~0x"));
        assert!(p("").covers("/anything"));
    }

    // What is not a pointer is refused with the reason.
    #[test]
    fn non_pointers_are_refused() {
        assert_eq!(
            PathPattern::parse("status"),
            Err(PatternError::NoLeadingSlash("status".into()))
        );
        assert_eq!(
            PathPattern::parse("/a~2"),
            Err(PatternError::BadEscape("/a~2".into()))
        );
        assert_eq!(
            PathPattern::parse("/a~"),
            Err(PatternError::BadEscape("/a~".into()))
        );
    }
}
