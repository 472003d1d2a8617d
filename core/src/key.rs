//! Object keys: where each audit document (record mode) or JSON Lines object (batch mode)
//! lives in the bucket.
//!
//! Every function here is pure and deterministic: the same record always gives the same
//! key, so a re-delivered batch writes the same keys and `If-None-Match: *` turns the
//! second write into a no-op. The CLI uses [`item_prefix`] to find an item's history.
//! This module performs no IO.
//!
//! # Layout
//!
//! Record mode, one object per change:
//!
//! ```text
//! <prefix>table=<table>/item=<item key>/<sequence number, 40 digits>-<eventID>.json
//! <prefix>unreadable/<sequence number, 40 digits | noseq>-<eventID | sha256-<hex of error document>>.json
//! ```
//!
//! Batch mode, one gzip JSON Lines object per run of consecutive records of one table and
//! hour in an invocation, named after its first record only:
//!
//! ```text
//! <prefix>table=<table>/dt=YYYY-MM-DD/hour=HH/<first sequence number, 40 digits>.jsonl.gz
//! <prefix>table=<table>/dt=unknown/hour=unknown/...   (records without a creation time)
//! ```
//!
//! The last record is not in the name: a re-delivery that starts at the same record but
//! runs further (Lambda fills the batch again) must meet the same key, find it taken, and
//! learn from the object's metadata ([`LAST_SEQUENCE_NUMBER`], [`RECORDS`],
//! [`FIRST_EVENT_ID`]) where the stored records end. [`compare_sequence_numbers`] orders sequence numbers.
//!
//! The item key is readable for string and number keys: attributes sorted by name,
//! `name=value` joined by `,`, e.g. `pk=ORDER%231,sk=N:12`. Strings are written as they
//! are, numbers get an `N:` marker (so the string `"12"` and the number `12` differ) and are
//! normalised (`1.50` and `1.5` are the same DynamoDB key). Names and values are
//! percent-encoded except for `A-Z a-z 0-9 - _ .`, so `/`, `%`, `,`, `=`, `:`, control
//! characters and non-ASCII can never be read as structure. A key with a binary (or any
//! non-scalar) attribute, or whose readable form would push the object key past S3's
//! 1024 bytes, is written as `sha256-<hex>` instead: a hash of a canonical, typed encoding
//! of the key. That form contains no `=`, which every non-empty readable form does, so the
//! two forms never collide.

use std::cmp::Ordering;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};

use crate::number;
use crate::record::StreamRecord;
use crate::timestamp::Timestamp;
use crate::value::{AttributeValue, Item};

/// S3's limit on the length of an object key, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// The longest `AUDIT_PREFIX` the layout accepts (bytes). With it, every key stays within
/// [`MAX_KEY_BYTES`] whatever the record: see `worst_case_record_key_fits` in the tests.
pub const MAX_PREFIX_BYTES: usize = 512;

/// Sequence numbers are zero-padded to this many digits, so listing an item's prefix
/// (lexicographic) returns its changes in stream order. DynamoDB sequence numbers are
/// decimal strings of at most 40 digits.
pub const SEQUENCE_WIDTH: usize = 40;

/// A table segment longer than this (only possible for names DynamoDB itself would reject)
/// is hashed; real table names are at most 255 characters of `[A-Za-z0-9_.-]`.
const MAX_TABLE_PART: usize = 255;

/// A sequence-number or eventID segment longer than this is hashed. Real eventIDs are 32
/// hex characters and real sequence numbers at most 40 digits.
const MAX_LEAF_PART: usize = 64;

/// Length of a `sha256-<64 hex>` segment.
const HASH_PART: usize = "sha256-".len() + 64;

/// The longest record-mode leaf: `<sequence part>-<id part>.json`.
const MAX_LEAF: usize = HASH_PART + 1 + HASH_PART + ".json".len();

/// Bytes kept literal; everything else is percent-encoded (`%XX` of each UTF-8 byte).
/// This is a subset of the characters S3 documents as safe in keys.
const KEY_SAFE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// User metadata of a batch object: the sequence number of its last record, as DynamoDB
/// wrote it (S3 header `x-amz-meta-last-sequence-number`).
pub const LAST_SEQUENCE_NUMBER: &str = "last-sequence-number";

/// User metadata of a batch object: how many records (lines) it holds, in decimal
/// (S3 header `x-amz-meta-records`).
pub const RECORDS: &str = "records";

/// User metadata of a batch object: the eventID of its first record (S3 header
/// `x-amz-meta-first-event-id`). The key holds only a sequence number; this tells a
/// re-delivery that the object under it starts with the same record, and not with one
/// of another stream of the table that happens to share the number.
pub const FIRST_EVENT_ID: &str = "first-event-id";

/// `Content-Type` of a record-mode document (and of an unreadable record's error document).
pub const JSON: &str = "application/json";

/// `Content-Type` of a batch-mode JSON Lines object.
pub const JSON_LINES: &str = "application/x-ndjson";

/// `Content-Encoding` of a batch-mode object.
pub const GZIP: &str = "gzip";

/// The date and hour partition used for records without an approximate creation time.
pub const UNKNOWN_PARTITION: (&str, &str) = ("unknown", "unknown");

/// `<prefix>table=<table>/`: everything the function wrote for one table (record mode and
/// batch mode alike).
pub fn table_prefix(prefix: &str, table: &str) -> String {
    format!("{prefix}table={}/", table_part(table))
}

/// `<prefix>table=<table>/item=<item key>/`: every record-mode document of one item, in
/// stream order when listed. `keys` is the item's primary key (the record's `Keys`).
pub fn item_prefix(prefix: &str, table: &str, keys: &Item<'_>) -> String {
    let mut out = table_prefix(prefix, table);
    out.push_str("item=");
    // The decision between the readable and the hashed form depends only on the prefix,
    // the table and the key (never on the record), so all of one item's documents share
    // one prefix. It reserves room for the longest possible leaf.
    let readable = readable_key(keys)
        .filter(|readable| out.len() + readable.len() + 1 + MAX_LEAF <= MAX_KEY_BYTES);
    // A key with a redacted attribute holds its tokens: its hash can only be computed by a
    // holder of the secret, which the `hmac-` form says.
    let redacted = keys
        .iter()
        .any(|(_, value)| matches!(value, AttributeValue::Redacted(_)));
    match readable {
        Some(readable) => out.push_str(&readable),
        None if redacted => out.push_str(&keyed_part(&canonical_key(keys))),
        None => out.push_str(&hash_part(&canonical_key(keys))),
    }
    out.push('/');
    out
}

/// The record-mode key of one readable record's document.
pub fn record_key(prefix: &str, record: &StreamRecord<'_>) -> String {
    let mut out = item_prefix(prefix, &record.table, &record.keys);
    out.push_str(&sequence_part(&record.sequence_number));
    out.push('-');
    out.push_str(&id_part(&record.event_id));
    out.push_str(".json");
    out
}

/// The key of an unreadable record's error document (both modes).
///
/// Uses whatever identifies the record and survives re-delivery: its sequence number and
/// eventID when readable; for a missing eventID, the SHA-256 of `raw`, bytes determined by
/// the record alone (the handler passes the error document, which holds the record
/// verbatim). Two different records must never share a key (the second write would be taken
/// for a duplicate and lost), hence the sequence number alone is never enough.
pub fn unreadable_key(
    prefix: &str,
    event_id: Option<&str>,
    sequence_number: Option<&str>,
    raw: &[u8],
) -> String {
    let seq = sequence_number.map_or_else(|| "noseq".to_owned(), sequence_part);
    let id = event_id.map_or_else(|| hash_part(raw), id_part);
    format!("{prefix}unreadable/{seq}-{id}.json")
}

/// The batch-mode partition `(dt, hour)` of a record: its approximate creation time in UTC,
/// or [`UNKNOWN_PARTITION`] when the record has none.
pub fn batch_partition(created: Option<Timestamp>) -> (String, String) {
    match created {
        Some(ts) => ts.date_hour(),
        None => (
            UNKNOWN_PARTITION.0.to_owned(),
            UNKNOWN_PARTITION.1.to_owned(),
        ),
    }
}

/// The batch-mode key of a gzip JSON Lines object, named after the sequence number of its
/// first record (where the records end is in its metadata, see the module docs).
pub fn batch_key(prefix: &str, table: &str, dt: &str, hour: &str, first_seq: &str) -> String {
    format!(
        "{}dt={}/hour={}/{}.jsonl.gz",
        table_prefix(prefix, table),
        encode(dt),
        encode(hour),
        sequence_part(first_seq),
    )
}

/// A metadata value for `text`: S3 sends metadata as HTTP headers, so everything but
/// `A-Z a-z 0-9 - _ .` is percent-encoded, as in keys. Real eventIDs (hex) and sequence
/// numbers (digits) are unchanged.
pub fn metadata_value(text: &str) -> String {
    encode(text)
}

/// Orders two sequence numbers by their numeric value, or `None` when either is not a
/// decimal integer. They have up to 40 digits, beyond `u64` (and exact `f64`), so they
/// are compared as text: without leading zeros, the shorter is smaller, and equal lengths
/// compare digit by digit.
pub fn compare_sequence_numbers(a: &str, b: &str) -> Option<Ordering> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(a) || !digits(b) {
        return None;
    }
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    Some(a.len().cmp(&b.len()).then_with(|| a.cmp(b)))
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, KEY_SAFE).to_string()
}

fn hash_part(bytes: &[u8]) -> String {
    format!("sha256-{}", hex::encode(Sha256::digest(bytes)))
}

/// The form of a key with redacted attributes: the same hash over an encoding that holds
/// their tokens (HMAC-SHA-256 under the deployment's secret), so a guessed key value cannot
/// be checked against the bucket's listing without the secret.
fn keyed_part(bytes: &[u8]) -> String {
    format!("hmac-{}", hex::encode(Sha256::digest(bytes)))
}

fn table_part(table: &str) -> String {
    let encoded = encode(table);
    if encoded.len() <= MAX_TABLE_PART {
        encoded
    } else {
        hash_part(table.as_bytes())
    }
}

/// Decimal sequence numbers of up to 40 digits are zero-padded to 40. Anything else (not
/// produced by DynamoDB) is encoded as is, or hashed when long: still unique, but sorted
/// after the numeric ones.
fn sequence_part(sequence_number: &str) -> String {
    let digits = !sequence_number.is_empty() && sequence_number.bytes().all(|b| b.is_ascii_digit());
    if digits && sequence_number.len() <= SEQUENCE_WIDTH {
        return format!("{sequence_number:0>SEQUENCE_WIDTH$}");
    }
    bounded_part(sequence_number)
}

fn id_part(event_id: &str) -> String {
    bounded_part(event_id)
}

/// The encoded text, or its hash when longer than [`MAX_LEAF_PART`]; the two never collide
/// because a hash part is longer than any kept text.
fn bounded_part(text: &str) -> String {
    let encoded = encode(text);
    if encoded.len() <= MAX_LEAF_PART {
        encoded
    } else {
        hash_part(text.as_bytes())
    }
}

/// `name=value,...` in name order, or `None` when an attribute is neither S nor N.
fn readable_key(keys: &Item<'_>) -> Option<String> {
    let mut out = String::new();
    for (index, (name, value)) in keys.iter().enumerate() {
        let name: &str = name;
        if index > 0 {
            out.push(',');
        }
        out.push_str(&encode(name));
        out.push('=');
        match value {
            AttributeValue::S(text) => out.push_str(&encode(text)),
            AttributeValue::N(text) => {
                out.push_str("N:");
                out.push_str(&encode(&canonical_number(text)));
            }
            _ => return None,
        }
    }
    Some(out)
}

/// The item key an object key names in record mode (the inverse of the readable form):
/// `None` for the hashed form, for a key outside the record layout, or for text this
/// module never writes. Numbers come back in their normalised spelling.
pub fn item_of_object_key(object_key: &str) -> Option<Item<'static>> {
    let segment = object_key
        .split('/')
        .find_map(|part| part.strip_prefix("item="))?;
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .ok()
            .map(|t| t.into_owned())
    };
    let mut attributes = Vec::new();
    for part in segment.split(',') {
        let (name, value) = part.split_once('=')?;
        let value = match value.strip_prefix("N:") {
            Some(number) => {
                let number = decode(number)?;
                number::is_valid(&number).then(|| AttributeValue::N(number.into()))?
            }
            None => AttributeValue::S(decode(value)?.into()),
        };
        attributes.push((decode(name)?.into(), value));
    }
    Item::from_attributes(attributes)
}

/// A canonical, typed, self-delimiting encoding of a key, the input of the hashed form.
/// Every attribute is its name and its value, each length-prefixed and tagged, so no two
/// different keys encode alike.
fn canonical_key(keys: &Item<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    out.push(b'M');
    push_len(&mut out, keys.len());
    for (name, value) in keys.iter() {
        let name: &str = name;
        push_bytes(&mut out, name.as_bytes());
        canonical_value(&mut out, value);
    }
    out
}

fn canonical_value(out: &mut Vec<u8>, value: &AttributeValue<'_>) {
    match value {
        AttributeValue::Redacted(token) => {
            out.push(b'R');
            push_bytes(out, token.type_tag.as_bytes());
            push_bytes(out, token.hmac.as_bytes());
        }
        AttributeValue::S(text) => {
            out.push(b'S');
            push_bytes(out, text.as_bytes());
        }
        AttributeValue::N(text) => {
            out.push(b'N');
            push_bytes(out, canonical_number(text).as_bytes());
        }
        AttributeValue::B(binary) => {
            out.push(b'B');
            push_bytes(out, &binary.bytes);
        }
        AttributeValue::Bool(flag) => out.extend_from_slice(if *flag { b"T" } else { b"F" }),
        AttributeValue::Null => out.push(b'0'),
        // Sets are compared as sets: their canonical elements are sorted.
        AttributeValue::Ss(items) => {
            let elements = items.iter().map(|s| s.as_bytes().to_vec()).collect();
            push_set(out, b's', elements);
        }
        AttributeValue::Ns(items) => {
            let elements = items
                .iter()
                .map(|n| canonical_number(n).into_bytes())
                .collect();
            push_set(out, b'n', elements);
        }
        AttributeValue::Bs(items) => {
            let elements = items.iter().map(|b| b.bytes.clone()).collect();
            push_set(out, b'b', elements);
        }
        AttributeValue::L(items) => {
            out.push(b'L');
            push_len(out, items.len());
            for item in items {
                canonical_value(out, item);
            }
        }
        AttributeValue::M(map) => out.extend_from_slice(&canonical_key(map)),
    }
}

fn push_set(out: &mut Vec<u8>, tag: u8, mut elements: Vec<Vec<u8>>) {
    elements.sort();
    elements.dedup();
    out.push(tag);
    push_len(out, elements.len());
    for element in &elements {
        push_bytes(out, element);
    }
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(&(len as u64).to_be_bytes());
}

fn push_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    push_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// DynamoDB compares key numbers by value (`1.50` and `1.5` name the same item), so the
/// key uses one spelling per value: plain decimal, no exponent, no superfluous zeros, no
/// `+`, `0` for zero. Past DynamoDB's range (which never reaches a key, but the layout must
/// still give one spelling per value) the plain form would be absurdly long, so a value whose
/// exponent passes ±[`PLAIN_EXPONENT_LIMIT`] is spelled `d.dddE±n` (scientific, one digit
/// before the point, none trailing), which no plain spelling can be. Text that is not a
/// number (already rejected when the value was read) is kept as is.
fn canonical_number(text: &str) -> String {
    let Some(number) = number::canonical(text) else {
        return text.to_owned();
    };
    // The value is 0.<digits> * 10^exponent, `digits` without leading or trailing zeros.
    let digits = String::from_utf8_lossy(number.digits());
    if digits.is_empty() {
        return "0".to_owned();
    }
    let exponent = number.exponent();
    let mut out = String::new();
    if number.is_negative() {
        out.push('-');
    }
    let len = digits.len() as i128;
    if exponent.abs() > PLAIN_EXPONENT_LIMIT {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('E');
        out.push_str(&(exponent - 1).to_string());
    } else if exponent <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', exponent.unsigned_abs() as usize));
        out.push_str(&digits);
    } else if exponent >= len {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (exponent - len) as usize));
    } else {
        let (whole, fraction) = digits.split_at(exponent as usize);
        out.push_str(whole);
        out.push('.');
        out.push_str(fraction);
    }
    out
}

/// DynamoDB's exponents stay within ±130; past this bound a key number is spelled with an
/// exponent rather than thousands of zeros.
const PLAIN_EXPONENT_LIMIT: i128 = 1000;

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use proptest::prelude::*;

    use super::*;

    /// The readable item key reads back as the item it was made from, odd characters,
    /// numbers and all; the hashed form and other layouts give nothing.
    #[test]
    fn object_keys_name_their_item_back() {
        let item = |json: &str| {
            use serde::Deserialize as _;
            let value: serde_json::Value = serde_json::from_str(json).unwrap();
            Item::<'static>::deserialize(value).unwrap()
        };
        for json in [
            r#"{"pk":{"S":"注文#ü"},"sk":{"N":"0"}}"#,
            r#"{"a,b=c":{"S":"x/y%z,=:"},"n":{"N":"-12.5"}}"#,
        ] {
            let keys = item(json);
            let prefix = item_prefix("audit/", "T", &keys);
            let back = item_of_object_key(&format!("{prefix}0001-e.json")).unwrap();
            assert!(crate::value::item_eq(&back, &keys), "{json}");
        }
        let binary = item_prefix("audit/", "T", &item(r#"{"pk":{"B":"AAE="}}"#));
        assert!(item_of_object_key(&binary).is_none());
        assert!(item_of_object_key("audit/table=T/dt=2026-01-01/hour=00/1.jsonl.gz").is_none());
    }
    use crate::record::EventName;

    fn item(json: &str) -> Item<'static> {
        serde_json::from_str::<Item>(json).unwrap().into_owned()
    }

    fn record(
        table: &str,
        keys: &str,
        sequence_number: &str,
        event_id: &str,
    ) -> StreamRecord<'static> {
        StreamRecord {
            event_id: Cow::Owned(event_id.to_owned()),
            event_name: EventName::Insert,
            event_version: None,
            region: Cow::Borrowed("eu-west-1"),
            stream_arn: Cow::Borrowed("arn"),
            table: table.to_owned(),
            account: "123456789012".to_owned(),
            sequence_number: Cow::Owned(sequence_number.to_owned()),
            approximate_creation_time: None,
            size_bytes: None,
            stream_view_type: None,
            keys: item(keys),
            old_image: None,
            new_image: None,
            user_identity: None,
        }
    }

    // The ordinary case reads like the issue's example: sorted names, S plain, N marked.
    #[test]
    fn ordinary_key_gives_a_readable_prefix() {
        let keys = item(r#"{"sk": {"N": "12"}, "pk": {"S": "ORDER#1"}}"#);
        assert_eq!(
            item_prefix("audit/", "Orders", &keys),
            "audit/table=Orders/item=pk=ORDER%231,sk=N:12/"
        );
    }

    // A record's key is its item's prefix, the zero-padded sequence number and the eventID.
    #[test]
    fn record_key_is_item_prefix_sequence_and_event_id() {
        let rec = record(
            "Orders",
            r#"{"pk": {"S": "a"}}"#,
            "111100000000000000000001",
            "7de3",
        );
        assert_eq!(
            record_key("audit/", &rec),
            "audit/table=Orders/item=pk=a/0000000000000000111100000000000000000001-7de3.json"
        );
    }

    // Listing an item's prefix returns its changes in stream order, even when the sequence
    // numbers have different numbers of digits.
    #[test]
    fn lexicographic_order_is_stream_order() {
        let keys = [
            "9",
            "10",
            "1999",
            "20000000000000000000000000000000000000",
            "100",
        ];
        let mut listed: Vec<String> = keys
            .iter()
            .map(|seq| record_key("", &record("T", r#"{"pk": {"S": "a"}}"#, seq, "e")))
            .collect();
        listed.sort();
        let order: Vec<&str> = listed
            .iter()
            .map(|k| {
                k.rsplit('/')
                    .next()
                    .unwrap()
                    .split('-')
                    .next()
                    .unwrap()
                    .trim_start_matches('0')
            })
            .collect();
        assert_eq!(
            order,
            [
                "9",
                "10",
                "100",
                "1999",
                "20000000000000000000000000000000000000"
            ]
        );
    }

    // Separators, '%', control characters and non-ASCII in names and values are encoded,
    // so they can never be read as structure.
    #[test]
    fn separators_and_unicode_are_percent_encoded() {
        let keys = item(r#"{"p/k,=": {"S": "a/b%c,d=e\nf:é"}}"#);
        assert_eq!(
            item_prefix("", "T", &keys),
            "table=T/item=p%2Fk%2C%3D=a%2Fb%25c%2Cd%3De%0Af%3A%C3%A9/"
        );
    }

    // The string "12" and the number 12 are different keys, so their prefixes differ.
    #[test]
    fn string_and_number_of_same_text_differ() {
        let s = item_prefix("", "T", &item(r#"{"pk": {"S": "12"}}"#));
        let n = item_prefix("", "T", &item(r#"{"pk": {"N": "12"}}"#));
        assert_ne!(s, n);
    }

    // DynamoDB treats 1.5, 1.50 and 15E-1 as one key value, so they give one prefix.
    #[test]
    fn equal_numbers_give_one_prefix() {
        let spellings = ["1.5", "1.50", "15E-1", "0.15e1", "150e-2"];
        let prefixes: Vec<String> = spellings
            .iter()
            .map(|n| item_prefix("", "T", &item(&format!(r#"{{"pk": {{"N": "{n}"}}}}"#))))
            .collect();
        assert!(
            prefixes.iter().all(|p| p == "table=T/item=pk=N:1.5/"),
            "{prefixes:?}"
        );
    }

    // Numbers are spelled plainly: no exponent, no superfluous zeros, one zero.
    #[test]
    fn numbers_are_canonical_plain_decimals() {
        let cases = [
            ("0", "0"),
            ("-0.000", "0"),
            ("1e99999999999", "1E99999999999"),
            ("10e99999999998", "1E99999999999"),
            ("-1.50e-2000", "-1.5E-2000"),
            ("1e9223372036854775807", "1E9223372036854775807"),
            ("10e9223372036854775807", "1E9223372036854775808"),
            ("1e-9223372036854775808", "1E-9223372036854775808"),
            ("1e1000", "1E1000"),
            ("100", "100"),
            ("1E2", "100"),
            ("1.25E1", "12.5"),
            ("-0.0012", "-0.0012"),
            ("12E-5", "0.00012"),
            ("007", "7"),
            (".5", "0.5"),
            ("not a number", "not a number"),
        ];
        for (text, expected) in cases {
            assert_eq!(canonical_number(text), expected, "{text}");
        }
    }

    // A binary key has no readable form: it is hashed (and deterministically so).
    #[test]
    fn binary_key_is_hashed() {
        let keys = item(r#"{"pk": {"B": "AAEC/w=="}}"#);
        let prefix = item_prefix("", "T", &keys);
        assert!(prefix.starts_with("table=T/item=sha256-"), "{prefix}");
        assert_eq!(prefix.len(), "table=T/item=sha256-".len() + 64 + 1);
        assert_eq!(prefix, item_prefix("", "T", &keys));
    }

    // A key that would push the object key past 1024 bytes is hashed; one that fits is not.
    #[test]
    fn long_key_falls_back_to_hash() {
        let fits = "a".repeat(1024 - "table=T/item=pk=/".len() - MAX_LEAF);
        let prefix = item_prefix("", "T", &item(&format!(r#"{{"pk": {{"S": "{fits}"}}}}"#)));
        assert!(prefix.contains(&fits));
        let too_long = format!("{fits}a");
        let prefix = item_prefix(
            "",
            "T",
            &item(&format!(r#"{{"pk": {{"S": "{too_long}"}}}}"#)),
        );
        assert!(prefix.starts_with("table=T/item=sha256-"), "{prefix}");
    }

    // An attribute named `h` whose value looks like a hash cannot collide with a hashed key.
    #[test]
    fn readable_form_never_looks_like_a_hash() {
        let hashed = item_prefix("", "T", &item(r#"{"pk": {"B": "AA=="}}"#));
        let digest = hashed
            .trim_start_matches("table=T/item=")
            .trim_end_matches('/');
        let lookalike = item(&format!(r#"{{"sha256-x": {{"S": "{digest}"}}}}"#));
        assert_ne!(item_prefix("", "T", &lookalike), hashed);
        assert!(item_prefix("", "T", &lookalike).contains('='));
    }

    // Table names are encoded too, and absurdly long ones hashed.
    #[test]
    fn table_names_are_made_safe() {
        assert_eq!(
            table_prefix("a/", "my/table é"),
            "a/table=my%2Ftable%20%C3%A9/"
        );
        let long = table_prefix("", &"é".repeat(200));
        assert!(long.starts_with("table=sha256-") && long.len() == "table=/".len() + HASH_PART);
    }

    // With the longest accepted prefix, a table that must be hashed, a 2 KB key and absurd
    // sequence numbers and eventIDs, the key still fits S3's limit.
    #[test]
    fn worst_case_record_key_fits() {
        let prefix = format!("{}/", "é".repeat((MAX_PREFIX_BYTES - 1) / 2));
        assert!(prefix.len() <= MAX_PREFIX_BYTES);
        let rec = record(
            &"%".repeat(300),
            &format!(
                r#"{{"pk": {{"S": "{}"}}, "sk": {{"B": "AA=="}}}}"#,
                "x".repeat(2048)
            ),
            &"9".repeat(400),
            &"ü".repeat(400),
        );
        let key = record_key(&prefix, &rec);
        assert!(key.len() <= MAX_KEY_BYTES, "{} bytes", key.len());
        let unreadable = unreadable_key(
            &prefix,
            Some(&"ü".repeat(400)),
            Some(&"x".repeat(400)),
            b"{}",
        );
        assert!(unreadable.len() <= MAX_KEY_BYTES);
    }

    // Unreadable records are keyed by what survives re-delivery: sequence number and eventID,
    // or the raw bytes' hash standing in for a missing eventID.
    #[test]
    fn unreadable_key_uses_sequence_event_id_or_raw_hash() {
        assert_eq!(
            unreadable_key("a/", Some("e1"), Some("42"), b"raw"),
            format!("a/unreadable/{:0>40}-e1.json", "42")
        );
        let raw_hash = hex::encode(Sha256::digest(b"raw"));
        assert_eq!(
            unreadable_key("a/", None, Some("42"), b"raw"),
            format!("a/unreadable/{:0>40}-sha256-{raw_hash}.json", "42")
        );
        assert_eq!(
            unreadable_key("a/", Some("e1"), None, b"raw"),
            "a/unreadable/noseq-e1.json"
        );
        assert_eq!(
            unreadable_key("a/", None, None, b"raw"),
            format!("a/unreadable/noseq-sha256-{raw_hash}.json")
        );
    }

    // Batch objects sit in Hive-style partitions, named after their first record only.
    #[test]
    fn batch_key_is_hive_partitioned_and_named_after_the_first_record() {
        assert_eq!(
            batch_key("audit/", "Orders", "2026-11-27", "02", "100"),
            format!(
                "audit/table=Orders/dt=2026-11-27/hour=02/{:0>40}.jsonl.gz",
                "100"
            )
        );
    }

    // Metadata values are header-safe whatever the record holds; real eventIDs and
    // sequence numbers are unchanged.
    #[test]
    fn metadata_values_are_header_safe() {
        assert_eq!(
            metadata_value("248d6871a0dd322fe5017131766df38f"),
            "248d6871a0dd322fe5017131766df38f"
        );
        assert_eq!(
            metadata_value("600000006003323214023"),
            "600000006003323214023"
        );
        assert_eq!(metadata_value("é\n x"), "%C3%A9%0A%20x");
    }

    // Sequence numbers compare by value, also past u64 and with leading zeros; text that
    // is not a decimal integer does not compare.
    #[test]
    fn sequence_numbers_compare_by_value() {
        use Ordering::{Equal, Greater, Less};
        let cases = [
            ("9", "10", Less),
            ("10", "9", Greater),
            ("0010", "10", Equal),
            ("0", "000", Equal),
            (
                "9999999999999999999999999999999999999999",
                "18446744073709551616",
                Greater,
            ),
            (
                "1000000000000000000000000000000000000001",
                "1000000000000000000000000000000000000002",
                Less,
            ),
            // Equal as f64, different as numbers.
            ("9007199254740993", "9007199254740992", Greater),
        ];
        for (a, b, expected) in cases {
            assert_eq!(compare_sequence_numbers(a, b), Some(expected), "{a} vs {b}");
        }
        for (a, b) in [("", "1"), ("1", "1e3"), ("-1", "1"), ("x", "x")] {
            assert_eq!(compare_sequence_numbers(a, b), None, "{a:?} vs {b:?}");
        }
    }

    // The partition comes from the creation time in UTC; without one, from `unknown`.
    #[test]
    fn batch_partition_uses_creation_time_or_unknown() {
        let created = Timestamp {
            unix_millis: 1_795_746_700_000,
        }; // 2026-11-27T02:31:40Z
        assert_eq!(
            batch_partition(Some(created)),
            ("2026-11-27".to_owned(), "02".to_owned())
        );
        assert_eq!(
            batch_partition(None),
            ("unknown".to_owned(), "unknown".to_owned())
        );
    }

    fn arb_value() -> impl Strategy<Value = serde_json::Value> {
        use base64::Engine;
        prop_oneof![
            // Any Unicode, including '/', '%', separators and control characters, up to 2 KB.
            any::<String>()
                .prop_filter("non-empty", |s| !s.is_empty())
                .prop_map(|s| serde_json::json!({"S": s})),
            "[/%,=é\u{0}\u{1F600}a]{1,600}".prop_map(|s| serde_json::json!({"S": s})),
            "a{1,2048}".prop_map(|s| serde_json::json!({"S": s})),
            // Canonical integers, so different text means a different number.
            any::<i64>().prop_map(|n| serde_json::json!({"N": n.to_string()})),
            proptest::collection::vec(any::<u8>(), 1..1024).prop_map(|bytes| {
                serde_json::json!({"B": base64::engine::general_purpose::STANDARD.encode(bytes)})
            }),
        ]
    }

    fn arb_key() -> impl Strategy<Value = serde_json::Value> {
        let name = prop_oneof![
            "[a-z]{1,8}",
            any::<String>().prop_filter("non-empty", |s| !s.is_empty() && s.len() <= 255)
        ];
        (
            name.clone(),
            arb_value(),
            proptest::option::of((name, arb_value())),
        )
            .prop_map(|(pk, pv, sk)| {
                let mut key = serde_json::Map::new();
                key.insert(pk, pv);
                if let Some((sk, sv)) = sk {
                    key.insert(sk, sv);
                }
                serde_json::Value::Object(key)
            })
    }

    proptest! {
        // Any key DynamoDB accepts gives a valid S3 key of at most 1024 bytes, the same key
        // every time, and different item keys never share a prefix.
        #[test]
        fn any_key_gives_a_valid_deterministic_distinct_prefix(
            a in arb_key(),
            b in arb_key(),
            seq in "[1-9][0-9]{0,39}",
            event_id in "[0-9a-f]{32}",
        ) {
            let a_text = a.to_string();
            let rec = record("Orders", &a_text, &seq, &event_id);
            let key = record_key("audit/", &rec);
            prop_assert!(key.len() <= MAX_KEY_BYTES, "{} bytes", key.len());
            prop_assert!(!key.chars().any(char::is_control), "{key}");
            prop_assert_eq!(&key, &record_key("audit/", &record("Orders", &a_text, &seq, &event_id)));
            let pa = item_prefix("audit/", "Orders", &item(&a_text));
            prop_assert!(key.starts_with(&pa));
            prop_assert_eq!(pa.matches('/').count(), 3, "{}", pa);
            let pb = item_prefix("audit/", "Orders", &item(&b.to_string()));
            prop_assert_eq!(a == b, pa == pb, "{} vs {}", pa, pb);
        }
    }
}
