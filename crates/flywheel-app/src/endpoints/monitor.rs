//! An endpoint's monitor: alarms on drift, latency, live ROC AUC and failed requests,
//! checked on demand or every few minutes (SageMaker Model Monitor's
//! smallest schedule is an hour), written to the endpoint's event log, and
//! an optional automatic rollback of the weights when one fires.
//!
//! The schedule lives in the database (`endpoint_monitors.next_at`); every
//! server looks for due checks every [`TICK`] and runs those it claims
//! first, so each scheduled check runs once however many servers share the
//! database.

use std::time::Duration;

use flywheel_domain::{Monitor, MonitorState, User};

use super::{DRIFT_WINDOW, EndpointError, METRIC_WINDOW, Served, audit, served, variant_stats};
use crate::{App, now};

/// How often a server looks for due scheduled checks.
pub const TICK: Duration = Duration::from_secs(10);

/// PSI from which a drifted column raises the drift alarm (the credit-scoring "major" band).
pub const MAJOR_PSI: f64 = 0.25;

/// Sets the endpoint's monitor; with a schedule, the first check runs at
/// once (within [`TICK`]), then every `every_minutes`.
///
/// # Errors
/// [`EndpointError::NotFound`]; [`EndpointError::Invalid`] for settings
/// out of range (naming the setting).
pub async fn set_monitor(app: &App, user: &User, name: &str, monitor: &Monitor) -> Result<MonitorState, EndpointError> {
    monitor.validate()?;
    let served = served(app, user, name).await?;
    let next_at = (monitor.every_minutes > 0).then(now);
    app.db.set_monitor(served.endpoint.id, monitor, next_at).await?;
    let mut watches = Vec::new();
    if monitor.drift {
        watches.push(format!("drift (major PSI ≥ {MAJOR_PSI})"));
    }
    if let Some(ms) = monitor.latency_p95_ms {
        watches.push(format!("p95 latency > {ms} ms"));
    }
    if let Some(auc) = monitor.min_roc_auc {
        watches.push(format!("ROC AUC < {auc}"));
    }
    if let Some(p) = monitor.max_error_percent {
        watches.push(format!("failed requests > {p} %"));
    }
    let schedule = match monitor.every_minutes {
        0 => "on demand".to_owned(),
        m => format!("every {m} min"),
    };
    let rollback = if monitor.auto_rollback { ", automatic rollback" } else { "" };
    audit(app, served.endpoint.id, user, format!("monitor: {} ({schedule}{rollback})", watches.join(", "))).await;
    state(app, &served).await
}

/// The endpoint's monitor and its last check.
///
/// # Errors
/// [`EndpointError::NotFound`], also when it has no monitor.
pub async fn monitor(app: &App, user: &User, name: &str) -> Result<MonitorState, EndpointError> {
    let served = served(app, user, name).await?;
    state(app, &served).await
}

async fn state(app: &App, served: &Served) -> Result<MonitorState, EndpointError> {
    app.db.monitor(served.endpoint.id).await?.ok_or_else(|| {
        EndpointError::Invalid(format!(
            "Endpoint {:?} has no monitor: set one with the alarms to watch.",
            served.endpoint.name
        ))
    })
}

/// `now()` plus `d`.
fn later(d: Duration) -> flywheel_domain::Timestamp {
    flywheel_domain::Timestamp(now().millis().saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
}

fn period(monitor: &Monitor) -> Duration {
    Duration::from_secs(u64::from(monitor.every_minutes) * 60)
}

/// Checks the endpoint's alarms now, as `user` (the **Check now** button).
///
/// # Errors
/// [`EndpointError::NotFound`]; [`EndpointError::Invalid`] without a monitor.
pub async fn check_now(app: &App, user: &User, name: &str) -> Result<MonitorState, EndpointError> {
    let served = served(app, user, name).await?;
    let state = state(app, &served).await?;
    check(app, &served, state, Some(user)).await
}

/// Evaluates every alarm the monitor watches on the newest captures,
/// writes each that fires to the event log, rolls the weights back when
/// asked to and there is something to roll back to, and records the check.
async fn check(
    app: &App,
    served: &Served,
    mut state: MonitorState,
    user: Option<&User>,
) -> Result<MonitorState, EndpointError> {
    let endpoint = &served.endpoint;
    let monitor = &state.monitor;
    let mut alarms = Vec::new();
    if monitor.drift {
        match super::drift_of(app, served, DRIFT_WINDOW).await {
            Ok((_, report)) => {
                let major: Vec<String> = report
                    .columns
                    .iter()
                    .filter(|c| c.drifted && c.psi >= MAJOR_PSI)
                    .map(|c| format!("{} ({} {:.3}, PSI {:.2})", c.column, c.method.title(), c.statistic, c.psi))
                    .collect();
                if !major.is_empty() {
                    alarms.push(format!("drift: {}", major.join("; ")));
                }
            }
            // No baseline or no captures yet: nothing to alarm on.
            Err(EndpointError::Invalid(_)) => {}
            Err(e) => return Err(e),
        }
    }
    if monitor.latency_p95_ms.is_some() || monitor.min_roc_auc.is_some() {
        app.endpoints.flush().await;
        let captures = app.db.captures(endpoint.id, METRIC_WINDOW).await?;
        for v in &endpoint.variants {
            let mine: Vec<_> = captures.iter().filter(|c| c.variant == v.name).collect();
            let stats = variant_stats(&mine);
            if let (Some(limit), Some(p95)) = (monitor.latency_p95_ms, stats.latency_p95_ms)
                && p95 > limit
            {
                alarms.push(format!("latency: variant {} p95 {p95:.2} ms > {limit} ms", v.name));
            }
            if let (Some(min), Some(auc)) = (monitor.min_roc_auc, stats.roc_auc)
                && stats.labelled >= Monitor::MIN_LABELLED
                && auc < min
            {
                alarms.push(format!(
                    "ROC AUC: variant {} {auc:.3} < {min} on {} labelled predictions",
                    v.name, stats.labelled
                ));
            }
        }
    }
    if let Some(max) = monitor.max_error_percent
        && let Some(alarm) = errors_alarm(app, served, max).await?
    {
        alarms.push(alarm);
    }
    let at = now();
    for alarm in &alarms {
        super::record(app, endpoint.id, user, format!("alarm: {alarm}")).await;
    }
    if !alarms.is_empty() && monitor.auto_rollback && !state.rollback_weights.is_empty() {
        // Every production variant gets its weight from before the change;
        // one added since (a promoted shadow) gets none.
        let before = &state.rollback_weights;
        let known: Vec<(String, f64)> = endpoint
            .variants
            .iter()
            .map(|v| (v.name.clone(), before.iter().find(|(n, _)| *n == v.name).map_or(0.0, |(_, w)| *w)))
            .collect();
        if known.iter().any(|(_, w)| *w > 0.0) && app.db.set_variant_weights(endpoint.id, &known, at).await? {
            app.db.set_rollback_weights(endpoint.id, &[]).await?;
            state.rollback_weights.clear();
            app.endpoints.forget(&endpoint.name);
            let back: Vec<String> = known.iter().map(|(n, w)| format!("{n} {w}")).collect();
            super::record(app, endpoint.id, user, format!("automatic rollback: weights back to {}", back.join(", ")))
                .await;
        }
    }
    app.db.record_check(endpoint.id, &alarms, at).await?;
    state.alarms = alarms;
    state.checked_at = Some(at);
    Ok(state)
}

/// The errors alarm: more than `max` % of the requests of the last
/// [`Monitor::ERROR_WINDOW_MINUTES`] failed, with at least
/// [`Monitor::MIN_REQUESTS`] of them (answered ones estimated from the
/// captured share).
async fn errors_alarm(app: &App, served: &Served, max: f64) -> Result<Option<String>, EndpointError> {
    let endpoint = &served.endpoint;
    let since = flywheel_domain::Timestamp(now().millis() - Monitor::ERROR_WINDOW_MINUTES * 60_000);
    app.endpoints.flush().await;
    let failed = app.db.invocation_errors(endpoint.id, since, super::MAX_ERRORS).await?.len() as u64;
    let captures = app.db.captures(endpoint.id, METRIC_WINDOW).await?;
    let captured = super::timeline::requests(captures.iter().filter(|c| c.at >= since)).len() as u64;
    let answered = captured * 100 / u64::from(endpoint.capture_percent.max(1));
    let total = failed + answered;
    #[allow(clippy::cast_precision_loss)]
    let percent = 100.0 * failed as f64 / total.max(1) as f64;
    Ok((total >= Monitor::MIN_REQUESTS && percent > max).then(|| {
        format!(
            "errors: {failed} of {total} requests failed in the last {} min ({percent:.1} % > {max} %)",
            Monitor::ERROR_WINDOW_MINUTES
        )
    }))
}

/// Runs the scheduled checks of every server's endpoints that fall due,
/// for as long as the server runs.
pub async fn run(app: App) {
    let mut tick = tokio::time::interval(TICK);
    loop {
        tick.tick().await;
        let due = match app.db.due_monitors(now()).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "could not list the endpoints' due monitor checks");
                continue;
            }
        };
        for (id, due_at) in due {
            if let Err(e) = scheduled(&app, id, due_at).await {
                tracing::warn!(endpoint = %id, error = %e, "a scheduled endpoint check failed");
            }
        }
    }
}

async fn scheduled(
    app: &App,
    id: flywheel_domain::EndpointId,
    due_at: flywheel_domain::Timestamp,
) -> Result<(), EndpointError> {
    let Some(state) = app.db.monitor(id).await? else { return Ok(()) };
    let next = later(period(&state.monitor).max(Duration::from_secs(60)));
    if !app.db.claim_monitor(id, due_at, next).await? {
        return Ok(());
    }
    let Some(stored) = app.db.endpoints().await?.into_iter().find(|e| e.id == id) else { return Ok(()) };
    let served = super::served_system(app, &stored.name).await?;
    check(app, &served, state, None).await.map(drop)
}
