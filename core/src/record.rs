//! One DynamoDB Streams record, read leniently from the raw JSON Lambda delivers.
//!
//! Reading is ours rather than aws_lambda_events' because its `Event` type fails a whole batch
//! on one odd record, dates a record without `ApproximateCreationDateTime` to 1970, and turns
//! an absent image into an empty one; each of those would lose or falsify an audit fact.
//! This module performs no IO.

use std::borrow::Cow;

use serde::Deserialize;

use crate::diff::{Change, diff};
use crate::reader::{self, Kind, ReadError, Reader, Segment};
use crate::timestamp::Timestamp;
use crate::value::{Item, read_item};

/// The kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
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

/// The record's `userIdentity` object, verbatim: every member as delivered, members sorted by
/// key at every level. DynamoDB sets `{"type": "Service", "principalId":
/// "dynamodb.amazonaws.com"}` on deletions made by TTL; other producers send other shapes
/// (`{}`, a type alone, the Streams API's `{"PrincipalId", "Type"}`), all kept as they are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserIdentity<'a> {
    members: Vec<(Cow<'a, str>, JsonValue<'a>)>,
}

/// A JSON value kept as delivered: numbers as their text, object members sorted by key.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonValue<'a> {
    Null,
    Bool(bool),
    /// The number's text, as written.
    Number(Cow<'a, str>),
    String(Cow<'a, str>),
    Array(Vec<JsonValue<'a>>),
    /// Members in ascending byte order of key, keys unique.
    Object(Vec<(Cow<'a, str>, JsonValue<'a>)>),
}

impl<'a> UserIdentity<'a> {
    /// An identity from members in any order; `None` if a key repeats.
    pub fn from_members(members: Vec<(Cow<'a, str>, JsonValue<'a>)>) -> Option<Self> {
        sorted_members(members).map(|members| Self { members })
    }

    /// The members, in ascending byte order of key.
    pub fn members(&self) -> &[(Cow<'a, str>, JsonValue<'a>)] {
        &self.members
    }

    /// The string member `name`, if there is one.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        let at = self
            .members
            .binary_search_by(|(k, _)| k.as_ref().cmp(name))
            .ok()?;
        match &self.members[at].1 {
            JsonValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// `type`, e.g. `Service`.
    pub fn kind(&self) -> Option<&str> {
        self.get_str("type")
    }

    /// `principalId`, e.g. `dynamodb.amazonaws.com`.
    pub fn principal_id(&self) -> Option<&str> {
        self.get_str("principalId")
    }
}

/// Reads a stored document's `user_identity` back (serde_json's own numbers: integers
/// verbatim, others as serde_json spells them).
impl<'de, 'a> serde::Deserialize<'de> for UserIdentity<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        fn convert<'a>(value: serde_json::Value) -> JsonValue<'a> {
            use serde_json::Value as J;
            match value {
                J::Null => JsonValue::Null,
                J::Bool(b) => JsonValue::Bool(b),
                J::Number(n) => JsonValue::Number(Cow::Owned(n.to_string())),
                J::String(s) => JsonValue::String(Cow::Owned(s)),
                J::Array(v) => JsonValue::Array(v.into_iter().map(convert).collect()),
                J::Object(m) => JsonValue::Object(
                    m.into_iter()
                        .map(|(k, v)| (Cow::Owned(k), convert(v)))
                        .collect(),
                ),
            }
        }
        let members = serde_json::Map::deserialize(deserializer)?;
        // serde_json's map has unique keys; without preserve_order they are sorted already,
        // and from_members sorts every level's top anyway.
        let members = members
            .into_iter()
            .map(|(k, v)| (Cow::Owned(k), sort_nested(convert(v))))
            .collect();
        Self::from_members(members).ok_or_else(|| serde::de::Error::custom("a key appears twice"))
    }
}

/// Sorts object members at every level.
fn sort_nested(value: JsonValue<'_>) -> JsonValue<'_> {
    match value {
        JsonValue::Array(v) => JsonValue::Array(v.into_iter().map(sort_nested).collect()),
        JsonValue::Object(mut m) => {
            m.sort_by(|a, b| a.0.cmp(&b.0));
            JsonValue::Object(m.into_iter().map(|(k, v)| (k, sort_nested(v))).collect())
        }
        other => other,
    }
}

fn sorted_members<'a>(
    mut members: Vec<(Cow<'a, str>, JsonValue<'a>)>,
) -> Option<Vec<(Cow<'a, str>, JsonValue<'a>)>> {
    members.sort_by(|a, b| a.0.cmp(&b.0));
    members
        .windows(2)
        .all(|w| w[0].0 != w[1].0)
        .then_some(members)
}

/// Reads any JSON value, keeping it verbatim. Numbers must be finite as a double, so that
/// strict readers (serde_json, most languages' parsers) read the document back.
fn read_json<'a>(r: &mut Reader<'a>) -> reader::Result<JsonValue<'a>> {
    Ok(match r.peek_kind()? {
        Kind::Null => {
            r.null()?;
            JsonValue::Null
        }
        Kind::Bool => JsonValue::Bool(r.boolean()?),
        Kind::Number => {
            let text = r.number_text()?;
            if !text.parse::<f64>().is_ok_and(f64::is_finite) {
                return Err(ReadError::invalid(format!(
                    "number {text} is beyond what JSON readers accept"
                )));
            }
            JsonValue::Number(Cow::Borrowed(text))
        }
        Kind::String => JsonValue::String(r.string()?),
        Kind::Array => {
            let mut elements = Vec::new();
            r.array("an array", |r, i| {
                elements.push(read_json(r).map_err(|e| e.within(|| Segment::Index(i)))?);
                Ok(())
            })?;
            JsonValue::Array(elements)
        }
        Kind::Object => JsonValue::Object(read_members(r)?),
    })
}

fn read_members<'a>(r: &mut Reader<'a>) -> reader::Result<Vec<(Cow<'a, str>, JsonValue<'a>)>> {
    let mut members = Vec::new();
    r.object("an object", |r, key| {
        let value = read_json(r).map_err(|e| e.within_key(&key))?;
        members.push((key, value));
        Ok(())
    })?;
    sorted_members(members).ok_or_else(|| ReadError::invalid("a key appears twice"))
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

/// The record's fields as found, before the checks that make it a [`StreamRecord`].
#[derive(Default)]
struct Wire<'a> {
    event_id: Option<Cow<'a, str>>,
    event_name: Option<Cow<'a, str>>,
    event_version: Option<Cow<'a, str>>,
    aws_region: Option<Cow<'a, str>>,
    event_source_arn: Option<Cow<'a, str>>,
    user_identity: Option<UserIdentity<'a>>,
    dynamodb: Option<WireStreamData<'a>>,
}

#[derive(Default)]
struct WireStreamData<'a> {
    approximate_creation_time: Option<Timestamp>,
    keys: Option<Item<'a>>,
    new_image: Option<Item<'a>>,
    old_image: Option<Item<'a>>,
    sequence_number: Option<Cow<'a, str>>,
    size_bytes: Option<u64>,
    stream_view_type: Option<Cow<'a, str>>,
}

/// Stores a member's value, refusing a second occurrence of the same member.
fn once<T>(slot: &mut Option<T>, key: &str, value: Option<T>) -> reader::Result<()> {
    if slot.is_some() {
        return Err(ReadError::invalid(format!("duplicate field {key:?}")));
    }
    *slot = value;
    Ok(())
}

/// `null`, or a value read by `read`.
fn nullable<'a, T>(
    r: &mut Reader<'a>,
    read: impl FnOnce(&mut Reader<'a>) -> reader::Result<T>,
) -> reader::Result<Option<T>> {
    if r.null()? {
        Ok(None)
    } else {
        read(r).map(Some)
    }
}

fn read_wire<'a>(r: &mut Reader<'a>) -> reader::Result<Wire<'a>> {
    let mut w = Wire::default();
    r.object("a stream record", |r, key| {
        let text = |r: &mut Reader<'a>| nullable(r, Reader::string);
        let result = match key.as_ref() {
            "eventID" => text(r).and_then(|v| once(&mut w.event_id, &key, v)),
            "eventName" => text(r).and_then(|v| once(&mut w.event_name, &key, v)),
            "eventVersion" => text(r).and_then(|v| once(&mut w.event_version, &key, v)),
            "awsRegion" => text(r).and_then(|v| once(&mut w.aws_region, &key, v)),
            "eventSourceARN" => text(r).and_then(|v| once(&mut w.event_source_arn, &key, v)),
            "userIdentity" => {
                nullable(r, read_identity).and_then(|v| once(&mut w.user_identity, &key, v))
            }
            "dynamodb" => {
                nullable(r, read_stream_data).and_then(|v| once(&mut w.dynamodb, &key, v))
            }
            _ => r.skip_value(),
        };
        result.map_err(|e| e.within_key(&key))
    })?;
    Ok(w)
}

fn read_identity<'a>(r: &mut Reader<'a>) -> reader::Result<UserIdentity<'a>> {
    match r.peek_kind()? {
        Kind::Object => read_members(r).map(|members| UserIdentity { members }),
        other => r.wrong_type(other, "an object"),
    }
}

fn read_stream_data<'a>(r: &mut Reader<'a>) -> reader::Result<WireStreamData<'a>> {
    let mut d = WireStreamData::default();
    r.object("an object", |r, key| {
        let text = |r: &mut Reader<'a>| nullable(r, Reader::string);
        let item = |r: &mut Reader<'a>| nullable(r, read_item);
        let result = match key.as_ref() {
            "ApproximateCreationDateTime" => nullable(r, read_creation_time)
                .and_then(|v| once(&mut d.approximate_creation_time, &key, v)),
            "Keys" => item(r).and_then(|v| once(&mut d.keys, &key, v)),
            "NewImage" => item(r).and_then(|v| once(&mut d.new_image, &key, v)),
            "OldImage" => item(r).and_then(|v| once(&mut d.old_image, &key, v)),
            "SequenceNumber" => text(r).and_then(|v| once(&mut d.sequence_number, &key, v)),
            "SizeBytes" => nullable(r, read_size).and_then(|v| once(&mut d.size_bytes, &key, v)),
            "StreamViewType" => text(r).and_then(|v| once(&mut d.stream_view_type, &key, v)),
            _ => r.skip_value(),
        };
        result.map_err(|e| e.within_key(&key))
    })?;
    Ok(d)
}

/// Epoch seconds as a JSON number (what Lambda sends), or a string holding epoch seconds or
/// RFC 3339, its offset optional (what hand-made and emulated events carry).
fn read_creation_time(r: &mut Reader<'_>) -> reader::Result<Timestamp> {
    let (text, parsed) = if r.peek_kind()? == Kind::String {
        let text = r.string()?;
        let parsed = Timestamp::from_epoch_seconds_text(&text)
            .or_else(|| Timestamp::parse_stream_time(&text));
        (text, parsed)
    } else {
        let text = r.number_text()?;
        (
            Cow::Borrowed(text),
            Timestamp::from_epoch_seconds_text(text),
        )
    };
    parsed.ok_or_else(|| ReadError::invalid(format!("not epoch seconds in years 0-9999: {text}")))
}

fn read_size(r: &mut Reader<'_>) -> reader::Result<u64> {
    let text = r.number_text()?;
    text.parse()
        .map_err(|_| ReadError::invalid(format!("expected a whole number of bytes, got {text}")))
}

impl<'a> StreamRecord<'a> {
    /// Reads one record of an event (its JSON text), borrowing from it.
    pub fn parse(raw: &'a str) -> Result<Self, RecordError> {
        let mut r = Reader::new(raw);
        let wire = read_wire(&mut r)
            .and_then(|wire| r.end().map(|()| wire))
            .map_err(|e| RecordError {
                message: e.to_string(),
            })?;
        Self::from_wire(wire)
    }

    /// Reads one record where the reader stands. `Ok(Err(_))`: the record is JSON but not a
    /// readable stream record; `Err(_)`: the reader met something that is not JSON, or a value
    /// it could not read (the caller decides how far that goes).
    pub(crate) fn read(r: &mut Reader<'a>) -> reader::Result<Result<Self, RecordError>> {
        read_wire(r).map(Self::from_wire)
    }

    /// The checks that make the fields a record.
    fn from_wire(wire: Wire<'a>) -> Result<Self, RecordError> {
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
        let region = wire
            .aws_region
            .unwrap_or_else(|| Cow::Owned(arn.region.to_owned()));
        Ok(Self {
            event_id,
            event_name,
            event_version: wire.event_version,
            region,
            stream_arn,
            table,
            account,
            sequence_number: required(dynamodb.sequence_number, "dynamodb.SequenceNumber")?,
            approximate_creation_time: dynamodb.approximate_creation_time,
            size_bytes: dynamodb.size_bytes,
            stream_view_type: dynamodb.stream_view_type,
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
            && self.user_identity.as_ref().is_some_and(|u| {
                u.kind() == Some("Service") && u.principal_id() == Some("dynamodb.amazonaws.com")
            })
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

fn required<'a>(field: Option<Cow<'a, str>>, path: &str) -> Result<Cow<'a, str>, RecordError> {
    field.ok_or_else(|| RecordError::at(path, "missing"))
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

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str =
        "arn:aws:dynamodb:ap-northeast-1:123456789012:table/Orders/stream/2026-11-01T00:00:00.000";

    fn raw(json: &str) -> String {
        json.to_owned()
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

    // userIdentity is kept whole, whatever its shape: empty, a type alone, the Streams API's
    // capitalised members, extra and nested members (these used to make the record
    // unreadable, or were dropped). ttl_expiry still reads type and principalId.
    #[test]
    fn user_identity_is_kept_verbatim_whatever_its_shape() {
        let with = |identity: &str| {
            record_json(FULL).replace("MODIFY", "REMOVE").replace(
                "\"dynamodb\":",
                &format!(r#""userIdentity":{identity},"dynamodb":"#),
            )
        };
        for (identity, members, ttl) in [
            ("{}", 0, false),
            (r#"{"type":"Service"}"#, 1, false),
            (
                r#"{"PrincipalId":"dynamodb.amazonaws.com","Type":"Service"}"#,
                2,
                false,
            ),
            (
                r#"{"type":"Service","principalId":"dynamodb.amazonaws.com","extra":{"b":[1,2.5e3,null],"a":true}}"#,
                3,
                true,
            ),
        ] {
            let raw = with(identity);
            let r = StreamRecord::parse(&raw).unwrap_or_else(|e| panic!("{identity}: {e}"));
            let u = r.user_identity.as_ref().expect("identity kept");
            assert_eq!(u.members().len(), members, "{identity}");
            assert_eq!(r.is_ttl_expiry(), ttl, "{identity}");
        }
        for (identity, reason) in [
            (r#""Service""#, "userIdentity: invalid type"),
            (
                r#"{"type":"a","type":"b"}"#,
                "userIdentity: a key appears twice",
            ),
            (
                r#"{"x":{"n":1e400}}"#,
                "userIdentity.x.n: number 1e400 is beyond",
            ),
        ] {
            let raw = with(identity);
            let err = StreamRecord::parse(&raw).unwrap_err().message;
            assert!(err.contains(reason), "{identity}: {err}");
        }
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
            (
                "[1,2]".to_string(),
                "invalid type: an array, expected a stream record",
            ),
            (
                record_json(FULL).replace(
                    r#""eventName":"MODIFY""#,
                    r#""eventName":"MODIFY","eventName":"INSERT""#,
                ),
                "eventName: duplicate field",
            ),
            (
                record_json(&FULL.replace(r#""SizeBytes":26"#, r#""SizeBytes":2.5"#)),
                "dynamodb.SizeBytes: expected a whole number",
            ),
            (
                record_json(&FULL.replace(
                    r#"{"pk":{"S":"a"},"n":{"N":"2"}}"#,
                    r#"{"pk":{"S":"a"},"l":{"L":[{"S":"x"},{"N":"y"}]}}"#,
                )),
                "dynamodb.NewImage.l.L[1].N: invalid number \"y\"",
            ),
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
