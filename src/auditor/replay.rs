//! Reconstructing an item as it was at a given time from its audit trail.
//!
//! The documents are applied in stream order, each `changes` through [`crate::patch::apply`]
//! (which checks every `old` against the value found). The images, when the documents carry
//! them, are cross-checks: a MODIFY's `old_image` must equal the state rebuilt so far, so a
//! missing record shows up even though sequence numbers are not dense. Whatever makes the
//! answer doubtful (an overwritten, deleted, unreadable or incomplete object, a mismatch) is
//! reported as an uncertainty; the best reconstruction is still given. This module performs
//! no IO and reads no clock: the caller passes the time.

use crate::auditor::trail::Entry;
use crate::document::{ChangeDocument, Stored};
use crate::patch;
use crate::record::EventName;
use crate::timestamp::Timestamp;
use crate::value::{Item, item_eq};

/// What the trail says about the item at the requested time.
#[derive(Debug, Clone)]
pub enum State {
    /// The item existed, with these attributes.
    Present(Item<'static>),
    /// The item did not exist (never created yet, or deleted).
    Absent,
    /// The trail does not tell (see the uncertainties).
    Unknown,
}

/// The result of a replay.
#[derive(Debug, Clone)]
pub struct Replay {
    pub state: State,
    /// Number of documents applied.
    pub applied: usize,
    /// Time of the last document applied (RFC 3339), if any.
    pub last_change: Option<String>,
    /// Why the answer may be wrong; empty when the trail is whole.
    pub uncertainties: Vec<String>,
    /// Facts worth knowing that do not make the answer doubtful.
    pub notes: Vec<String>,
}

/// Rebuilds the item at `at` (inclusive) from its trail, oldest entry first.
pub fn replay(entries: &[Entry], at: Timestamp) -> Replay {
    let mut out = Replay {
        state: State::Absent,
        applied: 0,
        last_change: None,
        uncertainties: Vec::new(),
        notes: Vec::new(),
    };
    for (index, entry) in entries.iter().enumerate() {
        let doc = entry.stored.as_ref().and_then(Stored::change);
        if let Some(doc) = doc {
            match doc.source.created() {
                Some(t) if t > at => {
                    if out.applied == 0 && doc.event_name != EventName::Insert {
                        // The item existed before its first audited change; since when, and
                        // as what, the trail cannot say.
                        out.state = State::Unknown;
                        out.uncertainties.push(format!(
                            "the trail begins at {} with a {}: the item existed before its first audited change",
                            doc.source.approximate_creation_time.as_deref().unwrap_or("?"),
                            doc.event_name.as_str()
                        ));
                    }
                    break;
                }
                Some(_) => {}
                None => out.uncertainties.push(format!(
                    "{}: the record has no creation time; assumed to be before the requested time",
                    entry.key
                )),
            }
        }
        // A problem is only known to lie before the time when a later document is also before it.
        for problem in &entry.problems {
            out.uncertainties.push(format!("{}: {problem}", entry.key));
        }
        let Some(doc) = doc else {
            if entry.problems.is_empty() {
                out.uncertainties
                    .push(format!("{}: no usable document", entry.key));
            }
            continue;
        };
        apply_doc(&mut out, doc, index == 0, &entry.key);
        out.applied += 1;
        out.last_change = doc
            .source
            .approximate_creation_time
            .clone()
            .or(out.last_change.take());
    }
    out
}

/// Applies one document to the state built so far.
fn apply_doc(out: &mut Replay, doc: &ChangeDocument, first: bool, key: &str) {
    let seq = &doc.source.sequence_number;
    // Cross-check the state so far against the record's view of it.
    let before = match (&out.state, &doc.old_image) {
        (State::Present(state), Some(old)) if !item_eq(state, old) => {
            out.uncertainties.push(format!(
                "{key}: the item before record {seq} differs from the state rebuilt so far (a change is missing from the trail)"
            ));
            State::Present(old.clone())
        }
        (State::Absent, Some(old)) if doc.event_name != EventName::Insert => {
            if first {
                out.notes.push(format!(
                    "the trail begins with a {} (record {seq}): the item existed before its first audited change",
                    doc.event_name.as_str()
                ));
            } else {
                out.uncertainties.push(format!(
                    "{key}: record {seq} changes an item the trail shows as absent (a change is missing from the trail)"
                ));
            }
            State::Present(old.clone())
        }
        (State::Unknown, Some(old)) => State::Present(old.clone()),
        (state, _) => state.clone(),
    };
    if doc.event_name == EventName::Insert && matches!(before, State::Present(_)) {
        out.uncertainties.push(format!(
            "{key}: record {seq} creates an item the trail shows as existing (a REMOVE is missing from the trail)"
        ));
    }
    out.state = match doc.event_name {
        EventName::Remove => State::Absent,
        EventName::Insert => next_state(out, doc, State::Present(Item::default()), key),
        EventName::Modify => next_state(out, doc, before, key),
    };
}

/// The state after an INSERT or MODIFY: the changes applied to `base`, else the new image.
fn next_state(out: &mut Replay, doc: &ChangeDocument, base: State, key: &str) -> State {
    let seq = &doc.source.sequence_number;
    if doc.complete
        && let (State::Present(mut item), Some(changes)) = (base.clone(), doc.changes.as_ref())
    {
        match patch::apply(&mut item, changes) {
            Ok(()) => {
                if let Some(new) = &doc.new_image
                    && !item_eq(&item, new)
                {
                    out.uncertainties.push(format!(
                        "{key}: record {seq}: its changes do not lead to its new image; the new image is used"
                    ));
                    return State::Present(new.clone());
                }
                return State::Present(item);
            }
            Err(e) => {
                if let Some(new) = &doc.new_image {
                    out.uncertainties.push(format!(
                        "{key}: record {seq}: its changes do not apply to the state rebuilt so far ({e}); its new image is used"
                    ));
                    return State::Present(new.clone());
                }
                out.uncertainties.push(format!(
                    "{key}: record {seq}: its changes do not apply to the state rebuilt so far ({e})"
                ));
                return State::Unknown;
            }
        }
    }
    match &doc.new_image {
        Some(new) => {
            if !doc.complete {
                out.notes.push(format!(
                    "record {seq} is incomplete (no diff); the item is taken from its new image"
                ));
            }
            State::Present(new.clone())
        }
        None => {
            out.uncertainties.push(format!(
                "{key}: record {seq} is incomplete and has no new image: the item's attributes after it are unknown"
            ));
            State::Unknown
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auditor::trail::Problem;
    use serde_json::{Value, json};

    fn document(name: &str, seq: u32, time: &str, changes: Value, old: Value, new: Value) -> Value {
        json!({
            "schema": "ddb-audit/1", "event_id": "e", "event_name": name, "table": "T",
            "source": {"stream_arn": "arn", "region": "r", "account": "1",
                       "sequence_number": seq.to_string(), "approximate_creation_time": time},
            "key": {"pk": {"S": "a"}}, "user_identity": null, "ttl_expiry": false,
            "complete": !changes.is_null(), "changes": changes, "old_image": old, "new_image": new
        })
    }

    fn entry(key: String, document: Value) -> Entry {
        Entry {
            key,
            stored: Some(Stored::from_value(document).expect("a document")),
            text: None,
            problems: Vec::new(),
        }
    }

    fn doc(name: &str, seq: u32, time: &str, changes: Value, old: Value, new: Value) -> Entry {
        let key = format!("k/{seq:040}-e.json");
        entry(key, document(name, seq, time, changes, old, new))
    }

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    fn present(r: &Replay) -> Value {
        match &r.state {
            State::Present(item) => serde_json::to_value(item).unwrap(),
            other => panic!("expected an item, got {other:?}"),
        }
    }

    fn trail() -> Vec<Entry> {
        vec![
            doc(
                "INSERT",
                1,
                "2026-11-27T10:00:00.000Z",
                json!([{"op": "add", "path": "/pk", "new": {"S": "a"}}, {"op": "add", "path": "/n", "new": {"N": "1"}}]),
                Value::Null,
                json!({"n": {"N": "1"}, "pk": {"S": "a"}}),
            ),
            doc(
                "MODIFY",
                2,
                "2026-11-27T11:00:00.000Z",
                json!([{"op": "replace", "path": "/n", "old": {"N": "1"}, "new": {"N": "2"}}]),
                json!({"n": {"N": "1"}, "pk": {"S": "a"}}),
                json!({"n": {"N": "2"}, "pk": {"S": "a"}}),
            ),
            doc(
                "REMOVE",
                3,
                "2026-11-27T12:00:00.000Z",
                json!([{"op": "remove", "path": "/n", "old": {"N": "2"}}, {"op": "remove", "path": "/pk", "old": {"S": "a"}}]),
                json!({"n": {"N": "2"}, "pk": {"S": "a"}}),
                Value::Null,
            ),
        ]
    }

    // Each point in time sees exactly the documents up to it, inclusive.
    #[test]
    fn replays_the_state_at_each_time() {
        let t = trail();
        assert!(matches!(
            replay(&t, at("2026-11-27T09:59:59.999Z")).state,
            State::Absent
        ));
        let r = replay(&t, at("2026-11-27T10:00:00.000Z"));
        assert_eq!(present(&r), json!({"n": {"N": "1"}, "pk": {"S": "a"}}));
        let r = replay(&t, at("2026-11-27T11:30:00.000Z"));
        assert_eq!(present(&r), json!({"n": {"N": "2"}, "pk": {"S": "a"}}));
        assert!(r.uncertainties.is_empty(), "{:?}", r.uncertainties);
        assert_eq!(r.applied, 2);
        let r = replay(&t, at("2026-11-27T13:00:00.000Z"));
        assert!(matches!(r.state, State::Absent));
        assert_eq!(r.last_change.as_deref(), Some("2026-11-27T12:00:00.000Z"));
    }

    // A record missing from the trail is caught by the next record's old image.
    #[test]
    fn missing_record_is_detected_by_old_image() {
        let mut t = trail();
        t.remove(1);
        let r = replay(&t, at("2026-11-27T12:30:00.000Z"));
        assert!(matches!(r.state, State::Absent));
        assert!(
            r.uncertainties
                .iter()
                .any(|u| u.contains("a change is missing")),
            "{:?}",
            r.uncertainties
        );
    }

    // An overwritten or deleted object makes the answer uncertain, naming the object.
    #[test]
    fn trail_problems_make_the_answer_uncertain() {
        let mut t = trail();
        t[1].problems.push(Problem::Overwritten { versions: 2 });
        let r = replay(&t, at("2026-11-27T11:30:00.000Z"));
        assert!(
            r.uncertainties
                .iter()
                .any(|u| u.contains(&t[1].key) && u.contains("overwritten"))
        );
        // A problem after the requested time does not matter.
        let r = replay(&t, at("2026-11-27T10:30:00.000Z"));
        assert!(r.uncertainties.is_empty(), "{:?}", r.uncertainties);
    }

    // An incomplete MODIFY with a new image resets the state from it (a note, not a doubt).
    #[test]
    fn incomplete_modify_uses_new_image() {
        let mut t = trail();
        t[1] = doc(
            "MODIFY",
            2,
            "2026-11-27T11:00:00.000Z",
            Value::Null,
            Value::Null,
            json!({"n": {"N": "7"}, "pk": {"S": "a"}}),
        );
        let r = replay(&t, at("2026-11-27T11:30:00.000Z"));
        assert_eq!(present(&r), json!({"n": {"N": "7"}, "pk": {"S": "a"}}));
        assert!(r.uncertainties.is_empty() && !r.notes.is_empty());
    }

    // An incomplete MODIFY without images leaves the state unknown, and says so.
    #[test]
    fn incomplete_without_image_is_unknown() {
        let mut t = trail();
        t[1] = doc(
            "MODIFY",
            2,
            "2026-11-27T11:00:00.000Z",
            Value::Null,
            Value::Null,
            Value::Null,
        );
        let r = replay(&t, at("2026-11-27T11:30:00.000Z"));
        assert!(matches!(r.state, State::Unknown));
        assert!(!r.uncertainties.is_empty());
    }

    // A trail that starts with a MODIFY starts from its old image: the item predates the trail.
    #[test]
    fn trail_starting_mid_life_uses_old_image() {
        let t = trail()[1..].to_vec();
        let r = replay(&t, at("2026-11-27T11:30:00.000Z"));
        assert_eq!(present(&r), json!({"n": {"N": "2"}, "pk": {"S": "a"}}));
        assert!(r.notes.iter().any(|n| n.contains("existed before")));
    }

    // Before a trail that starts mid-life, the item existed in an unknown state: no "absent".
    #[test]
    fn before_a_trail_starting_mid_life_is_unknown() {
        let t = trail()[1..].to_vec();
        let r = replay(&t, at("2026-11-27T10:30:00.000Z"));
        assert!(matches!(r.state, State::Unknown));
        assert!(r.uncertainties.iter().any(|u| u.contains("existed before")));
    }

    // Documents written without images still replay from their changes alone.
    #[test]
    fn replays_without_images() {
        let mut t = trail();
        for e in &mut t {
            let Some(Stored::Change(d)) = e.stored.as_mut() else {
                panic!("a change document");
            };
            d.old_image = None;
            d.new_image = None;
        }
        let r = replay(&t, at("2026-11-27T11:30:00.000Z"));
        assert_eq!(present(&r), json!({"n": {"N": "2"}, "pk": {"S": "a"}}));
        assert!(r.uncertainties.is_empty(), "{:?}", r.uncertainties);
    }
}
