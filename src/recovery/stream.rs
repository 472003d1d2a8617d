//! Reading a range back from DynamoDB Streams: `GetShardIterator` at the range's first
//! sequence number, then `GetRecords` until past its last. The only module of `recover`
//! that talks to DynamoDB Streams; it turns the SDK's records back into the JSON Lambda
//! delivers (the same field names, numbers as their exact text, binary as base64).

use std::collections::HashMap;

use aws_sdk_dynamodbstreams::Client;
use aws_sdk_dynamodbstreams::error::SdkError;
use aws_sdk_dynamodbstreams::operation::get_records::GetRecordsError;
use aws_sdk_dynamodbstreams::operation::get_shard_iterator::GetShardIteratorError;
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use base64::Engine;
use serde_json::{Map, Value, json};

use crate::recovery::range::{Range, Reason};

/// Consecutive empty answers after which an open shard is taken to hold nothing more of
/// the range (DynamoDB Streams may answer empty before reaching later records).
const MAX_EMPTY_READS: usize = 20;

/// What the stream gave back of a range.
#[derive(Debug, Default)]
pub struct Read {
    /// The range's records, in stream order, as GetRecords returned them (Lambda's field
    /// names, without `eventSourceARN`).
    pub records: Vec<Value>,
    /// Whether reading reached the range's end (the end record or one past it).
    pub complete: bool,
}

/// Why a range could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The stream no longer holds the range, or no longer exists: a gap, not a failure.
    #[error("the stream no longer holds the range ({reason:?})")]
    Gone {
        reason: Reason,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("GetShardIterator on {shard_id} failed")]
    Iterator {
        shard_id: String,
        #[source]
        source: Box<SdkError<GetShardIteratorError>>,
    },
    #[error("GetRecords on {shard_id} failed")]
    Records {
        shard_id: String,
        #[source]
        source: Box<SdkError<GetRecordsError>>,
    },
}

/// Reads `range` from the stream.
pub async fn read(client: &Client, range: &Range) -> Result<Read, StreamError> {
    let iterator = client
        .get_shard_iterator()
        .stream_arn(&range.stream_arn)
        .shard_id(&range.shard_id)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .sequence_number(&range.start)
        .send()
        .await;
    let mut iterator = match iterator {
        Ok(output) => output.shard_iterator,
        Err(error) => {
            return Err(match gone_reason_of_iterator(&error) {
                Some(reason) => StreamError::Gone {
                    reason,
                    source: Box::new(error),
                },
                None => StreamError::Iterator {
                    shard_id: range.shard_id.clone(),
                    source: Box::new(error),
                },
            });
        }
    };
    let mut read = Read::default();
    let mut empty = 0;
    while let Some(current) = iterator.take() {
        let output = match client.get_records().shard_iterator(current).send().await {
            Ok(output) => output,
            Err(error) => {
                return Err(match gone_reason_of_records(&error) {
                    Some(reason) => StreamError::Gone {
                        reason,
                        source: Box::new(error),
                    },
                    None => StreamError::Records {
                        shard_id: range.shard_id.clone(),
                        source: Box::new(error),
                    },
                });
            }
        };
        let records = output.records.unwrap_or_default();
        empty = if records.is_empty() { empty + 1 } else { 0 };
        for record in &records {
            let seq = record
                .dynamodb()
                .and_then(|d| d.sequence_number())
                .unwrap_or_default();
            if range.is_past(seq) {
                read.complete = true;
                return Ok(read);
            }
            if range.contains(seq) {
                read.records.push(lambda_json(record));
                if seq == range.end {
                    read.complete = true;
                    return Ok(read);
                }
            }
        }
        if empty >= MAX_EMPTY_READS {
            break;
        }
        iterator = output.next_shard_iterator;
    }
    Ok(read)
}

fn gone_reason_of_iterator(error: &SdkError<GetShardIteratorError>) -> Option<Reason> {
    match error.as_service_error()? {
        GetShardIteratorError::TrimmedDataAccessException(_) => Some(Reason::Trimmed),
        GetShardIteratorError::ResourceNotFoundException(_) => Some(Reason::StreamNotFound),
        _ => None,
    }
}

fn gone_reason_of_records(error: &SdkError<GetRecordsError>) -> Option<Reason> {
    match error.as_service_error()? {
        GetRecordsError::TrimmedDataAccessException(_) => Some(Reason::Trimmed),
        GetRecordsError::ResourceNotFoundException(_) => Some(Reason::StreamNotFound),
        _ => None,
    }
}

/// A record as Lambda's event carries it (less `eventSourceARN`).
fn lambda_json(record: &Record) -> Value {
    let mut out = Map::new();
    let mut text = |name: &str, value: Option<&str>| {
        if let Some(value) = value {
            out.insert(name.to_owned(), json!(value));
        }
    };
    text("eventID", record.event_id());
    text("eventName", record.event_name().map(|n| n.as_str()));
    text("eventVersion", record.event_version());
    text("eventSource", record.event_source());
    text("awsRegion", record.aws_region());
    if let Some(stream) = record.dynamodb() {
        let mut d = Map::new();
        if let Some(time) = stream.approximate_creation_date_time() {
            // Lambda sends epoch seconds; a fraction only when there is one.
            let value = if time.subsec_nanos() == 0 {
                json!(time.secs())
            } else {
                json!(time.as_secs_f64())
            };
            d.insert("ApproximateCreationDateTime".to_owned(), value);
        }
        for (name, image) in [
            ("Keys", stream.keys()),
            ("NewImage", stream.new_image()),
            ("OldImage", stream.old_image()),
        ] {
            if let Some(image) = image {
                d.insert(name.to_owned(), item(image));
            }
        }
        if let Some(seq) = stream.sequence_number() {
            d.insert("SequenceNumber".to_owned(), json!(seq));
        }
        if let Some(size) = stream.size_bytes() {
            d.insert("SizeBytes".to_owned(), json!(size));
        }
        if let Some(view) = stream.stream_view_type() {
            d.insert("StreamViewType".to_owned(), json!(view.as_str()));
        }
        out.insert("dynamodb".to_owned(), Value::Object(d));
    }
    if let Some(identity) = record.user_identity() {
        out.insert(
            "userIdentity".to_owned(),
            json!({"principalId": identity.principal_id(), "type": identity.r#type()}),
        );
    }
    Value::Object(out)
}

fn item(image: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        image
            .iter()
            .map(|(name, value)| (name.clone(), attribute(value)))
            .collect(),
    )
}

/// DynamoDB JSON of one value. A type this SDK does not know becomes a tag the engine
/// refuses, so the record is stored as an unreadable record, never dropped.
fn attribute(value: &AttributeValue) -> Value {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    match value {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::B(b) => json!({"B": b64(b.as_ref())}),
        AttributeValue::Ss(v) => json!({"SS": v}),
        AttributeValue::Ns(v) => json!({"NS": v}),
        AttributeValue::Bs(v) => {
            json!({"BS": v.iter().map(|b| b64(b.as_ref())).collect::<Vec<_>>()})
        }
        AttributeValue::M(m) => json!({"M": item(m)}),
        AttributeValue::L(l) => json!({"L": l.iter().map(attribute).collect::<Vec<_>>()}),
        AttributeValue::Null(n) => json!({"NULL": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        _ => json!({"UNKNOWN_TO_THE_SDK": null}),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodbstreams::primitives::{Blob, DateTime};
    use aws_sdk_dynamodbstreams::types::{OperationType, StreamRecord, StreamViewType};

    use super::*;

    // A record read back is the JSON Lambda delivers: field names, number text, base64
    // binary, nested maps and lists, epoch seconds.
    #[test]
    fn a_record_read_back_is_lambdas_json() {
        let stream = StreamRecord::builder()
            .approximate_creation_date_time(DateTime::from_secs(1_795_746_700))
            .keys("pk", AttributeValue::S("o#1".to_owned()))
            .new_image("pk", AttributeValue::S("o#1".to_owned()))
            .new_image("n", AttributeValue::N("1.50".to_owned()))
            .new_image(
                "m",
                AttributeValue::M(HashMap::from([(
                    "l".to_owned(),
                    AttributeValue::L(vec![
                        AttributeValue::B(Blob::new(vec![0, 1, 2])),
                        AttributeValue::Null(true),
                    ]),
                )])),
            )
            .sequence_number("111")
            .size_bytes(30)
            .stream_view_type(StreamViewType::NewAndOldImages)
            .build();
        let record = Record::builder()
            .event_id("e1")
            .event_name(OperationType::Insert)
            .event_version("1.1")
            .event_source("aws:dynamodb")
            .aws_region("us-east-1")
            .dynamodb(stream)
            .build();
        assert_eq!(
            lambda_json(&record),
            json!({
                "eventID": "e1", "eventName": "INSERT", "eventVersion": "1.1",
                "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1_795_746_700,
                    "Keys": {"pk": {"S": "o#1"}},
                    "NewImage": {"pk": {"S": "o#1"}, "n": {"N": "1.50"},
                                 "m": {"M": {"l": {"L": [{"B": "AAEC"}, {"NULL": true}]}}}},
                    "SequenceNumber": "111", "SizeBytes": 30,
                    "StreamViewType": "NEW_AND_OLD_IMAGES"
                }
            })
        );
    }
}
