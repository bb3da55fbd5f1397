//! Key numbers: memtier's key patterns over `[key-minimum, key-maximum]`,
//! and writing `prefix + number` without allocating.

use std::str::FromStr;

use rand::Rng;
use rand::rngs::SmallRng;
use rand_distr::{Distribution, Normal, Zipf};

use crate::BenchError;

/// How a command picks its key numbers (memtier's `--key-pattern` letters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPattern {
    /// `R`: uniform over the range.
    Random,
    /// `S`: min, min+1, ... max, then again from min.
    Sequential,
    /// `G`: normal around `--key-median` with `--key-stddev`, clamped to the range.
    Gaussian,
    /// `Z`: Zipf with `--key-zipf-exp`; the lowest numbers are the hottest.
    Zipf,
    /// `P`: the range split evenly across clients, each walking its part in order.
    Parallel,
}

impl FromStr for KeyPattern {
    type Err = BenchError;

    fn from_str(s: &str) -> Result<KeyPattern, BenchError> {
        match s {
            "R" => Ok(KeyPattern::Random),
            "S" => Ok(KeyPattern::Sequential),
            "G" => Ok(KeyPattern::Gaussian),
            "Z" => Ok(KeyPattern::Zipf),
            "P" => Ok(KeyPattern::Parallel),
            _ => Err(BenchError::Flag(format!(
                "key pattern {s:?}: use R, S, G, Z or P"
            ))),
        }
    }
}

/// The key-number range and the parameters of its distributions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeyRange {
    /// Smallest number, inclusive.
    pub min: u64,
    /// Largest number, inclusive.
    pub max: u64,
    /// Gaussian median; `None` is the middle of the range.
    pub median: Option<f64>,
    /// Gaussian standard deviation; `None` is a sixth of the range.
    pub stddev: Option<f64>,
    /// Zipf exponent.
    pub zipf_exp: f64,
}

impl KeyRange {
    /// How many numbers the range holds.
    pub fn len(&self) -> u64 {
        self.max - self.min + 1
    }

    /// Whether the range is empty (never, once validated).
    pub fn is_empty(&self) -> bool {
        self.max < self.min
    }

    /// Rejects ranges and parameters the distributions cannot use.
    pub fn validate(&self) -> Result<(), BenchError> {
        if self.is_empty() {
            return Err(BenchError::Flag(
                "--key-minimum is above --key-maximum".into(),
            ));
        }
        if !(self.zipf_exp > 0.0 && self.zipf_exp < 5.0) {
            return Err(BenchError::Flag("--key-zipf-exp must be in (0, 5)".into()));
        }
        if self.stddev.is_some_and(|s| !(s > 0.0 && s.is_finite())) {
            return Err(BenchError::Flag("--key-stddev must be positive".into()));
        }
        Ok(())
    }
}

/// One client's source of key numbers for one command.
#[derive(Debug, Clone)]
pub struct KeyGen {
    pattern: KeyPattern,
    min: u64,
    max: u64,
    /// Next number for the sequential patterns.
    next: u64,
    normal: Normal<f64>,
    zipf: Zipf<f64>,
}

impl KeyGen {
    /// A generator for client `client` of `clients` (only `P` uses them).
    pub fn new(pattern: KeyPattern, range: &KeyRange, client: u64, clients: u64) -> KeyGen {
        let span = range.len() as f64;
        let median = range
            .median
            .unwrap_or(range.min as f64 + (span - 1.0) / 2.0);
        let stddev = range.stddev.unwrap_or((span / 6.0).max(1.0));
        let (min, max) = match pattern {
            KeyPattern::Parallel => {
                // Balanced parts: each holds len/clients numbers, rounded.
                let (len, clients) = (range.len() as u128, clients.max(1) as u128);
                let at = |i: u128| range.min + (len * i / clients) as u64;
                let lo = at(client as u128).min(range.max);
                (
                    lo,
                    at(client as u128 + 1)
                        .saturating_sub(1)
                        .clamp(lo, range.max),
                )
            }
            _ => (range.min, range.max),
        };
        KeyGen {
            pattern,
            min,
            max,
            next: min,
            normal: Normal::new(median, stddev).expect("validated stddev"),
            zipf: Zipf::new(span, range.zipf_exp).expect("validated zipf parameters"),
        }
    }

    /// The next key number.
    pub fn next(&mut self, rng: &mut SmallRng) -> u64 {
        match self.pattern {
            KeyPattern::Random => rng.random_range(self.min..=self.max),
            KeyPattern::Sequential | KeyPattern::Parallel => {
                let n = self.next;
                self.next = if n >= self.max { self.min } else { n + 1 };
                n
            }
            KeyPattern::Gaussian => {
                let x = self.normal.sample(rng).round();
                (x.max(self.min as f64) as u64).clamp(self.min, self.max)
            }
            // Zipf samples 1..=span; rank 1 is the hottest key.
            KeyPattern::Zipf => (self.min + self.zipf.sample(rng) as u64 - 1).min(self.max),
        }
    }
}

/// Longest decimal u64.
pub const MAX_DIGITS: usize = 20;

/// A key being written: prefix then decimal number, formatted on the stack.
pub struct Key<'a> {
    /// The `--key-prefix` bytes.
    pub prefix: &'a [u8],
    digits: itoa::Buffer,
    number: u64,
}

impl<'a> Key<'a> {
    /// The key `prefix` + `number`.
    pub fn new(prefix: &'a [u8], number: u64) -> Key<'a> {
        Key {
            prefix,
            digits: itoa::Buffer::new(),
            number,
        }
    }

    /// The decimal digits of the number.
    fn digits(&mut self) -> &[u8] {
        self.digits.format(self.number).as_bytes()
    }

    /// Length of the whole key.
    pub fn encoded_len(&mut self) -> usize {
        self.prefix.len() + self.digits().len()
    }

    /// Appends the whole key to `out`.
    pub fn write(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.prefix);
        let digits = self.digits.format(self.number);
        out.extend_from_slice(digits.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn range(min: u64, max: u64) -> KeyRange {
        KeyRange {
            min,
            max,
            median: None,
            stddev: None,
            zipf_exp: 1.0,
        }
    }

    fn draw(pattern: KeyPattern, r: &KeyRange, n: usize) -> Vec<u64> {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut generator = KeyGen::new(pattern, r, 0, 1);
        (0..n).map(|_| generator.next(&mut rng)).collect()
    }

    #[test]
    fn sequential_wraps_at_max() {
        assert_eq!(
            draw(KeyPattern::Sequential, &range(5, 8), 6),
            vec![5, 6, 7, 8, 5, 6]
        );
    }

    #[test]
    fn random_stays_in_range_and_covers_it() {
        let keys = draw(KeyPattern::Random, &range(10, 19), 2000);
        assert!(keys.iter().all(|k| (10..=19).contains(k)));
        for k in 10..=19 {
            assert!(keys.contains(&k), "{k} never drawn");
        }
    }

    #[test]
    fn gaussian_centres_on_the_median() {
        let mut r = range(0, 10_000);
        r.median = Some(2_000.0);
        r.stddev = Some(100.0);
        let keys = draw(KeyPattern::Gaussian, &r, 10_000);
        let mean = keys.iter().sum::<u64>() as f64 / keys.len() as f64;
        assert!((mean - 2_000.0).abs() < 10.0, "mean {mean}");
        let within = keys.iter().filter(|&&k| k.abs_diff(2_000) <= 200).count();
        // Two standard deviations hold about 95%.
        assert!(within > 9_300 && within < 9_700, "{within}");
    }

    #[test]
    fn gaussian_clamps_to_the_range() {
        let mut r = range(100, 110);
        r.stddev = Some(1_000.0);
        assert!(
            draw(KeyPattern::Gaussian, &r, 1000)
                .iter()
                .all(|k| (100..=110).contains(k))
        );
    }

    #[test]
    fn zipf_favours_the_lowest_keys() {
        let keys = draw(KeyPattern::Zipf, &range(1, 1000), 20_000);
        assert!(keys.iter().all(|k| (1..=1000).contains(k)));
        let first = keys.iter().filter(|&&k| k == 1).count();
        let tenth = keys.iter().filter(|&&k| k == 10).count();
        // With exponent 1, key 1 is ten times as likely as key 10.
        let ratio = first as f64 / tenth as f64;
        assert!(ratio > 7.0 && ratio < 13.0, "{ratio}");
    }

    #[test]
    fn parallel_parts_are_balanced() {
        let r = range(1, 100);
        let sizes: Vec<u64> = (0..8)
            .map(|c| {
                let g = KeyGen::new(KeyPattern::Parallel, &r, c, 8);
                g.max - g.min + 1
            })
            .collect();
        assert_eq!(sizes.iter().sum::<u64>(), 100);
        assert!(sizes.iter().all(|&s| s == 12 || s == 13), "{sizes:?}");
    }

    #[test]
    fn parallel_splits_the_range_between_clients() {
        let r = range(0, 99);
        let mut rng = SmallRng::seed_from_u64(1);
        let mut seen = Vec::new();
        for client in 0..4 {
            let mut generator = KeyGen::new(KeyPattern::Parallel, &r, client, 4);
            seen.extend((0..25).map(|_| generator.next(&mut rng)));
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn key_is_prefix_then_digits() {
        let mut key = Key::new(b"memtier-", 1234);
        assert_eq!(key.encoded_len(), 12);
        let mut out = Vec::new();
        key.write(&mut out);
        assert_eq!(out, b"memtier-1234");
    }
}
