//! Investigations across items and layouts against the in-memory read adapter: the same
//! stream records stored once as the record-mode function stores them and once as the
//! batch-mode function does; `changes`, `history` and `replay` must print the same thing
//! from both, exactly.

use std::collections::BTreeMap;
use std::io::Write as _;

use ddb_audit::auditor::changes::{self, ChangesArgs};
use ddb_audit::auditor::command::{self, CommandError, ItemRef, Location};
use ddb_audit::auditor::window::Window;
use ddb_audit::store::bucket::MemoryBucket;
use ddb_audit::{RenderOptions, Rendered, Timestamp, key, render_record};

const PREFIX: &str = "audit/";
const ARN: &str =
    "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-01-01T00:00:00.000";
/// 2026-11-27T10:00:00Z.
const T10: u64 = 1_795_773_600;

fn record(
    seq: u32,
    pk: &str,
    name: &str,
    time: u64,
    old: Option<&str>,
    new: Option<&str>,
) -> String {
    let image = |field: &str, image: Option<&str>| {
        image.map_or(String::new(), |i| format!(r#","{field}":{i}"#))
    };
    format!(
        r#"{{"eventID":"e{seq}","eventName":"{name}","eventVersion":"1.1","awsRegion":"eu-west-1","eventSourceARN":"{ARN}","dynamodb":{{"ApproximateCreationDateTime":{time},"Keys":{{"pk":{{"S":"{pk}"}}}}{}{},"SequenceNumber":"{seq}00","SizeBytes":60,"StreamViewType":"NEW_AND_OLD_IMAGES"}}}}"#,
        image("OldImage", old),
        image("NewImage", new),
    )
}

fn item(pk: &str, status: &str) -> String {
    format!(r#"{{"pk":{{"S":"{pk}"}},"status":{{"S":"{status}"}},"total":{{"N":"10.50"}}}}"#)
}

/// Two items over three hours: o#1 created 10:00, paid 11:00, deleted 12:00; o#2 created
/// 10:30 and cancelled 11:30.
fn stream() -> Vec<String> {
    let (a1, a2) = (item("o#1", "NEW"), item("o#1", "PAID"));
    let (b1, b2) = (item("o#2", "NEW"), item("o#2", "CANCELLED"));
    vec![
        record(1, "o#1", "INSERT", T10, None, Some(&a1)),
        record(2, "o#2", "INSERT", T10 + 1800, None, Some(&b1)),
        record(3, "o#1", "MODIFY", T10 + 3600, Some(&a1), Some(&a2)),
        record(4, "o#2", "MODIFY", T10 + 5400, Some(&b1), Some(&b2)),
        record(5, "o#1", "REMOVE", T10 + 7200, Some(&a2), None),
    ]
}

/// The stream as the record-mode function stores it: one object per record.
fn record_mode(records: &[String]) -> MemoryBucket {
    let bucket = MemoryBucket::new("audit-bucket");
    for raw in records {
        let Rendered::Document { record, json, .. } = render_record(raw, &RenderOptions::default())
        else {
            panic!("readable");
        };
        bucket.put(&key::record_key(PREFIX, &record), json, BTreeMap::new());
    }
    bucket
}

/// One line of a batch object: sequence number, eventID, document.
type Line = (String, String, Vec<u8>);

/// The stream as the batch-mode function stores it, delivered in batches of `batch`: one
/// gzip JSON Lines object per run of records of one hour, with its metadata.
fn batch_mode(records: &[String], batch: usize) -> MemoryBucket {
    let bucket = MemoryBucket::new("audit-bucket");
    for delivery in records.chunks(batch) {
        let mut runs: Vec<((String, String), Vec<Line>)> = Vec::new();
        for raw in delivery {
            let Rendered::Document { record, json, .. } =
                render_record(raw, &RenderOptions::default())
            else {
                panic!("readable");
            };
            let partition = key::batch_partition(record.approximate_creation_time);
            let line = (
                record.sequence_number.to_string(),
                record.event_id.to_string(),
                json,
            );
            match runs.last_mut() {
                Some((p, lines)) if *p == partition => lines.push(line),
                _ => runs.push((partition, vec![line])),
            }
        }
        for ((dt, hour), lines) in runs {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            for (_, _, json) in &lines {
                gz.write_all(json).unwrap();
                gz.write_all(b"\n").unwrap();
            }
            let metadata = BTreeMap::from([
                (key::RECORDS.to_owned(), lines.len().to_string()),
                (
                    key::LAST_SEQUENCE_NUMBER.to_owned(),
                    lines.last().unwrap().0.clone(),
                ),
                (key::FIRST_EVENT_ID.to_owned(), lines[0].1.clone()),
            ]);
            let object = key::batch_key(PREFIX, "Orders", &dt, &hour, &lines[0].0);
            bucket.put(&object, gz.finish().unwrap(), metadata);
        }
    }
    bucket
}

fn location() -> Location {
    Location::new("audit-bucket", PREFIX)
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

fn changes_with(
    bucket: &MemoryBucket,
    location: &Location,
    args: &ChangesArgs,
) -> Result<(i32, String, String), CommandError> {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let now = at("2026-11-28T00:00:00Z");
    let status = block_on(changes::run(
        bucket,
        location,
        args,
        now,
        None::<std::io::Sink>,
        &mut out,
        &mut err,
    ))?;
    Ok((
        status,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    ))
}

fn changes(bucket: &MemoryBucket, args: &ChangesArgs) -> (i32, String, String) {
    changes_with(bucket, &location(), args).expect("changes answers")
}

fn window(since: &str, until: &str) -> ChangesArgs {
    ChangesArgs {
        table: "Orders".into(),
        since: since.into(),
        until: Some(until.into()),
        ..ChangesArgs::default()
    }
}

/// Everything but the summary line (which counts what each layout had to read).
fn body(out: &str) -> String {
    let mut lines: Vec<&str> = out.lines().collect();
    lines.pop();
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// A window across items in record mode: one line per change, time order, and a summary
/// saying what was read and what matched.
#[test]
fn changes_in_a_window_across_items() {
    let bucket = record_mode(&stream());
    let expected = "\
2026-11-27T10:30:00.000Z  INSERT  pk=\"o#2\"  /pk: ∅ → \"o#2\"
2026-11-27T10:30:00.000Z  INSERT  pk=\"o#2\"  /status: ∅ → \"NEW\"
2026-11-27T10:30:00.000Z  INSERT  pk=\"o#2\"  /total: ∅ → 10.50
2026-11-27T11:00:00.000Z  MODIFY  pk=\"o#1\"  /status: \"NEW\" → \"PAID\"
2026-11-27T11:30:00.000Z  MODIFY  pk=\"o#2\"  /status: \"NEW\" → \"CANCELLED\"
5 documents read (5 objects, 3582 bytes); 3 matched in 2 items; window 2026-11-27T10:15:00.000Z … 2026-11-27T11:30:00.000Z
";
    let got = changes(
        &bucket,
        &window("2026-11-27T10:15:00Z", "2026-11-27T11:30:00Z"),
    );
    assert_eq!(got, (0, expected.to_owned(), String::new()));
}

/// "Which items had /status set to CANCELLED": --path and --value on the same change;
/// --event and --key narrow further; --json prints the stored documents.
#[test]
fn changes_filters_by_path_value_event_and_key() {
    let bucket = record_mode(&stream());
    let mut args = window("2026-11-27T00:00:00Z", "2026-11-27T23:59:59Z");
    args.path = Some("/status".into());
    args.value = Some(r#"{"S":"CANCELLED"}"#.into());
    let (status, out, _) = changes(&bucket, &args);
    assert_eq!(status, 0);
    assert_eq!(
        body(&out),
        "2026-11-27T11:30:00.000Z  MODIFY  pk=\"o#2\"  /status: \"NEW\" → \"CANCELLED\"\n"
    );
    assert!(
        out.ends_with(
            "; 1 matched in 1 items; window 2026-11-27T00:00:00.000Z … 2026-11-27T23:59:59.000Z\n"
        ),
        "{out}"
    );

    let mut args = window("2026-11-27T00:00:00Z", "2026-11-27T23:59:59Z");
    args.event = Some("remove".into());
    assert_eq!(
        body(&changes(&bucket, &args).1),
        "\
2026-11-27T12:00:00.000Z  REMOVE  pk=\"o#1\"  /pk: \"o#1\" → ∅
2026-11-27T12:00:00.000Z  REMOVE  pk=\"o#1\"  /status: \"PAID\" → ∅
2026-11-27T12:00:00.000Z  REMOVE  pk=\"o#1\"  /total: 10.50 → ∅
"
    );

    let mut args = window("2026-11-27T00:00:00Z", "2026-11-27T23:59:59Z");
    args.key = Some("pk=o#2".into());
    args.json = true;
    let (status, out, err) = changes(&bucket, &args);
    assert_eq!(status, 0);
    let ids: Vec<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["event_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids, ["e2", "e4"]);
    assert_eq!(
        err,
        "ddb-audit: 2 documents read (2 objects, 1432 bytes); 2 matched in 1 items; window 2026-11-27T00:00:00.000Z … 2026-11-27T23:59:59.000Z\n"
    );
}

/// The same stream in batch mode (in deliveries of 2, so an hour can span objects) gives
/// the same lines, reading only the partitions of the window.
#[test]
fn changes_are_the_same_in_batch_mode() {
    let (records, batches) = (record_mode(&stream()), batch_mode(&stream(), 2));
    for (since, until, path, value) in [
        ("2026-11-27T10:15:00Z", "2026-11-27T11:30:00Z", None, None),
        (
            "2026-11-27T00:00:00Z",
            "2026-11-28T00:00:00Z",
            Some("/status"),
            Some(r#"{"S":"CANCELLED"}"#),
        ),
        (
            "2026-11-27T11:00:00Z",
            "2026-11-27T11:00:00Z",
            Some("/*"),
            None,
        ),
        (
            "2026-11-27T12:00:00.001Z",
            "2026-11-27T23:00:00Z",
            None,
            None,
        ),
    ] {
        let mut args = window(since, until);
        args.path = path.map(str::to_owned);
        args.value = value.map(str::to_owned);
        let (a, b) = (changes(&records, &args), changes(&batches, &args));
        assert_eq!(
            (a.0, body(&a.1), a.2),
            (b.0, body(&b.1), b.2),
            "{since} {until} {path:?}"
        );
    }
    // Only the 11:00 partition is read for a window inside it.
    let (_, out, _) = changes(
        &batches,
        &window("2026-11-27T11:10:00Z", "2026-11-27T11:40:00Z"),
    );
    assert!(out.ends_with("2 documents read (1 objects, 467 bytes); 1 matched in 1 items; window 2026-11-27T11:10:00.000Z … 2026-11-27T11:40:00.000Z\n"), "{out}");
}

/// A window that needs more objects than the limit is refused with the count, naming
/// --yes and Athena; --yes reads it.
#[test]
fn too_many_objects_ask_for_yes() {
    let bucket = record_mode(&stream());
    let mut small = location();
    small.max_objects = Some(4);
    let args = window("2026-11-27T00:00:00Z", "2026-11-28T00:00:00Z");
    let err = changes_with(&bucket, &small, &args).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the window needs 5 objects under s3://audit-bucket/audit/table=Orders/ (more than 4): add --yes to read them all, narrow --since/--until, or query with Athena (docs/athena.md)"
    );
    let yes = ChangesArgs { yes: true, ..args };
    assert_eq!(changes_with(&bucket, &small, &yes).unwrap().0, 0);
}

/// An unknown table names the tables that exist.
#[test]
fn an_unknown_table_names_the_others() {
    let bucket = record_mode(&stream());
    let args = ChangesArgs {
        table: "Ordres".into(),
        ..window("2026-11-27T00:00:00Z", "2026-11-28T00:00:00Z")
    };
    assert_eq!(
        changes_with(&bucket, &location(), &args)
            .unwrap_err()
            .to_string(),
        "no audit records for table \"Ordres\" under s3://audit-bucket/audit/ (tables found: Orders)"
    );
}

/// A deleted object is reported (stderr) and makes the exit status 2: the window may have
/// lost a change.
#[test]
fn a_deleted_object_is_a_finding() {
    let bucket = batch_mode(&stream(), 5);
    let object = key::batch_key(PREFIX, "Orders", "2026-11-27", "11", "300");
    bucket.delete(&object);
    let (status, _, err) = changes(
        &bucket,
        &window("2026-11-27T00:00:00Z", "2026-11-28T00:00:00Z"),
    );
    assert_eq!(status, 2);
    assert_eq!(
        err,
        format!("ddb-audit: !! {object}: deleted (its latest version is a delete marker)\n")
    );
}

fn history(bucket: &MemoryBucket, location: &Location, pk: &str) -> (i32, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let item = ItemRef {
        table: "Orders".into(),
        key: format!("pk={pk}"),
        redaction: None,
    };
    let status = block_on(command::history(
        bucket, location, &item, false, &mut out, &mut err,
    ))
    .expect("history answers");
    (
        status,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

fn replay(
    bucket: &MemoryBucket,
    location: &Location,
    pk: &str,
    time: &str,
) -> (i32, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let item = ItemRef {
        table: "Orders".into(),
        key: format!("pk={pk}"),
        redaction: None,
    };
    let status = block_on(command::replay(
        bucket,
        location,
        &item,
        at(time),
        false,
        &mut out,
        &mut err,
    ))
    .expect("replay answers");
    (
        status,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

/// history and replay read batch partitions and print exactly what record mode prints.
#[test]
fn history_and_replay_are_the_same_in_batch_mode() {
    let (records, batches) = (record_mode(&stream()), batch_mode(&stream(), 2));
    for pk in ["o#1", "o#2"] {
        let expected = history(&records, &location(), pk);
        assert_eq!(expected.0, 0);
        assert_eq!(history(&batches, &location(), pk), expected, "{pk}");
        for time in [
            "2026-11-27T09:00:00Z",
            "2026-11-27T10:00:00Z",
            "2026-11-27T11:15:00Z",
            "2026-11-27T13:00:00Z",
        ] {
            assert_eq!(
                replay(&batches, &location(), pk, time),
                replay(&records, &location(), pk, time),
                "{pk} {time}"
            );
        }
    }
}

/// A window that starts after the item's creation gives the same uncertainty rules: the
/// trail begins with a MODIFY, so the state before is taken from its old image (a note).
#[test]
fn batch_window_after_creation_is_noted() {
    let batches = batch_mode(&stream(), 2);
    let window = Window::new(at("2026-11-27T11:00:00Z"), at("2026-11-27T23:00:00Z")).unwrap();
    let located = location().within(Some(window));
    let (status, out, err) = replay(&batches, &located, "o#2", "2026-11-27T11:15:00Z");
    assert_eq!(status, 2);
    assert_eq!(out, "null\n");
    assert_eq!(
        err,
        "ddb-audit: Orders pk=\"o#2\" as of 2026-11-27T11:15:00.000Z: 0 of 1 record applied\nddb-audit: the trail cannot tell what the item looked like at 2026-11-27T11:15:00.000Z\nddb-audit: UNCERTAIN: the trail has 1 gap(s) before 2026-11-27T11:15:00.000Z:\n  the trail begins at 2026-11-27T11:30:00.000Z with a MODIFY: the item existed before its first audited change\n"
    );
    // An item with nothing in the window: one line naming the window.
    let window = Window::new(at("2026-11-27T13:00:00Z"), at("2026-11-27T14:00:00Z")).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let item = ItemRef {
        table: "Orders".into(),
        key: "pk=o#2".into(),
        redaction: None,
    };
    let e = block_on(command::history(
        &batches,
        &location().within(Some(window)),
        &item,
        false,
        &mut out,
        &mut err,
    ))
    .unwrap_err();
    assert!(e.to_string().starts_with("no audit records for this key in the batch-mode partitions under s3://audit-bucket/audit/table=Orders/ (2026-11-27T13:00:00.000Z … 2026-11-27T14:00:00.000Z)"), "{e}");
}
