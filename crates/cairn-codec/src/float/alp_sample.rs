//! ALP's arithmetic (the one encode/decode expression pair) and its two-level sampling of
//! the exponent/factor pair (Afroozeh, Kuffó, Boncz: "ALP: Adaptive Lossless floating-Point
//! Compression", SIGMOD 2023, section 3).

use crate::bitpack::{VECTOR, bit_width};

/// Largest exponent e (and factor f <= e).
pub(super) const MAX_EXPONENT: u8 = 18;

/// 10^i, exact in f64 for every i used here.
const F10: [f64; 19] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18,
];
/// The f64 nearest 10^-i.
const IF10: [f64; 19] = [
    1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12, 1e-13, 1e-14,
    1e-15, 1e-16, 1e-17, 1e-18,
];

/// 2^52 + 2^51: adding it to |x| < 2^51 leaves x rounded to an integer in the low mantissa
/// bits; the integer n (|n| < 2^51) is `from_bits(n + MAGIC_BITS) - MAGIC` exactly.
const MAGIC: f64 = 6_755_399_441_055_744.0;
const MAGIC_BITS: u64 = 0x4338_0000_0000_0000;

/// An exponent/factor pair, both within 0..=18 and `factor <= exponent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Combo {
    pub exponent: u8,
    pub factor: u8,
}

/// The per-vector constants of the decode expression.
#[derive(Debug, Clone, Copy)]
pub(super) struct Scale {
    up: f64,
    down: f64,
}

impl Combo {
    /// Encode multipliers `(10^e, 10^-f)`.
    #[inline]
    fn encode_scale(self) -> (f64, f64) {
        (F10[self.exponent as usize], IF10[self.factor as usize])
    }

    /// Decode multipliers `(10^f, 10^-e)`.
    #[inline]
    pub(super) fn scale(self) -> Scale {
        Scale {
            up: F10[self.factor as usize],
            down: IF10[self.exponent as usize],
        }
    }

    /// The encoded integer for `v` (meaningful only if [`decode_one`] gives `v` back).
    #[inline]
    pub(super) fn encode_one(self, v: f64) -> i64 {
        let (e, f) = self.encode_scale();
        let x = v * e * f;
        // Saturating conversion: NaN -> 0, out-of-range -> i64 bounds; both fail the check.
        ((x + MAGIC) - MAGIC) as i64
    }
}

/// The decode expression, shared by the encoder's exception check and the decoder:
/// `float(n) * 10^f * 10^-e`, with `float(n)` by the magic-number trick (exact for
/// |n| < 2^51; other n give some value the encoder's check rejects). `biased` is
/// `n + MAGIC_BITS` (wrapping), which lets the decoder fold the frame reference in.
#[inline(always)]
pub(super) fn decode_biased(biased: u64, s: Scale) -> f64 {
    (f64::from_bits(biased) - MAGIC) * s.up * s.down
}

/// The bias to add to an encoded integer (or to a FOR reference) before [`decode_biased`].
#[inline(always)]
pub(super) fn bias(n: i64) -> u64 {
    (n as u64).wrapping_add(MAGIC_BITS)
}

/// Whether `v` survives encoding with `combo`: the encoded integer, or None (exception).
#[inline]
pub(super) fn try_encode(v: f64, combo: Combo, s: Scale) -> (i64, bool) {
    let n = combo.encode_one(v);
    (n, decode_biased(bias(n), s).to_bits() == v.to_bits())
}

/// Values taken from each sampled vector.
const SAMPLE_VALUES: usize = 32;
/// Vectors sampled from the page in the first level.
const SAMPLE_VECTORS: usize = 8;
/// Candidate pairs kept for the second level.
pub(super) const MAX_CANDIDATES: usize = 5;
/// Estimated cost of one exception in bits (raw value plus position).
const EXCEPTION_BITS: u64 = 64 + 16;

/// Estimated bits to encode `sample` with `combo`: packed width over every slot (exception
/// slots are packed too) plus the exceptions. Only the order of estimates matters.
fn estimate_bits(sample: &[f64], combo: Combo) -> u64 {
    let s = combo.scale();
    let (mut min, mut max, mut exceptions) = (i64::MAX, i64::MIN, 0u64);
    for &v in sample {
        let (n, ok) = try_encode(v, combo, s);
        if ok {
            min = min.min(n);
            max = max.max(n);
        } else {
            exceptions += 1;
        }
    }
    let encoded = sample.len() as u64 - exceptions;
    if encoded < 2 && exceptions > 0 {
        // No spread to measure: a lone encodable value predicts nothing about the width
        // the others would need, so count the sample as all exceptions.
        return sample.len() as u64 * EXCEPTION_BITS;
    }
    let width = u64::from(bit_width(max.wrapping_sub(min) as u64));
    width * sample.len() as u64 + exceptions * EXCEPTION_BITS
}

/// Up to `SAMPLE_VALUES` equidistant values of `vector`.
fn sample_of(vector: &[f64], buf: &mut [f64; SAMPLE_VALUES]) -> usize {
    let step = vector.len().div_ceil(SAMPLE_VALUES).max(1);
    let mut n = 0;
    for (slot, &v) in buf.iter_mut().zip(vector.iter().step_by(step)) {
        *slot = v;
        n += 1;
    }
    n
}

/// The best pair over all 190 for `sample` (ties go to the smaller exponent, then factor).
fn best_of_all(sample: &[f64]) -> Combo {
    let mut best = Combo {
        exponent: 0,
        factor: 0,
    };
    let mut best_bits = u64::MAX;
    for exponent in 0..=MAX_EXPONENT {
        for factor in 0..=exponent {
            let combo = Combo { exponent, factor };
            let bits = estimate_bits(sample, combo);
            if bits < best_bits {
                best_bits = bits;
                best = combo;
            }
        }
    }
    best
}

/// First level: the best pair of each of up to `SAMPLE_VECTORS` evenly spread vectors of the
/// page (from `SAMPLE_VALUES` values each), most frequent first; at most `MAX_CANDIDATES`.
pub(super) fn page_candidates(values: &[f64]) -> Vec<Combo> {
    let vectors = values.len().div_ceil(VECTOR);
    let picks = vectors.min(SAMPLE_VECTORS);
    let mut counts: Vec<(Combo, usize)> = Vec::new();
    let mut buf = [0.0; SAMPLE_VALUES];
    for i in 0..picks {
        let start = i * vectors / picks * VECTOR;
        let vector = &values[start..(start + VECTOR).min(values.len())];
        let n = sample_of(vector, &mut buf);
        let combo = best_of_all(&buf[..n]);
        match counts.iter_mut().find(|(c, _)| *c == combo) {
            Some((_, count)) => *count += 1,
            None => counts.push((combo, 1)),
        }
    }
    counts.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then(a.0.exponent.cmp(&b.0.exponent))
            .then(a.0.factor.cmp(&b.0.factor))
    });
    counts.truncate(MAX_CANDIDATES);
    let mut out: Vec<Combo> = counts.into_iter().map(|(c, _)| c).collect();
    if out.is_empty() {
        out.push(Combo {
            exponent: 0,
            factor: 0,
        });
    }
    out
}

/// Second level: the best of the page's candidates for one vector, on a sample of it.
pub(super) fn vector_combo(vector: &[f64], candidates: &[Combo]) -> Combo {
    let first = candidates.first().copied().unwrap_or(Combo {
        exponent: 0,
        factor: 0,
    });
    if candidates.len() <= 1 {
        return first;
    }
    let mut buf = [0.0; SAMPLE_VALUES];
    let n = sample_of(vector, &mut buf);
    let mut best = first;
    let mut best_bits = u64::MAX;
    for &combo in candidates {
        let bits = estimate_bits(&buf[..n], combo);
        if bits < best_bits {
            best_bits = bits;
            best = combo;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn tables_are_powers_of_ten() {
        for i in 0..=18 {
            assert_eq!(F10[i], 10f64.powi(i as i32));
            assert_eq!(IF10[i], format!("1e-{i}").parse::<f64>().unwrap());
        }
    }

    #[test]
    fn decimals_find_their_exponent() {
        let values: Vec<f64> = (0..4096)
            .map(|i| f64::from(i * 7 % 10_000) / 100.0)
            .collect();
        let c = page_candidates(&values);
        assert_eq!(c[0].exponent - c[0].factor, 2);
        let combo = vector_combo(&values[..1024], &c);
        let s = combo.scale();
        let ok = values
            .iter()
            .filter(|&&v| try_encode(v, combo, s).1)
            .count();
        assert!(ok > 4000, "{ok}");
    }

    #[test]
    fn specials_are_exceptions() {
        let combo = Combo {
            exponent: 2,
            factor: 0,
        };
        let s = combo.scale();
        for v in [
            -0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
            -1e300,
        ] {
            assert!(!try_encode(v, combo, s).1, "{v}");
        }
        assert!(try_encode(12.5, combo, s).1);
        assert!(try_encode(0.0, combo, s).1);
    }
}
