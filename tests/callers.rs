//! `history` and `replay` with `--trail-bucket`: documents rendered by the engine in one
//! in-memory bucket, CloudTrail log files (gzip, AWS's naming, late deliveries, a failed
//! call, another table) in another, read back through the same port S3 serves.

use std::collections::BTreeMap;
use std::io::Write as _;

use ddb_audit::auditor::caller::{self, TrailLocation};
use ddb_audit::auditor::command::{ItemRef, Location};
use ddb_audit::store::bucket::MemoryBucket;
use ddb_audit::{RenderOptions, Rendered, Timestamp, key, render_record};
use serde_json::{Value, json};

const PREFIX: &str = "audit/";
const ARN: &str =
    "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-01-01T00:00:00.000";
const V1: &str = r#"{"pk":{"S":"o#1"},"status":{"S":"NEW"},"total":{"N":"10.50"}}"#;
const V2: &str =
    r#"{"pk":{"S":"o#1"},"status":{"S":"PAID"},"tags":{"SS":["a"]},"total":{"N":"10.50"}}"#;

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

/// The item's life: created at 10:00, paid at 11:00, deleted at 12:00 (2026-11-27 UTC).
fn audit_bucket() -> MemoryBucket {
    let bucket = MemoryBucket::new("audit-bucket");
    for raw in [
        record(1, "INSERT", 1_795_773_600, None, Some(V1)),
        record(2, "MODIFY", 1_795_777_200, Some(V1), Some(V2)),
        record(3, "REMOVE", 1_795_780_800, Some(V2), None),
    ] {
        let Rendered::Document { record, json, .. } =
            render_record(&raw, &RenderOptions::default())
        else {
            panic!("a readable record");
        };
        bucket.put(&key::record_key(PREFIX, &record), json, BTreeMap::new());
    }
    bucket
}

/// One DynamoDB data event as CloudTrail logs it.
fn event(id: &str, name: &str, time: &str, user: &str, table: &str, parameters: Value) -> Value {
    json!({"eventVersion": "1.09", "eventSource": "dynamodb.amazonaws.com", "eventName": name,
        "eventTime": time, "eventID": id, "requestID": format!("REQ-{id}"), "awsRegion": "eu-west-1",
        "sourceIPAddress": "10.0.3.7", "userAgent": "aws-sdk-java/2.25",
        "userIdentity": {"type": "IAMUser", "principalId": format!("AIDA{}", user.to_uppercase()),
            "arn": format!("arn:aws:iam::123456789012:user/{user}"), "accountId": "123456789012"},
        "requestParameters": parameters, "responseElements": null, "readOnly": false,
        "resources": [{"accountId": "123456789012", "type": "AWS::DynamoDB::Table",
                       "ARN": format!("arn:aws:dynamodb:eu-west-1:123456789012:table/{table}")}],
        "eventType": "AwsApiCall", "managementEvent": false, "recipientAccountId": "123456789012",
        "eventCategory": "Data"})
}

/// Stores `records` as a log file delivered at `delivered` (`YYYYMMDDTHHmmZ`).
fn deliver(trail: &MemoryBucket, delivered: &str, unique: &str, records: Vec<Value>) {
    let (y, m, d) = (&delivered[0..4], &delivered[4..6], &delivered[6..8]);
    let key = format!(
        "AWSLogs/123456789012/CloudTrail/eu-west-1/{y}/{m}/{d}/123456789012_CloudTrail_eu-west-1_{delivered}_{unique}.json.gz"
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(json!({"Records": records}).to_string().as_bytes())
        .unwrap();
    trail.put(&key, gz.finish().unwrap(), BTreeMap::new());
}

fn trail_bucket() -> MemoryBucket {
    let trail = MemoryBucket::new("trail-bucket");
    let key = json!({"pk": "o#1"});
    // Two hours before the item existed: never read.
    deliver(
        &trail,
        "20261127T0805Z",
        "0000000000000000",
        vec![event(
            "0",
            "DeleteItem",
            "2026-11-27T08:00:00Z",
            "mallory",
            "Orders",
            json!({"tableName": "Orders", "key": key}),
        )],
    );
    deliver(
        &trail,
        "20261127T1005Z",
        "AAAAAAAAAAAAAAAA",
        vec![
            event(
                "1",
                "PutItem",
                "2026-11-27T10:00:00Z",
                "alice",
                "Orders",
                json!({"tableName": "Orders", "key": key, "item": ["pk", "status", "total"]}),
            ),
            // The same key in another table of the same trail.
            event(
                "2",
                "PutItem",
                "2026-11-27T10:00:00Z",
                "mallory",
                "Invoices",
                json!({"tableName": "Invoices", "key": key, "item": ["pk"]}),
            ),
        ],
    );
    let mut failed = event(
        "3",
        "UpdateItem",
        "2026-11-27T11:00:00Z",
        "mallory",
        "Orders",
        json!({"tableName": "Orders", "key": key, "updateExpression": "SET #s = :s",
               "expressionAttributeNames": {"#s": "status"}, "conditionExpression": "attribute_not_exists(paid)"}),
    );
    failed["errorCode"] = json!("ConditionalCheckFailedException");
    let paid = event(
        "4",
        "UpdateItem",
        "2026-11-27T11:00:01Z",
        "bob",
        "Orders",
        json!({"tableName": "Orders", "key": key, "updateExpression": "SET #s = :s ADD tags :t",
               "expressionAttributeNames": {"#s": "status"}}),
    );
    deliver(
        &trail,
        "20261127T1104Z",
        "BBBBBBBBBBBBBBBB",
        vec![failed, paid.clone()],
    );
    // The same event delivered twice: counted once.
    deliver(&trail, "20261127T1110Z", "CCCCCCCCCCCCCCCC", vec![paid]);
    // Delivered an hour late, with an addendum.
    let mut late = event(
        "5",
        "DeleteItem",
        "2026-11-27T12:00:00Z",
        "alice",
        "Orders",
        json!({"tableName": "Orders", "key": key}),
    );
    late["addendum"] = json!({"reason": "DELIVERY_DELAY"});
    deliver(&trail, "20261127T1302Z", "DDDDDDDDDDDDDDDD", vec![late]);
    trail
}

fn item() -> ItemRef {
    ItemRef {
        table: "Orders".into(),
        key: "pk=o#1".into(),
        redaction: None,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
}

fn now() -> Timestamp {
    Timestamp::parse_rfc3339("2026-12-01T00:00:00Z").unwrap()
}

/// `history --trail-bucket` with `--trail-delay minutes`: (status, stdout, stderr, progress).
fn history(json: bool, minutes: u32) -> (i32, String, String, Vec<(usize, usize)>) {
    let (audit, trail) = (audit_bucket(), trail_bucket());
    let (mut out, mut err, mut progress) = (Vec::new(), Vec::new(), Vec::new());
    let status = runtime()
        .block_on(caller::history(
            &audit,
            &trail,
            &Location::new("audit-bucket", PREFIX),
            &TrailLocation::new("", minutes),
            &item(),
            json,
            now(),
            |done, total| progress.push((done, total)),
            &mut out,
            &mut err,
        ))
        .expect("history answers");
    (
        status,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
        progress,
    )
}

/// Each change under its caller: the put, the update (not the failed call before it, not
/// the other table's write), and the deletion, unknown until the late file is read.
#[test]
fn history_names_each_changes_caller() {
    let (status, out, err, progress) = history(false, 15);
    let expected = "\
Orders  pk=\"o#1\"
3 records
(path: old → new; ∅ no value; <<…>> a set, +added −removed; seq the stream's sequence number)

2026-11-27T10:00:00.000Z  INSERT  seq 100
    by arn:aws:iam::123456789012:user/alice (from 10.0.3.7, aws-sdk-java/2.25, request REQ-1)
    /pk: ∅ → \"o#1\"
    /status: ∅ → \"NEW\"
    /total: ∅ → 10.50

2026-11-27T11:00:00.000Z  MODIFY  seq 200
    by arn:aws:iam::123456789012:user/bob (from 10.0.3.7, aws-sdk-java/2.25, request REQ-4)
    /status: \"NEW\" → \"PAID\"
    /tags: ∅ → <<\"a\">>

2026-11-27T12:00:00.000Z  REMOVE  seq 300
    caller unknown: no write on this key in the trail within 2 s of the change (files delivered up to 15 min after it were read; a later delivery needs a longer allowance)
    /pk: \"o#1\" → ∅
    /status: \"PAID\" → ∅
    /tags: <<\"a\">> → ∅
    /total: 10.50 → ∅
";
    assert_eq!(out, expected);
    assert_eq!(status, 0);
    // Hours 09 to 12 only: the 08:05 and 13:02 files are not read.
    assert_eq!(
        err,
        "ddb-audit: callers from s3://trail-bucket/: 3 log files, 5 DynamoDB write events (window ±2 s, delivery allowance 15 min)\n"
    );
    assert_eq!(progress.last(), Some(&(3, 3)));
}

/// With an allowance that covers the late file, the deletion has its caller too.
#[test]
fn a_late_file_is_read_with_a_longer_allowance() {
    let (_, out, err, _) = history(false, 90);
    assert!(out.contains(
        "2026-11-27T12:00:00.000Z  REMOVE  seq 300\n    by arn:aws:iam::123456789012:user/alice (from 10.0.3.7, aws-sdk-java/2.25, request REQ-5)\n"
    ), "{out}");
    assert!(
        err.contains("4 log files, 6 DynamoDB write events"),
        "{err}"
    );
}

/// `--json` adds an `attribution` object to each stored document.
#[test]
fn history_json_adds_an_attribution_object() {
    let (_, out, _, _) = history(true, 15);
    let docs: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 3);
    assert_eq!(
        docs[0]["attribution"],
        json!({"status": "caller", "event_ids": ["1"], "caller": {
            "arn": "arn:aws:iam::123456789012:user/alice", "principal_id": "AIDAALICE", "type": "IAMUser",
            "account_id": "123456789012", "source_ip": "10.0.3.7", "user_agent": "aws-sdk-java/2.25",
            "request_id": "REQ-1", "event_id": "1", "event_name": "PutItem", "event_time": "2026-11-27T10:00:00.000Z"}})
    );
    assert_eq!(
        docs[1]["attribution"]["caller"]["arn"],
        "arn:aws:iam::123456789012:user/bob"
    );
    assert_eq!(docs[2]["attribution"]["status"], "unknown");
    // The stored document is otherwise unchanged, byte for byte.
    assert!(
        out.lines()
            .next()
            .unwrap()
            .starts_with(r#"{"schema":"ddb-audit/1","event_id":"e1""#)
    );
}

/// `replay --trail-bucket` says who made the last change before `--at`.
#[test]
fn replay_names_the_last_changes_caller() {
    let (audit, trail) = (audit_bucket(), trail_bucket());
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = runtime()
        .block_on(caller::replay(
            &audit,
            &trail,
            &Location::new("audit-bucket", PREFIX),
            &TrailLocation::new("", 15),
            &item(),
            Timestamp::parse_rfc3339("2026-11-27T11:30:00Z").unwrap(),
            false,
            now(),
            |_, _| {},
            &mut out,
            &mut err,
        ))
        .expect("replay answers");
    assert_eq!(status, 0);
    assert_eq!(String::from_utf8(out).unwrap(), format!("{V2}\n"));
    assert_eq!(
        String::from_utf8(err).unwrap(),
        "ddb-audit: Orders pk=\"o#1\" as of 2026-11-27T11:30:00.000Z: 2 of 3 records applied, the last at 2026-11-27T11:00:00.000Z\n\
         ddb-audit: callers from s3://trail-bucket/: 3 log files, 5 DynamoDB write events (window ±2 s, delivery allowance 15 min)\n\
         ddb-audit: the last change before 2026-11-27T11:30:00.000Z (2026-11-27T11:00:00.000Z MODIFY, seq 200) was made by arn:aws:iam::123456789012:user/bob (from 10.0.3.7, aws-sdk-java/2.25, request REQ-4)\n"
    );
}
