//! Reads the most common shape of a number in a CSV of model features — one integer digit, a
//! point and 9 to 18 fraction digits (`0.345584192064786`, `2.2097542696012695`: how pandas and
//! numpy write standardised values) — with a fixed sequence of word operations rather than a
//! loop over the digits.
//!
//! fast-float reads such a cell in ~230 instructions with a few hard-to-predict branches (on the
//! length of the fraction, and its choice between an exact division and Eisel-Lemire, which goes
//! either way for 17-digit mantissas); this takes ~170. Here the fraction's digits are found and
//! converted eight at a time in registers and the value is always computed the Eisel-Lemire way:
//! the decimal mantissa times a 128-bit approximation of `5^-f`, correctly rounded unless the
//! product lies too close to a rounding boundary to tell, which is left to fast-float (as is every
//! other shape). Every value read here is bit for bit what fast-float (and Rust's parser) read.

/// `ONES * b` repeats the byte `b` in all eight bytes of a word.
const ONES: u64 = 0x0101_0101_0101_0101;
const ZEROS: u64 = ONES * b'0' as u64;

/// Bytes of `word` that are not ASCII digits, as their top bit.
#[inline]
fn non_digits(word: u64) -> u64 {
    let x = word ^ ZEROS;
    // A byte is a digit when x < 10: adding 0x76 to its low seven bits then stays below 0x80.
    (((x & (ONES * 0x7f)) + ONES * 0x76) | x) & (ONES * 0x80)
}

/// The value of eight digits (after subtracting `ZEROS`), the first byte the most significant.
#[inline]
fn eight_digits(v: u64) -> u64 {
    let v = (v.wrapping_mul(10).wrapping_add(v >> 8)) & 0x00FF_00FF_00FF_00FF;
    let v = (v.wrapping_mul(100).wrapping_add(v >> 16)) & 0x0000_FFFF_0000_FFFF;
    (v.wrapping_mul(10000).wrapping_add(v >> 32)) & 0xFFFF_FFFF
}

const POW10: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// Fraction lengths read here.
const FRACTION: std::ops::RangeInclusive<usize> = 9..=18;

/// For `f` fraction digits: `floor(2^(127+z) / 5^f) + 1`, where `2^z` is the least power of two
/// not below `5^f` (so the value has its top bit set and exceeds the exact quotient by less
/// than one), and the biased binary exponent that goes with it before normalisation.
const fn power_of_five(f: usize) -> (u128, i32) {
    let mut p: u64 = 1;
    let mut k = 0;
    while k < f {
        p *= 5;
        k += 1;
    }
    let mut z = 0;
    while (1u64 << z) < p {
        z += 1;
    }
    // Long division of 2^(127+z) by p, one bit at a time (p < 2^42, so the remainder fits).
    let top = 127 + z;
    let (mut q, mut rem): (u128, u64) = (0, 0);
    let mut bit = top as i64;
    while bit >= 0 {
        rem = rem * 2 + (bit == top as i64) as u64;
        if rem >= p {
            rem -= p;
            q |= 1u128 << bit;
        }
        bit -= 1;
    }
    (q + 1, 1023 + 63 - z - f as i32)
}

const POWERS: [(u128, i32); 19] = {
    let mut t = [(0, 0); 19];
    let mut f = *FRACTION.start();
    while f <= *FRACTION.end() {
        // Indexing in a constant: an index out of range fails the build, not a run.
        t[f] = power_of_five(f);
        f += 1;
    }
    t
};

/// `w / 10^f` correctly rounded, for `w > 0` and `f` in [`FRACTION`]; `None` when the product
/// is within two units of its last bit of halfway between two doubles (exact ties included).
#[inline]
fn quotient(w: u64, f: usize) -> Option<f64> {
    let &(t, biased) = POWERS.get(f)?;
    let shift = w.leading_zeros();
    let w = u128::from(w << shift);
    // The top 128 bits of the 192-bit product w·t: within one unit of w·2^(127+z)/5^f / 2^64,
    // since t exceeds the exact quotient by less than one and w < 2^64.
    let top = w * (t >> 64) + ((w * (t as u64 as u128)) >> 64);
    // top >= 2^126: its 53 leading bits are the mantissa, the rest decide the rounding.
    let upper = (top >> 127) as u32;
    let low_bits = 74 + upper;
    let mantissa = (top >> low_bits) as u64;
    let rest = top & ((1u128 << low_bits) - 1);
    let half = 1u128 << (low_bits - 1);
    if rest.abs_diff(half) <= 2 {
        return None;
    }
    let mantissa = mantissa + u64::from(rest > half);
    // Rounding up to 2^53 is 2^52 with the next exponent (its mantissa bits all zero).
    let carry = (mantissa >> 53) as i32;
    let exponent = biased + upper as i32 - shift as i32 + carry;
    Some(f64::from_bits(
        ((exponent as u64) << 52) | (mantissa & ((1 << 52) - 1)),
    ))
}

/// The unsigned number at the start of `bytes` and its length, when it has one integer digit, a
/// point and 9 to 18 fraction digits, is not followed by an exponent, and 26 bytes can be read;
/// `None` otherwise (fast-float reads it then).
#[inline]
pub fn fraction(bytes: &[u8]) -> Option<(f64, usize)> {
    let cell = bytes.first_chunk::<26>()?;
    let [digit, point, rest @ ..] = *cell;
    let (a, rest) = rest.split_first_chunk::<8>()?;
    let (b, rest) = rest.split_first_chunk::<8>()?;
    let (c, _) = rest.split_first_chunk::<8>()?;
    let (a, b, c) = (
        u64::from_le_bytes(*a),
        u64::from_le_bytes(*b),
        u64::from_le_bytes(*c),
    );
    // The fraction ends at the first byte that is not a digit: in `b`, or else in `c`.
    let in_b = (non_digits(b).trailing_zeros() / 8) as usize;
    let in_c = (non_digits(c).trailing_zeros() / 8) as usize;
    let digits = 8 + in_b + if in_b == 8 { in_c } else { 0 };
    let next = cell.get(2 + digits).copied().unwrap_or(0) | 0x20;
    let integer = digit.wrapping_sub(b'0');
    // `&` rather than `&&`: one branch for all the checks.
    let plain = (integer <= 9)
        & (point == b'.')
        & (non_digits(a) == 0)
        & FRACTION.contains(&digits)
        & (next != b'e');
    if !plain {
        return None;
    }
    // The digits of `b` (1 to 8) moved to its top, the ones of `c` (up to 2) read one by one.
    let from_b = in_b;
    let from_c = digits - 8 - from_b;
    let high = eight_digits(a.wrapping_sub(ZEROS));
    let middle = eight_digits(b.wrapping_sub(ZEROS) << (8 * (8 - from_b)));
    let (c0, c1) = (
        (c & 0xff).wrapping_sub(u64::from(b'0')),
        ((c >> 8) & 0xff).wrapping_sub(u64::from(b'0')),
    );
    let low = match from_c {
        0 => 0,
        1 => c0,
        _ => c0 * 10 + c1,
    };
    let pow = |k: usize| POW10.get(k).copied().unwrap_or(0);
    let w = ((u64::from(integer) * 100_000_000 + high) * pow(from_b) + middle) * pow(from_c) + low;
    if w == 0 {
        return None;
    }
    quotient(w, digits).map(|x| (x, 2 + digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What fast-float reads at the start of `text`.
    fn fast_float(text: &[u8]) -> Option<(u64, usize)> {
        fast_float2::parse_partial::<f64, _>(text)
            .ok()
            .map(|(x, n)| (x.to_bits(), n))
    }

    /// Checks `cell` (with bytes after it); true when it was read here.
    fn agrees(cell: &str, after: &str) -> bool {
        let text = format!("{cell}{after}{:26}", "");
        let ours = fraction(text.as_bytes()).map(|(x, n)| (x.to_bits(), n));
        if let Some((x, n)) = ours {
            assert_eq!(ours, fast_float(text.as_bytes()), "{cell:?}{after:?}");
            let std: f64 = text.get(..n).unwrap().parse().unwrap();
            assert_eq!(x, std.to_bits(), "{cell:?}");
        }
        ours.is_some()
    }

    #[test]
    fn reads_the_common_shape_and_leaves_the_rest() {
        for cell in [
            "0.345584192064786",
            "2.2097542696012695",
            "9.999999999999999999",
            "1.000000000",
            "0.000000001",
            "5.000000000000000000",
            "0.100000000000000006",
        ] {
            for after in [",", "\n", "\r\n", "x", "."] {
                assert!(agrees(cell, after), "{cell:?}{after:?}");
            }
        }
        for cell in [
            "0.5",             // too few fraction digits
            "0.12345678",      // eight
            "12.3456789012",   // two integer digits
            ".123456789012",   // none
            "1,123456789012",  // no point
            "1.2345678901e5",  // an exponent follows
            "1.2345678901E-5", // an exponent follows
            "0.0000000000",    // zero
            "1.1234567890123456789",
            "inf",
            "nan",
            "",
        ] {
            assert!(!agrees(cell, ","), "{cell:?}");
        }
        // Fewer than 26 bytes to read: left to fast-float.
        assert_eq!(fraction(b"0.345584192064786,"), None);
    }

    #[test]
    fn the_table_holds_five_to_the_minus_f() {
        for f in FRACTION {
            let (t, _) = POWERS[f];
            assert!(t >> 127 == 1, "{f}");
            // t·5^f is just above a power of two: 2^(127+z) < t·5^f <= 2^(127+z) + 5^f.
            let p = 5u128.pow(f as u32);
            let z = 128 - (p - 1).leading_zeros();
            let (hi, lo) = (t >> 64, t & u128::from(u64::MAX));
            // t·p as a 192-bit number (hi·p·2^64 + lo·p).
            let low = lo * p;
            let high = hi * p + (low >> 64);
            let product_low = low & u128::from(u64::MAX);
            let power = 127 + z - 64;
            assert!(high >> power == 1, "{f}");
            let above = ((high & ((1 << power) - 1)) << 64) | product_low;
            assert!(above > 0 && above <= p, "{f}: {above}");
        }
    }

    /// `a + b` for two decimals written with one integer digit and the same number of fraction
    /// digits (the sum below 10).
    fn add(a: &str, b: &str) -> String {
        let (mut sum, mut carry) = (Vec::new(), 0);
        for (x, y) in a.bytes().rev().zip(b.bytes().rev()) {
            if x == b'.' {
                sum.push(b'.');
                continue;
            }
            let d = (x - b'0') + (y - b'0') + carry;
            sum.push(b'0' + d % 10);
            carry = d / 10;
        }
        sum.reverse();
        String::from_utf8(sum).unwrap()
    }

    /// Values near every rounding boundary: doubles and the points halfway between neighbours
    /// (written out exactly), cut to 9-18 fraction digits, and one unit in the last digit above
    /// the cut, so on either side of the boundary.
    #[test]
    fn values_beside_halfway_points_round_as_fast_float_rounds() {
        let mut read = 0;
        let mut bits = 1u64;
        for i in 0..40_000u64 {
            bits = bits.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let v = 1.0 + (bits >> 11) as f64 / (1u64 << 53) as f64 * 8.9;
            let v = if i % 3 == 0 { v / 10.0 } else { v };
            let half_ulp = (f64::from_bits(v.to_bits() + 1) - v) / 2.0;
            let exact = format!("{v:.60}");
            let mid = add(&exact, &format!("{half_ulp:.60}"));
            for digits in FRACTION {
                for text in [&exact, &mid] {
                    let cut = text.get(..2 + digits).unwrap();
                    let one = format!("0.{}1", "0".repeat(digits - 1));
                    for cell in [cut.to_owned(), add(cut, &one)] {
                        read += usize::from(agrees(&cell, ","));
                    }
                }
            }
        }
        assert!(read > 1_400_000, "{read}");
    }

    proptest::proptest! {
        #[test]
        fn any_digits_read_as_fast_float_reads_them(cell in "[0-9]\\.[0-9]{0,20}[0-9eE.,x]?", after in "[,\\n]") {
            agrees(&cell, &after);
        }
    }
}
