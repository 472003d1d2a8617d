//! A failure-queue message, the range of a shard it names, what of that range the stream
//! still held, and the gap record for what it did not. This module is pure: no SDK, no IO,
//! no clock (the time is a parameter).
//!
//! Lambda's on-failure record for a stream source names the batch it gave up on, not its
//! records: `DDBStreamBatchInfo` holds `shardId`, `startSequenceNumber`,
//! `endSequenceNumber`, `streamArn` and `batchSize` (plus the times of the first and last
//! record, unused here).

use std::cmp::Ordering;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::key;
use crate::record::StreamArn;
use crate::timestamp::Timestamp;

/// The `schema` of a gap record.
pub const GAP_SCHEMA: &str = "ddb-audit-gap/1";

/// The folder, under the audit prefix, that holds gap records.
pub const GAPS_FOLDER: &str = "gaps/";

/// The range of one shard a message names, inclusive at both ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub stream_arn: String,
    pub shard_id: String,
    pub start: String,
    pub end: String,
    /// Records Lambda counted in the batch, when the message says.
    pub batch_size: Option<u64>,
}

/// A message that is not the description of a stream batch.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("not a JSON object with DDBStreamBatchInfo")]
    Json(#[source] serde_json::Error),
    #[error("DDBStreamBatchInfo.{field} {value:?} is not {expected}")]
    Field {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "DDBStreamBatchInfo")]
    info: BatchInfo,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchInfo {
    shard_id: String,
    start_sequence_number: String,
    end_sequence_number: String,
    stream_arn: String,
    batch_size: Option<u64>,
}

impl Range {
    /// Reads a failure-queue message body.
    pub fn from_message(body: &str) -> Result<Self, MessageError> {
        let Envelope { info } = serde_json::from_str(body).map_err(MessageError::Json)?;
        let field = |field, value: &str, expected| MessageError::Field {
            field,
            value: value.to_owned(),
            expected,
        };
        if StreamArn::parse(&info.stream_arn).is_none() {
            return Err(field(
                "streamArn",
                &info.stream_arn,
                "a DynamoDB stream ARN",
            ));
        }
        for (name, seq) in [
            ("startSequenceNumber", &info.start_sequence_number),
            ("endSequenceNumber", &info.end_sequence_number),
        ] {
            if key::compare_sequence_numbers(seq, "0").is_none() {
                return Err(field(name, seq, "a decimal sequence number"));
            }
        }
        if compare(&info.start_sequence_number, &info.end_sequence_number) == Ordering::Greater {
            return Err(field(
                "endSequenceNumber",
                &info.end_sequence_number,
                "at or after startSequenceNumber",
            ));
        }
        Ok(Self {
            stream_arn: info.stream_arn,
            shard_id: info.shard_id,
            start: info.start_sequence_number,
            end: info.end_sequence_number,
            batch_size: info.batch_size,
        })
    }

    /// The table whose stream this is (checked when the message was read).
    pub fn table(&self) -> &str {
        StreamArn::parse(&self.stream_arn).map_or("", |arn| arn.table)
    }

    /// Whether `seq` lies within the range.
    pub fn contains(&self, seq: &str) -> bool {
        compare(seq, &self.start) != Ordering::Less && compare(seq, &self.end) != Ordering::Greater
    }

    /// Whether `seq` lies beyond the range's end.
    pub fn is_past(&self, seq: &str) -> bool {
        compare(seq, &self.end) == Ordering::Greater
    }
}

/// Sequence numbers by value; one that is not a number sorts last (never in a range).
fn compare(a: &str, b: &str) -> Ordering {
    key::compare_sequence_numbers(a, b).unwrap_or(Ordering::Greater)
}

/// Why part of a range could not be read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The stream refused the range: older than its 24-hour retention
    /// (`TrimmedDataAccessException`).
    Trimmed,
    /// The stream or shard no longer exists (`ResourceNotFoundException`): the stream was
    /// disabled or the table deleted, more than 24 hours ago.
    StreamNotFound,
    /// The first record the stream returned lies after the range's start: the start was
    /// trimmed away meanwhile.
    StartsLater,
    /// The shard ended (or stopped answering) before the range's end.
    EndsEarly,
}

impl Reason {
    /// What the report says.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Trimmed => "the stream no longer holds the range (trimmed: older than 24 hours)",
            Self::StreamNotFound => "the stream or shard no longer exists",
            Self::StartsLater => "the stream no longer holds the range's first records",
            Self::EndsEarly => "the shard ended before the range's last record",
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Trimmed => "trimmed",
            Self::StreamNotFound => "stream_not_found",
            Self::StartsLater => "starts_later",
            Self::EndsEarly => "ends_early",
        }
    }
}

/// A stretch of a range with no records read back: the records with sequence numbers
/// greater than `after` (`None`: from the range's start on, inclusive) and less than
/// `before` (`None`: up to the range's end, inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub reason: Reason,
    pub after: Option<String>,
    pub before: Option<String>,
}

/// What of `range` the records read back (their sequence numbers, in stream order, those
/// within the range only) fail to cover. `complete` says whether reading reached the
/// range's end (a record past it, or the end record itself).
pub fn missing(range: &Range, read: &[&str], complete: bool) -> Vec<Missing> {
    let mut gaps = Vec::new();
    let (Some(first), Some(last)) = (read.first(), read.last()) else {
        return vec![Missing {
            reason: Reason::EndsEarly,
            after: None,
            before: None,
        }];
    };
    // The range's first record was delivered to Lambda, so it exists unless trimmed.
    if compare(first, &range.start) == Ordering::Greater {
        gaps.push(Missing {
            reason: Reason::StartsLater,
            after: None,
            before: Some((*first).to_owned()),
        });
    }
    if !complete && compare(last, &range.end) == Ordering::Less {
        gaps.push(Missing {
            reason: Reason::EndsEarly,
            after: Some((*last).to_owned()),
            before: None,
        });
    }
    gaps
}

/// The whole range, missing for `reason`.
pub fn all_missing(reason: Reason) -> Vec<Missing> {
    vec![Missing {
        reason,
        after: None,
        before: None,
    }]
}

/// The gap record's key: `<prefix>gaps/table=<table>/<start, 40 digits>-<end, 40 digits>.json`.
/// A pure function of the range, so recovering the same message twice writes it once.
pub fn gap_key(prefix: &str, range: &Range) -> String {
    let shard: String = range
        .shard_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{}{shard}/{:0>40}-{:0>40}.json",
        key::table_prefix(&format!("{prefix}{GAPS_FOLDER}"), range.table()),
        range.start,
        range.end,
    )
}

/// The gap record (schema `ddb-audit-gap/1`, `schema/gap.schema.json`): which range Lambda
/// gave up on, what of it the stream no longer held and why, and how many of its records
/// were recovered.
pub fn gap_record(
    range: &Range,
    missing: &[Missing],
    recovered_records: usize,
    detail: Option<&str>,
    now: Timestamp,
) -> Value {
    json!({
        "schema": GAP_SCHEMA,
        "table": range.table(),
        "stream_arn": range.stream_arn,
        "shard_id": range.shard_id,
        "start_sequence_number": range.start,
        "end_sequence_number": range.end,
        "batch_size": range.batch_size,
        "missing": missing.iter().map(|m| json!({
            "reason": m.reason.as_str(),
            "after": m.after,
            "before": m.before,
        })).collect::<Vec<_>>(),
        "recovered_records": recovered_records,
        "detail": detail,
        "recorded_at": now.to_rfc3339(),
    })
}

/// A record as GetRecords returns it, made what Lambda delivers: the same fields plus the
/// stream's ARN as `eventSourceARN`.
pub fn as_delivered(mut record: Value, stream_arn: &str) -> Value {
    if let Value::Object(fields) = &mut record {
        fields.insert("eventSourceARN".to_owned(), json!(stream_arn));
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str =
        "arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/2026-11-27T00:00:00.000";

    fn message(start: &str, end: &str) -> String {
        json!({
            "requestContext": {"condition": "RetryAttemptsExhausted"},
            "DDBStreamBatchInfo": {
                "shardId": "shardId-0001", "startSequenceNumber": start,
                "endSequenceNumber": end, "batchSize": 3, "streamArn": ARN,
                "approximateArrivalOfFirstRecord": "2026-11-27T00:00:01Z",
                "approximateArrivalOfLastRecord": "2026-11-27T00:00:02Z"
            }
        })
        .to_string()
    }

    fn range(start: &str, end: &str) -> Range {
        Range::from_message(&message(start, end)).unwrap()
    }

    // Lambda's on-failure record for a stream source is read into the range it names.
    #[test]
    fn the_on_failure_record_names_the_range() {
        let r = range("100", "300");
        assert_eq!(
            r,
            Range {
                stream_arn: ARN.to_owned(),
                shard_id: "shardId-0001".to_owned(),
                start: "100".to_owned(),
                end: "300".to_owned(),
                batch_size: Some(3),
            }
        );
        assert_eq!(r.table(), "Orders");
        assert!(r.contains("100") && r.contains("300") && r.contains("0250"));
        assert!(!r.contains("99") && !r.contains("301"));
        assert!(r.is_past("1000") && !r.is_past("300"));
    }

    // A message that is not a batch description, or names no valid range, is refused
    // with the field at fault, never taken for an empty range.
    #[test]
    fn a_message_without_a_valid_range_is_refused() {
        assert!(matches!(
            Range::from_message("{\"Records\":[]}"),
            Err(MessageError::Json(_))
        ));
        let err = Range::from_message(&message("12a", "300")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "DDBStreamBatchInfo.startSequenceNumber \"12a\" is not a decimal sequence number"
        );
        let err = Range::from_message(&message("300", "100")).unwrap_err();
        assert!(err.to_string().contains("endSequenceNumber"), "{err}");
    }

    // A range read back whole, to its end, misses nothing.
    #[test]
    fn a_range_read_whole_misses_nothing() {
        let r = range("100", "300");
        assert_eq!(missing(&r, &["100", "200", "300"], true), []);
    }

    // Records starting after the range's start mean its beginning was trimmed away.
    #[test]
    fn records_starting_late_are_a_gap_before_them() {
        let r = range("100", "300");
        assert_eq!(
            missing(&r, &["200", "300"], true),
            [Missing {
                reason: Reason::StartsLater,
                after: None,
                before: Some("200".to_owned()),
            }]
        );
    }

    // A shard that ends before the range's end leaves a gap after the last record read;
    // nothing read at all is the whole range.
    #[test]
    fn a_shard_ending_early_is_a_gap_after_the_last_record() {
        let r = range("100", "300");
        assert_eq!(
            missing(&r, &["100", "200"], false),
            [Missing {
                reason: Reason::EndsEarly,
                after: Some("200".to_owned()),
                before: None,
            }]
        );
        assert_eq!(missing(&r, &[], false), all_missing(Reason::EndsEarly));
    }

    // The gap key is a pure function of the range, under gaps/ and the table, with the
    // sequence numbers padded to sort.
    #[test]
    fn the_gap_key_is_the_range_under_gaps() {
        assert_eq!(
            gap_key("audit/", &range("100", "300")),
            format!(
                "audit/gaps/table=Orders/shardId-0001/{:0>40}-{:0>40}.json",
                "100", "300"
            )
        );
    }

    // The gap record says what was missing and why, with the time it was recorded.
    #[test]
    fn the_gap_record_names_the_range_and_the_reason() {
        let record = gap_record(
            &range("100", "300"),
            &all_missing(Reason::Trimmed),
            0,
            Some("TrimmedDataAccessException"),
            Timestamp {
                unix_millis: 1_795_746_700_000,
            },
        );
        assert_eq!(record["schema"], GAP_SCHEMA);
        assert_eq!(record["table"], "Orders");
        assert_eq!(
            record["missing"],
            json!([{"reason": "trimmed", "after": null, "before": null}])
        );
        assert_eq!(record["recorded_at"], "2026-11-27T02:31:40.000Z");
    }

    // A record read back from the stream gains the eventSourceARN Lambda adds.
    #[test]
    fn a_record_read_back_gains_the_event_source_arn() {
        let record = as_delivered(json!({"eventID": "e"}), ARN);
        assert_eq!(record, json!({"eventID": "e", "eventSourceARN": ARN}));
    }

    // Every gap record the recovery writes is valid against schema/gap.schema.json.
    #[test]
    fn gap_records_match_their_schema() {
        let schema: Value =
            serde_json::from_str(include_str!("../../schema/gap.schema.json")).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let now = Timestamp {
            unix_millis: 1_795_746_700_000,
        };
        let r = range("100", "300");
        for (missing, recovered, detail) in [
            (
                all_missing(Reason::Trimmed),
                0,
                Some("TrimmedDataAccessException"),
            ),
            (
                all_missing(Reason::StreamNotFound),
                0,
                Some("ResourceNotFoundException"),
            ),
            (missing(&r, &["200"], false), 1, None),
        ] {
            let record = gap_record(&r, &missing, recovered, detail, now);
            let errors: Vec<String> = validator
                .iter_errors(&record)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{record}: {errors:?}");
        }
    }
}
