//! Endpoints (Day 3): `/api/v1/endpoints…` to deploy, inspect, reweigh and
//! delete them and read their captures, and `/endpoints/{name}/invocations`
//! and `/endpoints/{name}/ground-truth` (outside `/api`, as SageMaker's
//! runtime is apart from its control plane) to use them. Another team's
//! endpoint is 404 everywhere.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flywheel_app::endpoints::{
    self, BaselineSource, BodyFormat, DeployRequest, EndpointView, ModelSource, ShadowRequest, VariantRequest,
    VariantStats, batch, load,
};
use flywheel_domain::Endpoint;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use crate::api::ApiJson;
use crate::auth::extract::ApiUser;
use crate::error::{AppError, ErrorBody};
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use flywheel_domain::{TokenSecret, User};

/// The request header that names the variant to serve a request
/// (SageMaker's `TargetVariant`); the answer carries the variant that served it.
pub const VARIANT_HEADER: HeaderName = HeaderName::from_static("x-flywheel-variant");

/// Where a variant's model comes from: a file a notebook saved in a kernel
/// session (`model.save("fraud.json")?`), or a completed training job's model.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum ModelBody {
    /// A file in one of the caller's kernel sessions.
    Session {
        /// The kernel session's id.
        session: String,
        /// The file's name.
        #[schema(example = "fraud.json")]
        file: String,
    },
    /// A completed training job's `model.json`.
    TrainingJob {
        /// The training job's id.
        training_job: String,
    },
}

fn one() -> f64 {
    1.0
}

fn all() -> u8 {
    100
}

/// A variant to deploy.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantRequestBody {
    /// Its name: lower-case letters, digits and hyphens.
    #[schema(example = "boosted-trees")]
    pub name: String,
    /// Its model.
    pub model: ModelBody,
    /// Relative traffic weight, ≥ 0 (default 1): 2 and 1 send two thirds of the requests to the first.
    #[serde(default = "one")]
    pub weight: f64,
}

/// An endpoint to deploy.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointRequest {
    /// Its name, unique on the server: lower-case letters, digits and hyphens, 1–63 characters.
    #[schema(example = "fraud-v1")]
    pub name: String,
    /// Its variants (1 to 10).
    pub variants: Vec<VariantRequestBody>,
    /// Share of requests whose predictions are captured (0–100, default 100).
    #[serde(default = "all")]
    pub capture_percent: u8,
    /// A shadow variant: it gets a copy of a share of the requests after
    /// production has answered; its answers are compared, never returned.
    #[serde(default)]
    pub shadow: Option<ShadowBody>,
    /// Human review: captured predictions scored in this band wait for a person's label.
    #[serde(default)]
    pub review: Option<ReviewBody>,
}

/// A human review band: captured predictions with `low ≤ score ≤ high`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    /// Lowest score reviewed, 0–1.
    #[schema(example = 0.4)]
    pub low: f64,
    /// Highest score reviewed, 0–1.
    #[schema(example = 0.6)]
    pub high: f64,
}

fn review_band(r: ReviewBody) -> Result<flywheel_domain::ReviewBand, AppError> {
    flywheel_domain::ReviewBand::new(r.low, r.high)
        .map_err(|e| AppError::unprocessable(format!("{}: {}.", e.field, e.message)))
}

/// A shadow variant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShadowBody {
    /// The variant (its weight is unused).
    pub variant: VariantRequestBody,
    /// Share of requests mirrored to it, 1–100.
    #[schema(example = 50)]
    pub sample_percent: u8,
}

fn variant_request(v: VariantRequestBody) -> VariantRequest {
    VariantRequest {
        name: v.name,
        model: match v.model {
            ModelBody::Session { session, file } => ModelSource::Session { session, file },
            ModelBody::TrainingJob { training_job } => ModelSource::TrainingJob(training_job),
        },
        weight: v.weight,
    }
}

fn shadow_request(s: ShadowBody) -> ShadowRequest {
    ShadowRequest { variant: variant_request(s.variant), sample_percent: s.sample_percent }
}

/// New traffic weights.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeightsRequest {
    /// Variant name → weight; variants left out keep theirs.
    #[schema(example = json!({"linear": 1.0, "boosted-trees": 2.0}))]
    pub weights: BTreeMap<String, f64>,
}

/// A variant's live figures, from the endpoint's newest 10,000 captures.
#[derive(Debug, Serialize, ToSchema)]
pub struct VariantMetricsBody {
    /// Captured predictions.
    pub captured: usize,
    /// Of those, with ground truth.
    pub labelled: usize,
    /// Accuracy on the labelled ones.
    pub accuracy: Option<f64>,
    /// ROC AUC on the labelled ones (needs both classes).
    pub roc_auc: Option<f64>,
    /// Area under the precision–recall curve (average precision) on the labelled ones.
    pub pr_auc: Option<f64>,
    /// Median serving time of captured requests, milliseconds.
    pub latency_p50_ms: Option<f64>,
    /// 95th percentile of the same, milliseconds.
    pub latency_p95_ms: Option<f64>,
    /// 99th percentile of the same, milliseconds.
    pub latency_p99_ms: Option<f64>,
}

/// A variant.
#[derive(Debug, Serialize, ToSchema)]
pub struct VariantBody {
    /// Its name.
    pub name: String,
    /// The model's type.
    #[schema(example = "GradientBoostedTreesModel")]
    pub model_kind: String,
    /// Where the model came from.
    pub source: String,
    /// Its relative weight.
    pub weight: f64,
    /// Its share of the traffic, in percent.
    pub traffic_percent: f64,
    /// Live figures (absent in lists).
    pub metrics: Option<VariantMetricsBody>,
}

/// An endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointBody {
    /// Its name.
    pub name: String,
    /// `in_service`: a deployed endpoint answers at once.
    pub state: String,
    /// Where to send requests.
    #[schema(example = "/endpoints/fraud-v1/invocations")]
    pub invocation_url: String,
    /// The feature columns it takes, in order (absent when no model records them).
    pub columns: Option<Vec<String>>,
    /// Its production variants.
    pub variants: Vec<VariantBody>,
    /// Its shadow variant (`weight` and `traffic_percent` unused).
    pub shadow: Option<VariantBody>,
    /// Share of requests mirrored to the shadow, percent.
    pub shadow_percent: u8,
    /// The human review band, if any.
    pub review: Option<ReviewBody>,
    /// Share of requests captured, percent.
    pub capture_percent: u8,
    /// Who deployed it (user id).
    pub owner: String,
    /// The team sharing it.
    pub team: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds of the last change of variants or weights.
    pub updated_at: i64,
}

impl From<VariantStats> for VariantMetricsBody {
    fn from(s: VariantStats) -> Self {
        Self {
            captured: s.captured,
            labelled: s.labelled,
            accuracy: s.accuracy,
            roc_auc: s.roc_auc,
            pr_auc: s.pr_auc,
            latency_p50_ms: s.latency_p50_ms,
            latency_p95_ms: s.latency_p95_ms,
            latency_p99_ms: s.latency_p99_ms,
        }
    }
}

fn body(endpoint: Endpoint, columns: Option<Vec<String>>, stats: Option<Vec<VariantStats>>) -> EndpointBody {
    let total: f64 = endpoint.variants.iter().map(|v| v.weight).sum();
    let mut stats = stats.map(Vec::into_iter);
    EndpointBody {
        shadow: endpoint.shadow.map(|v| VariantBody {
            name: v.name,
            model_kind: v.model_kind,
            source: v.source,
            weight: 0.0,
            traffic_percent: 0.0,
            metrics: None,
        }),
        shadow_percent: endpoint.shadow_percent,
        review: endpoint.review.map(|b| ReviewBody { low: b.low, high: b.high }),
        invocation_url: format!("/endpoints/{}/invocations", endpoint.name),
        state: "in_service".to_owned(),
        columns,
        variants: endpoint
            .variants
            .into_iter()
            .map(|v| VariantBody {
                traffic_percent: if total > 0.0 { 100.0 * v.weight / total } else { 0.0 },
                metrics: stats.as_mut().and_then(Iterator::next).map(VariantMetricsBody::from),
                name: v.name,
                model_kind: v.model_kind,
                source: v.source,
                weight: v.weight,
            })
            .collect(),
        capture_percent: endpoint.capture_percent,
        owner: endpoint.owner.to_string(),
        team: endpoint.team.map(|t| t.to_string()),
        created_at: endpoint.created_at.millis(),
        updated_at: endpoint.updated_at.millis(),
        name: endpoint.name,
    }
}

impl From<EndpointView> for EndpointBody {
    fn from(v: EndpointView) -> Self {
        body(v.endpoint, v.columns, Some(v.variants))
    }
}

/// Deploys saved models as an endpoint. It answers as soon as this
/// returns: the models are read, checked and loaded here.
#[utoipa::path(post, path = "/api/v1/endpoints", tag = "endpoints", security(("bearer" = [])),
    request_body = EndpointRequest,
    responses(
        (status = 201, body = EndpointBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 422, description = "A bad name or weights; a model that cannot be read or served (the message lists the types that can); variants that take different columns", body = ErrorBody),
    ))]
async fn deploy(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiJson(req): ApiJson<EndpointRequest>,
) -> Result<Response, AppError> {
    let request = DeployRequest {
        name: req.name,
        variants: req.variants.into_iter().map(variant_request).collect(),
        capture_percent: req.capture_percent,
        shadow: req.shadow.map(shadow_request),
        review: req.review.map(review_band).transpose()?,
    };
    let endpoint = endpoints::deploy(&state, &user, &request).await?;
    let view = endpoints::get(&state, &user, &endpoint.name).await?;
    Ok((StatusCode::CREATED, Json(EndpointBody::from(view))).into_response())
}

/// The caller's endpoints and their team's (every endpoint of their workshops, for instructors).
#[utoipa::path(get, path = "/api/v1/endpoints", tag = "endpoints", security(("bearer" = [])),
    responses((status = 200, body = Vec<EndpointBody>), (status = 401, body = ErrorBody)))]
async fn list(State(state): State<AppState>, ApiUser(user): ApiUser) -> Result<Json<Vec<EndpointBody>>, AppError> {
    let all = endpoints::list(&state, &user).await?;
    Ok(Json(all.into_iter().map(|e| body(e, None, None)).collect()))
}

/// One endpoint: variants, weights, and each variant's live figures.
#[utoipa::path(get, path = "/api/v1/endpoints/{name}", tag = "endpoints", security(("bearer" = [])),
    params(("name" = String, Path, description = "Endpoint name")),
    responses((status = 200, body = EndpointBody), (status = 404, body = ErrorBody)))]
async fn get_endpoint(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(name): Path<String>,
) -> Result<Json<EndpointBody>, AppError> {
    Ok(Json(endpoints::get(&state, &user, &name).await?.into()))
}

/// Changes traffic weights live: requests in flight finish on the old ones.
#[utoipa::path(patch, path = "/api/v1/endpoints/{name}", tag = "endpoints", security(("bearer" = [])),
    params(("name" = String, Path, description = "Endpoint name")),
    request_body = WeightsRequest,
    responses(
        (status = 200, body = EndpointBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "An unknown variant, or weights without a positive total", body = ErrorBody),
    ))]
async fn set_weights(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<WeightsRequest>,
) -> Result<Json<EndpointBody>, AppError> {
    let weights: Vec<(String, f64)> = req.weights.into_iter().collect();
    Ok(Json(endpoints::set_weights(&state, &user, &name, &weights).await?.into()))
}

/// Deletes an endpoint and its captures.
#[utoipa::path(delete, path = "/api/v1/endpoints/{name}", tag = "endpoints", security(("bearer" = [])),
    params(("name" = String, Path, description = "Endpoint name")),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)))]
async fn delete_endpoint(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(name): Path<String>,
) -> Result<StatusCode, AppError> {
    endpoints::delete(&state, &user, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Gives the endpoint a shadow variant (replacing any): a share of the
/// requests is mirrored to it after production answers; see `…/shadow-report`.
#[utoipa::path(post, path = "/api/v1/endpoints/{name}/shadow", tag = "endpoints", security(("bearer" = [])),
    params(("name" = String, Path, description = "Endpoint name")),
    request_body = ShadowBody,
    responses((status = 200, body = EndpointBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_shadow(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<ShadowBody>,
) -> Result<Json<EndpointBody>, AppError> {
    Ok(Json(endpoints::set_shadow(&state, &user, &name, &shadow_request(req)).await?.into()))
}

/// Removes the shadow variant (its results stay in the report).
#[utoipa::path(delete, path = "/api/v1/endpoints/{name}/shadow", tag = "endpoints", security(("bearer" = [])),
    params(("name" = String, Path, description = "Endpoint name")),
    responses((status = 200, body = EndpointBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn remove_shadow(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(name): Path<String>,
) -> Result<Json<EndpointBody>, AppError> {
    Ok(Json(endpoints::remove_shadow(&state, &user, &name).await?.into()))
}

/// Promotes the shadow to production with all the traffic; the other
/// variants stay at weight 0, so `PATCH` with the old weights rolls back.
#[utoipa::path(post, path = "/api/v1/endpoints/{name}/shadow/promote", tag = "endpoints", security(("bearer" = [])),
    params(("name" = String, Path, description = "Endpoint name")),
    responses((status = 200, body = EndpointBody), (status = 404, body = ErrorBody), (status = 422, description = "No shadow", body = ErrorBody)))]
async fn promote_shadow(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(name): Path<String>,
) -> Result<Json<EndpointBody>, AppError> {
    Ok(Json(endpoints::promote_shadow(&state, &user, &name).await?.into()))
}

/// Production against the shadow on the same requests.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShadowReportBody {
    /// The shadow variant compared.
    pub variant: Option<String>,
    /// Share of requests mirrored now, percent.
    pub sample_percent: u8,
    /// Rows compared (the newest 10,000).
    pub compared: usize,
    /// Rows the shadow failed on.
    pub errors: usize,
    /// Share of rows where both gave the same class.
    pub agreement: Option<f64>,
    /// Pearson correlation of the two scores.
    pub score_correlation: Option<f64>,
    /// Production on these rows: latency, and metrics where ground truth arrived.
    pub production: VariantMetricsBody,
    /// The shadow on the rows it answered.
    pub shadow: VariantMetricsBody,
}

/// The shadow report: agreement, score correlation, latency and errors of
/// the shadow against production on the same rows, and both variants'
/// accuracy and AUCs once ground truth arrives.
#[utoipa::path(get, path = "/api/v1/endpoints/{name}/shadow-report", tag = "endpoints", security(("bearer" = [])),
    params(("name" = String, Path, description = "Endpoint name")),
    responses((status = 200, body = ShadowReportBody), (status = 404, body = ErrorBody)))]
async fn shadow_report(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(name): Path<String>,
) -> Result<Json<ShadowReportBody>, AppError> {
    let r = endpoints::shadow(&state, &user, &name).await?;
    Ok(Json(ShadowReportBody {
        variant: r.variant,
        sample_percent: r.sample_percent,
        compared: r.compared,
        errors: r.errors,
        agreement: r.agreement,
        score_correlation: r.score_correlation,
        production: r.production.into(),
        shadow: r.shadow.into(),
    }))
}

/// One interval of an endpoint's traffic.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntervalBody {
    /// Seconds from the timeline's start.
    pub offset_seconds: i64,
    /// Requests per second per variant (the timeline's `variants` order),
    /// estimated from the captured share.
    pub requests_per_second: Vec<f64>,
    /// Rows scored per second, all variants.
    pub predictions_per_second: f64,
    /// Requests refused or failed per second.
    pub errors_per_second: f64,
    /// Of those, per variant (failures after a variant was drawn; bad input is refused before).
    pub errors_per_second_by_variant: Vec<f64>,
    /// p50, p95 and p99 serving time of the requests, milliseconds (absent without requests).
    pub latency_ms: Option<[f64; 3]>,
    /// The same per variant (null for a variant without requests).
    pub latency_ms_by_variant: Vec<Option<[f64; 3]>>,
    /// Mean, p50, p90 and p99 of the predicted scores (absent without rows).
    pub score: Option<[f64; 4]>,
}

/// An endpoint's traffic over time, from its newest 10,000 captured predictions.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrafficBody {
    /// Unix milliseconds of the first interval's start (absent without captures).
    pub start: Option<i64>,
    /// Length of each interval, seconds (1 s to 1 day, at most about 60 intervals).
    pub step_seconds: i64,
    /// The variants, in the order of `requests_per_second`.
    pub variants: Vec<String>,
    /// Oldest first, with or without traffic.
    pub intervals: Vec<IntervalBody>,
}

/// The endpoint's traffic over time: requests per second per variant,
/// latency percentiles and predicted scores per interval (the monitoring
/// page's charts).
#[utoipa::path(get, path = "/api/v1/endpoints/{name}/traffic", tag = "endpoints", security(("bearer" = [])),
    params(("name" = String, Path, description = "Endpoint name")),
    responses((status = 200, body = TrafficBody), (status = 404, body = ErrorBody)))]
async fn traffic(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(name): Path<String>,
) -> Result<Json<TrafficBody>, AppError> {
    let view = endpoints::get(&state, &user, &name).await?;
    let variants = view.endpoint.variants.iter().map(|v| v.name.clone()).collect();
    Ok(Json(match view.timeline {
        None => TrafficBody { start: None, step_seconds: 1, variants, intervals: Vec::new() },
        Some(t) => TrafficBody {
            start: Some(t.start.millis()),
            step_seconds: t.step_seconds,
            variants: t.variants,
            intervals: t
                .intervals
                .into_iter()
                .map(|i| IntervalBody {
                    offset_seconds: i.offset_seconds,
                    requests_per_second: i.requests_per_second,
                    predictions_per_second: i.predictions_per_second,
                    errors_per_second: i.errors_per_second,
                    errors_per_second_by_variant: i.errors_per_second_by_variant,
                    latency_ms_by_variant: i.latency_ms_by_variant,
                    latency_ms: i.latency_ms,
                    score: i.score,
                })
                .collect(),
        },
    }))
}

/// An invocation the endpoint refused or failed on.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvocationErrorBody {
    /// Unix milliseconds.
    pub at: i64,
    /// The variant drawn (absent when refused before the draw, as for bad input).
    pub variant: Option<String>,
    /// The HTTP status answered.
    pub status: u16,
    /// What the caller was told.
    pub message: String,
}

/// The endpoint's newest failed invocations (bad input, a model that could
/// not score), newest first, at most 100.
#[utoipa::path(get, path = "/api/v1/endpoints/{name}/errors", tag = "endpoints", security(("bearer" = [])),
    params(("name" = String, Path, description = "Endpoint name")),
    responses((status = 200, body = Vec<InvocationErrorBody>), (status = 404, body = ErrorBody)))]
async fn errors(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(name): Path<String>,
) -> Result<Json<Vec<InvocationErrorBody>>, AppError> {
    let view = endpoints::get(&state, &user, &name).await?;
    Ok(Json(
        view.errors
            .into_iter()
            .map(|e| InvocationErrorBody {
                at: e.at.millis(),
                variant: e.variant,
                status: e.status,
                message: e.message,
            })
            .collect(),
    ))
}

/// One change to an endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointEventBody {
    /// Unix milliseconds.
    pub at: i64,
    /// Who (user id).
    pub actor: Option<String>,
    /// What changed.
    pub message: String,
}

/// The endpoint's audit trail: every deployment, weight change, shadow and promotion, oldest first.
#[utoipa::path(get, path = "/api/v1/endpoints/{name}/events", tag = "endpoints", security(("bearer" = [])),
    params(("name" = String, Path, description = "Endpoint name")),
    responses((status = 200, body = Vec<EndpointEventBody>), (status = 404, body = ErrorBody)))]
async fn events(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(name): Path<String>,
) -> Result<Json<Vec<EndpointEventBody>>, AppError> {
    let all = endpoints::events(&state, &user, &name).await?;
    Ok(Json(
        all.into_iter()
            .map(|e| EndpointEventBody { at: e.at.millis(), actor: e.actor.map(|a| a.to_string()), message: e.message })
            .collect(),
    ))
}

/// An endpoint's baseline.
#[derive(Debug, Serialize, ToSchema)]
pub struct BaselineBody {
    /// Where its rows came from.
    pub source: String,
    /// How many rows it holds.
    pub rows: usize,
    /// Unix milliseconds.
    pub created_at: i64,
}

impl From<endpoints::Baseline> for BaselineBody {
    fn from(b: endpoints::Baseline) -> Self {
        Self { source: b.source, rows: b.rows, created_at: b.created_at.millis() }
    }
}

/// Where a new baseline comes from (or send CSV with a header, `Content-Type: text/csv`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BaselineRequest {
    /// A training job whose training data becomes the baseline.
    #[serde(default)]
    pub training_job: Option<String>,
    /// Take the newest this many captures (up to 5,000).
    #[serde(default)]
    pub captures: Option<u64>,
}

/// Sets the rows drift is measured against: a training job's data, the
/// newest captures, or uploaded CSV. At deployment it is the first
/// variant's training data when that came from the pool.
#[utoipa::path(put, path = "/api/v1/endpoints/{name}/baseline", tag = "endpoints", security(("bearer" = [])),
    params(("name" = String, Path, description = "Endpoint name")),
    request_body(content = BaselineRequest, description = "JSON, or CSV with a header (text/csv)"),
    responses((status = 200, body = BaselineBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_baseline(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<BaselineBody>, AppError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    let source = if content_type.starts_with("text/csv") {
        BaselineSource::Csv(
            String::from_utf8(body.to_vec()).map_err(|_| AppError::unprocessable("The CSV is not UTF-8 text."))?,
        )
    } else {
        let req: BaselineRequest = serde_json::from_slice(&body)
            .map_err(|e| AppError::unprocessable(format!("The body is not a baseline request ({e}).")))?;
        match (req.training_job, req.captures) {
            (Some(job), None) => BaselineSource::TrainingJob(job),
            (None, Some(n)) => BaselineSource::Captures(n),
            _ => {
                return Err(AppError::unprocessable(
                    "Give one of `training_job` or `captures`, or send CSV with a header (Content-Type: text/csv).",
                ));
            }
        }
    };
    Ok(Json(endpoints::set_baseline(&state, &user, &name, &source).await?.into()))
}

/// The window of a drift check.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DriftQuery {
    /// Newest captures compared with the baseline (default 1,000).
    #[serde(default)]
    pub window: Option<u64>,
}

/// One column's drift.
#[derive(Debug, Serialize, ToSchema)]
pub struct ColumnDriftBody {
    /// The column.
    pub column: String,
    /// Tested as categorical (at most 5 distinct baseline values).
    pub categorical: bool,
    /// The test: `K-S p_value`, `chi-square p_value`, `Wasserstein distance (normed)` or `Jensen-Shannon distance`.
    pub method: String,
    /// The p-value or the distance.
    pub statistic: f64,
    /// Drift below it (a p-value) or at or above it (a distance).
    pub threshold: f64,
    /// Whether it drifted.
    pub drifted: bool,
    /// Population stability index.
    pub psi: f64,
    /// `none` (< 0.1), `moderate` (0.1–0.25), `major` (> 0.25).
    pub psi_band: String,
}

/// Data drift of the newest captures against the baseline.
#[derive(Debug, Serialize, ToSchema)]
pub struct DriftBody {
    /// The baseline.
    pub baseline: BaselineBody,
    /// Captures compared.
    pub current_rows: usize,
    /// Share of the columns that drifted.
    pub drifted_share: f64,
    /// Whether the data set drifted (half of the columns or more).
    pub dataset_drift: bool,
    /// Per column, drifted first.
    pub columns: Vec<ColumnDriftBody>,
}

/// Checks data drift now: each column of the newest captures against the
/// baseline (Evidently's defaults: K-S or chi-squared for a baseline of up
/// to 1,000 rows, else normed Wasserstein or Jensen–Shannon), with PSI.
#[utoipa::path(get, path = "/api/v1/endpoints/{name}/drift", tag = "endpoints", security(("bearer" = [])),
    params(("name" = String, Path, description = "Endpoint name"), DriftQuery),
    responses((status = 200, body = DriftBody), (status = 404, body = ErrorBody), (status = 422, description = "No baseline or no captures yet", body = ErrorBody)))]
async fn drift(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(name): Path<String>,
    Query(q): Query<DriftQuery>,
) -> Result<Json<DriftBody>, AppError> {
    let (baseline, report) =
        endpoints::drift(&state, &user, &name, q.window.unwrap_or(endpoints::DRIFT_WINDOW)).await?;
    let mut columns: Vec<ColumnDriftBody> = report
        .columns
        .iter()
        .map(|c| ColumnDriftBody {
            column: c.column.clone(),
            categorical: c.categorical,
            method: c.method.title().to_owned(),
            statistic: c.statistic,
            threshold: c.method.threshold(),
            drifted: c.drifted,
            psi: c.psi,
            psi_band: c.psi_band().to_owned(),
        })
        .collect();
    columns.sort_by_key(|c| !c.drifted);
    Ok(Json(DriftBody {
        baseline: baseline.into(),
        current_rows: report.current_rows,
        drifted_share: report.drifted_share(),
        dataset_drift: report.dataset_drift(),
        columns,
    }))
}

/// A new endpoint key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyRequest {
    /// A label ("fraud scoring service").
    #[serde(default)]
    pub name: String,
}

/// An endpoint key (its secret only in the answer that made it).
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyBody {
    /// Its id, to revoke it.
    pub id: String,
    /// Its label.
    pub name: String,
    /// The secret, `fwk_…`: shown once, now; Flywheel keeps only its digest.
    pub key: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds of its last use.
    pub last_used_at: Option<i64>,
    /// Unix milliseconds; a revoked key opens nothing.
    pub revoked_at: Option<i64>,
}

fn key_body(k: flywheel_domain::ApiToken, secret: Option<String>) -> KeyBody {
    KeyBody {
        id: k.id.to_string(),
        name: k.name,
        key: secret,
        created_at: k.created_at.millis(),
        last_used_at: k.last_used_at.map(|t| t.millis()),
        revoked_at: k.revoked_at.map(|t| t.millis()),
    }
}

/// Makes a key for this endpoint's invocations and ground truth (for a
/// service that should not hold a person's token). The secret is in this
/// answer only.
#[utoipa::path(post, path = "/api/v1/endpoints/{name}/keys", tag = "endpoints", security(("bearer" = [])),
    params(("name" = String, Path, description = "Endpoint name")),
    request_body = KeyRequest,
    responses((status = 201, body = KeyBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_key(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<KeyRequest>,
) -> Result<Response, AppError> {
    let (key, secret) = endpoints::create_key(&state, &user, &name, &req.name).await?;
    Ok((StatusCode::CREATED, Json(key_body(key, Some(secret)))).into_response())
}

/// The endpoint's keys, newest first, without their secrets.
#[utoipa::path(get, path = "/api/v1/endpoints/{name}/keys", tag = "endpoints", security(("bearer" = [])),
    params(("name" = String, Path, description = "Endpoint name")),
    responses((status = 200, body = Vec<KeyBody>), (status = 404, body = ErrorBody)))]
async fn list_keys(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(name): Path<String>,
) -> Result<Json<Vec<KeyBody>>, AppError> {
    let all = endpoints::keys(&state, &user, &name).await?;
    Ok(Json(all.into_iter().map(|k| key_body(k, None)).collect()))
}

/// Revokes a key: requests with it get 401 from now on.
#[utoipa::path(delete, path = "/api/v1/endpoints/{name}/keys/{id}", tag = "endpoints", security(("bearer" = [])),
    params(("name" = String, Path, description = "Endpoint name"), ("id" = String, Path, description = "Key id")),
    responses((status = 204, description = "Revoked"), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn revoke_key(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((name, id)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    endpoints::revoke_key(&state, &user, &name, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An endpoint's monitor: what it watches and how often it checks.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitorBody {
    /// Minutes between scheduled checks, 1–1440; 0: on demand only.
    #[serde(default)]
    pub every_minutes: u32,
    /// Alarm when a column drifts from the baseline with a major PSI (≥ 0.25).
    #[serde(default)]
    pub drift: bool,
    /// Alarm when a variant's p95 serving time exceeds this, milliseconds.
    #[serde(default)]
    pub latency_p95_ms: Option<f64>,
    /// Alarm when a variant's live ROC AUC (50 labelled predictions or more) falls below this.
    #[serde(default)]
    pub min_roc_auc: Option<f64>,
    /// Alarm when more than this percentage of the last 5 minutes' requests failed (20 requests or more).
    #[serde(default)]
    pub max_error_percent: Option<f64>,
    /// Roll the weights back to before the last change or promotion when an alarm fires.
    #[serde(default)]
    pub auto_rollback: bool,
}

/// A monitor with its last check.
#[derive(Debug, Serialize, ToSchema)]
pub struct MonitorStateBody {
    /// The settings.
    pub monitor: MonitorBody,
    /// Unix milliseconds of the next scheduled check (absent: on demand only).
    pub next_at: Option<i64>,
    /// Unix milliseconds of the last check.
    pub checked_at: Option<i64>,
    /// The last check's alarms (empty: all clear).
    pub alarms: Vec<String>,
    /// What a rollback restores: the production weights before the last change.
    pub rollback_weights: Vec<(String, f64)>,
}

impl From<flywheel_domain::MonitorState> for MonitorStateBody {
    fn from(s: flywheel_domain::MonitorState) -> Self {
        let m = s.monitor;
        Self {
            monitor: MonitorBody {
                every_minutes: m.every_minutes,
                drift: m.drift,
                latency_p95_ms: m.latency_p95_ms,
                min_roc_auc: m.min_roc_auc,
                max_error_percent: m.max_error_percent,
                auto_rollback: m.auto_rollback,
            },
            next_at: s.next_at.map(flywheel_domain::Timestamp::millis),
            checked_at: s.checked_at.map(flywheel_domain::Timestamp::millis),
            alarms: s.alarms,
            rollback_weights: s.rollback_weights,
        }
    }
}

/// Sets the endpoint's monitor: alarms on drift, p95 latency, live ROC
/// AUC and the share of failed requests, checked every few minutes (or on demand), each alarm written to
/// the event log, with an optional automatic rollback of the weights.
#[utoipa::path(put, path = "/api/v1/endpoints/{name}/monitor", tag = "endpoints", security(("bearer" = [])),
    params(("name" = String, Path, description = "Endpoint name")),
    request_body = MonitorBody,
    responses((status = 200, body = MonitorStateBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_monitor(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(name): Path<String>,
    ApiJson(m): ApiJson<MonitorBody>,
) -> Result<Json<MonitorStateBody>, AppError> {
    let monitor = flywheel_domain::Monitor {
        every_minutes: m.every_minutes,
        drift: m.drift,
        latency_p95_ms: m.latency_p95_ms,
        min_roc_auc: m.min_roc_auc,
        max_error_percent: m.max_error_percent,
        auto_rollback: m.auto_rollback,
    };
    Ok(Json(endpoints::monitor::set_monitor(&state, &user, &name, &monitor).await?.into()))
}

/// The endpoint's monitor and its last check.
#[utoipa::path(get, path = "/api/v1/endpoints/{name}/monitor", tag = "endpoints", security(("bearer" = [])),
    params(("name" = String, Path, description = "Endpoint name")),
    responses((status = 200, body = MonitorStateBody), (status = 404, body = ErrorBody), (status = 422, description = "No monitor", body = ErrorBody)))]
async fn get_monitor(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(name): Path<String>,
) -> Result<Json<MonitorStateBody>, AppError> {
    Ok(Json(endpoints::monitor::monitor(&state, &user, &name).await?.into()))
}

/// Checks the monitor's alarms now (and rolls back if they fire and it is asked to).
#[utoipa::path(post, path = "/api/v1/endpoints/{name}/monitor/check", tag = "endpoints", security(("bearer" = [])),
    params(("name" = String, Path, description = "Endpoint name")),
    responses((status = 200, body = MonitorStateBody), (status = 404, body = ErrorBody), (status = 422, description = "No monitor", body = ErrorBody)))]
async fn check_monitor(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(name): Path<String>,
) -> Result<Json<MonitorStateBody>, AppError> {
    Ok(Json(endpoints::monitor::check_now(&state, &user, &name).await?.into()))
}

/// A load test to run.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoadTestRequestBody {
    /// Requests per second, 1 to 5,000.
    #[schema(example = 200)]
    pub rps: u32,
    /// Seconds, 1 to 60.
    #[schema(example = 10)]
    pub seconds: u32,
    /// Rows to send, one per request, in the endpoint's column order (the
    /// first 1,000 are used); absent: the endpoint's newest captured requests.
    #[serde(default)]
    pub instances: Option<Vec<Vec<f64>>>,
}

/// A load test: where it is, and its figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoadTestBody {
    /// Its id.
    pub id: String,
    /// `running`, `finished` or `failed`.
    pub state: String,
    /// Seconds since it started (running).
    pub elapsed_seconds: Option<f64>,
    /// Seconds it runs (running), or ran (finished).
    pub seconds: Option<u32>,
    /// Requests of the test captured so far (running).
    pub captured: Option<usize>,
    /// The endpoint's serving time of the test's captured requests, ms: p50, p95, p99.
    pub serving_ms: Option<[f64; 3]>,
    /// The rate asked for, requests per second (finished).
    pub rps: Option<u32>,
    /// Requests sent (finished).
    pub requests: Option<u64>,
    /// Of those, failed: no answer, or not 200 (finished).
    pub failures: Option<u64>,
    /// Requests per second achieved (finished).
    pub achieved_rps: Option<f64>,
    /// Round trip as the load generator (Goose) timed it, whole ms: p50, p95, p99, max (finished).
    pub round_trip_ms: Option<[u64; 4]>,
    /// Answers by HTTP status (finished).
    pub status_codes: Option<BTreeMap<u16, u64>>,
    /// Why it failed (failed), or the first request errors (finished).
    pub errors: Vec<String>,
}

impl LoadTestBody {
    fn new(id: String, state: load::LoadState) -> Self {
        let mut body = LoadTestBody {
            id,
            state: String::new(),
            elapsed_seconds: None,
            seconds: None,
            captured: None,
            serving_ms: None,
            rps: None,
            requests: None,
            failures: None,
            achieved_rps: None,
            round_trip_ms: None,
            status_codes: None,
            errors: Vec::new(),
        };
        match state {
            load::LoadState::Running { elapsed_seconds, seconds, captured, serving_ms } => {
                body.state = "running".into();
                (body.elapsed_seconds, body.seconds, body.captured, body.serving_ms) =
                    (Some(elapsed_seconds), Some(seconds), Some(captured), serving_ms);
            }
            load::LoadState::Finished { report } => {
                body.state = "finished".into();
                let g = report.generated;
                body.serving_ms = report.serving_ms;
                body.seconds = u32::try_from(g.seconds).ok();
                (body.rps, body.requests, body.failures, body.achieved_rps) =
                    (Some(report.rps), Some(g.requests), Some(g.failures), Some(report.achieved_rps));
                (body.round_trip_ms, body.status_codes, body.errors) =
                    (Some(g.round_trip_ms), Some(g.status_codes), g.errors);
            }
            load::LoadState::Failed { error } => {
                body.state = "failed".into();
                body.errors = vec![error];
            }
        }
        body
    }
}

/// Starts a load test: Goose sends single-row invocations at `rps` for
/// `seconds`, from this server to itself, with a key made for the test
/// (revoked after it). Poll the answer's id for its progress and report.
#[utoipa::path(post, path = "/api/v1/endpoints/{name}/load-tests", tag = "endpoints", security(("bearer" = [])),
    params(("name" = String, Path, description = "Endpoint name")),
    request_body = LoadTestRequestBody,
    responses((status = 202, body = LoadTestBody), (status = 404, body = ErrorBody), (status = 422, description = "Out of range, no rows to send, or a test of this endpoint running", body = ErrorBody)))]
async fn start_load_test(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<LoadTestRequestBody>,
) -> Result<Response, AppError> {
    let request = load::LoadTestRequest { rps: req.rps, seconds: req.seconds, rows: req.instances };
    let id = load::start(&state, &user, &name, request).await?.to_string();
    let now = load::status(&state, &user, &name, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(LoadTestBody::new(id, now))).into_response())
}

/// A load test's progress (with the serving times captured so far) or report.
#[utoipa::path(get, path = "/api/v1/endpoints/{name}/load-tests/{id}", tag = "endpoints", security(("bearer" = [])),
    params(("name" = String, Path, description = "Endpoint name"), ("id" = String, Path, description = "Load test id")),
    responses((status = 200, body = LoadTestBody), (status = 404, body = ErrorBody), (status = 422, description = "This server ran no such test", body = ErrorBody)))]
async fn load_test(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((name, id)): Path<(String, String)>,
) -> Result<Json<LoadTestBody>, AppError> {
    let now = load::status(&state, &user, &name, &id).await?;
    Ok(Json(LoadTestBody::new(id, now)))
}

/// A batch transform to run.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequestBody {
    /// The table to score: `builtin:<name>` or `dataset:<file name>` (one of yours).
    #[schema(example = "builtin:credit_card_fraud")]
    pub input: String,
    /// The variant whose model scores (default: the one with the largest weight).
    #[serde(default)]
    pub variant: Option<String>,
    /// The new dataset's file name (default: `<input>-<endpoint>.csv`).
    #[serde(default)]
    pub output: Option<String>,
}

/// A batch transform: where it is, and what it made.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchBody {
    /// Its id.
    pub id: String,
    /// `running`, `finished` or `failed`.
    pub state: String,
    /// Rows scored so far (running), or all (finished).
    pub rows_done: Option<usize>,
    /// Rows to score.
    pub rows: Option<usize>,
    /// The new dataset's file name in My data (finished).
    pub dataset: Option<String>,
    /// Its id (finished): `GET /api/v1/datasets/{id}`.
    pub dataset_id: Option<String>,
    /// The variant that scored (finished).
    pub variant: Option<String>,
    /// Input columns carried through unscored (finished).
    pub carried: Vec<String>,
    /// Seconds it took (finished).
    pub seconds: Option<f64>,
    /// Why it failed (failed).
    pub error: Option<String>,
}

impl BatchBody {
    fn new(id: String, state: batch::BatchState) -> Self {
        let mut body = BatchBody {
            id,
            state: String::new(),
            rows_done: None,
            rows: None,
            dataset: None,
            dataset_id: None,
            variant: None,
            carried: Vec::new(),
            seconds: None,
            error: None,
        };
        match state {
            batch::BatchState::Running((done, of)) => {
                body.state = "running".into();
                (body.rows_done, body.rows) = (Some(done), Some(of));
            }
            batch::BatchState::Finished(r) => {
                body.state = "finished".into();
                (body.rows_done, body.rows, body.seconds) = (Some(r.rows), Some(r.rows), Some(r.seconds));
                (body.dataset, body.dataset_id, body.variant, body.carried) =
                    (Some(r.dataset), Some(r.dataset_id), Some(r.variant), r.carried);
            }
            batch::BatchState::Failed(error) => {
                body.state = "failed".into();
                body.error = Some(error);
            }
        }
        body
    }
}

/// Starts a batch transform: scores every row of a built-in table or one
/// of your datasets with the endpoint's model into a new dataset in My
/// data (the input plus `score` and `prediction`). Poll the answer's id.
#[utoipa::path(post, path = "/api/v1/endpoints/{name}/batch-transforms", tag = "endpoints", security(("bearer" = [])),
    params(("name" = String, Path, description = "Endpoint name")),
    request_body = BatchRequestBody,
    responses((status = 202, body = BatchBody), (status = 404, body = ErrorBody), (status = 422, description = "An unknown input or variant, a table without the model's columns, an output name taken, or one running", body = ErrorBody)))]
async fn start_batch(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<BatchRequestBody>,
) -> Result<Response, AppError> {
    let request = batch::BatchRequest { input: req.input, variant: req.variant, output: req.output };
    let id = batch::start(&state, &user, &name, request).await?.to_string();
    let now = batch::status(&state, &user, &name, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(BatchBody::new(id, now))).into_response())
}

/// A batch transform's progress or result.
#[utoipa::path(get, path = "/api/v1/endpoints/{name}/batch-transforms/{id}", tag = "endpoints", security(("bearer" = [])),
    params(("name" = String, Path, description = "Endpoint name"), ("id" = String, Path, description = "Batch transform id")),
    responses((status = 200, body = BatchBody), (status = 404, body = ErrorBody), (status = 422, description = "This server ran no such batch transform", body = ErrorBody)))]
async fn batch_transform(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((name, id)): Path<(String, String)>,
) -> Result<Json<BatchBody>, AppError> {
    let now = batch::status(&state, &user, &name, &id).await?;
    Ok(Json(BatchBody::new(id, now)))
}

/// Sets the human review band: captured predictions scored in it wait in
/// the review queue until a teammate labels them (their ground truth).
#[utoipa::path(put, path = "/api/v1/endpoints/{name}/review", tag = "endpoints", security(("bearer" = [])),
    params(("name" = String, Path, description = "Endpoint name")),
    request_body = ReviewBody,
    responses((status = 200, body = EndpointBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_review(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<ReviewBody>,
) -> Result<Json<EndpointBody>, AppError> {
    Ok(Json(endpoints::set_review(&state, &user, &name, Some(review_band(req)?)).await?.into()))
}

/// Ends human review (labels given stay as ground truth).
#[utoipa::path(delete, path = "/api/v1/endpoints/{name}/review", tag = "endpoints", security(("bearer" = [])),
    params(("name" = String, Path, description = "Endpoint name")),
    responses((status = 200, body = EndpointBody), (status = 404, body = ErrorBody)))]
async fn end_review(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(name): Path<String>,
) -> Result<Json<EndpointBody>, AppError> {
    Ok(Json(endpoints::set_review(&state, &user, &name, None).await?.into()))
}

/// The review queue: captured predictions in the review band without a
/// label, oldest first (50 at a time). Label one with
/// `POST /endpoints/{name}/ground-truth`.
#[utoipa::path(get, path = "/api/v1/endpoints/{name}/review-queue", tag = "endpoints", security(("bearer" = [])),
    params(("name" = String, Path, description = "Endpoint name")),
    responses((status = 200, body = Vec<Object>), (status = 404, body = ErrorBody), (status = 422, description = "No review band", body = ErrorBody)))]
async fn review_queue(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(name): Path<String>,
) -> Result<Json<Vec<flywheel_domain::Capture>>, AppError> {
    Ok(Json(endpoints::review_queue(&state, &user, &name).await?.1))
}

/// Filters of the capture download.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CapturesQuery {
    /// `jsonl` (default: JSON lines) or `csv`.
    #[serde(default)]
    pub format: Option<String>,
    /// Most captures, newest first (default 1,000; at most 100,000).
    #[serde(default)]
    pub limit: Option<u64>,
}

/// The endpoint's captured predictions, newest first, as JSON lines or CSV.
#[utoipa::path(get, path = "/api/v1/endpoints/{name}/captures", tag = "endpoints", security(("bearer" = [])),
    params(("name" = String, Path, description = "Endpoint name"), CapturesQuery),
    responses(
        (status = 200, content_type = "application/x-ndjson", body = String),
        (status = 404, body = ErrorBody),
        (status = 422, description = "An unknown format", body = ErrorBody),
    ))]
async fn captures(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(name): Path<String>,
    Query(q): Query<CapturesQuery>,
) -> Result<Response, AppError> {
    let csv = match q.format.as_deref() {
        None | Some("jsonl") => false,
        Some("csv") => true,
        Some(other) => return Err(AppError::unprocessable(format!("format is jsonl or csv, not {other:?}."))),
    };
    let (view, all) = endpoints::captures(&state, &user, &name, q.limit.unwrap_or(1000)).await?;
    if csv {
        let text = endpoints::captures_csv(view.columns.as_deref(), &all)?;
        let disposition = format!("attachment; filename=\"{name}-captures.csv\"");
        return Ok(([(header::CONTENT_TYPE, "text/csv".to_owned()), (header::CONTENT_DISPOSITION, disposition)], text)
            .into_response());
    }
    let mut text = String::new();
    for c in &all {
        text.push_str(&serde_json::to_string(c).map_err(|e| AppError::Internal(e.into()))?);
        text.push('\n');
    }
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], text).into_response())
}

/// Who calls an invocation: a person by their API token, or an endpoint
/// key (`Authorization: Bearer fwk_…`, good for its endpoint only).
pub enum InvocationCaller {
    /// A person.
    User(User),
    /// The digest of an endpoint key's secret.
    Key(String),
}

impl InvocationCaller {
    fn as_caller(&self) -> endpoints::Caller<'_> {
        match self {
            InvocationCaller::User(u) => endpoints::Caller::User(u),
            InvocationCaller::Key(d) => endpoints::Caller::Key(d),
        }
    }
}

impl FromRequestParts<AppState> for InvocationCaller {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let unauthorized =
            || AppError::unauthorized("Send an endpoint key or an API token: `Authorization: Bearer fwk_…` or `fw_…`.");
        let header = parts.headers.get(header::AUTHORIZATION).ok_or_else(unauthorized)?;
        let header = header.to_str().map_err(|_| unauthorized())?;
        let (scheme, raw) = header.split_once(' ').ok_or_else(unauthorized)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(unauthorized());
        }
        let secret = TokenSecret::parse(raw.trim()).map_err(|_| unauthorized())?;
        if secret.is_endpoint_key() {
            return Ok(InvocationCaller::Key(secret.digest()));
        }
        let user = state.db.authenticate_api_token(&secret.digest(), crate::now()).await?;
        user.map(InvocationCaller::User).ok_or_else(unauthorized)
    }
}

/// One row's prediction.
#[derive(Debug, Serialize, ToSchema)]
pub struct PredictionBody {
    /// Its id: post its ground truth with it.
    pub inference_id: String,
    /// The probability of the positive class.
    pub score: f64,
    /// The predicted class.
    pub class: String,
}

/// An invocation's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvocationBody {
    /// The variant that served the request.
    pub variant: String,
    /// Whether its predictions were captured (only captured ones take ground truth).
    pub captured: bool,
    /// One per row, in order.
    pub predictions: Vec<PredictionBody>,
}

/// Scores rows. JSON `{"instances": [[…], …]}` (the model's column order)
/// or `{"records": [{"column": value, …}, …]}`, or CSV rows with
/// `Content-Type: text/csv` (a header row names the columns). The variant is
/// drawn by weight unless `X-Flywheel-Variant` names one; the answer's
/// `X-Flywheel-Variant` says which served it.
#[utoipa::path(post, path = "/endpoints/{name}/invocations", tag = "endpoints", security(("bearer" = [])),
    params(
        ("name" = String, Path, description = "Endpoint name"),
        ("X-Flywheel-Variant" = Option<String>, Header, description = "Serve with this variant"),
    ),
    request_body(content = String, description = "JSON instances or records, or CSV", content_type = "application/json"),
    responses(
        (status = 200, body = InvocationBody),
        (status = 404, body = ErrorBody),
        (status = 413, description = "The body is over the server's limit", body = ErrorBody),
        (status = 422, description = "Empty body, wrong number of features or unknown columns (the message names the expected ones), a value that is not a number, an unknown variant", body = ErrorBody),
    ))]
async fn invoke(
    State(state): State<AppState>,
    caller: InvocationCaller,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    let format = if content_type.starts_with("text/csv") { BodyFormat::Csv } else { BodyFormat::Json };
    let variant = headers.get(&VARIANT_HEADER).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    let served = endpoints::invoke(&state, caller.as_caller(), &name, &body, format, variant).await?;
    let answer = InvocationBody {
        predictions: served
            .predictions
            .into_iter()
            .map(|p| PredictionBody { inference_id: p.inference_id.to_string(), score: p.score, class: p.class })
            .collect(),
        captured: served.captured,
        variant: served.variant.clone(),
    };
    Ok(([(VARIANT_HEADER, served.variant)], Json(answer)).into_response())
}

/// The true class of a captured prediction.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroundTruthRequest {
    /// The id the invocation answered.
    pub inference_id: String,
    /// The true class (a string, or a number for numeric classes).
    #[schema(value_type = String, example = "1")]
    pub label: serde_json::Value,
}

/// Posts the true class of a captured prediction; it joins the capture and
/// counts in its variant's live accuracy and ROC AUC.
#[utoipa::path(post, path = "/endpoints/{name}/ground-truth", tag = "endpoints", security(("bearer" = [])),
    params(("name" = String, Path, description = "Endpoint name")),
    request_body = GroundTruthRequest,
    responses(
        (status = 204, description = "Recorded"),
        (status = 404, description = "No such endpoint, or no captured prediction with this id", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
async fn ground_truth(
    State(state): State<AppState>,
    caller: InvocationCaller,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<GroundTruthRequest>,
) -> Result<StatusCode, AppError> {
    let label = match &req.label {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => match n.as_f64() {
            #[allow(clippy::cast_possible_truncation)]
            Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", x as i64),
            _ => n.to_string(),
        },
        serde_json::Value::Bool(b) => b.to_string(),
        other => return Err(AppError::unprocessable(format!("`label` is the true class, not {other}."))),
    };
    endpoints::ground_truth(&state, caller.as_caller(), &name, &req.inference_id, &label).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The endpoints' part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(
    deploy,
    list,
    get_endpoint,
    set_weights,
    delete_endpoint,
    set_shadow,
    remove_shadow,
    promote_shadow,
    shadow_report,
    events,
    traffic,
    errors,
    start_load_test,
    load_test,
    start_batch,
    batch_transform,
    set_baseline,
    drift,
    create_key,
    list_keys,
    revoke_key,
    set_review,
    end_review,
    review_queue,
    set_monitor,
    get_monitor,
    check_monitor,
    captures,
    invoke,
    ground_truth
))]
pub struct EndpointsDoc;

/// `/api/v1/endpoints…`.
pub fn router() -> axum::Router<AppState> {
    use axum::routing::{get, post, put};
    axum::Router::new()
        .route("/endpoints", post(deploy).get(list))
        .route("/endpoints/{name}", get(get_endpoint).patch(set_weights).delete(delete_endpoint))
        .route("/endpoints/{name}/shadow", post(set_shadow).delete(remove_shadow))
        .route("/endpoints/{name}/shadow/promote", post(promote_shadow))
        .route("/endpoints/{name}/shadow-report", get(shadow_report))
        .route("/endpoints/{name}/events", get(events))
        .route("/endpoints/{name}/traffic", get(traffic))
        .route("/endpoints/{name}/errors", get(errors))
        .route("/endpoints/{name}/load-tests", post(start_load_test))
        .route("/endpoints/{name}/load-tests/{id}", get(load_test))
        .route("/endpoints/{name}/batch-transforms", post(start_batch))
        .route("/endpoints/{name}/batch-transforms/{id}", get(batch_transform))
        .route("/endpoints/{name}/baseline", put(set_baseline))
        .route("/endpoints/{name}/drift", get(drift))
        .route("/endpoints/{name}/keys", post(create_key).get(list_keys))
        .route("/endpoints/{name}/review", put(set_review).delete(end_review))
        .route("/endpoints/{name}/review-queue", get(review_queue))
        .route("/endpoints/{name}/monitor", put(set_monitor).get(get_monitor))
        .route("/endpoints/{name}/monitor/check", post(check_monitor))
        .route("/endpoints/{name}/keys/{id}", axum::routing::delete(revoke_key))
        .route("/endpoints/{name}/captures", get(captures))
}

/// `/endpoints/{name}/invocations` and `/endpoints/{name}/ground-truth`, at the top level.
pub fn runtime_router() -> axum::Router<AppState> {
    use axum::routing::post;
    axum::Router::new()
        .route("/endpoints/{name}/invocations", post(invoke))
        .route("/endpoints/{name}/ground-truth", post(ground_truth))
}
