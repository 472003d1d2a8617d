//! Rendering one stream record as its audit document (the contract: audit-document.md).
//!
//! Documents are written straight from the borrowed record, field by field in the contract's
//! order, attribute names in byte order: the same record always gives the same bytes.
//! This module performs no IO.

use std::borrow::Cow;
use std::sync::Arc;

mod stored;
pub use stored::{
    ChangeDocument, ErrorDocument, ErrorMessage, Redaction, Source, Stored, StoredError,
};

use crate::SCHEMA_ID;
use crate::diff::Change;
use crate::json::JsonWriter;
use crate::reader::Reader;
use crate::record::{RecordError, StreamRecord};
use crate::redaction::{self, Redactor};
use crate::value::Item;

/// The contract as a JSON Schema (draft 2020-12), embedded so that every check runs against
/// the schema the code was built with.
pub const SCHEMA: &str = include_str!("../../schema/audit-document.schema.json");

/// How documents are rendered.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Keep `old_image` / `new_image` in the document.
    pub include_images: bool,
    /// The deployment's redaction, when it withholds attributes.
    pub redaction: Option<Arc<Redactor>>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            include_images: true,
            redaction: None,
        }
    }
}

/// One record, rendered.
// Nearly every record is a `Document`; boxing it to shrink the rare `Unreadable` would cost an
// allocation per record on the hot path.
#[allow(clippy::large_enum_variant)]
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

/// Renders one record of a batch (its JSON text, as [`crate::parse_event`] returns it).
/// Never fails: an unreadable record gives an error document that carries the record
/// verbatim, so nothing is lost.
pub fn render_record<'a>(raw: &'a str, options: &RenderOptions) -> Rendered<'a> {
    render_parsed(raw, StreamRecord::parse(raw), options)
}

/// Renders a record already read from `raw`.
pub(crate) fn render_parsed<'a>(
    raw: &'a str,
    parsed: Result<StreamRecord<'a>, RecordError>,
    options: &RenderOptions,
) -> Rendered<'a> {
    let redacted = parsed.and_then(|record| match &options.redaction {
        Some(redactor) => redact_record(&record, redactor),
        None => Ok(record),
    });
    match redacted {
        Ok(record) => {
            // Documents hold the images and the diff: about twice the record.
            let mut json = Vec::with_capacity(raw.len() * 2 + 512);
            let changes = write_redacted(&mut json, &record, raw, options);
            Rendered::Document {
                record,
                json,
                changes,
            }
        }
        Err(err) => {
            let (event_id, sequence_number) = identifiers(raw);
            let mut json = Vec::with_capacity(raw.len() + 256);
            write_unreadable(&mut json, event_id.as_deref(), &err.message, raw, options);
            Rendered::Unreadable {
                event_id,
                sequence_number,
                error: err.message,
                json,
            }
        }
    }
}

/// Appends the document of `record`, read from `raw`, to `out`; returns its number of
/// changes. Under redaction, a record that cannot be redacted is the error.
pub(crate) fn write_record(
    out: &mut Vec<u8>,
    record: &StreamRecord<'_>,
    raw: &str,
    options: &RenderOptions,
) -> Result<usize, RecordError> {
    match &options.redaction {
        Some(redactor) => {
            let record = redact_record(record, redactor)?;
            Ok(write_redacted(out, &record, raw, options))
        }
        None => Ok(write_redacted(out, record, raw, options)),
    }
}

/// A copy of `record` with its key and images redacted: the diff of the redacted images is
/// the contract's diff under redaction, since tokens are equal exactly when the values they
/// stand for are (rule 1), and a token is compared whole, so the diff stops there.
pub fn redact_record<'a>(
    record: &StreamRecord<'a>,
    redactor: &Redactor,
) -> Result<StreamRecord<'a>, RecordError> {
    let redact = |item: &Item<'a>| {
        redactor.redact_item(item).map_err(|e| RecordError {
            message: e.to_string(),
        })
    };
    let image = |image: &Option<Item<'a>>| image.as_ref().map(redact).transpose();
    Ok(StreamRecord {
        keys: redact(&record.keys)?,
        old_image: image(&record.old_image)?,
        new_image: image(&record.new_image)?,
        ..record.clone()
    })
}

/// Appends the document of `record` (already redacted where the options redact).
fn write_redacted(
    out: &mut Vec<u8>,
    record: &StreamRecord<'_>,
    raw: &str,
    options: &RenderOptions,
) -> usize {
    let empty = Item::default();
    let changes = record.changes(&empty);
    write_document(
        &mut JsonWriter::new(out, raw),
        record,
        changes.as_deref(),
        options,
    );
    changes.map_or(0, |c| c.len())
}

/// Appends the error document of the unreadable record `raw` to `out`.
pub(crate) fn write_error(
    out: &mut Vec<u8>,
    raw: &str,
    error: &RecordError,
    options: &RenderOptions,
) {
    let (event_id, _) = identifiers(raw);
    write_unreadable(out, event_id.as_deref(), &error.message, raw, options);
}

/// Writes the document, fields in the contract's order (see [`crate::json`] for why by hand).
fn write_document(
    w: &mut JsonWriter<'_, '_>,
    r: &StreamRecord<'_>,
    changes: Option<&[Change<'_>]>,
    options: &RenderOptions,
) {
    w.raw(b"{");
    w.key("schema", true);
    w.str(SCHEMA_ID);
    w.key("event_id", false);
    w.str(&r.event_id);
    w.key("event_name", false);
    w.str(r.event_name.as_str());
    w.key("table", false);
    w.str(&r.table);

    w.key("source", false);
    w.raw(b"{");
    w.key("stream_arn", true);
    w.str(&r.stream_arn);
    w.key("region", false);
    w.str(&r.region);
    w.key("account", false);
    w.str(&r.account);
    w.key("sequence_number", false);
    w.str(&r.sequence_number);
    w.key("approximate_creation_time", false);
    let time = r.approximate_creation_time.map(|t| t.to_rfc3339());
    w.opt_str(time.as_deref());
    w.key("size_bytes", false);
    match r.size_bytes {
        Some(n) => w.raw(n.to_string().as_bytes()),
        None => w.raw(b"null"),
    }
    w.key("stream_view_type", false);
    w.opt_str(r.stream_view_type.as_deref());
    w.key("event_version", false);
    w.opt_str(r.event_version.as_deref());
    w.raw(b"}");

    w.key("key", false);
    w.item(&r.keys);
    w.key("user_identity", false);
    match &r.user_identity {
        // Verbatim, keys in byte order at every level, like every map the project writes.
        Some(identity) => w.members(identity.members()),
        None => w.raw(b"null"),
    }
    w.key("ttl_expiry", false);
    w.raw(if r.is_ttl_expiry() { b"true" } else { b"false" });
    w.key("complete", false);
    w.raw(if changes.is_some() { b"true" } else { b"false" });
    w.key("changes", false);
    match changes {
        Some(changes) => {
            w.raw(b"[");
            for (i, change) in changes.iter().enumerate() {
                if i > 0 {
                    w.raw(b",");
                }
                w.change(change);
            }
            w.raw(b"]");
        }
        None => w.raw(b"null"),
    }
    if options.include_images {
        for (name, image) in [("old_image", &r.old_image), ("new_image", &r.new_image)] {
            w.key(name, false);
            match image {
                Some(item) => w.item(item),
                None => w.raw(b"null"),
            }
        }
    }
    write_redaction(w, options);
    w.raw(b"}");
}

/// The `redaction` member, in a redacting deployment's every document.
fn write_redaction(w: &mut JsonWriter<'_, '_>, options: &RenderOptions) {
    let Some(redactor) = &options.redaction else {
        return;
    };
    w.key("redaction", false);
    w.raw(b"{");
    w.key("algorithm", true);
    w.str(redaction::ALGORITHM);
    w.key("key_id", false);
    w.str(redactor.key_id());
    w.key("paths", false);
    w.raw(b"[");
    for (i, pattern) in redactor.patterns().iter().enumerate() {
        if i > 0 {
            w.raw(b",");
        }
        w.str(pattern.as_str());
    }
    w.raw(b"]}");
}

/// The error document: `{"schema", "event_id", "error": {"message"}, "raw"}`; under
/// redaction the record cannot be redacted path by path, so `raw_hmac` stands for it.
fn write_unreadable(
    out: &mut Vec<u8>,
    event_id: Option<&str>,
    message: &str,
    raw: &str,
    options: &RenderOptions,
) {
    let mut w = JsonWriter::new(out, "");
    w.raw(b"{");
    w.key("schema", true);
    w.str(SCHEMA_ID);
    w.key("event_id", false);
    w.opt_str(event_id);
    w.key("error", false);
    w.raw(b"{");
    w.key("message", true);
    w.str(message);
    w.raw(b"}");
    if let Some(redactor) = &options.redaction {
        w.key("raw_hmac", false);
        w.str(&redactor.mac_text(raw.as_bytes()));
        write_redaction(&mut w, options);
        w.raw(b"}");
        return;
    }
    w.key("raw", false);
    if strict_json(raw) {
        w.raw(compact_json(raw).as_bytes());
    } else {
        // Legal JSON that strict readers refuse (a number beyond a double's range, a lone
        // surrogate escape; the fuzzer found both) would make the whole line unreadable, and
        // text that is not JSON at all only reaches here from a caller of render_record. Either
        // way the record's exact text is kept, as a string.
        w.str(raw);
    }
    w.raw(b"}");
}

/// Whether strict JSON readers (serde_json, whose rules most languages' parsers share) read
/// `text` back. Only unreadable records pay for this tree.
fn strict_json(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text).is_ok()
}

/// `eventID` and `dynamodb.SequenceNumber` of a record that could not be read, where they can
/// be read as strings.
fn identifiers(raw: &str) -> (Option<String>, Option<String>) {
    let (mut event_id, mut sequence_number) = (None, None);
    let mut r = Reader::new(raw);
    // Best effort: whatever was found before a failure is kept.
    let _ = r.object("a record", |r, key| match key.as_ref() {
        "eventID" => {
            event_id = r.string().ok().map(Cow::into_owned);
            Ok(())
        }
        "dynamodb" => r.object("an object", |r, key| {
            if key == "SequenceNumber" {
                sequence_number = r.string().ok().map(Cow::into_owned);
                Ok(())
            } else {
                r.skip_value()
            }
        }),
        _ => r.skip_value(),
    });
    (event_id, sequence_number)
}

/// Valid JSON text without its insignificant whitespace: byte for byte what was received,
/// numbers and escapes untouched, but on one line so a JSON Lines file stays one per line
/// (U+0085, U+2028 and U+2029 in strings are written as their `\u` escapes, the same JSON).
pub fn compact_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            match c {
                '\u{85}' => out.push_str("\\u0085"),
                '\u{2028}' => out.push_str("\\u2028"),
                '\u{2029}' => out.push_str("\\u2029"),
                _ => out.push(c),
            }
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
        let raw = json.to_owned();
        let options = RenderOptions {
            include_images,
            ..RenderOptions::default()
        };
        let rendered = render_record(&raw, &options);
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
        let raw = record(
            "MODIFY",
            r#"{"ApproximateCreationDateTime":1764210700.25,"Keys":{"pk":{"S":"o#1"}},"OldImage":{"pk":{"S":"o#1"},"s":{"S":"A"}},"NewImage":{"pk":{"S":"o#1"},"s":{"S":"B"}},"SequenceNumber":"0001","SizeBytes":40,"StreamViewType":"NEW_AND_OLD_IMAGES"}"#,
        );
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

    // user_identity is the record's object verbatim, every member kept, keys sorted at every
    // level (only type and principalId used to be kept).
    #[test]
    fn user_identity_is_rendered_verbatim_with_sorted_keys() {
        let json = record("MODIFY", r#"{"Keys":{"pk":{"S":"a"}},"SequenceNumber":"1"}"#).replace(
            "\"dynamodb\":",
            r#""userIdentity":{"Type":"Service","PrincipalId":"x","z":[{"b":1,"a":-2.50e1}],"e":{}},"dynamodb":"#,
        );
        let raw = json.to_owned();
        let rendered = render_record(&raw, &RenderOptions::default());
        let text = std::str::from_utf8(rendered.json()).unwrap();
        assert!(
            text.contains(r#""user_identity":{"PrincipalId":"x","Type":"Service","e":{},"z":[{"a":-2.50e1,"b":1}]},"ttl_expiry":false"#),
            "{text}"
        );
    }

    // An unreadable record keeps its id, the reason, and the record verbatim on one line.
    #[test]
    fn unreadable_record_keeps_the_record_verbatim() {
        let json = "{\n  \"eventID\": \"bad1\",\n  \"eventName\": \"MODIFY\",\n  \"dynamodb\": {\"SequenceNumber\": \"9\", \"NewImage\": {\"qty\": {\"X\": \"1.000000000000000000001\"}}, \"Keys\": {}}\n}";
        let raw = json.to_owned();
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
        let raw = "42".to_owned();
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
        assert_eq!(
            compact_json("[\"a\u{2028}\u{2029}\u{85}\"]"),
            "[\"a\\u2028\\u2029\\u0085\"]"
        );
    }
}
