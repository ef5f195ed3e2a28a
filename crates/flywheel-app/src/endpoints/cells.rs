//! Endpoint calls from a notebook cell (`flywheel_ml::endpoint`: deploy,
//! invoke, ground truth, baseline, drift, weights, shadow report,
//! promotion). A cell cannot reach the server, and its rich output arrives
//! only when it ends, so a call is a request file in the kernel's working
//! directory and one printed line naming it, while the cell runs and waits:
//! this module watches the output of every kernel session a user opens,
//! and for each request line reads `endpoint-<token>.json`, runs it as the
//! session's owner through the same functions and checks as the API, and
//! answers in the kernel's `data/endpoint-<token>.json` — `{"ok": …}` or
//! `{"error": "<the API's message>"}`, written into the running kernel
//! only (`KernelSession::write_file`: a restarted kernel has no cell
//! waiting); the cell deletes it once read.

use std::sync::Arc;

use flywheel_domain::User;
use flywheel_kernel_manager::{KernelSession, SessionEvent};
use flywheel_kernel_protocol::{Output, StreamName};
use flywheel_ml::endpoint::{DeployedVariant, Request, request_token};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::{
    BaselineSource, BodyFormat, Caller, DRIFT_WINDOW, DeployRequest, EndpointError, EndpointView, ModelSource,
    ShadowRequest, VariantRequest, VariantStats,
};
use crate::App;

/// A request file as a cell writes it: the endpoint's name and the call.
#[derive(serde::Deserialize)]
struct CellRequest {
    endpoint: String,
    #[serde(flatten)]
    request: Request,
}

/// Watches `session` for cells that call endpoints, for as long as it lives.
pub fn watch(app: &App, user: &User, session: &Arc<KernelSession>) {
    let (app, user, session) = (app.clone(), user.clone(), Arc::clone(session));
    let mut events = session.subscribe();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(SessionEvent::Output { output: Output::Stream { name: StreamName::Stdout, text }, .. }) => {
                    for token in text.lines().filter_map(request_token) {
                        tokio::spawn(answer(app.clone(), user.clone(), Arc::clone(&session), token.to_owned()));
                    }
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
        }
    });
}

/// Runs one request and puts its answer into the session's `data/` folder.
async fn answer(app: App, user: User, session: Arc<KernelSession>, token: String) {
    let answer = match run(&app, &user, &session, &token).await {
        Ok(value) => json!({ "ok": value }),
        Err(EndpointError::Store(e)) => {
            tracing::error!(error = %e, "an endpoint call from a cell could not be stored");
            json!({ "error": "the server could not store this change; try again" })
        }
        Err(EndpointError::Internal(e)) => {
            tracing::error!(error = %e, "an endpoint call from a cell failed");
            json!({ "error": "the server failed on this call; try again" })
        }
        Err(e) => json!({ "error": e.to_string() }),
    };
    session.write_file(&format!("endpoint-{token}.json"), Arc::from(answer.to_string()));
}

async fn run(app: &App, user: &User, session: &KernelSession, token: &str) -> Result<Value, EndpointError> {
    let max = u64::try_from(app.settings.max_dataset_bytes).unwrap_or(u64::MAX);
    let file = format!("endpoint-{token}.json");
    let text = session
        .read_file(&file, max)
        .await
        .map_err(|e| EndpointError::Invalid(format!("The request file {file} cannot be read: {e}.")))?;
    let CellRequest { endpoint: name, request } = serde_json::from_slice(&text)
        .map_err(|e| EndpointError::Invalid(format!("The request file {file} is not an endpoint request: {e}.")))?;
    let name = name.as_str();
    let variant = |v: DeployedVariant| VariantRequest {
        name: v.name,
        model: ModelSource::Session { session: session.id.to_string(), file: v.file },
        weight: v.weight,
    };
    match request {
        Request::Deploy { variants, shadow, shadow_percent, capture_percent } => {
            let request = DeployRequest {
                name: name.to_owned(),
                variants: variants.into_iter().map(variant).collect(),
                capture_percent,
                shadow: shadow.map(|s| ShadowRequest { variant: variant(s), sample_percent: shadow_percent }),
                review: None,
            };
            // Running a cell again redeploys: the models are checked by the
            // first try, and only a taken name replaces the endpoint.
            match super::deploy(app, user, &request).await {
                Err(EndpointError::Taken(_)) => {
                    super::delete(app, user, name).await?;
                    super::deploy(app, user, &request).await?;
                }
                other => {
                    other?;
                }
            }
            Ok(summary(super::get(app, user, name).await?))
        }
        Request::Invoke { csv, variant } => {
            let served =
                super::invoke(app, Caller::User(user), name, csv.as_bytes(), BodyFormat::Csv, variant.as_deref())
                    .await?;
            let predictions: Vec<Value> = served
                .predictions
                .iter()
                .map(|p| json!({"inference_id": p.inference_id.to_string(), "score": p.score, "class": p.class}))
                .collect();
            Ok(json!({"variant": served.variant, "captured": served.captured, "predictions": predictions}))
        }
        Request::GroundTruth { labels } => {
            for (id, label) in &labels {
                super::ground_truth(app, Caller::User(user), name, id, label).await?;
            }
            Ok(json!({ "recorded": labels.len() }))
        }
        Request::Baseline { csv } => {
            let baseline = super::set_baseline(app, user, name, &BaselineSource::Csv(csv)).await?;
            Ok(json!({ "source": baseline.source, "rows": baseline.rows }))
        }
        Request::Drift => {
            let (_, report) = super::drift(app, user, name, DRIFT_WINDOW).await?;
            serde_json::to_value(report).map_err(|e| EndpointError::Internal(e.into()))
        }
        Request::Summary => Ok(summary(super::get(app, user, name).await?)),
        Request::Weights { weights } => Ok(summary(super::set_weights(app, user, name, &weights).await?)),
        Request::ShadowReport => {
            let r = super::shadow(app, user, name).await?;
            Ok(json!({
                "variant": r.variant,
                "compared": r.compared,
                "errors": r.errors,
                "agreement": r.agreement,
                "score_correlation": r.score_correlation,
                "production": metrics(&r.production),
                "shadow": metrics(&r.shadow),
            }))
        }
        Request::Shadow { variant: shadow, sample_percent } => {
            let variant = variant(shadow);
            Ok(summary(super::set_shadow(app, user, name, &ShadowRequest { variant, sample_percent }).await?))
        }
        Request::SetMonitor { monitor: m } => {
            let monitor = flywheel_domain::Monitor {
                every_minutes: m.every_minutes,
                drift: m.drift,
                latency_p95_ms: m.latency_p95_ms,
                min_roc_auc: m.min_roc_auc,
                max_error_percent: m.max_error_percent,
                auto_rollback: m.auto_rollback,
            };
            super::monitor::set_monitor(app, user, name, &monitor).await?;
            Ok(Value::Null)
        }
        Request::CheckAlarms => {
            let before = super::monitor::monitor(app, user, name).await?;
            let after = super::monitor::check_now(app, user, name).await?;
            let rolled_back = !before.rollback_weights.is_empty() && after.rollback_weights.is_empty();
            Ok(json!({ "alarms": after.alarms, "rolled_back": rolled_back }))
        }
        Request::PromoteShadow => Ok(summary(super::promote_shadow(app, user, name).await?)),
        Request::SetReview { low, high } => {
            let band = flywheel_domain::ReviewBand::new(low, high)
                .map_err(|e| EndpointError::Invalid(format!("The review {}.", e.message)))?;
            super::set_review(app, user, name, Some(band)).await?;
            Ok(Value::Null)
        }
        Request::ReviewQueue => {
            let (view, pending) = super::review_queue(app, user, name).await?;
            let band = view.endpoint.review.map(|b| [b.low, b.high]);
            let pending: Vec<Value> = pending
                .iter()
                .map(|c| json!({"inference_id": c.inference_id.to_string(), "score": c.score, "class": c.class}))
                .collect();
            Ok(json!({"review_url": format!("/endpoints/{name}/review"), "band": band, "pending": pending}))
        }
        Request::LoadTest { csv, rps, seconds } => {
            let columns = super::get(app, user, name).await?.columns;
            let rows = super::parse_rows(csv.as_bytes(), BodyFormat::Csv, columns.as_deref())?;
            let request = super::load::LoadTestRequest { rps, seconds, rows: Some(rows) };
            let r = super::load::run(app, user, name, request).await?;
            let g = &r.generated;
            Ok(json!({
                "rps": r.rps,
                "seconds": g.seconds,
                "requests": g.requests,
                "failures": g.failures,
                "achieved_rps": r.achieved_rps,
                "round_trip_ms": g.round_trip_ms,
                "serving_ms": r.serving_ms,
            }))
        }
    }
}

/// What `flywheel_ml::endpoint::EndpointSummary` reads.
fn summary(view: EndpointView) -> Value {
    let endpoint = &view.endpoint;
    let total: f64 = endpoint.variants.iter().map(|v| v.weight).sum();
    let variants: Vec<Value> = endpoint
        .variants
        .iter()
        .zip(&view.variants)
        .map(|(v, stats)| {
            json!({
                "name": v.name,
                "model_kind": v.model_kind,
                "weight": v.weight,
                "traffic_percent": if total > 0.0 { 100.0 * v.weight / total } else { 0.0 },
                "metrics": metrics(stats),
            })
        })
        .collect();
    json!({
        "name": endpoint.name,
        "invocation_url": format!("/endpoints/{}/invocations", endpoint.name),
        "variants": variants,
        "shadow": endpoint.shadow.as_ref().map(|s| s.name.clone()),
        "capture_percent": endpoint.capture_percent,
    })
}

/// What `flywheel_ml::endpoint::VariantMetrics` reads.
fn metrics(s: &VariantStats) -> Value {
    json!({
        "captured": s.captured,
        "labelled": s.labelled,
        "accuracy": s.accuracy,
        "roc_auc": s.roc_auc,
        "pr_auc": s.pr_auc,
        "latency_p50_ms": s.latency_p50_ms,
        "latency_p95_ms": s.latency_p95_ms,
    })
}
