//! The readable history of one item: what `ddb-audit history` prints.
//!
//! One block per stream record, oldest first: time, INSERT / MODIFY / REMOVE (TTL expiries
//! marked), then each change as `path: old → new`, sets as `+added −removed`. Values are
//! shown compactly: `"SHIPPED"`, `12.50` (the number's text, every digit), `b64:AAE=`,
//! `<<"a", "b">>` for sets, `[..]` for lists, `{name: ..}` for maps. Problems found in the
//! trail (an overwritten or deleted object, an unreadable record) are shown in place.
//! This module performs no IO.

use std::fmt::Write as _;

use crate::auditor::trail::Entry;
use crate::diff::Change;
use crate::document::{ChangeDocument, Stored};
use crate::value::{AttributeValue, Binary, Item, Token};

/// The line under the heading that says how to read the rest.
pub const LEGEND: &str = "(path: old → new; ∅ no value; <<…>> a set, +added −removed; seq the stream's sequence number)\n";

/// Longest value shown in full; longer ones are cut with `…`.
const MAX_VALUE_CHARS: usize = 120;

/// Renders a typed value compactly, e.g. `"SHIPPED"`, `12.50`, `b64:AAE=`.
pub fn compact(value: &AttributeValue<'_>) -> String {
    let mut out = String::new();
    write_compact(&mut out, value);
    if out.chars().count() > MAX_VALUE_CHARS {
        let cut: String = out.chars().take(MAX_VALUE_CHARS - 1).collect();
        return format!("{cut}…");
    }
    out
}

/// A string as a JSON string literal: quoted, with JSON's escapes.
fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

fn write_binary(out: &mut String, binary: &Binary<'_>) {
    out.push_str("b64:");
    out.push_str(&binary.base64);
}

fn write_list<T>(
    out: &mut String,
    items: &[T],
    (open, close): (&str, &str),
    each: impl Fn(&mut String, &T),
) {
    out.push_str(open);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        each(out, item);
    }
    out.push_str(close);
}

const SET: (&str, &str) = ("<<", ">>");

fn write_compact(out: &mut String, value: &AttributeValue<'_>) {
    match value {
        AttributeValue::S(s) => out.push_str(&quoted(s)),
        AttributeValue::N(n) => out.push_str(n),
        AttributeValue::B(b) => write_binary(out, b),
        AttributeValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        AttributeValue::Null => out.push_str("null"),
        AttributeValue::Ss(items) => write_list(out, items, SET, |o, s| o.push_str(&quoted(s))),
        AttributeValue::Ns(items) => write_list(out, items, SET, |o, n| o.push_str(n)),
        AttributeValue::Bs(items) => write_list(out, items, SET, write_binary),
        AttributeValue::L(items) => write_list(out, items, ("[", "]"), write_compact),
        AttributeValue::M(map) => {
            out.push('{');
            write_attributes(out, map, ": ");
            out.push('}');
        }
        AttributeValue::Redacted(token) => out.push_str(&redacted(token)),
    }
}

/// A redacted value as shown: `‹redacted·1a2b3c4d›`, the start of its token, which is
/// enough to tell values apart and to match a token from `ddb-audit token`.
pub fn redacted(token: &Token) -> String {
    format!("‹redacted·{}›", &token.hmac[..8])
}

/// `name<sep>value, ...`, names bare when they are plain words, quoted otherwise.
fn write_attributes(out: &mut String, item: &Item<'_>, separator: &str) {
    for (i, (name, value)) in item.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
        if plain {
            out.push_str(name);
        } else {
            out.push_str(&quoted(name));
        }
        out.push_str(separator);
        write_compact(out, value);
    }
}

/// A typed key rendered for a heading: `pk="ORDER#1", sk=7`.
pub fn key_line(key: &Item<'_>) -> String {
    let mut out = String::new();
    write_attributes(&mut out, key, "=");
    out
}

/// Renders one change: `/status: "PENDING" → "SHIPPED"`, `/tags: +<<"c">> −<<"a">>`.
pub fn change_line(change: &Change<'_>) -> String {
    let path = &change.path;
    if change.added.is_some() || change.removed.is_some() {
        let parts: Vec<String> = [
            change.added.as_ref().map(|a| format!("+{}", compact(a))),
            change.removed.as_ref().map(|r| format!("−{}", compact(r))),
        ]
        .into_iter()
        .flatten()
        .collect();
        return format!("{path}: {}", parts.join(" "));
    }
    let shown = |side: &Option<std::borrow::Cow<'_, AttributeValue<'_>>>| {
        side.as_deref().map_or_else(|| "∅".to_owned(), compact)
    };
    format!("{path}: {} → {}", shown(&change.old), shown(&change.new))
}

/// The heading line of one document: time, event name, TTL mark, sequence number.
fn heading(doc: &ChangeDocument) -> String {
    let time = doc
        .source
        .approximate_creation_time
        .as_deref()
        .unwrap_or("(no time)");
    let name = doc.event_name.as_str();
    let seq = &doc.source.sequence_number;
    let mut line = format!("{time}  {name:<6}  seq {seq}");
    if doc.ttl_expiry {
        line.push_str("  [TTL expiry]");
    }
    if let Some(who) = doc.user_identity.as_ref().filter(|u| !u.is_null()) {
        let principal = who
            .get("principalId")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("?");
        let _ = write!(line, "  by {principal}");
    }
    line
}

/// The lines under a document's heading: its changes, or why there are none.
fn body(out: &mut String, doc: &ChangeDocument) {
    match &doc.changes {
        Some(changes) if doc.complete => {
            if changes.is_empty() {
                out.push_str("    (no attribute changed)\n");
            }
            for change in changes {
                let _ = writeln!(out, "    {}", change_line(change));
            }
        }
        _ => {
            let view = doc.source.stream_view_type.as_deref().unwrap_or("unknown");
            let _ = writeln!(
                out,
                "    (incomplete: the stream view {view} lacks an image, so no diff)"
            );
            if let Some(image) = &doc.new_image {
                let _ = writeln!(
                    out,
                    "    new image: {}",
                    compact(&AttributeValue::M(image.clone()))
                );
            }
        }
    }
}

/// The whole timeline of one item's trail, oldest first, ending with a newline.
pub fn render(table: &str, key: &Item<'_>, entries: &[Entry]) -> String {
    render_annotated(table, key, entries, |_| Vec::new())
}

/// [`render`], with `notes(i)` printed under the heading of entry `i` (e.g. its caller).
pub fn render_annotated(
    table: &str,
    key: &Item<'_>,
    entries: &[Entry],
    notes: impl Fn(usize) -> Vec<String>,
) -> String {
    let mut out = String::new();
    let records = entries.iter().filter(|e| e.stored.is_some()).count();
    let problems: usize = entries.iter().map(|e| e.problems.len()).sum();
    let _ = writeln!(out, "{table}  {}", key_line(key));
    let _ = write!(
        out,
        "{records} record{}",
        if records == 1 { "" } else { "s" }
    );
    if problems > 0 {
        let _ = write!(
            out,
            ", {problems} problem{} in the trail",
            if problems == 1 { "" } else { "s" }
        );
    }
    out.push('\n');
    out.push_str(LEGEND);
    let redaction = entries.iter().find_map(|e| {
        e.stored
            .as_ref()
            .and_then(Stored::change)?
            .redaction
            .as_ref()
    });
    if let Some(redaction) = redaction {
        let _ = writeln!(
            out,
            "(values at {} are withheld: ‹redacted·…› is the start of their token, key id {})",
            redaction.paths.join(", "),
            redaction.key_id
        );
    }
    for (index, entry) in entries.iter().enumerate() {
        out.push('\n');
        match &entry.stored {
            Some(Stored::Change(doc)) => {
                let _ = writeln!(out, "{}", heading(doc));
                for note in notes(index) {
                    let _ = writeln!(out, "    {note}");
                }
                body(&mut out, doc);
            }
            Some(Stored::Unreadable(_)) => {
                out.push_str("UNREADABLE RECORD (kept verbatim as an error document)\n")
            }
            None => out.push_str("MISSING OR INVALID DOCUMENT\n"),
        }
        for problem in &entry.problems {
            let _ = writeln!(out, "    !! {}: {problem}", entry.key);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auditor::trail::Problem;
    use serde::Deserialize as _;
    use serde_json::{Value, json};

    fn typed(value: Value) -> AttributeValue<'static> {
        AttributeValue::deserialize(value).expect("a typed value")
    }

    fn change(value: Value) -> Change<'static> {
        Change::deserialize(value).expect("a change")
    }

    // Scalars are shown as an auditor reads them: quoted strings, exact numbers, tagged binary.
    #[test]
    fn scalars_are_compact_and_exact() {
        assert_eq!(compact(&typed(json!({"S": "SHIPPED"}))), r#""SHIPPED""#);
        assert_eq!(compact(&typed(json!({"N": "12.50"}))), "12.50");
        assert_eq!(
            compact(&typed(
                json!({"N": "1234567890123456789012345678901234567.8"})
            )),
            "1234567890123456789012345678901234567.8"
        );
        assert_eq!(compact(&typed(json!({"B": "AAE="}))), "b64:AAE=");
        assert_eq!(compact(&typed(json!({"BOOL": false}))), "false");
        assert_eq!(compact(&typed(json!({"NULL": true}))), "null");
        assert_eq!(
            compact(&typed(json!({"S": "say \"hi\""}))),
            r#""say \"hi\"""#
        );
    }

    // Containers nest, sets are told apart from lists, odd map keys are quoted, keys in byte order.
    #[test]
    fn containers_nest() {
        let v = typed(
            json!({"M": {"city": {"S": "Kyoto"}, "lines": {"L": [{"N": "1"}, {"SS": ["a", "b"]}]}, "a b": {"NS": ["1", "2"]}}}),
        );
        assert_eq!(
            compact(&v),
            r#"{"a b": <<1, 2>>, city: "Kyoto", lines: [1, <<"a", "b">>]}"#
        );
    }

    // Huge values are cut so one change stays on one line.
    #[test]
    fn long_values_are_cut() {
        let shown = compact(&typed(json!({"S": "x".repeat(500)})));
        assert_eq!(shown.chars().count(), MAX_VALUE_CHARS);
        assert!(shown.ends_with('…'));
    }

    // Each op reads as path: old → new, with ∅ for a side that does not exist.
    #[test]
    fn changes_read_as_old_to_new() {
        let replace = json!({"op": "replace", "path": "/status", "old": {"S": "PENDING"}, "new": {"S": "SHIPPED"}});
        assert_eq!(
            change_line(&change(replace)),
            r#"/status: "PENDING" → "SHIPPED""#
        );
        let add = json!({"op": "add", "path": "/total", "new": {"N": "12.50"}});
        assert_eq!(change_line(&change(add)), "/total: ∅ → 12.50");
        let remove = json!({"op": "remove", "path": "/lines/2", "old": {"L": []}});
        assert_eq!(change_line(&change(remove)), "/lines/2: [] → ∅");
    }

    // Set changes show what entered and left, not the whole sets.
    #[test]
    fn set_changes_show_added_and_removed() {
        let c = json!({"op": "replace", "path": "/tags", "old": {"SS": ["a", "b"]}, "new": {"SS": ["b", "c"]},
                       "added": {"SS": ["c"]}, "removed": {"SS": ["a"]}});
        assert_eq!(change_line(&change(c)), r#"/tags: +<<"c">> −<<"a">>"#);
    }

    // The heading line gives time, event and TTL; problems are shown where they occur.
    #[test]
    fn timeline_marks_ttl_and_problems() {
        let doc = json!({"schema": "ddb-audit/1", "event_id": "e", "event_name": "REMOVE", "table": "Orders",
            "key": {"pk": {"S": "a"}}, "ttl_expiry": true, "complete": true,
            "user_identity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
            "source": {"stream_arn": "arn", "region": "r", "account": "1", "approximate_creation_time": "2026-11-27T02:31:40.000Z", "sequence_number": "42"},
            "changes": [{"op": "remove", "path": "/pk", "old": {"S": "a"}}]});
        let entries = [
            Entry {
                key: "k/1".into(),
                stored: Some(Stored::from_value(doc).unwrap()),
                text: None,
                problems: vec![],
            },
            Entry {
                key: "k/2".into(),
                stored: None,
                text: None,
                problems: vec![Problem::Deleted],
            },
        ];
        let key = Item::deserialize(json!({"pk": {"S": "a"}})).unwrap();
        let text = render("Orders", &key, &entries);
        assert!(
            text.starts_with("Orders  pk=\"a\"\n1 record, 1 problem in the trail\n"),
            "{text}"
        );
        assert!(
            text.contains("2026-11-27T02:31:40.000Z  REMOVE  seq 42  [TTL expiry]  by dynamodb.amazonaws.com\n"),
            "{text}"
        );
        assert!(text.contains("    /pk: \"a\" → ∅\n"), "{text}");
        assert!(text.contains("!! k/2: deleted"), "{text}");
    }
}
