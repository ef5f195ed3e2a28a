//! Endpoints from a notebook cell: deploy saved models behind an endpoint,
//! invoke it, post ground truth, set a baseline, check drift, change
//! weights, read the shadow report and promote the shadow — the calls of
//! Flywheel's endpoints API, made from the kernel.
//!
//! ```no_run
//! use flywheel_ml::prelude::*;
//!
//! # let (model, test): (GradientBoostedTreesModel, Table) = todo!();
//! let endpoint = model.deploy("fraud-v1")?;
//! let answer = endpoint.invoke(&test)?;
//! println!("{} rows served by {}", answer.predictions.len(), answer.variant);
//! # Ok::<(), MlError>(())
//! ```
//!
//! **The contract with the server.** A cell cannot reach the network (its
//! sandbox refuses sockets), and the server reads a cell's rich output
//! only when the cell ends, so a call goes through the working directory
//! and one printed line, while the cell runs:
//!
//! 1. the cell writes `endpoint-<token>.json`, the request:
//!    `{"endpoint": "<name>", "action": "<action>", …}` (the actions and
//!    their fields are [`Request`]'s); `<token>` is 16 lower-case hex
//!    digits, new for every call;
//! 2. it prints one line, `[endpoint <name>] <what> (request <token>)`
//!    ([`REQUEST_LINE_END`] ends it); the server watches the kernel's
//!    output for these lines, reads the request and runs it as the cell's
//!    user, with the checks of the API;
//! 3. the server answers in `data/endpoint-<token>.json`, written whole
//!    (moved into place): `{"ok": <value>}` or `{"error": "<message>"}`;
//!    the cell waits for it (every 5 ms, up to [`ANSWER_TIMEOUT`]), and
//!    deletes both files once it has read the answer.

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::display::{emit, escape};
use crate::drift::DriftReport;
use crate::error::{MlError, Result};
use crate::job::{SavedModel, job_dir, new_token};
use crate::{Labels, Table, Vector};

/// How a request line ends: ` (request <token>)`, after this text.
pub const REQUEST_LINE_END: &str = " (request ";

/// How long a call waits for the server's answer.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

/// How often a call looks for the answer.
const POLL: Duration = Duration::from_millis(5);

/// What a cell asks of the server, as `endpoint-<token>.json` holds it
/// (`{"endpoint": …, "action": "<snake_case>", …fields}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Request {
    /// Deploys (or redeploys: an endpoint of this name the caller may
    /// change is replaced) the saved models of the working directory.
    Deploy {
        /// The production variants.
        variants: Vec<DeployedVariant>,
        /// The shadow variant, if any (its weight is unused).
        shadow: Option<DeployedVariant>,
        /// Share of requests mirrored to the shadow, 1–100.
        shadow_percent: u8,
        /// Share of requests captured, 0–100.
        capture_percent: u8,
    },
    /// Scores rows: `csv` has a header of the endpoint's column names.
    Invoke {
        /// The rows, as CSV with a header.
        csv: String,
        /// The variant to use (else by weight).
        variant: Option<String>,
    },
    /// Records true classes of captured predictions: `[inference id, label]` pairs.
    GroundTruth {
        /// The pairs.
        labels: Vec<(String, String)>,
    },
    /// Makes these rows (CSV with a header) the baseline drift is measured against.
    Baseline {
        /// The rows.
        csv: String,
    },
    /// Measures drift of the newest captures against the baseline.
    Drift,
    /// The endpoint: variants, weights and live metrics.
    Summary,
    /// Sets the weights of the named variants.
    Weights {
        /// `[variant, weight]` pairs.
        weights: Vec<(String, f64)>,
    },
    /// The shadow report.
    ShadowReport,
    /// Puts a shadow variant beside production (in place of any other).
    Shadow {
        /// The shadow's model file.
        variant: DeployedVariant,
        /// Share of requests mirrored to it, 1–100.
        sample_percent: u8,
    },
    /// Gives the shadow all the traffic (the other variants stay, at weight 0).
    PromoteShadow,
    /// Sets the endpoint's monitor.
    SetMonitor {
        /// What it watches.
        monitor: Monitor,
    },
    /// Checks the monitor's alarms now.
    CheckAlarms,
    /// Sets the human review band: captured predictions scored in it wait
    /// for a teammate's label.
    SetReview {
        /// Lowest score reviewed, in [0, 1].
        low: f64,
        /// Highest score reviewed, in [low, 1].
        high: f64,
    },
    /// The predictions waiting for review.
    ReviewQueue,
    /// Runs a load test and answers with its report.
    LoadTest {
        /// The rows to send, CSV with a header (one row a request).
        csv: String,
        /// Requests per second, 1–5,000.
        rps: u32,
        /// Seconds, 1–60.
        seconds: u32,
    },
}

/// One variant of a [`Request::Deploy`]: a model file the cell saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeployedVariant {
    /// The variant's name.
    pub name: String,
    /// The saved model's file name in the working directory.
    pub file: String,
    /// Its relative traffic weight.
    pub weight: f64,
}

/// The models to deploy behind one endpoint:
/// `Deployment::new("fraud").variant("linear", &linear, 1.0).variant("gbt", &gbt, 1.0).deploy()?`.
///
/// Deploying again under the same name replaces the endpoint (its
/// captures and audit trail go with it), so a cell can be run again.
#[derive(Debug, Clone)]
pub struct Deployment {
    endpoint: String,
    variants: Vec<(String, String, f64)>,
    shadow: Option<(String, String)>,
    shadow_percent: u8,
    capture_percent: u8,
}

impl Deployment {
    /// A deployment of endpoint `endpoint` (lower-case letters, digits and
    /// `-`; the server checks), capturing every request until told otherwise.
    pub fn new(endpoint: &str) -> Self {
        Self {
            endpoint: endpoint.to_owned(),
            variants: Vec::new(),
            shadow: None,
            shadow_percent: 100,
            capture_percent: 100,
        }
    }

    /// Adds a production variant: `model` (any saved model type the
    /// server serves: linear learner, boosted trees, random forest, naive
    /// Bayes, k-NN) with a relative traffic `weight` (2 : 1 sends two
    /// thirds of the requests to the first).
    ///
    /// # Errors
    /// [`MlError::Write`] if the model cannot be serialised.
    pub fn variant<M: SavedModel>(mut self, name: &str, model: &M, weight: f64) -> Result<Self> {
        self.variants.push((name.to_owned(), model.to_json()?, weight));
        Ok(self)
    }

    /// Adds a shadow variant: it gets a copy of `sample_percent` % of the
    /// requests after production has answered; its answers are only compared.
    ///
    /// # Errors
    /// [`MlError::Write`] if the model cannot be serialised.
    pub fn shadow<M: SavedModel>(mut self, name: &str, model: &M, sample_percent: u8) -> Result<Self> {
        self.shadow = Some((name.to_owned(), model.to_json()?));
        self.shadow_percent = sample_percent;
        Ok(self)
    }

    /// Share of requests captured (and so open to ground truth and drift), 0–100.
    #[must_use]
    pub fn capture_percent(mut self, percent: u8) -> Self {
        self.capture_percent = percent;
        self
    }

    /// Deploys: the endpoint answers when this returns.
    ///
    /// # Errors
    /// [`MlError::InvalidParams`] without a variant; [`MlError::Write`]
    /// when the model files cannot be written; [`MlError::Endpoint`] with
    /// the server's reason (a bad name or weights, a model type it cannot
    /// serve, variants that take different columns) or when it does not
    /// answer in [`ANSWER_TIMEOUT`].
    pub fn deploy(self) -> Result<Endpoint> {
        if self.variants.is_empty() {
            return Err(MlError::InvalidParams(format!(
                "endpoint {}: add a model with `.variant(\"name\", &model, 1.0)?` before `.deploy()`",
                self.endpoint
            )));
        }
        let mut written = Vec::new();
        let mut write = |name: &str, json: &str| -> Result<String> {
            let (file, path) = write_model(name, json)?;
            written.push(path);
            Ok(file)
        };
        let mut variants = Vec::new();
        for (name, json, weight) in &self.variants {
            variants.push(DeployedVariant { name: name.clone(), file: write(name, json)?, weight: *weight });
        }
        let shadow = match &self.shadow {
            Some((name, json)) => Some(DeployedVariant { name: name.clone(), file: write(name, json)?, weight: 0.0 }),
            None => None,
        };
        let names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
        let what = format!(
            "deploy {}{}",
            names.join(", "),
            shadow.as_ref().map(|s| format!(", shadow {}", s.name)).unwrap_or_default()
        );
        let request = Request::Deploy {
            variants,
            shadow,
            shadow_percent: self.shadow_percent,
            capture_percent: self.capture_percent,
        };
        let endpoint = Endpoint::named(&self.endpoint);
        let answer = endpoint.call(&request, &what);
        for path in written {
            std::fs::remove_file(path).ok();
        }
        answer?;
        Ok(endpoint)
    }
}

/// Writes a model for the server to read: its file name and path.
fn write_model(variant: &str, json: &str) -> Result<(String, PathBuf)> {
    let file = format!("endpoint-{}-{variant}.json", new_token());
    let path = job_dir().join(&file);
    std::fs::write(&path, json).map_err(|e| MlError::Write(format!("{}: {e}", path.display())))?;
    Ok((file, path))
}

/// Saved model types deploy as a one-variant endpoint (variant `v1`):
/// `let endpoint = model.deploy("fraud-v1")?;`.
pub trait Deploy {
    /// Deploys the model as endpoint `endpoint` with one variant, `v1`,
    /// capturing every request ([`Deployment`] for more).
    ///
    /// # Errors
    /// As [`Deployment::deploy`].
    fn deploy(&self, endpoint: &str) -> Result<Endpoint>;
}

impl<M: SavedModel> Deploy for M {
    fn deploy(&self, endpoint: &str) -> Result<Endpoint> {
        Deployment::new(endpoint).variant("v1", self, 1.0)?.deploy()
    }
}

/// A deployed endpoint, by name: `Endpoint::named("fraud-v1")`, or what
/// [`Deploy::deploy`] returns. Every method is one call to the server,
/// made as the cell's user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    name: String,
}

/// One row's prediction.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Prediction {
    /// Its id, for [`Endpoint::ground_truth`].
    pub inference_id: String,
    /// The probability of the positive class.
    pub score: f64,
    /// The predicted class.
    pub class: String,
}

/// What an invocation answered.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Invocation {
    /// The variant that served every row.
    pub variant: String,
    /// Whether the predictions were captured (only captured ones take ground truth).
    pub captured: bool,
    /// One per row, in order.
    pub predictions: Vec<Prediction>,
    /// Time from the request to the answer, in milliseconds, as the cell saw it.
    #[serde(default)]
    pub round_trip_ms: f64,
}

impl Invocation {
    /// The scores, one per row.
    pub fn scores(&self) -> Vector {
        Vector::from_vec(self.predictions.iter().map(|p| p.score).collect())
    }

    /// The predicted classes, one per row.
    pub fn classes(&self) -> Labels {
        Labels::from_strings(&self.predictions.iter().map(|p| p.class.as_str()).collect::<Vec<_>>())
    }

    /// The inference ids, one per row.
    pub fn inference_ids(&self) -> Vec<String> {
        self.predictions.iter().map(|p| p.inference_id.clone()).collect()
    }
}

impl fmt::Display for Invocation {
    /// `200 predictions from variant v1 (captured), 3.1 ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} predictions from variant {}{}, {:.1} ms",
            self.predictions.len(),
            self.variant,
            if self.captured { " (captured)" } else { "" },
            self.round_trip_ms
        )
    }
}

/// A variant's live figures, from the endpoint's newest captures.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct VariantMetrics {
    /// Captured predictions.
    pub captured: usize,
    /// Of those, with ground truth.
    pub labelled: usize,
    /// Accuracy on the labelled ones.
    pub accuracy: Option<f64>,
    /// ROC AUC on the labelled ones (both classes present).
    pub roc_auc: Option<f64>,
    /// Average precision (PR AUC) on the labelled ones.
    pub pr_auc: Option<f64>,
    /// Median serving time of the captured requests, milliseconds.
    pub latency_p50_ms: Option<f64>,
    /// 95th percentile of the same, milliseconds.
    pub latency_p95_ms: Option<f64>,
}

/// A production variant as the endpoint has it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct VariantSummary {
    /// Its name.
    pub name: String,
    /// The model's type.
    pub model_kind: String,
    /// Its relative weight.
    pub weight: f64,
    /// Its share of the traffic, percent.
    pub traffic_percent: f64,
    /// Live figures.
    pub metrics: VariantMetrics,
}

/// An endpoint: its variants with their weights and live figures.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EndpointSummary {
    /// Its name.
    pub name: String,
    /// Where to send requests.
    pub invocation_url: String,
    /// The production variants.
    pub variants: Vec<VariantSummary>,
    /// The shadow variant's name, if any.
    pub shadow: Option<String>,
    /// Share of requests captured, percent.
    pub capture_percent: u8,
}

impl EndpointSummary {
    /// A production variant by name.
    pub fn variant(&self, name: &str) -> Option<&VariantSummary> {
        self.variants.iter().find(|v| v.name == name)
    }

    /// The summary as an HTML table, a row per variant.
    pub fn to_html(&self) -> String {
        let cell = |x: Option<f64>, digits: usize| x.map_or("–".to_owned(), |x| format!("{x:.digits$}"));
        let mut html = format!(
            "<p>Endpoint <b>{}</b> at <code>{}</code>{}, capturing {} %</p><table><tr><th>variant</th>\
             <th>model</th><th>traffic</th><th>captured</th><th>labelled</th><th>accuracy</th><th>ROC AUC</th>\
             <th>PR AUC</th><th>p50 ms</th><th>p95 ms</th></tr>",
            escape(&self.name),
            escape(&self.invocation_url),
            self.shadow.as_ref().map(|s| format!(", shadow <b>{}</b>", escape(s))).unwrap_or_default(),
            self.capture_percent
        );
        for v in &self.variants {
            let m = &v.metrics;
            html.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{:.0} %</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td>{}</td></tr>",
                escape(&v.name),
                escape(&v.model_kind),
                v.traffic_percent,
                m.captured,
                m.labelled,
                cell(m.accuracy, 3),
                cell(m.roc_auc, 3),
                cell(m.pr_auc, 3),
                cell(m.latency_p50_ms, 2),
                cell(m.latency_p95_ms, 2)
            ));
        }
        html.push_str("</table>");
        html
    }

    /// Shows the summary in a notebook ([`EndpointSummary::to_html`]).
    pub fn evcxr_display(&self) {
        emit("text/html", &self.to_html());
    }
}

/// Production against the shadow on the same requests.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ShadowReport {
    /// The shadow variant compared.
    pub variant: Option<String>,
    /// Rows both answered or the shadow failed on.
    pub compared: usize,
    /// Rows the shadow failed on.
    pub errors: usize,
    /// Share of rows where both gave the same class.
    pub agreement: Option<f64>,
    /// Pearson correlation of the two scores.
    pub score_correlation: Option<f64>,
    /// Production on these rows.
    pub production: VariantMetrics,
    /// The shadow on the rows it answered.
    pub shadow: VariantMetrics,
}

impl ShadowReport {
    /// The report as HTML: agreement, correlation, and both sides' figures.
    pub fn to_html(&self) -> String {
        let cell = |x: Option<f64>| x.map_or("–".to_owned(), |x| format!("{x:.3}"));
        let row = |side: &str, m: &VariantMetrics| {
            format!(
                "<tr><td>{side}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                m.labelled,
                cell(m.accuracy),
                cell(m.roc_auc),
                cell(m.pr_auc),
                cell(m.latency_p50_ms)
            )
        };
        format!(
            "<p>Shadow <b>{}</b> on {} mirrored rows ({} errors): agreement {}, score correlation {}</p>\
             <table><tr><th></th><th>labelled</th><th>accuracy</th><th>ROC AUC</th><th>PR AUC</th><th>p50 ms</th></tr>\
             {}{}</table>",
            escape(self.variant.as_deref().unwrap_or("–")),
            self.compared,
            self.errors,
            cell(self.agreement),
            cell(self.score_correlation),
            row("production", &self.production),
            row("shadow", &self.shadow)
        )
    }

    /// Shows the report in a notebook ([`ShadowReport::to_html`]).
    pub fn evcxr_display(&self) {
        emit("text/html", &self.to_html());
    }
}

/// A load test's figures ([`Endpoint::load_test`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LoadTestReport {
    /// The rate asked for, requests per second.
    pub rps: u32,
    /// Seconds it ran.
    pub seconds: u64,
    /// Requests sent.
    pub requests: u64,
    /// Of those, failed (no answer, or not 200).
    pub failures: u64,
    /// Requests per second reached.
    pub achieved_rps: f64,
    /// Round trip as the load generator (Goose) timed it, in whole
    /// milliseconds: 50th, 95th, 99th percentile and the maximum.
    pub round_trip_ms: [u64; 4],
    /// The endpoint's own serving time of the test's captured requests, in
    /// milliseconds: 50th, 95th and 99th percentile (`None` when it
    /// captures nothing).
    pub serving_ms: Option<[f64; 3]>,
}

impl LoadTestReport {
    /// The report as an HTML table.
    pub fn to_html(&self) -> String {
        let [p50, p95, p99, max] = self.round_trip_ms;
        let serving = self.serving_ms.map_or("–".to_owned(), |[a, b, c]| format!("{a:.3} / {b:.3} / {c:.3} ms"));
        format!(
            "<table><tr><th>asked</th><td>{} requests/s for {} s</td></tr>\
             <tr><th>sent</th><td>{} ({:.0}/s), {} failed</td></tr>\
             <tr><th>round trip (Goose, whole ms), p50 / p95 / p99 / max</th><td>{p50} / {p95} / {p99} / {max} ms</td></tr>\
             <tr><th>serving time (captured), p50 / p95 / p99</th><td>{serving}</td></tr></table>",
            self.rps, self.seconds, self.requests, self.achieved_rps, self.failures
        )
    }

    /// Shows the report in a notebook ([`LoadTestReport::to_html`]).
    pub fn evcxr_display(&self) {
        emit("text/html", &self.to_html());
    }
}

impl fmt::Display for LoadTestReport {
    /// `2000 requests in 10 s (200/s asked), 0 failed; serving p50 0.210 ms, p99 0.900 ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} requests in {} s ({:.0}/s reached, {}/s asked), {} failed",
            self.requests, self.seconds, self.achieved_rps, self.rps, self.failures
        )?;
        if let Some([p50, _, p99]) = self.serving_ms {
            write!(f, "; serving p50 {p50:.3} ms, p99 {p99:.3} ms")?;
        }
        Ok(())
    }
}

/// A prediction waiting for a person's label.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ReviewItem {
    /// Its inference id.
    pub inference_id: String,
    /// Its score.
    pub score: f64,
    /// The class predicted.
    pub class: String,
}

/// The predictions waiting for review ([`Endpoint::review_queue`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ReviewQueue {
    /// Where teammates label them.
    pub review_url: String,
    /// The band reviewed, `[low, high]`.
    pub band: [f64; 2],
    /// The predictions waiting, newest first.
    pub pending: Vec<ReviewItem>,
}

impl ReviewQueue {
    /// The queue as HTML: a link to the review page and the predictions.
    pub fn to_html(&self) -> String {
        let rows: String = self
            .pending
            .iter()
            .map(|p| {
                format!(
                    "<tr><td><code>{}</code></td><td>{:.3}</td><td>{}</td></tr>",
                    escape(&p.inference_id),
                    p.score,
                    escape(&p.class)
                )
            })
            .collect();
        format!(
            "<p>{} predictions scored {} to {} wait for a label: <a href=\"{}\" target=\"_blank\">label them</a>.</p>\
             <table><tr><th>inference id</th><th>score</th><th>predicted</th></tr>{rows}</table>",
            self.pending.len(),
            self.band[0],
            self.band[1],
            escape(&self.review_url)
        )
    }

    /// Shows the queue in a notebook ([`ReviewQueue::to_html`]).
    pub fn evcxr_display(&self) {
        emit("text/html", &self.to_html());
    }
}

/// What an endpoint's monitor watches: alarms on drift, latency and live
/// ROC AUC, checked every few minutes by the server (or on demand with
/// [`Endpoint::check_alarms`]), each alarm in the endpoint's event log;
/// with [`Monitor::auto_rollback`] an alarm puts the weights back to what
/// they were before the last weight change or promotion.
/// `Monitor::new().drift().latency_p95_ms(50.0).every_minutes(5)`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Monitor {
    /// Minutes between scheduled checks, 1–1440; 0: on demand only.
    pub every_minutes: u32,
    /// Alarm on a column that drifts from the baseline with a major PSI (≥ 0.25).
    pub drift: bool,
    /// Alarm when a variant's p95 serving time exceeds this, in milliseconds.
    pub latency_p95_ms: Option<f64>,
    /// Alarm when a variant's live ROC AUC (over 50 labelled predictions or more) falls below this.
    pub min_roc_auc: Option<f64>,
    /// Alarm when more than this percentage of the last 5 minutes' requests
    /// failed (with 20 requests or more).
    #[serde(default)]
    pub max_error_percent: Option<f64>,
    /// Roll the weights back when an alarm fires.
    pub auto_rollback: bool,
}

impl Monitor {
    /// A monitor that watches nothing yet, checked on demand only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks on its own every `minutes` (1–1440), starting now.
    #[must_use]
    pub fn every_minutes(mut self, minutes: u32) -> Self {
        self.every_minutes = minutes;
        self
    }

    /// Alarms on drift (a column drifted by its test, with a major PSI).
    #[must_use]
    pub fn drift(mut self) -> Self {
        self.drift = true;
        self
    }

    /// Alarms when a variant's p95 serving time exceeds `ms` milliseconds.
    #[must_use]
    pub fn latency_p95_ms(mut self, ms: f64) -> Self {
        self.latency_p95_ms = Some(ms);
        self
    }

    /// Alarms when a variant's live ROC AUC falls below `auc`.
    #[must_use]
    pub fn min_roc_auc(mut self, auc: f64) -> Self {
        self.min_roc_auc = Some(auc);
        self
    }

    /// Alarms when more than `percent` % of the last 5 minutes' requests
    /// failed (bad input, a model that could not score).
    #[must_use]
    pub fn max_error_percent(mut self, percent: f64) -> Self {
        self.max_error_percent = Some(percent);
        self
    }

    /// Rolls the weights back when an alarm fires.
    #[must_use]
    pub fn auto_rollback(mut self) -> Self {
        self.auto_rollback = true;
        self
    }
}

/// A monitor's last check.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Alarms {
    /// The alarms that fired (empty: all clear).
    pub alarms: Vec<String>,
    /// Whether the check rolled the weights back.
    pub rolled_back: bool,
}

impl Alarms {
    /// The alarms as HTML.
    pub fn to_html(&self) -> String {
        if self.alarms.is_empty() {
            return "<p>✓ No alarm.</p>".to_owned();
        }
        let items: String = self.alarms.iter().map(|a| format!("<li>{}</li>", escape(a))).collect();
        let rollback = if self.rolled_back { "<p>The weights were rolled back.</p>" } else { "" };
        format!("<p><b>{} alarm(s)</b></p><ul>{items}</ul>{rollback}", self.alarms.len())
    }

    /// Shows the alarms in a notebook ([`Alarms::to_html`]).
    pub fn evcxr_display(&self) {
        emit("text/html", &self.to_html());
    }
}

/// The server's answer file.
#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    ok: Option<Value>,
    #[serde(default)]
    error: Option<String>,
}

impl Endpoint {
    /// The endpoint called `name` (nothing is checked until a call).
    pub fn named(name: &str) -> Self {
        Self { name: name.to_owned() }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Scores `rows`: a table with the endpoint's feature columns (by
    /// name, in any order; other columns, such as the label, are an error
    /// the server names), up to 10,000 rows a call.
    ///
    /// # Errors
    /// [`MlError::Endpoint`] with the server's reason (unknown columns,
    /// non-numeric values, too many rows), or without an answer in time;
    /// [`MlError::Empty`] for a table without columns.
    pub fn invoke(&self, rows: &Table) -> Result<Invocation> {
        self.invoke_on(rows, None)
    }

    /// As [`Endpoint::invoke`], on the named production variant (the API's
    /// `X-Flywheel-Variant` header).
    ///
    /// # Errors
    /// As [`Endpoint::invoke`]; an unknown variant.
    pub fn invoke_variant(&self, rows: &Table, variant: &str) -> Result<Invocation> {
        self.invoke_on(rows, Some(variant))
    }

    fn invoke_on(&self, rows: &Table, variant: Option<&str>) -> Result<Invocation> {
        let started = Instant::now();
        let request = Request::Invoke { csv: rows.to_csv_string()?, variant: variant.map(str::to_owned) };
        let mut answer: Invocation = self.call_as(&request, &format!("invoke, {} rows", rows.nrows()))?;
        answer.round_trip_ms = started.elapsed().as_secs_f64() * 1000.0;
        Ok(answer)
    }

    /// Records the true class of captured predictions: the prediction
    /// `ids[i]` (from [`Invocation::inference_ids`]) was really of class
    /// `labels.get(i)`. Returns how many were recorded.
    ///
    /// # Errors
    /// [`MlError::Shape`] when the lengths differ; [`MlError::Endpoint`]
    /// for an id the endpoint did not capture (the ones before it are recorded).
    pub fn ground_truth(&self, ids: &[String], labels: &Labels) -> Result<usize> {
        if ids.len() != labels.len() {
            return Err(MlError::Shape(format!("{} inference ids but {} labels", ids.len(), labels.len())));
        }
        let labels: Vec<(String, String)> =
            ids.iter().enumerate().map(|(i, id)| (id.clone(), labels.get(i).unwrap_or_default().to_owned())).collect();
        let n = labels.len();
        self.call(&Request::GroundTruth { labels }, &format!("ground truth for {n} predictions"))?;
        Ok(n)
    }

    /// Makes `rows` (the endpoint's feature columns; up to 5,000 kept,
    /// evenly spaced) the baseline [`Endpoint::drift`] compares with.
    ///
    /// # Errors
    /// [`MlError::Endpoint`] for columns the endpoint does not take.
    pub fn set_baseline(&self, rows: &Table) -> Result<()> {
        let request = Request::Baseline { csv: rows.to_csv_string()? };
        self.call(&request, &format!("baseline of {} rows", rows.nrows())).map(drop)
    }

    /// Data drift of the newest 1,000 captures against the baseline, per
    /// column (Evidently's defaults; see [`crate::drift`]).
    ///
    /// # Errors
    /// [`MlError::Endpoint`] without a baseline or captures.
    pub fn drift(&self) -> Result<DriftReport> {
        self.call_as(&Request::Drift, "drift")
    }

    /// The variants, their weights and live figures.
    ///
    /// # Errors
    /// [`MlError::Endpoint`] for an endpoint the user cannot see.
    pub fn summary(&self) -> Result<EndpointSummary> {
        self.call_as(&Request::Summary, "summary")
    }

    /// Sets the traffic weights of the named variants (the others keep
    /// theirs), live: `endpoint.set_weights(&[("gbt", 1.0), ("linear", 0.0)])?`.
    ///
    /// # Errors
    /// [`MlError::Endpoint`] for an unknown variant, or weights that do not
    /// give a positive total (nothing changes).
    pub fn set_weights(&self, weights: &[(&str, f64)]) -> Result<EndpointSummary> {
        let weights: Vec<(String, f64)> = weights.iter().map(|(n, w)| ((*n).to_owned(), *w)).collect();
        let what = weights.iter().map(|(n, w)| format!("{n} {w}")).collect::<Vec<_>>().join(", ");
        self.call_as(&Request::Weights { weights }, &format!("weights {what}"))
    }

    /// Puts `model` beside production as the shadow variant `name` (in
    /// place of any other): it gets a copy of `sample_percent` % of the
    /// requests after production has answered, and its answers are only
    /// compared ([`Endpoint::shadow_report`]).
    ///
    /// # Errors
    /// [`MlError::Endpoint`] for a name a production variant has, a
    /// percentage outside 1–100, or a model the server cannot serve or
    /// that takes other columns; [`MlError::Write`] when the model cannot be written.
    pub fn set_shadow<M: SavedModel>(&self, name: &str, model: &M, sample_percent: u8) -> Result<EndpointSummary> {
        let (file, path) = write_model(name, &model.to_json()?)?;
        let variant = DeployedVariant { name: name.to_owned(), file, weight: 0.0 };
        let answer = self.call_as(&Request::Shadow { variant, sample_percent }, &format!("shadow {name}"));
        std::fs::remove_file(path).ok();
        answer
    }

    /// Production against the shadow on the mirrored requests.
    ///
    /// # Errors
    /// [`MlError::Endpoint`] for an endpoint the user cannot see.
    pub fn shadow_report(&self) -> Result<ShadowReport> {
        self.call_as(&Request::ShadowReport, "shadow report")
    }

    /// Promotes the shadow: it becomes a production variant with all the
    /// traffic; the others stay at weight 0, so rolling back is one
    /// [`Endpoint::set_weights`].
    ///
    /// # Errors
    /// [`MlError::Endpoint`] when the endpoint has no shadow.
    pub fn promote_shadow(&self) -> Result<EndpointSummary> {
        self.call_as(&Request::PromoteShadow, "promote the shadow")
    }

    /// Sets the endpoint's monitor ([`Monitor`]); a schedule's first
    /// check runs at once.
    ///
    /// # Errors
    /// [`MlError::Endpoint`] for settings out of range or a monitor that watches nothing.
    pub fn set_monitor(&self, monitor: &Monitor) -> Result<()> {
        self.call(&Request::SetMonitor { monitor: monitor.clone() }, "monitor").map(drop)
    }

    /// Checks the monitor's alarms now (rolling back when they fire and
    /// the monitor says so).
    ///
    /// # Errors
    /// [`MlError::Endpoint`] when the endpoint has no monitor.
    pub fn check_alarms(&self) -> Result<Alarms> {
        self.call_as(&Request::CheckAlarms, "check alarms")
    }

    /// Sends predictions scored `low` to `high` (in [0, 1]) to the human
    /// review queue: teammates label them on the endpoint's review page
    /// (`/endpoints/<name>/review`), and each label becomes the
    /// prediction's ground truth.
    ///
    /// # Errors
    /// [`MlError::Endpoint`] for a band outside 0 ≤ low ≤ high ≤ 1.
    pub fn set_review(&self, low: f64, high: f64) -> Result<()> {
        self.call(&Request::SetReview { low, high }, &format!("review {low} to {high}")).map(drop)
    }

    /// The captured predictions waiting for a label, newest first (at most 50).
    ///
    /// # Errors
    /// [`MlError::Endpoint`] when the endpoint has no review band.
    pub fn review_queue(&self) -> Result<ReviewQueue> {
        self.call_as(&Request::ReviewQueue, "review queue")
    }

    /// Load-tests the endpoint: the server sends `rps` single-row requests
    /// a second for `seconds` (at most 5,000 and 60), drawn in turn from
    /// `rows` (the endpoint's columns; the first 1,000 rows), with the
    /// Goose load generator, and reports the rate it reached, Goose's round
    /// trips and the endpoint's serving times. The cell waits for the end.
    ///
    /// # Errors
    /// [`MlError::Endpoint`] for a rate or duration out of range, rows the
    /// endpoint does not take, or a load test of it already running.
    pub fn load_test(&self, rows: &Table, rps: u32, seconds: u32) -> Result<LoadTestReport> {
        let request = Request::LoadTest { csv: rows.head(1_000).to_csv_string()?, rps, seconds };
        self.call_as(&request, &format!("load test, {rps} requests/s for {seconds} s"))
    }

    fn call_as<T: serde::de::DeserializeOwned>(&self, request: &Request, what: &str) -> Result<T> {
        let value = self.call(request, what)?;
        serde_json::from_value(value).map_err(|e| {
            MlError::Endpoint(format!("{}: the server's answer to {what} is not understood: {e}", self.name))
        })
    }

    /// Writes the request, prints its line and waits for the answer (see the module docs).
    fn call(&self, request: &Request, what: &str) -> Result<Value> {
        self.call_waiting(request, what, ANSWER_TIMEOUT)
    }

    fn call_waiting(&self, request: &Request, what: &str, timeout: Duration) -> Result<Value> {
        let dir = job_dir();
        let token = new_token();
        let mut body = serde_json::to_value(request).map_err(|e| MlError::Write(format!("the request: {e}")))?;
        body["endpoint"] = Value::from(self.name.clone());
        let path = dir.join(format!("endpoint-{token}.json"));
        std::fs::write(&path, body.to_string()).map_err(|e| MlError::Write(format!("{}: {e}", path.display())))?;
        announce(&format!("[endpoint {}] {what}{REQUEST_LINE_END}{token})", self.name));
        let answer_path: PathBuf = dir.join("data").join(format!("endpoint-{token}.json"));
        let started = Instant::now();
        let text = loop {
            match std::fs::read_to_string(&answer_path) {
                Ok(text) => break text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && started.elapsed() < timeout => {
                    std::thread::sleep(POLL);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    std::fs::remove_file(&path).ok();
                    return Err(MlError::Endpoint(format!(
                        "{}: no answer to {what} from the server within {} s (is this a Flywheel kernel?)",
                        self.name,
                        timeout.as_secs()
                    )));
                }
                Err(e) => return Err(MlError::Endpoint(format!("{}: {e}", answer_path.display()))),
            }
        };
        std::fs::remove_file(&path).ok();
        std::fs::remove_file(&answer_path).ok();
        let answer: Answer = serde_json::from_str(&text)
            .map_err(|e| MlError::Endpoint(format!("{}: the server's answer is not JSON: {e}", self.name)))?;
        match (answer.ok, answer.error) {
            (_, Some(error)) => Err(MlError::Endpoint(format!("{}: {error}", self.name))),
            (Some(ok), None) => Ok(ok),
            (None, None) => Ok(Value::Null),
        }
    }
}

impl fmt::Display for Endpoint {
    /// `endpoint fraud-v1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "endpoint {}", self.name)
    }
}

/// Prints a request line (see the module docs).
#[cfg(not(test))]
fn announce(line: &str) {
    println!("{line}");
}

#[cfg(test)]
fn announce(line: &str) {
    tests::ANNOUNCED.with_borrow_mut(|lines| lines.push(line.to_owned()));
}

/// The request token of a printed line, if it is a request line
/// (`[endpoint <name>] … (request <16 hex digits>)`): what the server looks for.
pub fn request_token(line: &str) -> Option<&str> {
    let line = line.trim_end();
    if !line.starts_with("[endpoint ") {
        return None;
    }
    let start = line.rfind(REQUEST_LINE_END)? + REQUEST_LINE_END.len();
    let token = line.get(start..)?.strip_suffix(')')?;
    (token.len() == 16 && token.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))).then_some(token)
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::job::set_test_dir;
    use crate::{GradientBoostedTrees, datasets};

    thread_local! {
        pub(super) static ANNOUNCED: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    }

    fn working_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("flywheel-endpoint-{}-{name}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(dir.join("data")).unwrap();
        set_test_dir(&dir);
        ANNOUNCED.with_borrow_mut(Vec::clear);
        dir
    }

    /// Plays the server: answers the next request file it finds with `answer(request)`.
    fn serve_once(dir: PathBuf, answer: impl FnOnce(Value) -> Value + Send + 'static) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            for _ in 0..500 {
                let found = std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()).find_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let token = name.strip_prefix("endpoint-")?.strip_suffix(".json")?.to_owned();
                    (token.len() == 16).then_some(token)
                });
                if let Some(token) = found {
                    let request: Value = serde_json::from_str(
                        &std::fs::read_to_string(dir.join(format!("endpoint-{token}.json"))).unwrap(),
                    )
                    .unwrap();
                    let tmp = dir.join("data").join("answer.tmp");
                    std::fs::write(&tmp, answer(request).to_string()).unwrap();
                    std::fs::rename(tmp, dir.join("data").join(format!("endpoint-{token}.json"))).unwrap();
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    }

    #[test]
    fn an_invocation_goes_out_as_a_request_file_and_a_line_and_its_answer_comes_back() {
        let dir = working_dir("invoke");
        let server = serve_once(dir.clone(), |request| {
            assert_eq!(request["endpoint"], "fraud-v1");
            assert_eq!(request["action"], "invoke");
            assert_eq!(request["csv"], "a,b\n1,2\n3,4\n");
            serde_json::json!({"ok": {"variant": "v1", "captured": true, "predictions": [
                {"inference_id": "i-1", "score": 0.9, "class": "1"},
                {"inference_id": "i-2", "score": 0.1, "class": "0"}]}})
        });
        let rows = Table::from_csv_str("a,b\n1,2\n3,4\n").unwrap();
        let answer = Endpoint::named("fraud-v1").invoke(&rows).unwrap();
        server.join().unwrap();
        assert_eq!(answer.variant, "v1");
        assert_eq!(answer.inference_ids(), ["i-1", "i-2"]);
        assert_eq!(answer.scores().to_vec(), [0.9, 0.1]);
        let line = ANNOUNCED.with_borrow(|l| l[0].clone());
        assert!(line.starts_with("[endpoint fraud-v1] invoke, 2 rows (request "), "{line}");
        let token = request_token(&line).unwrap();
        assert!(!dir.join(format!("endpoint-{token}.json")).exists(), "the request file is removed after the answer");
        assert!(!dir.join("data").join(format!("endpoint-{token}.json")).exists(), "and so is the answer");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn the_servers_refusal_is_the_error_and_a_silent_server_times_out() {
        let dir = working_dir("refused");
        let server = serve_once(dir.clone(), |_| serde_json::json!({"error": "Endpoint \"x\" has no variant \"b\"."}));
        let err = Endpoint::named("x").set_weights(&[("b", 1.0)]).unwrap_err();
        server.join().unwrap();
        assert_eq!(err, MlError::Endpoint("x: Endpoint \"x\" has no variant \"b\".".into()));
        let err = Endpoint::named("x").call_waiting(&Request::Drift, "drift", Duration::from_millis(50)).unwrap_err();
        assert!(matches!(&err, MlError::Endpoint(m) if m.contains("no answer to drift")), "{err}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "only data/ is left");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_deployment_writes_each_model_and_names_the_files_in_its_request() {
        let dir = working_dir("deploy");
        let iris = datasets::iris();
        let model = GradientBoostedTrees::params().iterations(3).fit(&iris).unwrap();
        let check_dir = dir.clone();
        let server = serve_once(dir.clone(), move |request| {
            assert_eq!(request["action"], "deploy");
            let variants = request["variants"].as_array().unwrap();
            assert_eq!((variants[0]["name"].as_str(), variants[0]["weight"].as_f64()), (Some("v1"), Some(1.0)));
            let file = variants[0]["file"].as_str().unwrap();
            let saved = std::fs::read_to_string(check_dir.join(file)).unwrap();
            assert!(saved.contains("\"flywheel_model\":\"GradientBoostedTreesModel\""));
            assert_eq!(request["capture_percent"], 100);
            serde_json::json!({"ok": {}})
        });
        let endpoint = model.deploy("iris").unwrap();
        server.join().unwrap();
        assert_eq!(endpoint.name(), "iris");
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
        assert_eq!(left, ["data"], "the model files and the request are removed once deployed");
        assert!(matches!(Deployment::new("empty").deploy(), Err(MlError::InvalidParams(_))));
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn only_request_lines_carry_a_token() {
        assert_eq!(request_token("[endpoint a] drift (request 0123456789abcdef)\n"), Some("0123456789abcdef"));
        for not in [
            "[endpoint a] drift (request 0123456789ABCDEF)",
            "[endpoint a] drift (request 0123)",
            "endpoint a drift (request 0123456789abcdef)",
            "[endpoint a] drift (request ../../etc/pass)",
        ] {
            assert_eq!(request_token(not), None, "{not}");
        }
    }
}
