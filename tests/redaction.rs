//! Redaction, end to end through the engine: what a redacting deployment stores.
//! - every part of the rule: nested and wildcard patterns, lists, sets, a key attribute, a
//!   type change under a redacted path, one token for equal values spelled differently;
//! - whatever the item and the patterns, no redacted value appears in the document's bytes
//!   or its object key, and the diff applied to the old image gives the new one, tokens
//!   compared as opaque values.

mod common;

use std::sync::Arc;

use ddb_audit::document::{Stored, redact_record};
use ddb_audit::pattern::Pattern;
use ddb_audit::redaction::Redactor;
use ddb_audit::transform::transform;
use ddb_audit::value::item_eq;
use ddb_audit::{AttributeValue, Item, RenderOptions, Rendered, StreamRecord, key, patch};
use proptest::prelude::*;
use serde_json::{Value, json};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn options(patterns: &str) -> RenderOptions {
    let patterns = Pattern::parse_list(patterns).expect("patterns");
    RenderOptions {
        include_images: true,
        redaction: Some(Arc::new(Redactor::new(patterns, SECRET).expect("a secret"))),
    }
}

fn record(event_name: &str, old: Option<Value>, new: Option<Value>, keys: Value) -> Value {
    let mut dynamodb = json!({
        "ApproximateCreationDateTime": 1_764_210_700,
        "Keys": keys,
        "SequenceNumber": "100",
        "SizeBytes": 10,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    });
    if let Some(old) = old {
        dynamodb["OldImage"] = old;
    }
    if let Some(new) = new {
        dynamodb["NewImage"] = new;
    }
    json!({
        "eventID": "e", "eventName": event_name, "eventVersion": "1.1", "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1", "dynamodb": dynamodb,
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/2026-11-01T00:00:00.000",
    })
}

/// The one document of `record`, schema-checked, and its text.
fn render(record: &Value, options: &RenderOptions) -> (Value, String) {
    let event = serde_json::to_vec(&json!({ "Records": [record] })).expect("event");
    let mut out = Vec::new();
    transform(&event, options, &mut out).expect("a valid event");
    let mut docs = common::assert_lines_schema_valid(&out);
    assert_eq!(docs.len(), 1);
    (docs.remove(0), String::from_utf8(out).expect("UTF-8"))
}

fn token_of(doc: &Value, pointer: &str) -> Value {
    doc.pointer(pointer)
        .and_then(|v| v.get("REDACTED"))
        .cloned()
        .unwrap_or_else(|| panic!("no token at {pointer} in {doc}"))
}

/// A nested pattern and a wildcard over a list withhold exactly those values, in both
/// images and in the changes; the document says what was withheld and under which key.
#[test]
fn nested_and_wildcard_patterns_withhold_exactly_their_values() {
    let old = json!({"pk": {"S": "o#1"}, "card": {"M": {"number": {"S": "4111111111111111"}, "exp": {"S": "12/29"}}},
                     "contacts": {"L": [{"M": {"phone": {"S": "+81-90-1111"}, "name": {"S": "Sato"}}}]}});
    let new = json!({"pk": {"S": "o#1"}, "card": {"M": {"number": {"S": "5500000000000004"}, "exp": {"S": "12/29"}}},
                     "contacts": {"L": [{"M": {"phone": {"S": "+81-90-1111"}, "name": {"S": "Saito"}}},
                                        {"M": {"phone": {"S": "+81-90-2222"}, "name": {"S": "Ito"}}}]}});
    let (doc, text) = render(
        &record("MODIFY", Some(old), Some(new), json!({"pk": {"S": "o#1"}})),
        &options("/card/number,/contacts/*/phone"),
    );
    for secret in [
        "4111111111111111",
        "5500000000000004",
        "+81-90-1111",
        "+81-90-2222",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert_eq!(doc["new_image"]["card"]["M"]["exp"], json!({"S": "12/29"}));
    assert_eq!(token_of(&doc, "/new_image/card/M/number")["type"], "S");
    let changes: Vec<(&str, &str)> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["op"].as_str().unwrap(), c["path"].as_str().unwrap()))
        .collect();
    assert_eq!(
        changes,
        [
            ("replace", "/card/number"),
            ("replace", "/contacts/0/name"),
            ("add", "/contacts/1")
        ]
    );
    // Inside an added list element, the phone is a token and the name is not.
    assert_eq!(token_of(&doc, "/changes/2/new/M/phone")["type"], json!("S"));
    assert_eq!(doc["changes"][2]["new"]["M"]["name"], json!({"S": "Ito"}));
    assert_eq!(
        doc["redaction"],
        json!({"algorithm": "HMAC-SHA-256", "key_id": "3eb1bd439947eb76",
               "paths": ["/card/number", "/contacts/*/phone"]})
    );
}

/// Under a redacted path the diff stops: a set that changed is one replace of tokens, with
/// no added/removed; a change of type there is a replace whose tokens carry both types.
#[test]
fn the_diff_stops_at_a_redacted_path() {
    let old = json!({"pk": {"S": "a"}, "tags": {"SS": ["vip", "x"]}, "ssn": {"N": "123"}});
    let new = json!({"pk": {"S": "a"}, "tags": {"SS": ["vip", "y"]}, "ssn": {"S": "123"}});
    let (doc, _) = render(
        &record("MODIFY", Some(old), Some(new), json!({"pk": {"S": "a"}})),
        &options("/tags,/ssn"),
    );
    let changes = doc["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{doc}");
    assert_eq!(changes[0]["path"], "/ssn");
    assert_eq!(changes[0]["old"]["REDACTED"]["type"], "N");
    assert_eq!(changes[0]["new"]["REDACTED"]["type"], "S");
    assert_eq!(changes[1]["path"], "/tags");
    assert!(changes[1].get("added").is_none() && changes[1].get("removed").is_none());
}

/// Equal values spelled differently (1.50 and 1.5) give one token, so an unchanged value
/// under redaction is no change.
#[test]
fn equal_values_spelled_differently_are_no_change() {
    let old = json!({"pk": {"S": "a"}, "salary": {"N": "1.50"}});
    let new = json!({"pk": {"S": "a"}, "salary": {"N": "1.5"}});
    let (doc, _) = render(
        &record("MODIFY", Some(old), Some(new), json!({"pk": {"S": "a"}})),
        &options("/salary"),
    );
    assert_eq!(doc["changes"], json!([]));
    assert_eq!(
        doc["old_image"]["salary"], doc["new_image"]["salary"],
        "one token for one value"
    );
}

/// A redacted key attribute is a token in `key`, and the object key takes the keyed form:
/// no readable value and no plain hash of it.
#[test]
fn a_redacted_key_attribute_keys_the_object_by_its_token() {
    let keys = json!({"email": {"S": "alice@example.com"}});
    let raw = record(
        "INSERT",
        None,
        Some(json!({"email": {"S": "alice@example.com"}, "n": {"N": "1"}})),
        keys,
    )
    .to_string();
    let options = options("/email");
    let Rendered::Document { record, json, .. } = ddb_audit::render_record(&raw, &options) else {
        panic!("readable");
    };
    let object_key = key::record_key("audit/", &record);
    assert!(
        object_key.starts_with("audit/table=T/item=hmac-"),
        "{object_key}"
    );
    assert!(!object_key.contains("alice"), "{object_key}");
    let text = String::from_utf8(json).unwrap();
    assert!(!text.contains("alice@example.com"), "{text}");
    let Stored::Change(doc) = Stored::from_slice(text.as_bytes()).unwrap() else {
        panic!("a change document");
    };
    assert!(matches!(
        doc.key.get("email"),
        Some(AttributeValue::Redacted(_))
    ));
    assert!(doc.clear_at_redacted_paths().is_empty());
}

/// An unreadable record under redaction keeps no raw text: raw_hmac stands for it.
#[test]
fn an_unreadable_record_keeps_only_its_hmac() {
    let mut bad = record(
        "MODIFY",
        None,
        Some(json!({"email": {"S": "bob@example.com"}})),
        json!({"pk": {"S": "a"}}),
    );
    bad["dynamodb"]["NewImage"]["age"] = json!({"X": "1"});
    let (doc, text) = render(&bad, &options("/email"));
    assert!(!text.contains("bob@example.com"), "{text}");
    assert!(doc.get("raw").is_none());
    assert_eq!(doc["raw_hmac"].as_str().unwrap().len(), 43);
    assert_eq!(doc["redaction"]["key_id"], "3eb1bd439947eb76");
}

/// A document written in clear where its own redaction says a value is withheld is caught.
#[test]
fn a_value_in_clear_at_a_redacted_path_is_caught() {
    let (mut doc, _) = render(
        &record(
            "INSERT",
            None,
            Some(json!({"pk": {"S": "a"}, "email": {"S": "c@example.com"}})),
            json!({"pk": {"S": "a"}}),
        ),
        &options("/email"),
    );
    doc["new_image"]["email"] = json!({"S": "c@example.com"});
    let Stored::Change(stored) = Stored::from_value(doc).unwrap() else {
        panic!("a change document");
    };
    assert_eq!(stored.clear_at_redacted_paths(), ["new_image /email"]);
}

// --- the property ------------------------------------------------------------------------------

/// Values distinctive enough that finding one in the output can only mean a leak.
fn secret_text() -> impl Strategy<Value = String> {
    "[A-Z]{3}[0-9]{6}[a-z]{3}".prop_map(|s| format!("SECRET-{s}"))
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        secret_text().prop_map(|s| json!({ "S": s })),
        (1u64..1_000_000_000).prop_map(|n| json!({ "N": format!("7{n}") })),
        prop::collection::vec(secret_text(), 1..3).prop_map(|s| json!({ "SS": s })),
        Just(json!({"BOOL": true})),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|l| json!({ "L": l })),
            prop::collection::btree_map("[abc]", inner, 0..4).prop_map(|m| json!({ "M": m })),
        ]
    })
}

fn image() -> impl Strategy<Value = serde_json::Map<String, Value>> {
    prop::collection::btree_map("[abc]", value(), 0..4).prop_map(|m| m.into_iter().collect())
}

fn patterns() -> impl Strategy<Value = String> {
    let pattern = prop::collection::vec(prop_oneof![Just("*".to_owned()), "[abc]"], 1..4)
        .prop_map(|segments| format!("/{}", segments.join("/")));
    prop::collection::vec(pattern, 1..4).prop_map(|p| p.join(","))
}

/// Every string and number in `value` that sits at a path `redactor` withholds.
fn withheld(redactor: &Redactor, item: &Value) -> Vec<String> {
    fn walk(
        redactor: &Redactor,
        path: &mut Vec<String>,
        list: &mut Vec<bool>,
        value: &Value,
        out: &mut Vec<String>,
        inside: bool,
    ) {
        use ddb_audit::pattern::Step;
        let steps: Vec<Step<'_>> = path
            .iter()
            .zip(list.iter())
            .map(|(p, is_index)| {
                if *is_index {
                    Step::Index(p.parse().unwrap())
                } else {
                    Step::Key(p)
                }
            })
            .collect();
        let inside = inside || (!path.is_empty() && redactor.is_redacted(&steps));
        let Some((tag, inner)) = value.as_object().and_then(|m| m.iter().next()) else {
            return;
        };
        match (tag.as_str(), inner) {
            ("S" | "N", Value::String(s)) if inside => out.push(s.clone()),
            ("SS", Value::Array(items)) if inside => {
                out.extend(items.iter().filter_map(|s| s.as_str().map(str::to_owned)))
            }
            ("L", Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(i.to_string());
                    list.push(true);
                    walk(redactor, path, list, item, out, inside);
                    path.pop();
                    list.pop();
                }
            }
            ("M", Value::Object(map)) => {
                for (name, item) in map {
                    path.push(name.clone());
                    list.push(false);
                    walk(redactor, path, list, item, out, inside);
                    path.pop();
                    list.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(
        redactor,
        &mut Vec::new(),
        &mut Vec::new(),
        &json!({ "M": item }),
        &mut out,
        false,
    );
    out
}

fn item_of(value: &Value) -> Item<'static> {
    serde_json::from_str::<Item<'_>>(&value.to_string())
        .expect("typed map")
        .into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(1000)
    ))]

    /// No withheld value reaches the document or the object key, and the changes applied
    /// to the redacted old image give the redacted new image.
    #[test]
    fn redaction_leaks_nothing_and_keeps_the_invariant(
        old in image(), new in image(), patterns in patterns()
    ) {
        let options = options(&patterns);
        let redactor = options.redaction.clone().unwrap();
        let mut old_item = old.clone();
        let mut new_item = new.clone();
        old_item.insert("pk".into(), json!({"S": "SECRET-KEY-1"}));
        new_item.insert("pk".into(), json!({"S": "SECRET-KEY-1"}));
        let raw = record("MODIFY", Some(Value::Object(old_item.clone())),
                         Some(Value::Object(new_item.clone())), json!({"pk": {"S": "SECRET-KEY-1"}}));
        let (doc, text) = render(&raw, &options);
        let raw_text = raw.to_string();
        let Rendered::Document { record, .. } = ddb_audit::render_record(&raw_text, &options) else {
            panic!("readable");
        };
        let object_key = key::record_key("audit/", &record);
        for image in [&Value::Object(old_item), &Value::Object(new_item)] {
            let image = image.as_object().unwrap();
            for secret in withheld(&redactor, &Value::Object(image.clone())) {
                prop_assert!(!text.contains(&secret), "{} leaked: {}", secret, text);
                prop_assert!(!object_key.contains(&secret), "{} in {}", secret, object_key);
            }
        }
        let mut state = item_of(&doc["old_image"]);
        let changes_text = doc["changes"].to_string();
        let changes: Vec<ddb_audit::Change<'_>> =
            serde_json::from_str(&changes_text).expect("changes");
        patch::apply(&mut state, &changes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(item_eq(&state, &item_of(&doc["new_image"])), "{}", doc);
        // The same record redacted directly gives the same images.
        let parsed = StreamRecord::parse(&raw_text).expect("readable");
        let redacted = redact_record(&parsed, &redactor).expect("redactable");
        prop_assert!(item_eq(redacted.new_image.as_ref().unwrap(), &item_of(&doc["new_image"])));
    }
}
