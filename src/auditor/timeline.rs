//! The readable history of one item: what `ddb-audit history` prints.
//!
//! One block per stream record, oldest first: time, INSERT / MODIFY / REMOVE (TTL expiries
//! marked), then each change as `path: old → new`, sets as `+added −removed`. Values are
//! shown compactly: `"SHIPPED"`, `12.50` (the number's text, every digit), `b64:AAE=`,
//! `<<"a", "b">>` for sets, `[..]` for lists, `{name: ..}` for maps. Problems found in the
//! trail (an overwritten or deleted object, an unreadable record) are shown in place.
//! This module performs no IO.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::auditor::trail::Entry;

/// Longest value shown in full; longer ones are cut with `…`.
const MAX_VALUE_CHARS: usize = 120;

/// Renders a typed value (DynamoDB JSON) compactly, e.g. `"SHIPPED"`, `12.50`, `b64:AAE=`.
pub fn compact(value: &Value) -> String {
    let mut out = String::new();
    write_compact(&mut out, value);
    if out.chars().count() > MAX_VALUE_CHARS {
        let cut: String = out.chars().take(MAX_VALUE_CHARS - 1).collect();
        return format!("{cut}…");
    }
    out
}

fn write_compact(out: &mut String, value: &Value) {
    let Some((kind, inner)) = value.as_object().and_then(|m| m.iter().next()) else {
        out.push_str(&value.to_string());
        return;
    };
    let list = |out: &mut String,
                items: &[Value],
                open: &str,
                close: &str,
                each: &dyn Fn(&mut String, &Value)| {
        out.push_str(open);
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            each(out, item);
        }
        out.push_str(close);
    };
    match (kind.as_str(), inner) {
        ("S", Value::String(s)) => out.push_str(&Value::String(s.clone()).to_string()),
        ("N", Value::String(n)) => out.push_str(n),
        ("B", Value::String(b)) => {
            out.push_str("b64:");
            out.push_str(b);
        }
        ("BOOL", Value::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
        ("NULL", _) => out.push_str("null"),
        ("SS", Value::Array(items)) => {
            list(out, items, "<<", ">>", &|o, v| o.push_str(&v.to_string()))
        }
        ("NS", Value::Array(items)) => list(out, items, "<<", ">>", &|o, v| {
            o.push_str(v.as_str().unwrap_or("?"))
        }),
        ("BS", Value::Array(items)) => list(out, items, "<<", ">>", &|o, v| {
            o.push_str("b64:");
            o.push_str(v.as_str().unwrap_or("?"));
        }),
        ("L", Value::Array(items)) => list(out, items, "[", "]", &write_compact),
        ("M", Value::Object(map)) => write_map(out, map),
        _ => out.push_str(&value.to_string()),
    }
}

fn write_map(out: &mut String, map: &Map<String, Value>) {
    out.push('{');
    for (i, (name, v)) in map.iter().enumerate() {
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
            out.push_str(&Value::String(name.clone()).to_string());
        }
        out.push_str(": ");
        write_compact(out, v);
    }
    out.push('}');
}

/// A typed key rendered for a heading: `pk="ORDER#1", sk=7`.
pub fn key_line(key: &Map<String, Value>) -> String {
    let mut out = String::new();
    write_map(&mut out, key);
    out.trim_start_matches('{')
        .trim_end_matches('}')
        .replace(": ", "=")
}

/// Renders one change: `/status: "PENDING" → "SHIPPED"`, `/tags: +<<"c">> −<<"a">>`.
pub fn change_line(change: &Value) -> String {
    let path = change.get("path").and_then(Value::as_str).unwrap_or("?");
    let shown = |field: &str| change.get(field).map(compact);
    let (added, removed) = (shown("added"), shown("removed"));
    if added.is_some() || removed.is_some() {
        let parts: Vec<String> = [
            added.map(|a| format!("+{a}")),
            removed.map(|r| format!("−{r}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        return format!("{path}: {}", parts.join(" "));
    }
    let old = shown("old").unwrap_or_else(|| "∅".to_owned());
    let new = shown("new").unwrap_or_else(|| "∅".to_owned());
    format!("{path}: {old} → {new}")
}

/// The heading line of one document: time, event name, TTL mark, sequence number.
fn heading(doc: &Value) -> String {
    let time = doc
        .pointer("/source/approximate_creation_time")
        .and_then(Value::as_str)
        .unwrap_or("(no time)");
    let name = doc.get("event_name").and_then(Value::as_str).unwrap_or("?");
    let seq = doc
        .pointer("/source/sequence_number")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let mut line = format!("{time}  {name:<6}  seq {seq}");
    if doc.get("ttl_expiry").and_then(Value::as_bool) == Some(true) {
        line.push_str("  [TTL expiry]");
    }
    if let Some(who) = doc.get("user_identity").filter(|u| !u.is_null()) {
        let principal = who
            .get("principalId")
            .and_then(Value::as_str)
            .unwrap_or("?");
        let _ = write!(line, "  by {principal}");
    }
    line
}

/// The whole timeline of one item's trail, oldest first, ending with a newline.
pub fn render(table: &str, key: &Map<String, Value>, entries: &[Entry]) -> String {
    let mut out = String::new();
    let records = entries.iter().filter(|e| e.document.is_some()).count();
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
    for entry in entries {
        out.push('\n');
        match &entry.document {
            Some(doc) if doc.get("error").is_none() => {
                let _ = writeln!(out, "{}", heading(doc));
                match doc.get("changes").and_then(Value::as_array) {
                    Some(changes)
                        if doc.get("complete").and_then(Value::as_bool) != Some(false) =>
                    {
                        if changes.is_empty() {
                            out.push_str("    (no attribute changed)\n");
                        }
                        for change in changes {
                            let _ = writeln!(out, "    {}", change_line(change));
                        }
                    }
                    _ => {
                        let view = doc
                            .pointer("/source/stream_view_type")
                            .and_then(Value::as_str)
                            .unwrap_or("unknown");
                        let _ = writeln!(
                            out,
                            "    (incomplete: the stream view {view} lacks an image, so no diff)"
                        );
                        if let Some(img) = doc.get("new_image").filter(|v| v.is_object()) {
                            let _ = writeln!(
                                out,
                                "    new image: {}",
                                compact(&serde_json::json!({ "M": img }))
                            );
                        }
                    }
                }
            }
            Some(_) => out.push_str("UNREADABLE RECORD (kept verbatim as an error document)\n"),
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
    use serde_json::json;

    // Scalars are shown as an auditor reads them: quoted strings, exact numbers, tagged binary.
    #[test]
    fn scalars_are_compact_and_exact() {
        assert_eq!(compact(&json!({"S": "SHIPPED"})), r#""SHIPPED""#);
        assert_eq!(compact(&json!({"N": "12.50"})), "12.50");
        assert_eq!(
            compact(&json!({"N": "1234567890123456789012345678901234567.8"})),
            "1234567890123456789012345678901234567.8"
        );
        assert_eq!(compact(&json!({"B": "AAE="})), "b64:AAE=");
        assert_eq!(compact(&json!({"BOOL": false})), "false");
        assert_eq!(compact(&json!({"NULL": true})), "null");
        assert_eq!(compact(&json!({"S": "say \"hi\""})), r#""say \"hi\"""#);
    }

    // Containers nest, sets are told apart from lists, odd map keys are quoted, keys in byte order.
    #[test]
    fn containers_nest() {
        let v = json!({"M": {"city": {"S": "Kyoto"}, "lines": {"L": [{"N": "1"}, {"SS": ["a", "b"]}]}, "a b": {"NS": ["1", "2"]}}});
        assert_eq!(
            compact(&v),
            r#"{"a b": <<1, 2>>, city: "Kyoto", lines: [1, <<"a", "b">>]}"#
        );
    }

    // Huge values are cut so one change stays on one line.
    #[test]
    fn long_values_are_cut() {
        let shown = compact(&json!({"S": "x".repeat(500)}));
        assert_eq!(shown.chars().count(), MAX_VALUE_CHARS);
        assert!(shown.ends_with('…'));
    }

    // Each op reads as path: old → new, with ∅ for a side that does not exist.
    #[test]
    fn changes_read_as_old_to_new() {
        let replace = json!({"op": "replace", "path": "/status", "old": {"S": "PENDING"}, "new": {"S": "SHIPPED"}});
        assert_eq!(change_line(&replace), r#"/status: "PENDING" → "SHIPPED""#);
        let add = json!({"op": "add", "path": "/total", "new": {"N": "12.50"}});
        assert_eq!(change_line(&add), "/total: ∅ → 12.50");
        let remove = json!({"op": "remove", "path": "/lines/2", "old": {"L": []}});
        assert_eq!(change_line(&remove), "/lines/2: [] → ∅");
    }

    // Set changes show what entered and left, not the whole sets.
    #[test]
    fn set_changes_show_added_and_removed() {
        let c = json!({"op": "replace", "path": "/tags", "old": {"SS": ["a", "b"]}, "new": {"SS": ["b", "c"]},
                       "added": {"SS": ["c"]}, "removed": {"SS": ["a"]}});
        assert_eq!(change_line(&c), r#"/tags: +<<"c">> −<<"a">>"#);
    }

    // The heading line gives time, event and TTL; problems are shown where they occur.
    #[test]
    fn timeline_marks_ttl_and_problems() {
        let doc = json!({"schema": "ddb-audit/1", "event_name": "REMOVE", "ttl_expiry": true, "complete": true,
            "user_identity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
            "source": {"approximate_creation_time": "2026-11-27T02:31:40.000Z", "sequence_number": "42"},
            "changes": [{"op": "remove", "path": "/pk", "old": {"S": "a"}}]});
        let entries = [
            Entry {
                key: "k/1".into(),
                document: Some(doc),
                problems: vec![],
                ..Default::default()
            },
            Entry {
                key: "k/2".into(),
                document: None,
                problems: vec![Problem::Deleted],
                ..Default::default()
            },
        ];
        let key = json!({"pk": {"S": "a"}});
        let text = render("Orders", key.as_object().unwrap(), &entries);
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
