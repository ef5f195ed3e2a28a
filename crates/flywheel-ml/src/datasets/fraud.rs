//! A seeded generator of the credit-card fraud data set's schema — a
//! stand-in for the real data, which this crate does not ship (a 144 MB
//! CSV on Kaggle) and must not fetch at run time (SPEC §3).
//!
//! The real set (ULB Machine Learning Group and Worldline; Dal Pozzolo,
//! Caelen, Johnson & Bontempi, *Calibrating Probability with Undersampling
//! for Unbalanced Classification*, IEEE CIDM 2015; Kaggle
//! "creditcardfraud") holds two days of European card transactions of
//! September 2013: `Time`, the anonymised principal components `V1`…`V28`,
//! `Amount` and `Class`. **This is a generator, not that data:** no row is a
//! real transaction. It reproduces these properties of the real set:
//!
//! - **Shape:** 284,807 rows (by default), the 31 columns in the real
//!   order, exactly 492 frauds (0.1727 %: `round(rows × 0.001727)`, at
//!   least 1, for other sizes), rows in ascending `Time`.
//! - **`Time`:** whole seconds since the first transaction (the first row
//!   is 0, the last 172,792), two days of the real data's daily rhythm with
//!   `Time` 0 at midnight: far fewer transactions between 1 a.m. and 7 a.m.
//!   (about a tenth of the daytime rate at 4 a.m.). Frauds follow a flatter
//!   profile (peaks near 2 a.m. and 11 a.m.), so the fraud *rate* is
//!   highest at night, as in the real data.
//! - **`V1`…`V28` of the legitimate rows:** mean ≈ 0 and the real
//!   standard deviations (1.96 for `V1` falling to 0.330 for `V28`),
//!   uncorrelated with each other, with heavy tails (about 1 % outliers,
//!   the furthest 30–70 standard deviations out; excess kurtosis of some
//!   tens, the real columns' being tens to hundreds) on the side of the
//!   real column's long tail (`V1`, `V2`, `V3`, `V5`, `V8`, `V12`, `V14`,
//!   `V17`, `V23` negative; `V4`, `V6`, `V7`, `V11`, `V28` positive). Like the real components,
//!   several correlate with `Amount` (Pearson, real values: `V2` −0.53,
//!   `V7` +0.40, `V5` −0.39, `V20` +0.34, `V1` −0.23, `V6` +0.22, `V3`
//!   −0.21, `V21` +0.11, `V23` −0.11, `V8` and `V10` −0.10).
//! - **Frauds:** per-column means near the real frauds' (strongly
//!   negative `V14` ≈ −7.0, `V3` ≈ −7.0, `V17` ≈ −6.7, `V12` ≈ −6.3, `V10`
//!   ≈ −5.7, `V7` ≈ −5.6, `V1` ≈ −4.8, `V16` ≈ −4.1; positive `V4` ≈ 4.5,
//!   `V11` ≈ 3.8, `V2` ≈ 3.6) and standard deviations several times the
//!   legitimate ones (the real frauds', up to about a fifth more for the
//!   most shifted columns; `V8`, `V21` and `V27` differ in spread but hardly
//!   in mean). A fraud is a legitimate-like draw plus a *shift* towards the
//!   frauds' mean and extra *spread*. 15 % are subtle (shift below 0.12,
//!   spread as small): they look legitimate, so no model reaches a perfect
//!   score. 25 % are mild (shift 0.12–0.45, full spread): a linear model
//!   misses many of them, trees catch some through the spread. The rest
//!   are strong (shift log-normal around 1.5); the shifts average 1.
//! - **`Amount`:** euros with two decimals, drawn from a quantile function
//!   through the real percentiles: legitimate median ≈ 22, mean ≈ 90 (real
//!   88.3), quartiles ≈ 5.6 and 77, 99th percentile ≈ 1,000, never above
//!   25,691.16 (the real maximum), 0.6 % zero amounts and about 5 % at
//!   exactly 1.00;
//!   frauds median ≈ 9.25, mean ≈ 122, first quartile 1.00 (a fifth of the
//!   frauds are 1.00 "card tests"), 5.5 % zero, at most 2,125.87.
//!
//! Not reproduced: correlations among the `V` columns within a class
//! other than through the frauds' shift, the real data's duplicate rows,
//! and the exact shape of each column's distribution (the real `V` columns
//! are mixtures of several bumps; these are a Gaussian body with heavy
//! tails). What a
//! lab learns on it — the base rate, why accuracy misleads, PR AUC against
//! ROC AUC, trees against a linear model, a cost-based threshold — carries
//! over to the real data. On the full set, stratified 20 % test splits give
//! gradient-boosted trees (default parameters) an average precision of
//! about 0.77–0.86 and logistic regression about 0.66–0.75 (ROC AUC about
//! 0.95–0.98 and 0.90–0.96): trees ahead of a linear model on PR AUC, the
//! usual picture on the real data.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::Table;
use crate::error::{MlError, Result};

/// Rows of the real data set.
pub(super) const FULL_ROWS: usize = 284_807;
/// Share of frauds: 492 / 284,807 rounded to four significant digits.
pub(super) const FRAUD_SHARE: f64 = 0.001727;
/// Seed of [`super::credit_card_fraud`]: the year of the paper.
pub(super) const FIXED_SEED: u64 = 2015;

/// `Time` of the last transaction, in seconds (two days less 8 s).
const LAST_SECOND: f64 = 172_792.0;
/// Time bins of the daily profile: 15 minutes.
const BIN_SECONDS: f64 = 900.0;
const BINS: usize = 192; // 48 h

/// Relative transaction rate of legitimate traffic by hour of day (0 = from
/// midnight to 1 a.m.), shaped like the real data's hourly counts.
const LEGIT_HOURLY: [f64; 24] = [
    0.45, 0.25, 0.18, 0.17, 0.13, 0.17, 0.26, 0.42, 0.70, 1.00, 1.20, 1.30, 1.28, 1.27, 1.26, 1.25, 1.26, 1.26, 1.28,
    1.24, 1.18, 1.16, 1.00, 0.72,
];
/// Relative rate of frauds by hour of day: flatter, peaks near 2 and 11 a.m.
const FRAUD_HOURLY: [f64; 24] = [
    0.75, 0.85, 2.40, 1.10, 0.90, 0.70, 0.60, 0.75, 0.85, 0.95, 1.00, 1.90, 1.20, 1.05, 1.00, 1.00, 1.05, 1.10, 1.10,
    1.00, 0.95, 0.90, 0.90, 0.85,
];

/// One principal component: the legitimate rows' standard deviation, the
/// real Pearson correlation with `Amount` (0 where |r| < 0.1), the share
/// of its outliers that are negative, and the frauds' mean and standard
/// deviation.
struct Component {
    sd: f64,
    amount_corr: f64,
    left_tail: f64,
    fraud_mean: f64,
    fraud_sd: f64,
}

const fn c(sd: f64, amount_corr: f64, left_tail: f64, fraud_mean: f64, fraud_sd: f64) -> Component {
    Component { sd, amount_corr, left_tail, fraud_mean, fraud_sd }
}

/// `V1`…`V28`. Left-tail shares: 0.85 where the real minimum is far
/// further out than the maximum, 0.15 for the converse, else 0.5.
const COMPONENTS: [Component; 28] = [
    c(1.96, -0.23, 0.85, -4.77, 6.78),
    c(1.65, -0.53, 0.85, 3.62, 4.29),
    c(1.52, -0.21, 0.85, -7.03, 7.11),
    c(1.42, 0.0, 0.15, 4.54, 2.87),
    c(1.38, -0.39, 0.85, -3.15, 5.37),
    c(1.33, 0.22, 0.15, -1.40, 1.86),
    c(1.24, 0.40, 0.15, -5.57, 7.21),
    c(1.19, -0.10, 0.85, 0.57, 6.80),
    c(1.10, 0.0, 0.5, -2.58, 2.50),
    c(1.09, -0.10, 0.5, -5.68, 4.90),
    c(1.02, 0.0, 0.15, 3.80, 2.68),
    c(1.00, 0.0, 0.85, -6.26, 4.65),
    c(0.995, 0.0, 0.5, -0.11, 1.10),
    c(0.959, 0.0, 0.85, -6.97, 4.28),
    c(0.915, 0.0, 0.5, -0.09, 1.05),
    c(0.876, 0.0, 0.5, -4.14, 3.87),
    c(0.849, 0.0, 0.85, -6.67, 6.97),
    c(0.838, 0.0, 0.5, -2.25, 2.90),
    c(0.814, 0.0, 0.5, 0.68, 1.54),
    c(0.771, 0.34, 0.5, 0.37, 1.35),
    c(0.735, 0.11, 0.5, 0.71, 3.87),
    c(0.726, 0.0, 0.5, 0.01, 1.49),
    c(0.624, -0.11, 0.85, -0.04, 1.58),
    c(0.606, 0.0, 0.5, -0.11, 0.52),
    c(0.521, 0.0, 0.5, 0.04, 0.80),
    c(0.482, 0.0, 0.5, 0.05, 0.47),
    c(0.404, 0.0, 0.5, 0.17, 1.38),
    c(0.330, 0.0, 0.15, 0.08, 0.55),
];

/// Share of outliers in each component's noise.
const TAIL_SHARE: f64 = 0.01;
/// An outlier is `±TAIL_SCALE · |N| · exp(TAIL_SPREAD · N')`: a log-normal
/// scale mixture of normals, heavy-tailed but with every moment finite (so
/// sample standard deviations settle).
const TAIL_SCALE: f64 = 4.0;
const TAIL_SPREAD: f64 = 0.5;

/// Real `Amount` mean and standard deviation, to standardise it for the
/// components' correlation with it.
const AMOUNT_MEAN: f64 = 88.35;
const AMOUNT_SD: f64 = 250.12;

/// Quantile function of legitimate amounts: `(p, amount)` knots,
/// log-linear between them; equal amounts are a point mass.
const LEGIT_AMOUNT: [(f64, f64); 15] = [
    (0.0, 0.0),
    (0.0064, 0.0),
    (0.0064, 0.05),
    (0.05, 0.76),
    (0.09, 1.0),
    (0.138, 1.0),
    (0.25, 5.6),
    (0.50, 22.0),
    (0.75, 77.17),
    (0.90, 200.0),
    (0.95, 365.0),
    (0.99, 990.0),
    (0.999, 2200.0),
    (0.9999, 5000.0),
    (1.0, 25_691.16),
];
/// Quantile function of fraud amounts (knots as [`LEGIT_AMOUNT`]).
const FRAUD_AMOUNT: [(f64, f64); 12] = [
    (0.0, 0.0),
    (0.055, 0.0),
    (0.055, 0.01),
    (0.06, 0.2),
    (0.06, 1.0),
    (0.25, 1.0),
    (0.50, 9.25),
    (0.75, 105.89),
    (0.90, 346.0),
    (0.95, 640.0),
    (0.99, 1350.0),
    (1.0, 2125.87),
];

/// Frauds of the three kinds (see the module docs): the share of subtle
/// ones and their greatest shift, the share of mild ones and theirs; the
/// rest are strong, their shift log-normal with this σ of the log.
const SUBTLE_SHARE: f64 = 0.15;
const SUBTLE_MAX: f64 = 0.12;
const MILD_SHARE: f64 = 0.25;
const MILD_MAX: f64 = 0.45;
const STRONG_SPREAD: f64 = 0.2;
/// The extra spread of mild and strong frauds is scaled by a factor
/// uniform in this range, independent of their severity.
const SPREAD_RANGE: (f64, f64) = (0.5, 1.5);

/// The schema's column names, in order.
pub(super) fn column_names() -> Vec<String> {
    let mut names = Vec::with_capacity(31);
    names.push("Time".to_owned());
    names.extend((1..=28).map(|j| format!("V{j}")));
    names.push("Amount".into());
    names.push("Class".into());
    names
}

/// See [`super::credit_card_fraud_with`].
pub(super) fn generate(rows: usize, seed: u64) -> Result<Table> {
    if rows < 2 {
        return Err(MlError::InvalidParams(format!(
            "credit_card_fraud_with needs at least 2 rows (a legitimate transaction and a fraud), got {rows}"
        )));
    }
    let frauds = (((rows as f64) * FRAUD_SHARE).round() as usize).clamp(1, rows - 1);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);

    // The time of every row, frauds marked, sorted: rows come in time order.
    let (legit_cdf, fraud_cdf) = (time_cdf(&LEGIT_HOURLY), time_cdf(&FRAUD_HOURLY));
    let mut events: Vec<(f64, bool)> = Vec::with_capacity(rows);
    events.extend((0..rows - frauds).map(|_| (draw_time(&mut rng, &legit_cdf), false)));
    events.extend((0..frauds).map(|_| (draw_time(&mut rng, &fraud_cdf), true)));
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    events[0].0 = 0.0;
    events[rows - 1].0 = LAST_SECOND;

    // Fraud amounts are stratified over their quantile function (one draw
    // in each 1/frauds of probability, shuffled), so that even 492 frauds
    // have the real percentiles.
    let mut fraud_u: Vec<f64> = (0..frauds).map(|k| (k as f64 + rng.r#gen::<f64>()) / frauds as f64).collect();
    fraud_u.shuffle(&mut rng);
    let mut fraud_u = fraud_u.into_iter();

    let noise: [Noise; 28] = std::array::from_fn(|j| Noise::new(COMPONENTS[j].left_tail));
    let severity = Severity::new();
    // A fraud adds `shift · mean + spread · extra · N` to a legitimate-like
    // draw, so its variance is sd² + Var(shift)·mean² + E[spread²]·extra²:
    // solve for `extra` to meet the real frauds' standard deviation.
    let extra: [f64; 28] = std::array::from_fn(|j| {
        let c = &COMPONENTS[j];
        let explained = c.sd * c.sd + severity.shift_variance * c.fraud_mean * c.fraud_mean;
        ((c.fraud_sd * c.fraud_sd - explained).max(0.0) / severity.spread_square).sqrt()
    });

    let mut columns: Vec<Vec<f64>> = (0..31).map(|_| Vec::with_capacity(rows)).collect();
    for &(time, fraud) in &events {
        let amount = if fraud {
            quantile(&FRAUD_AMOUNT, fraud_u.next().unwrap_or(0.5))
        } else {
            quantile(&LEGIT_AMOUNT, rng.r#gen())
        };
        let amount = (amount * 100.0).round() / 100.0;
        let z_amount = (amount - AMOUNT_MEAN) / AMOUNT_SD;
        let departure = if fraud { severity.draw(&mut rng) } else { Departure { shift: 0.0, spread: 0.0 } };
        columns[0].push(time);
        for (j, (comp, noise)) in COMPONENTS.iter().zip(&noise).enumerate() {
            let r = comp.amount_corr;
            let mut v = comp.sd * (r * z_amount + (1.0 - r * r).sqrt() * noise.draw(&mut rng));
            if fraud {
                v += departure.shift * comp.fraud_mean + departure.spread * extra[j] * normal(&mut rng);
            }
            columns[j + 1].push(v);
        }
        columns[29].push(amount);
        columns[30].push(if fraud { 1.0 } else { 0.0 });
    }
    Table::from_numbers(column_names().into_iter().zip(columns).collect())
}

/// Cumulative weights of the 15-minute bins of two days, the hourly rates
/// interpolated linearly between the middles of the hours.
fn time_cdf(hourly: &[f64; 24]) -> [f64; BINS] {
    let mut cdf = [0.0; BINS];
    let mut total = 0.0;
    for (b, slot) in cdf.iter_mut().enumerate() {
        let hour = (b as f64 + 0.5) * BIN_SECONDS / 3600.0 - 0.5;
        let h0 = hour.floor();
        let t = hour - h0;
        let at = |h: f64| hourly[(h.rem_euclid(24.0)) as usize];
        total += at(h0) * (1.0 - t) + at(h0 + 1.0) * t;
        *slot = total;
    }
    cdf
}

/// A time in whole seconds from the profile: a bin by its weight, then
/// uniform within it, squeezed into `[0, LAST_SECOND]`.
fn draw_time(rng: &mut Xoshiro256PlusPlus, cdf: &[f64; BINS]) -> f64 {
    let u = rng.r#gen::<f64>() * cdf[BINS - 1];
    let bin = cdf.partition_point(|&c| c <= u).min(BINS - 1);
    let seconds = (bin as f64 + rng.r#gen::<f64>()) * BIN_SECONDS;
    (seconds * LAST_SECOND / (BINS as f64 * BIN_SECONDS)).floor()
}

/// The value at probability `u` of a knot table (log-linear between knots).
fn quantile(knots: &[(f64, f64)], u: f64) -> f64 {
    for pair in knots.windows(2) {
        let ((p0, a0), (p1, a1)) = (pair[0], pair[1]);
        if u < p1 {
            if a0 <= 0.0 || a0 == a1 {
                return a0;
            }
            let t = (u - p0) / (p1 - p0);
            return (a0.ln() + t * (a1.ln() - a0.ln())).exp();
        }
    }
    knots[knots.len() - 1].1
}

/// A standard normal draw (Marsaglia's polar method).
pub(super) fn normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    loop {
        let u = 2.0 * rng.r#gen::<f64>() - 1.0;
        let v = 2.0 * rng.r#gen::<f64>() - 1.0;
        let s = u * u + v * v;
        if s > 0.0 && s < 1.0 {
            return u * (-2.0 * s.ln() / s).sqrt();
        }
    }
}

/// Heavy-tailed noise of mean 0 and variance 1: a standard normal, or with
/// probability [`TAIL_SHARE`] an outlier, negative with probability `left`.
struct Noise {
    left: f64,
    mean: f64,
    sd: f64,
}

impl Noise {
    fn new(left: f64) -> Noise {
        // |N|·exp(aN'): E = √(2/π)·e^(a²/2), E[·²] = e^(2a²).
        let a = TAIL_SPREAD;
        let tail_mean = TAIL_SCALE * (2.0 / std::f64::consts::PI).sqrt() * (a * a / 2.0).exp();
        let tail_square = TAIL_SCALE * TAIL_SCALE * (2.0 * a * a).exp();
        let mean = TAIL_SHARE * (1.0 - 2.0 * left) * tail_mean;
        let square = (1.0 - TAIL_SHARE) + TAIL_SHARE * tail_square;
        Noise { left, mean, sd: (square - mean * mean).sqrt() }
    }

    fn draw(&self, rng: &mut Xoshiro256PlusPlus) -> f64 {
        let x = if rng.r#gen::<f64>() < TAIL_SHARE {
            let size = TAIL_SCALE * normal(rng).abs() * (TAIL_SPREAD * normal(rng)).exp();
            if rng.r#gen::<f64>() < self.left { -size } else { size }
        } else {
            normal(rng)
        };
        (x - self.mean) / self.sd
    }
}

/// How far one fraud departs from a legitimate transaction: `shift`
/// scales the move towards the frauds' mean, `spread` the extra noise.
struct Departure {
    shift: f64,
    spread: f64,
}

/// The mixture of subtle, mild and strong frauds, with the moments the
/// generator needs: mean shift 1 (so the frauds' means are the real ones),
/// its variance, and the mean square of the spread.
struct Severity {
    strong_level: f64,
    shift_variance: f64,
    spread_square: f64,
}

impl Severity {
    fn new() -> Severity {
        let strong = 1.0 - SUBTLE_SHARE - MILD_SHARE;
        let uniform_square = |a: f64, b: f64| (a * a + a * b + b * b) / 3.0;
        let strong_level =
            (1.0 - SUBTLE_SHARE * SUBTLE_MAX / 2.0 - MILD_SHARE * (SUBTLE_MAX + MILD_MAX) / 2.0) / strong;
        let shift_square = SUBTLE_SHARE * uniform_square(0.0, SUBTLE_MAX)
            + MILD_SHARE * uniform_square(SUBTLE_MAX, MILD_MAX)
            + strong * strong_level * strong_level * (STRONG_SPREAD * STRONG_SPREAD).exp();
        let spread_square = SUBTLE_SHARE * uniform_square(0.0, SUBTLE_MAX)
            + (1.0 - SUBTLE_SHARE) * uniform_square(SPREAD_RANGE.0, SPREAD_RANGE.1);
        Severity { strong_level, shift_variance: shift_square - 1.0, spread_square }
    }

    fn draw(&self, rng: &mut Xoshiro256PlusPlus) -> Departure {
        let u = rng.r#gen::<f64>();
        if u < SUBTLE_SHARE {
            let shift = SUBTLE_MAX * rng.r#gen::<f64>();
            return Departure { shift, spread: shift };
        }
        let shift = if u < SUBTLE_SHARE + MILD_SHARE {
            SUBTLE_MAX + (MILD_MAX - SUBTLE_MAX) * rng.r#gen::<f64>()
        } else {
            let sigma = STRONG_SPREAD;
            self.strong_level * (sigma * normal(rng) - sigma * sigma / 2.0).exp()
        };
        Departure { shift, spread: SPREAD_RANGE.0 + (SPREAD_RANGE.1 - SPREAD_RANGE.0) * rng.r#gen::<f64>() }
    }
}
