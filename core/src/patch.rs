//! Applying `changes` to an item, with RFC 6902 semantics over the item's logical structure.
//!
//! The inverse of [`crate::diff()`]: the property tests prove `apply(old, diff(old, new)) == new`,
//! and `ddb-audit replay` rebuilds past states with it. Every `old` is checked against the
//! value actually found, so a trail that does not fit together is reported, not papered over.
//! This module performs no IO.

use crate::diff::{Change, Op, pointer_segments};
use crate::value::{AttributeValue, Item, spec_eq};

/// Why a change could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("change {index} ({path}): {reason}")]
pub struct PatchError {
    /// Position of the change in the list applied.
    pub index: usize,
    /// The change's path.
    pub path: String,
    /// What did not fit.
    pub reason: String,
}

/// Applies `changes` in order to `item`, checking each `old` against the value found.
/// On error the item may hold the changes before the failing one.
pub fn apply(item: &mut Item<'static>, changes: &[Change<'_>]) -> Result<(), PatchError> {
    for (index, change) in changes.iter().enumerate() {
        apply_one(item, change).map_err(|reason| PatchError {
            index,
            path: change.path.clone(),
            reason,
        })?;
    }
    Ok(())
}

enum Slot<'x> {
    Map(&'x mut Item<'static>),
    List(&'x mut Vec<AttributeValue<'static>>),
}

fn apply_one(item: &mut Item<'static>, change: &Change<'_>) -> Result<(), String> {
    let segments = pointer_segments(&change.path);
    let Some((last, parents)) = segments.split_last() else {
        return Err("a change must name an attribute, not the whole item".into());
    };
    let mut slot = Slot::Map(item);
    for segment in parents {
        slot = descend(slot, segment)?;
    }
    let owned = |v: &Option<std::borrow::Cow<'_, AttributeValue<'_>>>, what: &str| {
        v.as_deref()
            .map(|v| v.clone().into_owned())
            .ok_or_else(|| format!("{what} value missing"))
    };
    let check_old = |found: &AttributeValue<'_>| -> Result<(), String> {
        let expected = change.old.as_deref().ok_or("old value missing")?;
        if spec_eq(found, expected) {
            Ok(())
        } else {
            Err(format!(
                "old value {} does not match the value found, {}",
                compact(expected),
                compact(found)
            ))
        }
    };
    match (change.op, slot) {
        (Op::Add, Slot::Map(map)) => {
            if map.get(last).is_some() {
                return Err("add of an attribute that already exists".into());
            }
            map.insert(last.clone().into(), owned(&change.new, "new")?);
        }
        (Op::Add, Slot::List(list)) => {
            let i = index(last, list.len() + 1)?;
            list.insert(i, owned(&change.new, "new")?);
        }
        (Op::Remove, Slot::Map(map)) => {
            check_old(map.get(last).ok_or("remove of a missing attribute")?)?;
            map.remove(last);
        }
        (Op::Remove, Slot::List(list)) => {
            let i = index(last, list.len())?;
            check_old(&list[i])?;
            list.remove(i);
        }
        (Op::Replace, Slot::Map(map)) => {
            let found = map.get_mut(last).ok_or("replace of a missing attribute")?;
            check_old(found)?;
            *found = owned(&change.new, "new")?;
        }
        (Op::Replace, Slot::List(list)) => {
            let i = index(last, list.len())?;
            check_old(&list[i])?;
            list[i] = owned(&change.new, "new")?;
        }
    }
    Ok(())
}

fn descend<'x>(slot: Slot<'x>, segment: &str) -> Result<Slot<'x>, String> {
    let value = match slot {
        Slot::Map(map) => map
            .get_mut(segment)
            .ok_or_else(|| format!("no attribute {segment:?} on the way"))?,
        Slot::List(list) => {
            let i = index(segment, list.len())?;
            &mut list[i]
        }
    };
    match value {
        AttributeValue::M(map) => Ok(Slot::Map(map)),
        AttributeValue::L(list) => Ok(Slot::List(list)),
        other => Err(format!(
            "{segment:?} is {}, not a map or list",
            other.type_tag()
        )),
    }
}

/// A list index as RFC 6901 spells it (no sign, no leading zero), below `bound`.
fn index(segment: &str, bound: usize) -> Result<usize, String> {
    let canonical = segment == "0"
        || (!segment.is_empty()
            && !segment.starts_with('0')
            && segment.bytes().all(|b| b.is_ascii_digit()));
    match segment.parse::<usize>() {
        Ok(i) if canonical && i < bound => Ok(i),
        _ => Err(format!("{segment:?} is not an index below {bound}")),
    }
}

fn compact(value: &AttributeValue<'_>) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::diff;
    use crate::value::item_eq;

    fn item(json: &str) -> Item<'static> {
        serde_json::from_str::<Item<'_>>(json).unwrap().into_owned()
    }

    fn changes(json: &str) -> Vec<Change<'static>> {
        serde_json::from_str::<Vec<Change<'_>>>(json)
            .unwrap()
            .into_iter()
            .map(Change::into_owned)
            .collect()
    }

    // Applying a diff to its old item gives the new item.
    #[test]
    fn diff_then_apply_round_trips() {
        let old = item(
            r#"{"a":{"L":[{"S":"x"},{"M":{"q":{"N":"1"}}},{"S":"z"}]},"b":{"SS":["1"]},"c":{"M":{"d":{"S":"e"}}}}"#,
        );
        let new = item(
            r#"{"a":{"L":[{"N":"7"},{"M":{"q":{"N":"2"},"r":{"NULL":true}}}]},"b":{"SS":["1","2"]},"f":{"B":"AQ=="}}"#,
        );
        let mut state = old.clone();
        apply(&mut state, &diff(&old, &new)).unwrap();
        assert!(item_eq(&state, &new));
    }

    // A change whose old value does not match what is there is refused.
    #[test]
    fn mismatched_old_value_is_refused() {
        let mut state = item(r#"{"a":{"S":"actual"}}"#);
        let err = apply(
            &mut state,
            &changes(r#"[{"op":"replace","path":"/a","old":{"S":"expected"},"new":{"S":"b"}}]"#),
        )
        .unwrap_err();
        assert_eq!(err.index, 0);
        assert!(err.reason.contains("does not match"), "{err}");
    }

    // Adds of existing attributes and removes of missing ones do not fit a trail.
    #[test]
    fn add_existing_and_remove_missing_are_refused() {
        let mut state = item(r#"{"a":{"S":"x"}}"#);
        assert!(
            apply(
                &mut state,
                &changes(r#"[{"op":"add","path":"/a","new":{"S":"y"}}]"#)
            )
            .is_err()
        );
        assert!(
            apply(
                &mut state,
                &changes(r#"[{"op":"remove","path":"/b","old":{"S":"y"}}]"#)
            )
            .is_err()
        );
        assert!(
            apply(
                &mut state,
                &changes(r#"[{"op":"add","path":"/a/b","new":{"S":"y"}}]"#)
            )
            .is_err()
        );
    }

    // List indices follow RFC 6901: no leading zeros, within bounds.
    #[test]
    fn list_indices_are_strict() {
        let mut state = item(r#"{"l":{"L":[{"S":"a"}]}}"#);
        assert!(
            apply(
                &mut state,
                &changes(r#"[{"op":"add","path":"/l/01","new":{"S":"b"}}]"#)
            )
            .is_err()
        );
        assert!(
            apply(
                &mut state,
                &changes(r#"[{"op":"add","path":"/l/2","new":{"S":"b"}}]"#)
            )
            .is_err()
        );
        apply(
            &mut state,
            &changes(r#"[{"op":"add","path":"/l/1","new":{"S":"b"}}]"#),
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&state).unwrap(),
            r#"{"l":{"L":[{"S":"a"},{"S":"b"}]}}"#
        );
    }

    // Escaped names (~0, ~1) address the attribute they spell.
    #[test]
    fn escaped_segments_address_names_with_slash_and_tilde() {
        let mut state = item(r#"{"a/b~c":{"S":"x"}}"#);
        apply(
            &mut state,
            &changes(r#"[{"op":"remove","path":"/a~1b~0c","old":{"S":"x"}}]"#),
        )
        .unwrap();
        assert!(state.is_empty());
    }
}
