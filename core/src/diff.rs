//! The attribute-by-attribute diff of two items: the spec's rules 1-6.
//!
//! Maps recurse key by key in ascending byte order, lists are aligned on a longest common
//! subsequence (the diff a person would write: see [`crate::align`]), and everything else
//! that is unequal under rule 1 is one `replace` (with `added`/`removed` for sets).
//! This module performs no IO.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt::Write as _;

use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::align::align;
use crate::number;
use crate::value::{AttributeValue, Binary, Item, spec_eq, spec_hash};

/// What a change does at its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Add,
    Remove,
    Replace,
}

/// One entry of a document's `changes`.
///
/// `old`/`new` borrow from the images when produced by [`diff`] and are owned when read
/// back from a stored document.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub op: Op,
    /// RFC 6901 JSON Pointer, e.g. `/address/city` or `/lines/2/qty`.
    pub path: String,
    pub old: Option<Cow<'a, AttributeValue<'a>>>,
    pub new: Option<Cow<'a, AttributeValue<'a>>>,
    /// For a set replaced by a set of the same type: elements that entered the set.
    pub added: Option<AttributeValue<'a>>,
    /// For a set replaced by a set of the same type: elements that left the set.
    pub removed: Option<AttributeValue<'a>>,
}

impl Change<'_> {
    /// Detaches the change from the document it was read from.
    pub fn into_owned(self) -> Change<'static> {
        let own = |v: Option<Cow<'_, AttributeValue<'_>>>| {
            v.map(|v| Cow::Owned(v.into_owned().into_owned()))
        };
        Change {
            op: self.op,
            path: self.path,
            old: own(self.old),
            new: own(self.new),
            added: self.added.map(AttributeValue::into_owned),
            removed: self.removed.map(AttributeValue::into_owned),
        }
    }

    /// The path's segments, unescaped (`~1` is `/`, `~0` is `~`).
    pub fn segments(&self) -> Vec<String> {
        pointer_segments(&self.path)
    }
}

/// Splits an RFC 6901 pointer into unescaped segments (`""` gives none).
pub fn pointer_segments(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// The changes that turn `old` into `new`, in the spec's deterministic order.
pub fn diff<'a>(old: &'a Item<'a>, new: &'a Item<'a>) -> Vec<Change<'a>> {
    let mut changes = Vec::new();
    let mut path = String::new();
    diff_maps(old, new, &mut path, &mut changes);
    changes
}

fn diff_maps<'a>(
    old: &'a Item<'a>,
    new: &'a Item<'a>,
    path: &mut String,
    out: &mut Vec<Change<'a>>,
) {
    let mut old_attrs = old.iter().peekable();
    let mut new_attrs = new.iter().peekable();
    loop {
        let order = match (old_attrs.peek(), new_attrs.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((a, _)), Some((b, _))) => a.as_bytes().cmp(b.as_bytes()),
        };
        let len = path.len();
        match order {
            Ordering::Less => {
                let (name, value) = old_attrs.next().expect("peeked");
                push_segment(path, name);
                out.push(removal(path, value));
            }
            Ordering::Greater => {
                let (name, value) = new_attrs.next().expect("peeked");
                push_segment(path, name);
                out.push(addition(path, value));
            }
            Ordering::Equal => {
                let (name, a) = old_attrs.next().expect("peeked");
                let (_, b) = new_attrs.next().expect("peeked");
                push_segment(path, name);
                diff_values(a, b, path, out);
            }
        }
        path.truncate(len);
    }
}

fn diff_values<'a>(
    old: &'a AttributeValue<'a>,
    new: &'a AttributeValue<'a>,
    path: &mut String,
    out: &mut Vec<Change<'a>>,
) {
    match (old, new) {
        (AttributeValue::M(a), AttributeValue::M(b)) => diff_maps(a, b, path, out),
        (AttributeValue::L(a), AttributeValue::L(b)) => diff_lists(a, b, path, out),
        _ if spec_eq(old, new) => {}
        _ => {
            let (added, removed) = set_delta(old, new);
            out.push(Change {
                op: Op::Replace,
                path: path.clone(),
                old: Some(Cow::Borrowed(old)),
                new: Some(Cow::Borrowed(new)),
                added,
                removed,
            });
        }
    }
}

/// Rule 3: the lists are aligned on a longest common subsequence (rule-1 equality); each gap
/// between aligned elements pairs its old and new elements in order, then removes the old
/// ones left over (descending) or adds the new ones (ascending). The common prefix and suffix
/// are aligned first; if the middle would leave more than [`MAX_UNALIGNED`] elements
/// unaligned, it is one gap, which is the positional diff.
fn diff_lists<'a>(
    old: &'a [AttributeValue<'a>],
    new: &'a [AttributeValue<'a>],
    path: &mut String,
    out: &mut Vec<Change<'a>>,
) {
    let prefix = old
        .iter()
        .zip(new)
        .take_while(|(a, b)| spec_eq(a, b))
        .count();
    let (old_rest, new_rest) = (&old[prefix..], &new[prefix..]);
    let suffix = old_rest
        .iter()
        .rev()
        .zip(new_rest.iter().rev())
        .take_while(|(a, b)| spec_eq(a, b))
        .count();
    let old_middle = &old_rest[..old_rest.len() - suffix];
    let new_middle = &new_rest[..new_rest.len() - suffix];
    let aligned = if old_middle.is_empty() || new_middle.is_empty() {
        Vec::new()
    } else {
        let (old_classes, new_classes) = classes(old_middle, new_middle);
        align(&old_classes, &new_classes, MAX_UNALIGNED).unwrap_or_default()
    };
    // Each gap starts, in the list as the earlier changes have left it, at its index in the
    // new list.
    let (mut i, mut j) = (0, 0);
    let ends = aligned
        .into_iter()
        .chain(std::iter::once((old_middle.len(), new_middle.len())));
    for (next_i, next_j) in ends {
        let gap = (&old_middle[i..next_i], &new_middle[j..next_j]);
        diff_gap(gap.0, gap.1, prefix + j, path, out);
        (i, j) = (next_i + 1, next_j + 1);
    }
}

/// The most elements a list's middle (past its common prefix and suffix) may leave unaligned
/// before it is diffed by position instead (the contract's bound).
pub const MAX_UNALIGNED: usize = 4096;

/// One gap of `old.len()` = k old and `new.len()` = m new elements starting at index `q`:
/// pairs recurse at q…, then removes at q+k−1 … q+m or adds at q+k … q+m−1.
fn diff_gap<'a>(
    old: &'a [AttributeValue<'a>],
    new: &'a [AttributeValue<'a>],
    q: usize,
    path: &mut String,
    out: &mut Vec<Change<'a>>,
) {
    let len = path.len();
    let paired = old.len().min(new.len());
    for (t, (a, b)) in old.iter().zip(new).enumerate() {
        write!(path, "/{}", q + t).expect("writing to a String");
        diff_values(a, b, path, out);
        path.truncate(len);
    }
    // Removals from the gap's end backwards, so each index is still valid when applied.
    for (t, value) in old.iter().enumerate().skip(paired).rev() {
        write!(path, "/{}", q + t).expect("writing to a String");
        out.push(removal(path, value));
        path.truncate(len);
    }
    // Insertions at ascending indices, each landing just after the one before.
    for (t, value) in new.iter().enumerate().skip(paired) {
        write!(path, "/{}", q + t).expect("writing to a String");
        out.push(addition(path, value));
        path.truncate(len);
    }
}

/// Numbers the elements of both lists by class of rule-1 equality: equal numbers exactly for
/// equal values. A hash consistent with rule 1 finds the candidates; [`spec_eq`] decides, so
/// a hash collision can cost time but never equate unequal values.
fn classes(old: &[AttributeValue<'_>], new: &[AttributeValue<'_>]) -> (Vec<u32>, Vec<u32>) {
    let mut seen: HashMap<u64, Vec<(u32, &AttributeValue<'_>)>> = HashMap::new();
    let mut next = 0u32;
    let mut class_of = |value| {
        let candidates = seen.entry(spec_hash(value)).or_default();
        match candidates.iter().find(|(_, v)| spec_eq(v, value)) {
            Some(&(class, _)) => class,
            None => {
                candidates.push((next, value));
                next += 1;
                next - 1
            }
        }
    };
    let old_classes = old.iter().map(&mut class_of).collect();
    let new_classes = new.iter().map(&mut class_of).collect();
    (old_classes, new_classes)
}

fn addition<'a>(path: &str, value: &'a AttributeValue<'a>) -> Change<'a> {
    Change {
        op: Op::Add,
        path: path.to_owned(),
        old: None,
        new: Some(Cow::Borrowed(value)),
        added: None,
        removed: None,
    }
}

fn removal<'a>(path: &str, value: &'a AttributeValue<'a>) -> Change<'a> {
    Change {
        op: Op::Remove,
        path: path.to_owned(),
        old: Some(Cow::Borrowed(value)),
        new: None,
        added: None,
        removed: None,
    }
}

/// Appends `/name` with RFC 6901 escaping.
fn push_segment(path: &mut String, name: &str) {
    path.push('/');
    if name.contains(['~', '/']) {
        path.push_str(&name.replace('~', "~0").replace('/', "~1"));
    } else {
        path.push_str(name);
    }
}

/// For two sets of the same type: the elements that entered and that left, each `None` when
/// empty. Entered elements keep the new set's order, left ones the old set's.
fn set_delta<'a>(
    old: &AttributeValue<'a>,
    new: &AttributeValue<'a>,
) -> (Option<AttributeValue<'a>>, Option<AttributeValue<'a>>) {
    use AttributeValue as V;
    fn nonempty<'v, T>(
        v: Vec<T>,
        wrap: fn(Vec<T>) -> AttributeValue<'v>,
    ) -> Option<AttributeValue<'v>> {
        (!v.is_empty()).then(|| wrap(v))
    }
    match (old, new) {
        (V::Ss(a), V::Ss(b)) => {
            let (added, removed) = difference(a, b, |s| s.as_bytes());
            (nonempty(added, V::Ss), nonempty(removed, V::Ss))
        }
        (V::Ns(a), V::Ns(b)) => {
            let (added, removed) = difference(a, b, |n| number::canonical(n));
            (nonempty(added, V::Ns), nonempty(removed, V::Ns))
        }
        (V::Bs(a), V::Bs(b)) => {
            let (added, removed) = difference(a, b, |b: &Binary<'_>| b.bytes.as_slice());
            (nonempty(added, V::Bs), nonempty(removed, V::Bs))
        }
        _ => (None, None),
    }
}

/// (members of `new` not in `old`, members of `old` not in `new`), by membership key. A set
/// holds each member once, so members with equal keys (`"1"` and `"1.0"` in an NS, a repeated
/// string) are one member, listed once, as it is spelled first in its set.
/// Sorting keeps this O(n log n) for the large sets a 400 KB item can hold.
fn difference<'s, T: Clone, K: Ord>(
    old: &'s [T],
    new: &'s [T],
    key: impl Fn(&'s T) -> K,
) -> (Vec<T>, Vec<T>) {
    let sorted_keys = |s: &'s [T]| {
        let mut keys: Vec<K> = s.iter().map(&key).collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    };
    let (old_keys, new_keys) = (sorted_keys(old), sorted_keys(new));
    // Members of `side` whose key is not in `other`, each key once, first spelling kept.
    let only_in = |side: &'s [T], side_keys: &[K], other: &[K]| {
        let mut listed = vec![false; side_keys.len()];
        side.iter()
            .filter(|v| {
                let k = key(v);
                let Ok(at) = side_keys.binary_search(&k) else {
                    return false;
                };
                let fresh = !std::mem::replace(&mut listed[at], true);
                fresh && other.binary_search(&k).is_err()
            })
            .cloned()
            .collect()
    };
    (
        only_in(new, &new_keys, &old_keys),
        only_in(old, &old_keys, &new_keys),
    )
}

impl Serialize for Change<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("op", &self.op)?;
        map.serialize_entry("path", &self.path)?;
        if let Some(old) = &self.old {
            map.serialize_entry("old", old.as_ref())?;
        }
        if let Some(new) = &self.new {
            map.serialize_entry("new", new.as_ref())?;
        }
        if let Some(added) = &self.added {
            map.serialize_entry("added", added)?;
        }
        if let Some(removed) = &self.removed {
            map.serialize_entry("removed", removed)?;
        }
        map.end()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Change<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Wire<'a> {
            op: Op,
            path: String,
            #[serde(borrow, default)]
            old: Option<AttributeValue<'a>>,
            #[serde(borrow, default)]
            new: Option<AttributeValue<'a>>,
            #[serde(borrow, default)]
            added: Option<AttributeValue<'a>>,
            #[serde(borrow, default)]
            removed: Option<AttributeValue<'a>>,
        }
        let w = Wire::deserialize(deserializer)?;
        let shape_ok = match w.op {
            Op::Add => w.new.is_some() && w.old.is_none(),
            Op::Remove => w.old.is_some() && w.new.is_none(),
            Op::Replace => w.old.is_some() && w.new.is_some(),
        };
        if !shape_ok {
            return Err(de::Error::custom(format_args!(
                "change at {:?}: {:?} has the wrong old/new values",
                w.path, w.op
            )));
        }
        Ok(Change {
            op: w.op,
            path: w.path,
            old: w.old.map(Cow::Owned),
            new: w.new.map(Cow::Owned),
            added: w.added,
            removed: w.removed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(json: &str) -> Item<'_> {
        serde_json::from_str(json).unwrap()
    }

    fn changes_json(old: &str, new: &str) -> String {
        let (old, new) = (item(old), item(new));
        serde_json::to_string(&diff(&old, &new)).unwrap()
    }

    // The spec's worked example, change for change.
    #[test]
    fn spec_example() {
        let old = r#"{"pk":{"S":"order#1"},"status":{"S":"PENDING"},"total":{"N":"10.5"},"tags":{"SS":["a","b"]},"address":{"M":{"city":{"S":"Osaka"}}}}"#;
        let new = r#"{"pk":{"S":"order#1"},"status":{"S":"SHIPPED"},"tags":{"SS":["a","b","c"]},"address":{"M":{"city":{"S":"Kyoto"}}}}"#;
        assert_eq!(
            changes_json(old, new),
            concat!(
                r#"[{"op":"replace","path":"/address/city","old":{"S":"Osaka"},"new":{"S":"Kyoto"}},"#,
                r#"{"op":"replace","path":"/status","old":{"S":"PENDING"},"new":{"S":"SHIPPED"}},"#,
                r#"{"op":"replace","path":"/tags","old":{"SS":["a","b"]},"new":{"SS":["a","b","c"]},"added":{"SS":["c"]}},"#,
                r#"{"op":"remove","path":"/total","old":{"N":"10.5"}}]"#
            )
        );
    }

    // Rule 1: values equal by value produce no change at all.
    #[test]
    fn equal_values_produce_no_change() {
        let old = r#"{"n":{"N":"1.50"},"s":{"SS":["a","b"]},"b":{"B":"AQI="},"m":{"M":{"x":{"NS":["1","2"]}}}}"#;
        let new = r#"{"n":{"N":"15E-1"},"s":{"SS":["b","a"]},"b":{"B":"AQI="},"m":{"M":{"x":{"NS":["2.0","1"]}}}}"#;
        assert_eq!(changes_json(old, new), "[]");
    }

    // Rule 2: keys only in the old map are removes, only in the new map adds, recursively.
    #[test]
    fn map_keys_added_and_removed_in_nested_maps() {
        let json = changes_json(
            r#"{"m":{"M":{"a":{"S":"1"},"gone":{"S":"x"}}}}"#,
            r#"{"m":{"M":{"a":{"S":"1"},"new":{"BOOL":true}}}}"#,
        );
        assert_eq!(
            json,
            r#"[{"op":"remove","path":"/m/gone","old":{"S":"x"}},{"op":"add","path":"/m/new","new":{"BOOL":true}}]"#
        );
    }

    // Rule 3: lists recurse by index; extra elements are adds ascending or removes descending.
    #[test]
    fn lists_recurse_then_append_ascending_and_truncate_descending() {
        let grow = changes_json(
            r#"{"l":{"L":[{"M":{"q":{"N":"1"}}}]}}"#,
            r#"{"l":{"L":[{"M":{"q":{"N":"2"}}},{"S":"b"},{"S":"c"}]}}"#,
        );
        assert_eq!(
            grow,
            r#"[{"op":"replace","path":"/l/0/q","old":{"N":"1"},"new":{"N":"2"}},{"op":"add","path":"/l/1","new":{"S":"b"}},{"op":"add","path":"/l/2","new":{"S":"c"}}]"#
        );
        let shrink = changes_json(
            r#"{"l":{"L":[{"S":"a"},{"S":"b"},{"S":"c"}]}}"#,
            r#"{"l":{"L":[{"S":"a"}]}}"#,
        );
        assert_eq!(
            shrink,
            r#"[{"op":"remove","path":"/l/2","old":{"S":"c"}},{"op":"remove","path":"/l/1","old":{"S":"b"}}]"#
        );
    }

    fn list(elements: &[String]) -> String {
        format!(r#"{{"l":{{"L":[{}]}}}}"#, elements.join(","))
    }

    fn strings(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|t| format!(r#"{{"S":"{t}"}}"#)).collect()
    }

    // Rule 3: one element inserted at the front of a long list is one add at index 0 (it
    // used to be a replace of every element and an add at the end).
    #[test]
    fn front_insert_is_one_add() {
        let old: Vec<String> = (0..10_000).map(|i| format!(r#"{{"N":"{i}"}}"#)).collect();
        let mut new = old.clone();
        new.insert(0, r#"{"S":"first"}"#.to_owned());
        assert_eq!(
            changes_json(&list(&old), &list(&new)),
            r#"[{"op":"add","path":"/l/0","new":{"S":"first"}}]"#
        );
    }

    // Rule 3: deleting an element from the middle is one remove at its index; deleting the
    // first of two order lines is one remove, not a rewrite of the first and a removal of
    // the second.
    #[test]
    fn middle_delete_is_one_remove() {
        assert_eq!(
            changes_json(
                &list(&strings(&["a", "b", "c", "d"])),
                &list(&strings(&["a", "b", "d"]))
            ),
            r#"[{"op":"remove","path":"/l/2","old":{"S":"c"}}]"#
        );
        let line = |sku: &str, qty: u32| {
            format!(r#"{{"M":{{"qty":{{"N":"{qty}"}},"sku":{{"S":"{sku}"}}}}}}"#)
        };
        let (first, second) = (line("SKU-1", 6), line("SKU-2", 4));
        assert_eq!(
            changes_json(&list(&[first.clone(), second.clone()]), &list(&[second])),
            format!(r#"[{{"op":"remove","path":"/l/0","old":{first}}}]"#)
        );
    }

    // Rule 3: an element changed in place pairs with its old self, so a changed map inside a
    // list gives nested paths, the aligned elements around it nothing.
    #[test]
    fn changed_map_inside_a_list_gives_nested_paths() {
        let map = |v: &str| format!(r#"{{"M":{{"k":{{"S":"{v}"}},"same":{{"N":"1"}}}}}}"#);
        let old = [map("a"), map("b"), map("c")];
        let new = [map("a"), map("B"), map("c")];
        assert_eq!(
            changes_json(&list(&old), &list(&new)),
            r#"[{"op":"replace","path":"/l/1/k","old":{"S":"b"},"new":{"S":"B"}}]"#
        );
    }

    // Rule 3: a move is a remove where the element was and an add where it is now.
    #[test]
    fn a_move_is_a_remove_and_an_add() {
        assert_eq!(
            changes_json(
                &list(&strings(&["a", "b", "c", "d"])),
                &list(&strings(&["b", "c", "d", "a"]))
            ),
            concat!(
                r#"[{"op":"remove","path":"/l/0","old":{"S":"a"}},"#,
                r#"{"op":"add","path":"/l/3","new":{"S":"a"}}]"#
            )
        );
    }

    // Rule 3 with repeated elements: one of two equal elements going away is one remove, and
    // a third equal element arriving is one add.
    #[test]
    fn two_equal_elements_align_with_one() {
        assert_eq!(
            changes_json(&list(&strings(&["x", "x"])), &list(&strings(&["x"]))),
            r#"[{"op":"remove","path":"/l/1","old":{"S":"x"}}]"#
        );
        assert_eq!(
            changes_json(
                &list(&strings(&["x", "y", "x"])),
                &list(&strings(&["x", "x", "y", "x"]))
            ),
            r#"[{"op":"add","path":"/l/1","new":{"S":"x"}}]"#
        );
        // Equal by rule 1, not by spelling: 1.0 aligns with 1.
        assert_eq!(
            changes_json(
                r#"{"l":{"L":[{"N":"1.0"},{"N":"2"}]}}"#,
                r#"{"l":{"L":[{"N":"0"},{"N":"1"},{"N":"2"}]}}"#
            ),
            r#"[{"op":"add","path":"/l/0","new":{"N":"0"}}]"#
        );
    }

    // Rule 3's index arithmetic, gap by gap: pairs first, then extra removes descending or
    // extra adds ascending, each gap starting at its index in the new list.
    #[test]
    fn gaps_pair_then_remove_descending_or_add_ascending() {
        // Gaps: [p q r]→[P] before "m", then []→[X Y] after it.
        let json = changes_json(
            &list(&strings(&["p", "q", "r", "m"])),
            &list(&strings(&["P", "m", "X", "Y"])),
        );
        assert_eq!(
            json,
            concat!(
                r#"[{"op":"replace","path":"/l/0","old":{"S":"p"},"new":{"S":"P"}},"#,
                r#"{"op":"remove","path":"/l/2","old":{"S":"r"}},"#,
                r#"{"op":"remove","path":"/l/1","old":{"S":"q"}},"#,
                r#"{"op":"add","path":"/l/2","new":{"S":"X"}},"#,
                r#"{"op":"add","path":"/l/3","new":{"S":"Y"}}]"#
            )
        );
    }

    // Past the bound (more than 4,096 elements unaligned once the common prefix and suffix
    // are set aside) the middle is one gap: the positional diff, prefix and suffix still
    // aligned.
    #[test]
    fn past_the_bound_the_middle_is_positional() {
        let middle = |base: usize, n: usize| (base..base + n).map(|i| format!(r#"{{"N":"{i}"}}"#));
        let with_ends = |inner: Vec<String>| {
            let mut all = strings(&["head"]);
            all.extend(inner);
            all.extend(strings(&["tail"]));
            all
        };
        // 2,050 old against 2,050 new, one shared: 4,098 unaligned at best, so positional.
        // Aligned, moving the last old element to the front would be removes and adds.
        let old: Vec<String> = middle(0, 2_050).collect();
        let mut new: Vec<String> = middle(100_000, 2_049).collect();
        new.insert(0, old[2_049].clone());
        let json = changes_json(&list(&with_ends(old)), &list(&with_ends(new)));
        let changes: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
        assert_eq!(changes.len(), 2_050);
        assert!(changes.iter().all(|c| c["op"] == "replace"));
        assert_eq!(changes[0]["path"], "/l/1");
        // At the bound (4,096 unaligned), the same shape aligns: 2,048 removes, 2,048 adds.
        let old: Vec<String> = middle(0, 2_049).collect();
        let mut new: Vec<String> = middle(100_000, 2_048).collect();
        new.insert(0, old[2_048].clone());
        let json = changes_json(&list(&with_ends(old)), &list(&with_ends(new)));
        let changes: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
        assert_eq!(changes.len(), 4_096);
        assert!(changes.iter().all(|c| c["op"] != "replace"));
    }

    // Rule 4: a change of type is one replace, even between a map and a list.
    #[test]
    fn type_change_is_one_replace() {
        assert_eq!(
            changes_json(r#"{"v":{"N":"1"}}"#, r#"{"v":{"S":"1"}}"#),
            r#"[{"op":"replace","path":"/v","old":{"N":"1"},"new":{"S":"1"}}]"#
        );
        assert_eq!(
            changes_json(r#"{"v":{"M":{}}}"#, r#"{"v":{"L":[]}}"#),
            r#"[{"op":"replace","path":"/v","old":{"M":{}},"new":{"L":[]}}]"#
        );
    }

    // Sets: added and removed name the elements by value (NS numerically, BS by bytes).
    #[test]
    fn set_deltas_by_value() {
        assert_eq!(
            changes_json(
                r#"{"n":{"NS":["1.0","2","3"]}}"#,
                r#"{"n":{"NS":["1","3","4"]}}"#
            ),
            r#"[{"op":"replace","path":"/n","old":{"NS":["1.0","2","3"]},"new":{"NS":["1","3","4"]},"added":{"NS":["4"]},"removed":{"NS":["2"]}}]"#
        );
        assert_eq!(
            changes_json(
                r#"{"b":{"BS":["AQ==","Ag=="]}}"#,
                r#"{"b":{"BS":["AQ=="]}}"#
            ),
            r#"[{"op":"replace","path":"/b","old":{"BS":["AQ==","Ag=="]},"new":{"BS":["AQ=="]},"removed":{"BS":["Ag=="]}}]"#
        );
        // A set replaced by a different set type has no delta.
        assert!(!changes_json(r#"{"s":{"SS":["1"]}}"#, r#"{"s":{"NS":["1"]}}"#).contains("added"));
    }

    // A set holds each member once: members equal by rule 1 are listed once in added and
    // removed, as first spelled (they used to be listed as often as they appeared).
    #[test]
    fn set_members_equal_by_rule_one_are_listed_once() {
        assert_eq!(
            changes_json(r#"{"n":{"NS":["2"]}}"#, r#"{"n":{"NS":["1","1.0","2"]}}"#),
            r#"[{"op":"replace","path":"/n","old":{"NS":["2"]},"new":{"NS":["1","1.0","2"]},"added":{"NS":["1"]}}]"#
        );
        assert_eq!(
            changes_json(r#"{"s":{"SS":["a"]}}"#, r#"{"s":{"SS":["a","b","b"]}}"#),
            r#"[{"op":"replace","path":"/s","old":{"SS":["a"]},"new":{"SS":["a","b","b"]},"added":{"SS":["b"]}}]"#
        );
        // The BS of the aws-lambda-go, -rust-runtime and -dotnet sample events, removed whole.
        assert_eq!(
            changes_json(
                r#"{"b":{"BS":["U3Vubnk=","UmFpbnk=","U25vd3k=","U3Vubnk="]}}"#,
                r#"{"b":{"BS":["AA=="]}}"#
            ),
            r#"[{"op":"replace","path":"/b","old":{"BS":["U3Vubnk=","UmFpbnk=","U25vd3k=","U3Vubnk="]},"new":{"BS":["AA=="]},"added":{"BS":["AA=="]},"removed":{"BS":["U3Vubnk=","UmFpbnk=","U25vd3k="]}}]"#
        );
        // A repeated member in both images is no change at all.
        assert_eq!(
            changes_json(r#"{"n":{"NS":["1","1.0"]}}"#, r#"{"n":{"NS":["01"]}}"#),
            "[]"
        );
    }

    // Numbers that differ only in an extreme exponent are a change (the exponent used to
    // saturate, and these gave no change at all).
    #[test]
    fn numbers_with_extreme_exponents_are_compared_exactly() {
        for (a, b) in [
            ("1e9223372036854775806", "1e9223372036854775807"),
            ("10e9223372036854775807", "1e9223372036854775807"),
            ("1e-9223372036854775808", "1e-9223372036854775807"),
        ] {
            let json = changes_json(
                &format!(r#"{{"n":{{"N":"{a}"}}}}"#),
                &format!(r#"{{"n":{{"N":"{b}"}}}}"#),
            );
            assert!(json.contains(r#""op":"replace""#), "{a} vs {b}: {json}");
        }
    }

    // Paths escape ~ and / (RFC 6901) and read back to the same names.
    #[test]
    fn paths_escape_tilde_and_slash() {
        let json = changes_json(r#"{}"#, r#"{"a/b~c":{"S":"x"},"":{"S":"empty"}}"#);
        assert_eq!(
            json,
            r#"[{"op":"add","path":"/","new":{"S":"empty"}},{"op":"add","path":"/a~1b~0c","new":{"S":"x"}}]"#
        );
        assert_eq!(pointer_segments("/a~1b~0c/0"), ["a/b~c", "0"]);
        assert_eq!(pointer_segments("/"), [""]);
    }

    // Rule 6: attributes are visited in byte order, so uppercase comes before lowercase.
    #[test]
    fn changes_follow_byte_order_of_names() {
        let json = changes_json(r#"{}"#, r#"{"b":{"S":"1"},"B":{"S":"2"},"a":{"S":"3"}}"#);
        let paths: Vec<&str> = json
            .match_indices("\"path\":\"")
            .map(|(i, _)| &json[i + 8..i + 10])
            .collect();
        assert_eq!(paths, ["/B", "/a", "/b"]);
    }

    // Stored changes read back with the shape rules enforced.
    #[test]
    fn changes_read_back_and_reject_wrong_shapes() {
        let ok: Change<'_> =
            serde_json::from_str(r#"{"op":"add","path":"/a","new":{"S":"x"}}"#).unwrap();
        assert_eq!(ok.op, Op::Add);
        assert!(
            serde_json::from_str::<Change<'_>>(r#"{"op":"add","path":"/a","old":{"S":"x"}}"#)
                .is_err()
        );
        assert!(
            serde_json::from_str::<Change<'_>>(r#"{"op":"replace","path":"/a","new":{"S":"x"}}"#)
                .is_err()
        );
    }
}
