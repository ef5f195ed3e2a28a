//! Endpoints (Day 3, production): a saved model served over HTTP under a
//! name, as SageMaker's real-time endpoints are. An endpoint has one or
//! more *variants* (production variants: a model each, with a relative
//! traffic weight), captures a share of its predictions, and joins the
//! *ground truth* posted later to them. The serving itself lives in the
//! application crate's `endpoints` service; these are the values it keeps
//! and the rules that need no I/O.

use serde::{Deserialize, Serialize};

use crate::{TeamId, Timestamp, UserId, ValidationError, WorkshopId};

uuid_id!(
    /// An endpoint's id (its name is what people use).
    EndpointId,
    "endpoint"
);

uuid_id!(
    /// One captured prediction's id, returned with it so that its ground
    /// truth can be posted later.
    InferenceId,
    "inference"
);

/// Longest endpoint or variant name (SageMaker's limit for endpoint names).
pub const MAX_NAME_CHARS: usize = 63;

/// Most variants behind one endpoint.
pub const MAX_VARIANTS: usize = 10;

/// Checks an endpoint or variant name: 1–63 characters, lower-case ASCII
/// letters, digits and hyphens, starting with a letter (so that it reads
/// well in a URL: `/endpoints/fraud-v1/invocations`).
///
/// # Errors
/// A [`ValidationError`] on `field` saying which rule the name breaks.
pub fn check_name(field: &'static str, name: &str) -> Result<(), ValidationError> {
    let bad = |why: &str| Err(ValidationError::new(field, format!("{name:?} {why}")));
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return bad(&format!("must be 1 to {MAX_NAME_CHARS} characters long"));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return bad("must start with a lower-case letter");
    }
    if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return bad("may hold only lower-case letters, digits and hyphens");
    }
    Ok(())
}

/// A production variant: one model behind an endpoint and its share of the traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    /// Its name, unique within the endpoint (the `X-Flywheel-Variant` header picks it).
    pub name: String,
    /// The saved model's type (`GradientBoostedTreesModel`, …).
    pub model_kind: String,
    /// Where the model came from, in words (`training job …`, `fraud.json of session …`).
    pub source: String,
    /// Relative traffic weight, ≥ 0: weights 2 and 1 send two thirds of the
    /// requests to the first variant.
    pub weight: f64,
}

/// An endpoint as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Its id.
    pub id: EndpointId,
    /// Its name, unique on the server (see [`check_name`]).
    pub name: String,
    /// Who deployed it.
    pub owner: UserId,
    /// The owner's workshop at deployment (its instructors see the endpoint).
    pub workshop: Option<WorkshopId>,
    /// The owner's team at deployment, which shares it.
    pub team: Option<TeamId>,
    /// Share of requests whose predictions are captured, 0–100.
    pub capture_percent: u8,
    /// Its production variants, in the order they were given.
    pub variants: Vec<Variant>,
    /// The shadow variant, if any: it gets a copy of [`Self::shadow_percent`]
    /// of the requests after production has answered, and its answers are
    /// only stored (its weight is unused).
    pub shadow: Option<Variant>,
    /// Share of requests mirrored to the shadow, 0–100 (0 without one).
    pub shadow_percent: u8,
    /// Human review: captured predictions whose score lies in this band
    /// (inclusive) wait in a review queue until a person gives their label.
    pub review: Option<ReviewBand>,
    /// When it was deployed.
    pub created_at: Timestamp,
    /// When its variants or weights last changed: servers holding its
    /// models compare it to reload them.
    pub updated_at: Timestamp,
}

/// Checks a set of variant names and weights: at least one and at most
/// [`MAX_VARIANTS`], names valid and distinct, weights finite and ≥ 0 with a
/// positive total.
///
/// # Errors
/// A [`ValidationError`] (`variants`, `name` or `weight`) saying what is wrong.
pub fn check_variants<'a>(variants: impl IntoIterator<Item = (&'a str, f64)>) -> Result<(), ValidationError> {
    let variants: Vec<(&str, f64)> = variants.into_iter().collect();
    if variants.is_empty() || variants.len() > MAX_VARIANTS {
        return Err(ValidationError::new(
            "variants",
            format!("an endpoint has 1 to {MAX_VARIANTS} variants, not {}", variants.len()),
        ));
    }
    for (i, (name, weight)) in variants.iter().enumerate() {
        check_name("name", name)?;
        if variants[..i].iter().any(|(other, _)| other == name) {
            return Err(ValidationError::new("name", format!("two variants are named {name:?}")));
        }
        if !weight.is_finite() || *weight < 0.0 {
            return Err(ValidationError::new(
                "weight",
                format!("variant {name:?} has weight {weight}: a weight is a number ≥ 0"),
            ));
        }
    }
    if variants.iter().map(|(_, w)| w).sum::<f64>() <= 0.0 {
        return Err(ValidationError::new(
            "weight",
            "the weights add up to 0: give at least one variant a positive weight",
        ));
    }
    Ok(())
}

/// The variant a request goes to, given `draw` uniform in [0, 1): variant
/// `i` is chosen with probability `weights[i] / Σ weights` (SageMaker's
/// production-variant routing). `None` when no weight is positive.
pub fn pick_variant(weights: &[f64], draw: f64) -> Option<usize> {
    let total: f64 = weights.iter().filter(|w| **w > 0.0).sum();
    if total <= 0.0 {
        return None;
    }
    let mut left = draw.clamp(0.0, 1.0) * total;
    let last = weights.iter().rposition(|w| *w > 0.0)?;
    for (i, w) in weights.iter().enumerate() {
        if *w <= 0.0 {
            continue;
        }
        if left < *w {
            return Some(i);
        }
        left -= w;
    }
    Some(last)
}

/// One captured prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capture {
    /// Its id, as the invocation answered it.
    pub inference_id: InferenceId,
    /// The variant that served it.
    pub variant: String,
    /// When it was served.
    pub at: Timestamp,
    /// The row's features, in the endpoint's column order.
    pub features: Vec<f64>,
    /// The probability of the positive class.
    pub score: f64,
    /// The predicted class.
    pub class: String,
    /// Time to serve the request it came in, in microseconds.
    pub latency_us: u64,
    /// The true class, once posted.
    pub ground_truth: Option<String>,
}

/// An invocation an endpoint refused or failed on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvocationError {
    /// When.
    pub at: Timestamp,
    /// The variant drawn, when the request got that far.
    pub variant: Option<String>,
    /// The HTTP status answered (422 for bad input, 500 for a failure).
    pub status: u16,
    /// What was wrong, as the caller was told.
    pub message: String,
}

/// The scores whose predictions a person reviews, `low ≤ score ≤ high`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReviewBand {
    /// Lowest score reviewed, in [0, 1].
    pub low: f64,
    /// Highest score reviewed, in [0, 1], ≥ `low`.
    pub high: f64,
}

impl ReviewBand {
    /// Checks a band: `0 ≤ low ≤ high ≤ 1`.
    ///
    /// # Errors
    /// A [`ValidationError`] on `review` saying what is wrong.
    pub fn new(low: f64, high: f64) -> Result<Self, ValidationError> {
        if !(0.0..=1.0).contains(&low) || !(0.0..=1.0).contains(&high) || low > high {
            return Err(ValidationError::new(
                "review",
                format!("the band is two scores with 0 ≤ low ≤ high ≤ 1, not {low} to {high}"),
            ));
        }
        Ok(Self { low, high })
    }

    /// Whether a score falls in the band.
    pub fn contains(self, score: f64) -> bool {
        (self.low..=self.high).contains(&score)
    }

    /// As stored: `"low,high"`.
    pub fn to_text(self) -> String {
        format!("{},{}", self.low, self.high)
    }

    /// Reads [`Self::to_text`]'s form; empty text is no band.
    ///
    /// # Errors
    /// A [`ValidationError`] for other text.
    pub fn parse(text: &str) -> Result<Option<Self>, ValidationError> {
        if text.is_empty() {
            return Ok(None);
        }
        let bad = || ValidationError::new("review", format!("{text:?} is not a review band"));
        let (low, high) = text.split_once(',').ok_or_else(bad)?;
        Self::new(low.parse().map_err(|_| bad())?, high.parse().map_err(|_| bad())?).map(Some)
    }
}

/// One request row answered by production and by the shadow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShadowResult {
    /// The production answer's inference id.
    pub inference_id: InferenceId,
    /// When production answered.
    pub at: Timestamp,
    /// The production variant that answered.
    pub production_variant: String,
    /// Production's probability of the positive class.
    pub production_score: f64,
    /// Production's class.
    pub production_class: String,
    /// Production's serving time, microseconds.
    pub production_us: u64,
    /// The shadow variant.
    pub shadow_variant: String,
    /// The shadow's probability of the positive class (`None` when it failed).
    pub shadow_score: Option<f64>,
    /// The shadow's class (`None` when it failed).
    pub shadow_class: Option<String>,
    /// The shadow's serving time, microseconds.
    pub shadow_us: u64,
    /// Why the shadow failed, if it did.
    pub error: Option<String>,
    /// The true class, when it was posted for the captured production answer.
    pub ground_truth: Option<String>,
}

/// One entry of an endpoint's audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointEvent {
    /// When.
    pub at: Timestamp,
    /// Who (absent for Flywheel itself).
    pub actor: Option<UserId>,
    /// What changed, in words (`weights: trees 2 → 0, linear 1 → 1`).
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_well_in_a_url() {
        assert!(check_name("name", "fraud-v1").is_ok());
        for bad in ["", "Fraud", "1fraud", "fraud_v1", "fraud v1", &"a".repeat(64)] {
            assert!(check_name("name", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn variants_need_distinct_names_and_a_positive_total_weight() {
        assert!(check_variants([("a", 2.0), ("b", 1.0)]).is_ok());
        assert!(check_variants([("a", 0.0), ("b", 1.0)]).is_ok());
        assert!(check_variants([]).is_err());
        assert!(check_variants([("a", 1.0), ("a", 1.0)]).is_err());
        assert!(check_variants([("a", 0.0), ("b", 0.0)]).unwrap_err().message.contains("add up to 0"));
        assert!(check_variants([("a", -1.0), ("b", 3.0)]).is_err());
        assert!(check_variants([("a", f64::NAN)]).is_err());
    }

    #[test]
    fn review_bands_are_scores_in_order() {
        let band = ReviewBand::new(0.4, 0.6).unwrap();
        assert!(band.contains(0.4) && band.contains(0.6) && !band.contains(0.61));
        assert_eq!(ReviewBand::parse(&band.to_text()).unwrap(), Some(band));
        assert_eq!(ReviewBand::parse("").unwrap(), None);
        assert!(ReviewBand::new(0.7, 0.3).is_err() && ReviewBand::new(-0.1, 0.3).is_err());
        assert!(ReviewBand::parse("0.4").is_err());
    }

    #[test]
    fn traffic_follows_the_weights() {
        // 2 : 1 : 0 over an even grid of draws: two thirds, one third, none.
        let mut counts = [0usize; 3];
        for i in 0..3000 {
            counts[pick_variant(&[2.0, 1.0, 0.0], f64::from(i) / 3000.0).unwrap()] += 1;
        }
        assert_eq!(counts, [2000, 1000, 0]);
        assert_eq!(pick_variant(&[0.0, 5.0], 0.0), Some(1));
        assert_eq!(pick_variant(&[1.0, 0.0], 0.999_999_999), Some(0));
        assert_eq!(pick_variant(&[0.0, 0.0], 0.5), None);
    }
}

/// What an endpoint's monitor watches, and how often it checks on its own.
/// Every alarm is optional; an alarm that fires is written to the
/// endpoint's event log, and with `auto_rollback` the weights go back to
/// what they were before the last weight change or promotion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Monitor {
    /// Minutes between scheduled checks, 1–1440; 0: checks on demand only.
    pub every_minutes: u32,
    /// Alarm when a column of the newest captures drifts from the baseline
    /// with a major PSI (≥ 0.25) as well as by its drift test.
    pub drift: bool,
    /// Alarm when a variant's 95th-percentile serving time exceeds this, in milliseconds.
    pub latency_p95_ms: Option<f64>,
    /// Alarm when a variant's live ROC AUC (over at least
    /// [`Monitor::MIN_LABELLED`] labelled predictions) falls below this.
    pub min_roc_auc: Option<f64>,
    /// Alarm when more than this percentage of the requests of the last
    /// [`Monitor::ERROR_WINDOW_MINUTES`] failed (with at least
    /// [`Monitor::MIN_REQUESTS`] requests).
    #[serde(default)]
    pub max_error_percent: Option<f64>,
    /// Roll the weights back when an alarm fires.
    pub auto_rollback: bool,
}

impl Monitor {
    /// Labelled predictions a variant needs before its live ROC AUC can raise an alarm.
    pub const MIN_LABELLED: usize = 50;
    /// Minutes of requests the errors alarm looks back on.
    pub const ERROR_WINDOW_MINUTES: i64 = 5;
    /// Requests (answered or failed) in that window before the errors alarm can fire.
    pub const MIN_REQUESTS: u64 = 20;

    /// Checks the settings.
    ///
    /// # Errors
    /// A [`ValidationError`] on `monitor` naming the setting and its range.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let bad = |message: String| Err(ValidationError::new("monitor", message));
        if self.every_minutes > 1440 {
            return bad(format!("every_minutes is 0 (on demand) to 1440, not {}", self.every_minutes));
        }
        if let Some(ms) = self.latency_p95_ms.filter(|ms| !(ms.is_finite() && *ms > 0.0)) {
            return bad(format!("latency_p95_ms is a positive number of milliseconds, not {ms}"));
        }
        if let Some(auc) = self.min_roc_auc.filter(|a| !(0.0..=1.0).contains(a)) {
            return bad(format!("min_roc_auc is between 0 and 1, not {auc}"));
        }
        if let Some(p) = self.max_error_percent.filter(|p| !(0.0..100.0).contains(p)) {
            return bad(format!("max_error_percent is at least 0 and below 100, not {p}"));
        }
        if !self.drift
            && self.latency_p95_ms.is_none()
            && self.min_roc_auc.is_none()
            && self.max_error_percent.is_none()
        {
            return bad("watch something: drift, latency_p95_ms, min_roc_auc or max_error_percent".to_owned());
        }
        Ok(())
    }
}

/// An endpoint's monitor with its state.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorState {
    /// The settings.
    pub monitor: Monitor,
    /// When the next scheduled check is due (none when on demand only).
    pub next_at: Option<Timestamp>,
    /// When it last checked.
    pub checked_at: Option<Timestamp>,
    /// The alarms of the last check (empty: all clear).
    pub alarms: Vec<String>,
    /// The production weights before the last weight change or promotion:
    /// what a rollback restores (empty: nothing to roll back to).
    pub rollback_weights: Vec<(String, f64)>,
}
