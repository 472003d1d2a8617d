//! The attribute-by-attribute diff of two items: the spec's rules 1-6.
//!
//! Maps recurse key by key in ascending byte order, lists index by index, and everything
//! else that is unequal under rule 1 is one `replace` (with `added`/`removed` for sets).
//! This module performs no IO.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt::Write as _;

use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::number;
use crate::value::{AttributeValue, Binary, Item, spec_eq};

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

fn diff_lists<'a>(
    old: &'a [AttributeValue<'a>],
    new: &'a [AttributeValue<'a>],
    path: &mut String,
    out: &mut Vec<Change<'a>>,
) {
    let len = path.len();
    let common = old.len().min(new.len());
    for (i, (a, b)) in old.iter().zip(new).enumerate() {
        write!(path, "/{i}").expect("writing to a String");
        diff_values(a, b, path, out);
        path.truncate(len);
    }
    // Appends at ascending indices, so each lands at the end of the list as it grows.
    for (i, value) in new.iter().enumerate().skip(common) {
        write!(path, "/{i}").expect("writing to a String");
        out.push(addition(path, value));
        path.truncate(len);
    }
    // Removals from the end backwards, so each index is still valid when it is applied.
    for (i, value) in old.iter().enumerate().skip(common).rev() {
        write!(path, "/{i}").expect("writing to a String");
        out.push(removal(path, value));
        path.truncate(len);
    }
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
