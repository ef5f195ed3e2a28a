//! Prometheus metrics at `/metrics` (OpenMetrics text): request counts and
//! latencies per route, method and status, with the route as its pattern
//! (`/account/tokens/{id}/revoke`), never the raw path, so the number of
//! series stays bounded.

use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::error::AppError;
use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

/// The registry and the request metrics in it.
#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RequestLabels, Histogram>,
}

impl Metrics {
    /// A fresh registry with `http_requests_total` and `http_request_duration_seconds`.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            // 1 ms … ~16 s
            Histogram::new(exponential_buckets(0.001, 2.0, 15))
        });
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register("http_request_duration_seconds", "Time to answer an HTTP request", latency.clone());
        Self { registry: Mutex::new(registry), requests, latency }
    }

    fn observe(&self, labels: RequestLabels, seconds: f64) {
        self.latency.get_or_create(&labels).observe(seconds);
        self.requests.get_or_create(&labels).inc();
    }

    fn render(&self) -> Result<String, AppError> {
        let mut out = String::new();
        let registry = self.registry.lock().map_err(|_| anyhow::anyhow!("metrics registry poisoned"))?;
        prometheus_client::encoding::text::encode(&mut out, &registry).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(out)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Route-layer middleware that records each request.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let response = next.run(request).await;
    let labels = RequestLabels { method, route, status: response.status().as_u16() };
    state.metrics.observe(labels, started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`.
pub async fn export(State(state): State<AppState>) -> Result<Response, AppError> {
    let body = state.metrics.render()?;
    Ok(([(CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body).into_response())
}
