//! A Lambda DynamoDB Streams event, `{"Records": [...]}`, split into its raw records.
//!
//! The whole input is validated here, before any record is rendered, so a truncated or
//! malformed event produces no documents at all rather than the first half of them.
//! This module performs no IO.

use crate::document::{RenderOptions, Rendered, render_parsed};
use crate::reader::{ReadError, Reader};
use crate::record::{RecordError, StreamRecord};

/// The input as a whole is not an event: the only input rejected whole.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("input is not a DynamoDB Streams event: {0}")]
    NotAnEvent(String),
}

/// Validates the whole event and returns the JSON text of each record, in order.
/// Each can then be rendered with [`render_record`](crate::render_record).
pub fn parse_event(bytes: &[u8]) -> Result<Vec<&str>, EventError> {
    let mut records = Vec::new();
    walk_event(bytes, |r| {
        records.push(r.raw_value()?);
        Ok(())
    })?;
    Ok(records)
}

/// Checks that the whole input is an event, without reading records beyond their syntax.
pub(crate) fn validate_event(bytes: &[u8]) -> Result<(), EventError> {
    walk_event(bytes, |r| r.skip_value())
}

/// Reads and renders a whole event in one pass, handing each record's rendering to `each`, in
/// order. If the event turns out not to be an event (it can, up to its last byte), the error
/// is returned and whatever `each` received must be discarded: the caller holds the documents
/// back until this returns `Ok` (the number of records).
///
/// One pass is about a third cheaper than [`parse_event`] then [`render_record`](crate::render_record), which reads
/// every byte twice; `ddb-audit transform` and the Lambda handler use this.
pub fn read_event<'a>(
    bytes: &'a [u8],
    options: &RenderOptions,
    mut each: impl FnMut(Rendered<'a>),
) -> Result<usize, EventError> {
    each_record(bytes, |raw, parsed| {
        each(render_parsed(raw, parsed, options))
    })
}

/// Reads an event in one pass, handing `each` every record's text and what it reads as, in
/// order. The same caveat as [`read_event`]: on `Err`, discard what `each` was given.
pub(crate) fn each_record<'a>(
    bytes: &'a [u8],
    mut each: impl FnMut(&'a str, Result<StreamRecord<'a>, RecordError>),
) -> Result<usize, EventError> {
    let mut count = 0;
    walk_event(bytes, |r| {
        let (start, depth) = (r.value_start(), r.depth());
        match StreamRecord::read(r) {
            Ok(parsed) => each(r.slice(start, r.offset()), parsed),
            Err(ReadError::Invalid(_)) => {
                // The record is unreadable; go back and take it whole, checking it is JSON.
                r.rewind(start, depth);
                let raw = r.raw_value()?;
                each(raw, StreamRecord::parse(raw));
            }
            Err(syntax) => return Err(syntax),
        }
        count += 1;
        Ok(())
    })?;
    Ok(count)
}

/// Walks `{"Records": [...]}`, calling `record` where each record starts; `record` must
/// consume it.
fn walk_event<'a>(
    bytes: &'a [u8],
    mut record: impl FnMut(&mut Reader<'a>) -> Result<(), ReadError>,
) -> Result<(), EventError> {
    let not_an_event = |why: String| EventError::NotAnEvent(why);
    let text = std::str::from_utf8(bytes)
        .map_err(|e| not_an_event(format!("not valid UTF-8 text ({e})")))?;
    // A leading byte order mark is no part of the JSON (some tools write one: the
    // aws-lambda-dotnet sample events start with it).
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_ascii().is_empty() {
        return Err(not_an_event("the input is empty".into()));
    }
    let mut r = Reader::new(text);
    let mut seen = false;
    let read = r
        .object("an object with a \"Records\" array", |r, key| {
            if key != "Records" {
                return r.skip_value();
            }
            if seen {
                return Err(ReadError::invalid("\"Records\" appears twice"));
            }
            seen = true;
            r.array("\"Records\" to be an array", |r, _| {
                r.count_depth_from_here();
                record(r)
            })
            .map_err(|e| e.within_key("Records"))
        })
        .and_then(|()| r.end());
    match read {
        Ok(()) if seen => Ok(()),
        Ok(()) => Err(not_an_event("no \"Records\" array".into())),
        Err(ReadError::Syntax { offset, .. }) if offset >= text.len() => {
            Err(not_an_event("the JSON ends early".into()))
        }
        Err(e @ ReadError::Syntax { .. }) => Err(not_an_event(format!("not valid JSON: {e}"))),
        Err(e) => Err(not_an_event(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::render_record;

    // Records come back raw and in order, other top-level fields ignored.
    #[test]
    fn splits_records_in_order() {
        let records =
            parse_event(br#"{"other":{"x":[1]},"Records":[{"a":1}, 2 ,"x"],"more":true}"#).unwrap();
        assert_eq!(records, [r#"{"a":1}"#, "2", r#""x""#]);
    }

    // Only input that is not an object with a Records array is rejected whole.
    #[test]
    fn rejects_what_is_not_an_event() {
        for (input, why) in [
            (&b""[..], "empty"),
            (b"  \n", "empty"),
            (b"{\"Records\":[{\"a\":1}", "ends early"),
            (b"[1,2]", "expected an object with a \"Records\" array"),
            (b"{\"records\":[]}", "no \"Records\" array"),
            (
                b"{\"Records\":{}}",
                "Records: invalid type: an object, expected \"Records\" to be an array",
            ),
            (b"{\"Records\":[]} trailing", "not valid JSON"),
            (b"{\"Records\":[],\"Records\":[]}", "appears twice"),
            (b"{\"Records\":[{\"a\":01}]}", "not valid JSON"),
            (b"\xff", "not valid UTF-8"),
        ] {
            let err = parse_event(input).unwrap_err().to_string();
            assert!(err.contains(why), "{input:?}: {err}");
        }
    }

    // One pass and two passes give the same documents, unreadable records included.
    #[test]
    fn single_pass_matches_two_passes() {
        let event = br#"{"Records":[
            {"eventID":"1","eventName":"INSERT","eventSourceARN":"arn:aws:dynamodb:r:1:table/T/stream/x","dynamodb":{"Keys":{"k":{"S":"a"}},"NewImage":{"k":{"S":"a"}},"SequenceNumber":"1"}},
            {"eventID":"2","dynamodb":{"NewImage":{"k":{"X":"1"}},"SequenceNumber":"2"}},
            {"eventID":"3","eventName":"INSERT","dynamodb":{"Keys":{"k":{"S":"\ud800"}}}},
            [1, {"a": "b"}],
            {"eventID":"5","eventName":"REMOVE","eventSourceARN":"arn:aws:dynamodb:r:1:table/T/stream/x","dynamodb":{"Keys":{"k":{"S":"a"}},"OldImage":{"k":{"S":"a"}},"SequenceNumber":"5"}}
        ]}"#;
        let options = RenderOptions::default();
        let mut one = Vec::new();
        assert_eq!(
            read_event(event, &options, |r| one.push(r.json().to_vec())).unwrap(),
            5
        );
        let two: Vec<Vec<u8>> = parse_event(event)
            .unwrap()
            .into_iter()
            .map(|raw| render_record(raw, &options).json().to_vec())
            .collect();
        assert_eq!(one, two);
        assert!(String::from_utf8_lossy(&one[1]).contains("unknown attribute type"));
    }

    // A syntax error after good records still rejects the whole event.
    #[test]
    fn single_pass_rejects_late_syntax_errors() {
        let event = br#"{"Records":[{"eventID":"1"},{"eventID":"2"}],"x":tru}"#;
        let mut seen = 0;
        assert!(read_event(event, &RenderOptions::default(), |_| seen += 1).is_err());
        assert_eq!(
            seen, 2,
            "the caller is told about records it must then discard"
        );
    }

    // A record nested deeper than the reader follows is an error document of its own; the
    // good record beside it is read as usual (the whole event used to be refused).
    #[test]
    fn a_too_deep_record_is_unreadable_not_the_event() {
        let good = r#"{"eventID":"1","eventName":"INSERT","eventSourceARN":"arn:aws:dynamodb:r:1:table/T/stream/x","dynamodb":{"Keys":{"k":{"S":"a"}},"NewImage":{"k":{"S":"a"}},"SequenceNumber":"1"}}"#;
        let nest = |levels: usize, leaf: &str| {
            (0..levels).fold(leaf.to_owned(), |inner, _| {
                format!(r#"{{"M":{{"a":{inner}}}}}"#)
            })
        };
        // An unknown member 130 levels deep is skipped: the record is readable.
        let deep_member = format!(
            r#"{{"eventID":"2","x":{}1{},{}"#,
            "[".repeat(130),
            "]".repeat(130),
            &good[r#"{"eventID":"1","#.len()..]
        );
        // An item nested 62 levels is read; 63 levels (past 128 of JSON) and 5,000 are not.
        let item = |levels| {
            good.replacen("\"eventID\":\"1\"", "\"eventID\":\"3\"", 1)
                .replace(
                    r#""NewImage":{"k":{"S":"a"}}"#,
                    &format!(r#""NewImage":{{"k":{}}}"#, nest(levels, r#"{"S":"a"}"#)),
                )
        };
        let records = [
            good.to_owned(),
            deep_member,
            item(62),
            item(63),
            item(5_000),
        ];
        let event = format!(r#"{{"Records":[{}]}}"#, records.join(","));
        let mut docs = Vec::new();
        read_event(event.as_bytes(), &RenderOptions::default(), |r| {
            docs.push(r)
        })
        .unwrap();
        let readable: Vec<bool> = docs
            .iter()
            .map(|d| matches!(d, Rendered::Document { .. }))
            .collect();
        assert_eq!(readable, [true, true, true, false, false]);
        let Rendered::Unreadable { error, .. } = &docs[4] else {
            unreachable!()
        };
        assert!(error.contains("nested deeper than 128 levels"), "{error}");
        // The two-pass path agrees.
        let raws = parse_event(event.as_bytes()).unwrap();
        assert_eq!(raws.len(), 5);
        assert!(matches!(
            render_record(raws[3], &RenderOptions::default()),
            Rendered::Unreadable { .. }
        ));
    }

    // A leading UTF-8 byte order mark is ignored (it used to reject the event whole).
    #[test]
    fn a_leading_byte_order_mark_is_ignored() {
        let event = "\u{feff}{\"Records\":[{\"a\":1}]}";
        assert_eq!(parse_event(event.as_bytes()).unwrap(), [r#"{"a":1}"#]);
        // Only at the very start: anywhere else it is not JSON.
        assert!(parse_event(" \u{feff}{\"Records\":[]}".as_bytes()).is_err());
    }

    // An empty batch is a valid event with nothing in it.
    #[test]
    fn empty_records_is_valid() {
        assert!(parse_event(br#"{"Records":[]}"#).unwrap().is_empty());
    }
}
