//! A Lambda DynamoDB Streams event, `{"Records": [...]}`, split into its raw records.
//!
//! The whole input is validated here, before any record is rendered, so a truncated or
//! malformed event produces no documents at all rather than the first half of them.
//! This module performs no IO.

use serde::Deserialize;
use serde_json::value::RawValue;

/// The input as a whole is not an event: the only input rejected whole.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("input is not a DynamoDB Streams event: {0}")]
    NotAnEvent(String),
}

#[derive(Deserialize)]
struct Shape<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<&'a RawValue>,
}

/// Validates the whole event and returns its records, raw, in order.
pub fn parse_event(bytes: &[u8]) -> Result<Vec<&RawValue>, EventError> {
    // Parsing straight into borrowed raw records is one validating pass with no tree built:
    // the same work as the benchmark's floor.
    match serde_json::from_slice::<Shape<'_>>(bytes) {
        Ok(shape) => Ok(shape.records),
        Err(e) => Err(EventError::NotAnEvent(describe(&e, bytes))),
    }
}

fn describe(e: &serde_json::Error, bytes: &[u8]) -> String {
    use serde_json::error::Category;
    let trimmed = bytes.iter().position(|b| !b.is_ascii_whitespace());
    match e.classify() {
        _ if trimmed.is_none() => "the input is empty".into(),
        Category::Eof => format!("the JSON ends early ({e})"),
        Category::Syntax | Category::Io => format!("not valid JSON ({e})"),
        Category::Data if e.to_string().starts_with("missing field `Records`") => {
            "no \"Records\" array".into()
        }
        Category::Data => format!("expected an object with a \"Records\" array ({e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Records come back raw and in order, other top-level fields ignored.
    #[test]
    fn splits_records_in_order() {
        let records = parse_event(br#"{"Records":[{"a":1}, 2 ,"x"],"other":true}"#).unwrap();
        let raw: Vec<&str> = records.iter().map(|r| r.get()).collect();
        assert_eq!(raw, [r#"{"a":1}"#, "2", r#""x""#]);
    }

    // Only input that is not an object with a Records array is rejected whole.
    #[test]
    fn rejects_what_is_not_an_event() {
        for (input, why) in [
            (&b""[..], "empty"),
            (b"{\"Records\":[{\"a\":1}", "ends early"),
            (b"[1,2]", "expected an object"),
            (b"{\"records\":[]}", "no \"Records\" array"),
            (b"{\"Records\":{}}", "expected an object"),
            (b"{\"Records\":[]} trailing", "not valid JSON"),
            (b"\xff", "not valid JSON"),
        ] {
            let err = parse_event(input).unwrap_err().to_string();
            assert!(err.contains(why), "{input:?}: {err}");
        }
    }

    // An empty batch is a valid event with nothing in it.
    #[test]
    fn empty_records_is_valid() {
        assert!(parse_event(br#"{"Records":[]}"#).unwrap().is_empty());
    }
}
