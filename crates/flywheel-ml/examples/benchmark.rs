//! Benchmark of Flywheel's algorithm library against scikit-learn, XGBoost
//! and LightGBM on the same data, the same machine, in the same run.
//!
//! Not meant to be run by hand: `bash crates/flywheel-ml/bench/run.sh [--quick]`
//! does everything (see `crates/flywheel-ml/bench/README.md`). The two steps
//! this example does:
//!
//! ```text
//! cargo run --release -p flywheel-ml --example benchmark -- generate DIR [--quick]
//! cargo run --release -p flywheel-ml --example benchmark -- run DIR [--only TASK,TASK]
//! ```
//!
//! `generate` writes seeded synthetic datasets (already split into train and
//! test parts) to `DIR/data/*.f64` — raw little-endian `f64`, row-major — and
//! their shapes to `DIR/meta.json`; numpy reads the same bytes with
//! `np.fromfile(path, "<f8").reshape(rows, cols)`. `run` times Flywheel on
//! them and writes `DIR/rust.json`, plus Flywheel's test-set predictions to
//! `DIR/pred/` so the Python side can recompute every metric with scikit-learn.

use std::collections::BTreeMap;
use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use flywheel_ml::metrics;
use flywheel_ml::prelude::*;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde_json::{Value, json};

type Res<T> = std::result::Result<T, Box<dyn Error>>;

/// Full sizes are divided by this in `--quick` mode.
const QUICK_DIVISOR: usize = 20;
/// A timed run that takes at least this long is not repeated (N = 1).
const SLOW_S: f64 = 10.0;
/// Most timed runs of a fast task (the best is reported).
const MAX_RUNS: usize = 3;

/// Every task, in table order.
const TASKS: [&str; 10] = [
    "logreg_fraud",
    "gbt_fraud",
    "gbt_regression",
    "linreg_regression",
    "kmeans_blobs",
    "pca_lowrank",
    "knn_classify",
    "rcf_stream",
    "lda_corpus",
    "lda_sotu",
];

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: benchmark generate DIR [--quick] | benchmark run DIR [--only TASK,TASK,…]";
    match args.first().map(String::as_str) {
        Some("generate") => {
            let dir = PathBuf::from(args.get(1).ok_or(usage)?);
            let quick = args.iter().any(|a| a == "--quick");
            generate(&dir, quick)
        }
        Some("run") => {
            let dir = PathBuf::from(args.get(1).ok_or(usage)?);
            let only: Option<Vec<String>> = args
                .iter()
                .position(|a| a == "--only")
                .map(|i| args.get(i + 1).map(|s| s.split(',').map(str::to_owned).collect()).ok_or(usage))
                .transpose()?;
            run(&dir, only.as_deref())
        }
        _ => Err(usage.into()),
    }
}

// ---------------------------------------------------------------------------
// Data files: DIR/data/NAME.f64 (raw little-endian f64, row-major) + DIR/meta.json.
// ---------------------------------------------------------------------------

struct Store {
    dir: PathBuf,
    arrays: serde_json::Map<String, Value>,
}

impl Store {
    fn put(&mut self, name: &str, rows: usize, cols: usize, values: &[f64]) -> Res<()> {
        assert_eq!(values.len(), rows * cols, "{name}: {} values for {rows} × {cols}", values.len());
        let file = format!("data/{name}.f64");
        write_f64(&self.dir.join(&file), values)?;
        self.arrays.insert(name.to_owned(), json!({ "rows": rows, "cols": cols, "file": file }));
        Ok(())
    }
    fn put_matrix(&mut self, name: &str, m: &Matrix) -> Res<()> {
        let values: Vec<f64> = m.array().iter().copied().collect();
        self.put(name, m.nrows(), m.ncols(), &values)
    }
    fn put_labels(&mut self, name: &str, l: &Labels) -> Res<()> {
        let values: Vec<f64> = l.ids().iter().map(|&i| i as f64).collect();
        self.put(name, l.len(), 1, &values)
    }
    fn put_vector(&mut self, name: &str, v: &Vector) -> Res<()> {
        self.put(name, v.len(), 1, v.as_slice())
    }
}

fn write_f64(path: &Path, values: &[f64]) -> Res<()> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    fs::write(path, bytes)?;
    Ok(())
}

struct Loaded {
    dir: PathBuf,
    meta: Value,
}

impl Loaded {
    fn open(dir: &Path) -> Res<Self> {
        let meta: Value = serde_json::from_slice(&fs::read(dir.join("meta.json"))?)?;
        Ok(Self { dir: dir.to_owned(), meta })
    }
    fn raw(&self, name: &str) -> Res<(usize, usize, Vec<f64>)> {
        let a = self.meta["arrays"].get(name).ok_or_else(|| format!("meta.json has no array `{name}`"))?;
        let (rows, cols) = (a["rows"].as_u64().ok_or("rows")? as usize, a["cols"].as_u64().ok_or("cols")? as usize);
        let bytes = fs::read(self.dir.join(a["file"].as_str().ok_or("file")?))?;
        let values: Vec<f64> =
            bytes.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().expect("chunks of 8"))).collect();
        if values.len() != rows * cols {
            return Err(format!("{name}: {} values on disk for {rows} × {cols}", values.len()).into());
        }
        Ok((rows, cols, values))
    }
    fn matrix(&self, name: &str) -> Res<Matrix> {
        let (r, c, v) = self.raw(name)?;
        Ok(Matrix::from_vec(r, c, v)?)
    }
    fn labels(&self, name: &str, classes: usize) -> Res<Labels> {
        let (_, _, v) = self.raw(name)?;
        let names = (0..classes).map(|c| c.to_string()).collect();
        Ok(Labels::from_ids(v.iter().map(|&x| x as usize).collect(), names)?)
    }
    fn vector(&self, name: &str) -> Res<Vector> {
        Ok(Vector::from_vec(self.raw(name)?.2))
    }
}

// ---------------------------------------------------------------------------
// Random numbers (no rand_distr: Box–Muller and Marsaglia–Tsang by hand).
// ---------------------------------------------------------------------------

fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

fn normal(r: &mut impl Rng) -> f64 {
    let u1: f64 = r.r#gen::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = r.r#gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn uniform(r: &mut impl Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * r.r#gen::<f64>()
}

/// Gamma(shape, 1).
fn gamma(r: &mut impl Rng, shape: f64) -> f64 {
    if shape < 1.0 {
        let u: f64 = r.r#gen::<f64>().max(f64::MIN_POSITIVE);
        return gamma(r, shape + 1.0) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = normal(r);
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u: f64 = r.r#gen::<f64>().max(f64::MIN_POSITIVE);
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

fn dirichlet(r: &mut impl Rng, alpha: f64, n: usize) -> Vec<f64> {
    let g: Vec<f64> = (0..n).map(|_| gamma(r, alpha).max(1e-300)).collect();
    let s: f64 = g.iter().sum();
    g.into_iter().map(|x| x / s).collect()
}

/// An index drawn with probabilities `p` (summing to 1).
fn categorical(r: &mut impl Rng, p: &[f64]) -> usize {
    let u: f64 = r.r#gen();
    let mut acc = 0.0;
    for (i, &pi) in p.iter().enumerate() {
        acc += pi;
        if u < acc {
            return i;
        }
    }
    p.len() - 1
}

// ---------------------------------------------------------------------------
// `generate`: the benchmark datasets (synthetic, seeded).
// ---------------------------------------------------------------------------

/// Sizes of everything, full or divided by [`QUICK_DIVISOR`].
struct Sizes {
    fraud: usize,
    regression: usize,
    blobs: usize,
    pca: usize,
    knn_train: usize,
    knn_query: usize,
    stream: usize,
    docs: usize,
}

impl Sizes {
    fn new(quick: bool) -> Self {
        let d = if quick { QUICK_DIVISOR } else { 1 };
        Self {
            fraud: 284_807 / d,
            regression: 100_000 / d,
            blobs: 100_000 / d,
            pca: 100_000 / d,
            knn_train: 50_000 / d,
            knn_query: 5_000 / d,
            stream: 20_000 / d,
            docs: 5_000 / d,
        }
    }
}

const FRAUD_POSITIVE_SHARE: f64 = 0.001_727; // 492 of 284,807, as in the Kaggle credit-card set
const BLOB_K: usize = 8;
const BLOB_D: usize = 10;
const PCA_D: usize = 50;
const PCA_RANK: usize = 10;
const KNN_D: usize = 10;
const KNN_K: usize = 5;
const KNN_CLASSES: usize = 3;
const STREAM_D: usize = 5;
const LDA_TERMS: usize = 1_000;
const LDA_TOPICS: usize = 10;
const LDA_PASSES: usize = 10;
/// LDA's quality is averaged over these seeds (the first is the timed one).
const LDA_SEEDS: [u64; 5] = [0, 1, 2, 3, 4];
/// Topics for the State of the Union passages (as the topics lab).
const SOTU_TOPICS: usize = 8;

fn generate(dir: &Path, quick: bool) -> Res<()> {
    fs::create_dir_all(dir.join("data"))?;
    let s = Sizes::new(quick);
    let mut st = Store { dir: dir.to_owned(), arrays: serde_json::Map::new() };
    let t = Instant::now();

    // Fraud-shaped classification: stratified 80/20 split.
    let fraud = fraud_data(s.fraud, 1)?;
    let (train, test) = stratified_split(&fraud, 0.2, 11)?;
    st.put_matrix("fraud_x_train", train.features())?;
    st.put_labels("fraud_y_train", train.labels()?)?;
    st.put_matrix("fraud_x_test", test.features())?;
    st.put_labels("fraud_y_test", test.labels()?)?;
    let positives = fraud.labels()?.counts()[1].1;

    // Nonlinear regression: random 80/20 split.
    let reg = regression_data(s.regression, 2)?;
    let (train, test) = train_test_split(&reg, 0.2, 12)?;
    st.put_matrix("reg_x_train", train.features())?;
    st.put_vector("reg_y_train", train.values()?)?;
    st.put_matrix("reg_x_test", test.features())?;
    st.put_vector("reg_y_test", test.values()?)?;

    // Blobs for k-means: fit on 80 %, score on 20 % (true blob ids kept for ARI).
    let blobs = blob_data(s.blobs, 3)?;
    let (train, test) = train_test_split(&blobs, 0.2, 13)?;
    st.put_matrix("blobs_x_train", train.features())?;
    st.put_matrix("blobs_x_test", test.features())?;
    st.put_labels("blobs_y_test", test.labels()?)?;

    // Low rank + noise for PCA.
    let low = low_rank_data(s.pca, 4)?;
    let (train, test) = train_test_split(&Dataset::unsupervised(low), 0.2, 14)?;
    st.put_matrix("pca_x_train", train.features())?;
    st.put_matrix("pca_x_test", test.features())?;

    // KNN: overlapping Gaussian classes; the last rows are the queries.
    let knn = knn_data(s.knn_train + s.knn_query, 5)?;
    let train_rows: Vec<usize> = (0..s.knn_train).collect();
    let query_rows: Vec<usize> = (s.knn_train..s.knn_train + s.knn_query).collect();
    let (train, test) = (knn.select_rows(&train_rows)?, knn.select_rows(&query_rows)?);
    st.put_matrix("knn_x_train", train.features())?;
    st.put_labels("knn_y_train", train.labels()?)?;
    st.put_matrix("knn_x_test", test.features())?;
    st.put_labels("knn_y_test", test.labels()?)?;

    // RCF stream, in time order: the first `warmup` points train the forest.
    let warmup = (s.stream / 20).max(64);
    let (stream, is_anomaly) = stream_data(s.stream, warmup, 6);
    st.put("stream_x", s.stream, STREAM_D, &stream)?;
    st.put("stream_y", s.stream, 1, &is_anomaly)?;

    // LDA corpus drawn from LDA's own generative model.
    let (counts, topics) = corpus_data(s.docs, 7);
    let n_train = s.docs * 4 / 5;
    st.put("lda_x_train", n_train, LDA_TERMS, &counts[..n_train * LDA_TERMS])?;
    st.put("lda_x_test", s.docs - n_train, LDA_TERMS, &counts[n_train * LDA_TERMS..])?;
    st.put("lda_true_topics", LDA_TOPICS, LDA_TERMS, &topics)?;

    // LDA on real text: the State of the Union passages since 1946, counted
    // as the topics lab does (stop words out, min_df 5, max_df 0.5, 2,000 terms).
    let sotu = datasets::state_of_the_union();
    let year = sotu.numbers("year")?;
    let modern = sotu.filter(&year.as_slice().iter().map(|&y| y >= 1946.0).collect::<Vec<_>>())?;
    let texts: Vec<String> = modern.texts("text")?.into_iter().step_by(if quick { QUICK_DIVISOR } else { 1 }).collect();
    let corpus = Corpus::new(texts);
    let min_df = if quick { 2 } else { 5 };
    let vectorizer =
        CountVectorizer::params().stop_words(true).min_df(min_df).max_df(0.5).max_features(2000).fit(&corpus)?;
    let counts = vectorizer.transform(&corpus)?;
    let (train, test) = train_test_split(&Dataset::unsupervised(counts), 0.2, 15)?;
    st.put_matrix("sotu_x_train", train.features())?;
    st.put_matrix("sotu_x_test", test.features())?;

    let meta = json!({
        "format": "raw little-endian f64, row-major; labels are class ids stored as f64",
        "quick": quick,
        "divisor": if quick { QUICK_DIVISOR } else { 1 },
        "generator": "crates/flywheel-ml/examples/benchmark.rs (seeded synthetic data)",
        "fraud": { "rows": s.fraud, "positives": positives, "features": 30 },
        "params": {
            "blob_k": BLOB_K, "pca_components": PCA_RANK, "knn_k": KNN_K, "knn_classes": KNN_CLASSES,
            "stream_warmup": warmup, "lda_topics": LDA_TOPICS, "lda_passes": LDA_PASSES, "lda_seeds": LDA_SEEDS,
            "sotu_topics": SOTU_TOPICS,
        },
        "arrays": Value::Object(st.arrays.clone()),
    });
    fs::write(dir.join("meta.json"), serde_json::to_string_pretty(&meta)?)?;
    eprintln!("generated datasets in {} ({:.1} s)", dir.display(), t.elapsed().as_secs_f64());
    Ok(())
}

/// 30 columns like the Kaggle credit-card set — Time, V1…V28 (PCA-like:
/// centred, decreasing variance), Amount (log-normal, heavy-tailed) — and
/// 0.1727 % positives. Positives are shifted along a fixed signature on eight
/// V columns with a random severity (some barely, 10 % not at all), have a
/// wider spread there, a symmetric ±offset on V5 (which a linear model cannot
/// use) and larger amounts.
fn fraud_data(n: usize, seed: u64) -> Res<Dataset> {
    let mut r = rng(seed);
    let n_pos = ((n as f64) * FRAUD_POSITIVE_SHARE).round().max(10.0) as usize;
    // Shifts in units of each column's standard deviation (V-index, shift).
    let signature: [(usize, f64); 8] =
        [(3, -2.0), (4, 2.5), (10, -3.0), (11, 2.5), (12, -3.5), (14, -4.0), (16, -2.5), (17, -3.5)];
    let sigma: Vec<f64> = (1..=28).map(|j| 1.96 * (0.33f64 / 1.96).powf((j - 1) as f64 / 27.0)).collect();
    let mut values = Vec::with_capacity(n * 30);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let positive = i < n_pos;
        let severity = if positive && r.r#gen::<f64>() >= 0.1 { uniform(&mut r, 0.15, 1.2) } else { 0.0 };
        let tail = if r.r#gen::<f64>() < 0.02 { 3.0 } else { 1.0 };
        values.push(uniform(&mut r, 0.0, 172_792.0).floor());
        for (j, &sd) in sigma.iter().enumerate() {
            let v = j + 1;
            let shift = signature.iter().find(|(c, _)| *c == v).map_or(0.0, |(_, s)| *s);
            let spread = if shift != 0.0 { 1.0 + 0.5 * severity } else { 1.0 };
            let mut z = tail * spread * normal(&mut r) + severity * shift;
            if v == 5 && severity > 0.0 {
                z += if r.r#gen::<bool>() { 2.5 } else { -2.5 } * severity;
            }
            values.push(sd * z);
        }
        let (mu, s) = if positive { (3.2, 1.9) } else { (3.0, 1.3) };
        values.push(((mu + s * normal(&mut r)).exp().min(25_691.16) * 100.0).round() / 100.0);
        y.push(i64::from(positive));
    }
    let mut names = vec!["Time".to_owned()];
    names.extend((1..=28).map(|j| format!("V{j}")));
    names.push("Amount".into());
    let x = Matrix::from_vec(n, 30, values)?.with_columns(&names)?;
    Ok(Dataset::classification(x, Labels::from_ints(&y))?)
}

/// 28 uniform features, 10 of them used: Friedman #1 plus an interaction, a
/// cosine and a threshold effect; Gaussian noise σ = 1.
fn regression_data(n: usize, seed: u64) -> Res<Dataset> {
    let mut r = rng(seed);
    let mut values = Vec::with_capacity(n * 28);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let x: Vec<f64> = (0..28).map(|_| r.r#gen::<f64>()).collect();
        let f = 10.0 * (std::f64::consts::PI * x[0] * x[1]).sin()
            + 20.0 * (x[2] - 0.5).powi(2)
            + 10.0 * x[3]
            + 5.0 * x[4]
            + 6.0 * x[5] * x[6]
            + 2.0 * (std::f64::consts::TAU * x[7]).cos()
            + if x[8] > 0.5 { 4.0 * x[9] } else { 0.0 };
        y.push(f + normal(&mut r));
        values.extend(x);
    }
    Ok(Dataset::regression(Matrix::from_vec(n, 28, values)?, Vector::from_vec(y))?)
}

/// 8 Gaussian blobs in 10 dimensions: centres uniform in [−6, 6]¹⁰, standard
/// deviations 0.8–1.6; the target is the blob id.
fn blob_data(n: usize, seed: u64) -> Res<Dataset> {
    let mut r = rng(seed);
    let centres: Vec<Vec<f64>> =
        (0..BLOB_K).map(|_| (0..BLOB_D).map(|_| uniform(&mut r, -6.0, 6.0)).collect()).collect();
    let sds: Vec<f64> = (0..BLOB_K).map(|_| uniform(&mut r, 0.8, 1.6)).collect();
    let mut values = Vec::with_capacity(n * BLOB_D);
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let c = r.gen_range(0..BLOB_K);
        values.extend(centres[c].iter().map(|m| m + sds[c] * normal(&mut r)));
        ids.push(c);
    }
    let names = (0..BLOB_K).map(|c| c.to_string()).collect();
    Ok(Dataset::classification(Matrix::from_vec(n, BLOB_D, values)?, Labels::from_ids(ids, names)?)?)
}

/// Rank-10 signal (component variances 25·0.75^k along random directions)
/// plus isotropic noise σ = 0.3 and a random offset, in 50 dimensions.
fn low_rank_data(n: usize, seed: u64) -> Res<Matrix> {
    let mut r = rng(seed);
    let norm = (PCA_D as f64).sqrt();
    let loadings: Vec<Vec<f64>> = (0..PCA_RANK).map(|_| (0..PCA_D).map(|_| normal(&mut r) / norm).collect()).collect();
    let sds: Vec<f64> = (0..PCA_RANK).map(|k| (25.0 * 0.75f64.powi(k as i32)).sqrt()).collect();
    let offset: Vec<f64> = (0..PCA_D).map(|_| uniform(&mut r, -5.0, 5.0)).collect();
    let mut values = Vec::with_capacity(n * PCA_D);
    for _ in 0..n {
        let z: Vec<f64> = sds.iter().map(|s| s * normal(&mut r)).collect();
        for j in 0..PCA_D {
            let signal: f64 = (0..PCA_RANK).map(|k| z[k] * loadings[k][j]).sum();
            values.push(offset[j] + signal + 0.3 * normal(&mut r));
        }
    }
    Ok(Matrix::from_vec(n, PCA_D, values)?)
}

/// 3 classes, each a mixture of 2 Gaussian blobs (σ = 1.5) in 10 dimensions,
/// centres uniform in [−3, 3]¹⁰: overlapping, so accuracy is well below 1.
fn knn_data(n: usize, seed: u64) -> Res<Dataset> {
    let mut r = rng(seed);
    let centres: Vec<Vec<f64>> =
        (0..2 * KNN_CLASSES).map(|_| (0..KNN_D).map(|_| uniform(&mut r, -3.0, 3.0)).collect()).collect();
    let mut values = Vec::with_capacity(n * KNN_D);
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let c = r.gen_range(0..centres.len());
        values.extend(centres[c].iter().map(|m| m + 1.5 * normal(&mut r)));
        ids.push(c % KNN_CLASSES);
    }
    let names = (0..KNN_CLASSES).map(|c| c.to_string()).collect();
    Ok(Dataset::classification(Matrix::from_vec(n, KNN_D, values)?, Labels::from_ids(ids, names)?)?)
}

/// A 5-dimensional stream that cycles through 3 Gaussian regimes (σ = 1,
/// 2,500 points each, scaled with the stream length) with 1 % injected
/// anomalies after the warm-up: a regime centre plus a random direction at
/// 3.5–6 σ. Returns the points (row-major) and 0/1 anomaly flags.
fn stream_data(n: usize, warmup: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut r = rng(seed);
    let centres: Vec<Vec<f64>> = (0..3).map(|_| (0..STREAM_D).map(|_| uniform(&mut r, -5.0, 5.0)).collect()).collect();
    let regime_len = (n / 8).max(1);
    let mut values = Vec::with_capacity(n * STREAM_D);
    let mut flags = Vec::with_capacity(n);
    for t in 0..n {
        let c = &centres[(t / regime_len) % 3];
        let anomaly = t >= warmup && r.r#gen::<f64>() < 0.01;
        if anomaly {
            let dir: Vec<f64> = (0..STREAM_D).map(|_| normal(&mut r)).collect();
            let len = dir.iter().map(|d| d * d).sum::<f64>().sqrt();
            let radius = uniform(&mut r, 3.5, 6.0);
            values.extend(c.iter().zip(&dir).map(|(m, d)| m + radius * d / len));
        } else {
            values.extend(c.iter().map(|m| m + normal(&mut r)));
        }
        flags.push(f64::from(u8::from(anomaly)));
    }
    (values, flags)
}

/// Documents from LDA's generative model: 10 topics over 1,000 terms
/// (topic-word ~ Dirichlet(0.1)), topic mixtures ~ Dirichlet(0.2), 60–140
/// words per document. Returns the dense docs × terms counts and the true
/// topic-word distributions (10 × 1,000).
fn corpus_data(docs: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut r = rng(seed);
    let topics: Vec<Vec<f64>> = (0..LDA_TOPICS).map(|_| dirichlet(&mut r, 0.1, LDA_TERMS)).collect();
    let mut counts = vec![0.0; docs * LDA_TERMS];
    for d in 0..docs {
        let theta = dirichlet(&mut r, 0.2, LDA_TOPICS);
        let len = r.gen_range(60..=140);
        for _ in 0..len {
            let k = categorical(&mut r, &theta);
            let w = categorical(&mut r, &topics[k]);
            counts[d * LDA_TERMS + w] += 1.0;
        }
    }
    (counts, topics.concat())
}

// ---------------------------------------------------------------------------
// `run`: time Flywheel on the generated data.
// ---------------------------------------------------------------------------

/// Runs `f` once, and again up to [`MAX_RUNS`] times while a run takes less
/// than [`SLOW_S`]; returns the last result, the best time and the number of runs.
fn best_of<T>(mut f: impl FnMut() -> Res<T>) -> Res<(T, f64, usize)> {
    let mut best = f64::INFINITY;
    let mut runs = 0;
    loop {
        let t = Instant::now();
        let out = f()?;
        let s = t.elapsed().as_secs_f64();
        best = best.min(s);
        runs += 1;
        if runs == MAX_RUNS || s >= SLOW_S {
            return Ok((out, best, runs));
        }
    }
}

/// One row of results.
struct Row {
    task: &'static str,
    runs: usize,
    fit_s: f64,
    predict_s: Option<f64>,
    /// (value, unit) — e.g. scored points per second.
    throughput: Option<(f64, &'static str)>,
    metric: &'static str,
    value: f64,
    higher_is_better: bool,
    extra: BTreeMap<&'static str, f64>,
    settings: String,
    /// Test-set predictions written to DIR/pred/, for the cross-check.
    predictions: Option<String>,
}

impl Row {
    fn to_json(&self) -> Value {
        json!({
            "task": self.task,
            "library": "flywheel-ml",
            "runs": self.runs,
            "fit_s": self.fit_s,
            "predict_s": self.predict_s,
            "throughput": self.throughput.map(|t| t.0),
            "throughput_unit": self.throughput.map(|t| t.1),
            "metric": self.metric,
            "value": self.value,
            "higher_is_better": self.higher_is_better,
            "extra": self.extra,
            "settings": self.settings,
            "predictions": self.predictions,
        })
    }
}

fn run(dir: &Path, only: Option<&[String]>) -> Res<()> {
    let data = Loaded::open(dir)?;
    fs::create_dir_all(dir.join("pred"))?;
    if let Some(only) = only
        && let Some(bad) = only.iter().find(|t| !TASKS.contains(&t.as_str()))
    {
        return Err(format!("unknown task `{bad}`; the tasks are {}", TASKS.join(", ")).into());
    }
    let wanted = |t: &str| only.is_none_or(|o| o.iter().any(|x| x == t));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut rows = Vec::new();
    for task in TASKS.into_iter().filter(|t| wanted(t)) {
        eprintln!("flywheel-ml: {task} …");
        let t = Instant::now();
        let row = match task {
            "logreg_fraud" => logreg_fraud(&data)?,
            "gbt_fraud" => gbt_fraud(&data)?,
            "gbt_regression" => gbt_regression(&data)?,
            "linreg_regression" => linreg_regression(&data)?,
            "kmeans_blobs" => kmeans_blobs(&data)?,
            "pca_lowrank" => pca_lowrank(&data)?,
            "knn_classify" => knn_classify(&data)?,
            "rcf_stream" => rcf_stream(&data)?,
            "lda_corpus" => lda_corpus(&data)?,
            "lda_sotu" => lda_sotu(&data)?,
            _ => unreachable!("tasks are checked above"),
        };
        if let Some(file) = &row.predictions {
            eprintln!("  wrote {file}");
        }
        eprintln!(
            "  {} runs, best fit {:.3} s, {} = {:.5} ({:.1} s in all)",
            row.runs,
            row.fit_s,
            row.metric,
            row.value,
            t.elapsed().as_secs_f64()
        );
        rows.push(row);
    }
    let out = json!({
        "meta": {
            "side": "rust",
            "library": format!("flywheel-ml {}", env!("CARGO_PKG_VERSION")),
            "backends": "forust-ml 0.8 (trees), own L-BFGS (binary logistic), own Lloyd (k-means), linfa 0.8 (linear, k-d tree), linfa-linalg (PCA eigendecomposition), krcf 0.4 (RCF), own code (LDA)",
            "threads": threads,
            "threading": "rayon, all cores, where the backend parallelises (forust-ml, linfa k-means); the rest is single-threaded",
            "quick": data.meta["quick"],
        },
        "results": rows.iter().map(Row::to_json).collect::<Vec<_>>(),
    });
    fs::write(dir.join("rust.json"), serde_json::to_string_pretty(&out)?)?;
    eprintln!("wrote {}", dir.join("rust.json").display());
    Ok(())
}

fn save_pred(dir: &Path, task: &str, values: &[f64]) -> Res<String> {
    let file = format!("pred/{task}.f64");
    write_f64(&dir.join(&file), values)?;
    Ok(file)
}

fn fraud_sets(data: &Loaded) -> Res<(Dataset, Matrix, Labels)> {
    let names: Vec<String> =
        std::iter::once("Time".to_owned()).chain((1..=28).map(|j| format!("V{j}"))).chain(["Amount".into()]).collect();
    let train =
        Dataset::classification(data.matrix("fraud_x_train")?.with_columns(&names)?, data.labels("fraud_y_train", 2)?)?;
    let x_test = data.matrix("fraud_x_test")?.with_columns(&names)?;
    Ok((train, x_test, data.labels("fraud_y_test", 2)?))
}

fn binary_row(
    data: &Loaded,
    task: &'static str,
    fit: (f64, usize),
    predict_s: f64,
    scores: &Vector,
    truth: &Labels,
    settings: String,
) -> Res<Row> {
    let mut extra = BTreeMap::new();
    extra.insert("average_precision", metrics::average_precision(truth, scores)?);
    Ok(Row {
        task,
        runs: fit.1,
        fit_s: fit.0,
        predict_s: Some(predict_s),
        throughput: None,
        metric: "ROC AUC",
        value: metrics::roc_auc(truth, scores)?,
        higher_is_better: true,
        extra,
        settings,
        predictions: Some(save_pred(&data.dir, task, scores.as_slice())?),
    })
}

fn logreg_fraud(data: &Loaded) -> Res<Row> {
    let (train, x_test, y_test) = fraud_sets(data)?;
    let params = LinearLearner::classifier().l2(1.0).max_iterations(200);
    let (model, fit_s, runs) = best_of(|| Ok(params.fit(&train)?))?;
    let t = Instant::now();
    let scores = model.predict_proba(&x_test)?;
    let predict_s = t.elapsed().as_secs_f64();
    let settings =
        "L-BFGS, L2 alpha 1 (= C 1), standardised inside fit, ≤ 200 iterations, tolerance 1e-4 on the mean gradient"
            .to_owned();
    binary_row(data, "logreg_fraud", (fit_s, runs), predict_s, &scores, &y_test, settings)
}

fn gbt_params() -> GradientBoostedTreesParams {
    GradientBoostedTrees::params().iterations(100).max_depth(6).learning_rate(0.1).l2(1.0).min_child_weight(1.0)
}

const GBT_SETTINGS: &str = "100 rounds, depth 6 (depth-wise), lr 0.1, 256 bins, L2 1, min child weight 1";

fn gbt_fraud(data: &Loaded) -> Res<Row> {
    let (train, x_test, y_test) = fraud_sets(data)?;
    let params = gbt_params();
    let (model, fit_s, runs) = best_of(|| Ok(params.fit(&train)?))?;
    let t = Instant::now();
    let scores = model.predict_proba(&x_test)?;
    let predict_s = t.elapsed().as_secs_f64();
    binary_row(data, "gbt_fraud", (fit_s, runs), predict_s, &scores, &y_test, GBT_SETTINGS.into())
}

fn regression_sets(data: &Loaded) -> Res<(Dataset, Matrix, Vector)> {
    let train = Dataset::regression(data.matrix("reg_x_train")?, data.vector("reg_y_train")?)?;
    Ok((train, data.matrix("reg_x_test")?, data.vector("reg_y_test")?))
}

fn regression_row(
    data: &Loaded,
    task: &'static str,
    fit: (f64, usize),
    predict_s: f64,
    pred: &Vector,
    truth: &Vector,
    settings: String,
) -> Res<Row> {
    let mut extra = BTreeMap::new();
    extra.insert("r2", metrics::r2(truth, pred)?);
    Ok(Row {
        task,
        runs: fit.1,
        fit_s: fit.0,
        predict_s: Some(predict_s),
        throughput: None,
        metric: "RMSE",
        value: metrics::rmse(truth, pred)?,
        higher_is_better: false,
        extra,
        settings,
        predictions: Some(save_pred(&data.dir, task, pred.as_slice())?),
    })
}

fn gbt_regression(data: &Loaded) -> Res<Row> {
    let (train, x_test, y_test) = regression_sets(data)?;
    let params = gbt_params();
    let (model, fit_s, runs) = best_of(|| Ok(params.fit(&train)?))?;
    let t = Instant::now();
    let pred = model.predict_values(&x_test)?;
    let predict_s = t.elapsed().as_secs_f64();
    regression_row(data, "gbt_regression", (fit_s, runs), predict_s, &pred, &y_test, GBT_SETTINGS.into())
}

fn linreg_regression(data: &Loaded) -> Res<Row> {
    let (train, x_test, y_test) = regression_sets(data)?;
    let params = LinearLearner::regressor();
    let (model, fit_s, runs) = best_of(|| Ok(params.fit(&train)?))?;
    let t = Instant::now();
    let pred = model.predict(&x_test)?;
    let predict_s = t.elapsed().as_secs_f64();
    let settings = "ordinary least squares (standardised inside fit)".to_owned();
    regression_row(data, "linreg_regression", (fit_s, runs), predict_s, &pred, &y_test, settings)
}

/// Mean squared distance of each row to its nearest centre (inertia / n).
fn mean_sq_distance(x: &Matrix, centres: &Matrix) -> f64 {
    let c = centres.array();
    let total: f64 = x
        .array()
        .outer_iter()
        .map(|row| {
            c.outer_iter()
                .map(|m| row.iter().zip(m.iter()).map(|(a, b)| (a - b) * (a - b)).sum::<f64>())
                .fold(f64::INFINITY, f64::min)
        })
        .sum();
    total / x.nrows() as f64
}

/// Adjusted Rand index of two labellings (Hubert & Arabie 1985), as
/// scikit-learn's `adjusted_rand_score`.
fn adjusted_rand_index(a: &[usize], b: &[usize]) -> f64 {
    let (ka, kb) = (a.iter().max().map_or(0, |m| m + 1), b.iter().max().map_or(0, |m| m + 1));
    let mut table = vec![vec![0u64; kb]; ka];
    for (&i, &j) in a.iter().zip(b) {
        table[i][j] += 1;
    }
    let pairs = |n: u64| (n * n.saturating_sub(1) / 2) as f64;
    let sum_cells: f64 = table.iter().flatten().map(|&n| pairs(n)).sum();
    let sum_rows: f64 = table.iter().map(|r| pairs(r.iter().sum())).sum();
    let sum_cols: f64 = (0..kb).map(|j| pairs(table.iter().map(|r| r[j]).sum())).sum();
    let expected = sum_rows * sum_cols / pairs(a.len() as u64);
    let max = 0.5 * (sum_rows + sum_cols);
    if max == expected { 1.0 } else { (sum_cells - expected) / (max - expected) }
}

fn kmeans_blobs(data: &Loaded) -> Res<Row> {
    let train = Dataset::unsupervised(data.matrix("blobs_x_train")?);
    let x_test = data.matrix("blobs_x_test")?;
    let y_test = data.labels("blobs_y_test", BLOB_K)?;
    let params = KMeans::params(BLOB_K).runs(10).max_iterations(300).tolerance(1e-4).seed(0);
    let (model, fit_s, runs) = best_of(|| Ok(params.fit(&train)?))?;
    let t = Instant::now();
    let pred = model.predict(&x_test)?;
    let predict_s = t.elapsed().as_secs_f64();
    let mut extra = BTreeMap::new();
    extra.insert("ari", adjusted_rand_index(y_test.ids(), pred.ids()));
    extra.insert("train_inertia_per_row", model.inertia());
    let ids: Vec<f64> = pred.ids().iter().map(|&i| i as f64).collect();
    Ok(Row {
        task: "kmeans_blobs",
        runs,
        fit_s,
        predict_s: Some(predict_s),
        throughput: None,
        metric: "test inertia/row",
        value: mean_sq_distance(&x_test, &model.centroids()),
        higher_is_better: false,
        extra,
        settings: "k 8, k-means++ init, 10 runs, ≤ 300 iterations, tol 1e-4 (absolute centroid shift)".into(),
        predictions: Some(save_pred(&data.dir, "kmeans_blobs", &ids)?),
    })
}

fn pca_lowrank(data: &Loaded) -> Res<Row> {
    let train = Dataset::unsupervised(data.matrix("pca_x_train")?);
    let x_test = data.matrix("pca_x_test")?;
    let params = Pca::params(PCA_RANK);
    let (model, fit_s, runs) = best_of(|| Ok(params.fit(&train)?))?;
    let t = Instant::now();
    let back = model.inverse_transform(&model.transform(&x_test)?)?;
    let predict_s = t.elapsed().as_secs_f64();
    let sq: f64 = back.array().iter().zip(x_test.array()).map(|(a, b)| (a - b) * (a - b)).sum();
    let mut extra = BTreeMap::new();
    extra.insert("explained_variance_ratio_sum", model.explained_variance_ratio().array().sum());
    Ok(Row {
        task: "pca_lowrank",
        runs,
        fit_s,
        predict_s: Some(predict_s),
        throughput: None,
        metric: "test reconstruction RMSE",
        value: (sq / x_test.array().len() as f64).sqrt(),
        higher_is_better: false,
        extra,
        settings: "10 components; covariance eigendecomposition (exact, like a full SVD)".into(),
        predictions: None,
    })
}

fn knn_classify(data: &Loaded) -> Res<Row> {
    let train = Dataset::classification(data.matrix("knn_x_train")?, data.labels("knn_y_train", KNN_CLASSES)?)?;
    let x_test = data.matrix("knn_x_test")?;
    let y_test = data.labels("knn_y_test", KNN_CLASSES)?;
    let params = Knn::params(KNN_K);
    // k-NN's work is in predict: time fit + predict together.
    let ((pred, fit_only), total_s, runs) = best_of(|| {
        let t = Instant::now();
        let model = params.fit_classifier(&train)?;
        let fit_only = t.elapsed().as_secs_f64();
        Ok((model.predict(&x_test)?, fit_only))
    })?;
    let mut extra = BTreeMap::new();
    extra.insert("fit_only_s", fit_only);
    let ids: Vec<f64> = pred.ids().iter().map(|&i| i as f64).collect();
    Ok(Row {
        task: "knn_classify",
        runs,
        fit_s: total_s,
        predict_s: None,
        throughput: Some((x_test.nrows() as f64 / total_s, "queries/s")),
        metric: "accuracy",
        value: metrics::accuracy(&y_test, &pred)?,
        higher_is_better: true,
        extra,
        settings: "k 5, k-d tree, Euclidean, majority vote; time = fit + predict".into(),
        predictions: Some(save_pred(&data.dir, "knn_classify", &ids)?),
    })
}

fn rcf_stream(data: &Loaded) -> Res<Row> {
    let stream = data.matrix("stream_x")?;
    let flags = data.vector("stream_y")?;
    let warmup = data.meta["params"]["stream_warmup"].as_u64().ok_or("stream_warmup")? as usize;
    let n = stream.nrows();
    let warm = Dataset::unsupervised(stream.select_rows(&(0..warmup).collect::<Vec<_>>())?);
    let rest = stream.select_rows(&(warmup..n).collect::<Vec<_>>())?;
    let t = Instant::now();
    let fitted = RandomCutForest::params().trees(100).sample_size(256).fit(&warm)?;
    let warmup_s = t.elapsed().as_secs_f64();
    let (scores, s, runs) = best_of(|| {
        let mut model = fitted.clone();
        Ok(model.score_and_update(&rest)?)
    })?;
    let truth = Labels::from_ids(
        flags.as_slice()[warmup..].iter().map(|&f| f as usize).collect(),
        vec!["0".into(), "1".into()],
    )?;
    let mut extra = BTreeMap::new();
    extra.insert("warmup_fit_s", warmup_s);
    extra.insert("average_precision", metrics::average_precision(&truth, &scores)?);
    Ok(Row {
        task: "rcf_stream",
        runs,
        fit_s: s,
        predict_s: None,
        throughput: Some((rest.nrows() as f64 / s, "points/s")),
        metric: "ROC AUC",
        value: metrics::roc_auc(&truth, &scores)?,
        higher_is_better: true,
        extra,
        settings: format!(
            "100 trees × 256 samples; fit on the first {warmup} points, then score_and_update on the other {} (timed)",
            rest.nrows()
        ),
        predictions: Some(save_pred(&data.dir, "rcf_stream", scores.as_slice())?),
    })
}

/// Mean over the true topics of the best cosine similarity with a learnt topic.
fn topic_recovery(truth: &Matrix, learnt: &Matrix) -> f64 {
    let cos = |a: ndarray::ArrayView1<'_, f64>, b: ndarray::ArrayView1<'_, f64>| {
        a.dot(&b) / (a.dot(&a).sqrt() * b.dot(&b).sqrt())
    };
    let best: f64 = truth
        .array()
        .outer_iter()
        .map(|t| learnt.array().outer_iter().map(|l| cos(t, l)).fold(f64::NEG_INFINITY, f64::max))
        .sum();
    best / truth.nrows() as f64
}

fn lda_corpus(data: &Loaded) -> Res<Row> {
    let truth = data.matrix("lda_true_topics")?;
    lda_task(data, "lda_corpus", "lda", LDA_TOPICS, Some(&truth))
}

fn lda_sotu(data: &Loaded) -> Res<Row> {
    lda_task(data, "lda_sotu", "sotu", SOTU_TOPICS, None)
}

/// LDA with `k` topics on `<prefix>_x_train`, perplexity on `<prefix>_x_test`
/// averaged over [`LDA_SEEDS`]; with the true topics (a generated corpus),
/// also how well they are recovered.
fn lda_task(data: &Loaded, task: &'static str, prefix: &str, k: usize, truth: Option<&Matrix>) -> Res<Row> {
    let train = data.matrix(&format!("{prefix}_x_train"))?;
    let test = data.matrix(&format!("{prefix}_x_test"))?;
    let params = Lda::params(k).max_iterations(LDA_PASSES);
    let (model, fit_s, runs) = best_of(|| Ok(params.clone().seed(LDA_SEEDS[0]).fit(&train)?))?;
    let t = Instant::now();
    let first = model.perplexity(&test)?;
    let predict_s = t.elapsed().as_secs_f64();
    // A topic model's quality depends on its random start by several %: average over seeds (untimed).
    let recovery = |m: &LdaModel| truth.map(|t| topic_recovery(t, &m.topic_word()));
    let (mut perplexities, mut recoveries) = (vec![first], vec![recovery(&model)]);
    for &seed in &LDA_SEEDS[1..] {
        let m = params.clone().seed(seed).fit(&train)?;
        perplexities.push(m.perplexity(&test)?);
        recoveries.push(recovery(&m));
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let mut extra = BTreeMap::new();
    if let Some(r) = recoveries.into_iter().collect::<Option<Vec<f64>>>() {
        extra.insert("topic_recovery", mean(&r));
    }
    extra.insert("perplexity_min", perplexities.iter().copied().fold(f64::INFINITY, f64::min));
    extra.insert("perplexity_max", perplexities.iter().copied().fold(f64::NEG_INFINITY, f64::max));
    extra.insert("perplexity_seed0", first);
    // The seed-0 topics (λ), so the Python side can check this perplexity with scikit-learn's.
    let lambda: Vec<f64> = model.components().array().iter().copied().collect();
    Ok(Row {
        task,
        runs,
        fit_s,
        predict_s: Some(predict_s),
        throughput: None,
        metric: "test perplexity",
        value: mean(&perplexities),
        higher_is_better: false,
        extra,
        settings: format!(
            "{k} topics, batch variational Bayes, {LDA_PASSES} passes, priors 1/{k}; timed with seed 0, \
             quality = mean over seeds {LDA_SEEDS:?}"
        ),
        predictions: Some(save_pred(&data.dir, task, &lambda)?),
    })
}
