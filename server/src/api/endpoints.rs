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
use flywheel_app::endpoints::{self, BodyFormat, DeployRequest, EndpointView, ModelSource, VariantRequest};
use flywheel_domain::Endpoint;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use crate::api::ApiJson;
use crate::auth::extract::ApiUser;
use crate::error::{AppError, ErrorBody};
use crate::state::AppState;

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
    /// Its variants.
    pub variants: Vec<VariantBody>,
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

fn body(endpoint: Endpoint, columns: Option<Vec<String>>, stats: Option<Vec<endpoints::VariantStats>>) -> EndpointBody {
    let total: f64 = endpoint.variants.iter().map(|v| v.weight).sum();
    let mut stats = stats.map(Vec::into_iter);
    EndpointBody {
        invocation_url: format!("/endpoints/{}/invocations", endpoint.name),
        state: "in_service".to_owned(),
        columns,
        variants: endpoint
            .variants
            .into_iter()
            .map(|v| VariantBody {
                traffic_percent: if total > 0.0 { 100.0 * v.weight / total } else { 0.0 },
                metrics: stats.as_mut().and_then(Iterator::next).map(|s| VariantMetricsBody {
                    captured: s.captured,
                    labelled: s.labelled,
                    accuracy: s.accuracy,
                    roc_auc: s.roc_auc,
                    pr_auc: s.pr_auc,
                    latency_p50_ms: s.latency_p50_ms,
                    latency_p95_ms: s.latency_p95_ms,
                }),
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
        variants: req
            .variants
            .into_iter()
            .map(|v| VariantRequest {
                name: v.name,
                model: match v.model {
                    ModelBody::Session { session, file } => ModelSource::Session { session, file },
                    ModelBody::TrainingJob { training_job } => ModelSource::TrainingJob(training_job),
                },
                weight: v.weight,
            })
            .collect(),
        capture_percent: req.capture_percent,
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
    ApiUser(user): ApiUser,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    let format = if content_type.starts_with("text/csv") { BodyFormat::Csv } else { BodyFormat::Json };
    let variant = headers.get(&VARIANT_HEADER).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    let served = endpoints::invoke(&state, &user, &name, &body, format, variant).await?;
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
    ApiUser(user): ApiUser,
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
    endpoints::ground_truth(&state, &user, &name, &req.inference_id, &label).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The endpoints' part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(deploy, list, get_endpoint, set_weights, delete_endpoint, captures, invoke, ground_truth))]
pub struct EndpointsDoc;

/// `/api/v1/endpoints…`.
pub fn router() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/endpoints", post(deploy).get(list))
        .route("/endpoints/{name}", get(get_endpoint).patch(set_weights).delete(delete_endpoint))
        .route("/endpoints/{name}/captures", get(captures))
}

/// `/endpoints/{name}/invocations` and `/endpoints/{name}/ground-truth`, at the top level.
pub fn runtime_router() -> axum::Router<AppState> {
    use axum::routing::post;
    axum::Router::new()
        .route("/endpoints/{name}/invocations", post(invoke))
        .route("/endpoints/{name}/ground-truth", post(ground_truth))
}
