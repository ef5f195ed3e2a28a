//! An endpoint's traffic over time, from its captures: what the monitoring
//! charts draw (requests per second per variant, latency percentiles, the
//! distribution of the predicted scores), as SageMaker's invocation and
//! latency graphs do from CloudWatch.
//!
//! Captures are rows, not requests: one invocation of 5,000 rows gives
//! 5,000 captures sharing its time, variant and serving time, so a request
//! is counted once per distinct `(at, variant, latency_us)`. Requests are
//! estimated from the captured share (`capture_percent`), so 10 captured
//! requests at 50 % count as 20.

use flywheel_domain::{Capture, InvocationError, Timestamp};

/// Interval lengths the timeline picks from, in seconds: the shortest that
/// covers the captures' span in at most [`MAX_INTERVALS`] (one more when
/// the span straddles a whole step).
const STEPS: [i64; 16] = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1_800, 3_600, 7_200, 21_600, 86_400];

/// Intervals a timeline aims at, at most (see [`STEPS`]).
pub const MAX_INTERVALS: i64 = 60;

/// An endpoint's traffic in equal intervals, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    /// Start of the first interval.
    pub start: Timestamp,
    /// Length of each interval, in seconds.
    pub step_seconds: i64,
    /// The variants the columns of `requests_per_second` are, in order.
    pub variants: Vec<String>,
    /// One per interval from `start`, with or without traffic.
    pub intervals: Vec<Interval>,
}

/// One interval of a [`Timeline`].
#[derive(Debug, Clone, PartialEq)]
pub struct Interval {
    /// Seconds from the timeline's start to this interval's start.
    pub offset_seconds: i64,
    /// Requests per second served by each variant (the timeline's order),
    /// estimated from the captured share.
    pub requests_per_second: Vec<f64>,
    /// Rows scored per second, all variants, estimated the same way.
    pub predictions_per_second: f64,
    /// Requests refused or failed per second (all are recorded, none estimated).
    pub errors_per_second: f64,
    /// Of those, per variant (the timeline's order): the failures after a
    /// variant was drawn (bad input is refused before the draw).
    pub errors_per_second_by_variant: Vec<f64>,
    /// Serving time of the requests, in milliseconds: 50th, 95th and 99th
    /// percentiles (`None` without requests).
    pub latency_ms: Option<[f64; 3]>,
    /// The same per variant (the timeline's order).
    pub latency_ms_by_variant: Vec<Option<[f64; 3]>>,
    /// The rows' predicted scores (probability of the positive class): mean,
    /// then the 50th, 90th and 99th percentiles (`None` without rows).
    pub score: Option<[f64; 4]>,
}

/// The timeline of `captures` and `errors` (any order) for an endpoint
/// whose variants are `variants` and which captures `capture_percent` % of
/// its requests; `None` without either. Captures of variants not in
/// `variants` (a shadow promoted away, a removed variant) count towards
/// the latency, scores and predictions, not the per-variant rates.
pub fn timeline(
    captures: &[Capture],
    errors: &[InvocationError],
    variants: &[String],
    capture_percent: u8,
) -> Option<Timeline> {
    let times = || captures.iter().map(|c| c.at.millis()).chain(errors.iter().map(|e| e.at.millis()));
    let first = times().min()?;
    let last = times().max()?;
    let span_seconds = (last - first) / 1000 + 1;
    let step = STEPS.iter().copied().find(|s| (span_seconds + s - 1) / s <= MAX_INTERVALS).unwrap_or(STEPS[15]);
    let start = first.div_euclid(step * 1000) * step * 1000;
    let count = usize::try_from((last - start) / (step * 1000) + 1).unwrap_or(1);
    let slot = |at: Timestamp| usize::try_from((at.millis() - start) / (step * 1000)).unwrap_or(0).min(count - 1);
    let mut rows: Vec<Vec<&Capture>> = vec![Vec::new(); count];
    for c in captures {
        rows[slot(c.at)].push(c);
    }
    // Per interval: all failures, then each variant's.
    let mut failed = vec![vec![0_u32; variants.len() + 1]; count];
    for e in errors {
        let at = &mut failed[slot(e.at)];
        at[0] += 1;
        if let Some(v) = e.variant.as_ref().and_then(|v| variants.iter().position(|x| x == v)) {
            at[v + 1] += 1;
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let scale = 100.0 / f64::from(capture_percent.max(1)) / step as f64;
    let intervals = rows
        .iter()
        .zip(0..)
        .map(|(rows, i)| {
            let requests = requests(rows.iter().copied());
            #[allow(clippy::cast_precision_loss)]
            let requests_per_second =
                variants.iter().map(|v| requests.iter().filter(|r| r.1 == v).count() as f64 * scale).collect();
            #[allow(clippy::cast_precision_loss)]
            let latency = |variant: Option<&str>| -> Option<[f64; 3]> {
                let ms = requests.iter().filter(|r| variant.is_none_or(|v| r.1 == v)).map(|r| r.2 as f64 / 1000.0);
                quantiles(ms.collect(), [0.5, 0.95, 0.99])
            };
            let failed = &failed[usize::try_from(i).unwrap_or(0)];
            #[allow(clippy::cast_precision_loss)]
            let per_second = |n: u32| f64::from(n) / step as f64;
            let scores: Vec<f64> = rows.iter().map(|c| c.score).filter(|s| s.is_finite()).collect();
            #[allow(clippy::cast_precision_loss)]
            let mean = scores.iter().sum::<f64>() / scores.len() as f64;
            Interval {
                offset_seconds: i * step,
                requests_per_second,
                #[allow(clippy::cast_precision_loss)]
                predictions_per_second: rows.len() as f64 * scale,
                errors_per_second: per_second(failed[0]),
                errors_per_second_by_variant: failed[1..].iter().map(|n| per_second(*n)).collect(),
                latency_ms: latency(None),
                latency_ms_by_variant: variants.iter().map(|v| latency(Some(v))).collect(),
                score: quantiles(scores, [0.5, 0.9, 0.99]).map(|[a, b, c]| [mean, a, b, c]),
            }
        })
        .collect();
    Some(Timeline { start: Timestamp(start), step_seconds: step, variants: variants.to_vec(), intervals })
}

/// The distinct requests among `captures`, `(at, variant, serving µs)`,
/// sorted: the rows of one invocation share all three.
pub(super) fn requests<'a>(captures: impl IntoIterator<Item = &'a Capture>) -> Vec<(i64, &'a str, u64)> {
    let mut requests: Vec<(i64, &str, u64)> =
        captures.into_iter().map(|c| (c.at.millis(), c.variant.as_str(), c.latency_us)).collect();
    requests.sort_unstable();
    requests.dedup();
    requests
}

/// The `qs` quantiles of `values` (nearest rank), `None` when empty.
pub(super) fn quantiles<const N: usize>(mut values: Vec<f64>, qs: [f64; N]) -> Option<[f64; N]> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    Some(qs.map(|q| values[((values.len() as f64 - 1.0) * q).round() as usize]))
}

#[cfg(test)]
mod tests {
    use flywheel_domain::InferenceId;
    use uuid::Uuid;

    use super::*;

    fn capture(at: i64, variant: &str, latency_us: u64, score: f64) -> Capture {
        Capture {
            inference_id: InferenceId(Uuid::new_v4()),
            variant: variant.to_owned(),
            at: Timestamp(at),
            features: vec![1.0],
            score,
            class: if score >= 0.5 { "1" } else { "0" }.to_owned(),
            latency_us,
            ground_truth: None,
        }
    }

    #[test]
    fn requests_are_counted_once_per_invocation_and_scaled_by_the_captured_share() {
        let base = 1_700_000_000_000; // a whole second
        let mut captures = Vec::new();
        // Second 0: requests of 3 rows (2 ms) and 1 row (3 ms) on a, one of 1 row on b (4 ms).
        captures.extend((0..3).map(|_| capture(base + 100, "a", 2_000, 0.2)));
        captures.push(capture(base + 200, "a", 3_000, 0.3));
        captures.push(capture(base + 300, "b", 4_000, 0.9));
        // Second 2: one request of 1 row on a; a shadow-promoted variant "old".
        captures.push(capture(base + 2_500, "a", 6_000, 0.4));
        captures.push(capture(base + 2_600, "old", 8_000, 0.5));
        let variants = vec!["a".to_owned(), "b".to_owned()];
        let refused =
            InvocationError { at: Timestamp(base + 1_500), variant: None, status: 422, message: "bad".into() };
        let t = timeline(&captures, &[refused], &variants, 50).unwrap();
        assert_eq!((t.start, t.step_seconds, t.intervals.len()), (Timestamp(base), 1, 3));
        let [s0, s1, s2] = &t.intervals[..] else { panic!("{t:?}") };
        // 50 % captured: each captured request counts as two.
        assert_eq!(s0.requests_per_second, vec![4.0, 2.0]);
        assert!((s0.predictions_per_second - 10.0).abs() < 1e-12);
        assert_eq!(s0.latency_ms, Some([3.0, 4.0, 4.0]));
        let [mean, p50, p90, p99] = s0.score.unwrap();
        assert!((mean - 1.8 / 5.0).abs() < 1e-12);
        assert_eq!((p50, p90, p99), (0.2, 0.9, 0.9));
        // An interval without traffic is there, empty.
        assert_eq!(
            (s1.offset_seconds, s1.requests_per_second.clone(), s1.latency_ms, s1.score),
            (1, vec![0.0, 0.0], None, None)
        );
        assert_eq!(s2.requests_per_second, vec![2.0, 0.0]);
        assert_eq!((s0.errors_per_second, s1.errors_per_second, s2.errors_per_second), (0.0, 1.0, 0.0));
        assert_eq!(s1.errors_per_second_by_variant, vec![0.0, 0.0], "refused before a variant was drawn");
        assert_eq!(s0.latency_ms_by_variant, vec![Some([3.0, 3.0, 3.0]), Some([4.0, 4.0, 4.0])]);
        assert_eq!(s2.latency_ms_by_variant, vec![Some([6.0, 6.0, 6.0]), None], "\"old\" is in no variant's");
        // Nearest rank, rounding up: the median of two is the higher.
        assert_eq!(s2.latency_ms, Some([8.0, 8.0, 8.0]));
    }

    #[test]
    fn the_interval_grows_with_the_span() {
        let base = 1_699_999_800_000; // a whole 5 minutes
        let captures: Vec<Capture> = (0..300).map(|m| capture(base + m * 60_000, "a", 1_000, 0.1)).collect();
        let t = timeline(&captures, &[], &["a".to_owned()], 100).unwrap();
        // 300 minutes in at most 60 intervals: 5 minutes each.
        assert_eq!(t.step_seconds, 300);
        assert_eq!(t.intervals.len(), 60);
        // Five requests in 300 s.
        assert!(t.intervals.iter().all(|i| (i.requests_per_second[0] - 5.0 / 300.0).abs() < 1e-12));
        assert_eq!(timeline(&[], &[], &["a".to_owned()], 100), None);
    }
}
