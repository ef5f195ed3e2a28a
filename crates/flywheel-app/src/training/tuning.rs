//! Hyper-parameter tuning jobs (SageMaker's): trials of one algorithm whose
//! hyper-parameters are drawn from ranges, each trial an ordinary training
//! job of the pool (so it queues, shares fairly and counts against the
//! quota like any other), searching for the best value of one of the
//! trials' final metrics.
//!
//! **Search.** `random`, or `tpe`: the Tree-structured Parzen Estimator
//! (Bergstra et al., *Algorithms for Hyper-Parameter Optimization*, 2011)
//! from the `tpe` crate (sile/tpe, by the author of the kurobako benchmark
//! suite; univariate, one estimator per hyper-parameter like Optuna's
//! default `TPESampler`), with Optuna's defaults: the first 10 trials drawn
//! at random, then 24 candidates per draw, γ = 0.1. Chosen over writing our
//! own: the estimator is the delicate part, and that crate is small, well
//! kept and tested. A log-scale range is searched on the logarithm; an
//! integer range on a continuous one, rounded down.
//!
//! **The controller** ([`run`]) is stateless between ticks: each second it
//! rebuilds every active tuning job's search from its finished trials (told
//! in trial order) and starts trials until `budget.parallel` are in flight
//! or `budget.trials` have started; trial `n` draws with a generator seeded
//! from the job's seed and `n`. So a server restart loses nothing and
//! repeats nothing. With `early_stopping` (ASHA or the median rule, see
//! [`super::stopping`]) it also stops running trials whose per-round metric
//! lags; a stopped trial is `cancelled` with the rule's reason, and its
//! slot goes to the next trial.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use flywheel_domain::{JobState, TrainingJob, TuningJob, TuningJobId, User, WorkshopId};
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use super::stopping::{EarlyStopping, Other, Reached, curve_of};
use super::{DataChannels, JobRequest, Resources, TrainingError, job_context, submit_checked};
use crate::{App, now};

/// Trials Optuna's TPE draws at random before modelling.
pub const STARTUP_TRIALS: usize = 10;
/// Candidates TPE scores per draw (Optuna's default).
pub const CANDIDATES: usize = 24;
/// Most trials one tuning job may have.
pub const MAX_TRIALS: u32 = 200;
/// Most trials one tuning job may run at once.
pub const MAX_PARALLEL: u32 = 8;

/// What a participant asks for (`POST /api/v1/tuning-jobs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuningRequest {
    /// The algorithm every trial trains.
    pub algorithm: String,
    /// Hyper-parameters every trial shares (those not searched).
    #[serde(default)]
    pub hyperparameters: serde_json::Map<String, serde_json::Value>,
    /// The data channels.
    pub data: DataChannels,
    /// Hyper-parameter name → the range searched.
    pub ranges: BTreeMap<String, ParamRange>,
    /// What to optimise.
    pub objective: Objective,
    /// How many trials.
    pub budget: Budget,
    /// `tpe` (default) or `random`.
    #[serde(default)]
    pub strategy: Strategy,
    /// Seed of the draws (same seed and results, same trials).
    #[serde(default)]
    pub seed: u64,
    /// Stops lagging trials early: ASHA or the median rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<EarlyStopping>,
}

/// A searched range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", deny_unknown_fields)]
pub enum ParamRange {
    /// A number in `[min, max]`.
    Continuous {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
        /// Search on the logarithm (for learning rates, regularisation).
        #[serde(default)]
        log: bool,
    },
    /// An integer in `[min, max]`.
    Integer {
        /// Lower bound.
        min: i64,
        /// Upper bound.
        max: i64,
        /// Search on the logarithm.
        #[serde(default)]
        log: bool,
    },
    /// One of these values.
    Categorical {
        /// The values.
        values: Vec<serde_json::Value>,
    },
}

/// The metric to optimise and which way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Objective {
    /// A final metric of the trials (`validation_roc_auc`, `validation_rmse`, …).
    pub metric: String,
    /// `maximize` or `minimize`.
    pub direction: Direction,
}

/// Which way is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Larger is better.
    Maximize,
    /// Smaller is better.
    Minimize,
}

/// How many trials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Trials in all (1–[`MAX_TRIALS`]).
    pub trials: u32,
    /// Trials at once (1–[`MAX_PARALLEL`]).
    #[serde(default = "one")]
    pub parallel: u32,
}

fn one() -> u32 {
    1
}

/// How trials are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// TPE after [`STARTUP_TRIALS`] random ones.
    #[default]
    Tpe,
    /// Uniform draws (log-uniform on a log scale).
    Random,
}

/// One searched dimension, as the optimiser sees it: a continuous range or a category index.
struct Dimension {
    name: String,
    range: ParamRange,
    optimizer: tpe::TpeOptimizer,
}

impl Dimension {
    /// The optimiser's space: `[lo, hi)` (log applied), or categories.
    fn space(range: &ParamRange) -> Result<tpe::range::Range, String> {
        let bounds = |lo: f64, hi: f64, log: bool| if log { (lo.ln(), hi.ln()) } else { (lo, hi) };
        match range {
            ParamRange::Continuous { min, max, log } => {
                let (lo, hi) = bounds(*min, *max, *log);
                tpe::range(lo, hi).map_err(|e| e.to_string())
            }
            #[expect(clippy::cast_precision_loss, reason = "hyper-parameter bounds are small integers")]
            ParamRange::Integer { min, max, log } => {
                let (lo, hi) = bounds(*min as f64, (*max + 1) as f64, *log);
                tpe::range(lo, hi).map_err(|e| e.to_string())
            }
            ParamRange::Categorical { values } => tpe::categorical_range(values.len()).map_err(|e| e.to_string()),
        }
    }

    /// The hyper-parameter's value for a point of the space.
    fn value(&self, x: f64) -> serde_json::Value {
        match &self.range {
            ParamRange::Continuous { log, .. } => serde_json::json!(if *log { x.exp() } else { x }),
            #[expect(clippy::cast_possible_truncation, reason = "inside the integer range by construction")]
            ParamRange::Integer { min, max, log } => {
                let v = if *log { x.exp() } else { x }.floor() as i64;
                serde_json::json!(v.clamp(*min, *max))
            }
            #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "a category index")]
            ParamRange::Categorical { values } => values.get(x as usize).cloned().unwrap_or_default(),
        }
    }

    /// The point of the space for a value a trial used.
    fn point(&self, value: &serde_json::Value) -> Option<f64> {
        match &self.range {
            ParamRange::Continuous { log, .. } | ParamRange::Integer { log, .. } => {
                let v = value.as_f64()?;
                let x = if *log { v.ln() } else { v };
                // An integer's point: the middle of its unit, inside the range.
                Some(if matches!(self.range, ParamRange::Integer { .. }) && !*log { x + 0.5 } else { x })
            }
            #[expect(clippy::cast_precision_loss, reason = "a category index")]
            ParamRange::Categorical { values } => values.iter().position(|v| v == value).map(|i| i as f64),
        }
    }
}

/// A search over the ranges: draws the next trial's hyper-parameters
/// from what the finished trials scored.
pub struct Search {
    strategy: Strategy,
    dims: Vec<Dimension>,
    told: usize,
}

impl Search {
    /// A search over `ranges`.
    ///
    /// # Errors
    /// An empty or inverted range, a log range that is not positive.
    pub fn new(strategy: Strategy, ranges: &BTreeMap<String, ParamRange>) -> Result<Self, String> {
        let mut dims = Vec::new();
        for (name, range) in ranges {
            let positive = match range {
                ParamRange::Continuous { min, log: true, .. } => *min > 0.0,
                #[expect(clippy::cast_precision_loss, reason = "hyper-parameter bounds are small integers")]
                ParamRange::Integer { min, log: true, .. } => (*min as f64) > 0.0,
                _ => true,
            };
            if !positive {
                return Err(format!("the range of {name} is on a log scale, so its min must be above 0"));
            }
            let space = Dimension::space(range).map_err(|e| format!("the range of {name}: {e}"))?;
            let estimator = match range {
                ParamRange::Categorical { .. } => tpe::histogram_estimator(),
                _ => tpe::parzen_estimator(),
            };
            let optimizer = tpe::TpeOptimizerBuilder::new()
                .gamma(0.1)
                .candidates(CANDIDATES)
                .build(estimator, space)
                .map_err(|e| e.to_string())?;
            dims.push(Dimension { name: name.clone(), range: range.clone(), optimizer });
        }
        Ok(Self { strategy, dims, told: 0 })
    }

    /// Tells the search what a trial with `params` scored (`loss`: smaller is better).
    pub fn tell(&mut self, params: &serde_json::Map<String, serde_json::Value>, loss: f64) {
        if !loss.is_finite() {
            return;
        }
        for d in &mut self.dims {
            if let Some(x) = params.get(&d.name).and_then(|v| d.point(v)) {
                let _ = d.optimizer.tell(x, loss);
            }
        }
        self.told += 1;
    }

    /// The hyper-parameters of the next trial, drawn with `seed`.
    pub fn ask(&mut self, seed: u64) -> serde_json::Map<String, serde_json::Value> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let random = self.strategy == Strategy::Random || self.told < STARTUP_TRIALS;
        let mut params = serde_json::Map::new();
        for d in &mut self.dims {
            let space = Dimension::space(&d.range).expect("checked when the search was made");
            let (lo, hi) = (space.start(), space.end());
            let x = if random {
                // A categorical space is [0, n): its floor is an index.
                lo + rng.random_range(0.0..1.0) * (hi - lo)
            } else {
                // The estimator fails only on an empty history; the middle of the range then.
                d.optimizer.ask(&mut rng).unwrap_or(f64::midpoint(lo, hi))
            };
            params.insert(d.name.clone(), d.value(x));
        }
        params
    }
}

/// A tuning job's trial seed: the job's seed mixed with the trial's number.
fn trial_seed(seed: u64, trial: usize) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (trial as u64).wrapping_add(1).wrapping_mul(0xBF58_476D_1CE4_E5B9)
}

/// A tuning job as people see it: its trials and the best.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TuningView {
    /// The stored job.
    pub job: TuningJob,
    /// Its trials, in order: the training job, its searched hyper-parameters, its objective value.
    pub trials: Vec<Trial>,
}

/// One trial.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trial {
    /// The training job.
    pub job: TrainingJob,
    /// The searched hyper-parameters it drew.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Its objective value, once it has completed.
    pub value: Option<f64>,
    /// With early stopping: the rounds it has run (of its early-stopping metric).
    pub rounds: Option<u64>,
    /// With early stopping: that metric's curve.
    #[serde(skip)]
    pub curve: Arc<Vec<Reached>>,
}

/// Checks a request: the base job as a training job would be checked (the
/// ranges' ends and every category too), the budget, the ranges.
async fn check(app: &App, user: &User, req: &TuningRequest) -> Result<(), TrainingError> {
    let invalid = |m: String| Err(TrainingError::Invalid(m));
    if req.budget.trials == 0 || req.budget.trials > MAX_TRIALS {
        return invalid(format!("budget.trials must be 1 to {MAX_TRIALS}"));
    }
    if req.budget.parallel == 0 || req.budget.parallel > MAX_PARALLEL {
        return invalid(format!("budget.parallel must be 1 to {MAX_PARALLEL}"));
    }
    if req.ranges.is_empty() {
        return invalid("ranges is empty: name at least one hyper-parameter to search".into());
    }
    Search::new(req.strategy, &req.ranges).map_err(TrainingError::Invalid)?;
    if let Some(stopping) = &req.early_stopping {
        stopping.check().map_err(TrainingError::Invalid)?;
    }
    // Each range's ends (and each category) must be values the algorithm accepts.
    let ends = |r: &ParamRange| -> Vec<serde_json::Value> {
        match r {
            ParamRange::Continuous { min, max, .. } => vec![serde_json::json!(min), serde_json::json!(max)],
            ParamRange::Integer { min, max, .. } => vec![serde_json::json!(min), serde_json::json!(max)],
            ParamRange::Categorical { values } => values.clone(),
        }
    };
    for (name, range) in &req.ranges {
        if req.hyperparameters.contains_key(name) {
            return invalid(format!("{name} is both fixed in hyperparameters and searched in ranges"));
        }
        for value in ends(range) {
            let mut hyperparameters = req.hyperparameters.clone();
            hyperparameters.insert(name.clone(), value);
            let spec = flywheel_ml::training::TrainingSpec {
                algorithm: req.algorithm.clone(),
                hyperparameters,
                target: req.data.target.clone(),
            };
            spec.validate().map_err(|e| TrainingError::Invalid(format!("ranges.{name}: {}", super::ml_message(&e))))?;
        }
    }
    let base = base_request(req, serde_json::Map::new(), None);
    super::check_request(app, user, &base, &[]).await.map(drop)
}

fn base_request(
    req: &TuningRequest,
    drawn: serde_json::Map<String, serde_json::Value>,
    tuning: Option<(TuningJobId, usize)>,
) -> JobRequest {
    let mut hyperparameters = req.hyperparameters.clone();
    hyperparameters.extend(drawn);
    JobRequest {
        algorithm: req.algorithm.clone(),
        hyperparameters,
        data: req.data.clone(),
        resources: Resources::default(),
        cell_token: None,
        tuning: tuning.map(|(id, trial)| super::TrialOf {
            tuning_job: id.to_string(),
            trial,
            searched: serde_json::Map::new(),
        }),
    }
}

/// Queues a tuning job for `user`; its first trials start within a second.
///
/// # Errors
/// [`TrainingError::Invalid`] naming what is wrong (an unknown algorithm or
/// hyper-parameter, a range the algorithm does not accept, a budget out of
/// bounds), [`TrainingError::NoDataset`], storage.
pub async fn submit(
    app: &App,
    user: &User,
    workshop: Option<WorkshopId>,
    req: &TuningRequest,
) -> Result<TuningView, TrainingError> {
    check(app, user, req).await?;
    let (workshop, team) = job_context(app, user, workshop).await?;
    let job = TuningJob {
        id: TuningJobId(uuid::Uuid::new_v4()),
        owner: user.id,
        workshop,
        team,
        spec: serde_json::to_value(req).expect("a tuning request serialises"),
        state: JobState::Pending,
        best: None,
        error: None,
        created_at: now(),
        finished_at: None,
    };
    app.db.create_tuning_job(&job).await?;
    app.training.wake();
    Ok(TuningView { job, trials: Vec::new() })
}

/// The tuning job `id` if `user` may see it (its owner, their team, its workshop's staff).
///
/// # Errors
/// [`TrainingError::NotFound`], storage.
pub async fn visible(app: &App, user: &User, id: TuningJobId) -> Result<TuningView, TrainingError> {
    let job = app.db.tuning_job(id).await?.ok_or(TrainingError::NotFound)?;
    // Seen as its trials are: the same owner, team and workshop.
    if !super::may_see(app, user, job.owner, job.workshop, job.team).await? {
        return Err(TrainingError::NotFound);
    }
    view(app, job).await
}

/// The request a stored tuning job was made from.
fn request_of(job: &TuningJob) -> Result<TuningRequest, String> {
    serde_json::from_value(job.spec.clone()).map_err(|e| format!("its request cannot be read: {e}"))
}

async fn view(app: &App, job: TuningJob) -> Result<TuningView, TrainingError> {
    let req = request_of(&job).ok();
    let metric = req.as_ref().map(|r| r.objective.metric.clone()).unwrap_or_default();
    let stopping = req.and_then(|r| r.early_stopping);
    let mut trials = Vec::new();
    for t in app.db.tuning_trials(job.id).await? {
        let params = t.spec.pointer("/tuning/searched").and_then(|v| v.as_object().cloned()).unwrap_or_default();
        let value = (t.state == JobState::Completed)
            .then(|| t.final_metrics.get(&metric).and_then(serde_json::Value::as_f64))
            .flatten();
        let curve = match &stopping {
            Some(s) => curve(app, &t, s.metric()).await?,
            None => Arc::default(),
        };
        let rounds = stopping.as_ref().map(|_| curve.last().map_or(0, |r| r.round));
        trials.push(Trial { job: t, params, value, rounds, curve });
    }
    Ok(TuningView { job, trials })
}

/// `metric`'s curve of a trial; an ended trial's is read once.
async fn curve(app: &App, trial: &TrainingJob, metric: &str) -> Result<Arc<Vec<Reached>>, TrainingError> {
    let key = (trial.id, metric.to_owned());
    let ended = || app.training.ended_curves.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(curve) = ended().get(&key) {
        return Ok(curve.clone());
    }
    let curve = Arc::new(curve_of(&app.db.job_events(trial.id, 0).await?, metric));
    if !trial.state.is_active() {
        ended().insert(key, curve.clone());
    }
    Ok(curve)
}

/// Stops the running trials that `stopping` says lag the others.
async fn stop_lagging(app: &App, stopping: &EarlyStopping, trials: &[Trial]) -> Result<(), TrainingError> {
    for (i, t) in trials.iter().enumerate().filter(|(_, t)| t.job.state == JobState::Running) {
        let others: Vec<Other<'_>> = trials
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, o)| Other { curve: &o.curve, completed: o.job.state == JobState::Completed })
            .collect();
        if let Some(why) = stopping.verdict(&t.curve, &others)
            && app.db.cancel_training_job(t.job.id, &why, now()).await?
        {
            tracing::info!(job = %t.job.id, %why, "a tuning trial was stopped early");
            app.training.wake();
        }
    }
    Ok(())
}

/// Cancels a tuning job and its unfinished trials.
///
/// # Errors
/// [`TrainingError::NotFound`], [`TrainingError::Ended`], storage.
pub async fn cancel(app: &App, user: &User, id: TuningJobId) -> Result<TuningView, TrainingError> {
    let view = visible(app, user, id).await?;
    let why = format!("cancelled by {}", user.name.as_str());
    if !app.db.update_tuning_job(id, JobState::Cancelled, view.job.best, Some(&why), now()).await? {
        return Err(TrainingError::Ended("ended"));
    }
    for t in view.trials.iter().filter(|t| t.job.state.is_active()) {
        app.db.cancel_training_job(t.job.id, "its tuning job was cancelled", now()).await?;
    }
    app.training.wake();
    visible(app, user, id).await
}

/// The controller: every second (or when woken), advances every active tuning job.
pub async fn run(app: App) {
    loop {
        match app.db.active_tuning_jobs().await {
            Ok(jobs) => {
                for job in jobs {
                    let id = job.id;
                    if let Err(e) = advance(&app, job).await {
                        tracing::warn!(tuning_job = %id, error = %e, "could not advance a tuning job");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not list tuning jobs"),
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), app.training.wake.notified()).await;
    }
}

/// Starts trials up to the budget, records the best, and ends the job when every trial has.
async fn advance(app: &App, job: TuningJob) -> Result<(), TrainingError> {
    let req = match request_of(&job) {
        Ok(r) => r,
        Err(e) => {
            app.db.update_tuning_job(job.id, JobState::Failed, None, Some(&e), now()).await?;
            return Ok(());
        }
    };
    let view = view(app, job).await?;
    let job = view.job;
    let sign = if req.objective.direction == Direction::Maximize { -1.0 } else { 1.0 };
    let mut search = Search::new(req.strategy, &req.ranges).map_err(TrainingError::Invalid)?;
    let mut best: Option<(f64, flywheel_domain::TrainingJobId)> = None;
    for t in &view.trials {
        if let Some(v) = t.value {
            search.tell(&t.params, sign * v);
            if best.is_none_or(|(b, _)| sign * v < b) {
                best = Some((sign * v, t.job.id));
            }
        }
    }
    let completed_without_metric = view
        .trials
        .iter()
        .find(|t| t.job.state == JobState::Completed && t.value.is_none())
        .map(|t| t.job.final_metrics.keys().cloned().collect::<Vec<_>>());
    if let Some(available) = completed_without_metric {
        let why = format!("the trials do not report {:?}; they report {}", req.objective.metric, available.join(", "));
        app.db.update_tuning_job(job.id, JobState::Failed, None, Some(&why), now()).await?;
        return Ok(());
    }
    if let Some(stopping) = &req.early_stopping {
        if view.trials.iter().any(|t| t.job.state == JobState::Completed && t.curve.is_empty()) {
            let why = format!(
                "the trials do not report {:?} round by round, so early stopping cannot judge them \
                 (boosted trees report validation_log_loss or validation_rmse with a validation table; k-means best_inertia)",
                stopping.metric()
            );
            app.db.update_tuning_job(job.id, JobState::Failed, None, Some(&why), now()).await?;
            return Ok(());
        }
        stop_lagging(app, stopping, &view.trials).await?;
    }
    let active = view.trials.iter().filter(|t| t.job.state.is_active()).count();
    let started = view.trials.len();
    let budget = req.budget.trials as usize;
    if started >= budget && active == 0 {
        let (state, error) = match best {
            Some(_) => (JobState::Completed, None),
            None => {
                let first = view.trials.iter().find_map(|t| t.job.error.clone()).unwrap_or_default();
                (JobState::Failed, Some(format!("no trial completed; the first error: {first}")))
            }
        };
        app.db.update_tuning_job(job.id, state, best.map(|b| b.1), error.as_deref(), now()).await?;
        return Ok(());
    }
    let owner = app.db.user(job.owner).await?.ok_or(TrainingError::NotFound)?;
    let mut starting = started;
    while starting < budget && active + (starting - started) < req.budget.parallel as usize {
        let drawn = search.ask(trial_seed(req.seed, starting));
        let mut request = base_request(&req, drawn.clone(), Some((job.id, starting)));
        if let Some(t) = request.tuning.as_mut() {
            t.searched = drawn;
        }
        match submit_checked(app, &owner, job.workshop, &request, Vec::new()).await {
            Ok(_) => starting += 1,
            Err(TrainingError::OverQuota { .. }) => break, // the next tick tries again
            Err(e) => {
                let why = format!("trial {starting} could not be queued: {e}");
                app.db.update_tuning_job(job.id, JobState::Failed, best.map(|b| b.1), Some(&why), now()).await?;
                return Ok(());
            }
        }
    }
    let state = if starting > 0 { JobState::Running } else { JobState::Pending };
    app.db.update_tuning_job(job.id, state, best.map(|b| b.1), None, now()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges() -> BTreeMap<String, ParamRange> {
        BTreeMap::from([
            ("learning_rate".into(), ParamRange::Continuous { min: 0.01, max: 1.0, log: true }),
            ("max_depth".into(), ParamRange::Integer { min: 1, max: 8, log: false }),
            ("kind".into(), ParamRange::Categorical { values: vec![serde_json::json!("a"), serde_json::json!("b")] }),
        ])
    }

    #[test]
    fn draws_stay_in_their_ranges_and_repeat_with_their_seed() {
        for strategy in [Strategy::Random, Strategy::Tpe] {
            let mut search = Search::new(strategy, &ranges()).unwrap();
            for trial in 0..30 {
                let p = search.ask(trial_seed(7, trial));
                let lr = p["learning_rate"].as_f64().unwrap();
                let depth = p["max_depth"].as_i64().unwrap();
                assert!((0.01..=1.0).contains(&lr) && (1..=8).contains(&depth), "{p:?}");
                assert!(p["kind"] == "a" || p["kind"] == "b", "{p:?}");
                let again = Search::new(strategy, &ranges()).unwrap().ask(trial_seed(7, trial));
                if search.told == 0 {
                    assert_eq!(p, again);
                }
                // A bowl with its floor at learning_rate 0.1, depth 3, kind "b".
                let loss = (lr.ln() - 0.1_f64.ln()).powi(2)
                    + f64::from(u8::try_from((depth - 3).abs()).unwrap())
                    + if p["kind"] == "b" { 0.0 } else { 1.0 };
                search.tell(&p, loss);
            }
        }
    }

    /// On a smooth bowl, TPE's best after 30 trials beats random search's on most seeds.
    #[test]
    fn tpe_beats_random_search_on_a_bowl() {
        let bowl = |p: &serde_json::Map<String, serde_json::Value>| {
            let lr = p["learning_rate"].as_f64().unwrap();
            let depth = p["max_depth"].as_i64().unwrap();
            (lr.ln() - 0.1_f64.ln()).powi(2) + 0.3 * f64::from(u8::try_from((depth - 3).abs()).unwrap())
        };
        let ranges: BTreeMap<String, ParamRange> = ranges().into_iter().filter(|(k, _)| k != "kind").collect();
        let best = |strategy, seed| {
            let mut search = Search::new(strategy, &ranges).unwrap();
            let mut best = f64::INFINITY;
            for trial in 0..30 {
                let p = search.ask(trial_seed(seed, trial));
                let loss = bowl(&p);
                best = best.min(loss);
                search.tell(&p, loss);
            }
            best
        };
        let wins = (0..10).filter(|&seed| best(Strategy::Tpe, seed) < best(Strategy::Random, seed)).count();
        assert!(wins >= 7, "TPE won {wins} of 10 seeds");
    }

    #[test]
    fn bad_ranges_are_refused() {
        let log_zero = BTreeMap::from([("l2".into(), ParamRange::Continuous { min: 0.0, max: 1.0, log: true })]);
        assert!(Search::new(Strategy::Tpe, &log_zero).is_err_and(|e| e.contains("above 0")));
        let inverted = BTreeMap::from([("l2".into(), ParamRange::Continuous { min: 2.0, max: 1.0, log: false })]);
        assert!(Search::new(Strategy::Tpe, &inverted).is_err_and(|e| e.contains("l2")));
    }
}
