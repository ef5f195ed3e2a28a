//! `Lda`: Latent Dirichlet Allocation topic model (Blei, Ng & Jordan 2003),
//! fitted by variational Bayes as in Hoffman, Blei & Bach (2010), "Online
//! Learning for Latent Dirichlet Allocation", NIPS 23 — in its batch form,
//! the algorithm of scikit-learn's `LatentDirichletAllocation` with
//! `learning_method = "batch"` (same initialisation, updates, stopping rule
//! of the per-document loop, and perplexity bound).
//!
//! ```
//! use flywheel_ml::prelude::*;
//! use flywheel_ml::text::{Corpus, CountVectorizer};
//! let corpus = Corpus::from_strs(&["cats purr and cats meow", "dogs bark, dogs growl", "cats and dogs"]);
//! let counts = CountVectorizer::params().fit(&corpus).unwrap().transform(&corpus).unwrap();
//! let lda = Lda::params(2).max_iterations(20).seed(7).fit(&counts).unwrap();
//! let doc_topics = lda.transform(&counts).unwrap(); // 3 × 2, rows sum to 1
//! println!("{:?}", lda.top_words(0, 3));
//! ```

use std::fmt;

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256Plus;
use serde::{Deserialize, Serialize};

use crate::Matrix;
use crate::display::{emit, html_table, number};
use crate::error::{MlError, Result};

/// Most updates of one document's topic weights per E-step (scikit-learn's `max_doc_update_iter`).
const MAX_DOC_UPDATES: usize = 100;
/// A document's loop stops when its topic weights change by less than this on
/// average (scikit-learn's `mean_change_tol`).
const MEAN_CHANGE_TOLERANCE: f64 = 1e-3;
/// Shape of the Gamma(100, 1/100) initialisation of the variational parameters.
const INIT_SHAPE: f64 = 100.0;
/// Guards the division by the normaliser of the word-topic responsibilities.
const EPS: f64 = f64::EPSILON;
/// Words per topic shown by the rich display.
const DISPLAY_WORDS: usize = 10;

/// Entry point: `Lda::params(n_topics)`.
pub struct Lda;

impl Lda {
    /// `n_topics` topics; priors `1 / n_topics`, 10 passes, seed 42 (as
    /// scikit-learn's defaults, whose seed is unset).
    pub fn params(n_topics: usize) -> LdaParams {
        let prior = 1.0 / n_topics.max(1) as f64;
        LdaParams { n_topics, doc_topic_prior: prior, topic_word_prior: prior, max_iterations: 10, seed: 42 }
    }
}

/// Hyper-parameters of [`LdaModel`].
#[derive(Debug, Clone, PartialEq)]
pub struct LdaParams {
    n_topics: usize,
    doc_topic_prior: f64,
    topic_word_prior: f64,
    max_iterations: usize,
    seed: u64,
}

impl LdaParams {
    /// α, the Dirichlet prior of each document's topic mixture (default
    /// `1 / n_topics`; smaller means fewer topics per document).
    pub fn doc_topic_prior(mut self, alpha: f64) -> Self {
        self.doc_topic_prior = alpha;
        self
    }

    /// η, the Dirichlet prior of each topic's word distribution (default
    /// `1 / n_topics`; smaller means fewer words per topic).
    pub fn topic_word_prior(mut self, eta: f64) -> Self {
        self.topic_word_prior = eta;
        self
    }

    /// Passes over the whole corpus (EM iterations; default 10). Each pass
    /// is one E-step over every document and one M-step.
    pub fn max_iterations(mut self, n: usize) -> Self {
        self.max_iterations = n;
        self
    }

    /// Random seed of the initialisation (results are reproducible for a given seed).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Learns the topics of a document-term **count** matrix (n_docs ×
    /// n_terms, e.g. from [`crate::text::CountVectorizerModel::transform`];
    /// its column names become the topics' words).
    ///
    /// Batch variational Bayes (Hoffman, Blei & Bach 2010, batch form of
    /// Algorithm 2): λ (topics × terms) starts Gamma(100, 1/100)-distributed;
    /// each pass fits every document's topic weights γ with λ fixed (up to
    /// 100 updates, until they change by less than 0.001 on average), then
    /// sets λ = η + the expected word-topic counts. Cost per pass: about
    /// n_topics × (non-zero counts) × (updates per document): seconds for
    /// 5,000 documents × 2,000 terms × 10 topics × 10 passes in release.
    ///
    /// The result is a local optimum that depends on the seed: two topics may
    /// merge while another splits. Fit a few seeds and keep the model with
    /// the lowest [`LdaModel::perplexity`] (or best [`topic_coherence`]).
    ///
    /// # Errors
    /// [`MlError::InvalidParams`] for 0 topics, 0 iterations, or priors that
    /// are not positive and finite; [`MlError::Empty`] for no documents or no
    /// terms; [`MlError::NonFinite`] for NaN/inf; [`MlError::InvalidData`] for
    /// a negative count, or when every count is 0.
    pub fn fit(&self, counts: &Matrix) -> Result<LdaModel> {
        if self.n_topics == 0 {
            return Err(MlError::InvalidParams("n_topics must be at least 1".into()));
        }
        if self.max_iterations == 0 {
            return Err(MlError::InvalidParams("max_iterations must be at least 1".into()));
        }
        for (name, prior) in [("doc_topic_prior", self.doc_topic_prior), ("topic_word_prior", self.topic_word_prior)] {
            if !(prior.is_finite() && prior > 0.0) {
                return Err(MlError::InvalidParams(format!("{name} must be positive and finite, got {prior}")));
            }
        }
        if counts.nrows() == 0 {
            return Err(MlError::Empty("the count matrix has no documents (rows)".into()));
        }
        if counts.ncols() == 0 {
            return Err(MlError::Empty("the count matrix has no terms (columns)".into()));
        }
        let x = SparseCounts::new(counts)?;
        if x.total() <= 0.0 {
            return Err(MlError::InvalidData("every count is 0: the documents have no words".into()));
        }

        let (k, v) = (self.n_topics, counts.ncols());
        let mut rng = Xoshiro256Plus::seed_from_u64(self.seed);
        // λ, stored by word (v × k) so that a document's words are contiguous.
        let mut lambda: Vec<f64> = (0..v * k).map(|_| sample_gamma(&mut rng, INIT_SHAPE) / INIT_SHAPE).collect();
        let mut exp_elog_beta = exp_dirichlet_expectation_by_word(&lambda, k);
        let mut sstats = vec![0.0; v * k];
        for _ in 0..self.max_iterations {
            sstats.fill(0.0);
            e_step(&x, &exp_elog_beta, k, self.doc_topic_prior, Some(&mut rng), Some(&mut sstats));
            for ((l, s), e) in lambda.iter_mut().zip(&sstats).zip(&exp_elog_beta) {
                *l = self.topic_word_prior + s * e;
            }
            exp_elog_beta = exp_dirichlet_expectation_by_word(&lambda, k);
        }

        let components = Array2::from_shape_fn((k, v), |(t, w)| lambda[w * k + t]);
        Ok(LdaModel {
            components,
            terms: counts.columns().to_vec(),
            doc_topic_prior: self.doc_topic_prior,
            topic_word_prior: self.topic_word_prior,
            n_iterations: self.max_iterations,
        })
    }
}

/// A fitted topic model: the variational parameters λ of the topics' word
/// distributions, with the priors and the terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LdaModel {
    /// λ, n_topics × n_terms (scikit-learn's `components_`).
    components: Array2<f64>,
    terms: Vec<String>,
    doc_topic_prior: f64,
    topic_word_prior: f64,
    n_iterations: usize,
}

impl LdaModel {
    /// Number of topics.
    pub fn n_topics(&self) -> usize {
        self.components.nrows()
    }

    /// Number of terms (columns of the count matrix).
    pub fn n_terms(&self) -> usize {
        self.components.ncols()
    }

    /// The terms: the count matrix's column names.
    pub fn terms(&self) -> &[String] {
        &self.terms
    }

    /// α, the document-topic prior used.
    pub fn doc_topic_prior(&self) -> f64 {
        self.doc_topic_prior
    }

    /// η, the topic-word prior used.
    pub fn topic_word_prior(&self) -> f64 {
        self.topic_word_prior
    }

    /// Passes made over the corpus.
    pub fn n_iterations(&self) -> usize {
        self.n_iterations
    }

    /// λ, the unnormalised topic-word parameters (n_topics × n_terms, columns
    /// named by the terms): pseudo-counts of each word in each topic,
    /// scikit-learn's `components_`.
    pub fn components(&self) -> Matrix {
        self.by_term(self.components.clone())
    }

    /// Each topic's word distribution: n_topics × n_terms, rows summing to 1,
    /// columns named by the terms (λ with each row divided by its sum).
    pub fn topic_word(&self) -> Matrix {
        let mut p = self.components.clone();
        for mut row in p.outer_iter_mut() {
            let s = row.sum();
            row /= s;
        }
        self.by_term(p)
    }

    /// The `n` most probable words of `topic` with their probabilities,
    /// most probable first (all words when `n` exceeds their number; empty
    /// when `topic` is not below [`Self::n_topics`]).
    pub fn top_words(&self, topic: usize, n: usize) -> Vec<(String, f64)> {
        if topic >= self.n_topics() {
            return Vec::new();
        }
        let row = self.components.row(topic).to_vec();
        let total: f64 = row.iter().sum();
        top_indices(&row, n).into_iter().map(|w| (self.terms[w].clone(), row[w] / total)).collect()
    }

    /// The topic mixture of each document: n_docs × n_topics, rows summing
    /// to 1, columns `topic0`, `topic1`, …. Each document's weights are fitted
    /// with the topics fixed (the E-step, started from equal weights, as
    /// scikit-learn's `transform`). A document with no known word gets equal weights.
    ///
    /// # Errors
    /// [`MlError::Shape`] when `counts` has other columns than the training
    /// matrix (number or names: use the same vectorizer); [`MlError::NonFinite`]
    /// for NaN/inf; [`MlError::InvalidData`] for a negative count.
    pub fn transform(&self, counts: &Matrix) -> Result<Matrix> {
        let x = self.check_counts(counts)?;
        let mut gamma = self.e_step(&x);
        for mut row in gamma.outer_iter_mut() {
            let s = row.sum();
            row /= s;
        }
        let names: Vec<String> = (0..self.n_topics()).map(|t| format!("topic{t}")).collect();
        Matrix::from_array(gamma).with_columns(&names)
    }

    /// Approximate perplexity of `counts` under the model:
    /// `exp(−bound / total words)`, where `bound` is the variational lower
    /// bound on the log-likelihood (Hoffman et al. 2010, eq. 4 — with the
    /// documents' weights from [`Self::transform`], as scikit-learn's
    /// `perplexity`). Lower is better; compare only on the same documents.
    ///
    /// # Errors
    /// As [`Self::transform`], and [`MlError::InvalidData`] when `counts`
    /// holds no words at all.
    pub fn perplexity(&self, counts: &Matrix) -> Result<f64> {
        let x = self.check_counts(counts)?;
        let total = x.total();
        if total <= 0.0 {
            return Err(MlError::InvalidData("every count is 0: no words to compute a perplexity on".into()));
        }
        let gamma = self.e_step(&x);
        Ok((-self.approx_bound(&x, &gamma) / total).exp())
    }

    /// The top 10 words of each topic as an HTML table.
    pub fn to_html(&self) -> String {
        let shown = DISPLAY_WORDS.min(self.n_terms());
        let mut header = vec!["topic".to_owned()];
        header.extend((1..=shown).map(|r| r.to_string()));
        let rows: Vec<Vec<String>> = (0..self.n_topics())
            .map(|t| {
                let mut row = vec![format!("topic{t}")];
                row.extend(self.top_words(t, shown).into_iter().map(|(w, p)| format!("{w} ({})", number(p))));
                row
            })
            .collect();
        let caption =
            format!("LDA: {} topics over {} terms — top {shown} words (probability)", self.n_topics(), self.n_terms());
        html_table(&caption, &header, &rows)
    }

    /// Shows the top 10 words of each topic as an HTML table in a notebook.
    pub fn evcxr_display(&self) {
        emit("text/html", &self.to_html());
    }

    /// A topics × terms matrix with the terms as column names.
    fn by_term(&self, a: Array2<f64>) -> Matrix {
        let m = Matrix::from_array(a);
        if m.ncols() != self.terms.len() {
            return m; // only for a hand-edited serialised model
        }
        m.with_columns(&self.terms).unwrap_or_else(|_| unreachable!("one name per column"))
    }

    fn check_counts(&self, counts: &Matrix) -> Result<SparseCounts> {
        if counts.ncols() != self.n_terms() {
            return Err(MlError::Shape(format!(
                "the model was trained on {} terms, this count matrix has {} columns",
                self.n_terms(),
                counts.ncols()
            )));
        }
        if let Some(j) = (0..self.n_terms()).find(|&j| counts.columns()[j] != self.terms[j]) {
            return Err(MlError::Shape(format!(
                "column {j} is `{}` but the model's term {j} is `{}`: build the counts with the training vectorizer",
                counts.columns()[j],
                self.terms[j]
            )));
        }
        SparseCounts::new(counts)
    }

    /// exp(E[log β]) by word (n_terms × n_topics, row-major).
    fn exp_elog_beta(&self) -> Vec<f64> {
        let k = self.n_topics();
        let by_word: Vec<f64> = self.components.t().iter().copied().collect();
        exp_dirichlet_expectation_by_word(&by_word, k)
    }

    /// Unnormalised topic weights γ of each document (n_docs × n_topics).
    fn e_step(&self, x: &SparseCounts) -> Array2<f64> {
        e_step(x, &self.exp_elog_beta(), self.n_topics(), self.doc_topic_prior, None, None)
    }

    /// The variational lower bound on the log-likelihood of the documents
    /// given their weights `gamma` (scikit-learn's `_approx_bound`).
    fn approx_bound(&self, x: &SparseCounts, gamma: &Array2<f64>) -> f64 {
        let (k, v) = (self.n_topics(), self.n_terms());
        let (alpha, eta) = (self.doc_topic_prior, self.topic_word_prior);
        // E[log β] by word (v × k) and E[log θ] by document (n × k).
        let elog_beta: Vec<f64> = {
            let by_word: Vec<f64> = self.components.t().iter().copied().collect();
            dirichlet_expectation_by_word(&by_word, k)
        };
        let mut elog_theta = gamma.clone();
        for mut row in elog_theta.outer_iter_mut() {
            let psi_total = digamma(row.sum());
            row.mapv_inplace(|g| digamma(g) - psi_total);
        }

        // E[log p(words | θ, β)]: Σ_d Σ_w n_dw log Σ_k exp(E[log θ_dk] + E[log β_kw]).
        let mut score = 0.0;
        let mut temp = vec![0.0; k];
        for d in 0..x.n_docs() {
            let (ids, cnts) = x.doc(d);
            let et = elog_theta.row(d);
            for (&w, &c) in ids.iter().zip(cnts) {
                for ((t, &a), &b) in temp.iter_mut().zip(et.iter()).zip(&elog_beta[w * k..(w + 1) * k]) {
                    *t = a + b;
                }
                score += c * log_sum_exp(&temp);
            }
        }
        // E[log p(θ | α) − log q(θ | γ)] + E[log p(β | η) − log q(β | λ)].
        score += dirichlet_kl_terms(alpha, gamma.outer_iter().map(|r| r.to_vec()), &elog_theta, k);
        let elog_beta_by_topic = Array2::from_shape_fn((k, v), |(t, w)| elog_beta[w * k + t]);
        score += dirichlet_kl_terms(eta, self.components.outer_iter().map(|r| r.to_vec()), &elog_beta_by_topic, v);
        score
    }
}

/// `Σ (prior − q) E[log x] + Σ (lnΓ(q) − lnΓ(prior)) + Σ_rows (lnΓ(prior · size) − lnΓ(Σ q))`
/// over the rows of a variational Dirichlet parameter `q` (scikit-learn's `_loglikelihood`).
fn dirichlet_kl_terms(prior: f64, rows: impl Iterator<Item = Vec<f64>>, elog: &Array2<f64>, size: usize) -> f64 {
    let ln_gamma_prior = ln_gamma(prior);
    let ln_gamma_prior_sum = ln_gamma(prior * size as f64);
    rows.zip(elog.outer_iter())
        .map(|(q, e)| {
            let mut s = ln_gamma_prior_sum - ln_gamma(q.iter().sum());
            for (&qi, &ei) in q.iter().zip(e.iter()) {
                s += (prior - qi) * ei + ln_gamma(qi) - ln_gamma_prior;
            }
            s
        })
        .sum()
}

impl fmt::Display for LdaModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "LDA: {} topics over {} terms", self.n_topics(), self.n_terms())?;
        for t in 0..self.n_topics() {
            let words: Vec<String> = self.top_words(t, DISPLAY_WORDS).into_iter().map(|(w, _)| w).collect();
            writeln!(f, "  topic{t}: {}", words.join(" "))?;
        }
        Ok(())
    }
}

/// UMass coherence of each topic (Mimno, Wallach, Talley, Leenders &
/// McCallum 2011, "Optimizing Semantic Coherence in Topic Models", EMNLP):
/// for the topic's `top_n` most probable words v₁ … v_M (M = `top_n`),
/// `Σ_{m=2..M} Σ_{l<m} ln((D(v_m, v_l) + 1) / D(v_l))`, where D(v) counts
/// the documents of `counts` containing v and D(v, v') those containing both.
///
/// One value per topic, ≤ 0 in practice; closer to 0 is more coherent. This is
/// the paper's sum over the M(M−1)/2 word pairs; divide by that number for the
/// per-pair mean that gensim's `CoherenceModel(coherence="u_mass")` reports.
/// Use the training counts (the measure needs no held-out data).
///
/// # Errors
/// [`MlError::InvalidParams`] unless 2 ≤ `top_n` ≤ the number of terms;
/// [`MlError::Shape`], [`MlError::NonFinite`], [`MlError::InvalidData`] for
/// counts unlike the training ones (as [`LdaModel::transform`]);
/// [`MlError::InvalidData`] when a top word occurs in no document of `counts`.
pub fn topic_coherence(model: &LdaModel, counts: &Matrix, top_n: usize) -> Result<Vec<f64>> {
    if top_n < 2 || top_n > model.n_terms() {
        return Err(MlError::InvalidParams(format!(
            "top_n must be between 2 and the {} terms, got {top_n}",
            model.n_terms()
        )));
    }
    let x = model.check_counts(counts)?;
    let mut coherence = Vec::with_capacity(model.n_topics());
    for topic in 0..model.n_topics() {
        let row = model.components.row(topic).to_vec();
        let top = top_indices(&row, top_n);
        // df[m] = D(v_m); co[m][l] = D(v_m, v_l).
        let mut df = vec![0.0_f64; top_n];
        let mut co = vec![vec![0.0_f64; top_n]; top_n];
        let mut present = vec![false; top_n];
        for d in 0..x.n_docs() {
            let (ids, _) = x.doc(d);
            for (p, w) in present.iter_mut().zip(&top) {
                *p = ids.binary_search(w).is_ok();
            }
            for m in (0..top_n).filter(|&m| present[m]) {
                df[m] += 1.0;
                for l in (0..m).filter(|&l| present[l]) {
                    co[m][l] += 1.0;
                }
            }
        }
        if let Some(m) = (0..top_n).find(|&m| df[m] == 0.0) {
            return Err(MlError::InvalidData(format!(
                "top word `{}` of topic{topic} occurs in no document of these counts; use the training counts",
                model.terms[top[m]]
            )));
        }
        let c = (1..top_n).flat_map(|m| (0..m).map(move |l| (m, l))).map(|(m, l)| ((co[m][l] + 1.0) / df[l]).ln());
        coherence.push(c.sum());
    }
    Ok(coherence)
}

/// Indices of the `n` largest values, largest first (ties by index).
fn top_indices(values: &[f64], n: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
    idx.truncate(n);
    idx
}

/// A count matrix in compressed sparse rows: for each document, the columns
/// of its non-zero counts (ascending) and the counts.
struct SparseCounts {
    starts: Vec<usize>,
    words: Vec<usize>,
    counts: Vec<f64>,
}

impl SparseCounts {
    /// Checks every value is finite and non-negative, and keeps the non-zero ones.
    fn new(m: &Matrix) -> Result<Self> {
        let mut s = SparseCounts { starts: vec![0], words: Vec::new(), counts: Vec::new() };
        for (i, row) in m.array().outer_iter().enumerate() {
            for (j, &c) in row.iter().enumerate() {
                if !c.is_finite() {
                    return Err(MlError::NonFinite { row: i, column: format!("`{}`", m.columns()[j]) });
                }
                if c < 0.0 {
                    return Err(MlError::InvalidData(format!(
                        "row {i}, column `{}` is {c}: word counts cannot be negative",
                        m.columns()[j]
                    )));
                }
                if c > 0.0 {
                    s.words.push(j);
                    s.counts.push(c);
                }
            }
            s.starts.push(s.words.len());
        }
        Ok(s)
    }

    fn n_docs(&self) -> usize {
        self.starts.len() - 1
    }

    /// Words and counts of document `d`.
    fn doc(&self, d: usize) -> (&[usize], &[f64]) {
        let r = self.starts[d]..self.starts[d + 1];
        (&self.words[r.clone()], &self.counts[r])
    }

    fn total(&self) -> f64 {
        self.counts.iter().sum()
    }
}

/// The variational E-step over every document (Hoffman et al. 2010,
/// Algorithm 2's inner loop; scikit-learn's `_update_doc_distribution`).
///
/// `exp_elog_beta` is exp(E[log β]) by word (n_terms × k, row-major). Each
/// document's γ starts at Gamma(100, 1/100) draws from `rng`, or at 1 without
/// one, and alternates φ_dw ∝ exp(E[log θ_d]) ∘ exp(E[log β_w]) with
/// γ_d = α + Σ_w n_dw φ_dw, over the document's non-zero words only. With
/// `sstats` (n_terms × k), adds Σ_d n_dw φ_dwk / exp(E[log β_kw]) to it: the
/// M-step's expected counts, before the product with `exp_elog_beta`.
/// Returns γ (n_docs × k).
fn e_step(
    x: &SparseCounts,
    exp_elog_beta: &[f64],
    k: usize,
    alpha: f64,
    mut rng: Option<&mut Xoshiro256Plus>,
    mut sstats: Option<&mut Vec<f64>>,
) -> Array2<f64> {
    let mut gammas = Array2::zeros((x.n_docs(), k));
    let mut gamma = vec![0.0; k];
    let mut next = vec![0.0; k];
    let mut exp_theta = vec![0.0; k];
    // exp(E[log β]) of the document's words (nnz × k) and n_dw / Σ_k(…) per word.
    let mut beta_d: Vec<f64> = Vec::new();
    let mut ratio: Vec<f64> = Vec::new();
    for d in 0..x.n_docs() {
        let (ids, cnts) = x.doc(d);
        match rng.as_deref_mut() {
            Some(r) => gamma.iter_mut().for_each(|g| *g = sample_gamma(r, INIT_SHAPE) / INIT_SHAPE),
            None => gamma.fill(1.0),
        }
        exp_dirichlet_expectation(&gamma, &mut exp_theta);
        beta_d.clear();
        for &w in ids {
            beta_d.extend_from_slice(&exp_elog_beta[w * k..(w + 1) * k]);
        }
        ratio.resize(ids.len(), 0.0);

        for _ in 0..MAX_DOC_UPDATES {
            normalised_counts(&exp_theta, &beta_d, cnts, &mut ratio);
            next.fill(0.0);
            for (&r, b) in ratio.iter().zip(beta_d.chunks_exact(k)) {
                for (n, &bk) in next.iter_mut().zip(b) {
                    *n += r * bk;
                }
            }
            let mut change = 0.0;
            for ((g, &n), &e) in gamma.iter_mut().zip(&next).zip(&exp_theta) {
                let updated = alpha + e * n;
                change += (updated - *g).abs();
                *g = updated;
            }
            exp_dirichlet_expectation(&gamma, &mut exp_theta);
            if change / (k as f64) < MEAN_CHANGE_TOLERANCE {
                break;
            }
        }
        gammas.row_mut(d).iter_mut().zip(&gamma).for_each(|(o, &g)| *o = g);

        if let Some(s) = sstats.as_deref_mut() {
            normalised_counts(&exp_theta, &beta_d, cnts, &mut ratio);
            for (&w, &r) in ids.iter().zip(&ratio) {
                for (sk, &e) in s[w * k..(w + 1) * k].iter_mut().zip(&exp_theta) {
                    *sk += e * r;
                }
            }
        }
    }
    gammas
}

/// `ratio_w = n_dw / (Σ_k exp_theta_k · beta_d[w, k] + ε)` for each word of a document.
fn normalised_counts(exp_theta: &[f64], beta_d: &[f64], cnts: &[f64], ratio: &mut [f64]) {
    let k = exp_theta.len();
    for ((r, b), &c) in ratio.iter_mut().zip(beta_d.chunks_exact(k)).zip(cnts) {
        let norm: f64 = exp_theta.iter().zip(b).map(|(e, bk)| e * bk).sum();
        *r = c / (norm + EPS);
    }
}

/// `out = exp(ψ(γ) − ψ(Σ γ))`: exp(E[log θ]) for θ ~ Dirichlet(γ).
fn exp_dirichlet_expectation(gamma: &[f64], out: &mut [f64]) {
    let psi_total = digamma(gamma.iter().sum());
    for (o, &g) in out.iter_mut().zip(gamma) {
        *o = (digamma(g) - psi_total).exp();
    }
}

/// E[log β_kw] = ψ(λ_kw) − ψ(Σ_w λ_kw), for λ stored by word (n_terms × k).
fn dirichlet_expectation_by_word(lambda: &[f64], k: usize) -> Vec<f64> {
    let mut totals = vec![0.0; k];
    for row in lambda.chunks_exact(k) {
        totals.iter_mut().zip(row).for_each(|(t, &l)| *t += l);
    }
    let psi_totals: Vec<f64> = totals.into_iter().map(digamma).collect();
    lambda.chunks_exact(k).flat_map(|row| row.iter().zip(&psi_totals).map(|(&l, &p)| digamma(l) - p)).collect()
}

/// exp(E[log β]) by word.
fn exp_dirichlet_expectation_by_word(lambda: &[f64], k: usize) -> Vec<f64> {
    let mut e = dirichlet_expectation_by_word(lambda, k);
    e.iter_mut().for_each(|x| *x = x.exp());
    e
}

/// ln Σ exp(x), stably.
fn log_sum_exp(x: &[f64]) -> f64 {
    let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return max;
    }
    max + x.iter().map(|&v| (v - max).exp()).sum::<f64>().ln()
}

/// The digamma function ψ(x) = d/dx ln Γ(x), for x > 0: the recurrence
/// ψ(x) = ψ(x + 1) − 1/x up to x ≥ 10, then the asymptotic series
/// ψ(x) ≈ ln x − 1/(2x) − Σ B₂ₙ / (2n x²ⁿ) to the x⁻¹⁰ term (error below 1e-14).
fn digamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    let series = f * (1.0 / 12.0 - f * (1.0 / 120.0 - f * (1.0 / 252.0 - f * (1.0 / 240.0 - f * (1.0 / 132.0)))));
    acc + x.ln() - 0.5 / x - series
}

/// ln Γ(x) for x > 0, by the Lanczos approximation (g = 7, 9 terms; relative
/// error about 1e-15), with the reflection formula below 0.5.
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + G + 0.5;
    let a = C[1..].iter().enumerate().fold(C[0], |a, (i, &c)| a + c / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// A Gamma(shape, 1) draw for shape ≥ 1 (Marsaglia & Tsang 2000, "A Simple
/// Method for Generating Gamma Variables").
fn sample_gamma(rng: &mut Xoshiro256Plus, shape: f64) -> f64 {
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let z = standard_normal(rng);
        let v = 1.0 + c * z;
        if v <= 0.0 {
            continue;
        }
        let v = v * v * v;
        let u: f64 = rng.r#gen();
        if u < 1.0 - 0.0331 * z.powi(4) || (u > 0.0 && u.ln() < 0.5 * z * z + d * (1.0 - v + v.ln())) {
            return d * v;
        }
    }
}

/// A standard normal draw (Box–Muller).
fn standard_normal(rng: &mut Xoshiro256Plus) -> f64 {
    let u1 = 1.0 - rng.r#gen::<f64>(); // in (0, 1]
    let u2: f64 = rng.r#gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use approx::assert_abs_diff_eq;

    use super::*;

    /// A corpus from `n_topics` topics with disjoint vocabularies of
    /// `words_per_topic` words (`t{topic}w{j}`, Zipf-like weights): document d
    /// is mostly about topic `d % n_topics` (each token from it with
    /// probability 0.85, else from a random topic). Returns the counts and the
    /// dominant topic of each document.
    fn synthetic(
        n_docs: usize,
        n_topics: usize,
        words_per_topic: usize,
        doc_len: usize,
        seed: u64,
    ) -> (Matrix, Vec<usize>) {
        let mut rng = Xoshiro256Plus::seed_from_u64(seed);
        let v = n_topics * words_per_topic;
        let weights: Vec<f64> = (0..words_per_topic).map(|j| 1.0 / (j as f64 + 1.0)).collect();
        let total: f64 = weights.iter().sum();
        let mut counts = vec![0.0; n_docs * v];
        let mut truth = Vec::with_capacity(n_docs);
        for d in 0..n_docs {
            let main = d % n_topics;
            truth.push(main);
            for _ in 0..doc_len {
                let topic = if rng.r#gen::<f64>() < 0.85 { main } else { rng.gen_range(0..n_topics) };
                let mut u = rng.r#gen::<f64>() * total;
                let j = weights.iter().position(|&w| {
                    u -= w;
                    u < 0.0
                });
                counts[d * v + topic * words_per_topic + j.unwrap_or(words_per_topic - 1)] += 1.0;
            }
        }
        let names: Vec<String> = (0..v).map(|w| format!("t{}w{}", w / words_per_topic, w % words_per_topic)).collect();
        (Matrix::from_vec(n_docs, v, counts).unwrap().with_columns(&names).unwrap(), truth)
    }

    /// The true topic of each learned topic, from its top 5 words (all of
    /// which must come from that true topic).
    fn match_topics(model: &LdaModel) -> Vec<usize> {
        (0..model.n_topics())
            .map(|t| {
                let sources: Vec<String> =
                    model.top_words(t, 5).into_iter().map(|(w, _)| w.split('w').next().unwrap().to_owned()).collect();
                assert!(sources.iter().all(|s| *s == sources[0]), "topic{t} mixes true topics: {sources:?}\n{model}");
                sources[0][1..].parse().unwrap()
            })
            .collect()
    }

    #[test]
    fn digamma_and_ln_gamma_match_known_values() {
        // Values from scipy.special.digamma / gammaln.
        for (x, psi) in [
            (1.0, -0.577_215_664_901_532_9_f64),
            (0.5, -1.9635100260214235),
            (1e-3, -1000.5755719318103),
            (3.7, 1.1671535393615113),
            (10.0, 2.251752589066721),
            (123.456, 4.811829323828985),
        ] {
            assert_abs_diff_eq!(digamma(x), psi, epsilon = 1e-13 * psi.abs().max(1.0));
        }
        for (x, lg) in [
            (0.1, 2.252712651734206_f64),
            (0.5, 0.5723649429247),
            (1.0, 0.0),
            (3.7, 1.428072326665388),
            (10.0, 12.801827480081469),
            (1000.0, 5905.220423209181),
            (123456.7, 1323900.975390918),
        ] {
            assert_abs_diff_eq!(ln_gamma(x), lg, epsilon = 1e-13 * lg.abs().max(1.0));
        }
    }

    #[test]
    fn gamma_draws_have_the_right_mean_and_variance() {
        let mut rng = Xoshiro256Plus::seed_from_u64(1);
        let n = 20_000;
        let draws: Vec<f64> = (0..n).map(|_| sample_gamma(&mut rng, INIT_SHAPE) / INIT_SHAPE).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert_abs_diff_eq!(mean, 1.0, epsilon = 0.003);
        assert_abs_diff_eq!(var, 0.01, epsilon = 0.0005);
        let small: f64 = (0..n).map(|_| sample_gamma(&mut rng, 1.0)).sum::<f64>() / n as f64;
        assert_abs_diff_eq!(small, 1.0, epsilon = 0.03);
    }

    #[test]
    fn transform_and_perplexity_match_scikit_learn_for_given_topics() {
        // scikit-learn 1.9.1: LatentDirichletAllocation(n_components=3, doc_topic_prior=0.3,
        // topic_word_prior=0.2) with `components_` set to `c`, then transform(x) and perplexity(x).
        // scikit-learn's own digamma (series to x⁻⁶ from x ≥ 6) is accurate to about 1e-9, ours
        // (and scipy's) to 1e-14, hence the tolerance: the same algorithm in numpy with
        // scipy.special.psi gives 0.7478068221471917 for row 1, column 0, ours to 1e-15.
        let x = [
            [3.0, 2.0, 4.0, 2.0, 0.0, 0.0, 5.0, 1.0],
            [1.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0, 2.0],
            [0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0, 2.0, 1.0, 4.0, 0.0, 1.0],
            [1.0, 1.0, 0.0, 2.0, 1.0, 2.0, 1.0, 1.0],
            [0.0, 1.0, 1.0, 1.0, 2.0, 2.0, 0.0, 4.0],
        ];
        let c = [
            [1.198, 3.795, 2.17, 2.755, 1.836, 2.241, 0.506, 3.258],
            [1.188, 0.876, 5.427, 3.131, 1.344, 2.932, 2.592, 3.163],
            [2.201, 0.612, 2.082, 4.032, 1.166, 5.375, 0.857, 2.464],
        ];
        let expected = [
            [0.12725648574969511, 0.8536413063587218, 0.019102207891582908],
            [0.7478068235684633, 0.22784782360188582, 0.024345352829650953],
            [0.06742923724719946, 0.06740157630262389, 0.8651691864501766],
            [0.29373704548633484, 0.03323683859145864, 0.6730261159222066],
            [0.3019537323675049, 0.03902811633450379, 0.6590181512979915],
            [0.9405587670522573, 0.029300143108094326, 0.030141089839648482],
        ];
        let counts = Matrix::from_rows(&x.map(|r| r.to_vec())).unwrap();
        let model = LdaModel {
            components: Array2::from_shape_fn((3, 8), |(i, j)| c[i][j]),
            terms: counts.columns().to_vec(),
            doc_topic_prior: 0.3,
            topic_word_prior: 0.2,
            n_iterations: 0,
        };
        let t = model.transform(&counts).unwrap();
        assert_eq!(t.columns(), ["topic0", "topic1", "topic2"]);
        for (i, row) in expected.iter().enumerate() {
            for (j, &e) in row.iter().enumerate() {
                assert_abs_diff_eq!(t.get(i, j).unwrap(), e, epsilon = 1e-8);
            }
        }
        assert_abs_diff_eq!(t.get(1, 0).unwrap(), 0.7478068221471917, epsilon = 1e-13);
        assert_abs_diff_eq!(model.perplexity(&counts).unwrap(), 15.85204472580209, epsilon = 1e-7);
    }

    #[test]
    fn recovers_three_disjoint_topics() {
        let (counts, truth) = synthetic(300, 3, 10, 60, 11);
        let model = Lda::params(3).max_iterations(30).seed(5).fit(&counts).unwrap();
        let mapping = match_topics(&model);
        let mut sorted = mapping.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 1, 2], "two learned topics are the same true topic:\n{model}");

        let theta = model.transform(&counts).unwrap();
        let mut agree = 0;
        for (d, &t) in truth.iter().enumerate() {
            let row = theta.row(d).unwrap();
            assert_abs_diff_eq!(row.iter().sum::<f64>(), 1.0, epsilon = 1e-12);
            agree += usize::from(mapping[top_indices(&row, 1)[0]] == t);
        }
        assert!(agree * 10 >= truth.len() * 9, "only {agree} of {} documents on their topic", truth.len());

        let beta = model.topic_word();
        assert_eq!((beta.shape(), &beta.columns()[..2]), ((3, 30), &["t0w0".to_owned(), "t0w1".to_owned()][..]));
        for t in 0..3 {
            assert_abs_diff_eq!(beta.row(t).unwrap().iter().sum::<f64>(), 1.0, epsilon = 1e-12);
            let top = model.top_words(t, 40);
            assert_eq!(top.len(), 30);
            assert!(top.windows(2).all(|p| p[0].1 >= p[1].1));
            assert_abs_diff_eq!(
                top[0].1,
                beta.get(t, counts.column_index(&top[0].0).unwrap()).unwrap(),
                epsilon = 1e-15
            );
        }
        assert!(model.top_words(3, 5).is_empty());

        // The learned topics are more coherent than topics mixing the true ones.
        let coherence = topic_coherence(&model, &counts, 5).unwrap();
        // Mixed topic t: words of the same ranks, t{(t + r) % 3}w{r} for r = 0..5, from alternating true topics.
        let mut mixed = model.clone();
        mixed.components.fill(1.0);
        for t in 0..3 {
            for r in 0..5 {
                mixed.components[[t, ((t + r) % 3) * 10 + r]] = 10.0 - r as f64;
            }
        }
        let mixed_coherence = topic_coherence(&mixed, &counts, 5).unwrap();
        let worst_mixed = mixed_coherence.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert!(coherence.iter().all(|&c| c > worst_mixed), "{coherence:?} vs {mixed_coherence:?}");
    }

    #[test]
    fn perplexity_decreases_with_iterations() {
        let (counts, _) = synthetic(150, 3, 10, 40, 3);
        let perplexities: Vec<f64> = [1, 3, 10, 30]
            .iter()
            .map(|&n| Lda::params(3).max_iterations(n).seed(9).fit(&counts).unwrap().perplexity(&counts).unwrap())
            .collect();
        assert!(perplexities.windows(2).all(|p| p[1] < p[0]), "{perplexities:?}");
        // Bounded by the vocabulary size (a uniform model) and above 1.
        assert!(perplexities[3] > 1.0 && perplexities[0] < 30.0, "{perplexities:?}");
    }

    #[test]
    fn umass_coherence_counts_document_co_occurrence() {
        // Terms a, b, c; topic0 prefers a > b > c, topic1 c > b > a.
        let counts =
            Matrix::from_rows(&[vec![1.0, 1.0, 0.0], vec![2.0, 0.0, 0.0], vec![0.0, 1.0, 1.0], vec![1.0, 1.0, 1.0]])
                .unwrap()
                .with_columns(&["a", "b", "c"])
                .unwrap();
        let model = LdaModel {
            components: Array2::from_shape_vec((2, 3), vec![3.0, 2.0, 1.0, 1.0, 2.0, 3.0]).unwrap(),
            terms: vec!["a".into(), "b".into(), "c".into()],
            doc_topic_prior: 0.5,
            topic_word_prior: 0.5,
            n_iterations: 1,
        };
        // D(a)=3, D(b)=3, D(c)=2, D(a,b)=2, D(a,c)=1, D(b,c)=2.
        let c = topic_coherence(&model, &counts, 3).unwrap();
        let ln = f64::ln;
        assert_abs_diff_eq!(c[0], ln(3.0 / 3.0) + ln(2.0 / 3.0) + ln(3.0 / 3.0), epsilon = 1e-12);
        assert_abs_diff_eq!(c[1], ln(3.0 / 2.0) + ln(2.0 / 2.0) + ln(3.0 / 3.0), epsilon = 1e-12);
        assert_abs_diff_eq!(topic_coherence(&model, &counts, 2).unwrap()[0], 0.0, epsilon = 1e-12);
        assert!(topic_coherence(&model, &counts, 1).is_err());
        assert!(topic_coherence(&model, &counts, 4).is_err());
        let no_c = Matrix::from_rows(&[vec![1.0, 1.0, 0.0]]).unwrap().with_columns(&["a", "b", "c"]).unwrap();
        assert!(topic_coherence(&model, &no_c, 3).unwrap_err().to_string().contains("`c` of topic0"));
    }

    #[test]
    fn bad_inputs_are_errors() {
        let (counts, _) = synthetic(30, 3, 4, 20, 1);
        let err = |p: LdaParams, m: &Matrix| p.fit(m).unwrap_err();
        assert!(matches!(err(Lda::params(0), &counts), MlError::InvalidParams(_)));
        assert!(matches!(err(Lda::params(2).max_iterations(0), &counts), MlError::InvalidParams(_)));
        assert!(err(Lda::params(2).doc_topic_prior(0.0), &counts).to_string().contains("doc_topic_prior"));
        assert!(err(Lda::params(2).topic_word_prior(f64::NAN), &counts).to_string().contains("topic_word_prior"));
        assert!(matches!(err(Lda::params(2), &Matrix::from_vec(0, 3, vec![]).unwrap()), MlError::Empty(_)));
        assert!(matches!(err(Lda::params(2), &Matrix::from_vec(3, 0, vec![]).unwrap()), MlError::Empty(_)));
        assert!(
            err(Lda::params(2), &Matrix::from_vec(2, 2, vec![0.0; 4]).unwrap())
                .to_string()
                .contains("every count is 0")
        );
        let negative = Matrix::from_rows(&[vec![1.0, 2.0], vec![3.0, -1.0]]).unwrap();
        assert!(err(Lda::params(2), &negative).to_string().contains("row 1, column `x1` is -1"));
        let nan = Matrix::from_rows(&[vec![1.0, f64::INFINITY]]).unwrap();
        assert_eq!(err(Lda::params(2), &nan), MlError::NonFinite { row: 0, column: "`x1`".into() });

        let model = Lda::params(3).max_iterations(2).fit(&counts).unwrap();
        let narrow = counts.select_columns(&["t0w0", "t1w0"]).unwrap();
        assert!(matches!(model.transform(&narrow), Err(MlError::Shape(_))));
        let renamed = Matrix::from_array(counts.array().clone());
        assert!(model.perplexity(&renamed).unwrap_err().to_string().contains("column 0 is `x0`"));
        let empty_docs = Matrix::from_vec(1, 12, vec![0.0; 12]).unwrap().with_columns(counts.columns()).unwrap();
        assert!(model.perplexity(&empty_docs).is_err());
        // A document with no words gets equal topic weights.
        let t = model.transform(&empty_docs).unwrap();
        assert!((0..3).all(|j| (t.get(0, j).unwrap() - 1.0 / 3.0).abs() < 1e-12));
    }

    #[test]
    fn fits_are_reproducible_and_models_round_trip_through_json() {
        let (counts, _) = synthetic(60, 3, 5, 30, 2);
        let model = Lda::params(3).max_iterations(5).seed(1).fit(&counts).unwrap();
        assert_eq!(model, Lda::params(3).max_iterations(5).seed(1).fit(&counts).unwrap());
        assert_ne!(model, Lda::params(3).max_iterations(5).seed(2).fit(&counts).unwrap());
        let json = serde_json::to_string(&model).unwrap();
        let back: LdaModel = serde_json::from_str(&json).unwrap();
        assert_eq!(back, model);
        assert_eq!(back.transform(&counts).unwrap(), model.transform(&counts).unwrap());
        assert_eq!((back.n_topics(), back.n_terms(), back.n_iterations()), (3, 15, 5));
        assert_eq!((back.doc_topic_prior(), back.topic_word_prior()), (1.0 / 3.0, 1.0 / 3.0));
        assert_eq!(back.components().columns(), counts.columns());

        let html = model.to_html();
        assert!(html.contains("<th>10</th>") && html.contains("topic2") && html.contains("t0w0 ("), "{html}");
        assert!(model.to_string().starts_with("LDA: 3 topics over 15 terms\n  topic0: "));
    }

    /// `cargo test --release -p flywheel-ml lda_timing -- --ignored --nocapture`
    #[test]
    #[ignore = "timing: run in release"]
    fn lda_timing_5000_docs_2000_terms_10_topics() {
        let (counts, truth) = synthetic(5000, 10, 200, 100, 7);
        let start = std::time::Instant::now();
        let model = Lda::params(10).max_iterations(10).fit(&counts).unwrap();
        let fit = start.elapsed();
        let start = std::time::Instant::now();
        let theta = model.transform(&counts).unwrap();
        let perplexity = model.perplexity(&counts).unwrap();
        println!(
            "fit 5000 × 2000, 10 topics, 10 passes: {fit:.2?}; transform + perplexity: {:.2?}; perplexity {perplexity:.1}",
            start.elapsed()
        );
        // Each learned topic stands for the true topic of its top word.
        let mapping: Vec<usize> =
            (0..10).map(|t| model.top_words(t, 1)[0].0[1..].split('w').next().unwrap().parse().unwrap()).collect();
        let agree =
            (0..truth.len()).filter(|&d| mapping[top_indices(&theta.row(d).unwrap(), 1)[0]] == truth[d]).count();
        println!("true topics found: {mapping:?}; doc-topic agreement: {agree} / {}\n{model}", truth.len());
    }
}
