//! Fuzz target `reader_vs_serde`: the core's own JSON reader against serde_json.
//!
//! `parse_event(data).is_ok()` must agree with serde_json accepting `data` as an object holding
//! one `"Records"` array of any JSON values (other members ignored). The serde side is written
//! with a map visitor rather than `#[derive(Deserialize)]` because a derived struct also accepts
//! a JSON array (`[[...]]`) as the struct's sequence form, which is not an event; like the core,
//! the visitor rejects a duplicated `"Records"` key. Input that is not UTF-8 is compared with
//! nothing: the core must reject it.
#![no_main]

use std::fmt;

use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

/// `{"Records": [...]}`, by serde_json's rules.
struct SerdeEvent {
    #[allow(dead_code)]
    records: usize,
}

impl<'de> Deserialize<'de> for SerdeEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EventVisitor;
        impl<'de> Visitor<'de> for EventVisitor {
            type Value = SerdeEvent;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object with a \"Records\" array")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SerdeEvent, A::Error> {
                let mut records = None;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key == "Records" {
                        if records.is_some() {
                            return Err(de::Error::duplicate_field("Records"));
                        }
                        records = Some(map.next_value::<Vec<IgnoredAny>>()?.len());
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                records
                    .map(|records| SerdeEvent { records })
                    .ok_or_else(|| de::Error::missing_field("Records"))
            }
        }
        d.deserialize_map(EventVisitor)
    }
}

fuzz_target!(|data: &[u8]| {
    let core = ddb_audit_core::parse_event(data);
    // Known divergence (docs/fuzzing.md): serde_json's from_slice does not check the UTF-8 of
    // strings it skips (IgnoredAny), so it accepts events that are not UTF-8 text. JSON text
    // must be UTF-8 (RFC 8259 §8.1) and the core rejects it whole; hold the core to that, and
    // compare with serde_json on text only.
    let Ok(text) = std::str::from_utf8(data) else {
        assert!(core.is_err(), "the core accepts bytes that are not UTF-8");
        return;
    };
    // Two intended divergences (the contract, docs/audit-document.md): a leading byte order
    // mark is ignored, and valid JSON is accepted at any depth (serde_json stops at 128
    // levels; the core then makes the record an error document, never the event).
    let serde = serde_json::from_str::<SerdeEvent>(text.strip_prefix('\u{feff}').unwrap_or(text));
    match (&core, &serde) {
        (Ok(records), Ok(event)) => assert_eq!(records.len(), event.records, "record count"),
        (Err(_), Err(_)) => {}
        (Ok(_), Err(e)) if e.to_string().starts_with("recursion limit exceeded") => {}
        _ => panic!(
            "core {:?} vs serde_json {:?} on {:?}",
            core.as_ref().map(|r| r.len()),
            serde.as_ref().map(|e| e.records),
            String::from_utf8_lossy(data)
        ),
    }
});
