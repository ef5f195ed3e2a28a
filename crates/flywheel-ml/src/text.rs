//! Text features for topic modelling and text classification: a [`Corpus`]
//! of documents, a [`tokenize`]r, [`english_stop_words`], word counts
//! ([`CountVectorizer`]) and TF-IDF weights ([`TfIdf`]), as scikit-learn's
//! `CountVectorizer` and `TfidfVectorizer`.
//!
//! ```
//! use flywheel_ml::text::{Corpus, CountVectorizer};
//! let corpus = Corpus::from_strs(&["The cat sat on the mat.", "The dog sat on the log."]);
//! let vectorizer = CountVectorizer::params().stop_words(true).fit(&corpus).unwrap();
//! assert_eq!(vectorizer.vocabulary(), ["cat", "dog", "log", "mat", "sat"]);
//! let counts = vectorizer.transform(&corpus).unwrap(); // 2 × 5, columns named by the terms
//! assert_eq!(counts.row(0).unwrap(), vec![1.0, 0.0, 0.0, 1.0, 1.0]);
//! ```
//!
//! **Memory.** The document-term matrices are dense [`Matrix`] values of
//! `n_docs × n_terms × 8` bytes: 5,000 documents × 2,000 terms take 80 MB,
//! 5,000 × 50,000 would take 2 GB. Cap the vocabulary with `max_features`
//! (and prune rare terms with `min_df`); a transform that would need more than
//! 2 GiB is refused with an error saying so.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::display::{emit, html_table, number};
use crate::error::{MlError, Result};
use crate::{Matrix, Vector};

/// Documents or terms shown by the rich displays.
const PREVIEW: usize = 10;
/// Characters of a document shown by the rich display of a [`Corpus`].
const PREVIEW_CHARS: usize = 200;

/// The largest dense document-term matrix a transform builds (2 GiB).
const MAX_DENSE_BYTES: usize = 2 << 30;

/// A collection of text documents, one `String` each.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Corpus {
    docs: Vec<String>,
}

impl Corpus {
    /// A corpus of these documents.
    pub fn new(docs: Vec<String>) -> Self {
        Self { docs }
    }

    /// A corpus from string slices (handy for literals in a notebook).
    pub fn from_strs(docs: &[&str]) -> Self {
        Self { docs: docs.iter().map(|&d| d.to_owned()).collect() }
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// Whether there are no documents.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Document `i`, if in range.
    pub fn get(&self, i: usize) -> Option<&str> {
        self.docs.get(i).map(String::as_str)
    }

    /// All documents.
    pub fn docs(&self) -> &[String] {
        &self.docs
    }

    /// The tokens of every document, by [`tokenize`] (stop words kept).
    pub fn tokens(&self) -> Vec<Vec<String>> {
        self.docs.iter().map(|d| tokenize(d)).collect()
    }

    /// Shows the first documents (shortened) as an HTML table in a notebook.
    pub fn evcxr_display(&self) {
        let rows: Vec<Vec<String>> = self
            .docs
            .iter()
            .take(PREVIEW)
            .enumerate()
            .map(|(i, d)| {
                let short: String = d.chars().take(PREVIEW_CHARS).collect();
                let more = if d.chars().nth(PREVIEW_CHARS).is_some() { " …" } else { "" };
                vec![i.to_string(), format!("{short}{more}")]
            })
            .collect();
        let header = ["#".to_owned(), "document".to_owned()];
        emit("text/html", &html_table(&format!("Corpus of {} documents", self.len()), &header, &rows));
    }
}

/// Splits text into lower-case word tokens.
///
/// The text is lower-cased and split on every character that is not
/// alphanumeric (Unicode letters and digits): spaces, punctuation, `_`, and
/// apostrophes too, so `"don't"` gives `"don"` and `"t"`. Tokens shorter than
/// 2 characters and tokens made only of digits (`"2024"`) are dropped.
/// Close to scikit-learn's default `token_pattern` `(?u)\b\w\w+\b`, which
/// however keeps `_` inside words and keeps numbers.
///
/// ```
/// use flywheel_ml::text::tokenize;
/// assert_eq!(tokenize("Don't PANIC: 42 towels, 3D-printed!"), ["don", "panic", "towels", "3d", "printed"]);
/// ```
pub fn tokenize(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| t.chars().nth(1).is_some() && !t.chars().all(char::is_numeric))
        .map(str::to_owned)
        .collect()
}

/// scikit-learn's list of 318 English stop words (`ENGLISH_STOP_WORDS` in
/// `sklearn/feature_extraction/_stop_words.py`, scikit-learn 1.x, BSD-3-Clause),
/// itself taken from the Glasgow Information Retrieval Group's list
/// (<http://ir.dcs.gla.ac.uk/resources/linguistic_utils/stop_words>).
/// Sorted, lower-case.
pub fn english_stop_words() -> &'static [&'static str] {
    ENGLISH_STOP_WORDS
}

fn is_stop_word(token: &str) -> bool {
    ENGLISH_STOP_WORDS.binary_search(&token).is_ok()
}

/// Sorted (binary-searched by [`is_stop_word`]).
const ENGLISH_STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "across",
    "after",
    "afterwards",
    "again",
    "against",
    "all",
    "almost",
    "alone",
    "along",
    "already",
    "also",
    "although",
    "always",
    "am",
    "among",
    "amongst",
    "amoungst",
    "amount",
    "an",
    "and",
    "another",
    "any",
    "anyhow",
    "anyone",
    "anything",
    "anyway",
    "anywhere",
    "are",
    "around",
    "as",
    "at",
    "back",
    "be",
    "became",
    "because",
    "become",
    "becomes",
    "becoming",
    "been",
    "before",
    "beforehand",
    "behind",
    "being",
    "below",
    "beside",
    "besides",
    "between",
    "beyond",
    "bill",
    "both",
    "bottom",
    "but",
    "by",
    "call",
    "can",
    "cannot",
    "cant",
    "co",
    "con",
    "could",
    "couldnt",
    "cry",
    "de",
    "describe",
    "detail",
    "do",
    "done",
    "down",
    "due",
    "during",
    "each",
    "eg",
    "eight",
    "either",
    "eleven",
    "else",
    "elsewhere",
    "empty",
    "enough",
    "etc",
    "even",
    "ever",
    "every",
    "everyone",
    "everything",
    "everywhere",
    "except",
    "few",
    "fifteen",
    "fifty",
    "fill",
    "find",
    "fire",
    "first",
    "five",
    "for",
    "former",
    "formerly",
    "forty",
    "found",
    "four",
    "from",
    "front",
    "full",
    "further",
    "get",
    "give",
    "go",
    "had",
    "has",
    "hasnt",
    "have",
    "he",
    "hence",
    "her",
    "here",
    "hereafter",
    "hereby",
    "herein",
    "hereupon",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "however",
    "hundred",
    "i",
    "ie",
    "if",
    "in",
    "inc",
    "indeed",
    "interest",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "keep",
    "last",
    "latter",
    "latterly",
    "least",
    "less",
    "ltd",
    "made",
    "many",
    "may",
    "me",
    "meanwhile",
    "might",
    "mill",
    "mine",
    "more",
    "moreover",
    "most",
    "mostly",
    "move",
    "much",
    "must",
    "my",
    "myself",
    "name",
    "namely",
    "neither",
    "never",
    "nevertheless",
    "next",
    "nine",
    "no",
    "nobody",
    "none",
    "noone",
    "nor",
    "not",
    "nothing",
    "now",
    "nowhere",
    "of",
    "off",
    "often",
    "on",
    "once",
    "one",
    "only",
    "onto",
    "or",
    "other",
    "others",
    "otherwise",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "part",
    "per",
    "perhaps",
    "please",
    "put",
    "rather",
    "re",
    "same",
    "see",
    "seem",
    "seemed",
    "seeming",
    "seems",
    "serious",
    "several",
    "she",
    "should",
    "show",
    "side",
    "since",
    "sincere",
    "six",
    "sixty",
    "so",
    "some",
    "somehow",
    "someone",
    "something",
    "sometime",
    "sometimes",
    "somewhere",
    "still",
    "such",
    "system",
    "take",
    "ten",
    "than",
    "that",
    "the",
    "their",
    "them",
    "themselves",
    "then",
    "thence",
    "there",
    "thereafter",
    "thereby",
    "therefore",
    "therein",
    "thereupon",
    "these",
    "they",
    "thick",
    "thin",
    "third",
    "this",
    "those",
    "though",
    "three",
    "through",
    "throughout",
    "thru",
    "thus",
    "to",
    "together",
    "too",
    "top",
    "toward",
    "towards",
    "twelve",
    "twenty",
    "two",
    "un",
    "under",
    "until",
    "up",
    "upon",
    "us",
    "very",
    "via",
    "was",
    "we",
    "well",
    "were",
    "what",
    "whatever",
    "when",
    "whence",
    "whenever",
    "where",
    "whereafter",
    "whereas",
    "whereby",
    "wherein",
    "whereupon",
    "wherever",
    "whether",
    "which",
    "while",
    "whither",
    "who",
    "whoever",
    "whole",
    "whom",
    "whose",
    "why",
    "will",
    "with",
    "within",
    "without",
    "would",
    "yet",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// Entry point of word counts: `CountVectorizer::params()`.
pub struct CountVectorizer;

impl CountVectorizer {
    /// Defaults as scikit-learn's: every term kept (`min_df = 1`,
    /// `max_df = 1.0`, no `max_features`), stop words kept.
    pub fn params() -> CountVectorizerParams {
        CountVectorizerParams { min_df: 1, max_df: 1.0, max_features: None, stop_words: false }
    }
}

/// Hyper-parameters of [`CountVectorizerModel`]: which terms make the vocabulary.
#[derive(Debug, Clone, PartialEq)]
pub struct CountVectorizerParams {
    min_df: usize,
    max_df: f64,
    max_features: Option<usize>,
    stop_words: bool,
}

impl CountVectorizerParams {
    /// Keep only terms that occur in at least `n` documents (default 1; 0 means 1).
    pub fn min_df(mut self, n: usize) -> Self {
        self.min_df = n;
        self
    }

    /// Drop terms that occur in more than this fraction of the documents
    /// (in (0, 1]; default 1.0, which keeps all). Corpus-specific stop words.
    pub fn max_df(mut self, fraction: f64) -> Self {
        self.max_df = fraction;
        self
    }

    /// Keep at most `n` terms, the most frequent over the whole corpus (ties
    /// broken alphabetically), after the `min_df` / `max_df` filters. This is
    /// the cap on the dense matrix's width.
    pub fn max_features(mut self, n: usize) -> Self {
        self.max_features = Some(n);
        self
    }

    /// Whether to drop [`english_stop_words`] (default `false`, as scikit-learn).
    pub fn stop_words(mut self, on: bool) -> Self {
        self.stop_words = on;
        self
    }

    /// Learns the vocabulary of `corpus`: its [`tokenize`]d terms, less stop
    /// words if asked, filtered by `min_df`, `max_df` and `max_features`,
    /// sorted alphabetically (which is the column order of
    /// [`CountVectorizerModel::transform`]).
    ///
    /// # Errors
    /// [`MlError::Empty`] for an empty corpus; [`MlError::InvalidParams`] for
    /// `max_df` outside (0, 1], `max_features = 0`, or a `max_df` that allows
    /// fewer documents than `min_df`; [`MlError::InvalidData`] when no term is
    /// left, naming the step that removed the last ones (tokenizing, stop
    /// words, `min_df`, `max_df`).
    pub fn fit(&self, corpus: &Corpus) -> Result<CountVectorizerModel> {
        if corpus.is_empty() {
            return Err(MlError::Empty("the corpus has no documents".into()));
        }
        if !(self.max_df > 0.0 && self.max_df <= 1.0) {
            return Err(MlError::InvalidParams(format!("max_df must be in (0, 1], got {}", self.max_df)));
        }
        if self.max_features == Some(0) {
            return Err(MlError::InvalidParams("max_features must be at least 1".into()));
        }
        let n_docs = corpus.len();
        let max_docs = self.max_df * n_docs as f64;
        if max_docs < self.min_df as f64 {
            return Err(MlError::InvalidParams(format!(
                "max_df = {} of {n_docs} documents allows terms in at most {max_docs} documents, fewer than min_df = {}",
                self.max_df, self.min_df
            )));
        }

        // Document frequency and total count of every term.
        let mut stats: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        let mut any_token = false;
        for tokens in corpus.tokens() {
            any_token |= !tokens.is_empty();
            let mut in_doc: HashMap<String, usize> = HashMap::new();
            for t in tokens.into_iter().filter(|t| !self.stop_words || !is_stop_word(t)) {
                *in_doc.entry(t).or_insert(0) += 1;
            }
            for (t, n) in in_doc {
                let entry = stats.entry(t).or_insert((0, 0));
                entry.0 += 1;
                entry.1 += n;
            }
        }
        if stats.is_empty() {
            let why = if any_token {
                "every token is a stop word (try stop_words(false))"
            } else {
                "the documents have no tokens (only words of 1 character, numbers or punctuation)"
            };
            return Err(MlError::InvalidData(format!("empty vocabulary: {why}")));
        }

        let (n_terms, max_df, min_df) = (stats.len(), self.max_df, self.min_df);
        let (lowest_df, highest_df) =
            stats.values().fold((usize::MAX, 0), |(lo, hi), &(df, _)| (lo.min(df), hi.max(df)));
        let mut kept: Vec<(String, usize, usize)> = stats
            .into_iter()
            .filter(|&(_, (df, _))| df >= min_df && df as f64 <= max_docs)
            .map(|(t, (df, n))| (t, df, n))
            .collect();
        if kept.is_empty() {
            let why = if highest_df < min_df {
                format!(
                    "min_df = {min_df} removed all {n_terms} terms: the most common is in only {highest_df} documents"
                )
            } else if lowest_df as f64 > max_docs {
                format!(
                    "max_df = {max_df} removed all {n_terms} terms: the rarest is in {lowest_df} of the {n_docs} \
                     documents, more than {max_docs}"
                )
            } else {
                format!(
                    "min_df = {min_df} and max_df = {max_df} together removed all {n_terms} terms \
                     (none is in between {min_df} and {max_docs} of the {n_docs} documents)"
                )
            };
            return Err(MlError::InvalidData(format!("empty vocabulary: {why}")));
        }
        if let Some(limit) = self.max_features.filter(|&m| m < kept.len()) {
            kept.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
            kept.truncate(limit);
            kept.sort_by(|a, b| a.0.cmp(&b.0));
        }
        let (vocabulary, document_frequency) = kept.into_iter().map(|(t, df, _)| (t, df)).unzip();
        Ok(CountVectorizerModel { vocabulary, document_frequency, n_documents: n_docs })
    }
}

/// A fitted vocabulary: turns a [`Corpus`] into a document-term count matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountVectorizerModel {
    /// Sorted terms.
    vocabulary: Vec<String>,
    /// In how many training documents each term occurs.
    document_frequency: Vec<usize>,
    n_documents: usize,
}

impl CountVectorizerModel {
    /// The terms, sorted alphabetically: the column names of [`Self::transform`].
    pub fn vocabulary(&self) -> &[String] {
        &self.vocabulary
    }

    /// Number of terms (columns of [`Self::transform`]).
    pub fn n_terms(&self) -> usize {
        self.vocabulary.len()
    }

    /// In how many of the training documents each term occurs (vocabulary order).
    pub fn document_frequencies(&self) -> &[usize] {
        &self.document_frequency
    }

    /// Number of documents the vocabulary was learnt from.
    pub fn n_documents(&self) -> usize {
        self.n_documents
    }

    /// The column of `term`, if it is in the vocabulary.
    pub fn term_index(&self, term: &str) -> Option<usize> {
        self.vocabulary.binary_search_by(|t| t.as_str().cmp(term)).ok()
    }

    /// Shows the vocabulary's size and its most widespread terms in a notebook.
    pub fn evcxr_display(&self) {
        emit("text/html", &vocabulary_table("CountVectorizer", self, None));
    }

    /// Counts the vocabulary's terms in each document: an n_docs × n_terms
    /// matrix (dense: n_docs × n_terms × 8 bytes) whose columns are named by
    /// the terms. Tokens outside the vocabulary are ignored.
    ///
    /// # Errors
    /// [`MlError::Empty`] for an empty corpus; [`MlError::InvalidData`] when
    /// the matrix would need more than 2 GiB (use `max_features`).
    pub fn transform(&self, corpus: &Corpus) -> Result<Matrix> {
        if corpus.is_empty() {
            return Err(MlError::Empty("the corpus has no documents".into()));
        }
        let (n, v) = (corpus.len(), self.n_terms());
        let bytes = n.saturating_mul(v).saturating_mul(8);
        if bytes > MAX_DENSE_BYTES {
            return Err(MlError::InvalidData(format!(
                "a dense {n} × {v} matrix needs {:.1} GiB; fit the vectorizer with a smaller max_features",
                bytes as f64 / f64::from(1u32 << 30)
            )));
        }
        let mut counts = vec![0.0; n * v];
        for (i, doc) in corpus.docs().iter().enumerate() {
            for token in tokenize(doc) {
                if let Some(j) = self.term_index(&token) {
                    counts[i * v + j] += 1.0;
                }
            }
        }
        Matrix::from_vec(n, v, counts)?.with_columns(&self.vocabulary)
    }
}

/// Entry point of TF-IDF weights: `TfIdf::params()`.
pub struct TfIdf;

impl TfIdf {
    /// scikit-learn's `TfidfVectorizer` defaults: the [`CountVectorizer`]
    /// defaults, `smooth_idf = true`, `sublinear_tf = false`, rows scaled to
    /// unit Euclidean (L2) norm.
    pub fn params() -> TfIdfParams {
        TfIdfParams { counts: CountVectorizer::params(), smooth_idf: true, sublinear_tf: false, normalize: true }
    }
}

/// Hyper-parameters of [`TfIdfModel`]: the vocabulary's (as
/// [`CountVectorizerParams`]) and the weighting's.
#[derive(Debug, Clone, PartialEq)]
pub struct TfIdfParams {
    counts: CountVectorizerParams,
    smooth_idf: bool,
    sublinear_tf: bool,
    normalize: bool,
}

impl TfIdfParams {
    /// See [`CountVectorizerParams::min_df`].
    pub fn min_df(mut self, n: usize) -> Self {
        self.counts = self.counts.min_df(n);
        self
    }

    /// See [`CountVectorizerParams::max_df`].
    pub fn max_df(mut self, fraction: f64) -> Self {
        self.counts = self.counts.max_df(fraction);
        self
    }

    /// See [`CountVectorizerParams::max_features`].
    pub fn max_features(mut self, n: usize) -> Self {
        self.counts = self.counts.max_features(n);
        self
    }

    /// See [`CountVectorizerParams::stop_words`].
    pub fn stop_words(mut self, on: bool) -> Self {
        self.counts = self.counts.stop_words(on);
        self
    }

    /// `idf = ln((1 + n) / (1 + df)) + 1` when on (default), as if one more
    /// document contained every term; `ln(n / df) + 1` when off.
    pub fn smooth_idf(mut self, on: bool) -> Self {
        self.smooth_idf = on;
        self
    }

    /// Use `1 + ln(count)` instead of the raw count as term frequency (default off).
    pub fn sublinear_tf(mut self, on: bool) -> Self {
        self.sublinear_tf = on;
        self
    }

    /// Scale each row to unit L2 norm (default on; all-zero rows stay zero).
    pub fn normalize(mut self, on: bool) -> Self {
        self.normalize = on;
        self
    }

    /// Learns the vocabulary (as [`CountVectorizerParams::fit`]) and each
    /// term's inverse document frequency from `corpus`.
    ///
    /// # Errors
    /// As [`CountVectorizerParams::fit`].
    pub fn fit(&self, corpus: &Corpus) -> Result<TfIdfModel> {
        let counts = self.counts.fit(corpus)?;
        let n = counts.n_documents as f64;
        let idf = counts
            .document_frequency
            .iter()
            .map(|&df| {
                let df = df as f64;
                if self.smooth_idf { ((1.0 + n) / (1.0 + df)).ln() + 1.0 } else { (n / df).ln() + 1.0 }
            })
            .collect();
        Ok(TfIdfModel { counts, idf, sublinear_tf: self.sublinear_tf, normalize: self.normalize })
    }
}

/// A fitted TF-IDF weighting: vocabulary and inverse document frequencies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TfIdfModel {
    counts: CountVectorizerModel,
    idf: Vec<f64>,
    sublinear_tf: bool,
    normalize: bool,
}

impl TfIdfModel {
    /// The terms, sorted alphabetically: the column names of [`Self::transform`].
    pub fn vocabulary(&self) -> &[String] {
        self.counts.vocabulary()
    }

    /// Number of terms (columns of [`Self::transform`]).
    pub fn n_terms(&self) -> usize {
        self.counts.n_terms()
    }

    /// The inverse document frequency of each term (vocabulary order).
    pub fn idf(&self) -> Vector {
        Vector::from_vec(self.idf.clone())
    }

    /// The underlying word counter (same vocabulary).
    pub fn count_vectorizer(&self) -> &CountVectorizerModel {
        &self.counts
    }

    /// Shows the vocabulary's size and its most widespread terms, with their
    /// inverse document frequencies, in a notebook.
    pub fn evcxr_display(&self) {
        emit("text/html", &vocabulary_table("TfIdf", &self.counts, Some(&self.idf)));
    }

    /// TF-IDF weights of each document: an n_docs × n_terms matrix (dense,
    /// n_docs × n_terms × 8 bytes), columns named by the terms; entry
    /// `tf × idf`, each row then scaled to unit L2 norm unless turned off.
    ///
    /// # Errors
    /// As [`CountVectorizerModel::transform`].
    pub fn transform(&self, corpus: &Corpus) -> Result<Matrix> {
        let counts = self.counts.transform(corpus)?;
        let mut w = counts.array().clone();
        for mut row in w.outer_iter_mut() {
            for (x, &idf) in row.iter_mut().zip(&self.idf) {
                let tf = if self.sublinear_tf && *x > 0.0 { 1.0 + x.ln() } else { *x };
                *x = tf * idf;
            }
            let norm = row.dot(&row).sqrt();
            if self.normalize && norm > 0.0 {
                row /= norm;
            }
        }
        Matrix::from_array(w).with_columns(self.vocabulary())
    }
}

/// An HTML table of the terms in most documents, with their document frequency (and idf).
fn vocabulary_table(what: &str, counts: &CountVectorizerModel, idf: Option<&[f64]>) -> String {
    let mut order: Vec<usize> = (0..counts.n_terms()).collect();
    order.sort_by(|&a, &b| counts.document_frequency[b].cmp(&counts.document_frequency[a]).then(a.cmp(&b)));
    let mut header = vec!["term".to_owned(), "documents".to_owned()];
    header.extend(idf.map(|_| "idf".to_owned()));
    let rows: Vec<Vec<String>> = order
        .into_iter()
        .take(PREVIEW)
        .map(|j| {
            let mut row = vec![counts.vocabulary[j].clone(), counts.document_frequency[j].to_string()];
            row.extend(idf.map(|idf| number(idf[j])));
            row
        })
        .collect();
    let caption = format!(
        "{what}: {} terms from {} documents (the {} most widespread)",
        counts.n_terms(),
        counts.n_documents,
        rows.len()
    );
    html_table(&caption, &header, &rows)
}

#[cfg(test)]
mod tests {
    use approx::assert_abs_diff_eq;

    use super::*;

    fn pets() -> Corpus {
        Corpus::from_strs(&[
            "the cat sat on the mat",
            "the dog sat on the log",
            "cats and dogs are friends",
            "a dog and a cat",
        ])
    }

    fn assert_rows(m: &Matrix, expected: &[&[f64]]) {
        assert_eq!(m.nrows(), expected.len());
        for (i, want) in expected.iter().enumerate() {
            for (j, &w) in want.iter().enumerate() {
                assert_abs_diff_eq!(m.get(i, j).unwrap(), w, epsilon = 1e-11);
            }
        }
    }

    #[test]
    fn tokenize_lowercases_splits_and_drops_short_tokens_and_numbers() {
        assert_eq!(
            tokenize("Hello, World! It's 2024: x_y 3D_model ÉTÉ a1"),
            ["hello", "world", "it", "3d", "model", "été", "a1"]
        );
        assert!(tokenize("  1 22 333 a b . ").is_empty());
        let c = Corpus::new(vec!["A b cd".into(), String::new()]);
        assert_eq!(c.tokens(), vec![vec!["cd".to_owned()], vec![]]);
        assert_eq!((c.len(), c.get(0), c.get(2)), (2, Some("A b cd"), None));
    }

    #[test]
    fn stop_words_are_scikit_learns_318_sorted() {
        let w = english_stop_words();
        assert_eq!(w.len(), 318);
        assert!(w.windows(2).all(|p| p[0] < p[1]));
        assert!(is_stop_word("the") && is_stop_word("yourselves") && !is_stop_word("cat"));
    }

    #[test]
    fn counts_words_with_terms_as_columns() {
        let v = CountVectorizer::params().fit(&pets()).unwrap();
        let terms = ["and", "are", "cat", "cats", "dog", "dogs", "friends", "log", "mat", "on", "sat", "the"];
        assert_eq!(v.vocabulary(), terms);
        assert_eq!(v.document_frequencies()[11], 2);
        let m = v.transform(&Corpus::from_strs(&["The the cat, and a unicorn"])).unwrap();
        assert_eq!(m.columns(), terms);
        assert_eq!(m.row(0).unwrap(), vec![1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0]);
    }

    #[test]
    fn filters_terms_by_document_frequency_and_count() {
        let c = pets();
        let v = CountVectorizer::params().min_df(2).fit(&c).unwrap();
        assert_eq!(v.vocabulary(), ["and", "cat", "dog", "on", "sat", "the"]);
        let v = CountVectorizer::params().max_df(0.25).fit(&c).unwrap();
        assert_eq!(v.vocabulary(), ["are", "cats", "dogs", "friends", "log", "mat"]);
        // "the" occurs 4 times; then cat, dog, and, on, sat twice each (alphabetical ties).
        let v = CountVectorizer::params().max_features(3).fit(&c).unwrap();
        assert_eq!(v.vocabulary(), ["and", "cat", "the"]);
        let v = CountVectorizer::params().stop_words(true).fit(&c).unwrap();
        assert_eq!(v.vocabulary(), ["cat", "cats", "dog", "dogs", "friends", "log", "mat", "sat"]);
    }

    #[test]
    fn says_which_filter_emptied_the_vocabulary() {
        let c = pets();
        let err = |p: CountVectorizerParams, c: &Corpus| p.fit(c).unwrap_err().to_string();
        assert!(err(CountVectorizer::params(), &Corpus::default()).contains("no documents"));
        assert!(err(CountVectorizer::params(), &Corpus::from_strs(&["1 2 a", "?"])).contains("no tokens"));
        assert!(
            err(CountVectorizer::params().stop_words(true), &Corpus::from_strs(&["the and of"])).contains("stop word")
        );
        assert!(
            err(CountVectorizer::params().min_df(3), &c)
                .contains("min_df = 3 removed all 12 terms: the most common is in only 2")
        );
        let one = Corpus::from_strs(&["cat dog", "cat dog"]);
        assert!(err(CountVectorizer::params().max_df(0.5), &one).contains("max_df = 0.5 removed all 2 terms"));
        let e = err(CountVectorizer::params().min_df(2).max_df(0.5), &Corpus::from_strs(&["aa bb", "bb", "bb", "cc"]));
        assert!(e.contains("together"), "{e}");
        assert!(err(CountVectorizer::params().max_df(0.0), &c).contains("max_df must be in (0, 1]"));
        assert!(err(CountVectorizer::params().max_df(0.25).min_df(2), &c).contains("fewer than min_df"));
        assert!(err(CountVectorizer::params().max_features(0), &c).contains("max_features"));
        let v = CountVectorizer::params().fit(&c).unwrap();
        assert!(matches!(v.transform(&Corpus::default()), Err(MlError::Empty(_))));
    }

    #[test]
    fn tf_idf_matches_scikit_learn() {
        // TfidfVectorizer().fit_transform(docs) with scikit-learn 1.9.1.
        let m = TfIdf::params().fit(&pets()).unwrap().transform(&pets()).unwrap();
        let (a, b, c, d) = (0.340823422297, 0.432291294958, 0.681646844594, 0.465161933522);
        let (e, f) = (0.366739011297, 0.57735026919);
        assert_rows(
            &m,
            &[
                &[0.0, 0.0, a, 0.0, 0.0, 0.0, 0.0, 0.0, b, a, a, c],
                &[0.0, 0.0, 0.0, 0.0, a, 0.0, 0.0, b, 0.0, a, a, c],
                &[e, d, 0.0, d, 0.0, d, d, 0.0, 0.0, 0.0, 0.0, 0.0],
                &[f, 0.0, f, 0.0, f, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            ],
        );
        // TfidfVectorizer(sublinear_tf=True, smooth_idf=False, stop_words="english").
        let model = TfIdf::params().sublinear_tf(true).smooth_idf(false).stop_words(true).fit(&pets()).unwrap();
        assert_eq!(model.vocabulary(), ["cat", "cats", "dog", "dogs", "friends", "log", "mat", "sat"]);
        let m = model.transform(&pets()).unwrap();
        let (a, b, c) = (0.500854501049, 0.705896265438, std::f64::consts::FRAC_1_SQRT_2);
        assert_rows(
            &m,
            &[
                &[a, 0.0, 0.0, 0.0, 0.0, 0.0, b, a],
                &[0.0, 0.0, a, 0.0, 0.0, b, 0.0, a],
                &[0.0, f, 0.0, f, f, 0.0, 0.0, 0.0],
                &[c, 0.0, c, 0.0, 0.0, 0.0, 0.0, 0.0],
            ],
        );
        assert_abs_diff_eq!(model.idf().get(0).unwrap(), 2f64.ln() + 1.0, epsilon = 1e-12);
        let raw = TfIdf::params().normalize(false).fit(&pets()).unwrap();
        let m = raw.transform(&Corpus::from_strs(&["the the zebra"])).unwrap();
        assert_abs_diff_eq!(m.get(0, 11).unwrap(), 2.0 * ((5.0f64 / 3.0).ln() + 1.0), epsilon = 1e-12);
        assert_eq!(m.row(0).unwrap().iter().filter(|&&x| x != 0.0).count(), 1);
    }

    #[test]
    fn fitted_vectorizers_round_trip_through_json() {
        let v = TfIdf::params().fit(&pets()).unwrap();
        let back: TfIdfModel = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
        assert_eq!(back, v);
        assert_eq!(back.count_vectorizer().term_index("cat"), Some(2));
        let html = vocabulary_table("TfIdf", back.count_vectorizer(), Some(&back.idf));
        assert!(html.contains("12 terms from 4 documents") && html.contains("<td>the</td><td>2</td>"), "{html}");
    }
}
