//! Plain JSON for a typed item (`ddb-audit replay --plain`), numbers kept exact.
//!
//! N is written as a raw JSON number with every digit (never through a float), B as its
//! base64 string, sets as arrays, NULL as null. The mapping loses the type tags, so it is
//! for reading, not for writing back. This module performs no IO.

use crate::auditor::timeline;
use crate::value::{AttributeValue, Binary, Item};

/// Writes a typed item as plain JSON text.
pub fn item_to_plain(item: &Item<'_>) -> String {
    let mut out = String::new();
    write_map(&mut out, item);
    out
}

/// A string as a JSON string literal.
fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

fn write_map(out: &mut String, item: &Item<'_>) {
    out.push('{');
    for (i, (name, value)) in item.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&quoted(name));
        out.push(':');
        write_value(out, value);
    }
    out.push('}');
}

fn write_array<T>(out: &mut String, items: &[T], each: impl Fn(&mut String, &T)) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        each(out, item);
    }
    out.push(']');
}

fn write_binary(out: &mut String, binary: &Binary<'_>) {
    out.push_str(&quoted(&binary.base64));
}

fn write_value(out: &mut String, value: &AttributeValue<'_>) {
    match value {
        AttributeValue::S(s) => out.push_str(&quoted(s)),
        AttributeValue::N(n) => out.push_str(&json_number(n)),
        AttributeValue::B(b) => write_binary(out, b),
        AttributeValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        AttributeValue::Null => out.push_str("null"),
        AttributeValue::Ss(items) => write_array(out, items, |o, s| o.push_str(&quoted(s))),
        AttributeValue::Ns(items) => write_array(out, items, |o, n| o.push_str(&json_number(n))),
        AttributeValue::Bs(items) => write_array(out, items, write_binary),
        AttributeValue::L(items) => write_array(out, items, write_value),
        AttributeValue::M(map) => write_map(out, map),
        AttributeValue::Redacted(token) => out.push_str(&quoted(&timeline::redacted(token))),
    }
}

/// DynamoDB number text as a valid JSON number with the same digits: DynamoDB accepts
/// `.5`, `5.` and `007`, JSON does not.
pub fn json_number(text: &str) -> String {
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let mut out = format!("{sign}{int}");
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out.push_str(exponent);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize as _;
    use serde_json::{Value, json};

    fn item(value: Value) -> Item<'static> {
        Item::deserialize(value).expect("a typed item")
    }

    // Every digit survives: the text is copied, never parsed into a float.
    #[test]
    fn numbers_keep_every_digit() {
        let typed =
            json!({"n": {"N": "12345678901234567890123456789012345678"}, "f": {"N": "0.10"}});
        assert_eq!(
            item_to_plain(&item(typed)),
            r#"{"f":0.10,"n":12345678901234567890123456789012345678}"#
        );
    }

    // Spellings DynamoDB accepts but JSON does not are made valid JSON of the same value.
    #[test]
    fn odd_number_spellings_become_valid_json() {
        assert_eq!(json_number(".5"), "0.5");
        assert_eq!(json_number("-5."), "-5");
        assert_eq!(json_number("007"), "7");
        assert_eq!(json_number("+1.5E+3"), "1.5E+3");
        assert_eq!(json_number("0"), "0");
        for text in [".5", "-5.", "007", "+1.5E+3"] {
            assert!(
                serde_json::from_str::<Value>(&json_number(text))
                    .unwrap()
                    .is_number()
            );
        }
    }

    // Every type maps to its natural plain JSON shape, and the output parses.
    #[test]
    fn all_types_map_to_plain_json() {
        let typed = json!({
            "b": {"B": "AAE="}, "bs": {"BS": ["AA=="]}, "t": {"BOOL": true}, "z": {"NULL": true},
            "l": {"L": [{"S": "x"}, {"N": "1"}]}, "m": {"M": {"k": {"NS": ["1", "2.5"]}}},
            "ss": {"SS": ["a", "b"]}, "s": {"S": "q\"uote"}
        });
        let text = item_to_plain(&item(typed));
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed,
            json!({"b": "AAE=", "bs": ["AA=="], "t": true, "z": null, "l": ["x", 1],
                   "m": {"k": [1, 2.5]}, "ss": ["a", "b"], "s": "q\"uote"})
        );
    }
}
