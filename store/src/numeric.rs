//! Number parsing and printing with Redis's rules, for INCR-family commands
//! and OBJECT ENCODING.

/// Longest text Redis will read as an integer (`LONG_STR_SIZE - 1`).
const MAX_INT_LEN: usize = 20;

/// Longest text Redis will read as a float (`MAX_LONG_DOUBLE_CHARS - 1`).
const MAX_FLOAT_LEN: usize = 5 * 1024 - 1;

/// Parses a canonical signed 64-bit integer exactly as Redis's `string2ll`:
/// no sign other than a leading `-`, no whitespace, no leading zeros, no
/// `-0`, at most 20 bytes.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > MAX_INT_LEN {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else {
        i64::try_from(v).ok()
    }
}

/// Parses a float as Redis's `string2ld` accepts it: what `strtold` reads,
/// with nothing before or after, not NaN, and not out of range (a literal
/// `inf` is accepted; an overflowing `1e999` or underflowing `1e-999` is not).
/// Hexadecimal floats, which `strtold` would take, are refused: Rust's parser
/// has none and no client sends them.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s.len() > MAX_FLOAT_LEN {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let v: f64 = text.parse().ok()?;
    if v.is_nan() {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    if v.is_infinite() && !lower.contains("inf") {
        return None; // ERANGE overflow
    }
    if v == 0.0 {
        let mantissa = lower.split('e').next().unwrap_or("");
        if mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
            return None; // ERANGE underflow
        }
    }
    Some(v)
}

/// Prints a float the way INCRBYFLOAT stores it: plain decimal, never an
/// exponent, no trailing zeros or dot, `-0` as `0`.
///
/// Redis prints its `long double` with `%.17Lf` and trims zeros. We hold an
/// `f64`, whose `%.17f` would expose binary noise ("10.59999999999999964"
/// for 10.5 + 0.1); the shortest round-trip form that Rust's `{}` prints is
/// what Redis's extra precision shows the user ("10.6"). Like `%.17Lf`, at
/// most 17 fractional digits are kept.
pub(crate) fn format_f64(v: f64) -> String {
    let mut s = format!("{v}");
    if let Some(dot) = s.find('.')
        && s.len() - dot - 1 > 17
    {
        s = format!("{v:.17}");
        let trimmed = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(trimmed);
    }
    if s == "-0" {
        s = "0".to_owned();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_follow_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"1"), Some(1));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"9223372036854775808",
            b"-9223372036854775809",
            b" 1",
            b"1 ",
            b"  1",
            b"+1",
            b"01",
            b"-0",
            b"-",
            b"1a",
            b"1.0",
            b"00000000000000000001",
            b"123456789012345678901",
            b"18446744073709551616",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn floats_follow_string2ld() {
        assert_eq!(parse_f64(b"10.50"), Some(10.5));
        assert_eq!(parse_f64(b"5.0e3"), Some(5000.0));
        assert_eq!(parse_f64(b"-.5"), Some(-0.5));
        assert_eq!(parse_f64(b"+3"), Some(3.0));
        assert_eq!(parse_f64(b"0"), Some(0.0));
        assert_eq!(parse_f64(b"0e10"), Some(0.0));
        assert_eq!(parse_f64(b"inf"), Some(f64::INFINITY));
        for bad in [
            &b""[..],
            b" 1",
            b"1 ",
            b"abc",
            b"nan",
            b"NaN",
            b"1e999",
            b"1e-999",
            b"1.2.3",
        ] {
            assert_eq!(parse_f64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse_f64(&vec![b'1'; 6000]), None);
    }

    #[test]
    fn floats_print_like_incrbyfloat() {
        // Examples from the INCRBYFLOAT documentation.
        assert_eq!(format_f64(10.5 + 0.1), "10.6");
        assert_eq!(format_f64(5.0e3 + 2.0e2), "5200");
        assert_eq!(format_f64(3.0e3), "3000");
        assert_eq!(format_f64(-0.0), "0");
        assert_eq!(format_f64(1.5), "1.5");
        assert_eq!(format_f64(-2.25), "-2.25");
        assert_eq!(format_f64(1e20), "100000000000000000000");
        // %.17Lf cuts below 1e-17.
        assert_eq!(format_f64(1e-20), "0");
        assert_eq!(format_f64(-1e-20), "0");
        assert_eq!(format_f64(1.5e-10), "0.00000000015");
    }
}
