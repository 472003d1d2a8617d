//! Rendering one stream record as its audit document (the contract: audit-document.md).
//!
//! Documents are written straight from the borrowed record, field by field in the contract's
//! order, attribute names in byte order: the same record always gives the same bytes.
//! This module performs no IO.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::value::RawValue;

use crate::SCHEMA_ID;
use crate::diff::Change;
use crate::record::{StreamRecord, UserIdentity};
use crate::value::Item;

/// How documents are rendered.
#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    /// Keep `old_image` / `new_image` in the document.
    pub include_images: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            include_images: true,
        }
    }
}

/// One record, rendered.
#[derive(Debug)]
pub enum Rendered<'a> {
    /// A readable record and its document.
    Document {
        record: StreamRecord<'a>,
        /// The document, compact JSON, no trailing newline.
        json: Vec<u8>,
        /// Number of entries in `changes` (0 when incomplete).
        changes: usize,
    },
    /// A record that could not be read, and its error document.
    Unreadable {
        /// `eventID`, when the record has a readable one.
        event_id: Option<String>,
        /// `dynamodb.SequenceNumber`, when the record has a readable one.
        sequence_number: Option<String>,
        /// The error message (also in the document).
        error: String,
        /// The error document, compact JSON, no trailing newline.
        json: Vec<u8>,
    },
}

impl Rendered<'_> {
    /// The rendered document.
    pub fn json(&self) -> &[u8] {
        match self {
            Self::Document { json, .. } | Self::Unreadable { json, .. } => json,
        }
    }
}

/// Renders one record of a batch. Never fails: an unreadable record gives an error document
/// that carries the record verbatim, so nothing is lost.
pub fn render_record<'a>(raw: &'a RawValue, options: &RenderOptions) -> Rendered<'a> {
    match StreamRecord::parse(raw) {
        Ok(record) => {
            let (json, count) = render_document(&record, raw.get().len(), options);
            Rendered::Document {
                record,
                json,
                changes: count,
            }
        }
        Err(err) => {
            let (event_id, sequence_number) = identifiers(raw);
            let mut json = Vec::with_capacity(raw.get().len() + 256);
            let view = UnreadableView {
                event_id: event_id.as_deref(),
                message: &err.message,
                raw: raw.get(),
            };
            serde_json::to_writer(&mut json, &view).expect("documents serialize into memory");
            Rendered::Unreadable {
                event_id,
                sequence_number,
                error: err.message,
                json,
            }
        }
    }
}

/// The document's bytes and its number of changes.
fn render_document(
    record: &StreamRecord<'_>,
    size_hint: usize,
    options: &RenderOptions,
) -> (Vec<u8>, usize) {
    // Documents hold the images and the diff, so about twice the record.
    let mut json = Vec::with_capacity(size_hint * 2 + 512);
    let empty = Item::default();
    let changes = record.changes(&empty);
    let count = changes.as_ref().map_or(0, Vec::len);
    let view = DocumentView {
        record,
        changes: changes.as_deref(),
        options,
    };
    serde_json::to_writer(&mut json, &view).expect("documents serialize into memory");
    (json, count)
}

struct DocumentView<'r, 'a> {
    record: &'r StreamRecord<'a>,
    changes: Option<&'r [Change<'r>]>,
    options: &'r RenderOptions,
}

impl Serialize for DocumentView<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = self.record;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("schema", SCHEMA_ID)?;
        map.serialize_entry("event_id", &r.event_id)?;
        map.serialize_entry("event_name", r.event_name.as_str())?;
        map.serialize_entry("table", &r.table)?;
        map.serialize_entry("source", &SourceView(r))?;
        map.serialize_entry("key", &r.keys)?;
        map.serialize_entry("user_identity", &r.user_identity.as_ref().map(IdentityView))?;
        map.serialize_entry("ttl_expiry", &r.is_ttl_expiry())?;
        map.serialize_entry("complete", &self.changes.is_some())?;
        map.serialize_entry("changes", &self.changes)?;
        if self.options.include_images {
            map.serialize_entry("old_image", &r.old_image)?;
            map.serialize_entry("new_image", &r.new_image)?;
        }
        map.end()
    }
}

struct SourceView<'r, 'a>(&'r StreamRecord<'a>);

impl Serialize for SourceView<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut map = serializer.serialize_map(Some(8))?;
        map.serialize_entry("stream_arn", &r.stream_arn)?;
        map.serialize_entry("region", &r.region)?;
        map.serialize_entry("account", &r.account)?;
        map.serialize_entry("sequence_number", &r.sequence_number)?;
        map.serialize_entry(
            "approximate_creation_time",
            &r.approximate_creation_time.map(|t| t.to_rfc3339()),
        )?;
        map.serialize_entry("size_bytes", &r.size_bytes)?;
        map.serialize_entry("stream_view_type", &r.stream_view_type)?;
        map.serialize_entry("event_version", &r.event_version)?;
        map.end()
    }
}

struct IdentityView<'r, 'a>(&'r UserIdentity<'a>);

impl Serialize for IdentityView<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("principalId", &self.0.principal_id)?;
        map.serialize_entry("type", &self.0.kind)?;
        map.end()
    }
}

struct UnreadableView<'r> {
    event_id: Option<&'r str>,
    message: &'r str,
    raw: &'r str,
}

impl Serialize for UnreadableView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Message<'m>(&'m str);
        impl Serialize for Message<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("message", self.0)?;
                map.end()
            }
        }
        let raw = compact_json(self.raw);
        let raw: &RawValue = serde_json::from_str(&raw).map_err(serde::ser::Error::custom)?;
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("schema", SCHEMA_ID)?;
        map.serialize_entry("event_id", &self.event_id)?;
        map.serialize_entry("error", &Message(self.message))?;
        map.serialize_entry("raw", raw)?;
        map.end()
    }
}

/// `eventID` and `dynamodb.SequenceNumber` of a record that could not be read, where they are
/// strings. The failure path can afford a tree.
fn identifiers(raw: &RawValue) -> (Option<String>, Option<String>) {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(raw.get()) else {
        return (None, None);
    };
    let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_owned);
    (
        text(value.get("eventID")),
        text(value.get("dynamodb").and_then(|d| d.get("SequenceNumber"))),
    )
}

/// Valid JSON text without its insignificant whitespace: byte for byte what was received,
/// numbers and escapes untouched, but on one line so a JSON Lines file stays one per line.
pub fn compact_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\n' | '\r' | '\t') {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str =
        "arn:aws:dynamodb:ap-northeast-1:123456789012:table/Orders/stream/2026-11-01T00:00:00.000";

    fn render(json: &str, include_images: bool) -> serde_json::Value {
        let raw = RawValue::from_string(json.to_owned()).unwrap();
        let rendered = render_record(&raw, &RenderOptions { include_images });
        serde_json::from_slice(rendered.json()).unwrap()
    }

    fn record(event_name: &str, dynamodb: &str) -> String {
        format!(
            r#"{{"eventID":"7de3","eventName":"{event_name}","eventVersion":"1.1","awsRegion":"ap-northeast-1","eventSourceARN":"{ARN}","dynamodb":{dynamodb}}}"#
        )
    }

    // A MODIFY renders every field of the contract, in the contract's order.
    #[test]
    fn modify_renders_every_field_in_order() {
        let raw = RawValue::from_string(record(
            "MODIFY",
            r#"{"ApproximateCreationDateTime":1764210700.25,"Keys":{"pk":{"S":"o#1"}},"OldImage":{"pk":{"S":"o#1"},"s":{"S":"A"}},"NewImage":{"pk":{"S":"o#1"},"s":{"S":"B"}},"SequenceNumber":"0001","SizeBytes":40,"StreamViewType":"NEW_AND_OLD_IMAGES"}"#,
        ))
        .unwrap();
        let rendered = render_record(&raw, &RenderOptions::default());
        assert_eq!(
            std::str::from_utf8(rendered.json()).unwrap(),
            concat!(
                r#"{"schema":"ddb-audit/1","event_id":"7de3","event_name":"MODIFY","table":"Orders","#,
                r#""source":{"stream_arn":"arn:aws:dynamodb:ap-northeast-1:123456789012:table/Orders/stream/2026-11-01T00:00:00.000","#,
                r#""region":"ap-northeast-1","account":"123456789012","sequence_number":"0001","#,
                r#""approximate_creation_time":"2025-11-27T02:31:40.250Z","size_bytes":40,"#,
                r#""stream_view_type":"NEW_AND_OLD_IMAGES","event_version":"1.1"},"#,
                r#""key":{"pk":{"S":"o#1"}},"user_identity":null,"ttl_expiry":false,"complete":true,"#,
                r#""changes":[{"op":"replace","path":"/s","old":{"S":"A"},"new":{"S":"B"}}],"#,
                r#""old_image":{"pk":{"S":"o#1"},"s":{"S":"A"}},"new_image":{"pk":{"S":"o#1"},"s":{"S":"B"}}}"#
            )
        );
        assert!(matches!(rendered, Rendered::Document { changes: 1, .. }));
    }

    // Rule 5: an INSERT is one add per attribute, a REMOVE one remove per attribute.
    #[test]
    fn insert_adds_and_remove_removes_every_attribute() {
        let insert = render(
            &record(
                "INSERT",
                r#"{"Keys":{"pk":{"S":"a"}},"NewImage":{"pk":{"S":"a"},"x":{"N":"1"}},"SequenceNumber":"1"}"#,
            ),
            true,
        );
        let ops: Vec<&str> = insert["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["op"].as_str().unwrap())
            .collect();
        assert_eq!(ops, ["add", "add"]);
        assert!(insert["old_image"].is_null());
        let remove = render(
            &record(
                "REMOVE",
                r#"{"Keys":{"pk":{"S":"a"}},"OldImage":{"pk":{"S":"a"},"x":{"N":"1"}},"SequenceNumber":"2"}"#,
            ),
            true,
        );
        assert_eq!(remove["changes"].as_array().unwrap().len(), 2);
        assert!(
            remove["changes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["op"] == "remove")
        );
        assert!(remove["new_image"].is_null());
        assert!(remove["source"]["approximate_creation_time"].is_null());
    }

    // KEYS_ONLY records are incomplete: no diff, images null.
    #[test]
    fn keys_only_is_incomplete() {
        let doc = render(
            &record(
                "MODIFY",
                r#"{"Keys":{"pk":{"S":"a"}},"SequenceNumber":"1","StreamViewType":"KEYS_ONLY"}"#,
            ),
            true,
        );
        assert_eq!(doc["complete"], false);
        assert!(doc["changes"].is_null());
        assert!(doc["old_image"].is_null() && doc["new_image"].is_null());
    }

    // With images turned off, the image fields are omitted altogether, not null.
    #[test]
    fn images_can_be_left_out() {
        let doc = render(
            &record(
                "INSERT",
                r#"{"Keys":{"pk":{"S":"a"}},"NewImage":{"pk":{"S":"a"}},"SequenceNumber":"1"}"#,
            ),
            false,
        );
        assert!(doc.get("old_image").is_none() && doc.get("new_image").is_none());
        assert_eq!(doc["changes"].as_array().unwrap().len(), 1);
    }

    // A TTL deletion is flagged and keeps its identity.
    #[test]
    fn ttl_expiry_is_flagged() {
        let json = record("REMOVE", r#"{"Keys":{"pk":{"S":"a"}},"OldImage":{"pk":{"S":"a"}},"SequenceNumber":"1"}"#)
            .replace("\"dynamodb\":", r#""userIdentity":{"type":"Service","principalId":"dynamodb.amazonaws.com"},"dynamodb":"#);
        let doc = render(&json, true);
        assert_eq!(doc["ttl_expiry"], true);
        assert_eq!(doc["user_identity"]["type"], "Service");
    }

    // An unreadable record keeps its id, the reason, and the record verbatim on one line.
    #[test]
    fn unreadable_record_keeps_the_record_verbatim() {
        let json = "{\n  \"eventID\": \"bad1\",\n  \"eventName\": \"MODIFY\",\n  \"dynamodb\": {\"SequenceNumber\": \"9\", \"NewImage\": {\"qty\": {\"X\": \"1.000000000000000000001\"}}, \"Keys\": {}}\n}";
        let raw = RawValue::from_string(json.to_owned()).unwrap();
        let rendered = render_record(&raw, &RenderOptions::default());
        let Rendered::Unreadable {
            event_id,
            sequence_number,
            json: doc,
            error,
        } = rendered
        else {
            panic!("expected an unreadable record");
        };
        assert_eq!(
            (event_id.as_deref(), sequence_number.as_deref()),
            (Some("bad1"), Some("9"))
        );
        assert_eq!(error, "dynamodb.NewImage.qty: unknown attribute type \"X\"");
        let text = String::from_utf8(doc).unwrap();
        assert!(!text.contains('\n'));
        assert!(text.contains(r#""raw":{"eventID":"bad1","eventName":"MODIFY","dynamodb":{"SequenceNumber":"9","NewImage":{"qty":{"X":"1.000000000000000000001"}},"Keys":{}}}"#), "{text}");
        assert!(
            text.starts_with(r#"{"schema":"ddb-audit/1","event_id":"bad1","error":{"message":"#)
        );
    }

    // A record that is not even an object still becomes a document with a null id.
    #[test]
    fn non_object_record_gets_null_id() {
        let raw = RawValue::from_string("42".into()).unwrap();
        let text = String::from_utf8(
            render_record(&raw, &RenderOptions::default())
                .json()
                .to_vec(),
        )
        .unwrap();
        assert!(
            text.starts_with(r#"{"schema":"ddb-audit/1","event_id":null,"error":"#),
            "{text}"
        );
        assert!(text.ends_with(r#""raw":42}"#));
    }

    // Compaction leaves strings, escapes and numbers exactly as they were.
    #[test]
    fn compaction_only_drops_whitespace_outside_strings() {
        assert_eq!(
            compact_json("{ \"a b\" : [ 1.50 , \"x\\\" y\" ] }"),
            "{\"a b\":[1.50,\"x\\\" y\"]}"
        );
    }
}
