//! Early stopping of a tuning job's trials: a trial whose per-round metric
//! lags the others' is stopped before its last round, and its worker time
//! goes to the next trial. The per-round metrics the library reports
//! (`validation_log_loss`, `validation_rmse`, `best_inertia`) are losses, so
//! smaller is better here.
//!
//! - **ASHA** (Li et al., *A System for Massively Parallel Hyperparameter
//!   Tuning*, MLSys 2020), in its stopping form as Ray Tune's
//!   `ASHAScheduler` and Optuna's `SuccessiveHalvingPruner` run it: rungs at
//!   `min_rounds × η^k` rounds; a trial that reaches a rung goes on only if
//!   its value there is among the best ⌊n / η⌋ (at least 1) of the n trials
//!   that had reached that rung by then, itself included (Optuna's rule).
//! - **The median rule** (Golovin et al., *Google Vizier*, KDD 2017), as
//!   Optuna's `MedianPruner`: after `min_rounds`, once `startup_trials`
//!   trials have completed, a trial stops when its best value so far is
//!   worse than the median of the completed trials' values at the same round.
//!
//! Both are pure functions of the trials' curves, with when each round was
//! reached ([`Reached`]), so the tuning controller stays stateless: a trial
//! is judged at a rung against the trials that were there before it,
//! whenever the controller looks.

use flywheel_domain::{JobEvent, JobEventKind};
use serde::{Deserialize, Serialize};

/// When a tuning job stops trials early.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule", deny_unknown_fields)]
pub enum EarlyStopping {
    /// Asynchronous successive halving.
    Asha {
        /// The per-round metric judged (smaller is better).
        metric: String,
        /// The first rung, in rounds (default 1).
        #[serde(default = "one")]
        min_rounds: u64,
        /// η: each rung keeps the best 1/η (default 3, Hyperband's).
        #[serde(default = "three")]
        reduction_factor: u64,
    },
    /// The median stopping rule.
    Median {
        /// The per-round metric judged (smaller is better).
        metric: String,
        /// Rounds every trial runs before it can be stopped (default 1).
        #[serde(default = "one")]
        min_rounds: u64,
        /// Completed trials needed before any is stopped (default 5, Optuna's).
        #[serde(default = "five")]
        startup_trials: usize,
    },
}

fn one() -> u64 {
    1
}

fn three() -> u64 {
    3
}

fn five() -> usize {
    5
}

/// A round of a trial's curve: the round, when it was reported (Unix ms)
/// and the metric's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reached {
    /// The round, from 1.
    pub round: u64,
    /// When it was reported.
    pub at: i64,
    /// The metric after it.
    pub value: f64,
}

/// Another trial as early stopping sees it.
#[derive(Debug, Clone, Copy)]
pub struct Other<'a> {
    /// Its curve.
    pub curve: &'a [Reached],
    /// Whether it completed (ran all its rounds).
    pub completed: bool,
}

/// `metric`'s curve from a job's events: a later attempt's rounds replace
/// those it redoes, as on the job's page.
pub fn curve_of(events: &[JobEvent], metric: &str) -> Vec<Reached> {
    let mut curve: Vec<Reached> = Vec::new();
    for e in events {
        if let JobEventKind::Metrics { round, values, .. } = &e.kind
            && let Some(value) = values.get(metric).and_then(serde_json::Value::as_f64)
        {
            curve.retain(|r| r.round < *round);
            curve.push(Reached { round: *round, at: e.at.millis(), value });
        }
    }
    curve
}

/// The first point of `curve` at or past `round`: where it stood on reaching it.
fn at_round(curve: &[Reached], round: u64) -> Option<Reached> {
    curve.iter().find(|r| r.round >= round).copied()
}

impl EarlyStopping {
    /// The per-round metric judged.
    pub fn metric(&self) -> &str {
        match self {
            Self::Asha { metric, .. } | Self::Median { metric, .. } => metric,
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// A message naming the setting out of range.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Self::Asha { min_rounds: 0, .. } | Self::Median { min_rounds: 0, .. } => {
                Err("early_stopping.min_rounds must be at least 1".into())
            }
            Self::Asha { reduction_factor: 0 | 1, .. } => {
                Err("early_stopping.reduction_factor must be at least 2".into())
            }
            _ => Ok(()),
        }
    }

    /// Whether a running trial with `mine` as its curve stops now, given
    /// the other trials; `Some(why)` when it does.
    pub fn verdict(&self, mine: &[Reached], others: &[Other<'_>]) -> Option<String> {
        let last = mine.last()?;
        match self {
            Self::Asha { min_rounds, reduction_factor, .. } => {
                let mut rung = *min_rounds;
                while rung <= last.round {
                    let me = at_round(mine, rung)?;
                    let mut values: Vec<f64> = others
                        .iter()
                        .filter_map(|o| at_round(o.curve, rung))
                        .filter(|r| r.at <= me.at)
                        .map(|r| r.value)
                        .collect();
                    values.push(me.value);
                    values.sort_by(f64::total_cmp);
                    let keep = (values.len() / usize::try_from(*reduction_factor).unwrap_or(usize::MAX)).max(1);
                    if me.value > values[keep - 1] {
                        return Some(format!(
                            "stopped early by ASHA at round {rung}: {:.4} is not among the best {keep} of the {} trials there",
                            me.value,
                            values.len()
                        ));
                    }
                    rung = rung.saturating_mul(*reduction_factor);
                }
                None
            }
            Self::Median { min_rounds, startup_trials, .. } => {
                if last.round < *min_rounds {
                    return None;
                }
                let mut theirs: Vec<f64> = others
                    .iter()
                    .filter(|o| o.completed)
                    .filter_map(|o| at_round(o.curve, last.round))
                    .map(|r| r.value)
                    .collect();
                if theirs.len() < *startup_trials || theirs.is_empty() {
                    return None;
                }
                theirs.sort_by(f64::total_cmp);
                let n = theirs.len();
                let median = if n % 2 == 1 { theirs[n / 2] } else { f64::midpoint(theirs[n / 2 - 1], theirs[n / 2]) };
                let best = mine.iter().map(|r| r.value).fold(f64::INFINITY, f64::min);
                (best > median).then(|| {
                    format!(
                        "stopped early by the median rule at round {}: its best {best:.4} is worse than the median {median:.4} of {n} completed trials",
                        last.round
                    )
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A curve reported at `start`, `start + 1`, … ms, one round each.
    fn curve(start: i64, values: &[f64]) -> Vec<Reached> {
        (1..)
            .zip(values)
            .map(|(round, &value)| Reached { round, at: start + i64::try_from(round).unwrap(), value })
            .collect()
    }

    #[test]
    fn asha_keeps_the_best_third_of_each_rung_against_the_trials_there_before() {
        let asha = EarlyStopping::Asha { metric: "loss".into(), min_rounds: 1, reduction_factor: 3 };
        let first = curve(0, &[0.5, 0.4, 0.3, 0.2]);
        // Alone at every rung it reached: it goes on.
        assert_eq!(asha.verdict(&first, &[]), None);
        let done = [Other { curve: &first, completed: true }];
        // Worse than the only one before it at round 1 (best ⌊2/3⌋ → 1): stopped there.
        let worse = curve(100, &[0.6]);
        let why = asha.verdict(&worse, &done).unwrap();
        assert!(why.starts_with("stopped early by ASHA at round 1: 0.6000 is not among the best 1 of the 2"), "{why}");
        // Better at round 1 and at round 3: it goes on.
        assert_eq!(asha.verdict(&curve(100, &[0.45, 0.35, 0.25]), &done), None);
        // Better at round 1, worse at round 3: stopped at round 3.
        let why = asha.verdict(&curve(100, &[0.45, 0.4, 0.35]), &done).unwrap();
        assert!(why.contains("at round 3"), "{why}");
        // A trial that reached a rung later does not count against one that was there first.
        let late = curve(1000, &[0.1, 0.1, 0.1]);
        assert_eq!(asha.verdict(&first, &[Other { curve: &late, completed: false }]), None);
        // Six trials at a rung keep two.
        let five: Vec<Vec<Reached>> = [0.1, 0.2, 0.3, 0.4, 0.5].iter().map(|&v| curve(0, &[v])).collect();
        let others: Vec<Other<'_>> = five.iter().map(|c| Other { curve: c, completed: true }).collect();
        assert_eq!(asha.verdict(&curve(100, &[0.15]), &others), None);
        assert!(asha.verdict(&curve(100, &[0.25]), &others).is_some());
    }

    #[test]
    fn the_median_rule_waits_for_its_startup_trials_and_compares_at_the_same_round() {
        let median = EarlyStopping::Median { metric: "loss".into(), min_rounds: 2, startup_trials: 3 };
        let done: Vec<Vec<Reached>> = [0.3, 0.4, 0.5].iter().map(|&v| curve(0, &[v + 0.5, v])).collect();
        let others: Vec<Other<'_>> = done.iter().map(|c| Other { curve: c, completed: true }).collect();
        // Before min_rounds: never.
        assert_eq!(median.verdict(&curve(100, &[9.0]), &others), None);
        // Round 2: the median of 0.3, 0.4, 0.5 is 0.4.
        assert_eq!(median.verdict(&curve(100, &[0.9, 0.39]), &others), None);
        let why = median.verdict(&curve(100, &[0.9, 0.41]), &others).unwrap();
        assert!(why.contains("worse than the median 0.4000 of 3 completed trials"), "{why}");
        // Two completed trials are not enough, and running ones do not count.
        let running = [others[0], others[1], Other { curve: &done[2], completed: false }];
        assert_eq!(median.verdict(&curve(100, &[0.9, 0.9]), &running), None);
    }

    #[test]
    fn bad_settings_are_refused_and_requests_read() {
        let asha: EarlyStopping = serde_json::from_str(r#"{"rule": "asha", "metric": "validation_log_loss"}"#).unwrap();
        assert_eq!(
            asha,
            EarlyStopping::Asha { metric: "validation_log_loss".into(), min_rounds: 1, reduction_factor: 3 }
        );
        assert!(serde_json::from_str::<EarlyStopping>(r#"{"rule": "asha", "metric": "m", "eta": 3}"#).is_err());
        let one = EarlyStopping::Asha { metric: "m".into(), min_rounds: 1, reduction_factor: 1 };
        assert!(one.check().is_err_and(|e| e.contains("reduction_factor")));
        let zero = EarlyStopping::Median { metric: "m".into(), min_rounds: 0, startup_trials: 5 };
        assert!(zero.check().is_err_and(|e| e.contains("min_rounds")));
    }
}
