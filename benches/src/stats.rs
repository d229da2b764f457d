//! Samples and their summaries: median, quartiles, extremes, and ratios of medians.
//!
//! The machines these run on are shared and noisy, so every figure is a median with its spread
//! (the interquartile range), and comparisons are ratios of medians taken in the same run. Nothing
//! here judges a figure; the report states targets next to the ratios.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// Measurements of one quantity, in the order they were taken.
#[derive(Debug, Clone, Default)]
pub struct Samples(Vec<f64>);

impl Samples {
    /// No samples yet.
    pub fn new() -> Self {
        Samples(Vec::new())
    }

    /// Adds a duration, kept in seconds.
    pub fn push(&mut self, d: Duration) {
        self.0.push(d.as_secs_f64());
    }

    /// Adds a plain value (seconds, bytes, counts: whatever the caller measures).
    pub fn push_value(&mut self, v: f64) {
        self.0.push(v);
    }

    /// How many samples there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The summary, or `None` without samples.
    pub fn summary(&self) -> Option<Summary> {
        if self.0.is_empty() {
            return None;
        }
        let mut sorted = self.0.clone();
        sorted.sort_by(f64::total_cmp);
        Some(Summary {
            n: sorted.len(),
            median: quantile(&sorted, 0.5),
            p25: quantile(&sorted, 0.25),
            p75: quantile(&sorted, 0.75),
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        })
    }
}

/// The `q` quantile of sorted values, linearly interpolated between neighbours (type 7, as R and
/// numpy default to).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Median, quartiles and extremes of some samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    /// How many samples.
    pub n: usize,
    /// The median.
    pub median: f64,
    /// The first quartile.
    pub p25: f64,
    /// The third quartile.
    pub p75: f64,
    /// The smallest sample.
    pub min: f64,
    /// The largest sample.
    pub max: f64,
}

impl Summary {
    /// `median (p25–p75)` of durations in seconds, e.g. `12.3 ms (11.9–13.0)`.
    pub fn time(&self) -> String {
        let unit = TimeUnit::for_seconds(self.median);
        format!("{} {} ({}–{})", unit.format(self.median), unit.name(), unit.format(self.p25), unit.format(self.p75))
    }
}

/// The unit a duration reads best in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Nanos,
    Micros,
    Millis,
    Seconds,
}

impl TimeUnit {
    /// The unit for a value in seconds.
    pub fn for_seconds(s: f64) -> Self {
        match s.abs() {
            v if v < 1e-6 => TimeUnit::Nanos,
            v if v < 1e-3 => TimeUnit::Micros,
            v if v < 1.0 => TimeUnit::Millis,
            _ => TimeUnit::Seconds,
        }
    }

    fn factor(self) -> f64 {
        match self {
            TimeUnit::Nanos => 1e9,
            TimeUnit::Micros => 1e6,
            TimeUnit::Millis => 1e3,
            TimeUnit::Seconds => 1.0,
        }
    }

    /// The unit's symbol.
    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::Nanos => "ns",
            TimeUnit::Micros => "µs",
            TimeUnit::Millis => "ms",
            TimeUnit::Seconds => "s",
        }
    }

    /// A value in seconds in this unit, three significant digits, without the unit.
    pub fn format(self, seconds: f64) -> String {
        sig3(seconds * self.factor())
    }
}

/// A duration in seconds with its unit, three significant digits: `1.23 ms`.
pub fn time(seconds: f64) -> String {
    let unit = TimeUnit::for_seconds(seconds);
    format!("{} {}", unit.format(seconds), unit.name())
}

/// A number with three significant digits (integers above 100 as they are).
pub fn sig3(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        let digits = (2 - a.log10().floor() as i32).clamp(0, 9) as usize;
        format!("{v:.digits$}")
    }
}

/// The exponent `k` of the power law `y = c·xᵏ` that fits the points best (least squares on their
/// logarithms): 1 for linear growth, about 1.1 for n·log n over a few decades. `None` with fewer than
/// two distinct positive `x`.
pub fn growth_exponent(points: &[(f64, f64)]) -> Option<f64> {
    let logs: Vec<(f64, f64)> =
        points.iter().filter(|(x, y)| *x > 0.0 && *y > 0.0).map(|(x, y)| (x.ln(), y.ln())).collect();
    let n = logs.len() as f64;
    let (mx, my) = (logs.iter().map(|p| p.0).sum::<f64>() / n, logs.iter().map(|p| p.1).sum::<f64>() / n);
    let sxx: f64 = logs.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    let sxy: f64 = logs.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// The ratio of two medians, `a / b`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ratio(pub f64);

impl Ratio {
    /// `a / b`; `None` when `b` is not positive.
    pub fn of(a: f64, b: f64) -> Option<Ratio> {
        (b > 0.0).then(|| Ratio(a / b))
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}×", sig3(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_an_even_count_lies_between_the_middle_two() {
        let mut s = Samples::new();
        for v in [4.0, 1.0, 3.0, 2.0] {
            s.push_value(v);
        }
        let sum = s.summary().unwrap();
        assert_eq!((sum.n, sum.median, sum.min, sum.max), (4, 2.5, 1.0, 4.0));
        assert_eq!((sum.p25, sum.p75), (1.75, 3.25));
    }

    #[test]
    fn a_single_sample_is_its_own_median_and_quartiles() {
        let mut s = Samples::new();
        s.push(Duration::from_millis(7));
        let sum = s.summary().unwrap();
        assert_eq!((sum.median, sum.p25, sum.p75), (0.007, 0.007, 0.007));
    }

    #[test]
    fn no_samples_have_no_summary() {
        assert_eq!(Samples::new().summary(), None);
    }

    #[test]
    fn durations_read_in_the_unit_that_fits_them() {
        let cases = [
            (0.000_000_5, "500 ns"),
            (0.000_012_34, "12.3 µs"),
            (0.001_5, "1.50 ms"),
            (0.25, "250 ms"),
            (12.0, "12.0 s"),
        ];
        for (seconds, text) in cases {
            assert_eq!(time(seconds), text, "{seconds}");
        }
    }

    #[test]
    fn small_numbers_keep_three_significant_digits() {
        let cases = [(0.0, "0"), (0.012_34, "0.0123"), (0.5, "0.500"), (2.0, "2.00"), (123.4, "123")];
        for (v, text) in cases {
            assert_eq!(sig3(v), text, "{v}");
        }
    }

    #[test]
    fn the_growth_exponent_of_a_power_law_is_its_power() {
        let linear: Vec<(f64, f64)> = [1e3, 1e4, 1e5, 1e6].iter().map(|&n| (n, 3.0 * n)).collect();
        assert!((growth_exponent(&linear).unwrap() - 1.0).abs() < 1e-9);
        let quadratic: Vec<(f64, f64)> = [10.0, 100.0].iter().map(|&n| (n, n * n)).collect();
        assert!((growth_exponent(&quadratic).unwrap() - 2.0).abs() < 1e-9);
        assert_eq!(growth_exponent(&[(5.0, 1.0)]), None);
    }

    #[test]
    fn a_ratio_needs_a_positive_denominator() {
        assert_eq!(Ratio::of(1.0, 0.0), None);
        assert_eq!(Ratio::of(1.0, 4.0).unwrap().to_string(), "0.250×");
    }
}
