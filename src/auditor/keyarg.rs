//! The `--key` argument of `ddb-audit history` / `replay`: an item's primary key, typed.
//!
//! Two spellings are accepted, and both give the key as typed DynamoDB JSON:
//! - typed JSON, exactly as DynamoDB writes a key: `{"pk":{"S":"ORDER#1"},"sk":{"N":"7"}}`;
//! - a shorthand for the shell: `pk=ORDER#1,sk:N=7` (see [`SHORTHAND_HELP`]).
//!
//! This module performs no IO and knows nothing of S3 or of the object key layout.

use base64::Engine as _;
use serde::Deserialize as _;
use serde_json::{Map, Value};

use crate::value::Item;

/// The help text for `--key`, shown by `ddb-audit history --help` and `replay --help`.
pub const SHORTHAND_HELP: &str = "\
The item's primary key. Either typed JSON, as DynamoDB writes it:
    --key '{\"pk\":{\"S\":\"ORDER#1\"},\"sk\":{\"N\":\"7\"}}'
or the shorthand NAME[:TYPE]=VALUE, comma-separated:
    --key 'pk=ORDER#1,sk:N=7'
TYPE is S (string, the default), N (number, kept as written) or B (binary, given as base64).
A backslash escapes the next character, so a name or value may contain ',' '=' ':' or '\\'
as '\\,' '\\=' '\\:' '\\\\' (e.g. pk=a\\,b is the string \"a,b\").";

/// Why a `--key` argument was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyArgError {
    #[error("the key is empty")]
    Empty,
    #[error("typed JSON key is not valid JSON: {0}")]
    Json(String),
    #[error("typed JSON key must be an object of attributes, e.g. {{\"pk\":{{\"S\":\"x\"}}}}")]
    NotAnObject,
    #[error(
        "attribute {name:?}: a key attribute must be {{\"S\": ...}}, {{\"N\": ...}} or {{\"B\": ...}} with a string value"
    )]
    BadTypedValue { name: String },
    #[error("{part:?} has no '=' (expected NAME[:TYPE]=VALUE)")]
    MissingEquals { part: String },
    #[error("an attribute name is empty in {part:?}")]
    EmptyName { part: String },
    #[error("attribute {name:?}: unknown type {kind:?} (S, N or B)")]
    UnknownType { name: String, kind: String },
    #[error("attribute {name:?}: value is empty (DynamoDB keys cannot be empty)")]
    EmptyValue { name: String },
    #[error("attribute {name:?}: {value:?} is not a number")]
    BadNumber { name: String, value: String },
    #[error("attribute {name:?}: {value:?} is not base64")]
    BadBase64 { name: String, value: String },
    #[error("attribute {name:?} is given twice")]
    Duplicate { name: String },
    #[error("the key ends with a lone backslash")]
    TrailingBackslash,
    #[error("a key has one or two attributes (partition key and optional sort key), not {0}")]
    TooManyAttributes(usize),
}

/// Parses `--key` into a typed key.
pub fn parse(text: &str) -> Result<Item<'static>, KeyArgError> {
    let typed = parse_map(text)?;
    // An owned `Value` deserializes into owned values, hence `Item<'static>`.
    Item::<'static>::deserialize(Value::Object(typed)).map_err(|e| KeyArgError::Json(e.to_string()))
}

/// Parses `--key` into a JSON object of `{"S"|"N"|"B": text}` values.
fn parse_map(text: &str) -> Result<Map<String, Value>, KeyArgError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(KeyArgError::Empty);
    }
    let key = if trimmed.starts_with('{') {
        parse_typed(trimmed)?
    } else {
        parse_shorthand(text)?
    };
    if key.len() > 2 {
        return Err(KeyArgError::TooManyAttributes(key.len()));
    }
    Ok(key)
}

fn parse_typed(text: &str) -> Result<Map<String, Value>, KeyArgError> {
    let value: Value = serde_json::from_str(text).map_err(|e| KeyArgError::Json(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(KeyArgError::NotAnObject);
    };
    if map.is_empty() {
        return Err(KeyArgError::Empty);
    }
    for (name, typed) in &map {
        let bad = || KeyArgError::BadTypedValue { name: name.clone() };
        let Value::Object(inner) = typed else {
            return Err(bad());
        };
        let mut fields = inner.iter();
        let (Some((kind, Value::String(s))), None) = (fields.next(), fields.next()) else {
            return Err(bad());
        };
        check_scalar(name, kind, s)?;
    }
    Ok(map)
}

fn parse_shorthand(text: &str) -> Result<Map<String, Value>, KeyArgError> {
    let mut key = Map::new();
    for part in split_unescaped(text, ',')? {
        if part
            .iter()
            .all(|t| matches!(t, Token::Char(c) if c.is_whitespace()))
        {
            continue;
        }
        let shown = render(&part);
        let eq = part
            .iter()
            .position(|t| *t == Token::Sep('='))
            .ok_or_else(|| KeyArgError::MissingEquals {
                part: shown.clone(),
            })?;
        let (lhs, rhs) = (&part[..eq], &part[eq + 1..]);
        // The type suffix is the part after the last unescaped ':'; an escaped one is literal.
        let (name, kind) = match lhs.iter().rposition(|t| *t == Token::Sep(':')) {
            Some(colon) => (render(&lhs[..colon]), render(&lhs[colon + 1..])),
            None => (render(lhs), "S".to_owned()),
        };
        let name = name.trim().to_owned();
        if name.is_empty() {
            return Err(KeyArgError::EmptyName { part: shown });
        }
        let kind = kind.trim().to_ascii_uppercase();
        let value = render(rhs);
        check_scalar(&name, &kind, &value)?;
        if key.contains_key(&name) {
            return Err(KeyArgError::Duplicate { name });
        }
        let mut typed = Map::new();
        typed.insert(kind, Value::String(value));
        key.insert(name, Value::Object(typed));
    }
    if key.is_empty() {
        return Err(KeyArgError::Empty);
    }
    Ok(key)
}

/// Checks one key value of type `kind` (S, N or B) as DynamoDB would.
fn check_scalar(name: &str, kind: &str, value: &str) -> Result<(), KeyArgError> {
    match kind {
        "S" | "N" | "B" if value.is_empty() => Err(KeyArgError::EmptyValue {
            name: name.to_owned(),
        }),
        "S" => Ok(()),
        "N" if is_number(value) => Ok(()),
        "N" => Err(KeyArgError::BadNumber {
            name: name.to_owned(),
            value: value.to_owned(),
        }),
        "B" => base64::engine::general_purpose::STANDARD
            .decode(value)
            .map(|_| ())
            .map_err(|_| KeyArgError::BadBase64 {
                name: name.to_owned(),
                value: value.to_owned(),
            }),
        other => Err(KeyArgError::UnknownType {
            name: name.to_owned(),
            kind: other.to_owned(),
        }),
    }
}

/// The schema's number pattern: `-?(digits[.digits]|.digits)([eE][+-]digits)?`.
fn is_number(text: &str) -> bool {
    let s = text.strip_prefix('-').unwrap_or(text);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = digits(int)
        && frac.is_none_or(digits)
        && (!int.is_empty() || frac.is_some_and(|f| !f.is_empty()));
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

/// A character of the shorthand: literal (escaped or plain) or an unescaped separator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Char(char),
    Sep(char),
}

/// Splits at unescaped `sep`, resolving escapes; `=` and `:` stay marked as separators.
fn split_unescaped(text: &str, sep: char) -> Result<Vec<Vec<Token>>, KeyArgError> {
    let mut parts = vec![Vec::new()];
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        let token = match c {
            '\\' => Token::Char(chars.next().ok_or(KeyArgError::TrailingBackslash)?),
            c if c == sep => {
                parts.push(Vec::new());
                continue;
            }
            '=' | ':' => Token::Sep(c),
            c => Token::Char(c),
        };
        parts
            .last_mut()
            .expect("parts starts non-empty")
            .push(token);
    }
    Ok(parts)
}

/// The literal text of tokens (separators inside a value, e.g. a second '=', are literal).
fn render(tokens: &[Token]) -> String {
    tokens
        .iter()
        .map(|t| match t {
            Token::Char(c) | Token::Sep(c) => *c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(text: &str) -> Value {
        Value::Object(parse_map(text).unwrap())
    }

    // The typed key is the item the function reads: values typed, numbers kept as written.
    #[test]
    fn parse_gives_the_typed_item() {
        let item = parse("pk=ORDER#1,sk:N=7.50").unwrap();
        assert_eq!(
            serde_json::to_value(&item).unwrap(),
            json!({"pk":{"S":"ORDER#1"},"sk":{"N":"7.50"}})
        );
    }

    // The shorthand's default type is S and `:N` makes a number, kept as written.
    #[test]
    fn shorthand_defaults_to_string_and_types_numbers() {
        assert_eq!(
            key("pk=ORDER#1,sk:N=7.50"),
            json!({"pk":{"S":"ORDER#1"},"sk":{"N":"7.50"}})
        );
    }

    // Binary keys are given as base64 and stay base64.
    #[test]
    fn shorthand_binary_is_base64() {
        assert_eq!(key("id:B=AAEC/w=="), json!({"id":{"B":"AAEC/w=="}}));
        assert!(matches!(
            parse_map("id:B=not base64!"),
            Err(KeyArgError::BadBase64 { .. })
        ));
    }

    // Escaped separators are literal, so any string key can be written.
    #[test]
    fn shorthand_escapes_separators() {
        assert_eq!(key(r"pk=a\,b\=c\\d\:e"), json!({"pk":{"S":"a,b=c\\d:e"}}));
        assert_eq!(key(r"a\:N=1"), json!({"a:N":{"S":"1"}}));
        assert_eq!(key(r"pk\=x=1"), json!({"pk=x":{"S":"1"}}));
    }

    // Only the first '=' separates name from value; later ones belong to the value.
    #[test]
    fn shorthand_value_may_contain_equals_and_colons() {
        assert_eq!(key("pk=a=b:c"), json!({"pk":{"S":"a=b:c"}}));
    }

    // Typed JSON is accepted as DynamoDB writes it.
    #[test]
    fn typed_json_is_accepted() {
        let text = r#"{"pk":{"S":"ORDER#1"},"sk":{"N":"7"}}"#;
        assert_eq!(key(text), json!({"pk":{"S":"ORDER#1"},"sk":{"N":"7"}}));
    }

    // A typed value that is not S/N/B with a string is refused, naming the attribute.
    #[test]
    fn typed_json_rejects_non_key_types() {
        assert_eq!(
            parse_map(r#"{"pk":{"BOOL":true}}"#),
            Err(KeyArgError::BadTypedValue { name: "pk".into() })
        );
        assert_eq!(
            parse_map(r#"{"pk":{"S":"a","N":"1"}}"#),
            Err(KeyArgError::BadTypedValue { name: "pk".into() })
        );
        assert!(matches!(
            parse_map(r#"{"pk":{"X":"a"}}"#),
            Err(KeyArgError::UnknownType { .. })
        ));
        assert!(matches!(parse_map(r#"{"pk":"#), Err(KeyArgError::Json(_))));
    }

    // Numbers are checked like the schema checks them, never converted.
    #[test]
    fn numbers_are_validated() {
        for ok in [
            "0",
            "-1.5",
            ".5",
            "1.",
            "12345678901234567890123456789012345678",
            "1E+10",
            "-2e-3",
        ] {
            assert!(is_number(ok), "{ok}");
        }
        for bad in ["", "-", ".", "1e", "abc", "1.2.3", "+1", "1e+"] {
            assert!(!is_number(bad), "{bad}");
        }
        assert!(matches!(
            parse_map("sk:N=abc"),
            Err(KeyArgError::BadNumber { .. })
        ));
    }

    // Mistakes get a specific error rather than a guess.
    #[test]
    fn malformed_shorthand_is_rejected() {
        assert_eq!(parse_map("  "), Err(KeyArgError::Empty));
        assert_eq!(
            parse_map("pk"),
            Err(KeyArgError::MissingEquals { part: "pk".into() })
        );
        assert_eq!(
            parse_map("=x"),
            Err(KeyArgError::EmptyName { part: "=x".into() })
        );
        assert_eq!(
            parse_map("pk="),
            Err(KeyArgError::EmptyValue { name: "pk".into() })
        );
        assert_eq!(
            parse_map("pk=1,pk=2"),
            Err(KeyArgError::Duplicate { name: "pk".into() })
        );
        assert_eq!(parse_map(r"pk=a\"), Err(KeyArgError::TrailingBackslash));
        assert!(matches!(
            parse_map("pk:X=1"),
            Err(KeyArgError::UnknownType { .. })
        ));
        assert_eq!(
            parse_map("a=1,b=2,c=3"),
            Err(KeyArgError::TooManyAttributes(3))
        );
    }

    // Type letters are case-insensitive and spaces around names are ignored.
    #[test]
    fn shorthand_is_forgiving_about_case_and_spacing() {
        assert_eq!(
            key(" pk = x , sk:n=3"),
            json!({"pk":{"S":" x "},"sk":{"N":"3"}})
        );
    }
}
