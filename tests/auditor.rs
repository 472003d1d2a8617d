//! The auditor's commands (`history`, `replay`, `verify`) end to end against the in-memory
//! read adapter: documents rendered by the engine, stored under the function's keys, then
//! read back through the same port S3 serves, tampered with as an attacker would.

use std::collections::BTreeMap;

use ddb_audit::auditor::command::{self, ItemRef, Location};
use ddb_audit::store::bucket::MemoryBucket;
use ddb_audit::{RenderOptions, Rendered, Timestamp, key, render_record};

const PREFIX: &str = "audit/";
const ARN: &str =
    "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-01-01T00:00:00.000";

/// One stream record of item `pk=o#1` in table Orders.
fn record(seq: u32, name: &str, time: u64, old: Option<&str>, new: Option<&str>) -> String {
    let image = |field: &str, image: Option<&str>| {
        image.map_or(String::new(), |i| format!(r#","{field}":{i}"#))
    };
    format!(
        r#"{{"eventID":"e{seq}","eventName":"{name}","eventVersion":"1.1","awsRegion":"eu-west-1","eventSourceARN":"{ARN}","dynamodb":{{"ApproximateCreationDateTime":{time},"Keys":{{"pk":{{"S":"o#1"}}}}{}{},"SequenceNumber":"{seq}00","SizeBytes":60,"StreamViewType":"NEW_AND_OLD_IMAGES"}}}}"#,
        image("OldImage", old),
        image("NewImage", new),
    )
}

const V1: &str = r#"{"pk":{"S":"o#1"},"status":{"S":"NEW"},"total":{"N":"10.50"}}"#;
const V2: &str =
    r#"{"pk":{"S":"o#1"},"status":{"S":"PAID"},"tags":{"SS":["a"]},"total":{"N":"10.50"}}"#;

/// The item's life: created at 10:00, paid at 11:00, deleted at 12:00 (2026-11-27 UTC).
fn life() -> Vec<String> {
    vec![
        record(1, "INSERT", 1_795_773_600, None, Some(V1)),
        record(2, "MODIFY", 1_795_777_200, Some(V1), Some(V2)),
        record(3, "REMOVE", 1_795_780_800, Some(V2), None),
    ]
}

/// Stores each record's document where the function puts it in record mode; returns the keys.
fn store(bucket: &MemoryBucket, records: &[String]) -> Vec<String> {
    store_with(bucket, records, &RenderOptions::default())
}

fn store_with(bucket: &MemoryBucket, records: &[String], options: &RenderOptions) -> Vec<String> {
    let mut keys = Vec::new();
    for raw in records {
        let (key, json) = match render_record(raw, options) {
            Rendered::Document { record, json, .. } => (key::record_key(PREFIX, &record), json),
            Rendered::Unreadable {
                event_id,
                sequence_number,
                json,
                ..
            } => (
                key::unreadable_key(
                    PREFIX,
                    event_id.as_deref(),
                    sequence_number.as_deref(),
                    &json,
                ),
                json,
            ),
        };
        bucket.put(&key, json, BTreeMap::new());
        keys.push(key);
    }
    keys
}

fn item() -> ItemRef {
    ItemRef {
        table: "Orders".into(),
        key: "pk=o#1".into(),
        redaction: None,
    }
}

fn location() -> Location {
    Location::new("audit-bucket", PREFIX)
}

/// Runs a command future on a fresh runtime; returns (exit status, stdout, stderr).
fn run<F>(command: impl FnOnce(Vec<u8>, Vec<u8>) -> F) -> (i32, String, String)
where
    F: std::future::Future<Output = (i32, Vec<u8>, Vec<u8>)>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let (status, out, err) = runtime.block_on(command(Vec::new(), Vec::new()));
    (
        status,
        String::from_utf8(out).expect("UTF-8"),
        String::from_utf8(err).expect("UTF-8"),
    )
}

fn history(bucket: &MemoryBucket) -> (i32, String, String) {
    run(|mut out, mut err| async move {
        let status = command::history(bucket, &location(), &item(), false, &mut out, &mut err)
            .await
            .expect("history answers");
        (status, out, err)
    })
}

fn replay(bucket: &MemoryBucket, at: &str) -> (i32, String, String) {
    let time = Timestamp::parse_rfc3339(at).expect("an RFC 3339 time");
    run(|mut out, mut err| async move {
        let status = command::replay(
            bucket,
            &location(),
            &item(),
            time,
            false,
            &mut out,
            &mut err,
        )
        .await
        .expect("replay answers");
        (status, out, err)
    })
}

fn verify(bucket: &MemoryBucket) -> (i32, String, String) {
    run(|mut out, mut err| async move {
        let status = command::verify(bucket, &location(), &mut out, &mut err)
            .await
            .expect("verify answers");
        (status, out, err)
    })
}

const K1: &str =
    "audit/table=Orders/item=pk=o%231/0000000000000000000000000000000000000100-e1.json";
const K2: &str =
    "audit/table=Orders/item=pk=o%231/0000000000000000000000000000000000000200-e2.json";
const UNREADABLE: &str = "audit/unreadable/0000000000000000000000000000000000025000-e250.json";

/// The whole life of the item, untouched: its timeline as an auditor reads it.
#[test]
fn history_of_an_intact_trail_reads_as_a_timeline() {
    let bucket = MemoryBucket::new("audit-bucket");
    store(&bucket, &life());
    let expected = "\
Orders  pk=\"o#1\"
3 records
(path: old → new; ∅ no value; <<…>> a set, +added −removed; seq the stream's sequence number)

2026-11-27T10:00:00.000Z  INSERT  seq 100
    /pk: ∅ → \"o#1\"
    /status: ∅ → \"NEW\"
    /total: ∅ → 10.50

2026-11-27T11:00:00.000Z  MODIFY  seq 200
    /status: \"NEW\" → \"PAID\"
    /tags: ∅ → <<\"a\">>

2026-11-27T12:00:00.000Z  REMOVE  seq 300
    /pk: \"o#1\" → ∅
    /status: \"PAID\" → ∅
    /tags: <<\"a\">> → ∅
    /total: 10.50 → ∅
";
    assert_eq!(history(&bucket), (0, expected.to_owned(), String::new()));
}

/// Replay gives the item as it was at each time, and says when it did not exist.
#[test]
fn replay_of_an_intact_trail_gives_each_state() {
    let bucket = MemoryBucket::new("audit-bucket");
    store(&bucket, &life());
    assert_eq!(
        replay(&bucket, "2026-11-27T09:00:00Z"),
        (
            0,
            "null\n".to_owned(),
            "ddb-audit: Orders pk=\"o#1\" as of 2026-11-27T09:00:00.000Z: 0 of 3 records applied\n\
             ddb-audit: the item did not exist at 2026-11-27T09:00:00.000Z (its first record is later)\n"
                .to_owned()
        )
    );
    assert_eq!(
        replay(&bucket, "2026-11-27T10:30:00Z"),
        (
            0,
            format!("{V1}\n"),
            "ddb-audit: Orders pk=\"o#1\" as of 2026-11-27T10:30:00.000Z: 1 of 3 records applied, the last at 2026-11-27T10:00:00.000Z\n".to_owned()
        )
    );
    assert_eq!(
        replay(&bucket, "2026-11-27T11:30:00Z"),
        (
            0,
            format!("{V2}\n"),
            "ddb-audit: Orders pk=\"o#1\" as of 2026-11-27T11:30:00.000Z: 2 of 3 records applied, the last at 2026-11-27T11:00:00.000Z\n".to_owned()
        )
    );
    assert_eq!(
        replay(&bucket, "2026-11-27T12:30:00Z"),
        (
            0,
            "null\n".to_owned(),
            "ddb-audit: Orders pk=\"o#1\" as of 2026-11-27T12:30:00.000Z: 3 of 3 records applied, the last at 2026-11-27T12:00:00.000Z\n\
             ddb-audit: the item did not exist at 2026-11-27T12:30:00.000Z (deleted by the record of 2026-11-27T12:00:00.000Z)\n"
                .to_owned()
        )
    );
}

/// An untouched bucket verifies clean.
#[test]
fn verify_of_an_intact_trail_passes() {
    let bucket = MemoryBucket::new("audit-bucket");
    store(&bucket, &life());
    let expected = "\
verified s3://audit-bucket/audit/: 3 objects, 3 documents (0 unreadable records kept as error documents)
OK: every object is a schema-valid document under its own key, matches its stored SHA-256, is locked, and was never overwritten or deleted
";
    assert_eq!(verify(&bucket), (0, expected.to_owned(), String::new()));
}

/// One document deleted and one overwritten: history shows both in place, replay refuses
/// to guess, verify names both; each exits 2.
#[test]
fn a_tampered_trail_is_shown_uncertain_and_fails_verify() {
    let bucket = MemoryBucket::new("audit-bucket");
    let keys = store(&bucket, &life());
    assert_eq!(keys[..2], [K1, K2]);
    bucket.put(K2, b"{}".to_vec(), BTreeMap::new());
    bucket.delete(K1);

    let expected = format!(
        "\
Orders  pk=\"o#1\"
1 record, 3 problems in the trail
(path: old → new; ∅ no value; <<…>> a set, +added −removed; seq the stream's sequence number)

MISSING OR INVALID DOCUMENT
    !! {K1}: deleted (its latest version is a delete marker)

MISSING OR INVALID DOCUMENT
    !! {K2}: overwritten after it was written (2 versions)
    !! {K2}: not an audit document: no \"schema\": \"ddb-audit/1\"

2026-11-27T12:00:00.000Z  REMOVE  seq 300
    /pk: \"o#1\" → ∅
    /status: \"PAID\" → ∅
    /tags: <<\"a\">> → ∅
    /total: 10.50 → ∅
"
    );
    assert_eq!(history(&bucket), (2, expected, String::new()));

    let expected_err = format!(
        "\
ddb-audit: Orders pk=\"o#1\" as of 2026-11-27T11:30:00.000Z: 0 of 1 record applied
ddb-audit: the trail cannot tell what the item looked like at 2026-11-27T11:30:00.000Z
ddb-audit: UNCERTAIN: the trail has 4 gap(s) before 2026-11-27T11:30:00.000Z:
  {K1}: deleted (its latest version is a delete marker)
  {K2}: overwritten after it was written (2 versions)
  {K2}: not an audit document: no \"schema\": \"ddb-audit/1\"
  the trail begins at 2026-11-27T12:00:00.000Z with a REMOVE: the item existed before its first audited change
"
    );
    assert_eq!(
        replay(&bucket, "2026-11-27T11:30:00Z"),
        (2, "null\n".to_owned(), expected_err)
    );

    let expected = format!(
        "\
PROBLEM  {K1} [item pk=\"o#1\"]: deleted: the latest version is a delete marker
PROBLEM  {K2} [item pk=\"o#1\"]: overwritten: 2 versions (the function writes each object once)
PROBLEM  {K2} [item pk=\"o#1\"]: document 1 violates the schema: \"schema\" is a required property
verified s3://audit-bucket/audit/: 3 objects, 2 documents (0 unreadable records kept as error documents; 1 deleted object with no document left)
FAILED: 3 problems in 2 objects
"
    );
    assert_eq!(verify(&bucket), (2, expected, String::new()));
}

/// An unreadable record of the item appears in stream order among its documents, and a
/// record of an incomplete stream view shows its new image instead of a diff. Neither is
/// tampering: history and verify exit 0, but replay past the unreadable record is uncertain.
#[test]
fn unreadable_and_incomplete_records_are_shown_in_place() {
    let bucket = MemoryBucket::new("audit-bucket");
    let shipped = r#"{"pk":{"S":"o#1"},"status":{"S":"SHIPPED"}}"#;
    let mut records = life();
    records.pop();
    records.push(record(250, "UPSERT", 1_795_779_000, Some(V2), Some(V2)));
    records.push(
        record(260, "MODIFY", 1_795_779_600, None, Some(shipped))
            .replace("NEW_AND_OLD_IMAGES", "NEW_IMAGE"),
    );
    let keys = store(&bucket, &records);
    assert_eq!(keys[2], UNREADABLE);
    let reason = "the stream record could not be read: eventName: expected \"INSERT\", \"MODIFY\" or \"REMOVE\", got \"UPSERT\"";

    let expected = format!(
        "\
Orders  pk=\"o#1\"
4 records, 1 problem in the trail
(path: old → new; ∅ no value; <<…>> a set, +added −removed; seq the stream's sequence number)

2026-11-27T10:00:00.000Z  INSERT  seq 100
    /pk: ∅ → \"o#1\"
    /status: ∅ → \"NEW\"
    /total: ∅ → 10.50

2026-11-27T11:00:00.000Z  MODIFY  seq 200
    /status: \"NEW\" → \"PAID\"
    /tags: ∅ → <<\"a\">>

UNREADABLE RECORD (kept verbatim as an error document)
    !! {UNREADABLE}: {reason}

2026-11-27T11:40:00.000Z  MODIFY  seq 26000
    (incomplete: the stream view NEW_IMAGE lacks an image, so no diff)
    new image: {{pk: \"o#1\", status: \"SHIPPED\"}}
"
    );
    assert_eq!(history(&bucket), (0, expected, String::new()));

    let expected_err = format!(
        "\
ddb-audit: Orders pk=\"o#1\" as of 2026-11-27T11:55:00.000Z: 3 of 4 records applied, the last at 2026-11-27T11:40:00.000Z
ddb-audit: note: record 26000 is incomplete (no diff); the item is taken from its new image
ddb-audit: UNCERTAIN: the trail has 1 gap(s) before 2026-11-27T11:55:00.000Z:
  {UNREADABLE}: {reason}
"
    );
    assert_eq!(
        replay(&bucket, "2026-11-27T11:55:00Z"),
        (2, format!("{shipped}\n"), expected_err)
    );

    let expected = format!(
        "\
note  {UNREADABLE}: holds an error document (a stream record the function could not read): eventName: expected \"INSERT\", \"MODIFY\" or \"REMOVE\", got \"UPSERT\"
verified s3://audit-bucket/audit/: 4 objects, 4 documents (1 unreadable record kept as error documents)
OK: every object is a schema-valid document under its own key, matches its stored SHA-256, is locked, and was never overwritten or deleted
"
    );
    assert_eq!(verify(&bucket), (0, expected, String::new()));
}

/// An object stored without its checksum or lock, or under a key that is not its own, is
/// a problem even though its content is a valid document.
#[test]
fn verify_checks_checksum_lock_and_key() {
    use ddb_audit::store::bucket::{Fetched, Retention};
    let bucket = MemoryBucket::new("audit-bucket");
    let keys = store(&bucket, &life());
    let body = bucket_body(&bucket, &keys[0]);
    bucket.delete(&keys[0]);
    let moved = keys[0].replace("-e1.json", "-e9.json");
    bucket.put_version(
        &moved,
        Fetched {
            body,
            checksum_sha256: None,
            content_encoding: None,
            version_id: None,
            retention: Retention {
                mode: None,
                retain_until: None,
            },
            metadata: BTreeMap::new(),
        },
    );
    let (status, out, _) = verify(&bucket);
    assert_eq!(status, 2);
    for finding in [
        format!("PROBLEM  {moved} [item pk=\"o#1\"]: S3 stored no SHA-256 checksum for it\n"),
        format!("PROBLEM  {moved} [item pk=\"o#1\"]: no Object Lock retention\n"),
        format!(
            "PROBLEM  {moved} [item pk=\"o#1\"]: its content belongs at {}\n",
            keys[0]
        ),
    ] {
        assert!(out.contains(&finding), "{finding} in {out}");
    }
}

fn bucket_body(bucket: &MemoryBucket, key: &str) -> Vec<u8> {
    use ddb_audit::store::bucket::Bucket as _;
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
        .block_on(bucket.get(key))
        .expect("stored")
        .body
}

/// Under redaction of the key attribute, the item is found by its token (given the
/// deployment's patterns and secret), and its history shows withheld values as tokens.
#[test]
fn a_redacted_key_is_found_with_the_deployments_secret() {
    use std::sync::Arc;

    use ddb_audit::pattern::Pattern;
    use ddb_audit::redaction::Redactor;
    let redactor = Arc::new(
        Redactor::new(
            Pattern::parse_list("/pk,/status").unwrap(),
            b"0123456789abcdef0123456789abcdef",
        )
        .unwrap(),
    );
    let options = RenderOptions {
        include_images: true,
        redaction: Some(Arc::clone(&redactor)),
    };
    let bucket = MemoryBucket::new("audit-bucket");
    let keys = store_with(&bucket, &life()[..2], &options);
    assert!(keys[0].contains("/item=hmac-"), "{}", keys[0]);

    let with_secret = ItemRef {
        redaction: Some(redactor),
        ..item()
    };
    let (status, out, _) = run(|mut out, mut err| async move {
        let status = command::history(
            &bucket,
            &location(),
            &with_secret,
            false,
            &mut out,
            &mut err,
        )
        .await
        .expect("history answers");
        (status, out, err)
    });
    assert_eq!(status, 0);
    assert!(
        !out.contains("NEW") && !out.contains("PAID") && !out.contains("o#1"),
        "{out}"
    );
    assert!(out.contains("/status: ‹redacted·"), "{out}");
    assert!(out.contains("/total: ∅ → 10.50"), "{out}");
    assert!(
        out.contains("(values at /pk, /status are withheld: ‹redacted·…› is the start of their token, key id 3eb1bd439947eb76)\n"),
        "{out}"
    );
}
