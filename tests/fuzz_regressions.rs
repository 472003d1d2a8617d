//! Regression tests for what the fuzz targets in `fuzz/` found (see docs/fuzzing.md): each
//! test is the minimized input, asserting the contract the target checks.

use ddb_audit::RenderOptions;
use ddb_audit::transform::transform;

/// Transforms `event`, which must be accepted, and returns its lines.
fn lines(event: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    transform(event, &RenderOptions::default(), &mut out).expect("the event is accepted");
    String::from_utf8(out)
        .expect("output is UTF-8")
        .lines()
        .map(str::to_owned)
        .collect()
}

// Found by `transform`: a JSON number beyond f64's range (legal JSON, RFC 8259 §6) inside an
// unreadable record is copied verbatim into the error document's `raw`, and serde_json (as the
// CLI and any Rust consumer reads documents) then rejects the whole line: "number out of range".
#[test]
fn out_of_range_number_in_unreadable_record_still_reads_back() {
    for event in [
        &br#"{"Records":[{"":{"":7e955}}]}"#[..],
        br#"{"Records":[1e400]}"#,
        br#"{"Records":[{"eventID":"x","n":-1e309}]}"#,
    ] {
        let lines = lines(event);
        assert_eq!(lines.len(), 1);
        if let Err(e) = serde_json::from_str::<serde_json::Value>(&lines[0]) {
            panic!("{}: {e}: {}", String::from_utf8_lossy(event), lines[0]);
        }
    }
}

// Found by `transform`: a lone-surrogate `\u` escape (legal JSON grammar, but no Unicode
// character) in an unreadable record is copied verbatim into the error document's `raw`, and
// serde_json rejects the whole line ("lone leading surrogate" / "unexpected end of hex escape").
#[test]
fn lone_surrogate_in_unreadable_record_still_reads_back() {
    for event in [
        &br#"{"Records":["\ud800"]}"#[..],
        br#"{"Records":["\udc00"]}"#,
        br#"{"Records":[{"eventID":"\ud800"}]}"#,
        br#"{"Records":[{"\ud800":1}]}"#,
    ] {
        let lines = lines(event);
        assert_eq!(lines.len(), 1);
        if let Err(e) = serde_json::from_str::<serde_json::Value>(&lines[0]) {
            panic!("{}: {e}: {}", String::from_utf8_lossy(event), lines[0]);
        }
    }
}
