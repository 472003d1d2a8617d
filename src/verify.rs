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
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::bucket::{Bucket, BucketError, Fetched, Retention};
use crate::key;
use crate::record::StreamRecord;
use crate::timestamp::Timestamp;
use crate::trail::{KeyHistory, group_versions};
use crate::value::Item;

/// The contract, embedded so the binary checks against the schema it was built with.
pub const SCHEMA: &str = include_str!("../schema/audit-document.schema.json");

/// What is wrong with one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    Overwritten { versions: usize },
    Deleted,
    NoStoredChecksum,
    ChecksumMismatch { stored: String, computed: String },
    NotDecodable { reason: String },
    SchemaInvalid { line: usize, reason: String },
    WrongKey { expected: String },
    NoRetention,
    Unreadable { message: String },
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

/// The key the function gives an error document: from the raw record's exact bytes.
fn unreadable_key_of(prefix: &str, text: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Raw<'a> {
        event_id: Option<String>,
        #[serde(borrow)]
        raw: &'a RawValue,
    }
    let parsed: Raw = serde_json::from_str(text).ok()?;
    let raw_value: Value = serde_json::from_str(parsed.raw.get()).ok()?;
    let seq = raw_value
        .pointer("/dynamodb/SequenceNumber")
        .and_then(Value::as_str);
    Some(key::unreadable_key(
        prefix,
        parsed.event_id.as_deref(),
        seq,
        parsed.raw.get().as_bytes(),
    ))
}

/// The key the function gives a batch object holding these documents (in order).
fn batch_key_of(prefix: &str, docs: &[Value]) -> Option<String> {
    let first = docs.first()?;
    let last = docs.last()?;
    let table = first.get("table")?.as_str()?;
    let created = first
        .pointer("/source/approximate_creation_time")
        .and_then(Value::as_str)
        .and_then(Timestamp::parse_rfc3339);
    let (dt, hour) = key::batch_partition(created);
    let seq = |d: &Value| {
        d.pointer("/source/sequence_number")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Some(key::batch_key(
        prefix,
        table,
        &dt,
        &hour,
        &seq(first)?,
        &seq(last)?,
    ))
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
    let expected = if key.ends_with(".jsonl.gz") {
        batch_key_of(prefix, &docs)
    } else {
        match docs.as_slice() {
            [doc] if doc.get("error").is_some() => {
                let message = doc
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                findings.push(Finding::Unreadable {
                    message: message.to_owned(),
                });
                unreadable_key_of(prefix, &lines[0])
            }
            [doc] => record_key_of(prefix, doc),
            _ => None,
        }
    };
    match expected {
        Some(expected) if expected == key => {}
        Some(expected) => findings.push(Finding::WrongKey { expected }),
        None => findings.push(Finding::WrongKey {
            expected: "(no key can be computed from its content)".into(),
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

    // Batch objects are gzip JSON Lines whose key comes from the partition and sequence range.
    #[test]
    fn batch_object_is_checked_line_by_line() {
        use std::io::Write as _;
        let mut second = doc();
        second["source"]["sequence_number"] = json!("43");
        second["event_id"] = json!("e2");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        writeln!(gz, "{}\n{}", doc(), second).unwrap();
        let body = gz.finish().unwrap();
        let key = format!(
            "audit/table=Orders/dt=2026-11-27/hour=02/{:0>40}-{:0>40}.jsonl.gz",
            "42", "43"
        );
        let v = Validators::new();
        let (docs, findings) = check_object(&v, "audit/", &once(&key), &stored(body), &locked());
        assert_eq!((docs, findings), (2, vec![]));
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
