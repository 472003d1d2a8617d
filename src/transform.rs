//! `transform`: a whole event in, one audit document per record out, as JSON Lines.
//!
//! Generic over the writer; the caller owns the IO.

use std::io::{self, Write};

use crate::document::{RenderOptions, Rendered};
use crate::event::{EventError, read_event};

/// What a transform wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransformStats {
    pub records: usize,
    pub unreadable: usize,
    pub changes: usize,
}

/// Why a transform stopped.
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error(transparent)]
    NotAnEvent(#[from] EventError),
    #[error("cannot write the output: {0}")]
    Output(#[source] io::Error),
}

/// Writes one document per record of `event`, in record order, one per line. Nothing is
/// written unless the whole event is valid: the documents are held back until the event's
/// last byte has been read (about 1.4 times the event's size, in memory).
pub fn transform<W: Write>(
    event: &[u8],
    options: &RenderOptions,
    out: &mut W,
) -> Result<TransformStats, TransformError> {
    let mut stats = TransformStats::default();
    let mut lines = Vec::with_capacity(event.len() + event.len() / 2);
    read_event(event, options, |rendered| {
        stats.records += 1;
        match &rendered {
            Rendered::Document { changes, .. } => stats.changes += changes,
            Rendered::Unreadable { .. } => stats.unreadable += 1,
        }
        lines.extend_from_slice(rendered.json());
        lines.push(b'\n');
    })?;
    out.write_all(&lines).map_err(TransformError::Output)?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    // A malformed event writes nothing at all, not half its documents.
    #[test]
    fn truncated_event_writes_nothing() {
        let event = br#"{"Records":[{"eventID":"a"},{"eventID":"b""#;
        let mut out = Vec::new();
        assert!(transform(event, &RenderOptions::default(), &mut out).is_err());
        assert!(out.is_empty());
    }

    // Every record gives exactly one line, unreadable ones included, in order.
    #[test]
    fn one_line_per_record_in_order() {
        let event = br#"{"Records":[{"eventID":"a"},7,{"eventID":"c"}]}"#;
        let mut out = Vec::new();
        let stats = transform(event, &RenderOptions::default(), &mut out).unwrap();
        assert_eq!(
            stats,
            TransformStats {
                records: 3,
                unreadable: 3,
                changes: 0
            }
        );
        let lines: Vec<&str> = std::str::from_utf8(&out).unwrap().lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].contains(r#""event_id":"a""#) && lines[2].contains(r#""event_id":"c""#));
    }
}
