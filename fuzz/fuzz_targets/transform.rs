//! Fuzz target `transform`: arbitrary bytes as an event through `transform::transform`.
//!
//! Asserts the contract: it never panics; on `Ok` it writes exactly one line per record (the
//! count `parse_event` finds), each line one JSON document, and for a complete document applying
//! its `changes` to `old_image` (empty for INSERT) with `patch::apply` gives `new_image` (empty
//! for REMOVE) under `item_eq`; on `Err` it writes nothing, and `parse_event` rejects the event too.
#![no_main]

use ddb_audit_core::transform::transform;
use ddb_audit_core::value::item_eq;
use ddb_audit_core::{Change, Item, RenderOptions, parse_event, patch};
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use serde::de::IgnoredAny;

/// The fields of a rendered document this target checks (unknown fields are ignored).
#[derive(Deserialize)]
struct Document<'a> {
    event_name: String,
    complete: bool,
    #[serde(borrow)]
    changes: Option<Vec<Change<'a>>>,
    #[serde(borrow)]
    old_image: Option<Item<'a>>,
    #[serde(borrow)]
    new_image: Option<Item<'a>>,
}

/// Any JSON object, and whether it is an error document.
#[derive(Deserialize)]
struct Probe {
    error: Option<IgnoredAny>,
}

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let result = transform(data, &RenderOptions::default(), &mut out);
    let parsed = parse_event(data);
    let stats = match result {
        Err(err) => {
            assert!(
                out.is_empty(),
                "Err ({err}) but {} bytes written",
                out.len()
            );
            assert!(
                parsed.is_err(),
                "transform rejects ({err}) what parse_event accepts"
            );
            return;
        }
        Ok(stats) => stats,
    };
    let records = match parsed {
        Ok(records) => records,
        Err(err) => panic!("transform accepts what parse_event rejects ({err})"),
    };
    let text = std::str::from_utf8(&out).expect("output is UTF-8");
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "the last line is not terminated"
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), records.len(), "one line per record");
    assert_eq!(stats.records, records.len(), "stats.records");
    for line in lines {
        // Grammar first: serde_json skips ignored values without range-checking numbers.
        let probe: Probe = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("line is not a JSON object ({e}): {line}"));
        // Every line reads back as a whole JSON value, error documents included (their `raw`
        // once kept numbers beyond f64's range and lone surrogates: tests/fuzz_regressions.rs).
        if let Err(e) = serde_json::from_str::<serde_json::Value>(line) {
            panic!("line is not JSON to serde_json ({e}): {line}");
        }
        if probe.error.is_some() {
            continue;
        }
        let doc: Document<'_> = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("document does not read back ({e}): {line}"));
        assert_eq!(
            doc.complete,
            doc.changes.is_some(),
            "complete iff changes: {line}"
        );
        let Some(changes) = doc.changes else {
            continue;
        };
        let mut item: Item<'static> = match (doc.event_name.as_str(), doc.old_image) {
            ("INSERT", _) | (_, None) => Item::default(),
            (_, Some(old)) => old.into_owned(),
        };
        let new: Item<'_> = match (doc.event_name.as_str(), doc.new_image) {
            ("REMOVE", _) | (_, None) => Item::default(),
            (_, Some(new)) => new,
        };
        if let Err(e) = patch::apply(&mut item, &changes) {
            panic!("changes do not apply ({e}): {line}");
        }
        assert!(
            item_eq(&item, &new),
            "old_image + changes != new_image: {line}"
        );
    }
});
