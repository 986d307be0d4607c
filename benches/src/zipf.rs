//! Which accounts a transfer touches: uniform, or Zipf-skewed so a few
//! accounts are hot, as real payment traffic is.

use rand::Rng;
use serde::Serialize;

/// How account indexes are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Skew {
    /// Every account equally likely.
    Uniform,
    /// Account `k` (1-based) drawn with weight `1 / k^s`.
    Zipf,
}

/// Draws account indexes in `0..len`.
#[derive(Debug, Clone)]
pub struct Picker {
    /// Cumulative weights, normalised so the last is 1; empty for uniform.
    cdf: Vec<f64>,
    len: usize,
}

impl Picker {
    /// A picker over `len` accounts (at least 2) with the given skew and
    /// Zipf exponent `s` (ignored for uniform).
    pub fn new(len: usize, skew: Skew, s: f64) -> Picker {
        let len = len.max(2);
        let cdf = match skew {
            Skew::Uniform => Vec::new(),
            Skew::Zipf => {
                let mut total = 0.0;
                let mut cdf: Vec<f64> = (1..=len)
                    .map(|k| {
                        total += 1.0 / (k as f64).powf(s);
                        total
                    })
                    .collect();
                cdf.iter_mut().for_each(|c| *c /= total);
                cdf
            }
        };
        Picker { cdf, len }
    }

    /// One account index.
    pub fn pick(&self, rng: &mut impl Rng) -> usize {
        if self.cdf.is_empty() {
            return rng.random_range(0..self.len);
        }
        let u: f64 = rng.random();
        self.cdf.partition_point(|c| *c < u).min(self.len - 1)
    }

    /// Two different account indexes: the debited one, then the credited one.
    pub fn pair(&self, rng: &mut impl Rng) -> (usize, usize) {
        let from = self.pick(rng);
        loop {
            let to = self.pick(rng);
            if to != from {
                return (from, to);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn counts(picker: &Picker, draws: usize) -> Vec<usize> {
        let mut rng = StdRng::seed_from_u64(7);
        let mut counts = vec![0; picker.len];
        for _ in 0..draws {
            counts[picker.pick(&mut rng)] += 1;
        }
        counts
    }

    #[test]
    fn zipf_makes_the_first_account_hottest_and_roughly_twice_the_second() {
        let counts = counts(&Picker::new(100, Skew::Zipf, 1.0), 100_000);
        assert!(counts[0] > counts[1] && counts[1] > counts[9], "{counts:?}");
        let ratio = counts[0] as f64 / counts[1] as f64;
        assert!((1.8..2.2).contains(&ratio), "ratio {ratio}");
    }

    #[test]
    fn uniform_spreads_draws_evenly_and_stays_in_range() {
        let counts = counts(&Picker::new(10, Skew::Uniform, 1.0), 100_000);
        assert!(counts.iter().all(|c| (9_000..11_000).contains(c)), "{counts:?}");
    }

    #[test]
    fn a_pair_never_names_one_account_twice() {
        let picker = Picker::new(2, Skew::Zipf, 3.0);
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..1000 {
            let (from, to) = picker.pair(&mut rng);
            assert_ne!(from, to);
            assert!(from < 2 && to < 2);
        }
    }
}
