//! Exact handling of DynamoDB number text: validation, and equality by value
//! (`"1.50"` equals `"1.5"` and `"15E-1"`), never through floating point, because DynamoDB
//! numbers carry up to 38 significant digits and a float keeps about 16.
//!
//! This module performs no IO.

/// A number in canonical form: `±0.d₁d₂…dₙ × 10^exponent`, with no leading or trailing zero
/// digit. Zero is the empty digit string, positive, exponent 0. Two numbers are equal exactly
/// when their canonical forms are equal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Canonical {
    negative: bool,
    digits: Vec<u8>,
    exponent: i64,
}

impl Canonical {
    /// The significant decimal digits (ASCII), without leading or trailing zeros.
    pub fn digits(&self) -> &[u8] {
        &self.digits
    }

    /// The power of ten that multiplies `0.digits`.
    pub fn exponent(&self) -> i64 {
        self.exponent
    }

    /// Whether the number is below zero.
    pub fn is_negative(&self) -> bool {
        self.negative
    }
}

/// Parses number text of the form `-?(d+(.d*)?|.d+)([eE][+-]?d+)?` into canonical form.
/// Returns `None` for anything else. Absurd exponents saturate instead of overflowing.
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
    let mut exponent: i64 = 0;
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        i += 1;
        let exp_negative = match bytes.get(i) {
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
        let exp_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            exponent = exponent
                .saturating_mul(10)
                .saturating_add(i64::from(bytes[i] - b'0'));
            i += 1;
        }
        if i == exp_start {
            return None;
        }
        if exp_negative {
            exponent = -exponent;
        }
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
    let exponent = exponent
        .saturating_add(int_digits.len() as i64)
        .saturating_sub(leading as i64);
    Some(Canonical {
        negative,
        digits,
        exponent,
    })
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
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let (next, exp_len) = digits(i);
        if exp_len == 0 {
            return false;
        }
        i = next;
    }
    i == bytes.len()
}

/// The spec's number equality: equal by exact decimal value. Invalid text is equal only to
/// the identical text (the parser never lets such text into a value).
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

    // Huge exponents saturate instead of panicking on overflow.
    #[test]
    fn absurd_exponents_do_not_overflow() {
        assert!(is_valid("1e99999999999999999999999999"));
        assert!(!num_eq(
            "1e99999999999999999999999999",
            "2e99999999999999999999999999"
        ));
    }
}
