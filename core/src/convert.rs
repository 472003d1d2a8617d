//! Conversions to and from serde_dynamo's values, which is what `aws_lambda_events` records
//! carry (`EventRecord.change.new_image` is a `serde_dynamo::Item`), so library users holding
//! those types can diff and render with this crate.
//!
//! Both directions are lossless: numbers stay text, binary stays bytes. serde_dynamo keeps maps
//! in a `HashMap`, whose order is random; the conversion sorts names, so output stays
//! byte-identical. Into this crate it is `TryFrom`, because serde_dynamo does not check number
//! text and this crate's values are valid by construction. This module performs no IO.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_dynamo::AttributeValue as Dynamo;

use crate::number;
use crate::value::{AttributeValue, Binary, Item};

/// A serde_dynamo value this crate cannot hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    #[error("invalid number {0:?}")]
    InvalidNumber(String),
    #[error("NULL must be true")]
    FalseNull,
}

fn number_text(text: &str) -> Result<Cow<'_, str>, ConvertError> {
    if number::is_valid(text) {
        Ok(Cow::Borrowed(text))
    } else {
        Err(ConvertError::InvalidNumber(text.to_owned()))
    }
}

fn binary(bytes: &[u8]) -> Binary<'static> {
    Binary {
        base64: Cow::Owned(BASE64.encode(bytes)),
        bytes: bytes.to_vec(),
    }
}

impl<'a> TryFrom<&'a Dynamo> for AttributeValue<'a> {
    type Error = ConvertError;

    fn try_from(value: &'a Dynamo) -> Result<Self, ConvertError> {
        Ok(match value {
            Dynamo::S(s) => Self::S(Cow::Borrowed(s)),
            Dynamo::N(n) => Self::N(number_text(n)?),
            Dynamo::B(b) => Self::B(binary(b)),
            Dynamo::Bool(b) => Self::Bool(*b),
            Dynamo::Null(true) => Self::Null,
            Dynamo::Null(false) => return Err(ConvertError::FalseNull),
            Dynamo::Ss(v) => Self::Ss(v.iter().map(|s| Cow::Borrowed(s.as_str())).collect()),
            Dynamo::Ns(v) => Self::Ns(v.iter().map(|n| number_text(n)).collect::<Result<_, _>>()?),
            Dynamo::Bs(v) => Self::Bs(v.iter().map(|b| binary(b)).collect()),
            Dynamo::L(v) => Self::L(v.iter().map(Self::try_from).collect::<Result<_, _>>()?),
            Dynamo::M(m) => Self::M(item_from(m.iter())?),
        })
    }
}

fn item_from<'a>(
    attributes: impl Iterator<Item = (&'a String, &'a Dynamo)>,
) -> Result<Item<'a>, ConvertError> {
    let attributes = attributes
        .map(|(k, v)| Ok((Cow::Borrowed(k.as_str()), AttributeValue::try_from(v)?)))
        .collect::<Result<Vec<_>, ConvertError>>()?;
    // A HashMap's names are unique, so this cannot fail.
    Ok(Item::from_attributes(attributes).expect("map keys are unique"))
}

impl<'a> TryFrom<&'a serde_dynamo::Item> for Item<'a> {
    type Error = ConvertError;

    fn try_from(item: &'a serde_dynamo::Item) -> Result<Self, ConvertError> {
        item_from(item.iter())
    }
}

impl From<&AttributeValue<'_>> for Dynamo {
    fn from(value: &AttributeValue<'_>) -> Self {
        match value {
            AttributeValue::S(s) => Dynamo::S(s.to_string()),
            AttributeValue::N(n) => Dynamo::N(n.to_string()),
            AttributeValue::B(b) => Dynamo::B(b.bytes.clone()),
            AttributeValue::Bool(b) => Dynamo::Bool(*b),
            AttributeValue::Null => Dynamo::Null(true),
            AttributeValue::Ss(v) => Dynamo::Ss(v.iter().map(|s| s.to_string()).collect()),
            AttributeValue::Ns(v) => Dynamo::Ns(v.iter().map(|n| n.to_string()).collect()),
            AttributeValue::Bs(v) => Dynamo::Bs(v.iter().map(|b| b.bytes.clone()).collect()),
            AttributeValue::L(v) => Dynamo::L(v.iter().map(Dynamo::from).collect()),
            AttributeValue::M(m) => Dynamo::M(
                m.iter()
                    .map(|(k, v)| (k.to_owned(), Dynamo::from(v)))
                    .collect(),
            ),
            // A token has no DynamoDB type: it goes as the map the document writes.
            AttributeValue::Redacted(token) => Dynamo::M(
                [(
                    crate::value::REDACTED.to_owned(),
                    Dynamo::M(
                        [
                            ("type".to_owned(), Dynamo::S(token.type_tag.to_owned())),
                            ("hmac".to_owned(), Dynamo::S(token.hmac.clone())),
                        ]
                        .into(),
                    ),
                )]
                .into(),
            ),
        }
    }
}

impl From<&Item<'_>> for serde_dynamo::Item {
    fn from(item: &Item<'_>) -> Self {
        item.iter()
            .map(|(k, v)| (k.to_owned(), Dynamo::from(v)))
            .collect::<std::collections::HashMap<_, _>>()
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::item_eq;

    const ITEM: &str = r#"{"z":{"N":"12345678901234567890123456789012345678"},"b":{"B":"AP8="},"m":{"M":{"y":{"SS":["a"]},"x":{"NULL":true}}},"l":{"L":[{"BOOL":true},{"NS":["1.50"]},{"BS":["AQ=="]}]}}"#;

    // Converting through serde_dynamo and back keeps every digit and byte.
    #[test]
    fn round_trip_is_lossless() {
        let ours: Item<'_> = serde_json::from_str(ITEM).unwrap();
        let theirs = serde_dynamo::Item::from(&ours);
        let back = Item::try_from(&theirs).unwrap();
        assert!(item_eq(&ours, &back));
        assert_eq!(
            serde_json::to_string(&back).unwrap(),
            serde_json::to_string(&ours).unwrap()
        );
    }

    // HashMap order never leaks into output: names come out sorted, every time.
    #[test]
    fn output_is_sorted_whatever_the_hash_order() {
        let theirs: serde_dynamo::Item = serde_json::from_str(ITEM).unwrap();
        let json = serde_json::to_string(&Item::try_from(&theirs).unwrap()).unwrap();
        assert!(
            json.starts_with(r#"{"b":"#) && json.contains(r#"{"M":{"x":"#),
            "{json}"
        );
    }

    // Values this crate cannot hold are refused, not passed on.
    #[test]
    fn invalid_numbers_and_false_null_are_refused() {
        assert_eq!(
            AttributeValue::try_from(&Dynamo::N("1e".into())).unwrap_err(),
            ConvertError::InvalidNumber("1e".into())
        );
        assert_eq!(
            AttributeValue::try_from(&Dynamo::Null(false)).unwrap_err(),
            ConvertError::FalseNull
        );
    }
}
