//! `ddb-audit verify`: is every object under the prefix what the function wrote?
//!
//! For each object: its content parses as audit documents valid against the contract's
//! JSON Schema (batch objects: gzip JSON Lines); its SHA-256 equals the checksum S3 stored
//! at write time (computed here, not trusted from the SDK); its key is the key the function
//! gives that content (recomputed with [`crate::key`]); Object Lock retention is set; and
//! the bucket's versions show it was neither overwritten nor deleted. The checks of one
//! object are pure ([`check_object`]); [`run`] fetches and reports.

use std::io::Read as _;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::auditor::report::Report;
use crate::auditor::trail::{KeyHistory, group_versions};
use crate::concurrent;
use crate::document::{ChangeDocument, ErrorDocument, SCHEMA, Stored};
use crate::key;
use crate::record::{EventName, StreamRecord};
use crate::recovery::range::{GAPS_FOLDER, Range, gap_key};
use crate::store::bucket::{Bucket, BucketError, Fetched, Retention};

/// Said of an object whose content gives no key to compare with.
const NO_KEY: &str = "(no key can be computed from its content)";

/// What is wrong with one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    Overwritten {
        versions: usize,
    },
    Deleted,
    NoStoredChecksum,
    ChecksumMismatch {
        stored: String,
        computed: String,
    },
    NotDecodable {
        reason: String,
    },
    SchemaInvalid {
        line: usize,
        reason: String,
    },
    WrongKey {
        expected: String,
    },
    /// A batch object's metadata disagrees with its content.
    WrongMetadata {
        name: String,
        stored: Option<String>,
        expected: Option<String>,
    },
    NoRetention,
    /// A redacting document holds values in clear at its own redacted paths.
    InClear {
        line: usize,
        places: Vec<String>,
    },
    Unreadable {
        message: String,
    },
    /// A gap record of `ddb-audit recover`: records the stream no longer held.
    KnownGap {
        summary: String,
    },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Overwritten { versions } => {
                write!(
                    f,
                    "overwritten: {versions} versions (the function writes each object once)"
                )
            }
            Finding::Deleted => write!(f, "deleted: the latest version is a delete marker"),
            Finding::NoStoredChecksum => write!(f, "S3 stored no SHA-256 checksum for it"),
            Finding::ChecksumMismatch { stored, computed } => {
                write!(
                    f,
                    "content SHA-256 {computed} differs from the stored checksum {stored}"
                )
            }
            Finding::NotDecodable { reason } => write!(f, "cannot be decoded: {reason}"),
            Finding::SchemaInvalid { line, reason } => {
                write!(f, "document {line} violates the schema: {reason}")
            }
            Finding::WrongKey { expected } => write!(f, "its content belongs at {expected}"),
            Finding::NoRetention => write!(f, "no Object Lock retention"),
            Finding::InClear { line, places } => write!(
                f,
                "document {line} holds values in clear at its redacted paths: {}",
                places.join(", ")
            ),
            Finding::WrongMetadata {
                name,
                stored,
                expected,
            } => write!(
                f,
                "metadata {name} is {} but its content says {}",
                stored.as_deref().unwrap_or("missing"),
                expected.as_deref().unwrap_or("nothing")
            ),
            Finding::Unreadable { message } => {
                write!(
                    f,
                    "holds an error document (a stream record the function could not read): {message}"
                )
            }
            Finding::KnownGap { summary } => {
                write!(f, "known gap (recorded by ddb-audit recover): {summary}")
            }
        }
    }
}

impl Finding {
    /// Unreadable records are kept on purpose, and known gaps are recorded on purpose;
    /// they are reported, but are not tampering.
    pub fn is_problem(&self) -> bool {
        !matches!(self, Finding::Unreadable { .. } | Finding::KnownGap { .. })
    }
}

/// The schema, compiled once: one validator per document kind, for precise messages
/// (the schema's top-level `oneOf` would only say "matches neither").
#[derive(Debug)]
pub struct Validators {
    document: jsonschema::Validator,
    unreadable: jsonschema::Validator,
    gap: jsonschema::Validator,
}

impl Validators {
    pub fn new() -> Self {
        let schema: Value = serde_json::from_str(SCHEMA).expect("embedded schema is JSON");
        let only = |def: &str| {
            let mut s = schema.clone();
            let map = s.as_object_mut().expect("schema is an object");
            map.remove("oneOf");
            map.insert("$ref".into(), Value::String(format!("#/$defs/{def}")));
            jsonschema::validator_for(&s).expect("embedded schema compiles")
        };
        let gap: Value = serde_json::from_str(include_str!("../../schema/gap.schema.json"))
            .expect("embedded gap schema is JSON");
        Self {
            document: only("document"),
            unreadable: only("unreadable"),
            gap: jsonschema::validator_for(&gap).expect("embedded gap schema compiles"),
        }
    }

    /// The first violation, as `at /path: message`, or None when valid.
    pub fn check(&self, doc: &Value) -> Option<String> {
        let validator = if doc.get("error").is_some() {
            &self.unreadable
        } else {
            &self.document
        };
        validator.iter_errors(doc).next().map(|e| {
            let path = e.instance_path.to_string();
            if path.is_empty() {
                e.to_string()
            } else {
                format!("at {path}: {e}")
            }
        })
    }
}

impl Default for Validators {
    fn default() -> Self {
        Self::new()
    }
}

/// The base64 SHA-256 of `bytes`, as S3 stores it.
pub fn sha256_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

/// Why an object's content cannot be split into documents.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("not gzip UTF-8 text: {0}")]
    Gzip(#[source] std::io::Error),
    #[error("not UTF-8: {0}")]
    Utf8(#[source] std::str::Utf8Error),
}

/// Splits an object's content into its documents: one JSON document, or gzip JSON Lines.
pub fn documents(key: &str, fetched: &Fetched) -> Result<Vec<String>, DecodeError> {
    let gzip = key.ends_with(".gz") || fetched.content_encoding.as_deref() == Some("gzip");
    if gzip {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&fetched.body[..])
            .read_to_string(&mut text)
            .map_err(DecodeError::Gzip)?;
        Ok(text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect())
    } else {
        let text = std::str::from_utf8(&fetched.body).map_err(DecodeError::Utf8)?;
        Ok(vec![text.to_owned()])
    }
}

/// The key the function gives one readable document in record mode.
fn record_key_of(prefix: &str, doc: &ChangeDocument) -> String {
    let record = StreamRecord {
        event_id: doc.event_id.as_str().into(),
        event_name: EventName::Insert,
        event_version: None,
        region: "".into(),
        stream_arn: "".into(),
        table: doc.table.clone(),
        account: String::new(),
        sequence_number: doc.source.sequence_number.as_str().into(),
        approximate_creation_time: None,
        size_bytes: None,
        stream_view_type: None,
        keys: doc.key.clone(),
        old_image: None,
        new_image: None,
        user_identity: None,
    };
    key::record_key(prefix, &record)
}

/// Whether `key` is the key the function gives this error document (`text`, the whole
/// object). A missing eventID is stood in for by the hash of the document itself.
fn unreadable_key_matches(prefix: &str, key: &str, text: &str, doc: &ErrorDocument) -> bool {
    let event_id = doc.event_id.as_deref();
    let sequence = match &doc.raw {
        Some(Value::Object(_)) => Some(doc.raw_sequence_number()),
        // A record kept as a string is not strict JSON: the function read its sequence
        // number leniently, which is not repeated here; only the rest of the key is checked.
        _ => None,
    };
    match sequence {
        Some(seq) => key == key::unreadable_key(prefix, event_id, seq, text.as_bytes()),
        None => {
            let any = key::unreadable_key(prefix, event_id, Some("0"), text.as_bytes());
            let (dir, leaf) = any.rsplit_once('/').unwrap_or_default();
            let suffix = leaf.split_once('-').map(|(_, id)| id).unwrap_or_default();
            key.strip_prefix(dir)
                .is_some_and(|rest| rest.starts_with('/') && rest.ends_with(&format!("-{suffix}")))
        }
    }
}

/// The key the function gives a batch object whose first document is `first`.
fn batch_key_of(prefix: &str, first: &ChangeDocument) -> String {
    let (dt, hour) = key::batch_partition(first.source.created());
    key::batch_key(
        prefix,
        &first.table,
        &dt,
        &hour,
        &first.source.sequence_number,
    )
}

/// The metadata the function stores on a batch object holding `docs`, as (name, value).
fn batch_metadata_of(docs: &[Stored]) -> Vec<(&'static str, Option<String>)> {
    let sequence = |d: Option<&Stored>| {
        d.and_then(Stored::change)
            .map(|d| key::metadata_value(&d.source.sequence_number))
    };
    vec![
        (key::RECORDS, Some(docs.len().to_string())),
        (key::LAST_SEQUENCE_NUMBER, sequence(docs.last())),
        (
            key::FIRST_EVENT_ID,
            docs.first()
                .and_then(Stored::event_id)
                .map(key::metadata_value),
        ),
    ]
}

/// Every check of one object, given its history, content and retention.
pub fn check_object(
    validators: &Validators,
    prefix: &str,
    history: &KeyHistory,
    fetched: &Fetched,
    retention: &Retention,
) -> (usize, Vec<Finding>) {
    let key = history.key.as_str();
    let mut findings = Vec::new();
    if history.versions > 1 {
        findings.push(Finding::Overwritten {
            versions: history.versions,
        });
    }
    let computed = sha256_base64(&fetched.body);
    match &fetched.checksum_sha256 {
        None => findings.push(Finding::NoStoredChecksum),
        Some(stored) if *stored != computed => findings.push(Finding::ChecksumMismatch {
            stored: stored.clone(),
            computed,
        }),
        Some(_) => {}
    }
    if retention.mode.is_none() || retention.retain_until.is_none() {
        findings.push(Finding::NoRetention);
    }
    let lines = match documents(key, fetched) {
        Ok(lines) => lines,
        Err(error) => {
            findings.push(Finding::NotDecodable {
                reason: error.to_string(),
            });
            return (0, findings);
        }
    };
    if let Some(rest) = key.strip_prefix(&format!("{prefix}{GAPS_FOLDER}")) {
        findings.push(check_gap(validators, prefix, rest, &lines));
        return (0, findings);
    }
    // Documents that parse as JSON, and those of them that are valid and read typed.
    let (mut parsed, mut docs) = (0, Vec::new());
    for (i, line) in lines.iter().enumerate() {
        let invalid = |reason| Finding::SchemaInvalid {
            line: i + 1,
            reason,
        };
        let value = match serde_json::from_str::<Value>(line) {
            Ok(value) => value,
            Err(error) => {
                findings.push(invalid(format!("not JSON: {error}")));
                continue;
            }
        };
        parsed += 1;
        if let Some(reason) = validators.check(&value) {
            findings.push(invalid(reason));
            continue;
        }
        // A schema-valid document always reads typed; were it not to, say why.
        match Stored::from_value(value) {
            Ok(doc) => docs.push(doc),
            Err(error) => findings.push(invalid(error.to_string())),
        }
    }
    if docs.len() != lines.len() {
        return (parsed, findings);
    }
    for (index, doc) in docs.iter().enumerate() {
        let places = doc
            .change()
            .map(ChangeDocument::clear_at_redacted_paths)
            .unwrap_or_default();
        if !places.is_empty() {
            findings.push(Finding::InClear {
                line: index + 1,
                places,
            });
        }
    }
    if key.ends_with(".jsonl.gz") {
        for (name, expected) in batch_metadata_of(&docs) {
            let stored = fetched.metadata.get(name).cloned();
            if stored != expected {
                findings.push(Finding::WrongMetadata {
                    name: name.to_owned(),
                    stored,
                    expected,
                });
            }
        }
        match docs
            .first()
            .and_then(Stored::change)
            .map(|first| batch_key_of(prefix, first))
        {
            Some(expected) if expected == key => {}
            Some(expected) => findings.push(Finding::WrongKey { expected }),
            None => findings.push(Finding::WrongKey {
                expected: NO_KEY.into(),
            }),
        }
        return (docs.len(), findings);
    }
    match docs.as_slice() {
        [Stored::Unreadable(doc)] => {
            findings.push(Finding::Unreadable {
                message: doc.error.message.clone(),
            });
            if !unreadable_key_matches(prefix, key, &lines[0], doc) {
                findings.push(Finding::WrongKey {
                    expected: format!(
                        "{prefix}unreadable/<its sequence number>-<its eventID>.json"
                    ),
                });
            }
        }
        [Stored::Change(doc)] => {
            let expected = record_key_of(prefix, doc);
            if expected != key {
                findings.push(Finding::WrongKey { expected });
            }
        }
        _ => findings.push(Finding::WrongKey {
            expected: NO_KEY.into(),
        }),
    }
    (docs.len(), findings)
}

/// A gap record under `<prefix>gaps/` (`rest` is its key past that): schema-valid, at the
/// key recover gives its range, and then a known gap, not a problem.
fn check_gap(validators: &Validators, prefix: &str, rest: &str, lines: &[String]) -> Finding {
    let invalid = |reason: String| Finding::SchemaInvalid { line: 1, reason };
    let [line] = lines else {
        return invalid("a gap record is one JSON document".to_owned());
    };
    let value: Value = match serde_json::from_str(line) {
        Ok(value) => value,
        Err(error) => return invalid(format!("not JSON: {error}")),
    };
    if let Some(error) = validators.gap.iter_errors(&value).next() {
        return invalid(format!("at {}: {error}", error.instance_path));
    }
    let text = |name: &str| value[name].as_str().unwrap_or_default().to_owned();
    let range = Range {
        stream_arn: text("stream_arn"),
        shard_id: text("shard_id"),
        start: text("start_sequence_number"),
        end: text("end_sequence_number"),
        batch_size: value["batch_size"].as_u64(),
    };
    let expected = gap_key(prefix, &range);
    if expected != format!("{prefix}{GAPS_FOLDER}{rest}") {
        return Finding::WrongKey { expected };
    }
    let reasons: Vec<&str> = value["missing"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["reason"].as_str())
        .collect();
    Finding::KnownGap {
        summary: format!(
            "table {} shard {} sequence numbers {}..{}: {} ({} records recovered)",
            text("table"),
            range.shard_id,
            range.start,
            range.end,
            reasons.join(", "),
            value["recovered_records"]
        ),
    }
}

/// Objects checked at once.
const IN_FLIGHT: usize = 16;

/// Checks one object: its history, then (unless deleted) its content and lock.
async fn check_one<B: Bucket>(
    bucket: B,
    validators: Arc<Validators>,
    prefix: String,
    history: KeyHistory,
) -> Result<(usize, Vec<Finding>), BucketError> {
    if history.deleted || history.versions == 0 {
        let mut findings = vec![Finding::Deleted];
        if history.versions > 1 {
            findings.push(Finding::Overwritten {
                versions: history.versions,
            });
        }
        return Ok((0, findings));
    }
    let fetched = bucket.get(&history.key).await?;
    // GET carries the lock headers; HEAD is asked only to confirm a missing lock.
    let retention = match fetched.retention.mode {
        Some(_) => fetched.retention.clone(),
        None => bucket.retention(&history.key).await?,
    };
    Ok(check_object(
        &validators,
        &prefix,
        &history,
        &fetched,
        &retention,
    ))
}

/// Checks every object under `prefix`; `progress` is called every `every` objects.
pub async fn run<B: Bucket>(
    bucket: &B,
    prefix: &str,
    every: usize,
    progress: impl Fn(usize, usize),
) -> Result<Report, BucketError> {
    let rows = bucket.list_versions(prefix).await?;
    let histories = group_versions(&rows);
    let total = histories.len();
    let validators = Arc::new(Validators::new());
    let keys: Vec<String> = histories.iter().map(|h| h.key.clone()).collect();
    let results = concurrent::bounded(
        histories,
        IN_FLIGHT,
        |history| {
            check_one(
                bucket.clone(),
                Arc::clone(&validators),
                prefix.to_owned(),
                history,
            )
        },
        |done| {
            if every > 0 && done.is_multiple_of(every) {
                progress(done, total);
            }
        },
    )
    .await;
    let mut report = Report::default();
    for (key, result) in keys.into_iter().zip(results) {
        let (docs, findings) = result.map_err(|source| BucketError::Interrupted {
            action: format!("checking {key}"),
            source,
        })??;
        report.objects += 1;
        report.documents += docs;
        report.unreadable += findings
            .iter()
            .filter(|f| matches!(f, Finding::Unreadable { .. }))
            .count();
        report
            .findings
            .extend(findings.into_iter().map(|f| (key.clone(), f)));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "schema": "ddb-audit/1", "event_id": "e1", "event_name": "INSERT", "table": "Orders",
            "source": {"stream_arn": "arn", "region": "r", "account": "1", "sequence_number": "42",
                       "approximate_creation_time": "2026-11-27T02:31:40.000Z", "size_bytes": 1,
                       "stream_view_type": "NEW_AND_OLD_IMAGES", "event_version": "1.1"},
            "key": {"pk": {"S": "ORDER#1"}}, "user_identity": null, "ttl_expiry": false, "complete": true,
            "changes": [{"op": "add", "path": "/pk", "new": {"S": "ORDER#1"}}],
            "old_image": null, "new_image": {"pk": {"S": "ORDER#1"}}
        })
    }

    fn stored(body: Vec<u8>) -> Fetched {
        Fetched {
            checksum_sha256: Some(sha256_base64(&body)),
            body,
            content_encoding: None,
            version_id: None,
            retention: locked(),
            metadata: Default::default(),
        }
    }

    fn locked() -> Retention {
        Retention {
            mode: Some("GOVERNANCE".into()),
            retain_until: Some("2036-01-01T00:00:00Z".into()),
        }
    }

    fn once(key: &str) -> KeyHistory {
        KeyHistory {
            key: key.into(),
            versions: 1,
            deleted: false,
        }
    }

    const KEY: &str =
        "audit/table=Orders/item=pk=ORDER%231/0000000000000000000000000000000000000042-e1.json";

    // A document as the function writes it passes every check.
    #[test]
    fn a_faithful_object_passes() {
        let v = Validators::new();
        let (docs, findings) = check_object(
            &v,
            "audit/",
            &once(KEY),
            &stored(doc().to_string().into_bytes()),
            &locked(),
        );
        assert_eq!((docs, findings), (1, vec![]));
    }

    // Content that changed after S3 stored its checksum is caught by recomputing it.
    #[test]
    fn checksum_mismatch_is_caught() {
        let v = Validators::new();
        let mut f = stored(doc().to_string().into_bytes());
        f.body.push(b' ');
        let (_, findings) = check_object(&v, "audit/", &once(KEY), &f, &locked());
        assert!(
            matches!(findings[..], [Finding::ChecksumMismatch { .. }]),
            "{findings:?}"
        );
    }

    // A document moved to another key (or another item's) is caught by recomputing its key.
    #[test]
    fn wrong_key_is_caught() {
        let v = Validators::new();
        let moved = KEY.replace("ORDER%231", "ORDER%232");
        let (_, findings) = check_object(
            &v,
            "audit/",
            &once(&moved),
            &stored(doc().to_string().into_bytes()),
            &locked(),
        );
        assert_eq!(
            findings,
            vec![Finding::WrongKey {
                expected: KEY.into()
            }]
        );
    }

    // Schema violations are reported with where they are.
    #[test]
    fn schema_violation_is_reported_with_its_path() {
        let v = Validators::new();
        let mut d = doc();
        d["event_name"] = json!("UPSERT");
        let (_, findings) = check_object(
            &v,
            "audit/",
            &once(KEY),
            &stored(d.to_string().into_bytes()),
            &locked(),
        );
        assert!(
            matches!(&findings[..], [Finding::SchemaInvalid { reason, .. }] if reason.contains("/event_name")),
            "{findings:?}"
        );
    }

    // Missing lock, a second version or a missing stored checksum are each problems.
    #[test]
    fn lock_versions_and_checksum_presence_are_checked() {
        let v = Validators::new();
        let mut f = stored(doc().to_string().into_bytes());
        f.checksum_sha256 = None;
        let history = KeyHistory {
            key: KEY.into(),
            versions: 2,
            deleted: false,
        };
        let none = Retention {
            mode: None,
            retain_until: None,
        };
        let (_, findings) = check_object(&v, "audit/", &history, &f, &none);
        assert_eq!(
            findings,
            vec![
                Finding::Overwritten { versions: 2 },
                Finding::NoStoredChecksum,
                Finding::NoRetention
            ]
        );
    }

    // Batch objects are gzip JSON Lines named after the partition and first record, with
    // metadata (records, last sequence number, first eventID) that must match the lines.
    #[test]
    fn batch_object_is_checked_line_by_line() {
        use std::io::Write as _;
        let mut second = doc();
        second["source"]["sequence_number"] = json!("43");
        second["event_id"] = json!("e2");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        writeln!(gz, "{}\n{}", doc(), second).unwrap();
        let mut object = stored(gz.finish().unwrap());
        object.metadata = [
            ("records", "2"),
            ("last-sequence-number", "43"),
            ("first-event-id", "e1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let key = format!(
            "audit/table=Orders/dt=2026-11-27/hour=02/{:0>40}.jsonl.gz",
            "42"
        );
        let v = Validators::new();
        let (docs, findings) = check_object(&v, "audit/", &once(&key), &object, &locked());
        assert_eq!((docs, findings), (2, vec![]));
        // A line removed behind the metadata's back shows.
        object.metadata.insert("records".into(), "3".into());
        let (_, findings) = check_object(&v, "audit/", &once(&key), &object, &locked());
        assert!(
            matches!(&findings[..], [Finding::WrongMetadata { name, .. }] if name == "records"),
            "{findings:?}"
        );
    }

    // Without an eventID the function names an error document after its own hash.
    #[test]
    fn error_document_without_event_id_is_keyed_by_its_hash() {
        let text = r#"{"schema":"ddb-audit/1","event_id":null,"error":{"message":"no eventID"},"raw":{"dynamodb":{"SequenceNumber":"8"}}}"#;
        let key = key::unreadable_key("audit/", None, Some("8"), text.as_bytes());
        let v = Validators::new();
        let (_, findings) = check_object(
            &v,
            "audit/",
            &once(&key),
            &stored(text.as_bytes().to_vec()),
            &locked(),
        );
        assert_eq!(
            findings,
            vec![Finding::Unreadable {
                message: "no eventID".into()
            }]
        );
        let elsewhere = key::unreadable_key("audit/", None, Some("9"), text.as_bytes());
        let (_, findings) = check_object(
            &v,
            "audit/",
            &once(&elsewhere),
            &stored(text.as_bytes().to_vec()),
            &locked(),
        );
        assert!(
            findings
                .iter()
                .any(|f| matches!(f, Finding::WrongKey { .. })),
            "{findings:?}"
        );
    }

    // An error document is valid and kept under its own key; it is noted, not a failure.
    #[test]
    fn error_document_is_noted_not_failed() {
        let raw = r#"{"eventID":"e9","dynamodb":{"SequenceNumber":"7"}}"#;
        let text = format!(
            r#"{{"schema":"ddb-audit/1","event_id":"e9","error":{{"message":"no eventName"}},"raw":{raw}}}"#
        );
        let key = key::unreadable_key("audit/", Some("e9"), Some("7"), raw.as_bytes());
        let v = Validators::new();
        let (_, findings) = check_object(
            &v,
            "audit/",
            &once(&key),
            &stored(text.into_bytes()),
            &locked(),
        );
        assert_eq!(
            findings,
            vec![Finding::Unreadable {
                message: "no eventName".into()
            }]
        );
        assert!(!findings[0].is_problem());
    }

    // A gap record of recover, valid and under the key of its range, is listed as a known
    // gap, not a problem; one under another key is a wrong key, one off its schema invalid.
    #[test]
    fn a_gap_record_is_a_known_gap() {
        let v = Validators::new();
        let arn = "arn:aws:dynamodb:us-east-1:1:table/Orders/stream/2026-11-27T00:00:00.000";
        let message = json!({"DDBStreamBatchInfo": {"shardId": "shardId-1",
            "startSequenceNumber": "100", "endSequenceNumber": "300", "batchSize": 3,
            "streamArn": arn}})
        .to_string();
        let range = Range::from_message(&message).unwrap();
        let gap = crate::recovery::range::gap_record(
            &range,
            &crate::recovery::range::all_missing(crate::recovery::range::Reason::Trimmed),
            0,
            None,
            crate::timestamp::Timestamp {
                unix_millis: 1_795_746_700_000,
            },
        );
        let key = gap_key("audit/", &range);
        let body = gap.to_string().into_bytes();
        let (docs, findings) =
            check_object(&v, "audit/", &once(&key), &stored(body.clone()), &locked());
        assert_eq!(docs, 0);
        assert!(
            matches!(&findings[..], [Finding::KnownGap { summary }] if summary.contains("100..300: trimmed")),
            "{findings:?}"
        );
        assert!(!findings[0].is_problem());
        let moved = key.replace("shardId-1", "shardId-2");
        let (_, findings) = check_object(&v, "audit/", &once(&moved), &stored(body), &locked());
        assert_eq!(
            findings,
            vec![Finding::WrongKey {
                expected: key.clone()
            }]
        );
        let mut bad = gap;
        bad["missing"] = json!([]);
        let (_, findings) = check_object(
            &v,
            "audit/",
            &once(&key),
            &stored(bad.to_string().into_bytes()),
            &locked(),
        );
        assert!(
            matches!(&findings[..], [Finding::SchemaInvalid { .. }]),
            "{findings:?}"
        );
    }
}
