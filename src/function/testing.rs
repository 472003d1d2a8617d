//! Fixtures shared by the function's unit tests: records as Lambda delivers them, the
//! settings they run with, and readers of what a [`MemorySink`] holds.

use std::collections::BTreeMap;
use std::io::Read as _;

use aws_lambda_events::streams::DynamoDbEventResponse;
use flate2::read::GzDecoder;
use serde_json::{Value, json};

use crate::document::RenderOptions;
use crate::function::config::Mode;
use crate::function::handler::Settings;
use crate::key;
use crate::store::sink::{MemorySink, Metadata};
use crate::timestamp::Timestamp;

pub(super) const NOW: Timestamp = Timestamp {
    unix_millis: 1_795_746_760_000,
};
// 2026-11-27T02:31:40Z, 60 s before NOW.
pub(super) const CREATED: i64 = 1_795_746_700;

pub(super) fn settings(mode: Mode) -> Settings {
    Settings {
        prefix: "audit/".to_owned(),
        mode,
        render: RenderOptions::default(),
        max_concurrency: 4,
        write_margin: std::time::Duration::from_secs(10),
    }
}

/// A MODIFY-free INSERT record as Lambda delivers it.
pub(super) fn insert(seq: u64, pk: &str, created: i64) -> Value {
    json!({
        "eventID": format!("ev{seq}"),
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": {
            "ApproximateCreationDateTime": created,
            "Keys": {"pk": {"S": pk}},
            "NewImage": {"pk": {"S": pk}, "qty": {"N": "1"}},
            "SequenceNumber": format!("{seq}"),
            "SizeBytes": 20,
            "StreamViewType": "NEW_AND_OLD_IMAGES"
        },
        "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-11-01T00:00:00.000"
    })
}

/// A record with an unknown attribute type tag: unreadable, but with an ID and sequence.
pub(super) fn poisoned(seq: u64) -> Value {
    let mut record = insert(seq, "p", CREATED);
    record["dynamodb"]["Keys"] = json!({"pk": {"X": "?"}});
    record["dynamodb"]["NewImage"] = json!({"pk": {"X": "?"}});
    record
}

pub(super) fn event(records: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({ "Records": records })).unwrap()
}

pub(super) fn batch(n: u64) -> Vec<Value> {
    (1..=n)
        .map(|i| insert(100 + i, &format!("order#{i}"), CREATED))
        .collect()
}

pub(super) fn failures(response: &DynamoDbEventResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap())
        .collect()
}

/// How many times each eventID is stored, over every object in the sink (gzip JSON
/// Lines and single documents alike).
pub(super) fn stored_event_ids(sink: &MemorySink) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for (key, object) in sink.objects() {
        let text = if key.ends_with(".jsonl.gz") {
            gunzip(&object.body)
        } else {
            String::from_utf8(object.body).unwrap()
        };
        for line in text.lines() {
            let doc: Value = serde_json::from_str(line).unwrap();
            let id = doc["event_id"].as_str().unwrap().to_owned();
            *counts.entry(id).or_insert(0) += 1;
        }
    }
    counts
}

/// Every record's eventID, once.
pub(super) fn all_once(records: &[Value]) -> BTreeMap<String, usize> {
    records
        .iter()
        .map(|r| (r["eventID"].as_str().unwrap().to_owned(), 1))
        .collect()
}

/// The key of a batch object of table Orders on 2026-11-27 starting at `first`.
pub(super) fn batch_key(hour: &str, first: &str) -> String {
    format!("audit/table=Orders/dt=2026-11-27/hour={hour}/{first:0>40}.jsonl.gz")
}

/// A batch object's metadata: last sequence number and record count.
pub(super) fn meta(metadata: &Metadata) -> (&str, usize) {
    (
        metadata[key::LAST_SEQUENCE_NUMBER].as_str(),
        metadata[key::RECORDS].parse().unwrap(),
    )
}

pub(super) fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    GzDecoder::new(bytes).read_to_string(&mut text).unwrap();
    text
}
