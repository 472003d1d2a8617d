//! Typed DynamoDB attribute values (DynamoDB JSON), borrowed from the JSON they were read from.
//!
//! Values stay exactly as DynamoDB Streams delivered them: a number is its decimal text, binary
//! is its base64 text (validated, and decoded once so comparisons see bytes). Reading checks
//! every value against the contract, so whatever this module accepts renders schema-valid.
//! This module performs no IO.

use std::borrow::Cow;
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::number;
use crate::reader::{self, ReadError, Reader, Segment};

/// A binary value: the base64 text as delivered, and the bytes it encodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binary<'a> {
    pub base64: Cow<'a, str>,
    pub bytes: Vec<u8>,
}

impl Binary<'_> {
    /// A binary value from raw bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Binary<'static> {
        Binary {
            base64: Cow::Owned(BASE64.encode(&bytes)),
            bytes,
        }
    }

    /// Detaches the value from the JSON it was read from.
    pub fn into_owned(self) -> Binary<'static> {
        Binary {
            base64: Cow::Owned(self.base64.into_owned()),
            bytes: self.bytes,
        }
    }
}

/// One DynamoDB attribute value (DynamoDB JSON), e.g. `{"N": "12.5"}`.
#[derive(Debug, Clone)]
pub enum AttributeValue<'a> {
    S(Cow<'a, str>),
    /// The number's decimal text, validated, never converted.
    N(Cow<'a, str>),
    B(Binary<'a>),
    Bool(bool),
    Null,
    Ss(Vec<Cow<'a, str>>),
    Ns(Vec<Cow<'a, str>>),
    Bs(Vec<Binary<'a>>),
    L(Vec<AttributeValue<'a>>),
    M(Item<'a>),
    /// A value withheld by redaction, read back from a stored document (a stream record
    /// never holds one).
    Redacted(Token),
}

/// The token that stands for a redacted value: `{"REDACTED": {"type", "hmac"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Token {
    /// The original value's type tag (`S`, `N`, `M`, ...).
    pub type_tag: &'static str,
    /// Base64url (no padding) HMAC-SHA-256 of the value's canonical bytes: 43 characters.
    pub hmac: String,
}

/// The type tag of a redacted value.
pub const REDACTED: &str = "REDACTED";

/// A typed map (an item, a key, or an `M` value): attributes in ascending byte order of name,
/// names unique.
#[derive(Debug, Clone, Default)]
pub struct Item<'a>(Vec<(Cow<'a, str>, AttributeValue<'a>)>);

impl<'a> AttributeValue<'a> {
    /// The DynamoDB type tag: `S`, `N`, `B`, `BOOL`, `NULL`, `SS`, `NS`, `BS`, `L` or `M`
    /// (`REDACTED` for a token).
    pub fn type_tag(&self) -> &'static str {
        match self {
            Self::S(_) => "S",
            Self::N(_) => "N",
            Self::B(_) => "B",
            Self::Bool(_) => "BOOL",
            Self::Null => "NULL",
            Self::Ss(_) => "SS",
            Self::Ns(_) => "NS",
            Self::Bs(_) => "BS",
            Self::L(_) => "L",
            Self::M(_) => "M",
            Self::Redacted(_) => REDACTED,
        }
    }

    /// Detaches the value from the JSON it was read from.
    pub fn into_owned(self) -> AttributeValue<'static> {
        let own = |s: Cow<'a, str>| Cow::Owned(s.into_owned());
        match self {
            Self::S(s) => AttributeValue::S(own(s)),
            Self::N(n) => AttributeValue::N(own(n)),
            Self::B(b) => AttributeValue::B(b.into_owned()),
            Self::Bool(b) => AttributeValue::Bool(b),
            Self::Null => AttributeValue::Null,
            Self::Ss(v) => AttributeValue::Ss(v.into_iter().map(own).collect()),
            Self::Ns(v) => AttributeValue::Ns(v.into_iter().map(own).collect()),
            Self::Bs(v) => AttributeValue::Bs(v.into_iter().map(Binary::into_owned).collect()),
            Self::L(v) => AttributeValue::L(v.into_iter().map(Self::into_owned).collect()),
            Self::M(m) => AttributeValue::M(m.into_owned()),
            Self::Redacted(t) => AttributeValue::Redacted(t),
        }
    }
}

impl<'a> Item<'a> {
    /// The item's own entries, names as stored (borrowed from the event where they were).
    pub(crate) fn entries(&self) -> &[(Cow<'a, str>, AttributeValue<'a>)] {
        &self.0
    }

    /// An item from entries already in ascending order of name with no name twice (those of
    /// another item, values replaced one for one).
    pub(crate) fn from_sorted_entries(entries: Vec<(Cow<'a, str>, AttributeValue<'a>)>) -> Self {
        debug_assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
        Self(entries)
    }

    /// An item from attributes in any order; `None` if a name repeats.
    pub fn from_attributes(
        mut attributes: Vec<(Cow<'a, str>, AttributeValue<'a>)>,
    ) -> Option<Self> {
        // Unstable is enough: equal names are rejected just below.
        attributes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let unique = attributes.windows(2).all(|w| w[0].0 != w[1].0);
        unique.then_some(Self(attributes))
    }

    /// Attributes in ascending byte order of name.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &AttributeValue<'a>)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// The value of attribute `name`.
    pub fn get(&self, name: &str) -> Option<&AttributeValue<'a>> {
        self.position(name).ok().map(|i| &self.0[i].1)
    }

    /// The value of attribute `name`, mutably.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut AttributeValue<'a>> {
        self.position(name).ok().map(|i| &mut self.0[i].1)
    }

    /// Sets attribute `name`, returning the value it replaced.
    pub fn insert(
        &mut self,
        name: Cow<'a, str>,
        value: AttributeValue<'a>,
    ) -> Option<AttributeValue<'a>> {
        match self.position(&name) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (name, value));
                None
            }
        }
    }

    /// Removes attribute `name`, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<AttributeValue<'a>> {
        self.position(name).ok().map(|i| self.0.remove(i).1)
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the item has no attribute.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Detaches the item from the JSON it was read from.
    pub fn into_owned(self) -> Item<'static> {
        Item(
            self.0
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                .collect(),
        )
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_ref().cmp(name))
    }
}

/// The spec's rule 1: equal types and equal values (numbers by exact value, binary by bytes,
/// sets as sets, lists element by element, maps key by key).
pub fn spec_eq(a: &AttributeValue<'_>, b: &AttributeValue<'_>) -> bool {
    use AttributeValue as V;
    match (a, b) {
        (V::S(x), V::S(y)) => x == y,
        (V::N(x), V::N(y)) => number::num_eq(x, y),
        (V::B(x), V::B(y)) => x.bytes == y.bytes,
        (V::Bool(x), V::Bool(y)) => x == y,
        (V::Null, V::Null) => true,
        (V::Ss(x), V::Ss(y)) => set_eq(x, y, |s| s.as_bytes()),
        (V::Ns(x), V::Ns(y)) => set_eq(x, y, |n| number::canonical(n)),
        (V::Bs(x), V::Bs(y)) => set_eq(x, y, |b| b.bytes.as_slice()),
        (V::L(x), V::L(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| spec_eq(p, q)),
        (V::M(x), V::M(y)) => item_eq(x, y),
        // Tokens of equal values are equal: the contract compares them as opaque values.
        (V::Redacted(x), V::Redacted(y)) => x == y,
        _ => false,
    }
}

/// Rule 1 for maps: the same names with equal values.
pub fn item_eq(a: &Item<'_>, b: &Item<'_>) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b.iter())
            .all(|((ka, va), (kb, vb))| ka == kb && spec_eq(va, vb))
}

/// A hash consistent with rule 1: values equal by [`spec_eq`] hash alike (numbers by exact
/// value, binary by bytes, sets as sets of members, maps key by key), so a list's elements can
/// be sorted into classes of equal values with one [`spec_eq`] per element. Deterministic:
/// `DefaultHasher::new()` has fixed keys.
pub(crate) fn spec_hash(value: &AttributeValue<'_>) -> u64 {
    let mut hasher = DefaultHasher::new();
    hash_into(value, &mut hasher);
    hasher.finish()
}

fn hash_into(value: &AttributeValue<'_>, h: &mut DefaultHasher) {
    use AttributeValue as V;
    value.type_tag().hash(h);
    match value {
        V::S(s) => s.hash(h),
        V::N(n) => number::canonical(n).hash(h),
        V::B(b) => b.bytes.hash(h),
        V::Bool(b) => b.hash(h),
        V::Null => {}
        V::Ss(v) => set_hash(v.iter().map(|s| hash_one(s.as_bytes())), h),
        V::Ns(v) => set_hash(v.iter().map(|n| hash_one(&number::canonical(n))), h),
        V::Bs(v) => set_hash(v.iter().map(|b| hash_one(&b.bytes)), h),
        V::L(v) => {
            v.len().hash(h);
            for element in v {
                hash_into(element, h);
            }
        }
        V::M(m) => {
            m.len().hash(h);
            for (name, value) in m.iter() {
                name.hash(h);
                hash_into(value, h);
            }
        }
        V::Redacted(token) => token.hash(h),
    }
}

fn hash_one<T: Hash + ?Sized>(member: &T) -> u64 {
    let mut hasher = DefaultHasher::new();
    member.hash(&mut hasher);
    hasher.finish()
}

/// Members' hashes in order and without repeats, so order and duplicates do not count.
fn set_hash(members: impl Iterator<Item = u64>, h: &mut DefaultHasher) {
    let mut hashes: Vec<u64> = members.collect();
    hashes.sort_unstable();
    hashes.dedup();
    hashes.hash(h);
}

/// Equality of two sets (duplicates and order ignored) under a membership key.
fn set_eq<'s, T, K: Ord>(a: &'s [T], b: &'s [T], key: impl Fn(&'s T) -> K) -> bool {
    let sorted = |s: &'s [T]| {
        let mut keys: Vec<K> = s.iter().map(&key).collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    };
    sorted(a) == sorted(b)
}

// ---------------------------------------------------------------------------------------------
// Serialization: DynamoDB JSON, exactly the tags and text that were read.

impl Serialize for Binary<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.base64)
    }
}

impl Serialize for AttributeValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        let tag = self.type_tag();
        match self {
            Self::S(s) | Self::N(s) => map.serialize_entry(tag, s)?,
            Self::B(b) => map.serialize_entry(tag, b)?,
            Self::Bool(b) => map.serialize_entry(tag, b)?,
            Self::Null => map.serialize_entry(tag, &true)?,
            Self::Ss(v) | Self::Ns(v) => map.serialize_entry(tag, v)?,
            Self::Bs(v) => map.serialize_entry(tag, v)?,
            Self::L(v) => map.serialize_entry(tag, v)?,
            Self::M(m) => map.serialize_entry(tag, m)?,
            Self::Redacted(token) => map.serialize_entry(tag, token)?,
        }
        map.end()
    }
}

impl Serialize for Token {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("type", self.type_tag)?;
        map.serialize_entry("hmac", &self.hmac)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for Token {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Wire {
            r#type: String,
            hmac: String,
        }
        let wire = Wire::deserialize(deserializer)?;
        let type_tag = Tag::parse(&wire.r#type)
            .map(Tag::as_str)
            .ok_or_else(|| de::Error::custom(unknown_type(&wire.r#type)))?;
        let well_formed = wire.hmac.len() == 43
            && wire
                .hmac
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !well_formed {
            return Err(de::Error::custom(
                "a redaction token's hmac is 43 base64url characters",
            ));
        }
        Ok(Token {
            type_tag,
            hmac: wire.hmac,
        })
    }
}

impl Serialize for Item<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k.as_ref(), v)?;
        }
        map.end()
    }
}

// ---------------------------------------------------------------------------------------------
// Reading from a stream record: the hot path, through the crate's own reader.

/// The ten DynamoDB type tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    S,
    N,
    B,
    Bool,
    Null,
    Ss,
    Ns,
    Bs,
    L,
    M,
}

impl Tag {
    fn parse(tag: &str) -> Option<Self> {
        Some(match tag {
            "S" => Self::S,
            "N" => Self::N,
            "B" => Self::B,
            "BOOL" => Self::Bool,
            "NULL" => Self::Null,
            "SS" => Self::Ss,
            "NS" => Self::Ns,
            "BS" => Self::Bs,
            "L" => Self::L,
            "M" => Self::M,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::S => "S",
            Self::N => "N",
            Self::B => "B",
            Self::Bool => "BOOL",
            Self::Null => "NULL",
            Self::Ss => "SS",
            Self::Ns => "NS",
            Self::Bs => "BS",
            Self::L => "L",
            Self::M => "M",
        }
    }
}

/// Reads a typed map, e.g. an image.
pub(crate) fn read_item<'a>(r: &mut Reader<'a>) -> reader::Result<Item<'a>> {
    // Room for a typical item's attributes up front: growing from empty reallocated twice or
    // three times per image (callgrind, benchmark batch).
    let mut attributes = Vec::with_capacity(8);
    r.object("a map of attribute names to values", |r, name| {
        let value = read_value(r).map_err(|e| e.within_key(&name))?;
        attributes.push((name, value));
        Ok(())
    })?;
    Item::from_attributes(attributes)
        .ok_or_else(|| ReadError::invalid("an attribute name appears twice"))
}

/// Reads one typed value, e.g. `{"N": "1.5"}`.
pub(crate) fn read_value<'a>(r: &mut Reader<'a>) -> reader::Result<AttributeValue<'a>> {
    let mut value: Option<AttributeValue<'a>> = None;
    r.object(
        "a DynamoDB attribute value such as {\"S\": \"text\"}",
        |r, tag| {
            if let Some(first) = &value {
                return Err(ReadError::invalid(format!(
                    "attribute value has more than one type ({:?} and {tag:?})",
                    first.type_tag()
                )));
            }
            let kind = Tag::parse(&tag)
                .ok_or_else(|| ReadError::invalid(format!("unknown attribute type {tag:?}")))?;
            value = Some(read_typed(r, kind).map_err(|e| e.within_key(&tag))?);
            Ok(())
        },
    )?;
    value.ok_or_else(|| ReadError::invalid("attribute value has no type"))
}

fn read_typed<'a>(r: &mut Reader<'a>, tag: Tag) -> reader::Result<AttributeValue<'a>> {
    Ok(match tag {
        Tag::S => AttributeValue::S(r.string()?),
        Tag::N => AttributeValue::N(read_number(r)?),
        Tag::B => AttributeValue::B(read_binary(r)?),
        Tag::Bool => AttributeValue::Bool(r.boolean()?),
        Tag::Null if r.boolean()? => AttributeValue::Null,
        Tag::Null => return Err(ReadError::invalid("NULL must be true")),
        Tag::Ss => AttributeValue::Ss(read_list(r, "a list of strings", Reader::string)?),
        Tag::Ns => AttributeValue::Ns(read_list(r, "a list of number strings", read_number)?),
        Tag::Bs => AttributeValue::Bs(read_list(r, "a list of base64 strings", read_binary)?),
        Tag::L => AttributeValue::L(read_list(r, "a list of attribute values", read_value)?),
        Tag::M => AttributeValue::M(read_item(r)?),
    })
}

fn read_list<'a, T>(
    r: &mut Reader<'a>,
    expected: &str,
    mut element: impl FnMut(&mut Reader<'a>) -> reader::Result<T>,
) -> reader::Result<Vec<T>> {
    let mut out = Vec::new();
    r.array(expected, |r, i| {
        out.push(element(r).map_err(|e| e.within(|| Segment::Index(i)))?);
        Ok(())
    })?;
    Ok(out)
}

fn read_number<'a>(r: &mut Reader<'a>) -> reader::Result<Cow<'a, str>> {
    checked_number(r.string()?).map_err(ReadError::invalid)
}

fn read_binary<'a>(r: &mut Reader<'a>) -> reader::Result<Binary<'a>> {
    checked_binary(r.string()?).map_err(ReadError::invalid)
}

// The checks both readers (the event reader above, serde below) apply, so they cannot drift.

fn checked_number(text: Cow<'_, str>) -> Result<Cow<'_, str>, String> {
    if number::is_valid(&text) {
        Ok(text)
    } else {
        Err(format!("invalid number {text:?}"))
    }
}

fn checked_binary(base64: Cow<'_, str>) -> Result<Binary<'_>, String> {
    match BASE64.decode(base64.as_bytes()) {
        Ok(bytes) => Ok(Binary { base64, bytes }),
        Err(e) => Err(format!("invalid base64: {e}")),
    }
}

fn unknown_type(tag: &str) -> String {
    format!("unknown attribute type {tag:?}")
}

// ---------------------------------------------------------------------------------------------
// Deserialization: borrowing where the JSON has no escapes, validating as it goes.

/// A string borrowed from the input when possible (serde's own `Cow` impl always copies).
pub(crate) struct CowStr<'a>(pub(crate) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for CowStr<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// Number text, validated against the contract's grammar.
struct NumberText<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for NumberText<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let CowStr(text) = CowStr::deserialize(deserializer)?;
        checked_number(text)
            .map(NumberText)
            .map_err(de::Error::custom)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Binary<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let CowStr(base64) = CowStr::deserialize(deserializer)?;
        checked_binary(base64).map_err(de::Error::custom)
    }
}

/// `NULL` must be `true`: DynamoDB never sends anything else and the contract allows nothing else.
struct NullMarker;

impl<'de> Deserialize<'de> for NullMarker {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if bool::deserialize(deserializer)? {
            Ok(NullMarker)
        } else {
            Err(de::Error::custom("NULL must be true"))
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for AttributeValue<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = AttributeValue<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a DynamoDB attribute value such as {\"S\": \"text\"}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let Some(CowStr(tag)) = map.next_key::<CowStr<'de>>()? else {
                    return Err(de::Error::custom("attribute value has no type"));
                };
                // Stored documents of a redacting deployment hold tokens; the event reader
                // above never accepts one, since DynamoDB has no such type.
                let kind = match Tag::parse(&tag) {
                    Some(kind) => kind,
                    None if tag == REDACTED => {
                        let token = map.next_value::<Token>()?;
                        return only_one_type(&mut map, &tag, AttributeValue::Redacted(token));
                    }
                    None => return Err(de::Error::custom(unknown_type(&tag))),
                };
                let value = match kind {
                    Tag::S => AttributeValue::S(map.next_value::<CowStr<'a>>()?.0),
                    Tag::N => AttributeValue::N(map.next_value::<NumberText<'a>>()?.0),
                    Tag::B => AttributeValue::B(map.next_value()?),
                    Tag::Bool => AttributeValue::Bool(map.next_value()?),
                    Tag::Null => {
                        map.next_value::<NullMarker>()?;
                        AttributeValue::Null
                    }
                    Tag::Ss => AttributeValue::Ss(
                        map.next_value::<Vec<CowStr<'a>>>()?
                            .into_iter()
                            .map(|s| s.0)
                            .collect(),
                    ),
                    Tag::Ns => AttributeValue::Ns(
                        map.next_value::<Vec<NumberText<'a>>>()?
                            .into_iter()
                            .map(|n| n.0)
                            .collect(),
                    ),
                    Tag::Bs => AttributeValue::Bs(map.next_value()?),
                    Tag::L => AttributeValue::L(map.next_value()?),
                    Tag::M => AttributeValue::M(map.next_value()?),
                };
                only_one_type(&mut map, &tag, value)
            }
        }
        deserializer.deserialize_map(V(std::marker::PhantomData))
    }
}

/// `value`, unless the map it came from has a second member.
fn only_one_type<'de, 'a, A: MapAccess<'de>>(
    map: &mut A,
    tag: &str,
    value: AttributeValue<'a>,
) -> Result<AttributeValue<'a>, A::Error> {
    if let Some(CowStr(extra)) = map.next_key::<CowStr<'de>>()? {
        map.next_value::<IgnoredAny>()?;
        return Err(de::Error::custom(format_args!(
            "attribute value has more than one type ({tag:?} and {extra:?})"
        )));
    }
    Ok(value)
}

impl<'de: 'a, 'a> Deserialize<'de> for Item<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Item<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of attribute names to DynamoDB attribute values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut attributes = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(CowStr(name)) = map.next_key::<CowStr<'a>>()? {
                    attributes.push((name, map.next_value::<AttributeValue<'a>>()?));
                }
                Item::from_attributes(attributes)
                    .ok_or_else(|| de::Error::custom("an attribute name appears twice"))
            }
        }
        deserializer.deserialize_map(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<AttributeValue<'_>, serde_json::Error> {
        serde_json::from_str(json)
    }

    fn eq(a: &str, b: &str) -> bool {
        spec_eq(&parse(a).unwrap(), &parse(b).unwrap())
    }

    // Every type round-trips to the same DynamoDB JSON, numbers and base64 verbatim.
    #[test]
    fn every_type_round_trips_verbatim() {
        let json = r#"{"M":{"b":{"B":"AAEC/w=="},"bool":{"BOOL":false},"bs":{"BS":["AQ==","Ag=="]},"l":{"L":[{"NULL":true},{"S":"x"}]},"n":{"N":"-12.50E+3"},"ns":{"NS":["1","2.0"]},"s":{"S":"é\n\"q\""},"ss":{"SS":["b","a"]}}}"#;
        let value = parse(json).unwrap();
        assert_eq!(serde_json::to_string(&value).unwrap(), json);
    }

    // The hot-path reader and the serde reader agree on values and on refusals.
    #[test]
    fn reader_agrees_with_serde() {
        for json in [
            r#"{"M":{"b":{"B":"AAEC/w=="},"l":{"L":[{"NULL":true},{"NS":["1","2e3"]}]},"s":{"S":"x\\ny"},"ss":{"SS":[]}}}"#,
            r#"{"X":"1"}"#,
            r#"{"N":"1.2.3"}"#,
            r#"{"B":"!!"}"#,
            r#"{"NULL":false}"#,
            r#"{}"#,
            r#"{"S":"a","N":"1"}"#,
            r#"{"M":{"a":{"S":"1"},"a":{"S":"2"}}}"#,
            r#"{"S":1}"#,
            r#"["S","x"]"#,
            r#"{"L":[{"S":"a"},{"Q":1}]}"#,
        ] {
            let ours = read_value(&mut Reader::new(json));
            let theirs = parse(json);
            match (ours, theirs) {
                (Ok(a), Ok(b)) => assert_eq!(
                    serde_json::to_string(&a).unwrap(),
                    serde_json::to_string(&b).unwrap()
                ),
                (Err(_), Err(_)) => {}
                (a, b) => panic!("{json}: reader {a:?} vs serde {b:?}"),
            }
        }
    }

    // Map keys come out in ascending byte order, whatever order they came in.
    #[test]
    fn map_keys_are_sorted_by_bytes() {
        let value =
            parse(r#"{"M":{"b":{"S":"1"},"B":{"S":"2"},"a":{"S":"3"},"é":{"S":"4"}}}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&value).unwrap(),
            r#"{"M":{"B":{"S":"2"},"a":{"S":"3"},"b":{"S":"1"},"é":{"S":"4"}}}"#
        );
    }

    // Unescaped strings borrow from the input: no copy on the hot path.
    #[test]
    fn plain_strings_are_borrowed() {
        let value = parse(r#"{"S":"plain"}"#).unwrap();
        assert!(matches!(value, AttributeValue::S(Cow::Borrowed("plain"))));
    }

    // Values outside the contract are refused with a message naming the problem.
    #[test]
    fn invalid_values_are_refused_with_reasons() {
        for (json, reason) in [
            (r#"{"X":"1"}"#, "unknown attribute type \"X\""),
            (r#"{"N":"1.2.3"}"#, "invalid number"),
            (r#"{"NS":["1","x"]}"#, "invalid number"),
            (r#"{"B":"not base64!"}"#, "invalid base64"),
            (r#"{"NULL":false}"#, "NULL must be true"),
            (r#"{}"#, "has no type"),
            (r#"{"S":"a","N":"1"}"#, "more than one type"),
            (r#"{"M":{"a":{"S":"1"},"a":{"S":"2"}}}"#, "appears twice"),
            (r#"{"S":1}"#, "invalid type"),
            (r#"["S","x"]"#, "invalid type"),
        ] {
            let err = parse(json).unwrap_err().to_string();
            assert!(err.contains(reason), "{json}: {err}");
        }
    }

    // Rule 1, scalars: numbers by value, binary by bytes, types must match.
    #[test]
    fn scalar_equality_follows_rule_one() {
        assert!(eq(r#"{"N":"1.50"}"#, r#"{"N":"15E-1"}"#));
        assert!(!eq(r#"{"N":"1"}"#, r#"{"S":"1"}"#));
        assert!(eq(r#"{"S":"a\u0062"}"#, r#"{"S":"ab"}"#));
        assert!(!eq(r#"{"S":"a"}"#, r#"{"S":"A"}"#));
        assert!(eq(r#"{"NULL":true}"#, r#"{"NULL":true}"#));
        assert!(!eq(r#"{"BOOL":true}"#, r#"{"BOOL":false}"#));
        assert!(eq(r#"{"B":"AQI="}"#, r#"{"B":"AQI="}"#));
        assert!(!eq(r#"{"B":"AQI="}"#, r#"{"B":"AQM="}"#));
    }

    // Rule 1, sets: order does not matter; NS by value, BS by bytes.
    #[test]
    fn set_reorder_is_not_a_change() {
        assert!(eq(r#"{"SS":["a","b"]}"#, r#"{"SS":["b","a"]}"#));
        assert!(eq(r#"{"NS":["1.0","2"]}"#, r#"{"NS":["2","1"]}"#));
        assert!(eq(r#"{"BS":["AQ==","Ag=="]}"#, r#"{"BS":["Ag==","AQ=="]}"#));
        assert!(!eq(r#"{"SS":["a","b"]}"#, r#"{"SS":["a"]}"#));
        assert!(!eq(r#"{"SS":["1"]}"#, r#"{"NS":["1"]}"#));
    }

    // Rule 1, documents: lists are ordered, maps are not.
    #[test]
    fn lists_compare_in_order_and_maps_by_key() {
        assert!(!eq(
            r#"{"L":[{"S":"a"},{"S":"b"}]}"#,
            r#"{"L":[{"S":"b"},{"S":"a"}]}"#
        ));
        assert!(eq(
            r#"{"M":{"a":{"N":"1"},"b":{"N":"2"}}}"#,
            r#"{"M":{"b":{"N":"2.0"},"a":{"N":"1"}}}"#
        ));
        assert!(!eq(
            r#"{"M":{"a":{"N":"1"}}}"#,
            r#"{"M":{"a":{"N":"1"},"b":{"N":"2"}}}"#
        ));
    }

    // Values equal by rule 1 hash alike, however they are spelled or ordered.
    #[test]
    fn equal_values_hash_alike() {
        for (a, b) in [
            (r#"{"N":"1.50"}"#, r#"{"N":"15E-1"}"#),
            (r#"{"NS":["1","2","1.0"]}"#, r#"{"NS":["2.0","1"]}"#),
            (r#"{"SS":["b","a","a"]}"#, r#"{"SS":["a","b"]}"#),
            (r#"{"BS":["AQ==","Ag=="]}"#, r#"{"BS":["Ag==","AQ=="]}"#),
            (
                r#"{"M":{"a":{"L":[{"N":"1"},{"NULL":true}]}}}"#,
                r#"{"M":{"a":{"L":[{"N":"1.0"},{"NULL":true}]}}}"#,
            ),
        ] {
            let (x, y) = (parse(a).unwrap(), parse(b).unwrap());
            assert!(spec_eq(&x, &y), "{a} {b}");
            assert_eq!(spec_hash(&x), spec_hash(&y), "{a} {b}");
        }
        assert_ne!(
            spec_hash(&parse(r#"{"N":"1"}"#).unwrap()),
            spec_hash(&parse(r#"{"S":"1"}"#).unwrap())
        );
    }

    // Item editing keeps names sorted and unique.
    #[test]
    fn item_insert_and_remove_keep_order() {
        let mut item = Item::default();
        item.insert("b".into(), AttributeValue::Null);
        item.insert("a".into(), AttributeValue::Bool(true));
        assert!(
            item.insert("b".into(), AttributeValue::Bool(false))
                .is_some()
        );
        assert_eq!(item.iter().map(|(k, _)| k).collect::<Vec<_>>(), ["a", "b"]);
        assert!(item.remove("a").is_some());
        assert_eq!(item.len(), 1);
    }
}
