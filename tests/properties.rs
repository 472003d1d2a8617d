//! Property tests of the contract's invariants, through the rendered documents:
//! - applying `changes` in order to `old_image` gives `new_image` (rule-1 equality), each
//!   `old` matching what it replaces, and equal items give no change;
//! - lists (rule 3): the elements neither aligned nor paired are as few as possible, the
//!   lists' lengths minus twice their longest common subsequence (a plain O(N·M) dynamic
//!   programme under rule-1 equality) minus twice the pairs, on list-heavy items: long lists,
//!   inserts, deletes, replacements, repeated and rule-1-equal elements;
//! - whatever the input, `transform` never panics, writes one schema-valid document per
//!   record, and rejects whole only what is not an event.
//!
//! Case counts: PROPTEST_CASES overrides; CI runs the diff and list properties at 10,000
//! cases each.

mod common;

use base64::Engine as _;
use ddb_audit::transform::transform;
use ddb_audit::value::item_eq;
use ddb_audit::{Change, Item, RenderOptions, patch};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Attribute names from a small alphabet, so old and new items share names and recurse,
/// including the characters JSON Pointer must escape.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just("a/b".to_string()),
        Just("~".to_string()),
        Just("é".to_string()),
        Just("Z".to_string()),
        "[a-c]{1,2}",
    ]
}

/// Number text in the many spellings DynamoDB accepts, up to 38 significant digits.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        (0i64..4).prop_map(|n| n.to_string()),
        (0i64..4).prop_map(|n| format!("{n}.0")),
        (0i64..4).prop_map(|n| format!("{n}0E-1")),
        "-?[1-9][0-9]{0,37}",
        "-?[0-9]{1,5}\\.[0-9]{1,20}",
        "[1-9]\\.[0-9]{0,10}[eE][+-]?[0-9]{1,2}",
    ]
}

fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("x".to_string()),
        Just("y".to_string()),
        ".{0,8}",
        "[\\x00-\\x1f\"\\\\]{0,3}"
    ]
}

fn binary() -> impl Strategy<Value = String> {
    prop::collection::vec(0u8..4, 0..4)
        .prop_map(|b| base64::engine::general_purpose::STANDARD.encode(b))
}

/// Sets of one to four members. DynamoDB sends distinct members, but some real events
/// repeat one (or spell one number twice), and a set holds it once: both kinds are drawn.
fn set_of(member: BoxedStrategy<String>) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(member, 1..5)
}

/// A typed value as DynamoDB JSON.
fn typed() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        string().prop_map(|s| json!({ "S": s })),
        number().prop_map(|n| json!({ "N": n })),
        binary().prop_map(|b| json!({ "B": b })),
        any::<bool>().prop_map(|b| json!({ "BOOL": b })),
        Just(json!({ "NULL": true })),
        set_of(string().boxed()).prop_map(|s| json!({ "SS": s })),
        set_of(number().boxed()).prop_map(|s| json!({ "NS": s })),
        set_of(binary().boxed()).prop_map(|s| json!({ "BS": s })),
    ];
    leaf.prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(|l| json!({ "L": l })),
            prop::collection::btree_map(name(), inner, 0..5).prop_map(|m| json!({ "M": m })),
        ]
    })
}

fn image() -> impl Strategy<Value = serde_json::Map<String, Value>> {
    prop::collection::btree_map(name(), typed(), 0..6).prop_map(|m| m.into_iter().collect())
}

fn record(
    event_name: &str,
    old: Option<&serde_json::Map<String, Value>>,
    new: Option<&serde_json::Map<String, Value>>,
) -> Value {
    let mut dynamodb = json!({
        "ApproximateCreationDateTime": 1_764_210_700,
        "Keys": {"pk": {"S": "item"}},
        "SequenceNumber": "100",
        "SizeBytes": 10,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    });
    if let Some(old) = old {
        dynamodb["OldImage"] = Value::Object(old.clone());
    }
    if let Some(new) = new {
        dynamodb["NewImage"] = Value::Object(new.clone());
    }
    json!({
        "eventID": "e", "eventName": event_name, "eventVersion": "1.1", "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1", "dynamodb": dynamodb,
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/2026-11-01T00:00:00.000",
    })
}

/// Renders one record through `transform` and returns its document, schema-checked.
fn document_of(record: Value) -> Value {
    let event = serde_json::to_vec(&json!({ "Records": [record] })).expect("event serializes");
    let mut out = Vec::new();
    transform(&event, &RenderOptions::default(), &mut out).expect("a valid event");
    let mut docs = common::assert_lines_schema_valid(&out);
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

fn item_of(value: &Value) -> Item<'static> {
    serde_json::from_value::<Value>(value.clone())
        .map(|v| {
            serde_json::from_str::<Item<'_>>(&v.to_string())
                .expect("typed map")
                .into_owned()
        })
        .expect("JSON")
}

/// Applies the document's changes to `from`, as `ddb-audit replay` does.
fn apply_document(from: &Item<'static>, doc: &Value) -> Item<'static> {
    let text = doc["changes"].to_string();
    let changes: Vec<Change<'_>> = serde_json::from_str(&text).expect("changes read back");
    let mut state = from.clone();
    patch::apply(&mut state, &changes).unwrap_or_else(|e| panic!("{e}\n{doc}"));
    state
}

fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cases(10_000))]

    // The spec's invariant: old_image + changes = new_image, every `old` as found.
    #[test]
    fn applying_changes_to_old_gives_new(old in image(), new in image()) {
        let doc = document_of(record("MODIFY", Some(&old), Some(&new)));
        let (old_item, new_item) = (item_of(&Value::Object(old)), item_of(&Value::Object(new)));
        let result = apply_document(&old_item, &doc);
        prop_assert!(item_eq(&result, &new_item), "{}", doc);
        // Equal items (rule 1) produce no change, unequal ones at least one.
        prop_assert_eq!(doc["changes"].as_array().expect("changes").is_empty(), item_eq(&old_item, &new_item));
    }
}

proptest! {
    #![proptest_config(cases(2_000))]

    // An item diffed with itself, however respelled, has no changes.
    #[test]
    fn an_item_against_itself_has_no_changes(old in image()) {
        let doc = document_of(record("MODIFY", Some(&old), Some(&old)));
        prop_assert_eq!(&doc["changes"], &json!([]));
    }

    // Rule 5: an INSERT rebuilds its item from nothing, a REMOVE takes it to nothing.
    #[test]
    fn insert_and_remove_are_whole_item_changes(item in image()) {
        let typed = item_of(&Value::Object(item.clone()));
        let insert = document_of(record("INSERT", None, Some(&item)));
        prop_assert!(item_eq(&apply_document(&Item::default(), &insert), &typed));
        let remove = document_of(record("REMOVE", Some(&item), None));
        prop_assert!(apply_document(&typed, &remove).is_empty());
    }
}

/// List elements from a small pool, so lists repeat elements and share them, including
/// elements equal by rule 1 but spelled apart (`1` and `1.0`, reordered sets) and maps and
/// lists that recurse when paired.
fn element() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => Just(json!({"S": "x"})),
        2 => Just(json!({"S": "y"})),
        2 => Just(json!({"N": "1"})),
        1 => Just(json!({"N": "1.0"})),
        1 => Just(json!({"N": "2"})),
        1 => Just(json!({"NS": ["1", "2"]})),
        1 => Just(json!({"NS": ["2.0", "1"]})),
        1 => (0u8..3).prop_map(|q| json!({"M": {"sku": {"S": "A"}, "qty": {"N": q.to_string()}}})),
        1 => (0u8..3).prop_map(|q| json!({"M": {"sku": {"S": "B"}, "qty": {"N": q.to_string()}}})),
        1 => (0u8..2).prop_map(|n| json!({"L": [{"S": "x"}, {"N": n.to_string()}]})),
        1 => typed(),
    ]
}

/// One edit of a list: insert, delete or replace at a position.
#[derive(Debug, Clone)]
enum Edit {
    Insert(prop::sample::Index, Value),
    Delete(prop::sample::Index),
    Replace(prop::sample::Index, Value),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<prop::sample::Index>(), element()).prop_map(|(i, e)| Edit::Insert(i, e)),
        any::<prop::sample::Index>().prop_map(Edit::Delete),
        (any::<prop::sample::Index>(), element()).prop_map(|(i, e)| Edit::Replace(i, e)),
    ]
}

/// An old list and a new one: the old one edited a few times (what real updates do), or
/// drawn independently (where alignment has the most choice).
fn list_pair(max_len: usize) -> impl Strategy<Value = (Vec<Value>, Vec<Value>)> {
    let edited = (
        prop::collection::vec(element(), 0..max_len),
        prop::collection::vec(edit(), 0..8),
    )
        .prop_map(|(old, edits)| {
            let mut new = old.clone();
            for edit in edits {
                match edit {
                    Edit::Insert(at, e) => new.insert(at.index(new.len() + 1), e),
                    Edit::Delete(at) if !new.is_empty() => {
                        new.remove(at.index(new.len()));
                    }
                    Edit::Replace(at, e) if !new.is_empty() => {
                        let i = at.index(new.len());
                        new[i] = e;
                    }
                    _ => {}
                }
            }
            (old, new)
        });
    let independent = (
        prop::collection::vec(element(), 0..max_len.min(24)),
        prop::collection::vec(element(), 0..max_len.min(24)),
    );
    prop_oneof![3 => edited, 1 => independent]
}

/// Length of a longest common subsequence under rule 1: the plain O(N·M) programme.
fn lcs_len(old: &[Value], new: &[Value]) -> usize {
    let typed = |l: &[Value]| -> Vec<ddb_audit::AttributeValue<'static>> {
        l.iter()
            .map(|v| {
                serde_json::from_str::<ddb_audit::AttributeValue<'_>>(&v.to_string())
                    .expect("typed value")
                    .into_owned()
            })
            .collect()
    };
    let (a, b) = (typed(old), typed(new));
    let mut row = vec![0usize; b.len() + 1];
    for x in &a {
        let mut diagonal = 0;
        for (j, y) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ddb_audit::value::spec_eq(x, y) {
                diagonal + 1
            } else {
                above.max(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// For the list at `list`: (elements added or removed there, elements paired there), read
/// from the changes. A pair is an index with a replace of the element or changes inside it.
fn unaligned_and_paired(changes: &[Value], list: &str) -> (usize, usize) {
    let prefix = format!("{list}/");
    let mut unaligned = 0;
    let mut paired = std::collections::BTreeSet::new();
    for change in changes {
        let path = change["path"].as_str().expect("path");
        let Some(rest) = path.strip_prefix(&prefix) else {
            continue;
        };
        match rest.split_once('/') {
            None if change["op"] != "replace" => unaligned += 1,
            None => {
                paired.insert(rest.to_owned());
            }
            Some((index, _)) => {
                paired.insert(index.to_owned());
            }
        }
    }
    (unaligned, paired.len())
}

/// An item holding the list at `/l` and inside a map at `/m/l`, beside a plain attribute.
fn list_image(list: &[Value], inner: &[Value]) -> serde_json::Map<String, Value> {
    let item = json!({
        "pk": {"S": "item"},
        "l": {"L": list},
        "m": {"M": {"l": {"L": inner}, "n": {"N": "1"}}},
    });
    item.as_object().expect("object").clone()
}

/// Checks the invariant and the minimality of the diff of one pair of lists at `/l`.
fn check_lists(
    (old, new): (Vec<Value>, Vec<Value>),
    (inner_old, inner_new): (Vec<Value>, Vec<Value>),
) -> Result<(), TestCaseError> {
    let (old_image, new_image) = (list_image(&old, &inner_old), list_image(&new, &inner_new));
    let doc = document_of(record("MODIFY", Some(&old_image), Some(&new_image)));
    let (old_item, new_item) = (
        item_of(&Value::Object(old_image)),
        item_of(&Value::Object(new_image)),
    );
    prop_assert!(
        item_eq(&apply_document(&old_item, &doc), &new_item),
        "{}",
        doc
    );
    let changes = doc["changes"].as_array().expect("changes");
    for (path, old, new) in [("/l", &old, &new), ("/m/l", &inner_old, &inner_new)] {
        let (unaligned, paired) = unaligned_and_paired(changes, path);
        let least = old.len() + new.len() - 2 * lcs_len(old, new);
        prop_assert_eq!(unaligned + 2 * paired, least, "{}: {}", path, doc);
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(10_000))]

    // Rule 3 on list-heavy items: the invariant holds, and no alignment leaves fewer
    // elements neither aligned nor paired.
    #[test]
    fn list_diffs_apply_and_are_minimal(lists in list_pair(48), inner in list_pair(12)) {
        check_lists(lists, inner)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(10_000).cases.div_ceil(50), ..cases(0) })]

    // The same on long lists (hundreds of elements, a few edits), as real items carry.
    #[test]
    fn long_list_diffs_apply_and_are_minimal(lists in list_pair(600)) {
        check_lists(lists, (Vec::new(), Vec::new()))?;
    }
}

/// Arbitrary JSON, for records that are anything at all.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,6}".prop_map(Value::String),
        prop_oneof![
            Just("S"),
            Just("N"),
            Just("M"),
            Just("L"),
            Just("SS"),
            Just("B"),
            Just("NULL")
        ]
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("S".to_string()),
                    Just("dynamodb".to_string()),
                    Just("NewImage".to_string()),
                    Just("Keys".to_string()),
                    Just("eventName".to_string()),
                    ".{0,4}"
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A valid record with one field replaced by arbitrary JSON somewhere inside it.
fn mutated_record() -> impl Strategy<Value = Value> {
    (image(), image(), any_json(), 0usize..8).prop_map(|(old, new, junk, at)| {
        let mut r = record("MODIFY", Some(&old), Some(&new));
        let targets = [
            "/eventID",
            "/eventName",
            "/dynamodb/Keys",
            "/dynamodb/NewImage",
            "/dynamodb/SequenceNumber",
            "/dynamodb/ApproximateCreationDateTime",
            "/eventSourceARN",
            "/dynamodb/SizeBytes",
        ];
        if let Some(slot) = r.pointer_mut(targets[at]) {
            *slot = junk;
        }
        r
    })
}

proptest! {
    #![proptest_config(cases(1_000))]

    // Whatever the records hold, every record gives one schema-valid document; never a panic.
    #[test]
    fn any_records_give_one_valid_document_each(records in prop::collection::vec(prop_oneof![any_json(), mutated_record()], 0..6)) {
        let event = serde_json::to_vec(&json!({ "Records": records })).expect("serializes");
        let mut out = Vec::new();
        let stats = transform(&event, &RenderOptions::default(), &mut out).expect("an event");
        let docs = common::assert_lines_schema_valid(&out);
        prop_assert_eq!(docs.len(), records.len());
        prop_assert_eq!(stats.records, records.len());
        for (doc, record) in docs.iter().zip(&records) {
            if doc.get("error").is_some() {
                // Kept verbatim: the raw record reads back as the record sent.
                prop_assert_eq!(&doc["raw"], record);
            }
        }
    }

    // Any byte string: a valid event's documents or a clean rejection, never a panic, and
    // nothing written on rejection.
    #[test]
    fn any_bytes_are_rejected_cleanly_or_transformed(prefix in prop::collection::vec(any::<u8>(), 0..64), cut in 0usize..400) {
        let base = serde_json::to_vec(&json!({"Records": [record("MODIFY", None, None)]})).expect("serializes");
        let mut input = base[..cut.min(base.len())].to_vec();
        input.extend_from_slice(&prefix);
        let mut out = Vec::new();
        match transform(&input, &RenderOptions::default(), &mut out) {
            Ok(_) => { common::assert_lines_schema_valid(&out); }
            Err(_) => prop_assert!(out.is_empty()),
        }
    }
}

// The schema check is not vacuous: a document missing a required field fails it.
#[test]
#[should_panic(expected = "violates the schema")]
fn schema_check_rejects_a_document_without_table() {
    let mut doc = document_of(record("INSERT", None, Some(&serde_json::Map::new())));
    doc.as_object_mut().expect("object").remove("table");
    common::assert_schema_valid(&doc);
}
