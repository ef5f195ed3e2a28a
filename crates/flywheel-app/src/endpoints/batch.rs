//! Batch transform (Day 3): score a whole dataset with an endpoint's model
//! into a new dataset in the caller's *My data*, as SageMaker's batch
//! transform does with an S3 prefix.
//!
//! The input is a built-in table (`builtin:credit_card_fraud`) or one of
//! the caller's datasets (`dataset:claims.csv`). Columns the model does not
//! take (the label, an id) are carried through unscored, as SageMaker's
//! `join_source=Input` does; the output is the input with two more
//! columns, `score` (the probability of the positive class) and
//! `prediction` (the class). The rows are scored [`CHUNK`] at a time on the
//! blocking pool, so [`status`] shows the progress; the scored dataset is
//! stored as an upload is (checked, size-limited, copied into the caller's
//! open kernel sessions as `data/<name>`). Runs are kept in memory by the
//! server that ran them ([`super::background`]), one per endpoint at a
//! time; the audit trail keeps each one's summary.

use std::sync::Arc;
use std::time::Instant;

use flywheel_domain::User;
use flywheel_ml::{Matrix, Table};
use uuid::Uuid;

use super::{BodyFormat, EndpointError, audit, parse_rows, served};
use crate::training::DataSource;
use crate::{App, datasets};

/// Rows scored at a time (and between two progress reports).
pub const CHUNK: usize = 5_000;

/// What a batch transform asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRequest {
    /// The table to score: `builtin:<name>` or `dataset:<file name>`.
    pub input: String,
    /// The variant whose model scores (else the one with the largest weight).
    pub variant: Option<String>,
    /// The new dataset's file name (else `<input>-<endpoint>.csv`).
    pub output: Option<String>,
}

/// A finished batch transform.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchResult {
    /// The new dataset's file name in *My data*.
    pub dataset: String,
    /// Its id.
    pub dataset_id: String,
    /// Rows scored.
    pub rows: usize,
    /// The variant that scored them.
    pub variant: String,
    /// The input columns carried through unscored.
    pub carried: Vec<String>,
    /// Time it took, seconds.
    pub seconds: f64,
}

/// How far a batch transform is: rows scored, of how many.
pub type Progress = (usize, usize);

/// The batch transforms this server ran.
pub type BatchTransforms = super::background::Background<Progress, BatchResult>;

/// Where a batch transform is.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchState {
    /// Scoring: rows done, of how many.
    Running(Progress),
    /// Done.
    Finished(BatchResult),
    /// It stopped; why.
    Failed(String),
}

/// Starts scoring `request.input` with endpoint `name`'s model in the
/// background; its id for [`status`].
///
/// # Errors
/// [`EndpointError::NotFound`]; [`EndpointError::Invalid`] for an input
/// that is neither a built-in table nor one of the caller's datasets, a
/// table without the model's columns, an unknown variant, an output name
/// that is not a CSV file name or that the caller's data has already, or a
/// batch transform of this endpoint running.
pub async fn start(app: &App, user: &User, name: &str, request: BatchRequest) -> Result<Uuid, EndpointError> {
    let served = served(app, user, name).await?;
    let endpoint = &served.endpoint;
    let chosen = match &request.variant {
        Some(v) => endpoint.variants.iter().position(|x| &x.name == v).ok_or_else(|| {
            let names: Vec<&str> = endpoint.variants.iter().map(|v| v.name.as_str()).collect();
            EndpointError::Invalid(format!(
                "Endpoint {name:?} has no variant {v:?}: its variants are {}.",
                names.join(", ")
            ))
        })?,
        None => (0..endpoint.variants.len())
            .max_by(|a, b| endpoint.variants[*a].weight.total_cmp(&endpoint.variants[*b].weight).then(b.cmp(a)))
            .unwrap_or(0),
    };
    let (table, stem) = input_table(app, user, &request.input).await?;
    let output = request.output.clone().unwrap_or_else(|| format!("{stem}-{name}.csv"));
    let output_name = flywheel_domain::DatasetName::from_file_name(&output)
        .map_err(|e| EndpointError::Invalid(format!("The output name {output:?} {}.", e.message)))?;
    if app.db.datasets(user.id).await?.iter().any(|d| d.name == output_name) {
        return Err(EndpointError::Invalid(format!(
            "You already have a dataset named {output_name}: choose another output name, or delete it first."
        )));
    }
    let (features, carried) = split_columns(&table, served.columns.as_deref())?;
    let rows = table.nrows();
    let busy = format!("A batch transform with {name:?} is running: wait for it to end.");
    let id = app.endpoints.batches.begin(name, (0, rows), &busy)?;
    let job = Job {
        served: Arc::clone(&served),
        chosen,
        table,
        features,
        carried,
        input: request.input,
        output: output_name.as_str().to_owned(),
    };
    let (app, user) = (app.clone(), user.clone());
    tokio::spawn(async move {
        let outcome = job.run(&app, &user, id).await.map_err(|e| e.to_string());
        app.endpoints.batches.finish(id, outcome);
    });
    Ok(id)
}

/// Where batch transform `id` of endpoint `name` is.
///
/// # Errors
/// [`EndpointError::NotFound`]; [`EndpointError::Invalid`] for one this
/// server does not know.
pub async fn status(app: &App, user: &User, name: &str, id: &str) -> Result<BatchState, EndpointError> {
    served(app, user, name).await?;
    let task = app.endpoints.batches.get(name, id, "batch transform")?;
    Ok(match task.outcome {
        None => BatchState::Running(task.progress),
        Some(Ok(result)) => BatchState::Finished(result),
        Some(Err(error)) => BatchState::Failed(error),
    })
}

/// The tables a batch transform may read: the built-in ones and the
/// caller's datasets, as `(input, label)`.
///
/// # Errors
/// Storage failures.
pub async fn inputs(app: &App, user: &User) -> Result<Vec<(String, String)>, EndpointError> {
    let mut all: Vec<(String, String)> =
        crate::training::BUILTIN_DATASETS.iter().map(|n| (format!("builtin:{n}"), format!("{n} (built in)"))).collect();
    for d in app.db.datasets(user.id).await? {
        all.push((format!("dataset:{}", d.name), format!("{} ({} rows, My data)", d.name, d.rows)));
    }
    Ok(all)
}

/// The table `input` names, and a stem for the output's name.
async fn input_table(app: &App, user: &User, input: &str) -> Result<(Table, String), EndpointError> {
    let invalid = |why: String| EndpointError::Invalid(format!("The batch input: {why}"));
    match DataSource::parse(input).map_err(|e| invalid(e.to_string()))? {
        DataSource::Builtin(name) => {
            let table =
                DataSource::builtin_table(&name).ok_or_else(|| invalid(format!("no built-in table {name}.")))?;
            Ok((table, name))
        }
        DataSource::Dataset(name) => {
            let mine = app.db.datasets(user.id).await?;
            let record =
                mine.iter().find(|d| d.name == name).ok_or_else(|| invalid(format!("you have no dataset {name}.")))?;
            let csv = app.db.dataset_content(record.id).await?.unwrap_or_default();
            let table = Table::from_csv_str(&csv).map_err(|e| invalid(format!("{e}.")))?;
            let stem = name.as_str().trim_end_matches(".csv").to_owned();
            Ok((table, stem))
        }
        DataSource::Cell(_) => Err(invalid("give `builtin:<name>` or `dataset:<file name>`.".into())),
    }
}

/// The table's columns the model reads (by name, or a raw category whose
/// one-hot columns it reads), and the others, carried through. A model
/// that records no column names reads every column.
fn split_columns(table: &Table, columns: Option<&[String]>) -> Result<(Vec<String>, Vec<String>), EndpointError> {
    let names = table.column_names();
    let Some(columns) = columns else { return Ok((names, Vec::new())) };
    let read = |n: &String| columns.iter().any(|c| c == n || c.split_once('=').is_some_and(|(g, _)| g == n));
    let (features, carried): (Vec<String>, Vec<String>) = names.into_iter().partition(read);
    if features.is_empty() {
        return Err(EndpointError::Invalid(format!(
            "The batch input has none of the model's columns ({}).",
            columns.iter().take(8).cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    Ok((features, carried))
}

/// A checked batch transform, ready to run.
struct Job {
    served: Arc<super::Served>,
    chosen: usize,
    table: Table,
    features: Vec<String>,
    carried: Vec<String>,
    input: String,
    output: String,
}

impl Job {
    async fn run(self, app: &App, user: &User, id: Uuid) -> Result<BatchResult, EndpointError> {
        let started = Instant::now();
        let rows = self.table.nrows();
        let mut scores = Vec::with_capacity(rows);
        let mut classes = Vec::with_capacity(rows);
        let inputs = self.table.select(&self.features).map_err(|e| EndpointError::Invalid(format!("{e}.")))?;
        for from in (0..rows).step_by(CHUNK) {
            let keep: Vec<bool> = (0..rows).map(|i| (from..from + CHUNK).contains(&i)).collect();
            let csv = inputs
                .filter(&keep)
                .and_then(|t| t.to_csv_string())
                .map_err(|e| EndpointError::Invalid(format!("{e}.")))?;
            let chunk = parse_rows(csv.as_bytes(), BodyFormat::Csv, self.served.columns.as_deref())
                .map_err(|e| EndpointError::Invalid(format!("Rows {from} onwards: {e}")))?;
            let served = Arc::clone(&self.served);
            let chosen = self.chosen;
            let scored = tokio::task::spawn_blocking(move || {
                let model = &served.models[chosen];
                let x = Matrix::from_rows(&chunk)?;
                Ok::<_, flywheel_ml::MlError>((model.predict_proba(&x)?, model.predict(&x)?))
            })
            .await
            .map_err(|e| EndpointError::Internal(e.into()))?
            .map_err(|e| EndpointError::Invalid(format!("The model cannot score rows {from} onwards: {e}.")))?;
            let (s, c) = scored;
            scores.extend(s.to_vec());
            classes.extend((0..c.len()).map(|i| c.get(i).unwrap_or_default().to_owned()));
            app.endpoints.batches.progress(id, (scores.len(), rows));
        }
        let csv = scored_csv(&self.table, &scores, &classes)?;
        let (record, _) =
            datasets::upload(app, user, &self.output, csv.as_bytes(), false).await.map_err(|e| match e {
                datasets::DatasetError::Store(e) => EndpointError::Store(e),
                other => EndpointError::Invalid(format!("The scored dataset {}: {other}", self.output)),
            })?;
        let variant = self.served.endpoint.variants[self.chosen].name.clone();
        let seconds = started.elapsed().as_secs_f64();
        let message = format!(
            "batch transform: {rows} rows of {} scored by {variant} into {} ({seconds:.1} s)",
            self.input, record.name
        );
        audit(app, self.served.endpoint.id, user, message).await;
        Ok(BatchResult {
            dataset: record.name.as_str().to_owned(),
            dataset_id: record.id.to_string(),
            rows,
            variant,
            carried: self.carried,
            seconds,
        })
    }
}

/// `table` as CSV with `score` and `prediction` appended to each row.
fn scored_csv(table: &Table, scores: &[f64], classes: &[String]) -> Result<String, EndpointError> {
    let bad = |e: String| EndpointError::Internal(anyhow::anyhow!("writing the scored table: {e}"));
    let text = table.to_csv_string().map_err(|e| bad(e.to_string()))?;
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = reader.headers().map_err(|e| bad(e.to_string()))?.iter().map(str::to_owned).collect();
    let free = |base: &str, header: &[String]| {
        let mut name = base.to_owned();
        while header.contains(&name) {
            name.push('_');
        }
        name
    };
    let (score, prediction) = (free("score", &header), free("prediction", &header));
    header.extend([score, prediction]);
    writer.write_record(&header).map_err(|e| bad(e.to_string()))?;
    for ((record, s), c) in reader.records().zip(scores).zip(classes) {
        let mut record: Vec<String> = record.map_err(|e| bad(e.to_string()))?.iter().map(str::to_owned).collect();
        record.extend([s.to_string(), c.clone()]);
        writer.write_record(&record).map_err(|e| bad(e.to_string()))?;
    }
    String::from_utf8(writer.into_inner().map_err(|e| bad(e.to_string()))?).map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_reads_its_columns_and_raw_categories_and_the_rest_is_carried() {
        let table = Table::from_csv_str("Amount,purpose,Class,id\n1.5,car,1,a\n2,tv,0,b\n").unwrap();
        let columns: Vec<String> = ["Amount", "purpose=car", "purpose=tv"].iter().map(|s| (*s).to_owned()).collect();
        let (features, carried) = split_columns(&table, Some(&columns)).unwrap();
        assert_eq!(features, ["Amount", "purpose"]);
        assert_eq!(carried, ["Class", "id"]);
        assert_eq!(split_columns(&table, None).unwrap().0.len(), 4);
        let other: Vec<String> = vec!["V1".into()];
        assert!(
            split_columns(&table, Some(&other)).unwrap_err().to_string().contains("none of the model's columns (V1)")
        );
    }

    #[test]
    fn scores_and_classes_are_appended_without_clobbering_columns() {
        let table = Table::from_csv_str("score,x\n1,2\n3,4\n").unwrap();
        let csv = scored_csv(&table, &[0.25, 0.75], &["0".into(), "1".into()]).unwrap();
        assert_eq!(csv, "score,x,score_,prediction\n1,2,0.25,0\n3,4,0.75,1\n");
    }
}
