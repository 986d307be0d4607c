//! Rounds (`--rounds N`): the order the settings of one round run in, and
//! the statistics over rounds: medians, spreads, and when a ratio is within
//! the noise. Pure functions; the harness ([`crate::compare`]) and the
//! report's summary ([`crate::summary`]) use them.

use serde::Serialize;

/// The order the settings of a round run in: as given on even rounds,
/// reversed on odd ones, so a drift of the machine over a sitting (a disk
/// filling its cache, a neighbour's build starting) does not always favour
/// the setting that runs first.
pub fn alternated<T: Clone>(settings: &[T], round: usize) -> Vec<T> {
    let mut order = settings.to_vec();
    if round % 2 == 1 {
        order.reverse();
    }
    order
}

/// The median of some values (the mean of the middle two for an even
/// count); `None` when there are none or one is not a number.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() || values.iter().any(|v| v.is_nan()) {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 0 { (sorted[mid - 1] + sorted[mid]) / 2.0 } else { sorted[mid] })
}

/// What several rounds of one measurement gave.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// The median.
    pub median: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
    /// How many rounds.
    pub rounds: usize,
}

impl Spread {
    /// The spread of some values; `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Spread> {
        let median = median(values)?;
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some(Spread { median, min, max, rounds: values.len() })
    }

    /// `(max - min) / median`: how wide the rounds scatter, relative to
    /// what they measured (0 for one round; infinite around a zero median).
    pub fn relative(&self) -> f64 {
        let width = self.max - self.min;
        if width == 0.0 {
            0.0
        } else if self.median == 0.0 {
            f64::INFINITY
        } else {
            width / self.median.abs()
        }
    }
}

/// Whether a ratio of two measurements says less than their noise: the
/// relative spread of either side is wider than the ratio's distance from
/// 1 (a ratio of 1.10 claims a 10% difference; a side whose rounds scatter
/// by 15% of its median cannot support it). One round has no spread, so
/// nothing is flagged then: one round cannot tell.
pub fn within_noise(ratio: f64, numerator: &Spread, denominator: &Spread) -> bool {
    let claimed = (ratio - 1.0).abs();
    numerator.relative() > claimed || denominator.relative() > claimed
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn odd_rounds_run_the_settings_in_reverse() {
        let settings = ["off", "on", "baseline", "grouped"];
        assert_eq!(alternated(&settings, 0), settings);
        assert_eq!(alternated(&settings, 1), ["grouped", "baseline", "on", "off"]);
        assert_eq!(alternated(&settings, 2), settings);
        // Over any two neighbouring rounds every setting runs on average
        // in the middle position.
        let position = |round, s| alternated(&settings, round).iter().position(|x| *x == s).unwrap();
        for s in settings {
            assert_eq!(position(0, s) + position(1, s), settings.len() - 1);
        }
    }

    #[test]
    fn the_median_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn the_spread_is_min_to_max_relative_to_the_median() {
        let s = Spread::of(&[90.0, 100.0, 120.0]).unwrap();
        assert_eq!(s, Spread { median: 100.0, min: 90.0, max: 120.0, rounds: 3 });
        assert!((s.relative() - 0.3).abs() < 1e-12);
        assert_eq!(Spread::of(&[7.0]).unwrap().relative(), 0.0);
        assert_eq!(Spread::of(&[0.0, 0.0, 1.0]).unwrap().relative(), f64::INFINITY);
        assert_eq!(Spread::of(&[]), None);
    }

    #[test]
    fn a_ratio_is_within_noise_when_either_side_scatters_wider_than_its_distance_from_one() {
        let tight = Spread::of(&[99.0, 100.0, 101.0]).unwrap(); // 2%
        let loose = Spread::of(&[85.0, 100.0, 115.0]).unwrap(); // 30%
        assert!(!within_noise(1.10, &tight, &tight));
        assert!(within_noise(1.01, &tight, &tight));
        assert!(within_noise(1.10, &loose, &tight));
        assert!(within_noise(0.80, &tight, &loose));
        assert!(!within_noise(0.50, &tight, &loose));
        let one = Spread::of(&[100.0]).unwrap();
        assert!(!within_noise(1.0001, &one, &one), "one round has no spread to judge by");
    }
}
