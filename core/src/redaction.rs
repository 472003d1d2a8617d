//! Redaction by keyed hash (the contract's "Redacted attributes"): a value at a redacted
//! path is stored as `{"REDACTED": {"type", "hmac"}}`, HMAC-SHA-256 of its canonical bytes
//! under the deployment's secret. Equal values (rule 1) give equal tokens, a change is still
//! seen, and only a holder of the secret can test a guess.
//!
//! This module holds the secret, the patterns, the canonical bytes and the token; the
//! renderer asks it which paths to withhold. It performs no IO: the secret is read by the
//! function (Secrets Manager) or the CLI (a file) and handed in.

use std::fmt;

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::number;
use crate::pattern::{Pattern, Step};
use crate::value::{AttributeValue, Binary, Item, Token};

/// The `algorithm` member of every redacting document's `redaction`.
pub const ALGORITHM: &str = "HMAC-SHA-256";

/// The shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

type HmacSha256 = hmac::Hmac<Sha256>;

/// Why redaction cannot be set up, or cannot redact a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedactionError {
    #[error(
        "the redaction secret is {0} bytes; at least {MIN_SECRET_BYTES} are needed (e.g. 32 random bytes)"
    )]
    ShortSecret(usize),
    #[error(
        "the number {0:?} at a redacted path is beyond DynamoDB's range, so it has no canonical form to hash"
    )]
    NumberOutOfRange(String),
}

/// A deployment's redaction: its patterns and its secret.
#[derive(Clone)]
pub struct Redactor {
    patterns: Vec<Pattern>,
    mac: HmacSha256,
    key_id: String,
}

// The secret must never reach a log line or a panic message.
impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("patterns", &self.patterns)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl Redactor {
    /// A redactor for `patterns` under `secret` (the raw secret bytes).
    pub fn new(patterns: Vec<Pattern>, secret: &[u8]) -> Result<Self, RedactionError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(RedactionError::ShortSecret(secret.len()));
        }
        Ok(Self {
            patterns,
            mac: HmacSha256::new_from_slice(secret).expect("HMAC takes a key of any length"),
            key_id: key_id(secret),
        })
    }

    /// The patterns, as configured.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// The first 16 hex digits of SHA-256 of the secret: names the secret without revealing it.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Whether the value at `path` is withheld.
    pub fn is_redacted(&self, path: &[Step<'_>]) -> bool {
        self.patterns.iter().any(|p| p.matches(path))
    }

    /// Whether any pattern names a top-level attribute, i.e. could redact a key attribute.
    pub fn redacts_attribute(&self, name: &str) -> bool {
        self.is_redacted(&[Step::Key(name)])
    }

    /// HMAC-SHA-256 of `bytes` under the secret.
    pub fn mac(&self, bytes: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(bytes);
        mac.finalize().into_bytes().into()
    }

    /// The token for `value`.
    pub fn token(&self, value: &AttributeValue<'_>) -> Result<Token, RedactionError> {
        let bytes = canonical_bytes(value)?;
        Ok(Token {
            type_tag: value.type_tag(),
            hmac: base64url(&self.mac(&bytes)),
        })
    }

    /// `item` with every value at a redacted path replaced by its token. What is not redacted
    /// is kept as it was, borrowed from the event where it was: copying every string of every
    /// image made five patterns cost more than the whole transform without them, and owned
    /// copies lose the writer's fast path for text borrowed from the event.
    pub fn redact_item<'a>(&self, item: &Item<'a>) -> Result<Item<'a>, RedactionError> {
        let mut path = Vec::new();
        self.redact_map(item, &mut path)
    }

    fn redact_map<'a, 'p>(
        &self,
        item: &'p Item<'a>,
        path: &mut Vec<Step<'p>>,
    ) -> Result<Item<'a>, RedactionError> {
        let mut entries = Vec::with_capacity(item.len());
        for (name, value) in item.entries() {
            path.push(Step::Key(name));
            let value = self.redact_value(value, path);
            path.pop();
            entries.push((name.clone(), value?));
        }
        Ok(Item::from_sorted_entries(entries))
    }

    fn redact_value<'a, 'p>(
        &self,
        value: &'p AttributeValue<'a>,
        path: &mut Vec<Step<'p>>,
    ) -> Result<AttributeValue<'a>, RedactionError> {
        if self.is_redacted(path) {
            return self.token(value).map(AttributeValue::Redacted);
        }
        Ok(match value {
            AttributeValue::M(map) => AttributeValue::M(self.redact_map(map, path)?),
            AttributeValue::L(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    path.push(Step::Index(index));
                    let item = self.redact_value(item, path);
                    path.pop();
                    out.push(item?);
                }
                AttributeValue::L(out)
            }
            other => other.clone(),
        })
    }

    /// The keyed form of bytes that must not appear in clear (an error document's record,
    /// an object key): base64url HMAC-SHA-256.
    pub fn mac_text(&self, bytes: &[u8]) -> String {
        base64url(&self.mac(bytes))
    }
}

/// The first 16 hex digits of SHA-256 of `secret`.
pub fn key_id(secret: &[u8]) -> String {
    hex::encode(Sha256::digest(secret))[..16].to_owned()
}

fn base64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The canonical bytes of a value: compact typed JSON, keys in byte order, numbers in plain
/// decimal, binary as padded base64, set members de-duplicated and ordered (see the contract).
pub fn canonical_bytes(value: &AttributeValue<'_>) -> Result<Vec<u8>, RedactionError> {
    let mut out = Vec::new();
    write_value(&mut out, value)?;
    Ok(out)
}

fn write_value(out: &mut Vec<u8>, value: &AttributeValue<'_>) -> Result<(), RedactionError> {
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(value.type_tag().as_bytes());
    out.extend_from_slice(b"\":");
    match value {
        AttributeValue::S(text) => write_string(out, text),
        AttributeValue::N(text) => write_number(out, text)?,
        AttributeValue::B(binary) => write_binary(out, binary),
        AttributeValue::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        AttributeValue::Null => out.extend_from_slice(b"true"),
        AttributeValue::Ss(members) => {
            let mut members: Vec<&str> = members.iter().map(|m| &**m).collect();
            members.sort_unstable();
            members.dedup();
            write_array(out, &members, |out, m| {
                write_string(out, m);
                Ok(())
            })?;
        }
        AttributeValue::Ns(members) => {
            let mut members = members
                .iter()
                .map(|text| Ok((order_key(text)?, plain_decimal(text)?)))
                .collect::<Result<Vec<_>, RedactionError>>()?;
            members.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            members.dedup_by(|a, b| a.1 == b.1);
            write_array(out, &members, |out, (_, plain)| {
                out.push(b'"');
                out.extend_from_slice(plain.as_bytes());
                out.push(b'"');
                Ok(())
            })?;
        }
        AttributeValue::Bs(members) => {
            let mut members: Vec<&[u8]> = members.iter().map(|b| &b.bytes[..]).collect();
            members.sort_unstable();
            members.dedup();
            write_array(out, &members, |out, bytes| {
                write_base64(out, bytes);
                Ok(())
            })?;
        }
        AttributeValue::L(items) => write_array(out, items, write_value)?,
        AttributeValue::M(map) => write_map(out, map)?,
        // Already withheld: its token stands for it.
        AttributeValue::Redacted(token) => {
            out.extend_from_slice(b"{\"type\":");
            write_string(out, token.type_tag);
            out.extend_from_slice(b",\"hmac\":");
            write_string(out, &token.hmac);
            out.push(b'}');
        }
    }
    out.push(b'}');
    Ok(())
}

fn write_array<T>(
    out: &mut Vec<u8>,
    items: &[T],
    each: impl Fn(&mut Vec<u8>, &T) -> Result<(), RedactionError>,
) -> Result<(), RedactionError> {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        each(out, item)?;
    }
    out.push(b']');
    Ok(())
}

fn write_map(out: &mut Vec<u8>, map: &Item<'_>) -> Result<(), RedactionError> {
    // Items keep their attributes in ascending byte order of name already.
    out.push(b'{');
    for (i, (name, value)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(out, name);
        out.push(b':');
        write_value(out, value)?;
    }
    out.push(b'}');
    Ok(())
}

/// A JSON string escaping only `"`, `\` and characters below U+0020 (as `\u00xx`).
fn write_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    for &byte in text.as_bytes() {
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x00..=0x1f => out.extend_from_slice(format!("\\u{byte:04x}").as_bytes()),
            _ => out.push(byte),
        }
    }
    out.push(b'"');
}

fn write_number(out: &mut Vec<u8>, text: &str) -> Result<(), RedactionError> {
    out.push(b'"');
    out.extend_from_slice(plain_decimal(text)?.as_bytes());
    out.push(b'"');
    Ok(())
}

fn write_binary(out: &mut Vec<u8>, binary: &Binary<'_>) {
    write_base64(out, &binary.bytes);
}

fn write_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    out.extend_from_slice(
        base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .as_bytes(),
    );
    out.push(b'"');
}

/// DynamoDB's range: a non-zero magnitude in [1E-130, 9.99…E+125], i.e. `0.d… × 10^e`
/// with e from -129 to 126.
const EXPONENTS: std::ops::RangeInclusive<i128> = -129..=126;

/// The number in plain decimal: no exponent, no leading zeros but the one before a `.`, no
/// trailing fractional zeros, no `.` when whole, `0` for zero, `-` only when negative.
pub fn plain_decimal(text: &str) -> Result<String, RedactionError> {
    let out_of_range = || RedactionError::NumberOutOfRange(text.to_owned());
    let canonical = number::canonical(text).ok_or_else(out_of_range)?;
    let digits = std::str::from_utf8(canonical.digits()).expect("digits are ASCII");
    if digits.is_empty() {
        return Ok("0".to_owned());
    }
    let exponent = canonical.exponent();
    if !EXPONENTS.contains(&exponent) {
        return Err(out_of_range());
    }
    let sign = if canonical.is_negative() { "-" } else { "" };
    let len = digits.len() as i128;
    Ok(if exponent >= len {
        format!("{sign}{digits}{}", "0".repeat((exponent - len) as usize))
    } else if exponent > 0 {
        let (whole, fraction) = digits.split_at(exponent as usize);
        format!("{sign}{whole}.{fraction}")
    } else {
        format!("{sign}0.{}{digits}", "0".repeat((-exponent) as usize))
    })
}

/// A key that orders numbers by value: the canonical form, with negatives reversed.
fn order_key(text: &str) -> Result<(i8, i128, Vec<u8>), RedactionError> {
    let canonical =
        number::canonical(text).ok_or_else(|| RedactionError::NumberOutOfRange(text.to_owned()))?;
    let digits = canonical.digits().to_vec();
    Ok(match (digits.is_empty(), canonical.is_negative()) {
        (true, _) => (0, 0, Vec::new()),
        (false, false) => (1, canonical.exponent(), digits),
        // Larger magnitudes sort first among negatives: negate the exponent and invert digits.
        (false, true) => (
            -1,
            -canonical.exponent(),
            digits
                .iter()
                .map(|d| b'9' - (d - b'0'))
                .chain([b'9' + 1])
                .collect(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize as _;

    fn value(json: &str) -> AttributeValue<'static> {
        let json: serde_json::Value = serde_json::from_str(json).unwrap();
        AttributeValue::deserialize(json).unwrap()
    }

    fn canonical(json: &str) -> String {
        String::from_utf8(canonical_bytes(&value(json)).unwrap()).unwrap()
    }

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    /// RFC 4231 test case 2: the HMAC is the standard one.
    #[test]
    fn hmac_is_rfc_4231() {
        let mut mac = HmacSha256::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    /// Numbers are written in plain decimal, whatever their spelling.
    #[test]
    fn numbers_are_plain_decimal() {
        for (text, plain) in [
            ("1.50", "1.5"),
            ("15E-1", "1.5"),
            ("1e3", "1000"),
            ("-0.0", "0"),
            ("0", "0"),
            ("007", "7"),
            (".5", "0.5"),
            ("-12.340e-3", "-0.01234"),
            ("1E125", &format!("1{}", "0".repeat(125))),
            ("1E-130", &format!("0.{}1", "0".repeat(129))),
        ] {
            assert_eq!(plain_decimal(text).unwrap(), plain, "{text}");
        }
        for text in ["1E126", "1E-131", "1e9223372036854775807"] {
            assert!(plain_decimal(text).is_err(), "{text}");
        }
    }

    /// The canonical bytes: typed compact JSON, minimal escapes, sorted de-duplicated sets.
    #[test]
    fn canonical_bytes_follow_the_contract() {
        assert_eq!(
            canonical(r#"{"S":"a\"b\\c\n é"}"#),
            "{\"S\":\"a\\\"b\\\\c\\u000a é\"}"
        );
        assert_eq!(canonical(r#"{"N":"1.50"}"#), r#"{"N":"1.5"}"#);
        assert_eq!(canonical(r#"{"B":"AAE="}"#), r#"{"B":"AAE="}"#);
        assert_eq!(
            canonical(r#"{"NS":["10","-2","1.0","1","-10"]}"#),
            r#"{"NS":["-10","-2","1","10"]}"#
        );
        assert_eq!(canonical(r#"{"SS":["b","a","b"]}"#), r#"{"SS":["a","b"]}"#);
        assert_eq!(
            canonical(r#"{"BS":["AQ==","AA==","AQ=="]}"#),
            r#"{"BS":["AA==","AQ=="]}"#
        );
        assert_eq!(
            canonical(r#"{"M":{"z":{"BOOL":true},"a":{"NULL":true},"l":{"L":[{"N":"2.0"}]}}}"#),
            r#"{"M":{"a":{"NULL":true},"l":{"L":[{"N":"2"}]},"z":{"BOOL":true}}}"#
        );
    }

    /// Equal values by rule 1 give one token; different values or types give different ones.
    #[test]
    fn equal_values_give_equal_tokens() {
        let redactor = Redactor::new(Vec::new(), SECRET).unwrap();
        let token = |json: &str| redactor.token(&value(json)).unwrap();
        assert_eq!(token(r#"{"N":"1.50"}"#), token(r#"{"N":"1.5"}"#));
        assert_eq!(token(r#"{"NS":["1","2"]}"#), token(r#"{"NS":["2.0","1"]}"#));
        assert_ne!(token(r#"{"S":"1.5"}"#), token(r#"{"N":"1.5"}"#));
        assert_ne!(token(r#"{"S":"a"}"#), token(r#"{"S":"b"}"#));
        assert_eq!(token(r#"{"S":"a"}"#).hmac.len(), 43);
        assert_eq!(token(r#"{"S":"a"}"#).type_tag, "S");
    }

    /// The test vectors of docs/audit-document.md: value → canonical bytes → token, under
    /// the secret "0123456789abcdef0123456789abcdef", so another implementation can check itself.
    #[test]
    fn test_vectors() {
        let redactor = Redactor::new(Vec::new(), SECRET).unwrap();
        assert_eq!(redactor.key_id(), "3eb1bd439947eb76");
        for (json, bytes, hmac) in VECTORS {
            assert_eq!(canonical(json), *bytes, "{json}");
            assert_eq!(redactor.token(&value(json)).unwrap().hmac, *hmac, "{json}");
        }
    }

    /// The vectors the docs list (value, canonical bytes, token); computed independently
    /// with Python's hmac module.
    const VECTORS: &[(&str, &str, &str)] = &[
        (
            r#"{"S":"alice@example.com"}"#,
            r#"{"S":"alice@example.com"}"#,
            "_2HcW81Vs9bY-XVjiBoKRotYED0o75YMa2nV6lbsG-8",
        ),
        (
            r#"{"N":"1.50"}"#,
            r#"{"N":"1.5"}"#,
            "WXPt4QYXEoiJbHQwEiebgj9fhSJ4MAFTxEid64ORukw",
        ),
        (
            r#"{"N":"-12.340e-3"}"#,
            r#"{"N":"-0.01234"}"#,
            "f4isMucwP2k7wpILEDB39ox5tEFDXVgP8alhd1dXJgE",
        ),
        (
            r#"{"B":"AAE="}"#,
            r#"{"B":"AAE="}"#,
            "ZGk31EFm1a_P7mpDh57rcl-rRjNP1RoqwKR4HYAh-Mk",
        ),
        (
            r#"{"SS":["b","a","b"]}"#,
            r#"{"SS":["a","b"]}"#,
            "1XHzXKgOXTF0i7qrvdbMVgy5-AITc8Pcor1k6VQZ82k",
        ),
        (
            r#"{"NS":["10","1.0","-2"]}"#,
            r#"{"NS":["-2","1","10"]}"#,
            "PNd3eTQevFvb_B8ThJkQi_LevfAlvajtFo9SvubM1vs",
        ),
        (
            r#"{"M":{"number":{"S":"4111 1111 1111 1111"},"exp":{"S":"12/29"}}}"#,
            r#"{"M":{"exp":{"S":"12/29"},"number":{"S":"4111 1111 1111 1111"}}}"#,
            "bGXy8V1kXVntSf-YfPIEt9nuV-jyJH49tXHkoIhYvWQ",
        ),
        (
            r#"{"S":"line\nbreak \"q\""}"#,
            r#"{"S":"line\u000abreak \"q\""}"#,
            "0F4dzYTeKqKHxJ9DD-YBLdiNY0fLljOF_XfaQ-TXLrI",
        ),
    ];

    /// A secret shorter than 32 bytes is refused, and the secret never shows in Debug.
    #[test]
    fn short_secrets_are_refused_and_secrets_never_print() {
        assert_eq!(
            Redactor::new(Vec::new(), b"short").unwrap_err(),
            RedactionError::ShortSecret(5)
        );
        let shown = format!("{:?}", Redactor::new(Vec::new(), SECRET).unwrap());
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
    }
}
