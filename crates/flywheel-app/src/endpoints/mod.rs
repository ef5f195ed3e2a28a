//! Endpoints (Day 3, production): saved models served over HTTP
//! (`EndpointError`).
//!
//! A participant deploys a model a notebook saved, or a training job's
//! artifact, under a name; `POST /endpoints/{name}/invocations` answers
//! with each row's score and class, the variant that served it and an
//! inference id. Several variants share the traffic by relative weight
//! (SageMaker's production variants), changed live; a share of the
//! predictions is captured, and ground truth posted later by inference id
//! gives each variant's live accuracy and ROC AUC.
//!
//! Serving: each server keeps the parsed models of the endpoints it served
//! ([`Serving`]) and checks the endpoint's `updated_at` in the database at
//! most every [`RECHECK`], so several servers on one PostgreSQL serve the
//! same variants and weights, and a weight change reaches all of them
//! within that time without dropping a request (the old models answer until
//! the new ones are loaded).
//!
//! Captures and shadow results never hold up a request: invocations queue
//! them for the server's capture writer ([`Serving`]), which stores them in
//! batches and prunes each endpoint to its newest [`MAX_CAPTURES`] every
//! [`PRUNE_EVERY`]. Reads of them (metrics, downloads, drift, the review
//! queue) and ground truth wait for the queue to be written first, so a
//! caller always sees its own requests. Ground truth posted to another
//! server within a few milliseconds of the invocation can miss its capture
//! (404): post it again.
//!
//! Who may do what: an endpoint is its owner's and their team's (at
//! deployment); its workshop's instructors and admins see and invoke it
//! too. Everyone else gets `NotFound`, as for training jobs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use flywheel_domain::endpoint::{check_name, check_variants, pick_variant};
use flywheel_domain::{
    ApiToken, ApiTokenId, Capture, Endpoint, EndpointEvent, EndpointId, InferenceId, InvocationError, ReviewBand,
    ShadowResult, TokenSecret, TrainingJobId, User, ValidationError, Variant,
};
use flywheel_ml::scoring::SubmittedModel;
use flywheel_ml::{Labels, Matrix, Vector};
use flywheel_store::StoreError;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::{App, now, random_bytes};

pub mod background;
pub mod batch;
pub mod cells;
pub mod load;
pub mod monitor;
pub mod timeline;

/// How long a server serves an endpoint's cached variants before it asks
/// the database whether they changed.
pub const RECHECK: Duration = Duration::from_secs(1);

/// Rows one invocation may carry.
pub const MAX_ROWS: usize = 10_000;

/// Captures kept per endpoint (the oldest go first).
pub const MAX_CAPTURES: u64 = 100_000;

/// Captures the live metrics are computed on (the newest).
pub const METRIC_WINDOW: u64 = 10_000;

/// What can go wrong with an endpoint.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// No such endpoint, or one the caller may not see (the same answer).
    #[error("There is no endpoint named {0:?} (or it is not yours or your team's).")]
    NotFound(String),
    /// No captured prediction has this inference id.
    #[error(
        "Endpoint {endpoint:?} captured no prediction with inference id {id}: ground truth joins captured predictions only (see the endpoint's capture_percent)."
    )]
    NoInference {
        /// The endpoint.
        endpoint: String,
        /// The id posted.
        id: String,
    },
    /// An endpoint key that was revoked or never existed.
    #[error("This endpoint key was revoked or never existed: ask your team for a current one.")]
    BadKey,
    /// The name is taken.
    #[error("An endpoint named {0:?} already exists: choose another name, or delete that one first.")]
    Taken(String),
    /// The request cannot be served or applied; the message says why and what is valid.
    #[error("{0}")]
    Invalid(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Anything else (a blocking task that died, the random source).
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<ValidationError> for EndpointError {
    fn from(e: ValidationError) -> Self {
        EndpointError::Invalid(format!("{}: {}", e.field, e.message))
    }
}

/// Where a variant's model comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A file a cell of the caller's kernel session saved (`model.save("fraud.json")?`).
    Session {
        /// The kernel session's id.
        session: String,
        /// The file's name in the session's folder.
        file: String,
    },
    /// The model artifact (`model.json`) of a completed training job the caller may see.
    TrainingJob(String),
}

/// One variant of a deployment.
#[derive(Debug, Clone)]
pub struct VariantRequest {
    /// Its name.
    pub name: String,
    /// Its model.
    pub model: ModelSource,
    /// Its relative traffic weight.
    pub weight: f64,
}

/// A deployment.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    /// The endpoint's name.
    pub name: String,
    /// Its variants.
    pub variants: Vec<VariantRequest>,
    /// Share of requests captured, 0–100.
    pub capture_percent: u8,
    /// A shadow variant, if any.
    pub shadow: Option<ShadowRequest>,
    /// Human review of the captured predictions scored in this band, if any.
    pub review: Option<ReviewBand>,
}

/// A shadow variant: a model that gets a copy of a share of the requests
/// after production has answered, whose answers are only compared.
#[derive(Debug, Clone)]
pub struct ShadowRequest {
    /// The variant (its weight is unused).
    pub variant: VariantRequest,
    /// Share of requests mirrored to it, 1–100.
    pub sample_percent: u8,
}

/// An endpoint's models, parsed, as this server serves them: one per
/// production variant in order, then the shadow's.
struct Served {
    endpoint: Endpoint,
    columns: Option<Vec<String>>,
    models: Arc<Vec<SubmittedModel>>,
    checked: Instant,
}

impl Served {
    fn shadow_model(&self) -> Option<&SubmittedModel> {
        self.endpoint.shadow.as_ref().and_then(|_| self.models.get(self.endpoint.variants.len()))
    }
}

/// Most shadow results kept per endpoint (the oldest go first).
pub const MAX_SHADOW_RESULTS: u64 = 100_000;

/// Invocation errors kept per endpoint (the oldest go first).
pub const MAX_ERRORS: u64 = 10_000;

/// Records a change in the endpoint's audit trail (a failure is logged: the change itself stands).
async fn audit(app: &App, endpoint: EndpointId, user: &User, message: String) {
    record(app, endpoint, Some(user), message).await;
}

/// Appends to the endpoint's audit trail; no `user`: the server did it (a scheduled check).
async fn record(app: &App, endpoint: EndpointId, user: Option<&User>, message: String) {
    let event = EndpointEvent { at: now(), actor: user.map(|u| u.id), message };
    if let Err(e) = app.db.add_endpoint_event(endpoint, &event).await {
        tracing::warn!(error = %e, %endpoint, "could not record an endpoint event");
    }
}

/// The production variants' weights: what a rollback restores.
fn weights_of(endpoint: &Endpoint) -> Vec<(String, f64)> {
    endpoint.variants.iter().map(|v| (v.name.clone(), v.weight)).collect()
}

fn describe(v: &Variant) -> String {
    format!("{} ({}, {}, weight {})", v.name, v.model_kind, v.source, v.weight)
}

fn describe_shadow(v: &Variant, percent: u8) -> String {
    format!("shadow {} ({}, {}) on {percent} % of requests", v.name, v.model_kind, v.source)
}

fn check_percent(what: &str, percent: u8) -> Result<(), EndpointError> {
    if percent > 100 {
        return Err(EndpointError::Invalid(format!("{what} is a share of requests, 0 to 100, not {percent}.")));
    }
    Ok(())
}

/// The endpoints this server has loaded, by name (see the module docs),
/// and its capture writer.
#[derive(Default)]
pub struct Serving {
    loaded: Mutex<HashMap<String, Arc<Served>>>,
    writer: std::sync::OnceLock<mpsc::UnboundedSender<Write>>,
    /// The load tests this server ran.
    load_tests: load::LoadTests,
    /// The batch transforms this server ran.
    batches: batch::BatchTransforms,
    /// Where this server listens, for its load tests ([`Serving::set_address`]).
    address: std::sync::OnceLock<std::net::SocketAddr>,
}

/// Most writes the capture writer takes into one batch.
const WRITE_BATCH: usize = 512;

/// How often the capture writer prunes an endpoint's captures and shadow
/// results to the newest [`MAX_CAPTURES`] / [`MAX_SHADOW_RESULTS`] (the
/// pruning query reads them all, so not at every batch).
pub const PRUNE_EVERY: Duration = Duration::from_secs(10);

/// What the capture writer is asked to do.
enum Write {
    Captures(EndpointId, Vec<Capture>),
    Shadow(EndpointId, Vec<ShadowResult>),
    /// Invocations refused or failed on.
    Errors(EndpointId, Vec<InvocationError>),
    /// Answer once everything queued before has been written.
    Flush(oneshot::Sender<()>),
}

/// The capture writer: invocations queue their captures and return; this
/// task stores them in batches (a transaction per endpoint and batch), so a
/// request never waits for the database. Started with the first write.
async fn write_captures(db: Arc<dyn flywheel_store::Database>, mut queue: mpsc::UnboundedReceiver<Write>) {
    let mut pruned: HashMap<(EndpointId, &str), Instant> = HashMap::new();
    let mut due = |id: EndpointId, table: &'static str, keep: u64| -> u64 {
        let last = pruned
            .entry((id, table))
            .or_insert_with(|| Instant::now().checked_sub(PRUNE_EVERY).unwrap_or_else(Instant::now));
        if last.elapsed() >= PRUNE_EVERY {
            *last = Instant::now();
            keep
        } else {
            u64::MAX
        }
    };
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < WRITE_BATCH {
            match queue.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        let (mut captures, mut shadows, mut errors, mut flushes) = (
            HashMap::<EndpointId, Vec<Capture>>::new(),
            HashMap::<EndpointId, Vec<ShadowResult>>::new(),
            HashMap::<EndpointId, Vec<InvocationError>>::new(),
            Vec::new(),
        );
        for w in batch {
            match w {
                Write::Captures(id, c) => captures.entry(id).or_default().extend(c),
                Write::Shadow(id, r) => shadows.entry(id).or_default().extend(r),
                Write::Errors(id, e) => errors.entry(id).or_default().extend(e),
                Write::Flush(done) => flushes.push(done),
            }
        }
        for (id, c) in captures {
            if let Err(e) = db.add_captures(id, &c, due(id, "captures", MAX_CAPTURES)).await {
                tracing::warn!(error = %e, endpoint = %id, lost = c.len(), "could not store captures");
            }
        }
        for (id, r) in shadows {
            if let Err(e) = db.add_shadow_results(id, &r, due(id, "shadow", MAX_SHADOW_RESULTS)).await {
                tracing::warn!(error = %e, endpoint = %id, lost = r.len(), "could not store shadow results");
            }
        }
        for (id, r) in errors {
            if let Err(e) = db.add_invocation_errors(id, &r, due(id, "errors", MAX_ERRORS)).await {
                tracing::warn!(error = %e, endpoint = %id, lost = r.len(), "could not store invocation errors");
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

impl Serving {
    fn get(&self, name: &str) -> Option<Arc<Served>> {
        self.loaded.lock().unwrap_or_else(PoisonError::into_inner).get(name).cloned()
    }

    fn put(&self, served: Arc<Served>) {
        self.loaded.lock().unwrap_or_else(PoisonError::into_inner).insert(served.endpoint.name.clone(), served);
    }

    fn forget(&self, name: &str) {
        self.loaded.lock().unwrap_or_else(PoisonError::into_inner).remove(name);
    }

    /// Queues a write for the capture writer, starting it the first time.
    fn write(&self, app: &App, w: Write) {
        let writer = self.writer.get_or_init(|| {
            let (send, receive) = mpsc::unbounded_channel();
            tokio::spawn(write_captures(app.db.clone(), receive));
            send
        });
        if writer.send(w).is_err() {
            tracing::warn!("the capture writer has stopped; captures are lost");
        }
    }

    /// Waits until every capture and shadow result queued so far is in the
    /// database (before reading them back, or joining ground truth).
    async fn flush(&self) {
        if let Some(writer) = self.writer.get() {
            let (done, written) = oneshot::channel();
            if writer.send(Write::Flush(done)).is_ok() {
                let _ = written.await;
            }
        }
    }
}

/// Parses saved models on the blocking pool and checks that they take the
/// same inputs: the feature columns one of them records (boosted trees and
/// random forests do), which every other must record alike or accept.
async fn parse_models(
    named: Vec<(String, String)>,
) -> Result<(Option<Vec<String>>, Vec<SubmittedModel>), EndpointError> {
    tokio::task::spawn_blocking(move || {
        let mut models = Vec::with_capacity(named.len());
        for (variant, json) in &named {
            let model = SubmittedModel::from_json(json)
                .map_err(|e| EndpointError::Invalid(format!("Variant {variant:?} cannot be served: {e}.")))?;
            models.push(model);
        }
        let columns = models.iter().find_map(SubmittedModel::feature_names).map(<[String]>::to_vec);
        if let Some(columns) = &columns {
            for ((variant, _), model) in named.iter().zip(&models) {
                match model.feature_names() {
                    Some(own) if own != columns.as_slice() => {
                        return Err(EndpointError::Invalid(format!(
                            "Variant {variant:?} takes the columns {}, another variant {}: the variants of an endpoint take the same inputs.",
                            own.join(", "),
                            columns.join(", ")
                        )));
                    }
                    Some(_) => {}
                    None => {
                        let probe = Matrix::from_vec(1, columns.len(), vec![0.0; columns.len()])
                            .map_err(|e| EndpointError::Internal(anyhow::anyhow!("{e}")))?;
                        model.predict_proba(&probe).map_err(|e| {
                            EndpointError::Invalid(format!(
                                "Variant {variant:?} does not take this endpoint's {} columns ({}): {e}.",
                                columns.len(),
                                columns.join(", ")
                            ))
                        })?;
                    }
                }
            }
        }
        Ok((columns, models))
    })
    .await
    .map_err(|e| EndpointError::Internal(anyhow::anyhow!("loading models: {e}")))?
}

/// Reads a variant's model JSON from where the request says.
async fn model_json(
    app: &App,
    user: &User,
    variant: &str,
    source: &ModelSource,
) -> Result<(String, String), EndpointError> {
    let invalid = |why: String| EndpointError::Invalid(format!("Variant {variant:?}: {why}"));
    match source {
        ModelSource::Session { session, file } => {
            let session = app
                .kernels
                .session(user.id, session)
                .map_err(|_| invalid(format!("you have no kernel session {session:?} (open the notebook that saved the model, and use its session id).")))?;
            let bytes = session
                .read_file(file.trim(), crate::workshops::MAX_MODEL_BYTES as u64)
                .await
                .map_err(|e| invalid(format!("{e}.")))?;
            let json = String::from_utf8(bytes).map_err(|_| invalid(format!("{file} is not a saved model's JSON.")))?;
            Ok((json, format!("{file} of kernel session {}", session.id)))
        }
        ModelSource::TrainingJob(id) => {
            let id: TrainingJobId = id.parse().map_err(|_| invalid(format!("{id:?} is not a training job id.")))?;
            let job = crate::training::visible(app, user, id)
                .await
                .map_err(|_| invalid(format!("there is no training job {id} of yours or your team's.")))?;
            let json =
                app.db.training_artifact_content(id, "model.json").await?.ok_or_else(|| {
                    invalid(format!("training job {id} is {} and has no model yet.", job.state.as_str()))
                })?;
            Ok((json, format!("training job {id}")))
        }
    }
}

/// Deploys `req` for `user`: reads and checks every variant's model, then
/// stores the endpoint. It answers at once afterwards (the models are loaded).
///
/// # Errors
/// [`EndpointError::Invalid`] for a bad name, weights, capture share, a
/// model that cannot be read or served (the message lists the types that
/// can) or variants that take different inputs; [`EndpointError::Taken`].
pub async fn deploy(app: &App, user: &User, req: &DeployRequest) -> Result<Endpoint, EndpointError> {
    check_name("name", &req.name)?;
    check_variants(req.variants.iter().map(|v| (v.name.as_str(), v.weight)))?;
    check_percent("capture_percent", req.capture_percent)?;
    if let Some(shadow) = &req.shadow {
        check_shadow(req.variants.iter().map(|v| v.name.as_str()), shadow)?;
    }
    let all: Vec<&VariantRequest> = req.variants.iter().chain(req.shadow.as_ref().map(|s| &s.variant)).collect();
    let mut named = Vec::with_capacity(all.len());
    let mut sources = Vec::with_capacity(all.len());
    for v in &all {
        let (json, source) = model_json(app, user, &v.name, &v.model).await?;
        named.push((v.name.clone(), json));
        sources.push(source);
    }
    let (columns, models) = parse_models(named.clone()).await?;
    let (workshop, team) = crate::training::context_of(app, user).await?;
    let mut variants: Vec<Variant> = all
        .iter()
        .zip(&models)
        .zip(sources)
        .map(|((v, m), source)| Variant {
            name: v.name.clone(),
            model_kind: m.kind().to_owned(),
            source,
            weight: v.weight,
        })
        .collect();
    let shadow = req.shadow.as_ref().and_then(|_| variants.pop());
    let at = now();
    let endpoint = Endpoint {
        id: EndpointId(Uuid::new_v4()),
        name: req.name.clone(),
        owner: user.id,
        workshop,
        team,
        capture_percent: req.capture_percent,
        variants,
        shadow,
        shadow_percent: req.shadow.as_ref().map_or(0, |s| s.sample_percent),
        review: req.review,
        created_at: at,
        updated_at: at,
    };
    let jsons: Vec<String> = named.into_iter().map(|(_, json)| json).collect();
    app.db.create_endpoint(&endpoint, &jsons).await.map_err(|e| match e {
        StoreError::Conflict(_) => EndpointError::Taken(req.name.clone()),
        other => other.into(),
    })?;
    let mut message: Vec<String> = endpoint.variants.iter().map(describe).collect();
    if let Some(shadow) = &endpoint.shadow {
        message.push(describe_shadow(shadow, endpoint.shadow_percent));
    }
    if let Some(band) = endpoint.review {
        message.push(format!("review of scores {} to {}", band.low, band.high));
    }
    audit(app, endpoint.id, user, format!("deployed: {}", message.join("; "))).await;
    app.endpoints.put(Arc::new(Served {
        endpoint: endpoint.clone(),
        columns,
        models: Arc::new(models),
        checked: Instant::now(),
    }));
    // The first variant's training data is the drift baseline, when it came from the pool.
    if let Some(ModelSource::TrainingJob(job)) = req.variants.first().map(|v| &v.model)
        && let Err(e) = set_baseline(app, user, &endpoint.name, &BaselineSource::TrainingJob(job.clone())).await
    {
        tracing::warn!(error = %e, endpoint = %endpoint.name, "no baseline from the training data");
    }
    Ok(endpoint)
}

fn check_shadow<'a>(
    production: impl IntoIterator<Item = &'a str>,
    shadow: &ShadowRequest,
) -> Result<(), EndpointError> {
    check_name("name", &shadow.variant.name)?;
    if production.into_iter().any(|n| n == shadow.variant.name) {
        return Err(EndpointError::Invalid(format!(
            "The shadow is named {:?} like a production variant: give it a name of its own.",
            shadow.variant.name
        )));
    }
    if !(1..=100).contains(&shadow.sample_percent) {
        return Err(EndpointError::Invalid(format!(
            "sample_percent is the share of requests mirrored to the shadow, 1 to 100, not {}.",
            shadow.sample_percent
        )));
    }
    Ok(())
}

/// Gives the endpoint a shadow variant, replacing any it had: the new
/// model is read and checked against the production models' columns.
///
/// # Errors
/// As [`deploy`] for the variant; [`EndpointError::NotFound`].
pub async fn set_shadow(
    app: &App,
    user: &User,
    name: &str,
    req: &ShadowRequest,
) -> Result<EndpointView, EndpointError> {
    let served = served(app, user, name).await?;
    let endpoint = &served.endpoint;
    check_shadow(endpoint.variants.iter().map(|v| v.name.as_str()), req)?;
    let (json, source) = model_json(app, user, &req.variant.name, &req.variant.model).await?;
    let mut named = ordered_models(endpoint, app.db.endpoint_models(endpoint.id).await?)?;
    named.truncate(endpoint.variants.len());
    named.push((req.variant.name.clone(), json.clone()));
    let (_, models) = parse_models(named).await?;
    let kind = models.last().map_or("", SubmittedModel::kind).to_owned();
    let variant = Variant { name: req.variant.name.clone(), model_kind: kind, source, weight: 0.0 };
    if !app.db.set_shadow(endpoint.id, Some((&variant, &json)), req.sample_percent, now()).await? {
        return Err(EndpointError::NotFound(name.to_owned()));
    }
    let replaced = endpoint.shadow.as_ref().map(|old| format!(", replacing {}", old.name)).unwrap_or_default();
    let message = format!("{}{replaced}", describe_shadow(&variant, req.sample_percent));
    audit(app, endpoint.id, user, message).await;
    app.endpoints.forget(name);
    get(app, user, name).await
}

/// Removes the endpoint's shadow variant (its results stay).
///
/// # Errors
/// [`EndpointError::NotFound`]; [`EndpointError::Invalid`] when it has none.
pub async fn remove_shadow(app: &App, user: &User, name: &str) -> Result<EndpointView, EndpointError> {
    let served = served(app, user, name).await?;
    let Some(shadow) = &served.endpoint.shadow else {
        return Err(EndpointError::Invalid(format!("Endpoint {name:?} has no shadow variant.")));
    };
    app.db.set_shadow(served.endpoint.id, None, 0, now()).await?;
    audit(app, served.endpoint.id, user, format!("shadow {} removed", shadow.name)).await;
    app.endpoints.forget(name);
    get(app, user, name).await
}

/// Promotes the shadow: it becomes a production variant with all the
/// traffic; the other variants stay with weight 0, so a rollback is one
/// weight change ([`set_weights`]).
///
/// # Errors
/// [`EndpointError::NotFound`]; [`EndpointError::Invalid`] when it has no shadow.
pub async fn promote_shadow(app: &App, user: &User, name: &str) -> Result<EndpointView, EndpointError> {
    let served = served(app, user, name).await?;
    let Some(shadow) = &served.endpoint.shadow else {
        return Err(EndpointError::Invalid(format!("Endpoint {name:?} has no shadow variant to promote.")));
    };
    app.db.set_rollback_weights(served.endpoint.id, &weights_of(&served.endpoint)).await?;
    if !app.db.promote_shadow(served.endpoint.id, now()).await? {
        return Err(EndpointError::Invalid(format!("Endpoint {name:?} has no shadow variant to promote.")));
    }
    let before: Vec<String> = served.endpoint.variants.iter().map(|v| format!("{} {}", v.name, v.weight)).collect();
    let message = format!(
        "shadow {} promoted: it takes all the traffic (weights were {}; set them back to roll back)",
        shadow.name,
        before.join(", ")
    );
    audit(app, served.endpoint.id, user, message).await;
    app.endpoints.forget(name);
    get(app, user, name).await
}

/// The endpoint's audit trail, oldest first.
///
/// # Errors
/// [`EndpointError::NotFound`].
pub async fn events(app: &App, user: &User, name: &str) -> Result<Vec<EndpointEvent>, EndpointError> {
    let served = served(app, user, name).await?;
    Ok(app.db.endpoint_events(served.endpoint.id).await?)
}

/// The stored models in the endpoint's order: production variants, then the shadow.
fn ordered_models(endpoint: &Endpoint, stored: Vec<(String, String)>) -> Result<Vec<(String, String)>, EndpointError> {
    let mut stored: HashMap<String, String> = stored.into_iter().collect();
    endpoint
        .variants
        .iter()
        .chain(&endpoint.shadow)
        .map(|v| {
            let json = stored.remove(&v.name).ok_or_else(|| {
                EndpointError::Store(StoreError::Corrupt(format!(
                    "endpoint {} has no model for {}",
                    endpoint.name, v.name
                )))
            })?;
            Ok((v.name.clone(), json))
        })
        .collect()
}

/// Whether `user` may see and invoke `endpoint` (see the module docs).
async fn may_use(app: &App, user: &User, endpoint: &Endpoint) -> Result<bool, EndpointError> {
    Ok(crate::training::may_see(app, user, endpoint.owner, endpoint.workshop, endpoint.team).await?)
}

/// The endpoint `name` as this server serves it, reloaded when it changed.
async fn served(app: &App, user: &User, name: &str) -> Result<Arc<Served>, EndpointError> {
    served_to(app, Caller::User(user), name).await
}

/// Who calls an endpoint's invocations.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// A person, by their token or login session: their own endpoints,
    /// their team's, and (for staff) their workshop's.
    User(&'a User),
    /// An endpoint key (`fwk_…`), by the digest of its secret: its endpoint only.
    Key(&'a str),
}

/// [`served`] for any [`Caller`].
async fn served_to(app: &App, caller: Caller<'_>, name: &str) -> Result<Arc<Served>, EndpointError> {
    let served = served_system(app, name).await?;
    let allowed = match caller {
        Caller::User(user) => may_use(app, user, &served.endpoint).await?,
        Caller::Key(digest) => match app.db.endpoint_of_key(digest, now()).await? {
            None => return Err(EndpointError::BadKey),
            Some(id) => id == served.endpoint.id,
        },
    };
    if allowed { Ok(served) } else { Err(EndpointError::NotFound(name.to_owned())) }
}

/// The endpoint `name` as this server serves it, for the server's own
/// work (scheduled checks): no caller, no permission check.
async fn served_system(app: &App, name: &str) -> Result<Arc<Served>, EndpointError> {
    let missing = || EndpointError::NotFound(name.to_owned());
    let cached = app.endpoints.get(name);
    let served = match cached {
        Some(s) if s.checked.elapsed() < RECHECK => s,
        cached => {
            let Some(stored) = app.db.endpoint_by_name(name).await? else {
                app.endpoints.forget(name);
                return Err(missing());
            };
            let served = match cached {
                Some(s) if s.endpoint.id == stored.id && s.endpoint.updated_at == stored.updated_at => Served {
                    endpoint: stored,
                    columns: s.columns.clone(),
                    models: s.models.clone(),
                    checked: Instant::now(),
                },
                _ => {
                    let named = ordered_models(&stored, app.db.endpoint_models(stored.id).await?)?;
                    let (columns, models) = parse_models(named).await?;
                    Served { endpoint: stored, columns, models: Arc::new(models), checked: Instant::now() }
                }
            };
            let served = Arc::new(served);
            app.endpoints.put(served.clone());
            served
        }
    };
    Ok(served)
}

/// An endpoint with what it has served: the caller's view.
#[derive(Debug, Clone)]
pub struct EndpointView {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// The feature columns it takes, in order, when its models record them.
    pub columns: Option<Vec<String>>,
    /// Per variant, in the endpoint's order.
    pub variants: Vec<VariantStats>,
    /// Its traffic over time, from the same captures and its newest
    /// errors (`None` without either).
    pub timeline: Option<timeline::Timeline>,
    /// Its newest invocation errors, newest first (at most [`ERRORS_SHOWN`]).
    pub errors: Vec<InvocationError>,
}

/// Invocation errors an endpoint's view lists.
pub const ERRORS_SHOWN: u64 = 100;

/// One variant's live figures, from the endpoint's newest [`METRIC_WINDOW`] captures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VariantStats {
    /// Captured predictions.
    pub captured: usize,
    /// Of those, with ground truth.
    pub labelled: usize,
    /// Accuracy on the labelled ones.
    pub accuracy: Option<f64>,
    /// ROC AUC on the labelled ones (both classes present).
    pub roc_auc: Option<f64>,
    /// Area under the precision–recall curve (average precision) on the labelled ones.
    pub pr_auc: Option<f64>,
    /// Median serving time of the captured requests, in milliseconds.
    pub latency_p50_ms: Option<f64>,
    /// 95th percentile of the same, in milliseconds.
    pub latency_p95_ms: Option<f64>,
    /// 99th percentile of the same, in milliseconds.
    pub latency_p99_ms: Option<f64>,
}

/// A variant's figures from its captures (see [`VariantStats`]).
pub fn variant_stats(captures: &[&Capture]) -> VariantStats {
    let answers = captures.iter().map(|c| Answer {
        latency_us: c.latency_us,
        score: c.score,
        class: &c.class,
        truth: c.ground_truth.as_deref(),
    });
    stats(answers)
}

/// One served answer, for [`stats`].
struct Answer<'a> {
    latency_us: u64,
    score: f64,
    class: &'a str,
    truth: Option<&'a str>,
}

/// Latency quantiles over all answers; accuracy, ROC AUC and PR AUC over
/// those with ground truth (AUCs only when both of two classes are present).
fn stats<'a>(answers: impl Iterator<Item = Answer<'a>>) -> VariantStats {
    let answers: Vec<Answer<'a>> = answers.collect();
    #[allow(clippy::cast_precision_loss)]
    let mut latencies: Vec<f64> = answers.iter().map(|a| a.latency_us as f64 / 1000.0).collect();
    latencies.sort_by(f64::total_cmp);
    let quantile = |q: f64| {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
        let at = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies.get(at).copied()
    };
    let labelled: Vec<&Answer<'a>> = answers.iter().filter(|a| a.truth.is_some()).collect();
    #[allow(clippy::cast_precision_loss)]
    let accuracy = (!labelled.is_empty()).then(|| {
        let right = labelled.iter().filter(|a| a.truth == Some(a.class)).count();
        right as f64 / labelled.len() as f64
    });
    let (roc_auc, pr_auc) = if labelled.is_empty() {
        (None, None)
    } else {
        let truth = Labels::from_strings(&labelled.iter().filter_map(|a| a.truth).collect::<Vec<_>>());
        let scores = Vector::from_vec(labelled.iter().map(|a| a.score).collect());
        let two = truth.n_classes() == 2;
        (
            flywheel_ml::metrics::roc_auc(&truth, &scores).ok().filter(|_| two),
            flywheel_ml::metrics::average_precision(&truth, &scores).ok().filter(|_| two),
        )
    };
    VariantStats {
        captured: answers.len(),
        labelled: labelled.len(),
        accuracy,
        roc_auc,
        pr_auc,
        latency_p50_ms: quantile(0.5),
        latency_p95_ms: quantile(0.95),
        latency_p99_ms: quantile(0.99),
    }
}

/// Production against the shadow on the same requests: the report
/// SageMaker's shadow tests lack (it compares latency, errors and
/// invocations only).
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowReport {
    /// The shadow variant compared (the current one, else the last one that ran).
    pub variant: Option<String>,
    /// Share of requests mirrored to it now, percent.
    pub sample_percent: u8,
    /// Rows both answered or the shadow failed on (newest [`METRIC_WINDOW`]).
    pub compared: usize,
    /// Rows the shadow failed on.
    pub errors: usize,
    /// Share of rows where both gave the same class.
    pub agreement: Option<f64>,
    /// Pearson correlation of the two scores.
    pub score_correlation: Option<f64>,
    /// Production's figures on these rows (`captured` counts the rows).
    pub production: VariantStats,
    /// The shadow's figures on the rows it answered.
    pub shadow: VariantStats,
}

/// Compares production with the shadow on the rows mirrored to it (see [`ShadowReport`]).
pub fn shadow_report(variant: Option<&str>, sample_percent: u8, results: &[ShadowResult]) -> ShadowReport {
    let variant = variant.map(str::to_owned).or_else(|| results.first().map(|r| r.shadow_variant.clone()));
    let mine: Vec<&ShadowResult> = results.iter().filter(|r| Some(&r.shadow_variant) == variant.as_ref()).collect();
    let answered: Vec<(&ShadowResult, f64, &str)> =
        mine.iter().filter_map(|r| Some((*r, r.shadow_score?, r.shadow_class.as_deref()?))).collect();
    #[allow(clippy::cast_precision_loss)]
    let agreement = (!answered.is_empty())
        .then(|| answered.iter().filter(|(r, _, c)| r.production_class == *c).count() as f64 / answered.len() as f64);
    let score_correlation = flywheel_ml::metrics::pearson(
        &Vector::from_vec(answered.iter().map(|(r, _, _)| r.production_score).collect()),
        &Vector::from_vec(answered.iter().map(|(_, s, _)| *s).collect()),
    )
    .ok();
    let production = stats(mine.iter().map(|r| Answer {
        latency_us: r.production_us,
        score: r.production_score,
        class: &r.production_class,
        truth: r.ground_truth.as_deref(),
    }));
    let shadow = stats(answered.iter().map(|(r, score, class)| Answer {
        latency_us: r.shadow_us,
        score: *score,
        class,
        truth: r.ground_truth.as_deref(),
    }));
    ShadowReport {
        variant,
        sample_percent,
        compared: mine.len(),
        errors: mine.len() - answered.len(),
        agreement,
        score_correlation,
        production,
        shadow,
    }
}

/// The endpoint's shadow report.
///
/// # Errors
/// [`EndpointError::NotFound`].
pub async fn shadow(app: &App, user: &User, name: &str) -> Result<ShadowReport, EndpointError> {
    let served = served(app, user, name).await?;
    app.endpoints.flush().await;
    let results = app.db.shadow_results(served.endpoint.id, METRIC_WINDOW).await?;
    let e = &served.endpoint;
    Ok(shadow_report(e.shadow.as_ref().map(|v| v.name.as_str()), e.shadow_percent, &results))
}

async fn view(app: &App, served: &Served) -> Result<EndpointView, EndpointError> {
    app.endpoints.flush().await;
    let captures = app.db.captures(served.endpoint.id, METRIC_WINDOW).await?;
    let variants = served
        .endpoint
        .variants
        .iter()
        .map(|v| variant_stats(&captures.iter().filter(|c| c.variant == v.name).collect::<Vec<_>>()))
        .collect();
    let e = &served.endpoint;
    let names: Vec<String> = e.variants.iter().map(|v| v.name.clone()).collect();
    // The errors of the captures' span, and of the hour before it (a
    // refused request captures nothing, so errors may come first).
    let first = captures.iter().map(|c| c.at.millis()).min().unwrap_or(i64::MAX).min(now().millis());
    let recent = app.db.invocation_errors(e.id, flywheel_domain::Timestamp(first - 3_600_000), MAX_ERRORS).await?;
    let timeline = timeline::timeline(&captures, &recent, &names, e.capture_percent);
    let errors = app.db.invocation_errors(e.id, flywheel_domain::Timestamp(0), ERRORS_SHOWN).await?;
    Ok(EndpointView { endpoint: e.clone(), columns: served.columns.clone(), variants, timeline, errors })
}

/// The endpoint `name` with its variants' live figures.
///
/// # Errors
/// [`EndpointError::NotFound`].
pub async fn get(app: &App, user: &User, name: &str) -> Result<EndpointView, EndpointError> {
    let served = served(app, user, name).await?;
    view(app, &served).await
}

/// The endpoints `user` may see, by name.
///
/// # Errors
/// Storage failures.
pub async fn list(app: &App, user: &User) -> Result<Vec<Endpoint>, EndpointError> {
    let mut mine = Vec::new();
    for e in app.db.endpoints().await? {
        if may_use(app, user, &e).await? {
            mine.push(e);
        }
    }
    Ok(mine)
}

/// One line of the endpoints list: what an instructor scans across teams.
#[derive(Debug, Clone)]
pub struct Listed {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// Who deployed it (display name).
    pub owner: String,
    /// Its team's name.
    pub team: Option<String>,
    /// Predictions served in the last hour, estimated from the captured share.
    pub predictions_last_hour: u64,
    /// The alarms of the monitor's last check: `None` without a monitor or
    /// a check, empty when all was well.
    pub alarms: Option<Vec<String>>,
}

/// [`list`] with each endpoint's owner, team, last hour's traffic and
/// alarms: the endpoints page, where an instructor sees every team's.
///
/// # Errors
/// Storage failures.
pub async fn overview(app: &App, user: &User) -> Result<Vec<Listed>, EndpointError> {
    app.endpoints.flush().await;
    let since = flywheel_domain::Timestamp(now().millis() - 3_600_000);
    let mut out = Vec::new();
    for endpoint in list(app, user).await? {
        let owner = app.db.user(endpoint.owner).await?.map_or_else(|| "?".to_owned(), |u| u.name.to_string());
        let team = match endpoint.team {
            Some(t) => app.db.team(t).await?.map(|t| t.name),
            None => None,
        };
        let captured = app.db.captures_since(endpoint.id, since).await?;
        let predictions_last_hour = captured * 100 / u64::from(endpoint.capture_percent.max(1));
        let alarms = app.db.monitor(endpoint.id).await?.filter(|m| m.checked_at.is_some()).map(|m| m.alarms);
        out.push(Listed { endpoint, owner, team, predictions_last_hour, alarms });
    }
    Ok(out)
}

/// Sets the traffic weights of the named variants; the others keep theirs.
/// Requests in flight finish on the old weights; new ones follow the new
/// weights at once on this server and within [`RECHECK`] on the others.
///
/// # Errors
/// [`EndpointError::NotFound`]; [`EndpointError::Invalid`] for a variant the
/// endpoint lacks or weights that do not give a positive total.
pub async fn set_weights(
    app: &App,
    user: &User,
    name: &str,
    weights: &[(String, f64)],
) -> Result<EndpointView, EndpointError> {
    let served = served(app, user, name).await?;
    let names: Vec<&str> = served.endpoint.variants.iter().map(|v| v.name.as_str()).collect();
    if weights.is_empty() {
        return Err(EndpointError::Invalid(format!(
            "Give a weight for one or more of the variants {}.",
            names.join(", ")
        )));
    }
    if let Some((unknown, _)) = weights.iter().find(|(n, _)| !names.contains(&n.as_str())) {
        return Err(EndpointError::Invalid(format!(
            "Endpoint {name:?} has no variant {unknown:?}: its variants are {}.",
            names.join(", ")
        )));
    }
    let new_weight = |v: &Variant| weights.iter().rev().find(|(n, _)| *n == v.name).map_or(v.weight, |(_, w)| *w);
    check_variants(served.endpoint.variants.iter().map(|v| (v.name.as_str(), new_weight(v))))?;
    app.db.set_rollback_weights(served.endpoint.id, &weights_of(&served.endpoint)).await?;
    if !app.db.set_variant_weights(served.endpoint.id, weights, now()).await? {
        return Err(EndpointError::NotFound(name.to_owned()));
    }
    let changes: Vec<String> =
        served.endpoint.variants.iter().map(|v| format!("{} {} → {}", v.name, v.weight, new_weight(v))).collect();
    audit(app, served.endpoint.id, user, format!("weights: {}", changes.join(", "))).await;
    app.endpoints.forget(name);
    get(app, user, name).await
}

/// Deletes an endpoint and its captures.
///
/// # Errors
/// [`EndpointError::NotFound`].
pub async fn delete(app: &App, user: &User, name: &str) -> Result<(), EndpointError> {
    let served = served(app, user, name).await?;
    app.db.delete_endpoint(served.endpoint.id).await?;
    app.endpoints.forget(name);
    Ok(())
}

/// What an invocation carries, as the request's content type says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// `{"instances": [[…], …]}` or `{"records": [{"column": value, …}, …]}`.
    Json,
    /// CSV rows of numbers; a first row that is not all numbers is a header of column names.
    Csv,
}

/// One row's prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Its id, for posting its ground truth.
    pub inference_id: InferenceId,
    /// The probability of the positive class.
    pub score: f64,
    /// The predicted class.
    pub class: String,
}

/// An invocation's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// The variant that served every row of the request.
    pub variant: String,
    /// Whether the predictions were captured (only captured ones take ground truth).
    pub captured: bool,
    /// One per row, in order.
    pub predictions: Vec<Prediction>,
}

fn expected(columns: Option<&[String]>) -> String {
    match columns {
        Some(c) => format!("this endpoint takes {} features: {}", c.len(), c.join(", ")),
        None => "the model records no column names, so send `instances` in its training column order".to_owned(),
    }
}

fn number(value: &serde_json::Value, at: impl Fn() -> String) -> Result<f64, EndpointError> {
    match value {
        serde_json::Value::Number(n) => n.as_f64().filter(|x| x.is_finite()),
        serde_json::Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
    .ok_or_else(|| EndpointError::Invalid(format!("{} is {value}, not a number.", at())))
}

/// A named value of a JSON record or a CSV row with a header.
enum Field {
    Number(f64),
    Text(String),
}

impl Field {
    fn of_json(value: &serde_json::Value) -> Option<Field> {
        match value {
            serde_json::Value::String(s) => Some(Field::Text(s.clone())),
            other => number(other, String::new).ok().map(Field::Number),
        }
    }

    fn of_csv(text: &str) -> Field {
        let text = text.trim();
        text.parse::<f64>().ok().filter(|x| x.is_finite()).map_or_else(|| Field::Text(text.to_owned()), Field::Number)
    }
}

/// A row in the endpoint's column order from named values (a JSON record,
/// or a CSV row under a header). A column the pool one-hot encoded
/// (`purpose=business`) is filled from the raw column (`"purpose":
/// "business"`) as training encoded it, or taken as named; a category the
/// model never saw gives the group all zeros, as the pool's validation
/// data does.
fn named_row(columns: Option<&[String]>, named: &[(String, Field)], at: &str) -> Result<Vec<f64>, EndpointError> {
    let Some(columns) = columns else {
        return Err(EndpointError::Invalid(format!("{at} names its columns, but {}.", expected(None))));
    };
    let group_of = |c: &str| c.split_once('=').map(|(g, _)| g.to_owned());
    let is_group = |name: &str| columns.iter().any(|c| group_of(c).as_deref() == Some(name));
    let mut unknown = Vec::new();
    for (name, field) in named {
        if columns.contains(name) {
            if let Field::Text(t) = field {
                return Err(EndpointError::Invalid(format!("{at}.{name} is {t:?}, not a number.")));
            }
        } else if !is_group(name) {
            unknown.push(name.as_str());
        }
    }
    let mut missing: Vec<String> = Vec::new();
    let mut row = Vec::with_capacity(columns.len());
    for c in columns {
        let direct = named.iter().find(|(n, _)| n == c);
        let value = match (direct, group_of(c)) {
            (Some((_, Field::Number(x))), _) => Some(*x),
            (_, Some(group)) => named.iter().find(|(n, _)| *n == group).map(|(_, f)| {
                let v = match f {
                    Field::Text(t) => t.clone(),
                    Field::Number(x) => x.to_string(),
                };
                f64::from(u8::from(*c == format!("{group}={v}")))
            }),
            _ => None,
        };
        match value {
            Some(v) => row.push(v),
            None => {
                let name = group_of(c).unwrap_or_else(|| c.clone());
                if !missing.contains(&name) {
                    missing.push(name);
                }
            }
        }
    }
    if unknown.is_empty() && missing.is_empty() {
        return Ok(row);
    }
    let mut why = Vec::new();
    if !unknown.is_empty() {
        why.push(format!("unknown columns {}", unknown.join(", ")));
    }
    if !missing.is_empty() {
        why.push(format!("missing columns {}", missing.join(", ")));
    }
    Err(EndpointError::Invalid(format!("{at} has {}; {}.", why.join(" and "), expected(Some(columns)))))
}

/// Parses an invocation body into rows of numbers in the endpoint's column order.
///
/// # Errors
/// [`EndpointError::Invalid`] naming the row and value at fault: an empty
/// body, another shape, a value that is not a number, rows of another
/// length than the columns, unknown or missing column names, more than [`MAX_ROWS`] rows.
pub fn parse_rows(body: &[u8], format: BodyFormat, columns: Option<&[String]>) -> Result<Vec<Vec<f64>>, EndpointError> {
    const SHAPES: &str = "send JSON {\"instances\": [[…], …]} or {\"records\": [{\"column\": value, …}, …]}, or CSV rows (Content-Type: text/csv)";
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(EndpointError::Invalid(format!("The request body is empty: {SHAPES}.")));
    }
    let rows = match format {
        BodyFormat::Json => {
            let value: serde_json::Value = serde_json::from_slice(body)
                .map_err(|e| EndpointError::Invalid(format!("The body is not JSON ({e}): {SHAPES}.")))?;
            if let Some(instances) = value.get("instances").and_then(serde_json::Value::as_array) {
                instances
                    .iter()
                    .enumerate()
                    .map(|(i, row)| {
                        let row = row.as_array().ok_or_else(|| {
                            EndpointError::Invalid(format!("instances[{i}] is not a list of numbers."))
                        })?;
                        row.iter().enumerate().map(|(j, v)| number(v, || format!("instances[{i}][{j}]"))).collect()
                    })
                    .collect::<Result<Vec<Vec<f64>>, _>>()?
            } else if let Some(records) = value.get("records").and_then(serde_json::Value::as_array) {
                records
                    .iter()
                    .enumerate()
                    .map(|(i, record)| {
                        let at = format!("records[{i}]");
                        let record = record.as_object().ok_or_else(|| {
                            EndpointError::Invalid(format!("{at} is not an object of column: value."))
                        })?;
                        let named = record
                            .iter()
                            .map(|(k, v)| {
                                Field::of_json(v).map(|f| (k.clone(), f)).ok_or_else(|| {
                                    EndpointError::Invalid(format!("{at}.{k} is {v}, not a number or a category."))
                                })
                            })
                            .collect::<Result<Vec<_>, _>>()?;
                        named_row(columns, &named, &at)
                    })
                    .collect::<Result<Vec<Vec<f64>>, _>>()?
            } else {
                return Err(EndpointError::Invalid(format!(
                    "The JSON has neither `instances` nor `records`: {SHAPES}."
                )));
            }
        }
        BodyFormat::Csv => {
            let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(body);
            let mut records = reader.records().peekable();
            let mut header: Option<Vec<String>> = None;
            if let Some(Ok(first)) = records.peek()
                && first.iter().any(|f| f.trim().parse::<f64>().is_err())
            {
                header = Some(first.iter().map(|f| f.trim().to_owned()).collect());
                records.next();
            }
            let mut rows = Vec::new();
            for (i, record) in records.enumerate() {
                let record = record.map_err(|e| EndpointError::Invalid(format!("The CSV cannot be read: {e}.")))?;
                let at = format!("CSV row {}", i + 1);
                if let Some(names) = &header {
                    let named: Vec<(String, Field)> =
                        names.iter().cloned().zip(record.iter().map(Field::of_csv)).collect();
                    if named.len() != record.len() {
                        return Err(EndpointError::Invalid(format!(
                            "{at} has {} fields and the header {}.",
                            record.len(),
                            names.len()
                        )));
                    }
                    rows.push(named_row(columns, &named, &at)?);
                    continue;
                }
                let values: Vec<f64> = record
                    .iter()
                    .enumerate()
                    .map(|(j, f)| {
                        f.trim().parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| {
                            EndpointError::Invalid(format!("{at}, field {} is {f:?}, not a number.", j + 1))
                        })
                    })
                    .collect::<Result<_, _>>()?;
                rows.push(values);
            }
            rows
        }
    };
    if rows.is_empty() {
        return Err(EndpointError::Invalid(format!("The request has no rows: {SHAPES}.")));
    }
    if rows.len() > MAX_ROWS {
        return Err(EndpointError::Invalid(format!(
            "The request has {} rows; one invocation takes at most {MAX_ROWS}.",
            rows.len()
        )));
    }
    let width = columns.map_or(rows[0].len(), <[String]>::len);
    if let Some((i, row)) = rows.iter().enumerate().find(|(_, r)| r.len() != width) {
        return Err(EndpointError::Invalid(format!(
            "Row {i} has {} values; {}.",
            row.len(),
            if columns.is_some() { expected(columns) } else { format!("row 0 has {width}") }
        )));
    }
    Ok(rows)
}

/// Most rows a baseline keeps, evenly spaced over its source.
pub const MAX_BASELINE_ROWS: usize = 5_000;

/// Newest captures a drift check compares with the baseline, unless told otherwise.
pub const DRIFT_WINDOW: u64 = 1_000;

/// Where a baseline comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaselineSource {
    /// The training data of a training job the caller may see (at
    /// deployment, the first variant's when it came from one).
    TrainingJob(String),
    /// The endpoint's newest captures, at most this many.
    Captures(u64),
    /// CSV with a header row, as an invocation takes it.
    Csv(String),
}

/// An endpoint's baseline, as people see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Baseline {
    /// Where its rows came from.
    pub source: String,
    /// How many rows it holds.
    pub rows: usize,
    /// When it was set.
    pub created_at: flywheel_domain::Timestamp,
}

/// A training job's training table and target column.
async fn training_table(
    app: &App,
    user: &User,
    id: &str,
) -> Result<(flywheel_ml::Table, Option<String>, String), EndpointError> {
    use crate::training::DataSource;
    let invalid = |why: String| EndpointError::Invalid(format!("The baseline: {why}"));
    let job_id: TrainingJobId = id.parse().map_err(|_| invalid(format!("{id:?} is not a training job id.")))?;
    let job = crate::training::visible(app, user, job_id)
        .await
        .map_err(|_| invalid(format!("there is no training job {id} of yours or your team's.")))?;
    let train = job.spec.pointer("/data/train").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
    let target = job.spec.pointer("/data/target").and_then(serde_json::Value::as_str).map(str::to_owned);
    let csv = match DataSource::parse(&train).map_err(|e| invalid(e.to_string()))? {
        DataSource::Builtin(name) => {
            let table =
                DataSource::builtin_table(&name).ok_or_else(|| invalid(format!("no built-in table {name}.")))?;
            return Ok((table, target, format!("training data of job {job_id} ({train})")));
        }
        DataSource::Dataset(name) => {
            let mine = app.db.datasets(job.owner).await?;
            let record = mine
                .iter()
                .find(|d| d.name == name)
                .ok_or_else(|| invalid(format!("the dataset {train} is no longer there.")))?;
            app.db.dataset_content(record.id).await?.unwrap_or_default()
        }
        DataSource::Cell(name) => {
            app.db.training_artifact_content(job_id, &format!("input/{name}")).await?.unwrap_or_default()
        }
    };
    let table = flywheel_ml::Table::from_csv_str(&csv).map_err(|e| invalid(format!("{e}.")))?;
    Ok((table, target, format!("training data of job {job_id} ({train})")))
}

/// At most [`MAX_BASELINE_ROWS`] rows of `table`, evenly spaced, without
/// `target`, in the endpoint's columns (categories encoded as invocations are).
fn table_rows(
    table: &flywheel_ml::Table,
    target: Option<&str>,
    columns: Option<&[String]>,
) -> Result<Vec<Vec<f64>>, EndpointError> {
    let invalid = |e: flywheel_ml::MlError| EndpointError::Invalid(format!("The baseline: {e}."));
    let table = match target {
        Some(t) if table.column_names().iter().any(|c| c == t) => table.drop(&[t]).map_err(invalid)?,
        _ => table.clone(),
    };
    let n = table.nrows();
    let step = n.div_ceil(MAX_BASELINE_ROWS).max(1);
    let keep: Vec<bool> = (0..n).map(|i| i % step == 0).collect();
    let csv = table.filter(&keep).and_then(|t| t.to_csv_string()).map_err(invalid)?;
    parse_rows(csv.as_bytes(), BodyFormat::Csv, columns)
}

/// Sets the rows drift is measured against.
///
/// # Errors
/// [`EndpointError::NotFound`]; [`EndpointError::Invalid`] for a source
/// that gives no rows or rows the endpoint does not take.
pub async fn set_baseline(
    app: &App,
    user: &User,
    name: &str,
    source: &BaselineSource,
) -> Result<Baseline, EndpointError> {
    let served = served(app, user, name).await?;
    let columns = served.columns.as_deref();
    let (rows, described) = match source {
        BaselineSource::TrainingJob(id) => {
            let (table, target, described) = training_table(app, user, id).await?;
            (table_rows(&table, target.as_deref(), columns)?, described)
        }
        BaselineSource::Captures(limit) => {
            app.endpoints.flush().await;
            let captures = app.db.captures(served.endpoint.id, (*limit).clamp(1, MAX_BASELINE_ROWS as u64)).await?;
            if captures.is_empty() {
                return Err(EndpointError::Invalid(format!(
                    "Endpoint {name:?} has captured nothing to take as a baseline yet."
                )));
            }
            let n = captures.len();
            (captures.into_iter().map(|c| c.features).collect(), format!("{n} captured requests"))
        }
        BaselineSource::Csv(text) => {
            let rows = parse_rows(text.as_bytes(), BodyFormat::Csv, columns)?;
            if rows.len() > MAX_BASELINE_ROWS {
                return Err(EndpointError::Invalid(format!(
                    "A baseline holds at most {MAX_BASELINE_ROWS} rows; this one has {}.",
                    rows.len()
                )));
            }
            let n = rows.len();
            (rows, format!("{n} uploaded rows"))
        }
    };
    let json = serde_json::to_string(&rows).map_err(|e| EndpointError::Internal(e.into()))?;
    let at = now();
    app.db.set_baseline(served.endpoint.id, &described, &json, at).await?;
    audit(app, served.endpoint.id, user, format!("baseline: {described}, {} rows", rows.len())).await;
    Ok(Baseline { source: described, rows: rows.len(), created_at: at })
}

/// The newest `window` captures against the baseline: each column's drift
/// and the verdict (`flywheel_ml::drift`, Evidently's defaults).
///
/// # Errors
/// [`EndpointError::NotFound`]; [`EndpointError::Invalid`] without a
/// baseline or captures.
pub async fn drift(
    app: &App,
    user: &User,
    name: &str,
    window: u64,
) -> Result<(Baseline, flywheel_ml::drift::DriftReport), EndpointError> {
    let served = served(app, user, name).await?;
    drift_of(app, &served, window).await
}

/// [`drift`] of an endpoint already loaded.
async fn drift_of(
    app: &App,
    served: &Served,
    window: u64,
) -> Result<(Baseline, flywheel_ml::drift::DriftReport), EndpointError> {
    let name = &served.endpoint.name;
    let Some((source, rows, created_at)) = app.db.baseline(served.endpoint.id).await? else {
        return Err(EndpointError::Invalid(format!(
            "Endpoint {name:?} has no baseline to measure drift against: set one from a training job, its captures or a CSV."
        )));
    };
    let reference: Vec<Vec<f64>> =
        serde_json::from_str(&rows).map_err(|e| EndpointError::Store(StoreError::Corrupt(format!("baseline: {e}"))))?;
    app.endpoints.flush().await;
    let current: Vec<Vec<f64>> = app
        .db
        .captures(served.endpoint.id, window.clamp(1, MAX_CAPTURES))
        .await?
        .into_iter()
        .map(|c| c.features)
        .collect();
    if current.is_empty() {
        return Err(EndpointError::Invalid(format!(
            "Endpoint {name:?} has captured nothing to compare with its baseline yet."
        )));
    }
    let baseline = Baseline { source, rows: reference.len(), created_at };
    let width = reference.first().map_or(0, Vec::len);
    let names: Vec<String> = match &served.columns {
        Some(c) if c.len() == width => c.clone(),
        _ => (0..width).map(|i| format!("feature_{i}")).collect(),
    };
    let report = tokio::task::spawn_blocking(move || {
        let matrix = |rows: &[Vec<f64>]| Matrix::from_rows(rows).and_then(|m| m.with_columns(&names));
        flywheel_ml::drift::drift(&matrix(&reference)?, &matrix(&current)?)
    })
    .await
    .map_err(|e| EndpointError::Internal(anyhow::anyhow!("drift task: {e}")))?
    .map_err(|e| EndpointError::Invalid(format!("Drift cannot be measured: {e}.")))?;
    Ok((baseline, report))
}

/// A uniform draw in [0, 1) from the operating system's random source.
fn draw() -> Result<f64, EndpointError> {
    let bits = u64::from_le_bytes(random_bytes::<8>()?);
    #[allow(clippy::cast_precision_loss)]
    Ok((bits >> 11) as f64 / (1u64 << 53) as f64)
}

/// Serves one request: parses its rows, picks the variant (`variant` when
/// the caller names one, else by weight), predicts, and captures the
/// predictions when the endpoint's capture share draws this request.
///
/// # Errors
/// [`EndpointError::NotFound`]; [`EndpointError::Invalid`] as
/// [`parse_rows`], for an unknown `variant`, or rows the model refuses.
pub async fn invoke(
    app: &App,
    caller: Caller<'_>,
    name: &str,
    body: &[u8],
    format: BodyFormat,
    variant: Option<&str>,
) -> Result<Invocation, EndpointError> {
    let started = Instant::now();
    let served = served_to(app, caller, name).await?;
    let mut drawn = None;
    let answered = serve(app, &served, Request { body, format, variant, started }, &mut drawn);
    if let Err(e) = &answered {
        let status = match e {
            EndpointError::Store(_) | EndpointError::Internal(_) => 500,
            _ => 422,
        };
        let error = InvocationError { at: now(), variant: drawn, status, message: e.to_string() };
        app.endpoints.write(app, Write::Errors(served.endpoint.id, vec![error]));
    }
    answered
}

/// An invocation's request, as [`serve`] takes it.
struct Request<'a> {
    body: &'a [u8],
    format: BodyFormat,
    variant: Option<&'a str>,
    started: Instant,
}

/// [`invoke`] once the endpoint is found; `drawn` gets the variant chosen.
fn serve(
    app: &App,
    served: &Arc<Served>,
    request: Request<'_>,
    drawn: &mut Option<String>,
) -> Result<Invocation, EndpointError> {
    let Request { body, format, variant, started } = request;
    let endpoint = &served.endpoint;
    let name = endpoint.name.as_str();
    let rows = parse_rows(body, format, served.columns.as_deref())?;
    let chosen = match variant {
        Some(wanted) => endpoint.variants.iter().position(|v| v.name == wanted).ok_or_else(|| {
            let names: Vec<&str> = endpoint.variants.iter().map(|v| v.name.as_str()).collect();
            EndpointError::Invalid(format!(
                "Endpoint {name:?} has no variant {wanted:?}: its variants are {}.",
                names.join(", ")
            ))
        })?,
        None => {
            let weights: Vec<f64> = endpoint.variants.iter().map(|v| v.weight).collect();
            pick_variant(&weights, draw()?).ok_or_else(|| {
                EndpointError::Invalid(format!("Endpoint {name:?} has no variant with a positive weight."))
            })?
        }
    };
    *drawn = Some(endpoint.variants[chosen].name.clone());
    let model = &served.models[chosen];
    let x = Matrix::from_rows(&rows).map_err(|e| EndpointError::Invalid(format!("{e}.")))?;
    let (scores, classes) = match (model.predict_proba(&x), model.predict(&x)) {
        (Ok(s), Ok(c)) => (s, c),
        (Err(e), _) | (_, Err(e)) => {
            return Err(EndpointError::Invalid(format!("The model cannot score these rows: {e}.")));
        }
    };
    let predictions: Vec<Prediction> = (0..rows.len())
        .map(|i| Prediction {
            inference_id: InferenceId(Uuid::new_v4()),
            score: scores.get(i).unwrap_or(f64::NAN),
            class: classes.get(i).unwrap_or_default().to_owned(),
        })
        .collect();
    let variant = endpoint.variants[chosen].name.clone();
    let production_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let at = now();
    let mirrored = served.shadow_model().is_some() && draw()? * 100.0 < f64::from(endpoint.shadow_percent);
    if mirrored {
        let job = Mirror {
            served: served.clone(),
            rows: rows.clone(),
            production: predictions.clone(),
            variant: variant.clone(),
            production_us,
            at,
        };
        tokio::spawn(job.run(app.clone()));
    }
    let captured = endpoint.capture_percent > 0 && draw()? * 100.0 < f64::from(endpoint.capture_percent);
    if captured {
        let captures: Vec<Capture> = predictions
            .iter()
            .zip(rows)
            .map(|(p, features)| Capture {
                inference_id: p.inference_id,
                variant: variant.clone(),
                at,
                features,
                score: p.score,
                class: p.class.clone(),
                latency_us: production_us,
                ground_truth: None,
            })
            .collect();
        app.endpoints.write(app, Write::Captures(endpoint.id, captures));
    }
    Ok(Invocation { variant, captured, predictions })
}

/// A request mirrored to the shadow, answered after production has answered.
struct Mirror {
    served: Arc<Served>,
    rows: Vec<Vec<f64>>,
    production: Vec<Prediction>,
    variant: String,
    production_us: u64,
    at: flywheel_domain::Timestamp,
}

impl Mirror {
    /// Runs the shadow model on the blocking pool and stores both answers;
    /// a failure of the shadow is stored as its error, never seen by the caller.
    async fn run(self, app: App) {
        let served = self.served.clone();
        let rows = self.rows;
        let answered = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let answer = match served.shadow_model() {
                Some(model) => Matrix::from_rows(&rows)
                    .and_then(|x| Ok((model.predict_proba(&x)?, model.predict(&x)?)))
                    .map_err(|e| e.to_string()),
                None => Err("the shadow variant was removed".to_owned()),
            };
            (answer, u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX))
        })
        .await;
        let (answer, shadow_us) = answered.unwrap_or_else(|e| (Err(format!("the shadow's task failed: {e}")), 0));
        let endpoint = &self.served.endpoint;
        let shadow_variant = endpoint.shadow.as_ref().map(|v| v.name.clone()).unwrap_or_default();
        let results: Vec<ShadowResult> = self
            .production
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let (score, class, error) = match &answer {
                    Ok((scores, classes)) => (scores.get(i), classes.get(i).map(str::to_owned), None),
                    Err(e) => (None, None, Some(e.clone())),
                };
                ShadowResult {
                    inference_id: p.inference_id,
                    at: self.at,
                    production_variant: self.variant.clone(),
                    production_score: p.score,
                    production_class: p.class.clone(),
                    production_us: self.production_us,
                    shadow_variant: shadow_variant.clone(),
                    shadow_score: score,
                    shadow_class: class,
                    shadow_us,
                    error,
                    ground_truth: None,
                }
            })
            .collect();
        app.endpoints.write(&app, Write::Shadow(endpoint.id, results));
    }
}

/// A new key for the endpoint's invocations: its record, and its secret to
/// show once (only its digest is kept).
///
/// # Errors
/// [`EndpointError::NotFound`]; [`EndpointError::Invalid`] for a bad name.
pub async fn create_key(app: &App, user: &User, name: &str, label: &str) -> Result<(ApiToken, String), EndpointError> {
    let served = served(app, user, name).await?;
    let label = ApiToken::parse_name(label)?;
    let secret = TokenSecret::endpoint_key_from_random_bytes(random_bytes::<32>()?);
    let key = ApiToken {
        id: ApiTokenId(Uuid::new_v4()),
        user_id: user.id,
        name: label,
        created_at: now(),
        last_used_at: None,
        revoked_at: None,
    };
    app.db.create_endpoint_key(served.endpoint.id, &key, &secret.digest()).await?;
    audit(app, served.endpoint.id, user, format!("key {:?} made", key.name)).await;
    Ok((key, secret.expose().to_owned()))
}

/// The endpoint's keys, newest first (without their secrets).
///
/// # Errors
/// [`EndpointError::NotFound`].
pub async fn keys(app: &App, user: &User, name: &str) -> Result<Vec<ApiToken>, EndpointError> {
    let served = served(app, user, name).await?;
    Ok(app.db.endpoint_keys(served.endpoint.id).await?)
}

/// Revokes a key: it opens nothing from now on.
///
/// # Errors
/// [`EndpointError::NotFound`]; [`EndpointError::Invalid`] for a key it
/// lacks or that is revoked already.
pub async fn revoke_key(app: &App, user: &User, name: &str, key: &str) -> Result<(), EndpointError> {
    let served = served(app, user, name).await?;
    let no_key = || EndpointError::Invalid(format!("Endpoint {name:?} has no active key {key:?}."));
    let id: ApiTokenId = key.parse().map_err(|_| no_key())?;
    if !app.db.revoke_endpoint_key(served.endpoint.id, id, now()).await? {
        return Err(no_key());
    }
    audit(app, served.endpoint.id, user, format!("key {id} revoked")).await;
    Ok(())
}

/// Most predictions the review queue shows at once.
pub const REVIEW_PAGE: u64 = 50;

/// Sets the human review band (`None` ends review): captured predictions
/// scored in it wait for a person's label, which becomes their ground truth.
///
/// # Errors
/// [`EndpointError::NotFound`].
pub async fn set_review(
    app: &App,
    user: &User,
    name: &str,
    band: Option<ReviewBand>,
) -> Result<EndpointView, EndpointError> {
    let served = served(app, user, name).await?;
    if !app.db.set_review(served.endpoint.id, band, now()).await? {
        return Err(EndpointError::NotFound(name.to_owned()));
    }
    let message =
        band.map_or_else(|| "review ended".to_owned(), |b| format!("review of scores {} to {}", b.low, b.high));
    audit(app, served.endpoint.id, user, message).await;
    app.endpoints.forget(name);
    get(app, user, name).await
}

/// The review queue: captured predictions scored in the review band that
/// no one has labelled yet, oldest first (at most [`REVIEW_PAGE`]), with
/// the endpoint's columns to name their features.
///
/// # Errors
/// [`EndpointError::NotFound`]; [`EndpointError::Invalid`] when the endpoint has no review band.
pub async fn review_queue(app: &App, user: &User, name: &str) -> Result<(EndpointView, Vec<Capture>), EndpointError> {
    let served = served(app, user, name).await?;
    let Some(band) = served.endpoint.review else {
        return Err(EndpointError::Invalid(format!(
            "Endpoint {name:?} has no review band: set one (for example scores 0.4 to 0.6) to review its uncertain predictions."
        )));
    };
    app.endpoints.flush().await;
    let queue = app.db.review_queue(served.endpoint.id, band, REVIEW_PAGE).await?;
    let view = EndpointView {
        endpoint: served.endpoint.clone(),
        columns: served.columns.clone(),
        variants: Vec::new(),
        timeline: None,
        errors: Vec::new(),
    };
    Ok((view, queue))
}

/// Records the true class of a captured prediction.
///
/// # Errors
/// [`EndpointError::NotFound`]; [`EndpointError::NoInference`] for an id
/// the endpoint did not capture; [`EndpointError::Invalid`] for an empty label.
pub async fn ground_truth(
    app: &App,
    caller: Caller<'_>,
    name: &str,
    inference_id: &str,
    label: &str,
) -> Result<(), EndpointError> {
    let served = served_to(app, caller, name).await?;
    let no_such = || EndpointError::NoInference { endpoint: name.to_owned(), id: inference_id.to_owned() };
    let id: InferenceId = inference_id.parse().map_err(|_| no_such())?;
    let label = label.trim();
    if label.is_empty() || label.len() > 200 {
        return Err(EndpointError::Invalid("`label` is the true class, 1 to 200 characters.".to_owned()));
    }
    app.endpoints.flush().await;
    if app.db.set_ground_truth(served.endpoint.id, id, label).await? { Ok(()) } else { Err(no_such()) }
}

/// The endpoint's newest captures, at most `limit` (up to [`MAX_CAPTURES`]), newest first.
///
/// # Errors
/// [`EndpointError::NotFound`].
pub async fn captures(
    app: &App,
    user: &User,
    name: &str,
    limit: u64,
) -> Result<(EndpointView, Vec<Capture>), EndpointError> {
    let served = served(app, user, name).await?;
    app.endpoints.flush().await;
    let all = app.db.captures(served.endpoint.id, limit.min(MAX_CAPTURES)).await?;
    Ok((
        EndpointView {
            endpoint: served.endpoint.clone(),
            columns: served.columns.clone(),
            variants: Vec::new(),
            timeline: None,
            errors: Vec::new(),
        },
        all,
    ))
}

/// Captures as CSV: `inference_id, variant, at` (Unix milliseconds),
/// `score, class, ground_truth, latency_us`, then one column per feature
/// (the endpoint's column names, else `feature_0`, …).
///
/// # Errors
/// When the CSV writer fails (it writes to memory, so it does not).
pub fn captures_csv(columns: Option<&[String]>, captures: &[Capture]) -> anyhow::Result<String> {
    let width = captures.iter().map(|c| c.features.len()).max().unwrap_or(0);
    let features: Vec<String> = match columns {
        Some(c) if c.len() == width => c.to_vec(),
        _ => (0..width).map(|i| format!("feature_{i}")).collect(),
    };
    let mut out = csv::Writer::from_writer(Vec::new());
    let head = ["inference_id", "variant", "at", "score", "class", "ground_truth", "latency_us"];
    out.write_record(head.iter().map(|h| (*h).to_owned()).chain(features))?;
    for c in captures {
        let fixed = [
            c.inference_id.to_string(),
            c.variant.clone(),
            c.at.millis().to_string(),
            c.score.to_string(),
            c.class.clone(),
            c.ground_truth.clone().unwrap_or_default(),
            c.latency_us.to_string(),
        ];
        out.write_record(fixed.into_iter().chain(c.features.iter().map(f64::to_string)))?;
    }
    let bytes = out.into_inner().map_err(|e| anyhow::anyhow!("captures CSV: {e}"))?;
    Ok(String::from_utf8(bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flywheel_domain::Timestamp;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn json_instances_and_records_give_rows_in_column_order() {
        let c = cols(&["a", "b"]);
        let rows = parse_rows(br#"{"instances": [[1, 2], [3.5, true]]}"#, BodyFormat::Json, Some(&c)).unwrap();
        assert_eq!(rows, vec![vec![1.0, 2.0], vec![3.5, 1.0]]);
        let rows = parse_rows(br#"{"records": [{"b": 2, "a": 1}]}"#, BodyFormat::Json, Some(&c)).unwrap();
        assert_eq!(rows, vec![vec![1.0, 2.0]]);
    }

    #[test]
    fn csv_rows_with_or_without_a_header() {
        let c = cols(&["a", "b"]);
        assert_eq!(parse_rows(b"1,2\n3,4\n", BodyFormat::Csv, Some(&c)).unwrap(), vec![vec![1.0, 2.0], vec![3.0, 4.0]]);
        assert_eq!(parse_rows(b"b,a\n2,1\n", BodyFormat::Csv, Some(&c)).unwrap(), vec![vec![1.0, 2.0]]);
    }

    #[test]
    fn records_fill_one_hot_columns_from_the_raw_category() {
        let c = cols(&["age", "purpose=car", "purpose=tv"]);
        let rows = parse_rows(br#"{"records": [{"purpose": "tv", "age": 40}]}"#, BodyFormat::Json, Some(&c)).unwrap();
        assert_eq!(rows, vec![vec![40.0, 0.0, 1.0]]);
        let rows = parse_rows(b"age,purpose\n40,car\n", BodyFormat::Csv, Some(&c)).unwrap();
        assert_eq!(rows, vec![vec![40.0, 1.0, 0.0]]);
        let rows = parse_rows(br#"{"records": [{"purpose": "boat", "age": 1}]}"#, BodyFormat::Json, Some(&c)).unwrap();
        assert_eq!(rows, vec![vec![1.0, 0.0, 0.0]], "a category never seen: all zeros");
        let err = parse_rows(br#"{"records": [{"age": 1}]}"#, BodyFormat::Json, Some(&c)).unwrap_err();
        assert!(err.to_string().contains("missing columns purpose;"), "{err}");
    }

    #[test]
    fn bad_bodies_say_what_is_wrong() {
        let c = cols(&["a", "b"]);
        let err = |body: &[u8], format| parse_rows(body, format, Some(&c)).unwrap_err().to_string();
        assert!(err(b"  ", BodyFormat::Json).contains("empty"));
        assert!(err(b"{\"rows\": []}", BodyFormat::Json).contains("neither"));
        assert!(
            err(br#"{"instances": [[1, "x"]]}"#, BodyFormat::Json).contains("instances[0][1] is \"x\", not a number")
        );
        let wrong = err(br#"{"instances": [[1, 2, 3]]}"#, BodyFormat::Json);
        assert!(wrong.contains("3 values") && wrong.contains("takes 2 features: a, b"), "{wrong}");
        let names = err(br#"{"records": [{"a": 1, "c": 2}]}"#, BodyFormat::Json);
        assert!(names.contains("unknown columns c") && names.contains("missing columns b"), "{names}");
        assert!(err(b"1,zz\n2,3\n", BodyFormat::Csv).contains("unknown columns 1, zz"));
        assert!(err(b"a,b\n1,x\n", BodyFormat::Csv).contains("CSV row 1.b is \"x\", not a number"));
        assert!(err(b"1,2\n3,zz\n", BodyFormat::Csv).contains("row 2, field 2"));
        assert!(err(br#"{"instances": []}"#, BodyFormat::Json).contains("no rows"));
    }

    fn capture(variant: &str, score: f64, class: &str, truth: Option<&str>, latency_us: u64) -> Capture {
        Capture {
            inference_id: InferenceId(Uuid::new_v4()),
            variant: variant.to_owned(),
            at: Timestamp(0),
            features: vec![],
            score,
            class: class.to_owned(),
            latency_us,
            ground_truth: truth.map(str::to_owned),
        }
    }

    #[test]
    fn live_metrics_come_from_the_labelled_captures() {
        let all = [
            capture("a", 0.9, "1", Some("1"), 1000),
            capture("a", 0.2, "0", Some("0"), 2000),
            capture("a", 0.6, "1", Some("0"), 3000),
            capture("a", 0.4, "0", None, 4000),
        ];
        let s = variant_stats(&all.iter().collect::<Vec<_>>());
        assert_eq!((s.captured, s.labelled), (4, 3));
        assert!((s.accuracy.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.roc_auc, Some(1.0));
        assert_eq!(s.latency_p50_ms, Some(3.0));
        let none = variant_stats(&[]);
        assert_eq!((none.accuracy, none.roc_auc, none.latency_p50_ms), (None, None, None));
    }
}
