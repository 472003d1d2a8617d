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
use serde::Deserialize as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::auditor::trail::{KeyHistory, group_versions};
use crate::key;
use crate::record::StreamRecord;
use crate::store::bucket::{Bucket, BucketError, Fetched, Retention};
use crate::timestamp::Timestamp;
use crate::value::Item;

use crate::document::SCHEMA;

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
    Unreadable {
        message: String,
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
        }
    }
}

impl Finding {
    /// Unreadable records are kept on purpose; they are reported, but are not tampering.
    pub fn is_problem(&self) -> bool {
        !matches!(self, Finding::Unreadable { .. })
    }
}

/// The schema, compiled once: one validator per document kind, for precise messages
/// (the schema's top-level `oneOf` would only say "matches neither").
#[derive(Debug)]
pub struct Validators {
    document: jsonschema::Validator,
    unreadable: jsonschema::Validator,
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
        Self {
            document: only("document"),
            unreadable: only("unreadable"),
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

/// Splits an object's content into its documents: one JSON document, or gzip JSON Lines.
pub fn documents(key: &str, fetched: &Fetched) -> Result<Vec<String>, String> {
    let gzip = key.ends_with(".gz") || fetched.content_encoding.as_deref() == Some("gzip");
    if gzip {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&fetched.body[..])
            .read_to_string(&mut text)
            .map_err(|e| format!("not gzip UTF-8 text: {e}"))?;
        Ok(text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect())
    } else {
        let text = std::str::from_utf8(&fetched.body).map_err(|e| format!("not UTF-8: {e}"))?;
        Ok(vec![text.to_owned()])
    }
}

/// The key the function gives one readable document in record mode.
fn record_key_of(prefix: &str, doc: &Value) -> Option<String> {
    let keys = Item::<'static>::deserialize(doc.get("key")?.clone()).ok()?;
    let record = StreamRecord {
        event_id: doc.get("event_id")?.as_str()?.to_owned().into(),
        event_name: crate::record::EventName::Insert,
        event_version: None,
        region: "".into(),
        stream_arn: "".into(),
        table: doc.get("table")?.as_str()?.to_owned(),
        account: String::new(),
        sequence_number: doc
            .pointer("/source/sequence_number")?
            .as_str()?
            .to_owned()
            .into(),
        approximate_creation_time: None,
        size_bytes: None,
        stream_view_type: None,
        keys,
        old_image: None,
        new_image: None,
        user_identity: None,
    };
    Some(key::record_key(prefix, &record))
}

/// Whether `key` is the key the function gives this error document (`text`, the whole
/// object). A missing eventID is stood in for by the hash of the document itself.
fn unreadable_key_matches(prefix: &str, key: &str, text: &str, doc: &Value) -> bool {
    let event_id = doc.get("event_id").and_then(Value::as_str);
    let sequence = match doc.get("raw") {
        Some(Value::Object(_)) => Some(
            doc.pointer("/raw/dynamodb/SequenceNumber")
                .and_then(Value::as_str)
                .map(str::to_owned),
        ),
        // A record kept as a string is not strict JSON: the function read its sequence
        // number leniently, which is not repeated here; only the rest of the key is checked.
        _ => None,
    };
    match sequence {
        Some(seq) => key == key::unreadable_key(prefix, event_id, seq.as_deref(), text.as_bytes()),
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
fn batch_key_of(prefix: &str, first: &Value) -> Option<String> {
    let table = first.get("table")?.as_str()?;
    let created = first
        .pointer("/source/approximate_creation_time")
        .and_then(Value::as_str)
        .and_then(Timestamp::parse_rfc3339);
    let (dt, hour) = key::batch_partition(created);
    let seq = first.pointer("/source/sequence_number")?.as_str()?;
    Some(key::batch_key(prefix, table, &dt, &hour, seq))
}

/// The metadata the function stores on a batch object holding `docs`, as (name, value).
fn batch_metadata_of(docs: &[Value]) -> Vec<(&'static str, Option<String>)> {
    let text = |d: Option<&Value>, pointer: &str| {
        d.and_then(|d| d.pointer(pointer))
            .and_then(Value::as_str)
            .map(key::metadata_value)
    };
    vec![
        (key::RECORDS, Some(docs.len().to_string())),
        (
            key::LAST_SEQUENCE_NUMBER,
            text(docs.last(), "/source/sequence_number"),
        ),
        (key::FIRST_EVENT_ID, text(docs.first(), "/event_id")),
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
        Err(reason) => {
            findings.push(Finding::NotDecodable { reason });
            return (0, findings);
        }
    };
    let mut docs = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str::<Value>(line) {
            Ok(doc) => {
                if let Some(reason) = validators.check(&doc) {
                    findings.push(Finding::SchemaInvalid {
                        line: i + 1,
                        reason,
                    });
                }
                docs.push(doc);
            }
            Err(e) => findings.push(Finding::SchemaInvalid {
                line: i + 1,
                reason: format!("not JSON: {e}"),
            }),
        }
    }
    if docs.len() != lines.len()
        || findings
            .iter()
            .any(|f| matches!(f, Finding::SchemaInvalid { .. }))
    {
        return (docs.len(), findings);
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
        match docs.first().and_then(|first| batch_key_of(prefix, first)) {
            Some(expected) if expected == key => {}
            Some(expected) => findings.push(Finding::WrongKey { expected }),
            None => findings.push(Finding::WrongKey {
                expected: NO_KEY.into(),
            }),
        }
        return (docs.len(), findings);
    }
    match docs.as_slice() {
        [doc] if doc.get("error").is_some() => {
            let message = doc
                .pointer("/error/message")
                .and_then(Value::as_str)
                .unwrap_or("?");
            findings.push(Finding::Unreadable {
                message: message.to_owned(),
            });
            if !unreadable_key_matches(prefix, key, &lines[0], doc) {
                findings.push(Finding::WrongKey {
                    expected: format!(
                        "{prefix}unreadable/<its sequence number>-<its eventID>.json"
                    ),
                });
            }
        }
        [doc] => match record_key_of(prefix, doc) {
            Some(expected) if expected == key => {}
            Some(expected) => findings.push(Finding::WrongKey { expected }),
            None => findings.push(Finding::WrongKey {
                expected: NO_KEY.into(),
            }),
        },
        _ => findings.push(Finding::WrongKey {
            expected: NO_KEY.into(),
        }),
    }
    (docs.len(), findings)
}

/// What `verify` found.
#[derive(Debug, Default)]
pub struct Report {
    pub objects: usize,
    pub documents: usize,
    pub unreadable: usize,
    /// `(key, finding)` for every finding, in key order.
    pub findings: Vec<(String, Finding)>,
}

impl Report {
    pub fn problems(&self) -> usize {
        self.findings.iter().filter(|(_, f)| f.is_problem()).count()
    }

    /// The summary and each finding, as printed.
    pub fn render(&self, bucket: &str, prefix: &str) -> String {
        let mut out = String::new();
        for (key, finding) in &self.findings {
            let tag = if finding.is_problem() {
                "PROBLEM"
            } else {
                "note"
            };
            out.push_str(&format!("{tag}  {key}: {finding}\n"));
        }
        let bad_objects = {
            let mut keys: Vec<&str> = self
                .findings
                .iter()
                .filter(|(_, f)| f.is_problem())
                .map(|(k, _)| k.as_str())
                .collect();
            keys.dedup();
            keys.len()
        };
        out.push_str(&format!(
            "verified s3://{bucket}/{prefix}: {} objects, {} documents ({} unreadable records kept as error documents)\n",
            self.objects, self.documents, self.unreadable
        ));
        if bad_objects == 0 {
            out.push_str("OK: every object is a schema-valid document under its own key, matches its stored SHA-256, is locked, and was never overwritten or deleted\n");
        } else {
            out.push_str(&format!(
                "FAILED: {} problems in {bad_objects} objects\n",
                self.problems()
            ));
        }
        out
    }
}

/// Checks every object under `prefix`; `progress` is called every `every` objects.
pub async fn run(
    bucket: &Bucket,
    prefix: &str,
    every: usize,
    progress: impl Fn(usize, usize),
) -> Result<Report, BucketError> {
    let rows = bucket.list_versions(prefix).await?;
    let histories = group_versions(&rows);
    let total = histories.len();
    let validators = Arc::new(Validators::new());
    let mut report = Report::default();
    let mut results: Vec<(usize, String, usize, Vec<Finding>)> = Vec::with_capacity(total);
    let mut tasks = tokio::task::JoinSet::new();
    let mut done = 0usize;
    const IN_FLIGHT: usize = 16;
    let mut pending = histories.into_iter().enumerate();
    loop {
        while tasks.len() < IN_FLIGHT {
            let Some((index, history)) = pending.next() else {
                break;
            };
            let (bucket, validators, prefix) =
                (bucket.clone(), validators.clone(), prefix.to_owned());
            tasks.spawn(async move {
                if history.deleted || history.versions == 0 {
                    let mut findings = vec![Finding::Deleted];
                    if history.versions > 1 {
                        findings.push(Finding::Overwritten {
                            versions: history.versions,
                        });
                    }
                    return Ok((index, history.key, 0, findings));
                }
                let fetched = bucket.get(&history.key).await?;
                // GET carries the lock headers; HEAD is asked only to confirm a missing lock.
                let retention = match fetched.retention.mode {
                    Some(_) => fetched.retention.clone(),
                    None => bucket.retention(&history.key).await?,
                };
                let (docs, findings) =
                    check_object(&validators, &prefix, &history, &fetched, &retention);
                Ok::<_, BucketError>((index, history.key, docs, findings))
            });
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        let result = joined.expect("verify task panicked")?;
        results.push(result);
        done += 1;
        if every > 0 && done.is_multiple_of(every) {
            progress(done, total);
        }
    }
    results.sort_by_key(|r| r.0);
    for (_, key, docs, findings) in results {
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
}
