//! Typed DynamoDB attribute values, borrowed from the JSON they were read from.
//!
//! Values stay exactly as DynamoDB Streams delivered them: numbers are their decimal text,
//! binary is its base64 text (validated, and decoded once for comparison). This module
//! performs no IO.

use std::borrow::Cow;

/// A binary value: the base64 text as delivered, and the bytes it encodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binary<'a> {
    pub base64: Cow<'a, str>,
    pub bytes: Vec<u8>,
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
}

/// A typed map (an item, a key, or an `M` value): attributes in ascending byte order of name.
#[derive(Debug, Clone, Default)]
pub struct Item<'a>(Vec<(Cow<'a, str>, AttributeValue<'a>)>);
