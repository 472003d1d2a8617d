//! The handler and `S3Sink` against a real S3-compatible server (moto, started here on
//! 127.0.0.1 and a free port) with an Object Lock, versioned bucket: what lands in S3 is
//! exactly what the in-memory sink holds, written once, checksummed and locked, and an
//! outage loses nothing.

mod support;

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::types::{
    ChecksumMode, DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockMode,
    ObjectLockRetentionMode, ObjectLockRule,
};
use base64::Engine;
use ddb_audit::Timestamp;
use ddb_audit::document::RenderOptions;
use ddb_audit::function::config::Mode;
use ddb_audit::function::deadline::Budget;
use ddb_audit::function::handler::{Invocation, Settings, handle, handle_within};
use ddb_audit::key;
use ddb_audit::key::JSON;
use ddb_audit::store::S3Timeouts;
use ddb_audit::store::sink::{
    MemorySink, Metadata, Object, PutOutcome, S3Sink, Sink, StoredObject,
};
use ddb_audit::value::Item;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::{MotoServer, OutageProxy};

const BUCKET: &str = "audit-bucket";
const NOW: Timestamp = Timestamp {
    unix_millis: 1_795_780_000_000,
};

/// A client for the local server: fixed test credentials, path-style, and quick retries
/// (the SDK's standard retry, with a short backoff so outages fail fast).
fn client(endpoint: &str) -> Client {
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .http_client(ddb_audit::store::https_client())
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(2)
                .with_initial_backoff(Duration::from_millis(20)),
        )
        .build();
    Client::from_conf(config)
}

/// Creates the bucket with Object Lock (which turns versioning on) and a default
/// retention (GOVERNANCE here: the mode does not matter to the writer, which only needs
/// every new object to come back locked).
async fn locked_bucket(client: &Client) {
    client
        .create_bucket()
        .bucket(BUCKET)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .expect("create bucket");
    let rule = ObjectLockRule::builder()
        .default_retention(
            DefaultRetention::builder()
                .mode(ObjectLockRetentionMode::Governance)
                .days(1)
                .build(),
        )
        .build();
    client
        .put_object_lock_configuration()
        .bucket(BUCKET)
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .rule(rule)
                .build(),
        )
        .send()
        .await
        .expect("object lock configuration");
    // (moto's GetBucketVersioning reply does not parse in the SDK; `assert_stored` checks
    // instead that every object got a real version id.)
}

fn settings(prefix: &str, mode: Mode) -> Settings {
    Settings {
        prefix: prefix.to_owned(),
        mode,
        render: RenderOptions::default(),
        max_concurrency: 8,
        write_margin: std::time::Duration::from_secs(10),
    }
}

fn sample_events() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            (stem, std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "expected the sample events in {}",
        dir.display()
    );
    files
}

fn sequence_numbers(event: &[u8]) -> Vec<String> {
    let event: Value = serde_json::from_slice(event).unwrap();
    event["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["dynamodb"]["SequenceNumber"].as_str().unwrap().to_owned())
        .collect()
}

fn failures(invocation: &Invocation) -> Vec<String> {
    let response = invocation
        .outcome
        .as_ref()
        .unwrap_or_else(|e| panic!("invocation failed: {e:?}"));
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap())
        .collect()
}

/// Every object version under `prefix`: key to the number of versions.
async fn versions(client: &Client, prefix: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    let page = client
        .list_object_versions()
        .bucket(BUCKET)
        .prefix(prefix)
        .send()
        .await
        .expect("list object versions");
    // The tests write far fewer than the 1000 versions one page holds.
    assert_ne!(page.is_truncated(), Some(true));
    for version in page.versions() {
        *counts.entry(version.key().unwrap().to_owned()).or_insert(0) += 1;
    }
    assert!(page.delete_markers().is_empty());
    counts
}

async fn keys_under(client: &Client, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.expect("list objects");
        keys.extend(page.contents().iter().map(|o| o.key().unwrap().to_owned()));
    }
    keys
}

/// Asserts the stored object is `expected`, byte for byte, with its SHA-256 checksum
/// stored, its content headers, and the bucket's default Object Lock retention applied.
async fn assert_stored(client: &Client, key: &str, expected: &StoredObject) {
    let head = client
        .head_object()
        .bucket(BUCKET)
        .key(key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap_or_else(|e| panic!("head {key}: {e:?}"));
    let checksum = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&expected.body));
    assert_eq!(head.checksum_sha256(), Some(checksum.as_str()), "{key}");
    assert_eq!(
        head.object_lock_mode(),
        Some(&ObjectLockMode::Governance),
        "{key}"
    );
    assert!(head.object_lock_retain_until_date().is_some(), "{key}");
    // Versioning is on (Object Lock requires it): the object has a real version id.
    assert!(head.version_id().is_some_and(|v| v != "null"), "{key}");
    assert_eq!(head.content_type(), Some(expected.content_type), "{key}");
    assert_eq!(head.content_encoding(), expected.content_encoding, "{key}");
    let metadata: Metadata = head
        .metadata()
        .map(|m| m.clone().into_iter().collect())
        .unwrap_or_default();
    assert_eq!(metadata, expected.metadata, "{key}");
    let body = client
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get {key}: {e:?}"))
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(body.as_ref(), expected.body.as_slice(), "{key}");
}

// Every sample event, in both modes, lands in S3 exactly as the in-memory sink holds it:
// same keys, same bytes, checksummed, locked.
#[tokio::test]
async fn every_sample_event_in_both_modes_is_stored_exactly() {
    let moto = MotoServer::start();
    let s3 = client(&moto.endpoint());
    locked_bucket(&s3).await;
    let sink = Arc::new(S3Sink::new(s3.clone(), BUCKET));
    for (name, event) in sample_events() {
        for (mode, label) in [(Mode::Record, "record"), (Mode::Batch, "batch")] {
            let prefix = format!("{name}/{label}/");
            let settings = settings(&prefix, mode);
            let memory = Arc::new(MemorySink::new());
            assert!(failures(&handle(&memory, &settings, &event, NOW).await).is_empty());
            let expected = memory.objects();

            let invocation = handle(&sink, &settings, &event, NOW).await;
            assert!(failures(&invocation).is_empty(), "{name} {label}");
            assert_eq!(invocation.metrics.objects_written, expected.len() as u64);
            assert_eq!(
                invocation.metrics.bytes_written,
                expected.values().map(|o| o.body.len() as u64).sum::<u64>()
            );
            let stored = keys_under(&s3, &prefix).await;
            assert_eq!(
                stored,
                expected.keys().cloned().collect::<Vec<_>>(),
                "{name} {label}"
            );
            for (key, object) in &expected {
                assert!(key.len() <= key::MAX_KEY_BYTES, "{key}");
                assert_stored(&s3, key, object).await;
            }
        }
    }
}

// A batch delivered twice leaves exactly one version of each document; the second
// delivery only finds duplicates.
#[tokio::test]
async fn batch_delivered_twice_leaves_one_version_per_document() {
    let moto = MotoServer::start();
    let s3 = client(&moto.endpoint());
    locked_bucket(&s3).await;
    let sink = Arc::new(S3Sink::new(s3.clone(), BUCKET));
    for (name, event) in sample_events() {
        for (mode, label) in [(Mode::Record, "record"), (Mode::Batch, "batch")] {
            let prefix = format!("twice/{name}/{label}/");
            let first = handle(&sink, &settings(&prefix, mode), &event, NOW).await;
            assert!(failures(&first).is_empty());
            let second = handle(&sink, &settings(&prefix, mode), &event, NOW).await;
            assert!(failures(&second).is_empty());
            assert_eq!(second.metrics.objects_written, 0, "{name} {label}");
            assert_eq!(
                second.metrics.duplicates_avoided,
                first.metrics.objects_written
            );
            let versions = versions(&s3, &prefix).await;
            assert_eq!(versions.len() as u64, first.metrics.objects_written);
            assert!(
                versions.values().all(|&n| n == 1),
                "{name} {label}: {versions:?}"
            );
        }
    }
}

// A second put of an existing key is answered 412 and reported AlreadyExists; the first
// object is untouched and has one version.
#[tokio::test]
async fn existing_key_is_already_exists_and_untouched() {
    let moto = MotoServer::start();
    let s3 = client(&moto.endpoint());
    locked_bucket(&s3).await;
    let sink = S3Sink::new(s3.clone(), BUCKET);
    let object = |body: &[u8]| Object {
        key: "once/doc.json".to_owned(),
        body: body.to_vec(),
        content_type: JSON,
        content_encoding: None,
        metadata: Metadata::from([("records".to_owned(), body.len().to_string())]),
    };
    assert_eq!(
        sink.put(object(b"{\"first\":1}")).await.unwrap(),
        PutOutcome::Written
    );
    assert_eq!(
        sink.put(object(b"{\"second\":2}")).await.unwrap(),
        PutOutcome::AlreadyExists
    );
    let expected = StoredObject {
        body: b"{\"first\":1}".to_vec(),
        content_type: JSON,
        content_encoding: None,
        metadata: Metadata::from([("records".to_owned(), "11".to_owned())]),
    };
    assert_stored(&s3, "once/doc.json", &expected).await;
    assert_eq!(versions(&s3, "once/").await["once/doc.json"], 1);
    // Head tells the first object's metadata, and nothing for a key without an object.
    assert_eq!(
        sink.head("once/doc.json").await.unwrap(),
        Some(expected.metadata.clone())
    );
    assert_eq!(sink.head("once/missing.json").await.unwrap(), None);
}

/// One INSERT record of table Orders with the given keys.
fn record_with_keys(seq: &str, event_id: &str, keys: Value) -> Value {
    json!({
        "eventID": event_id,
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "ap-northeast-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_795_771_900,
            "Keys": keys,
            "NewImage": keys,
            "SequenceNumber": seq,
            "SizeBytes": 3100,
            "StreamViewType": "NEW_AND_OLD_IMAGES"
        },
        "eventSourceARN": "arn:aws:dynamodb:ap-northeast-1:123456789012:table/Orders/stream/2026-11-01T00:00:00.000"
    })
}

// Item keys with '/', Unicode, binary and a 2 KB value are stored under valid keys, and
// each item's documents are found under the prefix the CLI computes from its key.
#[tokio::test]
async fn awkward_item_keys_are_stored_and_found_by_item_prefix() {
    let moto = MotoServer::start();
    let s3 = client(&moto.endpoint());
    locked_bucket(&s3).await;
    let sink = Arc::new(S3Sink::new(s3.clone(), BUCKET));

    let big = format!("a/b%c,d=e 日本語😀{}", "é".repeat(1000)); // > 2000 bytes
    let binary = base64::engine::general_purpose::STANDARD.encode([0_u8, 1, 2, 255, b'/']);
    let mut records = vec![
        record_with_keys(
            "900000000000000000001",
            "k1",
            json!({"pk": {"S": "a/b"}, "sk": {"S": "日本語😀"}}),
        ),
        record_with_keys(
            "900000000000000000002",
            "k2",
            json!({"pk": {"S": big}, "sk": {"B": binary}}),
        ),
        record_with_keys(
            "900000000000000000003",
            "k3",
            json!({"pk": {"S": big}, "sk": {"S": "x".repeat(1024)}}),
        ),
        record_with_keys(
            "900000000000000000004",
            "k4",
            json!({"pk": {"S": "a/b"}, "sk": {"S": "日本語😀"}}),
        ),
    ];
    let edge: Value = serde_json::from_slice(
        &sample_events()
            .into_iter()
            .find(|(n, _)| n == "item-key-edge")
            .expect("events/item-key-edge.json")
            .1,
    )
    .unwrap();
    records.extend(edge["Records"].as_array().unwrap().iter().cloned());
    let event = serde_json::to_vec(&json!({ "Records": records })).unwrap();

    let invocation = handle(&sink, &settings("edge/", Mode::Record), &event, NOW).await;
    assert!(failures(&invocation).is_empty());
    assert_eq!(invocation.metrics.objects_written, records.len() as u64);

    let mut per_item: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for record in &records {
        let keys_text = record["dynamodb"]["Keys"].to_string();
        let keys = serde_json::from_str::<Item>(&keys_text).unwrap();
        let prefix = key::item_prefix("edge/", "Orders", &keys);
        per_item
            .entry(prefix)
            .or_default()
            .push(record["eventID"].as_str().unwrap().to_owned());
    }
    for (prefix, event_ids) in &per_item {
        let listed = keys_under(&s3, prefix).await;
        let listed_ids: Vec<&str> = listed
            .iter()
            .map(|k| {
                assert!(k.len() <= key::MAX_KEY_BYTES, "{} bytes: {k}", k.len());
                let leaf = k.rsplit('/').next().unwrap();
                &leaf[key::SEQUENCE_WIDTH + 1..leaf.len() - ".json".len()]
            })
            .collect();
        // In stream order, exactly this item's documents.
        assert_eq!(listed_ids, *event_ids, "{prefix}");
    }
    assert_eq!(
        per_item.values().map(Vec::len).sum::<usize>(),
        records.len()
    );
}

// While S3 is unreachable every record is reported (lowest first) and nothing is claimed;
// when it is back, the re-delivered batch completes what was missing and nothing is lost.
#[tokio::test]
async fn outage_reports_failures_and_redelivery_loses_nothing() {
    let moto = MotoServer::start();
    let direct = client(&moto.endpoint());
    locked_bucket(&direct).await;
    let proxy = OutageProxy::start(moto.port());
    let sink = Arc::new(S3Sink::new(client(&proxy.endpoint()), BUCKET));
    let (_, event) = sample_events()
        .into_iter()
        .find(|(n, _)| n == "mixed-batch")
        .expect("events/mixed-batch.json");
    let all = sequence_numbers(&event);
    let records: Vec<Value> = serde_json::from_slice::<Value>(&event).unwrap()["Records"]
        .as_array()
        .unwrap()
        .clone();
    let first_two = serde_json::to_vec(&json!({ "Records": records[..2] })).unwrap();

    for (mode, label) in [(Mode::Record, "record"), (Mode::Batch, "batch")] {
        let prefix = format!("outage/{label}/");
        let settings = settings(&prefix, mode);
        // Before the outage, part of the stream was written.
        let before = handle(&sink, &settings, &first_two, NOW).await;
        assert!(failures(&before).is_empty());
        let written_before = versions(&direct, &prefix).await;

        proxy.take_down();
        let during = handle(&sink, &settings, &event, NOW).await;
        assert_eq!(
            failures(&during),
            all,
            "{label}: every record must be reported"
        );
        assert_eq!(during.metrics.failed_records, all.len() as u64);
        assert_eq!(versions(&direct, &prefix).await, written_before);

        proxy.bring_back();
        let after = handle(&sink, &settings, &event, NOW).await;
        assert!(failures(&after).is_empty(), "{label}");

        // Everything the in-memory sink would hold for the whole stream is now in S3,
        // once each.
        let memory = Arc::new(MemorySink::new());
        handle(&memory, &settings, &first_two, NOW).await;
        handle(&memory, &settings, &event, NOW).await;
        let expected = memory.objects();
        let stored = versions(&direct, &prefix).await;
        assert_eq!(
            stored.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{label}"
        );
        assert!(stored.values().all(|&n| n == 1), "{label}: {stored:?}");
        for (key, object) in &expected {
            assert_stored(&direct, key, object).await;
        }
    }
}

// A slow S3 never makes an invocation time out: with every answer held far past the S3
// timeouts, the real SDK client gives up on its own and the handler answers before the
// invocation's deadline, every record reported; once S3 answers again the re-delivery
// stores each document once (a write that landed while its answer was held costs a 412).
#[tokio::test]
async fn a_slow_s3_never_makes_the_invocation_time_out() {
    let moto = MotoServer::start();
    let direct = client(&moto.endpoint());
    locked_bucket(&direct).await;
    let proxy = OutageProxy::start(moto.port());
    let timeouts = S3Timeouts {
        attempt: Duration::from_millis(300),
        operation: Duration::from_millis(1_000),
    };
    let slow_client = Client::from_conf(
        client(&proxy.endpoint())
            .config()
            .to_builder()
            .timeout_config(timeouts.sdk_config())
            .build(),
    );
    let sink = Arc::new(S3Sink::new(slow_client, BUCKET));
    let (_, event) = sample_events()
        .into_iter()
        .find(|(n, _)| n == "mixed-batch")
        .expect("events/mixed-batch.json");
    let all = sequence_numbers(&event);
    let deadline_after = Duration::from_secs(4);

    for (mode, label) in [(Mode::Record, "record"), (Mode::Batch, "batch")] {
        let prefix = format!("slow/{label}/");
        let mut settings = settings(&prefix, mode);
        settings.write_margin = timeouts.operation;
        proxy.hold_answers(Duration::from_secs(60));
        let start = tokio::time::Instant::now();
        let budget = Budget::until(start + deadline_after, settings.write_margin);
        let slow = handle_within(&sink, &settings, &event, NOW, &budget).await;
        let took = start.elapsed();
        assert!(
            took < deadline_after,
            "{label}: answered after {took:?}, past the deadline"
        );
        assert_eq!(failures(&slow), all, "{label}: every record is reported");

        proxy.hold_answers(Duration::ZERO);
        let again = handle(&sink, &settings, &event, NOW).await;
        assert!(failures(&again).is_empty(), "{label}");
        let stored = versions(&direct, &prefix).await;
        assert!(stored.values().all(|&n| n == 1), "{label}: {stored:?}");
        let memory = Arc::new(MemorySink::new());
        handle(&memory, &settings, &event, NOW).await;
        assert_eq!(
            stored.keys().collect::<Vec<_>>(),
            memory.objects().keys().collect::<Vec<_>>(),
            "{label}"
        );
    }
}

/// How many times each eventID is stored under `prefix`, over every object (gzip JSON
/// Lines and single documents alike), read back from S3.
async fn stored_event_ids(client: &Client, prefix: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for key in keys_under(client, prefix).await {
        let body = client
            .get_object()
            .bucket(BUCKET)
            .key(&key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("get {key}: {e:?}"))
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes();
        let mut text = String::new();
        if key.ends_with(".gz") {
            flate2::read::GzDecoder::new(body.as_ref())
                .read_to_string(&mut text)
                .unwrap();
        } else {
            text = String::from_utf8(body.to_vec()).unwrap();
        }
        for line in text.lines() {
            let doc: Value = serde_json::from_str(line).unwrap();
            *counts
                .entry(doc["event_id"].as_str().unwrap().to_owned())
                .or_insert(0) += 1;
        }
    }
    counts
}

// Batch mode against S3: an outage in the middle of a batch, then a write S3 stored whose
// answer counted as lost, then longer re-deliveries: every document is in the bucket
// exactly once, in objects written once each, with the metadata that says where they end.
#[tokio::test]
async fn batch_mode_retries_store_each_document_exactly_once() {
    let moto = MotoServer::start();
    let direct = client(&moto.endpoint());
    locked_bucket(&direct).await;
    let proxy = OutageProxy::start(moto.port());
    let sink = Arc::new(S3Sink::new(client(&proxy.endpoint()), BUCKET));
    let prefix = "exactly-once/";
    let settings = settings(prefix, Mode::Batch);
    // Twelve records: 1-3 in one hour, 4-12 in the next.
    let stream: Vec<Value> = (1..=12)
        .map(|i| {
            let mut record = record_with_keys(
                &format!("7000000000000000000000000000000000000{i:03}"),
                &format!("e{i}"),
                json!({"pk": {"S": format!("o{i}")}}),
            );
            if i > 3 {
                record["dynamodb"]["ApproximateCreationDateTime"] = json!(1_795_771_900 + 3600);
            }
            record
        })
        .collect();
    let event = |records: &[Value]| serde_json::to_vec(&json!({ "Records": records })).unwrap();
    let memory = Arc::new(MemorySink::new());

    // 1. The first hour is stored, then S3 goes away: every record is reported and the
    //    second hour is not written.
    let first_hour = handle(&sink, &settings, &event(&stream[..3]), NOW).await;
    assert!(failures(&first_hour).is_empty());
    proxy.take_down();
    let during = handle(&sink, &settings, &event(&stream[..6]), NOW).await;
    assert_eq!(failures(&during).len(), 6);
    proxy.bring_back();

    // 2. Records 4-6 are stored but (as far as the function knows) the answer was lost:
    //    the same write, with the records reported.
    let stored = handle(&sink, &settings, &event(&stream[3..6]), NOW).await;
    assert!(failures(&stored).is_empty());

    // 3. Lambda re-delivers from record 4 and fills the batch: only 7-12 are new.
    let redelivery = handle(&sink, &settings, &event(&stream[3..]), NOW).await;
    assert!(failures(&redelivery).is_empty());
    assert_eq!(
        (
            redelivery.metrics.objects_written,
            redelivery.metrics.duplicates_avoided
        ),
        (1, 1)
    );
    // And once more from the start, as a whole-batch retry: nothing new.
    let again = handle(&sink, &settings, &event(&stream), NOW).await;
    assert!(failures(&again).is_empty());
    assert_eq!(again.metrics.objects_written, 0);

    let expected: BTreeMap<String, usize> = stream
        .iter()
        .map(|r| (r["eventID"].as_str().unwrap().to_owned(), 1))
        .collect();
    assert_eq!(stored_event_ids(&direct, prefix).await, expected);
    let versions = versions(&direct, prefix).await;
    assert_eq!(versions.len(), 3, "{versions:?}");
    assert!(versions.values().all(|&n| n == 1), "{versions:?}");
    // The in-memory sink given the same deliveries holds the same objects, byte for byte
    // and with the same metadata.
    for records in [&stream[..3], &stream[3..6], &stream[3..], &stream[..]] {
        handle(&memory, &settings, &event(records), NOW).await;
    }
    let objects = memory.objects();
    assert_eq!(
        objects.keys().collect::<Vec<_>>(),
        versions.keys().collect::<Vec<_>>()
    );
    for (key, object) in &objects {
        assert_stored(&direct, key, object).await;
    }
    let last = &objects.values().last().unwrap().metadata;
    assert_eq!(
        (
            last["first-event-id"].as_str(),
            last["last-sequence-number"].as_str(),
            last["records"].as_str()
        ),
        ("e7", "7000000000000000000000000000000000000012", "6")
    );
}
