//! One DynamoDB Streams record, read leniently from the raw JSON Lambda delivers.
//!
//! Reading is ours rather than aws_lambda_events' because its `Event` type fails a whole batch
//! on one odd record, dates a record without `ApproximateCreationDateTime` to 1970, and turns
//! an absent image into an empty one; each of those would lose or falsify an audit fact.
//! This module performs no IO.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::diff::{Change, diff};
use crate::timestamp::Timestamp;
use crate::value::{CowStr, Item};

/// The kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventName {
    Insert,
    Modify,
    Remove,
}

impl EventName {
    /// `INSERT`, `MODIFY` or `REMOVE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Insert => "INSERT",
            Self::Modify => "MODIFY",
            Self::Remove => "REMOVE",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "INSERT" => Some(Self::Insert),
            "MODIFY" => Some(Self::Modify),
            "REMOVE" => Some(Self::Remove),
            _ => None,
        }
    }
}

/// The record's `userIdentity` (DynamoDB sets it on deletions made by TTL).
#[derive(Debug, Clone, Deserialize)]
pub struct UserIdentity<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(rename = "principalId", borrow)]
    pub principal_id: Cow<'a, str>,
}

/// A readable stream record.
#[derive(Debug, Clone)]
pub struct StreamRecord<'a> {
    pub event_id: Cow<'a, str>,
    pub event_name: EventName,
    pub event_version: Option<Cow<'a, str>>,
    pub region: Cow<'a, str>,
    pub stream_arn: Cow<'a, str>,
    pub table: String,
    pub account: String,
    pub sequence_number: Cow<'a, str>,
    pub approximate_creation_time: Option<Timestamp>,
    pub size_bytes: Option<u64>,
    pub stream_view_type: Option<Cow<'a, str>>,
    pub keys: Item<'a>,
    pub old_image: Option<Item<'a>>,
    pub new_image: Option<Item<'a>>,
    pub user_identity: Option<UserIdentity<'a>>,
}

/// Why a record cannot be read. The message names the field, e.g.
/// `dynamodb.NewImage.qty: unknown attribute type "X"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RecordError {
    pub message: String,
}

impl RecordError {
    fn at(path: &str, problem: impl std::fmt::Display) -> Self {
        Self {
            message: format!("{path}: {problem}"),
        }
    }
}

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(rename = "eventID", borrow, default)]
    event_id: Option<CowStr<'a>>,
    #[serde(rename = "eventName", borrow, default)]
    event_name: Option<CowStr<'a>>,
    #[serde(rename = "eventVersion", borrow, default)]
    event_version: Option<CowStr<'a>>,
    #[serde(rename = "awsRegion", borrow, default)]
    aws_region: Option<CowStr<'a>>,
    #[serde(rename = "eventSourceARN", borrow, default)]
    event_source_arn: Option<CowStr<'a>>,
    #[serde(rename = "userIdentity", borrow, default)]
    user_identity: Option<UserIdentity<'a>>,
    #[serde(borrow, default)]
    dynamodb: Option<WireStreamData<'a>>,
}

#[derive(Deserialize)]
struct WireStreamData<'a> {
    #[serde(rename = "ApproximateCreationDateTime", borrow, default)]
    approximate_creation_date_time: Option<&'a RawValue>,
    #[serde(rename = "Keys", borrow, default)]
    keys: Option<Item<'a>>,
    #[serde(rename = "NewImage", borrow, default)]
    new_image: Option<Item<'a>>,
    #[serde(rename = "OldImage", borrow, default)]
    old_image: Option<Item<'a>>,
    #[serde(rename = "SequenceNumber", borrow, default)]
    sequence_number: Option<CowStr<'a>>,
    #[serde(rename = "SizeBytes", default)]
    size_bytes: Option<u64>,
    #[serde(rename = "StreamViewType", borrow, default)]
    stream_view_type: Option<CowStr<'a>>,
}

impl<'a> StreamRecord<'a> {
    /// Reads one record of an event, borrowing from it.
    pub fn parse(raw: &'a RawValue) -> Result<Self, RecordError> {
        let wire: Wire<'a> = match serde_json::from_str(raw.get()) {
            Ok(wire) => wire,
            Err(_) => return Err(locate_error(raw.get())),
        };
        let dynamodb = wire
            .dynamodb
            .ok_or_else(|| RecordError::at("dynamodb", "missing"))?;
        let event_id = required(wire.event_id, "eventID")?;
        let event_name = required(wire.event_name, "eventName")?;
        let event_name = EventName::parse(&event_name).ok_or_else(|| {
            RecordError::at(
                "eventName",
                format_args!("expected \"INSERT\", \"MODIFY\" or \"REMOVE\", got {event_name:?}"),
            )
        })?;
        let stream_arn = required(wire.event_source_arn, "eventSourceARN")?;
        let arn = StreamArn::parse(&stream_arn).ok_or_else(|| {
            RecordError::at(
                "eventSourceARN",
                format_args!("not a DynamoDB table stream ARN: {stream_arn:?}"),
            )
        })?;
        let (table, account) = (arn.table.to_owned(), arn.account.to_owned());
        // awsRegion is always sent by Lambda; when a hand-made event omits it, the ARN says it.
        let region = match wire.aws_region {
            Some(CowStr(region)) => region,
            None => Cow::Owned(arn.region.to_owned()),
        };
        let approximate_creation_time = match dynamodb.approximate_creation_date_time {
            None => None,
            Some(raw) if raw.get() == "null" => None,
            Some(raw) => Some(parse_creation_time(raw.get()).ok_or_else(|| {
                RecordError::at(
                    "dynamodb.ApproximateCreationDateTime",
                    format_args!("not epoch seconds in years 0-9999: {}", raw.get()),
                )
            })?),
        };
        Ok(Self {
            event_id,
            event_name,
            event_version: wire.event_version.map(|s| s.0),
            region,
            stream_arn,
            table,
            account,
            sequence_number: required(dynamodb.sequence_number, "dynamodb.SequenceNumber")?,
            approximate_creation_time,
            size_bytes: dynamodb.size_bytes,
            stream_view_type: dynamodb.stream_view_type.map(|s| s.0),
            keys: dynamodb
                .keys
                .ok_or_else(|| RecordError::at("dynamodb.Keys", "missing"))?,
            old_image: dynamodb.old_image,
            new_image: dynamodb.new_image,
            user_identity: wire.user_identity,
        })
    }

    /// True iff the record is a deletion made by DynamoDB's time to live.
    pub fn is_ttl_expiry(&self) -> bool {
        self.event_name == EventName::Remove
            && self
                .user_identity
                .as_ref()
                .is_some_and(|u| u.kind == "Service" && u.principal_id == "dynamodb.amazonaws.com")
    }

    /// Whether the record carries every image its diff needs.
    pub fn is_complete(&self) -> bool {
        match self.event_name {
            EventName::Insert => self.new_image.is_some(),
            EventName::Modify => self.new_image.is_some() && self.old_image.is_some(),
            EventName::Remove => self.old_image.is_some(),
        }
    }

    /// The diff (spec rule 5: an INSERT against an empty map, a REMOVE to an empty map), or
    /// `None` when an image it needs is missing.
    pub fn changes<'r>(&'r self, empty: &'r Item<'r>) -> Option<Vec<Change<'r>>> {
        if !self.is_complete() {
            return None;
        }
        let old = self
            .old_image
            .as_ref()
            .filter(|_| self.event_name != EventName::Insert);
        let new = self
            .new_image
            .as_ref()
            .filter(|_| self.event_name != EventName::Remove);
        Some(diff(old.unwrap_or(empty), new.unwrap_or(empty)))
    }
}

fn required<'a>(field: Option<CowStr<'a>>, path: &str) -> Result<Cow<'a, str>, RecordError> {
    field
        .map(|s| s.0)
        .ok_or_else(|| RecordError::at(path, "missing"))
}

/// `ApproximateCreationDateTime`: epoch seconds as a JSON number (what Lambda sends), or as a
/// string holding epoch seconds or RFC 3339 (what hand-made events sometimes carry).
fn parse_creation_time(raw: &str) -> Option<Timestamp> {
    if raw.starts_with('"') {
        let text: String = serde_json::from_str(raw).ok()?;
        Timestamp::from_epoch_seconds_text(&text).or_else(|| Timestamp::parse_rfc3339(&text))
    } else {
        Timestamp::from_epoch_seconds_text(raw)
    }
}

/// The parts of `arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL` the document needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamArn<'s> {
    pub region: &'s str,
    pub account: &'s str,
    pub table: &'s str,
}

impl<'s> StreamArn<'s> {
    /// Parses a DynamoDB stream (or table) ARN.
    pub fn parse(arn: &'s str) -> Option<Self> {
        let mut parts = arn.splitn(6, ':');
        let (prefix, _partition, service) = (parts.next()?, parts.next()?, parts.next()?);
        let (region, account, resource) = (parts.next()?, parts.next()?, parts.next()?);
        if prefix != "arn" || service != "dynamodb" {
            return None;
        }
        let table = resource.strip_prefix("table/")?.split('/').next()?;
        (!table.is_empty()).then_some(Self {
            region,
            account,
            table,
        })
    }
}

/// Re-reads a record that failed, tracking the path, to say where and what went wrong.
/// Only the failure path pays for path tracking.
fn locate_error(raw: &str) -> RecordError {
    let mut de = serde_json::Deserializer::from_str(raw);
    match serde_path_to_error::deserialize::<_, Wire<'_>>(&mut de) {
        Ok(_) => RecordError {
            message: "record could not be read".into(),
        },
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            let message = strip_position(&inner.to_string(), &inner);
            if path == "." || path.is_empty() {
                RecordError { message }
            } else {
                RecordError::at(&path, message)
            }
        }
    }
}

/// serde_json appends " at line L column C", which means nothing to someone reading one record.
fn strip_position(message: &str, err: &serde_json::Error) -> String {
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    message.strip_suffix(&suffix).unwrap_or(message).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str =
        "arn:aws:dynamodb:ap-northeast-1:123456789012:table/Orders/stream/2026-11-01T00:00:00.000";

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_owned()).unwrap()
    }

    fn record_json(dynamodb: &str) -> String {
        format!(
            r#"{{"eventID":"e1","eventName":"MODIFY","eventVersion":"1.1","eventSource":"aws:dynamodb","awsRegion":"ap-northeast-1","eventSourceARN":"{ARN}","dynamodb":{dynamodb}}}"#
        )
    }

    const FULL: &str = r#"{"ApproximateCreationDateTime":1764210700,"Keys":{"pk":{"S":"a"}},"OldImage":{"pk":{"S":"a"},"n":{"N":"1"}},"NewImage":{"pk":{"S":"a"},"n":{"N":"2"}},"SequenceNumber":"111","SizeBytes":26,"StreamViewType":"NEW_AND_OLD_IMAGES"}"#;

    // Every field the document needs is read from a real-shaped record.
    #[test]
    fn reads_every_field() {
        let raw = raw(&record_json(FULL));
        let r = StreamRecord::parse(&raw).unwrap();
        assert_eq!(r.event_id, "e1");
        assert_eq!(r.event_name, EventName::Modify);
        assert_eq!(r.table, "Orders");
        assert_eq!(r.account, "123456789012");
        assert_eq!(r.region, "ap-northeast-1");
        assert_eq!(r.sequence_number, "111");
        assert_eq!(r.size_bytes, Some(26));
        assert_eq!(r.stream_view_type.as_deref(), Some("NEW_AND_OLD_IMAGES"));
        assert_eq!(
            r.approximate_creation_time.unwrap().to_rfc3339(),
            "2025-11-27T02:31:40.000Z"
        );
        assert!(r.is_complete());
        assert!(!r.is_ttl_expiry());
    }

    // A missing creation time is unknown, not 1970.
    #[test]
    fn missing_creation_time_is_none() {
        let raw = raw(&record_json(
            &FULL.replace("\"ApproximateCreationDateTime\":1764210700,", ""),
        ));
        assert_eq!(
            StreamRecord::parse(&raw).unwrap().approximate_creation_time,
            None
        );
    }

    // An absent image is absent (incomplete), not an empty item.
    #[test]
    fn absent_image_makes_the_record_incomplete() {
        let json = record_json(
            r#"{"Keys":{"pk":{"S":"a"}},"SequenceNumber":"1","StreamViewType":"KEYS_ONLY"}"#,
        );
        let raw = raw(&json);
        let r = StreamRecord::parse(&raw).unwrap();
        assert!(r.new_image.is_none() && r.old_image.is_none());
        assert!(!r.is_complete());
        assert!(r.changes(&Item::default()).is_none());
    }

    // An INSERT needs only its new image, so NEW_IMAGE streams give complete INSERTs.
    #[test]
    fn insert_with_new_image_only_is_complete() {
        let json = record_json(r#"{"Keys":{"pk":{"S":"a"}},"NewImage":{"pk":{"S":"a"}},"SequenceNumber":"1","StreamViewType":"NEW_IMAGE"}"#)
            .replace("MODIFY", "INSERT");
        let raw = raw(&json);
        assert!(StreamRecord::parse(&raw).unwrap().is_complete());
    }

    // The TTL flag needs a REMOVE by the DynamoDB service principal.
    #[test]
    fn ttl_expiry_is_a_service_remove() {
        let json = record_json(FULL).replace("MODIFY", "REMOVE").replace(
            "\"dynamodb\":",
            r#""userIdentity":{"type":"Service","principalId":"dynamodb.amazonaws.com"},"dynamodb":"#,
        );
        let raw_ttl = raw(&json);
        assert!(StreamRecord::parse(&raw_ttl).unwrap().is_ttl_expiry());
        let raw_user = raw(&json.replace("dynamodb.amazonaws.com", "AIDAEXAMPLE"));
        assert!(!StreamRecord::parse(&raw_user).unwrap().is_ttl_expiry());
    }

    // Unreadable records say which field is wrong and why.
    #[test]
    fn errors_name_the_field() {
        let cases = [
            (
                record_json(&FULL.replace(r#""n":{"N":"2"}"#, r#""qty":{"X":"2"}"#)),
                "dynamodb.NewImage.qty: unknown attribute type \"X\"",
            ),
            (
                record_json(FULL).replace("MODIFY", "UPSERT"),
                "eventName: expected",
            ),
            (
                record_json(FULL).replace(r#""eventID":"e1","#, ""),
                "eventID: missing",
            ),
            (
                record_json(FULL).replace(ARN, "arn:aws:s3:::bucket"),
                "eventSourceARN: not a DynamoDB",
            ),
            (
                record_json(&FULL.replace(r#""SequenceNumber":"111","#, "")),
                "dynamodb.SequenceNumber: missing",
            ),
            (
                record_json(&FULL.replace("1764210700", "\"soon\"")),
                "dynamodb.ApproximateCreationDateTime",
            ),
            (
                record_json(&FULL.replace(r#""N":"2""#, r#""N":"2x""#)),
                "dynamodb.NewImage.n.N: invalid number",
            ),
            ("[1,2]".to_string(), "invalid type"),
        ];
        for (json, expected) in cases {
            let raw = raw(&json);
            let err = StreamRecord::parse(&raw).unwrap_err().message;
            assert!(err.contains(expected), "expected {expected:?} in {err:?}");
            assert!(!err.contains("line 1"), "position leaked into {err:?}");
        }
    }

    // Table and account come from the stream ARN.
    #[test]
    fn stream_arn_parts() {
        let arn = StreamArn::parse(ARN).unwrap();
        assert_eq!(
            (arn.region, arn.account, arn.table),
            ("ap-northeast-1", "123456789012", "Orders")
        );
        assert!(StreamArn::parse("arn:aws:dynamodb:r:1:table/").is_none());
        assert!(StreamArn::parse("arn:aws:kinesis:r:1:stream/x").is_none());
    }
}
