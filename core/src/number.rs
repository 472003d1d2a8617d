//! Exact handling of DynamoDB number text: validation, and equality by value
//! (`"1.50"` equals `"1.5"` and `"15E-1"`), never through floating point, because DynamoDB
//! numbers carry up to 38 significant digits and a float keeps about 16.
//!
//! This module performs no IO.

/// A number in canonical form: `±0.d₁d₂…dₙ × 10^exponent`, with no leading or trailing zero
/// digit. Zero is the empty digit string, positive, exponent 0. Two numbers are equal exactly
/// when their canonical forms are equal.
///
/// The exponent is exact: the written exponent may be anything a signed 64-bit integer holds
/// (see [`EXPONENT_RANGE`]), and moving the point past the digits cannot overflow an `i128`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Canonical {
    negative: bool,
    digits: Vec<u8>,
    exponent: i128,
}

/// The written exponents (`e…`) number text may carry: those of a signed 64-bit integer.
/// Text with an exponent outside is not a number this crate can compare exactly, so it is
/// invalid (its record unreadable) rather than silently equal to another number.
pub const EXPONENT_RANGE: std::ops::RangeInclusive<i128> = (i64::MIN as i128)..=(i64::MAX as i128);

impl Canonical {
    /// The significant decimal digits (ASCII), without leading or trailing zeros.
    pub fn digits(&self) -> &[u8] {
        &self.digits
    }

    /// The power of ten that multiplies `0.digits`.
    pub fn exponent(&self) -> i128 {
        self.exponent
    }

    /// Whether the number is below zero.
    pub fn is_negative(&self) -> bool {
        self.negative
    }
}

/// Parses number text of the form `-?(d+(.d*)?|.d+)([eE][+-]?d+)?` into canonical form.
/// Returns `None` for anything else, and for a written exponent outside [`EXPONENT_RANGE`].
pub fn canonical(text: &str) -> Option<Canonical> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let negative = bytes.first() == Some(&b'-');
    if negative {
        i = 1;
    }
    let int_start = i;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = &bytes[int_start..i];
    let mut frac_digits: &[u8] = &[];
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = &bytes[frac_start..i];
    }
    if int_digits.is_empty() && frac_digits.is_empty() {
        return None;
    }
    let mut exponent: i128 = 0;
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        let (end, written) = exponent_text(bytes, i + 1)?;
        i = end;
        exponent = written;
    }
    if i != bytes.len() {
        return None;
    }

    let all = int_digits.iter().chain(frac_digits);
    let leading = all.clone().take_while(|&&d| d == b'0').count();
    let total = int_digits.len() + frac_digits.len();
    if leading == total {
        return Some(Canonical {
            negative: false,
            digits: Vec::new(),
            exponent: 0,
        });
    }
    let trailing = all.clone().rev().take_while(|&&d| d == b'0').count();
    let digits: Vec<u8> = all
        .skip(leading)
        .take(total - leading - trailing)
        .copied()
        .collect();
    // 0.(all digits) × 10^int_len is the mantissa's value; every leading zero dropped moves the
    // point one place right.
    // Exact: |written exponent| < 2^63 and the text is shorter than 2^63 bytes.
    let exponent = exponent + int_digits.len() as i128 - leading as i128;
    Some(Canonical {
        negative,
        digits,
        exponent,
    })
}

/// Reads the exponent after `e`/`E` from `start`: its end and value, or `None` when it has no
/// digit or lies outside [`EXPONENT_RANGE`]. Leading zeros are allowed and cost nothing.
fn exponent_text(bytes: &[u8], start: usize) -> Option<(usize, i128)> {
    let mut i = start;
    let negative = match bytes.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits_start = i;
    let mut magnitude: i128 = 0;
    while let Some(d) = bytes.get(i).filter(|b| b.is_ascii_digit()) {
        magnitude = magnitude * 10 + i128::from(d - b'0');
        if magnitude > 1 << 63 {
            return None;
        }
        i += 1;
    }
    let value = if negative { -magnitude } else { magnitude };
    (i > digits_start && EXPONENT_RANGE.contains(&value)).then_some((i, value))
}

/// Whether `text` is valid DynamoDB number text. Checked on every number read, so it
/// allocates nothing (unlike [`canonical`]).
pub fn is_valid(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |mut i: usize| {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        (i, i - start)
    };
    let mut i = usize::from(bytes.first() == Some(&b'-'));
    let (next, int_len) = digits(i);
    i = next;
    let mut frac_len = 0;
    if bytes.get(i) == Some(&b'.') {
        (i, frac_len) = digits(i + 1);
    }
    if int_len + frac_len == 0 {
        return false;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        match exponent_text(bytes, i + 1) {
            Some((end, _)) => i = end,
            None => return false,
        }
    }
    i == bytes.len()
}

/// The spec's number equality: equal by exact decimal value, whatever the exponent. Invalid
/// text (which the readers never let into a value) is equal only to the identical text.
pub fn num_eq(a: &str, b: &str) -> bool {
    a == b
        || match (canonical(a), canonical(b)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Rule 1: numbers compare by value whatever their spelling.
    #[test]
    fn equal_values_in_different_spellings_are_equal() {
        for (a, b) in [
            ("1.50", "1.5"),
            ("1.5", "15E-1"),
            ("15e-1", "0.15E1"),
            ("0", "-0.000"),
            ("100", "1E2"),
            (".5", "0.50"),
            ("5.", "5"),
            ("-12.340", "-1234e-2"),
        ] {
            assert!(num_eq(a, b), "{a} should equal {b}");
        }
    }

    // Numbers that differ only past the 17th digit must still differ: no float rounding.
    #[test]
    fn thirty_eight_digit_numbers_keep_every_digit() {
        let a = "12345678901234567890123456789012345678";
        let b = "12345678901234567890123456789012345679";
        assert!(!num_eq(a, b));
        assert!(num_eq(a, "1.2345678901234567890123456789012345678E37"));
        assert!(!num_eq("0.1", "0.10000000000000001"));
    }

    // Sign and magnitude both matter.
    #[test]
    fn different_values_are_unequal() {
        for (a, b) in [("1", "-1"), ("1", "10"), ("0.1", "1"), ("1e2", "1e3")] {
            assert!(!num_eq(a, b), "{a} should differ from {b}");
        }
    }

    // The allocation-free check and the parser accept exactly the same text.
    #[test]
    fn validity_check_agrees_with_the_parser() {
        for text in [
            "", "-", ".", "-.", "1e", "1e+", "+1", "1.2.3", "1 ", "e5", "0", "-0", "1.", ".1",
            "1e5", "1E-5", "-1.5e+10", "-.5e-0",
        ] {
            assert_eq!(is_valid(text), canonical(text).is_some(), "{text:?}");
        }
    }

    // Only the schema's number grammar is accepted.
    #[test]
    fn rejects_text_outside_the_number_grammar() {
        for bad in [
            "", "-", ".", "1e", "1e+", "+1", "1.2.3", "0x10", "1 ", " 1", "NaN", "1_000", "e5",
        ] {
            assert!(!is_valid(bad), "{bad:?} should be invalid");
        }
        for good in ["0", "-0", "1.", ".1", "1e5", "1E-5", "-1.5e+10", "007"] {
            assert!(is_valid(good), "{good:?} should be valid");
        }
    }

    // Numbers that differ only at the edge of the exponent's range are never equal (the
    // exponent used to saturate, and these compared equal).
    #[test]
    fn extreme_exponents_compare_exactly() {
        for (a, b) in [
            ("1e9223372036854775806", "1e9223372036854775807"),
            ("10e9223372036854775807", "1e9223372036854775807"),
            ("1e-9223372036854775808", "1e-9223372036854775807"),
            ("0.01e-9223372036854775808", "0.1e-9223372036854775808"),
        ] {
            assert!(is_valid(a) && is_valid(b), "{a} {b}");
            assert!(!num_eq(a, b), "{a} should differ from {b}");
        }
        assert!(num_eq("10e9223372036854775806", "1e9223372036854775807"));
        assert!(num_eq("0.1e-9223372036854775807", "1e-9223372036854775808"));
        assert!(num_eq("1e+0000000000000000000000000007", "1e7"));
    }

    // An exponent a 64-bit integer cannot hold makes the text invalid: never equal, never
    // saturated.
    #[test]
    fn exponents_beyond_64_bits_are_invalid() {
        for text in [
            "1e9223372036854775808",
            "1e-9223372036854775809",
            "1e99999999999999999999999999",
            "2e99999999999999999999999999",
        ] {
            assert!(!is_valid(text), "{text}");
            assert!(canonical(text).is_none(), "{text}");
        }
        assert!(!num_eq(
            "1e99999999999999999999999999",
            "2e99999999999999999999999999"
        ));
    }
}
