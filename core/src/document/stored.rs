//! A stored document read back: the typed model the auditor's side works with.
//!
//! The function writes documents with [`super::render_record`]; `history`, `replay`,
//! `verify` and everything else that reads the bucket parse them here, once, into
//! [`Stored`], and never look inside with string lookups again. Reading is lenient where
//! the contract lets a field be absent (images when the function keeps none, members a
//! later version adds) and strict about what the auditor relies on (the schema id, the
//! event name, every typed value). This module performs no IO.

use serde::Deserialize;
use serde_json::Value;

use crate::SCHEMA_ID;
use crate::diff::{Change, pointer_segments};
use crate::pattern::Pattern;
use crate::record::{EventName, StreamArn};
use crate::timestamp::Timestamp;
use crate::value::AttributeValue;
use crate::value::Item;

/// One stored document: a change, or the error document of a record the function could
/// not read.
#[derive(Debug, Clone)]
pub enum Stored {
    Change(Box<ChangeDocument>),
    Unreadable(ErrorDocument),
}

/// The audit document of one readable stream record.
// Owned values throughout ('static): documents are read from a `Value`, which lends nothing.
#[derive(Debug, Clone, Deserialize)]
#[serde(bound(deserialize = "'de: 'static"))]
pub struct ChangeDocument {
    pub event_id: String,
    pub event_name: EventName,
    pub table: String,
    pub source: Source,
    pub key: Item<'static>,
    /// The record's `userIdentity`, verbatim (DynamoDB sets it for TTL deletions).
    #[serde(default)]
    pub user_identity: Option<Value>,
    #[serde(default)]
    pub ttl_expiry: bool,
    pub complete: bool,
    /// `None` when the document is incomplete.
    #[serde(default)]
    pub changes: Option<Vec<Change<'static>>>,
    #[serde(default)]
    pub old_image: Option<Item<'static>>,
    #[serde(default)]
    pub new_image: Option<Item<'static>>,
    /// Present when the deployment redacts.
    #[serde(default)]
    pub redaction: Option<Redaction>,
}

/// A redacting document's `redaction` member.
#[derive(Debug, Clone, Deserialize)]
pub struct Redaction {
    pub algorithm: String,
    pub key_id: String,
    pub paths: Vec<String>,
}

impl ChangeDocument {
    /// Every place where the document holds a value in clear at one of its own redacted
    /// paths, as `member path` (e.g. `new_image /email`): what `verify` reports. A pointer
    /// does not say whether a numeric segment is a list index, so one is taken as either:
    /// the check errs towards reporting.
    pub fn clear_at_redacted_paths(&self) -> Vec<String> {
        let Some(redaction) = &self.redaction else {
            return Vec::new();
        };
        let patterns: Vec<Pattern> = redaction
            .paths
            .iter()
            .filter_map(|p| Pattern::parse(p).ok())
            .collect();
        let mut found = Vec::new();
        let mut check = |member: &str, base: Vec<String>, value: &AttributeValue<'_>| {
            let mut path = base;
            clear_values(&patterns, &mut path, value, &mut |at| {
                found.push(format!("{member} /{}", at.join("/")));
            });
        };
        for (member, item) in [
            ("key", Some(&self.key)),
            ("old_image", self.old_image.as_ref()),
            ("new_image", self.new_image.as_ref()),
        ] {
            for (name, value) in item.into_iter().flat_map(Item::iter) {
                check(member, vec![name.to_owned()], value);
            }
        }
        for change in self.changes.iter().flatten() {
            let base = pointer_segments(&change.path);
            for value in [change.old.as_deref(), change.new.as_deref()]
                .into_iter()
                .flatten()
            {
                check("changes", base.clone(), value);
            }
        }
        found
    }
}

/// Calls `report` with the path of every value in clear at a pattern's path within `value`
/// (which sits at `path`).
fn clear_values(
    patterns: &[Pattern],
    path: &mut Vec<String>,
    value: &AttributeValue<'_>,
    report: &mut dyn FnMut(&[String]),
) {
    if matches!(value, AttributeValue::Redacted(_)) {
        return;
    }
    if patterns
        .iter()
        .any(|p| p.covers_pointer(path) && p.depth() == path.len())
    {
        report(path);
        return;
    }
    match value {
        AttributeValue::M(map) => {
            for (name, inner) in map.iter() {
                path.push(name.to_owned());
                clear_values(patterns, path, inner, report);
                path.pop();
            }
        }
        AttributeValue::L(items) => {
            for (index, inner) in items.iter().enumerate() {
                path.push(index.to_string());
                clear_values(patterns, path, inner, report);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Where a document's record came from in the stream.
#[derive(Debug, Clone, Deserialize)]
pub struct Source {
    pub stream_arn: String,
    pub region: String,
    pub account: String,
    pub sequence_number: String,
    /// RFC 3339 with milliseconds, as rendered.
    #[serde(default)]
    pub approximate_creation_time: Option<String>,
    #[serde(default)]
    pub size_bytes: Option<u64>,
    #[serde(default)]
    pub stream_view_type: Option<String>,
    #[serde(default)]
    pub event_version: Option<String>,
}

impl Source {
    /// The record's creation time, when it has one that parses.
    pub fn created(&self) -> Option<Timestamp> {
        self.approximate_creation_time
            .as_deref()
            .and_then(Timestamp::parse_rfc3339)
    }
}

/// The error document of a record the function could not read.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorDocument {
    #[serde(default)]
    pub event_id: Option<String>,
    pub error: ErrorMessage,
    /// The record as received: an object, or its exact text when strict JSON readers
    /// could not read it back. Absent where the deployment redacts.
    #[serde(default)]
    pub raw: Option<Value>,
}

/// The `error` member of an error document.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorMessage {
    pub message: String,
}

impl ErrorDocument {
    /// The table named by the raw record's `eventSourceARN`, when it has a readable one.
    pub fn raw_table(&self) -> Option<&str> {
        let arn = self.raw.as_ref()?.get("eventSourceARN")?.as_str()?;
        StreamArn::parse(arn).map(|arn| arn.table)
    }

    /// The raw record's `dynamodb.Keys`, when they are readable typed values.
    pub fn raw_keys(&self) -> Option<Item<'static>> {
        let keys = self.raw.as_ref()?.pointer("/dynamodb/Keys")?;
        Item::<'static>::deserialize(keys.clone()).ok()
    }

    /// The raw record's `dynamodb.SequenceNumber`, when the record is kept as an object.
    pub fn raw_sequence_number(&self) -> Option<&str> {
        self.raw
            .as_ref()?
            .pointer("/dynamodb/SequenceNumber")?
            .as_str()
    }
}

/// Why stored bytes are not a document of this contract.
#[derive(Debug, thiserror::Error)]
pub enum StoredError {
    /// Not JSON at all.
    #[error("{0}")]
    NotJson(#[source] serde_json::Error),
    /// JSON, but not marked as a document of this contract.
    #[error("no \"schema\": \"{SCHEMA_ID}\"")]
    NotMarked,
    /// Marked, but a member the auditor relies on is missing or mistyped.
    #[error("{0}")]
    Malformed(#[source] serde_json::Error),
}

impl Stored {
    /// Reads one document from its stored bytes (one JSON text).
    pub fn from_slice(bytes: &[u8]) -> Result<Self, StoredError> {
        let value: Value = serde_json::from_slice(bytes).map_err(StoredError::NotJson)?;
        Self::from_value(value)
    }

    /// Reads one document already parsed as JSON.
    pub fn from_value(value: Value) -> Result<Self, StoredError> {
        if value.get("schema").and_then(Value::as_str) != Some(SCHEMA_ID) {
            return Err(StoredError::NotMarked);
        }
        if value.get("error").is_some() {
            return ErrorDocument::deserialize(value)
                .map(Stored::Unreadable)
                .map_err(StoredError::Malformed);
        }
        ChangeDocument::deserialize(value)
            .map(|doc| Stored::Change(Box::new(doc)))
            .map_err(StoredError::Malformed)
    }

    /// The readable document, unless this is an error document.
    pub fn change(&self) -> Option<&ChangeDocument> {
        match self {
            Stored::Change(doc) => Some(doc),
            Stored::Unreadable(_) => None,
        }
    }

    /// The record's `eventID`, when known.
    pub fn event_id(&self) -> Option<&str> {
        match self {
            Stored::Change(doc) => Some(&doc.event_id),
            Stored::Unreadable(doc) => doc.event_id.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{RenderOptions, Rendered, render_record};

    const MODIFY: &str = r#"{"eventID":"e1","eventName":"MODIFY","eventVersion":"1.1","awsRegion":"eu-west-1","eventSourceARN":"arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-01-01T00:00:00.000","dynamodb":{"ApproximateCreationDateTime":1764210700,"Keys":{"pk":{"S":"o#1"}},"NewImage":{"pk":{"S":"o#1"},"n":{"N":"2"}},"OldImage":{"pk":{"S":"o#1"},"n":{"N":"1"}},"SequenceNumber":"100","SizeBytes":40,"StreamViewType":"NEW_AND_OLD_IMAGES"}}"#;

    /// A document the engine renders reads back with every field the auditor needs.
    #[test]
    fn a_rendered_document_reads_back_typed() {
        let Rendered::Document { json, .. } = render_record(MODIFY, &RenderOptions::default())
        else {
            panic!("the record is readable");
        };
        let Stored::Change(doc) = Stored::from_slice(&json).unwrap() else {
            panic!("a change document");
        };
        assert_eq!(doc.event_id, "e1");
        assert_eq!(doc.event_name, EventName::Modify);
        assert_eq!(doc.table, "Orders");
        assert_eq!(doc.source.sequence_number, "100");
        assert_eq!(
            doc.source.created(),
            Timestamp::from_unix_millis(1_764_210_700_000)
        );
        assert_eq!(doc.changes.as_ref().map(Vec::len), Some(1));
        assert!(doc.complete && doc.new_image.is_some() && doc.old_image.is_some());
    }

    /// An error document reads back with the raw record's table, keys and sequence number.
    #[test]
    fn an_error_document_reads_back_with_its_raw_record() {
        let raw = MODIFY.replace(r#""eventName":"MODIFY""#, r#""eventName":"UPSERT""#);
        let Rendered::Unreadable { json, .. } = render_record(&raw, &RenderOptions::default())
        else {
            panic!("the record is unreadable");
        };
        let Stored::Unreadable(doc) = Stored::from_slice(&json).unwrap() else {
            panic!("an error document");
        };
        assert_eq!(doc.event_id.as_deref(), Some("e1"));
        assert_eq!(doc.raw_table(), Some("Orders"));
        assert_eq!(doc.raw_sequence_number(), Some("100"));
        assert_eq!(doc.raw_keys().map(|k| k.len()), Some(1));
    }

    /// Bytes that are not JSON, JSON without the schema mark, and a marked document with a
    /// mistyped member are told apart.
    #[test]
    fn what_is_not_a_document_says_why() {
        assert!(matches!(
            Stored::from_slice(b"{"),
            Err(StoredError::NotJson(_))
        ));
        assert!(matches!(
            Stored::from_slice(br#"{"a":1}"#),
            Err(StoredError::NotMarked)
        ));
        let bad = br#"{"schema":"ddb-audit/1","event_id":"e","event_name":"UPSERT"}"#;
        assert!(matches!(
            Stored::from_slice(bad),
            Err(StoredError::Malformed(_))
        ));
    }
}
